#!/bin/sh
# epochs_proxy.sh — `ledger proxy` writing the ledger directly (no serve)
# ends an epoch key's epoch when its period is over, as `ledger serve`
# does (issue 65: "no acked event stays under a live epoch key for more
# than --epoch", through the proxy too; docs/EPOCHS.md, docs/PROXY.md).
#
# A ledger with 2 s epochs (LEDGER_TEST_EPOCH_S), `ledger proxy --direct`
# in front of the stub runtime (tests/stubs/stub.py), one chat request
# 100 ms into a period and then nothing: by the period's end plus SLACK
# (2 s, and the recorder's one-second idle wake) `keys epochs` says the
# epoch that sealed the request's events is no longer live, both slots
# of the state file hold the next state, and the ended epoch's secret is
# in no file under the ledger directory (raw, hex or base64) nor in the
# proxy's memory (/proc/PID/mem: root's right in CI; said where there is
# none). An idle proxy before any request makes no epoch (the state file
# untouched over three periods). A second request after the end is
# answered and sealed under a later epoch; with its state file moved
# away past the period's end, the proxy says once that it cannot end the
# epoch (which stays live), and ends it once the file is back, saying so; `verify
# --full` passes and the proxy stops with exit 0. Fails on a build whose direct proxy does
# not end epochs (the epoch stays live until the next request).
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
command -v jq >/dev/null 2>&1 || { echo "SKIP: needs jq"; exit 77; }
command -v python3 >/dev/null 2>&1 || { echo "SKIP: needs python3"; exit 77; }
command -v curl >/dev/null 2>&1 || { echo "SKIP: needs curl"; exit 77; }
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/epochs_proxy.XXXXXX") || exit 1
PIDS=""
trap 'for p in $PIDS; do kill $p 2>/dev/null; done; rm -rf "$T"' EXIT
export no_proxy=127.0.0.1 NO_PROXY=127.0.0.1
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
case $LEDGER in /*) ;; *) LEDGER=$PWD/$LEDGER ;; esac
D=$T/l
SLACK=2
fails=0
fail() { printf 'FAIL: %s\n' "$*"; fails=$((fails + 1)); }
L() { "$LEDGER" --dir "$D" "$@"; }

# start_stub, start_proxy, stop_proxy
. "$ROOT/tests/e2e/lib/proxy.sh"
# cur_secret, gen, no_secret, no_secret_mem, period_end, now_ns,
# sleep_until, into_period, live_of, slots_same, ended_by
. "$ROOT/tests/e2e/lib/epochs.sh"

P=${LEDGER_TEST_EPOCH_S:-2}
case $P in '' | *[!0-9]* | 0* | 1) echo "LEDGER_TEST_EPOCH_S: seconds, at least 2: $P" >&2; exit 64 ;; esac
# the recorder ends an expired epoch at its idle wake, once a second
SLACK=$((SLACK + 1))

echo '{}' >"$T/state.json"
start_stub
L init --epoch "$P" >/dev/null 2>"$T/err" || { fail "init --epoch $P: $(cat "$T/err")"; exit 1; }
start_proxy p --direct --upstream "stub=$U"
[ -n "${PP#http://}" ] || { fail "the proxy did not start: $(cat "$T/p.err")"; exit 1; }
grep -q '(directly)' "$T/p.out" || fail "the proxy does not write directly: $(cat "$T/p.out")"

# --- an idle proxy makes no epoch: three periods, the state untouched
g0=$(gen)
sleep "$((P * 3)).5"
[ "$(gen)" = "$g0" ] || fail "an idle proxy wrote the state file (generation $g0 -> $(gen))"

# ask N: a chat request through the proxy 100 ms into a period (sync: the
# answer comes once its events are durable), the newest seq in seq and
# the secret that sealed it in sec, read before the period ends (else
# taken again, up to 5 times, as append_fresh does)
ask() {
    for try in 1 2 3 4 5; do
        into_period || return 1
        st=$(curl -sS -o "$T/ans" -w '%{http_code}' -H 'Content-Type: application/json' \
            -d "{\"model\":\"llama3:8b\",\"messages\":[{\"role\":\"user\",\"content\":\"q$1\"}]}" \
            "$PP/v1/chat/completions" 2>"$T/cerr")
        [ "$st" = 200 ] || { fail "request $1: HTTP $st $(cat "$T/ans" "$T/cerr")"; return 1; }
        sec=$(cur_secret)
        seq=$(L query 'type=route.decision' -o json | tail -n 1 | jq -r .seq)
        [ -n "$seq" ] && [ "$seq" != null ] || { fail "request $1 recorded nothing"; return 1; }
        [ "$(now_ns)" -lt "$(period_end "$seq")" ] && return 0
        echo "note: round $try: the period of seq $seq ended before its secret was read"
    done
    return 1
}

# --- one request, then nothing: the epoch ended by its period's end plus
# the slack, its secret in no file and not in the proxy's memory
ask 1 || fail "a request through the proxy"
end=$(period_end "$seq")
ended_by "$seq" "$end"
no_secret "$sec" "after the proxy's timed end"
[ "$(cur_secret)" != "$sec" ] || fail "the state file's current secret is the old one"
out=$(no_secret_mem "$PX" "$sec" 2>&1) || fail "the ended epoch's secret is in the proxy's memory: $out"
[ -n "$out" ] && echo "$out"

# --- the next request: a later epoch; the log verifies
seq1=$seq
ask 2 || fail "a second request through the proxy"
[ "$seq" -gt "$seq1" ] || fail "the second request's seq $seq is not after $seq1"
e1=$(L keys epochs -o json | jq -r --argjson s "$seq1" 'select((.from_seq | tonumber) <= $s) | .epoch' | tail -n 1)
e2=$(L keys epochs -o json | jq -r --argjson s "$seq" 'select((.from_seq | tonumber) <= $s) | .epoch' | tail -n 1)
[ -n "$e1" ] && [ "$e1" != "$e2" ] || fail "the second request is under epoch $e2, the first's $e1"
# --- its state file gone past the period's end: said once on stderr
# (tried again each second), and the epoch ended once the file is back
end=$(period_end "$seq")
mv "$D/keys/log.epochs" "$T/log.epochs.away"
sleep_until $((end + (SLACK + 1) * 1000000000))
n=$(grep -c 'cannot end an expired epoch (tried again each second)' "$T/p.err")
[ "$n" = 1 ] || fail "a missing state file said $n times: $(cat "$T/p.err")"
[ "$(live_of "$seq")" != false ] || fail "the epoch of seq $seq is said ended without its state file"
mv "$T/log.epochs.away" "$D/keys/log.epochs"
ended_by "$seq" "$end"
# (said at the program's next look, once a second)
i=0
while ! grep -q 'expired epochs end again' "$T/p.err" && [ $i -lt 100 ]; do
    sleep 0.1
    i=$((i + 1))
done
grep -q 'expired epochs end again' "$T/p.err" || fail "the proxy did not say epochs end again: $(cat "$T/p.err")"
stop_proxy "$PX" p
L verify --full >"$T/out" 2>&1 || fail "verify --full: $(cat "$T/out")"

[ $fails = 0 ] && echo "ok: epochs_proxy"
[ $fails = 0 ]
