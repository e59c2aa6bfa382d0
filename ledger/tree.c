/*
 * tree.c — the stored Merkle tree, checkpoints, proofs and the log's notes.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ledger/layout_int.h"
#include "ledger/tree_int.h"
#include "ledger/tlog_int.h"

/* ---------------------------------------------------------- Merkle tree -- */

/* The record (a, b) of db, keyed as ldg_tree_key makes it, which must be
 * len bytes: *p points at it for t's life. */
static int
rec_get(struct ldg_txn *t, enum ldg_core_db db, int a, uint64_t b, size_t len,
        const uint8_t **p)
{
    uint8_t k[LDG_TREE_KEY_LEN];
    struct ldg_val v;
    int rc;
    ldg_tree_key(k, a, b);
    rc = ldg_kv_get(t, ldg_core(ldg_txn_ledger(t), db), k, sizeof k, &v);
    if (rc < 0)
        return rc;
    if (v.len != len)
        return LDG_ECORRUPT;
    *p = v.data;
    return 0;
}

/* Layout 1: every node is a record of db tree. */
static int
node_get(struct ldg_txn *t, int level, uint64_t index, uint8_t out[32])
{
    const uint8_t *h;
    int rc = rec_get(t, LDG_DB_TREE, level, index, 32, &h);
    if (rc == 0)
        memcpy(out, h, 32);
    return rc;
}

void
ldg_tree_subtree_hash(const uint8_t *h, size_t n, uint8_t out[32])
{
    uint8_t l[32], r[32];
    LDG_ASSERT(n >= 1 && n <= LDG_TILE_WIDTH && (n & (n - 1)) == 0);
    if (n == 1) {
        memcpy(out, h, 32);
        return;
    }
    ldg_tree_subtree_hash(h, n / 2, l);
    ldg_tree_subtree_hash(h + 32 * (n / 2), n / 2, r);
    ldg_tlog_node_hash(out, l, r);
}

int
ldg_tree_tile_get(struct ldg_txn *t, int tl, uint64_t n,
                  uint8_t out[LDG_TILE_BYTES])
{
    size_t count;
    int rc = ldg_tree_tile_read(t, tl, n, out, &count);
    return rc == 0 && count < LDG_TILE_WIDTH ? LDG_ECORRUPT : rc;
}

/* The record of full tile n of tile level tl, as stored: *h points at its
 * hashes (for t's life), *count says how many, 256 or (layout 4) 255. */
static int
tile_ref(struct ldg_txn *t, int tl, uint64_t n, const uint8_t **h,
         size_t *count)
{
    uint8_t k[LDG_TREE_KEY_LEN];
    struct ldg_val v;
    int rc, layout = ldg_txn_layout(t);

    if (layout < 0)
        return layout;
    ldg_tree_key(k, tl, n);
    rc = ldg_kv_get(t, ldg_core(ldg_txn_ledger(t), LDG_DB_TILES), k, sizeof k,
                    &v);
    if (rc < 0)
        return rc;
    if (v.len != LDG_TILE_BYTES &&
        (!ldg_layout_has(layout, LDG_HAS_SPLIT) ||
         v.len != LDG_TILE_SPLIT_BYTES ||
         n > (UINT64_MAX - (LDG_TILE_WIDTH - 1)) / LDG_TILE_WIDTH))
        return LDG_ECORRUPT;
    *h = v.data;
    *count = v.len / 32;
    /* a tile is 256 hashes, or 255 when split (layout 4) */
    LDG_ASSERT(*count == LDG_TILE_WIDTH || *count == LDG_TILE_WIDTH - 1);
    return 0;
}

/* Layout 4: the last hash of split tile n of tile level tl, from db tree. */
static int
tile_last(struct ldg_txn *t, int tl, uint64_t n, const uint8_t **last)
{
    return rec_get(t, LDG_DB_TREE, LDG_TILE_HEIGHT * tl,
                   n * LDG_TILE_WIDTH + LDG_TILE_WIDTH - 1, 32, last);
}

int
ldg_tree_tile_read(struct ldg_txn *t, int tl, uint64_t n,
                   uint8_t out[LDG_TILE_BYTES], size_t *count)
{
    const uint8_t *h, *last;
    int rc;

    *count = 0;
    if ((rc = tile_ref(t, tl, n, &h, count)) < 0)
        return rc;
    memcpy(out, h, 32 * *count);
    if (*count == LDG_TILE_WIDTH)
        return 0;
    rc = tile_last(t, tl, n, &last);
    if (rc == LDG_ENOTFOUND || rc == LDG_ECORRUPT)
        return 0; /* the last hash missing or malformed: *count says so */
    if (rc < 0)
        return rc;
    memcpy(out + LDG_TILE_SPLIT_BYTES, last, 32);
    *count = LDG_TILE_WIDTH;
    return 0;
}

int
ldg_tree_tile_root(struct ldg_txn *t, int tl, uint64_t n, uint8_t out[32])
{
    uint8_t h[LDG_TILE_BYTES];
    int rc;

    if ((rc = ldg_tree_tile_get(t, tl, n, h)) < 0)
        return rc;
    ldg_tree_subtree_hash(h, LDG_TILE_WIDTH, out);
    return 0;
}

int
ldg_tree_edge_run(struct ldg_txn *t, int tl, uint64_t first, size_t count,
                  uint8_t (*out)[32])
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    struct ldg_cursor *c = NULL;
    struct ldg_val k, v;
    uint8_t key[LDG_TREE_KEY_LEN];
    int rc;

    if ((rc = ldg_cursor_open(t, ldg_core(l, LDG_DB_TREE), &c)) < 0)
        return rc;
    ldg_tree_key(key, LDG_TILE_HEIGHT * tl, first);
    rc = ldg_cursor_get(c, LDG_SET_RANGE, key, sizeof key, &k, &v);
    for (size_t i = 0; i < count && rc == 0; i++) {
        ldg_tree_key(key, LDG_TILE_HEIGHT * tl, first + i);
        if (i > 0)
            rc = ldg_cursor_get(c, LDG_NEXT, NULL, 0, &k, &v);
        if (rc < 0)
            break;
        if (k.len != LDG_TREE_KEY_LEN || memcmp(k.data, key, sizeof key) != 0)
            rc = LDG_ENOTFOUND;
        else if (v.len != 32)
            rc = LDG_ECORRUPT;
        else
            memcpy(out[i], v.data, 32);
    }
    ldg_cursor_close(c);
    return rc;
}

/* The hashes of complete subtrees tile_node computed in a transaction.
 * The log only grows, so a complete subtree's hash never changes: a root
 * or proof asked again in the transaction (each frame of an intake tail
 * replayed checks its checkpoint's root; a writer's kept view computes
 * one each group) takes the big ones from here instead of hashing up to
 * 128 stored hashes again. A leaf written where the memo's nodes reach
 * (a tree rewritten in place) empties it. */
#define MEMO_SLOTS 64
struct tree_memo {
    uint64_t reach; /* leaves below it are under a memoized node */
    struct {
        uint64_t index;
        int level; /* 0: an empty slot (level-0 hashes are not memoized) */
        uint8_t h[32];
    } slot[MEMO_SLOTS];
};

static unsigned
memo_slot(int level, uint64_t index)
{
    return (unsigned)((index * 0x9e3779b97f4a7c15ull >> 58) ^ (uint64_t)level) %
           MEMO_SLOTS;
}

static int
memo_get(struct ldg_txn *t, int level, uint64_t index, uint8_t out[32])
{
    struct tree_memo *m = *ldg_txn_tree_memo(t);
    unsigned i = memo_slot(level, index);
    if (m == NULL || m->slot[i].level != level || m->slot[i].index != index)
        return 0;
    memcpy(out, m->slot[i].h, 32);
    return 1;
}

static void
memo_put(struct ldg_txn *t, int level, uint64_t index, const uint8_t h[32])
{
    struct tree_memo **m = (struct tree_memo **)ldg_txn_tree_memo(t);
    unsigned i = memo_slot(level, index);
    uint64_t end;
    if (*m == NULL && (*m = calloc(1, sizeof **m)) == NULL)
        return; /* (a memo is no answer: computed again next time) */
    (*m)->slot[i].level = level;
    (*m)->slot[i].index = index;
    memcpy((*m)->slot[i].h, h, 32);
    end = (index + 1) << level;
    if (end > (*m)->reach)
        (*m)->reach = end;
}

/* Leaf seq is written: a memo reaching it is emptied. */
static void
memo_leaf(struct ldg_txn *t, uint64_t seq)
{
    struct tree_memo **m = (struct tree_memo **)ldg_txn_tree_memo(t);
    if (*m != NULL && seq < (*m)->reach) {
        free(*m);
        *m = NULL;
    }
}

/* Layout 2: node (level, index) is the MTH of 2^(level mod 8) hashes of
 * level 8·(level div 8), from a full tile or from the edge. */
static int tile_node_hashed(struct ldg_txn *t, int level, uint64_t index,
                            uint8_t out[32]);

static int
tile_node(struct ldg_txn *t, int level, uint64_t index, uint8_t out[32])
{
    int rc;
    if (level % LDG_TILE_HEIGHT == 0) /* a stored hash: nothing to save */
        return tile_node_hashed(t, level, index, out);
    if (memo_get(t, level, index, out))
        return 0;
    if ((rc = tile_node_hashed(t, level, index, out)) == 0)
        memo_put(t, level, index, out);
    return rc;
}

static int
tile_node_hashed(struct ldg_txn *t, int level, uint64_t index, uint8_t out[32])
{
    int tl = level / LDG_TILE_HEIGHT, r = level % LDG_TILE_HEIGHT, rc;
    size_t count = (size_t)1 << r, have, at;
    uint64_t first;
    const uint8_t *h, *last;
    uint8_t buf[LDG_TILE_WIDTH][32];

    if (r > 0 && index > (UINT64_MAX >> r))
        return LDG_ENOTFOUND;
    first = index << r;
    at = (size_t)(first % LDG_TILE_WIDTH);
    rc = tile_ref(t, tl, first / LDG_TILE_WIDTH, &h, &have);
    if (rc == 0 && at + count <= have) {
        ldg_tree_subtree_hash(h + 32 * at, count,
                              out); /* from the record itself */
        return 0;
    }
    if (rc == 0) {
        /* layout 4, a run that ends with the split tile's last hash */
        rc = tile_last(t, tl, first / LDG_TILE_WIDTH, &last);
        if (rc < 0)
            return rc == LDG_ENOTFOUND ? LDG_ECORRUPT : rc;
        memcpy(buf, h + 32 * at, 32 * (count - 1));
        memcpy(buf[count - 1], last, 32);
        ldg_tree_subtree_hash(buf[0], count, out);
        return 0;
    }
    if (rc != LDG_ENOTFOUND)
        return rc;
    if ((rc = ldg_tree_edge_run(t, tl, first, count, buf)) < 0) {
        uint64_t kept;
        /* layout 9: a level-0 tile a prune dropped (only proofs of
         * pruned events need it), said as such, never as damage */
        if (rc == LDG_ENOTFOUND && tl == 0 &&
            ldg_tree_kept_from(t, &kept) == 0 && first < kept)
            return LDG_EPRUNED;
        return rc;
    }
    ldg_tree_subtree_hash(buf[0], count, out);
    return 0;
}

int
ldg_tree_kept_from(struct ldg_txn *t, uint64_t *from)
{
    int rc = ldg_txn_has(t, LDG_HAS_TREE_PRUNE);
    uint64_t hz;

    *from = 0;
    if (rc <= 0)
        return rc;
    hz = ldg_txn_horizon(t);
    /* the tile holding the last pruned event stays: its leaf is the
     * chain's link to the first kept event (FORMAT.md 6.2) */
    if (hz > 0)
        *from = (hz - 1) / LDG_TILE_WIDTH * LDG_TILE_WIDTH;
    return 0;
}

int
ldg_tree_pruned_err(struct ldg_txn *t, const char *what)
{
    struct ldg_horizon h;
    char said[400] = "";
    uint64_t kept = 0;

    (void)ldg_tree_kept_from(t, &kept);
    if (ldg_horizon_get(t, &h) == 0) {
        ldg_horizon_describe(&h, said, sizeof said);
        ldg_horizon_release(&h);
    }
    ldg_seterr(ldg_txn_ledger(t),
               "%s: the tree hashes it needs were pruned (at store layout "
               "9 a prune drops those of the pruned events: this ledger "
               "keeps them from event %llu on); %s, which proves them "
               "(`" LDG_CMD_VERIFY_BUNDLE " ARCHIVE " LDG_OPT_TRUSTED_KEY
               " VKEY` "
               "checks each of its events against its checkpoint)",
               what, (unsigned long long)kept,
               said[0] ? said : "their archive holds them");
    return LDG_EPRUNED;
}

static int
tree_reader(void *ctx, int level, uint64_t index, uint8_t out[32])
{
    struct ldg_txn *t = ctx;
    int layout = ldg_txn_layout(t);
    if (layout < 0)
        return layout;
    if (ldg_layout_has(layout, LDG_HAS_TILES))
        return tile_node(t, level, index, out);
    return node_get(t, level, index, out);
}

/* Hash h of level 8·tl, index i joins the edge; a tile it completes moves
 * from the edge to db tiles but for its last hash, which stays in db tree
 * (layout 4 and after: the only ones appended to), and its MTH joins the
 * level above, and so on up to tile level top. */
static int
edge_add(struct ldg_txn *t, int tl, uint64_t i, uint8_t h[32], int top)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    ldg_dbi tree = ldg_core(l, LDG_DB_TREE);
    uint8_t k[LDG_TREE_KEY_LEN], tile[LDG_TILE_WIDTH][32];
    uint64_t first;
    int rc;

    for (;; tl++, i /= LDG_TILE_WIDTH) {
        if (tl >= 8)
            return LDG_EINVAL;
        ldg_tree_key(k, LDG_TILE_HEIGHT * tl, i);
        if ((rc = ldg_core_kv_put(t, tree, k, sizeof k, h, 32)) < 0)
            return rc;
        if (i % LDG_TILE_WIDTH != LDG_TILE_WIDTH - 1)
            return 0;
        first = i - (LDG_TILE_WIDTH - 1);
        rc = ldg_tree_edge_run(t, tl, first, LDG_TILE_WIDTH, tile);
        if (rc < 0)
            return rc == LDG_ENOTFOUND ? LDG_ECORRUPT : rc;
        ldg_tree_key(k, tl, i / LDG_TILE_WIDTH);
        if ((rc = ldg_core_kv_put(t, ldg_core(l, LDG_DB_TILES), k, sizeof k,
                                  tile, LDG_TILE_SPLIT_BYTES)) < 0)
            return rc;
        for (uint64_t j = first; j < i; j++) {
            ldg_tree_key(k, LDG_TILE_HEIGHT * tl, j);
            if ((rc = ldg_core_kv_del(t, tree, k, sizeof k, NULL, 0)) < 0)
                return rc;
        }
        if (tl == top)
            return 0;
        ldg_tree_subtree_hash(tile[0], LDG_TILE_WIDTH, h);
    }
}

/* Stores leaf hash (0, seq): it joins the edge of level 0, and every
 * tile it completes goes up (edge_add). The tree of the layout appended
 * to (the newest); older ones are read, never written. */
int
ldg_tree_add_leaf(struct ldg_txn *t, uint64_t seq, const uint8_t leaf[32])
{
    uint8_t h[32];
    memcpy(h, leaf, 32);
    memo_leaf(t, seq);
    return edge_add(t, 0, seq, h, 7);
}

/* LDG_BENCH_NOTREE: stores leaf hash (0, seq) as ldg_tree_add_leaf does,
 * tiles of level 0 included, but nothing above them. */
int
ldg_tree_add_leaf_only(struct ldg_txn *t, uint64_t seq, const uint8_t leaf[32])
{
    uint8_t h[32];
    memcpy(h, leaf, 32);
    memo_leaf(t, seq);
    return edge_add(t, 0, seq, h, 0);
}

int
ldg_tree_stored_hash(struct ldg_txn *t, int level, uint64_t index,
                     uint8_t out[32])
{
    if (level < 0 || level > 63)
        return LDG_EINVAL;
    return tree_reader(t, level, index, out);
}

int
ldg_tree_root(struct ldg_txn *t, uint64_t size, uint8_t root[32])
{
    return ldg_tlog_root(tree_reader, t, size, root);
}

int
ldg_tree_inclusion(struct ldg_txn *t, uint64_t index, uint64_t size,
                   uint8_t proof[][32], size_t *n)
{
    return ldg_tlog_inclusion_proof(tree_reader, t, index, size, proof, n);
}

int
ldg_tree_consistency(struct ldg_txn *t, uint64_t old, uint64_t size,
                     uint8_t proof[][32], size_t *n)
{
    return ldg_tlog_consistency_proof(tree_reader, t, old, size, proof, n);
}

int
ldg_checkpoint_get(struct ldg_txn *t, uint64_t size, char **out)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    struct ldg_cursor *c = NULL;
    struct ldg_val k, v;
    uint8_t key[8];
    int rc;

    *out = NULL;
    if (size == 0) {
        rc = ldg_cursor_open(t, ldg_core(l, LDG_DB_CHECKPOINTS), &c);
        if (rc < 0)
            return rc;
        rc = ldg_cursor_get(c, LDG_LAST, NULL, 0, &k, &v);
    } else {
        ldg_be64(key, size);
        rc = ldg_kv_get(t, ldg_core(l, LDG_DB_CHECKPOINTS), key,
                        LDG_SEQ_KEY_LEN, &v);
    }
    if (rc == 0) {
        *out = strndup((const char *)v.data, v.len); /* (a note: no NUL) */
        rc = *out != NULL ? 0 : LDG_ENOMEM;
    }
    ldg_cursor_close(c);
    return rc;
}

/* The stored checkpoint size nearest n: the largest at most n (floor),
 * or the smallest at least n. */
static int
checkpoint_near(struct ldg_txn *t, uint64_t n, int floor, uint64_t *size)
{
    struct ldg_cursor *c = NULL;
    struct ldg_val k, v;
    uint8_t key[8];
    int rc;

    *size = 0;
    if (floor && n == UINT64_MAX)
        n--;
    rc =
        ldg_cursor_open(t, ldg_core(ldg_txn_ledger(t), LDG_DB_CHECKPOINTS), &c);
    if (rc < 0)
        return rc;
    ldg_be64(key, floor ? n + 1 : n);
    rc = ldg_cursor_get(c, LDG_SET_RANGE, key, 8, &k, &v);
    if (floor && rc == 0)
        rc = ldg_cursor_get(c, LDG_PREV, NULL, 0, &k, &v);
    else if (floor && rc == LDG_ENOTFOUND)
        rc = ldg_cursor_get(c, LDG_LAST, NULL, 0, &k, &v);
    if (rc == 0 && k.len != 8)
        rc = LDG_ECORRUPT;
    if (rc == 0)
        *size = ldg_rd_be64(k.data);
    ldg_cursor_close(c);
    return rc;
}

int
ldg_checkpoint_floor(struct ldg_txn *t, uint64_t n, uint64_t *size)
{
    return checkpoint_near(t, n, 1, size);
}

int
ldg_checkpoint_ceil(struct ldg_txn *t, uint64_t n, uint64_t *size)
{
    return checkpoint_near(t, n, 0, size);
}

int
ldg_verifier_key(struct ldg_ledger *l, char *buf, size_t cap)
{
    int n = ldg_note_verifier(buf, cap, l->origin, l->log_key->pub);
    return n == LDG_EINVAL ? LDG_ETOOBIG : n < 0 ? n : 0;
}

/* The root of the signed checkpoint note ck (its text: up to the blank
 * line before the signatures). */
static int
note_root(const char *ck, uint8_t root[32])
{
    size_t tlen = ldg_note_text_len(ck, strlen(ck));
    char origin[LDG_ORIGIN_MAX + 1];
    uint64_t size;
    return ldg_checkpoint_parse(ck, tlen > 0 ? tlen : strlen(ck), origin,
                                sizeof origin, &size, root);
}

/* A proof is made from the stored tree hashes; one damaged since it was
 * signed makes a proof that reads well and does not hold. So each is
 * checked against the signed root before it is given out: LDG_ECORRUPT
 * (named) when it does not hold, or when a stored hash it needs is gone. */
static int
proof_damaged(struct ldg_txn *t, int rc, const char *what, uint64_t a,
              uint64_t size)
{
    if (rc != LDG_ENOTFOUND && rc != LDG_EBADPROOF && rc != LDG_ECORRUPT)
        return rc;
    ldg_seterr(ldg_txn_ledger(t),
               "storage corrupt: the stored Merkle tree gives no %s %llu "
               "that holds against the signed checkpoint of size %llu "
               "(%s): " LDG_CMD_VERIFY_FULL " names the damaged hash",
               what, (unsigned long long)a, (unsigned long long)size,
               rc == LDG_ENOTFOUND ? "a stored hash is missing"
                                   : "a stored hash is wrong");
    return LDG_ECORRUPT;
}

static int
inclusion_holds(struct ldg_txn *t, uint64_t index, uint64_t size,
                const uint8_t proof[][32], size_t n, const char *ck)
{
    uint8_t k[LDG_SEQ_KEY_LEN], leaf[32], root[32];
    struct ldg_val v;
    int rc;

    if (note_root(ck, root) < 0)
        return LDG_ECORRUPT;
    /* the leaf from its entry; a pruned one's from the stored tree */
    ldg_be64(k, index);
    rc = ldg_kv_get(t, ldg_core(ldg_txn_ledger(t), ldg_db_entries(t)), k,
                    sizeof k, &v);
    if (rc == 0 && v.len > 0 && ((const uint8_t *)v.data)[0] != 0x93) {
        /* layout 5's stored form: the whole entry's hash */
        uint8_t prev[32], *w = malloc(LDG_ENTRY_MAX);
        size_t wl = 0;
        if (w == NULL)
            return LDG_ENOMEM;
        if ((rc = ldg_entry_prev(t, index, prev)) == 0 &&
            (rc = ldg_entry_whole(v.data, v.len, prev, w, LDG_ENTRY_MAX,
                                  &wl)) == 0)
            ldg_tlog_leaf_hash(leaf, w, wl);
        free(w);
        if (rc < 0)
            return rc;
        v.data = NULL; /* hashed */
    }
    if (rc == 0) {
        uint8_t stored[32];
        if (v.data != NULL)
            ldg_tlog_leaf_hash(leaf, v.data, v.len);
        /* an entry altered under a sound tree: said as such, not as a
         * damaged hash (LDG_ETAMPER: ldg_proof_text keeps this message) */
        if (ldg_tree_stored_hash(t, 0, index, stored) == 0 &&
            memcmp(stored, leaf, 32) != 0) {
            ldg_seterr(ldg_txn_ledger(t),
                       "storage corrupt: the stored entry of event %llu does "
                       "not hash to its leaf in the stored tree (the entry "
                       "or the tree was altered): " LDG_CMD_VERIFY_FULL " "
                       "names it",
                       (unsigned long long)index);
            return LDG_ETAMPER;
        }
    } else if (rc == LDG_ENOTFOUND) {
        rc = ldg_tree_stored_hash(t, 0, index, leaf);
    }
    if (rc < 0)
        return rc;
    return ldg_tlog_verify_inclusion(leaf, index, size, proof, n, root);
}

int
ldg_proof_text(struct ldg_txn *t, uint64_t index, uint64_t size, char **out)
{
    uint8_t proof[LDG_PROOF_MAX][32];
    size_t n = 0;
    char *ck = NULL;
    uint64_t have;
    int rc;

    *out = NULL;
    if ((rc = ldg_txn_size(t, &have)) < 0)
        return rc;
    if (size == 0)
        size = have;
    if (index >= size || size > have)
        return LDG_ENOTFOUND;
    if ((rc = ldg_checkpoint_get(t, size, &ck)) < 0)
        return rc;
    rc = ldg_tree_inclusion(t, index, size, proof, &n);
    if (rc == 0)
        rc =
            inclusion_holds(t, index, size, (const uint8_t(*)[32])proof, n, ck);
    if (rc == LDG_ETAMPER)
        rc = LDG_ECORRUPT; /* named by inclusion_holds */
    else if (rc == LDG_EPRUNED) {
        char what[96];
        snprintf(what, sizeof what, "no inclusion proof of event %llu",
                 (unsigned long long)index);
        rc = ldg_tree_pruned_err(t, what);
    } else if (rc < 0)
        rc = proof_damaged(t, rc, "inclusion proof of event", index, size);
    if (rc == 0)
        rc = ldg_tlog_proof_format(out, index, (const uint8_t(*)[32])proof, n,
                                   ck);
    free(ck);
    return rc;
}

int
ldg_consistency_text(struct ldg_txn *t, uint64_t old, uint64_t size, char **out)
{
    uint8_t proof[LDG_PROOF_MAX][32];
    size_t n = 0;
    char *ck = NULL, *ck_old = NULL;
    uint64_t have;
    int rc;

    *out = NULL;
    if ((rc = ldg_txn_size(t, &have)) < 0)
        return rc;
    if (size == 0)
        size = have;
    if (old > have || size > have)
        return LDG_ENOTFOUND; /* beyond the log */
    if (old > size)
        return LDG_EINVAL;
    if ((rc = ldg_checkpoint_get(t, size, &ck)) < 0)
        return rc;
    /* From the empty tree the proof is empty (C2SP tlog-witness accepts
     * old size 0; RFC 6962 leaves it undefined). */
    rc = old == 0 ? 0 : ldg_tree_consistency(t, old, size, proof, &n);
    /* checked against the signed root of size, and the old size's: its
     * signed checkpoint's when one is stored, else the root the stored
     * tree gives (which checks the proof against the new root alone) */
    if (rc == 0 && old > 0 && old < size) {
        uint8_t r1[32], r2[32];
        if (ldg_checkpoint_get(t, old, &ck_old) == 0)
            rc = note_root(ck_old, r1) < 0 ? LDG_ECORRUPT : 0;
        else
            rc = ldg_tree_root(t, old, r1);
        if (rc == 0)
            rc = note_root(ck, r2) < 0
                     ? LDG_ECORRUPT
                     : ldg_tlog_verify_consistency(
                           old, size, r1, r2, (const uint8_t(*)[32])proof, n);
        free(ck_old);
    }
    if (rc == LDG_EPRUNED) {
        char what[96];
        snprintf(what, sizeof what, "no consistency proof from size %llu",
                 (unsigned long long)old);
        rc = ldg_tree_pruned_err(t, what);
    } else if (rc < 0)
        rc = proof_damaged(t, rc, "consistency proof from size", old, size);
    if (rc == 0)
        rc = ldg_tlog_consistency_format(out, old, (const uint8_t(*)[32])proof,
                                         n, ck);
    free(ck);
    return rc;
}

int
ldg_log_verify_note(struct ldg_ledger *l, const char *note, size_t len,
                    size_t *text_len)
{
    return ldg_note_verify(note, len, l->origin, l->log_key->pub, text_len);
}

/* The checkpoint's text (tlen bytes of note) against t's tree. */
static int
checkpoint_root(struct ldg_txn *t, const char *note, size_t tlen,
                uint64_t *size)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    char origin[LDG_ORIGIN_MAX + 1];
    uint8_t root[32], ours[32];
    int rc;

    rc = ldg_checkpoint_parse(note, tlen, origin, sizeof origin, size, root);
    if (rc < 0)
        return rc;
    if (strcmp(origin, ldg_origin(l)) != 0)
        return LDG_EBADINPUT;
    if ((rc = ldg_tree_root(t, *size, ours)) == LDG_EPRUNED) {
        char what[96];
        snprintf(what, sizeof what, "no root of the tree of size %llu",
                 (unsigned long long)*size);
        return ldg_tree_pruned_err(t, what);
    }
    if (rc < 0)
        return rc;
    return memcmp(ours, root, 32) == 0 ? 0 : LDG_ETAMPER;
}

int
ldg_checkpoint_check_key(struct ldg_txn *t, const char *note, size_t len,
                         uint64_t *size)
{
    size_t tlen;
    int rc = ldg_log_verify_note(ldg_txn_ledger(t), note, len, &tlen);
    return rc < 0 ? rc : checkpoint_root(t, note, tlen, size);
}

int
ldg_checkpoint_check_root(struct ldg_txn *t, const char *note, size_t len,
                          uint64_t *size)
{
    size_t tlen = ldg_note_text_len(note, len);
    if (tlen == 0)
        return LDG_EBADINPUT; /* (no signature lines: not a note) */
    return checkpoint_root(t, note, tlen, size);
}

int
ldg_note_verify_vkey(const char *vkey, const char *note, size_t len,
                     size_t *text_len)
{
    char name[LDG_ORIGIN_MAX + 1];
    uint8_t pub[32];
    int rc = ldg_note_parse_verifier(vkey, name, sizeof name, pub);
    if (rc < 0)
        return rc;
    return ldg_note_verify(note, len, name, pub, text_len);
}

int
ldg_entry_prev(struct ldg_txn *t, uint64_t seq, uint8_t prev[32])
{
    int rc;
    if (seq == 0) {
        memset(prev, 0, 32);
        return 0;
    }
    rc = ldg_tree_stored_hash(t, 0, seq - 1, prev);
    /* a tree without the leaf the record needs: damage (verify names it) */
    return rc == LDG_ENOTFOUND ? LDG_ECORRUPT : rc;
}
