/*
 * http.h — the project's one HTTP client (a wrapper over libcurl).
 *
 * Every module that speaks HTTP (the probe, the eval runner, publishing
 * and mirroring) goes through this header; http/curl_int.h is the only
 * header that includes <curl/curl.h> (for http.c, stream.c and loop.c),
 * and those files translate curl's codes into
 * enum ldg_error (util/error.h). The library never prints: a failure
 * writes one line into the caller's err buffer naming the method, the URL
 * and, when the server answered, the HTTP status, e.g.
 *
 *   "GET http://127.0.0.1:11434/api/tags: HTTP 500 Internal Server Error"
 *   "GET http://127.0.0.1:9/x: connection refused (Couldn't connect ...)"
 *   "GET http://h/x: response exceeds 1048576 bytes; transfer aborted"
 *
 * What it does for every request:
 *   - a connect timeout and a total timeout (defaults below);
 *   - a cap on the response body, enforced as bytes arrive and before they
 *     are buffered: a Content-Length over the cap, or the running total
 *     passing it, aborts the transfer with LDG_ETOOBIG;
 *   - TLS peer and host verification on unless the caller turns it off;
 *   - proxies from the environment exactly as curl does (http_proxy,
 *     https_proxy, all_proxy, no_proxy, in lower or upper case);
 *   - retries with exponential backoff, but only for idempotent methods
 *     (GET, HEAD, PUT) and only for failures that may be transient: a
 *     refused or reset connection, a timeout, and HTTP 408, 429, 500,
 *     502, 503 and 504. POST is never retried. A response over the cap, a
 *     TLS verification failure, or any other 4xx is never retried;
 *   - optional AWS Signature Version 4 signing (CURLOPT_AWS_SIGV4), for
 *     S3-compatible stores.
 *
 * Thread safety: curl's global setup runs once, on first use, under
 * pthread_once. A struct ldg_http_client must not be used by two threads
 * at once; give each thread its own (they are cheap), or pass NULL for a
 * one-shot request.
 */
#ifndef LDG_HTTP_H
#define LDG_HTTP_H

#include <stddef.h>
#include <stdint.h>

#define LDG_HTTP_CONNECT_TIMEOUT_MS_DEFAULT 5000
#define LDG_HTTP_TIMEOUT_MS_DEFAULT 30000
#define LDG_HTTP_MAX_RESPONSE_DEFAULT (64u * 1024 * 1024) /* bytes */
#define LDG_HTTP_BACKOFF_MS_DEFAULT 200
#define LDG_HTTP_ERR_MAX 512 /* a good size for the err buffer */

/* One request. Zero-initialise it (`struct ldg_http_request r = {0};`),
 * then set method and url; every other field has a default when zero. */
struct ldg_http_request {
    const char *method; /* "GET", "HEAD", "PUT" or "POST"; NULL = GET */
    const char *url;    /* http:// or https:// (other schemes: LDG_EINVAL) */
    /* Extra request headers, each "Name: value", NULL-terminated; may be
     * NULL. Borrowed for the duration of the call. */
    const char *const *headers;
    const void *body; /* request body for PUT/POST (borrowed); may be NULL */
    size_t body_len;  /* bytes of body */
    long connect_timeout_ms;   /* 0 = LDG_HTTP_CONNECT_TIMEOUT_MS_DEFAULT */
    long timeout_ms;           /* whole transfer; 0 = _TIMEOUT_MS_DEFAULT */
    size_t max_response_bytes; /* 0 = LDG_HTTP_MAX_RESPONSE_DEFAULT */
    /* Extra attempts after the first for an idempotent method (GET, HEAD,
     * PUT) that failed transiently (see above); ignored for POST. The wait
     * before attempt k (k = 1, 2, …) is backoff_ms * 2^(k-1). */
    int retries;
    long backoff_ms;     /* 0 = LDG_HTTP_BACKOFF_MS_DEFAULT */
    int insecure;        /* 1 turns TLS verification OFF (for tests only) */
    const char *ca_file; /* PEM bundle to trust instead of the system's */
    /* AWS SigV4: aws_sigv4 is curl's provider string, for S3
     * "aws:amz:REGION:s3" (e.g. "aws:amz:us-east-1:s3"); userpwd is
     * "ACCESS_KEY_ID:SECRET_ACCESS_KEY". Both NULL = no signing. userpwd
     * alone is HTTP basic authentication. */
    const char *aws_sigv4;
    const char *userpwd;
    /* 1 = an HTTP status >= 400 is not an error: the call returns 0 and the
     * caller reads resp->status. 0 (default) = it returns LDG_EHTTP. */
    int accept_error_status;
};

/* What came back. Owned by the caller after ldg_http_request returns (on
 * success or failure); free with ldg_http_response_release. */
struct ldg_http_response {
    long status; /* HTTP status of the last attempt; 0 if none arrived */
    char *body;  /* the body, NUL-terminated (the NUL not counted); NULL
                    if there was none (HEAD, empty reply) */
    size_t body_len;
    char *content_type; /* Content-Type header value, or NULL */
    char *etag;         /* ETag header value (quotes kept), or NULL */
    double elapsed_ms;  /* wall time of the last attempt */
    int attempts;       /* attempts made (1 + retries used) */
};

/* A reusable client: it keeps one curl handle, so connections to the same
 * host are reused (keep-alive) across requests. Not for two threads at
 * once. ldg_http_client_free(NULL) is a no-op. Returns 0 or LDG_ENOMEM
 * (libcurl is loaded by the first request, not here). */
struct ldg_http_client;
int ldg_http_client_new(struct ldg_http_client **out);
void ldg_http_client_free(struct ldg_http_client *c);

/* Performs req with client c (NULL = a one-shot handle) and fills resp
 * (which it zeroes first). Returns:
 *   0              a response arrived (status < 300, or accept_error_status)
 *   LDG_EHTTP      the server answered with status >= 400 (resp is filled:
 *                  status, headers and the body, capped, are there), or
 *                  with a redirect (3xx), which is not followed: a PUT or
 *                  POST answered so did not reach its target
 *                  (the message names the Location)
 *   LDG_ENET       no usable answer: refused, reset, DNS failure, TLS
 *                  failure, or the connection closed before the reply
 *                  was complete (a short body against its Content-Length)
 *   LDG_ETIMEOUT   the connect or total timeout passed
 *   LDG_ETOOBIG    the response is larger than max_response_bytes
 *   LDG_EINVAL     misuse (NULL url or resp, an unknown method or scheme)
 *   LDG_ENOMEM     out of memory
 *   LDG_EIO        libcurl (libcurl.so.4, loaded on first use) cannot be
 *                  loaded: err names the library and the loader's reason
 * On failure err (if not NULL) gets a NUL-terminated message of at most
 * errlen bytes; resp may still hold what arrived, and must be released. */
int ldg_http_request(struct ldg_http_client *c,
                     const struct ldg_http_request *req,
                     struct ldg_http_response *resp, char *err, size_t errlen);

/* Frees what resp holds and zeroes it. NULL is a no-op. */
void ldg_http_response_release(struct ldg_http_response *resp);

/* 1 if method is retried on transient failures (GET, HEAD, PUT), else 0. */
int ldg_http_method_idempotent(const char *method);

/* The version of libcurl the client runs with ("libcurl 8.5.0"; loads
 * it; "libcurl (not loaded)" when it cannot be). */
const char *ldg_http_lib_version(void);

/* --------------------------------------------------------------- loop -- */

/*
 * An asynchronous client, for a reverse proxy that must not hold a thread
 * per request: a loop is one thread, owned by the loop, that runs many
 * transfers at once (curl's multi interface). A transfer sends req's
 * method, url, headers and body with its connect timeout and TLS options
 * (no retries, whatever the method) and hands the
 * response to three callbacks as it arrives: head once, data for each
 * piece of the body as curl reads it (never buffered by the loop), end
 * once, last.
 *
 * The callbacks run on the loop's thread, one at a time, and must never
 * block: every transfer on the loop waits while one runs. They may start,
 * resume and close transfers (close only their own or ones they hold a
 * reference to), but not free the loop.
 *
 * Back-pressure: data returning 1 pauses the transfer (curl stops
 * reading its socket and keeps the piece); ldg_http_xfer_resume, from any
 * thread, offers the same piece again. So a paused transfer holds what
 * curl read last (one read buffer, 16 KiB by curl's default), and every
 * transfer its response headers (at most LDG_HTTP_STREAM_HEADERS_MAX bytes
 * or 128 lines; more ends it with LDG_ETOOBIG).
 *
 * Connections to a server are kept open (keep-alive) and reused by the
 * next transfer to it on the same loop; a transfer ended before its body
 * was read to its end closes its connection. A start, resume or close
 * costs one wakeup of the loop's thread when nothing else is queued,
 * none otherwise (nor from the loop's own callbacks).
 */
#define LDG_HTTP_STREAM_HEADERS_MAX (64u * 1024)
struct ldg_http_loop; /* a thread running transfers */
struct ldg_http_xfer; /* one transfer on it */

struct ldg_http_xfer_cbs {
    /* The response's status line and headers have arrived (called once,
     * before any data; a 1xx interim response is not reported). Return 0
     * to go on, < 0 to end the transfer (end is then called with
     * LDG_ENET, err "cancelled"). May be NULL: go on. */
    int (*head)(void *cls, struct ldg_http_xfer *x, long status);
    /* A piece of the body, n > 0; p is curl's, valid during the call.
     * Return 0: taken; 1: not taken now — the transfer is paused
     * (CURL_WRITEFUNC_PAUSE) and the same piece is offered again after
     * ldg_http_xfer_resume(); < 0: abort (end is called with LDG_ENET, err
     * "cancelled"). May be NULL: every piece taken. */
    int (*data)(void *cls, struct ldg_http_xfer *x, const char *p, size_t n);
    /* Exactly once per started transfer, last: rc 0 when the body is
     * complete (err ""); LDG_ENET (refused, reset, closed early,
     * cancelled), LDG_ETIMEOUT (connect, first byte, idle), LDG_ETOOBIG
     * (headers over LDG_HTTP_STREAM_HEADERS_MAX, or the body over
     * max_response_bytes when that is not 0), LDG_ENOMEM, or (rarely)
     * LDG_EINVAL when libcurl rejects an option, with err a one-line
     * message ("POST http://...:
     * connection refused (...)", "GET http://...: cancelled"), borrowed
     * for the call. connected: 1 if a connection to the server was made
     * (so a timeout after it is not a refusal). The status and headers
     * can still be read here. May be NULL. */
    void (*end)(void *cls, struct ldg_http_xfer *x, int rc, int connected,
                const char *err);
};

/* Starts a loop: its thread, and a multi handle whose connections its
 * transfers share. Loads libcurl if it is not loaded yet.
 * Lifetime: *out is the caller's; free it with ldg_http_loop_free.
 * @return 0 and *out; LDG_ENOMEM (no memory, or no thread);
 * LDG_EIO when libcurl cannot be loaded; LDG_EINVAL for a NULL out; on
 * failure err (if not NULL) says why, in at most errlen bytes. */
int ldg_http_loop_new(struct ldg_http_loop **out, char *err, size_t errlen);

/* Ends every transfer still running (each one's end is called, on the
 * loop thread, with LDG_ENET "cancelled" before this returns), stops and
 * joins the thread, frees l. NULL is a no-op. Not from a callback, and
 * not while another thread starts, resumes or closes a transfer of l.
 * Lifetime: transfers the caller has not closed yet stay allocated after
 * this: ldg_http_xfer_close still has to be called for each (it only
 * frees it then); ldg_http_xfer_resume is a no-op on them. */
void ldg_http_loop_free(struct ldg_http_loop *l);

/* Queues a transfer of req (copied whole: url, headers, body, ca_file,
 * userpwd; the caller may free them when this returns) on l, from any
 * thread, a callback included. It starts on the loop thread at once.
 * first_byte_ms (0: req->timeout_ms, then LDG_HTTP_TIMEOUT_MS_DEFAULT)
 * limits the time from this call to the response's headers; idle_ms (0:
 * none) the time between two pieces of the body (and from the headers to
 * the first piece; time paused by the caller does not count);
 * req->timeout_ms is NOT a total limit (a generation may stream for
 * minutes). req->connect_timeout_ms as in ldg_http_request;
 * req->max_response_bytes (0: none) caps the body. No retries, whatever
 * the method; req->retries, aws_sigv4 and accept_error_status are
 * ignored (every status is an answer: the caller reads it in head).
 * cb is copied; cls is passed to each callback.
 * Lifetime: *out is the caller's reference: give it back with
 * ldg_http_xfer_close. cb->end will be called exactly once, on the loop
 * thread, never before this returns; cls must stay valid until then.
 * @return 0 and *out; LDG_EINVAL (NULL l, req, url, cb or out, an
 * unsupported method or scheme, a body_len without a body, or l being
 * freed), LDG_ENOMEM: then no callback is ever called, *out NULL. */
int ldg_http_xfer_start(struct ldg_http_loop *l,
                        const struct ldg_http_request *req, long first_byte_ms,
                        long idle_ms, const struct ldg_http_xfer_cbs *cb,
                        void *cls, struct ldg_http_xfer **out);

/* From any thread: a paused transfer takes the piece it was offered
 * again (its data callback is called again, on the loop thread; the idle
 * limit starts anew). A no-op for a transfer not paused or ended, or
 * NULL. Lifetime: x must not have been closed. */
void ldg_http_xfer_resume(struct ldg_http_xfer *x);

/* From any thread (also from a callback): gives back the caller's
 * reference. A transfer not yet ended is ended (its end is called with
 * LDG_ENET "cancelled", on the loop thread, soon after; when close is
 * called on the loop thread, no head or data of x follows; the connection
 * is closed if the body was not read to its end). NULL is a no-op.
 * Lifetime: x is freed once both the end callback has returned and close
 * was called: the caller must not use x after this call (except inside
 * x's end, still to come, which gets it); the caller's cls must stay
 * valid until end has been called. */
void ldg_http_xfer_close(struct ldg_http_xfer *x);

/* Only from the head, data and end callbacks of x: the status
 * (0 if none arrived); the i-th response header "Name: value" (no CRLF;
 * NULL past the last); a header's value by name (case-insensitive), or
 * NULL. Lifetime: the strings are borrowed until end returns.
 * @return as said; 0 or NULL for a NULL x. */
long ldg_http_xfer_status(const struct ldg_http_xfer *x);
const char *ldg_http_xfer_header(const struct ldg_http_xfer *x, size_t i);
const char *ldg_http_xfer_header_get(const struct ldg_http_xfer *x,
                                     const char *name);

#endif
