#!/bin/sh
# cli_at.sh — --at takes a time as well as a sequence number, in query's
# time grammar, for every view and the doctor: the state as of the last
# event at or before that time. A time before the first event, or a seq
# beyond the log's last, is exit 66; a spec that is neither, or a time in
# the future, is exit 64.
set -u
L=${LEDGER:?set LEDGER to the ledger binary}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
nfail=0
bad() { echo "FAIL: $*"; nfail=$((nfail + 1)); }
export LEDGER_DIR="$T/d"
"$L" init >/dev/null || exit 1
"$L" ingest examples/pdf-ops.jsonl 2>/dev/null || exit 1
last=$("$L" stats -o json | sed -n 's/.*"size":"\([0-9]*\)".*/\1/p')
last=$((last - 1))
sleep 1.2
t1=$(date +%s)
sleep 1.2
# after t1: the primary model comes back, so routes and doctor change
"$L" append -q model.state \
    --body '{"model":"qwen2.5-7b-instruct@q4_k_m","state":"available"}' >/dev/null
for v in "routes" "models" "packs" "runs" "promotions" "permissions" \
    "doctor" "projections"; do
    "$L" $v --at "$last" -o json >"$T/by_seq" 2>&1
    rs=$?
    "$L" $v --at "@$t1" -o json >"$T/by_time" 2>&1
    rt=$?
    [ $rs = $rt ] || bad "$v: --at $last exit $rs, --at @$t1 exit $rt"
    cmp -s "$T/by_seq" "$T/by_time" ||
        bad "$v --at @$t1 differs from --at $last: $(diff "$T/by_seq" "$T/by_time" | head -5)"
    "$L" $v -o json >"$T/now" 2>&1
done
# now differs from then (the model came back)
"$L" routes --at "@$t1" | grep -q fallback-active || bad "routes --at @$t1 is not the old state"
"$L" routes | grep -q fallback-active && bad "routes now still fallback-active"
# relative and local times parse; a time before the log is 66
"$L" doctor --at '-1h' >/dev/null 2>"$T/e"; rc=$?
[ $rc = 66 ] && grep -q 'no event at or before' "$T/e" || bad "--at -1h: exit $rc ($(cat "$T/e"))"
"$L" routes --at 'now' >/dev/null 2>"$T/e" || bad "--at now: exit $? ($(cat "$T/e"))"
"$L" routes --at "$(date '+%Y-%m-%d %H:%M:%S')" >/dev/null 2>"$T/e" ||
    bad "--at 'YYYY-MM-DD HH:MM:SS': exit $? ($(cat "$T/e"))"
"$L" routes --at 'half past nine' >/dev/null 2>"$T/e"; rc=$?
[ $rc = 64 ] && grep -q "neither a sequence number nor a time" "$T/e" ||
    bad "--at 'half past nine': exit $rc ($(cat "$T/e"))"
# a sign and a number alone is not "N seconds ago" beside sequence
# numbers: 64, asking for a unit, for every command taking --at
for v in "routes" "packs" "doctor" "memory" "plans"; do
    "$L" $v --at -1 >"$T/o" 2>"$T/e"; rc=$?
    [ $rc = 64 ] && [ ! -s "$T/o" ] &&
        grep -q "\-\-at '-1': not a sequence number; as a time it needs a unit ('-1s'" "$T/e" ||
        bad "$v --at -1: exit $rc ($(cat "$T/e"))"
done
"$L" doctor --at -1s >/dev/null 2>"$T/e"; rc=$?
[ $rc != 64 ] || bad "doctor --at -1s: exit $rc ($(cat "$T/e"))"
# --at SEQ beyond the log is no input (66, as show and verify --from),
# for every command taking --at; the last seq itself is fine
size=$("$L" stats -o json | sed -n 's/.*"size":"\([0-9]*\)".*/\1/p')
for v in "routes" "models" "packs" "runs" "promotions" "permissions" \
    "doctor" "projections" "gates" "memory" "plans"; do
    "$L" $v --at 9999 >"$T/o" 2>"$T/e"; rc=$?
    [ $rc = 66 ] && [ ! -s "$T/o" ] &&
        grep -q "\-\-at 9999 is beyond the log's last seq $((size - 1))" "$T/e" ||
        bad "$v --at 9999: exit $rc ($(cat "$T/e"))"
    "$L" $v --at "$size" >/dev/null 2>"$T/e"; rc=$?
    [ $rc = 66 ] || bad "$v --at $size (one past the end): exit $rc"
    "$L" $v --at "$((size - 1))" >/dev/null 2>"$T/e"; rc=$?
    [ $rc != 66 ] && [ $rc != 64 ] || bad "$v --at $((size - 1)): exit $rc ($(cat "$T/e"))"
done
# a time in the future is refused (64), naming the cause and the
# ledger's last event, for every command taking --at: it used to be taken
# as now in silence; "now" itself is fine
for v in "routes" "models" "packs" "runs" "promotions" "permissions" \
    "doctor" "projections" "gates" "memory" "plans"; do
    for at in "+1h" "tomorrow"; do
        "$L" $v --at "$at" >"$T/o" 2>"$T/e"; rc=$?
        [ $rc = 64 ] && [ ! -s "$T/o" ] &&
            grep -q "\-\-at '$at' is in the future (.*); the ledger's last event, seq $((size - 1)), is at " "$T/e" ||
            bad "$v --at $at: exit $rc ($(cat "$T/e"))"
    done
    "$L" $v --at now >/dev/null 2>"$T/e"; rc=$?
    [ $rc != 64 ] && [ $rc != 66 ] || bad "$v --at now: exit $rc ($(cat "$T/e"))"
done
# a name asked for --at a time before it was in the log: still 66, but
# said as of that event, not as if the pack or run were unknown (it is
# there now: `ledger packs pdf-ops` shows it)
for v in "packs pdf-ops" "permissions --pack pdf-ops" "doctor --pack pdf-ops" \
    "runs R-0001"; do
    "$L" $v --at 0 >"$T/o" 2>"$T/e"; rc=$?
    [ $rc = 66 ] && [ ! -s "$T/o" ] && grep -q ": no such [a-z]* as of event 0\$" "$T/e" ||
        bad "$v --at 0: exit $rc ($(cat "$T/e"))"
done
"$L" packs nosuch >"$T/o" 2>"$T/e"; rc=$?
[ $rc = 66 ] && grep -q ": no such pack\$" "$T/e" || bad "packs nosuch: exit $rc ($(cat "$T/e"))"
[ $nfail = 0 ] || exit 1
echo "cli_at: --at SEQ and --at TIME agree for every view"
