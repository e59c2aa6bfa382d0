#!/bin/sh
# fleet_redirect.sh — a remote that answers with a redirect (a front end
# that sends http:// to https://, a moved bucket) has not received what
# was sent. publish counted a 3xx to its PUTs as delivered and recorded
# the size, so those tiles were never sent again ("nothing new"); ship
# counted a 307 to its INSERT as rows shipped. Now both fail naming the
# status and the Location (exit 74), record nothing, and the next run
# sends it all again. The remote is tests/stubs/stub.py, whose
# /status/3xx paths answer a redirect.
set -u
L=${LEDGER:?set LEDGER to the ledger binary}
command -v python3 >/dev/null || { echo "SKIP: needs python3"; exit 77; }
T=$(mktemp -d)
SPID=
trap '[ -n "$SPID" ] && kill "$SPID" 2>/dev/null; rm -rf "$T"' EXIT
nfail=0
fail() { echo "FAIL: $*"; nfail=$((nfail + 1)); }
D=$T/l
"$L" init --dir "$D" >/dev/null || exit 1
for i in 1 2 3 4 5; do
    "$L" append --dir "$D" x.t.n --body "{\"i\":$i}" >/dev/null || exit 1
done
python3 tests/stubs/stub.py --port-file "$T/port" >/dev/null 2>&1 &
SPID=$!
i=0
while [ ! -s "$T/port" ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i + 1)); done
U="http://127.0.0.1:$(cat "$T/port")"

for code in 301 307; do
    "$L" publish --dir "$D" "$U/status/$code/logs/box1" >"$T/out" 2>"$T/err"
    rc=$?
    [ $rc -eq 74 ] || fail "publish to a $code: exit $rc, want 74 ($(cat "$T/out" "$T/err"))"
    grep -q "HTTP $code" "$T/err" || fail "publish $code: the status is not named: $(cat "$T/err")"
    grep -q "redirect to https://elsewhere.example/x" "$T/err" ||
        fail "publish $code: the Location is not named: $(cat "$T/err")"
    # nothing recorded: the next run tries again, it does not say "nothing new"
    "$L" publish --dir "$D" "$U/status/$code/logs/box1" >"$T/out" 2>"$T/err"
    grep -q "nothing new" "$T/out" "$T/err" && fail "publish $code: recorded as published"
done
for code in 301 307; do
    "$L" ship --dir "$D" "$U/status/$code/" >"$T/out" 2>"$T/err"
    rc=$?
    [ $rc -eq 74 ] || fail "ship to a $code: exit $rc, want 74 ($(cat "$T/out" "$T/err"))"
    grep -q "shipped" "$T/out" && fail "ship $code: said shipped: $(cat "$T/out")"
    grep -q "redirect" "$T/err" || fail "ship $code: no redirect named: $(cat "$T/err")"
done

# a URL with no host is a usage error naming it (it tried a GET first,
# then said "PUT http:/tile/...")
for u in "http://" "http:///x"; do
    "$L" publish --dir "$D" "$u" >/dev/null 2>"$T/err"
    rc=$?
    [ $rc -eq 64 ] || fail "publish $u: exit $rc, want 64"
    grep -q "no host" "$T/err" || fail "publish $u: $(cat "$T/err")"
done

# a witness that says "later" (408, 429) is queued, as an unreachable one
# is; it was reported as refusing our history (exit 74)
WV=$("$L" witness init --dir "$T/w" --name w.example/w1) || fail "witness init"
for code in 408 429; do
    "$L" publish --dir "$D" "$T/pub$code" --witness "$U/status/$code $WV" \
        >"$T/out" 2>"$T/err"
    rc=$?
    [ $rc -eq 0 ] || fail "witness $code: exit $rc, want 0 ($(cat "$T/out" "$T/err"))"
    grep -q "queued in the outbox" "$T/err" || fail "witness $code: not queued: $(cat "$T/err")"
done

[ $nfail -eq 0 ] && echo "fleet_redirect: publish and ship fail on a redirect, record nothing; a witness's 408/429 is queued"
exit $((nfail > 0))
