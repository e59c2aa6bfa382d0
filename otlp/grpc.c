/*
 * grpc.c — the OTLP/gRPC front (docs/OTLP.md, "gRPC"): the collector's
 * TraceService/Export and LogsService/Export over http/server.h's gRPC
 * server, into the same decoding, mapping and commit as receiver.c's
 * OTLP/HTTP front, counted into the same figures.
 *
 *   gRPC server thread                        serve's writer thread
 *   method, content-type, encoding
 *   the length declared (checked before it is
 *   allocated: RESOURCE_EXHAUSTED)
 *   the writer behind? UNAVAILABLE + RetryInfo
 *   inflate, decode, map ── ldg_serve_submit ──▶ one commit (fsync)
 *                           ◀── done ────────── OK (partial success), or
 *                                               UNAVAILABLE + RetryInfo
 *
 * The OTLP specification's retry rules (otlp/v1.x, "OTLP/gRPC
 * Throttling" and "Failures"): UNAVAILABLE is retried, RESOURCE_EXHAUSTED
 * only with a RetryInfo (then after its delay), INVALID_ARGUMENT,
 * FAILED_PRECONDITION, UNIMPLEMENTED and INTERNAL never. So a limit
 * crossed by the request itself is RESOURCE_EXHAUSTED without a RetryInfo
 * (sent again it is refused again), and every "not now" carries one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/server.h"
#include "otlp/otlp_int.h"

static const struct {
    const char *path;
    enum ldg_otlp_signal sig;
} methods[] = {
    {"/opentelemetry.proto.collector.trace.v1.TraceService/Export",
     LDG_OTLP_TRACES},
    {"/opentelemetry.proto.collector.logs.v1.LogsService/Export",
     LDG_OTLP_LOGS},
};

/* One call waiting for its commit. */
struct gpending {
    struct ldg_otlp *r;
    struct ldg_grpcd_call *call;
    struct ldg_otlp_batch *b;
    enum ldg_otlp_signal sig;
    size_t items, dropped, n;
    struct ldg_source src;
    char exe[1024];
};

/* How a refusal is counted, as the HTTP front counts its statuses. */
enum kind {
    REFUSED,   /* the request's own fault: 4xx */
    THROTTLED, /* not now (the writer behind): 429, 503 */
    FAILED     /* not committed, stopping, an older layout: 5xx */
};

static const char *
code_name(unsigned code)
{
    switch (code) {
    case RPC_INVALID_ARGUMENT:
        return "INVALID_ARGUMENT";
    case RPC_RESOURCE_EXHAUSTED:
        return "RESOURCE_EXHAUSTED";
    case RPC_FAILED_PRECONDITION:
        return "FAILED_PRECONDITION";
    case RPC_UNIMPLEMENTED:
        return "UNIMPLEMENTED";
    case RPC_INTERNAL:
        return "INTERNAL";
    default:
        return "UNAVAILABLE";
    }
}

/* A refusal: the status, its message, and a RetryInfo of retry_s seconds
 * in its details (0: none). "Not now" without a delay of its own spreads
 * the clients refused together over 1 to 3 seconds. One the request's
 * own fault (REFUSED) is counted by its reason why, and said, as the
 * HTTP front's 4xx are (otlp_refused_note). */
static void
refuse_why(struct ldg_otlp *r, struct ldg_grpcd_call *call, unsigned code,
           const char *msg, enum kind kind, unsigned retry_s,
           enum ldg_otlp_refusal why)
{
    void *det = NULL;
    size_t dlen = 0;

    otlp_add(&r->st.requests, 1);
    otlp_add(&r->st.grpc_calls, 1);
    if (kind == REFUSED) {
        const char *m = ldg_grpcd_header(call, ":method");
        otlp_refused_note(r, ldg_grpcd_fd(call), m ? m : "?",
                          ldg_grpcd_path(call), why, code_name(code), msg);
    }
    if (kind == THROTTLED) {
        uint64_t k = __atomic_fetch_add(&r->st.throttled, 1, __ATOMIC_RELAXED);
        if (retry_s == 0)
            retry_s = 1 + (unsigned)(k % 3);
    } else if (kind == FAILED)
        otlp_add(&r->st.failed, 1);
    else
        otlp_add(&r->st.refused, 1);
    if (otlp_pb_status_retry((int)code, msg, retry_s, &det, &dlen) < 0)
        det = NULL;
    ldg_grpcd_fail(call, code, msg, det, det ? dlen : 0);
    free(det);
}

/* Not the request's fault (THROTTLED, FAILED): no reason to count. */
static void
refuse(struct ldg_otlp *r, struct ldg_grpcd_call *call, unsigned code,
       const char *msg, enum kind kind, unsigned retry_s)
{
    refuse_why(r, call, code, msg, kind, retry_s, LDG_OTLP_REFUSED_INVALID);
}

static void
succeed(struct ldg_otlp *r, struct ldg_grpcd_call *call,
        enum ldg_otlp_signal sig, int64_t rejected, const char *msg)
{
    void *body = NULL;
    size_t len = 0;

    if (otlp_pb_response(sig, rejected, msg, &body, &len) < 0) {
        refuse(r, call, RPC_UNAVAILABLE, "out of memory", FAILED, 5);
        return;
    }
    otlp_add(&r->st.requests, 1);
    otlp_add(&r->st.grpc_calls, 1);
    ldg_grpcd_reply(call, body, len);
    free(body);
}

/* On the writer's thread: the batch is durable (or not). */
static void
committed(void *cls, const struct ldg_serve_done *d)
{
    struct gpending *p = cls;
    struct ldg_otlp *r = p->r;
    char msg[800];

    __atomic_sub_fetch(&r->inflight, (uint64_t)p->n, __ATOMIC_RELAXED);
    switch (otlp_committed(r, p->sig, p->b, p->items - p->dropped, d, msg,
                           sizeof msg)) {
    case OTLP_NOT_RECORDED: /* refused the same way until `ledger migrate` */
        refuse(r, p->call, RPC_FAILED_PRECONDITION, msg, FAILED, 0);
        break;
    case OTLP_RETRY:
        refuse(r, p->call, RPC_UNAVAILABLE, msg, FAILED, 5);
        break;
    case OTLP_RECORDED:
        succeed(r, p->call, p->sig, (int64_t)d->refused, msg);
        break;
    }
    ldg_otlp_batch_free(p->b);
    free(p);
    otlp_finish(r);
}

/* The request's checks, before any work is done for it: 0, or refused. */
static int
check(struct ldg_otlp *r, struct ldg_grpcd_call *call,
      enum ldg_grpcd_request what, enum ldg_otlp_signal *sig, int *gzip)
{
    const char *path = ldg_grpcd_path(call);
    const char *ct = ldg_grpcd_header(call, "content-type");
    const char *enc = ldg_grpcd_header(call, "grpc-encoding");
    const char *method = ldg_grpcd_header(call, ":method");
    char msg[700];
    size_t i;

    for (i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (strcmp(path, methods[i].path) == 0)
            break;
    if (i == sizeof methods / sizeof methods[0]) {
        snprintf(msg, sizeof msg, "%.300s: not a method here (%s, %s)", path,
                 methods[0].path, methods[1].path);
        refuse_why(r, call, RPC_UNIMPLEMENTED, msg, REFUSED, 0,
                   LDG_OTLP_REFUSED_PATH);
        return -1;
    }
    *sig = methods[i].sig;
    if (method == NULL || strcmp(method, "POST") != 0) {
        snprintf(msg, sizeof msg, "%.20s %s: gRPC calls are POSTs",
                 method ? method : "?", path);
        refuse_why(r, call, RPC_UNIMPLEMENTED, msg, REFUSED, 0,
                   LDG_OTLP_REFUSED_METHOD);
        return -1;
    }
    if (ct == NULL || (strcmp(ct, "application/grpc") != 0 &&
                       strncmp(ct, "application/grpc+proto", 22) != 0 &&
                       strncmp(ct, "application/grpc;", 17) != 0)) {
        snprintf(msg, sizeof msg,
                 "content-type %.200s: not application/grpc (or +proto)",
                 ct ? ct : "(none)");
        refuse_why(r, call, RPC_INVALID_ARGUMENT, msg, REFUSED, 0,
                   LDG_OTLP_REFUSED_TYPE);
        return -1;
    }
    *gzip = enc != NULL && strcmp(enc, "gzip") == 0;
    if (enc != NULL && !*gzip && strcmp(enc, "identity") != 0) {
        snprintf(msg, sizeof msg,
                 "grpc-encoding %.100s: only gzip (or identity) is read", enc);
        refuse_why(r, call, RPC_UNIMPLEMENTED, msg, REFUSED, 0,
                   LDG_OTLP_REFUSED_ENCODING);
        return -1;
    }
    if (what == LDG_GRPCD_TOO_BIG) {
        snprintf(msg, sizeof msg,
                 "the message is %zu bytes, over the limit of %zu",
                 ldg_grpcd_declared(call), r->lim.body_max);
        refuse_why(r, call, RPC_RESOURCE_EXHAUSTED, msg, REFUSED, 0,
                   LDG_OTLP_REFUSED_SIZE);
        return -1;
    }
    if (what == LDG_GRPCD_MALFORMED) {
        refuse_why(r, call, RPC_INVALID_ARGUMENT,
                   "the request is not one gRPC message (none, one cut "
                   "short, or more than one)",
                   REFUSED, 0, LDG_OTLP_REFUSED_INVALID);
        return -1;
    }
    /* the writer behind, or this receiver holding too much: not now */
    if (__atomic_load_n(&r->stopping, __ATOMIC_RELAXED)) {
        refuse(r, call, RPC_UNAVAILABLE, "the ledger server is stopping",
               FAILED, 5);
        return -1;
    }
    if (what == LDG_GRPCD_BUSY) {
        snprintf(msg, sizeof msg,
                 "too many bytes held here (a message of %zu bytes waits "
                 "for room)",
                 ldg_grpcd_declared(call));
        refuse(r, call, RPC_RESOURCE_EXHAUSTED, msg, THROTTLED, 0);
        return -1;
    }
    if (ldg_serve_backlog(r->srv) >= r->behind_max) {
        snprintf(msg, sizeof msg,
                 "the ledger's writer is behind (%llu events wait for it)",
                 (unsigned long long)ldg_serve_backlog(r->srv));
        refuse(r, call, RPC_UNAVAILABLE, msg, THROTTLED, 0);
        return -1;
    }
    if (__atomic_load_n(&r->inflight, __ATOMIC_RELAXED) >= r->behind_max) {
        snprintf(msg, sizeof msg,
                 "too many events in flight here (%llu not yet committed)",
                 (unsigned long long)__atomic_load_n(&r->inflight,
                                                     __ATOMIC_RELAXED));
        refuse(r, call, RPC_RESOURCE_EXHAUSTED, msg, THROTTLED, 0);
        return -1;
    }
    return 0;
}

/* Decoding errors as statuses: over a limit is not retried (too_big: a
 * gzip message inflating past its limit, else a request over a count). */
static void
refuse_decode(struct ldg_otlp *r, struct ldg_grpcd_call *call, int rc,
              const char *msg, enum ldg_otlp_refusal too_big)
{
    if (rc == LDG_ETOOBIG)
        refuse_why(r, call, RPC_RESOURCE_EXHAUSTED, msg, REFUSED, 0, too_big);
    else if (rc == LDG_EBADINPUT)
        refuse_why(r, call, RPC_INVALID_ARGUMENT, msg, REFUSED, 0,
                   LDG_OTLP_REFUSED_INVALID);
    else
        refuse(r, call, RPC_UNAVAILABLE, msg, FAILED, 5);
}

static void
handle(void *ctx, struct ldg_grpcd_call *call, enum ldg_grpcd_request what)
{
    struct ldg_otlp *r = ctx;
    enum ldg_otlp_signal sig = LDG_OTLP_TRACES;
    const void *body;
    void *inflated = NULL;
    size_t len, n;
    int gzip = 0, compressed = 0, rc;
    char err[600] = "", msg[700];
    struct ldg_otlp_batch *b = NULL;

    if (check(r, call, what, &sig, &gzip) < 0)
        return;
    body = ldg_grpcd_message(call, &len, &compressed);
    if (compressed && !gzip) {
        /* gRPC's rule: a compressed message without an encoding */
        refuse_why(r, call, RPC_INTERNAL,
                   "the message is flagged compressed, but the call names no "
                   "grpc-encoding",
                   REFUSED, 0, LDG_OTLP_REFUSED_ENCODING);
        return;
    }
    if (compressed) {
        rc = ldg_otlp_inflate(body, len, r->lim.inflated_max, &inflated, &len,
                              err, sizeof err);
        if (rc < 0) {
            snprintf(msg, sizeof msg, "grpc-encoding gzip: %s", err);
            refuse_decode(r, call, rc, msg, LDG_OTLP_REFUSED_SIZE);
            return;
        }
        body = inflated;
    }
    rc = ldg_otlp_decode(&b, sig, 0, body, len, &r->map, &r->lim, err,
                         sizeof err);
    free(inflated);
    if (rc < 0) {
        refuse_decode(r, call, rc, err[0] ? err : ldg_strerror(rc),
                      LDG_OTLP_REFUSED_LIMIT);
        return;
    }
    size_t items = ldg_otlp_batch_items(b), dropped = ldg_otlp_batch_dropped(b);
    const struct ldg_event_in *evs = ldg_otlp_batch_events(b, &n);
    struct ldg_otlp_counts *cnt =
        sig == LDG_OTLP_TRACES ? &r->st.spans : &r->st.logs;
    otlp_add(&cnt->received, items);
    otlp_add(&cnt->dropped, dropped);
    otlp_add(&cnt->early, ldg_otlp_batch_early(b, NULL)); /* as HTTP's */
    if (n == 0) {
        ldg_otlp_batch_free(b);
        succeed(r, call, sig, 0, NULL);
        return;
    }
    struct gpending *p = calloc(1, sizeof *p);
    if (p == NULL) {
        ldg_otlp_batch_free(b);
        refuse(r, call, RPC_UNAVAILABLE, "out of memory", FAILED, 5);
        return;
    }
    p->r = r;
    p->call = call;
    p->b = b;
    p->sig = sig;
    p->items = items;
    p->dropped = dropped;
    p->n = n;
    if (otlp_peer_source(ldg_grpcd_fd(call), &p->src, p->exe, sizeof p->exe))
        otlp_batch_source(b, &p->src);
    /* stopping looked at again, with pending counted under the same lock
     * (receiver.c: a stop begun during the decode waits for this call) */
    pthread_mutex_lock(&r->mu);
    if (r->stopping) {
        pthread_mutex_unlock(&r->mu);
        otlp_count(r, sig, 0, 0, items - dropped);
        refuse(r, call, RPC_UNAVAILABLE,
               "the ledger server is stopping: nothing was written", FAILED, 5);
        ldg_otlp_batch_free(b);
        free(p);
        return;
    }
    r->pending++;
    pthread_mutex_unlock(&r->mu);
    __atomic_add_fetch(&r->inflight, (uint64_t)n, __ATOMIC_RELAXED);
    rc = ldg_serve_submit(r->srv, evs, n, committed, p);
    if (rc < 0) {
        /* the writer takes nothing (stopping): nothing was written */
        __atomic_sub_fetch(&r->inflight, (uint64_t)n, __ATOMIC_RELAXED);
        otlp_count(r, sig, 0, 0, items - dropped);
        refuse(r, call, RPC_UNAVAILABLE,
               "the ledger server is stopping: nothing was written", FAILED, 5);
        ldg_otlp_batch_free(b);
        free(p);
        otlp_finish(r);
    }
}

int
otlp_grpc_start(struct ldg_otlp *r, const char *addr, unsigned max_conns,
                char *err, size_t errcap)
{
    struct ldg_grpcd_options go;

    memset(&go, 0, sizeof go);
    go.listen = addr;
    go.handle = handle;
    go.ctx = r;
    go.max_conns = max_conns;
    go.msg_max = r->lim.body_max;
    /* a quarter of what the HTTP front may hold (a body a connection) */
    go.held_max = (size_t)(max_conns ? max_conns : 64) * r->lim.body_max / 4;
    return ldg_grpcd_start(&r->g, &go, err, errcap);
}

void
otlp_grpc_stats(const struct ldg_otlp *r, struct ldg_otlp_stats *st)
{
    struct ldg_grpcd_stats gs;
    if (r->g == NULL)
        return;
    ldg_grpcd_stats(r->g, &gs);
    st->grpc_conns_refused = gs.refused_share + gs.refused_full;
    st->grpc_conns_idle = gs.closed_idle;
    st->grpc_calls_cut = gs.cut_slow;
    st->grpc_h2_errors = gs.h2_errors;
}

void
otlp_grpc_stop(struct ldg_otlp *r)
{
    if (r->g == NULL)
        return;
    otlp_grpc_stats(r, &r->st); /* its last counts */
    ldg_grpcd_stop(r->g);
    r->g = NULL;
}
