#!/bin/sh
# layout_images.sh — the golden store images of tests/vectors/layout/, one
# per older store layout, of the same 600-event ledger (its README says how
# they were made), fresh5, a ledger a layout 5 build made itself (4,201
# events: seeded bodies, 87 of them compressed with the dictionary its
# 4,096th event brought, an erased body), fresh7, fresh5 carried on by a
# layout 6 build and then a layout 7 one (4,282 events: the layout 6
# build's sealed entries rewritten with their claim digests by the migrate
# to 7, every one stored with its digest in its stamp), and fresh8, fresh7
# carried on by a layout 8 build (4,323 events: every sealed entry
# rewritten by the migrate to 8 and appended with its digest raw before
# the record). This build (1.0) reads and appends to layout 9 only: each
# image is refused as it is by every command but `ledger migrate` (exit
# 65, verify 1, naming its layout and `ledger --dir DIR migrate`, nothing
# on stdout; reading and writing commands alike leave data.mdb byte for
# byte as it was), and `migrate --layout N` for N below 9 is a
# usage error (exit 64, data.mdb as it was). `ledger migrate` converts each
# to 9 in one run (all the steps from its layout; the images of layouts
# 2 to 7 are what the steps from 1 left, so there is no `--layout N` to
# stop at); then each gives the recorded checkpoint, verifier key, C2SP
# tiles and entry bundles and query answers (by type, subject, run,
# actor, body and time), byte for byte, and the same proofs from all,
# verifies in full, says layout 9, takes an append and verifies after it,
# and a second migrate has nothing to convert; layout 1's projections,
# older than this build's, are current after it. fresh5 migrated holds
# every record of its log and indexes that it held (mdb_dump -a: all but
# the entries, rewritten with their digests, the body index it builds, the
# projections brought to this build's, and meta's layout 5 -> 9, intake
# and ix.body), its dictionary, and appends bodies seeded by AES (0x05)
# and entries in layout 8's form (0x01, the digest), 4,199's body staying
# BLAKE2b's; fresh7 (every sealed entry with its digest in its stamp, in
# the image) migrated has every entry in layout 8's form; fresh8 (every
# entry in that form, body kinds 0x02, 0x03, 0x05 and 0x06) migrated makes
# its intake log, keeps those bodies, and stores a new body as 0x05 or
# 0x06.
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
have_dump=0
command -v mdb_dump >/dev/null 2>&1 && have_dump=1
[ $have_dump = 1 ] || echo "SKIP: mdb_dump missing (lmdb-utils): the records of images and migrated stores"
# records DIR: every record of every database of DIR (mdb_dump -a), the
# databases that hold none left out
records() {
    mdb_dump -a "$1" | awk '
        /^VERSION=/ { nh = 0; on = 0 }
        /^ / && !on { for (i = 1; i <= nh; i++) print h[i]; on = 1 }
        on { print; next }
        { h[++nh] = $0 }'
}

# refused N DIR WHAT: every command but migrate refuses the ledger in DIR,
# at store layout N (an earlier build's), naming it and `ledger migrate`:
# exit 65 (verify's failure, 1), nothing on stdout; the reading ones leave
# data.mdb byte for byte as it was, the writing ones (append, erase,
# rebuild, flush) too: a writable open creates no database in a store it
# refuses
refused() {
    cp "$2/data.mdb" "$T/before.mdb"
    want="$2 is at store layout $1, an earlier build's: this build reads and appends to layout 9 only, and \`ledger migrate\` converts it in place (run \`ledger --dir $2 migrate\`:"
    for c in stats "stats -o json" verify "verify --full" checkpoint \
        "keys verifier" "show 100" "show -o json 0" "query -n 5 run=R-0001" \
        "proof 5" "proof --consistency 6" "tiles $T/reftiles" packs \
        "tripcode list" doctor "-- append x.layout.more --body {\"n\":1}" \
        "-- erase 5 --reason refused" "-- rebuild" "-- flush"; do
        w=${c#-- }
        # shellcheck disable=SC2086
        "$LEDGER" --dir "$2" $w >"$T/o" 2>"$T/e"
        rc=$?
        case $w in verify*) x=1 ;; *) x=65 ;; esac
        [ "$rc" = $x ] || fail "$3: $w: exit $rc, want $x: $(head -c 300 "$T/e")"
        [ -s "$T/o" ] && fail "$3: $w: stdout: $(head -c 200 "$T/o")"
        case $(head -c 80 "$T/e") in
        "ledger ${w%% *}: "*) ;;
        *) fail "$3: $w: stderr: $(head -c 200 "$T/e")" ;;
        esac
        grep -qF "$want" "$T/e" || fail "$3: $w: stderr: $(head -c 400 "$T/e")"
        [ -e "$T/reftiles/checkpoint" ] && fail "$3: $w: a checkpoint written"
        cmp -s "$2/data.mdb" "$T/before.mdb" || fail "$3: $w: data.mdb changed"
    done
    [ -e "$2/intake" ] && fail "$3: the refusals made an intake log"
    # no step short of the newest: a usage error before the ledger opens
    cp "$2/data.mdb" "$T/before.mdb"
    for to in 2 5 8; do
        "$LEDGER" --dir "$2" migrate --layout $to >"$T/o" 2>"$T/e"
        rc=$?
        [ "$rc" = 64 ] && grep -qx "ledger migrate: --layout: '$to': this build converts a store to the newest layout only (\`ledger --version\` names it)" "$T/e" ||
            fail "$3: migrate --layout $to: exit $rc: $(head -c 300 "$T/e")"
    done
    cmp -s "$2/data.mdb" "$T/before.mdb" || fail "$3: migrate --layout changed data.mdb"
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

# answers N DIR: what the layout N image, migrated, must answer
answers() {
    "$LEDGER" --dir "$2" stats | grep -q "^layout  *9 " ||
        fail "layout $1 migrated: stats says $("$LEDGER" --dir "$2" stats 2>&1 | grep layout)"
    same_log "layout $1 migrated" "$2" "$V/checkpoint" "$V/log.vkey" "$V/tiles.sha256"
    for s in 0 255 256 300 511 512 599; do
        "$LEDGER" --dir "$2" proof "$s" 2>&1
        "$LEDGER" --dir "$2" proof --consistency "$((s + 1))" 2>&1
    done >"$T/proofs.$1"
    queries "$2" | cmp -s - "$V/queries.json" ||
        fail "layout $1 migrated: other query answers: $(queries "$2" | diff - "$V/queries.json" | head -5)"
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

# again WHAT DIR EVENTS: a second migrate has nothing to convert and
# changes no answer of the log
again() {
    "$LEDGER" --dir "$2" checkpoint >"$T/cp.again"
    "$LEDGER" --dir "$2" migrate >"$T/mig.again" 2>&1 &&
        grep -q "^layout 9 already: nothing to convert ($3 events)\$" "$T/mig.again" ||
        fail "$1: migrate again: $(cat "$T/mig.again")"
    "$LEDGER" --dir "$2" checkpoint | cmp -s - "$T/cp.again" ||
        fail "$1: migrate again changed the checkpoint"
}

# each image refused as it is, then migrated whole to 9 (human output,
# --layout 9 for layout 2's, -o json for layout 3's)
for n in 1 2 3 4 5 6 7; do
    unpack $n "$T/l$n"
    refused $n "$T/l$n" "the layout $n image"
    case $n in
    2) "$LEDGER" --dir "$T/l$n" migrate --layout 9 >"$T/mig.out" 2>&1 &&
        grep -q "^layout 2 -> 9 (600 events)\$" "$T/mig.out" ;;
    3) "$LEDGER" --dir "$T/l$n" migrate -o json >"$T/mig.out" 2>&1 &&
        jq -e '.from == 3 and .to == 9 and .converted == true and .events == 600' \
            "$T/mig.out" >/dev/null ;;
    *) "$LEDGER" --dir "$T/l$n" migrate >"$T/mig.out" 2>&1 &&
        grep -q "^layout $n -> 9 (600 events)\$" "$T/mig.out" ;;
    esac || fail "migrate the layout $n image: $(cat "$T/mig.out")"
    [ -f "$T/l$n/intake" ] || fail "the layout $n image migrated: no intake log"
    answers $n "$T/l$n"
    again "the layout $n image migrated" "$T/l$n" 600
    "$LEDGER" --dir "$T/l$n" append x.layout.more --body '{"n":1}' \
        >/dev/null 2>&1 || fail "layout $n migrated: append"
    "$LEDGER" --dir "$T/l$n" verify >"$T/v" 2>&1 ||
        fail "layout $n migrated: verify after append: $(cat "$T/v")"
done
# the layout 1 image stores projections this build's code has a newer
# version of: migrated, each view answers from the store, with no note
for v in packs "tripcode list"; do
    # shellcheck disable=SC2086
    "$LEDGER" --dir "$T/l1" $v >/dev/null 2>"$T/err" ||
        fail "layout 1 migrated: $v: $(cat "$T/err")"
    grep -q "not current" "$T/err" && fail "layout 1 migrated, $v: $(cat "$T/err")"
done
for n in 2 3 4 5 6 7; do
    cmp -s "$T/proofs.1" "$T/proofs.$n" ||
        fail "the proofs of layout $n differ from layout 1's"
done
grep -c '^c2sp.org/tlog-proof@v1$' "$T/proofs.1" | grep -qx 7 ||
    fail "proofs: $(head -c 300 "$T/proofs.1")"

# open_image N: image freshN unpacked into $T/freshN (as F), refused as
# it is
open_image() {
    F=$T/fresh$1
    mkdir -m 700 "$F" "$F/keys" &&
        zstd -q -d -c "$V/fresh$1.mdb.zst" >"$F/data.mdb" &&
        cp "$V/keys/fresh5.key" "$F/keys/log.key" &&
        chmod 600 "$F/keys/log.key" "$F/data.mdb" || exit 1
    refused "$1" "$F" "fresh$1"
}
# migrated N EVENTS QUERIES [THEN]: freshN ($F) migrated to 9 (its output
# in $T/mig.out; the function THEN run right after it), its stats line,
# no rewrite left, verify --full, checkpoint, verifier key, tiles and the
# answers of the function QUERIES as recorded
migrated() {
    "$LEDGER" --dir "$F" migrate >"$T/mig.out" 2>&1 &&
        grep -q "^layout $1 -> 9 ($2 events)\$" "$T/mig.out" ||
        fail "fresh$1: migrate: $(cat "$T/mig.out")"
    "${4:-:}"
    [ -f "$F/intake" ] || fail "fresh$1 migrated: no intake log"
    "$LEDGER" --dir "$F" stats |
        grep -q '^layout  *9 (layout 8, and appends through an intake log; epoch keys)$' ||
        fail "fresh$1 migrated: stats says $("$LEDGER" --dir "$F" stats 2>&1 | grep layout)"
    "$LEDGER" --dir "$F" stats -o json |
        jq -e '.layout == 9 and (has("digest_next") | not)' >/dev/null ||
        fail "fresh$1 migrated: stats -o json: $("$LEDGER" --dir "$F" stats -o json 2>&1)"
    same_log "fresh$1 migrated" "$F" "$V/fresh$1.checkpoint" "$V/fresh5.vkey" \
        "$V/fresh$1.tiles.sha256"
    "$3" "$F" | cmp -s - "$V/fresh$1.queries.json" ||
        fail "fresh$1 migrated: other query answers: $("$3" "$F" | diff - "$V/fresh$1.queries.json" | head -5)"
    again "fresh$1 migrated" "$F" "$2"
}
# the first byte of the record of seq S (decimal) in db DB of DIR
record_kind() { # DIR DB S
    mdb_dump -s "$2" "$1" | grep -A1 "^ $(printf '%016x' "$3")\$" | sed -n 2p |
        cut -c2-3
}
# the body kinds of DIR (FORMAT.md 4): the first byte of each bodies5 value
body_kinds() {
    mdb_dump -s bodies5 "$1" | awk '
        /^HEADER=END/ { on = 1; next }
        on && /^ / { if (k == "") { k = $1 } else { print substr($1, 1, 2); k = "" } }' |
        sort -u | tr '\n' ' '
}
# meta's pairs of DIR, a line each: key value (hex)
meta_pairs() {
    mdb_dump -s meta "$1" | awk '
        /^HEADER=END/ { on = 1; next }
        on && /^ / { if (k == "") { k = $1 } else { print k, $1; k = "" } }'
}
hex() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }

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
open_image 5
# every database but the entries (rewritten with their claim digests),
# ix.body (built), meta and the projections (brought to this build's)
dump_log() {
    mdb_dump -a "$1" | awk '/^database=/ {
        skip = $0 == "database=entries5" || $0 == "database=ix.body" ||
            $0 == "database=meta" || $0 ~ /^database=proj\./ } !skip'
}
if [ $have_dump = 1 ]; then
    dump_log "$F" >"$T/dump5"
    meta_pairs "$F" >"$T/meta5"
fi
kept5() {
    [ $have_dump = 1 ] || return 0
    dump_log "$F" | cmp -s - "$T/dump5" ||
        fail "fresh5: migrate changed the log's records: $(dump_log "$F" | diff "$T/dump5" - | head -c 400)"
    # meta: the layout record 5 -> 9, and the intake's and the body
    # index's records added
    meta_pairs "$F" | grep -v "^$(hex intake) \|^$(hex ix.body) " |
        diff "$T/meta5" - | grep '^[<>]' >"$T/mdiff"
    printf '< %s 00000005\n> %s 00000009\n' "$(hex layout)" "$(hex layout)" |
        cmp -s - "$T/mdiff" ||
        fail "fresh5: migrate changed meta: $(head -c 400 "$T/mdiff")"
    for k in intake ix.body; do
        meta_pairs "$F" | grep -q "^$(hex $k) " || fail "fresh5 migrated: no meta $k"
    done
}
migrated 5 4201 queries5 kept5
grep -q '^digests  4201 entries stored with their claim digest as layout 9 keeps it$' "$T/mig.out" ||
    fail "fresh5: migrate: $(cat "$T/mig.out")"
"$LEDGER" --dir "$F" stats --databases -o json |
    jq -e '[.databases[] | select(.name == "dicts")][0].records == 1' \
        >/dev/null || fail "fresh5 migrated: not one dictionary"
"$LEDGER" --dir "$F" append x.layout.more --body '{"n":1,"status":"ok"}' \
    >/dev/null 2>&1 || fail "fresh5 migrated: append"
"$LEDGER" --dir "$F" flush >/dev/null 2>&1 || fail "fresh5 migrated: flush"
"$LEDGER" --dir "$F" verify --full >"$T/v" 2>&1 ||
    fail "fresh5: verify after append: $(cat "$T/v")"
# the appended body (seq 4201) is seeded by AES; 4199's stays BLAKE2b's;
# the appended entry keeps its claim digest raw before its record (0x01,
# the digest), and 4199's and 0's have it so since the migrate
if [ $have_dump = 1 ]; then
    for sk in 4201:05 4199:0[23]; do
        s=${sk%:*} k=${sk#*:}
        record_kind "$F" bodies5 "$s" | grep -qx "$k" ||
            fail "fresh5: body $s is a record $(record_kind "$F" bodies5 "$s"), not $k"
    done
    mdb_dump -s entries5 "$F" >"$T/e9"
    for s in 4201 4199 0; do
        grep -A1 "^ $(printf '%016x' "$s")\$" "$T/e9" | sed -n 2p |
            grep -q "^ 01.\{64\}92" || fail "fresh5: entry $s is not in layout 8's form"
    done
fi

# fresh7: fresh5 migrated to 6 and appended to by a layout 6 build (seq
# 4201..4240: entries without their digests, bodies seeded by AES), then
# migrated to 7 (every record rewritten with its digest) and appended to
# by a layout 7 build (4241..4281, an erasure among them): in the image
# every sealed entry keeps its digest in its stamp; migrated, every one is
# in layout 8's form (the rewrite of a migrate that stopped:
# tests/ledger/test_migrate.c and tests/e2e/migrate.sh).
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
open_image 7
digest_pair=$(printf '\246digest\304 ' | od -An -tx1 | tr -d ' \n')
if [ $have_dump = 1 ]; then
    mdb_dump -s entries5 "$F" >"$T/f7"
    for s in 0 4199 4220 4240 4241 4260 4281; do
        n=$(grep -A1 "^ $(printf '%016x' "$s")\$" "$T/f7" | sed -n 2p |
            grep -c "$digest_pair")
        [ "$n" = 1 ] || fail "fresh7: entry $s keeps its digest: $n, not 1"
    done
fi
CC=${CC:-cc}
# shellcheck disable=SC2046
if $CC -o "$T/poke" "$ROOT/tests/faults/lmdb_poke.c" \
    $(pkg-config --cflags --libs lmdb 2>/dev/null || echo -llmdb) \
    2>"$T/cc.err"; then
    [ "$("$T/poke" "$F" undigested entries5)" = "0 of 4282" ] ||
        fail "fresh7: entries without their digests: $("$T/poke" "$F" undigested entries5)"
else
    fail "lmdb_poke: $(cat "$T/cc.err")"
fi
migrated 7 4282 queries7
grep -q '^digests  4282 entries stored with their claim digest as layout 9 keeps it$' "$T/mig.out" ||
    fail "fresh7: migrate: $(cat "$T/mig.out")"
[ "$("$T/poke" "$F" untagged entries5)" = "0 of 4282" ] ||
    fail "fresh7 migrated: entries not in layout 8's form: $("$T/poke" "$F" untagged entries5)"
"$LEDGER" --dir "$F" append x.layout.more --body '{"n":1,"status":"ok"}' \
    >/dev/null 2>&1 || fail "fresh7 migrated: append"
"$LEDGER" --dir "$F" verify >"$T/v" 2>&1 ||
    fail "fresh7: verify after append: $(cat "$T/v")"

# fresh8: fresh7 migrated to 8 by a layout 8 build (every sealed entry's
# record rewritten, the digest raw before it) and appended to (4282..4322,
# an erasure among them): every record is in layout 8's form, which layout
# 9 keeps, so the migrate rewrites none and makes the intake log
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
open_image 8
[ "$("$T/poke" "$F" untagged entries5)" = "0 of 4323" ] ||
    fail "fresh8: entries not in layout 8's form: $("$T/poke" "$F" untagged entries5)"
# the body kinds a layout 8 store holds (FORMAT.md 4, issue 63): layout
# 5's 0x02 and 0x03 kept as they were, 0x05 and 0x06 since layout 6; the
# migrate to 9 keeps them; what layout 9 writes for a new body: 0x05 or
# 0x06
if [ $have_dump = 1 ]; then
    [ "$(body_kinds "$F")" = "02 03 05 06 " ] ||
        fail "fresh8: body kinds $(body_kinds "$F"), want 02 03 05 06"
fi
migrated 8 4323 queries8
grep -q '^digests' "$T/mig.out" && fail "fresh8: migrate rewrote entries: $(cat "$T/mig.out")"
[ "$("$T/poke" "$F" untagged entries5)" = "0 of 4323" ] ||
    fail "fresh8 migrated: entries not in layout 8's form: $("$T/poke" "$F" untagged entries5)"
if [ $have_dump = 1 ]; then
    [ "$(body_kinds "$F")" = "02 03 05 06 " ] ||
        fail "fresh8 migrated: body kinds $(body_kinds "$F"), want 02 03 05 06"
fi
s9=$("$LEDGER" --dir "$F" append -q x.layout.more --body '{"n":1,"status":"ok"}' \
    2>/dev/null) && [ "$s9" = 4323 ] || fail "fresh8 migrated: append: '$s9'"
"$LEDGER" --dir "$F" flush >/dev/null 2>&1 || fail "fresh8 migrated: flush"
"$LEDGER" --dir "$F" verify --full >"$T/v" 2>&1 ||
    fail "fresh8 migrated: verify --full after append: $(cat "$T/v")"
if [ $have_dump = 1 ]; then
    k9=$(record_kind "$F" bodies5 "$s9")
    [ "$k9" = 05 ] || [ "$k9" = 06 ] ||
        fail "fresh8: event $s9 appended at layout 9 stored as kind '$k9'"
fi

if [ "$nfail" -gt 0 ]; then
    echo "layout_images: $nfail failure(s)"
    exit 1
fi
echo "layout_images: ok"
