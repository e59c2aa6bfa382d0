#!/bin/sh
# segment_windows.sh — a segment (`ledger archive`, `export --segment`)
# holds a read snapshot for a window, not for the whole segment (issue
# 63), and what a prune or an erase between two windows removes fails it,
# leaving no file.
#   1. An archive of 19,000 events whose file stops taking bytes (the
#      fault shim hangs its writes): it lets its snapshot go, and 30,000
#      events appended in commits of 5 beside it grow data.mdb no more than
#      2x the same ingest with no reader (before: it wrote inside its one
#      transaction, and pinned every page freed since).
#   2. An archive stopped (SIGSTOP) once it writes its file, a prune
#      meanwhile, then SIGCONT: exit 66 naming the pruned events, no file
#      nor temporary file left (before: it went on in its first snapshot).
#   3. The same with an erase of an event it archives: exit 66 naming it;
#      and with `export --segment`.
#   4. Ctrl-Z (SIGTSTP) while it writes: it stops at its read window's
#      end, holding no reader slot (before: stopped inside its one
#      transaction), and once continued writes a segment that verifies.
# (2 to 4 write at zstd level 19, slow enough for the signals to land
# while the segment is written.)
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
here=$(dirname "$0")
. "$here/lib/windows.sh"
win_start segment_windows
gen 0 20000 >"$T/a.jsonl"
gen 20000 50000 >"$T/c.jsonl"
win_tools
for n in free held pr er ex tstp; do
    "$LEDGER" --dir "$T/$n" init >/dev/null 2>&1 &&
        "$LEDGER" --dir "$T/$n" ingest --batch 100 "$T/a.jsonl" >/dev/null 2>&1 ||
        bad "$n: a ledger of 20,000 events"
done

# 1. an archive whose output hangs
ASAN_OPTIONS=$SAN_OPTS LD_PRELOAD=$SAN_PRE$T/fi.so FAULT_CALLS=write FAULT_AT=2 FAULT_MODE=hang \
    FAULT_LOG=$T/held.fault "$LEDGER" --dir "$T/held" archive --before 19000 \
    --out "$T/held.seg" >/dev/null 2>"$T/held.err" &
ap=$!
pids="$pids $ap"
i=0
while [ ! -s "$T/held.fault" ] && [ $i -lt 600 ]; do
    sleep 0.1
    i=$((i + 1))
done
[ -s "$T/held.fault" ] || bad "the archive's writes did not hang: $(head -c 300 "$T/held.err")"
slots=$("$T/lr" count "$T/held")
[ "$slots" = 0 ] || bad "an archive waiting on its output holds $slots reader slot(s)"
"$LEDGER" --dir "$T/free" ingest --batch 5 "$T/c.jsonl" >/dev/null 2>&1 ||
    bad "ingest with no reader"
"$LEDGER" --dir "$T/held" ingest --batch 5 "$T/c.jsonl" >/dev/null 2>&1 ||
    bad "ingest beside the held archive"
free=$(stat -c %s "$T/free/data.mdb")
held=$(stat -c %s "$T/held/data.mdb")
echo "data.mdb after 30,000 events in commits of 5: $free bytes with no reader, $held beside an archive whose output hangs"
[ "$held" -le $((2 * free)) ] ||
    bad "an archive waiting on its output made data.mdb $held bytes, more than 2x $free"
kill -9 "$ap" 2>/dev/null
wait "$ap" 2>/dev/null

# between NAME 'WRITER ARGS' CMD...: a segment of NAME's ledger (ledger
# WRITER ARGS --out NAME.seg) stopped once it writes, CMD run meanwhile,
# then let go on. Leaves .err and .rc.
between() {
    n=$1
    w=$2
    shift 2
    # shellcheck disable=SC2086 # (the writer's words, split)
    "$LEDGER" --dir "$T/$n" $w --level 19 --out "$T/$n.seg" >/dev/null 2>"$T/$n.err" &
    ap=$!
    pids="$pids $ap"
    writing "$ap" || bad "$n: the segment's writer wrote no byte of it"
    kill -STOP "$ap"
    "$@" >/dev/null 2>"$T/$n.cerr" || bad "$n: $* beside the stopped writer: $(head -c 300 "$T/$n.cerr")"
    kill -CONT "$ap"
    wait "$ap"
    echo $? >"$T/$n.rc"
}
# 2. a prune between two windows
"$LEDGER" --dir "$T/pr" archive --before 500 --out "$T/pr.archive" >/dev/null 2>"$T/pr.aerr" ||
    bad "archive before 500: $(head -c 300 "$T/pr.aerr")"
between pr "archive --before 19000" "$LEDGER" --dir "$T/pr" prune --before 500 --archive "$T/pr.archive" --force
rc=$(cat "$T/pr.rc")
[ "$rc" = 66 ] && grep -q "^ledger archive: events 0\.\.[1-9][0-9]* were pruned while the segment was written" "$T/pr.err" ||
    bad "a prune between windows: exit $rc, $(head -c 400 "$T/pr.err")"
nofile pr.seg
echo "a prune while the archive read: exit $rc, $(head -c 200 "$T/pr.err")"

# 3. an erase between two windows, of archive and of export --segment
between er "archive --before 19000" "$LEDGER" --dir "$T/er" erase --reason test 12345
rc=$(cat "$T/er.rc")
[ "$rc" = 66 ] && grep -q "^ledger archive: event 12345's body was erased (by event [0-9]*) while the segment was written" "$T/er.err" ||
    bad "an erase between windows: exit $rc, $(head -c 400 "$T/er.err")"
nofile er.seg
echo "an erase while the archive read: exit $rc, $(head -c 200 "$T/er.err")"
between ex "export --segment seq=1..19000" "$LEDGER" --dir "$T/ex" erase --reason test 12345
rc=$(cat "$T/ex.rc")
[ "$rc" = 66 ] && grep -q "^ledger export: event 12345's body was erased (by event [0-9]*) while the segment was written" "$T/ex.err" ||
    bad "an erase between export --segment's windows: exit $rc, $(head -c 400 "$T/ex.err")"
nofile ex.seg

# 4. ctrl-Z while the archive writes (lib/windows.sh)
tstp_check archive "$T/tstp" "$LEDGER" --dir "$T/tstp" archive --before 19000 --level 19 \
    --out "$T/tstp.seg"
[ "$TSTP_RC" = 0 ] && "$LEDGER" verify-bundle --trusted-key "$("$LEDGER" --dir "$T/tstp" keys verifier)" "$T/tstp.seg" >/dev/null 2>&1 ||
    bad "the archive stopped by SIGTSTP, continued: exit $TSTP_RC, $(head -c 300 "$T/tstp.err")"

echo "segment_windows: 4 checks, $nfail failed"
[ "$nfail" = 0 ]
