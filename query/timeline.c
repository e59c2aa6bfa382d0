/*
 * timeline.c — the flight-recorder view of one pack run.
 *
 * Everything comes from the indexes but the permissions in force:
 *
 *   the run's events       idx.run "R" (envelope run link), in seq order
 *   permissions at start   the projections' permissions view of pack P as
 *                          of the event before the start (their rule,
 *                          expiry included: the one `ledger permissions
 *                          --at` and the doctor use, called, not copied)
 *   pack at start          idx.subject "pack:P" before the start: the
 *                          pack's version and manifest routes
 *   evals at start         the pack's routes (its manifest's
 *                          requires.routes and every route.declared with
 *                          pack P before the start, via idx.type), then
 *                          idx.type "eval.result" walked backwards from
 *                          the start: the latest result per route:R (and
 *                          pack:P) target, by subject
 *
 *   context                events that explain the run without being
 *                          part of it, between its start and its last
 *                          event, and the latest of each kind before the
 *                          start: permission.* and pack.* of its pack
 *                          (idx.subject "pack:P"), model.* of the models
 *                          its routes use and its decisions chose
 *                          (idx.subject "model:M"), eval.result and
 *                          promotion.* of its routes (idx.subject
 *                          "route:R", decisions of other runs left out),
 *                          runtime.health (idx.type). Marked "context"
 *                          and merged into the events in seq order.
 *
 * The start is run.started (else the run's first event); relative times
 * are from its ts. The structure is documented in docs/QUERY.md.
 */
#include <stdlib.h>
#include <string.h>

#include "projections/projections.h"
#include "query/query_int.h"
#include "ledger/module.h"
#include "util/util.h"

#define TL_EVENTS_MAX 100000 /* events listed; the rest are counted */
#define TL_ROUTES_MAX 256
#define TL_MODELS_MAX 256
#define TL_CONTEXT_MAX 2000 /* context events listed */

static json_t *
time_str(uint64_t ts_ns)
{
    char b[LDG_TIME_NS_LEN];
    return json_string(ldg_time_rfc3339_ns(b, sizeof b, ts_ns));
}

/* The times of an event entry: "ts"/"time" when it happened (the
 * source's claim when it carries one, else the ledger's time),
 * "recorded_ts"/"recorded_time" the ledger's commit time (the order of the
 * log), "clock" which of the two "time" is; then its "id" and "source"
 * (format version 2) when it has them. */
struct tl {
    struct ldg_txn *t;
    const char *run;
    json_t *root, *events;
    uint64_t start_seq, start_ts, start_time; /* start_time: ldg_event_time */
    int have_start, have_first;
    int started_pruned; /* its run.started is before the horizon */
    uint64_t first_seq, first_ts, last_ts;
    uint64_t nevents;
    char pack[Q_VALUE_MAX + 1];
    /* counts */
    uint64_t steps, steps_failed, routes, fallbacks, policies, denials;
    uint64_t spans, joined, disagree; /* trace_tree */
    uint64_t joined_fallbacks;
    /* permissions / routes at start */
    json_t *routes_set;      /* object route -> true */
    json_t *version;         /* latest pack.installed/upgraded body */
    json_t *evals;           /* object target -> entry */
    json_t *models_set;      /* object model -> true: its routes' models */
    json_t *context;         /* object "seq" -> context entry */
    uint64_t last_seq;       /* the run's last event */
    uint64_t ctx_lo, ctx_hi; /* the window context is collected in */
    const char *ctx_want;    /* type prefix the current walk keeps */
    int ctx_latest;          /* walking backwards: keep one, then stop */
    size_t targets_left;
    int err;
    struct q_modelcache *mc; /* "model_at" of decisions, evals, promotions */
    /* the source's clock (format version 2 "time"): when every event of
     * the run carries one, steps are ordered and timed by it */
    int src_missing;
    int have_src_base;
    uint64_t src_base; /* source time of the start (else first) event */
};

/* Adds "model_at" to entry e of an event about a model (a route decision,
 * an eval, a promotion): the digest the model had at seq and whether its
 * weights were hashed. */
static void
add_model_at(struct tl *tl, json_t *e, const char *type, const json_t *body,
             uint64_t seq)
{
    const char *model = ldg_query_model_of(type, body);
    struct ldg_model_at m;

    if (model == NULL || e == NULL)
        return;
    if (q_modelcache_lookup(&tl->mc, tl->t, model, seq, &m) < 0) {
        tl->err = LDG_ENOMEM;
        return;
    }
    json_object_set_new(e, "model_at", ldg_query_model_at_json(model, &m));
}

static const char *
kind_of(const char *type)
{
    static const char *const kinds[][2] = {
        {LDG_EV_RUN_STARTED, "start"}, {LDG_EV_RUN_FINISHED, "end"},
        {LDG_EV_RUN_STEP, "step"},     {LDG_EV_ROUTE_DECISION, "route"},
        {LDG_EV_RUN_POLICY, "policy"}, {LDG_EV_OTEL_SPAN, "span"},
        {LDG_EV_OTEL_LOG, "log"},
    };
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(type, kinds[i][0]) == 0)
            return kinds[i][1];
    return "other";
}

static int
jstr_is(const json_t *o, const char *k, const char *want)
{
    const json_t *v = json_object_get(o, k);
    return json_is_string(v) && strcmp(json_string_value(v), want) == 0;
}

/* Adds a JSON string to a set (an object used as one), up to max. */
static void
add_name(json_t *set, const json_t *name, size_t max)
{
    if (json_is_string(name) && json_string_length(name) > 0 &&
        json_object_size(set) < max)
        json_object_set_new(set, json_string_value(name), json_true());
}

/* First pass: every event of the run. */
static int
on_run_event(void *ctx, uint64_t seq)
{
    struct tl *tl = ctx;
    struct ldg_event ev;
    json_t *body = NULL, *e;
    const char *kind;
    int rc = ldg_event_get(tl->t, seq, &ev);

    if (rc < 0) {
        tl->err = rc == LDG_ENOTFOUND ? LDG_ECORRUPT : rc;
        return 1;
    }
    rc = ldg_body_get(tl->t, seq, &body);
    if (rc < 0 && rc != LDG_EERASED) {
        tl->err = rc;
        return 1;
    }
    if (!tl->have_first) {
        tl->have_first = 1;
        tl->first_seq = seq;
        tl->first_ts = ev.ts_ns;
    }
    tl->last_ts = ev.ts_ns;
    tl->last_seq = seq;
    kind = kind_of(ev.type);
    if (!ev.has_time)
        tl->src_missing = 1;
    else if (!tl->have_src_base ||
             (strcmp(kind, "start") == 0 && !tl->have_start)) {
        tl->have_src_base = 1;
        tl->src_base = ev.time_ns;
    } else if (!tl->have_start && ev.time_ns < tl->src_base) {
        /* no start yet: the earliest (a trace's spans arrive as they
         * end, children before their parents) */
        tl->src_base = ev.time_ns;
    }
    if (strcmp(kind, "start") == 0 && !tl->have_start) {
        tl->have_start = 1;
        tl->start_seq = seq;
        tl->start_ts = ev.ts_ns;
        tl->start_time = ldg_event_time(&ev);
        if (body != NULL && json_is_string(json_object_get(body, "pack")))
            snprintf(tl->pack, sizeof tl->pack, "%s",
                     json_string_value(json_object_get(body, "pack")));
    }
    if (tl->pack[0] == '\0' && body != NULL &&
        json_is_string(json_object_get(body, "pack")))
        snprintf(tl->pack, sizeof tl->pack, "%s",
                 json_string_value(json_object_get(body, "pack")));
    if (strcmp(kind, "step") == 0) {
        tl->steps++;
        tl->steps_failed += jstr_is(body, "status", "failed");
    } else if (strcmp(kind, "route") == 0) {
        const json_t *cand = json_object_get(body, "candidates"), *m;
        size_t i;
        tl->routes++;
        tl->fallbacks += json_is_true(json_object_get(body, "fallback"));
        add_name(tl->routes_set, json_object_get(body, "route"), TL_ROUTES_MAX);
        add_name(tl->models_set, json_object_get(body, "chosen_model"),
                 TL_MODELS_MAX);
        json_array_foreach(cand, i, m)
            add_name(tl->models_set, m, TL_MODELS_MAX);
    } else if (strcmp(kind, "policy") == 0) {
        tl->policies++;
        tl->denials += jstr_is(body, "decision", "deny");
    } else if (strcmp(kind, "span") == 0) {
        tl->spans++;
    }
    tl->nevents++;
    if (tl->nevents > TL_EVENTS_MAX) {
        json_decref(body);
        return 0;
    }
    e = ldg_event_json(&ev, NULL, LDG_EVENT_JSON_BRIEF);
    if (e == NULL) {
        json_decref(body);
        tl->err = LDG_ENOMEM;
        return 1;
    }
    json_object_set_new(e, "kind", json_string(kind));
    if (strcmp(kind, "policy") == 0)
        json_object_set_new(e, "denied",
                            json_boolean(jstr_is(body, "decision", "deny")));
    add_model_at(tl, e, ev.type, body, seq);
    if (body != NULL)
        json_object_set_new(e, "body", body);
    else
        json_object_set_new(e, "erased", json_true());
    json_array_append_new(tl->events, e);
    return 0;
}

/* Second pass: pack events before the start. */
static int
on_pack_event(void *ctx, uint64_t seq)
{
    struct tl *tl = ctx;
    struct ldg_event ev;
    json_t *body = NULL;
    int rc = ldg_event_get(tl->t, seq, &ev);

    if (rc < 0) {
        tl->err = rc == LDG_ENOTFOUND ? LDG_ECORRUPT : rc;
        return 1;
    }
    if (strcmp(ev.type, LDG_EV_PACK_INSTALLED) != 0 &&
        strcmp(ev.type, LDG_EV_PACK_UPGRADED) != 0)
        return 0;
    rc = ldg_body_get(tl->t, seq, &body);
    if (rc == LDG_EERASED)
        return 0;
    if (rc < 0) {
        tl->err = rc;
        return 1;
    }
    {
        json_t *routes =
                   json_object_get(json_object_get(body, "requires"), "routes"),
               *r;
        size_t i;
        json_decref(tl->version);
        tl->version = json_pack(
            "{s:s, s:O?, s:o}", "type", ev.type, "version",
            json_object_get(body, ev.type[5] == 'u' ? "to" : "version"), "seq",
            ldg_json_u64(seq));
        json_array_foreach(routes, i, r)
        {
            if (json_is_string(r) &&
                json_object_size(tl->routes_set) < TL_ROUTES_MAX)
                json_object_set_new(tl->routes_set, json_string_value(r),
                                    json_true());
        }
    }
    json_decref(body);
    return 0;
}

/* route.declared events of the pack before the start. */
static int
on_route_declared(void *ctx, uint64_t seq)
{
    struct tl *tl = ctx;
    json_t *body = NULL;
    int rc = ldg_body_get(tl->t, seq, &body);
    if (rc == LDG_EERASED)
        return 0;
    if (rc < 0) {
        tl->err = rc;
        return 1;
    }
    if (jstr_is(body, "pack", tl->pack) &&
        json_is_string(json_object_get(body, "route")) &&
        json_object_size(tl->routes_set) < TL_ROUTES_MAX)
        json_object_set_new(tl->routes_set,
                            json_string_value(json_object_get(body, "route")),
                            json_true());
    if (json_is_string(json_object_get(body, "route")) &&
        json_object_get(tl->routes_set,
                        json_string_value(json_object_get(body, "route")))) {
        const json_t *fb = json_object_get(body, "fallbacks"), *m;
        size_t i;
        add_name(tl->models_set, json_object_get(body, "model"), TL_MODELS_MAX);
        json_array_foreach(fb, i, m) add_name(tl->models_set, m, TL_MODELS_MAX);
    }
    json_decref(body);
    return 0;
}

/* eval.result events walked backwards from the start. */
static int
on_eval(void *ctx, uint64_t seq)
{
    struct tl *tl = ctx;
    struct ldg_event ev;
    json_t *slot, *body = NULL, *e;
    int rc = ldg_event_get(tl->t, seq, &ev);

    if (rc < 0) {
        tl->err = rc == LDG_ENOTFOUND ? LDG_ECORRUPT : rc;
        return 1;
    }
    slot = json_object_get(tl->evals, ev.subject);
    if (slot == NULL || !json_is_null(slot))
        return 0; /* not a target of ours, or already have its latest */
    rc = ldg_body_get(tl->t, seq, &body);
    if (rc < 0 && rc != LDG_EERASED) {
        tl->err = rc;
        return 1;
    }
    e = json_pack("{s:s, s:o, s:o, s:o}", "target", ev.subject, "seq",
                  ldg_json_u64(seq), "time", time_str(ldg_event_time(&ev)),
                  "recorded_time", time_str(ev.ts_ns));
    if (e != NULL && body != NULL) {
        static const char *const keep[] = {
            "eval_id",      "suite",       "candidate", "passed",
            "cases_passed", "cases_total", "metrics"};
        for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
            json_t *x = json_object_get(body, keep[i]);
            if (x != NULL)
                json_object_set(e, keep[i], x);
        }
        add_model_at(tl, e, ev.type, body, seq);
    } else if (e != NULL) {
        json_object_set_new(e, "erased", json_true());
    }
    json_decref(body);
    if (e == NULL) {
        tl->err = LDG_ENOMEM;
        return 1;
    }
    json_object_set_new(tl->evals, ev.subject, e);
    return --tl->targets_left == 0;
}

/* The permissions of the pack in force after the first `before` events:
 * the projections' answer (projections/projections.h), rows as `ledger
 * permissions -o json` gives them. A pack the projections never saw has
 * none. */
static int
permissions_at(struct tl *tl, uint64_t before)
{
    struct ldg_ledger *l = ldg_txn_ledger(tl->t);
    struct ldg_view_opts vo;
    json_t *rows = NULL;
    int rc;

    memset(&vo, 0, sizeof vo);
    vo.at_size = before;
    vo.filter = tl->pack;
    rc = ldg_projections_view(l, LDG_VIEW_PERMISSIONS, &vo, &rows);
    if (rc == LDG_ENOTFOUND) { /* not a pack yet at that size */
        ldg_set_errmsg(l, "%s", "");
        rows = json_array();
        rc = rows == NULL ? LDG_ENOMEM : 0;
    }
    if (rc < 0) {
        ldg_set_errmsg(l, "permissions in force at the start of run %s: %s",
                       tl->run,
                       ldg_errmsg(l)[0] ? ldg_errmsg(l) : ldg_strerror(rc));
        return rc;
    }
    json_object_set_new(tl->root, "permissions", rows);
    return 0;
}

static int
context_at_start(struct tl *tl, uint64_t before)
{
    char subj[Q_VALUE_MAX + 8];
    const char *k;
    json_t *v, *arr;
    int rc;

    if (tl->pack[0] == '\0' || before == 0)
        return 0;
    snprintf(subj, sizeof subj, "pack:%s", tl->pack);
    rc = ldg_index_walk(tl->t, LDG_INDEX_SUBJECT, subj, 0, before - 1, 0,
                        on_pack_event, tl);
    if (rc == 0 && tl->err == 0)
        rc = ldg_index_walk(tl->t, LDG_INDEX_TYPE, LDG_EV_ROUTE_DECLARED, 0,
                            before - 1, 0, on_route_declared, tl);
    if (rc < 0 || tl->err)
        return rc < 0 ? rc : tl->err;
    /* targets: route:R for each route, and the pack itself */
    json_object_foreach(tl->routes_set, k, v)
    {
        char target[Q_VALUE_MAX + 8];
        snprintf(target, sizeof target, "route:%s", k);
        json_object_set_new(tl->evals, target, json_null());
    }
    json_object_set_new(tl->evals, subj, json_null());
    tl->targets_left = json_object_size(tl->evals);
    rc = ldg_index_walk(tl->t, LDG_INDEX_TYPE, LDG_EV_EVAL_RESULT, 0,
                        before - 1, 1, on_eval, tl);
    if (rc < 0 || tl->err)
        return rc < 0 ? rc : tl->err;

    if ((rc = permissions_at(tl, before)) < 0)
        return rc;
    arr = json_array();
    json_object_foreach(tl->evals, k, v)
    {
        if (!json_is_null(v))
            json_array_append(arr, v);
        else if (strncmp(k, "route:", 6) == 0)
            json_array_append_new(
                arr, json_pack("{s:s, s:b}", "target", k, "none", 1));
    }
    json_object_set_new(tl->root, "evals", arr);
    arr = json_array();
    json_object_foreach(tl->routes_set, k, v)
        json_array_append_new(arr, json_string(k));
    json_object_set_new(tl->root, "routes", arr);
    if (tl->version != NULL)
        json_object_set(tl->root, "pack_version", tl->version);
    return 0;
}

/* One context event: kept when its type starts with tl->ctx_want and it
 * is not an event of this run or a decision of another run. */
static int
on_context(void *ctx, uint64_t seq)
{
    struct tl *tl = ctx;
    struct ldg_event ev;
    json_t *body = NULL, *e;
    char key[24];
    int rc = ldg_event_get(tl->t, seq, &ev);

    if (rc < 0) {
        tl->err = rc == LDG_ENOTFOUND ? LDG_ECORRUPT : rc;
        return 1;
    }
    if (strncmp(ev.type, tl->ctx_want, strlen(tl->ctx_want)) != 0 ||
        strcmp(ev.type, LDG_EV_ROUTE_DECISION) == 0 ||
        strcmp(ev.run, tl->run) == 0)
        return 0;
    snprintf(key, sizeof key, "%llu", (unsigned long long)seq);
    if (json_object_get(tl->context, key) != NULL)
        return tl->ctx_latest;
    if (json_object_size(tl->context) >= TL_CONTEXT_MAX)
        return 1;
    rc = ldg_body_get(tl->t, seq, &body);
    if (rc < 0 && rc != LDG_EERASED) {
        tl->err = rc;
        return 1;
    }
    e = ldg_event_json(&ev, NULL, LDG_EVENT_JSON_BRIEF);
    if (e != NULL) {
        json_object_set_new(e, "kind", json_string("context"));
        json_object_set_new(e, "before_start", json_boolean(tl->ctx_latest));
    }
    if (e == NULL) {
        json_decref(body);
        tl->err = LDG_ENOMEM;
        return 1;
    }
    add_model_at(tl, e, ev.type, body, seq);
    if (body != NULL)
        json_object_set_new(e, "body", body);
    else
        json_object_set_new(e, "erased", json_true());
    json_object_set_new(tl->context, key, e);
    return tl->ctx_latest; /* backwards: the latest is enough */
}

/* Walks one index value for context: the window [ctx_lo, ctx_hi], then
 * backwards from the start for the latest event of the kind before it. */
static int
context_walk(struct tl *tl, enum ldg_index db, const char *value,
             const char *want)
{
    int rc;
    tl->ctx_want = want;
    tl->ctx_latest = 0;
    rc = ldg_index_walk(tl->t, db, value, tl->ctx_lo, tl->ctx_hi, 0, on_context,
                        tl);
    if (rc == 0 && tl->err == 0 && tl->ctx_lo > 0) {
        tl->ctx_latest = 1;
        rc = ldg_index_walk(tl->t, db, value, 0, tl->ctx_lo - 1, 1, on_context,
                            tl);
        tl->ctx_latest = 0;
    }
    return rc < 0 ? rc : tl->err;
}

static int
seq_cmp(const void *a, const void *b)
{
    uint64_t x = strtoull(
                 json_string_value(json_object_get(*(json_t *const *)a, "seq")),
                 NULL, 10),
             y = strtoull(
                 json_string_value(json_object_get(*(json_t *const *)b, "seq")),
                 NULL, 10);
    return x < y ? -1 : x > y;
}

static int
rel_cmp(const void *a, const void *b)
{
    json_int_t x = json_integer_value(
                   json_object_get(*(json_t *const *)a, "rel_us")),
               y = json_integer_value(
                   json_object_get(*(json_t *const *)b, "rel_us"));
    return x < y ? -1 : x > y ? 1 : seq_cmp(a, b);
}

/*
 * Where a context event goes, in microseconds from the start, on the clock
 * the run is laid out on (issue 29: a revocation 10 s into a run was shown
 * at +0.000s, before the denial it caused, because the run was laid out on
 * the source's clock and the context on the ledger's):
 *   - the ledger's clock: its ledger time;
 *   - the source's clock (every event of the run claims a time), and it
 *     claims one too: that, from the start's claimed time, as the run's
 *     own events;
 *   - the source's clock, and it claims none: just after the run event
 *     that precedes it in the log (the log's order is all there is to go
 *     by), or at its ledger time when it comes before all of them.
 */
struct seqrel {
    uint64_t seq;
    json_int_t rel;
};

static int
seqrel_cmp(const void *a, const void *b)
{
    const struct seqrel *x = a, *y = b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static json_int_t
context_rel(const struct tl *tl, const json_t *v, uint64_t base,
            const struct seqrel *runs, size_t nruns)
{
    uint64_t ts = strtoull(json_string_value(json_object_get(v, "recorded_ts")),
                           NULL, 10),
             seq = strtoull(json_string_value(json_object_get(v, "seq")), NULL,
                            10);

    if (runs != NULL) { /* the run is on the source's clock */
        size_t lo = 0, hi = nruns;
        if (jstr_is(v, "clock", "source")) {
            uint64_t s =
                strtoull(json_string_value(json_object_get(v, "ts")), NULL, 10);
            return s >= tl->src_base ? (json_int_t)((s - tl->src_base) / 1000)
                                     : -(json_int_t)((tl->src_base - s) / 1000);
        }
        while (lo < hi) { /* the first run event after seq */
            size_t mid = lo + (hi - lo) / 2;
            LDG_ASSERT(lo <= mid && mid < hi);
            if (runs[mid].seq < seq)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo > 0)
            return runs[lo - 1].rel;
    }
    return ts >= base ? (json_int_t)((ts - base) / 1000)
                      : -(json_int_t)((base - ts) / 1000);
}

/*
 * The events that explain the run (see the head of this file), merged
 * into tl->events in seq order, with their time relative to the start.
 * Permissions and evals before the start are already "in force at the
 * start", so for them only the window is walked.
 */
static int
context_events(struct tl *tl)
{
    char subj[Q_VALUE_MAX + 8];
    const char *k;
    json_t *v, **all = NULL, *merged;
    struct seqrel *runs;
    size_t n = 0, i, nruns;
    uint64_t base = tl->have_start ? tl->start_ts : tl->first_ts;
    int rc = 0;

    tl->ctx_lo = tl->have_start ? tl->start_seq : tl->first_seq;
    tl->ctx_hi = tl->last_seq;
    if (tl->pack[0] != '\0') {
        snprintf(subj, sizeof subj, "pack:%s", tl->pack);
        tl->ctx_want = "permission.";
        rc = ldg_index_walk(tl->t, LDG_INDEX_SUBJECT, subj, tl->ctx_lo,
                            tl->ctx_hi, 0, on_context, tl);
        tl->ctx_want = "pack.";
        if (rc == 0 && tl->err == 0)
            rc = ldg_index_walk(tl->t, LDG_INDEX_SUBJECT, subj, tl->ctx_lo,
                                tl->ctx_hi, 0, on_context, tl);
        if (rc < 0 || tl->err)
            return rc < 0 ? rc : tl->err;
    }
    json_object_foreach(tl->models_set, k, v)
    {
        snprintf(subj, sizeof subj, "model:%.*s", Q_VALUE_MAX, k);
        if ((rc = context_walk(tl, LDG_INDEX_SUBJECT, subj,
                               LDG_EV_MODEL_STATE)) < 0 ||
            (rc = context_walk(tl, LDG_INDEX_SUBJECT, subj,
                               LDG_EV_MODEL_VERIFIED)) < 0)
            return rc;
    }
    json_object_foreach(tl->routes_set, k, v)
    {
        snprintf(subj, sizeof subj, "route:%.*s", Q_VALUE_MAX, k);
        tl->ctx_want = "";
        rc = ldg_index_walk(tl->t, LDG_INDEX_SUBJECT, subj, tl->ctx_lo,
                            tl->ctx_hi, 0, on_context, tl);
        if (rc == 0 && tl->err == 0)
            rc = context_walk(tl, LDG_INDEX_SUBJECT, subj, "promotion.");
        if (rc < 0 || tl->err)
            return rc < 0 ? rc : tl->err;
    }
    if ((rc = context_walk(tl, LDG_INDEX_TYPE, LDG_EV_RUNTIME_HEALTH,
                           LDG_EV_RUNTIME_HEALTH)) < 0)
        return rc;
    /* merge: the run's events and the context, by seq */
    n = json_array_size(tl->events) + json_object_size(tl->context);
    all = malloc((n ? n : 1) * sizeof *all);
    merged = json_array();
    if (all == NULL || merged == NULL) {
        free(all);
        json_decref(merged);
        return LDG_ENOMEM;
    }
    n = 0;
    json_array_foreach(tl->events, i, v) all[n++] = v;
    runs = NULL;
    if (jstr_is(tl->root, "clock", "source") &&
        (runs = malloc((n ? n : 1) * sizeof *runs)) != NULL) {
        for (i = 0; i < n; i++) {
            runs[i].seq = strtoull(
                json_string_value(json_object_get(all[i], "seq")), NULL, 10);
            runs[i].rel = json_integer_value(json_object_get(all[i], "rel_us"));
        }
        qsort(runs, n, sizeof *runs, seqrel_cmp);
    }
    nruns = n;
    json_object_foreach(tl->context, k, v)
    {
        json_object_set_new(
            v, "rel_us", json_integer(context_rel(tl, v, base, runs, nruns)));
        all[n++] = v;
    }
    free(runs);
    /* by time from the start, then seq: seq order on the ledger's clock
     * (its time grows with seq), the run's own order on the source's */
    LDG_ASSERT(n == nruns + json_object_size(tl->context));
    qsort(all, n, sizeof *all, rel_cmp);
    for (i = 0; i < n; i++)
        json_array_append(merged, all[i]);
    free(all);
    json_decref(tl->events);
    tl->events = merged;
    json_object_set_new(
        json_object_get(tl->root, "counts"), "context",
        json_integer((json_int_t)json_object_size(tl->context)));
    return 0;
}

static uint64_t
order_of(const json_t *e)
{
    const json_t *o = json_object_get(e, "_order");
    if (!json_is_string(o))
        o = json_object_get(e, "recorded_ts");
    return strtoull(json_string_value(o), NULL, 10);
}

static int
order_cmp(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    uint64_t p = order_of(x), q = order_of(y);
    return p < q ? -1 : p > q ? 1 : seq_cmp(a, b);
}

/* When every event of the run carries the source's time, the run is laid
 * out on that clock: each run event is placed at base + (its source time
 * - the start's source time), context events stay at their ledger time,
 * and all are ordered by that (then seq). */
static void
source_order(struct tl *tl, uint64_t base)
{
    size_t i, n = json_array_size(tl->events);
    json_t *e, **all, *sorted;

    if (tl->src_missing || !tl->have_src_base || n == 0)
        return;
    all = malloc(n * sizeof *all);
    sorted = json_array();
    if (all == NULL || sorted == NULL) {
        free(all);
        json_decref(sorted);
        return;
    }
    json_array_foreach(tl->events, i, e)
    {
        const json_t *st = json_object_get(e, "ts");
        all[i] = e;
        if (jstr_is(e, "clock", "source") && json_is_string(st)) {
            uint64_t s = strtoull(json_string_value(st), NULL, 10);
            uint64_t at = s >= tl->src_base         ? base + (s - tl->src_base)
                          : base > tl->src_base - s ? base - (tl->src_base - s)
                                                    : 0;
            json_object_set_new(e, "_order", ldg_json_u64(at));
        }
    }
    qsort(all, n, sizeof *all, order_cmp);
    for (i = 0; i < n; i++)
        json_array_append(sorted, all[i]);
    free(all);
    json_decref(tl->events);
    tl->events = sorted;
    json_object_set_new(tl->root, "clock", json_string("source"));
}

/* ------------------------------------------------------------ traces -- */

/*
 * Spans (docs/OTLP.md) and the proxy's records (docs/PROXY.md) carry
 * trace_id, span_id and parent_span_id. Each span's entry gets "depth",
 * its distance from the nearest ancestor not in the run (the timeline
 * indents it so: the span tree). A proxy record names the span of its
 * caller (the traceparent it was sent with): the model call it witnessed
 * is that span or its nearest route.decision ancestor (an HTTP client's
 * span sits between an instrumented `openai` call and the proxy). The
 * two are one request seen twice: the proxy's entry gets "joined": {seq,
 * agree, differs: [{field, app, proxy}]} comparing the model that
 * answered, the tokens and the outcome, and the span's entry "witnesses":
 * [seq].
 */
#define TRACE_DEPTH_MAX 64

static json_t *
span_parent(json_t *spans, const json_t *body)
{
    char key[64];
    const char *tr = json_string_value(json_object_get(body, "trace_id"));
    const char *p = json_string_value(json_object_get(body, "parent_span_id"));
    if (tr == NULL || p == NULL)
        return NULL;
    snprintf(key, sizeof key, "%.32s:%.16s", tr, p);
    return json_object_get(spans, key);
}

/* What of the app's span and the proxy's record of one call differ. */
static json_t *
join_differs(const json_t *app, const json_t *px)
{
    static const char *const fields[] = {"chosen_model", "tokens_in",
                                         "tokens_out", "outcome"};
    json_t *d = json_array();
    for (size_t i = 0; d != NULL && i < sizeof fields / sizeof fields[0]; i++) {
        json_t *a = json_object_get(app, fields[i]);
        json_t *b = json_object_get(px, fields[i]);
        if (a == NULL || b == NULL || json_equal(a, b))
            continue;
        json_array_append_new(d, json_pack("{s:s,s:O,s:O}", "field", fields[i],
                                           "app", a, "proxy", b));
    }
    return d;
}

/* Notes (as "_up", until nest_order) the event e sits under in the tree:
 * a span's parent, a log record's span, the span a proxy record joined. */
static void
set_up(json_t *e, const json_t *up)
{
    if (up != NULL && json_is_string(json_object_get(up, "seq")))
        json_object_set(e, "_up", json_object_get(up, "seq"));
}

/* The place of e in the list: its time, but never before the event it
 * sits under (a log record emitted as its span began has that span's
 * millisecond, a child's clock may lag its parent's). */
static json_int_t
nest_at(json_t *bys, json_t *e, int hops)
{
    const json_t *up = json_object_get(e, "_up"),
                 *at = json_object_get(e, "_at");
    json_int_t t = json_integer_value(json_object_get(e, "rel_us")), p;
    if (json_is_integer(at))
        return json_integer_value(at);
    if (json_is_string(up) && hops < TRACE_DEPTH_MAX) {
        json_t *x = json_object_get(bys, json_string_value(up));
        if (x != NULL && x != e && (p = nest_at(bys, x, hops + 1)) > t)
            t = p;
    }
    json_object_set_new(e, "_at", json_integer(t));
    return t;
}

static int
nest_cmp(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    json_int_t p = json_integer_value(json_object_get(x, "_at"));
    json_int_t q = json_integer_value(json_object_get(y, "_at"));
    json_int_t dx = json_integer_value(json_object_get(x, "depth"));
    json_int_t dy = json_integer_value(json_object_get(y, "depth"));
    if (p != q)
        return p < q ? -1 : 1;
    if (dx != dy) /* at one instant, the outer first */
        return dx < dy ? -1 : 1;
    return seq_cmp(a, b);
}

/* Orders the events so that each comes after the one it sits under (the
 * text and the page then show a log record under its span), else as
 * they were (by time, then seq). */
static void
nest_order(struct tl *tl)
{
    size_t i, n = json_array_size(tl->events);
    json_t *bys = json_object(), *e, **all = n ? malloc(n * sizeof *all) : NULL;
    json_t *sorted = json_array();

    if (bys == NULL || sorted == NULL || (n > 0 && all == NULL))
        goto out;
    json_array_foreach(tl->events, i, e)
    {
        const char *seq = json_string_value(json_object_get(e, "seq"));
        if (seq != NULL && !jstr_is(e, "kind", "context"))
            json_object_set(bys, seq, e);
    }
    json_array_foreach(tl->events, i, e)
    {
        nest_at(bys, e, 0);
        all[i] = e;
    }
    qsort(all, n, sizeof *all, nest_cmp);
    for (i = 0; i < n; i++) {
        json_object_del(all[i], "_at");
        json_object_del(all[i], "_up");
        json_array_append(sorted, all[i]);
    }
    json_decref(tl->events);
    tl->events = sorted;
    sorted = NULL;
out:
    free(all);
    json_decref(bys);
    json_decref(sorted);
}

static void
trace_tree(struct tl *tl)
{
    json_t *spans = json_object(), *e;
    char key[64];
    size_t i;

    if (spans == NULL)
        return;
    /* the run's spans, by trace and span id */
    json_array_foreach(tl->events, i, e)
    {
        json_t *b = json_object_get(e, "body");
        const char *tr = json_string_value(json_object_get(b, "trace_id"));
        const char *sp = json_string_value(json_object_get(b, "span_id"));
        /* (a log record names the span it was emitted in: not a span) */
        if (tr == NULL || sp == NULL ||
            json_object_get(b, "upstream") != NULL ||
            jstr_is(e, "type", LDG_EV_OTEL_LOG))
            continue;
        snprintf(key, sizeof key, "%.32s:%.16s", tr, sp);
        json_object_set(spans, key, e);
    }
    json_array_foreach(tl->events, i, e)
    {
        json_t *b = json_object_get(e, "body");
        json_t *up;
        json_int_t depth = 0;
        if (!json_is_string(json_object_get(b, "trace_id")))
            continue;
        if (jstr_is(e, "type", LDG_EV_OTEL_LOG)) {
            /* a record under the span it was emitted in */
            const char *sp = json_string_value(json_object_get(b, "span_id"));
            snprintf(key, sizeof key, "%.32s:%.16s",
                     json_string_value(json_object_get(b, "trace_id")),
                     sp ? sp : "");
            set_up(e, sp ? json_object_get(spans, key) : NULL);
            for (up = sp ? json_object_get(spans, key) : NULL;
                 up != NULL && depth < TRACE_DEPTH_MAX;
                 up = span_parent(spans, json_object_get(up, "body")))
                depth++;
            json_object_set_new(e, "depth", json_integer(depth));
            continue;
        }
        set_up(e, span_parent(spans, b));
        if (json_object_get(b, "upstream") == NULL) {
            for (up = span_parent(spans, b);
                 up != NULL && depth < TRACE_DEPTH_MAX;
                 up = span_parent(spans, json_object_get(up, "body")))
                depth++;
            json_object_set_new(e, "depth", json_integer(depth));
            continue;
        }
        /* a proxy record: the model call it witnessed */
        int hops = 0;
        for (up = span_parent(spans, b);
             up != NULL && hops < TRACE_DEPTH_MAX &&
             !jstr_is(up, "type", LDG_EV_ROUTE_DECISION);
             up = span_parent(spans, json_object_get(up, "body")))
            hops++;
        if (up == NULL || !jstr_is(e, "type", LDG_EV_ROUTE_DECISION))
            continue;
        json_t *d = join_differs(json_object_get(up, "body"), b);
        if (d == NULL)
            continue;
        set_up(e, up);
        json_object_set_new(e, "joined",
                            json_pack("{s:O,s:b,s:o}", "seq",
                                      json_object_get(up, "seq"), "agree",
                                      json_array_size(d) == 0, "differs", d));
        json_t *w = json_object_get(up, "witnesses");
        if (w == NULL) {
            w = json_array();
            json_object_set_new(up, "witnesses", w);
        }
        json_array_append(w, json_object_get(e, "seq"));
        tl->joined++;
        tl->disagree += json_array_size(d) > 0;
        /* (one call: its fallback counted once, the app's say) */
        tl->joined_fallbacks += json_is_true(json_object_get(b, "fallback")) &&
                                json_is_true(json_object_get(
                                    json_object_get(up, "body"), "fallback"));
    }
    json_decref(spans);
    /* a proxy record sits under the span it joined */
    json_array_foreach(tl->events, i, e)
    {
        const json_t *j = json_object_get(e, "joined");
        if (j == NULL)
            continue;
        for (size_t k = 0; k < json_array_size(tl->events); k++) {
            json_t *x = json_array_get(tl->events, k);
            if (json_equal(json_object_get(x, "seq"),
                           json_object_get(j, "seq")))
                json_object_set_new(
                    e, "depth",
                    json_integer(
                        json_integer_value(json_object_get(x, "depth")) + 1));
        }
    }
}

/* The status of a run known only from an application's trace (no
 * run.started nor run.finished): "trace", as `ledger runs` says it, and
 * "root": how its root span (the one with no parent) ended, when it is
 * there: {seq, name, status, duration_ms}. */
static void
trace_status(struct tl *tl)
{
    size_t i;
    json_t *e, *root = NULL;
    int traced = 0;

    json_array_foreach(tl->events, i, e)
    {
        const json_t *b = json_object_get(e, "body");
        if (jstr_is(e, "kind", "context"))
            continue;
        if (jstr_is(e, "kind", "span") || jstr_is(e, "kind", "log") ||
            json_is_string(json_object_get(b, "trace_id")))
            traced = 1;
        if (root == NULL && json_is_string(json_object_get(b, "span_id")) &&
            json_object_get(b, "parent_span_id") == NULL &&
            json_object_get(b, "upstream") == NULL &&
            !jstr_is(e, "kind", "log"))
            root = e;
    }
    if (!traced)
        return;
    json_object_set_new(tl->root, "status", json_string("trace"));
    if (root != NULL) {
        const json_t *b = json_object_get(root, "body");
        json_object_set_new(tl->root, "root",
                            json_pack("{s:O, s:O?, s:O?, s:O?}", "seq",
                                      json_object_get(root, "seq"), "name",
                                      json_object_get(b, "name"), "status",
                                      json_object_get(b, "status"),
                                      "duration_ms",
                                      json_object_get(b, "duration_ms")));
    } else {
        json_object_set_new(tl->root, "root", json_null());
    }
}

/* Adds rel_ms to each event and the end summary. */
static void
finish(struct tl *tl)
{
    /* from the start; a start before the horizon counts too (its time is
     * the runs projection's, pruned_start) */
    uint64_t base = tl->have_start || (tl->started_pruned && tl->start_ts)
                        ? tl->start_ts
                        : tl->first_ts;
    /* as the runs projection says it: a run known only from the events
     * linked to it (model calls through the proxy, say) never started */
    const char *status =
        tl->have_start || tl->started_pruned ? "running" : "not-started";
    size_t i;
    json_t *e, *end = NULL;
    uint64_t last = tl->last_ts;

    json_object_set_new(tl->root, "clock", json_string("ledger"));
    source_order(tl, base);
    json_array_foreach(tl->events, i, e)
    {
        uint64_t ts = order_of(e);
        json_object_del(e, "_order");
        json_int_t rel = ts >= base ? (json_int_t)((ts - base) / 1000)
                                    : -(json_int_t)((base - ts) / 1000);
        json_object_set_new(e, "rel_us", json_integer(rel));
        if (jstr_is(e, "kind", "end"))
            end = e;
        if (i == 0 || ts > last)
            last = ts; /* on the source's clock the last may come early */
    }
    if (!jstr_is(tl->root, "clock", "source"))
        last = tl->last_ts;
    json_object_set_new(tl->root, "start",
                        tl->have_start
                            ? json_pack("{s:o, s:o, s:o, s:o, s:o}", "seq",
                                        ldg_json_u64(tl->start_seq), "ts",
                                        ldg_json_u64(tl->start_time), "time",
                                        time_str(tl->start_time), "recorded_ts",
                                        ldg_json_u64(tl->start_ts),
                                        "recorded_time", time_str(tl->start_ts))
                            : json_null());
    if (end != NULL) {
        json_t *body = json_object_get(end, "body");
        if (json_is_string(json_object_get(body, "status")))
            status = json_string_value(json_object_get(body, "status"));
        else
            status = "finished";
        json_object_set_new(
            tl->root, "end",
            json_pack("{s:O, s:O, s:O, s:O, s:O, s:O, s:O?, "
                      "s:O?}",
                      "seq", json_object_get(end, "seq"), "ts",
                      json_object_get(end, "ts"), "time",
                      json_object_get(end, "time"), "recorded_ts",
                      json_object_get(end, "recorded_ts"), "recorded_time",
                      json_object_get(end, "recorded_time"), "rel_us",
                      json_object_get(end, "rel_us"), "duration_ms",
                      json_object_get(body, "duration_ms"), "error",
                      json_object_get(body, "error")));
    } else {
        json_object_set_new(tl->root, "end", json_null());
    }
    json_object_set_new(tl->root, "status", json_string(status));
    json_object_set_new(
        tl->root, "span_us",
        json_integer(last >= base ? (json_int_t)((last - base) / 1000) : 0));
    json_object_set_new(tl->root, "counts",
                        json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
                                  "events", (json_int_t)tl->nevents, "steps",
                                  (json_int_t)tl->steps, "steps_failed",
                                  (json_int_t)tl->steps_failed,
                                  "route_decisions", (json_int_t)tl->routes,
                                  "fallbacks", (json_int_t)tl->fallbacks,
                                  "policy_decisions", (json_int_t)tl->policies,
                                  "denials", (json_int_t)tl->denials));
    json_object_set_new(tl->root, "truncated",
                        json_boolean(tl->nevents > TL_EVENTS_MAX));
    trace_tree(tl);
    if (end == NULL && !tl->have_start && !tl->started_pruned)
        trace_status(tl);
    json_t *counts = json_object_get(tl->root, "counts");
    /* a model call seen by both the application and the proxy is one
     * decision (the proxy's record joined to the app's span) */
    json_object_set_new(counts, "route_decisions",
                        json_integer((json_int_t)(tl->routes - tl->joined)));
    json_object_set_new(counts, "route_records",
                        json_integer((json_int_t)tl->routes));
    json_object_set_new(
        counts, "fallbacks",
        json_integer((json_int_t)(tl->fallbacks - tl->joined_fallbacks)));
    json_object_set_new(counts, "spans", json_integer((json_int_t)tl->spans));
    json_object_set_new(counts, "joined", json_integer((json_int_t)tl->joined));
    json_object_set_new(counts, "joined_disagree",
                        json_integer((json_int_t)tl->disagree));
}

/* "Who did it" from the log: each event and each permission in force gets
 * "signer", the key that signed it, beside any "by" its body claims. On a
 * pruned ledger, an event before the horizon (a permission granted then)
 * gets "signer": null, as the permissions view gives it: its archive
 * says who signed it (docs/RETENTION.md). */
static int
add_signers(struct ldg_txn *t, json_t *arr)
{
    struct ldg_horizon h;
    uint64_t hz = 0;
    size_t i;
    json_t *e;

    if (ldg_horizon_get(t, &h) == 0) {
        hz = h.seq;
        ldg_horizon_release(&h);
    }
    json_array_foreach(arr, i, e)
    {
        const char *s = json_string_value(json_object_get(e, "seq"));
        json_t *sg;
        if (s == NULL)
            continue;
        if (strtoull(s, NULL, 10) < hz) {
            json_object_set_new(e, "signer", json_null());
            continue;
        }
        if ((sg = ldg_signer_json(t, strtoull(s, NULL, 10))) == NULL)
            return LDG_ECORRUPT;
        json_object_set_new(e, "signer", sg);
        if (json_object_get(e, "clock") == NULL) {
            /* a permission in force: its event's source beside the signer
             * (the run's own events have theirs already) */
            struct ldg_event ev;
            json_t *src;
            if (ldg_event_get(t, strtoull(s, NULL, 10), &ev) < 0)
                return LDG_ECORRUPT;
            if ((src = ldg_event_source_json(&ev)) != NULL)
                json_object_set_new(e, "source", src);
        }
    }
    return 0;
}

struct pa {
    struct ldg_txn *t;
    uint64_t from, to;
    json_t *a;
};

static int
pa_one(void *ctx, uint64_t seq)
{
    struct pa *x = ctx;
    json_t *b = NULL;
    json_int_t f, h;
    const char *sha;

    if (ldg_body_get(x->t, seq, &b) < 0)
        return 0;
    f = json_integer_value(json_object_get(b, "first"));
    h = json_integer_value(json_object_get(b, "horizon"));
    sha = json_string_value(json_object_get(b, "archive_sha256"));
    if (sha != NULL && f >= 0 && h > f && (uint64_t)h > x->from &&
        (uint64_t)f < x->to &&
        json_array_append_new(
            x->a, json_pack("{s:o, s:o, s:s, s:O?, s:o}", "first",
                            ldg_json_u64((uint64_t)f), "horizon",
                            ldg_json_u64((uint64_t)h), "archive_sha256", sha,
                            "archive", json_object_get(b, "archive"), "seq",
                            ldg_json_u64(seq))) < 0) {
        json_decref(b);
        return LDG_ENOMEM;
    }
    json_decref(b);
    return 0;
}

static uint64_t
a_u64(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s != NULL ? strtoull(s, NULL, 10) : 0;
}

int
ldg_query_pruned_archives(struct ldg_txn *t, uint64_t from, uint64_t to,
                          json_t **out, int *whole)
{
    struct pa x = {t, from, to, json_array()};
    uint64_t at = from;
    size_t i;
    json_t *e;
    int rc;

    *out = NULL;
    *whole = 0;
    if (x.a == NULL)
        return LDG_ENOMEM;
    /* (oldest first: seq order; a prune continued after a crash names
     * the same archive twice, the later covering more: the later stays) */
    rc = ldg_index_walk(t, LDG_INDEX_TYPE, LDG_EV_LEDGER_PRUNED, 0, UINT64_MAX,
                        0, pa_one, &x);
    if (rc < 0 && rc != LDG_ENOTFOUND) {
        json_decref(x.a);
        return rc;
    }
    for (i = 0; i + 1 < json_array_size(x.a);) {
        json_t *p = json_array_get(x.a, i), *n = json_array_get(x.a, i + 1);
        if (json_equal(json_object_get(p, "archive_sha256"),
                       json_object_get(n, "archive_sha256")))
            json_array_remove(x.a, i);
        else
            i++;
    }
    *whole = 1;
    json_array_foreach(x.a, i, e)
    {
        if (a_u64(e, "first") > at)
            *whole = 0;
        if (a_u64(e, "horizon") > at)
            at = a_u64(e, "horizon");
    }
    if (at < to)
        *whole = 0;
    *out = x.a;
    return 0;
}

void
ldg_query_pruned_archives_text(const json_t *archives, int whole, char *buf,
                               size_t cap)
{
    struct ldg_buf b;
    size_t i, n = json_array_size(archives);
    json_t *e;

    memset(&b, 0, sizeof b);
    ldg_buf_puts(&b, n > 1 ? "the archives " : "the archive ");
    json_array_foreach(archives, i, e)
    {
        const char *name = json_string_value(json_object_get(e, "archive"));
        if (i > 0)
            ldg_buf_puts(&b, i + 1 == n && whole ? " and " : ", ");
        ldg_buf_printf(&b, "%s (events %llu..%llu, SHA-256 %s)",
                       name != NULL ? name : "with no name recorded",
                       (unsigned long long)a_u64(e, "first"),
                       (unsigned long long)(a_u64(e, "horizon") - 1),
                       json_string_value(json_object_get(e, "archive_sha256")));
    }
    if (!whole)
        ldg_buf_puts(&b, n > 0 ? " and earlier ones" : "earlier archives");
    snprintf(buf, cap, "%s", b.err || b.s == NULL ? "" : b.s);
    ldg_buf_release(&b);
}

/* A run whose run.started a prune removed (its first kept event is at or
 * after the horizon): *cut gets {"start": {"seq", "time", "pruned":
 * true}, "horizon": {"seq", "archive_sha256"}, "at": horizon} from the
 * runs projection, and tl->pack its pack; NULL when the run did not begin
 * before the horizon. 0 or an ldg_error. */
static int
pruned_start(struct tl *tl, json_t **cut)
{
    struct ldg_ledger *l = ldg_txn_ledger(tl->t);
    struct ldg_horizon h;
    struct ldg_view_opts vo;
    json_t *rows = NULL, *row;
    uint64_t hz, started;
    char hex[65];
    int rc;

    *cut = NULL;
    if (ldg_horizon_get(tl->t, &h) != 0)
        return 0;
    hz = h.seq;
    ldg_hex(hex, h.archive, 32);
    ldg_horizon_release(&h);
    memset(&vo, 0, sizeof vo);
    vo.filter = tl->run;
    rc = ldg_projections_view(l, LDG_VIEW_RUNS, &vo, &rows);
    if (rc == LDG_ENOTFOUND) {
        ldg_set_errmsg(l, "%s", "");
        return 0;
    }
    if (rc < 0)
        return rc;
    row = json_array_get(rows, 0);
    started =
        json_is_string(json_object_get(row, "started_seq"))
            ? strtoull(json_string_value(json_object_get(row, "started_seq")),
                       NULL, 10)
            : UINT64_MAX;
    if (started < hz) {
        const char *when = json_string_value(json_object_get(row, "start"));
        uint64_t ns = 0;
        if (tl->pack[0] == '\0' && json_is_string(json_object_get(row, "pack")))
            snprintf(tl->pack, sizeof tl->pack, "%s",
                     json_string_value(json_object_get(row, "pack")));
        *cut = json_pack("{s:{s:O, s:O?, s:b}, s:{s:o, s:s}, s:I}", "start",
                         "seq", json_object_get(row, "started_seq"), "time",
                         json_object_get(row, "start"), "pruned", 1, "horizon",
                         "seq", ldg_json_u64(hz), "archive_sha256", hex, "at",
                         (json_int_t)hz);
        /* its time, on the ledger's clock as the runs projection kept it:
         * the offsets count from it, as for a start that is kept */
        if (*cut != NULL && when != NULL &&
            ldg_time_parse_rfc3339(when, strlen(when), 0, &ns) == 0) {
            json_t *st = json_object_get(*cut, "start");
            json_object_set_new(st, "recorded_ts", ldg_json_u64(ns));
            json_object_set_new(st, "recorded_time", json_string(when));
            tl->start_ts = ns;
        }
        /* every archive its pruned events went into, not only the last
         * prune's (a run can span several) */
        if (*cut != NULL) {
            json_t *arch = NULL;
            int whole = 0;
            if ((rc = ldg_query_pruned_archives(tl->t, started, hz, &arch,
                                                &whole)) == 0) {
                json_object_set_new(*cut, "archives", arch);
                json_object_set_new(*cut, "archives_whole",
                                    json_boolean(whole));
            }
        }
        if (*cut == NULL)
            rc = LDG_ENOMEM;
    }
    json_decref(rows);
    return rc < 0 ? rc : 0;
}

/* The events of one trace (body.trace_id, any run), for
 * ldg_query_timeline_trace: each through on_run_event. */
static int
trace_walk(struct tl *tl, const char *trace)
{
    struct ldg_query *q = NULL;
    struct ldg_query_iter *it = NULL;
    struct ldg_event ev;
    char term[80], err[256];
    char *terms[1] = {term};
    int rc;

    snprintf(term, sizeof term, "trace=%s", trace);
    if ((rc = ldg_query_compile(&q, 1, terms, NULL, NULL, err, sizeof err)) < 0)
        return rc;
    if ((rc = ldg_query_iter_new(&it, q, tl->t, 0)) == 0) {
        while ((rc = ldg_query_iter_next(it, &ev)) == 0)
            if (on_run_event(tl, ev.seq) != 0)
                break;
        if (rc == LDG_ENOTFOUND)
            rc = 0;
        if (rc == 0)
            rc = tl->err;
    }
    ldg_query_iter_free(it);
    ldg_query_free(q);
    return rc;
}

/*
 * The proxy's records of the run's model calls when they are in another
 * run: with `serve --otlp-run ATTR` the application's spans are in the
 * attribute's run while the proxy puts its record in the trace's
 * (docs/OTLP.md). For each trace of the run's spans (at most
 * TL_TRACES_MAX; one scan of the log for all), the proxy's
 * route.decisions of another run whose caller (parent_span_id) is one of
 * the run's spans are added, so that trace_tree joins them as it joins
 * those of the run.
 */
#define TL_TRACES_MAX 64

static int
witness_walk(struct tl *tl)
{
    json_t *traces = json_object(), *spans = json_object(), *e, *v;
    const char *tr;
    char key[64];
    size_t i;
    int rc = 0, added = 0;

    if (traces == NULL || spans == NULL) {
        json_decref(traces);
        json_decref(spans);
        return LDG_ENOMEM;
    }
    json_array_foreach(tl->events, i, e)
    {
        json_t *b = json_object_get(e, "body");
        const char *sp = json_string_value(json_object_get(b, "span_id"));
        tr = json_string_value(json_object_get(b, "trace_id"));
        if (tr == NULL || sp == NULL ||
            json_object_get(b, "upstream") != NULL ||
            jstr_is(e, "type", LDG_EV_OTEL_LOG))
            continue;
        snprintf(key, sizeof key, "%.32s:%.16s", tr, sp);
        json_object_set_new(spans, key, json_true());
        /* (a trace id as the receiver and the proxy write it: another
         * value, appended by hand, is no trace= term) */
        if (strcmp(tr, tl->run) != 0 && strlen(tr) == 32 &&
            strspn(tr, "0123456789abcdef") == 32 &&
            json_object_size(traces) < TL_TRACES_MAX)
            json_object_set_new(traces, tr, json_true());
    }
    /* one scan of the log for all of them: trace=A trace=B ... (the
     * same field's terms are alternatives) */
    size_t nt = json_object_size(traces), k = 0;
    char(*tv)[48] = nt ? calloc(nt, sizeof *tv) : NULL;
    char **terms = nt ? calloc(nt, sizeof *terms) : NULL;
    if (nt > 0 && (tv == NULL || terms == NULL))
        rc = LDG_ENOMEM;
    json_object_foreach(traces, tr, v)
    {
        if (rc < 0)
            break;
        snprintf(tv[k], sizeof tv[k], "trace=%s", tr);
        terms[k] = tv[k];
        k++;
    }
    if (rc == 0 && nt > 0) {
        struct ldg_query *q = NULL;
        struct ldg_query_iter *it = NULL;
        struct ldg_event ev;
        char err[256];

        if ((rc = ldg_query_compile(&q, (int)nt, terms, NULL, NULL, err,
                                    sizeof err)) == 0 &&
            (rc = ldg_query_iter_new(&it, q, tl->t, 0)) == 0) {
            while ((rc = ldg_query_iter_next(it, &ev)) == 0) {
                json_t *b = NULL;
                const char *p, *btr;
                if (strcmp(ev.type, LDG_EV_ROUTE_DECISION) != 0 ||
                    strcmp(ev.run, tl->run) == 0)
                    continue;
                if (ldg_body_get(tl->t, ev.seq, &b) < 0)
                    continue;
                p = json_string_value(json_object_get(b, "parent_span_id"));
                btr = json_string_value(json_object_get(b, "trace_id"));
                if (p != NULL && btr != NULL &&
                    json_object_get(b, "upstream") != NULL) {
                    snprintf(key, sizeof key, "%.32s:%.16s", btr, p);
                    p = json_object_get(spans, key) != NULL ? p : NULL;
                } else {
                    p = NULL;
                }
                json_decref(b);
                if (p == NULL)
                    continue;
                uint64_t first_ts = tl->first_ts, first_seq = tl->first_seq;
                uint64_t last_ts = tl->last_ts, last_seq = tl->last_seq;
                size_t had = json_array_size(tl->events);
                if (on_run_event(tl, ev.seq) != 0)
                    break;
                added = 1;
                if (json_array_size(tl->events) > had)
                    json_object_set_new(json_array_get(tl->events, had), "run",
                                        json_string(ev.run));
                if (first_ts < ev.ts_ns) {
                    tl->first_ts = first_ts;
                    tl->first_seq = first_seq;
                }
                if (last_seq > ev.seq) {
                    tl->last_ts = last_ts;
                    tl->last_seq = last_seq;
                }
            }
            if (rc == LDG_ENOTFOUND)
                rc = 0;
            if (rc == 0)
                rc = tl->err;
        }
        ldg_query_iter_free(it);
        ldg_query_free(q);
    }
    free(terms);
    free(tv);
    json_decref(traces);
    json_decref(spans);
    if (rc == 0 && added) {
        /* in the order of the log, as the run's own */
        size_t n = json_array_size(tl->events);
        json_t **all = malloc(n * sizeof *all), *sorted = json_array();
        if (all == NULL || sorted == NULL) {
            free(all);
            json_decref(sorted);
            return LDG_ENOMEM;
        }
        json_array_foreach(tl->events, i, e) all[i] = e;
        qsort(all, n, sizeof *all, seq_cmp);
        for (i = 0; i < n; i++)
            json_array_append(sorted, all[i]);
        free(all);
        json_decref(tl->events);
        tl->events = sorted;
    }
    return rc;
}

static int timeline_of(struct ldg_txn *t, const char *run, const char *trace,
                       json_t **out);

int
ldg_query_timeline(struct ldg_txn *t, const char *run, json_t **out)
{
    return timeline_of(t, run, NULL, out);
}

int
ldg_query_timeline_trace(struct ldg_txn *t, const char *trace, json_t **out)
{
    size_t n = trace ? strlen(trace) : 0;
    char low[33];
    if (t == NULL || trace == NULL || out == NULL)
        return LDG_EINVAL;
    *out = NULL;
    /* recorded in lower case; upper case is the same id */
    for (size_t i = 0; i < n && n == 32; i++) {
        char c = trace[i];
        if (c >= 'A' && c <= 'F')
            c = (char)(c - 'A' + 'a');
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            n = 0;
        else
            low[i] = c;
    }
    if (n != 32) {
        ldg_set_errmsg(ldg_txn_ledger(t),
                       "trace id '%.80s': not 32 hex digits (16 bytes)", trace);
        return LDG_EBADINPUT;
    }
    low[32] = '\0';
    return timeline_of(t, low, low, out);
}

/* The timeline of run (trace NULL), or of the events of trace (run is the
 * trace id then, as the receiver names runs by default). */
static int
timeline_of(struct ldg_txn *t, const char *run, const char *trace, json_t **out)
{
    struct tl tl;
    uint64_t size;
    int rc;

    if (t == NULL || run == NULL || out == NULL)
        return LDG_EINVAL;
    *out = NULL;
    if (run[0] == '\0' || strlen(run) > LDG_RUN_MAX) {
        ldg_set_errmsg(ldg_txn_ledger(t), "run id must be 1..%d bytes",
                       LDG_RUN_MAX);
        return LDG_EBADINPUT;
    }
    memset(&tl, 0, sizeof tl);
    tl.t = t;
    tl.run = run;
    tl.root = json_object();
    tl.events = json_array();
    tl.routes_set = json_object();
    tl.evals = json_object();
    tl.models_set = json_object();
    tl.context = json_object();
    rc = LDG_ENOMEM;
    if (tl.root == NULL || tl.events == NULL || tl.routes_set == NULL ||
        tl.evals == NULL || tl.models_set == NULL || tl.context == NULL)
        goto out;
    /* jansson keeps insertion order: fix the order of the keys now */
    {
        static const char *const order[] = {
            "run",    "pack",    "pack_version", "status",      "start",
            "end",    "span_us", "counts",       "permissions", "evals",
            "routes", "events",  "truncated"};
        for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
            json_object_set_new(tl.root, order[i], json_null());
    }
    if ((rc = ldg_txn_size(t, &size)) < 0)
        goto out;
    if (trace != NULL)
        rc = trace_walk(&tl, trace);
    else
        rc = ldg_index_walk(t, LDG_INDEX_RUN, run, 0, UINT64_MAX, 0,
                            on_run_event, &tl);
    if (rc == 0)
        rc = tl.err;
    if (rc == 0 && trace == NULL && tl.have_first)
        rc = witness_walk(&tl);
    if (rc < 0)
        goto out;
    if (!tl.have_first) {
        if (trace != NULL)
            ldg_set_errmsg(ldg_txn_ledger(t), "no event has trace id %s",
                           trace);
        else
            ldg_set_errmsg(ldg_txn_ledger(t), "no event has run '%s'", run);
        rc = LDG_ENOTFOUND;
        goto out;
    }
    json_t *cut = NULL;
    if (!tl.have_start && (rc = pruned_start(&tl, &cut)) < 0)
        goto out;
    json_object_set_new(tl.root, "run", json_string(run));
    if (trace != NULL)
        json_object_set_new(tl.root, "trace", json_string(trace));
    json_object_set_new(tl.root, "pack",
                        tl.pack[0] ? json_string(tl.pack) : json_null());
    tl.started_pruned = cut != NULL;
    finish(&tl);
    if (cut != NULL) {
        /* begun before the horizon: its start as the runs projection
         * kept it; what was in force, at the horizon (the earliest state
         * kept: docs/RETENTION.md) */
        json_object_set(tl.root, "start", json_object_get(cut, "start"));
        json_object_set(tl.root, "horizon", json_object_get(cut, "horizon"));
        json_object_set(json_object_get(tl.root, "horizon"), "archives",
                        json_object_get(cut, "archives"));
        json_object_set(json_object_get(tl.root, "horizon"), "archives_whole",
                        json_object_get(cut, "archives_whole"));
        rc = context_at_start(
            &tl, (uint64_t)json_integer_value(json_object_get(cut, "at")));
        json_decref(cut);
    } else {
        rc = context_at_start(&tl, tl.have_start ? tl.start_seq : tl.first_seq);
    }
    if (rc == 0)
        rc = context_events(&tl);
    if (rc == 0)
        nest_order(&tl);
    if (rc == 0)
        rc = add_signers(t, tl.events);
    if (rc == 0)
        rc = add_signers(t, json_object_get(tl.root, "permissions"));
    if (rc < 0)
        goto out;
    if (tl.version == NULL)
        json_object_del(tl.root, "pack_version");
    if (json_is_null(json_object_get(tl.root, "permissions"))) {
        json_object_set_new(tl.root, "permissions", json_array());
        json_object_set_new(tl.root, "evals", json_array());
        json_object_set_new(tl.root, "routes", json_array());
    }
    json_object_set(tl.root, "events", tl.events);
    *out = tl.root;
    tl.root = NULL;
    rc = 0;
out:
    if (rc < 0 && rc != LDG_ENOTFOUND && rc != LDG_EBADINPUT)
        ldg_set_errmsg(ldg_txn_ledger(t), "timeline of run '%s': %s", run,
                       ldg_strerror(rc));
    json_decref(tl.root);
    json_decref(tl.events);
    json_decref(tl.routes_set);
    json_decref(tl.evals);
    json_decref(tl.models_set);
    json_decref(tl.context);
    json_decref(tl.version);
    q_modelcache_free(tl.mc);
    return rc;
}

/* ------------------------------------------------------------- as text -- */

#define sget(o, k) ldg_json_str(o, k)

static void
put_val(struct ldg_buf *b, const char *label, const json_t *v)
{
    if (v == NULL || json_is_null(v))
        return;
    ldg_buf_puts(b, "  ");
    if (label != NULL)
        ldg_buf_printf(b, "%s=", label);
    if (json_is_string(v))
        ldg_buf_puts(b, json_string_value(v));
    else
        q_json_value(b, v, JSON_COMPACT | JSON_REAL_PRECISION(15));
}

/* "  12ms" (an integer), "  1.8ms" (a number with a fraction). */
static void
put_ms(struct ldg_buf *b, const json_t *v)
{
    if (json_is_integer(v))
        ldg_buf_printf(b, "  %lldms", (long long)json_integer_value(v));
    else if (json_is_real(v))
        ldg_buf_printf(b, "  %.1fms", json_real_value(v));
}

/* Beside a claimed actor, the key that signed the event (its name, else
 * its id) and, when `ledger serve` recorded it, the process that submitted
 * it: "by=alice signer=ops source=uid 1000 pid 42 agent.service". */
static void
put_signer(struct ldg_buf *b, const json_t *e, const json_t *by)
{
    const json_t *sg = json_object_get(e, "signer");
    const json_t *src = json_object_get(e, "source");
    const char *nm = json_string_value(json_object_get(sg, "name"));
    if (by == NULL || json_is_null(by) || sg == NULL)
        return;
    if (json_is_null(sg)) { /* a pruned event: its archive names it */
        ldg_buf_puts(b, "  signer=(pruned: in its archive)");
        return;
    }
    ldg_buf_printf(b, "  signer=%s", nm ? nm : sget(sg, "key_id"));
    if (json_is_object(src)) {
        ldg_buf_printf(
            b, " source=uid %lld pid %lld",
            (long long)json_integer_value(json_object_get(src, "uid")),
            (long long)json_integer_value(json_object_get(src, "pid")));
        if (json_is_string(json_object_get(src, "unit")))
            ldg_buf_printf(b, " %s", sget(src, "unit"));
        else if (json_is_string(json_object_get(src, "exe")))
            ldg_buf_printf(b, " %s", sget(src, "exe"));
    }
}

/* "  weights sha256:0123456789ab… verified" (or "not verified", "verified
 * later at #N", "digest unknown") for an entry with "model_at". */
static void
put_model_at(struct ldg_buf *b, const json_t *m)
{
    const char *d = json_string_value(json_object_get(m, "digest"));

    if (m == NULL)
        return;
    if (d == NULL) {
        ldg_buf_puts(b, "  weights: digest unknown (never registered)");
        return;
    }
    ldg_buf_printf(b, "  weights %.19s%s", d, strlen(d) > 19 ? "…" : "");
    if (json_is_true(json_object_get(m, "verified")))
        ldg_buf_puts(b, " verified");
    else if (json_is_true(json_object_get(m, "ever_verified")))
        ldg_buf_printf(b, " verified later (#%s)", sget(m, "verified_seq"));
    else
        ldg_buf_puts(b, " never verified");
}

/* Under a proxy record joined to an application's span: one request,
 * two witnesses, and whether they agree. */
static void
join_line(struct ldg_buf *b, const json_t *e)
{
    const json_t *j = json_object_get(e, "joined"), *d, *x;
    size_t i;
    if (j == NULL)
        return;
    d = json_object_get(j, "differs");
    ldg_buf_printf(b,
                   "%s %10s  #%-8s =        the proxy's record of #%s (one "
                   "request, two witnesses): %s",
                   json_array_size(d) ? "!" : " ", "", sget(e, "seq"),
                   sget(j, "seq"),
                   json_array_size(d) ? "they DISAGREE:" : "they agree");
    json_array_foreach(d, i, x)
    {
        ldg_buf_printf(b, "%s %s ", i ? "," : "", sget(x, "field"));
        q_json_value(b, json_object_get(x, "app"), JSON_COMPACT);
        ldg_buf_puts(b, " (app) vs ");
        q_json_value(b, json_object_get(x, "proxy"), JSON_COMPACT);
        ldg_buf_puts(b, " (proxy)");
    }
    ldg_buf_add(b, "\n", 1);
}

/* Whether the timeline marks event e with '!': a denial, a failed or
 * aborted step or run, an error, and among the context events a
 * permission withdrawn, a model gone, a runtime down, a failed eval. */
static int
event_bad(const json_t *e)
{
    const char *kind = sget(e, "kind");
    const json_t *body = json_object_get(e, "body");
    const char *type = sget(e, "type");
    return json_is_true(json_object_get(e, "denied")) ||
           jstr_is(body, "status", "failed") ||
           jstr_is(body, "status", "aborted") ||
           jstr_is(body, "outcome", "error") ||
           jstr_is(body, "outcome", "refused") ||
           jstr_is(body, "outcome", "client-gone") ||
           (strcmp(kind, "context") == 0 &&
            (strcmp(type, LDG_EV_PERMISSION_REVOKED) == 0 ||
             strcmp(type, LDG_EV_PERMISSION_DENIED) == 0 ||
             strcmp(type, LDG_EV_PROMOTION_ROLLED_BACK) == 0 ||
             jstr_is(body, "state", "offline") ||
             jstr_is(body, "state", "removed") ||
             jstr_is(body, "status", "down") ||
             jstr_is(body, "status", "degraded") ||
             json_is_false(json_object_get(body, "passed")) ||
             json_is_false(json_object_get(body, "ok"))));
}

/* The words of event e after its kind, each after two spaces: what the
 * timeline and the run page say of it. */
static void
event_words(struct ldg_buf *b, const json_t *e)
{
    const char *kind = sget(e, "kind");
    const json_t *body = json_object_get(e, "body");
    int deny = json_is_true(json_object_get(e, "denied"));

    if (body == NULL) {
        ldg_buf_printf(b, "  %s [body erased]", sget(e, "type"));
        return;
    }
    if (strcmp(kind, "start") == 0) {
        put_val(b, NULL, json_object_get(body, "pack"));
        put_val(b, "intent", json_object_get(body, "intent"));
        put_val(b, "by", json_object_get(body, "requested_by"));
        put_signer(b, e, json_object_get(body, "requested_by"));
        put_val(b, "plan", json_object_get(body, "plan_hash"));
    } else if (strcmp(kind, "step") == 0) {
        const json_t *arts = json_object_get(body, "artifacts"), *a;
        size_t i;
        put_val(b, NULL, json_object_get(body, "step"));
        put_val(b, "tool", json_object_get(body, "tool"));
        put_val(b, NULL, json_object_get(body, "status"));
        put_ms(b, json_object_get(body, "duration_ms"));
        if (json_array_size(arts) > 0) {
            ldg_buf_puts(b, "  artifacts:");
            json_array_foreach(arts, i, a)
            {
                ldg_buf_printf(b, " %s",
                               json_is_string(json_object_get(a, "name"))
                                   ? sget(a, "name")
                                   : "?");
                if (json_is_string(json_object_get(a, "sha256")))
                    ldg_buf_printf(b, " (%.12s)", sget(a, "sha256"));
            }
        }
    } else if (strcmp(kind, "route") == 0) {
        ldg_buf_printf(b, "  %s -> %s", sget(body, "route"),
                       sget(body, "chosen_model"));
        if (json_is_true(json_object_get(body, "fallback")))
            ldg_buf_puts(b, "  FALLBACK");
        put_ms(b, json_object_get(body, "latency_ms"));
        put_val(b, NULL, json_object_get(body, "outcome"));
        if (json_is_integer(json_object_get(body, "tokens_in")) ||
            json_is_integer(json_object_get(body, "tokens_out"))) {
            ldg_buf_puts(b, "  tokens");
            put_val(b, "in", json_object_get(body, "tokens_in"));
            put_val(b, "out", json_object_get(body, "tokens_out"));
        }
        /* who saw it: the proxy (an upstream), an application's span */
        if (json_is_string(json_object_get(body, "upstream")))
            put_val(b, "via proxy", json_object_get(body, "upstream"));
        else if (json_is_string(json_object_get(body, "span_id")))
            put_val(b, "app span", json_object_get(body, "span_id"));
        put_val(b, "reason", json_object_get(body, "reason"));
    } else if (strcmp(kind, "policy") == 0) {
        if (!deny)
            put_val(b, NULL, json_object_get(body, "decision"));
        put_val(b, NULL, json_object_get(body, "rule"));
        put_val(b, "tool", json_object_get(body, "tool"));
        put_val(b, NULL, json_object_get(body, "tier"));
    } else if (strcmp(kind, "context") == 0) {
        static const char *const show[] = {
            "state",   "status",  "group",     "scope", "decision",
            "eval_id", "passed",  "candidate", "to",    "version",
            "by",      "expires", "reason",    "detail"};
        ldg_buf_printf(b, "  %s %s", sget(e, "type"), sget(e, "subject"));
        for (size_t i = 0; i < sizeof show / sizeof show[0]; i++) {
            put_val(b, show[i], json_object_get(body, show[i]));
            if (strcmp(show[i], "by") == 0)
                put_signer(b, e, json_object_get(body, "by"));
        }
    } else if (strcmp(kind, "end") == 0) {
        put_val(b, NULL, json_object_get(body, "status"));
        if (json_is_integer(json_object_get(body, "duration_ms")))
            ldg_buf_printf(b, "  %lldms",
                           (long long)json_integer_value(
                               json_object_get(body, "duration_ms")));
        put_val(b, "error", json_object_get(body, "error"));
    } else if (strcmp(sget(e, "type"), LDG_EV_PROXY_REQUEST) == 0) {
        /* a request ledger proxy passed on that is not a model call */
        ldg_buf_printf(b, "  %s %s %s", sget(e, "type"), sget(body, "method"),
                       sget(body, "path"));
        put_val(b, "status", json_object_get(body, "status"));
        put_ms(b, json_object_get(body, "latency_ms"));
        put_val(b, NULL, json_object_get(body, "outcome"));
        put_val(b, "reason", json_object_get(body, "reason"));
    } else if (strcmp(kind, "span") == 0) {
        put_val(b, NULL, json_object_get(body, "name"));
        put_val(b, NULL, json_object_get(body, "status"));
        put_ms(b, json_object_get(body, "duration_ms"));
        put_val(b, "operation", json_object_get(body, "operation"));
        put_val(b, "error", json_object_get(body, "error_type"));
    } else if (strcmp(kind, "log") == 0) {
        const json_t *msg = json_object_get(body, "body");
        put_val(b, NULL, json_object_get(body, "severity_text"));
        put_val(b, NULL, json_object_get(body, "event_name"));
        if (json_is_string(msg))
            ldg_buf_printf(b, "  %.80s%s", json_string_value(msg),
                           json_string_length(msg) > 80 ? "…" : "");
    } else {
        ldg_buf_printf(b, "  %s %s", sget(e, "type"), sget(e, "subject"));
    }
    put_model_at(b, json_object_get(e, "model_at"));
}

static void
event_line(struct ldg_buf *b, const json_t *e)
{
    int deny = json_is_true(json_object_get(e, "denied"));
    ldg_buf_printf(b, "%s %+10.3fs  #%-8s %-7s", event_bad(e) ? "!" : " ",
                   (double)json_integer_value(json_object_get(e, "rel_us")) /
                       1e6,
                   sget(e, "seq"), deny ? "DENY" : sget(e, "kind"));
    /* the span tree: two spaces a level */
    for (json_int_t d = json_integer_value(json_object_get(e, "depth"));
         d > 0 && d <= TRACE_DEPTH_MAX; d--)
        ldg_buf_puts(b, "  ");
    event_words(b, e);
    ldg_buf_add(b, "\n", 1);
    join_line(b, e);
}

char *
ldg_query_timeline_event_text(const json_t *e, int *bad)
{
    struct ldg_buf b;
    char *s;
    if (!json_is_object(e))
        return NULL;
    ldg_buf_init(&b, 65536);
    event_words(&b, e);
    if (bad != NULL)
        *bad = event_bad(e);
    if (b.len == 0)
        return strdup("");
    s = ldg_buf_detach(&b, NULL);
    if (s != NULL)
        memmove(s, s + 2, strlen(s + 2) + 1); /* the first two spaces */
    return s;
}

/* The earliest source time of the run's own events (the base of a run
 * without a start on the source's clock), UINT64_MAX when none. */
static uint64_t
first_source_ts(const json_t *tl)
{
    uint64_t first = UINT64_MAX;
    size_t i;
    const json_t *e;
    json_array_foreach(json_object_get(tl, "events"), i, e)
    {
        const char *st = sget(e, "ts");
        /* (a context event before the run is not the run's time) */
        if (jstr_is(e, "kind", "context"))
            continue;
        if (jstr_is(e, "clock", "source") && st[0] >= '0' && st[0] <= '9' &&
            strtoull(st, NULL, 10) < first)
            first = strtoull(st, NULL, 10);
    }
    return first;
}

int
ldg_query_timeline_text(const json_t *tl, char **out)
{
    struct ldg_buf b;
    const json_t *v, *e, *c;
    size_t i;

    if (tl == NULL || out == NULL)
        return LDG_EINVAL;
    *out = NULL;
    memset(&b, 0, sizeof b);
    c = json_object_get(tl, "counts");
    if (json_is_string(json_object_get(tl, "trace")))
        ldg_buf_printf(&b, "trace %s", sget(tl, "trace"));
    else
        ldg_buf_printf(&b, "run %s", sget(tl, "run"));
    if (json_is_string(json_object_get(tl, "pack")))
        ldg_buf_printf(&b, "  pack %s", sget(tl, "pack"));
    v = json_object_get(json_object_get(tl, "pack_version"), "version");
    if (json_is_string(v))
        ldg_buf_printf(&b, " %s", json_string_value(v));
    v = json_object_get(tl, "start");
    char claimed[32] = "";
    const json_t *hzo = json_object_get(tl, "horizon");
    if (json_is_true(json_object_get(v, "pruned"))) {
        const char *ts = sget(v, "recorded_ts");
        uint64_t ns = 0;
        char when[32];
        for (; *ts >= '0' && *ts <= '9'; ts++)
            ns = ns * 10 + (uint64_t)(*ts - '0');
        if (ns > 0) {
            ldg_time_local(when, sizeof when, ns);
            ldg_buf_printf(&b, "  started %s (#%s, before the horizon: pruned)",
                           when, sget(v, "seq"));
        } else {
            ldg_buf_printf(&b, "  started before the horizon (#%s, pruned)",
                           sget(v, "seq"));
        }
    } else if (json_is_object(v)) {
        /* human text: the one time format of the CLI's human output,
         * local time (TZ; `--utc` sets UTC) to the second, as `ledger
         * query` and `ledger runs` show it: the ledger's clock (docs/
         * QUERY.md, "Which clock") */
        uint64_t ns = 0, src = 0;
        const char *ts = sget(v, "recorded_ts"), *st = sget(v, "ts");
        char when[32];
        for (; *ts >= '0' && *ts <= '9'; ts++)
            ns = ns * 10 + (uint64_t)(*ts - '0');
        for (; *st >= '0' && *st <= '9'; st++)
            src = src * 10 + (uint64_t)(*st - '0');
        ldg_time_local(when, sizeof when, ns);
        ldg_time_local(claimed, sizeof claimed, src);
        ldg_buf_printf(&b, "  started %s (#%s)", when, sget(v, "seq"));
    }
    ldg_buf_printf(&b, "  status %s", sget(tl, "status"));
    v = json_object_get(tl, "root");
    if (json_is_object(v)) {
        /* how its root span ended: "(root span #11 invoke_agent planner:
         * unset in 94.3ms)" */
        ldg_buf_printf(&b, " (root span #%s", sget(v, "seq"));
        if (json_is_string(json_object_get(v, "name")))
            ldg_buf_printf(&b, " %s", sget(v, "name"));
        if (json_is_string(json_object_get(v, "status")))
            ldg_buf_printf(&b, ": %s", sget(v, "status"));
        if (json_is_number(json_object_get(v, "duration_ms")))
            ldg_buf_printf(
                &b, " in %.1fms",
                json_number_value(json_object_get(v, "duration_ms")));
        ldg_buf_puts(&b, ")");
    } else if (jstr_is(tl, "status", "trace")) {
        ldg_buf_puts(&b, " (its root span is not recorded)");
    }
    if (jstr_is(tl, "clock", "source") && claimed[0]) {
        ldg_buf_printf(&b,
                       "  (times from the start: the source's clock, "
                       "which puts the start at %s)",
                       claimed);
    } else if (jstr_is(tl, "clock", "source")) {
        /* no start (a trace): times from its first event */
        uint64_t first = first_source_ts(tl);
        if (first != UINT64_MAX)
            ldg_time_local(claimed, sizeof claimed, first);
        ldg_buf_printf(&b,
                       "  (times from its first event: the source's clock, "
                       "which puts it at %s)",
                       claimed[0] ? claimed : "?");
    }
    v = json_object_get(json_object_get(tl, "end"), "duration_ms");
    if (json_is_integer(v))
        ldg_buf_printf(&b, " in %.3fs", (double)json_integer_value(v) / 1000.0);
    ldg_buf_add(&b, "\n", 1);
    if (json_is_object(hzo) &&
        json_array_size(json_object_get(hzo, "archives")) > 0) {
        char names[2048];
        ldg_query_pruned_archives_text(
            json_object_get(hzo, "archives"),
            json_is_true(json_object_get(hzo, "archives_whole")), names,
            sizeof names);
        ldg_buf_printf(&b,
                       "begun before the horizon: its events before #%s were "
                       "pruned into %s (`" LDG_CMD_TIMELINE_BUNDLE
                       "` reads each); what was in force is shown as at the "
                       "horizon\n",
                       sget(hzo, "seq"), names, sget(tl, "run"), "FILE");
    } else if (json_is_object(hzo)) {
        ldg_buf_printf(
            &b,
            "begun before the horizon: its events before #%s were "
            "pruned into the archive with SHA-256 %s (`" LDG_CMD_TIMELINE_BUNDLE
            "` reads them); what was in "
            "force is shown as at the horizon\n",
            sget(hzo, "seq"), sget(hzo, "archive_sha256"), sget(tl, "run"),
            "FILE");
    }
    const char *at = json_is_object(hzo) ? "the horizon" : "the start";

    if (json_is_string(json_object_get(tl, "pack"))) {
        v = json_object_get(tl, "permissions");
        ldg_buf_printf(&b, "\npermissions in force at %s (pack %s):\n", at,
                       sget(tl, "pack"));
        if (json_array_size(v) == 0)
            ldg_buf_puts(&b, "  (none recorded)\n");
        json_array_foreach(v, i, e)
        {
            const char *st = sget(e, "state");
            int bad = strcmp(st, "denied") == 0 || strcmp(st, "revoked") == 0 ||
                      strcmp(st, "expired") == 0;
            ldg_buf_printf(&b, "%s %-10s %-12s %-28s", bad ? "!" : " ",
                           !bad           ? st
                           : st[0] == 'd' ? "DENIED"
                           : st[0] == 'r' ? "REVOKED"
                                          : "EXPIRED",
                           sget(e, "group"), sget(e, "scope"));
            put_val(&b, NULL, json_object_get(e, "tier"));
            put_val(&b, "by", json_object_get(e, "by"));
            put_signer(&b, e, json_object_get(e, "by"));
            put_val(&b, "expires", json_object_get(e, "expires"));
            ldg_buf_printf(&b, "  #%s", sget(e, "seq"));
            put_val(&b, "reason", json_object_get(e, "reason"));
            ldg_buf_add(&b, "\n", 1);
        }
        v = json_object_get(tl, "evals");
        ldg_buf_printf(&b, "\nevals in force at %s:\n", at);
        if (json_array_size(v) == 0)
            ldg_buf_puts(&b, json_is_object(hzo)
                                 ? "  (none kept: the evals before the "
                                   "horizon are in its archive)\n"
                                 : "  (none recorded)\n");
        json_array_foreach(v, i, e)
        {
            if (json_is_true(json_object_get(e, "none"))) {
                ldg_buf_printf(&b, "! %-32s %s\n", sget(e, "target"),
                               json_is_object(hzo)
                                   ? "no eval kept before the horizon (any "
                                     "earlier one is in its archive)"
                                   : "no eval before the start");
                continue;
            }
            ldg_buf_printf(
                &b, "%s %-32s %s %s %s %s",
                json_is_true(json_object_get(e, "passed")) ? " " : "!",
                sget(e, "target"), sget(e, "eval_id"), sget(e, "suite"),
                sget(e, "candidate"),
                json_is_true(json_object_get(e, "passed")) ? "passed"
                                                           : "FAILED");
            if (json_is_integer(json_object_get(e, "cases_passed")) &&
                json_is_integer(json_object_get(e, "cases_total")))
                ldg_buf_printf(&b, " %lld/%lld",
                               (long long)json_integer_value(
                                   json_object_get(e, "cases_passed")),
                               (long long)json_integer_value(
                                   json_object_get(e, "cases_total")));
            ldg_buf_printf(&b, "  #%s\n", sget(e, "seq"));
        }
    }

    ldg_buf_puts(&b, "\ntimeline:\n");
    json_array_foreach(json_object_get(tl, "events"), i, e)
    {
        event_line(&b, e);
        /* what `ledger verify` found, beside the data it found altered */
        if (json_is_string(json_object_get(e, "verify")))
            ldg_buf_printf(&b,
                           "! %10s  #%-8s !! verification %s (this event's "
                           "data may be altered)\n",
                           "", sget(e, "seq"), sget(e, "verify"));
    }
    if (json_is_true(json_object_get(tl, "truncated")))
        ldg_buf_printf(
            &b, "  ... (%lld events in all; use " LDG_CMD_QUERY_RUN ")\n",
            (long long)json_integer_value(json_object_get(c, "events")),
            sget(tl, "run"));
    if (json_integer_value(json_object_get(c, "joined")) > 0)
        ldg_buf_printf(
            &b,
            "\n%lld model calls seen by both the application and the proxy: "
            "%lld disagree\n",
            (long long)json_integer_value(json_object_get(c, "joined")),
            (long long)json_integer_value(
                json_object_get(c, "joined_disagree")));
    ldg_buf_printf(
        &b,
        "\n%lld events: %lld steps (%lld failed), %lld route decisions (%lld "
        "fallback%s), %lld policy decisions (%lld denied)\n",
        (long long)json_integer_value(json_object_get(c, "events")),
        (long long)json_integer_value(json_object_get(c, "steps")),
        (long long)json_integer_value(json_object_get(c, "steps_failed")),
        (long long)json_integer_value(json_object_get(c, "route_decisions")),
        (long long)json_integer_value(json_object_get(c, "fallbacks")),
        json_integer_value(json_object_get(c, "joined")) > 0
            ? "; a call both witnessed counted once"
            : "",
        (long long)json_integer_value(json_object_get(c, "policy_decisions")),
        (long long)json_integer_value(json_object_get(c, "denials")));
    if (b.err) {
        ldg_buf_release(&b);
        return LDG_ENOMEM;
    }
    *out = b.s;
    return 0;
}
