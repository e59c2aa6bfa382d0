/*
 * test_time.c — RFC 3339 time text (util/time.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "util/util.h"

static void
test_time__formats_nanoseconds_in_utc(void **state)
{
    char b[LDG_TIME_NS_LEN];
    (void)state;
    assert_string_equal(ldg_time_rfc3339_ns(b, sizeof b, 0),
                        "1970-01-01T00:00:00.000000000Z");
    assert_string_equal(
        ldg_time_rfc3339_ns(b, sizeof b, 1767225600123456789ull),
        "2026-01-01T00:00:00.123456789Z");
    assert_int_equal(strlen(b), LDG_TIME_NS_LEN - 1);
}

static void
test_time__formats_seconds_in_utc(void **state)
{
    char b[LDG_TIME_SEC_LEN];
    (void)state;
    assert_string_equal(
        ldg_time_rfc3339_sec(b, sizeof b, 1767225600999999999ull),
        "2026-01-01T00:00:00Z");
    assert_int_equal(strlen(b), LDG_TIME_SEC_LEN - 1);
}

static void
test_time__base_and_a_short_buffer(void **state)
{
    char b[32], small[8];
    (void)state;
    assert_int_equal(ldg_time_rfc3339_base(b, sizeof b, 86400), 0);
    assert_string_equal(b, "1970-01-02T00:00:00");
    assert_int_equal(ldg_time_rfc3339_base(small, sizeof small, 86400), -1);
    /* a buffer too small for the text is cut, never overrun */
    ldg_time_rfc3339_ns(small, sizeof small, 0);
    assert_string_equal(small, "1970-01");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time__formats_nanoseconds_in_utc),
        cmocka_unit_test(test_time__formats_seconds_in_utc),
        cmocka_unit_test(test_time__base_and_a_short_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
