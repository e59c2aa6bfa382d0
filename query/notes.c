/*
 * notes.c — what a query's terms say that only the ledger can check: a
 * run=ID (or run!=ID) naming a run no event carries. The empty answer is
 * true; the note says why, with the nearest run id when one is close (a
 * typo), as the compiler's note on an event type the vocabulary lacks. On
 * a pruned ledger, when the selection reaches before the horizon, the
 * caller's word on where the pruned events went says it already: a note
 * then only when it adds a near name or the glob hint; and a run the
 * runs projection knows whose events were all pruned is said to be so,
 * with the archives that hold them, not answered with a near name.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <stdlib.h>

#include "projections/projections.h"
#include "query/query_int.h"
#include "ledger/module.h"
#include "util/util.h"

/* run ids looked at for a suggestion, at most: a bound on the walk, not
 * on what is said (past it, no suggestion) */
#define NEAR_RUNS_MAX 100000

static int
found_one(void *ctx, uint64_t seq)
{
    (void)seq;
    *(int *)ctx = 1;
    return 1;
}

struct nearest {
    const char *want;
    char best[LDG_RUN_MAX + 1];
    size_t dist, seen, limit;
};

static int
nearer(void *ctx, const char *value)
{
    struct nearest *n = ctx;
    size_t d = ldg_edit_distance(n->want, value);
    if (d < n->dist && d < n->limit) {
        n->dist = d;
        snprintf(n->best, sizeof n->best, "%s", value);
    }
    return ++n->seen >= NEAR_RUNS_MAX;
}

/* A run the runs projection knows whose events a prune removed, all of
 * them (no kept event carries it): its note into b, naming the archives
 * that hold them (issue 63: it suggested another run's name). 1 when
 * said, 0 when run is not such a run. */
static int
note_pruned_run(struct ldg_txn *t, const char *run, uint64_t horizon,
                struct ldg_buf *b)
{
    struct ldg_view_opts vo;
    json_t *rows = NULL, *arch = NULL;
    const char *f, *last;
    char names[2048];
    int whole = 0, said = 0;

    memset(&vo, 0, sizeof vo);
    vo.filter = run;
    if (ldg_projections_view(ldg_txn_ledger(t), LDG_VIEW_RUNS, &vo, &rows) <
            0 ||
        (f = json_string_value(
             json_object_get(json_array_get(rows, 0), "first_seq"))) == NULL ||
        strtoull(f, NULL, 10) >= horizon) {
        ldg_set_errmsg(ldg_txn_ledger(t), "%s", "");
        goto out;
    }
    last =
        json_string_value(json_object_get(json_array_get(rows, 0), "last_seq"));
    if (b->s != NULL && b->len > 0)
        ldg_buf_puts(b, "\n");
    ldg_buf_printf(b,
                   "run '%s': its events (%s..%s) are all before the horizon",
                   run, f, last ? last : "?");
    if (ldg_query_pruned_archives(t, strtoull(f, NULL, 10), horizon, &arch,
                                  &whole) == 0 &&
        json_array_size(arch) > 0) {
        ldg_query_pruned_archives_text(arch, whole, names, sizeof names);
        ldg_buf_printf(b,
                       ", pruned into %s (`" LDG_CMD_QUERY_BUNDLE
                       " run=%s` reads each)",
                       names, "FILE", run);
    } else {
        ldg_buf_printf(b, ", pruned (events before %llu)",
                       (unsigned long long)horizon);
    }
    said = 1;
out:
    json_decref(arch);
    json_decref(rows);
    return said;
}

/* One run value: its note into b when no event carries it. said: the
 * caller says the selection reaches before the horizon (where the pruned
 * events went), so a bare "not among the kept events" would repeat it:
 * only a near name or the glob hint is worth a note then. */
static int
note_run(struct ldg_txn *t, const char *run, uint64_t horizon, int said,
         struct ldg_buf *b)
{
    struct nearest n;
    int found = 0, rc;

    rc = ldg_index_walk(t, LDG_INDEX_RUN, run, 0, UINT64_MAX, 0, found_one,
                        &found);
    if (rc < 0 || found)
        return rc;
    if (horizon > 0 && note_pruned_run(t, run, horizon, b))
        return b->err;
    memset(&n, 0, sizeof n);
    n.want = run;
    n.dist = 3;            /* a near name: at most 2 edits away, */
    n.limit = strlen(run); /* and fewer than its length ("r9" is not "ab") */
    if ((rc = ldg_index_values(t, LDG_INDEX_RUN, "", 0, nearer, &n)) < 0)
        return rc;
    if (said && n.best[0] == '\0' && strpbrk(run, "*?[") == NULL)
        return 0;
    if (b->s != NULL && b->len > 0)
        ldg_buf_puts(b, "\n");
    ldg_buf_printf(b, "no run named '%s' %s", run,
                   horizon > 0 ? "among the kept events" : "in this ledger");
    if (horizon > 0 && !said)
        ldg_buf_printf(b, " (events before %llu were pruned)",
                       (unsigned long long)horizon);
    if (n.best[0] != '\0')
        ldg_buf_printf(b, " (did you mean %s?)", n.best);
    if (strpbrk(run, "*?[") != NULL) /* a glob elsewhere, not here */
        ldg_buf_puts(b, " (run= compares exactly: it takes no glob)");
    return b->err;
}

int
ldg_query_run_notes(const struct ldg_query *q, struct ldg_txn *t, char **out)
{
    struct ldg_horizon h;
    struct ldg_buf b;
    uint64_t horizon = 0;
    int rc = 0, pruned_said = 0;

    if (out == NULL)
        return LDG_EINVAL;
    *out = NULL;
    if (q == NULL || t == NULL)
        return LDG_EINVAL;
    memset(&h, 0, sizeof h);
    if (ldg_horizon_get(t, &h) == 0)
        horizon = h.seq;
    ldg_horizon_release(&h);
    if (horizon > 0) { /* does the selection reach the pruned events? */
        struct ldg_query_iter *it = NULL;
        struct ldg_query_stats st;
        /* (not known: the note is given whole, which is still true) */
        if (ldg_query_iter_new(&it, q, t, 0) == 0) {
            ldg_query_iter_stats(it, &st);
            pruned_said = st.reached_pruned;
        }
        ldg_query_iter_free(it);
    }
    ldg_buf_init(&b, 64 * 1024);
    for (size_t g = 0; rc == 0 && g < q->ng; g++)
        for (size_t i = 0; rc == 0 && i < q->g[g].n; i++) {
            const struct qpred *p = &q->g[g].p[i];
            if (p->f != QF_RUN)
                continue;
            for (size_t k = 0; rc == 0 && k < p->nv; k++) {
                const char *run = p->v[k].s;
                char said[LDG_RUN_MAX + 20];
                if (run[0] == '\0' || p->v[k].glob)
                    continue; /* "run=": events of no run */
                /* a run named in several groups (--deps) is said once */
                snprintf(said, sizeof said, "'%s' ", run);
                if (b.s != NULL && strstr(b.s, said) != NULL)
                    continue;
                rc = note_run(t, run, horizon, pruned_said, &b);
            }
        }
    if (rc == 0 && b.len > 0 && (*out = ldg_buf_detach(&b, NULL)) == NULL)
        rc = LDG_ENOMEM;
    ldg_buf_release(&b);
    return rc;
}
