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
 *
 * Nothing here blocks a thread. The server is event-driven (one thread
 * serves every client connection, http/server.h's async model), the
 * upstream requests all run on one thread of the HTTP client
 * (ldg_http_loop), and the recorder commits on its own thread. A call
 * (one request) moves between them by callbacks:
 *
 *   handle        (server)   parse, pick, start the transfer; the
 *                            request is deferred (its connection waits)
 *   up_head       (client)   the status and headers: a 5xx with another
 *                            candidate ends this transfer; a stream is
 *                            answered at once, its pieces to follow
 *   up_data       (client)   a piece: kept whole, or handed to the
 *                            stream's buffer (the transfer pauses while
 *                            the buffer is full: a slow client slows the
 *                            upstream, never the proxy's memory)
 *   up_end        (client)   the next candidate, or the upstream part is
 *                            done
 *   stream_read   (server)   the client takes what the buffer holds
 *   stream_done   (server)   the stream ended; a client gone before the
 *                            end cancels the upstream transfer
 *   do_record                the upstream part and the scan for the
 *                            client's process (peer.c) are both done:
 *                            the event is queued
 *   recorded      (recorder) committed (or not): the answer goes out
 *                            (sync mode), or the stream's last piece
 *
 * A call is reference-counted (the handler, the transfer, the stream,
 * the record, the peer scan each hold one); its mutex guards what the
 * server's and the client's threads share: the stream's buffer and the
 * transfer handle.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "http/http.h"
#include "http/server.h"
#include "proxy/proxy_int.h"

/* A stream's buffer between the upstream and the client: the transfer
 * pauses at STREAM_HIGH bytes and goes on below STREAM_LOW. */
#define STREAM_HIGH (64u * 1024)
#define STREAM_LOW (16u * 1024)

struct ldg_proxy {
    struct ldg_httpd *httpd;
    struct ldg_http_loop *loop;
    struct proxy_peers *peers;
    const struct ldg_proxy_config *cfg;
    struct proxy_rec *rec;
    int async, content;
    size_t response_max, body_max;
    long connect_ms, first_byte_ms, idle_ms;
    /* __atomic; errors, refused, client_gone: events by their outcome */
    uint64_t requests, errors, refused, client_gone;
    /* __atomic: stopping (no new request is taken), cut (what is still
     * in flight when the drain ends is cut by the proxy, not its client) */
    int stopping, cut;
};

struct hdrs {
    char **v;
    size_t n, cap;
    int has_ctype;
};

/* One request, from the handler to the end of its answer. */
struct call {
    struct ldg_proxy *p;
    struct ldg_httpd_req *req; /* held (ldg_httpd_defer) until freed */
    int refs;                  /* __atomic */
    int waits;                 /* __atomic: the upstream part, the peer scan */
    pthread_mutex_t mu;
    uint64_t t0_ns, first_ns, end_ns;
    char method[16];
    char path[512]; /* as forwarded (without an upstream prefix) */
    enum proxy_api api;
    struct proxy_reqinfo ri;
    json_t *req_json;
    char run[LDG_RUN_MAX + 1];
    char rid[LDG_ID_MAX + 1];
    int has_run, has_rid, rid_is_id;
    /* W3C trace context (traceparent): the trace and the caller's span */
    char trace_id[33], parent_id[17];
    int has_trace;
    uint64_t t0_wall_ns; /* when it arrived: the event's source time */
    struct proxy_peer peer;
    size_t request_bytes, response_bytes;
    const char *upstream; /* name of the one that answered (or last tried) */
    char model_sent[256];
    char route[256];
    int fallback;
    int unreachable; /* no upstream tried accepted the connection */
    char reason[512];
    json_t *tried; /* candidates tried, with route file: ["up/model", ...] */
    long status;
    const char *outcome;
    int streamed;
    struct proxy_obs obs;
    int recorded;
    /* the candidates */
    const void *body; /* the request's (the held request's buffer) */
    size_t body_len;
    struct hdrs h; /* the request headers sent */
    const struct proxy_route *rt;
    size_t ncand, k;
    int up;             /* the upstream, without a route */
    char failures[512]; /* why the candidates before failed */
    int next_candidate; /* up_head ended this transfer for the next */
    int got_head;
    /* the answer */
    struct hdrs rh;       /* response headers passed back */
    struct ldg_buf whole; /* a body read whole */
    unsigned fail_status; /* the proxy answers itself (an error) */
    char fail_msg[600];
    int up_rc; /* the transfer's end */
    /* with mu held: */
    struct ldg_http_xfer *x; /* the transfer, until closed */
    char *sb;                /* a stream's buffer: sb[so, so + sl) */
    size_t so, sl, scap;
    char *held; /* the end marker held back until committed (sync) */
    size_t held_len;
    int paused;      /* the transfer waits for room in sb */
    int finished;    /* all of the stream is in sb: 0 after it */
    int cut;         /* the stream ends cut short */
    int client_gone; /* the stream's client went before its end */
};

static void hdrs_free(struct hdrs *h);

static void
call_ref(struct call *c)
{
    __atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED);
}

static void
call_unref(struct call *c)
{
    if (__atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    __atomic_fetch_add(&c->p->requests, 1, __ATOMIC_RELAXED);
    ldg_httpd_release(c->req);
    json_decref(c->req_json);
    json_decref(c->ri.prompt);
    json_decref(c->tried);
    proxy_obs_release(&c->obs);
    hdrs_free(&c->h);
    hdrs_free(&c->rh);
    ldg_buf_release(&c->whole);
    free(c->sb);
    free(c->held);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

/* ------------------------------------------------------------- event -- */

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
    double lat =
        ms_between(c->t0_ns, c->end_ns ? c->end_ns : ldg_now_wall_ns());

    const char *chosen = c->obs.model[0]    ? c->obs.model
                         : c->model_sent[0] ? c->model_sent
                                            : c->ri.model;

    if (b == NULL)
        return NULL;
    /* A model call that names no model (its body is not JSON, is over
     * the limit or has no "model") decided no route: docs/VOCABULARY.md
     * requires a route.decision's chosen_model, so it is a proxy.request
     * (method, path, outcome), not a decision with a model "". */
    if (c->api != API_OTHER && chosen[0]) {
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
        /* model_digest, model_verified: the recorder's (record.c) */
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
    if (c->unreachable)
        json_object_set_new(b, "unreachable", json_true());
    json_object_set_new(b, "latency_ms", json_real(lat));
    set_int(b, "request_bytes", (int64_t)c->request_bytes);
    set_int(b, "response_bytes", (int64_t)c->response_bytes);
    if (c->reason[0])
        json_object_set_new(b, "reason", json_string(c->reason));
    if (c->has_rid)
        json_object_set_new(b, "request_id", json_string(c->rid));
    if (c->has_trace) {
        json_object_set_new(b, "trace_id", json_string(c->trace_id));
        json_object_set_new(b, "parent_span_id", json_string(c->parent_id));
    }
    json_object_set_new(b, "client", proxy_peer_json(&c->peer));
    return b;
}

static void recorded(void *cls, int rc, const char *why);

/* The client closed its connection while its request waited (upstream,
 * peer scan, commit): nothing will be delivered. A suspended connection
 * is not watched by the server: the proxy asks when it hears from the
 * upstream (up_head, up_data) and before the event (do_record). */
static void
client_left(struct call *c)
{
    pthread_mutex_lock(&c->mu);
    c->client_gone = 1;
    pthread_mutex_unlock(&c->mu);
    c->outcome = "client-gone";
    snprintf(c->reason, sizeof c->reason,
             "the client closed the connection before the answer was sent");
}

/* The upstream part and the peer are known: queue the event. Sync: the
 * answer waits for the commit (recorded, on the recorder's thread);
 * async, and for a client gone: at once. */
static void
do_record(struct call *c)
{
    struct ldg_proxy *p = c->p;
    const char *type = NULL;
    char why[300] = "";
    json_t *b;
    int rc;

    c->recorded = 1;
    if (!c->end_ns)
        c->end_ns = ldg_now_wall_ns();
    if (!c->streamed && !c->client_gone && ldg_httpd_client_gone(c->req))
        client_left(c); /* the answer would go nowhere */
    if (c->outcome == NULL)
        c->outcome = "ok";
    if (__atomic_load_n(&p->cut, __ATOMIC_ACQUIRE) &&
        strcmp(c->outcome, "client-gone") == 0) {
        /* the proxy ended the connection, not the client */
        c->outcome = "error";
        snprintf(c->reason, sizeof c->reason,
                 "the proxy was stopped before the answer %s (it waited %d "
                 "s for the requests in flight)",
                 c->streamed ? "ended" : "was sent", LDG_PROXY_DRAIN_MS / 1000);
    }
    /* the stop summary counts what the events say */
    uint64_t *n = strcmp(c->outcome, "error") == 0         ? &p->errors
                  : strcmp(c->outcome, "refused") == 0     ? &p->refused
                  : strcmp(c->outcome, "client-gone") == 0 ? &p->client_gone
                                                           : NULL;
    if (n)
        __atomic_fetch_add(n, 1, __ATOMIC_RELAXED);
    if ((b = event_body(c, &type)) == NULL) {
        recorded(c, LDG_ENOMEM, "out of memory");
        return;
    }
    if (p->async || c->client_gone) {
        rc = proxy_rec_submit(p->rec, type, b, c->has_run ? c->run : NULL,
                              c->rid_is_id ? c->rid : NULL, c->t0_wall_ns, 0,
                              why, sizeof why);
        recorded(c, c->client_gone ? rc : 0, why);
        return;
    }
    rc = proxy_rec_submit_cb(p->rec, type, b, c->has_run ? c->run : NULL,
                             c->rid_is_id ? c->rid : NULL, c->t0_wall_ns,
                             recorded, c, why, sizeof why);
    if (rc < 0)
        recorded(c, rc, why);
}

/* One of what the event waits for is done; the last records it. */
static void
part_done(struct call *c)
{
    if (__atomic_sub_fetch(&c->waits, 1, __ATOMIC_ACQ_REL) == 0)
        do_record(c);
}

static void
peer_done(void *cls)
{
    struct call *c = cls;
    part_done(c);
    call_unref(c);
}

/* ----------------------------------------------------------- answers -- */

/* An error answer in the caller's API's shape. */
static void
reply_error(struct call *c, unsigned status, const char *msg)
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
    ldg_httpd_reply(c->req, status, hdrs, text ? text : "{}",
                    text ? strlen(text) : 2);
    free(text);
}

/* The event's outcome is known (rc 0: committed, or not waited for):
 * the answer. */
static void
recorded(void *cls, int rc, const char *why)
{
    struct call *c = cls;
    struct ldg_proxy *p = c->p;

    if (c->fail_status) {
        /* the failure was recorded too; whether or not that worked, the
         * client gets the failure */
        reply_error(c, c->fail_status, c->fail_msg);
    } else if (c->streamed) {
        pthread_mutex_lock(&c->mu);
        if ((rc < 0 && !p->async) || c->up_rc < 0) {
            /* not recorded, or the upstream failed: the client must not
             * take the answer as complete */
            c->cut = 1;
        } else if (c->held_len > 0) {
            if (c->sl + c->held_len > c->scap) {
                char *nb = realloc(c->sb, c->sl + c->held_len);
                if (nb == NULL) {
                    c->cut = 1;
                    goto woken;
                }
                c->sb = nb;
                c->scap = c->sl + c->held_len;
            }
            memmove(c->sb, c->sb + c->so, c->sl);
            c->so = 0;
            memcpy(c->sb + c->sl, c->held, c->held_len);
            c->sl += c->held_len;
            c->held_len = 0;
        }
        c->finished = 1;
    woken:
        pthread_mutex_unlock(&c->mu);
        ldg_httpd_wake(c->req);
    } else if (c->client_gone) {
        /* no one to answer */
    } else if (rc < 0 && !p->async) {
        char msg[400];
        snprintf(msg, sizeof msg,
                 "the ledger proxy could not record this request, so it is "
                 "not answered: %s",
                 why);
        reply_error(c, 503, msg);
    } else {
        ldg_httpd_reply(c->req, (unsigned)c->status,
                        (const char *const *)c->rh.v, c->whole.s, c->whole.len);
    }
    call_unref(c); /* the record's */
}

/* The proxy answers the request itself (refused, upstream failed):
 * its event, then the answer. Ends the upstream part. */
static void
answer_failure(struct call *c, unsigned status, const char *outcome,
               const char *msg)
{
    c->outcome = outcome;
    c->fail_status = status;
    snprintf(c->fail_msg, sizeof c->fail_msg, "%s", msg);
    if (!c->reason[0])
        snprintf(c->reason, sizeof c->reason, "%.500s", msg);
    call_ref(c); /* the record's */
    part_done(c);
}

/* ----------------------------------------------------------- headers -- */

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
    LDG_ASSERT(h->n + 2 <= h->cap);
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
    if (h->v == NULL)
        return;
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
    ssize_t n;

    pthread_mutex_lock(&c->mu);
    if (c->sl > 0) {
        size_t k = c->sl < cap ? c->sl : cap;
        memcpy(buf, c->sb + c->so, k);
        c->so += k;
        c->sl -= k;
        if (c->sl == 0)
            c->so = 0;
        if (c->paused && c->sl < STREAM_LOW && c->x) {
            c->paused = 0;
            ldg_http_xfer_resume(c->x);
        }
        n = (ssize_t)k;
    } else if (c->cut) {
        n = -1;
    } else if (c->finished) {
        n = 0;
    } else {
        n = LDG_HTTPD_AGAIN;
    }
    pthread_mutex_unlock(&c->mu);
    return n;
}

static void
stream_done(void *cls, int completed)
{
    struct call *c = cls;
    struct ldg_http_xfer *x = NULL;

    pthread_mutex_lock(&c->mu);
    if (!completed && !c->cut) {
        if (!c->finished) {
            /* gone before the end: the upstream request ends too (its
             * end records the event) */
            c->client_gone = 1;
            x = c->x;
            c->x = NULL;
        }
    }
    pthread_mutex_unlock(&c->mu);
    if (x)
        ldg_http_xfer_close(x);
    call_unref(c); /* the stream's */
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
resp_headers(struct ldg_http_xfer *x, struct hdrs *h)
{
    const char *s;
    for (size_t i = 0; (s = ldg_http_xfer_header(x, i)) != NULL; i++) {
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

/* ---------------------------------------------------------- upstream -- */

static void start_candidate(struct call *c);

static int
up_head(void *cls, struct ldg_http_xfer *x, long status)
{
    struct call *c = cls;
    int rc;

    if (ldg_httpd_client_gone(c->req)) {
        /* no one to answer: end the transfer (up_end records it) */
        pthread_mutex_lock(&c->mu);
        c->client_gone = 1;
        pthread_mutex_unlock(&c->mu);
        return -1;
    }
    c->status = status;
    if (status >= 500 && c->k + 1 < c->ncand) {
        /* the next candidate answers instead */
        snprintf(c->reason, sizeof c->reason, "upstream %s: HTTP %ld",
                 c->upstream, status);
        c->next_candidate = 1;
        return -1;
    }
    c->got_head = 1;
    if (resp_headers(x, &c->rh) < 0)
        return -1;
    if (!is_stream_type(ldg_http_xfer_header_get(x, "Content-Type")))
        return 0;
    c->streamed = 1;
    call_ref(c); /* the stream's: stream_done gives it back */
    rc = ldg_httpd_reply_stream(c->req, (unsigned)status,
                                (const char *const *)c->rh.v, stream_read,
                                stream_done, c);
    return rc < 0 ? -1 : 0; /* no client: the transfer ends */
}

static int
up_data(void *cls, struct ldg_http_xfer *x, const char *piece, size_t n)
{
    struct call *c = cls;
    struct ldg_proxy *p = c->p;

    (void)x;
    if (!c->streamed) {
        if (!c->first_ns)
            c->first_ns = ldg_now_wall_ns();
        if (ldg_httpd_client_gone(c->req)) {
            pthread_mutex_lock(&c->mu);
            c->client_gone = 1;
            pthread_mutex_unlock(&c->mu);
            return -1;
        }
        if (c->whole.len + n > p->response_max) {
            c->up_rc = LDG_ETOOBIG;
            return -1;
        }
        ldg_buf_add(&c->whole, piece, n);
        return c->whole.err ? -1 : 0;
    }
    pthread_mutex_lock(&c->mu);
    if (c->client_gone || c->cut) {
        pthread_mutex_unlock(&c->mu);
        return -1;
    }
    if (c->sl >= STREAM_HIGH) {
        c->paused = 1; /* offered again once the client took some */
        pthread_mutex_unlock(&c->mu);
        return 1;
    }
    if (!c->first_ns)
        c->first_ns = ldg_now_wall_ns();
    c->response_bytes += n;
    proxy_obs_piece(&c->obs, piece, n);
    /* the end marker, in sync mode: held until the event is committed,
     * and whatever follows it with it (sent after it, never before) */
    int hold = !p->async && (c->held_len > 0 || proxy_piece_ends(piece, n));
    char **dst = hold ? &c->held : &c->sb;
    size_t off = hold ? 0 : c->so, *len = hold ? &c->held_len : &c->sl;
    size_t need = off + *len + n;
    size_t *cap = hold ? NULL : &c->scap;
    if (!hold && c->so > 0 && c->sl + n <= c->scap) {
        memmove(c->sb, c->sb + c->so, c->sl);
        c->so = off = 0;
        need = c->sl + n;
    }
    if (cap == NULL || need > *cap) {
        char *nb = realloc(*dst, need);
        if (nb == NULL) {
            c->cut = 1;
            pthread_mutex_unlock(&c->mu);
            ldg_httpd_wake(c->req);
            return -1;
        }
        *dst = nb;
        if (cap)
            *cap = need;
    }
    LDG_ASSERT(cap == NULL || need <= *cap);
    memcpy(*dst + off + *len, piece, n);
    *len += n;
    pthread_mutex_unlock(&c->mu);
    if (!hold)
        ldg_httpd_wake(c->req);
    return 0;
}

/* The answer's outcome, once the upstream is done with it. */
static void
judge(struct call *c, int rc, const char *err)
{
    struct ldg_proxy *p = c->p;

    c->end_ns = ldg_now_wall_ns();
    if (!c->streamed)
        c->response_bytes = c->whole.len;
    if (rc < 0) {
        c->outcome = "error";
        if (rc == LDG_ETOOBIG && !c->streamed)
            snprintf(c->reason, sizeof c->reason,
                     "upstream %s: the answer is over %zu bytes (the "
                     "proxy's response limit)",
                     c->upstream, p->response_max);
        else
            snprintf(c->reason, sizeof c->reason, "%s", err);
        if (c->streamed)
            proxy_obs_flush(&c->obs);
        return;
    }
    if (c->streamed) {
        proxy_obs_flush(&c->obs);
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
        return;
    }
    if (c->api != API_OTHER && c->whole.len > 0)
        proxy_obs_whole(&c->obs, c->whole.s, c->whole.len);
    if (c->status >= 400) {
        c->outcome = "error";
        if (c->obs.error[0])
            snprintf(c->reason, sizeof c->reason, "upstream %s: HTTP %ld: %s",
                     c->upstream, c->status, c->obs.error);
        else
            snprintf(c->reason, sizeof c->reason, "upstream %s: HTTP %ld",
                     c->upstream, c->status);
    } else if (c->api != API_OTHER &&
               (c->obs.bad_json ||
                (c->whole.len == 0 && c->status >= 200 && c->status < 300))) {
        c->outcome = "error";
        snprintf(c->reason, sizeof c->reason,
                 "upstream %s: the answer is not a JSON object (%zu bytes)",
                 c->upstream, c->whole.len);
    } else {
        c->outcome = "ok";
    }
}

static void
up_end(void *cls, struct ldg_http_xfer *x, int rc, int connected,
       const char *err)
{
    struct call *c = cls;

    pthread_mutex_lock(&c->mu);
    int gone = c->client_gone;
    if (c->x == x)
        c->x = NULL;
    else
        x = NULL; /* closed by stream_done */
    pthread_mutex_unlock(&c->mu);
    if (x)
        ldg_http_xfer_close(x);
    if (c->up_rc == LDG_ETOOBIG)
        rc = LDG_ETOOBIG;
    c->up_rc = rc;

    if (gone) {
        c->end_ns = ldg_now_wall_ns();
        c->outcome = "client-gone";
        snprintf(c->reason, sizeof c->reason,
                 "the client closed the connection before %s",
                 c->streamed ? "the end of the answer" : "the answer was sent");
        call_ref(c); /* the record's */
        part_done(c);
    } else if (!c->got_head) {
        /* no answer from this candidate: the next, or the failure */
        int refused = rc == LDG_ENET && !connected;
        char both[1100];
        if (!c->next_candidate)
            snprintf(c->reason, sizeof c->reason, "upstream %s: %.400s",
                     c->upstream, err);
        c->next_candidate = 0;
        snprintf(both, sizeof both, "%s%s%s", c->failures,
                 c->failures[0] ? "; " : "", c->reason);
        memcpy(c->failures, both, sizeof c->failures - 1);
        c->failures[sizeof c->failures - 1] = 0;
        c->up_rc = 0;
        if (c->k + 1 < c->ncand && rc != LDG_ENOMEM) {
            c->k++;
            c->fallback = 1;
            start_candidate(c);
        } else {
            snprintf(c->reason, sizeof c->reason, "%s", c->failures);
            /* the evidence the doctor takes that the runtime is down */
            c->unreachable = refused;
            answer_failure(c, rc == LDG_ETIMEOUT ? 504 : 502,
                           refused ? "refused" : "error", c->reason);
        }
    } else {
        judge(c, rc, err);
        if (c->k > 0) {
            /* why this candidate and not the ones before, then what (if
             * anything) went wrong with this one */
            char both[1100];
            snprintf(both, sizeof both, "%s%s%s", c->failures,
                     c->reason[0] ? "; " : "", c->reason);
            memcpy(c->reason, both, sizeof c->reason - 1);
            c->reason[sizeof c->reason - 1] = 0;
        }
        /* a whole answer that failed (cut, over the limit, a model
         * call's answer that is not JSON) is not passed on: the client
         * gets 502, as the event says error (an upstream's own error
         * status, >= 400, is passed on as it came) */
        if (!c->streamed &&
            (rc < 0 || (strcmp(c->outcome, "error") == 0 && c->status < 400)))
            answer_failure(c, 502, "error", c->reason);
        else {
            call_ref(c); /* the record's */
            part_done(c);
        }
    }
    call_unref(c); /* the transfer's */
}

static const struct ldg_http_xfer_cbs up_cbs = {up_head, up_data, up_end};

/* Sends the request to candidate c->k. */
static void
start_candidate(struct call *c)
{
    struct ldg_proxy *p = c->p;
    size_t u = c->rt ? c->rt->cand[c->k].up : (size_t)c->up;
    const char *model = c->rt ? c->rt->cand[c->k].model : NULL;
    const struct proxy_upstream *us = &p->cfg->up[u];
    const void *body = c->body;
    size_t len = c->body_len;
    char *nb = NULL, *url;
    int rc;

    c->upstream = us->name;
    c->got_head = 0;
    /* the event's status and reason are this candidate's (the ones
     * before are in failures) */
    c->status = 0;
    c->reason[0] = 0;
    snprintf(c->model_sent, sizeof c->model_sent, "%s",
             model ? model : c->ri.model);
    if (model && c->req_json && strcmp(model, c->ri.model) != 0) {
        json_t *nj = json_deep_copy(c->req_json);
        json_object_set_new(nj, "model", json_string(model));
        nb = json_dumps(nj, JSON_COMPACT);
        json_decref(nj);
        if (nb == NULL)
            goto nomem;
        body = nb;
        len = strlen(nb);
    }
    size_t ul = strlen(us->url) + strlen(c->path) + 1;
    if ((url = malloc(ul)) == NULL) {
        free(nb);
        goto nomem;
    }
    snprintf(url, ul, "%s%s", us->url, c->path);
    if (c->tried) {
        char t[400];
        snprintf(t, sizeof t, "%s/%s", us->name, c->model_sent);
        json_array_append_new(c->tried, json_string(t));
    }
    struct ldg_http_request rq = {0};
    rq.method = c->method;
    rq.url = url;
    rq.headers = (const char *const *)c->h.v;
    rq.body = body;
    rq.body_len = len;
    rq.connect_timeout_ms = p->connect_ms;
    call_ref(c); /* the transfer's: up_end gives it back */
    pthread_mutex_lock(&c->mu);
    rc = ldg_http_xfer_start(p->loop, &rq, p->first_byte_ms, p->idle_ms,
                             &up_cbs, c, &c->x);
    pthread_mutex_unlock(&c->mu);
    free(url);
    free(nb);
    if (rc == 0)
        return;
    call_unref(c);
nomem:
    answer_failure(c, 500, "error",
                   "the ledger proxy is out of memory (the request was not "
                   "sent upstream)");
}

/* The request is refused before it goes upstream. */
static int
refuse(struct call *c, unsigned status, const char *msg)
{
    answer_failure(c, status, "refused", msg);
    call_unref(c); /* the handler's */
    return 0;
}

/* Looks for a header that is given twice with different values. */
struct twice {
    const char *name, *first, *second;
};

static int
twice_visit(void *arg, const char *name, const char *value)
{
    struct twice *t = arg;
    if (strcasecmp(name, t->name) != 0)
        return 0;
    if (t->first == NULL) {
        t->first = value;
        return 0;
    }
    if (strcmp(t->first, value) == 0)
        return 0;
    t->second = value;
    return 1;
}

/* Whether header name is given twice with different values; t gets
 * them. None of the proxy's own headers is a list: the first would be
 * taken silently and the run, id or upstream the client also named
 * would be lost. */
static int
header_twice(struct ldg_httpd_req *req, const char *name, struct twice *t)
{
    t->name = name;
    t->first = t->second = NULL;
    ldg_httpd_headers(req, twice_visit, t);
    return t->second != NULL;
}

static int
handle(void *ctx, struct ldg_httpd_req *req)
{
    struct ldg_proxy *p = ctx;
    struct call *c = calloc(1, sizeof *c);
    const char *target = ldg_httpd_target(req);
    const char *path = ldg_httpd_path(req);
    const char *hv;
    int up = -1;

    if (c == NULL || ldg_httpd_defer(req) < 0) {
        free(c);
        return -1;
    }
    c->p = p;
    c->req = req;
    c->refs = 1; /* the handler's */
    c->waits = 1;
    pthread_mutex_init(&c->mu, NULL);
    ldg_buf_init(&c->whole, p->response_max + 1);
    c->t0_ns = ldg_now_wall_ns();
    c->t0_wall_ns = c->t0_ns; /* (now_ns was the wall clock too) */
    snprintf(c->method, sizeof c->method, "%s", ldg_httpd_method(req));
    /* who asked: at once, or when the scan for the process is done */
    c->waits++;
    call_ref(c);
    if (proxy_peer_lookup(p->peers, ldg_httpd_fd(req), ldg_httpd_conn_id(req),
                          &c->peer, peer_done, c)) {
        c->waits--;
        call_unref(c);
    }
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
    c->body = ldg_httpd_body(req, &c->body_len);
    c->request_bytes = c->body_len;
    c->upstream = p->cfg->up[up >= 0 ? (size_t)up : 0].name;
    if (__atomic_load_n(&p->stopping, __ATOMIC_ACQUIRE))
        return refuse(c, 503, "the proxy is stopping: it takes no new request");
    const char *rid = ldg_httpd_header(req, "X-Request-Id");
    proxy_obs_init(&c->obs, c->api, p->content);
    if (c->api != API_OTHER) {
        if (!ldg_httpd_body_too_big(req))
            proxy_req_parse(c->api, c->body, c->body_len, p->content, &c->ri,
                            &c->req_json);
        snprintf(c->route, sizeof c->route, "%s",
                 c->ri.model[0] ? c->ri.model : proxy_api_name(c->api));
    }
    {
        static const char *const ours[] = {"X-Ledger-Run", "X-Request-Id",
                                           "X-Ledger-Upstream"};
        struct twice t;
        for (size_t i = 0; i < sizeof ours / sizeof ours[0]; i++)
            if (header_twice(req, ours[i], &t)) {
                char msg[400];
                snprintf(msg, sizeof msg,
                         "%s: given twice, '%.64s' and '%.64s' (one value, "
                         "one header)",
                         ours[i], t.first, t.second);
                return refuse(c, 400, msg);
            }
    }
    if ((hv = ldg_httpd_header(req, "X-Ledger-Run")) != NULL) {
        if (!ldg_text_ok(hv, LDG_RUN_MAX))
            return refuse(c, 400,
                          "X-Ledger-Run: a run id is 1 to 256 bytes "
                          "without control characters");
        snprintf(c->run, sizeof c->run, "%s", hv);
        c->has_run = 1;
    }
    /* W3C trace context: the trace and the caller's span are recorded
     * (the header is passed on unchanged, as every header is); without
     * X-Ledger-Run the event is in the run of its trace, as the OTLP
     * receiver puts the application's spans (docs/PROXY.md); two that
     * differ are invalid (RFC 9110 5.3: it is not a list), passed on and
     * not recorded, as any invalid one */
    struct twice tp;
    if (!header_twice(req, "traceparent", &tp) &&
        proxy_traceparent(ldg_httpd_header(req, "traceparent"), c->trace_id,
                          c->parent_id)) {
        c->has_trace = 1;
        if (!c->has_run) {
            snprintf(c->run, sizeof c->run, "%s", c->trace_id);
            c->has_run = 1;
        }
    }
    if (rid != NULL && rid[0]) {
        /* the event's id as sent, or a 400: never an id cut short (two
         * ids alike in their first 128 bytes would be recorded as one) */
        if (!ldg_text_ok(rid, LDG_ID_MAX))
            return refuse(c, 400,
                          "X-Request-Id: a request id is 1 to 128 bytes "
                          "without control characters");
        snprintf(c->rid, sizeof c->rid, "%s", rid);
        c->has_rid = 1;
        c->rid_is_id = 1;
    }
    if (up < 0 && (hv = ldg_httpd_header(req, "X-Ledger-Upstream")) != NULL) {
        up = proxy_upstream_find(p->cfg, hv, strlen(hv));
        if (up < 0) {
            char msg[200];
            snprintf(msg, sizeof msg,
                     "X-Ledger-Upstream: no upstream named '%.64s'", hv);
            return refuse(c, 400, msg);
        }
        c->upstream = p->cfg->up[up].name;
    }
    if (ldg_httpd_body_too_big(req)) {
        char msg[200];
        snprintf(msg, sizeof msg,
                 "the request body is over the proxy's limit of %zu bytes",
                 p->body_max);
        return refuse(c, 413, msg);
    }
    /* 2. the request's headers */
    ldg_httpd_headers(req, copy_req_header, &c->h);
    /* curl's own: no "Expect: 100-continue" for a large body, and no
     * Content-Type the client did not send */
    hdr_add(&c->h, "Expect", "");
    if (!c->h.has_ctype)
        hdr_add(&c->h, "Content-Type", "");
    /* 3. the candidates */
    c->rt = up < 0 ? proxy_route_find(p->cfg, c->ri.model) : NULL;
    c->ncand = c->rt ? c->rt->n : 1;
    c->up = up >= 0 ? up : 0;
    if (c->rt)
        c->tried = json_array();
    start_candidate(c);
    call_unref(c); /* the handler's */
    return 0;
}

static void
conn_closed(void *ctx, uint64_t conn)
{
    struct ldg_proxy *p = ctx;
    proxy_peers_closed(p->peers, conn);
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
                     ? "no upstream: give " LDG_OPT_UPSTREAM
                       " NAME=URL or a proxy "
                       "file"
                     : "proxy: a config and one place to write are needed");
        if (o && o->client)
            ldg_client_close(o->client);
        return LDG_EINVAL;
    }
    *out = NULL;
    /* writing directly into a store this build does not append to: every
     * request would get 503; refused at the start instead */
    if (o->ledger != NULL && (rc = ldg_check_writable(o->ledger)) < 0) {
        snprintf(err, errcap, "no event could be recorded: %s",
                 ldg_errmsg(o->ledger));
        return rc;
    }
    p = calloc(1, sizeof *p);
    if (p == NULL) {
        if (o->client)
            ldg_client_close(o->client);
        return LDG_ENOMEM;
    }
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
        free(p);
        return rc;
    }
    if ((rc = proxy_peers_new(&p->peers)) < 0 ||
        (rc = ldg_http_loop_new(&p->loop, err, errcap)) < 0) {
        if (rc == LDG_ENOMEM)
            snprintf(err, errcap, "out of memory");
        proxy_peers_free(p->peers);
        proxy_rec_free(p->rec, NULL, NULL, NULL);
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
    ho.async = 1;
    ho.threads = 1;
    ho.conn_closed = conn_closed;
    if ((rc = ldg_httpd_start(&p->httpd, &ho, err, errcap)) < 0) {
        ldg_http_loop_free(p->loop);
        proxy_peers_free(p->peers);
        proxy_rec_free(p->rec, NULL, NULL, NULL);
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
    st->errors = __atomic_load_n(&p->errors, __ATOMIC_RELAXED);
    st->refused = __atomic_load_n(&p->refused, __ATOMIC_RELAXED);
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

void
ldg_proxy_epoch_error(const struct ldg_proxy *p, char *buf, size_t cap)
{
    if (p == NULL) {
        snprintf(buf, cap, "%s", "");
        return;
    }
    proxy_rec_epoch_error(p->rec, buf, cap);
}

int
ldg_proxy_stop(struct ldg_proxy *p, struct ldg_proxy_stats *st)
{
    if (p == NULL)
        return 0;
    /* first the requests in flight get up to LDG_PROXY_DRAIN_MS to end
     * (new ones are answered 503); then, in this order: the connections
     * end (a stream's end cancels its transfer); the transfers end (each
     * records its event); the scans for clients end (a call waiting for
     * one records then); the recorder commits what is queued and answers
     * the last calls */
    __atomic_store_n(&p->stopping, 1, __ATOMIC_RELEASE);
    for (uint64_t t0 = ldg_now_mono_ns();
         ldg_httpd_busy(p->httpd) &&
         ldg_now_mono_ns() - t0 < LDG_PROXY_DRAIN_MS * 1000000ull;)
        usleep(10000);
    __atomic_store_n(&p->cut, 1, __ATOMIC_RELEASE);
    ldg_httpd_stop(p->httpd);
    ldg_http_loop_free(p->loop);
    proxy_peers_free(p->peers);
    int rc = proxy_rec_free(p->rec, st ? &st->recorded : NULL,
                            st ? &st->record_failed : NULL,
                            st ? &st->commits : NULL);
    if (st) {
        st->requests = p->requests;
        st->errors = p->errors;
        st->refused = p->refused;
        st->client_gone = p->client_gone;
    }
    free(p);
    return rc;
}
