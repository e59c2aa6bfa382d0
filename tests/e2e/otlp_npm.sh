#!/bin/sh
# otlp_npm.sh — real clients no one here wrote (issue 48): an application
# built on the official OpenTelemetry Node SDK, its OTLP/HTTP exporters
# (JSON, then protobuf: @opentelemetry/exporter-trace-otlp-http and -proto,
# and the logs exporters) and its OTLP/gRPC ones to `serve --otlp-grpc`
# (@opentelemetry/exporter-trace-otlp-grpc and -logs-otlp-grpc, issue 66),
# the `openai` client instrumented by
# @opentelemetry/instrumentation-openai and its HTTP requests by
# @opentelemetry/instrumentation-http (which sends the W3C traceparent),
# talking to tests/stubs/stub.py through `ledger proxy`, with its traces
# exported to `ledger serve --otlp` (tests/e2e/lib/otlp_app.cjs). For each
# encoding (JSON, protobuf, gRPC):
#   - the trace is a run: the agent span (otel.span), the chat and
#     embeddings calls (route.decision, with model, provider, tokens), the
#     HTTP client spans, the tool span (run.step), the log records;
#   - `ledger timeline --trace ID` shows the proxy's record of each model
#     call joined to the application's span, agreeing (one request, two
#     witnesses);
#   - no content is recorded (the app asks its instrumentation to capture
#     prompts: the receiver drops them), nor the API key;
#   - a real disagreement: the app gives up on a slow answer (its chat
#     span an error), the proxy sees it leave (client-gone): the timeline
#     joins them and says they disagree on the outcome;
#   - the writer behind: 16 of the SDK's exporters flush at once against
#     --otlp-backlog 400, two batches at a time (tests/e2e/lib/otlp_retry.cjs):
#     answered 429/503 with Retry-After, they retry until every span is in;
#   - --otlp-run service.name: the app's spans in the service's run, the
#     proxy's records in the trace's, joined in the service's timeline.
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
    [ ! -d "$NPM_DIR/node_modules/@opentelemetry/exporter-logs-otlp-grpc" ] ||
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
while [ ! -s "$T/sport" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
L init >/dev/null || { echo "FAIL: init"; exit 1; }
"$LEDGER" --dir "$D" serve --otlp 127.0.0.1:0 --otlp-grpc 127.0.0.1:0 \
    >"$T/s.out" 2>"$T/s.err" &
SP=$!
PIDS="$PIDS $SP"
i=0
while ! grep -q '^listening on' "$T/s.out" 2>/dev/null && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
U=$(sed -n 's/^otlp on \(http:[^ ]*\).*/\1/p' "$T/s.out")
G=$(sed -n 's/^otlp-grpc on \(http:[^ ]*\).*/\1/p' "$T/s.out")
[ -n "$U" ] && [ -n "$G" ] || { echo "FAIL: serve --otlp: $(cat "$T/s.err")"; exit 1; }
# the proxy writes through the server (one writer for both witnesses)
"$LEDGER" --dir "$D" proxy --listen 127.0.0.1:0 \
    --upstream "ollama=http://127.0.0.1:$(cat "$T/sport")" >"$T/p.out" 2>"$T/p.err" &
PP=$!
PIDS="$PIDS $PP"
i=0
while ! grep -q '^listening on' "$T/p.out" 2>/dev/null && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
P="http://$(sed -n 's/^listening on //p' "$T/p.out")"
grep -q 'through ledger serve' "$T/p.out" || fail "the proxy does not write through serve: $(cat "$T/p.out")"

for enc in json proto grpc; do
    url=$U
    [ $enc = grpc ] && url=$G
    if ! timeout 120 node "$ROOT/tests/e2e/lib/otlp_app.cjs" "$NPM_DIR" "$url" "$P" \
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
# a real disagreement: the app gives up on a slow answer (its span: an
# error), the proxy sees the client leave (client-gone); both witnessed
# the same call, and the timeline says they disagree on the outcome
python3 - "$T/state.json" <<'P'
import json, sys
s = json.load(open(sys.argv[1]))
s["delay_ms"] = 5000
json.dump(s, open(sys.argv[1], "w"))
P
if timeout 120 node "$ROOT/tests/e2e/lib/otlp_app.cjs" "$NPM_DIR" "$U" "$P" \
    llama3:8b json timeout >"$T/app.to" 2>"$T/app.to.err"; then
    TR=$(head -1 "$T/app.to")
    # the proxy records the call once the runtime answers (5 s: the app
    # gives up after 1.5, time enough for its request to reach the proxy
    # on a box that CI loads with several test suites at once)
    i=0
    while [ "$(L query trace="$TR" type=route.decision -o json 2>/dev/null | wc -l)" -lt 2 ] &&
        [ $i -lt 300 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    L timeline --trace "$TR" -o json >"$T/tl.to"
    L timeline --trace "$TR" >"$T/tl.to.txt"
    python3 - "$T/tl.to" <<'P' || fail "timeout: $(cat "$T/tl.to.txt")"
import json, sys
tl = json.load(open(sys.argv[1]))
evs = [e for e in tl["events"] if e["type"] == "route.decision"]
app = [e for e in evs if "span_id" in e["body"]]
px = [e for e in evs if "upstream" in e["body"]]
assert len(app) == 1 and len(px) == 1, evs
assert app[0]["body"]["outcome"] == "error", app
assert px[0]["body"]["outcome"] == "client-gone", px
j = px[0]["joined"]
assert j["seq"] == app[0]["seq"] and j["agree"] is False, j
assert j["differs"] == [{"field": "outcome", "app": "error", "proxy": "client-gone"}], j
assert tl["counts"]["joined_disagree"] == 1, tl["counts"]
P
    grep -q 'they DISAGREE: outcome "error" (app) vs "client-gone" (proxy)' "$T/tl.to.txt" ||
        fail "timeout: the text does not say they disagree: $(cat "$T/tl.to.txt")"
else
    fail "timeout: the app failed: $(tail -20 "$T/app.to.err")"
fi
L query -o json >"$T/all"
for secret in 'why is the sky blue' 'Rayleigh' 'SECRET-CITY' 'sk-otlp-e2e-SECRET'; do
    grep -q "$secret" "$T/all" && fail "'$secret' is in the log"
done
kill -TERM $PP
wait $PP 2>/dev/null
kill -TERM $SP
wait $SP 2>/dev/null
grep -q 'spans: 2[0-9] received, 2[0-9] recorded' "$T/s.err" ||
    fail "the server's counts: $(tail -2 "$T/s.err")"
# the writer behind: 16 exporters flush a batch of 200 spans each at once
# against --otlp-backlog 400, the receiver takes two at a time and answers
# the others 429 or 503 with Retry-After; the SDK's retries must bring
# every span in (with Retry-After: 1 on every answer, batches were lost)
"$LEDGER" --dir "$D" serve --otlp 127.0.0.1:0 --otlp-backlog 400 >"$T/s2.out" 2>"$T/s2.err" &
SP=$!
PIDS="$PIDS $SP"
i=0
while ! grep -q '^listening on' "$T/s2.out" 2>/dev/null && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
U=$(sed -n 's/^otlp on \(http:[^ ]*\).*/\1/p' "$T/s2.out")
retried=""
for enc in json proto; do
    if ! timeout 120 node "$ROOT/tests/e2e/lib/otlp_retry.cjs" "$NPM_DIR" "$U" $enc 16 200 \
        >"$T/retry.$enc" 2>"$T/retry.$enc.err"; then
        fail "retry $enc: $(tail -5 "$T/retry.$enc.err")"
        continue
    fi
    # whether a run's batches overlap at the receiver is the scheduler's
    # (on a loaded box a run can pass unthrottled): the two runs together
    # must have been asked to retry, below
    grep -q '^retries [1-9]' "$T/retry.$enc" && retried="$retried $enc"
    for tr in $(grep -E '^[0-9a-f]{32}$' "$T/retry.$enc"); do
        n=$(L query trace="$tr" -o json | wc -l)
        [ "$n" = 200 ] || fail "retry $enc: trace $tr has $n spans of 200"
    done
done
[ -n "$retried" ] ||
    fail "retry: the SDK was never asked to retry: $(cat "$T/retry.json" "$T/retry.proto")"
kill -TERM $SP
wait $SP 2>/dev/null
grep -q 'otlp: .* throttled' "$T/s2.err" && ! grep -q '(0 refused, 0 throttled' "$T/s2.err" ||
    fail "retry: the receiver throttled nothing: $(tail -1 "$T/s2.err")"
# the run an attribute's (--otlp-run service.name, a resource attribute):
# the app's spans are in the service's run, the proxy (which knows only
# the traceparent) records in the trace's; `ledger timeline SERVICE` still
# joins the proxy's records to the app's spans
python3 - "$T/state.json" <<'P'
import json, sys
s = json.load(open(sys.argv[1]))
s.pop("delay_ms", None)
json.dump(s, open(sys.argv[1], "w"))
P
"$LEDGER" --dir "$D" serve --otlp 127.0.0.1:0 --otlp-run service.name \
    >"$T/s3.out" 2>"$T/s3.err" &
SP=$!
PIDS="$PIDS $SP"
i=0
while ! grep -q '^listening on' "$T/s3.out" 2>/dev/null && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
U=$(sed -n 's/^otlp on \(http:[^ ]*\).*/\1/p' "$T/s3.out")
"$LEDGER" --dir "$D" proxy --listen 127.0.0.1:0 \
    --upstream "ollama=http://127.0.0.1:$(cat "$T/sport")" >"$T/p3.out" 2>"$T/p3.err" &
PP=$!
PIDS="$PIDS $PP"
i=0
while ! grep -q '^listening on' "$T/p3.out" 2>/dev/null && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
P="http://$(sed -n 's/^listening on //p' "$T/p3.out")"
if timeout 120 node "$ROOT/tests/e2e/lib/otlp_app.cjs" "$NPM_DIR" "$U" "$P" \
    llama3:8b proto >"$T/app.run" 2>"$T/app.run.err"; then
    TR=$(head -1 "$T/app.run")
    L timeline otlp-e2e-agent -o json >"$T/tl.run" 2>"$T/tl.run.err" ||
        fail "--otlp-run: timeline otlp-e2e-agent: $(cat "$T/tl.run.err")"
    L timeline otlp-e2e-agent >"$T/tl.run.txt" 2>&1
    python3 - "$T/tl.run" "$TR" <<'P' || fail "--otlp-run: $(cat "$T/tl.run.txt")"
import json, sys
tl = json.load(open(sys.argv[1]))
tr = sys.argv[2]
evs = [e for e in tl["events"] if e["kind"] != "context"]
app = [e for e in evs if e["type"] == "route.decision" and "span_id" in e["body"]
       and e["body"]["trace_id"] == tr]
px = [e for e in evs if e["type"] == "route.decision" and "upstream" in e["body"]]
assert len(app) == 2 and all(e["body"]["run"] == "otlp-e2e-agent" for e in app), app
assert len(px) == 2, ("the proxy's records, from the trace's run", px)
for e in px:
    assert e["run"] == tr and e["body"]["trace_id"] == tr, e
    assert e["joined"]["agree"] is True, e
assert tl["counts"]["joined"] == 2, tl["counts"]
P
else
    fail "--otlp-run: the app failed: $(tail -20 "$T/app.run.err")"
fi
kill -TERM $PP
wait $PP 2>/dev/null
kill -TERM $SP
wait $SP 2>/dev/null
L verify >"$T/v" 2>&1 || fail "verify: $(cat "$T/v")"
[ $nfail = 0 ] || { echo "otlp_npm: $nfail failed"; exit 1; }
echo "otlp_npm: the OpenTelemetry SDK's JSON, protobuf and gRPC exports, joined to the proxy's records: all passed"
