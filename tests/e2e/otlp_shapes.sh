#!/bin/sh
# otlp_shapes.sh — the four shapes GenAI spans come in (issue 66,
# docs/OTLP.md "Dialects"), from real emitters' fixtures
# (tests/vectors/genai/, PROVENANCE.md says what made each), replayed
# over OTLP/HTTP (protobuf, as captured) and over OTLP/gRPC into two
# ledgers:
#   - every dialect's chat call is one route.decision with the same
#     fields: route and model requested gpt-4o-mini, chosen
#     gpt-4o-mini-2024-07-18, provider openai, tokens 11 in and 7 out,
#     outcome ok, a latency; the conventions' and OpenLLMetry's say the
#     operation (chat), OpenInference's cannot;
#   - the tool spans (the conventions' execute_tool, OpenInference's
#     TOOL) are one run.step: tool get_weather, status ok;
#   - the operation-details event (OTel's Responses instrumentation) is an
#     otel.log whose messages are withheld;
#   - no content (the prompt, the answer, the tool's argument) is
#     recorded, although every emitter captured it; with --otlp-content
#     it is;
#   - the events over gRPC are the events over HTTP, byte for byte in
#     their bodies.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
for t in node python3 curl; do
    command -v $t >/dev/null 2>&1 || { echo "SKIP: needs $t"; exit 77; }
done
HERE=$(cd "$(dirname "$0")" && pwd)
V=$(cd "$HERE/../vectors/genai" && pwd)
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/otlp_shapes.XXXXXX") || exit 1
SP=""
trap '[ -n "$SP" ] && kill -9 $SP 2>/dev/null; wait 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
export no_proxy=127.0.0.1 NO_PROXY=127.0.0.1
case $LEDGER in /*) ;; *) LEDGER=$PWD/$LEDGER ;; esac
fails=0
fail() { printf 'FAIL: %s\n' "$*"; fails=$((fails + 1)); }
ok() { printf 'ok - %s\n' "$*"; }
DIALECTS="otel otel-responses openllmetry-flat openllmetry openinference"

# replay DIR VIA [serve options]: every fixture into a fresh ledger at DIR
# over VIA (http or grpc)
replay() {
    d=$1 via=$2
    shift 2
    "$LEDGER" --dir "$d" init >/dev/null || { fail "init"; return 1; }
    : >"$T/s.out"
    "$LEDGER" --dir "$d" serve --otlp 127.0.0.1:0 --otlp-grpc 127.0.0.1:0 "$@" \
        >"$T/s.out" 2>"$T/s.err" &
    SP=$!
    i=0
    while ! grep -q '^listening on' "$T/s.out" 2>/dev/null && [ $i -lt 600 ]; do
        sleep 0.05
        i=$((i + 1))
    done
    U=$(sed -n 's/^otlp on \(http:[^ ]*\).*/\1/p' "$T/s.out")
    G=$(sed -n 's/^otlp-grpc on http:\/\/\([^ ]*\) .*/\1/p' "$T/s.out")
    for f in "$V"/*.pb; do
        case $f in *.logs.pb) sig=logs ;; *) sig=traces ;; esac
        if [ "$via" = http ]; then
            c=$(curl -s -o "$T/resp" -w '%{http_code}' -X POST \
                -H 'Content-Type: application/x-protobuf' --data-binary "@$f" \
                "$U/v1/$sig")
            [ "$c" = 200 ] || fail "$(basename "$f") over HTTP: $c $(cat "$T/resp")"
        else
            # OK; its partial success may warn that the spans began
            # before the ledger's first event (the fixtures are older)
            node "$HERE/lib/grpc_call.cjs" "$G" $sig "$f" >"$T/r" 2>&1
            grep -q '"grpc":0,"message":"","retry_s":null' "$T/r" &&
                python3 -c 'import json,sys
b = bytes.fromhex(json.loads(open(sys.argv[1]).readline())["body"])
assert not b or b"suspect time" in b, b' "$T/r" ||
                fail "$(basename "$f") over gRPC: $(cat "$T/r")"
        fi
    done
    kill -TERM $SP
    wait $SP 2>/dev/null
    SP=""
    "$LEDGER" --dir "$d" query -o json >"$d.ev"
}

for d in $DIALECTS; do
    [ -s "$V/$d.traces.pb" ] || fail "no fixture $d.traces.pb"
done
replay "$T/h" http
replay "$T/g" grpc

python3 - "$T/h.ev" <<'P' || fail "the shapes: $(cat "$T/h.ev")"
import json, sys
es = [json.loads(l) for l in open(sys.argv[1])]
# the scope names the emitter; the fixtures' dialects by their scope
want = {
    "@opentelemetry/instrumentation-openai": 2,  # chat, responses
    "@traceloop/instrumentation-openai": 2,      # 0.22.5 flat, 0.27.0
    "@arizeai/openinference-instrumentation-openai": 1,
}
rd = [e for e in es if e["type"] == "route.decision"]
got = {}
for e in rd:
    b = e["body"]
    got[b["scope"]] = got.get(b["scope"], 0) + 1
    same = {k: b.get(k) for k in ("route", "model_requested", "chosen_model",
                                  "provider", "tokens_in", "tokens_out", "outcome")}
    assert same == {"route": "gpt-4o-mini", "model_requested": "gpt-4o-mini",
                    "chosen_model": "gpt-4o-mini-2024-07-18", "provider": "openai",
                    "tokens_in": 11, "tokens_out": 7, "outcome": "ok"}, (b["scope"], b)
    assert b["latency_ms"] > 0 and "error_type" not in b, b
    assert b.get("finish_reasons") == ["stop"], b
    if b["scope"] != "@arizeai/openinference-instrumentation-openai":
        assert b["operation"] == "chat", b
    # the attributes the fields came from are not repeated
    for k in b.get("attributes", {}):
        assert not k.startswith(("gen_ai.request.", "gen_ai.response.model",
                                 "gen_ai.usage.input", "gen_ai.usage.output",
                                 "gen_ai.system", "gen_ai.provider", "llm.model_name",
                                 "llm.token_count.prompt", "llm.token_count.completion",
                                 "openinference.span.kind", "llm.request.type")), (k, b)
assert got == want, got
steps = [e for e in es if e["type"] == "run.step"]
assert len(steps) == 2, steps
for e in steps:
    b = e["body"]
    assert b["tool"] == "get_weather" and b["status"] == "ok", b
logs = [e for e in es if e["type"] == "otel.log"]
det = [e for e in logs if e["body"].get("event_name") == "gen_ai.client.inference.operation.details"]
assert len(det) == 2, logs   # its input, then its output
for e in det:
    # (its messages are attributes: it has no body of its own)
    assert "body" not in e["body"], e
    a = e["body"].get("attributes", {})
    assert "gen_ai.input.messages" not in a and "gen_ai.output.messages" not in a, e
text = json.dumps(es)
for secret in ("why is the sky blue", "Rayleigh", "SECRET-CITY", "sk-fixture"):
    assert secret not in text, secret
print("shapes: %d route.decision, %d run.step, %d operation-details events" %
      (len(rd), len(steps), len(det)))
P
ok "five emitters, four shapes: one route.decision each with the same fields; tools a run.step; no content"

python3 - "$T/h.ev" "$T/g.ev" <<'P' || fail "gRPC and HTTP differ"
import json, sys
def load(p):
    out = {}
    for l in open(p):
        e = json.loads(l)
        # (each ledger's own: its genesis and its log key's anchor)
        if e["type"] in ("ledger.genesis", "key.anchored"):
            continue
        out[e.get("id") or json.dumps(e["body"], sort_keys=True)] = (e["type"], e.get("run"), e["body"])
    return out
h, g = load(sys.argv[1]), load(sys.argv[2])
assert h.keys() == g.keys(), (sorted(h), sorted(g))
for k in h:
    assert h[k] == g[k], (k, h[k], g[k])
print("gRPC: the same %d events" % len(h))
P
ok "every fixture over gRPC: the events OTLP/HTTP records, the same bodies"

# with --otlp-content the messages are kept, in each dialect's own names
replay "$T/c" http --otlp-content
python3 - "$T/c.ev" <<'P' || fail "--otlp-content: $(head -c 2000 "$T/c.ev")"
import json, sys
es = [json.loads(l) for l in open(sys.argv[1])]
by = {}
for e in es:
    if e["type"] == "route.decision":
        by[e["body"]["scope"] + ("/flat" if any(k.startswith("gen_ai.prompt.") for k in e["body"].get("attributes", {})) else "")] = e["body"]["attributes"]
assert "why is the sky blue" in json.dumps(by["@traceloop/instrumentation-openai/flat"]), by
assert "llm.input_messages.0.message.content" in by["@arizeai/openinference-instrumentation-openai"], by
assert "Rayleigh" in json.dumps(by["@traceloop/instrumentation-openai"].get("gen_ai.output.messages")), by
det = [e for e in es if e["body"].get("event_name") == "gen_ai.client.inference.operation.details"]
assert any("gen_ai.input.messages" in e["body"].get("attributes", {}) for e in det), det
P
ok "--otlp-content: the messages kept, in each dialect's names"

[ $fails = 0 ] || { echo "otlp_shapes: $fails failed"; exit 1; }
echo "otlp_shapes: all passed"
