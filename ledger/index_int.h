/*
 * index_int.h — the index part of ledger/: the indexes (index.c),
 * ix.body among them.
 */
#ifndef LDG_INDEX_INT_H
#define LDG_INDEX_INT_H

#include "ledger/handle_int.h"

/* The core database behind a public index in a store layout (index.c):
 * idx.* in layouts 1 and 2, ix.* in layout 3; LDG_CORE_DBS for none. */
enum ldg_core_db ldg_index_db(enum ldg_index which, int layout);
/* 1 when db keeps an index as a key per value with sorted 8-byte
 * duplicates (ix.*: the seqs), 0 for the keys-only indexes (idx.*). */
int ldg_index_dups(enum ldg_core_db db);
/* Appends the seqs in [lo, hi] of the events of one type (the type
 * index's, ascending) to the caller's array *out of *n (realloc'd; *out
 * may be NULL, the caller frees it). */
int ldg_type_seqs(struct ldg_txn *t, const char *type, uint64_t lo, uint64_t hi,
                  uint64_t **out, size_t *n);

/* The event that carries id (idx.id): 0 and *seq, or LDG_ENOTFOUND. */
int ldg_index_id_lookup(struct ldg_txn *t, const char *id, size_t len,
                        uint64_t *seq);

int ldg_index_put(struct ldg_txn *t, const struct ldg_event *ev);

/* ix.body (FORMAT.md 6.1; a write's upkeep of it: struct ldg_bix in
 * handle_int.h). 1 if ix.body indexes body field name. */
int ldg_bix_name(const char *name);
/* Indexes appended event seq's body (body, or else its stored record rec
 * uncompressed or not), when the index is current with seq. One of body
 * and rec is given: LDG_EINVAL, and nothing changed, when neither is. */
int ldg_bix_append(struct ldg_txn *t, uint64_t seq, const uint8_t *rec,
                   size_t len, const json_t *body);
/* Deletes the keys of seq's stored body (before the record goes). */
int ldg_bix_erase(struct ldg_txn *t, uint64_t seq);
/* 1 if ix.body is current with the log in t (meta "ix.body" = its size). */
int ldg_bix_current(struct ldg_txn *t);
/* Empties ix.body and indexes every stored body; meta says so at commit.
 * It writes a key's seqs in one request, gathered until it holds
 * ldg_bix_batch_pairs pairs or ldg_bix_batch_keys keys (a power of 2, at
 * least 16; tests lower them). */
extern size_t ldg_bix_batch_pairs, ldg_bix_batch_keys;
int ldg_bix_build(struct ldg_txn *t);
/* The pass that builds it, for a caller with bodies in hand (migrate):
 * _add gathers the keys of event seq's body (seqs ascending from one
 * _add to the next), from view b when given (borrowed for the call),
 * else from its stored record rec; it writes into t's ix.body what it
 * gathered when that reaches the limits above. _flush writes the rest
 * (then the batch is empty: a batch spans transactions only when each
 * ends with a flush); _free drops what was not flushed. */
struct ldg_bix_batch;
int ldg_bix_batch_new(struct ldg_bix_batch **out);
void ldg_bix_batch_free(struct ldg_bix_batch *bb);
int ldg_bix_batch_add(struct ldg_bix_batch *bb, struct ldg_txn *t, uint64_t seq,
                      const struct ldg_body_view *b, const uint8_t *rec,
                      size_t len);
/* As _add, with the keys made already (ldg_bix_view_keys's layout). */
int ldg_bix_batch_add_keys(struct ldg_bix_batch *bb, struct ldg_txn *t,
                           uint64_t seq, const uint8_t *keys, size_t len);
int ldg_bix_batch_flush(struct ldg_bix_batch *bb, struct ldg_txn *t);
/* Says at t's commit (meta "ix.body") that ix.body holds the keys of
 * every stored body below size. */
void ldg_bix_mark_current(struct ldg_txn *t, uint64_t size);
/* Deletes the keys of event seq's stored body record rec from ix.body
 * (for a record read from elsewhere than ldg_db_bodies: migrate's copy). */
int ldg_bix_unindex(struct ldg_txn *t, uint64_t seq, const uint8_t *rec,
                    size_t len);
/* verify --full's check of ix.body against the stored bodies of events
 * start.. : 0 when it holds exactly their keys, 1 with *bad_seq and why
 * (a NUL-terminated finding of at most whyn bytes) naming the first fault,
 * < 0 on an error. Call it only when ldg_bix_current says 1. */
int ldg_bix_check(struct ldg_txn *t, uint64_t start, uint64_t *bad_seq,
                  char *why, size_t whyn);
/* The distinct ix.body keys of one stored body record (an array's
 * repeated string once), each as a byte of length then the key, in
 * out->buf (grown as needed; the caller frees it), read through view b
 * with dictionaries d. 0, or < 0 when the record cannot be read. */
struct ldg_bix_keys {
    uint8_t *buf;
    size_t len, cap;
};
int ldg_bix_keys(const struct ldg_dicts *d, size_t max, struct ldg_body_view *b,
                 const uint8_t *rec, size_t len, struct ldg_bix_keys *out);
/* Appends the distinct keys of the body view b to out (from out->len on,
 * laid out as ldg_bix_keys's): 0, or LDG_ENOMEM. Touches nothing but b
 * and out: a thread of its own may call it. */
int ldg_bix_view_keys(const struct ldg_body_view *b, struct ldg_bix_keys *out);
/* verify --full's keyed sum of ix.body pairs (mod 2^128): _add adds the
 * hash of (key k, be64 seq) under hkey; ldg_bix_sum walks ix.body and
 * sums every pair it holds, with their count in *n: 0, 1 when a pair is
 * malformed (ldg_bix_check names it), or < 0 on an error. */
void ldg_bix_sum_add(const uint8_t hkey[16], const uint8_t *k, size_t n,
                     const uint8_t seq[8], uint64_t sum[2]);
int ldg_bix_sum(struct ldg_txn *t, const uint8_t hkey[16], uint64_t sum[2],
                uint64_t *n);
/* Checks that every index entry for ev exists. */
int ldg_index_check(struct ldg_txn *t, const struct ldg_event *ev);
/* Calls fn with each index key ev calls for in store layout `layout`
 * (the keys ldg_index_put writes, in the same order), without a
 * transaction: the database that keeps it and its canonical form, value
 * ‖ 0x00 ‖ be64 seq (in ix.*, the key value and the duplicate seq). */
void ldg_index_keys(const struct ldg_event *ev, int layout,
                    void (*fn)(void *ctx, enum ldg_core_db db,
                               const uint8_t *key, size_t n),
                    void *ctx);

#endif
