#!/bin/sh
# fleet_clock.sh — the witness outbox's backoff and a wall clock stepped
# back. next_try (fleet/submit.c) outlives the process, so it is a
# wall-clock time; a publish run under tests/faults/clockshift.c (built
# here) with the clock a day ahead leaves a next_try a day ahead of the
# real clock: what a clock stepped back a day does to it. The next run
# tries the witness at once, since the backoff is at most an hour (it
# waited a day until 2026-11-27: "retry after 86402s"); a next_try within
# the backoff is still waited for.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/fleet_clock.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
export no_proxy=127.0.0.1 NO_PROXY=127.0.0.1
nfail=0
fail() {
    echo "FAIL: $*"
    nfail=$((nfail + 1))
}
case $LEDGER in /*) ;; *) LEDGER=$PWD/$LEDGER ;; esac
B=$T/box
L() { "$LEDGER" --dir "$B" "$@"; }

# the shim (CS)
. "$ROOT/tests/e2e/lib/clockshift.sh"
clockshift_build "$LEDGER"

L init >/dev/null || { echo "FAIL: init"; exit 1; }
WV=$("$LEDGER" witness init --dir "$T/w" --name w.example/w1) ||
    { echo "FAIL: witness init"; exit 1; }
# a witness where nothing listens
WIT="http://127.0.0.1:$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])') $WV"

# publish [SHIFT]: a publish to a directory with the witness, the wall
# clock SHIFT seconds off; its standard error in $T/err
publish() {
    CLOCK_SHIFT_S=${1:-0} LD_PRELOAD=$CS "$LEDGER" --dir "$B" publish \
        "$T/pub" --witness "$WIT" >/dev/null 2>"$T/err" ||
        fail "publish: exit $?: $(cat "$T/err")"
}

publish 86400
grep -q 'queued in the outbox, attempt 1, next try in 2s' "$T/err" ||
    fail "a day ahead: $(cat "$T/err")"
# the clock is back: the day-ahead next_try is not waited for
publish
grep -q 'queued in the outbox, attempt 2, next try in 4s' "$T/err" ||
    fail "the clock stepped back a day: the outbox did not try again: $(cat "$T/err")"
# and a next_try within the backoff is
publish
grep -q 'waits in the outbox (retry after [1-4]s)' "$T/err" ||
    fail "within the backoff: $(cat "$T/err")"
# an hour's backoff (the longest) is waited for too: attempt 12 is an
# hour (2 s doubling), written here with the clock as it is
L publish "$T/pub" --witness "$WIT" --retry-now >/dev/null 2>&1
n=3
while [ $n -lt 12 ]; do
    L publish "$T/pub" --witness "$WIT" --retry-now >/dev/null 2>"$T/err"
    n=$((n + 1))
done
grep -q "attempt 12, next try in 3600s" "$T/err" ||
    fail "attempt 12: $(cat "$T/err")"
publish
grep -q 'waits in the outbox (retry after 3[0-9]*s)' "$T/err" ||
    fail "an hour's backoff: $(cat "$T/err")"

[ $nfail -eq 0 ] || exit 1
echo "fleet_clock: a next_try left by a clock stepped back a day is tried at once; the backoff up to an hour is kept"
