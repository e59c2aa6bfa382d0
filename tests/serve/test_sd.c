/*
 * test_sd.c — serve/sd.c: socket activation and sd_notify through
 * libsystemd, against sockets this test makes (the e2e test
 * serve_systemd.sh runs the daemon under systemd-socket-activate).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "serve/serve.h"

static char dir[64];

static int
setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/test_sd.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int
teardown(void **state)
{
    char p[128];
    (void)state;
    snprintf(p, sizeof p, "%s/s", dir);
    unlink(p);
    rmdir(dir);
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_PID");
    unsetenv("NOTIFY_SOCKET");
    return 0;
}

static int
unix_socket(int type, int listening, struct sockaddr_un *sa)
{
    int fd = socket(AF_UNIX, type, 0);
    assert_true(fd >= 0);
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    snprintf(sa->sun_path, sizeof sa->sun_path, "%s/s", dir);
    unlink(sa->sun_path);
    assert_int_equal(bind(fd, (struct sockaddr *)sa, sizeof *sa), 0);
    if (listening)
        assert_int_equal(listen(fd, 4), 0);
    return fd;
}

/* Puts fd at 3 (SD_LISTEN_FDS_START; nothing else of this test's is
 * there) and says so in the environment. */
static int
pass_as_3(int fd, int n)
{
    char v[32];
    if (fd != 3) {
        assert_int_equal(dup2(fd, 3), 3);
        close(fd);
    }
    snprintf(v, sizeof v, "%d", n);
    setenv("LISTEN_FDS", v, 1);
    snprintf(v, sizeof v, "%ld", (long)getpid());
    setenv("LISTEN_PID", v, 1);
    return -1;
}

static void
restore_3(int saved)
{
    if (saved >= 0) {
        dup2(saved, 3);
        close(saved);
    } else
        close(3);
}

static void
test_sd__nothing_passed(void **state)
{
    int fd = 7;
    char err[300];
    (void)state;
    unsetenv("LISTEN_FDS");
    unsetenv("NOTIFY_SOCKET");
    assert_int_equal(ldg_serve_sd_listen(&fd, err, sizeof err), 0);
    assert_int_equal(fd, -1);
    assert_int_equal(ldg_serve_sd_notify("READY=1"), 0);
    /* for another process: not ours */
    setenv("LISTEN_FDS", "1", 1);
    setenv("LISTEN_PID", "1", 1);
    assert_int_equal(ldg_serve_sd_listen(&fd, err, sizeof err), 0);
}

static void
test_sd__a_listening_stream_socket(void **state)
{
    struct sockaddr_un sa;
    char err[300];
    int fd, saved;
    (void)state;
    saved = pass_as_3(unix_socket(SOCK_STREAM, 1, &sa), 1);
    if (ldg_serve_sd_listen(&fd, err, sizeof err) != 1)
        fail_msg("%s", err);
    assert_int_equal(fd, 3);
    /* sd_listen_fds(1) unset the variables: the jobs it starts do not
     * take the socket for theirs */
    assert_null(getenv("LISTEN_FDS"));
    assert_null(getenv("LISTEN_PID"));
    restore_3(saved);
}

static void
test_sd__refused_sockets(void **state)
{
    struct sockaddr_un sa;
    char err[300];
    int fd, saved;
    (void)state;
    saved = pass_as_3(unix_socket(SOCK_DGRAM, 0, &sa), 1);
    assert_int_equal(ldg_serve_sd_listen(&fd, err, sizeof err), LDG_EINVAL);
    assert_non_null(strstr(err, "not a listening Unix stream socket"));
    restore_3(saved);
    saved = pass_as_3(unix_socket(SOCK_STREAM, 0, &sa), 1); /* not listening */
    assert_int_equal(ldg_serve_sd_listen(&fd, err, sizeof err), LDG_EINVAL);
    restore_3(saved);
    saved = pass_as_3(unix_socket(SOCK_STREAM, 1, &sa), 2);
    assert_int_equal(dup2(3, 4), 4); /* the second one */
    assert_int_equal(ldg_serve_sd_listen(&fd, err, sizeof err), LDG_EINVAL);
    assert_non_null(strstr(err, "passed 2 sockets"));
    close(4);
    restore_3(saved);
}

static void
test_sd__notify(void **state)
{
    struct sockaddr_un sa;
    char buf[256];
    ssize_t n;
    int fd;
    (void)state;
    fd = unix_socket(SOCK_DGRAM, 0, &sa);
    setenv("NOTIFY_SOCKET", sa.sun_path, 1);
    assert_true(ldg_serve_sd_notify("READY=1\nSTATUS=testing") > 0);
    n = recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_string_equal(buf, "READY=1\nSTATUS=testing");
    /* a socket nobody listens on: an error, not a crash */
    close(fd);
    unlink(sa.sun_path);
    assert_true(ldg_serve_sd_notify("STOPPING=1") < 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sd__nothing_passed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sd__a_listening_stream_socket,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_sd__refused_sockets, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sd__notify, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
