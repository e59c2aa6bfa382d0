#!/bin/sh
# epochs_pin.sh — a pinned epoch anchor for verify-bundle (issue 65, item
# 2): `ledger keys verifier` names each anchored key's anchor after the
# verifier key (plain: an "anchor FIELD=VALUE ..." line; -o json:
# "anchor" and "anchors"), and `verify-bundle --trusted-key` takes that
# output, as the text or a file. The attacker holds the box: they remove
# key.anchored from a bundle (or a segment) and sign every seal again
# with the log key alone. Without the pin that bundle verifies (nothing
# in it says epochs were ever used); with the pin it is refused, exit 1,
# naming the first bad seq and the anchor. A key.anchored that differs
# from the pin is refused too; the honest bundle and segment verify; a
# pin without an anchor behaves as before; a malformed anchor is a usage
# error naming the field. Fails on a build whose verify-bundle takes no
# anchor.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
command -v jq >/dev/null 2>&1 || { echo "SKIP: needs jq"; exit 77; }
command -v zstd >/dev/null 2>&1 || { echo "SKIP: needs zstd"; exit 77; }
python3 -c 'import cryptography' 2>/dev/null || { echo "SKIP: needs python3 cryptography"; exit 77; }
HERE=$(cd "$(dirname "$0")" && pwd)
# (lib/epoch_part.py is imported: no __pycache__ in the source tree)
export PYTHONDONTWRITEBYTECODE=1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
D=$T/l
fails=0
fail() { printf 'FAIL: %s\n' "$*"; fails=$((fails + 1)); }
L() { "$LEDGER" --dir "$D" "$@"; }
VB() { "$LEDGER" verify-bundle "$@"; }
export LEDGER_LAYOUT=9

L init --epoch 1 >/dev/null 2>"$T/err" || { fail "init --epoch 1: $(cat "$T/err")"; exit 1; }
# (keys add anchors bob at once, event 3, signed by the log key; --epoch 5
# gives his anchor a period of its own, as `keys anchor bob --epoch 5` did)
L keys add bob --roles any --epoch 5 >/dev/null || fail "keys add bob --epoch 5"
L append x.test --body '{"n":1}' >/dev/null || fail "append 1" # seq 4
L append x.test --actor bob --body '{"n":2}' >/dev/null || fail "append 2"
L append x.test --body '{"n":3}' >/dev/null || fail "append 3"

# keys verifier: the verifier key first (what C2SP tools read), then one
# anchor line a key; -o json names them too
L keys verifier >"$T/pin" 2>"$T/err" || fail "keys verifier: $(cat "$T/err")"
L keys verifier -o json >"$T/pin.json" 2>"$T/err" || fail "keys verifier -o json: $(cat "$T/err")"
vk=$(head -n 1 "$T/pin")
case $vk in *+*+*) ;; *) fail "keys verifier's first line is not the verifier key: $vk" ;; esac
[ "$(wc -l <"$T/pin")" = 3 ] || fail "keys verifier: not the key and two anchor lines: $(cat "$T/pin")"
log_id=$(L keys list -o json | jq -r 'select(.name == "log") | .key_id')
bob_id=$(L keys list -o json | jq -r 'select(.name == "bob") | .key_id')
grep -Eq "^anchor name=log key_id=$log_id pub=[0-9a-f]{64} t0=[0-9]+ period_ns=1000000000 seq=1\$" "$T/pin" ||
    fail "keys verifier's log anchor line: $(cat "$T/pin")"
grep -Eq "^anchor name=bob key_id=$bob_id pub=[0-9a-f]{64} t0=[0-9]+ period_ns=5000000000 seq=3\$" "$T/pin" ||
    fail "keys verifier's bob anchor line: $(cat "$T/pin")"
apub=$(sed -n 's/^anchor name=log .* pub=\([0-9a-f]*\) .*/\1/p' "$T/pin")
jq -e --arg v "$vk" --arg p "$apub" --arg id "$log_id" '.verifier == $v and
    .anchor.pub == $p and .anchor.key_id == $id and .anchor.seq == "1" and
    (.anchors | length) == 2 and .anchors[1].name == "bob" and .anchors[1].seq == "3"' \
    "$T/pin.json" >/dev/null || fail "keys verifier -o json: $(cat "$T/pin.json")"
a16=$(printf %s "$apub" | cut -c 1-16)

# the honest bundle and segment: ok with the pin (text, file, json)
L export --out "$T/b.tar.zst" seq=4 >/dev/null 2>&1 || fail "export seq=4"
L export --segment --out "$T/s.seg" seq=4..6 >/dev/null 2>&1 || fail "export --segment"
for k in "$(cat "$T/pin")" "$T/pin" "$T/pin.json" "$(cat "$T/pin.json")"; do
    VB --trusted-key "$k" "$T/b.tar.zst" >/dev/null 2>"$T/err" ||
        fail "verify-bundle of the honest bundle with the pin: $(grep -v '^PASS' "$T/err")"
    grep -q '^PASS epochs: .*2 pinned anchors held to the bundle' "$T/err" ||
        fail "the honest bundle's epochs: $(grep epochs "$T/err")"
    VB --trusted-key "$k" "$T/s.seg" >/dev/null 2>"$T/err" ||
        fail "verify-bundle of the honest segment with the pin: $(grep -v '^PASS' "$T/err")"
done
# a bundle of events before the anchors: nothing of theirs to check
L export --out "$T/b0.tar.zst" seq=0 >/dev/null 2>&1 || fail "export seq=0"
VB --trusted-key "$T/pin" "$T/b0.tar.zst" >/dev/null 2>"$T/err" ||
    fail "a bundle before the anchors, pinned: $(grep -v '^PASS' "$T/err")"

# The attacker's bundle: key.anchored (event 1) removed from it, every
# seal's epoch part dropped (the log key signs what is left, as it would
# sign anew), the manifest signed again with the log key (on the box).
forge_bundle() { # IN OUT DROP_EXT
    rm -rf "$T/x" && mkdir "$T/x" && tar --zstd -xf "$1" -C "$T/x" || return 1
    python3 - "$T/x" "$D/keys/log.key" "$3" "$HERE/lib" <<'EOF' || return 1
import base64, glob, hashlib, json, os, sys
sys.path.insert(0, sys.argv[4])
import epoch_part
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
top = glob.glob(sys.argv[1] + "/*/")[0]
m = json.load(open(top + "manifest.json"))
gone = [e for e in m["events"] if e["type"] == "key.anchored"]
assert gone, "no key.anchored in the bundle"
for e in gone:
    m["events"].remove(e)
    s = e["seq"]
    for name in ("entries/%s.entry", "bodies/%s.json", "proofs/%s.proof",
                 "sealproofs/%s.proof"):
        name = name % s
        if name in m["files"]:
            os.remove(top + name)
            del m["files"][name]
            del m["sizes"][name]
    m["counts"]["support"] = str(int(m["counts"]["support"]) - 1)
    m["counts"]["entries"] = str(int(m["counts"]["entries"]) - 1)
    m["counts"]["bodies_full"] = str(int(m["counts"]["bodies_full"]) - 1)
# its seal goes with it when no event left uses it (events.jsonl names
# the selected events' seals; a support event here opens its own)
used = {json.loads(l)["seal"] for l in open(top + "events.jsonl") if l.strip()}
used |= {e["seq"] for e in m["events"]}
for e in gone:
    name = "seals/%s.seal" % e["seq"]
    if name in m["files"] and e["seq"] not in used:
        os.remove(top + name)
        del m["files"][name]
        del m["sizes"][name]
for name in list(m["files"]):
    if not name.startswith("seals/"):
        continue
    rec = open(top + name, "rb").read()
    if rec[0] == 0x93 and sys.argv[3] == "1":
        rec = epoch_part.strip(rec, os.path.dirname(sys.argv[2]))
        open(top + name, "wb").write(rec)
        m["files"][name] = hashlib.sha256(rec).hexdigest()
        m["sizes"][name] = str(len(rec))
mj = json.dumps(m, indent=1).encode()
open(top + "manifest.json", "wb").write(mj)
seed = bytes.fromhex([l.split()[1] for l in open(sys.argv[2]) if l.startswith("seed ")][0])
sk = Ed25519PrivateKey.from_private_bytes(seed)
vkey = open(top + "log.vkey").read().strip()
origin, _, kb = vkey.split("+", 2)
pub = base64.b64decode(kb)[1:]
kh = hashlib.sha256(origin.encode() + b"\n\x01" + pub).digest()[:4]
text = "ledger.bundle/v1 manifest\n%s\n" % hashlib.sha256(mj).hexdigest()
sig = base64.b64encode(kh + sk.sign(text.encode())).decode()
open(top + "manifest.sig", "w").write("%s\n\u2014 %s %s\n" % (text, origin, sig))
EOF
    (cd "$T/x" && tar --zstd -cf "$2" ./*)
}
forge_bundle "$T/b.tar.zst" "$T/forged.tar.zst" 1 || fail "forging a bundle"
# without the pin it passes: nothing in it says the log used epochs
VB --trusted-key "$vk" "$T/forged.tar.zst" >/dev/null 2>"$T/err" ||
    fail "the forgery is not the one the pin is for: $(grep -v '^PASS' "$T/err")"
for k in "$T/pin" "$T/pin.json"; do
    VB --trusted-key "$k" "$T/forged.tar.zst" >/dev/null 2>"$T/err"
    rc=$?
    [ $rc = 1 ] && grep -q "^FAIL epochs: event 4 (period [0-9]*): its seal 4 by key $log_id carries no epoch, but the pinned anchor $a16\\.\\.\\. says the key seals with epoch keys since event 1" "$T/err" ||
        fail "the forged bundle with the pin $k: exit $rc, $(grep -v '^PASS' "$T/err")"
done
# the --bundle readers hold it to the pin too
L query --bundle "$T/forged.tar.zst" --trusted-key "$T/pin" >/dev/null 2>"$T/err"
rc=$?
[ $rc = 1 ] && grep -q "pinned anchor $a16" "$T/err" ||
    fail "query --bundle of the forged bundle with the pin: exit $rc, $(cat "$T/err")"
# key.anchored removed, the epoch parts kept: refused naming the anchor
forge_bundle "$T/b.tar.zst" "$T/noanchor.tar.zst" 0 || fail "forging a bundle without its anchor"
VB --trusted-key "$T/pin" "$T/noanchor.tar.zst" >/dev/null 2>"$T/err"
rc=$?
[ $rc = 1 ] && grep -q "^FAIL epochs: event 4: .*key.anchored of key $log_id, which the pinned anchor $a16\\.\\.\\. says was anchored at event 1" "$T/err" ||
    fail "a bundle without key.anchored, pinned: exit $rc, $(grep -v '^PASS' "$T/err")"

# a pin that differs from the bundle's key.anchored (another anchor, or
# another seq): refused naming both
sed "s/^\\(anchor name=log .* pub=\\)[0-9a-f]/\\1x/; s/pub=x/pub=f/" "$T/pin" |
    sed "s/^\\(anchor name=log .*\\)seq=1\$/\\1seq=1/" >"$T/pin.other"
other=$(sed -n 's/^anchor name=log .* pub=\([0-9a-f]*\) .*/\1/p' "$T/pin.other")
[ "$other" != "$apub" ] || { sed -i "s/pub=f/pub=e/" "$T/pin.other"; other=$(sed -n 's/^anchor name=log .* pub=\([0-9a-f]*\) .*/\1/p' "$T/pin.other"); }
VB --trusted-key "$T/pin.other" "$T/b.tar.zst" >/dev/null 2>"$T/err"
rc=$?
[ $rc = 1 ] && grep -q "^FAIL epochs: event 1: key.anchored of key $log_id names anchor $a16\\.\\.\\. .*not the pinned anchor $(printf %s "$other" | cut -c 1-16)\\.\\.\\." "$T/err" ||
    fail "a pin of another anchor: exit $rc, $(grep -v '^PASS' "$T/err")"
VB --trusted-key "$T/pin.other" "$T/s.seg" >/dev/null 2>"$T/err"
rc=$?
[ $rc = 1 ] && grep -q "event 1: key.anchored of key $log_id names anchor $a16\\.\\.\\. .*not the pinned anchor" "$T/err" ||
    fail "a segment with a pin of another anchor: exit $rc, $(grep -v '^PASS' "$T/err")"
sed "s/^\\(anchor name=log .*\\)seq=1\$/\\1seq=2/" "$T/pin" >"$T/pin.seq"
VB --trusted-key "$T/pin.seq" "$T/b.tar.zst" >/dev/null 2>"$T/err"
rc=$?
[ $rc = 1 ] && grep -q "^FAIL epochs: event 1: key.anchored of key $log_id .*at event 2)" "$T/err" ||
    fail "a pin of another seq: exit $rc, $(grep -v '^PASS' "$T/err")"

# The attacker's segment: the PROVEN key.anchored removed, every SEAL's
# epoch part dropped, and the proven events' (bob's key.added, event 2,
# comes first; the trailer does not cover seals: nothing to sign)
python3 - "$T/s.seg" "$T/forged.seg" "$HERE/lib" "$D/keys" <<'EOF' || fail "forging a segment"
import subprocess, sys
sys.path.insert(0, sys.argv[3])
import epoch_part
KEYS = sys.argv[4]
raw = subprocess.run(["zstd", "-dc", sys.argv[1]], check=True, capture_output=True).stdout
magic = b"ledger.segment/v1\n"
assert raw.startswith(magic)
def uv(b, i):
    n = s = 0
    while True:
        c = b[i]; i += 1
        n |= (c & 0x7F) << s; s += 7
        if c < 0x80:
            return n, i
def enc(n):
    o = bytearray()
    while True:
        c = n & 0x7F; n >>= 7
        o.append(c | (0x80 if n else 0))
        if not n:
            return bytes(o)
def strip(rec):  # 0x93 ... 0xc5 u16be(n) ext[n] -> 0x92 ...
    return epoch_part.strip(rec, KEYS) if rec[0] == 0x93 else rec
def binhdr(n):
    return (bytes([0xC4, n]) if n < 256 else
            b"\xc5" + n.to_bytes(2, "big") if n < 65536 else b"\xc6" + n.to_bytes(4, "big"))
def proven_strip(p):
    global stripped
    assert 0x80 <= p[0] <= 0x8F
    i, out = 1, bytearray(p[:1])
    for _ in range(p[0] & 0x0F):
        kl = p[i] & 0x1F
        key = p[i + 1:i + 1 + kl]
        out += p[i:i + 1 + kl]
        i += 1 + kl
        w = {0xC4: 1, 0xC5: 2, 0xC6: 4}[p[i]]
        n = int.from_bytes(p[i + 1:i + 1 + w], "big")
        v = p[i + 1 + w:i + 1 + w + n]
        i += 1 + w + n
        if key == b"seal" and v[0] == 0x93:
            v = strip(v)
            stripped += 1
        out += binhdr(len(v)) + v
    assert i == len(p)
    return bytes(out)
out, i, dropped, stripped = bytearray(magic), len(magic), 0, 0
while i < len(raw):
    kind = raw[i]
    n, j = uv(raw, i + 1)
    p = raw[j:j + n]
    i = j + n
    if kind == 0x06 and b"key.anchored" in p:
        dropped += 1
        continue
    if kind == 0x07 and p[0] == 0x93:
        p = strip(p)
        stripped += 1
    if kind == 0x06:  # a proven event's seal, in its map of bins
        p = proven_strip(p)
    out += bytes([kind]) + enc(len(p)) + p
assert dropped == 2 and stripped >= 2, (dropped, stripped)
seg = subprocess.run(["zstd", "-q", "-c", "--check"], input=bytes(out), check=True,
                     capture_output=True).stdout
open(sys.argv[2], "wb").write(seg)
EOF
VB --trusted-key "$vk" "$T/forged.seg" >/dev/null 2>"$T/err" ||
    fail "the forged segment is not the one the pin is for: $(grep -v '^PASS' "$T/err")"
VB --trusted-key "$T/pin" "$T/forged.seg" >/dev/null 2>"$T/err"
rc=$?
[ $rc = 1 ] && grep -q "^FAIL seals: event 2: (period [0-9]*) its seal by key $log_id carries no epoch, but the pinned anchor $a16\\.\\.\\. says the key seals with epoch keys since event 1" "$T/err" ||
    fail "the forged segment with the pin: exit $rc, $(grep -v '^PASS' "$T/err")"

# A pin without an anchor: as before, whatever the bundle
VB --trusted-key "$vk" "$T/b.tar.zst" >/dev/null 2>"$T/err" || fail "the honest bundle, no anchor pinned"
grep -q 'pinned' "$T/err" && fail "no anchor pinned, yet: $(grep pinned "$T/err")"

# Malformed anchors: usage errors naming the field, nothing checked
bad() { # WHAT FIELD TEXT
    printf '%s\n' "$3" >"$T/bad"
    VB --trusted-key "$T/bad" "$T/b.tar.zst" >/dev/null 2>"$T/err"
    rc=$?
    [ $rc = 64 ] && grep -q "$2" "$T/err" && ! grep -q '^PASS' "$T/err" ||
        fail "$1: exit $rc, $(cat "$T/err")"
}
line=$(grep '^anchor name=log' "$T/pin")
bad "a pub not hex" "field 'pub' is not 64 hex digits" "$vk
$(echo "$line" | sed 's/pub=[0-9a-f]*/pub=zz/')"
bad "a seq missing" "field 'seq' is missing" "$vk
$(echo "$line" | sed 's/ seq=1//')"
bad "an unknown field" "unknown field 'sek'" "$vk
$(echo "$line" | sed 's/ seq=/ sek=/')"
bad "a period of 0" "field 'period_ns' 0 is not 1 s to 366 days" "$vk
$(echo "$line" | sed 's/period_ns=[0-9]*/period_ns=0/')"
bad "a t0 not a number" "field 't0' is not a number" "$vk
$(echo "$line" | sed 's/t0=[0-9]*/t0=soon/')"
bad "a key_id too short" "field 'key_id' is not 16 lowercase hex digits" "$vk
$(echo "$line" | sed 's/key_id=[0-9a-f]*/key_id=abc/')"
bad "a line that is no anchor" "line 2 is not an anchor line" "$vk
anchors are here"
bad "two anchors of one key" "a second, different anchor of key $log_id" "$vk
$line
$(echo "$line" | sed 's/seq=1/seq=2/')"
bad "json: t0 a float" "anchor: field 't0' is not a number" \
    "$(jq -c '.anchor.t0 = 1.5' "$T/pin.json")"
bad "json: an anchor without key_id" "anchors\\[1\\]: field 'key_id' is missing" \
    "$(jq -c 'del(.anchors[1].key_id)' "$T/pin.json")"
bad "json: no verifier" "field 'verifier' is missing" "$(jq -c 'del(.verifier)' "$T/pin.json")"

[ "$fails" = 0 ] && echo "ok: epochs_pin" && exit 0
exit 1
