#!/bin/sh
# format_claims.sh — what docs/FORMAT.md section 6 says of records that
# may or may not be there is what the program does (issue 46 asked the
# document to say it). This build reads store layout 9 only, and `ledger
# migrate` alone opens an earlier build's store (the golden images of
# tests/vectors/layout/): a claim about an older layout is checked through
# the migrate that converts it, one about what a store must hold on a
# migrated or new layout 9 store.
#
#   * layout 4 (the golden image), a whole tile (8192 bytes, as layout 3
#     wrote it) with a `tree` record at its last index, holding the
#     tile's hash, another one, or none: not damage; `ledger migrate` (to
#     layout 9) converts it, splitting the tile, and then verify --full
#     passes, `ledger tiles` gives the golden tiles (tiles.sha256) and the
#     proof of leaf 255 is that of the image migrated untouched;
#   * the databases: `idx.id` may be absent (layouts 1, 2 and 4 migrate
#     and verify --full passes; on layout 9 too); the `ix.*` may be absent
#     in layouts 1 and 2, `tiles` in layout 1 (migrate and verify --full
#     pass), not in layout 2 (migrate refuses it, exit 65); the other
#     `idx.*` must be there: a layout 9 store (layout 4's image migrated)
#     without one is refused at open, naming the database;
#   * the format record: damaged in a store whose log holds events, the
#     ledger is damaged (65, verify 1); with no events, not a ledger;
#   * the stored claim digest: layout 9's (raw before the stored record),
#     a bit flipped in it: verify (plain and --full) exits 1 naming the
#     event and the digest, and `show` gives the stored digest, not one
#     derived from the claim; layout 7's (in its stamp, the golden image
#     flipped): `ledger migrate`, which verifies the store as it is
#     first, refuses (1) naming the event, data.mdb as it was;
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
# migrate (and, after it, every reader) takes the whole record's hashes
G=$T/g
unpack layout4 "$G"
cp -a "$G" "$T/g9"
"$L" --dir "$T/g9" migrate >"$T/out" 2>&1 ||
    fail "migrate of layout 4: $(cat "$T/out")"
grep -q '^layout 4 -> 9 (600 events)$' "$T/out" ||
    fail "migrate of layout 4: $(cat "$T/out")"
"$L" --dir "$T/g9" proof 255 >"$T/proof" || exit 1
# tiles DIR: 0 when `ledger tiles` of DIR writes the golden tiles
tiles() {
    rm -rf "$T/pub"
    "$L" --dir "$1" tiles "$T/pub" >/dev/null 2>&1 &&
        (cd "$T/pub" && find . -type f | LC_ALL=C sort | xargs sha256sum) |
        cmp -s - "$V/tiles.sha256"
}
tiles "$T/g9" || fail "layout 4 migrated: ledger tiles is not tiles.sha256"
for how in none keep flip; do
    D=$T/$how
    cp -a "$G" "$D"
    if [ $how = none ]; then
        "$T/poke" "$D" join-tile 0 0 || fail "join-tile"
    else
        "$T/poke" "$D" join-tile 0 0 $how || fail "join-tile $how"
    fi
    "$T/poke" "$D" keys tiles | grep -qx '000000000000000000 8192' ||
        fail "$how: the tile is not whole: $("$T/poke" "$D" keys tiles)"
    "$L" --dir "$D" migrate >"$T/out" 2>&1 || fail "$how: migrate: $(cat "$T/out")"
    grep -q '^layout 4 -> 9 (600 events)$' "$T/out" ||
        fail "$how: migrate: $(cat "$T/out")"
    "$T/poke" "$D" keys tiles | grep -q ' 8192$' &&
        fail "$how: migrate left the tile whole: $("$T/poke" "$D" keys tiles)"
    "$L" --dir "$D" verify --full >"$T/out" 2>&1 ||
        fail "$how: verify --full after migrate: $(tail -n 2 "$T/out")"
    "$L" --dir "$D" proof 255 | cmp -s - "$T/proof" ||
        fail "$how: the proof of leaf 255 after migrate differs"
    tiles "$D" || fail "$how: ledger tiles after migrate is not tiles.sha256"
done

# ---------------------------------------------- databases that may go --
for lay in 1 2 4; do
    unpack "layout$lay" "$T/l$lay"
done
cp -a "$T/g9" "$T/l9"
# drop LAYOUT DB: 0 when the store without DB migrates (layouts 1 to 4)
# and verify --full passes, else 1; migrate's and verify's output in
# $T/out (an image made by a build that never wrote DB is without it
# already)
drop() {
    rm -rf "$T/x"
    cp -a "$T/l$1" "$T/x"
    "$T/poke" "$T/x" drop-db "$2" 2>"$T/pe" || grep -q MDB_NOTFOUND "$T/pe" ||
        { echo "poke drop-db $2 failed: $(cat "$T/pe")" >"$T/out"; return 1; }
    if [ "$1" != 9 ]; then
        "$L" --dir "$T/x" migrate >"$T/out" 2>&1 || return 1
    fi
    "$L" --dir "$T/x" verify --full >"$T/out" 2>&1
}
for lay in 1 2 4 9; do
    drop "$lay" idx.id || fail "layout $lay without idx.id: $(tail -n 1 "$T/out")"
done
for db in idx.type idx.subject idx.run idx.actor idx.time; do
    drop 9 "$db" && fail "layout 9 without its empty $db verified"
    grep -q "storage corrupt: .*no '$db' database" "$T/out" ||
        fail "layout 9 without $db: $(tail -n 1 "$T/out")"
    "$L" --dir "$T/x" stats >/dev/null 2>"$T/e"; rc=$?
    [ $rc = 65 ] && grep -q "storage corrupt: .*no '$db' database" "$T/e" ||
        fail "layout 9 without $db: stats exit $rc: $(cat "$T/e")"
done
for lay in 1 2; do
    for db in ix.type ix.subject ix.run ix.actor; do
        drop "$lay" "$db" || fail "layout $lay without $db: $(tail -n 1 "$T/out")"
    done
done
drop 1 tiles || fail "layout 1 without tiles: $(tail -n 1 "$T/out")"
rm -rf "$T/x"
cp -a "$T/l2" "$T/x"
"$T/poke" "$T/x" drop-db tiles || fail "poke drop-db tiles"
"$L" --dir "$T/x" migrate >"$T/out" 2>"$T/e"; rc=$?
if [ $rc = 0 ]; then
    "$L" --dir "$T/x" verify --full >"$T/out" 2>&1 &&
        fail "layout 2 without tiles migrated and verified"
elif [ $rc != 65 ] || ! [ -s "$T/e" ]; then
    fail "layout 2 without tiles: migrate exit $rc: $(cat "$T/e")"
fi

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
# layout 9 keeps a sealed entry's claim digest raw before its stored
# record (as layout 8 did), layout 7 in its stamp (FORMAT.md 6.1, "Stored
# entries"): a bit flipped in it is found by plain verify and --full (exit
# 1) at that event, named as the digest, and `show` gives the digest as
# stored (a reader does not derive it again). Layout 7's golden image is
# flipped as it is and then migrated: migrate carries the stored digest
# over (and verify finds it) or refuses, naming the event.
rm -rf "$T/n9" "$T/g7"
"$L" --dir "$T/n9" init >/dev/null || exit 1
"$L" --dir "$T/n9" ingest "$ROOT/examples/pdf-ops.jsonl" >/dev/null 2>&1 ||
    fail "ingest"
# (into data.mdb, where poke alters them: at store layout 9 they wait in
# the intake until a flush)
"$L" --dir "$T/n9" flush >/dev/null || fail "flush n9"
unpack layout7 "$T/g7"
for g in n9 g7; do
    if [ $g = g7 ]; then
        # event 5's digest as queries.json recorded it (the same for all)
        d5=$(jq -r 'select(.seq == "5") | .claim_digest' "$V/queries.json" |
            sort -u)
        [ ${#d5} = 64 ] || fail "g7: queries.json's digest of event 5: '$d5'"
        "$T/poke" "$T/$g" flip-digest 5 || fail "$g: poke flip-digest"
        # migrate verifies the store in full as it is first: refused (1),
        # naming the event, data.mdb as it was
        cp "$T/$g/data.mdb" "$T/g7.before"
        "$L" --dir "$T/$g" migrate >"$T/out" 2>"$T/e"; rc=$?
        [ $rc = 1 ] && grep -q "the store does not verify at layout 7 (event 5: claim digest does not match its stamp); nothing was converted" "$T/e" &&
            cmp -s "$T/$g/data.mdb" "$T/g7.before" ||
            fail "$g: migrate of a flipped digest: exit $rc: $(cat "$T/e")"
        continue
    else
        "$L" --dir "$T/$g" verify >/dev/null 2>&1 || fail "$g: verify before the flip"
        d5=$("$L" --dir "$T/$g" show 5 -o json | jq -r .claim_digest)
        "$T/poke" "$T/$g" flip-digest 5 || fail "$g: poke flip-digest"
    fi
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
