/*
 * grpc.c — the only file that includes nghttp2 (see server.h, "gRPC").
 *
 * One thread, one epoll set: the listening socket, an eventfd that
 * other threads ring when they answered a call (or the server stops),
 * and every connection. Each connection is an nghttp2 server session fed
 * with what its socket reads (nghttp2_session_mem_recv) and writing
 * through send_cb; nghttp2 checks HTTP/2 itself (the preface, frames,
 * flow control, pseudo-headers, the streams a connection may open, a
 * flood of resets or settings).
 *
 * A call's life:
 *
 *   on_begin_headers   a stream opens: a call is made, the stream's data
 *   on_header          its headers kept (at most HDRS_MAX bytes)
 *   on_data_chunk      the gRPC prefix (5 bytes), then the message into
 *                      a buffer of the declared length, allocated once
 *                      the length is checked (msg_max, held_max); a
 *                      refused length hands the call over at once
 *   END_STREAM         the call is handed over (the handler)
 *   answer             ldg_grpcd_reply / _fail, any thread: queued, the
 *                      eventfd rung; this thread submits the answer
 *   on_stream_close    the stream ended; the call is freed once it is
 *                      also answered (or never was handed over)
 *
 * The answer of a call: HEADERS (:status 200, content-type
 * application/grpc), DATA (the prefixed message), HEADERS (grpc-status
 * 0) as trailers; a failure is "trailers only": one HEADERS with
 * grpc-status, grpc-message and grpc-status-details-bin.
 */
#include <errno.h>
#include <fcntl.h>
#include <nghttp2/nghttp2.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/http_int.h"
#include "http/server.h"
#include "util/error.h"
#include "util/util.h"

#define HDRS_MAX 16384u           /* header bytes a call keeps */
#define STREAMS_DEFAULT 32u       /* calls open at once a connection */
#define WINDOW_STREAM (1u << 20)  /* a stream's flow-control window */
#define WINDOW_CONN (8u << 20)    /* a connection's */
#define READ_BLOCK 16384u         /* bytes read from a socket at once */
#define TICK_MS 500               /* timers' resolution */
#define H2_HTTP_1_1_REQUIRED 0xdu /* RFC 9113 section 7 */

struct ldg_grpcd {
    int lfd, efd, epfd;
    int spare_fd; /* held for a connection when out of fds (ldg_accept) */
    unsigned port;
    char *unix_path;
    ldg_grpcd_handler handle;
    void *ctx;
    size_t msg_max, held_max;
    size_t held; /* bytes of messages allocated (this thread) */
    unsigned streams_max;
    uint64_t timeout_ms;
    pthread_t thr;
    int started;
    struct httpd_table adm; /* this thread only */
    struct gconn *conns;
    uint64_t conn_ids;
    /* under mu: answers for this thread to send, and stop */
    pthread_mutex_t mu;
    struct ldg_grpcd_call *ans_head, *ans_tail;
    int stop;
    uint64_t calls, cut_slow, h2_errors; /* __atomic */
};

struct gconn {
    struct httpd_conn hc;
    struct ldg_grpcd *s;
    int fd;
    nghttp2_session *h2;
    unsigned open;                /* calls open (streams not closed) */
    uint64_t last_ms;             /* its last byte read */
    int blocked;                  /* output waits for the socket: not reading */
    uint64_t blocked_ms;          /* since when */
    int dead;                     /* to close */
    struct ldg_grpcd_call *calls; /* its open streams' calls */
    struct gconn *prev, *next;
};

struct ldg_grpcd_call {
    struct ldg_grpcd *s;
    struct gconn *c; /* NULL once its stream closed */
    int32_t sid;
    uint64_t start_ms;
    /* headers: "name\0value\0" pairs */
    char hdrs[HDRS_MAX];
    size_t hlen;
    /* the request */
    unsigned char pre[5];
    size_t pre_have;
    size_t declared;
    unsigned char *msg; /* declared bytes (held) */
    size_t have;
    int extra;  /* bytes after the message */
    int ended;  /* the client ended its stream */
    int handed; /* the handler has it */
    enum ldg_grpcd_request what;
    /* the answer (under s->mu until queued; then this thread's) */
    int answered;
    unsigned code;
    char *message; /* grpc-message, percent-encoded */
    char *details; /* grpc-status-details-bin, base64 */
    unsigned char *out;
    size_t out_len, out_off;
    int submitted;
    struct ldg_grpcd_call *anext;       /* in the answer queue */
    struct ldg_grpcd_call *prev, *next; /* in its connection's calls */
};

/* ------------------------------------------------------------- calls -- */

static void
call_free(struct ldg_grpcd_call *k)
{
    if (k->msg != NULL)
        k->s->held -= k->declared;
    free(k->msg);
    free(k->message);
    free(k->details);
    free(k->out);
    free(k);
}

static void
call_unlink(struct ldg_grpcd_call *k)
{
    struct gconn *c = k->c;
    if (c == NULL)
        return;
    if (k->prev)
        k->prev->next = k->next;
    else
        c->calls = k->next;
    if (k->next)
        k->next->prev = k->prev;
    k->prev = k->next = NULL;
    k->c = NULL;
}

/* Hands k to the handler. Its message is read there: it is freed once
 * the handler returns, so that a call waiting for its commit, or an
 * answer its client does not read, holds none of it. */
static void
hand(struct ldg_grpcd_call *k, enum ldg_grpcd_request what)
{
    k->handed = 1;
    k->what = what;
    __atomic_add_fetch(&k->s->calls, 1, __ATOMIC_RELAXED);
    k->s->handle(k->s->ctx, k, what);
    if (k->msg != NULL) {
        k->s->held -= k->declared;
        free(k->msg);
        k->msg = NULL;
    }
}

const char *
ldg_grpcd_header(const struct ldg_grpcd_call *k, const char *name)
{
    size_t i = 0;
    while (i < k->hlen) {
        const char *n = k->hdrs + i, *v = n + strlen(n) + 1;
        if (strcmp(n, name) == 0)
            return v;
        i = (size_t)(v + strlen(v) + 1 - k->hdrs);
    }
    return NULL;
}

const char *
ldg_grpcd_path(const struct ldg_grpcd_call *k)
{
    const char *p = ldg_grpcd_header(k, ":path");
    return p ? p : "";
}

const void *
ldg_grpcd_message(const struct ldg_grpcd_call *k, size_t *len, int *compressed)
{
    *len = k->what == LDG_GRPCD_OK ? k->declared : 0;
    if (compressed != NULL)
        *compressed = k->pre[0] & 1;
    return *len ? k->msg : NULL;
}

size_t
ldg_grpcd_declared(const struct ldg_grpcd_call *k)
{
    return k->declared;
}

int
ldg_grpcd_fd(const struct ldg_grpcd_call *k)
{
    return k->c != NULL ? k->c->fd : -1;
}

/* Queues k's answer for the server's thread. */
static void
enqueue(struct ldg_grpcd_call *k)
{
    struct ldg_grpcd *s = k->s;
    uint64_t one = 1;
    pthread_mutex_lock(&s->mu);
    k->answered = 1;
    if (s->ans_tail)
        s->ans_tail->anext = k;
    else
        s->ans_head = k;
    s->ans_tail = k;
    pthread_mutex_unlock(&s->mu);
    if (write(s->efd, &one, sizeof one) < 0) {
        /* the counter is full: the thread is woken already */
    }
}

int
ldg_grpcd_reply(struct ldg_grpcd_call *k, const void *msg, size_t len)
{
    if (k == NULL || k->answered || len > UINT32_MAX)
        return LDG_EINVAL;
    k->out = malloc(len + 5);
    if (k->out == NULL) {
        k->code = 13; /* INTERNAL */
        enqueue(k);
        return LDG_ENOMEM;
    }
    k->out[0] = 0;
    ldg_be32(k->out + 1, (uint32_t)len);
    if (len)
        memcpy(k->out + 5, msg, len);
    k->out_len = len + 5;
    enqueue(k);
    return 0;
}

/* gRPC's percent-encoding of grpc-message: bytes outside printable
 * ASCII, and '%', as %XX. */
static char *
pct(const char *m)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(m);
    char *o = malloc(3 * n + 1), *p = o;
    if (o == NULL)
        return NULL;
    for (const unsigned char *q = (const unsigned char *)m; *q; q++) {
        if (*q >= 0x20 && *q <= 0x7e && *q != '%')
            *p++ = (char)*q;
        else {
            *p++ = '%';
            *p++ = hex[*q >> 4];
            *p++ = hex[*q & 15];
        }
    }
    *p = 0;
    return o;
}

static char *
b64(const unsigned char *in, size_t n)
{
    static const char al[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *o = malloc((n + 2) / 3 * 4 + 1), *p = o;
    if (o == NULL)
        return NULL;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        *p++ = al[v >> 18 & 63];
        *p++ = al[v >> 12 & 63];
        *p++ = i + 1 < n ? al[v >> 6 & 63] : '=';
        *p++ = i + 2 < n ? al[v & 63] : '=';
    }
    *p = 0;
    return o;
}

int
ldg_grpcd_fail(struct ldg_grpcd_call *k, unsigned code, const char *msg,
               const void *details, size_t dlen)
{
    int rc = 0;
    if (k == NULL || k->answered || code == 0 || code > 16)
        return LDG_EINVAL;
    k->code = code;
    k->message = pct(msg ? msg : "");
    if (details != NULL && dlen > 0 &&
        (k->details = b64(details, dlen)) == NULL)
        rc = LDG_ENOMEM;
    if (k->message == NULL)
        rc = LDG_ENOMEM;
    enqueue(k);
    return rc;
}

/* ------------------------------------------------------ nghttp2 side -- */

static ssize_t
send_cb(nghttp2_session *h2, const uint8_t *data, size_t len, int flags,
        void *user)
{
    struct gconn *c = user;
    ssize_t n;
    (void)h2;
    (void)flags;
    if (c->fd < 0) /* (the fuzz target's connection: nowhere) */
        return (ssize_t)len;
    do
        n = send(c->fd, data, len, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return NGHTTP2_ERR_WOULDBLOCK;
    if (n < 0)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    return n;
}

/* A GOAWAY we send with an error (ours, or nghttp2's: a flood of
 * resets, settings or pings, a frame out of place) ends a connection
 * that broke HTTP/2. */
static int
on_frame_send(nghttp2_session *h2, const nghttp2_frame *f, void *user)
{
    struct gconn *c = user;
    (void)h2;
    if (f->hd.type == NGHTTP2_GOAWAY &&
        f->goaway.error_code != NGHTTP2_NO_ERROR && c != NULL)
        __atomic_add_fetch(&c->s->h2_errors, 1, __ATOMIC_RELAXED);
    return 0;
}

static int
on_begin_headers(nghttp2_session *h2, const nghttp2_frame *f, void *user)
{
    struct gconn *c = user;
    struct ldg_grpcd_call *k;
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    if ((k = calloc(1, sizeof *k)) == NULL)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* reset */
    k->s = c->s;
    k->c = c;
    k->sid = f->hd.stream_id;
    k->start_ms = ldg_now_mono_ms();
    k->next = c->calls;
    if (c->calls)
        c->calls->prev = k;
    c->calls = k;
    if (c->open++ == 0)
        __atomic_store_n(&c->hc.busy, 1, __ATOMIC_RELEASE);
    nghttp2_session_set_stream_user_data(h2, k->sid, k);
    return 0;
}

static int
on_header(nghttp2_session *h2, const nghttp2_frame *f, const uint8_t *name,
          size_t nlen, const uint8_t *value, size_t vlen, uint8_t flags,
          void *user)
{
    struct ldg_grpcd_call *k =
        nghttp2_session_get_stream_user_data(h2, f->hd.stream_id);
    (void)flags;
    (void)user;
    if (k == NULL || f->hd.type != NGHTTP2_HEADERS ||
        f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0; /* trailers: not kept */
    if (k->hlen + nlen + vlen + 2 > sizeof k->hdrs || memchr(name, 0, nlen) ||
        memchr(value, 0, vlen)) {
        /* too many header bytes: the stream is reset */
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    memcpy(k->hdrs + k->hlen, name, nlen);
    k->hlen += nlen;
    k->hdrs[k->hlen++] = 0;
    memcpy(k->hdrs + k->hlen, value, vlen);
    k->hlen += vlen;
    k->hdrs[k->hlen++] = 0;
    LDG_ASSERT(k->hlen <= sizeof k->hdrs);
    return 0;
}

static int
on_data(nghttp2_session *h2, uint8_t flags, int32_t sid, const uint8_t *d,
        size_t len, void *user)
{
    struct ldg_grpcd_call *k = nghttp2_session_get_stream_user_data(h2, sid);
    struct ldg_grpcd *s;
    (void)flags;
    (void)user;
    if (k == NULL || k->handed)
        return 0; /* dropped unread */
    s = k->s;
    while (len > 0 && !k->handed) {
        if (k->pre_have < 5) {
            size_t n = 5 - k->pre_have < len ? 5 - k->pre_have : len;
            memcpy(k->pre + k->pre_have, d, n);
            k->pre_have += n;
            d += n;
            len -= n;
            if (k->pre_have < 5)
                break;
            k->declared = ldg_rd_be32(k->pre + 1);
            if (k->declared > s->msg_max) {
                hand(k, LDG_GRPCD_TOO_BIG);
                break;
            }
            if (s->held + k->declared > s->held_max) {
                hand(k, LDG_GRPCD_BUSY);
                break;
            }
            /* the length is within bounds: now allocated */
            if ((k->msg = malloc(k->declared ? k->declared : 1)) == NULL) {
                hand(k, LDG_GRPCD_BUSY);
                break;
            }
            s->held += k->declared;
            continue;
        }
        if (k->have == k->declared) {
            k->extra = 1; /* a second message: dropped, refused */
            break;
        }
        size_t n = k->declared - k->have < len ? k->declared - k->have : len;
        memcpy(k->msg + k->have, d, n);
        k->have += n;
        d += n;
        len -= n;
    }
    return 0;
}

static int
on_frame_recv(nghttp2_session *h2, const nghttp2_frame *f, void *user)
{
    struct ldg_grpcd_call *k;
    (void)user;
    if ((f->hd.type != NGHTTP2_DATA && f->hd.type != NGHTTP2_HEADERS) ||
        !(f->hd.flags & NGHTTP2_FLAG_END_STREAM))
        return 0;
    k = nghttp2_session_get_stream_user_data(h2, f->hd.stream_id);
    if (k == NULL)
        return 0;
    k->ended = 1;
    if (!k->handed)
        hand(k, k->pre_have == 5 && k->have == k->declared && !k->extra
                    ? LDG_GRPCD_OK
                    : LDG_GRPCD_MALFORMED);
    return 0;
}

static int
on_stream_close(nghttp2_session *h2, int32_t sid, uint32_t error, void *user)
{
    struct gconn *c = user;
    struct ldg_grpcd_call *k = nghttp2_session_get_stream_user_data(h2, sid);
    int answered;
    (void)error;
    if (k == NULL)
        return 0;
    nghttp2_session_set_stream_user_data(h2, sid, NULL);
    call_unlink(k);
    if (--c->open == 0)
        __atomic_store_n(&c->hc.busy, 0, __ATOMIC_RELEASE);
    pthread_mutex_lock(&k->s->mu);
    answered = k->answered;
    pthread_mutex_unlock(&k->s->mu);
    /* handed and not answered: freed when the answer comes; answered and
     * queued (not yet taken): freed when taken */
    if (!k->handed || (answered && k->submitted))
        call_free(k);
    return 0;
}

/* A header for nghttp2 (which takes no const, and copies). */
static nghttp2_nv
nv(const char *n, const char *v)
{
    nghttp2_nv h = {(uint8_t *)(uintptr_t)n, (uint8_t *)(uintptr_t)v, strlen(n),
                    strlen(v), NGHTTP2_NV_FLAG_NONE};
    return h;
}

/* The answer's DATA: the prefixed message, then the trailers. */
static ssize_t
read_answer(nghttp2_session *h2, int32_t sid, uint8_t *buf, size_t cap,
            uint32_t *flags, nghttp2_data_source *src, void *user)
{
    struct ldg_grpcd_call *k = src->ptr;
    size_t n = k->out_len - k->out_off;
    (void)user;
    if (n > cap)
        n = cap;
    memcpy(buf, k->out + k->out_off, n);
    k->out_off += n;
    LDG_ASSERT(k->out_off <= k->out_len);
    if (k->out_off == k->out_len) {
        nghttp2_nv tr[] = {nv("grpc-status", "0")};
        *flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
        if (nghttp2_submit_trailer(h2, sid, tr, 1) != 0)
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    return (ssize_t)n;
}

/* Submits k's answer on its stream (this thread). */
static void
submit(struct gconn *c, struct ldg_grpcd_call *k)
{
    char code[12];
    int rc;
    k->submitted = 1;
    snprintf(code, sizeof code, "%u", k->code);
    if (k->code == 0) {
        nghttp2_nv h[] = {nv(":status", "200"),
                          nv("content-type", "application/grpc"),
                          nv("grpc-accept-encoding", "gzip")};
        nghttp2_data_provider dp = {.source.ptr = k,
                                    .read_callback = read_answer};
        rc = nghttp2_submit_response(c->h2, k->sid, h, 3, &dp);
    } else {
        nghttp2_nv h[6] = {
            nv(":status", "200"), nv("content-type", "application/grpc"),
            nv("grpc-accept-encoding", "gzip"), nv("grpc-status", code)};
        size_t n = 4;
        if (k->message != NULL && k->message[0])
            h[n++] = nv("grpc-message", k->message);
        if (k->details != NULL)
            h[n++] = nv("grpc-status-details-bin", k->details);
        LDG_ASSERT(n <= sizeof h / sizeof h[0]);
        rc = nghttp2_submit_response(c->h2, k->sid, h, n, NULL);
    }
    /* the client still sending (a refused length): its stream ends now,
     * after the answer */
    if (rc == 0 && !k->ended)
        nghttp2_submit_rst_stream(c->h2, NGHTTP2_FLAG_NONE, k->sid,
                                  NGHTTP2_NO_ERROR);
    else if (rc != 0)
        nghttp2_submit_rst_stream(c->h2, NGHTTP2_FLAG_NONE, k->sid,
                                  NGHTTP2_INTERNAL_ERROR);
}

/* ------------------------------------------------------- connections -- */

static nghttp2_session_callbacks *cbs; /* made once (cbs_once) */
static nghttp2_option *h2opt;
static pthread_once_t cbs_once = PTHREAD_ONCE_INIT;

static void
cbs_make(void)
{
    if (nghttp2_session_callbacks_new(&cbs) != 0 ||
        nghttp2_option_new(&h2opt) != 0) {
        cbs = NULL;
        return;
    }
    nghttp2_session_callbacks_set_send_callback(cbs, send_cb);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs,
                                                            on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs,
                                                           on_stream_close);
    nghttp2_session_callbacks_set_on_frame_send_callback(cbs, on_frame_send);
    /* a peer's SETTINGS may not make us keep more than this */
    nghttp2_option_set_max_deflate_dynamic_table_size(h2opt, 4096);
}

/* A session for c, its SETTINGS queued. 0 or LDG_ENOMEM. */
static int
session_new(struct gconn *c)
{
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, c->s->streams_max},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, WINDOW_STREAM},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, HDRS_MAX},
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0}};
    pthread_once(&cbs_once, cbs_make);
    if (cbs == NULL || nghttp2_session_server_new2(&c->h2, cbs, c, h2opt) != 0)
        return LDG_ENOMEM;
    if (nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv,
                                sizeof iv / sizeof iv[0]) != 0 ||
        nghttp2_session_set_local_window_size(c->h2, NGHTTP2_FLAG_NONE, 0,
                                              WINDOW_CONN) != 0) {
        nghttp2_session_del(c->h2);
        c->h2 = NULL;
        return LDG_ENOMEM;
    }
    return 0;
}

static void
conn_close(struct ldg_grpcd *s, struct gconn *c)
{
    struct ldg_grpcd_call *k;
    if (c->h2 != NULL) {
        /* its streams close: the calls not handed over are freed, the
         * others when answered (their answers go nowhere) */
        nghttp2_session_del(c->h2); /* (calls on_stream_close? no: ) */
    }
    while ((k = c->calls) != NULL) {
        int answered;
        call_unlink(k);
        pthread_mutex_lock(&s->mu);
        answered = k->answered;
        pthread_mutex_unlock(&s->mu);
        if (!k->handed || (answered && k->submitted))
            call_free(k);
    }
    if (c->fd >= 0) {
        epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
    }
    httpd_leave(&s->adm, &c->hc);
    if (c->prev)
        c->prev->next = c->next;
    else if (s->conns == c)
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c);
}

/* Sends what the session has; watches the socket for room when it is
 * full (and stops reading meanwhile: what a client does not read it
 * cannot make us keep). */
static void
flush(struct ldg_grpcd *s, struct gconn *c)
{
    struct epoll_event ev = {0};
    int blocked;
    if (c->dead)
        return;
    if (nghttp2_session_send(c->h2) != 0) {
        c->dead = 1;
        return;
    }
    blocked = nghttp2_session_want_write(c->h2) != 0;
    if (!nghttp2_session_want_read(c->h2) && !blocked) {
        c->dead = 1; /* a GOAWAY sent, nothing left */
        return;
    }
    if (blocked != c->blocked && c->fd >= 0) {
        ev.events = blocked ? EPOLLOUT : EPOLLIN;
        ev.data.ptr = c;
        epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &ev);
        c->blocked = blocked;
        c->blocked_ms = ldg_now_mono_ms();
    }
}

/* Feeds bytes read into c's session. */
static void
feed(struct ldg_grpcd *s, struct gconn *c, const unsigned char *d, size_t n)
{
    ssize_t rc = nghttp2_session_mem_recv(c->h2, d, n);
    if (rc < 0) {
        /* broken HTTP/2 (nghttp2 queued a GOAWAY when it could): said,
         * then closed */
        if (rc == NGHTTP2_ERR_BAD_CLIENT_MAGIC)
            __atomic_add_fetch(&s->h2_errors, 1, __ATOMIC_RELAXED);
        if (rc == NGHTTP2_ERR_BAD_CLIENT_MAGIC && c->fd >= 0) {
            /* an HTTP/1 client: told in its own words */
            static const char say[] =
                "HTTP/1.1 505 HTTP Version Not Supported\r\n"
                "Content-Type: text/plain\r\nConnection: close\r\n"
                "Content-Length: 62\r\n\r\n"
                "this port speaks gRPC over HTTP/2 (h2c, prior knowledge) "
                "only\n";
            if (send(c->fd, say, sizeof say - 1, MSG_NOSIGNAL) < 0) {
                /* gone: nothing to tell */
            }
        } else {
            nghttp2_session_terminate_session(c->h2, NGHTTP2_PROTOCOL_ERROR);
            nghttp2_session_send(c->h2);
        }
        c->dead = 1;
        return;
    }
    flush(s, c);
}

static void
conn_read(struct ldg_grpcd *s, struct gconn *c)
{
    unsigned char buf[READ_BLOCK];
    ssize_t n = recv(c->fd, buf, sizeof buf, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        c->dead = 1;
        return;
    }
    if (n < 0)
        return;
    c->last_ms = ldg_now_mono_ms();
    __atomic_store_n(&c->hc.active_ms, c->last_ms, __ATOMIC_RELEASE);
    feed(s, c, buf, (size_t)n);
}

static void
shut(void *cls, struct httpd_conn *victim)
{
    (void)cls;
    shutdown(victim->fd, SHUT_RDWR); /* its read sees the end */
}

static void
conn_accept(struct ldg_grpcd *s)
{
    for (;;) {
        int full, fd = ldg_accept(s->lfd, &s->spare_fd, &full);
        struct gconn *c;
        struct epoll_event ev = {0};
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            return; /* EAGAIN; or EMFILE with no spare (the next event) */
        }
        if (full) { /* out of descriptors: closed, the client retries */
            close(fd);
            continue;
        }
        if ((c = calloc(1, sizeof *c)) == NULL) {
            close(fd);
            continue;
        }
        c->s = s;
        c->fd = fd;
        c->hc.id = ++s->conn_ids;
        c->hc.fd = fd;
        c->last_ms = c->hc.active_ms = ldg_now_mono_ms();
        httpd_peer_of(fd, &c->hc.peer);
        if (httpd_admit(&s->adm, &c->hc, c->last_ms, shut, NULL) < 0 ||
            session_new(c) < 0) {
            httpd_leave(&s->adm, &c->hc);
            close(fd);
            free(c);
            continue;
        }
        c->next = s->conns;
        if (s->conns)
            s->conns->prev = c;
        s->conns = c;
        ev.events = EPOLLIN;
        ev.data.ptr = c;
        epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev);
        flush(s, c); /* our SETTINGS */
    }
}

/* The answers given: submitted on their streams, or freed when their
 * stream is gone. */
static void
take_answers(struct ldg_grpcd *s)
{
    struct ldg_grpcd_call *k, *next;
    uint64_t v;
    if (read(s->efd, &v, sizeof v) < 0) {
        /* nothing rang: fine */
    }
    pthread_mutex_lock(&s->mu);
    k = s->ans_head;
    s->ans_head = s->ans_tail = NULL;
    pthread_mutex_unlock(&s->mu);
    for (; k != NULL; k = next) {
        next = k->anext;
        if (k->c == NULL) {
            call_free(k); /* its stream (or connection) is gone */
            continue;
        }
        submit(k->c, k);
        flush(s, k->c);
    }
}

/* Timers: a call not ended within the timeout is reset; a connection
 * with no call open and nothing read for the timeout is closed, and so is
 * one that has not read its answers for the timeout. */
static void
tick(struct ldg_grpcd *s, uint64_t now)
{
    for (struct gconn *c = s->conns; c != NULL; c = c->next) {
        if (c->blocked && now - c->blocked_ms >= s->timeout_ms) {
            __atomic_add_fetch(&s->cut_slow, 1, __ATOMIC_RELAXED);
            c->dead = 1;
            continue;
        }
        if (c->open == 0 && now - c->last_ms >= s->timeout_ms) {
            nghttp2_session_terminate_session(c->h2, NGHTTP2_NO_ERROR);
            flush(s, c);
            c->dead = 1;
            continue;
        }
        for (struct ldg_grpcd_call *k = c->calls; k != NULL; k = k->next)
            if (!k->ended && !k->submitted &&
                now - k->start_ms >= s->timeout_ms) {
                __atomic_add_fetch(&s->cut_slow, 1, __ATOMIC_RELAXED);
                k->ended = 1; /* (not timed again) */
                nghttp2_submit_rst_stream(c->h2, NGHTTP2_FLAG_NONE, k->sid,
                                          NGHTTP2_CANCEL);
            }
        flush(s, c);
    }
}

static void
reap(struct ldg_grpcd *s)
{
    struct gconn *c = s->conns, *next;
    for (; c != NULL; c = next) {
        next = c->next;
        if (c->dead)
            conn_close(s, c);
    }
}

static void *
loop(void *arg)
{
    struct ldg_grpcd *s = arg;
    struct epoll_event evs[64];
    uint64_t last_tick = ldg_now_mono_ms();
    for (;;) {
        int n = epoll_wait(s->epfd, evs, 64, TICK_MS), stop;
        for (int i = 0; i < n; i++) {
            void *p = evs[i].data.ptr;
            if (p == &s->lfd)
                conn_accept(s);
            else if (p == &s->efd)
                take_answers(s);
            else {
                struct gconn *c = p;
                if (c->dead)
                    continue;
                if (evs[i].events & EPOLLOUT)
                    flush(s, c);
                else if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                    conn_read(s, c);
            }
        }
        uint64_t now = ldg_now_mono_ms();
        if (now - last_tick >= TICK_MS) {
            tick(s, now);
            last_tick = now;
        }
        reap(s);
        pthread_mutex_lock(&s->mu);
        stop = s->stop;
        pthread_mutex_unlock(&s->mu);
        if (stop)
            break;
    }
    /* the answers given go out; then each connection ends */
    take_answers(s);
    for (struct gconn *c = s->conns; c != NULL; c = c->next) {
        nghttp2_session_terminate_session(c->h2, NGHTTP2_NO_ERROR);
        nghttp2_session_send(c->h2);
        c->dead = 1;
    }
    reap(s);
    return NULL;
}

/* --------------------------------------------------------- the server -- */

int
ldg_grpcd_start(struct ldg_grpcd **out, const struct ldg_grpcd_options *o,
                char *err, size_t errcap)
{
    struct ldg_grpcd *s;
    struct epoll_event ev = {0};
    int rc;

    if (out == NULL || o == NULL || o->listen == NULL || o->handle == NULL)
        return LDG_EINVAL;
    *out = NULL;
    if ((s = calloc(1, sizeof *s)) == NULL)
        return LDG_ENOMEM;
    s->lfd = s->efd = s->epfd = s->spare_fd = -1;
    s->handle = o->handle;
    s->ctx = o->ctx;
    s->msg_max = o->msg_max ? o->msg_max : LDG_HTTPD_BODY_MAX_DEFAULT;
    s->held_max = o->held_max ? o->held_max : 4 * s->msg_max;
    s->streams_max = o->streams_max ? o->streams_max : STREAMS_DEFAULT;
    s->timeout_ms =
        (uint64_t)(o->timeout_s ? o->timeout_s : LDG_HTTPD_TIMEOUT_S_DEFAULT) *
        1000;
    s->adm.max = o->max_conns ? o->max_conns : 64;
    s->adm.pressure_ms = o->pressure_idle_ms
                             ? o->pressure_idle_ms
                             : LDG_HTTPD_PRESSURE_IDLE_MS_DEFAULT;
    s->adm.self_uid = (uint32_t)geteuid();
    pthread_mutex_init(&s->mu, NULL);
    rc = httpd_listen(o->listen, &s->lfd, &s->port, &s->unix_path, err, errcap);
    if (rc < 0)
        goto fail;
    rc = LDG_EIO;
    if (fcntl(s->lfd, F_SETFL, O_NONBLOCK) < 0 ||
        (s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0 ||
        (s->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
        snprintf(err, errcap, "cannot serve %s: %s", o->listen,
                 strerror(errno));
        goto fail;
    }
    ev.events = EPOLLIN;
    ev.data.ptr = &s->lfd;
    epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->lfd, &ev);
    ev.data.ptr = &s->efd;
    epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->efd, &ev);
    pthread_once(&cbs_once, cbs_make);
    if (cbs == NULL || pthread_create(&s->thr, NULL, loop, s) != 0) {
        snprintf(err, errcap, "cannot start the gRPC server's thread");
        rc = LDG_ENOMEM;
        goto fail;
    }
    s->started = 1;
    *out = s;
    return 0;
fail:
    ldg_grpcd_stop(s);
    return rc;
}

unsigned
ldg_grpcd_port(const struct ldg_grpcd *s)
{
    return s ? s->port : 0;
}

void
ldg_grpcd_stats(struct ldg_grpcd *s, struct ldg_grpcd_stats *st)
{
    memset(st, 0, sizeof *st);
    if (s == NULL)
        return;
    st->admitted = __atomic_load_n(&s->adm.admitted, __ATOMIC_RELAXED);
    st->refused_share =
        __atomic_load_n(&s->adm.refused_share, __ATOMIC_RELAXED);
    st->refused_full = __atomic_load_n(&s->adm.refused_full, __ATOMIC_RELAXED);
    st->closed_idle = __atomic_load_n(&s->adm.closed_idle, __ATOMIC_RELAXED);
    st->calls = __atomic_load_n(&s->calls, __ATOMIC_RELAXED);
    st->cut_slow = __atomic_load_n(&s->cut_slow, __ATOMIC_RELAXED);
    st->h2_errors = __atomic_load_n(&s->h2_errors, __ATOMIC_RELAXED);
}

void
ldg_grpcd_stop(struct ldg_grpcd *s)
{
    uint64_t one = 1;
    if (s == NULL)
        return;
    if (s->started) {
        pthread_mutex_lock(&s->mu);
        s->stop = 1;
        pthread_mutex_unlock(&s->mu);
        if (write(s->efd, &one, sizeof one) < 0) {
            /* woken already */
        }
        pthread_join(s->thr, NULL);
    }
    if (s->lfd >= 0)
        close(s->lfd);
    if (s->spare_fd >= 0)
        close(s->spare_fd);
    if (s->unix_path != NULL)
        unlink(s->unix_path);
    if (s->efd >= 0)
        close(s->efd);
    if (s->epfd >= 0)
        close(s->epfd);
    httpd_table_release(&s->adm);
    pthread_mutex_destroy(&s->mu);
    free(s->unix_path);
    free(s);
}

/* ------------------------------------------- HTTP/1's answer to h2c -- */

size_t
ldg_grpcd_goaway_frames(const char *debug, unsigned char *out, size_t cap)
{
    nghttp2_session *h2 = NULL;
    const uint8_t *d;
    ssize_t n;
    size_t len = 0;
    pthread_once(&cbs_once, cbs_make);
    if (cbs == NULL || nghttp2_session_server_new(&h2, cbs, NULL) != 0)
        return 0;
    if (nghttp2_submit_settings(h2, NGHTTP2_FLAG_NONE, NULL, 0) == 0 &&
        nghttp2_submit_goaway(h2, NGHTTP2_FLAG_NONE, 0, H2_HTTP_1_1_REQUIRED,
                              (const uint8_t *)debug, strlen(debug)) == 0)
        while ((n = nghttp2_session_mem_send(h2, &d)) > 0) {
            if (len + (size_t)n > cap) {
                len = 0;
                break;
            }
            memcpy(out + len, d, (size_t)n);
            len += (size_t)n;
        }
    nghttp2_session_del(h2);
    return len;
}

/* ------------------------------------------------------- the fuzz one -- */

/* For tests/fuzz/fuzz_grpc.c: one connection fed data as a client's
 * bytes, without a socket; each call handed over is given to handle,
 * which answers at once, and the answers are submitted. */
int
httpd_grpc_fuzz_one(const unsigned char *data, size_t len, size_t msg_max,
                    ldg_grpcd_handler handle, void *ctx)
{
    struct ldg_grpcd s;
    struct gconn *c;
    memset(&s, 0, sizeof s);
    s.lfd = s.efd = s.epfd = -1;
    s.handle = handle;
    s.ctx = ctx;
    s.msg_max = msg_max;
    s.held_max = 4 * msg_max;
    s.streams_max = 8;
    s.timeout_ms = 1000;
    s.adm.max = 4;
    pthread_mutex_init(&s.mu, NULL);
    if ((c = calloc(1, sizeof *c)) == NULL)
        return LDG_ENOMEM;
    c->s = &s;
    c->fd = -1;
    s.conns = c;
    if (session_new(c) < 0) {
        free(c);
        return LDG_ENOMEM;
    }
    /* in pieces, as a socket gives them; the answers (the handler
     * answered at once) taken after each */
    while (len > 0 && !c->dead) {
        size_t n = len < 4096 ? len : 4096;
        feed(&s, c, data, n);
        data += n;
        len -= n;
        take_answers(&s);
    }
    take_answers(&s);
    conn_close(&s, c);
    take_answers(&s); /* (those of streams closed with it: freed) */
    httpd_table_release(&s.adm);
    pthread_mutex_destroy(&s.mu);
    return s.held == 0 ? 0 : LDG_ECORRUPT;
}
