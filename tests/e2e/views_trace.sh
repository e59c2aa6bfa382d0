#!/bin/sh
# views_trace.sh — the views of an application's trace (issue 63): the
# official OpenTelemetry Node SDK's app (tests/e2e/lib/otlp_app.cjs, as
# otlp_npm.sh runs it) exports its spans to `ledger serve --otlp` while
# its model calls go through `ledger proxy`, so each call is seen twice
# (the app's span, the proxy's record). Then:
#   - `ledger runs` on an 80-column terminal prints the trace's 32-digit
#     id whole (it was cut to 12), and says "trace", not "not-started";
#   - `ledger routes` counts each call once (it counted both witnesses)
#     and names the model the decisions chose; `ledger models` lists that
#     model as seen only in decisions (it said "no models recorded");
#   - the timeline's header gives the trace's root span and status, its
#     footer counts the calls once, and a log record comes under its span.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
NPM_DIR=${LEDGER_NPM_DIR:-$(cd "$(dirname "$LEDGER")" && pwd)/npm}
case $NPM_DIR in */asan/npm|*/tsan/npm|*/dev/npm) [ -d "$ROOT/build/npm/node_modules" ] && NPM_DIR=$ROOT/build/npm ;; esac
for t in node python3 script; do
    command -v $t >/dev/null 2>&1 || { echo "SKIP: needs $t"; exit 77; }
done
[ -d "$NPM_DIR/node_modules/@opentelemetry/instrumentation-openai" ] || {
    echo "SKIP: the OpenTelemetry libraries are not in $NPM_DIR (setup.sh installs them; otlp_npm.sh does too)"
    exit 77
}
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/views_trace.XXXXXX") || exit 1
PIDS=""
trap 'for p in $PIDS; do kill $p 2>/dev/null; done; wait 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
export no_proxy=127.0.0.1 NO_PROXY=127.0.0.1 OTEL_METRICS_EXPORTER=none
nfail=0
fail() { echo "FAIL: $*"; nfail=$((nfail + 1)); }
D=$T/l
L() { "$LEDGER" --dir "$D" "$@"; }
cat >"$T/state.json" <<J
{"models": [{"name": "llama3:8b", "digest": "sha256:$(printf 'e%.0s' $(seq 64))"}],
 "answers": {"why is the sky blue": "because of Rayleigh scattering"}}
J
python3 "$ROOT/tests/stubs/stub.py" --state "$T/state.json" \
    --port-file "$T/sport" >"$T/stub.log" 2>&1 &
PIDS="$PIDS $!"
i=0
while [ ! -s "$T/sport" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
L init >/dev/null || { echo "FAIL: init"; exit 1; }
"$LEDGER" --dir "$D" serve --otlp 127.0.0.1:0 >"$T/s.out" 2>"$T/s.err" &
SP=$!
PIDS="$PIDS $SP"
i=0
while ! grep -q '^listening on' "$T/s.out" 2>/dev/null && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
U=$(sed -n 's/^otlp on \(http:[^ ]*\).*/\1/p' "$T/s.out")
[ -n "$U" ] || { echo "FAIL: serve --otlp: $(cat "$T/s.err")"; exit 1; }
"$LEDGER" --dir "$D" proxy --listen 127.0.0.1:0 \
    --upstream "ollama=http://127.0.0.1:$(cat "$T/sport")" >"$T/p.out" 2>"$T/p.err" &
PP=$!
PIDS="$PIDS $PP"
i=0
while ! grep -q '^listening on' "$T/p.out" 2>/dev/null && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
P="http://$(sed -n 's/^listening on //p' "$T/p.out")"
timeout 120 node "$ROOT/tests/e2e/lib/otlp_app.cjs" "$NPM_DIR" "$U" "$P" \
    llama3:8b json >"$T/app" 2>"$T/app.err" ||
    { echo "FAIL: the app: $(tail -20 "$T/app.err")"; exit 1; }
TR=$(head -1 "$T/app")
kill -TERM $PP $SP
wait $PP $SP 2>/dev/null
# the app made two model calls (a chat, an embeddings), each seen twice
[ "$(L query trace="$TR" type=route.decision -o json | wc -l)" = 4 ] ||
    { echo "FAIL: not 4 records of 2 calls: $(L query trace="$TR" type=route.decision)"; exit 1; }

# runs: the id whole on an 80-column terminal, the status a trace's
TERM=xterm NO_COLOR= timeout 30 script -qec "stty cols 80; '$LEDGER' --dir '$D' --no-pager runs" /dev/null </dev/null >"$T/tty" 2>&1
tr -d '\r' <"$T/tty" >"$T/runs"
grep -q "^$TR .* trace " "$T/runs" || fail "runs on a terminal: the id is not whole, or not a trace: $(cat "$T/runs")"
[ "$(L runs -o json | python3 -c 'import json,sys; print([r["status"] for r in map(json.loads, sys.stdin) if r["run"] == sys.argv[1]][0])' "$TR")" = trace ] ||
    fail "runs -o json: $(L runs -o json)"

L runs "$TR" >"$T/run1"
grep -q '^status  *trace$' "$T/run1" && grep -q '^started  *no run.started: .*application.s trace' "$T/run1" &&
    ! grep -q 'seq - at -' "$T/run1" || fail "runs $TR: $(cat "$T/run1")"

# routes: 2 calls, not 4; the model its decisions chose
L routes -o json >"$T/routes"
python3 - "$T/routes" <<'P' || fail "routes: $(L routes)"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
r = [x for x in rows if x["route"] == "llama3:8b"]
assert len(r) == 1, rows
assert r[0]["decisions"]["count"] == 2, r[0]["decisions"]
assert r[0]["decided_models"] == ["llama3:8b"], r[0]
P
L routes | grep -q '^llama3:8b  *llama3:8b  *undeclared  *2 ' || fail "routes' text: $(L routes)"
# a rebuild gives the same
L rebuild >/dev/null 2>&1 || fail "rebuild"
L routes -o json | cmp -s - "$T/routes" || fail "routes after a rebuild: $(L routes -o json)"
# models: the model the decisions chose, said to be seen only there
L models >"$T/models" 2>&1
grep -q '^llama3:8b ' "$T/models" && grep -q 'only seen in route decisions' "$T/models" ||
    fail "models: $(cat "$T/models")"
L models -o json | grep -q '"known_from":"decisions"' || fail "models -o json: $(L models -o json)"

# the timeline: header, footer, a log record under its span
L timeline --trace "$TR" >"$T/tl"
L timeline --trace "$TR" -o json >"$T/tl.json"
head -1 "$T/tl" | grep -q "status trace (root span #[0-9]* invoke_agent planner: unset in [0-9.]*ms)" ||
    fail "timeline header: $(head -1 "$T/tl")"
grep -q '2 route decisions (0 fallback; a call both witnessed counted once)' "$T/tl" ||
    fail "timeline footer: $(tail -1 "$T/tl")"
python3 - "$T/tl.json" <<'P' || fail "timeline: $(cat "$T/tl")"
import json, sys
tl = json.load(open(sys.argv[1]))
assert tl["status"] == "trace" and tl["root"]["name"] == "invoke_agent planner", tl["root"]
assert tl["counts"]["route_decisions"] == 2 and tl["counts"]["route_records"] == 4, tl["counts"]
evs = tl["events"]
pos = {e["body"].get("span_id"): i for i, e in enumerate(evs)
       if e["type"] != "otel.log" and "body" in e}
logs = [(i, e) for i, e in enumerate(evs) if e["type"] == "otel.log"]
assert logs
for i, e in logs:
    sp = e["body"].get("span_id")
    if sp in pos:
        assert pos[sp] < i, ("a log record before its span", e["seq"], evs[pos[sp]]["seq"])
P

# the page of the trace: its spans nested, the two witnesses' verdict,
# its time in the human format, its status a trace's
L timeline --trace "$TR" --html "$T/tr.html" || fail "timeline --trace --html"
grep -q "<h1>Trace $TR</h1>" "$T/tr.html" || fail "the page's title: $(grep -o '<h1>.*</h1>' "$T/tr.html")"
grep -o '<p class="sub">[^<]*' "$T/tr.html" >"$T/sub"
grep -q 'first event [A-Z][a-z][a-z] [ 0-9][0-9] [0-9:]\{8\} · status trace (root span #[0-9]* invoke_agent planner: unset in [0-9.]*ms)' "$T/sub" &&
    grep -q '2 route decisions (0 fallback; a call both witnessed counted once)' "$T/sub" ||
    fail "the page's header: $(cat "$T/sub")"
grep -q 'Model calls seen by two witnesses' "$T/tr.html" &&
    [ "$(grep -c 'the proxy&#39;s record of the call of #[0-9]* (the application&#39;s span): they agree' "$T/tr.html")" = 2 ] ||
    fail "the page lacks the two witnesses' verdict"
[ "$(grep -o '</b> [^<]*the proxy&#39;s record of #[0-9]* (one request, two witnesses): they agree' "$T/tr.html" | wc -l)" = 2 ] ||
    fail "the page's proxy records do not say they agree"
# every span under another is indented: the events of depth > 0
python3 - "$T/tl.json" "$T/tr.html" <<'P' || fail "the page's span tree"
import json, re, sys
tl = json.load(open(sys.argv[1]))
html = open(sys.argv[2]).read()
for e in tl["events"]:
    d = e.get("depth", 0)
    m = re.search(r'<li id="e%s" class="[a-z]*"( style="margin-left:([0-9.]+)em")?>' % e["seq"], html)
    assert m, e["seq"]
    got = float(m.group(2)) if m.group(2) else 0
    assert got == 1.5 * d, (e["seq"], d, got)
assert any(e.get("depth", 0) > 1 for e in tl["events"]), "no nesting"
P

[ $nfail = 0 ] || { echo "views_trace: $nfail failed"; exit 1; }
echo "views_trace: runs, routes, models and the timeline of a trace seen by two witnesses: all passed"
