/*
 * server.c — the only file that includes libmicrohttpd (see server.h).
 *
 * libmicrohttpd is loaded with dlopen when the first server starts and
 * its functions are called through pointers of the types <microhttpd.h>
 * declares. The listening socket is made here (so TCP, IPv6 and Unix
 * sockets take one path, and port 0 can be asked for) and handed to
 * libmicrohttpd with MHD_OPTION_LISTEN_SOCKET.
 *
 * A request's life, in libmicrohttpd's callbacks:
 *
 *   uri_log     the request line arrived: a struct ldg_httpd_req is made
 *               with the raw target (path and query) and becomes the
 *               request's con_cls
 *   access      called with the headers (nothing to do), then once per
 *               piece of body (kept up to body_max), then a last time
 *               with no body: the handler runs and queues the answer
 *   reader      for a streamed answer, as the client takes the bytes
 *   completed   the request ended (sent, client gone, server stopped):
 *               a stream's done callback runs, the request is freed
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "http/http_int.h"
#include "http/server.h"
#include "util/error.h"
#include "util/util.h"

#define MHD_SONAME "libmicrohttpd.so.12"
#define STREAM_BLOCK (32u * 1024) /* bytes a streamed piece may hold */

static struct {
    __typeof__(MHD_create_response_from_buffer) *create_response_from_buffer;
    __typeof__(MHD_create_response_from_callback)
        *create_response_from_callback;
    __typeof__(MHD_add_response_header) *add_response_header;
    __typeof__(MHD_queue_response) *queue_response;
    __typeof__(MHD_destroy_response) *destroy_response;
    __typeof__(MHD_start_daemon) *start_daemon;
    __typeof__(MHD_stop_daemon) *stop_daemon;
    __typeof__(MHD_get_version) *get_version;
    __typeof__(MHD_lookup_connection_value) *lookup_connection_value;
    __typeof__(MHD_get_connection_values) *get_connection_values;
    __typeof__(MHD_get_connection_info) *get_connection_info;
    __typeof__(MHD_suspend_connection) *suspend_connection;
    __typeof__(MHD_resume_connection) *resume_connection;
} mhd;

static pthread_once_t mhd_once = PTHREAD_ONCE_INIT;
static int mhd_ok;
static char mhd_why[300];

static void
mhd_load(void)
{
    static const char *const names[] = {"MHD_create_response_from_buffer",
                                        "MHD_create_response_from_callback",
                                        "MHD_add_response_header",
                                        "MHD_queue_response",
                                        "MHD_destroy_response",
                                        "MHD_start_daemon",
                                        "MHD_stop_daemon",
                                        "MHD_get_version",
                                        "MHD_lookup_connection_value",
                                        "MHD_get_connection_values",
                                        "MHD_get_connection_info",
                                        "MHD_suspend_connection",
                                        "MHD_resume_connection"};
    void **slot[] = {(void **)&mhd.create_response_from_buffer,
                     (void **)&mhd.create_response_from_callback,
                     (void **)&mhd.add_response_header,
                     (void **)&mhd.queue_response,
                     (void **)&mhd.destroy_response,
                     (void **)&mhd.start_daemon,
                     (void **)&mhd.stop_daemon,
                     (void **)&mhd.get_version,
                     (void **)&mhd.lookup_connection_value,
                     (void **)&mhd.get_connection_values,
                     (void **)&mhd.get_connection_info,
                     (void **)&mhd.suspend_connection,
                     (void **)&mhd.resume_connection};
    void *lib = dlopen(MHD_SONAME, RTLD_NOW | RTLD_LOCAL);

    if (lib == NULL) {
        snprintf(mhd_why, sizeof mhd_why, "cannot load %s: %s", MHD_SONAME,
                 dlerror());
        return;
    }
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if ((*slot[i] = dlsym(lib, names[i])) == NULL) {
            snprintf(mhd_why, sizeof mhd_why, "%s has no %s", MHD_SONAME,
                     names[i]);
            return;
        }
    }
    mhd_ok = 1;
}

const char *
ldg_httpd_lib_version(void)
{
    static char v[360];

    pthread_once(&mhd_once, mhd_load);
    if (mhd_ok)
        snprintf(v, sizeof v, "libmicrohttpd %s", mhd.get_version());
    else
        snprintf(v, sizeof v, "libmicrohttpd (%s)", mhd_why);
    return v;
}

/* MHD's own limit is above max_conns by this much: connections being
 * refused or closed (shut down, not yet closed by libmicrohttpd) still
 * count there, and at its limit libmicrohttpd stops accepting. */
#define MHD_SLACK(max) ((max) / 4 + 16)

struct ldg_httpd {
    struct MHD_Daemon *d;
    int fd;
    unsigned port;
    char *unix_path; /* the socket file to remove at stop, or NULL */
    ldg_httpd_handler handle;
    void *ctx;
    size_t body_max;
    void (*conn_closed)(void *ctx, uint64_t conn_id);
    char *h2_goaway; /* (ldg_httpd_options) */
    void (*h2_preface)(void *ctx);
    uint64_t conns; /* __atomic: the last connection id given */
    /* who holds the connections (http_int.h); under cmu, which is never
     * held while libmicrohttpd is called */
    pthread_mutex_t cmu;
    struct httpd_table adm;
    /* event-driven servers (async): the state of their requests */
    int async;
    pthread_mutex_t mu;
    int stopping;
    int stopped; /* ldg_httpd_stop returned: the last request frees s */
    struct ldg_httpd_req *live; /* requests not yet freed */
};

struct stream {
    struct ldg_httpd_req *r;
    ldg_httpd_read_fn rd;
    ldg_httpd_done_fn done;
    void *cls;
    int eof; /* the reader said the body is whole */
};

struct ldg_httpd_req {
    struct ldg_httpd *srv;
    struct MHD_Connection *c;
    struct httpd_conn *hc; /* its connection's record, or NULL */
    char *target;          /* raw request target */
    const char *method, *path;
    struct ldg_buf body;
    int too_big;
    int early;   /* answered on its headers: its body is never read */
    int started; /* the access callback has seen the headers */
    int answered;
    struct stream *stream; /* a streamed answer's reader, or NULL */
    /* async servers only; under srv->mu */
    int called;    /* the handler ran */
    int refs;      /* libmicrohttpd's (until completed) and the holds */
    int deferred;  /* ldg_httpd_defer: answered later */
    int suspended; /* its connection is suspended */
    int woken;     /* ldg_httpd_wake came while it was not suspended */
    int gone;      /* completed: the connection's request has ended */
    struct MHD_Response *pending; /* an answer not yet queued */
    unsigned pending_status;
    struct ldg_httpd_req *prev, *next; /* in srv->live */
};

/* The record of c's connection (notify_conn made it), or NULL. */
static struct httpd_conn *
conn_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        mhd.get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci != NULL ? ci->socket_context : NULL;
}

/* A sign of life from hc's client (a request began or a piece came). */
static void
conn_active(struct httpd_conn *hc)
{
    if (hc != NULL)
        __atomic_store_n(&hc->active_ms, ldg_now_mono_ms(), __ATOMIC_RELEASE);
}

static void *
uri_log(void *cls, const char *uri, struct MHD_Connection *c)
{
    struct ldg_httpd *s = cls;
    struct ldg_httpd_req *r = calloc(1, sizeof *r);

    if (r == NULL)
        return NULL;
    r->srv = s;
    r->c = c;
    r->hc = conn_of(c);
    conn_active(r->hc);
    r->refs = 1;
    r->target = strdup(uri != NULL ? uri : "");
    if (s->async) {
        pthread_mutex_lock(&s->mu);
        r->next = s->live;
        if (s->live)
            s->live->prev = r;
        s->live = r;
        pthread_mutex_unlock(&s->mu);
    }
    /* The buffer refuses to grow past body_max; what is over is dropped
     * and flagged (too_big), not kept. */
    ldg_buf_init(&r->body, s->body_max);
    return r;
}

/* What the request's framing headers say (RFC 9112 section 6.3). */
struct framing {
    const char *cl; /* the first Content-Length */
    int conflict;   /* another Content-Length with a different value */
    int te;         /* a Transfer-Encoding */
};

static enum MHD_Result
framing_one(void *cls, enum MHD_ValueKind kind, const char *k, const char *v)
{
    struct framing *f = cls;

    (void)kind;
    if (v == NULL)
        v = "";
    if (strcasecmp(k, "Content-Length") == 0) {
        if (f->cl != NULL && strcmp(f->cl, v) != 0)
            f->conflict = 1;
        if (f->cl == NULL)
            f->cl = v;
    } else if (strcasecmp(k, "Transfer-Encoding") == 0) {
        f->te = 1;
    }
    return MHD_YES;
}

/*
 * A request whose length cannot be known for sure is refused before its
 * body is read: two Content-Length headers that disagree (libmicrohttpd
 * would take the first and read what follows as the next request), or a
 * Content-Length beside a Transfer-Encoding (RFC 9112 section 6.3: "ought
 * to be handled as an error"; the connection must close after the answer
 * either way). 400, and the connection closes (an answer queued before the
 * body is read makes libmicrohttpd close it; "Connection: close" says so).
 * Returns 1 when it answered.
 */
static int
refuse_framing(struct ldg_httpd_req *r, struct MHD_Connection *c)
{
    static char msg[] = "bad request: conflicting Content-Length "
                        "headers, or Content-Length beside "
                        "Transfer-Encoding (RFC 9112 section 6.3)\n";
    struct framing f = {NULL, 0, 0};
    struct MHD_Response *resp;

    mhd.get_connection_values(c, MHD_HEADER_KIND, framing_one, &f);
    if (!f.conflict && !(f.te && f.cl != NULL))
        return 0;
    r->answered = 1;
    resp = mhd.create_response_from_buffer(sizeof msg - 1, msg,
                                           MHD_RESPMEM_PERSISTENT);
    if (resp == NULL)
        return 1; /* the connection closes without an answer */
    mhd.add_response_header(resp, "Connection", "close");
    mhd.add_response_header(resp, "Content-Type", "text/plain");
    mhd.queue_response(c, 400, resp);
    mhd.destroy_response(resp);
    return 1;
}

/*
 * A body declared over body_max (Content-Length) by a client that waits
 * for a word before sending it (Expect: 100-continue, which curl sends
 * for a large body): the handler answers on the headers, and the body is
 * never read (RFC 9110 10.1.1: a final status instead of 100 Continue;
 * libmicrohttpd then sends no 100 and closes the connection after the
 * answer). A client that sends no Expect is sending its body already:
 * that body is read and dropped (not kept), so that the client, still
 * writing, reads the answer rather than a reset connection.
 */
static int
declared_too_big(const struct ldg_httpd *s, struct MHD_Connection *c)
{
    const char *ex = mhd.lookup_connection_value(c, MHD_HEADER_KIND, "Expect");
    const char *cl =
        mhd.lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    uint64_t n;

    if (ex == NULL || strcasecmp(ex, "100-continue") != 0 || cl == NULL)
        return 0;
    return ldg_parse_u64(cl, strlen(cl), 0, &n) == 0 && n > s->body_max;
}

static enum MHD_Result
access_cb(void *cls, struct MHD_Connection *c, const char *url,
          const char *method, const char *version, const char *upload,
          size_t *upload_size, void **con_cls)
{
    struct ldg_httpd *s = cls;
    struct ldg_httpd_req *r = *con_cls;

    if (r == NULL || r->target == NULL)
        return MHD_NO; /* out of memory in uri_log */
    if (!r->started) {
        r->started = 1;
        r->method = method;
        r->path = url;
        if (refuse_framing(r, c) || !declared_too_big(s, c))
            return MHD_YES;
        /* on to the handler now, without the body (declared_too_big) */
        r->too_big = 1;
        r->early = 1;
    }
    conn_active(r->hc);
    if (*upload_size > 0) {
        if (!r->too_big && !r->answered) {
            ldg_buf_add(&r->body, upload, *upload_size);
            if (r->body.err != 0) { /* over body_max (or no memory) */
                r->too_big = 1;
                ldg_buf_release(&r->body);
            }
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->answered)
        return MHD_YES;
    /* from here until the request ends its connection is busy: never
     * closed to make room for another */
    if (r->hc != NULL)
        __atomic_store_n(&r->hc->busy, 1, __ATOMIC_RELEASE);
    if (!s->async)
        return s->handle(s->ctx, r) < 0 || !r->answered ? MHD_NO : MHD_YES;
    /* event-driven: the handler runs once; its answer, given now or
     * later from another thread, waits in pending until this callback
     * runs again (the connection is suspended meanwhile) */
    if (!r->called) {
        r->called = 1;
        if (s->handle(s->ctx, r) < 0 && !r->deferred) {
            pthread_mutex_lock(&s->mu);
            int none = r->pending == NULL;
            pthread_mutex_unlock(&s->mu);
            if (none)
                return MHD_NO;
        }
    }
    pthread_mutex_lock(&s->mu);
    struct MHD_Response *resp = r->pending;
    unsigned status = r->pending_status;
    r->pending = NULL;
    r->answered = resp != NULL;
    if (resp == NULL && r->deferred && !s->stopping) {
        mhd.suspend_connection(c);
        r->suspended = 1;
        pthread_mutex_unlock(&s->mu);
        return MHD_YES;
    }
    pthread_mutex_unlock(&s->mu);
    if (resp == NULL)
        return MHD_NO; /* no answer, or the server is stopping */
    enum MHD_Result ok = mhd.queue_response(c, status, resp);
    mhd.destroy_response(resp);
    return ok;
}

/* Frees s, stopped and with no request left. */
static void
srv_free(struct ldg_httpd *s)
{
    httpd_table_release(&s->adm);
    free(s->h2_goaway);
    pthread_mutex_destroy(&s->cmu);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* Frees r (its last reference is gone). */
static void
req_free(struct ldg_httpd_req *r)
{
    if (r->pending)
        mhd.destroy_response(r->pending);
    ldg_buf_release(&r->body);
    free(r->target);
    free(r);
}

/* Drops a reference to r (of an async server); the last frees it. */
static void
req_unref(struct ldg_httpd_req *r)
{
    struct ldg_httpd *s = r->srv;
    int free_s = 0;
    pthread_mutex_lock(&s->mu);
    LDG_ASSERT(r->refs > 0);
    int last = --r->refs == 0;
    if (last) {
        if (r->prev)
            r->prev->next = r->next;
        else
            s->live = r->next;
        if (r->next)
            r->next->prev = r->prev;
        free_s = s->stopped && s->live == NULL;
    }
    pthread_mutex_unlock(&s->mu);
    if (last)
        req_free(r);
    if (free_s)
        srv_free(s);
}

static void
completed(void *cls, struct MHD_Connection *c, void **con_cls,
          enum MHD_RequestTerminationCode toe)
{
    struct ldg_httpd_req *r = *con_cls;

    if (r == NULL)
        return;
    *con_cls = NULL;
    if (r->hc != NULL) { /* idle again, from now */
        conn_active(r->hc);
        __atomic_store_n(&r->hc->busy, 0, __ATOMIC_RELEASE);
    }
    if (r->srv->async) {
        pthread_mutex_lock(&r->srv->mu);
        r->gone = 1;
        pthread_mutex_unlock(&r->srv->mu);
    }
    if (r->stream != NULL) {
        r->stream->done(r->stream->cls,
                        r->stream->eof &&
                            toe == MHD_REQUEST_TERMINATED_COMPLETED_OK);
        free(r->stream);
        r->stream = NULL;
    }
    if (r->srv->async)
        req_unref(r);
    else
        req_free(r);
}

/* A client that opened with the HTTP/2 preface, when its first bytes
 * are there (TCP_DEFER_ACCEPT: on TCP they are): answered with HTTP/2's
 * SETTINGS and a GOAWAY saying why, its bytes read and its writing end
 * shut, so that libmicrohttpd finds the connection over. 1 when so. */
static int
h2_refuse(struct ldg_httpd *s, int fd)
{
    static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    unsigned char buf[512];
    ssize_t n = recv(fd, buf, sizeof preface - 1, MSG_PEEK | MSG_DONTWAIT);
    size_t len;
    if (n < 14 || memcmp(buf, preface, (size_t)n) != 0)
        return 0;
    while (recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0)
        ; /* read, so that the close is a FIN and not a reset */
    len = ldg_grpcd_goaway_frames(s->h2_goaway, buf, sizeof buf);
    if (len > 0 && send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
        /* gone already */
    }
    shutdown(fd, SHUT_WR);
    if (s->h2_preface != NULL)
        s->h2_preface(s->ctx);
    return 1;
}

/* The table closes victim to make room: its socket is shut down, and
 * libmicrohttpd, finding it at its end, closes the connection. Called
 * with cmu held, while victim is listed: its descriptor is still its
 * own (libmicrohttpd closes it only after notify_conn's CLOSED, which
 * takes cmu to unlist it). */
static void
shut(void *cls, struct httpd_conn *victim)
{
    (void)cls;
    shutdown(victim->fd, SHUT_RDWR);
}

static void
notify_conn(void *cls, struct MHD_Connection *c, void **socket_context,
            enum MHD_ConnectionNotificationCode toe)
{
    struct ldg_httpd *s = cls;
    struct httpd_conn *hc;

    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            mhd.get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        int rc = HTTPD_NOMEM;
        hc = calloc(1, sizeof *hc);
        *socket_context = hc;
        if (hc != NULL) {
            hc->id = __atomic_add_fetch(&s->conns, 1, __ATOMIC_RELAXED);
            hc->fd = ci != NULL ? ci->connect_fd : -1;
            hc->active_ms = ldg_now_mono_ms();
            httpd_peer_of(hc->fd, &hc->peer);
            pthread_mutex_lock(&s->cmu);
            rc = httpd_admit(&s->adm, hc, hc->active_ms, shut, NULL);
            pthread_mutex_unlock(&s->cmu);
        }
        if (rc < 0 && ci != NULL)
            shutdown(ci->connect_fd, SHUT_RDWR); /* refused: closed now */
        else if (ci != NULL && s->h2_goaway != NULL)
            h2_refuse(s, ci->connect_fd);
        return;
    }
    if ((hc = *socket_context) == NULL)
        return;
    *socket_context = NULL;
    pthread_mutex_lock(&s->cmu);
    httpd_leave(&s->adm, hc);
    pthread_mutex_unlock(&s->cmu);
    if (s->conn_closed != NULL)
        s->conn_closed(s->ctx, hc->id);
    free(hc);
}

/* "Name: value" headers onto a response, the hop-by-hop ones left out. */
static int
add_headers(struct MHD_Response *resp, const char *const *headers)
{
    static const char *const hop[] = {"connection", "transfer-encoding",
                                      "content-length", "keep-alive"};

    for (size_t i = 0; headers != NULL && headers[i] != NULL; i++) {
        const char *h = headers[i], *colon = strchr(h, ':');
        char name[128];
        size_t n;
        int skip = 0;

        if (colon == NULL || (n = (size_t)(colon - h)) == 0 || n >= sizeof name)
            continue;
        memcpy(name, h, n);
        name[n] = '\0';
        for (size_t k = 0; k < sizeof hop / sizeof hop[0]; k++)
            skip |= strcasecmp(name, hop[k]) == 0;
        if (skip)
            continue;
        colon++;
        while (*colon == ' ' || *colon == '\t')
            colon++;
        if (mhd.add_response_header(resp, name, colon) != MHD_YES)
            return LDG_ENOMEM;
    }
    return 0;
}

static int
queue(struct ldg_httpd_req *r, unsigned status, const char *const *headers,
      struct MHD_Response *resp)
{
    enum MHD_Result ok;

    if (resp == NULL)
        return LDG_ENOMEM;
    if (add_headers(resp, headers) < 0 ||
        (r->early &&
         mhd.add_response_header(resp, "Connection", "close") != MHD_YES)) {
        mhd.destroy_response(resp);
        return LDG_ENOMEM;
    }
    if (r->srv->async) {
        struct ldg_httpd *s = r->srv;
        int rc = 0;
        pthread_mutex_lock(&s->mu);
        if (r->gone || r->pending != NULL || r->answered) {
            rc = r->gone ? LDG_ENET : LDG_EINVAL;
        } else {
            r->pending = resp;
            r->pending_status = status;
            resp = NULL;
            if (r->suspended) {
                r->suspended = 0;
                mhd.resume_connection(r->c);
            }
        }
        pthread_mutex_unlock(&s->mu);
        if (resp != NULL)
            mhd.destroy_response(resp);
        return rc;
    }
    ok = mhd.queue_response(r->c, status, resp);
    mhd.destroy_response(resp);
    r->answered = 1;
    return ok == MHD_YES ? 0 : LDG_EIO;
}

int
ldg_httpd_reply(struct ldg_httpd_req *r, unsigned status,
                const char *const *headers, const void *body, size_t len)
{
    void *copy;

    if (r == NULL || (!r->srv->async && r->answered) ||
        (body == NULL && len > 0))
        return LDG_EINVAL;
    copy = malloc(len > 0 ? len : 1);
    if (copy == NULL)
        return LDG_ENOMEM;
    if (len > 0)
        memcpy(copy, body, len);
    /* libmicrohttpd frees copy with the response. */
    return queue(
        r, status, headers,
        mhd.create_response_from_buffer(len, copy, MHD_RESPMEM_MUST_FREE));
}

static ssize_t
stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct stream *st = cls;
    ssize_t n;

    if (st->eof)
        return MHD_CONTENT_READER_END_OF_STREAM;
    n = st->rd(st->cls, buf, max);
    if (n == LDG_HTTPD_AGAIN && st->r->srv->async) {
        struct ldg_httpd *s = st->r->srv;
        ssize_t ret = 0;
        pthread_mutex_lock(&s->mu);
        if (s->stopping)
            ret = MHD_CONTENT_READER_END_WITH_ERROR;
        else if (st->r->woken) /* more came meanwhile: called again */
            st->r->woken = 0;
        else {
            mhd.suspend_connection(st->r->c);
            st->r->suspended = 1;
        }
        pthread_mutex_unlock(&s->mu);
        return ret;
    }
    if (n == 0) {
        st->eof = 1;
        return MHD_CONTENT_READER_END_OF_STREAM;
    }
    if (n < 0)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    LDG_ASSERT((size_t)n <= max);
    return n;
}

int
ldg_httpd_reply_stream(struct ldg_httpd_req *r, unsigned status,
                       const char *const *headers, ldg_httpd_read_fn rd,
                       ldg_httpd_done_fn done, void *cls)
{
    struct stream *st;

    if (r == NULL || rd == NULL || done == NULL ||
        (!r->srv->async && r->answered)) {
        if (done != NULL)
            done(cls, 0);
        return LDG_EINVAL;
    }
    st = calloc(1, sizeof *st);
    if (st == NULL) {
        done(cls, 0);
        return LDG_ENOMEM;
    }
    st->r = r;
    st->rd = rd;
    st->done = done;
    st->cls = cls;
    if (r->srv->async) {
        /* the request may have ended, or been answered, meanwhile */
        pthread_mutex_lock(&r->srv->mu);
        int bad = r->gone                                  ? LDG_ENET
                  : r->stream || r->pending || r->answered ? LDG_EINVAL
                                                           : 0;
        if (!bad)
            r->stream = st;
        pthread_mutex_unlock(&r->srv->mu);
        if (bad) {
            free(st);
            done(cls, 0);
            return bad;
        }
    } else {
        /* From here the request owns st: completed() calls done once,
         * whether or not the response could be queued. */
        r->stream = st;
    }
    int rc = queue(r, status, headers,
                   mhd.create_response_from_callback(
                       MHD_SIZE_UNKNOWN, STREAM_BLOCK, stream_read, st, NULL));
    if (rc < 0 && r->srv->async) {
        /* not queued: completed() will not know of it */
        pthread_mutex_lock(&r->srv->mu);
        int ours = r->stream == st;
        if (ours)
            r->stream = NULL;
        pthread_mutex_unlock(&r->srv->mu);
        if (ours) {
            free(st);
            done(cls, 0);
        }
    }
    return rc;
}

int
ldg_httpd_defer(struct ldg_httpd_req *r)
{
    if (r == NULL || !r->srv->async)
        return LDG_EINVAL;
    pthread_mutex_lock(&r->srv->mu);
    int again = r->deferred;
    if (!again) {
        r->deferred = 1;
        r->refs++;
    }
    pthread_mutex_unlock(&r->srv->mu);
    return again ? LDG_EINVAL : 0;
}

void
ldg_httpd_release(struct ldg_httpd_req *r)
{
    if (r != NULL && r->srv->async)
        req_unref(r);
}

void
ldg_httpd_wake(struct ldg_httpd_req *r)
{
    if (r == NULL || !r->srv->async)
        return;
    pthread_mutex_lock(&r->srv->mu);
    if (r->gone) {
        /* nothing to wake */
    } else if (r->suspended) {
        r->suspended = 0;
        mhd.resume_connection(r->c);
    } else {
        r->woken = 1;
    }
    pthread_mutex_unlock(&r->srv->mu);
}

int
ldg_httpd_client_gone(struct ldg_httpd_req *r)
{
    int gone;

    if (r == NULL || !r->srv->async)
        return 0;
    pthread_mutex_lock(&r->srv->mu); /* the socket stays open while held */
    gone = r->gone;
    if (!gone && !r->srv->stopping) {
        const union MHD_ConnectionInfo *ci =
            mhd.get_connection_info(r->c, MHD_CONNECTION_INFO_CONNECTION_FD);
        struct pollfd pf = {ci ? ci->connect_fd : -1, POLLRDHUP, 0};
        gone = pf.fd >= 0 && poll(&pf, 1, 0) == 1 &&
               (pf.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
    }
    pthread_mutex_unlock(&r->srv->mu);
    return gone;
}

uint64_t
ldg_httpd_conn_id(const struct ldg_httpd_req *r)
{
    return r->hc != NULL ? r->hc->id : 0;
}

const char *
ldg_httpd_method(const struct ldg_httpd_req *r)
{
    return r->method;
}

const char *
ldg_httpd_target(const struct ldg_httpd_req *r)
{
    return r->target;
}

const char *
ldg_httpd_path(const struct ldg_httpd_req *r)
{
    return r->path;
}

const char *
ldg_httpd_header(const struct ldg_httpd_req *r, const char *name)
{
    return mhd.lookup_connection_value(r->c, MHD_HEADER_KIND, name);
}

struct visit {
    int (*fn)(void *, const char *, const char *);
    void *arg;
    unsigned n;
};

static enum MHD_Result
visit_one(void *cls, enum MHD_ValueKind kind, const char *k, const char *v)
{
    struct visit *vi = cls;

    vi->n++;
    return vi->fn(vi->arg, k, v != NULL ? v : "") == 0 ? MHD_YES : MHD_NO;
}

unsigned
ldg_httpd_headers(const struct ldg_httpd_req *r,
                  int (*fn)(void *, const char *, const char *), void *arg)
{
    struct visit vi = {fn, arg, 0};

    mhd.get_connection_values(r->c, MHD_HEADER_KIND, visit_one, &vi);
    return vi.n;
}

const void *
ldg_httpd_body(const struct ldg_httpd_req *r, size_t *len)
{
    *len = r->body.len;
    return r->body.len > 0 ? r->body.p : NULL;
}

int
ldg_httpd_body_too_big(const struct ldg_httpd_req *r)
{
    return r->too_big;
}

int
ldg_httpd_fd(const struct ldg_httpd_req *r)
{
    const union MHD_ConnectionInfo *ci =
        mhd.get_connection_info(r->c, MHD_CONNECTION_INFO_CONNECTION_FD);

    return ci != NULL ? ci->connect_fd : -1;
}

int
ldg_httpd_start(struct ldg_httpd **out, const struct ldg_httpd_options *o,
                char *err, size_t errcap)
{
    struct ldg_httpd *s;
    int rc;

    if (out == NULL || o == NULL || o->listen == NULL || o->handle == NULL)
        return LDG_EINVAL;
    *out = NULL;
    pthread_once(&mhd_once, mhd_load);
    if (!mhd_ok) {
        snprintf(err, errcap, "%s", mhd_why);
        return LDG_EIO;
    }
    if ((s = calloc(1, sizeof *s)) == NULL)
        return LDG_ENOMEM;
    s->fd = -1;
    s->handle = o->handle;
    s->ctx = o->ctx;
    s->body_max = o->body_max ? o->body_max : LDG_HTTPD_BODY_MAX_DEFAULT;
    s->conn_closed = o->conn_closed;
    s->h2_preface = o->h2_preface;
    if (o->h2_goaway != NULL && (s->h2_goaway = strdup(o->h2_goaway)) == NULL) {
        free(s);
        return LDG_ENOMEM;
    }
    s->async = o->async;
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->cmu, NULL);
    s->adm.max = o->max_conns ? o->max_conns : LDG_HTTPD_MAX_CONNS_DEFAULT;
    s->adm.pressure_ms = o->pressure_idle_ms
                             ? o->pressure_idle_ms
                             : LDG_HTTPD_PRESSURE_IDLE_MS_DEFAULT;
    s->adm.self_uid = (uint32_t)geteuid();
    if ((rc = httpd_listen(o->listen, &s->fd, &s->port, &s->unix_path, err,
                           errcap)) < 0)
        goto fail;
    if (s->h2_goaway != NULL && s->unix_path == NULL) {
        /* the client's first bytes with the connection (h2_refuse) */
        int secs = 10;
        setsockopt(s->fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &secs, sizeof secs);
    }
    /* more than one thread: a pool (libmicrohttpd warns of a pool of 0
     * or 1, so none is named then) */
    struct MHD_OptionItem pool[2] = {{MHD_OPTION_END, 0, NULL},
                                     {MHD_OPTION_END, 0, NULL}};
    if (s->async && o->threads > 1)
        pool[0] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE,
                                          (intptr_t)o->threads, NULL};
    /* no MHD_USE_ERROR_LOG: libmicrohttpd would print on the command's
     * stderr ("Failed to send the chunked response body..." for each
     * client that leaves a stream), and a library does not print; what
     * matters reaches the caller as a return code or a done callback */
    s->d = mhd.start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO |
            (s->async ? MHD_ALLOW_SUSPEND_RESUME
                      : MHD_USE_THREAD_PER_CONNECTION),
        0, NULL, NULL, access_cb, s, MHD_OPTION_LISTEN_SOCKET, s->fd,
        MHD_OPTION_URI_LOG_CALLBACK, uri_log, s, MHD_OPTION_NOTIFY_COMPLETED,
        completed, NULL, MHD_OPTION_NOTIFY_CONNECTION, notify_conn, s,
        MHD_OPTION_CONNECTION_LIMIT, s->adm.max + MHD_SLACK(s->adm.max),
        MHD_OPTION_CONNECTION_TIMEOUT,
        o->timeout_s ? o->timeout_s : LDG_HTTPD_TIMEOUT_S_DEFAULT,
        MHD_OPTION_ARRAY, pool, MHD_OPTION_END);
    if (s->d == NULL) {
        snprintf(err, errcap,
                 "cannot serve on %s: libmicrohttpd refused to "
                 "start",
                 o->listen);
        rc = LDG_EIO;
        goto fail;
    }
    *out = s;
    return 0;
fail:
    if (s->fd >= 0)
        close(s->fd);
    if (s->unix_path != NULL && s->fd >= 0)
        unlink(s->unix_path);
    free(s->unix_path);
    free(s->h2_goaway);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->cmu);
    free(s);
    return rc;
}

unsigned
ldg_httpd_port(const struct ldg_httpd *s)
{
    return s != NULL ? s->port : 0;
}

void
ldg_httpd_stats(struct ldg_httpd *s, struct ldg_httpd_stats *st)
{
    memset(st, 0, sizeof *st);
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->cmu);
    st->admitted = s->adm.admitted;
    st->refused_share = s->adm.refused_share;
    st->refused_full = s->adm.refused_full;
    st->closed_idle = s->adm.closed_idle;
    pthread_mutex_unlock(&s->cmu);
}

int
ldg_httpd_busy(struct ldg_httpd *s)
{
    int busy;

    if (s == NULL)
        return 0;
    pthread_mutex_lock(&s->mu);
    busy = s->live != NULL;
    pthread_mutex_unlock(&s->mu);
    return busy;
}

void
ldg_httpd_stop(struct ldg_httpd *s)
{
    if (s == NULL)
        return;
    if (s->async) {
        /* libmicrohttpd must not be stopped with a connection suspended:
         * each is resumed, and with stopping set its handler or reader
         * ends it instead of suspending it again */
        pthread_mutex_lock(&s->mu);
        s->stopping = 1;
        for (struct ldg_httpd_req *r = s->live; r; r = r->next)
            if (r->suspended) {
                r->suspended = 0;
                mhd.resume_connection(r->c);
            }
        pthread_mutex_unlock(&s->mu);
    }
    mhd.stop_daemon(s->d); /* closes the listening socket it was given */
    if (s->unix_path != NULL)
        unlink(s->unix_path);
    free(s->unix_path);
    s->unix_path = NULL;
    /* requests still held (ldg_httpd_defer) keep s until released */
    pthread_mutex_lock(&s->mu);
    s->stopped = 1;
    int held = s->live != NULL;
    pthread_mutex_unlock(&s->mu);
    if (held)
        return;
    srv_free(s);
}
