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

#include "ledger/handle_int.h"
#include "ledger/tlog_int.h"

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
