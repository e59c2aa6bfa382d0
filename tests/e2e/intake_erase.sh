#!/bin/sh
# intake_erase.sh — at store layout 9 an erasure leaves no copy of the
# erased body in the intake log (docs/FORMAT.md 4 and 12.6): the body's
# frame held its record (the seed its salts come from, its values), and
# before this fix `ledger erase` deleted it from LMDB only when the tail
# was applied, leaving the frame's bytes in DIR/intake until the ring
# came round. Checked, each with a control that the marker was there:
#   1. `ledger erase` of a one-shot append: DIR/intake no longer holds the
#      body's marker, LMDB's bodies5 holds no record of it at once, the
#      erasure itself is in LMDB (stats: nothing in the intake), show says
#      erased, `verify --full` passes, and the next append goes on;
#   2. a body.erased in an ingested batch, after other events of the
#      batch: the same, the batch's other events all there;
#   3. beside a running `serve` that acked the body (its frame in the
#      tail): the erase, then serve acks more; after its stop every acked
#      event is there once, the body erased, the ledger verifies.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib/wait.sh" # within SECONDS CMD...
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/intake_erase.XXXXXX") || exit 1
pid=""
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$T"' EXIT
fails=0
fail() { printf 'FAIL: %s\n' "$*"; fails=$((fails + 1)); }
command -v mdb_dump >/dev/null 2>&1 || { echo "FAIL: no mdb_dump (lmdb-utils, installed by setup.sh)"; exit 1; }
has() { grep -c "$2" "$1" 2>/dev/null || true; } # FILE MARKER: count of lines
stored() { # DIR SEQ: is a body record of SEQ in LMDB's bodies5?
    mdb_dump -s bodies5 "$1" | grep -q "^ $(printf '%016x' "$2")\$"
}
tail_n() { "$LEDGER" --dir "$1" stats -o json | python3 -c 'import json, sys; print(json.load(sys.stdin)["intake_events"])'; }

# 1. ledger erase
D=$T/a
LEDGER_LAYOUT=9 "$LEDGER" --dir "$D" init >/dev/null 2>"$T/err" ||
    { echo "FAIL: init at layout 9: $(cat "$T/err")"; exit 1; }
s=$("$LEDGER" --dir "$D" append -q --body '{"note":"ZQ-MARK-ONE"}' x.secret 2>"$T/err") ||
    fail "append: $(cat "$T/err")"
"$LEDGER" --dir "$D" append -q --body '{"n":1}' x.other >/dev/null
[ "$(has "$D/intake" ZQ-MARK-ONE)" -ge 1 ] || fail "control: the intake does not hold the body's marker"
"$LEDGER" --dir "$D" erase -q --reason "request" "$s" >"$T/out" 2>"$T/err" ||
    fail "erase: exit $?: $(cat "$T/err")"
[ "$(has "$D/intake" ZQ-MARK-ONE)" = 0 ] || fail "the intake still holds the erased body"
stored "$D" "$s" && fail "LMDB's bodies5 still holds event $s's record"
[ "$(tail_n "$D")" = 0 ] || fail "the erasure waits in the intake: $(tail_n "$D") events"
"$LEDGER" --dir "$D" show -o json "$s" | grep -q '"erased": *true' ||
    fail "show $s: $("$LEDGER" --dir "$D" show -o json "$s")"
"$LEDGER" --dir "$D" verify --full >"$T/v" 2>&1 || fail "verify --full: $(cat "$T/v")"
grep -q "1 erased bod" "$T/v" || fail "verify: $(cat "$T/v")"
n=$("$LEDGER" --dir "$D" append -q --body '{"n":2}' x.other 2>"$T/err") || fail "append after: $(cat "$T/err")"
[ "$n" = $((s + 3)) ] || fail "the append after the erasure got seq $n, want $((s + 3))"
[ "$("$LEDGER" --dir "$D" query -n all -o json type=x.other | wc -l)" = 2 ] ||
    fail "query after the erasure"

# 2. in an ingested batch
E=$T/b
LEDGER_LAYOUT=9 "$LEDGER" --dir "$E" init >/dev/null 2>&1 || fail "init b"
# the secret is event 2 (event 1 is init's anchor, key.anchored)
s=$(printf '{"type":"x.secret","body":{"note":"ZQ-MARK-TWO"}}\n' |
    "$LEDGER" --dir "$E" ingest -o json - 2>"$T/err" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["first_seq"])') ||
    fail "ingest the secret: $(cat "$T/err")"
[ "$s" = 2 ] || fail "the ingested secret is event $s, want 2"
[ "$(has "$E/intake" ZQ-MARK-TWO)" -ge 1 ] || fail "control: the intake does not hold the second marker"
printf '{"type":"x.before","body":{}}\n{"type":"body.erased","body":{"target_seq":%s,"reason":"r"}}\n{"type":"x.after","body":{}}\n' "$s" |
    "$LEDGER" --dir "$E" ingest - >"$T/out" 2>"$T/err" || fail "ingest the erasure: $(cat "$T/err")"
[ "$(has "$E/intake" ZQ-MARK-TWO)" = 0 ] || fail "the intake still holds the body erased by a batch"
stored "$E" "$s" && fail "LMDB's bodies5 still holds event $s's record after the batch"
for ty in x.before body.erased x.after; do
    [ "$("$LEDGER" --dir "$E" query -n all -o json type=$ty | wc -l)" = 1 ] ||
        fail "the batch's $ty is not there once"
done
"$LEDGER" --dir "$E" verify --full >"$T/v" 2>&1 || fail "verify --full b: $(cat "$T/v")"

# 3. beside serve
F=$T/c
LEDGER_LAYOUT=9 "$LEDGER" --dir "$F" init >/dev/null 2>&1 || fail "init c"
"$LEDGER" --dir "$F" serve >"$T/serve.out" 2>"$T/serve.err" &
pid=$!
within 20 grep -q '^listening on ' "$T/serve.out" ||
    { echo "FAIL: serve did not start: $(cat "$T/serve.err")"; exit 1; }
send() { # LINES...
    printf '%s\n' "$@" | python3 "$HERE/lib/serve_probe.py" "$F/ledger.sock" lines >"$T/acks" ||
        fail "the client: $(cat "$T/acks")"
    [ "$(grep -c '"seq"' "$T/acks")" = $# ] || fail "$# acks: $(cat "$T/acks")"
}
send '{"type":"x.secret","subject":"job:a","body":{"note":"ZQ-MARK-THREE"}}' \
    '{"type":"x.served","subject":"job:a","body":{"n":1}}'
[ "$(has "$F/intake" ZQ-MARK-THREE)" -ge 1 ] || fail "control: serve's frame does not hold the third marker"
# the secret is event 2 (event 1 is init's anchor, key.anchored)
s=$(head -1 "$T/acks" | python3 -c 'import json, sys; print(json.load(sys.stdin)["seq"])')
[ "$s" = 2 ] || fail "serve acked the secret as event $s, want 2"
"$LEDGER" --dir "$F" erase -q --reason "request" "$s" >/dev/null 2>"$T/err" ||
    fail "erase beside serve: $(cat "$T/err")"
[ "$(has "$F/intake" ZQ-MARK-THREE)" = 0 ] || fail "the intake holds the body erased beside serve"
send '{"type":"x.served","subject":"job:a","body":{"n":2}}' \
    '{"type":"x.served","subject":"job:a","body":{"n":3}}'
kill -TERM "$pid"
wait "$pid" || fail "serve's stop: exit $?: $(cat "$T/serve.err")"
pid=""
[ "$("$LEDGER" --dir "$F" query -n all -o json type=x.served | wc -l)" = 3 ] ||
    fail "served events after the stop: $("$LEDGER" --dir "$F" query -n all type=x.served)"
"$LEDGER" --dir "$F" show -o json "$s" | grep -q '"erased": *true' || fail "event $s not erased"
stored "$F" "$s" && fail "LMDB's bodies5 holds event $s's record after serve's stop"
"$LEDGER" --dir "$F" verify --full >"$T/v" 2>&1 || fail "verify --full c: $(cat "$T/v")"

[ $fails = 0 ] && echo "ok: intake_erase" && exit 0
exit 1
