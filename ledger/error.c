/*
 * error.c — error codes, their names, and the handle's message buffers.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ledger/ledger_int.h"
#include "ledger/tlog_int.h"

/* ------------------------------------------------------------- errors -- */

const char *
ldg_strerror(int code)
{
    switch (code) {
    case LDG_OK:
        return "ok";
    case LDG_EINVAL:
        return "invalid argument";
    case LDG_ENOMEM:
        return "out of memory";
    case LDG_EIO:
        return "I/O error";
    case LDG_ENOTFOUND:
        return "not found";
    case LDG_EEXIST:
        return "already exists";
    case LDG_ECORRUPT:
        return "stored data is corrupt";
    case LDG_EBADSIG:
        return "signature does not verify";
    case LDG_EFULL:
        return "storage full";
    case LDG_EBADINPUT:
        return "invalid input";
    case LDG_ETOOBIG:
        return "input too large";
    case LDG_EVERSION:
        return "unsupported format version";
    case LDG_EKEY:
        return "key unusable";
    case LDG_ETAMPER:
        return "verification failed";
    case LDG_EERASED:
        return "body erased";
    case LDG_EBADPROOF:
        return "proof does not verify";
    case LDG_EBUSY:
        return "resource busy";
    case LDG_ESTALE:
        return "state is stale";
    case LDG_ENET:
        return "network error";
    case LDG_ETIMEOUT:
        return "timed out";
    case LDG_EHTTP:
        return "HTTP error status";
    case LDG_EDUPLICATE:
        return "an event with this id is already in the log";
    default:
        return "unknown error";
    }
}

/* Set on a bulk writer's commit thread for its whole life. It says which
 * of the handle's two message buffers this thread writes: the message
 * still lives on the handle (never a thread-local "last error"), but the
 * choice no longer reads fields another thread writes, which raced
 * (ThreadSanitizer: err_redirect/err_thread were written by the commit
 * thread while the caller's thread read them). A commit thread only ever
 * works on its own writer's ledger. */
static _Thread_local int on_commit_thread;

void
ldg_err_on_commit_thread(void)
{
    on_commit_thread = 1;
}

char *
ldg_errbuf(struct ldg_ledger *l)
{
    return on_commit_thread ? l->err_alt : l->errmsg;
}

void
ldg_seterr(struct ldg_ledger *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ldg_errbuf(l), sizeof l->errmsg, fmt, ap);
    va_end(ap);
}

void
ldg_set_errmsg(struct ldg_ledger *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ldg_errbuf(l), sizeof l->errmsg, fmt, ap);
    va_end(ap);
}

int
ldg_errf(char *err, size_t cap, int rc, const char *fmt, ...)
{
    va_list ap;
    if (err != NULL && cap > 0) {
        va_start(ap, fmt);
        vsnprintf(err, cap, fmt, ap);
        va_end(ap);
    }
    return rc;
}
