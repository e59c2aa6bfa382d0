/*
 * store_int.h — the store part of ledger/: the handles LMDB's objects
 * hide behind and what the store's files share. The store is the one
 * part that talks to LMDB; its files, each including <lmdb.h>:
 *
 *   store.c        the environment, its map, transactions, databases
 *   store_kv.c     gets, puts, deletes and cursors, and the overlay
 *                  transaction's merged reads (overlay.c keeps its writes)
 *   store_pages.c  the page check of `verify --full`, the databases'
 *                  sizes, the readers holding snapshots
 *
 * Included by the store's files alone.
 */
#ifndef LEDGER_STORE_INT_H
#define LEDGER_STORE_INT_H

#include <limits.h>

#include <lmdb.h>

#include "ledger/handle_int.h"

struct ldg_store {
    MDB_env *env;
    MDB_dbi core[LDG_CORE_DBS];
    unsigned char missing[LDG_CORE_DBS]; /* read-only: not in this file */
    size_t map_size, map_max;
    int rdonly, nosync;
    int disk_full;            /* the last commit failed with ENOSPC/EDQUOT */
    uint64_t checked_ns;      /* last reader-table sweep (monotonic) */
    char data_path[PATH_MAX]; /* realpath of data.mdb, for ldg_store_trim */
};

struct ldg_txn {
    MDB_txn *txn;
    struct ldg_store *s;
    struct ldg_ledger *l;
    int write;
    int layout;         /* ldg_txn_layout's answer, once asked; 0 before */
    int dicts_ok;       /* ldg_txn_dicts has read the snapshot's dictionaries */
    struct ldg_bix bix; /* ix.body's upkeep in a write (index.c) */
    struct ldg_ovl *ov; /* an overlay's changes over the read snapshot */
    int reader;         /* an overlay of a read transaction (the tail) */
    uint64_t tail;      /* events its tail replayed */
    void *memo;         /* ldg_txn_memo, released with the transaction */
    void *tree_memo;    /* ldg_txn_tree_memo: flat, freed with it */
    /* the appliers' note the intake frame being applied or replayed
     * carries, for log size carried_size (during their at_commit) */
    const uint8_t *carried;
    size_t carried_len;
    uint64_t carried_size;
    /* the end of the last intake frame applied in this transaction, and
     * the end of the one before it (0: none) */
    uint64_t frames_end, frame_prev;
    void (*memo_release)(void *);
    /* a reader's view its keeper takes back at its end (ldg_txn_keep):
     * the hook, and the overlay's version it was handed out at */
    int (*keep)(struct ldg_txn *, int unchanged);
    uint64_t keep_ver;
    uint64_t parked_id; /* the LMDB snapshot park let go, 0: none */
};

/* An item a cursor of an overlay transaction is on: a pointer into the
 * snapshot's pages or the overlay's arena, valid until the transaction
 * ends. */
struct ovl_item {
    const uint8_t *k, *v;
    size_t kl, vl;
};

struct ldg_cursor {
    MDB_cursor *c;
    /* an overlay transaction's cursor (ovl_* below); t NULL otherwise */
    struct ldg_txn *t;
    MDB_dbi dbi;
    int dup;
    int pos;      /* on cur */
    int deleted;  /* cur was deleted through the cursor */
    int dir;      /* the last step's direction, for the candidates */
    uint64_t ver; /* the overlay's version the candidates hold for */
    int b_ok;     /* the snapshot's next candidate (the base cursor) */
    struct ovl_item b;
    const struct ldg_ovl_node *o; /* the overlay's next candidate */
    int from_o;                   /* cur came from the overlay */
    struct ovl_item cur;
    int plain; /* a reader's overlay left this database alone: LMDB's */
};

/* store.c */
int store_xlate(int rc);

/* store_kv.c */
struct ldg_ovl_map *store_ovl_map_of(struct ldg_txn *t, MDB_dbi dbi,
                                     int create);

/* store_pages.c */
int store_tail_pages_free(const char *path, size_t psize, uint64_t size,
                          uint64_t last);

#endif
