/*
 * run.c — running a suite against an OpenAI-compatible endpoint.
 *
 * N worker threads, each with its own HTTP client (so its connection is
 * kept alive across cases), take the next case index from a shared
 * counter, POST {model, messages, temperature: 0, seed, stream: false} to
 * ENDPOINT/chat/completions, read choices[0].message.content, and check
 * it. A request that fails in any way (refused, 5xx, timeout, a reply
 * over the cap, a reply that is not the documented shape) fails its case
 * with the reason; it never counts as passed.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evals/evals_int.h"
#include "http/http.h"
#include "ledger/ledger.h"
#include "util/util.h"

#define AUTH_BEARER "Authorization: Bearer "

struct runner {
    const struct ldg_eval_suite *s;
    const struct ldg_eval_run_opts *o;
    struct ldg_eval_report *rep;
    char url[2048];
    char auth[1024];
    pthread_mutex_t mu;
    size_t next;
};

static void
run_case(struct runner *r, struct ldg_http_client *hc, size_t i)
{
    struct ldg_eval_case_result *cr = &r->rep->cases[i];
    const struct eval_case *c = &r->s->cases[i];
    const char *hdrs[3] = {"Content-Type: application/json", NULL, NULL};
    struct ldg_http_response resp;
    char err[LDG_HTTP_ERR_MAX];
    char *body;
    json_t *req, *reply = NULL;

    if (r->auth[0])
        hdrs[1] = r->auth;
    req = json_pack("{s:s, s:O, s:i, s:b}", "model", r->o->model, "messages",
                    c->messages, "temperature", 0, "stream", 0);
    if (req && r->o->seed >= 0)
        json_object_set_new(req, "seed", json_integer(r->o->seed));
    body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (!body) {
        cr->request_failed = 1;
        snprintf(cr->detail, sizeof cr->detail, "out of memory");
        return;
    }
    struct ldg_http_request hr = {
        .method = "POST",
        .url = r->url,
        .headers = hdrs,
        .body = body,
        .body_len = strlen(body),
        .timeout_ms = r->o->timeout_ms > 0 ? r->o->timeout_ms : 120000,
        .max_response_bytes =
            r->o->max_reply_bytes ? r->o->max_reply_bytes : 4u << 20,
    };
    int rc = ldg_http_request(hc, &hr, &resp, err, sizeof err);
    free(body);
    cr->latency_ms = resp.elapsed_ms;
    if (rc < 0) {
        cr->request_failed = 1;
        snprintf(cr->detail, sizeof cr->detail, "request failed: %.*s",
                 ldg_utf8_cut(err, 200), err);
        goto out;
    }
    json_error_t je;
    reply = resp.body ? json_loadb(resp.body, resp.body_len, 0, &je) : NULL;
    json_t *content = json_object_get(
        json_object_get(json_array_get(json_object_get(reply, "choices"), 0),
                        "message"),
        "content");
    if (!json_is_string(content)) {
        cr->request_failed = 1;
        snprintf(cr->detail, sizeof cr->detail, "malformed reply: %s",
                 reply ? "no choices[0].message.content string" : "not JSON");
        goto out;
    }
    const char *text = json_string_value(content);
    size_t tl = json_string_length(content);
    const char *which = NULL;
    if (ldg_eval_forbidden(r->s, text, tl, &which)) {
        cr->violation = 1;
        snprintf(cr->detail, sizeof cr->detail,
                 "policy violation: reply matches forbid /%.*s/",
                 ldg_utf8_cut(which, 80), which);
    } else if (ldg_eval_check(r->s, i, text, tl, cr->detail,
                              sizeof cr->detail)) {
        cr->passed = 1;
    }
out:
    json_decref(reply);
    ldg_http_response_release(&resp);
}

static void *
worker(void *arg)
{
    struct runner *r = arg;
    struct ldg_http_client *hc = NULL;
    ldg_http_client_new(&hc); /* NULL on failure: one-shot handles */
    for (;;) {
        pthread_mutex_lock(&r->mu);
        size_t i = r->next++;
        pthread_mutex_unlock(&r->mu);
        if (i >= r->s->ncases)
            break;
        run_case(r, hc, i);
    }
    ldg_http_client_free(hc);
    return NULL;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted v[n]. */
static double
pct(const double *v, size_t n, double q)
{
    size_t k = (size_t)ceil(q * (double)n);
    if (k < 1)
        k = 1;
    return v[k - 1];
}

static double
metric(const struct ldg_eval_report *rep, const char *m)
{
    if (strcmp(m, "pass_rate") == 0)
        return rep->pass_rate;
    if (strcmp(m, "latency_p50_ms") == 0)
        return rep->p50_ms;
    if (strcmp(m, "latency_p95_ms") == 0)
        return rep->p95_ms;
    if (strcmp(m, "policy_violations") == 0)
        return (double)rep->violations;
    return (double)rep->passed;
}

static int
threshold_holds(const struct ldg_eval_suite *s,
                const struct ldg_eval_report *rep)
{
    json_t *t = ldg_eval_suite_threshold(s);
    const char *m = json_string_value(json_object_get(t, "metric"));
    const char *op = json_string_value(json_object_get(t, "op"));
    double want = json_number_value(json_object_get(t, "value"));
    int ok = 0;
    if (m && op) {
        double v = metric(rep, m);
        if (rep->total > 0 && rep->request_failures == rep->total)
            ok = 0; /* no reply at all: nothing was measured */
        else if (strncmp(m, "latency", 7) == 0 && !rep->has_latency)
            ok = 0; /* no latency measured: cannot hold */
        else if (strcmp(m, "policy_violations") == 0 &&
                 rep->request_failures > 0)
            ok = 0; /* a case with no reply cannot be checked for one */
        else if (strcmp(op, ">=") == 0)
            ok = v >= want;
        else if (strcmp(op, ">") == 0)
            ok = v > want;
        else if (strcmp(op, "<=") == 0)
            ok = v <= want;
        else if (strcmp(op, "<") == 0)
            ok = v < want;
        else
            ok = v == want;
    }
    json_decref(t);
    return ok;
}

int
eval_run_check(const struct ldg_eval_run_opts *o, char *err, size_t errlen)
{
    unsigned nt = o->concurrency ? o->concurrency : 1;
    size_t el = strlen(o->endpoint);
    if (nt > LDG_EVAL_CONCURRENCY_MAX) {
        snprintf(err, errlen, "eval: concurrency %u is over the limit of %d",
                 nt, LDG_EVAL_CONCURRENCY_MAX);
        return LDG_EINVAL;
    }
    while (el > 0 && o->endpoint[el - 1] == '/')
        el--;
    if (el + sizeof "/chat/completions" > sizeof((struct runner *)0)->url) {
        snprintf(err, errlen, "eval: endpoint URL longer than %zu bytes",
                 sizeof((struct runner *)0)->url - sizeof "/chat/completions");
        return LDG_EINVAL;
    }
    if (o->api_key != NULL && strlen(o->api_key) + sizeof AUTH_BEARER >
                                  sizeof((struct runner *)0)->auth) {
        snprintf(err, errlen, "eval: API key longer than %zu bytes",
                 sizeof((struct runner *)0)->auth - sizeof AUTH_BEARER);
        return LDG_EINVAL;
    }
    return 0;
}

int
ldg_eval_run(const struct ldg_eval_suite *s, const struct ldg_eval_run_opts *o,
             struct ldg_eval_report *rep, char *err, size_t errlen)
{
    struct runner r = {.s = s, .o = o, .rep = rep};
    unsigned nt;
    pthread_t th[LDG_EVAL_CONCURRENCY_MAX];
    uint64_t t0;

    if (err && errlen)
        err[0] = 0;
    if (!s || !o || !rep || !o->endpoint || !o->model) {
        snprintf(err, errlen, "eval: suite, endpoint and model are required");
        return LDG_EINVAL;
    }
    memset(rep, 0, sizeof *rep);
    if (eval_run_check(o, err, errlen) < 0)
        return LDG_EINVAL;
    nt = o->concurrency ? o->concurrency : 1;
    size_t el = strlen(o->endpoint);
    while (el > 0 && o->endpoint[el - 1] == '/')
        el--;
    snprintf(r.url, sizeof r.url, "%.*s/chat/completions", (int)el,
             o->endpoint);
    if (o->api_key)
        snprintf(r.auth, sizeof r.auth, AUTH_BEARER "%s", o->api_key);
    rep->total = s->ncases;
    rep->cases = calloc(s->ncases, sizeof *rep->cases);
    if (!rep->cases)
        return LDG_ENOMEM;
    if (nt > s->ncases)
        nt = (unsigned)s->ncases;
    pthread_mutex_init(&r.mu, NULL);
    t0 = ldg_now_mono_ns();
    unsigned started = 0;
    for (unsigned k = 0; k < nt; k++) {
        if (pthread_create(&th[k], NULL, worker, &r) != 0)
            break;
        started++;
    }
    if (started == 0)
        worker(&r); /* no threads: run here */
    for (unsigned k = 0; k < started; k++)
        pthread_join(th[k], NULL);
    pthread_mutex_destroy(&r.mu);
    rep->elapsed_ms = (double)(ldg_now_mono_ns() - t0) / 1e6;

    double *lat = malloc((s->ncases ? s->ncases : 1) * sizeof *lat);
    size_t nl = 0;
    if (!lat) {
        ldg_eval_report_release(rep);
        return LDG_ENOMEM;
    }
    for (size_t i = 0; i < s->ncases; i++) {
        const struct ldg_eval_case_result *c = &rep->cases[i];
        rep->passed += c->passed;
        rep->request_failures += c->request_failed;
        rep->violations += c->violation;
        LDG_ASSERT(nl <= i);
        if (!c->request_failed)
            lat[nl++] = c->latency_ms;
    }
    rep->pass_rate = s->ncases ? (double)rep->passed / (double)s->ncases : 0;
    if (nl > 0) {
        qsort(lat, nl, sizeof *lat, cmp_double);
        rep->has_latency = 1;
        rep->p50_ms = pct(lat, nl, 0.50);
        rep->p95_ms = pct(lat, nl, 0.95);
    }
    free(lat);
    rep->threshold_passed = threshold_holds(s, rep);
    return 0;
}

void
ldg_eval_report_release(struct ldg_eval_report *rep)
{
    if (!rep)
        return;
    free(rep->cases);
    memset(rep, 0, sizeof *rep);
}

static double
round3(double v)
{
    return round(v * 1000.0) / 1000.0;
}

json_t *
ldg_eval_result_body(const struct ldg_eval_suite *s,
                     const struct ldg_eval_run_opts *o,
                     const struct ldg_eval_report *rep, const char *eval_id,
                     const char *target, const char *candidate,
                     const char *candidate_digest)
{
    json_t *b = json_object();
    json_t *m = json_object();
    json_t *cases = json_array();
    int all = s->ncases <= 2000;
    if (!b || !m || !cases)
        goto fail;
    json_object_set_new(m, "pass_rate", json_real(round3(rep->pass_rate)));
    if (rep->has_latency) {
        json_object_set_new(m, "latency_p50_ms",
                            json_real(round3(rep->p50_ms)));
        json_object_set_new(m, "latency_p95_ms",
                            json_real(round3(rep->p95_ms)));
    }
    for (size_t i = 0; i < s->ncases; i++) {
        const struct ldg_eval_case_result *c = &rep->cases[i];
        if (!all && c->passed)
            continue;
        json_t *e = json_pack("{s:s, s:b, s:f}", "id", s->cases[i].id, "ok",
                              c->passed, "latency_ms", round3(c->latency_ms));
        if (!e)
            goto fail;
        if (!c->passed)
            json_object_set_new(e, "detail", json_string(c->detail));
        json_array_append_new(cases, e);
    }
    json_object_set_new(b, "eval_id", json_string(eval_id));
    json_object_set_new(b, "suite", json_string(s->name));
    json_object_set_new(b, "suite_version",
                        s->version ? json_string(s->version) : json_null());
    json_object_set_new(b, "suite_digest", json_string(s->digest));
    json_object_set_new(b, "target", json_string(target));
    json_object_set_new(b, "candidate", json_string(candidate));
    json_object_set_new(b, "candidate_digest",
                        candidate_digest ? json_string(candidate_digest)
                                         : json_null());
    json_object_set_new(b, "harness", json_string(LDG_EVAL_HARNESS));
    json_object_set_new(b, "endpoint", json_string(o->endpoint));
    json_object_set_new(b, "passed", json_boolean(rep->threshold_passed));
    json_object_set_new(b, "cases_total", json_integer((json_int_t)rep->total));
    json_object_set_new(b, "cases_passed",
                        json_integer((json_int_t)rep->passed));
    json_object_set_new(b, "request_failures",
                        json_integer((json_int_t)rep->request_failures));
    json_object_set_new(b, "policy_violations",
                        json_integer((json_int_t)rep->violations));
    json_object_set_new(b, "metrics", m);
    json_object_set_new(b, "threshold", ldg_eval_suite_threshold(s));
    json_object_set_new(b, "cases_listed", json_string(all ? "all" : "failed"));
    json_object_set_new(b, "cases", cases);
    return b;
fail:
    json_decref(b);
    json_decref(m);
    json_decref(cases);
    return NULL;
}
