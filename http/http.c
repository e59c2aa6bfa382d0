/*
 * http.c — libcurl loaded, and one request at a time (see http.h for the
 * contract). With stream.c (what a streamed transfer's set-up and
 * response head need) and loop.c (many transfers on one thread), the only
 * files that include libcurl, through curl_int.h. One easy handle per
 * request or per client, and a loop reuses a few for all its transfers;
 * curl's codes are translated into enum ldg_error in these files and
 * nowhere else.
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
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http/curl_int.h"
#include "http/http.h"
#include "util/util.h"

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static int global_rc = LDG_EIO;
/* why libcurl could not be loaded, for the error of a call that needs it */
char http_load_why[300] = "libcurl is not loaded";
/* resolved by load() */
struct http_curl http_cu;

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
    void **slot[] = {(void **)&http_cu.global_init,
                     (void **)&http_cu.easy_init,
                     (void **)&http_cu.easy_cleanup,
                     (void **)&http_cu.easy_reset,
                     (void **)&http_cu.easy_setopt,
                     (void **)&http_cu.easy_perform,
                     (void **)&http_cu.easy_getinfo,
                     (void **)&http_cu.easy_strerror,
                     (void **)&http_cu.slist_append,
                     (void **)&http_cu.slist_free_all,
                     (void **)&http_cu.version_info,
                     (void **)&http_cu.easy_pause,
                     (void **)&http_cu.multi_init,
                     (void **)&http_cu.multi_cleanup,
                     (void **)&http_cu.multi_add_handle,
                     (void **)&http_cu.multi_remove_handle,
                     (void **)&http_cu.multi_perform,
                     (void **)&http_cu.multi_poll,
                     (void **)&http_cu.multi_info_read,
                     (void **)&http_cu.multi_wakeup,
                     (void **)&http_cu.multi_setopt};
    void *lib = dlopen(CURL_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        snprintf(http_load_why, sizeof http_load_why, "cannot load %s: %s",
                 CURL_SONAME, dlerror());
        return -1;
    }
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if ((*slot[i] = dlsym(lib, names[i])) == NULL) {
            snprintf(http_load_why, sizeof http_load_why, "%s has no %s",
                     CURL_SONAME, names[i]);
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
    if (http_cu.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(http_load_why, sizeof http_load_why,
                 "curl_global_init failed");
        global_rc = LDG_ENOMEM;
        return;
    }
    global_rc = 0;
}

int
http_ensure_global(void)
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

void
http_seterr(char *err, size_t errlen, const char *fmt, ...)
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
    if (c->easy)
        http_cu.easy_cleanup(c->easy);
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
        x->location[0] = 0;
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
    } else if (header_is(line, n, "Location", &v, &vlen)) {
        size_t k = 0, i = 0;
        while (i < vlen && (v[i] == ' ' || v[i] == '\t'))
            i++;
        for (; i < vlen && k + 1 < sizeof x->location; i++)
            if (isprint((unsigned char)v[i]))
                x->location[k++] = v[i];
        while (k > 0 && x->location[k - 1] == ' ')
            k--;
        x->location[k] = 0;
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

int
http_translate(CURLcode rc, const struct xfer *x, const char **cause)
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

void
http_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* One attempt. Returns the curl code; *x and resp hold what arrived. */
static CURLcode
attempt(CURL *h, const struct ldg_http_request *req, const char *method,
        struct curl_slist *hdrs, struct xfer *x, char *cerr)
{
    size_t cap = x->cap;
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
    return http_cu.easy_perform(h);
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
        http_seterr(err, errlen, "http: no URL or no response to fill");
        return LDG_EINVAL;
    }
    memset(resp, 0, sizeof *resp);
    const char *method = req->method ? req->method : "GET";
    if (strcmp(method, "GET") && strcmp(method, "HEAD") &&
        strcmp(method, "PUT") && strcmp(method, "POST")) {
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
    if (c && !c->easy)
        c->easy = http_cu.easy_init();

    CURL *own = NULL;
    CURL *h = c ? c->easy : (own = http_cu.easy_init());
    struct curl_slist *hdrs = NULL;
    char cerr[CURL_ERROR_SIZE];
    if (!h) {
        http_seterr(err, errlen, "%s %s: out of memory", method, req->url);
        return LDG_ENOMEM;
    }
    for (const char *const *p = req->headers; p && *p; p++) {
        struct curl_slist *n = http_cu.slist_append(hdrs, *p);
        if (!n) {
            rc = LDG_ENOMEM;
            http_seterr(err, errlen, "%s %s: out of memory", method, req->url);
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
            http_sleep_ms(backoff);
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
        http_cu.easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st);
        resp->status = st;
        if (cc == CURLE_FAILED_INIT && !cerr[0]) {
            rc = LDG_EINVAL;
            http_seterr(err, errlen, "%s %s: curl rejected an option", method,
                        req->url);
            goto out;
        }
        if (cc != CURLE_OK) {
            const char *cause;
            rc = http_translate(cc, &x, &cause);
            if (rc == LDG_ETOOBIG)
                http_seterr(
                    err, errlen,
                    "%s %s: response exceeds %zu bytes; transfer aborted",
                    method, req->url, cap);
            else if (st > 0)
                http_seterr(err, errlen, "%s %s: HTTP %ld, then %s (%s)",
                            method, req->url, st, cause,
                            cerr[0] ? cerr : http_cu.easy_strerror(cc));
            else
                http_seterr(err, errlen, "%s %s: %s (%s)", method, req->url,
                            cause, cerr[0] ? cerr : http_cu.easy_strerror(cc));
            if (rc == LDG_ETOOBIG || rc == LDG_ENOMEM || !transient_curl(cc))
                goto out;
            continue;
        }
        if (st >= 300 && st < 400 && !req->accept_error_status) {
            /* not followed: a PUT or POST answered by a redirect did not
             * reach where it was meant to, and is not a success */
            rc = LDG_EHTTP;
            http_seterr(err, errlen,
                        "%s %s: HTTP %ld%s%s: a redirect%s%s, not followed "
                        "(give the URL it names)",
                        method, req->url, st, x.reason[0] ? " " : "", x.reason,
                        x.location[0] ? " to " : "", x.location);
            goto out;
        }
        if (st >= 400 && !req->accept_error_status) {
            rc = LDG_EHTTP;
            http_seterr(err, errlen, "%s %s: HTTP %ld%s%s", method, req->url,
                        st, x.reason[0] ? " " : "", x.reason);
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
    http_cu.slist_free_all(hdrs);
    if (own)
        http_cu.easy_cleanup(own);
    return rc;
}

const char *
ldg_http_lib_version(void)
{
    static char v[64];
    if (http_ensure_global() < 0)
        snprintf(v, sizeof v, "libcurl (not loaded)");
    else
        snprintf(v, sizeof v, "libcurl %s",
                 http_cu.version_info(CURLVERSION_NOW)->version);
    return v;
}
