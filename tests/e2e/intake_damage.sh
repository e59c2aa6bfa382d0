#!/bin/sh
# intake_damage.sh — at store layout 9, damage to an acknowledged frame
# of the intake log is not taken for a torn tail (docs/FORMAT.md 12.5):
#   1. a byte flipped in the middle frame of three (events 2, 3, 4, one
#      frame each, after init's anchor, event 1): `verify` and
#      `verify --full` fail, exit 1, naming the first event out of reach
#      (3) and the hidden frame; the doctor's chain-verified fails naming
#      it;
#   2. `append`, `ingest` and `serve` write nothing over the hidden frame:
#      exit 65 (EX_DATAERR) naming the damage, the intake byte for byte
#      as before (before: `append` took seq 3 again, over acknowledged
#      events, and plain `verify` said ok for a log of 3);
#   3. the control: a torn last frame (its second half never written, as
#      a crash leaves it) is the end of the log: verify passes and the
#      next append goes on at its seq;
#   4. but once a verification has seen that frame, its loss is said.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/intake_damage.XXXXXX") || exit 1
pid=""
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$T"' EXIT
trap 'exit 130' INT TERM HUP
fails=0
fail() { printf 'FAIL: %s\n' "$*"; fails=$((fails + 1)); }
L() { "$LEDGER" --dir "$D" "$@"; }
# flip a byte of the body MARK inside the intake file (python3: no xxd)
flip() { # MARK
    python3 - "$D/intake" "$1" <<'EOF'
import sys
p, mark = sys.argv[1], sys.argv[2].encode()
b = bytearray(open(p, "rb").read())
i = b.find(mark)
assert i >= 0, "marker not in the intake"
b[i + len(mark) - 1] ^= 0x01
open(p, "r+b").write(b)
EOF
}

# a 999 ledger in $D with events 2, 3, 4 in a frame each (markers one,
# two, three; event 1 is init's anchor, key.anchored)
three_frames() { # WHAT
    LEDGER_LAYOUT=9 L init >/dev/null 2>"$T/err" ||
        { echo "FAIL: $1: init at layout 9: $(cat "$T/err")"; exit 1; }
    for m in one two three; do
        L append x.test.damage --body "{\"m\":\"marker-$m\"}" >/dev/null 2>"$T/err" ||
            fail "$1: append $m: $(cat "$T/err")"
    done
}

D=$T/l
three_frames damaged
L verify >/dev/null 2>"$T/err" || fail "verify before the damage: $(cat "$T/err")"
flip marker-two || exit 1
cp "$D/intake" "$T/intake.damaged"

# 1. verification names the first event out of reach
for mode in "" --full; do
    L verify $mode -o json >"$T/v" 2>"$T/err"
    rc=$?
    [ $rc = 1 ] || fail "verify $mode after the damage: exit $rc, want 1"
    python3 - "$T/v" <<'EOF' || fail "verify $mode -o json: $(cat "$T/v")"
import json, sys
v = json.load(open(sys.argv[1]))
assert v.get("bad_seq") in (3, "3") and v.get("ok") is False, v
assert "damaged" in json.dumps(v) and "events 4..4" in json.dumps(v), v
EOF
done
L doctor >"$T/doc" 2>&1
rc=$?
[ $rc = 1 ] || fail "doctor after the damage: exit $rc, want 1"
grep chain-verified "$T/doc" | grep -q "FAIL.*event 3.*damaged" ||
    fail "doctor's chain-verified: $(grep chain-verified "$T/doc")"

# 2. no writer writes over the hidden frame
L append x.test.damage --body '{"m":"after"}' >"$T/out" 2>"$T/err"
rc=$?
[ $rc = 65 ] || fail "append over the damage: exit $rc, want 65 ($(cat "$T/out"))"
grep -q "damaged at block .*events 4..4.*nothing is written over it" "$T/err" ||
    fail "append's message: $(cat "$T/err")"
printf '{"type":"x.test.damage","body":{"m":"ingested"}}\n' |
    L ingest - >"$T/out" 2>"$T/err"
rc=$?
[ $rc = 65 ] || fail "ingest over the damage: exit $rc, want 65 ($(cat "$T/err"))"
"$LEDGER" --dir "$D" serve >"$T/serve.out" 2>"$T/serve.err" &
pid=$!
n=0
while [ $n -lt 100 ] && ! grep -q listening "$T/serve.out"; do
    sleep 0.1
    n=$((n + 1))
done
if grep -q listening "$T/serve.out"; then
    L append x.test.damage --body '{"m":"served"}' >"$T/out" 2>"$T/err"
    rc=$?
    [ $rc = 0 ] && fail "append through serve over the damage: exit 0 ($(cat "$T/out"))"
    grep -q "damaged" "$T/err" || fail "append through serve: $(cat "$T/err")"
else
    # refusing to start on a damaged log is an answer too, if it says why
    grep -q "damaged" "$T/serve.err" || fail "serve: $(cat "$T/serve.err")"
fi
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
pid=""
cmp -s "$D/intake" "$T/intake.damaged" || fail "the damaged intake was written to"

# 3. the control: a torn last frame is the log's end, written over
D=$T/torn
three_frames torn
flip marker-three || exit 1
L verify >"$T/out" 2>&1 || fail "torn: verify: $(cat "$T/out")"
# genesis, anchor, one and two
L stats -o json | grep -q '"events":4[,}]' || fail "torn: not 4 events: $(L stats -o json)"
out=$(L append x.test.damage --body '{"m":"again"}' 2>&1)
[ "$out" = "seq 4" ] || fail "torn: the next append: $out, want seq 4"
L verify --full >"$T/out" 2>&1 || fail "torn: verify --full after: $(cat "$T/out")"

# 4. the last frame damaged after a verification saw it: a torn write
# would look the same, but the verification's record says the log was
# longer: verify and the doctor fail naming the events gone (before: the
# doctor said healthy for the shorter log, exit 0)
D=$T/last
three_frames last
L verify >/dev/null 2>&1 || fail "last: verify before"
flip marker-three || exit 1
L doctor >"$T/doc" 2>&1
rc=$?
[ $rc = 1 ] && grep chain-verified "$T/doc" | grep -q "FAIL.*the log has 4 events but 5 were verified before" ||
    fail "last: doctor exit $rc: $(grep chain-verified "$T/doc")"
L verify >"$T/out" 2>&1
rc=$?
[ $rc = 1 ] && grep -q "event 4: the log has 4 events but 5 were verified before" "$T/out" ||
    fail "last: verify exit $rc: $(cat "$T/out")"

[ $fails = 0 ] || exit 1
echo "intake_damage: a damaged frame fails verify and the doctor, no writer writes over it; a torn one is the end"
