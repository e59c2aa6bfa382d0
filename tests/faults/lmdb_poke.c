/*
 * lmdb_poke.c — alters a ledger's LMDB databases directly, the way an
 * attacker or a broken disk would, for tests/e2e/core_cli.sh. Not part of
 * libledger; the script builds it with
 *
 *     cc -o lmdb_poke tests/faults/lmdb_poke.c \
 *         $(pkg-config --cflags --libs lmdb)
 *
 * Usage:
 *   lmdb_poke DIR truncate N [keep-checkpoints]
 *       Deletes the last N events and everything derived from them: their
 *       entries, bodies, Merkle tree nodes, index records and (unless
 *       keep-checkpoints) the checkpoints and signed projection notes of
 *       larger sizes. What is left is
 *       a consistent shorter log; only a record of the longer one (the
 *       saved verify position, a trusted checkpoint) can reveal the cut.
 *   lmdb_poke DIR flip-body SEQ
 *       Flips one bit in the last byte of the stored body record of SEQ.
 *   lmdb_poke DIR flip-digest SEQ
 *       Flips one bit in the first byte of the claim digest that the
 *       stored entry of SEQ keeps (entries5; store layout 8: the byte after
 *       the record's first, 0x01; layout 7: the bytes after a6 "digest"
 *       c4 20); exit 1 when the record keeps none.
 *   lmdb_poke DIR flip-seal SEQ
 *       Flips one bit in the last byte (the signature) of the seal record
 *       keyed SEQ (format 2).
 *   lmdb_poke DIR drop-seal SEQ
 *       Deletes the seal record keyed SEQ.
 *   lmdb_poke DIR drop-db NAME
 *       Deletes the named database (idx.id: a ledger as written before
 *       format version 2 had none).
 *   lmdb_poke DIR flip DB HEXKEY [OFFSET]
 *       Flips one bit (0x01) of the record keyed HEXKEY (the key's bytes
 *       as hex digits) in DB: of its byte OFFSET (from 0), by default its
 *       last. E.g. the horizon record: flip meta 686f72697a6f6e; a tile
 *       of hashes: flip tiles 000000000000000000 (level 0, tile 0).
 *   lmdb_poke DIR del DB HEXKEY
 *       Deletes the record keyed HEXKEY in DB (every duplicate of it).
 *   lmdb_poke DIR put DB HEXKEY HEXVALUE
 *       Writes the record keyed HEXKEY in DB with the value HEXVALUE (in a
 *       DUPSORT database, one more duplicate). E.g. meta "digest.next" of
 *       3 bytes: put meta 6469676573742e6e657874 0000ff.
 *   lmdb_poke DIR undigested DB
 *       Prints how many records of DB (entries5) keep no claim digest
 *       (neither begin 0x01, layout 8's form, nor hold a6 "digest" c4 20,
 *       layout 7's: a sealed entry as layouts 5 and 6 store it, or a
 *       format 1 one), and how many DB holds; changes nothing.
 *   lmdb_poke DIR untagged DB
 *       The same, of the records not in layout 8's form (not beginning
 *       0x01: layout 7's too).
 *   lmdb_poke DIR keys DB
 *       Prints each key of DB as hex digits and its value's size, one a
 *       line (a DUPSORT database's key once for each of its values); changes
 *       nothing.
 *   lmdb_poke DIR join-tile LEVEL N [keep|flip]
 *       Layout 4: makes split tile N of tile level LEVEL whole again (its
 *       8160 bytes and the last hash from db tree, 8192 bytes in db
 *       tiles), as layout 3 wrote it; keep leaves the tree record of its
 *       last hash there too, flip leaves it with one bit flipped, and by
 *       default it is deleted (what migrate never leaves: a whole tile
 *       and a tree record at its last index).
 *
 * "entries" and "bodies" name the databases the ledger's store layout keeps
 * them in (entries5 and bodies5 from layout 5).
 *
 * Key layouts (docs/FORMAT.md): entries, bodies and checkpoints are keyed
 * by a big-endian u64; tree by level byte ‖ be64 index (in layout 2 the
 * hashes no full tile holds, and in layout 4 each full tile's last; tiles
 * by tile level ‖ be64 tile index, 256 hashes, or 255 in layout 4); every
 * index key ends with the event's be64 seq.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

static uint64_t
rd_be64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

/* Store layout 5 keeps the log in entries5 and bodies5 (docs/FORMAT.md
 * 6.1): "entries" and "bodies" name the databases the ledger's layout
 * keeps them in, as the ledger's own readers pick them. */
static int
dbi_open(MDB_txn *txn, const char *name, MDB_dbi *dbi)
{
    MDB_dbi meta;
    MDB_val k = {6, (void *)"layout"}, v;
    int layout = 1;
    if (mdb_dbi_open(txn, "meta", 0, &meta) == 0 &&
        mdb_get(txn, meta, &k, &v) == 0 && v.mv_size == 4)
        layout = ((const unsigned char *)v.mv_data)[3];
    if (layout >= 5 && strcmp(name, "entries") == 0)
        name = "entries5";
    else if (layout >= 5 && strcmp(name, "bodies") == 0)
        name = "bodies5";
    return mdb_dbi_open(txn, name, 0, dbi);
}

static int
die(const char *what, int rc)
{
    fprintf(stderr, "lmdb_poke: %s: %s\n", what, mdb_strerror(rc));
    return 1;
}

/* Deletes every record of db for which drop(key) says so. */
static int
sweep(MDB_txn *txn, const char *name,
      int (*drop)(const MDB_val *, const MDB_val *, uint64_t), uint64_t size,
      unsigned long *n)
{
    MDB_dbi dbi;
    MDB_cursor *c;
    MDB_val k, v;
    int rc = dbi_open(txn, name, &dbi);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0)
        return die(name, rc);
    if ((rc = mdb_cursor_open(txn, dbi, &c)) != 0)
        return die(name, rc);
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (drop(&k, &v, size)) {
            if ((rc = mdb_cursor_del(c, 0)) != 0)
                return die(name, rc);
            (*n)++;
        }
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : die(name, rc);
}

static int
drop_seq_key(const MDB_val *k, const MDB_val *v, uint64_t size)
{
    (void)v;
    return k->mv_size == 8 && rd_be64(k->mv_data) >= size;
}

static int
drop_checkpoint(const MDB_val *k, const MDB_val *v, uint64_t size)
{
    (void)v;
    return k->mv_size == 8 && rd_be64(k->mv_data) > size;
}

static int
drop_tree(const MDB_val *k, const MDB_val *v, uint64_t size)
{
    (void)v;
    const unsigned char *p = k->mv_data;
    uint64_t end;
    if (k->mv_size != 9 || p[0] > 63)
        return 0;
    end = (rd_be64(p + 1) + 1) << p[0];
    return end > size;
}

static int
drop_index(const MDB_val *k, const MDB_val *v, uint64_t size)
{
    (void)v;
    return k->mv_size >= 8 &&
           rd_be64((const unsigned char *)k->mv_data + k->mv_size - 8) >= size;
}

/* store layout 3's ix.*: a duplicate, the seq of an event */
static int
drop_ix(const MDB_val *k, const MDB_val *v, uint64_t size)
{
    (void)k;
    return v->mv_size == 8 && rd_be64(v->mv_data) >= size;
}

static int
last_seq(MDB_txn *txn, uint64_t *size)
{
    MDB_dbi dbi;
    MDB_cursor *c;
    MDB_val k, v;
    int rc = dbi_open(txn, "entries", &dbi);
    if (rc != 0)
        return die("entries", rc);
    if ((rc = mdb_cursor_open(txn, dbi, &c)) != 0)
        return die("entries", rc);
    rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
    mdb_cursor_close(c);
    if (rc != 0 || k.mv_size != 8)
        return die("entries: last", rc ? rc : MDB_CORRUPTED);
    *size = rd_be64(k.mv_data) + 1;
    return 0;
}

/* Format 2 (meta "format" ends in 2): for each entry from size on, its
 * actor's "sealed:" count in keys goes down by one. The actor key id sits
 * at bytes 9..24 of every entry (0x93 or 0x92, a map, "actor", a 16-byte
 * str), 33 bytes further in a record of store layout 8 (0x01 ‖ digest ‖
 * 0x92 ...). */
static int
uncount_sealed(MDB_txn *txn, uint64_t size)
{
    MDB_dbi meta, ent, keys;
    MDB_cursor *c;
    MDB_val k, v;
    unsigned char key[8];
    int rc;

    k.mv_size = 6;
    k.mv_data = "format";
    if (dbi_open(txn, "meta", &meta) != 0 || mdb_get(txn, meta, &k, &v) != 0 ||
        v.mv_size != 8 || ((const unsigned char *)v.mv_data)[7] != 2)
        return 0;
    if ((rc = dbi_open(txn, "entries", &ent)) != 0 ||
        (rc = dbi_open(txn, "keys", &keys)) != 0 ||
        (rc = mdb_cursor_open(txn, ent, &c)) != 0)
        return die("entries", rc);
    for (int i = 7; i >= 0; i--)
        key[i] = (unsigned char)(size >> (8 * (7 - i)));
    k.mv_size = 8;
    k.mv_data = key;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        unsigned char sk[7 + 16], nb[8];
        MDB_val kk, kv, nv;
        uint64_t cnt;
        size_t at = v.mv_size > 0 && *(const unsigned char *)v.mv_data == 0x01
                        ? 33 + 9
                        : 9;
        if (v.mv_size < at + 16)
            continue;
        memcpy(sk, "sealed:", 7);
        memcpy(sk + 7, (const unsigned char *)v.mv_data + at, 16);
        kk.mv_size = sizeof sk;
        kk.mv_data = sk;
        if (mdb_get(txn, keys, &kk, &kv) != 0 || kv.mv_size != 8)
            continue;
        cnt = rd_be64(kv.mv_data);
        cnt = cnt > 0 ? cnt - 1 : 0;
        for (int i = 7; i >= 0; i--)
            nb[i] = (unsigned char)(cnt >> (8 * (7 - i)));
        nv.mv_size = 8;
        nv.mv_data = nb;
        if ((rc = mdb_put(txn, keys, &kk, &nv, 0)) != 0) {
            mdb_cursor_close(c);
            return die("keys: put", rc);
        }
    }
    mdb_cursor_close(c);
    return 0;
}

/* Store layout 2: a full tile past the cut goes, and the hashes of it
 * the shorter log still has join the edge in db tree (FORMAT.md 6). */
static int
cut_tiles(MDB_txn *txn, uint64_t size, unsigned long *n)
{
    MDB_dbi tiles, tree;
    MDB_cursor *c;
    MDB_val k, v;
    int rc = dbi_open(txn, "tiles", &tiles);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0 || (rc = dbi_open(txn, "tree", &tree)) != 0)
        return die("tiles", rc);
    if ((rc = mdb_cursor_open(txn, tiles, &c)) != 0)
        return die("tiles", rc);
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        const unsigned char *p = k.mv_data;
        unsigned char hashes[256 * 32], key[9];
        uint64_t first, nh = v.mv_size / 32;
        int lv;
        /* a whole tile, or layout 4's first 255 hashes (the last is in
         * db tree, past the cut: the sweep of tree took it) */
        if (k.mv_size != 9 || p[0] > 7 ||
            (v.mv_size != sizeof hashes && v.mv_size != sizeof hashes - 32))
            continue;
        lv = 8 * p[0];
        first = rd_be64(p + 1) * 256;
        if (((first + 256) << lv) <= size)
            continue;
        memcpy(hashes, v.mv_data, v.mv_size);
        if ((rc = mdb_cursor_del(c, 0)) != 0)
            return die("tiles", rc);
        (*n)++;
        for (uint64_t j = 0; j < nh && ((first + j + 1) << lv) <= size; j++) {
            MDB_val hk = {9, key}, hv = {32, hashes + 32 * j};
            key[0] = (unsigned char)lv;
            for (int b = 0; b < 8; b++)
                key[1 + b] = (unsigned char)((first + j) >> (56 - 8 * b));
            if ((rc = mdb_put(txn, tree, &hk, &hv, 0)) != 0)
                return die("tree", rc);
        }
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : die("tiles", rc);
}

static int
truncate_log(MDB_txn *txn, uint64_t cut, int keep_checkpoints)
{
    static const char *const idx[] = {"idx.type",  "idx.subject", "idx.run",
                                      "idx.actor", "idx.time",    "idx.id"};
    static const char *const ix[] = {"ix.type", "ix.subject", "ix.run",
                                     "ix.actor"};
    unsigned long n = 0;
    uint64_t size;
    if (last_seq(txn, &size) != 0)
        return 1;
    if (cut >= size) {
        fprintf(stderr, "lmdb_poke: the log has only %llu events\n",
                (unsigned long long)size);
        return 1;
    }
    size -= cut;
    /* a format 2 ledger: the cut events' seals go too, and each key's
     * sealed count loses them (as one who cuts it consistently would) */
    if (uncount_sealed(txn, size) != 0)
        return 1;
    {
        MDB_dbi sdbi;
        if (dbi_open(txn, "seals", &sdbi) == 0 &&
            sweep(txn, "seals", drop_seq_key, size, &n))
            return 1;
    }
    if (sweep(txn, "entries", drop_seq_key, size, &n) ||
        sweep(txn, "bodies", drop_seq_key, size, &n) ||
        sweep(txn, "tree", drop_tree, size, &n) || cut_tiles(txn, size, &n))
        return 1;
    for (size_t i = 0; i < sizeof idx / sizeof idx[0]; i++)
        if (sweep(txn, idx[i], drop_index, size, &n))
            return 1;
    for (size_t i = 0; i < sizeof ix / sizeof ix[0]; i++)
        if (sweep(txn, ix[i], drop_ix, size, &n))
            return 1;
    if (!keep_checkpoints &&
        sweep(txn, "checkpoints", drop_checkpoint, size, &n))
        return 1;
    /* the projections' signed notes of larger sizes (keyed as
     * checkpoints; verify --full names one past the log) */
    {
        MDB_dbi ndbi;
        if (!keep_checkpoints && dbi_open(txn, "proj.notes", &ndbi) == 0 &&
            sweep(txn, "proj.notes", drop_checkpoint, size, &n))
            return 1;
    }
    fprintf(stderr, "lmdb_poke: log cut to %llu events (%lu records)\n",
            (unsigned long long)size, n);
    return 0;
}

static int flip_rec(MDB_txn *txn, const char *db, uint64_t seq, int del);

static int
flip_body(MDB_txn *txn, uint64_t seq)
{
    return flip_rec(txn, "bodies", seq, 0);
}

static int
flip_digest(MDB_txn *txn, uint64_t seq)
{
    static const unsigned char pair[9] = {0xa6, 'd', 'i', 'g', 'e',
                                          's',  't', 0xc4, 0x20};
    MDB_dbi dbi;
    MDB_val k, v, nv;
    unsigned char key[8], *copy;
    size_t at;
    int rc;
    for (int i = 7; i >= 0; i--) {
        key[i] = (unsigned char)seq;
        seq >>= 8;
    }
    k.mv_size = 8;
    k.mv_data = key;
    if ((rc = dbi_open(txn, "entries5", &dbi)) != 0)
        return die("entries5", rc);
    if ((rc = mdb_get(txn, dbi, &k, &v)) != 0)
        return die("entries5", rc);
    if (v.mv_size > 33 && ((unsigned char *)v.mv_data)[0] == 0x01) {
        at = 1; /* layout 8: 01 d[32] ... */
    } else {
        for (at = 0; at + sizeof pair + 32 <= v.mv_size; at++)
            if (memcmp((unsigned char *)v.mv_data + at, pair, sizeof pair) ==
                0)
                break;
        if (at + sizeof pair + 32 > v.mv_size) {
            fprintf(stderr, "lmdb_poke: the record keeps no claim digest\n");
            return 1;
        }
        at += sizeof pair; /* the digest's first byte */
    }
    if ((copy = malloc(v.mv_size)) == NULL)
        return 1;
    memcpy(copy, v.mv_data, v.mv_size);
    copy[at] ^= 1;
    nv.mv_size = v.mv_size;
    nv.mv_data = copy;
    rc = mdb_put(txn, dbi, &k, &nv, 0);
    free(copy);
    return rc ? die("entries5", rc) : 0;
}

static int
flip_rec(MDB_txn *txn, const char *db, uint64_t seq, int del)
{
    MDB_dbi dbi;
    MDB_val k, v, nv;
    unsigned char key[8], *copy;
    int rc;
    for (int i = 7; i >= 0; i--) {
        key[i] = (unsigned char)seq;
        seq >>= 8;
    }
    k.mv_size = 8;
    k.mv_data = key;
    if ((rc = dbi_open(txn, db, &dbi)) != 0)
        return die(db, rc);
    if ((rc = mdb_get(txn, dbi, &k, &v)) != 0)
        return die(db, rc);
    if (del)
        return (rc = mdb_del(txn, dbi, &k, NULL)) != 0 ? die(db, rc) : 0;
    copy = malloc(v.mv_size);
    if (copy == NULL)
        return 1;
    memcpy(copy, v.mv_data, v.mv_size);
    copy[v.mv_size - 1] ^= 1;
    nv.mv_size = v.mv_size;
    nv.mv_data = copy;
    rc = mdb_put(txn, dbi, &k, &nv, 0);
    free(copy);
    return rc ? die(db, rc) : 0;
}

/* HEXKEY into k (at most cap bytes); 0, or 1 when it is not hex. */
static int
unhex(const char *hex, unsigned char *k, size_t cap, size_t *n)
{
    size_t len = strlen(hex);
    if (len % 2 != 0 || len / 2 > cap || len == 0)
        return 1;
    for (size_t i = 0; i < len / 2; i++) {
        unsigned v = 0;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return 1;
        k[i] = (unsigned char)v;
    }
    *n = len / 2;
    return 0;
}

/* flip DB HEXKEY [OFFSET], del DB HEXKEY */
static int
poke_key(MDB_txn *txn, const char *db, const char *hex, const char *offset,
         int del)
{
    MDB_dbi dbi;
    MDB_val k, v, nv;
    unsigned char key[511], *copy;
    size_t klen, at;
    int rc;

    if (unhex(hex, key, sizeof key, &klen) != 0) {
        fprintf(stderr, "lmdb_poke: %s: not a key in hex digits\n", hex);
        return 1;
    }
    k.mv_size = klen;
    k.mv_data = key;
    if ((rc = dbi_open(txn, db, &dbi)) != 0)
        return die(db, rc);
    if ((rc = mdb_get(txn, dbi, &k, &v)) != 0)
        return die(hex, rc);
    if (del)
        return (rc = mdb_del(txn, dbi, &k, NULL)) != 0 ? die(db, rc) : 0;
    at = offset != NULL ? (size_t)strtoull(offset, NULL, 10) : v.mv_size - 1;
    if (v.mv_size == 0 || at >= v.mv_size) {
        fprintf(stderr, "lmdb_poke: %s: the record has %zu bytes\n", hex,
                v.mv_size);
        return 1;
    }
    if ((copy = malloc(v.mv_size)) == NULL)
        return 1;
    memcpy(copy, v.mv_data, v.mv_size);
    copy[at] ^= 1;
    nv.mv_size = v.mv_size;
    nv.mv_data = copy;
    rc = mdb_put(txn, dbi, &k, &nv, 0);
    free(copy);
    return rc ? die(db, rc) : 0;
}

/* put DB HEXKEY HEXVALUE: the record written (in a DUPSORT database, one
 * more duplicate) */
static int
put_key(MDB_txn *txn, const char *db, const char *hex, const char *vhex)
{
    MDB_dbi dbi;
    MDB_val k, v;
    unsigned char key[511], val[4096];
    size_t klen, vlen;
    int rc;

    if (unhex(hex, key, sizeof key, &klen) != 0 ||
        unhex(vhex, val, sizeof val, &vlen) != 0) {
        fprintf(stderr, "lmdb_poke: %s %s: not hex digits\n", hex, vhex);
        return 1;
    }
    k.mv_size = klen;
    k.mv_data = key;
    v.mv_size = vlen;
    v.mv_data = val;
    if ((rc = dbi_open(txn, db, &dbi)) != 0)
        return die(db, rc);
    return (rc = mdb_put(txn, dbi, &k, &v, 0)) != 0 ? die(db, rc) : 0;
}

/* join-tile LEVEL N [keep|flip] */
static int
join_tile(MDB_txn *txn, unsigned level, uint64_t n, const char *how)
{
    MDB_dbi tiles, tree;
    MDB_val k, v, tk, tv, nv;
    unsigned char key[9], tkey[9], whole[8192], last[32];
    uint64_t idx = n * 256 + 255;
    int rc;

    key[0] = (unsigned char)level;
    tkey[0] = (unsigned char)(8 * level);
    for (int i = 0; i < 8; i++) {
        key[1 + i] = (unsigned char)(n >> (56 - 8 * i));
        tkey[1 + i] = (unsigned char)(idx >> (56 - 8 * i));
    }
    k.mv_size = tk.mv_size = 9;
    k.mv_data = key;
    tk.mv_data = tkey;
    if ((rc = mdb_dbi_open(txn, "tiles", 0, &tiles)) != 0 ||
        (rc = mdb_dbi_open(txn, "tree", 0, &tree)) != 0)
        return die("tiles/tree", rc);
    if ((rc = mdb_get(txn, tiles, &k, &v)) != 0)
        return die("tile", rc);
    if (v.mv_size != 8160) {
        fprintf(stderr, "lmdb_poke: the tile has %zu bytes, not 8160\n",
                v.mv_size);
        return 1;
    }
    if ((rc = mdb_get(txn, tree, &tk, &tv)) != 0 || tv.mv_size != 32)
        return die("its last hash", rc ? rc : MDB_CORRUPTED);
    memcpy(whole, v.mv_data, 8160);
    memcpy(whole + 8160, tv.mv_data, 32);
    memcpy(last, tv.mv_data, 32);
    nv.mv_size = sizeof whole;
    nv.mv_data = whole;
    if ((rc = mdb_put(txn, tiles, &k, &nv, 0)) != 0)
        return die("tile: put", rc);
    if (how != NULL && strcmp(how, "keep") == 0)
        return 0;
    if (how != NULL && strcmp(how, "flip") == 0) {
        last[31] ^= 1;
        nv.mv_size = 32;
        nv.mv_data = last;
        return (rc = mdb_put(txn, tree, &tk, &nv, 0)) ? die("tree", rc) : 0;
    }
    return (rc = mdb_del(txn, tree, &tk, NULL)) ? die("tree: del", rc) : 0;
}

static int
list_keys(MDB_txn *txn, const char *db)
{
    MDB_dbi dbi;
    MDB_cursor *c;
    MDB_val k, v;
    int rc;

    if ((rc = dbi_open(txn, db, &dbi)) != 0)
        return die(db, rc);
    if ((rc = mdb_cursor_open(txn, dbi, &c)) != 0)
        return die(db, rc);
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        for (size_t i = 0; i < k.mv_size; i++)
            printf("%02x", ((const unsigned char *)k.mv_data)[i]);
        printf(" %zu\n", v.mv_size);
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : die(db, rc);
}

static int
undigested(MDB_txn *txn, const char *db, int tagged_only)
{
    static const unsigned char pair[9] = {0xa6, 'd', 'i', 'g', 'e',
                                          's',  't', 0xc4, 0x20};
    MDB_dbi dbi;
    MDB_cursor *c;
    MDB_val k, v;
    unsigned long long n = 0, all = 0;
    int rc;

    if ((rc = dbi_open(txn, db, &dbi)) != 0)
        return die(db, rc);
    if ((rc = mdb_cursor_open(txn, dbi, &c)) != 0)
        return die(db, rc);
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        size_t at;
        all++;
        if (v.mv_size > 33 && ((unsigned char *)v.mv_data)[0] == 0x01)
            continue; /* layout 8's form */
        if (tagged_only) {
            n++;
            continue;
        }
        for (at = 0; at + sizeof pair + 32 <= v.mv_size; at++)
            if (memcmp((unsigned char *)v.mv_data + at, pair, sizeof pair) ==
                0)
                break;
        n += at + sizeof pair + 32 > v.mv_size;
    }
    mdb_cursor_close(c);
    printf("%llu of %llu\n", n, all);
    return rc == MDB_NOTFOUND ? 0 : die(db, rc);
}

static int
drop_db(MDB_txn *txn, const char *name)
{
    MDB_dbi dbi;
    int rc;
    if ((rc = dbi_open(txn, name, &dbi)) != 0)
        return die(name, rc);
    if ((rc = mdb_drop(txn, dbi, 1)) != 0)
        return die(name, rc);
    return 0;
}

int
main(int argc, char **argv)
{
    MDB_env *env;
    MDB_txn *txn;
    int rc, bad;

    if (argc < 4 ||
        (strcmp(argv[2], "truncate") != 0 &&
         strcmp(argv[2], "flip-body") != 0 &&
         strcmp(argv[2], "flip-seal") != 0 &&
         strcmp(argv[2], "flip-digest") != 0 &&
         strcmp(argv[2], "drop-seal") != 0 && strcmp(argv[2], "drop-db") != 0 &&
         strcmp(argv[2], "keys") != 0 && strcmp(argv[2], "undigested") != 0 &&
         strcmp(argv[2], "untagged") != 0 &&
         ((strcmp(argv[2], "flip") != 0 && strcmp(argv[2], "del") != 0 &&
           strcmp(argv[2], "join-tile") != 0 &&
           (strcmp(argv[2], "put") != 0 || argc < 6)) ||
          argc < 5))) {
        fprintf(stderr, "usage: lmdb_poke DIR truncate N [keep-checkpoints]"
                        " | DIR flip-body|flip-seal|flip-digest|drop-seal SEQ"
                        " | DIR drop-db NAME | DIR flip DB HEXKEY [OFFSET]"
                        " | DIR del DB HEXKEY | DIR put DB HEXKEY HEXVALUE"
                        " | DIR keys|undigested|untagged DB"
                        " | DIR join-tile LEVEL N [keep|flip]\n");
        return 64;
    }
    if ((rc = mdb_env_create(&env)) != 0 ||
        (rc = mdb_env_set_maxdbs(env, 128)) != 0 ||
        (rc = mdb_env_open(env, argv[1], 0, 0600)) != 0)
        return die(argv[1], rc);
    if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0)
        return die("begin", rc);
    if (strcmp(argv[2], "truncate") == 0)
        bad =
            truncate_log(txn, strtoull(argv[3], NULL, 10),
                         argc > 4 && strcmp(argv[4], "keep-checkpoints") == 0);
    else if (strcmp(argv[2], "drop-db") == 0)
        bad = drop_db(txn, argv[3]);
    else if (strcmp(argv[2], "flip") == 0)
        bad = poke_key(txn, argv[3], argv[4], argc > 5 ? argv[5] : NULL, 0);
    else if (strcmp(argv[2], "del") == 0)
        bad = poke_key(txn, argv[3], argv[4], NULL, 1);
    else if (strcmp(argv[2], "put") == 0)
        bad = put_key(txn, argv[3], argv[4], argv[5]);
    else if (strcmp(argv[2], "keys") == 0)
        bad = list_keys(txn, argv[3]);
    else if (strcmp(argv[2], "undigested") == 0)
        bad = undigested(txn, argv[3], 0);
    else if (strcmp(argv[2], "untagged") == 0)
        bad = undigested(txn, argv[3], 1);
    else if (strcmp(argv[2], "join-tile") == 0)
        bad = join_tile(txn, (unsigned)strtoul(argv[3], NULL, 10),
                        strtoull(argv[4], NULL, 10), argc > 5 ? argv[5] : NULL);
    else if (strcmp(argv[2], "flip-seal") == 0)
        bad = flip_rec(txn, "seals", strtoull(argv[3], NULL, 10), 0);
    else if (strcmp(argv[2], "flip-digest") == 0)
        bad = flip_digest(txn, strtoull(argv[3], NULL, 10));
    else if (strcmp(argv[2], "drop-seal") == 0)
        bad = flip_rec(txn, "seals", strtoull(argv[3], NULL, 10), 1);
    else
        bad = flip_body(txn, strtoull(argv[3], NULL, 10));
    if (bad) {
        mdb_txn_abort(txn);
        return 1;
    }
    if ((rc = mdb_txn_commit(txn)) != 0)
        return die("commit", rc);
    mdb_env_close(env);
    return 0;
}
