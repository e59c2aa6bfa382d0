#!/bin/sh
# otlp_npm.sh — real clients no one here wrote (issue 48): an application
# built on the official OpenTelemetry Node SDK, its OTLP/HTTP exporters
# (JSON, then protobuf: @opentelemetry/exporter-trace-otlp-http and -proto,
# and the logs exporters), the `openai` client instrumented by
# @opentelemetry/instrumentation-openai and its HTTP requests by
# @opentelemetry/instrumentation-http (which sends the W3C traceparent),
# talking to tests/stubs/stub.py through `ledger proxy`, with its traces
# exported to `ledger serve --otlp` (tests/e2e/lib/otlp_app.cjs). For each
# encoding:
#   - the trace is a run: the agent span (otel.span), the chat and
#     embeddings calls (route.decision, with model, provider, tokens), the
#     HTTP client spans, the tool span (run.step), the log records;
#   - `ledger timeline --trace ID` shows the proxy's record of each model
#     call joined to the application's span, agreeing (one request, two
#     witnesses);
#   - no content is recorded (the app asks its instrumentation to capture
#     prompts: the receiver drops them), nor the API key.
# The libraries are installed by setup.sh into BUILD/npm (versions in
# tests/npm/package.json); when they are not there this installs them, and
# says SKIP only when npm's registry cannot be reached.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
NPM_DIR=${LEDGER_NPM_DIR:-$(cd "$(dirname "$LEDGER")" && pwd)/npm}
case $NPM_DIR in */asan/npm|*/tsan/npm|*/dev/npm) [ -d "$ROOT/build/npm/node_modules" ] && NPM_DIR=$ROOT/build/npm ;; esac
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/otlp_npm.XXXXXX") || exit 1
PIDS=""
trap 'for p in $PIDS; do kill $p 2>/dev/null; done; wait 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
export no_proxy=127.0.0.1 NO_PROXY=127.0.0.1
# the SDK exports traces and logs only (no metrics endpoint here)
export OTEL_METRICS_EXPORTER=none
nfail=0
fail() {
    echo "FAIL: $*"
    nfail=$((nfail + 1))
}
command -v node >/dev/null 2>&1 || { echo "FAIL: node is not installed (setup.sh installs it)"; exit 1; }
if [ ! -d "$NPM_DIR/node_modules/@opentelemetry/instrumentation-openai" ] ||
    [ ! -d "$NPM_DIR/node_modules/@opentelemetry/exporter-trace-otlp-proto" ] ||
    [ ! -d "$NPM_DIR/node_modules/openai" ]; then
    command -v npm >/dev/null 2>&1 || { echo "FAIL: npm is not installed (setup.sh installs it)"; exit 1; }
    mkdir -p "$NPM_DIR" && cp "$ROOT/tests/npm/package.json" "$NPM_DIR/"
    if ! timeout 300 npm install --prefix "$NPM_DIR" --no-audit --no-fund \
        >"$T/npm.log" 2>&1; then
        if ! timeout 30 npm ping >/dev/null 2>&1; then
            echo "SKIP: otlp_npm: npm's registry is unreachable; the OpenTelemetry libraries cannot be installed"
            exit 77
        fi
        echo "FAIL: npm install: $(tail -5 "$T/npm.log")"
        exit 1
    fi
fi
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
while [ ! -s "$T/sport" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
L init >/dev/null || { echo "FAIL: init"; exit 1; }
"$LEDGER" --dir "$D" serve --otlp 127.0.0.1:0 >"$T/s.out" 2>"$T/s.err" &
SP=$!
PIDS="$PIDS $SP"
i=0
while ! grep -q '^listening on' "$T/s.out" 2>/dev/null && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
U=$(sed -n 's/^otlp on \(http:[^ ]*\).*/\1/p' "$T/s.out")
[ -n "$U" ] || { echo "FAIL: serve --otlp: $(cat "$T/s.err")"; exit 1; }
# the proxy writes through the server (one writer for both witnesses)
"$LEDGER" --dir "$D" proxy --listen 127.0.0.1:0 \
    --upstream "ollama=http://127.0.0.1:$(cat "$T/sport")" >"$T/p.out" 2>"$T/p.err" &
PP=$!
PIDS="$PIDS $PP"
i=0
while ! grep -q '^listening on' "$T/p.out" 2>/dev/null && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
P="http://$(sed -n 's/^listening on //p' "$T/p.out")"
grep -q 'through ledger serve' "$T/p.out" || fail "the proxy does not write through serve: $(cat "$T/p.out")"

for enc in json proto; do
    if ! timeout 120 node "$ROOT/tests/e2e/lib/otlp_app.cjs" "$NPM_DIR" "$U" "$P" \
        llama3:8b $enc >"$T/app.$enc" 2>"$T/app.$enc.err"; then
        fail "$enc: the app failed: $(tail -20 "$T/app.$enc.err")"
        continue
    fi
    TR=$(head -1 "$T/app.$enc")
    L timeline --trace "$TR" -o json >"$T/tl.$enc" 2>"$T/tl.$enc.err" ||
        { fail "$enc: timeline --trace $TR: $(cat "$T/tl.$enc.err")"; continue; }
    L timeline --trace "$TR" >"$T/tl.$enc.txt"
    python3 - "$T/tl.$enc" "$TR" <<'P' || fail "$enc: $(cat "$T/tl.$enc.txt")"
import json, sys
tl = json.load(open(sys.argv[1]))
tr = sys.argv[2]
evs = [e for e in tl["events"] if e["kind"] != "context"]
def of(t, **kw):
    return [e for e in evs if e["type"] == t and
            all(e["body"].get(k) == v for k, v in kw.items())]
agent = of("otel.span", operation="invoke_agent")
assert len(agent) == 1, agent
app = [e for e in evs if e["type"] == "route.decision" and "span_id" in e["body"]]
px = [e for e in evs if e["type"] == "route.decision" and "upstream" in e["body"]]
assert sorted(e["body"]["operation"] for e in app) == ["chat", "embeddings"], app
for e in app:
    b = e["body"]
    assert b["chosen_model"] == "llama3:8b" and b["provider"] == "openai", b
    assert b["parent_span_id"] == agent[0]["body"]["span_id"], b
    assert b["tokens_in"] > 0 and b["outcome"] == "ok", b
    assert e["depth"] == 1 and e["run"] == tr if "run" in e else True, e
    assert len(e.get("witnesses", [])) == 1, ("not joined", e)
assert len(px) == 2, ("the proxy's records in the trace", px)
for e in px:
    j = e["joined"]
    assert j["agree"] is True and j["differs"] == [], j
    assert e["body"]["trace_id"] == tr, e
steps = of("run.step", tool="get_weather")
assert len(steps) == 1 and steps[0]["body"]["status"] == "ok", steps
http = [e for e in evs if e["type"] == "otel.span" and e["body"].get("kind") == "client"]
assert len(http) == 2, http
logs = [e for e in evs if e["type"] == "otel.log"]
assert any(e["body"].get("body", "").startswith("planner answered") for e in logs), logs
genai = [e for e in logs if e["body"].get("event_name", "").startswith("gen_ai.")]
assert genai and all("body" not in e["body"] for e in genai), genai
assert tl["counts"]["joined"] == 2 and tl["counts"]["joined_disagree"] == 0, tl["counts"]
P
    grep -q 'the proxy.s record of #.*they agree' "$T/tl.$enc.txt" ||
        fail "$enc: the text does not join them: $(cat "$T/tl.$enc.txt")"
done
L query -o json >"$T/all"
for secret in 'why is the sky blue' 'Rayleigh' 'SECRET-CITY' 'sk-otlp-e2e-SECRET'; do
    grep -q "$secret" "$T/all" && fail "'$secret' is in the log"
done
kill -TERM $PP
wait $PP 2>/dev/null
kill -TERM $SP
wait $SP 2>/dev/null
grep -q 'spans: 1[0-9] received, 1[0-9] recorded' "$T/s.err" ||
    fail "the server's counts: $(tail -2 "$T/s.err")"
L verify >"$T/v" 2>&1 || fail "verify: $(cat "$T/v")"
[ $nfail = 0 ] || { echo "otlp_npm: $nfail failed"; exit 1; }
echo "otlp_npm: the OpenTelemetry SDK's JSON and protobuf exports, joined to the proxy's records: all passed"
