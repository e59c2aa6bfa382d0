/*
 * test_http.c — the libcurl wrapper against tests/stubs/stub.py on
 * loopback: success with headers, refused connection, HTTP 500, a reply
 * that never ends (total timeout), a slow drip, an oversized body (with and
 * without a Content-Length), a cut-short reply, retries only for
 * idempotent methods, request headers and bodies, SigV4 headers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
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

/* ------------------------------------------------------------ streams -- */

static int
sopen(const char *path, struct ldg_http_client *c, long first_ms,
      long idle_ms, struct ldg_http_stream **st, int *connected, char *err)
{
    struct ldg_http_request r = {0};
    char url[256];
    snprintf(url, sizeof url, "%s%s", stub.base, path);
    r.url = url;
    return ldg_http_stream_open(st, c, &r, first_ms, idle_ms, connected, err,
                                LDG_HTTP_ERR_MAX);
}

static void
test_http__stream_pieces_as_they_come(void **state)
{
    struct ldg_http_stream *st;
    struct ldg_http_client *c;
    char err[LDG_HTTP_ERR_MAX], buf[64];
    int connected = 0, pieces = 0;
    size_t total = 0;
    long n;
    assert_int_equal(ldg_http_client_new(&c), 0);
    /* twice through one client: the second reuses its connection */
    for (int round = 0; round < 2; round++) {
        assert_int_equal(
            sopen("/drip?n=5&ms=30", c, 2000, 2000, &st, &connected, err), 0);
        assert_int_equal(connected, 1);
        assert_int_equal(ldg_http_stream_status(st), 200);
        assert_non_null(ldg_http_stream_header(st, 0));
        pieces = 0;
        total = 0;
        while ((n = ldg_http_stream_read(st, buf, sizeof buf, err,
                                         sizeof err)) > 0) {
            pieces++;
            total += (size_t)n;
        }
        assert_int_equal(n, 0);
        assert_int_equal(total, 5);
        assert_true(pieces >= 3); /* not buffered whole */
        assert_int_equal(ldg_http_stream_read(st, buf, sizeof buf, err,
                                              sizeof err),
                         0);
        ldg_http_stream_close(st);
    }
    ldg_http_client_free(c);
}

static void
test_http__stream_failures(void **state)
{
    struct ldg_http_stream *st = NULL;
    char err[LDG_HTTP_ERR_MAX], buf[256], path[64];
    int connected = 1;
    long n;
    /* refused: not connected */
    struct ldg_http_request r = {0};
    char url[160];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/x", t_unused_port());
    r.url = url;
    r.method = "POST";
    assert_int_equal(ldg_http_stream_open(&st, NULL, &r, 1000, 0, &connected,
                                          err, sizeof err),
                     LDG_ENET);
    assert_null(st);
    assert_int_equal(connected, 0);
    assert_non_null(strstr(err, "refused"));
    /* an answer that starts and stops: the idle limit */
    assert_int_equal(sopen("/hang", NULL, 2000, 300, &st, &connected, err), 0);
    while ((n = ldg_http_stream_read(st, buf, sizeof buf, err, sizeof err)) >
           0)
        ;
    assert_int_equal(n, LDG_ETIMEOUT);
    assert_non_null(strstr(err, "no data for 300 ms"));
    ldg_http_stream_close(st);
    /* cut short: LDG_ENET after what came */
    assert_int_equal(sopen("/truncated", NULL, 2000, 2000, &st, NULL, err),
                     0);
    while ((n = ldg_http_stream_read(st, buf, sizeof buf, err, sizeof err)) >
           0)
        ;
    assert_int_equal(n, LDG_ENET);
    ldg_http_stream_close(st);
    /* a body cap */
    snprintf(path, sizeof path, "/bigchunked?bytes=%d", 300000);
    snprintf(url, sizeof url, "%s%s", stub.base, path);
    r.url = url;
    r.method = "GET";
    r.max_response_bytes = 100000;
    assert_int_equal(
        ldg_http_stream_open(&st, NULL, &r, 2000, 2000, NULL, err, sizeof err),
        0);
    while ((n = ldg_http_stream_read(st, buf, sizeof buf, err, sizeof err)) >
           0)
        ;
    assert_int_equal(n, LDG_ETOOBIG);
    ldg_http_stream_close(st);
    /* a status >= 400 is an answer, not an error */
    assert_int_equal(sopen("/status/503", NULL, 2000, 2000, &st, NULL, err),
                     0);
    assert_int_equal(ldg_http_stream_status(st), 503);
    ldg_http_stream_close(st);
    ldg_http_stream_close(NULL);
}

static void
test_http__stream_first_byte_timeout(void **state)
{
    /* a server that accepts (the kernel's backlog) and never answers */
    struct sockaddr_in a = {0};
    socklen_t al = sizeof a;
    struct ldg_http_stream *st = NULL;
    struct ldg_http_request r = {0};
    char url[64], err[LDG_HTTP_ERR_MAX];
    int connected = 0;
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(ls, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(ls, 4), 0);
    assert_int_equal(getsockname(ls, (struct sockaddr *)&a, &al), 0);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/x", ntohs(a.sin_port));
    r.url = url;
    r.method = "POST";
    r.body = "{}";
    r.body_len = 2;
    assert_int_equal(ldg_http_stream_open(&st, NULL, &r, 300, 0, &connected,
                                          err, sizeof err),
                     LDG_ETIMEOUT);
    assert_int_equal(connected, 1);
    assert_non_null(strstr(err, "within 300 ms"));
    close(ls);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http__get_ok_with_headers),
        cmocka_unit_test(test_http__refused_is_enet_with_url),
        cmocka_unit_test(test_http__status_500_is_ehttp_with_status),
        cmocka_unit_test(test_http__reply_that_never_ends_times_out),
        cmocka_unit_test(test_http__slow_drip_hits_total_timeout),
        cmocka_unit_test(test_http__oversized_body_aborted_before_buffering),
        cmocka_unit_test(test_http__cut_short_reply_is_enet),
        cmocka_unit_test(test_http__retries_idempotent_only),
        cmocka_unit_test(test_http__put_post_head_headers_and_body),
        cmocka_unit_test(test_http__sigv4_signs_request),
        cmocka_unit_test(test_http__client_reuse_and_misuse),
        cmocka_unit_test(test_http__stream_pieces_as_they_come),
        cmocka_unit_test(test_http__stream_failures),
        cmocka_unit_test(test_http__stream_first_byte_timeout),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
