#!/bin/sh
# robust_powerloss.sh — the states a power cut can leave data.mdb in
# (issue 11). `ledger ingest --acks --batch 4` of 200 lines runs under
# tests/faults/powerlog.c, an LD_PRELOAD shim that records every write to
# data.mdb, every sync of it and every acknowledgement printed. Then
# tests/faults/powerloss.c replays the log onto the data.mdb of before the
# run: every epoch (the writes between two syncs) before a chosen one
# whole, and of the chosen one a prefix, a random subset, a random subset
# in random order, or a random subset with one write torn at a 512-byte
# sector. For each of STATES (default 24; make torture: 400) such images:
#   - `ledger verify --full` passes (exit 0);
#   - every event acknowledged by then is there with its body
#     ({"n": seq - 3}: event 1 is init's key.anchored, 2 the {"n":-1}
#     appended before the run); the acknowledged count is reported.
# And the harness shows it would notice a loss: replaying the same log as
# if nothing had been synced (a disk that ignores flushes) must lose
# acknowledged events in some of 12 images.
# At store layout 9 (LEDGER_LAYOUT=9: intake_powerloss.sh) the shim
# records data.mdb and DIR/intake in one ordered log (frames of 4 events
# acknowledged by the intake's flush, LMDB commits applying the tail every
# 128), and each image is of both files: of each, its writes up to its own
# last sync by the chosen epoch durable, its later ones up to the end of
# that epoch (both files' together) cut as above.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/e2e/lib/powerloss.sh" # pl_state I EPOCHS
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/robust_powerloss.XXXXXX") ||
    exit 1
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT TERM
STATES=${STATES:-24}
LINES=${LINES:-200}
nfail=0
bad() {
    printf 'FAIL %s\n' "$*"
    nfail=$((nfail + 1))
}
CC=${CC:-cc}
# plain builds: an instrumented shim would need the sanitizer runtime
env -u CFLAGS $CC -shared -fPIC -O1 -o "$T/powerlog.so" \
    "$ROOT/tests/faults/powerlog.c" -ldl &&
    env -u CFLAGS $CC -O1 -o "$T/powerloss" "$ROOT/tests/faults/powerloss.c" ||
    exit 1

L=$T/l
"$LEDGER" --dir "$L" init >/dev/null 2>&1 &&
    "$LEDGER" --dir "$L" append x.t --body '{"n":-1}' >/dev/null 2>&1 || exit 1
cp "$L/data.mdb" "$T/base.mdb"
# the intake log (layout 9): recorded and imaged beside data.mdb
two=""
if [ -f "$L/intake" ]; then
    cp "$L/intake" "$T/base.intake"
    two=1
fi
[ "${LEDGER_LAYOUT:-}" = 9 ] && [ -z "$two" ] &&
    { echo "FAIL: no intake log at layout 9"; exit 1; }
awk -v n="$LINES" 'BEGIN { for (i = 0; i < n; i++)
    printf "{\"type\":\"x.t\",\"body\":{\"n\":%d}}\n", i }' >"$T/in.jsonl"
# LD_PRELOAD reaches an ASan build only after its runtime: the shim is
# for the plain binary; under ASan the runtime is named first.
pre=$T/powerlog.so
asan=$(ldd "$LEDGER" 2>/dev/null | sed -n 's/.*=> \(.*libasan[^ ]*\).*/\1/p')
[ -n "$asan" ] && pre="$asan $pre"
env POWERLOG="$T/log" POWERLOG_FILE="$L/data.mdb" \
    ${two:+POWERLOG_FILE2="$L/intake"} LD_PRELOAD="$pre" \
    ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0:verify_asan_link_order=0" \
    "$LEDGER" --dir "$L" ingest --acks --batch 4 "$T/in.jsonl" \
    >"$T/acks" 2>"$T/err" || {
    echo "FAIL ingest under the shim: $(head -c 300 "$T/err")"
    exit 1
}
last=$(sed -n 's/.*"committed_last":"\([0-9]*\)".*/\1/p' "$T/acks" | tail -n 1)
out=$("$T/powerloss" "$T/log" "$T/base.mdb" count) ||
    { echo "FAIL powerloss count: exit $?"; exit 1; }
set -- $out
epochs=$2
logged=$4
[ "$logged" = "$last" ] ||
    bad "the shim logged acks up to $logged, ingest printed up to $last"
minep=10
[ -n "$two" ] && minep=40 # (a frame's flush, and LMDB's commits)
[ "$epochs" -gt "$minep" ] || bad "only $epochs epochs logged: no syncs seen?"

# image NAME MODE EPOCH SEED: $T/NAME/ with the image; sets $acked
image() {
    rm -rf "$T/$1"
    mkdir -m 700 "$T/$1" && cp -a "$L/keys" "$T/$1/" || exit 1
    out=$(env ${two:+POWERLOSS_BASE2=$T/base.intake POWERLOSS_OUT2=$T/$1/intake} \
        "$T/powerloss" "$T/log" "$T/base.mdb" "$T/$1/data.mdb" "$2" \
        "$3" "$4") || { echo "FAIL powerloss image $1 $2 $3 $4: exit $?"; exit 1; }
    set -- $out
    acked=$2
    case "$acked" in
    -1 | [0-9]*) ;;
    *) echo "FAIL powerloss image: no acked count in '$out'"; exit 1 ;;
    esac
}
# intact DIR: is every acknowledged event there? 0 or 1 (+ why in $why)
intact() {
    why=""
    [ "$acked" -ge 0 ] || return 0
    "$LEDGER" --dir "$1" show "$acked" -o json >"$T/show" 2>"$T/serr" || {
        why="event $acked (acknowledged) missing: $(head -c 200 "$T/serr")"
        return 1
    }
    grep -q "\"n\":$((acked - 3))[,}]" "$T/show" || {
        why="event $acked does not hold its body: $(head -c 200 "$T/show")"
        return 1
    }
}

i=0
maxacked=-1
while [ "$i" -lt "$STATES" ]; do
    pl_state "$i" "$epochs"
    image s "$mode" "$e" "$i"
    "$LEDGER" --dir "$T/s" verify --full >"$T/out" 2>"$T/verr"
    rc=$?
    [ "$rc" = 0 ] ||
        bad "state $i ($mode, epoch $e): verify --full exit $rc: $(tail -n 2 "$T/verr")"
    intact "$T/s" || bad "state $i ($mode, epoch $e): $why"
    [ "$acked" -gt "$maxacked" ] && maxacked=$acked
    i=$((i + 1))
done

# The harness notices a loss: ignoring the syncs must lose something.
lost=0
j=0
while [ "$j" -lt 12 ]; do
    rm -rf "$T/n"
    mkdir -m 700 "$T/n" && cp -a "$L/keys" "$T/n/"
    out=$(env POWERLOSS_IGNORE_SYNC=1 ${two:+POWERLOSS_BASE2=$T/base.intake} \
        ${two:+POWERLOSS_OUT2=$T/n/intake} "$T/powerloss" "$T/log" "$T/base.mdb" \
        "$T/n/data.mdb" subset 0 "$j") ||
        { echo "FAIL powerloss subset $j: exit $?"; exit 1; }
    set -- $out
    acked=$2
    if ! "$LEDGER" --dir "$T/n" verify --full >/dev/null 2>&1 ||
        ! intact "$T/n"; then
        lost=$((lost + 1))
    fi
    j=$((j + 1))
done
[ "$lost" -gt 0 ] ||
    bad "with the syncs ignored no image lost an acknowledged event: the harness would not notice a loss"

echo "${NAME:-robust_powerloss}: $STATES power-loss states from $epochs epochs" \
    "($LINES events, acknowledged up to seq $last), $nfail failed;" \
    "without syncs $lost of 12 images lost acknowledged events"
[ "$nfail" = 0 ]
