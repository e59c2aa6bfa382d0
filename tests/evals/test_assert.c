/*
 * test_assert.c — each assertion type, passing and failing, and forbid.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "evals/evals.h"
#include "ledger/module.h"
#include "util/util.h"

static struct ldg_eval_suite *
one(const char *assert_json)
{
    char text[1024], err[512];
    struct ldg_eval_suite *s = NULL;
    snprintf(
        text, sizeof text,
        "{\"suite\": {\"name\": \"t\", \"forbid\": [\"(?i)passw(or)?d\"]}}\n"
        "{\"id\": \"c\", \"prompt\": \"p\", \"assert\": [%s]}",
        assert_json);
    if (ldg_eval_suite_parse(&s, "t", text, strlen(text), err, sizeof err))
        fail_msg("%s", err);
    return s;
}

static int
check(const char *assert_json, const char *reply, char *why)
{
    struct ldg_eval_suite *s = one(assert_json);
    int ok = ldg_eval_check(s, 0, reply, strlen(reply), why, 256);
    ldg_eval_suite_free(s);
    return ok;
}

/* A value cut to 60 bytes for the message is cut between characters: the
 * detail stays UTF-8, so eval.result keeps it (before: dropped). */
static void
test_assert__detail_cut_at_a_character(void **state)
{
    char why[256], a[256] = "{\"type\":\"equals\",\"value\":\"a";
    json_t *j;
    (void)state;
    for (int i = 0; i < 30; i++)
        strcat(a, "\xe2\x82\xac"); /* the euro sign, 3 bytes */
    strcat(a, "\"}");
    assert_false(check(a, "b", why));
    j = json_string(why);
    if (j == NULL)
        fail_msg("detail is not UTF-8: %s", why);
    json_decref(j);
    assert_non_null(strstr(why, "reply is not \"a\xe2\x82\xac"));
    assert_int_equal(ldg_utf8_cut("a\xe2\x82\xac", 2), 1);
    assert_int_equal(ldg_utf8_cut("a\xe2\x82\xac", 4), 4);
    assert_int_equal(ldg_utf8_cut("ab", 60), 2);
}

static void
test_assert__each_type(void **state)
{
    char why[256];
    assert_true(
        check("{\"type\":\"equals\",\"value\":\"Paris\"}", " Paris\n", why));
    assert_false(
        check("{\"type\":\"equals\",\"value\":\"Paris\"}", "paris", why));
    assert_non_null(strstr(why, "assert[0] equals"));
    assert_true(
        check("{\"type\":\"contains\",\"value\":\"ari\"}", "Paris", why));
    assert_false(
        check("{\"type\":\"contains\",\"value\":\"ARI\"}", "Paris", why));
    assert_true(
        check("{\"type\":\"icontains\",\"value\":\"ARI\"}", "Paris", why));
    assert_true(
        check("{\"type\":\"not-contains\",\"value\":\"Lyon\"}", "Paris", why));
    assert_false(
        check("{\"type\":\"not-contains\",\"value\":\"Par\"}", "Paris", why));
    assert_true(
        check("{\"type\":\"regex\",\"value\":\"^P\\\\w+s$\"}", "Paris", why));
    assert_false(
        check("{\"type\":\"regex\",\"value\":\"^\\\\d+$\"}", "Paris", why));
    assert_non_null(strstr(why, "no match"));
    assert_true(check("{\"type\":\"is-json\"}", " {\"a\": [1, 2]} ", why));
    assert_false(check("{\"type\":\"is-json\"}", "{\"a\": ", why));
    assert_true(check("{\"type\":\"json-path-equals\",\"value\":{\"path\":"
                      "\"a.1.b\",\"value\":2}}",
                      "{\"a\": [0, {\"b\": 2.0}]}", why));
    assert_false(check("{\"type\":\"json-path-equals\",\"value\":{\"path\":"
                       "\"a.x\",\"value\":2}}",
                       "{\"a\": [0]}", why));
    assert_non_null(strstr(why, "no such path"));
    assert_false(check("{\"type\":\"json-path-equals\",\"value\":{\"path\":"
                       "\"a\",\"value\":\"2\"}}",
                       "{\"a\": 2}", why));
    assert_non_null(strstr(why, "different value"));
    /* All assertions must hold; the first that fails is named. */
    assert_false(check("{\"type\":\"contains\",\"value\":\"P\"},"
                       "{\"type\":\"contains\",\"value\":\"Z\"}",
                       "Paris", why));
    assert_non_null(strstr(why, "assert[1]"));
}

static void
test_assert__forbid(void **state)
{
    struct ldg_eval_suite *s = one("{\"type\":\"is-json\"}");
    const char *which = NULL;
    assert_true(ldg_eval_forbidden(s, "the PassWord is", 15, &which));
    assert_string_equal(which, "(?i)passw(or)?d");
    assert_false(ldg_eval_forbidden(s, "nothing here", 12, &which));
    ldg_eval_suite_free(s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_assert__each_type),
        cmocka_unit_test(test_assert__detail_cut_at_a_character),
        cmocka_unit_test(test_assert__forbid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
