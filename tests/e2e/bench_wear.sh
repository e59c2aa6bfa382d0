#!/bin/sh
# bench_wear.sh — bench/wear.sh (issue 64) in its quick mode, shortened: a
# row a scenario with the device's and the processes' bytes an event for
# the ledger and its SQLite peer, the breakdown by file adding up to the
# device's count, and nothing left behind (loop devices, mounts, the trace
# instance). Needs root and the bench programs (make bench builds them):
# exit 77 otherwise. No figure is judged here: bench/RESULTS.md does that.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
LEDGER=${LEDGER:-$ROOT/build/ledger}
B=$(cd "$(dirname "$LEDGER")" && pwd)
skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "not root (loop devices, mount, tracefs)"
command -v losetup >/dev/null 2>&1 && command -v mkfs.ext4 >/dev/null 2>&1 &&
    command -v debugfs >/dev/null 2>&1 || skip "losetup, mkfs.ext4 or debugfs missing"
losetup -f >/dev/null 2>&1 || skip "no free loop device here (a chroot or container without them)"
grep -qw tracefs /proc/filesystems || skip "the kernel has no tracefs"
for p in rss serve_load peer_serve peer_sqlite gen_events proxy_stub proxy_load otlp_load; do
    [ -x "$B/bench/$p" ] || skip "$B/bench/$p not built (make bench builds it)"
done
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/bench_wear.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
fails=0
fail() { printf 'FAIL: %s\n' "$*"; fails=$((fails + 1)); }

WEAR_QUICK=1 WEAR_SECS=3 WEAR_RATES=50 WEAR_EVENTS=50 WEAR_INGEST_N=2000 \
    WEAR_OTLP_BATCHES=2 WEAR_IMG_DIR=$T WEAR_IMG_MB=512 BENCH_OUT=$T/out \
    bash "$ROOT/bench/wear.sh" "$B" >"$T/log" 2>&1 &
wp=$!
wait $wp
rc=$?
[ $rc = 0 ] || fail "bench/wear.sh exit $rc: $(tail -n 5 "$T/log")"

R=$T/out/wear.tsv
FILES=$T/out/wear-files.txt
head -n 1 "$R" | grep -q '^# mode quick' || fail "wear.tsv does not say its mode"
want=$("$LEDGER" --dir "$T/probe" init >/dev/null 2>&1 &&
    "$LEDGER" --dir "$T/probe" stats -o json | jq .layout)
head -n 1 "$R" | grep -q "; layout $want;" ||
    fail "wear.tsv does not name store layout $want: $(head -n 1 "$R")"
for s in "lone 50/s" "64 clients x 16" "ingest 2000" "proxy sync" "OTLP pb"; do
    line=$(awk -F '\t' -v s="$s" '$1 == s' "$R")
    [ -n "$line" ] || { fail "no row for $s"; continue; }
    # ledger and peer: events, and bytes an event by the device and by
    # the processes, each a positive number
    echo "$line" | awk -F '\t' '{ for (i = 2; i <= 7; i++) if (!($i + 0 > 0)) exit 1 }' ||
        fail "$s: a count that is not positive: $line"
done
awk -F '\t' '$1 == "lone 50/s" && $2 != $3 { exit 1 }' "$R" ||
    fail "lone events: the ledger and the peer did not take the same events"
# the breakdown by file adds up to the device's count (the trace saw
# every write request), and names the files that matter
awk '/^== / { want = $(NF - 1) }
     /^  \(all\)/ { got = $2 * 1024; d = got - want; if (d < 0) d = -d
                    if (d > 65536 && d > want / 50) { print "off: " want " " got; bad = 1 } }
     END { exit bad }' "$FILES" ||
    fail "the breakdown by file does not add up to the device's count"
grep -q 'l/data.mdb' "$FILES" || fail "the breakdown does not name data.mdb"
grep -q 'p.db-wal' "$FILES" || fail "the breakdown does not name the peer's WAL"
grep -q '(ext4 journal)' "$FILES" || fail "the breakdown does not name the journal"
# at layout 9 a lone event's frame is in the intake log
[ "$want" != 9 ] || grep -q 'l/intake ' "$FILES" ||
    fail "the breakdown at layout 9 does not name the intake log"
# nothing left behind
losetup -a | grep -q "$T" && fail "a loop device left: $(losetup -a | grep "$T")"
grep -q "$T" /proc/mounts && fail "a mount left"
[ -d "/sys/kernel/tracing/instances/wear-$wp" ] && fail "its trace instance left"
if [ $fails -eq 0 ]; then
    echo "bench_wear: ok"
    exit 0
fi
cat "$T/log"
echo "bench_wear: $fails failure(s)"
exit 1
