/*
 * migrate_int.h — what the files of `ledger migrate` share (migrate.c's
 * comment says what each step does):
 *
 *   migrate.c       the steps' driver, layouts 2 to 4, the stored
 *                   digests of layouts 7 and 8, layout 9's intake
 *   migrate_pack.c  layout 4 to 5 and after: the entries packed anew,
 *                   by a pool of threads
 *   migrate_tree.c  the tree of layout 1 into tiles (2), whole tiles
 *                   split (4)
 *
 * Included by those files and stats.c.
 */
#ifndef LEDGER_MIGRATE_INT_H
#define LEDGER_MIGRATE_INT_H

#include "ledger/handle_int.h"

/* Meta "digest.next" of t (layouts 7 and 8: the records from *seq on may
 * not be in the layout's stored form yet, a migrate having stopped): 0
 * with *seq,
 * LDG_ENOTFOUND (none left to rewrite), or LDG_ECORRUPT (not 8 bytes,
 * named in the handle's message). In ledger/migrate.c. */
int ldg_txn_digest_next(struct ldg_txn *t, uint64_t *seq);

/* migrate_tree.c: the tree's steps.
 * Layout 4 (from 3): splits the whole tiles (records of LDG_TILE_BYTES)
 * of db tiles from key `from` (LDG_TREE_KEY_LEN bytes; all zero: the
 * first) on, at most max of them: each keeps its first 255 hashes, and its
 * last goes to db tree. *next is the key to go on from and *done 1 when
 * no tile is left after it; *split counts the tiles split. */
int ldg_mig_tiles_split(struct ldg_txn *t, const uint8_t from[LDG_TREE_KEY_LEN],
                        size_t max, uint8_t next[LDG_TREE_KEY_LEN], int *done,
                        uint64_t *split);
/* Layout 4: *n counts the whole tiles (of 256 hashes) db tiles still
 * holds: what a stopped migrate left for the next to split (0 before
 * layout 4). */
int ldg_mig_tiles_whole(struct ldg_txn *t, uint64_t *n);
/* Hashes of tree level 8·tl in a log of size leaves. */
uint64_t ldg_mig_level_count(uint64_t size, int tl);
/* Layout 2 (from 1), in write transactions of a layout 1 ledger: writes
 * full tiles [from, to) of tile level tl from the nodes of db tree, each
 * checked against the node above it; then, in the last one, the tiles
 * still missing for a log of size leaves, db tree cut to the edge, meta
 * "layout" set to layout (migrate's, the first with tiles), and a check
 * that the root is unchanged. */
int ldg_mig_tiles_copy(struct ldg_txn *t, int tl, uint64_t from, uint64_t to);
int ldg_mig_tiles_finish(struct ldg_txn *t, uint64_t size, int layout);

/* Tiles a transaction: 1.5 MiB of pages written, and the pages of 32,768
 * leaf hashes read, which leave the process's memory after each. */
#define CHUNK 128
/* Index records a transaction: about 1 MiB of pages read and 128 KiB
 * written. A transaction's dirty pages stay in the process (LMDB keeps
 * them for reuse): 131,072 a transaction took 132 MiB at 200,000
 * events, 16,384 take 28 MiB. */
#define IX_CHUNK 16384
#define GROW_RETRIES 16

struct mig_step {
    int from; /* the layout the steps convert from */
    int tl;
    uint64_t from_tile, to_tile;
    int moved; /* the ledger is past `from` already (another migrate) */
    /* layout 2 to 3: the index copied (0..3), where the copy is (the last
     * key copied, klen 0 before the first), the log's size when migrate
     * began (keys of seqs below it are copied; the rest the last step
     * indexes from the entries), and seqs copied so far */
    int ix;
    uint8_t key[LDG_SUBJECT_MAX + 16];
    size_t klen;
    uint64_t size0, done;
    /* what ix_copy's transaction leaves, taken once it commits (a retry
     * after a full map starts again from the committed place) */
    int nix;
    uint8_t nkey[LDG_SUBJECT_MAX + 16];
    size_t nklen;
    uint64_t n;
    /* the value whose seqs are gathered, and they (IX_CHUNK at most) */
    uint8_t val[LDG_SUBJECT_MAX + 16];
    size_t vlen, nseq;
    uint8_t seqs[8 * IX_CHUNK];
};

/* migrate.c */
/* layout 2 to 3: the index databases copied from */
extern const enum ldg_core_db mig_ix_from[4];
int mig_in_txn(struct ldg_ledger *l, int (*fn)(struct ldg_txn *t, void *arg),
               void *arg);

/* migrate_pack.c */
int mig_layout_form(int layout);
int mig_to_stored(struct ldg_ledger *l, int to,
                  void (*progress)(void *ctx, uint64_t done, uint64_t total),
                  void *progress_ctx, uint64_t done0, uint64_t total,
                  struct ldg_migrate_result *res, int *at);
void mig_to_convert(struct ldg_ledger *l, uint64_t *keys, uint64_t *whole);
int mig_step_aes_salts(struct ldg_txn *t, void *arg);
int mig_step_digest(struct ldg_txn *t, void *arg);

#endif
