#!/bin/sh
# intake_idle.sh — at store layout 9 a writer waiting on its input pins
# no page (issue 64; docs/WRITE-PATH.md, "Between groups"). A writer keeps
# its view of the store (the unapplied tail replayed over an LMDB snapshot)
# from one ack group to the next, so that the next group replays only what
# others added. Before, it kept the snapshot too: `tail -f log | ledger
# ingest -` or a `serve` between requests held one for as long as it
# waited, and every page a busy writer beside it freed after that snapshot
# could not be reused (data.mdb grew, as beside any held snapshot).
#   1. `ingest -` from a pipe, its events acknowledged and the pipe quiet:
#      the process holds no snapshot (its reader slot is reset, LMDB
#      lists it "-");
#   2. another writer appends 300 events meanwhile (its commits apply the
#      tail to LMDB, so the kept view is stale), and still no snapshot;
#   3. the waiting ingest goes on: its next events follow, seqs 305 and
#      306 (after the genesis, init's anchor, its three and the 300),
#      nothing lost or doubled, `verify --full` exit 0;
#   4. `serve` between requests holds no snapshot either, and its next
#      ack after another writer's appends follows theirs.
# (Waits for a state have deadlines; nothing is timed.)
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
HERE=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/intake_idle.XXXXXX") || exit 1
ipid="" spid=""
trap 'exec 3>&- 2>/dev/null; for p in $ipid $spid; do kill -9 "$p" 2>/dev/null; done; rm -rf "$T"' EXIT
fails=0
fail() { printf 'FAIL: %s\n' "$*"; fails=$((fails + 1)); }

${CC:-cc} -o "$T/lr" "$HERE/lib/lmdb_readers.c" -llmdb 2>"$T/cc.err" ||
    { echo "FAIL: lmdb_readers: $(cat "$T/cc.err")"; exit 1; }
ev() { # ev N SUBJECT: one event line
    printf '{"type":"route.decision","subject":"route:%s/%s","body":{"route":"%s/%s","chosen_model":"m","latency_ms":1,"outcome":"ok"}}\n' "$2" "$1" "$2" "$1"
}
evs() { # evs FROM TO SUBJECT
    i=$1
    while [ "$i" -le "$2" ]; do ev "$i" "$3"; i=$((i + 1)); done
}
# wait_for WHAT CMD...: until CMD succeeds, up to 30 s
wait_for() {
    what=$1
    shift
    i=0
    until "$@"; do
        i=$((i + 1))
        [ $i -gt 300 ] && { fail "after 30 s, still not: $what"; return 1; }
        sleep 0.1
    done
}
size_of() { "$LEDGER" --dir "$1" stats -o json | jq -r '.size'; }
held_by() { "$T/lr" snapshots "$1" "$2"; }

LEDGER_LAYOUT=9 "$LEDGER" --dir "$T/l" init >/dev/null 2>"$T/err" ||
    { echo "FAIL: init at layout 9: $(cat "$T/err")"; exit 1; }
evs 1 300 busy >"$T/busy.jsonl"

# 1. ingest - from a pipe, three events acked, then the pipe quiet
D=$T/l
mkfifo "$T/in"
"$LEDGER" --dir "$D" ingest -o json - <"$T/in" >"$T/ingest.out" 2>"$T/ingest.err" &
ipid=$!
exec 3>"$T/in"
evs 1 3 waiting >&3
# (a log's size counts its first event, the genesis, seq 0, and init's
# anchor, key.anchored, seq 1: the three are seqs 2..4)
wait_for "the three events acknowledged" sh -c "[ \"\$(\"$LEDGER\" --dir \"$D\" stats -o json | jq -r .size)\" = 5 ]"
n=$("$T/lr" count "$D" "$ipid")
[ "$n" -ge 1 ] || fail "the waiting ingest has no reader slot at all ($n): the check would see nothing"
wait_for "the waiting ingest holds no snapshot (it holds $(held_by "$D" "$ipid"))" \
    sh -c "[ \"\$(\"$T/lr\" snapshots \"$D\" $ipid)\" = 0 ]"

# 2. another writer's 300 events beside it (its commits apply the tail)
"$LEDGER" --dir "$D" ingest --batch 10 "$T/busy.jsonl" >/dev/null 2>"$T/busy.err" ||
    fail "the busy writer: $(cat "$T/busy.err")"
[ "$(held_by "$D" "$ipid")" = 0 ] ||
    fail "the waiting ingest holds a snapshot after the busy writer's commits"

# 3. the waiting ingest goes on after them
evs 4 5 waiting >&3
exec 3>&-
wait "$ipid"
rc=$?
ipid=""
[ $rc = 0 ] || fail "the waiting ingest exited $rc: $(cat "$T/ingest.err")"
grep -q "^ingest: 5 events committed (seq 2\\.\\.306, other writers' events among them)" "$T/ingest.err" ||
    fail "the waiting ingest's report: $(cat "$T/ingest.out" "$T/ingest.err")"
[ "$(jq -c '[.committed, .first_seq, .last_seq]' "$T/ingest.out" 2>&1)" = '[5,"2","306"]' ] ||
    fail "the waiting ingest's -o json: $(cat "$T/ingest.out")"
# nothing committed: no seqs (before: "0", the log's first event)
"$LEDGER" --dir "$D" ingest -o json /dev/null >"$T/none.out" 2>/dev/null
[ "$(jq -c '[.committed, .first_seq, .last_seq]' "$T/none.out" 2>&1)" = '[0,null,null]' ] ||
    fail "an empty ingest's -o json: $(cat "$T/none.out")"
[ "$(size_of "$D")" = 307 ] || fail "the log's size is $(size_of "$D"), not 307"
"$LEDGER" --dir "$D" query subject=route:waiting/5 -o json >"$T/q5" 2>&1
[ "$(jq -r '.seq' "$T/q5" 2>/dev/null)" = 306 ] ||
    fail "the waiting ingest's last event is not seq 306: $(cat "$T/q5")"
[ "$("$LEDGER" --dir "$D" query 'subject=route:waiting/*' -o json | jq -s 'length')" = 5 ] ||
    fail "the waiting ingest's events are not 5 in the log"
"$LEDGER" --dir "$D" verify --full >"$T/v" 2>&1 || fail "verify --full: $(cat "$T/v")"

# 4. serve between requests
"$LEDGER" --dir "$D" serve >"$T/serve.out" 2>"$T/serve.err" &
spid=$!
wait_for "serve listening" grep -q '^listening on ' "$T/serve.out" || exit 1
evs 1 3 served | python3 "$HERE/lib/serve_probe.py" "$D/ledger.sock" lines >"$T/acks" ||
    fail "the client: $(cat "$T/acks")"
[ "$(grep -c '"seq"' "$T/acks")" = 3 ] || fail "three acks: $(cat "$T/acks")"
wait_for "serve holds no snapshot between requests (it holds $(held_by "$D" "$spid"))" \
    sh -c "[ \"\$(\"$T/lr\" snapshots \"$D\" $spid)\" = 0 ]"
"$LEDGER" --dir "$D" ingest --batch 10 "$T/busy.jsonl" >/dev/null 2>"$T/busy2.err" ||
    fail "the busy writer beside serve: $(cat "$T/busy2.err")"
ev 4 served | python3 "$HERE/lib/serve_probe.py" "$D/ledger.sock" lines >"$T/ack4" ||
    fail "the client: $(cat "$T/ack4")"
# 307 events, serve's three, the busy writer's 300
grep -q '"seq": *"610"' "$T/ack4" || fail "serve's next ack is not seq 610: $(cat "$T/ack4")"
kill -TERM "$spid"
wait "$spid"
rc=$?
spid=""
[ $rc = 0 ] || fail "serve exited $rc: $(cat "$T/serve.err")"
"$LEDGER" --dir "$D" verify --full >"$T/v2" 2>&1 || fail "verify --full after serve: $(cat "$T/v2")"

[ $fails = 0 ] || exit 1
echo "ok: a writer waiting on its input (ingest -, serve) holds no snapshot; its next events follow another writer's"
