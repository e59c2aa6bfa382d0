#!/bin/sh
# trust_bundle_anchors.sh — verify-bundle's trust anchors beyond a key
# (issues 10 and 16): a trusted checkpoint (--trusted-checkpoint) is enough
# on its own, the bundle must be tied to it (its checkpoint, or the
# cosigned one it carries plus a consistency proof), a mismatch is exit 1
# naming what differs, an unreadable file exit 66; bundles carry the
# cosignatures the box holds (real ones, from two `ledger witness serve`
# on loopback), and --witness-key/--quorum is a k-of-n policy naming who
# cosigned and who is missing; a tampered cosignature is caught.
set -u
L=${LEDGER:?set LEDGER to the ledger binary}
T=$(mktemp -d)
P1= P2=
cleanup() {
    [ -n "$P1" ] && kill "$P1" 2>/dev/null
    [ -n "$P2" ] && kill "$P2" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
fails=0
fail() { printf 'FAIL: %s\n' "$*"; fails=$((fails + 1)); }
die() { echo "FAIL: $*"; exit 1; }
command -v curl >/dev/null || { echo "SKIP: curl not installed"; exit 77; }
B=$T/box
X() { "$L" --dir "$B" "$@"; }
VB() { "$L" verify-bundle "$@" >"$T/vout" 2>"$T/verr"; }

X init --origin box1.example/log >/dev/null || die init
VK=$(X keys verifier) || die verifier
X ingest examples/pdf-ops.jsonl 2>/dev/null || die ingest

start_witness() { # NAME DIR -> sets WV, WURL, WPID
    WV=$("$L" witness init --dir "$2" --name "$1") || die "witness init $1"
    "$L" witness serve --listen 127.0.0.1:0 --dir "$2" --trust "$VK" \
        >"$2.out" 2>"$2.err" &
    WPID=$!
    i=0
    while ! grep -q '^listening on 127.0.0.1:' "$2.out" 2>/dev/null; do
        i=$((i + 1))
        [ $i -gt 200 ] && die "witness $1 did not start: $(cat "$2.err")"
        sleep 0.05
    done
    WURL=http://127.0.0.1:$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$2.out")
}
start_witness w.example/w1 "$T/w1"; W1=$WV; U1=$WURL; P1=$WPID
start_witness w.example/w2 "$T/w2"; W2=$WV; U2=$WURL; P2=$WPID
# a third witness that never sees this log
W3=$("$L" witness init --dir "$T/w3" --name w.example/w3) || die "w3"

# a bundle made before any cosignature carries none
X export --run R-0001 --out "$T/plain.bundle" 2>"$T/eerr" || die "export"
grep -q 'no cosigned checkpoint kept' "$T/eerr" || fail "export: $(cat "$T/eerr")"
X checkpoint >"$T/ck.plain"

X publish "$T/pub" --witness "$U1/add-checkpoint $W1" \
    --witness "$U2/add-checkpoint $W2" >"$T/pout" 2>"$T/perr" ||
    die "publish: $(cat "$T/perr")"
X checkpoint --cosigned >"$T/cosigned.txt" || die "checkpoint --cosigned"
CS=$(sed -n 2p "$T/cosigned.txt")
[ "$(grep -c '^— w.example/w' "$T/cosigned.txt")" = 2 ] ||
    die "not cosigned by both: $(cat "$T/cosigned.txt")"

# the log grows after the cosignature: the bundle proves its checkpoint
# consistent with the cosigned one
X append x.later --body '{"n":1}' >/dev/null || die append
X export --run R-0001 --out "$T/r1.bundle" -o json >"$T/ej" 2>"$T/eerr" ||
    die "export: $(cat "$T/eerr")"
grep -q "cosigned checkpoint of size $CS with 2 cosignature(s)" "$T/eerr" ||
    fail "export stderr: $(cat "$T/eerr")"
jq -e --arg s "$CS" '.cosigned == {"size": $s, "cosignatures": 2}' "$T/ej" \
    >/dev/null || fail "export json: $(cat "$T/ej")"
tar --zstd -tf "$T/r1.bundle" >"$T/members" 2>/dev/null &&
    { grep -qx 'r1/cosigned/checkpoint' "$T/members" &&
      grep -qx 'r1/cosigned/consistency' "$T/members"; } ||
    fail "members: $(cat "$T/members")"

# a kept cosigned checkpoint that is not this log's: refused, named, and
# --no-cosigned leaves it out
cp -r "$B" "$T/bad"
echo "not a checkpoint" >"$T/bad/fleet/cosigned/$CS"
"$L" --dir "$T/bad" export --run R-0001 --out "$T/bad.bundle" 2>"$T/berr"
rc=$?
[ $rc = 65 ] || fail "corrupt kept cosigned checkpoint: exit $rc, want 65"
grep -q 'cosigned checkpoint kept is not a checkpoint of this log.*--no-cosigned' \
    "$T/berr" || fail "corrupt cosigned message: $(cat "$T/berr")"
[ -e "$T/bad.bundle" ] && fail "a bundle was written"
"$L" --dir "$T/bad" export --run R-0001 --no-cosigned --out "$T/bad.bundle" \
    2>"$T/berr" || fail "--no-cosigned: $(cat "$T/berr")"
grep -q 'left out (--no-cosigned)' "$T/berr" || fail "--no-cosigned: $(cat "$T/berr")"
tar --zstd -tf "$T/bad.bundle" >"$T/badm" || fail "--no-cosigned: not a tar"
grep -q '^bad/manifest.json$' "$T/badm" || fail "--no-cosigned: $(cat "$T/badm")"
grep -q '/cosigned/' "$T/badm" && fail "--no-cosigned bundle carries cosigned/"

# --- the k-of-n policy ---
VB "$T/r1.bundle" --trusted-key "$VK" --witness-key "$W1" --witness-key "$W2" \
    --quorum 2 || fail "2 of 2: $(cat "$T/verr")"
grep -q 'PASS witnesses: witness quorum met: 2 of 2 cosigned' "$T/verr" ||
    fail "2 of 2 report: $(cat "$T/verr")"
grep -q 'PASS cosignatures: carries the cosigned checkpoint of size' "$T/verr" ||
    fail "cosignatures report"
VB "$T/r1.bundle" --trusted-key "$VK" --witness-key "$W1" --witness-key "$W2" \
    --witness-key "$W3" --quorum 3
rc=$?
[ $rc = 1 ] || fail "3 of 3 with w3 absent: exit $rc, want 1"
grep -q 'witness quorum not met: 2 of 3 cosigned, 3 needed; missing: w.example/w3' \
    "$T/verr" || fail "missing w3 not named: $(cat "$T/verr")"
VB "$T/r1.bundle" --trusted-key "$VK" --witness-key "$W3" -o json
[ $? = 1 ] || fail "1 of w3: want exit 1"
jq -e '.witnesses_cosigned == 0 and (.checks[] | select(.name=="witnesses") |
    .status == "FAIL")' "$T/vout" >/dev/null || fail "json: $(cat "$T/vout")"
# a bundle without cosignatures fails any policy, naming who is missing
VB "$T/plain.bundle" --trusted-key "$VK" --witness-key "$W1"
[ $? = 1 ] || fail "policy on a bundle without cosignatures: want 1"
grep -q 'carries no valid cosigned checkpoint.*missing: w.example/w1' "$T/verr" ||
    fail "no-cosig message: $(cat "$T/verr")"
# usage: --quorum without keys, more than given, a malformed key
VB "$T/r1.bundle" --trusted-key "$VK" --quorum 1
[ $? = 64 ] || fail "--quorum without --witness-key: want 64"
VB "$T/r1.bundle" --trusted-key "$VK" --witness-key "$W1" --quorum 2
[ $? = 64 ] || fail "--quorum 2 of 1: want 64"
VB "$T/r1.bundle" --trusted-key "$VK" --witness-key "w.example/w1+zz+bad"
[ $? = 65 ] || fail "malformed witness key: want 65"
grep -q 'malformed' "$T/verr" || fail "malformed key message: $(cat "$T/verr")"

# a tampered cosignature: rewrite one byte of w1's line in the bundle
mkdir "$T/x" && (cd "$T/x" && tar --zstd -xf "$T/r1.bundle") || die untar
python3 - "$T/x/r1/cosigned/checkpoint" <<'PY' || die "tamper"
import sys, base64
p = sys.argv[1]
lines = open(p, encoding="utf-8").read().split("\n")
for i, l in enumerate(lines):
    if l.startswith("\u2014 w.example/w1 "):
        raw = bytearray(base64.b64decode(l.split(" ")[2]))
        raw[-1] ^= 1
        lines[i] = "\u2014 w.example/w1 " + base64.b64encode(bytes(raw)).decode()
open(p, "w", encoding="utf-8").write("\n".join(lines))
PY
# packed again with plain tar, as a receiver would (the bundle is its one
# directory r1/)
(cd "$T/x" && tar --zstd -cf "$T/tampered.bundle" r1) ||
    die "retar"
VB "$T/tampered.bundle" --trusted-key "$VK" --witness-key "$W1" --witness-key "$W2"
[ $? = 1 ] || fail "tampered cosignature: want exit 1"
grep -q 'FAIL witnesses: a cosignature by one of the witness keys does not verify' \
    "$T/verr" || fail "tampered cosignature: $(cat "$T/verr")"

# --- a trusted checkpoint as the anchor ---
# the cosigned checkpoint (size CS < the bundle's): tied by the proof
VB "$T/r1.bundle" --trusted-checkpoint "$T/cosigned.txt" ||
    fail "trusted cosigned checkpoint: $(cat "$T/verr")"
grep -q "PASS trusted-checkpoint: the trusted checkpoint (size $CS, .*) is the bundle's cosigned one" \
    "$T/verr" || fail "trusted-checkpoint report: $(cat "$T/verr")"
grep -q 'held to the trusted checkpoint' "$T/verr" || fail "summary: $(tail -1 "$T/verr")"
# the bundle's own checkpoint, and with the policy at once
X checkpoint >"$T/ck.now"
VB "$T/r1.bundle" --trusted-checkpoint "$T/ck.now" --witness-key "$W1" ||
    fail "trusted current checkpoint: $(cat "$T/verr")"
grep -q 'PASS trusted-checkpoint: the bundle.s checkpoint is the trusted one' \
    "$T/verr" || fail "same-size report: $(cat "$T/verr")"
# a checkpoint of another size the bundle has no proof for
X checkpoint --size 1 >"$T/ck.one" || die "checkpoint --size 1"
VB "$T/r1.bundle" --trusted-checkpoint "$T/ck.one"
[ $? = 1 ] || fail "unlinked size: want exit 1"
grep -q 'FAIL trusted-checkpoint: the trusted checkpoint has size 1; .*no proof links them' \
    "$T/verr" || fail "unlinked size message: $(cat "$T/verr")"
# a file that cannot be read: 66, and no bundle check runs
VB "$T/r1.bundle" --trusted-checkpoint "$T/none.txt" -o json
[ $? = 66 ] || fail "missing trusted checkpoint file: want 66"
grep -q 'cannot read' "$T/verr" || fail "missing file message: $(cat "$T/verr")"
[ -s "$T/vout" ] && fail "missing file: checks ran: $(cat "$T/vout")"
grep -q '^PASS\|^FAIL' "$T/verr" && fail "missing file: bundle checks ran"
# a file that is not a checkpoint: 65, and no bundle check runs
echo "hello" >"$T/garbage.txt"
VB "$T/r1.bundle" --trusted-checkpoint "$T/garbage.txt"
[ $? = 65 ] || fail "garbage trusted checkpoint: want 65"
grep -q 'is not a signed checkpoint' "$T/verr" || fail "garbage: $(cat "$T/verr")"
grep -q '^PASS\|^FAIL' "$T/verr" && fail "garbage: bundle checks ran"
# another log's checkpoint (other key): does not verify with the bundle's key
"$L" --dir "$T/other" init --origin box1.example/log >/dev/null
"$L" --dir "$T/other" checkpoint >"$T/ck.other"
VB "$T/r1.bundle" --trusted-checkpoint "$T/ck.other"
[ $? = 1 ] || fail "another log's checkpoint: want exit 1"
grep -q 'FAIL trusted-checkpoint: the trusted checkpoint does not verify with the bundle.s log key' \
    "$T/verr" || fail "other key message: $(cat "$T/verr")"
# a fork: a copy of the box (same keys) appends another event than the box
cp -r "$B" "$T/fork"
"$L" --dir "$T/fork" append x.forked --body '{"n":2}' >/dev/null
"$L" --dir "$B" append x.real --body '{"n":3}' >/dev/null
"$L" --dir "$B" export --run R-0001 --out "$T/r2.bundle" 2>/dev/null ||
    die "export r2"
"$L" --dir "$T/fork" checkpoint >"$T/ck.fork"
VB "$T/r2.bundle" --trusted-checkpoint "$T/ck.fork"
[ $? = 1 ] || fail "forked checkpoint of the same size: want exit 1"
grep -q 'FAIL trusted-checkpoint: same size .*different roots' "$T/verr" ||
    fail "fork message: $(cat "$T/verr")"
# a trusted checkpoint with --trusted-key: both must agree
VB "$T/r2.bundle" --trusted-key "$W1" --trusted-checkpoint "$T/ck.now"
[ $? = 1 ] || fail "wrong trusted key with a checkpoint: want exit 1"
# no anchor at all still says what to pass, naming the new option
VB "$T/r1.bundle"
[ $? = 64 ] || fail "no anchor: want 64"
grep -q -- '--trusted-checkpoint' "$T/verr" || fail "no-anchor message: $(cat "$T/verr")"

[ $fails = 0 ] && echo "trust_bundle_anchors: ok"
exit $fails
