/*
 * test_spawn.c — jobs in processes of their own (util/spawn.c): the
 * runner forks each job function from itself (no program is executed),
 * and ldg_child_run's answers for a job that exits, runs past its time
 * limit, prints too much, closes its output and runs on, or dies by a
 * signal; a job started while another
 * thread holds a lock does not inherit it; the command lines of util.h's
 * table as argv (the program's own --proxy child).
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/util.h"

static struct ldg_runner *runner;

static void
test_spawn__argv_fills_in_dir(void **state)
{
    char text[LDG_CMD_TEXT_MAX], *argv[LDG_CMD_ARGS_MAX], big[5000];
    (void)state;
    assert_int_equal(
        ldg_cmd_argv(LDG_CMD_PROXY, "/var/lib/my ledger", NULL, text, argv), 0);
    assert_string_equal(argv[0], "ledger");
    assert_string_equal(argv[1], "--dir");
    assert_string_equal(argv[2], "/var/lib/my ledger"); /* one word */
    assert_string_equal(argv[3], "proxy");
    assert_null(argv[4]);
    /* a line with DIR and no dir, and one past the room */
    assert_int_equal(ldg_cmd_argv(LDG_CMD_PROXY, NULL, NULL, text, argv),
                     LDG_EINVAL);
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(
        ldg_cmd_argv("ledger --dir DIR verify DIR", big, NULL, text, argv),
        LDG_ETOOBIG);
}

struct out {
    char text[256];
    size_t len, max;
    int pids;
};

static int
take(void *ctx, const char *p, size_t n)
{
    struct out *o = ctx;
    if (o->len + n > o->max)
        return 1;
    memcpy(o->text + o->len, p, n);
    o->len += n;
    o->text[o->len] = '\0';
    return 0;
}

static void
pid_seen(void *ctx, pid_t pid)
{
    struct out *o = ctx;
    o->pids += pid > 0 ? 1 : 10;
}

/* the jobs: what they say and how they end, by their arguments */
static int
job_says(const char *const *a, size_t n, int fd)
{
    dprintf(fd, "%s\n", a[0]);
    if (n > 1)
        dprintf(2, "%s\n", a[1]); /* stderr goes to the same place */
    return n > 2 ? atoi(a[2]) : 0;
}

static int
job_sleeps(const char *const *a, size_t n, int fd)
{
    (void)a, (void)n, (void)fd;
    sleep(30);
    return 0;
}

static int
job_floods(const char *const *a, size_t n, int fd)
{
    (void)a, (void)n;
    for (;;)
        if (write(fd, "xxxxxxxx\n", 9) < 0)
            return 1;
}

static int
job_goes_quiet(const char *const *a, size_t n, int fd)
{
    (void)a, (void)n;
    dprintf(fd, "bye\n");
    close(0);
    close(1);
    close(2);
    close(fd);
    sleep(600);
    return 0;
}

static int
job_dies(const char *const *a, size_t n, int fd)
{
    (void)a, (void)n, (void)fd;
    raise(SIGTERM);
    return 0;
}

static int
run(ldg_job_fn fn, const char *const *args, size_t nargs, uint64_t limit_ms,
    struct out *o, char *why, size_t cap)
{
    struct ldg_child c = {.runner = runner,
                          .fn = fn,
                          .nargs = nargs,
                          .limit_ms = limit_ms,
                          .out = take,
                          .pid = pid_seen,
                          .ctx = o};
    for (size_t i = 0; i < nargs; i++)
        c.args[i] = args[i];
    memset(o->text, 0, sizeof o->text);
    o->len = o->pids = 0;
    why[0] = '\0';
    return ldg_child_run(&c, why, cap);
}

static void
test_spawn__job_answers(void **state)
{
    const char *says[] = {"one", "two", "3"};
    struct out o = {.max = 200};
    char why[256];
    (void)state;
    /* its output, stderr too, and its exit code; the pid told, then 0 */
    assert_int_equal(run(job_says, says, 3, 10000, &o, why, sizeof why), 3);
    assert_string_equal(o.text, "one\ntwo\n");
    assert_int_equal(o.pids, 11);
    /* past its time limit: killed, and said so */
    assert_int_equal(run(job_sleeps, NULL, 0, 300, &o, why, sizeof why),
                     LDG_CHILD_NO_EXIT);
    assert_non_null(strstr(why, "its time limit"));
    /* more output than the caller takes */
    o.max = 10;
    assert_int_equal(run(job_floods, NULL, 0, 10000, &o, why, sizeof why),
                     LDG_CHILD_NO_EXIT);
    assert_non_null(strstr(why, "printed too much"));
    /* one that closes its output and runs on: killed, not waited for */
    o.max = 200;
    assert_int_equal(run(job_goes_quiet, NULL, 0, 60000, &o, why, sizeof why),
                     LDG_CHILD_NO_EXIT);
    assert_string_equal(o.text, "bye\n");
    assert_string_equal(why, "killed by signal 9");
    /* a signal */
    assert_int_equal(run(job_dies, NULL, 0, 10000, &o, why, sizeof why),
                     LDG_CHILD_NO_EXIT);
    assert_string_equal(why, "killed by signal 15");
}

/* A lock another thread holds when the job starts is not the job's: the
 * runner forked before that thread took it. */
static pthread_mutex_t held = PTHREAD_MUTEX_INITIALIZER;

static int
job_locks(const char *const *a, size_t n, int fd)
{
    (void)a, (void)n;
    if (pthread_mutex_trylock(&held) != 0)
        return 9;
    dprintf(fd, "free\n");
    return 0;
}

static void *
hold(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&held);
    sleep(2);
    pthread_mutex_unlock(&held);
    return NULL;
}

static void
test_spawn__a_job_inherits_no_lock(void **state)
{
    struct out o = {.max = 200};
    pthread_t t;
    char why[256];
    (void)state;
    assert_int_equal(pthread_create(&t, NULL, hold, NULL), 0);
    while (pthread_mutex_trylock(&held) == 0) { /* until the thread has it */
        pthread_mutex_unlock(&held);
        usleep(1000);
    }
    assert_int_equal(run(job_locks, NULL, 0, 10000, &o, why, sizeof why), 0);
    assert_string_equal(o.text, "free\n");
    pthread_join(t, NULL);
}

static void
test_spawn__no_runner(void **state)
{
    struct ldg_child c = {.fn = job_says, .limit_ms = 1000};
    char why[256];
    (void)state;
    assert_int_equal(ldg_child_run(&c, why, sizeof why), LDG_CHILD_NO_EXIT);
    assert_non_null(strstr(why, "no job runner"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spawn__argv_fills_in_dir),
        cmocka_unit_test(test_spawn__job_answers),
        cmocka_unit_test(test_spawn__a_job_inherits_no_lock),
        cmocka_unit_test(test_spawn__no_runner),
    };
    int rc;
    /* before any thread, as the header asks */
    if (ldg_runner_new(&runner) < 0)
        return 1;
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    ldg_runner_free(runner);
    return rc;
}
