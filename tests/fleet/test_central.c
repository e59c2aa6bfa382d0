/*
 * test_central.c — fleet/central.c: what goes into a ClickHouse query as
 * it is (a table name) and as a literal (an origin), and a URL that is not
 * one refused before any request. Queries against a
 * real server: tests/e2e/fleet.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fleet/fleet.h"
#include "fleet/fleet_int.h"
#include "http/http.h"
#include "util/util.h"

static void
test_central__table_names(void **state)
{
    static const char *ok[] = {"ledger_events", "t", "T2", "_x",
                               "a234567890123456789012345678901234567890"
                               "123456789012345678901234"};
    static const char *bad[] = {"",
                                "2t",
                                "t;DROP",
                                "t t",
                                "t-1",
                                "t.x",
                                "a`b",
                                "a234567890123456789012345678901234567890"
                                "1234567890123456789012345"};
    (void)state;
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (!ldg_ch_table_ok(ok[i]))
            fail_msg("'%s' refused", ok[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (ldg_ch_table_ok(bad[i]))
            fail_msg("'%s' accepted", bad[i]);
    assert_false(ldg_ch_table_ok(NULL));
}

static void
test_central__string_literals(void **state)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"box1.example/log", "'box1.example/log'"},
        {"it's", "'it\\'s'"},
        {"a\\b", "'a\\\\b'"},
        {"'; DROP TABLE t; --", "'\\'; DROP TABLE t; --'"},
        {"", "''"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct ldg_buf b = {0};
        ldg_ch_sql_string(&b, cases[i].in);
        assert_int_equal(b.err, 0);
        assert_string_equal(b.s, cases[i].out);
        free(b.p);
    }
}

/* A URL that is not http(s) (`ledger ship notaurl`) is named as it was
 * given: not as the HTTP layer would, with the query encoded into it. */
static void
test_central__not_an_http_url(void **state)
{
    static const char *bad[] = {"notaurl", "http:/127.0.0.1:8123/",
                                "ftp://127.0.0.1/", ""};
    struct ldg_http_client *c = NULL;
    (void)state;
    assert_int_equal(ldg_http_client_new(&c), 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct ldg_http_response resp;
        char err[1024] = "", want[128];
        memset(&resp, 0, sizeof resp);
        assert_int_equal(ldg_ch_query(c, bad[i], "CREATE TABLE t (x UInt8)",
                                      NULL, 0, &resp, err, sizeof err),
                         LDG_EINVAL);
        ldg_http_response_release(&resp);
        snprintf(want, sizeof want, "'%s' is not an http(s) URL", bad[i]);
        if (strstr(err, want) == NULL || strstr(err, "query=") != NULL ||
            strstr(err, "CREATE") != NULL)
            fail_msg("'%s': %s", bad[i], err);
    }
    ldg_http_client_free(c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_central__table_names),
        cmocka_unit_test(test_central__string_literals),
        cmocka_unit_test(test_central__not_an_http_url),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
