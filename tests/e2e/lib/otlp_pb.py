#!/usr/bin/env python3
"""otlp_pb.py -- turns an OTLP/JSON export request into its protobuf bytes,
for the end-to-end tests and the fuzz seeds (tests/e2e/otlp_*.sh).

A test-side encoder of the few messages the receiver reads (otlp/otlp.proto),
written from the protobuf wire format: it lets a test send the same request
in both encodings and compare what the ledger recorded. The real exporters
(tests/e2e/otlp_npm.sh) are what prove the receiver reads what SDKs send.

    python3 otlp_pb.py traces|logs < request.json > request.pb
"""
import base64
import json
import struct
import sys


def varint(n):
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def key(field, wt):
    return varint(field << 3 | wt)


def ld(field, data):
    return key(field, 2) + varint(len(data)) + data


def u64(v):
    return int(v) if v is not None else 0


def any_value(v):
    if v is None:
        return b""
    if "stringValue" in v:
        return ld(1, v["stringValue"].encode())
    if "boolValue" in v:
        return key(2, 0) + varint(1 if v["boolValue"] else 0)
    if "intValue" in v:
        return key(3, 0) + varint(int(v["intValue"]))
    if "doubleValue" in v:
        return key(4, 1) + struct.pack("<d", float(v["doubleValue"]))
    if "arrayValue" in v:
        vals = v["arrayValue"].get("values", [])
        return ld(5, b"".join(ld(1, any_value(x)) for x in vals))
    if "kvlistValue" in v:
        vals = v["kvlistValue"].get("values", [])
        return ld(6, b"".join(ld(1, key_value(x)) for x in vals))
    if "bytesValue" in v:
        return ld(7, base64.b64decode(v["bytesValue"]))
    return b""


def key_value(kv):
    out = ld(1, kv["key"].encode())
    if kv.get("value") is not None:
        out += ld(2, any_value(kv["value"]))
    return out


def attrs(field, obj):
    return b"".join(ld(field, key_value(kv)) for kv in obj.get("attributes", []))


def hexid(field, s):
    return ld(field, bytes.fromhex(s)) if s else b""


def fixed64(field, v):
    return key(field, 1) + struct.pack("<Q", u64(v)) if v else b""


def resource(r):
    return ld(1, attrs(1, r)) if r is not None else b""


def scope(s):
    if s is None:
        return b""
    out = ld(1, s.get("name", "").encode()) if s.get("name") else b""
    if s.get("version"):
        out += ld(2, s["version"].encode())
    return ld(1, out)


def span(s):
    out = hexid(1, s.get("traceId")) + hexid(2, s.get("spanId"))
    out += hexid(4, s.get("parentSpanId"))
    if s.get("name"):
        out += ld(5, s["name"].encode())
    if s.get("kind"):
        out += key(6, 0) + varint(s["kind"])
    out += fixed64(7, s.get("startTimeUnixNano"))
    out += fixed64(8, s.get("endTimeUnixNano"))
    out += attrs(9, s)
    for e in s.get("events", []):
        ev = fixed64(1, e.get("timeUnixNano")) + ld(2, e.get("name", "").encode())
        ev += attrs(3, e)
        out += ld(11, ev)
    st = s.get("status")
    if st:
        sb = ld(2, st["message"].encode()) if st.get("message") else b""
        if st.get("code"):
            sb += key(3, 0) + varint(st["code"])
        out += ld(15, sb)
    return out


def log_record(r):
    out = fixed64(1, r.get("timeUnixNano")) + fixed64(11, r.get("observedTimeUnixNano"))
    if r.get("severityNumber"):
        out += key(2, 0) + varint(r["severityNumber"])
    if r.get("severityText"):
        out += ld(3, r["severityText"].encode())
    if r.get("body") is not None:
        out += ld(5, any_value(r["body"]))
    out += attrs(6, r)
    out += hexid(9, r.get("traceId")) + hexid(10, r.get("spanId"))
    if r.get("eventName"):
        out += ld(12, r["eventName"].encode())
    return out


def request(kind, req):
    out = b""
    if kind == "traces":
        for rs in req.get("resourceSpans", []):
            b = resource(rs.get("resource"))
            for ss in rs.get("scopeSpans", []):
                sb = scope(ss.get("scope"))
                sb += b"".join(ld(2, span(s)) for s in ss.get("spans", []))
                b += ld(2, sb)
            out += ld(1, b)
    else:
        for rl in req.get("resourceLogs", []):
            b = resource(rl.get("resource"))
            for sl in rl.get("scopeLogs", []):
                sb = scope(sl.get("scope"))
                sb += b"".join(ld(2, log_record(r)) for r in sl.get("logRecords", []))
                b += ld(2, sb)
            out += ld(1, b)
    return out


if __name__ == "__main__":
    sys.stdout.buffer.write(request(sys.argv[1], json.load(sys.stdin)))
