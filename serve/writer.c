/*
 * writer.c — the daemon's writer thread (server.c draws the picture): takes
 * every queued request as one group, one ldg_batch a group, commits, and
 * hands the answers back to the loop.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "doctor/doctor.h"
#include "serve/serve.h"
#include "serve/serve_int.h"
#include "serve/server_int.h"

/* ------------------------------------------------------------ answers -- */

static void
req_answer(struct req *r, char *line, size_t len)
{
    free(r->resp);
    r->resp = line;
    r->resp_len = len;
    r->is_err = 0;
}

void
srv_req_error(struct req *r, const char *msg, int code)
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
                srv_req_error(r, msg,
                              rc == LDG_EKEY ? SERVE_CODE_NOPERM
                                             : SERVE_CODE_DATA);
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
            srv_req_error(r, msg,
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
            continue; /* refused, or an ext batch (srv_writer_main answers) */
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
        srv_bump(&s->st.commits);
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
                srv_req_error(r, msg,
                              rc == LDG_EVERSION ? SERVE_CODE_DATA
                                                 : SERVE_CODE_IO);
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

/* Counts each of the group's answers and, when nothing else is queued,
 * sends its direct answers (server.c): the writer is idle anyway, and the
 * client need not wait for the loop to wake. A connection's answer left
 * unsent or half sent stops its later ones here; the loop sends the rest
 * in order. Each is counted before it is sent: a client that has its
 * answer finds it in the stats. */
static void
answer_group(struct ldg_server *s, struct req *group)
{
    int idle = __atomic_load_n(&s->backlog, __ATOMIC_RELAXED) == 0;

    for (struct req *r = group; r != NULL; r = r->qnext) {
        ssize_t w;
        if (r->is_err)
            srv_bump(&s->st.errors);
        else /* events: a sealed batch counts its events */
            __atomic_add_fetch(r->dup ? &s->st.duplicates : &s->st.acked,
                               r->sb != NULL ? (uint64_t)r->sb->n : 1,
                               __ATOMIC_RELAXED);
        if (!r->direct)
            continue;
        if (!idle || r->c->w_stop || r->resp == NULL) {
            r->c->w_stop = 1;
            continue;
        }
        do
            w = send(r->fd, r->resp, r->resp_len, MSG_NOSIGNAL | MSG_DONTWAIT);
        while (w < 0 && errno == EINTR);
        r->sent = w > 0 ? (size_t)w : 0;
        if (r->sent < r->resp_len)
            r->c->w_stop = 1; /* a full socket, or gone: the loop sees */
        else
            srv_bump(&s->st.direct);
    }
}

/* One dead-reader sweep; sets the next one's time (ldg_now_mono_ns), and
 * wake, the same as the deadline the condition variable (monotonic) waits
 * for. */
static void
sweep_readers(struct ldg_server *s, uint64_t *next, struct timespec *wake)
{
    uint64_t ms = s->o.sweep_ms;
    int dead = ldg_clear_dead_readers(s->l);
    srv_bump(&s->st.sweeps);
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
        srv_bump(&s->st.epoch_failures);
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

void *
srv_writer_main(void *arg)
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
            answer_group(s, group);
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
            srv_bump(&s->st.trims);
        }
        if (since_trim >= (trim_step > 0 ? trim_step : 1)) {
            /* the pages this writer's lookups touched: unmapped, so the
             * resident size stays the daemon's own memory */
            ldg_access_release_part(s->l, trim_part, LDG_SERVE_TRIM_PARTS);
            trim_part = (trim_part + 1) % LDG_SERVE_TRIM_PARTS;
            since_trim = 0;
            srv_bump(&s->st.trims);
        }
    }
    return NULL;
}
