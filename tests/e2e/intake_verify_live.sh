#!/bin/sh
# intake_verify_live.sh — `verify` beside a writer, at layout 9. The
# intake check walked the tail and scanned past its end without the
# readers' lock (FORMAT.md 12.5): a frame a writer finished in between
# looked like an acknowledged frame cut off past the end, and verify
# failed a healthy ledger ("the intake log is damaged", 4 runs of 66 in a
# review). Now it holds the shared lock: every run beside 400 appends
# passes.
set -u
L=${LEDGER:?set LEDGER to the ledger binary}
T=$(mktemp -d)
APID=
trap '[ -n "$APID" ] && kill "$APID" 2>/dev/null; rm -rf "$T"' EXIT
nfail=0
fail() { echo "FAIL: $*"; nfail=$((nfail + 1)); }
D=$T/l
LEDGER_LAYOUT=9 "$L" init --dir "$D" >/dev/null || exit 1
(
    i=0
    while [ $i -lt 400 ]; do
        "$L" append --dir "$D" --direct x.t.n --body "{\"i\":$i}" >/dev/null 2>>"$T/aerr"
        i=$((i + 1))
    done
    touch "$T/done"
) &
APID=$!
runs=0
bad=0
while [ ! -e "$T/done" ]; do
    "$L" verify --dir "$D" --full >"$T/v" 2>&1 || { bad=$((bad + 1)); cp "$T/v" "$T/vbad"; }
    "$L" verify --dir "$D" >"$T/v" 2>&1 || { bad=$((bad + 1)); cp "$T/v" "$T/vbad"; }
    runs=$((runs + 2))
done
wait "$APID"
APID=
[ -s "$T/aerr" ] && fail "appends failed: $(head -3 "$T/aerr")"
[ $bad -eq 0 ] || fail "$bad of $runs verify runs failed beside the writer: $(cat "$T/vbad")"
[ $runs -gt 0 ] || fail "no verify ran"
"$L" verify --dir "$D" --full >"$T/v" 2>&1 || fail "verify after: $(cat "$T/v")"
# (the genesis, the log key's anchor and the 400)
[ "$("$L" stats --dir "$D" -o json | jq -r .events)" = 402 ] || fail "not 402 events"
[ $nfail -eq 0 ] && echo "intake_verify_live: $runs verify runs beside 400 appends, none failed"
exit $((nfail > 0))
