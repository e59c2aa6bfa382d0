/*
 * scan.c — events as the folds see them.
 *
 * On the append path the core hands each applier the body as a jansson
 * object; on the rebuild path the core's scan (ldg_log_scan) hands out
 * each envelope and a view of its body read in place, and this file turns
 * them into the folds' envelope (with the event type as an enum) and asks
 * for bodies only of the types that feed a projection. The stored bytes
 * are the core's business alone (ledger.h, "fast scans").
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
    {"host.profile", T_HOST_PROFILE},
    {"runtime.registered", T_RUNTIME_REGISTERED},
    {"runtime.health", T_RUNTIME_HEALTH},
    {"capacity.snapshot", T_CAPACITY_SNAPSHOT},
    {"model.registered", T_MODEL_REGISTERED},
    {"model.verified", T_MODEL_VERIFIED},
    {"model.state", T_MODEL_STATE},
    {"pack.installed", T_PACK_INSTALLED},
    {"pack.validated", T_PACK_VALIDATED},
    {"pack.checked", T_PACK_CHECKED},
    {"pack.enabled", T_PACK_ENABLED},
    {"pack.disabled", T_PACK_DISABLED},
    {"pack.removed", T_PACK_REMOVED},
    {"pack.upgraded", T_PACK_UPGRADED},
    {"permission.requested", T_PERM_REQUESTED},
    {"permission.granted", T_PERM_GRANTED},
    {"permission.denied", T_PERM_DENIED},
    {"permission.revoked", T_PERM_REVOKED},
    {"route.declared", T_ROUTE_DECLARED},
    {"route.decision", T_ROUTE_DECISION},
    {"eval.started", T_EVAL_STARTED},
    {"eval.result", T_EVAL_RESULT},
    {"promotion.requested", T_PROMO_REQUESTED},
    {"promotion.promoted", T_PROMO_PROMOTED},
    {"promotion.rejected", T_PROMO_REJECTED},
    {"promotion.rolled_back", T_PROMO_ROLLED_BACK},
    {"run.started", T_RUN_STARTED},
    {"run.step", T_RUN_STEP},
    {"run.policy", T_RUN_POLICY},
    {"run.finished", T_RUN_FINISHED},
    {"body.erased", T_BODY_ERASED},
    {"plan.state", T_PLAN_STATE},
    {"plan.step", T_PLAN_STEP},
    {"debate.vote", T_DEBATE_VOTE},
    {"debate.decided", T_DEBATE_DECIDED},
    {"snapshot.taken", T_SNAPSHOT_TAKEN},
    {"snapshot.restored", T_SNAPSHOT_RESTORED},
    {"tripcode.used", T_TRIPCODE_USED},
    {"tripcode.refused", T_TRIPCODE_REFUSED},
    {"memory.candidate", T_MEMORY_CANDIDATE},
    {"memory.gate", T_MEMORY_GATE},
    {"memory.admitted", T_MEMORY_ADMITTED},
    {"memory.revoked", T_MEMORY_REVOKED},
    {"memory.purged", T_MEMORY_PURGED},
    {"build.built", T_BUILD_BUILT},
    {"build.promoted", T_BUILD_PROMOTED},
    {"build.reverted", T_BUILD_REVERTED},
    {"health.probe", T_HEALTH_PROBE},
};

enum ev_type
ev_type_of(const char *type, size_t len)
{
    /* The hot types first: most of a large log is decisions and runs. */
    if (len == 14 && memcmp(type, "route.decision", 14) == 0)
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
