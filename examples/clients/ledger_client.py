#!/usr/bin/env python3
"""ledger_client.py — a client of `ledger serve` in Python with only the
standard library (docs/PROTOCOL.md).

    python3 ledger_client.py SOCKET [N]

Sends N (default 3) x.example.python events with ids, pipelined, reads
their answers in order and prints one line per event: "ID seq N" once it is
durably committed, or "ID error: ..." (exit 65). Run it twice: with the
same ids the server answers with the first seqs and records nothing new.

The class LedgerClient is the part to copy: append() sends a request and
returns at once, wait() returns the next answer as a dict.
"""
import json
import os
import socket
import sys


class LedgerClient:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.rfile = self.sock.makefile("rb")

    def append(self, type_, body, id_=None, time=None, **extra):
        """Sends one event; extra takes subject, run, parent, actor."""
        req = {"type": type_, "body": body}
        req.update(extra)
        if id_ is not None:
            req["id"] = id_
        if time is not None:
            req["time"] = time
        line = json.dumps(req, separators=(",", ":")) + "\n"
        self.sock.sendall(line.encode())

    def wait(self):
        """The next answer: {"id":..., "seq": "N"} or {"error":..., "code":...}.
        Raises ConnectionError if the server closed the connection first."""
        line = self.rfile.readline()
        if not line:
            raise ConnectionError("the server closed the connection")
        return json.loads(line)

    def close(self):
        self.rfile.close()
        self.sock.close()


def main():
    path = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    tag = os.environ.get("CLIENT_TAG", "py")
    c = LedgerClient(path)
    for i in range(n):
        c.append("x.example.python", {"i": i, "lang": "python"},
                 id_="%s-%d" % (tag, i), time="2026-11-22T20:55:01.%03dZ" % i)
    status = 0
    for i in range(n):
        a = c.wait()
        if "seq" in a:
            print("%s seq %s" % (a.get("id"), a["seq"]))
        else:
            print("%s error: %s" % (a.get("id"), a["error"]))
            status = 65
    c.close()
    return status


if __name__ == "__main__":
    sys.exit(main())
