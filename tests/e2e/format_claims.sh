#!/bin/sh
# format_claims.sh — what docs/FORMAT.md section 6 says of records that
# may or may not be there is what the program does (issue 46 asked the
# document to say it):
#
#   * layout 4, a whole tile (8192 bytes, as layout 3 wrote it) with a
#     `tree` record at its last index, holding the tile's hash, another
#     one, or none: not damage; verify --full passes, proofs and `ledger
#     tiles` are the whole record's; `ledger migrate` splits the tile and
#     writes the tile's own last hash over the record;
#   * the databases: `idx.id` may be absent (verify --full passes); the
#     other `idx.*`, empty in layouts 3 and 4, must be there (an open
#     refuses the file, naming the database); the `ix.*` may be absent in
#     layouts 1 and 2, `tiles` in layout 1, not in layout 2.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
L=$LEDGER
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/format_claims.XXXXXX") ||
    exit 1
trap 'rm -rf "$T"' EXIT
nfail=0
fail() {
    echo "FAIL: $*"
    nfail=$((nfail + 1))
}
CC=${CC:-cc}
# shellcheck disable=SC2046
$CC -O1 -o "$T/poke" "$ROOT/tests/faults/lmdb_poke.c" \
    $(pkg-config --cflags --libs lmdb) 2>"$T/cc.err" ||
    { echo "FAIL: lmdb_poke: $(cat "$T/cc.err")"; exit 1; }

# ------------------------------------ a whole tile and a tree record --
G=$T/g
"$L" --dir "$G" init >/dev/null || exit 1
awk 'BEGIN { for (i = 0; i < 300; i++) printf("{\"type\":\"x.t\",\"body\":{\"n\":%d}}\n", i) }' |
    "$L" --dir "$G" ingest - >/dev/null 2>&1 || exit 1
"$L" --dir "$G" stats | grep -q '^layout  *4 ' || fail "not layout 4"
"$L" --dir "$G" proof 255 >"$T/proof" || exit 1
"$L" --dir "$G" tiles "$T/pub0" >/dev/null 2>&1 || exit 1
for how in none keep flip; do
    D=$T/$how
    cp -a "$G" "$D"
    if [ $how = none ]; then
        "$T/poke" "$D" join-tile 0 0 || fail "join-tile"
    else
        "$T/poke" "$D" join-tile 0 0 $how || fail "join-tile $how"
    fi
    [ "$("$L" --dir "$D" stats -o json | jq .tiles_whole)" = 1 ] ||
        fail "$how: the tile is not whole"
    "$L" --dir "$D" verify --full >"$T/out" 2>&1 ||
        fail "$how: verify --full: $(tail -n 2 "$T/out")"
    "$L" --dir "$D" proof 255 | cmp -s - "$T/proof" ||
        fail "$how: the proof of leaf 255 differs"
    "$L" --dir "$D" tiles "$T/pub" >/dev/null 2>&1 && diff -r "$T/pub0" "$T/pub" >/dev/null ||
        fail "$how: ledger tiles differs"
    rm -rf "$T/pub"
    "$L" --dir "$D" migrate >"$T/out" 2>&1 || fail "$how: migrate: $(cat "$T/out")"
    [ "$("$L" --dir "$D" stats -o json | jq .tiles_whole)" = 0 ] ||
        fail "$how: migrate left the tile whole"
    "$L" --dir "$D" verify --full >"$T/out" 2>&1 ||
        fail "$how: verify --full after migrate: $(tail -n 2 "$T/out")"
    "$L" --dir "$D" proof 255 | cmp -s - "$T/proof" ||
        fail "$how: the proof after migrate differs"
done

# ---------------------------------------------- databases that may go --
for lay in 1 2 4; do
    B=$T/l$lay
    "$L" --dir "$B" init --layout "$lay" >/dev/null || exit 1
    "$L" --dir "$B" ingest "$ROOT/examples/pdf-ops.jsonl" >/dev/null 2>&1 || exit 1
done
# drop LAYOUT DB: 0 when verify --full passes without DB, else 1; its
# output in $T/out
drop() {
    rm -rf "$T/x"
    cp -a "$T/l$1" "$T/x"
    "$T/poke" "$T/x" drop-db "$2" || { echo "poke drop-db $2 failed" >"$T/out"; return 1; }
    "$L" --dir "$T/x" verify --full >"$T/out" 2>&1
}
for lay in 1 2 4; do
    drop "$lay" idx.id || fail "layout $lay without idx.id: $(tail -n 1 "$T/out")"
done
for db in idx.type idx.subject idx.run idx.actor idx.time; do
    drop 4 "$db" && fail "layout 4 without its empty $db verified"
    grep -q "storage corrupt: .*no '$db' database" "$T/out" ||
        fail "layout 4 without $db: $(tail -n 1 "$T/out")"
done
for lay in 1 2; do
    for db in ix.type ix.subject ix.run ix.actor; do
        drop "$lay" "$db" || fail "layout $lay without $db: $(tail -n 1 "$T/out")"
    done
done
drop 1 tiles || fail "layout 1 without tiles: $(tail -n 1 "$T/out")"
drop 2 tiles && fail "layout 2 without tiles verified"

[ "$nfail" -eq 0 ] || exit 1
echo "format_claims: FORMAT.md section 6's absent and stray records, as the program does"
