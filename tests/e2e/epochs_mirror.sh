#!/bin/sh
# epochs_mirror.sh — a mirror that pinned the log key's anchor checks the
# epoch signature of every checkpoint it takes (issue 65, items 2 and 6):
# `ledger publish` puts the checkpoint's epoch line whole beside it
# (checkpoint.epoch), `ledger mirror --key FILE` (FILE: what `ledger keys
# verifier` prints, the anchor lines after the key) checks it from the
# anchor and remembers the anchor, and refuses what whoever holds the box
# later can make: a checkpoint signed again by the log key alone (its
# epoch line dropped), a forged or missing epoch line, another anchor; a
# clone of the box that signs another log of the same size under the same
# epoch is reported as an equivocation, by the mirror, by the box's
# `verify --trusted` given the clone's checkpoint, and by `verify-bundle
# --trusted-checkpoint` of the box's bundle given the clone's checkpoint
# with its checkpoint.epoch beside it (without it: a SKIP saying why; a
# line that is not the note's own: no equivocation), and by `verify-bundle
# --against` of the box's bundle and the clone's (seal by seal; a bundle
# kept from before the clone agrees). A mirror given the key alone
# checks what it checked before. Fails on a build whose mirror does not
# check epochs.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
fail() { printf 'FAIL: %s\n' "$*"; fails=$((fails + 1)); }
export LEDGER_LAYOUT=9
D=$T/box
L() { "$LEDGER" --dir "$D" "$@"; }
M() { "$LEDGER" mirror "$@"; }

L init --epoch 60 >/dev/null 2>"$T/err" || { fail "init --epoch 60: $(cat "$T/err")"; exit 1; }
for i in 1 2 3; do L append x.test --body "{\"n\":$i}" >/dev/null || fail "append $i"; done
L keys advance >/dev/null || fail "keys advance"
L append x.test --body '{"n":4}' >/dev/null || fail "append 4"
L keys verifier >"$T/pin" || fail "keys verifier"
head -n 1 "$T/pin" >"$T/vkey"
L publish "$T/pub" >/dev/null 2>"$T/err" || fail "publish: $(cat "$T/err")"
[ -s "$T/pub/checkpoint.epoch" ] || fail "publish wrote no checkpoint.epoch"
grep -q '^— .*/epoch ' "$T/pub/checkpoint.epoch" || fail "checkpoint.epoch is not a signature line: $(cat "$T/pub/checkpoint.epoch")"

# the key alone: checked as before, nothing said of epochs
M "$T/pub" --state "$T/m0" --key "$T/vkey" >"$T/out" 2>"$T/err" || fail "mirror with the key alone: $(cat "$T/err")"
grep -q 'epoch' "$T/out" && fail "a mirror without the anchor speaks of epochs: $(cat "$T/out")"
[ -e "$T/m0/anchor" ] && fail "a mirror without the anchor remembers one"

# pinned: the checkpoint's epoch line checked, the anchor remembered
M "$T/pub" --state "$T/m" --key "$T/pin" >"$T/out" 2>"$T/err" || fail "mirror --key PIN: $(cat "$T/err")"
grep -q 'verified at size [0-9]* (signed by epoch 0\.1 of the log key, certified from its anchor)' "$T/out" ||
    fail "the mirror did not check the epoch line: $(cat "$T/out")"
[ -s "$T/m/anchor" ] || fail "the mirror did not remember the anchor"
cmp -s "$T/m/checkpoint.epoch" "$T/pub/checkpoint.epoch" || fail "the mirror's copy lacks checkpoint.epoch"
M "$T/pub" --state "$T/m" -o json >"$T/out" 2>"$T/err" || fail "mirror again: $(cat "$T/err")"
jq -e '.epoch == "0.1" and .status == "ok"' "$T/out" >/dev/null || fail "mirror -o json: $(cat "$T/out")"
cp -a "$T/m" "$T/mkeep"

# a clone of the box (its keys and epoch state copied) and the box each
# append another event under epoch 0.1: two logs of one size, each
# checkpoint signed by the same epoch key. The mirror that took the box's
# names the clone's an equivocation.
cp -a "$D" "$T/clone"
L export --out "$T/old.bundle" type=x.test >/dev/null 2>"$T/err" || fail "export old: $(cat "$T/err")"
L append x.test --body '{"n":"a"}' >/dev/null || fail "append a"
L publish "$T/puba" >/dev/null 2>"$T/err" || fail "publish a: $(cat "$T/err")"
cp -a "$T/mkeep" "$T/me"
M "$T/puba" --state "$T/me" >"$T/out" 2>"$T/err" || fail "mirror a: $(cat "$T/err")"
"$LEDGER" --dir "$T/clone" append x.test --body '{"n":"b"}' >/dev/null || fail "clone append"
"$LEDGER" --dir "$T/clone" publish "$T/pubb" >/dev/null 2>"$T/err" || fail "clone publish: $(cat "$T/err")"
M "$T/pubb" --state "$T/me" >"$T/out" 2>"$T/err"
rc=$?
[ $rc = 1 ] && grep -q "fork: .* publishes size [0-9]* with root .* but the mirrored size [0-9]* has root .*; equivocation: both are signed by epoch keys of the log key, certified from its anchor (the published one by epoch 0\.1, the mirrored one by epoch 0\.1)" "$T/err" ||
    fail "a clone's fork of the same size: exit $rc, $(cat "$T/err")"
# the box's own verify, given the clone's checkpoint as trusted, names it too
cp "$T/pubb/checkpoint" "$T/ckb"
L verify --trusted "$T/ckb" >"$T/out" 2>"$T/err"
rc=$?
[ $rc = 1 ] && grep -q "forked: at size [0-9]* the trusted checkpoint has root .*; equivocation: the trusted checkpoint is signed by epoch 0\.1 of the log key (a key this log's seals certify from its anchor), the log's newest checkpoint by epoch 0\.1" "$T/out" "$T/err" ||
    fail "verify --trusted with the clone's checkpoint: exit $rc, $(cat "$T/out" "$T/err")"
# verify-bundle: the box's bundle, given the clone's checkpoint as
# trusted with its epoch line beside it (checkpoint.epoch, as published),
# names the equivocation; without the line it cannot certify the key and
# says so
L export --out "$T/a.bundle" type=x.test >/dev/null 2>"$T/err" || fail "export a: $(cat "$T/err")"
# VB CHECKPOINT [ARG...]: verify-bundle of the box's bundle, the pin and
# CHECKPOINT trusted; stdout in $T/out, stderr in $T/err, the exit in rc
VB() {
    c=$1
    shift
    "$LEDGER" verify-bundle "$T/a.bundle" --trusted-key "$T/pin" \
        --trusted-checkpoint "$c" "$@" >"$T/out" 2>"$T/err"
    rc=$?
    return "$rc"
}
VB "$T/pubb/checkpoint"
[ $rc = 1 ] && grep -q '^FAIL trusted-checkpoint: same size [0-9]*, different roots' "$T/err" &&
    grep -q "^FAIL equivocation: at size [0-9]* the trusted checkpoint (root .*) is signed by epoch 0\.1 of the log key, the bundle's (root .*) by epoch 0\.1, each certified from the log key's anchor: two histories signed by the box's epoch keys" "$T/err" ||
    fail "verify-bundle --trusted-checkpoint with the clone's (and its line): exit $rc, $(cat "$T/out" "$T/err")"
VB "$T/pubb/checkpoint" -o json
jq -e '.checks | any(.name == "equivocation" and .status == "FAIL")' "$T/out" >/dev/null ||
    fail "verify-bundle -o json lacks the equivocation check: $(cat "$T/out")"
VB "$T/ckb"
[ $rc = 1 ] && grep -q '^FAIL trusted-checkpoint: same size' "$T/err" &&
    grep -q '^SKIP equivocation: the trusted checkpoint carries an epoch line, but not its line whole' "$T/err" ||
    fail "verify-bundle --trusted-checkpoint with the clone's, no line: exit $rc, $(cat "$T/out" "$T/err")"
# FILE.epoch that is another checkpoint's line (the box's, of the same
# epoch), or the clone's with a byte of its signature changed: the trusted
# checkpoint's key cannot be certified, so no equivocation is claimed
cp "$T/ckb" "$T/ckx"
cp "$T/pub/checkpoint.epoch" "$T/ckx.epoch"
cp "$T/ckb" "$T/cky"
python3 - "$T/pubb/checkpoint.epoch" "$T/cky.epoch" <<'EOF2'
import base64, sys
line = open(sys.argv[1], "rb").read().rstrip(b"\n")
head, b64 = line.rsplit(b" ", 1)
raw = bytearray(base64.b64decode(b64))
raw[12] ^= 1  # (in the signature: after the key ID, period and sub-epoch)
open(sys.argv[2], "wb").write(head + b" " + base64.b64encode(bytes(raw)) + b"\n")
EOF2
for f in ckx cky; do
    VB "$T/$f"
    [ $rc = 1 ] && grep -q "^SKIP equivocation: the trusted checkpoint's epoch line, with its FILE.epoch: .* (FILE.epoch is not this checkpoint's line, or either is forged" "$T/err" &&
        ! grep -q '^FAIL equivocation' "$T/err" ||
        fail "verify-bundle with $f.epoch not the checkpoint's line: exit $rc, $(cat "$T/out" "$T/err")"
done
# the box's own checkpoint, trusted: no fork, no equivocation line
VB "$T/puba/checkpoint"
[ $rc = 0 ] && ! grep -q 'equivocation' "$T/out" "$T/err" ||
    fail "verify-bundle with the box's own checkpoint: $(cat "$T/out" "$T/err")"
# --against: the box's bundle and one exported before the clone agree
# (each way round, and with itself); the clone's bundle, of the same size,
# is two histories under epoch 0.1: an equivocation at the checkpoint and
# at each seal after the fork, and events that differ
VA() { # FILE OTHER [ARG...]: verify-bundle FILE --against OTHER, pinned
    a=$1
    b=$2
    shift 2
    "$LEDGER" verify-bundle "$a" --trusted-key "$T/pin" --against "$b" "$@" >"$T/out" 2>"$T/err"
    rc=$?
}
"$LEDGER" --dir "$T/clone" export --out "$T/b.bundle" type=x.test >/dev/null 2>"$T/err" || fail "export b: $(cat "$T/err")"
VA "$T/a.bundle" "$T/old.bundle"
[ $rc = 0 ] && grep -q "^PASS against: .*/old.bundle (size 6) verified and agrees with this bundle (size 7): 6 events and 6 seals in common, the smaller checkpoint's root rebuilt from the other's events$" "$T/err" ||
    fail "--against an earlier bundle: exit $rc, $(cat "$T/err")"
VA "$T/old.bundle" "$T/a.bundle"
[ $rc = 0 ] && grep -q "^PASS against: .*/a.bundle (size 7) verified and agrees with this bundle (size 6): 6 events and 6 seals in common, the smaller checkpoint's root rebuilt from the other's events$" "$T/err" ||
    fail "--against a later bundle: exit $rc, $(cat "$T/err")"
VA "$T/a.bundle" "$T/a.bundle"
[ $rc = 0 ] && grep -q "^PASS against: .*: 7 events and 7 seals in common, one root at that size$" "$T/err" ||
    fail "--against itself: exit $rc, $(cat "$T/err")"
VA "$T/a.bundle" "$T/b.bundle"
[ $rc = 1 ] && grep -q "^FAIL equivocation: seal 6 of key [0-9a-f]*: this bundle's (events 6 to 6) is signed by epoch 0\.1, the other's (events 6 to 6) by epoch 0\.1, each certified from the key's anchor, and they differ (and 1 more)$" "$T/err" &&
    grep -q "^FAIL against: event 6 differs: the two bundles carry two entries of it" "$T/err" &&
    grep -q "a.bundle verified, but the --against bundle .*b.bundle tells another history or does not verify (FAIL above)$" "$T/err" ||
    fail "--against the clone's bundle: exit $rc, $(cat "$T/err")"
VA "$T/a.bundle" "$T/b.bundle" -o json
jq -e '[.checks[] | select(.status == "FAIL") | .name] == ["equivocation", "against"]' "$T/out" >/dev/null ||
    fail "--against the clone's, -o json: $(cat "$T/out")"
# two bundles of one event before the fork: it agrees, and the two
# checkpoints of one size are the equivocation
"$LEDGER" --dir "$T/clone" export --out "$T/b4.bundle" seq=4 >/dev/null 2>"$T/err" || fail "export b4: $(cat "$T/err")"
L export --out "$T/a4.bundle" seq=4 >/dev/null 2>"$T/err" || fail "export a4: $(cat "$T/err")"
VA "$T/a4.bundle" "$T/b4.bundle"
[ $rc = 1 ] && grep -q "^FAIL equivocation: at size 7 this bundle's checkpoint and the other's checkpoint give two roots, this bundle's checkpoint signed by epoch 0\.1 of the log key, the other's by epoch 0\.1, each certified from the log key's anchor$" "$T/err" &&
    grep -q "^FAIL against: the two bundles tell two histories (see equivocation)$" "$T/err" ||
    fail "--against the clone's, before the fork: exit $rc, $(cat "$T/err")"
# the other bundle missing, a directory, changed by a byte, another log's,
# a segment; a bundle that fails itself is not compared
VA "$T/a.bundle" "$T/nope.bundle"
[ $rc = 66 ] && grep -q "^ledger verify-bundle: --against: cannot read .*nope.bundle: No such file" "$T/err" ||
    fail "--against a missing file: exit $rc, $(cat "$T/err")"
VA "$T/a.bundle" "$T"
[ $rc = 66 ] && grep -q "cannot read .*: Is a directory" "$T/err" || fail "--against a directory: exit $rc, $(cat "$T/err")"
python3 - "$T/old.bundle" "$T/oldx.bundle" <<'PY' || fail "changing a byte"
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[len(b) // 2] ^= 1
open(sys.argv[2], "wb").write(bytes(b))
PY
VA "$T/a.bundle" "$T/oldx.bundle"
[ $rc = 1 ] && grep -q "^FAIL against: .*/oldx.bundle does not verify (.*): nothing to compare with$" "$T/err" ||
    fail "--against a changed bundle: exit $rc, $(cat "$T/err")"
VA "$T/oldx.bundle" "$T/a.bundle"
[ $rc = 65 ] && ! grep -q "against" "$T/err" || fail "a changed bundle --against: exit $rc, $(cat "$T/err")"
L export --segment --out "$T/a.seg" seq=0..4 >/dev/null 2>"$T/err" || fail "export a segment: $(cat "$T/err")"
VA "$T/a.bundle" "$T/a.seg"
[ $rc = 1 ] && grep -q "^FAIL against: .*a.seg is a segment, not a bundle" "$T/err" || fail "--against a segment: exit $rc, $(cat "$T/err")"
VA "$T/a.seg" "$T/a.bundle"
[ $rc = 64 ] && grep -q "a.seg: not verified: .*a.seg is a segment: --against compares two bundles" "$T/err" ||
    fail "a segment --against: exit $rc, $(cat "$T/err")"
# a fork of eleven seals: the first one is named (seq order, not the
# members' name order, where seals/10 comes before seals/3)
E=$T/eleven
"$LEDGER" --dir "$E" init --epoch 60 >/dev/null || fail "init eleven"
"$LEDGER" --dir "$E" append x.test --body '{"n":0}' >/dev/null || fail "append eleven"
cp -a "$E" "$T/elevenc"
for i in 1 2 3 4 5 6 7 8 9 10 11; do
    "$LEDGER" --dir "$E" append x.test --body "{\"a\":$i}" >/dev/null || fail "append eleven a$i"
    "$LEDGER" --dir "$T/elevenc" append x.test --body "{\"b\":$i}" >/dev/null || fail "append eleven b$i"
done
"$LEDGER" --dir "$E" export --out "$T/ea.bundle" >/dev/null 2>&1 || fail "export ea"
"$LEDGER" --dir "$T/elevenc" export --out "$T/eb.bundle" >/dev/null 2>&1 || fail "export eb"
"$LEDGER" verify-bundle "$T/ea.bundle" --trusted-key "$("$LEDGER" --dir "$E" keys verifier)" --against "$T/eb.bundle" >"$T/out" 2>"$T/err"
rc=$?
[ $rc = 1 ] && grep -q "^FAIL equivocation: seal 3 of key [0-9a-f]*: .* (and 11 more)$" "$T/err" &&
    grep -q "^FAIL against: event 3 differs: .* (and 10 more)$" "$T/err" ||
    fail "--against a fork of eleven seals: exit $rc, $(cat "$T/err")"
# without epochs, two copies that differ are two histories, not named an
# equivocation (nothing says the box's past keys signed both)
# (--epoch 0: init anchors the log key with epoch keys by default)
P=$T/plain
"$LEDGER" --dir "$P" init --epoch 0 >/dev/null || fail "init plain"
"$LEDGER" --dir "$P" append x.test --body '{"n":1}' >/dev/null || fail "append plain"
cp -a "$P" "$T/plainc"
"$LEDGER" --dir "$P" append x.test --body '{"n":"a"}' >/dev/null || fail "append plain a"
"$LEDGER" --dir "$T/plainc" append x.test --body '{"n":"b"}' >/dev/null || fail "append plainc b"
"$LEDGER" --dir "$P" export --out "$T/pa.bundle" type=x.test >/dev/null 2>&1 || fail "export pa"
"$LEDGER" --dir "$T/plainc" export --out "$T/pb.bundle" type=x.test >/dev/null 2>&1 || fail "export pb"
"$LEDGER" verify-bundle "$T/pa.bundle" --trusted-key "$("$LEDGER" --dir "$P" keys verifier)" --against "$T/pb.bundle" >"$T/out" 2>"$T/err"
rc=$?
[ $rc = 1 ] && grep -q "^FAIL against: event 2 differs: the two bundles carry two entries of it (two histories from there on) (and 2 more)$" "$T/err" &&
    ! grep -q equivocation "$T/err" ||
    fail "--against without epochs: exit $rc, $(cat "$T/err")"
"$LEDGER" verify-bundle "$T/pa.bundle" --trusted-key "$T/pin" --against "$T/a.bundle" >"$T/out" 2>"$T/err"
rc=$?
[ $rc = 1 ] && grep -q "^SKIP against: not compared" "$T/err" || fail "another log's key: exit $rc, $(cat "$T/err")"
"$LEDGER" verify-bundle "$T/pa.bundle" --insecure-trust-bundle-key --against "$T/a.bundle" >"$T/out" 2>"$T/err"
rc=$?
[ $rc = 1 ] && grep -q "^FAIL against: .*/a.bundle does not verify (the bundle's log key .* is not the trusted key .*): nothing to compare with$" "$T/err" ||
    fail "--against another log's bundle: exit $rc, $(cat "$T/err")"
mkdir "$T/ckdir.epoch"
VB "$T/ckdir"
[ $rc = 66 ] || fail "verify-bundle --trusted-checkpoint of a missing file: exit $rc"
cp "$T/ckb" "$T/ckdir"
VB "$T/ckdir"
[ $rc = 66 ] && grep -q 'cannot read .*ckdir.epoch' "$T/err" ||
    fail "verify-bundle with FILE.epoch a directory: exit $rc, $(cat "$T/err")"
"$LEDGER" --dir "$T/clone" append x.test --body '{"n":"c"}' >/dev/null || fail "clone append c"
"$LEDGER" --dir "$T/clone" publish "$T/pubb" >/dev/null 2>"$T/err" || fail "clone publish c: $(cat "$T/err")"
M "$T/pubb" --state "$T/me" >"$T/out" 2>"$T/err"
rc=$?
[ $rc = 1 ] && grep -q "fork: .* (entries below the mirrored size [0-9]* were rewritten); equivocation: both are signed by epoch keys of the log key" "$T/err" ||
    fail "a clone's longer fork: exit $rc, $(cat "$T/err")"

# --against a whole export of the clone, now of size 8: the box's bundle
# of one event before the fork shares that event and its seal with it,
# but its checkpoint's root at size 7 is not what the clone's events
# below 7 give; the bundle kept from before the clone agrees with them
"$LEDGER" --dir "$T/clone" export --out "$T/ball.bundle" >/dev/null 2>"$T/err" || fail "export ball: $(cat "$T/err")"
VA "$T/a4.bundle" "$T/ball.bundle"
[ $rc = 1 ] && grep -q "^FAIL equivocation: at size 7 this bundle's checkpoint and the other's events below it give two roots, this bundle's checkpoint signed by epoch 0\.1 of the log key, the other's by epoch 0\.1, each certified from the log key's anchor$" "$T/err" ||
    fail "--against a longer fork: exit $rc, $(cat "$T/err")"
VA "$T/old.bundle" "$T/ball.bundle"
[ $rc = 0 ] && grep -q "^PASS against: .*ball.bundle (size 8) verified and agrees with this bundle (size 6): .* in common, the smaller checkpoint's root rebuilt from the other's events$" "$T/err" ||
    fail "--against a longer fork, before it: exit $rc, $(cat "$T/err")"
VA "$T/a4.bundle" "$T/old.bundle"
[ $rc = 0 ] && grep -q "^PASS against: .*; the two checkpoints not compared (neither bundle holds every event below the smaller size)$" "$T/err" ||
    fail "--against, sizes not compared: $(cat "$T/err")"

# the pin given to a mirror that took the log with the key alone
M "$T/pub" --state "$T/m0" --key "$T/pin" >"$T/out" 2>"$T/err" || fail "a pin added later: $(cat "$T/err")"
grep -q '(signed by epoch 0\.1 of the log key' "$T/out" && [ -s "$T/m0/anchor" ] || fail "a pin added later: $(cat "$T/out")"

# a pin given before the log signs under an epoch: remembered, then used
D2=$T/box2
"$LEDGER" --dir "$D2" init --epoch 60 >/dev/null || fail "init box2"
"$LEDGER" --dir "$D2" keys verifier >"$T/pinb" || fail "keys verifier box2"
"$LEDGER" --dir "$D2" publish "$T/pubx" >/dev/null 2>"$T/err" || fail "publish box2: $(cat "$T/err")"
M "$T/pubx" --state "$T/mx" --key "$T/pinb" >"$T/out" 2>"$T/err" || fail "an early pin: $(cat "$T/err")"
grep -q 'epoch' "$T/out" && fail "an early pin spoke of an epoch: $(cat "$T/out")"
[ -s "$T/mx/anchor" ] || fail "an early pin was not remembered"
"$LEDGER" --dir "$D2" append x.test --body '{"n":1}' >/dev/null || fail "append box2"
"$LEDGER" --dir "$D2" publish "$T/pubx" >/dev/null 2>"$T/err" || fail "publish box2 again: $(cat "$T/err")"
M "$T/pubx" --state "$T/mx" >"$T/out" 2>"$T/err" || fail "mirror box2 again: $(cat "$T/err")"
grep -q '(signed by epoch 0\.0 of the log key' "$T/out" || fail "the remembered early pin: $(cat "$T/out")"

# a later epoch, remembered anchor (no --key): taken
L keys advance >/dev/null || fail "second keys advance"
L append x.test --body '{"n":5}' >/dev/null || fail "append 5"
L publish "$T/pub" >/dev/null 2>"$T/err" || fail "publish again: $(cat "$T/err")"
M "$T/pub" --state "$T/m" >"$T/out" 2>"$T/err" || fail "mirror of the next epoch: $(cat "$T/err")"
grep -q '(signed by epoch 0\.2 of the log key' "$T/out" || fail "the next epoch: $(cat "$T/out")"

# forgeries on a copy of the publication, each against a copy of the state
forged() { # NAME TEXT [CODE]: the mirror refuses $T/f (exit CODE, 1), saying TEXT
    rm -rf "$T/ms"
    cp -a "$T/mkeep" "$T/ms"
    M "$T/f" --state "$T/ms" >"$T/out" 2>"$T/err"
    rc=$?
    [ $rc = "${3:-1}" ] && grep -q -- "$2" "$T/err" || fail "$1: exit $rc, $(cat "$T/err")"
    for x in checkpoint checkpoint.epoch anchor; do
        cmp -s "$T/ms/$x" "$T/mkeep/$x" || fail "$1: the mirror's $x changed"
    done
}
fresh() { rm -rf "$T/f"; cp -a "$T/pub" "$T/f"; }
# the epoch line dropped: the log key's signature still holds
fresh
grep -v '/epoch ' "$T/pub/checkpoint" >"$T/f/checkpoint"
rm -f "$T/f/checkpoint.epoch"
forged "the log key alone" "carries no signature by an epoch key, but the mirrored one of size [0-9]* is signed by epoch 0.1 of the log key: signed again by the log key alone?"
# checkpoint.epoch missing, or a byte of it changed
fresh
rm "$T/f/checkpoint.epoch"
forged "checkpoint.epoch missing" "carries an epoch line, but no checkpoint.epoch is published beside it" 75
# ... or of another checkpoint (a publish in progress): read again, then 75
fresh
cp "$T/puba/checkpoint.epoch" "$T/f/checkpoint.epoch"
forged "another checkpoint's checkpoint.epoch" "and the published checkpoint.epoch do not agree: its whole epoch line is not the checkpoint's" 75
fresh
python3 - "$T/f/checkpoint.epoch" <<'PY' || fail "flipping a byte"
import base64, sys
p = sys.argv[1]
head, b64 = open(p).read().rstrip("\n").rsplit(" ", 1)
raw = bytearray(base64.b64decode(b64))
raw[len(raw) - 9] ^= 1 # in the last link or cert
open(p, "w").write("%s %s\n" % (head, base64.b64encode(bytes(raw)).decode()))
PY
forged "a byte of checkpoint.epoch" "by the log key's epoch: "

# another anchor pinned: refused, the state unchanged
sed 's/ pub=\([0-9a-f]\)/ pub=0/' "$T/pin" >"$T/pin2"
cmp -s "$T/pin" "$T/pin2" && sed 's/ pub=0/ pub=1/' "$T/pin" >"$T/pin2"
M "$T/pub" --state "$T/m" --key "$T/pin2" >"$T/out" 2>"$T/err"
rc=$?
[ $rc = 77 ] && grep -q "the pinned anchor of the log key [0-9a-f]* is not the one this mirror remembers" "$T/err" ||
    fail "another anchor: exit $rc, $(cat "$T/err")"
M "$T/pub" --state "$T/mnew" --key "$T/pin2" >"$T/out" 2>"$T/err"
rc=$?
[ $rc = 1 ] && grep -q "carries an epoch line, but none by the log key's anchor (pinned or remembered): the wrong pin" "$T/err" &&
    [ ! -e "$T/mnew/anchor" ] && [ ! -e "$T/mnew/checkpoint" ] ||
    fail "a wrong anchor on a fresh mirror: exit $rc, $(cat "$T/err")"
# a malformed anchor line names the option and the field
printf '%s\nanchor key_id=zz\n' "$(cat "$T/vkey")" >"$T/pin3"
M "$T/pub" --state "$T/m3" --key "$T/pin3" >"$T/out" 2>"$T/err"
rc=$?
[ $rc = 64 ] && grep -q -- "--key: .*key_id" "$T/err" || fail "a malformed anchor: exit $rc, $(cat "$T/err")"

[ "$fails" = 0 ] && echo "ok: epochs_mirror" && exit 0
exit 1
