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
#include "query/timeline_int.h"

static json_t *
time_str(uint64_t ts_ns)
{
    char b[LDG_TIME_NS_LEN];
    return json_string(ldg_time_rfc3339_ns(b, sizeof b, ts_ns));
}

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

int
tl_jstr_is(const json_t *o, const char *k, const char *want)
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

int
tl_on_run_event(void *ctx, uint64_t seq)
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
        tl->steps_failed += tl_jstr_is(body, "status", "failed");
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
        tl->denials += tl_jstr_is(body, "decision", "deny");
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
                            json_boolean(tl_jstr_is(body, "decision", "deny")));
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
    if (tl_jstr_is(body, "pack", tl->pack) &&
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

int
tl_seq_cmp(const void *a, const void *b)
{
    uint64_t x = strtoull(ldg_json_str(*(json_t *const *)a, "seq"), NULL, 10),
             y = strtoull(ldg_json_str(*(json_t *const *)b, "seq"), NULL, 10);
    return x < y ? -1 : x > y;
}

static int
rel_cmp(const void *a, const void *b)
{
    json_int_t x = json_integer_value(
                   json_object_get(*(json_t *const *)a, "rel_us")),
               y = json_integer_value(
                   json_object_get(*(json_t *const *)b, "rel_us"));
    return x < y ? -1 : x > y ? 1 : tl_seq_cmp(a, b);
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
    uint64_t ts = strtoull(ldg_json_str(v, "recorded_ts"), NULL, 10),
             seq = strtoull(ldg_json_str(v, "seq"), NULL, 10);

    if (runs != NULL) { /* the run is on the source's clock */
        size_t lo = 0, hi = nruns;
        if (tl_jstr_is(v, "clock", "source")) {
            uint64_t s = strtoull(ldg_json_str(v, "ts"), NULL, 10);
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
    if (tl_jstr_is(tl->root, "clock", "source") &&
        (runs = malloc((n ? n : 1) * sizeof *runs)) != NULL) {
        for (i = 0; i < n; i++) {
            runs[i].seq = strtoull(ldg_json_str(all[i], "seq"), NULL, 10);
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
    return json_is_string(o) ? strtoull(json_string_value(o), NULL, 10) : 0;
}

static int
order_cmp(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    uint64_t p = order_of(x), q = order_of(y);
    return p < q ? -1 : p > q ? 1 : tl_seq_cmp(a, b);
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
        if (tl_jstr_is(e, "clock", "source") && json_is_string(st)) {
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

/* Adds rel_ms to each event and the end summary. */
static void
finish(struct tl *tl)
{
    /* from the start; a start before the horizon counts too (its time is
     * the runs projection's, tl_pruned_start) */
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
        if (tl_jstr_is(e, "kind", "end"))
            end = e;
        if (i == 0 || ts > last)
            last = ts; /* on the source's clock the last may come early */
    }
    if (!tl_jstr_is(tl->root, "clock", "source"))
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
    tl_trace_tree(tl);
    if (end == NULL && !tl->have_start && !tl->started_pruned)
        tl_trace_status(tl);
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
        rc = tl_trace_walk(&tl, trace);
    else
        rc = ldg_index_walk(t, LDG_INDEX_RUN, run, 0, UINT64_MAX, 0,
                            tl_on_run_event, &tl);
    if (rc == 0)
        rc = tl.err;
    if (rc == 0 && trace == NULL && tl.have_first)
        rc = tl_witness_walk(&tl);
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
    if (!tl.have_start && (rc = tl_pruned_start(&tl, &cut)) < 0)
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
        tl_nest_order(&tl);
    if (rc == 0)
        rc = tl_add_signers(t, tl.events);
    if (rc == 0)
        rc = tl_add_signers(t, json_object_get(tl.root, "permissions"));
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
