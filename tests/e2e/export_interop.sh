#!/bin/sh
# export_interop.sh — a bundle checked by an independent implementation:
# its checkpoint with Go's golang.org/x/mod/sumdb/note, and every proof
# against its entry with golang.org/x/mod/sumdb/tlog (tests/interop/tlogcheck).
# The manifest signature is a signed note too: the same Go code opens it.
# Skips (77) without go, unless LEDGER_REQUIRE_GO=1.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
HERE=$(cd "$(dirname "$0")" && pwd)
if ! command -v go >/dev/null 2>&1; then
    if [ "${LEDGER_REQUIRE_GO:-0}" = 1 ]; then
        echo "FAIL: go is required (LEDGER_REQUIRE_GO=1) but missing"
        exit 1
    fi
    echo "SKIP: no go"
    exit 77
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
D=$T/l
fails=0
fail() { printf 'FAIL: %s\n' "$*"; fails=$((fails + 1)); }
L() { "$LEDGER" --dir "$D" "$@"; }

(cd "$HERE/../interop/tlogcheck" &&
    GOPATH=/usr/share/gocode GO111MODULE=off GOFLAGS= \
        GOCACHE="$T/gocache" go build -o "$T/tlogcheck" .) 2>"$T/goerr" || {
    if [ "${LEDGER_REQUIRE_GO:-0}" = 1 ]; then
        echo "FAIL: cannot build tlogcheck: $(cat "$T/goerr")"
        exit 1
    fi
    echo "SKIP: tlogcheck does not build: $(head -n 1 "$T/goerr")"
    exit 77
}

L init >/dev/null || exit 1
L ingest "$HERE/../../examples/pdf-ops.jsonl" 2>/dev/null || exit 1
L keys add alice >/dev/null || exit 1
L append run.step --actor alice --body \
    '{"run":"R-0001","step":"late","tool":"x","status":"ok"}' >/dev/null ||
    exit 1
# the key's line (an anchor line follows it: init anchors the log key)
VKEY=$(L keys verifier | head -n 1)
L export --run R-0001 --redact requested_by --out "$T/b.tar.zst" \
    2>/dev/null || exit 1
mkdir "$T/x"
tar --zstd -xf "$T/b.tar.zst" -C "$T/x" --strip-components=1 || exit 1

"$T/tlogcheck" checkpoint "$VKEY" "$T/x/checkpoint" >"$T/ck" 2>"$T/err" ||
    fail "Go rejects the checkpoint: $(cat "$T/err")"
size=$(L stats -o json | sed -n 's/.*"size":"\([0-9]*\)".*/\1/p')
grep -q "size $size" "$T/ck" || fail "Go reads another size: $(cat "$T/ck")"

n=0
for p in "$T"/x/proofs/*.proof; do
    seq=$(basename "$p" .proof)
    "$T/tlogcheck" inclusion "$VKEY" "$p" "$T/x/entries/$seq.entry" \
        >/dev/null 2>"$T/err" ||
        fail "Go rejects the proof of event $seq: $(cat "$T/err")"
    n=$((n + 1))
done
[ "$n" -gt 2 ] || fail "only $n proofs checked"

# a proof checked against another entry must fail in Go too
first=$(ls "$T"/x/proofs | head -n 1)
second=$(ls "$T"/x/entries | sed -n 2p)
"$T/tlogcheck" inclusion "$VKEY" "$T/x/proofs/$first" \
    "$T/x/entries/$second" >/dev/null 2>&1 &&
    fail "Go accepts a proof for another entry"

# the manifest's signature is a signed note by the log key: Go's note.Open
# accepts it (tlogcheck then fails only because its text is not a
# checkpoint), and rejects it once one signature character is changed
"$T/tlogcheck" checkpoint "$VKEY" "$T/x/manifest.sig" >/dev/null 2>"$T/err"
grep -q "checkpoint note:" "$T/err" &&
    fail "Go's note.Open rejects manifest.sig: $(cat "$T/err")"
[ -s "$T/err" ] || fail "tlogcheck took manifest.sig for a checkpoint"
sed '$ s/\(.\)\(.\)$/\2\1/' "$T/x/manifest.sig" >"$T/bad.sig"
cmp -s "$T/bad.sig" "$T/x/manifest.sig" && fail "could not alter the signature"
"$T/tlogcheck" checkpoint "$VKEY" "$T/bad.sig" >/dev/null 2>"$T/err"
grep -q "checkpoint note:" "$T/err" ||
    fail "Go accepts an altered manifest.sig: $(cat "$T/err")"

[ "$fails" = 0 ] || exit 1
echo "export_interop: ok ($n proofs checked by Go)"
