#!/bin/sh
# migrate_powerloss.sh — a power cut during `ledger migrate` (to layout 9,
# the only one a 1.0 build converts to) of the layout 4 golden image (the
# events copied in one conversion to layout 8's form; issue 49) and of the
# layout 7 one (every entry record rewritten, a chunk a transaction; then
# the intake log, issue 64); migrate.sh fails and kills both at every I/O
# call. The run is recorded by tests/faults/powerlog.c (every write to
# data.mdb, every sync) and tests/faults/powerloss.c replays it onto the
# data.mdb of before: every epoch before a chosen one whole, and of that
# one a prefix, a random subset, a random subset in random order, or one
# with a write torn at a sector. Only data.mdb's writes are recorded (the
# intake file is made during the run); the intake file beside each image
# is what a cut at that point can leave: the whole one once the image is
# at 9 (it was flushed, renamed and its directory flushed before the
# commit that names it began), and before that, in turn, none, a partial
# intake.new, a half of it named intake, or the whole one (no store names
# it yet). Each of STATES (default 24) images of each run is at the layout
# it came from, or a later one up to 9 (from 4 never 5, 6 or 7: the
# copy's entries are in layout 8's form, and its last transaction writes
# 8); before 9 every command but migrate refuses it (65, naming the layout
# and `ledger --dir DIR migrate`, data.mdb unchanged), at 9 `verify
# --full` passes with the recorded checkpoint and the answers (by index,
# time and a body scan) of an undisturbed migrate; `migrate` again
# reaches 9 with them, and an append after it is there and verifies.
# Some states of each run are before 9 and some at 9; the last epoch
# whole is layout 9; with the syncs ignored, some image cannot be brought
# to 9 with the checkpoint of before (the harness would notice).
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
L=$LEDGER
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/e2e/lib/powerloss.sh" # pl_state I EPOCHS
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/migrate_powerloss.XXXXXX") ||
    exit 1
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT TERM
STATES=${STATES:-24}
nfail=0
bad() {
    printf 'FAIL %s\n' "$*"
    nfail=$((nfail + 1))
}
command -v zstd >/dev/null 2>&1 || { echo "SKIP: no zstd program"; exit 77; }
command -v jq >/dev/null 2>&1 || { echo "SKIP: no jq"; exit 77; }
CC=${CC:-cc}
env -u CFLAGS $CC -shared -fPIC -O1 -o "$T/powerlog.so" \
    "$ROOT/tests/faults/powerlog.c" -ldl &&
    env -u CFLAGS $CC -O1 -o "$T/powerloss" "$ROOT/tests/faults/powerloss.c" ||
    exit 1
ASAN_OPTIONS=${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}verify_asan_link_order=0:detect_leaks=0
export ASAN_OPTIONS

V=$ROOT/tests/vectors/layout
pre=$T/powerlog.so
asan=$(ldd "$L" 2>/dev/null | sed -n 's/.*=> \(.*libasan[^ ]*\).*/\1/p')
[ -n "$asan" ] && pre="$asan $pre"
qa() {
    "$L" --dir "$1" query -o json -n all type=x.layout.test subject=s:3 2>&1
    "$L" --dir "$1" query -o json -n 30 -r 'subject=s:[15]' 2>&1
    "$L" --dir "$1" query -o json -n all run=R-0001 body.n=7 2>&1
    "$L" --dir "$1" query -o json -n all 2>&1 | sha256sum
}
# layout_of DIR: the store layout as this build tells it: stats' at 9,
# before that the refusal's ("is at store layout N, an earlier build's")
layout_of() {
    if "$L" --dir "$1" stats -o json >"$T/lo" 2>"$T/loe"; then
        jq -r .layout "$T/lo"
    else
        sed -n "s/.* is at store layout \([0-9]*\), an earlier build's: .*/\1/p" "$T/loe"
    fi
}
# unpack N DIR: the layout N golden image (600 events) as a ledger
unpack() {
    rm -rf "$2"
    mkdir -m 700 "$2" "$2/keys" || exit 1
    zstd -q -d -c "$V/layout$1.mdb.zst" >"$2/data.mdb" || exit 1
    cp "$V/keys/log.key" "$2/keys/log.key" && chmod 600 "$2/keys/log.key" "$2/data.mdb" ||
        exit 1
}
image() { # NAME MODE EPOCH SEED [ignore]
    rm -rf "$T/$1"
    mkdir -m 700 "$T/$1" && cp -a "$B/keys" "$T/$1/" || exit 1
    if [ "${5:-}" = ignore ]; then
        POWERLOSS_IGNORE_SYNC=1 "$T/powerloss" "$T/log" "$T/base.mdb" \
            "$T/$1/data.mdb" "$2" "$3" "$4" >/dev/null
    else
        "$T/powerloss" "$T/log" "$T/base.mdb" "$T/$1/data.mdb" "$2" "$3" "$4" \
            >/dev/null
    fi
}
# same WHAT DIR: verifies, has the recorded checkpoint and the answers of
# an undisturbed migrate
same() {
    "$L" --dir "$2" verify --full >"$T/v" 2>&1 ||
        { bad "$1: verify --full: $(tail -n 2 "$T/v")"; return 1; }
    "$L" --dir "$2" checkpoint 2>&1 | cmp -s - "$V/checkpoint" ||
        { bad "$1: another checkpoint"; return 1; }
    qa "$2" | cmp -s - "$T/qa" || { bad "$1: other query answers"; return 1; }
}
# refused WHAT DIR N: a command on a store at layout N (an earlier
# build's, before 9) exits 65 naming the layout and `ledger --dir DIR
# migrate`, and leaves data.mdb as it was
refused() {
    cp "$2/data.mdb" "$T/pre.mdb"
    "$L" --dir "$2" checkpoint >"$T/rout" 2>"$T/rerr"
    rc=$?
    [ $rc -eq 65 ] && [ ! -s "$T/rout" ] &&
        grep -qF "$2 is at store layout $3, an earlier build's: this build reads and appends to layout 9 only, and \`ledger migrate\` converts it in place (run \`ledger --dir $2 migrate\`" "$T/rerr" ||
        bad "$1: checkpoint: exit $rc, $(cat "$T/rout" "$T/rerr")"
    cmp -s "$2/data.mdb" "$T/pre.mdb" || bad "$1: checkpoint refused, yet data.mdb changed"
}

# run FROM: the layout FROM golden image migrated to 9 under the logger,
# then its power-loss states
run() {
    from=$1
    B=$T/b$from
    rm -rf "$T/log"
    # an undisturbed migrate: the answers every state must give
    unpack "$from" "$T/ref"
    "$L" --dir "$T/ref" migrate >"$T/out" 2>&1 || { echo "FAIL migrate: $(cat "$T/out")"; exit 1; }
    "$L" --dir "$T/ref" checkpoint 2>&1 | cmp -s - "$V/checkpoint" ||
        { echo "FAIL layout $from migrated: not the recorded checkpoint"; exit 1; }
    qa "$T/ref" >"$T/qa"
    [ "$(wc -l <"$T/qa")" -gt 20 ] || { echo "FAIL few answers: $(cat "$T/qa")"; exit 1; }
    if [ -f "$T/qa.first" ]; then
        cmp -s "$T/qa" "$T/qa.first" ||
            bad "$from -> 9: the answers differ from the other image's migrated"
    else
        cp "$T/qa" "$T/qa.first"
    fi
    unpack "$from" "$B"
    [ "$(layout_of "$B")" = "$from" ] ||
        { echo "FAIL the image is not layout $from: $(cat "$T/loe")"; exit 1; }
    cp "$B/data.mdb" "$T/base.mdb"
    POWERLOG=$T/log POWERLOG_FILE=$B/data.mdb LD_PRELOAD=$pre "$L" --dir "$B" \
        migrate >"$T/out" 2>"$T/err" ||
        { echo "FAIL migrate under the shim: $(cat "$T/err")"; exit 1; }
    grep -q "^layout $from -> 9 (600 events)\$" "$T/out" ||
        bad "$from -> 9 under the shim: says $(cat "$T/out")"
    [ "$(layout_of "$B")" = 9 ] && [ -f "$B/intake" ] ||
        { echo "FAIL migrate under the shim did not reach layout 9"; exit 1; }
    cp "$B/intake" "$T/intake.whole"
    out=$("$T/powerloss" "$T/log" "$T/base.mdb" count) ||
        { echo "FAIL powerloss count: exit $?"; exit 1; }
    # shellcheck disable=SC2086
    set -- $out
    epochs=$2
    [ "$epochs" -ge 3 ] || bad "$from -> 9: only $epochs epochs logged: no syncs seen?"
    nfrom=0 n8=0 n9=0 i=0
    half=$(($(wc -c <"$T/intake.whole") / 2))
    while [ "$i" -lt "$STATES" ]; do
        pl_state "$i" "$epochs"
        image s "$mode" "$e" "$i" || { echo "FAIL powerloss image"; exit 1; }
        cp "$T/intake.whole" "$T/s/intake"
        lay=$(layout_of "$T/s")
        left=whole
        case $lay in
        9) n9=$((n9 + 1)) ;;
        "$from" | 8)
            [ "$lay" = 8 ] && n8=$((n8 + 1)) || nfrom=$((nfrom + 1))
            case $((i % 4)) in
            0) rm -f "$T/s/intake"; left=none ;;
            1) mv "$T/s/intake" "$T/s/intake.new"
               truncate -s "$half" "$T/s/intake.new"; left="half an intake.new" ;;
            2) truncate -s "$half" "$T/s/intake"; left="half an intake" ;;
            esac
            ;;
        *) bad "$from -> 9: state $i ($mode, epoch $e): layout '$lay': $(cat "$T/loe")" ;;
        esac
        what="$from -> 9: state $i ($mode, epoch $e), layout $lay, intake: $left"
        if [ "$lay" = 9 ]; then
            same "$what" "$T/s"
        else
            refused "$what" "$T/s" "$lay"
        fi
        "$L" --dir "$T/s" migrate >"$T/m" 2>&1 ||
            bad "$what: migrate again: $(cat "$T/m")"
        [ "$(layout_of "$T/s")" = 9 ] && [ -f "$T/s/intake" ] ||
            bad "$what: migrate again did not reach layout 9"
        same "$what, migrated again" "$T/s"
        seq=$("$L" --dir "$T/s" append x.after --body '{"after":1}' 2>"$T/ae") ||
            bad "$what: append after: $(cat "$T/ae")"
        seq=${seq##* }
        "$L" --dir "$T/s" show "$seq" 2>&1 | grep -q '"after"' ||
            bad "$what: the appended event $seq is not there"
        "$L" --dir "$T/s" verify --full >"$T/v" 2>&1 ||
            bad "$what: verify --full after an append: $(tail -n 2 "$T/v")"
        i=$((i + 1))
    done
    [ $((nfrom + n8)) -gt 0 ] && [ "$n9" -gt 0 ] ||
        bad "$from -> 9: the states were all of one side ($nfrom at $from, $n8 at 8, $n9 at 9)"
    # the last epoch whole: layout 9
    image s prefix "$epochs" 0
    cp "$T/intake.whole" "$T/s/intake"
    [ "$(layout_of "$T/s")" = 9 ] || bad "$from -> 9: every write replayed: not layout 9"
    same "$from -> 9: every write replayed" "$T/s"
    said="$said $from -> 9: $STATES states from $epochs epochs ($nfrom layout $from, $n8 layout 8, $n9 layout 9);"
}
said=""
run 7
run 4
# with the syncs ignored (the log of the run from 4), some image is
# broken: it cannot be brought to layout 9 with the checkpoint of before,
# and the harness notices
lost=0
j=0
while [ "$j" -lt 12 ]; do
    image n subset 0 "$j" ignore
    cp "$T/intake.whole" "$T/n/intake"
    if [ "$(layout_of "$T/n")" != 9 ] &&
        ! "$L" --dir "$T/n" migrate >/dev/null 2>&1; then
        lost=$((lost + 1))
    elif ! "$L" --dir "$T/n" verify --full >/dev/null 2>&1 ||
        ! "$L" --dir "$T/n" checkpoint 2>&1 | cmp -s - "$V/checkpoint"; then
        lost=$((lost + 1))
    fi
    j=$((j + 1))
done
[ "$lost" -gt 0 ] ||
    bad "with the syncs ignored every image verified: the harness would not notice"

echo "migrate_powerloss:$said without syncs $lost of 12 broken; $nfail failed"
[ "$nfail" = 0 ]
