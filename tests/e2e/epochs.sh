#!/bin/sh
# epochs.sh — forward-secure epoch keys through the command line (issue
# 65): `init --epoch` anchors the log key; epochs follow periods and
# `keys advance`; `keys epochs -o json` lists one object a line (epoch,
# key, pub, from_seq); the state file is two 8 KiB slots overwritten in
# place (same inode, same size after every advance); no file under the
# ledger directory holds a past epoch's secret, raw, hex or base64; a
# second anchor is refused (exit 73) and `keys advance` without an anchor
# names the cure; `kill -9` of `keys advance` and of appenders at random
# moments loses nothing acked and leaves a ledger that verifies and goes
# on appending; a ledger pruned past its anchor goes on checking every
# epoch part from the anchor, in verify, bundles and segments. Fails on a
# build without epochs (no `keys anchor`).
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
command -v jq >/dev/null 2>&1 || { echo "SKIP: needs jq"; exit 77; }
command -v python3 >/dev/null 2>&1 || { echo "SKIP: needs python3"; exit 77; }
HERE=$(cd "$(dirname "$0")" && pwd)
# (lib/epoch_part.py is imported: no __pycache__ in the source tree)
export PYTHONDONTWRITEBYTECODE=1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
D=$T/l
fails=0
fail() { printf 'FAIL: %s\n' "$*"; fails=$((fails + 1)); }
L() { "$LEDGER" --dir "$D" "$@"; }

# layout 9 only (what init makes): at 8, refused before a ledger is made
LEDGER_LAYOUT=8 L init --epoch 1 >"$T/out" 2>"$T/err"
rc=$?
[ $rc = 64 ] && grep -q "LEDGER_LAYOUT is '8': store layout 8: this build makes layout 9 ledgers only" "$T/err" &&
    [ ! -e "$D/data.mdb" ] ||
    fail "init --epoch at layout 8: exit $rc, $(cat "$T/err")"
# a layout 8 ledger (an earlier build's, tests/vectors/layout/fresh8):
# keys anchor refused naming migrate, nothing written; so is the doctor;
# migrated, the doctor's remedy is the anchor
V=$(cd "$(dirname "$0")/../vectors/layout" && pwd)
mkdir -m 700 "$T/e8" "$T/e8/keys"
zstd -q -d -c "$V/fresh8.mdb.zst" >"$T/e8/data.mdb" &&
    install -m 600 "$V/keys/fresh5.key" "$T/e8/keys/log.key" || fail "unpack fresh8"
cp "$T/e8/data.mdb" "$T/e8.before"
for c in "keys anchor --epoch 60" "doctor -o json"; do
    # shellcheck disable=SC2086
    "$LEDGER" --dir "$T/e8" $c >"$T/out" 2>"$T/err"
    rc=$?
    [ $rc = 65 ] && grep -q "is at store layout 8, an earlier build's: this build reads and appends to layout 9 only, and \`ledger migrate\` converts it" "$T/err" &&
        [ ! -s "$T/out" ] && cmp -s "$T/e8/data.mdb" "$T/e8.before" && [ ! -e "$T/e8/keys/log.epochs" ] ||
        fail "$c at layout 8: exit $rc, $(cat "$T/out" "$T/err")"
done
"$LEDGER" --dir "$T/e8" migrate >/dev/null 2>&1 || fail "migrate $T/e8"
"$LEDGER" --dir "$T/e8" doctor -o json |
    jq -e '.box[] | select(.name == "epoch-exposure") |
        .remedy == ["ledger keys anchor --epoch 60"]' >/dev/null ||
    fail "doctor at layout 9: $("$LEDGER" --dir "$T/e8" doctor -o json | jq -c '.box[] | select(.name == "epoch-exposure")')"
export LEDGER_LAYOUT=9
# a plain init anchors the log key with epochs of 60 s (issue 65), event 1;
# --epoch 0 leaves it unanchored
"$LEDGER" --dir "$T/dflt" init >/dev/null || fail "init of $T/dflt"
"$LEDGER" --dir "$T/dflt" keys verifier | sed -n 2p |
    grep -q '^anchor name=log .* period_ns=60000000000 seq=1$' ||
    fail "a plain init's anchor: $("$LEDGER" --dir "$T/dflt" keys verifier)"
# an actor key whose secret the box keeps is anchored as it is added,
# with the log key's period (or --epoch's); one a writer holds
# (--public-key) is not, nor one of a ledger without epochs
"$LEDGER" --dir "$T/dflt" keys add runner --roles run >"$T/out" 2>"$T/err" &&
    grep -q '^seq 2: key runner (id [0-9a-f]*) added; anchored at event 3, epoch keys of 60 s$' "$T/out" ||
    fail "keys add on an anchored ledger: $(cat "$T/out" "$T/err")"
"$LEDGER" --dir "$T/dflt" keys add tick --epoch 5 >"$T/out" 2>&1 &&
    grep -q 'anchored at event 5, epoch keys of 5 s$' "$T/out" ||
    fail "keys add --epoch 5: $(cat "$T/out")"
"$LEDGER" --dir "$T/dflt" append run.started --actor runner \
    --body '{"run":"r1","pack":"p"}' >/dev/null ||
    fail "append as runner"
"$LEDGER" --dir "$T/dflt" keys epochs -o json >"$T/out" &&
    jq -se 'map(select(.key == "runner")) | length == 1' "$T/out" >/dev/null ||
    fail "runner's epoch not listed: $(cat "$T/out")"
"$LEDGER" --dir "$T/dflt" keys verifier | grep -q '^anchor name=runner .* period_ns=60000000000 seq=3$' ||
    fail "runner's anchor not named: $("$LEDGER" --dir "$T/dflt" keys verifier)"
"$LEDGER" --dir "$T/dflt" verify --full >/dev/null || fail "verify after actor anchors"
"$LEDGER" keys generate --out "$T/held.key" >"$T/held.pub" 2>/dev/null ||
    fail "keys generate"
"$LEDGER" --dir "$T/dflt" keys add held --public-key "@$T/held.pub" --epoch 5 \
    >/dev/null 2>"$T/err"
rc=$?
[ $rc = 64 ] && grep -q -- '--epoch goes with anchor, or add of a key whose secret the box keeps' "$T/err" ||
    fail "keys add --public-key --epoch: exit $rc, $(cat "$T/err")"
"$LEDGER" --dir "$T/dflt" keys add held --public-key "@$T/held.pub" >"$T/out" 2>&1 &&
    ! grep -q anchored "$T/out" || fail "a held key anchored: $(cat "$T/out")"
"$LEDGER" --dir "$T/plain" init --epoch 0 >/dev/null || fail "init of $T/plain"
"$LEDGER" --dir "$T/plain" keys add runner >"$T/out" 2>&1 &&
    grep -q '^seq 1: key runner (id [0-9a-f]*) added$' "$T/out" ||
    fail "keys add on a ledger without epochs: $(cat "$T/out")"
# init --epoch over a ledger that holds only its genesis anchors it and
# says so; over one with events it is refused as before (made with
# --epoch 0, unanchored)
"$LEDGER" --dir "$T/g" init --epoch 0 >/dev/null || fail "init of $T/g"
[ "$("$LEDGER" --dir "$T/g" keys verifier | wc -l)" = 1 ] ||
    fail "init --epoch 0 anchored: $("$LEDGER" --dir "$T/g" keys verifier)"
"$LEDGER" --dir "$T/g" init --epoch 1 >/dev/null 2>"$T/err" &&
    grep -q 'only its genesis and no anchor: anchoring its log key now' "$T/err" &&
    "$LEDGER" --dir "$T/g" keys verifier | grep -q '^anchor name=log ' ||
    fail "init --epoch over a genesis-only ledger: $(cat "$T/err")"
"$LEDGER" --dir "$T/g" append x.test --body '{}' >/dev/null
"$LEDGER" --dir "$T/g" init --epoch 1 >/dev/null 2>"$T/err"
rc=$?
[ $rc = 73 ] && grep -q 'a ledger already exists' "$T/err" ||
    fail "init --epoch over a ledger with events: exit $rc, $(cat "$T/err")"
# the ledger's period: 1 s (LEDGER_TEST_EPOCH_S seconds: make asan runs
# 6, where a program takes a tenth of a second to start and a loaded box
# took more than 1 s from init to the first keys advance)
E=${LEDGER_TEST_EPOCH_S:-1}
case $E in '' | *[!0-9]* | 0*) echo "LEDGER_TEST_EPOCH_S: whole seconds: $E" >&2; exit 64 ;; esac
L init --epoch "$E" >"$T/out" 2>"$T/err" || { fail "init --epoch $E: $(cat "$T/err")"; exit 1; }
[ "$(stat -c %s "$D/keys/log.epochs")" = 16384 ] || fail "log.epochs is not two 8 KiB slots"
[ "$(stat -c %a "$D/keys/log.epochs")" = 600 ] || fail "log.epochs mode $(stat -c %a "$D/keys/log.epochs")"
ino=$(stat -c %i "$D/keys/log.epochs")

# the secrets the box holds on the way (what an attacker may look for)
secrets() {
    python3 - "$D/keys/log.epochs" <<'EOF'
import sys
b = open(sys.argv[1], "rb").read()
for s in (b[0:8192], b[8192:]):
    if s[:8] != b"ldgepk01":
        continue
    print(s[72:104].hex())
    for i in range(32):
        k = s[104 + 32 * i:136 + 32 * i]
        if any(k):
            print(k.hex())
EOF
}
secrets >"$T/held"
L append x.test --body '{"n":1}' >/dev/null || fail "append 1"
L keys advance >"$T/out" 2>"$T/err" || fail "keys advance: $(cat "$T/err")"
# (a sub-epoch of the period it runs in: 0.1; or on a slow box, whose
# append 1 or the advance itself fell into a later period, that period's
# sub-epoch or its first epoch, N.0)
adv=$(sed -n 's/.*epoch \([0-9]*\.[0-9]*\).*/\1/p' "$T/out" | head -n 1)
[ -n "$adv" ] || fail "keys advance said: $(cat "$T/out")"
secrets >>"$T/held"
L append x.test --body '{"n":2}' >/dev/null || fail "append 2"
sleep "$E.2"
L append x.test --body '{"n":3}' >/dev/null || fail "append 3"
L keys advance >/dev/null || fail "second keys advance"
secrets >>"$T/held"
L append x.test --body '{"n":4}' >/dev/null || fail "append 4"
[ "$(stat -c %i "$D/keys/log.epochs")" = "$ino" ] || fail "log.epochs was replaced, not overwritten"
[ "$(stat -c %s "$D/keys/log.epochs")" = 16384 ] || fail "log.epochs changed size"

L keys epochs -o json >"$T/ep" 2>"$T/err" || fail "keys epochs: $(cat "$T/err")"
n=$(wc -l <"$T/ep")
[ "$n" -ge 3 ] || fail "keys epochs listed $n epochs: $(cat "$T/ep")"
jq -e -s 'all(.[]; (.epoch | test("^[0-9]+\\.[0-9]+$")) and .key == "log" and
    (.pub | test("^[0-9a-f]{64}$")) and (.from_seq | type == "string") and (.start_ns | type == "string"))' \
    "$T/ep" >/dev/null || fail "keys epochs -o json rows: $(cat "$T/ep")"
# a period's first epoch first (the anchor's period, 0.0, or a later one
# on a busy box whose init outlasted its period: the anchor's own
# event is not sealed by an epoch key), no later than the sub-epoch keys
# advance began, then that sub-epoch (unless append 2 fell into the next
# period: then it sealed nothing, and the next epoch listed is of a
# later period)
first=$(jq -r .epoch "$T/ep" | head -n 1)
case $first in *.0) ;; *) first=x ;; esac
[ "$first" != x ] && [ "${first%.0}" -le "${adv%.*}" ] &&
    { jq -r .epoch "$T/ep" | grep -qx "$adv" ||
        [ "$(jq -r .epoch "$T/ep" | sed -n 2p | cut -d. -f1)" -gt "${adv%.*}" ]; } ||
    fail "first epochs: $(jq -r .epoch "$T/ep" | tr '\n' ' ') (keys advance began ${adv:-none})"
L verify --full >"$T/out" 2>&1 || fail "verify --full: $(cat "$T/out")"
# keys verifier: the verifier key's line as before, then the anchor's
# (tests/e2e/epochs_pin.sh pins it); -o json names the anchor too
[ "$(L keys verifier | wc -l)" = 2 ] && L keys verifier | sed -n 2p | grep -q '^anchor name=log ' ||
    fail "keys verifier is not the key and the anchor: $(L keys verifier)"
L keys verifier -o json | jq -e '(.verifier | test("\\+")) and
    (.anchor.pub | test("^[0-9a-f]{64}$")) and .anchor.period_ns == '"$E"'000000000 and
    .anchor.seq == "1" and (.anchor.t0 | type == "string")' >/dev/null || fail "keys verifier -o json: $(L keys verifier -o json)"

# bundles and segments carry what an epoch-aware reader needs: each seal's
# epoch part whole, the anchor; verify-bundle checks them (the forgeries
# a library test makes: tests/export/test_verify_keys.c,
# tests/ledger/test_segment_epochs.c)
vk=$(L keys verifier)
L export --out "$T/b.tar.zst" seq=4 >/dev/null 2>&1 || fail "export seq=4"
"$LEDGER" verify-bundle --trusted-key "$vk" "$T/b.tar.zst" >/dev/null 2>"$T/err" ||
    fail "verify-bundle of an epoch ledger's bundle: $(cat "$T/err")"
grep -q '^PASS epochs: 1 seals by epoch keys of 1 anchored keys' "$T/err" ||
    fail "verify-bundle did not check the epochs: $(grep epochs "$T/err")"
L export --segment --out "$T/s.seg" seq=3..5 >/dev/null 2>&1 || fail "export --segment"
"$LEDGER" verify-bundle --trusted-key "$vk" "$T/s.seg" >/dev/null 2>"$T/err" ||
    fail "verify-bundle of an epoch ledger's segment: $(cat "$T/err")"
grep -q '^PASS seals: .*3 seals by epoch keys certified' "$T/err" ||
    fail "the segment's epochs were not checked: $(grep seals "$T/err")"
grep -q '^PASS checkpoint: signed by the log key, size [0-9]*, and by its epoch [0-9]*\.[0-9]* (certified from its anchor' "$T/err" ||
    fail "the segment's checkpoint's epoch line was not checked: $(grep checkpoint "$T/err")"

# The attacker's bundle: a seal's epoch part dropped (the seal map and the
# log key's signature kept, as the log key alone would sign it again), the
# manifest signed again with the log key (which the box holds).
strip_epoch() { # BUNDLE SEQ OUT
    rm -rf "$T/x" && mkdir "$T/x" && tar --zstd -xf "$1" -C "$T/x" || return 1
    python3 - "$T/x" "$2" "$D/keys/log.key" "$HERE/lib" <<'EOF' || return 1
import base64, glob, hashlib, json, os, sys
sys.path.insert(0, sys.argv[4])
import epoch_part
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
top = glob.glob(sys.argv[1] + "/*/")[0]
name = "seals/%s.seal" % sys.argv[2]
rec = epoch_part.strip(open(top + name, "rb").read(),
                       os.path.dirname(sys.argv[3]))
open(top + name, "wb").write(rec)
m = json.load(open(top + "manifest.json"))
m["files"][name] = hashlib.sha256(rec).hexdigest()
m["sizes"][name] = str(len(rec))
mj = json.dumps(m, indent=1).encode()
open(top + "manifest.json", "wb").write(mj)
seed = bytes.fromhex([l.split()[1] for l in open(sys.argv[3]) if l.startswith("seed ")][0])
sk = Ed25519PrivateKey.from_private_bytes(seed)
vkey = open(top + "log.vkey").read().strip()
origin, _, kb = vkey.split("+", 2)
pub = base64.b64decode(kb)[1:]
kh = hashlib.sha256(origin.encode() + b"\n\x01" + pub).digest()[:4]
text = "ledger.bundle/v1 manifest\n%s\n" % hashlib.sha256(mj).hexdigest()
sig = base64.b64encode(kh + sk.sign(text.encode())).decode()
open(top + "manifest.sig", "w").write("%s\n\u2014 %s %s\n" % (text, origin, sig))
EOF
    (cd "$T/x" && tar --zstd -cf "$3" ./*)
}
strip_epoch "$T/b.tar.zst" 4 "$T/forged.tar.zst" || fail "forging a bundle"
"$LEDGER" verify-bundle --trusted-key "$vk" "$T/forged.tar.zst" >/dev/null 2>"$T/err"
rc=$?
[ $rc = 1 ] && grep -q '^FAIL epochs: event 4 (period [0-9]*): its seal 4 .* carries no epoch' "$T/err" ||
    fail "a bundle whose epoch part was dropped: exit $rc, $(grep -v '^PASS' "$T/err")"
grep -q '^FAIL manifest-signature\|^FAIL files' "$T/err" && fail "the forgery did not re-sign: $(cat "$T/err")"
# ... and as the archive a prune is given: refused, nothing removed
L archive --format bundle --before 5 --out "$T/a.tar.zst" >/dev/null 2>&1 ||
    fail "archive --format bundle"
strip_epoch "$T/a.tar.zst" 4 "$T/aforged.tar.zst" || fail "forging an archive"
L prune --before 5 --archive "$T/aforged.tar.zst" --force >"$T/out" 2>"$T/err"
rc=$?
[ $rc = 1 ] && grep -q 'event 4 (period [0-9]*): its seal 4 .* carries no epoch' "$T/err" ||
    fail "prune with a forged archive: exit $rc, $(cat "$T/err")"
L show 0 >/dev/null 2>&1 || fail "prune with a forged archive removed events"

# no past secret in any file under the ledger directory
cur=$(secrets | sort)
sort -u "$T/held" | while read -r k; do
    echo "$cur" | grep -qx "$k" && continue
    python3 - "$D" "$k" <<'EOF' || echo past >>"$T/found"
import base64, os, sys
root, k = sys.argv[1], bytes.fromhex(sys.argv[2])
pats = [k, k.hex().encode(), k.hex().upper().encode()]
for a in range(3):
    b = base64.b64encode(bytes(a) + k)
    pats.append(b[4:4 * ((32 + a) // 3)])
for d, _, fs in os.walk(root):
    for f in fs:
        data = open(os.path.join(d, f), "rb").read()
        if any(p in data for p in pats):
            print("past secret in", os.path.join(d, f))
            sys.exit(1)
EOF
done
[ -e "$T/found" ] && fail "a past epoch secret is in a file under the ledger directory"

# refusals
L keys anchor >"$T/out" 2>"$T/err"
rc=$?
[ "$rc" = 73 ] || fail "a second anchor: exit $rc, want 73"
grep -q 'has an anchor already' "$T/err" || fail "second anchor said: $(cat "$T/err")"
# a name the ledger does not know: as `keys advance` says it (66), not a
# missing secret file (77)
L keys anchor nosuch >"$T/out" 2>"$T/err"
rc=$?
[ "$rc" = 66 ] && grep -q "no key named 'nosuch' in this ledger" "$T/err" ||
    fail "anchor of an unknown key: exit $rc, $(cat "$T/err")"
# an actor key added here is anchored by keys add itself (seq 6, its
# key.anchored seq 7): a second anchor of it is refused as the log key's is
L keys add alice >"$T/out" 2>"$T/err" &&
    grep -q '^seq 6: key alice (id [0-9a-f]*) added; anchored at event 7, epoch keys of '"$E"' s$' "$T/out" ||
    fail "keys add alice: $(cat "$T/out" "$T/err")"
L keys anchor alice --epoch 2 >"$T/out" 2>"$T/err"
rc=$?
[ "$rc" = 73 ] && grep -q 'key alice has an anchor already (event 7)' "$T/err" ||
    fail "a second anchor of alice: exit $rc, $(cat "$T/out" "$T/err")"
L append x.test --actor alice --body '{"n":5}' >/dev/null || fail "append as alice"
L keys epochs -o json | jq -e -s 'any(.[]; .key == "alice")' >/dev/null ||
    fail "alice's epochs not listed"
L keys revoke alice --reason 'left' >/dev/null || fail "keys revoke alice"
[ -e "$D/keys/alice.epochs" ] && fail "alice.epochs left after her key was revoked"
# an actor key without anchor: `keys advance` names the cure, `keys anchor
# NAME` anchors it later (on a ledger made with --epoch 0, where keys add
# anchors nothing)
W=$T/w
"$LEDGER" --dir "$W" init --epoch 0 >/dev/null 2>&1 || fail "init of $W"
"$LEDGER" --dir "$W" keys add alice >/dev/null || fail "add alice to $W"
"$LEDGER" --dir "$W" keys advance alice >"$T/out" 2>"$T/err"
rc=$?
[ "$rc" = 66 ] || fail "advance without anchor: exit $rc, want 66"
grep -q 'ledger keys anchor alice' "$T/err" || fail "advance without anchor said: $(cat "$T/err")"
"$LEDGER" --dir "$W" keys anchor alice --epoch 2 >/dev/null || fail "keys anchor alice"
"$LEDGER" --dir "$W" append x.test --actor alice --body '{"n":5}' >/dev/null ||
    fail "append as alice in $W"
"$LEDGER" --dir "$W" keys epochs -o json | jq -e -s 'any(.[]; .key == "alice")' >/dev/null ||
    fail "alice's epochs not listed in $W"
"$LEDGER" --dir "$W" keys revoke alice --reason 'left' >/dev/null || fail "keys revoke alice in $W"
[ -e "$W/keys/alice.epochs" ] && fail "alice.epochs left in $W after her key was revoked"
"$LEDGER" --dir "$W" verify --full >"$T/out" 2>&1 || fail "verify of $W: $(cat "$T/out")"
# `keys anchor NAME` with no --epoch takes the log key's period (as keys
# add does; before: 60 s whatever the log key's), the log key 60 s
W2=$T/w2
"$LEDGER" --dir "$W2" init --epoch 0 >/dev/null 2>&1 || fail "init of $W2"
"$LEDGER" --dir "$W2" keys add bob >/dev/null || fail "add bob to $W2"
"$LEDGER" --dir "$W2" keys add carol >/dev/null || fail "add carol to $W2"
"$LEDGER" --dir "$W2" keys anchor carol >"$T/out" 2>"$T/err" &&
    grep -q 'key carol seals with epoch keys of 60 s from here on' "$T/out" ||
    fail "keys anchor carol, the log key without epochs: $(cat "$T/out" "$T/err")"
"$LEDGER" --dir "$W2" keys anchor --epoch 5 >/dev/null || fail "keys anchor --epoch 5 in $W2"
"$LEDGER" --dir "$W2" keys anchor bob >"$T/out" 2>"$T/err" &&
    grep -q 'key bob seals with epoch keys of 5 s from here on' "$T/out" ||
    fail "keys anchor bob, the log key's 5 s: $(cat "$T/out" "$T/err")"
"$LEDGER" --dir "$W2" verify --full >"$T/out" 2>&1 || fail "verify of $W2: $(cat "$T/out")"

# kill -9 during epoch changes: appenders and `keys advance` killed at
# random moments; every acked seq stays, the ledger verifies and appends
: >"$T/acked"
i=0
while [ $i -lt 12 ]; do
    ( L append x.test --body "{\"k\":$i}" 2>/dev/null | sed -n 's/^seq //p' >>"$T/acked" ) &
    a=$!
    L keys advance >/dev/null 2>&1 &
    k=$!
    sleep "0.0$((i % 5))"
    kill -9 $k 2>/dev/null
    [ $((i % 3)) = 0 ] && kill -9 $a 2>/dev/null
    wait $a $k 2>/dev/null
    i=$((i + 1))
done
L verify --full >"$T/out" 2>&1 || fail "verify after kill -9: $(cat "$T/out")"
size=$(L stats -o json | jq -r .events)
while read -r s; do
    [ -n "$s" ] && [ "$s" -lt "$size" ] || fail "acked seq $s is not in the log ($size events)"
done <"$T/acked"
L append x.test --body '{"after":1}' >/dev/null || fail "append after the kills"
L keys advance >/dev/null || fail "advance after the kills"
L verify --full >"$T/out" 2>&1 || fail "verify at the end: $(cat "$T/out")"

# pruned past the anchor: the horizon record keeps the anchor and the
# chain (FORMAT.md 6.2, "epoch"), so verify checks every epoch part after
# it, keys epochs lists their keys, and a bundle and a segment of the
# pruned ledger are checked from the anchor, pinned or not; a bundle
# whose event after the horizon was re-sealed by the log key alone is
# refused (a build before 2026-11-29 checked none of it)
L archive --before 6 --out "$T/a.seg" >/dev/null 2>&1 || fail "archive --before 6"
L prune --before 6 --archive "$T/a.seg" --force >/dev/null 2>"$T/err" || fail "prune: $(cat "$T/err")"
L verify --full >"$T/out" 2>&1 || fail "verify of the pruned ledger: $(cat "$T/out")"
grep -q 'not checked' "$T/out" &&
    fail "verify of the pruned ledger left epoch parts unchecked: $(cat "$T/out")"
L keys epochs -o json | jq -e -s 'length > 0 and all(.[]; .pub != null)' >/dev/null ||
    fail "keys epochs of the pruned ledger: $(L keys epochs -o json 2>&1)"
L append x.test --body '{"after":"prune"}' >/dev/null || fail "append after prune"
last=$(($(L stats -o json | jq -r .events) - 1))
L export --out "$T/pb.tar.zst" "seq=$last" >/dev/null 2>&1 || fail "export after prune"
"$LEDGER" verify-bundle --trusted-key "$vk" "$T/pb.tar.zst" >/dev/null 2>"$T/err" ||
    fail "verify-bundle of a pruned ledger's bundle: $(cat "$T/err")"
grep -q '^PASS epochs: 1 seals by epoch keys' "$T/err" && ! grep -q 'not checked' "$T/err" ||
    fail "verify-bundle of a pruned ledger's bundle: $(grep epochs "$T/err")"
strip_epoch "$T/pb.tar.zst" "$last" "$T/pforged.tar.zst" || fail "forging a pruned ledger's bundle"
# (with the anchor pinned, and with the log's key alone)
for pin in "$vk" "$(echo "$vk" | head -n 1)"; do
    "$LEDGER" verify-bundle --trusted-key "$pin" "$T/pforged.tar.zst" >/dev/null 2>"$T/err"
    rc=$?
    [ $rc = 1 ] && grep -q "^FAIL epochs: event $last (period [0-9]*): its seal $last .* carries no epoch" "$T/err" ||
        fail "a pruned ledger's bundle whose epoch part was dropped (pin: $pin): exit $rc, $(grep -v '^PASS' "$T/err")"
done
L export --segment --out "$T/ps.seg" "seq=6..$last" >/dev/null 2>&1 || fail "export --segment after prune"
"$LEDGER" verify-bundle --trusted-key "$vk" "$T/ps.seg" >/dev/null 2>"$T/err" ||
    fail "verify-bundle of a pruned ledger's segment: $(cat "$T/err")"
grep -q '^PASS seals: .* seals by epoch keys certified' "$T/err" && ! grep -q 'not checked' "$T/err" ||
    fail "a pruned ledger's segment's epochs were not checked: $(grep seals "$T/err")"
grep -q '^PASS checkpoint: .*, and by its epoch ' "$T/err" ||
    fail "a pruned ledger's segment's checkpoint's epoch line was not checked: $(grep checkpoint "$T/err")"

# an anchor that never reached the log (its state file is there, its
# key.anchored not) is taken again only for the period it was made with:
# taken for another, it said "epoch keys of 3600 s" and sealed with 5 s
# (both made unanchored, --epoch 0, to be anchored by `keys anchor`)
X=$T/twinx
Y=$T/twiny
for d in "$X" "$Y"; do "$LEDGER" --dir "$d" init --epoch 0 >/dev/null 2>&1 || fail "init $d"; done
"$LEDGER" --dir "$Y" keys anchor --epoch 5 >/dev/null 2>&1 || fail "anchor the twin"
cp "$Y/keys/log.epochs" "$X/keys/"
"$LEDGER" --dir "$X" keys epochs >/dev/null 2>"$T/err"
grep -q "no key of this ledger seals with epoch keys" "$T/err" || fail "keys epochs, none anchored: $(cat "$T/err")"
"$LEDGER" --dir "$X" keys anchor --epoch 3600 >"$T/out" 2>"$T/err"
rc=$?
[ $rc = 65 ] && [ ! -s "$T/out" ] &&
    grep -q "never reached the log, with epochs of 5 s, not 3600 s: give --epoch 5" "$T/err" ||
    fail "keys anchor --epoch 3600 over a 5 s leftover: exit $rc, $(cat "$T/out" "$T/err")"
# with no --epoch, the leftover's own period (before: 60 s, refused)
"$LEDGER" --dir "$X" keys anchor >"$T/out" 2>"$T/err" &&
    grep -q "key log seals with epoch keys of 5 s from here on" "$T/out" ||
    fail "keys anchor over a 5 s leftover: $(cat "$T/out" "$T/err")"
"$LEDGER" --dir "$X" keys verifier | grep -q "period_ns=5000000000" || fail "the leftover's period"
# anchored, nothing sealed since: said so, not "no key seals with epoch keys"
"$LEDGER" --dir "$X" keys epochs >/dev/null 2>"$T/err"
grep -q "no epoch yet: 1 key is anchored" "$T/err" || fail "keys epochs, anchored: $(cat "$T/err")"

# A bundle of an event before the anchor whose key was revoked after it:
# the key.revoked it carries is under an epoch seal, so the exporter adds
# the log key's key.anchored too (it took the last event before adding
# the key events, and left it out: verify-bundle refused the bundle)
# (made unanchored, --epoch 0: the anchor comes after alice's event)
Z=$T/z
LEDGER_LAYOUT=9 "$LEDGER" --dir "$Z" init --epoch 0 >/dev/null 2>&1 || fail "init of $Z"
"$LEDGER" --dir "$Z" keys add alice >/dev/null || fail "add alice to $Z"
"$LEDGER" --dir "$Z" append --actor alice x.test --body '{}' >/dev/null || fail "append to $Z"
"$LEDGER" --dir "$Z" keys anchor --epoch 3600 >/dev/null || fail "anchor $Z"
"$LEDGER" --dir "$Z" append x.other --body '{}' >/dev/null || fail "append x.other to $Z"
"$LEDGER" --dir "$Z" keys revoke alice --reason gone >/dev/null || fail "revoke alice in $Z"
"$LEDGER" --dir "$Z" keys verifier >"$T/zvk" || fail "verifier of $Z"
"$LEDGER" --dir "$Z" export --out "$T/z.tar.zst" type=x.test >/dev/null 2>"$T/err" ||
    fail "export type=x.test: $(cat "$T/err")"
"$LEDGER" verify-bundle --trusted-key "$T/zvk" "$T/z.tar.zst" >/dev/null 2>"$T/err" ||
    fail "a bundle whose key.revoked is under an epoch seal: $(grep -v '^PASS' "$T/err")"

[ "$fails" = 0 ] && echo "ok: epochs" && exit 0
exit 1
