#!/bin/sh
# migrate.sh — `ledger migrate`: a ledger of an older store layout (the
# golden images of tests/vectors/layout/: a build makes no older layout)
# converted in place to layout 8 (entries without prev, sealed ones with
# their claim digests raw before them, new bodies seeded by AES, the tree
# as tiles of two pages, the indexes a key per value; docs/FORMAT.md
# section 6.1), in one run or by way of layouts 2, 3, 4, 5, 6 and 7.
#
#   * the answers are the same bytes after as before: the checkpoint, the
#     C2SP tiles (every file), inclusion and consistency proofs, query
#     output by each index and by time, verify --full; stats says layout
#     8; the tree's, the indexes' and the events' bytes shrink and the
#     output says so; progress on a terminal, erased before the summary,
#     and none elsewhere; appends go on; a second run converts nothing;
#     --layout 1 (back) is refused (64), as is a bad value; init makes
#     no older layout;
#   * a ledger of an older layout is read but not written: an append,
#     ingest, erase or key is refused (65) naming `ledger migrate`,
#     nothing changed; archive reads it and its "next:" lines (migrate,
#     then prune) run as printed; a format 1 ledger migrated takes signed
#     events;
#   * a layout 4 ledger whose tiles are not all split yet (a migrate from
#     3 that stopped) verifies, answers the same, and migrate splits the
#     rest;
#   * `ledger serve` (and --otlp) and `ledger proxy` refuse to start on
#     it (65) naming `ledger --dir DIR migrate`; migrate is refused while
#     a server (an older build's) serves the ledger (75), on its socket
#     in DIR or another, nothing changed;
#   * every I/O call of a migration from layout 1, in turn, fails with
#     ENOSPC (a full disk) and, in turn, never returns (the process is
#     killed with -9 there): each time the ledger opens in layout 1 to 8,
#     verify --full passes, the checkpoint is the one before, and migrate
#     run again finishes the job with the same tiles and query answers as
#     an undisturbed run; no crash leaves layout 5, 6 or 7 (from 4 the
#     copy stores the entries in layout 8's form, which the older layouts
#     would call damaged, and its last transaction writes layout 8);
#   * from layout 6 (the image: 600 sealed entries stored without their
#     claim digests) and from layout 7 (the image: each with its digest in
#     its stamp) migrate rewrites every record in layout 8's form (0x01,
#     the digest) and says so, the answers the same bytes; --layout 7
#     from 6 gives them layout 7's; every I/O call of 6 to 8 and of 7 to
#     8, in turn, fails and never returns: each time the old layout or 8
#     (some crash leaving 8 with the records not yet rewritten, where
#     stats names the first seq left and says `ledger migrate` finishes
#     it), verify --full passes, and migrate run again rewrites every
#     record (and stats says none is left).
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

# -------------------------------------------------------- the old ledger --
V=$ROOT/tests/vectors/layout
command -v zstd >/dev/null 2>&1 || {
    echo "migrate: zstd (the program) is missing"
    exit 1
}
# unpack IMAGE DIR [KEY]: a golden image into a ledger directory
unpack() {
    mkdir -m 700 "$2" "$2/keys" || exit 1
    zstd -q -d -c "$V/$1.mdb.zst" >"$2/data.mdb" || exit 1
    cp "$V/keys/${3:-log}.key" "$2/keys/log.key" &&
        chmod 600 "$2/keys/log.key" "$2/data.mdb" || exit 1
}
# 600 events: 2 full tiles of leaves and 88 leaves past them
B=$T/base
unpack layout1 "$B"
"$L" --dir "$B" stats | grep -q '^layout  *1 ' ||
    fail "the layout 1 image: stats says $("$L" --dir "$B" stats | grep layout)"

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
answers "$B" "$T/before"

# ------------------------------------ an older layout is read, not written --
cp -r "$B" "$T/old"
for w in "append x.migrate.late --body {\"i\":9}" "erase 5 --reason r" \
    "keys add bob"; do
    # shellcheck disable=SC2086
    "$L" --dir "$T/old" $w >"$T/out" 2>"$T/err"
    rc=$?
    [ $rc -eq 65 ] &&
        grep -q 'is at store layout 1, and this build appends to layouts 8 and 9 only: run `ledger migrate`' "$T/err" ||
        fail "layout 1: $w: exit $rc, $(cat "$T/err")"
done
printf '{"type":"x.migrate.late","body":{"i":1}}\n' |
    "$L" --dir "$T/old" ingest - >/dev/null 2>"$T/err"
rc=$?
[ $rc -eq 65 ] && grep -q 'run `ledger migrate`' "$T/err" ||
    fail "layout 1: ingest: exit $rc, $(cat "$T/err")"
"$L" --dir "$T/old" verify --full >/dev/null 2>&1 || fail "layout 1: verify"
answers "$T/old" "$T/old.answers"
diff -r "$T/before" "$T/old.answers" >"$T/diff" 2>&1 ||
    fail "layout 1: a refused write changed answers: $(head -c 600 "$T/diff")"
rm -rf "$T/old" "$T/old.answers"
# archive reads an older layout, and its "next:" lines, pasted in order,
# work: the migrate that prune would refuse without first, then the
# prune (it printed the prune alone, which then refused, 65)
cp -r "$B" "$T/arch"
"$L" --dir "$T/arch" archive --before 10 --out "$T/arch.seg" >"$T/out" 2>"$T/err" ||
    fail "layout 1: archive: $(cat "$T/err")"
sed -n 's/^next: ledger //p' "$T/out" >"$T/next"
sed -n 's/  *#.*//; 1p' "$T/next" | grep -q '^--dir .* migrate$' &&
    [ "$(wc -l <"$T/next")" -eq 2 ] ||
    fail "layout 1: archive's next lines: $(cat "$T/out")"
while read -r next; do
    eval "\"\$L\" $next" >"$T/out" 2>"$T/err" ||
        fail "layout 1: archive's next line '$next': $(cat "$T/err")"
done <"$T/next"
grep -q '^pruned events 0\.\.' "$T/out" ||
    fail "layout 1: archive's next lines, run: $(cat "$T/out")"
rm -rf "$T/arch" "$T/arch.seg"

# init makes the newest layout only
"$L" --dir "$T/i" init --layout 4 >/dev/null 2>"$T/err"
rc=$?
[ $rc -eq 64 ] && [ ! -e "$T/i" ] || fail "init --layout 4: exit $rc, $(cat "$T/err")"
LEDGER_LAYOUT=4 "$L" --dir "$T/i" init >/dev/null 2>"$T/err"
rc=$?
[ $rc -eq 64 ] && grep -q "LEDGER_LAYOUT is '4': store layout 4: this build makes layout 9 ledgers (8 when asked); it reads and migrates the older ones; unset it" "$T/err" &&
    [ ! -e "$T/i/data.mdb" ] || fail "LEDGER_LAYOUT=4 init: exit $rc, $(cat "$T/err")"
for v in 0 abc 8x -8 99999999999; do
    LEDGER_LAYOUT=$v "$L" --dir "$T/i" init >/dev/null 2>"$T/err"
    rc=$?
    [ $rc -eq 64 ] && grep -q "LEDGER_LAYOUT is '$v': not a store layout's number; unset it" "$T/err" &&
        [ ! -e "$T/i/data.mdb" ] || fail "LEDGER_LAYOUT=$v init: exit $rc, $(cat "$T/err")"
done
rm -rf "$T/i"

# ------------------------------------------------------------ migrate --
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
[ "$("$L" --dir "$D" stats -o json | jq .layout)" = 9 ] ||
    fail "after: stats -o json has no layout 9"
[ -f "$D/intake" ] || fail "after: no intake log"
"$L" --dir "$D" verify --full >"$T/v" 2>&1 || fail "after: verify: $(cat "$T/v")"
answers "$D" "$T/after"
diff -r "$T/before" "$T/after" >"$T/diff" 2>&1 ||
    fail "answers differ after migrate: $(head -c 600 "$T/diff")"
"$L" --dir "$D" stats --databases -o json >"$T/dbs"
jq -e '[.databases[] | select(.name == "tiles")][0].records == 2' "$T/dbs" \
    >/dev/null || fail "after: db tiles does not hold 2 tiles"
jq -e '[.databases[] | select(.name | test("^(idx[.](type|subject|run|actor|time)|entries|bodies)$"))
        | .records] | all(. == 0)' "$T/dbs" >/dev/null ||
    fail "after: the old databases are not empty: $(jq -c '.databases' "$T/dbs")"
jq -e '[.databases[] | select(.name == "ix.subject" or .name == "entries5" or
        .name == "bodies5") | .records] == [600, 600, 600]' "$T/dbs" \
    >/dev/null || fail "after: ix.subject, entries5, bodies5: $(jq -c '.databases' "$T/dbs")"

# --layout 1 of a layout 1 ledger converts nothing (it converted to 2,
# exit 0, until 2026-11-26)
cp -r "$B" "$T/one"
"$L" --dir "$T/one" migrate --layout 1 >"$T/out" 2>&1 &&
    grep -q '^layout 1 already: nothing to convert (600 events)$' "$T/out" ||
    fail "--layout 1: $(cat "$T/out")"
"$L" --dir "$T/one" stats -o json | jq -e '.layout == 1' >/dev/null ||
    fail "--layout 1: stats says $("$L" --dir "$T/one" stats | grep layout)"
rm -rf "$T/one"

# by way of layout 2: the same answers
cp -r "$B" "$T/two"
"$L" --dir "$T/two" migrate --layout 2 >"$T/out" 2>&1 &&
    grep -q '^layout 1 -> 2 (600 events)$' "$T/out" ||
    fail "--layout 2: $(cat "$T/out")"
"$L" --dir "$T/two" stats | grep -q '^layout  *2 (Merkle tree as tiles, an index key per event; ledger migrate converts it)$' ||
    fail "--layout 2: stats says $("$L" --dir "$T/two" stats | grep layout)"
answers "$T/two" "$T/after2"
diff -r "$T/before" "$T/after2" >"$T/diff" 2>&1 ||
    fail "answers differ in layout 2: $(head -c 600 "$T/diff")"
"$L" --dir "$T/two" migrate -o json >"$T/out" 2>&1
jq -e '.from == 2 and .to == 9 and .converted and .tiles_split == 2 and
       .index_bytes.after < .index_bytes.before and
       .event_bytes.after < .event_bytes.before and
       .tree_bytes.after < .tree_bytes.before' "$T/out" >/dev/null ||
    fail "2 -> 9 -o json: $(cat "$T/out")"
answers "$T/two" "$T/after3"
diff -r "$T/before" "$T/after3" >"$T/diff" 2>&1 ||
    fail "answers differ after 2 -> 9: $(head -c 600 "$T/diff")"
"$L" --dir "$T/two" verify --full >"$T/v" 2>&1 || fail "2 -> 9: verify: $(cat "$T/v")"
rm -rf "$T/two" "$T/after2" "$T/after3"

# by way of layout 3 and 4: each of the 2 tiles from three pages to two,
# then the events
cp -r "$B" "$T/three"
"$L" --dir "$T/three" migrate --layout 3 >/dev/null 2>&1 || fail "--layout 3"
"$L" --dir "$T/three" stats | grep -q '^layout  *3 (Merkle tree as tiles, an index key per value; ledger migrate converts it)$' ||
    fail "--layout 3: stats says $("$L" --dir "$T/three" stats | grep layout)"
"$L" --dir "$T/three" migrate --layout 4 -o json >"$T/out" 2>&1
jq -e '.from == 3 and .to == 4 and .converted and .tiles_split == 2 and
       .tree_bytes.after < .tree_bytes.before and
       .index_bytes.after == .index_bytes.before' "$T/out" >/dev/null ||
    fail "3 -> 4 -o json: $(cat "$T/out")"
answers "$T/three" "$T/after4"
diff -r "$T/before" "$T/after4" >"$T/diff" 2>&1 ||
    fail "answers differ after 3 -> 4: $(head -c 600 "$T/diff")"
"$L" --dir "$T/three" migrate -o json >"$T/out" 2>&1
jq -e '.from == 4 and .to == 9 and .converted and .tiles_split == 0 and
       .tree_bytes.after == .tree_bytes.before and
       .event_bytes.after < .event_bytes.before' "$T/out" >/dev/null ||
    fail "4 -> 9 -o json: $(cat "$T/out")"
answers "$T/three" "$T/after5"
diff -r "$T/before" "$T/after5" >"$T/diff" 2>&1 ||
    fail "answers differ after 4 -> 9: $(head -c 600 "$T/diff")"
"$L" --dir "$T/three" verify --full >"$T/v" 2>&1 || fail "4 -> 9: verify: $(cat "$T/v")"
rm -rf "$T/three" "$T/after4" "$T/after5"

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
fi

# again: nothing to do; back: refused
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
"$L" --dir "$D" migrate --layout 1 >"$T/out" 2>"$T/err"
rc=$?
[ $rc -eq 64 ] && grep -q 'never back' "$T/err" ||
    fail "--layout 1: exit $rc, $(cat "$T/err")"
"$L" --dir "$D" migrate --layout 10 >/dev/null 2>"$T/err"
rc=$?
[ $rc -eq 64 ] && grep -q "'10' is not a store layout this build knows (\`ledger --version\` lists them)" "$T/err" ||
    fail "--layout 10: exit $rc, $(cat "$T/err")"
for v in 0 abc 3x 999 1000 -1; do
    "$L" --dir "$D" migrate --layout "$v" >/dev/null 2>"$T/err"
    rc=$?
    [ $rc -eq 64 ] && grep -q "'$v' is not a store layout this build knows" "$T/err" ||
        fail "--layout $v: exit $rc, $(cat "$T/err")"
done
for v in 8 7; do
    "$L" --dir "$D" migrate --layout $v >/dev/null 2>"$T/err"
    rc=$?
    [ $rc -eq 64 ] && grep -q 'never back' "$T/err" ||
        fail "--layout $v at 9: exit $rc, $(cat "$T/err")"
done
"$L" --dir "$D" migrate --layout 5 >/dev/null 2>"$T/err"
rc=$?
[ $rc -eq 64 ] && grep -q 'never back' "$T/err" ||
    fail "--layout 5 at 9: exit $rc, $(cat "$T/err")"
"$L" --dir "$D" migrate --layout 3 >/dev/null 2>"$T/err"
rc=$?
[ $rc -eq 64 ] && grep -q 'never back' "$T/err" ||
    fail "--layout 3 at 9: exit $rc, $(cat "$T/err")"
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
[ $rc -eq 66 ] || fail "no ledger: exit $rc, $(cat "$T/err")"

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
# the same answers, and events it takes after are signed
F=$T/f1
unpack format1 "$F" format1
"$L" --dir "$F" checkpoint >"$T/f1.ck" 2>&1
"$L" --dir "$F" query -o json -n all 'type=*' >"$T/f1.q" 2>&1
"$L" --dir "$F" migrate >"$T/out" 2>&1 &&
    grep -q '^layout 1 -> 9 (33 events)$' "$T/out" ||
    fail "format 1: migrate: $(cat "$T/out")"
"$L" --dir "$F" checkpoint 2>&1 | cmp -s - "$T/f1.ck" ||
    fail "format 1: another checkpoint"
"$L" --dir "$F" query -o json -n all 'type=*' 2>&1 | cmp -s - "$T/f1.q" ||
    fail "format 1: other query answers"
"$L" --dir "$F" show 3 -o json 2>&1 | grep -q '"body_erased"\|erased' ||
    fail "format 1: event 3's body is no longer erased"
"$L" --dir "$F" append x.migrate.f1 --body '{"i":1}' >/dev/null 2>&1 ||
    fail "format 1: append"
"$L" --dir "$F" show 33 -o json 2>&1 | grep -q '"signature":"[0-9a-f]\{128\}"' ||
    fail "format 1: the new event is not signed"
"$L" --dir "$F" verify --full >"$T/v" 2>&1 || fail "format 1: verify: $(cat "$T/v")"

# ------------------------------------- serve and proxy refuse to start --
S=$T/s
cp -r "$B" "$S"
# serve (with --otlp too) and a proxy writing directly: every event would
# be refused (until 2026-11-27 they started and answered every request
# 65, 500 or 503 while looking healthy): refused at the start, 65, naming
# the dir and `ledger --dir DIR migrate`; nothing listening, nothing
# changed (systemd's unit does not restart on 65: RestartPreventExitStatus)
for what in "serve" "serve --otlp 127.0.0.1:0" \
    "proxy --listen 127.0.0.1:0 --upstream a=http://127.0.0.1:9"; do
    # shellcheck disable=SC2086
    timeout 20 "$L" --dir "$S" $what >"$T/out" 2>"$T/err"
    rc=$?
    [ $rc -eq 65 ] && [ ! -s "$T/out" ] &&
        grep -q "$S is at store layout 1, and this build appends to layouts 8 and 9 only: every event would be refused until \`ledger --dir $S migrate\`" "$T/err" ||
        fail "$what on layout 1: exit $rc, $(cat "$T/out" "$T/err")"
    [ -S "$S/ledger.sock" ] && fail "$what on layout 1 left a socket"
done
"$L" --dir "$S" stats | grep -q '^layout  *1 ' || fail "serve's refusal converted"
# migrate refused while a server (an older build's, which still appends
# to this layout) serves it: on its socket in DIR (anything listening
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
        "$L" --dir "$S" stats | grep -q '^layout  *1 ' ||
            fail "under a server ($how): converted"
    done
}
# stopped: the file stays, held by nobody
"$L" --dir "$S" migrate >/dev/null 2>"$T/err" ||
    fail "after serve stopped: $(cat "$T/err")"

# ------------------------------------------- a standing verify failure --
# a damaged node of layout 1's tree (level 1, index 2: no tile keeps it)
# makes verify fail; migrate then refuses (1), converting nothing: it
# would rebuild the tree and hide what verify found (until 2026-11-26 it
# converted, and the next verify --full passed)
CC=${CC:-cc}
$CC -o "$T/poke" "$ROOT/tests/faults/lmdb_poke.c" \
    $(pkg-config --cflags --libs lmdb 2>/dev/null || echo -llmdb) \
    2>"$T/cc.err" || { fail "lmdb_poke: $(cat "$T/cc.err")"; exit 1; }
cp -r "$B" "$T/bad"
"$T/poke" "$T/bad" flip tree 010000000000000002 || fail "poke"
"$L" --dir "$T/bad" verify >/dev/null 2>&1
[ $? -eq 1 ] || fail "a damaged tree node: verify does not fail"
"$L" --dir "$T/bad" migrate >"$T/out" 2>"$T/err"
rc=$?
[ $rc -eq 1 ] && grep -q 'the last verification failed (event [0-9]*: .*nothing was changed' "$T/err" ||
    fail "migrate of a ledger that failed verify: exit $rc, $(cat "$T/err")"
"$L" --dir "$T/bad" stats | grep -q '^layout  *1 ' ||
    fail "migrate of a ledger that failed verify: converted"
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
# the layout 1 image (600 events, 2 full tiles)
# what the indexes and a body scan answer, before and after each crash
qa() {
    "$L" --dir "$1" query -o json -n all type=x.layout.test subject=s:3 2>&1
    "$L" --dir "$1" query -o json -n 30 -r 'subject=s:[15]' 2>&1
    "$L" --dir "$1" query -o json -n all run=R-0001 body.n=7 2>&1
}
qa "$B" >"$T/before/qa"
rm -rf "$T/c"
cp -r "$B" "$T/c"
FAULT_COUNT_FILE=$T/count LD_PRELOAD=$PRE "$L" --dir "$T/c" migrate \
    >/dev/null 2>&1 || fail "counting run failed"
calls=$(cat "$T/count" 2>/dev/null || echo 0)
[ "$calls" -gt 5 ] || fail "a migration made only '$calls' I/O calls"
rm -rf "$T/good"
"$L" --dir "$T/c" tiles "$T/good" >/dev/null 2>&1

# after WHAT DIR: the ledger opens in layout 1 to 9, verifies, has the
# checkpoint it had and answers queries as before; migrate finishes the
# job (layout 9, every record in layout 8's form) and the tiles are the
# same
after() {
    lay=$("$L" --dir "$2" stats -o json 2>"$T/e2" | jq -r .layout)
    case $lay in
    1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9) ;;
    *) fail "$1: stats: layout '$lay' ($(cat "$T/e2"))" ;;
    esac
    "$L" --dir "$2" verify --full >"$T/v" 2>&1 || fail "$1: verify: $(cat "$T/v")"
    "$L" --dir "$2" checkpoint 2>&1 | cmp -s - "$T/before/checkpoint" ||
        fail "$1: another checkpoint"
    qa "$2" | cmp -s - "$T/before/qa" || fail "$1: other query answers"
    # a migrate to 5 stopped after copying events: layout 4 still
    if [ "$lay" = 4 ] && "$L" --dir "$2" stats --databases -o json 2>/dev/null |
        jq -e '[.databases[] | select(.name == "entries5")][0].records > 0' \
            >/dev/null; then
        layouts="$layouts 4copied"
    fi
    # stats says what a stopped migrate left to split
    whole=$("$L" --dir "$2" stats -o json 2>/dev/null | jq -r '.tiles_whole // 0')
    if [ "$whole" -gt 0 ]; then
        layouts="$layouts 4whole"
        "$L" --dir "$2" stats | grep -q "^layout  *4 (.*; $whole tiles\{0,1\} not yet split: ledger migrate splits" ||
            fail "$1: stats does not say $whole tiles are whole: $("$L" --dir "$2" stats | grep layout)"
    fi
    "$L" --dir "$2" migrate >"$T/m" 2>&1 || fail "$1: migrate again: $(cat "$T/m")"
    [ "$("$L" --dir "$2" stats -o json 2>/dev/null | jq -r .layout)" = 9 ] ||
        fail "$1: migrate again: not layout 9: $(cat "$T/m")"
    [ "$("$T/poke" "$2" untagged entries5)" = "0 of 600" ] ||
        fail "$1: migrate again: entries not in layout 8's form: $("$T/poke" "$2" untagged entries5)"
    "$L" --dir "$2" stats -o json 2>/dev/null | jq -e 'has("digest_next") | not' >/dev/null &&
        ! "$L" --dir "$2" stats | grep -q 'claim digests' ||
        fail "$1: migrate again: stats says digests are left: $("$L" --dir "$2" stats | grep layout)"
    "$L" --dir "$2" verify --full >"$T/v" 2>&1 ||
        fail "$1: verify after migrate again: $(cat "$T/v")"
    qa "$2" | cmp -s - "$T/before/qa" ||
        fail "$1: other query answers after migrate again"
    rm -rf "$T/t"
    "$L" --dir "$2" tiles "$T/t" >/dev/null 2>&1
    diff -r "$T/good" "$T/t" >/dev/null 2>&1 || fail "$1: other tiles after"
}
layouts=""
# MIGRATE_CALL_STEP: every call (1, by hand and make torture), every
# third (3, make check) or every fifth one (5, make asan, where each run
# is slow)
step=${MIGRATE_CALL_STEP:-1}
n=1
while [ "$n" -le "$calls" ]; do
    rm -rf "$T/c"
    cp -r "$B" "$T/c"
    FAULT_AT=$n FAULT_ERRNO=ENOSPC LD_PRELOAD=$PRE "$L" --dir "$T/c" migrate \
        >"$T/out" 2>"$T/err"
    rc=$?
    # a call that fails after the switch was durable (the last fsync's
    # neighbours) may still leave layout 8 and exit 0; otherwise 74
    case $rc in
    0 | 74) ;;
    *) fail "ENOSPC at call $n: exit $rc ($(cat "$T/err"))" ;;
    esac
    [ $rc -eq 74 ] && ! grep -qi 'no space\|I/O error' "$T/err" &&
        fail "ENOSPC at call $n: says $(cat "$T/err")"
    layouts="$layouts $("$L" --dir "$T/c" stats -o json 2>/dev/null | jq -r .layout)"
    after "ENOSPC at call $n" "$T/c"

    rm -rf "$T/c"
    cp -r "$B" "$T/c"
    rm -f "$T/flog"
    FAULT_AT=$n FAULT_MODE=hang FAULT_LOG=$T/flog LD_PRELOAD=$PRE "$L" \
        --dir "$T/c" migrate >/dev/null 2>&1 &
    killed_in_call $! "$T/flog"
    after "kill -9 at call $n" "$T/c"
    n=$((n + step))
done
# (layout 3 stands between two transactions only: every call (make
# torture) finds it; one in three or five may step over it)
case "$layouts" in
*1*2*3*4whole*4copied*) ;;
*1*2*4whole*4copied*) [ "$step" = 1 ] && fail "no crash left layout 3:$layouts" ;;
*) fail "no crash left layout 1, then 2, then 4 with its tiles whole, then 4 with events copied:$layouts" ;;
esac
# (the copy's last transaction writes layout 8: no crash leaves 5 to 7)
case "$layouts" in
*" 5"* | *" 6"* | *" 7"*) fail "a crash left layout 5, 6 or 7:$layouts" ;;
esac

# ------------------------------- layouts 6 and 7 to 8: the claim digests --
B6=$T/base6
unpack layout6 "$B6"
[ "$("$T/poke" "$B6" undigested entries5)" = "600 of 600" ] ||
    fail "the layout 6 image: $("$T/poke" "$B6" undigested entries5) without digests"
B7=$T/base7
unpack layout7 "$B7"
[ "$("$T/poke" "$B7" undigested entries5):$("$T/poke" "$B7" untagged entries5)" = "0 of 600:600 of 600" ] ||
    fail "the layout 7 image: $("$T/poke" "$B7" undigested entries5) without digests"
for from in 6 7; do
    rm -rf "$T/d"
    cp -r "$T/base$from" "$T/d"
    "$L" --dir "$T/d" migrate --layout 8 >"$T/out" 2>&1 &&
        grep -q "^layout $from -> 8 (600 events)\$" "$T/out" &&
        grep -q '^digests  600 entries stored with their claim digest as layout 8 keeps it$' "$T/out" ||
        fail "$from -> 8: $(cat "$T/out")"
    [ "$("$T/poke" "$T/d" untagged entries5)" = "0 of 600" ] ||
        fail "$from -> 8: $("$T/poke" "$T/d" untagged entries5) not in layout 8's form"
    "$L" --dir "$T/d" verify --full >"$T/v" 2>&1 || fail "$from -> 8: verify: $(cat "$T/v")"
    answers "$T/d" "$T/after6"
    diff -r -x qa "$T/before" "$T/after6" >"$T/diff" 2>&1 ||
        fail "answers differ after $from -> 8: $(head -c 600 "$T/diff")"
    "$L" --dir "$T/d" migrate --layout 8 -o json >"$T/out" 2>&1
    jq -e '.from == 8 and .to == 8 and (.converted | not) and
           .entries_digested == 0' "$T/out" >/dev/null ||
        fail "$from -> 8, again: $(cat "$T/out")"
    "$L" --dir "$T/d" migrate -o json >"$T/out" 2>&1
    jq -e '.from == 8 and .to == 9 and .converted and
           .entries_digested == 0' "$T/out" >/dev/null ||
        fail "$from -> 8 -> 9: $(cat "$T/out")"
    answers "$T/d" "$T/after9"
    diff -r -x qa "$T/before" "$T/after9" >"$T/diff" 2>&1 ||
        fail "answers differ after $from -> 8 -> 9: $(head -c 600 "$T/diff")"
    rm -rf "$T/after9"
    rm -rf "$T/d" "$T/after6"
done
# --layout 7 from 6: layout 7's form (the digest in the stamp), then on
rm -rf "$T/d"
cp -r "$B6" "$T/d"
"$L" --dir "$T/d" migrate --layout 7 >"$T/out" 2>&1 &&
    grep -q '^layout 6 -> 7 (600 events)$' "$T/out" &&
    grep -q '^digests  600 entries stored with their claim digest as layout 7 keeps it$' "$T/out" ||
    fail "6 -> 7: $(cat "$T/out")"
[ "$("$T/poke" "$T/d" undigested entries5):$("$T/poke" "$T/d" untagged entries5)" = "0 of 600:600 of 600" ] ||
    fail "6 -> 7: $("$T/poke" "$T/d" undigested entries5) without digests"
"$L" --dir "$T/d" verify --full >"$T/v" 2>&1 || fail "6 -> 7: verify: $(cat "$T/v")"
"$L" --dir "$T/d" stats |
    grep -q '^layout  *7 (entries without prev, seeded bodies, dictionaries; ledger migrate converts it)$' ||
    fail "6 -> 7: stats says $("$L" --dir "$T/d" stats | grep layout)"
rm -rf "$T/d"
# from 4: one conversion, the entries copied in layout 8's form
rm -rf "$T/d4"
unpack layout4 "$T/d4"
"$L" --dir "$T/d4" migrate -o json >"$T/out" 2>&1
jq -e '.from == 4 and .to == 9 and .converted and .entries_digested == 0' \
    "$T/out" >/dev/null || fail "4 -> 9: $(cat "$T/out")"
[ "$("$T/poke" "$T/d4" untagged entries5)" = "0 of 600" ] ||
    fail "4 -> 9: $("$T/poke" "$T/d4" untagged entries5) not in layout 8's form"
rm -rf "$T/d4"

# sweep FROM: every I/O call of a migrate of the layout FROM image to 8,
# in turn, failed (ENOSPC) and hung (killed with -9)
sweep() {
    from=$1
    rm -rf "$T/c"
    cp -r "$T/base$from" "$T/c"
    rm -f "$T/count"
    FAULT_COUNT_FILE=$T/count LD_PRELOAD=$PRE "$L" --dir "$T/c" migrate \
        --layout 8 >/dev/null 2>&1 || fail "$from -> 8: counting run failed"
    calls6=$(cat "$T/count" 2>/dev/null || echo 0)
    [ "$calls6" -gt 3 ] || fail "$from -> 8 made only '$calls6' I/O calls"
    layouts6=""
    n=1
    while [ "$n" -le "$calls6" ]; do
        for how in ENOSPC kill; do
            rm -rf "$T/c"
            cp -r "$T/base$from" "$T/c"
            if [ $how = ENOSPC ]; then
                FAULT_AT=$n FAULT_ERRNO=ENOSPC LD_PRELOAD=$PRE "$L" --dir "$T/c" \
                    migrate --layout 8 >"$T/out" 2>"$T/err"
                rc=$?
                case $rc in
                0 | 74) ;;
                *) fail "$from -> 8: ENOSPC at call $n: exit $rc ($(cat "$T/err"))" ;;
                esac
            else
                rm -f "$T/flog"
                FAULT_AT=$n FAULT_MODE=hang FAULT_LOG=$T/flog LD_PRELOAD=$PRE "$L" \
                    --dir "$T/c" migrate --layout 8 >/dev/null 2>&1 &
                killed_in_call $! "$T/flog"
            fi
            lay=$("$L" --dir "$T/c" stats -o json 2>/dev/null | jq -r .layout)
            und=$("$T/poke" "$T/c" untagged entries5)
            case "$lay:$und" in
            "$from":"600 of 600") layouts6="$layouts6 $from" ;;
            8:"0 of 600") layouts6="$layouts6 8" ;;
            8:*)
                layouts6="$layouts6 8partly"
                # stats says where the rewrite stopped, and what finishes it
                left=${und%% of *}
                next=$("$L" --dir "$T/c" stats -o json 2>/dev/null | jq -r .digest_next)
                [ "$next" = $((600 - left)) ] ||
                    fail "$from -> 8: $how at call $n: stats: digest_next '$next', $und not in layout 8's form"
                "$L" --dir "$T/c" stats | grep -q "^layout  *8 (.*; entries from seq $next on not yet stored with their claim digests as layout 8 keeps them: ledger migrate finishes it)$" ||
                    fail "$from -> 8: $how at call $n: stats says $("$L" --dir "$T/c" stats | grep layout)"
                ;;
            *) fail "$from -> 8: $how at call $n: layout '$lay', $und not in layout 8's form" ;;
            esac
            after "$from -> 8: $how at call $n" "$T/c"
        done
        n=$((n + step))
    done
    case "$layouts6" in
    *" $from"*" 8partly"*) ;;
    *) [ "$step" = 1 ] && fail "$from -> 8: no crash left layout $from, then 8 with the records not yet rewritten:$layouts6" ;;
    esac
}
sweep 6
calls6to8=$calls6
sweep 7
calls7to8=$calls6

if [ "$nfail" -gt 0 ]; then
    echo "migrate: $nfail failure(s)"
    exit 1
fi
if [ "$step" = 1 ]; then
    echo "migrate: ok (a migration of 600 events from layout 1: $calls I/O calls, from 6: $calls6to8, from 7: $calls7to8, each failed and each killed)"
else
    echo "migrate: ok (a migration of 600 events from layout 1: $calls I/O calls, from 6: $calls6to8, from 7: $calls7to8, one in $step failed and killed)"
fi
