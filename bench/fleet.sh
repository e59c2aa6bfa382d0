#!/bin/sh
# bench/fleet.sh BUILD_DIR — issue 16's figures, on this machine, real
# servers on loopback (nginx WebDAV, clickhouse-server 18.16):
#   ship      ledger ship of a BENCH_FLEET_N-event ledger into ClickHouse
#   publish   ledger publish of that log to nginx (not a target; context)
#   mirror    ledger mirror of the freshly published log, then of an
#             increment of 1,000 events
#   witness   build/bench/witness_bench: cosignatures a second, 32 logs
#             submitting at once, each answer durable
# Targets (issue 16): ship >= 100,000 events/s; mirror <= 10 s for 1M
# events and <= 0.5 s for 1,000; witness >= 1,000 cosignatures/s.
# Prints "fleet: NAME VALUE UNIT (target ...)" lines; writes
# $BENCH_OUT/fleet.txt.
set -u
B=${1:-build}
cd "$(dirname "$0")/.." || exit 1
OUT=${BENCH_OUT:-bench/out}
N=${BENCH_FLEET_N:-1000000}
L=$PWD/$B/ledger
T=$(mktemp -d)
. tests/e2e/lib/servers.sh
trap 'stop_servers; rm -rf "$T"' EXIT
mkdir -p "$OUT"
R="$OUT/fleet.txt"
: > "$R"
now() { date +%s.%N; }
say() { echo "fleet: $*" | tee -a "$R"; }

for p in nginx clickhouse-server curl python3; do
    command -v $p >/dev/null || { say "skip: $p not installed"; exit 0; }
done
say "machine: $(nproc) cores, $(awk '/MemTotal/ {print int($2/1024) " MiB"}' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg)"
"$B/bench/gen_events" "$N" > "$T/ev.jsonl" 2>/dev/null || exit 1
"$L" --dir "$T/box" init --origin bench.example/box >/dev/null || exit 1
"$L" --dir "$T/box" ingest "$T/ev.jsonl" >/dev/null 2>&1 || exit 1
SIZE=$((N + 1))

start_clickhouse "$T/ch" || exit 1
chq "$CH_PORT" "CREATE DATABASE fleet" || exit 1
a=$(now)
"$L" --dir "$T/box" ship "http://127.0.0.1:$CH_PORT/?database=fleet" >/dev/null || exit 1
b=$(now)
say "ship $SIZE events: $(echo "$a $b $SIZE" | awk '{printf "%.1f s, %.0f events/s", $2-$1, $3/($2-$1)}') (target >= 100000 events/s)"

start_nginx "$T/ng" || exit 1
U=http://127.0.0.1:$NGINX_PORT/box
a=$(now)
"$L" --dir "$T/box" publish "$U" >/dev/null || exit 1
b=$(now)
say "publish $SIZE events: $(echo "$a $b" | awk '{printf "%.2f s", $2-$1}') (no target)"
a=$(now)
"$L" mirror "$U" --state "$T/m" --key "$("$L" --dir "$T/box" keys verifier)" >/dev/null || exit 1
b=$(now)
say "mirror $SIZE events: $(echo "$a $b" | awk '{printf "%.2f s", $2-$1}') (target <= 10 s for 1M)"
head -1000 "$T/ev.jsonl" > "$T/inc.jsonl"
"$L" --dir "$T/box" ingest "$T/inc.jsonl" >/dev/null 2>&1 || exit 1
"$L" --dir "$T/box" publish "$U" >/dev/null || exit 1
a=$(now)
"$L" mirror "$U" --state "$T/m" >/dev/null || exit 1
b=$(now)
say "mirror increment of 1000 events: $(echo "$a $b" | awk '{printf "%.3f s", $2-$1}') (target <= 0.5 s)"
stop_servers

"$B/bench/witness_bench" 32 100 "$T" > "$T/w" || exit 1
say "witness: $(awk '{printf "%d cosignatures in %.2f s, %.0f/s (%d logs at once)", $4, $5, $6, $2}' "$T/w") (target >= 1000/s)"
say "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
