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
 *
 * Layout 2 to 3 moves the type, subject, run and actor indexes from idx.*
 * (a key per event) to ix.* (a key per value, the seqs as duplicates) in
 * the same way: the steps copy the keys of the events the log held when
 * migrate began, in key order, a chunk a transaction, into ix.*, which
 * layout 2 never reads (and verify of a layout 2 ledger does not look at:
 * what a crash leaves there is dropped by the next run). The last
 * transaction indexes the events appended meanwhile from their entries,
 * checks that every ix.* database holds as many seqs as its idx.* holds
 * keys, empties idx.type, idx.subject, idx.run, idx.actor and idx.time and
 * writes meta "layout" 3.
 *
 * Layout 3 to 4 keeps a full tile's last hash in db tree and its first
 * 255 in db tiles (two pages where 256 hashes take three). Layout 4 reads
 * a whole tile of 256 as layout 3 wrote it, so the first transaction
 * writes meta "layout" 4 alone, and the steps after split the tiles, a
 * chunk a transaction: a crash anywhere leaves a layout 4 ledger, some of
 * its tiles whole, and migrate run again (at layout 4 already) splits the
 * rest.
 *
 * Layouts 4 to 5 (or straight to 7 or 8) and 5 to 8, and the rewrite of
 * the entries with their claim digests in 6 to 7 and 6 or 7 to 8, in the
 * same way: below.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ledger/intake_log_int.h"
#include "ledger/index_int.h"
#include "ledger/tree_int.h"
#include "ledger/migrate_int.h"

/* Runs fn in a write transaction and commits, growing the map when full. */
int
mig_in_txn(struct ldg_ledger *l, int (*fn)(struct ldg_txn *t, void *arg),
           void *arg)
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

/* data.mdb's size, its bytes in use, the tree's and the indexes'. */
static int
usage(struct ldg_ledger *l, uint64_t *used, uint64_t *file, uint64_t *tree,
      uint64_t *index, uint64_t *events)
{
    struct ldg_db_size *d = NULL;
    size_t n = 0;
    uint64_t all = 0, free_b = 0;
    int rc = ldg_stats_databases(l, &d, &n);
    if (rc < 0)
        return rc;
    *tree = *index = *events = 0;
    for (size_t i = 0; i < n; i++) {
        /* (the dictionaries with the events they compress) */
        if (d[i].cls == LDG_DBC_EVENT || strcmp(d[i].name, "dicts") == 0)
            *events += d[i].bytes;
        all += d[i].bytes;
        if (d[i].cls == LDG_DBC_FREE)
            free_b = d[i].bytes;
        if (d[i].cls == LDG_DBC_TREE)
            *tree += d[i].bytes;
        if (d[i].cls == LDG_DBC_INDEX)
            *index += d[i].bytes;
    }
    free(d);
    *file = all;
    *used = all - free_b;
    return 0;
}

/* 1 while t's snapshot is still at layout s->from, 0 when another migrate
 * got past it first (s->moved), or -err. */
static int
still_old(struct ldg_txn *t, struct mig_step *s)
{
    int layout = ldg_txn_layout(t);
    if (layout < 0)
        return layout;
    s->moved = layout != s->from;
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
    struct mig_step *s = arg;
    int rc = still_old(t, s);
    if (rc <= 0)
        return rc;
    return ldg_mig_tiles_copy(t, s->tl, s->from_tile, s->to_tile);
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
    return ldg_mig_tiles_finish(t, size, LDG_LAYOUT_TILES);
}

/* ---------------------------------------------------- layout 2 to 3 -- */

const enum ldg_core_db mig_ix_from[4] = {LDG_DB_IDX_TYPE, LDG_DB_IDX_SUBJECT,
                                         LDG_DB_IDX_RUN, LDG_DB_IDX_ACTOR};
static const enum ldg_core_db ix_to[4] = {LDG_DB_IX_TYPE, LDG_DB_IX_SUBJECT,
                                          LDG_DB_IX_RUN, LDG_DB_IX_ACTOR};

static int
ix_begin(struct ldg_txn *t, void *arg)
{
    struct mig_step *s = arg;
    struct ldg_ledger *l = ldg_txn_ledger(t);
    int rc = still_old(t, s);
    if (rc <= 0)
        return rc;
    if ((rc = ldg_txn_size(t, &s->size0)) < 0)
        return rc;
    /* what a crashed run left is written again */
    for (int i = 0; i < 4; i++)
        if ((rc = ldg_core_db_drop(t, ldg_core(l, ix_to[i]), 0)) < 0)
            return rc;
    return 0;
}

/* One value's seqs gathered by ix_copy, written in one request. */
static int
ix_flush(struct ldg_txn *t, ldg_dbi to, struct mig_step *s)
{
    int rc = 0;
    if (s->nseq > 0)
        rc = ldg_core_kv_put_dups(t, to, s->val, s->vlen, s->seqs,
                                  LDG_IX_SEQ_LEN, s->nseq);
    s->nseq = 0;
    return rc;
}

/* Up to IX_CHUNK keys of idx.* index s->ix after s->key into ix.*; moves
 * on to the next index at the end of one. The keys come in the order
 * ix.* sorts them (value, then seq: "value ‖ 0x00" sorts before any
 * longer value it begins), so each is a duplicate appended at the end. */
static int
ix_copy(struct ldg_txn *t, void *arg)
{
    struct mig_step *s = arg;
    struct ldg_ledger *l = ldg_txn_ledger(t);
    struct ldg_cursor *c = NULL;
    struct ldg_val k, v;
    ldg_dbi to = ldg_core(l, ix_to[s->ix]);
    uint64_t n = 0;
    int rc = still_old(t, s);

    if (rc <= 0)
        return rc;
    s->nix = s->ix;
    s->nklen = s->klen;
    memcpy(s->nkey, s->key, s->klen);
    s->nseq = 0;
    if ((rc = ldg_cursor_open(t, ldg_core(l, mig_ix_from[s->ix]), &c)) < 0)
        return rc;
    rc = s->klen ? ldg_cursor_get(c, LDG_SET_RANGE, s->key, s->klen, &k, &v)
                 : ldg_cursor_get(c, LDG_FIRST, NULL, 0, &k, &v);
    if (rc == 0 && s->klen && k.len == s->klen &&
        memcmp(k.data, s->key, s->klen) == 0)
        rc = ldg_cursor_get(c, LDG_NEXT, NULL, 0, &k, &v);
    for (; rc == 0 && n < IX_CHUNK;
         rc = ldg_cursor_get(c, LDG_NEXT, NULL, 0, &k, &v), n++) {
        const uint8_t *p = k.data;
        size_t vl = k.len - 9;
        if (k.len < 10 || k.len > sizeof s->key || p[vl] != 0 ||
            memchr(p, 0, vl) != NULL) {
            ldg_seterr(
                l, "%s: a malformed key, %zu bytes (%s); nothing was converted",
                ldg_core_db_names[mig_ix_from[s->ix]], k.len,
                ldg_damage_remedy(l, 1));
            rc = LDG_ECORRUPT;
            break;
        }
        memcpy(s->nkey, p, k.len);
        s->nklen = k.len;
        if (ldg_ikey_seq(p, k.len) >= s->size0)
            continue; /* appended since: the last step's */
        /* the seqs of one value come one after another: gathered, and
         * written together when the value changes */
        if (s->nseq > 0 && (vl != s->vlen || memcmp(p, s->val, vl) != 0) &&
            (rc = ix_flush(t, to, s)) < 0)
            break;
        if (s->nseq == 0) {
            memcpy(s->val, p, vl);
            s->vlen = vl;
        }
        memcpy(s->seqs + LDG_IX_SEQ_LEN * s->nseq++, p + vl + 1,
               LDG_IX_SEQ_LEN);
    }
    ldg_cursor_close(c);
    if (rc == 0 || rc == LDG_ENOTFOUND) {
        int frc = ix_flush(t, to, s);
        if (frc < 0)
            rc = frc;
    }
    if (rc == LDG_ENOTFOUND) {
        rc = 0;
        s->nix = s->ix + 1; /* this index is done */
        s->nklen = 0;
    }
    s->n = n;
    return rc;
}

static int
ix_finish(struct ldg_txn *t, void *arg)
{
    struct mig_step *s = arg;
    struct ldg_ledger *l = ldg_txn_ledger(t);
    uint64_t size;
    uint8_t lay[LDG_META_LAYOUT_LEN];
    int rc = still_old(t, s);

    if (rc <= 0)
        return rc;
    if ((rc = ldg_txn_size(t, &size)) < 0)
        return rc;
    /* the events appended since the copy began, indexed the new way */
    ldg_txn_set_layout(t, LDG_LAYOUT_DUPS);
    for (uint64_t seq = s->size0; seq < size; seq++) {
        struct ldg_event ev;
        uint8_t k[LDG_SEQ_KEY_LEN];
        struct ldg_val v;
        ldg_be64(k, seq);
        rc = ldg_kv_get(t, ldg_core(l, LDG_DB_ENTRIES), k, sizeof k, &v);
        if (rc == 0)
            rc = ldg_event_decode_flags(v.data, v.len, &ev, LDG_DECODE_TRUSTED);
        if (rc == 0)
            rc = ldg_index_put(t, &ev);
        if (rc < 0) {
            ldg_seterr(l, "event %llu: cannot index it: %s (%s)",
                       (unsigned long long)seq, ldg_strerror(rc),
                       ldg_damage_remedy(l, 0));
            return rc == LDG_ENOTFOUND ? LDG_ECORRUPT : rc;
        }
    }
    /* every key of the old indexes is a seq of the new */
    for (int i = 0; i < 4; i++) {
        uint64_t a = 0, b = 0;
        if ((rc = ldg_db_count(t, ldg_core(l, mig_ix_from[i]), &a)) < 0 ||
            (rc = ldg_db_count(t, ldg_core(l, ix_to[i]), &b)) < 0)
            return rc;
        if (a != b) {
            ldg_seterr(l,
                       "%s holds %llu keys, but %llu seqs went into %s "
                       "(%s); nothing was converted",
                       ldg_core_db_names[mig_ix_from[i]], (unsigned long long)a,
                       (unsigned long long)b, ldg_core_db_names[ix_to[i]],
                       ldg_damage_remedy(l, 1));
            return LDG_ECORRUPT;
        }
    }
    for (int i = 0; i < 4; i++)
        if ((rc = ldg_core_db_drop(t, ldg_core(l, mig_ix_from[i]), 0)) < 0)
            return rc;
    if ((rc = ldg_core_db_drop(t, ldg_core(l, LDG_DB_IDX_TIME), 0)) < 0)
        return rc;
    ldg_be32(lay, LDG_LAYOUT_DUPS);
    return ldg_core_kv_put(t, ldg_core(l, LDG_DB_META), LDG_META_LAYOUT,
                           sizeof LDG_META_LAYOUT - 1, lay, sizeof lay);
}

/* Layout 2 to 3: 0 (also when another migrate got there first), or -err
 * with the ledger still at layout 2. progress counts index keys, on from
 * done0. */
static int
to_dups(struct ldg_ledger *l,
        void (*progress)(void *ctx, uint64_t done, uint64_t total),
        void *progress_ctx, uint64_t done0, uint64_t total)
{
    struct mig_step *s = calloc(1, sizeof *s);
    int rc;

    if (s == NULL)
        return LDG_ENOMEM;
    s->from = LDG_LAYOUT_TILES;
    s->done = done0;
    if ((rc = mig_in_txn(l, ix_begin, s)) < 0)
        goto out;
    while (!s->moved && s->ix < 4) {
        if ((rc = mig_in_txn(l, ix_copy, s)) < 0)
            goto out;
        s->ix = s->nix;
        s->klen = s->nklen;
        memcpy(s->key, s->nkey, s->nklen);
        s->done += s->n;
        if (progress != NULL)
            progress(progress_ctx, s->done < total ? s->done : total, total);
        /* the pages read and written leave this process's memory */
        ldg_store_trim(l->store);
    }
    if (!s->moved)
        rc = mig_in_txn(l, ix_finish, s);
out:
    free(s);
    return rc < 0 ? rc : 0;
}

/* ---------------------------------------------------- layout 3 to 4 -- */

struct split {
    uint8_t from[LDG_TREE_KEY_LEN], next[LDG_TREE_KEY_LEN];
    int done;
    uint64_t n;
};

static int
split_begin(struct ldg_txn *t, void *arg)
{
    uint8_t lay[LDG_META_LAYOUT_LEN];
    int layout = ldg_txn_layout(t);
    (void)arg;
    if (layout < 0 || layout >= LDG_LAYOUT_SPLIT)
        return layout < 0 ? layout : 0;
    ldg_be32(lay, LDG_LAYOUT_SPLIT);
    return ldg_core_kv_put(t, ldg_core(ldg_txn_ledger(t), LDG_DB_META),
                           LDG_META_LAYOUT, sizeof LDG_META_LAYOUT - 1, lay,
                           sizeof lay);
}

static int
split_step(struct ldg_txn *t, void *arg)
{
    struct split *s = arg;
    return ldg_mig_tiles_split(t, s->from, CHUNK, s->next, &s->done, &s->n);
}

/* Layout 3 (or 4 with whole tiles left) to 4: 0, or -err with the tiles
 * split so far split. progress counts tiles, on from done0. */
static int
to_split(struct ldg_ledger *l,
         void (*progress)(void *ctx, uint64_t done, uint64_t total),
         void *progress_ctx, uint64_t done0, uint64_t total, uint64_t *split)
{
    struct split s;
    int rc;

    memset(&s, 0, sizeof s);
    if ((rc = mig_in_txn(l, split_begin, &s)) < 0)
        return rc;
    while (!s.done) {
        if ((rc = mig_in_txn(l, split_step, &s)) < 0)
            return rc;
        *split += s.n;
        memcpy(s.from, s.next, sizeof s.from);
        if (progress != NULL)
            progress(progress_ctx,
                     done0 + *split < total ? done0 + *split : total, total);
        ldg_store_trim(l->store);
    }
    return 0;
}

/* --------------------------------------- layouts 7, 8: stored digests -- */

/*
 * Layout 7 reads a sealed entry's stored record with its claim digest or
 * without it (as layouts 5 and 6 wrote it, the digest derived: a SHA-256
 * of the claim every read that shows it); layout 8 reads those and its
 * own form (0x01 ‖ digest ‖ the record without it). Meta "digest.next"
 * names the first seq whose record may not be in the layout's form yet;
 * the steps rewrite the records of entries5 from there that are not,
 * DG_CHUNK records a transaction (the pages a transaction dirties stay in
 * the process), each with the digest it stores (layout 7's) or its reader
 * would derive (5 and 6's) in the layout's form: the whole entry, what is
 * hashed and signed, is the same bytes. Each moves meta "digest.next" on
 * in the same transaction, and the last deletes it. The store is at the
 * new layout throughout, which reads every form: a crash anywhere leaves
 * a whole ledger of that layout, and migrate run again rewrites the rest.
 * Entries appended meanwhile are in the form; pruned ones are gone from
 * entries5 (the walk goes from record to record, past any hole), and an
 * erased body leaves its entry as it was.
 */
#define DG_CHUNK 16384
#define DG_BYTES ((size_t)8 << 20)
#define DG_HEAD 13 /* an arena record's be64 seq ‖ be32 len ‖ u8 */

struct dig {
    uint64_t next; /* the first seq the step leaves to the next one */
    uint64_t n;    /* records the step rewrote */
    uint64_t seen; /* records it looked at */
    int done;      /* no record is left without its digest */
    int grew;      /* a record the step rewrote is longer than it was */
    /* the step's records as they go back: be64 seq ‖ be32 len ‖ u8
     * rewritten ‖ record, each (DG_BYTES and one record at most) */
    uint8_t *a;
    size_t alen, acap;
#ifdef LDG_DEBUG
    uint8_t w0[LDG_ENTRY_MAX], w1[LDG_ENTRY_MAX];
#endif
};

int
ldg_txn_digest_next(struct ldg_txn *t, uint64_t *seq)
{
    struct ldg_val v;
    int rc =
        ldg_kv_get(t, ldg_core(ldg_txn_ledger(t), LDG_DB_META),
                   LDG_META_DIGEST_NEXT, sizeof LDG_META_DIGEST_NEXT - 1, &v);
    if (rc < 0)
        return rc;
    if (v.len != 8) {
        ldg_seterr(ldg_txn_ledger(t),
                   "meta %s: %zu bytes, not 8; the store is damaged "
                   "(%s)",
                   LDG_META_DIGEST_NEXT, v.len,
                   ldg_damage_remedy(ldg_txn_ledger(t), 0));
        return LDG_ECORRUPT;
    }
    *seq = ldg_rd_be64(v.data);
    return 0;
}

/* Record seq (v) into d's arena in form (enum ldg_stored_form): 1 when
 * that changed it (a sealed entry in another form), 0 as it is, or -err. */
static int
dig_one(struct dig *d, int form, uint64_t seq, const struct ldg_val *v)
{
    const uint8_t *rec = v->data;
    size_t n;
    uint8_t *r;
    int rc, put;

    if (v->len == 0 || rec[0] == 0x93) /* not a stored form */
        return LDG_ECORRUPT;
    if (d->acap - d->alen < DG_HEAD + LDG_ENTRY_MAX) {
        size_t cap = d->alen + DG_HEAD + LDG_ENTRY_MAX + DG_BYTES / 4;
        uint8_t *a = realloc(d->a, cap);
        if (a == NULL)
            return LDG_ENOMEM;
        d->a = a;
        d->acap = cap;
    }
    r = d->a + d->alen + DG_HEAD;
    if ((rc = ldg_entry_stored(rec, v->len, form, r, LDG_ENTRY_MAX, &n)) < 0)
        return rc;
    put = n != v->len || memcmp(r, rec, n) != 0;
#ifdef LDG_DEBUG
    if (put) {
        /* the same whole entry, byte for byte (prev aside: a reader puts
         * the same in both) */
        static const uint8_t zero[32];
        size_t n0, n1;
        LDG_ASSERT(ldg_entry_whole(v->data, v->len, zero, d->w0, sizeof d->w0,
                                   &n0) == 0);
        LDG_ASSERT(ldg_entry_whole(r, n, zero, d->w1, sizeof d->w1, &n1) == 0);
        LDG_ASSERT(n0 == n1 && memcmp(d->w0, d->w1, n0) == 0);
    }
#endif
    ldg_be64(d->a + d->alen, seq);
    ldg_be32(d->a + d->alen + 8, (uint32_t)n);
    d->a[d->alen + 12] = (uint8_t)put;
    d->alen += DG_HEAD + n;
    if (put && n > v->len)
        d->grew = 1;
    return put;
}

/*
 * A step: the records from meta "digest.next" on (DG_CHUNK, or DG_BYTES
 * of them) read into the arena and rewritten in the layout's form. When
 * one grows (a record without its digest given it), the step's records
 * are all deleted and put back in seq order: put back one by one in
 * place, each a record 33 or 41 bytes longer, they split their pages in
 * the middle; put back in order after a gap, most go at the end of a
 * page, which LMDB fills as it fills an append's (6 to 7, entries5 at 1M
 * events: 95,461 pages in place, 67,997 so, 58,782 when copied from
 * layout 4). When none grows (layout 7's records to 8, each 8 bytes
 * shorter), the rewritten ones are put over themselves: no page splits,
 * each keeps its records (7 to 8 at 1M events: entries5 59,043 pages in
 * place, 66,439 deleted and put back, 56,181 as layout 8 appends them).
 */
static int
dig_step(struct ldg_txn *t, void *arg)
{
    struct dig *d = arg;
    struct ldg_ledger *l = ldg_txn_ledger(t);
    ldg_dbi e5 = ldg_core(l, LDG_DB_ENTRIES5);
    struct ldg_cursor *c = NULL;
    struct ldg_val k, v;
    uint8_t key[8];
    uint64_t seq = 0;
    int rc = ldg_txn_layout(t), form;

    d->n = d->seen = 0;
    d->alen = 0;
    d->done = 1;
    d->grew = 0;
    if (rc < LDG_LAYOUT_DIGEST) /* (7 on keep the digest: 8's form at 9) */
        return rc < 0 ? rc : 0;
    form = mig_layout_form(rc);
    if ((rc = ldg_txn_digest_next(t, &d->next)) < 0)
        return rc == LDG_ENOTFOUND ? 0 : rc;
    d->done = 0;
    if ((rc = ldg_cursor_open(t, e5, &c)) < 0)
        return rc;
    ldg_be64(key, d->next);
    rc = ldg_cursor_get(c, LDG_SET_RANGE, key, 8, &k, &v);
    for (; rc == 0 && d->seen < DG_CHUNK && d->alen < DG_BYTES;
         rc = ldg_cursor_get(c, LDG_NEXT, NULL, 0, &k, &v)) {
        if (k.len != 8) {
            rc = LDG_ECORRUPT;
            break;
        }
        seq = ldg_rd_be64(k.data);
        d->seen++;
        if ((rc = dig_one(d, form, seq, &v)) < 0)
            break;
        d->n += (uint64_t)rc;
        d->next = seq + 1;
    }
    ldg_cursor_close(c);
    if (rc == LDG_ECORRUPT) {
        ldg_seterr(l,
                   "migrate: event %llu: its stored entry does not decode; "
                   "%s (the entries before it are rewritten)",
                   (unsigned long long)seq, ldg_damage_remedy(l, 0));
        return rc;
    }
    if (rc < 0 && rc != LDG_ENOTFOUND)
        return rc;
    d->done = rc == LDG_ENOTFOUND; /* the last record: none is left */
    for (size_t at = 0; d->grew && at < d->alen;
         at += DG_HEAD + ldg_rd_be32(d->a + at + 8))
        if ((rc = ldg_core_kv_del(t, e5, d->a + at, 8, NULL, 0)) < 0)
            return rc;
    for (size_t at = 0; d->n > 0 && at < d->alen;
         at += DG_HEAD + ldg_rd_be32(d->a + at + 8))
        if ((d->grew || d->a[at + 12]) &&
            (rc = ldg_core_kv_put(t, e5, d->a + at, 8, d->a + at + DG_HEAD,
                                  ldg_rd_be32(d->a + at + 8))) < 0)
            return rc;
    if (d->done) {
        rc = ldg_core_kv_del(t, ldg_core(l, LDG_DB_META), LDG_META_DIGEST_NEXT,
                             sizeof LDG_META_DIGEST_NEXT - 1, NULL, 0);
        return rc == LDG_ENOTFOUND ? 0 : rc;
    }
    ldg_be64(key, d->next);
    return ldg_core_kv_put(t, ldg_core(l, LDG_DB_META), LDG_META_DIGEST_NEXT,
                           sizeof LDG_META_DIGEST_NEXT - 1, key, 8);
}

/* Layouts 7 and 8: the records meta "digest.next" says may not be in the
 * layout's form rewritten in it (above): 0, or -err with those rewritten
 * so far rewritten. progress counts records, on from done0. */
static int
to_digest(struct ldg_ledger *l,
          void (*progress)(void *ctx, uint64_t done, uint64_t total),
          void *progress_ctx, uint64_t done0, uint64_t total, uint64_t *n)
{
    struct dig *d = calloc(1, sizeof *d);
    uint64_t seen = 0;
    int rc = 0;

    if (d == NULL)
        return LDG_ENOMEM;
    do {
        if ((rc = mig_in_txn(l, dig_step, d)) < 0)
            break;
        *n += d->n;
        seen += d->seen;
        if (progress != NULL)
            progress(progress_ctx, done0 + seen < total ? done0 + seen : total,
                     total);
        /* the pages read and written leave this process's memory */
        ldg_store_trim(l->store);
    } while (!d->done);
    free(d->a);
    free(d);
    return rc;
}

/* Records to_digest is to look at (of the log's size events): those from
 * meta "digest.next" on, when it is there or about to be. */
static uint64_t
dig_total(struct ldg_ledger *l, int from, int to, uint64_t size)
{
    struct ldg_txn *t;
    uint64_t next = 0;
    int rc;

    if (to < LDG_LAYOUT_DIGEST || from < LDG_LAYOUT_STORED)
        return 0; /* (from 4 or older: stored with them) */
    if (from < to)
        return size; /* (a step writes "digest.next" 0) */
    if (ldg_txn_begin(l, LDG_TXN_READ, &t) < 0)
        return 0;
    rc = ldg_txn_digest_next(t, &next);
    ldg_txn_abort(t);
    return rc == 0 && next < size ? size - next : 0;
}

/* Layout 5: the body index built when the store has none current with
 * the log (FORMAT.md 6.1), in one transaction. */
static int
bix_step(struct ldg_txn *t, void *arg)
{
    struct ldg_migrate_result *res = arg;
    int rc = ldg_bix_current(t);
    if (rc != 0)
        return rc < 0 ? rc : 0;
    if ((rc = ldg_bix_build(t)) == 0)
        res->body_index_built = 1;
    return rc;
}

/*
 * Layout 8 to 9: the intake file is made whole and
 * named first (intake.c: written, flushed, renamed, the directory
 * flushed), then one transaction writes its position (at the log's size)
 * and the layout. A power cut before the commit leaves layout 8 and a
 * file no store names, which the next conversion replaces; after it,
 * both are there. Nothing is appended meanwhile: a writer at layout 8
 * holds LMDB's write lock, and from the commit on every writer reads the
 * layout again and goes through the intake.
 */
static int mig_verify(struct ldg_ledger *l, int from,
                      void (*progress)(void *ctx, uint64_t done,
                                       uint64_t total),
                      void *progress_ctx);
static int migrate_layouts(struct ldg_ledger *l, int to,
                           void (*progress)(void *ctx, uint64_t done,
                                            uint64_t total),
                           void *progress_ctx, struct ldg_migrate_result *res);

/* In t: the intake made at the log's size and the layout record 9; 1
 * when another handle converted the store already. */
static int
to_intake(struct ldg_txn *t, void *arg)
{
    struct ldg_ledger *l = arg;
    uint8_t lay[LDG_META_LAYOUT_LEN];
    uint64_t size = 0;
    int rc = ldg_txn_layout(t);

    if (rc == LDG_LAYOUT_INTAKE)
        return 1;
    if (rc >= 0 && rc != LDG_LAYOUT_TAGGED)
        rc = LDG_EINVAL;
    if (rc >= 0)
        rc = ldg_txn_size(t, &size);
    if (rc >= 0)
        rc = ldg_intake_make(l, t, size);
    if (rc >= 0) {
        ldg_be32(lay, LDG_LAYOUT_INTAKE);
        rc = ldg_core_kv_put(t, ldg_core(l, LDG_DB_META), LDG_META_LAYOUT,
                             sizeof LDG_META_LAYOUT - 1, lay, sizeof lay);
    }
    return rc < 0 ? rc : 0;
}

/* The databases the newer layouts keep, which the open of a store at an
 * earlier build's layout leaves out, created once migrate may convert
 * it: 0, or -err named. */
static int
mig_create_dbs(struct ldg_ledger *l)
{
    int rc = ldg_store_create_missing(l->store);
    if (rc < 0)
        ldg_seterr(l,
                   "cannot create the databases the newer layouts keep in "
                   "%s/data.mdb: %s; nothing was converted",
                   l->dir,
                   rc == LDG_EFULL ? "no space left on the device"
                   : rc == LDG_EIO ? "I/O error"
                                   : ldg_strerror(rc));
    return rc;
}

/* A full verification of the store at its layout (from), saving
 * nothing: 0, or verify's LDG_ETAMPER or LDG_ECORRUPT, the first bad event
 * named. */
static int
mig_verify(struct ldg_ledger *l, int from,
           void (*progress)(void *ctx, uint64_t done, uint64_t total),
           void *progress_ctx)
{
    struct ldg_verify_report r;
    int rc = ldg_verify(l, LDG_VERIFY_FULL | LDG_VERIFY_NOSAVE, 0, &r, progress,
                        progress_ctx);
    if (rc == LDG_ETAMPER || rc == LDG_ECORRUPT) {
        char at[40] = "";
        if (strncmp(r.what, "event ", 6) != 0)
            snprintf(at, sizeof at,
                     "event %llu: ", (unsigned long long)r.bad_seq);
        ldg_seterr(l,
                   "the store does not verify at layout %d (%s%s); nothing "
                   "was converted: the store is damaged: restore data.mdb "
                   "from a backup (this build verifies a store only once it "
                   "is migrated)",
                   from, at, r.what);
        return rc;
    }
    return rc;
}

static int
migrate_to_intake(struct ldg_ledger *l, struct ldg_migrate_result *res)
{
    int rc = l->intake != NULL ? 1 : mig_create_dbs(l);

    if (rc == 0)
        rc = mig_in_txn(l, to_intake, l);

    if (rc < 0 && ldg_errmsg(l)[0] == '\0')
        ldg_seterr(l, "cannot write layout %d's record: %s", LDG_LAYOUT_INTAKE,
                   ldg_strerror(rc));
    if (rc < 0)
        return rc;
    res->to = LDG_LAYOUT_INTAKE;
    return l->intake != NULL ? 0 : ldg_intake_attach(l);
}

static int migrate(struct ldg_ledger *l, int to,
                   void (*progress)(void *ctx, uint64_t done, uint64_t total),
                   void *progress_ctx, struct ldg_migrate_result *res);

int
ldg_migrate(struct ldg_ledger *l, int to,
            void (*progress)(void *ctx, uint64_t done, uint64_t total),
            void *progress_ctx, struct ldg_migrate_result *res)
{
    int rc, was;

    if (l == NULL || res == NULL)
        return LDG_EINVAL;
    /* a 1.0 build converts to the newest layout only; the tests of the
     * steps (LDG_ANY_LAYOUT) stop at one on the way. (A release build
     * knows no layout in development.) */
    if (to != 0 &&
        (!ldg_layout_has(to, 0) ||
         (!ldg_layout_current(to) && !(l->opts.flags & LDG_ANY_LAYOUT)))) {
        memset(res, 0, sizeof *res);
        ldg_seterr(l,
                   "layout %d: not a store layout this build converts to "
                   "(it converts every earlier one to layout %d)",
                   to, LDG_LAYOUT_NEWEST);
        return LDG_EINVAL;
    }
    was = l->migrating;
    l->migrating = 1; /* (its transactions pass the layout's gate) */
    rc = migrate(l, to, progress, progress_ctx, res);
    l->migrating = was;
    if (rc == 0 && ldg_layout_current(res->to))
        l->layout_old = 0;
    return rc;
}

static int
migrate(struct ldg_ledger *l, int to,
        void (*progress)(void *ctx, uint64_t done, uint64_t total),
        void *progress_ctx, struct ldg_migrate_result *res)
{
    if (l != NULL && res != NULL && l->intake != NULL) {
        struct ldg_txn *t;
        int rc;
        memset(res, 0, sizeof *res);
        res->from = res->to = LDG_LAYOUT_INTAKE;
        if (to == 0 || to == LDG_LAYOUT_INTAKE) {
            /* nothing to convert: of how many events and bytes it says */
            uint64_t dn = 0;
            if ((rc = ldg_txn_begin(l, LDG_TXN_READ, &t)) < 0)
                return rc;
            rc = ldg_txn_size(t, &res->events);
            /* a rewrite of the entries' records a migrate left unfinished
             * goes on (none should be: one to 9 finishes it first); a
             * damaged record of it is named, nothing changed */
            if (rc >= 0 && (rc = ldg_txn_digest_next(t, &dn)) == LDG_ENOTFOUND)
                rc = 0;
            else if (rc == 0)
                rc = 1;
            ldg_txn_abort(t);
            if (rc == 1)
                rc = to_digest(l, progress, progress_ctx, 0, res->events,
                               &res->entries_digested);
            if (rc >= 0)
                rc = usage(l, &res->used_before, &res->file_before,
                           &res->tree_before, &res->index_before,
                           &res->events_before);
            res->used_after = res->used_before; /* (nothing changed) */
            res->file_after = res->file_before;
            res->tree_after = res->tree_before;
            res->index_after = res->index_before;
            res->events_after = res->events_before;
            return rc < 0 ? rc : 0;
        }
        ldg_seterr(l,
                   "layout %d: this ledger is at layout %d, the newest (with "
                   "an intake log); a store is converted forward, never back",
                   to, LDG_LAYOUT_INTAKE);
        return LDG_EINVAL;
    }
    if (l != NULL && res != NULL && (to == 0 || to == LDG_LAYOUT_INTAKE)) {
        /* to layout 8 first, then the intake (unless another handle has
         * converted it: migrate_to_intake takes its intake) */
        struct ldg_txn *t;
        int rc = ldg_txn_begin(l, LDG_TXN_READ, &t), at;
        if (rc < 0)
            return rc;
        at = ldg_txn_layout(t);
        ldg_txn_abort(t);
        if (at < 0)
            return at;
        memset(res, 0, sizeof *res);
        if (at != LDG_LAYOUT_INTAKE)
            rc = migrate_layouts(l, LDG_LAYOUT_TAGGED, progress, progress_ctx,
                                 res);
        /* from 8 itself: verified as migrate_layouts verifies the older */
        if (rc == 0 && at == LDG_LAYOUT_TAGGED && l->intake == NULL)
            rc = mig_verify(l, at, progress, progress_ctx);
        if (rc == 0)
            rc = migrate_to_intake(l, res);
        return rc;
    }
    return migrate_layouts(l, to, progress, progress_ctx, res);
}

static int
migrate_layouts(struct ldg_ledger *l, int to,
                void (*progress)(void *ctx, uint64_t done, uint64_t total),
                void *progress_ctx, struct ldg_migrate_result *res)
{
    struct ldg_txn *t;
    struct mig_step *s;
    uint64_t size = 0, total, done = 0, tiles = 0, keys = 0, whole = 0, dig;
    int rc;

    if (l == NULL || res == NULL)
        return LDG_EINVAL;
    memset(res, 0, sizeof *res);
    if (to == 0)
        to = LDG_LAYOUT_TAGGED;
    if ((rc = ldg_txn_begin(l, LDG_TXN_READ, &t)) < 0)
        return rc;
    rc = res->from = ldg_txn_layout(t);
    if (rc > 0)
        rc = ldg_txn_size(t, &size);
    ldg_txn_abort(t);
    if (rc < 0)
        return rc;
    res->events = size;
    if (to >= LDG_LAYOUT_MIN && to < res->from &&
        res->from == LDG_LAYOUT_TAGGED) {
        ldg_seterr(
            l,
            "layout %d: this ledger is at layout %d, the newest; a store "
            "is converted forward, never back",
            to, res->from);
        return LDG_EINVAL;
    }
    if (to < LDG_LAYOUT_MIN || to > LDG_LAYOUT_TAGGED || to < res->from) {
        ldg_seterr(l,
                   "layout %d: this ledger is at layout %d, and this build "
                   "converts to layouts %d..%d, never back",
                   to, res->from, res->from, LDG_LAYOUT_INTAKE);
        return LDG_EINVAL;
    }
    if ((rc = usage(l, &res->used_before, &res->file_before, &res->tree_before,
                    &res->index_before, &res->events_before)) < 0)
        return rc;
    res->to = res->from;
    /* progress counts tiles made (layout 1 to 2), index keys copied (2 to
     * 3) and tiles split (3 to 4) */
    if (res->from < LDG_LAYOUT_TILES && to >= LDG_LAYOUT_TILES)
        for (int tl = 0; tl < 8; tl++)
            tiles += ldg_mig_level_count(size, tl) / LDG_TILE_WIDTH;
    mig_to_convert(l, &keys, &whole);
    if (to < LDG_LAYOUT_DUPS)
        keys = 0;
    if (to < LDG_LAYOUT_SPLIT)
        whole = 0;
    else if (res->from < LDG_LAYOUT_TILES)
        whole = tiles; /* the tiles layout 2 is about to make */
    total = tiles + keys + whole;
    if (to >= LDG_LAYOUT_STORED && res->from < LDG_LAYOUT_STORED)
        total += size; /* the events layout 5 converts */
    dig = dig_total(l, res->from, to, size);
    total += dig;
    /* A standing verify failure: the conversion rewrites the tree and the
     * indexes from the entries, which would hide what was found. */
    if (res->from < to || whole > 0) {
        struct ldg_verify_state vst;
        if ((rc = ldg_verify_state(l, &vst)) < 0)
            return rc;
        if (vst.finding) {
            ldg_seterr(
                l,
                "the last verification failed (event %llu: %s) and "
                "stands until a full one passes: a migrate rebuilds "
                "the tree and the indexes from the entries and would "
                "hide what it found; nothing was changed (" LDG_CMD_VERIFY_FULL
                " says what holds now)",
                (unsigned long long)vst.finding_seq, vst.finding_what);
            return LDG_ETAMPER;
        }
    }
    /* The store verified in full as it is first (its pages walked, every
     * event, the tree, the indexes): a conversion drops the older
     * records, so damage in them would go unseen, and damage it reads
     * would stop it half-way. Nothing is written before. */
    if (res->from < to &&
        (rc = mig_verify(l, res->from, progress, progress_ctx)) < 0)
        return rc;
    /* the databases the newer layouts keep, left out by the open */
    if ((rc = mig_create_dbs(l)) < 0)
        return rc;
    if (progress != NULL && total > 0)
        progress(progress_ctx, 0, total);
    if (res->from < LDG_LAYOUT_TILES && to >= LDG_LAYOUT_TILES) {
        if ((s = calloc(1, sizeof *s)) == NULL)
            return LDG_ENOMEM;
        s->from = 1;
        rc = mig_in_txn(l, step_begin, s);
        for (int tl = 0; rc == 0 && tl < 8 && !s->moved; tl++) {
            uint64_t f = ldg_mig_level_count(size, tl) / LDG_TILE_WIDTH;
            for (uint64_t n = 0; rc == 0 && n < f && !s->moved; n += CHUNK) {
                s->tl = tl;
                s->from_tile = n;
                s->to_tile = f - n > CHUNK ? n + CHUNK : f;
                LDG_ASSERT(s->from_tile < s->to_tile && s->to_tile <= f);
                if ((rc = mig_in_txn(l, step_copy, s)) < 0)
                    break;
                done += s->to_tile - s->from_tile;
                if (progress != NULL)
                    progress(progress_ctx, done, total);
                /* the pages read and written leave this process's memory */
                ldg_store_trim(l->store);
            }
        }
        if (rc == 0 && !s->moved)
            rc = mig_in_txn(l, step_finish, s);
        free(s);
        if (rc < 0)
            return rc;
        res->to = LDG_LAYOUT_TILES;
    }
    if (res->to == LDG_LAYOUT_TILES && to >= LDG_LAYOUT_DUPS) {
        if ((rc = to_dups(l, progress, progress_ctx, done, total)) < 0)
            return rc;
        res->to = LDG_LAYOUT_DUPS;
    }
    if (res->to >= LDG_LAYOUT_DUPS && to >= LDG_LAYOUT_SPLIT &&
        (res->to < LDG_LAYOUT_SPLIT || whole > 0)) {
        rc = to_split(l, progress, progress_ctx, tiles + keys, total,
                      &res->tiles_split);
        if (rc < 0)
            return rc;
        if (res->to < LDG_LAYOUT_SPLIT)
            res->to = LDG_LAYOUT_SPLIT;
    }
    if (res->to == LDG_LAYOUT_SPLIT && to >= LDG_LAYOUT_STORED) {
        rc = mig_to_stored(l, to, progress, progress_ctx, tiles + keys + whole,
                           total, res, &res->to);
        if (rc < 0)
            return rc;
    }
    if (res->to == LDG_LAYOUT_STORED && to >= LDG_LAYOUT_AES_SALTS) {
        if ((rc = mig_in_txn(l, mig_step_aes_salts, NULL)) < 0)
            return rc;
        res->to = LDG_LAYOUT_AES_SALTS;
    }
    if ((res->to == LDG_LAYOUT_AES_SALTS && to >= LDG_LAYOUT_DIGEST) ||
        (res->to == LDG_LAYOUT_DIGEST && to >= LDG_LAYOUT_TAGGED)) {
        /* straight to the layout asked for: one rewrite of the entries */
        int ft[2] = {res->to, to};
        if ((rc = mig_in_txn(l, mig_step_digest, ft)) < 0)
            return rc;
        res->to = to;
    }
    if (res->to >= LDG_LAYOUT_DIGEST) {
        rc = to_digest(l, progress, progress_ctx, total - dig, total,
                       &res->entries_digested);
        if (rc < 0)
            return rc;
    }
    if (res->to >= LDG_LAYOUT_STORED) {
        if ((rc = mig_in_txn(l, bix_step, res)) < 0)
            return rc;
    }
    LDG_ASSERT(res->from <= res->to && res->to <= to);
    return usage(l, &res->used_after, &res->file_after, &res->tree_after,
                 &res->index_after, &res->events_after);
}
