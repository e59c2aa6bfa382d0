#!/bin/sh
# export_windows.sh — `ledger export` holds a read snapshot for a window,
# not for the whole bundle (issue 63), and what a prune or an erase
# between two windows removes fails it, leaving no file.
#   1. An export of 20,000 events whose bundle file stops taking bytes
#      (the fault shim hangs its writes): it lets its snapshot go, and
#      30,000 events appended in commits of 5 beside it grow data.mdb no
#      more than 2x the same ingest with no reader (before: it waited on
#      its output inside its one transaction, and pinned every page freed
#      since).
#      The same with its last writes hanging (the bundle's last members
#      and its end): no reader slot held (before: its one snapshot was
#      held until the bundle was written).
#   2. An export stopped (SIGSTOP) once it writes the events' members (its
#      checkpoint and selection read), a prune meanwhile, then
#      SIGCONT: exit 66 naming the pruned events, no bundle nor temporary
#      file left.
#   3. The same with an erase of an event it exports: exit 66 naming it.
#   4. Ctrl-Z (SIGTSTP) while it writes the events: it stops at its read
#      window's end, holding no reader slot (before: stopped inside its
#      one transaction), and once continued writes the bundle.
#   5. On the pruned ledger, a selection too big that also reaches before
#      the horizon is said to be too big (65), as with one snapshot; one
#      that only reaches before it, 66.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
here=$(dirname "$0")
. "$here/lib/windows.sh"
win_start export_windows
gen 0 20000 >"$T/a.jsonl"
gen 20000 50000 >"$T/c.jsonl"
win_tools
for n in free held tail pr er; do
    "$LEDGER" --dir "$T/$n" init >/dev/null 2>&1 &&
        "$LEDGER" --dir "$T/$n" ingest --batch 100 "$T/a.jsonl" >/dev/null 2>&1 ||
        bad "$n: a ledger of 20,000 events"
done

# 1. an export whose output hangs
ASAN_OPTIONS=$SAN_OPTS LD_PRELOAD=$SAN_PRE$T/fi.so FAULT_CALLS=write FAULT_AT=2 FAULT_MODE=hang \
    FAULT_LOG=$T/held.fault "$LEDGER" --dir "$T/held" export \
    --out "$T/held.tar.zst" >/dev/null 2>"$T/held.err" &
ep=$!
pids="$pids $ep"
i=0
while [ ! -s "$T/held.fault" ] && [ $i -lt 600 ]; do
    sleep 0.1
    i=$((i + 1))
done
[ -s "$T/held.fault" ] || bad "the export's bundle writes did not hang: $(head -c 300 "$T/held.err")"
# its reader slot is let go once the member queue is full (10 s at most)
i=0
while [ "$("$T/lr" count "$T/held")" != 0 ] && [ $i -lt 600 ]; do
    sleep 0.1
    i=$((i + 1))
done
slots=$("$T/lr" count "$T/held")
[ "$slots" = 0 ] || bad "an export waiting on its output holds $slots reader slot(s)"
"$LEDGER" --dir "$T/free" ingest --batch 5 "$T/c.jsonl" >/dev/null 2>&1 ||
    bad "ingest with no reader"
"$LEDGER" --dir "$T/held" ingest --batch 5 "$T/c.jsonl" >/dev/null 2>&1 ||
    bad "ingest beside the held export"
free=$(stat -c %s "$T/free/data.mdb")
held=$(stat -c %s "$T/held/data.mdb")
echo "data.mdb after 30,000 events in commits of 5: $free bytes with no reader, $held beside an export whose output hangs"
[ "$held" -le $((2 * free)) ] ||
    bad "an export waiting on its output made data.mdb $held bytes, more than 2x $free"
kill -9 "$ep" 2>/dev/null
wait "$ep" 2>/dev/null

# 1b. an export whose last writes hang
ASAN_OPTIONS=$SAN_OPTS LD_PRELOAD=$SAN_PRE$T/fi.so FAULT_CALLS=write FAULT_COUNT_FILE=$T/tail.count \
    "$LEDGER" --dir "$T/tail" export --out "$T/tail0.tar.zst" >/dev/null 2>&1 ||
    bad "an export of 20,000 events under the fault shim"
nw=$(cat "$T/tail.count" 2>/dev/null)
ASAN_OPTIONS=$SAN_OPTS LD_PRELOAD=$SAN_PRE$T/fi.so FAULT_CALLS=write FAULT_AT=$((${nw:-10} - 3)) FAULT_MODE=hang \
    FAULT_LOG=$T/tail.fault "$LEDGER" --dir "$T/tail" export \
    --out "$T/tail.tar.zst" >/dev/null 2>"$T/tail.err" &
ep=$!
pids="$pids $ep"
i=0
while [ ! -s "$T/tail.fault" ] && [ $i -lt 600 ]; do
    sleep 0.1
    i=$((i + 1))
done
[ -s "$T/tail.fault" ] || bad "the export's last writes did not hang: $(head -c 300 "$T/tail.err")"
i=0
while [ "$("$T/lr" count "$T/tail")" != 0 ] && [ $i -lt 600 ]; do
    sleep 0.1
    i=$((i + 1))
done
slots=$("$T/lr" count "$T/tail")
[ "$slots" = 0 ] || bad "an export whose last writes ($((${nw:-10} - 3)) of $nw) hang holds $slots reader slot(s)"
kill -9 "$ep" 2>/dev/null
wait "$ep" 2>/dev/null

# between NAME CMD...: an export of NAME's ledger stopped once it writes
# the events, CMD run meanwhile, then let go on. Leaves .err and .rc.
between() {
    n=$1
    shift
    "$LEDGER" --dir "$T/$n" export --out "$T/$n.tar.zst" >/dev/null 2>"$T/$n.err" &
    ep=$!
    pids="$pids $ep"
    writing "$ep" || bad "$n: the export wrote no byte of its bundle"
    kill -STOP "$ep"
    "$@" >/dev/null 2>"$T/$n.cerr" || bad "$n: $* beside the stopped export: $(head -c 300 "$T/$n.cerr")"
    kill -CONT "$ep"
    wait "$ep"
    echo $? >"$T/$n.rc"
}
# 2. a prune between two windows
"$LEDGER" --dir "$T/pr" archive --before 500 --out "$T/pr.archive" >/dev/null 2>"$T/pr.aerr" ||
    bad "archive before 500: $(head -c 300 "$T/pr.aerr")"
between pr "$LEDGER" --dir "$T/pr" prune --before 500 --archive "$T/pr.archive" --force
rc=$(cat "$T/pr.rc")
[ "$rc" = 66 ] && grep -q "^ledger export: events 0\.\.[1-9][0-9]* were pruned while this export read the ledger" "$T/pr.err" ||
    bad "a prune between windows: exit $rc, $(head -c 400 "$T/pr.err")"
nofile pr.tar.zst
echo "a prune while the export read: exit $rc, $(head -c 200 "$T/pr.err")"

# 3. an erase between two windows
between er "$LEDGER" --dir "$T/er" erase --reason test 12345
rc=$(cat "$T/er.rc")
[ "$rc" = 66 ] && grep -q "^ledger export: event 12345's body was erased (by event [0-9]*) while this export read the ledger" "$T/er.err" ||
    bad "an erase between windows: exit $rc, $(head -c 400 "$T/er.err")"
nofile er.tar.zst
echo "an erase while the export read: exit $rc, $(head -c 200 "$T/er.err")"

# 4. ctrl-Z while the export reads (lib/windows.sh)
tstp_check export "$T/tail" "$LEDGER" --dir "$T/tail" export --out "$T/tstp.tar.zst"
[ "$TSTP_RC" = 0 ] && "$LEDGER" verify-bundle --trusted-key "$("$LEDGER" --dir "$T/tail" keys verifier)" "$T/tstp.tar.zst" >/dev/null 2>&1 ||
    bad "the export stopped by SIGTSTP, continued: exit $TSTP_RC, $(head -c 300 "$T/tstp.err")"

# 5. which failure a windowed selection says
"$LEDGER" --dir "$T/pr" export --max-events 10 --out "$T/big.tar.zst" seq=1..15000 >/dev/null 2>"$T/big.err"
rc=$?
[ "$rc" = 65 ] && grep -q "the selection has more than 10 events" "$T/big.err" ||
    bad "a selection too big and before the horizon: exit $rc, $(head -c 300 "$T/big.err")"
"$LEDGER" --dir "$T/pr" export --out "$T/cross.tar.zst" seq=1..15000 >/dev/null 2>"$T/cross.err"
rc=$?
[ "$rc" = 66 ] && grep -q "the selection reaches before the ledger's horizon" "$T/cross.err" ||
    bad "a selection before the horizon: exit $rc, $(head -c 300 "$T/cross.err")"
nofile big.tar.zst
nofile cross.tar.zst

echo "export_windows: 5 checks, $nfail failed"
[ "$nfail" = 0 ]
