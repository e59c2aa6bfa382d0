/*
 * collect.c — the counts `ledger metrics` keeps over the log's events:
 * events by type and the proxy's requests (docs/METRICS.md), brought up
 * to date one event at a time (ldg_log_scan from the size already
 * counted), and saved between runs in a cache file.
 *
 * The proxy's events (the contract in docs/METRICS.md, "Proxy"): a
 * route.decision whose body names an "upstream" is a model request the
 * proxy served; a proxy.request is any other request it passed on. Both
 * carry status, outcome, latency_ms, request_bytes and response_bytes;
 * route.decision also chosen_model, ttft_ms (streams), tokens_in,
 * tokens_out and fallback.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "metrics/metrics_int.h"
#include "ledger/module.h"
#include "util/util.h"

const double metrics_bounds[M_NBUCKETS] = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};
const char *const metrics_outcomes[M_NOUTCOMES] = {"ok", "error", "refused",
                                                   "client-gone", "other"};

const char *const metrics_otlp_types[M_NOTLP] = {
    LDG_EV_ROUTE_DECISION, LDG_EV_RUN_STEP, LDG_EV_OTEL_SPAN, LDG_EV_OTEL_LOG};

/* 2: the OTLP receiver's events (otlp) */
#define CACHE_VERSION 3 /* 3: no model is "", not "none" */

int
ldg_metrics_new(struct ldg_metrics **out)
{
    if (out == NULL)
        return LDG_EINVAL;
    *out = calloc(1, sizeof **out);
    return *out ? 0 : LDG_ENOMEM;
}

static void
clear(struct ldg_metrics *m)
{
    free(m->types);
    free(m->models);
    free(m->reqs);
    memset(m, 0, sizeof *m);
}

void
ldg_metrics_free(struct ldg_metrics *m)
{
    if (m == NULL)
        return;
    clear(m);
    free(m);
}

uint64_t
ldg_metrics_size(const struct ldg_metrics *m)
{
    return m ? m->size : 0;
}

/* Fixed tables, allocated on first use: LDG_METRICS_*_MAX named slots
 * and, after them, the one for "other". */
static int
tables(struct ldg_metrics *m)
{
    if (m->types == NULL)
        m->types = calloc(LDG_METRICS_TYPES_MAX + 1, sizeof *m->types);
    if (m->models == NULL)
        m->models = calloc(LDG_METRICS_MODELS_MAX + 1, sizeof *m->models);
    if (m->types == NULL || m->models == NULL)
        return LDG_ENOMEM;
    snprintf(m->types[LDG_METRICS_TYPES_MAX].name, sizeof m->types[0].name,
             "other");
    snprintf(m->models[LDG_METRICS_MODELS_MAX].name, sizeof m->models[0].name,
             "other");
    return 0;
}

/* The slot of type name, made while there is room; past
 * LDG_METRICS_TYPES_MAX names every new one counts as "other". A log has
 * a few dozen types: a linear search, from the last one found. */
static struct m_type *
type_slot(struct ldg_metrics *m, const char *name, size_t *hint)
{
    if (*hint < m->ntypes && strcmp(m->types[*hint].name, name) == 0)
        return &m->types[*hint];
    for (size_t i = 0; i < m->ntypes; i++)
        if (strcmp(m->types[i].name, name) == 0) {
            *hint = i;
            return &m->types[i];
        }
    if (m->ntypes >= LDG_METRICS_TYPES_MAX)
        return &m->types[LDG_METRICS_TYPES_MAX];
    LDG_ASSERT(m->ntypes < LDG_METRICS_TYPES_MAX);
    snprintf(m->types[m->ntypes].name, sizeof m->types[0].name, "%s", name);
    *hint = m->ntypes;
    return &m->types[m->ntypes++];
}

/* The index of model name (n bytes; "" when n is 0: not a model call,
 * shown as "none", apart from a model that is called "none"). */
static uint16_t
model_slot(struct ldg_metrics *m, const char *name, size_t n)
{
    if (n > LDG_METRICS_LABEL_MAX)
        return LDG_METRICS_MODELS_MAX;
    for (size_t i = 0; i < m->nmodels; i++)
        if (strlen(m->models[i].name) == n &&
            memcmp(m->models[i].name, name, n) == 0)
            return (uint16_t)i;
    if (m->nmodels >= LDG_METRICS_MODELS_MAX)
        return LDG_METRICS_MODELS_MAX;
    LDG_ASSERT(n <= LDG_METRICS_LABEL_MAX &&
               m->nmodels < LDG_METRICS_MODELS_MAX);
    memcpy(m->models[m->nmodels].name, name, n);
    m->models[m->nmodels].name[n] = '\0';
    return (uint16_t)m->nmodels++;
}

static uint16_t
status_slot(struct ldg_metrics *m, int64_t status)
{
    if (status < 0 || status > 999)
        return M_OTHER_STATUS;
    for (size_t i = 0; i < m->nstatuses; i++)
        if (m->statuses[i] == (unsigned)status)
            return (uint16_t)i;
    if (m->nstatuses >= LDG_METRICS_STATUSES_MAX)
        return M_OTHER_STATUS;
    LDG_ASSERT(m->nstatuses < LDG_METRICS_STATUSES_MAX);
    m->statuses[m->nstatuses] = (unsigned)status;
    return (uint16_t)m->nstatuses++;
}

static uint16_t
outcome_slot(const struct ldg_slice *s)
{
    for (uint16_t i = 0; i + 1 < M_NOUTCOMES; i++)
        if (strlen(metrics_outcomes[i]) == s->n &&
            memcmp(metrics_outcomes[i], s->p, s->n) == 0)
            return i;
    return M_NOUTCOMES - 1;
}

static int
req_add(struct ldg_metrics *m, uint16_t model, uint16_t status,
        uint16_t outcome)
{
    for (size_t i = m->nreqs; i-- > 0;) {
        struct m_req *r = &m->reqs[i];
        if (r->model == model && r->status == status && r->outcome == outcome) {
            r->n++;
            return 0;
        }
    }
    if (m->nreqs == m->capreqs) {
        size_t cap = m->capreqs ? m->capreqs * 2 : 16;
        struct m_req *p = realloc(m->reqs, cap * sizeof *p);
        if (p == NULL)
            return LDG_ENOMEM;
        m->reqs = p;
        m->capreqs = cap;
    }
    LDG_ASSERT(m->nreqs < m->capreqs);
    m->reqs[m->nreqs++] = (struct m_req){model, status, outcome, 1};
    return 0;
}

static void
observe(struct m_hist *h, double seconds)
{
    size_t i = 0;
    if (!(seconds >= 0)) /* NaN, negative: not an observation */
        return;
    while (i < M_NBUCKETS && seconds > metrics_bounds[i])
        i++;
    if (i < M_NBUCKETS)
        h->b[i]++;
    h->count++;
    h->sum += seconds;
}

static uint64_t
nonneg(const struct ldg_body_view *b, const char *name)
{
    int64_t v;
    double d;
    if (ldg_body_view_int(b, name, &v) == 1)
        return v > 0 ? (uint64_t)v : 0;
    if (ldg_body_view_num(b, name, &d) == 1 && d > 0 && d < 1.8e19)
        return (uint64_t)d;
    return 0;
}

/* One proxy event (route = 1: a route.decision with "upstream"). */
static int
count_proxy(struct ldg_metrics *m, const struct ldg_body_view *b, int route)
{
    struct ldg_slice model = {"", 0}, outcome = {"", 0};
    int64_t status = -1;
    double ms;
    int fb = 0;
    uint16_t mi;
    struct m_model *mm;

    if (route && ldg_body_view_str(b, "chosen_model", &model) != 1 &&
        ldg_body_view_str(b, "model_requested", &model) != 1)
        model.n = 0;
    if (ldg_body_view_int(b, "status", &status) != 1)
        status = -1;
    if (ldg_body_view_str(b, "outcome", &outcome) != 1)
        outcome.n = 0;
    mi = model_slot(m, model.p, model.n);
    mm = &m->models[mi];
    m->proxy_events++;
    if (ldg_body_view_num(b, "latency_ms", &ms) == 1)
        observe(&mm->lat, ms / 1000.0);
    if (route && ldg_body_view_num(b, "ttft_ms", &ms) == 1)
        observe(&mm->ttft, ms / 1000.0);
    if (route) {
        mm->tok_in += nonneg(b, "tokens_in");
        mm->tok_out += nonneg(b, "tokens_out");
        if (ldg_body_view_bool(b, "fallback", &fb) == 1 && fb)
            mm->fallbacks++;
    }
    mm->req_bytes += nonneg(b, "request_bytes");
    mm->resp_bytes += nonneg(b, "response_bytes");
    return req_add(m, mi, status_slot(m, status), outcome_slot(&outcome));
}

#define PROXY_TYPE LDG_EV_PROXY_REQUEST
#define ROUTE_TYPE LDG_EV_ROUTE_DECISION

struct scan {
    struct ldg_metrics *m;
    size_t hint;
    uint64_t n;
};

/* An event the OTLP receiver made: its id says so (docs/OTLP.md, "The
 * id"), and its type which of metrics_otlp_types it is. */
static void
count_otlp(struct ldg_metrics *m, const struct ldg_event *ev)
{
    int span = ev->id_len > 5 && memcmp(ev->id, "otlp:", 5) == 0;
    int log = ev->id_len > 9 && memcmp(ev->id, "otlp-log:", 9) == 0;
    if (!span && !log)
        return;
    for (size_t i = 0; i < M_NOTLP; i++)
        if (strcmp(ev->type, metrics_otlp_types[i]) == 0 &&
            (i == M_NOTLP - 1) == log) {
            m->otlp[i]++;
            return;
        }
}

static int
want_body(void *ctx, const struct ldg_event *ev)
{
    (void)ctx;
    return strcmp(ev->type, ROUTE_TYPE) == 0 ||
           strcmp(ev->type, PROXY_TYPE) == 0;
}

static int
on_event(void *ctx, const struct ldg_event *ev, const struct ldg_body_view *b)
{
    struct scan *s = ctx;
    struct m_type *t = type_slot(s->m, ev->type, &s->hint);
    struct ldg_slice up;

    t->n++;
    s->n++;
    count_otlp(s->m, ev);
    if (strcmp(ev->type, PROXY_TYPE) == 0)
        return count_proxy(s->m, b, 0);
    if (strcmp(ev->type, ROUTE_TYPE) == 0 &&
        ldg_body_view_str(b, "upstream", &up) == 1)
        return count_proxy(s->m, b, 1);
    return 0;
}

int
ldg_metrics_update(struct ldg_metrics *m, struct ldg_txn *t, uint64_t *scanned,
                   char *err, size_t errcap)
{
    struct ldg_scan_fns fns;
    struct scan s;
    uint64_t size;
    uint8_t leaf[32];
    int rc;

    if (scanned)
        *scanned = 0;
    if (m == NULL || t == NULL)
        return LDG_EINVAL;
    if ((rc = ldg_txn_size(t, &size)) < 0)
        goto fail;
    /* the counts are of this log only if its event size-1 is the one
     * counted: a log replaced (restored, re-initialised) starts again */
    if (m->size > 0 &&
        (m->size > size || ldg_tree_stored_hash(t, 0, m->size - 1, leaf) < 0 ||
         memcmp(leaf, m->leaf, 32) != 0))
        clear(m);
    if ((rc = tables(m)) < 0)
        goto fail;
    if (size == m->size)
        return 0;
    memset(&s, 0, sizeof s);
    s.m = m;
    memset(&fns, 0, sizeof fns);
    fns.want_body = want_body;
    fns.event = on_event;
    fns.ctx = &s;
    rc = ldg_log_scan(t, m->size, size, &fns, NULL);
    if (scanned)
        *scanned = s.n;
    if (rc < 0) {
        /* what was added stays half-counted: start again next time */
        clear(m);
        goto fail;
    }
    if ((rc = ldg_tree_stored_hash(t, 0, size - 1, m->leaf)) < 0) {
        clear(m);
        goto fail;
    }
    m->size = size;
    return 0;
fail:
    snprintf(err, errcap, "counting the log's events: %s%s%s", ldg_strerror(rc),
             rc == LDG_ECORRUPT ? ": " : "",
             rc == LDG_ECORRUPT ? ldg_errmsg(ldg_txn_ledger(t)) : "");
    return rc;
}

/* ------------------------------------------------------------- cache -- */

static int
get_u64(const json_t *o, const char *k, uint64_t *v)
{
    const char *s = json_string_value(json_object_get(o, k));
    char *end;
    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    *v = strtoull(s, &end, 10);
    return errno || *end ? -1 : 0;
}

static json_t *
hist_json(const struct m_hist *h)
{
    json_t *b = json_array();
    for (size_t i = 0; i < M_NBUCKETS; i++)
        json_array_append_new(b, ldg_json_u64(h->b[i]));
    return json_pack("{s:o, s:o, s:f}", "b", b, "count", ldg_json_u64(h->count),
                     "sum", h->sum);
}

static int
hist_read(const json_t *o, struct m_hist *h)
{
    const json_t *b = json_object_get(o, "b");
    if (json_array_size(b) != M_NBUCKETS || get_u64(o, "count", &h->count) ||
        !json_is_number(json_object_get(o, "sum")))
        return -1;
    h->sum = json_number_value(json_object_get(o, "sum"));
    for (size_t i = 0; i < M_NBUCKETS; i++) {
        const char *s = json_string_value(json_array_get(b, i));
        if (s == NULL)
            return -1;
        h->b[i] = strtoull(s, NULL, 10);
    }
    return 0;
}

int
ldg_metrics_save(const struct ldg_metrics *m, const char *path, char *err,
                 size_t errcap)
{
    json_t *o, *types, *models, *st, *reqs;
    char hex[65], tmp[4200], *text;
    int rc = 0, fd, err_no;

    ldg_hex(hex, m->leaf, 32);
    types = json_object();
    for (size_t i = 0; i < m->ntypes; i++)
        json_object_set_new(types, m->types[i].name,
                            ldg_json_u64(m->types[i].n));
    if (m->types && m->types[LDG_METRICS_TYPES_MAX].n)
        json_object_set_new(types, "other",
                            ldg_json_u64(m->types[LDG_METRICS_TYPES_MAX].n));
    models = json_array();
    for (size_t i = 0; m->models && i <= LDG_METRICS_MODELS_MAX; i++) {
        const struct m_model *x = &m->models[i];
        if (i >= m->nmodels && i < LDG_METRICS_MODELS_MAX)
            continue;
        json_array_append_new(
            models,
            json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "name",
                      x->name, "lat", hist_json(&x->lat), "ttft",
                      hist_json(&x->ttft), "tok_in", ldg_json_u64(x->tok_in),
                      "tok_out", ldg_json_u64(x->tok_out), "req_bytes",
                      ldg_json_u64(x->req_bytes), "resp_bytes",
                      ldg_json_u64(x->resp_bytes), "fallbacks",
                      ldg_json_u64(x->fallbacks)));
    }
    st = json_array();
    for (size_t i = 0; i < m->nstatuses; i++)
        json_array_append_new(st, json_integer(m->statuses[i]));
    reqs = json_array();
    for (size_t i = 0; i < m->nreqs; i++)
        json_array_append_new(
            reqs, json_pack("[i, i, i, o]", m->reqs[i].model, m->reqs[i].status,
                            m->reqs[i].outcome, ldg_json_u64(m->reqs[i].n)));
    json_t *otlp = json_array();
    for (size_t i = 0; i < M_NOTLP; i++)
        json_array_append_new(otlp, ldg_json_u64(m->otlp[i]));
    o = json_pack("{s:i, s:o, s:s, s:o, s:o, s:o, s:o, s:o, s:o}", "version",
                  CACHE_VERSION, "size", ldg_json_u64(m->size), "leaf", hex,
                  "types", types, "models", models, "statuses", st, "requests",
                  reqs, "proxy_events", ldg_json_u64(m->proxy_events), "otlp",
                  otlp);
    /* the text whole, then one write (jansson's dumpfd writes it a token
     * at a time) */
    text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (text == NULL) {
        snprintf(err, errcap, "cannot write %s: %s", path,
                 ldg_strerror(LDG_ENOMEM));
        return LDG_ENOMEM;
    }
    fd = ldg_tmp_beside(path, 0640, tmp, sizeof tmp); /* no planted name */
    if (fd >= 0) {
        err_no = ldg_write_all(fd, text, strlen(text), 0) == 0 ? 0 : errno;
        if (close(fd) != 0 && err_no == 0)
            err_no = errno;
        if (err_no == 0 && rename(tmp, path) != 0)
            err_no = errno;
        if (err_no != 0)
            unlink(tmp);
    } else {
        err_no = errno;
    }
    free(text);
    if (err_no != 0) {
        snprintf(err, errcap, "cannot write %s: %s", path, strerror(err_no));
        rc = LDG_EIO;
    }
    return rc;
}

static int
load_into(struct ldg_metrics *m, const json_t *o)
{
    const char *k, *hex;
    json_t *v;
    size_t i;

    if (json_integer_value(json_object_get(o, "version")) != CACHE_VERSION ||
        get_u64(o, "size", &m->size) ||
        (hex = json_string_value(json_object_get(o, "leaf"))) == NULL ||
        ldg_unhex(m->leaf, 32, hex) < 0 ||
        get_u64(o, "proxy_events", &m->proxy_events) || tables(m) < 0 ||
        json_array_size(json_object_get(o, "otlp")) != M_NOTLP)
        return -1;
    for (i = 0; i < M_NOTLP; i++) {
        const char *s =
            json_string_value(json_array_get(json_object_get(o, "otlp"), i));
        if (s == NULL || *s < '0' || *s > '9')
            return -1;
        m->otlp[i] = strtoull(s, NULL, 10);
    }
    json_object_foreach(json_object_get(o, "types"), k, v)
    {
        size_t hint = 0;
        struct m_type *t = strcmp(k, "other") == 0
                               ? &m->types[LDG_METRICS_TYPES_MAX]
                               : type_slot(m, k, &hint);
        const char *s = json_string_value(v);
        if (s == NULL || strlen(k) > LDG_TYPE_MAX)
            return -1;
        t->n = strtoull(s, NULL, 10);
    }
    json_array_foreach(json_object_get(o, "models"), i, v)
    {
        const char *name = json_string_value(json_object_get(v, "name"));
        struct m_model *x;
        if (name == NULL)
            return -1;
        x = strcmp(name, "other") == 0 &&
                    i + 1 == json_array_size(json_object_get(o, "models"))
                ? &m->models[LDG_METRICS_MODELS_MAX]
                : &m->models[model_slot(m, name, strlen(name))];
        if (hist_read(json_object_get(v, "lat"), &x->lat) ||
            hist_read(json_object_get(v, "ttft"), &x->ttft) ||
            get_u64(v, "tok_in", &x->tok_in) ||
            get_u64(v, "tok_out", &x->tok_out) ||
            get_u64(v, "req_bytes", &x->req_bytes) ||
            get_u64(v, "resp_bytes", &x->resp_bytes) ||
            get_u64(v, "fallbacks", &x->fallbacks))
            return -1;
    }
    json_array_foreach(json_object_get(o, "statuses"), i, v)
    {
        if (!json_is_integer(v) || m->nstatuses >= LDG_METRICS_STATUSES_MAX)
            return -1;
        m->statuses[m->nstatuses++] = (unsigned)json_integer_value(v);
    }
    json_array_foreach(json_object_get(o, "requests"), i, v)
    {
        json_int_t mi = json_integer_value(json_array_get(v, 0));
        json_int_t si = json_integer_value(json_array_get(v, 1));
        json_int_t oi = json_integer_value(json_array_get(v, 2));
        const char *n = json_string_value(json_array_get(v, 3));
        if (n == NULL || mi < 0 ||
            (mi >= (json_int_t)m->nmodels && mi != LDG_METRICS_MODELS_MAX) ||
            (si >= (json_int_t)m->nstatuses && si != M_OTHER_STATUS) ||
            si < 0 || oi < 0 || oi >= M_NOUTCOMES ||
            req_add(m, (uint16_t)mi, (uint16_t)si, (uint16_t)oi) < 0 ||
            m->nreqs != i + 1) /* a series given twice */
            return -1;
        m->reqs[i].n = strtoull(n, NULL, 10);
    }
    return 0;
}

int
ldg_metrics_load(struct ldg_metrics *m, const char *path)
{
    json_error_t je;
    json_t *o;
    int rc;

    if (m == NULL || path == NULL)
        return LDG_EINVAL;
    clear(m);
    {
        /* never through a symlink planted in its place: one is damage,
         * counted again and replaced */
        int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0)
            return errno == ENOENT ? LDG_ENOTFOUND : LDG_ECORRUPT;
        o = json_loadfd(fd, JSON_REJECT_DUPLICATES, &je);
        close(fd);
    }
    if (o == NULL)
        return LDG_ECORRUPT;
    rc = load_into(m, o) < 0 ? LDG_ECORRUPT : 0;
    json_decref(o);
    if (rc < 0)
        clear(m);
    return rc;
}

int
ldg_metrics_count(struct ldg_ledger *l, int use_cache, struct ldg_metrics **out,
                  char *note, size_t notecap, char *err, size_t errcap)
{
    struct ldg_metrics *m = NULL;
    struct ldg_txn *t = NULL;
    char cache[4200], serr[1024];
    uint64_t before;
    int rc;

    *out = NULL;
    err[0] = '\0';
    if (note != NULL && notecap > 0)
        note[0] = '\0';
    if ((rc = ldg_metrics_new(&m)) < 0)
        return rc;
    snprintf(cache, sizeof cache, "%s/%s", ldg_dir(l), LDG_METRICS_CACHE_FILE);
    if (use_cache && ldg_metrics_load(m, cache) == LDG_ECORRUPT && note != NULL)
        snprintf(note, notecap,
                 "%s is not a cache this version wrote: counting every event "
                 "again",
                 cache);
    before = ldg_metrics_size(m);
    if ((rc = ldg_txn_begin(l, LDG_TXN_READ, &t)) == 0)
        rc = ldg_metrics_update(m, t, NULL, err, errcap);
    ldg_txn_abort(t);
    if (rc < 0) {
        ldg_metrics_free(m);
        return rc;
    }
    /* (a cache that cannot be written only costs the next run a full
     * count) */
    if (use_cache && ldg_metrics_size(m) != before &&
        access(ldg_dir(l), W_OK) == 0 &&
        ldg_metrics_save(m, cache, serr, sizeof serr) < 0 && note != NULL)
        snprintf(note, notecap, "%s (the next run counts again)", serr);
    *out = m;
    return 0;
}

int
ldg_metrics_catch_up(struct ldg_ledger *l, char *err, size_t errcap)
{
    struct ldg_metrics *m = NULL;
    char cache[4200];
    int rc;

    if (l == NULL)
        return LDG_EINVAL;
    err[0] = '\0';
    snprintf(cache, sizeof cache, "%s/%s", ldg_dir(l), LDG_METRICS_CACHE_FILE);
    if (access(cache, F_OK) != 0)
        return 0;
    rc = ldg_metrics_count(l, 1, &m, NULL, 0, err, errcap);
    ldg_metrics_free(m);
    return rc;
}
