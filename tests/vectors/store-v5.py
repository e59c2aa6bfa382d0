#!/usr/bin/env python3
"""Writes tests/vectors/store-v5.txt: store layouts 5's to 8's vectors
(docs/FORMAT.md 4 and 6.1), computed independently of the C code: msgpack
written out by hand, Python's hashlib (BLAKE2b, SHA-256), the cryptography
package's AES-128 (layout 6's salts), and the zstd command line for
the frames and the dictionary (a reader must decode them; a writer's frames
need not be these bytes).

    python3 tests/vectors/store-v5.py > tests/vectors/store-v5.txt
"""
import hashlib
import os
import struct
import subprocess
import sys
import tempfile


def mp_str(s):
    b = s.encode()
    n = len(b)
    if n < 32:
        return bytes([0xA0 | n]) + b
    if n < 256:
        return bytes([0xD9, n]) + b
    return bytes([0xDA]) + struct.pack(">H", n) + b


def mp_uint(v):
    if v < 128:
        return bytes([v])
    if v < 256:
        return bytes([0xCC, v])
    if v < 65536:
        return b"\xcd" + struct.pack(">H", v)
    if v < 2**32:
        return b"\xce" + struct.pack(">I", v)
    return b"\xcf" + struct.pack(">Q", v)


def mp(v):
    """Canonical msgpack of a JSON value (FORMAT.md 2)."""
    if v is None:
        return b"\xc0"
    if v is True:
        return b"\xc3"
    if v is False:
        return b"\xc2"
    if isinstance(v, int):
        return mp_uint(v)
    if isinstance(v, str):
        return mp_str(v)
    if isinstance(v, list):
        assert len(v) < 16
        return bytes([0x90 | len(v)]) + b"".join(mp(x) for x in v)
    if isinstance(v, dict):
        keys = sorted(v, key=lambda k: k.encode())
        assert len(keys) < 16
        return bytes([0x80 | len(keys)]) + b"".join(
            mp_str(k) + mp(v[k]) for k in keys)
    raise TypeError(v)


def seed_salts(seed, n):
    """salt_i = bytes 16(i mod 4).. of BLAKE2b-512(key=seed,
    msg="ledger/salt/v1" 0x00 || u32be(i div 4))"""
    out = []
    for j in range((n + 3) // 4):
        blk = hashlib.blake2b(b"ledger/salt/v1\x00" + struct.pack(">I", j),
                              key=seed, digest_size=64).digest()
        for i in range(4):
            out.append(blk[16 * i:16 * i + 16])
    return out[:n]


def seed_salts_aes(seed, n):
    """Layout 6: salt_i = AES-128-encrypt(key=seed, "ledger/salt2" || u32be(i)),
    by the cryptography package (Debian's python3-cryptography; ECB over the
    n counter blocks, no padding: each block is encrypted alone)."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    blocks = b"".join(b"ledger/salt2" + struct.pack(">I", i) for i in range(n))
    assert len(blocks) == 16 * n
    enc = Cipher(algorithms.AES(seed), modes.ECB()).encryptor()
    out = enc.update(blocks) + enc.finalize()
    assert len(out) == 16 * n
    return [out[16 * i:16 * i + 16] for i in range(n)]


def field_digest(salt, name, value):
    return hashlib.sha256(b"ledger/field/v1\x00" + salt + mp_str(name) +
                          mp(value)).digest()


def commitment(digests):
    return hashlib.sha256(b"ledger/body/v1\x00" +
                          struct.pack(">I", len(digests)) +
                          b"".join(sorted(digests))).digest()


def zstd(data, dict_path=None):
    """A zstd frame of data without its 4 magic bytes (ZSTD_f_zstd1_magicless),
    with its content size, no checksum, no dictionary id."""
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "in")
        with open(src, "wb") as f:
            f.write(data)
        cmd = ["zstd", "-q", "-1", "--no-check", "-c", src]
        if dict_path:
            cmd += ["-D", dict_path, "--no-dictID"]
        frame = subprocess.run(cmd, check=True, capture_output=True).stdout
    assert frame[:4] == b"\x28\xb5\x2f\xfd"
    return frame[4:]


def line(k, v):
    print("%s: %s" % (k, v.hex() if isinstance(v, (bytes, bytearray)) else v))


def main():
    print("# ledger store layout 5 vectors (docs/FORMAT.md 4 and 6.1): seeded")
    print("# salts, body records, stored entries, a dictionary; layout 6's")
    print("# AES-seeded records (aes.*); the stored sealed entry of layouts 5")
    print("# and 6, 7 and 8 (sealed.stored, .stored7, .stored8). Computed")
    print("# independently of the C code by")
    print("# tests/vectors/store-v5.py (msgpack by hand, Python's hashlib, the")
    print("# cryptography package for AES, the zstd command line for the frames).")

    # ---- seeded salts and a seeded body record (0x02)
    seed = bytes(range(16))
    body = {"a": 1, "b": "ok", "c": True, "d": [1, 2], "e": {"f": None},
            "route": "pdf-ops/extract"}
    names = sorted(body, key=lambda k: k.encode())
    salts = seed_salts(seed, len(names))
    line("seed", seed)
    line("body.json", '{"a":1,"b":"ok","c":true,"d":[1,2],"e":{"f":null},'
         '"route":"pdf-ops/extract"}')
    digests = []
    for i, n in enumerate(names):
        line("body.field.%s.salt" % n, salts[i])
        dg = field_digest(salts[i], n, body[n])
        line("body.field.%s.digest" % n, dg)
        digests.append(dg)
    root = commitment(digests)
    line("body.commitment", root)
    seeded_map = bytes([0x80 | len(names)]) + b"".join(
        mp_str(n) + mp(body[n]) for n in names)
    rec2 = b"\x02" + seed + seeded_map
    line("body.record.seeded", rec2)

    # ---- the same map as 0x03 without a dictionary (a reader decodes it)
    rec3 = b"\x03" + seed + b"\x00" + zstd(seeded_map)
    line("body.record.seeded_zstd", rec3)

    # ---- a dictionary (id 7) and records made with it
    with tempfile.TemporaryDirectory() as d:
        for i in range(200):
            b = {"outcome": ["ok", "error"][i % 2], "route": "pdf-ops/extract",
                 "status": ["ok", "failed", "skipped"][i % 3], "n": i}
            ks = sorted(b)
            with open(os.path.join(d, "s%03d" % i), "wb") as f:
                f.write(bytes([0x80 | len(ks)]) +
                        b"".join(mp_str(k) + mp(b[k]) for k in ks))
        dpath = os.path.join(d, "dict")
        subprocess.run(["zstd", "-q", "--train"] +
                       [os.path.join(d, "s%03d" % i) for i in range(200)] +
                       ["-o", dpath, "--dictID=7", "--maxdict=2048"],
                       check=True, capture_output=True)
        with open(dpath, "rb") as f:
            dic = f.read()
        assert dic[:4] == b"\x37\xa4\x30\xec" and dic[4:8] == struct.pack("<I", 7)
        line("dict.id", "7")
        line("dict", dic)
        rec3d = b"\x03" + seed + b"\x07" + zstd(seeded_map, dpath)
        line("body.record.seeded_dict", rec3d)
        # a salted map (random-looking salts, fixed here) as 0x04
        ssalts = [hashlib.sha256(b"salt" + bytes([i])).digest()[:16]
                  for i in range(len(names))]
        salted_map = bytes([0x80 | len(names)]) + b"".join(
            mp_str(n) + b"\x92\xc4\x10" + ssalts[i] + mp(body[n])
            for i, n in enumerate(names))
        sroot = commitment([field_digest(ssalts[i], n, body[n])
                            for i, n in enumerate(names)])
        line("salted.record", b"\x00" + salted_map)
        line("salted.record.dict", b"\x04\x07" + zstd(salted_map, dpath))
        line("salted.commitment", sroot)

        # ---- store layout 6: the same body seeded by AES (0x05, 0x06)
        asalts = seed_salts_aes(seed, len(names))
        adigests = []
        for i, n in enumerate(names):
            line("aes.field.%s.salt" % n, asalts[i])
            dg = field_digest(asalts[i], n, body[n])
            line("aes.field.%s.digest" % n, dg)
            adigests.append(dg)
        line("aes.commitment", commitment(adigests))
        line("aes.record", b"\x05" + seed + seeded_map)
        line("aes.record.zstd", b"\x06" + seed + b"\x00" + zstd(seeded_map))
        line("aes.record.dict", b"\x06" + seed + b"\x07" +
             zstd(seeded_map, dpath))

    # ---- stored entries (derived: prev; a sealed entry's claim digest in
    # layouts 5 and 6)
    v2 = {}
    v1 = {}
    here = os.path.dirname(os.path.abspath(__file__))
    for fn, dst in (("core-v2.txt", v2), ("core-v1.txt", v1)):
        with open(os.path.join(here, fn)) as f:
            for l in f:
                if ":" in l and not l.startswith("#"):
                    k, v = l.split(":", 1)
                    dst[k.strip()] = v.strip()
    claim = bytes.fromhex(v2["claim"])
    stamp = bytes.fromhex(v2["stamp"])
    prev = bytes.fromhex(v2["entry.prev"])
    entry = bytes.fromhex(v2["entry"])
    assert entry == b"\x93" + claim + stamp + b"\xc4\x20" + prev
    # the stamp without its first pair (digest), map header one smaller
    dpair = b"\xa6digest\xc4\x20" + hashlib.sha256(
        b"ledger/claim/v1\x00" + claim).digest()
    assert stamp[1:1 + len(dpair)] == dpair
    stamp_cut = bytes([stamp[0] - 1]) + stamp[1 + len(dpair):]
    stored2 = b"\x92" + claim + stamp_cut
    line("sealed.entry", entry)
    line("sealed.prev", prev)
    line("sealed.stored", stored2)
    # store layout 7: the whole entry less prev (the digest kept)
    line("sealed.stored7", b"\x92" + claim + stamp)
    # store layout 8: 0x01, the digest raw, then layout 5/6's record
    line("sealed.stored8", b"\x01" + dpair[9:] + stored2)
    line("sealed.leaf_hash", hashlib.sha256(b"\x00" + entry).digest())
    e1 = bytes.fromhex(v1["event1.entry"])
    # format 1: 0x93 map, c4 20 prev, c4 40 sig
    sig = e1[-64:]
    prev1 = e1[-100:-66]
    assert prev1[:2] == b"\xc4\x20" and e1[-66:-64] == b"\xc4\x40"
    stored1 = b"\x92" + e1[1:-100] + b"\xc4\x40" + sig
    line("format1.entry", e1)
    line("format1.prev", prev1[2:])
    line("format1.stored", stored1)
    line("format1.leaf_hash", hashlib.sha256(b"\x00" + e1).digest())


if __name__ == "__main__":
    sys.exit(main())
