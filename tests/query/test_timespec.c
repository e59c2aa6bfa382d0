/*
 * test_timespec.c — the systemd.time(7) / RFC 3339 grammar
 * (query/timespec.c): each form against known answers, bad specs with
 * clear errors, and, when systemd-analyze is installed, every form both
 * accept compared with `systemd-analyze timestamp`.
 */
#include <time.h>

#include "tests/query/qtest.h"
#include "util/util.h"

#define S 1000000000ull

/* A fixed "now": 2026-11-21 15:10:29.5 UTC (a Saturday). */
static const uint64_t NOW = 1795273829ull * S + 500000000ull;

static uint64_t
parse_ok(const char *spec, uint64_t now)
{
    char err[512];
    uint64_t v = 0;
    int rc = ldg_query_parse_time(spec, now, &v, err, sizeof err);
    if (rc != 0)
        fail_msg("'%s' should parse: %s", spec, err);
    return v;
}

static void
parse_bad(const char *spec, const char *why)
{
    char err[512] = "";
    uint64_t v = 0;
    int rc = ldg_query_parse_time(spec, NOW, &v, err, sizeof err);
    if (rc != LDG_EBADINPUT)
        fail_msg("'%s' should be refused, got %d (%llu)", spec, rc,
                 (unsigned long long)v);
    if (strstr(err, why) == NULL)
        fail_msg("'%s': message '%s' does not say '%s'", spec, err, why);
    assert_non_null(strstr(err, "bad time"));
}

static void
set_tz(const char *tz)
{
    setenv("TZ", tz, 1);
    tzset();
}

static void
test_timespec__now_and_epoch(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("now", NOW), NOW);
    assert_int_equal(parse_ok("@1763600000", NOW), 1763600000ull * S);
    assert_int_equal(parse_ok("@1763600000.25", NOW),
                     1763600000ull * S + 250000000ull);
    assert_int_equal(parse_ok("@0", NOW), 0);
}

static void
test_timespec__relative_forms(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("-1h", NOW), NOW - 3600 * S);
    assert_int_equal(parse_ok("+3d", NOW), NOW + 3 * 86400 * S);
    assert_int_equal(parse_ok("- 1h", NOW), NOW - 3600 * S);
    assert_int_equal(parse_ok("-1h30min", NOW), NOW - 5400 * S);
    assert_int_equal(parse_ok("-1h 30min", NOW), NOW - 5400 * S);
    assert_int_equal(parse_ok("11min ago", NOW), NOW - 660 * S);
    assert_int_equal(parse_ok("1h 30min ago", NOW), NOW - 5400 * S);
    assert_int_equal(parse_ok("1.5h ago", NOW), NOW - 5400 * S);
    assert_int_equal(parse_ok("3 ago", NOW), NOW - 3 * S);
    assert_int_equal(parse_ok("500ms ago", NOW), NOW - 500000000ull);
    assert_int_equal(parse_ok("1 usec ago", NOW), NOW - 1000);
    assert_int_equal(parse_ok("2us ago", NOW), NOW - 2000);
    assert_int_equal(parse_ok("7ns ago", NOW), NOW - 7);
    assert_int_equal(parse_ok("1h left", NOW), NOW + 3600 * S);
    assert_int_equal(parse_ok("3 weeks ago", NOW), NOW - 3 * 604800 * S);
    assert_int_equal(parse_ok("1w ago", NOW), NOW - 604800 * S);
    /* M is months (30.44 days), m minutes; y is 365.25 days */
    assert_int_equal(parse_ok("1M ago", NOW), NOW - 2629800 * S);
    assert_int_equal(parse_ok("2 months ago", NOW), NOW - 2 * 2629800 * S);
    assert_int_equal(parse_ok("1m ago", NOW), NOW - 60 * S);
    assert_int_equal(parse_ok("1y ago", NOW), NOW - 31557600 * S);
    assert_int_equal(parse_ok("1 year ago", NOW), NOW - 31557600 * S);
    assert_int_equal(parse_ok("1d2h ago", NOW), NOW - 93600 * S);
    assert_int_equal(parse_ok("2 seconds ago", NOW), NOW - 2 * S);
    assert_int_equal(parse_ok("1 hr ago", NOW), NOW - 3600 * S);
    assert_int_equal(parse_ok("5 minutes ago", NOW), NOW - 300 * S);
}

static void
test_timespec__absolute_utc_and_rfc3339(void **state)
{
    (void)state;
    /* known answers, as `systemd-analyze timestamp` prints them */
    assert_int_equal(parse_ok("2026-11-20 10:00 UTC", NOW), 1795168800ull * S);
    assert_int_equal(parse_ok("2026-11-20 10:00:00.5 UTC", NOW),
                     1795168800ull * S + 500000000ull);
    assert_int_equal(parse_ok("2026-11-20T10:00:00Z", NOW), 1795168800ull * S);
    assert_int_equal(parse_ok("2026-11-20T10:00:00.123456789Z", NOW),
                     1795168800ull * S + 123456789ull);
    assert_int_equal(parse_ok("2026-11-20T10:00:00+02:00", NOW),
                     1795161600ull * S);
    assert_int_equal(parse_ok("2026-11-20T10:00:00-0130", NOW),
                     (1795168800ull + 5400) * S);
    assert_int_equal(parse_ok("2026-11-20 10:00 +02:00", NOW),
                     1795161600ull * S);
    assert_int_equal(parse_ok("2026-11-20 10:00Z", NOW), 1795168800ull * S);
    assert_int_equal(parse_ok("2026-11-20 UTC", NOW), 1795132800ull * S);
    assert_int_equal(parse_ok("Fri 2026-11-20 10:00 UTC", NOW),
                     1795168800ull * S);
    assert_int_equal(parse_ok("friday 2026-11-20 10:00 UTC", NOW),
                     1795168800ull * S);
    assert_int_equal(parse_ok("2024-02-29 00:00 UTC", NOW), 1709164800ull * S);
    assert_int_equal(parse_ok("1970-01-01 00:00:00 UTC", NOW), 0);
}

static void
test_timespec__local_zone_from_tz(void **state)
{
    (void)state;
    set_tz("America/New_York");
    /* EST (UTC-5) in November */
    assert_int_equal(parse_ok("2026-11-20 10:00", NOW), 1795186800ull * S);
    assert_int_equal(parse_ok("Fri 2026-11-20", NOW), 1795150800ull * S);
    assert_int_equal(parse_ok("26-11-20", NOW), 1795150800ull * S);
    /* EDT (UTC-4) in July */
    assert_int_equal(parse_ok("2026-07-01 12:00", NOW), 1782921600ull * S);
    /* today/yesterday/tomorrow are local midnights */
    assert_int_equal(parse_ok("today", NOW), 1795237200ull * S);
    assert_int_equal(parse_ok("yesterday", NOW), 1795150800ull * S);
    assert_int_equal(parse_ok("tomorrow", NOW), 1795323600ull * S);
    assert_int_equal(parse_ok("today UTC", NOW), 1795219200ull * S);
    /* a time alone is today at that time */
    assert_int_equal(parse_ok("10:00", NOW), 1795273200ull * S);
    set_tz("UTC");
    assert_int_equal(parse_ok("today", NOW), 1795219200ull * S);
    assert_int_equal(parse_ok("2026-11-20 10:00", NOW), 1795168800ull * S);
}

static void
test_timespec__bad_specs_say_why(void **state)
{
    (void)state;
    set_tz("UTC");
    parse_bad("", "empty");
    parse_bad("soon", "not a date, time or known word");
    parse_bad("2026-02-30", "no such date");
    parse_bad("2026-13-01", "no such date");
    parse_bad("2026-11-20 25:00", "no such time of day");
    parse_bad("2026-11-20 10:61", "no such time of day");
    parse_bad("Sat 2026-11-20", "is a Friday, not a Saturday");
    parse_bad("-1x", "unknown time unit");
    parse_bad("1 fortnight ago", "unknown time unit");
    parse_bad("ago ago", "expected a number");
    parse_bad("@", "'@' must be followed by seconds");
    parse_bad("@12x", "trailing characters");
    parse_bad("-100y", "before 1970");
    /* past 2^64 ns only with the fraction: once wrapped to 130 days */
    parse_bad("-584.9y", "time span too large");
    parse_bad("584.9y ago", "time span too large");
    parse_bad("+584.9y", "time span too large");
    parse_bad("-584y 0.9y", "time span too large");
    parse_bad("1969-12-31 23:00 UTC", "before 1970");
    parse_bad("2026-11-20 10:00 Mars/Olympus", "unknown time zone");
    parse_bad("2026-11-20 10:00 UTC extra", "");
    parse_bad("today 10:00", "only a time zone may follow");
    parse_bad("Fri", "weekday must come first");
    parse_bad("2026-11-20T", "expected HH:MM");
}

/* ------------------------------------------------- systemd-analyze -- */

static int
have_systemd_analyze(void)
{
    return system("systemd-analyze --version >/dev/null 2>&1") == 0;
}

/* systemd's answer in microseconds; 0 if it refuses the spec. */
static int
systemd_us(const char *spec, uint64_t *us)
{
    char cmd[512], line[512];
    FILE *p;
    int found = 0;
    snprintf(cmd, sizeof cmd, "systemd-analyze timestamp -- '%s' 2>/dev/null",
             spec);
    p = popen(cmd, "r");
    assert_non_null(p);
    while (fgets(line, sizeof line, p) != NULL) {
        char *at = strstr(line, "UNIX seconds: @");
        if (at != NULL) {
            unsigned long long secs = 0, frac = 0;
            char fr[16] = "";
            int n = sscanf(at + 15, "%llu.%15[0-9]", &secs, fr);
            if (n >= 1) {
                size_t k = strlen(fr);
                frac = strtoull(fr, NULL, 10);
                for (; k < 6; k++)
                    frac *= 10;
                *us = secs * 1000000ull + frac;
                found = 1;
            }
        }
    }
    pclose(p);
    return found;
}

static void
test_timespec__agrees_with_systemd_analyze(void **state)
{
    static const char *const specs[] = {"yesterday",
                                        "today",
                                        "tomorrow",
                                        "today UTC",
                                        "now",
                                        "2026-11-20 10:00",
                                        "2026-11-20 10:00:30",
                                        "2026-11-20",
                                        "2026-11-20 10:00 UTC",
                                        "2026-11-20 10:00:00.5 UTC",
                                        "@1763600000",
                                        "@1763600000.25",
                                        "Fri 2026-11-20",
                                        "Sat 2026-11-21 10:00",
                                        "friday 2026-11-20",
                                        "26-11-20",
                                        "2026-07-01 12:00",
                                        "2026-11-20T10:00:00Z",
                                        "2026-11-20T10:00:00+02:00",
                                        "10:00",
                                        "23:59:59",
                                        "-1h",
                                        "-1h30min",
                                        "- 1h",
                                        "-1h 30min",
                                        "+1h",
                                        "+3d",
                                        "11min ago",
                                        "1h 30min ago",
                                        "1.5h ago",
                                        "3 ago",
                                        "500ms ago",
                                        "1 usec ago",
                                        "3 weeks ago",
                                        "2 months ago",
                                        "1y ago",
                                        "1M ago",
                                        "1m ago",
                                        "1d2h ago",
                                        "1h left",
                                        "2 seconds ago",
                                        "5 minutes ago"};
    int compared = 0;
    (void)state;
    if (!have_systemd_analyze()) {
        print_message("systemd-analyze not installed: comparison skipped\n");
        skip();
    }
    set_tz("America/New_York");
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        uint64_t t0 = ldg_now_wall_ns(), t1, theirs, lo, hi;
        char err[512];
        int ok = systemd_us(specs[i], &theirs);
        t1 = ldg_now_wall_ns();
        if (!ok)
            continue; /* an older systemd does not know this form */
        /* ours evaluated at the instants before and after systemd ran
         * brackets its answer (exactly equal for absolute forms) */
        assert_int_equal(
            ldg_query_parse_time(specs[i], t0, &lo, err, sizeof err), 0);
        assert_int_equal(
            ldg_query_parse_time(specs[i], t1, &hi, err, sizeof err), 0);
        if (!(lo / 1000 <= theirs && theirs <= hi / 1000 + 1))
            fail_msg("'%s': systemd says %llu us, ours %llu..%llu us", specs[i],
                     (unsigned long long)theirs,
                     (unsigned long long)(lo / 1000),
                     (unsigned long long)(hi / 1000));
        compared++;
    }
    print_message("compared %d specs with systemd-analyze\n", compared);
    assert_true(compared > 20);
}

/* A span alone ("5s": systemd refuses it too) names both directions. */
static void
test_timespec__a_span_alone_asks_which_way(void **state)
{
    static const char *const spans[] = {"5s", "2 days", "1h30min", "10.5",
                                        "10"};
    char err[512], want[128];
    uint64_t v;
    (void)state;
    for (size_t i = 0; i < sizeof spans / sizeof spans[0]; i++) {
        snprintf(want, sizeof want, "'-%s' or '%s ago'", spans[i], spans[i]);
        parse_bad(spans[i], want);
        snprintf(want, sizeof want, "'+%s' after", spans[i]);
        parse_bad(spans[i], want);
    }
    /* a point: '--at 5s' says so too */
    assert_int_equal(ldg_query_parse_point("5s", NOW, &v, &v, err, sizeof err),
                     LDG_EBADINPUT);
    assert_non_null(strstr(err, "'-5s' or '5s ago'"));
    /* what is not a span keeps its own message */
    parse_bad("10:61", "no such time of day");
    parse_bad("20261120x", "expected YYYY-MM-DD or HH:MM[:SS]");
}

/* SEQ|TIME (--at, --before): digits are a seq, a time is a time, and a
 * sign with a number alone, which the grammar reads as seconds from now,
 * asks for a unit instead of meaning "1 s ago" beside sequence numbers. */
static void
test_timespec__point_is_a_seq_or_a_time_with_a_unit(void **state)
{
    static const char *const unitless[] = {"-1", "+5", "-1.5", "-0"};
    char err[600];
    uint64_t seq = 0, ns = 0;
    (void)state;

    assert_int_equal(
        ldg_query_parse_point("212", NOW, &seq, &ns, err, sizeof err), 1);
    assert_int_equal(seq, 212);
    assert_int_equal(
        ldg_query_parse_point("-1s", NOW, &seq, &ns, err, sizeof err), 0);
    assert_int_equal(ns, NOW - S);
    assert_int_equal(
        ldg_query_parse_point("1 days ago", NOW, &seq, &ns, err, sizeof err),
        0);
    assert_int_equal(ns, NOW - 86400 * S);
    for (size_t i = 0; i < sizeof unitless / sizeof unitless[0]; i++) {
        err[0] = '\0';
        assert_int_equal(
            ldg_query_parse_point(unitless[i], NOW, &seq, &ns, err, sizeof err),
            LDG_EBADINPUT);
        assert_non_null(strstr(err, "as a time it needs a unit"));
        assert_non_null(strstr(err, unitless[i]));
    }
    /* the time grammar alone still reads them as seconds (systemd's) */
    assert_int_equal(parse_ok("-1", NOW), NOW - S);
    assert_int_equal(ldg_query_parse_point("18446744073709551615", NOW, &seq,
                                           &ns, err, sizeof err),
                     LDG_EBADINPUT);
    assert_non_null(strstr(err, "more than any sequence number"));
    assert_int_equal(
        ldg_query_parse_point("half past", NOW, &seq, &ns, err, sizeof err),
        LDG_EBADINPUT);
    assert_non_null(strstr(err, "neither a sequence number nor a time"));
    assert_int_equal(ldg_query_parse_point("", NOW, &seq, &ns, err, sizeof err),
                     LDG_EBADINPUT);
    /* --before may lie past the log's end (all of it): a time */
    assert_int_equal(
        ldg_query_parse_point("+1h", NOW, &seq, &ns, err, sizeof err), 0);
    assert_int_equal(ns, NOW + 3600 * S);
}

/* --at: a point as above, and a time after now is refused (the log has no
 * state there), with *ns set to it so the caller can tell this refusal
 * from the others; now itself is not the future. */
static void
test_timespec__at_refuses_the_future(void **state)
{
    char err[600];
    uint64_t seq = 0, ns = 0;
    (void)state;

    err[0] = '\0';
    assert_int_equal(ldg_query_parse_at("+1h", NOW, &seq, &ns, err, sizeof err),
                     LDG_EBADINPUT);
    assert_non_null(strstr(err, "'+1h' is in the future ("));
    assert_int_equal(ns, NOW + 3600 * S);
    ns = 0;
    assert_int_equal(
        ldg_query_parse_at("tomorrow", NOW, &seq, &ns, err, sizeof err),
        LDG_EBADINPUT);
    assert_true(ns > NOW);
    assert_int_equal(ldg_query_parse_at("now", NOW, &seq, &ns, err, sizeof err),
                     0);
    assert_int_equal(ns, NOW);
    assert_int_equal(ldg_query_parse_at("-1s", NOW, &seq, &ns, err, sizeof err),
                     0);
    assert_int_equal(ns, NOW - S);
    assert_int_equal(ldg_query_parse_at("212", NOW, &seq, &ns, err, sizeof err),
                     1);
    assert_int_equal(seq, 212);
    ns = 7; /* the other refusals leave *ns */
    assert_int_equal(
        ldg_query_parse_at("half past", NOW, &seq, &ns, err, sizeof err),
        LDG_EBADINPUT);
    assert_int_equal(ns, 7);
    assert_int_equal(ldg_query_parse_at("-1", NOW, &seq, &ns, err, sizeof err),
                     LDG_EBADINPUT);
    assert_int_equal(ns, 7);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timespec__now_and_epoch),
        cmocka_unit_test(test_timespec__relative_forms),
        cmocka_unit_test(test_timespec__absolute_utc_and_rfc3339),
        cmocka_unit_test(test_timespec__local_zone_from_tz),
        cmocka_unit_test(test_timespec__bad_specs_say_why),
        cmocka_unit_test(test_timespec__a_span_alone_asks_which_way),
        cmocka_unit_test(test_timespec__point_is_a_seq_or_a_time_with_a_unit),
        cmocka_unit_test(test_timespec__at_refuses_the_future),
        cmocka_unit_test(test_timespec__agrees_with_systemd_analyze),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
