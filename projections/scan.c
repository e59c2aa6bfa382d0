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

int
sv_eq(struct ldg_slice a, const char *s)
{
    size_t n = strlen(s);
    return a.n == n && memcmp(a.p, s, n) == 0;
}

/* ------------------------------------------------------------- types -- */

/* Each type's name and length, in enum order (from ledger/events.h). */
static const struct {
    const char *name;
    size_t len;
} type_names[] = {
#define NAME(id, name) {name, sizeof name - 1},
    LDG_EVENT_TYPES(NAME)
#undef NAME
};

enum ev_type
ev_type_of(const char *type, size_t len)
{
    /* The hot types first: most of a large log is decisions and runs. */
    if (len == 14 && memcmp(type, LDG_EV_ROUTE_DECISION, 14) == 0)
        return T_ROUTE_DECISION;
    for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++) {
        const char *n = type_names[i].name;
        if (type_names[i].len == len && n[0] == type[0] &&
            memcmp(n, type, len) == 0)
            return (enum ev_type)(i + 1);
    }
    return T_OTHER;
}

/* The types no projection reads the body of (fold_event, whose switch the
 * compiler checks, says what each type feeds); any other is read. */
int
ev_type_feeds(enum ev_type t)
{
    switch (t) {
    case T_OTHER:
    case T_LEDGER_GENESIS:
    case T_LEDGER_PRUNED:
    case T_KEY_ADDED:
    case T_KEY_REVOKED:
    case T_KEY_ANCHORED:
    case T_BODY_ERASED:
    case T_EVAL_STARTED:
    case T_PROXY_REQUEST:
    case T_OTEL_LOG:
        return 0;
    default:
        return 1;
    }
}

/* The projections an event of type t can change (fold_event's switch and
 * the folds it calls; P_ALL where not narrowed down). Not counted: the
 * runs projection's link of any event with a run (fold_run_link), so a
 * fold with P_RUNS passes over nothing. */
unsigned
ev_type_writes(enum ev_type t)
{
    switch (t) {
    case T_PACK_INSTALLED:
    case T_PACK_VALIDATED:
    case T_PACK_CHECKED:
    case T_PACK_ENABLED:
    case T_PACK_DISABLED:
    case T_PACK_REMOVED:
    case T_PACK_UPGRADED:
        return 1u << P_PACKS;
    case T_PERMISSION_REQUESTED:
    case T_PERMISSION_GRANTED:
    case T_PERMISSION_DENIED:
    case T_PERMISSION_REVOKED:
        return 1u << P_PERMISSIONS;
    case T_HOST_PROFILE:
    case T_CAPACITY_SNAPSHOT:
    case T_RUNTIME_REGISTERED:
    case T_RUNTIME_HEALTH:
    case T_MODEL_REGISTERED:
    case T_MODEL_VERIFIED:
    case T_MODEL_STATE:
        return 1u << P_MODELS;
    case T_ROUTE_DECLARED:
    case T_OTEL_SPAN: /* a call's spans (routes 3) */
        return 1u << P_ROUTES;
    case T_ROUTE_DECISION:
        return (1u << P_ROUTES) | (1u << P_MODELS) | (1u << P_BUILDS);
    case T_RUN_STARTED:
    case T_RUN_STEP:
    case T_RUN_POLICY:
        return 1u << P_RUNS;
    case T_RUN_FINISHED:
        return (1u << P_RUNS) | (1u << P_BUILDS);
    default:
        return P_ALL;
    }
}

/* ------------------------------------------------------------- scan -- */

struct scan_ctx {
    int (*fn)(void *ctx, const struct penv *e, const struct ldg_body_view *b);
    void *ctx;
    unsigned mask; /* the projections folded */
    int pass;      /* the event want_body saw last changes none of them */
    struct penv e; /* of the event want_body saw last */
};

void
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
 * is (it names its target). Nor are those of types that change none of
 * the projections folded: such an event is passed over. */
static int
want_body(void *ctx, const struct ldg_event *ev)
{
    struct scan_ctx *c = ctx;
    penv_from_event(&c->e, ev);
    c->pass = !(c->mask & (1u << P_RUNS)) && ev_type_feeds(c->e.type) &&
              !(ev_type_writes(c->e.type) & c->mask);
    return !c->pass && (ev_type_feeds(c->e.type) || c->e.type == T_BODY_ERASED);
}

static int
scan_cb(void *ctx, const struct ldg_event *ev, const struct ldg_body_view *b)
{
    struct scan_ctx *c = ctx;
    if (c->e.seq != ev->seq) {
        penv_from_event(&c->e, ev); /* erased: want_body was not asked */
        c->pass = 0;
    }
    return c->pass ? 0 : c->fn(c->ctx, &c->e, b);
}

/* The projections most of a log's events change (decisions and runs):
 * a fold of none of them reads only the events of the types it needs. */
#define BULK_INPUTS                                                            \
    ((1u << P_ROUTES) | (1u << P_MODELS) | (1u << P_RUNS) | (1u << P_BUILDS))

int
scan_events(struct ldg_txn *t, uint64_t from, uint64_t to, unsigned mask,
            int (*fn)(void *ctx, const struct penv *e,
                      const struct ldg_body_view *b),
            void *ctx, ldg_projections_progress_fn progress, void *pctx,
            struct ldg_scan_stats *st)
{
    struct scan_ctx c;
    struct ldg_scan_fns fns;
    const char *types[sizeof type_names / sizeof type_names[0] + 1];
    size_t n = 0;

    memset(&c, 0, sizeof c);
    c.fn = fn;
    c.ctx = ctx;
    c.mask = mask;
    c.e.seq = UINT64_MAX;
    memset(&fns, 0, sizeof fns);
    fns.want_body = want_body;
    fns.event = scan_cb;
    fns.ctx = &c;
    fns.progress = progress;
    fns.progress_ctx = pctx;
    /* not the types the whole scan passes over, nor those that feed
     * nothing (whose folds, without the runs projection, change nothing) */
    if (!(mask & BULK_INPUTS)) {
        for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++)
            if (ev_type_feeds((enum ev_type)(i + 1)) &&
                (ev_type_writes((enum ev_type)(i + 1)) & mask))
                types[n++] = type_names[i].name;
        LDG_ASSERT(n < sizeof types / sizeof types[0]);
        types[n] = NULL;
        fns.types = types;
    }
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
