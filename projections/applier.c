/*
 * applier.c — the projections kept current on the append path (engine.c's
 * "Append path"): the applier the core calls for each event and at each
 * commit.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "projections/proj_int.h"
#include "projections/engine_int.h"

/* ------------------------------------------------------------ applier -- */

struct pctx {
    struct ldg_ledger *l;
    struct ldg_body_view *jview; /* apply()'s body view (JSON bodies) */
    struct pstate *ps;           /* the current commit group's cache */
    struct ldg_txn *t;           /* its transaction */
    ldg_projections_progress_fn fn;
    void *fnctx;
    struct pctx *next; /* global list: see attach */
};

/* Every context ever attached. The core has no hook to release an
 * applier's context when the handle closes, so contexts are kept here
 * (small, and reachable, so leak checkers stay quiet); a context's cache
 * is freed at the end of each commit group. */
static struct pctx *all_ctx;
static pthread_mutex_t all_mu = PTHREAD_MUTEX_INITIALIZER;

static void
drop_cache(struct pctx *c)
{
    ps_free(c->ps);
    c->ps = NULL;
    c->t = NULL;
}

/* Opens the cache for a group whose next event is seq, bringing the
 * store current to seq first. */
static int
open_cache(struct pctx *c, struct ldg_txn *t, uint64_t seq)
{
    int rc, changed;
    drop_cache(c);
    rc = eng_bring_current(t, seq, 0, c->fn, c->fnctx, &changed);
    if (rc < 0)
        return rc;
    if ((rc = ps_new(&c->ps, c->l, t, 1, P_ALL)) < 0)
        return rc;
    for (int p = 0; p < P_COUNT; p++) {
        struct pmeta m;
        if ((rc = meta_read(t, (enum proj_id)p, &m)) < 0) {
            drop_cache(c);
            return rc;
        }
        c->ps->dig[p] = m.dig;
    }
    c->ps->applied = seq;
    c->t = t;
    (void)changed;
    return 0;
}

/* Does erasing the body of event target change any projection? */
static int
erase_matters(struct ldg_txn *t, const json_t *body)
{
    json_t *v = json_object_get(body, "target_seq");
    struct ldg_event ev;
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return 0;
    if (ldg_event_get(t, (uint64_t)json_integer_value(v), &ev) < 0)
        return 1; /* cannot tell: replay to be safe */
    return ev_type_feeds(ev_type_of(ev.type, strlen(ev.type)));
}

/* Replaces every projection in t by a replay of events [0, seq), and
 * opens a fresh cache for event seq. */
static int
rebuild_in_txn(struct pctx *c, struct ldg_txn *t, uint64_t seq)
{
    int rc, changed;
    drop_cache(c);
    for (int p = 0; p < P_COUNT; p++) {
        ldg_dbi dbi;
        if ((rc = eng_meta_dbi(t, 1, &dbi)) < 0)
            return rc;
        rc = ldg_kv_del(t, dbi, proj_defs[p].name, strlen(proj_defs[p].name),
                        NULL, 0);
        if (rc < 0 && rc != LDG_ENOTFOUND)
            return rc;
    }
    if ((rc = eng_bring_current(t, seq, 0, c->fn, c->fnctx, &changed)) < 0)
        return rc;
    return open_cache(c, t, seq);
}

static int apply_view(struct pctx *c, struct ldg_txn *t,
                      const struct ldg_event *ev, const json_t *body,
                      struct ldg_body_view *b);

static int
apply(void *ctx, struct ldg_txn *t, const struct ldg_event *ev,
      const json_t *body)
{
    struct pctx *c = ctx;
    if (body != NULL)
        ldg_body_view_set_json(c->jview, body);
    else
        ldg_body_view_set_none(c->jview);
    return apply_view(c, t, ev, body, c->jview);
}

/* The bulk writer's events come with their body record only: folded from
 * a view of it, as the rebuild path folds stored records. 1 (apply gets
 * the JSON instead) for a record that cannot be read in place and for an
 * erasure, which reads its target from the JSON. */
static int
apply_record(void *ctx, struct ldg_txn *t, const struct ldg_event *ev,
             const uint8_t *rec, size_t len)
{
    struct pctx *c = ctx;
    /* a compressed record is inflated with the store's dictionaries */
    ldg_body_view_set_dicts(c->jview, ldg_txn_dicts(t),
                            ldg_body_max(ldg_txn_ledger(t)));
    if (strcmp(ev->type, LDG_EV_BODY_ERASED) == 0 ||
        ldg_body_view_set_record(c->jview, rec, len) != 0)
        return 1;
    return apply_view(c, t, ev, NULL, c->jview);
}

/* apply with the body as view b (body: its JSON, for an erasure). */
static int
apply_view(struct pctx *c, struct ldg_txn *t, const struct ldg_event *ev,
           const json_t *body, struct ldg_body_view *b)
{
    struct penv e;
    int rc;

    if (c->ps == NULL || c->t != t || c->ps->applied != ev->seq) {
        if ((rc = open_cache(c, t, ev->seq)) < 0)
            goto fail;
    }
    penv_from_event(&e, ev);
    if (e.type == T_BODY_ERASED && erase_matters(t, body)) {
        /* The erased body may have fed a projection: the state must be
         * what a replay without it gives, so replay (O(log)). The target
         * body is already gone in this transaction. */
        if ((rc = rebuild_in_txn(c, t, ev->seq)) < 0)
            goto fail;
    }
    rc = fold_event(c->ps, &e, b);
    if (rc == LDG_ECORRUPT) {
        /* A stored record does not decode: rebuild from the log rather
         * than refuse the append, then fold the event again. */
        if ((rc = rebuild_in_txn(c, t, ev->seq)) == 0)
            rc = fold_event(c->ps, &e, b);
    }
    if (rc < 0)
        goto fail;
    return 0;
fail:
    drop_cache(c);
    return rc;
}

static int
at_commit(void *ctx, struct ldg_txn *t, uint64_t size)
{
    struct pctx *c = ctx;
    int rc;

    if (c->ps == NULL || c->t != t || c->ps->applied != size) {
        if ((rc = open_cache(c, t, size)) < 0)
            goto out;
    }
    if ((rc = ps_flush(c->ps)) < 0)
        goto out;
    for (int p = 0; p < P_COUNT && rc == 0; p++)
        rc = eng_meta_write(t, (enum proj_id)p, size, &c->ps->dig[p]);
    if (rc < 0)
        goto out;
    drop_cache(c);
    rc = eng_finish_size(t, size);
out:
    drop_cache(c);
    if (rc < 0 && ldg_errmsg(ldg_txn_ledger(t))[0] == '\0')
        ldg_set_errmsg(ldg_txn_ledger(t),
                       "projections: cannot store the state at log size "
                       "%llu: %s",
                       (unsigned long long)size, ldg_strerror(rc));
    return rc;
}

int
ldg_projections_attach_progress(struct ldg_ledger *l,
                                ldg_projections_progress_fn fn, void *fnctx)
{
    struct ldg_applier a;
    struct ldg_txn *t = NULL;
    struct pctx *c;
    uint64_t size;
    int rc, yes = 0, changed;

    if (l == NULL)
        return LDG_EINVAL;
    /* A read-only handle writes nothing: its read transactions fold what
     * the store's projections lack (the intake's tail) in memory. */
    if (ldg_read_only(l))
        goto attach;
    /* Bring the store current first (a rebuild if versions changed):
     * current with the store's own events, the intake's tail aside (at
     * layout 9 it is applied to the projections when it is applied to
     * the store; a one-shot writer leaves it there, LDG_KEEP_TAIL) */
    if ((rc = ldg_txn_begin(l, LDG_TXN_READ | LDG_TXN_STORE, &t)) < 0)
        return rc;
    rc = ldg_txn_size(t, &size);
    if (rc == 0)
        rc = eng_all_current(t, size, &yes);
    ldg_txn_abort(t);
    t = NULL;
    if (rc < 0)
        return rc;
    if (!yes) {
        if ((rc = ldg_txn_begin(l, LDG_TXN_WRITE, &t)) < 0) {
            ldg_set_errmsg(l,
                           "projections: cannot open a write "
                           "transaction: %s",
                           ldg_strerror(rc));
            return rc;
        }
        rc = ldg_txn_size(t, &size);
        if (rc == 0)
            rc = eng_bring_current(t, size, 0, fn, fnctx, &changed);
        if (rc == 0)
            rc = eng_finish_size(t, size);
        if (rc == 0) {
            rc = ldg_txn_commit(t);
        } else {
            ldg_txn_abort(t);
        }
        if (rc == LDG_EFULL) {
            /* Only the core's append path can grow the map: the first
             * append does this work instead, inside its transaction,
             * and retries it after growing. */
            rc = 0;
        }
        if (rc < 0) {
            if (ldg_errmsg(l)[0] == '\0')
                ldg_set_errmsg(l,
                               "projections: cannot bring the "
                               "projections up to date: %s",
                               ldg_strerror(rc));
            return rc;
        }
    }
attach:
    c = calloc(1, sizeof *c);
    if (c == NULL)
        return LDG_ENOMEM;
    if ((rc = ldg_body_view_new(&c->jview)) < 0) {
        free(c);
        return rc;
    }
    c->l = l;
    c->fn = fn;
    c->fnctx = fnctx;
    memset(&a, 0, sizeof a);
    a.name = "projections";
    a.apply = apply;
    a.apply_record = apply_record;
    a.at_commit = at_commit;
    a.ctx = c;
    rc = ldg_applier_add(l, &a);
    if (rc < 0) {
        ldg_body_view_free(c->jview);
        free(c);
        return rc;
    }
    pthread_mutex_lock(&all_mu);
    c->next = all_ctx;
    all_ctx = c;
    pthread_mutex_unlock(&all_mu);
    return verified_attach(l);
}

int
ldg_projections_attach(struct ldg_ledger *l)
{
    return ldg_projections_attach_progress(l, NULL, NULL);
}
