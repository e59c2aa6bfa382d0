/*
 * receiver.c — the OTLP/HTTP front (docs/OTLP.md, "Answers"): POST
 * /v1/traces and /v1/logs over http/server.h's event-driven model.
 *
 *   HTTP thread                               serve's writer thread
 *   path, method, size, type, encoding
 *   the writer behind? 503 / 429
 *   inflate, decode, map  ── ldg_serve_submit ──▶ one commit, with the
 *   (the request waits, deferred: no thread      clients' lines (fsync)
 *    is held)                ◀── done ──────── answer: 200 (partial
 *                                               success), or 503
 *                                               (500: an older layout)
 *
 * Nothing is answered 200 before its events are durable, and a request
 * that fails to decode writes nothing.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "http/server.h"
#include "otlp/otlp_int.h"
#include "util/util.h"

/* One request waiting for its commit. */
struct pending {
    struct ldg_otlp *r;
    struct ldg_httpd_req *req;
    struct ldg_otlp_batch *b;
    enum ldg_otlp_signal sig;
    int json;
    size_t items, dropped, n;
    struct ldg_source src; /* the peer, over a Unix socket */
    char exe[1024];
};

/* Who sent it, when the kernel says: over a Unix socket its credentials
 * (SO_PEERCRED) and executable, as `ledger serve` records its socket's
 * writers; over TCP nothing (0). */
int
otlp_peer_source(int fd, struct ldg_source *src, char *exe, size_t cap)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    struct ucred cr;
    socklen_t cl = sizeof cr;
    char link[64];
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0 ||
        ss.ss_family != AF_UNIX ||
        getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) < 0)
        return 0;
    src->uid = cr.uid;
    src->gid = cr.gid;
    src->pid = (uint64_t)cr.pid;
    snprintf(link, sizeof link, "/proc/%d/exe", (int)cr.pid);
    ssize_t n = readlink(link, exe, cap - 1);
    exe[n > 0 ? n : 0] = 0;
    src->exe = exe[0] ? exe : NULL;
    return 1;
}

void
otlp_add(uint64_t *c, uint64_t n)
{
    __atomic_add_fetch(c, n, __ATOMIC_RELAXED);
}

/* ----------------------------------------------------------- answers -- */

static const char *const refusal_names[LDG_OTLP_REFUSED_N] = {
    "path",      "method", "content_type", "content_encoding",
    "body_size", "limit",  "invalid"};

const char *
ldg_otlp_refusal_name(enum ldg_otlp_refusal why)
{
    return (unsigned)why < LDG_OTLP_REFUSED_N ? refusal_names[why] : NULL;
}

/* Who is at the other end of fd, for the log: "127.0.0.1:41234",
 * "uid 1000 pid 77". */
static void
peer_name(int fd, char *out, size_t cap)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    struct ucred cr;
    socklen_t cl = sizeof cr;
    char host[64] = "?";

    snprintf(out, cap, "an unknown peer");
    if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &sl) < 0)
        return;
    if (ss.ss_family == AF_UNIX) {
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) == 0)
            snprintf(out, cap, "uid %u pid %d", (unsigned)cr.uid, (int)cr.pid);
    } else if (ss.ss_family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
        snprintf(out, cap, "%s:%u", host, (unsigned)ntohs(a->sin_port));
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
        snprintf(out, cap, "[%s]:%u", host, (unsigned)ntohs(a->sin6_port));
    }
}

/* A refusal counted by its reason and, at most once a reason every
 * LDG_OTLP_LOG_EVERY_MS, said on the log with the answer's message (both
 * fronts: status is "413" or "RESOURCE_EXHAUSTED"). */
void
otlp_refused_note(struct ldg_otlp *r, int fd, const char *method,
                  const char *path, enum ldg_otlp_refusal why,
                  const char *status, const char *msg)
{
    char line[1200], peer[128], more[96] = "";
    uint64_t now = ldg_now_mono_ms(), unsaid;
    int say;

    otlp_add(&r->st.refused_by[why], 1);
    if (r->log == NULL)
        return;
    pthread_mutex_lock(&r->mu);
    say =
        r->said_ms[why] == 0 || now - r->said_ms[why] >= LDG_OTLP_LOG_EVERY_MS;
    unsaid = r->unsaid[why];
    if (say) {
        r->said_ms[why] = now ? now : 1;
        r->unsaid[why] = 0;
    } else {
        r->unsaid[why]++;
    }
    pthread_mutex_unlock(&r->mu);
    if (!say)
        return;
    if (unsaid > 0)
        snprintf(more, sizeof more,
                 " (and %llu more refused for this reason, not said)",
                 (unsigned long long)unsaid);
    peer_name(fd, peer, sizeof peer);
    snprintf(line, sizeof line,
             "otlp: refused %s %.200s from %s: %s %s: %.700s%s", method, path,
             peer, status, refusal_names[why], msg, more);
    r->log(r->log_ctx, line);
}

static void
refused_note(struct ldg_otlp *r, struct ldg_httpd_req *req,
             enum ldg_otlp_refusal why, unsigned status, const char *msg)
{
    char st[16];
    snprintf(st, sizeof st, "%u", status);
    otlp_refused_note(r, ldg_httpd_fd(req), ldg_httpd_method(req),
                      ldg_httpd_path(req), why, st, msg);
}

static int
reply(struct ldg_httpd_req *req, unsigned status, int json, const void *body,
      size_t len, const char *retry_after)
{
    char ra[64];
    const char *hdrs[3] = {json ? "Content-Type: application/json"
                                : "Content-Type: application/x-protobuf",
                           NULL, NULL};
    if (retry_after != NULL) {
        snprintf(ra, sizeof ra, "Retry-After: %s", retry_after);
        hdrs[1] = ra;
    }
    return ldg_httpd_reply(req, status, hdrs, body, len);
}

/* A refusal: google.rpc.Status in the request's encoding. A 429 or 503
 * without retry_after is "behind": its Retry-After is chosen here. */
static int
refuse(struct ldg_otlp *r, struct ldg_httpd_req *req, unsigned status, int json,
       int code, const char *msg, const char *retry_after)
{
    void *body = NULL;
    size_t len = 0;
    int rc;

    otlp_add(&r->st.requests, 1);
    if (retry_after == NULL && (status == 429 || status == 503)) {
        /* behind: the clients refused together must not come back
         * together (an SDK waits exactly Retry-After, without its own
         * jitter), so the answers spread them over 1 to 3 seconds */
        static const char *const spread[] = {"1", "2", "3"};
        uint64_t k = __atomic_fetch_add(&r->st.throttled, 1, __ATOMIC_RELAXED);
        retry_after = spread[k % 3];
    } else if (status >= 500)
        otlp_add(&r->st.failed, 1);
    else
        otlp_add(&r->st.refused, 1);
    if (json) {
        json_t *o = json_pack("{s:i,s:s}", "code", code, "message", msg);
        char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        if (s == NULL)
            return reply(req, 500, 1, "{}", 2, NULL);
        rc = reply(req, status, 1, s, strlen(s), retry_after);
        free(s);
        return rc;
    }
    if (otlp_pb_status(code, msg, &body, &len) < 0)
        return reply(req, 500, 0, "", 0, NULL);
    rc = reply(req, status, 0, body, len, retry_after);
    free(body);
    return rc;
}

/* A 4xx refusal (but 429), counted and said (refused_note). */
static int
refuse_as(struct ldg_otlp *r, struct ldg_httpd_req *req,
          enum ldg_otlp_refusal why, unsigned status, int json, int code,
          const char *msg)
{
    refused_note(r, req, why, status, msg);
    return refuse(r, req, status, json, code, msg, NULL);
}

/* 200: a full success, or a partial one naming what was refused. */
static int
succeed(struct ldg_httpd_req *req, enum ldg_otlp_signal sig, int json,
        int64_t rejected, const char *msg)
{
    void *body = NULL;
    size_t len = 0;
    int rc;

    if (json) {
        json_t *o = json_object();
        if (rejected > 0 || (msg && msg[0])) {
            char num[32];
            snprintf(num, sizeof num, "%lld", (long long)rejected);
            /* int64 as a decimal string: protobuf's JSON mapping */
            json_object_set_new(o, "partialSuccess",
                                json_pack("{s:s,s:s}",
                                          sig == LDG_OTLP_TRACES
                                              ? "rejectedSpans"
                                              : "rejectedLogRecords",
                                          num, "errorMessage", msg ? msg : ""));
        }
        char *s = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        if (s == NULL)
            return reply(req, 500, 1, "{}", 2, NULL);
        rc = reply(req, 200, 1, s, strlen(s), NULL);
        free(s);
        return rc;
    }
    if (otlp_pb_response(sig, rejected, msg, &body, &len) < 0)
        return reply(req, 500, 0, "", 0, NULL);
    rc = reply(req, 200, 0, body, len, NULL);
    free(body);
    return rc;
}

/* ------------------------------------------------------------ commit -- */

void
otlp_count(struct ldg_otlp *r, enum ldg_otlp_signal sig, size_t recorded,
           size_t dup, size_t rejected)
{
    struct ldg_otlp_counts *cnt =
        sig == LDG_OTLP_TRACES ? &r->st.spans : &r->st.logs;
    otlp_add(&cnt->recorded, recorded);
    otlp_add(&cnt->duplicate, dup);
    otlp_add(&cnt->rejected, rejected);
}

static void otlp_differs_warning(const struct ldg_otlp_batch *b,
                                 const struct ldg_serve_done *d, char *msg,
                                 size_t cap);
static void otlp_early_warning(const struct ldg_otlp_batch *b,
                               enum ldg_otlp_signal sig, char *msg, size_t cap);

enum otlp_outcome
otlp_committed(struct ldg_otlp *r, enum ldg_otlp_signal sig,
               const struct ldg_otlp_batch *b, size_t items,
               const struct ldg_serve_done *d, char *msg, size_t cap)
{
    if (d->rc == LDG_EVERSION) {
        /* the ledger is at an older store layout: the same request sent
         * again is refused the same way until `ledger migrate` runs, so it
         * is not one to retry */
        snprintf(msg, cap,
                 "not recorded: %s (nothing of this request was written)",
                 d->why);
        otlp_count(r, sig, 0, 0, items);
        return OTLP_NOT_RECORDED;
    }
    if (d->rc < 0) {
        snprintf(msg, cap,
                 "not recorded: %s (nothing of this request was written; "
                 "send it again)",
                 d->why);
        otlp_count(r, sig, 0, 0, items);
        return OTLP_RETRY;
    }
    otlp_count(r, sig, d->appended, d->duplicates, d->refused);
    otlp_differs_warning(b, d, msg, cap);
    otlp_early_warning(b, sig, msg, cap);
    return OTLP_RECORDED;
}

void
otlp_finish(struct ldg_otlp *r)
{
    pthread_mutex_lock(&r->mu);
    r->pending--;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

/* The partial success's message: the first event the ledger refused,
 * and (a warning: nothing more is rejected) the first one whose id was
 * already in the log with another content, which is therefore not
 * recorded: a span id sent again for another span. "" when neither. */
static void
otlp_differs_warning(const struct ldg_otlp_batch *b,
                     const struct ldg_serve_done *d, char *msg, size_t cap)
{
    static const struct {
        unsigned bit;
        const char *name;
    } what[] = {{LDG_DIFF_TYPE, "type"},   {LDG_DIFF_SUBJECT, "subject"},
                {LDG_DIFF_RUN, "run"},     {LDG_DIFF_PARENT, "parent"},
                {LDG_DIFF_ACTOR, "actor"}, {LDG_DIFF_TIME, "time"},
                {LDG_DIFF_BODY, "body"}};
    size_t n, k = 0;
    const struct ldg_event_in *ev = ldg_otlp_batch_events(b, &n);

    msg[0] = 0;
    if (d->refused > 0)
        k = (size_t)snprintf(msg, cap, "%s", d->why);
    for (size_t i = 0; i < d->n && i < n && k < cap; i++) {
        if (d->outcome[i] != 1 || d->differs == NULL || d->differs[i] == 0)
            continue;
        k += (size_t)snprintf(msg + k, cap - k,
                              "%sevent %zu: id %s is already in the log (seq "
                              "%llu) with another",
                              k ? "; " : "", i, ev[i].id,
                              (unsigned long long)d->seqs[i]);
        for (size_t w = 0, first = 1; w < sizeof what / sizeof what[0]; w++)
            if ((d->differs[i] & what[w].bit) && k < cap) {
                k += (size_t)snprintf(msg + k, cap - k, "%s %s",
                                      first ? "" : ",", what[w].name);
                first = 0;
            }
        if (k < cap)
            snprintf(msg + k, cap - k,
                     ": this one is not recorded (a span id used again?)");
        break;
    }
}

/* Appends to msg the warning for items timed before 2000-01-01 or the
 * ledger's genesis (ldg_otlp_batch_early): recorded, and said. */
static void
otlp_early_warning(const struct ldg_otlp_batch *b, enum ldg_otlp_signal sig,
                   char *msg, size_t cap)
{
    const char *why;
    size_t n = ldg_otlp_batch_early(b, &why), k = strlen(msg);

    if (n == 0 || k >= cap)
        return;
    snprintf(msg + k, cap - k, "%s%zu %s recorded with a suspect time: %s",
             k ? "; " : "", n,
             sig == LDG_OTLP_TRACES ? (n == 1 ? "span" : "spans")
                                    : (n == 1 ? "log record" : "log records"),
             why);
}

/* On the writer's thread: the batch is durable (or not). */
static void
committed(void *cls, const struct ldg_serve_done *d)
{
    struct pending *p = cls;
    struct ldg_otlp *r = p->r;
    char msg[800];

    __atomic_sub_fetch(&r->inflight, (uint64_t)p->n, __ATOMIC_RELAXED);
    switch (otlp_committed(r, p->sig, p->b, p->items - p->dropped, d, msg,
                           sizeof msg)) {
    case OTLP_NOT_RECORDED:
        refuse(r, p->req, 500, p->json, RPC_FAILED_PRECONDITION, msg, NULL);
        break;
    case OTLP_RETRY:
        refuse(r, p->req, 503, p->json, RPC_UNAVAILABLE, msg, "5");
        break;
    case OTLP_RECORDED:
        otlp_add(&r->st.requests, 1);
        succeed(p->req, p->sig, p->json, (int64_t)d->refused, msg);
        break;
    }
    ldg_httpd_release(p->req);
    ldg_otlp_batch_free(p->b);
    free(p);
    otlp_finish(r);
}

/* ----------------------------------------------------------- handler -- */

/* The media type of a Content-Type value, without parameters, compared
 * case-insensitively. */
static int
media_is(const char *ct, const char *want)
{
    size_t n = strlen(want);
    if (ct == NULL)
        return 0;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    if (strncasecmp(ct, want, n) != 0)
        return 0;
    ct += n;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    return *ct == 0 || *ct == ';';
}

static int
handle(void *ctx, struct ldg_httpd_req *req)
{
    struct ldg_otlp *r = ctx;
    const char *path = ldg_httpd_path(req);
    const char *ct = ldg_httpd_header(req, "Content-Type");
    const char *ce = ldg_httpd_header(req, "Content-Encoding");
    enum ldg_otlp_signal sig;
    int json = media_is(ct, "application/json");
    const void *body;
    void *inflated = NULL;
    size_t len, n;
    char err[600] = "", msg[700];
    struct ldg_otlp_batch *b = NULL;
    int rc;

    if (strcmp(path, "/v1/traces") == 0)
        sig = LDG_OTLP_TRACES;
    else if (strcmp(path, "/v1/logs") == 0)
        sig = LDG_OTLP_LOGS;
    else {
        snprintf(msg, sizeof msg,
                 "%s: not an OTLP path here (POST /v1/traces or /v1/logs)",
                 path);
        return refuse_as(r, req, LDG_OTLP_REFUSED_PATH, 404, json,
                         RPC_NOT_FOUND, msg);
    }
    if (strcmp(ldg_httpd_method(req), "POST") != 0) {
        snprintf(msg, sizeof msg, "%s %s: only POST", ldg_httpd_method(req),
                 path);
        return refuse_as(r, req, LDG_OTLP_REFUSED_METHOD, 405, json,
                         RPC_UNIMPLEMENTED, msg);
    }
    if (ldg_httpd_body_too_big(req)) {
        snprintf(msg, sizeof msg, "the body is over %zu bytes",
                 r->lim.body_max);
        return refuse_as(r, req, LDG_OTLP_REFUSED_SIZE, 413, json,
                         RPC_RESOURCE_EXHAUSTED, msg);
    }
    if (!json && !media_is(ct, "application/x-protobuf")) {
        snprintf(msg, sizeof msg,
                 "Content-Type %s: not application/x-protobuf or "
                 "application/json",
                 ct ? ct : "(none)");
        return refuse_as(r, req, LDG_OTLP_REFUSED_TYPE, 415, 1,
                         RPC_INVALID_ARGUMENT, msg);
    }
    if (ce != NULL && strcasecmp(ce, "identity") != 0 &&
        strcasecmp(ce, "gzip") != 0) {
        snprintf(msg, sizeof msg,
                 "Content-Encoding %s: only gzip (or none) is read", ce);
        return refuse_as(r, req, LDG_OTLP_REFUSED_ENCODING, 415, json,
                         RPC_INVALID_ARGUMENT, msg);
    }
    /* the writer behind, or this receiver holding too much: try again
     * later (Retry-After), before any work is done for the request */
    if (__atomic_load_n(&r->stopping, __ATOMIC_RELAXED))
        return refuse(r, req, 503, json, RPC_UNAVAILABLE,
                      "the ledger server is stopping", "5");
    if (ldg_serve_backlog(r->srv) >= r->behind_max) {
        snprintf(msg, sizeof msg,
                 "the ledger's writer is behind (%llu events wait for it)",
                 (unsigned long long)ldg_serve_backlog(r->srv));
        return refuse(r, req, 503, json, RPC_UNAVAILABLE, msg, NULL);
    }
    if (__atomic_load_n(&r->inflight, __ATOMIC_RELAXED) >= r->behind_max) {
        snprintf(msg, sizeof msg,
                 "too many events in flight here (%llu not yet committed)",
                 (unsigned long long)__atomic_load_n(&r->inflight,
                                                     __ATOMIC_RELAXED));
        return refuse(r, req, 429, json, RPC_RESOURCE_EXHAUSTED, msg, NULL);
    }
    body = ldg_httpd_body(req, &len);
    if (ce != NULL && strcasecmp(ce, "gzip") == 0) {
        rc = ldg_otlp_inflate(body, len, r->lim.inflated_max, &inflated, &len,
                              err, sizeof err);
        if (rc < 0) {
            snprintf(msg, sizeof msg, "Content-Encoding gzip: %s", err);
            return rc == LDG_ETOOBIG
                       ? refuse_as(r, req, LDG_OTLP_REFUSED_SIZE, 413, json,
                                   RPC_RESOURCE_EXHAUSTED, msg)
                   : rc == LDG_EBADINPUT
                       ? refuse_as(r, req, LDG_OTLP_REFUSED_INVALID, 400, json,
                                   RPC_INVALID_ARGUMENT, msg)
                       : refuse(r, req, 503, json, RPC_UNAVAILABLE, msg, "5");
        }
        body = inflated;
    }
    rc = ldg_otlp_decode(&b, sig, json, body, len, &r->map, &r->lim, err,
                         sizeof err);
    free(inflated);
    if (rc < 0 && err[0] == '\0') /* (memory: the decoder said nothing) */
        snprintf(err, sizeof err, "%s", ldg_strerror(rc));
    if (rc < 0) {
        return rc == LDG_ETOOBIG
                   ? refuse_as(r, req, LDG_OTLP_REFUSED_LIMIT, 413, json,
                               RPC_RESOURCE_EXHAUSTED, err)
               : rc == LDG_EBADINPUT
                   ? refuse_as(r, req, LDG_OTLP_REFUSED_INVALID, 400, json,
                               RPC_INVALID_ARGUMENT, err)
                   : refuse(r, req, 503, json, RPC_UNAVAILABLE, err, "5");
    }
    size_t items = ldg_otlp_batch_items(b), dropped = ldg_otlp_batch_dropped(b);
    const struct ldg_event_in *evs = ldg_otlp_batch_events(b, &n);
    struct ldg_otlp_counts *cnt =
        sig == LDG_OTLP_TRACES ? &r->st.spans : &r->st.logs;
    otlp_add(&cnt->received, items);
    otlp_add(&cnt->dropped, dropped);
    otlp_add(&cnt->early, ldg_otlp_batch_early(b, NULL));
    if (n == 0) {
        ldg_otlp_batch_free(b);
        otlp_add(&r->st.requests, 1);
        return succeed(req, sig, json, 0, NULL);
    }
    struct pending *p = calloc(1, sizeof *p);
    if (p == NULL) {
        ldg_otlp_batch_free(b);
        return refuse(r, req, 503, json, RPC_UNAVAILABLE, "out of memory", "5");
    }
    p->r = r;
    p->req = req;
    p->b = b;
    p->sig = sig;
    p->json = json;
    p->items = items;
    p->dropped = dropped;
    p->n = n;
    if (otlp_peer_source(ldg_httpd_fd(req), &p->src, p->exe, sizeof p->exe))
        otlp_batch_source(b, &p->src);
    /* stopping looked at again, with pending counted under the same lock:
     * a stop begun while this request was decoded must wait for it (it
     * frees r once pending is 0) */
    pthread_mutex_lock(&r->mu);
    if (r->stopping) {
        pthread_mutex_unlock(&r->mu);
        otlp_count(r, sig, 0, 0, items - dropped);
        ldg_otlp_batch_free(b);
        free(p);
        return refuse(r, req, 503, json, RPC_UNAVAILABLE,
                      "the ledger server is stopping: nothing was written",
                      "5");
    }
    r->pending++;
    pthread_mutex_unlock(&r->mu);
    ldg_httpd_defer(req);
    __atomic_add_fetch(&r->inflight, (uint64_t)n, __ATOMIC_RELAXED);
    rc = ldg_serve_submit(r->srv, evs, n, committed, p);
    if (rc < 0) {
        /* the writer takes nothing (stopping): nothing was written */
        __atomic_sub_fetch(&r->inflight, (uint64_t)n, __ATOMIC_RELAXED);
        otlp_count(r, sig, 0, 0, items - dropped);
        refuse(r, req, 503, json, RPC_UNAVAILABLE,
               "the ledger server is stopping: nothing was written", "5");
        ldg_httpd_release(req);
        ldg_otlp_batch_free(b);
        free(p);
        otlp_finish(r);
    }
    return 0;
}

/* ------------------------------------------------------------ set up -- */

/* A gRPC exporter sent to the HTTP port (http/server.c answered it with
 * a GOAWAY): counted, and said once a minute at most. */
static void
h2_preface(void *ctx)
{
    struct ldg_otlp *r = ctx;
    uint64_t now = ldg_now_mono_ms(), n = 0;
    char line[300];

    otlp_add(&r->st.h2_refused, 1);
    if (r->log == NULL)
        return;
    pthread_mutex_lock(&r->mu);
    if (r->h2_said_ms == 0 || now - r->h2_said_ms >= 60000) {
        n = r->h2_unsaid + 1;
        r->h2_unsaid = 0;
        r->h2_said_ms = now;
    } else
        r->h2_unsaid++;
    pthread_mutex_unlock(&r->mu);
    if (n == 0)
        return;
    snprintf(line, sizeof line,
             "otlp: %llu HTTP/2 connection%s at the OTLP/HTTP port (a gRPC "
             "exporter: OTEL_EXPORTER_OTLP_PROTOCOL=grpc?), refused with a "
             "GOAWAY; OTLP/gRPC is served by `" LDG_CMD_SERVE_OTLP_GRPC
             " ADDR`",
             (unsigned long long)n, n == 1 ? "" : "s");
    r->log(r->log_ctx, line);
}

int
ldg_otlp_start(struct ldg_otlp **out, const struct ldg_otlp_options *o,
               char *err, size_t errcap)
{
    struct ldg_httpd_options ho;
    struct ldg_otlp *r;
    int rc;

    if (out == NULL || o == NULL || o->server == NULL)
        return LDG_EINVAL;
    *out = NULL;
    r = calloc(1, sizeof *r);
    if (r == NULL)
        return LDG_ENOMEM;
    r->srv = o->server;
    r->map = o->map;
    if (o->map.run_attr != NULL &&
        (r->run_attr = strdup(o->map.run_attr)) == NULL) {
        free(r);
        return LDG_ENOMEM;
    }
    r->map.run_attr = r->run_attr;
    otlp_limits_fill(&r->lim, &o->limits);
    r->behind_max = o->behind_max ? o->behind_max : 65536;
    r->log = o->log;
    r->log_ctx = o->log_ctx;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    memset(&ho, 0, sizeof ho);
    ho.listen = o->listen ? o->listen : LDG_OTLP_LISTEN_DEFAULT;
    ho.handle = handle;
    ho.ctx = r;
    ho.max_conns = o->max_conns ? o->max_conns : 64;
    ho.body_max = r->lim.body_max;
    ho.async = 1;
    ho.threads = 2;
    ho.h2_goaway = "this is the OTLP/HTTP port; OTLP over gRPC is served by "
                   "`" LDG_CMD_SERVE_OTLP_GRPC " ADDR`";
    ho.h2_preface = h2_preface;
    rc = 0;
    if (o->listen != NULL || o->grpc_listen == NULL)
        rc = ldg_httpd_start(&r->h, &ho, err, errcap);
    if (rc == 0 && o->grpc_listen != NULL) {
        rc = otlp_grpc_start(r, o->grpc_listen, ho.max_conns, err, errcap);
        if (rc < 0)
            ldg_httpd_stop(r->h);
    }
    if (rc < 0) {
        pthread_mutex_destroy(&r->mu);
        pthread_cond_destroy(&r->cv);
        free(r->run_attr);
        free(r);
        return rc;
    }
    *out = r;
    return 0;
}

unsigned
ldg_otlp_port(const struct ldg_otlp *r)
{
    return r && r->h ? ldg_httpd_port(r->h) : 0;
}

unsigned
ldg_otlp_grpc_port(const struct ldg_otlp *r)
{
    return r && r->g ? ldg_grpcd_port(r->g) : 0;
}

void
ldg_otlp_stats(const struct ldg_otlp *r, struct ldg_otlp_stats *st)
{
    const uint64_t *src;
    uint64_t *dst;
    if (r == NULL || st == NULL)
        return;
    /* every field is a uint64_t counter */
    src = (const uint64_t *)&r->st;
    dst = (uint64_t *)st;
    for (size_t i = 0; i < sizeof *st / sizeof(uint64_t); i++)
        dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
    otlp_grpc_stats(r, st);
}

void
ldg_otlp_stop(struct ldg_otlp *r, struct ldg_otlp_stats *final)
{
    if (r == NULL)
        return;
    /* new requests are answered 503; those waiting for their commit are
     * answered once the writer has done it (it answers every batch it
     * took, also while the server stops) */
    pthread_mutex_lock(&r->mu);
    __atomic_store_n(&r->stopping, 1, __ATOMIC_RELAXED);
    while (r->pending > 0)
        pthread_cond_wait(&r->cv, &r->mu);
    pthread_mutex_unlock(&r->mu);
    otlp_grpc_stop(r); /* (its answers sent) */
    ldg_httpd_stop(r->h);
    ldg_otlp_stats(r, final);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r->run_attr);
    free(r);
}
