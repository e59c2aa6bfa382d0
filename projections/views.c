/*
 * views.c — the JSON form of every view, one object per row, rows sorted
 * by key. Sequence numbers, nanosecond times and byte sizes are strings
 * (64-bit); counts are JSON integers; rates and latencies are numbers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "projections/proj_int.h"

json_t *
sv_json(const char *s)
{
    return s ? json_string(s) : json_null();
}

char *
canonical_json(const json_t *v)
{
    return json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}

json_t *
time_json(uint64_t ts_ns)
{
    char buf[LDG_TIME_NS_LEN];
    return json_string(ldg_time_rfc3339_ns(buf, sizeof buf, ts_ns));
}

static json_t *
strlist_json(const struct strlist *l)
{
    json_t *a = json_array();
    for (uint32_t i = 0; i < l->n; i++)
        json_array_append_new(a, json_string(l->v[i]));
    return a;
}

static const char *
tri_name(uint8_t t)
{
    return t == TRI_OK ? "ok" : t == TRI_FAIL ? "failed" : "never";
}

/* ------------------------------------------------------------- packs -- */

static const char *
req_name(enum req_state s)
{
    static const char *const n[] = {"granted", "granted-demo", "denied",
                                    "revoked", "expired",      "undecided"};
    return n[s];
}

static json_t *
pack_json(struct pstate *ps, const struct rec_pack *p)
{
    json_t *o = json_object(), *reasons = json_array(), *req, *perms;
    int partial;
    enum pack_state st = pack_state_of(ps, p, ps->last_ts, &partial, reasons);

    json_object_set_new(o, "pack", json_string(p->name));
    json_object_set_new(o, "version", sv_json(p->version));
    json_object_set_new(o, "state", json_string(pack_state_name(st)));
    json_object_set_new(o, "partial", json_boolean(partial));
    if (partial)
        json_array_append_new(reasons,
                              json_string("partial: an optional permission "
                                          "group was denied or revoked"));
    json_object_set_new(o, "reasons", reasons);
    json_object_set_new(o, "enabled", json_boolean(p->enabled));
    json_object_set_new(o, "installed_seq", ldg_json_u64(p->installed_seq));
    json_object_set_new(o, "installed", time_json(p->installed_ts));
    json_object_set_new(o, "manifest_digest", sv_json(p->manifest_digest));
    json_object_set_new(o, "validated", json_string(tri_name(p->validated)));
    json_object_set_new(o, "checked", json_string(tri_name(p->checked)));
    json_object_set_new(o, "upgrades", json_integer(p->upgrades));
    if (p->upgrades > 0) {
        json_object_set_new(o, "upgraded_from", sv_json(p->upgraded_from));
        json_object_set_new(o, "upgraded_seq", ldg_json_u64(p->upgraded_seq));
    }
    perms = json_array();
    for (uint32_t i = 0; i < p->nperms; i++) {
        const struct preq *r = &p->perms[i];
        const struct rec_perm *d;
        enum req_state s = req_effective(ps, p, r, ps->last_ts, &d);
        json_array_append_new(
            perms,
            json_pack("{s:s, s:s, s:o, s:b, s:s, s:o}", "group", r->group,
                      "scope", r->scope, "tier", sv_json(r->tier), "optional",
                      r->optional, "state", req_name(s), "since_seq",
                      ldg_json_u64(r->since_seq)));
    }
    req = json_object();
    json_object_set_new(req, "permissions", perms);
    json_object_set_new(req, "routes", strlist_json(&p->routes));
    json_object_set_new(req, "models", strlist_json(&p->models));
    json_object_set_new(req, "evals", strlist_json(&p->evals));
    json_object_set_new(o, "requires", req);
    json_object_set_new(o, "last_seq", ldg_json_u64(p->last_seq));
    return o;
}

json_t *
view_packs(struct pstate *ps, const char *only)
{
    struct pentry **v = NULL;
    size_t n = 0;
    json_t *a;
    if (ps_load_for_doctor(ps) < 0 ||
        ps_list(ps, P_PACKS, TAG_PACK, &v, &n) < 0)
        return NULL;
    a = json_array();
    for (size_t i = 0; i < n; i++) {
        const struct rec_pack *p = v[i]->rec;
        if (only == NULL || strcmp(p->name, only) == 0)
            json_array_append_new(a, pack_json(ps, p));
    }
    free(v);
    return a;
}

/* ------------------------------------------------------- permissions -- */

/* How the pack's current requirements see this (group, scope). */
static const char *
required_as(struct pstate *ps, const struct rec_perm *g)
{
    uint8_t key[PROJ_KEY_MAX + 1];
    struct ldg_slice s = {g->pack, strlen(g->pack)};
    size_t kl = pkey(key, TAG_PACK, &s, 1);
    const struct rec_pack *p = ps_get(ps, P_PACKS, key, kl);
    if (p == NULL)
        return "no";
    for (uint32_t i = 0; i < p->nperms; i++)
        if (strcmp(p->perms[i].group, g->group) == 0 &&
            strcmp(p->perms[i].scope, g->scope) == 0)
            return p->perms[i].optional ? "optional" : "required";
    return "no";
}

json_t *
view_permissions(struct pstate *ps, const char *only_pack)
{
    static const char *const st[] = {"none", "requested", "granted", "denied",
                                     "revoked"};
    struct pentry **v = NULL;
    size_t n = 0;
    json_t *a;
    if (ps_load_tag(ps, P_PACKS, TAG_PACK) < 0 ||
        ps_list(ps, P_PERMISSIONS, TAG_PERM, &v, &n) < 0)
        return NULL;
    a = json_array();
    for (size_t i = 0; i < n; i++) {
        const struct rec_perm *g = v[i]->rec;
        json_t *o;
        const char *state = st[g->state < 5 ? g->state : 0];
        int decided = g->state >= PS_GRANTED;
        if (only_pack != NULL && strcmp(g->pack, only_pack) != 0)
            continue;
        if (g->state == PS_GRANTED && g->expires_ns != 0 &&
            ps->last_ts >= g->expires_ns)
            state = "expired";
        o = json_object();
        json_object_set_new(o, "pack", json_string(g->pack));
        json_object_set_new(o, "group", json_string(g->group));
        json_object_set_new(o, "scope", json_string(g->scope));
        json_object_set_new(o, "tier", sv_json(g->tier));
        json_object_set_new(o, "state", json_string(state));
        json_object_set_new(o, "required", json_string(required_as(ps, g)));
        json_object_set_new(o, "by", decided ? sv_json(g->by) : json_null());
        json_object_set_new(
            o, "seq",
            ldg_json_u64(decided ? g->decided_seq : g->requested_seq));
        json_object_set_new(
            o, "time", time_json(decided ? g->decided_ts : g->requested_ts));
        json_object_set_new(
            o, "ts", ldg_json_u64(decided ? g->decided_ts : g->requested_ts));
        if (g->requested_seq)
            json_object_set_new(o, "requested_seq",
                                ldg_json_u64(g->requested_seq));
        if (g->expires_ns != 0) {
            json_object_set_new(o, "expires",
                                g->bad_expires ? json_string("unreadable")
                                               : time_json(g->expires_ns));
        }
        if (decided && g->reason)
            json_object_set_new(o, "reason", json_string(g->reason));
        json_array_append_new(a, o);
    }
    free(v);
    return a;
}

/* ------------------------------------------------------------ models -- */

static int
cmp_model_row(const void *a, const void *b)
{
    return strcmp(
        json_string_value(json_object_get(*(json_t *const *)a, "model")),
        json_string_value(json_object_get(*(json_t *const *)b, "model")));
}

/* The models the route decisions chose that the registry does not know
 * (no model.* event names them): a row each, "known_from": "decisions",
 * with the routes whose decisions chose it (role "decided"); rows stay
 * sorted by model. The registry's rows say "known_from": "registry". */
static int
decided_models(struct pstate *ps, json_t *a)
{
    struct pentry **sv = NULL;
    size_t ns = 0, i, n;
    json_t *seen = json_object(), *o, *l, **all;
    const char *k;

    if (seen == NULL || ps_list(ps, P_ROUTES, TAG_RSTATS, &sv, &ns) < 0) {
        json_decref(seen);
        return LDG_ENOMEM;
    }
    json_array_foreach(a, i, o)
    {
        json_object_set_new(o, "known_from", json_string("registry"));
        json_object_set_new(
            seen, json_string_value(json_object_get(o, "model")), json_null());
    }
    for (i = 0; i < ns; i++) {
        const struct rec_rstats *st = sv[i]->rec;
        for (uint32_t m = 0; m < st->models.n; m++) {
            l = json_object_get(seen, st->models.v[m]);
            if (json_is_null(l))
                continue; /* registered: its row is there */
            if (l == NULL) {
                l = json_array();
                json_object_set_new(seen, st->models.v[m], l);
            }
            json_array_append_new(l, json_pack("{s:s, s:s}", "route", st->route,
                                               "role", "decided"));
        }
    }
    free(sv);
    json_object_foreach(seen, k, l)
    {
        if (json_is_null(l))
            continue;
        o = json_pack("{s:s, s:b, s:s, s:o, s:o, s:s, s:b, s:s, s:O}", "model",
                      k, "registered", 0, "known_from", "decisions", "digest",
                      json_null(), "runtime", json_null(), "state", "unknown",
                      "usable", 0, "verified", "unverified", "routes", l);
        json_array_append_new(a, o);
    }
    json_decref(seen);
    /* sorted by model, as every view's rows are by key */
    n = json_array_size(a);
    all = malloc((n ? n : 1) * sizeof *all);
    if (all == NULL)
        return LDG_ENOMEM;
    for (i = 0; i < n; i++)
        all[i] = json_incref(json_array_get(a, i));
    qsort(all, n, sizeof *all, cmp_model_row);
    json_array_clear(a);
    for (i = 0; i < n; i++)
        json_array_append_new(a, all[i]);
    free(all);
    return 0;
}

json_t *
view_models(struct pstate *ps)
{
    static const char *const st[] = {"unknown", "available", "loaded",
                                     "parked",  "offline",   "removed"};
    static const char *const rts[] = {"unknown", "up", "degraded", "down"};
    struct pentry **v = NULL, **rv = NULL;
    size_t n = 0, nr = 0;
    json_t *a, *served;

    if (ps_load_tag(ps, P_MODELS, TAG_RUNTIME) < 0 ||
        ps_list(ps, P_ROUTES, TAG_ROUTE, &rv, &nr) < 0)
        return NULL;
    if (ps_list(ps, P_MODELS, TAG_MODEL, &v, &n) < 0) {
        free(rv);
        return NULL;
    }
    served = json_object();
    for (size_t i = 0; i < nr; i++) {
        const struct rec_route *r = rv[i]->rec;
        json_t *l;
        if (r->current_model == NULL)
            continue;
        l = json_object_get(served, r->current_model);
        if (l == NULL) {
            l = json_array();
            json_object_set_new(served, r->current_model, l);
        }
        json_array_append_new(
            l, json_pack("{s:s, s:s}", "route", r->name, "role", "primary"));
        for (uint32_t k = 0; k < r->fallbacks.n; k++) {
            l = json_object_get(served, r->fallbacks.v[k]);
            if (l == NULL) {
                l = json_array();
                json_object_set_new(served, r->fallbacks.v[k], l);
            }
            json_array_append_new(l, json_pack("{s:s, s:s}", "route", r->name,
                                               "role", "fallback"));
        }
    }
    a = json_array();
    for (size_t i = 0; i < n; i++) {
        const struct rec_model *m = v[i]->rec;
        json_t *o = json_object(), *rs = json_object_get(served, m->name);
        const char *ver = "unverified";
        if (m->verified == VS_OK)
            ver = m->digest && m->verified_digest &&
                          strcmp(m->digest, m->verified_digest) == 0
                      ? "ok"
                      : "stale";
        else if (m->verified == VS_FAILED)
            ver = "failed";
        json_object_set_new(o, "model", json_string(m->name));
        json_object_set_new(o, "registered", json_boolean(m->registered));
        json_object_set_new(o, "digest", sv_json(m->digest));
        json_object_set_new(o, "runtime", sv_json(m->runtime));
        if (m->runtime != NULL) {
            uint8_t key[PROJ_KEY_MAX + 1];
            struct ldg_slice s = {m->runtime, strlen(m->runtime)};
            size_t kl = pkey(key, TAG_RUNTIME, &s, 1);
            const struct rec_runtime *rt = ps_get(ps, P_MODELS, key, kl);
            json_object_set_new(o, "runtime_status",
                                json_string(rts[rt ? rt->status : 0]));
        }
        json_object_set_new(o, "state",
                            json_string(st[m->state < 6 ? m->state : 0]));
        if (m->state_reason)
            json_object_set_new(o, "state_reason",
                                json_string(m->state_reason));
        if (m->state_seq)
            json_object_set_new(o, "state_seq", ldg_json_u64(m->state_seq));
        json_object_set_new(o, "usable",
                            json_boolean(model_usable(ps, m->name)));
        json_object_set_new(o, "verified", json_string(ver));
        if (m->verified)
            json_object_set_new(o, "verified_seq",
                                ldg_json_u64(m->verified_seq));
        json_object_set_new(o, "format", sv_json(m->format));
        json_object_set_new(o, "quant", sv_json(m->quant));
        json_object_set_new(o, "size_bytes",
                            m->has_size
                                ? json_integer((json_int_t)m->size_bytes)
                                : json_null());
        json_object_set_new(o, "license", sv_json(m->license));
        json_object_set_new(o, "capabilities", strlist_json(&m->capabilities));
        json_object_set_new(o, "source",
                            json_pack("{s:o, s:o}", "url",
                                      sv_json(m->source_url), "sha256",
                                      sv_json(m->source_sha256)));
        if (m->registered)
            json_object_set_new(o, "registered_seq",
                                ldg_json_u64(m->registered_seq));
        json_object_set(o, "routes", rs ? rs : json_array());
        if (rs == NULL)
            json_decref(json_object_get(o, "routes"));
        json_array_append_new(a, o);
    }
    json_decref(served);
    free(v);
    free(rv);
    if (a != NULL && decided_models(ps, a) < 0) {
        json_decref(a);
        return NULL;
    }
    return a;
}

/* ------------------------------------------------------------ routes -- */

static json_t *
stats_json(const struct rec_rstats *s)
{
    json_t *o = json_object();
    double p50, p95;
    uint64_t c = s ? s->count : 0;
    json_object_set_new(o, "count", json_integer(s ? (json_int_t)c : 0));
    json_object_set_new(o, "fallback_rate",
                        c ? json_real((double)s->fallback / (double)c)
                          : json_null());
    json_object_set_new(o, "error_rate",
                        c ? json_real((double)s->error / (double)c)
                          : json_null());
    json_object_set_new(o, "refused",
                        json_integer(s ? (json_int_t)s->refused : 0));
    json_object_set_new(o, "unknown",
                        json_integer(s ? (json_int_t)s->unknown : 0));
    p50 = s ? hist_percentile(s->hist, 0.50) : -1;
    p95 = s ? hist_percentile(s->hist, 0.95) : -1;
    json_object_set_new(o, "latency_p50_ms",
                        p50 >= 0 ? json_real(p50) : json_null());
    json_object_set_new(o, "latency_p95_ms",
                        p95 >= 0 ? json_real(p95) : json_null());
    return o;
}

static json_t *
eval_json(const struct rec_reval *e)
{
    json_t *o = json_object(), *m = json_object();
    json_object_set_new(o, "eval_id", sv_json(e->eval_id));
    json_object_set_new(o, "suite", sv_json(e->suite));
    json_object_set_new(o, "candidate", sv_json(e->candidate));
    json_object_set_new(o, "candidate_digest", sv_json(e->candidate_digest));
    json_object_set_new(o, "passed", json_boolean(e->passed));
    json_object_set_new(o, "cases_total", json_integer(e->cases_total));
    json_object_set_new(o, "cases_passed", json_integer(e->cases_passed));
    for (uint32_t i = 0; i < e->nmetrics; i++)
        json_object_set_new(m, e->m[i].name, json_real(e->m[i].v));
    json_object_set_new(o, "metrics", m);
    if (e->has_violations)
        json_object_set_new(o, "policy_violations",
                            json_integer(e->violations));
    json_object_set_new(o, "seq", ldg_json_u64(e->seq));
    return o;
}

static json_t *
route_json(struct pstate *ps, const struct rec_route *r,
           const struct rec_rstats *s, const char *name)
{
    static const char *const src[] = {"declared", "promoted", "rolled-back"};
    json_t *o = json_object();
    struct route_eval_info info;

    json_object_set_new(o, "route", json_string(name));
    if (r != NULL) {
        route_readiness(ps, r, &info, 1);
        json_object_set_new(o, "pack", sv_json(r->pack));
        json_object_set_new(o, "model", sv_json(r->current_model));
        json_object_set_new(o, "declared_model", sv_json(r->declared_model));
        json_object_set_new(
            o, "current_source",
            json_string(src[r->current_source < 3 ? r->current_source : 0]));
        json_object_set_new(o, "current_seq", ldg_json_u64(r->current_seq));
        json_object_set_new(o, "fallbacks", strlist_json(&r->fallbacks));
        json_object_set_new(o, "eval_suite", sv_json(r->eval_suite));
        json_object_set_new(o, "threshold",
                            r->has_threshold
                                ? json_pack("{s:s, s:s, s:f}", "metric",
                                            r->thr_metric, "op", r->thr_op,
                                            "value", r->thr_value)
                                : json_null());
        json_object_set_new(o, "readiness",
                            json_string(route_ready_name(info.ready)));
        json_object_set_new(o, "detail", json_string(info.detail));
        json_object_set_new(o, "serving", sv_json(info.serving));
        json_object_set_new(o, "eval",
                            info.eval ? eval_json(info.eval) : json_null());
        if (r->declared)
            json_object_set_new(o, "declared_seq",
                                ldg_json_u64(r->declared_seq));
    } else {
        json_object_set_new(o, "pack", json_null());
        json_object_set_new(o, "model", json_null());
        json_object_set_new(o, "readiness", json_string("undeclared"));
        json_object_set_new(
            o, "detail",
            json_string("decisions were recorded for a route that was never "
                        "declared (its model: what they chose)"));
    }
    json_object_set_new(o, "decisions", stats_json(s));
    /* the models its decisions chose (routes 3), the first 8 */
    json_object_set_new(o, "decided_models",
                        s ? strlist_json(&s->models) : json_array());
    return o;
}

json_t *
view_routes(struct pstate *ps)
{
    struct pentry **d = NULL, **s = NULL;
    size_t nd = 0, ns = 0, i = 0, j = 0;
    json_t *a;
    int rc;

    if ((rc = ps_load_for_doctor(ps)) < 0 ||
        (rc = ps_list(ps, P_ROUTES, TAG_ROUTE, &d, &nd)) < 0 ||
        (rc = ps_list(ps, P_ROUTES, TAG_RSTATS, &s, &ns)) < 0) {
        free(d);
        return NULL;
    }
    a = json_array();
    /* Merge the two sorted lists by the name part of the key. */
    while (i < nd || j < ns) {
        const struct rec_route *r = i < nd ? d[i]->rec : NULL;
        const struct rec_rstats *st = j < ns ? s[j]->rec : NULL;
        int c;
        if (r == NULL)
            c = 1;
        else if (st == NULL)
            c = -1;
        else
            c = strcmp(r->name, st->route);
        if (c == 0) {
            json_array_append_new(a, route_json(ps, r, st, r->name));
            i++;
            j++;
        } else if (c < 0) {
            json_array_append_new(a, route_json(ps, r, NULL, r->name));
            i++;
        } else {
            json_array_append_new(a, route_json(ps, NULL, st, st->route));
            j++;
        }
    }
    free(d);
    free(s);
    return a;
}

/* -------------------------------------------------------- promotions -- */

static int
cmp_hist(const void *a, const void *b)
{
    const struct rec_phist *x = (*(struct pentry *const *)a)->rec;
    const struct rec_phist *y = (*(struct pentry *const *)b)->rec;
    int c = strcmp(x->target, y->target);
    if (c != 0)
        return c;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

json_t *
view_promotions(struct pstate *ps)
{
    static const char *const kind[] = {"?", "requested", "promoted", "rejected",
                                       "rolled-back"};
    static const char *const src[] = {"?", "promoted", "rolled-back"};
    struct pentry **t = NULL, **h = NULL;
    size_t nt = 0, nh = 0, j = 0;
    json_t *a;

    if (ps_list(ps, P_PROMOTIONS, TAG_PTARGET, &t, &nt) < 0)
        return NULL;
    if (ps_list(ps, P_PROMOTIONS, TAG_PHIST, &h, &nh) < 0) {
        free(t);
        return NULL;
    }
    qsort(h, nh, sizeof *h, cmp_hist);
    a = json_array();
    for (size_t i = 0; i < nt; i++) {
        const struct rec_ptarget *x = t[i]->rec;
        json_t *o = json_object(), *hist = json_array();
        json_object_set_new(o, "target", json_string(x->target));
        json_object_set_new(o, "candidate", sv_json(x->candidate));
        json_object_set_new(o, "eval_id", sv_json(x->eval_id));
        if (x->candidate) {
            json_object_set_new(o, "seq", ldg_json_u64(x->seq));
            json_object_set_new(
                o, "source", json_string(src[x->source < 3 ? x->source : 0]));
        }
        json_object_set_new(o, "ungated", json_boolean(x->ungated));
        if (x->ungated)
            json_object_set_new(o, "ungated_reason",
                                sv_json(x->ungated_reason));
        json_object_set_new(o, "previous",
                            x->prev_candidate
                                ? json_pack("{s:s, s:o}", "candidate",
                                            x->prev_candidate, "eval_id",
                                            sv_json(x->prev_eval_id))
                                : json_null());
        json_object_set_new(o, "pending",
                            x->pending_candidate
                                ? json_pack("{s:s, s:o, s:o}", "candidate",
                                            x->pending_candidate, "eval_id",
                                            sv_json(x->pending_eval_id), "seq",
                                            ldg_json_u64(x->pending_seq))
                                : json_null());
        json_object_set_new(o, "counts",
                            json_pack("{s:I, s:I, s:I, s:I, s:I}", "requested",
                                      (json_int_t)x->requested, "promoted",
                                      (json_int_t)x->promoted, "rejected",
                                      (json_int_t)x->rejected, "rolled_back",
                                      (json_int_t)x->rolled_back, "ungated",
                                      (json_int_t)x->ungated_total));
        while (j < nh && strcmp(((const struct rec_phist *)h[j]->rec)->target,
                                x->target) < 0)
            j++;
        while (j < nh && strcmp(((const struct rec_phist *)h[j]->rec)->target,
                                x->target) == 0) {
            const struct rec_phist *e = h[j]->rec;
            json_t *he = json_object();
            json_object_set_new(he, "seq", ldg_json_u64(e->seq));
            json_object_set_new(he, "time", time_json(e->ts));
            json_object_set_new(he, "event",
                                json_string(kind[e->kind < 5 ? e->kind : 0]));
            json_object_set_new(he, "candidate", sv_json(e->candidate));
            if (e->eval_id)
                json_object_set_new(he, "eval_id", json_string(e->eval_id));
            if (e->previous)
                json_object_set_new(he, "previous", json_string(e->previous));
            if (e->reason)
                json_object_set_new(he, "reason", json_string(e->reason));
            if (e->kind == HK_PROMOTED)
                json_object_set_new(he, "ungated", json_boolean(e->ungated));
            json_array_append_new(hist, he);
            j++;
        }
        json_object_set_new(o, "history", hist);
        json_array_append_new(a, o);
    }
    free(t);
    free(h);
    return a;
}

/* -------------------------------------------------------------- runs -- */

static json_t *
run_json(const struct rec_run *r)
{
    static const char *const st[] = {"running", "ok", "failed", "aborted",
                                     "unknown"};
    json_t *o = json_object();
    const char *status = r->status < 5 ? st[r->status] : "unknown";
    /* known only from the events linked to it: an application's trace
     * (its spans say how it went: `ledger timeline`), else not started */
    if (!r->started && r->finished_seq == 0)
        status = r->traced ? "trace" : "not-started";
    json_object_set_new(o, "run", json_string(r->run));
    json_object_set_new(o, "pack", sv_json(r->pack));
    json_object_set_new(o, "status", json_string(status));
    if (r->started) {
        json_object_set_new(o, "started_seq", ldg_json_u64(r->started_seq));
        json_object_set_new(o, "start", time_json(r->start_ts));
        /* "What held when it started": every view accepts --at this. */
        json_object_set_new(o, "snapshot_seq", ldg_json_u64(r->started_seq));
    }
    if (r->finished_seq) {
        json_object_set_new(o, "finished_seq", ldg_json_u64(r->finished_seq));
        json_object_set_new(o, "end", time_json(r->end_ts));
    }
    json_object_set_new(o, "duration_ms",
                        !r->has_duration ? json_null()
                        /* a whole number of ms as an integer, as the
                         * timeline gives it */
                        : r->duration_ms == (double)(json_int_t)r->duration_ms
                            ? json_integer((json_int_t)r->duration_ms)
                            : json_real(r->duration_ms));
    json_object_set_new(o, "events", json_integer((json_int_t)r->events));
    json_object_set_new(o, "first_seq", ldg_json_u64(r->first_seq));
    json_object_set_new(o, "last_seq", ldg_json_u64(r->last_seq));
    json_object_set_new(o, "steps",
                        json_pack("{s:I, s:I, s:I, s:I}", "total",
                                  (json_int_t)r->steps, "ok",
                                  (json_int_t)r->steps_ok, "failed",
                                  (json_int_t)r->steps_failed, "skipped",
                                  (json_int_t)r->steps_skipped));
    json_object_set_new(o, "decisions",
                        json_pack("{s:I, s:I, s:I, s:I}", "total",
                                  (json_int_t)r->decisions, "fallback",
                                  (json_int_t)r->dec_fallback, "error",
                                  (json_int_t)r->dec_error, "refused",
                                  (json_int_t)r->dec_refused));
    json_object_set_new(o, "policy",
                        json_pack("{s:I, s:I}", "allow",
                                  (json_int_t)r->policy_allow, "deny",
                                  (json_int_t)r->policy_deny));
    if (r->intent)
        json_object_set_new(o, "intent", json_string(r->intent));
    if (r->requested_by)
        json_object_set_new(o, "requested_by", json_string(r->requested_by));
    if (r->last_step)
        json_object_set_new(o, "last_step", json_string(r->last_step));
    if (r->first_failed_step)
        json_object_set_new(o, "first_failed_step",
                            json_pack("{s:s, s:o}", "step",
                                      r->first_failed_step, "seq",
                                      ldg_json_u64(r->first_failed_seq)));
    if (r->first_deny_rule)
        json_object_set_new(o, "first_denial",
                            json_pack("{s:s, s:o}", "rule", r->first_deny_rule,
                                      "seq", ldg_json_u64(r->first_deny_seq)));
    if (r->error)
        json_object_set_new(o, "error", json_string(r->error));
    return o;
}

json_t *
view_runs(struct pstate *ps, const char *only)
{
    struct pentry **v = NULL;
    size_t n = 0;
    json_t *a;
    if (only != NULL) {
        uint8_t key[PROJ_KEY_MAX + 1];
        struct ldg_slice s = {only, strlen(only)};
        size_t kl = pkey(key, TAG_RUN, &s, 1);
        const struct rec_run *r = ps_get(ps, P_RUNS, key, kl);
        a = json_array();
        if (r != NULL)
            json_array_append_new(a, run_json(r));
        return a;
    }
    if (ps_list(ps, P_RUNS, TAG_RUN, &v, &n) < 0)
        return NULL;
    a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, run_json(v[i]->rec));
    free(v);
    return a;
}
