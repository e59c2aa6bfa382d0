/*
 * test_fs.c — mkdir -p (util/fs.c): each missing directory made once with
 * its mode, the ones there kept, the caller told of each new one, and a
 * failure names the directory it stopped at; a buffer written whole, and
 * a write that cannot be finished said with its errno.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

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

static void
test_fs__write_all_writes_whole_or_says_why(void **state)
{
    char path[256];
    static uint8_t big[1 << 20], back[1 << 20];
    int fd, sv[2];
    (void)state;
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 7 + i / 251);
    snprintf(path, sizeof path, "%s/wallXXXXXX", P_tmpdir);
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(ldg_write_all(fd, big, sizeof big, 0), 0);
    assert_int_equal(ldg_write_all(fd, big, 0, 0), 0); /* nothing: ok */
    assert_int_equal(pread(fd, back, sizeof back, 0), (ssize_t)sizeof back);
    assert_memory_equal(back, big, sizeof big);
    close(fd);
    unlink(path);
    /* a full disk: -1 with ENOSPC */
    fd = open("/dev/full", O_WRONLY);
    if (fd >= 0) {
        errno = 0;
        assert_int_equal(ldg_write_all(fd, big, 10, 0), -1);
        assert_int_equal(errno, ENOSPC);
        close(fd);
    }
    /* a socket whose peer is gone: EPIPE, and no SIGPIPE kills us */
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    close(sv[1]);
    errno = 0;
    assert_int_equal(ldg_write_all(sv[0], big, sizeof big, 1), -1);
    assert_int_equal(errno, EPIPE);
    close(sv[0]);
    /* the same socket pair alive: what is sent arrives whole */
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(ldg_write_all(sv[0], "hello\n", 6, 1), 0);
    assert_int_equal(read(sv[1], back, sizeof back), 6);
    assert_memory_equal(back, "hello\n", 6);
    close(sv[0]);
    close(sv[1]);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fs__makes_each_missing_directory_once),
        cmocka_unit_test(test_fs__a_failure_names_where_it_stopped),
        cmocka_unit_test(test_fs__write_all_writes_whole_or_says_why),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
