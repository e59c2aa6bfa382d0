/*
 * fold_routes.c — the folds of routes: their declarations, decisions (and
 * the proxy's records joined to the spans they witnessed), evals and
 * promotions. fold.c says what a fold may depend on.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "projections/proj_int.h"

/* ------------------------------------------------------------ routes -- */

int
fold_route_declared(struct pstate *ps, const struct penv *e,
                    const struct ldg_body_view *b)
{
    uint8_t key[PROJ_KEY_MAX + 1];
    struct rec_route *rec;
    struct ldg_slice name, model;
    json_t *fb, *thr;
    size_t kl;
    int rc;

    if (!ldg_body_view_str(b, "route", &name) ||
        !ldg_body_view_str(b, "model", &model))
        return 0;
    kl = KEY1(key, TAG_ROUTE, name);
    UPD(ps, P_ROUTES, key, kl);
    if (rec->name == NULL && (rc = set_sv(&rec->name, name)) < 0)
        return rc;
    rec->declared = 1;
    rec->declared_seq = e->seq;
    if ((rc = fold_set_field(&rec->pack, b, "pack")) < 0 ||
        (rc = set_sv(&rec->declared_model, model)) < 0 ||
        (rc = set_sv(&rec->current_model, model)) < 0 ||
        (rc = fold_set_field(&rec->eval_suite, b, "eval_suite")) < 0)
        return rc;
    rec->current_source = CS_DECLARED;
    rec->current_seq = e->seq;
    fb = ldg_body_view_json(b, "fallbacks");
    rc = fold_strlist_from_json(&rec->fallbacks, fb, PROJ_LIST_MAX);
    json_decref(fb);
    if (rc < 0)
        return rc;
    rec->fallbacks_truncated = (uint8_t)rc;
    thr = ldg_body_view_json(b, "threshold");
    rec->has_threshold = 0;
    rec->thr_value = 0;
    rc = fold_set_str(&rec->thr_metric, NULL);
    if (rc == 0)
        rc = fold_set_str(&rec->thr_op, NULL);
    if (rc == 0 && json_is_object(thr)) {
        const json_t *m = json_object_get(thr, "metric");
        const json_t *o = json_object_get(thr, "op");
        const json_t *v = json_object_get(thr, "value");
        if (json_is_string(m) && json_is_string(o) && json_is_number(v)) {
            rec->has_threshold = 1;
            rec->thr_value = json_number_value(v);
            rc = fold_set_str(&rec->thr_metric, json_string_value(m));
            if (rc == 0)
                rc = fold_set_str(&rec->thr_op, json_string_value(o));
        }
    }
    json_decref(thr);
    return rc;
}

/*
 * One call, two witnesses (routes 3). An application's span of a model
 * call (a route.decision with span_id, from the OTLP receiver) and the
 * proxy's record of the same request (a route.decision with upstream and
 * the caller's parent_span_id) are one call: the route's stats count it
 * once, as the app's span says it (its outcome, fallback and latency:
 * what the caller waited). They are paired as `ledger timeline` pairs
 * them (query/timeline_trace.c, tl_trace_tree): from the proxy record's parent
 * span up through the spans between (an HTTP client's span sits between
 * an instrumented `openai` call and the proxy) to the nearest decision
 * span. The fold sees them in the log's order, any order, so it keeps,
 * per trace and span id (TAG_RJOIN):
 *   - RJ_DECISION for each app decision span (a proxy record under it
 *     later is not counted);
 *   - RJ_LINK for each client span (otel.span with kind "client"): its
 *     parent, to walk up through;
 *   - RJ_PROXY for a proxy record counted while its call's span was not
 *     there yet, at the highest span known: its route and what it added,
 *     taken back when the decision span arrives (directly, or through a
 *     span that arrives later: any span a record waits at is walked up).
 * A proxy record with no app span (a client without instrumentation)
 * stays counted. The records are never removed (the projection store
 * has no delete): one per app model call and per client span.
 */
#define RJ_HOPS 8 /* spans walked up from a proxy record's parent */
#define RJ_SPAN_MAX 64

static int
rj_uncount(struct pstate *ps, const char *route, unsigned flags,
           uint32_t bucket)
{
    uint8_t key[PROJ_KEY_MAX + 1];
    struct rec_rstats *rec;
    size_t kl = KEY1(key, TAG_RSTATS, svs(route));
    UPD(ps, P_ROUTES, key, kl);
    /* it added what it takes back */
    if (LDG_NEVER(rec->count == 0))
        return 0;
    rec->count--;
    rec->fallback -= (flags & 1) && rec->fallback;
    rec->error -= (flags & 2) && rec->error;
    rec->refused -= (flags & 4) && rec->refused;
    if (bucket > 0 && bucket <= HIST_N && rec->hist[bucket - 1] > 0)
        rec->hist[bucket - 1]--;
    return 0;
}

/* A proxy record's call, from span sp of trace tr up: a decision span
 * found, *joined (and what the record added taken back when counted);
 * else the record waits at the highest span known (when counted). */
static int
rj_proxy(struct pstate *ps, struct ldg_slice tr, struct ldg_slice sp,
         const char *route, unsigned flags, uint32_t bucket, int counted,
         int *joined)
{
    uint8_t key[PROJ_KEY_MAX + 1];
    char cur[RJ_SPAN_MAX + 1];
    struct rec_rjoin *r = NULL, *rec;
    size_t kl;
    int hops;

    *joined = 0;
    for (hops = 0; hops < RJ_HOPS; hops++) {
        kl = KEY2(key, TAG_RJOIN, tr, sp);
        r = ps_get(ps, P_ROUTES, key, kl);
        if (r == NULL && ps->err)
            return ps->err;
        if (r != NULL && r->kind == RJ_DECISION) {
            *joined = 1;
            return counted ? rj_uncount(ps, route, flags, bucket) : 0;
        }
        if (r == NULL || r->kind != RJ_LINK || r->parent == NULL ||
            strlen(r->parent) > RJ_SPAN_MAX)
            break;
        memcpy(cur, r->parent, strlen(r->parent) + 1);
        sp = svs(cur);
    }
    if (!counted || (r != NULL && r->kind == RJ_LINK))
        return 0; /* (too deep: it stays counted) */
    kl = KEY2(key, TAG_RJOIN, tr, sp);
    UPD(ps, P_ROUTES, key, kl);
    rec->kind = RJ_PROXY;
    rec->flags = (uint8_t)flags;
    rec->bucket = bucket;
    return fold_set_str(&rec->route, route);
}

/* A span of an app's trace: a decision span (the call it is), or any
 * other (a proxy record waiting at it walks up; a client span's parent
 * is kept). */
static int
rj_span(struct pstate *ps, struct ldg_slice tr, struct ldg_slice sp,
        const struct ldg_body_view *b, int decision)
{
    uint8_t key[PROJ_KEY_MAX + 1];
    struct rec_rjoin *r, *rec;
    struct ldg_slice parent, kind;
    char route[PROJ_STR_MAX + 1] = "";
    unsigned flags = 0;
    uint32_t bucket = 0;
    int has_parent = ldg_body_view_str(b, "parent_span_id", &parent) &&
                     parent.n > 0 && parent.n <= RJ_SPAN_MAX;
    int client = ldg_body_view_str(b, "kind", &kind) && sv_eq(kind, "client");
    int joined = 0;
    size_t kl = KEY2(key, TAG_RJOIN, tr, sp);

    r = ps_get(ps, P_ROUTES, key, kl);
    if (r == NULL && ps->err)
        return ps->err;
    if (r != NULL && r->kind == RJ_PROXY) { /* a record waits here */
        snprintf(route, sizeof route, "%s", r->route ? r->route : "");
        flags = r->flags;
        bucket = r->bucket;
    }
    if (decision || client || (r != NULL && r->kind == RJ_PROXY)) {
        UPD(ps, P_ROUTES, key, kl);
        rec->kind = decision ? RJ_DECISION : RJ_LINK;
        rec->flags = 0;
        rec->bucket = 0;
        free(rec->route);
        rec->route = NULL;
        free(rec->parent);
        rec->parent = NULL;
        if (!decision && has_parent && set_sv(&rec->parent, parent) < 0)
            return LDG_ENOMEM;
    }
    if (route[0] == '\0')
        return 0;
    if (decision)
        return rj_uncount(ps, route, flags, bucket);
    if (!has_parent)
        return 0;
    return rj_proxy(ps, tr, parent, route, flags, bucket, 1, &joined);
}

int
fold_span_join(struct pstate *ps, const struct penv *e,
               const struct ldg_body_view *b)
{
    struct ldg_slice tr, sp;
    (void)e;
    if (ldg_body_view_erased(b) || !ldg_body_view_str(b, "trace_id", &tr) ||
        !ldg_body_view_str(b, "span_id", &sp) || tr.n == 0 || sp.n == 0 ||
        sp.n > RJ_SPAN_MAX)
        return 0;
    return rj_span(ps, tr, sp, b, 0);
}

int
fold_decision(struct pstate *ps, const struct penv *e,
              const struct ldg_body_view *b)
{
    uint8_t key[PROJ_KEY_MAX + 1];
    struct ldg_slice route, out;
    size_t kl;
    int fb = 0, have_out = 0;
    double lat;

    if (!ldg_body_view_str(b, "route", &route) &&
        !(ldg_body_view_erased(b) && kind_name(e->subject, "route", &route)))
        return 0;
    have_out = ldg_body_view_str(b, "outcome", &out);
    ldg_body_view_bool(b, "fallback", &fb);
    if (ps->mask & (1u << P_ROUTES)) {
        struct rec_rstats *rec;
        struct ldg_slice tr, sp, up;
        int px = 0, joined = 0, bk = -1, rc;
        unsigned flags = 0;
        char rname[PROJ_STR_MAX + 1];
        if (!ldg_body_view_erased(b)) {
            flags = (fb != 0) | (have_out && sv_eq(out, "error")) << 1 |
                    (have_out && sv_eq(out, "refused")) << 2;
            if (ldg_body_view_num(b, "latency_ms", &lat))
                bk = hist_bucket(lat);
        }
        /* one call, two witnesses: the proxy's record of a call whose
         * app span is in is not counted again */
        if (!ldg_body_view_erased(b) && ldg_body_view_str(b, "trace_id", &tr) &&
            tr.n > 0) {
            px = ldg_body_view_str(b, "upstream", &up) &&
                 ldg_body_view_str(b, "parent_span_id", &sp) && sp.n > 0 &&
                 sp.n <= RJ_SPAN_MAX;
            snprintf(rname, sizeof rname, "%.*s", (int)route.n, route.p);
            if (px && (rc = rj_proxy(ps, tr, sp, rname, flags,
                                     (uint32_t)(bk + 1), 0, &joined)) < 0)
                return rc;
            if (joined)
                return 0;
        }
        kl = KEY1(key, TAG_RSTATS, route);
        UPD(ps, P_ROUTES, key, kl);
        if (rec->route == NULL && set_sv(&rec->route, route) < 0)
            return LDG_ENOMEM;
        rec->count++;
        rec->last_seq = e->seq;
        if (ldg_body_view_erased(b)) {
            rec->unknown++;
        } else {
            struct ldg_slice cm;
            uint32_t k = 0;
            if (ldg_body_view_str(b, "chosen_model", &cm) && cm.n > 0) {
                while (k < rec->models.n &&
                       !(strlen(rec->models.v[k]) == cm.n &&
                         memcmp(rec->models.v[k], cm.p, cm.n) == 0))
                    k++;
                if (k == rec->models.n && k < PROJ_DECIDED_MAX &&
                    strlist_add(&rec->models, cm.p, cm.n) < 0)
                    return LDG_ENOMEM;
            }
            rec->fallback += (flags & 1) != 0;
            rec->error += (flags & 2) != 0;
            rec->refused += (flags & 4) != 0;
            if (bk >= 0)
                rec->hist[bk]++;
        }
        if (px) /* it waits for its call's span */
            return rj_proxy(ps, tr, sp, rname, flags, (uint32_t)(bk + 1), 1,
                            &joined);
        if (!ldg_body_view_erased(b) && ldg_body_view_str(b, "trace_id", &tr) &&
            tr.n > 0 && ldg_body_view_str(b, "span_id", &sp) && sp.n > 0 &&
            sp.n <= RJ_SPAN_MAX && !ldg_body_view_str(b, "upstream", &up))
            return rj_span(ps, tr, sp, b, 1);
    }
    return 0;
}

static int
fold_reval(struct pstate *ps, const struct penv *e,
           const struct ldg_body_view *b, struct ldg_slice route,
           struct ldg_slice cand)
{
    uint8_t key[PROJ_KEY_MAX + 1];
    struct rec_reval *rec;
    json_t *metrics;
    const char *names[PROJ_METRICS_MAX];
    const char *k;
    json_t *v;
    size_t kl, n = 0;
    int passed = 0, rc;
    int64_t i;

    kl = KEY2(key, TAG_REVAL, route, cand);
    UPD(ps, P_ROUTES, key, kl);
    if (rec->route == NULL && ((rc = set_sv(&rec->route, route)) < 0 ||
                               (rc = set_sv(&rec->candidate, cand)) < 0))
        return rc;
    ldg_body_view_bool(b, "passed", &passed);
    rec->passed = (uint8_t)passed;
    rec->cases_total = ldg_body_view_int(b, "cases_total", &i) ? i : 0;
    rec->cases_passed = ldg_body_view_int(b, "cases_passed", &i) ? i : 0;
    rec->has_violations =
        (uint8_t)ldg_body_view_int(b, "policy_violations", &i);
    rec->violations = rec->has_violations ? i : 0;
    rec->seq = e->seq;
    rec->ts = e->ts;
    if ((rc = fold_set_field(&rec->eval_id, b, "eval_id")) < 0 ||
        (rc = fold_set_field(&rec->suite, b, "suite")) < 0 ||
        (rc = fold_set_field(&rec->candidate_digest, b, "candidate_digest")) <
            0)
        return rc;
    for (uint32_t j = 0; j < rec->nmetrics; j++)
        free(rec->m[j].name);
    rec->nmetrics = 0;
    /* Numeric metrics, the first PROJ_METRICS_MAX by name. */
    metrics = ldg_body_view_json(b, "metrics");
    json_object_foreach(metrics, k, v)
    {
        size_t at;
        if (!json_is_number(v))
            continue;
        at = n;
        while (at > 0 && strcmp(names[at - 1], k) > 0)
            at--;
        if (at >= PROJ_METRICS_MAX)
            continue;
        if (n == PROJ_METRICS_MAX)
            n--;
        memmove(&names[at + 1], &names[at], (n - at) * sizeof names[0]);
        names[at] = k;
        n++;
    }
    for (size_t j = 0; j < n; j++) {
        rec->m[j].name = strdup(names[j]);
        rec->m[j].v = json_number_value(json_object_get(metrics, names[j]));
        rec->nmetrics = (uint32_t)j + 1;
        if (rec->m[j].name == NULL) {
            json_decref(metrics);
            return LDG_ENOMEM;
        }
    }
    json_decref(metrics);
    return 0;
}

static int
fold_peval(struct pstate *ps, const struct penv *e,
           const struct ldg_body_view *b, struct ldg_slice id)
{
    uint8_t key[PROJ_KEY_MAX + 1];
    struct rec_peval *rec;
    json_t *metrics;
    size_t kl = KEY1(key, TAG_PEVAL, id);
    int passed = 0, rc;
    int64_t tot = 0, pas = 0, i;
    const json_t *v;

    UPD(ps, P_PROMOTIONS, key, kl);
    if (rec->eval_id == NULL && (rc = set_sv(&rec->eval_id, id)) < 0)
        return rc;
    if ((rc = fold_set_field(&rec->target, b, "target")) < 0 ||
        (rc = fold_set_field(&rec->candidate, b, "candidate")) < 0 ||
        (rc = fold_set_field(&rec->suite, b, "suite")) < 0)
        return rc;
    ldg_body_view_bool(b, "passed", &passed);
    rec->passed = (uint8_t)passed;
    rec->seq = e->seq;
    metrics = ldg_body_view_json(b, "metrics");
    v = json_object_get(metrics, "pass_rate");
    rec->has_pass_rate = json_is_number(v);
    rec->pass_rate = rec->has_pass_rate ? json_number_value(v) : 0;
    if (!rec->has_pass_rate && ldg_body_view_int(b, "cases_total", &tot) &&
        ldg_body_view_int(b, "cases_passed", &pas) && tot > 0) {
        rec->has_pass_rate = 1;
        rec->pass_rate = (double)pas / (double)tot;
    }
    v = json_object_get(metrics, "latency_p50_ms");
    rec->has_p50 = json_is_number(v);
    rec->p50_ms = rec->has_p50 ? json_number_value(v) : 0;
    json_decref(metrics);
    rec->has_violations =
        (uint8_t)ldg_body_view_int(b, "policy_violations", &i);
    rec->violations = rec->has_violations ? i : 0;
    return 0;
}

int
fold_eval_result(struct pstate *ps, const struct penv *e,
                 const struct ldg_body_view *b)
{
    struct ldg_slice target, cand, id, route;
    int rc = 0;
    if (!ldg_body_view_str(b, "target", &target) ||
        !ldg_body_view_str(b, "candidate", &cand) ||
        !ldg_body_view_str(b, "eval_id", &id))
        return 0;
    if ((ps->mask & (1u << P_ROUTES)) && kind_name(target, "route", &route))
        rc = fold_reval(ps, e, b, route, cand);
    if (rc == 0 && (ps->mask & (1u << P_PROMOTIONS)))
        rc = fold_peval(ps, e, b, id);
    return rc;
}

/* -------------------------------------------------------- promotions -- */

/* Whether a promotion is gated, with the reason when it is not. */
static int
gate(struct pstate *ps, const struct rec_ptarget *t, struct ldg_slice target,
     struct ldg_slice cand, struct ldg_slice id, char *why, size_t cap)
{
    uint8_t key[PROJ_KEY_MAX + 1];
    const struct rec_peval *ev, *pe = NULL;
    size_t kl = KEY1(key, TAG_PEVAL, id);

    ev = ps_get(ps, P_PROMOTIONS, key, kl);
    if (ev == NULL) {
        snprintf(why, cap, "eval %.*s has no result", (int)id.n, id.p);
        return 0;
    }
    if (!ev->passed) {
        snprintf(why, cap, "eval %.*s did not pass", (int)id.n, id.p);
        return 0;
    }
    if (ev->target == NULL || ev->candidate == NULL ||
        !sv_eq(target, ev->target) || !sv_eq(cand, ev->candidate)) {
        snprintf(why, cap,
                 "eval %.*s is for %s with %s, not this target "
                 "and candidate",
                 (int)id.n, id.p, ev->target ? ev->target : "?",
                 ev->candidate ? ev->candidate : "?");
        return 0;
    }
    if (t->candidate != NULL && t->eval_id != NULL) {
        kl = KEY1(key, TAG_PEVAL, svs(t->eval_id));
        pe = ps_get(ps, P_PROMOTIONS, key, kl);
    }
    if (pe == NULL)
        return 1;
    if (ev->has_pass_rate && pe->has_pass_rate &&
        ev->pass_rate < pe->pass_rate) {
        snprintf(why, cap, "pass rate %g is lower than %g of %s (eval %s)",
                 ev->pass_rate, pe->pass_rate, t->candidate, t->eval_id);
        return 0;
    }
    if (ev->has_p50 && pe->has_p50 && ev->p50_ms > pe->p50_ms) {
        snprintf(why, cap,
                 "p50 latency %g ms is higher than %g ms of %s "
                 "(eval %s)",
                 ev->p50_ms, pe->p50_ms, t->candidate, t->eval_id);
        return 0;
    }
    if ((ev->has_violations ? ev->violations : 0) >
        (pe->has_violations ? pe->violations : 0)) {
        snprintf(why, cap,
                 "%lld policy violations, more than %lld of %s "
                 "(eval %s)",
                 (long long)ev->violations,
                 (long long)(pe->has_violations ? pe->violations : 0),
                 t->candidate, t->eval_id);
        return 0;
    }
    return 1;
}

int
promotion_gate(struct pstate *ps, const char *target, const char *cand,
               const char *eval_id, char *why, size_t cap)
{
    uint8_t key[PROJ_KEY_MAX + 1];
    static const struct rec_ptarget none;
    const struct rec_ptarget *rec;
    size_t kl = KEY1(key, TAG_PTARGET, svs(target));

    rec = ps_get(ps, P_PROMOTIONS, key, kl);
    if (rec == NULL && ps->err != 0)
        return ps->err;
    return gate(ps, rec ? rec : &none, svs(target), svs(cand), svs(eval_id),
                why, cap);
}

static int
add_history(struct pstate *ps, const struct penv *e, struct ldg_slice target,
            uint8_t kind, const char *cand, const char *eval_id,
            const char *previous, const char *reason, int ungated)
{
    uint8_t key[PROJ_KEY_MAX + 1 + 9], seqb[8];
    struct rec_phist *rec;
    struct ldg_slice s;
    size_t kl;
    int rc;
    ldg_be64(seqb, e->seq);
    s.p = (const char *)seqb;
    s.n = 8;
    kl = KEY2(key, TAG_PHIST, target, s);
    UPD(ps, P_PROMOTIONS, key, kl);
    rec->seq = e->seq;
    rec->ts = e->ts;
    rec->kind = kind;
    rec->ungated = (uint8_t)ungated;
    if ((rc = set_sv(&rec->target, target)) < 0 ||
        (rc = fold_set_str(&rec->candidate, cand)) < 0 ||
        (rc = fold_set_str(&rec->eval_id, eval_id)) < 0 ||
        (rc = fold_set_str(&rec->previous, previous)) < 0 ||
        (rc = fold_set_str(&rec->reason, reason)) < 0)
        return rc;
    return 0;
}

/* Makes model the current model of route:R targets. */
static int
route_current(struct pstate *ps, const struct penv *e, struct ldg_slice target,
              struct ldg_slice model, uint8_t source)
{
    uint8_t key[PROJ_KEY_MAX + 1];
    struct rec_route *rec;
    struct ldg_slice route;
    size_t kl;
    int rc;
    if (!(ps->mask & (1u << P_ROUTES)) || !kind_name(target, "route", &route))
        return 0;
    kl = KEY1(key, TAG_ROUTE, route);
    UPD(ps, P_ROUTES, key, kl);
    if (rec->name == NULL && (rc = set_sv(&rec->name, route)) < 0)
        return rc;
    rec->current_source = source;
    rec->current_seq = e->seq;
    return set_sv(&rec->current_model, model);
}

static char *
sv_cstr(struct ldg_slice s)
{
    return dup_sv(s);
}

int
fold_promotion(struct pstate *ps, const struct penv *e,
               const struct ldg_body_view *b)
{
    uint8_t key[PROJ_KEY_MAX + 1];
    struct rec_ptarget *rec;
    struct ldg_slice target, cand = {NULL, 0}, id = {NULL, 0},
                             reason = {NULL, 0};
    struct ldg_slice prev = {NULL, 0};
    char *c = NULL, *i = NULL, *r = NULL, *pv = NULL;
    char why[512] = "";
    size_t kl;
    int rc = 0, gated = 1;

    if (!ldg_body_view_str(b, "target", &target))
        return 0;
    if (e->type == T_PROMOTION_ROLLED_BACK) {
        if (!ldg_body_view_str(b, "to", &cand))
            return 0;
    } else if (!ldg_body_view_str(b, "candidate", &cand)) {
        return 0;
    }
    ldg_body_view_str(b, "eval_id", &id);
    ldg_body_view_str(b, "reason", &reason);
    ldg_body_view_str(b, "previous", &prev);
    if (e->type == T_PROMOTION_PROMOTED &&
        (rc = route_current(ps, e, target, cand, CS_PROMOTED)) < 0)
        return rc;
    if (e->type == T_PROMOTION_ROLLED_BACK &&
        (rc = route_current(ps, e, target, cand, CS_ROLLED_BACK)) < 0)
        return rc;
    if (!(ps->mask & (1u << P_PROMOTIONS)))
        return 0;
    kl = KEY1(key, TAG_PTARGET, target);
    UPD(ps, P_PROMOTIONS, key, kl);
    if (rec->target == NULL && (rc = set_sv(&rec->target, target)) < 0)
        return rc;
    c = sv_cstr(cand);
    i = id.p ? sv_cstr(id) : NULL;
    r = reason.p ? sv_cstr(reason) : NULL;
    pv = prev.p ? sv_cstr(prev) : NULL;
    if (c == NULL || (id.p && !i) || (reason.p && !r) || (prev.p && !pv)) {
        rc = LDG_ENOMEM;
        goto out;
    }
    switch (e->type) {
    case T_PROMOTION_REQUESTED:
        rec->requested++;
        rec->pending_seq = e->seq;
        if ((rc = fold_set_str(&rec->pending_candidate, c)) < 0 ||
            (rc = fold_set_str(&rec->pending_eval_id, i)) < 0)
            goto out;
        rc = add_history(ps, e, target, HK_REQUESTED, c, i, NULL, NULL, 0);
        break;
    case T_PROMOTION_PROMOTED:
        gated = i != NULL && gate(ps, rec, target, cand, id, why, sizeof why);
        if (i == NULL)
            snprintf(why, sizeof why, "no eval_id");
        rec->promoted++;
        rec->ungated_total += !gated;
        /* The candidate in force becomes the previous one. */
        if ((rc = fold_set_str(&rec->prev_candidate, rec->candidate)) < 0 ||
            (rc = fold_set_str(&rec->prev_eval_id, rec->eval_id)) < 0)
            goto out;
        rec->prev_ungated = rec->ungated;
        if (pv == NULL && rec->candidate != NULL &&
            (pv = strdup(rec->candidate)) == NULL) {
            rc = LDG_ENOMEM;
            goto out;
        }
        if ((rc = fold_set_str(&rec->candidate, c)) < 0 ||
            (rc = fold_set_str(&rec->eval_id, i)) < 0 ||
            (rc = fold_set_str(&rec->ungated_reason, gated ? NULL : why)) < 0)
            goto out;
        rec->ungated = (uint8_t)!gated;
        rec->seq = e->seq;
        rec->source = CS_PROMOTED;
        if (rec->pending_candidate && strcmp(rec->pending_candidate, c) == 0) {
            fold_set_str(&rec->pending_candidate, NULL);
            fold_set_str(&rec->pending_eval_id, NULL);
            rec->pending_seq = 0;
        }
        rc = add_history(ps, e, target, HK_PROMOTED, c, i, pv,
                         gated ? NULL : why, !gated);
        break;
    case T_PROMOTION_REJECTED:
        rec->rejected++;
        if (rec->pending_candidate && strcmp(rec->pending_candidate, c) == 0) {
            fold_set_str(&rec->pending_candidate, NULL);
            fold_set_str(&rec->pending_eval_id, NULL);
            rec->pending_seq = 0;
        }
        rc = add_history(ps, e, target, HK_REJECTED, c, NULL, NULL, r, 0);
        break;
    default: { /* T_PROMOTION_ROLLED_BACK */
        char *oldc = rec->candidate, *olde = rec->eval_id;
        uint8_t oldu = rec->ungated;
        rec->rolled_back++;
        if (rec->prev_candidate && strcmp(rec->prev_candidate, c) == 0) {
            /* Back to the candidate promoted before: its eval and gating
             * come back with it. */
            rec->candidate = rec->prev_candidate;
            rec->eval_id = rec->prev_eval_id;
            rec->ungated = rec->prev_ungated;
        } else {
            rec->candidate = strdup(c);
            rec->eval_id = NULL;
            rec->ungated = 0;
            free(rec->prev_eval_id);
            free(rec->prev_candidate);
            if (rec->candidate == NULL) {
                rec->prev_candidate = oldc;
                rec->prev_eval_id = olde;
                rc = LDG_ENOMEM;
                goto out;
            }
        }
        rec->prev_candidate = oldc;
        rec->prev_eval_id = olde;
        rec->prev_ungated = oldu;
        if (fold_set_str(&rec->ungated_reason,
                         rec->ungated ? "rolled back to a candidate whose "
                                        "promotion was ungated"
                                      : NULL) < 0) {
            rc = LDG_ENOMEM;
            goto out;
        }
        rec->seq = e->seq;
        rec->source = CS_ROLLED_BACK;
        rc = add_history(ps, e, target, HK_ROLLED_BACK, c, NULL, oldc, r, 0);
        break;
    }
    }
out:
    free(c);
    free(i);
    free(r);
    free(pv);
    return rc;
}
