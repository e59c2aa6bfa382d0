/*
 * writer.c — the bulk writer (ldg_writer_*): a pipeline of signing threads and
 * a commit thread over the append path.
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

#include "ledger/append_int.h"
#include "ledger/keys_int.h"
#include "ledger/tlog_int.h"

/* ------------------------------------------------------------- writer -- */

/*
 * The bulk writer is a three-stage pipeline over a ring of batches:
 *
 *   caller thread    validate, stamp (predicted seq, ts)  -> ring[head]
 *   signing threads  body commitment, encode, sign        (any batch)
 *   commit thread    chain, store, checkpoint, fsync      ring[tail]
 *
 * A batch is sealed when full (or on flush) and committed, in order, once
 * every event in it is signed. While the commit thread waits on fsync the
 * other stages go on with the next batches, so the two cores stay busy.
 *
 * Stamps are predictions: commit_group re-checks them against the log
 * and signs again if another process appended in between. The first
 * failed commit is sticky: later batches are dropped unacknowledged, and
 * ldg_writer_committed says exactly how many events are durable.
 */
/* Batches in flight. 10: events wait compacted (ldg_prep_compact: about
 * 2.2 KB an event instead of 4.7; the body's record and its uncompressed
 * form in one allocation) and a group commit drops the map's pages as it
 * goes (ldg_commit_spans); a commit of up to 8 batches rewrites each index
 * leaf page once for more events. The commit holds the batches it takes
 * until it is durable, and only the rest of the ring can fill meanwhile:
 * with 8 (2026-11-27 to 11-28, when a waiting event held its subject, run
 * and id at their largest sizes, struct ldg_prep of 1,240 B) the parse
 * threads waited for room, and a 1M-event ingest took 1.16-1.23x layout
 * 4's wall time. With struct ldg_prep of 496 B (prep_text): 10 took
 * 1.06-1.11x with a peak RSS of 55-60 MiB, 12 1.06-1.08x with 59-64 MiB,
 * against ingest's bound of 64 (bench/bounds.tsv, "ingest"). */
#define RING 10
/* Events a worker takes per lock round: 8 where each is signed (format
 * 1), 64 where a worker only encodes claims and digests (format 2: with
 * 8, waking and locking cost more than the work, and the caller thread
 * spent a sixth of its time in futex calls). */
#define SIGN_CHUNK 8
#define CLAIM_CHUNK 64

struct wbatch {
    struct ldg_prep *preps; /* capacity w->batch */
    size_t n;               /* events in the batch */
    size_t nsigned;         /* events through a signer */
    size_t dirty;           /* committed preps not yet released (see below) */
};

struct ldg_writer {
    struct ldg_ledger *l;
    size_t batch;
    unsigned group;  /* batches a commit may take, 1..RING */
    unsigned gather; /* batches a commit waits for, 1..group */
    int flushing;    /* callers waiting for everything to commit */
    size_t chunk;    /* SIGN_CHUNK or CLAIM_CHUNK */
    void (*on_commit)(void *ctx, uint64_t first_seq, uint64_t n);
    void *on_commit_ctx;
    void (*on_duplicate)(void *ctx, uint64_t tag, const char *id, uint64_t seq,
                         unsigned differs);
    struct wbatch ring[RING];
    uint64_t head;   /* counter of the batch being filled */
    uint64_t tail;   /* counter of the next batch to commit */
    uint64_t sign_b; /* next event to sign: batch counter ... */
    size_t sign_i;   /* ... and index in it */
    uint64_t next_seq, last_ts;
    int reclaim; /* head moved on: its slot may hold committed preps */
    uint64_t committed, first_seq;
    int commit_rc;
    char commit_err[1024];
    unsigned nsigners;
    pthread_t signers[16];
    pthread_t committer;
    int have_committer;
    pthread_mutex_t mu;
    pthread_cond_t work, ready, space;
    int stop;
};

/* With mu held: moves the signing cursor past finished sealed batches and
 * says whether an event is waiting to be signed. */
static int
sign_available(struct ldg_writer *w)
{
    /* A committed batch was fully signed: never look at its slot again,
     * another batch may be filling it. */
    if (w->sign_b < w->tail) {
        w->sign_b = w->tail;
        w->sign_i = 0;
    }
    while (w->sign_b < w->head && w->sign_i >= w->ring[w->sign_b % RING].n) {
        w->sign_b++;
        w->sign_i = 0;
    }
    /* The slot of batch tail+RING is still the tail batch's. */
    if (w->sign_b >= w->tail + RING)
        return 0;
    return w->sign_i < w->ring[w->sign_b % RING].n;
}

static void *
sign_worker(void *arg)
{
    struct ldg_writer *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        struct wbatch *b;
        size_t first, k;
        while (!w->stop && !sign_available(w))
            pthread_cond_wait(&w->work, &w->mu);
        if (w->stop)
            break;
        /* Take up to w->chunk waiting events at once: one lock round
         * per chunk instead of one per event. */
        b = &w->ring[w->sign_b % RING];
        first = w->sign_i;
        k = b->n - first;
        if (k > w->chunk)
            k = w->chunk;
        w->sign_i += k;
        pthread_mutex_unlock(&w->mu);
        for (size_t i = first; i < first + k; i++) {
            struct ldg_prep *p = &b->preps[i];
            p->rc = ldg_prep_sign(w->l, p, p->seq, p->ts);
        }
        pthread_mutex_lock(&w->mu);
        b->nsigned += k;
        if (b->nsigned == b->n)
            pthread_cond_signal(&w->ready);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* After a commit: each event it skipped because its id was in the log. */
static void
say_duplicates(struct ldg_writer *w, const struct ldg_prep *preps, size_t n)
{
    if (w->on_duplicate == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        if (preps[i].dup)
            w->on_duplicate(w->on_commit_ctx, preps[i].tag, preps[i].id,
                            preps[i].dup_seq, preps[i].dup_differs);
}

/* With mu held: how many batches from tail on are sealed and prepared,
 * up to group (so the commit thread may take them together). */
static unsigned
ready_run(const struct ldg_writer *w)
{
    unsigned m = 0;
    while (m < w->group && w->tail + m < w->head &&
           w->ring[(w->tail + m) % RING].nsigned ==
               w->ring[(w->tail + m) % RING].n)
        m++;
    return m;
}

static void *
commit_worker(void *arg)
{
    struct ldg_writer *w = arg;
    struct ldg_ledger *l = w->l;

    ldg_err_on_commit_thread();
    pthread_mutex_lock(&w->mu);
    for (;;) {
        struct ldg_prep_span spans[RING];
        uint64_t first = 0, stored = 0, total = 0;
        unsigned m = 1;
        int rc, trim = 0;
        for (;;) {
            m = ready_run(w);
            /* gather: wait for that many batches unless someone waits
             * for everything (flush, free) or the ring is full */
            if (m > 0 && (m >= w->gather || w->flushing || w->stop ||
                          w->head - w->tail >= RING))
                break;
            if (w->stop && w->tail == w->head)
                break;
            pthread_cond_wait(&w->ready, &w->mu);
        }
        if (w->tail == w->head)
            break; /* stopping, nothing sealed left */
        for (unsigned i = 0; i < m; i++) {
            struct wbatch *b = &w->ring[(w->tail + i) % RING];
            spans[i].p = b->preps;
            spans[i].n = b->n;
            total += b->n;
            trim |= ((w->tail + i) & 3) == 3;
        }
        rc = w->commit_rc;
        pthread_mutex_unlock(&w->mu);
        stored = 0;
        if (rc == 0) {
            /* events whose id is already in the log are skipped */
            rc = ldg_commit_spans(l, spans, m, &first, &stored);
            if (rc < 0)
                snprintf(w->commit_err, sizeof w->commit_err, "%s", l->err_alt);
        }
        if (rc == 0 && stored > 0 && w->on_commit != NULL)
            w->on_commit(w->on_commit_ctx, first, stored);
        if (rc == 0 && stored < total)
            for (unsigned i = 0; i < m; i++)
                say_duplicates(w, spans[i].p, spans[i].n);
        if (rc == 0 && trim)
            ldg_store_trim(l->store);
        /* The preps are released by the caller thread when it fills this
         * slot again (writer_reclaim): it allocated their JSON and body
         * records, and glibc frees far faster on the allocating thread. */
        pthread_mutex_lock(&w->mu);
        if (rc == 0 && stored > 0) {
            if (w->committed == 0)
                __atomic_store_n(&w->first_seq, first, __ATOMIC_RELEASE);
            __atomic_store_n(&w->committed, w->committed + stored,
                             __ATOMIC_RELEASE);
        } else if (rc < 0 && w->commit_rc == 0) {
            w->commit_rc = rc;
        }
        for (unsigned i = 0; i < m; i++) {
            struct wbatch *b = &w->ring[w->tail % RING];
            b->dirty = b->n;
            b->n = 0;
            b->nsigned = 0;
            w->tail++;
        }
        pthread_cond_broadcast(&w->space);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static void
writer_stop(struct ldg_writer *w)
{
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_broadcast(&w->work);
    pthread_cond_broadcast(&w->ready);
    pthread_mutex_unlock(&w->mu);
    for (unsigned i = 0; i < w->nsigners; i++)
        pthread_join(w->signers[i], NULL);
    if (w->have_committer)
        pthread_join(w->committer, NULL);
    w->nsigners = 0;
    w->have_committer = 0;
}

int
ldg_writer_new(struct ldg_writer **out, struct ldg_ledger *l,
               const struct ldg_writer_options *opts)
{
    struct ldg_writer *w;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned want;
    int rc;

    *out = NULL;
    if (l == NULL)
        return LDG_EINVAL;
    if (l->opts.flags & LDG_RDONLY) {
        ldg_seterr(l, "ledger opened read-only");
        return LDG_EINVAL;
    }
    if (l->writer_open) {
        ldg_seterr(l, "a writer runs on this handle already (one at a time)");
        return LDG_EINVAL;
    }
    if ((rc = ldg_log_secret_load(l)) < 0)
        return rc;
    w = calloc(1, sizeof *w);
    if (w == NULL)
        return LDG_ENOMEM;
    w->l = l;
    w->batch = opts && opts->batch ? opts->batch : 1000;
    w->chunk = ldg_format(l) >= 2 ? CLAIM_CHUNK : SIGN_CHUNK;
    w->group = opts && opts->group > 1 ? opts->group : 1;
    if (w->group > RING)
        w->group = RING;
    w->gather = opts && opts->gather > 1 ? opts->gather : 1;
    if (w->gather > w->group)
        w->gather = w->group;
    if (opts != NULL) {
        w->on_commit = opts->on_commit;
        w->on_commit_ctx = opts->ctx;
        w->on_duplicate = opts->on_duplicate;
    }
    want =
        opts && opts->threads ? opts->threads : (unsigned)(ncpu > 0 ? ncpu : 1);
    if (want > 16)
        want = 16;
    for (int i = 0; i < RING; i++) {
        w->ring[i].preps = calloc(w->batch, sizeof(struct ldg_prep));
        if (w->ring[i].preps == NULL) {
            rc = LDG_ENOMEM;
            goto fail;
        }
    }
    if ((rc = ldg_size(l, &w->next_seq)) < 0)
        goto fail;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->work, NULL);
    pthread_cond_init(&w->ready, NULL);
    pthread_cond_init(&w->space, NULL);
    for (unsigned i = 0; i < want; i++) {
        if (pthread_create(&w->signers[i], NULL, sign_worker, w) != 0)
            break;
        w->nsigners++;
    }
    if (w->nsigners > 0 &&
        pthread_create(&w->committer, NULL, commit_worker, w) == 0)
        w->have_committer = 1;
    if (!w->have_committer) {
        writer_stop(w);
        rc = LDG_ENOMEM;
        ldg_seterr(l, "cannot start the writer threads");
        goto fail;
    }
    l->writer_open = 1;
    *out = w;
    return 0;
fail:
    for (int i = 0; i < RING; i++)
        free(w->ring[i].preps);
    free(w);
    return rc;
}

/* With mu held: seals the batch being filled, if it has events. */
static void
seal(struct ldg_writer *w)
{
    struct wbatch *b = &w->ring[w->head % RING];
    if (b->n == 0)
        return;
    w->head++;
    w->reclaim = 1;
    pthread_cond_signal(&w->ready);
    pthread_cond_broadcast(&w->work);
}

/* Error to hand the caller once a commit failed. */
static int
commit_failure(struct ldg_writer *w)
{
    snprintf(w->l->errmsg, sizeof w->l->errmsg, "%s", w->commit_err);
    return w->commit_rc;
}

int
ldg_writer_flush(struct ldg_writer *w)
{
    int rc;
    if (w == NULL)
        return LDG_EINVAL;
    pthread_mutex_lock(&w->mu);
    seal(w);
    w->flushing++;
    pthread_cond_signal(&w->ready); /* no gathering now */
    while (w->tail < w->head)
        pthread_cond_wait(&w->space, &w->mu);
    w->flushing--;
    rc = w->commit_rc;
    pthread_mutex_unlock(&w->mu);
    if (rc < 0)
        return commit_failure(w);
    /* Predict from the log as it is now: another process may append
     * between our groups. */
    return ldg_size(w->l, &w->next_seq);
}

int
ldg_writer_push(struct ldg_writer *w)
{
    int rc;
    if (w == NULL)
        return LDG_EINVAL;
    pthread_mutex_lock(&w->mu);
    seal(w);
    /* the slot the next add fills must be free, as after a full batch */
    while (w->head - w->tail >= RING)
        pthread_cond_wait(&w->space, &w->mu);
    rc = w->commit_rc;
    pthread_mutex_unlock(&w->mu);
    return rc < 0 ? commit_failure(w) : 0;
}

/* Releases the committed preps of the slot about to be filled, once per
 * slot (after seal() moved head on). Only the caller thread fills slots,
 * and no other thread looks at a slot's preps beyond its n, which is 0
 * here, so they are freed without the lock. */
static void
writer_reclaim(struct ldg_writer *w)
{
    struct wbatch *b;
    size_t d = 0;

    pthread_mutex_lock(&w->mu);
    b = &w->ring[w->head % RING];
    if (b->n == 0) {
        d = b->dirty;
        b->dirty = 0;
    }
    pthread_mutex_unlock(&w->mu);
    for (size_t i = 0; i < d; i++)
        ldg_prep_release(&b->preps[i]);
}

int
ldg_writer_add(struct ldg_writer *w, const struct ldg_event_in *ev)
{
    return ldg_writer_add_tagged(w, ev, 0);
}

static int writer_queue(struct ldg_writer *w, struct ldg_prep p, uint64_t tag);

/* What every add does first: a failed commit is the answer; the slot
 * about to be filled is reclaimed. */
static int
writer_begin_add(struct ldg_writer *w)
{
    int rc;
    pthread_mutex_lock(&w->mu);
    rc = w->commit_rc;
    pthread_mutex_unlock(&w->mu);
    if (rc < 0)
        return commit_failure(w);
    w->l->errmsg[0] = '\0';
    if (w->reclaim) {
        w->reclaim = 0;
        writer_reclaim(w);
    }
    return 0;
}

int
ldg_writer_add_tagged(struct ldg_writer *w, const struct ldg_event_in *ev,
                      uint64_t tag)
{
    struct ldg_prep p;
    int rc;

    if (w == NULL || ev == NULL)
        return LDG_EINVAL;
    if ((rc = writer_begin_add(w)) < 0)
        return rc;
    rc = ldg_prep_init(w->l, &p, ev);
    if (rc < 0) {
        ldg_prep_release(&p);
        return rc;
    }
    return writer_queue(w, p, tag);
}

int
ldg_writer_add_prepared(struct ldg_writer *w, struct ldg_prepared *pe,
                        uint64_t tag)
{
    struct ldg_prep p;
    int rc;

    if (w == NULL || pe == NULL)
        return LDG_EINVAL;
    if ((rc = writer_begin_add(w)) < 0) {
        ldg_prep_release(&pe->p);
        return rc;
    }
    if ((rc = ldg_prep_finish(w->l, pe, &p)) < 0)
        return rc;
    return writer_queue(w, p, tag);
}

/* Queues an accepted prep (or commits it alone: key events, erasures). */
static int
writer_queue(struct ldg_writer *w, struct ldg_prep p, uint64_t tag)
{
    struct ldg_ledger *l = w->l;
    struct wbatch *b;
    uint64_t now;
    int rc;

    p.tag = tag;
    /* Key events and erasures are checked against the log as it is when
     * they commit, so they go alone: flush what is queued, then append. */
    if (strncmp(p.type, "key.", 4) == 0 ||
        strcmp(p.type, LDG_EV_BODY_ERASED) == 0) {
        uint64_t first, stored = 0;
        rc = ldg_writer_flush(w);
        if (rc == 0)
            rc = ldg_commit_group_n(l, &p, 1, &first, &stored);
        if (rc == 0 && stored == 1) {
            if (w->committed == 0)
                __atomic_store_n(&w->first_seq, first, __ATOMIC_RELEASE);
            __atomic_store_n(&w->committed, w->committed + 1, __ATOMIC_RELEASE);
            w->next_seq = first + 1;
            if (w->on_commit != NULL)
                w->on_commit(w->on_commit_ctx, first, 1);
        }
        if (rc == 0 && stored == 0)
            say_duplicates(w, &p, 1);
        ldg_prep_release(&p);
        return rc;
    }
    ldg_prep_compact(&p);
    if (p.has_parent && p.parent >= w->next_seq) {
        ldg_seterr(l, "parent %llu is not an earlier event than %llu",
                   (unsigned long long)p.parent,
                   (unsigned long long)w->next_seq);
        ldg_prep_release(&p);
        return LDG_EBADINPUT;
    }
    now = ldg_clock_now(l);
    p.seq = w->next_seq++;
    p.ts = now > w->last_ts ? now : w->last_ts + 1;
    w->last_ts = p.ts;
    pthread_mutex_lock(&w->mu);
    b = &w->ring[w->head % RING];
    b->preps[b->n++] = p;
    /* Wake a signer per chunk, not per event; seal() wakes them all. */
    if (b->n % w->chunk == 0)
        pthread_cond_signal(&w->work);
    if (b->n == w->batch) {
        seal(w);
        while (w->head - w->tail >= RING)
            pthread_cond_wait(&w->space, &w->mu);
    }
    rc = w->commit_rc;
    pthread_mutex_unlock(&w->mu);
    return rc < 0 ? commit_failure(w) : 0;
}

uint64_t
ldg_writer_committed(const struct ldg_writer *w)
{
    /* read while the commit thread may add to it */
    return w ? __atomic_load_n(&w->committed, __ATOMIC_ACQUIRE) : 0;
}

uint64_t
ldg_writer_first_seq(const struct ldg_writer *w)
{
    return w ? __atomic_load_n(&w->first_seq, __ATOMIC_ACQUIRE) : 0;
}

void
ldg_writer_free(struct ldg_writer *w)
{
    if (w == NULL)
        return;
    /* Sealed batches are committed (ldg_writer_add promised it, and the
     * commit thread may have done it already); the unsealed one is dropped
     * (it was never acknowledged). ledger.h states this contract. */
    pthread_mutex_lock(&w->mu);
    w->flushing++;
    pthread_cond_signal(&w->ready); /* no gathering now */
    while (w->tail < w->head)
        pthread_cond_wait(&w->space, &w->mu);
    w->flushing--;
    pthread_mutex_unlock(&w->mu);
    writer_stop(w);
    for (int i = 0; i < RING; i++) {
        size_t used =
            w->ring[i].n > w->ring[i].dirty ? w->ring[i].n : w->ring[i].dirty;
        for (size_t j = 0; j < used; j++)
            ldg_prep_release(&w->ring[i].preps[j]);
        free(w->ring[i].preps);
    }
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->work);
    pthread_cond_destroy(&w->ready);
    pthread_cond_destroy(&w->space);
    w->l->writer_open = 0;
    free(w);
}

int
ldg_writer_add_sealed(struct ldg_writer *w, const struct ldg_sealed_batch *sb,
                      uint64_t *first_seq)
{
    struct ldg_ledger *l;
    struct ldg_batch *b = NULL;
    uint64_t first = 0, n = 0, at = 0;
    int rc;

    if (w == NULL || sb == NULL)
        return LDG_EINVAL;
    l = w->l;
    /* What is queued goes first, in order; then the client's batch in a
     * commit of its own, judged against the log as it is then. */
    if ((rc = ldg_writer_flush(w)) < 0)
        return rc;
    l->errmsg[0] = '\0';
    if ((rc = ldg_batch_begin(&b, l)) < 0)
        return rc;
    rc = ldg_batch_add_sealed(b, sb, &at);
    if (rc == 0)
        rc = ldg_batch_commit(b, &first, &n);
    ldg_batch_free(b);
    if (rc == LDG_EDUPLICATE && first_seq != NULL)
        *first_seq = at;
    if (rc < 0)
        return rc;
    if (w->committed == 0)
        __atomic_store_n(&w->first_seq, first, __ATOMIC_RELEASE);
    __atomic_store_n(&w->committed, w->committed + n, __ATOMIC_RELEASE);
    w->next_seq = first + n;
    if (w->on_commit != NULL && n > 0)
        w->on_commit(w->on_commit_ctx, first, n);
    if (first_seq != NULL)
        *first_seq = at;
    return 0;
}
