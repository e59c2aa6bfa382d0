/*
 * verified.c — proj.verified, the successful model verifications by what
 * they verify, kept by an applier of its own:
 *
 *   subject ‖ 0x00 ‖ digest ‖ 0x00 ‖ seq be64     (empty value)
 *   0x00                                          mark: u64be size
 *
 * one key for each model.verified event whose body has "ok": true and a
 * string "digest" (up to its first NUL, as a C string), when the key fits
 * in LMDB's 511 bytes. "Has the digest D of model M ever been verified,
 * and first when?" is then one range scan of the keys "model:M ‖ 0 ‖ D ‖
 * 0", however long the log (query's model_at).
 *
 * The mark says the keys are those of the events [0, size). No subject is
 * empty, so no verification's key is the mark's. It sits in the same
 * database as the keys: emptying or deleting the database takes the mark
 * with it, so a reader never trusts keys that are not all there. An
 * appender without the projections attached leaves the mark behind the
 * log, and readers look through the events after it; the applier brings
 * the store up to the log before its first event of a commit group.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>

#include "projections/proj_int.h"
#include "projections/verified.h"

#define VERIFIED_DB "proj.verified"
#define VKEY_MAX 511

static const uint8_t MARK_KEY[1] = {0};

static size_t
vkey(uint8_t *k, const char *subject, const char *digest, size_t dn,
     uint64_t seq)
{
    size_t sn = strlen(subject);
    if (sn + dn + 10 > VKEY_MAX)
        return 0;
    memcpy(k, subject, sn);
    k[sn] = 0;
    memcpy(k + sn + 1, digest, dn);
    k[sn + 1 + dn] = 0;
    ldg_be64(k + sn + dn + 2, seq);
    return sn + dn + 10;
}

/* The key of event ev with body view b: 0 unless it is a successful
 * verification whose key fits (a longer one is looked up the slow way). */
static size_t
key_of(uint8_t k[VKEY_MAX], const struct ldg_event *ev,
       const struct ldg_body_view *b)
{
    struct ldg_slice d;
    int ok = 0;
    if (strcmp(ev->type, LDG_EV_MODEL_VERIFIED) != 0 ||
        !ldg_body_view_bool(b, "ok", &ok) || !ok ||
        !ldg_body_view_str(b, "digest", &d))
        return 0;
    return vkey(k, ev->subject, d.p, strnlen(d.p, d.n), ev->seq);
}

static int
read_mark(struct ldg_txn *t, ldg_dbi dbi, uint64_t *mark)
{
    struct ldg_val v;
    int rc = ldg_kv_get(t, dbi, MARK_KEY, sizeof MARK_KEY, &v);
    if (rc < 0)
        return rc;
    if (v.len != 8)
        return LDG_ENOTFOUND; /* not a mark this code wrote: fill again */
    *mark = ldg_rd_be64(v.data);
    return 0;
}

static int
write_mark(struct ldg_txn *t, ldg_dbi dbi, uint64_t size)
{
    uint8_t v[8];
    ldg_be64(v, size);
    return ldg_kv_put(t, dbi, MARK_KEY, sizeof MARK_KEY, v, sizeof v);
}

/* fn for each model.verified of [from, to) and its body (an erased one
 * gives no key): the core's scan of those the type index lists. */
static int
each_verified(struct ldg_txn *t, uint64_t from, uint64_t to,
              int (*fn)(void *ctx, const struct ldg_event *ev,
                        const struct ldg_body_view *b),
              void *ctx)
{
    static const char *const types[] = {LDG_EV_MODEL_VERIFIED, NULL};
    struct ldg_scan_fns fns;
    memset(&fns, 0, sizeof fns);
    fns.event = fn;
    fns.ctx = ctx;
    fns.types = types;
    return ldg_log_scan(t, from, to, &fns, NULL);
}

struct fill {
    struct ldg_txn *t;
    ldg_dbi dbi;
};

static int
fill_one(void *ctx, const struct ldg_event *ev, const struct ldg_body_view *b)
{
    struct fill *f = ctx;
    uint8_t k[VKEY_MAX];
    size_t n = key_of(k, ev, b);
    return n > 0 ? ldg_kv_put(f->t, f->dbi, k, n, "", 0) : 0;
}

static int catch_up(struct ldg_txn *t, uint64_t to);

/* Copies the keys proj.horizon keeps of the pruned events' verifications
 * into dbi. */
static int
restore_pruned(struct ldg_txn *t, ldg_dbi dbi)
{
    struct ldg_cursor *c = NULL;
    struct ldg_val k, v;
    uint8_t tag = PROJ_HORIZON_VERIFIED;
    ldg_dbi hz;
    int rc = ldg_db_open(t, PROJ_HORIZON_DB, 0, &hz);

    if (rc == LDG_ENOTFOUND)
        return 0;
    if (rc < 0 || (rc = ldg_cursor_open(t, hz, &c)) < 0)
        return rc;
    for (rc = ldg_cursor_get(c, LDG_SET_RANGE, &tag, 1, &k, &v); rc == 0;
         rc = ldg_cursor_get(c, LDG_NEXT, NULL, 0, &k, &v)) {
        if (k.len < 2 || ((const uint8_t *)k.data)[0] != tag)
            break;
        if ((rc = ldg_kv_put(t, dbi, (const uint8_t *)k.data + 1, k.len - 1, "",
                             0)) < 0)
            break;
    }
    ldg_cursor_close(c);
    return rc == LDG_ENOTFOUND ? 0 : rc;
}

int
verified_snapshot(struct ldg_txn *t, uint64_t hz)
{
    struct ldg_cursor *c = NULL;
    struct ldg_val k, v;
    ldg_dbi dbi, out;
    uint8_t key[VKEY_MAX + 1];
    int rc;

    uint64_t size;

    if ((rc = ldg_txn_size(t, &size)) < 0 || (rc = catch_up(t, size)) < 0 ||
        (rc = ldg_db_open(t, VERIFIED_DB, 0, &dbi)) < 0 ||
        (rc = ldg_db_open(t, PROJ_HORIZON_DB, LDG_DB_CREATE, &out)) < 0)
        return rc;
    /* the keys kept at the last horizon go: those before hz come back */
    if ((rc = ldg_cursor_open(t, out, &c)) < 0)
        return rc;
    key[0] = PROJ_HORIZON_VERIFIED;
    while ((rc = ldg_cursor_get(c, LDG_SET_RANGE, key, 1, &k, &v)) == 0 &&
           k.len >= 1 && ((const uint8_t *)k.data)[0] == key[0])
        if ((rc = ldg_cursor_del(c)) < 0)
            break;
    ldg_cursor_close(c);
    c = NULL;
    if ((rc != 0 && rc != LDG_ENOTFOUND) ||
        (rc = ldg_cursor_open(t, dbi, &c)) < 0)
        return rc;
    for (rc = ldg_cursor_get(c, LDG_FIRST, NULL, 0, &k, &v); rc == 0;
         rc = ldg_cursor_get(c, LDG_NEXT, NULL, 0, &k, &v)) {
        if (k.len < 9 || k.len > VKEY_MAX ||
            ldg_rd_be64((const uint8_t *)k.data + k.len - 8) >= hz)
            continue; /* the mark, or a later event's */
        key[0] = PROJ_HORIZON_VERIFIED;
        memcpy(key + 1, k.data, k.len);
        if ((rc = ldg_kv_put(t, out, key, k.len + 1, "", 0)) < 0)
            break;
    }
    ldg_cursor_close(c);
    return rc == LDG_ENOTFOUND ? 0 : rc;
}

/* Makes the store in t cover the events [0, to): from its mark when it
 * has one at or below to, else emptied and filled from the start. The
 * model.verified events are found through the type index. */
static int
catch_up(struct ldg_txn *t, uint64_t to)
{
    struct fill f = {t, 0};
    uint64_t from = 0;
    int rc;

    if ((rc = ldg_db_open(t, VERIFIED_DB, LDG_DB_CREATE, &f.dbi)) < 0)
        return rc;
    rc = read_mark(t, f.dbi, &from);
    if (rc == 0 && from == to)
        return 0;
    if (rc == LDG_ENOTFOUND || (rc == 0 && from > to)) {
        from = 0;
        rc = ldg_db_drop(t, f.dbi, 0);
        /* a pruned ledger: the keys of the pruned events, as kept at
         * its horizon */
        if (rc == 0)
            rc = restore_pruned(t, f.dbi);
    }
    if (rc == 0)
        rc = each_verified(t, from, to, fill_one, &f);
    return rc < 0 ? rc : write_mark(t, f.dbi, to);
}

int
verified_refill(struct ldg_txn *t, uint64_t size)
{
    ldg_dbi dbi;
    int rc = ldg_db_open(t, VERIFIED_DB, LDG_DB_CREATE, &dbi);
    if (rc == 0)
        rc = ldg_db_drop(t, dbi, 0);
    return rc < 0 ? rc : catch_up(t, size);
}

int
ldg_projections_verified_rebuild(struct ldg_ledger *l)
{
    struct ldg_txn *t = NULL;
    uint64_t size;
    int rc;

    if (l == NULL)
        return LDG_EINVAL;
    if ((rc = ldg_txn_begin(l, LDG_TXN_WRITE, &t)) < 0)
        return rc;
    rc = ldg_txn_size(t, &size);
    if (rc == 0)
        rc = verified_refill(t, size);
    if (rc < 0) {
        ldg_txn_abort(t);
        ldg_set_errmsg(l, "rebuilding %s: %s", VERIFIED_DB, ldg_strerror(rc));
        return rc;
    }
    if ((rc = ldg_txn_commit(t)) < 0)
        ldg_set_errmsg(l, "rebuilding %s: commit: %s", VERIFIED_DB,
                       ldg_strerror(rc));
    return rc;
}

int
ldg_projections_verified_walk(struct ldg_txn *t, const char *subject,
                              const char *digest, uint64_t *upto,
                              int (*fn)(void *ctx, uint64_t seq), void *ctx)
{
    uint8_t key[VKEY_MAX];
    struct ldg_cursor *c = NULL;
    struct ldg_val k, v;
    ldg_dbi dbi;
    size_t n;
    int rc;

    if (t == NULL || subject == NULL || digest == NULL || upto == NULL ||
        fn == NULL)
        return LDG_EINVAL;
    if ((rc = ldg_db_open(t, VERIFIED_DB, 0, &dbi)) < 0 ||
        (rc = read_mark(t, dbi, upto)) < 0)
        return rc; /* LDG_ENOTFOUND: never built, no answer here */
    if ((n = vkey(key, subject, digest, strlen(digest), 0)) == 0)
        return LDG_ETOOBIG; /* never indexed: no answer here either */
    n -= 8;                 /* the prefix: subject ‖ 0 ‖ digest ‖ 0 */
    if ((rc = ldg_cursor_open(t, dbi, &c)) < 0)
        return rc;
    for (rc = ldg_cursor_get(c, LDG_SET_RANGE, key, n, &k, &v); rc == 0;
         rc = ldg_cursor_get(c, LDG_NEXT, NULL, 0, &k, &v)) {
        if (k.len != n + 8 || memcmp(k.data, key, n) != 0)
            break;
        if ((rc = fn(ctx, ldg_rd_be64((const uint8_t *)k.data + n))) != 0)
            break;
    }
    ldg_cursor_close(c);
    return rc == LDG_ENOTFOUND || rc > 0 ? 0 : rc;
}

/* ------------------------------------------------------------ applier -- */

struct vctx {
    struct ldg_body_view *view;
    struct ldg_txn *t; /* the commit group's transaction, or NULL */
    uint64_t next;     /* the seq the store in t is current up to */
    struct vctx *link; /* global list: see below */
};

/* As applier.c's contexts: the core cannot release an applier's context
 * when the handle closes, so every one is kept reachable here. */
static struct vctx *all_vctx;
static pthread_mutex_t all_vmu = PTHREAD_MUTEX_INITIALIZER;

/* The event in the store of t, b its body (NULL: not read, as it is for
 * every event but model.verified). The store is brought to ev->seq first
 * when this is a new group's first event, or the core started the group
 * again (after growing the map) or another appender wrote meanwhile. */
static int
vapply(struct vctx *c, struct ldg_txn *t, const struct ldg_event *ev,
       const struct ldg_body_view *b)
{
    uint8_t k[VKEY_MAX];
    ldg_dbi dbi;
    size_t n;
    int rc;

    if (c->t != t || c->next != ev->seq) {
        c->t = NULL;
        if ((rc = catch_up(t, ev->seq)) < 0)
            return rc;
        c->t = t;
    }
    c->next = ev->seq + 1;
    if (b == NULL || (n = key_of(k, ev, b)) == 0)
        return 0;
    if ((rc = ldg_db_open(t, VERIFIED_DB, LDG_DB_CREATE, &dbi)) == 0)
        rc = ldg_kv_put(t, dbi, k, n, "", 0);
    if (rc < 0)
        c->t = NULL;
    return rc;
}

static int
vapply_json(void *ctx, struct ldg_txn *t, const struct ldg_event *ev,
            const json_t *body)
{
    struct vctx *c = ctx;
    if (strcmp(ev->type, LDG_EV_MODEL_VERIFIED) != 0 || body == NULL)
        return vapply(c, t, ev, NULL);
    ldg_body_view_set_json(c->view, body);
    return vapply(c, t, ev, c->view);
}

/* The bulk writer's events come with their record only: read in place,
 * and only a verification's (1: the core decodes it for vapply_json). */
static int
vapply_record(void *ctx, struct ldg_txn *t, const struct ldg_event *ev,
              const uint8_t *rec, size_t len)
{
    struct vctx *c = ctx;
    if (strcmp(ev->type, LDG_EV_MODEL_VERIFIED) != 0)
        return vapply(c, t, ev, NULL);
    ldg_body_view_set_dicts(c->view, ldg_txn_dicts(t),
                            ldg_body_max(ldg_txn_ledger(t)));
    if (ldg_body_view_set_record(c->view, rec, len) != 0)
        return 1;
    return vapply(c, t, ev, c->view);
}

static int
vat_commit(void *ctx, struct ldg_txn *t, uint64_t size)
{
    struct vctx *c = ctx;
    ldg_dbi dbi;
    int rc;
    if (c->t == t && c->next == size) { /* every event went in here */
        if ((rc = ldg_db_open(t, VERIFIED_DB, LDG_DB_CREATE, &dbi)) == 0)
            rc = write_mark(t, dbi, size);
    } else {
        rc = catch_up(t, size);
    }
    c->t = NULL; /* the next group reads the mark again */
    return rc;
}

int
verified_attach(struct ldg_ledger *l)
{
    struct ldg_applier a;
    struct ldg_txn *t = NULL;
    struct vctx *c;
    uint64_t size, mark = 0;
    ldg_dbi dbi;
    int rc, current;

    /* A ledger written without the applier gets its keys now, as the
     * projections are brought current, so readers seek rather than
     * look through its verifications (a read-only handle writes
     * nothing). */
    if (ldg_read_only(l))
        goto attach;
    if ((rc = ldg_txn_begin(l, LDG_TXN_READ | LDG_TXN_STORE, &t)) < 0)
        return rc;
    rc = ldg_txn_size(t, &size);
    /* (current with the store's own events: the intake's tail is
     * applied here when it is applied to the store) */
    current = rc == 0 && ldg_db_open(t, VERIFIED_DB, 0, &dbi) == 0 &&
              read_mark(t, dbi, &mark) == 0 && mark == size;
    ldg_txn_abort(t);
    if (rc < 0)
        return rc;
    if (!current) {
        if ((rc = ldg_txn_begin(l, LDG_TXN_WRITE, &t)) < 0)
            return rc;
        rc = ldg_txn_size(t, &size);
        if (rc == 0)
            rc = catch_up(t, size);
        if (rc == 0)
            rc = ldg_txn_commit(t);
        else
            ldg_txn_abort(t);
        /* a full map: the first append does it, after growing the map */
        if (rc < 0 && rc != LDG_EFULL) {
            ldg_set_errmsg(l, "filling %s: %s", VERIFIED_DB, ldg_strerror(rc));
            return rc;
        }
    }
attach:
    if ((c = calloc(1, sizeof *c)) == NULL)
        return LDG_ENOMEM;
    if ((rc = ldg_body_view_new(&c->view)) < 0) {
        free(c);
        return rc;
    }
    memset(&a, 0, sizeof a);
    a.name = "verified";
    a.apply = vapply_json;
    a.apply_record = vapply_record;
    a.at_commit = vat_commit;
    a.ctx = c;
    if ((rc = ldg_applier_add(l, &a)) < 0) {
        ldg_body_view_free(c->view);
        free(c);
        return rc;
    }
    pthread_mutex_lock(&all_vmu);
    c->link = all_vctx;
    all_vctx = c;
    pthread_mutex_unlock(&all_vmu);
    return 0;
}

/* -------------------------------------------------------------- check -- */

struct vkeyrec {
    uint8_t k[VKEY_MAX];
    size_t n;
    uint64_t seq;
};

struct vexpect {
    struct fill f;
    struct vkeyrec *v;
    size_t n, cap;
};

/* LMDB's default order: bytes, then the shorter first. */
static int
vkey_cmp(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    return c ? c : (an > bn) - (an < bn);
}

static int
vkeyrec_cmp(const void *a, const void *b)
{
    const struct vkeyrec *x = a, *y = b;
    return vkey_cmp(x->k, x->n, y->k, y->n);
}

/* An erased body gives no key: its key may stay or not, not judged. */
static int
expect_one(void *ctx, const struct ldg_event *ev, const struct ldg_body_view *b)
{
    struct vexpect *e = ctx;
    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 64;
        struct vkeyrec *nv = realloc(e->v, cap * sizeof *nv);
        if (nv == NULL)
            return LDG_ENOMEM;
        e->v = nv;
        e->cap = cap;
    }
    LDG_ASSERT(e->n < e->cap);
    e->v[e->n].n = key_of(e->v[e->n].k, ev, b);
    e->v[e->n].seq = ev->seq;
    LDG_ASSERT(e->v[e->n].n <= VKEY_MAX);
    if (e->v[e->n].n > 0)
        e->n++;
    return 0;
}

/* A pruned ledger: the keys kept at its horizon are called for too. */
static int
expect_pruned(struct vexpect *e)
{
    struct ldg_cursor *c = NULL;
    struct ldg_val k, v;
    uint8_t tag = PROJ_HORIZON_VERIFIED;
    ldg_dbi hz;
    int rc = ldg_db_open(e->f.t, PROJ_HORIZON_DB, 0, &hz);

    if (rc == LDG_ENOTFOUND)
        return 0;
    if (rc < 0 || (rc = ldg_cursor_open(e->f.t, hz, &c)) < 0)
        return rc;
    for (rc = ldg_cursor_get(c, LDG_SET_RANGE, &tag, 1, &k, &v); rc == 0;
         rc = ldg_cursor_get(c, LDG_NEXT, NULL, 0, &k, &v)) {
        if (k.len < 10 || k.len > VKEY_MAX + 1 ||
            ((const uint8_t *)k.data)[0] != tag)
            break;
        if (e->n == e->cap) {
            size_t cap = e->cap ? e->cap * 2 : 64;
            struct vkeyrec *nv = realloc(e->v, cap * sizeof *nv);
            if (nv == NULL) {
                rc = LDG_ENOMEM;
                break;
            }
            e->v = nv;
            e->cap = cap;
        }
        LDG_ASSERT(e->n < e->cap && k.len - 1 <= VKEY_MAX);
        memcpy(e->v[e->n].k, (const uint8_t *)k.data + 1, k.len - 1);
        e->v[e->n].n = k.len - 1;
        e->v[e->n].seq = ldg_rd_be64((const uint8_t *)k.data + k.len - 8);
        e->n++;
    }
    ldg_cursor_close(c);
    return rc == LDG_ENOTFOUND ? 0 : rc;
}

/* "model:m/sha256:aa#12" */
static json_t *
vkey_json(const uint8_t *k, size_t n)
{
    size_t sn = strnlen((const char *)k, n - 8);
    size_t dn = n - 8 - sn - 2;
    return json_sprintf("%.*s/%.*s#%llu", (int)sn, (const char *)k, (int)dn,
                        (const char *)k + sn + 1,
                        (unsigned long long)ldg_rd_be64(k + n - 8));
}

static void
vdiff(json_t *diffs, json_t *key, const char *what)
{
    json_array_append_new(diffs,
                          json_pack("{s:s, s:o, s:s, s:n, s:n}", "projection",
                                    "verified", "key", key ? key : json_null(),
                                    "what", what, "stored", "rebuilt"));
}

int
verified_check(struct ldg_txn *t, json_t *diffs)
{
    struct vexpect e;
    struct ldg_cursor *c = NULL;
    struct ldg_val k, v;
    uint64_t mark;
    size_t i = 0;
    int rc;

    memset(&e, 0, sizeof e);
    e.f.t = t;
    rc = ldg_db_open(t, VERIFIED_DB, 0, &e.f.dbi);
    if (rc == 0)
        rc = read_mark(t, e.f.dbi, &mark);
    if (rc == LDG_ENOTFOUND)
        return 0; /* not built: readers look through the events */
    if (rc < 0)
        return rc;
    rc = each_verified(t, 0, mark, expect_one, &e);
    if (rc == 0)
        rc = expect_pruned(&e);
    if (rc < 0)
        goto out;
    if (e.n > 1)
        qsort(e.v, e.n, sizeof *e.v, vkeyrec_cmp);
    if ((rc = ldg_cursor_open(t, e.f.dbi, &c)) < 0)
        goto out;
    for (rc = ldg_cursor_get(c, LDG_FIRST, NULL, 0, &k, &v); rc == 0;
         rc = ldg_cursor_get(c, LDG_NEXT, NULL, 0, &k, &v)) {
        const uint8_t *kp = k.data;
        json_t *body = NULL;
        int brc;
        if (k.len == sizeof MARK_KEY && kp[0] == MARK_KEY[0])
            continue;
        if (k.len < 11 || kp[0] == 0 || kp[k.len - 9] != 0 || v.len != 0 ||
            memchr(kp, 0, k.len - 9) == NULL) {
            vdiff(diffs, NULL, "a key that is not subject, digest and seq");
            continue;
        }
        if (ldg_rd_be64(kp + k.len - 8) >= mark) {
            vdiff(diffs, vkey_json(kp, k.len),
                  "a key for an event the mark says is not in yet");
            continue;
        }
        /* keys the log calls for that sort before this one are missing */
        for (; i < e.n && vkey_cmp(e.v[i].k, e.v[i].n, kp, k.len) < 0; i++)
            vdiff(diffs, vkey_json(e.v[i].k, e.v[i].n),
                  "no key for this successful model.verified");
        if (i < e.n && vkey_cmp(e.v[i].k, e.v[i].n, kp, k.len) == 0) {
            i++;
            continue;
        }
        /* a key the log does not call for, unless its body is erased */
        brc = ldg_body_get(t, ldg_rd_be64(kp + k.len - 8), &body);
        json_decref(body);
        if (brc == LDG_EERASED)
            continue;
        if (brc < 0 && brc != LDG_ENOTFOUND) {
            rc = brc;
            goto out;
        }
        vdiff(diffs, vkey_json(kp, k.len),
              "a key for an event that is not this successful verification");
    }
    if (rc != LDG_ENOTFOUND)
        goto out;
    for (; i < e.n; i++)
        vdiff(diffs, vkey_json(e.v[i].k, e.v[i].n),
              "no key for this successful model.verified");
    rc = 0;
out:
    ldg_cursor_close(c);
    free(e.v);
    return rc;
}

int
ldg_projections_horizon_registration(struct ldg_txn *t, const char *model,
                                     uint64_t *seq, char *digest, size_t cap)
{
    uint8_t key[PROJ_KEY_MAX + 2];
    const struct rtype *rt = rtype_of(P_MODELS, TAG_MODEL);
    struct rec_model *m = NULL;
    struct ldg_val v;
    ldg_dbi dbi;
    size_t kl;
    int rc;

    if (t == NULL || model == NULL || seq == NULL || digest == NULL ||
        cap == 0 || rt == NULL)
        return LDG_EINVAL;
    rc = ldg_db_open(t, PROJ_HORIZON_DB, 0, &dbi);
    if (rc == LDG_ENOTFOUND)
        return 0; /* never pruned */
    if (rc < 0)
        return rc;
    key[0] = (uint8_t)P_MODELS;
    kl = 1 + KEY1(key + 1, TAG_MODEL, svs(model));
    rc = ldg_kv_get(t, dbi, key, kl, &v);
    if (rc == LDG_ENOTFOUND)
        return 0;
    if (rc < 0 || (rc = rec_decode(rt, v.data, v.len, (void **)&m)) < 0)
        return rc;
    rc = 0;
    if (m->registered && m->digest != NULL && strlen(m->digest) < cap) {
        *seq = m->registered_seq;
        memcpy(digest, m->digest, strlen(m->digest) + 1);
        rc = 1;
    }
    rec_free(rt, m);
    return rc;
}
