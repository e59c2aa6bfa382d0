/*
 * ledger_int.h — shared between the files of ledger/, not public.
 */
#ifndef LDG_LEDGER_INT_H
#define LDG_LEDGER_INT_H

#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "ledger/crypto_int.h"
#include "ledger/format.h"
#include "ledger/module.h"
#include "util/util.h"

#define LDG_LOG_KEY_NAME "log"
#define LDG_MAX_APPLIERS 16
#define LDG_MAX_KEYS_CACHED 64

#include "ledger/record_int.h" /* the codec part */

/* tree.c: prev of event seq (the stored tree's leaf hash of seq-1; zeros
 * for seq 0). */
int ldg_entry_prev(struct ldg_txn *t, uint64_t seq, uint8_t prev[32]);

/* ------------------------------------------------------------ store.c -- */

struct ldg_store;
struct ldg_store_opts {
    size_t map_size, map_max;
    int rdonly, nosync;
    int room_to_rewrite; /* LDG_ROOM_TO_REWRITE */
};
int ldg_store_open(struct ldg_store **out, const char *path,
                   const struct ldg_store_opts *o, char *err, size_t errcap);
void ldg_store_close(struct ldg_store *s);
/* Drops this process's mapped pages of data.mdb (they stay in the page
 * cache); keeps long jobs' resident size bounded. */
void ldg_store_trim(struct ldg_store *s);
/* [p, p + len) is part of the map (values handed out by cursors): how
 * many of `samples` pages spread over it are not in the page cache (0
 * when that cannot be told); and a request that the kernel read it in now,
 * asynchronously (MADV_WILLNEED: big reads, not a page per fault). Only
 * speed depends on them. */
unsigned ldg_map_missing(const void *p, size_t len, unsigned samples);
void ldg_map_willneed(const void *p, size_t len);
/* After a commit failed with LDG_EFULL (no transaction may be open):
 * clears dead readers' slots and returns 0 if there were any (retry in the
 * same map); else grows the map, doubling but never past map_max nor past
 * what the file system has room for, and returns 0; else LDG_EFULL with
 * the cause in why ("no space left on device (N MiB free on FS)"). */
int ldg_store_grow(struct ldg_store *s, char *why, size_t cap);
/* Did the last write commit fail for want of disk space? */
int ldg_store_disk_full(struct ldg_store *s);
/* Clears the reader slots of dead processes; returns how many. */
int ldg_store_reader_check(struct ldg_store *s);
/* Free bytes on data.mdb's file system (for an unprivileged user) and the
 * file's size. */
int ldg_store_fs_free(struct ldg_store *s, uint64_t *free_bytes,
                      uint64_t *file_bytes);
/* The writers of the core's own databases: ldg_kv_put, ldg_kv_del and
 * ldg_db_drop without the refusal of core databases (ledger/ only; tests
 * that tamper with the store on purpose). */
int ldg_core_kv_put(struct ldg_txn *t, ldg_dbi dbi, const void *key,
                    size_t klen, const void *val, size_t vlen);
int ldg_core_kv_del(struct ldg_txn *t, ldg_dbi dbi, const void *key,
                    size_t klen, const void *val, size_t vlen);
int ldg_core_db_drop(struct ldg_txn *t, ldg_dbi dbi, int del);
/* A duplicate value of key in a database of sorted duplicates (ix.*),
 * appended after the key's others when it is the greatest; one already
 * there is left as it is. */
int ldg_core_kv_put_dup(struct ldg_txn *t, ldg_dbi dbi, const void *key,
                        size_t klen, const void *val, size_t vlen);
/* n duplicates (each bytes apiece, ascending, after key's others) of key
 * in a database of sorted duplicates of that size, in one request where
 * LMDB can (ledger migrate's copy into ix.*). */
int ldg_core_kv_put_dups(struct ldg_txn *t, ldg_dbi dbi, const void *key,
                         size_t klen, const void *vals, size_t each, size_t n);
/* 0 when key holds the duplicate val (a database of sorted duplicates),
 * else LDG_ENOTFOUND or an error. */
int ldg_core_kv_get_both(struct ldg_txn *t, ldg_dbi dbi, const void *key,
                         size_t klen, const void *val, size_t vlen);
/* Replaces the value of the record under the cursor (a write
 * transaction's; not a database of sorted duplicates): ledger migrate's
 * conversion of records in place. */
int ldg_cursor_put_current(struct ldg_cursor *c, const void *val, size_t vlen);
/* Put that never overwrites and requires the key to sort last (entries). */
int ldg_kv_put_new(struct ldg_txn *t, ldg_dbi dbi, const void *key, size_t klen,
                   const void *val, size_t vlen);
int ldg_store_txn_begin(struct ldg_store *s, struct ldg_ledger *l, int write,
                        struct ldg_txn **out);
/*
 * A transaction with an overlay: an LMDB read snapshot and, in memory,
 * whatever it writes (overlay_int.h). Every get, put, delete, count and
 * cursor step of the store's wrappers (ldg_kv_*, ldg_core_kv_*,
 * ldg_cursor_*, ldg_db_count, ldg_core_db_drop without del) sees the
 * snapshot with its own changes over it, exactly as a write transaction
 * sees its own (tests/ledger/test_store_overlay.c holds it to that), so
 * the append path runs on it unchanged; nothing reaches the store:
 * ldg_txn_commit refuses it (LDG_EINVAL, after freeing it) and
 * ldg_txn_abort drops it. A cursor's state after LDG_ENOTFOUND is
 * unpositioned, except after LDG_NEXT_DUP and LDG_PREV_DUP (it stays on
 * its item, as LMDB's). Page counts (ldg_db_bytes, ldg_store_db_sizes,
 * ldg_store_check_pages) are the snapshot's. Values read are valid until
 * the transaction ends. Costs: memory for every change, O(log n) a
 * change and a seek; a cursor step is O(1) while nothing changes under
 * it.
 */
int ldg_store_txn_begin_overlay(struct ldg_store *s, struct ldg_ledger *l,
                                struct ldg_txn **out);
int ldg_txn_is_overlay(const struct ldg_txn *t);
/* Writes what a commit writes last (meta "ix.body", how far the body
 * index reaches): a commit does it itself; a transaction with an overlay
 * that stored events does it before it is read as the store. */
int ldg_txn_settle(struct ldg_txn *t);
/* Marks an overlay transaction a reader's: ldg_txn_commit ends it as a
 * read transaction's (0), and ldg_txn_snapshot tells apart snapshots
 * with tails of other lengths (events: how many it replayed). */
void ldg_txn_set_reader(struct ldg_txn *t, uint64_t events);
/* Bytes of memory t's overlay holds (0 without one). */
size_t ldg_txn_overlay_bytes(const struct ldg_txn *t);
/* 0 when t's store layout is the one this build appends to (the newest),
 * else LDG_EVERSION with the remedy (ledger migrate) in the message. */
int ldg_txn_writable(struct ldg_txn *t);
/* The databases that hold the entries and the bodies in t's store layout:
 * entries and bodies before layout 5, entries5 and bodies5 from it. */
enum ldg_core_db ldg_db_entries(struct ldg_txn *t);
enum ldg_core_db ldg_db_bodies(struct ldg_txn *t);
/* The core databases: enum ldg_core_db (format.h). */
ldg_dbi ldg_store_core_dbi(struct ldg_store *s, enum ldg_core_db which);
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
/* 0 when a read-only open found no such database (idx.id in a ledger
 * written before format version 2). */
int ldg_store_has_core(struct ldg_store *s, enum ldg_core_db which);
/* Number of entries in a database, and bytes of pages it uses. */
int ldg_db_count(struct ldg_txn *t, ldg_dbi dbi, uint64_t *n);
int ldg_db_bytes(struct ldg_txn *t, ldg_dbi dbi, uint64_t *bytes);
/* Current map size. */
uint64_t ldg_store_map_size(struct ldg_store *s);
/* Last error detail text of the store (LMDB's message). */
const char *ldg_store_strerror(int mdb_rc);
/* verify --full's walk of every page of t's snapshot as LMDB lays it out
 * (store.c says what is checked): 0 when sound, 1 with what (cap bytes)
 * naming the database, the page and the damage, < 0 on an error. */
int ldg_store_check_pages(struct ldg_txn *t, char *what, size_t cap);
/* ldg_stats_databases's rows from t's snapshot (store.c). */
int ldg_store_db_sizes(struct ldg_txn *t, struct ldg_db_size **out, size_t *n);
/* ldg_stats_snapshots's holders from LMDB's reader table, less t itself,
 * with the pages each holds (store.c); *last_txnid is t's commit. */
int ldg_store_snapshots(struct ldg_txn *t, struct ldg_snapshot_holder **out,
                        size_t *n, uint64_t *last_txnid);

/* ---------------- the handle and the append path (open.c ... writer.c) -- */

/* Layout 999: a read transaction is a view of the store with the intake's
 * tail over it, and a write to the store applies the tail first
 * (intake_log.c's ldg_intake_read_begin and ldg_intake_settle); the
 * epoch sealers take its lock (ldg_intake_lock_ex). */
struct ldg_intake_hooks {
    int (*read_begin)(struct ldg_ledger *l, struct ldg_txn **out);
    int (*settle)(struct ldg_ledger *l);
    /* the intake's exclusive lock (an fd, or an error) and its release */
    int (*lock_ex)(struct ldg_ledger *l);
    void (*unlock_ex)(struct ldg_ledger *l, int fd);
};

struct ldg_key_state {
    char key_id[LDG_KEYID_LEN + 1];
    char name[LDG_NAME_MAX + 1];
    uint8_t pub[32];
    uint64_t added_seq, revoked_seq;
    uint32_t roles; /* ldg_roles_mask of its key.added (set once proven) */
};

struct ldg_ledger {
    char dir[4096];
    char origin[LDG_ORIGIN_MAX + 1];
    int format; /* ledger format version: 1 or 2 (sealed entries) */
    struct ldg_store *store;
    struct ldg_options opts;
    struct ldg_key *log_key; /* secret loaded when writable */
    struct ldg_key *actors[LDG_MAX_KEYS_CACHED];
    size_t nactors;
    struct ldg_applier appliers[LDG_MAX_APPLIERS];
    size_t nappliers;
    uint8_t salt_seed[32];
    int has_salt_seed;
    const uint64_t *clock_ns;
    char errmsg[1024];
    /* Messages set on a writer's commit thread go to err_alt so they
     * never mix with the caller's (see ldg_errbuf). */
    char err_alt[1024];
    /* Key registry records the log has been found to prove (keys.c): the
     * key.added of a key is a fact of an append-only log, so it is
     * proven once per handle. Guarded by keys_mu (the bulk writer's
     * thread looks keys up too). */
    pthread_mutex_t keys_mu;
    struct ldg_key_state kproven[LDG_MAX_KEYS_CACHED];
    size_t nkproven;
    /* Store layout 5's compression dictionaries (body.c, FORMAT.md 4):
     * every one read so far (ldg_txn_dicts), and the one new records are
     * made with, which the writer replaces when it trains or finds a
     * newer (writer.c, ldg_dict_due). The ones replaced are kept until
     * the handle closes (a prep thread may still hold one). Guarded by
     * dict_mu; cdict is read with an acquire load. */
    struct ldg_dicts *dicts;
    pthread_mutex_t dict_mu;
    struct ldg_cdict *cdict;
    struct ldg_cdict *cdict_old[LDG_DICT_IDS];
    size_t ncdict_old;
    uint64_t dict_tried; /* log size at the last training that failed */
    /* The intake frame the commit under way records its events, seals
     * and checkpoint in (append.c), or NULL. */
    struct ldg_intake_build *frame;
    /* Store layout 999: the intake log every append goes through
     * (intake_log.c); NULL at other layouts. */
    struct ldg_intake_state *intake;
    /* ... and how a transaction reaches it: set by ldg_intake_attach, so
     * that ldg_txn_begin (handle.c, below the append part) calls no part
     * above its own. */
    const struct ldg_intake_hooks *intake_hooks;
    /* The earliest end of the period of an epoch that a seal this handle
     * stored or replayed has opened since ldg_keys_epoch_due last took it
     * (0: none); atomic (epoch_log.c). */
    uint64_t epoch_due_ns;
};

/* dicts.c: the dictionary new records of l are compressed with (NULL:
 * none yet); the newest of t's snapshot made that one (after an open);
 * after a commit that brought the log to size events, a dictionary trained
 * and stored when one is due (never fails: what was committed stays). */
const struct ldg_cdict *ldg_ledger_cdict(struct ldg_ledger *l);
int ldg_dict_refresh(struct ldg_ledger *l, struct ldg_txn *t);
void ldg_dict_after_commit(struct ldg_ledger *l, uint64_t size);
/* Trains dictionary id on the last events of a log of size events, stores
 * it and makes new records use it (or the one another writer stored
 * first): 0, LDG_ENOTFOUND (too little to learn from), or an error. */
int ldg_dict_make(struct ldg_ledger *l, unsigned id, uint64_t size);

/* error.c: from now on this thread writes the handle's second message
 * buffer (a bulk writer's commit thread, for its whole life). */
void ldg_err_on_commit_thread(void);

/* One of the core databases of the handle's store. */
static inline ldg_dbi
ldg_core(struct ldg_ledger *l, enum ldg_core_db which)
{
    return ldg_store_core_dbi(l->store, which);
}

/* open.c: the handle's clock (ldg_set_clock) or the real time, in ns. */
uint64_t ldg_clock_now(const struct ldg_ledger *l);

/* read.c: the stored body record of seq (borrowed, valid until the
 * transaction ends); LDG_EERASED if the entry is there but its body was
 * erased. */
int ldg_body_raw(struct ldg_txn *t, uint64_t seq, struct ldg_val *v);

/* tree.c: signs and stores the checkpoint for the tree of size leaves. */
int ldg_checkpoint_put(struct ldg_txn *t, uint64_t size);

/* keyring.c: loads the log key's secret (if not yet); the signing key for
 * actor name (NULL: the log key), borrowed from the handle's cache. */
int ldg_log_secret_load(struct ldg_ledger *l);
int ldg_actor_key(struct ldg_ledger *l, const char *name, struct ldg_key **out);

/* append.c: one event on its way into the log (see append.c's steps). */
struct ldg_prep {
    char type[LDG_TYPE_MAX + 1];
    /* NUL-terminated, "" for none: in text (owned; prep_text keeps them
     * at their own lengths), else static strings (write_genesis) */
    const char *subject, *run, *id;
    char *text;
    int has_parent;
    uint64_t parent;
    struct ldg_key *signer; /* borrowed from the handle */
    json_t *body;           /* owned reference */
    uint64_t seq, ts;       /* stamp the signature was made for */
    uint64_t body_seq;      /* seq the body record was prepared for */
    int signed_ok;          /* stamp, body and signature are done */
    int rc;                 /* error from signing, if any */
    struct ldg_body_rec body_rec;
    struct ldg_buf entry;
    size_t map_len;
    uint8_t sig[64];
    /* format version 2 (id above) */
    int has_time;
    uint64_t time_ns;
    int has_source;
    struct ldg_source source; /* exe, unit malloc'd (or NULL) */
    /* ledger format 2: entry holds 0x93 ‖ claim (map_len bytes) once
     * prepared; digest is the claim digest. salts: a sealed batch's
     * (borrowed), else NULL. */
    uint8_t digest[32];
    const json_t *salts;
    uint64_t seal_seq, seal_leaf; /* its stamp's seal and leaf */
    int dup;                      /* its id was found in the log: not stored */
    uint64_t dup_seq;             /* the event that carries the id */
    unsigned dup_differs;         /* enum ldg_dup_diff: what of it differs */
    uint64_t tag; /* the writer's caller's (ldg_writer_add_tagged) */
};
void ldg_prep_release(struct ldg_prep *p);
/* For an event that waits in the bulk writer: drops what the commit does
 * not read (the body's JSON tree where the record serves, the record's
 * slack), so many more fit in the same memory. */
void ldg_prep_compact(const struct ldg_ledger *l, struct ldg_prep *p);
/* An event ldg_prepare made (off the writer's caller's thread): the prep
 * and what refused it, reported by ldg_prep_finish in order. */
struct ldg_prepared {
    struct ldg_prep p;
    int rc;      /* refused as an event (prep_event) */
    int body_rc; /* refused for its body (judged after the actor) */
    int has_actor;
    char actor[LDG_NAME_MAX + 1];
    char err[1024];
};
/* ldg_writer_add_prepared's step 1: pe's refusal, or its actor checked as
 * the log is now, or its body's refusal (message set), else 0 with the
 * prep moved into *p. */
int ldg_prep_finish(struct ldg_ledger *l, struct ldg_prepared *pe,
                    struct ldg_prep *p);
/* Step 1 (validate) with a predicted seq. */
int ldg_prep_init(struct ldg_ledger *l, struct ldg_prep *p,
                  const struct ldg_event_in *in, uint64_t seq_hint);
/* Steps 2-4 for a given stamp; thread-safe. */
int ldg_prep_sign(const struct ldg_ledger *l, struct ldg_prep *p, uint64_t seq,
                  uint64_t ts);
/* Steps 5-8 for n prepared events in one write transaction; seqs and
 * first_seq as ldg_batch_commit. */
int ldg_commit_group(struct ldg_ledger *l, struct ldg_prep *preps, size_t n,
                     uint64_t *first_seq);
/* The same; *stored (may be NULL) gets how many were stored: a prep whose
 * id is already in the log (or earlier in the group) is skipped, with
 * p->dup set and p->dup_seq naming that event. */
int ldg_commit_group_n(struct ldg_ledger *l, struct ldg_prep *preps, size_t n,
                       uint64_t *first_seq, uint64_t *stored);
/* The same over several arrays of preps, in order, as one transaction
 * (the bulk writer commits every batch that is ready at once). */
struct ldg_prep_span {
    struct ldg_prep *p;
    size_t n;
};
int ldg_commit_spans(struct ldg_ledger *l, const struct ldg_prep_span *spans,
                     size_t nspans, uint64_t *first_seq, uint64_t *stored);
/* The event that carries id (idx.id): 0 and *seq, or LDG_ENOTFOUND. */
int ldg_index_id_lookup(struct ldg_txn *t, const char *id, size_t len,
                        uint64_t *seq);

/* The message buffer for the calling thread. */
char *ldg_errbuf(struct ldg_ledger *l);

void ldg_seterr(struct ldg_ledger *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Big-endian helpers (ldg_be64, ldg_rd_be64, ...): util/util.h. */

/* Key registry (keys.c) — derived from key.added/key.revoked. */
/* The registry record as stored, unchecked (verify's comparison). */
int ldg_keys_lookup_raw(struct ldg_txn *t, const char *key_id,
                        struct ldg_key_state *ks);
/* The registry record of key_id, proven against the log's key events
 * (keys.c): LDG_ETAMPER with a message if the registry says otherwise. */
int ldg_keys_lookup(struct ldg_txn *t, const char *key_id,
                    struct ldg_key_state *ks);
/* Compares the key registry with the n keys the log proves (from its
 * genesis, key.added and key.revoked events, in any order): the same ids,
 * each with the same public key, name, added and revoked seq, and each
 * name pointing at its newest key. 0, or LDG_ETAMPER with *seq (an event
 * the wrong record is about, UINT64_MAX if none) and why filled. */
int ldg_keys_registry_check(struct ldg_txn *t,
                            const struct ldg_key_state *proven, size_t n,
                            uint64_t *seq, char *why, size_t cap);
/* Sets key_id's sealed count (keys DB "sealed:" key_id -> u64be). */
int ldg_keys_sealed_put(struct ldg_txn *t, const char *key_id, uint64_t n);
int ldg_keys_lookup_name(struct ldg_txn *t, const char *name,
                         struct ldg_key_state *ks);
int ldg_keys_apply(struct ldg_txn *t, const struct ldg_event *ev,
                   const json_t *body);
int ldg_keyfile_write(const char *dir, const struct ldg_key *k, char *err,
                      size_t errcap);
int ldg_keyfile_read(const char *dir, const char *name, struct ldg_key **out,
                     char *err, size_t errcap);

/* Indexes (index.c). */

int ldg_index_put(struct ldg_txn *t, const struct ldg_event *ev);

/* ix.body (index.c, FORMAT.md 6.1). A write transaction's upkeep of it:
 * state 0 before its first append, 1 kept (next: the seq it indexes next),
 * -1 not kept; dirty: ldg_txn_commit writes meta "ix.body" = next; view:
 * the view each append reads a record with, made by the first, freed with
 * the transaction (ldg_bix_release). */
struct ldg_bix {
    int state;
    uint64_t next;
    int dirty;
    struct ldg_body_view *view;
};
void ldg_bix_release(struct ldg_bix *x);
struct ldg_bix *ldg_txn_bix(struct ldg_txn *t);
/* What a floor above the store keeps for the length of one transaction
 * under one hold of the sealers' lock (epoch_log.c: the epoch states a
 * commit loaded), released with it: ldg_txn_memo gives what
 * ldg_txn_set_memo set, or NULL; set_memo replaces it (the old one is the
 * caller's); ldg_txn_memo_drop releases it now (the intake's kept view,
 * taken again under a new hold of the lock: what the files held may have
 * changed meanwhile). */
void *ldg_txn_memo(struct ldg_txn *t);
void ldg_txn_set_memo(struct ldg_txn *t, void *memo, void (*release)(void *));
void ldg_txn_memo_drop(struct ldg_txn *t);
/* 1 if ix.body indexes body field name. */
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

/* horizon.c */
int ldg_horizon_decode(const uint8_t *p, size_t len, struct ldg_horizon *h);
/* The entry of pruned event seq kept for the horizon's entry tile (meta
 * "horizon.entries"; hz: the horizon), borrowed from t: 0 with *entry and
 * *len; LDG_ENOTFOUND when it is not kept; LDG_ECORRUPT (the record does
 * not parse). */
int ldg_horizon_entry(struct ldg_txn *t, uint64_t hz, uint64_t seq,
                      const uint8_t **entry, size_t *len);
const struct ldg_horizon_key *ldg_horizon_key_find(const struct ldg_horizon *h,
                                                   const char *key_id);
/* keys.c: a horizon key's roles mask from their names ("*": the log
 * key's, every type; "": none given). */
uint32_t ldg_horizon_roles_mask(const char *text);
/* keys.c: a proven key's roles, comma-separated, as its key.added gave
 * them (or the horizon record, for a key added before it). */
void ldg_keys_roles_text(struct ldg_txn *t, const struct ldg_key_state *ks,
                         char *buf, size_t cap);

/* Internal tree maintenance (tree.c). */
int ldg_tree_add_leaf(struct ldg_txn *t, uint64_t seq, const uint8_t leaf[32]);
/* Benchmarks only (LDG_BENCH_NOTREE): level 0 alone, the leaf hashes a
 * layout 5 reader takes each entry's prev from (its edge and full tiles,
 * stored as ldg_tree_add_leaf stores them); no level above, so no root. */
int ldg_tree_add_leaf_only(struct ldg_txn *t, uint64_t seq,
                           const uint8_t leaf[32]);
/* Layouts 2 to 4: copies the 256 hashes of full tile n of tile level tl
 * into out (in layout 4 from its record in db tiles and its last hash in
 * db tree). LDG_ENOTFOUND when that tile is not full yet, LDG_ECORRUPT
 * when its record has a length the layout does not have, or its last hash
 * is missing. */
int ldg_tree_tile_get(struct ldg_txn *t, int tl, uint64_t n,
                      uint8_t out[LDG_TILE_BYTES]);
/* Store layout 999 (issue 64, item 6): a prune drops the level-0 tiles
 * that lie wholly before the tile holding the last pruned event (and
 * their last hashes in db tree), which only proofs of pruned events need
 * (FORMAT.md 6.2, "Layout 999"). *from gets the first leaf whose level-0
 * hashes the store still keeps: floor((H-1)/256)*256 for a ledger pruned
 * at horizon H at layout 999, else 0 (every hash kept). A tree read that
 * needs a level-0 hash before it answers LDG_EPRUNED. */
int ldg_tree_kept_from(struct ldg_txn *t, uint64_t *from);
/* The message for a proof that needs the tree hashes a prune dropped
 * (LDG_EPRUNED from the tree): what it was (e.g. "no inclusion proof of
 * event 5"), the horizon, the first leaf kept and the archive that
 * proves the rest, set on t's ledger. Returns LDG_EPRUNED. */
int ldg_tree_pruned_err(struct ldg_txn *t, const char *what);
/* The root of full tile n of tile level tl, computed from its 256 stored
 * hashes (in layout 1 from the stored nodes of tree level 8·tl): what the
 * stored hash (8·(tl+1), n) must be. LDG_ENOTFOUND when the tile is not
 * full, LDG_ECORRUPT as ldg_tree_tile_get. */
int ldg_tree_tile_root(struct ldg_txn *t, int tl, uint64_t n, uint8_t out[32]);
/* The same, for verify: 0 with *count 256, or 255 when a split tile's
 * last hash is missing or malformed (out holds the first 255), so that
 * the damage is named at its own event. */
int ldg_tree_tile_read(struct ldg_txn *t, int tl, uint64_t n,
                       uint8_t out[LDG_TILE_BYTES], size_t *count);
/* Layout 4 (ledger migrate from 3): splits the whole tiles (records of
 * LDG_TILE_BYTES) of db tiles from key `from` (LDG_TREE_KEY_LEN bytes; all
 * zero: the first) on, at most max of them: each keeps its first 255
 * hashes, and its last goes to db tree. *next is the key to go on from and
 * *done 1 when no tile is left after it; *split counts the tiles split. */
/* Layout 4: *n counts the whole tiles (of 256 hashes) db tiles still
 * holds: what a stopped migrate left for the next to split (0 before
 * layout 4). */
int ldg_tree_tiles_whole(struct ldg_txn *t, uint64_t *n);
int ldg_tree_tiles_split(struct ldg_txn *t,
                         const uint8_t from[LDG_TREE_KEY_LEN], size_t max,
                         uint8_t next[LDG_TREE_KEY_LEN], int *done,
                         uint64_t *split);
/* Hashes of tree level 8·tl in a log of size leaves. */
uint64_t ldg_tree_level_count(uint64_t size, int tl);
/* ledger migrate to layout 2 (migrate.c), in write transactions of a
 * layout 1 ledger: writes full tiles [from, to) of tile level tl from the
 * nodes of db tree, each checked against the node above it; then, in the
 * last one, the tiles still missing for a log of size leaves, db tree cut
 * to the edge, meta "layout", and a check that the root is unchanged. */
int ldg_tree_tiles_copy(struct ldg_txn *t, int tl, uint64_t from, uint64_t to);
int ldg_tree_tiles_finish(struct ldg_txn *t, uint64_t size);

struct ldg_store *ldg_txn_store(struct ldg_txn *t);
/* The store layout of t's snapshot (format.h, LDG_LAYOUT_*): 1, 2, or
 * -err (LDG_ECORRUPT: a malformed record; LDG_EVERSION: a newer layout). */
int ldg_txn_layout(struct ldg_txn *t);
void ldg_txn_set_layout(struct ldg_txn *t, int layout);
/* Meta "digest.next" of t (layouts 7 and 8: the records from *seq on may
 * not be in the layout's stored form yet, a migrate having stopped): 0
 * with *seq,
 * LDG_ENOTFOUND (none left to rewrite), or LDG_ECORRUPT (not 8 bytes,
 * named in the handle's message). In ledger/migrate.c. */
int ldg_txn_digest_next(struct ldg_txn *t, uint64_t *seq);

/* Each third-party library's version, named by the one file that uses it
 * (see ldg_lib_versions). */
const char *ldg_store_lib_version(void); /* store.c: LMDB */

/* handle.c: "no ledger in dir" with what to do, into err */
void handle_no_ledger(const char *dir, char *err, size_t errcap);

/* horizon.c */
size_t hz_map_cap(const struct ldg_horizon *h);
int hz_map_encode(const struct ldg_horizon *h, uint8_t *out, size_t cap,
                  size_t *len);

/* open.c: a handle on dir's store (create: a new one, ldg_init's), its
 * meta read; err says why not */
int ldg_open_handle(struct ldg_ledger **out, const char *dir,
                    const struct ldg_options *opts, int create, char *err,
                    size_t errcap);

/* epoch_log.c: the body of name's key.anchored event, an epoch state of
 * period_ns made (or one a failed anchor left taken again); the caller's
 * (ldg_keys_anchor, key_events.c, appends it). */
int ldg_epoch_anchor_body(struct ldg_ledger *l, const char *name,
                          uint64_t period_ns, json_t **out);

#endif
