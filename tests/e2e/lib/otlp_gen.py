#!/usr/bin/env python3
"""otlp_gen.py -- OTLP/JSON export requests for the end-to-end tests.

    otlp_gen.py agent TRACE          an agent's trace: an invoke_agent span, a
                                     chat span (with a prompt, which must not
                                     be recorded), a tool span that failed
    otlp_gen.py batch TRACE N FIRST  N chat spans, span ids FIRST.. (hex)
    otlp_gen.py big TRACE            one span whose event is over the
                                     ledger's body limit, one that is not
    otlp_gen.py logs TRACE           two log records: a log line and a GenAI
                                     event whose body is content
    otlp_gen.py tree TRACE           an agent's turn, sent out of order:
                                     invoke_agent > chat, execute_tool (> an
                                     HTTP client span), chat

Times are now; ids are the given trace and span ids counted from 1.
"""
import json
import sys
import time

NOW = time.time_ns()


def kv(k, v):
    if isinstance(v, bool):
        return {"key": k, "value": {"boolValue": v}}
    if isinstance(v, int):
        return {"key": k, "value": {"intValue": str(v)}}
    return {"key": k, "value": {"stringValue": v}}


def span(trace, sid, name, attrs, parent=None, start=0, dur=1_000_000, **kw):
    s = {
        "traceId": trace,
        "spanId": "%016x" % sid,
        "name": name,
        "kind": kw.pop("kind", 1),
        "startTimeUnixNano": str(NOW - 10_000_000_000 + start),
        "endTimeUnixNano": str(NOW - 10_000_000_000 + start + dur),
        "attributes": attrs,
    }
    if parent:
        s["parentSpanId"] = "%016x" % parent
    s.update(kw)
    return s


def request(spans, service="agent"):
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": [kv("service.name", service)]},
                "scopeSpans": [{"scope": {"name": "e2e"}, "spans": spans}],
            }
        ]
    }


def chat(trace, sid, parent=None, start=0, model="llama3:8b"):
    return span(
        trace, sid, "chat " + model,
        [kv("gen_ai.operation.name", "chat"),
         kv("gen_ai.request.model", model),
         kv("gen_ai.response.model", model),
         kv("gen_ai.provider.name", "ollama"),
         kv("gen_ai.usage.input_tokens", 11),
         kv("gen_ai.usage.output_tokens", 7),
         kv("gen_ai.input.messages", "SECRET-PROMPT")],
        parent=parent, start=start, dur=250_000_000, kind=3)


def main():
    what, trace = sys.argv[1], sys.argv[2]
    if what == "agent":
        spans = [
            span(trace, 1, "invoke_agent planner",
                 [kv("gen_ai.operation.name", "invoke_agent"),
                  kv("gen_ai.agent.name", "planner")], dur=3_000_000_000),
            chat(trace, 2, parent=1, start=100_000_000),
            span(trace, 3, "execute_tool get_weather",
                 [kv("gen_ai.operation.name", "execute_tool"),
                  kv("gen_ai.tool.name", "get_weather"),
                  kv("error.type", "timeout"),
                  kv("gen_ai.tool.call.arguments", "SECRET-ARGS")],
                 parent=1, start=500_000_000, dur=2_000_000_000,
                 status={"code": 2, "message": "SECRET-ERROR-TEXT"}),
        ]
        out = request(spans)
    elif what == "tree":
        ms = 1_000_000
        spans = [
            span(trace, 1, "invoke_agent planner",
                 [kv("gen_ai.operation.name", "invoke_agent"),
                  kv("gen_ai.agent.name", "planner")], dur=3000 * ms),
            chat(trace, 2, parent=1, start=100 * ms),
            span(trace, 3, "execute_tool get_weather",
                 [kv("gen_ai.operation.name", "execute_tool"),
                  kv("gen_ai.tool.name", "get_weather")],
                 parent=1, start=400 * ms, dur=300 * ms),
            span(trace, 5, "GET", [kv("http.request.method", "GET")],
                 parent=3, start=450 * ms, dur=200 * ms, kind=3),
            chat(trace, 4, parent=1, start=800 * ms),
        ]
        out = request([spans[4], spans[2], spans[0], spans[3], spans[1]])
    elif what == "batch":
        n, first = int(sys.argv[3]), int(sys.argv[4], 16)
        out = request([chat(trace, first + i, start=i * 1000) for i in range(n)])
    elif what == "big":
        # 20 values of 60,000 bytes: each under the receiver's value limit,
        # together over the ledger's body limit (1 MiB)
        attrs = [kv("blob.%d" % i, "x" * 60000) for i in range(20)]
        out = request([span(trace, 1, "too big", attrs),
                       span(trace, 2, "fine", [kv("a", "b")])])
    elif what == "logs":
        out = {"resourceLogs": [{
            "resource": {"attributes": [kv("service.name", "agent")]},
            "scopeLogs": [{"scope": {"name": "e2e"}, "logRecords": [
                {"timeUnixNano": str(NOW - 1_000_000_000), "severityNumber": 9,
                 "severityText": "INFO", "body": {"stringValue": "tool ran"},
                 "traceId": trace, "spanId": "%016x" % 3},
                {"timeUnixNano": str(NOW - 900_000_000),
                 "eventName": "gen_ai.user.message", "traceId": trace,
                 "body": {"kvlistValue": {"values": [
                     kv("content", "SECRET-LOG-PROMPT")]}}},
            ]}]}]}
    else:
        sys.exit("otlp_gen.py: unknown request " + what)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
