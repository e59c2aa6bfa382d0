/*
 * iter.c — the query planner and the streaming iterator.
 *
 * Every candidate source is a stream of strictly increasing sequence
 * numbers (decreasing when reversed), clipped to a window [lo, hi]:
 *
 *   S_INDEX    one value's events in the run / subject / type / actor
 *              index (ldg_seqscan_index: already in seq order)
 *   S_BODIES   the stored bodies in seq order (ldg_seqscan_bodies),
 *              skipping records whose bytes cannot satisfy a body
 *              predicate (see match.c)
 *   S_ENTRIES  every seq of the window (the log has no gaps)
 *
 * The window is the intersection of the time range (ldg_time_window: two
 * lookups in the time index), the restriction of ldg_query_restrict, the
 * log's size and the group's seq= terms.
 *
 * Planning, per OR group, the first that applies:
 *   run=      one S_INDEX per value on idx.run
 *   subject=  one per value on idx.subject (a glob is expanded into the
 *             distinct subjects it matches, by skipping through the index)
 *   type=     likewise on idx.type
 *   actor=    one per resolved key id on idx.actor
 *   body.X=   one S_INDEX per value on the body index (ix.body) when it
 *             answers for X and each value (ldg_bix_usable; a value that
 *             reads as a number, true, false or null excluded), else
 *             one S_BODIES with X's prefilter
 *   pack=/model=/route=   S_INDEX on idx.subject "kind:V" for each value
 *             (a glob expanded as for subject=), plus one S_BODIES with
 *             the predicate's prefilter
 *   else      one S_ENTRIES over the window
 * The sources of all groups go into one binary heap keyed by their current
 * seq; the iterator pops the smallest, drops duplicates, decodes the event
 * (through one ldg_reader, whose cursors follow the scan) and tests the
 * whole query on it (so a source only has to cover its group's matches,
 * never to be exact). Memory is one cursor per source. How the events
 * are stored is the core's business (ledger/module.h, "fast scans").
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "query/query_int.h"
#include "ledger/module.h"
#include "util/util.h"

enum src_kind { S_INDEX, S_ENTRIES, S_BODIES };

/* Scans of at least this many events ask for readahead. */
#define SCAN_HINT_EVENTS 65536

/* A forward scan of the bodies over at least this many events has its
 * second half prefiltered by a thread beside it (see struct prescan). */
uint64_t q_iter_prescan_min = 131072;
/* body.F=V may use the body index (tests clear it to compare the scan) */
int q_iter_body_index = 1;
/* candidates a prescan keeps at most (8 bytes each; tests lower it) */
size_t q_iter_prescan_cap = (size_t)1 << 20;

/*
 * The bodies scan of a body term (body.X=V) reads every record of the
 * window through the map and runs the byte prefilter on it: on this
 * PVM guest most of its time goes to touching the pages (each first touch
 * of a page is dear), not to the prefilter. A second thread takes the
 * second half [from, to] in its own read transaction of the same snapshot
 * and keeps the seqs whose record passes the prefilter; the source scans
 * [lo, from) itself, then takes those candidates (by a lookup each, on
 * pages the thread has touched already), then scans on from `reached` if
 * the thread stopped early (its cap of candidates, an error: the source
 * meets the error itself then, and reports it). The same seqs come out,
 * in the same order.
 */
struct prescan {
    pthread_t th;
    struct ldg_txn *t; /* its own, begun and ended by the caller's thread */
    struct ldg_seqscan *sc;
    const struct qpred *bp;
    struct q_pre x; /* this thread's */
    uint64_t from, to;
    uint64_t *seqs; /* candidates, ascending */
    size_t n, cap;
    uint64_t reached; /* every seq < reached was looked at */
    atomic_int stop;
    int joined;
};

struct src {
    enum src_kind kind;
    struct ldg_seqscan *sc; /* S_INDEX, S_BODIES */
    uint64_t lo, hi;
    const struct qpred *bp; /* S_BODIES: the prefilter */
    uint64_t cur;
    const uint8_t *rec; /* S_BODIES: the body record at cur */
    size_t rlen;
    int live; /* positioned at cur (0 once exhausted) */
    /* S_BODIES with a prescan: sc covers [lo, pre->from), sc2 [from, hi];
     * pre_state 1 scanning sc, 2 taking candidates, 3 scanning sc2 on */
    struct prescan *pre;
    struct ldg_seqscan *sc2;
    int pre_state;
    size_t pre_i;
    struct q_pre *x; /* the iterator's */
};

static void *
prescan_run(void *arg)
{
    struct prescan *p = arg;
    uint64_t seq;
    size_t k = 0;

    p->reached = p->from;
    for (;;) {
        const uint8_t *rec;
        size_t len;
        int rc;
        if ((++k & 1023) == 0 && atomic_load(&p->stop))
            break;
        rc = ldg_seqscan_next(p->sc, &seq);
        if (rc == 0)
            p->reached = p->to + 1;
        if (rc <= 0)
            break;
        ldg_seqscan_record(p->sc, &rec, &len);
        if (q_prefilter(p->bp, &p->x, rec, len)) {
            if (p->n == p->cap) {
                size_t nc = p->cap ? p->cap * 2 : 4096;
                uint64_t *ns;
                if (nc > q_iter_prescan_cap ||
                    (ns = realloc(p->seqs, nc * sizeof *ns)) == NULL)
                    break; /* the source scans on from reached */
                p->seqs = ns;
                p->cap = nc;
            }
            LDG_ASSERT(p->n < p->cap);
            p->seqs[p->n++] = seq;
        }
        p->reached = seq + 1;
    }
    return NULL;
}

static void
prescan_join(struct prescan *p)
{
    if (!p->joined) {
        pthread_join(p->th, NULL);
        p->joined = 1;
    }
}

static void
prescan_free(struct prescan *p)
{
    if (p == NULL)
        return;
    atomic_store(&p->stop, 1);
    prescan_join(p);
    ldg_seqscan_free(p->sc);
    ldg_txn_abort(p->t);
    q_pre_release(&p->x);
    free(p->seqs);
    free(p);
}

struct ldg_query_iter {
    const struct ldg_query *q;
    struct ldg_txn *t;
    /* a pruned ledger: its first event, and where the query's window
     * (seq bounds and time) would begin were nothing pruned, as far as the
     * window before the groups' own seq= terms says (reach_lo) */
    uint64_t hz, reach_lo;
    int reverse;
    struct ldg_reader *rd; /* events and body records by seq */
    int seq_hint;          /* ldg_access_hint(SEQUENTIAL) given */
    int keep_hint;         /* LDG_QUERY_KEEP_HINT: left at free */
    /* the stored body record of the event returned last: 1 at rec, -1
     * erased, 0 not looked up yet */
    int rec_state;
    const uint8_t *rec;
    size_t rlen;
    uint64_t last_seq;
    struct src *s;
    size_t ns, scap;
    size_t *heap;
    size_t nheap;
    char ****actor_ids; /* [group][actor pred] -> NULL-terminated ids */
    struct q_names names;
    struct ldg_query_stats st;
    uint64_t size;     /* of the log in t */
    json_t *last_body; /* decoded while matching the last event returned */
    int last_state;    /* 1 decoded, -1 erased, 0 not looked at */
    struct q_pre x;    /* the prefilter's, on the iterator's thread */
    /* ldg_query_iter_window: ends after win_max examined (0: no count)
     * or at win_end_ns (0: no time); pos the last examined (have_pos) */
    uint64_t win_max, win_from, win_end_ns, pos;
    int have_pos;
    int grep_failed; /* event_matches' error came from --grep */
};

/* ------------------------------------------------------------- sources -- */

/* Moves s to its next candidate: 1 if s has a current seq, 0 if
 * exhausted, <0 on error. */
static int
src_step(struct src *s, int reverse, int first)
{
    uint64_t seq;
    int rc;

    s->live = 0;
    if (s->kind == S_ENTRIES) {
        if (s->lo > s->hi)
            return 0;
        if (first)
            seq = reverse ? s->hi : s->lo;
        else if (reverse ? s->cur <= s->lo : s->cur >= s->hi)
            return 0;
        else
            seq = reverse ? s->cur - 1 : s->cur + 1;
        s->cur = seq;
        s->live = 1;
        LDG_ASSERT(s->cur >= s->lo && s->cur <= s->hi); /* within its range */
        return 1;
    }
    for (;;) {
        struct ldg_seqscan *sc = s->sc;
        if (s->pre_state == 2) { /* the prescan's candidates */
            if (s->pre_i < s->pre->n) {
                ldg_seqscan_skip(s->sc2, s->pre->seqs[s->pre_i++]);
            } else {
                s->pre_state = 3;
                if (s->pre->reached > s->hi)
                    return 0;
                ldg_seqscan_skip(s->sc2, s->pre->reached);
            }
        }
        if (s->pre_state >= 2)
            sc = s->sc2;
        rc = ldg_seqscan_next(sc, &seq);
        if (rc == 0 && s->pre_state == 1) { /* on to the second half */
            prescan_join(s->pre);
            s->pre_state = 2;
            continue;
        }
        if (rc <= 0)
            return rc;
        if (s->kind == S_BODIES) {
            ldg_seqscan_record(sc, &s->rec, &s->rlen);
            if (!q_prefilter(s->bp, s->x, s->rec, s->rlen))
                continue;
        }
        s->cur = seq;
        s->live = 1;
        return 1;
    }
}

static int
src_start(struct src *s, int reverse)
{
    return src_step(s, reverse, 1);
}

static int
src_advance(struct src *s, int reverse)
{
    return src_step(s, reverse, 0);
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
add_src(struct ldg_query_iter *it, enum src_kind kind, uint64_t lo, uint64_t hi)
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
    LDG_ASSERT(it->ns < it->scap);
    s = &it->s[it->ns];
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->lo = lo;
    s->hi = hi;
    it->ns++;
    return s;
}

static int
add_index_src(struct ldg_query_iter *it, enum ldg_index which,
              const char *value, uint64_t lo, uint64_t hi)
{
    struct src *s;
    if (strlen(value) > Q_VALUE_MAX)
        return LDG_EINVAL;
    s = add_src(it, S_INDEX, lo, hi);
    if (s == NULL)
        return LDG_ENOMEM;
    return ldg_seqscan_index(&s->sc, it->t, which, value, lo, hi, it->reverse);
}

struct glob_ctx {
    const struct qvalue *v;
    size_t max;
    char ***out;
    size_t *nout;
};

static int
glob_value(void *ctx, const char *name)
{
    struct glob_ctx *g = ctx;
    char **na;
    if (!q_str_match(g->v, name))
        return 0;
    if (*g->nout >= g->max)
        return 1;
    na = realloc(*g->out, (*g->nout + 1) * sizeof *na);
    if (na == NULL)
        return LDG_ENOMEM;
    *g->out = na;
    if ((na[*g->nout] = strdup(name)) == NULL)
        return LDG_ENOMEM;
    (*g->nout)++;
    return 0;
}

/* Lists the distinct values of an index that glob value v matches (those
 * starting with its literal prefix, one index seek each). 1 past max
 * values. */
static int
expand_glob(struct ldg_query_iter *it, enum ldg_index which,
            const struct qvalue *v, size_t max, char ***out, size_t *nout)
{
    struct glob_ctx g = {v, max, out, nout};
    return ldg_index_values(it->t, which, v->s, v->prefix, glob_value, &g);
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
plan_index(struct ldg_query_iter *it, const struct qpred *p,
           enum ldg_index which, uint64_t lo, uint64_t hi)
{
    char **vals = NULL;
    size_t nvals = 0, base = it->ns;
    int rc = 0;

    for (size_t i = 0; i < p->nv; i++) {
        if (p->f == QF_RUN && p->v[i].s[0] == '\0')
            goto no; /* events without a run are not in idx.run */
        if (p->v[i].glob) {
            rc = expand_glob(it, which, &p->v[i], Q_SOURCES_MAX - it->ns, &vals,
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
        if ((rc = add_index_src(it, which, vals[i], lo, hi)) < 0)
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
            ldg_seqscan_free(it->s[it->ns].sc);
        }
    }
    return rc;
}

static int
plan_ids(struct ldg_query_iter *it, char *const *ids, uint64_t lo, uint64_t hi)
{
    size_t n = 0;
    int rc;
    while (ids[n] != NULL)
        n++;
    if (it->ns + n > Q_SOURCES_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((rc = add_index_src(it, LDG_INDEX_ACTOR, ids[i], lo, hi)) < 0)
            return rc;
    return 1;
}

static void prescan_start(struct ldg_query_iter *it, struct src *s);

/* body.NAME=V: one source per value on the body index, when it answers
 * for NAME and every value (ldg_bix_usable: an indexed field, a value it
 * keeps, the index current) and each value can only match a string (one
 * that reads as a number, true, false or null may match a value of that
 * type, which the index does not hold). 1 done, 0 not (nothing added),
 * < 0 error. */
static int
plan_body_index(struct ldg_query_iter *it, const struct qpred *p, uint64_t lo,
                uint64_t hi)
{
    size_t base = it->ns;
    int rc;

    if (!q_iter_body_index || p->npath != 1 || it->ns + p->nv > Q_SOURCES_MAX)
        return 0;
    for (size_t i = 0; i < p->nv; i++) {
        const struct qvalue *v = &p->v[i];
        if (v->glob || v->is_int || v->is_num || strcmp(v->s, "true") == 0 ||
            strcmp(v->s, "false") == 0 || strcmp(v->s, "null") == 0)
            return 0;
        if ((rc = ldg_bix_usable(it->t, p->name, v->s)) <= 0)
            return rc;
    }
    for (size_t i = 0; i < p->nv; i++) {
        struct src *s = add_src(it, S_INDEX, lo, hi);
        if (s == NULL) {
            rc = LDG_ENOMEM;
            goto undo;
        }
        rc = ldg_seqscan_body_index(&s->sc, it->t, p->name, p->v[i].s, lo, hi,
                                    it->reverse);
        if (rc < 0)
            goto undo;
    }
    return 1;
undo:
    while (it->ns > base) {
        it->ns--;
        ldg_seqscan_free(it->s[it->ns].sc);
    }
    return rc;
}

/* pack=/model=/route=: an index source on idx.subject for "kind:V" of each
 * value, a glob expanded into the subjects it matches. 1 done, 0 too many
 * sources (nothing added), < 0 error. */
static int
plan_kind_subjects(struct ldg_query_iter *it, const struct qpred *p,
                   const char *kind, uint64_t lo, uint64_t hi)
{
    struct qpred kp;
    struct qvalue *kv;
    size_t kl = strlen(kind);
    int rc;

    kv = calloc(p->nv, sizeof *kv);
    if (kv == NULL)
        return LDG_ENOMEM;
    memset(&kp, 0, sizeof kp);
    kp.f = QF_SUBJECT;
    kp.v = kv;
    kp.nv = p->nv;
    rc = 0;
    for (size_t j = 0; j < p->nv && rc == 0; j++) {
        size_t n = kl + strlen(p->v[j].s) + 1;
        if ((kv[j].s = malloc(n)) == NULL) {
            rc = LDG_ENOMEM;
            break;
        }
        snprintf(kv[j].s, n, "%s%s", kind, p->v[j].s);
        kv[j].glob = p->v[j].glob;
        kv[j].prefix = kl + p->v[j].prefix;
    }
    if (rc == 0)
        rc = plan_index(it, &kp, LDG_INDEX_SUBJECT, lo, hi);
    for (size_t j = 0; j < p->nv; j++)
        free(kv[j].s);
    free(kv);
    return rc;
}

static int
add_scan(struct ldg_query_iter *it, enum src_kind kind, const struct qpred *bp,
         uint64_t lo, uint64_t hi)
{
    struct src *s = add_src(it, kind, lo, hi);
    if (s == NULL)
        return LDG_ENOMEM;
    s->bp = bp;
    s->x = &it->x;
    if (kind == S_ENTRIES)
        return 0;
    prescan_start(it, s);
    return ldg_seqscan_bodies(
        &s->sc, it->t, lo, s->pre != NULL ? s->pre->from - 1 : hi, it->reverse);
}

/* Starts a prescan of the second half of s's window when it is worth it
 * (a long forward scan, a second CPU) and possible (a read transaction of
 * the same snapshot, a thread); nothing changes otherwise. */
static void
prescan_start(struct ldg_query_iter *it, struct src *s)
{
    struct prescan *p;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);

    if (it->reverse || s->hi < s->lo || s->hi - s->lo < q_iter_prescan_min ||
        cpus < 2 || (p = calloc(1, sizeof *p)) == NULL)
        return;
    p->bp = s->bp;
    p->x = it->x;
    memset(&p->x.s, 0, sizeof p->x.s); /* its own scratch */
    p->from = s->lo + (s->hi - s->lo) / 2 + 1;
    p->to = s->hi;
    atomic_init(&p->stop, 0);
    if (ldg_txn_begin(ldg_txn_ledger(it->t), LDG_TXN_READ, &p->t) < 0 ||
        ldg_txn_snapshot(p->t) != ldg_txn_snapshot(it->t) ||
        ldg_seqscan_bodies(&p->sc, p->t, p->from, p->to, 0) < 0 ||
        ldg_seqscan_bodies(&s->sc2, it->t, p->from, p->to, 0) < 0 ||
        pthread_create(&p->th, NULL, prescan_run, p) != 0) {
        ldg_seqscan_free(s->sc2);
        s->sc2 = NULL;
        ldg_seqscan_free(p->sc);
        ldg_txn_abort(p->t);
        free(p);
        return;
    }
    s->pre = p;
    s->pre_state = 1;
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
        enum ldg_index which;
    } order[] = {{QF_RUN, LDG_INDEX_RUN},
                 {QF_SUBJECT, LDG_INDEX_SUBJECT},
                 {QF_TYPE, LDG_INDEX_TYPE}};
    size_t actor_i = 0;
    uint64_t reach = it->reach_lo;
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
            if (l > reach)
                reach = l;
            if (h < hi)
                hi = h;
        }
    }
    /* a pruned ledger: does this group reach before the horizon? */
    if (reach < it->hz && reach <= hi) {
        it->st.reached_pruned = 1;
        if (lo < it->hz)
            lo = it->hz;
    }
    if (lo > hi) {
        plan_note(it, "empty");
        return 0;
    }
    for (size_t o = 0; o < sizeof order / sizeof order[0]; o++) {
        for (size_t i = 0; i < g->n; i++) {
            if (g->p[i].f != order[o].f || g->p[i].neg)
                continue;
            rc = plan_index(it, &g->p[i], order[o].which, lo, hi);
            if (rc != 0) {
                if (rc > 0)
                    plan_note(it, ldg_index_name(it->t, order[o].which));
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
                plan_note(it, ldg_index_name(it->t, LDG_INDEX_ACTOR));
            return rc < 0 ? rc : 0;
        }
    }
    for (size_t i = 0; i < g->n; i++) {
        if (g->p[i].f == QF_BODY && !g->p[i].neg) {
            rc = plan_body_index(it, &g->p[i], lo, hi);
            if (rc != 0) {
                if (rc > 0)
                    plan_note(it, "ix.body");
                return rc < 0 ? rc : 0;
            }
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
            if (it->ns + p->nv + 1 > Q_SOURCES_MAX)
                break;
            rc = plan_kind_subjects(it, p, kind, lo, hi);
            if (rc < 0)
                return rc;
            if (rc == 0)
                break; /* too many subjects: the entries, below */
            char note[64];
            snprintf(note, sizeof note, "%s+bodies+prefilter",
                     ldg_index_name(it->t, LDG_INDEX_SUBJECT));
            plan_note(it, note);
            return add_scan(it, S_BODIES, p, lo, hi);
        }
    }
    plan_note(it, lo == 0 && hi >= it->size - 1 ? "entries" : "entries(range)");
    return add_scan(it, S_ENTRIES, NULL, lo, hi);
}

/* ---------------------------------------------------------- time window -- */

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
        if (it->actor_ids[gi] == NULL) {
            rc = LDG_ENOMEM;
            break;
        }
        for (size_t i = 0; i < g->n && rc == 0; i++) {
            const struct qpred *p = &g->p[i];
            char **ids;
            size_t n = 0, cap = 0;
            if (p->f != QF_ACTOR)
                continue;
            /* room for every id asked for: a name may name any number of
             * keys (one a rotation), and none is dropped */
            for (size_t j = 0; j < p->nv && rc == 0; j++) {
                if (is_keyid(p->v[j].s)) {
                    cap++;
                    continue;
                }
                if (!have_keys) {
                    rc = ldg_keys_list(ldg_txn_ledger(it->t), &keys, &nkeys);
                    if (rc < 0)
                        break;
                    have_keys = 1;
                }
                for (size_t k = 0; k < nkeys; k++)
                    cap += strcmp(keys[k].name, p->v[j].s) == 0;
            }
            if (rc < 0)
                break;
            if ((ids = calloc(cap + 1, sizeof *ids)) == NULL) {
                rc = LDG_ENOMEM;
                break;
            }
            it->actor_ids[gi][ai++] = ids;
            for (size_t j = 0; j < p->nv && rc == 0; j++) {
                int found = 0;
                if (is_keyid(p->v[j].s)) {
                    ids[n++] = strdup(p->v[j].s);
                    continue;
                }
                for (size_t k = 0; k < nkeys; k++) {
                    if (strcmp(keys[k].name, p->v[j].s) == 0) {
                        ids[n++] = strdup(keys[k].key_id);
                        found = 1;
                    }
                }
                if (!found) {
                    ldg_set_errmsg(ldg_txn_ledger(it->t),
                                   "actor '%s': no key of that name or id "
                                   "(see " LDG_CMD_KEYS_LIST ")",
                                   p->v[j].s);
                    rc = LDG_EBADINPUT;
                }
            }
            LDG_ASSERT(n <= cap);
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
        prescan_free(it->s[i].pre);
        ldg_seqscan_free(it->s[i].sc);
        ldg_seqscan_free(it->s[i].sc2);
    }
    free(it->s);
    free(it->heap);
    ldg_reader_free(it->rd);
    if (it->seq_hint && !it->keep_hint)
        ldg_access_hint(ldg_txn_ledger(it->t), LDG_ACCESS_RANDOM);
    free_actors(it);
    free(it->names.v);
    json_decref(it->last_body);
    q_pre_release(&it->x);
    free(it);
}

int
ldg_query_iter_new(struct ldg_query_iter **out, const struct ldg_query *q,
                   struct ldg_txn *t, unsigned flags)
{
    struct ldg_query_iter *it;
    uint64_t size, lo, hi, hz_ts = 0;
    int rc;

    if (out == NULL || q == NULL || t == NULL ||
        (flags & ~(unsigned)(LDG_QUERY_REVERSE | LDG_QUERY_KEEP_HINT)) != 0)
        return LDG_EINVAL;
    *out = NULL;
    it = calloc(1, sizeof *it);
    if (it == NULL)
        return LDG_ENOMEM;
    it->q = q;
    it->t = t;
    q_pre_init(&it->x, t);
    it->reverse = (flags & LDG_QUERY_REVERSE) != 0;
    it->keep_hint = (flags & LDG_QUERY_KEEP_HINT) != 0;
    if ((rc = ldg_txn_size(t, &size)) < 0 || (rc = resolve_actors(it)) < 0 ||
        (rc = ldg_reader_new(&it->rd, t)) < 0)
        goto fail;
    it->size = size;
    it->st.seq_lo = 1;
    it->st.seq_hi = 0;
    if (size == 0)
        goto done;
    lo = 0;
    hi = size - 1;
    /* a pruned ledger: the window's part before the horizon is gone, and
     * the caller says so. A time window is searched from the horizon on:
     * it reaches before it when it starts at or before the last pruned
     * event's time (hz_ts), even when none of it is kept. */
    {
        struct ldg_horizon h;
        rc = ldg_horizon_get(t, &h);
        if (rc < 0 && rc != LDG_ENOTFOUND)
            goto fail;
        if (rc == 0) {
            it->hz = it->st.horizon = h.seq;
            hz_ts = h.ts_ns;
            ldg_horizon_release(&h);
        }
    }
    rc = ldg_time_window(t, q->since_ns, q->until_ns, &lo, &hi);
    if (rc < 0)
        goto fail;
    if (rc == 1) {
        /* nothing kept in the window: all of it pruned when it reaches
         * before the horizon by time and by seq */
        if (it->hz > 0 && q->since_ns <= hz_ts && q->seq_lo < it->hz &&
            q->seq_lo <= q->seq_hi)
            it->st.all_pruned = it->st.reached_pruned = 1;
        goto done;
    }
    if (q->seq_lo > lo)
        lo = q->seq_lo;
    if (q->seq_hi < hi)
        hi = q->seq_hi;
    if (lo > hi)
        goto done;
    {
        it->reach_lo = lo;
        if (it->hz > 0) {
            if (q->since_ns > 0 && q->since_ns <= hz_ts)
                it->reach_lo = q->seq_lo;
            if (lo < it->hz)
                lo = it->hz;
        }
        rc = 0;
        if (q->ng == 0 && it->reach_lo < it->hz)
            it->st.reached_pruned = 1;
        if (lo > hi) {
            it->st.all_pruned = it->st.reached_pruned = it->reach_lo < it->hz;
            goto done;
        }
    }
    it->st.seq_lo = lo;
    it->st.seq_hi = hi;
    if (q->ng == 0) {
        plan_note(it, lo == 0 && hi == size - 1 ? "entries" : "entries(range)");
        rc = add_scan(it, S_ENTRIES, NULL, lo, hi);
    } else {
        rc = 0;
        for (size_t gi = 0; gi < q->ng && rc == 0; gi++)
            rc = plan_group(it, gi, lo, hi);
        /* every group's window lay before the horizon */
        if (it->st.reached_pruned && it->ns == 0)
            it->st.all_pruned = 1;
    }
    if (rc < 0)
        goto fail;
    /* a scan over much of the log: let the kernel read ahead (the map is
     * random-access otherwise, and a cold scan would read page by page) */
    for (size_t i = 0; i < it->ns && !it->seq_hint; i++) {
        if ((flags & LDG_QUERY_KEEP_HINT) && q->hinted)
            break; /* a window before this one gave them */
        if (it->s[i].kind != S_INDEX &&
            it->s[i].hi - it->s[i].lo >= SCAN_HINT_EVENTS) {
            if (flags & LDG_QUERY_KEEP_HINT)
                ((struct ldg_query *)(uintptr_t)q)->hinted = 1;
            ldg_access_hint(ldg_txn_ledger(t), LDG_ACCESS_SEQUENTIAL);
            it->seq_hint = 1;
            /* a time window: its stretch of the file read in ahead when
             * it is cold */
            if (it->s[i].kind == S_ENTRIES && !it->reverse)
                ldg_reader_readahead(it->rd, it->s[i].lo, it->s[i].hi);
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
    if (it->st.plan[0] == '\0') /* nothing in the window: no source */
        plan_note(it, "empty");
    *out = it;
    return 0;
fail:
    ldg_query_iter_free(it);
    return rc;
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
    qbody_init(&b, it->t, it->rd, ev->seq);
    b.pre = &it->x;
    if (it->rec_state != 0) { /* the bodies scan read it already */
        b.have_raw = it->rec_state;
        b.raw = it->rec;
        b.raw_len = it->rlen;
    }
    for (size_t gi = 0; gi < q->ng; gi++) {
        m = q_group_match(&q->g[gi], ev, &b,
                          (char *const *const *)it->actor_ids[gi]);
        if (m != 0)
            break;
    }
    if (m == 1 && q->nre > 0) {
        m = q_grep(q, ev, &b, q_key_name(&it->names, it->t, ev->actor));
        it->grep_failed = m < 0;
    }
    if (m == 1 && b.have_json != 0) { /* keep it for the caller */
        it->last_body = b.json;
        it->last_state = b.have_json;
        b.json = NULL;
    }
    if (m == 1 && it->rec_state == 0 && b.have_raw != 0) {
        it->rec_state = b.have_raw;
        it->rec = b.raw;
        it->rlen = b.raw_len;
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
        int rc, m;

        if (it->win_max != 0 || it->win_end_ns != 0) {
            uint64_t done = it->st.examined - it->win_from;
            if ((it->win_max != 0 && done >= it->win_max) ||
                (it->win_end_ns != 0 && done % 64 == 63 &&
                 ldg_now_mono_ns() >= it->win_end_ns))
                return LDG_QUERY_WINDOW_END;
        }

        it->rec_state = 0;
        if (s->kind == S_BODIES) { /* the body record is at hand */
            it->rec_state = 1;
            it->rec = s->rec;
            it->rlen = s->rlen;
        }
        /* Display path: trust the stored bytes (ledger verify is where
         * they are checked); the reader's cursors follow the scan. */
        rc = ldg_reader_event(it->rd, seq, ev);
        if (rc < 0) {
            ldg_set_errmsg(
                ldg_txn_ledger(it->t),
                "event %llu: %s (found through %s; run " LDG_CMD_VERIFY ")",
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
        it->st.examined++;
        it->pos = seq;
        it->have_pos = 1;
        m = event_matches(it, ev);
        if (m < 0) {
            ldg_set_errmsg(ldg_txn_ledger(it->t), "event %llu: %s%s",
                           (unsigned long long)seq,
                           it->grep_failed ? LDG_OPT_GREP ": " : "",
                           it->grep_failed && m == LDG_ETOOBIG
                               ? LDG_QUERY_GREP_LIMIT
                               : ldg_strerror(m));
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
        int rc = ldg_reader_body(it->rd, it->last_seq, &it->rec, &it->rlen);
        if (rc == LDG_EERASED)
            it->rec_state = -1;
        else if (rc < 0)
            return rc;
        else
            it->rec_state = 1;
    }
    if (it->rec_state < 0)
        return LDG_EERASED;
    *rec = it->rec;
    *len = it->rlen;
    return 0;
}

void
ldg_query_iter_window(struct ldg_query_iter *it, uint64_t max_events,
                      uint64_t max_ms)
{
    it->win_max = max_events;
    it->win_from = it->st.examined;
    it->win_end_ns = max_ms ? ldg_now_mono_ns() + max_ms * 1000000u : 0;
}

void
ldg_query_release_hint(struct ldg_query *q, struct ldg_ledger *l)
{
    if (q == NULL || !q->hinted)
        return;
    ldg_access_hint(l, LDG_ACCESS_RANDOM);
    q->hinted = 0;
}

int
ldg_query_iter_position(const struct ldg_query_iter *it, uint64_t *seq)
{
    if (!it->have_pos)
        return 0;
    *seq = it->pos;
    return 1;
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
q_iter_skip_leaf(struct ldg_query_iter *it)
{
    ldg_reader_want_leaf(it->rd, 0);
}

void
q_iter_skip_digest(struct ldg_query_iter *it)
{
    ldg_reader_want_digest(it->rd, 0);
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
    if (rc == LDG_EPRUNED) {
        struct ldg_horizon h;
        uint64_t first = 0;
        if (ldg_horizon_get(t, &h) == 0) {
            first = h.seq;
            ldg_horizon_release(&h);
        }
        snprintf(err, errcap,
                 "cursor '%s': event %llu was pruned (the ledger keeps "
                 "events from %llu on): continue with seq=%llu..",
                 cursor, (unsigned long long)v, (unsigned long long)first,
                 (unsigned long long)first);
        return rc;
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
             "cursor '%s' is malformed (expected SEQ:HASH, as printed "
             "by " LDG_OPT_SHOW_CURSOR ")",
             cursor);
    return LDG_EINVAL;
}
