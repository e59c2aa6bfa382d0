/*
 * test_json.c — a JSON object's string member, or "" (util/json.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "util/util.h"

static void
test_json_str__the_member_or_an_empty_string(void **state)
{
    json_t *o = json_pack("{s:s, s:s, s:i, s:n, s:{s:s}}", "run", "r1", "empty",
                          "", "n", 7, "null", "inner", "run", "r2");
    json_t *arr = json_pack("[s]", "run");
    (void)state;
    assert_non_null(o);
    assert_string_equal(ldg_json_str(o, "run"), "r1");
    assert_string_equal(ldg_json_str(o, "empty"), "");
    /* not there, not a string, not an object, NULL: "" and never NULL */
    assert_string_equal(ldg_json_str(o, "missing"), "");
    assert_string_equal(ldg_json_str(o, "n"), "");
    assert_string_equal(ldg_json_str(o, "null"), "");
    assert_string_equal(ldg_json_str(o, "inner"), "");
    assert_string_equal(ldg_json_str(arr, "run"), "");
    assert_string_equal(ldg_json_str(NULL, "run"), "");
    /* borrowed: the member's own bytes */
    assert_ptr_equal(ldg_json_str(o, "run"),
                     json_string_value(json_object_get(o, "run")));
    json_decref(arr);
    json_decref(o);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_str__the_member_or_an_empty_string),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
