#!/usr/bin/env python3
"""notify_sink.py SOCKET OUT — a stand-in for systemd's notification socket
(sd_notify(3)) for the e2e tests: binds a Unix datagram socket at SOCKET
and appends every message it receives to OUT, one field (READY=1,
STATUS=..., STOPPING=1, ...) a line, each message followed by a line "--".
Runs until killed, or for 600 s at most."""
import os
import socket
import sys
import time

path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
s.settimeout(1.0)
end = time.time() + 600
open(out, "a").close()
while time.time() < end:
    try:
        msg = s.recv(65536)
    except socket.timeout:
        continue
    with open(out, "a") as f:
        f.write(msg.decode("utf-8", "replace").rstrip("\n") + "\n--\n")
