#!/bin/sh
# migrate_powerloss.sh — a power cut during `ledger migrate` of a layout 4
# ledger to layout 8 (in one conversion; issue 49), and of a layout 7 one
# to 8 (the rewrite of every entry record, a chunk a transaction;
# migrate.sh fails and kills both at every I/O call). The run is recorded
# by tests/faults/powerlog.c (every write to data.mdb, every sync) and
# tests/faults/powerloss.c replays it onto the data.mdb of before: every
# epoch before a chosen one whole, and of that one a prefix, a random
# subset, a random subset in random order, or one with a write torn at a
# sector. Each of STATES (default 24) images a run opens in the layout it
# came from or 8 (from 4 never 5, 6 or 7: the copy's entries are in layout
# 8's form, and its last transaction writes 8), `verify --full` passes,
# the checkpoint and the query answers (by index, time and a body scan)
# are the ones before, and migrate run again reaches layout 8 with the
# same answers; the last epoch whole is layout 8; with the syncs ignored,
# some image is broken (the harness would notice). And layout 7 to 9
# (what a plain `ledger migrate` does; issue 64): run9 below.
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

# run FROM: the layout FROM golden image (600 events; appends of this
# build's kind impossible: a build appends to layouts 8 and 9 only), as it is,
# migrated under the logger, then its power-loss states
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
# same WHAT DIR: verifies, has the checkpoint and answers of before
same() {
    "$L" --dir "$2" verify --full >"$T/v" 2>&1 ||
        { bad "$1: verify --full: $(tail -n 2 "$T/v")"; return 1; }
    "$L" --dir "$2" checkpoint 2>&1 | cmp -s - "$T/cp" ||
        { bad "$1: another checkpoint"; return 1; }
    qa "$2" | cmp -s - "$T/qa" || { bad "$1: other query answers"; return 1; }
}
run() {
    from=$1
    B=$T/b$from
    rm -rf "$B" "$T/log"
    mkdir -m 700 "$B" "$B/keys" || exit 1
    zstd -q -d -c "$V/layout$from.mdb.zst" >"$B/data.mdb" || exit 1
    cp "$V/keys/log.key" "$B/keys/log.key" && chmod 600 "$B/keys/log.key" "$B/data.mdb" ||
        exit 1
    [ "$("$L" --dir "$B" stats -o json | jq -r .layout)" = "$from" ] ||
        { echo "FAIL the image is not layout $from"; exit 1; }
    "$L" --dir "$B" checkpoint >"$T/cp" 2>&1 || { echo "FAIL checkpoint"; exit 1; }
    qa "$B" >"$T/qa"
    [ "$(wc -l <"$T/qa")" -gt 20 ] || { echo "FAIL few answers: $(cat "$T/qa")"; exit 1; }
    cp "$B/data.mdb" "$T/base.mdb"
    POWERLOG=$T/log POWERLOG_FILE=$B/data.mdb LD_PRELOAD=$pre "$L" --dir "$B" migrate \
        --layout 8 >"$T/out" 2>"$T/err" || { echo "FAIL migrate under the shim: $(cat "$T/err")"; exit 1; }
    [ "$("$L" --dir "$B" stats -o json | jq -r .layout)" = 8 ] ||
        { echo "FAIL migrate under the shim did not reach layout 8"; exit 1; }
    out=$("$T/powerloss" "$T/log" "$T/base.mdb" count) ||
        { echo "FAIL powerloss count: exit $?"; exit 1; }
    # shellcheck disable=SC2086
    set -- $out
    epochs=$2
    [ "$epochs" -ge 3 ] || bad "$from -> 8: only $epochs epochs logged: no syncs seen?"
    nfrom=0
    n8=0
    i=0
    while [ "$i" -lt "$STATES" ]; do
        pl_state "$i" "$epochs"
        image s "$mode" "$e" "$i" || { echo "FAIL powerloss image"; exit 1; }
        lay=$("$L" --dir "$T/s" stats -o json 2>"$T/se" | jq -r .layout)
        case $lay in
        "$from") nfrom=$((nfrom + 1)) ;;
        8) n8=$((n8 + 1)) ;;
        *) bad "$from -> 8: state $i ($mode, epoch $e): layout '$lay': $(cat "$T/se")" ;;
        esac
        same "$from -> 8: state $i ($mode, epoch $e), layout $lay" "$T/s"
        "$L" --dir "$T/s" migrate --layout 8 >"$T/m" 2>&1 ||
            bad "$from -> 8: state $i ($mode, epoch $e): migrate again: $(cat "$T/m")"
        [ "$("$L" --dir "$T/s" stats -o json 2>/dev/null | jq -r .layout)" = 8 ] ||
            bad "$from -> 8: state $i: migrate again did not reach layout 8"
        same "$from -> 8: state $i ($mode, epoch $e), migrated again" "$T/s"
        i=$((i + 1))
    done
    # the last epoch whole: layout 8
    image s prefix "$epochs" 0
    [ "$("$L" --dir "$T/s" stats -o json 2>/dev/null | jq -r .layout)" = 8 ] ||
        bad "$from -> 8: every write replayed: not layout 8"
    same "$from -> 8: every write replayed" "$T/s"
    said="$said $from -> 8: $STATES states from $epochs epochs ($nfrom layout $from, $n8 layout 8);"
}
# run9: the layout 7 image migrated to layout 9 (what `ledger migrate`
# does: 7 to 8 as above, then the intake log made whole and named before the one
# commit that names it in the store, ledger/migrate.c). Only data.mdb's
# writes are recorded (the intake file is made during the run); the
# intake file beside each image is what a cut at that point can leave:
# the whole one once the image is at 9 (it was flushed, renamed and its
# directory flushed before that commit began), and before that, in turn,
# none, a partial intake.new, a half of it named intake, or the whole one
# (no store names it yet). Each image: verify --full, the checkpoint and
# answers of before; `migrate` again reaches 9 with them;
# an append after it is there and verifies.
run9() {
    B=$T/b9
    rm -rf "$B" "$T/log"
    mkdir -m 700 "$B" "$B/keys" || exit 1
    zstd -q -d -c "$V/layout7.mdb.zst" >"$B/data.mdb" || exit 1
    cp "$V/keys/log.key" "$B/keys/log.key" && chmod 600 "$B/keys/log.key" "$B/data.mdb" ||
        exit 1
    "$L" --dir "$B" checkpoint >"$T/cp" 2>&1 || { echo "FAIL checkpoint"; exit 1; }
    qa "$B" >"$T/qa"
    cp "$B/data.mdb" "$T/base.mdb"
    POWERLOG=$T/log POWERLOG_FILE=$B/data.mdb LD_PRELOAD=$pre "$L" --dir "$B" \
        migrate >"$T/out" 2>"$T/err" ||
        { echo "FAIL migrate under the shim: $(cat "$T/err")"; exit 1; }
    [ "$("$L" --dir "$B" stats -o json | jq -r .layout)" = 9 ] && [ -f "$B/intake" ] ||
        { echo "FAIL migrate under the shim did not reach layout 9"; exit 1; }
    cp "$B/intake" "$T/intake.whole"
    out=$("$T/powerloss" "$T/log" "$T/base.mdb" count) ||
        { echo "FAIL powerloss count: exit $?"; exit 1; }
    # shellcheck disable=SC2086
    set -- $out
    epochs=$2
    [ "$epochs" -ge 3 ] || bad "7 -> 9: only $epochs epochs logged: no syncs seen?"
    n7=0 n8=0 n9=0 i=0
    half=$(($(wc -c <"$T/intake.whole") / 2))
    while [ "$i" -lt "$STATES" ]; do
        pl_state "$i" "$epochs"
        image s "$mode" "$e" "$i" || { echo "FAIL powerloss image"; exit 1; }
        cp "$T/intake.whole" "$T/s/intake"
        lay=$("$L" --dir "$T/s" stats -o json 2>"$T/se" | jq -r .layout)
        left=whole
        case $lay in
        7 | 8)
            [ "$lay" = 7 ] && n7=$((n7 + 1)) || n8=$((n8 + 1))
            case $((i % 4)) in
            0) rm -f "$T/s/intake"; left=none ;;
            1) mv "$T/s/intake" "$T/s/intake.new"
               truncate -s "$half" "$T/s/intake.new"; left="half an intake.new" ;;
            2) truncate -s "$half" "$T/s/intake"; left="half an intake" ;;
            esac
            ;;
        9) n9=$((n9 + 1)) ;;
        *) bad "7 -> 9: state $i ($mode, epoch $e): layout '$lay': $(cat "$T/se")" ;;
        esac
        what="7 -> 9: state $i ($mode, epoch $e), layout $lay, intake: $left"
        same "$what" "$T/s"
        "$L" --dir "$T/s" migrate >"$T/m" 2>&1 ||
            bad "$what: migrate again: $(cat "$T/m")"
        [ "$("$L" --dir "$T/s" stats -o json 2>/dev/null | jq -r .layout)" = 9 ] ||
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
    [ $((n7 + n8)) -gt 0 ] && [ "$n9" -gt 0 ] ||
        bad "7 -> 9: the states were all of one side ($n7 at 7, $n8 at 8, $n9 at 9)"
    said="$said 7 -> 9: $STATES states from $epochs epochs ($n7 layout 7, $n8 layout 8, $n9 layout 9);"
}
said=""
run 7
run 4
run9
# with the syncs ignored, some image is broken: the harness notices
lost=0
j=0
while [ "$j" -lt 12 ]; do
    image n subset 0 "$j" ignore
    if ! "$L" --dir "$T/n" verify --full >/dev/null 2>&1 ||
        ! "$L" --dir "$T/n" checkpoint 2>&1 | cmp -s - "$T/cp"; then
        lost=$((lost + 1))
    fi
    j=$((j + 1))
done
[ "$lost" -gt 0 ] ||
    bad "with the syncs ignored every image verified: the harness would not notice"

echo "migrate_powerloss:$said without syncs $lost of 12 broken; $nfail failed"
[ "$nfail" = 0 ]
