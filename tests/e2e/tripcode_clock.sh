#!/bin/sh
# tripcode_clock.sh — a tripcode's cooldown holds when the wall clock is
# stepped back (NTP stepping at boot, a wrong RTC, an operator setting
# the clock). `ledger tripcode verify` runs under tests/faults/clockshift.c
# (built here), an LD_PRELOAD shim that moves every read of the wall
# clock:
#   - a code used at the real time, then another of the same code signed
#     after it (so not a replay) verified with the clock 120 s behind:
#     the clock reads earlier than the last use, so how long ago that use
#     was is unknown: refused (exit 1) as inside its cooldown, the
#     message naming both times and saying the clock reads earlier; the
#     refusal is a tripcode.refused in the log with that reason. Until
#     2026-11-27 the cooldown was skipped when the clock read earlier than
#     the last use, and the code was accepted;
#   - the same with --cooldown 1: still refused (no cooldown is known to
#     have passed);
#   - the clock 1000 s ahead (past the 900 s cooldown), a code signed
#     then: accepted, so the refusal above is the clock's and not for good.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/tripcode_clock.XXXXXX") ||
    exit 1
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT TERM
nfail=0
fail() {
    echo "FAIL: $*"
    nfail=$((nfail + 1))
}
case $LEDGER in /*) ;; *) LEDGER=$PWD/$LEDGER ;; esac
# the shim (CS): tests/e2e/lib/clockshift.sh
. "$ROOT/tests/e2e/lib/clockshift.sh"
clockshift_build "$LEDGER" detect_leaks=0
D=$T/l
L() { "$LEDGER" --dir "$D" --utc "$@"; }
# shifted SECONDS CMD...: CMD with the wall clock SECONDS later (earlier
# when negative)
shifted() {
    s=$1
    shift
    CLOCK_SHIFT_S=$s LD_PRELOAD=$CS "$LEDGER" --dir "$D" --utc "$@"
}
K=$T/ctl.key

L init >/dev/null || { echo "FAIL: init"; exit 1; }
"$LEDGER" keys generate --out "$K" >"$T/ctl.pub" || exit 1
L keys add controller --public-key @"$T/ctl.pub" --roles controller \
    >/dev/null || exit 1

# the shim moves the clock the ledger reads (or this test proves nothing)
real=$(date +%s)
got=$(CLOCK_SHIFT_S=-120 LD_PRELOAD=$CS "$LEDGER" tripcode sign --key "$K" \
    RECOVERY:LOCKDOWN | cut -d'|' -f1)
[ "$got" -le $((real - 100)) ] 2>/dev/null ||
    fail "clockshift did not move the clock: signed at '$got', real $real"

# a use at the real time
now=$(date +%s)
"$LEDGER" tripcode sign --key "$K" --ts $((now - 200)) RECOVERY:LOCKDOWN \
    >"$T/c1"
L tripcode verify @"$T/c1" >"$T/out" 2>"$T/err" ||
    fail "first use refused: $(cat "$T/err")"
used=$(L tripcode list -o json | jq -r 'select(.code=="RECOVERY:LOCKDOWN") |
    .used_seq')

# the clock stepped back 120 s: a code signed after the first (not a
# replay, not from the future for the stepped clock, not expired)
"$LEDGER" tripcode sign --key "$K" --ts $((now - 150)) RECOVERY:LOCKDOWN \
    >"$T/c2"
shifted -120 tripcode verify @"$T/c2" >"$T/out" 2>"$T/err"
rc=$?
[ $rc = 1 ] || fail "clock stepped back: exit $rc, want 1 (refused): \
$(cat "$T/out" "$T/err")"
grep -q "refused: inside its cooldown: the clock reads .* earlier than the \
last use of RECOVERY:LOCKDOWN at seq $used (" "$T/err" ||
    fail "clock stepped back: the message: $(cat "$T/err")"
# both times, exact and in UTC (the reason is stored in the event: a
# reader elsewhere, later, must not need this box's time zone)
n=$(grep -o '20[0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-9:]*\.[0-9]\{9\}Z' \
    "$T/err" | wc -l)
[ "$n" -ge 2 ] || fail "clock stepped back: two times wanted: $(cat "$T/err")"
L query -o json type=tripcode.refused >"$T/ref.json"
r=$(jq -r -s 'length' "$T/ref.json")
[ "$r" = 1 ] || fail "clock stepped back: $r tripcode.refused, want 1"
jq -r -s '.[-1].body.reason' "$T/ref.json" |
    grep -q '^inside its cooldown: the clock reads .* earlier than' ||
    fail "the recorded reason: $(jq -c -s '.[-1].body' "$T/ref.json")"
L tripcode list -o json >"$T/tc.json"
[ "$(jq -r 'select(.code=="RECOVERY:LOCKDOWN") | "\(.uses) \(.refusals)"' \
    "$T/tc.json")" = "1 1" ] ||
    fail "tripcode list: $(jq -c . "$T/tc.json")"

# a one-second cooldown: still no cooldown is known to have passed
"$LEDGER" tripcode sign --key "$K" --ts $((now - 140)) RECOVERY:LOCKDOWN \
    >"$T/c3"
shifted -120 tripcode verify --cooldown 1 @"$T/c3" >"$T/out" 2>"$T/err"
rc=$?
[ $rc = 1 ] || fail "--cooldown 1, clock back: exit $rc, want 1: \
$(cat "$T/out" "$T/err")"
grep -q "earlier than the last use" "$T/err" ||
    fail "--cooldown 1, clock back: $(cat "$T/err")"

# the clock past the cooldown: accepted
"$LEDGER" tripcode sign --key "$K" --ts $((now + 1000)) RECOVERY:LOCKDOWN \
    >"$T/c4"
shifted 1000 tripcode verify @"$T/c4" >"$T/out" 2>"$T/err" ||
    fail "clock past the cooldown: refused: $(cat "$T/err")"

if [ $nfail -gt 0 ]; then
    echo "tripcode_clock: $nfail failure(s)"
    exit 1
fi
echo "tripcode_clock: ok"
