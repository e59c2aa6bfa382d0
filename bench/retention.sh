#!/bin/sh
# bench/retention.sh BUILD_DIR — issue 32's figures, on this machine: a
# BENCH_RETENTION_N-event ledger (default 1M, bench/gen_events), its
# oldest 90% (up to the first commit's end at or after it) archived and
# pruned in parts of 100,000 events (what `ledger prune --policy` does),
# and
#   archive   events/s over all the parts, and the peak RSS of one part
#   prune     seconds over all the parts (each checks its archive with
#             verify-bundle's checks, then prunes in one commit), and the
#             commit alone (the prune's own seconds, from its -o json
#             timing is not printed: the whole command is timed)
#   floor     what a prune's check cannot go below with the bundle
#             format and jansson: the CPU seconds jansson takes to parse
#             the first part's manifest.json and events.jsonl alone
#             (bench/json_floor), and to unpack the bundle, scaled to
#             the events pruned
#   pages     the store's bytes in use (every database but the free pages,
#             as `ledger stats --databases` counts) after, against before
#   queries   the same queries over the kept events, before and after:
#             a run's events, a time window, a body term in a seq range
#             (median of 3 each; the ratio after/before)
# Targets (issue 32): archive >= 100,000 events/s; prune of 1M <= 10 s;
# pages after pruning 90% <= 15% of before; query ratios as before.
# Prints "retention: NAME VALUE UNIT ..." lines; writes
# $BENCH_OUT/retention.txt.
set -u
B=${1:-build}
cd "$(dirname "$0")/.." || exit 1
OUT=${BENCH_OUT:-bench/out}
N=${BENCH_RETENTION_N:-1000000}
PART=${BENCH_RETENTION_PART:-100000}
L=$PWD/$B/ledger
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
mkdir -p "$OUT"
R="$OUT/retention.txt"
: >"$R"
now() { date +%s.%N; }
say() { echo "retention: $*" | tee -a "$R"; }
secs() { echo "$1 $2" | awk '{ printf "%.2f", $2 - $1 }'; }
used() { # bytes of pages in use
    "$L" --dir "$1" stats --databases -o json |
        jq '[.databases[] | select(.name != "(free)") | .bytes] | add'
}
med3() { # CMD...: median seconds of three runs
    for i in 1 2 3; do
        a=$(now)
        "$@" >/dev/null 2>&1
        b=$(now)
        secs "$a" "$b"
        echo
    done | sort -n | sed -n 2p
}

for p in jq awk; do
    command -v $p >/dev/null || { say "skip: $p not installed"; exit 0; }
done
say "machine: $(nproc) cores, $(awk '/MemTotal/ {print int($2/1024) " MiB"}' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg); N=$N, parts of $PART"
"$B/bench/gen_events" "$N" >"$T/ev.jsonl" 2>/dev/null || exit 1
D=$T/box
"$L" --dir "$D" init --origin bench.example/box >/dev/null || exit 1
"$L" --dir "$D" ingest "$T/ev.jsonl" >/dev/null 2>&1 || exit 1
SIZE=$((N + 1))
HZ=$((SIZE * 9 / 10))
# A horizon is the end of a commit (a seal): the first one at or after
# 90%, so that at least 90% is pruned (`show` names an event's seal by its
# first seq; the next seal begins at the first seq whose seal differs)
seal_of() { "$L" --dir "$D" show "$1" -o json | jq -r .seal; }
s0=$(seal_of "$HZ")
if [ "$s0" != "$HZ" ]; then
    lo=$HZ hi=$((SIZE - 1))
    if [ "$(seal_of "$hi")" = "$s0" ]; then
        HZ=$SIZE
    else
        while [ $((hi - lo)) -gt 1 ]; do
            mid=$(((lo + hi) / 2))
            if [ "$(seal_of "$mid")" = "$s0" ]; then lo=$mid; else hi=$mid; fi
        done
        HZ=$hi
    fi
fi

# queries over the events that stay: a run whose events are all kept, a
# time window and a body term in the kept stretch
RUN=$("$L" --dir "$D" query -o json -n all "seq=$((HZ + 1000)).." type=run.started |
    jq -r '.run // empty' | head -n 1)
t1=$("$L" --dir "$D" show $((SIZE * 95 / 100)) -o json | jq -r .time)
t2=$("$L" --dir "$D" show $((SIZE * 97 / 100)) -o json | jq -r .time)
q_run() { "$L" --dir "$D" query -o json -n all "run=$RUN"; }
q_win() { "$L" --dir "$D" query -o json -n all -S "$t1" -U "$t2"; }
q_body() { "$L" --dir "$D" query -o json -n all "seq=$HZ.." body.status=failed; }
qr0=$(med3 q_run)
qw0=$(med3 q_win)
qb0=$(med3 q_body)
u0=$(used "$D")

# archive and prune, part by part
first=0
arch=0
prune=0
rss=0
parts=0
while [ "$first" -lt "$HZ" ]; do
    to=$((first + PART))
    [ "$to" -gt "$HZ" ] && to=$HZ
    a=$(now)
    /usr/bin/time -f '%M' -o "$T/rss" "$L" --dir "$D" archive --before "$to" \
        --out "$T/a$parts.bundle" -o json >"$T/out" 2>"$T/err"
    rc=$?
    # (no commit ends in what is left before the 90%: done)
    [ $rc -eq 66 ] && grep -q 'nothing before' "$T/err" && break
    [ $rc -eq 0 ] || { say "archive failed: $(tail -n 2 "$T/err")"; exit 1; }
    b=$(now)
    arch=$(echo "$arch $(secs "$a" "$b")" | awk '{ print $1 + $2 }')
    k=$(cat "$T/rss")
    [ "$k" -gt "$rss" ] && rss=$k
    hz=$(jq -r .horizon.horizon "$T/out")
    a=$(now)
    "$L" --dir "$D" prune --before "$hz" --archive "$T/a$parts.bundle" --force \
        >/dev/null 2>"$T/err" || { say "prune failed: $(tail -n 2 "$T/err")"; exit 1; }
    b=$(now)
    prune=$(echo "$prune $(secs "$a" "$b")" | awk '{ print $1 + $2 }')
    if [ "$parts" = 0 ] && [ -x "$B/bench/json_floor" ]; then
        # the floor, from the first part: what reading the archive's
        # JSON with jansson costs alone (CPU seconds), and unpacking it
        mkdir -p "$T/x"
        zstd -dcq "$T/a0.bundle" | tar -xf - -C "$T/x" --wildcards \
            '*/manifest.json' '*/events.jsonl' 2>/dev/null
        "$B/bench/json_floor" "$(dirname "$(ls "$T"/x/*/manifest.json)")" \
            >"$T/floor" 2>&1
        fev=$((hz - first))
        fm=$(awk '/manifest.json/ { print $8 }' "$T/floor")
        fe=$(awk '/events.jsonl/ { print $8 }' "$T/floor")
        fr=$( (/usr/bin/time -f '%U %S' sh -c \
            "zstd -dcq '$T/a0.bundle' | tar -tf - >/dev/null") 2>&1 |
            awk '{ print $1 + $2 }')
        rm -rf "$T/x"
    fi
    rm -f "$T/a$parts.bundle"
    first=$hz
    parts=$((parts + 1))
done
u1=$(used "$D")
qr1=$(med3 q_run)
qw1=$(med3 q_win)
qb1=$(med3 q_body)
"$L" --dir "$D" verify >/dev/null 2>&1 || say "verify after the prunes FAILED"

say "archive $first events in $parts parts: $arch s, $(echo "$first $arch" | awk '{ printf "%d", $1 / $2 }') events/s, peak RSS $((rss / 1024)) MiB a part (target >= 100000 events/s)"
say "prune $first events in $parts parts: $prune s (target <= 10 s for 1M)"
if [ -n "${fm:-}" ] && [ -n "${fe:-}" ]; then
    say "floor, from part 0 ($fev events): jansson parses its manifest.json (one document) in $fm s and its events.jsonl in $fe s of CPU; zstd -d | tar -t of the bundle takes $fr CPU-s"
    say "floor for $first events: the manifests alone $(echo "$fm $first $fev" | awk '{ printf "%.1f", $1 * $2 / $3 }') s on one core; with events.jsonl and unpacking $(echo "$fm $fe $fr $first $fev" | awk '{ printf "%.1f", ($1 + $2 + $3) * $4 / $5 }') CPU-s, $(echo "$fm $fe $fr $first $fev" | awk '{ printf "%.1f", ($1 + $2 + $3) * $4 / $5 / 2 }') s on two cores at best, before any check (target <= 10 s)"
fi
say "pages in use after pruning $(echo "$first $SIZE" | awk '{ printf "%.1f", 100 * $1 / $2 }')%: $u0 -> $u1 bytes, $(echo "$u1 $u0" | awk '{ printf "%.1f", 100 * $1 / $2 }')% (target <= 15%)"
say "query run=$RUN: $qr0 -> $qr1 s; window: $qw0 -> $qw1 s; body term: $qb0 -> $qb1 s (median of 3, before -> after)"
