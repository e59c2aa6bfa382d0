#!/bin/sh
# export_mustfail.sh — verify-bundle on bundles changed with standard tools
# (tar, zstd, head, dd): an event removed, added, altered, reordered; a proof
# for another checkpoint; the manifest altered; a key swapped; a bundle of
# another log under our trusted key; truncation and garbage. Each must exit
# 1 (verification failed) or 65 (not a readable bundle) and name the check.
# Also every must-fail vector in tests/vectors/bundles, and export over a
# file that exists.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
D=$T/l
fails=0
fail() { printf 'FAIL: %s\n' "$*"; fails=$((fails + 1)); }
L() { "$LEDGER" --dir "$D" "$@"; }
HERE=$(cd "$(dirname "$0")" && pwd)

L init >/dev/null || exit 1
L ingest "$HERE/../../examples/pdf-ops.jsonl" 2>/dev/null || exit 1
L keys add alice >/dev/null || exit 1
L append run.step --actor alice --body \
    '{"run":"R-0001","step":"late","tool":"x","status":"ok"}' >/dev/null ||
    exit 1
VKEY=$(L keys verifier)
L export --run R-0001 --out "$T/good.tar.zst" 2>/dev/null || exit 1
"$LEDGER" verify-bundle "$T/good.tar.zst" --trusted-key "$VKEY" 2>/dev/null ||
    { echo "the good bundle does not verify"; exit 1; }

# an --out that exists: refused at once (exit 73, naming it), unchanged
sum0=$(sha256sum <"$T/good.tar.zst")
L export --run R-0001 --out "$T/good.tar.zst" >/dev/null 2>"$T/eerr"
rc=$?
[ "$rc" = 73 ] && grep -q -- "--out $T/good.tar.zst already exists; not overwriting it" "$T/eerr" ||
    fail "export over an existing file: exit $rc, $(cat "$T/eerr")"
[ "$(sha256sum <"$T/good.tar.zst")" = "$sum0" ] || fail "export changed an existing file"
# an --out that is a directory: 73, saying so and what --out names (not
# "already exists", as if a bundle were there); the option's name is the
# CLI's, said once, before the library's message (which names the path)
mkdir "$T/outdir"
for a in "export --run R-0001" "export --segment" "archive --before 5"; do
    # shellcheck disable=SC2086
    L $a --out "$T/outdir" >/dev/null 2>"$T/eerr"
    rc=$?
    [ "$rc" = 73 ] && grep -q -- "--out $T/outdir is a directory: the .* file to write is named (e.g. $T/outdir/NAME\." "$T/eerr" &&
        [ "$(grep -o -- '--out' "$T/eerr" | wc -l)" = 1 ] ||
        fail "$a --out DIR: exit $rc, $(cat "$T/eerr")"
done
[ -z "$(ls -A "$T/outdir")" ] || fail "--out DIR wrote into it: $(ls -A "$T/outdir")"
# --segment with what only a bundle records or redacts: refused (before:
# --creator accepted and recorded nowhere), no file written
for a in "--creator ALICE" "--redact-allow-missing" "--allow-envelope-disclosure"; do
    # shellcheck disable=SC2086
    L export --segment $a --out "$T/seg-opt.seg" >/dev/null 2>"$T/eerr"
    rc=$?
    [ "$rc" = 64 ] && grep -q -- "--segment writes a contiguous range" "$T/eerr" ||
        fail "export --segment $a: exit $rc, $(cat "$T/eerr")"
    [ -e "$T/seg-opt.seg" ] && fail "export --segment $a wrote a file"
done
# -o json: counts are numbers, seqs and sizes strings (README, "Output")
L export --segment --out "$T/seg-json.seg" -o json >"$T/seg.json" 2>/dev/null ||
    fail "export --segment -o json: $(cat "$T/seg.json")"
[ "$(jq -r '[(.events|type), (.erased|type), (.first|type), (.checkpoint_size|type)] | join(",")' "$T/seg.json")" = \
    "number,number,string,string" ] || fail "export --segment -o json types: $(cat "$T/seg.json")"
# an empty --out names no file: 64, saying so (not "invalid argument")
for a in "export --run R-0001" "export --segment"; do
    # shellcheck disable=SC2086
    L $a --out '' >/dev/null 2>"$T/eerr"
    rc=$?
    [ "$rc" = 64 ] && grep -q "\-\-out '': names no file" "$T/eerr" ||
        fail "$a --out '': exit $rc, $(cat "$T/eerr")"
done
# an --out in a directory that is not there: 73 naming the file asked for
# (archive named a NAME.tmp.XXXXXX of its own)
L export --run R-0001 --out "$T/nodir/x.bundle" >/dev/null 2>"$T/eerr"
rc=$?
[ "$rc" = 73 ] && grep -q "$T/nodir/x.bundle: No such file or directory" "$T/eerr" &&
    ! grep -q '\.tmp\.' "$T/eerr" ||
    fail "export into a missing directory: exit $rc, $(cat "$T/eerr")"
L archive --before 5 --out "$T/nodir/x.seg" >/dev/null 2>"$T/eerr"
rc=$?
[ "$rc" = 73 ] && grep -q "$T/nodir/x.seg: No such file or directory" "$T/eerr" &&
    ! grep -q '\.tmp\.' "$T/eerr" ||
    fail "archive into a missing directory: exit $rc, $(cat "$T/eerr")"

# unpack DIR: a fresh copy of the good bundle's members
unpack() {
    rm -rf "$T/$1"
    mkdir "$T/$1"
    tar --zstd -xf "$T/good.tar.zst" -C "$T/$1" --strip-components=1
}
# repack DIR OUT: ledger-bundle first, then every other file
repack() {
    (cd "$T/$1" && find . -type f ! -name ledger-bundle | sed 's|^\./||' |
        sort >"$T/list.$1" &&
        tar --zstd -cf "$2" ledger-bundle -T "$T/list.$1")
}
# expect OUT CODE CHECK [ARGS...]: verify exits CODE with "FAIL CHECK"
expect() {
    out=$1
    code=$2
    check=$3
    shift 3
    [ $# = 0 ] && set -- --trusted-key "$VKEY"
    "$LEDGER" verify-bundle "$out" "$@" >/dev/null 2>"$T/verr"
    rc=$?
    [ "$rc" = "$code" ] || fail "$out: exit $rc, want $code"
    grep -q "^FAIL $check" "$T/verr" ||
        fail "$out: no 'FAIL $check': $(grep FAIL "$T/verr" | head -n 3)"
}

sel=$(L query run=R-0001 type=route.decision -o json | head -n 1 |
    sed -n 's/^{"seq":"\([0-9]*\)".*/\1/p')
step=$(L query run=R-0001 type=run.step -o json | head -n 1 |
    sed -n 's/^{"seq":"\([0-9]*\)".*/\1/p')
[ -n "$sel" ] && [ -n "$step" ] || { echo "no test events"; exit 1; }

# an event removed
unpack a
rm "$T/a/entries/$sel.entry" "$T/a/proofs/$sel.proof" "$T/a/bodies/$sel.json"
repack a "$T/removed.tar.zst"
expect "$T/removed.tar.zst" 1 "files"
grep -q "^FAIL events: .*not in the bundle" "$T/verr" || fail "removed: events"

# a member of another size than the manifest's "sizes" says: refused by
# its size, named with both sizes, never read
unpack a
have=$(wc -c <"$T/a/bodies/$step.json")
printf ' ' >>"$T/a/bodies/$step.json"
repack a "$T/grown.tar.zst"
expect "$T/grown.tar.zst" 1 "files"
grep -q "^FAIL files: .*bodies/$step.json: $((have + 1)) bytes, the manifest says $have (not read)" "$T/verr" ||
    fail "grown: size not named: $(grep FAIL "$T/verr" | head -n 2)"
grep -q '"sizes": {' "$T/a/manifest.json" || fail "the manifest has no sizes"

# an event added (one not selected, from an export of everything)
L export --out "$T/all.tar.zst" 2>/dev/null || fail "export all"
mkdir "$T/all"
tar --zstd -xf "$T/all.tar.zst" -C "$T/all" --strip-components=1
other=$(L query type=pack.installed -o json | head -n 1 |
    sed -n 's/^{"seq":"\([0-9]*\)".*/\1/p')
unpack a
for k in "entries/$other.entry" "proofs/$other.proof" "bodies/$other.json"; do
    cp "$T/all/$k" "$T/a/$k"
done
repack a "$T/added.tar.zst"
expect "$T/added.tar.zst" 1 "files"

# an event altered: one byte of its entry
unpack a
f="$T/a/entries/$step.entry"
# (another value than the one there: writing a fixed byte changed nothing
# when the entry already held it, one run in 256)
b=$(od -An -tu1 -j 40 -N 1 "$f" | tr -d ' ')
printf "\\$(printf '%03o' $(((b + 1) % 256)))" |
    dd of="$f" bs=1 seek=40 conv=notrunc 2>/dev/null
repack a "$T/altered.tar.zst"
expect "$T/altered.tar.zst" 1 "proofs"
grep -q "^FAIL signatures" "$T/verr" || fail "altered: signatures did not fail"

# words a bundle chooses never make a verdict "out of memory" (exit 71,
# no verdict): a body field named so, malformed, fails the bodies check
# (exit 1); a manifest whose format says so is not a bundle (65). Before
# 2026-12-01 (a review of that day's change) both exited 71.
unpack a
sed 's/^{"fields":{/{"fields":{"out of memory":{},/' "$T/a/bodies/$step.json" \
    >"$T/a/tmp" && mv "$T/a/tmp" "$T/a/bodies/$step.json"
grep -q '"out of memory":{}' "$T/a/bodies/$step.json" ||
    fail "oom-words: the body was not changed"
repack a "$T/oomfield.tar.zst"
expect "$T/oomfield.tar.zst" 1 "bodies"
grep -q "field 'out of memory' is malformed" "$T/verr" ||
    fail "oom-words: the field not named: $(grep FAIL "$T/verr" | head -n 2)"
unpack a
sed 's|"format": "ledger.bundle/v1"|"format": "out of memory"|' \
    "$T/a/manifest.json" >"$T/a/tmp" && mv "$T/a/tmp" "$T/a/manifest.json"
repack a "$T/oomformat.tar.zst"
"$LEDGER" verify-bundle "$T/oomformat.tar.zst" --trusted-key "$VKEY" \
    >/dev/null 2>"$T/verr"
rc=$?
[ "$rc" = 65 ] || fail "oom-format: exit $rc, want 65: $(tail -n 1 "$T/verr")"

# events reordered: two events' members swapped
unpack a
for kind in entries:entry proofs:proof bodies:json; do
    d=${kind%%:*}
    e=${kind#*:}
    mv "$T/a/$d/$sel.$e" "$T/a/tmp"
    mv "$T/a/$d/$step.$e" "$T/a/$d/$sel.$e"
    mv "$T/a/tmp" "$T/a/$d/$step.$e"
done
repack a "$T/reordered.tar.zst"
expect "$T/reordered.tar.zst" 1 "proofs"

# a proof for another checkpoint (the log grew; a newer proof)
L append x.test.later --body '{}' >/dev/null
L export --run R-0001 --out "$T/later.tar.zst" 2>/dev/null || fail "export 2"
mkdir "$T/later"
tar --zstd -xf "$T/later.tar.zst" -C "$T/later" --strip-components=1
unpack a
cp "$T/later/proofs/$step.proof" "$T/a/proofs/$step.proof"
repack a "$T/foreign.tar.zst"
expect "$T/foreign.tar.zst" 1 "proofs"
grep -q "another checkpoint" "$T/verr" || fail "foreign proof: reason"

# the manifest altered
unpack a
sed 's/"tool": "[^"]*"/"tool": "someone else"/' "$T/a/manifest.json" >"$T/m"
cmp -s "$T/m" "$T/a/manifest.json" && fail "manifest tamper changed nothing"
mv "$T/m" "$T/a/manifest.json"
repack a "$T/manifest.tar.zst"
expect "$T/manifest.tar.zst" 1 "manifest-signature"

# a key swapped: alice's key file names another public key
unpack a
kf=$(grep -l '"actor": "alice"' "$T"/a/keys/*.json)
sed 's/"public_key": "[0-9a-f]*"/"public_key": "'"$(printf '%064d' 7)"'"/' \
    "$kf" >"$T/k" && mv "$T/k" "$kf"
repack a "$T/key.tar.zst"
expect "$T/key.tar.zst" 1 "keys"

# another log's bundle under our key
D2=$T/other
"$LEDGER" --dir "$D2" init >/dev/null
"$LEDGER" --dir "$D2" ingest "$HERE/../../examples/pdf-ops.jsonl" 2>/dev/null
"$LEDGER" --dir "$D2" export --out "$T/other.tar.zst" 2>/dev/null
"$LEDGER" verify-bundle "$T/other.tar.zst" --insecure-trust-bundle-key \
    2>/dev/null ||
    fail "the other log's bundle does not verify on its own"
expect "$T/other.tar.zst" 1 "log-key" --trusted-key "$VKEY"
grep -q "^FAIL checkpoint" "$T/verr" || fail "other log: checkpoint passed"

# truncation anywhere, garbage, not zstd, missing
size=$(wc -c <"$T/good.tar.zst" | tr -d ' ')
for n in 0 10 100 $((size / 3)) $((size / 2)) $((size - 20)) $((size - 1)); do
    head -c "$n" "$T/good.tar.zst" >"$T/trunc.tar.zst"
    expect "$T/trunc.tar.zst" 65 "archive"
done
head -c 5000 /dev/urandom >"$T/garbage"
expect "$T/garbage" 65 "archive"
zstd -dq -c "$T/good.tar.zst" >"$T/plain.tar"
expect "$T/plain.tar" 65 "archive"
"$LEDGER" verify-bundle "$T/nope" --trusted-key "$VKEY" 2>/dev/null
[ $? = 66 ] || fail "missing file: not 66"

# every must-fail vector
for v in "$HERE"/../vectors/bundles/*.bundle; do
    "$LEDGER" verify-bundle "$v" --insecure-trust-bundle-key \
        >/dev/null 2>"$T/verr"
    rc=$?
    case $rc in
    1 | 65) ;;
    *) fail "$(basename "$v"): exit $rc" ;;
    esac
done

# one --trusted-key: a second replaced the first unchecked (exit 0 with
# another log's key first); the readers of --bundle take one too
OTHER=$("$LEDGER" --dir "$D2" keys verifier) # another log's key (above)
for cmd in "verify-bundle $T/good.tar.zst" "query --bundle $T/good.tar.zst"; do
    # shellcheck disable=SC2086
    "$LEDGER" $cmd --trusted-key "$OTHER" --trusted-key "$VKEY" >/dev/null 2>"$T/eerr"
    rc=$?
    [ "$rc" = 64 ] && grep -q -- "option '--trusted-key' given more than once" "$T/eerr" ||
        fail "$cmd with two --trusted-key: exit $rc, $(cat "$T/eerr")"
done
"$LEDGER" verify-bundle "$T/good.tar.zst" --trusted-key "$VKEY" --quorum 33 \
    --witness-key w.example/w1+01234567+AAAA >/dev/null 2>"$T/eerr"
grep -q -- "--quorum: '33' is not a count of 1 to 32" "$T/eerr" ||
    fail "--quorum 33: $(cat "$T/eerr")"
# a usage error before any file is read: no FILE is 64, not the 66 of a
# --trusted-checkpoint that is not there
"$LEDGER" verify-bundle --trusted-checkpoint "$T/nothere" --trusted-key "$VKEY" >/dev/null 2>"$T/eerr"
rc=$?
[ "$rc" = 64 ] && grep -q "FILE is needed" "$T/eerr" ||
    fail "verify-bundle without FILE: exit $rc, $(cat "$T/eerr")"

[ "$fails" = 0 ] || exit 1
echo "export_mustfail: ok"
