/*
 * overlay.c — sorted in-memory maps of changes over a store snapshot
 * (overlay_int.h). A transaction with an overlay (store.c) reads an LMDB
 * snapshot and keeps what it writes here: one map a database, in the
 * database's order, each node a put (a value, or for sorted duplicates a
 * duplicate) or a deletion that hides what the snapshot holds.
 *
 * A map is a skip list (Pugh, 1990) of nodes allocated from the overlay's
 * arena: O(log n) to find or insert, O(1) to step either way, and no node
 * or value is freed before the overlay is (a value a caller read stays
 * valid until its transaction ends, as LMDB's do). No LMDB here.
 */
#include <stdlib.h>
#include <string.h>

#include "ledger/overlay_int.h"

const char ldg_ovl_vmax_ = 0;

#define LEVELS 20
#define CHUNK ((size_t)64 << 10)

struct arena_chunk {
    struct arena_chunk *next;
    size_t used, cap;
    /* then cap bytes, max_align_t-aligned */
};

struct ldg_ovl_node {
    const uint8_t *k, *v;
    size_t klen, vlen;
    unsigned flags; /* LDG_OVL_DEL, LDG_OVL_KEYDEL */
    struct ldg_ovl_node *prev;
    unsigned levels;
    struct ldg_ovl_node *next[]; /* levels of them */
};

struct ldg_ovl_map {
    unsigned dbi;
    int dup;     /* sorted duplicates: nodes are (key, value) pairs */
    int cleared; /* the snapshot's records are all hidden (a drop) */
    int64_t delta;
    struct ldg_ovl_node *head; /* LEVELS of next, no key */
    struct ldg_ovl_node *last;
    struct ldg_ovl_map *link;
};

struct ldg_ovl {
    struct arena_chunk *chunks;
    struct ldg_ovl_map *maps;
    uint64_t version;
    uint64_t rnd;
};

static void *
arena_alloc(struct ldg_ovl *o, size_t n)
{
    struct arena_chunk *c = o->chunks;
    size_t al = _Alignof(max_align_t), hdr;
    hdr = (sizeof *c + al - 1) / al * al;
    n = (n + al - 1) / al * al;
    if (c == NULL || c->cap - c->used < n) {
        size_t cap = n > CHUNK ? n : CHUNK;
        c = malloc(hdr + cap);
        if (c == NULL)
            return NULL;
        c->used = 0;
        c->cap = cap;
        c->next = o->chunks;
        o->chunks = c;
    }
    c->used += n;
    return (uint8_t *)c + hdr + c->used - n;
}

struct ldg_ovl *
ldg_ovl_new(void)
{
    struct ldg_ovl *o = calloc(1, sizeof *o);
    if (o != NULL)
        o->rnd = 0x9e3779b97f4a7c15u;
    return o;
}

void
ldg_ovl_free(struct ldg_ovl *o)
{
    if (o == NULL)
        return;
    while (o->chunks != NULL) {
        struct arena_chunk *n = o->chunks->next;
        free(o->chunks);
        o->chunks = n;
    }
    free(o);
}

uint64_t
ldg_ovl_version(const struct ldg_ovl *o)
{
    return o->version;
}

struct ldg_ovl_map *
ldg_ovl_map(struct ldg_ovl *o, unsigned dbi, int dup, int create)
{
    struct ldg_ovl_map *m;
    for (m = o->maps; m != NULL; m = m->link)
        if (m->dbi == dbi)
            return m;
    if (!create)
        return NULL;
    m = arena_alloc(o, sizeof *m);
    if (m == NULL)
        return NULL;
    memset(m, 0, sizeof *m);
    m->head =
        arena_alloc(o, sizeof *m->head + LEVELS * sizeof m->head->next[0]);
    if (m->head == NULL)
        return NULL;
    memset(m->head, 0, sizeof *m->head + LEVELS * sizeof m->head->next[0]);
    m->head->levels = LEVELS;
    m->dbi = dbi;
    m->dup = dup;
    m->link = o->maps;
    o->maps = m;
    return m;
}

int
ldg_ovl_map_dup(const struct ldg_ovl_map *m)
{
    return m->dup;
}

int
ldg_ovl_map_cleared(const struct ldg_ovl_map *m)
{
    return m->cleared;
}

int64_t
ldg_ovl_map_delta(const struct ldg_ovl_map *m)
{
    return m->delta;
}

void
ldg_ovl_map_add_delta(struct ldg_ovl_map *m, int64_t d)
{
    m->delta += d;
}

/* LMDB's default order: bytes, then length. */
static int
cmp_bytes(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    size_t n = an < bn ? an : bn;
    int c = n ? memcmp(a, b, n) : 0;
    if (c != 0)
        return c;
    return an < bn ? -1 : an > bn;
}

int
ldg_ovl_cmp(int dup, const void *ak, size_t akl, const void *av, size_t avl,
            const void *bk, size_t bkl, const void *bv, size_t bvl)
{
    int c = cmp_bytes(ak, akl, bk, bkl);
    if (c != 0 || !dup)
        return c;
    return cmp_bytes(av, avl, bv, bvl);
}

/* How a node compares with (k, v); v NULL: the key's least pair, v ==
 * LDG_OVL_VMAX: its greatest. */
static int
node_cmp(const struct ldg_ovl_map *m, const struct ldg_ovl_node *n,
         const void *k, size_t kl, const void *v, size_t vl)
{
    int c = cmp_bytes(n->k, n->klen, k, kl);
    if (c != 0 || !m->dup)
        return c;
    if (n->flags & LDG_OVL_KEYDEL) /* before every value of its key */
        return v == NULL ? 0 : -1;
    if (v == NULL)
        return 1;
    if (v == LDG_OVL_VMAX)
        return -1;
    return cmp_bytes(n->v, n->vlen, v, vl);
}

/* The nodes before (k, v) at each level into upd; the first node not
 * before it is returned. */
static struct ldg_ovl_node *
find(const struct ldg_ovl_map *m, const void *k, size_t kl, const void *v,
     size_t vl, struct ldg_ovl_node **upd)
{
    struct ldg_ovl_node *x = m->head;
    for (int i = LEVELS - 1; i >= 0; i--) {
        while (x->next[i] != NULL && node_cmp(m, x->next[i], k, kl, v, vl) < 0)
            x = x->next[i];
        if (upd != NULL)
            upd[i] = x;
    }
    return x->next[0];
}

const struct ldg_ovl_node *
ldg_ovl_find(const struct ldg_ovl_map *m, const void *k, size_t kl,
             const void *v, size_t vl)
{
    struct ldg_ovl_node *n = find(m, k, kl, v, vl, NULL);
    if (n != NULL && node_cmp(m, n, k, kl, v, vl) == 0)
        return n;
    return NULL;
}

const struct ldg_ovl_node *
ldg_ovl_keydel(const struct ldg_ovl_map *m, const void *k, size_t kl)
{
    struct ldg_ovl_node *n;
    if (!m->dup)
        return NULL;
    n = find(m, k, kl, NULL, 0, NULL);
    if (n != NULL && (n->flags & LDG_OVL_KEYDEL) &&
        cmp_bytes(n->k, n->klen, k, kl) == 0)
        return n;
    return NULL;
}

const struct ldg_ovl_node *
ldg_ovl_seek(const struct ldg_ovl_map *m, const void *k, size_t kl,
             const void *v, size_t vl, int strict)
{
    struct ldg_ovl_node *n = find(m, k, kl, v, vl, NULL);
    if (strict && n != NULL && node_cmp(m, n, k, kl, v, vl) == 0)
        n = n->next[0];
    return n;
}

const struct ldg_ovl_node *
ldg_ovl_seek_le(const struct ldg_ovl_map *m, const void *k, size_t kl,
                const void *v, size_t vl, int strict)
{
    struct ldg_ovl_node *upd[LEVELS], *n = find(m, k, kl, v, vl, upd);
    if (!strict && n != NULL && node_cmp(m, n, k, kl, v, vl) == 0)
        return n;
    return upd[0] == m->head ? NULL : upd[0];
}

const struct ldg_ovl_node *
ldg_ovl_first(const struct ldg_ovl_map *m)
{
    return m->head->next[0];
}

const struct ldg_ovl_node *
ldg_ovl_last(const struct ldg_ovl_map *m)
{
    return m->last;
}

const struct ldg_ovl_node *
ldg_ovl_next(const struct ldg_ovl_node *n)
{
    return n->next[0];
}

const struct ldg_ovl_node *
ldg_ovl_prev(const struct ldg_ovl_map *m, const struct ldg_ovl_node *n)
{
    return n->prev == m->head ? NULL : n->prev;
}

void
ldg_ovl_node_get(const struct ldg_ovl_node *n, const uint8_t **k, size_t *kl,
                 const uint8_t **v, size_t *vl, unsigned *flags)
{
    *k = n->k;
    *kl = n->klen;
    if (v != NULL) {
        *v = n->v;
        *vl = n->vlen;
    }
    if (flags != NULL)
        *flags = n->flags;
}

static unsigned
random_level(struct ldg_ovl *o)
{
    unsigned lv = 1;
    /* xorshift64: a level of i with chance 4^-(i-1) */
    o->rnd ^= o->rnd << 13;
    o->rnd ^= o->rnd >> 7;
    o->rnd ^= o->rnd << 17;
    for (uint64_t r = o->rnd; lv < LEVELS && (r & 3) == 0; r >>= 2)
        lv++;
    return lv;
}

int
ldg_ovl_set(struct ldg_ovl *o, struct ldg_ovl_map *m, const void *k, size_t kl,
            const void *v, size_t vl, unsigned flags)
{
    struct ldg_ovl_node *upd[LEVELS], *n;
    const void *fv = (flags & LDG_OVL_KEYDEL) ? NULL : v;
    uint8_t *kb, *vb = NULL;

    if (v == NULL)
        vl = 0;
    o->version++;
    n = find(m, k, kl, fv, vl, upd);
    if (n != NULL && node_cmp(m, n, k, kl, fv, vl) == 0) {
        /* the same key (pair): a new value or flag in place */
        if (!m->dup && !(flags & LDG_OVL_DEL) &&
            (n->vlen != vl || (vl && memcmp(n->v, v, vl) != 0))) {
            if ((vb = arena_alloc(o, vl ? vl : 1)) == NULL)
                return -1;
            if (vl)
                memcpy(vb, v, vl);
            n->v = vb;
            n->vlen = vl;
        }
        n->flags = flags;
        return 0;
    }
    {
        unsigned lv = random_level(o);
        n = arena_alloc(o, sizeof *n + lv * sizeof n->next[0]);
        kb = arena_alloc(o, kl ? kl : 1);
        if (!(flags & LDG_OVL_KEYDEL))
            vb = arena_alloc(o, vl ? vl : 1);
        if (n == NULL || kb == NULL ||
            (vb == NULL && !(flags & LDG_OVL_KEYDEL)))
            return -1;
        if (kl)
            memcpy(kb, k, kl);
        if (vb != NULL && vl)
            memcpy(vb, v, vl);
        n->k = kb;
        n->klen = kl;
        n->v = vb;
        n->vlen = vb != NULL ? vl : 0;
        n->flags = flags;
        n->levels = lv;
        for (unsigned i = 0; i < lv; i++) {
            n->next[i] = upd[i]->next[i];
            upd[i]->next[i] = n;
        }
        n->prev = upd[0];
        if (n->next[0] != NULL)
            n->next[0]->prev = n;
        else
            m->last = n;
    }
    return 0;
}

void
ldg_ovl_map_clear(struct ldg_ovl *o, struct ldg_ovl_map *m)
{
    o->version++;
    for (int i = 0; i < LEVELS; i++)
        m->head->next[i] = NULL;
    m->last = NULL;
    m->cleared = 1;
    m->delta = 0;
}
