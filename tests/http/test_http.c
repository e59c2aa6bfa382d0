/*
 * test_http.c — the libcurl wrapper against tests/stubs/stub.py on
 * loopback: success with headers, refused connection, HTTP 500, a reply
 * that never ends (total timeout), a slow drip, an oversized body (with and
 * without a Content-Length), a cut-short reply, retries only for
 * idempotent methods, request headers and bodies, SigV4 headers;
 * the loop (many transfers on one thread) against the stub and against
 * a small keep-alive server of its own (tsrv, below), fast enough to
 * measure the loop and able to misbehave in ways the stub cannot.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "http/http.h"
#include "ledger/module.h"
#include "util/util.h"
#include "tests/support/stub.h"

static struct t_stub stub;

static int
setup(void **state)
{
    /* Loopback must not go through a proxy from the environment. */
    setenv("no_proxy", "127.0.0.1", 1);
    t_stub_start(&stub, NULL);
    return 0;
}

static int
teardown(void **state)
{
    t_stub_stop(&stub);
    return 0;
}

static int
get(const char *path, struct ldg_http_request *r,
    struct ldg_http_response *resp, char *err)
{
    char url[256];
    snprintf(url, sizeof url, "%s%s", stub.base, path);
    r->url = url;
    return ldg_http_request(NULL, r, resp, err, LDG_HTTP_ERR_MAX);
}

static void
test_http__get_ok_with_headers(void **state)
{
    struct ldg_http_request r = {0};
    struct ldg_http_response resp;
    char err[LDG_HTTP_ERR_MAX];
    assert_int_equal(get("/ok", &r, &resp, err), 0);
    assert_int_equal(resp.status, 200);
    assert_int_equal(resp.body_len, 5);
    assert_string_equal(resp.body, "hello");
    assert_string_equal(resp.content_type, "text/plain");
    assert_string_equal(resp.etag, "\"v1\"");
    assert_int_equal(resp.attempts, 1);
    assert_string_equal(err, "");
    ldg_http_response_release(&resp);
    assert_null(resp.body);
}

static void
test_http__refused_is_enet_with_url(void **state)
{
    struct ldg_http_request r = {0};
    struct ldg_http_response resp;
    char url[64], err[LDG_HTTP_ERR_MAX];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/x", t_unused_port());
    r.url = url;
    assert_int_equal(ldg_http_request(NULL, &r, &resp, err, sizeof err),
                     LDG_ENET);
    assert_int_equal(resp.status, 0);
    assert_non_null(strstr(err, url));
    assert_non_null(strstr(err, "connection refused"));
    ldg_http_response_release(&resp);
    /* a message names no URL's user, password, query or fragment (keys
     * travel there), and keeps what follows the URL */
    snprintf(url, sizeof url, "http://u:PW@127.0.0.1:%d/x?k=KEY#F",
             t_unused_port());
    r.url = url;
    assert_int_equal(ldg_http_request(NULL, &r, &resp, err, sizeof err),
                     LDG_ENET);
    assert_null(strstr(err, "PW"));
    assert_null(strstr(err, "KEY"));
    assert_null(strstr(err, "#F"));
    assert_null(strstr(err, "u:"));
    assert_non_null(strstr(err, "http://127.0.0.1:"));
    assert_non_null(strstr(err, "/x: connection refused"));
    ldg_http_response_release(&resp);
}

static void
test_http__status_500_is_ehttp_with_status(void **state)
{
    struct ldg_http_request r = {0};
    struct ldg_http_response resp;
    char err[LDG_HTTP_ERR_MAX];
    assert_int_equal(get("/status/500", &r, &resp, err), LDG_EHTTP);
    assert_int_equal(resp.status, 500);
    assert_non_null(strstr(err, "/status/500: HTTP 500"));
    assert_non_null(strstr(resp.body, "stub failure"));
    ldg_http_response_release(&resp);

    /* accept_error_status hands the status to the caller instead. */
    r = (struct ldg_http_request){.accept_error_status = 1};
    assert_int_equal(get("/status/404", &r, &resp, err), 0);
    assert_int_equal(resp.status, 404);
    ldg_http_response_release(&resp);
}

/* A redirect is not followed, and not a success: a PUT answered 301 did
 * not reach its target (publish recorded tiles as sent that were not). */
static void
test_http__redirect_is_ehttp_naming_location(void **state)
{
    static const char *const codes[] = {"301", "302", "307", "308"};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        struct ldg_http_request r = {.method = "PUT", .body = "x",
                                     .body_len = 1};
        struct ldg_http_response resp;
        char err[LDG_HTTP_ERR_MAX], path[32];
        snprintf(path, sizeof path, "/status/%s", codes[i]);
        assert_int_equal(get(path, &r, &resp, err), LDG_EHTTP);
        assert_int_equal(resp.status, atoi(codes[i]));
        if (strstr(err, "a redirect to https://elsewhere.example/x") == NULL)
            fail_msg("%s", err);
        assert_non_null(strstr(err, "not followed"));
        ldg_http_response_release(&resp);
    }
    (void)state;
}

static void
test_http__reply_that_never_ends_times_out(void **state)
{
    struct ldg_http_request r = {.timeout_ms = 300};
    struct ldg_http_response resp;
    char err[LDG_HTTP_ERR_MAX];
    assert_int_equal(get("/hang", &r, &resp, err), LDG_ETIMEOUT);
    assert_non_null(strstr(err, "/hang"));
    assert_non_null(strstr(err, "timed out"));
    assert_true(resp.elapsed_ms >= 250); /* the timeout, not a refusal */
    ldg_http_response_release(&resp);
}

static void
test_http__slow_drip_hits_total_timeout(void **state)
{
    /* 40 bytes at one per 50 ms is 2 s; the whole transfer gets 400 ms,
     * even though bytes keep arriving. */
    struct ldg_http_request r = {.timeout_ms = 400};
    struct ldg_http_response resp;
    char err[LDG_HTTP_ERR_MAX];
    assert_int_equal(get("/drip?n=40&ms=50", &r, &resp, err), LDG_ETIMEOUT);
    ldg_http_response_release(&resp);

    /* A drip that finishes in time is fine. */
    r = (struct ldg_http_request){.timeout_ms = 5000};
    assert_int_equal(get("/drip?n=5&ms=10", &r, &resp, err), 0);
    assert_string_equal(resp.body, ".....");
    ldg_http_response_release(&resp);
}

static void
test_http__oversized_body_aborted_before_buffering(void **state)
{
    struct ldg_http_request r = {.max_response_bytes = 1024 * 1024};
    struct ldg_http_response resp;
    char err[LDG_HTTP_ERR_MAX];
    /* 100 MB announced by Content-Length: refused at the header. */
    assert_int_equal(get("/big?bytes=104857600", &r, &resp, err), LDG_ETOOBIG);
    assert_non_null(strstr(err, "exceeds 1048576 bytes"));
    assert_true(resp.body_len <= 1024 * 1024);
    ldg_http_response_release(&resp);
    /* 100 MB chunked: stopped when the running total passes the cap. */
    assert_int_equal(get("/bigchunked?bytes=104857600", &r, &resp, err),
                     LDG_ETOOBIG);
    assert_true(resp.body_len <= 1024 * 1024);
    ldg_http_response_release(&resp);
    /* Exactly the cap is allowed. */
    assert_int_equal(get("/big?bytes=1048576", &r, &resp, err), 0);
    assert_int_equal(resp.body_len, 1048576);
    ldg_http_response_release(&resp);
}

static void
test_http__cut_short_reply_is_enet(void **state)
{
    struct ldg_http_request r = {0};
    struct ldg_http_response resp;
    char err[LDG_HTTP_ERR_MAX];
    assert_int_equal(get("/truncated", &r, &resp, err), LDG_ENET);
    assert_non_null(strstr(err, "/truncated"));
    ldg_http_response_release(&resp);
}

static void
test_http__retries_idempotent_only(void **state)
{
    struct ldg_http_request r = {.retries = 3, .backoff_ms = 10};
    struct ldg_http_response resp;
    char err[LDG_HTTP_ERR_MAX];
    /* GET: two 503s then 200, on the third attempt. */
    assert_int_equal(get("/flaky?key=g&fail=2", &r, &resp, err), 0);
    assert_int_equal(resp.attempts, 3);
    assert_string_equal(resp.body, "ok after 3");
    ldg_http_response_release(&resp);
    /* POST: never retried. */
    r = (struct ldg_http_request){
        .method = "POST", .retries = 3, .backoff_ms = 10};
    assert_int_equal(get("/flaky?key=p&fail=2", &r, &resp, err), LDG_EHTTP);
    assert_int_equal(resp.attempts, 1);
    assert_int_equal(resp.status, 503);
    ldg_http_response_release(&resp);
    /* Out of retries: the last status, and how many attempts. */
    r = (struct ldg_http_request){.retries = 1, .backoff_ms = 10};
    assert_int_equal(get("/flaky?key=x&fail=5", &r, &resp, err), LDG_EHTTP);
    assert_int_equal(resp.attempts, 2);
    assert_non_null(strstr(err, "after 2 attempts"));
    ldg_http_response_release(&resp);
    /* A 404 is not transient: one attempt. */
    r = (struct ldg_http_request){.retries = 3, .backoff_ms = 10};
    assert_int_equal(get("/status/404", &r, &resp, err), LDG_EHTTP);
    assert_int_equal(resp.attempts, 1);
    ldg_http_response_release(&resp);
    assert_true(ldg_http_method_idempotent("PUT"));
    assert_true(ldg_http_method_idempotent("HEAD"));
    assert_false(ldg_http_method_idempotent("POST"));
}

static void
test_http__put_post_head_headers_and_body(void **state)
{
    const char *hdrs[] = {"X-Test: one", "Content-Type: application/json",
                          NULL};
    struct ldg_http_response resp;
    char err[LDG_HTTP_ERR_MAX];
    const char *methods[] = {"PUT", "POST"};
    for (int i = 0; i < 2; i++) {
        struct ldg_http_request r = {.method = methods[i],
                                     .headers = hdrs,
                                     .body = "{\"k\":1}",
                                     .body_len = 7};
        assert_int_equal(get("/echo", &r, &resp, err), 0);
        json_t *j = json_loadb(resp.body, resp.body_len, 0, NULL);
        assert_non_null(j);
        assert_string_equal(json_string_value(json_object_get(j, "method")),
                            methods[i]);
        assert_string_equal(json_string_value(json_object_get(j, "body")),
                            "{\"k\":1}");
        json_t *h = json_object_get(j, "headers");
        assert_string_equal(json_string_value(json_object_get(h, "x-test")),
                            "one");
        json_decref(j);
        ldg_http_response_release(&resp);
    }
    struct ldg_http_request r = {.method = "HEAD"};
    assert_int_equal(get("/ok", &r, &resp, err), 0);
    assert_int_equal(resp.status, 200);
    assert_int_equal(resp.body_len, 0);
    assert_string_equal(resp.etag, "\"v1\"");
    ldg_http_response_release(&resp);
}

static void
test_http__sigv4_signs_request(void **state)
{
    struct ldg_http_request r = {.method = "PUT",
                                 .body = "abc",
                                 .body_len = 3,
                                 .aws_sigv4 = "aws:amz:us-east-1:s3",
                                 .userpwd = "AKIDEXAMPLE:secret"};
    struct ldg_http_response resp;
    char err[LDG_HTTP_ERR_MAX];
    assert_int_equal(get("/echo", &r, &resp, err), 0);
    json_t *j = json_loadb(resp.body, resp.body_len, 0, NULL);
    assert_non_null(j);
    json_t *h = json_object_get(j, "headers");
    const char *auth = json_string_value(json_object_get(h, "authorization"));
    assert_non_null(auth);
    assert_non_null(strstr(auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"));
    assert_non_null(strstr(auth, "/us-east-1/s3/aws4_request"));
    assert_non_null(json_object_get(h, "x-amz-date"));
    json_decref(j);
    ldg_http_response_release(&resp);
}

static void
test_http__client_reuse_and_misuse(void **state)
{
    struct ldg_http_client *c = NULL;
    struct ldg_http_response resp;
    char url[256], err[LDG_HTTP_ERR_MAX];
    assert_int_equal(ldg_http_client_new(&c), 0);
    snprintf(url, sizeof url, "%s/ok", stub.base);
    for (int i = 0; i < 5; i++) {
        struct ldg_http_request r = {.url = url};
        assert_int_equal(ldg_http_request(c, &r, &resp, err, sizeof err), 0);
        assert_string_equal(resp.body, "hello");
        ldg_http_response_release(&resp);
    }
    ldg_http_client_free(c);
    ldg_http_client_free(NULL);

    struct ldg_http_request r = {.url = "ftp://127.0.0.1/x"};
    assert_int_equal(ldg_http_request(NULL, &r, &resp, err, sizeof err),
                     LDG_EINVAL);
    assert_non_null(strstr(err, "ftp://127.0.0.1/x"));
    r = (struct ldg_http_request){.url = url, .method = "DELETE"};
    assert_int_equal(ldg_http_request(NULL, &r, &resp, err, sizeof err),
                     LDG_EINVAL);
    assert_int_equal(ldg_http_request(NULL, NULL, &resp, err, sizeof err),
                     LDG_EINVAL);
    assert_string_equal(ldg_strerror(LDG_ETIMEOUT), "timed out");
}

/* --------------------------------------------------------------- loop -- */

/*
 * tsrv: a keep-alive HTTP/1.1 server on one thread (poll), for the loop's
 * tests. It answers
 *   GET  /n/K          200, body "nK"
 *   POST /echo         200, the request's body
 *   GET  /seq?bytes=N  200, N bytes of a pattern (seq_byte) that shows a
 *                      piece lost, doubled or out of order
 *   GET  /bighead      200 with 80 headers of about 1000 bytes each
 *   GET  /nohead       nothing, ever (the connection stays open)
 * and counts the connections it accepted (keep-alive shows as few).
 * With TS_CONNS open it stops accepting until one closes: the backlog
 * holds the rest (a connection the client closed before it was accepted
 * still takes a slot until its end is read; resetting a new one instead
 * fails a live transfer).
 * Writes block (a paused reader stalls it: fine for one test at a time).
 * The tests keep their tsrv static: a failed assertion leaves the test
 * (longjmp) with the server's thread still running on it.
 */
#define TS_CONNS 256
#define TS_BUF 16384

struct tconn {
    int fd;
    int mute; /* asked for /nohead */
    size_t len;
    char buf[TS_BUF + 1];
};

struct tsrv {
    int lfd, port, wake[2];
    pthread_t th;
    int accepted; /* under tmu */
    char base[64];
    struct tconn *c[TS_CONNS];
    int nc;
    struct pollfd pf[TS_CONNS + 2];
};

static pthread_mutex_t tmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t tcv = PTHREAD_COND_INITIALIZER;

static char
seq_byte(size_t i)
{
    return (char)('a' + (i * 7 + i / 26) % 26);
}

static int
send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static int
ts_answer(struct tconn *c, const char *method, const char *path,
          const char *body, size_t blen)
{
    char out[TS_BUF + 256];
    int n;
    if (strcmp(path, "/nohead") == 0) {
        c->mute = 1;
        return 0;
    }
    if (strcmp(path, "/bighead") == 0) {
        size_t cap = 100 * 1024, k;
        char *o = malloc(cap);
        if (!o)
            return -1;
        k = (size_t)snprintf(o, cap,
                             "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n");
        for (int i = 0; i < 80; i++)
            k += (size_t)snprintf(o + k, cap - k, "X-Pad-%02d: %0990d\r\n", i,
                                  0);
        k += (size_t)snprintf(o + k, cap - k, "\r\nx");
        int rc = send_all(c->fd, o, k);
        free(o);
        return rc;
    }
    if (strncmp(path, "/seq?bytes=", 11) == 0) {
        size_t len = strtoul(path + 11, NULL, 10);
        char *o = malloc(len + 128);
        if (!o)
            return -1;
        size_t k = (size_t)snprintf(
            o, 128, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", len);
        for (size_t i = 0; i < len; i++)
            o[k + i] = seq_byte(i);
        int rc = send_all(c->fd, o, k + len);
        free(o);
        return rc;
    }
    if (strcmp(method, "POST") == 0) {
        n = snprintf(out, sizeof out,
                     "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                     "Content-Length: %zu\r\n\r\n",
                     blen);
        memcpy(out + n, body, blen);
        return send_all(c->fd, out, (size_t)n + blen);
    }
    if (strncmp(path, "/n/", 3) == 0) {
        n = snprintf(out, sizeof out,
                     "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                     "Content-Length: %zu\r\n\r\nn%s",
                     strlen(path + 3) + 1, path + 3);
        return send_all(c->fd, out, (size_t)n);
    }
    n = snprintf(out, sizeof out,
                 "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    return send_all(c->fd, out, (size_t)n);
}

/* Reads what is there and answers every whole request. -1: close it. */
static int
ts_read(struct tconn *c)
{
    ssize_t k = recv(c->fd, c->buf + c->len, TS_BUF - c->len, 0);
    if (k <= 0)
        return -1;
    c->len += (size_t)k;
    c->buf[c->len] = 0;
    for (;;) {
        char *e = strstr(c->buf, "\r\n\r\n");
        if (!e)
            return c->len == TS_BUF ? -1 : 0;
        size_t hl = (size_t)(e + 4 - c->buf), cl = 0;
        char method[8] = "", path[256] = "";
        if (sscanf(c->buf, "%7s %255s", method, path) != 2)
            return -1;
        for (char *l = strstr(c->buf, "\r\n"); l && l < e;
             l = strstr(l + 2, "\r\n"))
            if (strncasecmp(l + 2, "Content-Length:", 15) == 0)
                cl = strtoul(l + 17, NULL, 10);
        if (hl + cl > TS_BUF)
            return -1;
        if (hl + cl > c->len)
            return 0;
        if (!c->mute && ts_answer(c, method, path, c->buf + hl, cl) < 0)
            return -1;
        memmove(c->buf, c->buf + hl + cl, c->len - hl - cl);
        c->len -= hl + cl;
        c->buf[c->len] = 0;
    }
}

static void *
ts_main(void *arg)
{
    struct tsrv *s = arg;
    struct pollfd *pf = s->pf;
    for (;;) {
        pf[0] = (struct pollfd){.fd = s->wake[0], .events = POLLIN};
        pf[1] = (struct pollfd){.fd = s->nc < TS_CONNS ? s->lfd : -1,
                                .events = POLLIN};
        for (int i = 0; i < s->nc; i++)
            pf[2 + i] = (struct pollfd){.fd = s->c[i]->fd, .events = POLLIN};
        if (poll(pf, (nfds_t)(2 + s->nc), -1) < 0)
            continue;
        if (pf[0].revents)
            break;
        for (int i = s->nc - 1; i >= 0; i--) {
            if (!(pf[2 + i].revents & (POLLIN | POLLHUP | POLLERR)) ||
                ts_read(s->c[i]) == 0)
                continue;
            close(s->c[i]->fd);
            free(s->c[i]);
            s->c[i] = s->c[--s->nc];
        }
        if (pf[1].revents & POLLIN) {
            int fd;
            while (s->nc < TS_CONNS &&
                   (fd = accept(s->lfd, NULL, NULL)) >= 0) {
                int one = 1;
                struct tconn *c = calloc(1, sizeof *c);
                if (!c) {
                    close(fd);
                    continue;
                }
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                c->fd = fd;
                s->c[s->nc++] = c;
                pthread_mutex_lock(&tmu);
                s->accepted++;
                pthread_mutex_unlock(&tmu);
            }
        }
    }
    for (int i = 0; i < s->nc; i++) {
        close(s->c[i]->fd);
        free(s->c[i]);
    }
    return NULL;
}

static void
tsrv_start(struct tsrv *s)
{
    struct sockaddr_in a = {0};
    socklen_t al = sizeof a;
    memset(s, 0, sizeof *s);
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(s->lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(s->lfd, 512), 0);
    assert_int_equal(getsockname(s->lfd, (struct sockaddr *)&a, &al), 0);
    fcntl(s->lfd, F_SETFL, O_NONBLOCK);
    s->port = ntohs(a.sin_port);
    snprintf(s->base, sizeof s->base, "http://127.0.0.1:%d", s->port);
    assert_int_equal(pipe(s->wake), 0);
    assert_int_equal(pthread_create(&s->th, NULL, ts_main, s), 0);
}

static void
tsrv_stop(struct tsrv *s)
{
    assert_int_equal(write(s->wake[1], "x", 1), 1);
    pthread_join(s->th, NULL);
    close(s->lfd);
    close(s->wake[0]);
    close(s->wake[1]);
}

static int
tsrv_accepted(struct tsrv *s)
{
    pthread_mutex_lock(&tmu);
    int n = s->accepted;
    pthread_mutex_unlock(&tmu);
    return n;
}

/* One transfer as its callbacks saw it (under tmu), and what they are to
 * do. The callbacks run on the loop thread: they record, the test's
 * thread checks. */
struct tx {
    char log[16]; /* 'h', 'd' (once for a run of pieces), 'e' */
    long status, status_seen;
    char ctype[64];
    char *body; /* at most cap bytes kept; len counts them all */
    size_t len, cap;
    int rc, connected, ends;
    char err[LDG_HTTP_ERR_MAX];
    /* what to do */
    int head_rc;
    int close_in_head, close_in_data, close_in_end;
    int pause_every; /* data refuses every pause_every-th new piece */
    /* what happened */
    int pieces, pauses, reoffered, waiting;
    char offered[16];
    size_t offered_n;
    int closed_here, after_close;
};

static void
tlog(struct tx *t, char c)
{
    if (c == 'd' && t->log[0] && t->log[strlen(t->log) - 1] == 'd')
        return;
    size_t n = strlen(t->log);
    if (n < sizeof t->log - 1)
        t->log[n] = c;
}

static int
t_head(void *cls, struct ldg_http_xfer *x, long status)
{
    struct tx *t = cls;
    pthread_mutex_lock(&tmu);
    t->after_close += t->closed_here;
    tlog(t, 'h');
    t->status = status;
    t->status_seen = ldg_http_xfer_status(x);
    const char *ct = ldg_http_xfer_header_get(x, "content-TYPE");
    snprintf(t->ctype, sizeof t->ctype, "%s", ct ? ct : "");
    int rc = t->head_rc;
    if (t->close_in_head) {
        t->closed_here = 1;
        ldg_http_xfer_close(x);
    }
    pthread_cond_broadcast(&tcv);
    pthread_mutex_unlock(&tmu);
    return rc;
}

static int
t_data(void *cls, struct ldg_http_xfer *x, const char *p, size_t n)
{
    struct tx *t = cls;
    int rc = 0;
    pthread_mutex_lock(&tmu);
    t->after_close += t->closed_here;
    tlog(t, 'd');
    if (t->offered_n) { /* the piece refused last time, again */
        size_t k = t->offered_n < n ? t->offered_n : n;
        t->reoffered += memcmp(p, t->offered, k) == 0;
        t->offered_n = 0;
    } else if (t->pause_every && ++t->pieces % t->pause_every == 0) {
        t->offered_n = n < sizeof t->offered ? n : sizeof t->offered;
        memcpy(t->offered, p, t->offered_n);
        t->pauses++;
        t->waiting = 1;
        rc = 1;
        goto out;
    }
    if (t->len + n <= t->cap)
        memcpy(t->body + t->len, p, n);
    t->len += n;
    if (t->close_in_data) {
        t->closed_here = 1;
        ldg_http_xfer_close(x);
    }
out:
    pthread_cond_broadcast(&tcv);
    pthread_mutex_unlock(&tmu);
    return rc;
}

static void
t_end(void *cls, struct ldg_http_xfer *x, int rc, int connected,
      const char *err)
{
    struct tx *t = cls;
    pthread_mutex_lock(&tmu);
    tlog(t, 'e');
    t->rc = rc;
    t->connected = connected;
    t->status_seen = ldg_http_xfer_status(x);
    snprintf(t->err, sizeof t->err, "%s", err);
    t->ends++;
    if (t->close_in_end)
        ldg_http_xfer_close(x);
    pthread_cond_broadcast(&tcv);
    pthread_mutex_unlock(&tmu);
}

static const struct ldg_http_xfer_cbs t_cbs = {t_head, t_data, t_end};

/* Waits (20 s at most) until cond holds, under tmu. */
#define TWAIT(cond)                                                            \
    do {                                                                       \
        struct timespec dl_;                                                   \
        clock_gettime(CLOCK_REALTIME, &dl_);                                   \
        dl_.tv_sec += 20;                                                      \
        pthread_mutex_lock(&tmu);                                              \
        while (!(cond) && pthread_cond_timedwait(&tcv, &tmu, &dl_) == 0)       \
            ;                                                                  \
        int ok_ = (cond);                                                      \
        pthread_mutex_unlock(&tmu);                                            \
        assert_true(ok_);                                                      \
    } while (0)

static void
tx_init(struct tx *t, size_t cap)
{
    memset(t, 0, sizeof *t);
    t->cap = cap;
    t->body = cap ? malloc(cap) : NULL;
    assert_true(cap == 0 || t->body != NULL);
}

/* Starts method base+path on l for t; the url and body are overwritten
 * once start returns (it copies them). */
static struct ldg_http_xfer *
tstart(struct ldg_http_loop *l, struct tx *t, const char *method,
       const char *base, const char *path, const char *body, long first_ms,
       long idle_ms, size_t max_body)
{
    char url[256], b[256];
    const char *hdrs[] = {"X-Test: loop", NULL};
    snprintf(url, sizeof url, "%s%s", base, path);
    snprintf(b, sizeof b, "%s", body ? body : "");
    struct ldg_http_request r = {.method = method,
                                 .url = url,
                                 .headers = hdrs,
                                 .body = body ? b : NULL,
                                 .body_len = body ? strlen(b) : 0,
                                 .max_response_bytes = max_body};
    struct ldg_http_xfer *x = NULL;
    assert_int_equal(
        ldg_http_xfer_start(l, &r, first_ms, idle_ms, &t_cbs, t, &x), 0);
    assert_non_null(x);
    memset(url, 'z', sizeof url - 1);
    memset(b, 'z', sizeof b - 1);
    return x;
}

static struct ldg_http_loop *
tloop(void)
{
    struct ldg_http_loop *l = NULL;
    char err[LDG_HTTP_ERR_MAX];
    assert_int_equal(ldg_http_loop_new(&l, err, sizeof err), 0);
    assert_non_null(l);
    return l;
}

static void
test_http__loop_misuse(void **state)
{
    struct ldg_http_loop *l = tloop();
    struct ldg_http_xfer *x = (struct ldg_http_xfer *)1;
    struct ldg_http_request r = {.url = "ftp://127.0.0.1/x"};
    struct tx t;
    tx_init(&t, 0);
    assert_int_equal(ldg_http_xfer_start(l, &r, 0, 0, &t_cbs, &t, &x),
                     LDG_EINVAL);
    assert_null(x);
    r = (struct ldg_http_request){.url = NULL};
    assert_int_equal(ldg_http_xfer_start(l, &r, 0, 0, &t_cbs, &t, &x),
                     LDG_EINVAL);
    r = (struct ldg_http_request){.url = "http://127.0.0.1:1/",
                                  .method = "get"};
    assert_int_equal(ldg_http_xfer_start(l, &r, 0, 0, &t_cbs, &t, &x),
                     LDG_EINVAL);
    r = (struct ldg_http_request){.url = "http://127.0.0.1:1/", .body_len = 3};
    assert_int_equal(ldg_http_xfer_start(l, &r, 0, 0, &t_cbs, &t, &x),
                     LDG_EINVAL);
    r = (struct ldg_http_request){.url = "http://127.0.0.1:1/"};
    assert_int_equal(ldg_http_xfer_start(NULL, &r, 0, 0, &t_cbs, &t, &x),
                     LDG_EINVAL);
    assert_int_equal(ldg_http_xfer_start(l, &r, 0, 0, NULL, &t, &x),
                     LDG_EINVAL);
    assert_int_equal(ldg_http_xfer_start(l, &r, 0, 0, &t_cbs, &t, NULL),
                     LDG_EINVAL);
    assert_int_equal(ldg_http_loop_new(NULL, NULL, 0), LDG_EINVAL);
    ldg_http_loop_free(l);
    ldg_http_loop_free(NULL);
    ldg_http_xfer_close(NULL);
    ldg_http_xfer_resume(NULL);
    assert_int_equal(ldg_http_xfer_status(NULL), 0);
    assert_null(ldg_http_xfer_header(NULL, 0));
    assert_null(ldg_http_xfer_header_get(NULL, "x"));
    assert_int_equal(t.ends, 0); /* no callback for a refused start */
}

#define T_MANY 80

static void
test_http__loop_many_concurrent_get_and_post(void **state)
{
    /* 80 GETs and 80 POSTs at once on one loop, against the stub (a
     * connection each: it answers every request on a thread of its own) */
    struct ldg_http_loop *l = tloop();
    static struct tx t[2 * T_MANY];
    struct ldg_http_xfer *x[2 * T_MANY];
    char path[64], body[64];
    for (int i = 0; i < 2 * T_MANY; i++) {
        tx_init(&t[i], 4096);
        if (i < T_MANY) {
            snprintf(path, sizeof path, "/echo?i=%d", i);
            x[i] =
                tstart(l, &t[i], NULL, stub.base, path, NULL, 10000, 10000, 0);
        } else {
            snprintf(body, sizeof body, "{\"i\":%d}", i);
            x[i] = tstart(l, &t[i], "POST", stub.base, "/echo", body, 10000,
                          10000, 0);
        }
    }
    for (int i = 0; i < 2 * T_MANY; i++) {
        TWAIT(t[i].ends == 1);
        assert_int_equal(t[i].rc, 0);
        assert_string_equal(t[i].err, "");
        assert_int_equal(t[i].connected, 1);
        assert_string_equal(t[i].log, "hde");
        assert_int_equal(t[i].status, 200);
        assert_int_equal(t[i].status_seen, 200);
        assert_string_equal(t[i].ctype, "application/json");
        json_t *j = json_loadb(t[i].body, t[i].len, 0, NULL);
        assert_non_null(j);
        json_t *h = json_object_get(j, "headers");
        assert_string_equal(json_string_value(json_object_get(h, "x-test")),
                            "loop");
        if (i < T_MANY) {
            snprintf(path, sizeof path, "/echo?i=%d", i);
            assert_string_equal(json_string_value(json_object_get(j, "method")),
                                "GET");
            assert_string_equal(json_string_value(json_object_get(j, "path")),
                                path);
        } else {
            snprintf(body, sizeof body, "{\"i\":%d}", i);
            assert_string_equal(json_string_value(json_object_get(j, "method")),
                                "POST");
            assert_string_equal(json_string_value(json_object_get(j, "body")),
                                body);
        }
        json_decref(j);
        ldg_http_xfer_close(x[i]);
        free(t[i].body);
    }
    ldg_http_loop_free(l);
}

static void
test_http__loop_pause_resume_from_another_thread(void **state)
{
    /* data refuses every 3rd piece; this thread resumes, after 5 ms, and
     * once after 400 ms: longer than the idle limit (200 ms), which the
     * caller's pause does not count against */
    static struct tsrv s;
    struct ldg_http_loop *l = tloop();
    struct tx t;
    size_t n = 1000000;
    char path[64];
    tsrv_start(&s);
    tx_init(&t, n);
    t.pause_every = 3;
    snprintf(path, sizeof path, "/seq?bytes=%zu", n);
    struct ldg_http_xfer *x =
        tstart(l, &t, NULL, s.base, path, NULL, 5000, 200, 0);
    int resumes = 0;
    for (;;) {
        TWAIT(t.waiting || t.ends);
        pthread_mutex_lock(&tmu);
        int ended = t.ends, waiting = t.waiting;
        t.waiting = 0;
        pthread_mutex_unlock(&tmu);
        if (ended)
            break;
        assert_true(waiting);
        struct timespec ts = {0, resumes == 2 ? 400000000L : 5000000L};
        nanosleep(&ts, NULL);
        ldg_http_xfer_resume(x);
        resumes++;
    }
    assert_int_equal(t.rc, 0);
    assert_string_equal(t.log, "hde");
    assert_true(t.pauses >= 3);
    assert_int_equal(t.pauses, resumes);
    assert_int_equal(t.reoffered, t.pauses);
    assert_int_equal(t.len, n);
    for (size_t i = 0; i < n; i++)
        if (t.body[i] != seq_byte(i))
            fail_msg("byte %zu of the body is wrong", i);
    ldg_http_xfer_resume(x); /* ended: a no-op */
    ldg_http_xfer_close(x);
    free(t.body);
    ldg_http_loop_free(l);
    tsrv_stop(&s);
}

static void
test_http__loop_close_before_end(void **state)
{
    struct ldg_http_loop *l = tloop();
    struct tx t, u;
    /* after the headers and the first bytes of a reply that stalls */
    tx_init(&t, 256);
    struct ldg_http_xfer *x =
        tstart(l, &t, NULL, stub.base, "/hang", NULL, 5000, 0, 0);
    TWAIT(t.len == 5);
    ldg_http_xfer_resume(x); /* not paused: a no-op */
    assert_int_equal(t.ends, 0);
    ldg_http_xfer_close(x);
    TWAIT(t.ends == 1);
    assert_int_equal(t.rc, LDG_ENET);
    assert_int_equal(t.connected, 1);
    assert_non_null(strstr(t.err, "/hang: cancelled"));
    assert_non_null(strstr(t.err, "GET http://127.0.0.1:"));
    assert_string_equal(t.log, "hde");
    /* at once, before anything came: end is still called, once */
    tx_init(&u, 256);
    x = tstart(l, &u, "POST", stub.base, "/hang", "{}", 5000, 0, 0);
    ldg_http_xfer_close(x);
    TWAIT(u.ends == 1);
    assert_int_equal(u.rc, LDG_ENET);
    assert_non_null(strstr(u.err, "cancelled"));
    ldg_http_loop_free(l);
    assert_int_equal(t.ends, 1);
    assert_int_equal(u.ends, 1);
    free(t.body);
    free(u.body);
}

static void
test_http__loop_close_from_callbacks(void **state)
{
    struct ldg_http_loop *l = tloop();
    struct tx t[4];
    /* from data, on its first piece of a drip: no data after it */
    tx_init(&t[0], 256);
    t[0].close_in_data = 1;
    tstart(l, &t[0], NULL, stub.base, "/drip?n=20&ms=20", NULL, 5000, 0, 0);
    /* from head */
    tx_init(&t[1], 256);
    t[1].close_in_head = 1;
    tstart(l, &t[1], NULL, stub.base, "/drip?n=20&ms=20", NULL, 5000, 0, 0);
    /* head says no (and the caller closes later) */
    tx_init(&t[2], 256);
    t[2].head_rc = -1;
    struct ldg_http_xfer *x2 =
        tstart(l, &t[2], NULL, stub.base, "/hang", NULL, 5000, 0, 0);
    /* from end, after a whole body */
    tx_init(&t[3], 256);
    t[3].close_in_end = 1;
    tstart(l, &t[3], NULL, stub.base, "/ok", NULL, 5000, 0, 0);
    for (int i = 0; i < 4; i++)
        TWAIT(t[i].ends == 1);
    assert_int_equal(t[0].rc, LDG_ENET);
    assert_non_null(strstr(t[0].err, "cancelled"));
    assert_string_equal(t[0].log, "hde");
    assert_int_equal(t[0].len, 1);
    assert_int_equal(t[0].after_close, 0);
    assert_int_equal(t[1].rc, LDG_ENET);
    assert_string_equal(t[1].log, "he");
    assert_int_equal(t[1].after_close, 0);
    assert_int_equal(t[2].rc, LDG_ENET);
    assert_non_null(strstr(t[2].err, "/hang: cancelled"));
    assert_string_equal(t[2].log, "he");
    ldg_http_xfer_close(x2);
    assert_int_equal(t[3].rc, 0);
    assert_string_equal(t[3].log, "hde");
    assert_int_equal(t[3].len, 5);
    assert_memory_equal(t[3].body, "hello", 5);
    ldg_http_loop_free(l);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(t[i].ends, 1);
        free(t[i].body);
    }
}

static void
test_http__loop_refused_is_not_connected(void **state)
{
    struct ldg_http_loop *l = tloop();
    struct tx t;
    char base[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%d", t_unused_port());
    tx_init(&t, 256);
    struct ldg_http_xfer *x =
        tstart(l, &t, "POST", base, "/x", "{}", 2000, 0, 0);
    TWAIT(t.ends == 1);
    assert_int_equal(t.rc, LDG_ENET);
    assert_int_equal(t.connected, 0);
    assert_string_equal(t.log, "e");
    assert_int_equal(t.status_seen, 0);
    assert_non_null(strstr(t.err, "POST "));
    assert_non_null(strstr(t.err, base));
    assert_non_null(strstr(t.err, "connection refused"));
    ldg_http_xfer_close(x);
    ldg_http_loop_free(l);
    free(t.body);
}

/* A body cut short is LDG_ENET at its end, naming the url; a status of
 * 400 or more is an answer like any other (head sees it, end is 0). */
static void
test_http__loop_cut_short_and_error_status(void **state)
{
    struct ldg_http_loop *l = tloop();
    struct tx t[2];
    struct ldg_http_xfer *x[2];
    (void)state;
    tx_init(&t[0], 4096);
    tx_init(&t[1], 4096);
    x[0] = tstart(l, &t[0], NULL, stub.base, "/truncated", NULL, 5000, 5000, 0);
    x[1] = tstart(l, &t[1], NULL, stub.base, "/status/503", NULL, 5000, 5000, 0);
    TWAIT(t[0].ends == 1 && t[1].ends == 1);
    assert_int_equal(t[0].rc, LDG_ENET);
    assert_int_equal(t[0].connected, 1);
    assert_int_equal(t[0].status_seen, 200);
    assert_non_null(strstr(t[0].err, "/truncated"));
    assert_int_equal(t[1].rc, 0);
    assert_string_equal(t[1].err, "");
    assert_int_equal(t[1].status_seen, 503);
    assert_int_equal(t[1].log[0], 'h');
    for (int i = 0; i < 2; i++) {
        ldg_http_xfer_close(x[i]);
        free(t[i].body);
    }
    ldg_http_loop_free(l);
}

static void
test_http__loop_first_byte_and_idle_timeouts(void **state)
{
    struct ldg_http_loop *l = tloop();
    struct tx t[4];
    struct ldg_http_xfer *x[4];
    static struct tsrv s;
    /* a server that accepts (the kernel's backlog) and never answers */
    struct sockaddr_in a = {0};
    socklen_t al = sizeof a;
    char base[64];
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(ls, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(ls, 4), 0);
    assert_int_equal(getsockname(ls, (struct sockaddr *)&a, &al), 0);
    snprintf(base, sizeof base, "http://127.0.0.1:%d", ntohs(a.sin_port));
    tsrv_start(&s);

    long t0 = (long)ldg_now_mono_ms();
    tx_init(&t[0], 256);
    x[0] = tstart(l, &t[0], "POST", base, "/x", "{}", 300, 0, 0);
    /* headers, 5 bytes, then nothing: the idle limit */
    tx_init(&t[1], 256);
    x[1] = tstart(l, &t[1], NULL, stub.base, "/hang", NULL, 5000, 300, 0);
    /* a connection kept from the transfer before, then no answer: a
     * timeout after a connection, though this one made none */
    tx_init(&t[2], 256);
    x[2] = tstart(l, &t[2], NULL, s.base, "/n/1", NULL, 5000, 0, 0);
    TWAIT(t[2].ends == 1);
    assert_int_equal(t[2].rc, 0);
    tx_init(&t[3], 256);
    x[3] = tstart(l, &t[3], NULL, s.base, "/nohead", NULL, 300, 0, 0);
    for (int i = 0; i < 4; i++)
        TWAIT(t[i].ends == 1);
    long took = (long)ldg_now_mono_ms() - t0;

    assert_int_equal(t[0].rc, LDG_ETIMEOUT);
    assert_int_equal(t[0].connected, 1);
    assert_non_null(strstr(t[0].err, "timed out (no response within 300 ms)"));
    assert_string_equal(t[0].log, "e");
    assert_int_equal(t[1].rc, LDG_ETIMEOUT);
    assert_int_equal(t[1].connected, 1);
    assert_int_equal(t[1].status, 200);
    assert_int_equal(t[1].len, 5);
    assert_string_equal(t[1].log, "hde");
    assert_non_null(strstr(t[1].err, "/hang: no data for 300 ms"));
    assert_int_equal(t[3].rc, LDG_ETIMEOUT);
    assert_int_equal(t[3].connected, 1);
    assert_int_equal(tsrv_accepted(&s), 1);
    assert_true(took >= 300); /* the limits' own: each says which above */
    for (int i = 0; i < 4; i++) {
        ldg_http_xfer_close(x[i]);
        free(t[i].body);
    }
    ldg_http_loop_free(l);
    tsrv_stop(&s);
    close(ls);
}

static void
test_http__loop_body_and_header_caps(void **state)
{
    struct ldg_http_loop *l = tloop();
    struct tx t[3];
    struct ldg_http_xfer *x[3];
    static struct tsrv s;
    tsrv_start(&s);
    /* 300000 bytes chunked against a cap of 100000 */
    tx_init(&t[0], 300000);
    x[0] = tstart(l, &t[0], NULL, stub.base, "/bigchunked?bytes=300000", NULL,
                  5000, 5000, 100000);
    /* exactly the cap is allowed */
    tx_init(&t[1], 300000);
    x[1] = tstart(l, &t[1], NULL, s.base, "/seq?bytes=100000", NULL, 5000, 5000,
                  100000);
    /* 80 KB of headers */
    tx_init(&t[2], 256);
    x[2] = tstart(l, &t[2], NULL, s.base, "/bighead", NULL, 5000, 5000, 0);
    for (int i = 0; i < 3; i++)
        TWAIT(t[i].ends == 1);
    assert_int_equal(t[0].rc, LDG_ETOOBIG);
    assert_true(t[0].len <= 100000);
    assert_non_null(strstr(t[0].err, "response exceeds 100000 bytes"));
    assert_int_equal(t[1].rc, 0);
    assert_int_equal(t[1].len, 100000);
    assert_int_equal(t[2].rc, LDG_ETOOBIG);
    assert_string_equal(t[2].log, "e");
    assert_non_null(strstr(t[2].err, "/bighead: response headers exceed"));
    for (int i = 0; i < 3; i++) {
        ldg_http_xfer_close(x[i]);
        free(t[i].body);
    }
    ldg_http_loop_free(l);
    tsrv_stop(&s);
}

static void
test_http__loop_free_with_transfers_running(void **state)
{
    /* 8 stalled in their body, 2 just queued, 1 closed by its end: every
     * end is called (cancelled) before free returns; the caller closes
     * the rest after it */
    struct ldg_http_loop *l = tloop();
    struct tx t[11];
    struct ldg_http_xfer *x[11];
    for (int i = 0; i < 8; i++) {
        tx_init(&t[i], 256);
        x[i] = tstart(l, &t[i], NULL, stub.base, "/hang", NULL, 5000, 0, 0);
    }
    for (int i = 0; i < 8; i++)
        TWAIT(t[i].len == 5);
    tx_init(&t[10], 256);
    t[10].close_in_end = 1;
    x[10] = tstart(l, &t[10], NULL, stub.base, "/hang", NULL, 5000, 0, 0);
    for (int i = 8; i < 10; i++) {
        tx_init(&t[i], 256);
        x[i] = tstart(l, &t[i], "POST", stub.base, "/echo", "{}", 5000, 0, 0);
    }
    ldg_http_loop_free(l);
    for (int i = 0; i < 11; i++) {
        assert_int_equal(t[i].ends, 1);
        if (i < 8 || i == 10) {
            assert_int_equal(t[i].rc, LDG_ENET);
            assert_non_null(strstr(t[i].err, "cancelled"));
        }
        if (i != 10)
            ldg_http_xfer_close(x[i]);
        free(t[i].body);
    }
}

static void
test_http__loop_random_close_and_pause(void **state)
{
    /* 400 transfers, 32 at a time, of bodies up to 40000 bytes; data
     * pauses some every few pieces, this thread resumes them and closes
     * one now and then, at any point of its life (racing its end): every
     * transfer ends once, whole or cancelled */
    enum { W = 32, N = 400, MAXB = 40000 };
    static struct tsrv s;
    static struct tx t[W];
    struct ldg_http_xfer *x[W];
    size_t want[W];
    int closed[W];
    unsigned seed = 20240611;
    int started = 0, finished = 0, whole = 0, cancelled = 0;
    char path[64];
    tsrv_start(&s);
    struct ldg_http_loop *l = tloop();
    for (int i = 0; i < W; i++)
        x[i] = NULL;
    while (finished < N) {
        for (int i = 0; i < W; i++) {
            if (x[i] || started == N)
                continue;
            tx_init(&t[i], MAXB);
            t[i].pause_every = rand_r(&seed) % 3 ? 0 : 2 + rand_r(&seed) % 3;
            want[i] = rand_r(&seed) % MAXB;
            closed[i] = 0;
            snprintf(path, sizeof path, "/seq?bytes=%zu", want[i]);
            x[i] = tstart(l, &t[i], NULL, s.base, path, NULL, 5000, 5000, 0);
            started++;
        }
        struct timespec dl;
        clock_gettime(CLOCK_REALTIME, &dl);
        dl.tv_nsec += 2000000;
        if (dl.tv_nsec >= 1000000000L) {
            dl.tv_sec++;
            dl.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&tmu);
        pthread_cond_timedwait(&tcv, &tmu, &dl);
        pthread_mutex_unlock(&tmu);
        for (int i = 0; i < W; i++) {
            if (!x[i])
                continue;
            pthread_mutex_lock(&tmu);
            int ends = t[i].ends, waiting = t[i].waiting;
            t[i].waiting = 0;
            pthread_mutex_unlock(&tmu);
            if (ends) {
                assert_int_equal(ends, 1);
                assert_int_equal(t[i].log[strlen(t[i].log) - 1], 'e');
                if (t[i].rc == 0) {
                    assert_int_equal(t[i].len, want[i]);
                    for (size_t k = 0; k < want[i]; k++)
                        if (t[i].body[k] != seq_byte(k))
                            fail_msg("transfer %d: byte %zu wrong", i, k);
                    whole++;
                } else {
                    assert_true(closed[i]);
                    assert_int_equal(t[i].rc, LDG_ENET);
                    assert_non_null(strstr(t[i].err, "cancelled"));
                    cancelled++;
                }
                if (!closed[i])
                    ldg_http_xfer_close(x[i]);
                free(t[i].body);
                x[i] = NULL;
                finished++;
                continue;
            }
            if (closed[i])
                continue;
            if (waiting)
                ldg_http_xfer_resume(x[i]);
            if (rand_r(&seed) % 16 == 0) {
                ldg_http_xfer_close(x[i]);
                closed[i] = 1;
            }
        }
    }
    print_message("loop: %d transfers, %d whole, %d cancelled\n", N, whole,
                  cancelled);
    assert_true(whole > 0 && cancelled > 0);
    ldg_http_loop_free(l);
    tsrv_stop(&s);
}

/* The throughput run: n small GETs (/n/K) with `width` in flight. Each
 * transfer's end checks its body and either starts the next itself, on
 * the loop thread (from_loop), or hands the transfer to the test's
 * thread, which closes it and starts the next (every start and close
 * then crosses threads). */
#define TP_WIDTH 64

struct tp_slot {
    struct tput *tp;
    struct ldg_http_xfer *x;
    long k;
    char body[32];
    size_t len;
};

struct tput {
    struct ldg_http_loop *l;
    const char *base;
    int from_loop;
    long n, started, done, bad;
    struct tp_slot slot[TP_WIDTH];
    int ring[TP_WIDTH]; /* ended slots for the test's thread */
    int nring;
};

static int
tp_data(void *cls, struct ldg_http_xfer *x, const char *p, size_t n)
{
    struct tp_slot *s = cls;
    if (s->len + n <= sizeof s->body) /* only this transfer's thread */
        memcpy(s->body + s->len, p, n);
    s->len += n;
    return 0;
}

static void tp_end(void *cls, struct ldg_http_xfer *x, int rc, int connected,
                   const char *err);

static const struct ldg_http_xfer_cbs tp_cbs = {NULL, tp_data, tp_end};

/* Starts the next transfer on s (the caller holds tmu). */
static void
tp_next(struct tput *tp, struct tp_slot *s)
{
    char url[96];
    s->k = tp->started++;
    s->len = 0;
    snprintf(url, sizeof url, "%s/n/%ld", tp->base, s->k);
    struct ldg_http_request r = {.url = url};
    if (ldg_http_xfer_start(tp->l, &r, 5000, 5000, &tp_cbs, s, &s->x) != 0)
        tp->bad++;
}

static void
tp_end(void *cls, struct ldg_http_xfer *x, int rc, int connected,
       const char *err)
{
    struct tp_slot *s = cls;
    struct tput *tp = s->tp;
    char want[32];
    int k = snprintf(want, sizeof want, "n%ld", s->k);
    pthread_mutex_lock(&tmu);
    if (rc != 0 || s->len != (size_t)k || memcmp(s->body, want, (size_t)k))
        tp->bad++;
    tp->done++;
    if (tp->from_loop) {
        ldg_http_xfer_close(x);
        if (tp->started < tp->n)
            tp_next(tp, s);
    } else {
        tp->ring[tp->nring++] = (int)(s - tp->slot);
    }
    pthread_cond_broadcast(&tcv);
    pthread_mutex_unlock(&tmu);
}

/* Runs tp; requests a second. */
static double
tp_run(struct tput *tp)
{
    long t0 = (long)ldg_now_mono_ms();
    pthread_mutex_lock(&tmu);
    for (int i = 0; i < TP_WIDTH && tp->started < tp->n; i++) {
        tp->slot[i].tp = tp;
        tp_next(tp, &tp->slot[i]);
    }
    pthread_mutex_unlock(&tmu);
    if (tp->from_loop) {
        TWAIT(tp->done == tp->n || tp->bad);
    } else {
        pthread_mutex_lock(&tmu);
        while (tp->done < tp->n || tp->nring) {
            while (tp->nring == 0)
                pthread_cond_wait(&tcv, &tmu);
            while (tp->nring > 0) {
                struct tp_slot *s = &tp->slot[tp->ring[--tp->nring]];
                ldg_http_xfer_close(s->x);
                if (tp->started < tp->n)
                    tp_next(tp, s);
            }
        }
        pthread_mutex_unlock(&tmu);
    }
    long ms = (long)ldg_now_mono_ms() - t0;
    return (double)tp->n * 1000.0 / (double)(ms > 0 ? ms : 1);
}

static void
test_http__loop_throughput_and_reuse(void **state)
{
    /* LDG_HTTP_LOOP_N requests each way (default 5000); the rates are
     * printed, not checked (a sanitizer build is several times slower);
     * keep-alive is: at most one connection a transfer in flight */
    const char *env = getenv("LDG_HTTP_LOOP_N");
    long n = env ? atol(env) : 5000;
    static struct tsrv s;
    tsrv_start(&s);
    struct ldg_http_loop *l = tloop();
    static struct tput tp;
    for (int from_loop = 1; from_loop >= 0; from_loop--) {
        memset(&tp, 0, sizeof tp);
        tp.l = l;
        tp.base = s.base;
        tp.n = n;
        tp.from_loop = from_loop;
        double rate = tp_run(&tp);
        assert_int_equal(tp.bad, 0);
        assert_int_equal(tp.done, n);
        print_message("loop: %ld GETs, %d in flight, next started %s: "
                      "%.0f/s, %d connections so far\n",
                      n, TP_WIDTH,
                      from_loop ? "by end (loop thread)" : "by another thread",
                      rate, tsrv_accepted(&s));
    }
    assert_true(tsrv_accepted(&s) <= TP_WIDTH);
    ldg_http_loop_free(l);
    tsrv_stop(&s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http__get_ok_with_headers),
        cmocka_unit_test(test_http__refused_is_enet_with_url),
        cmocka_unit_test(test_http__status_500_is_ehttp_with_status),
        cmocka_unit_test(test_http__redirect_is_ehttp_naming_location),
        cmocka_unit_test(test_http__reply_that_never_ends_times_out),
        cmocka_unit_test(test_http__slow_drip_hits_total_timeout),
        cmocka_unit_test(test_http__oversized_body_aborted_before_buffering),
        cmocka_unit_test(test_http__cut_short_reply_is_enet),
        cmocka_unit_test(test_http__retries_idempotent_only),
        cmocka_unit_test(test_http__put_post_head_headers_and_body),
        cmocka_unit_test(test_http__sigv4_signs_request),
        cmocka_unit_test(test_http__client_reuse_and_misuse),
        cmocka_unit_test(test_http__loop_misuse),
        cmocka_unit_test(test_http__loop_many_concurrent_get_and_post),
        cmocka_unit_test(test_http__loop_pause_resume_from_another_thread),
        cmocka_unit_test(test_http__loop_close_before_end),
        cmocka_unit_test(test_http__loop_close_from_callbacks),
        cmocka_unit_test(test_http__loop_refused_is_not_connected),
        cmocka_unit_test(test_http__loop_cut_short_and_error_status),
        cmocka_unit_test(test_http__loop_first_byte_and_idle_timeouts),
        cmocka_unit_test(test_http__loop_body_and_header_caps),
        cmocka_unit_test(test_http__loop_free_with_transfers_running),
        cmocka_unit_test(test_http__loop_random_close_and_pause),
        cmocka_unit_test(test_http__loop_throughput_and_reuse),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
