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
/* events read by seq between dropped mappings: each may be on pages of
 * its own (at 1M events, 2,048 of them kept 107 MB resident, 256 20 MB,
 * at no measurable cost) */
#define LISTED_RELEASE_EVERY 256

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
    case T_BODY_ERASED:
    case T_EVAL_STARTED:
    case T_PROXY_REQUEST:
    case T_OTEL_SPAN:
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

struct seqs {
    uint64_t *v;
    size_t n, cap;
};

static int
push_seq(void *ctx, uint64_t seq)
{
    struct seqs *s = ctx;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        uint64_t *v = realloc(s->v, cap * sizeof *v);
        if (v == NULL)
            return LDG_ENOMEM;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = seq;
    return 0;
}

static int
cmp_seq(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* scan_events for a mask without BULK_INPUTS: the seqs of the types that
 * change a projection of mask, from the type index, then each event and
 * its body (erased, read in place, or decoded) in seq order. The events
 * it leaves out are the ones the whole scan passes over, and those that
 * feed nothing (whose folds, without the runs projection, change
 * nothing). */
static int
scan_listed(struct ldg_txn *t, uint64_t from, uint64_t to, unsigned mask,
            int (*fn)(void *ctx, const struct penv *e,
                      const struct ldg_body_view *b),
            void *ctx, struct ldg_scan_stats *st)
{
    struct seqs s = {NULL, 0, 0};
    struct ldg_reader *r = NULL;
    struct ldg_body_view *b = NULL;
    const struct ldg_dicts *d = ldg_txn_dicts(t);
    size_t i;
    int rc = 0;

    if (d == NULL)
        return LDG_ECORRUPT;
    for (i = 0; rc == 0 && i < sizeof type_names / sizeof type_names[0]; i++) {
        enum ev_type ty = (enum ev_type)(i + 1);
        if (ev_type_feeds(ty) && (ev_type_writes(ty) & mask))
            rc = ldg_index_walk(t, LDG_INDEX_TYPE, type_names[i].name, from,
                                to - 1, 0, push_seq, &s);
    }
    if (rc < 0)
        goto out;
    if (s.n > 1)
        qsort(s.v, s.n, sizeof *s.v, cmp_seq);
    if ((rc = ldg_reader_new(&r, t)) < 0 || (rc = ldg_body_view_new(&b)) < 0)
        goto out;
    ldg_reader_want_leaf(r, 0);
    ldg_body_view_set_dicts(b, d, ldg_body_max(ldg_txn_ledger(t)));
    for (i = 0; i < s.n; i++) {
        struct ldg_event ev;
        struct penv e;
        const uint8_t *rec;
        json_t *body = NULL;
        size_t len;

        /* the resident size of a walk over the whole log stays small */
        if (i > 0 && i % LISTED_RELEASE_EVERY == 0)
            ldg_access_hint(ldg_txn_ledger(t), LDG_ACCESS_RELEASE);
        if ((rc = ldg_reader_event(r, s.v[i], &ev)) < 0)
            goto unreadable;
        penv_from_event(&e, &ev);
        rc = ldg_reader_body(r, s.v[i], &rec, &len);
        if (rc == LDG_EERASED) {
            ldg_body_view_set_json(b, NULL);
            st->erased++;
        } else if (rc < 0) {
            goto unreadable;
        } else if (ldg_body_view_set_record(b, rec, len) == 0) {
            st->fast_bodies++;
        } else {
            if ((rc = ldg_body_get(t, s.v[i], &body)) < 0)
                goto unreadable;
            ldg_body_view_set_json(b, body);
            st->slow_bodies++;
        }
        rc = fn(ctx, &e, b);
        json_decref(body);
        if (rc != 0)
            break;
        st->events++;
    }
    if (rc > 0) /* > 0: stop here, not an error */
        rc = 0;
    goto out;
unreadable:
    ldg_set_errmsg(ldg_txn_ledger(t), "event %llu: %s (run " LDG_CMD_VERIFY ")",
                   (unsigned long long)s.v[i], ldg_strerror(rc));
out:
    ldg_body_view_free(b);
    ldg_reader_free(r);
    free(s.v);
    return rc;
}

int
scan_events(struct ldg_txn *t, uint64_t from, uint64_t to, unsigned mask,
            int (*fn)(void *ctx, const struct penv *e,
                      const struct ldg_body_view *b),
            void *ctx, ldg_projections_progress_fn progress, void *pctx,
            struct ldg_scan_stats *st)
{
    struct scan_ctx c;
    struct ldg_scan_fns fns;
    int rc;

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
    if (!(mask & BULK_INPUTS) && from < to) {
        struct ldg_scan_stats dummy;
        if (st == NULL)
            st = &dummy;
        memset(st, 0, sizeof *st);
        rc = scan_listed(t, from, to, mask, fn, ctx, st);
        if (rc == 0 && progress != NULL)
            progress(pctx, to - from, to - from);
        return rc;
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
