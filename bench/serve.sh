#!/bin/sh
# bench/serve.sh BUILD_DIR — `ledger serve` side by side with its SQLite
# peer (bench/peer_serve.c: WAL, synchronous=FULL, group commit), in one
# run on one machine, both loaded by bench/serve_load.c over the same
# protocol (docs/PROTOCOL.md):
#   - SERVE_CLIENTS (64) clients streaming SERVE_EVENTS (2000) events each,
#     at most SERVE_WINDOW (16) unanswered per client: acked events/s, ack
#     latency p50/p99. The window bounds the latency the load can show:
#     64 clients x W requests in flight take 64 W / (events/s) to drain
#     (Little's law), so W = 64 would put p99 near 68 ms at 60,000/s
#     however fast each commit is; W = 16 (1,024 in flight) leaves 17 ms;
#     twice: with bench/serve_load.c (a sender and a receiver thread a
#     client, ~10 us of CPU an event on this box) and with
#     bench/serve_load_ep.c (the same requests from one epoll loop, ~2 us
#     an event), since on two cores the load's own CPU is taken from the
#     server it measures; each against both servers;
#   - one client, one event at a time (SERVE_ONE, 500 events): p50/p99;
#   - the daemon's peak RSS (VmHWM).
# Prints one line per figure and writes bench/out/serve.tsv.
set -u
B=${1:-build}
cd "$(dirname "$0")/.." || exit 1
OUT=${BENCH_OUT:-bench/out}
mkdir -p "$OUT"
NC=${SERVE_CLIENTS:-64}
NE=${SERVE_EVENTS:-2000}
W=${SERVE_WINDOW:-16}
ONE=${SERVE_ONE:-500}
T=$(mktemp -d)
pids=""
trap 'for p in $pids; do kill "$p" 2>/dev/null; done; rm -rf "$T"' EXIT

wait_listen() {
    i=0
    while ! grep -q '^listening on ' "$1" 2>/dev/null && [ $i -lt 600 ]; do
        sleep 0.05
        i=$((i + 1))
    done
}
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

"$B/ledger" --dir "$T/l" init >/dev/null || exit 1
"$B/ledger" --dir "$T/l" serve >"$T/l.out" 2>"$T/l.err" &
lp=$!
pids="$pids $lp"
"$B/bench/peer_serve" "$T/p.sock" "$T/p.db" >"$T/p.out" 2>"$T/p.err" &
pp=$!
pids="$pids $pp"
wait_listen "$T/l.out"
wait_listen "$T/p.out"

lm=$("$B/bench/serve_load" "$T/l/ledger.sock" "$NC" "$NE" "$W")
pm=$("$B/bench/serve_load" "$T/p.sock" "$NC" "$NE" "$W")
le=$("$B/bench/serve_load_ep" "$T/l/ledger.sock" "$NC" "$NE" "$W")
pe=$("$B/bench/serve_load_ep" "$T/p.sock" "$NC" "$NE" "$W")
l1=$("$B/bench/serve_load" "$T/l/ledger.sock" 1 "$ONE" 1)
p1=$("$B/bench/serve_load" "$T/p.sock" 1 "$ONE" 1)
for r in "$lm" "$pm" "$le" "$pe" "$l1" "$p1"; do
    case "$r" in
    *" errors=0"*) ;;
    *) echo "serve bench: a load run failed or had errors, not counted: '$r'" >&2
       exit 1 ;;
    esac
done
lrss=$(awk '/VmHWM/ { print int($2 / 1024) }' "/proc/$lp/status")
prss=$(awk '/VmHWM/ { print int($2 / 1024) }' "/proc/$pp/status")
# VmHWM counts, besides the daemon's own memory (RssAnon), the pages of
# data.mdb that LMDB's read-only map touched; the server drops those every
# 8,192 committed events (serve.h, trim_events), so it stays bounded as
# the log grows
lanon=$(awk '/RssAnon/ { print int($2 / 1024) }' "/proc/$lp/status")
panon=$(awk '/RssAnon/ { print int($2 / 1024) }' "/proc/$pp/status")
kill -TERM "$lp" "$pp"
wait "$lp" "$pp" 2>/dev/null
pids=""

ratio=$(awk -v a="$(field "$lm" eps)" -v b="$(field "$pm" eps)" \
    'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
ratio_ep=$(awk -v a="$(field "$le" eps)" -v b="$(field "$pe" eps)" \
    'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
{
    printf 'scenario\tledger\tpeer\n'
    printf '%s clients acked events/s\t%s\t%s\n' "$NC" "$(field "$lm" eps)" "$(field "$pm" eps)"
    printf '%s clients ack p50 ms\t%s\t%s\n' "$NC" "$(field "$lm" p50_ms)" "$(field "$pm" p50_ms)"
    printf '%s clients ack p99 ms\t%s\t%s\n' "$NC" "$(field "$lm" p99_ms)" "$(field "$pm" p99_ms)"
    printf '%s clients, epoll load: acked events/s\t%s\t%s\n' "$NC" "$(field "$le" eps)" "$(field "$pe" eps)"
    printf '%s clients, epoll load: ack p50 ms\t%s\t%s\n' "$NC" "$(field "$le" p50_ms)" "$(field "$pe" p50_ms)"
    printf '%s clients, epoll load: ack p99 ms\t%s\t%s\n' "$NC" "$(field "$le" p99_ms)" "$(field "$pe" p99_ms)"
    printf 'one at a time p50 ms\t%s\t%s\n' "$(field "$l1" p50_ms)" "$(field "$p1" p50_ms)"
    printf 'one at a time p99 ms\t%s\t%s\n' "$(field "$l1" p99_ms)" "$(field "$p1" p99_ms)"
    printf 'daemon peak RSS MiB\t%s\t%s\n' "$lrss" "$prss"
    printf 'daemon anonymous RSS MiB (at the end)\t%s\t%s\n' "$lanon" "$panon"
    printf 'ledger/peer events/s\t%s\t\n' "$ratio"
    printf 'ledger/peer events/s, epoll load\t%s\t\n' "$ratio_ep"
} | tee "$OUT/serve.tsv"
echo "ledger: $lm"
echo "peer:   $pm"
echo "ledger, epoll load: $le"
echo "peer,   epoll load: $pe"
echo "ledger one: $l1"
echo "peer one:   $p1"
grep 'stopped' "$T/l.err"
