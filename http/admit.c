/*
 * admit.c — the connection shares of the project's HTTP servers (the
 * rules are in http_int.h). Peers and connections are kept in lists: a
 * server holds at most a few thousand connections, and a walk of them
 * costs microseconds, once per connection that arrives.
 */
#include <stdlib.h>
#include <string.h>

#include "http/http_int.h"

struct httpd_peer_rec {
    struct httpd_peer id;
    unsigned n;    /* its connections listed and not closing: its share */
    unsigned refs; /* its connections listed (closing ones too) */
    struct httpd_peer_rec *next;
};

static int
same_peer(const struct httpd_peer *a, const struct httpd_peer *b)
{
    if (a->kind != b->kind)
        return 0;
    if (a->kind == HTTPD_PEER_UID)
        return a->uid == b->uid;
    if (a->kind == HTTPD_PEER_ADDR)
        return memcmp(a->addr, b->addr, sizeof a->addr) == 0;
    return 1;
}

static struct httpd_peer_rec *
peer_rec(struct httpd_table *t, const struct httpd_peer *p)
{
    struct httpd_peer_rec *r;
    for (r = t->peers; r != NULL; r = r->next)
        if (same_peer(&r->id, p))
            return r;
    if ((r = calloc(1, sizeof *r)) == NULL)
        return NULL;
    r->id = *p;
    r->next = t->peers;
    t->peers = r;
    return r;
}

/* Frees r once no listed connection points to it. */
static void
peer_drop(struct httpd_table *t, struct httpd_peer_rec *r)
{
    struct httpd_peer_rec **pp = &t->peers;
    if (r->refs > 0)
        return;
    while (*pp != NULL && *pp != r)
        pp = &(*pp)->next;
    if (*pp == r) {
        *pp = r->next;
        free(r);
    }
}

/* c stops counting (it is being closed, or it left). */
static void
uncount(struct httpd_table *t, struct httpd_conn *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    t->n--;
    c->pr->n--;
}

static int
idle(const struct httpd_conn *c)
{
    return !c->closing && !__atomic_load_n(&c->busy, __ATOMIC_ACQUIRE);
}

static uint64_t
idle_for(const struct httpd_conn *c, uint64_t now_ms)
{
    uint64_t a = __atomic_load_n(&c->active_ms, __ATOMIC_ACQUIRE);
    return now_ms > a ? now_ms - a : 0;
}

static void
close_one(struct httpd_table *t, struct httpd_conn *c,
          void (*close_fn)(void *, struct httpd_conn *), void *cls)
{
    uncount(t, c);
    t->closed_idle++;
    close_fn(cls, c);
}

/* The idle connection to close for a newcomer when every slot is taken:
 * of the peer holding the most, the one idle the longest; NULL if none
 * is idle. */
static struct httpd_conn *
victim(const struct httpd_table *t, uint64_t now_ms)
{
    struct httpd_conn *best = NULL;
    uint64_t best_idle = 0;
    for (struct httpd_conn *c = t->head; c != NULL; c = c->next) {
        if (!idle(c))
            continue;
        uint64_t d = idle_for(c, now_ms);
        if (best == NULL || c->pr->n > best->pr->n ||
            (c->pr->n == best->pr->n && d > best_idle)) {
            best = c;
            best_idle = d;
        }
    }
    return best;
}

int
httpd_admit(struct httpd_table *t, struct httpd_conn *c, uint64_t now_ms,
            void (*close_fn)(void *cls, struct httpd_conn *victim), void *cls)
{
    unsigned share = t->max / 2 ? t->max / 2 : 1;
    struct httpd_conn *v, *nx;
    struct httpd_peer_rec *r;

    /* under pressure, idle connections go sooner */
    if (t->n >= (t->max / 2 ? t->max / 2 : 1))
        for (v = t->head; v != NULL; v = nx) {
            nx = v->next;
            if (idle(v) && idle_for(v, now_ms) >= t->pressure_ms)
                close_one(t, v, close_fn, cls);
        }
    if ((r = peer_rec(t, &c->peer)) == NULL)
        return HTTPD_NOMEM;
    if (r->n >= share &&
        !(c->peer.kind == HTTPD_PEER_UID && c->peer.uid == t->self_uid)) {
        t->refused_share++;
        peer_drop(t, r);
        return HTTPD_OVER_SHARE;
    }
    if (t->n >= t->max) {
        if ((v = victim(t, now_ms)) == NULL) {
            t->refused_full++;
            peer_drop(t, r);
            return HTTPD_FULL;
        }
        close_one(t, v, close_fn, cls);
    }
    c->pr = r;
    r->n++;
    r->refs++;
    t->n++;
    t->admitted++;
    c->listed = 1;
    c->closing = 0;
    c->prev = NULL;
    c->next = t->head;
    if (t->head != NULL)
        t->head->prev = c;
    t->head = c;
    return 0;
}

void
httpd_leave(struct httpd_table *t, struct httpd_conn *c)
{
    if (!c->listed)
        return;
    uncount(t, c);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        t->head = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    c->listed = 0;
    c->pr->refs--;
    peer_drop(t, c->pr);
    c->pr = NULL;
}

void
httpd_table_release(struct httpd_table *t)
{
    while (t->peers != NULL) {
        struct httpd_peer_rec *r = t->peers;
        t->peers = r->next;
        free(r);
    }
}
