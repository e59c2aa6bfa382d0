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

#include "ledger/record_int.h"

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

/* What parent and child share: the progress the caller sees, and how many
 * allocations failed in the child (ldg_alloc_mirror), which makes a child
 * that then crashed out of memory, not a finding. */
struct shared {
    struct ldg_isolation iso;
    volatile unsigned long oom;
};

int
ldg_run_isolated(int (*fn)(void *ctx, struct ldg_isolation *iso), void *ctx,
                 int *status, char *what, size_t cap)
{
    struct shared *shm;
    struct ldg_isolation *sh;
    pid_t pid;
    int st, sig, rc = 0;

    if (fn == NULL || status == NULL || what == NULL || cap == 0)
        return LDG_EINVAL;
    what[0] = '\0';
    shm = mmap(NULL, sizeof *shm, PROT_READ | PROT_WRITE,
               MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shm == MAP_FAILED) {
        *status = fn(ctx, NULL); /* no isolation: in this process */
        return 0;
    }
    memset(shm, 0, sizeof *shm);
    sh = &shm->iso;
    fflush(NULL); /* what is buffered is written once, not by both */
    pid = fork();
    if (pid < 0) {
        munmap(shm, sizeof *shm);
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
        ldg_alloc_mirror(&shm->oom);
        st = fn(ctx, sh);
        fflush(NULL);
        _exit(st & 0xff);
    }
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR) {
            snprintf(what, cap, "waiting for the verifier: %s",
                     strerror(errno));
            munmap(shm, sizeof *shm);
            return LDG_EIO;
        }
    }
    if (WIFEXITED(st)) {
        *status = WEXITSTATUS(st);
    } else {
        sig = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
        if (read_killed(sig) && shm->oom > 0) {
            /* jansson 2.14 can crash after a failed allocation
             * (akheron/jansson#362): not what it read */
            snprintf(what, cap,
                     "out of memory: an allocation failed in the verifier, "
                     "which then died (%s): no verdict",
                     strsignal(sig));
            *status = 128 + sig;
            rc = LDG_ENOMEM;
        } else if (read_killed(sig)) {
            say_killed(sh, sig, what, cap);
            *status = 128 + sig;
            rc = LDG_ETAMPER;
        } else {
            snprintf(what, cap, "the verifier was stopped by signal %d (%s)",
                     sig, strsignal(sig));
            *status = 128 + sig;
        }
    }
    munmap(shm, sizeof *shm);
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
