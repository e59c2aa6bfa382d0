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

#include <stdatomic.h>

/* ------------------------------------------- jansson's failed allocations */

static atomic_ulong json_alloc_failed;
/* a second count, in memory an isolated run shares with its parent */
static volatile unsigned long *_Atomic alloc_mirror;

static void
count_failure(void)
{
    volatile unsigned long *m = atomic_load(&alloc_mirror);
    atomic_fetch_add(&json_alloc_failed, 1);
    if (m != NULL)
        __atomic_fetch_add(m, 1, __ATOMIC_RELAXED);
}

void
ldg_alloc_mirror(volatile unsigned long *to)
{
    atomic_store(&alloc_mirror, to);
}

static void *
json_counted_malloc(size_t n)
{
    void *p = malloc(n);
    if (p == NULL)
        count_failure();
    return p;
}

/* before main, before any jansson call of this process */
__attribute__((constructor)) static void
json_count_allocs(void)
{
    json_set_alloc_funcs(json_counted_malloc, free);
}

unsigned long
ldg_alloc_failures(void)
{
    return atomic_load(&json_alloc_failed);
}

int
ldg_alloc_failed(void)
{
    count_failure();
    return LDG_ENOMEM;
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
