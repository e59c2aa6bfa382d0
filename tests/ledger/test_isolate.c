/*
 * test_isolate.c — ledger/isolate.c: a child killed by what it read is a
 * finding that says how far it got; one stopped from outside is not; the
 * child's exit status comes back.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/support/support.h"

/* a child that gets as far as event 7 of 20 from 5, then dies of sig */
static int
dies(void *ctx, struct ldg_isolation *iso)
{
    int sig = *(int *)ctx;
    if (iso != NULL) {
        iso->start = 5;
        iso->started = 1;
        ldg_isolation_progress(iso, 7, 20);
    }
    raise(sig);
    return 3;
}

static int
exits(void *ctx, struct ldg_isolation *iso)
{
    (void)iso;
    return *(int *)ctx;
}

static void
test_isolate__a_read_that_kills_is_a_finding(void **state)
{
    int sig = SIGBUS, st = 0;
    char what[512];
    (void)state;
    assert_int_equal(ldg_run_isolated(dies, &sig, &st, what, sizeof what),
                     LDG_ETAMPER);
    assert_int_equal(st, 128 + SIGBUS);
    assert_non_null(strstr(what, "storage corrupt at or after seq 5"));
    assert_non_null(strstr(what, "after 2 of the events up to 20"));
    sig = SIGABRT;
    assert_int_equal(ldg_run_isolated(dies, &sig, &st, what, sizeof what),
                     LDG_ETAMPER);
    assert_non_null(strstr(what, "killed the verifier"));
}

static void
test_isolate__stopped_from_outside_is_not_a_finding(void **state)
{
    int sig = SIGTERM, st = 0;
    char what[512];
    (void)state;
    assert_int_equal(ldg_run_isolated(dies, &sig, &st, what, sizeof what), 0);
    assert_int_equal(st, 128 + SIGTERM);
    assert_non_null(strstr(what, "stopped by signal"));
    assert_null(strstr(what, "corrupt"));
}

static void
test_isolate__the_childs_exit_status_comes_back(void **state)
{
    int code = 42, st = 0;
    char what[512];
    (void)state;
    assert_int_equal(ldg_run_isolated(exits, &code, &st, what, sizeof what), 0);
    assert_int_equal(st, 42);
    assert_string_equal(what, "");
    assert_int_equal(ldg_run_isolated(NULL, &code, &st, what, sizeof what),
                     LDG_EINVAL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_isolate__a_read_that_kills_is_a_finding),
        cmocka_unit_test(test_isolate__stopped_from_outside_is_not_a_finding),
        cmocka_unit_test(test_isolate__the_childs_exit_status_comes_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
