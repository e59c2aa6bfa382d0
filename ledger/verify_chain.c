/*
 * verify_chain.c — verify's pass 1 (see verify.c): in seq order, every
 * entry decodes canonically, carries its key as seq, links to the one
 * before (prev), keeps time going forward; the stored Merkle tree equals
 * the one recomputed from the entries (the right edge, a reader per
 * level); every stored checkpoint is signed by the log key for the root
 * at its size; the root at the size verified before is unchanged.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/tree_int.h"
#include "ledger/tlog_int.h"
#include "ledger/verify_int.h"

/* The right edge of the tree: stack of complete subtree hashes, largest
 * first. Adding leaf n merges while the top has the same level. */
struct edge {
    uint8_t h[64][32];
    int level[64];
    int n;
    struct seqrd rd[64]; /* stored hashes, a reader per level */
    int rd_open[64];
    int layout; /* the store layout (format.h) */
    /* layout 2: a full tile per tile level, which one, and whether
     * tile[tl] holds it */
    uint8_t tile[8][LDG_TILE_BYTES];
    uint64_t tile_n[8];
    size_t tile_count[8]; /* hashes it holds: 256, 255 (last missing), 0 */
    int tile_asked[8];
};

/* The stored hash of tree node (level, index), as ldg_tree_stored_hash
 * reads it, through the level's sequential reader (a level's nodes are
 * asked for in increasing order). 1 for a node layout 2 does not store. */
static int
edge_stored(struct edge *e, struct ldg_txn *t, int level, uint64_t index,
            uint8_t out[32])
{
    struct ldg_val v;
    uint8_t k[9];
    int rc;

    if (ldg_layout_has(e->layout, LDG_HAS_TILES)) {
        /* layout 2 stores the hashes of levels 8·tl only: in full tiles,
         * and past them in db tree as layout 1 does */
        int tl = level / LDG_TILE_HEIGHT;
        uint64_t n = index / LDG_TILE_WIDTH;
        if (level % LDG_TILE_HEIGHT != 0)
            return 1; /* not stored: nothing to compare */
        if (!e->tile_asked[tl] || e->tile_n[tl] != n) {
            rc = ldg_tree_tile_read(t, tl, n, e->tile[tl], &e->tile_count[tl]);
            if (rc < 0 && rc != LDG_ENOTFOUND)
                return rc;
            if (rc < 0)
                e->tile_count[tl] = 0;
            e->tile_n[tl] = n;
            e->tile_asked[tl] = 1;
        }
        if (e->tile_count[tl] > 0 &&
            index % LDG_TILE_WIDTH >= e->tile_count[tl])
            return LDG_ENOTFOUND; /* a split tile's last hash is missing */
        if (e->tile_count[tl] > 0) {
            memcpy(out, e->tile[tl] + 32 * (index % LDG_TILE_WIDTH), 32);
            return 0;
        }
    }
    if (!e->rd_open[level]) {
        vf_seqrd_open(&e->rd[level], t,
                      ldg_store_core_dbi(ldg_txn_store(t), LDG_DB_TREE));
        e->rd_open[level] = 1;
    }
    k[0] = (uint8_t)level;
    ldg_be64(k + 1, index);
    if ((rc = vf_seqrd_get(&e->rd[level], k, 9, &v)) < 0)
        return rc;
    if (v.len != 32)
        return LDG_ECORRUPT;
    memcpy(out, v.data, 32);
    return 0;
}

/* Merges the edge's top subtrees while two are of one level (the last
 * pushed at index idx of its level), comparing each subtree completed
 * with its stored hash. Returns 0 or the level whose stored hash differs
 * (+1), -err on I/O. */
static int
edge_fold(struct edge *e, struct ldg_txn *t, uint64_t idx)
{
    uint8_t stored[32];
    int rc;

    while (e->n >= 2 && e->level[e->n - 1] == e->level[e->n - 2]) {
        int lv = e->level[e->n - 1] + 1;
        ldg_tlog_node_hash(e->h[e->n - 2], e->h[e->n - 2], e->h[e->n - 1]);
        e->level[e->n - 2] = lv;
        e->n--;
        idx >>= 1;
        rc = edge_stored(e, t, lv, idx, stored);
        if (rc < 0)
            return rc == LDG_ENOTFOUND ? lv + 1 : rc;
        if (rc == 0 && memcmp(stored, e->h[e->n - 1], 32) != 0)
            return lv + 1;
    }
    return 0;
}

/* Adds a leaf and compares each completed subtree with the stored hash.
 * Returns 0 or the level whose stored hash differs (+1), -err on I/O. */
static int
edge_add(struct edge *e, struct ldg_txn *t, uint64_t seq,
         const uint8_t leaf[32])
{
    uint8_t stored[32];
    int rc;

    memcpy(e->h[e->n], leaf, 32);
    e->level[e->n] = 0;
    e->n++;
    rc = edge_stored(e, t, 0, seq, stored);
    if (rc < 0)
        return rc == LDG_ENOTFOUND ? 1 : rc;
    if (memcmp(stored, leaf, 32) != 0)
        return 1;
    return edge_fold(e, t, seq);
}

static void
edge_close(struct edge *e)
{
    for (int i = 0; i < 64; i++)
        if (e->rd_open[i])
            vf_seqrd_close(&e->rd[i]);
}

static void
edge_root(const struct edge *e, uint8_t root[32])
{
    if (e->n == 0) {
        ldg_sha256(root, "", 0);
        return;
    }
    memcpy(root, e->h[e->n - 1], 32);
    for (int i = e->n - 2; i >= 0; i--)
        ldg_tlog_node_hash(root, e->h[i], root);
}

/* Verifies the stored checkpoint note of size against our root. */
static int
check_checkpoint(struct vstate *vs, const char *note, size_t len, uint64_t size,
                 const uint8_t root[32])
{
    struct ldg_ledger *l = vs->l;
    char origin[LDG_ORIGIN_MAX + 1];
    uint64_t csize;
    uint8_t croot[32];
    size_t tlen;
    int rc = ldg_note_verify(note, len, l->origin, l->log_key->pub, &tlen);

    if (rc == LDG_ENOMEM) /* no finding: ldg_verify answers LDG_ENOMEM */
        return ldg_alloc_failed(), 1;
    if (rc != 0) {
        vf_bad(vs, size - 1,
               "checkpoint of size %llu: signature does not "
               "verify with the log key",
               (unsigned long long)size);
        return 1;
    }
    if (ldg_checkpoint_parse(note, tlen, origin, sizeof origin, &csize,
                             croot) != 0 ||
        csize != size || strcmp(origin, l->origin) != 0) {
        vf_bad(vs, size - 1, "checkpoint of size %llu is malformed",
               (unsigned long long)size);
        return 1;
    }
    if (memcmp(croot, root, 32) != 0) {
        vf_bad(vs, size - 1,
               "checkpoint of size %llu: root differs from the "
               "tree of the entries",
               (unsigned long long)size);
        return 1;
    }
    return 0;
}

/* Pushes the stored hash h of node (level, idx) onto the edge (whose
 * subtrees are all of level >= level), comparing each subtree it
 * completes with the stored hash: as edge_add, from a level-8 node. */
static int
edge_push(struct edge *e, struct ldg_txn *t, int level, uint64_t idx,
          const uint8_t h[32])
{
    memcpy(e->h[e->n], h, 32);
    e->level[e->n] = level;
    e->n++;
    return edge_fold(e, t, idx);
}

/* Store layout 9: the tiles before vs->tree_from went with the pruned
 * events. The tree over them is their stored level-8 hashes (tile level 1
 * and up, kept whole), compared with the stored levels above as for any
 * subtree; a checkpoint of a size at a tile's edge is checked against the
 * root they give, one inside a dropped tile cannot be (counted). 0, 1 on
 * a finding, < 0 on I/O. */
static int
pruned_tiles(struct vstate *vs, struct edge *e, struct ldg_txn *t,
             struct ldg_cursor *cc, struct ldg_val *ck, struct ldg_val *cv,
             uint64_t *cksize, uint64_t *last_ck, uint64_t *ncheck)
{
    uint8_t h[32], root[32];
    int rc, crc;

    for (uint64_t n = 0; n < vs->tree_from / LDG_TILE_WIDTH; n++) {
        uint64_t end = (n + 1) * LDG_TILE_WIDTH;
        rc = edge_stored(e, t, LDG_TILE_HEIGHT, n, h);
        if (rc == 0)
            rc = edge_push(e, t, LDG_TILE_HEIGHT, n, h);
        if (rc == LDG_ENOTFOUND || rc == LDG_ECORRUPT || rc == LDG_EBADINPUT) {
            vf_bad(vs, end - 1,
                   "storage corrupt: the stored Merkle hash of pruned "
                   "events %llu..%llu (level 8) cannot be read (%s)",
                   (unsigned long long)(end - LDG_TILE_WIDTH),
                   (unsigned long long)(end - 1), vf_strerror(rc));
            return 1;
        }
        if (rc < 0)
            return rc;
        if (rc > 0) {
            vf_bad(vs, end - 1,
                   "stored Merkle hash at level %d differs from the hashes "
                   "of the pruned events below it",
                   rc - 1);
            return 1;
        }
        while (*cksize <= end) {
            if (*cksize == end) {
                (*ncheck)++;
                edge_root(e, root);
                if (check_checkpoint(vs, cv->data, cv->len, *cksize, root))
                    return 1;
                *last_ck = *cksize;
            } else {
                vs->ck_unchecked++;
            }
            crc = ldg_cursor_get(cc, LDG_NEXT, NULL, 0, ck, cv);
            *cksize =
                (crc == 0 && ck->len == 8) ? ldg_rd_be64(ck->data) : UINT64_MAX;
        }
    }
    return 0;
}

/* The events before the horizon: their leaf hashes as stored, the tree
 * they make compared level by level with the stored one, each checkpoint
 * of a size up to the horizon checked against its root, and the last
 * leaf must be the horizon record's (at layout 9, from the first leaf
 * the prune kept: pruned_tiles before). 0, 1 on a finding, < 0 on I/O. */
static int
pruned_prefix(struct vstate *vs, struct edge *e, struct ldg_txn *t,
              struct ldg_cursor *cc, struct ldg_val *ck, struct ldg_val *cv,
              uint64_t *cksize, uint64_t *last_ck, uint64_t *ncheck)
{
    uint8_t leaf[32], root[32];
    int rc, crc;

    rc = pruned_tiles(vs, e, t, cc, ck, cv, cksize, last_ck, ncheck);
    if (rc != 0)
        return rc;
    for (uint64_t seq = vs->tree_from; seq < vs->start; seq++) {
        rc = edge_stored(e, t, 0, seq, leaf);
        if (rc == LDG_ENOTFOUND) {
            vf_bad(vs, seq,
                   "pruned event: its leaf hash is missing from the stored "
                   "Merkle tree");
            return 1;
        }
        if (rc == LDG_ECORRUPT || rc == LDG_EBADINPUT) {
            vf_bad(vs, seq,
                   "storage corrupt: the stored Merkle tree at this pruned "
                   "event cannot be read (%s)",
                   vf_strerror(rc));
            return 1;
        }
        if (rc < 0)
            return rc;
        if (seq + 1 == vs->start && memcmp(leaf, vs->hz.leaf, 32) != 0) {
            vf_bad(vs, seq,
                   "the stored leaf hash of the last pruned event is not "
                   "the one the horizon record names");
            return 1;
        }
        rc = edge_add(e, t, seq, leaf);
        if (rc == LDG_ECORRUPT || rc == LDG_EBADINPUT) {
            vf_bad(vs, seq,
                   "storage corrupt: the stored Merkle tree at this pruned "
                   "event cannot be read (%s)",
                   vf_strerror(rc));
            return 1;
        }
        if (rc < 0)
            return rc;
        if (rc > 0) {
            vf_bad(vs, seq,
                   "stored Merkle hash at level %d differs from the hashes "
                   "of the pruned events below it",
                   rc - 1);
            return 1;
        }
        while (seq + 1 == *cksize) {
            (*ncheck)++;
            edge_root(e, root);
            if (check_checkpoint(vs, cv->data, cv->len, *cksize, root))
                return 1;
            *last_ck = *cksize;
            crc = ldg_cursor_get(cc, LDG_NEXT, NULL, 0, ck, cv);
            *cksize =
                (crc == 0 && ck->len == 8) ? ldg_rd_be64(ck->data) : UINT64_MAX;
        }
        if ((seq & VERIFY_TRIM_MASK) == VERIFY_TRIM_MASK)
            ldg_store_trim(vs->l->store);
    }
    if (*last_ck != vs->start) {
        vf_bad(vs, vs->start - 1,
               "no signed checkpoint at the horizon's size %llu",
               (unsigned long long)vs->start);
        return 1;
    }
    return 0;
}

/* The entry at seq in its place of the chain: its number, prev, time and
 * parent. 1: a finding (made), 0: none. */
static int
chain_bad(struct vstate *vs, const struct ldg_event *ev, uint64_t seq,
          const uint8_t prev[32], uint64_t last_ts)
{
    if (ev->seq != seq) {
        vf_bad(vs, seq,
               "entry carries sequence number %llu (moved, "
               "swapped or duplicated)",
               (unsigned long long)ev->seq);
        return 1;
    }
    if (memcmp(ev->prev, prev, 32) != 0) {
        vf_bad(vs, seq,
               "hash chain broken: prev is not the leaf hash of "
               "event %llu",
               (unsigned long long)(seq ? seq - 1 : 0));
        return 1;
    }
    if (seq > 0 && ev->ts_ns <= last_ts) {
        vf_bad(vs, seq, "time goes backwards (%llu after %llu)",
               (unsigned long long)ev->ts_ns, (unsigned long long)last_ts);
        return 1;
    }
    if (ev->has_parent && ev->parent >= seq) {
        vf_bad(vs, seq, "parent %llu is not an earlier event",
               (unsigned long long)ev->parent);
        return 1;
    }
    return 0;
}

/* At the log's end: its newest checkpoint is at its size, and no
 * checkpoint or earlier verification went past it. */
static void
tail_checks(struct vstate *vs, uint64_t size, uint64_t last_ck, uint64_t cksize,
            uint64_t saved_size)
{
    /* A seal still open at the end needs no finding of its own: the log
     * then has no checkpoint at its size (said below), as every
     * checkpoint is at a seal boundary (checked above). */
    /* Every commit stores a checkpoint of its new size: the newest is
     * part of the log (checkpoint, proof and export stand on it). */
    /* (a checkpoint beyond the log's end says more: the tail was cut,
     * below) */
    if (size > 0 && last_ck != size && !(cksize != UINT64_MAX && cksize > size))
        vf_bad(vs, size - 1,
               "no signed checkpoint at the log's size %llu (the newest "
               "stored is for %llu): the latest checkpoint was deleted",
               (unsigned long long)size, (unsigned long long)last_ck);
    if (cksize != UINT64_MAX && cksize > size)
        vf_bad(vs, size,
               "a checkpoint was signed for %llu events but the log has %llu: "
               "the tail from here on was truncated",
               (unsigned long long)cksize, (unsigned long long)size);
    if (saved_size > size)
        vf_bad(vs, size,
               "the log has %llu events but %llu were verified before: the "
               "tail from here on was truncated",
               (unsigned long long)size, (unsigned long long)saved_size);
}

int
vf_pass1(struct vstate *vs, struct ldg_txn *t, uint64_t size,
         uint64_t saved_size, const uint8_t saved_root[32], uint64_t *ncheck,
         uint8_t final_root[32], uint64_t *with_run)
{
    struct ldg_ledger *l = vs->l;
    struct edge *e = calloc(1, sizeof *e);
    struct seqrd ent;
    struct ldg_cursor *cc = NULL;
    struct ldg_val ck, cv;
    uint8_t prev[32] = {0};
    uint64_t last_ts = 0, cksize = UINT64_MAX, seq = 0, last_ck = 0;
    int rc = 0, crc, stop = 0;

    if (e == NULL) {
        vf_p1_publish(vs, 0, 1);
        return ldg_alloc_failed();
    }
    *with_run = 0;
    if ((e->layout = ldg_txn_layout(t)) < 0) {
        rc = e->layout;
        free(e);
        vf_p1_publish(vs, 0, 1);
        return rc;
    }
    vf_seqrd_open(&ent, t, ldg_store_core_dbi(l->store, ldg_db_entries(t)));
    rc = ldg_cursor_open(t, ldg_store_core_dbi(l->store, LDG_DB_CHECKPOINTS),
                         &cc);
    if (rc < 0)
        goto out;
    crc = ldg_cursor_get(cc, LDG_FIRST, NULL, 0, &ck, &cv);
    if (crc == 0 && ck.len == 8)
        cksize = ldg_rd_be64(ck.data);
    /* A pruned ledger: the tree over the kept hashes of the events before
     * the horizon, with every checkpoint they reach; the chain goes on
     * from the horizon record's last leaf and time. */
    if (vs->start > 0) {
        rc = pruned_prefix(vs, e, t, cc, &ck, &cv, &cksize, &last_ck, ncheck);
        if (rc != 0) {
            seq = 0;
            rc = rc > 0 ? 0 : rc;
            goto done;
        }
        memcpy(prev, vs->hz.leaf, 32);
        last_ts = vs->hz.ts_ns;
    }
    /* Pass 1 goes on whatever pass 2 finds: the erasures it collects decide
     * pass 2's deferred body checks. It stops at its own first finding. */
    for (seq = vs->start; seq < size; seq++) {
        struct ldg_event ev;
        struct ldg_val ev_v;
        uint8_t root[32];
        int tr;

        rc = vf_seqrd_seq(&ent, seq, &ev_v);
        /* a layout 5 record without prev is made whole with the leaf
         * hash just computed from the entry before it */
        if (rc == 0)
            rc = ldg_entry_decode_rec(ev_v.data, ev_v.len, prev, &ev, 0);
        if (rc == LDG_ENOTFOUND) {
            vf_bad(vs, seq,
                   "missing: the log skips from %llu to a later "
                   "number (deleted event)",
                   (unsigned long long)(seq ? seq - 1 : 0));
            rc = 0;
            break;
        }
        if (rc < 0) {
            vf_bad(vs, seq, "entry does not decode as a canonical entry (%s)",
                   vf_strerror(rc));
            rc = 0;
            break;
        }
        rc = 0;
        if (chain_bad(vs, &ev, seq, prev, last_ts))
            break;
        last_ts = ev.ts_ns;
        memcpy(prev, ev.leaf, 32);
        if (ev.run[0])
            (*with_run)++;
        if (ev.id_len > 0)
            vs->with_id++;
        tr = edge_add(e, t, seq, ev.leaf);
        if (tr == LDG_ECORRUPT || tr == LDG_EBADINPUT) {
            /* LMDB found a page it cannot follow: a finding, not an
             * error of this run */
            vf_bad(vs, seq,
                   "storage corrupt: the stored Merkle tree at this event "
                   "cannot be read (%s)",
                   vf_strerror(tr));
            break;
        }
        if (tr < 0) {
            rc = tr;
            break;
        }
        if (tr > 0) {
            /* Say why if we can: a re-signed or altered entry shows up
             * first as a leaf that differs from the stored tree. */
            if (tr > 1 || !vf_check_sig(vs, &ev))
                vf_bad(vs, seq,
                       "stored Merkle hash at level %d differs from "
                       "the entries (entry or tree altered)",
                       tr - 1);
            break;
        }
        if ((rc = vf_collect(vs, t, &ev)) != 0) {
            if (rc > 0)
                rc = 0;
            break;
        }
        if (ev.sealed != (l->format >= 2)) {
            vf_bad(vs, seq, "a format %d entry in a format %d ledger",
                   ev.sealed ? 2 : 1, l->format);
            break;
        }
        if (ev.sealed && (rc = vf_seal_step(vs, t, &ev)) != 0) {
            rc = rc > 0 ? 0 : LDG_ENOMEM;
            break;
        }
        if (seq + 1 == saved_size || seq + 1 == cksize) {
            edge_root(e, root);
            if (seq + 1 == saved_size && memcmp(root, saved_root, 32) != 0) {
                vf_bad(vs, seq,
                       "the log changed after it was verified: the "
                       "tree of its first %llu events has another "
                       "root now",
                       (unsigned long long)saved_size);
                break;
            }
            while (seq + 1 == cksize) {
                (*ncheck)++;
                if (vf_seals_closed(vs, cksize, "the checkpoint of size")) {
                    stop = 1;
                    break;
                }
                if (check_checkpoint(vs, cv.data, cv.len, cksize, root) ||
                    vf_checkpoint_epoch(vs, cv.data, cv.len,
                                        ldg_note_text_len(cv.data, cv.len),
                                        cksize)) {
                    stop = 1;
                    break;
                }
                last_ck = cksize;
                crc = ldg_cursor_get(cc, LDG_NEXT, NULL, 0, &ck, &cv);
                cksize = (crc == 0 && ck.len == 8) ? ldg_rd_be64(ck.data)
                                                   : UINT64_MAX;
            }
            if (stop)
                break;
        }
        /* Dropping the mapped pages (for every thread: the map is the
         * process's) now and then keeps the resident size down. Not
         * too often: every drop makes both passes fault their pages in
         * again (with a TLB flush on every core); once, a drop every
         * 16,384 events of each pass cost verify --full 17 s of CPU
         * against 6.6 s without. Every 32,768 (2026-12-03, 1M events,
         * 2-vCPU VM): 3.84 s of CPU against 3.85 at every 262,144, and a
         * migrate's verification peaked at 124-242 MiB, not 356-410
         * (the kernel maps the cached pages around each fault, so more
         * stays mapped than the events read). */
        if ((seq & VERIFY_TRIM_MASK) == VERIFY_TRIM_MASK)
            ldg_store_trim(l->store);
        if (((seq + 1) & (CHUNK - 1)) == 0)
            vf_p1_publish(vs, seq + 1, 0);
    }
    if (rc == 0 && seq == size)
        tail_checks(vs, size, last_ck, cksize, saved_size);
done:
    edge_root(e, final_root);
out:
    /* Events before seq passed; pass 2 may take all of them (none after
     * an I/O error: the caller gives up). */
    vf_p1_publish(vs, rc < 0 ? 0 : seq, 1);
    ldg_cursor_close(cc);
    vf_seqrd_close(&ent);
    if (e != NULL)
        edge_close(e);
    free(e);
    if (vs->nerased > 0)
        qsort(vs->erased, vs->nerased, sizeof *vs->erased, vf_cmp_u64);
    return rc;
}
