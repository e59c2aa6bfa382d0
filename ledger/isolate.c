/*
 * isolate.c — verification with crash isolation: the checks run in a
 * child process, and a child killed by what it read is a finding.
 *
 * LMDB has no page checksums and trusts its pages, so a corrupt data.mdb
 * can make a read fault (SIGSEGV, SIGBUS) or trip an LMDB assertion
 * (SIGABRT). A process that reads it must be one that may die: a fork,
 * whose progress lives in memory shared with its parent so the parent can
 * say how far it got. (The one place the library ends a process: the
 * child it made, with _exit; tools/check_layers.sh knows.)
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ledger/ledger_int.h"

/* The signals that say the child read something that killed it (the
 * others came from outside: a kill, a Ctrl-C, a closed pipe). */
static int
read_killed(int sig)
{
    return sig == SIGSEGV || sig == SIGBUS || sig == SIGABRT || sig == SIGFPE ||
           sig == SIGILL || sig == SIGTRAP || sig == SIGSYS;
}

static void
say_killed(const struct ldg_isolation *sh, int sig, char *what, size_t cap)
{
    if (sh->started && sh->total > 0)
        snprintf(what, cap,
                 "storage corrupt at or after seq %llu: reading it killed the "
                 "verifier (%s) after %llu of the events up to %llu were "
                 "checked; data.mdb cannot be trusted from there on",
                 (unsigned long long)sh->start, strsignal(sig),
                 (unsigned long long)(sh->done > sh->start
                                          ? sh->done - sh->start
                                          : 0),
                 (unsigned long long)sh->total);
    else if (sh->started)
        snprintf(what, cap,
                 "storage corrupt at or after seq %llu: reading it killed the "
                 "verifier (%s) before any event was checked",
                 (unsigned long long)sh->start, strsignal(sig));
    else
        snprintf(what, cap,
                 "storage corrupt: opening data.mdb killed the verifier (%s)",
                 strsignal(sig));
}

int
ldg_run_isolated(int (*fn)(void *ctx, struct ldg_isolation *iso), void *ctx,
                 int *status, char *what, size_t cap)
{
    struct ldg_isolation *sh;
    pid_t pid;
    int st, sig, rc = 0;

    if (fn == NULL || status == NULL || what == NULL || cap == 0)
        return LDG_EINVAL;
    what[0] = '\0';
    sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE,
              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) {
        *status = fn(ctx, NULL); /* no isolation: in this process */
        return 0;
    }
    memset(sh, 0, sizeof *sh);
    fflush(NULL); /* what is buffered is written once, not by both */
    pid = fork();
    if (pid < 0) {
        munmap(sh, sizeof *sh);
        *status = fn(ctx, NULL);
        return 0;
    }
    if (pid == 0) {
        struct rlimit rl = {0, 0};
        setrlimit(RLIMIT_CORE, &rl); /* the parent reports it instead */
        /* die of the signal, so the parent sees it (a handler of the
         * caller's would turn it into an exit) */
        signal(SIGSEGV, SIG_DFL);
        signal(SIGBUS, SIG_DFL);
        signal(SIGABRT, SIG_DFL);
        signal(SIGFPE, SIG_DFL);
        signal(SIGILL, SIG_DFL);
        st = fn(ctx, sh);
        fflush(NULL);
        _exit(st & 0xff);
    }
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR) {
            snprintf(what, cap, "waiting for the verifier: %s",
                     strerror(errno));
            munmap(sh, sizeof *sh);
            return LDG_EIO;
        }
    }
    if (WIFEXITED(st)) {
        *status = WEXITSTATUS(st);
    } else {
        sig = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
        if (read_killed(sig)) {
            say_killed(sh, sig, what, cap);
            *status = 128 + sig;
            rc = LDG_ETAMPER;
        } else {
            snprintf(what, cap, "the verifier was stopped by signal %d (%s)",
                     sig, strsignal(sig));
            *status = 128 + sig;
        }
    }
    munmap(sh, sizeof *sh);
    return rc;
}

void
ldg_isolation_progress(struct ldg_isolation *iso, uint64_t done, uint64_t total)
{
    if (iso != NULL) {
        iso->done = done;
        iso->total = total;
    }
}

/* ldg_verify_isolated's child: opens, verifies, hands the report back */
struct vchild {
    const char *dir;
    const struct ldg_options *opts;
    unsigned flags;
    uint64_t from;
    struct ldg_verify_report *report; /* shared with the parent */
    int *rc;                          /* shared: ldg_verify's code */
    char *err;                        /* shared: the handle's message */
    size_t errcap;
    void (*progress)(void *ctx, uint64_t done, uint64_t total);
    void *progress_ctx;
    struct ldg_isolation *iso;
};

static void
vchild_progress(void *ctx, uint64_t done, uint64_t total)
{
    struct vchild *v = ctx;
    ldg_isolation_progress(v->iso, done, total);
    if (v->progress != NULL)
        v->progress(v->progress_ctx, done, total);
}

static int
vchild_run(void *ctx, struct ldg_isolation *iso)
{
    struct vchild *v = ctx;
    struct ldg_ledger *l = NULL;
    int rc;

    v->iso = iso;
    if (iso != NULL)
        iso->start = v->from; /* 0 unless a start: a lower bound */
    rc = ldg_open(&l, v->dir, v->opts, v->err, v->errcap);
    if (rc == 0) {
        if (iso != NULL)
            iso->started = 1;
        rc = ldg_verify(l, v->flags, v->from, v->report, vchild_progress, v);
        if (rc < 0)
            snprintf(v->err, v->errcap, "%s", ldg_errmsg(l));
        ldg_close(l);
    }
    *v->rc = rc;
    return 0;
}

int
ldg_verify_isolated(const char *dir, const struct ldg_options *opts,
                    unsigned flags, uint64_t from,
                    struct ldg_verify_report *report,
                    void (*progress)(void *ctx, uint64_t done, uint64_t total),
                    void *progress_ctx, char *err, size_t errcap)
{
    struct shared {
        struct ldg_verify_report r;
        int rc;
        char err[1024];
    } * sh;
    struct vchild v;
    int status = 0, rc;
    char what[sizeof report->what];

    if (dir == NULL || report == NULL)
        return LDG_EINVAL;
    memset(report, 0, sizeof *report);
    if (err != NULL && errcap > 0)
        err[0] = '\0';
    sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE,
              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED)
        return LDG_ENOMEM;
    memset(sh, 0, sizeof *sh);
    sh->rc = LDG_EIO; /* a child that ends without saying */
    memset(&v, 0, sizeof v);
    v.dir = dir;
    v.opts = opts;
    v.flags = flags;
    v.from = from;
    v.report = &sh->r;
    v.rc = &sh->rc;
    v.err = sh->err;
    v.errcap = sizeof sh->err;
    v.progress = progress;
    v.progress_ctx = progress_ctx;
    rc = ldg_run_isolated(vchild_run, &v, &status, what, sizeof what);
    if (rc == LDG_ETAMPER) {
        /* the storage killed the reader: a finding at or after from */
        report->from = from;
        report->bad_seq = from;
        snprintf(report->what, sizeof report->what, "%s", what);
    } else if (rc == 0 && status != 0) {
        rc = LDG_EIO;
        if (err != NULL && errcap > 0)
            snprintf(err, errcap, "%s", what[0] ? what : "the verifier failed");
    } else if (rc == 0) {
        *report = sh->r;
        rc = sh->rc;
        if (rc < 0 && err != NULL && errcap > 0)
            snprintf(err, errcap, "%s", sh->err);
    } else if (err != NULL && errcap > 0) {
        snprintf(err, errcap, "%s", what);
    }
    munmap(sh, sizeof *sh);
    return rc;
}
