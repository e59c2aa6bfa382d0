/*
 * verify.c — ledger verify: re-check everything from the stored bytes.
 * This file: the flow, the pass 2 workers, the shared state and the
 * sequential readers, what verification records; the checks themselves
 * are in verify_chain.c (pass 1: entries, chain, tree, checkpoints),
 * verify_keys.c (key history, signatures, erasures, the registry),
 * verify_seals.c, verify_bodies.c and verify_indexes.c (verify_int.h
 * holds what they share). vouch.c checks single events as evidence.
 *
 * Two passes over one read snapshot.
 *
 * Pass 1, sequential, over the whole log: each
 * entry decodes canonically; its seq is its key; prev is the leaf hash of
 * the entry before; ts never goes back; the stored Merkle hashes equal the
 * ones recomputed from the entries (a compact range of the right edge);
 * every stored checkpoint names a size the log has, its root is the tree
 * at that size, and its signature verifies with the log key; the key
 * history (genesis, key.added, key.revoked, with their bodies and
 * signatures checked on the spot) and the set of erased bodies are
 * collected; the root at the last verified size must equal the one saved
 * then, so a change to an already verified part cannot go unnoticed.
 *
 * Pass 2, on every core: for events at or after the starting point (the
 * saved position, or 0 with --full), the signature (format 2: the claim
 * digest; pass 1 checks the seals) with a key that was added before and
 * not revoked before the event, and the index entries; for every event,
 * the body against its commitment (or a body.erased for it). Bodies are checked
 * from 0 in every mode because nothing else would see a stored body swapped
 * with another or deleted after its event was verified, and a body costs a
 * fraction of a signature.
 *
 * The passes overlap: pass 1 runs on the calling thread and publishes how
 * far it has got (p1_done); pass 2 workers take chunks below that mark, so
 * the key history they need is already collected. Both read with cursors
 * stepped in key order (struct seqrd), not a lookup from the root per
 * item, and the kernel reads the file ahead meanwhile.
 * With verify --full from 0, pass 2 does not look the index keys up: it
 * sums a keyed hash of them, compared after both passes with a walk of
 * each index (verify_indexes.c; FORMAT.md section 6). The same goes for
 * ix.body when it is current: pass 2 makes each body's pairs and sums
 * them (bix_acc), compared with a walk of ix.body (ldg_bix_sum); only
 * when they differ does ldg_bix_check look every pair up to name the
 * fault.
 * Whether a body may be missing, or must be missing, depends on body.erased
 * events that come later in the log, so pass 2 notes missing bodies and
 * those two checks run once both passes are done.
 *
 * The first bad sequence number over both passes is reported with what is
 * wrong with it.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ledger/intake_log_int.h"
#include "ledger/index_int.h"
#include "ledger/keys_int.h"
#include "ledger/tree_int.h"
#include "ledger/tlog_int.h"
#include "ledger/verify_int.h"

/*
 * Sequential reads. Pass 1 and each pass 2 chunk read entries, bodies and
 * stored tree hashes in increasing key order; a cursor stepped with NEXT
 * reads the next key from the page it is on, where a get descends from
 * the root every time (that descent was the largest cost of verify). A
 * reader answers exactly what ldg_kv_get would for the key asked: the
 * value of that key, or LDG_ENOTFOUND. It steps forward while the
 * cursor's key is below the one asked (a few steps at most, else it
 * seeks), and on any cursor error it asks ldg_kv_get itself, so damage is
 * reported as the get reports it.
 */
void
vf_seqrd_open(struct seqrd *r, struct ldg_txn *t, ldg_dbi dbi)
{
    memset(r, 0, sizeof *r);
    r->t = t;
    r->dbi = dbi;
    if (ldg_cursor_open(t, dbi, &r->c) < 0)
        r->c = NULL;
}

void
vf_seqrd_close(struct seqrd *r)
{
    ldg_cursor_close(r->c);
    r->c = NULL;
    r->at = 0;
}

/* LMDB's default order: bytewise, a prefix first. */
static int
key_cmp(const struct ldg_val *a, const uint8_t *b, size_t bn)
{
    size_t n = a->len < bn ? a->len : bn;
    if (a->len == bn && (bn == 8 || bn == 9)) {
        /* entries and bodies (seq), tree (level, index): no call */
        const uint8_t *p = a->data;
        uint64_t x, y;
        if (bn == 9 && p[0] != b[0])
            return p[0] < b[0] ? -1 : 1;
        x = ldg_rd_be64(p + bn - 8);
        y = ldg_rd_be64(b + bn - 8);
        return (x > y) - (x < y);
    }
    int c = n ? memcmp(a->data, b, n) : 0;
    return c ? c : (a->len > bn) - (a->len < bn);
}

int
vf_seqrd_get(struct seqrd *r, const uint8_t *key, size_t klen,
             struct ldg_val *v)
{
    int rc, c = -1;

    if (r->c != NULL && r->at) {
        for (int step = 0; step < 8; step++) {
            if ((c = key_cmp(&r->k, key, klen)) >= 0)
                break;
            rc = ldg_cursor_get(r->c, LDG_NEXT, NULL, 0, &r->k, &r->v);
            if (rc == LDG_ENOTFOUND) {
                r->at = 0;
                return LDG_ENOTFOUND; /* nothing at or after key */
            }
            if (rc < 0) {
                r->at = 0;
                return ldg_kv_get(r->t, r->dbi, key, klen, v);
            }
        }
    }
    if (r->c != NULL && !(r->at && c >= 0)) {
        rc = ldg_cursor_get(r->c, LDG_SET_RANGE, key, klen, &r->k, &r->v);
        r->at = rc == 0;
        if (rc == LDG_ENOTFOUND)
            return rc;
        if (rc < 0)
            return ldg_kv_get(r->t, r->dbi, key, klen, v);
        c = key_cmp(&r->k, key, klen);
    }
    if (r->c == NULL)
        return ldg_kv_get(r->t, r->dbi, key, klen, v);
    if (c != 0)
        return LDG_ENOTFOUND;
    *v = r->v;
    return 0;
}

int
vf_seqrd_seq(struct seqrd *r, uint64_t seq, struct ldg_val *v)
{
    uint8_t k[8];
    ldg_be64(k, seq);
    return vf_seqrd_get(r, k, 8, v);
}

void vf_bad(struct vstate *vs, uint64_t seq, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

const char *
vf_strerror(int rc)
{
    return ldg_strerror(rc == LDG_ENOMEM ? ldg_alloc_failed() : rc);
}

void
vf_bad(struct vstate *vs, uint64_t seq, const char *fmt, ...)
{
    va_list ap;
    pthread_mutex_lock(&vs->mu);
    if (seq < vs->bad_seq) {
        int n;
        vs->bad_seq = seq;
        n = snprintf(vs->what, sizeof vs->what,
                     "event %llu: ", (unsigned long long)seq);
        va_start(ap, fmt);
        vsnprintf(vs->what + n, sizeof vs->what - (size_t)n, fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&vs->mu);
}

const struct vkey *
vf_find_key(const struct vstate *vs, const char *id)
{
    for (size_t i = 0; i < vs->nkeys; i++)
        if (strcmp(vs->keys[i].key_id, id) == 0)
            return &vs->keys[i];
    return NULL;
}

/* A copy of key id's state, taken under the lock (pass 1 may be adding
 * keys meanwhile). Returns 0 if the key is unknown. */
int
vf_key_copy(struct vstate *vs, const char *id, struct vkey *out)
{
    const struct vkey *k;
    pthread_mutex_lock(&vs->mu);
    k = vf_find_key(vs, id);
    if (k != NULL)
        *out = *k;
    pthread_mutex_unlock(&vs->mu);
    return k != NULL;
}

/* With mu held (pass 2 reads the array under it). */
int
vf_add_key(struct vstate *vs, const char *id, const uint8_t pub[32],
           uint64_t seq)
{
    if (vs->nkeys == vs->capkeys) {
        size_t cap = vs->capkeys ? vs->capkeys * 2 : 16;
        struct vkey *k = realloc(vs->keys, cap * sizeof *k);
        if (k == NULL)
            return ldg_alloc_failed();
        vs->keys = k;
        vs->capkeys = cap;
    }
    memset(&vs->keys[vs->nkeys], 0, sizeof vs->keys[0]);
    memcpy(vs->keys[vs->nkeys].key_id, id, LDG_KEYID_LEN);
    memcpy(vs->keys[vs->nkeys].pub, pub, 32);
    vs->keys[vs->nkeys].added = seq;
    vs->keys[vs->nkeys].revoked = UINT64_MAX;
    vs->keys[vs->nkeys].roles = UINT32_MAX;
    vs->nkeys++;
    return 0;
}

int
vf_is_erased(const struct vstate *vs, uint64_t seq)
{
    size_t lo = 0, hi = vs->nerased;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (vs->erased[mid] == seq)
            return 1;
        if (vs->erased[mid] < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

int
vf_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Pass 1 has passed every event below done; finished: it will not go on. */
void
vf_p1_publish(struct vstate *vs, uint64_t done, int finished)
{
    pthread_mutex_lock(&vs->mu);
    LDG_ASSERT(done >= vs->p1_done); /* pass 1 only moves on */
    vs->p1_done = done;
    vs->p1_finished = finished;
    pthread_cond_broadcast(&vs->p1_cv);
    pthread_mutex_unlock(&vs->mu);
}

/* The ix.body pairs of the body v of event seq (checked against its
 * commitment already), into acc's sum: read from bv, the view that check
 * made of its fields when viewed, else by the strict decoder (as
 * ldg_bix_keys does for a map a view does not read). */
static void
bix_acc(struct vstate *vs, struct idx_acc *acc, struct ldg_body_view *bv,
        int viewed, struct ldg_bix_keys *keys, uint64_t seq, struct ldg_val v)
{
    uint8_t s8[8];
    int rc;

    keys->len = 0;
    if (viewed)
        rc = ldg_bix_view_keys(bv, keys);
    else
        rc = ldg_bix_keys(vs->dicts, vs->l->opts.body_max_bytes, bv, v.data,
                          v.len, keys);
    if (rc < 0) {
        acc->bix_err = 1;
        return;
    }
    ldg_be64(s8, seq);
    for (size_t o = 0; o < keys->len; o += 1 + keys->buf[o]) {
        ldg_bix_sum_add(vs->bix_key, keys->buf + o + 1, keys->buf[o], s8,
                        acc->bix_sum);
        acc->bix_n++;
    }
}

static void *
pass2_worker(void *arg)
{
    struct vstate *vs = arg;
    struct ldg_txn *t = NULL;
    struct seqrd ent, body;
    struct idx_acc acc;
    struct ldg_body_view *bv = NULL;
    struct ldg_bix_keys keys = {NULL, 0, 0};
    struct ldg_inflate scratch = {NULL, 0}; /* this thread's bodies */
    int rc = ldg_txn_begin(vs->l, LDG_TXN_READ, &t);

    if (rc == 0 && vs->bix_fast)
        rc = ldg_body_view_new(&bv);
    if (rc < 0) {
        pthread_mutex_lock(&vs->mu);
        vs->io_rc = rc;
        pthread_mutex_unlock(&vs->mu);
        return NULL;
    }
    vf_seqrd_open(&ent, t, ldg_store_core_dbi(vs->l->store, ldg_db_entries(t)));
    vf_seqrd_open(&body, t, ldg_store_core_dbi(vs->l->store, ldg_db_bodies(t)));
    acc.vs = vs;
    for (;;) {
        uint64_t lo, hi, limit;
        pthread_mutex_lock(&vs->mu);
        for (;;) {
            lo = vs->next;
            hi = lo + CHUNK < vs->to ? lo + CHUNK : vs->to;
            if (lo >= vs->to || lo >= vs->bad_seq || vs->io_rc < 0 ||
                (vs->p1_finished && lo >= vs->p1_done)) {
                hi = lo; /* nothing left that pass 1 let through */
                break;
            }
            if (hi <= vs->p1_done)
                break;
            if (vs->p1_finished) {
                hi = vs->p1_done;
                break;
            }
            pthread_cond_wait(&vs->p1_cv, &vs->mu);
        }
        vs->next = hi;
        limit = vs->bad_seq;
        pthread_mutex_unlock(&vs->mu);
        if (lo >= hi)
            break;
        memset(acc.sum, 0, sizeof acc.sum);
        acc.bix_sum[0] = acc.bix_sum[1] = acc.bix_n = 0;
        acc.bix_err = 0;
        for (uint64_t seq = lo; seq < hi && seq < limit; seq++) {
            struct ldg_event ev;
            struct ldg_val v = {NULL, 0};
            int viewed;
            /* Pass 1 decoded these very bytes canonically already (and
             * pass 2 needs no leaf hash). */
            rc = vf_seqrd_seq(&ent, seq, &v);
            if (rc == 0)
                rc = ldg_entry_decode_rec(v.data, v.len, NULL, &ev,
                                          LDG_DECODE_TRUSTED |
                                              LDG_DECODE_NO_DIGEST);
            if (rc < 0) {
                vf_bad(vs, seq, "entry unreadable (%s)", ldg_strerror(rc));
                break;
            }
            rc = vf_seqrd_seq(&body, seq, &v);
            /* Before the starting point only the body: cheap next to a
             * signature, and what a plain run would otherwise never see
             * again (bodies swapped or deleted after they were verified:
             * the entries, chain and tree do not change). */
            if (seq < vs->from) {
                if (vf_check_body_pl(vs, &ev, 1, rc, v, &scratch, NULL, NULL))
                    break;
                continue;
            }
            /* ix.body's keys from the fields the check walked */
            if (vf_check_sig(vs, &ev) ||
                vf_check_body_pl(vs, &ev, 1, rc, v, &scratch, bv, &viewed))
                break;
            if (vs->bix_fast && viewed >= 0)
                bix_acc(vs, &acc, bv, viewed, &keys, seq, v);
            if (vs->idx_fast) {
                ldg_index_keys(&ev, vs->layout, vf_idx_acc_key, &acc);
            } else if (ldg_index_check(t, &ev) != 0) {
                vf_bad(vs, seq, "an index entry for this event is missing");
                break;
            }
        }
        pthread_mutex_lock(&vs->mu);
        if (vs->idx_fast)
            for (int i = 0; i < VF_NIDX; i++) {
                uint64_t lo64 = vs->idx_sum[i][0];
                vs->idx_sum[i][0] += acc.sum[i][0];
                vs->idx_sum[i][1] += acc.sum[i][1] + (vs->idx_sum[i][0] < lo64);
            }
        if (vs->bix_fast) {
            uint64_t lo64 = vs->bix_sum[0];
            vs->bix_sum[0] += acc.bix_sum[0];
            vs->bix_sum[1] += acc.bix_sum[1] + (vs->bix_sum[0] < lo64);
            vs->bix_n += acc.bix_n;
            vs->bix_err |= acc.bix_err;
        }
        vs->done += hi - lo;
        if (vs->progress)
            vs->progress(vs->progress_ctx, vs->done, vs->to);
        pthread_mutex_unlock(&vs->mu);
    }
    vf_seqrd_close(&ent);
    vf_seqrd_close(&body);
    ldg_txn_abort(t);
    ldg_body_view_free(bv);
    ldg_inflate_release(&scratch);
    free(keys.buf);
    return NULL;
}

/* The bodies database holds 8-byte seq keys below the log's size: its
 * first and last keys say (keys sort bytewise: the greatest seq last),
 * and its count, when pass 2 read every event. */
static void
vf_check_body_keys(struct vstate *vs, struct ldg_txn *t, uint64_t size)
{
    static const int ops[2] = {LDG_FIRST, LDG_LAST};
    struct ldg_cursor *c;
    struct ldg_val k;
    uint64_t last = size ? size - 1 : 0;
    if (ldg_cursor_open(t, ldg_core(ldg_txn_ledger(t), ldg_db_bodies(t)), &c) <
        0)
        return; /* the passes that read bodies meet the same error */
    for (int i = 0; i < 2; i++) {
        if (ldg_cursor_get(c, ops[i], NULL, 0, &k, NULL) != 0)
            break;
        if (k.len != 8) {
            vf_bad(vs, last,
                   "the bodies database holds a key of %zu bytes, not an "
                   "8-byte seq (storage corrupt)",
                   k.len);
            break;
        }
        if (ldg_rd_be64(k.data) >= size) {
            vf_bad(vs, last,
                   "the bodies database holds a body for seq %llu, past "
                   "the log's end (storage corrupt)",
                   (unsigned long long)ldg_rd_be64(k.data));
            break;
        }
    }
    ldg_cursor_close(c);
    /* a stray key between them: when pass 2 read every event from the
     * start, the bodies it found are all the database may hold */
    uint64_t n;
    if (vs->bad_seq == UINT64_MAX && vs->from == vs->start &&
        vs->done == vs->to - vs->from &&
        ldg_db_count(t, ldg_core(ldg_txn_ledger(t), ldg_db_bodies(t)), &n) ==
            0 &&
        n != vs->done - vs->nmissing)
        vf_bad(vs, last,
               "the bodies database holds %llu records, the log's events "
               "%llu bodies (storage corrupt)",
               (unsigned long long)n,
               (unsigned long long)(vs->done - vs->nmissing));
}

/* Whether pass 2 looked at every event from the start, with ix.body
 * current in its snapshot, and summed the same pairs as a walk of ix.body
 * in t holds. */
static int
bix_sums_equal(struct vstate *vs, struct ldg_txn *t)
{
    uint64_t sum[2], n;
    if (!vs->bix_fast || vs->bix_err || vs->next < vs->to ||
        vs->done != vs->to - vs->start)
        return 0;
    if (ldg_bix_sum(t, vs->bix_key, sum, &n) != 0)
        return 0; /* ldg_bix_check names it, or meets the error again */
    return n == vs->bix_n && sum[0] == vs->bix_sum[0] &&
           sum[1] == vs->bix_sum[1];
}

/*
 * What verification remembers, in the core's meta database (FORMAT.md
 * section 6):
 *
 *   "verified"       u64be size ‖ root[32]     verified position
 *   "verify.full"    u64be size ‖ u64be ts_ns  last full verification
 *   "verify.finding" u64be seq ‖ u64be ts_ns ‖ text (UTF-8, no NUL)
 *                                              a standing failure
 */
static const char K_VERIFIED[] = LDG_META_VERIFIED,
                  K_FULL[] = LDG_META_VERIFY_FULL,
                  K_FINDING[] = LDG_META_VERIFY_FINDING;

static void
state_read(struct ldg_txn *t, ldg_dbi meta, struct ldg_verify_state *st,
           uint8_t root[32])
{
    struct ldg_val v;

    memset(st, 0, sizeof *st);
    if (ldg_kv_get(t, meta, K_VERIFIED, strlen(K_VERIFIED), &v) == 0 &&
        v.len == LDG_META_VERIFIED_LEN) {
        st->verified_size = ldg_rd_be64(v.data);
        if (root != NULL)
            memcpy(root, (const uint8_t *)v.data + 8, 32);
    }
    if (ldg_kv_get(t, meta, K_FULL, strlen(K_FULL), &v) == 0 &&
        v.len == LDG_META_VERIFY_FULL_LEN) {
        st->full_size = ldg_rd_be64(v.data);
        st->full_ts_ns = ldg_rd_be64((const uint8_t *)v.data + 8);
    }
    if (ldg_kv_get(t, meta, K_FINDING, strlen(K_FINDING), &v) == 0 &&
        v.len >= LDG_META_VERIFY_FINDING_HEAD) {
        size_t n = v.len - LDG_META_VERIFY_FINDING_HEAD;
        if (n >= sizeof st->finding_what)
            n = sizeof st->finding_what - 1;
        st->finding = 1;
        st->finding_seq = ldg_rd_be64(v.data);
        st->finding_ts_ns = ldg_rd_be64((const uint8_t *)v.data + 8);
        memcpy(st->finding_what,
               (const uint8_t *)v.data + LDG_META_VERIFY_FINDING_HEAD, n);
        st->finding_what[n] = '\0';
    }
}

int
ldg_verify_state(struct ldg_ledger *l, struct ldg_verify_state *st)
{
    struct ldg_txn *t = NULL;
    int rc;

    if (l == NULL || st == NULL)
        return LDG_EINVAL;
    if ((rc = ldg_txn_begin(l, LDG_TXN_READ, &t)) < 0)
        return rc;
    state_read(t, ldg_store_core_dbi(l->store, LDG_DB_META), st,
               st->verified_root);
    ldg_txn_abort(t);
    return 0;
}

int
ldg_verify_record(struct ldg_ledger *l, const struct ldg_verify_report *r)
{
    struct ldg_txn *t = NULL;
    ldg_dbi meta;
    uint8_t rec[16 + sizeof r->what];
    int rc;

    if (l == NULL || r == NULL)
        return LDG_EINVAL;
    if (l->opts.flags & LDG_RDONLY) {
        ldg_seterr(l, "the ledger is open read-only: the verification's "
                      "result cannot be recorded");
        return LDG_EINVAL;
    }
    if (r->finding_stands)
        return 0; /* nothing new */
    if ((rc = ldg_txn_begin(l, LDG_TXN_WRITE | LDG_TXN_SIDE, &t)) < 0)
        return rc;
    meta = ldg_store_core_dbi(l->store, LDG_DB_META);
    if (r->bad_seq != UINT64_MAX && r->what[0] != '\0') {
        struct ldg_verify_state st;
        size_t n = strlen(r->what);
        state_read(t, meta, &st, NULL);
        /* An earlier, lower finding stays: it names the first bad event. */
        if (!st.finding || r->bad_seq < st.finding_seq) {
            ldg_be64(rec, r->bad_seq);
            ldg_be64(rec + 8, r->found_ts_ns);
            memcpy(rec + 16, r->what, n);
            rc = ldg_core_kv_put(t, meta, K_FINDING, strlen(K_FINDING), rec,
                                 16 + n);
        }
    } else {
        ldg_be64(rec, r->to);
        memcpy(rec + 8, r->root, 32);
        rc = ldg_core_kv_put(t, meta, K_VERIFIED, strlen(K_VERIFIED), rec, 40);
        if (rc == 0 && r->full) {
            ldg_be64(rec, r->full_size);
            ldg_be64(rec + 8, r->full_ts_ns);
            rc = ldg_core_kv_put(t, meta, K_FULL, strlen(K_FULL), rec, 16);
            if (rc == 0) {
                rc = ldg_core_kv_del(t, meta, K_FINDING, strlen(K_FINDING),
                                     NULL, 0);
                if (rc == LDG_ENOTFOUND)
                    rc = 0;
            }
        }
    }
    if (rc == 0)
        return ldg_txn_commit(t);
    ldg_txn_abort(t);
    return rc;
}

int
ldg_verify_record_dir(const char *dir, const struct ldg_options *opts,
                      const struct ldg_verify_report *r, char *err,
                      size_t errcap)
{
    struct ldg_options o;
    struct ldg_ledger *w = NULL;
    char path[4096];
    struct stat st;
    int rc;

    if (dir == NULL || r == NULL)
        return LDG_EINVAL;
    if (err != NULL && errcap > 0)
        err[0] = '\0';
    if (r->finding_stands)
        return 0;
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    if (stat(path, &st) == 0 && (st.st_mode & 0222) == 0) {
        if (err != NULL)
            snprintf(err, errcap, "%s is write-protected", path);
        return LDG_EIO;
    }
    if (opts != NULL)
        o = *opts;
    else
        memset(&o, 0, sizeof o);
    /* a handle without the projections: it leaves the intake's tail to
     * those that fold it (LDG_TXN_SIDE) */
    o.flags &= ~(unsigned)LDG_RDONLY;
    o.flags |= LDG_KEEP_TAIL;
    if ((rc = ldg_open(&w, dir, &o, err, errcap)) < 0) {
        if (err != NULL && errcap > 0 && err[0] == '\0')
            snprintf(err, errcap, "%s", ldg_strerror(rc));
        return rc;
    }
    if ((rc = ldg_verify_record(w, r)) < 0 && err != NULL)
        snprintf(err, errcap, "%s",
                 ldg_errmsg(w)[0] ? ldg_errmsg(w) : ldg_strerror(rc));
    ldg_close(w);
    return rc;
}

/* A pruned ledger: the horizon record must verify with the log key and
 * name this log; its keys are where the key history starts. Returns < 0
 * on I/O only (a finding is vs->bad_seq). */
static int
horizon_load(struct vstate *vs, struct ldg_txn *t, uint64_t size)
{
    struct ldg_ledger *l = vs->l;
    int rc = ldg_horizon_get(t, &vs->hz);

    if (rc == LDG_ENOTFOUND)
        return 0;
    if (rc == LDG_ECORRUPT) {
        vf_bad(vs, 0, "the horizon record does not decode");
        return 0;
    }
    if (rc < 0)
        return rc;
    vs->start = vs->hz.seq;
    if ((rc = ldg_tree_kept_from(t, &vs->tree_from)) < 0)
        return rc;
    if (ldg_horizon_check_sig(&vs->hz, l->log_key->pub) != 0) {
        vf_bad(vs, vs->start - 1,
               "the horizon record's signature does not verify with the log "
               "key");
        return 0;
    }
    if (strcmp(vs->hz.origin, l->origin) != 0 || vs->start > size) {
        vf_bad(vs, vs->start - 1,
               "the horizon record names another log, or events past the "
               "end of this one");
        return 0;
    }
    for (size_t i = 0; i < vs->hz.nkeys; i++) {
        const struct ldg_horizon_key *hk = &vs->hz.keys[i];
        struct vkey *k;
        if (hk->added >= vs->start || vf_find_key(vs, hk->key_id) != NULL) {
            vf_bad(vs, vs->start - 1,
                   "the horizon record lists key %s twice, or as added "
                   "after the horizon",
                   hk->key_id);
            return 0;
        }
        if (vf_add_key(vs, hk->key_id, hk->pub, hk->added) < 0)
            return LDG_ENOMEM; /* (counted) */
        k = &vs->keys[vs->nkeys - 1];
        snprintf(k->name, sizeof k->name, "%s", hk->name);
        k->revoked = hk->revoked;
        k->sealed = hk->sealed;
        k->roles = ldg_horizon_roles_mask(hk->roles);
        /* anchored before the horizon: its chain goes on from what the
         * record keeps (FORMAT.md 6.2, "epoch"), or, when a prune by an
         * earlier build kept none (the registry says it was anchored),
         * its epoch parts after the horizon cannot be checked */
        if (hk->anchored) {
            char err[512];
            if ((k->ep = malloc(sizeof *k->ep)) == NULL)
                return ldg_alloc_failed();
            k->anchored = hk->anchor_seq + 1;
            if (ldg_epoch_chain_from_horizon(hk, k->ep, err, sizeof err) < 0) {
                vf_bad(vs, vs->start - 1,
                       "the horizon record's epoch chain of key %s: %s",
                       hk->key_id, err);
                return 0;
            }
            if (!ldg_epoch_registry_agrees(t, hk)) {
                vf_bad(vs, vs->start - 1,
                       "the key registry holds another anchor of key %s than "
                       "the horizon record keeps",
                       hk->key_id);
                return 0;
            }
        } else if (ldg_epoch_anchored_before(t, hk->key_id, vs->start)) {
            k->anchored = VF_ANCHOR_PRUNED;
        }
    }
    /* the pruned entries kept for the horizon's entry tile (tiles
     * publishes them): each must hash to its leaf in the tree */
    for (uint64_t s = vs->start / LDG_TILE_WIDTH * LDG_TILE_WIDTH;
         s < vs->start; s++) {
        const uint8_t *e;
        size_t n;
        uint8_t leaf[32], stored[32];
        rc = ldg_horizon_entry(t, vs->start, s, &e, &n);
        if (rc == LDG_ENOTFOUND) {
            /* FORMAT.md 6.2: unless the horizon is on a tile's edge, the
             * record holds the tile's pruned entries (a prune made before
             * they were kept, on 2026-11-25, left none: named too) */
            vf_bad(vs, s,
                   "the entries of the pruned events %llu..%llu of the "
                   "horizon's entry tile are missing (meta horizon.entries, "
                   "FORMAT.md 6.2): `" LDG_CMD_TILES
                   "` cannot write that tile's "
                   "entry bundle",
                   (unsigned long long)s, (unsigned long long)(vs->start - 1));
            return 0;
        }
        if (rc == 0)
            rc = ldg_tree_stored_hash(t, 0, s, stored);
        if (rc == 0)
            ldg_tlog_leaf_hash(leaf, e, n);
        if (rc == LDG_ECORRUPT || (rc == 0 && memcmp(leaf, stored, 32) != 0)) {
            vf_bad(vs, s,
                   "the entry of pruned event %llu kept for the horizon's "
                   "entry tile (meta horizon.entries) %s",
                   (unsigned long long)s,
                   rc == 0 ? "is not its leaf in the tree" : "does not parse");
            return 0;
        }
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Before the passes: with --full from 0, every page as stored
 * (store_pages.c), so that damage every read still gets through is named
 * before it spreads; in every mode, layout 9's intake against the store.
 * 1: a finding (in vs), 0: none, or an error. */
static int
storage_checks(struct vstate *vs, struct ldg_txn *t)
{
    if (vs->bad_seq != UINT64_MAX)
        return 1; /* the horizon record */
    if (vs->idx_fast) {
        char pw[sizeof vs->what - 32];
        int prc = ldg_store_check_pages(t, pw, sizeof pw);
        if (prc < 0)
            return prc;
        if (prc > 0) {
            vs->bad_seq = 0;
            snprintf(vs->what, sizeof vs->what, "storage corrupt: %s", pw);
            return 1;
        }
        vs->bad_seq = UINT64_MAX;
    }
    {
        /* layout 9, in every mode: the intake against the store; a
         * damaged frame hides the acknowledged ones after it from every
         * reader (intake_log.c) */
        char pw[sizeof vs->what - 32];
        int prc = ldg_intake_check(vs->l, pw, sizeof pw, &vs->bad_seq);
        if (prc < 0)
            return prc;
        if (prc > 0) {
            snprintf(vs->what, sizeof vs->what, "storage corrupt: %s", pw);
            return 1;
        }
        vs->bad_seq = UINT64_MAX;
    }
    return 0;
}

/* After the passes, what names no event of its own or is met by no
 * pass: the index counts, the databases older layouts used, meta
 * "digest.next", bodies of no event, a walk of every index (--full). */
static void
late_checks(struct vstate *vs, struct ldg_txn *t, uint64_t size,
            uint64_t with_run, unsigned flags, int walked)
{
    /* Counts name no event of their own: only when nothing else did. */
    if (vs->bad_seq == UINT64_MAX)
        vf_check_index_counts(vs, t, size, with_run);
    /* layout 5 keeps the log in entries5 and bodies5: the databases of
     * layouts before hold nothing (a record there is read by no one) */
    for (int i = 0; i < 2 && vs->bad_seq == UINT64_MAX &&
                    ldg_layout_has(vs->layout, LDG_HAS_STORED);
         i++) {
        enum ldg_core_db db = i ? LDG_DB_BODIES : LDG_DB_ENTRIES;
        uint64_t n = 0;
        if (ldg_db_count(t, ldg_core(vs->l, db), &n) == 0 && n > 0)
            vf_bad(vs, size ? size - 1 : 0,
                   "database %s holds %llu records, but store layout %d "
                   "keeps the log in %s",
                   ldg_core_db_names[db], (unsigned long long)n, vs->layout,
                   i ? "bodies5" : "entries5");
    }
    /* meta "digest.next" is advisory (every stored form is valid at any
     * seq), but one that is not 8 bytes is damage that stops `ledger
     * migrate` and `ledger stats` (which send the operator here) */
    if (vs->bad_seq == UINT64_MAX &&
        ldg_layout_has(vs->layout, LDG_HAS_DIGEST)) {
        struct ldg_val v;
        if (ldg_kv_get(t, ldg_core(vs->l, LDG_DB_META), LDG_META_DIGEST_NEXT,
                       sizeof LDG_META_DIGEST_NEXT - 1, &v) == 0 &&
            v.len != 8)
            vf_bad(vs, size ? size - 1 : 0,
                   "meta \"%s\" is %zu bytes, not an 8-byte seq (storage "
                   "corrupt: `" LDG_CMD_MIGRATE "` refuses it; "
                   "restore data.mdb from a copy)",
                   LDG_META_DIGEST_NEXT, v.len);
    }
    /* a body stored for no event of the log is read by no one, and no
     * pass would meet it: its key's first and last records say */
    if (vs->bad_seq == UINT64_MAX)
        vf_check_body_keys(vs, t, size);
    if (vs->bad_seq == UINT64_MAX && (flags & LDG_VERIFY_FULL) && !walked)
        vf_walk_indexes(vs, t, size, with_run);
}

/* ix.body, derived from the bodies, when query uses it (current). */
static int
bix_checks(struct vstate *vs, struct ldg_txn *t, uint64_t size, unsigned flags,
           struct ldg_verify_report *r)
{
    if (vs->bad_seq == UINT64_MAX && (flags & LDG_VERIFY_FULL)) {
        int cur = ldg_bix_current(t);
        uint64_t bad = 0;
        char why[sizeof vs->what - 32];
        r->bix_checked = cur == 1;
        if (cur == LDG_ECORRUPT) {
            vf_bad(vs, size ? size - 1 : 0,
                   "meta \"%s\" is not an 8-byte count (storage corrupt; "
                   "`" LDG_CMD_REBUILD "` writes it again)",
                   LDG_META_IX_BODY);
            cur = 0;
        }
        /* the sums of pass 2 and of a walk of it first; the lookups of
         * ldg_bix_check, which name the fault, only when they differ */
        if (cur == 1 && !bix_sums_equal(vs, t))
            cur = ldg_bix_check(t, vs->start, &bad, why, sizeof why);
        else if (cur == 1)
            cur = 0;
        if (cur == 1)
            vf_bad(vs, bad, "%s", why);
        else if (cur < 0)
            return cur;
    }
    return 0;
}

/* The report's range and counts. */
static void
report_counts(struct ldg_verify_report *r, const struct vstate *vs,
              uint64_t size)
{
    r->from = vs->from;
    r->to = size;
    r->checked = size - vs->from;
    /* the kept events' erased bodies, as stats counts them; a body.erased
     * of a pruned event apart */
    r->erased = 0;
    r->erased_pruned = 0;
    r->tree_from = vs->tree_from;
    r->checkpoints_unchecked = vs->ck_unchecked;
    for (size_t i = 0; i < vs->nerased; i++) {
        if (vs->erased[i] < vs->start)
            r->erased_pruned++;
        else
            r->erased++;
    }
}

int
ldg_verify(struct ldg_ledger *l, unsigned flags, uint64_t from,
           struct ldg_verify_report *r,
           void (*progress)(void *ctx, uint64_t done, uint64_t total),
           void *progress_ctx)
{
    struct vstate vs;
    struct ldg_txn *t = NULL;
    struct ldg_verify_state st;
    uint64_t size = 0, saved_size = 0, with_run = 0;
    uint8_t saved_root[32] = {0}, root[32];
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned nthreads = ncpu > 0 ? (unsigned)ncpu : 1;
    pthread_t th[16];
    int rc, walked = 0;
    unsigned long oom = ldg_alloc_failures();

    if (l == NULL || r == NULL)
        return LDG_EINVAL;
    memset(r, 0, sizeof *r);
    r->bad_seq = UINT64_MAX;
    memset(&vs, 0, sizeof vs);
    vs.l = l;
    vs.bad_seq = UINT64_MAX;
    vs.progress = progress;
    vs.progress_ctx = progress_ctx;
    pthread_mutex_init(&vs.mu, NULL);
    pthread_cond_init(&vs.p1_cv, NULL);

    rc = ldg_txn_begin(l, LDG_TXN_READ, &t);
    if (rc < 0)
        goto out;
    if ((rc = ldg_txn_size(t, &size)) < 0)
        goto out;
    if ((vs.layout = ldg_txn_layout(t)) < 0) {
        rc = vs.layout;
        goto out;
    }
    /* the dictionaries that load (a damaged one is named below, or at the
     * first body that needs it) */
    (void)ldg_txn_dicts(t);
    vs.dicts = l->dicts;
    state_read(t, ldg_store_core_dbi(l->store, LDG_DB_META), &st, saved_root);
    saved_size = st.verified_size;
    if ((rc = horizon_load(&vs, t, size)) < 0)
        goto out;
    if (from < vs.start)
        from = from == 0 ? 0 : vs.start;
    r->horizon = vs.start;
    r->full = (flags & LDG_VERIFY_FULL) && from == 0;
    r->full_size = st.full_size;
    r->full_ts_ns = st.full_ts_ns;
    if (flags & LDG_VERIFY_FULL)
        vs.from = from;
    else
        vs.from = from ? from : saved_size;
    if (vs.from < vs.start)
        vs.from = vs.start;
    if (vs.from > size)
        vs.from = size;
    vs.to = size;
    /* bodies from the start; signatures and indexes from vs.from */
    vs.next = vs.start;
    vs.idx_fast = (flags & LDG_VERIFY_FULL) && vs.from == vs.start;
    if (vs.idx_fast)
        ldg_random(vs.idx_key, sizeof vs.idx_key);
    /* ix.body, when query uses it: summed by pass 2 (a meta that does not
     * read is named below) */
    vs.bix_fast = vs.idx_fast && ldg_bix_current(t) == 1;
    if (vs.bix_fast)
        ldg_random(vs.bix_key, sizeof vs.bix_key);
    if (nthreads > 16)
        nthreads = 16;
    /* --full from 0: first, every page as stored (store.c), so that damage
     * every read still gets through is named before it spreads */
    if ((rc = storage_checks(&vs, t)) < 0)
        goto out;
    if (rc > 0)
        goto report;
    /* Verification reads nearly all of data.mdb (every entry, body and
     * tree hash, whatever the mode), roughly from front to back: the
     * kernel may read ahead for it (the map is otherwise MADV_RANDOM).
     * With the file out of the page cache, a fault read one page at a
     * time: 1M events, 53 s against 18 s, 37 s of CPU against 7. */
    ldg_access_hint(l, LDG_ACCESS_SEQUENTIAL);
    /* Pass 2 workers start now and follow pass 1 on this thread. */
    for (unsigned i = 0; i < nthreads; i++)
        if (pthread_create(&th[i], NULL, pass2_worker, &vs) != 0)
            nthreads = i;
    rc = vf_pass1(&vs, t, size, saved_size, saved_root, &r->checkpoints, root,
                  &with_run);
    if (nthreads == 0 && rc == 0)
        pass2_worker(&vs);
    for (unsigned i = 0; i < nthreads; i++)
        pthread_join(th[i], NULL);
    if (rc < 0)
        goto out;
    if (vs.io_rc < 0) {
        rc = vs.io_rc;
        goto out;
    }
    /* the index lookups pass 2 left out, first: their findings come
     * before the deferred body checks' for the same event, as when pass
     * 2 made them */
    if (vs.idx_fast) {
        /* only on a log with no finding so far: a walk is what meets a
         * damaged index page first, and where one of the passes has found
         * something already, the lookups the passes made before are made
         * instead (the old order, the same finding) */
        walked = vs.bad_seq == UINT64_MAX &&
                 vf_check_indexes_fast(&vs, t, size, with_run);
        if (!walked)
            vf_check_indexes_slow(&vs, t);
    }
    vf_deferred_body_checks(&vs, t);
    if (vs.p1_finished && vs.p1_done == size)
        vf_check_registry(&vs, t, size);
    if (vs.p1_finished && vs.p1_done == size && vs.bad_seq == UINT64_MAX &&
        l->format >= 2)
        vf_check_seals(&vs, t, size);
    late_checks(&vs, t, size, with_run, flags, walked);
    if ((rc = bix_checks(&vs, t, size, flags, r)) < 0)
        goto out;
report:
    report_counts(r, &vs, size);
    ldg_txn_abort(t);
    t = NULL;
    if (vs.bad_seq != UINT64_MAX) {
        r->bad_seq = vs.bad_seq;
        r->found_ts_ns = ldg_clock_now(l);
        snprintf(r->what, sizeof r->what, "%s", vs.what);
    } else if (st.finding && !r->full) {
        /* What was found stays found until a full verification passes:
         * a plain run over new events cannot clear it. */
        r->finding_stands = 1;
        r->bad_seq = st.finding_seq;
        r->found_ts_ns = st.finding_ts_ns;
        snprintf(r->what, sizeof r->what, "%s", st.finding_what);
    } else {
        memcpy(r->root, root, 32);
        if (r->full) {
            r->full_size = size;
            r->full_ts_ns = ldg_clock_now(l);
        }
    }
    /* Memory that ran out on the way leaves no verdict, and nothing to
     * record: a finding then may be the machine's (a failed read, a body
     * jansson could not build), a pass may rest on what it left out. */
    if (ldg_alloc_failures() != oom) {
        r->bad_seq = UINT64_MAX;
        r->what[0] = '\0';
        ldg_seterr(l, "out of memory while verifying: no verdict, nothing "
                      "recorded");
        rc = LDG_ENOMEM;
        goto out;
    }
    /* Checked first; recorded afterwards, where that is possible. */
    if (!(flags & LDG_VERIFY_NOSAVE) && !(l->opts.flags & LDG_RDONLY) &&
        !r->finding_stands) {
        int wrc = ldg_verify_record(l, r);
        if (wrc == 0)
            r->recorded = 1;
        else if (r->bad_seq == UINT64_MAX) {
            rc = wrc;
            goto out;
        }
    }
    rc = 0;
    if (r->bad_seq != UINT64_MAX) {
        ldg_seterr(l, "%s", r->what);
        rc = LDG_ETAMPER;
    }
out:
    if (rc < 0 && rc != LDG_ENOMEM && ldg_alloc_failures() != oom) {
        ldg_seterr(l, "out of memory while verifying: no verdict, nothing "
                      "recorded");
        rc = LDG_ENOMEM;
    }
    ldg_access_hint(l, LDG_ACCESS_RANDOM);
    ldg_txn_abort(t);
    ldg_horizon_release(&vs.hz);
    for (size_t i = 0; i < vs.nkeys; i++)
        free(vs.keys[i].ep);
    free(vs.keys);
    free(vs.erased);
    free(vs.missing);
    free(vs.open);
    pthread_cond_destroy(&vs.p1_cv);
    pthread_mutex_destroy(&vs.mu);
    return rc;
}

/* A checkpoint note (text tlen bytes) signed by the log key's epoch key
 * (*e) that the log's epochs (rows) certify, under the key ID of name and
 * id: 1, or 0. */
static int
note_by_epoch(const struct ldg_ledger *l, const char *note, size_t len,
              size_t tlen, const char *name, uint32_t id,
              const struct ldg_epoch_row *rows, size_t nr,
              struct ldg_epoch_id *e)
{
    uint8_t raw[LDG_EPOCH_EXT_MAX];
    const uint8_t *pub = NULL;
    size_t n;

    if (ldg_note_sig_find(note, len, tlen, name, id, raw, sizeof raw, &n) < 0 ||
        n < 72)
        return 0;
    e->period = ldg_rd_be32(raw);
    e->sub = ldg_rd_be32(raw + 4);
    for (size_t i = 0; i < nr; i++)
        if (strcmp(rows[i].key, l->log_key->name) == 0 && rows[i].checked &&
            rows[i].period == e->period && rows[i].sub == e->sub)
            pub = rows[i].pub;
    return pub != NULL &&
           ldg_epoch_checkpoint_verify(pub, *e, note, tlen, raw + 8) == 0;
}

/* A trusted checkpoint (note, text tlen bytes) that contradicts the log:
 * when its epoch line is by an epoch key of the log key that the log's own
 * seals certify from the anchor, and the log's newest checkpoint is signed
 * by one too, both histories are signed by the box's epoch keys: an
 * equivocation (docs/EPOCHS.md). Appends what it found to what. */
static void
trusted_equivocation(struct ldg_ledger *l, const char *note, size_t len,
                     size_t tlen, char *what, size_t cap)
{
    struct ldg_anchor_pin *pins = NULL;
    struct ldg_epoch_row *rows = NULL;
    struct ldg_txn *t = NULL;
    char name[LDG_ORIGIN_MAX + sizeof LDG_EPOCH_NOTE_SUFFIX], *ck = NULL;
    size_t np = 0, nr = 0, at = strlen(what);
    struct ldg_epoch_id e, e2;
    size_t ctl;
    uint32_t id;

    if (ldg_keys_anchors(l, &pins, &np) < 0 || np == 0 ||
        strcmp(pins[0].key_id, l->log_key->key_id) != 0 ||
        ldg_keys_epochs(l, &rows, &nr) < 0)
        goto out;
    id = ldg_epoch_note_key_id(l->origin, pins[0].anchor, name, sizeof name);
    /* the log's own statement now: its newest checkpoint (of the log's
     * size, past the trusted one's) */
    if (!note_by_epoch(l, note, len, tlen, name, id, rows, nr, &e) ||
        ldg_txn_begin(l, LDG_TXN_READ, &t) < 0 ||
        ldg_checkpoint_get(t, 0, &ck) < 0 ||
        (ctl = ldg_note_text_len(ck, strlen(ck))) == 0 ||
        !note_by_epoch(l, ck, strlen(ck), ctl, name, id, rows, nr, &e2))
        goto out;
    snprintf(what + at, cap - at,
             "; equivocation: the trusted checkpoint is signed by epoch "
             "%u.%u of the log key (a key this log's seals certify from its "
             "anchor), the log's newest checkpoint by epoch %u.%u: two "
             "histories signed by the box's epoch keys",
             e.period, e.sub, e2.period, e2.sub);
out:
    if (t != NULL)
        ldg_txn_abort(t);
    free(ck);
    free(rows);
    free(pins);
    l->errmsg[0] = '\0'; /* (what could not be read here is no finding) */
}

int
ldg_verify_trusted(struct ldg_ledger *l, const char *note, size_t len,
                   struct ldg_trusted_report *r)
{
    char origin[LDG_ORIGIN_MAX + 1], h1[45], h2[45];
    uint8_t troot[32], root[32];
    struct ldg_txn *t = NULL;
    size_t tlen;
    int rc;

    memset(r, 0, sizeof *r);
    if (ldg_note_verify(note, len, l->origin, l->log_key->pub, &tlen) != 0) {
        ldg_seterr(l,
                   "the trusted checkpoint is not a note signed by this "
                   "ledger's log key (%s)",
                   l->origin);
        return LDG_EBADINPUT;
    }
    if (ldg_checkpoint_parse(note, tlen, origin, sizeof origin,
                             &r->trusted_size, troot) != 0 ||
        strcmp(origin, l->origin) != 0) {
        ldg_seterr(l, "the trusted checkpoint is malformed");
        return LDG_EBADINPUT;
    }
    if ((rc = ldg_txn_begin(l, LDG_TXN_READ, &t)) < 0)
        return rc;
    if ((rc = ldg_txn_size(t, &r->log_size)) < 0)
        goto out;
    ldg_base64(h1, troot, 32);
    if (r->log_size < r->trusted_size) {
        snprintf(r->what, sizeof r->what,
                 "rolled back: the trusted checkpoint covers %llu events "
                 "(root %s) but the log has only %llu",
                 (unsigned long long)r->trusted_size, h1,
                 (unsigned long long)r->log_size);
        rc = LDG_ETAMPER;
        goto out;
    }
    if ((rc = ldg_tree_root(t, r->trusted_size, root)) == LDG_EPRUNED) {
        /* store layout 9: a size among the tree hashes a prune dropped
         * (a trusted checkpoint older than the kept tiles) */
        char what[128];
        snprintf(what, sizeof what,
                 "the trusted checkpoint of size %llu cannot be checked",
                 (unsigned long long)r->trusted_size);
        rc = ldg_tree_pruned_err(t, what);
        snprintf(r->what, sizeof r->what, "%s", ldg_errmsg(l));
        goto out;
    }
    if (rc < 0)
        goto out;
    ldg_base64(h2, root, 32);
    if (memcmp(root, troot, 32) != 0) {
        snprintf(r->what, sizeof r->what,
                 "forked: at size %llu the trusted checkpoint has root %s "
                 "but the log's tree has root %s",
                 (unsigned long long)r->trusted_size, h1, h2);
        ldg_txn_abort(t);
        trusted_equivocation(l, note, len, tlen, r->what, sizeof r->what);
        return LDG_ETAMPER;
    }
    snprintf(r->what, sizeof r->what,
             "consistent with the trusted checkpoint of size %llu (root %s); "
             "the log has %llu events",
             (unsigned long long)r->trusted_size, h1,
             (unsigned long long)r->log_size);
out:
    ldg_txn_abort(t);
    return rc;
}
