/*
 * query_out.c — how `ledger query` reads and writes (cmd_query.c): its
 * read transactions, which a ctrl-Z waits out, and its output, gathered
 * in chunks that a thread writes while the next is read.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "cli/commands.h"
#include "query/query.h"

/*
 * Ctrl-Z (SIGTSTP) inside a read transaction would stop the query with
 * its snapshot held, and data.mdb would grow with every commit until it
 * goes on (issue 63). So the stop waits for the transaction to end: a
 * SIGTSTP that comes while one is open (in_txn) is kept (tstp_pending)
 * and taken as the read window ends, at most WINDOW_MS later; one that
 * comes outside any stops the query at once. It stops as the default
 * action would (the shell sees a job stopped by SIGTSTP), and takes
 * SIGTSTP again once continued. SIGSTOP cannot be caught: a query
 * stopped by it inside a window holds that snapshot (docs/QUERY.md).
 *
 * A stop is not instant: between the handler's look at in_txn and the
 * kernel stopping every thread, another thread could open a
 * transaction and be stopped holding it. So whoever decides to stop
 * counts itself in `stopping` first, and a thread opening a transaction
 * marks in_txn, then looks at `stopping`: seen (sequentially consistent
 * atomics), it unmarks, waits for the stop to pass and tries again. Of
 * the two, at least one sees the other.
 */
static atomic_int in_txn, tstp_pending, stopping; /* (lock-free: signal-safe) */

static void on_tstp(int sig);

static void
stop_as_default(void)
{
    int e = errno;
    sigset_t set;
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTSTP, &sa, NULL);
    sigemptyset(&set);
    sigaddset(&set, SIGTSTP);
    raise(SIGTSTP); /* pending while the handler runs: stops when let in */
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    /* continued */
    sa.sa_handler = on_tstp;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGTSTP, &sa, NULL);
    errno = e;
}

/* Takes a SIGTSTP kept while a transaction was open, once none is: the
 * exchange makes one stop of one SIGTSTP, whichever thread (the
 * handler's, the one that ends the transaction) comes first. */
static void
tstp_take(void)
{
    atomic_fetch_add(&stopping, 1);
    if (!atomic_load(&in_txn) && atomic_exchange(&tstp_pending, 0))
        stop_as_default();
    atomic_fetch_sub(&stopping, 1);
}

/* Marks a read transaction about to open, once no stop is under way:
 * a thread stopped with in_txn marked could hold a snapshot. */
static void
txn_enter(void)
{
    const struct timespec ms = {0, 1000000};
    for (;;) {
        atomic_store(&in_txn, 1);
        if (atomic_load(&stopping) == 0)
            return;
        atomic_store(&in_txn, 0);
        while (atomic_load(&stopping) != 0)
            nanosleep(&ms, NULL);
        tstp_take(); /* a SIGTSTP not taken because in_txn was marked */
    }
}

static void
on_tstp(int sig)
{
    (void)sig;
    atomic_store(&tstp_pending, 1);
    tstp_take(); /* at once when no transaction is open, else at its end */
}

/* The read transactions of this file, so that a SIGTSTP waits for their
 * end: ldg_txn_begin and ldg_txn_abort, marking in_txn. */
int
cli_rtxn_begin(struct ldg_ledger *l, struct ldg_txn **tp)
{
    int rc;
    txn_enter();
    if ((rc = ldg_txn_begin(l, LDG_TXN_READ, tp)) < 0) {
        *tp = NULL;
        atomic_store(&in_txn, 0);
        tstp_take();
    }
    return rc;
}

void
cli_rtxn_end(struct ldg_txn *t)
{
    ldg_txn_abort(t);
    if (t != NULL) {
        atomic_store(&in_txn, 0);
        tstp_take();
    }
}

void
cli_rtxn_held(void *ctx, int held)
{
    (void)ctx;
    if (held) {
        txn_enter();
        return;
    }
    atomic_store(&in_txn, 0);
    tstp_take();
}

void
cli_tstp_install(void)
{
    struct sigaction sa, was;
    atomic_store(&in_txn, 1); /* until the first marked read ends */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_tstp;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    /* (unless whoever started us ignores it) */
    if (sigaction(SIGTSTP, NULL, &was) == 0 && was.sa_handler != SIG_IGN)
        sigaction(SIGTSTP, &sa, NULL);
}

/* Output is gathered in memory up to this much, then the read
 * transaction is let go before it is written: a consumer that stops
 * reading (`query | less` left open) then blocks the write without
 * pinning a snapshot, so writers can reuse freed pages. */

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

/* Maps the pages of ch->b.p that the next len bytes will be written to,
 * ahead, in steps that double (so at most twice what is written): one
 * madvise instead of a page fault a page, which costs ~10 us on a
 * virtual machine (bench/RESULTS.md). Only speed depends on it. */
static void
chunk_prefault(struct cli_chunk *ch, size_t len)
{
    const size_t pg = 4096;
    uintptr_t base = (uintptr_t)ch->b.p, lo, hi;
    size_t want = ch->b.len + len, step;

    if (want <= ch->ready)
        return;
    step = ch->ready < ((size_t)16 << 10) ? (size_t)16 << 10 : ch->ready;
    if (step > ((size_t)1 << 20))
        step = (size_t)1 << 20;
    if (want < ch->ready + step)
        want = ch->ready + step;
    if (want > ch->b.cap)
        want = ch->b.cap;
    lo = (base + ch->ready + pg - 1) & ~(uintptr_t)(pg - 1);
    hi = (base + want) & ~(uintptr_t)(pg - 1);
    if (hi > lo)
        (void)madvise((void *)lo, hi - lo, MADV_POPULATE_WRITE);
    ch->ready = want;
}

int
cli_chunk_write(void *ctx, const char *text, size_t len)
{
    struct cli_chunk *ch = ctx;
    uint8_t *o;
    if (ch->b.p == NULL || len >= ch->b.cap - ch->b.len) {
        /* Room for a whole chunk at once: a block this size is mapped
         * (not touched) by malloc, so only the pages written are paid
         * for, and growing never copies what is there (a 64 KiB start
         * doubled twice copied and faulted in 64 KiB more for a 100
         * event -o json). */
        const uint8_t *was = ch->b.p;
        size_t want = len;
        if (was == NULL && want < CLI_CHUNK_BYTES + ((size_t)1 << 16))
            want = CLI_CHUNK_BYTES + ((size_t)1 << 16);
        if (ldg_buf_room(&ch->b, want) == NULL)
            return LDG_ENOMEM;
        if (ch->b.p != was)
            ch->ready = 0;
    }
    chunk_prefault(ch, len);
    o = ch->b.p + ch->b.len;
    memcpy(o, text, len);
    ch->b.len += len;
    return ch->b.len >= CLI_CHUNK_BYTES ? LDG_QUERY_WRITE_PAUSE : 0;
}

/*
 * A thread that writes a full chunk while the next one is filled: the
 * query goes on while a pipe's reader takes the output (on a two-core box
 * the scan stood still for every 4 MiB written). Chunks go out in order,
 * one at a time; run_once lets its snapshot go before it waits for the
 * thread, so a reader that stops reading still pins no snapshot.
 */
static void *
bgw_main(void *arg)
{
    struct cli_bgw *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        struct cli_chunk *ch;
        int rc = 0, failed = w->rc != 0;
        while (w->job == NULL && !w->quit)
            pthread_cond_wait(&w->cv, &w->mu);
        if ((ch = w->job) == NULL)
            break;
        pthread_mutex_unlock(&w->mu);
        if (!failed) /* after a failed write nothing more is written */
            rc = w->write(w->ctx, ch->b.s, ch->b.len);
        ch->b.len = 0;
        pthread_mutex_lock(&w->mu);
        if (rc != 0 && w->rc == 0)
            w->rc = rc;
        w->job = NULL;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* Waits until w has written what it was given: 0, or the first nonzero
 * result of its writes. */
int
cli_bgw_idle(struct cli_bgw *w)
{
    int rc;
    if (!w->started)
        return 0;
    pthread_mutex_lock(&w->mu);
    while (w->job != NULL)
        pthread_cond_wait(&w->cv, &w->mu);
    rc = w->rc;
    pthread_mutex_unlock(&w->mu);
    return rc;
}

/* Gives idle w ch to write (started on first use): 0, or -1 when no
 * thread can be had (the caller writes ch itself). */
int
cli_bgw_give(struct cli_bgw *w, struct cli_chunk *ch)
{
    if (!w->started) {
        pthread_mutex_init(&w->mu, NULL);
        pthread_cond_init(&w->cv, NULL);
        if (pthread_create(&w->th, NULL, bgw_main, w) != 0) {
            pthread_cond_destroy(&w->cv);
            pthread_mutex_destroy(&w->mu);
            return -1;
        }
        w->started = 1;
    }
    pthread_mutex_lock(&w->mu);
    w->job = ch;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return 0;
}

/* Waits for w's last write and ends the thread: as bgw_idle. */
int
cli_bgw_stop(struct cli_bgw *w)
{
    int rc = cli_bgw_idle(w);
    if (!w->started)
        return rc;
    pthread_mutex_lock(&w->mu);
    w->quit = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->th, NULL);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    w->started = 0;
    return rc;
}
