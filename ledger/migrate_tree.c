/*
 * migrate_tree.c — ledger migrate's steps of the Merkle tree: layout 1's
 * tree (every node a record of db tree) into full tiles (layout 2), and
 * layout 3's whole tiles split (layout 4). Only these steps read a tree
 * as those layouts keep it; the rest of the core reads layout 9's.
 */
#include <stdlib.h>
#include <string.h>

#include "ledger/layout_int.h"
#include "ledger/migrate_int.h"
#include "ledger/tree_int.h"

/* Layout 1: node (level, index), a record of db tree. */
static int
l1_node(struct ldg_txn *t, int level, uint64_t index, uint8_t out[32])
{
    uint8_t k[LDG_TREE_KEY_LEN];
    struct ldg_val v;
    int rc;
    ldg_tree_key(k, level, index);
    rc = ldg_kv_get(t, ldg_core(ldg_txn_ledger(t), LDG_DB_TREE), k, sizeof k,
                    &v);
    if (rc < 0)
        return rc;
    if (v.len != 32)
        return LDG_ECORRUPT;
    memcpy(out, v.data, 32);
    return 0;
}

/* ------------------------------------------------ layout 1 to layout 2 -- */

/* Hashes of tree level 8·tl in a log of size leaves: size at level 0, the
 * full tiles of the level below above it. */
uint64_t
ldg_mig_level_count(uint64_t size, int tl)
{
    for (int i = 0; i < tl; i++)
        size /= LDG_TILE_WIDTH;
    return size;
}

int
ldg_mig_tiles_copy(struct ldg_txn *t, int tl, uint64_t from, uint64_t to)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    uint8_t k[LDG_TREE_KEY_LEN], tile[LDG_TILE_WIDTH][32], mth[32], up[32];
    int rc;

    for (uint64_t n = from; n < to; n++) {
        rc = ldg_tree_edge_run(t, tl, n * LDG_TILE_WIDTH, LDG_TILE_WIDTH, tile);
        if (rc == 0)
            rc = l1_node(t, LDG_TILE_HEIGHT * (tl + 1), n, up);
        if (rc < 0) {
            ldg_seterr(
                l, "tree hashes of level %d, %llu..%llu: %s (%s)",
                LDG_TILE_HEIGHT * tl, (unsigned long long)(n * LDG_TILE_WIDTH),
                (unsigned long long)(n * LDG_TILE_WIDTH + 255),
                rc == LDG_ENOTFOUND ? "one is missing" : ldg_strerror(rc),
                ldg_damage_remedy(l, 0));
            return rc == LDG_ENOTFOUND ? LDG_ECORRUPT : rc;
        }
        ldg_tree_subtree_hash(tile[0], LDG_TILE_WIDTH, mth);
        if (memcmp(mth, up, 32) != 0) {
            ldg_seterr(l,
                       "tree hash (%d, %llu) is not the hash of the %d "
                       "below it (%s)",
                       LDG_TILE_HEIGHT * (tl + 1), (unsigned long long)n,
                       LDG_TILE_WIDTH, ldg_damage_remedy(l, 0));
            return LDG_ECORRUPT;
        }
        ldg_tree_key(k, tl, n);
        if ((rc = ldg_core_kv_put(t, ldg_core(l, LDG_DB_TILES), k, sizeof k,
                                  tile, sizeof tile)) < 0)
            return rc;
    }
    return 0;
}

int
ldg_mig_tiles_finish(struct ldg_txn *t, uint64_t size, int layout)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    ldg_dbi tree = ldg_core(l, LDG_DB_TREE);
    uint8_t(*edge)[LDG_TILE_WIDTH][32] = NULL;
    uint8_t root1[32], root2[32], k[LDG_TREE_KEY_LEN], lay[LDG_META_LAYOUT_LEN];
    uint8_t tile[LDG_TILE_BYTES];
    size_t ne[8] = {0}, have;
    int rc, top = 0;

    if (ldg_txn_has(t, LDG_HAS_TILES) != 0 ||
        !ldg_layout_has(layout, LDG_HAS_TILES))
        return LDG_EINVAL;
    if (size > 0 && (rc = ldg_tree_root(t, size, root1)) < 0)
        return rc;
    if ((edge = calloc(8, sizeof *edge)) == NULL)
        return LDG_ENOMEM;
    /* the tiles the steps before did not copy (appends since), and each
     * level's hashes past its last full tile */
    for (int tl = 0; tl < 8; tl++) {
        uint64_t c = ldg_mig_level_count(size, tl), f = c / LDG_TILE_WIDTH;
        if (c == 0)
            break;
        top = tl + 1;
        for (uint64_t n = 0; n < f; n++) {
            rc = ldg_tree_tile_read(t, tl, n, tile, &have);
            if (rc == LDG_ENOTFOUND)
                rc = ldg_mig_tiles_copy(t, tl, n, n + 1);
            if (rc < 0)
                goto out;
        }
        ne[tl] = (size_t)(c - f * LDG_TILE_WIDTH);
        if (ne[tl] > 0 && (rc = ldg_tree_edge_run(t, tl, f * LDG_TILE_WIDTH,
                                                  ne[tl], edge[tl])) < 0) {
            if (rc == LDG_ENOTFOUND)
                rc = LDG_ECORRUPT;
            goto out;
        }
    }
    /* db tree keeps the edge alone */
    if ((rc = ldg_core_db_drop(t, tree, 0)) < 0)
        goto out;
    for (int tl = 0; tl < top; tl++) {
        uint64_t f = ldg_mig_level_count(size, tl) / LDG_TILE_WIDTH;
        for (size_t j = 0; j < ne[tl]; j++) {
            ldg_tree_key(k, LDG_TILE_HEIGHT * tl, f * LDG_TILE_WIDTH + j);
            if ((rc = ldg_core_kv_put(t, tree, k, sizeof k, edge[tl][j], 32)) <
                0)
                goto out;
        }
    }
    ldg_be32(lay, (uint32_t)layout);
    if ((rc = ldg_core_kv_put(t, ldg_core(l, LDG_DB_META), LDG_META_LAYOUT,
                              sizeof LDG_META_LAYOUT - 1, lay, sizeof lay)) < 0)
        goto out;
    ldg_txn_set_layout(t, layout);
    /* the same tree, read the new way */
    if (size > 0 && (rc = ldg_tree_root(t, size, root2)) < 0)
        goto out;
    if (size > 0 && memcmp(root1, root2, 32) != 0) {
        ldg_seterr(l,
                   "the tree of %llu events read from the tiles has "
                   "another root than before: nothing was changed",
                   (unsigned long long)size);
        rc = LDG_ECORRUPT;
    }
out:
    free(edge);
    return rc;
}

/* ------------------------------------------------ layout 3 to layout 4 -- */

int
ldg_mig_tiles_split(struct ldg_txn *t, const uint8_t from[LDG_TREE_KEY_LEN],
                    size_t max, uint8_t next[LDG_TREE_KEY_LEN], int *done,
                    uint64_t *split)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    struct ldg_cursor *c = NULL;
    struct ldg_val k, v;
    uint8_t(*keys)[LDG_TREE_KEY_LEN] = NULL, tile[LDG_TILE_BYTES];
    uint8_t tk[LDG_TREE_KEY_LEN];
    size_t n = 0;
    int rc;

    *done = 0;
    *split = 0;
    memcpy(next, from, LDG_TREE_KEY_LEN);
    /* (layout 4's step alone: a whole tile in a later layout is damage
     * verify names, not a tile to split) */
    if (ldg_txn_has(t, LDG_HAS_SPLIT) != 1 ||
        ldg_txn_has(t, LDG_HAS_STORED) != 0 || max == 0)
        return LDG_EINVAL;
    if ((keys = malloc(max * sizeof *keys)) == NULL)
        return LDG_ENOMEM;
    /* the keys of the next whole tiles, then each split */
    if ((rc = ldg_cursor_open(t, ldg_core(l, LDG_DB_TILES), &c)) < 0)
        goto out;
    rc = ldg_cursor_get(c, LDG_SET_RANGE, from, LDG_TREE_KEY_LEN, &k, &v);
    for (; rc == 0 && n < max;
         rc = ldg_cursor_get(c, LDG_NEXT, NULL, 0, &k, &v)) {
        const uint8_t *p = k.data;
        if (k.len != LDG_TREE_KEY_LEN || p[0] >= 8 ||
            ldg_rd_be64(p + 1) > UINT64_MAX / LDG_TILE_WIDTH - 1) {
            ldg_seterr(
                l,
                "tiles: a malformed key, %zu bytes (%s); the tiles split "
                "before it stay split",
                k.len, ldg_damage_remedy(l, 1));
            rc = LDG_ECORRUPT;
            break;
        }
        if (v.len == LDG_TILE_BYTES)
            memcpy(keys[n++], p, LDG_TREE_KEY_LEN);
        else if (v.len != LDG_TILE_SPLIT_BYTES) {
            ldg_seterr(l,
                       "tiles: tile %d/%llu is %zu bytes, neither whole nor "
                       "split (%s)",
                       p[0], (unsigned long long)ldg_rd_be64(p + 1), v.len,
                       ldg_damage_remedy(l, 1));
            rc = LDG_ECORRUPT;
            break;
        }
    }
    if (rc == 0)
        memcpy(next, k.data, LDG_TREE_KEY_LEN); /* the first not looked at */
    ldg_cursor_close(c);
    if (rc == LDG_ENOTFOUND) {
        *done = 1;
        rc = 0;
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        uint64_t tn = ldg_rd_be64(keys[i] + 1);
        if ((rc = ldg_kv_get(t, ldg_core(l, LDG_DB_TILES), keys[i],
                             LDG_TREE_KEY_LEN, &v)) < 0)
            break;
        memcpy(tile, v.data, sizeof tile);
        ldg_tree_key(tk, LDG_TILE_HEIGHT * keys[i][0],
                     tn * LDG_TILE_WIDTH + LDG_TILE_WIDTH - 1);
        if ((rc = ldg_core_kv_put(t, ldg_core(l, LDG_DB_TREE), tk, sizeof tk,
                                  tile + LDG_TILE_SPLIT_BYTES, 32)) < 0 ||
            (rc = ldg_core_kv_put(t, ldg_core(l, LDG_DB_TILES), keys[i],
                                  LDG_TREE_KEY_LEN, tile,
                                  LDG_TILE_SPLIT_BYTES)) < 0)
            break;
        (*split)++;
    }
out:
    free(keys);
    return rc;
}

int
ldg_mig_tiles_whole(struct ldg_txn *t, uint64_t *n)
{
    struct ldg_cursor *c;
    struct ldg_val k, v;
    int rc;

    *n = 0;
    if ((rc = ldg_txn_has(t, LDG_HAS_SPLIT)) <= 0)
        return rc;
    if ((rc = ldg_cursor_open(t, ldg_core(ldg_txn_ledger(t), LDG_DB_TILES),
                              &c)) < 0)
        return rc;
    for (rc = ldg_cursor_get(c, LDG_FIRST, NULL, 0, &k, &v); rc == 0;
         rc = ldg_cursor_get(c, LDG_NEXT, NULL, 0, &k, &v))
        *n += v.len == LDG_TILE_BYTES;
    ldg_cursor_close(c);
    return rc == LDG_ENOTFOUND ? 0 : rc;
}
