#!/bin/sh
# otlp_grpc.sh — `ledger serve --otlp-grpc` (issue 66, docs/OTLP.md "gRPC")
# over real HTTP/2, with Node.js's own client (tests/e2e/lib/grpc_call.cjs):
#   - options: --otlp-grpc alone, with --otlp, a remote address without
#     --otlp-remote (64), a bad address (64);
#   - an agent's trace sent over gRPC is recorded as the same events as
#     over OTLP/HTTP (another trace id: the same types, bodies but ids);
#     sent again, nothing new; gzip'd; log records; a partial success in
#     the ExportTraceServiceResponse;
#   - every refusal with its status and RetryInfo or none: another method
#     (12), a content-type (3), an encoding (12), a compressed flag without
#     an encoding (13), a message declared over the limit (8, no RetryInfo,
#     the rest of the stream dropped), two messages (3), bad protobuf (3),
#     a gzip bomb (8): nothing written;
#   - --otlp-backlog 1 under concurrent calls: UNAVAILABLE or
#     RESOURCE_EXHAUSTED with a RetryInfo of 1 to 3 s, the spans of every
#     call answered OK in the log, of a refused one not;
#   - an HTTP/2 client at the OTLP/HTTP port: a GOAWAY whose debug data
#     names --otlp-grpc, one line on stderr for three of them, counted;
#     the counters at --metrics;
#   - kill -9 during a flood of calls: every span answered OK is there
#     after it, and the ledger verifies;
#   - a unix: socket: the sender's uid, pid and executable recorded.
set -u
: "${LEDGER:?set LEDGER to the ledger binary}"
for t in node python3 curl; do
    command -v $t >/dev/null 2>&1 || { echo "SKIP: needs $t"; exit 77; }
done
HERE=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/otlp_grpc.XXXXXX") || exit 1
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
CALL="node $HERE/lib/grpc_call.cjs"

# start_serve ARGS...: serve with --otlp-grpc (and --otlp) on free ports;
# sets SP, G (gRPC HOST:PORT) and U (the HTTP receiver's URL)
start_serve() {
    : >"$T/s.out"
    "$LEDGER" --dir "$D" serve --otlp-grpc 127.0.0.1:0 --otlp 127.0.0.1:0 \
        "$@" >"$T/s.out" 2>"$T/s.err" &
    SP=$!
    i=0
    while ! grep -q '^listening on' "$T/s.out" 2>/dev/null && [ $i -lt 600 ]; do
        sleep 0.05
        i=$((i + 1))
    done
    G=$(sed -n 's/^otlp-grpc on http:\/\/\([^ ]*\) .*/\1/p' "$T/s.out")
    U=$(sed -n 's/^otlp on \(http:[^ ]*\).*/\1/p' "$T/s.out")
    [ -n "$G" ] && [ -n "$U" ] ||
        { fail "serve did not start: $(cat "$T/s.out" "$T/s.err")"; exit 1; }
}
stop_serve() {
    kill -TERM $SP
    wait $SP 2>/dev/null
    SP=""
}
# rpc ARGS...: one call's answer (JSON) into $T/r
rpc() { $CALL "$G" "$@" >"$T/r" 2>&1; }
# field NAME: of the last answer
field() { python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline()).get(sys.argv[2]))' "$T/r" "$1"; }
count() { L query -o json 2>/dev/null | wc -l | tr -d ' '; }
# rejected: the last answer's rejected count (an OK may carry a warning
# alone: otlp_gen.py dates spans seconds ago, before the ledger's first
# event, which the receiver flags)
rejected() {
    python3 -c 'import json,sys
b = bytes.fromhex(json.loads(open(sys.argv[1]).readline())["body"])
# ExportTraceServiceResponse{1: partial_success{1: rejected, 2: message}}
def varint(b, i):
    v = s = 0
    while True:
        v |= (b[i] & 0x7f) << s; i += 1; s += 7
        if not b[i - 1] & 0x80: return v, i
n = 0
if b:
    ln, i = varint(b, 1)
    if i < len(b) and b[i] == 0x08:
        n, _ = varint(b, i + 1)
print(n)' "$T/r"
}

L init >/dev/null || { echo "FAIL: init"; exit 1; }

# ------------------------------------------------------------ usage --
for args in "--otlp-grpc 10.1.2.3:4317" "--otlp-grpc nowhere" \
    "--otlp-grpc 127.0.0.1:99999"; do
    # shellcheck disable=SC2086
    L serve $args >"$T/u.out" 2>"$T/u.err"
    [ $? = 64 ] && [ -s "$T/u.err" ] || fail "serve $args: not 64 ($(cat "$T/u.err"))"
done
L serve --otlp-grpc 10.1.2.3:4317 2>&1 | grep -q -- '--otlp-grpc 10.1.2.3:4317 is not a loopback' ||
    fail "--otlp-grpc 10.1.2.3 does not say it is not loopback"
ok "--otlp-grpc: a remote address without --otlp-remote, a bad one: 64"

# --otlp-grpc alone: no HTTP receiver
: >"$T/s.out"
"$LEDGER" --dir "$D" serve --otlp-grpc 127.0.0.1:0 >"$T/s.out" 2>"$T/s.err" &
SP=$!
i=0
while ! grep -q '^listening on' "$T/s.out" 2>/dev/null && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
grep -q '^otlp-grpc on http://127.0.0.1:[0-9]* (gRPC: TraceService/Export, LogsService/Export)$' "$T/s.out" &&
    ! grep -q '^otlp on' "$T/s.out" || fail "--otlp-grpc alone: $(cat "$T/s.out" "$T/s.err")"
stop_serve
ok "--otlp-grpc alone serves gRPC only"

start_serve --metrics 127.0.0.1:0
MU=$(sed -n 's/^metrics on \(http:[^ ]*\)/\1/p' "$T/s.out")

# ------------------------------------- the same events as over HTTP --
TR=5b8efff798038103d269b633813fc60c
TRH=6b8efff798038103d269b633813fc60c
$GEN agent $TR | $PB traces >"$T/agent.pb"
$GEN agent $TRH | $PB traces >"$T/agenth.pb"
rpc traces "$T/agent.pb"
[ "$(field grpc)" = 0 ] && [ "$(rejected)" = 0 ] ||
    fail "agent trace over gRPC: $(cat "$T/r")"
curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/x-protobuf' \
    --data-binary "@$T/agenth.pb" "$U/v1/traces" >"$T/hc"
[ "$(cat "$T/hc")" = 200 ] || fail "agent trace over HTTP: $(cat "$T/hc")"
L query run=$TR -o json >"$T/g.ev"
L query run=$TRH -o json >"$T/h.ev"
python3 - "$T/g.ev" "$T/h.ev" "$TR" "$TRH" <<'P' || fail "gRPC vs HTTP: $(cat "$T/g.ev")"
import json, sys
g = [json.loads(l) for l in open(sys.argv[1])]
h = [json.loads(l) for l in open(sys.argv[2])]
tr, trh = sys.argv[3], sys.argv[4]
assert len(g) == 3 and len(h) == 3, (len(g), len(h))
def norm(e, t):
    d = {k: v for k, v in e.items() if k not in ("seq", "hash", "prev", "sig", "ts", "time", "recorded")}
    return json.loads(json.dumps(d).replace(t, "TRACE"))
by = lambda es, t: sorted((norm(e, t) for e in es), key=lambda e: e["id"])
gg, hh = by(g, tr), by(h, trh)
for a, b in zip(gg, hh):
    assert a["type"] == b["type"] and a["body"] == b["body"] and a["id"] == b["id"], (a, b)
types = sorted(e["type"] for e in g)
assert types == ["otel.span", "route.decision", "run.step"], types
c = [e for e in g if e["type"] == "route.decision"][0]["body"]
assert c["chosen_model"] == "llama3:8b" and c["tokens_in"] == 11, c
assert "SECRET" not in json.dumps(g)
P
rpc traces "$T/agent.pb"
[ "$(field grpc)" = 0 ] && [ "$(L query run=$TR -o json | wc -l)" = 3 ] ||
    fail "sent again: $(cat "$T/r")"
ok "an agent's trace over gRPC: the events OTLP/HTTP makes of it; sent again, nothing new"

TR2=0af7651916cd43dd8448eb211c80319c
$GEN batch $TR2 5 100 | $PB traces >"$T/b.pb"
rpc traces "$T/b.pb" --gzip
[ "$(field grpc)" = 0 ] && [ "$(L query run=$TR2 type=route.decision -o json | wc -l)" = 5 ] ||
    fail "gzip: $(cat "$T/r")"
ok "grpc-encoding gzip: 5 spans"

$GEN logs $TR | $PB logs >"$T/logs.pb"
rpc logs "$T/logs.pb"
[ "$(field grpc)" = 0 ] && [ "$(L query run=$TR type=otel.log -o json | wc -l)" = 2 ] ||
    fail "logs: $(cat "$T/r")"
ok "LogsService/Export: 2 otel.log"

TR3=11111111111111111111111111111111
$GEN big $TR3 | $PB traces >"$T/big.pb"
rpc traces "$T/big.pb"
# ExportTraceServiceResponse{partial_success{rejected_spans 1, error_message}}
python3 - "$T/r" <<'P' || fail "partial success: $(cat "$T/r")"
import json, sys
r = json.loads(open(sys.argv[1]).readline())
assert r["grpc"] == 0, r
b = bytes.fromhex(r["body"])
assert b[0] == 0x0a, b            # field 1, partial_success
i = 1
while b[i] & 0x80:                # its length
    i += 1
assert b[i + 1:i + 3] == b"\x08\x01", b    # rejected_spans 1
assert b"event 0" in b and b"body" in b, b
P
[ "$(L query run=$TR3 -o json | wc -l)" = 1 ] || fail "partial: $(L query run=$TR3)"
ok "a span over the ledger's body limit: OK with a partial success naming it"

# ------------------------------------------------------------ refusals --
before=$(count)
# refused WANT_CODE WANT_RETRY WANT_TEXT WHAT: the last answer
refused() {
    python3 - "$T/r" "$1" "$2" "$3" <<'P' || fail "$4: $(cat "$T/r")"
import json, sys
r = [json.loads(l) for l in open(sys.argv[1]) if '"grpc"' in l][0]
assert r["grpc"] == int(sys.argv[2]), r
assert str(r["retry_s"]) == sys.argv[3], r
assert sys.argv[4] in r["message"], r
P
}
rpc /opentelemetry.proto.collector.metrics.v1.MetricsService/Export "$T/b.pb"
refused 12 None 'not a method here' "a metrics export"
rpc traces "$T/b.pb" --type application/json
refused 3 None 'content-type application/json' "content-type"
rpc traces "$T/b.pb" --encoding deflate
refused 12 None 'grpc-encoding deflate' "an encoding"
rpc traces "$T/b.pb" --flag 1
refused 13 None 'flagged compressed' "a compressed flag without an encoding"
rpc traces "$T/b.pb" --declare 9000000
refused 8 None 'over the limit of 8388608' "a message declared over the limit"
rpc traces "$T/b.pb" --twice
refused 3 None 'not one gRPC message' "two messages"
printf '\012\377\001' >"$T/bad.pb"
rpc traces "$T/bad.pb"
refused 3 None 'protobuf' "bad protobuf"
head -c 67108864 /dev/zero >"$T/zeros"
$CALL "$G" traces "$T/zeros" --gzip >"$T/r" 2>&1
refused 8 None 'inflates to more than' "a gzip bomb"
[ "$(count)" = "$before" ] || fail "refused calls wrote: $(count) events, was $before"
ok "UNIMPLEMENTED, INVALID_ARGUMENT, INTERNAL, RESOURCE_EXHAUSTED (no RetryInfo): nothing written"

# ----------------------------------- a gRPC client at the HTTP port --
HP=${U#http://}
for i in 1 2 3; do
    $CALL "$HP" traces "$T/b.pb" >"$T/h2.$i" 2>&1
done
grep -q '"goaway":13,"debug":"this is the OTLP/HTTP port; OTLP over gRPC is served by `ledger serve --otlp-grpc ADDR`"' "$T/h2.1" ||
    fail "HTTP/2 at the HTTP port: $(cat "$T/h2.1")"
curl -s "$MU" >"$T/m"
# 13 calls (5 OK, 8 refused) and 1 HTTP request; 12 spans recorded (3 of
# them over HTTP)
for s in "ledger_otlp_h2_refused_total 3" "ledger_otlp_grpc_requests_total 13" \
    "ledger_otlp_requests_total 14" "ledger_otlp_spans_recorded_total 12"; do
    grep -q "^$s\$" "$T/m" || fail "metrics: no '$s': $(grep '^ledger_otlp' "$T/m")"
done
n=$(grep -c 'HTTP/2 connection.* at the OTLP/HTTP port' "$T/s.err")
[ "$n" = 1 ] && grep -q -- 'otlp: 1 HTTP/2 connection at the OTLP/HTTP port .*--otlp-grpc ADDR' "$T/s.err" ||
    fail "the log line ($n): $(cat "$T/s.err")"
ok "an HTTP/2 preface at the HTTP port: GOAWAY naming --otlp-grpc, counted, said once"
# a span timed in seconds over gRPC: recorded, flagged, and counted as
# the HTTP front counts it (the gRPC front never added to the counter)
printf '{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"%s","spanId":"0000000000000001","name":"s","startTimeUnixNano":"1700000000","endTimeUnixNano":"1700000001"}]}]}]}' \
    99999999999999999999999999999998 | $PB traces >"$T/secs.pb"
e0=$(curl -s "$MU" | sed -n 's/^ledger_otlp_spans_early_total //p')
rpc traces "$T/secs.pb"
[ "$(field grpc)" = 0 ] && python3 -c 'import json, sys
assert b"1 span recorded with a suspect time" in bytes.fromhex(json.load(open(sys.argv[1]))["body"])' "$T/r" ||
    fail "a span in seconds over gRPC: $(cat "$T/r")"
curl -s "$MU" >"$T/m"
grep -q "^ledger_otlp_spans_early_total $((e0 + 1))\$" "$T/m" ||
    fail "early spans over gRPC not counted: $(grep early "$T/m") (was $e0)"
# the refused calls by reason, as the HTTP front's, and said on stderr
for s in 'ledger_otlp_requests_refused_total{reason="path"} 1' \
    'ledger_otlp_requests_refused_total{reason="content_type"} 1' \
    'ledger_otlp_requests_refused_total{reason="content_encoding"} 2' \
    'ledger_otlp_requests_refused_total{reason="body_size"} 2' \
    'ledger_otlp_requests_refused_total{reason="invalid"} 2'; do
    grep -qF "$s" "$T/m" || fail "metrics: no '$s': $(grep 'refused_total' "$T/m")"
done
grep -q '^ledger serve: otlp: refused POST /opentelemetry.proto.collector.metrics.v1.MetricsService/Export from 127.0.0.1:[0-9]*: UNIMPLEMENTED path: ' "$T/s.err" ||
    fail "a refused call is not said: $(cat "$T/s.err")"
# serve --status lists both receivers at their addresses
L serve --status -o json >"$T/st.json" 2>&1
python3 - "$T/st.json" "$U" "$G" <<'P' || fail "serve --status: $(cat "$T/st.json")"
import json, sys
st = json.load(open(sys.argv[1]))
r = {x["name"]: x for x in st["receivers"]}
assert r["otlp"]["address"] == sys.argv[2], r
assert r["otlp-grpc"]["address"] == "http://" + sys.argv[3], r
P
L serve --status >"$T/st" 2>&1
grep -q "^otlp-grpc  *http://$G: [0-9]* of the otlp receiver's requests" "$T/st" ||
    fail "serve --status does not name the gRPC receiver: $(cat "$T/st")"
ok "refused calls counted by reason and said; serve --status names both receivers"
stop_serve
grep -q 'otlp: 15 requests (8 refused' "$T/s.err" || fail "the stop line: $(cat "$T/s.err")"

# ------------------------------------------------- the writer behind --
start_serve --otlp-backlog 1
TR4=22222222222222222222222222222222
for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
    $GEN batch $TR4 300 "$(printf '%x' $((i * 1000)))" | $PB traces >"$T/c$i.pb"
done
for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
    $CALL "$G" traces "$T/c$i.pb" >"$T/c$i.r" 2>&1 &
done
wait_calls() {
    for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
        j=0
        while ! grep -q grpc "$T/c$i.r" 2>/dev/null && [ $j -lt 600 ]; do sleep 0.05; j=$((j + 1)); done
    done
}
wait_calls
L query run=$TR4 -o json --output-fields id >"$T/c.ids"
python3 - "$T" "$TR4" <<'P' || fail "backlog: $(cat "$T"/c*.r)"
import json, os, sys
t, tr = sys.argv[1], sys.argv[2]
have = {json.loads(l)["id"] for l in open(os.path.join(t, "c.ids"))}
oks = thr = 0
for i in range(1, 13):
    r = json.loads(open(os.path.join(t, "c%d.r" % i)).readline())
    ids = {"otlp:%s:%016x" % (tr, i * 1000 + k) for k in range(300)}
    if r["grpc"] == 0:
        oks += 1
        assert ids <= have, "call %d answered OK, spans missing" % i
    else:
        assert r["grpc"] in (8, 14), r
        assert r["retry_s"] in (1, 2, 3), r
        assert not (ids & have), "call %d refused, yet recorded" % i
        thr += 1
assert oks >= 1 and thr >= 1, (oks, thr)
print("backlog: %d answered OK, %d throttled" % (oks, thr))
P
ok "--otlp-backlog 1: UNAVAILABLE/RESOURCE_EXHAUSTED with RetryInfo 1-3 s, acked all there"

# ---------------------------------------- kill -9 during a flood --
# 48 calls of 64 spans at once on one connection (32 open at a time);
# the server killed once the first few are answered
stop_serve
start_serve
TR5=33333333333333333333333333333333
files=""
for i in $(seq 1 48); do
    $GEN batch $TR5 64 "$(printf '%x' $((i * 100)))" | $PB traces >"$T/k$i.pb"
    files="$files${files:+,}$T/k$i.pb"
done
$CALL "$G" traces "$files" >"$T/k.r" 2>&1 &
cp=$!
# (until the first few are answered, however long the client takes to
# start: 60 s is the deadline of that, and its expiry a failure)
answered3() { n=$(grep -c '"grpc":0' "$T/k.r" 2>/dev/null); [ "${n:-0}" -ge 3 ]; }
j=0
while ! answered3 && kill -0 $cp 2>/dev/null && [ $j -lt 3000 ]; do
    sleep 0.02
    j=$((j + 1))
done
answered3 || fail "kill -9: no call answered before the kill: $(cat "$T/k.r")"
kill -9 $SP
wait $SP 2>/dev/null
SP=""
wait $cp
L verify >"$T/v.out" 2>&1 || fail "verify after kill -9: $(cat "$T/v.out")"
L query run=$TR5 -o json --output-fields id >"$T/k.ids"
python3 - "$T" "$TR5" <<'P' || fail "kill -9: $(cat "$T/k.r")"
import json, os, sys
t, tr = sys.argv[1], sys.argv[2]
have = {json.loads(l)["id"] for l in open(os.path.join(t, "k.ids"))}
acked = cut = 0
for l in open(os.path.join(t, "k.r")):
    r = json.loads(l)
    if "i" not in r:
        continue
    if r["grpc"] == 0:
        acked += 1
        i = r["i"] + 1
        ids = {"otlp:%s:%016x" % (tr, i * 100 + k) for k in range(64)}
        assert ids <= have, "call %d answered OK, spans missing" % i
    else:
        cut += 1
assert acked >= 3 and cut >= 1, (acked, cut)
print("kill -9: %d calls acked, all there; %d cut" % (acked, cut))
P
ok "kill -9 during a flood of calls: every span answered OK is there; verify passes"

# ---------------------------------------------------- a unix socket --
: >"$T/s.out"
"$LEDGER" --dir "$D" serve --otlp-grpc "unix:$T/grpc.sock" >"$T/s.out" 2>"$T/s.err" &
SP=$!
i=0
while ! grep -q '^listening on' "$T/s.out" 2>/dev/null && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
grep -q "^otlp-grpc on unix:$T/grpc.sock" "$T/s.out" || fail "unix: $(cat "$T/s.out" "$T/s.err")"
TR6=44444444444444444444444444444444
$GEN batch $TR6 2 1 | $PB traces >"$T/u.pb"
$CALL "unix:$T/grpc.sock" traces "$T/u.pb" >"$T/r" 2>&1
[ "$(field grpc)" = 0 ] && [ "$(L query run=$TR6 -o json | wc -l)" = 2 ] ||
    fail "over a unix socket: $(cat "$T/r")"
L query run=$TR6 -o json >"$T/u.ev"
python3 - "$T/u.ev" <<'P' || fail "sources: $(head -c 600 "$T/u.ev")"
import json, sys
for l in open(sys.argv[1]):
    s = json.loads(l)["source"]
    assert s["exe"].endswith("node") and s["pid"] > 0, s
P
stop_serve
ok "--otlp-grpc unix:PATH: the sender's uid, pid and executable recorded"

[ $fails = 0 ] || { echo "otlp_grpc: $fails failed"; exit 1; }
echo "otlp_grpc: all passed"
