#!/usr/bin/env python3
"""serve_probe.py SOCKET MODE [ARGS] — clients of `ledger serve` for the
e2e tests (standard library only). Each mode prints what it saw as lines the
shell test checks, and exits 0 unless the socket misbehaved.

  lines              send stdin's lines on one connection, print the answers
  many CLIENTS N     CLIENTS connections each send N events (ids c<k>-<i>)
                     and read their acks; prints "acks K" and checks per
                     client that seqs increase; writes "id seq" lines to
                     the file in $PROBE_ACKS if set
  bigline MB         one line of MB megabytes, then a good line; prints
                     both answers
  midline            sends half a line and disconnects
  noread N           sends N events and never reads; prints "dropped"
                     when the server closes on it
  idle N             opens N connections and holds them while another
                     client appends one event; prints its answer
  conns N            opens N connections; prints the first line (if any)
                     each of them gets within 0.5 s
  drain N            sends N events, prints "sent", reads every answer until
                     EOF; prints "acks K errors E eof", the acks ("ID SEQ")
                     on stderr
  stream K START N ACKS   K clients each send i = START.. START+N-1 and
                     append "k i seq" to ACKS per ack, until done or cut off
  crashcheck ACKS    reads `ledger query -o json type=x.crash` on stdin:
                     every acked event stored once at its seq, in order
  check ACKS PREFIX  reads `ledger query -o json` on stdin: each acked id
                     PREFIX<i> at SEQ is the stored event SEQ with body i,
                     stored once
"""
import json
import os
import resource
import socket
import sys
import threading
import time


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s


def ev(i, cid=None, kind="x.serve"):
    d = {"type": kind, "body": {"i": i}}
    if cid is not None:
        d["id"] = cid
    return (json.dumps(d, separators=(",", ":")) + "\n").encode()


def mode_lines(path):
    s = connect(path)
    f = s.makefile("rb")
    data = sys.stdin.buffer.read()
    s.sendall(data)
    n = sum(1 for ln in data.split(b"\n") if ln.strip())
    for _ in range(n):
        line = f.readline()
        if not line:
            print("EOF")
            return 1
        sys.stdout.write(line.decode())
    return 0


def mode_many(path, clients, n):
    out = {}
    errs = []

    def client(k):
        try:
            s = connect(path)
            f = s.makefile("rb")
            payload = b"".join(ev(i, "c%d-%d" % (k, i)) for i in range(n))
            w = threading.Thread(target=s.sendall, args=(payload,))
            w.start()
            got = []
            for i in range(n):
                a = json.loads(f.readline())
                if a.get("id") != "c%d-%d" % (k, i) or "seq" not in a:
                    errs.append("client %d answer %d: %r" % (k, i, a))
                    return
                got.append((a["id"], int(a["seq"])))
            w.join()
            s.close()
            out[k] = got
        except Exception as e:  # noqa: BLE001
            errs.append("client %d: %s" % (k, e))

    ts = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errs:
        print("\n".join(errs))
        return 1
    total = 0
    for k, got in out.items():
        seqs = [q for _, q in got]
        if seqs != sorted(seqs) or len(set(seqs)) != len(seqs):
            print("client %d: seqs out of order" % k)
            return 1
        total += len(got)
    allseq = [q for got in out.values() for _, q in got]
    if len(set(allseq)) != len(allseq):
        print("a seq was given twice")
        return 1
    if os.environ.get("PROBE_ACKS"):
        with open(os.environ["PROBE_ACKS"], "w") as fh:
            for got in out.values():
                for i, q in got:
                    fh.write("%s %d\n" % (i, q))
    print("acks %d" % total)
    return 0


def mode_bigline(path, mb):
    s = connect(path)
    f = s.makefile("rb")
    chunk = b"x" * (1 << 20)
    s.sendall(b'{"type":"x.big","body":{"s":"')
    for _ in range(mb):
        s.sendall(chunk)
    s.sendall(b'"}}\n')
    s.sendall(ev(1, "after-big"))
    print(f.readline().decode().strip())
    print(f.readline().decode().strip())
    return 0


def mode_midline(path):
    s = connect(path)
    s.sendall(b'{"type":"x.mid","body":{"i":')
    s.close()
    print("closed")
    return 0


def mode_noread(path, n):
    s = connect(path)
    s.settimeout(60)
    # long ids make long answers: the unread ones fill the server's
    # buffer for this client sooner
    payload = b"".join(ev(i, "%0128d" % i) for i in range(n))
    try:
        s.sendall(payload)
        # keep the connection open without reading until the server
        # closes it
        s.shutdown(socket.SHUT_WR)
        deadline = time.time() + 60
        while time.time() < deadline:
            time.sleep(0.2)
            # peek at whether the server closed its side: MSG_PEEK on a
            # full buffer says nothing, so look for a reset on a tiny
            # write instead... a shut write side cannot write: poll HUP
            import select
            p = select.poll()
            p.register(s, select.POLLHUP | select.POLLERR)
            if p.poll(0):
                print("dropped")
                return 0
    except (BrokenPipeError, ConnectionResetError):
        print("dropped")
        return 0
    print("not dropped")
    return 0


def mode_idle(path, n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 64), hard))
    held = [connect(path) for _ in range(n)]
    s = connect(path)
    f = s.makefile("rb")
    s.sendall(ev(7, "among-idle"))
    print(f.readline().decode().strip())
    for h in held:
        h.close()
    return 0


def mode_conns(path, n):
    held = [connect(path) for _ in range(n)]
    for h in held:
        h.settimeout(0.5)
        try:
            line = h.makefile("rb").readline().decode().strip()
        except socket.timeout:
            line = ""
        print(line if line else "(open)")
    return 0


def mode_drain(path, n):
    s = connect(path)
    f = s.makefile("rb")
    s.sendall(b"".join(ev(i, "d-%d" % i, "x.drain") for i in range(n)))
    print("sent", flush=True)
    acks = errors = 0
    while True:
        line = f.readline()
        if not line:
            break
        a = json.loads(line)
        if "seq" in a:
            acks += 1
            sys.stderr.write("%s %s\n" % (a["id"], a["seq"]))
        else:
            errors += 1
    print("acks %d errors %d eof" % (acks, errors))
    return 0


def mode_check(path, ackfile, prefix):
    """Reads `ledger query -o json` on stdin; every "ID SEQ" line of
    ackfile (ids PREFIX<i>) must be the stored event SEQ with body i,
    and no i may be stored twice."""
    stored = {}
    seen = {}
    for line in sys.stdin:
        e = json.loads(line)
        i = e.get("body", {}).get("i")
        stored[int(e["seq"])] = i
        seen[i] = seen.get(i, 0) + 1
    bad = 0
    n = 0
    for line in open(ackfile):
        ident, q = line.split()
        i = int(ident[len(prefix):])
        n += 1
        if stored.get(int(q)) != i:
            print("acked %s at %s: stored %r" % (ident, q, stored.get(int(q))))
            bad += 1
        elif seen[i] != 1:
            print("acked %s stored %d times" % (ident, seen[i]))
            bad += 1
    print("checked %d bad %d" % (n, bad))
    return 1 if bad else 0


def mode_stream(path, clients, start, n, ackfile):
    """CLIENTS connections; client k sends events i = start ..
    start+n-1 (id c<k>-<i>, type x.crash, body {"c":k,"i":i}) pipelined,
    and "k i seq" goes to ackfile for each ack as it comes (flushed),
    until all are answered or the server goes away. Prints "acked N"."""
    lock = threading.Lock()
    out = open(ackfile, "a")
    total = [0]
    bad = []

    def client(k):
        try:
            s = connect(path)
        except OSError:
            return
        f = s.makefile("rb")
        payload = b"".join(
            (json.dumps({"type": "x.crash", "body": {"c": k, "i": i},
                         "id": "c%d-%d" % (k, i)},
                        separators=(",", ":")) + "\n").encode()
            for i in range(start, start + n))

        def feed():
            try:
                s.sendall(payload)
            except OSError:
                pass

        threading.Thread(target=feed, daemon=True).start()
        for i in range(start, start + n):
            try:
                line = f.readline()
            except OSError:
                break
            if not line:
                break
            a = json.loads(line)
            if a.get("id") != "c%d-%d" % (k, i):
                bad.append("answer out of order: %r for i=%d" % (a, i))
                return
            if "seq" in a:
                with lock:
                    out.write("%d %d %s %d\n" % (k, i, a["seq"],
                                                 a.get("duplicate") is True))
                    out.flush()
                    total[0] += 1

    ts = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    out.close()
    if bad:
        print("\n".join(bad))
        return 1
    print("acked %d" % total[0])
    return 0


def mode_crashcheck(path, ackfile):
    """Reads `ledger query -o json type=x.crash` on stdin. Every acked
    "k i seq dup" of ackfile is the stored event seq with body {c:k, i:i},
    stored exactly once; per client, acked seqs increase with i; an event
    acked again (sent again with its id) is answered with the same seq and
    "duplicate":true; no event is stored twice."""
    where = {}
    count = {}
    for line in sys.stdin:
        e = json.loads(line)
        key = (e["body"]["c"], e["body"]["i"])
        where[key] = int(e["seq"])
        count[key] = count.get(key, 0) + 1
    last = {}
    seen = {}
    n = bad = redone = 0
    for line in open(ackfile):
        k, i, q, d = (int(x) for x in line.split())
        n += 1
        if (k, i) in seen:
            redone += 1
            if seen[(k, i)] != q or not d:
                print("c%d i=%d acked at %d, sent again: seq %d duplicate %d"
                      % (k, i, seen[(k, i)], q, d))
                bad += 1
        seen[(k, i)] = q
        if where.get((k, i)) != q:
            print("acked c%d i=%d at seq %d: stored at %r" %
                  (k, i, q, where.get((k, i))))
            bad += 1
        elif count[(k, i)] != 1:
            print("acked c%d i=%d stored %d times" % (k, i, count[(k, i)]))
            bad += 1
        if k in last and last[k][0] < i and last[k][1] >= q:
            print("client %d: i=%d at %d after i=%d at %d" %
                  (k, i, q, last[k][0], last[k][1]))
            bad += 1
        last[k] = (i, q)
    dup = sum(1 for v in count.values() if v > 1)
    if dup:
        print("%d events stored more than once" % dup)
        bad += 1
    print("acked %d stored %d duplicates %d acked again %d bad %d" %
          (n, len(where), dup, redone, bad))
    return 1 if bad else 0


def main():
    path, mode = sys.argv[1], sys.argv[2]
    if mode == "check":
        return mode_check(path, sys.argv[3], sys.argv[4])
    if mode == "stream":
        return mode_stream(path, int(sys.argv[3]), int(sys.argv[4]),
                           int(sys.argv[5]), sys.argv[6])
    if mode == "crashcheck":
        return mode_crashcheck(path, sys.argv[3])
    args = [int(a) for a in sys.argv[3:]]
    fn = {
        "lines": mode_lines,
        "many": mode_many,
        "bigline": mode_bigline,
        "midline": mode_midline,
        "noread": mode_noread,
        "idle": mode_idle,
        "conns": mode_conns,
        "drain": mode_drain,
    }[mode]
    return fn(path, *args)


if __name__ == "__main__":
    sys.exit(main())
