/*
 * proxy.c — the proxy's HTTP handler (proxy.h): pick the upstream, pass
 * the request on, pass the answer back, record one event.
 *
 * A request's path:
 *
 *   1. which upstream: a first path segment naming one ("/vllm/v1/...",
 *      stripped before forwarding), else the X-Ledger-Upstream header,
 *      else a route of the proxy file for the model asked for (its
 *      candidates in order), else the first upstream;
 *   2. the request goes out unchanged but for the headers that are the
 *      connection's (hop-by-hop, Host, Expect), Accept-Encoding (so the
 *      answer can be read for its tokens) and the proxy's X-Ledger-*;
 *      with a route naming another model, the body's "model" is
 *      rewritten;
 *   3. refused, 5xx, or no response within the first-byte time: the next
 *      candidate, if there is one (fallback: true, reason: why);
 *   4. an answer whose Content-Type is a stream (text/event-stream,
 *      application/x-ndjson) is streamed piece by piece; any other is
 *      read whole (up to response_max), its event committed (sync), and
 *      then answered;
 *   5. the event: route.decision for a model API, proxy.request for the
 *      rest (docs/PROXY.md).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http/http.h"
#include "http/server.h"
#include "proxy/proxy_int.h"

#define POOL_MAX 256

struct ldg_proxy {
    struct ldg_httpd *httpd;
    const struct ldg_proxy_config *cfg;
    struct proxy_rec *rec;
    int async, content;
    size_t response_max, body_max;
    long connect_ms, first_byte_ms, idle_ms;
    pthread_mutex_t pool_mu;
    struct ldg_http_client *pool[POOL_MAX];
    size_t npool;
    uint64_t requests, upstream_errors, client_gone; /* __atomic */
};

/* One request, from the handler to the end of its answer. */
struct call {
    struct ldg_proxy *p;
    uint64_t t0_ns, first_ns, end_ns;
    const char *method;
    char path[512]; /* as forwarded (without an upstream prefix) */
    enum proxy_api api;
    struct proxy_reqinfo ri;
    json_t *req_json;
    char run[LDG_RUN_MAX + 1];
    char rid[LDG_ID_MAX + 1];
    int has_run, has_rid, rid_is_id;
    struct proxy_peer peer;
    size_t request_bytes, response_bytes;
    const char *upstream; /* name of the one that answered (or last tried) */
    char model_sent[256];
    char route[256];
    int fallback;
    char reason[512];
    json_t *tried; /* candidates tried, with route file: ["up/model", ...] */
    long status;
    const char *outcome;
    int streamed;
    struct ldg_http_stream *up;
    struct ldg_http_client *client;
    struct proxy_obs obs;
    /* stream state */
    int state; /* 0 streaming, 1 held piece to send, 2 end, 3 cut */
    char *held;
    size_t held_len;
    int recorded;
};

static uint64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* -------------------------------------------------------------- pool -- */

static struct ldg_http_client *
pool_get(struct ldg_proxy *p)
{
    struct ldg_http_client *c = NULL;
    pthread_mutex_lock(&p->pool_mu);
    if (p->npool > 0)
        c = p->pool[--p->npool];
    pthread_mutex_unlock(&p->pool_mu);
    if (c == NULL && ldg_http_client_new(&c) < 0)
        c = NULL;
    return c;
}

static void
pool_put(struct ldg_proxy *p, struct ldg_http_client *c)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&p->pool_mu);
    if (p->npool < POOL_MAX) {
        p->pool[p->npool++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&p->pool_mu);
    ldg_http_client_free(c);
}

/* ------------------------------------------------------------- event -- */

static void
call_free(struct call *c)
{
    if (c == NULL)
        return;
    proxy_peer_finish(&c->peer);
    ldg_http_stream_close(c->up);
    pool_put(c->p, c->client);
    json_decref(c->req_json);
    json_decref(c->ri.prompt);
    json_decref(c->tried);
    proxy_obs_release(&c->obs);
    free(c->held);
    free(c);
}

static void
set_int(json_t *o, const char *k, int64_t v)
{
    json_object_set_new(o, k, json_integer((json_int_t)v));
}

static double
ms_between(uint64_t a, uint64_t b)
{
    return b > a ? (double)(b - a) / 1e6 : 0.0;
}

/* The event of call c, as the contract names its fields. */
static json_t *
event_body(struct call *c, const char **type)
{
    struct ldg_proxy *p = c->p;
    json_t *b = json_object();
    double lat = ms_between(c->t0_ns, c->end_ns ? c->end_ns : now_ns());

    if (b == NULL)
        return NULL;
    if (c->api != API_OTHER) {
        const char *chosen = c->obs.model[0]    ? c->obs.model
                             : c->model_sent[0] ? c->model_sent
                                                : c->ri.model;
        *type = "route.decision";
        json_object_set_new(b, "route", json_string(c->route));
        json_object_set_new(b, "chosen_model", json_string(chosen));
        if (c->ri.model[0])
            json_object_set_new(b, "model_requested", json_string(c->ri.model));
        json_object_set_new(b, "api", json_string(proxy_api_name(c->api)));
        if (c->streamed)
            json_object_set_new(
                b, "ttft_ms",
                json_real(c->first_ns ? ms_between(c->t0_ns, c->first_ns)
                                      : lat));
        json_object_set_new(b, "stream", json_boolean(c->streamed));
        if (c->obs.has_in)
            set_int(b, "tokens_in", c->obs.tokens_in);
        if (c->obs.has_out)
            set_int(b, "tokens_out", c->obs.tokens_out);
        json_object_set_new(b, "fallback", json_boolean(c->fallback));
        if (c->tried)
            json_object_set(b, "candidates", c->tried);
        char digest[256];
        int verified;
        proxy_rec_model(p->rec, chosen, digest, sizeof digest, &verified);
        if (digest[0])
            json_object_set_new(b, "model_digest", json_string(digest));
        if (verified >= 0)
            json_object_set_new(b, "model_verified", json_boolean(verified));
        if (p->content) {
            if (c->ri.prompt)
                json_object_set(b, "prompt", c->ri.prompt);
            if (c->obs.content.len > 0 && !c->obs.content.err)
                json_object_set_new(
                    b, "completion",
                    json_stringn(c->obs.content.s, c->obs.content.len));
            if (c->obs.content_cut)
                json_object_set_new(b, "completion_truncated", json_true());
        }
    } else {
        *type = "proxy.request";
        json_object_set_new(b, "method", json_string(c->method));
    }
    /* the path without the query, which may carry a key */
    json_object_set_new(b, "path",
                        json_stringn(c->path, strcspn(c->path, "?")));
    json_object_set_new(b, "upstream", json_string(c->upstream));
    if (c->has_run)
        json_object_set_new(b, "run", json_string(c->run));
    set_int(b, "status", c->status);
    json_object_set_new(b, "outcome", json_string(c->outcome));
    json_object_set_new(b, "latency_ms", json_real(lat));
    set_int(b, "request_bytes", (int64_t)c->request_bytes);
    set_int(b, "response_bytes", (int64_t)c->response_bytes);
    if (c->reason[0])
        json_object_set_new(b, "reason", json_string(c->reason));
    if (c->has_rid)
        json_object_set_new(b, "request_id", json_string(c->rid));
    proxy_peer_finish(&c->peer);
    json_object_set_new(b, "client", proxy_peer_json(&c->peer));
    return b;
}

/* Records c's event; wait: until it is durable. 0 or < 0 (why). */
static int
record(struct call *c, int wait, char *why, size_t cap)
{
    const char *type = NULL;
    json_t *b;

    c->recorded = 1;
    if (!c->end_ns)
        c->end_ns = now_ns();
    if (c->outcome == NULL)
        c->outcome = "ok";
    if ((b = event_body(c, &type)) == NULL) {
        snprintf(why, cap, "out of memory");
        return LDG_ENOMEM;
    }
    return proxy_rec_submit(c->p->rec, type, b, c->has_run ? c->run : NULL,
                            c->rid_is_id ? c->rid : NULL, wait, why, cap);
}

/* ----------------------------------------------------------- answers -- */

/* An error answer in the caller's API's shape. */
static void
reply_error(struct call *c, struct ldg_httpd_req *req, unsigned status,
            const char *msg)
{
    json_t *o = json_object();
    char *text;
    static const char *const hdrs[] = {"Content-Type: application/json", NULL};
    int ollama = proxy_api_ollama(c->api) ||
                 (c->api == API_OTHER && strncmp(c->path, "/api/", 5) == 0);

    if (ollama) {
        json_object_set_new(o, "error", json_string(msg));
    } else {
        json_t *e = json_object();
        json_object_set_new(e, "message", json_string(msg));
        json_object_set_new(e, "type", json_string("ledger_proxy_error"));
        json_object_set_new(e, "code", json_integer(status));
        json_object_set_new(o, "error", e);
    }
    text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    ldg_httpd_reply(req, status, hdrs, text ? text : "{}",
                    text ? strlen(text) : 2);
    free(text);
}

/* Ends a request answered by the proxy itself (refused, upstream failed,
 * not recorded): its event, then the answer. */
static int
answer_failure(struct call *c, struct ldg_httpd_req *req, unsigned status,
               const char *outcome, const char *msg)
{
    char why[300];
    c->status = c->status ? c->status : 0;
    c->outcome = outcome;
    if (!c->reason[0])
        snprintf(c->reason, sizeof c->reason, "%.500s", msg);
    /* the failure is recorded too; whether or not that works, the
     * client gets the failure */
    record(c, !c->p->async, why, sizeof why);
    reply_error(c, req, status, msg);
    return 0;
}

/* ----------------------------------------------------------- headers -- */

struct hdrs {
    char **v;
    size_t n, cap;
    int has_ctype;
};

static int
hdr_add(struct hdrs *h, const char *name, const char *value)
{
    if (h->n + 2 > h->cap) {
        size_t nc = h->cap ? h->cap * 2 : 32;
        char **nv = realloc(h->v, nc * sizeof *nv);
        if (nv == NULL)
            return -1;
        h->v = nv;
        h->cap = nc;
    }
    size_t len = strlen(name) + strlen(value) + 3;
    char *s = malloc(len);
    if (s == NULL)
        return -1;
    snprintf(s, len, "%s: %s", name, value);
    h->v[h->n++] = s;
    h->v[h->n] = NULL;
    return 0;
}

static void
hdrs_free(struct hdrs *h)
{
    for (size_t i = 0; i < h->n; i++)
        free(h->v[i]);
    free(h->v);
}

static const char *const dropped_req[] = {"host",
                                          "connection",
                                          "keep-alive",
                                          "proxy-connection",
                                          "transfer-encoding",
                                          "te",
                                          "trailer",
                                          "upgrade",
                                          "content-length",
                                          "expect",
                                          "accept-encoding",
                                          "x-ledger-run",
                                          "x-ledger-upstream",
                                          NULL};

static int
dropped(const char *name, const char *const *list)
{
    for (size_t i = 0; list[i]; i++)
        if (strcasecmp(name, list[i]) == 0)
            return 1;
    return 0;
}

static int
copy_req_header(void *arg, const char *name, const char *value)
{
    struct hdrs *h = arg;
    if (dropped(name, dropped_req))
        return 0;
    if (strcasecmp(name, "content-type") == 0)
        h->has_ctype = 1;
    return hdr_add(h, name, value) < 0;
}

/* ------------------------------------------------------------ stream -- */

static ssize_t
stream_read(void *cls, char *buf, size_t cap)
{
    struct call *c = cls;
    char err[LDG_HTTP_ERR_MAX], why[300];

    for (;;) {
        if (c->state == 1) {
            size_t n = c->held_len < cap ? c->held_len : cap;
            memcpy(buf, c->held, n);
            memmove(c->held, c->held + n, c->held_len - n);
            c->held_len -= n;
            if (c->held_len == 0)
                c->state = 2;
            return (ssize_t)n;
        }
        if (c->state == 2)
            return 0;
        if (c->state == 3)
            return -1;
        long n = ldg_http_stream_read(c->up, buf, cap, err, sizeof err);
        if (n > 0) {
            if (!c->first_ns)
                c->first_ns = now_ns();
            c->response_bytes += (size_t)n;
            proxy_obs_piece(&c->obs, buf, (size_t)n);
            if (c->p->async || !proxy_piece_ends(buf, (size_t)n))
                return n;
            /* the end marker: held until the event is committed */
            char *nh = realloc(c->held, c->held_len + (size_t)n);
            if (nh == NULL) {
                c->state = 3;
                continue;
            }
            c->held = nh;
            memcpy(c->held + c->held_len, buf, (size_t)n);
            c->held_len += (size_t)n;
            continue;
        }
        proxy_obs_flush(&c->obs);
        c->end_ns = now_ns();
        if (n < 0) {
            c->outcome = "error";
            snprintf(c->reason, sizeof c->reason, "%s", err);
            __atomic_fetch_add(&c->p->upstream_errors, 1, __ATOMIC_RELAXED);
            /* committed before the client sees the cut, as an answer */
            record(c, !c->p->async, why, sizeof why);
            c->state = 3;
            continue;
        }
        if (c->status >= 400 || c->obs.error_seen) {
            c->outcome = "error";
            if (c->obs.error[0] && !c->reason[0])
                snprintf(c->reason, sizeof c->reason, "%s", c->obs.error);
        } else if (c->api != API_OTHER && !c->obs.done) {
            c->outcome = "error";
            snprintf(c->reason, sizeof c->reason,
                     "upstream %s: the stream ended without its end marker "
                     "(\"done\": true or [DONE])",
                     c->upstream);
        } else {
            c->outcome = "ok";
        }
        if (record(c, !c->p->async, why, sizeof why) < 0 && !c->p->async) {
            /* not recorded: the client must not take the answer as
             * complete */
            c->state = 3;
            continue;
        }
        c->state = c->held_len ? 1 : 2;
    }
}

static void
stream_done(void *cls, int completed)
{
    struct call *c = cls;
    char why[300];

    if (!c->recorded) {
        c->end_ns = now_ns();
        c->outcome = "client-gone";
        snprintf(c->reason, sizeof c->reason,
                 "the client closed the connection before the end of the "
                 "answer");
        __atomic_fetch_add(&c->p->client_gone, 1, __ATOMIC_RELAXED);
        record(c, 0, why, sizeof why);
    } else if (!completed && c->state != 3) {
        __atomic_fetch_add(&c->p->client_gone, 1, __ATOMIC_RELAXED);
    }
    __atomic_fetch_add(&c->p->requests, 1, __ATOMIC_RELAXED);
    call_free(c);
}

static int
is_stream_type(const char *ct)
{
    return ct && (strncasecmp(ct, "text/event-stream", 17) == 0 ||
                  strncasecmp(ct, "application/x-ndjson", 20) == 0);
}

/* Response headers passed back: all but the connection's own. */
static const char *const dropped_resp[] = {
    "connection", "keep-alive", "transfer-encoding", "content-length",   "date",
    "te",         "trailer",    "upgrade",           "proxy-connection", NULL};

static int
resp_headers(struct call *c, struct hdrs *h)
{
    const char *s;
    for (size_t i = 0; (s = ldg_http_stream_header(c->up, i)) != NULL; i++) {
        const char *colon = strchr(s, ':');
        char name[128];
        if (colon == NULL || (size_t)(colon - s) >= sizeof name)
            continue;
        memcpy(name, s, (size_t)(colon - s));
        name[colon - s] = 0;
        if (dropped(name, dropped_resp))
            continue;
        const char *v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        if (hdr_add(h, name, v) < 0)
            return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ handle -- */

/* Sends the request to upstream up (asking for model, NULL: the one
 * asked for); 0 with c->up open, or < 0 with c->reason saying why and
 * *refused 1 when no connection could be made. */
static int
try_upstream(struct call *c, size_t up, const char *model, const void *body,
             size_t len, struct hdrs *h, int *refused)
{
    struct ldg_proxy *p = c->p;
    const struct proxy_upstream *u = &p->cfg->up[up];
    char err[LDG_HTTP_ERR_MAX];
    size_t ul = strlen(u->url) + strlen(c->path) + 1;
    const char *q = NULL;
    json_t *nj = NULL;
    char *nb = NULL;
    int rc, connected = 0;

    c->upstream = u->name;
    snprintf(c->model_sent, sizeof c->model_sent, "%s",
             model ? model : c->ri.model);
    if (model && c->req_json && strcmp(model, c->ri.model) != 0) {
        nj = json_deep_copy(c->req_json);
        json_object_set_new(nj, "model", json_string(model));
        nb = json_dumps(nj, JSON_COMPACT);
        json_decref(nj);
        if (nb == NULL)
            return LDG_ENOMEM;
        body = nb;
        len = strlen(nb);
    }
    char *url = malloc(ul + 1);
    if (url == NULL) {
        free(nb);
        return LDG_ENOMEM;
    }
    q = c->path;
    snprintf(url, ul + 1, "%s%s", u->url, q);
    struct ldg_http_request rq = {0};
    rq.method = c->method;
    rq.url = url;
    rq.headers = (const char *const *)h->v;
    rq.body = body;
    rq.body_len = len;
    rq.connect_timeout_ms = p->connect_ms;
    if (c->client == NULL)
        c->client = pool_get(p);
    rc = ldg_http_stream_open(&c->up, c->client, &rq, p->first_byte_ms,
                              p->idle_ms, &connected, err, sizeof err);
    free(url);
    free(nb);
    if (c->tried) {
        char t[400];
        snprintf(t, sizeof t, "%s/%s", u->name, c->model_sent);
        json_array_append_new(c->tried, json_string(t));
    }
    if (rc < 0) {
        *refused = rc == LDG_ENET && !connected;
        snprintf(c->reason, sizeof c->reason, "upstream %s: %.400s", u->name,
                 err);
        /* a failed handle may hold a broken connection: a fresh one */
        ldg_http_client_free(c->client);
        c->client = NULL;
        return rc;
    }
    c->status = ldg_http_stream_status(c->up);
    return 0;
}

/* The rest of a request whose upstream answered: stream it, or read it
 * whole, record it and answer. */
static int
forward_answer(struct call *c, struct ldg_httpd_req *req, int *streamed)
{
    struct ldg_proxy *p = c->p;
    struct hdrs rh = {0};
    const char *ct = ldg_http_stream_header_get(c->up, "Content-Type");
    char err[LDG_HTTP_ERR_MAX], why[300];
    struct ldg_buf body;
    int rc;

    if (resp_headers(c, &rh) < 0) {
        hdrs_free(&rh);
        return answer_failure(c, req, 500, "error", "out of memory");
    }
    if (is_stream_type(ct)) {
        c->streamed = 1;
        *streamed = 1; /* c is the stream's from here (done frees it) */
        rc = ldg_httpd_reply_stream(req, (unsigned)c->status,
                                    (const char *const *)rh.v, stream_read,
                                    stream_done, c);
        hdrs_free(&rh);
        return rc < 0 ? -1 : 0;
    }
    ldg_buf_init(&body, p->response_max);
    for (;;) {
        char *room = (char *)ldg_buf_room(&body, 65536);
        if (room == NULL) {
            rc = body.err ? body.err : LDG_ENOMEM;
            snprintf(err, sizeof err, "the answer is over %zu bytes",
                     p->response_max);
            break;
        }
        size_t want = body.cap - body.len;
        if (p->response_max && want > p->response_max - body.len + 1)
            want = p->response_max - body.len + 1;
        long n = ldg_http_stream_read(c->up, room, want, err, sizeof err);
        if (n > 0 && !c->first_ns)
            c->first_ns = now_ns();
        if (n <= 0) {
            rc = (int)n;
            break;
        }
        body.len += (size_t)n;
        if (body.len > p->response_max) {
            rc = LDG_ETOOBIG;
            snprintf(err, sizeof err,
                     "upstream %s: the answer is over %zu bytes (the "
                     "proxy's response limit)",
                     c->upstream, p->response_max);
            break;
        }
    }
    c->end_ns = now_ns();
    c->response_bytes = body.len;
    if (rc < 0) {
        ldg_buf_release(&body);
        hdrs_free(&rh);
        __atomic_fetch_add(&p->upstream_errors, 1, __ATOMIC_RELAXED);
        snprintf(c->reason, sizeof c->reason, "%s", err);
        return answer_failure(c, req, 502, "error", err);
    }
    if (c->api != API_OTHER && body.len > 0)
        proxy_obs_whole(&c->obs, body.s, body.len);
    if (c->status >= 400) {
        c->outcome = "error";
        if (c->obs.error[0])
            snprintf(c->reason, sizeof c->reason, "%s", c->obs.error);
        else
            snprintf(c->reason, sizeof c->reason, "upstream %s: HTTP %ld",
                     c->upstream, c->status);
    } else if (c->api != API_OTHER && c->obs.bad_json) {
        c->outcome = "error";
        snprintf(c->reason, sizeof c->reason,
                 "upstream %s: the answer is not a JSON object (%zu bytes)",
                 c->upstream, body.len);
    } else {
        c->outcome = "ok";
    }
    if (p->async) {
        record(c, 0, why, sizeof why);
    } else if (record(c, 1, why, sizeof why) < 0) {
        char msg[400];
        ldg_buf_release(&body);
        hdrs_free(&rh);
        snprintf(msg, sizeof msg,
                 "the ledger proxy could not record this request, so it is "
                 "not answered: %s",
                 why);
        reply_error(c, req, 503, msg);
        return 0;
    }
    rc = ldg_httpd_reply(req, (unsigned)c->status, (const char *const *)rh.v,
                         body.s, body.len);
    ldg_buf_release(&body);
    hdrs_free(&rh);
    return rc < 0 ? -1 : 0;
}

static int
valid_text(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    return 1;
}

static int
handle(void *ctx, struct ldg_httpd_req *req)
{
    struct ldg_proxy *p = ctx;
    struct call *c = calloc(1, sizeof *c);
    struct hdrs h = {0};
    const char *target = ldg_httpd_target(req);
    const char *path = ldg_httpd_path(req);
    const void *body;
    size_t len;
    int up = -1, rc;

    if (c == NULL)
        return -1;
    c->p = p;
    c->t0_ns = now_ns();
    c->method = ldg_httpd_method(req);
    c->outcome = NULL;
    proxy_obs_init(&c->obs, API_OTHER, 0);
    proxy_peer_start(ldg_httpd_fd(req), &c->peer);
    /* 1. an upstream named by the first path segment */
    if (p->cfg->nup > 1 && path[0] == '/') {
        const char *e = strchr(path + 1, '/');
        if (e != NULL) {
            int k =
                proxy_upstream_find(p->cfg, path + 1, (size_t)(e - path - 1));
            if (k >= 0) {
                up = k;
                target += e - path;
                path = e;
            }
        }
    }
    snprintf(c->path, sizeof c->path, "%s", target);
    c->api = proxy_api_of(c->method, path);
    const char *hv = ldg_httpd_header(req, "X-Ledger-Upstream");
    body = ldg_httpd_body(req, &len);
    c->request_bytes = len;
    c->upstream = p->cfg->up[up >= 0 ? (size_t)up : 0].name;
    if ((hv = ldg_httpd_header(req, "X-Request-Id")) != NULL && hv[0]) {
        snprintf(c->rid, sizeof c->rid, "%s", hv);
        c->has_rid = 1;
        c->rid_is_id = valid_text(hv, LDG_ID_MAX);
    }
    proxy_obs_release(&c->obs);
    proxy_obs_init(&c->obs, c->api, p->content);
    if (c->api != API_OTHER) {
        if (!ldg_httpd_body_too_big(req))
            proxy_req_parse(c->api, body, len, p->content, &c->ri,
                            &c->req_json);
        snprintf(c->route, sizeof c->route, "%s",
                 c->ri.model[0] ? c->ri.model : proxy_api_name(c->api));
    }
    if ((hv = ldg_httpd_header(req, "X-Ledger-Run")) != NULL) {
        if (!valid_text(hv, LDG_RUN_MAX)) {
            rc = answer_failure(c, req, 400, "refused",
                                "X-Ledger-Run: a run id is 1 to 256 bytes "
                                "without control characters");
            call_free(c);
            __atomic_fetch_add(&p->requests, 1, __ATOMIC_RELAXED);
            return rc;
        }
        snprintf(c->run, sizeof c->run, "%s", hv);
        c->has_run = 1;
    }
    if (up < 0 && (hv = ldg_httpd_header(req, "X-Ledger-Upstream")) != NULL) {
        up = proxy_upstream_find(p->cfg, hv, strlen(hv));
        if (up < 0) {
            char msg[200];
            snprintf(msg, sizeof msg,
                     "X-Ledger-Upstream: no upstream named '%.64s'", hv);
            rc = answer_failure(c, req, 400, "refused", msg);
            call_free(c);
            __atomic_fetch_add(&p->requests, 1, __ATOMIC_RELAXED);
            return rc;
        }
        c->upstream = p->cfg->up[up].name;
    }
    if (ldg_httpd_body_too_big(req)) {
        char msg[200];
        snprintf(msg, sizeof msg,
                 "the request body is over the proxy's limit of %zu bytes",
                 p->body_max);
        rc = answer_failure(c, req, 413, "refused", msg);
        call_free(c);
        __atomic_fetch_add(&p->requests, 1, __ATOMIC_RELAXED);
        return rc;
    }
    /* 2. the request's headers */
    ldg_httpd_headers(req, copy_req_header, &h);
    /* curl's own: no "Expect: 100-continue" for a large body, and no
     * Content-Type the client did not send */
    hdr_add(&h, "Expect", "");
    if (!h.has_ctype)
        hdr_add(&h, "Content-Type", "");
    /* 3. the candidates */
    const struct proxy_route *rt =
        up < 0 ? proxy_route_find(p->cfg, c->ri.model) : NULL;
    size_t ncand = rt ? rt->n : 1;
    int refused = 0;
    rc = -1;
    if (rt)
        c->tried = json_array();
    for (size_t k = 0; k < ncand; k++) {
        size_t u = rt ? rt->cand[k].up : (size_t)(up >= 0 ? up : 0);
        const char *m = rt ? rt->cand[k].model : NULL;
        char prev[512];
        snprintf(prev, sizeof prev, "%s", c->reason);
        if (k > 0) {
            c->fallback = 1;
            ldg_http_stream_close(c->up);
            c->up = NULL;
        }
        refused = 0;
        rc = try_upstream(c, u, m, body, len, &h, &refused);
        if (rc == 0 && c->status >= 500 && k + 1 < ncand) {
            snprintf(c->reason, sizeof c->reason, "upstream %s: HTTP %ld",
                     c->upstream, c->status);
            rc = -1;
        }
        if (rc == 0) {
            if (k > 0) /* why this candidate and not the one before */
                snprintf(c->reason, sizeof c->reason, "%s", prev);
            break;
        }
        if (rc == LDG_ENOMEM)
            break;
        if (k > 0 && prev[0]) {
            char both[1100];
            snprintf(both, sizeof both, "%s; %s", prev, c->reason);
            memcpy(c->reason, both, sizeof c->reason - 1);
            c->reason[sizeof c->reason - 1] = 0;
        }
    }
    hdrs_free(&h);
    if (rc < 0) {
        char msg[600];
        __atomic_fetch_add(&p->upstream_errors, 1, __ATOMIC_RELAXED);
        snprintf(msg, sizeof msg, "%s", c->reason);
        if (c->up) { /* a 5xx of the last but one: it is the answer */
            ldg_http_stream_close(c->up);
            c->up = NULL;
        }
        rc = answer_failure(c, req, rc == LDG_ETIMEOUT ? 504 : 502,
                            refused ? "refused" : "error", msg);
        call_free(c);
        __atomic_fetch_add(&p->requests, 1, __ATOMIC_RELAXED);
        return rc;
    }
    int streamed = 0;
    rc = forward_answer(c, req, &streamed);
    if (!streamed) {
        call_free(c);
        __atomic_fetch_add(&p->requests, 1, __ATOMIC_RELAXED);
    }
    return rc;
}

/* ------------------------------------------------------------- start -- */

int
ldg_proxy_start(struct ldg_proxy **out, const struct ldg_proxy_options *o,
                char *err, size_t errcap)
{
    struct ldg_proxy *p = NULL;
    struct proxy_rec_options ro = {0};
    int rc;

    if (out == NULL || o == NULL || o->config == NULL || o->config->nup == 0 ||
        (o->ledger == NULL) == (o->client == NULL)) {
        snprintf(err, errcap,
                 o && o->config && o->config->nup == 0
                     ? "no upstream: give --upstream NAME=URL or a proxy "
                       "file"
                     : "proxy: a config and one place to write are needed");
        if (o && o->client)
            ldg_client_close(o->client);
        return LDG_EINVAL;
    }
    *out = NULL;
    p = calloc(1, sizeof *p);
    if (p == NULL) {
        if (o->client)
            ldg_client_close(o->client);
        return LDG_ENOMEM;
    }
    pthread_mutex_init(&p->pool_mu, NULL);
    p->cfg = o->config;
    p->async = o->record == LDG_PROXY_RECORD_ASYNC;
    p->content = o->record_content;
    p->body_max = o->body_max ? o->body_max : LDG_PROXY_BODY_MAX_DEFAULT;
    p->response_max =
        o->response_max ? o->response_max : LDG_PROXY_RESPONSE_MAX_DEFAULT;
    p->connect_ms =
        o->connect_ms ? o->connect_ms : LDG_PROXY_CONNECT_MS_DEFAULT;
    p->first_byte_ms =
        o->first_byte_ms ? o->first_byte_ms : LDG_PROXY_FIRST_BYTE_MS_DEFAULT;
    p->idle_ms = o->idle_ms ? o->idle_ms : LDG_PROXY_IDLE_MS_DEFAULT;
    ro.ledger = o->ledger;
    ro.client = o->client;
    ro.serve_dir = o->serve_dir;
    ro.registry = o->registry;
    ro.actor = o->actor;
    if ((rc = proxy_rec_new(&p->rec, &ro, err, errcap)) < 0) {
        pthread_mutex_destroy(&p->pool_mu);
        free(p);
        return rc;
    }
    struct ldg_httpd_options ho = {0};
    ho.listen = o->listen ? o->listen : LDG_PROXY_LISTEN_DEFAULT;
    ho.handle = handle;
    ho.ctx = p;
    ho.max_conns = o->max_conns ? o->max_conns : 1024;
    ho.timeout_s = o->idle_conn_s ? o->idle_conn_s : 300;
    ho.body_max = p->body_max;
    if ((rc = ldg_httpd_start(&p->httpd, &ho, err, errcap)) < 0) {
        proxy_rec_free(p->rec, NULL, NULL, NULL);
        pthread_mutex_destroy(&p->pool_mu);
        free(p);
        return rc;
    }
    *out = p;
    return 0;
}

unsigned
ldg_proxy_port(const struct ldg_proxy *p)
{
    return p ? ldg_httpd_port(p->httpd) : 0;
}

void
ldg_proxy_stats(const struct ldg_proxy *p, struct ldg_proxy_stats *st)
{
    memset(st, 0, sizeof *st);
    if (p == NULL)
        return;
    st->requests = __atomic_load_n(&p->requests, __ATOMIC_RELAXED);
    st->upstream_errors =
        __atomic_load_n(&p->upstream_errors, __ATOMIC_RELAXED);
    st->client_gone = __atomic_load_n(&p->client_gone, __ATOMIC_RELAXED);
    proxy_rec_stats(p->rec, &st->recorded, &st->record_failed, &st->commits);
}

void
ldg_proxy_last_error(const struct ldg_proxy *p, char *buf, size_t cap)
{
    if (p == NULL) {
        snprintf(buf, cap, "%s", "");
        return;
    }
    proxy_rec_last_error(p->rec, buf, cap);
}

int
ldg_proxy_stop(struct ldg_proxy *p, struct ldg_proxy_stats *st)
{
    if (p == NULL)
        return 0;
    ldg_httpd_stop(p->httpd);
    int rc = proxy_rec_free(p->rec, st ? &st->recorded : NULL,
                            st ? &st->record_failed : NULL,
                            st ? &st->commits : NULL);
    if (st) {
        st->requests = p->requests;
        st->upstream_errors = p->upstream_errors;
        st->client_gone = p->client_gone;
    }
    for (size_t i = 0; i < p->npool; i++)
        ldg_http_client_free(p->pool[i]);
    pthread_mutex_destroy(&p->pool_mu);
    free(p);
    return rc;
}
