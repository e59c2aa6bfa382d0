/*
 * curl_int.h — what the files that call libcurl share (not public): the
 * library's functions as loaded by http.c, and the response head and
 * easy-handle set-up of the loop's streamed transfers (stream.c, for
 * loop.c). Only http.c, stream.c and loop.c include
 * <curl/curl.h>, through this header; curl's codes become enum ldg_error
 * there and nowhere else.
 */
#ifndef LDG_HTTP_CURL_INT_H
#define LDG_HTTP_CURL_INT_H

#include <stddef.h>

#include <curl/curl.h>

#include "http/http.h"
#include "util/util.h"

struct ldg_http_client {
    CURL *easy;
};

#define CURL_SONAME "libcurl.so.4"

/* The libcurl functions the module calls, resolved by load(). */
struct http_curl {
    __typeof__(curl_global_init) *global_init;
    __typeof__(curl_easy_init) *easy_init;
    __typeof__(curl_easy_cleanup) *easy_cleanup;
    __typeof__(curl_easy_reset) *easy_reset;
    __typeof__(curl_easy_setopt) *easy_setopt;
    __typeof__(curl_easy_perform) *easy_perform;
    __typeof__(curl_easy_getinfo) *easy_getinfo;
    __typeof__(curl_easy_strerror) *easy_strerror;
    __typeof__(curl_slist_append) *slist_append;
    __typeof__(curl_slist_free_all) *slist_free_all;
    __typeof__(curl_version_info) *version_info;
    __typeof__(curl_easy_pause) *easy_pause;
    __typeof__(curl_multi_init) *multi_init;
    __typeof__(curl_multi_cleanup) *multi_cleanup;
    __typeof__(curl_multi_add_handle) *multi_add_handle;
    __typeof__(curl_multi_remove_handle) *multi_remove_handle;
    __typeof__(curl_multi_perform) *multi_perform;
    __typeof__(curl_multi_poll) *multi_poll;
    __typeof__(curl_multi_info_read) *multi_info_read;
    __typeof__(curl_multi_wakeup) *multi_wakeup;
    __typeof__(curl_multi_setopt) *multi_setopt;
};
/* Loaded by http.c's load() on the first http_ensure_global(); until
 * then, and when that failed, http_load_why says why they are not there.
 * Written once (under pthread_once), read by every thread after. */
extern struct http_curl http_cu;
extern char http_load_why[300];

/* One transfer's response as it arrives (http.c's callbacks; stream.c
 * fills one to have a failed streamed transfer's error said the same
 * way). */
struct xfer {
    struct ldg_http_response *resp;
    size_t cap;
    /* the body as it arrives, at most cap bytes; resp->body is its bytes
     * (owned by resp from the first byte on, freed with it) */
    struct ldg_buf body;
    int toobig;         /* the cap stopped the transfer */
    int oom;            /* an allocation failed in a callback */
    char reason[64];    /* reason phrase of the last status line */
    char location[256]; /* its Location header, printable, cut */
};

/* Sets an option of the easy handle h; on failure goes to setopt_failed,
 * which the function using it defines. */
#define SET(opt, val)                                                          \
    do {                                                                       \
        if (http_cu.easy_setopt(h, opt, val) != CURLE_OK)                      \
            goto setopt_failed;                                                \
    } while (0)

/*
 * What the loop's transfers take from stream.c: a response's status line
 * and headers as curl hands them over (struct resp_head), the easy
 * handle's set-up (http_stream_setup) and the message for a transfer that
 * failed (http_stream_fail).
 *
 * The headers are kept as "Name: value\0" strings in one arena that grows
 * (doubling from 1 KiB) up to LDG_HTTP_STREAM_HEADERS_MAX bytes, at most
 * HEAD_LINES_MAX of them; past either the transfer is aborted. Nothing is
 * added once a final response's headers are in (a chunked body's
 * trailers are not headers), so the strings handed out stay where they
 * are until the transfer ends.
 */
#define HEAD_LINES_MAX 128
#define HEAD_ARENA_MIN 1024

struct resp_head {
    long status;
    int done; /* a final (>= 200) response's headers are in */
    int toobig, oom;
    char *arena;
    size_t len, cap;
    size_t off[HEAD_LINES_MAX];
    size_t n;
};

/* Loads and initialises libcurl once: 0, LDG_EIO (not loadable: http_load_why
 * says why) or LDG_ENOMEM. */
int http_ensure_global(void);

void http_seterr(char *err, size_t errlen, const char *fmt, ...);

/* Our code and a short cause for a failed transfer. */
int http_translate(CURLcode rc, const struct xfer *x, const char **cause);

void http_sleep_ms(long ms);

/* One header line from curl (status line, header or the blank line).
 * 0 to go on, -1 to abort the transfer (h->toobig or h->oom says why). */
int http_head_add(struct resp_head *h, const char *line, size_t n);

const char *http_head_at(const struct resp_head *h, size_t i);

const char *http_head_get(const struct resp_head *h, const char *name);

/* 1 if method is a name curl can send as it is (GET, POST, PUT, ...). */
int http_stream_method_ok(const char *method);

/* Resets h and sets it up to send req (method, url, the header list
 * hdrs made from req->headers, the body from req->body, which curl does
 * not copy: it must outlive the transfer) as a stream: no total timeout,
 * no decoding, the response's header lines to head_fn and its body to
 * body_fn, both with arg, curl's message into cerr. Used by the loop's
 * transfers. 0, or LDG_EINVAL when curl rejects an option. */
int http_stream_setup(CURL *h, const struct ldg_http_request *req,
                      const char *method, struct curl_slist *hdrs, char *cerr,
                      curl_write_callback head_fn, curl_write_callback body_fn,
                      void *arg);

/* The code and the message for a streamed transfer curl ended with cc:
 * body_toobig and oom say that our body callback refused a piece (over
 * max_body, or out of memory), h what came of the response. */
int http_stream_fail(char *err, size_t errlen, const char *method,
                     const char *url, const struct resp_head *h, CURLcode cc,
                     const char *cerr, int body_toobig, int oom,
                     size_t max_body);

/* 1 if h's transfer had a connection to the server: it connected, sent
 * its request (on a connection kept from before, which has no connect
 * time of its own) or got a status. */
int http_stream_connected(CURL *h, long status);

#endif
