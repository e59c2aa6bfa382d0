#!/bin/sh
# tiles_damage.sh — `ledger tiles` publishes nothing it has not checked: a
# stored tree hash flipped at level 0 (in a full tile and in the partial
# last one) or at level 1 makes it exit 65 naming the damage, with no
# file holding a damaged hash and no checkpoint written, in a new
# directory and over an earlier publication; the undamaged store
# publishes the same files as before. (Until 2026-11-26 a flipped hash of
# level 1 was published with its checkpoint, exit 0.) And a golden image
# of an older layout (tests/vectors/layout/, 600 events), which this build
# does not read until `ledger migrate` converts it: undamaged, `tiles`
# refuses it as it is (exit 65, naming its layout and migrate, data.mdb
# unchanged) and migrated publishes the recorded tiles; damaged before
# migrating, the damage is caught: migrate verifies the store in full as
# it is first and refuses (exit 1) naming the event, data.mdb as it was,
# and leaves it at its layout (a second migrate refuses alike): layout 1
# (a record per tree node), 4 (a full tile's last hash apart) and 7
# (tiles, entries without prev).
set -u
L=${LEDGER:?set LEDGER to the ledger binary}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
CC=${CC:-cc}
PKG=${PKG_CONFIG:-pkg-config}
$CC -o "$T/poke" "$ROOT/tests/faults/lmdb_poke.c" \
    $($PKG --cflags --libs lmdb 2>/dev/null || echo -llmdb) 2>"$T/cc.err" ||
    fail "lmdb_poke does not build: $(cat "$T/cc.err")"

# 65,794 events, the genesis and init's anchor (event 1): 65,796 leaves,
# tile 1/0 is full (tree level 8, hashes 0..255), level 0 has 257 full
# tiles and a partial one of width 4
G=$T/good
"$L" --dir "$G" init --origin tiles.test/damage >/dev/null || fail init
awk 'BEGIN { for (i = 0; i < 65794; i++)
    printf("{\"type\":\"x.big\",\"body\":{\"n\":%d}}\n", i) }' |
    "$L" --dir "$G" ingest - >/dev/null 2>&1 || fail ingest
# (into data.mdb, where poke alters the tiles: at store layout 9 the
# last events wait in the intake until a flush; at 8 a no-op)
"$L" --dir "$G" flush >/dev/null || fail flush
"$L" --dir "$G" tiles "$T/pub" >/dev/null 2>&1 || fail "tiles of the good store"
[ -f "$T/pub/tile/1/000" ] && [ -f "$T/pub/tile/0/257.p/4" ] ||
    fail "tile layout: $(find "$T/pub" -type f | sort | tail -3)"

# damaged KEYHEX OFFSET WHAT WANT [VWANT]: a copy of the good store $G
# with one bit of the record KEYHEX of db tiles flipped at OFFSET (a hash:
# OFFSET/32), or of another db (DB:KEYHEX); its tiles in a new directory
# and over a copy of the good publication $T/pub refused naming WANT, and
# verify --full fails (naming VWANT).
damaged() {
    key=$1 off=$2 what=$3 want=$4 vwant=${5:-}
    rm -rf "$T/bad" "$T/new" "$T/over"
    cp -a "$G" "$T/bad"
    case $key in
    *:*) "$T/poke" "$T/bad" flip "${key%%:*}" "${key#*:}" "$off" ;;
    *) "$T/poke" "$T/bad" flip tiles "$key" "$off" ;;
    esac || fail "$what: poke"
    "$L" --dir "$T/bad" tiles "$T/new" >"$T/out" 2>"$T/err"
    rc=$?
    [ "$rc" = 65 ] || fail "$what: tiles exit $rc, want 65: $(cat "$T/err")"
    grep -q "$want" "$T/err" || fail "$what: message: $(cat "$T/err")"
    [ -s "$T/out" ] && fail "$what: a report on stdout: $(cat "$T/out")"
    [ -e "$T/new/checkpoint" ] && fail "$what: a checkpoint was written"
    # every file written is byte for byte the good store's
    (cd "$T/new" && find . -type f) | while read -r f; do
        cmp -s "$T/new/$f" "$T/pub/$f" || echo "$f"
    done >"$T/diff"
    [ -s "$T/diff" ] && fail "$what: damaged files written: $(cat "$T/diff")"
    # over the good publication: refused, nothing changed (the next
    # events are not there: the same size, so every file is compared)
    cp -a "$T/pub" "$T/over"
    rm "$T/over/checkpoint"
    "$L" --dir "$T/bad" tiles "$T/over" >/dev/null 2>"$T/err"
    rc=$?
    [ "$rc" = 65 ] || fail "$what, over: exit $rc: $(cat "$T/err")"
    diff -r "$T/pub" "$T/over" 2>&1 | grep -v "Only in $T/pub: checkpoint" |
        grep . && fail "$what, over: the publication changed"
    "$L" --dir "$T/bad" verify --full >"$T/out" 2>&1
    [ $? = 1 ] || fail "$what: verify --full does not fail"
    [ -z "$vwant" ] || grep -q "$vwant" "$T/out" ||
        fail "$what: verify --full: $(cat "$T/out")"
    return 0
}

# level 0, a full tile: tile 0/5's hash 3 (tree (0, 1283))
damaged 000000000000000005 100 "a level-0 hash" \
    "stored hash (8, 5) is not the hash of the stored hashes (0, 1280..1535)"
# level 1: tile 1/0's hash 3 (tree (8, 3)): level 0 under it is sound, so
# the check at level 2 names the pair
damaged 010000000000000000 100 "a level-1 hash" \
    "stored hash (16, 0) is not the hash of the stored hashes (8, 0..255)"
# the partial last tile of level 0: tree (0, 65792), in db tree, one of
# the hashes the root is made of
damaged tree:000000000000010100 31 "a leaf of the partial tile" \
    "root at size 65796 is not the signed checkpoint's"
# an entry: its bundle's check names the event
damaged entries:0000000000000064 40 "an entry" \
    "event 100: entry does not match its leaf hash"

# the good store again: the same files as its first publication
"$L" --dir "$G" tiles "$T/again" >/dev/null 2>&1 || fail "tiles again"
diff -r "$T/pub" "$T/again" >/dev/null || fail "a second publication differs"

# the golden images of older layouts (600 events, tests/vectors/layout/):
# this build reads none as it is, migrate converts it
V=$ROOT/tests/vectors/layout
command -v zstd >/dev/null 2>&1 || fail "zstd (the program) is missing"
image() { # image N DIR: the layout N image unpacked into DIR
    rm -rf "$2"
    mkdir -m 700 "$2" "$2/keys" &&
        zstd -q -d -c "$V/layout$1.mdb.zst" >"$2/data.mdb" &&
        cp "$V/keys/log.key" "$2/keys/" &&
        chmod 600 "$2/keys/log.key" "$2/data.mdb" ||
        fail "unpack the layout $1 image"
}
# refused N DIR WHAT: a command on DIR (at layout N) exits 65 naming its
# layout and `ledger migrate`, and leaves data.mdb as it was
refused() {
    cp "$2/data.mdb" "$T/before.mdb"
    "$L" --dir "$2" tiles "$T/ref" >"$T/out" 2>"$T/err"
    rc=$?
    [ "$rc" = 65 ] || fail "$3: tiles exit $rc, want 65: $(cat "$T/err")"
    grep -q "is at store layout $1, an earlier build's: this build reads and appends to layout 9 only, and \`ledger migrate\` converts it in place" \
        "$T/err" || fail "$3: tiles: $(cat "$T/err")"
    [ -e "$T/ref/checkpoint" ] && fail "$3: tiles wrote a checkpoint"
    cmp -s "$2/data.mdb" "$T/before.mdb" || fail "$3: the refusal changed data.mdb"
    rm -rf "$T/ref"
}
# good N: the layout N image, refused as it is, migrated ($G) and its
# tiles ($T/pub): the recorded ones
good() {
    G=$T/good$1
    image "$1" "$G"
    refused "$1" "$G" "the layout $1 image"
    "$L" --dir "$G" migrate >"$T/out" 2>&1 &&
        grep -q "^layout $1 -> 9 (600 events)\$" "$T/out" ||
        fail "migrate the layout $1 image: $(cat "$T/out")"
    rm -rf "$T/pub"
    "$L" --dir "$G" tiles "$T/pub" >/dev/null 2>&1 ||
        fail "tiles of the layout $1 image migrated"
    (cd "$T/pub" && find . -type f | sort | xargs sha256sum) >"$T/sums"
    cmp -s "$V/tiles.sha256" "$T/sums" ||
        fail "the layout $1 image migrated: other tiles: $(diff "$V/tiles.sha256" "$T/sums" | head -4)"
}
# migrate_refuses N KEY OFFSET WHAT EVENT: the layout N image with the
# bit flipped (as damaged) is refused by migrate, whose full verification
# of the store as it is (exit 1) names EVENT, with data.mdb as it was; it
# stays at layout N (what a command says) and is refused alike again
migrate_refuses() {
    n=$1 key=$2 off=$3 what=$4 ev=$5
    image "$n" "$T/bad"
    "$T/poke" "$T/bad" flip "${key%%:*}" "${key#*:}" "$off" >/dev/null ||
        fail "$what: poke"
    cp "$T/bad/data.mdb" "$T/bad.before"
    for i in 1 2; do
        "$L" --dir "$T/bad" migrate >"$T/out" 2>"$T/err"
        rc=$?
        [ "$rc" = 1 ] || fail "$what: migrate ($i) exit $rc, want 1: $(cat "$T/err")"
        grep -q "^ledger migrate: the store does not verify at layout $n (event $ev: stored Merkle hash at level 0 differs from the entries" "$T/err" &&
            grep -q "nothing was converted: the store is damaged: restore data.mdb from a backup" "$T/err" ||
            fail "$what: migrate ($i): $(cat "$T/err")"
        cmp -s "$T/bad/data.mdb" "$T/bad.before" || fail "$what: migrate ($i) changed data.mdb"
        refused "$n" "$T/bad" "$what, migrate refused ($i)"
    done
}

# layout 1, a record per tree node; layout 4, tiles with the last hash of
# a full one apart (db tree); layout 7, tiles as layout 9 keeps them:
# migrate verifies the store in full as it is before it converts, and
# names the first event whose leaf the damaged hash stands for
good 1
migrate_refuses 1 tree:00000000000000012c 31 "layout 1: leaf 300" 300
migrate_refuses 1 tree:000000000000000257 31 "layout 1: leaf 599" 599
good 4
migrate_refuses 4 tiles:000000000000000001 100 "layout 4: tile 0/1's hash 3" 259
migrate_refuses 4 tree:0000000000000000ff 31 "layout 4: tile 0/0's last hash" 255
good 7
migrate_refuses 7 tiles:000000000000000001 100 "layout 7: tile 0/1's hash 3" 259
migrate_refuses 7 tree:000000000000000257 31 "layout 7: leaf 599" 599
echo "tiles_damage: ok"
