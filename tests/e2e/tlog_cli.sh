#!/bin/sh
# tlog_cli.sh — the transparency commands end to end, checked by Go's
# sumdb/note and sumdb/tlog (tests/interop/tlogcheck) when Go is present.
set -u
L=${LEDGER:?set LEDGER to the ledger binary}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
D=$T/ledger

"$L" --dir "$D" init --origin example.org/e2e >/dev/null || fail init
"$L" --dir "$D" ingest examples/pdf-ops.jsonl 2>/dev/null || fail ingest
"$L" --dir "$D" keys verifier > "$T/vkey" || fail verifier
# the verifier key, then the log key's anchor (init anchors it by default)
head -1 "$T/vkey" | grep -q '^example.org/e2e+[0-9a-f]\{8\}+' &&
    sed -n 2p "$T/vkey" | grep -q '^anchor name=log key_id=[0-9a-f]* .* seq=1$' ||
    fail "verifier form: $(cat "$T/vkey")"
"$L" --dir "$D" checkpoint > "$T/ck1" || fail checkpoint
head -1 "$T/ck1" | grep -qx 'example.org/e2e' || fail "origin line"
# 33: genesis (0), the log key's anchor (1, init anchors it by default),
# then the 31 events of pdf-ops.jsonl
sed -n 2p "$T/ck1" | grep -qx 33 || fail "size line"
"$L" --dir "$D" checkpoint --size 1 > "$T/ck_genesis" || fail "checkpoint --size 1"
"$L" --dir "$D" proof 5 > "$T/proof5" || fail proof
head -2 "$T/proof5" | tr '\n' ' ' | grep -q '^c2sp.org/tlog-proof@v1 index 5 $' || fail "proof header"
"$L" --dir "$D" show 5 --raw > "$T/leaf5" || fail "show --raw"
"$L" --dir "$D" proof 5 --size 1 >/dev/null 2>&1 && fail "proof beyond size"
# a size that is no size: 64, naming it
for s in 0 x; do
    "$L" --dir "$D" proof --size "$s" 5 >/dev/null 2>"$T/err"
    [ $? -eq 64 ] && grep -q "^ledger proof: --size: '$s' is not a tree size" "$T/err" ||
        fail "proof --size $s: $(cat "$T/err")"
    "$L" --dir "$D" checkpoint --size "$s" >/dev/null 2>"$T/err"
    [ $? -eq 64 ] && grep -q "^ledger checkpoint: --size: '$s' is not a tree size" "$T/err" ||
        fail "checkpoint --size $s: $(cat "$T/err")"
done
"$L" --dir "$D" proof 999 >/dev/null 2>&1; [ $? -eq 66 ] || fail "proof of missing event: exit code"
# --size N that cannot prove SEQ: which of the two it is (it said "not in
# the tree of size N, or no checkpoint of that size is stored")
"$L" --dir "$D" proof 5 --size 1 >/dev/null 2>"$T/err"
[ $? -eq 66 ] && grep -q "^ledger proof: event 5 is not in the tree of size 1 (it holds events 0..0)$" "$T/err" ||
    fail "proof 5 --size 1: $(cat "$T/err")"
"$L" --dir "$D" proof 3 --size 5 >/dev/null 2>"$T/err"
[ $? -eq 66 ] && grep -q "^ledger proof: no checkpoint of size 5 is stored (one is signed where each commit ends: the nearest are of size 2 and 33)$" "$T/err" ||
    fail "proof 3 --size 5: $(cat "$T/err")"

# more events, then consistency from the old checkpoint
"$L" --dir "$D" append x.e2e.more --body '{"n":1}' >/dev/null || fail append
"$L" --dir "$D" append x.e2e.more --body '{"n":2}' >/dev/null || fail append
"$L" --dir "$D" proof --consistency 33 > "$T/cons" || fail consistency
head -1 "$T/cons" | grep -qx 'old 33' || fail "consistency header"
# from the empty tree: "old 0", no proof lines, then the checkpoint
"$L" --dir "$D" proof --consistency 0 >"$T/cons0" || fail "consistency 0: exit $?"
head -1 "$T/cons0" | grep -qx 'old 0' || fail "consistency 0 header"
[ "$(sed -n 2p "$T/cons0")" = "" ] || fail "consistency 0: proof lines"
"$L" --dir "$D" proof --consistency 999999 2>"$T/cons.err" >/dev/null
[ $? = 66 ] && grep -q "no consistency proof" "$T/cons.err" ||
    fail "consistency beyond the log: $(cat "$T/cons.err")"
"$L" --dir "$D" verify --trusted "$T/ck1" > "$T/vt" || fail "verify --trusted"
grep -q 'consistent with the trusted checkpoint of size 33' "$T/vt" || fail "trusted message: $(cat "$T/vt")"
"$L" --dir "$D" tiles "$T/tiles" 2>/dev/null || fail tiles
[ -f "$T/tiles/checkpoint" ] && [ -f "$T/tiles/tile/0/000.p/35" ] && \
    [ -f "$T/tiles/tile/entries/000.p/35" ] || fail "tile layout: $(find "$T/tiles" -type f)"
"$L" --dir "$D" append x.e2e.more --body '{"n":3}' >/dev/null || fail append
"$L" --dir "$D" tiles "$T/tiles" 2>/dev/null || fail "tiles again"
# an empty directory name: a usage error naming it (it was "invalid
# argument")
"$L" --dir "$D" tiles "" >/dev/null 2>"$T/err"
[ $? -eq 64 ] && grep -q "OUTDIR '': names no directory" "$T/err" ||
    fail "tiles '': $(cat "$T/err")"
# a directory whose parents are missing too is made whole (it was 74)
"$L" --dir "$D" tiles "$T/nest/a/b" >/dev/null 2>"$T/err" &&
    cmp -s "$T/tiles/checkpoint" "$T/nest/a/b/checkpoint" &&
    cmp -s "$T/tiles/tile/0/000.p/36" "$T/nest/a/b/tile/0/000.p/36" ||
    fail "tiles into nest/a/b: $(cat "$T/err")"
[ -f "$T/tiles/tile/0/000.p/36" ] || fail "incremental tile"

if command -v go >/dev/null 2>&1; then
    export GOPATH=/usr/share/gocode GO111MODULE=off
    [ -n "${HOME:-}" ] || export GOCACHE="$T/gocache"
    go build -o "$T/tlogcheck" ./tests/interop/tlogcheck || fail "go build"
    V=$(head -1 "$T/vkey") # the bare key, not the anchor line after it
    "$T/tlogcheck" checkpoint "$V" "$T/ck1" >/dev/null || fail "Go: checkpoint"
    "$T/tlogcheck" inclusion "$V" "$T/proof5" "$T/leaf5" >/dev/null || fail "Go: inclusion"
    "$T/tlogcheck" consistency "$V" "$T/ck1" "$T/cons" >/dev/null || fail "Go: consistency"
    "$T/tlogcheck" tiles "$V" "$T/tiles" >/dev/null || fail "Go: tiles"
    # a tampered proof must be refused by Go too
    sed '3{s/^X/Y/;t;s/^./X/;}' "$T/proof5" > "$T/bad"
    "$T/tlogcheck" inclusion "$V" "$T/bad" "$T/leaf5" >/dev/null 2>&1 && fail "Go accepted a bad proof"
elif [ "${LEDGER_REQUIRE_GO:-0}" = 1 ]; then
    fail "go not installed and LEDGER_REQUIRE_GO=1"
else
    echo "SKIP: the Go cross-check (go not installed)"
fi
echo "tlog_cli: ok"
