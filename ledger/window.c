/*
 * window.c — a reader's windows (ldg_window_*): a long read in short
 * snapshots, each checked to see the log as the first one did below its
 * bound (no prune, no erase of what it read meanwhile).
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ledger/crypto_int.h"
#include "ledger/handle_int.h"
#include "ledger/mp_int.h"

/* ----------------------------------------------- a reader's windows -- */

struct wc_scan {
    struct ldg_txn *t;
    struct ldg_window_check *c;
};

int
ldg_erasure_target(struct ldg_txn *t, uint64_t seq, uint64_t *target)
{
    json_t *body = NULL;
    json_int_t tg;
    int rc = ldg_body_get(t, seq, &body);
    if (rc < 0)
        return rc == LDG_EERASED ? 1 : rc;
    tg = json_integer_value(json_object_get(body, "target_seq"));
    json_decref(body);
    if (tg < 0)
        return 1;
    *target = (uint64_t)tg;
    return 0;
}

static int
wc_erasure(void *ctx, uint64_t seq)
{
    struct wc_scan *x = ctx;
    uint64_t tg;
    int rc = ldg_erasure_target(x->t, seq, &tg);
    if (rc != 0)
        return rc < 0 ? rc : 0;
    if (tg < x->c->below) {
        x->c->erased = tg;
        x->c->erased_by = seq;
        return 1;
    }
    return 0;
}

int
ldg_window_check(struct ldg_txn *t, struct ldg_window_check *c)
{
    struct ldg_ledger *l;
    struct ldg_horizon h;
    struct wc_scan x = {t, c};
    uint64_t size, hz = 0;
    int rc;

    if (t == NULL || c == NULL)
        return LDG_EINVAL;
    l = ldg_txn_ledger(t);
    c->pruned_to = c->erased = c->erased_by = 0;
    memset(&h, 0, sizeof h);
    rc = ldg_horizon_get(t, &h);
    if (rc == 0)
        hz = h.seq;
    ldg_horizon_release(&h);
    if (rc < 0 && rc != LDG_ENOTFOUND) {
        ldg_seterr(l, "reading the horizon: %s", ldg_strerror(rc));
        return rc;
    }
    if (hz != c->horizon) {
        c->pruned_to = hz;
        return LDG_ENOTFOUND;
    }
    if ((rc = ldg_txn_size(t, &size)) < 0)
        return rc;
    if (size <= c->seen)
        return 0;
    x.c->erased_by = UINT64_MAX;
    rc = ldg_index_walk(t, LDG_INDEX_TYPE, LDG_EV_BODY_ERASED, c->seen,
                        size - 1, 0, wc_erasure, &x);
    if (rc < 0) {
        ldg_seterr(l, "reading the ledger: %s", ldg_strerror(rc));
        return rc;
    }
    if (c->erased_by != UINT64_MAX)
        return LDG_ENOTFOUND;
    c->erased_by = 0;
    c->seen = size;
    return 0;
}

int
ldg_window_begin(struct ldg_window *w)
{
    int rc;
    if (w->snapshot != NULL)
        w->snapshot(w->snapshot_ctx, 1);
    if ((rc = ldg_txn_begin(w->l, LDG_TXN_READ, &w->t)) < 0) {
        w->t = NULL;
        if (w->snapshot != NULL)
            w->snapshot(w->snapshot_ctx, 0);
    }
    return rc;
}

void
ldg_window_end(struct ldg_window *w)
{
    if (w->t == NULL)
        return;
    ldg_txn_abort(w->t);
    w->t = NULL;
    if (w->snapshot != NULL)
        w->snapshot(w->snapshot_ctx, 0);
}

int
ldg_window_next(struct ldg_window *w, const char *doing)
{
    int rc;
    if ((rc = ldg_window_begin(w)) < 0) {
        ldg_seterr(w->l, "reading the ledger: %s", ldg_strerror(rc));
        return rc;
    }
    rc = ldg_window_check(w->t, &w->wc);
    if (rc == LDG_ENOTFOUND && w->wc.pruned_to != w->wc.horizon)
        ldg_seterr(w->l,
                   "events %" PRIu64 "..%" PRIu64 " were pruned while %s; "
                   "nothing was written: run it again",
                   w->wc.horizon, w->wc.pruned_to - 1, doing);
    else if (rc == LDG_ENOTFOUND)
        ldg_seterr(w->l,
                   "event %" PRIu64 "'s body was erased (by event %" PRIu64
                   ") while %s; nothing was written: run it again",
                   w->wc.erased, w->wc.erased_by, doing);
    return rc;
}
