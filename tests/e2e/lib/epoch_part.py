"""epoch_part.py — re-sign an epoch seal as its key alone would (FORMAT.md 5.1).

    record = 0x93 ‖ seal-map ‖ 0xc5 ‖ u16be n ‖ ext[n]
    ext    = u32be p ‖ u32be j ‖ esig[64] ‖ u8 l0 ‖ u8 j0 ‖
             certs (128 bytes each, levels l0..31) ‖ links (104 each, j0+1..j)

strip(rec, keys) returns 0x92 ‖ seal-map ‖ 0xc4 0x40 ‖ signature[64], the
signature Ed25519 by the seal's key over "ledger/seal/v1" ‖ 0x00 ‖
seal-map (FORMAT.md 3.3): what whoever holds the box can make with its
key files alone. keys is the ledger's keys directory (DIR/keys): the
seal's key is the file whose seed gives the key id the map names (the
first 8 bytes of SHA-256 of the public key, FORMAT.md 4). The epoch part is found from
the end: the 0xc5 header whose n is the length its own l0, j0 and j give.
(Scanning for 0xc5 u16be(n) alone can stop inside the part's own bytes: a
CI run forged three records that no longer decoded.) Raises ValueError on
a record with no epoch part. key_seed(path) reads the seed of a key file
(DIR/keys/NAME.key, its "seed HEX" line).
"""
import glob
import hashlib

from cryptography.hazmat.primitives.asymmetric.ed25519 import \
    Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (Encoding,
                                                          PublicFormat)


def key_seed(path):
    for line in open(path):
        if line.startswith("seed "):
            return bytes.fromhex(line.split()[1])
    raise ValueError("%s: no seed line" % path)


def signer(keys, key_id):
    for path in glob.glob(keys + "/*.key"):
        sk = Ed25519PrivateKey.from_private_bytes(key_seed(path))
        pub = sk.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        if hashlib.sha256(pub).hexdigest()[:16] == key_id:
            return sk
    raise ValueError("no key file in %s for key %s" % (keys, key_id))


def strip(rec, keys):
    if rec[:1] != b"\x93":
        raise ValueError("not a seal record with an epoch part (0x93)")
    for n in range(74, min(len(rec) - 3, 65535) + 1):
        at = len(rec) - 3 - n
        if at < 2 or rec[at] != 0xC5 or int.from_bytes(rec[at + 1:at + 3], "big") != n:
            continue
        ext = rec[at + 3:]
        j = int.from_bytes(ext[4:8], "big")
        l0, j0 = ext[72], ext[73]
        if l0 <= 32 and j0 <= j and n == 74 + 128 * (32 - l0) + 104 * (j - j0):
            smap = rec[1:at]
            # the map's "key": a6 6b 65 79 ("key" as fixstr) b0 + 16 hex
            k = smap.index(b"\xa3key\xb0") + 5
            sig = signer(keys, smap[k:k + 16].decode()).sign(
                b"ledger/seal/v1\x00" + smap)
            return b"\x92" + smap + b"\xc4\x40" + sig
    raise ValueError("no epoch part")
