#!/usr/bin/env python3
"""lmdb_pages.py DATA_MDB — prints, for every named database in an LMDB
file, the pages it owns: "NAME KIND PGNO" per line (KIND branch, leaf or
overflow), read from the newer meta page by walking each database's B-tree
from its root. For tests that damage one database at a time; it reads the
file only. Follows LMDB 0.9's on-disk layout (lmdb.h/mdb.c: MDB_meta,
MDB_db, MDB_page, MDB_node) for 64-bit builds and 4096-byte pages."""
import struct
import sys

PS = 4096
P_BRANCH, P_LEAF, P_OVERFLOW, P_LEAF2 = 0x01, 0x02, 0x04, 0x20
F_BIGDATA, F_SUBDATA, F_DUPDATA = 0x01, 0x02, 0x04


def meta(d, n):
    # page header (16) then MDB_meta: magic, version, address, mapsize,
    # dbs[2] (MDB_db, 48 bytes each), last_pg, txnid
    o = n * PS + 16
    dbs = [struct.unpack_from("<IHHQQQQQ", d, o + 24 + 48 * i) for i in (0, 1)]
    txnid = struct.unpack_from("<Q", d, o + 24 + 96 + 8)[0]
    return txnid, dbs


def nodes(d, pg):
    o = pg * PS
    lower = struct.unpack_from("<H", d, o + 12)[0]
    for i in range((lower - 16) // 2):
        p = struct.unpack_from("<H", d, o + 16 + 2 * i)[0]
        lo, hi, fl, ks = struct.unpack_from("<HHHH", d, o + p)
        key = d[o + p + 8:o + p + 8 + ks]
        data = d[o + p + 8 + ks:o + p + 8 + ks + (lo | hi << 16)]
        yield lo, hi, fl, key, data


def walk(d, root, out):
    """Every page of the tree under root into out as (kind, pgno)."""
    if root == 0xFFFFFFFFFFFFFFFF:
        return
    flags = struct.unpack_from("<H", d, root * PS + 10)[0]
    if flags & P_BRANCH:
        out.append(("branch", root))
        for lo, hi, fl, _k, _d in nodes(d, root):
            walk(d, lo | hi << 16 | fl << 32, out)
        return
    out.append(("leaf", root))
    if flags & P_LEAF2:
        return
    for _lo, _hi, fl, _k, data in nodes(d, root):
        if fl & F_BIGDATA:
            pg = struct.unpack_from("<Q", data, 0)[0]
            n = struct.unpack_from("<I", d, pg * PS + 12)[0]
            out.extend(("overflow", pg + i) for i in range(n))
        elif fl & F_SUBDATA:
            walk(d, struct.unpack_from("<Q", data, 40)[0], out)


def main():
    d = open(sys.argv[1], "rb").read()
    _t, dbs = max(meta(d, 0), meta(d, 1))
    main_root = dbs[1][7]
    for _lo, _hi, fl, key, data in nodes(d, main_root):
        if fl & F_SUBDATA:
            pages = []
            walk(d, struct.unpack_from("<Q", data, 40)[0], pages)
            for kind, pg in pages:
                print(key.decode(errors="replace"), kind, pg)
    print("(main)", "leaf", main_root)


main()
