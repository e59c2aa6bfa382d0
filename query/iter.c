/*
 * iter.c — the query planner and the streaming iterator.
 *
 * Every candidate source is a stream of strictly increasing sequence
 * numbers (decreasing when reversed), clipped to a window [lo, hi]:
 *
 *   S_INDEX    one value's range in idx.run / idx.subject / idx.type /
 *              idx.actor: keys value ‖ 0x00 ‖ seq_be64, so the range is
 *              already in seq order and starts with one SET_RANGE
 *   S_BODIES   the "bodies" database in seq order, skipping records whose
 *              bytes cannot satisfy a body predicate (see match.c)
 *   S_ENTRIES  the "entries" database in seq order (decoded in place)
 *
 * The window is the intersection of the time range (turned into seqs by
 * two SET_RANGE lookups in idx.time: ts never decreases with seq), the
 * restriction of ldg_query_restrict, the log's size and the group's seq=
 * terms.
 *
 * Planning, per OR group, the first that applies:
 *   run=      one S_INDEX per value on idx.run
 *   subject=  one per value on idx.subject (a glob is expanded into the
 *             distinct subjects it matches, by skipping through the index)
 *   type=     likewise on idx.type
 *   actor=    one per resolved key id on idx.actor
 *   body.X=   one S_BODIES with X's prefilter
 *   pack=/model=/route=   S_INDEX on idx.subject "kind:V" for each value,
 *             plus one S_BODIES with the predicate's prefilter
 *   else      one S_ENTRIES over the window
 * The sources of all groups go into one binary heap keyed by their current
 * seq; the iterator pops the smallest, drops duplicates, decodes the event
 * and tests the whole query on it (so a source only has to cover its
 * group's matches, never to be exact). Memory is one cursor per source.
 */
#include <stdlib.h>
#include <string.h>

#include "query/query_int.h"

enum src_kind { S_INDEX, S_ENTRIES, S_BODIES };

/* Scans of at least this many events ask for readahead. */
#define SCAN_HINT_EVENTS 65536

struct src {
    enum src_kind kind;
    struct ldg_cursor *c;
    uint8_t *prefix; /* S_INDEX: value ‖ 0x00 */
    size_t plen;
    uint64_t lo, hi;
    const struct qpred *bp; /* S_BODIES: the prefilter */
    uint64_t cur;
    struct ldg_val val; /* S_ENTRIES: the entry at cur */
    int live;           /* positioned at cur (0 once exhausted) */
    /* S_ENTRIES forward: the entry just past the window, if any */
    int has_beyond;
    uint64_t beyond_seq;
    struct ldg_val beyond;
};

struct keyname {
    char id[LDG_KEYID_LEN + 1];
    char name[LDG_NAME_MAX + 1];
};

/* A cursor that looks up seq-keyed records (key: prefix ‖ seq_be64) for
 * events that come in seq order: one NEXT (or PREV) when the event asked
 * for is the next one, a SET_RANGE otherwise. */
struct seekc {
    struct ldg_cursor *c;
    uint8_t prefix; /* tree: level 0; unused for entries and bodies */
    size_t plen;    /* 0 or 1 */
    int at;         /* 1: positioned on key `cur` with value `val` */
    uint64_t cur;
    struct ldg_val val;
};

struct ldg_query_iter {
    const struct ldg_query *q;
    struct ldg_txn *t;
    int reverse;
    ldg_dbi entries, bodies;
    struct seekc ec, bc, tc; /* entries, bodies, tree level 0 */
    int have_tree;           /* the tree database exists */
    int seq_hint;            /* ldg_access_hint(SEQUENTIAL) given */
    /* the stored body record of the event returned last: 1 at rec, -1
     * erased, 0 not looked up yet */
    int rec_state;
    struct ldg_val rec;
    uint64_t last_seq;
    struct src *s;
    size_t ns, scap;
    size_t *heap;
    size_t nheap;
    char ****actor_ids; /* [group][actor pred] -> NULL-terminated ids */
    struct keyname *names;
    size_t nnames;
    struct ldg_query_stats st;
    uint64_t size;     /* of the log in t */
    json_t *last_body; /* decoded while matching the last event returned */
    int last_state;    /* 1 decoded, -1 erased, 0 not looked at */
};

static void
be64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint64_t
rd64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

/* -------------------------------------------------------- seq lookups -- */

static int
seekc_open(struct ldg_query_iter *it, struct seekc *sc, ldg_dbi db, size_t plen,
           uint8_t prefix)
{
    memset(sc, 0, sizeof *sc);
    sc->plen = plen;
    sc->prefix = prefix;
    return ldg_cursor_open(it->t, db, &sc->c);
}

/* Reads the cursor's position after rc/k/v into sc. */
static void
seekc_set(struct seekc *sc, int rc, const struct ldg_val *k,
          const struct ldg_val *v)
{
    const uint8_t *kp;
    sc->at = 0;
    if (rc != 0)
        return;
    kp = k->data;
    if (k->len == sc->plen + 8 && (sc->plen == 0 || kp[0] == sc->prefix)) {
        sc->at = 1;
        sc->cur = rd64(kp + sc->plen);
        sc->val = *v;
    }
}

/* The value stored for seq: 0 with *v, LDG_ENOTFOUND if there is none. */
static int
seekc_get(struct seekc *sc, uint64_t seq, struct ldg_val *v)
{
    struct ldg_val k, val;
    int rc;

    if (sc->c == NULL)
        return LDG_ENOTFOUND;
    if (sc->at && sc->cur != seq &&
        (sc->cur < seq ? seq - sc->cur : sc->cur - seq) <= 4) {
        /* a few steps from where we are beat a lookup from the root */
        enum ldg_seek op = sc->cur < seq ? LDG_NEXT : LDG_PREV;
        while (sc->at && (op == LDG_NEXT ? sc->cur < seq : sc->cur > seq)) {
            rc = ldg_cursor_get(sc->c, op, NULL, 0, &k, &val);
            if (rc < 0 && rc != LDG_ENOTFOUND)
                return rc;
            seekc_set(sc, rc, &k, &val);
        }
        /* on seq, past it (so it is not there), or off the end */
        if (!sc->at || sc->cur != seq)
            return LDG_ENOTFOUND;
    } else if (!sc->at || sc->cur != seq) {
        uint8_t key[9];
        key[0] = sc->prefix;
        be64(key + sc->plen, seq);
        rc = ldg_cursor_get(sc->c, LDG_SET_RANGE, key, sc->plen + 8, &k, &val);
        if (rc < 0 && rc != LDG_ENOTFOUND)
            return rc;
        seekc_set(sc, rc, &k, &val);
        if (!sc->at || sc->cur != seq)
            return LDG_ENOTFOUND;
    }
    *v = sc->val;
    return 0;
}

static void
seekc_close(struct seekc *sc)
{
    ldg_cursor_close(sc->c);
    sc->c = NULL;
}

/* ------------------------------------------------------------- sources -- */

/* The seq of the current key of s, if it belongs to s; else -1. */
static int
key_seq(const struct src *s, const struct ldg_val *k, uint64_t *seq)
{
    if (s->kind == S_INDEX) {
        if (k->len != s->plen + 8 || memcmp(k->data, s->prefix, s->plen) != 0)
            return -1;
        *seq = rd64((const uint8_t *)k->data + s->plen);
    } else {
        if (k->len != 8)
            return -1;
        *seq = rd64(k->data);
    }
    return 0;
}

/* Moves s to its next candidate starting from the cursor result rc/k/v.
 * Returns 1 if s has a current seq, 0 if exhausted, <0 on error. */
static int
settle(struct src *s, int reverse, int rc, struct ldg_val *k, struct ldg_val *v)
{
    s->live = 0;
    for (;;) {
        uint64_t seq;
        if (rc == LDG_ENOTFOUND)
            return 0;
        if (rc < 0)
            return rc;
        if (key_seq(s, k, &seq) < 0)
            return 0;
        if (reverse ? seq < s->lo : seq > s->hi) {
            if (!reverse && s->kind == S_ENTRIES) { /* for its prev */
                s->has_beyond = 1;
                s->beyond_seq = seq;
                s->beyond = *v;
            }
            return 0;
        }
        if (s->kind != S_BODIES || q_prefilter(s->bp, v->data, v->len)) {
            s->cur = seq;
            s->val = *v;
            s->live = 1;
            return 1;
        }
        rc = ldg_cursor_get(s->c, reverse ? LDG_PREV : LDG_NEXT, NULL, 0, k, v);
    }
}

static int
src_start(struct src *s, int reverse)
{
    uint8_t key[Q_VALUE_MAX + 16];
    struct ldg_val k, v;
    size_t kl = s->plen + 8;
    int rc;

    if (s->lo > s->hi)
        return 0;
    if (s->plen > 0)
        memcpy(key, s->prefix, s->plen);
    be64(key + s->plen, reverse ? s->hi : s->lo);
    rc = ldg_cursor_get(s->c, LDG_SET_RANGE, key, kl, &k, &v);
    if (reverse) {
        uint64_t seq;
        /* SET_RANGE lands on the first key >= prefix‖hi; unless that is
         * our hi itself, the last candidate is the key before it. */
        if (rc == LDG_ENOTFOUND)
            rc = ldg_cursor_get(s->c, LDG_LAST, NULL, 0, &k, &v);
        else if (rc == 0 && (key_seq(s, &k, &seq) < 0 || seq > s->hi))
            rc = ldg_cursor_get(s->c, LDG_PREV, NULL, 0, &k, &v);
    }
    return settle(s, reverse, rc, &k, &v);
}

static int
src_advance(struct src *s, int reverse)
{
    struct ldg_val k, v;
    int rc =
        ldg_cursor_get(s->c, reverse ? LDG_PREV : LDG_NEXT, NULL, 0, &k, &v);
    return settle(s, reverse, rc, &k, &v);
}

/* The leaf hash of event seq from the entry after it, when an entries
 * source scanning forward has that entry at hand (the next one in the
 * window, or the first past it): an entry is 0x93 ‖ map ‖ 0xc4 0x20
 * prev[32] ‖ 0xc4 0x40 sig[64], and its prev is the leaf hash of the
 * entry before. 1 if found. */
static int
next_prev(const struct src *s, int reverse, uint64_t seq, uint8_t leaf[32])
{
    const struct ldg_val *v = NULL;
    const uint8_t *e;
    if (s->kind != S_ENTRIES || reverse)
        return 0;
    if (s->live && s->cur == seq + 1)
        v = &s->val;
    else if (s->has_beyond && s->beyond_seq == seq + 1)
        v = &s->beyond;
    if (v == NULL || v->len < 1 + 34 + 66)
        return 0;
    e = (const uint8_t *)v->data + v->len - 100;
    if (e[0] != 0xc4 || e[1] != 32 || e[34] != 0xc4 || e[35] != 64)
        return 0;
    memcpy(leaf, e + 2, 32);
    return 1;
}

/* ---------------------------------------------------------------- heap -- */

static int
before(const struct ldg_query_iter *it, size_t a, size_t b)
{
    return it->reverse ? it->s[a].cur > it->s[b].cur
                       : it->s[a].cur < it->s[b].cur;
}

static void
sift_down(struct ldg_query_iter *it, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i, tmp;
        if (l < it->nheap && before(it, it->heap[l], it->heap[m]))
            m = l;
        if (r < it->nheap && before(it, it->heap[r], it->heap[m]))
            m = r;
        if (m == i)
            return;
        tmp = it->heap[i];
        it->heap[i] = it->heap[m];
        it->heap[m] = tmp;
        i = m;
    }
}

static void
sift_up(struct ldg_query_iter *it, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2, tmp;
        if (!before(it, it->heap[i], it->heap[p]))
            return;
        tmp = it->heap[i];
        it->heap[i] = it->heap[p];
        it->heap[p] = tmp;
        i = p;
    }
}

/* Advances the source at the top of the heap and restores the heap. */
static int
pop_advance(struct ldg_query_iter *it)
{
    size_t top = it->heap[0];
    int rc = src_advance(&it->s[top], it->reverse);
    if (rc < 0)
        return rc;
    if (rc == 0) {
        it->heap[0] = it->heap[--it->nheap];
        if (it->nheap == 0)
            return 0;
    }
    sift_down(it, 0);
    return 0;
}

/* ------------------------------------------------------------ planning -- */

static struct src *
add_src(struct ldg_query_iter *it, enum src_kind kind, const void *prefix,
        size_t plen, uint64_t lo, uint64_t hi)
{
    struct src *s;
    if (it->ns == it->scap) {
        size_t nc = it->scap ? it->scap * 2 : 8;
        struct src *na = realloc(it->s, nc * sizeof *na);
        if (na == NULL)
            return NULL;
        it->s = na;
        it->scap = nc;
    }
    s = &it->s[it->ns];
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->lo = lo;
    s->hi = hi;
    if (plen > 0) {
        s->prefix = malloc(plen);
        if (s->prefix == NULL)
            return NULL;
        memcpy(s->prefix, prefix, plen);
        s->plen = plen;
    }
    it->ns++;
    return s;
}

static int
add_index_src(struct ldg_query_iter *it, ldg_dbi db, const char *value,
              uint64_t lo, uint64_t hi)
{
    uint8_t pre[Q_VALUE_MAX + 1];
    size_t n = strlen(value);
    struct src *s;
    if (n > Q_VALUE_MAX)
        return LDG_EINVAL;
    memcpy(pre, value, n);
    pre[n] = 0;
    s = add_src(it, S_INDEX, pre, n + 1, lo, hi);
    if (s == NULL)
        return LDG_ENOMEM;
    return ldg_cursor_open(it->t, db, &s->c);
}

/* Lists the distinct values of an index that glob value v matches, by
 * jumping from one value to the next (value ‖ 0x01 sorts after all of
 * value's keys). Calls add for each; stops with 1 past max values. */
static int
expand_glob(struct ldg_query_iter *it, ldg_dbi db, const struct qvalue *v,
            size_t max, char ***out, size_t *nout)
{
    struct ldg_cursor *c = NULL;
    struct ldg_val k, val;
    uint8_t key[Q_VALUE_MAX + 2];
    size_t klen = v->prefix;
    int rc;

    rc = ldg_cursor_open(it->t, db, &c);
    if (rc < 0)
        return rc;
    memcpy(key, v->s, v->prefix);
    for (rc = ldg_cursor_get(c, LDG_SET_RANGE, key, klen, &k, &val); rc == 0;
         rc = ldg_cursor_get(c, LDG_SET_RANGE, key, klen, &k, &val)) {
        const char *d = k.data;
        size_t vl = strnlen(d, k.len);
        char name[Q_VALUE_MAX + 1];
        if (vl >= k.len || vl > Q_VALUE_MAX || memcmp(d, v->s, v->prefix) != 0)
            break;
        memcpy(name, d, vl);
        name[vl] = '\0';
        if (q_str_match(v, name)) {
            char **na;
            if (*nout >= max) {
                rc = 1;
                goto out;
            }
            na = realloc(*out, (*nout + 1) * sizeof *na);
            if (na == NULL) {
                rc = LDG_ENOMEM;
                goto out;
            }
            *out = na;
            if ((na[*nout] = strdup(name)) == NULL) {
                rc = LDG_ENOMEM;
                goto out;
            }
            (*nout)++;
        }
        memcpy(key, name, vl);
        key[vl] = 0x01;
        klen = vl + 1;
    }
    rc = rc == LDG_ENOTFOUND ? 0 : rc;
out:
    ldg_cursor_close(c);
    return rc;
}

static void
free_strs(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* Tries to cover pred p with index sources on db; 1 if done, 0 if the
 * index cannot serve it (too many glob expansions, "run=" empty). */
static int
plan_index(struct ldg_query_iter *it, const struct qpred *p, const char *dbn,
           uint64_t lo, uint64_t hi)
{
    char **vals = NULL;
    size_t nvals = 0, base = it->ns;
    ldg_dbi db;
    int rc;

    rc = ldg_db_open(it->t, dbn, 0, &db);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < p->nv; i++) {
        if (p->f == QF_RUN && p->v[i].s[0] == '\0')
            goto no; /* events without a run are not in idx.run */
        if (p->v[i].glob) {
            rc = expand_glob(it, db, &p->v[i], Q_SOURCES_MAX - it->ns, &vals,
                             &nvals);
            if (rc < 0)
                goto out;
            if (rc == 1)
                goto no;
        } else {
            char **na = realloc(vals, (nvals + 1) * sizeof *na);
            if (na == NULL) {
                rc = LDG_ENOMEM;
                goto out;
            }
            vals = na;
            if ((vals[nvals] = strdup(p->v[i].s)) == NULL) {
                rc = LDG_ENOMEM;
                goto out;
            }
            nvals++;
        }
        if (it->ns + nvals > Q_SOURCES_MAX)
            goto no;
    }
    for (size_t i = 0; i < nvals; i++)
        if ((rc = add_index_src(it, db, vals[i], lo, hi)) < 0)
            goto out;
    rc = 1;
    goto out;
no:
    rc = 0;
out:
    free_strs(vals, nvals);
    if (rc <= 0) { /* undo partial sources */
        while (it->ns > base) {
            it->ns--;
            ldg_cursor_close(it->s[it->ns].c);
            free(it->s[it->ns].prefix);
        }
    }
    return rc;
}

static int
plan_ids(struct ldg_query_iter *it, char *const *ids, uint64_t lo, uint64_t hi)
{
    ldg_dbi db;
    size_t n = 0;
    int rc = ldg_db_open(it->t, "idx.actor", 0, &db);
    if (rc < 0)
        return rc;
    while (ids[n] != NULL)
        n++;
    if (it->ns + n > Q_SOURCES_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((rc = add_index_src(it, db, ids[i], lo, hi)) < 0)
            return rc;
    return 1;
}

static int
add_scan(struct ldg_query_iter *it, enum src_kind kind, const struct qpred *bp,
         uint64_t lo, uint64_t hi)
{
    struct src *s = add_src(it, kind, NULL, 0, lo, hi);
    if (s == NULL)
        return LDG_ENOMEM;
    s->bp = bp;
    return ldg_cursor_open(it->t, kind == S_BODIES ? it->bodies : it->entries,
                           &s->c);
}

static void
plan_note(struct ldg_query_iter *it, const char *what)
{
    size_t n = strlen(it->st.plan);
    snprintf(it->st.plan + n, sizeof it->st.plan - n, "%s%s", n ? " | " : "",
             what);
}

static int
plan_group(struct ldg_query_iter *it, size_t gi, uint64_t lo, uint64_t hi)
{
    const struct qgroup *g = &it->q->g[gi];
    static const struct {
        enum qfield f;
        const char *db;
    } order[] = {{QF_RUN, "idx.run"},
                 {QF_SUBJECT, "idx.subject"},
                 {QF_TYPE, "idx.type"}};
    size_t actor_i = 0;
    int rc;

    /* the group's own seq= terms narrow its window */
    for (size_t i = 0; i < g->n; i++) {
        if (g->p[i].f == QF_SEQ && !g->p[i].neg) {
            uint64_t l = UINT64_MAX, h = 0;
            for (size_t j = 0; j < g->p[i].nv; j++) {
                if (g->p[i].v[j].lo < l)
                    l = g->p[i].v[j].lo;
                if (g->p[i].v[j].hi > h)
                    h = g->p[i].v[j].hi;
            }
            if (l > lo)
                lo = l;
            if (h < hi)
                hi = h;
        }
    }
    if (lo > hi) {
        plan_note(it, "empty");
        return 0;
    }
    for (size_t o = 0; o < sizeof order / sizeof order[0]; o++) {
        for (size_t i = 0; i < g->n; i++) {
            if (g->p[i].f != order[o].f || g->p[i].neg)
                continue;
            rc = plan_index(it, &g->p[i], order[o].db, lo, hi);
            if (rc != 0) {
                if (rc > 0)
                    plan_note(it, order[o].db);
                return rc < 0 ? rc : 0;
            }
        }
    }
    for (size_t i = 0; i < g->n; i++) {
        if (g->p[i].f != QF_ACTOR)
            continue;
        if (g->p[i].neg) {
            actor_i++;
            continue;
        }
        rc = plan_ids(it, it->actor_ids[gi][actor_i++], lo, hi);
        if (rc != 0) {
            if (rc > 0)
                plan_note(it, "idx.actor");
            return rc < 0 ? rc : 0;
        }
    }
    for (size_t i = 0; i < g->n; i++) {
        if (g->p[i].f == QF_BODY && !g->p[i].neg) {
            plan_note(it, "bodies+prefilter");
            return add_scan(it, S_BODIES, &g->p[i], lo, hi);
        }
    }
    for (size_t i = 0; i < g->n; i++) {
        const struct qpred *p = &g->p[i];
        if ((p->f == QF_PACK || p->f == QF_MODEL || p->f == QF_ROUTE) &&
            !p->neg) {
            const char *kind = p->f == QF_PACK    ? "pack:"
                               : p->f == QF_MODEL ? "model:"
                                                  : "route:";
            ldg_dbi db;
            if (it->ns + p->nv + 1 > Q_SOURCES_MAX)
                break;
            if ((rc = ldg_db_open(it->t, "idx.subject", 0, &db)) < 0)
                return rc;
            for (size_t j = 0; j < p->nv; j++) {
                char subj[Q_VALUE_MAX + 16];
                snprintf(subj, sizeof subj, "%s%s", kind, p->v[j].s);
                if ((rc = add_index_src(it, db, subj, lo, hi)) < 0)
                    return rc;
            }
            plan_note(it, "idx.subject+bodies+prefilter");
            return add_scan(it, S_BODIES, p, lo, hi);
        }
    }
    plan_note(it, lo == 0 && hi >= it->size - 1 ? "entries" : "entries(range)");
    return add_scan(it, S_ENTRIES, NULL, lo, hi);
}

/* ---------------------------------------------------------- time window -- */

/* The seq window of the time range [since, until] via idx.time. Returns
 * 0 with *lo and *hi set, or 1 if no event is in the range. */
static int
time_window(struct ldg_query_iter *it, uint64_t size, uint64_t *lo,
            uint64_t *hi)
{
    const struct ldg_query *q = it->q;
    struct ldg_cursor *c = NULL;
    struct ldg_val k, v;
    uint8_t key[16];
    ldg_dbi db;
    int rc;

    *lo = 0;
    *hi = size - 1;
    if (q->since_ns == 0 && q->until_ns == UINT64_MAX)
        return 0;
    if ((rc = ldg_db_open(it->t, "idx.time", 0, &db)) < 0)
        return rc;
    if ((rc = ldg_cursor_open(it->t, db, &c)) < 0)
        return rc;
    if (q->since_ns > 0) {
        be64(key, q->since_ns);
        be64(key + 8, 0);
        rc = ldg_cursor_get(c, LDG_SET_RANGE, key, 16, &k, &v);
        if (rc == LDG_ENOTFOUND) {
            rc = 1;
            goto out;
        }
        if (rc < 0)
            goto out;
        if (k.len != 16) {
            rc = LDG_ECORRUPT;
            goto out;
        }
        *lo = rd64((const uint8_t *)k.data + 8);
    }
    if (q->until_ns != UINT64_MAX) {
        be64(key, q->until_ns + 1);
        be64(key + 8, 0);
        rc = ldg_cursor_get(c, LDG_SET_RANGE, key, 16, &k, &v);
        if (rc == 0) {
            uint64_t s;
            if (k.len != 16) {
                rc = LDG_ECORRUPT;
                goto out;
            }
            s = rd64((const uint8_t *)k.data + 8);
            if (s == 0) {
                rc = 1;
                goto out;
            }
            if (s - 1 < *hi)
                *hi = s - 1;
        } else if (rc != LDG_ENOTFOUND) {
            goto out;
        }
    }
    rc = *lo > *hi ? 1 : 0;
out:
    ldg_cursor_close(c);
    if (rc == LDG_ECORRUPT)
        ldg_set_errmsg(ldg_txn_ledger(it->t),
                       "idx.time: malformed key (run ledger verify)");
    return rc;
}

/* ------------------------------------------------------------- actors -- */

static int
is_keyid(const char *s)
{
    if (strlen(s) != LDG_KEYID_LEN)
        return 0;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return 0;
    return 1;
}

static int
resolve_actors(struct ldg_query_iter *it)
{
    const struct ldg_query *q = it->q;
    struct ldg_keyinfo *keys = NULL;
    size_t nkeys = 0;
    int have_keys = 0, rc = 0;

    it->actor_ids = calloc(q->ng ? q->ng : 1, sizeof *it->actor_ids);
    if (it->actor_ids == NULL)
        return LDG_ENOMEM;
    for (size_t gi = 0; gi < q->ng && rc == 0; gi++) {
        const struct qgroup *g = &q->g[gi];
        size_t na = 0, ai = 0;
        for (size_t i = 0; i < g->n; i++)
            na += g->p[i].f == QF_ACTOR;
        if (na == 0)
            continue;
        it->actor_ids[gi] = calloc(na, sizeof **it->actor_ids);
        if (it->actor_ids[gi] == NULL)
            return LDG_ENOMEM;
        for (size_t i = 0; i < g->n && rc == 0; i++) {
            const struct qpred *p = &g->p[i];
            char **ids;
            size_t n = 0;
            if (p->f != QF_ACTOR)
                continue;
            ids = calloc(p->nv + 16 * p->nv + 1, sizeof *ids);
            if (ids == NULL)
                return LDG_ENOMEM;
            it->actor_ids[gi][ai++] = ids;
            for (size_t j = 0; j < p->nv && rc == 0; j++) {
                int found = 0;
                if (is_keyid(p->v[j].s)) {
                    ids[n++] = strdup(p->v[j].s);
                    continue;
                }
                if (!have_keys) {
                    rc = ldg_keys_list(ldg_txn_ledger(it->t), &keys, &nkeys);
                    if (rc < 0)
                        break;
                    have_keys = 1;
                }
                for (size_t k = 0; k < nkeys && n < p->nv + 16 * p->nv; k++) {
                    if (strcmp(keys[k].name, p->v[j].s) == 0) {
                        ids[n++] = strdup(keys[k].key_id);
                        found = 1;
                    }
                }
                if (!found) {
                    ldg_set_errmsg(ldg_txn_ledger(it->t),
                                   "actor '%s': no key of that name or id "
                                   "(see ledger keys list)",
                                   p->v[j].s);
                    rc = LDG_EBADINPUT;
                }
            }
            for (size_t j = 0; j < n; j++)
                if (ids[j] == NULL)
                    rc = LDG_ENOMEM;
        }
    }
    free(keys);
    return rc;
}

static void
free_actors(struct ldg_query_iter *it)
{
    if (it->actor_ids == NULL)
        return;
    for (size_t gi = 0; gi < it->q->ng; gi++) {
        size_t ai = 0;
        if (it->actor_ids[gi] == NULL)
            continue;
        for (size_t i = 0; i < it->q->g[gi].n; i++) {
            char **ids;
            if (it->q->g[gi].p[i].f != QF_ACTOR)
                continue;
            ids = it->actor_ids[gi][ai++];
            for (size_t j = 0; ids != NULL && ids[j] != NULL; j++)
                free(ids[j]);
            free(ids);
        }
        free(it->actor_ids[gi]);
    }
    free(it->actor_ids);
}

/* ------------------------------------------------------------ iterator -- */

void
ldg_query_iter_free(struct ldg_query_iter *it)
{
    if (it == NULL)
        return;
    for (size_t i = 0; i < it->ns; i++) {
        ldg_cursor_close(it->s[i].c);
        free(it->s[i].prefix);
    }
    free(it->s);
    free(it->heap);
    seekc_close(&it->ec);
    seekc_close(&it->bc);
    seekc_close(&it->tc);
    if (it->seq_hint)
        ldg_access_hint(ldg_txn_ledger(it->t), LDG_ACCESS_RANDOM);
    free_actors(it);
    free(it->names);
    json_decref(it->last_body);
    free(it);
}

int
ldg_query_iter_new(struct ldg_query_iter **out, const struct ldg_query *q,
                   struct ldg_txn *t, unsigned flags)
{
    struct ldg_query_iter *it;
    uint64_t size, lo, hi;
    int rc;

    if (out == NULL || q == NULL || t == NULL || (flags & ~1u) != 0)
        return LDG_EINVAL;
    *out = NULL;
    it = calloc(1, sizeof *it);
    if (it == NULL)
        return LDG_ENOMEM;
    it->q = q;
    it->t = t;
    it->reverse = (flags & LDG_QUERY_REVERSE) != 0;
    if ((rc = ldg_db_open(t, "entries", 0, &it->entries)) < 0 ||
        (rc = ldg_db_open(t, "bodies", 0, &it->bodies)) < 0 ||
        (rc = ldg_txn_size(t, &size)) < 0 || (rc = resolve_actors(it)) < 0 ||
        (rc = seekc_open(it, &it->ec, it->entries, 0, 0)) < 0 ||
        (rc = seekc_open(it, &it->bc, it->bodies, 0, 0)) < 0)
        goto fail;
    {
        /* leaf hashes: level 0 of the stored tree (FORMAT.md section 6);
         * a ledger without one hashes the entries instead */
        ldg_dbi tree;
        if (ldg_db_open(t, "tree", 0, &tree) == 0 &&
            seekc_open(it, &it->tc, tree, 1, 0) == 0)
            it->have_tree = 1;
    }
    it->size = size;
    it->st.seq_lo = 1;
    it->st.seq_hi = 0;
    if (size == 0)
        goto done;
    rc = time_window(it, size, &lo, &hi);
    if (rc < 0)
        goto fail;
    if (rc == 1)
        goto done;
    if (q->seq_lo > lo)
        lo = q->seq_lo;
    if (q->seq_hi < hi)
        hi = q->seq_hi;
    if (lo > hi)
        goto done;
    it->st.seq_lo = lo;
    it->st.seq_hi = hi;
    if (q->ng == 0) {
        plan_note(it, lo == 0 && hi == size - 1 ? "entries" : "entries(range)");
        rc = add_scan(it, S_ENTRIES, NULL, lo, hi);
    } else {
        rc = 0;
        for (size_t gi = 0; gi < q->ng && rc == 0; gi++)
            rc = plan_group(it, gi, lo, hi);
    }
    if (rc < 0)
        goto fail;
    /* a scan over much of the log: let the kernel read ahead (the map is
     * random-access otherwise, and a cold scan would read page by page) */
    for (size_t i = 0; i < it->ns && !it->seq_hint; i++) {
        if (it->s[i].kind != S_INDEX &&
            it->s[i].hi - it->s[i].lo >= SCAN_HINT_EVENTS) {
            ldg_access_hint(ldg_txn_ledger(t), LDG_ACCESS_SEQUENTIAL);
            it->seq_hint = 1;
        }
    }
    it->heap = calloc(it->ns ? it->ns : 1, sizeof *it->heap);
    if (it->heap == NULL) {
        rc = LDG_ENOMEM;
        goto fail;
    }
    for (size_t i = 0; i < it->ns; i++) {
        rc = src_start(&it->s[i], it->reverse);
        if (rc < 0)
            goto fail;
        if (rc == 1) {
            it->heap[it->nheap++] = i;
            sift_up(it, it->nheap - 1);
        }
    }
done:
    *out = it;
    return 0;
fail:
    ldg_query_iter_free(it);
    return rc;
}

static const char *
actor_name(struct ldg_query_iter *it, const char *id)
{
    struct ldg_keyinfo ki;
    struct keyname *nn;
    for (size_t i = 0; i < it->nnames; i++)
        if (strcmp(it->names[i].id, id) == 0)
            return it->names[i].name;
    if (ldg_key_info(it->t, id, &ki) < 0 || it->nnames >= 256)
        return "";
    nn = realloc(it->names, (it->nnames + 1) * sizeof *nn);
    if (nn == NULL)
        return "";
    it->names = nn;
    snprintf(nn[it->nnames].id, sizeof nn[it->nnames].id, "%s", id);
    snprintf(nn[it->nnames].name, sizeof nn[it->nnames].name, "%s", ki.name);
    return nn[it->nnames++].name;
}

static int
event_matches(struct ldg_query_iter *it, const struct ldg_event *ev)
{
    const struct ldg_query *q = it->q;
    struct qbody b;
    int m = 1;

    if (ev->ts_ns < q->since_ns || ev->ts_ns > q->until_ns ||
        ev->seq < q->seq_lo || ev->seq > q->seq_hi)
        return 0;
    qbody_init(&b, it->t, it->bodies, ev->seq);
    if (it->rec_state != 0) { /* the bodies scan read it already */
        b.have_raw = it->rec_state;
        b.raw = it->rec;
    }
    for (size_t gi = 0; gi < q->ng; gi++) {
        m = q_group_match(&q->g[gi], ev, &b,
                          (char *const *const *)it->actor_ids[gi]);
        if (m != 0)
            break;
    }
    if (m == 1 && q->nre > 0)
        m = q_grep(q, ev, &b, actor_name(it, ev->actor));
    if (m == 1 && b.have_json != 0) { /* keep it for the caller */
        it->last_body = b.json;
        it->last_state = b.have_json;
        b.json = NULL;
    }
    if (m == 1 && it->rec_state == 0 && b.have_raw != 0) {
        it->rec_state = b.have_raw;
        it->rec = b.raw;
    }
    qbody_release(&b);
    return m;
}

int
ldg_query_iter_next(struct ldg_query_iter *it, struct ldg_event *ev)
{
    if (it == NULL || ev == NULL)
        return LDG_EINVAL;
    json_decref(it->last_body);
    it->last_body = NULL;
    it->last_state = 0;
    while (it->nheap > 0) {
        struct src *s = &it->s[it->heap[0]];
        uint64_t seq = s->cur;
        struct ldg_val ent, leaf;
        int rc, m;

        it->rec_state = 0;
        if (s->kind == S_BODIES) { /* the body record is at hand */
            it->rec_state = 1;
            it->rec = s->val;
        }
        /* Display path: trust the stored bytes (ledger verify is where
         * they are checked) and take the leaf hash from the tree. The
         * entry and the leaf come from cursors that follow the scan. */
        if (s->kind == S_ENTRIES) {
            ent = s->val;
            rc = 0;
        } else {
            rc = seekc_get(&it->ec, seq, &ent);
        }
        if (rc == 0)
            rc = ldg_event_decode_ex(ent.data, ent.len, ev, LDG_DECODE_TRUSTED);
        if (rc == 0 && ev->seq != seq)
            rc = LDG_ECORRUPT;
        if (rc < 0) {
            ldg_set_errmsg(ldg_txn_ledger(it->t),
                           "event %llu: %s (found through %s; run ledger "
                           "verify)",
                           (unsigned long long)seq, ldg_strerror(rc),
                           s->kind == S_INDEX    ? "an index"
                           : s->kind == S_BODIES ? "the bodies"
                                                 : "the entries");
            return rc == LDG_ENOTFOUND ? LDG_ECORRUPT : rc;
        }
        /* every source positioned at seq moves on (duplicates) */
        while (it->nheap > 0 && it->s[it->heap[0]].cur == seq)
            if ((rc = pop_advance(it)) < 0)
                return rc;
        /* The leaf hash: in a forward scan of the entries, the next entry
         * is at hand and its prev is this one's leaf (the chain); else
         * level 0 of the stored tree; else hashed from the entry. */
        if (next_prev(s, it->reverse, seq, ev->leaf)) {
            /* found */
        } else if (it->have_tree && seekc_get(&it->tc, seq, &leaf) == 0 &&
                   leaf.len == 32) {
            memcpy(ev->leaf, leaf.data, 32);
        } else if ((rc = ldg_event_decode(ent.data, ent.len, ev)) < 0) {
            ldg_set_errmsg(ldg_txn_ledger(it->t),
                           "event %llu: %s (run ledger verify)",
                           (unsigned long long)seq, ldg_strerror(rc));
            return rc;
        }
        it->st.examined++;
        m = event_matches(it, ev);
        if (m < 0) {
            ldg_set_errmsg(ldg_txn_ledger(it->t), "event %llu: %s",
                           (unsigned long long)seq, ldg_strerror(m));
            return m;
        }
        if (m) {
            it->st.matched++;
            it->last_seq = seq;
            return 0;
        }
    }
    return LDG_ENOTFOUND;
}

int
ldg_query_iter_body(const struct ldg_query_iter *it, const json_t **body)
{
    if (it == NULL || body == NULL)
        return LDG_EINVAL;
    *body = it->last_state == 1 ? it->last_body : NULL;
    return it->last_state < 0 ? LDG_EERASED : it->last_state;
}

int
q_iter_body_record(struct ldg_query_iter *it, const uint8_t **rec, size_t *len)
{
    if (it->rec_state == 0) {
        int rc = seekc_get(&it->bc, it->last_seq, &it->rec);
        if (rc == LDG_ENOTFOUND)
            it->rec_state = -1; /* the entry is there: erased */
        else if (rc < 0)
            return rc;
        else
            it->rec_state = 1;
    }
    if (it->rec_state < 0)
        return LDG_EERASED;
    *rec = it->rec.data;
    *len = it->rec.len;
    return 0;
}

struct ldg_txn *
q_iter_txn(const struct ldg_query_iter *it)
{
    return it->t;
}

uint64_t
q_iter_examined(const struct ldg_query_iter *it)
{
    return it->st.examined;
}

void
ldg_query_iter_stats(const struct ldg_query_iter *it,
                     struct ldg_query_stats *st)
{
    if (it == NULL || st == NULL)
        return;
    *st = it->st;
}

/* -------------------------------------------------------------- cursors -- */

void
ldg_query_cursor(const struct ldg_event *ev, char buf[LDG_QUERY_CURSOR_MAX])
{
    char hex[65];
    ldg_hex(hex, ev->leaf, 32);
    snprintf(buf, LDG_QUERY_CURSOR_MAX, "%llu:%.16s",
             (unsigned long long)ev->seq, hex);
}

int
ldg_query_cursor_check(struct ldg_txn *t, const char *cursor, uint64_t *seq,
                       char *err, size_t errcap)
{
    const char *colon;
    struct ldg_event ev;
    char want[LDG_QUERY_CURSOR_MAX];
    uint64_t v = 0;
    size_t nd;
    int rc;

    if (t == NULL || cursor == NULL || seq == NULL)
        return LDG_EINVAL;
    colon = strchr(cursor, ':');
    nd = colon ? (size_t)(colon - cursor) : 0;
    if (colon == NULL || nd == 0 || nd > 20 || strlen(colon + 1) != 16 ||
        strspn(colon + 1, "0123456789abcdef") != 16 ||
        strspn(cursor, "0123456789") != nd)
        goto bad;
    for (size_t i = 0; i < nd; i++) {
        if (v > (UINT64_MAX - 9) / 10)
            goto bad;
        v = v * 10 + (uint64_t)(cursor[i] - '0');
    }
    rc = ldg_event_get(t, v, &ev);
    if (rc == LDG_ENOTFOUND) {
        snprintf(err, errcap,
                 "cursor '%s': the log has no event %llu (is it from "
                 "another ledger?)",
                 cursor, (unsigned long long)v);
        return LDG_ENOTFOUND;
    }
    if (rc < 0) {
        snprintf(err, errcap, "cursor '%s': event %llu: %s", cursor,
                 (unsigned long long)v, ldg_strerror(rc));
        return rc;
    }
    ldg_query_cursor(&ev, want);
    if (strcmp(want, cursor) != 0) {
        snprintf(err, errcap,
                 "cursor '%s' does not match event %llu (now %s): the log "
                 "changed or the cursor is from another ledger",
                 cursor, (unsigned long long)v, want);
        return LDG_EBADINPUT;
    }
    *seq = v;
    return 0;
bad:
    snprintf(err, errcap,
             "cursor '%s' is malformed (expected SEQ:HASH, as printed by "
             "--show-cursor)",
             cursor);
    return LDG_EBADINPUT;
}
