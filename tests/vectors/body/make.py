#!/usr/bin/env python3
"""Writes the body record vectors of this directory (README) from the
first body of tests/vectors/segment/good.seg (event 0's, a salted map):
the same map in each stored form a reader must take, or must refuse.
Needs the zstd program. Run from the repository root:

    python3 tests/vectors/body/make.py
"""
import os
import subprocess
import sys

D = os.path.dirname(os.path.abspath(__file__))
SEG = os.path.join(D, "..", "segment", "good.seg")


def first_body():
    raw = subprocess.run(["zstd", "-dqc", SEG], check=True,
                         capture_output=True).stdout
    at = 18
    while at < len(raw):
        k = raw[at]
        at += 1
        n, sh = 0, 0
        while raw[at] & 0x80:
            n |= (raw[at] & 0x7F) << sh
            sh += 7
            at += 1
        n |= raw[at] << sh
        at += 1
        if k == 0x09 and raw[at] == 0x00:
            return raw[at:at + n]
        at += n
    sys.exit("no salted body in good.seg")


def frame(data, check):
    """A zstd frame of data with its magic and content size; with or
    without the content checksum."""
    p = os.path.join(D, ".map.tmp")
    with open(p, "wb") as f:
        f.write(data)
    z = subprocess.run(["zstd", "-1", "-qc", "--check" if check else
                        "--no-check", p], check=True,
                       capture_output=True).stdout
    os.unlink(p)
    assert z[:4] == b"\x28\xb5\x2f\xfd"
    fhd = z[4]
    assert fhd >> 6 != 0 or fhd & 0x20, "no content size"
    assert fhd & 0x03 == 0, "a dictionary id"
    assert bool(fhd & 0x04) == check
    return z


def with_dict_id(z, did):
    """The frame z with a 1-byte Dictionary_ID field (RFC 8878
    3.1.1.1.1: flag 1) of value did, after the window descriptor."""
    fhd = z[4]
    at = 5 if fhd & 0x20 else 6  # (Single_Segment: no window descriptor)
    return z[:4] + bytes([fhd | 0x01]) + z[5:at] + bytes([did]) + z[at:]


def main():
    rec = first_body()
    m = rec[1:]
    out = {
        "good-00.rec": rec,
        "good-01.rec": b"\x01" + frame(m, False),
        "good-04-dict-0.rec": b"\x04\x00" + frame(m, False)[4:],
        "bad-01-checksum.rec": b"\x01" + frame(m, True),
        "bad-01-dict-id.rec": b"\x01" + with_dict_id(frame(m, False), 7),
        "bad-04-checksum.rec": b"\x04\x00" + frame(m, True)[4:],
        "bad-04-dict-id.rec": b"\x04\x00" + with_dict_id(frame(m, False),
                                                         7)[4:],
        "bad-04-magic.rec": b"\x04\x00" + frame(m, False),
        "bad-07-flag.rec": b"\x07" + m,
    }
    for name, b in out.items():
        with open(os.path.join(D, name), "wb") as f:
            f.write(b)


main()
