"""epoch_part.py — drop a seal record's epoch part (FORMAT.md 5.1).

    record = 0x93 ‖ seal-map ‖ 0xc4 0x40 ‖ signature[64] ‖ 0xc5 ‖ u16be n ‖ ext[n]
    ext    = u32be p ‖ u32be j ‖ esig[64] ‖ u8 l0 ‖ u8 j0 ‖
             certs (128 bytes each, levels l0..31) ‖ links (104 each, j0+1..j)

strip(rec) returns 0x92 ‖ seal-map ‖ 0xc4 0x40 ‖ signature[64]: the record
the log key alone would sign. The epoch part is found from the end: the
0xc5 header whose n is the length its own l0, j0 and j give, after the key's signature. (Scanning for
0xc5 u16be(n) alone can stop inside the part's own bytes: a CI run forged
three records that no longer decoded.) Raises ValueError on a record with no epoch part.
"""


def strip(rec):
    if rec[:1] != b"\x93":
        raise ValueError("not a seal record with an epoch part (0x93)")
    for n in range(74, min(len(rec) - 3, 65535) + 1):
        at = len(rec) - 3 - n
        if at < 67 or rec[at] != 0xC5 or int.from_bytes(rec[at + 1:at + 3], "big") != n:
            continue
        ext = rec[at + 3:]
        j = int.from_bytes(ext[4:8], "big")
        l0, j0 = ext[72], ext[73]
        if l0 <= 32 and j0 <= j and n == 74 + 128 * (32 - l0) + 104 * (j - j0):
            if rec[at - 66:at - 64] == b"\xc4\x40":
                return b"\x92" + rec[1:at]
    raise ValueError("no epoch part")
