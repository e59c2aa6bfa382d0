#!/usr/bin/env python3
"""Writes tests/vectors/intake-v1.txt: the intake log's bytes (docs/FORMAT.md
section 12), computed independently of the C code (struct and hashlib).
The records' contents are core-v2's sealed entry and seal record and
store-v5's seeded body record and dictionary: the frame carries them as
bytes, whatever they are.

    python3 tests/vectors/intake-v1.py > tests/vectors/intake-v1.txt
"""
import hashlib
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
BLOCK = 4096


def vectors(name):
    out = {}
    with open(os.path.join(HERE, name)) as f:
        for line in f:
            if line.startswith("#") or ": " not in line:
                continue
            k, v = line.rstrip("\n").split(": ", 1)
            out[k] = v
    return out


def rec(kind, data):
    return struct.pack(">BI", kind, len(data)) + data


def frame(gen, first_seq, count, payload):
    blocks = (64 + len(payload) + BLOCK - 1) // BLOCK
    head = b"LDGF" + bytes([1, 0, 0, 0]) + struct.pack(
        ">IIQII", gen, blocks, first_seq, count, len(payload))
    sum_ = hashlib.sha256(head + payload).digest()
    whole = head + sum_ + payload
    return whole + bytes(blocks * BLOCK - len(whole)), blocks


v2 = vectors("core-v2.txt")
v5 = vectors("store-v5.txt")
entry = bytes.fromhex(v2["entry"])
seal = bytes.fromhex(v2["seal.record"])
body = bytes.fromhex(v5["body.record.seeded"])
dict_id = int(v5["dict.id"])
dict_ = bytes.fromhex(v5["dict"])
note = (b"example.org/log\n43\n"
        b"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n\n"
        b"\xe2\x80\x94 example.org/log VkdaqnY0Z0w=\n")

print("# intake log vectors, version 1 (docs/FORMAT.md section 12).")
print("# Computed independently of the C code: tests/vectors/intake-v1.py.")
print("# frame.*: lap 1, first seq 42, a dictionary, one event (core-v2's")
print("# entry with store-v5's seeded body record), core-v2's seal record")
print("# for seq 40 and a checkpoint note. frame2.*: lap 2, seq 43, one")
print("# event without a body (an empty body record) and no checkpoint.")
print("# frame3.*: lap 1, seq 44, one event without a body, a checkpoint")
print("# note and a NOTE record (frame3.note: a projection note).")
ident = bytes(range(16))
hdr = b"LDGRINTK" + struct.pack(">IIQ", 1, BLOCK, 16) + ident
hdr = hdr + hashlib.sha256(hdr).digest()
print("header.blocks: 16")
print("header.id: " + ident.hex())
print("header: " + hdr.hex())  # then zeros to 4096 bytes

payload = (rec(1, bytes([dict_id]) + dict_) +
           rec(2, struct.pack(">I", len(entry)) + entry + body) +
           rec(3, struct.pack(">Q", 40) + seal) +
           rec(4, note))
f, blocks = frame(1, 42, 1, payload)
print("frame.note: " + note.hex())
print("frame.payload: " + payload.hex())
print("frame.blocks: %d" % blocks)
print("frame: " + f[:64 + len(payload)].hex())  # then zeros to the block
payload2 = rec(2, struct.pack(">I", len(entry)) + entry)
f2, blocks2 = frame(2, 43, 1, payload2)
print("frame2.blocks: %d" % blocks2)
print("frame2: " + f2[:64 + len(payload2)].hex())
pnote = (b"example.org/log projections\n45\n"
         b"packs 3 00112233445566778899aabbccddeeff"
         b"00112233445566778899aabbccddeeff\n\n"
         b"\xe2\x80\x94 example.org/log VkdaqnY0Z0w=\n")
payload3 = (rec(2, struct.pack(">I", len(entry)) + entry) +
            rec(4, note) + rec(5, pnote))
f3, blocks3 = frame(1, 44, 1, payload3)
print("frame3.note: " + pnote.hex())
print("frame3.blocks: %d" % blocks3)
print("frame3: " + f3[:64 + len(payload3)].hex())
