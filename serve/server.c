/*
 * server.c — the `ledger serve` daemon: one event loop, one writer.
 *
 *   clients ──▶ event loop (epoll)            writer thread
 *               accept, read, split lines,    takes every queued request,
 *               parse, queue ────────────────▶ one ldg_batch per group,
 *               answers in order ◀──────────── commit (fsync), answers
 *
 * Every request line becomes a struct req in its connection's FIFO, in the
 * order read. A line the loop can already judge (malformed JSON, unknown
 * field, over-long) is answered on the spot; the rest go to the writer's
 * queue. The writer takes all that is queued (up to group_max) as one
 * group: each event goes through ldg_batch_add (a refused one gets its
 * error, the others go on), then one ldg_batch_commit makes the group
 * durable and only then are the seqs written into the answers. While the
 * writer sits in fsync the loop keeps reading, so under load events share
 * commits; a lone event is committed at once. The loop queues what one
 * round of epoll_wait read on a list of its own and hands it over at the
 * end of the round (one lock and one wake-up a round, not one a line).
 *
 * Why one writer and no pipeline: preparing group N+1 (ldg_prepare on a
 * second thread) while group N commits was measured (eighth session,
 * bench/RESULTS.md): as fast, and about 15% more daemon CPU, on two cores
 * the bench's 64 clients already fill. What bounds the 64-client figure is
 * CPU a request (jansson's parse and free in the loop, LMDB's puts in the
 * writer), not the writer waiting on fsync.
 *
 * Answers leave a connection strictly in request order: the loop writes
 * out the FIFO's head while it is answered. `ready` is the loop's own
 * flag (set when it takes an answer from the writer's completed list),
 * so the writer never touches anything the loop reads without the lock.
 *
 * A connection closed or dropped while the writer holds some of its
 * requests is only unlinked; it is freed when the writer hands the last
 * of them back (c->held reaches 0).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "doctor/doctor.h"
#include "ingest/ingest.h"
#include "serve/serve.h"
#include "serve/serve_int.h"
#include "ledger/module.h"
#include "util/util.h"

#define ENVELOPE_ROOM (64 * 1024)
#define READ_MIN 4096
#define TAG_LISTEN ((void *)1)
#define TAG_STOP ((void *)2)
#define TAG_DONE ((void *)3)
#define TAG_HUP ((void *)4)

struct conn;

/* An in-process writer's events (ldg_serve_submit): no connection; its
 * outcome goes to done, on the writer's thread, once the group is
 * durable (or failed). */
struct ext_batch {
    const struct ldg_event_in *evs;
    size_t n;
    int *outcome;      /* per event: 0 appended, 1 duplicate, < 0 refused */
    uint64_t *seqs;    /* per event: where it went, or the event with its id */
    unsigned *differs; /* per duplicate: what differs (LDG_DIFF_*) */
    char why[600];     /* the first refusal, or why nothing was written */
    int rc;            /* < 0: nothing of the group was written */
    ldg_serve_done_fn done;
    void *cls;
};

struct req {
    struct req *next;  /* in the connection's FIFO */
    struct req *qnext; /* in the writer's queue or the completed list */
    struct conn *c;    /* NULL for an in-process writer's (ext) */
    struct ext_batch *ext;
    json_t *holder; /* owns ev's strings */
    struct ldg_event_in ev;
    struct ldg_sealed_batch *sb; /* a sealed batch instead of ev */
    struct ldg_ingest_meta meta;
    size_t bytes;
    uint64_t lineno;  /* the line's number on its connection */
    uint64_t seq;     /* writer: where it went, or the event with its id */
    int dup;          /* writer: its id was already recorded */
    unsigned differs; /* writer: what of it differs from that event */
    int ready;        /* the loop may send resp (loop-only) */
    int is_err;       /* resp is an error */
    char *resp;
    size_t resp_len;
};

struct conn {
    int fd;
    struct conn *prev, *next;
    struct serve_peer peer;
    uint64_t may; /* the access.json entries it matches (serve/auth.c) */
    struct ldg_source source; /* from peer: recorded with every event */
    uint64_t lineno;
    /* What was read and not yet made requests: complete lines waiting
     * for room in the queue, then the start of the next line. Grows by
     * doubling from READ_MIN up to the line limit (conn_read), freed when
     * empty above 64 KiB (process_lines). */
    struct ldg_buf in;
    int skipping; /* discarding an over-long line up to its newline */
    struct req *head, *tail;
    unsigned waiting; /* requests not yet answered */
    size_t waiting_bytes;
    unsigned held; /* requests the writer holds */
    /* Answers not yet sent: out.p[out_off..out.len). What was sent is
     * dropped (ldg_buf_consume) only when an answer needs room or all of
     * it was sent, so a socket that takes a little at a time costs no
     * memmove a send. No ceiling of its own: out_max stops the reading,
     * and what is already queued must still be answered. */
    struct ldg_buf out;
    size_t out_off;
    int rd_eof, dead;
    uint32_t mask; /* epoll events registered */
    int dirty;     /* in take_done's list */
    struct conn *dirty_next;
    uint64_t stall_since_ms;
    size_t counted; /* its bytes in s->held, as held_sync last saw them */
    /* idle_ms: when it last sent something (or was accepted); line_ms:
     * since when its current line has been read without its newline
     * coming (0: no line under way, or the count restarts at the next
     * read: it was not read meanwhile) */
    uint64_t active_ms;
    uint64_t line_since_ms;
    uint64_t line_lineno; /* lineno when line_since_ms was set */
    int nowrite;          /* may write nothing: counted in s->nowrite */
    /* its next line is a sealed batch waiting for room in the budget to
     * be parsed (sealed_waits): not read meanwhile; counted in
     * s->ndeferred */
    int deferred;
};

struct ldg_server {
    struct ldg_ledger *l;
    struct ldg_serve_options o;
    struct serve_auth *auth; /* who may write: DIR/access.json */
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    int bound; /* we bound path and remove it at the end */
    int lfd, ep, stop_fd, done_fd, hup_fd;
    int hold_fd; /* LDG_SERVE_LOCK, held shared while the server lives */
    char auth_path[4200];
    struct conn *conns;
    struct conn *graveyard; /* closed, freed once the writer is done */
    unsigned nconns;
    unsigned nowrite; /* of nconns, peers that may write nothing */
    /* sealed batches parsed and not yet freed, and connections whose
     * next sealed batch waits for them (sealed_waits); recheck: one was
     * freed, look at those connections again */
    size_t sealed_held;
    unsigned ndeferred;
    int recheck;
    int stopping;
    /* The budget (o.budget_bytes, docs/PROTOCOL.md): held is what every
     * open connection holds (held_sync); over says some connection was
     * not read for it since it was last under. fin, the finisher, may read
     * past it until a line of its completes (fin_lineno is its line count
     * when chosen, at fin_ms): see budget_round. Loop thread only. */
    size_t held;
    int over;
    struct conn *fin;
    uint64_t fin_lineno, fin_ms;
    /* when the next stalled connection (or finisher) is due to be
     * dropped, for epoll_wait's timeout; 0: none */
    uint64_t wake_ms;
    char err[512];
    struct ldg_serve_stats st;

    pthread_t writer;
    int writer_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct req *lq_head, *lq_tail; /* the loop's, for queue_flush */
    size_t lq_n;
    struct req *q_head, *q_tail; /* to the writer */
    size_t q_n;                  /* events in it (a request counts 1,
                                    an ext batch its events) */
    struct req *done_head;       /* from the writer */
    struct req *spare;           /* the loop's freed requests, to reuse */
    size_t nspare;
    struct req *retired; /* answered and written out, freed by retire_flush */
    int writer_quit;
    int done_ready; /* atomic: the writer handed answers back */
    /* the writer takes ext batches (ldg_serve_submit): from
     * ldg_serve_new (they wait for ldg_serve_run's writer) until it has
     * committed its last group (under mu) */
    int accepting;
    uint64_t backlog; /* q_n, readable without the lock (atomic) */
};

/* A counter of ldg_serve_stats, which any thread may read while the
 * server runs: each is added to atomically (relaxed: a count, not a
 * signal). */
static void
bump(uint64_t *counter)
{
    __atomic_add_fetch(counter, 1, __ATOMIC_RELAXED);
}

/* Something is due at at_ms: the loop wakes then at the latest. */
static void
wake_at(struct ldg_server *s, uint64_t at_ms)
{
    if (s->wake_ms == 0 || at_ms < s->wake_ms)
        s->wake_ms = at_ms;
}

static void
seterr(struct ldg_server *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->err, sizeof s->err, fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------------ answers -- */

static void
req_answer(struct req *r, char *line, size_t len)
{
    free(r->resp);
    r->resp = line;
    r->resp_len = len;
    r->is_err = 0;
}

static void
req_error(struct req *r, const char *msg, int code)
{
    size_t len;
    char *line = serve_error_line(r->meta.has_id ? r->meta.id : NULL,
                                  r->meta.id_len, msg, code, &len);
    req_answer(r, line, line ? len : 0);
    r->is_err = 1;
}

/* ------------------------------------------------------------- writer -- */

static int
refuses_event(int rc)
{
    return rc == LDG_EBADINPUT || rc == LDG_ETOOBIG || rc == LDG_EKEY ||
           rc == LDG_EEXIST;
}

/* Adds an ext batch's events to b, each event's outcome into the batch.
 * 0, or the storage failure that ends the group's try. */
static int
ext_add(struct ldg_ledger *l, struct ldg_batch *b, struct ext_batch *x)
{
    x->why[0] = 0;
    for (size_t i = 0; i < x->n; i++) {
        int rc;
        x->differs[i] = 0;
        rc = ldg_batch_add_seq(b, &x->evs[i], &x->seqs[i], &x->differs[i]);
        if (rc == 0 || rc == LDG_EDUPLICATE) {
            /* a duplicate: its id is in the log (a batch sent again),
             * or earlier in this group */
            x->outcome[i] = rc == LDG_EDUPLICATE;
            continue;
        }
        if (!refuses_event(rc))
            return rc;
        x->outcome[i] = rc;
        if (x->why[0] == 0)
            snprintf(x->why, sizeof x->why, "event %zu: %s", i,
                     ldg_errmsg(l)[0] ? ldg_errmsg(l) : ldg_strerror(rc));
    }
    return 0;
}

/* Tries to commit the group once. 0: every request answered (ack or
 * refusal). Otherwise a storage failure; *full says it was LDG_EFULL. */
static int
commit_once(struct ldg_server *s, struct req *group, int *full,
            uint64_t *appended)
{
    struct ldg_ledger *l = s->l;
    struct ldg_batch *b = NULL;
    uint64_t first = 0, n = 0;
    struct req *r;
    int rc;

    *full = 0;
    if ((rc = ldg_batch_begin(&b, l)) < 0) {
        for (r = group; r != NULL; r = r->qnext)
            req_answer(r, NULL, 0); /* answered by the caller */
        return rc;
    }
    for (r = group; r != NULL; r = r->qnext) {
        req_answer(r, NULL, 0); /* a retry's try starts afresh */
        r->dup = 0;
        if (r->ext != NULL) {
            if ((rc = ext_add(l, b, r->ext)) < 0)
                goto fail;
            continue;
        }
        if (r->sb != NULL) {
            /* a client's sealed batch: whole, contiguous, or refused */
            rc = ldg_batch_add_sealed(b, r->sb, &r->seq);
            if (rc == 0)
                continue;
            if (rc == LDG_EDUPLICATE) {
                r->dup = 1;
                continue;
            }
            if (rc != LDG_EBADINPUT && rc != LDG_ETOOBIG && rc != LDG_EKEY &&
                rc != LDG_EBADSIG && rc != LDG_EEXIST)
                goto fail;
            {
                char msg[1100];
                snprintf(msg, sizeof msg, "line %llu: %s",
                         (unsigned long long)r->lineno,
                         ldg_errmsg(l)[0] ? ldg_errmsg(l) : ldg_strerror(rc));
                req_error(r, msg,
                          rc == LDG_EKEY ? SERVE_CODE_NOPERM : SERVE_CODE_DATA);
            }
            if (r->resp == NULL)
                goto nomem;
            continue;
        }
        rc = ldg_batch_add_seq(b, &r->ev, &r->seq, &r->differs);
        if (rc == 0)
            continue;
        if (rc == LDG_EDUPLICATE) {
            /* its id is in the log (or earlier in this group): answered
             * with that event's seq once the group is durable */
            r->dup = 1;
            continue;
        }
        if (!refuses_event(rc))
            goto fail;
        {
            char msg[700];
            snprintf(msg, sizeof msg, "line %llu: %s",
                     (unsigned long long)r->lineno,
                     ldg_errmsg(l)[0] ? ldg_errmsg(l) : ldg_strerror(rc));
            /* unsealed from a key held by its writer: the ledger may
             * not sign as it (77, as ledger append exits) */
            req_error(r, msg,
                      rc == LDG_EKEY && r->ev.actor != NULL &&
                              ldg_keys_held_by_writer(l, r->ev.actor) == 1
                          ? SERVE_CODE_NOPERM
                          : SERVE_CODE_DATA);
        }
        if (r->resp == NULL)
            goto nomem;
    }
    if ((rc = ldg_batch_commit(b, &first, &n)) < 0)
        goto fail;
    ldg_batch_free(b);
    *appended = n;
    /* Durable: now, and only now, the seqs go into the answers. */
    for (r = group; r != NULL; r = r->qnext) {
        size_t len;
        char *line;
        if (r->resp != NULL || r->ext != NULL)
            continue; /* refused, or an ext batch (writer_main answers) */
        if (r->sb != NULL)
            line = serve_sealed_ack_line(r->seq, r->sb->n, r->dup,
                                         r->sb->first + r->sb->n, &len);
        else
            line = serve_ack_line(r->meta.has_id ? r->meta.id : NULL,
                                  r->meta.id_len, r->seq, r->dup, r->differs,
                                  &len);
        if (line == NULL)
            continue; /* answered by the caller as a failure */
        req_answer(r, line, len);
    }
    (void)first;
    return 0;
nomem:
    rc = LDG_ENOMEM;
fail:
    *full = rc == LDG_EFULL;
    ldg_batch_free(b); /* nothing of the group is written */
    return rc;
}

/* Commits a group and answers each request in it. Returns how many of
 * its requests were answered "duplicate" (their id already in the log). */
static size_t
commit_group(struct ldg_server *s, struct req *group)
{
    int rc, full = 0;
    uint64_t appended = 0;
    size_t dups = 0;
    struct req *r;

    for (int tries = 0; tries < 3; tries++) {
        rc = commit_once(s, group, &full, &appended);
        if (rc == 0 || !full)
            break;
    }
    /* a group of duplicates and refusals appended nothing: no commit */
    if (rc == 0 && appended > 0)
        bump(&s->st.commits);
    if (rc < 0) {
        char msg[6000], advice[5000] = "";
        /* a full disk: say how much is free and what makes room */
        if (full)
            ldg_doctor_full_advice(ldg_dir(s->l), advice, sizeof advice);
        if (rc == LDG_EVERSION) /* an older layout: sent again, the same */
            snprintf(msg, sizeof msg,
                     "not recorded: %s; nothing of this request was written",
                     ldg_errmsg(s->l)[0] ? ldg_errmsg(s->l) : ldg_strerror(rc));
        else
            snprintf(msg, sizeof msg,
                     "not recorded: the ledger could not commit (%s); nothing "
                     "of this request was written, send it again%s%s",
                     ldg_errmsg(s->l)[0] ? ldg_errmsg(s->l) : ldg_strerror(rc),
                     advice[0] ? " once there is room: " : "", advice);
        for (r = group; r != NULL; r = r->qnext) {
            if (r->ext != NULL) {
                /* the cause alone: the receiver says "not recorded" and
                 * what to do in its own protocol's terms */
                r->ext->rc = rc;
                snprintf(
                    r->ext->why, sizeof r->ext->why, "%s%s%s%s%s",
                    rc == LDG_EVERSION ? "" : "the ledger could not commit (",
                    ldg_errmsg(s->l)[0] ? ldg_errmsg(s->l) : ldg_strerror(rc),
                    rc == LDG_EVERSION ? "" : ")", advice[0] ? "; " : "",
                    advice);
            } else {
                req_error(r, msg,
                          rc == LDG_EVERSION ? SERVE_CODE_DATA : SERVE_CODE_IO);
            }
        }
    }
    for (r = group; r != NULL; r = r->qnext) {
        if (r->ext != NULL) {
            if (rc == 0) {
                r->ext->rc = 0;
                for (size_t i = 0; i < r->ext->n; i++)
                    dups += r->ext->outcome[i] == 1;
            }
            continue;
        }
        if (r->resp == NULL) {
            /* out of memory for the answer: a static one */
            static const char oom[] =
                "{\"error\":\"out of memory\",\"code\":71}\n";
            r->resp = strdup(oom);
            r->resp_len = r->resp ? sizeof oom - 1 : 0;
            r->is_err = 1;
        }
        dups += r->dup && !r->is_err;
    }
    return dups;
}

/* One dead-reader sweep; sets the next one's time (ldg_now_mono_ns), and
 * wake, the same as the deadline the condition variable (monotonic) waits
 * for. */
static void
sweep_readers(struct ldg_server *s, uint64_t *next, struct timespec *wake)
{
    uint64_t ms = s->o.sweep_ms;
    int dead = ldg_clear_dead_readers(s->l);
    bump(&s->st.sweeps);
    if (dead > 0)
        __atomic_add_fetch(&s->st.cleared, (uint64_t)dead, __ATOMIC_RELAXED);
    *next = ldg_now_mono_ns() + ms * 1000000u;
    *wake = ldg_mono_timespec(*next);
}

/* What a request weighs in the writer's queue: its events. */
static size_t
req_weight(const struct req *r)
{
    return r->ext != NULL ? r->ext->n : 1;
}

/* The ext batches of a committed group are answered here, on the
 * writer's thread (their done callbacks), and taken out of it; the rest
 * of the group, for the loop, is returned with *last its last. */
static struct req *
ext_finish(struct ldg_server *s, struct req *group, struct req **last)
{
    struct req *keep = NULL, **tail = &keep, *r, *nx;
    *last = NULL;
    for (r = group; r != NULL; r = nx) {
        nx = r->qnext;
        r->qnext = NULL;
        if (r->ext == NULL) {
            *tail = r;
            tail = &r->qnext;
            *last = r;
            continue;
        }
        struct ext_batch *x = r->ext;
        struct ldg_serve_done d;
        memset(&d, 0, sizeof d);
        d.rc = x->rc;
        d.why = x->why;
        d.n = x->n;
        d.outcome = x->outcome;
        d.seqs = x->seqs;
        d.differs = x->differs;
        if (x->rc == 0) {
            for (size_t i = 0; i < x->n; i++) {
                if (x->outcome[i] == 0)
                    d.appended++;
                else if (x->outcome[i] == 1)
                    d.duplicates++;
                else
                    d.refused++;
            }
            __atomic_add_fetch(&s->st.acked, (uint64_t)d.appended,
                               __ATOMIC_RELAXED);
            __atomic_add_fetch(&s->st.duplicates, (uint64_t)d.duplicates,
                               __ATOMIC_RELAXED);
        }
        x->done(x->cls, &d);
        free(r);
    }
    return keep;
}

/*
 * Epochs (issue 65, docs/EPOCHS.md): an epoch key whose seals the log
 * carries is ended once its period is over, so that no acked event stays
 * under a live epoch key for more than the period and the time a wake-up
 * takes. The writer does it, between groups, in the daemon's own handle
 * (LMDB's one environment a process; the jobs' processes are for work
 * that may hang or crash, and this is two small writes of a file): the
 * seals of each commit say when an epoch they opened is due
 * (ldg_keys_epoch_due), the condition variable's wait ends then, and
 * ldg_keys_expire ends it under the lock every sealer takes. An epoch that
 * sealed nothing is not due: an idle box makes no epoch. Each sweep asks
 * too, for the epochs other processes opened (`ledger append --direct`).
 * A failure (a state file gone) is counted and tried again in
 * EPOCH_RETRY_NS; the doctor's epoch-exposure clause says what it leaves.
 */
#define EPOCH_RETRY_NS (5ull * 1000000000u)

static void
epochs_expire(struct ldg_server *s, uint64_t *due)
{
    unsigned n = 0;
    int rc = ldg_keys_expire(s->l, due, &n);
    if (n > 0)
        __atomic_add_fetch(&s->st.epochs_ended, (uint64_t)n, __ATOMIC_RELAXED);
    if (rc < 0) {
        bump(&s->st.epoch_failures);
        uint64_t retry = ldg_now_wall_ns() + EPOCH_RETRY_NS;
        if (retry < *due)
            *due = retry;
    }
}

/* The condition variable's deadline (monotonic): the next sweep, or an
 * epoch's end (due, wall clock) when sooner. */
static struct timespec
writer_wake(uint64_t next_sweep, uint64_t due)
{
    uint64_t wall = ldg_now_wall_ns(), mono = ldg_now_mono_ns();
    uint64_t at = next_sweep;

    if (due <= wall)
        at = mono;
    else if (next_sweep > mono && due - wall < next_sweep - mono)
        at = mono + (due - wall);
    return ldg_mono_timespec(at);
}

static void *
writer_main(void *arg)
{
    struct ldg_server *s = arg;
    sigset_t all;

    uint64_t next_sweep = 0, since_trim = 0, dups_since = 0;
    uint64_t epoch_due = UINT64_MAX, due;
    size_t dups;
    /* one part of the map released every trim_events / LDG_SERVE_TRIM_PARTS
     * events: each page's mapping is still dropped every trim_events,
     * and the commit after a release refaults an eighth of what it reads,
     * not all of it (a whole-map release cost the next commit 3-5 ms) */
    uint64_t trim_step = s->o.trim_events / LDG_SERVE_TRIM_PARTS;
    unsigned trim_part = 0;
    struct timespec wake;

    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    sweep_readers(s, &next_sweep, &wake);
    epochs_expire(s, &epoch_due); /* (those a previous run left) */
    for (;;) {
        struct req *group, *last;
        size_t n = 0;
        uint64_t one = 1;

        wake = writer_wake(next_sweep, epoch_due);
        pthread_mutex_lock(&s->mu);
        while (s->q_head == NULL && !s->writer_quit) {
            /* Idle or not, dead readers' slots are cleared every
             * sweep_ms (issue 11): they pin pages and fill the table. */
            if (ldg_now_mono_ns() >= next_sweep ||
                ldg_now_wall_ns() >= epoch_due)
                break;
            pthread_cond_timedwait(&s->cv, &s->mu, &wake);
        }
        if (s->q_head == NULL && !s->writer_quit) {
            pthread_mutex_unlock(&s->mu);
            if (ldg_now_mono_ns() >= next_sweep) {
                sweep_readers(s, &next_sweep, &wake);
                epochs_expire(s, &epoch_due);
            } else if (ldg_now_wall_ns() >= epoch_due) {
                epochs_expire(s, &epoch_due);
            }
            continue;
        }
        if (s->q_head == NULL) {
            s->accepting = 0; /* nothing is queued after this */
            pthread_mutex_unlock(&s->mu);
            break;
        }
        group = s->q_head;
        if (s->q_n <= s->o.group_max) {
            /* all of it: no walk over the list with the lock held */
            n = s->q_n;
            last = s->q_tail;
        } else {
            last = group;
            n = req_weight(last);
            while (n < s->o.group_max && last->qnext != NULL &&
                   n + req_weight(last->qnext) <= s->o.group_max) {
                last = last->qnext;
                n += req_weight(last);
            }
        }
        s->q_head = last->qnext;
        if (s->q_head == NULL)
            s->q_tail = NULL;
        s->q_n -= n;
        __atomic_store_n(&s->backlog, (uint64_t)s->q_n, __ATOMIC_RELAXED);
        last->qnext = NULL;
        pthread_mutex_unlock(&s->mu);

        dups = commit_group(s, group);
        group = ext_finish(s, group, &last);
        if ((due = ldg_keys_epoch_due(s->l)) < epoch_due)
            epoch_due = due; /* a seal opened an epoch */

        /* The answers go to the loop first; the trim (a madvise of an
         * eighth of the map, up to a millisecond) waits until they are
         * on their way, not the answers until it is done. */
        if (group != NULL) {
            pthread_mutex_lock(&s->mu);
            last->qnext = s->done_head;
            s->done_head = group;
            pthread_mutex_unlock(&s->mu);
            __atomic_store_n(&s->done_ready, 1, __ATOMIC_RELEASE);
            if (write(s->done_fd, &one, sizeof one) < 0) {
                /* the counter is full: the loop is already woken */
            }
        }
        /* a queue that never empties must not keep an epoch alive (a
         * key whose seals stopped while others' go on): after the
         * answers are on their way */
        if (ldg_now_wall_ns() >= epoch_due)
            epochs_expire(s, &epoch_due);

        /* A duplicate reads its first event and body to say what
         * differs: pages anywhere in the file, where new events touch
         * the tail. A retry storm's reads are dropped whole, every
         * trim_step / 2 duplicates (128,000 duplicates took VmHWM to
         * 70 MiB with the parts' turns alone, bench/RESULTS.md). */
        since_trim += n;
        dups_since += dups;
        if (dups_since >= (trim_step > 1 ? trim_step / 2 : 1)) {
            ldg_access_hint(s->l, LDG_ACCESS_RELEASE);
            dups_since = 0;
            bump(&s->st.trims);
        }
        if (since_trim >= (trim_step > 0 ? trim_step : 1)) {
            /* the pages this writer's lookups touched: unmapped, so the
             * resident size stays the daemon's own memory */
            ldg_access_release_part(s->l, trim_part, LDG_SERVE_TRIM_PARTS);
            trim_part = (trim_part + 1) % LDG_SERVE_TRIM_PARTS;
            since_trim = 0;
            bump(&s->st.trims);
        }
    }
    return NULL;
}

/* -------------------------------------------------------- connections -- */

static void
ep_set(struct ldg_server *s, struct conn *c, uint32_t mask)
{
    struct epoll_event e;
    if (c->dead || mask == c->mask)
        return;
    memset(&e, 0, sizeof e);
    e.events = mask;
    e.data.ptr = c;
    epoll_ctl(s->ep, EPOLL_CTL_MOD, c->fd, &e);
    c->mask = mask;
}

/* Requests the loop keeps for reuse (a calloc and a free fewer a line). */
#define SPARE_MAX 4096

/* Frees what r holds and keeps r for req_new (loop thread only). */
static void
req_free(struct ldg_server *s, struct req *r)
{
    json_decref(r->holder);
    if (r->sb != NULL) {
        s->sealed_held--;
        s->recheck = s->ndeferred > 0;
    }
    ldg_sealed_batch_free(r->sb);
    free(r->resp);
    if (s->nspare < SPARE_MAX) {
        r->next = s->spare;
        s->spare = r;
        s->nspare++;
    } else {
        free(r);
    }
}

/* Frees the requests conn_drain_fifo retired (loop thread only). Their
 * answers are written out first, all connections' of a group, and the
 * parsed requests freed after: the frees (jansson's, a few microseconds
 * a request) no longer hold back the next connection's acks. */
static void
retire_flush(struct ldg_server *s)
{
    struct req *r, *nx;
    for (r = s->retired; r != NULL; r = nx) {
        nx = r->next;
        req_free(s, r);
    }
    s->retired = NULL;
}

static void
conn_free(struct ldg_server *s, struct conn *c)
{
    struct req *r = c->head, *nx;
    for (; r != NULL; r = nx) {
        nx = r->next;
        req_free(s, r);
    }
    ldg_buf_release(&c->in);
    ldg_buf_release(&c->out);
    free(c);
}

/* A connection's own limits: not read while it has this much waiting. */
static int
conn_paused(const struct ldg_server *s, const struct conn *c)
{
    return c->waiting >= s->o.queue_max ||
           c->waiting_bytes >= s->o.queue_bytes ||
           c->out.len - c->out_off >= s->o.out_max;
}

/* ------------------------------------------------------------ budget -- */

/*
 * The budget bounds the bytes held for all connections together (the
 * per-connection limits bound each alone, and 4,096 connections at their
 * limits would hold gigabytes): what was read and not yet made requests
 * (c->in), the text of requests waiting for the disk or for their turn to
 * be answered (waiting_bytes), and answers not yet sent (c->out). At or
 * over it no connection is read (conn_may_read, and the epoll mask that
 * conn_update sets from it); committing and answering go on, and when
 * what is held falls below, budget_round looks at every connection again.
 *
 * What is held then goes down by itself unless it is stuck, and it can be
 * stuck two ways, each undone by a rule:
 *   - answers a client does not read: while the daemon is at its budget, a
 *     connection with unsent answers that takes none for stall_ms is
 *     dropped (conn_update, check_stalls), however few they are: the
 *     out_max rule alone would never fire once reading has stopped;
 *   - lines not yet complete: if no request is waiting (what is held is
 *     the starts of lines and answers not yet sent), no line could ever
 *     complete. One connection, the one holding the longest start of a
 *     line, is then let read on up to the newline that completes it and
 *     no further (the finisher, conn_recv); if it has not within stall_ms
 *     it is dropped. Another is chosen once its line is a request
 *     answered: what it held is then less than before, so finishers one
 *     after another never add up.
 * So what is held may pass the budget by what one read brings (a read
 * takes at most the room in the connection's buffer) and by the rest of
 * the finisher's line.
 *
 * The bytes counted are the text's: the memory behind them is more (a
 * buffer is up to twice what it holds, a parsed request several times
 * its line), and a closed connection's requests still held by the writer
 * are no longer counted.
 */

/* Brings c's share of s->held up to date. Cheap (a few additions): called
 * wherever c's buffers may have changed before the budget is consulted. */
static void
held_sync(struct ldg_server *s, struct conn *c)
{
    size_t now = c->in.len + c->waiting_bytes + (c->out.len - c->out_off);
    if (now == c->counted)
        return;
    s->held = s->held - c->counted + now;
    c->counted = now;
    __atomic_store_n(&s->st.held, (uint64_t)s->held, __ATOMIC_RELAXED);
    if (s->held > s->st.held_peak) /* only this thread writes it */
        __atomic_store_n(&s->st.held_peak, (uint64_t)s->held, __ATOMIC_RELAXED);
}

/* c is closed: what it holds is no longer counted. */
static void
held_forget(struct ldg_server *s, struct conn *c)
{
    s->held -= c->counted;
    c->counted = 0;
    __atomic_store_n(&s->st.held, (uint64_t)s->held, __ATOMIC_RELAXED);
    if (s->fin == c)
        s->fin = NULL;
}

/* Whether c may be read now: its own limits, then the budget, which only
 * the finisher passes (until a line of its completes). */
static int
conn_may_read(struct ldg_server *s, struct conn *c)
{
    if (conn_paused(s, c) || c->deferred)
        return 0;
    held_sync(s, c);
    if (s->held < s->o.budget_bytes ||
        (c == s->fin && c->lineno == s->fin_lineno))
        return 1;
    if (!s->over) {
        s->over = 1;
        bump(&s->st.budget_stops);
    }
    return 0;
}

/* Closes the socket and unlinks c. It is freed by sweep() once the
 * writer has handed back its last request, never while the loop may
 * still hold a pointer to it. */
static void
conn_close(struct ldg_server *s, struct conn *c)
{
    char sink[4096];
    if (c->dead)
        return;
    epoll_ctl(s->ep, EPOLL_CTL_DEL, c->fd, NULL);
    /* A Unix socket closed with unread input resets its peer, which may
     * then lose answers it has not read yet (a drain on SIGTERM): drop
     * what is waiting first (a bounded amount). */
    for (int i = 0; i < 256; i++)
        if (recv(c->fd, sink, sizeof sink, MSG_DONTWAIT) <= 0)
            break;
    close(c->fd);
    c->fd = -1;
    c->dead = 1;
    held_forget(s, c);
    s->nowrite -= c->nowrite;
    s->ndeferred -= c->deferred;
    c->deferred = 0;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = NULL;
    c->next = s->graveyard;
    s->graveyard = c;
    s->nconns--;
}

static void
sweep(struct ldg_server *s)
{
    struct conn **pp = &s->graveyard, *c;
    while ((c = *pp) != NULL) {
        if (c->held == 0) {
            *pp = c->next;
            conn_free(s, c);
        } else
            pp = &c->next;
    }
}

/* Queues n bytes of answers; -1 when out of memory (c->out unchanged:
 * tried again at the next update). */
static int
out_append(struct conn *c, const char *p, size_t n)
{
    uint8_t *o;
    LDG_ASSERT(c->out_off <= c->out.len);
    if (c->out_off > 0 &&
        (c->out_off == c->out.len || n >= c->out.cap - c->out.len)) {
        /* all sent, or no room: what was sent goes first */
        ldg_buf_consume(&c->out, c->out_off);
        c->out_off = 0;
    }
    if ((o = ldg_buf_room(&c->out, n)) == NULL) {
        c->out.err = 0; /* not sticky here: the bytes held are intact */
        return -1;
    }
    memcpy(o, p, n);
    c->out.len += n;
    return 0;
}

/* Moves answered requests from the FIFO's head to the output buffer. */
static void
conn_drain_fifo(struct ldg_server *s, struct conn *c)
{
    struct req *r;
    while ((r = c->head) != NULL && r->ready) {
        if (!c->dead && r->resp != NULL &&
            out_append(c, r->resp, r->resp_len) < 0)
            break;
        c->head = r->next;
        if (c->head == NULL)
            c->tail = NULL;
        LDG_ASSERT(c->waiting > 0 && c->waiting_bytes >= r->bytes);
        c->waiting--;
        c->waiting_bytes -= r->bytes;
        r->next = s->retired;
        s->retired = r;
    }
}

static void process_lines(struct ldg_server *s, struct conn *c);

/* Writes what it can; then decides what to wait for. */
static void
conn_update(struct ldg_server *s, struct conn *c)
{
    uint32_t mask = 0;

    if (c->dead)
        return;
    conn_drain_fifo(s, c);
    while (c->out_off < c->out.len) {
        ssize_t w = send(c->fd, c->out.p + c->out_off, c->out.len - c->out_off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (w <= 0) {
            conn_close(s, c); /* the peer went away */
            return;
        }
        c->out_off += (size_t)w;
        LDG_ASSERT(c->out_off <= c->out.len);
        c->stall_since_ms = 0;
        c->active_ms = ldg_now_mono_ms();
    }
    if (c->out_off == c->out.len) {
        ldg_buf_consume(&c->out, c->out_off); /* all sent: no memmove */
        c->out_off = 0;
    }
    held_sync(s, c);
    /* Unsent answers past out_max stop its reading; at the budget, any
     * stop everyone's: a client that takes none of them for stall_ms is
     * dropped (check_stalls). */
    if (c->out.len - c->out_off >= s->o.out_max ||
        (c->out_off < c->out.len && s->held >= s->o.budget_bytes)) {
        if (c->stall_since_ms == 0)
            c->stall_since_ms = ldg_now_mono_ms();
        wake_at(s, c->stall_since_ms + s->o.stall_ms);
    } else
        c->stall_since_ms = 0;
    /* Lines already read wait for room in the queue. */
    if (!conn_paused(s, c) && c->in.len > 0 && !c->skipping)
        process_lines(s, c);
    if (c->dead)
        return;
    if (c->out_off < c->out.len)
        mask |= EPOLLOUT;
    if (!c->rd_eof && !s->stopping && conn_may_read(s, c))
        mask |= EPOLLIN | EPOLLRDHUP;
    /* line_ms counts while it may be read and a line is under way; a
     * pause (the server's, not the client's doing) starts it again */
    if (!(mask & EPOLLIN) || (c->in.len == 0 && !c->skipping)) {
        c->line_since_ms = 0;
    } else if (c->line_since_ms == 0 || c->lineno != c->line_lineno) {
        c->line_since_ms = ldg_now_mono_ms();
        c->line_lineno = c->lineno;
        wake_at(s, c->line_since_ms + s->o.line_ms);
    }
    if ((c->rd_eof || s->stopping) && c->head == NULL && !c->deferred &&
        c->out_off == c->out.len) {
        conn_close(s, c); /* all answered */
        return;
    }
    ep_set(s, c, mask);
}

static struct req *
req_new(struct ldg_server *s, struct conn *c, size_t bytes)
{
    struct req *r = s->spare;
    if (r != NULL) {
        s->spare = r->next;
        s->nspare--;
        memset(r, 0, sizeof *r);
    } else if ((r = calloc(1, sizeof *r)) == NULL) {
        return NULL;
    }
    r->c = c;
    r->bytes = bytes;
    if (c->tail)
        c->tail->next = r;
    else
        c->head = r;
    c->tail = r;
    c->waiting++;
    c->waiting_bytes += bytes;
    return r;
}

/* An answer the loop gives itself (no writer involved). */
static void
answer_now(struct ldg_server *s, struct conn *c, const char *fmt, ...)
{
    char msg[700];
    va_list ap;
    struct req *r = req_new(s, c, 0);
    if (r == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    req_error(r, msg, SERVE_CODE_DATA);
    r->ready = 1;
    bump(&s->st.errors);
}

static void answer_now_req(struct ldg_server *s, struct req *r, int code,
                           const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Answers r at once with an error (no writer involved). */
static void
answer_now_req(struct ldg_server *s, struct req *r, int code, const char *fmt,
               ...)
{
    char msg[1100];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    req_error(r, msg, code);
    r->ready = 1;
    bump(&s->st.errors);
    if (code == SERVE_CODE_NOPERM)
        bump(&s->st.denied);
}

/* A line the parser refused (SERVE_CODE_DATA): "line N[, column C]: msg". */
static void
answer_parse_error(struct ldg_server *s, struct req *r, int col,
                   const char *msg)
{
    if (col > 1)
        answer_now_req(s, r, SERVE_CODE_DATA, "line %llu, column %d: %s",
                       (unsigned long long)r->lineno, col, msg);
    else
        answer_now_req(s, r, SERVE_CODE_DATA, "line %llu: %s",
                       (unsigned long long)r->lineno, msg);
}

static void queue_req(struct ldg_server *s, struct conn *c, struct req *r);

/* A sealed batch (docs/PROTOCOL.md, "Sealed batches"): parsed here, its
 * events checked against access.json as its key's name, then queued for
 * the writer, which appends it whole or refuses it whole. */
static void
handle_sealed(struct ldg_server *s, struct conn *c, struct req *r,
              const char *line, size_t len)
{
    char msg[900];
    int col = 1, rc;
    size_t cost;

    if (c->may == 0) {
        /* a peer that may write nothing: refused before the batch is
         * parsed (its parse takes several times its line) */
        serve_auth_check(s->auth, 0, &c->peer, "", NULL, msg, sizeof msg);
        answer_now_req(s, r, SERVE_CODE_NOPERM, "line %llu: %s",
                       (unsigned long long)c->lineno, msg);
        return;
    }
    rc = ldg_ingest_parse_sealed(line, len, &r->sb, &col, msg, sizeof msg);
    if (rc < 0) {
        answer_parse_error(s, r, col, msg);
        return;
    }
    /* What the parsed batch holds counts against the budget from here
     * until it is freed, instead of its line's length. */
    s->sealed_held++;
    cost = ldg_ingest_sealed_cost(r->sb);
    c->waiting_bytes = c->waiting_bytes - r->bytes + cost;
    r->bytes = cost;
    if (s->auth != NULL && c->may != SERVE_AUTH_SELF) {
        /* access.json names actors by key name: the enrolled name of the
         * batch's key (an unknown key is the writer's to refuse) */
        struct ldg_txn *t = NULL;
        struct ldg_keyinfo ki;
        memset(&ki, 0, sizeof ki);
        if (ldg_txn_begin(s->l, LDG_TXN_READ, &t) == 0) {
            if (ldg_key_info(t, r->sb->key_id, &ki) < 0)
                ki.name[0] = '\0';
            ldg_txn_abort(t);
        }
        for (size_t i = 0; i < r->sb->n; i++) {
            if (!serve_auth_check(
                    s->auth, c->may, &c->peer, r->sb->ev[i].in.type,
                    ki.name[0] ? ki.name : r->sb->key_id, msg, sizeof msg)) {
                answer_now_req(s, r, SERVE_CODE_NOPERM,
                               "line %llu: sealed.events[%zu]: %s",
                               (unsigned long long)c->lineno, i, msg);
                return;
            }
        }
    }
    /* Who sent it, as the kernel says, goes with every event as for an
     * unsealed one: into each entry's stamp, the ledger's part, outside
     * the claim the client sealed (FORMAT.md 3.2), so the seal still
     * verifies. c outlives r (c->held). */
    for (size_t i = 0; i < r->sb->n; i++)
        r->sb->ev[i].in.source = c->peer.ok ? &c->source : NULL;
    queue_req(s, c, r);
}

/* Queues r on the loop's own list; queue_flush hands the list to the
 * writer once a loop round: one lock and one wake-up for all the
 * requests a round read, not one each (the writer takes the lock to cut
 * every group). */
static void
queue_req(struct ldg_server *s, struct conn *c, struct req *r)
{
    c->held++;
    if (s->lq_tail)
        s->lq_tail->qnext = r;
    else
        s->lq_head = r;
    s->lq_tail = r;
    s->lq_n++;
}

static void
queue_flush(struct ldg_server *s)
{
    if (s->lq_head == NULL)
        return;
    pthread_mutex_lock(&s->mu);
    if (s->q_tail)
        s->q_tail->qnext = s->lq_head;
    else
        s->q_head = s->lq_head;
    s->q_tail = s->lq_tail;
    s->q_n += s->lq_n;
    __atomic_store_n(&s->backlog, (uint64_t)s->q_n, __ATOMIC_RELAXED);
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    s->lq_head = s->lq_tail = NULL;
    s->lq_n = 0;
}

static void
handle_line(struct ldg_server *s, struct conn *c, const char *line, size_t len)
{
    struct req *r;
    char msg[600];
    int col, rc;

    while (len > 0 && line[len - 1] == '\r')
        len--;
    c->lineno++;
    if (len == 0)
        return; /* blank lines are not requests */
    bump(&s->st.requests);
    r = req_new(s, c, len);
    if (r == NULL) {
        c->rd_eof = 1; /* out of memory: answer what it has, then close */
        return;
    }
    r->lineno = c->lineno;
    if (ldg_ingest_is_sealed(line, len)) {
        handle_sealed(s, c, r, line, len);
        return;
    }
    if (len > s->o.max_line) {
        /* room is made for sealed batches only */
        answer_now_req(s, r, SERVE_CODE_DATA,
                       "line %llu: longer than %zu bytes: not recorded",
                       (unsigned long long)c->lineno, s->o.max_line);
        return;
    }
    rc = ldg_ingest_parse_line_ex(line, len, s->o.max_line, LDG_INGEST_REQUEST,
                                  &r->ev, &r->meta, &r->holder, &col, msg,
                                  sizeof msg);
    if (rc < 0) {
        answer_parse_error(s, r, col, msg);
        return;
    }
    if (!serve_auth_check(s->auth, c->may, &c->peer, r->ev.type, r->ev.actor,
                          msg, sizeof msg)) {
        answer_now_req(s, r, SERVE_CODE_NOPERM, "line %llu: %s",
                       (unsigned long long)c->lineno, msg);
        return;
    }
    /* What the client claims, and who it is as the kernel says: the
     * request cannot name a source (ingest refuses the field). */
    r->ev.id = r->meta.has_id ? r->meta.id : NULL;
    r->ev.has_time = r->meta.has_time;
    r->ev.time_ns = r->meta.time_ns;
    r->ev.source = c->peer.ok ? &c->source : NULL;
    queue_req(s, c, r);
}

/*
 * A sealed batch's parse takes several times its line (jansson's tree:
 * 8 times for the issue 29 batches, up to 15 for bodies of small arrays),
 * and 16 connections sending 8.8 MB batches had 770 MB parsed at once
 * against a 64 MiB budget. So a complete sealed line waits, unparsed (its
 * text is counted as read input), while another parsed batch is held and
 * parsing this one would take what is held past the budget: it is parsed
 * once that batch is freed (recheck), one after another. A lone batch is
 * always parsed, even one whose parse alone passes the budget: what is
 * held then passes it by at most one batch's parse. A peer that may write
 * nothing is refused without a parse (handle_sealed).
 */
static int
sealed_waits(struct ldg_server *s, struct conn *c, const char *line, size_t len)
{
    if (s->sealed_held == 0 || c->may == 0 || !ldg_ingest_is_sealed(line, len))
        return 0;
    held_sync(s, c);
    return s->held + len * LDG_INGEST_SEALED_FACTOR > s->o.budget_bytes;
}

/* A parsed batch was freed: the connections whose sealed batch waited
 * for it are looked at again (once a loop round). */
static void
sealed_recheck(struct ldg_server *s)
{
    struct conn *c, *nx;
    if (!s->recheck)
        return;
    s->recheck = 0;
    for (c = s->conns; c != NULL && s->ndeferred > 0; c = nx) {
        nx = c->next; /* conn_update may close c */
        if (c->deferred)
            conn_update(s, c);
    }
}

/* Handles every complete line in c->in while there is room. The lines
 * are parsed where they lie; what is left (a line not yet complete, or
 * lines waiting for room) moves to the front once, after the loop. */
static void
process_lines(struct ldg_server *s, struct conn *c)
{
    char *in = c->in.s;
    size_t pos = 0;
    if (c->deferred) {
        c->deferred = 0; /* looked at again here */
        s->ndeferred--;
    }
    while (pos < c->in.len && !c->dead && (s->stopping || !conn_paused(s, c))) {
        char *nl = memchr(in + pos, '\n', c->in.len - pos);
        if (nl == NULL)
            break;
        if (sealed_waits(s, c, in + pos, (size_t)(nl - (in + pos)))) {
            c->deferred = 1;
            s->ndeferred++;
            break;
        }
        handle_line(s, c, in + pos, (size_t)(nl - (in + pos)));
        pos = (size_t)(nl - in) + 1;
    }
    if (c->dead)
        return;
    LDG_ASSERT(pos <= c->in.len);
    ldg_buf_consume(&c->in, pos);
    /* Keep idle connections small. */
    if (c->in.len == 0 && c->in.cap > 64 * 1024)
        ldg_buf_release(&c->in);
}

/* The longest sealed-batch line: SERVE_SEALED_LINE_FACTOR times
 * --max-line, or the budget's share a batch may take (its parse and
 * append take about LDG_INGEST_SEALED_FACTOR times its line: 16 connections
 * sending issue 29's 8.8 MB batches took 770 MB) if less, but never less
 * than max_line. */
static size_t
sealed_max(const struct ldg_server *s)
{
    size_t lim = SERVE_SEALED_LINE_FACTOR * s->o.max_line;
    size_t share = s->o.budget_bytes / LDG_INGEST_SEALED_FACTOR;
    if (share < lim)
        lim = share;
    return lim > s->o.max_line ? lim : s->o.max_line;
}

/* Makes room in c->in to read into when it is full (only its NUL's byte
 * left): twice as much, from READ_MIN, up to the line limit. 0; 1 when
 * the buffer holds a whole line's limit without a newline (over-long:
 * answered, and skipped from here to its newline); -1 out of memory. */
static int
in_room(struct ldg_server *s, struct conn *c)
{
    struct ldg_buf *in = &c->in;
    size_t lim = s->o.max_line + 1; /* a full line and its newline */
    size_t want;

    if (in->len + 1 < in->cap)
        return 0;
    /* a sealed batch carries many events on one line: it may be longer
     * (sealed_max) */
    int sealed =
        in->len > 0 && !c->skipping && ldg_ingest_is_sealed(in->s, in->len);
    if (sealed)
        lim = sealed_max(s) + 1;
    if (in->len >= lim) {
        /* a full buffer without a newline: over-long. Refused before it
         * grows any further; the rest of the line is read and dropped. */
        c->lineno++;
        bump(&s->st.requests);
        if (sealed)
            answer_now(s, c,
                       "line %llu: a sealed batch longer than %zu bytes: "
                       "not recorded (the rest of the line is skipped). "
                       "Parsed and appended, a batch takes about %d times "
                       "its line: it may be 8 times " LDG_OPT_MAX_LINE
                       ", or " LDG_OPT_BUDGET " "
                       "(%zu) / %d if less, at least " LDG_OPT_MAX_LINE
                       "; send "
                       "smaller batches, or raise " LDG_OPT_BUDGET,
                       (unsigned long long)c->lineno, lim - 1,
                       LDG_INGEST_SEALED_FACTOR, s->o.budget_bytes,
                       LDG_INGEST_SEALED_FACTOR);
        else
            answer_now(s, c,
                       "line %llu: longer than %zu bytes: not recorded "
                       "(the rest of the line is skipped)",
                       (unsigned long long)c->lineno, lim - 1);
        c->lineno--; /* counted again when its newline comes */
        c->skipping = 1;
        in->len = 0;
        return 1;
    }
    /* in->cap - 1 more doubles the allocation (ldg_buf_grow) */
    want = in->cap ? in->cap - 1 : READ_MIN - 1;
    if (want > lim - in->len)
        want = lim - in->len;
    in->max = lim;
    return ldg_buf_room(in, want) != NULL ? 0 : -1;
}

/* Reads what c sent into the room in c->in. The finisher (past the
 * budget) takes nothing past its line's newline: it looks first
 * (MSG_PEEK) and then takes up to the newline, so what it holds after its
 * line is only ever less. */
static ssize_t
conn_recv(struct ldg_server *s, struct conn *c)
{
    uint8_t *at = c->in.p + c->in.len;
    size_t room = c->in.cap - c->in.len - 1;
    ssize_t n;
    const uint8_t *nl;

    LDG_ASSERT(c->in.len < c->in.cap);
    if (s->held < s->o.budget_bytes)
        return recv(c->fd, at, room, MSG_DONTWAIT);
    n = recv(c->fd, at, room, MSG_PEEK | MSG_DONTWAIT);
    if (n <= 0)
        return n;
    if ((nl = memchr(at, '\n', (size_t)n)) != NULL)
        n = nl + 1 - at;
    return recv(c->fd, at, (size_t)n, MSG_DONTWAIT);
}

static void
conn_read(struct ldg_server *s, struct conn *c)
{
    struct ldg_buf *in = &c->in;

    for (int rounds = 0; rounds < 16 && !c->dead; rounds++) {
        ssize_t n;
        int room;
        if (!conn_may_read(s, c))
            break;
        if ((room = in_room(s, c)) < 0) {
            conn_close(s, c);
            return;
        }
        if (room > 0)
            continue;
        n = conn_recv(s, c);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n < 0) {
            conn_close(s, c);
            return;
        }
        if (n == 0) {
            c->rd_eof = 1;
            if (in->len > 0 && !c->skipping) {
                size_t len = in->len;
                while (len > 0 &&
                       (in->s[len - 1] == ' ' || in->s[len - 1] == '\t' ||
                        in->s[len - 1] == '\r'))
                    len--;
                if (len > 0) {
                    c->lineno++;
                    bump(&s->st.requests);
                    answer_now(s, c,
                               "line %llu: cut short (the connection's "
                               "input ended before its newline): not "
                               "recorded",
                               (unsigned long long)c->lineno);
                }
            }
            in->len = 0;
            break;
        }
        c->active_ms = ldg_now_mono_ms();
        if (c->skipping) {
            /* read at in->p (in->len is 0 while skipping) and dropped up
             * to the newline, if one came */
            char *nl = memchr(in->s, '\n', (size_t)n);
            if (nl == NULL)
                continue;
            c->skipping = 0;
            c->lineno++;
            in->len = (size_t)n;
            ldg_buf_consume(in, (size_t)(nl + 1 - in->s));
        } else
            in->len += (size_t)n;
        LDG_ASSERT(in->len < in->cap);
        process_lines(s, c);
    }
}

/* Answers fd with a code 75 error line and closes it. */
static void
refuse(struct ldg_server *s, int fd, const char *why)
{
    char msg[300];
    int n = snprintf(msg, sizeof msg, "{\"error\":\"%s\",\"code\":%d}\n", why,
                     SERVE_CODE_TEMP);
    if (send(fd, msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
        /* nothing more to tell it */
    }
    close(fd);
    bump(&s->st.refused);
}

/*
 * The shares of max_conns (docs/PROTOCOL.md, "Limits"): peers that may
 * write nothing (access.json) hold at most a quarter of it together, and
 * one uid other than the daemon's own at most half. So a reader-group
 * member's idle connections, or one writer's, never use up the slots
 * the other writers need; the daemon's own uid (the control plane under
 * the same user, `ledger append` run by the operator) has no share but
 * the limit. Writes *msg (cap bytes) and returns 1 when c is over one.
 */
static int
over_share(const struct ldg_server *s, const struct conn *c, char *msg,
           size_t cap)
{
    unsigned nowrite_max = s->o.max_conns / 4, uid_max = s->o.max_conns / 2;
    unsigned n = 0;
    if (c->may == 0 && s->nowrite >= (nowrite_max ? nowrite_max : 1)) {
        snprintf(msg, cap,
                 "too many connections from peers that may not write (%u, a "
                 "quarter of " LDG_OPT_MAX_CONNS "); try again later",
                 s->nowrite);
        return 1;
    }
    if (c->may == SERVE_AUTH_SELF || s->nconns < uid_max)
        return 0;
    for (const struct conn *x = s->conns; x != NULL; x = x->next)
        n += x->peer.uid == c->peer.uid;
    if (n < (uid_max ? uid_max : 1))
        return 0;
    snprintf(msg, cap,
             "too many connections from uid %u (%u, half of " LDG_OPT_MAX_CONNS
             "); "
             "try again later",
             (unsigned)c->peer.uid, n);
    return 1;
}

static void
accept_all(struct ldg_server *s)
{
    for (;;) {
        struct epoll_event e;
        struct conn *c;
        char why[200];
        int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            return; /* EAGAIN, or EMFILE (tried again on the next event) */
        }
        if (s->nconns >= s->o.max_conns || s->stopping) {
            refuse(s, fd,
                   s->stopping ? "the server is stopping"
                               : "too many connections; try again later");
            continue;
        }
        c = calloc(1, sizeof *c);
        if (c == NULL) {
            close(fd);
            continue;
        }
        c->fd = fd;
        serve_peer_get(fd, &c->peer);
        serve_peer_groups(fd, &c->peer);
        c->may = serve_auth_match(s->auth, &c->peer);
        if (over_share(s, c, why, sizeof why)) {
            refuse(s, fd, why);
            bump(&s->st.refused_share);
            free(c);
            continue;
        }
        c->nowrite = c->may == 0;
        c->active_ms = ldg_now_mono_ms();
        c->source.uid = c->peer.uid;
        c->source.gid = c->peer.gid;
        c->source.pid = (uint64_t)c->peer.pid;
        c->source.exe = c->peer.exe[0] ? c->peer.exe : NULL;
        c->source.unit = c->peer.unit[0] ? c->peer.unit : NULL;
        memset(&e, 0, sizeof e);
        e.events = c->mask = EPOLLIN | EPOLLRDHUP;
        e.data.ptr = c;
        if (epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &e) < 0) {
            close(fd);
            free(c);
            continue;
        }
        c->next = s->conns;
        if (s->conns)
            s->conns->prev = c;
        s->conns = c;
        s->nconns++;
        s->nowrite += (unsigned)c->nowrite;
        wake_at(s, c->active_ms + s->o.idle_ms);
        bump(&s->st.conns);
    }
}

/* Takes the writer's answers and writes out what is in order. Two
 * passes: the first only marks requests answered and collects their
 * connections, the second writes each connection out once (which frees
 * the answered requests, so the list is not touched after the first). */
static void
take_done(struct ldg_server *s)
{
    struct req *r, *nx;
    struct conn *dirty = NULL, **dtail = &dirty, *c;
    uint64_t v;

    if (read(s->done_fd, &v, sizeof v) < 0) {
        /* nothing to read: another wake-up took it */
    }
    __atomic_store_n(&s->done_ready, 0, __ATOMIC_RELAXED);
    pthread_mutex_lock(&s->mu);
    r = s->done_head;
    s->done_head = NULL;
    pthread_mutex_unlock(&s->mu);
    for (; r != NULL; r = nx) {
        nx = r->qnext;
        r->qnext = NULL;
        r->ready = 1;
        if (r->is_err)
            bump(&s->st.errors);
        else /* events: a sealed batch counts its events */
            __atomic_add_fetch(r->dup ? &s->st.duplicates : &s->st.acked,
                               r->sb != NULL ? (uint64_t)r->sb->n : 1,
                               __ATOMIC_RELAXED);
        c = r->c;
        c->held--;
        if (!c->dead && !c->dirty) {
            /* in the order of each connection's first answered request:
             * the connection whose request reached the writer first gets
             * its answers first (a group is in queue order) */
            c->dirty = 1;
            c->dirty_next = NULL;
            *dtail = c;
            dtail = &c->dirty_next;
        }
    }
    for (c = dirty; c != NULL; c = dirty) {
        dirty = c->dirty_next;
        c->dirty = 0;
        c->dirty_next = NULL;
        conn_update(s, c);
    }
    retire_flush(s);
}

/* Whether idle_ms closes c when it is idle: always for a peer that may
 * write nothing, else only while slots are scarce (half of max_conns or
 * more taken). A writer that waits hours between events (`tail -f log |
 * ledger ingest -`) keeps its connection on a box with slots to spare,
 * and loses it only when others need them: it must then connect again
 * (it had nothing in flight, so nothing of it is lost; `ledger ingest`
 * says the server went away and exits 74). */
static int
idle_matters(const struct ldg_server *s, const struct conn *c)
{
    unsigned half = s->o.max_conns / 2;
    return c->nowrite || s->nconns >= (half ? half : 1);
}

/* Drops connections that have not read their answers for stall_ms. */
static void
check_stalls(struct ldg_server *s)
{
    uint64_t now = ldg_now_mono_ms();
    int over = s->held >= s->o.budget_bytes;
    struct conn *c, *nx;
    s->wake_ms = 0;
    for (c = s->conns; c != NULL; c = nx) {
        nx = c->next;
        /* at the budget, unsent answers are a stall too (conn_update
         * says so for the connections it looks at; this for the rest) */
        if (over && c->stall_since_ms == 0 && c->out_off < c->out.len)
            c->stall_since_ms = now;
        if (c->line_since_ms != 0) {
            /* slowloris: a line that does not complete */
            if (now - c->line_since_ms >= s->o.line_ms) {
                bump(&s->st.slow_dropped);
                conn_close(s, c);
                continue;
            }
            wake_at(s, c->line_since_ms + s->o.line_ms);
        } else if (!(c->mask & EPOLLIN)) {
            /* not read meanwhile (a pause): what it sent may be waiting */
            c->active_ms = now;
        } else if (!s->stopping && c->in.len == 0 && !c->skipping &&
                   c->head == NULL && c->held == 0 &&
                   c->out_off == c->out.len && idle_matters(s, c)) {
            /* nothing in flight: idle since it last sent or was answered */
            if (now - c->active_ms >= s->o.idle_ms) {
                bump(&s->st.idle_closed);
                conn_close(s, c);
                continue;
            }
            wake_at(s, c->active_ms + s->o.idle_ms);
        }
        if (c->stall_since_ms == 0)
            continue;
        if (now - c->stall_since_ms >= s->o.stall_ms) {
            bump(&s->st.dropped);
            conn_close(s, c);
        } else
            wake_at(s, c->stall_since_ms + s->o.stall_ms);
    }
}

/* Once a loop round, after check_stalls: under the budget again after
 * some connection was not read for it, every connection is looked at
 * again (conn_update sets its epoll mask). At or over it, the finisher
 * (see "budget" above) is let go once a line of its completed, dropped if
 * none did within stall_ms, and chosen when no request is waiting. */
static void
budget_round(struct ldg_server *s)
{
    struct conn *c, *nx, *best = NULL;
    size_t waiting = 0;
    uint64_t now;

    if (s->stopping)
        return;
    if (s->fin != NULL && s->fin->lineno != s->fin_lineno)
        s->fin = NULL; /* done: a line of its completed */
    if (s->held < s->o.budget_bytes) {
        s->fin = NULL;
        if (!s->over)
            return;
        s->over = 0;
        for (c = s->conns; c != NULL; c = nx) {
            nx = c->next; /* conn_update may close c */
            conn_update(s, c);
        }
        return;
    }
    now = ldg_now_mono_ms();
    if (s->fin != NULL) {
        if (now - s->fin_ms >= s->o.stall_ms) {
            bump(&s->st.dropped);
            conn_close(s, s->fin); /* and s->fin = NULL */
        } else
            wake_at(s, s->fin_ms + s->o.stall_ms);
        return;
    }
    for (c = s->conns; c != NULL; c = c->next) {
        waiting += c->waiting_bytes;
        if (c->in.len > 0 && !c->skipping && !c->rd_eof && !c->deferred &&
            !conn_paused(s, c) && (best == NULL || c->in.len > best->in.len))
            best = c;
    }
    /* Requests waiting go to the disk and come back as answers (fewer
     * bytes) by themselves: while there are any, no finisher. Answers are
     * not waited for: a reader takes them, a non-reader is dropped, and
     * neither needs a line to complete. */
    if (waiting > 0 || best == NULL)
        return;
    s->fin = best;
    s->fin_lineno = best->lineno;
    s->fin_ms = now;
    wake_at(s, now + s->o.stall_ms);
    conn_update(s, best);
}

/* ------------------------------------------------------------ the loop -- */

/* SIGHUP: reads access.json again. A good file replaces the rules (and
 * every open connection is judged by them from its next line); a bad one
 * changes nothing. Either way on_reload says so. */
static void
reload_auth(struct ldg_server *s)
{
    struct serve_auth *a = NULL;
    char msg[600] = "";
    uint64_t v;
    int rc;
    if (read(s->hup_fd, &v, sizeof v) < 0) {
        /* nothing to read: another wake-up took it */
    }
    rc = serve_auth_load(&a, s->auth_path, geteuid(), msg, sizeof msg);
    if (rc == 0)
        rc = serve_auth_apply_readers(
            a, ldg_dir(s->l), s->bound ? s->path : NULL, msg, sizeof msg);
    if (rc < 0) {
        serve_auth_free(a);
        if (s->o.on_reload != NULL)
            s->o.on_reload(s->o.ctx, rc, msg);
        return;
    }
    serve_auth_free(s->auth);
    s->auth = a;
    s->nowrite = 0;
    for (struct conn *c = s->conns; c != NULL; c = c->next) {
        c->may = serve_auth_match(a, &c->peer);
        c->nowrite = c->may == 0;
        s->nowrite += (unsigned)c->nowrite;
    }
    if (s->o.on_reload != NULL)
        s->o.on_reload(s->o.ctx, 0, s->auth_path);
}

static void
begin_stop(struct ldg_server *s)
{
    struct conn *c, *nx;
    s->stopping = 1;
    if (s->o.on_stopping != NULL)
        s->o.on_stopping(s->o.ctx);
    if (s->lfd >= 0) {
        epoll_ctl(s->ep, EPOLL_CTL_DEL, s->lfd, NULL);
        close(s->lfd);
        s->lfd = -1;
        if (s->bound)
            unlink(s->path);
        s->bound = 0;
    }
    /* Complete lines already read are in flight: they are committed and
     * answered. Nothing more is read. */
    for (c = s->conns; c != NULL; c = nx) {
        nx = c->next;
        if (!c->skipping && c->in.len > 0)
            process_lines(s, c);
        conn_update(s, c);
    }
}

static int
held_total(const struct ldg_server *s)
{
    for (const struct conn *c = s->conns; c != NULL; c = c->next)
        if (c->held > 0 || c->head != NULL || c->out_off < c->out.len ||
            c->deferred)
            return 1;
    return 0;
}

int
ldg_serve_run(struct ldg_server *s)
{
    struct epoll_event ev[64];
    uint64_t stop_deadline = 0;
    int rc = 0;

    if (s == NULL)
        return LDG_EINVAL;
    if (pthread_create(&s->writer, NULL, writer_main, s) != 0) {
        seterr(s, "cannot start the writer thread");
        return LDG_ENOMEM;
    }
    s->writer_started = 1;
    if (s->o.on_ready != NULL)
        s->o.on_ready(s->o.ctx, s->path);
    for (;;) {
        int n, timeout = 1000;
        if (s->stopping) {
            uint64_t now = ldg_now_mono_ms();
            if (!held_total(s) || now >= stop_deadline)
                break;
            timeout =
                (int)(stop_deadline - now < 100 ? stop_deadline - now : 100);
        }
        if (s->wake_ms != 0) {
            /* a stalled connection is due: dropped on time, not at the
             * next second's round */
            uint64_t now = ldg_now_mono_ms();
            uint64_t due = s->wake_ms > now ? s->wake_ms - now : 0;
            if (due < (uint64_t)timeout)
                timeout = (int)due;
        }
        n = epoll_wait(s->ep, ev, 64, timeout);
        if (n < 0 && errno != EINTR) {
            seterr(s, "epoll_wait: %s", strerror(errno));
            rc = LDG_EIO;
            s->stopping = 1;
            break;
        }
        for (int i = 0; i < n; i++) {
            void *tag = ev[i].data.ptr;
            if (tag == TAG_LISTEN) {
                accept_all(s);
            } else if (tag == TAG_STOP) {
                if (!s->stopping) {
                    begin_stop(s);
                    stop_deadline = ldg_now_mono_ms() + s->o.drain_ms;
                }
            } else if (tag == TAG_DONE) {
                take_done(s);
            } else if (tag == TAG_HUP) {
                reload_auth(s);
            } else {
                struct conn *c = tag;
                if (c->dead)
                    continue;
                if ((ev[i].events &
                     (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) &&
                    !c->rd_eof && !s->stopping)
                    conn_read(s, c);
                if (!c->dead && (ev[i].events & (EPOLLHUP | EPOLLERR))) {
                    /* gone both ways: nothing more can be delivered (what
                     * it sent in full is still committed) */
                    conn_close(s, c);
                    queue_flush(s);
                    continue;
                }
                conn_update(s, c);
                /* What this connection sent goes to the writer now, not
                 * at the end of the round: a round over 64 busy
                 * connections parses for milliseconds, and a group cut
                 * meanwhile would leave all of it for the next commit. */
                queue_flush(s);
            }
            /* Answers the writer handed back go out before the next
             * connection is read: a group's acks wait for no read. */
            if (__atomic_load_n(&s->done_ready, __ATOMIC_ACQUIRE))
                take_done(s);
        }
        queue_flush(s);
        retire_flush(s);
        check_stalls(s);
        budget_round(s);
        sweep(s); /* may free a closed connection's parsed batch */
        sealed_recheck(s);
        queue_flush(s);
    }
    /* The writer finishes its queue (it is empty unless the drain timed
     * out, and then what it holds is still committed), then stops. */
    queue_flush(s);
    pthread_mutex_lock(&s->mu);
    s->writer_quit = 1;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->writer, NULL);
    s->writer_started = 0;
    take_done(s);
    while (s->conns != NULL)
        conn_close(s, s->conns);
    sweep(s);
    retire_flush(s);
    return rc;
}

int
ldg_serve_submit(struct ldg_server *s, const struct ldg_event_in *evs, size_t n,
                 ldg_serve_done_fn done, void *cls)
{
    struct req *r;
    struct ext_batch *x;
    size_t sz;

    if (s == NULL || evs == NULL || n == 0 || done == NULL ||
        n > (SIZE_MAX - sizeof *r - sizeof *x) /
                (sizeof(int) + sizeof(uint64_t) + sizeof(unsigned)))
        return LDG_EINVAL;
    /* one allocation: the request, its batch, the seqs, outcomes and
     * differences */
    sz = sizeof *r + sizeof *x +
         n * (sizeof(uint64_t) + sizeof(int) + sizeof(unsigned));
    r = calloc(1, sz);
    if (r == NULL)
        return LDG_ENOMEM;
    x = (struct ext_batch *)(r + 1);
    x->seqs = (uint64_t *)(x + 1);
    x->outcome = (int *)(x->seqs + n);
    x->differs = (unsigned *)(x->outcome + n);
    x->evs = evs;
    x->n = n;
    x->done = done;
    x->cls = cls;
    r->ext = x;
    pthread_mutex_lock(&s->mu);
    if (!s->accepting || s->writer_quit) {
        pthread_mutex_unlock(&s->mu);
        free(r);
        return LDG_EIO; /* not started, or stopping */
    }
    if (s->q_tail)
        s->q_tail->qnext = r;
    else
        s->q_head = r;
    s->q_tail = r;
    s->q_n += n;
    __atomic_store_n(&s->backlog, (uint64_t)s->q_n, __ATOMIC_RELAXED);
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

uint64_t
ldg_serve_backlog(const struct ldg_server *s)
{
    return s ? __atomic_load_n(&s->backlog, __ATOMIC_RELAXED) : 0;
}

void
ldg_serve_reload(struct ldg_server *s)
{
    uint64_t one = 1;
    if (s != NULL && write(s->hup_fd, &one, sizeof one) < 0) {
        /* already signalled */
    }
}

void
ldg_serve_stop(struct ldg_server *s)
{
    uint64_t one = 1;
    if (s != NULL && write(s->stop_fd, &one, sizeof one) < 0) {
        /* already signalled */
    }
}

/* --------------------------------------------------------- set up/down -- */

/* Takes the shared hold on DIR/serve.lock for the server's life (none
 * when the file cannot be made or opened). */
static int
hold(struct ldg_server *s, const char *dir)
{
    char path[4096];

    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, LDG_SERVE_LOCK) >=
        sizeof path)
        return LDG_EINVAL;
    /* read-only is enough for a flock; a directory this user cannot
     * write (where no migrate can run either) has none: served without */
    s->hold_fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (s->hold_fd < 0)
        s->hold_fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (s->hold_fd >= 0 && flock(s->hold_fd, LOCK_SH) < 0) {
        seterr(s, "%s: %s", path, strerror(errno));
        return LDG_EIO;
    }
    return 0;
}

int
ldg_serve_held(const char *dir)
{
    char path[4096];
    int fd, held;

    if (dir == NULL || (size_t)snprintf(path, sizeof path, "%s/%s", dir,
                                        LDG_SERVE_LOCK) >= sizeof path)
        return LDG_EINVAL;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno == ENOENT ? 0 : LDG_EIO;
    held = flock(fd, LOCK_EX | LOCK_NB) < 0;
    if (held && errno != EWOULDBLOCK) {
        close(fd);
        return LDG_EIO;
    }
    close(fd); /* and the lock with it */
    return held;
}

/* Binds path, replacing a stale socket file that nothing answers on. */
static int
bind_socket(struct ldg_server *s)
{
    struct sockaddr_un sa;
    mode_t old;
    int fd, rc;

    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (strlen(s->path) >= sizeof sa.sun_path) {
        seterr(s, "socket path %s is longer than %zu bytes", s->path,
               sizeof sa.sun_path - 1);
        return LDG_EINVAL;
    }
    memcpy(sa.sun_path, s->path, strlen(s->path) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        seterr(s, "socket: %s", strerror(errno));
        return LDG_EIO;
    }
    old = umask(0117); /* srw-rw----: never world-writable */
    rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
    if (rc < 0 && errno == EADDRINUSE) {
        if (ldg_unix_socket_live(s->path)) {
            umask(old);
            close(fd);
            seterr(s, "%s: another server already answers there", s->path);
            return LDG_EBUSY;
        }
        unlink(s->path); /* stale: its server is gone */
        rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
    }
    umask(old);
    if (rc < 0) {
        seterr(s, "cannot bind %s: %s", s->path, strerror(errno));
        close(fd);
        return errno == EADDRINUSE ? LDG_EBUSY : LDG_EIO;
    }
    chmod(s->path, 0660);
    if (listen(fd, 512) < 0) {
        seterr(s, "listen on %s: %s", s->path, strerror(errno));
        close(fd);
        unlink(s->path);
        return LDG_EIO;
    }
    s->lfd = fd;
    s->bound = 1;
    return 0;
}

static int
ep_add(struct ldg_server *s, int fd, void *tag)
{
    struct epoll_event e;
    memset(&e, 0, sizeof e);
    e.events = EPOLLIN;
    e.data.ptr = tag;
    return epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &e);
}

int
ldg_serve_new(struct ldg_server **out, struct ldg_ledger *l,
              const struct ldg_serve_options *opts, char *err, size_t errcap)
{
    struct ldg_server *s;
    int rc;

    if (out == NULL || l == NULL)
        return LDG_EINVAL;
    *out = NULL;
    s = calloc(1, sizeof *s);
    if (s == NULL)
        return LDG_ENOMEM;
    s->l = l;
    s->lfd = s->ep = s->stop_fd = s->done_fd = s->hup_fd = s->hold_fd = -1;
    if (opts != NULL)
        s->o = *opts;
    if (s->o.max_conns == 0)
        s->o.max_conns = 4096;
    if (s->o.max_line == 0)
        s->o.max_line = ldg_body_max(l) + ENVELOPE_ROOM;
    if (s->o.queue_max == 0)
        s->o.queue_max = 256;
    if (s->o.queue_bytes == 0)
        s->o.queue_bytes = (size_t)4 << 20;
    if (s->o.out_max == 0)
        s->o.out_max = (size_t)1 << 20;
    if (s->o.stall_ms == 0)
        s->o.stall_ms = 10000;
    if (s->o.idle_ms == 0)
        s->o.idle_ms = LDG_SERVE_IDLE_DEFAULT;
    if (s->o.line_ms == 0)
        s->o.line_ms = LDG_SERVE_LINE_DEFAULT;
    if (s->o.drain_ms == 0)
        s->o.drain_ms = 5000;
    if (s->o.group_max == 0)
        s->o.group_max = 4096;
    if (s->o.sweep_ms == 0)
        s->o.sweep_ms = 60000;
    if (s->o.trim_events == 0)
        s->o.trim_events = 8192;
    if (s->o.budget_bytes == 0)
        s->o.budget_bytes = LDG_SERVE_BUDGET_DEFAULT;
    /* its timed wait is the sweep's interval: on the monotonic clock */
    if (ldg_cond_init_mono(&s->cv) != 0) {
        if (s->o.has_listen_fd)
            close(s->o.listen_fd); /* as every failure here closes it */
        free(s);
        return LDG_ENOMEM;
    }
    pthread_mutex_init(&s->mu, NULL);
    s->accepting = 1;
    /* a store this build does not append to: refused here, where the
     * operator (and systemd) sees it, not request by request for ever */
    if ((rc = ldg_check_writable(l)) < 0) {
        seterr(s, "not serving: %s", ldg_errmsg(l));
        if (s->o.has_listen_fd)
            s->lfd = s->o.listen_fd; /* closed with the server */
        goto fail;
    }
    if ((rc = hold(s, ldg_dir(l))) < 0) {
        if (s->o.has_listen_fd)
            s->lfd = s->o.listen_fd; /* closed with the server */
        goto fail;
    }
    {
        char *apath = s->auth_path;
        size_t acap = sizeof s->auth_path;
        if (s->o.writers_path != NULL)
            snprintf(apath, acap, "%s", s->o.writers_path);
        else
            snprintf(apath, acap, "%s/%s", ldg_dir(l), SERVE_AUTH_FILE);
        rc = serve_auth_load(&s->auth, apath, geteuid(), s->err, sizeof s->err);
        if (rc < 0) {
            if (s->o.has_listen_fd)
                s->lfd = s->o.listen_fd; /* closed with the server */
            goto fail;
        }
    }
    if (s->o.has_listen_fd) {
        s->lfd = s->o.listen_fd;
        fcntl(s->lfd, F_SETFL, fcntl(s->lfd, F_GETFL) | O_NONBLOCK);
        if (s->o.socket_path != NULL)
            snprintf(s->path, sizeof s->path, "%s", s->o.socket_path);
        else {
            /* the name it was bound to (by the socket unit) */
            struct sockaddr_un sa;
            socklen_t sl = sizeof sa;
            memset(&sa, 0, sizeof sa);
            if (getsockname(s->lfd, (struct sockaddr *)&sa, &sl) == 0 &&
                sa.sun_family == AF_UNIX && sa.sun_path[0] != '\0')
                snprintf(s->path, sizeof s->path, "%.*s",
                         (int)(sizeof sa.sun_path), sa.sun_path);
        }
    } else {
        int n = s->o.socket_path != NULL
                    ? snprintf(s->path, sizeof s->path, "%s", s->o.socket_path)
                    : snprintf(s->path, sizeof s->path, "%s/%s", ldg_dir(l),
                               LDG_SERVE_SOCKET);
        if (n < 0 || (size_t)n >= sizeof s->path) {
            seterr(s, "socket path is longer than %zu bytes",
                   sizeof s->path - 1);
            rc = LDG_EINVAL;
            goto fail;
        }
        if ((rc = bind_socket(s)) < 0)
            goto fail;
    }
    if ((rc = serve_auth_apply_readers(s->auth, ldg_dir(l),
                                       s->bound ? s->path : NULL, s->err,
                                       sizeof s->err)) < 0)
        goto fail;
    s->ep = epoll_create1(EPOLL_CLOEXEC);
    s->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    s->hup_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    s->done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (s->ep < 0 || s->stop_fd < 0 || s->done_fd < 0 || s->hup_fd < 0 ||
        ep_add(s, s->hup_fd, TAG_HUP) < 0 ||
        ep_add(s, s->lfd, TAG_LISTEN) < 0 ||
        ep_add(s, s->stop_fd, TAG_STOP) < 0 ||
        ep_add(s, s->done_fd, TAG_DONE) < 0) {
        seterr(s, "cannot set up the event loop: %s", strerror(errno));
        rc = LDG_EIO;
        goto fail;
    }
    *out = s;
    return 0;
fail:
    if (err != NULL && errcap > 0)
        snprintf(err, errcap, "%s", s->err[0] ? s->err : ldg_strerror(rc));
    ldg_serve_free(s);
    return rc;
}

const char *
ldg_serve_path(const struct ldg_server *s)
{
    return s ? s->path : "";
}

const char *
ldg_serve_errmsg(const struct ldg_server *s)
{
    return s ? s->err : "";
}

void
ldg_serve_stats(const struct ldg_server *s, struct ldg_serve_stats *st)
{
    const struct ldg_serve_stats *c;
    if (s == NULL || st == NULL)
        return;
    c = &s->st; /* each counter read whole; together, not a snapshot */
    st->conns = __atomic_load_n(&c->conns, __ATOMIC_RELAXED);
    st->refused = __atomic_load_n(&c->refused, __ATOMIC_RELAXED);
    st->dropped = __atomic_load_n(&c->dropped, __ATOMIC_RELAXED);
    st->requests = __atomic_load_n(&c->requests, __ATOMIC_RELAXED);
    st->acked = __atomic_load_n(&c->acked, __ATOMIC_RELAXED);
    st->errors = __atomic_load_n(&c->errors, __ATOMIC_RELAXED);
    st->commits = __atomic_load_n(&c->commits, __ATOMIC_RELAXED);
    st->denied = __atomic_load_n(&c->denied, __ATOMIC_RELAXED);
    st->sweeps = __atomic_load_n(&c->sweeps, __ATOMIC_RELAXED);
    st->cleared = __atomic_load_n(&c->cleared, __ATOMIC_RELAXED);
    st->trims = __atomic_load_n(&c->trims, __ATOMIC_RELAXED);
    st->duplicates = __atomic_load_n(&c->duplicates, __ATOMIC_RELAXED);
    st->held = __atomic_load_n(&c->held, __ATOMIC_RELAXED);
    st->held_peak = __atomic_load_n(&c->held_peak, __ATOMIC_RELAXED);
    st->budget_stops = __atomic_load_n(&c->budget_stops, __ATOMIC_RELAXED);
    st->idle_closed = __atomic_load_n(&c->idle_closed, __ATOMIC_RELAXED);
    st->slow_dropped = __atomic_load_n(&c->slow_dropped, __ATOMIC_RELAXED);
    st->refused_share = __atomic_load_n(&c->refused_share, __ATOMIC_RELAXED);
    st->epochs_ended = __atomic_load_n(&c->epochs_ended, __ATOMIC_RELAXED);
    st->epoch_failures = __atomic_load_n(&c->epoch_failures, __ATOMIC_RELAXED);
}

void
ldg_serve_free(struct ldg_server *s)
{
    if (s == NULL)
        return;
    if (s->writer_started) {
        pthread_mutex_lock(&s->mu);
        s->writer_quit = 1;
        pthread_cond_signal(&s->cv);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->writer, NULL);
    }
    /* ext batches the writer never took (it never ran): not written */
    pthread_mutex_lock(&s->mu);
    s->accepting = 0;
    struct req *q = s->q_head;
    s->q_head = s->q_tail = NULL;
    pthread_mutex_unlock(&s->mu);
    for (struct req *r = q, *nx; r != NULL; r = nx) {
        nx = r->qnext;
        if (r->ext != NULL) {
            struct ldg_serve_done d;
            memset(&d, 0, sizeof d);
            d.rc = LDG_EIO;
            d.why = "the server stopped before its writer ran";
            d.n = r->ext->n;
            d.outcome = r->ext->outcome;
            d.seqs = r->ext->seqs;
            d.differs = r->ext->differs;
            r->ext->done(r->ext->cls, &d);
            free(r);
        }
    }
    while (s->conns != NULL)
        conn_close(s, s->conns);
    for (struct conn *c = s->graveyard; c != NULL; c = s->graveyard) {
        s->graveyard = c->next;
        conn_free(s, c);
    }
    retire_flush(s);
    while (s->spare != NULL) {
        struct req *r = s->spare;
        s->spare = r->next;
        free(r);
    }
    if (s->lfd >= 0)
        close(s->lfd);
    if (s->bound)
        unlink(s->path);
    if (s->hold_fd >= 0)
        close(s->hold_fd);
    if (s->ep >= 0)
        close(s->ep);
    if (s->stop_fd >= 0)
        close(s->stop_fd);
    if (s->hup_fd >= 0)
        close(s->hup_fd);
    if (s->done_fd >= 0)
        close(s->done_fd);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    serve_auth_free(s->auth);
    free(s);
}
