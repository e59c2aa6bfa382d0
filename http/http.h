/*
 * http.h — the project's one HTTP client (a wrapper over libcurl).
 *
 * Every module that speaks HTTP (the probe, the eval runner, publishing
 * and mirroring) goes through this header; http/http.c is the only file
 * that includes <curl/curl.h>, and it translates curl's codes into
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
 *   0              a response arrived (status < 400, or accept_error_status)
 *   LDG_EHTTP      the server answered with status >= 400 (resp is filled:
 *                  status, headers and the body, capped, are there)
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

/* ------------------------------------------------------------ streams -- */

/*
 * A streamed request, for a proxy: the response's status and headers as
 * soon as they arrive, then its body piece by piece as the caller pulls
 * it (ldg_http_stream_read), never buffered whole. POST is never retried
 * (no retries at all: the caller decides). The transfer runs on the
 * caller's thread (curl's multi interface, driven by open and read);
 * closing the stream ends the upstream request at once (the connection
 * is closed if the body was not read to its end).
 *
 * Timeouts: req->connect_timeout_ms for the connection;
 * first_byte_ms (0: req->timeout_ms, then the default) from the start
 * until the response's headers; idle_ms (0: none) between two pieces of
 * the body. req->timeout_ms is not a limit on a stream's total time (a
 * generation may take minutes). req->max_response_bytes (0: none) caps
 * the body: the read that would pass it fails with LDG_ETOOBIG.
 *
 * Memory: at most about 64 KiB of body is held between reads (curl is
 * paused when the caller does not read), plus the response headers (at
 * most LDG_HTTP_STREAM_HEADERS_MAX bytes; more fails the open with
 * LDG_ETOOBIG).
 */
#define LDG_HTTP_STREAM_HEADERS_MAX (64u * 1024)
struct ldg_http_stream;

/* Sends req through client c (NULL: a handle of its own; a client keeps
 * its connection to the upstream for the next request) and waits for the
 * response's status line and headers. c must not be used again until the
 * stream is closed. Returns 0 with *out (close it with
 * ldg_http_stream_close) whatever the status (no status is an error
 * here); LDG_ENET (refused, reset, closed before a response),
 * LDG_ETIMEOUT (connect or first byte), LDG_ETOOBIG (headers), LDG_EINVAL,
 * LDG_ENOMEM, LDG_EIO (libcurl not loadable), with err filled and *out
 * NULL. *connected (may be NULL) is 1 when a connection was made (a
 * timeout after it is not a refusal). */
int ldg_http_stream_open(struct ldg_http_stream **out,
                         struct ldg_http_client *c,
                         const struct ldg_http_request *req, long first_byte_ms,
                         long idle_ms, int *connected, char *err,
                         size_t errlen);
/* The response's HTTP status. */
long ldg_http_stream_status(const struct ldg_http_stream *s);
/* The i-th response header as "Name: value" (without CRLF), i from 0;
 * NULL past the last. Borrowed until close. */
const char *ldg_http_stream_header(const struct ldg_http_stream *s, size_t i);
/* A response header's value (name case-insensitive), or NULL. */
const char *ldg_http_stream_header_get(const struct ldg_http_stream *s,
                                       const char *name);
/* Reads the next piece of the body into buf (at most cap bytes), blocking
 * until one arrives. Returns the bytes (> 0), 0 at the end of a complete
 * body, or LDG_ETIMEOUT (idle_ms passed without a byte), LDG_ENET (the
 * upstream closed or failed before the body was complete), LDG_ETOOBIG,
 * LDG_ENOMEM, with err filled. After an error or 0 it returns the same
 * again. */
long ldg_http_stream_read(struct ldg_http_stream *s, char *buf, size_t cap,
                          char *err, size_t errlen);
/* Ends the transfer (at once, when the body was not read to its end) and
 * frees s; the client given to open is free again. NULL is a no-op. */
void ldg_http_stream_close(struct ldg_http_stream *s);

#endif
