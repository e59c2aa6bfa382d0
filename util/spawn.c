/*
 * spawn.c — jobs run in processes of their own (the interval jobs of
 * ledger serve, the metrics endpoint's scrapes): a job is a function of
 * the library, forked by a runner made before any thread started, never
 * a program executed. A child is the unit of failure, and LMDB allows one
 * environment handle per process: whatever the child does, the caller
 * goes on. And the command lines of util.h's table, as argv (the
 * program's own children: serve's --proxy).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/util.h"

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

/*
 * The runner: a process forked before any thread starts (ldg_runner_new),
 * which forks each job (ldg_child_run) from itself. A job then starts from
 * a process of one thread that holds no lock: whatever the caller's
 * threads hold when it asks (a mutex, an allocator's lock, LMDB's
 * environment) is not in the job's copy. The job is a function of this
 * program's own image, named by its address (the runner is a fork of the
 * same image: the address is the same there), with a few words as its
 * arguments; it opens what it needs itself (its own LMDB environment: a
 * process of its own may), writes what it says to one descriptor, and
 * its return is its exit code. Nothing is executed: no program needs to
 * be installed or beside the caller.
 *
 * A request is one SOCK_SEQPACKET message on the runner's socket, with two
 * descriptors (SCM_RIGHTS): the write end of the job's output pipe and the
 * runner's end of a socket pair the caller made for the answers. The
 * runner answers there twice: the job's pid once forked, its wait status
 * once reaped (a SIGCHLD self-pipe wakes it).
 */
#define RUNNER_SLOTS 16

struct req_msg {
    uint64_t fn; /* the job function's address */
    uint32_t nargs, len;
    char text[LDG_CHILD_TEXT_MAX]; /* the arguments, each NUL-ended */
};
struct rep_msg {
    int32_t kind; /* REP_PID, REP_STATUS, REP_REFUSED */
    int32_t value;
};
enum { REP_PID, REP_STATUS, REP_REFUSED };

struct ldg_runner {
    pid_t pid;
    int sock;
    pthread_mutex_t mu; /* one request on the socket at a time */
};

static int chld_w = -1; /* the runner's SIGCHLD self-pipe */

static void
on_chld(int sig)
{
    int e = errno;
    (void)sig;
    if (write(chld_w, "c", 1) < 0) {
        /* full: a wake-up is pending anyway */
    }
    errno = e;
}

static void
reply(int fd, int kind, int value)
{
    struct rep_msg m = {.kind = kind, .value = value};
    if (send(fd, &m, sizeof m, MSG_NOSIGNAL) < 0) {
        /* the caller is gone: nothing to tell */
    }
}

/* A request's message and its two descriptors: 1, 0 at the end of the
 * socket (the caller is gone), -1 for a message to drop. */
static int
take_request(int sock, struct req_msg *m, int *out, int *rep)
{
    union {
        char buf[CMSG_SPACE(2 * sizeof(int))];
        struct cmsghdr align;
    } u;
    struct iovec iov = {.iov_base = m, .iov_len = sizeof *m};
    struct msghdr h = {.msg_iov = &iov,
                       .msg_iovlen = 1,
                       .msg_control = u.buf,
                       .msg_controllen = sizeof u.buf};
    struct cmsghdr *cm;
    ssize_t n = recvmsg(sock, &h, MSG_CMSG_CLOEXEC);

    if (n == 0)
        return 0;
    if (n < 0)
        return errno == EINTR ? -1 : 0;
    cm = CMSG_FIRSTHDR(&h);
    if (cm == NULL || cm->cmsg_type != SCM_RIGHTS ||
        cm->cmsg_len != CMSG_LEN(2 * sizeof(int)))
        return -1;
    memcpy(out, CMSG_DATA(cm), sizeof *out);
    memcpy(rep, CMSG_DATA(cm) + sizeof *out, sizeof *rep);
    if ((size_t)n < offsetof(struct req_msg, text) || m->len > sizeof m->text ||
        m->nargs > LDG_CHILD_ARGS_MAX) {
        close(*out);
        close(*rep);
        return -1;
    }
    return 1;
}

/* The job itself, in its own process: never returns. */
static void
job_main(const struct req_msg *m, int out)
{
    const char *args[LDG_CHILD_ARGS_MAX] = {0};
    ldg_job_fn fn;
    size_t off = 0;
    int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);

    signal(SIGCHLD, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* it ends with the runner */
    prctl(PR_SET_NAME, "ldg-job");
    /* a group of its own: what it starts (a probe's sh and nvidia-smi)
     * is killed with it at its time limit and at a stop, and a terminal's
     * ^C to the server's group is not a job failure */
    setpgid(0, 0);
    if (nul >= 0)
        dup2(nul, 0);
    dup2(out, 1);
    dup2(out, 2);
    if (out > 2)
        close(out); /* its output is 1 and 2 alone: closing them ends it */
    for (uint32_t i = 0; i < m->nargs && off < m->len; i++) {
        args[i] = m->text + off;
        off += strnlen(m->text + off, m->len - off) + 1;
    }
    memcpy(&fn, &m->fn, sizeof fn);
    _exit(fn(args, m->nargs, 1) & 0xff);
}

/* Forks the job of one request into a free slot; its pid, or why not, to
 * the caller. */
static void
start_job(const struct req_msg *m, int out, int rep, pid_t *pids, int *reps,
          int sock, int chld_r)
{
    size_t k = 0;
    pid_t pid;

    while (k < RUNNER_SLOTS && pids[k] != 0)
        k++;
    if (k == RUNNER_SLOTS) {
        reply(rep, REP_REFUSED, EAGAIN);
        close(rep);
        close(out);
        return;
    }
    pid = fork();
    if (pid == 0) {
        close(sock);
        close(chld_r);
        close(chld_w);
        close(rep);
        for (size_t i = 0; i < RUNNER_SLOTS; i++)
            if (pids[i] != 0)
                close(reps[i]);
        job_main(m, out);
    }
    close(out);
    if (pid < 0) {
        reply(rep, REP_REFUSED, errno);
        close(rep);
        return;
    }
    pids[k] = pid;
    reps[k] = rep;
    reply(rep, REP_PID, (int32_t)pid);
}

/* Reaps the jobs that ended, telling each caller its status. */
static void
reap(pid_t *pids, int *reps)
{
    int st;
    pid_t pid;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
        for (size_t k = 0; k < RUNNER_SLOTS; k++)
            if (pids[k] == pid) {
                reply(reps[k], REP_STATUS, st);
                close(reps[k]);
                pids[k] = 0;
            }
}

/* The runner process: never returns. */
static void
runner_main(int sock, pid_t parent)
{
    pid_t pids[RUNNER_SLOTS] = {0};
    int reps[RUNNER_SLOTS], p[2], nul;
    sigset_t none;
    struct sigaction sa;

    prctl(PR_SET_PDEATHSIG, SIGKILL);     /* it ends with its caller */
    prctl(PR_SET_NAME, "ldg-job-runner"); /* for ps and top */
    if (getppid() != parent)
        _exit(0);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    if ((nul = open("/dev/null", O_RDWR | O_CLOEXEC)) >= 0) {
        dup2(nul, 0);
        dup2(nul, 1);
    }
    if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
        _exit(1);
    chld_w = p[1];
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_chld;
    sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    sigaction(SIGCHLD, &sa, NULL);
    for (;;) {
        struct pollfd pf[2] = {{.fd = sock, .events = POLLIN},
                               {.fd = p[0], .events = POLLIN}};
        static struct req_msg m; /* (8 KiB: not on the stack) */
        char drain[64];
        int out, rep, got;

        if (poll(pf, 2, -1) < 0 && errno != EINTR)
            _exit(1);
        while (read(p[0], drain, sizeof drain) > 0)
            ;
        reap(pids, reps);
        if (!(pf[0].revents & (POLLIN | POLLHUP)))
            continue;
        if ((got = take_request(sock, &m, &out, &rep)) == 0)
            _exit(0); /* the caller closed the runner */
        if (got > 0)
            start_job(&m, out, rep, pids, reps, sock, p[0]);
    }
}

int
ldg_runner_new(struct ldg_runner **out)
{
    struct ldg_runner *r;
    pid_t parent = getpid();
    int sv[2];

    *out = NULL;
    if ((r = calloc(1, sizeof *r)) == NULL)
        return LDG_ENOMEM;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        free(r);
        return LDG_EIO;
    }
    r->pid = fork();
    if (r->pid == 0) {
        close(sv[0]);
        runner_main(sv[1], parent);
    }
    close(sv[1]);
    if (r->pid < 0) {
        close(sv[0]);
        free(r);
        return LDG_EIO;
    }
    r->sock = sv[0];
    pthread_mutex_init(&r->mu, NULL);
    *out = r;
    return 0;
}

void
ldg_runner_free(struct ldg_runner *r)
{
    if (r == NULL)
        return;
    close(r->sock); /* the runner ends; its jobs with it (PDEATHSIG) */
    kill(r->pid, SIGKILL);
    while (waitpid(r->pid, NULL, 0) < 0 && errno == EINTR)
        ;
    pthread_mutex_destroy(&r->mu);
    free(r);
}

void
ldg_child_signal(pid_t pid, int sig)
{
    if (pid > 0 && kill(-pid, sig) != 0) /* not its group yet: itself */
        kill(pid, sig);
}

/* Reads the child's output until it closes the pipe, killing it (and its
 * group) at the deadline or when the caller refuses its output: 0, 1
 * (time limit) or 2 (output refused). Once killed, the pipe is waited for
 * 2 s at most (a descendant that left the group may hold it). */
static int
pump(const struct ldg_child *c, pid_t pid, int fd)
{
    uint64_t deadline = ldg_now_mono_ns() + c->limit_ms * 1000000u, gone = 0;
    int killed = 0;
    char chunk[16384];

    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        uint64_t now = ldg_now_mono_ns();
        int wait_ms = 200;
        ssize_t r;
        if (!killed && now >= deadline) {
            ldg_child_signal(pid, SIGKILL);
            killed = 1;
            gone = now + 2000000000u;
        } else if (killed && now >= gone) {
            return killed;
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
            ldg_child_signal(pid, SIGKILL);
            return 2;
        }
    }
}

/* One answer of the runner on fd, waiting at most wait_ms: 0, or -1 when
 * none came (the runner is gone, or silent). */
static int
answer(int fd, struct rep_msg *m, int wait_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    ssize_t n;
    int rc;
    while ((rc = poll(&p, 1, wait_ms)) < 0 && errno == EINTR)
        ;
    if (rc <= 0)
        return -1;
    while ((n = recv(fd, m, sizeof *m, 0)) < 0 && errno == EINTR)
        ;
    return n == (ssize_t)sizeof *m ? 0 : -1;
}

/* Sends c's request to the runner with the job's output end and the
 * runner's end of the answers: 0, or an errno value. */
static int
ask(const struct ldg_child *c, int out, int rep)
{
    static struct req_msg m; /* under the runner's mutex */
    union {
        char buf[CMSG_SPACE(2 * sizeof(int))];
        struct cmsghdr align;
    } u;
    struct iovec iov = {.iov_base = &m};
    struct msghdr h = {.msg_iov = &iov,
                       .msg_iovlen = 1,
                       .msg_control = u.buf,
                       .msg_controllen = sizeof u.buf};
    struct cmsghdr *cm;
    int fds[2] = {out, rep}, rc = 0;

    pthread_mutex_lock(&c->runner->mu);
    memset(&m, 0, offsetof(struct req_msg, text));
    memcpy(&m.fn, &c->fn, sizeof c->fn);
    for (size_t i = 0; i < c->nargs && rc == 0; i++) {
        size_t n = strlen(c->args[i]) + 1;
        if (n > sizeof m.text - m.len)
            rc = E2BIG;
        else
            memcpy(m.text + m.len, c->args[i], n);
        m.len += (uint32_t)n;
        m.nargs++;
    }
    iov.iov_len = offsetof(struct req_msg, text) + m.len;
    memset(u.buf, 0, sizeof u.buf);
    cm = CMSG_FIRSTHDR(&h);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof fds);
    memcpy(CMSG_DATA(cm), fds, sizeof fds);
    if (rc == 0 && sendmsg(c->runner->sock, &h, MSG_NOSIGNAL) < 0)
        rc = errno;
    pthread_mutex_unlock(&c->runner->mu);
    return rc;
}

int
ldg_child_run(const struct ldg_child *c, char *why, size_t cap)
{
    struct rep_msg m;
    int op[2], rp[2], rc, status, killed;
    pid_t pid;

    if (c->runner == NULL || c->fn == NULL || c->nargs > LDG_CHILD_ARGS_MAX) {
        snprintf(why, cap, "no job runner (ldg_runner_new) or job to run");
        return LDG_CHILD_NO_EXIT;
    }
    if (pipe2(op, O_CLOEXEC) < 0) {
        snprintf(why, cap, "cannot start the job: %s", strerror(errno));
        return LDG_CHILD_NO_EXIT;
    }
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, rp) < 0) {
        snprintf(why, cap, "cannot start the job: %s", strerror(errno));
        close(op[0]);
        close(op[1]);
        return LDG_CHILD_NO_EXIT;
    }
    rc = ask(c, op[1], rp[1]);
    close(op[1]);
    close(rp[1]);
    if (rc != 0 || answer(rp[0], &m, 10000) < 0 || m.kind != REP_PID) {
        snprintf(why, cap, "cannot start the job: %s",
                 rc != 0 ? strerror(rc)
                 : m.kind == REP_REFUSED && m.value == EAGAIN
                     ? "the runner runs as many jobs as it may"
                     : "the job runner is gone");
        close(op[0]);
        close(rp[0]);
        return LDG_CHILD_NO_EXIT;
    }
    pid = (pid_t)m.value;
    if (c->pid != NULL)
        c->pid(c->ctx, pid);
    killed = pump(c, pid, op[0]);
    close(op[0]);
    /* its status, once the runner has reaped it (it has closed its
     * output: it is ending, or was killed; one that closed it and runs on
     * is killed now) */
    if ((rc = answer(rp[0], &m, 5000)) < 0) {
        ldg_child_signal(pid, SIGKILL);
        rc = answer(rp[0], &m, 5000);
    }
    close(rp[0]);
    if (c->pid != NULL)
        c->pid(c->ctx, 0);
    status = m.value;
    if (rc < 0 || m.kind != REP_STATUS) {
        snprintf(why, cap, "the job runner did not say how the job ended");
        return LDG_CHILD_NO_EXIT;
    }
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
