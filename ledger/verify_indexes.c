/*
 * verify_indexes.c — the index databases in verify: per-event lookups
 * (plain verify, and the slow path of verify --full), the keyed multiset
 * hash verify --full compares with a walk of each index, the walks
 * themselves and the counts.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ledger/index_int.h"
#include "ledger/tlog_int.h"
#include "ledger/verify_int.h"

/* The indexes: one entry per event each (idx.run: per event with a run);
 * a layout keeps type, subject, run, actor (and time) in one family and
 * leaves the other empty. */
static const enum ldg_core_db idx[VF_NIDX] = {
    LDG_DB_IDX_TYPE, LDG_DB_IDX_SUBJECT, LDG_DB_IDX_RUN, LDG_DB_IDX_ACTOR,
    LDG_DB_IDX_TIME, LDG_DB_IDX_ID,      LDG_DB_IX_TYPE, LDG_DB_IX_SUBJECT,
    LDG_DB_IX_RUN,   LDG_DB_IX_ACTOR};

/* The slot of an index database in vstate's idx_* arrays: its place in
 * idx[]. */
static int
idx_slot(enum ldg_core_db db)
{
    for (int i = 0; i < VF_NIDX; i++)
        if (idx[i] == db)
            return i;
    return -1;
}

static void
sum_add(uint64_t sum[2], const uint8_t h[16])
{
    uint64_t lo, hi; /* any fixed reading of the 16 bytes will do */
    memcpy(&lo, h, 8);
    memcpy(&hi, h + 8, 8);
    sum[0] += lo;
    sum[1] += hi + (sum[0] < lo);
}

void
vf_idx_acc_key(void *ctx, enum ldg_core_db db, const uint8_t *key, size_t n)
{
    struct idx_acc *a = ctx;
    int i = idx_slot(db);
    uint8_t h[16];
    if (i < 0)
        return;
    ldg_shorthash128(h, a->vs->idx_key[i], key, n);
    sum_add(a->sum[i], h);
}

/* Whether verify looks at db in this layout: not at ix.* before layout
 * 3, which no read uses then and where an interrupted ledger migrate
 * leaves what its next run drops (FORMAT.md 6.1). Layout 3's last step
 * empties idx.type .. idx.time with the switch, so those are checked (to
 * be empty). */
static int
idx_checked(const struct vstate *vs, enum ldg_core_db db)
{
    return ldg_layout_has(vs->layout, LDG_HAS_DUPS) || !ldg_index_dups(db);
}

/* Entries an index holds for the log: one per event, one per event with
 * a run (idx.run), one per event with an id (idx.id); none in the
 * family the layout does not use. */
static uint64_t
index_want(const struct vstate *vs, enum ldg_core_db db, uint64_t size,
           uint64_t with_run)
{
    int dups = ldg_layout_has(vs->layout, LDG_HAS_DUPS);
    if (db == LDG_DB_IDX_ID)
        return vs->with_id;
    if (ldg_index_dups(db) != dups)
        return 0;
    return db == LDG_DB_IDX_RUN || db == LDG_DB_IX_RUN ? with_run
                                                       : size - vs->start;
}

/* Every index holds exactly one entry per event (run: per event with a
 * run); more means entries that point at nothing. */
void
vf_check_index_counts(struct vstate *vs, struct ldg_txn *t, uint64_t size,
                      uint64_t with_run)
{
    for (size_t i = 0; i < sizeof idx / sizeof idx[0]; i++) {
        uint64_t n = 0, want = index_want(vs, idx[i], size, with_run);
        if (!idx_checked(vs, idx[i]))
            continue;
        if (!ldg_store_has_core(vs->l->store, idx[i])) {
            if (want > 0)
                vf_bad(vs, size ? size - 1 : 0,
                       "index %s is missing, the log calls for %llu entries",
                       ldg_core_db_names[idx[i]], (unsigned long long)want);
            continue;
        }
        if (ldg_db_count(t, ldg_store_core_dbi(vs->l->store, idx[i]), &n) ==
                0 &&
            n != want) {
            vf_bad(vs, size ? size - 1 : 0,
                   "index %s holds %llu entries, the log calls for %llu",
                   ldg_core_db_names[idx[i]], (unsigned long long)n,
                   (unsigned long long)want);
            return;
        }
    }
}

/*
 * verify --full: every index walked key by key, in order, as a scan reads
 * it (query by type, subject, run, actor or time; timeline). The
 * per-event lookups above reach only the paths to the keys they look for,
 * and LMDB trusts its pages: a flipped bit elsewhere in an index page
 * passed them while a later scan of it failed or crashed. Each key must
 * be well formed (a string without NUL, a NUL, a big-endian seq; for
 * idx.time two big-endian numbers; in ix.*, a string without NUL whose
 * duplicates are 8-byte seqs, read as that canonical key), hold an empty
 * value, name an event
 * below size, and come in strictly increasing order; and the walk must
 * find as many keys as the log calls for. The walk runs in the verifying
 * child (cli/cmd_core.c): a page that faults kills it, which is reported
 * as corrupt storage. Returns 1 on a finding.
 */
static int
walk_index(struct vstate *vs, struct ldg_txn *t, enum ldg_core_db db,
           uint64_t size, uint64_t want, int report, const uint8_t hkey[16],
           uint64_t sum[2], uint64_t *nout)
{
    const char *name = ldg_core_db_names[db];
    struct ldg_cursor *c = NULL;
    struct ldg_val k, v;
    const uint8_t *prev = NULL; /* the key before (mapped: stays valid) */
    size_t prevlen = 0;
    uint64_t n = 0;
    int rc, op = LDG_FIRST, dups = ldg_index_dups(db);
    /* ix.*: the canonical keys of this entry and the one before */
    uint8_t canon[2][LDG_SUBJECT_MAX + 16];

    if (ldg_cursor_open(t, ldg_store_core_dbi(vs->l->store, db), &c) < 0) {
        if (report)
            vf_bad(vs, size ? size - 1 : 0, "index %s cannot be read", name);
        return 1;
    }
    for (;; op = LDG_NEXT, n++) {
        const uint8_t *p;
        uint64_t seq;
        const char *why = NULL;
        int cmp;

        /* the pages walked leave the process's resident size now and
         * then, as the passes' do (a cursor's pages fault back in) */
        if ((n & VERIFY_WALK_TRIM) == VERIFY_WALK_TRIM)
            ldg_store_trim(vs->l->store);
        rc = ldg_cursor_get(c, (enum ldg_seek)op, NULL, 0, &k, &v);
        if (rc == LDG_ENOTFOUND)
            break;
        if (rc < 0) {
            if (report)
                vf_bad(
                    vs, size ? size - 1 : 0,
                    "index %s: reading entry %llu failed (%s): its pages are "
                    "corrupt",
                    name, (unsigned long long)n, vf_strerror(rc));
            ldg_cursor_close(c);
            return 1;
        }
        p = k.data;
        if (dups) {
            /* ix.*: key the value, the duplicate its seq; checked below,
             * and hashed, as the canonical key value ‖ 0x00 ‖ seq */
            if (k.len > LDG_SUBJECT_MAX || v.len != LDG_IX_SEQ_LEN) {
                why = "has a value or a seq of the wrong size";
            } else {
                k.len =
                    ldg_ikey_make(canon[n & 1], p, k.len, ldg_rd_be64(v.data));
                p = canon[n & 1];
                v.len = 0;
            }
        }
        if (why == NULL &&
            (db == LDG_DB_IDX_TIME ? k.len != 16
                                   : k.len < 9 || k.len > LDG_SUBJECT_MAX + 16))
            why = "has a key of the wrong size";
        else if (why == NULL && db != LDG_DB_IDX_TIME &&
                 (p[k.len - 9] != 0 || memchr(p, 0, k.len - 9) != NULL))
            why = "has a key that is not \"value NUL seq\"";
        else if (why == NULL && v.len != 0)
            why = "has a key with a value (index values are empty)";
        seq = why == NULL ? ldg_ikey_seq(p, k.len) : 0;
        if (why == NULL && seq >= size)
            why = "names an event past the end of the log";
        if (why == NULL && seq < vs->start)
            why = "names a pruned event (before the horizon)";
        if (why == NULL && n > 0) {
            size_t m = prevlen < k.len ? prevlen : k.len;
            cmp = memcmp(prev, p, m);
            if (cmp > 0 || (cmp == 0 && prevlen >= k.len))
                why = "is out of order (a corrupt page)";
        }
        if (why != NULL) {
            if (report)
                vf_bad(vs, seq < size ? seq : (size ? size - 1 : 0),
                       "index %s: entry %llu %s", name, (unsigned long long)n,
                       why);
            ldg_cursor_close(c);
            return 1;
        }
        prev = p;
        prevlen = k.len;
        if (sum != NULL) {
            uint8_t h[16];
            ldg_shorthash128(h, hkey, p, k.len);
            sum_add(sum, h);
        }
    }
    ldg_cursor_close(c);
    if (nout != NULL)
        *nout = n;
    if (want != UINT64_MAX && n != want) {
        if (report)
            vf_bad(
                vs, size ? size - 1 : 0,
                "index %s: a walk of it finds %llu entries, the log calls for "
                "%llu",
                name, (unsigned long long)n, (unsigned long long)want);
        return 1;
    }
    return 0;
}

void
vf_walk_indexes(struct vstate *vs, struct ldg_txn *t, uint64_t size,
                uint64_t with_run)
{
    for (size_t i = 0; i < sizeof idx / sizeof idx[0]; i++) {
        if (!ldg_store_has_core(vs->l->store, idx[i]) ||
            !idx_checked(vs, idx[i]))
            continue; /* check_index_counts said so if it matters */
        if (walk_index(vs, t, idx[i], size,
                       index_want(vs, idx[i], size, with_run), 1, NULL, NULL,
                       NULL))
            return;
    }
}

/*
 * verify --full from 0, instead of six lookups per event: pass 2 summed a
 * keyed hash of every index key the entries call for (per index, mod
 * 2^128, under a key drawn at random for this run); here each index is
 * walked once, in order, with walk_index's checks, summing the same hash
 * of every key it holds. The keys of an index are distinct and so are the
 * ones the entries call for (each ends in its seq), so equal counts and
 * equal sums mean the same set of keys, except with a probability near
 * 2^-128 that nobody can raise without the key. Returns 1 when every
 * index walked cleanly and matched (the walk verify --full makes is then
 * done too); 0 otherwise: check_indexes_slow then names the first event
 * whose entry is missing, and the counts and the walk report the rest.
 */
/* Walk i of the fast index check (no findings reported: a walk that
 * stops or a count or sum that differs sends verify to the slow path). */
static void
vf_walk_one(struct vstate *vs, struct ldg_txn *t, int i, struct vwalk *w)
{
    memset(w, 0, sizeof *w);
    /* a read-only open of an older ledger: none (the count decides) */
    w->finding = ldg_store_has_core(vs->l->store, idx[i]) &&
                 idx_checked(vs, idx[i]) &&
                 walk_index(vs, t, idx[i], vs->to, UINT64_MAX, 0,
                            vs->idx_key[idx_slot(idx[i])], w->sum, &w->n);
    w->state = 2;
}

/* Takes the walks not yet taken, one at a time, in transaction t. */
static void
walk_tasks(struct vstate *vs, struct ldg_txn *t)
{
    for (;;) {
        struct vwalk w;
        int i = -1;
        pthread_mutex_lock(&vs->mu);
        if (vs->walk_next < VF_NIDX)
            i = vs->walk_next++;
        pthread_mutex_unlock(&vs->mu);
        if (i < 0)
            return;
        vf_walk_one(vs, t, i, &w);
        pthread_mutex_lock(&vs->mu);
        vs->walks[i] = w;
        pthread_mutex_unlock(&vs->mu);
    }
}

static void *
walk_thread(void *arg)
{
    struct vstate *vs = arg;
    struct ldg_txn *t = NULL;
    /* its own snapshot: one written since makes the sums differ, and the
     * slow path then decides in the caller's */
    if (ldg_txn_begin(vs->l, LDG_TXN_READ, &t) < 0)
        return NULL; /* the caller's thread takes the walks */
    walk_tasks(vs, t);
    ldg_txn_abort(t);
    return NULL;
}

int
vf_check_indexes_fast(struct vstate *vs, struct ldg_txn *t, uint64_t size,
                      uint64_t with_run)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    pthread_t th;
    int helper;

    /* the walks on two threads: this one and a helper */
    vs->walk_next = 0;
    helper = ncpu > 1 && pthread_create(&th, NULL, walk_thread, vs) == 0;
    walk_tasks(vs, t);
    if (helper)
        pthread_join(th, NULL);
    for (size_t i = 0; i < sizeof idx / sizeof idx[0]; i++) {
        int slot = idx_slot(idx[i]);
        struct vwalk *w = &vs->walks[i];
        if (!idx_checked(vs, idx[i]))
            continue;
        if (w->state != 2 || w->finding ||
            w->n != index_want(vs, idx[i], size, with_run) ||
            w->sum[0] != vs->idx_sum[slot][0] ||
            w->sum[1] != vs->idx_sum[slot][1])
            return 0;
    }
    return 1;
}

/* The per-event lookups of every index entry, for the events pass 2
 * looked at (before the first finding), as pass 2 makes them without
 * idx_fast. */
int
vf_check_indexes_slow(struct vstate *vs, struct ldg_txn *t)
{
    struct seqrd ent;
    uint64_t end = vs->next < vs->to ? vs->next : vs->to;
    int rc = 0;

    vf_seqrd_open(&ent, t, ldg_store_core_dbi(vs->l->store, ldg_db_entries(t)));
    for (uint64_t seq = vs->from; seq < end && seq < vs->bad_seq; seq++) {
        struct ldg_event ev;
        struct ldg_val v;
        if (vf_seqrd_seq(&ent, seq, &v) < 0 ||
            ldg_entry_decode_rec(v.data, v.len, NULL, &ev,
                                 LDG_DECODE_TRUSTED | LDG_DECODE_NO_DIGEST) < 0)
            break; /* pass 2 said so */
        if (ldg_index_check(t, &ev) != 0) {
            vf_bad(vs, seq, "an index entry for this event is missing");
            break;
        }
    }
    vf_seqrd_close(&ent);
    return rc;
}
