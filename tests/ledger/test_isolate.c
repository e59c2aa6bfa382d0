/*
 * test_isolate.c — ledger/isolate.c: a child killed by what it read is a
 * finding that says how far it got; one stopped from outside is not; a
 * ledger verified in a child gives the report it would give here.
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

#include "ledger/ledger_int.h"
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

static void
test_isolate__verify_in_a_child_gives_the_report(void **state)
{
    char dir[256], err[512], missing[300];
    struct ldg_verify_report r;
    struct ldg_options o;
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    uint64_t size = 0;
    (void)state;

    t_append_many(l, 9);
    assert_int_equal(ldg_size(l, &size), 0);
    ldg_close(l);
    memset(&o, 0, sizeof o);
    o.flags = LDG_RDONLY;
    assert_int_equal(ldg_verify_isolated(dir, &o, LDG_VERIFY_FULL, 0, &r, NULL,
                                         NULL, err, sizeof err),
                     0);
    assert_int_equal(r.to, size);
    assert_int_equal(r.full, 1);
    assert_string_equal(r.what, "");
    /* no ledger there: the open's error, not a finding */
    snprintf(missing, sizeof missing, "%s/none", dir);
    assert_int_equal(
        ldg_verify_isolated(missing, &o, 0, 0, &r, NULL, NULL, err, sizeof err),
        LDG_ENOTFOUND);
    assert_true(err[0] != '\0');
    t_rmrf(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_isolate__a_read_that_kills_is_a_finding),
        cmocka_unit_test(test_isolate__stopped_from_outside_is_not_a_finding),
        cmocka_unit_test(test_isolate__the_childs_exit_status_comes_back),
        cmocka_unit_test(test_isolate__verify_in_a_child_gives_the_report),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
