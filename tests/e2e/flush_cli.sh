#!/bin/sh
# flush_cli.sh — `ledger flush` moves the intake's acknowledged tail into
# data.mdb (store layout 9; docs/WRITE-PATH.md), and says so truly:
#   1. init's anchor (event 1, key.anchored) and five one-shot appends stay
#      in the intake (stats: 6, LMDB's entries and last transaction
#      unchanged); flush moves them (seq 1 to 6), the entries database then
#      holds all 7, stats says 0, the projections are current and
#      `verify --full` passes;
#   2. a second flush moves nothing, says so, and writes nothing;
#   3. a ledger at layout 8 (an earlier build's) is refused (65), naming
#      `ledger migrate`, and nothing is written; the doctor's wear clause
#      names no conversion at 9;
#   4. beside a running `serve` (which keeps its acks in the intake):
#      flush moves serve's events, serve goes on acking, and after its
#      stop every event is there once and the ledger verifies;
#   5. unhappy paths: no ledger (66), an argument (64), an unknown
#      option (64), each naming the cause.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib/wait.sh" # within SECONDS CMD...
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/flush_cli.XXXXXX") || exit 1
pid=""
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$T"' EXIT
fails=0
fail() { printf 'FAIL: %s\n' "$*"; fails=$((fails + 1)); }
command -v mdb_stat >/dev/null 2>&1 || { echo "FAIL: no mdb_stat (lmdb-utils, installed by setup.sh)"; exit 1; }
txn() { mdb_stat -e "$1" | sed -n 's/^ *Last transaction ID: //p'; }
entries() { mdb_stat -s entries5 "$1" | awk '/Entries:/ { print $2 }'; }
jfield() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

# 1. the tail, moved
D=$T/a
LEDGER_LAYOUT=9 "$LEDGER" --dir "$D" init >/dev/null 2>"$T/err" ||
    { echo "FAIL: init at layout 9: $(cat "$T/err")"; exit 1; }
i=0
while [ $i -lt 5 ]; do
    "$LEDGER" --dir "$D" append -q --body "{\"i\":$i}" x.flush >/dev/null 2>"$T/err" ||
        fail "append $i: $(cat "$T/err")"
    i=$((i + 1))
done
# the intake holds init's anchor (event 1, key.anchored) and the five appends
n=$("$LEDGER" --dir "$D" stats -o json | jfield intake_events)
[ "$n" = 6 ] || fail "stats: $n events in the intake, want 6"
"$LEDGER" --dir "$D" stats | grep -q '^intake  *6 events not yet in data.mdb$' ||
    fail "stats' intake line: $("$LEDGER" --dir "$D" stats | grep intake)"
e0=$(entries "$D")
[ "$e0" = 1 ] || fail "before the flush LMDB's entries hold $e0 records, want 1 (the genesis)"
t0=$(txn "$D")
"$LEDGER" --dir "$D" flush >"$T/out" 2>"$T/err" || fail "flush: exit $?: $(cat "$T/err")"
[ "$(cat "$T/out")" = "moved 6 events (seq 1 to 6) from the intake into data.mdb" ] ||
    fail "flush said: $(cat "$T/out")"
[ -s "$T/err" ] && fail "flush said on stderr: $(cat "$T/err")"
e1=$(entries "$D")
[ "$e1" = 7 ] || fail "after the flush LMDB's entries hold $e1 records, want 7"
n=$("$LEDGER" --dir "$D" stats -o json | jfield intake_events)
[ "$n" = 0 ] || fail "stats after the flush: $n events in the intake"
"$LEDGER" --dir "$D" projections -o json >"$T/proj" || fail "projections"
grep -q '"current": *false' "$T/proj" && fail "a projection behind after the flush: $(cat "$T/proj")"
"$LEDGER" --dir "$D" verify --full >"$T/v" 2>&1 || fail "verify --full after the flush: $(cat "$T/v")"
grep -q 'stored projections match the log' "$T/v" || fail "verify: $(cat "$T/v")"

# 2. nothing left: said, nothing written
t1=$(txn "$D")
"$LEDGER" --dir "$D" flush >"$T/out" 2>"$T/err" || fail "second flush: $(cat "$T/err")"
[ "$(cat "$T/out")" = "the intake held no event data.mdb lacks: data.mdb holds every event (7); nothing moved" ] ||
    fail "second flush said: $(cat "$T/out")"
[ "$(txn "$D")" = "$t1" ] || fail "a flush with nothing to move wrote a transaction ($t1 -> $(txn "$D"))"
[ "$t1" != "$t0" ] || fail "the first flush wrote no transaction"
o=$("$LEDGER" --dir "$D" flush -o json)
[ "$o" = '{"layout":9,"moved":0,"left":0}' ] || fail "flush -o json: $o"
"$LEDGER" --dir "$D" append -q --body '{}' x.flush >/dev/null
o=$("$LEDGER" --dir "$D" flush -o json)
[ "$o" = '{"layout":9,"moved":1,"left":0,"first":"7","last":"7"}' ] || fail "flush -o json of one: $o"

# 3. layout 8 (an earlier build's, tests/vectors/layout/fresh8): refused,
# naming the migrate, nothing written
V=$(cd "$(dirname "$0")/../vectors/layout" && pwd)
E=$T/b
mkdir -m 700 "$E" "$E/keys"
zstd -q -d -c "$V/fresh8.mdb.zst" >"$E/data.mdb" &&
    install -m 600 "$V/keys/fresh5.key" "$E/keys/log.key" || fail "unpack fresh8"
cp "$E/data.mdb" "$T/e8.before"
"$LEDGER" --dir "$E" flush >"$T/out" 2>"$T/err"
rc=$?
[ $rc = 65 ] && [ ! -s "$T/out" ] &&
    grep -q "is at store layout 8, an earlier build's: this build reads and appends to layout 9 only, and \`ledger migrate\` converts it" "$T/err" &&
    cmp -s "$E/data.mdb" "$T/e8.before" || fail "flush at layout 8: exit $rc: $(cat "$T/out" "$T/err")"
# the doctor's wear clause names no conversion at 9
"$LEDGER" --dir "$D" doctor -o json |
    jq -e '.box[] | select(.name == "storage-wear") | .detail |
        any(test("B-tree paths")) | not' >/dev/null ||
    fail "doctor at layout 9 names a conversion"

# 4. beside serve
"$LEDGER" --dir "$D" serve >"$T/serve.out" 2>"$T/serve.err" &
pid=$!
within 20 grep -q '^listening on ' "$T/serve.out" ||
    { echo "FAIL: serve did not start: $(cat "$T/serve.err")"; exit 1; }
acks() { # N WHO
    j=0
    while [ $j -lt "$1" ]; do
        printf '{"type":"x.served","subject":"job:%s","body":{"j":%d}}\n' "$2" "$j"
        j=$((j + 1))
    done | python3 "$HERE/lib/serve_probe.py" "$D/ledger.sock" lines >"$T/acks" ||
        fail "the client: $(cat "$T/acks")"
    [ "$(grep -c '"seq"' "$T/acks")" = "$1" ] || fail "$1 acks: $(cat "$T/acks")"
}
acks 4 a
o=$("$LEDGER" --dir "$D" flush -o json 2>"$T/err") || fail "flush beside serve: $(cat "$T/err")"
[ "$o" = '{"layout":9,"moved":4,"left":0,"first":"8","last":"11"}' ] ||
    fail "flush beside serve: $o"
acks 3 b
[ "$("$LEDGER" --dir "$D" stats -o json | jfield intake_events)" = 3 ] ||
    fail "serve's acks after the flush are not in the intake"
kill -TERM "$pid"
wait "$pid" || fail "serve's stop: exit $?: $(cat "$T/serve.err")"
pid=""
n=$("$LEDGER" --dir "$D" query -n all -o json type=x.served | wc -l)
[ "$n" = 7 ] || fail "after serve's stop $n served events, want 7"
"$LEDGER" --dir "$D" verify --full >"$T/v" 2>&1 || fail "verify --full after serve: $(cat "$T/v")"

# 5. unhappy paths
"$LEDGER" --dir "$T/none" flush >"$T/out" 2>"$T/err"
rc=$?
[ $rc = 66 ] && grep -q 'no ledger in' "$T/err" && [ ! -s "$T/out" ] ||
    fail "flush of no ledger: exit $rc: $(cat "$T/err")"
"$LEDGER" --dir "$D" flush 5 >"$T/out" 2>"$T/err"
rc=$?
[ $rc = 64 ] && [ -s "$T/err" ] || fail "flush with an argument: exit $rc: $(cat "$T/err")"
"$LEDGER" --dir "$D" flush --all >"$T/out" 2>"$T/err"
rc=$?
[ $rc = 64 ] && grep -q -- '--all' "$T/err" || fail "flush --all: exit $rc: $(cat "$T/err")"

[ $fails = 0 ] && echo "ok: flush_cli" && exit 0
exit 1
