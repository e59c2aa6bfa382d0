/*
 * segment_pool.c — the body commitments' worker of the segment verifier
 * (segment_int.h says why it is there).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/codec_int.h"
#include "ledger/epoch_int.h"
#include "ledger/mp_int.h"
#include "ledger/segment_int.h"
#include "ledger/tlog_int.h"

static void *
bworker_main(void *arg)
{
    struct bworker *w = arg;
    for (;;) {
        struct bbatch *b;
        pthread_mutex_lock(&w->mu);
        while (!w->b[w->next].full && !w->stop)
            pthread_cond_wait(&w->cv, &w->mu);
        if (!w->b[w->next].full && w->stop) {
            pthread_mutex_unlock(&w->mu);
            return NULL;
        }
        b = &w->b[w->next];
        pthread_mutex_unlock(&w->mu);
        for (size_t i = 0; i < b->n && w->bad_seq == UINT64_MAX; i++) {
            uint8_t root[32];
            const struct bjob *j = &b->jobs[i];
            LDG_ASSERT(j->off + j->len <= b->len);
            if (ldg_body_rec_root(NULL, b->data + j->off, j->len, w->body_max,
                                  root) < 0) {
                snprintf(w->what, sizeof w->what,
                         "its body record does not decode");
                w->bad_seq = j->seq;
            } else if (memcmp(root, j->root, 32) != 0) {
                snprintf(w->what, sizeof w->what,
                         "body does not match its commitment in the entry");
                w->bad_seq = j->seq;
            }
        }
        pthread_mutex_lock(&w->mu);
        b->n = 0;
        b->len = 0;
        b->full = 0;
        w->next = (w->next + 1) % NBATCH;
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);
    }
}

int
seg_bworker_start(struct bworker *w, size_t body_max)
{
    memset(w->b, 0, sizeof w->b);
    w->fill = w->next = 0;
    w->stop = 0;
    w->body_max = body_max;
    w->bad_seq = UINT64_MAX;
    w->what[0] = '\0';
    for (int i = 0; i < NBATCH; i++) {
        w->b[i].cap = BATCH_BYTES;
        if ((w->b[i].data = malloc(BATCH_BYTES)) == NULL)
            return LDG_ENOMEM;
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if (pthread_create(&w->th, NULL, bworker_main, w) != 0) {
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
        return LDG_ENOMEM;
    }
    w->running = 1;
    return 0;
}

/* Hands the batch being filled to the worker and takes the next free. */
static void
bworker_submit(struct bworker *w)
{
    pthread_mutex_lock(&w->mu);
    if (w->b[w->fill].n > 0) {
        w->b[w->fill].full = 1;
        w->fill = (w->fill + 1) % NBATCH;
        pthread_cond_broadcast(&w->cv);
        while (w->b[w->fill].full)
            pthread_cond_wait(&w->cv, &w->mu);
    }
    pthread_mutex_unlock(&w->mu);
}

int
seg_bworker_add(struct bworker *w, uint64_t seq, const uint8_t *rec, size_t len,
                const uint8_t root[32])
{
    struct bbatch *b = &w->b[w->fill];
    struct bjob *j;
    if (b->n == BATCH_EVENTS || b->len + len > b->cap) {
        bworker_submit(w);
        b = &w->b[w->fill];
    }
    if (len > b->cap) {
        uint8_t *d = realloc(b->data, len);
        if (d == NULL)
            return LDG_ENOMEM;
        b->data = d;
        b->cap = len;
    }
    LDG_ASSERT(b->n < BATCH_EVENTS && b->len + len <= b->cap);
    j = &b->jobs[b->n++];
    j->seq = seq;
    j->off = b->len;
    j->len = len;
    memcpy(j->root, root, 32);
    memcpy(b->data + b->len, rec, len);
    b->len += len;
    return 0;
}

/* Checks what is left and stops the worker. */
void
seg_bworker_finish(struct bworker *w)
{
    if (!w->running)
        return;
    bworker_submit(w);
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->th, NULL);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    w->running = 0;
}

void
seg_bworker_free(struct bworker *w)
{
    seg_bworker_finish(w);
    for (int i = 0; i < NBATCH; i++) {
        free(w->b[i].data);
        w->b[i].data = NULL;
    }
}
