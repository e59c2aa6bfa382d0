#!/bin/sh
# otlp_proto_fresh.sh — otlp/otlp.pb-c.[ch] (committed) are what protoc-c
# makes of otlp/otlp.proto (`make proto`), and the schema's field numbers
# are the OTLP specification's for the fields the receiver reads (a
# renumbered field would still compile, and read nothing).
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d "${LEDGER_TEST_TMP:-${TMPDIR:-/tmp}}/otlp_proto_fresh.XXXXXX") ||
    exit 1
trap 'rm -rf "$T"' EXIT
fails=0
ok() { printf 'ok   %s\n' "$1"; }
bad() { printf 'FAIL %s\n' "$1"; fails=$((fails + 1)); }
cd "$ROOT" || exit 1
if ! command -v protoc-c >/dev/null 2>&1; then
    echo "FAIL: protoc-c is not installed (protobuf-c-compiler; setup.sh installs it)"
    exit 1
fi
cp otlp/otlp.proto "$T/"
(cd "$T" && protoc-c --c_out=. otlp.proto) || { echo "FAIL: protoc-c"; exit 1; }
for f in otlp.pb-c.c otlp.pb-c.h; do
    if cmp -s "$T/$f" "otlp/$f"; then
        ok "otlp/$f is fresh"
    else
        bad "otlp/$f is stale (make proto): $(diff "$T/$f" "otlp/$f" | head -n 4 | tr '\n' ' ')"
    fi
done
# message.field = number, from the specification (opentelemetry-proto
# v1.x: common, resource, trace, logs, collector; google.rpc.Status)
while read -r msg field num; do
    got=$(awk -v m="$msg" -v f="$field" '
        $1 == "message" { depth++; name[depth] = $2; next }
        $1 == "oneof" { depth++; name[depth] = name[depth - 1]; next }
        $1 == "enum" { depth++; name[depth] = ""; next }
        /^ *}/ { if (depth > 0) depth--; next }
        depth > 0 && name[depth] == m && $0 ~ "[ ]" f " = " {
            sub(/.* = /, ""); sub(/;.*/, ""); print; exit }' otlp/otlp.proto)
    [ "$got" = "$num" ] || bad "$msg.$field is $got, the specification's is $num"
done <<'F'
AnyValue string_value 1
AnyValue bool_value 2
AnyValue int_value 3
AnyValue double_value 4
AnyValue array_value 5
AnyValue kvlist_value 6
AnyValue bytes_value 7
KeyValue key 1
KeyValue value 2
Resource attributes 1
ResourceSpans resource 1
ResourceSpans scope_spans 2
ScopeSpans scope 1
ScopeSpans spans 2
Span trace_id 1
Span span_id 2
Span parent_span_id 4
Span name 5
Span kind 6
Span start_time_unix_nano 7
Span end_time_unix_nano 8
Span attributes 9
Span events 11
Span status 15
Event time_unix_nano 1
Event name 2
Event attributes 3
Status message 2
Status code 3
ResourceLogs scope_logs 2
ScopeLogs log_records 2
LogRecord time_unix_nano 1
LogRecord observed_time_unix_nano 11
LogRecord severity_number 2
LogRecord severity_text 3
LogRecord body 5
LogRecord attributes 6
LogRecord trace_id 9
LogRecord span_id 10
LogRecord event_name 12
ExportTraceServiceRequest resource_spans 1
ExportTraceServiceResponse partial_success 1
ExportTracePartialSuccess rejected_spans 1
ExportTracePartialSuccess error_message 2
ExportLogsServiceRequest resource_logs 1
ExportLogsPartialSuccess rejected_log_records 1
RpcStatus code 1
RpcStatus message 2
F
[ $fails = 0 ] && ok "field numbers are the specification's"
[ $fails = 0 ] || exit 1
