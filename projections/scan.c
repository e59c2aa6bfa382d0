/*
 * scan.c — events as the folds see them.
 *
 * On the append path the core hands each applier the body as a jansson
 * object; on the rebuild path the core's scan (ldg_log_scan) hands out
 * each envelope and a view of its body read in place, and this file turns
 * them into the folds' envelope (with the event type as an enum) and asks
 * for bodies only of the types that feed a projection. The stored bytes
 * are the core's business alone (ledger/module.h, "fast scans").
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "projections/proj_int.h"

#define SCAN_RELEASE_EVERY 65536 /* events between dropped mappings */

int
sv_eq(struct ldg_slice a, const char *s)
{
    size_t n = strlen(s);
    return a.n == n && memcmp(a.p, s, n) == 0;
}

int
sv_prefix(struct ldg_slice a, const char *s)
{
    size_t n = strlen(s);
    return a.n >= n && memcmp(a.p, s, n) == 0;
}

/* ------------------------------------------------------------- types -- */

static const struct {
    const char *name;
    enum ev_type t;
} type_names[] = {
    {LDG_EV_HOST_PROFILE, T_HOST_PROFILE},
    {LDG_EV_RUNTIME_REGISTERED, T_RUNTIME_REGISTERED},
    {LDG_EV_RUNTIME_HEALTH, T_RUNTIME_HEALTH},
    {LDG_EV_CAPACITY_SNAPSHOT, T_CAPACITY_SNAPSHOT},
    {LDG_EV_MODEL_REGISTERED, T_MODEL_REGISTERED},
    {LDG_EV_MODEL_VERIFIED, T_MODEL_VERIFIED},
    {LDG_EV_MODEL_STATE, T_MODEL_STATE},
    {LDG_EV_PACK_INSTALLED, T_PACK_INSTALLED},
    {LDG_EV_PACK_VALIDATED, T_PACK_VALIDATED},
    {LDG_EV_PACK_CHECKED, T_PACK_CHECKED},
    {LDG_EV_PACK_ENABLED, T_PACK_ENABLED},
    {LDG_EV_PACK_DISABLED, T_PACK_DISABLED},
    {LDG_EV_PACK_REMOVED, T_PACK_REMOVED},
    {LDG_EV_PACK_UPGRADED, T_PACK_UPGRADED},
    {LDG_EV_PERMISSION_REQUESTED, T_PERM_REQUESTED},
    {LDG_EV_PERMISSION_GRANTED, T_PERM_GRANTED},
    {LDG_EV_PERMISSION_DENIED, T_PERM_DENIED},
    {LDG_EV_PERMISSION_REVOKED, T_PERM_REVOKED},
    {LDG_EV_ROUTE_DECLARED, T_ROUTE_DECLARED},
    {LDG_EV_ROUTE_DECISION, T_ROUTE_DECISION},
    {LDG_EV_EVAL_STARTED, T_EVAL_STARTED},
    {LDG_EV_EVAL_RESULT, T_EVAL_RESULT},
    {LDG_EV_PROMOTION_REQUESTED, T_PROMO_REQUESTED},
    {LDG_EV_PROMOTION_PROMOTED, T_PROMO_PROMOTED},
    {LDG_EV_PROMOTION_REJECTED, T_PROMO_REJECTED},
    {LDG_EV_PROMOTION_ROLLED_BACK, T_PROMO_ROLLED_BACK},
    {LDG_EV_RUN_STARTED, T_RUN_STARTED},
    {LDG_EV_RUN_STEP, T_RUN_STEP},
    {LDG_EV_RUN_POLICY, T_RUN_POLICY},
    {LDG_EV_RUN_FINISHED, T_RUN_FINISHED},
    {LDG_EV_BODY_ERASED, T_BODY_ERASED},
    {LDG_EV_PLAN_STATE, T_PLAN_STATE},
    {LDG_EV_PLAN_STEP, T_PLAN_STEP},
    {LDG_EV_DEBATE_VOTE, T_DEBATE_VOTE},
    {LDG_EV_DEBATE_DECIDED, T_DEBATE_DECIDED},
    {LDG_EV_SNAPSHOT_TAKEN, T_SNAPSHOT_TAKEN},
    {LDG_EV_SNAPSHOT_RESTORED, T_SNAPSHOT_RESTORED},
    {LDG_EV_TRIPCODE_USED, T_TRIPCODE_USED},
    {LDG_EV_TRIPCODE_REFUSED, T_TRIPCODE_REFUSED},
    {LDG_EV_MEMORY_CANDIDATE, T_MEMORY_CANDIDATE},
    {LDG_EV_MEMORY_GATE, T_MEMORY_GATE},
    {LDG_EV_MEMORY_ADMITTED, T_MEMORY_ADMITTED},
    {LDG_EV_MEMORY_REVOKED, T_MEMORY_REVOKED},
    {LDG_EV_MEMORY_PURGED, T_MEMORY_PURGED},
    {LDG_EV_BUILD_BUILT, T_BUILD_BUILT},
    {LDG_EV_BUILD_PROMOTED, T_BUILD_PROMOTED},
    {LDG_EV_BUILD_REVERTED, T_BUILD_REVERTED},
    {LDG_EV_HEALTH_PROBE, T_HEALTH_PROBE},
};

enum ev_type
ev_type_of(const char *type, size_t len)
{
    /* The hot types first: most of a large log is decisions and runs. */
    if (len == 14 && memcmp(type, LDG_EV_ROUTE_DECISION, 14) == 0)
        return T_ROUTE_DECISION;
    for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++) {
        const char *n = type_names[i].name;
        if (n[0] == type[0] && strlen(n) == len && memcmp(n, type, len) == 0)
            return type_names[i].t;
    }
    return T_OTHER;
}

int
ev_type_feeds(enum ev_type t)
{
    return t != T_OTHER && t != T_EVAL_STARTED && t != T_BODY_ERASED;
}

/* ------------------------------------------------------------- scan -- */

struct scan_ctx {
    int (*fn)(void *ctx, const struct penv *e, const struct ldg_body_view *b);
    void *ctx;
    struct penv e; /* of the event want_body saw last */
};

static void
penv_from_event(struct penv *e, const struct ldg_event *ev)
{
    e->seq = ev->seq;
    e->ts = ev->ts_ns;
    e->type = ev_type_of(ev->type, strlen(ev->type));
    e->subject.p = ev->subject;
    e->subject.n = strlen(ev->subject);
    e->run.p = ev->run;
    e->run.n = strlen(ev->run);
}

/* Bodies of types that feed no projection are never read; body.erased's
 * is (it names its target). */
static int
want_body(void *ctx, const struct ldg_event *ev)
{
    struct scan_ctx *c = ctx;
    penv_from_event(&c->e, ev);
    return ev_type_feeds(c->e.type) || c->e.type == T_BODY_ERASED;
}

static int
scan_cb(void *ctx, const struct ldg_event *ev, const struct ldg_body_view *b)
{
    struct scan_ctx *c = ctx;
    if (c->e.seq != ev->seq)
        penv_from_event(&c->e, ev); /* erased: want_body was not asked */
    return c->fn(c->ctx, &c->e, b);
}

int
scan_events(struct ldg_txn *t, uint64_t from, uint64_t to,
            int (*fn)(void *ctx, const struct penv *e,
                      const struct ldg_body_view *b),
            void *ctx, ldg_projections_progress_fn progress, void *pctx,
            struct ldg_scan_stats *st)
{
    struct scan_ctx c;
    struct ldg_scan_fns fns;

    memset(&c, 0, sizeof c);
    c.fn = fn;
    c.ctx = ctx;
    c.e.seq = UINT64_MAX;
    memset(&fns, 0, sizeof fns);
    fns.want_body = want_body;
    fns.event = scan_cb;
    fns.ctx = &c;
    fns.progress = progress;
    fns.progress_ctx = pctx;
    return ldg_log_scan(t, from, to, &fns, st);
}

/* ------------------------------------------------------------- time -- */

/* RFC 3339 (util's parser; a space for the 'T' and a fraction past
 * nanoseconds are let pass). 0 if malformed or before 1970; a time past
 * 2^64 - 1 ns (an expiry in 2999) is UINT64_MAX: far ahead. */
static uint64_t
parse_rfc3339(const char *s, size_t n)
{
    uint64_t ns = 0;
    if (ldg_time_parse_rfc3339(s, n, LDG_TIME_SPACE | LDG_TIME_LONGFRAC, &ns) ==
        -1)
        return 0;
    return ns;
}

uint64_t
parse_time_ns(const struct ldg_body_view *b, const char *name)
{
    struct ldg_slice s;
    int64_t i;
    if (ldg_body_view_str(b, name, &s))
        return parse_rfc3339(s.p, s.n);
    if (ldg_body_view_int(b, name, &i)) {
        if (i <= 0)
            return 0;
        if (i < 100000000000LL) /* < 1e11: seconds */
            return (uint64_t)i * 1000000000u;
        if (i < 100000000000000LL) /* < 1e14: milliseconds */
            return (uint64_t)i * 1000000u;
        if (i < 100000000000000000LL) /* < 1e17: microseconds */
            return (uint64_t)i * 1000u;
        return (uint64_t)i;
    }
    return 0;
}
