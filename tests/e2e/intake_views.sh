#!/bin/sh
# intake_views.sh — at store layout 9 a read-only process's views are
# current with the intake's unapplied tail (docs/WRITE-PATH.md, "How far
# behind a view may be"; issue 64): `serve` acks route decisions into the
# intake and keeps them there (fewer than 128 events), so the store's
# projections lack them; `ledger routes`, a read-only process, folds the
# tail in memory, and so does the doctor's view:
#   1. the store's projections are behind (the test sees the tail);
#   2. routes shows the three decisions, with no note (before: "projection
#      packs is not current in the store ... `ledger rebuild` fixes the
#      store", advice that was wrong, after a fold of the whole log), and
#      changes nothing in data.mdb;
#   3. the doctor answers with no note either;
#   4. serve stopped: the same answer.
# And `ledger stats` names the layout for what it is.
#   5. one-shot appends leave their events in the tail: `projections`
#      calls the stored ones current, and a `verify --full` (which records
#      its result on a handle without the projections) leaves them so: the
#      doctor's projections-current stays ok, exit 0 (before: the verify
#      applied the tail without folding it, and the doctor failed the
#      clause, "an appender ran without projections", `ledger rebuild`);
#      and `ledger rebuild` then finds nothing changed; an export of a
#      size in the tail carries a signed projection note.
#   6. the frame carries the projection note signed at the ack: a process
#      without the log key that applies the tail stores the last frame's
#      (one note an application), and a rebuild finds it matching; with no
#      note and no key, a rebuild says so.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
HERE=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/intake_views.XXXXXX") || exit 1
pid=""
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$T"' EXIT
D=$T/l
fails=0
fail() { printf 'FAIL: %s\n' "$*"; fails=$((fails + 1)); }

LEDGER_LAYOUT=9 "$LEDGER" --dir "$D" init >/dev/null 2>"$T/err" ||
    { echo "FAIL: init at layout 9: $(cat "$T/err")"; exit 1; }
# (stats names the layout for what it is: before, layout 8's phrase)
"$LEDGER" --dir "$D" stats | grep -q '^layout  *9 (layout 8, and appends through an intake log; epoch keys)$' ||
    fail "stats does not name layout 9: $("$LEDGER" --dir "$D" stats | grep '^layout')"
"$LEDGER" --dir "$D" serve >"$T/serve.out" 2>"$T/serve.err" &
pid=$!
i=0
while ! grep -q '^listening on ' "$T/serve.out" 2>/dev/null; do
    sleep 0.05
    i=$((i + 1))
    if [ $i -gt 400 ] || ! kill -0 "$pid" 2>/dev/null; then
        echo "FAIL: serve did not start: $(cat "$T/serve.err")"
        exit 1
    fi
done
for m in m1 m2 m3; do
    printf '{"type":"route.decision","subject":"route:pdf/x","body":{"route":"pdf/x","chosen_model":"%s","latency_ms":5,"outcome":"ok"}}\n' "$m"
done | python3 "$HERE/lib/serve_probe.py" "$D/ledger.sock" lines >"$T/acks" ||
    fail "the client: $(cat "$T/acks")"
[ "$(grep -c '"seq"' "$T/acks")" = 3 ] || fail "three acks: $(cat "$T/acks")"

# 1. the store's projections lack the tail (LMDB's own count of the
# routes projection's records)
stored() { mdb_stat -s proj.routes "$D" 2>&1 | awk '/Entries:/ { print $2 }'; }
n=$(stored)
[ "$n" = 0 ] || fail "the store's routes projection holds $n record(s): the tail was applied"
sum0=$(cksum <"$D/data.mdb")

# 2. routes, read-only, current and silent
"$LEDGER" --dir "$D" routes -o json >"$T/routes" 2>"$T/routes.err" ||
    fail "routes: $(cat "$T/routes.err")"
[ -s "$T/routes.err" ] && fail "routes said: $(cat "$T/routes.err")"
check_routes() {
    python3 -c 'import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
r = [x for x in rows if x["route"] == "pdf/x"][0]
assert r["decisions"]["count"] == 3, r
assert r["decided_models"] == ["m1", "m2", "m3"], r' "$1" 2>&1
}
out=$(check_routes "$T/routes") || fail "routes with the tail: $out"
# nothing written by the reader
[ "$(cksum <"$D/data.mdb")" = "$sum0" ] || fail "a read-only view changed data.mdb"

# 3. the doctor
"$LEDGER" --dir "$D" doctor -o json >"$T/doctor" 2>"$T/doctor.err"
rc=$?
[ $rc -le 1 ] || fail "doctor: exit $rc, $(cat "$T/doctor.err")"
[ -s "$T/doctor.err" ] && fail "doctor said: $(cat "$T/doctor.err")"

# 4. serve stopped: the tail in the store, the same answer
kill -TERM "$pid"
wait "$pid"
rc=$?
pid=""
[ $rc = 0 ] || fail "serve exited $rc: $(cat "$T/serve.err")"
"$LEDGER" --dir "$D" routes -o json >"$T/routes2" 2>"$T/routes.err" ||
    fail "routes after serve: $(cat "$T/routes.err")"
out=$(check_routes "$T/routes2") || fail "routes after serve: $out"

# 5. one-shot appends, then a verification recorded beside them
D=$T/oneshot
LEDGER_LAYOUT=9 "$LEDGER" --dir "$D" init >/dev/null 2>&1 || fail "init oneshot"
for m in a b; do
    "$LEDGER" --dir "$D" append x.test.view --body "{\"m\":\"$m\"}" >/dev/null ||
        fail "append $m"
done
# rebuilt WHAT JQ: each of the 9 rows of `rebuild -o json` in $T/rb holds JQ
rebuilt() {
    [ "$(jq -s "length == 9 and all(.[]; $2)" "$T/rb" 2>&1)" = true ] ||
        fail "$1: $(cat "$T/rb")"
}
current() { # WHEN
    "$LEDGER" --dir "$D" projections -o json >"$T/proj" 2>&1 ||
        fail "projections $1: $(cat "$T/proj")"
    python3 - "$T/proj" <<'EOF' || fail "projections $1: not all current: $(cat "$T/proj")"
import json, sys
rows = [json.loads(x) for x in open(sys.argv[1]) if x.strip()]
assert len(rows) == 10 and all(r["current"] for r in rows), rows
EOF
    "$LEDGER" --dir "$D" doctor >"$T/doc" 2>&1
    rc=$?
    [ $rc = 0 ] || fail "doctor $1: exit $rc: $(grep -v '^  ok' "$T/doc")"
    grep -q '^  ok  *projections-current' "$T/doc" ||
        fail "doctor $1: $(grep projections-current "$T/doc")"
}
current "after two appends"
"$LEDGER" --dir "$D" verify --full >/dev/null 2>&1 || fail "verify --full oneshot"
current "after verify --full"
"$LEDGER" --dir "$D" routes >/dev/null 2>"$T/err" || fail "routes oneshot"
grep -q "not current" "$T/err" && fail "routes after verify says: $(cat "$T/err")"
# a rebuild after one-shot appends finds nothing changed: the stored
# projections with the tail folded are what it rebuilds (before: the
# index rebuild applied the tail first, and every projection "changed")
"$LEDGER" --dir "$D" append x.test.view --body '{"m":"c"}' >/dev/null || fail "append c"
"$LEDGER" --dir "$D" rebuild -o json >"$T/rb" 2>"$T/err" || fail "rebuild: $(cat "$T/err")"
rebuilt "rebuild after one-shot appends" '.changed | not'
current "after rebuild"
# ... and so when the stored projections hold records the tail leaves
# alone (before: the tail was folded over an empty state, and a rebuild
# after one unrelated append said packs, routes, ... changed)
R=$T/records
LEDGER_LAYOUT=9 "$LEDGER" --dir "$R" init >/dev/null 2>&1 || fail "init records"
"$LEDGER" --dir "$R" ingest "$HERE/../../examples/pdf-ops.jsonl" >/dev/null 2>&1 || fail "ingest pdf-ops"
"$LEDGER" --dir "$R" flush >/dev/null || fail "flush pdf-ops"
"$LEDGER" --dir "$R" append x.test.view --body '{"m":"f"}' >/dev/null || fail "append f"
"$LEDGER" --dir "$R" rebuild -o json >"$T/rb" 2>"$T/err" || fail "rebuild records: $(cat "$T/err")"
rebuilt "rebuild after an unrelated append" '.changed | not'
# the index pass alone applies the tail too, with the projections
"$LEDGER" --dir "$D" append x.test.view --body '{"m":"e"}' >/dev/null || fail "append e"
"$LEDGER" --dir "$D" rebuild indexes >/dev/null 2>"$T/err" || fail "rebuild indexes: $(cat "$T/err")"
current "after rebuild indexes"
# a bundle of a size in the tail carries a signed projection note (before:
# none was stored there, and verify-bundle warned the state was only the
# exporter's computation)
"$LEDGER" --dir "$D" append x.test.view --body '{"m":"d"}' >/dev/null || fail "append d"
"$LEDGER" --dir "$D" export --out "$T/b.tar.zst" 2>"$T/err" || fail "export: $(cat "$T/err")"
vk=$("$LEDGER" --dir "$D" keys verifier | head -1)
"$LEDGER" verify-bundle "$T/b.tar.zst" --trusted-key "$vk" >"$T/vb" 2>&1 ||
    fail "verify-bundle: $(cat "$T/vb")"
grep -q '^PASS state' "$T/vb" || fail "verify-bundle's state: $(grep state "$T/vb")"
grep -q '^WARN' "$T/vb" && fail "verify-bundle warns: $(grep WARN "$T/vb")"

# 6. the projection note is signed at the ack and the frame carries it: a
# copy of the ledger without the log key applies the tail (flush) and
# stores the notes as signed, and a rebuild there finds them matching
# (before: notes were signed when the tail was applied, so without the
# key none was stored, and the rebuild said "none before (signed now)"
# though nothing was signed)
N=$T/nokey
LEDGER_LAYOUT=9 "$LEDGER" --dir "$N" init >/dev/null 2>&1 || fail "init nokey"
for m in a b; do
    "$LEDGER" --dir "$N" append x.test.view --body "{\"m\":\"$m\"}" >/dev/null ||
        fail "append nokey $m"
done
# (three frames: init's key.anchored, event 1, and the appends a and b)
n=$(grep -a -c 'ledger-projections/v1' "$N/intake")
[ "$n" = 3 ] || fail "the intake holds $n projection notes, not 3 (one a frame)"
rm "$N/keys/log.key"
"$LEDGER" --dir "$N" flush >/dev/null 2>"$T/err" || fail "flush without the key: $(cat "$T/err")"
# one note an application, its last frame's (init's at size 1, then 4):
# the notes of sizes 2 and 3 went with it (before: one a frame, 931 B
# each)
n=$(mdb_stat -s proj.notes "$N" 2>&1 | awk '/Entries:/ { print $2 }')
[ "$n" = 2 ] || fail "proj.notes holds $n notes after the application, not 2"
"$LEDGER" --dir "$N" rebuild -o json >"$T/rb" 2>"$T/err" || fail "rebuild without the key: $(cat "$T/err")"
rebuilt "rebuild without the key" '.note == "matches"'
# a size with no note stored and no key to sign one: said so (before:
# "none before (signed now)", and nothing was signed)
"$LEDGER" --dir "$D" append x.test.view --body '{"m":"g"}' >/dev/null || fail "append g"
"$LEDGER" --dir "$D" verify --full >/dev/null 2>&1 || fail "verify --full before g's rebuild"
mv "$D/keys/log.key" "$T/log.key"
"$LEDGER" --dir "$D" rebuild -o json >"$T/rb" 2>"$T/err" || fail "rebuild of g without the key: $(cat "$T/err")"
mv "$T/log.key" "$D/keys/log.key"
rebuilt "rebuild of g without the key" '.note == "none (no log key here to sign one)"'

if [ $fails -eq 0 ]; then
    echo "intake_views: ok"
    exit 0
fi
echo "intake_views: $fails failure(s)"
exit 1
