/*
 * server.h — the project's one HTTP server (a wrapper over libmicrohttpd).
 *
 * Every command that serves HTTP (the witness, the model proxy, the
 * metrics endpoint) goes through this header; http/server.c is the only
 * file that includes <microhttpd.h>. libmicrohttpd is loaded with dlopen
 * when the first server starts (libmicrohttpd.so.12), so commands that
 * serve nothing never pay for it; a missing library is an error naming it.
 *
 * Two models:
 *   - one thread per connection (the default: libmicrohttpd's
 *     MHD_USE_THREAD_PER_CONNECTION), so a handler and a streaming reader
 *     may block (on an upstream, on a commit) without holding up other
 *     clients;
 *   - event-driven (async = 1): a few threads (threads, default 1) each
 *     serve many connections, so nothing may block. A handler that cannot
 *     answer at once calls ldg_httpd_defer and answers later from any
 *     thread (the connection is suspended meanwhile); a streaming reader
 *     with nothing yet returns LDG_HTTPD_AGAIN and whoever produces the
 *     next piece calls ldg_httpd_wake. A suspended connection does not see
 *     its client go away until it is woken (libmicrohttpd's limit).
 * A request whose length is ambiguous (two Content-Length headers that
 * disagree, or one beside a Transfer-Encoding: RFC 9112 section 6.3) is
 * answered 400 and its connection closed; the handler never sees it.
 * The request body is read whole, up to body_max bytes, before the
 * handler is called; a larger body is not kept (the handler sees
 * ldg_httpd_body_too_big() and answers, typically 413). A body declared
 * larger (Content-Length) by a client that waits for 100 Continue
 * (Expect: 100-continue) is not read at all: the handler is called on
 * the headers, too big and with no body, its answer is sent instead of
 * 100 Continue, and the connection is closed. The handler
 * answers each request exactly once, with ldg_httpd_reply (a buffer) or
 * ldg_httpd_reply_stream (a reader called as the client takes the bytes;
 * with HTTP/1.1 the body goes out chunked, each piece as soon as the
 * reader returns it).
 *
 * Connections: at most max_conns are held, shared between peers so that
 * no one can take them all with idle sockets. A peer is a uid when the
 * kernel names the other end's owner (a Unix socket's SO_PEERCRED; a TCP
 * connection from this box, by the kernel's socket tables), else the
 * client's IP address (an IPv6 address's /64). Each peer holds at most
 * half of max_conns, but the server's own uid, which may hold them all.
 * A connection is idle while no request of it is being handled; while
 * half of max_conns or more are taken, a connection idle for
 * pressure_idle_ms is closed as the next one arrives, and with every
 * slot taken the newcomer takes the slot of an idle connection (of the
 * peer holding the most, the one idle longest). A connection over its
 * peer's share, or arriving when every slot is busy, is closed at once
 * without an answer (there is no request yet to answer). Otherwise an
 * idle connection is closed after timeout_s. ldg_httpd_stats counts it.
 *
 * Listening addresses:
 *   "127.0.0.1:8080", "[::1]:8080" — TCP (port 0: any free port, see
 *   ldg_httpd_port); "unix:/path/to/sock" — a Unix socket, created with
 *   mode 0660 (an existing socket file at the path is replaced).
 * Which addresses a command accepts (loopback by default) is the
 * command's policy, not this layer's.
 */
#ifndef LDG_HTTP_SERVER_H
#define LDG_HTTP_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#define LDG_HTTPD_MAX_CONNS_DEFAULT 512u
#define LDG_HTTPD_TIMEOUT_S_DEFAULT 30u           /* idle connection */
#define LDG_HTTPD_PRESSURE_IDLE_MS_DEFAULT 5000u  /* idle, under pressure */
#define LDG_HTTPD_BODY_MAX_DEFAULT (1024u * 1024) /* request body bytes */

struct ldg_httpd;     /* a running server */
struct ldg_httpd_req; /* one request; see the lifetimes below */

/* Called once per request, on that connection's thread, when the request
 * (headers and body) has been read. It must answer with ldg_httpd_reply
 * or ldg_httpd_reply_stream and return 0; a negative return (or no
 * answer) closes the connection without a response. */
typedef int (*ldg_httpd_handler)(void *ctx, struct ldg_httpd_req *req);

struct ldg_httpd_options {
    const char *listen;        /* see above; required */
    ldg_httpd_handler handle;  /* required */
    void *ctx;                 /* given to handle */
    unsigned max_conns;        /* 0 = LDG_HTTPD_MAX_CONNS_DEFAULT */
    unsigned timeout_s;        /* idle timeout; 0 = _TIMEOUT_S_DEFAULT */
    unsigned pressure_idle_ms; /* see "Connections"; 0 = ..._DEFAULT */
    size_t body_max;           /* 0 = LDG_HTTPD_BODY_MAX_DEFAULT */
    int async;                 /* 1: event-driven (see above) */
    unsigned threads;          /* async: threads serving; 0 = 1 */
    /* Called when a connection closes, on a server thread, with the id
     * its requests had (ldg_httpd_conn_id); may be NULL. */
    void (*conn_closed)(void *ctx, uint64_t conn_id);
};

/* Starts a server in its own threads and returns at once.
 * @return 0 and *out (free with ldg_httpd_stop); LDG_EBADINPUT for an
 * address that does not parse, LDG_EBUSY when the address is in use (a
 * live server answers on the Unix socket), LDG_EIO when it cannot listen
 * otherwise (the reason, "permission denied", in err) or libmicrohttpd
 * cannot be loaded. */
int ldg_httpd_start(struct ldg_httpd **out, const struct ldg_httpd_options *o,
                    char *err, size_t errcap);

/* The TCP port listened on (the one chosen when the address said 0); 0
 * for a Unix socket. */
unsigned ldg_httpd_port(const struct ldg_httpd *s);

/* Stops listening, ends every connection (a streaming reader still
 * running is waited for: make it return; a deferred request not yet
 * answered is closed without an answer) and frees s (of an async server:
 * once the last held request is released). A Unix socket file it created
 * is removed. NULL is a no-op. */
void ldg_httpd_stop(struct ldg_httpd *s);
/* 1 while a request is being handled or held (ldg_httpd_defer) and not
 * yet freed, else 0: a server can wait for its requests before it
 * stops. Any thread. */
int ldg_httpd_busy(struct ldg_httpd *s);

/* What the connection shares (above) did since the server started. */
struct ldg_httpd_stats {
    uint64_t admitted;      /* connections taken */
    uint64_t refused_share; /* closed at once: over their peer's share */
    uint64_t refused_full;  /* closed at once: every slot busy */
    uint64_t closed_idle;   /* idle ones closed to make room */
};
/* Any thread. */
void ldg_httpd_stats(struct ldg_httpd *s, struct ldg_httpd_stats *st);

/* "libmicrohttpd 0.9.75", or why it cannot be loaded. Static storage. */
const char *ldg_httpd_lib_version(void);

/*
 * Reading a request. Every pointer returned is borrowed and valid until
 * the response ends (for a stream: until its done callback has run); on
 * an async server, only in the handler (copy what is needed later).
 */
const char *ldg_httpd_method(const struct ldg_httpd_req *r); /* "GET" */
/* The request target as the client sent it, path and query ("/v1/x?a=b").
 */
const char *ldg_httpd_target(const struct ldg_httpd_req *r);
/* The path alone, decoded as libmicrohttpd decodes it ("/v1/x"). */
const char *ldg_httpd_path(const struct ldg_httpd_req *r);
/* A request header's value (name case-insensitive), or NULL. */
const char *ldg_httpd_header(const struct ldg_httpd_req *r, const char *name);
/* Calls fn for each request header in order; stops early when fn
 * returns non-zero. @return how many headers were visited. */
unsigned ldg_httpd_headers(const struct ldg_httpd_req *r,
                           int (*fn)(void *arg, const char *name,
                                     const char *value),
                           void *arg);
/* The request body (not NUL-terminated; NULL with *len 0 when empty). */
const void *ldg_httpd_body(const struct ldg_httpd_req *r, size_t *len);
/* 1 when the body was over body_max and was not kept. */
int ldg_httpd_body_too_big(const struct ldg_httpd_req *r);
/* The connection's socket, for SO_PEERCRED on a Unix socket or
 * getpeername/getsockname on TCP. Do not read, write or close it. */
int ldg_httpd_fd(const struct ldg_httpd_req *r);
/* The connection's id: 1, 2, ... in the order connections came, the same
 * for every request of a keep-alive connection; given to conn_closed. */
uint64_t ldg_httpd_conn_id(const struct ldg_httpd_req *r);

/*
 * Answering later (async servers). In the handler, ldg_httpd_defer says
 * the answer comes later and holds r: r stays valid (for ldg_httpd_reply,
 * ldg_httpd_reply_stream and ldg_httpd_wake, from any thread) until
 * ldg_httpd_release. If the connection ends first (the server stops),
 * the answer is refused with LDG_ENET and nothing is sent.
 */
/* @return 0; LDG_EINVAL on a thread-per-connection server or twice. */
int ldg_httpd_defer(struct ldg_httpd_req *r);
/* 1 when r's client is gone: its request ended, or (while r waits,
 * suspended, for its answer) the client closed or reset its connection
 * (a poll of the socket for POLLRDHUP: libmicrohttpd does not watch a
 * suspended connection). 0 otherwise, and on a thread-per-connection
 * server. From any thread while r is held; one system call. */
int ldg_httpd_client_gone(struct ldg_httpd_req *r);
/* Gives back the hold of ldg_httpd_defer; r may be freed at once. */
void ldg_httpd_release(struct ldg_httpd_req *r);
/* A streamed answer whose reader returned LDG_HTTPD_AGAIN has more: its
 * reader is called again. From any thread while r is held; a wake before
 * the reader's AGAIN is remembered. A no-op once the request ended. */
void ldg_httpd_wake(struct ldg_httpd_req *r);

/*
 * Answering. headers: extra response headers, each "Name: value",
 * NULL-terminated, may be NULL; copied. Hop-by-hop headers (Connection,
 * Transfer-Encoding, Content-Length, Keep-Alive) are the server's and
 * are dropped from the list.
 */

/* Answers with a copy of body. @return 0, LDG_ENOMEM, LDG_EINVAL when the
 * request was already answered, LDG_ENET when its connection ended
 * (async). */
int ldg_httpd_reply(struct ldg_httpd_req *r, unsigned status,
                    const char *const *headers, const void *body, size_t len);

/* Reads the next piece of a streamed body into buf (at most cap bytes),
 * blocking as long as it needs (async: never blocking; see LDG_HTTPD_AGAIN).
 * @return bytes (> 0), 0 at the end of the body, or < 0 to cut the response
 * short (the client sees the connection close without the final chunk, so it
 * knows the body is incomplete). */
typedef ssize_t (*ldg_httpd_read_fn)(void *cls, char *buf, size_t cap);
/* An async server's reader with nothing yet: the connection waits for
 * ldg_httpd_wake (the reader must not block). */
#define LDG_HTTPD_AGAIN ((ssize_t)-2)
/* Called exactly once when a streamed response ends: completed is 1 when
 * the reader returned 0 and every byte went out, 0 when the client went
 * away, the reader failed or the server stopped. Free cls here. */
typedef void (*ldg_httpd_done_fn)(void *cls, int completed);

/* Answers with a body produced by rd as the client reads it (chunked
 * transfer encoding). done is called once in every case, also when this
 * returns an error. @return 0, LDG_ENOMEM, LDG_EINVAL. */
int ldg_httpd_reply_stream(struct ldg_httpd_req *r, unsigned status,
                           const char *const *headers, ldg_httpd_read_fn rd,
                           ldg_httpd_done_fn done, void *cls);

#endif
