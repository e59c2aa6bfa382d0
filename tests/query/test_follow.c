/*
 * test_follow.c — waking a follower (query/follow.c): a commit by another
 * handle on the same ledger wakes the wait; with nothing written the wait
 * ends by its timeout; a signal ends it early without an error.
 */
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include "tests/query/qtest.h"

/* at layout 8 the commit writes data.mdb; at 9, a frame of DIR/intake */
static void
wakes_at(unsigned layout)
{
    char dir[512], err[256];
    struct ldg_ledger *l = t_ledger_new_layout(dir, sizeof dir, 0, 0, layout);
    struct ldg_ledger *w;
    struct ldg_query_follow *f;
    struct ldg_options o;
    uint64_t size = 0;
    int rc;

    memset(&o, 0, sizeof o);
    o.flags = LDG_NOSYNC | LDG_ANY_LAYOUT; /* (8: the core's test twin) */
    assert_int_equal(ldg_open(&w, dir, &o, err, sizeof err), 0);
    assert_int_equal(ldg_query_follow_new(&f, dir), 0);
    q_append(w, "x.test.follow", NULL, NULL, NULL, "{\"i\":1}");
    /* the event is already queued: the wait returns at once with 1 (the
     * long timeout is only a bound, never reached when inotify works) */
    rc = ldg_query_follow_wait(f, 60000);
    assert_int_equal(rc, 1);
    assert_int_equal(ldg_size(l, &size), 0);
    assert_int_equal(size, 2);
    ldg_query_follow_free(f);
    ldg_close(w);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_follow__commit_by_another_handle_wakes_the_wait(void **state)
{
    (void)state;
    wakes_at(8);
    wakes_at(9);
}

static void
test_follow__quiet_ledger_ends_by_timeout(void **state)
{
    char dir[512];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_query_follow *f;
    (void)state;
    assert_int_equal(ldg_query_follow_new(&f, dir), 0);
    assert_int_equal(ldg_query_follow_wait(f, 1), 0);
    ldg_query_follow_free(f);
    ldg_close(l);
    t_rmrf(dir);
}

static void
on_alarm(int sig)
{
    (void)sig;
}

static void
test_follow__signal_ends_the_wait_quietly(void **state)
{
    char dir[512];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_query_follow *f;
    struct sigaction sa;
    (void)state;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm; /* no SA_RESTART */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    assert_int_equal(ldg_query_follow_new(&f, dir), 0);
    alarm(1);
    assert_int_equal(ldg_query_follow_wait(f, 600000), 0);
    ldg_query_follow_free(f);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_follow__missing_directory_still_waits_by_timeout(void **state)
{
    struct ldg_query_follow *f;
    (void)state;
    assert_int_equal(ldg_query_follow_new(&f, "/nonexistent/ledger"), 0);
    assert_int_equal(ldg_query_follow_wait(f, 1), 0);
    ldg_query_follow_free(f);
    assert_int_equal(ldg_query_follow_new(NULL, "/tmp"), LDG_EINVAL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_follow__commit_by_another_handle_wakes_the_wait),
        cmocka_unit_test(test_follow__quiet_ledger_ends_by_timeout),
        cmocka_unit_test(test_follow__signal_ends_the_wait_quietly),
        cmocka_unit_test(test_follow__missing_directory_still_waits_by_timeout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
