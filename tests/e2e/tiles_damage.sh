#!/bin/sh
# tiles_damage.sh — `ledger tiles` publishes nothing it has not checked: a
# stored tree hash flipped at level 0 (in a full tile and in the partial
# last one) or at level 1 makes it exit 65 naming the damage, with no
# file holding a damaged hash and no checkpoint written, in a new
# directory and over an earlier publication; the undamaged store
# publishes the same files as before. (Until 2026-11-26 a flipped hash of
# level 1 was published with its checkpoint, exit 0.)
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

# 65,795 events and the genesis: tile 1/0 is full (tree level 8, hashes
# 0..255), level 0 has 257 full tiles and a partial one of width 4
G=$T/good
"$L" --dir "$G" init --origin tiles.test/damage >/dev/null || fail init
awk 'BEGIN { for (i = 0; i < 65795; i++)
    printf("{\"type\":\"x.big\",\"body\":{\"n\":%d}}\n", i) }' |
    "$L" --dir "$G" ingest - >/dev/null 2>&1 || fail ingest
# (into data.mdb, where poke alters the tiles: at store layout 9 the
# last events wait in the intake until a flush; at 8 a no-op)
"$L" --dir "$G" flush >/dev/null || fail flush
"$L" --dir "$G" tiles "$T/pub" >/dev/null 2>&1 || fail "tiles of the good store"
[ -f "$T/pub/tile/1/000" ] && [ -f "$T/pub/tile/0/257.p/4" ] ||
    fail "tile layout: $(find "$T/pub" -type f | sort | tail -3)"

# tiles KEYHEX OFFSET WHAT: a copy of the good store with one bit of the
# record KEYHEX of db tiles flipped at OFFSET (a hash: OFFSET/32), or of
# another db (DB:KEYHEX); its tiles in a new directory and over a copy of
# the good publication
damaged() {
    key=$1 off=$2 what=$3 want=$4
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
    "$L" --dir "$T/bad" verify --full >/dev/null 2>&1
    [ $? = 1 ] || fail "$what: verify --full does not fail"
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

# store layout 1, a record per tree node (the golden image of
# tests/vectors/layout/, 600 events: a build makes layout 1 no more): the
# same check from its nodes
G=$T/good1
V=$ROOT/tests/vectors/layout
mkdir -m 700 "$G" "$G/keys" &&
    zstd -q -d -c "$V/layout1.mdb.zst" >"$G/data.mdb" &&
    cp "$V/keys/log.key" "$G/keys/" && chmod 600 "$G/keys/log.key" ||
    fail "unpack the layout 1 image"
rm -rf "$T/pub"
"$L" --dir "$G" tiles "$T/pub" >/dev/null 2>&1 || fail "tiles of layout 1"
# leaf 300, under (8, 1)
damaged tree:00000000000000012c 31 "a leaf in layout 1" \
    "stored hash (8, 1) is not the hash of the stored hashes (0, 256..511)"
echo "tiles_damage: ok"
