/*
 * test_report.c — util/report.c: ldg_errf writes its message (cut to the
 * buffer, nothing without one) and returns its code; and the assertion
 * family: in an LDG_DEBUG build (make asan) a broken LDG_ASSERT, ALWAYS or
 * NEVER aborts the process naming its condition, file and line, and one
 * that holds does nothing; in a release build they cost nothing and
 * ALWAYS(x) and NEVER(x) are x.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/util.h"

static void
test_report__errf_writes_and_returns(void **state)
{
    char err[8];
    (void)state;
    assert_int_equal(ldg_errf(err, sizeof err, LDG_EIO, "%s %d", "disk", 42),
                     LDG_EIO);
    assert_string_equal(err, "disk 42");
    assert_int_equal(
        ldg_errf(err, sizeof err, LDG_EBADINPUT, "%s", "a longer message"),
        LDG_EBADINPUT);
    assert_string_equal(err, "a longe"); /* cut, NUL-terminated */
    assert_int_equal(ldg_errf(NULL, 0, LDG_ENOMEM, "nowhere"), LDG_ENOMEM);
    assert_int_equal(ldg_errf(err, 0, 0, "no room"), 0);
}

/* The exit status of a child running fn, its stderr into out. */
static int
in_child(void (*fn)(void), char *out, size_t cap)
{
    int p[2], st = 0;
    ssize_t n;
    pid_t pid;
    assert_int_equal(pipe(p), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(p[1], 2);
        close(p[0]);
        fn();
        _exit(0);
    }
    close(p[1]);
    n = read(p[0], out, cap - 1);
    out[n > 0 ? n : 0] = '\0';
    close(p[0]);
    waitpid(pid, &st, 0);
    return st;
}

static volatile int two = 2;

static void
broken_assert(void)
{
    LDG_ASSERT(two == 3);
}

static void
broken_never(void)
{
    if (LDG_NEVER(two == 2))
        _exit(7);
}

static void
holding(void)
{
    LDG_ASSERT(two == 2);
    if (!LDG_ALWAYS(two == 2) || LDG_NEVER(two == 3))
        _exit(9);
}

static void
test_report__assertions(void **state)
{
    char out[512];
    int st;
    (void)state;
    assert_int_equal(in_child(holding, out, sizeof out), 0);
    assert_string_equal(out, "");
#ifdef LDG_DEBUG
    st = in_child(broken_assert, out, sizeof out);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
    assert_non_null(strstr(out, "assertion failed: two == 3"));
    assert_non_null(strstr(out, "test_report.c:"));
    st = in_child(broken_never, out, sizeof out);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
#else
    /* compiled out: not evaluated, and the handled branch is taken */
    st = in_child(broken_assert, out, sizeof out);
    assert_int_equal(st, 0);
    st = in_child(broken_never, out, sizeof out);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 7);
#endif
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_report__errf_writes_and_returns),
        cmocka_unit_test(test_report__assertions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
