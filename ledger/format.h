/*
 * format.h — the stored layouts of the core, drawn once: private to the
 * files of ledger/ (and the core's own tests). docs/FORMAT.md describes
 * every byte; this header names them. A module outside ledger/ never
 * includes it: it reaches the stored data through ledger/module.h's
 * accessors, so changing one stored byte touches this header, the one
 * encoder that writes it, FORMAT.md and tests/vectors/ — nothing else.
 * tests/e2e/core_layers.sh holds the include rule.
 *
 * Byte order is big-endian throughout (util/util.h's ldg_be64 and
 * ldg_rd_be64 are the one set of byte writers and readers).
 */
#ifndef LDG_FORMAT_H
#define LDG_FORMAT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "util/util.h"

/* ------------------------------------------------ signed and hashed -- */

/* Domain-separation contexts (FORMAT.md 2; the NUL is part of the signed
 * bytes). */
#define LDG_CTX_EVENT "ledger/event/v1"
#define LDG_CTX_FIELD "ledger/field/v1"
#define LDG_CTX_BODY "ledger/body/v1"
#define LDG_CTX_HORIZON "ledger/horizon/v1"
/* A seeded body's field salts (FORMAT.md 4): BLAKE2b keyed with the body's
 * seed over this context (with its NUL) and the field's name. */
#define LDG_CTX_SALT "ledger/salt/v1"
/* Store layout 6's seeded bodies (FORMAT.md 4): AES-128 keyed with the
 * seed over this context (12 bytes, no NUL) ‖ u32be(field index). */
#define LDG_CTX_SALT_AES "ledger/salt2"

/* A body field's salt (FORMAT.md 4.2): LDG_SALT_LEN (module.h: the
 * modules see salts in ldg_field) random bytes per field, stored as bin8
 * (0xc4 0x10 ‖ salt) and written in hex where JSON carries it. */
/* A seeded body record's seed (FORMAT.md 4): random, one per event. */
#define LDG_SEED_LEN 16

/* A body record's field value (FORMAT.md 4.1): under its name, the pair
 * array(2) [bin8(16) salt, value], which begins with these three bytes
 * (0x92 0xc4 0x10); the salt follows, then the value. */
#define LDG_FIELD_PAIR_HEAD_LEN 3
#define LDG_FIELD_PAIR_SALT LDG_FIELD_PAIR_HEAD_LEN
#define LDG_FIELD_PAIR_VALUE (LDG_FIELD_PAIR_HEAD_LEN + LDG_SALT_LEN)
static const uint8_t ldg_field_pair_head[LDG_FIELD_PAIR_HEAD_LEN] = {
    0x92, 0xc4, LDG_SALT_LEN};

/* 1 if [p, end) begins with a pair's head and its salt (the value is the
 * caller's to read at p + LDG_FIELD_PAIR_VALUE). */
static inline int
ldg_field_pair_at(const uint8_t *p, const uint8_t *end)
{
    return end - p >= LDG_FIELD_PAIR_VALUE && p[0] == ldg_field_pair_head[0] &&
           p[1] == ldg_field_pair_head[1] && p[2] == ldg_field_pair_head[2];
}

/* --------------------------------------------------------- entries -- */

/* An entry's "v" (FORMAT.md 3.1): 1, per-event signatures; 2, the keys of
 * format version 2 (id, source, time) may be present. */
#define LDG_ENTRY_V1 1
#define LDG_ENTRY_V2 2
/* A format 1 entry: 0x93 ‖ map ‖ bin8(32) prev ‖ bin8(64) sig; the bytes
 * around the map. */
#define LDG_ENTRY_OVERHEAD (1 + 34 + 66)
/* Most bytes of a claim (format 2, FORMAT.md 3.2; every field at its
 * limit). */
#define LDG_CLAIM_MAX 1100

/* The tail of a format 1 entry: 0xc4 0x20 prev[32] ‖ 0xc4 0x40 sig[64]. */
#define LDG_ENTRY1_TAIL_LEN 100
/* prev (32 bytes) from the tail of a format 1 entry of len bytes, without
 * decoding the rest: 1, or 0 if the tail is not that. */
static inline int
ldg_entry1_prev(const uint8_t *e, size_t len, const uint8_t **prev)
{
    if (len < LDG_ENTRY_OVERHEAD)
        return 0;
    e += len - LDG_ENTRY1_TAIL_LEN;
    if (e[0] != 0xc4 || e[1] != 32 || e[34] != 0xc4 || e[35] != 64)
        return 0;
    *prev = e + 2;
    return 1;
}

/* The keys of a format 1 entry's map, in canonical (bytewise) order. */
enum ldg_entry_key {
    LDG_EK_ACTOR,
    LDG_EK_BODY,
    LDG_EK_ID, /* v2 */
    LDG_EK_PARENT,
    LDG_EK_RUN,
    LDG_EK_SEQ,
    LDG_EK_SOURCE, /* v2 */
    LDG_EK_SUBJECT,
    LDG_EK_TIME, /* v2 */
    LDG_EK_TS,
    LDG_EK_TYPE,
    LDG_EK_V,
    LDG_EK_COUNT
};
static const char *const ldg_entry_keys[LDG_EK_COUNT] = {
    "actor",  "body",    "id",   "parent", "run",  "seq",
    "source", "subject", "time", "ts",     "type", "v"};

/* The keys of a claim (format 2, FORMAT.md 3.2), in canonical order. */
enum ldg_claim_key {
    LDG_CK_ACTOR,
    LDG_CK_BODY,
    LDG_CK_ID,
    LDG_CK_PARENT,
    LDG_CK_RUN,
    LDG_CK_SUBJECT,
    LDG_CK_TIME,
    LDG_CK_TYPE,
    LDG_CK_V,
    LDG_CK_COUNT
};
static const char *const ldg_claim_keys[LDG_CK_COUNT] = {
    "actor", "body", "id", "parent", "run", "subject", "time", "type", "v"};

/* The keys of a stamp (format 2, FORMAT.md 3.3), in canonical order. */
enum ldg_stamp_key {
    LDG_TK_DIGEST,
    LDG_TK_LEAF,
    LDG_TK_SEAL,
    LDG_TK_SEQ,
    LDG_TK_SOURCE,
    LDG_TK_TS,
    LDG_TK_COUNT
};
static const char *const ldg_stamp_keys[LDG_TK_COUNT] = {
    "digest", "leaf", "seal", "seq", "source", "ts"};

/* The keys of the source map (entries v2 and stamps), canonical order. */
enum ldg_source_key {
    LDG_SK_EXE,
    LDG_SK_GID,
    LDG_SK_PID,
    LDG_SK_UID,
    LDG_SK_UNIT,
    LDG_SK_COUNT
};
static const char *const ldg_source_keys[LDG_SK_COUNT] = {"exe", "gid", "pid",
                                                          "uid", "unit"};

/* ------------------------------------------------------- databases -- */

/* The core's databases in data.mdb (FORMAT.md 6), opened once at store
 * open; ldg_core_db_names (store.c) names them. */
enum ldg_core_db {
    LDG_DB_META,
    LDG_DB_ENTRIES,
    LDG_DB_BODIES,
    LDG_DB_TREE,
    LDG_DB_CHECKPOINTS,
    LDG_DB_KEYS,
    LDG_DB_IDX_TYPE,
    LDG_DB_IDX_SUBJECT,
    LDG_DB_IDX_RUN,
    LDG_DB_IDX_ACTOR,
    LDG_DB_IDX_TIME,
    LDG_DB_IDX_ID, /* format version 2; absent in older read-only ledgers */
    LDG_DB_SEALS,  /* ledger format 2; absent in older read-only ledgers */
    LDG_DB_TILES,  /* store layout 2; absent in older read-only ledgers */
    /* store layout 3: the indexes as sorted duplicates, one key per
     * value (FORMAT.md 6.1); absent in older read-only ledgers */
    LDG_DB_IX_TYPE,
    LDG_DB_IX_SUBJECT,
    LDG_DB_IX_RUN,
    LDG_DB_IX_ACTOR,
    /* store layout 5: the zstd dictionaries of body records (FORMAT.md
     * 4), and the entries and bodies as layout 5 keeps them (in place of
     * entries and bodies, which it keeps empty); absent in older
     * read-only ledgers */
    LDG_DB_DICTS,
    LDG_DB_ENTRIES5,
    LDG_DB_BODIES5,
    /* store layout 5: the body index (FORMAT.md 6.1, index.c): key name
     * ‖ 0x00 ‖ value of an indexed body field, sorted duplicates be64
     * seqs; derived data, kept current while meta "ix.body" says so */
    LDG_DB_IX_BODY,
    LDG_CORE_DBS
};
extern const char *const ldg_core_db_names[LDG_CORE_DBS];

/* entries, bodies, seals and checkpoints are keyed by a be64: the event's
 * seq, the seal's seq, the checkpoint's tree size. */
#define LDG_SEQ_KEY_LEN 8

/* A stored body record (db bodies; FORMAT.md 4.3): flag ‖ payload, the
 * payload as is or one zstd frame of it. */
#define LDG_BODY_RAW 0x00
#define LDG_BODY_ZSTD 0x01
/* Store layout 5 (FORMAT.md 4): a seeded record, seed[16] ‖ map { name :
 * value }; the same with the map as a magicless zstd frame after a
 * dictionary byte; a salted map as such a frame after a dictionary byte. */
#define LDG_BODY_SEEDED 0x02
#define LDG_BODY_SEEDED_Z 0x03
#define LDG_BODY_SALTED_Z 0x04
/* Store layout 6 (FORMAT.md 4): 0x02 and 0x03 with the salts derived by
 * AES-128 (ldg_seed_salts_aes) in place of BLAKE2b. */
#define LDG_BODY_SEEDED_AES 0x05
#define LDG_BODY_SEEDED_AES_Z 0x06

/* db dicts (store layout 5): key u8 id (1..255), value a zstd dictionary
 * (RFC 8878 section 5) whose Dictionary_ID is that id. */
#define LDG_DICT_IDS 256
#define LDG_DICT_KEY_LEN 1
#define LDG_DICT_MAX ((size_t)1 << 20) /* a reader refuses a bigger one */
/* What this build trains: a 16 KiB dictionary, frames at zstd level 1
 * with raw literals (compress5, body.c), from the bodies of the last
 * LDG_DICT_TRAIN_EVENTS events when the log reaches LDG_DICT_FIRST
 * events, and again each time it has grown LDG_DICT_GROWTH-fold since
 * (ldg_dict_due, writer.c). */
#define LDG_DICT_SIZE ((size_t)16 << 10)
#define LDG_DICT_LEVEL 1
#define LDG_DICT_TRAIN_EVENTS 8192
#define LDG_DICT_TRAIN_MIN 1024
#define LDG_DICT_FIRST 4096
#define LDG_DICT_GROWTH 16

/* ------------------------------------------------------------ meta -- */

/* meta "format": the magic, then the ledger format as be32. */
#define LDG_META_FORMAT "format"
#define LDG_META_FORMAT_MAGIC "LDGR"
#define LDG_META_FORMAT_LEN 8
/* meta "origin": the checkpoint origin line (text). */
#define LDG_META_ORIGIN "origin"
/* meta "log_key": the log key's Ed25519 public key (32 bytes). */
#define LDG_META_LOG_KEY "log_key"
/* meta "verified": be64 size ‖ root[32] of the last tree verified. */
#define LDG_META_VERIFIED "verified"
#define LDG_META_VERIFIED_LEN 40
/* meta "verify.full": be64 size ‖ be64 time (ns) of the last full run. */
#define LDG_META_VERIFY_FULL "verify.full"
#define LDG_META_VERIFY_FULL_LEN 16
/* meta "verify.finding": be64 seq ‖ be64 time (ns) ‖ what (text). */
#define LDG_META_VERIFY_FINDING "verify.finding"
#define LDG_META_VERIFY_FINDING_HEAD 16

/* meta "horizon": the horizon record (FORMAT.md 6.2, horizon.c): 0x92 ‖
 * canonical map ‖ bin8(64) signature by the log key. Absent: never pruned. */
#define LDG_META_HORIZON "horizon"
/* meta "horizon.entries": the pruned entries of the entry tile the horizon
 * falls in (events floor(seq/256)*256 .. seq-1), as an entry bundle lays
 * them out (be16 length ‖ entry, each), so that the bundle of that tile
 * can still be published (FORMAT.md 6.2). Absent: the horizon is on a
 * tile's edge. */
#define LDG_META_HORIZON_ENTRIES "horizon.entries"

/* meta "layout": be32, the store layout (FORMAT.md 6): how the core
 * keeps the signed bytes in LMDB, versioned apart from the ledger format.
 * Absent: layout 1. */
#define LDG_META_LAYOUT "layout"
#define LDG_META_LAYOUT_LEN 4
/* The layouts themselves, and what each keeps where: layout_int.h, the
 * one place that knows their numbers. */
/* meta "intake" (an intake layout: layout_int.h, LDG_HAS_INTAKE): how far
 * LMDB is brought up to date from DIR/intake: the intake's file id[16] ‖
 * u64be block ‖ u32be lap ‖ u64be seq, the position of the first frame
 * not applied. */
#define LDG_META_INTAKE "intake"
#define LDG_META_INTAKE_LEN 36

/* ----------------------------------------------------------- keys -- */

/* db keys holds two kinds of record: "id:" ‖ key_id[16] -> a key
 * record, and "name:" ‖ name -> key_id[16] (the newest key of that name). */
#define LDG_KEYS_ID "id:"
#define LDG_KEYS_ID_LEN 3
#define LDG_KEYS_NAME "name:"
#define LDG_KEYS_NAME_LEN 5
/* A key record: pub[32] ‖ be64 added_seq ‖ be64
 * revoked_seq (UINT64_MAX: never) ‖ name (1..LDG_NAME_MAX bytes). */
#define LDG_KEYREC_PUB 0
#define LDG_KEYREC_ADDED 32
#define LDG_KEYREC_REVOKED 40
#define LDG_KEYREC_NAME 48

/* ----------------------------------------------------------- tree -- */

/* A tree node's key (db tree): level byte ‖ be64 index; the value is the
 * node's 32-byte hash. */
#define LDG_TREE_KEY_LEN 9
static inline void
ldg_tree_key(uint8_t k[LDG_TREE_KEY_LEN], int level, uint64_t index)
{
    LDG_ASSERT(level >= 0 && level <= 63); /* a tree of at most 2^63 */
    k[0] = (uint8_t)level;
    ldg_be64(k + 1, index);
}

/* Layout 2. A full tile (db tiles): key tile level byte ‖ be64 tile
 * index (LDG_TREE_KEY_LEN bytes, as ldg_tree_key makes it); value the 256
 * hashes of tree level 8·tile level at indexes [256·n, 256·n + 256), in
 * order (C2SP tlog-tiles' tile, 8192 bytes). The hashes of level 8·L that
 * no full tile holds yet are in db tree, keyed (8·L, index) as in layout
 * 1; db tree holds nothing else. Every other node is computed from them. */
#define LDG_TILE_BYTES (LDG_TILE_WIDTH * 32)
/* Layout 4. A full tile's record in db tiles holds its first 255 hashes
 * (8160 bytes: an LMDB overflow value of two 4096-byte pages with their
 * 16-byte header, where 8192 bytes take three); its last hash, of index
 * 256·n + 255, stays in db tree, keyed (8·L, 256·n + 255) as the edge
 * keyed it. A record of LDG_TILE_BYTES (left by layout 3 until ledger
 * migrate has split it) holds all 256, and then db tree holds no last
 * hash for it. */
#define LDG_TILE_SPLIT_BYTES ((LDG_TILE_WIDTH - 1) * 32)

/* -------------------------------------------------------- indexes -- */

/* Layout 3's ix.type, ix.subject, ix.run and ix.actor: key the value
 * (1..LDG_SUBJECT_MAX bytes), each duplicate a be64 seq. */
#define LDG_IX_SEQ_LEN 8

/* An index key (idx.type, idx.subject, idx.run, idx.actor, idx.id):
 * value ‖ 0x00 ‖ be64 seq, with an empty value. idx.time's key is be64
 * ts ‖ be64 seq. The seq is always the last eight bytes. */
#define LDG_IKEY_SEQ_LEN 8

/* ix.body (FORMAT.md 6.1): the body fields it indexes (a string value,
 * or each string of an array value, of at most LDG_BIX_VALUE_MAX bytes
 * and without NUL), in bytewise order. Changing the list is a format
 * change: a store's index holds these and no others. */
#define LDG_BIX_NAMES                                                          \
    {                                                                          \
        "decision", "kind", "outcome", "rule", "slot", "status", "tier"        \
    }
#define LDG_BIX_NNAMES 7
#define LDG_BIX_VALUE_MAX 64
/* meta "ix.body": be64 N, the index holds the keys of every stored body
 * of events below N (those above the horizon), and of none at or after
 * it. The index answers queries only while N is the log's size; appends
 * keep it so when it is, ledger rebuild and migrate make it so. Absent:
 * no index (a store made before it: rebuild builds it). */
#define LDG_META_IX_BODY "ix.body"
/* meta "digest.next": be64 seq, layouts 7 and 8: records of entries5 from
 * this seq on may still be sealed entries stored without their claim
 * digest (as layouts 5 and 6 wrote them) or, at layout 8, in layout 7's
 * form, which ledger migrate rewrites in the layout's own form, a chunk a
 * transaction, moving this on; the last chunk deletes it. Absent: every
 * record that migrate rewrites is in the layout's form (FORMAT.md 6.1,
 * layouts 7 and 8). */
#define LDG_META_DIGEST_NEXT "digest.next"

/* Writes value (n bytes, no NUL inside) ‖ 0x00 ‖ be64 seq at k (room for
 * n + 9 bytes); returns the key's length. */
static inline size_t
ldg_ikey_make(uint8_t *k, const void *value, size_t n, uint64_t seq)
{
    memcpy(k, value, n);
    k[n] = 0;
    ldg_be64(k + n + 1, seq);
    return n + 1 + LDG_IKEY_SEQ_LEN;
}

/* The seq of an index key of len bytes (len >= 8). */
static inline uint64_t
ldg_ikey_seq(const void *k, size_t len)
{
    return ldg_rd_be64((const uint8_t *)k + len - LDG_IKEY_SEQ_LEN);
}

#endif
