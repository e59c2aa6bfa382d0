/*
 * migrate.c — ledger migrate: a ledger's store to a newer layout, in
 * place, without changing a signed or hashed byte (FORMAT.md section 6).
 *
 * Layout 1 to 2 moves the Merkle tree into full tiles. The steps before
 * the last one write the full tiles that exist now into db tiles, a chunk
 * a transaction (so that the pages a transaction dirties stay few): the
 * old layout never reads db tiles, and a complete tile never changes, so
 * a crash there leaves the old layout whole and the next run starts over.
 * The last transaction writes the tiles appends added meanwhile, cuts db
 * tree to the edge, writes meta "layout" and checks that the tree read the
 * new way has the root it had: the ledger is in one layout or the other.
 */
#include <stdlib.h>
#include <string.h>

#include "ledger/ledger_int.h"

/* Tiles a transaction: 1.5 MiB of pages written, and the pages of 32,768
 * leaf hashes read, which leave the process's memory after each. */
#define CHUNK 128
#define GROW_RETRIES 16

/* Runs fn in a write transaction and commits, growing the map when full. */
static int
in_txn(struct ldg_ledger *l, int (*fn)(struct ldg_txn *t, void *arg), void *arg)
{
    struct ldg_txn *t;
    char why[256];
    int rc, tries = 0;

    for (;;) {
        if ((rc = ldg_txn_begin(l, LDG_TXN_WRITE, &t)) < 0)
            return rc;
        rc = fn(t, arg);
        if (rc == 0)
            rc = ldg_txn_commit(t);
        else
            ldg_txn_abort(t);
        if (rc != LDG_EFULL)
            return rc;
        why[0] = '\0';
        if (tries++ >= GROW_RETRIES ||
            ldg_store_grow(l->store, why, sizeof why) != 0) {
            ldg_seterr(l, "%s; the ledger is as it was before this step",
                       why[0] ? why : "storage full");
            return LDG_EFULL;
        }
    }
}

/* data.mdb's size, its bytes in use, and the tree's. */
static int
usage(struct ldg_ledger *l, uint64_t *used, uint64_t *file, uint64_t *tree)
{
    struct ldg_db_size *d = NULL;
    size_t n = 0;
    uint64_t all = 0, free_b = 0;
    int rc = ldg_stats_databases(l, &d, &n);
    if (rc < 0)
        return rc;
    *tree = 0;
    for (size_t i = 0; i < n; i++) {
        all += d[i].bytes;
        if (strcmp(d[i].name, "(free)") == 0)
            free_b = d[i].bytes;
        if (strcmp(d[i].name, "tree") == 0 || strcmp(d[i].name, "tiles") == 0)
            *tree += d[i].bytes;
    }
    free(d);
    *file = all;
    *used = all - free_b;
    return 0;
}

struct step {
    int tl;
    uint64_t from, to;
    int moved; /* the ledger is at layout 2 already (another migrate) */
};

/* 1 while t's snapshot is still at layout 1, 0 when another migrate got
 * there first (s->moved), or -err. */
static int
still_old(struct ldg_txn *t, struct step *s)
{
    int layout = ldg_txn_layout(t);
    if (layout < 0)
        return layout;
    s->moved = layout != 1;
    return !s->moved;
}

static int
step_begin(struct ldg_txn *t, void *arg)
{
    int rc = still_old(t, arg);
    if (rc <= 0)
        return rc;
    /* tiles a crashed run left are written again */
    return ldg_core_db_drop(t, ldg_core(ldg_txn_ledger(t), LDG_DB_TILES), 0);
}

static int
step_copy(struct ldg_txn *t, void *arg)
{
    struct step *s = arg;
    int rc = still_old(t, s);
    if (rc <= 0)
        return rc;
    return ldg_tree_tiles_copy(t, s->tl, s->from, s->to);
}

static int
step_finish(struct ldg_txn *t, void *arg)
{
    uint64_t size;
    int rc = still_old(t, arg);
    if (rc <= 0)
        return rc;
    if ((rc = ldg_txn_size(t, &size)) < 0)
        return rc;
    return ldg_tree_tiles_finish(t, size);
}

int
ldg_migrate(struct ldg_ledger *l, int to,
            void (*progress)(void *ctx, uint64_t done, uint64_t total),
            void *progress_ctx, struct ldg_migrate_result *res)
{
    struct ldg_txn *t;
    struct step s;
    uint64_t size = 0, total = 0, done = 0;
    int rc;

    if (l == NULL || res == NULL)
        return LDG_EINVAL;
    memset(res, 0, sizeof *res);
    if (to == 0)
        to = LDG_LAYOUT_MAX;
    if ((rc = ldg_txn_begin(l, LDG_TXN_READ, &t)) < 0)
        return rc;
    rc = res->from = ldg_txn_layout(t);
    if (rc > 0)
        rc = ldg_txn_size(t, &size);
    ldg_txn_abort(t);
    if (rc < 0)
        return rc;
    res->events = size;
    if (to < LDG_LAYOUT_MIN || to > LDG_LAYOUT_MAX || to < res->from) {
        ldg_seterr(l,
                   "layout %d: this ledger is at layout %d, and this build "
                   "converts to layouts %d..%d, never back",
                   to, res->from, res->from, LDG_LAYOUT_MAX);
        return LDG_EINVAL;
    }
    if ((rc = usage(l, &res->used_before, &res->file_before,
                    &res->tree_before)) < 0)
        return rc;
    res->to = res->from;
    if (res->from < LDG_LAYOUT_TILES) {
        memset(&s, 0, sizeof s);
        for (int tl = 0; tl < 8; tl++)
            total += ldg_tree_level_count(size, tl) / LDG_TILE_WIDTH;
        if (progress != NULL)
            progress(progress_ctx, 0, total);
        if ((rc = in_txn(l, step_begin, &s)) < 0)
            return rc;
        for (int tl = 0; tl < 8 && !s.moved; tl++) {
            uint64_t f = ldg_tree_level_count(size, tl) / LDG_TILE_WIDTH;
            for (uint64_t n = 0; n < f && !s.moved; n += CHUNK) {
                s.tl = tl;
                s.from = n;
                s.to = f - n > CHUNK ? n + CHUNK : f;
                if ((rc = in_txn(l, step_copy, &s)) < 0)
                    return rc;
                done += s.to - s.from;
                if (progress != NULL)
                    progress(progress_ctx, done, total);
                /* the pages read and written leave this process's memory */
                ldg_store_trim(l->store);
            }
        }
        if (!s.moved && (rc = in_txn(l, step_finish, &s)) < 0)
            return rc;
        res->to = LDG_LAYOUT_TILES;
    }
    return usage(l, &res->used_after, &res->file_after, &res->tree_after);
}
