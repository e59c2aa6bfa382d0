/*
 * stream.c — a response read as it arrives (ldg_http_stream_*, http.h),
 * and the response head and easy-handle set-up the loop's transfers
 * share (curl_int.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/curl_int.h"
#include "http/http.h"
#include "util/util.h"

/* ------------------------------------------------------------ streams -- */

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

/*
 * A stream drives one easy handle through a multi handle on the caller's
 * thread: open performs until the headers are in, read performs until a
 * piece of body is there. Body bytes go into a small buffer; when the
 * caller is not reading and the buffer cannot take the next piece, the
 * write callback pauses the transfer (curl keeps that piece and hands it
 * over again on unpause), so a slow client never makes us hold more than
 * the buffer and one piece.
 */
#define STREAM_BUF 65536

struct ldg_http_stream {
    struct ldg_http_client *client; /* NULL: own handles */
    CURL *easy;
    CURLM *multi;
    struct curl_slist *hdrs;
    char cerr[CURL_ERROR_SIZE];
    char method[8];
    char *url;
    struct resp_head head;
    int finished; /* curl said the transfer is over (result) */
    CURLcode result;
    int paused;
    int toobig, oom; /* the body callback refused a piece */
    int err_rc;      /* sticky error of read */
    char err_msg[LDG_HTTP_ERR_MAX];
    size_t max_body, got_body;
    long idle_ms;
    /* body bytes waiting for the reader */
    char *buf;
    size_t blen, boff, bcap;
};

static size_t
st_header(char *line, size_t size, size_t nitems, void *arg)
{
    struct ldg_http_stream *s = arg;
    size_t n = size * nitems;
    return http_head_add(&s->head, line, n) < 0 ? 0 : n;
}

static size_t
st_body(char *data, size_t size, size_t nmemb, void *arg)
{
    struct ldg_http_stream *s = arg;
    size_t n = size * nmemb;

    if (s->max_body && s->got_body + n > s->max_body) {
        s->toobig = 1;
        return 0;
    }
    if (s->boff == s->blen)
        s->boff = s->blen = 0;
    if (s->blen > 0 && s->blen + n > STREAM_BUF) {
        s->paused = 1; /* curl keeps this piece for the unpause */
        return CURL_WRITEFUNC_PAUSE;
    }
    if (s->blen + n > s->bcap) {
        size_t nc = s->blen + n > STREAM_BUF ? s->blen + n : STREAM_BUF;
        char *nb = realloc(s->buf, nc);
        if (nb == NULL) {
            s->oom = 1;
            return 0;
        }
        s->buf = nb;
        s->bcap = nc;
    }
    memcpy(s->buf + s->blen, data, n);
    s->blen += n;
    s->got_body += n;
    return n;
}

/* One round of the transfer: perform, then wait up to wait_ms for the
 * sockets (0: do not wait). 0, or LDG_ENOMEM/LDG_EIO when curl's multi
 * layer fails. */
static int
st_pump(struct ldg_http_stream *s, int wait_ms)
{
    int running = 0;
    CURLMcode mc = http_cu.multi_perform(s->multi, &running);
    if (mc != CURLM_OK)
        return mc == CURLM_OUT_OF_MEMORY ? LDG_ENOMEM : LDG_EIO;
    CURLMsg *m;
    int left;
    while ((m = http_cu.multi_info_read(s->multi, &left)) != NULL) {
        if (m->msg == CURLMSG_DONE && m->easy_handle == s->easy) {
            s->finished = 1;
            s->result = m->data.result;
        }
    }
    if (s->finished || wait_ms <= 0)
        return 0;
    if (s->blen > s->boff) /* something to hand out already */
        return 0;
    mc = http_cu.multi_poll(s->multi, NULL, 0, wait_ms, NULL);
    return mc == CURLM_OK ? 0 : LDG_EIO;
}

/* The message and code for a transfer curl ended with an error. */
static int
st_fail(struct ldg_http_stream *s, char *err, size_t errlen)
{
    return http_stream_fail(err, errlen, s->method, s->url, &s->head, s->result,
                            s->cerr, s->toobig, s->oom, s->max_body);
}

int
ldg_http_stream_open(struct ldg_http_stream **out, struct ldg_http_client *c,
                     const struct ldg_http_request *req, long first_byte_ms,
                     long idle_ms, int *connected, char *err, size_t errlen)
{
    struct ldg_http_stream *s = NULL;
    int rc;

    if (err && errlen)
        err[0] = 0;
    if (connected)
        *connected = 0;
    if (!out || !req || !req->url) {
        http_seterr(err, errlen, "http: no URL or nowhere to put the stream");
        return LDG_EINVAL;
    }
    *out = NULL;
    const char *method = req->method ? req->method : "GET";
    if (!http_stream_method_ok(method)) {
        http_seterr(err, errlen, "%s %s: unsupported method", method, req->url);
        return LDG_EINVAL;
    }
    if (strncasecmp(req->url, "http://", 7) != 0 &&
        strncasecmp(req->url, "https://", 8) != 0) {
        http_seterr(err, errlen, "%s %s: only http:// and https:// URLs",
                    method, req->url);
        return LDG_EINVAL;
    }
    if ((rc = http_ensure_global()) < 0) {
        http_seterr(err, errlen, "%s %s: %s", method, req->url, http_load_why);
        return rc;
    }
    s = calloc(1, sizeof *s);
    if (s == NULL || (s->url = strdup(req->url)) == NULL)
        goto oom;
    snprintf(s->method, sizeof s->method, "%s", method);
    s->client = c;
    s->idle_ms = idle_ms;
    s->max_body = req->max_response_bytes;
    if (c) {
        if (!c->easy && (c->easy = http_cu.easy_init()) == NULL)
            goto oom;
        if (!c->multi && (c->multi = http_cu.multi_init()) == NULL)
            goto oom;
        s->easy = c->easy;
        s->multi = c->multi;
    } else {
        if ((s->easy = http_cu.easy_init()) == NULL ||
            (s->multi = http_cu.multi_init()) == NULL)
            goto oom;
    }
    for (const char *const *p = req->headers; p && *p; p++) {
        struct curl_slist *n = http_cu.slist_append(s->hdrs, *p);
        if (!n)
            goto oom;
        s->hdrs = n;
    }
    if ((rc = http_stream_setup(s->easy, req, s->method, s->hdrs, s->cerr,
                                st_header, st_body, s)) < 0) {
        http_seterr(err, errlen, "%s %s: curl rejected an option", method,
                    req->url);
        goto fail;
    }
    if (http_cu.multi_add_handle(s->multi, s->easy) != CURLM_OK)
        goto oom;
    long limit = first_byte_ms > 0     ? first_byte_ms
                 : req->timeout_ms > 0 ? req->timeout_ms
                                       : LDG_HTTP_TIMEOUT_MS_DEFAULT;
    long t0 = (long)ldg_now_mono_ms();
    while (!s->head.done && !s->finished) {
        long left = limit - ((long)ldg_now_mono_ms() - t0);
        if (left <= 0) {
            if (connected)
                *connected = http_stream_connected(s->easy, s->head.status);
            http_seterr(err, errlen,
                        "%s %s: timed out (no response within %ld ms)", method,
                        req->url, limit);
            rc = LDG_ETIMEOUT;
            goto fail;
        }
        if ((rc = st_pump(s, left < 100 ? (int)left : 100)) < 0) {
            http_seterr(err, errlen, "%s %s: curl's transfer loop failed",
                        method, req->url);
            goto fail;
        }
    }
    if (connected)
        *connected = http_stream_connected(s->easy, s->head.status);
    if (!s->head.done) { /* finished without a response */
        if (s->result == CURLE_OK) {
            s->result = CURLE_GOT_NOTHING;
        }
        rc = st_fail(s, err, errlen);
        goto fail;
    }
    *out = s;
    return 0;
oom:
    http_seterr(err, errlen, "%s %s: out of memory", method, req->url);
    rc = LDG_ENOMEM;
fail:
    ldg_http_stream_close(s);
    return rc;
}

long
ldg_http_stream_status(const struct ldg_http_stream *s)
{
    return s ? s->head.status : 0;
}

const char *
ldg_http_stream_header(const struct ldg_http_stream *s, size_t i)
{
    return s ? http_head_at(&s->head, i) : NULL;
}

const char *
ldg_http_stream_header_get(const struct ldg_http_stream *s, const char *name)
{
    return s ? http_head_get(&s->head, name) : NULL;
}
long
ldg_http_stream_read(struct ldg_http_stream *s, char *buf, size_t cap,
                     char *err, size_t errlen)
{
    if (!s || !buf || cap == 0)
        return LDG_EINVAL;
    long t0 = (long)ldg_now_mono_ms();
    for (;;) {
        if (s->blen > s->boff) {
            size_t n = s->blen - s->boff;
            if (n > cap)
                n = cap;
            memcpy(buf, s->buf + s->boff, n);
            s->boff += n;
            LDG_ASSERT(s->boff <= s->blen);
            if (s->boff == s->blen)
                s->boff = s->blen = 0;
            return (long)n;
        }
        if (s->err_rc) {
            http_seterr(err, errlen, "%s", s->err_msg);
            return s->err_rc;
        }
        if (s->finished) {
            if (s->result == CURLE_OK)
                return 0;
            s->err_rc = st_fail(s, s->err_msg, sizeof s->err_msg);
            continue;
        }
        if (s->paused) {
            s->paused = 0;
            /* may call st_body at once with what curl kept */
            http_cu.easy_pause(s->easy, CURLPAUSE_CONT);
            if (s->blen > s->boff)
                continue;
        }
        int wait = 100;
        if (s->idle_ms > 0) {
            long left = s->idle_ms - ((long)ldg_now_mono_ms() - t0);
            if (left <= 0) {
                snprintf(s->err_msg, sizeof s->err_msg,
                         "%s %s: no data for %ld ms; transfer aborted",
                         s->method, s->url, s->idle_ms);
                s->err_rc = LDG_ETIMEOUT;
                continue;
            }
            if (left < wait)
                wait = (int)left;
        }
        int rc = st_pump(s, wait);
        if (rc < 0) {
            snprintf(s->err_msg, sizeof s->err_msg,
                     "%s %s: curl's transfer loop failed", s->method, s->url);
            s->err_rc = rc;
        }
    }
}

void
ldg_http_stream_close(struct ldg_http_stream *s)
{
    if (!s)
        return;
    if (s->multi && s->easy) {
        /* a transfer cut short: curl closes its connection (it cannot be
         * reused mid-body); a finished one stays in the multi's cache */
        http_cu.multi_remove_handle(s->multi, s->easy);
    }
    if (!s->client) {
        if (s->multi)
            http_cu.multi_cleanup(s->multi);
        if (s->easy)
            http_cu.easy_cleanup(s->easy);
    } else if (s->easy) {
        /* the header list and callbacks point at s: forget them */
        http_cu.easy_reset(s->easy);
    }
    if (s->hdrs)
        http_cu.slist_free_all(s->hdrs);
    free(s->head.arena);
    free(s->buf);
    free(s->url);
    free(s);
}
