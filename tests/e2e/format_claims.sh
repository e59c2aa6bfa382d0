#!/bin/sh
# format_claims.sh — what docs/FORMAT.md section 6 says of records that
# may or may not be there is what the program does (issue 46 asked the
# document to say it):
#
#   * layout 4 (the golden image: a build makes layout 8 only), a whole
#     tile (8192 bytes, as layout 3 wrote it) with a `tree` record at its
#     last index, holding the tile's hash, another one, or none: not
#     damage; verify --full passes, proofs and `ledger tiles` are the
#     whole record's; `ledger migrate` (to layout 8) splits the tile and
#     writes the tile's own last hash over the record;
#   * the databases: `idx.id` may be absent (verify --full passes); the
#     other `idx.*`, empty in layouts 3 and 4, must be there (an open
#     refuses the file, naming the database); the `ix.*` may be absent in
#     layouts 1 and 2, `tiles` in layout 1, not in layout 2 (the golden
#     images of tests/vectors/layout/);
#   * the format record: damaged in a store whose log holds events, the
#     ledger is damaged (65, verify 1); with no events, not a ledger;
#   * the stored claim digest of layouts 8 and 7: a bit flipped in it,
#     verify (plain and --full) exits 1 naming the event and the digest,
#     and `show` gives the stored digest, not one derived from the claim;
#   * a projection's meta record gone (format-projections.md): a view
#     answers from the log, saying so and naming `ledger rebuild`.
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

command -v zstd >/dev/null 2>&1 || { echo "SKIP: no zstd program"; exit 77; }
V=$ROOT/tests/vectors/layout
# unpack IMAGE DIR: a golden image into a ledger directory
unpack() {
    mkdir -m 700 "$2" "$2/keys" || exit 1
    zstd -q -d -c "$V/$1.mdb.zst" >"$2/data.mdb" || exit 1
    cp "$V/keys/log.key" "$2/keys/log.key" &&
        chmod 600 "$2/keys/log.key" "$2/data.mdb" || exit 1
}

# ------------------------------------ a whole tile and a tree record --
G=$T/g
unpack layout4 "$G"
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
    unpack "layout$lay" "$T/l$lay"
done
# drop LAYOUT DB: 0 when verify --full passes without DB, else 1; its
# output in $T/out (an image made by a build that never wrote DB is
# without it already)
drop() {
    rm -rf "$T/x"
    cp -a "$T/l$1" "$T/x"
    "$T/poke" "$T/x" drop-db "$2" 2>"$T/pe" || grep -q MDB_NOTFOUND "$T/pe" ||
        { echo "poke drop-db $2 failed: $(cat "$T/pe")" >"$T/out"; return 1; }
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

# ------------------------------------------------ the format record --
# flipped or gone in a store whose log holds events: a damaged ledger (65;
# verify 1); gone in one whose log is empty: not a ledger
FMT=666f726d6174 # "format"
rm -rf "$T/f"
"$L" --dir "$T/f" init >/dev/null || exit 1
cp -a "$T/f" "$T/f0"
"$T/poke" "$T/f" flip meta $FMT 0 || fail "poke flip meta format"
for how in flipped gone; do
    [ $how = gone ] && { "$T/poke" "$T/f" del meta $FMT || fail "poke del meta format"; }
    "$L" --dir "$T/f" stats >/dev/null 2>"$T/e"; rc=$?
    [ $rc = 65 ] && grep -q "storage corrupt: the ledger is damaged, its format record is missing or unreadable while its log holds 1 entry (run .ledger verify.)" "$T/e" &&
        ! grep -q "not a ledger" "$T/e" || fail "format record $how: stats exit $rc: $(cat "$T/e")"
    "$L" --dir "$T/f" verify >/dev/null 2>"$T/e"; rc=$?
    [ $rc = 1 ] && grep -q "the ledger is damaged" "$T/e" ||
        fail "format record $how: verify exit $rc: $(cat "$T/e")"
done
"$T/poke" "$T/f0" del meta $FMT && "$T/poke" "$T/f0" del entries5 0000000000000000 ||
    fail "poke: a store with no events"
"$L" --dir "$T/f0" stats >/dev/null 2>"$T/e"; rc=$?
[ $rc = 65 ] && grep -q "not a ledger (no format record)" "$T/e" ||
    fail "no format record, no events: stats exit $rc: $(cat "$T/e")"

# ------------------------------------------ a stored claim digest --
# layout 8 keeps a sealed entry's claim digest raw before its stored
# record, layout 7 (whose image is migrated here, to 7 alone) in its
# stamp (FORMAT.md 6.1, "Stored entries"): a bit flipped in it is found by
# plain verify and --full (exit 1) at that event, named as the digest, and
# `show` gives the digest as stored (a reader does not derive it again)
rm -rf "$T/g8" "$T/g7"
"$L" --dir "$T/g8" init >/dev/null || exit 1
"$L" --dir "$T/g8" ingest "$ROOT/examples/pdf-ops.jsonl" >/dev/null 2>&1 ||
    fail "ingest"
# (into data.mdb, where poke alters them: at store layout 9 they wait in
# the intake until a flush; at 8 a no-op)
"$L" --dir "$T/g8" flush >/dev/null || fail "flush g8"
unpack layout7 "$T/g7"
for g in g8 g7; do
    "$L" --dir "$T/$g" verify >/dev/null 2>&1 || fail "$g: verify before the flip"
    d5=$("$L" --dir "$T/$g" show 5 -o json | jq -r .claim_digest)
    "$T/poke" "$T/$g" flip-digest 5 || fail "$g: poke flip-digest"
    "$L" --dir "$T/$g" verify >/dev/null 2>"$T/e"; rc=$?
    [ $rc = 1 ] && grep -q "event 5: claim digest does not match its stamp" "$T/e" ||
        fail "$g: a flipped stored digest: verify exit $rc: $(cat "$T/e")"
    "$L" --dir "$T/$g" verify --full >/dev/null 2>"$T/e"; rc=$?
    [ $rc = 1 ] && grep -q "event 5: claim digest does not match its stamp" "$T/e" ||
        fail "$g: a flipped stored digest: verify --full exit $rc: $(cat "$T/e")"
    d5b=$("$L" --dir "$T/$g" show 5 -o json 2>/dev/null | jq -r .claim_digest)
    [ -n "$d5b" ] && [ "$d5b" != "$d5" ] ||
        fail "$g: show 5 after the flip: digest '$d5b' (was $d5)"
done
# ----------------------------------------- a projection's meta record --
# gone from proj.meta (format-projections.md: a record of another format
# or none is never used): a view answers from the log, the same answer,
# with a note naming `ledger rebuild`; the rebuild writes it again
P=$T/pm
"$L" --dir "$P" init >/dev/null || exit 1
"$L" --dir "$P" ingest "$ROOT/examples/pdf-ops.jsonl" >/dev/null 2>&1 ||
    fail "pm: ingest"
"$L" --dir "$P" flush >/dev/null || fail "pm: flush"
"$L" --dir "$P" packs -o json >"$T/packs0" 2>"$T/e" && [ -s "$T/packs0" ] &&
    ! [ -s "$T/e" ] || fail "pm: packs before: $(cat "$T/e")"
"$T/poke" "$P" del proj.meta "$(printf packs | od -An -tx1 | tr -d ' \n')" ||
    fail "pm: poke del"
"$L" --dir "$P" packs -o json >"$T/packs1" 2>"$T/e" || fail "pm: packs"
cmp -s "$T/packs0" "$T/packs1" || fail "pm: packs from the log differ"
grep -qx "ledger packs: note: projection packs is not current in the store (computed from the log for this answer; \`ledger rebuild\` fixes the store)" \
    "$T/e" || fail "pm: note: $(cat "$T/e")"
"$L" --dir "$P" rebuild >/dev/null 2>&1 || fail "pm: rebuild"
"$L" --dir "$P" packs -o json >"$T/packs2" 2>"$T/e" || fail "pm: packs after"
cmp -s "$T/packs0" "$T/packs2" && ! [ -s "$T/e" ] ||
    fail "pm: after rebuild: $(cat "$T/e")"

[ "$nfail" -eq 0 ] || exit 1
echo "format_claims: FORMAT.md section 6's absent and stray records, as the program does"
