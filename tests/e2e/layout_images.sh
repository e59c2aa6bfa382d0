#!/bin/sh
# layout_images.sh — the golden store images of tests/vectors/layout/, one
# per older store layout, of the same 600-event ledger (its README says how
# they were made), fresh5, a ledger a layout 5 build made itself (4,201
# events: seeded bodies, 87 of them compressed with the dictionary its
# 4,096th event brought, an erased body), fresh7, fresh5 carried on by a
# layout 6 build and then a layout 7 one (4,282 events: the layout 6
# build's sealed entries rewritten with their claim digests by the migrate
# to 7, every one stored with its digest in its stamp), and fresh8, fresh7
# carried on by this layout 8 build (4,323 events: every sealed entry
# rewritten by the migrate to 8 and appended with its digest raw before
# the record): this build reads
# each, says its layout, verifies it in full, and gives the recorded
# checkpoint, C2SP tiles and entry bundles and query answers (by type,
# subject, run, actor, body and time), byte for byte, and the same proofs
# from all; none of the older takes an append (this build appends to
# layout 8 only: each is refused naming `ledger migrate`, nothing
# changed), each migrated does; the layout 1 to 7 images migrated (to 8)
# give the same answers and verify in full, and the layout 1 image
# migrated to 2, 3, 4, 5, 6 and 7 those of the layout 2 to 7 images;
# fresh5 migrated to 8 holds every record it held (mdb_dump -a) but meta
# "layout" and the entries, and appends bodies seeded by AES (records 0x05
# and 0x06) and entries in layout 8's form; fresh7 migrated to 8 gives
# its answers again.
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

unpack() { # unpack N DIR [KEY]
    mkdir -m 700 "$2" "$2/keys" || exit 1
    zstd -q -d -c "$V/layout$1.mdb.zst" >"$2/data.mdb" || exit 1
    cp "$V/keys/${3:-log}.key" "$2/keys/log.key" &&
        chmod 600 "$2/keys/log.key" "$2/data.mdb"
}

# same_log WHAT DIR CHECKPOINT VKEY TILES: the ledger in DIR verifies
# (--full) and has the recorded checkpoint, verifier key and tiles' sums
same_log() {
    "$LEDGER" --dir "$2" verify --full >"$T/v" 2>&1 ||
        fail "$1: verify --full: $(cat "$T/v")"
    "$LEDGER" --dir "$2" checkpoint | cmp -s - "$3" ||
        fail "$1: another checkpoint"
    "$LEDGER" --dir "$2" keys verifier | cmp -s - "$4" ||
        fail "$1: another verifier key"
    rm -rf "$T/tiles"
    "$LEDGER" --dir "$2" tiles "$T/tiles" >/dev/null 2>&1 || fail "$1: tiles"
    (cd "$T/tiles" && find . -type f | sort | xargs sha256sum) |
        cmp -s - "$5" || fail "$1: other tiles"
}

# answers N DIR: what the image must answer
answers() {
    "$LEDGER" --dir "$2" stats | grep -q "^layout  *$1 " ||
        fail "layout $1: stats says $("$LEDGER" --dir "$2" stats 2>&1 | grep layout)"
    same_log "layout $1" "$2" "$V/checkpoint" "$V/log.vkey" "$V/tiles.sha256"
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

for n in 1 2 3 4 5 6 7; do
    unpack $n "$T/l$n"
    answers $n "$T/l$n"
done
# the layout 1 image stores a projection this build's code has a newer
# version of: each view answers from the log and says so, naming migrate
# (rebuild refuses an older layout; migrate rebuilds what is behind)
for v in packs "tripcode list"; do
    # shellcheck disable=SC2086
    "$LEDGER" --dir "$T/l1" $v >/dev/null 2>"$T/err" || fail "layout 1: $v"
    grep -q "^ledger ${v%% *}: note: projection [a-z]* is not current in the store (computed from the log for this answer; \`ledger migrate\` fixes the store)$" \
        "$T/err" || fail "layout 1, $v: no stale note: $(cat "$T/err")"
done
"$LEDGER" --dir "$T/l1" rebuild >/dev/null 2>"$T/err" && fail "layout 1: rebuild took an older layout"
grep -q "run \`ledger migrate\`" "$T/err" || fail "layout 1: rebuild: $(cat "$T/err")"
cp -r "$T/l1" "$T/rb1"
"$LEDGER" --dir "$T/rb1" migrate >/dev/null 2>&1 || fail "layout 1: migrate"
"$LEDGER" --dir "$T/rb1" tripcode list >/dev/null 2>"$T/err"
grep -q "not current" "$T/err" && fail "migrated layout 1: $(cat "$T/err")"
for n in 2 3 4 5 6 7; do
    cmp -s "$T/proofs.1" "$T/proofs.$n" ||
        fail "the proofs of layout $n differ from layout 1's"
done
grep -c '^c2sp.org/tlog-proof@v1$' "$T/proofs.1" | grep -qx 7 ||
    fail "proofs: $(head -c 300 "$T/proofs.1")"

# only the newest layout is appended to
for n in 1 2 3 4 5 6 7; do
    "$LEDGER" --dir "$T/l$n" append x.layout.more --body '{"n":1}' \
        >/dev/null 2>"$T/e"
    rc=$?
    [ $rc = 65 ] && grep -q "is at store layout $n, and this build appends to layouts 8 and 9 only: run \`ledger migrate\`" "$T/e" ||
        fail "layout $n: append: exit $rc, $(cat "$T/e")"
    "$LEDGER" --dir "$T/l$n" checkpoint | cmp -s - "$V/checkpoint" ||
        fail "layout $n: a refused append changed the checkpoint"
done

for n in 1 2 3 4 5 6 7; do
    rm -rf "$T/m"
    unpack $n "$T/m"
    "$LEDGER" --dir "$T/m" migrate >/dev/null 2>&1 ||
        fail "migrate the layout $n image"
    answers 9 "$T/m"
    "$LEDGER" --dir "$T/m" append x.layout.more --body '{"n":1}' \
        >/dev/null 2>&1 || fail "layout $n migrated: append"
    "$LEDGER" --dir "$T/m" verify >"$T/v" 2>&1 ||
        fail "layout $n migrated: verify after append: $(cat "$T/v")"
done
for n in 2 3 4 5 6 7; do
    rm -rf "$T/m$n"
    unpack 1 "$T/m$n"
    "$LEDGER" --dir "$T/m$n" migrate --layout $n >/dev/null 2>&1 ||
        fail "migrate the layout 1 image to $n"
    answers $n "$T/m$n"
done

# open_image N STATS QUERIES: image freshN unpacked into $T/freshN (as F),
# its stats line (layout N (STATS)), verify --full, checkpoint, verifier
# key, tiles and the answers of the function QUERIES as recorded
open_image() {
    F=$T/fresh$1
    mkdir -m 700 "$F" "$F/keys" &&
        zstd -q -d -c "$V/fresh$1.mdb.zst" >"$F/data.mdb" &&
        cp "$V/keys/fresh5.key" "$F/keys/log.key" &&
        chmod 600 "$F/keys/log.key" "$F/data.mdb" || exit 1
    "$LEDGER" --dir "$F" stats | grep -q "^layout  *$1 ($2)\$" ||
        fail "fresh$1: stats says $("$LEDGER" --dir "$F" stats 2>&1 | grep layout)"
    "$LEDGER" --dir "$F" stats -o json |
        jq -e --argjson n "$1" '.layout == $n and (has("digest_next") | not)' >/dev/null ||
        fail "fresh$1: stats -o json: $("$LEDGER" --dir "$F" stats -o json 2>&1)"
    same_log "fresh$1" "$F" "$V/fresh$1.checkpoint" "$V/fresh5.vkey" \
        "$V/fresh$1.tiles.sha256"
    "$3" "$F" | cmp -s - "$V/fresh$1.queries.json" ||
        fail "fresh$1: other query answers: $("$3" "$F" | diff - "$V/fresh$1.queries.json" | head -5)"
}

# fresh5: made by a layout 5 build, with seeded bodies and a dictionary
queries5() {
    t1=$("$LEDGER" --dir "$1" show 100 -o json | jq -r .time)
    t2=$("$LEDGER" --dir "$1" show 130 -o json | jq -r .time)
    "$LEDGER" --dir "$1" query -o json -n all run=R-0001
    "$LEDGER" --dir "$1" query -o json -n 25 -r subject=s:3
    "$LEDGER" --dir "$1" query -o json -n 20 body.status=failed
    "$LEDGER" --dir "$1" query -o json -n 10 -g timeout
    "$LEDGER" --dir "$1" query -o json -n all body.n=4100
    "$LEDGER" --dir "$1" query -o json -n all -S "$t1" -U "$t2"
    "$LEDGER" --dir "$1" show -o json 4150
    "$LEDGER" --dir "$1" show -o json 4199
}
open_image 5 "entries without derived bytes, bodies seeded by BLAKE2b, dictionaries; ledger migrate converts it" queries5
"$LEDGER" --dir "$F" stats --databases -o json |
    jq -e '[.databases[] | select(.name == "dicts")][0].records == 1' \
        >/dev/null || fail "fresh5: not one dictionary"
"$LEDGER" --dir "$F" append x.layout.more --body '{"n":1,"status":"ok"}' \
    >/dev/null 2>"$T/e"
rc=$?
[ $rc = 65 ] && grep -q "is at store layout 5, and this build appends to layouts 8 and 9 only: run \`ledger migrate\`" "$T/e" ||
    fail "fresh5: append: exit $rc, $(cat "$T/e")"
# to layout 8 (by way of 6): the layout record and the entries, each
# sealed one's record rewritten with its claim digest, nothing else (the
# body index is current)
"$LEDGER" --dir "$F" migrate --layout 5 >"$T/mig5.out" 2>&1 ||
    fail "fresh5: migrate --layout 5: $(cat "$T/mig5.out")"
have_dump=0
command -v mdb_dump >/dev/null 2>&1 && have_dump=1
# every database but entries5
dump_rest() { mdb_dump -a "$1" | awk '/^database=/ { skip = $0 == "database=entries5" } !skip'; }
[ $have_dump = 1 ] && dump_rest "$F" >"$T/dump5"
"$LEDGER" --dir "$F" migrate --layout 8 >"$T/mig7.out" 2>&1 &&
    grep -q '^layout 5 -> 8 (4201 events)$' "$T/mig7.out" &&
    grep -q '^digests  4201 entries stored with their claim digest as layout 8 keeps it$' "$T/mig7.out" ||
    fail "fresh5: migrate: $(cat "$T/mig7.out")"
if [ $have_dump = 1 ]; then
    dump_rest "$F" >"$T/dump7"
    diff "$T/dump5" "$T/dump7" | grep '^[<>]' >"$T/ddiff"
    printf '<  00000005\n>  00000008\n' | cmp -s - "$T/ddiff" ||
        fail "fresh5: migrate to 8 changed more than the layout record and the entries: $(head -c 400 "$T/ddiff")"
    grep -B1 '^ 00000008$' "$T/dump7" | grep -q "^ $(printf layout | od -An -tx1 | tr -d ' \n')\$" ||
        fail "fresh5: no layout record 8"
fi
"$LEDGER" --dir "$F" stats | grep -q "^layout  *8 " ||
    fail "fresh5 migrated: stats says $("$LEDGER" --dir "$F" stats 2>&1 | grep layout)"
"$LEDGER" --dir "$F" verify --full >"$T/v" 2>&1 ||
    fail "fresh5 migrated: verify --full: $(cat "$T/v")"
"$LEDGER" --dir "$F" checkpoint | cmp -s - "$V/fresh5.checkpoint" ||
    fail "fresh5 migrated: another checkpoint"
queries5 "$F" | cmp -s - "$V/fresh5.queries.json" ||
    fail "fresh5 migrated: other query answers"
"$LEDGER" --dir "$F" append x.layout.more --body '{"n":1,"status":"ok"}' \
    >/dev/null 2>&1 || fail "fresh5 migrated: append"
"$LEDGER" --dir "$F" verify --full >"$T/v" 2>&1 ||
    fail "fresh5: verify after append: $(cat "$T/v")"
# the appended body (seq 4201) is seeded by AES; 4199's stays BLAKE2b's;
# the appended entry keeps its claim digest raw before its record (0x01,
# the digest), and 4199's has it so since the migrate
digest_pair=$(printf '\246digest\304 ' | od -An -tx1 | tr -d ' \n')
if [ $have_dump = 1 ]; then
    mdb_dump -s bodies5 "$F" >"$T/b6"
    for sk in 4201:05 4199:0[23]; do
        s=${sk%:*} k=${sk#*:}
        grep -A1 "^ $(printf '%016x' "$s")\$" "$T/b6" | sed -n 2p |
            grep -q "^ $k" || fail "fresh5: body $s is not a record $k"
    done
    mdb_dump -s entries5 "$F" >"$T/e7"
    for s in 4201 4199 0; do
        grep -A1 "^ $(printf '%016x' "$s")\$" "$T/e7" | sed -n 2p |
            grep -q "^ 01.\{64\}92" || fail "fresh5: entry $s is not in layout 8's form"
    done
fi


# fresh7: fresh5 migrated to 6 and appended to by a layout 6 build (seq
# 4201..4240: entries without their digests, bodies seeded by AES), then
# migrated to 7 (every record rewritten with its digest) and appended to
# by a layout 7 build (4241..4281, an erasure among them): every sealed
# entry keeps its digest in its stamp, and no rewrite is left (stats
# names none). Old records read by deriving their digests: the layout 5
# and 6 images above, and a layout 7 or 8 ledger holding two kinds (a
# rewrite that stopped): tests/ledger/test_migrate.c and
# tests/e2e/migrate.sh.
queries7() {
    t1=$("$LEDGER" --dir "$1" show 4195 -o json | jq -r .time)
    t2=$("$LEDGER" --dir "$1" show 4265 -o json | jq -r .time)
    "$LEDGER" --dir "$1" query -o json -n all -S "$t1" -U "$t2"
    "$LEDGER" --dir "$1" query -o json -n 30 -r subject=s:3
    "$LEDGER" --dir "$1" query -o json -n all body.n=4220
    "$LEDGER" --dir "$1" query -o json -n 10 -g timeout
    "$LEDGER" --dir "$1" show -o json 4199
    "$LEDGER" --dir "$1" show -o json 4220
    "$LEDGER" --dir "$1" show -o json 4230
    "$LEDGER" --dir "$1" show -o json 4260
    "$LEDGER" --dir "$1" show -o json 4281
}
open_image 7 "entries without prev, seeded bodies, dictionaries; ledger migrate converts it" queries7
if [ $have_dump = 1 ]; then
    mdb_dump -s entries5 "$F" >"$T/f7"
    for sk in 0:1 4199:1 4220:1 4240:1 4241:1 4260:1 4281:1; do
        s=${sk%:*} k=${sk#*:}
        n=$(grep -A1 "^ $(printf '%016x' "$s")\$" "$T/f7" | sed -n 2p |
            grep -c "$digest_pair")
        [ "$n" = "$k" ] || fail "fresh7: entry $s keeps its digest: $n, not $k"
    done
fi
CC=${CC:-cc}
if $CC -o "$T/poke" "$ROOT/tests/faults/lmdb_poke.c" \
    $(pkg-config --cflags --libs lmdb 2>/dev/null || echo -llmdb) \
    2>"$T/cc.err"; then
    [ "$("$T/poke" "$F" undigested entries5)" = "0 of 4282" ] ||
        fail "fresh7: entries without their digests: $("$T/poke" "$F" undigested entries5)"
else
    fail "lmdb_poke: $(cat "$T/cc.err")"
fi
"$LEDGER" --dir "$F" append x.layout.more --body '{"n":1,"status":"ok"}' \
    >/dev/null 2>"$T/e"
rc=$?
[ $rc = 65 ] && grep -q "is at store layout 7, and this build appends to layouts 8 and 9 only: run \`ledger migrate\`" "$T/e" ||
    fail "fresh7: append: exit $rc, $(cat "$T/e")"
"$LEDGER" --dir "$F" migrate --layout 8 >"$T/mig.out" 2>&1 &&
    grep -q '^layout 7 -> 8 (4282 events)$' "$T/mig.out" &&
    grep -q '^digests  4282 entries stored with their claim digest as layout 8 keeps it$' "$T/mig.out" ||
    fail "fresh7: migrate: $(cat "$T/mig.out")"
[ "$("$T/poke" "$F" untagged entries5)" = "0 of 4282" ] ||
    fail "fresh7 migrated: entries not in layout 8's form: $("$T/poke" "$F" untagged entries5)"
"$LEDGER" --dir "$F" verify --full >"$T/v" 2>&1 ||
    fail "fresh7 migrated: verify --full: $(cat "$T/v")"
"$LEDGER" --dir "$F" checkpoint | cmp -s - "$V/fresh7.checkpoint" ||
    fail "fresh7 migrated: another checkpoint"
queries7 "$F" | cmp -s - "$V/fresh7.queries.json" ||
    fail "fresh7 migrated: other query answers"
"$LEDGER" --dir "$F" append x.layout.more --body '{"n":1,"status":"ok"}' \
    >/dev/null 2>&1 || fail "fresh7 migrated: append"
"$LEDGER" --dir "$F" verify >"$T/v" 2>&1 ||
    fail "fresh7: verify after append: $(cat "$T/v")"

# fresh8: fresh7 migrated to 8 by this build (every sealed entry's record
# rewritten, the digest raw before it) and appended to (4282..4322, an
# erasure among them): every record is in layout 8's form, no rewrite is
# left
queries8() {
    t1=$("$LEDGER" --dir "$1" show 4195 -o json | jq -r .time)
    t2=$("$LEDGER" --dir "$1" show 4300 -o json | jq -r .time)
    "$LEDGER" --dir "$1" query -o json -n all -S "$t1" -U "$t2"
    "$LEDGER" --dir "$1" query -o json -n 30 -r subject=s:3
    "$LEDGER" --dir "$1" query -o json -n all body.n=4260
    "$LEDGER" --dir "$1" query -o json -n 10 -g timeout
    for s in 4199 4220 4260 4281 4290 4300 4322; do
        "$LEDGER" --dir "$1" show -o json $s
    done
}
open_image 8 "entries without prev, seeded bodies, dictionaries" queries8
[ "$("$T/poke" "$F" untagged entries5)" = "0 of 4323" ] ||
    fail "fresh8: entries not in layout 8's form: $("$T/poke" "$F" untagged entries5)"
"$LEDGER" --dir "$F" migrate --layout 8 >"$T/mig.out" 2>&1 &&
    grep -q '^layout 8 already: nothing to convert (4323 events)$' "$T/mig.out" ||
    fail "fresh8: migrate: $(cat "$T/mig.out")"
# the body kinds a layout 8 store holds (FORMAT.md 4, issue 63): layout
# 5's 0x02 and 0x03 kept as they were, 0x05 and 0x06 since layout 6; and
# what layout 8 writes for a new body: 0x05 or 0x06
body_kinds() { # DIR [SEQ-HEX]: the first byte of each bodies5 value
    mdb_dump -s bodies5 "$1" | awk -v want="${2:-}" '
        /^HEADER=END/ { on = 1; next }
        on && /^ / { if (k == "") { k = $1 } else {
            if (want == "" || k "" == want "") print substr($1, 1, 2); k = "" } }' |
        sort -u | tr '\n' ' '
}
if command -v mdb_dump >/dev/null 2>&1; then
    [ "$(body_kinds "$F")" = "02 03 05 06 " ] ||
        fail "fresh8: body kinds $(body_kinds "$F"), want 02 03 05 06"
else
    echo "SKIP: mdb_dump missing (lmdb-utils): fresh8's body kinds"
fi
s8=$("$LEDGER" --dir "$F" append -q x.layout.more --body '{"n":1,"status":"ok"}' \
    2>/dev/null) || fail "fresh8: append"
"$LEDGER" --dir "$F" verify >"$T/v" 2>&1 ||
    fail "fresh8: verify after append: $(cat "$T/v")"
if command -v mdb_dump >/dev/null 2>&1; then
    k8=$(body_kinds "$F" "$(printf '%016x' "$s8")")
    [ "$k8" = "05 " ] || [ "$k8" = "06 " ] ||
        fail "fresh8: event $s8 appended by layout 8 stored as kind $k8"
fi
# and on to layout 9 (what init makes): its intake made, the same log
"$LEDGER" --dir "$F" checkpoint >"$T/cp8"
"$LEDGER" --dir "$F" migrate >"$T/mig.out" 2>&1 &&
    grep -q '^layout 8 -> 9 (4324 events)$' "$T/mig.out" ||
    fail "fresh8: migrate to 9: $(cat "$T/mig.out")"
"$LEDGER" --dir "$F" checkpoint | cmp -s - "$T/cp8" ||
    fail "fresh8: migrate to 9 changed the checkpoint"
[ -f "$F/intake" ] || fail "fresh8: migrate to 9 made no intake log"
"$LEDGER" --dir "$F" append -q x.layout.more --body '{"n":2}' >/dev/null 2>&1 ||
    fail "fresh8 at 9: append"
"$LEDGER" --dir "$F" verify --full >"$T/v" 2>&1 ||
    fail "fresh8 at 9: verify --full: $(cat "$T/v")"

if [ "$nfail" -gt 0 ]; then
    echo "layout_images: $nfail failure(s)"
    exit 1
fi
echo "layout_images: ok"
