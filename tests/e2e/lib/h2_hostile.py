#!/usr/bin/env python3
"""h2_hostile.py -- HTTP/2 clients no exporter would be, for
tests/e2e/otlp_grpc_hostile.sh: raw frames (HPACK literals, no Huffman),
written from RFC 9113 and RFC 7541, against `ledger serve --otlp-grpc`.

    h2_hostile.py HOST:PORT idle N SECONDS   N connections that send
        nothing; prints "held K of N" once they are up, then "closed C of N
        after S s" as the server closes them (and at the end)
    h2_hostile.py HOST:PORT slow N SECONDS   N calls that send their
        headers and a 5-byte prefix declaring 100 bytes, then one byte
        every 2 s; prints "reset C of N after S s" as the server resets
        or closes them
    h2_hostile.py HOST:PORT flood N          one connection opens N calls
        at once and sends nothing more; prints "refused R, goaway G,
        open O" (streams refused, GOAWAY frames, streams not refused)
    h2_hostile.py HOST:PORT resets N         one connection opens and
        cancels N calls in a row (the "rapid reset" attack); prints
        "goaway CODE after K" or "no goaway"
"""
import socket
import struct
import sys
import time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
PATH = b"/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def frame(typ, flags, sid, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([typ, flags]) + \
        struct.pack(">I", sid) + payload


def lit(name, value):
    assert len(name) < 127 and len(value) < 127
    return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value


def headers(sid, end_stream=False):
    block = (lit(b":method", b"POST") + lit(b":scheme", b"http") +
             lit(b":path", PATH) + lit(b":authority", b"ledger") +
             lit(b"content-type", b"application/grpc") +
             lit(b"te", b"trailers"))
    return frame(1, 0x4 | (0x1 if end_stream else 0), sid, block)


def connect(addr):
    host, port = addr.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=10)
    return s


def hello(s):
    s.sendall(PREFACE + frame(4, 0, 0))


def frames(s, until):
    """Reads frames until the deadline; yields (type, flags, sid, payload),
    or None when the connection ends."""
    buf = b""
    while time.time() < until:
        s.settimeout(max(0.05, until - time.time()))
        try:
            d = s.recv(65536)
        except socket.timeout:
            return
        except OSError:
            yield None
            return
        if not d:
            yield None
            return
        buf += d
        while len(buf) >= 9:
            n = int.from_bytes(buf[:3], "big")
            if len(buf) < 9 + n:
                break
            typ, flags = buf[3], buf[4]
            sid = int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF
            yield typ, flags, sid, buf[9:9 + n]
            buf = buf[9 + n:]


def closed(s):
    s.setblocking(False)
    try:
        while True:
            d = s.recv(65536)
            if not d:
                return True
    except BlockingIOError:
        return False
    except OSError:
        return True


def main():
    addr, mode = sys.argv[1], sys.argv[2]
    if mode == "idle":
        n, secs = int(sys.argv[3]), float(sys.argv[4])
        socks = []
        for _ in range(n):
            try:
                socks.append(connect(addr))
            except OSError:
                pass
        # those over the share are closed at once; on a loaded box "at
        # once" can be seconds: counted until none closed for a second
        t1 = time.time()
        gone, since = 0, time.time()
        while time.time() - t1 < 30 and time.time() - since < 1:
            time.sleep(0.1)
            c = sum(1 for s in socks if closed(s))
            if c != gone:
                gone, since = c, time.time()
        print("held %d of %d" % (len(socks) - gone, n), flush=True)
        t0 = time.time()
        last = gone
        while time.time() - t0 < secs:
            time.sleep(0.5)
            c = sum(1 for s in socks if closed(s))
            if c != last:
                print("closed %d of %d after %.1f s" % (c, n, time.time() - t0),
                      flush=True)
                last = c
        print("closed %d of %d at the end" % (last, n), flush=True)
    elif mode == "slow":
        n, secs = int(sys.argv[3]), float(sys.argv[4])
        socks = []
        for _ in range(n):
            s = connect(addr)
            hello(s)
            s.sendall(headers(1) + frame(0, 0, 1, b"\x00\x00\x00\x00\x64"))
            socks.append(s)
        t0 = time.time()
        reset = set()
        while time.time() - t0 < secs and len(reset) < n:
            for i, s in enumerate(socks):
                if i in reset:
                    continue
                try:
                    s.sendall(frame(0, 0, 1, b"x"))
                except OSError:
                    reset.add(i)
                    continue
                for f in frames(s, time.time() + 0.05):
                    if f is None or f[0] == 3 or f[0] == 7 or \
                            (f[0] == 1 and f[2] == 1):
                        reset.add(i)
                        break
            print("reset %d of %d after %.1f s" % (len(reset), n,
                                                    time.time() - t0),
                  flush=True)
            time.sleep(2)
    elif mode == "flood":
        n = int(sys.argv[3])
        s = connect(addr)
        hello(s)
        out = b"".join(headers(2 * i + 1) for i in range(n))
        s.sendall(out)
        # the frames until none came for 2 s (30 s at most)
        refused = goaway = 0
        end, more = time.time() + 30, True
        while more and time.time() < end:
            more = False
            for f in frames(s, min(end, time.time() + 2)):
                if f is None:
                    break
                more = True
                if f[0] == 3 and f[3][:4] == b"\x00\x00\x00\x07":
                    refused += 1
                elif f[0] == 7:
                    goaway += 1
        print("refused %d, goaway %d, open %d" % (refused, goaway, n - refused))
    elif mode == "resets":
        n = int(sys.argv[3])
        s = connect(addr)
        hello(s)
        sent = 0
        code = None
        try:
            for i in range(n):
                sid = 2 * i + 1
                s.sendall(headers(sid) + frame(3, 0, sid, b"\x00\x00\x00\x08"))
                sent += 1
                if i % 100 == 99:
                    for f in frames(s, time.time() + 0.01):
                        if f is not None and f[0] == 7:
                            code = int.from_bytes(f[3][4:8], "big")
                    if code is not None:
                        break
        except OSError:
            pass
        if code is None:
            for f in frames(s, time.time() + 2):
                if f is not None and f[0] == 7:
                    code = int.from_bytes(f[3][4:8], "big")
                    break
        print("goaway %d after %d" % (code, sent) if code is not None
              else "no goaway after %d" % sent)

main()
