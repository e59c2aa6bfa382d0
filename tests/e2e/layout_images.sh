#!/bin/sh
# layout_images.sh — the golden store images of tests/vectors/layout/, one
# per store layout, of the same 600-event ledger (its README says how they
# were made): this build reads each, says its layout, verifies it in full,
# and gives the recorded checkpoint, C2SP tiles and query answers (by type,
# subject, run, actor and time), byte for byte, and the same proofs from
# all; each takes appends; the layout 1, 2 and 3 images migrated give the
# layout 4 image's answers, and the layout 1 image migrated to 2 and to 3
# those of the layout 2 and 3 images.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
V=$ROOT/tests/vectors/layout
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/layout_images.XXXXXX") ||
    exit 1
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT TERM
nfail=0
fail() {
    echo "FAIL: $*"
    nfail=$((nfail + 1))
}
command -v zstd >/dev/null 2>&1 || {
    echo "layout_images: zstd (the program) is missing"
    exit 1
}

unpack() { # unpack N DIR
    mkdir -m 700 "$2" "$2/keys" || exit 1
    zstd -q -d -c "$V/layout$1.mdb.zst" >"$2/data.mdb" || exit 1
    cp "$V/keys/log.key" "$2/keys/" && chmod 600 "$2/keys/log.key" "$2/data.mdb"
}

# answers N DIR: what the image must answer
answers() {
    "$LEDGER" --dir "$2" stats | grep -q "^layout  *$1 " ||
        fail "layout $1: stats says $("$LEDGER" --dir "$2" stats 2>&1 | grep layout)"
    "$LEDGER" --dir "$2" verify --full >"$T/v" 2>&1 ||
        fail "layout $1: verify --full: $(cat "$T/v")"
    "$LEDGER" --dir "$2" checkpoint | cmp -s - "$V/checkpoint" ||
        fail "layout $1: another checkpoint"
    "$LEDGER" --dir "$2" keys verifier | cmp -s - "$V/log.vkey" ||
        fail "layout $1: another verifier key"
    rm -rf "$T/tiles"
    "$LEDGER" --dir "$2" tiles "$T/tiles" >/dev/null 2>&1 ||
        fail "layout $1: tiles"
    (cd "$T/tiles" && find . -type f | sort | xargs sha256sum) |
        cmp -s - "$V/tiles.sha256" || fail "layout $1: other tiles"
    for s in 0 255 256 300 511 512 599; do
        "$LEDGER" --dir "$2" proof "$s" 2>&1
        "$LEDGER" --dir "$2" proof --consistency "$((s + 1))" 2>&1
    done >"$T/proofs.$1"
    queries "$2" | cmp -s - "$V/queries.json" ||
        fail "layout $1: other query answers: $(queries "$2" | diff - "$V/queries.json" | head -5)"
}

# queries DIR: by each index, and a window of time (README)
queries() {
    t1=$("$LEDGER" --dir "$1" show 100 -o json | jq -r .time)
    t2=$("$LEDGER" --dir "$1" show 130 -o json | jq -r .time)
    "$LEDGER" --dir "$1" query -o json -n all 'type=model.*'
    "$LEDGER" --dir "$1" query -o json -n 25 -r subject=s:3
    "$LEDGER" --dir "$1" query -o json -n all run=R-0001
    "$LEDGER" --dir "$1" query -o json -n 10 actor=log
    "$LEDGER" --dir "$1" query -o json -n all -S "$t1" -U "$t2"
    "$LEDGER" --dir "$1" query -o json -n all 'subject=pack:*'
}

unpack 1 "$T/l1"
unpack 2 "$T/l2"
unpack 3 "$T/l3"
unpack 4 "$T/l4"
answers 1 "$T/l1"
answers 2 "$T/l2"
answers 3 "$T/l3"
answers 4 "$T/l4"
cmp -s "$T/proofs.1" "$T/proofs.2" && cmp -s "$T/proofs.1" "$T/proofs.3" &&
    cmp -s "$T/proofs.1" "$T/proofs.4" ||
    fail "the proofs differ between layouts"
grep -c '^c2sp.org/tlog-proof@v1$' "$T/proofs.1" | grep -qx 7 ||
    fail "proofs: $(head -c 300 "$T/proofs.1")"

for n in 1 2 3 4; do
    "$LEDGER" --dir "$T/l$n" append x.layout.more --body '{"n":1}' \
        >/dev/null 2>&1 || fail "layout $n: append"
    "$LEDGER" --dir "$T/l$n" verify >"$T/v" 2>&1 ||
        fail "layout $n: verify after append: $(cat "$T/v")"
done

for n in 1 2 3; do
    rm -rf "$T/m"
    unpack $n "$T/m"
    "$LEDGER" --dir "$T/m" migrate >/dev/null 2>&1 ||
        fail "migrate the layout $n image"
    answers 4 "$T/m"
done
for n in 2 3; do
    rm -rf "$T/m$n"
    unpack 1 "$T/m$n"
    "$LEDGER" --dir "$T/m$n" migrate --layout $n >/dev/null 2>&1 ||
        fail "migrate the layout 1 image to $n"
    answers $n "$T/m$n"
done

if [ "$nfail" -gt 0 ]; then
    echo "layout_images: $nfail failure(s)"
    exit 1
fi
echo "layout_images: ok"
