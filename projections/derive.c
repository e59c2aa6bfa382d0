/*
 * derive.c — what follows from several records, computed when read:
 * effective permissions, route readiness, pack state and the doctor's
 * clauses. Everything here is a function of the records and of the log's
 * own clock (the time of the last event folded, ps->last_ts), never of
 * the wall clock, so it is as replayable as the folds.
 *
 * The pack rules of VOCABULARY.md, first that applies:
 *   removed · disabled · invalid · installed (never validated since the
 *   last install or upgrade) · blocked · awaiting-permissions · demo-only
 *   · declared-not-proven · degraded · ready;  + "partial" when an
 *   optional group was denied (or revoked).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "projections/proj_int.h"

/* Backs a string cut at cap-1 bytes off to a UTF-8 boundary. */
static void
utf8_trim(char *buf, size_t cap)
{
    size_t n = strlen(buf);
    if (n + 1 < cap)
        return;
    while (n > 0 && (((unsigned char)buf[n - 1]) & 0xc0) == 0x80)
        n--;
    if (n > 0 && (((unsigned char)buf[n - 1]) & 0xc0) == 0xc0)
        n--;
    LDG_ASSERT(n < cap);
    buf[n] = '\0';
}

static const struct rec_perm *
perm_get(struct pstate *ps, const char *pack, const char *group,
         const char *scope)
{
    uint8_t key[PROJ_KEY_MAX + 1];
    size_t kl =
        pkey(key, TAG_PERM,
             (struct ldg_slice[]){svs(pack), svs(group), svs(scope)}, 3);
    return ps_get(ps, P_PERMISSIONS, key, kl);
}

static const void *
get1(struct pstate *ps, enum proj_id p, uint8_t tag, const char *name)
{
    uint8_t key[PROJ_KEY_MAX + 1];
    size_t kl = pkey(key, tag, (struct ldg_slice[]){svs(name)}, 1);
    return ps_get(ps, p, key, kl);
}

/* Does the decision in r count for a requirement opened at since? */
static int
decided_since(const struct rec_perm *r, uint64_t since)
{
    return r != NULL && r->state >= PS_GRANTED && r->decided_seq > since;
}

static int
expired(const struct rec_perm *r, uint64_t now_ns)
{
    return r->expires_ns != 0 && now_ns >= r->expires_ns;
}

enum req_state
req_effective(struct pstate *ps, const struct rec_pack *p, const struct preq *r,
              uint64_t now_ns, const struct rec_perm **deciding)
{
    const struct rec_perm *x = perm_get(ps, p->name, r->group, r->scope);
    const struct rec_perm *d = NULL;
    enum req_state st = RQ_UNDECIDED;

    if (strcmp(r->scope, "demo") != 0)
        d = perm_get(ps, p->name, r->group, "demo");
    *deciding = x;
    if (decided_since(x, r->since_seq)) {
        if (x->state == PS_DENIED)
            return RQ_DENIED;
        if (x->state == PS_REVOKED)
            return RQ_REVOKED;
        if (!expired(x, now_ns))
            return RQ_GRANTED;
        st = RQ_EXPIRED;
    }
    if (decided_since(d, r->since_seq) && d->state == PS_GRANTED &&
        !expired(d, now_ns)) {
        *deciding = d;
        return RQ_GRANTED_DEMO;
    }
    return st;
}

/* ------------------------------------------------------------ routes -- */

const char *
route_ready_name(enum route_ready r)
{
    static const char *const n[] = {"proven",  "declared-not-proven",
                                    "failing", "fallback-active",
                                    "offline", "undeclared"};
    return n[r];
}

int
model_usable(struct pstate *ps, const char *model)
{
    const struct rec_model *m = get1(ps, P_MODELS, TAG_MODEL, model);
    const struct rec_runtime *rt;
    if (m == NULL || (m->state != MS_AVAILABLE && m->state != MS_LOADED))
        return 0;
    if (m->runtime == NULL)
        return 1;
    rt = get1(ps, P_MODELS, TAG_RUNTIME, m->runtime);
    return rt == NULL || rt->status != RT_DOWN;
}

/* Why a model cannot serve, for details. */
static void
model_why(struct pstate *ps, const char *model, char *buf, size_t cap)
{
    static const char *const st[] = {"has no state yet", "available",
                                     "loaded",           "parked",
                                     "offline",          "removed"};
    const struct rec_model *m = get1(ps, P_MODELS, TAG_MODEL, model);
    const struct rec_runtime *rt = NULL;
    if (m == NULL) {
        snprintf(buf, cap, "%s is not registered", model);
        return;
    }
    if (m->runtime != NULL)
        rt = get1(ps, P_MODELS, TAG_RUNTIME, m->runtime);
    if (m->state != MS_AVAILABLE && m->state != MS_LOADED)
        snprintf(buf, cap, "%s is %s%s%s", model,
                 m->state < 6 ? st[m->state] : "?", m->state_reason ? " (" : "",
                 m->state_reason ? m->state_reason : "");
    else if (rt != NULL && rt->status == RT_DOWN)
        snprintf(buf, cap, "%s runs on %s, which is down", model, rt->name);
    else
        snprintf(buf, cap, "%s is usable", model);
    if (m->state_reason && m->state != MS_AVAILABLE && m->state != MS_LOADED &&
        strlen(buf) + 2 < cap)
        strcat(buf, ")");
}

static const double *
metric_of(const struct rec_reval *e, const char *name)
{
    for (uint32_t i = 0; i < e->nmetrics; i++)
        if (strcmp(e->m[i].name, name) == 0)
            return &e->m[i].v;
    return NULL;
}

/* Does the eval meet the route's declared threshold? 1 when there is no
 * threshold, the metric is not in the result, or the op is unknown (then
 * the eval's own "passed" decides). */
static int
threshold_ok(const struct rec_route *r, const struct rec_reval *e)
{
    const double *v;
    double t = r->thr_value;
    if (!r->has_threshold || r->thr_metric == NULL || r->thr_op == NULL)
        return 1;
    v = metric_of(e, r->thr_metric);
    if (v == NULL)
        return 1;
    if (strcmp(r->thr_op, ">=") == 0)
        return *v >= t;
    if (strcmp(r->thr_op, ">") == 0)
        return *v > t;
    if (strcmp(r->thr_op, "<=") == 0)
        return *v <= t;
    if (strcmp(r->thr_op, "<") == 0)
        return *v < t;
    if (strcmp(r->thr_op, "==") == 0 || strcmp(r->thr_op, "=") == 0)
        return *v == t;
    return 1;
}

static const char *
bare_digest(const char *d)
{
    return strncmp(d, "sha256:", 7) == 0 ? d + 7 : d;
}

/* Names are bound to bytes: an eval proves the model it ran against only
 * while the runtime still reports the digest it reported then. An eval
 * that recorded no digest (or the runtime reported none, "unreported")
 * binds by name alone, as before digests were recorded. */
static int
digest_bound(struct pstate *ps, const char *model, const struct rec_reval *ev,
             char *why, size_t cap)
{
    const struct rec_model *m;
    if (ev->candidate_digest == NULL ||
        strcmp(ev->candidate_digest, "unreported") == 0)
        return 1;
    m = get1(ps, P_MODELS, TAG_MODEL, model);
    if (m == NULL || m->digest == NULL) {
        snprintf(why, cap,
                 "eval %s proved %s with digest %.20s…, and no digest is "
                 "registered for it now",
                 ev->eval_id ? ev->eval_id : "?", model, ev->candidate_digest);
        return 0;
    }
    if (strcasecmp(bare_digest(m->digest), bare_digest(ev->candidate_digest))) {
        snprintf(why, cap,
                 "eval %s proved %s with digest %.20s…, but the runtime now "
                 "reports %.20s… (other weights under the same name); run "
                 "the eval again",
                 ev->eval_id ? ev->eval_id : "?", model, ev->candidate_digest,
                 m->digest);
        return 0;
    }
    return 1;
}

void
route_readiness(struct pstate *ps, const struct rec_route *r,
                struct route_eval_info *out, int want_detail)
{
    uint8_t key[PROJ_KEY_MAX + 1];
    const struct rec_reval *ev;
    const char *cur = r->current_model;
    char why[300];
    size_t kl;

    memset(out, 0, sizeof *out);
    if (!r->declared) {
        out->ready = RR_UNDECLARED;
        snprintf(out->detail, sizeof out->detail, "route %s was never declared",
                 r->name);
        return;
    }
    kl = pkey(key, TAG_REVAL, (struct ldg_slice[]){svs(r->name), svs(cur)}, 2);
    ev = ps_get(ps, P_ROUTES, key, kl);
    out->eval = ev;
    if (ev == NULL) {
        out->ready = RR_DECLARED_NOT_PROVEN;
        snprintf(out->detail, sizeof out->detail,
                 "no eval.result for route %s with its current model %s",
                 r->name, cur);
        return;
    }
    if (!ev->passed) {
        out->ready = RR_FAILING;
        snprintf(out->detail, sizeof out->detail,
                 "latest eval %s of %s failed (%lld/%lld cases passed)",
                 ev->eval_id ? ev->eval_id : "?", cur,
                 (long long)ev->cases_passed, (long long)ev->cases_total);
        return;
    }
    if (!threshold_ok(r, ev)) {
        out->ready = RR_FAILING;
        snprintf(out->detail, sizeof out->detail,
                 "eval %s of %s passed but %s = %g does not meet the "
                 "route's threshold %s %g",
                 ev->eval_id ? ev->eval_id : "?", cur, r->thr_metric,
                 *metric_of(ev, r->thr_metric), r->thr_op, r->thr_value);
        return;
    }
    if (!digest_bound(ps, cur, ev, why, sizeof why)) {
        out->ready = RR_DECLARED_NOT_PROVEN;
        snprintf(out->detail, sizeof out->detail, "%s", why);
        return;
    }
    if (model_usable(ps, cur)) {
        out->ready = RR_PROVEN;
        out->serving = cur;
        if (want_detail)
            snprintf(out->detail, sizeof out->detail,
                     "eval %s passed with %s, which is serving",
                     ev->eval_id ? ev->eval_id : "?", cur);
        return;
    }
    model_why(ps, cur, why, sizeof why);
    for (uint32_t i = 0; i < r->fallbacks.n; i++) {
        if (model_usable(ps, r->fallbacks.v[i])) {
            out->ready = RR_FALLBACK_ACTIVE;
            out->serving = r->fallbacks.v[i];
            snprintf(out->detail, sizeof out->detail,
                     "proven model %s; fallback %s is serving", why,
                     r->fallbacks.v[i]);
            return;
        }
    }
    out->ready = RR_OFFLINE;
    snprintf(out->detail, sizeof out->detail, "%s and no fallback can serve",
             why);
}

/* ------------------------------------------------------------- packs -- */

const char *
pack_state_name(enum pack_state s)
{
    static const char *const n[] = {"removed",   "disabled",
                                    "invalid",   "installed",
                                    "blocked",   "awaiting-permissions",
                                    "demo-only", "declared-not-proven",
                                    "degraded",  "ready"};
    return n[s];
}

static void reason(json_t *reasons, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
reason(json_t *reasons, const char *fmt, ...)
{
    char buf[700];
    va_list ap;
    if (reasons == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    utf8_trim(buf, sizeof buf);
    json_array_append_new(reasons, json_string(buf));
}

static const char *
req_state_name(enum req_state s)
{
    static const char *const n[] = {"granted", "granted (demo scope only)",
                                    "denied",  "revoked",
                                    "expired", "not decided"};
    return n[s];
}

/* Was the group opened by an upgrade (not by the install)? */
static int
opened_by_upgrade(const struct rec_pack *p, const struct preq *r)
{
    return r->since_seq != p->installed_seq;
}

/* Appends the unhealthy facts of the "degraded" rule to reasons; returns
 * how many. */
static int
degraded_reasons(struct pstate *ps, const struct rec_pack *p, json_t *reasons)
{
    int n = 0;
    for (uint32_t i = 0; i < p->models.n; i++) {
        const char *m = p->models.v[i];
        const struct rec_model *mr = get1(ps, P_MODELS, TAG_MODEL, m);
        char why[300];
        if (mr == NULL ||
            (mr->state != MS_AVAILABLE && mr->state != MS_LOADED)) {
            model_why(ps, m, why, sizeof why);
            reason(reasons, "required model %s", why);
            n++;
        }
        if (mr != NULL && mr->runtime != NULL) {
            const struct rec_runtime *rt =
                get1(ps, P_MODELS, TAG_RUNTIME, mr->runtime);
            if (rt != NULL && rt->status == RT_DOWN) {
                reason(reasons, "runtime %s of model %s is down", mr->runtime,
                       m);
                n++;
            }
        }
    }
    if (p->checked == TRI_FAIL) {
        char list[400] = "";
        for (uint32_t i = 0; i < p->check_failed.n; i++) {
            size_t l = strlen(list);
            snprintf(list + l, sizeof list - l, "%s%s", i ? ", " : "",
                     p->check_failed.v[i]);
        }
        reason(reasons, "latest pack.checked (seq %llu) failed%s%s",
               (unsigned long long)p->checked_seq, list[0] ? ": " : "", list);
        n++;
    }
    return n;
}

/* What a pack's rules look at, computed once per pack: the effective
 * state of each permission requirement and the readiness of each
 * required route. */
struct pack_eval {
    enum req_state *rs;
    const struct rec_perm **dp;
    const struct rec_route **rr; /* NULL: never declared */
    struct route_eval_info *ri;
};

static void
pack_eval_release(struct pack_eval *pe)
{
    free(pe->rs);
    free(pe->dp);
    free(pe->rr);
    free(pe->ri);
    memset(pe, 0, sizeof *pe);
}

static int
pack_eval_init(struct pstate *ps, const struct rec_pack *p, uint64_t now,
               struct pack_eval *pe)
{
    uint32_t np = p->nperms ? p->nperms : 1, nr = p->routes.n ? p->routes.n : 1;
    pe->rs = malloc(np * sizeof *pe->rs);
    pe->dp = malloc(np * sizeof *pe->dp);
    pe->rr = malloc(nr * sizeof *pe->rr);
    pe->ri = malloc(nr * sizeof *pe->ri);
    if (!pe->rs || !pe->dp || !pe->rr || !pe->ri) {
        pack_eval_release(pe);
        return LDG_ENOMEM;
    }
    for (uint32_t i = 0; i < p->nperms; i++)
        pe->rs[i] = req_effective(ps, p, &p->perms[i], now, &pe->dp[i]);
    for (uint32_t i = 0; i < p->routes.n; i++) {
        pe->rr[i] = get1(ps, P_ROUTES, TAG_ROUTE, p->routes.v[i]);
        if (pe->rr[i] != NULL)
            route_readiness(ps, pe->rr[i], &pe->ri[i], 0);
        else
            pe->ri[i].ready = RR_UNDECLARED;
    }
    return 0;
}

static enum pack_state
pack_state_eval(struct pstate *ps, const struct rec_pack *p,
                const struct pack_eval *pe, int *partial, json_t *reasons)
{
    int blocked = 0, awaiting = 0, demo = 0, unproven = 0;

    *partial = 0;
    for (uint32_t i = 0; i < p->nperms; i++)
        if (p->perms[i].optional &&
            (pe->rs[i] == RQ_DENIED || pe->rs[i] == RQ_REVOKED))
            *partial = 1;
    if (p->lifecycle == LC_REMOVED) {
        reason(reasons, "removed at seq %llu%s%s",
               (unsigned long long)p->lifecycle_seq,
               p->lifecycle_reason ? ": " : "",
               p->lifecycle_reason ? p->lifecycle_reason : "");
        return PK_REMOVED;
    }
    if (!p->enabled) {
        reason(reasons, "disabled at seq %llu%s%s",
               (unsigned long long)p->lifecycle_seq,
               p->lifecycle_reason ? ": " : "",
               p->lifecycle_reason ? p->lifecycle_reason : "");
        return PK_DISABLED;
    }
    if (p->requires_state != 0) {
        reason(reasons,
               "its requirements exceed the ledger's limit of %d "
               "entries per list",
               PROJ_LIST_MAX);
        return PK_INVALID;
    }
    if (p->validated == TRI_FAIL) {
        reason(reasons, "pack.validated at seq %llu was not ok",
               (unsigned long long)p->validated_seq);
        for (uint32_t i = 0; i < p->validation_errors.n; i++)
            reason(reasons, "validation error: %s", p->validation_errors.v[i]);
        return PK_INVALID;
    }
    if (p->validated == TRI_NONE) {
        if (p->upgrades > 0)
            reason(reasons,
                   "upgraded to %s at seq %llu and not validated "
                   "since",
                   p->version ? p->version : "?",
                   (unsigned long long)p->upgraded_seq);
        else
            reason(reasons, "never validated since installed at seq %llu",
                   (unsigned long long)p->installed_seq);
        return PK_INSTALLED;
    }
    for (uint32_t i = 0; i < p->nperms; i++) {
        enum req_state s = pe->rs[i];
        if (p->perms[i].optional)
            continue;
        if (s == RQ_DENIED || s == RQ_REVOKED)
            blocked = 1;
        else if (s == RQ_UNDECIDED || s == RQ_EXPIRED)
            awaiting = 1;
        else if (s == RQ_GRANTED_DEMO)
            demo = 1;
    }
    if (blocked || awaiting || demo) {
        for (uint32_t i = 0; i < p->nperms; i++) {
            const struct preq *r = &p->perms[i];
            const struct rec_perm *d = pe->dp[i];
            enum req_state s = pe->rs[i];
            if (r->optional)
                continue;
            if ((blocked && (s == RQ_DENIED || s == RQ_REVOKED)) ||
                (!blocked && awaiting &&
                 (s == RQ_UNDECIDED || s == RQ_EXPIRED)) ||
                (!blocked && !awaiting && s == RQ_GRANTED_DEMO))
                reason(reasons, "permission %s %s: %s%s%s%s", r->group,
                       r->scope, req_state_name(s),
                       d && d->by && s != RQ_UNDECIDED ? " by " : "",
                       d && d->by && s != RQ_UNDECIDED ? d->by : "",
                       s == RQ_UNDECIDED && opened_by_upgrade(p, r)
                           ? " (added by an upgrade)"
                           : "");
        }
        return blocked ? PK_BLOCKED : awaiting ? PK_AWAITING : PK_DEMO_ONLY;
    }
    for (uint32_t i = 0; i < p->routes.n; i++) {
        if (pe->rr[i] == NULL) {
            reason(reasons, "route %s: never declared", p->routes.v[i]);
            unproven = 1;
        } else if (pe->ri[i].ready != RR_PROVEN) {
            reason(reasons, "route %s: %s", pe->rr[i]->name,
                   route_ready_name(pe->ri[i].ready));
            unproven = 1;
        }
    }
    if (unproven)
        return PK_DECLARED_NOT_PROVEN;
    if (degraded_reasons(ps, p, reasons) > 0)
        return PK_DEGRADED;
    return PK_READY;
}

enum pack_state
pack_state_of(struct pstate *ps, const struct rec_pack *p, uint64_t now_ns,
              int *partial, json_t *reasons)
{
    struct pack_eval pe;
    enum pack_state st;
    memset(&pe, 0, sizeof pe);
    if (pack_eval_init(ps, p, now_ns, &pe) < 0) {
        *partial = 0;
        reason(reasons, "out of memory while evaluating the pack");
        return PK_INSTALLED;
    }
    st = pack_state_eval(ps, p, &pe, partial, reasons);
    pack_eval_release(&pe);
    return st;
}

/* ------------------------------------------------------------ doctor -- */

int
ldg_projections_verdict_rank(const char *v)
{
    if (v == NULL)
        return 1;
    if (strcmp(v, "healthy") == 0)
        return 0;
    if (strcmp(v, "unknown") == 0)
        return 1;
    if (strcmp(v, "degraded") == 0)
        return 2;
    return 3;
}

const char *
ldg_projections_verdict_name(int rank)
{
    static const char *const n[] = {"healthy", "unknown", "degraded",
                                    "blocked"};
    return n[rank < 0 ? 0 : rank > 3 ? 3 : rank];
}

/* A clause under construction. */
struct clause {
    const char *name;
    int status; /* 0 ok, 1 unknown, 2 fail */
    int blocking;
    json_t *details, *remedies;
};

static void
clause_init(struct clause *c, const char *name)
{
    c->name = name;
    c->status = 0;
    c->blocking = 0;
    c->details = NULL;
    c->remedies = NULL;
}

/* Strings made here are valid UTF-8 (fmt never cuts a sequence; record
 * strings come from validated JSON), so jansson need not check them. */
static json_t *
jtext(const char *s)
{
    return json_string_nocheck(s);
}

static void
clause_add(struct clause *c, int status, const char *detail, const char *remedy)
{
    if (status > c->status)
        c->status = status;
    if (detail != NULL) {
        if (c->details == NULL)
            c->details = json_array();
        json_array_append_new(c->details, jtext(detail));
    }
    if (remedy != NULL) {
        if (c->remedies == NULL)
            c->remedies = json_array();
        json_array_append_new(c->remedies, jtext(remedy));
    }
}

/* Where clauses go: objects into clauses; when ok is set, the names of
 * clauses that hold go there instead (a healthy pack is then a short
 * list of names, which keeps a thousand packs within the doctor's time
 * budget). */
struct sink {
    json_t *clauses, *ok;
};

/* Emits {name, status, detail: [..], remedy: [..] (when not ok)};
 * returns the clause's verdict rank. */
static int
clause_emit(struct sink *sk, struct clause *c, const char *ok_detail)
{
    static const char *const st[] = {"ok", "unknown", "fail"};
    json_t *o;
    int rank;
    if (c->status == 0 && sk->ok != NULL) {
        json_array_append_new(sk->ok, jtext(c->name));
        json_decref(c->details);
        json_decref(c->remedies);
        return 0;
    }
    o = json_object();
    json_object_set_new_nocheck(o, "name", jtext(c->name));
    json_object_set_new_nocheck(o, "status", jtext(st[c->status]));
    if (c->details == NULL && ok_detail != NULL) {
        c->details = json_array();
        json_array_append_new(c->details, jtext(ok_detail));
    }
    /* Pack clauses that hold carry no detail (a thousand packs of "ok"
     * sentences cost the doctor its time budget). */
    if (c->details != NULL)
        json_object_set_new_nocheck(o, "detail", c->details);
    if (c->status != 0)
        json_object_set_new_nocheck(o, "remedy",
                                    c->remedies ? c->remedies : json_array());
    else
        json_decref(c->remedies);
    json_array_append_new(sk->clauses, o);
    rank = c->status == 0 ? 0 : c->status == 1 ? 1 : c->blocking ? 3 : 2;
    return rank;
}

static void fmt(char *buf, size_t cap, const char *f, ...)
    __attribute__((format(printf, 3, 4)));

static void
fmt(char *buf, size_t cap, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    vsnprintf(buf, cap, f, ap);
    va_end(ap);
    utf8_trim(buf, cap);
}

/* JSON text of a string, for remedies that show a --body. Long strings
 * are cut at a character boundary. */
static void
jstr(char *buf, size_t cap, const char *s)
{
    size_t o = 0;
    if (cap < 3) {
        if (cap)
            buf[0] = '\0';
        return;
    }
    buf[o++] = '"';
    for (; s && *s && o + 8 < cap; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            buf[o++] = '\\';
            buf[o++] = (char)ch;
        } else if (ch < 0x20) {
            o += (size_t)snprintf(buf + o, cap - o, "\\u%04x", ch);
        } else {
            buf[o++] = (char)ch;
        }
    }
    if (s && (((unsigned char)*s) & 0xc0) == 0x80) {
        /* stopped inside a character: drop its first bytes */
        while (o > 1 && (((unsigned char)buf[o - 1]) & 0xc0) == 0x80)
            o--;
        if (o > 1 && (((unsigned char)buf[o - 1]) & 0xc0) == 0xc0)
            o--;
    }
    LDG_ASSERT(o + 2 <= cap);
    buf[o++] = '"';
    buf[o] = '\0';
}

static int
clause_enabled(struct sink *arr, const struct rec_pack *p)
{
    struct clause c;
    char d[600], r[600], pk[300];
    clause_init(&c, "enabled");
    c.blocking = 1;
    jstr(pk, sizeof pk, p->name);
    if (p->lifecycle == LC_REMOVED) {
        fmt(d, sizeof d, "pack %s was removed at seq %llu", p->name,
            (unsigned long long)p->lifecycle_seq);
        fmt(r, sizeof r,
            "install the pack again (a pack.installed event "
            "for %s)",
            p->name);
        clause_add(&c, 2, d, r);
    } else if (!p->enabled) {
        fmt(d, sizeof d, "pack %s was disabled at seq %llu%s%s", p->name,
            (unsigned long long)p->lifecycle_seq,
            p->lifecycle_reason ? ": " : "",
            p->lifecycle_reason ? p->lifecycle_reason : "");
        fmt(r, sizeof r, LDG_CMD_APPEND_BODY "'{\"pack\":%s}'",
            LDG_EV_PACK_ENABLED, pk);
        clause_add(&c, 2, d, r);
    }
    return clause_emit(arr, &c, NULL);
}

static int
clause_validated(struct sink *arr, const struct rec_pack *p)
{
    struct clause c;
    char d[900], r[600];
    clause_init(&c, "validated");
    c.blocking = 1;
    if (p->requires_state != 0) {
        fmt(d, sizeof d,
            "the manifest's requirements exceed %d entries "
            "per list",
            PROJ_LIST_MAX);
        clause_add(&c, 2, d,
                   "split the pack or shorten its requirement "
                   "lists, then upgrade it (pack.upgraded)");
    } else if (p->validated == TRI_FAIL) {
        fmt(d, sizeof d, "pack.validated at seq %llu was not ok",
            (unsigned long long)p->validated_seq);
        clause_add(&c, 2, d, NULL);
        for (uint32_t i = 0; i < p->validation_errors.n; i++) {
            fmt(d, sizeof d, "validation error: %s", p->validation_errors.v[i]);
            clause_add(&c, 2, d, NULL);
        }
        fmt(r, sizeof r,
            "fix the manifest errors above and validate %s "
            "again (a pack.validated event with ok=true)",
            p->name);
        clause_add(&c, 2, NULL, r);
    } else if (p->validated == TRI_NONE) {
        if (p->upgrades > 0)
            fmt(d, sizeof d,
                "upgraded to %s at seq %llu: validation "
                "re-opened and not done",
                p->version ? p->version : "?",
                (unsigned long long)p->upgraded_seq);
        else
            fmt(d, sizeof d, "never validated since installed at seq %llu",
                (unsigned long long)p->installed_seq);
        fmt(r, sizeof r,
            "validate %s %s (the validator appends "
            "pack.validated)",
            p->name, p->version ? p->version : "");
        clause_add(&c, 2, d, r);
    }
    return clause_emit(arr, &c, NULL);
}

static int
clause_permissions(struct sink *arr, const struct rec_pack *p,
                   const struct pack_eval *pe)
{
    struct clause c;
    char d[900], r[1400], pk[300], g[300], s[600];
    int n = 0;
    clause_init(&c, "permissions-resolved");
    jstr(pk, sizeof pk, p->name);
    for (uint32_t i = 0; i < p->nperms; i++) {
        const struct preq *q = &p->perms[i];
        const struct rec_perm *dp = pe->dp[i];
        enum req_state st = pe->rs[i];
        if (q->optional)
            continue;
        n++;
        if (st == RQ_GRANTED)
            continue;
        jstr(g, sizeof g, q->group);
        jstr(s, sizeof s, q->scope);
        fmt(d, sizeof d, "%s %s: %s%s%s%s%s", q->group, q->scope,
            req_state_name(st),
            dp && dp->by && st != RQ_UNDECIDED ? " by " : "",
            dp && dp->by && st != RQ_UNDECIDED ? dp->by : "",
            dp && dp->reason && st != RQ_UNDECIDED ? ": " : "",
            dp && dp->reason && st != RQ_UNDECIDED ? dp->reason : "");
        if (st == RQ_UNDECIDED && opened_by_upgrade(p, q) &&
            strlen(d) + 40 < sizeof d)
            strcat(d, " (added by the upgrade)");
        fmt(r, sizeof r,
            LDG_CMD_APPEND_BODY
            "'{\"pack\":%s,\"group\":%s,\"scope\":%s,\"by\":\"NAME\"}'",
            LDG_EV_PERMISSION_GRANTED, pk, g, s);
        if (st == RQ_GRANTED_DEMO) {
            clause_add(&c, 2, d, r); /* demo-only: not blocking */
        } else {
            c.blocking = 1;
            clause_add(&c, 2, d, r);
        }
    }
    (void)n;
    return clause_emit(arr, &c, NULL);
}

/* Adds the failing item d (runtime rt is down) with its remedy: restart
 * it, then the command that asks it and records it up (issue 63: the
 * remedy named no command). */
static void
runtime_remedy(struct clause *c, const char *d, char *r, size_t cap,
               const struct rec_runtime *rt)
{
    fmt(r, cap,
        "restart %s, then probe it: it is up again when a runtime.health "
        "event reports status up",
        rt->name);
    clause_add(c, 2, d, r);
    fmt(r, cap, LDG_CMD_PROBE_RUNTIME, rt->name,
        rt->endpoint ? rt->endpoint : "URL");
    clause_add(c, 2, NULL, r);
}

/* Adds the failing item d with the remedy r (what to do first) and the
 * command that records model jm (a JSON string) available again. */
static void
available_remedy(struct clause *c, const char *d, char *r, size_t cap,
                 const char *jm)
{
    clause_add(c, 2, d, r);
    fmt(r, cap, LDG_CMD_APPEND_BODY "'{\"model\":%s,\"state\":\"available\"}'",
        LDG_EV_MODEL_STATE, jm);
    clause_add(c, 2, NULL, r);
}

static int
clause_routes(struct sink *arr, const struct rec_pack *p,
              const struct pack_eval *pe)
{
    struct clause c;
    char d[900], r[900];
    clause_init(&c, "routes-proven");
    for (uint32_t i = 0; i < p->routes.n; i++) {
        const struct rec_route *rt = pe->rr[i];
        const struct route_eval_info *ip = &pe->ri[i];
        if (rt == NULL || !rt->declared) {
            fmt(d, sizeof d, "route %s: never declared", p->routes.v[i]);
            fmt(r, sizeof r,
                "declare route %s (a route.declared event with "
                "its model and eval_suite)",
                p->routes.v[i]);
            clause_add(&c, 2, d, r);
            continue;
        }
        if (ip->ready == RR_PROVEN)
            continue;
        fmt(d, sizeof d, "route %s: %s (%s)", rt->name,
            route_ready_name(ip->ready), ip->detail);
        switch (ip->ready) {
        case RR_DECLARED_NOT_PROVEN:
            fmt(r, sizeof r,
                "run eval suite %s on route %s with %s; a "
                "passing eval.result {target: route:%s, "
                "candidate: %s} proves it",
                rt->eval_suite ? rt->eval_suite : "(none declared)", rt->name,
                rt->current_model, rt->name, rt->current_model);
            break;
        case RR_FAILING:
            fmt(r, sizeof r,
                "fix route %s so suite %s passes with %s, or "
                "promote a candidate that passes it "
                "(promotion.promoted with a passing eval)",
                rt->name, rt->eval_suite ? rt->eval_suite : "?",
                rt->current_model);
            break;
        default: {
            char jm[300];
            jstr(jm, sizeof jm, rt->current_model);
            fmt(r, sizeof r,
                "bring %s back (load it in its runtime), then record "
                "that it is:",
                rt->current_model);
            available_remedy(&c, d, r, sizeof r, jm);
            continue;
        }
        }
        clause_add(&c, 2, d, r);
    }
    return clause_emit(arr, &c, NULL);
}

static int
clause_models(struct sink *arr, struct pstate *ps, const struct rec_pack *p)
{
    struct clause c;
    char d[600], r[600], why[300];
    clause_init(&c, "models-available");
    for (uint32_t i = 0; i < p->models.n; i++) {
        const char *m = p->models.v[i];
        const struct rec_model *mr = get1(ps, P_MODELS, TAG_MODEL, m);
        if (mr != NULL && (mr->state == MS_AVAILABLE || mr->state == MS_LOADED))
            continue;
        model_why(ps, m, why, sizeof why);
        fmt(d, sizeof d, "%s", why);
        if (mr == NULL || !mr->registered)
            fmt(r, sizeof r,
                "register %s (a model.registered event with "
                "its digest) and make it available",
                m);
        else {
            char jm[300];
            jstr(jm, sizeof jm, m);
            fmt(r, sizeof r,
                "load %s in its runtime, then record that it is:", m);
            available_remedy(&c, d, r, sizeof r, jm);
            continue;
        }
        clause_add(&c, 2, d, r);
    }
    return clause_emit(arr, &c, NULL);
}

static int
clause_runtime(struct sink *arr, struct pstate *ps, const struct rec_pack *p)
{
    struct clause c;
    char d[600], r[600];
    int seen = 0;
    clause_init(&c, "runtime-up");
    for (uint32_t i = 0; i < p->models.n; i++) {
        const struct rec_model *mr =
            get1(ps, P_MODELS, TAG_MODEL, p->models.v[i]);
        const struct rec_runtime *rt;
        int dup = 0;
        if (mr == NULL || mr->runtime == NULL)
            continue;
        for (uint32_t j = 0; j < i; j++) {
            const struct rec_model *o =
                get1(ps, P_MODELS, TAG_MODEL, p->models.v[j]);
            if (o && o->runtime && strcmp(o->runtime, mr->runtime) == 0)
                dup = 1;
        }
        if (dup)
            continue;
        seen++;
        rt = get1(ps, P_MODELS, TAG_RUNTIME, mr->runtime);
        if (rt == NULL || rt->status == RT_UNKNOWN) {
            fmt(d, sizeof d, "runtime %s has reported no health", mr->runtime);
            fmt(r, sizeof r,
                "check %s and report it (a runtime.health "
                "event)",
                mr->runtime);
            clause_add(&c, 1, d, r);
        } else if (rt->status == RT_DOWN) {
            fmt(d, sizeof d, "runtime %s is down since seq %llu%s%s",
                mr->runtime, (unsigned long long)rt->health_seq,
                rt->detail ? ": " : "", rt->detail ? rt->detail : "");
            runtime_remedy(&c, d, r, sizeof r, rt);
        }
    }
    (void)seen;
    return clause_emit(arr, &c, NULL);
}

static int
clause_check(struct sink *arr, const struct rec_pack *p)
{
    struct clause c;
    char d[900], r[600];
    clause_init(&c, "last-check-ok");
    if (p->checked == TRI_NONE) {
        fmt(r, sizeof r,
            "run the checks of pack %s (they append "
            "pack.checked)",
            p->name);
        clause_add(&c, 1, "the pack was never checked", r);
    } else if (p->checked == TRI_FAIL) {
        size_t l;
        fmt(d, sizeof d, "pack.checked at seq %llu failed",
            (unsigned long long)p->checked_seq);
        for (uint32_t i = 0; i < p->check_failed.n; i++) {
            l = strlen(d);
            snprintf(d + l, sizeof d - l, "%s%s", i ? ", " : ": ",
                     p->check_failed.v[i]);
        }
        fmt(r, sizeof r,
            "fix the failed checks and run the checks of %s "
            "again (pack.checked with ok=true)",
            p->name);
        clause_add(&c, 2, d, r);
    }
    return clause_emit(arr, &c, NULL);
}

static int
target_ungated(struct pstate *ps, const char *target, struct clause *c)
{
    const struct rec_ptarget *t = get1(ps, P_PROMOTIONS, TAG_PTARGET, target);
    char d[900], r[600];
    if (t == NULL || !t->ungated || t->candidate == NULL)
        return 0;
    fmt(d, sizeof d,
        "%s: %s is in force through an ungated promotion at "
        "seq %llu (%s)",
        target, t->candidate, (unsigned long long)t->seq,
        t->ungated_reason ? t->ungated_reason : "?");
    fmt(r, sizeof r,
        "roll %s back (promotion.rolled_back) or promote a "
        "candidate whose eval passed and is no worse than "
        "the previous one",
        target);
    clause_add(c, 2, d, r);
    return 1;
}

static int
clause_promotions(struct sink *arr, struct pstate *ps, const struct rec_pack *p)
{
    struct clause c;
    char t[PROJ_STR_MAX + 16];
    clause_init(&c, "promotions-gated");
    snprintf(t, sizeof t, "pack:%s", p->name);
    target_ungated(ps, t, &c);
    for (uint32_t i = 0; i < p->routes.n; i++) {
        snprintf(t, sizeof t, "route:%s", p->routes.v[i]);
        target_ungated(ps, t, &c);
    }
    for (uint32_t i = 0; i < p->models.n; i++) {
        snprintf(t, sizeof t, "model:%s", p->models.v[i]);
        target_ungated(ps, t, &c);
    }
    return clause_emit(arr, &c, NULL);
}

/* Doctor clauses of one pack: a JSON object {pack, state, partial,
 * active, verdict, ok: [names of clauses that hold], clauses: [{name,
 * status, detail, remedy}] (the others)}. */
static json_t *
doctor_pack_json(struct pstate *ps, const struct rec_pack *p, uint64_t now_ns)
{
    json_t *o;
    int rank = 0, partial, r;
    struct pack_eval pe;
    struct sink sink, *cl = &sink;
    enum pack_state st;

    memset(&pe, 0, sizeof pe);
    if (pack_eval_init(ps, p, now_ns, &pe) < 0)
        return NULL;
    st = pack_state_eval(ps, p, &pe, &partial, NULL);
    o = json_object();
    sink.clauses = json_array();
    sink.ok = json_array();
#define MAXR(x)                                                                \
    do {                                                                       \
        r = (x);                                                               \
        if (r > rank)                                                          \
            rank = r;                                                          \
    } while (0)
    MAXR(clause_enabled(cl, p));
    MAXR(clause_validated(cl, p));
    MAXR(clause_permissions(cl, p, &pe));
    MAXR(clause_routes(cl, p, &pe));
    MAXR(clause_models(cl, ps, p));
    MAXR(clause_runtime(cl, ps, p));
    MAXR(clause_check(cl, p));
    MAXR(clause_promotions(cl, ps, p));
#undef MAXR
    pack_eval_release(&pe);
    json_object_set_new(o, "pack", json_string(p->name));
    json_object_set_new(o, "state", json_string(pack_state_name(st)));
    json_object_set_new(o, "partial", json_boolean(partial));
    json_object_set_new(o, "active",
                        json_boolean(st != PK_REMOVED && st != PK_DISABLED));
    json_object_set_new(o, "verdict",
                        json_string(ldg_projections_verdict_name(rank)));
    json_object_set_new(o, "ok", sink.ok);
    json_object_set_new(o, "clauses", sink.clauses);
    return o;
}

int
ps_load_for_doctor(struct pstate *ps)
{
    static const struct {
        enum proj_id p;
        uint8_t tag;
    } need[] = {{P_PACKS, TAG_PACK},        {P_PERMISSIONS, TAG_PERM},
                {P_MODELS, TAG_MODEL},      {P_MODELS, TAG_RUNTIME},
                {P_MODELS, TAG_HOST},       {P_ROUTES, TAG_ROUTE},
                {P_PROMOTIONS, TAG_PTARGET}};
    /* Route evals are read one by one (route, current model): there may
     * be many more of them than routes. */
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++) {
        int rc = ps_load_tag(ps, need[i].p, need[i].tag);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Does some pack name target ("pack:P", "route:R" or "model:M") as its
 * own or as one of its routes or models? */
static int
target_of_a_pack(struct pstate *ps, const char *target)
{
    struct pentry **v = NULL;
    size_t n = 0;
    int found = 0;
    const char *colon = strchr(target, ':');

    if (colon == NULL || ps_list(ps, P_PACKS, TAG_PACK, &v, &n) < 0)
        return 0;
    for (size_t i = 0; i < n && !found; i++) {
        const struct rec_pack *p = v[i]->rec;
        const char *name = colon + 1;
        if (strncmp(target, "pack:", 5) == 0)
            found = strcmp(p->name, name) == 0;
        else if (strncmp(target, "route:", 6) == 0)
            for (uint32_t k = 0; k < p->routes.n && !found; k++)
                found = strcmp(p->routes.v[k], name) == 0;
        else if (strncmp(target, "model:", 6) == 0)
            for (uint32_t k = 0; k < p->models.n && !found; k++)
                found = strcmp(p->models.v[k], name) == 0;
    }
    free(v);
    return found;
}

/* Box-wide clauses that follow from the log alone. */
static int
box_clauses(json_t *out, struct pstate *ps)
{
    struct sink sink = {out, NULL}, *arr = &sink;
    struct pentry **v = NULL;
    size_t n = 0;
    struct clause c;
    char d[900], r[600];
    int rank = 0, x;
    const struct rec_host *h;

    /* promotions-gated: the targets no pack claims. An ungated promotion
     * on a pack, or on a route or model a pack uses, is that pack's
     * failure (its own promotions-gated clause), not the box's. */
    clause_init(&c, "promotions-gated");
    if (ps_list(ps, P_PROMOTIONS, TAG_PTARGET, &v, &n) == 0) {
        for (size_t i = 0; i < n; i++) {
            const struct rec_ptarget *t = v[i]->rec;
            if (!target_of_a_pack(ps, t->target))
                target_ungated(ps, t->target, &c);
        }
        free(v);
    }
    x = clause_emit(arr, &c, "no ungated promotion in force outside the packs");
    rank = x > rank ? x : rank;

    /* runtimes-up: every runtime that reported health */
    clause_init(&c, "runtimes-up");
    n = 0;
    if (ps_list(ps, P_MODELS, TAG_RUNTIME, &v, &n) == 0) {
        for (size_t i = 0; i < n; i++) {
            const struct rec_runtime *rt = v[i]->rec;
            if (rt->status != RT_DOWN)
                continue;
            fmt(d, sizeof d, "runtime %s is down since seq %llu%s%s", rt->name,
                (unsigned long long)rt->health_seq, rt->detail ? ": " : "",
                rt->detail ? rt->detail : "");
            runtime_remedy(&c, d, r, sizeof r, rt);
        }
        free(v);
    }
    fmt(d, sizeof d, "%zu runtimes known, none down", n);
    x = clause_emit(arr, &c, d);
    rank = x > rank ? x : rank;

    /* disk-reported: the latest disk_free_mb the host reported */
    clause_init(&c, "disk-reported");
    h = get1(ps, P_MODELS, TAG_HOST, "local");
    if (h == NULL || !h->has_disk) {
        clause_add(&c, 1,
                   "the host never reported free disk (host.profile "
                   "or capacity.snapshot disk_free_mb)",
                   "report capacity (a capacity.snapshot event with "
                   "disk_free_mb)");
    } else if (h->disk_free_mb < 1024) {
        fmt(d, sizeof d,
            "the host reported %lld MiB free at seq %llu "
            "(need at least 1024)",
            (long long)h->disk_free_mb, (unsigned long long)h->disk_seq);
        clause_add(&c, 2, d, "free disk space on the host");
    }
    if (h != NULL && h->has_disk)
        fmt(d, sizeof d, "%lld MiB free reported at seq %llu",
            (long long)h->disk_free_mb, (unsigned long long)h->disk_seq);
    x = clause_emit(arr, &c, d);
    rank = x > rank ? x : rank;
    return rank;
}

json_t *
doctor_state_json(struct pstate *ps, const char *only_pack)
{
    struct pentry **v = NULL;
    size_t n = 0;
    json_t *o, *packs, *box;
    int rank = 0, brank;

    if (ps_load_for_doctor(ps) < 0 ||
        ps_list(ps, P_PACKS, TAG_PACK, &v, &n) < 0)
        return NULL;
    o = json_object();
    packs = json_array();
    box = json_array();
    for (size_t i = 0; i < n; i++) {
        const struct rec_pack *p = v[i]->rec;
        json_t *pj;
        if (only_pack != NULL && strcmp(p->name, only_pack) != 0)
            continue;
        pj = doctor_pack_json(ps, p, ps->last_ts);
        if (pj == NULL) {
            free(v);
            json_decref(o);
            json_decref(packs);
            json_decref(box);
            return NULL;
        }
        if (json_is_true(json_object_get(pj, "active")) || only_pack != NULL) {
            int r = ldg_projections_verdict_rank(
                json_string_value(json_object_get(pj, "verdict")));
            if (r > rank)
                rank = r;
        }
        json_array_append_new(packs, pj);
    }
    free(v);
    brank = box_clauses(box, ps);
    /* A failed box clause makes the box degraded, not blocked. */
    if (brank == 3)
        brank = 2;
    if (brank > rank)
        rank = brank;
    json_object_set_new(o, "verdict",
                        json_string(ldg_projections_verdict_name(rank)));
    json_object_set_new(o, "packs", packs);
    json_object_set_new(o, "box", box);
    return o;
}
