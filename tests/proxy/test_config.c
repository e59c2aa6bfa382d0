/*
 * test_config.c — upstreams from NAME=URL and the proxy file: what is
 * accepted, and each malformed input refused with a message naming it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "proxy/proxy_int.h"

static void
test_config__upstreams(void **state)
{
    struct ldg_proxy_config *c;
    char err[512];
    const char *name, *url;
    assert_int_equal(ldg_proxy_config_new(&c), 0);
    assert_int_equal(ldg_proxy_config_add_upstream(
                         c, "ollama=http://127.0.0.1:11434/", err, sizeof err),
                     0);
    assert_int_equal(ldg_proxy_config_add_upstream(
                         c, "v.2_x-y=https://h:8000/base", err, sizeof err),
                     0);
    assert_int_equal(ldg_proxy_config_upstreams(c), 2);
    assert_int_equal(ldg_proxy_config_upstream(c, 0, &name, &url), 0);
    assert_string_equal(name, "ollama");
    assert_string_equal(url, "http://127.0.0.1:11434"); /* no trailing / */
    assert_int_equal(ldg_proxy_config_upstream(c, 1, &name, &url), 0);
    assert_string_equal(url, "https://h:8000/base");
    assert_int_equal(ldg_proxy_config_upstream(c, 2, &name, &url), -1);
    static const char *const bad[] = {
        "nourl", "=http://h", "a b=http://h", "ollama=http://h",
        "x=ftp://h", "x=http://", "x=http://h/?q=1", "x=h:80", NULL};
    static const char *const why[] = {
        "NAME=URL", "upstream name", "upstream name", "given twice",
        "not an http", "not an http", "not an http", "not an http"};
    for (size_t i = 0; bad[i]; i++) {
        err[0] = 0;
        assert_int_equal(
            ldg_proxy_config_add_upstream(c, bad[i], err, sizeof err),
            LDG_EBADINPUT);
        if (strstr(err, why[i]) == NULL)
            fail_msg("%s: %s", bad[i], err);
    }
    assert_int_equal(ldg_proxy_config_upstreams(c), 2);
    ldg_proxy_config_free(c);
    ldg_proxy_config_free(NULL);
}

static int
load(const char *text, char *err, size_t cap, struct ldg_proxy_config **out)
{
    char path[] = "/tmp/test_config.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    assert_int_equal(ldg_proxy_config_new(out), 0);
    int rc = ldg_proxy_config_load(*out, path, err, cap);
    unlink(path);
    return rc;
}

static void
test_config__file(void **state)
{
    struct ldg_proxy_config *c;
    char err[512];
    const struct proxy_route *r;
    assert_int_equal(
        load("{\"listen\": \"unix:/tmp/p.sock\", \"record\": \"async\","
             " \"record_content\": true,"
             " \"upstreams\": {\"a\": \"http://a\", \"b\": \"http://b\"},"
             " \"routes\": {\"m\": [{\"upstream\": \"a\", \"model\": \"m1\"},"
             " {\"upstream\": \"b\"}]}}",
             err, sizeof err, &c),
        0);
    assert_string_equal(ldg_proxy_config_listen(c), "unix:/tmp/p.sock");
    assert_int_equal(ldg_proxy_config_async(c), 1);
    assert_int_equal(ldg_proxy_config_content(c), 1);
    assert_int_equal(ldg_proxy_config_routes(c), 1);
    r = proxy_route_find(c, "m");
    assert_non_null(r);
    assert_int_equal(r->n, 2);
    assert_int_equal(r->cand[0].up, 0);
    assert_string_equal(r->cand[0].model, "m1");
    assert_int_equal(r->cand[1].up, 1);
    assert_null(r->cand[1].model);
    assert_null(proxy_route_find(c, "other"));
    ldg_proxy_config_free(c);
    /* nothing said: -1 */
    assert_int_equal(load("{}", err, sizeof err, &c), 0);
    assert_int_equal(ldg_proxy_config_async(c), -1);
    assert_null(ldg_proxy_config_listen(c));
    ldg_proxy_config_free(c);
}

static void
test_config__file_errors(void **state)
{
    static const char *const bad[] = {
        "{\"upstreams\": ",
        "[]",
        "{\"listn\": \"x\"}",
        "{\"listen\": 5}",
        "{\"record\": \"later\"}",
        "{\"record_content\": \"yes\"}",
        "{\"upstreams\": [\"http://a\"]}",
        "{\"upstreams\": {\"a\": 1}}",
        "{\"upstreams\": {\"a\": \"http://a\"}, \"routes\": {\"m\": []}}",
        "{\"upstreams\": {\"a\": \"http://a\"}, \"routes\": {\"m\": [{\"upstream\": \"z\"}]}}",
        "{\"upstreams\": {\"a\": \"http://a\"}, \"routes\": {\"m\": [{\"upstream\": \"a\", \"weight\": 1}]}}",
        "{\"upstreams\": {\"a\": \"http://a\", \"a\": \"http://b\"}}",
        NULL};
    static const char *const why[] = {
        ":1:", "JSON object", "unknown key \"listn\"", "\"listen\"",
        "\"record\"", "record_content", "\"upstreams\"", "URL string",
        "list of candidates", "no upstream named 'z'", "unknown key \"weight\"",
        "duplicate"};
    for (size_t i = 0; bad[i]; i++) {
        struct ldg_proxy_config *c;
        char err[512] = "";
        assert_int_equal(load(bad[i], err, sizeof err, &c), LDG_EBADINPUT);
        if (strstr(err, why[i]) == NULL)
            fail_msg("%s: %s", bad[i], err);
        ldg_proxy_config_free(c);
    }
    struct ldg_proxy_config *c;
    char err[256];
    assert_int_equal(ldg_proxy_config_new(&c), 0);
    assert_int_equal(
        ldg_proxy_config_load(c, "/nonexistent/proxy.json", err, sizeof err),
        LDG_ENOTFOUND);
    assert_non_null(strstr(err, "/nonexistent/proxy.json"));
    ldg_proxy_config_free(c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config__upstreams),
        cmocka_unit_test(test_config__file),
        cmocka_unit_test(test_config__file_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
