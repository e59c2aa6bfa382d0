/*
 * test_fs.c — mkdir -p (util/fs.c): each missing directory made once with
 * its mode, the ones there kept, the caller told of each new one, and a
 * failure names the directory it stopped at.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "tests/support/support.h"

struct seen {
    char dirs[8][4200];
    int n, stop_at;
};

static int
made(void *ctx, const char *dir)
{
    struct seen *s = ctx;
    snprintf(s->dirs[s->n], sizeof s->dirs[0], "%s", dir);
    return ++s->n == s->stop_at ? LDG_EFULL : 0;
}

static void
test_fs__makes_each_missing_directory_once(void **state)
{
    char root[256], path[4200];
    struct seen s = {.n = 0};
    struct stat st;
    (void)state;
    snprintf(root, sizeof root, "%s/fsXXXXXX", P_tmpdir);
    assert_non_null(mkdtemp(root));
    snprintf(path, sizeof path, "%s/a/b/c", root);
    assert_int_equal(ldg_mkdir_p(path, strlen(root) + 1, 1, 0700, made, &s), 0);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.dirs[0] + strlen(root), "/a");
    assert_string_equal(s.dirs[2] + strlen(root), "/a/b/c");
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    /* again: nothing new, path as it was */
    assert_int_equal(ldg_mkdir_p(path, 0, 1, 0700, made, &s), 0);
    assert_int_equal(s.n, 3);
    assert_string_equal(path + strlen(root), "/a/b/c");
    /* parents only: the last name is left alone */
    snprintf(path, sizeof path, "%s/d/e/file", root);
    assert_int_equal(ldg_mkdir_p(path, 0, 0, 0755, made, &s), 0);
    assert_int_equal(s.n, 5);
    assert_int_equal(stat(path, &st), -1);
    path[strlen(path) - 5] = '\0';
    assert_int_equal(stat(path, &st), 0);
    t_rmrf(root);
}

static void
test_fs__a_failure_names_where_it_stopped(void **state)
{
    char root[256], path[4200];
    struct seen s = {.n = 0, .stop_at = 1};
    FILE *f;
    (void)state;
    snprintf(root, sizeof root, "%s/fsXXXXXX", P_tmpdir);
    assert_non_null(mkdtemp(root));
    /* a file where a directory should be */
    snprintf(path, sizeof path, "%s/file", root);
    f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
    snprintf(path, sizeof path, "%s/file/x/y", root);
    errno = 0;
    assert_int_equal(ldg_mkdir_p(path, 0, 1, 0755, NULL, NULL), -1);
    assert_int_equal(errno, ENOTDIR);
    assert_string_equal(path + strlen(root), "/file/x");
    /* the caller's refusal stops it and is returned */
    snprintf(path, sizeof path, "%s/g/h", root);
    assert_int_equal(ldg_mkdir_p(path, 0, 1, 0755, made, &s), LDG_EFULL);
    assert_int_equal(s.n, 1);
    assert_string_equal(path + strlen(root), "/g/h");
    t_rmrf(root);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fs__makes_each_missing_directory_once),
        cmocka_unit_test(test_fs__a_failure_names_where_it_stopped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
