/*
 * stream.c — a streamed transfer's response head, easy-handle set-up and
 * failure message, for the loop's transfers (curl_int.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/curl_int.h"
#include "http/http.h"
#include "util/util.h"

int
http_head_add(struct resp_head *h, const char *line, size_t n)
{
    if (h->done)
        return 0;
    if (n >= 5 && memcmp(line, "HTTP/", 5) == 0) {
        /* a new response (100 Continue, then the real one) */
        h->n = 0;
        h->len = 0;
        const char *sp = memchr(line, ' ', n);
        h->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        return 0;
    }
    size_t k = n;
    while (k > 0 && (line[k - 1] == '\r' || line[k - 1] == '\n'))
        k--;
    if (k == 0) { /* the blank line after the headers */
        if (h->status >= 200)
            h->done = 1;
        return 0;
    }
    if (h->n >= HEAD_LINES_MAX ||
        h->len + k + 1 > LDG_HTTP_STREAM_HEADERS_MAX) {
        h->toobig = 1;
        return -1;
    }
    if (h->len + k + 1 > h->cap) {
        size_t nc = h->cap ? h->cap : HEAD_ARENA_MIN;
        while (nc < h->len + k + 1)
            nc *= 2;
        if (nc > LDG_HTTP_STREAM_HEADERS_MAX)
            nc = LDG_HTTP_STREAM_HEADERS_MAX;
        char *na = realloc(h->arena, nc);
        if (na == NULL) {
            h->oom = 1;
            return -1;
        }
        h->arena = na;
        h->cap = nc;
    }
    LDG_ASSERT(h->n < HEAD_LINES_MAX && h->len + k + 1 <= h->cap);
    h->off[h->n++] = h->len;
    memcpy(h->arena + h->len, line, k);
    h->len += k;
    h->arena[h->len++] = 0;
    return 0;
}

const char *
http_head_at(const struct resp_head *h, size_t i)
{
    return i < h->n ? h->arena + h->off[i] : NULL;
}

const char *
http_head_get(const struct resp_head *h, const char *name)
{
    size_t k = name ? strlen(name) : 0;
    for (size_t i = 0; k && i < h->n; i++) {
        const char *v = h->arena + h->off[i];
        if (strncasecmp(v, name, k) == 0 && v[k] == ':') {
            v += k + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            return v;
        }
    }
    return NULL;
}

int
http_stream_method_ok(const char *method)
{
    size_t n = strlen(method);
    return n > 0 && n < 8 && strspn(method, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") == n;
}

int
http_stream_setup(CURL *h, const struct ldg_http_request *req,
                  const char *method, struct curl_slist *hdrs, char *cerr,
                  curl_write_callback head_fn, curl_write_callback body_fn,
                  void *arg)
{
    http_cu.easy_reset(h);
    cerr[0] = 0;
    SET(CURLOPT_URL, req->url);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_ERRORBUFFER, cerr);
    SET(CURLOPT_CONNECTTIMEOUT_MS,
        req->connect_timeout_ms > 0
            ? req->connect_timeout_ms
            : (long)LDG_HTTP_CONNECT_TIMEOUT_MS_DEFAULT);
    SET(CURLOPT_SSL_VERIFYPEER, req->insecure ? 0L : 1L);
    SET(CURLOPT_SSL_VERIFYHOST, req->insecure ? 0L : 2L);
    if (req->ca_file)
        SET(CURLOPT_CAINFO, req->ca_file);
    if (req->userpwd)
        SET(CURLOPT_USERPWD, req->userpwd);
    SET(CURLOPT_HEADERFUNCTION, head_fn);
    SET(CURLOPT_HEADERDATA, arg);
    SET(CURLOPT_WRITEFUNCTION, body_fn);
    SET(CURLOPT_WRITEDATA, arg);
    /* an https upstream through a proxy: the proxy's "200 Connection
     * established" is not the response */
    SET(CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
    /* bytes as they come: no decoding, the client gets what was sent */
    SET(CURLOPT_HTTP_CONTENT_DECODING, 0L);
    SET(CURLOPT_HTTP_TRANSFER_DECODING, 1L);
    SET(CURLOPT_TCP_NODELAY, 1L);
    if (hdrs)
        SET(CURLOPT_HTTPHEADER, hdrs);
    if (strcmp(method, "GET") == 0) {
        SET(CURLOPT_HTTPGET, 1L);
    } else if (strcmp(method, "HEAD") == 0) {
        SET(CURLOPT_NOBODY, 1L);
    } else {
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        SET(CURLOPT_POSTFIELDS, req->body ? (const char *)req->body : "");
        if (strcmp(method, "POST") != 0)
            SET(CURLOPT_CUSTOMREQUEST, method);
    }
    return 0;
setopt_failed:
    return LDG_EINVAL;
}

int
http_stream_fail(char *err, size_t errlen, const char *method, const char *url,
                 const struct resp_head *h, CURLcode cc, const char *cerr,
                 int body_toobig, int oom, size_t max_body)
{
    struct xfer fx = {.toobig = body_toobig || h->toobig, .oom = oom || h->oom};
    const char *cause;
    int rc = http_translate(cc, &fx, &cause);
    if (rc == LDG_ETOOBIG && h->toobig)
        http_seterr(err, errlen,
                    "%s %s: response headers exceed %u bytes or %d lines; "
                    "transfer aborted",
                    method, url, LDG_HTTP_STREAM_HEADERS_MAX, HEAD_LINES_MAX);
    else if (rc == LDG_ETOOBIG)
        http_seterr(err, errlen,
                    "%s %s: response exceeds %zu bytes; transfer aborted",
                    method, url, max_body);
    else if (h->status > 0)
        http_seterr(err, errlen, "%s %s: HTTP %ld, then %s (%s)", method, url,
                    h->status, cause,
                    cerr[0] ? cerr : http_cu.easy_strerror(cc));
    else
        http_seterr(err, errlen, "%s %s: %s (%s)", method, url, cause,
                    cerr[0] ? cerr : http_cu.easy_strerror(cc));
    return rc;
}

int
http_stream_connected(CURL *h, long status)
{
    curl_off_t ct = 0;
    long sent = 0;
    http_cu.easy_getinfo(h, CURLINFO_CONNECT_TIME_T, &ct);
    http_cu.easy_getinfo(h, CURLINFO_REQUEST_SIZE, &sent);
    return ct > 0 || sent > 0 || status > 0;
}
