/*
 * stream.c — ldg_query_stream: the matches of an iterator, rendered and
 * written out in order, with -o json rendered on several threads.
 *
 * The calling thread runs the iterator (cursor steps, decode, matching)
 * and fills batches of events: a copy of the envelope, the actor's name
 * and a pointer to the stored body record, which stays valid (and
 * unchanged) while the caller's read transaction lives. Worker threads
 * render whole batches to text with q_render_json_rec, which touches
 * nothing but its arguments: no LMDB call, no shared cache; they also
 * make the claim digest a stored entry leaves out (layout 5 on), which
 * the iterator then does not (the calling thread is the stream's narrow
 * part: it does all the LMDB reads and the model lookups). The calling
 * thread writes finished batches out in order, and when it would have to
 * wait for one that no worker has taken yet, renders it itself.
 *
 *   caller:  fill 0 | fill 1 | fill 2 | write 0, fill 3 | write 1 ...
 *   worker:         | render 0 | render 1 | render 2 ...
 *
 * A ring of RING batches of BATCH events bounds the memory whatever the
 * size of the result (about RING * BATCH * 1.2 kB of envelopes, plus the
 * rendered text), and output still streams: a batch is handed on when it
 * is full, when the iterator ends, or when the iterator has looked at many
 * events since the batch began (a sparse match, e.g. a body term, does
 * not wait for BATCH matches). Workers start only once a full batch is
 * waiting.
 *
 * Other formats, and json with threads = 1, take the plain loop:
 * ldg_query_iter_next, ldg_query_render_iter, write. So do the first
 * PLAIN_FIRST events of json: a small result (run=R) then allocates no
 * ring and copies no envelope, and renders into the renderer's one line
 * buffer. A call that finds the ring there already (the CLI calls again
 * after each 4 MiB of output) starts with it.
 * Fresh memory costs a page fault a page on first touch, which is dear on
 * a virtual machine (about 10 us on the PVM guest of bench/RESULTS.md);
 * the ring of a small result touched ~150 pages of it. The same bytes
 * come out either way: both render with q_render_json_rec.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "query/query_int.h"
#include "ledger/module.h"
#include "util/util.h"

/* Small batches in a short ring: the text of every batch in flight
 * (about 70 kB a batch of whole lines) stays in the caches between the
 * worker that writes it and the thread that copies it out. 256 events in
 * 8 batches (2.2 MB of text in flight) missed the cache on most stores:
 * a 196,000-event window of whole lines took 185-220 ms into a pipe,
 * 138-145 ms with 64 in 4 (bench/RESULTS.md). 64 in 8 (560 kB) lets the
 * calling thread, the narrow part, run further ahead of a worker that
 * is slow for a batch or two instead of waiting for it: a 251,000-event
 * window of a layout 6 store took 1.10-1.22 us an event into a pipe
 * against 1.24-1.25 with 64 in 4 (medians of 12-16 runs, two cores; 6,
 * 10 and 16 in the ring did no better, nor 32 in 16 or 128 in 8). */
#define BATCH 64
#define RING 8
#define PLAIN_FIRST 256      /* events of json on the caller's thread alone */
#define SPARSE_EXAMINED 4096 /* hand a batch on after this many misses */
#define THREADS_MAX 4
/* A sleeping worker is woken when this many full batches wait, not at
 * each: the calling thread is the narrow part, so a worker woken for
 * every batch rendered it and slept again, each time a futex wait and a
 * wake (8,500 context switches in an 800,000-event window, ~7% of the
 * CPU; 2,700 with 2, as few as the layout 4 build's). A worker that is
 * awake takes each batch as it comes; a batch short of BATCH (the end, or
 * a sparse match) wakes one at once; and the calling thread renders a
 * waiting batch itself rather than wait for it (drain_one). */
#define WAKE_AT 2

enum bstate { B_FREE, B_READY, B_BUSY, B_DONE };

struct item {
    struct ldg_event ev;
    char name[LDG_NAME_MAX + 1];
    const uint8_t *rec; /* NULL: erased */
    size_t rec_len;
    /* 0: rec is the stored record; else rec is at raw.p + raw_at - 1 in
     * its batch, inflated once for model_at (set when the batch is full:
     * raw may move as it grows) */
    size_t raw_at;
    /* ,"model_at":{..}, a reference the caller's thread took, or NULL */
    struct q_mtext *extra;
};

struct batch {
    struct item *items; /* BATCH of them */
    size_t n;
    enum bstate state;
    struct ldg_buf out;
    struct ldg_buf raw; /* records inflated for model_at (item.raw_at) */
    int rc;             /* rendering failed at items[good] with rc */
    size_t good;        /* items rendered */
    size_t good_len;    /* bytes of out they take */
    size_t inited;      /* items[0..inited) have extra set (see below) */
};

struct q_stream {
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    struct batch ring[RING];
    size_t head, tail; /* batches [head, tail) are in flight */
    int quit;
    pthread_t th[THREADS_MAX];
    unsigned nth, want_th; /* workers running, wanted */
    int decided;           /* want_th is set (at the first full batch) */
    unsigned flags;
    uint32_t fields; /* the renderer's: what the items need */
    size_t body_max;
    const struct ldg_dicts *dicts;
    uint64_t bad_seq; /* the renderer's finding (UINT64_MAX: none) */
    const char *bad_what;
    uint64_t limit;        /* events at most (0 = all), after the plain start */
    struct q_jsonstate js; /* the calling thread's */
};

/* Renders b's events; touches only b (and the records it points to). */
static void
render_batch(struct q_stream *s, struct batch *b, struct q_jsonstate *js)
{
    b->out.len = 0;
    b->out.err = 0;
    b->rc = 0;
    b->good = 0;
    b->good_len = 0;
    for (size_t i = 0; i < b->n; i++) {
        struct item *it = &b->items[i];
        LDG_ASSERT(b->good == i);
        size_t start = b->out.len;
        int rc;
        /* the claim digest a stored entry leaves out, made here rather
         * than on the caller's thread (q_iter_skip_digest), where shown */
        if (it->ev.sealed && it->ev.digest_derived &&
            (s->fields & (UINT32_C(1) << LDG_QF_CLAIM_DIGEST)))
            ldg_claim_digest(it->ev.digest, it->ev.signed_part,
                             it->ev.signed_len);
        rc = q_render_json_rec(&b->out, js, s->flags, s->fields, &it->ev,
                               it->name, it->rec, it->rec_len, s->body_max,
                               s->dicts,
                               it->extra != NULL ? it->extra->s : NULL);
        if (rc == 0 && it->ev.seq == s->bad_seq) {
            q_json_mark_finding(&b->out, start, s->bad_what);
            rc = b->out.err;
        }
        if (rc < 0) {
            b->rc = rc;
            return;
        }
        b->good = i + 1;
        b->good_len = b->out.len;
    }
}

/* The oldest READY batch, or NULL. Called with mu held. */
static struct batch *
next_ready(struct q_stream *s)
{
    for (size_t i = s->head; i < s->tail; i++)
        if (s->ring[i % RING].state == B_READY)
            return &s->ring[i % RING];
    return NULL;
}

/* Batches READY. Called with mu held. */
static size_t
ready_count(struct q_stream *s)
{
    size_t n = 0;
    for (size_t i = s->head; i < s->tail; i++)
        n += s->ring[i % RING].state == B_READY;
    return n;
}

static void *
worker(void *arg)
{
    struct q_stream *s = arg;
    struct q_jsonstate js;
    memset(&js, 0, sizeof js);
    js.utc_sec = -1;
    pthread_mutex_lock(&s->mu);
    while (!s->quit) {
        struct batch *b = next_ready(s);
        if (b == NULL) {
            pthread_cond_wait(&s->work, &s->mu);
            continue;
        }
        b->state = B_BUSY;
        pthread_mutex_unlock(&s->mu);
        render_batch(s, b, &js);
        pthread_mutex_lock(&s->mu);
        LDG_ASSERT(b->state == B_BUSY);
        b->state = B_DONE;
        pthread_cond_broadcast(&s->done);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static void
stop_workers(struct q_stream *s)
{
    pthread_mutex_lock(&s->mu);
    s->quit = 1;
    pthread_cond_broadcast(&s->work);
    pthread_mutex_unlock(&s->mu);
    for (unsigned i = 0; i < s->nth; i++)
        pthread_join(s->th[i], NULL);
    s->nth = 0;
}

/* Waits for the oldest batch in flight to be rendered (rendering it here
 * if no worker has taken it), writes it out and frees its slot. Returns
 * 0, the writer's nonzero value, or a rendering error. */
static int
drain_one(struct q_stream *s, const struct ldg_query_stream_opts *o,
          struct ldg_query_iter *it, uint64_t *count, struct ldg_event *last)
{
    struct batch *b = &s->ring[s->head % RING];
    int rc = 0;

    pthread_mutex_lock(&s->mu);
    while (b->state != B_DONE) {
        LDG_ASSERT(s->head < s->tail && s->tail - s->head <= RING);
        /* rather than wait, render what no worker has taken yet: the
         * head itself, or a later batch */
        struct batch *r = next_ready(s);
        if (r == NULL) {
            pthread_cond_wait(&s->done, &s->mu);
            continue;
        }
        r->state = B_BUSY;
        pthread_mutex_unlock(&s->mu);
        render_batch(s, r, &s->js);
        pthread_mutex_lock(&s->mu);
        LDG_ASSERT(r->state == B_BUSY);
        r->state = B_DONE;
    }
    pthread_mutex_unlock(&s->mu);
    LDG_ASSERT(b->good_len <= b->out.len && b->good <= b->n);
    if (b->good_len > 0)
        rc = o->write(o->ctx, b->out.s, b->good_len);
    if ((rc == 0 || rc == LDG_QUERY_WRITE_PAUSE) && b->good > 0) {
        *count += b->good;
        if (last != NULL)
            *last = b->items[b->good - 1].ev;
    }
    if (rc == 0 && b->rc < 0) {
        rc = b->rc == LDG_ENOMEM ? LDG_ENOMEM : b->rc;
        ldg_set_errmsg(ldg_txn_ledger(q_iter_txn(it)), "event %llu: body: %s",
                       (unsigned long long)b->items[b->good].ev.seq,
                       ldg_strerror(b->rc));
    }
    pthread_mutex_lock(&s->mu);
    b->state = B_FREE;
    s->head++;
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* Writes out the batches at the head that are done, without waiting. */
static int
drain_done(struct q_stream *s, const struct ldg_query_stream_opts *o,
           struct ldg_query_iter *it, uint64_t *count, struct ldg_event *last)
{
    for (;;) {
        int ready, rc;
        pthread_mutex_lock(&s->mu);
        ready = s->head < s->tail && s->ring[s->head % RING].state == B_DONE;
        pthread_mutex_unlock(&s->mu);
        if (!ready)
            return 0;
        if ((rc = drain_one(s, o, it, count, last)) != 0)
            return rc;
    }
}

static unsigned
default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        return 1;
    return n > THREADS_MAX ? THREADS_MAX : (unsigned)n;
}

/* item's record, when compressed, in its uncompressed kind in b->raw
 * (item->raw_at; item->rec points there until b->raw grows) */
static void
inflate_here(struct q_stream *s, struct batch *b, struct item *item)
{
    const uint8_t *p;
    size_t n, at = b->raw.len;
    if (ldg_body_record_plain(item->rec, item->rec_len, &p, &n))
        return;
    if (ldg_body_record_raw_append(s->dicts, item->rec, item->rec_len,
                                   s->body_max, &b->raw) < 0) {
        b->raw.len = at;
        b->raw.err = 0;
        return;
    }
    item->rec = b->raw.p + at;
    item->rec_len = b->raw.len - at;
    item->raw_at = at + 1;
}

/* Fills and hands on batches until the iterator ends, the limit is
 * reached or the writer says stop. */
static int
run_threaded(struct q_stream *s, struct ldg_query_iter *it,
             struct ldg_query_render *r, const struct ldg_query_stream_opts *o,
             uint64_t *count, struct ldg_event *last)
{
    struct ldg_txn *t = q_iter_txn(it);
    uint64_t taken = 0;
    int rc = 0, iter_rc = 0, end = 0;

    while (!end && rc == 0) {
        struct batch *b;
        uint64_t examined0;

        if (s->tail - s->head == RING &&
            (rc = drain_one(s, o, it, count, last)) != 0)
            break;
        b = &s->ring[s->tail % RING];
        /* each batch's items allocated on its first use (neither zeroed
         * nor touched: each item is written before it is read, extra on
         * first use, see inited) */
        if (b->items == NULL &&
            (b->items = malloc(BATCH * sizeof *b->items)) == NULL) {
            rc = LDG_ENOMEM;
            break;
        }
        b->n = 0;
        b->raw.len = 0;
        examined0 = q_iter_examined(it);
        while (b->n < BATCH) {
            struct item *item = &b->items[b->n];
            if (b->n >= b->inited) /* first use of this item */
                b->inited = b->n + 1;
            else
                q_mtext_drop(item->extra);
            item->extra = NULL;
            if ((s->limit > 0 && taken >= s->limit) ||
                (o->stop != NULL && *o->stop)) {
                end = 1;
                break;
            }
            iter_rc = ldg_query_iter_next(it, &item->ev);
            item->rec = NULL;
            item->rec_len = 0;
            item->raw_at = 0;
            if (iter_rc == 0 && (s->fields & Q_FIELDS_REC))
                iter_rc = q_iter_body_record(it, &item->rec, &item->rec_len);
            if (iter_rc == LDG_EERASED) {
                item->rec = NULL;
                item->rec_len = 0;
                iter_rc = 0;
            }
            if (iter_rc < 0 || iter_rc == LDG_QUERY_WINDOW_END) {
                end = 1;
                break;
            }
            {
                const char *nm =
                    (s->fields & (UINT32_C(1) << LDG_QF_ACTOR_NAME))
                        ? q_render_key_name(r, t, item->ev.actor)
                        : "";
                size_t nl = strnlen(nm, LDG_NAME_MAX);
                const json_t *body = NULL;
                memcpy(item->name, nm, nl);
                item->name[nl] = '\0';
                /* the model lookups need LMDB: done here, not in workers */
                if (item->rec != NULL && ldg_query_iter_body(it, &body) != 1)
                    body = NULL;
                /* a compressed record that model_at must open here is
                 * inflated once, for the worker too (one that fails to is
                 * left to the worker, which says why) */
                if (item->rec != NULL && body == NULL &&
                    (s->fields & (UINT32_C(1) << LDG_QF_MODEL_AT)) &&
                    q_model_field(item->ev.type) != NULL)
                    inflate_here(s, b, item);
                iter_rc =
                    item->rec == NULL ||
                            !(s->fields & (UINT32_C(1) << LDG_QF_MODEL_AT))
                        ? 0
                        : q_model_at_ref(q_render_modelcache(r), t, &item->ev,
                                         body, item->rec, item->rec_len,
                                         &item->extra);
                if (iter_rc < 0) {
                    end = 1;
                    break;
                }
            }
            b->n++;
            taken++;
            if (q_iter_examined(it) - examined0 > SPARSE_EXAMINED)
                break;
        }
        if (b->n == 0)
            break;
        for (size_t i = 0; i < b->n; i++)
            if (b->items[i].raw_at != 0)
                b->items[i].rec = b->raw.p + b->items[i].raw_at - 1;
        pthread_mutex_lock(&s->mu);
        LDG_ASSERT(s->tail - s->head < RING);
        b->state = B_READY;
        s->tail++;
        if (b->n < BATCH || ready_count(s) >= WAKE_AT)
            pthread_cond_signal(&s->work);
        pthread_mutex_unlock(&s->mu);
        /* workers start once there is a full batch to share */
        if (b->n == BATCH && !s->decided) {
            unsigned th = o->threads ? o->threads : default_threads();
            s->want_th = (th > THREADS_MAX ? THREADS_MAX : th) - 1;
            s->decided = 1;
        }
        while (b->n == BATCH && s->nth < s->want_th &&
               pthread_create(&s->th[s->nth], NULL, worker, s) == 0)
            s->nth++;
        rc = drain_done(s, o, it, count, last);
    }
    while (rc == 0 && s->head < s->tail)
        rc = drain_one(s, o, it, count, last);
    if (rc == 0 && iter_rc < 0 && iter_rc != LDG_ENOTFOUND)
        rc = iter_rc;
    if (rc == 0 && iter_rc == LDG_QUERY_WINDOW_END)
        rc = iter_rc; /* all it read is written */
    return rc;
}

/* The plain loop, for at most limit events (0 = all). *more (may be
 * NULL) is set when it stopped at the limit with nothing else ending it:
 * the iterator may have more. */
static int
run_plain(struct ldg_query_iter *it, struct ldg_query_render *r,
          const struct ldg_query_stream_opts *o, uint64_t limit,
          uint64_t *count, struct ldg_event *last, int *more)
{
    struct ldg_event ev;
    uint64_t n = 0;
    int rc = 0;

    if (more != NULL)
        *more = 0;
    while (!(o->stop != NULL && *o->stop)) {
        if (limit > 0 && n >= limit) {
            if (more != NULL)
                *more = 1;
            break;
        }
        const char *text;
        size_t len;
        rc = ldg_query_iter_next(it, &ev);
        if (rc == LDG_ENOTFOUND) {
            rc = 0;
            break;
        }
        if (rc < 0 || rc == LDG_QUERY_WINDOW_END)
            break;
        if ((rc = ldg_query_render_iter(r, it, &ev, &text, &len)) < 0)
            break;
        if ((rc = o->write(o->ctx, text, len)) != 0 &&
            rc != LDG_QUERY_WRITE_PAUSE)
            break;
        n++;
        (*count)++;
        if (last != NULL)
            *last = ev;
        if (rc != 0)
            break;
    }
    return rc;
}

int
ldg_query_stream(struct ldg_query_iter *it, struct ldg_query_render *r,
                 const struct ldg_query_stream_opts *o, uint64_t *count,
                 struct ldg_event *last)
{
    struct q_stream *s;
    uint64_t dummy = 0;
    unsigned threads;
    int rc;

    if (it == NULL || r == NULL || o == NULL || o->write == NULL)
        return LDG_EINVAL;
    if (count == NULL)
        count = &dummy;
    *count = 0;
    /* (the CPU count is asked for only once a full batch is waiting) */
    threads = o->threads ? o->threads : THREADS_MAX;
    /* a short line or a body alone shows no leaf hash: without a cursor
     * nothing needs the leaf (a tile read an event, found through an
     * index) */
    if (q_render_fmt(r) != LDG_QFMT_JSON &&
        q_render_fmt(r) != LDG_QFMT_JSON_PRETTY &&
        q_render_fmt(r) != LDG_QFMT_VERBOSE &&
        !(q_render_flags(r) & LDG_RENDER_CURSOR))
        q_iter_skip_leaf(it);
    if (threads < 2 || q_render_fmt(r) != LDG_QFMT_JSON) {
        rc = run_plain(it, r, o, o->limit, count, last, NULL);
        q_modelcache_detach(*q_render_modelcache(r));
        return rc;
    }
    /* a line with no leaf hash and no cursor needs no leaf: no step in
     * the tree's cursor an event (the caller's *last has none then) */
    if (!(q_render_fields(r) & (UINT32_C(1) << LDG_QF_LEAF_HASH)) &&
        !(q_render_flags(r) & LDG_RENDER_CURSOR))
        q_iter_skip_leaf(it);
    /* json: the first PLAIN_FIRST events on this thread alone (see the
     * top), unless the ring is there already (a caller that goes on after
     * a pause: the CLI, every 4 MiB of output) */
    if (*q_render_stream(r) == NULL) {
        uint64_t first =
            o->limit > 0 && o->limit < PLAIN_FIRST ? o->limit : PLAIN_FIRST;
        int more = 0;
        rc = run_plain(it, r, o, first, count, last, &more);
        if (rc != 0 || !more || (o->limit > 0 && *count >= o->limit)) {
            q_modelcache_detach(*q_render_modelcache(r));
            return rc;
        }
    }

    /* The ring and its buffers are kept in the renderer from one call to
     * the next (the CLI calls once per 4 MiB of output): allocated anew,
     * a time window of 132,000 events faulted in ~20,000 fresh pages. */
    /* So are its workers, idle between calls (a call ends with every
     * batch written): the CLI calls once per read window, 1,000 events,
     * and starting and joining three threads a window cost ~10% of -o
     * json's time. */
    s = *q_render_stream(r);
    if (s == NULL) {
        s = calloc(1, sizeof *s);
        if (s == NULL) {
            q_modelcache_detach(*q_render_modelcache(r));
            return LDG_ENOMEM;
        }
        pthread_mutex_init(&s->mu, NULL);
        pthread_cond_init(&s->work, NULL);
        pthread_cond_init(&s->done, NULL);
        *q_render_stream(r) = s;
    }
    pthread_mutex_lock(&s->mu);
    s->head = s->tail = 0;
    for (size_t i = 0; i < RING; i++)
        s->ring[i].state = B_FREE;
    pthread_mutex_unlock(&s->mu);
    memset(&s->js, 0, sizeof s->js);
    s->js.utc_sec = -1;
    s->limit = o->limit > 0 ? o->limit - *count : 0;
    s->flags = q_render_flags(r);
    s->fields = q_render_fields(r);
    s->bad_seq = q_render_finding(r, &s->bad_what);
    s->body_max = ldg_body_max(ldg_txn_ledger(q_iter_txn(it)));
    s->dicts = ldg_txn_dicts(q_iter_txn(it));
    /* a derived claim digest (SHA-256 of the claim, ~0.1 us an event) is
     * made by render_batch, on the workers, and only where the line
     * shows it: the caller's thread, which runs the iterator and the
     * model lookups, is the stream's narrow part */
    q_iter_skip_digest(it);
    rc = run_threaded(s, it, r, o, count, last);
    q_modelcache_detach(*q_render_modelcache(r));
    /* what the items point to belongs to this call */
    for (size_t i = 0; i < RING; i++) {
        for (size_t k = 0; s->ring[i].items != NULL && k < s->ring[i].inited;
             k++)
            q_mtext_drop(s->ring[i].items[k].extra);
        s->ring[i].inited = 0;
    }
    return rc;
}

void
q_stream_free(struct q_stream *s)
{
    if (s == NULL)
        return;
    stop_workers(s);
    pthread_cond_destroy(&s->done);
    pthread_cond_destroy(&s->work);
    pthread_mutex_destroy(&s->mu);
    for (size_t i = 0; i < RING; i++) {
        free(s->ring[i].items);
        ldg_buf_release(&s->ring[i].out);
        ldg_buf_release(&s->ring[i].raw);
    }
    free(s);
}
