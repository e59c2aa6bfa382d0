#!/bin/sh
# proxy_clock.sh — the proxy's intervals are measured on the monotonic
# clock, not the wall clock (which NTP or an operator may step by hours).
# The proxy runs under tests/faults/clockshift.c (built here), an
# LD_PRELOAD shim that makes every read of the wall clock an hour ahead
# (or behind) of the clock the kernel's timed waits use: what a wall clock
# stepped back (or forward) an hour does to a deadline computed from it.
#   - `ledger proxy --record async`, wall clock an hour ahead: one request,
#     and its event is committed and readable within seconds while the
#     proxy runs (the recorder's 200 ms tick). Until 2026-11-27 the tick's
#     deadline lay an hour away and the event sat uncommitted for an hour
#     (a kill -9 then lost it: docs/PROXY.md promises 200 ms at most);
#   - the same, an hour behind: the event committed, and the idle proxy
#     does not spin (every deadline in the past made each wait return at
#     once: a core's worth of CPU, found by the process's CPU time);
#   - `ledger serve --proxy`, an hour ahead: a proxy killed with SIGKILL is
#     started again after its 1 s backoff (it was an hour), and its async
#     events go through the server on the tick.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/proxy_clock.XXXXXX") || exit 1
PIDS=""
trap 'for p in $PIDS; do kill $p 2>/dev/null; done; rm -rf "$T"' EXIT
export no_proxy=127.0.0.1 NO_PROXY=127.0.0.1
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
nfail=0
fail() {
    echo "FAIL: $*"
    nfail=$((nfail + 1))
}
case $LEDGER in /*) ;; *) LEDGER=$PWD/$LEDGER ;; esac
D=$T/l
L() { "$LEDGER" --dir "$D" "$@"; }

# the shim (CS), within and cpu_ticks; start_stub, start_proxy, stop_proxy
. "$ROOT/tests/e2e/lib/clockshift.sh"
. "$ROOT/tests/e2e/lib/proxy.sh"
clockshift_build "$LEDGER"

echo '{"models": [{"name": "m:1", "digest": "sha256:aa"}], "default_answer": "a b c"}' >"$T/state.json"
start_stub
L init >/dev/null || { echo "FAIL: init"; exit 1; }

# shifted_proxy NAME SHIFT ARGS...: start_proxy with the wall clock SHIFT
# seconds off
shifted_proxy() {
    PROXY_ENV="CLOCK_SHIFT_S=$2 LD_PRELOAD=$CS"
    sp_n=$1
    shift 2
    start_proxy "$sp_n" "$@"
    PROXY_ENV=""
}
# post ID: one request with X-Request-Id ID through $PP; 200 or a failure
post() {
    rm -f "$T/ans"
    st=$(curl -sS -o "$T/ans" -w '%{http_code}' -H "X-Request-Id: $1" \
        -H 'Content-Type: application/json' \
        -d '{"model":"m:1","prompt":"x","stream":false}' \
        "$PP/api/generate" 2>"$T/cerr")
    [ "$st" = 200 ] || fail "$1: status $st: $(cat "$T/ans" "$T/cerr")"
}
# committed ID: the event with id ID is in the log
committed() { L query -o json 2>/dev/null | grep -q "\"id\":\"$1\""; }

# ---------------------------------------- async, wall clock an hour ahead --
shifted_proxy ahead 3600 --direct --upstream o=$U --record async
grep -q 'recording async' "$T/ahead.out" || fail "ahead: banner: $(cat "$T/ahead.out" "$T/ahead.err")"
post ahead-1
within 30 committed ahead-1 ||
    fail "async, wall clock an hour ahead: the event is not committed 5 s after its answer (the recorder's tick waits on the wall clock)"
# and the next tick too (the deadline after a take)
post ahead-2
within 30 committed ahead-2 ||
    fail "async, wall clock an hour ahead: the second event is not committed 5 s after its answer"
stop_proxy $PX ahead
grep -q '2 events recorded' "$T/ahead.err" || fail "ahead stop: $(cat "$T/ahead.err")"

# --------------------------------------- async, wall clock an hour behind --
shifted_proxy behind -3600 --direct --upstream o=$U --record async
post behind-1
within 30 committed behind-1 ||
    fail "async, wall clock an hour behind: the event is not committed 5 s after its answer"
# idle for 3 s: an idle recorder sleeps between ticks; waits whose
# deadline is always in the past would spin and take about 3 s of CPU
sleep 0.5
c0=$(cpu_ticks $PX)
sleep 3
c1=$(cpu_ticks $PX)
[ $((c1 - c0)) -lt "$HZ" ] ||
    fail "async, wall clock an hour behind: the idle proxy used $((c1 - c0)) clock ticks of CPU in 3 s (at most $HZ; its waits spin)"
stop_proxy $PX behind

# ------------------------------- ledger serve --proxy, an hour ahead --
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
echo "{\"listen\": \"127.0.0.1:$PORT\", \"upstreams\": {\"o\": \"$U\"}, \"record\": \"async\"}" >"$D/proxy.json"
CLOCK_SHIFT_S=3600 LD_PRELOAD=$CS "$LEDGER" --dir "$D" serve --proxy \
    >"$T/sp.out" 2>"$T/sp.err" &
SV=$!
PIDS="$PIDS $SV"
PP="http://127.0.0.1:$PORT"
answers() { curl -s -o /dev/null "$PP/api/version"; }
within 20 answers || fail "serve --proxy: the proxy does not answer: $(cat "$T/sp.err")"
post sp-1
grep -q 'through ledger serve' "$T/sp.out" || fail "serve --proxy: $(cat "$T/sp.out")"
within 30 committed sp-1 ||
    fail "serve --proxy async, wall clock an hour ahead: the event is not committed 5 s after its answer"
# the proxy dies: started again after 1 s (its first backoff); it is the
# child running `ledger proxy` (the other is the job runner)
CH=$(ps -o pid=,args= --ppid $SV | awk '$NF == "proxy" { print $1 }' | head -1)
[ -n "$CH" ] && kill -9 "$CH"
within 30 grep -q 'the proxy exited (signal 9); starting it again in 1 s' "$T/sp.err" ||
    fail "serve --proxy: the kill not seen: $(cat "$T/sp.err")"
# (the old proxy's port may answer no more before the new one binds it)
sleep 0.2
within 30 answers ||
    fail "serve --proxy, wall clock an hour ahead: the killed proxy is not started again 8 s later (its 1 s backoff waits on the wall clock)"
post sp-2
within 30 committed sp-2 ||
    fail "serve --proxy after the restart: the event is not committed 5 s after its answer"
kill -TERM $SV
wait $SV 2>/dev/null
rc=$?
[ $rc = 0 ] || fail "serve --proxy stopped: exit $rc: $(tail -3 "$T/sp.err")"
L verify --full >"$T/v" 2>&1 || fail "verify --full: $(cat "$T/v")"

[ $nfail -eq 0 ] || exit 1
echo "proxy_clock: async events committed on the tick with the wall clock an hour ahead and behind, no spin; serve --proxy restarts after 1 s"
