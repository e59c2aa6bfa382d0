#!/usr/bin/env python3
"""flip_sweep.py LEDGER DIR FLIPS SEED [DB_PREFIX...] — damages one bit at
a time in the pages of each LMDB database of the ledger DIR (its
data.mdb, pages found by lmdb_pages.py), FLIPS flips a database at seeded
offsets inside the page's header, pointers and records (not the free gap
between them), and for each runs `verify --full` on a copy. The rule of
issue 31: when verify --full says ok, every answer the ledger gives from
its stored bytes is the undamaged ledger's (query, show, proof, tiles and
every projection view, the signed projection notes); otherwise it exits 1
naming what it found. Exit by a signal or with another code is a failure
too. The doctor may differ only by failing its projections-current clause
(it names the damaged state, which `ledger projections` then lists, and
computes its answers from the log).

Prints one line per database: "DB: N flips, K caught by verify, S ok with
the same answers"; then "FAIL ..." lines; exits 1 if any."""
import hashlib
import json
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import tempfile

L, SRC, FLIPS, SEED = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
WANT = sys.argv[5:]
KEEP = os.environ.get("FLIP_KEEP")  # a directory for the damaged files
HERE = os.path.dirname(os.path.abspath(__file__))
T = tempfile.mkdtemp(prefix="flip_sweep.")
D = os.path.join(T, "l")
BASE = open(os.path.join(SRC, "data.mdb"), "rb").read()


def fresh(data):
    shutil.rmtree(D, ignore_errors=True)
    shutil.copytree(SRC, D)
    for f in ("lock.mdb",):
        if os.path.exists(os.path.join(D, f)):
            os.remove(os.path.join(D, f))
    with open(os.path.join(D, "data.mdb"), "wb") as f:
        f.write(data)


def run(args):
    try:
        p = subprocess.run([L, "--dir", D] + args, capture_output=True,
                           timeout=60, env=dict(os.environ, NO_COLOR="1"))
    except subprocess.TimeoutExpired:
        return -1, b"timeout", b""
    return p.returncode, p.stdout, p.stderr


def tiles():
    out = os.path.join(T, "tiles")
    shutil.rmtree(out, ignore_errors=True)
    rc, _o, _e = run(["tiles", out])
    h = hashlib.sha256()
    if rc == 0:
        for root, _d, files in sorted(os.walk(out)):
            for f in sorted(files):
                p = os.path.join(root, f)
                h.update(p[len(out):].encode())
                h.update(open(p, "rb").read())
    return rc, h.hexdigest()


VIEWS = ["packs", "permissions", "models", "routes", "promotions", "runs",
         "plans", "memory"]


def answers():
    """Every answer (exit code and stdout) the ledger gives, by name."""
    a = {}
    rc, out, _e = run(["stats", "-o", "json"])
    n = json.loads(out)["events"] if rc == 0 else 0
    a["query"] = run(["query", "-o", "json"])[:2]
    a["query type"] = run(["query", "-o", "json", "type=run.started"])[:2]
    # each index: a subject glob (the values, then each one's events), a
    # run, an actor, newest first; and a time window
    a["query subject"] = run(["query", "-o", "json", "-r", "subject=*:*1*"])[:2]
    a["query run"] = run(["query", "-o", "json", "run=r-7", "+", "run=R-0001"])[:2]
    a["query actor"] = run(["query", "-o", "json", "-n", "50", "actor=log"])[:2]
    # ix.body (when current): indexed body fields, as query plans them
    a["query body"] = run(["query", "-o", "json", "-n", "all",
                           "body.decision=allow", "+", "body.outcome=ok",
                           "+", "body.status=failed"])[:2]
    a["show"] = [run(["show", str(s), "-o", "json"])[:2]
                 for s in sorted({0, n // 3, n // 2, n - 1} if n else set())]
    times = []
    for rc_s, out_s in a["show"]:
        try:
            times.append(json.loads(out_s)["time"] if rc_s == 0 else None)
        except (ValueError, KeyError):
            times.append(None)
    if len(times) == 4 and times[1] and times[2]:
        a["query window"] = run(["query", "-o", "json", "-n", "all", "-S",
                                 times[1], "-U", times[2]])[:2]
    a["proof"] = [run(["proof", str(s)])[:2] for s in range(0, n, 5)]
    a["consistency"] = run(["proof", "--consistency", "3"])[:2]
    a["tiles"] = tiles()
    for v in VIEWS:
        a[v] = run([v, "-o", "json"])[:2]
    a["doctor"] = doctor()
    a["projections"] = run(["projections", "-o", "json"])[:2]
    return a


def doctor():
    """The doctor's answer without what changes by itself (the time of the
    last verification, the free disk space, other processes' snapshots,
    the device's bytes written, how long ago an epoch began)."""
    rc, out, _e = run(["doctor", "-o", "json"])
    try:
        d = json.loads(out)
    except ValueError:
        return rc, out
    d["box"] = [c for c in d.get("box", [])
                if c.get("name") not in ("chain-verified", "disk-headroom",
                                         "snapshots-held", "storage-wear",
                                         "epoch-exposure")]
    d.pop("verdict", None)
    # the free space measured now, wherever a clause quotes it
    return rc, json.loads(re.sub(r"[0-9.]+ [KMGTP]?i?B free \([0-9.]+%\)",
                                 "N free", json.dumps(d)))


def doctor_names_projections(d, r):
    """d, the damaged ledger's doctor, differs from r only in failing
    projections-current."""
    if not isinstance(d, dict) or not isinstance(r, dict):
        return False
    pick = [c for c in d["box"] if c.get("name") == "projections-current"]
    if not pick or pick[0].get("status") == "ok":
        return False
    strip = lambda x: dict(x, box=[c for c in x["box"]
                                   if c.get("name") != "projections-current"])
    return strip(d) == strip(r)


def pages():
    out = subprocess.run([sys.executable, os.path.join(HERE, "lmdb_pages.py"),
                          os.path.join(SRC, "data.mdb")],
                         capture_output=True, text=True, check=True).stdout
    by = {}
    for line in out.splitlines():
        name, kind, pg = line.split()
        by.setdefault(name, []).append((int(pg), kind))
    return by


def used(pg, kind):
    """Offsets of page pg that hold something: header and pointers
    (16..lower) and the records (upper..end); an overflow page (a big
    value: a tile of the Merkle tree, a large body) whole."""
    o = pg * 4096
    if kind == "overflow":
        return list(range(o, o + 4096))
    lower, upper = struct.unpack_from("<HH", BASE, o + 12)
    return list(range(o, o + lower)) + list(range(o + upper, o + 4096))


fails = []
fresh(BASE)
rc, _o, err = run(["verify", "--full"])
if rc != 0:
    print("FAIL the undamaged ledger does not verify:", err.decode())
    sys.exit(1)
ref = answers()
rng = random.Random(SEED)
for name, pgs in sorted(pages().items()):
    if WANT and not any(name.startswith(w) for w in WANT):
        continue
    offs = [x for pg, kind in pgs for x in used(pg, kind)]
    caught = same = 0
    for _ in range(FLIPS):
        off = rng.choice(offs)
        bit = rng.randrange(8)
        b = bytearray(BASE)
        b[off] ^= 1 << bit
        fresh(bytes(b))
        rc, _o, err = run(["verify", "--full"])
        where = "%s: bit %d of byte %d" % (name, bit, off)
        if rc == 1:
            if not any(w in err for w in (b"FAILED", b"corrupt",
                                          b"cannot open the ledger")):
                fails.append("%s: verify exit 1 without a finding: %r" %
                             (where, err[:200]))
            caught += 1
            continue
        if rc != 0:
            fails.append("%s: verify exit %d: %r" % (where, rc, err[:200]))
            if KEEP:
                shutil.copy(os.path.join(D, "data.mdb"),
                            os.path.join(KEEP, "%s-%d-%d.mdb" % (name, off, bit)))
            continue
        got = answers()
        if KEEP and [k for k in ref if got.get(k) != ref[k]]:
            shutil.copy(os.path.join(D, "data.mdb"),
                        os.path.join(KEEP, "%s-%d-%d.mdb" % (name, off, bit)))
        diff = [k for k in ref if got.get(k) != ref[k]]
        if diff in (["doctor"], ["doctor", "projections"]) and \
                doctor_names_projections(got["doctor"][1], ref["doctor"][1]):
            # the doctor fails projections-current, naming the stored state
            # (which `projections` lists) that the answers did not use
            diff = []
        if diff:
            fails.append("%s: verify --full said ok, but %s answered "
                         "otherwise" % (where, ", ".join(diff)))
        else:
            same += 1
    print("%s: %d flips, %d caught by verify, %d ok with the same answers"
          % (name, FLIPS, caught, same), flush=True)
shutil.rmtree(T, ignore_errors=True)
for f in fails:
    print("FAIL", f)
sys.exit(1 if fails else 0)
