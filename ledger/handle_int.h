/*
 * handle_int.h — the store part of ledger/ as the parts above it see
 * it (tools/ledger_parts.txt): the handle, the store and its
 * transactions, the messages, the horizon record. store_int.h keeps what
 * only the store's own files see (LMDB's objects).
 */
#ifndef LDG_HANDLE_INT_H
#define LDG_HANDLE_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "ledger/layout_int.h"
#include "ledger/record_int.h" /* the codec part */

#define LDG_MAX_APPLIERS 16
#define LDG_MAX_KEYS_CACHED 64

/* ------------------------------------------------------------ store.c -- */

struct ldg_store;
struct ldg_store_opts {
    size_t map_size, map_max;
    int rdonly, nosync;
    int room_to_rewrite; /* LDG_ROOM_TO_REWRITE */
    /* a writable open of a store at an earlier build's layout creates
     * the databases it lacks (init's, a test's); else such a store is
     * opened as it is, nothing created: for the open to refuse it, or for
     * ledger migrate, which creates them once it may convert
     * (ldg_store_create_missing) */
    int old_layout_ok;
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
/* A read transaction (an overlay's included) lets go of its snapshot:
 * with slot, its reader slot stays but pins no page (mdb_txn_reset; a
 * check of the readers still sees the process); without, the LMDB
 * transaction ends and the slot is free. Nothing of it may be read
 * until ldg_store_txn_renew gives it the newest snapshot (an overlay's
 * changes stay over it: the caller knows whether they still hold
 * there). Renew: 1 when that is the snapshot it let go (nothing was
 * committed since: all it held holds), 0 a newer one, or a storage
 * error, and then t may only be aborted. */
void ldg_store_txn_park(struct ldg_txn *t, int slot);
int ldg_store_txn_renew(struct ldg_txn *t);
/* Hands an overlay read transaction's end to its keeper: ldg_txn_abort
 * (and ldg_txn_commit, which ends a reader's so) calls keep(t, unchanged)
 * once, instead of freeing t, with unchanged 1 when nothing was written
 * into its overlay since this call. keep returns 1 when it took t back
 * (it parks or frees it later, the hook cleared), 0 to have it freed
 * now. */
void ldg_txn_keep(struct ldg_txn *t,
                  int (*keep)(struct ldg_txn *, int unchanged));

/* Writes what a commit writes last (meta "ix.body", how far the body
 * index reaches): a commit does it itself; a transaction with an overlay
 * that stored events does it before it is read as the store. */
int ldg_txn_settle(struct ldg_txn *t);
/* Marks an overlay transaction a reader's (reader 1) or a writer's view
 * again (0): ldg_txn_commit ends a reader's as a read transaction's (0),
 * and ldg_txn_snapshot tells apart snapshots with tails of other lengths
 * (events: how many it replayed). */
void ldg_txn_set_reader(struct ldg_txn *t, int reader, uint64_t events);
/* 0 when t's store layout is the one this build appends to (the newest),
 * else LDG_EVERSION with the remedy (ledger migrate) in the message. */
int ldg_txn_writable(struct ldg_txn *t);
/* The databases that hold the entries and the bodies in t's store layout:
 * entries and bodies before layout 5, entries5 and bodies5 from it. */
enum ldg_core_db ldg_db_entries(struct ldg_txn *t);
enum ldg_core_db ldg_db_bodies(struct ldg_txn *t);
/* layout.c (the layout module): where store layout number keeps what
 * layout 1 calls db (format.h's enum): LDG_DB_ENTRIES and LDG_DB_BODIES,
 * or entries5 and bodies5 (5 on); an LDG_DB_IDX_* index of a key an
 * event (1 and 2), or its ix.* database (3 on), LDG_CORE_DBS when the
 * layout keeps no such index (idx.time from 3 on); any other db itself.
 * (An unknown number: as layout 1.) */
enum ldg_core_db ldg_layout_db(int number, enum ldg_core_db db);
/* The core databases: enum ldg_core_db (format.h). */
ldg_dbi ldg_store_core_dbi(struct ldg_store *s, enum ldg_core_db which);
/* 0 when a read-only open found no such database (idx.id in a ledger
 * written before format version 2). */
int ldg_store_has_core(struct ldg_store *s, enum ldg_core_db which);
/* Creates the core databases a writable open of a store at an earlier
 * build's layout left out (ldg_migrate, once it has checked that it may
 * convert the store). @return 0; LDG_EFULL, LDG_EIO. */
int ldg_store_create_missing(struct ldg_store *s);
/* Number of entries in a database, and bytes of pages it uses. */
int ldg_db_count(struct ldg_txn *t, ldg_dbi dbi, uint64_t *n);
int ldg_db_bytes(struct ldg_txn *t, ldg_dbi dbi, uint64_t *bytes);
/* Current map size. */
uint64_t ldg_store_map_size(struct ldg_store *s);
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

/* ----------------------------------------------------------- handle.c -- */

/* Layout 9: a read transaction is a view of the store with the intake's
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
    /* Opened with LDG_MIGRATE on a store of an older layout: every
     * transaction is refused (LDG_EVERSION) but ldg_migrate's, which
     * clears it once the store is at the newest layout. */
    int layout_old;
    int migrating;           /* inside ldg_migrate (its transactions pass) */
    struct ldg_key *log_key; /* secret loaded when writable */
    struct ldg_key *actors[LDG_MAX_KEYS_CACHED];
    size_t nactors;
    struct ldg_applier appliers[LDG_MAX_APPLIERS];
    size_t nappliers;
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
     * and checkpoint in (append.c), or NULL, and that commit's
     * transaction (an applier's note goes in the frame only from it). */
    struct ldg_intake_build *frame;
    struct ldg_txn *frame_txn;
    /* A batch open on this handle, and the thread that opened it
     * (append_batch.c): a write begun on that thread would wait for the
     * batch's own lock forever, so it is refused (LDG_EBUSY). */
    struct ldg_batch *batch_owner; /* atomic: the batch holding the lock */
    pthread_t batch_thread;        /* atomic: its thread */
    int batch_committing;          /* its thread's: inside its own commit */
    /* Layout 9: the events of the last batch committed here passed a
     * frame's limit (ldg_prep_frame_bytes, as for a group),
     * so the next begins in LMDB (append_batch.c); written under the
     * intake's lock, by the batch's thread. */
    int batch_big;
    int writer_open; /* an ldg_writer runs on this handle (writer.c) */
    /* Store layout 9: the intake log every append goes through
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
    /* The epoch states the last transactions loaded, kept for the next
     * (epoch_log.c: each is checked against its file before use, so that
     * a commit opens no file): guarded by epoch_mu; ldg_close releases
     * them through epoch_keep_free. */
    pthread_mutex_t epoch_mu;
    void *epoch_keep;
    void (*epoch_keep_free)(void *);
};

/* error.c: from now on this thread writes the handle's second message
 * buffer (a bulk writer's commit thread, for its whole life). */
void ldg_err_on_commit_thread(void);

/* One of the core databases of the handle's store. */
static inline ldg_dbi
ldg_core(struct ldg_ledger *l, enum ldg_core_db which)
{
    return ldg_store_core_dbi(l->store, which);
}

/* handle.c: the handle's clock (ldg_set_clock) or the real time, in ns. */
uint64_t ldg_clock_now(const struct ldg_ledger *l);

/* The message buffer for the calling thread. */
char *ldg_errbuf(struct ldg_ledger *l);

void ldg_seterr(struct ldg_ledger *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ix.body (index.c, FORMAT.md 6.1). A write transaction's upkeep of it:
 * state 0 before its first append, 1 kept (next: the seq it indexes next),
 * -1 not kept; dirty: ldg_txn_commit writes meta "ix.body" = next; view:
 * the view each append reads a record with, made by the first, freed with
 * the transaction (bix_release, store.c). */
struct ldg_bix {
    int state;
    uint64_t next;
    int dirty;
    struct ldg_body_view *view;
};
struct ldg_bix *ldg_txn_bix(struct ldg_txn *t);
/* What a floor above the store keeps for the length of one transaction
 * under one hold of the sealers' lock (epoch_log.c: the epoch states a
 * commit loaded), released with it: ldg_txn_memo gives what
 * ldg_txn_set_memo set, or NULL; set_memo replaces it (the old one is the
 * caller's); ldg_txn_memo_drop releases it now (the intake's kept view,
 * taken again under a new hold of the lock: what the files held may have
 * changed meanwhile). */
void *ldg_txn_memo(struct ldg_txn *t);
/* The tree's own memo (tree.c: complete subtrees' hashes), one block of
 * plain memory malloc'd by the tree and freed with the transaction. */
void **ldg_txn_tree_memo(struct ldg_txn *t);
/* The note an intake frame carries, handed to the appliers' at_commit
 * (ldg_txn_note_carried): set before and cleared (note NULL) after. */
void ldg_txn_set_carried(struct ldg_txn *t, uint64_t size, const uint8_t *note,
                         size_t len);
/* An intake frame from first_seq to end applied in t: recorded, so that
 * ldg_txn_note_superseded knows the frame applied before it in t. */
void ldg_txn_frame_applied(struct ldg_txn *t, uint64_t first_seq, uint64_t end);
void ldg_txn_set_memo(struct ldg_txn *t, void *memo, void (*release)(void *));
void ldg_txn_memo_drop(struct ldg_txn *t);

/* horizon.c */
/* The entry of pruned event seq kept for the horizon's entry tile (meta
 * "horizon.entries"; hz: the horizon), borrowed from t: 0 with *entry and
 * *len; LDG_ENOTFOUND when it is not kept; LDG_ECORRUPT (the record does
 * not parse). */
int ldg_horizon_entry(struct ldg_txn *t, uint64_t hz, uint64_t seq,
                      const uint8_t **entry, size_t *len);
const struct ldg_horizon_key *ldg_horizon_key_find(const struct ldg_horizon *h,
                                                   const char *key_id);
size_t hz_map_cap(const struct ldg_horizon *h);
int hz_map_encode(const struct ldg_horizon *h, uint8_t *out, size_t cap,
                  size_t *len);

struct ldg_store *ldg_txn_store(struct ldg_txn *t);
/* The store layout of t's snapshot (format.h, LDG_LAYOUT_*): 1, 2, or
 * -err (LDG_ECORRUPT: a malformed record; LDG_EVERSION: a newer layout). */
int ldg_txn_layout(struct ldg_txn *t);
void ldg_txn_set_layout(struct ldg_txn *t, int layout);

/* Each third-party library's version, named by the one file that uses it
 * (see ldg_lib_versions). */
const char *ldg_store_lib_version(void); /* store_kv.c: LMDB */

/* handle.c: "no ledger in dir" with what to do, into err */
void handle_no_ledger(const char *dir, char *err, size_t errcap);

/* 1, with the handle's error set, when a batch is open on l on the
 * calling thread (a write begun there would wait for it forever). */
int ldg_batch_blocks(struct ldg_ledger *l);

#endif
