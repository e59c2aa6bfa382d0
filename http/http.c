/*
 * http.c — the only file that includes libcurl (see http.h for the
 * contract). One easy handle per request, per client or per stream, and
 * a loop (below) reuses a few for all its transfers; curl's codes are
 * translated into enum ldg_error here and nowhere else.
 *
 * The response cap is enforced twice, both before anything is buffered:
 * the header callback refuses a Content-Length over the cap, and the
 * write callback refuses a chunk that would take the running total over
 * it (a chunked or length-less reply). Either returns a short count to
 * curl, which aborts the transfer with CURLE_WRITE_ERROR; the toobig flag
 * tells that apart from a real write failure.
 *
 * libcurl is loaded on first use (dlopen of its versioned soname), not
 * linked: with it and its TLS, IDN and compression libraries in every
 * process, the dynamic loader was most of a short command's run time
 * (`ledger query run=R`: ~62% of its instructions; bench/RESULTS.md).
 * Each function is called through a pointer of the type <curl/curl.h>
 * declares, so the compiler checks every call as before. If the library
 * cannot be loaded, requests fail with LDG_EIO and a message naming it.
 */
#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "http/http.h"
#include "util/util.h"

struct ldg_http_client {
    CURL *easy;
    CURLM *multi; /* for streams (ldg_http_stream_open): keeps their
                     connections for the next stream */
};

#define CURL_SONAME "libcurl.so.4"

/* The libcurl functions this file calls, resolved by load(). */
static struct {
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
} cu;

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static int global_rc = LDG_EIO;
static char load_why[300] = "libcurl is not loaded";

static int
load(void)
{
    static const char *const names[] = {
        "curl_global_init",      "curl_easy_init",
        "curl_easy_cleanup",     "curl_easy_reset",
        "curl_easy_setopt",      "curl_easy_perform",
        "curl_easy_getinfo",     "curl_easy_strerror",
        "curl_slist_append",     "curl_slist_free_all",
        "curl_version_info",     "curl_easy_pause",
        "curl_multi_init",       "curl_multi_cleanup",
        "curl_multi_add_handle", "curl_multi_remove_handle",
        "curl_multi_perform",    "curl_multi_poll",
        "curl_multi_info_read",  "curl_multi_wakeup",
        "curl_multi_setopt"};
    void **slot[] = {
        (void **)&cu.global_init,      (void **)&cu.easy_init,
        (void **)&cu.easy_cleanup,     (void **)&cu.easy_reset,
        (void **)&cu.easy_setopt,      (void **)&cu.easy_perform,
        (void **)&cu.easy_getinfo,     (void **)&cu.easy_strerror,
        (void **)&cu.slist_append,     (void **)&cu.slist_free_all,
        (void **)&cu.version_info,     (void **)&cu.easy_pause,
        (void **)&cu.multi_init,       (void **)&cu.multi_cleanup,
        (void **)&cu.multi_add_handle, (void **)&cu.multi_remove_handle,
        (void **)&cu.multi_perform,    (void **)&cu.multi_poll,
        (void **)&cu.multi_info_read,  (void **)&cu.multi_wakeup,
        (void **)&cu.multi_setopt};
    void *lib = dlopen(CURL_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        snprintf(load_why, sizeof load_why, "cannot load %s: %s", CURL_SONAME,
                 dlerror());
        return -1;
    }
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if ((*slot[i] = dlsym(lib, names[i])) == NULL) {
            snprintf(load_why, sizeof load_why, "%s has no %s", CURL_SONAME,
                     names[i]);
            return -1;
        }
    }
    return 0;
}

static void
global_init(void)
{
    if (load() < 0)
        return;
    if (cu.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(load_why, sizeof load_why, "curl_global_init failed");
        global_rc = LDG_ENOMEM;
        return;
    }
    global_rc = 0;
}

/* Loads and initialises libcurl once: 0, LDG_EIO (not loadable: load_why
 * says why) or LDG_ENOMEM. */
static int
ensure_global(void)
{
    pthread_once(&global_once, global_init);
    return global_rc;
}

/* Takes out of a message what a URL in it may carry that is not for a
 * log: its user and password ("user:pass@") and its query and fragment
 * (API keys travel there), up to the ": " or blank that ends the URL in
 * every message here ("GET http://h/p: cause"). In place. */
static void
scrub_urls(char *m)
{
    char *p = m;

    while ((p = strstr(p, "://")) != NULL) {
        char *auth = p + 3, *end = auth, *at = NULL;
        while (*end && !strchr("/?#\"'<>,; ", *end)) {
            if (*end == '@')
                at = end;
            end++;
        }
        if (at != NULL) {
            memmove(auth, at + 1, strlen(at + 1) + 1);
            end -= at + 1 - auth;
        }
        while (*end && !strchr("?#\"'<>,; ", *end) &&
               !(end[0] == ':' && end[1] == ' '))
            end++;
        if (*end == '?' || *end == '#') {
            char *q = end;
            while (*q && !strchr("\"'<>,; ", *q) &&
                   !(q[0] == ':' && q[1] == ' '))
                q++;
            memmove(end, q, strlen(q) + 1);
        }
        p = end;
    }
}

static void
seterr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (!err || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    scrub_urls(err);
}

int
ldg_http_client_new(struct ldg_http_client **out)
{
    if (!out)
        return LDG_EINVAL;
    *out = NULL;
    /* the easy handle is made by the first request, which loads libcurl
     * and can say why that failed */
    struct ldg_http_client *c = calloc(1, sizeof *c);
    if (!c)
        return LDG_ENOMEM;
    *out = c;
    return 0;
}

void
ldg_http_client_free(struct ldg_http_client *c)
{
    if (!c)
        return;
    if (c->multi)
        cu.multi_cleanup(c->multi);
    if (c->easy)
        cu.easy_cleanup(c->easy);
    free(c);
}

void
ldg_http_response_release(struct ldg_http_response *resp)
{
    if (!resp)
        return;
    free(resp->body);
    free(resp->content_type);
    free(resp->etag);
    memset(resp, 0, sizeof *resp);
}

int
ldg_http_method_idempotent(const char *method)
{
    if (!method)
        return 1; /* GET */
    return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0 ||
           strcmp(method, "PUT") == 0;
}

/* ------------------------------------------------------ one transfer -- */

struct xfer {
    struct ldg_http_response *resp;
    size_t cap;
    /* the body as it arrives, at most cap bytes; resp->body is its bytes
     * (owned by resp from the first byte on, freed with it) */
    struct ldg_buf body;
    int toobig;      /* the cap stopped the transfer */
    int oom;         /* an allocation failed in a callback */
    char reason[64]; /* reason phrase of the last status line */
};

static char *
dup_trimmed(const char *p, size_t n)
{
    while (n > 0 && (*p == ' ' || *p == '\t')) {
        p++;
        n--;
    }
    while (n > 0 && (p[n - 1] == '\r' || p[n - 1] == '\n' || p[n - 1] == ' ' ||
                     p[n - 1] == '\t'))
        n--;
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, p, n);
        s[n] = 0;
    }
    return s;
}

static int
header_is(const char *line, size_t n, const char *name, const char **val,
          size_t *vlen)
{
    size_t k = strlen(name);
    if (n <= k || line[k] != ':' || strncasecmp(line, name, k) != 0)
        return 0;
    *val = line + k + 1;
    *vlen = n - k - 1;
    return 1;
}

static void
replace(char **slot, char *v)
{
    free(*slot);
    *slot = v;
}

static size_t
on_header(char *line, size_t size, size_t nitems, void *arg)
{
    struct xfer *x = arg;
    size_t n = size * nitems;
    const char *v;
    size_t vlen;

    if (n >= 5 && memcmp(line, "HTTP/", 5) == 0) {
        /* A new response (after 100-continue or a retry): forget the
         * headers of the one before. "HTTP/1.1 500 Internal Server Error" */
        replace(&x->resp->content_type, NULL);
        replace(&x->resp->etag, NULL);
        x->reason[0] = 0;
        const char *sp = memchr(line, ' ', n);
        if (sp) {
            const char *sp2 = memchr(sp + 1, ' ', n - (size_t)(sp + 1 - line));
            if (sp2) {
                size_t rl = n - (size_t)(sp2 + 1 - line);
                while (rl > 0 && (sp2[rl] == '\r' || sp2[rl] == '\n'))
                    rl--;
                if (rl >= sizeof x->reason)
                    rl = sizeof x->reason - 1;
                memcpy(x->reason, sp2 + 1, rl);
                x->reason[rl] = 0;
                for (char *q = x->reason; *q; q++)
                    if (*q == '\r' || *q == '\n' || !isprint((unsigned char)*q))
                        *q = 0;
            }
        }
        return n;
    }
    if (header_is(line, n, "Content-Length", &v, &vlen)) {
        char buf[32];
        char *e = NULL;
        if (vlen >= sizeof buf)
            vlen = sizeof buf - 1;
        memcpy(buf, v, vlen);
        buf[vlen] = 0;
        errno = 0;
        unsigned long long cl = strtoull(buf, &e, 10);
        if (errno == 0 && e != buf && cl > x->cap) {
            x->toobig = 1;
            return 0; /* abort before any byte of the body is kept */
        }
    } else if (header_is(line, n, "Content-Type", &v, &vlen)) {
        char *s = dup_trimmed(v, vlen);
        if (!s) {
            x->oom = 1;
            return 0;
        }
        replace(&x->resp->content_type, s);
    } else if (header_is(line, n, "ETag", &v, &vlen)) {
        char *s = dup_trimmed(v, vlen);
        if (!s) {
            x->oom = 1;
            return 0;
        }
        replace(&x->resp->etag, s);
    }
    return n;
}

static size_t
on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    struct xfer *x = arg;
    size_t n = size * nmemb;

    ldg_buf_add(&x->body, data, n);
    if (x->body.err != 0) {
        x->toobig = x->body.err == LDG_ETOOBIG;
        x->oom = x->body.err == LDG_ENOMEM;
        return 0;
    }
    x->resp->body = x->body.s; /* NUL-terminated, as before */
    x->resp->body_len = x->body.len;
    return n;
}

static int
transient_curl(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
        return 1;
    default:
        return 0;
    }
}

static int
transient_status(long st)
{
    return st == 408 || st == 429 || st == 500 || st == 502 || st == 503 ||
           st == 504;
}

/* Our code and a short cause for a failed transfer. */
static int
translate(CURLcode rc, const struct xfer *x, const char **cause)
{
    if (x->toobig) {
        *cause = "response too large";
        return LDG_ETOOBIG;
    }
    if (x->oom || rc == CURLE_OUT_OF_MEMORY) {
        *cause = "out of memory";
        return LDG_ENOMEM;
    }
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        *cause = "timed out";
        return LDG_ETIMEOUT;
    case CURLE_COULDNT_CONNECT:
        *cause = "connection refused";
        return LDG_ENET;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        *cause = "host not found";
        return LDG_ENET;
    case CURLE_PARTIAL_FILE:
        *cause = "reply cut short";
        return LDG_ENET;
    case CURLE_GOT_NOTHING:
        *cause = "empty reply";
        return LDG_ENET;
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
        *cause = "connection failed";
        return LDG_ENET;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
        *cause = "TLS failure";
        return LDG_ENET;
    case CURLE_FILESIZE_EXCEEDED:
        *cause = "response too large";
        return LDG_ETOOBIG;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
        *cause = "bad URL";
        return LDG_EINVAL;
    default:
        *cause = "transfer failed";
        return LDG_ENET;
    }
}

static void
sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

#define SET(opt, val)                                                          \
    do {                                                                       \
        if (cu.easy_setopt(h, opt, val) != CURLE_OK)                           \
            goto setopt_failed;                                                \
    } while (0)

/* One attempt. Returns the curl code; *x and resp hold what arrived. */
static CURLcode
attempt(CURL *h, const struct ldg_http_request *req, const char *method,
        struct curl_slist *hdrs, struct xfer *x, char *cerr)
{
    size_t cap = x->cap;
    cu.easy_reset(h);
    cerr[0] = 0;
    SET(CURLOPT_URL, req->url);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_ERRORBUFFER, cerr);
    SET(CURLOPT_CONNECTTIMEOUT_MS,
        req->connect_timeout_ms > 0
            ? req->connect_timeout_ms
            : (long)LDG_HTTP_CONNECT_TIMEOUT_MS_DEFAULT);
    SET(CURLOPT_TIMEOUT_MS, req->timeout_ms > 0
                                ? req->timeout_ms
                                : (long)LDG_HTTP_TIMEOUT_MS_DEFAULT);
    SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)cap);
    SET(CURLOPT_SSL_VERIFYPEER, req->insecure ? 0L : 1L);
    SET(CURLOPT_SSL_VERIFYHOST, req->insecure ? 0L : 2L);
    if (req->ca_file)
        SET(CURLOPT_CAINFO, req->ca_file);
    if (req->aws_sigv4)
        SET(CURLOPT_AWS_SIGV4, req->aws_sigv4);
    if (req->userpwd)
        SET(CURLOPT_USERPWD, req->userpwd);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, x);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, x);
    if (hdrs)
        SET(CURLOPT_HTTPHEADER, hdrs);
    if (strcmp(method, "HEAD") == 0) {
        SET(CURLOPT_NOBODY, 1L);
    } else if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
        /* The body from memory for both; CUSTOMREQUEST names the verb, and
         * SigV4 hashes the POSTFIELDS as the payload. */
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        SET(CURLOPT_POSTFIELDS, req->body ? (const char *)req->body : "");
        if (strcmp(method, "PUT") == 0)
            SET(CURLOPT_CUSTOMREQUEST, "PUT");
    }
    return cu.easy_perform(h);
setopt_failed:
    return CURLE_FAILED_INIT;
}

int
ldg_http_request(struct ldg_http_client *c, const struct ldg_http_request *req,
                 struct ldg_http_response *resp, char *err, size_t errlen)
{
    int rc = 0;
    if (err && errlen)
        err[0] = 0;
    if (!req || !resp || !req->url) {
        seterr(err, errlen, "http: no URL or no response to fill");
        return LDG_EINVAL;
    }
    memset(resp, 0, sizeof *resp);
    const char *method = req->method ? req->method : "GET";
    if (strcmp(method, "GET") && strcmp(method, "HEAD") &&
        strcmp(method, "PUT") && strcmp(method, "POST")) {
        seterr(err, errlen, "%s %s: unsupported method", method, req->url);
        return LDG_EINVAL;
    }
    if (strncasecmp(req->url, "http://", 7) != 0 &&
        strncasecmp(req->url, "https://", 8) != 0) {
        seterr(err, errlen, "%s %s: only http:// and https:// URLs", method,
               req->url);
        return LDG_EINVAL;
    }
    if ((rc = ensure_global()) < 0) {
        seterr(err, errlen, "%s %s: %s", method, req->url, load_why);
        return rc;
    }
    if (c && !c->easy)
        c->easy = cu.easy_init();

    CURL *own = NULL;
    CURL *h = c ? c->easy : (own = cu.easy_init());
    struct curl_slist *hdrs = NULL;
    char cerr[CURL_ERROR_SIZE];
    if (!h) {
        seterr(err, errlen, "%s %s: out of memory", method, req->url);
        return LDG_ENOMEM;
    }
    for (const char *const *p = req->headers; p && *p; p++) {
        struct curl_slist *n = cu.slist_append(hdrs, *p);
        if (!n) {
            rc = LDG_ENOMEM;
            seterr(err, errlen, "%s %s: out of memory", method, req->url);
            goto out;
        }
        hdrs = n;
    }

    int tries = 1;
    if (ldg_http_method_idempotent(method) && req->retries > 0)
        tries += req->retries;
    long backoff = req->backoff_ms > 0 ? req->backoff_ms
                                       : (long)LDG_HTTP_BACKOFF_MS_DEFAULT;
    size_t cap = req->max_response_bytes ? req->max_response_bytes
                                         : LDG_HTTP_MAX_RESPONSE_DEFAULT;
    for (int k = 0; k < tries; k++) {
        if (k > 0) {
            sleep_ms(backoff);
            backoff *= 2;
        }
        ldg_http_response_release(resp);
        struct xfer x = {.resp = resp, .cap = cap};
        ldg_buf_init(&x.body, cap);
        uint64_t t0 = ldg_now_mono_ns();
        CURLcode cc = attempt(h, req, method, hdrs, &x, cerr);
        resp->elapsed_ms = (double)(ldg_now_mono_ns() - t0) / 1e6;
        resp->attempts = k + 1;
        long st = 0;
        cu.easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st);
        resp->status = st;
        if (cc == CURLE_FAILED_INIT && !cerr[0]) {
            rc = LDG_EINVAL;
            seterr(err, errlen, "%s %s: curl rejected an option", method,
                   req->url);
            goto out;
        }
        if (cc != CURLE_OK) {
            const char *cause;
            rc = translate(cc, &x, &cause);
            if (rc == LDG_ETOOBIG)
                seterr(err, errlen,
                       "%s %s: response exceeds %zu bytes; transfer aborted",
                       method, req->url, cap);
            else if (st > 0)
                seterr(err, errlen, "%s %s: HTTP %ld, then %s (%s)", method,
                       req->url, st, cause,
                       cerr[0] ? cerr : cu.easy_strerror(cc));
            else
                seterr(err, errlen, "%s %s: %s (%s)", method, req->url, cause,
                       cerr[0] ? cerr : cu.easy_strerror(cc));
            if (rc == LDG_ETOOBIG || rc == LDG_ENOMEM || !transient_curl(cc))
                goto out;
            continue;
        }
        if (st >= 400 && !req->accept_error_status) {
            rc = LDG_EHTTP;
            seterr(err, errlen, "%s %s: HTTP %ld%s%s", method, req->url, st,
                   x.reason[0] ? " " : "", x.reason);
            if (!transient_status(st))
                goto out;
            continue;
        }
        rc = 0;
        if (err && errlen)
            err[0] = 0;
        goto out;
    }
    if (tries > 1 && err && errlen) {
        size_t l = strlen(err);
        snprintf(err + l, errlen - l, " (after %d attempts)", tries);
    }
out:
    cu.slist_free_all(hdrs);
    if (own)
        cu.easy_cleanup(own);
    return rc;
}

const char *
ldg_http_lib_version(void)
{
    static char v[64];
    if (ensure_global() < 0)
        snprintf(v, sizeof v, "libcurl (not loaded)");
    else
        snprintf(v, sizeof v, "libcurl %s",
                 cu.version_info(CURLVERSION_NOW)->version);
    return v;
}

/* ------------------------------------------------------------ streams -- */

/*
 * What streams and the loop's transfers (below) share: a response's
 * status line and headers as curl hands them over (struct resp_head), the
 * easy handle's set-up (stream_setup) and the message for a transfer that
 * failed (stream_fail).
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

/* One header line from curl (status line, header or the blank line).
 * 0 to go on, -1 to abort the transfer (h->toobig or h->oom says why). */
static int
head_add(struct resp_head *h, const char *line, size_t n)
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

static const char *
head_at(const struct resp_head *h, size_t i)
{
    return i < h->n ? h->arena + h->off[i] : NULL;
}

static const char *
head_get(const struct resp_head *h, const char *name)
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

/* 1 if method is a name curl can send as it is (GET, POST, PUT, ...). */
static int
stream_method_ok(const char *method)
{
    size_t n = strlen(method);
    return n > 0 && n < 8 && strspn(method, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") == n;
}

/* Resets h and sets it up to send req (method, url, the header list
 * hdrs made from req->headers, the body from req->body, which curl does
 * not copy: it must outlive the transfer) as a stream: no total timeout,
 * no decoding, the response's header lines to head_fn and its body to
 * body_fn, both with arg, curl's message into cerr. Used by streams and
 * by the loop's transfers. 0, or LDG_EINVAL when curl rejects an
 * option. */
static int
stream_setup(CURL *h, const struct ldg_http_request *req, const char *method,
             struct curl_slist *hdrs, char *cerr, curl_write_callback head_fn,
             curl_write_callback body_fn, void *arg)
{
    cu.easy_reset(h);
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

/* The code and the message for a streamed transfer curl ended with cc:
 * body_toobig and oom say that our body callback refused a piece (over
 * max_body, or out of memory), h what came of the response. */
static int
stream_fail(char *err, size_t errlen, const char *method, const char *url,
            const struct resp_head *h, CURLcode cc, const char *cerr,
            int body_toobig, int oom, size_t max_body)
{
    struct xfer fx = {.toobig = body_toobig || h->toobig, .oom = oom || h->oom};
    const char *cause;
    int rc = translate(cc, &fx, &cause);
    if (rc == LDG_ETOOBIG && h->toobig)
        seterr(err, errlen,
               "%s %s: response headers exceed %u bytes or %d lines; "
               "transfer aborted",
               method, url, LDG_HTTP_STREAM_HEADERS_MAX, HEAD_LINES_MAX);
    else if (rc == LDG_ETOOBIG)
        seterr(err, errlen,
               "%s %s: response exceeds %zu bytes; transfer aborted", method,
               url, max_body);
    else if (h->status > 0)
        seterr(err, errlen, "%s %s: HTTP %ld, then %s (%s)", method, url,
               h->status, cause, cerr[0] ? cerr : cu.easy_strerror(cc));
    else
        seterr(err, errlen, "%s %s: %s (%s)", method, url, cause,
               cerr[0] ? cerr : cu.easy_strerror(cc));
    return rc;
}

/* 1 if h's transfer had a connection to the server: it connected, sent
 * its request (on a connection kept from before, which has no connect
 * time of its own) or got a status. */
static int
stream_connected(CURL *h, long status)
{
    curl_off_t ct = 0;
    long sent = 0;
    cu.easy_getinfo(h, CURLINFO_CONNECT_TIME_T, &ct);
    cu.easy_getinfo(h, CURLINFO_REQUEST_SIZE, &sent);
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
    return head_add(&s->head, line, n) < 0 ? 0 : n;
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
    CURLMcode mc = cu.multi_perform(s->multi, &running);
    if (mc != CURLM_OK)
        return mc == CURLM_OUT_OF_MEMORY ? LDG_ENOMEM : LDG_EIO;
    CURLMsg *m;
    int left;
    while ((m = cu.multi_info_read(s->multi, &left)) != NULL) {
        if (m->msg == CURLMSG_DONE && m->easy_handle == s->easy) {
            s->finished = 1;
            s->result = m->data.result;
        }
    }
    if (s->finished || wait_ms <= 0)
        return 0;
    if (s->blen > s->boff) /* something to hand out already */
        return 0;
    mc = cu.multi_poll(s->multi, NULL, 0, wait_ms, NULL);
    return mc == CURLM_OK ? 0 : LDG_EIO;
}

/* The message and code for a transfer curl ended with an error. */
static int
st_fail(struct ldg_http_stream *s, char *err, size_t errlen)
{
    return stream_fail(err, errlen, s->method, s->url, &s->head, s->result,
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
        seterr(err, errlen, "http: no URL or nowhere to put the stream");
        return LDG_EINVAL;
    }
    *out = NULL;
    const char *method = req->method ? req->method : "GET";
    if (!stream_method_ok(method)) {
        seterr(err, errlen, "%s %s: unsupported method", method, req->url);
        return LDG_EINVAL;
    }
    if (strncasecmp(req->url, "http://", 7) != 0 &&
        strncasecmp(req->url, "https://", 8) != 0) {
        seterr(err, errlen, "%s %s: only http:// and https:// URLs", method,
               req->url);
        return LDG_EINVAL;
    }
    if ((rc = ensure_global()) < 0) {
        seterr(err, errlen, "%s %s: %s", method, req->url, load_why);
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
        if (!c->easy && (c->easy = cu.easy_init()) == NULL)
            goto oom;
        if (!c->multi && (c->multi = cu.multi_init()) == NULL)
            goto oom;
        s->easy = c->easy;
        s->multi = c->multi;
    } else {
        if ((s->easy = cu.easy_init()) == NULL ||
            (s->multi = cu.multi_init()) == NULL)
            goto oom;
    }
    for (const char *const *p = req->headers; p && *p; p++) {
        struct curl_slist *n = cu.slist_append(s->hdrs, *p);
        if (!n)
            goto oom;
        s->hdrs = n;
    }
    if ((rc = stream_setup(s->easy, req, s->method, s->hdrs, s->cerr, st_header,
                           st_body, s)) < 0) {
        seterr(err, errlen, "%s %s: curl rejected an option", method, req->url);
        goto fail;
    }
    if (cu.multi_add_handle(s->multi, s->easy) != CURLM_OK)
        goto oom;
    long limit = first_byte_ms > 0     ? first_byte_ms
                 : req->timeout_ms > 0 ? req->timeout_ms
                                       : LDG_HTTP_TIMEOUT_MS_DEFAULT;
    long t0 = (long)ldg_now_mono_ms();
    while (!s->head.done && !s->finished) {
        long left = limit - ((long)ldg_now_mono_ms() - t0);
        if (left <= 0) {
            if (connected)
                *connected = stream_connected(s->easy, s->head.status);
            seterr(err, errlen, "%s %s: timed out (no response within %ld ms)",
                   method, req->url, limit);
            rc = LDG_ETIMEOUT;
            goto fail;
        }
        if ((rc = st_pump(s, left < 100 ? (int)left : 100)) < 0) {
            seterr(err, errlen, "%s %s: curl's transfer loop failed", method,
                   req->url);
            goto fail;
        }
    }
    if (connected)
        *connected = stream_connected(s->easy, s->head.status);
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
    seterr(err, errlen, "%s %s: out of memory", method, req->url);
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
    return s ? head_at(&s->head, i) : NULL;
}

const char *
ldg_http_stream_header_get(const struct ldg_http_stream *s, const char *name)
{
    return s ? head_get(&s->head, name) : NULL;
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
            seterr(err, errlen, "%s", s->err_msg);
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
            cu.easy_pause(s->easy, CURLPAUSE_CONT);
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
        cu.multi_remove_handle(s->multi, s->easy);
    }
    if (!s->client) {
        if (s->multi)
            cu.multi_cleanup(s->multi);
        if (s->easy)
            cu.easy_cleanup(s->easy);
    } else if (s->easy) {
        /* the header list and callbacks point at s: forget them */
        cu.easy_reset(s->easy);
    }
    if (s->hdrs)
        cu.slist_free_all(s->hdrs);
    free(s->head.arena);
    free(s->buf);
    free(s->url);
    free(s);
}

/* --------------------------------------------------------------- loop -- */

/*
 * A loop is one thread driving every transfer on it through one multi
 * handle, for a proxy that must not hold a thread per request.
 *
 * Commands. start, resume and close may come from any thread. Each sets a
 * bit in the transfer's pend and, unless the transfer is in the queue
 * already, appends it there (through its own qnext: no allocation), all
 * under mu. Only the call that makes the queue non-empty wakes the loop
 * (curl_multi_wakeup), and never one made on the loop's thread (it looks
 * at the queue before it polls): a wakeup serves every command queued
 * before the loop takes the queue.
 *
 * One round of the loop: take the queue whole under mu and act on it
 * (start: an easy handle set up and added; resume: unpause; close: end it
 * if it still runs, free it if it has ended); curl_multi_perform, whose
 * callbacks call head and data; curl_multi_info_read, whose finished
 * transfers get their end; the deadlines; then curl_multi_poll until a
 * socket is ready, a wakeup, curl's own timer or our next deadline. The
 * callbacks are never called under mu, so they may start, resume and close
 * transfers; head and data are called by curl, so they end a transfer
 * only by making curl fail it (a write error, told apart by a flag), and
 * each end is called by the loop's own code, once.
 *
 * Deadlines. A running transfer has one: its start plus first_byte_ms
 * until the headers are in, then its last piece plus idle_ms (none while
 * the caller has it paused). next_deadline_ms is a lower bound of them
 * all: a deadline set earlier lowers it, a later one (each piece of body
 * moves the transfer's later) leaves it be; when it passes, one walk over
 * the transfers ends those that expired and finds the true minimum. A
 * piece costs one comparison, not a walk.
 *
 * Reuse. The multi handle keeps the connections (and DNS answers) of
 * every transfer on the loop for the next one to the same server: as many
 * idle ones as the most transfers it has run at once (curl's default is
 * four times those running at the moment, which closed most of them each
 * time a burst ended: 87 connections where 64 do for the test's 10000
 * requests, 64 at a time). Easy handles go back on a short free list
 * (reset when taken again), and so do freed transfers with their buffers
 * (the copy of the request, the header arena): a steady flow of small
 * transfers allocates nothing of ours.
 *
 * Lifetime. A transfer is freed on the loop thread once it has ended and
 * its close has been taken from the queue, or by close itself when the
 * loop is gone.
 */
#define LOOP_EASY_KEEP 64  /* idle easy handles kept for reuse */
#define LOOP_XFER_KEEP 64  /* freed transfers kept for reuse */
#define LOOP_MEM_KEEP 8192 /* a kept transfer's buffers, at most */
#define LOOP_POLL_MAX_MS 1000
#define LOOP_CONNS_MIN 16 /* idle connections kept, at least */

enum { CMD_START = 1, CMD_RESUME = 2, CMD_CLOSE = 4 };
enum { X_NEW, X_RUNNING, X_ENDED };

struct ldg_http_xfer {
    struct ldg_http_loop *loop; /* NULL once the loop is freed */
    /* under loop->mu */
    struct ldg_http_xfer *qnext; /* in the queue, or the free list */
    unsigned pend;               /* CMD_ bits not yet taken */
    int queued;
    /* set by start, then the loop thread's */
    struct ldg_http_xfer_cbs cb;
    void *cls;
    struct ldg_http_request req; /* url, body, ca_file, userpwd in mem */
    struct curl_slist *hdrs;     /* the request headers, nodes in mem */
    char method[8];
    long first_byte_ms, idle_ms;
    long deadline_ms; /* 0: none */
    size_t max_body;
    char *mem; /* the copy of the request */
    size_t memcap;
    /* the loop thread's */
    struct ldg_http_xfer *bnext;       /* in the batch taken from the queue */
    unsigned todo;                     /* its commands */
    struct ldg_http_xfer *prev, *next; /* in live */
    int state;
    int closed;      /* close was taken from the queue */
    int close_asked; /* close was called on the loop thread */
    int added;       /* easy is in the multi */
    int paused, cancelled, body_toobig;
    size_t got_body;
    CURL *easy;
    struct resp_head head;
    char cerr[CURL_ERROR_SIZE];
    char err[LDG_HTTP_ERR_MAX];
};

struct ldg_http_loop {
    CURLM *multi;
    pthread_t thread;
    pthread_mutex_t mu;
    /* under mu */
    struct ldg_http_xfer *qhead, *qtail;
    struct ldg_http_xfer *xfree; /* freed transfers kept for reuse */
    size_t nxfree;
    int stopping;
    /* the loop thread's */
    struct ldg_http_xfer *live; /* started, not yet freed */
    CURL *easy_free[LOOP_EASY_KEEP];
    size_t neasy;
    long next_deadline_ms; /* 0: none */
    long running;          /* transfers in the multi */
    long max_conns;        /* CURLMOPT_MAXCONNECTS: the most running */
};

/* The loop whose thread this is (NULL on any other thread). */
static _Thread_local struct ldg_http_loop *this_loop;

/* Queues cmd for x. -1 (and nothing queued) for a start on a loop being
 * freed. */
static int
post(struct ldg_http_loop *l, struct ldg_http_xfer *x, unsigned cmd)
{
    int wake = 0;
    pthread_mutex_lock(&l->mu);
    if (cmd == CMD_START && l->stopping) {
        pthread_mutex_unlock(&l->mu);
        return -1;
    }
    x->pend |= cmd;
    if (!x->queued) {
        x->queued = 1;
        x->qnext = NULL;
        if (l->qtail) {
            l->qtail->qnext = x;
        } else {
            l->qhead = x;
            wake = this_loop != l;
        }
        l->qtail = x;
    }
    pthread_mutex_unlock(&l->mu);
    /* (x may be freed by now; l is not) */
    if (wake)
        cu.multi_wakeup(l->multi);
    return 0;
}

/* Takes the queue: a batch linked by bnext, each with its todo. */
static struct ldg_http_xfer *
take_queue(struct ldg_http_loop *l, int *stopping)
{
    struct ldg_http_xfer *batch = NULL, **tail = &batch;
    pthread_mutex_lock(&l->mu);
    for (struct ldg_http_xfer *x = l->qhead; x; x = x->qnext) {
        x->todo |= x->pend;
        x->pend = 0;
        x->queued = 0;
        x->bnext = NULL;
        *tail = x;
        tail = &x->bnext;
    }
    l->qhead = l->qtail = NULL;
    *stopping = l->stopping;
    pthread_mutex_unlock(&l->mu);
    return batch;
}

static void
set_deadline(struct ldg_http_loop *l, struct ldg_http_xfer *x, long at_ms)
{
    x->deadline_ms = at_ms;
    if (at_ms && (l->next_deadline_ms == 0 || at_ms < l->next_deadline_ms))
        l->next_deadline_ms = at_ms;
}

static void
xfer_destroy(struct ldg_http_xfer *x)
{
    free(x->mem);
    free(x->head.arena);
    free(x);
}

/* Frees x (ended and closed), or keeps it for the next start. */
static void
xfer_free(struct ldg_http_loop *l, struct ldg_http_xfer *x)
{
    if (x->prev)
        x->prev->next = x->next;
    else if (l->live == x)
        l->live = x->next;
    if (x->next)
        x->next->prev = x->prev;
    x->prev = x->next = NULL;
    if (x->memcap > LOOP_MEM_KEEP) {
        free(x->mem);
        x->mem = NULL;
        x->memcap = 0;
    }
    if (x->head.cap > LOOP_MEM_KEEP) {
        free(x->head.arena);
        x->head.arena = NULL;
        x->head.cap = 0;
    }
    int kept = 0;
    pthread_mutex_lock(&l->mu);
    if (l->nxfree < LOOP_XFER_KEEP) {
        x->qnext = l->xfree;
        l->xfree = x;
        l->nxfree++;
        kept = 1;
    }
    pthread_mutex_unlock(&l->mu);
    if (!kept)
        xfer_destroy(x);
}

static void
put_easy(struct ldg_http_loop *l, CURL *h)
{
    if (l->neasy < LOOP_EASY_KEEP)
        l->easy_free[l->neasy++] = h;
    else
        cu.easy_cleanup(h);
}

/* Ends x: its easy handle out of the multi (the connection is closed if
 * the body was not read to its end) and back on the free list, then its
 * end callback with rc and x->err; freed if it was closed. */
static void
finish(struct ldg_http_loop *l, struct ldg_http_xfer *x, int rc)
{
    int connected = 0;
    if (x->easy) {
        connected = stream_connected(x->easy, x->head.status);
        if (x->added) {
            cu.multi_remove_handle(l->multi, x->easy);
            l->running--;
        }
        put_easy(l, x->easy);
        x->easy = NULL;
        x->added = 0;
    }
    x->state = X_ENDED;
    x->deadline_ms = 0;
    if (rc == 0)
        x->err[0] = 0;
    if (x->cb.end)
        x->cb.end(x->cls, x, rc, connected, x->err);
    if (x->closed)
        xfer_free(l, x);
}

static void
cancel(struct ldg_http_loop *l, struct ldg_http_xfer *x)
{
    seterr(x->err, sizeof x->err, "%s %s: cancelled", x->method, x->req.url);
    finish(l, x, LDG_ENET);
}

/* The code (and x->err) for x, which curl ended with cc. */
static int
outcome(struct ldg_http_xfer *x, CURLcode cc)
{
    if (cc == CURLE_OK && x->head.done)
        return 0;
    if (x->cancelled) {
        seterr(x->err, sizeof x->err, "%s %s: cancelled", x->method,
               x->req.url);
        return LDG_ENET;
    }
    if (cc == CURLE_OK)
        cc = CURLE_GOT_NOTHING;
    return stream_fail(x->err, sizeof x->err, x->method, x->req.url, &x->head,
                       cc, x->cerr, x->body_toobig, 0, x->max_body);
}

static size_t
lx_header(char *line, size_t size, size_t nitems, void *arg)
{
    struct ldg_http_xfer *x = arg;
    size_t n = size * nitems;
    int was_done = x->head.done;
    if (head_add(&x->head, line, n) < 0)
        return 0;
    if (was_done || !x->head.done)
        return n;
    /* the final response's status and headers are in */
    if (x->close_asked ||
        (x->cb.head && x->cb.head(x->cls, x, x->head.status) < 0)) {
        x->cancelled = 1;
        return 0;
    }
    set_deadline(x->loop, x,
                 x->idle_ms > 0 ? (long)ldg_now_mono_ms() + x->idle_ms : 0);
    return n;
}

static size_t
lx_body(char *p, size_t size, size_t nmemb, void *arg)
{
    struct ldg_http_xfer *x = arg;
    size_t n = size * nmemb;
    if (n == 0)
        return 0;
    if (x->close_asked) {
        x->cancelled = 1;
        return 0;
    }
    if (x->max_body && x->got_body + n > x->max_body) {
        x->body_toobig = 1;
        return 0;
    }
    int r = x->cb.data ? x->cb.data(x->cls, x, p, n) : 0;
    if (r == 1) {
        /* curl keeps the piece and offers it again on unpause; the
         * caller's pause is not idle time */
        x->paused = 1;
        x->deadline_ms = 0;
        return CURL_WRITEFUNC_PAUSE;
    }
    if (r < 0) {
        x->cancelled = 1;
        return 0;
    }
    x->got_body += n;
    if (x->idle_ms > 0)
        set_deadline(x->loop, x, (long)ldg_now_mono_ms() + x->idle_ms);
    return n;
}

/* Starts x on the loop thread (or ends it at once when cancel is set). */
static void
xfer_begin(struct ldg_http_loop *l, struct ldg_http_xfer *x, int cancel_now)
{
    x->next = l->live;
    if (l->live)
        l->live->prev = x;
    l->live = x;
    x->state = X_RUNNING;
    if (cancel_now) {
        cancel(l, x);
        return;
    }
    x->easy = l->neasy ? l->easy_free[--l->neasy] : cu.easy_init();
    if (!x->easy) {
        seterr(x->err, sizeof x->err, "%s %s: out of memory", x->method,
               x->req.url);
        finish(l, x, LDG_ENOMEM);
        return;
    }
    if (stream_setup(x->easy, &x->req, x->method, x->hdrs, x->cerr, lx_header,
                     lx_body, x) < 0 ||
        cu.easy_setopt(x->easy, CURLOPT_PRIVATE, (void *)x) != CURLE_OK) {
        seterr(x->err, sizeof x->err, "%s %s: curl rejected an option",
               x->method, x->req.url);
        finish(l, x, LDG_EINVAL);
        return;
    }
    if (cu.multi_add_handle(l->multi, x->easy) != CURLM_OK) {
        seterr(x->err, sizeof x->err, "%s %s: out of memory", x->method,
               x->req.url);
        finish(l, x, LDG_ENOMEM);
        return;
    }
    x->added = 1;
    if (++l->running > l->max_conns) {
        l->max_conns = l->running;
        cu.multi_setopt(l->multi, CURLMOPT_MAXCONNECTS, l->max_conns);
    }
    set_deadline(l, x, x->deadline_ms);
}

static void
xfer_unpause(struct ldg_http_loop *l, struct ldg_http_xfer *x)
{
    x->paused = 0;
    set_deadline(l, x,
                 x->idle_ms > 0 ? (long)ldg_now_mono_ms() + x->idle_ms : 0);
    /* hands over the piece curl kept, at once: data may refuse it (an
     * error here, which curl does not turn into the transfer's end) */
    CURLcode cc = cu.easy_pause(x->easy, CURLPAUSE_CONT);
    if (cc != CURLE_OK)
        finish(l, x, outcome(x, cc));
}

/* Acts on a batch taken from the queue. */
static void
act(struct ldg_http_loop *l, struct ldg_http_xfer *batch, int stopping)
{
    while (batch) {
        struct ldg_http_xfer *x = batch;
        batch = x->bnext;
        unsigned todo = x->todo;
        x->todo = 0;
        if (todo & CMD_START)
            xfer_begin(l, x, stopping || (todo & CMD_CLOSE));
        if ((todo & CMD_RESUME) && x->state == X_RUNNING && x->paused)
            xfer_unpause(l, x);
        if (todo & CMD_CLOSE) {
            x->closed = 1;
            if (x->state == X_RUNNING)
                cancel(l, x); /* frees it */
            else
                xfer_free(l, x);
        }
    }
}

/* Ends the transfers curl has finished. */
static void
reap(struct ldg_http_loop *l)
{
    CURLMsg *m;
    int left;
    while ((m = cu.multi_info_read(l->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        CURLcode cc = m->data.result;
        char *p = NULL;
        cu.easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &p);
        struct ldg_http_xfer *x = (struct ldg_http_xfer *)(void *)p;
        if (x)
            finish(l, x, outcome(x, cc));
    }
}

/* Ends the transfers whose deadline has passed; the next deadline. */
static void
expire(struct ldg_http_loop *l, long now)
{
    long next = 0;
    struct ldg_http_xfer *nx;
    for (struct ldg_http_xfer *x = l->live; x; x = nx) {
        nx = x->next; /* (an end cannot free another transfer) */
        if (x->state != X_RUNNING || x->deadline_ms == 0)
            continue;
        if (x->deadline_ms > now) {
            if (next == 0 || x->deadline_ms < next)
                next = x->deadline_ms;
            continue;
        }
        if (!x->head.done)
            seterr(x->err, sizeof x->err,
                   "%s %s: timed out (no response within %ld ms)", x->method,
                   x->req.url, x->first_byte_ms);
        else
            seterr(x->err, sizeof x->err,
                   "%s %s: no data for %ld ms; transfer aborted", x->method,
                   x->req.url, x->idle_ms);
        finish(l, x, LDG_ETIMEOUT);
    }
    l->next_deadline_ms = next;
}

static void *
loop_main(void *arg)
{
    struct ldg_http_loop *l = arg;
    int stopping = 0;
    sigset_t all;

    pthread_setname_np(pthread_self(), "http-loop"); /* top -H, /proc */

    /* signals are the program's business, on its own threads */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    this_loop = l;
    for (;;) {
        act(l, take_queue(l, &stopping), stopping);
        if (stopping)
            break;
        int running;
        if (cu.multi_perform(l->multi, &running) == CURLM_OK)
            reap(l);
        long now = (long)ldg_now_mono_ms();
        if (l->next_deadline_ms && now >= l->next_deadline_ms)
            expire(l, now);
        long wait = LOOP_POLL_MAX_MS;
        if (l->next_deadline_ms && l->next_deadline_ms - now < wait)
            wait = l->next_deadline_ms - now;
        pthread_mutex_lock(&l->mu);
        if (l->qhead) /* queued by a callback: no wakeup came for it */
            wait = 0;
        pthread_mutex_unlock(&l->mu);
        if (wait > 0 &&
            cu.multi_poll(l->multi, NULL, 0, (int)wait, NULL) != CURLM_OK)
            sleep_ms(1);
    }
    /* Being freed: every transfer ends, and the closes their ends ask for
     * are taken (no start is queued any more). */
    for (;;) {
        struct ldg_http_xfer *nx;
        for (struct ldg_http_xfer *x = l->live; x; x = nx) {
            nx = x->next;
            if (x->state == X_RUNNING)
                cancel(l, x);
        }
        struct ldg_http_xfer *batch = take_queue(l, &stopping);
        if (!batch)
            break;
        act(l, batch, 1);
    }
    return NULL;
}

int
ldg_http_loop_new(struct ldg_http_loop **out, char *err, size_t errlen)
{
    struct ldg_http_loop *l;
    int rc;

    if (err && errlen)
        err[0] = 0;
    if (!out) {
        seterr(err, errlen, "http loop: nowhere to put it");
        return LDG_EINVAL;
    }
    *out = NULL;
    if ((rc = ensure_global()) < 0) {
        seterr(err, errlen, "http loop: %s", load_why);
        return rc;
    }
    if ((l = calloc(1, sizeof *l)) == NULL) {
        seterr(err, errlen, "http loop: out of memory");
        return LDG_ENOMEM;
    }
    if (pthread_mutex_init(&l->mu, NULL) != 0) {
        free(l);
        seterr(err, errlen, "http loop: out of memory");
        return LDG_ENOMEM;
    }
    l->max_conns = LOOP_CONNS_MIN;
    if ((l->multi = cu.multi_init()) == NULL ||
        cu.multi_setopt(l->multi, CURLMOPT_MAXCONNECTS, l->max_conns) !=
            CURLM_OK) {
        seterr(err, errlen, "http loop: out of memory");
        rc = LDG_ENOMEM;
        goto fail;
    }
    if (pthread_create(&l->thread, NULL, loop_main, l) != 0) {
        seterr(err, errlen, "http loop: cannot start its thread");
        rc = LDG_ENOMEM;
        goto fail;
    }
    *out = l;
    return 0;
fail:
    if (l->multi)
        cu.multi_cleanup(l->multi);
    pthread_mutex_destroy(&l->mu);
    free(l);
    return rc;
}

void
ldg_http_loop_free(struct ldg_http_loop *l)
{
    if (!l)
        return;
    pthread_mutex_lock(&l->mu);
    l->stopping = 1;
    pthread_mutex_unlock(&l->mu);
    cu.multi_wakeup(l->multi);
    pthread_join(l->thread, NULL);
    /* closes queued after the thread's last look: those transfers have
     * ended */
    int stopping;
    struct ldg_http_xfer *x, *nx;
    for (x = take_queue(l, &stopping); x; x = nx) {
        nx = x->bnext;
        if (x->todo & CMD_CLOSE) {
            x->closed = 1;
            xfer_free(l, x);
        }
        x->todo = 0;
    }
    /* the others are the callers' until they close them */
    for (x = l->live; x; x = nx) {
        nx = x->next;
        x->loop = NULL;
        x->prev = x->next = NULL;
    }
    for (x = l->xfree; x; x = nx) {
        nx = x->qnext;
        xfer_destroy(x);
    }
    while (l->neasy > 0)
        cu.easy_cleanup(l->easy_free[--l->neasy]);
    cu.multi_cleanup(l->multi);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

/* Bytes of the copy of req (header list nodes first, then the strings and
 * the body), or 0 when that would overflow. */
static size_t
req_copy_size(const struct ldg_http_request *req, size_t *nh)
{
    size_t n = 0, k = 0;
    const char *const strs[] = {req->url, req->ca_file, req->userpwd};
    for (const char *const *p = req->headers; p && *p; p++, k++) {
        size_t s = strlen(*p) + 1;
        if (n > SIZE_MAX - s)
            return 0;
        n += s;
    }
    *nh = k;
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        size_t s = strs[i] ? strlen(strs[i]) + 1 : 0;
        if (n > SIZE_MAX - s)
            return 0;
        n += s;
    }
    if (k > (SIZE_MAX - n) / sizeof(struct curl_slist) ||
        req->body_len > SIZE_MAX - n - k * sizeof(struct curl_slist))
        return 0;
    return n + k * sizeof(struct curl_slist) + req->body_len;
}

static char *
copy_str(char **at, const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = memcpy(*at, s, n);
    *at += n;
    return d;
}

/* Copies req into x->mem (grown when too small). 0 or LDG_ENOMEM. */
static int
req_copy(struct ldg_http_xfer *x, const struct ldg_http_request *req)
{
    size_t nh = 0, need = req_copy_size(req, &nh);
    if (need == 0)
        return LDG_ENOMEM;
    if (need > x->memcap) {
        char *m = realloc(x->mem, need);
        if (!m)
            return LDG_ENOMEM;
        x->mem = m;
        x->memcap = need;
    }
    struct curl_slist *nodes = (struct curl_slist *)(void *)x->mem;
    char *at = x->mem + nh * sizeof *nodes;
    /* curl only reads the header list: its nodes are ours */
    for (size_t i = 0; i < nh; i++) {
        nodes[i].data = copy_str(&at, req->headers[i]);
        nodes[i].next = i + 1 < nh ? &nodes[i + 1] : NULL;
    }
    x->hdrs = nh ? nodes : NULL;
    x->req.url = copy_str(&at, req->url);
    x->req.ca_file = copy_str(&at, req->ca_file);
    x->req.userpwd = copy_str(&at, req->userpwd);
    if (req->body_len > 0)
        memcpy(at, req->body, req->body_len);
    x->req.body = req->body_len > 0 ? at : NULL;
    x->req.body_len = req->body_len;
    x->req.connect_timeout_ms = req->connect_timeout_ms;
    x->req.insecure = req->insecure;
    return 0;
}

int
ldg_http_xfer_start(struct ldg_http_loop *l, const struct ldg_http_request *req,
                    long first_byte_ms, long idle_ms,
                    const struct ldg_http_xfer_cbs *cb, void *cls,
                    struct ldg_http_xfer **out)
{
    struct ldg_http_xfer *x;

    if (out)
        *out = NULL;
    if (!l || !req || !req->url || !cb || !out ||
        (req->body_len > 0 && !req->body))
        return LDG_EINVAL;
    const char *method = req->method ? req->method : "GET";
    if (!stream_method_ok(method) || (strncasecmp(req->url, "http://", 7) &&
                                      strncasecmp(req->url, "https://", 8)))
        return LDG_EINVAL;
    pthread_mutex_lock(&l->mu);
    if ((x = l->xfree) != NULL) {
        l->xfree = x->qnext;
        l->nxfree--;
    }
    pthread_mutex_unlock(&l->mu);
    if (x) { /* a kept one: its buffers stay */
        char *mem = x->mem, *arena = x->head.arena;
        size_t memcap = x->memcap, acap = x->head.cap;
        memset(x, 0, sizeof *x);
        x->mem = mem;
        x->memcap = memcap;
        x->head.arena = arena;
        x->head.cap = acap;
    } else if ((x = calloc(1, sizeof *x)) == NULL) {
        return LDG_ENOMEM;
    }
    if (req_copy(x, req) < 0) {
        xfer_destroy(x);
        return LDG_ENOMEM;
    }
    x->loop = l;
    x->cb = *cb;
    x->cls = cls;
    snprintf(x->method, sizeof x->method, "%s", method);
    x->first_byte_ms = first_byte_ms > 0     ? first_byte_ms
                       : req->timeout_ms > 0 ? req->timeout_ms
                                             : LDG_HTTP_TIMEOUT_MS_DEFAULT;
    x->idle_ms = idle_ms > 0 ? idle_ms : 0;
    x->max_body = req->max_response_bytes;
    x->deadline_ms = (long)ldg_now_mono_ms() + x->first_byte_ms;
    x->state = X_NEW;
    *out = x;
    if (post(l, x, CMD_START) < 0) { /* the loop is being freed */
        *out = NULL;
        xfer_destroy(x);
        return LDG_EINVAL;
    }
    return 0;
}

void
ldg_http_xfer_resume(struct ldg_http_xfer *x)
{
    if (x && x->loop)
        post(x->loop, x, CMD_RESUME);
}

void
ldg_http_xfer_close(struct ldg_http_xfer *x)
{
    if (!x)
        return;
    struct ldg_http_loop *l = x->loop;
    if (!l) { /* ended, and its loop is freed */
        xfer_destroy(x);
        return;
    }
    if (this_loop == l) /* no more head or data for it */
        x->close_asked = 1;
    post(l, x, CMD_CLOSE);
}

long
ldg_http_xfer_status(const struct ldg_http_xfer *x)
{
    return x ? x->head.status : 0;
}

const char *
ldg_http_xfer_header(const struct ldg_http_xfer *x, size_t i)
{
    return x ? head_at(&x->head, i) : NULL;
}

const char *
ldg_http_xfer_header_get(const struct ldg_http_xfer *x, const char *name)
{
    return x ? head_get(&x->head, name) : NULL;
}
