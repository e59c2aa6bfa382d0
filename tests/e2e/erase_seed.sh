#!/bin/sh
# erase_seed.sh — erasure and redaction of a seeded body (store layouts 6 and 7,
# FORMAT.md section 4, issue 49): the stored record (0x05 or 0x06) holds one
# seed and the salts a bundle carries are the ones FORMAT.md derives from it
# (AES-128, by Python's cryptography package here); a redacted
# bundle carries the derived salts of the disclosed fields only, never the
# seed nor a withheld field's salt; after `ledger erase`, no database of the
# store (mdb_dump of every one) and no other file of the ledger holds the
# seed or any salt derived from it, so nothing left can test a guess against
# the erased fields' digests; and data.mdb itself no longer holds them once
# the next commits reused the page the record was on (the caveat FORMAT.md
# states: at most 8 here). At store layout 9 the other files include the
# intake log, which held the body's frame (an erasure overwrites it), and
# LMDB's commits are the tail's applications (here `ledger flush`).
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
command -v mdb_dump >/dev/null 2>&1 || {
    echo "SKIP: no mdb_dump (lmdb-utils)"
    exit 77
}
command -v python3 >/dev/null 2>&1 || {
    echo "SKIP: no python3"
    exit 77
}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
D=$T/l
fails=0
fail() { printf 'FAIL: %s\n' "$*"; fails=$((fails + 1)); }
L() { "$LEDGER" --dir "$D" "$@"; }

L init >/dev/null || exit 1
i=1
while [ $i -le 40 ]; do
    printf '{"type":"run.step","body":{"run":"R%d","step":"s","tool":"t",' "$i"
    st=ok
    [ $i = 17 ] && st=failed # the target's status: its value alone
    printf '"status":"%s","email":"subject%d@example.org","n":%d}}\n' \
        "$st" "$i" "$i"
    i=$((i + 1))
done >"$T/ev.jsonl"
L ingest "$T/ev.jsonl" 2>/dev/null || exit 1
# into data.mdb, where mdb_dump reads the record (at store layout 9 the
# events wait in the intake until a flush; at 8 a no-op)
L flush >/dev/null || exit 1
target=$(L query run=R17 -o json | sed -n 's/^{"seq":"\([0-9]*\)".*/\1/p')
[ -n "$target" ] || { echo "no event of run R17"; exit 1; }

# The record's seed, and the salts FORMAT.md derives from it (one a field,
# fields in bytewise name order), written as hex, one a line: seed first.
mdb_dump -s bodies5 "$D" >"$T/dump" || fail "mdb_dump bodies5"
python3 - "$T/dump" "$target" >"$T/secrets" <<'EOF' || fail "the record: $(cat "$T/secrets")"
import sys
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
lines = open(sys.argv[1]).read().split("\n")
key = "%016x" % int(sys.argv[2])
rec = None
for i, ln in enumerate(lines):
    if ln.strip() == key:
        rec = bytes.fromhex(lines[i + 1].strip())
if rec is None or rec[0] not in (5, 6):
    print("event %s: no layout 6 seeded record (%r)" % (sys.argv[2], rec[:1] if rec else None))
    sys.exit(1)
seed = rec[1:17]
print(seed.hex())
# 6 fields: salt_i = AES-128(key = seed, "ledger/salt2" || u32be(i))
blocks = b"".join(b"ledger/salt2" + i.to_bytes(4, "big") for i in range(6))
enc = Cipher(algorithms.AES(seed), modes.ECB()).encryptor()
out = enc.update(blocks) + enc.finalize()
for i in range(6):
    print(out[16 * i:16 * i + 16].hex())
EOF
[ "$(wc -l <"$T/secrets")" = 7 ] || fail "seed and salts: $(cat "$T/secrets")"

# A bundle of the event: its salts are the derived ones, field by field.
L export --out "$T/full.tar.zst" run=R17 2>/dev/null || fail "export"
mkdir "$T/full" && tar --zstd -xf "$T/full.tar.zst" -C "$T/full" \
    --strip-components=1 || fail "tar full"
python3 - "$T/full/bodies/$target.json" "$T/secrets" <<'EOF' || fail "bundle salts"
import base64, json, sys
f = json.load(open(sys.argv[1]))["fields"]
salts = open(sys.argv[2]).read().split()[1:]
names = sorted(f, key=lambda s: s.encode())
assert names == ["email", "n", "run", "status", "step", "tool"], names
for i, n in enumerate(names):
    got = base64.b64decode(f[n]["salt"]).hex()
    assert got == salts[i], (n, got, salts[i])
EOF

# Redacted: the disclosed fields' salts, never the seed nor email's salt
# (index 0), in any file of the bundle, in hex or base64.
L export --out "$T/red.tar.zst" --redact email run=R17 2>/dev/null ||
    fail "export --redact email"
mkdir "$T/red" && tar --zstd -xf "$T/red.tar.zst" -C "$T/red" \
    --strip-components=1 || fail "tar red"
VKEY=$(L keys verifier) || fail "keys verifier"
"$LEDGER" verify-bundle "$T/red.tar.zst" --trusted-key "$VKEY" 2>/dev/null ||
    fail "verify-bundle of the redacted bundle: exit $?"
python3 - "$T/red" "$T/secrets" "$target" <<'EOF' || fail "redacted bundle"
import base64, json, os, sys
seed, *salts = open(sys.argv[2]).read().split()
f = json.load(open(os.path.join(sys.argv[1], "bodies", sys.argv[3] + ".json")))
assert "email" not in f["fields"] and len(f["withheld"]) == 1, f
for i, n in enumerate(["n", "run", "status", "step", "tool"], 1):
    assert base64.b64decode(f["fields"][n]["salt"]).hex() == salts[i], n
def forms(h):
    b = bytes.fromhex(h)
    return [b, h.encode(), base64.b64encode(b).rstrip(b"="),
            base64.urlsafe_b64encode(b).rstrip(b"=")]
for root, _, files in os.walk(sys.argv[1]):
    for name in files:
        data = open(os.path.join(root, name), "rb").read()
        for what, h in (("the seed", seed), ("email's salt", salts[0])):
            for x in forms(h):
                assert x not in data, (what, name)
EOF

# (the scan finds the seed while the record is there)
mdb_dump -a "$D" >"$T/before" || fail "mdb_dump -a"
python3 - "$T/before" "$(head -n 1 "$T/secrets")" <<'EOF' ||
import sys
data = b"".join(bytes.fromhex(ln.strip()) for ln in
                open(sys.argv[1]).read().split("\n") if ln.startswith(" "))
sys.exit(0 if bytes.fromhex(sys.argv[2]) in data else 1)
EOF
    fail "the scan does not see the seed before erase"

# The body index (ix.body, FORMAT.md 6.1): the target's seq under its
# status, the key status 0x00 failed its alone. bix_has KEY-HEX: does
# ix.body hold the target's seq under the key (any key, if empty)?
bix_has() {
    mdb_dump -s ix.body "$D" | python3 -c '
import sys
lines = [ln.strip() for ln in sys.stdin.read().split("\n") if ln.startswith(" ")]
pairs = list(zip(lines[0::2], lines[1::2]))
seq = "%016x" % int(sys.argv[1])
sys.exit(0 if any(v == seq and (not sys.argv[2] or k == sys.argv[2])
                  for k, v in pairs) else 1)' "$target" "${1:-}"
}
skey=$(printf 'status\000failed' | od -An -tx1 | tr -d ' \n')
bix_has "$skey" || fail "ix.body does not hold the target under status=failed"
[ "$(L query -o json body.status=failed | wc -l)" = 1 ] &&
    L query --explain body.status=failed 2>&1 >/dev/null | grep -q 'plan: ix.body' ||
    fail "query body.status=failed: not the target through ix.body"

# Erase it: nothing in any database, nor any other file of the ledger, holds
# the seed or a salt, and the body index holds neither its seq nor the
# key only its value made.
L erase -q "$target" --reason "data subject request" >/dev/null ||
    fail "erase: exit $?"
L verify --full >/dev/null || fail "verify --full after erase: exit $?"
bix_has "" && fail "ix.body still holds the erased event's seq"
mdb_dump -s ix.body "$D" | grep -q "^ $skey\$" &&
    fail "ix.body still holds the key status=failed"
out=$(L query -o json body.status=failed 2>&1)
[ -z "$out" ] || fail "query body.status=failed after erase: $out"
echo "$skey" >>"$T/secrets" # scanned for below, with the seed and salts
mdb_dump -a "$D" >"$T/all" || fail "mdb_dump -a"
scan() { # $1: what; files after
    what=$1
    shift
    python3 - "$T/secrets" "$@" <<'EOF' || fail "$what"
import sys
secrets = [bytes.fromhex(h) for h in open(sys.argv[1]).read().split()]
for path in sys.argv[2:]:
    data = open(path, "rb").read()
    if path.endswith("all"):  # mdb_dump: every key and value as hex
        data = b"".join(bytes.fromhex(ln.strip()) for ln in
                        data.decode().split("\n") if ln.startswith(" "))
    for i, s in enumerate(secrets):
        if s in data:
            print("%s holds %s" % (path, "the seed" if i == 0 else
                                   "salt %d" % (i - 1)))
            sys.exit(1)
EOF
}
grep -q "^database=bodies5" "$T/all" || fail "mdb_dump -a lists no bodies5"
scan "the store's databases after erase" "$T/all"
others=$(find "$D" -type f ! -name data.mdb ! -name lock.mdb)
[ -z "$others" ] || scan "the ledger's other files after erase" $others

# The freed page: reused by the next commits
n=0
while python3 -c 'import sys
sys.exit(0 if bytes.fromhex(sys.argv[2]) in open(sys.argv[1], "rb").read() else 1)' \
    "$D/data.mdb" "$(head -n 1 "$T/secrets")"; do
    n=$((n + 1))
    [ $n -le 8 ] || { fail "data.mdb holds the seed 8 commits after erase"; break; }
    printf '{"type":"run.step","body":{"run":"Z%d","step":"s","tool":"t","status":"ok"}}\n' \
        "$n" | L ingest - >/dev/null 2>&1 || fail "ingest $n"
    L flush >/dev/null || fail "flush $n" # (layout 9: the commit)
done
# (and the index key's freed page, as long)
while python3 -c 'import sys
sys.exit(0 if bytes.fromhex(sys.argv[2]) in open(sys.argv[1], "rb").read() else 1)' \
    "$D/data.mdb" "$skey"; do
    n=$((n + 1))
    [ $n -le 8 ] || { fail "data.mdb holds status=failed 8 commits after erase"; break; }
    printf '{"type":"run.step","body":{"run":"Z%d","step":"s","tool":"t","status":"ok"}}\n' \
        "$n" | L ingest - >/dev/null 2>&1 || fail "ingest $n"
    L flush >/dev/null || fail "flush $n" # (layout 9: the commit)
done
scan "data.mdb after $n commits" "$D/data.mdb"
L rebuild >/dev/null 2>&1 || fail "rebuild: exit $?"
bix_has "" && fail "ix.body holds the erased event's seq after rebuild"
mdb_dump -a "$D" >"$T/all" || fail "mdb_dump -a"
scan "the store's databases after rebuild" "$T/all"
L verify --full >/dev/null || fail "verify --full at the end: exit $?"

[ "$fails" = 0 ] && echo "erase_seed: ok (the seed gone from data.mdb after $n commits)"
[ "$fails" = 0 ]
