/*
 * prune.c — a prune's transaction (ldg_prune_txn): the horizon record
 * of the keys as they stood, the events, bodies, index records and tiles
 * below it deleted, the tiles it keeps made whole. The record's codec
 * and its readers are horizon.c's.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/crypto_int.h"
#include "ledger/epoch_int.h"
#include "ledger/index_int.h"
#include "ledger/keys_int.h"
#include "ledger/mp_int.h"

/* ------------------------------------------------------------ pruning -- */

/* The keys as they stood at horizon hz (added before it), with their
 * roles and the events their seals covered before it. */
static int
keys_at(struct ldg_txn *t, const struct ldg_horizon *old, uint64_t hz,
        struct ldg_horizon *h)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    struct ldg_cursor *c = NULL;
    struct ldg_val k, v;
    size_t cap = 0;
    int rc;

    if ((rc = ldg_cursor_open(t, ldg_core(l, LDG_DB_KEYS), &c)) < 0)
        return rc;
    for (rc = ldg_cursor_get(c, LDG_SET_RANGE, LDG_KEYS_ID, LDG_KEYS_ID_LEN, &k,
                             &v);
         rc == 0; rc = ldg_cursor_get(c, LDG_NEXT, NULL, 0, &k, &v)) {
        struct ldg_key_state ks;
        struct ldg_horizon_key *hk;
        const struct ldg_horizon_key *was;
        char id[LDG_KEYID_LEN + 1];
        if (k.len != LDG_KEYS_ID_LEN + LDG_KEYID_LEN ||
            memcmp(k.data, LDG_KEYS_ID, LDG_KEYS_ID_LEN) != 0)
            break;
        memcpy(id, (const char *)k.data + LDG_KEYS_ID_LEN, LDG_KEYID_LEN);
        id[LDG_KEYID_LEN] = '\0';
        /* proven against the key events (or the old horizon) */
        if ((rc = ldg_keys_lookup(t, id, &ks)) < 0)
            break;
        if (ks.added_seq >= hz)
            continue;
        if (h->nkeys == cap) {
            struct ldg_horizon_key *nk;
            cap = cap ? 2 * cap : 16;
            if (cap > LDG_HORIZON_KEYS_MAX + 16 ||
                (nk = realloc(h->keys, cap * sizeof *nk)) == NULL) {
                rc = cap > LDG_HORIZON_KEYS_MAX ? LDG_ETOOBIG : LDG_ENOMEM;
                break;
            }
            h->keys = nk;
        }
        hk = &h->keys[h->nkeys++];
        memset(hk, 0, sizeof *hk);
        memcpy(hk->key_id, ks.key_id, sizeof hk->key_id);
        memcpy(hk->name, ks.name, sizeof hk->name);
        memcpy(hk->pub, ks.pub, 32);
        hk->added = ks.added_seq;
        hk->revoked = ks.revoked_seq < hz ? ks.revoked_seq : UINT64_MAX;
        was = ldg_horizon_key_find(old, id);
        if (was != NULL) {
            snprintf(hk->roles, sizeof hk->roles, "%s", was->roles);
            hk->sealed = was->sealed;
        } else if (ks.added_seq == 0) {
            snprintf(hk->roles, sizeof hk->roles, "*");
        } else {
            ldg_keys_roles_text(t, &ks, hk->roles, sizeof hk->roles);
        }
        if (was != NULL)
            snprintf(hk->held, sizeof hk->held, "%s", was->held);
        else if (ldg_key_writer_held(t, ks.added_seq) == 1)
            snprintf(hk->held, sizeof hk->held, "writer");
    }
    ldg_cursor_close(c);
    if (rc == LDG_ENOTFOUND)
        rc = 0;
    if (rc < 0)
        return rc;
    /* the seals of the events pruned now: their counts, by key */
    if (l->format >= 2) {
        uint8_t key[8];
        if ((rc = ldg_cursor_open(t, ldg_core(l, LDG_DB_SEALS), &c)) < 0)
            return rc;
        ldg_be64(key, old ? old->seq : 0);
        for (rc = ldg_cursor_get(c, LDG_SET_RANGE, key, 8, &k, &v); rc == 0;
             rc = ldg_cursor_get(c, LDG_NEXT, NULL, 0, &k, &v)) {
            struct ldg_seal s;
            struct ldg_horizon_key *hk = NULL;
            if (k.len != 8 || ldg_rd_be64(k.data) >= hz)
                break;
            if (ldg_seal_record_decode(v.data, v.len, &s) < 0) {
                rc = LDG_ECORRUPT;
                break;
            }
            for (size_t i = 0; i < h->nkeys && hk == NULL; i++)
                if (strcmp(h->keys[i].key_id, s.key_id) == 0)
                    hk = &h->keys[i];
            if (hk == NULL) {
                rc = LDG_ECORRUPT;
                break;
            }
            hk->sealed += s.count;
        }
        ldg_cursor_close(c);
        if (rc == LDG_ENOTFOUND)
            rc = 0;
    }
    return rc;
}

/* A prune reads every page of the records it deletes and of the indexes
 * it walks, and an index's deletions are scattered (a page each, read and
 * copied): the pages it is done with leave the process every
 * PRUNE_RELEASE records (the map is read-only; a page touched again is
 * read again from the page cache), so that its resident size is a step's
 * changes, not the ledger's (16,384 let a 1M-event prune peak at 173 MiB,
 * 2,048 at 91 MiB, in the same time). */
#define PRUNE_RELEASE 2048

/* Deletes the keys of db of below's length from `from` (NULL: the
 * first key) up to (not including) below, counting them in *n. */
static int
del_below(struct ldg_txn *t, enum ldg_core_db db, const uint8_t *from,
          size_t from_len, const uint8_t *below, size_t len, uint64_t *n)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    struct ldg_cursor *c;
    struct ldg_val k;
    int rc;

    if (!ldg_store_has_core(l->store, db))
        return 0;
    if ((rc = ldg_cursor_open(t, ldg_core(l, db), &c)) < 0)
        return rc;
    /* deleting as it goes, then from the first key again until it is past
     * below: a step after a delete is LMDB's to get right, the last look
     * is ours */
    for (;;) {
        uint64_t before = *n;
        for (rc = from != NULL
                      ? ldg_cursor_get(c, LDG_SET_RANGE, from, from_len, &k,
                                       NULL)
                      : ldg_cursor_get(c, LDG_FIRST, NULL, 0, &k, NULL);
             rc == 0; rc = ldg_cursor_get(c, LDG_NEXT, NULL, 0, &k, NULL)) {
            if (k.len != len || memcmp(k.data, below, len) >= 0)
                break;
            if ((rc = ldg_cursor_del(c)) < 0)
                break;
            if (++*n % PRUNE_RELEASE == 0)
                ldg_store_trim(l->store);
        }
        if (rc < 0 || *n == before)
            break;
    }
    ldg_cursor_close(c);
    return rc == LDG_ENOTFOUND ? 0 : rc;
}

/* Deletes the keys of db from the first up to (not including) the u64be
 * key hz. */
static int
del_seq_range(struct ldg_txn *t, enum ldg_core_db db, uint64_t hz, uint64_t *n)
{
    uint8_t below[8];
    ldg_be64(below, hz);
    return del_below(t, db, NULL, 0, below, sizeof below, n);
}

/* Deletes the index records of the events before hz: in ix.* the
 * duplicates below it (each key's first ones), in idx.* the keys whose
 * last 8 bytes are a seq below it. */
static int
del_index(struct ldg_txn *t, enum ldg_core_db db, uint64_t hz, uint64_t *n)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    int dups = ldg_index_dups(db);
    uint64_t seen = 0;
    struct ldg_cursor *c;
    struct ldg_val k, v;
    int rc;

    if (!ldg_store_has_core(l->store, db))
        return 0;
    if ((rc = ldg_cursor_open(t, ldg_core(l, db), &c)) < 0)
        return rc;
    rc = ldg_cursor_get(c, LDG_FIRST, NULL, 0, &k, &v);
    while (rc == 0) {
        const uint8_t *s = dups ? v.data : (const uint8_t *)k.data + k.len - 8;
        if (++seen % PRUNE_RELEASE == 0)
            ldg_store_trim(l->store);
        if ((dups ? v.len : k.len) < 8) {
            rc = LDG_ECORRUPT;
            break;
        }
        if (ldg_rd_be64(s) < hz) {
            uint8_t key[LDG_SUBJECT_MAX + 16];
            size_t klen = k.len < sizeof key ? k.len : sizeof key;
            memcpy(key, k.data, klen);
            if ((rc = ldg_cursor_del(c)) < 0)
                break;
            (*n)++;
            /* from the deleted record's key again: the key's next
             * duplicate, or the next key (a step after deleting a key's
             * last duplicate skipped the next key's first in LMDB) */
            rc = ldg_cursor_get(c, LDG_SET_RANGE, key, klen, &k, &v);
        } else {
            rc = ldg_cursor_get(c, dups ? LDG_NEXT_NODUP : LDG_NEXT, NULL, 0,
                                &k, &v);
        }
    }
    ldg_cursor_close(c);
    return rc == LDG_ENOTFOUND ? 0 : rc;
}

/* Deletes the records of db keyed u8 level ‖ u64be index (ldg_tree_key)
 * at level 0 with an index below end. */
static int
del_level0(struct ldg_txn *t, enum ldg_core_db db, uint64_t end, uint64_t *n)
{
    uint8_t first[LDG_TREE_KEY_LEN], below[LDG_TREE_KEY_LEN];
    if (end == 0)
        return 0;
    ldg_tree_key(first, 0, 0);
    ldg_tree_key(below, 0, end);
    return del_below(t, db, first, sizeof first, below, sizeof below, n);
}

/* Store layout 9 (FORMAT.md 6.2): the level-0 tiles wholly before the
 * one holding event hz-1, and their last hashes in db tree, go with the
 * pruned events. Every hash a proof of an event from hz on needs stays:
 * its siblings below level 8 lie in its own tile (at or after that one),
 * and those of level 8 and up are the hashes of tile levels 1 and up,
 * which stay whole; so do the roots of sizes from hz on, and the
 * consistency proofs between them (a size's own tile is at or after it).
 * What needs a dropped hash (a proof of an event before the kept tiles,
 * a consistency proof from a size inside them) answers LDG_EPRUNED. */
static int
drop_pruned_tiles(struct ldg_txn *t, uint64_t hz, uint64_t *n)
{
    uint64_t kept = (hz - 1) / LDG_TILE_WIDTH * LDG_TILE_WIDTH, last = 0;
    int rc;

    if ((rc = ldg_txn_has(t, LDG_HAS_TREE_PRUNE)) <= 0)
        return rc;
    if ((rc = del_level0(t, LDG_DB_TILES, kept / LDG_TILE_WIDTH, n)) < 0)
        return rc;
    /* (the split tiles' last hashes: counted with their tiles) */
    return del_level0(t, LDG_DB_TREE, kept, &last);
}

/* Keeps the pruned entries of the entry tile hz falls in (events k0..hz-1,
 * k0 = floor(hz/256)*256) in meta "horizon.entries", from the entries
 * database or, for those an earlier prune (old_hz) took, its own kept
 * ones; removes the record when hz is on a tile's edge. */
static int
keep_tile_entries(struct ldg_txn *t, uint64_t old_hz, uint64_t hz)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    ldg_dbi meta = ldg_core(l, LDG_DB_META);
    const char *key = LDG_META_HORIZON_ENTRIES;
    uint64_t k0 = hz / LDG_TILE_WIDTH * LDG_TILE_WIDTH;
    uint8_t *buf = NULL, *whole;
    size_t len = 0, cap = 0;
    int rc = 0;

    if (k0 == hz) {
        rc = ldg_core_kv_del(t, meta, key, strlen(key), NULL, 0);
        return rc == LDG_ENOTFOUND ? 0 : rc;
    }
    if ((whole = malloc(LDG_ENTRY_MAX)) == NULL)
        return LDG_ENOMEM;
    for (uint64_t seq = k0; seq < hz && rc == 0; seq++) {
        const uint8_t *e;
        size_t n;
        if (seq < old_hz) {
            /* pruned before: kept by that prune, if it kept them */
            rc = ldg_horizon_entry(t, old_hz, seq, &e, &n);
        } else {
            /* the whole entry, as a tile's bundle publishes it */
            rc = ldg_event_entry(t, seq, whole, LDG_ENTRY_MAX, &e, &n);
        }
        if (rc == LDG_ENOTFOUND) {
            /* a ledger pruned before these were kept (2026-11-25), in this
             * same tile: the record cannot be made, and verify would find
             * it missing (FORMAT.md 6.2) */
            free(buf);
            free(whole);
            ldg_seterr(l,
                       "the earlier prune (horizon %llu) kept no entries of "
                       "its entry tile (meta horizon.entries), which a "
                       "horizon at %llu in the same tile needs: prune "
                       "before %llu or later (a tile's edge or past it)",
                       (unsigned long long)old_hz, (unsigned long long)hz,
                       (unsigned long long)(k0 + LDG_TILE_WIDTH));
            return LDG_EINVAL;
        }
        if (rc < 0)
            break;
        if (n > 0xffff) {
            rc = LDG_ECORRUPT;
            break;
        }
        if (len + 2 + n > cap) {
            size_t nc = cap ? cap * 2 : 16384;
            uint8_t *nb;
            while (nc < len + 2 + n)
                nc *= 2;
            if ((nb = realloc(buf, nc)) == NULL) {
                rc = LDG_ENOMEM;
                break;
            }
            buf = nb;
            cap = nc;
        }
        buf[len] = (uint8_t)(n >> 8);
        buf[len + 1] = (uint8_t)n;
        memcpy(buf + len + 2, e, n);
        len += 2 + n;
    }
    if (rc == 0)
        rc = ldg_core_kv_put(t, meta, key, strlen(key), buf, len);
    free(buf);
    free(whole);
    return rc;
}

int
ldg_prune_txn(struct ldg_txn *t, uint64_t hz, const uint8_t archive[32],
              const uint8_t state[32], uint64_t now_ns,
              struct ldg_prune_stats *st)
{
    static const enum ldg_core_db idx[] = {
        LDG_DB_IDX_TYPE, LDG_DB_IDX_SUBJECT, LDG_DB_IDX_RUN, LDG_DB_IDX_ACTOR,
        LDG_DB_IDX_TIME, LDG_DB_IDX_ID,      LDG_DB_IX_TYPE, LDG_DB_IX_SUBJECT,
        LDG_DB_IX_RUN,   LDG_DB_IX_ACTOR,    LDG_DB_IX_BODY};
    struct ldg_ledger *l = ldg_txn_ledger(t);
    struct ldg_horizon old, h;
    struct ldg_event ev;
    struct ldg_val v;
    uint8_t ck[8], *rec = NULL;
    uint64_t size;
    size_t n, cap;
    int rc, has_old;

    memset(st, 0, sizeof *st);
    memset(&h, 0, sizeof h);
    if ((rc = ldg_txn_size(t, &size)) < 0)
        return rc;
    rc = ldg_horizon_get(t, &old);
    if (rc < 0 && rc != LDG_ENOTFOUND)
        return rc;
    has_old = rc == 0;
    st->from = has_old ? old.seq : 0;
    st->to = hz;
    if (hz == 0 || hz > size || hz <= st->from) {
        ldg_seterr(l,
                   "cannot prune before %llu: the log holds events %llu to "
                   "%llu",
                   (unsigned long long)hz, (unsigned long long)st->from,
                   (unsigned long long)(size ? size - 1 : 0));
        rc = LDG_EINVAL;
        goto out;
    }
    ldg_be64(ck, hz);
    if ((rc = ldg_kv_get(t, ldg_core(l, LDG_DB_CHECKPOINTS), ck, 8, &v)) < 0) {
        if (rc == LDG_ENOTFOUND) {
            ldg_seterr(l,
                       "no checkpoint at size %llu: a horizon must be a "
                       "commit's end",
                       (unsigned long long)hz);
            rc = LDG_EINVAL;
        }
        goto out;
    }
    if ((rc = ldg_log_secret_load(l)) < 0)
        goto out;
    if ((rc = ldg_event_get(t, hz - 1, &ev)) < 0)
        goto out;
    h.seq = hz;
    /* a prune split into steps (retention's, each a commit of its own)
     * names one archive in each step's record: the events it holds start
     * where the first step started */
    h.first =
        has_old && memcmp(old.archive, archive, 32) == 0 ? old.first : st->from;
    h.ts_ns = ev.ts_ns;
    h.pruned_ns = now_ns;
    memcpy(h.leaf, ev.leaf, 32);
    memcpy(h.archive, archive, 32);
    memcpy(h.state, state, 32);
    snprintf(h.origin, sizeof h.origin, "%s", l->origin);
    if ((rc = keys_at(t, has_old ? &old : NULL, hz, &h)) < 0 ||
        (rc = ldg_epoch_horizon_keys(t, hz, &h)) < 0)
        goto out;
    /* the horizon record first: from here on every reader of this
     * transaction's view knows the events before hz are gone */
    cap = 1 + hz_map_cap(&h) + 66;
    if ((rec = malloc(cap)) == NULL) {
        rc = LDG_ENOMEM;
        goto out;
    }
    rec[0] = 0x92;
    if ((rc = hz_map_encode(&h, rec + 1, cap - 67, &n)) == 0 &&
        n + 67 > LDG_HORIZON_RECORD_MAX) {
        /* (some 170 keys anchored before the horizon: 5.9 KB each) */
        ldg_seterr(l,
                   "the horizon record would take %zu bytes, over the %d a "
                   "reader takes (%zu keys)",
                   n + 67, LDG_HORIZON_RECORD_MAX, h.nkeys);
        rc = LDG_ETOOBIG;
    }
    if (rc < 0 || (rc = ldg_ed25519_sign_ctx(h.sig, LDG_CTX_HORIZON, rec + 1, n,
                                             l->log_key)) < 0)
        goto out;
    rec[1 + n] = 0xc4;
    rec[2 + n] = 64;
    memcpy(rec + 3 + n, h.sig, 64);
    rc = ldg_core_kv_put(t, ldg_core(l, LDG_DB_META), LDG_META_HORIZON,
                         strlen(LDG_META_HORIZON), rec, n + 67);
    if (rc < 0)
        goto out;
    if ((rc = keep_tile_entries(t, st->from, hz)) < 0)
        goto out;
    if ((rc = del_seq_range(t, ldg_db_entries(t), hz, &st->entries)) < 0 ||
        (rc = del_seq_range(t, ldg_db_bodies(t), hz, &st->bodies)) < 0 ||
        (rc = del_seq_range(t, LDG_DB_SEALS, hz, &st->seals)) < 0 ||
        (rc = drop_pruned_tiles(t, hz, &st->tiles)) < 0)
        goto out;
    for (size_t i = 0; i < sizeof idx / sizeof idx[0]; i++)
        if ((rc = del_index(t, idx[i], hz, &st->index_keys)) < 0)
            goto out;
out:
    if (rc < 0 && rc != LDG_EINVAL && ldg_errbuf(l)[0] == '\0')
        ldg_seterr(l, "prune: %s", ldg_strerror(rc));
    free(rec);
    ldg_horizon_release(&h);
    if (has_old)
        ldg_horizon_release(&old);
    return rc;
}
