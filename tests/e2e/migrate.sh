#!/bin/sh
# migrate.sh — `ledger migrate`: a ledger an earlier build left at an
# older store layout (the golden images of tests/vectors/layout/: a 1.0
# build makes and opens layout 9 only) converted in place to layout 9,
# every old step in turn (docs/FORMAT.md section 6.1: tiles, an index key
# per value, tiles of two pages, entries without prev and sealed ones with
# their claim digests raw before them, bodies seeded by AES, then the
# intake log), in one run from each image, or from wherever a stopped run
# left it.
#
#   * before it: every command on an image (stats, checkpoint, show,
#     query, proof, tiles, archive, doctor, keys, append, ingest, erase,
#     rebuild, flush, verify, serve, serve --otlp, proxy) is refused, 65
#     (verify: 1, its code for a store it cannot open), naming the
#     layout and `ledger --dir DIR migrate`, printing nothing, nothing
#     listening, data.mdb the same bytes and no intake log made;
#   * from the layout 1 image: the checkpoint, verifier key and C2SP tiles
#     (every file) are the recorded ones and the query answers those of
#     queries.json; stats says layout 9, its intake log is there, verify
#     --full passes; the tree's, the indexes' and the events' bytes shrink
#     and the output says so; the old databases are empty; progress on a
#     terminal, erased before the summary, and none elsewhere; appends go
#     on past the next tile; a second run converts nothing;
#   * from each of the layout 2 to 7 images likewise, with the same
#     checkpoint, tiles, proofs, show and query answers (by each index, a
#     glob, a body field and time) as the layout 1 image's, the tiles
#     split (from 2 and 3), the entries rewritten in layout 8's form (0x01,
#     the digest: from 5, 6 and 7, `lmdb_poke untagged`), the body index
#     built where the image had none (1 to 5), and no record left to
#     rewrite; fresh5, fresh7 and
#     fresh8 to their recorded checkpoints and tiles; the format 1 image
#     to the checkpoint it stores, its erasure kept, signing the event it
#     takes;
#   * refused, nothing changed: `--layout` other than 9 (1, 7, 8, 10, 999,
#     typos; 64, naming the newest layout only) of an older store and of a
#     layout 9 one, `init --layout`, $LEDGER_LAYOUT other than unset,
#     no ledger (66), a store at layout 10 or 999 (65); migrate while a
#     server (an older build's) serves the ledger (75), on its socket in
#     DIR or another; migrate of a store whose last verification (an
#     older build's) failed and stands (1);
#   * every I/O call of a migration of the layout 1, 5, 6 and 7 images,
#     in turn, fails with ENOSPC (a full disk) and, in turn, never
#     returns (the process is killed with -9 there): each time the store
#     is at the image's layout or a later one, up to 9; before 9 stats
#     and checkpoint refuse it as above, data.mdb unchanged; at 9
#     verify --full passes with the recorded checkpoint and the answers of
#     before; and migrate run again reaches 9 with the same tiles and
#     answers as an undisturbed run, every entry in layout 8's form and
#     no rewrite left. From 1 some crash leaves 1, 2, 3, 4 with its tiles
#     whole, 4 with the events copied, 8 and 9, none 5, 6 or 7 (from 4
#     the copy stores the entries in layout 8's form and its last
#     transaction writes 8); from 5 some leaves 5, then 6, and from 5, 6
#     and 7 some leaves the image's layout, then 8 with the records not
#     yet all rewritten (meta "digest.next" there), then 9, none 7 (from
#     6 one transaction goes to 8).
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
L=$LEDGER
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/e2e/lib/wait.sh" # killed_in_call PID LOG
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/migrate.XXXXXX") || exit 1
spid=""
cleanup() {
    [ -n "$spid" ] && kill -9 "$spid" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
nfail=0
fail() {
    echo "FAIL: $*"
    nfail=$((nfail + 1))
}

# ------------------------------------------------------ the old ledgers --
V=$ROOT/tests/vectors/layout
command -v zstd >/dev/null 2>&1 || {
    echo "migrate: zstd (the program) is missing"
    exit 1
}
command -v jq >/dev/null 2>&1 || {
    echo "migrate: jq is missing"
    exit 1
}
CC=${CC:-cc}
$CC -o "$T/poke" "$ROOT/tests/faults/lmdb_poke.c" \
    $(pkg-config --cflags --libs lmdb 2>/dev/null || echo -llmdb) \
    2>"$T/cc.err" || { fail "lmdb_poke: $(cat "$T/cc.err")"; exit 1; }
# unpack IMAGE DIR [KEY]: a golden image into a ledger directory
unpack() {
    mkdir -m 700 "$2" "$2/keys" || exit 1
    zstd -q -d -c "$V/$1.mdb.zst" >"$2/data.mdb" || exit 1
    cp "$V/keys/${3:-log}.key" "$2/keys/log.key" &&
        chmod 600 "$2/keys/log.key" "$2/data.mdb" || exit 1
}
# layout_of DIR: the store layout of the ledger in DIR as this build
# tells it: stats' at 9, before that the refusal's ("is at store layout
# N, an earlier build's")
layout_of() {
    if "$L" --dir "$1" stats -o json >"$T/lo" 2>"$T/loe"; then
        jq -r .layout "$T/lo"
    else
        sed -n "s/.* is at store layout \([0-9]*\), an earlier build's: .*/\1/p" "$T/loe"
    fi
}
# refused WHAT DIR N CMD...: CMD on the ledger in DIR, at layout N (an
# earlier build's), exits 65 (verify 1: a store it cannot open fails),
# saying so and naming `ledger --dir DIR migrate`, prints nothing on
# stdout, and leaves data.mdb the same bytes and no intake log made
refused() {
    rw=$1 rd=$2 rn=$3
    shift 3
    cp "$rd/data.mdb" "$T/pre.mdb"
    ri=0
    [ -e "$rd/intake" ] && ri=1
    timeout 20 "$L" --dir "$rd" "$@" >"$T/rout" 2>"$T/rerr"
    rrc=$?
    rwant=65
    [ "$1" = verify ] && rwant=1
    [ $rrc -eq $rwant ] && [ ! -s "$T/rout" ] &&
        grep -qF "$rd is at store layout $rn, an earlier build's: this build reads and appends to layout 9 only, and \`ledger migrate\` converts it in place (run \`ledger --dir $rd migrate\`" "$T/rerr" ||
        fail "$rw: $*: exit $rrc, $(head -c 400 "$T/rout") $(head -c 600 "$T/rerr")"
    cmp -s "$rd/data.mdb" "$T/pre.mdb" ||
        fail "$rw: $*: refused (exit $rrc), yet data.mdb changed"
    [ $ri = 1 ] || [ ! -e "$rd/intake" ] ||
        fail "$rw: $*: refused, yet an intake log was made"
}
# golden WHAT DIR: the ledger (the 600 events of the layout 1 to 7 images,
# migrated) verifies in full, has the recorded checkpoint, verifier key
# and tiles, and answers queries.json as tests/e2e/layout_images.sh asks
golden() {
    "$L" --dir "$2" verify --full >"$T/v" 2>&1 || fail "$1: verify --full: $(cat "$T/v")"
    "$L" --dir "$2" checkpoint 2>&1 | cmp -s - "$V/checkpoint" ||
        fail "$1: not the recorded checkpoint"
    "$L" --dir "$2" keys verifier 2>&1 | cmp -s - "$V/log.vkey" ||
        fail "$1: not the recorded verifier key"
    rm -rf "$T/gt"
    "$L" --dir "$2" tiles "$T/gt" >/dev/null 2>&1 || fail "$1: tiles"
    (cd "$T/gt" && find . -type f | sort | xargs sha256sum) |
        cmp -s - "$V/tiles.sha256" || fail "$1: not the recorded tiles"
    t1=$("$L" --dir "$2" show 100 -o json | jq -r .time)
    t2=$("$L" --dir "$2" show 130 -o json | jq -r .time)
    {
        "$L" --dir "$2" query -o json -n all 'type=model.*'
        "$L" --dir "$2" query -o json -n 25 -r subject=s:3
        "$L" --dir "$2" query -o json -n all run=R-0001
        "$L" --dir "$2" query -o json -n 10 actor=log
        "$L" --dir "$2" query -o json -n all -S "$t1" -U "$t2"
        "$L" --dir "$2" query -o json -n all 'subject=pack:*'
    } 2>&1 | cmp -s - "$V/queries.json" || fail "$1: not the recorded query answers"
}
# answers DIR OUT: what a reader gets from the ledger, into OUT/
answers() {
    mkdir -p "$2"
    "$L" --dir "$1" checkpoint >"$2/checkpoint" 2>&1
    for s in 0 1 255 256 257 511 512 599; do
        "$L" --dir "$1" proof "$s" >"$2/proof.$s" 2>&1
    done
    for o in 1 256 300 600; do
        "$L" --dir "$1" proof --consistency "$o" >"$2/cons.$o" 2>&1
    done
    "$L" --dir "$1" query -o json subject=s:3 >"$2/query" 2>&1
    "$L" --dir "$1" query -o json -n all type=x.layout.test subject=s:2 \
        >"$2/query.type-subject" 2>&1
    "$L" --dir "$1" query -o json -n 40 -r 'subject=s:*' \
        >"$2/query.glob" 2>&1
    "$L" --dir "$1" query -o json -n all run=R-0001 >"$2/query.run" 2>&1
    "$L" --dir "$1" query -o json -n all actor=log 'type=model.*' \
        >"$2/query.actor" 2>&1
    "$L" --dir "$1" query -o json -n all body.n=300 >"$2/query.body" 2>&1
    # the times of events 100 and 130, and what lies between
    "$L" --dir "$1" show 100 -o json >"$2/show.100" 2>&1
    "$L" --dir "$1" show 130 -o json >"$2/show.130" 2>&1
    t1=$(jq -r .time "$2/show.100")
    t2=$(jq -r .time "$2/show.130")
    "$L" --dir "$1" query -o json -n all -S "$t1" -U "$t2" \
        >"$2/query.window" 2>&1
    "$L" --dir "$1" show 257 -o json >"$2/show" 2>&1
    rm -rf "$2/tiles"
    "$L" --dir "$1" tiles "$2/tiles" >/dev/null 2>&1
}
# 600 events: 2 full tiles of leaves and 88 leaves past them
B=$T/base
unpack layout1 "$B"
[ "$(layout_of "$B")" = 1 ] || fail "the layout 1 image: $(cat "$T/loe")"
"$L" --version 2>&1 | sed -n 3p |
    grep -q 'store layout 9 (ledger migrate converts 1 to 8 to it)' ||
    fail "--version: $("$L" --version 2>&1 | sed -n 3p)"

# ------------------------------- an older layout: refused until migrated --
for c in "stats" "stats -o json" "checkpoint" "show 5" "query -o json subject=s:3" \
    "proof 3" "proof --consistency 300" "tiles $T/old.tiles" \
    "archive --before 10 --out $T/old.seg" "doctor" "keys verifier" \
    "append x.migrate.late --body {\"i\":9}" "erase 5 --reason r" \
    "keys add bob" "rebuild" "flush" "verify --full" "serve" \
    "serve --otlp 127.0.0.1:0" \
    "proxy --listen 127.0.0.1:0 --upstream a=http://127.0.0.1:9"; do
    rm -rf "$T/old"
    cp -r "$B" "$T/old"
    # shellcheck disable=SC2086
    refused "layout 1" "$T/old" 1 $c </dev/null
    [ -S "$T/old/ledger.sock" ] && fail "layout 1: $c left a socket"
done
rm -rf "$T/old"
cp -r "$B" "$T/old"
printf '{"type":"x.migrate.late","body":{"i":1}}\n' >"$T/line"
refused "layout 1" "$T/old" 1 ingest - <"$T/line"
[ -e "$T/old.tiles" ] || [ -e "$T/old.seg" ] &&
    fail "layout 1: tiles or archive wrote its output: $(ls "$T")"
# (after the refusals, the answers of an undisturbed migrate)
"$L" --dir "$T/old" migrate >/dev/null 2>&1 || fail "layout 1 after refusals: migrate"
golden "layout 1 after the refusals, migrated" "$T/old"
rm -rf "$T/old"

# init makes layout 9 only
"$L" --dir "$T/i" init --layout 4 >/dev/null 2>"$T/err"
rc=$?
[ $rc -eq 64 ] && grep -q "unknown option '--layout'" "$T/err" && [ ! -e "$T/i" ] ||
    fail "init --layout 4: exit $rc, $(cat "$T/err")"
for v in 4 8 10; do
    LEDGER_LAYOUT=$v "$L" --dir "$T/i" init >/dev/null 2>"$T/err"
    rc=$?
    [ $rc -eq 64 ] && grep -q "LEDGER_LAYOUT is '$v': store layout $v: this build makes layout 9 ledgers only (ledger migrate converts an earlier build's); unset it" "$T/err" &&
        [ ! -e "$T/i/data.mdb" ] || fail "LEDGER_LAYOUT=$v init: exit $rc, $(cat "$T/err")"
done
for v in 0 abc 8x -8 99999999999; do
    LEDGER_LAYOUT=$v "$L" --dir "$T/i" init >/dev/null 2>"$T/err"
    rc=$?
    [ $rc -eq 64 ] && grep -q "LEDGER_LAYOUT is '$v': not a store layout's number; unset it" "$T/err" &&
        [ ! -e "$T/i/data.mdb" ] || fail "LEDGER_LAYOUT=$v init: exit $rc, $(cat "$T/err")"
done
rm -rf "$T/i"

# ------------------------------------------------ migrate, from layout 1 --
D=$T/d
cp -r "$B" "$D"
"$L" --dir "$D" migrate >"$T/out" 2>"$T/err"
rc=$?
[ $rc -eq 0 ] || fail "migrate: exit $rc ($(cat "$T/err"))"
grep -q '^layout 1 -> 9 (600 events)$' "$T/out" ||
    fail "migrate: says $(cat "$T/out")"
# (the indexes layout 1 kept; the body index, new in layout 5, beside)
bix=$("$L" --dir "$D" stats --databases -o json |
    jq '[.databases[] | select(.name == "ix.body")][0].bytes')
[ "${bix:-0}" -gt 0 ] || fail "migrate: no body index built ($bix bytes)"
for what in tree:3 indexes:2 events:1; do
    w=${what%:*} f=${what#*:}
    before=$(sed -n "s/^$w  *\([0-9]*\) -> \([0-9]*\) bytes.*$/\1/p" "$T/out")
    after=$(sed -n "s/^$w  *\([0-9]*\) -> \([0-9]*\) bytes.*$/\2/p" "$T/out")
    [ "$w" = indexes ] && [ -n "$after" ] && after=$((after - bix))
    [ -n "$before" ] && [ -n "$after" ] && [ "$after" -lt $((before / f)) ] ||
        fail "migrate: $w went from '$before' to '$after' bytes"
done
grep -q '^events  *[0-9]* -> [0-9]* bytes (entries and bodies)$' "$T/out" ||
    fail "migrate: no events line ($(cat "$T/out"))"
grep -q '^in use ' "$T/out" || fail "migrate: no bytes in use ($(cat "$T/out"))"
[ -s "$T/err" ] && fail "migrate: stderr not a terminal, yet: $(cat "$T/err")"
"$L" --dir "$D" stats |
    grep -q '^layout  *9 (layout 8, and appends through an intake log; epoch keys)$' ||
    fail "after: stats says $("$L" --dir "$D" stats | grep layout)"
[ "$(layout_of "$D")" = 9 ] || fail "after: stats -o json has no layout 9"
[ -f "$D/intake" ] || fail "after: no intake log"
golden "layout 1 migrated" "$D"
[ "$("$T/poke" "$D" untagged entries5)" = "0 of 600" ] ||
    fail "after: $("$T/poke" "$D" untagged entries5) not in layout 8's form"
answers "$D" "$T/before"
"$L" --dir "$D" stats --databases -o json >"$T/dbs"
jq -e '[.databases[] | select(.name == "tiles")][0].records == 2' "$T/dbs" \
    >/dev/null || fail "after: db tiles does not hold 2 tiles"
jq -e '[.databases[] | select(.name | test("^(idx[.](type|subject|run|actor|time)|entries|bodies)$"))
        | .records] | all(. == 0)' "$T/dbs" >/dev/null ||
    fail "after: the old databases are not empty: $(jq -c '.databases' "$T/dbs")"
jq -e '[.databases[] | select(.name == "ix.subject" or .name == "entries5" or
        .name == "bodies5") | .records] == [600, 600, 600]' "$T/dbs" \
    >/dev/null || fail "after: ix.subject, entries5, bodies5: $(jq -c '.databases' "$T/dbs")"

# ----------------------------------- from each of the layout 2 to 7 images --
# JSON: what each conversion did (2 and 3: the 2 tiles split, the indexes
# a key per value; 4: the tiles split already, the events copied in
# layout 8's form; 5, 6 and 7: every entry rewritten in it)
for n in 2 3 4 5 6 7; do
    rm -rf "$T/m"
    unpack "layout$n" "$T/m"
    refused "layout $n" "$T/m" "$n" checkpoint
    case $n in
    2) want='.tiles_split == 2 and .index_bytes.after < .index_bytes.before and
             .event_bytes.after < .event_bytes.before and
             .tree_bytes.after < .tree_bytes.before and .entries_digested == 0 and
             .body_index_built' ;;
    3) want='.tiles_split == 2 and .tree_bytes.after < .tree_bytes.before and
             .event_bytes.after < .event_bytes.before and .entries_digested == 0 and
             .body_index_built' ;;
    4) want='.tiles_split == 0 and .tree_bytes.after == .tree_bytes.before and
             .event_bytes.after < .event_bytes.before and .entries_digested == 0 and
             .body_index_built' ;;
    5) want='.tiles_split == 0 and .entries_digested == 600 and .body_index_built' ;;
    *) want='.tiles_split == 0 and .entries_digested == 600 and
             (.body_index_built | not) and
             .index_bytes.after == .index_bytes.before' ;;
    esac
    if [ $n = 6 ]; then
        [ "$("$T/poke" "$T/m" undigested entries5)" = "600 of 600" ] ||
            fail "the layout 6 image: $("$T/poke" "$T/m" undigested entries5) without digests"
    fi
    if [ $n = 7 ]; then
        [ "$("$T/poke" "$T/m" undigested entries5):$("$T/poke" "$T/m" untagged entries5)" = "0 of 600:600 of 600" ] ||
            fail "the layout 7 image: $("$T/poke" "$T/m" undigested entries5) without digests"
    fi
    if [ $n -ge 6 ]; then
        # (on a copy: what the words say)
        rm -rf "$T/mh"
        cp -r "$T/m" "$T/mh"
        "$L" --dir "$T/mh" migrate >"$T/out" 2>&1 &&
            grep -q "^layout $n -> 9 (600 events)\$" "$T/out" &&
            grep -q '^digests  600 entries stored with their claim digest as layout 9 keeps it$' "$T/out" ||
            fail "$n -> 9: says $(cat "$T/out")"
        rm -rf "$T/mh"
    fi
    "$L" --dir "$T/m" migrate -o json >"$T/out" 2>&1
    jq -e --argjson n $n ".from == \$n and .to == 9 and .converted and .events == 600 and
        $want" "$T/out" >/dev/null || fail "$n -> 9 -o json: $(cat "$T/out")"
    [ "$(layout_of "$T/m")" = 9 ] && [ -f "$T/m/intake" ] ||
        fail "$n -> 9: not layout 9 with its intake log: $(cat "$T/loe")"
    [ "$("$T/poke" "$T/m" untagged entries5)" = "0 of 600" ] ||
        fail "$n -> 9: $("$T/poke" "$T/m" untagged entries5) not in layout 8's form"
    "$T/poke" "$T/m" keys meta | grep -q '^6469676573742e6e657874 ' &&
        fail "$n -> 9: meta digest.next left"
    golden "layout $n migrated" "$T/m"
    answers "$T/m" "$T/after"
    diff -r "$T/before" "$T/after" >"$T/diff" 2>&1 ||
        fail "answers differ from layout 1's after $n -> 9: $(head -c 600 "$T/diff")"
    "$L" --dir "$T/m" migrate >"$T/out" 2>&1 &&
        grep -q '^layout 9 already: nothing to convert (600 events)$' "$T/out" ||
        fail "$n -> 9, again: $(cat "$T/out")"
    rm -rf "$T/after"
done
rm -rf "$T/m"

# fresh5, fresh7 and fresh8 (an erased body each; seeded and compressed
# bodies; layout 7's and layout 8's records): the recorded checkpoint and
# tiles after, every entry in layout 8's form
for f in 5:4201 7:4282 8:4323; do
    n=${f%:*} ev=${f#*:}
    rm -rf "$T/m"
    unpack "fresh$n" "$T/m" fresh5
    refused "fresh$n" "$T/m" "$n" show 3
    "$L" --dir "$T/m" migrate >"$T/out" 2>&1 &&
        grep -q "^layout $n -> 9 ($ev events)\$" "$T/out" ||
        fail "fresh$n: migrate: $(cat "$T/out")"
    [ "$(layout_of "$T/m")" = 9 ] || fail "fresh$n: not layout 9: $(cat "$T/loe")"
    "$L" --dir "$T/m" verify --full >"$T/v" 2>&1 || fail "fresh$n: verify --full: $(cat "$T/v")"
    "$L" --dir "$T/m" checkpoint 2>&1 | cmp -s - "$V/fresh$n.checkpoint" ||
        fail "fresh$n: not the recorded checkpoint"
    rm -rf "$T/gt"
    "$L" --dir "$T/m" tiles "$T/gt" >/dev/null 2>&1 || fail "fresh$n: tiles"
    (cd "$T/gt" && find . -type f | sort | xargs sha256sum) |
        cmp -s - "$V/fresh$n.tiles.sha256" || fail "fresh$n: not the recorded tiles"
    [ "$("$T/poke" "$T/m" untagged entries5)" = "0 of $ev" ] ||
        fail "fresh$n: $("$T/poke" "$T/m" untagged entries5) not in layout 8's form"
done
rm -rf "$T/m" "$T/gt"

# ---------------------------------------------------- refused, unchanged --
# --layout names the layout to reach: 9, and no other, of a store at an
# older layout (it converted to that one, exit 0, until 2026-12-02) and
# of one at 9 (it said "never back")
cp -r "$B" "$T/one"
for v in 1 2 7 8 10 0 abc 3x 999 1000 -1; do
    cp "$T/one/data.mdb" "$T/pre.mdb"
    "$L" --dir "$T/one" migrate --layout "$v" >"$T/out" 2>"$T/err"
    rc=$?
    [ $rc -eq 64 ] && [ ! -s "$T/out" ] &&
        grep -qF "ledger migrate: --layout: '$v': this build converts a store to the newest layout only (\`ledger --version\` names it)" "$T/err" &&
        cmp -s "$T/one/data.mdb" "$T/pre.mdb" && [ ! -e "$T/one/intake" ] ||
        fail "--layout $v of layout 1: exit $rc, $(cat "$T/out" "$T/err")"
done
[ "$(layout_of "$T/one")" = 1 ] || fail "--layout refused: layout $(layout_of "$T/one")"
"$L" --dir "$T/one" migrate --layout 9 >"$T/out" 2>&1 &&
    grep -q '^layout 1 -> 9 (600 events)$' "$T/out" ||
    fail "--layout 9 of layout 1: $(cat "$T/out")"
rm -rf "$T/one"
for v in 1 3 5 7 8 10 0 abc 3x 999 1000 -1; do
    cp "$D/data.mdb" "$T/pre.mdb"
    "$L" --dir "$D" migrate --layout "$v" >"$T/out" 2>"$T/err"
    rc=$?
    [ $rc -eq 64 ] && [ ! -s "$T/out" ] &&
        grep -qF "ledger migrate: --layout: '$v': this build converts a store to the newest layout only (\`ledger --version\` names it)" "$T/err" &&
        cmp -s "$D/data.mdb" "$T/pre.mdb" ||
        fail "--layout $v at 9: exit $rc, $(cat "$T/out" "$T/err")"
done
"$L" --dir "$D" migrate 3 >/dev/null 2>"$T/err"
rc=$?
[ $rc -eq 64 ] && grep -q "unexpected argument '3'" "$T/err" ||
    fail "migrate 3: exit $rc, $(cat "$T/err")"
"$L" --dir "$D" migrate --layout >/dev/null 2>"$T/err"
rc=$?
[ $rc -eq 64 ] && grep -q "'--layout' needs a value" "$T/err" ||
    fail "--layout without a value: exit $rc, $(cat "$T/err")"
"$L" --dir "$T/none" migrate >/dev/null 2>"$T/err"
rc=$?
[ $rc -eq 66 ] && [ ! -e "$T/none" ] || fail "no ledger: exit $rc, $(cat "$T/err")"
# a store of a later build (layout 10, 999): refused, 65, unchanged
cp -r "$D" "$T/new"
for v in 0000000a:10 000003e7:999; do
    "$T/poke" "$T/new" put meta 6c61796f7574 "${v%:*}" || fail "poke layout ${v#*:}"
    cp "$T/new/data.mdb" "$T/pre.mdb"
    "$L" --dir "$T/new" migrate >"$T/out" 2>"$T/err"
    rc=$?
    [ $rc -eq 65 ] && [ ! -s "$T/out" ] &&
        grep -qF "$T/new: store layout ${v#*:}, this build reads layout 9 (ledger migrate converts 1 to 8 to it)" "$T/err" &&
        cmp -s "$T/new/data.mdb" "$T/pre.mdb" ||
        fail "a store at layout ${v#*:}: migrate: exit $rc, $(cat "$T/out" "$T/err")"
done
rm -rf "$T/new"

# on a terminal: a progress line with a percentage, erased before the
# summary
if script -qec true /dev/null </dev/null >/dev/null 2>&1; then
    cp -r "$B" "$T/tty"
    timeout 120 script -qec "'$L' --dir '$T/tty' migrate" /dev/null </dev/null \
        >"$T/tty.out" 2>&1
    grep -q 'migrate: [0-9]*/[0-9]* ([0-9]*%)' "$T/tty.out" ||
        fail "on a terminal: no progress: $(tr '\r' '\n' <"$T/tty.out" | head -3)"
    grep -q "$(printf '\r\033')\[Klayout 1 -> 9" "$T/tty.out" ||
        fail "on a terminal: the progress line is not erased before the summary"
    rm -rf "$T/tty"
fi

# again: nothing to do
"$L" --dir "$D" migrate >"$T/out" 2>&1 || fail "again: exit $?"
grep -q '^layout 9 already: nothing to convert (600 events)$' "$T/out" &&
    grep -q '^in use  *[1-9][0-9]* -> [1-9][0-9]* bytes' "$T/out" ||
    fail "again: says $(cat "$T/out")"
"$L" --dir "$D" migrate -o json |
    jq -e '.converted == false and .from == 9 and .to == 9 and .events == 600' \
    >/dev/null || fail "again -o json"
"$L" --dir "$D" migrate --layout 9 >"$T/out" 2>&1 &&
    grep -q '^layout 9 already: nothing to convert (600 events)$' "$T/out" ||
    fail "again --layout 9: says $(cat "$T/out")"

# appends go on past the next tile, and verify
awk 'BEGIN { for (i = 0; i < 600; i++)
    printf("{\"type\":\"x.migrate.more\",\"body\":{\"n\":%d}}\n", i) }' |
    "$L" --dir "$D" ingest - >/dev/null 2>&1 || fail "after: ingest"
"$L" --dir "$D" verify --full >"$T/v" 2>&1 || fail "after more: verify: $(cat "$T/v")"
"$L" --dir "$D" proof 1100 >/dev/null 2>&1 || fail "after more: proof"
"$L" --dir "$D" query -o json -n all body.n=300 >"$T/q" 2>&1 &&
    [ "$(jq -s 'length' "$T/q")" = 2 ] || fail "after more: body.n=300: $(cat "$T/q")"

# ------------------------------------------------ a format 1 ledger --
# (signed entries, layout 1: 33 events, event 3's body erased) migrated:
# the checkpoint it stores (its record of size 33, as `mdb_dump -p -s
# checkpoints` shows it in the image, copied here),
# every entry's signature verified, the erasure kept, and the events it
# takes after are signed
F=$T/f1
unpack format1 "$F" format1
refused "format 1" "$F" 1 checkpoint
"$L" --dir "$F" migrate >"$T/out" 2>&1 &&
    grep -q '^layout 1 -> 9 (33 events)$' "$T/out" ||
    fail "format 1: migrate: $(cat "$T/out")"
cat >"$T/f1.ck" <<'CK'
format1.test/ledger
33
xpMwATxzngvZaJ+0jaX/ZUQU1cFox3z87TvXryNpbRw=

— format1.test/ledger 9JlgZFXqwctAOI5uRBEr+W7FMEfrU/F9uUc3lNmGUAa59isK6rU2cQfI4NniTO+x1kfMeEwpat78g/+VSTrI7gTCgwU=
CK
"$L" --dir "$F" checkpoint 2>&1 | cmp -s - "$T/f1.ck" ||
    fail "format 1: another checkpoint: $("$L" --dir "$F" checkpoint 2>&1)"
"$L" --dir "$F" keys verifier 2>&1 | cmp -s - "$V/format1.vkey" ||
    fail "format 1: another verifier key"
"$L" --dir "$F" verify --full >"$T/v" 2>&1 || fail "format 1: verify: $(cat "$T/v")"
"$L" --dir "$F" query -o json -n all 'type=*' 2>&1 |
    jq -s -e 'length == 33 and all(.signature | test("^[0-9a-f]{128}$"))' >/dev/null ||
    fail "format 1: not 33 signed events"
"$L" --dir "$F" show 3 -o json 2>&1 | jq -e '.erased == true' >/dev/null ||
    fail "format 1: event 3's body is no longer erased"
"$L" --dir "$F" append x.migrate.f1 --body '{"i":1}' >/dev/null 2>&1 ||
    fail "format 1: append"
"$L" --dir "$F" show 33 -o json 2>&1 | grep -q '"signature":"[0-9a-f]\{128\}"' ||
    fail "format 1: the new event is not signed"
"$L" --dir "$F" verify --full >"$T/v" 2>&1 || fail "format 1: verify: $(cat "$T/v")"

# -------------------------------------- migrate under a running server --
S=$T/s
cp -r "$B" "$S"
# migrate refused while a server (an older build's, which still serves
# this layout) serves it: on its socket in DIR (anything listening
# there), then on a socket elsewhere (its hold on DIR/serve.lock); until
# 2026-11-26 only DIR/ledger.sock was asked, and the second converted it
command -v python3 >/dev/null 2>&1 && {
    for how in socket lock; do
        if [ $how = socket ]; then
            python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(8)
time.sleep(60)' "$S/ledger.sock" &
            spid=$!
            i=0
            while [ ! -S "$S/ledger.sock" ] && [ $i -lt 600 ]; do
                sleep 0.05
                i=$((i + 1))
            done
        else
            # (python holds the lock itself: flock(1)'s child would keep
            # it after flock is killed)
            python3 -c 'import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_CREAT, 0o644)
fcntl.flock(fd, fcntl.LOCK_SH)
open(sys.argv[1] + ".held", "w").close()
time.sleep(60)' "$S/serve.lock" &
            spid=$!
            i=0
            while [ ! -e "$S/serve.lock.held" ] && [ $i -lt 600 ]; do
                sleep 0.05
                i=$((i + 1))
            done
            rm -f "$S/serve.lock.held"
        fi
        cp "$S/data.mdb" "$T/pre.mdb"
        "$L" --dir "$S" migrate >"$T/out" 2>"$T/err"
        rc=$?
        [ $rc -eq 75 ] && grep -q 'ledger serve serves this ledger' "$T/err" &&
            grep -q 'nothing was changed' "$T/err" ||
            fail "under a server ($how): exit $rc, $(cat "$T/err")"
        [ $how = socket ] || grep -q '(it holds .*serve.lock' "$T/err" ||
            fail "under a server on another socket: $(cat "$T/err")"
        kill "$spid" 2>/dev/null
        wait "$spid" 2>/dev/null
        spid=""
        rm -f "$S/ledger.sock"
        cmp -s "$S/data.mdb" "$T/pre.mdb" && [ ! -e "$S/intake" ] ||
            fail "under a server ($how): data.mdb changed or an intake log made"
        [ "$(layout_of "$S")" = 1 ] || fail "under a server ($how): converted"
    done
}
# stopped: the file stays, held by nobody
"$L" --dir "$S" migrate >/dev/null 2>"$T/err" ||
    fail "after serve stopped: $(cat "$T/err")"
[ "$(layout_of "$S")" = 9 ] || fail "after serve stopped: not layout 9"
rm -rf "$S"

# ------------------------------------------- a standing verify failure --
# An older build's verify found the layout 1 tree damaged (meta
# "verify.finding": be64 seq, be64 time, what) and the finding stands
# until a full verify passes, which no build can run on this layout now:
# migrate refuses (1), converting nothing: it would rebuild the tree and
# hide what verify found (until 2026-11-26 it converted, and the next
# verify --full passed)
cp -r "$B" "$T/bad"
what=$(printf 'Merkle tree node (level 1, index 2) does not match' | od -An -tx1 | tr -d ' \n')
"$T/poke" "$T/bad" put meta 7665726966792e66696e64696e67 \
    "000000000000012c18ab4f2c1f6a0000$what" || fail "poke verify.finding"
cp "$T/bad/data.mdb" "$T/pre.mdb"
"$L" --dir "$T/bad" migrate >"$T/out" 2>"$T/err"
rc=$?
[ $rc -eq 1 ] && grep -q 'the last verification failed (event 300: Merkle tree node (level 1, index 2) does not match) .*nothing was changed' "$T/err" ||
    fail "migrate of a ledger that failed verify: exit $rc, $(cat "$T/err")"
cmp -s "$T/bad/data.mdb" "$T/pre.mdb" ||
    fail "migrate of a ledger that failed verify: refused (exit $rc), yet data.mdb changed"
[ ! -e "$T/bad/intake" ] && [ "$(layout_of "$T/bad")" = 1 ] ||
    fail "migrate of a ledger that failed verify: converted"
# (the finding gone, as a full verify that passed would leave it: the
# conversion of before)
"$T/poke" "$T/bad" del meta 7665726966792e66696e64696e67 || fail "poke del verify.finding"
"$L" --dir "$T/bad" migrate >"$T/out" 2>&1 &&
    grep -q '^layout 1 -> 9 (600 events)$' "$T/out" ||
    fail "migrate once the finding is gone: $(cat "$T/out")"
golden "migrated once the finding is gone" "$T/bad"
rm -rf "$T/bad"

# ------------------------------------ a full disk, kill -9, at every call --
$CC -shared -fPIC -O1 -o "$T/fi.so" "$ROOT/tests/faults/faultinject.c" -ldl \
    2>"$T/cc.err" || { fail "cannot build the shim: $(cat "$T/cc.err")"; exit 1; }
PRE=$T/fi.so
san=$(ldd "$L" 2>/dev/null | awk '/libasan|libubsan|libtsan/ {print $3}' |
    tr '\n' ':')
if [ -n "$san" ]; then
    PRE="$san$T/fi.so"
    ASAN_OPTIONS=${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}verify_asan_link_order=0:detect_leaks=0
    export ASAN_OPTIONS
fi
# what the indexes and a body scan answer (the layout 1 image migrated),
# before and after each crash
qa() {
    "$L" --dir "$1" query -o json -n all type=x.layout.test subject=s:3 2>&1
    "$L" --dir "$1" query -o json -n 30 -r 'subject=s:[15]' 2>&1
    "$L" --dir "$1" query -o json -n all run=R-0001 body.n=7 2>&1
}
rm -rf "$T/c"
cp -r "$B" "$T/c"
"$L" --dir "$T/c" migrate >/dev/null 2>&1 || fail "migrate of layout 1 for qa"
qa "$T/c" >"$T/qa.ref"
[ "$(wc -l <"$T/qa.ref")" -gt 20 ] || fail "few answers: $(head -c 300 "$T/qa.ref")"
rm -rf "$T/good"
"$L" --dir "$T/c" tiles "$T/good" >/dev/null 2>&1 || fail "tiles of the reference"

# after WHAT DIR: where a stopped migrate left the ledger: at layout 9,
# it verifies, has the recorded checkpoint and answers queries as
# before; at an earlier one (from the image's on), every other command
# refuses it, data.mdb unchanged; then migrate finishes the job (layout
# 9, every record in layout 8's form, no rewrite left) with the same
# checkpoint, answers and tiles. Adds to $layouts what it found.
after() {
    lay=$(layout_of "$2")
    case $lay in
    9)
        [ -f "$2/intake" ] || fail "$1: layout 9 without an intake log"
        "$L" --dir "$2" verify --full >"$T/v" 2>&1 || fail "$1: verify: $(cat "$T/v")"
        "$L" --dir "$2" checkpoint 2>&1 | cmp -s - "$V/checkpoint" ||
            fail "$1: another checkpoint"
        qa "$2" | cmp -s - "$T/qa.ref" || fail "$1: other query answers"
        ;;
    [1-8])
        [ "$lay" -ge "$from" ] || fail "$1: layout $lay, before the image's $from"
        refused "$1" "$2" "$lay" checkpoint
        ;;
    *) fail "$1: stats: layout '$lay' ($(cat "$T/loe"))" ;;
    esac
    tag=$lay
    # a migrate to 5 stopped after copying events: layout 4 still; one to
    # 4 stopped with tiles not yet split (db tiles: 256 hashes, not 255)
    if [ "$lay" = 4 ]; then
        "$T/poke" "$2" keys tiles 2>/dev/null | grep -q ' 8192$' && tag=4whole
        "$T/poke" "$2" keys entries5 2>/dev/null | grep -q . && tag="$tag 4copied"
    fi
    # a rewrite of the entries stopped part way: meta "digest.next" says
    # where it goes on
    if [ "$lay" = 8 ]; then
        left=$("$T/poke" "$2" untagged entries5)
        if "$T/poke" "$2" keys meta | grep -q '^6469676573742e6e657874 '; then
            tag=8partly
            [ "$left" != "0 of 600" ] || [ "$from" -lt 5 ] ||
                fail "$1: digest.next, yet every record in layout 8's form"
        else
            [ "$left" = "0 of 600" ] ||
                fail "$1: $left not in layout 8's form, and no digest.next"
        fi
    fi
    layouts="$layouts $tag"
    "$L" --dir "$2" migrate >"$T/m" 2>&1 || fail "$1: migrate again: $(cat "$T/m")"
    [ "$(layout_of "$2")" = 9 ] && [ -f "$2/intake" ] ||
        fail "$1: migrate again: not layout 9: $(cat "$T/m")"
    [ "$("$T/poke" "$2" untagged entries5)" = "0 of 600" ] ||
        fail "$1: migrate again: entries not in layout 8's form: $("$T/poke" "$2" untagged entries5)"
    "$T/poke" "$2" keys meta | grep -q '^6469676573742e6e657874 ' &&
        fail "$1: migrate again: meta digest.next left"
    "$L" --dir "$2" verify --full >"$T/v" 2>&1 ||
        fail "$1: verify after migrate again: $(cat "$T/v")"
    "$L" --dir "$2" checkpoint 2>&1 | cmp -s - "$V/checkpoint" ||
        fail "$1: another checkpoint after migrate again"
    qa "$2" | cmp -s - "$T/qa.ref" ||
        fail "$1: other query answers after migrate again"
    rm -rf "$T/t"
    "$L" --dir "$2" tiles "$T/t" >/dev/null 2>&1
    diff -r "$T/good" "$T/t" >/dev/null 2>&1 || fail "$1: other tiles after"
}
# MIGRATE_CALL_STEP: every call (1, by hand and make torture), every
# third (3, make check) or every fifth one (5, make asan, where each run
# is slow)
step=${MIGRATE_CALL_STEP:-1}
# sweep FROM: every I/O call of a migrate of the layout FROM image to 9,
# in turn, failed (ENOSPC) and hung (killed with -9)
said=""
sweep() {
    from=$1
    rm -rf "$T/img" "$T/c" "$T/count"
    unpack "layout$from" "$T/img"
    cp -r "$T/img" "$T/c"
    FAULT_COUNT_FILE=$T/count LD_PRELOAD=$PRE "$L" --dir "$T/c" migrate \
        >/dev/null 2>&1 || fail "$from -> 9: counting run failed"
    calls=$(cat "$T/count" 2>/dev/null || echo 0)
    [ "$calls" -gt 5 ] || fail "$from -> 9: a migration made only '$calls' I/O calls"
    layouts=""
    n=1
    while [ "$n" -le "$calls" ]; do
        rm -rf "$T/c"
        cp -r "$T/img" "$T/c"
        FAULT_AT=$n FAULT_ERRNO=ENOSPC LD_PRELOAD=$PRE "$L" --dir "$T/c" migrate \
            >"$T/out" 2>"$T/err"
        rc=$?
        # a call that fails after the switch was durable (the last fsync's
        # neighbours) may still leave layout 9 and exit 0; otherwise 74
        case $rc in
        0 | 74) ;;
        *) fail "$from -> 9: ENOSPC at call $n: exit $rc ($(cat "$T/err"))" ;;
        esac
        [ $rc -eq 74 ] && ! grep -qi 'no space\|I/O error' "$T/err" &&
            fail "$from -> 9: ENOSPC at call $n: says $(cat "$T/err")"
        after "$from -> 9: ENOSPC at call $n" "$T/c"

        rm -rf "$T/c"
        cp -r "$T/img" "$T/c"
        rm -f "$T/flog"
        FAULT_AT=$n FAULT_MODE=hang FAULT_LOG=$T/flog LD_PRELOAD=$PRE "$L" \
            --dir "$T/c" migrate >/dev/null 2>&1 &
        killed_in_call $! "$T/flog"
        after "$from -> 9: kill -9 at call $n" "$T/c"
        n=$((n + step))
    done
    # (from 4 the copy's last transaction writes layout 8; from 6 one
    # transaction goes to 8: none leaves 7)
    case "$from:$layouts" in
    [1-4]:*" 5"* | [1-4]:*" 6"* | [1-6]:*" 7"*)
        fail "$from -> 9: a crash left a layout between 4 and 8:$layouts" ;;
    esac
    case "$from:$layouts" in
    1:*" 1"*" 2"*" 3"*" 4whole"*" 4copied"*" 8"*" 9"*) ;;
    # (layout 3 stands between two transactions only: every call (make
    # torture) finds it; one in three or five may step over it)
    1:*" 1"*" 2"*" 4whole"*" 4copied"*" 8"*" 9"*)
        [ "$step" = 1 ] && fail "1 -> 9: no crash left layout 3:$layouts" ;;
    1:*) fail "1 -> 9: no crash left layout 1, then 2, then 4 with its tiles whole, then 4 with events copied, then 8, then 9:$layouts" ;;
    5:*" 5"*" 6"*" 8partly"*" 9"* | [67]:*" $from"*" 8partly"*" 9"*) ;;
    *) [ "$step" = 1 ] &&
        fail "$from -> 9: no crash left layout $from, then 8 with the records not yet rewritten, then 9:$layouts" ;;
    esac
    said="$said $from: $calls,"
}
sweep 1
sweep 5
sweep 6
sweep 7

if [ "$nfail" -gt 0 ]; then
    echo "migrate: $nfail failure(s)"
    exit 1
fi
if [ "$step" = 1 ]; then
    echo "migrate: ok (migrations of 600 events to layout 9, I/O calls from layout${said%,}: each failed and each killed)"
else
    echo "migrate: ok (migrations of 600 events to layout 9, I/O calls from layout${said%,}: one in $step failed and killed)"
fi
