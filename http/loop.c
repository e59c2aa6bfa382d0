/*
 * loop.c — one thread driving many transfers through one multi handle
 * (ldg_http_loop_*, ldg_http_xfer_*, http.h).
 */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/curl_int.h"
#include "http/http.h"
#include "util/util.h"

/* --------------------------------------------------------------- loop -- */

/*
 * A loop is one thread driving every transfer on it through one multi
 * handle, for a proxy that must not hold a thread per request.
 *
 * Commands. start, resume and close may come from any thread. Each sets a
 * bit in the transfer's pend and, unless the transfer is in the queue
 * already, appends it there (through its own qnext: no allocation), all
 * under mu. Only the call that makes the queue non-empty wakes the loop
 * (curl_multi_wakeup), and never one made on the loop's thread (it looks
 * at the queue before it polls): a wakeup serves every command queued
 * before the loop takes the queue.
 *
 * One round of the loop: take the queue whole under mu and act on it
 * (start: an easy handle set up and added; resume: unpause; close: end it
 * if it still runs, free it if it has ended); curl_multi_perform, whose
 * callbacks call head and data; curl_multi_info_read, whose finished
 * transfers get their end; the deadlines; then curl_multi_poll until a
 * socket is ready, a wakeup, curl's own timer or our next deadline. The
 * callbacks are never called under mu, so they may start, resume and close
 * transfers; head and data are called by curl, so they end a transfer
 * only by making curl fail it (a write error, told apart by a flag), and
 * each end is called by the loop's own code, once.
 *
 * Deadlines. A running transfer has one: its start plus first_byte_ms
 * until the headers are in, then its last piece plus idle_ms (none while
 * the caller has it paused). next_deadline_ms is a lower bound of them
 * all: a deadline set earlier lowers it, a later one (each piece of body
 * moves the transfer's later) leaves it be; when it passes, one walk over
 * the transfers ends those that expired and finds the true minimum. A
 * piece costs one comparison, not a walk.
 *
 * Reuse. The multi handle keeps the connections (and DNS answers) of
 * every transfer on the loop for the next one to the same server: as many
 * idle ones as the most transfers it has run at once (curl's default is
 * four times those running at the moment, which closed most of them each
 * time a burst ended: 87 connections where 64 do for the test's 10000
 * requests, 64 at a time). Easy handles go back on a short free list
 * (reset when taken again), and so do freed transfers with their buffers
 * (the copy of the request, the header arena): a steady flow of small
 * transfers allocates nothing of ours.
 *
 * Lifetime. A transfer is freed on the loop thread once it has ended and
 * its close has been taken from the queue, or by close itself when the
 * loop is gone.
 */
#define LOOP_EASY_KEEP 64  /* idle easy handles kept for reuse */
#define LOOP_XFER_KEEP 64  /* freed transfers kept for reuse */
#define LOOP_MEM_KEEP 8192 /* a kept transfer's buffers, at most */
#define LOOP_POLL_MAX_MS 1000
#define LOOP_CONNS_MIN 16 /* idle connections kept, at least */

enum { CMD_START = 1, CMD_RESUME = 2, CMD_CLOSE = 4 };
enum { X_NEW, X_RUNNING, X_ENDED };

struct ldg_http_xfer {
    struct ldg_http_loop *loop; /* NULL once the loop is freed */
    /* under loop->mu */
    struct ldg_http_xfer *qnext; /* in the queue, or the free list */
    unsigned pend;               /* CMD_ bits not yet taken */
    int queued;
    /* set by start, then the loop thread's */
    struct ldg_http_xfer_cbs cb;
    void *cls;
    struct ldg_http_request req; /* url, body, ca_file, userpwd in mem */
    struct curl_slist *hdrs;     /* the request headers, nodes in mem */
    char method[8];
    long first_byte_ms, idle_ms;
    long deadline_ms; /* 0: none */
    size_t max_body;
    char *mem; /* the copy of the request */
    size_t memcap;
    /* the loop thread's */
    struct ldg_http_xfer *bnext;       /* in the batch taken from the queue */
    unsigned todo;                     /* its commands */
    struct ldg_http_xfer *prev, *next; /* in live */
    int state;
    int closed;      /* close was taken from the queue */
    int close_asked; /* close was called on the loop thread */
    int added;       /* easy is in the multi */
    int paused, cancelled, body_toobig;
    size_t got_body;
    CURL *easy;
    struct resp_head head;
    char cerr[CURL_ERROR_SIZE];
    char err[LDG_HTTP_ERR_MAX];
};

struct ldg_http_loop {
    CURLM *multi;
    pthread_t thread;
    pthread_mutex_t mu;
    /* under mu */
    struct ldg_http_xfer *qhead, *qtail;
    struct ldg_http_xfer *xfree; /* freed transfers kept for reuse */
    size_t nxfree;
    int stopping;
    /* the loop thread's */
    struct ldg_http_xfer *live; /* started, not yet freed */
    CURL *easy_free[LOOP_EASY_KEEP];
    size_t neasy;
    long next_deadline_ms; /* 0: none */
    long running;          /* transfers in the multi */
    long max_conns;        /* CURLMOPT_MAXCONNECTS: the most running */
};

/* The loop whose thread this is (NULL on any other thread). */
static _Thread_local struct ldg_http_loop *this_loop;

/* Queues cmd for x. -1 (and nothing queued) for a start on a loop being
 * freed. */
static int
post(struct ldg_http_loop *l, struct ldg_http_xfer *x, unsigned cmd)
{
    int wake = 0;
    pthread_mutex_lock(&l->mu);
    if (cmd == CMD_START && l->stopping) {
        pthread_mutex_unlock(&l->mu);
        return -1;
    }
    x->pend |= cmd;
    if (!x->queued) {
        x->queued = 1;
        x->qnext = NULL;
        if (l->qtail) {
            l->qtail->qnext = x;
        } else {
            l->qhead = x;
            wake = this_loop != l;
        }
        l->qtail = x;
    }
    pthread_mutex_unlock(&l->mu);
    /* (x may be freed by now; l is not) */
    if (wake)
        http_cu.multi_wakeup(l->multi);
    return 0;
}

/* Takes the queue: a batch linked by bnext, each with its todo. */
static struct ldg_http_xfer *
take_queue(struct ldg_http_loop *l, int *stopping)
{
    struct ldg_http_xfer *batch = NULL, **tail = &batch;
    pthread_mutex_lock(&l->mu);
    for (struct ldg_http_xfer *x = l->qhead; x; x = x->qnext) {
        x->todo |= x->pend;
        x->pend = 0;
        x->queued = 0;
        x->bnext = NULL;
        *tail = x;
        tail = &x->bnext;
    }
    l->qhead = l->qtail = NULL;
    *stopping = l->stopping;
    pthread_mutex_unlock(&l->mu);
    return batch;
}

static void
set_deadline(struct ldg_http_loop *l, struct ldg_http_xfer *x, long at_ms)
{
    x->deadline_ms = at_ms;
    if (at_ms && (l->next_deadline_ms == 0 || at_ms < l->next_deadline_ms))
        l->next_deadline_ms = at_ms;
}

static void
xfer_destroy(struct ldg_http_xfer *x)
{
    free(x->mem);
    free(x->head.arena);
    free(x);
}

/* Frees x (ended and closed), or keeps it for the next start. */
static void
xfer_free(struct ldg_http_loop *l, struct ldg_http_xfer *x)
{
    if (x->prev)
        x->prev->next = x->next;
    else if (l->live == x)
        l->live = x->next;
    if (x->next)
        x->next->prev = x->prev;
    x->prev = x->next = NULL;
    if (x->memcap > LOOP_MEM_KEEP) {
        free(x->mem);
        x->mem = NULL;
        x->memcap = 0;
    }
    if (x->head.cap > LOOP_MEM_KEEP) {
        free(x->head.arena);
        x->head.arena = NULL;
        x->head.cap = 0;
    }
    int kept = 0;
    pthread_mutex_lock(&l->mu);
    if (l->nxfree < LOOP_XFER_KEEP) {
        x->qnext = l->xfree;
        l->xfree = x;
        l->nxfree++;
        kept = 1;
    }
    pthread_mutex_unlock(&l->mu);
    if (!kept)
        xfer_destroy(x);
}

static void
put_easy(struct ldg_http_loop *l, CURL *h)
{
    if (l->neasy < LOOP_EASY_KEEP)
        l->easy_free[l->neasy++] = h;
    else
        http_cu.easy_cleanup(h);
}

/* Ends x: its easy handle out of the multi (the connection is closed if
 * the body was not read to its end) and back on the free list, then its
 * end callback with rc and x->err; freed if it was closed. */
static void
finish(struct ldg_http_loop *l, struct ldg_http_xfer *x, int rc)
{
    int connected = 0;
    if (x->easy) {
        connected = http_stream_connected(x->easy, x->head.status);
        if (x->added) {
            http_cu.multi_remove_handle(l->multi, x->easy);
            l->running--;
        }
        put_easy(l, x->easy);
        x->easy = NULL;
        x->added = 0;
    }
    x->state = X_ENDED;
    x->deadline_ms = 0;
    if (rc == 0)
        x->err[0] = 0;
    if (x->cb.end)
        x->cb.end(x->cls, x, rc, connected, x->err);
    if (x->closed)
        xfer_free(l, x);
}

static void
cancel(struct ldg_http_loop *l, struct ldg_http_xfer *x)
{
    http_seterr(x->err, sizeof x->err, "%s %s: cancelled", x->method,
                x->req.url);
    finish(l, x, LDG_ENET);
}

/* The code (and x->err) for x, which curl ended with cc. */
static int
outcome(struct ldg_http_xfer *x, CURLcode cc)
{
    if (cc == CURLE_OK && x->head.done)
        return 0;
    if (x->cancelled) {
        http_seterr(x->err, sizeof x->err, "%s %s: cancelled", x->method,
                    x->req.url);
        return LDG_ENET;
    }
    if (cc == CURLE_OK)
        cc = CURLE_GOT_NOTHING;
    return http_stream_fail(x->err, sizeof x->err, x->method, x->req.url,
                            &x->head, cc, x->cerr, x->body_toobig, 0,
                            x->max_body);
}

static size_t
lx_header(char *line, size_t size, size_t nitems, void *arg)
{
    struct ldg_http_xfer *x = arg;
    size_t n = size * nitems;
    int was_done = x->head.done;
    if (http_head_add(&x->head, line, n) < 0)
        return 0;
    if (was_done || !x->head.done)
        return n;
    /* the final response's status and headers are in */
    if (x->close_asked ||
        (x->cb.head && x->cb.head(x->cls, x, x->head.status) < 0)) {
        x->cancelled = 1;
        return 0;
    }
    set_deadline(x->loop, x,
                 x->idle_ms > 0 ? (long)ldg_now_mono_ms() + x->idle_ms : 0);
    return n;
}

static size_t
lx_body(char *p, size_t size, size_t nmemb, void *arg)
{
    struct ldg_http_xfer *x = arg;
    size_t n = size * nmemb;
    if (n == 0)
        return 0;
    if (x->close_asked) {
        x->cancelled = 1;
        return 0;
    }
    if (x->max_body && x->got_body + n > x->max_body) {
        x->body_toobig = 1;
        return 0;
    }
    int r = x->cb.data ? x->cb.data(x->cls, x, p, n) : 0;
    if (r == 1) {
        /* curl keeps the piece and offers it again on unpause; the
         * caller's pause is not idle time */
        x->paused = 1;
        x->deadline_ms = 0;
        return CURL_WRITEFUNC_PAUSE;
    }
    if (r < 0) {
        x->cancelled = 1;
        return 0;
    }
    x->got_body += n;
    if (x->idle_ms > 0)
        set_deadline(x->loop, x, (long)ldg_now_mono_ms() + x->idle_ms);
    return n;
}

/* Starts x on the loop thread (or ends it at once when cancel is set). */
static void
xfer_begin(struct ldg_http_loop *l, struct ldg_http_xfer *x, int cancel_now)
{
    x->next = l->live;
    if (l->live)
        l->live->prev = x;
    l->live = x;
    x->state = X_RUNNING;
    if (cancel_now) {
        cancel(l, x);
        return;
    }
    x->easy = l->neasy ? l->easy_free[--l->neasy] : http_cu.easy_init();
    if (!x->easy) {
        http_seterr(x->err, sizeof x->err, "%s %s: out of memory", x->method,
                    x->req.url);
        finish(l, x, LDG_ENOMEM);
        return;
    }
    if (http_stream_setup(x->easy, &x->req, x->method, x->hdrs, x->cerr,
                          lx_header, lx_body, x) < 0 ||
        http_cu.easy_setopt(x->easy, CURLOPT_PRIVATE, (void *)x) != CURLE_OK) {
        http_seterr(x->err, sizeof x->err, "%s %s: curl rejected an option",
                    x->method, x->req.url);
        finish(l, x, LDG_EINVAL);
        return;
    }
    if (http_cu.multi_add_handle(l->multi, x->easy) != CURLM_OK) {
        http_seterr(x->err, sizeof x->err, "%s %s: out of memory", x->method,
                    x->req.url);
        finish(l, x, LDG_ENOMEM);
        return;
    }
    x->added = 1;
    if (++l->running > l->max_conns) {
        l->max_conns = l->running;
        http_cu.multi_setopt(l->multi, CURLMOPT_MAXCONNECTS, l->max_conns);
    }
    set_deadline(l, x, x->deadline_ms);
}

static void
xfer_unpause(struct ldg_http_loop *l, struct ldg_http_xfer *x)
{
    x->paused = 0;
    set_deadline(l, x,
                 x->idle_ms > 0 ? (long)ldg_now_mono_ms() + x->idle_ms : 0);
    /* hands over the piece curl kept, at once: data may refuse it (an
     * error here, which curl does not turn into the transfer's end) */
    CURLcode cc = http_cu.easy_pause(x->easy, CURLPAUSE_CONT);
    if (cc != CURLE_OK)
        finish(l, x, outcome(x, cc));
}

/* Acts on a batch taken from the queue. */
static void
act(struct ldg_http_loop *l, struct ldg_http_xfer *batch, int stopping)
{
    while (batch) {
        struct ldg_http_xfer *x = batch;
        batch = x->bnext;
        unsigned todo = x->todo;
        x->todo = 0;
        if (todo & CMD_START)
            xfer_begin(l, x, stopping || (todo & CMD_CLOSE));
        if ((todo & CMD_RESUME) && x->state == X_RUNNING && x->paused)
            xfer_unpause(l, x);
        if (todo & CMD_CLOSE) {
            x->closed = 1;
            if (x->state == X_RUNNING)
                cancel(l, x); /* frees it */
            else
                xfer_free(l, x);
        }
    }
}

/* Ends the transfers curl has finished. */
static void
reap(struct ldg_http_loop *l)
{
    CURLMsg *m;
    int left;
    while ((m = http_cu.multi_info_read(l->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        CURLcode cc = m->data.result;
        char *p = NULL;
        http_cu.easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &p);
        struct ldg_http_xfer *x = (struct ldg_http_xfer *)(void *)p;
        if (x)
            finish(l, x, outcome(x, cc));
    }
}

/* Ends the transfers whose deadline has passed; the next deadline. */
static void
expire(struct ldg_http_loop *l, long now)
{
    long next = 0;
    struct ldg_http_xfer *nx;
    for (struct ldg_http_xfer *x = l->live; x; x = nx) {
        nx = x->next; /* (an end cannot free another transfer) */
        if (x->state != X_RUNNING || x->deadline_ms == 0)
            continue;
        if (x->deadline_ms > now) {
            if (next == 0 || x->deadline_ms < next)
                next = x->deadline_ms;
            continue;
        }
        if (!x->head.done)
            http_seterr(x->err, sizeof x->err,
                        "%s %s: timed out (no response within %ld ms)",
                        x->method, x->req.url, x->first_byte_ms);
        else
            http_seterr(x->err, sizeof x->err,
                        "%s %s: no data for %ld ms; transfer aborted",
                        x->method, x->req.url, x->idle_ms);
        finish(l, x, LDG_ETIMEOUT);
    }
    l->next_deadline_ms = next;
}

static void *
loop_main(void *arg)
{
    struct ldg_http_loop *l = arg;
    int stopping = 0;
    sigset_t all;

    pthread_setname_np(pthread_self(), "http-loop"); /* top -H, /proc */

    /* signals are the program's business, on its own threads */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    this_loop = l;
    for (;;) {
        act(l, take_queue(l, &stopping), stopping);
        if (stopping)
            break;
        int running;
        if (http_cu.multi_perform(l->multi, &running) == CURLM_OK)
            reap(l);
        long now = (long)ldg_now_mono_ms();
        if (l->next_deadline_ms && now >= l->next_deadline_ms)
            expire(l, now);
        long wait = LOOP_POLL_MAX_MS;
        if (l->next_deadline_ms && l->next_deadline_ms - now < wait)
            wait = l->next_deadline_ms - now;
        pthread_mutex_lock(&l->mu);
        if (l->qhead) /* queued by a callback: no wakeup came for it */
            wait = 0;
        pthread_mutex_unlock(&l->mu);
        if (wait > 0 &&
            http_cu.multi_poll(l->multi, NULL, 0, (int)wait, NULL) != CURLM_OK)
            http_sleep_ms(1);
    }
    /* Being freed: every transfer ends, and the closes their ends ask for
     * are taken (no start is queued any more). */
    for (;;) {
        struct ldg_http_xfer *nx;
        for (struct ldg_http_xfer *x = l->live; x; x = nx) {
            nx = x->next;
            if (x->state == X_RUNNING)
                cancel(l, x);
        }
        struct ldg_http_xfer *batch = take_queue(l, &stopping);
        if (!batch)
            break;
        act(l, batch, 1);
    }
    return NULL;
}

int
ldg_http_loop_new(struct ldg_http_loop **out, char *err, size_t errlen)
{
    struct ldg_http_loop *l;
    int rc;

    if (err && errlen)
        err[0] = 0;
    if (!out) {
        http_seterr(err, errlen, "http loop: nowhere to put it");
        return LDG_EINVAL;
    }
    *out = NULL;
    if ((rc = http_ensure_global()) < 0) {
        http_seterr(err, errlen, "http loop: %s", http_load_why);
        return rc;
    }
    if ((l = calloc(1, sizeof *l)) == NULL) {
        http_seterr(err, errlen, "http loop: out of memory");
        return LDG_ENOMEM;
    }
    if (pthread_mutex_init(&l->mu, NULL) != 0) {
        free(l);
        http_seterr(err, errlen, "http loop: out of memory");
        return LDG_ENOMEM;
    }
    l->max_conns = LOOP_CONNS_MIN;
    if ((l->multi = http_cu.multi_init()) == NULL ||
        http_cu.multi_setopt(l->multi, CURLMOPT_MAXCONNECTS, l->max_conns) !=
            CURLM_OK) {
        http_seterr(err, errlen, "http loop: out of memory");
        rc = LDG_ENOMEM;
        goto fail;
    }
    if (pthread_create(&l->thread, NULL, loop_main, l) != 0) {
        http_seterr(err, errlen, "http loop: cannot start its thread");
        rc = LDG_ENOMEM;
        goto fail;
    }
    *out = l;
    return 0;
fail:
    if (l->multi)
        http_cu.multi_cleanup(l->multi);
    pthread_mutex_destroy(&l->mu);
    free(l);
    return rc;
}

void
ldg_http_loop_free(struct ldg_http_loop *l)
{
    if (!l)
        return;
    pthread_mutex_lock(&l->mu);
    l->stopping = 1;
    pthread_mutex_unlock(&l->mu);
    http_cu.multi_wakeup(l->multi);
    pthread_join(l->thread, NULL);
    /* closes queued after the thread's last look: those transfers have
     * ended */
    int stopping;
    struct ldg_http_xfer *x, *nx;
    for (x = take_queue(l, &stopping); x; x = nx) {
        nx = x->bnext;
        if (x->todo & CMD_CLOSE) {
            x->closed = 1;
            xfer_free(l, x);
        }
        x->todo = 0;
    }
    /* the others are the callers' until they close them */
    for (x = l->live; x; x = nx) {
        nx = x->next;
        x->loop = NULL;
        x->prev = x->next = NULL;
    }
    for (x = l->xfree; x; x = nx) {
        nx = x->qnext;
        xfer_destroy(x);
    }
    while (l->neasy > 0)
        http_cu.easy_cleanup(l->easy_free[--l->neasy]);
    http_cu.multi_cleanup(l->multi);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

/* Bytes of the copy of req (header list nodes first, then the strings and
 * the body), or 0 when that would overflow. */
static size_t
req_copy_size(const struct ldg_http_request *req, size_t *nh)
{
    size_t n = 0, k = 0;
    const char *const strs[] = {req->url, req->ca_file, req->userpwd};
    for (const char *const *p = req->headers; p && *p; p++, k++) {
        size_t s = strlen(*p) + 1;
        if (n > SIZE_MAX - s)
            return 0;
        n += s;
    }
    *nh = k;
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        size_t s = strs[i] ? strlen(strs[i]) + 1 : 0;
        if (n > SIZE_MAX - s)
            return 0;
        n += s;
    }
    if (k > (SIZE_MAX - n) / sizeof(struct curl_slist) ||
        req->body_len > SIZE_MAX - n - k * sizeof(struct curl_slist))
        return 0;
    return n + k * sizeof(struct curl_slist) + req->body_len;
}

static char *
copy_str(char **at, const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = memcpy(*at, s, n);
    *at += n;
    return d;
}

/* Copies req into x->mem (grown when too small). 0 or LDG_ENOMEM. */
static int
req_copy(struct ldg_http_xfer *x, const struct ldg_http_request *req)
{
    size_t nh = 0, need = req_copy_size(req, &nh);
    if (need == 0)
        return LDG_ENOMEM;
    if (need > x->memcap) {
        char *m = realloc(x->mem, need);
        if (!m)
            return LDG_ENOMEM;
        x->mem = m;
        x->memcap = need;
    }
    struct curl_slist *nodes = (struct curl_slist *)(void *)x->mem;
    char *at = x->mem + nh * sizeof *nodes;
    /* curl only reads the header list: its nodes are ours */
    for (size_t i = 0; i < nh; i++) {
        nodes[i].data = copy_str(&at, req->headers[i]);
        nodes[i].next = i + 1 < nh ? &nodes[i + 1] : NULL;
    }
    x->hdrs = nh ? nodes : NULL;
    x->req.url = copy_str(&at, req->url);
    x->req.ca_file = copy_str(&at, req->ca_file);
    x->req.userpwd = copy_str(&at, req->userpwd);
    if (req->body_len > 0)
        memcpy(at, req->body, req->body_len);
    x->req.body = req->body_len > 0 ? at : NULL;
    x->req.body_len = req->body_len;
    x->req.connect_timeout_ms = req->connect_timeout_ms;
    x->req.insecure = req->insecure;
    return 0;
}

int
ldg_http_xfer_start(struct ldg_http_loop *l, const struct ldg_http_request *req,
                    long first_byte_ms, long idle_ms,
                    const struct ldg_http_xfer_cbs *cb, void *cls,
                    struct ldg_http_xfer **out)
{
    struct ldg_http_xfer *x;

    if (out)
        *out = NULL;
    if (!l || !req || !req->url || !cb || !out ||
        (req->body_len > 0 && !req->body))
        return LDG_EINVAL;
    const char *method = req->method ? req->method : "GET";
    if (!http_stream_method_ok(method) ||
        (strncasecmp(req->url, "http://", 7) &&
         strncasecmp(req->url, "https://", 8)))
        return LDG_EINVAL;
    pthread_mutex_lock(&l->mu);
    if ((x = l->xfree) != NULL) {
        l->xfree = x->qnext;
        l->nxfree--;
    }
    pthread_mutex_unlock(&l->mu);
    if (x) { /* a kept one: its buffers stay */
        char *mem = x->mem, *arena = x->head.arena;
        size_t memcap = x->memcap, acap = x->head.cap;
        memset(x, 0, sizeof *x);
        x->mem = mem;
        x->memcap = memcap;
        x->head.arena = arena;
        x->head.cap = acap;
    } else if ((x = calloc(1, sizeof *x)) == NULL) {
        return LDG_ENOMEM;
    }
    if (req_copy(x, req) < 0) {
        xfer_destroy(x);
        return LDG_ENOMEM;
    }
    x->loop = l;
    x->cb = *cb;
    x->cls = cls;
    snprintf(x->method, sizeof x->method, "%s", method);
    x->first_byte_ms = first_byte_ms > 0     ? first_byte_ms
                       : req->timeout_ms > 0 ? req->timeout_ms
                                             : LDG_HTTP_TIMEOUT_MS_DEFAULT;
    x->idle_ms = idle_ms > 0 ? idle_ms : 0;
    x->max_body = req->max_response_bytes;
    x->deadline_ms = (long)ldg_now_mono_ms() + x->first_byte_ms;
    x->state = X_NEW;
    *out = x;
    if (post(l, x, CMD_START) < 0) { /* the loop is being freed */
        *out = NULL;
        xfer_destroy(x);
        return LDG_EINVAL;
    }
    return 0;
}

void
ldg_http_xfer_resume(struct ldg_http_xfer *x)
{
    if (x && x->loop)
        post(x->loop, x, CMD_RESUME);
}

void
ldg_http_xfer_close(struct ldg_http_xfer *x)
{
    if (!x)
        return;
    struct ldg_http_loop *l = x->loop;
    if (!l) { /* ended, and its loop is freed */
        xfer_destroy(x);
        return;
    }
    if (this_loop == l) /* no more head or data for it */
        x->close_asked = 1;
    post(l, x, CMD_CLOSE);
}

long
ldg_http_xfer_status(const struct ldg_http_xfer *x)
{
    return x ? x->head.status : 0;
}

const char *
ldg_http_xfer_header(const struct ldg_http_xfer *x, size_t i)
{
    return x ? http_head_at(&x->head, i) : NULL;
}

const char *
ldg_http_xfer_header_get(const struct ldg_http_xfer *x, const char *name)
{
    return x ? http_head_get(&x->head, name) : NULL;
}
