#!/usr/bin/env python3
"""Writes tests/vectors/epoch-v1.txt: the epoch certification tree, its
certs and sub-epoch links and a state file slot (docs/FORMAT.md 5.1),
computed independently of the C code: Python's hashlib and struct, Ed25519
from the cryptography package.

    python3 tests/vectors/epoch-v1.py > tests/vectors/epoch-v1.txt

Seeds: the anchor's is 00 01 .. 1f; every later seed, in the order the
tree asks for them (at each node made: the left child's, then the right
child's; a link's new key), is SHA-256("epoch-vector" || u32be(k)) for
k = 0, 1, 2, ...
"""
import hashlib
import os
import struct

from cryptography.hazmat.primitives.asymmetric.ed25519 import \
    Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (Encoding,
                                                          PublicFormat)

DEPTH = 32
CERT_CTX = b"ledger/epoch-cert/v1\x00"
LINK_CTX = b"ledger/epoch-link/v1\x00"
SEAL_CTX = b"ledger/seal-epoch/v1\x00"
T0 = 1_700_000_000_000_000_000
LEN = 60_000_000_000


class Rng:
    def __init__(self):
        self.k = 0

    def seed(self):
        s = hashlib.sha256(b"epoch-vector" + struct.pack(">I", self.k)).digest()
        self.k += 1
        return s


def key(seed):
    return Ed25519PrivateKey.from_private_bytes(seed)


def pub(seed):
    return key(seed).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def params(anchor):
    return anchor + struct.pack(">QQ", T0, LEN)


def cert_msg(anchor, level, index, left, right):
    return params(anchor) + bytes([level]) + struct.pack(">I", index) + \
        left + right


def link_msg(anchor, period, sub, start, pk):
    return params(anchor) + struct.pack(">IIQ", period, sub, start) + pk


def bit(p, level):
    return (p >> (DEPTH - level)) & 1


def index(p, level):
    return p >> (DEPTH - level) if level else 0


class Tree:
    def __init__(self, anchor_seed, rng):
        self.rng = rng
        self.anchor = pub(anchor_seed)
        self.period, self.sub = 0, 0
        self.pend = [None] * DEPTH
        self.path = [None] * DEPTH
        self.links = []
        self.expand(0, 0, anchor_seed)

    def expand(self, level, p, node_seed):
        for lv in range(level, DEPTH):
            ls, rs = self.rng.seed(), self.rng.seed()
            lp, rp = pub(ls), pub(rs)
            sig = key(node_seed).sign(
                CERT_CTX + cert_msg(self.anchor, lv, index(p, lv), lp, rp))
            self.path[lv] = (lp, rp, sig)
            if bit(p, lv + 1) == 0:
                self.pend[lv] = rs
                node_seed = ls
            else:
                self.pend[lv] = None
                node_seed = rs
        self.cur = node_seed

    def advance(self, ts):
        p = (ts - T0) // LEN
        if p == self.period:
            ns = self.rng.seed()
            sig = key(self.cur).sign(LINK_CTX + link_msg(
                self.anchor, p, self.sub + 1, ts, pub(ns)))
            self.links.append((ts, pub(ns), sig))
            self.sub += 1
            self.cur = ns
            return
        lv = 1
        while bit(self.period, lv) == bit(p, lv):
            lv += 1
        seed = self.pend[lv - 1]
        for m in range(lv, DEPTH + 1):
            self.pend[m - 1] = None
        self.period, self.sub, self.links = p, 0, []
        self.expand(lv, p, seed)

    def slot(self, gen):
        b = bytearray(8192)
        b[0:8] = b"ldgepk01"
        struct.pack_into(">Q", b, 8, gen)
        b[16:48] = self.anchor
        struct.pack_into(">QQII", b, 48, T0, LEN, self.period, self.sub)
        b[72:104] = self.cur
        for i, s in enumerate(self.pend):
            if s is not None:
                b[104 + 32 * i:136 + 32 * i] = s
        for i, (lp, rp, sig) in enumerate(self.path):
            o = 1128 + 128 * i
            b[o:o + 128] = lp + rp + sig
        for i, (st, pk, sig) in enumerate(self.links):
            o = 5224 + 104 * i
            b[o:o + 104] = struct.pack(">Q", st) + pk + sig
        b[6888:6920] = pub(self.cur)
        b[8160:] = hashlib.sha256(bytes(b[:8160])).digest()
        return bytes(b)


def out(k, v):
    print("%s: %s" % (k, v.hex() if isinstance(v, bytes) else v))


def main():
    print("# ledger epoch vectors v1: the certification tree over periods, "
          "certs,")
    print("# sub-epoch links and a state file slot (docs/FORMAT.md 5.1). "
          "Computed")
    print("# independently of the C code by tests/vectors/epoch-v1.py "
          "(hashlib, Ed25519")
    print("# from the cryptography package).")
    t = Tree(bytes(range(32)), Rng())
    out("t0", T0)
    out("len", LEN)
    out("anchor.seed", bytes(range(32)))
    out("anchor.pub", t.anchor)
    out("cert.0.0.msg", cert_msg(t.anchor, 0, 0, t.path[0][0], t.path[0][1]))
    out("cert.0.0.sig", t.path[0][2])
    for lv in range(DEPTH):
        out("p0.cert.%d" % lv, b"".join(t.path[lv]))
    out("p0.key", pub(t.cur))
    out("p0.slot.sha256", hashlib.sha256(t.slot(1)).digest())
    # period 1, then 6 (skipping 2..5), then a sub-epoch of 6
    t.advance(T0 + 1 * LEN + 5)
    out("p1.key", pub(t.cur))
    smap = None
    here = os.path.dirname(os.path.abspath(__file__))
    for line in open(os.path.join(here, "core-v2.txt")):
        if line.startswith("seal.map: "):
            smap = bytes.fromhex(line.split(": ", 1)[1].strip())
    esig = key(t.cur).sign(SEAL_CTX + struct.pack(">II", 1, 0) + smap)
    t.ext1 = struct.pack(">II", 1, 0) + esig + bytes([0, 0]) + \
        b"".join(b"".join(c) for c in t.path)
    out("p1.cert.31", b"".join(t.path[31]))
    t.advance(T0 + 6 * LEN + 7)
    out("p6.key", pub(t.cur))
    for lv in (29, 30, 31):
        out("p6.cert.%d" % lv, b"".join(t.path[lv]))
    start = T0 + 6 * LEN + 30_000_000_000
    t.advance(start)
    lk = t.links[0]
    out("p6.1.start", start)
    out("p6.1.msg", link_msg(t.anchor, 6, 1, start, lk[1]))
    out("p6.1.link", struct.pack(">Q", lk[0]) + lk[1] + lk[2])
    out("p6.1.key", pub(t.cur))
    slot = t.slot(7)
    out("p6.1.slot", slot)
    # epoch seals (FORMAT.md 5.1): core-v2's seal map sealed under epoch
    # 1.0 as the key's first epoch seal (all 32 certs), then under 6.1
    # (the certs of levels 30 and 31, where the paths to 1 and 6 part,
    # and link 1)
    here = os.path.dirname(os.path.abspath(__file__))
    smap = None
    for line in open(os.path.join(here, "core-v2.txt")):
        if line.startswith("seal.map: "):
            smap = bytes.fromhex(line.split(": ", 1)[1].strip())
    out("seal.map", smap)
    out("seal.ext.1.0", t.ext1)
    esig = key(t.cur).sign(SEAL_CTX + struct.pack(">II", 6, 1) + smap)
    ext = struct.pack(">II", 6, 1) + esig + bytes([30, 0])
    for lv in (30, 31):
        ext += b"".join(t.path[lv])
    for st, pk, sig in t.links:
        ext += struct.pack(">Q", st) + pk + sig
    out("seal.ext.6.1", ext)
    # the epoch signature stands in place of the key's own
    rec = bytes([0x93]) + smap + b"\xc5" + struct.pack(">H", len(ext)) + ext
    out("seal.record.6.1", rec)
    # a horizon record's "epoch" (FORMAT.md 6.2), as a key-map holds it:
    # the key anchored at event 3, its chain at epoch 6.1 kept whole (the
    # 32 certs of the path to 6, link 1) with a zero signature
    whole = struct.pack(">II", 6, 1) + bytes(64) + bytes([0, 0])
    whole += b"".join(b"".join(c) for c in t.path)
    for st, pk, sig in t.links:
        whole += struct.pack(">Q", st) + pk + sig
    v = t.anchor + struct.pack(">QQQ", T0, LEN, 3) + whole
    out("horizon.epoch.6.1",
        b"\xa5epoch\xc5" + struct.pack(">H", len(v)) + v)


main()
