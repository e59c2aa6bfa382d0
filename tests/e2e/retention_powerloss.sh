#!/bin/sh
# retention_powerloss.sh — a power cut during `ledger prune` with a
# segment, and a full disk or kill -9 at every I/O call of `ledger
# archive` (issue 50), on a ledger at store layout 9 (what `ledger init`
# makes; the only layout a build opens).
#
#   * prune: the run is recorded by tests/faults/powerlog.c (every write
#     to data.mdb and to the intake log beside it, in one ordered log,
#     every sync of each) and tests/faults/powerloss.c replays it onto the
#     two files of before: of each file, its writes up to its last sync
#     before a chosen epoch whole, and of the rest up to that epoch's end
#     a prefix, a random subset, a random subset in random order, or one
#     with a write torn at a sector. Each of STATES (default 24) images is
#     the ledger before the prune (no horizon, event 0 there) or after it
#     (the horizon, event 0 pruned), and `verify --full` passes; the prune
#     also drops the pruned events' level-0 hash tiles: an image after it
#     has dropped them (a proof of event 5 refused as pruned), one before
#     has them; with the syncs ignored, some image is neither (the harness
#     would notice).
#   * archive: each I/O call in turn fails with ENOSPC, and the archive
#     is killed (-9) inside each: the command fails (74) or succeeds;
#     either way the archive's path holds nothing or a segment that
#     verifies and prunes, a killed run leaves at most a `.tmp.` file, and
#     the ledger verifies.
#   * prune --policy, power cut: the same cuts in the policy's archive
#     directory (its archive written, then the prune with it, in one
#     run), the image with every name made or only those the directory's
#     fsyncs made durable: the ledger verifies, a pruned one's archive is
#     whole in the image, and the policy run again on the image prunes to
#     the end.
#   * archive, power cut: tests/faults/dircut.c cuts the power at each
#     sync point of the archive (each fsync of its file or directory, each
#     link, rename and unlink there, its exit), with its file written
#     unnamed (O_TMPFILE) and as a named `.tmp.` file, four images a
#     point (none, a subset, a torn subset, all of the writes since the
#     file's last fsync): the directory holds no segment under the final
#     name or a whole one that verify-bundle accepts and the ledger prunes
#     with, nothing else but a `.tmp.` file, and the ledger verifies; with
#     the fsyncs ignored, some image names a segment that does not verify
#     (the harness would notice).
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/e2e/lib/powerloss.sh" # pl_state I EPOCHS
. "$ROOT/tests/e2e/lib/wait.sh" # killed_in_call PID LOG
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/retention_powerloss.XXXXXX") ||
    exit 1
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT TERM
STATES=${STATES:-24}
nfail=0
bad() {
    printf 'FAIL %s\n' "$*"
    nfail=$((nfail + 1))
}
CC=${CC:-cc}
env -u CFLAGS $CC -shared -fPIC -O1 -o "$T/powerlog.so" \
    "$ROOT/tests/faults/powerlog.c" -ldl &&
    env -u CFLAGS $CC -shared -fPIC -O1 -o "$T/dircut.so" \
        "$ROOT/tests/faults/dircut.c" -ldl &&
    env -u CFLAGS $CC -shared -fPIC -O1 -o "$T/nt.so" \
        "$ROOT/tests/faults/notmpfile.c" -ldl &&
    env -u CFLAGS $CC -O1 -o "$T/powerloss" "$ROOT/tests/faults/powerloss.c" &&
    env -u CFLAGS $CC -shared -fPIC -O1 -o "$T/fi.so" \
        "$ROOT/tests/faults/faultinject.c" -ldl || exit 1
san=$(ldd "$LEDGER" 2>/dev/null | awk '/libasan|libubsan|libtsan/ {print $3}' |
    tr '\n' ' ')
ASAN_OPTIONS=${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}verify_asan_link_order=0:detect_leaks=0
export ASAN_OPTIONS

L=$T/l
"$LEDGER" --dir "$L" init --origin powerloss.test/l >/dev/null 2>"$T/err" ||
    { echo "FAIL init: $(cat "$T/err")"; exit 1; }
lay=$("$LEDGER" --dir "$L" stats -o json 2>/dev/null | jq -r .layout)
[ "$lay" = 9 ] || { echo "FAIL init made store layout '$lay', not 9"; exit 1; }
awk 'BEGIN { for (i = 0; i < 1200; i++)
    printf "{\"type\":\"x.t\",\"body\":{\"n\":%d,\"s\":\"%s\"}}\n", i, (i % 7 ? "ok" : "failed") }' \
    >"$T/in.jsonl"
"$LEDGER" --dir "$L" ingest --batch 100 "$T/in.jsonl" >/dev/null 2>&1 || exit 1
# (the intake log's tail moved into data.mdb: the copies below start alike)
"$LEDGER" --dir "$L" flush >/dev/null 2>"$T/err" ||
    { echo "FAIL flush: $(cat "$T/err")"; exit 1; }
# (a commit's end: event 1 is init's key.anchored, so the batches of 100
# are events 2..101, 102..201, ...; the sixth ends before 602)
H=$((2 + 600))
"$LEDGER" --dir "$L" archive --before "$H" --out "$T/a.seg" >/dev/null 2>&1 ||
    { echo "FAIL archive"; exit 1; }
"$LEDGER" --dir "$L" verify >/dev/null 2>&1 || { echo "FAIL verify before"; exit 1; }
cp -a "$L" "$T/base"

# ------------------------------------------------ archive, every call --
FAULT_COUNT_FILE=$T/count LD_PRELOAD="$san$T/fi.so" "$LEDGER" --dir "$T/base" \
    archive --before "$H" --out "$T/count.seg" >/dev/null 2>&1 ||
    bad "the counting archive failed"
calls=$(cat "$T/count" 2>/dev/null || echo 0)
# (at least the segment's bytes, its file's fsync and its directory's:
# 601 events fit one read window, whose bytes are one write)
[ "$calls" -ge 3 ] || bad "an archive made only '$calls' I/O calls"
# archived WHAT FILE: FILE is absent, or a whole segment the ledger
# prunes with; no other file but a .tmp. beside it
archived() {
    if [ -e "$2" ]; then
        "$LEDGER" verify-bundle "$2" --trusted-key "$VK" >/dev/null 2>"$T/vb" ||
            bad "$1: $2 is there but does not verify: $(grep FAIL "$T/vb" | head -n 2)"
        rm -rf "$T/p"
        cp -a "$T/base" "$T/p"
        "$LEDGER" --dir "$T/p" prune --before "$H" --archive "$2" --force \
            >/dev/null 2>"$T/perr" || bad "$1: its archive does not prune: $(cat "$T/perr")"
    fi
    for f in "$(dirname "$2")"/*; do
        case $f in
        "$2" | "$2".tmp.* | "$(dirname "$2")/*") ;;
        *) bad "$1: left $f" ;;
        esac
    done
    "$LEDGER" --dir "$T/base" verify >/dev/null 2>&1 || bad "$1: the ledger does not verify"
}
VK=$("$LEDGER" --dir "$T/base" keys verifier)
step=${RETENTION_CALL_STEP:-1}
n=1
while [ "$n" -le "$calls" ]; do
    rm -rf "$T/arch"
    mkdir "$T/arch"
    FAULT_AT=$n FAULT_ERRNO=ENOSPC LD_PRELOAD="$san$T/fi.so" "$LEDGER" \
        --dir "$T/base" archive --before "$H" --out "$T/arch/a.seg" \
        >/dev/null 2>"$T/err"
    rc=$?
    case $rc in
    0) [ -e "$T/arch/a.seg" ] || bad "ENOSPC at call $n: exit 0, no archive" ;;
    74) grep -q 'space\|I/O\|write\|sync' "$T/err" ||
        bad "ENOSPC at call $n: exit 74 without the cause: $(cat "$T/err")" ;;
    *) bad "ENOSPC at call $n: exit $rc: $(cat "$T/err")" ;;
    esac
    ls "$T/arch" | grep -q '\.tmp\.' && bad "ENOSPC at call $n: a .tmp. file left"
    archived "ENOSPC at call $n" "$T/arch/a.seg"
    rm -rf "$T/arch"
    mkdir "$T/arch"
    rm -f "$T/flog"
    FAULT_AT=$n FAULT_MODE=hang FAULT_LOG=$T/flog LD_PRELOAD="$san$T/fi.so" \
        "$LEDGER" --dir "$T/base" archive --before "$H" --out "$T/arch/a.seg" \
        >/dev/null 2>&1 &
    killed_in_call $! "$T/flog"
    archived "kill -9 at call $n" "$T/arch/a.seg"
    n=$((n + step))
done

# ------------------------------------------------- archive, power cut --
# cut ARCH IMAGE [VAR=VALUE...]: an archive into ARCH/a.seg with dircut
# (and notmpfile.so when $nt is set: a named .tmp. file)
cut() {
    rm -rf "$1" "$2"
    mkdir "$1" "$2"
    a=$1
    shift 2
    env DIRCUT_DIR="$a" "$@" LD_PRELOAD="$san$T/dircut.so${nt:+ $T/nt.so}" "$LEDGER" \
        --dir "$T/base" archive --before "$H" --out "$a/a.seg" >/dev/null 2>&1
}
points=""
images=0
named=0
for how in tmpfile named; do
    nt=""
    [ $how = named ] && nt=1
    cut "$T/arch" "$T/img" DIRCUT_COUNT_FILE="$T/dc" ||
        bad "archive under dircut ($how) failed"
    np=$(cat "$T/dc" 2>/dev/null || echo 0)
    [ "$np" -ge 3 ] || bad "$how: an archive with only '$np' sync points"
    points="${points:+$points, }$how $np"
    [ $how = tmpfile ] && np1=$np
    n=1
    while [ "$n" -le "$np" ]; do
        for seed in 0 1 2 3; do
            cut "$T/arch" "$T/img" DIRCUT_AT=$n DIRCUT_SEED=$seed \
                DIRCUT_IMAGE="$T/img"
            archived "power cut at point $n of $np ($how, seed $seed)" "$T/img/a.seg"
            images=$((images + 1))
            [ -e "$T/img/a.seg" ] && named=$((named + 1))
        done
        n=$((n + 1))
    done
done
[ "$named" -gt 0 ] && [ "$named" -lt "$images" ] ||
    bad "power cuts in archive: $named of $images images name the segment (some should, some not)"
# with the fsyncs ignored, a cut after the link names a file whose writes
# may not be there: the harness notices
lost=0
n=1
while [ "$n" -le "${np1:-0}" ]; do
    cut "$T/arch" "$T/img" DIRCUT_IGNORE_SYNC=1 DIRCUT_AT=$n DIRCUT_SEED=0 \
        DIRCUT_IMAGE="$T/img"
    if [ -e "$T/img/a.seg" ] && ! "$LEDGER" verify-bundle "$T/img/a.seg" \
        --trusted-key "$VK" >/dev/null 2>&1; then
        lost=$((lost + 1))
    fi
    n=$((n + 1))
done
[ "$lost" -gt 0 ] ||
    bad "archive with the fsyncs ignored: every image was whole or unnamed: the harness would not notice"
alost=$lost
nt=""

# ------------------------------------------ prune --policy, power cut --
# the policy writes its archive and prunes with it in one run: cut at each
# sync point of its archive directory (the process killed there), the
# ledger verifies; pruned, it names an archive the image holds whole; and
# the policy run again on the image finishes the prune
cp -a "$T/base" "$T/pbase"
echo '{"keep_days": 1, "disk_budget": 1, "archive_dir": "arch"}' \
    >"$T/pbase/retention.json"
"$LEDGER" --dir "$T/pbase" stats -o json >"$T/st" 2>/dev/null
size=$(jq -r .size "$T/st")
seg=ledger-0-$((size - 1)).segment
# policy IMAGE [VAR=VALUE...]: prune --policy of a copy, $T/pp, with dircut
policy() {
    rm -rf "$T/pp" "$1"
    cp -a "$T/pbase" "$T/pp" && mkdir "$T/pp/arch" "$1" || exit 1
    shift
    env DIRCUT_DIR="$T/pp/arch" "$@" LD_PRELOAD="$san$T/dircut.so${nt:+ $T/nt.so}" \
        "$LEDGER" --dir "$T/pp" prune --policy --force >/dev/null 2>&1
}
ppoints=""
pimages=0
ppruned=0
for how in tmpfile named; do
    nt=""
    [ $how = named ] && nt=1
    policy "$T/img" DIRCUT_COUNT_FILE="$T/dc" ||
        bad "prune --policy under dircut ($how) failed"
    np=$(cat "$T/dc" 2>/dev/null || echo 0)
    [ "$np" -ge 3 ] || bad "$how: a policy prune with only '$np' sync points"
    ppoints="${ppoints:+$ppoints, }$how $np"
    n=1
    while [ "$n" -le "$np" ]; do
        for seed in 0 2 4 6; do
            # (seeds 4 and 6: the names the directory's last fsync left)
            names=all
            [ "$seed" -ge 4 ] && names=durable
            w="policy cut at point $n of $np ($how, seed $seed, $names names)"
            policy "$T/img" DIRCUT_AT=$n DIRCUT_SEED=$seed DIRCUT_IMAGE="$T/img" \
                DIRCUT_NAMES=$names
            "$LEDGER" --dir "$T/pp" verify >/dev/null 2>&1 || bad "$w: the ledger does not verify"
            for f in "$T"/img/*; do
                case $f in
                "$T/img/$seg")
                    "$LEDGER" verify-bundle "$f" --trusted-key "$VK" >/dev/null 2>&1 ||
                        bad "$w: $seg is there but does not verify" ;;
                "$T/img/$seg".tmp.* | "$T/img/*") ;;
                *) bad "$w: left $f" ;;
                esac
            done
            h=$("$LEDGER" --dir "$T/pp" stats -o json 2>/dev/null | jq -r '.horizon // "none"')
            if [ "$h" != none ]; then
                ppruned=$((ppruned + 1))
                [ -e "$T/img/$seg" ] || bad "$w: pruned to $h, and its archive is not on the disk"
            fi
            # the next run goes on from what the disk held
            rm -rf "$T/pp/arch"
            mv "$T/img" "$T/pp/arch"
            "$LEDGER" --dir "$T/pp" prune --policy --force >/dev/null 2>"$T/err"
            h=$("$LEDGER" --dir "$T/pp" stats -o json 2>/dev/null | jq -r '.horizon // "none"')
            # (at or past the end: a run after the whole prune prunes its
            # ledger.pruned event too)
            [ "$h" != none ] && [ "$h" -ge "$size" ] ||
                bad "$w: the policy run again leaves the horizon at $h: $(cat "$T/err")"
            "$LEDGER" --dir "$T/pp" verify --full >/dev/null 2>&1 ||
                bad "$w: after the policy run again, verify --full fails"
            pimages=$((pimages + 1))
        done
        n=$((n + 1))
    done
done
nt=""
[ "$ppruned" -gt 0 ] || bad "no policy cut came after its prune: the cuts miss its end"

# --------------------------------------------------- prune, power cut --
# the prune of events 0..H-1 with their archive, the intake log recorded
# beside data.mdb in the same ordered log: every image is before or after
# and passes verify --full; the prune also drops the pruned events'
# level-0 hash tiles (issue 64, item 6: here tiles 0 and 1, events
# 0..511): an after one has dropped them (a proof of event 5 is refused
# as pruned, 66, the tile of event H-1 still proves its events), a
# before one has them
cp "$L/data.mdb" "$T/base.mdb" && cp "$L/intake" "$T/base.intake" || exit 1
pre=$T/powerlog.so
asan=$(ldd "$LEDGER" 2>/dev/null | sed -n 's/.*=> \(.*libasan[^ ]*\).*/\1/p')
[ -n "$asan" ] && pre="$asan $pre"
rm -f "$T/log"
POWERLOG=$T/log POWERLOG_FILE=$L/data.mdb POWERLOG_FILE2=$L/intake \
    LD_PRELOAD=$pre "$LEDGER" --dir "$L" prune --before "$H" --archive "$T/a.seg" \
    --force -o json >"$T/out" 2>"$T/err" ||
    { echo "FAIL prune under the shim: $(cat "$T/err")"; exit 1; }
[ "$(jq -r .removed.tiles "$T/out")" = 2 ] ||
    bad "the prune dropped $(jq -r .removed.tiles "$T/out") tiles, not 2"
out=$("$T/powerloss" "$T/log" "$T/base.mdb" count) ||
    { echo "FAIL powerloss count: exit $?"; exit 1; }
set -- $out
epochs=$2
[ "$epochs" -ge 2 ] || bad "only $epochs epochs logged: no syncs seen?"

# state DIR: before, after, or neither (and why, printed: it runs in
# $(...), whose variables the caller does not see)
state() {
    h=$("$LEDGER" --dir "$1" stats -o json 2>/dev/null | jq -r '.horizon // "none"')
    if [ "$h" = none ]; then
        "$LEDGER" --dir "$1" show 0 >/dev/null 2>&1 || { echo "no horizon, no event 0"; return 1; }
        echo before
    elif [ "$h" = "$H" ]; then
        "$LEDGER" --dir "$1" show 0 >/dev/null 2>&1 && { echo "the horizon, and event 0"; return 1; }
        "$LEDGER" --dir "$1" show $((H + 10)) >/dev/null 2>&1 || { echo "a kept event is gone"; return 1; }
        echo after
    else
        echo "horizon $h"
        return 1
    fi
}
# tiles DIR STATE: the tiles as STATE has them
tiles() {
    "$LEDGER" --dir "$1" proof 5 >/dev/null 2>"$T/perr"
    prc=$?
    "$LEDGER" --dir "$1" proof $((H - 1)) >/dev/null 2>&1 ||
        { why="no proof of event $((H - 1))"; return 1; }
    case $2 in
    before) [ "$prc" = 0 ] || { why="before, and event 5's proof exits $prc"; return 1; } ;;
    after) [ "$prc" = 66 ] && grep -q "store layout 9" "$T/perr" ||
        { why="after, and event 5's proof exits $prc: $(head -c 200 "$T/perr")"; return 1; } ;;
    esac
}
image() { # NAME MODE EPOCH SEED [ignore]
    rm -rf "$T/$1"
    mkdir -m 700 "$T/$1" && cp -a "$L/keys" "$T/$1/" || exit 1
    env ${5:+POWERLOSS_IGNORE_SYNC=1} POWERLOSS_BASE2=$T/base.intake \
        POWERLOSS_OUT2=$T/$1/intake "$T/powerloss" "$T/log" "$T/base.mdb" \
        "$T/$1/data.mdb" "$2" "$3" "$4" >/dev/null ||
        { echo "FAIL powerloss image ($2, epoch $3, seed $4${5:+, $5})"; exit 1; }
}
nb=0
na=0
i=0
while [ "$i" -lt "$STATES" ]; do
    pl_state "$i" "$epochs"
    image s "$mode" "$e" "$i"
    w="state $i ($mode, epoch $e)"
    "$LEDGER" --dir "$T/s" verify --full >"$T/v" 2>&1 || bad "$w: verify --full: $(tail -n 2 "$T/v")"
    if st=$(state "$T/s"); then
        tiles "$T/s" "$st" || bad "$w: $why"
        [ "$st" = before ] && nb=$((nb + 1))
        [ "$st" = after ] && na=$((na + 1))
    else
        bad "$w: neither before nor after the prune: $st"
    fi
    i=$((i + 1))
done
# the last epoch whole: after, its tiles dropped
image s prefix "$epochs" 0
why=""
st=$(state "$T/s") && [ "$st" = after ] && tiles "$T/s" after ||
    bad "every write replayed: not after the prune (${why:-$st})"
# with the syncs ignored, some image is broken: the harness notices
lost=0
j=0
while [ "$j" -lt 12 ]; do
    image n subset 0 "$j" ignore
    if ! "$LEDGER" --dir "$T/n" verify --full >/dev/null 2>&1 || ! state "$T/n" >/dev/null; then
        lost=$((lost + 1))
    fi
    j=$((j + 1))
done
[ "$lost" -gt 0 ] ||
    bad "with the syncs ignored every image was before or after: the harness would not notice"

echo "retention_powerloss: archive: $calls I/O calls, each failed (ENOSPC) and killed; power cuts at each sync point ($points) in $images images, $named naming a whole segment, without fsyncs $alost broken; prune --policy: power cuts at each sync point of its archive ($ppoints) in $pimages images, $ppruned after its prune, each run again to the end; prune (data.mdb and intake, its tiles dropped): $STATES power-loss states from $epochs epochs ($nb before, $na after), without syncs $lost of 12 broken; $nfail failed"
[ "$nfail" = 0 ]
