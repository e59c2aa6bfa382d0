/*
 * spawn.c — the ledger program run as a child (the interval jobs of
 * ledger serve, the metrics endpoint's scrapes, serve's --proxy), its
 * command line taken from util.h's table. A child is the unit of failure,
 * and LMDB allows one environment handle per process: whatever the child
 * does, the caller goes on.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/util.h"

extern char **environ;

int
ldg_cmd_argv(const char *line, const char *dir, const char *url,
             char text[LDG_CMD_TEXT_MAX], char *argv[LDG_CMD_ARGS_MAX])
{
    size_t off = 0, n = 0;
    const char *p = line;

    while (*p) {
        size_t wl = strcspn(p, " ");
        const char *w = p;
        int is_dir = wl == 3 && memcmp(w, "DIR", 3) == 0;
        int is_url = wl == 3 && memcmp(w, "URL", 3) == 0;
        if (is_dir || is_url) {
            if ((w = is_dir ? dir : url) == NULL)
                return LDG_EINVAL;
            wl = strlen(w);
        }
        if (n + 1 >= LDG_CMD_ARGS_MAX || wl + 1 > LDG_CMD_TEXT_MAX - off)
            return LDG_ETOOBIG;
        memcpy(text + off, w, wl);
        text[off + wl] = '\0';
        argv[n++] = text + off;
        off += wl + 1;
        p += strcspn(p, " ");
        p += *p == ' ';
    }
    LDG_ASSERT(n < LDG_CMD_ARGS_MAX && off <= LDG_CMD_TEXT_MAX);
    argv[n] = NULL;
    return n > 0 ? 0 : LDG_EINVAL;
}

int
ldg_child_exe(char *buf, size_t cap)
{
    ssize_t n = readlink("/proc/self/exe", buf, cap - 1);
    if (n <= 0)
        return n < 0 ? errno : ENOENT;
    if ((size_t)n >= cap - 1)
        return ENAMETOOLONG;
    buf[n] = '\0';
    return 0;
}

/* Starts exe with argv: standard input from /dev/null, standard output
 * (and standard error too when with_stderr) into a pipe whose read end,
 * close-on-exec, is *fd. 0, or an errno value. */
static int
spawn_piped(const char *exe, char *const argv[], int with_stderr, pid_t *pid,
            int *fd)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, def;
    int pfd[2], rc;

    if (pipe2(pfd, O_CLOEXEC) < 0)
        return errno;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
    if (with_stderr)
        posix_spawn_file_actions_adddup2(&fa, pfd[1], 2);
    posix_spawnattr_init(&at);
    /* the parent's blocked and ignored signals are not the child's */
    sigemptyset(&none);
    sigemptyset(&def);
    sigaddset(&def, SIGPIPE);
    sigaddset(&def, SIGTERM);
    sigaddset(&def, SIGINT);
    sigaddset(&def, SIGHUP);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &def);
    posix_spawnattr_setflags(&at,
                             POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    rc = posix_spawn(pid, exe, &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(pfd[1]);
    if (rc != 0) {
        close(pfd[0]);
        return rc;
    }
    *fd = pfd[0];
    return 0;
}

/* Reads the child's output until it closes the pipe, killing it at the
 * deadline or when the caller refuses its output: 0, 1 (time limit) or 2
 * (output refused). */
static int
pump(const struct ldg_child *c, pid_t pid, int fd)
{
    uint64_t deadline = ldg_now_mono_ns() + c->limit_ms * 1000000u;
    int killed = 0;
    char chunk[16384];

    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        uint64_t now = ldg_now_mono_ns();
        int wait_ms = 200;
        ssize_t r;
        if (!killed && now >= deadline) {
            kill(pid, SIGKILL);
            killed = 1;
        } else if (!killed && (deadline - now) / 1000000u < 200) {
            wait_ms = (int)((deadline - now) / 1000000u) + 1;
        }
        if (poll(&p, 1, wait_ms) <= 0)
            continue;
        r = read(fd, chunk, sizeof chunk);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return killed;
        if (!killed && c->out != NULL && c->out(c->ctx, chunk, (size_t)r)) {
            kill(pid, SIGKILL);
            return 2;
        }
    }
}

int
ldg_child_run(const struct ldg_child *c, char *why, size_t cap)
{
    char text[LDG_CMD_TEXT_MAX], *argv[LDG_CMD_ARGS_MAX];
    pid_t pid;
    int fd = -1, rc, status = 0, killed;

    if (ldg_cmd_argv(c->line, c->dir, c->url, text, argv) < 0) {
        snprintf(why, cap, "cannot make the command line of '%s'", c->line);
        return LDG_CHILD_NO_EXIT;
    }
    if ((rc = spawn_piped(c->exe, argv, c->with_stderr, &pid, &fd)) != 0) {
        snprintf(why, cap, "cannot start %.300s: %s", c->exe, strerror(rc));
        return LDG_CHILD_NO_EXIT;
    }
    if (c->pid != NULL)
        c->pid(c->ctx, pid);
    killed = pump(c, pid, fd);
    close(fd);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (c->pid != NULL)
        c->pid(c->ctx, 0);
    if (killed == 1) {
        snprintf(why, cap, "killed after %llu s (its time limit)",
                 (unsigned long long)(c->limit_ms / 1000));
        return LDG_CHILD_NO_EXIT;
    }
    if (killed == 2) {
        snprintf(why, cap, "killed: it printed too much");
        return LDG_CHILD_NO_EXIT;
    }
    if (WIFSIGNALED(status)) {
        snprintf(why, cap, "killed by signal %d", WTERMSIG(status));
        return LDG_CHILD_NO_EXIT;
    }
    if (!WIFEXITED(status)) {
        snprintf(why, cap, "ended without an exit status (wait status %d)",
                 status);
        return LDG_CHILD_NO_EXIT;
    }
    return WEXITSTATUS(status);
}
