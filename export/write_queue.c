/*
 * write_queue.c — the members' queue: members made on the calling thread are
 * hashed and added to the archive by one writer thread, which records their
 * digests for the manifest (`ledger export`; the flow is in write.c, the
 * shared context in write_int.h).
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

#include "export/write_int.h"
#include "projections/projections.h"
#include "query/query.h"
#include "ledger/module.h"
#include "util/util.h"

/* --------------------------------------------------- the member queue -- */

/* Writes one member and records its digest (writer side). */
static int
write_member(struct ex *x, const struct qitem *it)
{
    uint8_t d[32];
    int rc = bwriter_add(x->w, it->name, it->data, it->len);
    if (rc < 0) {
        snprintf(x->q.errmsg, sizeof x->q.errmsg,
                 "writing bundle member %s: %s", it->name,
                 bwriter_errmsg(x->w));
        return rc;
    }
    ldg_sha256(d, it->data, it->len);
    ldg_buf_puts(&x->mfiles, x->mfiles.len ? ",\n  " : "\n  ");
    gb_jstr(&x->mfiles, it->name);
    ldg_buf_puts(&x->mfiles, ": ");
    gb_hex(&x->mfiles, d, 32);
    ldg_buf_puts(&x->msizes, x->msizes.len ? ",\n  " : "\n  ");
    gb_jstr(&x->msizes, it->name);
    ldg_buf_puts(&x->msizes, ": ");
    gb_u64(&x->msizes, it->len);
    if (x->mfiles.err || x->msizes.err) {
        snprintf(x->q.errmsg, sizeof x->q.errmsg, "out of memory");
        return x->mfiles.err ? x->mfiles.err : x->msizes.err;
    }
    return 0;
}

/* Takes everything queued at once (one lock and at most one wake-up per
 * batch rather than per member: there are three members per event). */
static void *
writer_main(void *arg)
{
    struct ex *x = arg;
    struct mqueue *q = &x->q;
    struct qitem batch[WBATCH];
    for (;;) {
        size_t n = 0;
        int rc = 0;
        pthread_mutex_lock(&q->mu);
        while (q->count == 0 && !q->closed)
            pthread_cond_wait(&q->nonempty, &q->mu);
        if (q->count == 0) {
            pthread_mutex_unlock(&q->mu);
            return NULL;
        }
        do {
            LDG_ASSERT(n < WBATCH && q->count > 0 && q->count <= QCAP);
            batch[n++] = q->items[q->head];
            q->head = (q->head + 1) % QCAP;
            q->count--;
        } while (q->count > 0 && n < WBATCH);
        /* room made: ex_member_put or ex_queue_wait_room may wait on it */
        pthread_cond_signal(&q->nonfull);
        pthread_mutex_unlock(&q->mu);
        for (size_t i = 0; i < n; i++) {
            if (q->err == 0 && rc == 0) /* written only here */
                rc = write_member(x, &batch[i]);
            free(batch[i].owned);
        }
        if (rc < 0) {
            pthread_mutex_lock(&q->mu);
            q->err = rc;
            pthread_cond_broadcast(&q->nonfull);
            pthread_mutex_unlock(&q->mu);
        }
    }
}

int
ex_queue_start(struct ex *x)
{
    struct mqueue *q = &x->q;
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->nonempty, NULL);
    pthread_cond_init(&q->nonfull, NULL);
    q->inited = 1;
    /* without a thread, members are written inline */
    q->started = pthread_create(&q->th, NULL, writer_main, x) == 0;
    return 0;
}

/* Waits for every queued member to be written. */
int
ex_queue_finish(struct ex *x)
{
    struct mqueue *q = &x->q;
    if (q->started) {
        pthread_mutex_lock(&q->mu);
        q->closed = 1;
        pthread_cond_broadcast(&q->nonempty);
        pthread_mutex_unlock(&q->mu);
        pthread_join(q->th, NULL);
        q->started = 0;
    }
    if (q->err)
        ldg_set_errmsg(x->l, "%s", q->errmsg);
    return q->err;
}

/* Free slots in the queue now (QCAP before it starts). */
size_t
ex_queue_room(struct ex *x)
{
    struct mqueue *q = &x->q;
    size_t room;

    if (!q->started)
        return QCAP;
    pthread_mutex_lock(&q->mu);
    room = QCAP - q->count;
    pthread_mutex_unlock(&q->mu);
    return room;
}

/* Waits until the queue has room free slots, or the writer failed. */
int
ex_queue_wait_room(struct ex *x, size_t room)
{
    struct mqueue *q = &x->q;
    int rc;

    if (!q->started)
        return q->err;
    pthread_mutex_lock(&q->mu);
    while (QCAP - q->count < room && q->err == 0)
        pthread_cond_wait(&q->nonfull, &q->mu);
    rc = q->err;
    pthread_mutex_unlock(&q->mu);
    if (rc)
        ldg_set_errmsg(x->l, "%s", q->errmsg);
    return rc;
}

/* Queues one member (taking owned, which holds data, if not NULL). */
int
ex_member_put(struct ex *x, const char *name, const void *data, size_t len,
              void *owned)
{
    struct mqueue *q = &x->q;
    struct qitem it;
    int rc = 0;

    x->tar_bytes += 512 + ((len + 511) / 512) * 512;
    x->rep.unpacked_bytes = x->tar_bytes;
    if (len > x->rep.largest_member)
        x->rep.largest_member = len;
    if (x->tar_bytes >
        (x->o->max_bytes ? x->o->max_bytes : LDG_BUNDLE_TOTAL_DEFAULT)) {
        ldg_set_errmsg(x->l,
                       "the bundle would exceed %llu bytes "
                       "uncompressed, more than verify-bundle reads "
                       "by default: select fewer events",
                       (unsigned long long)(x->o->max_bytes
                                                ? x->o->max_bytes
                                                : LDG_BUNDLE_TOTAL_DEFAULT));
        free(owned);
        return LDG_ETOOBIG;
    }
    snprintf(it.name, sizeof it.name, "%s", name);
    it.data = data;
    it.len = len;
    it.owned = owned;
    x->rep.files++;
    if (!q->started) {
        if (q->err == 0)
            q->err = write_member(x, &it);
        free(owned);
        return q->err;
    }
    pthread_mutex_lock(&q->mu);
    while (q->count == QCAP && q->err == 0)
        pthread_cond_wait(&q->nonfull, &q->mu);
    if (q->err == 0) {
        LDG_ASSERT(q->count < QCAP);
        q->items[(q->head + q->count) % QCAP] = it;
        if (q->count++ == 0) /* the writer waits only on an empty queue */
            pthread_cond_signal(&q->nonempty);
        owned = NULL;
    }
    rc = q->err;
    pthread_mutex_unlock(&q->mu);
    free(owned);
    return rc;
}

/* Queues a copy of data as member name. */
int
ex_member(struct ex *x, const char *name, const void *data, size_t len)
{
    void *copy = malloc(len ? len : 1);
    if (copy == NULL)
        return LDG_ENOMEM;
    memcpy(copy, data, len);
    return ex_member_put(x, name, copy, len, copy);
}

int
ex_member_json(struct ex *x, const char *name, json_t *v, size_t flags)
{
    char *s;
    int rc;

    if (v == NULL)
        return LDG_ENOMEM;
    s = json_dumps(v, flags | JSON_PRESERVE_ORDER);
    json_decref(v);
    if (s == NULL)
        return LDG_ENOMEM;
    rc = ex_member_put(x, name, s, strlen(s), s);
    return rc;
}

int
ex_in_list(const char *s, char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, list[i]) == 0)
            return 1;
    return 0;
}

/* Events verification needs whole: never redacted. */
int
ex_protected_type(const char *type)
{
    return strcmp(type, LDG_EV_LEDGER_GENESIS) == 0 ||
           strcmp(type, LDG_EV_KEY_ADDED) == 0 ||
           strcmp(type, LDG_EV_KEY_REVOKED) == 0 ||
           strcmp(type, LDG_EV_KEY_ANCHORED) == 0 ||
           strcmp(type, LDG_EV_BODY_ERASED) == 0;
}
