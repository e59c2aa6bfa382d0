/*
 * record.c — the proxy's recorder: events queued by the connections'
 * threads, committed in groups by one thread, waited for by the request
 * that needs its event durable before it answers.
 *
 * Directly: the recorder thread takes everything queued, adds it to one
 * batch (ldg_batch_add_seq) and commits it (one fsync for the group);
 * events that arrive meanwhile form the next group. So under load the
 * commits are shared, and a lone event someone waits for commits at once.
 * Events no one waits for (async mode's) do not wake the recorder: it
 * takes them on its own tick (TICK_NS after its last take), or when
 * GROUP_MAX are queued, or when it slept because a tick found nothing.
 * So the thread that answers a request makes no wake-up for its event,
 * and the device sees one commit a tick instead of one every few
 * requests: a commit's writes (some 180 KiB for a few events, every
 * touched B-tree's path) delay the answers being written meanwhile, and
 * one every few requests set async mode's tail (docs/PROXY.md, "Speed").
 *
 * Through `ledger serve`: the recorder thread sends what it takes (an
 * event someone waits for as soon as it is queued, async mode's on the
 * same tick) as request lines, pipelined, and a second thread reads the
 * answers, in order; the server groups the commits. When the
 * connection breaks, the events whose answers did not come are failed
 * (their requests were answered 503, or counted as not recorded) and the
 * next event connects again.
 *
 * An X-Request-Id becomes the event's id (the log's idempotency key). If
 * an event with that id and another content is already in the log (a
 * client that reuses its ids), the event is recorded again without the id
 * rather than lost: the body's request_id still says it.
 *
 * Epoch keys (docs/EPOCHS.md): directly, the recorder ends the epochs
 * whose period is over while it idles, as `ledger serve`'s writer does
 * (ldg_keys_expire, at most a second after the period's end); a commit
 * in a later period ends the old one by itself. Through `ledger serve`,
 * the server does.
 *
 * The registry: the models view (model -> digest, verified) is read by
 * the recorder thread at start and then, at most once a second, when a
 * group of events is taken: before it is committed, each model call is
 * given its model's digest and verification (stamp_models), so the
 * registry an event reflects is at most a second older than the event.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "projections/projections.h"
#include "query/query.h"
#include "proxy/proxy_int.h"

struct proxy_item {
    char type[32];
    json_t *body;
    char *run, *id;
    uint64_t time_ns; /* when the request arrived (0: not said) */
    int wait;
    proxy_rec_cb cb; /* called once the outcome is known, or NULL */
    void *cls;
    int done, rc;
    char why[256];
    pthread_cond_t cv; /* wait: signalled when done (one waiter, one
                          wake-up: no herd of handlers on one condition) */
    struct proxy_item *next;
};

struct proxy_rec {
    pthread_mutex_t mu;
    pthread_cond_t cv_work, cv_done, cv_room;
    struct proxy_item *head, *tail;
    size_t queued;
    size_t waited; /* of them, the ones someone waits for (wait, cb) */
    int idle;      /* the recorder sleeps until an event comes (its last
                      tick found nothing queued) */
    int stop;
    pthread_t thr;
    int has_thr;
    struct ldg_ledger *ledger;
    /* through ledger serve */
    struct ldg_client *client;
    char *serve_dir;
    pthread_t rthr;
    int has_rthr;
    int broken; /* the connection failed: reconnect before the next send */
    struct proxy_item *ihead, *itail; /* sent, answer not yet read */
    size_t inflight;
    /* registry */
    struct ldg_ledger *registry;
    json_t *models;
    uint64_t models_ns; /* when models was read (ldg_now_mono_ns) */
    char *actor;
    uint64_t recorded, failed, commits;
    char last_err[256];
    int last_rc;
    /* why the last ldg_keys_expire failed ("" once one succeeds) */
    char epoch_err[256];
    /* items with a callback whose outcome is known: called by the thread
     * that took them, with mu not held */
    struct proxy_item *cb_head, *cb_tail;
};

/* Queued events at most: a handler that would queue more waits (async
 * mode's backpressure; sync handlers wait for their own anyway). */
#define QUEUE_MAX 65536

#define TICK_NS ((uint64_t)PROXY_REC_TICK_MS * 1000000u)
#define GROUP_MAX ((size_t)PROXY_REC_GROUP_MAX)

static void
item_free(struct proxy_item *it)
{
    if (it == NULL)
        return;
    if (it->wait)
        pthread_cond_destroy(&it->cv);
    json_decref(it->body);
    free(it->run);
    free(it->id);
    free(it);
}

/* With mu held: it goes at the end of the queue, for the recorder, which
 * is woken only when someone waits for this event, when the recorder
 * sleeps without a tick (idle), or when a group is full; otherwise the
 * event is taken on the recorder's tick. */
static void
enqueue(struct proxy_rec *r, struct proxy_item *it)
{
    int waited = it->wait || it->cb != NULL;

    if (r->tail)
        r->tail->next = it;
    else
        r->head = it;
    r->tail = it;
    r->queued++;
    r->waited += (size_t)waited;
    LDG_ASSERT(r->waited <= r->queued);
    if (waited || r->idle || r->queued == GROUP_MAX) {
        r->idle = 0;
        pthread_cond_broadcast(&r->cv_work);
    }
}

/* With mu held: the item's outcome is known. */
static void
finish(struct proxy_rec *r, struct proxy_item *it, int rc, const char *why)
{
    it->rc = rc;
    it->done = 1;
    if (rc == 0) {
        r->recorded++;
    } else {
        r->failed++;
        r->last_rc = rc;
        snprintf(it->why, sizeof it->why, "%s", why ? why : ldg_strerror(rc));
        snprintf(r->last_err, sizeof r->last_err, "%s", it->why);
    }
    if (it->cb) {
        it->next = NULL;
        if (r->cb_tail)
            r->cb_tail->next = it;
        else
            r->cb_head = it;
        r->cb_tail = it;
    } else if (!it->wait) {
        item_free(it);
    } else {
        pthread_cond_signal(&it->cv);
    }
}

/* With mu held: takes the items whose callbacks are due. */
static struct proxy_item *
take_callbacks(struct proxy_rec *r)
{
    struct proxy_item *list = r->cb_head;
    r->cb_head = r->cb_tail = NULL;
    return list;
}

/* Without mu: calls and frees them. */
static void
run_callbacks(struct proxy_item *list)
{
    struct proxy_item *it, *next;
    for (it = list; it; it = next) {
        next = it->next;
        it->cb(it->cls, it->rc, it->rc < 0 ? it->why : "");
        item_free(it);
    }
}

/* ---------------------------------------------------------- registry -- */

static void
registry_refresh(struct proxy_rec *r)
{
    json_t *rows = NULL, *m, *row;
    size_t i;

    if (r->registry == NULL)
        return;
    r->models_ns = ldg_now_mono_ns();
    if (ldg_projections_view(r->registry, LDG_VIEW_MODELS, NULL, &rows) < 0)
        return;
    m = json_object();
    json_array_foreach(rows, i, row)
    {
        const char *name = json_string_value(json_object_get(row, "model"));
        json_t *d = json_object_get(row, "digest");
        const char *v = json_string_value(json_object_get(row, "verified"));
        if (name == NULL)
            continue;
        json_t *e = json_object();
        if (json_is_string(d))
            json_object_set(e, "digest", d);
        json_object_set_new(e, "verified",
                            json_boolean(v && strcmp(v, "ok") == 0));
        json_object_set_new(m, name, e);
    }
    json_decref(rows);
    pthread_mutex_lock(&r->mu);
    json_decref(r->models);
    r->models = m;
    pthread_mutex_unlock(&r->mu);
}

static void
model_of(struct proxy_rec *r, const char *model, char *digest, size_t cap,
         int *verified)
{
    digest[0] = 0;
    *verified = -1;
    if (model == NULL || !model[0])
        return;
    pthread_mutex_lock(&r->mu);
    json_t *e = r->models ? json_object_get(r->models, model) : NULL;
    char tagged[300]; /* Ollama: "llama3" is "llama3:latest" */
    if (e == NULL && r->models &&
        ldg_query_model_latest(model, tagged, sizeof tagged))
        e = json_object_get(r->models, tagged);
    if (e != NULL) {
        const char *d = json_string_value(json_object_get(e, "digest"));
        if (d)
            snprintf(digest, cap, "%s", d);
        *verified = json_is_true(json_object_get(e, "verified"));
    }
    pthread_mutex_unlock(&r->mu);
}

/* On the recorder's thread, just before the events of list are
 * committed or sent: each model call gets the registry's word on its
 * chosen_model, the registry read again first when it is a second old
 * (so an event's digest is never more than a second older than the
 * request, however sparse requests are). */
static void
stamp_models(struct proxy_rec *r, struct proxy_item *list)
{
    char digest[256];
    int verified;

    if (r->registry == NULL)
        return;
    if (ldg_now_mono_ns() - r->models_ns >= 1000000000u)
        registry_refresh(r);
    for (struct proxy_item *it = list; it; it = it->next) {
        if (strcmp(it->type, "route.decision") != 0)
            continue;
        model_of(r,
                 json_string_value(json_object_get(it->body, "chosen_model")),
                 digest, sizeof digest, &verified);
        if (digest[0])
            json_object_set_new(it->body, "model_digest", json_string(digest));
        if (verified >= 0)
            json_object_set_new(it->body, "model_verified",
                                json_boolean(verified));
    }
}

/* ------------------------------------------------------------ direct -- */

static int
refused_code(int rc)
{
    return rc == LDG_EBADINPUT || rc == LDG_ETOOBIG || rc == LDG_EKEY ||
           rc == LDG_EEXIST;
}

static void
event_of(const struct proxy_rec *r, const struct proxy_item *it,
         struct ldg_event_in *ev)
{
    memset(ev, 0, sizeof *ev);
    ev->type = it->type;
    ev->body = it->body;
    ev->run = it->run;
    ev->id = it->id;
    ev->actor = r->actor;
    ev->has_time = it->time_ns > 0;
    ev->time_ns = it->time_ns;
}

/* Commits the items of list in one batch; their outcomes into rcs. */
static void
commit_direct(struct proxy_rec *r, struct proxy_item *list, size_t n, int *rcs,
              char (*whys)[256])
{
    struct ldg_batch *b = NULL;
    struct proxy_item *it;
    size_t i;
    int rc;

    for (int attempt = 0; attempt < 2; attempt++) {
        rc = ldg_batch_begin(&b, r->ledger);
        for (it = list, i = 0; rc == 0 && it; it = it->next, i++) {
            struct ldg_event_in ev;
            uint64_t seq;
            unsigned differs = 0;
            event_of(r, it, &ev);
            rcs[i] = ldg_batch_add_seq(b, &ev, &seq, &differs);
            if (rcs[i] == LDG_EDUPLICATE && differs) {
                ev.id = NULL; /* a reused id: record it without */
                rcs[i] = ldg_batch_add_seq(b, &ev, &seq, &differs);
            }
            if (rcs[i] == LDG_EDUPLICATE)
                rcs[i] = 0; /* the same event is in the log already */
            if (rcs[i] < 0 && refused_code(rcs[i])) {
                snprintf(whys[i], 256, "%s", ldg_errmsg(r->ledger));
            } else if (rcs[i] < 0) {
                rc = rcs[i];
            }
        }
        if (rc == 0)
            rc = ldg_batch_commit(b, NULL, NULL);
        if (rc < 0)
            snprintf(whys[0], 256, "%s",
                     ldg_errmsg(r->ledger)[0] ? ldg_errmsg(r->ledger)
                                              : ldg_strerror(rc));
        ldg_batch_free(b);
        b = NULL;
        if (rc != LDG_EFULL) /* after EFULL the map grew: once more */
            break;
    }
    if (rc < 0) {
        for (i = 0; i < n; i++) {
            rcs[i] = rc;
            if (i > 0)
                snprintf(whys[i], 256, "%s", whys[0]);
        }
    }
}

static void
run_direct(struct proxy_rec *r, struct proxy_item *list, size_t n)
{
    int *rcs = calloc(n, sizeof *rcs);
    char(*whys)[256] = calloc(n, sizeof *whys);
    struct proxy_item *it, *next;
    size_t i;

    if (rcs == NULL || whys == NULL) {
        pthread_mutex_lock(&r->mu);
        for (it = list; it; it = next) {
            next = it->next;
            finish(r, it, LDG_ENOMEM, "out of memory");
        }
        pthread_cond_broadcast(&r->cv_done);
        struct proxy_item *cbs = take_callbacks(r);
        pthread_mutex_unlock(&r->mu);
        run_callbacks(cbs);
        free(rcs);
        free(whys);
        return;
    }
    commit_direct(r, list, n, rcs, whys);
    pthread_mutex_lock(&r->mu);
    r->commits++;
    for (it = list, i = 0; it; it = next, i++) {
        next = it->next;
        finish(r, it, rcs[i], whys[i]);
    }
    pthread_cond_broadcast(&r->cv_done);
    struct proxy_item *cbs = take_callbacks(r);
    pthread_mutex_unlock(&r->mu);
    run_callbacks(cbs);
    free(rcs);
    free(whys);
}

/* ------------------------------------------------------------ served -- */

/* With mu held: every event sent and not answered fails. */
static void
fail_inflight(struct proxy_rec *r, const char *why)
{
    struct proxy_item *it, *next;
    for (it = r->ihead; it; it = next) {
        next = it->next;
        finish(r, it, LDG_EIO, why);
    }
    r->ihead = r->itail = NULL;
    r->inflight = 0;
    pthread_cond_broadcast(&r->cv_done);
}

static void *
reader_main(void *arg)
{
    struct proxy_rec *r = arg;
    struct ldg_client_answer a;
    char why[300];

    for (;;) {
        int rc = ldg_client_wait(r->client, &a, -1);
        pthread_mutex_lock(&r->mu);
        if (rc < 0) {
            snprintf(why, sizeof why, "ledger serve: %s",
                     ldg_client_errmsg(r->client));
            r->broken = 1;
            fail_inflight(r, why);
            pthread_cond_broadcast(&r->cv_work);
            struct proxy_item *cbs = take_callbacks(r);
            pthread_mutex_unlock(&r->mu);
            run_callbacks(cbs);
            return NULL;
        }
        struct proxy_item *it = r->ihead;
        if (it == NULL) { /* an answer to nothing: not the protocol */
            r->broken = 1;
            pthread_cond_broadcast(&r->cv_work);
            pthread_mutex_unlock(&r->mu);
            return NULL;
        }
        r->ihead = it->next;
        if (r->ihead == NULL)
            r->itail = NULL;
        r->inflight--;
        it->next = NULL;
        r->commits++;
        if (a.ok && a.duplicate && a.differs && it->id) {
            /* a reused id: send it again without */
            free(it->id);
            it->id = NULL;
            enqueue(r, it);
        } else if (a.ok) {
            finish(r, it, 0, NULL);
        } else {
            snprintf(why, sizeof why, "ledger serve: %.250s", a.error);
            finish(r, it, a.code == 65 ? LDG_EBADINPUT : LDG_EIO, why);
        }
        pthread_cond_broadcast(&r->cv_done);
        struct proxy_item *cbs = take_callbacks(r);
        pthread_mutex_unlock(&r->mu);
        run_callbacks(cbs);
    }
}

/* With mu held (released while connecting): a working connection and its
 * reader thread, or < 0 with why. */
static int
ensure_client(struct proxy_rec *r, char *why, size_t cap)
{
    if (r->client && !r->broken)
        return 0;
    if (r->has_rthr) {
        pthread_mutex_unlock(&r->mu);
        pthread_join(r->rthr, NULL);
        pthread_mutex_lock(&r->mu);
        r->has_rthr = 0;
    }
    if (r->client) {
        ldg_client_close(r->client);
        r->client = NULL;
    }
    if (r->serve_dir == NULL) {
        snprintf(why, cap, "ledger serve went away (not connecting again)");
        return LDG_EIO;
    }
    pthread_mutex_unlock(&r->mu);
    struct ldg_client *c = NULL;
    char err[400] = "";
    int rc = ldg_client_connect(&c, r->serve_dir, NULL, err, sizeof err);
    pthread_mutex_lock(&r->mu);
    if (rc < 0) {
        snprintf(why, cap, "ledger serve: %s", err);
        return LDG_EIO;
    }
    r->client = c;
    r->broken = 0;
    if (pthread_create(&r->rthr, NULL, reader_main, r) != 0) {
        snprintf(why, cap, "cannot start a thread");
        r->broken = 1;
        return LDG_EIO;
    }
    r->has_rthr = 1;
    return 0;
}

/* With mu held: sends the items of list, moving each to the in-flight
 * list before it goes out (its answer may come at once). */
static void
run_served(struct proxy_rec *r, struct proxy_item *list)
{
    struct proxy_item *it, *next;
    char why[400];

    for (it = list; it; it = next) {
        next = it->next;
        it->next = NULL;
        int rc = ensure_client(r, why, sizeof why);
        if (rc < 0) {
            finish(r, it, rc, why);
            pthread_cond_broadcast(&r->cv_done);
            continue;
        }
        struct ldg_event_in ev;
        event_of(r, it, &ev);
        if (r->itail)
            r->itail->next = it;
        else
            r->ihead = it;
        r->itail = it;
        r->inflight++;
        struct ldg_client *c = r->client;
        pthread_mutex_unlock(&r->mu);
        rc = ldg_client_append(c, &ev, it->id, ev.has_time, ev.time_ns);
        pthread_mutex_lock(&r->mu);
        if (rc < 0 && !r->broken) {
            /* not sent (a bad id is checked before) or the server went
             * away: the reader fails what is in flight when it sees the
             * connection close; a refusal before sending is ours */
            if (rc == LDG_EBADINPUT) {
                /* it is the last in flight: take it back */
                struct proxy_item **pp = &r->ihead, *prev = NULL;
                while (*pp && *pp != it) {
                    prev = *pp;
                    pp = &(*pp)->next;
                }
                if (*pp) {
                    *pp = it->next;
                    if (r->itail == it)
                        r->itail = prev;
                    r->inflight--;
                }
                finish(r, it, rc, ldg_client_errmsg(c));
                pthread_cond_broadcast(&r->cv_done);
            } else {
                r->broken = 1;
            }
        }
    }
}

/* ------------------------------------------------------------ thread -- */

static void *
rec_main(void *arg)
{
    struct proxy_rec *r = arg;

    pthread_setname_np(pthread_self(), "proxy-record"); /* top -H, /proc */
    /* when events not waited for are taken, on ldg_now_mono_ns's clock (a
     * wall clock stepped back would stretch the tick, and async mode's
     * loss window, by the step) */
    uint64_t tick = 0;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        /* until an event is waited for, a group is full, the tick comes
         * with something queued, or the stop */
        while (!r->stop && r->waited == 0 && r->queued < GROUP_MAX) {
            if (r->idle) {
                /* a tick found nothing: sleep until an event comes,
                 * ending an epoch whose period is over each second (why
                 * it failed kept for proxy_rec_epoch_error) */
                struct timespec ts;
                if (r->ledger != NULL) {
                    pthread_mutex_unlock(&r->mu);
                    int erc = ldg_keys_expire(r->ledger, NULL, NULL);
                    pthread_mutex_lock(&r->mu);
                    snprintf(r->epoch_err, sizeof r->epoch_err, "%s",
                             erc == 0                   ? ""
                             : ldg_errmsg(r->ledger)[0] ? ldg_errmsg(r->ledger)
                                                        : ldg_strerror(erc));
                    /* (what came meanwhile is taken now: its wake-up
                     * found no one waiting) */
                    if (r->stop || r->waited > 0 || r->head != NULL)
                        break;
                }
                ts = ldg_mono_deadline(1000000000u);
                pthread_cond_timedwait(&r->cv_work, &r->mu, &ts);
                continue;
            }
            if (tick == 0)
                tick = ldg_now_mono_ns() + TICK_NS;
            struct timespec ts = ldg_mono_timespec(tick);
            if (pthread_cond_timedwait(&r->cv_work, &r->mu, &ts) == ETIMEDOUT) {
                tick = 0;
                if (r->head)
                    break;
                r->idle = 1;
            }
        }
        if (r->head == NULL) {
            if (r->stop)
                break;
            continue;
        }
        struct proxy_item *list = r->head;
        size_t n = r->queued;
        r->head = r->tail = NULL;
        if (r->queued >= QUEUE_MAX)
            pthread_cond_broadcast(&r->cv_room);
        r->queued = 0;
        r->waited = 0;
        r->idle = 0;
        tick = ldg_now_mono_ns() + TICK_NS;
        pthread_mutex_unlock(&r->mu);
        stamp_models(r, list);
        if (r->ledger) {
            run_direct(r, list, n);
            pthread_mutex_lock(&r->mu);
        } else {
            pthread_mutex_lock(&r->mu);
            run_served(r, list);
            struct proxy_item *cbs = take_callbacks(r);
            pthread_mutex_unlock(&r->mu);
            run_callbacks(cbs);
            pthread_mutex_lock(&r->mu);
        }
    }
    if (!r->ledger) {
        /* every answer, then the end */
        struct timespec ts = ldg_mono_deadline(10000000000u);
        while (r->inflight > 0 && r->has_rthr && !r->broken)
            if (pthread_cond_timedwait(&r->cv_done, &r->mu, &ts) == ETIMEDOUT)
                break;
        if (r->inflight > 0)
            fail_inflight(r, "ledger serve did not answer in 10 s");
    }
    struct proxy_item *cbs = take_callbacks(r);
    pthread_mutex_unlock(&r->mu);
    run_callbacks(cbs);
    return NULL;
}

/* The actor's key, checked once at start rather than found missing by
 * every request (a 503 each): its file loads (as `ledger append --actor`
 * loads it) and the log holds it, not revoked. LDG_EKEY with err. */
static int
actor_check(struct ldg_ledger *l, const char *actor, char *err, size_t errcap)
{
    struct ldg_key *k = NULL;
    struct ldg_keyinfo *ks = NULL;
    size_t n = 0, i;
    char path[4400];
    int rc;

    if (!ldg_key_name_valid(actor)) {
        snprintf(err, errcap, LDG_OPT_ACTOR ": invalid key name '%s'", actor);
        return LDG_EKEY;
    }
    snprintf(path, sizeof path, "%s/keys/%s.key", ldg_dir(l), actor);
    rc = ldg_keyfile_load(path, &k, err, errcap);
    if (rc == LDG_ENOTFOUND)
        snprintf(err, errcap, "no key '%s' (%s: %s)", actor, path,
                 strerror(ENOENT));
    if (rc < 0)
        return rc == LDG_ENOMEM ? rc : LDG_EKEY;
    if ((rc = ldg_keys_list(l, &ks, &n)) < 0) {
        snprintf(err, errcap, "%s", ldg_errmsg(l));
        ldg_key_free(k);
        return rc;
    }
    for (i = 0; i < n; i++)
        if (strcmp(ks[i].key_id, k->key_id) == 0 &&
            ks[i].revoked_seq == UINT64_MAX)
            break;
    if (i == n) {
        snprintf(err, errcap,
                 "key '%s' (%s) is not an active key of this ledger "
                 "(revoked, or never added with `" LDG_CMD_KEYS_ADD "`)",
                 actor, path);
        rc = LDG_EKEY;
    }
    free(ks);
    ldg_key_free(k);
    return rc;
}

int
proxy_rec_new(struct proxy_rec **out, const struct proxy_rec_options *o,
              char *err, size_t errcap)
{
    int rc;
    if (o->ledger && o->actor &&
        (rc = actor_check(o->ledger, o->actor, err, errcap)) < 0) {
        ldg_client_close(o->client);
        return rc;
    }
    struct proxy_rec *r = calloc(1, sizeof *r);
    if (r == NULL) {
        ldg_client_close(o->client);
        return LDG_ENOMEM;
    }
    /* the recorder's waits are intervals (the tick, the limit on the
     * last answers): on the monotonic clock */
    if (ldg_cond_init_mono(&r->cv_work) != 0) {
        free(r);
        ldg_client_close(o->client);
        return LDG_ENOMEM;
    }
    if (ldg_cond_init_mono(&r->cv_done) != 0) {
        pthread_cond_destroy(&r->cv_work);
        free(r);
        ldg_client_close(o->client);
        return LDG_ENOMEM;
    }
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv_room, NULL);
    r->ledger = o->ledger;
    r->client = o->client;
    r->registry = o->registry;
    if ((o->serve_dir && (r->serve_dir = strdup(o->serve_dir)) == NULL) ||
        (o->actor && (r->actor = strdup(o->actor)) == NULL)) {
        proxy_rec_free(r, NULL, NULL, NULL);
        return LDG_ENOMEM;
    }
    registry_refresh(r);
    if (r->client) {
        if (pthread_create(&r->rthr, NULL, reader_main, r) != 0)
            goto nothread;
        r->has_rthr = 1;
    }
    if (pthread_create(&r->thr, NULL, rec_main, r) != 0)
        goto nothread;
    r->has_thr = 1;
    *out = r;
    return 0;
nothread:
    snprintf(err, errcap, "cannot start the recorder's thread");
    proxy_rec_free(r, NULL, NULL, NULL);
    return LDG_EIO;
}

static int
submit(struct proxy_rec *r, const char *type, json_t *body, const char *run,
       const char *id, uint64_t time_ns, int wait, proxy_rec_cb cb, void *cls,
       char *why, size_t whycap)
{
    struct proxy_item *it = calloc(1, sizeof *it);
    int rc;

    if (it == NULL || (run && (it->run = strdup(run)) == NULL) ||
        (id && (it->id = strdup(id)) == NULL)) {
        json_decref(body);
        item_free(it);
        snprintf(why, whycap, "out of memory");
        pthread_mutex_lock(&r->mu);
        r->failed++;
        pthread_mutex_unlock(&r->mu);
        return LDG_ENOMEM;
    }
    snprintf(it->type, sizeof it->type, "%s", type);
    it->body = body;
    it->time_ns = time_ns;
    it->wait = wait;
    it->cb = cb;
    it->cls = cls;
    if (wait)
        pthread_cond_init(&it->cv, NULL);
    pthread_mutex_lock(&r->mu);
    while (r->queued >= QUEUE_MAX && !r->stop)
        pthread_cond_wait(&r->cv_room, &r->mu);
    if (r->stop && !r->has_thr) {
        pthread_mutex_unlock(&r->mu);
        if (it->wait)
            pthread_cond_destroy(&it->cv);
        it->wait = 0;
        snprintf(why, whycap, "the proxy is stopping");
        it->cb = NULL; /* the caller hears it from the return */
        pthread_mutex_lock(&r->mu);
        finish(r, it, LDG_EIO, "the proxy is stopping");
        pthread_mutex_unlock(&r->mu);
        return LDG_EIO;
    }
    enqueue(r, it);
    if (!wait) {
        pthread_mutex_unlock(&r->mu);
        return 0;
    }
    while (!it->done)
        pthread_cond_wait(&it->cv, &r->mu);
    pthread_mutex_unlock(&r->mu);
    rc = it->rc;
    if (rc < 0)
        snprintf(why, whycap, "%s", it->why);
    item_free(it);
    return rc;
}

int
proxy_rec_submit(struct proxy_rec *r, const char *type, json_t *body,
                 const char *run, const char *id, uint64_t time_ns, int wait,
                 char *why, size_t whycap)
{
    return submit(r, type, body, run, id, time_ns, wait, NULL, NULL, why,
                  whycap);
}

int
proxy_rec_submit_cb(struct proxy_rec *r, const char *type, json_t *body,
                    const char *run, const char *id, uint64_t time_ns,
                    proxy_rec_cb cb, void *cls, char *why, size_t whycap)
{
    return submit(r, type, body, run, id, time_ns, 0, cb, cls, why, whycap);
}

int
proxy_rec_free(struct proxy_rec *r, uint64_t *recorded, uint64_t *failed,
               uint64_t *commits)
{
    if (r == NULL)
        return 0;
    pthread_mutex_lock(&r->mu);
    r->stop = 1;
    pthread_cond_broadcast(&r->cv_work);
    pthread_mutex_unlock(&r->mu);
    if (r->has_thr)
        pthread_join(r->thr, NULL);
    if (r->client)
        ldg_client_done(r->client);
    if (r->has_rthr) {
        /* the server closes after the last answer; the reader ends */
        pthread_join(r->rthr, NULL);
    }
    ldg_client_close(r->client);
    int rc = r->last_rc;
    if (recorded)
        *recorded = r->recorded;
    if (failed)
        *failed = r->failed;
    if (commits)
        *commits = r->commits;
    json_decref(r->models);
    free(r->serve_dir);
    free(r->actor);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv_work);
    pthread_cond_destroy(&r->cv_done);
    pthread_cond_destroy(&r->cv_room);
    free(r);
    return rc;
}

void
proxy_rec_stats(struct proxy_rec *r, uint64_t *recorded, uint64_t *failed,
                uint64_t *commits)
{
    pthread_mutex_lock(&r->mu);
    *recorded = r->recorded;
    *failed = r->failed;
    *commits = r->commits;
    pthread_mutex_unlock(&r->mu);
}

void
proxy_rec_last_error(struct proxy_rec *r, char *buf, size_t cap)
{
    pthread_mutex_lock(&r->mu);
    snprintf(buf, cap, "%s", r->last_err);
    pthread_mutex_unlock(&r->mu);
}

void
proxy_rec_epoch_error(struct proxy_rec *r, char *buf, size_t cap)
{
    pthread_mutex_lock(&r->mu);
    snprintf(buf, cap, "%s", r->epoch_err);
    pthread_mutex_unlock(&r->mu);
}
