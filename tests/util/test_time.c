/*
 * test_time.c — RFC 3339 time text, human output's local time and the
 * monotonic deadlines of timed waits (util/time.c).
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

static void
set_tz(const char *tz)
{
    if (tz != NULL)
        setenv("TZ", tz, 1);
    else
        unsetenv("TZ");
    tzset();
}

/* Local time to the second, in the zone TZ names (--utc sets UTC). */
static void
test_time__local_follows_tz(void **state)
{
    char b[LDG_TIME_LOCAL_LEN];
    const char *tz0 = getenv("TZ");
    char *saved = tz0 != NULL ? strdup(tz0) : NULL;
    (void)state;
    set_tz("UTC");
    assert_string_equal(ldg_time_local(b, sizeof b, 0), "Jan 01 00:00:00");
    assert_int_equal(strlen(b), LDG_TIME_LOCAL_LEN - 1);
    /* to the second: the fraction is dropped, never rounded up */
    assert_string_equal(ldg_time_local(b, sizeof b, 1767225599999999999ull),
                        "Dec 31 23:59:59");
    assert_string_equal(ldg_time_local(b, sizeof b, UINT64_MAX),
                        "Jul 21 23:34:33"); /* 2554 */
    set_tz("XYZ-2");                        /* POSIX: two hours east of UTC */
    assert_string_equal(ldg_time_local(b, sizeof b, 0), "Jan 01 02:00:00");
    set_tz("XYZ+5");
    assert_string_equal(ldg_time_local(b, sizeof b, 0), "Dec 31 19:00:00");
    set_tz(saved);
    free(saved);
}

/* The text is what localtime_r and strftime("%b %d %H:%M:%S") give, which
 * the CLI, ledger query's short format and the timeline each wrote
 * themselves before. */
static void
test_time__local_is_strftimes_text(void **state)
{
    uint64_t x = 0x2545f4914f6cdd1du;
    (void)state;
    for (int i = 0; i < 2000; i++) {
        char got[LDG_TIME_LOCAL_LEN], want[64];
        uint64_t ns;
        time_t secs;
        struct tm tm;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        ns = x % 4102444800000000000u; /* to 2100 */
        secs = (time_t)(ns / 1000000000u);
        assert_non_null(localtime_r(&secs, &tm));
        assert_true(strftime(want, sizeof want, "%b %d %H:%M:%S", &tm) > 0);
        assert_string_equal(ldg_time_local(got, sizeof got, ns), want);
    }
}

static void
test_time__local_in_a_short_buffer_is_a_question_mark(void **state)
{
    char b[LDG_TIME_LOCAL_LEN];
    (void)state;
    assert_string_equal(ldg_time_local(b, LDG_TIME_LOCAL_LEN - 1, 0), "?");
    assert_string_equal(ldg_time_local(b, 2, 0), "?");
    b[0] = 'x';
    assert_string_equal(ldg_time_local(b, 1, 0), "");
    b[0] = 'x';
    ldg_time_local(b, 0, 0); /* writes nothing */
    assert_int_equal(b[0], 'x');
}

static uint64_t
parse(const char *s, unsigned flags, int want_rc)
{
    uint64_t ns = 0;
    assert_int_equal(ldg_time_parse_rfc3339(s, strlen(s), flags, &ns), want_rc);
    return ns;
}

static void
test_time__parses_rfc3339(void **state)
{
    (void)state;
    assert_int_equal(parse("1970-01-01T00:00:00Z", 0, 0), 0);
    assert_int_equal(parse("2026-11-22T20:55:01.25Z", 0, 0),
                     1795380901250000000ull);
    assert_int_equal(parse("2026-11-22t20:55:01.250000000z", 0, 0),
                     1795380901250000000ull);
    assert_int_equal(parse("2026-11-22T21:55:01.25+01:00", 0, 0),
                     1795380901250000000ull);
    assert_int_equal(parse("2026-11-22T19:25:01.25-01:30", 0, 0),
                     1795380901250000000ull);
    assert_int_equal(parse("2026-01-01T00:00:00.123456789Z", 0, 0),
                     1767225600123456789ull);
    /* 2024 is a leap year, 2100 is not, 2000 is */
    assert_int_equal(parse("2024-02-29T00:00:00Z", 0, 0),
                     1709164800000000000ull);
    assert_int_equal(parse("2000-02-29T00:00:00Z", 0, 0),
                     951782400000000000ull);
    /* a leap second is the last nanosecond of its minute */
    assert_int_equal(parse("2016-12-31T23:59:60Z", 0, 0),
                     1483228799999999999ull);
    /* the last representable nanosecond, and one past it */
    assert_int_equal(parse("2554-07-21T23:34:33.709551615Z", 0, 0), UINT64_MAX);
    /* out of range: saturated */
    assert_int_equal(parse("2554-07-21T23:34:33.709551616Z", 0, -2),
                     UINT64_MAX);
    assert_int_equal(parse("2999-01-01T00:00:00Z", 0, -2), UINT64_MAX);
    assert_int_equal(parse("1969-12-31T23:59:59Z", 0, -2), 0);
    assert_int_equal(parse("1970-01-01T00:30:00+01:00", 0, -2), 0);
    /* the text is taken as exactly n bytes */
    {
        uint64_t ns;
        const char *t = "2026-01-01T00:00:00Zjunk";
        assert_int_equal(ldg_time_parse_rfc3339(t, 20, 0, &ns), 0);
        assert_int_equal(ns, 1767225600000000000ull);
        assert_int_equal(ldg_time_parse_rfc3339(t, strlen(t), 0, &ns), -1);
        assert_int_equal(ldg_time_parse_rfc3339(t, 19, 0, &ns), -1);
        assert_int_equal(ldg_time_parse_rfc3339(NULL, 0, 0, &ns), -1);
    }
}

static void
test_time__refuses_what_is_not_rfc3339(void **state)
{
    static const char *const bad[] = {
        "",
        "2026-11-22",
        "2026-11-22T20:55Z",
        "2026-11-22T20:55:01",
        "2026-11-22 20:55:01Z",
        "2026-11-22T20:55:01.Z",
        "2026-11-22T20:55:01.1234567891Z",
        "2026-11-22T20:55:01+0100",
        "2026-11-22T20:55:01+24:00",
        "2026-11-22T20:55:01+01:60",
        "2026-13-01T00:00:00Z",
        "2026-00-01T00:00:00Z",
        "2026-02-29T00:00:00Z",
        "2100-02-29T00:00:00Z",
        "2026-04-31T00:00:00Z",
        "2026-11-00T00:00:00Z",
        "2026-11-22T24:00:00Z",
        "2026-11-22T23:60:00Z",
        "2026-11-22T23:59:61Z",
        "2026-1-22T23:59:59Z",
        "+026-11-22T23:59:59Z",
        "2026-11-22T20:55:01ZZ",
    };
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t ns;
        if (ldg_time_parse_rfc3339(bad[i], strlen(bad[i]), 0, &ns) != -1)
            fail_msg("accepted '%s'", bad[i]);
    }
}

static void
test_time__flags_let_a_space_and_a_long_fraction_pass(void **state)
{
    (void)state;
    assert_int_equal(parse("2026-11-22 20:55:01.25Z", LDG_TIME_SPACE, 0),
                     1795380901250000000ull);
    parse("2026-11-22 20:55:01.25Z", LDG_TIME_LONGFRAC, -1);
    assert_int_equal(
        parse("2026-01-01T00:00:00.1234567899999Z", LDG_TIME_LONGFRAC, 0),
        1767225600123456789ull);
    parse("2026-01-01T00:00:00.1234567899999Z", LDG_TIME_SPACE, -1);
}

/* days_from_civil and back agree on every day from 1600 to 2600, and with
 * the day counts of the months (leap years included). */
static void
test_time__civil_days_round_trip(void **state)
{
    int64_t days = ldg_days_from_civil(1600, 1, 1);
    (void)state;
    assert_int_equal(ldg_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(ldg_days_from_civil(1969, 12, 31), -1);
    assert_int_equal(ldg_days_from_civil(2000, 3, 1), 11017);
    for (int64_t y = 1600; y < 2600; y++)
        for (int m = 1; m <= 12; m++)
            for (int d = 1; d <= ldg_days_in_month(y, m); d++, days++) {
                int64_t yy;
                int mm, dd;
                assert_int_equal(ldg_days_from_civil(y, m, d), days);
                ldg_civil_from_days(days, &yy, &mm, &dd);
                assert_int_equal(yy, y);
                assert_int_equal(mm, m);
                assert_int_equal(dd, d);
            }
    assert_int_equal(ldg_days_in_month(2024, 2), 29);
    assert_int_equal(ldg_days_in_month(1900, 2), 28);
    assert_int_equal(ldg_days_in_month(2026, 13), 0);
}

/* A deadline from ldg_mono_deadline is on CLOCK_MONOTONIC, in_ns ahead. */
static void
test_time__mono_deadline_is_on_the_monotonic_clock(void **state)
{
    (void)state;
    uint64_t before = ldg_now_mono_ns();
    struct timespec d = ldg_mono_deadline(5000000000u);
    uint64_t after = ldg_now_mono_ns();
    uint64_t at = (uint64_t)d.tv_sec * 1000000000u + (uint64_t)d.tv_nsec;
    assert_true(d.tv_nsec >= 0 && d.tv_nsec < 1000000000);
    assert_true(at >= before + 5000000000u && at <= after + 5000000000u);
    d = ldg_mono_timespec(1999999999u);
    assert_int_equal(d.tv_sec, 1);
    assert_int_equal(d.tv_nsec, 999999999);
}

/* ldg_now_mono_ms is ldg_now_mono_ns's clock, in milliseconds. */
static void
test_time__mono_ms_is_mono_ns_in_ms(void **state)
{
    (void)state;
    uint64_t before = ldg_now_mono_ns() / 1000000u;
    uint64_t ms = ldg_now_mono_ms();
    uint64_t after = ldg_now_mono_ns() / 1000000u;
    assert_true(ms >= before && ms <= after);
}

/* A condition variable from ldg_cond_init_mono waits until its monotonic
 * deadline: one on CLOCK_REALTIME would take the deadline (the seconds
 * since boot) for a time in 1970 and return at once. */
static void
test_time__mono_cond_waits_until_its_deadline(void **state)
{
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t cv;
    int rc;
    (void)state;
    assert_int_equal(ldg_cond_init_mono(&cv), 0);
    uint64_t t0 = ldg_now_mono_ns();
    struct timespec d = ldg_mono_deadline(50000000u);
    pthread_mutex_lock(&mu);
    do /* (a spurious wake-up waits again) */
        rc = pthread_cond_timedwait(&cv, &mu, &d);
    while (rc == 0);
    pthread_mutex_unlock(&mu);
    assert_int_equal(rc, ETIMEDOUT);
    assert_true(ldg_now_mono_ns() - t0 >= 50000000u);
    pthread_cond_destroy(&cv);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time__formats_nanoseconds_in_utc),
        cmocka_unit_test(test_time__formats_seconds_in_utc),
        cmocka_unit_test(test_time__base_and_a_short_buffer),
        cmocka_unit_test(test_time__local_follows_tz),
        cmocka_unit_test(test_time__local_is_strftimes_text),
        cmocka_unit_test(test_time__local_in_a_short_buffer_is_a_question_mark),
        cmocka_unit_test(test_time__parses_rfc3339),
        cmocka_unit_test(test_time__refuses_what_is_not_rfc3339),
        cmocka_unit_test(test_time__flags_let_a_space_and_a_long_fraction_pass),
        cmocka_unit_test(test_time__civil_days_round_trip),
        cmocka_unit_test(test_time__mono_deadline_is_on_the_monotonic_clock),
        cmocka_unit_test(test_time__mono_ms_is_mono_ns_in_ms),
        cmocka_unit_test(test_time__mono_cond_waits_until_its_deadline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
