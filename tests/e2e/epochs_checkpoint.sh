#!/bin/sh
# epochs_checkpoint.sh — the epoch key's signature on checkpoints (issue
# 65, item 2): a ledger whose log key seals with epoch keys signs each
# checkpoint with the live epoch key too, on a second C2SP signed-note
# line "— <origin>/epoch base64(key ID ‖ epoch part)". A stranger checks
# that line from docs/FORMAT.md 5.1 alone (Python below: the key ID from
# the anchor `keys verifier` names, the epoch's key from `keys epochs`,
# the signature over the note's text); Go's sumdb/note, which knows only
# the log key, accepts the note and ignores the line; a C2SP witness
# (`ledger witness serve`) cosigns it. `ledger verify` checks the lines
# (the forgeries: tests/ledger/test_epoch_log.c); `verify-bundle` checks
# the line a bundle carries whole (checkpoint.epoch) and refuses a bundle
# whose checkpoint was signed again by the log key alone. Fails on a
# build that signs checkpoints with the log key alone.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
HERE=$(cd "$(dirname "$0")" && pwd)
command -v jq >/dev/null 2>&1 || { echo "SKIP: needs jq"; exit 77; }
command -v curl >/dev/null 2>&1 || { echo "SKIP: needs curl"; exit 77; }
python3 -c 'import cryptography' 2>/dev/null || { echo "SKIP: needs python3 cryptography"; exit 77; }
T=$(mktemp -d)
WPID=
cleanup() { [ -n "$WPID" ] && kill "$WPID" 2>/dev/null; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
D=$T/l
fails=0
fail() { printf 'FAIL: %s\n' "$*"; fails=$((fails + 1)); }
L() { "$LEDGER" --dir "$D" "$@"; }
export LEDGER_LAYOUT=9

L init --epoch 60 >/dev/null 2>"$T/err" || { fail "init --epoch 60: $(cat "$T/err")"; exit 1; }
L append x.test --body '{"n":1}' >/dev/null || fail "append 1"
L keys advance >/dev/null || fail "keys advance"
L keys add bob >/dev/null || fail "keys add bob" # sealed by the log key under 0.1 or later
L keys advance >/dev/null || fail "second keys advance"
L append x.test --actor bob --body '{"n":2}' >/dev/null || fail "append as bob"
L checkpoint >"$T/ck" 2>"$T/err" || fail "checkpoint: $(cat "$T/err")"
VK=$(L keys verifier | head -n 1)
L keys verifier >"$T/pin"
L keys epochs -o json >"$T/epochs"
grep -q "^— $(sed -n 1p "$T/ck")/epoch " "$T/ck" ||
    fail "the checkpoint carries no epoch line: $(cat "$T/ck")"

# the stranger's check, from FORMAT.md 5.1
python3 - "$T/ck" "$T/pin" "$T/epochs" >"$T/py" 2>&1 <<'EOF' || fail "the epoch line does not check from the docs: $(cat "$T/py")"
import base64, hashlib, json, struct, sys
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
note = open(sys.argv[1], "rb").read()
text, _, sigs = note.rpartition(b"\n\n")
text += b"\n"
origin = text.split(b"\n")[0]
anchor = None
for l in open(sys.argv[2]):
    if l.startswith("anchor name=log "):
        pin = dict(f.split("=", 1) for f in l.split()[1:])
        anchor = bytes.fromhex(pin["pub"])
        pin = {"t0": int(pin["t0"]), "period_ns": int(pin["period_ns"])}
assert anchor, "no anchor in keys verifier"
name = origin + b"/epoch"
kid = hashlib.sha256(name + b"\n\xff" + b"ledger/checkpoint-epoch/v1" + anchor).digest()[:4]
lines = [l for l in sigs.split(b"\n") if l.startswith("\u2014 ".encode() + name + b" ")]
assert len(lines) == 1, lines
raw = base64.b64decode(lines[0].split(b" ")[2])
assert raw[:4] == kid, ("key ID", raw[:4].hex(), kid.hex())
ext = raw[4:]
p, j = struct.unpack(">II", ext[:8])
esig, l0, j0 = ext[8:72], ext[72], ext[73]
assert len(ext) == 74 + 128 * (32 - l0) + 104 * (j - j0), "ext length"
# the key of epoch p.j0, as the log's seals carried it (keys epochs),
# then the links the line carries (this ledger's last advance sealed
# nothing of the log key: epoch p.j is the link's), each checked with the
# key before it (FORMAT.md 5.1, "Sub-epochs")
rows = [json.loads(l) for l in open(sys.argv[3])]
pub = [r["pub"] for r in rows if r["key"] == "log" and r["epoch"] == "%d.%d" % (p, j0)]
assert pub, "epoch %d.%d is not among keys epochs" % (p, j0)
assert l0 == 32, "the line carries certs: this check follows links only"
key = bytes.fromhex(pub[0])
at = 74
for jj in range(j0 + 1, j + 1):
    s, npub, lsig = ext[at:at + 8], ext[at + 8:at + 40], ext[at + 40:at + 104]
    n = anchor + struct.pack(">QQII", pin["t0"], pin["period_ns"], p, jj) + s + npub
    Ed25519PublicKey.from_public_bytes(key).verify(lsig, b"ledger/epoch-link/v1\x00" + n)
    key, at = npub, at + 104
msg = b"ledger/checkpoint-epoch/v1\x00" + struct.pack(">II", p, j) + text
Ed25519PublicKey.from_public_bytes(key).verify(esig, msg)
print("epoch %d.%d l0 %d j0 %d key ID %s" % (p, j, l0, j0, kid.hex()))
EOF
L verify --full >"$T/out" 2>&1 || fail "verify --full: $(cat "$T/out")"

# verify-bundle: the bundle carries the line whole (member
# checkpoint.epoch) and checks it from the anchor
L export --out "$T/b.tar.zst" seq=3 >/dev/null 2>&1 || fail "export seq=3"
"$LEDGER" verify-bundle --trusted-key "$T/pin" "$T/b.tar.zst" >/dev/null 2>"$T/err" ||
    fail "verify-bundle: $(grep -v '^PASS' "$T/err")"
grep -q '^PASS epochs: .*the checkpoint signed by epoch [0-9]*\.[0-9]* of the log key too' "$T/err" ||
    fail "verify-bundle did not check the checkpoint's epoch line: $(grep epochs "$T/err")"
# The attacker's bundle: its checkpoint signed again by the log key alone
# (the epoch line and checkpoint.epoch dropped, every proof's checkpoint
# and the manifest's signature made again with the log key)
python3 - "$T/b.tar.zst" "$T/forged.tar.zst" "$D/keys/log.key" <<'PY' || fail "forging the bundle"
import base64, glob, hashlib, json, os, subprocess, sys, tempfile
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
d = tempfile.mkdtemp()
subprocess.run(["tar", "--zstd", "-xf", sys.argv[1], "-C", d], check=True)
top = glob.glob(d + "/*/")[0]
m = json.load(open(top + "manifest.json"))
old = open(top + "checkpoint", "rb").read()
new = b"".join(l for l in old.splitlines(True) if b"/epoch " not in l)
assert new != old
def put(name, data):
    open(top + name, "wb").write(data)
    m["files"][name] = hashlib.sha256(data).hexdigest()
    m["sizes"][name] = str(len(data))
put("checkpoint", new)
os.remove(top + "checkpoint.epoch")
del m["files"]["checkpoint.epoch"], m["sizes"]["checkpoint.epoch"]
for f in glob.glob(top + "proofs/*.proof"):
    name = f[len(top):]
    put(name, open(f, "rb").read().replace(old, new))
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
subprocess.run("cd %s && tar --zstd -cf %s ./*" % (d, sys.argv[2]), shell=True, check=True)
PY
"$LEDGER" verify-bundle --trusted-key "$VK" "$T/forged.tar.zst" >/dev/null 2>"$T/err"
rc=$?
[ $rc = 1 ] && grep -q "^FAIL epochs: the checkpoint of size $(sed -n 2p "$T/ck") carries no signature by an epoch key" "$T/err" ||
    fail "a bundle whose checkpoint lost its epoch line: exit $rc, $(grep -v '^PASS' "$T/err")"
grep -q '^FAIL \(files\|manifest-signature\|proofs\|checkpoint\)' "$T/err" &&
    fail "the forgery did not hold together: $(grep '^FAIL' "$T/err")"

# Go's sumdb/note knows the log key only: it accepts the note, the epoch
# line ignored as an unknown signer's
if command -v go >/dev/null 2>&1 &&
    (cd "$HERE/../interop/tlogcheck" &&
        GOPATH=/usr/share/gocode GO111MODULE=off GOFLAGS= \
            GOCACHE="$T/gocache" go build -o "$T/tlogcheck" .) 2>"$T/goerr"; then
    "$T/tlogcheck" checkpoint "$VK" "$T/ck" >"$T/go" 2>&1 ||
        fail "Go's sumdb/note rejects a checkpoint with an epoch line: $(cat "$T/go")"
    grep -q "size $(sed -n 2p "$T/ck")" "$T/go" || fail "Go reads another checkpoint: $(cat "$T/go")"
    GO=1
else
    [ "${LEDGER_REQUIRE_GO:-0}" = 1 ] && fail "cannot build tlogcheck: $(cat "$T/goerr")"
    echo "note: Go checks skipped (tlogcheck does not build)"
    GO=0
fi

# a C2SP witness cosigns it (ledger witness serve, over loopback HTTP)
WV=$("$LEDGER" witness init --dir "$T/w" --name w.example/w1) || fail "witness init"
"$LEDGER" witness serve --listen 127.0.0.1:0 --dir "$T/w" --trust "$VK" \
    >"$T/wout" 2>"$T/werr" &
WPID=$!
i=0
while ! grep -q '^listening on 127.0.0.1:' "$T/wout" 2>/dev/null; do
    i=$((i + 1))
    [ $i -gt 600 ] && { fail "witness did not start: $(cat "$T/werr")"; break; }
    sleep 0.05
done
PORT=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$T/wout")
{ echo "old 0"; echo; cat "$T/ck"; } >"$T/req"
code=$(curl -s -o "$T/resp" -w '%{http_code}' --data-binary @"$T/req" \
    "http://127.0.0.1:$PORT/add-checkpoint")
[ "$code" = 200 ] && grep -q '^— w.example/w1 ' "$T/resp" ||
    fail "the witness does not cosign a checkpoint with an epoch line: $code $(cat "$T/resp")"
if [ "$GO" = 1 ]; then
    cat "$T/ck" "$T/resp" >"$T/cosigned"
    "$T/tlogcheck" cosig "$VK" "$WV" "$T/cosigned" >"$T/go" 2>&1 ||
        fail "Go rejects the cosigned note: $(cat "$T/go")"
fi

[ "$fails" = 0 ] && echo "ok: epochs_checkpoint" && exit 0
exit 1
