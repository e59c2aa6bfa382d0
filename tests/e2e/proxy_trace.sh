#!/bin/sh
# proxy_trace.sh — W3C trace context through `ledger proxy` (issue 48,
# docs/PROXY.md): a valid traceparent is passed on unchanged (the runtime
# sees the bytes the client sent, tracestate too) and recorded as the
# event's trace_id and parent_span_id, the event in the run of its trace
# unless X-Ledger-Run names one; an invalid one (each of the
# recommendation's must-fail forms) is passed on and not recorded; a
# request without one reaches the runtime without one (the proxy starts
# no trace). The events carry the request's arrival as their time.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
for t in curl python3; do
    command -v $t >/dev/null 2>&1 || { echo "SKIP: needs $t"; exit 77; }
done
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/proxy_trace.XXXXXX") || exit 1
PIDS=""
trap 'for p in $PIDS; do kill $p 2>/dev/null; done; wait 2>/dev/null; rm -rf "$T"' EXIT
export no_proxy=127.0.0.1 NO_PROXY=127.0.0.1
fails=0
fail() { printf 'FAIL: %s\n' "$*"; fails=$((fails + 1)); }
D=$T/l
L() { "$LEDGER" --dir "$D" "$@"; }
echo '{}' >"$T/state.json"
# start_stub: tests/e2e/lib/proxy.sh
. "$ROOT/tests/e2e/lib/proxy.sh"
start_stub
L init >/dev/null || { echo "FAIL: init"; exit 1; }
"$LEDGER" --dir "$D" proxy --listen 127.0.0.1:0 \
    --upstream "stub=$U" >"$T/p.out" 2>"$T/p.err" &
PP=$!
PIDS="$PIDS $PP"
i=0
while ! grep -q '^listening on' "$T/p.out" 2>/dev/null && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
P="http://$(sed -n 's/^listening on //p' "$T/p.out")"
TP=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
# echo GET: what the runtime got (a proxy.request: not a model call)
curl -s -H "traceparent: $TP" -H 'tracestate: congo=t61rcWkgMzE' \
    "$P/echo" >"$T/e1" || fail "curl"
curl -s -H "traceparent: $TP" -H 'X-Ledger-Run: r-named' "$P/echo" >"$T/e2"
n=0
for bad in 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0 \
    ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 \
    00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01 \
    00-00000000000000000000000000000000-00f067aa0ba902b7-01 \
    00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01; do
    n=$((n + 1))
    curl -s -H "traceparent: $bad" -H "X-Ledger-Run: bad-$n" "$P/echo" >"$T/b$n"
    python3 -c 'import json,sys; h={k.lower():v for k,v in json.load(open(sys.argv[1]))["headers"].items()}; assert h.get("traceparent")==sys.argv[2], h' \
        "$T/b$n" "$bad" || fail "invalid traceparent $bad not passed on unchanged: $(cat "$T/b$n")"
done
# two that differ: not a list (RFC 9110 5.3), so invalid: not recorded
curl -s -H "traceparent: $TP" \
    -H "traceparent: 00-5bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" \
    -H "X-Ledger-Run: bad-6" "$P/echo" >"$T/b6"
curl -s -H 'X-Ledger-Run: none' "$P/echo" >"$T/e3"
kill -TERM $PP
wait $PP 2>/dev/null
python3 - "$T" "$TP" <<'P' || fail "what the runtime got: $(cat "$T/e1" "$T/e3")"
import json, sys
t, tp = sys.argv[1], sys.argv[2]
def hdrs(f):
    return {k.lower(): v for k, v in json.load(open(t + "/" + f))["headers"].items()}
h = hdrs("e1")
assert h["traceparent"] == tp and h["tracestate"] == "congo=t61rcWkgMzE", h
assert "traceparent" not in hdrs("e3"), hdrs("e3")
P
L query type=proxy.request -o json >"$T/ev"
python3 - "$T/ev" <<'P' || fail "events: $(cat "$T/ev")"
import json, sys
es = {}
for l in open(sys.argv[1]):
    e = json.loads(l)
    es.setdefault(e.get("run", ""), []).append(e)
tr = "4bf92f3577b34da6a3ce929d0e0e4736"
a = es[tr][0]
assert a["body"]["trace_id"] == tr and a["body"]["parent_span_id"] == "00f067aa0ba902b7", a
assert a["clock"] == "source" and a["time"] <= a["recorded_time"], a
b = es["r-named"][0]["body"]
assert b["trace_id"] == tr and b["run"] == "r-named", b
for k in range(1, 7):
    e = es["bad-%d" % k][0]["body"]
    assert "trace_id" not in e and "parent_span_id" not in e, e
assert "trace_id" not in es["none"][0]["body"]
P
L query trace=4bf92f3577b34da6a3ce929d0e0e4736 -o json >"$T/q"
[ "$(wc -l <"$T/q")" = 2 ] || fail "query trace=: $(cat "$T/q")"
# upper case is the same id; a value no trace id can be is refused (64)
L query trace=4BF92F3577B34DA6A3CE929D0E0E4736 -o json >"$T/q"
[ "$(wc -l <"$T/q")" = 2 ] || fail "query trace=UPPER: $(cat "$T/q")"
L timeline --trace 4BF92F3577B34DA6A3CE929D0E0E4736 >"$T/q" 2>"$T/qe" ||
    fail "timeline --trace UPPER: $(cat "$T/q" "$T/qe")"
# a trace has no plan note: nothing on stderr (it printed the bytes of an
# uninitialized buffer: "ledger timeline: AuthcAMDenti...")
[ -s "$T/qe" ] && fail "timeline --trace said on stderr: $(cat "$T/qe")"
L query trace=4bf92f3577b34da6a3ce929d0e0e473 >"$T/q" 2>"$T/qe"
rc=$?
[ $rc = 64 ] && grep -q 'a trace id is 32 hex digits' "$T/qe" ||
    fail "query trace= of 31 digits: exit $rc, $(cat "$T/qe")"
[ $fails = 0 ] || { echo "proxy_trace: $fails failed"; exit 1; }
echo "proxy_trace: traceparent passed on unchanged, recorded when valid: all passed"
