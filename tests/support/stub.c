/*
 * stub.c — see stub.h.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/support/stub.h"

void
t_stub_start(struct t_stub *s, const char *state_path)
{
    int fds[2];
    memset(s, 0, sizeof *s);
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* a test that dies (an abort under make asan) takes its stub with
         * it: an orphan would hold the port, and any lock fd it inherited */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        char py[1024];
        const char *src = getenv("LEDGER_SRC");
        snprintf(py, sizeof py, "%s/tests/stubs/stub.py", src ? src : ".");
        if (state_path)
            execlp("python3", "python3", py, "--state", state_path,
                   (char *)NULL);
        else
            execlp("python3", "python3", py, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    char line[32] = {0};
    size_t n = 0;
    while (n < sizeof line - 1) {
        ssize_t k = read(fds[0], line + n, 1);
        if (k <= 0 || line[n] == '\n')
            break;
        n++;
    }
    close(fds[0]);
    s->pid = pid;
    s->port = atoi(line);
    if (s->port <= 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        fail_msg("stub.py did not start (run from the repository root)");
    }
    snprintf(s->base, sizeof s->base, "http://127.0.0.1:%d", s->port);
}

void
t_stub_stop(struct t_stub *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
        s->pid = 0;
    }
}

int
t_unused_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    socklen_t al = sizeof a;
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    close(fd);
    return ntohs(a.sin_port);
}
