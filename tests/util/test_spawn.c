/*
 * test_spawn.c — the ledger program run as a child (util/spawn.c): the
 * command line made from a table entry, and ldg_child_run's answers for a
 * child that exits, runs past its time limit, prints too much or dies by
 * a signal. /bin/sh stands in for the program: "ledger -c URL" runs URL
 * as a script.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "util/util.h"

static void
test_spawn__argv_fills_in_dir_and_url(void **state)
{
    char text[LDG_CMD_TEXT_MAX], *argv[LDG_CMD_ARGS_MAX], big[5000];
    (void)state;
    assert_int_equal(ldg_cmd_argv(LDG_CMD_JOB_PUBLISH, "/var/lib/my ledger",
                                  "https://x/y", text, argv),
                     0);
    assert_string_equal(argv[0], "ledger");
    assert_string_equal(argv[1], "--dir");
    assert_string_equal(argv[2], "/var/lib/my ledger"); /* one word */
    assert_string_equal(argv[3], "publish");
    assert_string_equal(argv[4], "https://x/y");
    assert_null(argv[5]);
    /* a line with URL and no url, and one past the room */
    assert_int_equal(ldg_cmd_argv(LDG_CMD_JOB_SHIP, "d", NULL, text, argv),
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

static int
run(const char *script, uint64_t limit_ms, struct out *o, char *why, size_t cap)
{
    struct ldg_child c = {.exe = "/bin/sh",
                          .line = "ledger -c URL",
                          .url = script,
                          .with_stderr = 1,
                          .limit_ms = limit_ms,
                          .out = take,
                          .pid = pid_seen,
                          .ctx = o};
    memset(o->text, 0, sizeof o->text);
    o->len = o->pids = 0;
    why[0] = '\0';
    return ldg_child_run(&c, why, cap);
}

static void
test_spawn__child_answers(void **state)
{
    struct out o = {.max = 200};
    char why[256];
    (void)state;
    /* its output, stderr too, and its exit code; the pid told, then 0 */
    assert_int_equal(
        run("echo one; echo two >&2; exit 3", 10000, &o, why, sizeof why), 3);
    assert_string_equal(o.text, "one\ntwo\n");
    assert_int_equal(o.pids, 11);
    /* past its time limit: killed, and said so */
    assert_int_equal(run("exec sleep 5", 300, &o, why, sizeof why),
                     LDG_CHILD_NO_EXIT);
    assert_non_null(strstr(why, "its time limit"));
    /* more output than the caller takes */
    o.max = 10;
    assert_int_equal(
        run("while :; do echo xxxxxxxx; done", 10000, &o, why, sizeof why),
        LDG_CHILD_NO_EXIT);
    assert_non_null(strstr(why, "printed too much"));
    /* a signal */
    o.max = 200;
    assert_int_equal(run("kill -TERM $$", 10000, &o, why, sizeof why),
                     LDG_CHILD_NO_EXIT);
    assert_string_equal(why, "killed by signal 15");
}

static void
test_spawn__a_program_that_is_not_there(void **state)
{
    struct ldg_child c = {.exe = "/nonexistent/ledger",
                          .line = LDG_CMD_SCRAPE,
                          .dir = "/tmp",
                          .limit_ms = 1000};
    char why[256];
    (void)state;
    assert_int_equal(ldg_child_run(&c, why, sizeof why), LDG_CHILD_NO_EXIT);
    assert_non_null(strstr(why, "cannot start /nonexistent/ledger"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spawn__argv_fills_in_dir_and_url),
        cmocka_unit_test(test_spawn__child_answers),
        cmocka_unit_test(test_spawn__a_program_that_is_not_there),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
