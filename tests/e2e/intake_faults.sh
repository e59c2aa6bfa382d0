#!/bin/sh
# intake_faults.sh — at store layout 9, a failed write or flush of the
# intake log leaves no frame a reader takes for one (docs/WRITE-PATH.md).
# `ledger append` and `ledger keys add bob` run with each of their I/O
# calls failing in turn (tests/faults/faultinject.c: fail EIO, fail
# ENOSPC, after EIO: the call done, then the error), and once with none:
#   - exit 0: the event (or bob's key) is there, once;
#   - a failure that says "nothing was appended" left the log as it was:
#     the events are the base's, `keys add bob` again succeeds and bob
#     signs (before: a failed flush of the intake left the frame whole in
#     the page cache, so bob's key event was in the log without its file,
#     and an append retried after ENOSPC appended the event twice);
#   - `keys add bob` failing at its second event (bob's key.anchored: the
#     log key is anchored, so keys add anchors bob too) says bob is added
#     but not anchored: his key.added is in the log, and `keys anchor bob`
#     finishes it;
#   - every ledger verifies in full afterwards and takes an append;
#   - `ledger erase` with each call failing: the cause named, nothing
#     erased, and the erasure again leaves no copy in the intake;
#   - a prune whose move to LMDB meets ENOSPC exits 0, 74 or 75, never 65.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/intake_faults.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT TERM HUP
fails=0 runs=0
fail() { printf 'FAIL: %s\n' "$*"; fails=$((fails + 1)); }
. "$ROOT/tests/e2e/lib/preload.sh"
${CC:-cc} -shared -fPIC -O1 -o "$T/fi.so" "$ROOT/tests/faults/faultinject.c" \
    -ldl 2>"$T/cc.err" || { echo "FAIL: cannot build the shim: $(cat "$T/cc.err")"; exit 1; }
san_preload "$LEDGER" detect_leaks=0
events() { "$LEDGER" --dir "$1" stats -o json | sed 's/.*"events":\([0-9]*\).*/\1/'; }

# epochs of P seconds (LEDGER_TEST_EPOCH_S): the copies of the base are
# soon past their epoch, so each command ends it first, and the sweeps
# fail the epoch state file's writes too (before: a sweep past the base's
# 60 s met them only on a slow box, and the erasure's "Input/output
# error" was taken for no cause named; `keys anchor bob` then took 60 s,
# not the unfinished anchor's period, and refused to finish it)
P=${LEDGER_TEST_EPOCH_S:-2}
B=$T/base
LEDGER_LAYOUT=9 "$LEDGER" --dir "$B" init --epoch "$P" >/dev/null 2>&1 || { echo "FAIL: init"; exit 1; }
"$LEDGER" --dir "$B" keys add alice >/dev/null 2>&1 || { echo "FAIL: keys add alice"; exit 1; }
"$LEDGER" --dir "$B" append x.test.base --body '{}' >/dev/null 2>&1 || { echo "FAIL: append"; exit 1; }
NB=$(events "$B")
W=$T/w

# shimmed N MODE ERRNO CMD...: CMD on a fresh copy of the base, its Nth
# write or sync failing; rc and the output in $T/out, $T/err
shimmed() {
    n=$1 mode=$2 err=$3
    shift 3
    rm -rf "$W"
    cp -a "$B" "$W"
    ASAN_OPTIONS=$SAN_OPTS LD_PRELOAD=$SAN_PRE$T/fi.so FAULT_AT=$n \
        FAULT_MODE=$mode FAULT_ERRNO=$err FAULT_LOG="$T/fault.log" \
        "$LEDGER" --dir "$W" "$@" >"$T/out" 2>"$T/err"
    rc=$?
    runs=$((runs + 1))
}
calls() { # CMD...: how many counted calls a clean run makes
    rm -rf "$W"
    cp -a "$B" "$W"
    rm -f "$T/count"
    ASAN_OPTIONS=$SAN_OPTS LD_PRELOAD=$SAN_PRE$T/fi.so FAULT_AT=0 \
        FAULT_COUNT_FILE="$T/count" "$LEDGER" --dir "$W" "$@" >/dev/null 2>&1
    cat "$T/count" 2>/dev/null || echo 0
}
after() { # WHAT: the ledger verifies and takes an append
    "$LEDGER" --dir "$W" verify --full >"$T/v" 2>&1 || fail "$1: verify --full: $(cat "$T/v")"
    "$LEDGER" --dir "$W" append x.test.after --body '{}' >/dev/null 2>"$T/e2" ||
        fail "$1: the next append: $(cat "$T/e2")"
}

k=$(calls append x.test.f --body '{"m":"f"}')
[ "$k" -gt 0 ] || { echo "FAIL: the shim counted no call of append"; exit 1; }
undone=0
for me in fail:EIO fail:ENOSPC after:EIO; do
    n=1
    while [ "$n" -le $((k + 1)) ]; do
        shimmed "$n" "${me%%:*}" "${me#*:}" append x.test.f --body '{"m":"f"}'
        what="append, $me at call $n of $k"
        now=$(events "$W")
        if [ "$rc" = 0 ]; then
            [ "$now" = $((NB + 1)) ] || fail "$what: exit 0 but $now events, want $((NB + 1))"
        elif grep -q "nothing was appended" "$T/err"; then
            undone=$((undone + 1))
            [ "$now" = "$NB" ] || fail "$what: '$(cat "$T/err")' but $now events, want $NB"
        else
            case $now in "$NB" | $((NB + 1))) ;; *) fail "$what: $now events after a failure" ;; esac
        fi
        after "$what"
        n=$((n + 1))
    done
done
[ "$undone" -gt 0 ] || fail "append: no failure undid its frame (is the shim working?)"

k=$(calls keys add bob)
undone=0 unanchored=0
for me in fail:EIO after:EIO; do
    n=1
    while [ "$n" -le $((k + 1)) ]; do
        shimmed "$n" "${me%%:*}" "${me#*:}" keys add bob
        what="keys add bob, $me at call $n of $k"
        if [ "$rc" != 0 ] && grep -q "key bob is added, but not anchored" "$T/err"; then
            # (keys add anchors bob after adding him: that write failed, his
            # key.added stays, one event more than the base)
            now=$(events "$W")
            unanchored=$((unanchored + 1))
            [ "$now" = $((NB + 1)) ] || fail "$what: '$(cat "$T/err")' but $now events, want $((NB + 1))"
            # (with no --epoch: the unfinished anchor's period, P s)
            "$LEDGER" --dir "$W" keys anchor bob >"$T/o2" 2>"$T/e2" ||
                fail "$what: anchoring bob after: $(cat "$T/e2")"
            grep -q "epoch keys of $P s" "$T/o2" ||
                fail "$what: anchoring bob after says: $(cat "$T/o2")"
        elif [ "$rc" != 0 ] && grep -q "nothing was appended" "$T/err"; then
            undone=$((undone + 1))
            "$LEDGER" --dir "$W" keys add bob >/dev/null 2>"$T/e2" ||
                fail "$what: adding bob again: $(cat "$T/e2")"
        fi
        if [ "$rc" != 0 ] && ! "$LEDGER" --dir "$W" keys list 2>/dev/null | grep -q '^bob '; then
            "$LEDGER" --dir "$W" keys add bob >/dev/null 2>"$T/e2" ||
                fail "$what: bob is not listed and cannot be added: $(cat "$T/e2")"
        fi
        "$LEDGER" --dir "$W" append x.test.bob --actor bob --body '{}' >/dev/null 2>"$T/e2" ||
            fail "$what: bob cannot sign: $(cat "$T/e2")"
        after "$what"
        n=$((n + 1))
    done
done
[ "$undone" -gt 0 ] || fail "keys add: no failure undid its frame (is the shim working?)"
[ "$unanchored" -gt 0 ] || fail "keys add: no failure left bob added but not anchored"

# an erasure (it applies the tail, overwrites the ring, then commits to
# LMDB): each failure names its cause and erases nothing, the ledger
# verifies, and the erasure retried succeeds and leaves no copy of the
# body in the intake
"$LEDGER" --dir "$B" append -q x.test.secret --body '{"s":"ZQ-ERASE-FAULT"}' >"$T/sseq" 2>&1 ||
    fail "append the secret: $(cat "$T/sseq")"
"$LEDGER" --dir "$B" append x.test.base --body '{}' >/dev/null 2>&1 || fail "append after the secret"
S=$(cat "$T/sseq")
k=$(calls erase -q --reason r "$S")
n=1
while [ "$n" -le $((k + 1)) ]; do
    shimmed "$n" fail EIO erase -q --reason r "$S"
    what="erase, fail EIO at call $n of $k"
    if [ "$rc" != 0 ]; then
        grep -Eq "^ledger erase: .*(I/O error|Input/output error)" "$T/err" &&
            ! grep -q "^ledger erase: I/O error$" "$T/err" ||
            fail "$what: exit $rc, the cause not named: $(cat "$T/err")"
        "$LEDGER" --dir "$W" show -o json "$S" 2>/dev/null | grep -q '"erased": *true' &&
            fail "$what: failed, yet event $S is erased"
        "$LEDGER" --dir "$W" erase -q --reason r "$S" >/dev/null 2>"$T/e2" ||
            fail "$what: the erasure again: $(cat "$T/e2")"
    fi
    grep -q ZQ-ERASE-FAULT "$W/intake" && fail "$what: the intake holds the erased body"
    "$LEDGER" --dir "$W" show -o json "$S" 2>/dev/null | grep -q '"erased": *true' ||
        fail "$what: event $S not erased in the end"
    after "$what"
    n=$((n + 1))
done

# a prune whose move to LMDB (the tail applied first) meets a full disk:
# 0 (retried once the map grew) or a full store's exit, never a
# malformed-input 65 (before: the batch died and the prune went on with
# no transaction, "invalid argument")
P=$T/prune
LEDGER_LAYOUT=9 "$LEDGER" --dir "$P" init >/dev/null 2>&1 || { echo "FAIL: init prune"; exit 1; }
awk 'BEGIN { for (i = 0; i < 600; i++) printf "{\"type\":\"x.t\",\"body\":{\"i\":%d}}\n", i }' |
    "$LEDGER" --dir "$P" ingest --batch 100 - >/dev/null 2>&1 || fail "ingest for the prune"
for i in 1 2 3 4; do
    "$LEDGER" --dir "$P" append x.test.tail --body '{}' >/dev/null 2>&1 || fail "tail $i"
done
"$LEDGER" --dir "$P" archive --before 301 --out "$T/a.seg" >/dev/null 2>&1 || fail "archive"
B=$P
k=$(calls prune --force --before 301 --archive "$T/a.seg")
n=1
while [ "$n" -le $((k + 1)) ]; do
    shimmed "$n" fail ENOSPC prune --force --before 301 --archive "$T/a.seg"
    case $rc in
    0 | 74 | 75) ;;
    *) fail "prune, fail ENOSPC at call $n of $k: exit $rc ($(cat "$T/err"))" ;;
    esac
    "$LEDGER" --dir "$W" verify --full >"$T/v" 2>&1 || fail "prune at call $n: verify --full: $(cat "$T/v")"
    # (606 before: the genesis, the log key's anchor, 600 and 4; a prune
    # adds its ledger.pruned event: 607)
    e=$(events "$W")
    if [ "$rc" = 0 ]; then
        [ "$e" = 607 ] || fail "prune at call $n: exit 0 but $e events, want 607"
    else
        case $e in 606 | 607) ;; *) fail "prune at call $n: $e events after a failure" ;; esac
    fi
    n=$((n + 1))
done

[ $fails = 0 ] || exit 1
echo "intake_faults: $runs faulted runs; a failed frame is undone, nothing appended twice"
