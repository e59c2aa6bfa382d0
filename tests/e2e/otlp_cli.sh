#!/bin/sh
# otlp_cli.sh — `ledger serve --otlp` (issue 48, docs/OTLP.md) over real
# HTTP with curl:
#   - an agent's trace in OTLP/JSON: the chat span is a route.decision,
#     the tool span a run.step (failed), the agent span an otel.span, all
#     in the run of the trace id, with their ids and no content (the
#     prompt, the tool's arguments, the error's text); sent again, nothing
#     new (duplicates), answered 200;
#   - the same kind of request as protobuf, gzip'd, answered in protobuf;
#   - log records: otel.log, a GenAI event's body withheld;
#   - a partial success: a span whose event is over the ledger's body
#     limit is refused by name, the other one recorded;
#   - every refusal (404, 405, 415 for type and encoding, 400 for bad JSON,
#     protobuf, ids, 413 for the body and a gzip bomb) names its cause and
#     writes nothing; a body over the limit sent with Expect: 100-continue
#     (curl, a raw client) is answered 413 on its headers, never read;
#   - --otlp-backlog 1 under concurrent requests: 429/503 with
#     Retry-After, and the spans of every request answered 200 are in the
#     log while those of a refused one are not;
#   - an empty body or request (no spans): 200, nothing written; a traces
#     request at /v1/logs and a NUL in a string (protobuf, JSON): 400 by
#     name; span ids sent again with another content: 200 with a warning
#     naming the id, nothing recorded; a batch sent again after a restart:
#     recorded once; a port out of range: 64;
#   - kill -9 right after a run of acknowledged requests: every acked span
#     is there after it, and the ledger verifies;
#   - the counters at serve --metrics, and the events the receiver made in
#     ledger metrics (ledger_otlp_events_total); options refused without --otlp, a
#     non-loopback address without --otlp-remote, a unix: socket served.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
for t in curl python3 gzip; do
    command -v $t >/dev/null 2>&1 || { echo "SKIP: needs $t"; exit 77; }
done
HERE=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/otlp_cli.XXXXXX") || exit 1
SP=""
trap '[ -n "$SP" ] && kill -9 $SP 2>/dev/null; wait 2>/dev/null; rm -rf "$T"' EXIT
export no_proxy=127.0.0.1 NO_PROXY=127.0.0.1
case $LEDGER in /*) ;; *) LEDGER=$PWD/$LEDGER ;; esac
D=$T/l
fails=0
fail() { printf 'FAIL: %s\n' "$*"; fails=$((fails + 1)); }
ok() { printf 'ok - %s\n' "$*"; }
L() { "$LEDGER" --dir "$D" "$@"; }
GEN="python3 $HERE/lib/otlp_gen.py"
PB="python3 $HERE/lib/otlp_pb.py"
TR=5b8efff798038103d269b633813fc60c

# start_serve ARGS...: serve with --otlp on a free port; sets SP and U
start_serve() {
    # emptied here: the background shell truncates it only when it runs,
    # and the last server's "listening on" would be read before that
    : >"$T/s.out"
    "$LEDGER" --dir "$D" serve --otlp 127.0.0.1:0 "$@" >"$T/s.out" 2>"$T/s.err" &
    SP=$!
    i=0
    while ! grep -q '^listening on' "$T/s.out" 2>/dev/null && [ $i -lt 600 ]; do
        sleep 0.05
        i=$((i + 1))
    done
    U=$(sed -n 's/^otlp on \(http:[^ ]*\).*/\1/p' "$T/s.out")
    [ -n "$U" ] || { fail "serve did not start: $(cat "$T/s.out" "$T/s.err")"; exit 1; }
}
stop_serve() {
    kill -TERM $SP
    wait $SP 2>/dev/null
    SP=""
}
# post PATH TYPE FILE [curl args]: the status into $T/code, body $T/resp,
# headers $T/hdr
post() {
    p=$1 ty=$2 f=$3
    shift 3
    curl -s -o "$T/resp" -D "$T/hdr" -w '%{http_code}' -X POST \
        -H "Content-Type: $ty" "$@" --data-binary "@$f" "$U$p" >"$T/code"
}
code() { cat "$T/code"; }
count() { L query -o json 2>/dev/null | wc -l | tr -d ' '; }

# the ledger made a day ago (the clock shim): the generated spans, timed
# 10 s ago, are after its first event (before it they would be flagged,
# below)
ROOT=$(cd "$HERE/../.." && pwd)
. "$ROOT/tests/e2e/lib/clockshift.sh"
clockshift_build "$LEDGER"
CLOCK_SHIFT_S=-86400 LD_PRELOAD=$CS "$LEDGER" --dir "$D" init >/dev/null ||
    { echo "FAIL: init"; exit 1; }

# ------------------------------------------------------------ usage --
for args in "--otlp-run x" "--otlp-content" "--otlp-spans genai" \
    "--otlp-backlog 5" "--otlp 10.1.2.3:4318" "--otlp 127.0.0.1:1 --otlp-spans some" \
    "--otlp nowhere"; do
    # shellcheck disable=SC2086
    L serve $args >"$T/u.out" 2>"$T/u.err"
    [ $? = 64 ] && [ -s "$T/u.err" ] || fail "serve $args: not 64 ($(cat "$T/u.err"))"
done
grep -q 'not a loopback address' "$T/u.err" 2>/dev/null ||
    L serve --otlp 10.1.2.3:4318 2>&1 | grep -q 'not a loopback address' ||
    fail "--otlp 10.1.2.3 does not say it is not loopback"
ok "options without --otlp, a bad value or a remote address: 64"

start_serve --metrics 127.0.0.1:0
MU=$(sed -n 's/^metrics on \(http:[^ ]*\)/\1/p' "$T/s.out")

# ------------------------------------------------------ a port in use --
# another ledger's server on the same port: 75 (try again later), as
# `proxy --listen` and `serve --metrics` say it, naming the cause
"$LEDGER" --dir "$T/l2" init >/dev/null || fail "init l2"
"$LEDGER" --dir "$T/l2" serve --otlp "127.0.0.1:${U##*:}" >/dev/null 2>"$T/inuse.err"
rc=$?
[ $rc = 75 ] && grep -q 'address in use' "$T/inuse.err" ||
    fail "--otlp on a port in use: exit $rc, want 75: $(cat "$T/inuse.err")"
ok "--otlp on a port in use: 75, naming it"

# ---------------------------------------------------- an agent's trace --
$GEN agent $TR >"$T/agent.json"
post /v1/traces application/json "$T/agent.json"
[ "$(code)" = 200 ] && [ "$(cat "$T/resp")" = "{}" ] ||
    fail "agent trace: $(code) $(cat "$T/resp")"
grep -qi '^content-type: application/json' "$T/hdr" || fail "answer type: $(cat "$T/hdr")"
L query run=$TR -o json >"$T/ev"
python3 - "$T/ev" "$TR" <<'P' || fail "agent events: $(cat "$T/ev")"
import json, sys
es = [json.loads(l) for l in open(sys.argv[1])]
tr = sys.argv[2]
by = {e["id"]: e for e in es}
assert len(es) == 3, len(es)
a, c, t = (by["otlp:%s:%016x" % (tr, i)] for i in (1, 2, 3))
assert a["type"] == "otel.span" and a["body"]["operation"] == "invoke_agent", a
assert c["type"] == "route.decision", c
b = c["body"]
assert b["chosen_model"] == "llama3:8b" and b["provider"] == "ollama", b
assert b["tokens_in"] == 11 and b["tokens_out"] == 7 and b["outcome"] == "ok", b
assert b["parent_span_id"] == "%016x" % 1 and b["trace_id"] == tr, b
assert abs(b["latency_ms"] - 250) < 0.01, b
assert t["type"] == "run.step" and t["body"]["status"] == "failed", t
assert t["body"]["tool"] == "get_weather" and t["body"]["reason"] == "timeout", t
for e in es:
    assert e["run"] == tr, e
    assert "time" in e and e["clock"] == "source", e
    assert e["body"]["service"] == "agent", e
    s = json.dumps(e)
    assert "SECRET" not in s, s
P
post /v1/traces application/json "$T/agent.json"
[ "$(code)" = 200 ] || fail "the same trace again: $(code)"
# (init's two events, the genesis and the key.anchored, and the 3)
[ "$(count)" = 5 ] || fail "sent again: $(count) events, want 5 (genesis, anchor + 3)"
ok "an agent's trace: route.decision, run.step, otel.span; sent again, nothing new"

# ---------------------------------------------- protobuf, gzip'd --------
TR2=0af7651916cd43dd8448eb211c80319c
$GEN batch $TR2 5 100 | $PB traces >"$T/b.pb"
gzip -c "$T/b.pb" >"$T/b.pb.gz"
post /v1/traces application/x-protobuf "$T/b.pb.gz" -H 'Content-Encoding: gzip'
[ "$(code)" = 200 ] || fail "protobuf gzip: $(code) $(cat "$T/resp")"
grep -qi '^content-type: application/x-protobuf' "$T/hdr" || fail "pb answer type"
[ ! -s "$T/resp" ] || fail "a full success in protobuf is an empty message: $(od -c "$T/resp")"
[ "$(L query run=$TR2 type=route.decision -o json | wc -l)" = 5 ] ||
    fail "protobuf: $(L query run=$TR2)"
ok "protobuf, gzip'd: 5 spans, an empty ExportTraceServiceResponse"

# ---------------------------------------------------------------- logs --
$GEN logs $TR >"$T/logs.json"
post /v1/logs application/json "$T/logs.json"
[ "$(code)" = 200 ] || fail "logs: $(code) $(cat "$T/resp")"
L query run=$TR type=otel.log -o json >"$T/logs.ev"
python3 - "$T/logs.ev" <<'P' || fail "log events: $(cat "$T/logs.ev")"
import json, sys
es = [json.loads(l) for l in open(sys.argv[1])]
assert len(es) == 2, es
line = [e for e in es if "event_name" not in e["body"]][0]["body"]
ev = [e for e in es if "event_name" in e["body"]][0]["body"]
assert line["body"] == "tool ran" and line["severity"] == 9, line
assert ev["body_withheld"] is True and "body" not in ev, ev
assert "SECRET" not in json.dumps(es)
P
post /v1/logs application/json "$T/logs.json"
[ "$(L query run=$TR type=otel.log -o json | wc -l)" = 2 ] || fail "logs sent again"
ok "log records: otel.log, a GenAI event's body withheld; sent again, nothing new"

# ------------------------------------------------------ partial success --
TR3=11111111111111111111111111111111
$GEN big $TR3 >"$T/big.json"
post /v1/traces application/json "$T/big.json"
python3 - "$T/resp" <<'P' || fail "partial success: $(code) $(head -c 600 "$T/resp")"
import json, sys
r = json.load(open(sys.argv[1]))
ps = r["partialSuccess"]
assert ps["rejectedSpans"] == "1", ps
assert "event 0" in ps["errorMessage"] and "body" in ps["errorMessage"], ps
P
[ "$(code)" = 200 ] || fail "partial success status $(code)"
[ "$(L query run=$TR3 -o json | wc -l)" = 1 ] || fail "partial: $(L query run=$TR3)"
ok "a span over the ledger's body limit: partial success naming it, the other recorded"

# ------------------------------------------------------------ refusals --
before=$(count)
refused() { # refused WANT_CODE WANT_TEXT: the last answer
    [ "$(code)" = "$1" ] || fail "$3: $(code), want $1: $(head -c 300 "$T/resp")"
    grep -q "$2" "$T/resp" || fail "$3: answer does not say '$2': $(head -c 300 "$T/resp")"
}
printf 'x' >"$T/x"
post /v1/metrics application/json "$T/agent.json"
refused 404 'not an OTLP path' "/v1/metrics"
curl -s -o "$T/resp" -w '%{http_code}' "$U/v1/traces" >"$T/code"
refused 405 'only POST' "GET /v1/traces"
post /v1/traces text/plain "$T/agent.json"
refused 415 'Content-Type text/plain' "text/plain"
post /v1/traces application/json "$T/agent.json" -H 'Content-Encoding: br'
refused 415 'Content-Encoding br' "br"
printf '{"resourceSpans":[' >"$T/bad.json"
post /v1/traces application/json "$T/bad.json"
refused 400 'JSON: line 1, column' "bad JSON"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); r["resourceSpans"][0]["scopeSpans"][0]["spans"][1]["traceId"]="abcd"; json.dump(r,open(sys.argv[2],"w"))' \
    "$T/agent.json" "$T/badid.json"
post /v1/traces application/json "$T/badid.json"
refused 400 'spans\[1\].traceId: 2 bytes, not 16' "bad trace id"
printf '\012\377\001' >"$T/bad.pb"
post /v1/traces application/x-protobuf "$T/bad.pb"
refused 400 'protobuf' "bad protobuf"
grep -qi '^content-type: application/x-protobuf' "$T/hdr" || fail "a pb refusal is a pb Status"
head -c 9437184 /dev/zero >"$T/huge"
curl -s -o "$T/resp" -w '%{http_code} %{size_upload}' -X POST \
    -H "Content-Type: application/json" --data-binary "@$T/huge" "$U/v1/traces" >"$T/cu"
cut -d' ' -f1 "$T/cu" >"$T/code"
up=$(cut -d' ' -f2 "$T/cu")
refused 413 'over 8388608 bytes' "a 9 MiB body"
# curl sent Expect: 100-continue: answered on the headers, the body unsent
[ "$up" -lt 1048576 ] || fail "a 9 MiB body with Expect: 100-continue: $up bytes read before the 413"
post /v1/traces application/json "$T/huge" -H 'Expect:'
refused 413 'over 8388608 bytes' "a 9 MiB body without Expect"
# a raw client waiting for 100 Continue: the 413 comes, then the close
python3 - "${U#http://}" >"$T/raw" <<'P' || fail "raw Expect: 100-continue: $(cat "$T/raw")"
import socket, sys
host, port = sys.argv[1].rsplit(":", 1)
s = socket.create_connection((host, int(port)))
s.settimeout(10)
s.sendall(b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
          b"Content-Length: 9437184\r\nExpect: 100-continue\r\n\r\n")
got = b""
while True:
    k = s.recv(65536)
    if not k:
        break
    got += k
print(got.decode("utf-8", "replace"))
assert got.startswith(b"HTTP/1.1 413 "), got[:100]
assert b"100 Continue" not in got and b"over 8388608 bytes" in got, got
P
head -c 67108864 /dev/zero | gzip -c >"$T/bomb.gz"
post /v1/traces application/json "$T/bomb.gz" -H 'Content-Encoding: gzip'
refused 413 'inflates to more than' "a gzip bomb"
head -c 100 "$T/b.pb.gz" >"$T/cut.gz"
post /v1/traces application/x-protobuf "$T/cut.gz" -H 'Content-Encoding: gzip'
refused 400 'cut short' "gzip cut short"
# a batch over 8192 spans: 413 by name
python3 -c 'print("{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[" + ",".join(["{}"] * 8193) + "]}]}]}")' >"$T/over.json"
post /v1/traces application/json "$T/over.json"
refused 413 'more than 8192 spans' "8193 spans"
[ "$(count)" = "$before" ] || fail "refused requests wrote: $(count) events, was $before"
ok "404, 405, 415 (type, encoding), 400 (JSON, ids, protobuf, gzip), 413 (body, bomb, spans): nothing written"
# each reason said on the server's stderr, once a minute at most: the
# five 413s for the body's size are one line
for s in "refused POST /v1/metrics from 127.0.0.1:[0-9]*: 404 path: /v1/metrics: not an OTLP path" \
    "refused GET /v1/traces from .*: 405 method" \
    "refused POST /v1/traces from .*: 415 content_type: Content-Type text/plain" \
    "refused POST /v1/traces from .*: 415 content_encoding: Content-Encoding br" \
    "refused POST /v1/traces from .*: 400 invalid: JSON: line 1" \
    "refused POST /v1/traces from .*: 413 body_size: the body is over 8388608 bytes" \
    "refused POST /v1/traces from .*: 413 limit: more than 8192 spans in one request"; do
    grep -q "^ledger serve: otlp: $s" "$T/s.err" || fail "stderr does not say '$s': $(cat "$T/s.err")"
done
[ "$(grep -c ' 413 body_size: ' "$T/s.err")" = 1 ] ||
    fail "the body size's refusals not one line: $(grep ' 413 body_size: ' "$T/s.err")"
ok "every refusal's reason on the server's stderr, once a reason a minute"

# ------------------------------------------------------------- metrics --
curl -s "$MU" >"$T/m"
for s in "ledger_otlp_spans_received_total 13" "ledger_otlp_spans_recorded_total 9" \
    "ledger_otlp_spans_duplicate_total 3" "ledger_otlp_spans_rejected_total 1" \
    "ledger_otlp_logs_recorded_total 2" 'ledger_otlp_requests_refused_total{reason="path"} 1' \
    'ledger_otlp_requests_refused_total{reason="method"} 1' \
    'ledger_otlp_requests_refused_total{reason="content_type"} 1' \
    'ledger_otlp_requests_refused_total{reason="content_encoding"} 1' \
    'ledger_otlp_requests_refused_total{reason="body_size"} 4' \
    'ledger_otlp_requests_refused_total{reason="limit"} 1' \
    'ledger_otlp_requests_refused_total{reason="invalid"} 4'; do
    grep -qF "$s" "$T/m" || fail "metrics: no '$s': $(grep '^ledger_otlp' "$T/m")"
done
# what the log holds, from ledger metrics (in the scrape, and offline)
for s in 'signal="span",type="route.decision"} 6' 'signal="span",type="run.step"} 1' \
    'signal="span",type="otel.span"} 2' 'signal="log",type="otel.log"} 2'; do
    grep -qF "ledger_otlp_events_total{$s" "$T/m" ||
        fail "scrape: no 'ledger_otlp_events_total{$s': $(grep otlp_events "$T/m")"
    L metrics | grep -qF "ledger_otlp_events_total{$s" ||
        fail "ledger metrics: no 'ledger_otlp_events_total{$s'"
done
ok "the receiver's counters at /metrics; what the log holds in ledger metrics"
# serve --status lists the receivers at their addresses (their counters
# follow within 10 s; checked at the stop, below)
L serve --status >"$T/st" 2>&1
grep -q "^otlp  *$U: [0-9]* requests" "$T/st" && grep -q "^metrics  *$MU: [0-9]* scrapes" "$T/st" ||
    fail "serve --status: no receivers: $(cat "$T/st")"

# ------------------------------------------- a span timed in seconds --
# 1700000000 "ns" is 1970: taken (an exporter would not send it again),
# and flagged in the partial success (0 rejected) and a counter
TR9=99999999999999999999999999999999
printf '{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"%s","spanId":"0000000000000001","name":"s","startTimeUnixNano":"1700000000","endTimeUnixNano":"1700000001"}]}]}]}' \
    $TR9 >"$T/secs.json"
post /v1/traces application/json "$T/secs.json"
python3 - "$T/resp" <<'P' || fail "a span in seconds: $(code) $(cat "$T/resp")"
import json, sys
ps = json.load(open(sys.argv[1]))["partialSuccess"]
assert ps.get("rejectedSpans", "0") == "0", ps
m = ps["errorMessage"]
assert "1 span recorded with a suspect time" in m and "spans[0].startTimeUnixNano: 1700000000 is 1970-01-01T00:00:01.7" in m and "before 2000-01-01" in m, m
P
[ "$(code)" = 200 ] && [ "$(L query run=$TR9 -o json | wc -l)" = 1 ] ||
    fail "a span in seconds not recorded: $(code)"
# before the ledger's first event (a day ago), after 2000: flagged too
old=$(($(date +%s) - 2 * 86400))000000000
sed "s/\"1700000000\"/\"$old\"/; s/\"1700000001\"/\"$((old + 1))\"/; s/0000000000000001/0000000000000002/" \
    "$T/secs.json" >"$T/old.json"
post /v1/traces application/json "$T/old.json"
[ "$(code)" = 200 ] && grep -q "before the ledger's first event" "$T/resp" ||
    fail "a span before the genesis: $(code) $(cat "$T/resp")"
curl -s "$MU" >"$T/m"
grep -q '^ledger_otlp_spans_early_total 2$' "$T/m" ||
    fail "metrics: $(grep early "$T/m")"
ok "spans timed in seconds, or before the ledger: recorded, flagged, counted"
stop_serve
grep -q 'otlp: .* spans: 15 received, 11 recorded' "$T/s.err" ||
    fail "the stop line: $(cat "$T/s.err")"
# and once it stopped, their last counters
L serve --status >"$T/st" 2>&1
[ $? = 69 ] && grep -q "^otlp  *$U: 21 requests (13 refused, 0 throttled, 0 not committed); spans: 15 received, 11 recorded, 3 duplicates, 1 rejected, 0 dropped, 2 early" "$T/st" &&
    grep -q "^metrics  *$MU: 2 scrapes" "$T/st" ||
    fail "serve --status after the stop: $(cat "$T/st" | cut -c1-300)"
L serve --status -o json >"$T/st.json" 2>/dev/null
python3 - "$T/st.json" "$U" <<'P' || fail "serve --status -o json: $(cat "$T/st.json")"
import json, sys
st = json.load(open(sys.argv[1]))
r = {x["name"]: x for x in st["receivers"]}
o = r["otlp"]
assert o["address"] == sys.argv[2], o
c = o["counters"]
assert c["spans"]["received"] == 15 and c["spans"]["early"] == 2, c
assert c["refused"] == 13 and c["refused_by"]["body_size"] == 4, c
assert r["metrics"]["counters"]["scrapes"] == 2, r["metrics"]
P
ok "serve --status: the receivers, their addresses and counters"

# ------------------------------------ empty, misdirected, NUL, again --
start_serve
# an agent's turn as a tree, in the order it happened, whatever the
# order the spans were sent in
TRT=66666666666666666666666666666666
$GEN tree $TRT >"$T/tree.json"
post /v1/traces application/json "$T/tree.json"
[ "$(code)" = 200 ] || fail "tree: $(code) $(cat "$T/resp")"
L timeline $TRT >"$T/tree.txt"
python3 - "$T/tree.txt" <<'P' || fail "the tree: $(cat "$T/tree.txt")"
import re, sys
lines = open(sys.argv[1]).read().splitlines()
assert "times from its first event: the source's clock, which puts it at" in lines[0], lines[0]
rows = [l for l in lines if re.match(r"\s*\+\d", l)]
want = [("+0.000s", "span", 0, "invoke_agent planner"),
        ("+0.100s", "route", 1, "llama3:8b"),
        ("+0.400s", "step", 1, "execute_tool get_weather"),
        ("+0.450s", "span", 2, "GET"),
        ("+0.800s", "route", 1, "llama3:8b")]
assert len(rows) == len(want), rows
for r, (at, kind, depth, what) in zip(rows, want):
    m = re.match(r"\s*(\+\S+)\s+#\d+\s+(\w+)( *)(\S.*)", r)
    assert m and m.group(1) == at and m.group(2) == kind, (r, at, kind)
    # the kind's column is 8 wide; each level of the tree indents by two
    assert (len(m.group(3)) - (8 - len(kind)) - 1) // 2 == depth, (r, depth)
    assert m.group(4).startswith(what), (r, what)
P
ok "an agent's turn (invoke_agent > chat, tool > HTTP, chat): a tree, in order"

before=$(count)
: >"$T/empty"
post /v1/traces application/json "$T/empty"
[ "$(code)" = 200 ] && [ "$(cat "$T/resp")" = "{}" ] ||
    fail "an empty JSON body: $(code) $(cat "$T/resp")"
post /v1/logs application/x-protobuf "$T/empty"
[ "$(code)" = 200 ] && [ ! -s "$T/resp" ] || fail "an empty protobuf body: $(code)"
printf '{"resourceSpans":[]}' >"$T/nospans.json"
post /v1/traces application/json "$T/nospans.json"
[ "$(code)" = 200 ] || fail "a request without spans: $(code) $(cat "$T/resp")"
# a traces request at /v1/logs is not "no log records"
post /v1/logs application/json "$T/agent.json"
refused 400 'resourceSpans, not resourceLogs: spans go to /v1/traces' "spans at /v1/logs"
# a NUL inside a protobuf string: refused by name, not cut short
TR7=55555555555555555555555555555555
$GEN agent $TR7 | $PB traces >"$T/nul.pb"
python3 - "$T/nul.pb" <<'P'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
i = b.find(b"invoke_agent planner")
b[i + 12] = 0
open(sys.argv[1], "wb").write(bytes(b))
P
post /v1/traces application/x-protobuf "$T/nul.pb"
refused 400 'spans\[0\].name: a NUL byte at byte 12' "a NUL in a protobuf string"
python3 -c 'import sys; s=open(sys.argv[1]).read().replace("planner","plan\\u0000ner",1); open(sys.argv[2],"w").write(s)' \
    "$T/agent.json" "$T/nul.json"
post /v1/traces application/json "$T/nul.json"
refused 400 'column [0-9]*: a NUL (.*) in a string' "a NUL in a JSON string"
[ "$(count)" = "$before" ] || fail "empty and refused requests wrote: $(count), was $before"
ok "an empty body or request: 200, nothing written; spans at /v1/logs, a NUL in a string: 400"
# the same span ids with other content: not recorded, and the answer says so
sed 's/"agent"/"agent-2"/' "$T/agent.json" >"$T/agent2.json"
post /v1/traces application/json "$T/agent2.json"
python3 - "$T/resp" "$TR" <<'P' || fail "span ids used again: $(code) $(cat "$T/resp")"
import json, sys
ps = json.load(open(sys.argv[1]))["partialSuccess"]
assert ps["rejectedSpans"] == "0", ps
m = ps["errorMessage"]
assert "id otlp:%s:0000000000000001 is already in the log" % sys.argv[2] in m, m
assert "another body" in m and "not recorded" in m, m
P
[ "$(code)" = 200 ] && [ "$(count)" = "$before" ] || fail "span ids again: $(code), $(count) events"
ok "span ids sent again with another content: 200 with a warning naming the id, nothing recorded"
# a batch sent again after a restart of the server: nothing twice
$GEN agent $TR7 >"$T/a7.json"
post /v1/traces application/json "$T/a7.json"
[ "$(code)" = 200 ] || fail "a7: $(code)"
stop_serve
start_serve
post /v1/traces application/json "$T/a7.json"
[ "$(code)" = 200 ] && [ "$(cat "$T/resp")" = "{}" ] || fail "a7 again: $(code) $(cat "$T/resp")"
[ "$(L query run=$TR7 -o json | wc -l)" = 3 ] || fail "after a restart: $(L query run=$TR7)"
stop_serve
grep -q 'spans: 3 received, 0 recorded, 3 duplicates' "$T/s.err" ||
    fail "the stop line after a retry: $(tail -1 "$T/s.err")"
ok "a batch sent again after a restart: answered 200, recorded once"
L serve --otlp 127.0.0.1:99999 >/dev/null 2>"$T/u.err"
[ $? = 64 ] && grep -q 'port 99999 is not 0 to 65535' "$T/u.err" ||
    fail "--otlp 127.0.0.1:99999: $(cat "$T/u.err")"

# ------------------------------------------------- the writer behind --
start_serve --otlp-backlog 1
TR4=22222222222222222222222222222222
for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
    $GEN batch $TR4 300 "$(printf '%x' $((i * 1000)))" >"$T/c$i.json"
done
for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
    curl -s -o "$T/c$i.resp" -D "$T/c$i.hdr" -w '%{http_code}' -X POST \
        -H 'Content-Type: application/json' --data-binary "@$T/c$i.json" \
        "$U/v1/traces" >"$T/c$i.code" &
done
wait_curls() { # every curl of this round, not the server
    for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
        j=0
        while [ ! -s "$T/c$i.code" ] && [ $j -lt 600 ]; do sleep 0.05; j=$((j + 1)); done
    done
}
wait_curls
L query run=$TR4 -o json --output-fields id >"$T/c.ids"
python3 - "$T" "$TR4" <<'P' || fail "backlog: $(cat "$T"/c*.code)"
import json, os, re, sys
t, tr = sys.argv[1], sys.argv[2]
have = {json.loads(l)["id"] for l in open(os.path.join(t, "c.ids"))}
oks = thr = 0
for i in range(1, 13):
    code = open(os.path.join(t, "c%d.code" % i)).read()
    hdr = open(os.path.join(t, "c%d.hdr" % i)).read().lower()
    ids = {"otlp:%s:%016x" % (tr, i * 1000 + k) for k in range(300)}
    if code == "200":
        oks += 1
        assert ids <= have, "request %d answered 200, spans missing" % i
    else:
        assert code in ("429", "503"), code
        assert re.search(r"retry-after: [123]\r?\n", hdr), hdr
        assert not (ids & have), "request %d refused, yet recorded" % i
        thr += 1
assert oks >= 1 and thr >= 1, (oks, thr)
print("backlog: %d answered 200, %d throttled" % (oks, thr))
P
ok "--otlp-backlog 1: 429/503 with Retry-After, acked spans all there, refused none"

# --------------------------------------------------- kill -9 after acks --
TR5=33333333333333333333333333333333
: >"$T/acked"
for i in 1 2 3 4 5 6 7 8; do
    $GEN batch $TR5 64 "$(printf '%x' $((i * 100)))" >"$T/k.json"
    post /v1/traces application/json "$T/k.json"
    [ "$(code)" = 200 ] && echo $i >>"$T/acked"
done
kill -9 $SP
wait $SP 2>/dev/null
SP=""
L verify >"$T/v.out" 2>&1 || fail "verify after kill -9: $(cat "$T/v.out")"
n=$(L query run=$TR5 -o json | wc -l)
[ "$n" = $(($(wc -l <"$T/acked") * 64)) ] && [ "$n" -gt 0 ] ||
    fail "after kill -9: $n spans, $(wc -l <"$T/acked") requests acked of 64"
ok "kill -9 after acks: all $n acknowledged spans there, verify passes"

# ---------------------------------------------------- a unix socket --
: >"$T/s.out"
"$LEDGER" --dir "$D" serve --otlp "unix:$T/otlp.sock" >"$T/s.out" 2>"$T/s.err" &
SP=$!
i=0
while ! grep -q '^listening on' "$T/s.out" 2>/dev/null && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
grep -q "^otlp on unix:$T/otlp.sock" "$T/s.out" || fail "unix: $(cat "$T/s.out" "$T/s.err")"
TR6=44444444444444444444444444444444
$GEN batch $TR6 2 1 >"$T/u.json"
curl -s --unix-socket "$T/otlp.sock" -o "$T/resp" -w '%{http_code}' -X POST \
    -H 'Content-Type: application/json' --data-binary "@$T/u.json" \
    http://localhost/v1/traces >"$T/code"
[ "$(code)" = 200 ] && [ "$(L query run=$TR6 -o json | wc -l)" = 2 ] ||
    fail "over a unix socket: $(code) $(cat "$T/resp")"
# the sender as the kernel names it (over TCP: none)
L query run=$TR6 -o json >"$T/u.ev"
python3 - "$T/u.ev" "$T/ev" <<'P' || fail "sources: $(head -c 600 "$T/u.ev")"
import json, sys
for l in open(sys.argv[1]):
    s = json.loads(l)["source"]
    assert s["exe"].endswith("curl") and s["pid"] > 0, s
for l in open(sys.argv[2]):
    assert "source" not in json.loads(l), l
P
stop_serve
ok "--otlp unix:PATH: the sender's uid, pid and executable recorded"

[ $fails = 0 ] || { echo "otlp_cli: $fails failed"; exit 1; }
echo "otlp_cli: all passed"
