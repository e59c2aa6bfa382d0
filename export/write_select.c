/*
 * write_select.c — which events go into the bundle: the selection, the
 * support events (genesis, key events, erasures) and the actor keys they
 * need (`ledger export`; the flow is in write.c, the shared context in
 * write_int.h).
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

/* ------------------------------------------------------------ helpers -- */

static int
push_sel(struct ex *x, uint64_t seq, unsigned role)
{
    if (x->nev == x->capev) {
        size_t cap = x->capev ? x->capev * 2 : 256;
        struct sel *n = realloc(x->ev, cap * sizeof *n);
        if (n == NULL)
            return LDG_ENOMEM;
        x->ev = n;
        x->capev = cap;
    }
    LDG_ASSERT(x->nev < x->capev);
    x->ev[x->nev].seq = seq;
    x->ev[x->nev].role = role;
    x->ev[x->nev].erased_by = UINT64_MAX;
    x->nev++;
    return 0;
}

static int
cmp_sel(const void *a, const void *b)
{
    const struct sel *x = a, *y = b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Sorts the list and merges duplicates (their roles OR together). */
static void
sort_sel(struct ex *x)
{
    size_t j = 0;
    qsort(x->ev, x->nev, sizeof *x->ev, cmp_sel);
    for (size_t i = 0; i < x->nev; i++) {
        if (j > 0 && x->ev[j - 1].seq == x->ev[i].seq) {
            x->ev[j - 1].role |= x->ev[i].role;
            if (x->ev[i].erased_by != UINT64_MAX)
                x->ev[j - 1].erased_by = x->ev[i].erased_by;
        } else {
            LDG_ASSERT(j == 0 || x->ev[j - 1].seq < x->ev[i].seq);
            x->ev[j++] = x->ev[i];
        }
    }
    x->nev = j;
}

/* Index of the first key whose id is >= id (keys are kept sorted). */
static size_t
key_pos(const struct ex *x, const char *id)
{
    size_t lo = 0, hi = x->nkeys;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        LDG_ASSERT(lo <= mid && mid < hi);
        if (strcmp(x->keys[mid].id, id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

struct keyent *
ex_find_key(struct ex *x, const char *id)
{
    size_t i = key_pos(x, id);
    return i < x->nkeys && strcmp(x->keys[i].id, id) == 0 ? &x->keys[i] : NULL;
}

/* Remembers an actor key id; looks it up in the log once. */
static int
add_key(struct ex *x, const char *id)
{
    struct keyent k;
    size_t i = key_pos(x, id);
    int rc;

    if (i < x->nkeys && strcmp(x->keys[i].id, id) == 0)
        return 0;
    memset(&k, 0, sizeof k);
    snprintf(k.id, sizeof k.id, "%s", id);
    rc = ldg_key_info(x->win.t, id, &k.ki);
    if (rc < 0) {
        ldg_set_errmsg(x->l,
                       "key %s signs selected events but the log does "
                       "not know it: %s",
                       id, ldg_strerror(rc));
        return rc == LDG_ENOTFOUND ? LDG_ECORRUPT : rc;
    }
    if (x->nkeys == x->capkeys) {
        size_t cap = x->capkeys ? x->capkeys * 2 : 8;
        struct keyent *n = realloc(x->keys, cap * sizeof *n);
        if (n == NULL)
            return LDG_ENOMEM;
        x->keys = n;
        x->capkeys = cap;
    }
    LDG_ASSERT(i <= x->nkeys && x->nkeys < x->capkeys);
    memmove(&x->keys[i + 1], &x->keys[i], (x->nkeys - i) * sizeof k);
    x->keys[i] = k;
    LDG_ASSERT(i == x->nkeys || strcmp(k.id, x->keys[i + 1].id) < 0);
    x->nkeys++;
    return 0;
}

/* ---------------------------------------------------------- selection -- */

/* A pruned ledger: a selection that reaches before the horizon would
 * leave out what the archive holds without saying so; refused, naming the
 * archive. A run whose first event is after the horizon does not reach
 * it (its record says where it starts). */
static int
refuse_crossing(struct ex *x, struct ldg_query_iter *it)
{
    struct ldg_query_stats st;
    char d[400];

    ldg_query_iter_stats(it, &st);
    if (!st.reached_pruned && !st.all_pruned)
        return 0;
    if (x->o->run != NULL && !st.all_pruned) {
        struct ldg_view_opts vo;
        json_t *rows = NULL;
        uint64_t first = 0;
        int ok;
        memset(&vo, 0, sizeof vo);
        vo.filter = x->o->run;
        ok = ldg_projections_view(x->l, LDG_VIEW_RUNS, &vo, &rows) == 0 &&
             json_array_size(rows) == 1;
        if (ok) {
            const char *f = json_string_value(
                json_object_get(json_array_get(rows, 0), "first_seq"));
            ok = f != NULL && *f >= '0' && *f <= '9' &&
                 (first = strtoull(f, NULL, 10)) >= x->hz.seq;
        }
        json_decref(rows);
        if (ok)
            return 0;
    }
    ldg_horizon_describe(&x->hz, d, sizeof d);
    ldg_set_errmsg(
        x->l,
        "the selection reaches before the ledger's horizon: %s. "
        "Export those from the archive (`" LDG_CMD_VERIFY_BUNDLE
        "`, `" LDG_CMD_QUERY_BUNDLE "`), and from the ledger "
        "select from event %llu on (seq=%llu.. or " LDG_OPT_SINCE_SHORT ")",
        d, "FILE", (unsigned long long)x->hz.seq,
        (unsigned long long)x->hz.seq);
    return LDG_EPRUNED;
}

/* A run's context (opts.run_context): the events its timeline shows
 * beside its own (kind "context": its pack's permission changes, its
 * models' state changes, its routes' evals and promotions, runtime
 * health), read in the export's own snapshot and selected as evidence. */
int
ex_select_context(struct ex *x)
{
    const json_t *tl = x->o->run_timeline;
    json_t *e;
    size_t i;
    int rc;

    if (x->o->run == NULL || !x->o->run_context)
        return 0;
    if (tl == NULL) {
        rc = ldg_query_timeline(x->win.t, x->o->run, &x->run_tl);
        if (rc == LDG_ENOTFOUND) /* no such run: the selection says so */
            return 0;
        if (rc < 0) {
            ldg_set_errmsg(x->l, "the context of run %s: %s", x->o->run,
                           ldg_strerror(rc));
            return rc;
        }
        tl = x->run_tl;
    }
    json_array_foreach(json_object_get(tl, "events"), i, e)
    {
        const char *kind = json_string_value(json_object_get(e, "kind"));
        const char *s = json_string_value(json_object_get(e, "seq"));
        struct ldg_event ev;
        uint64_t seq;
        if (kind == NULL || strcmp(kind, "context") != 0 || s == NULL)
            continue;
        seq = strtoull(s, NULL, 10);
        if (seq >= x->cksize)
            continue; /* after the checkpoint: cannot be proven */
        if (x->rep.selected >= x->max_events) {
            ldg_set_errmsg(x->l,
                           "the selection has more than %llu events; "
                           "narrow it or raise the limit",
                           (unsigned long long)x->max_events);
            return LDG_ETOOBIG;
        }
        if ((rc = ex_window(x, 1)) < 0 ||
            (rc = ldg_event_get(x->win.t, seq, &ev)) < 0 ||
            (rc = push_sel(x, seq, ROLE_SELECTED)) < 0 ||
            (rc = add_key(x, ev.actor)) < 0)
            return rc;
        x->rep.selected++;
        x->rep.context++;
    }
    return 0;
}

/* The selection, a read window at a time (ex_window): each window's
 * iterator goes on after the last event the one before examined, in the
 * new snapshot (the log's events never change once appended; a prune
 * between is caught by ex_window). Whether it reaches before the horizon
 * is the first iterator's finding. */
int
ex_select_events(struct ex *x, struct ldg_query *q)
{
    struct ldg_query_iter *it = NULL;
    struct ldg_event ev;
    uint64_t pos = 0;
    char *cmsg = NULL; /* crossing's message */
    int rc, first = 1, crossing = 0, said = 0;

    for (;;) {
        if ((rc = ldg_query_iter_new(&it, q, x->win.t, LDG_QUERY_KEEP_HINT)) <
            0)
            break;
        /* (said after the selection, as a selection too big says first) */
        if (first && (crossing = refuse_crossing(x, it)) < 0)
            cmsg = strdup(ldg_errmsg(x->l));
        first = 0;
        ldg_query_iter_window(it, EX_WINDOW_EVENTS, EX_WINDOW_MS);
        while ((rc = ldg_query_iter_next(it, &ev)) == 0) {
            if (ev.seq >= x->cksize)
                continue; /* after the checkpoint: cannot be proven */
            if (x->rep.selected >= x->max_events) {
                ldg_set_errmsg(x->l,
                               "the selection has more than %llu events; "
                               "narrow it or raise the limit",
                               (unsigned long long)x->max_events);
                rc = LDG_ETOOBIG;
                break;
            }
            if ((rc = push_sel(x, ev.seq, ROLE_SELECTED)) < 0 ||
                (rc = add_key(x, ev.actor)) < 0)
                break;
            x->rep.selected++;
        }
        if (rc != LDG_QUERY_WINDOW_END || !ldg_query_iter_position(it, &pos) ||
            pos + 1 >= x->cksize)
            break;
        ldg_query_iter_free(it);
        it = NULL;
        /* the window is full: ex_window begins a new one */
        x->win_events = EX_WINDOW_EVENTS;
        if ((rc = ex_window(x, 0)) < 0) {
            said = 1; /* (its message) */
            break;
        }
        ldg_query_restrict(q, pos + 1, x->cksize - 1);
    }
    if (rc == LDG_ENOTFOUND && it != NULL)
        rc = 0; /* the end of the selection */
    else if (rc == LDG_QUERY_WINDOW_END)
        rc = 0; /* a window ended past the checkpoint */
    else if (rc < 0 && rc != LDG_ETOOBIG && !said)
        ldg_set_errmsg(x->l, "selection: %s", ldg_strerror(rc));
    if (rc == 0 && crossing < 0) {
        rc = crossing;
        ldg_set_errmsg(x->l, "%s", cmsg ? cmsg : "");
    }
    free(cmsg);
    ldg_query_iter_free(it);
    ldg_query_release_hint(q, x->l);
    return rc;
}

/* For every selected event whose body was erased, the body.erased event
 * that did it. Uses the query module's type index. */
static int
select_erasures(struct ex *x)
{
    static char term[] = "type=body.erased";
    char *terms[1] = {term};
    struct ldg_query *q = NULL;
    struct ldg_query_iter *it = NULL;
    struct ldg_event ev;
    char err[256];
    size_t nsel = x->nev;
    int rc;

    rc = ldg_query_compile(&q, 1, terms, NULL, NULL, err, sizeof err);
    if (rc == 0)
        rc = ldg_query_iter_new(&it, q, x->win.t, 0);
    while (rc == 0 && (rc = ldg_query_iter_next(it, &ev)) == 0) {
        json_t *body = NULL;
        json_int_t tgt;
        struct sel *s;
        if ((rc = ldg_body_get(x->win.t, ev.seq, &body)) < 0)
            break;
        tgt = json_integer_value(json_object_get(body, "target_seq"));
        json_decref(body);
        /* x->ev[0..nsel) is sorted: only selected events so far */
        {
            struct sel key = {(uint64_t)tgt, 0, 0};
            s = tgt < 0 || nsel == 0
                    ? NULL
                    : bsearch(&key, x->ev, nsel, sizeof *x->ev, cmp_sel);
        }
        if (s == NULL)
            continue;
        if (ev.seq >= x->cksize) {
            /* erased after the checkpoint: not provable in this bundle */
            x->rep.erased_after = ev.seq;
            ldg_set_errmsg(x->l,
                           "event %llu's body was erased by event %llu, "
                           "past the checkpoint of size %llu: a bundle "
                           "against it cannot prove the erasure (export "
                           "against a later checkpoint)",
                           (unsigned long long)tgt, (unsigned long long)ev.seq,
                           (unsigned long long)x->cksize);
            rc = LDG_EERASED;
            break;
        }
        s->erased_by = ev.seq;
        if ((rc = push_sel(x, ev.seq, ROLE_SUPPORT)) < 0)
            break;
        if ((rc = add_key(x, ev.actor)) < 0)
            break;
    }
    if (rc == LDG_ENOTFOUND)
        rc = 0;
    if (rc < 0 && ldg_errmsg(x->l)[0] == '\0')
        ldg_set_errmsg(x->l, "looking for body.erased events: %s",
                       ldg_strerror(rc));
    ldg_query_iter_free(it);
    ldg_query_free(q);
    return rc;
}

/* What the log knew of the weights of the model a selected event names,
 * within the checkpoint's size: 1 with *m filled, 0 for an event about
 * no model (or when the bundle redacts: a model's name could be what was
 * withheld, so no "model_at" and no model support events then). */
int
ex_model_at(struct ex *x, const struct ldg_event *ev, const json_t *body,
            struct ldg_model_at *m, const char **model)
{
    int rc;

    if (x->models == NULL || body == NULL ||
        (*model = ldg_query_model_of(ev->type, body)) == NULL)
        return 0;
    if ((rc = ldg_query_models_at(x->models, *model, ev->seq, m)) < 0)
        return rc;
    if (m->ever_verified && m->verified_seq >= x->cksize)
        m->ever_verified = 0; /* after the bundle's checkpoint */
    return 1;
}

/* Event seq as support, with its signer's key events. */
static int
push_support(struct ex *x, uint64_t seq)
{
    struct ldg_event ev;
    int rc;

    if (seq < x->hz.seq)
        return 0; /* pruned: its archive holds it (format-bundle.md 13) */
    if ((rc = ldg_event_get(x->win.t, seq, &ev)) < 0 ||
        (rc = push_sel(x, seq, ROLE_SUPPORT)) < 0)
        return rc;
    return add_key(x, ev.actor);
}

/* The model.registered (and model.verified) events that back the
 * "model_at" of the selected route decisions, evals and promotions. */
static int
select_model_support(struct ex *x)
{
    size_t nsel = x->nev;
    int rc;

    if (x->o->nredact_fields > 0 || x->o->nredact_types > 0)
        return 0;
    if ((rc = ldg_query_models_new(&x->models, x->win.t)) < 0)
        return rc;
    for (size_t i = 0; i < nsel; i++) {
        struct ldg_event ev;
        struct ldg_model_at m;
        const char *model;
        json_t *body = NULL;
        if (!(x->ev[i].role & ROLE_SELECTED))
            continue;
        if ((rc = ex_window(x, 1)) < 0 ||
            (rc = ldg_event_get(x->win.t, x->ev[i].seq, &ev)) < 0)
            return rc;
        if (strncmp(ev.type, "route.", 6) != 0 &&
            strncmp(ev.type, "eval.", 5) != 0 &&
            strncmp(ev.type, "promotion.", 10) != 0)
            continue;
        rc = ldg_body_get(x->win.t, ev.seq, &body);
        if (rc == LDG_EERASED)
            continue;
        if (rc < 0)
            return rc;
        rc = ex_model_at(x, &ev, body, &m, &model);
        json_decref(body);
        /* m is filled only when ex_model_at says 1 */
        if (rc > 0 && m.known) {
            rc = push_support(x, m.registered_seq);
            if (rc >= 0 && m.ever_verified)
                rc = push_support(x, m.verified_seq);
        }
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* A selected key.revoked or key.anchored names a key whose key.added a
 * verifier checks it against: that key's events come as support too (its
 * key.added; with a key.anchored, its key.revoked after it). */
static int
select_named_keys(struct ex *x)
{
    size_t nsel = x->nev;
    int rc;

    for (size_t i = 0; i < nsel; i++) {
        struct ldg_event ev;
        json_t *body = NULL;
        const char *id;
        if (!(x->ev[i].role & ROLE_SELECTED))
            continue;
        if ((rc = ex_window(x, 1)) < 0 ||
            (rc = ldg_event_get(x->win.t, x->ev[i].seq, &ev)) < 0)
            return rc;
        if (strcmp(ev.type, LDG_EV_KEY_REVOKED) != 0 &&
            strcmp(ev.type, LDG_EV_KEY_ANCHORED) != 0)
            continue;
        if ((rc = ldg_body_get(x->win.t, ev.seq, &body)) < 0)
            return rc == LDG_EERASED ? 0 : rc; /* key events: never erased */
        id = json_string_value(json_object_get(body, "key_id"));
        rc = id != NULL ? add_key(x, id) : 0;
        json_decref(body);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int
ex_select_support(struct ex *x)
{
    const char *logid = ldg_log_key(x->l)->key_id;
    uint64_t last = 0; /* the last event the bundle holds */
    int rc;

    if (x->nev > 0)
        qsort(x->ev, x->nev, sizeof *x->ev, cmp_sel);
    if ((rc = select_erasures(x)) < 0)
        return rc;
    if ((rc = select_model_support(x)) < 0)
        return rc;
    if ((rc = select_named_keys(x)) < 0)
        return rc;
    if ((rc = add_key(x, logid)) < 0)
        return rc;
    /* a pruned ledger: the horizon record (carried) establishes the keys
     * added before it, genesis among them */
    if (x->hz.seq == 0 && (rc = push_sel(x, 0, ROLE_SUPPORT)) < 0) /* genesis */
        return rc;
    for (size_t i = 0; i < x->nkeys; i++) {
        const struct ldg_keyinfo *ki = &x->keys[i].ki;
        if (strcmp(x->keys[i].id, logid) == 0)
            continue;
        if (ki->added_seq < x->cksize && ki->added_seq >= x->hz.seq &&
            (rc = push_sel(x, ki->added_seq, ROLE_SUPPORT)) < 0)
            return rc;
        if (ki->revoked_seq < x->cksize && ki->revoked_seq >= x->hz.seq &&
            (rc = push_sel(x, ki->revoked_seq, ROLE_SUPPORT)) < 0)
            return rc;
    }
    /* after the key events, which the log key seals too: a key.revoked
     * after the log key's anchor needs that anchor in the bundle */
    for (size_t i = 0; i < x->nev; i++)
        if (x->ev[i].seq > last)
            last = x->ev[i].seq;
    for (size_t i = 0; i < x->nkeys; i++) {
        uint64_t anchored;
        /* a key with epoch keys: its key.anchored, from which a verifier
         * checks the epoch parts of its seals after it (docs/EPOCHS.md);
         * none when the bundle holds nothing after it (a key.anchored is
         * itself before last: it adds no event that needs another) */
        rc = ldg_epoch_anchor_seq(x->win.t, x->keys[i].id, &anchored);
        if (rc < 0 && rc != LDG_ENOTFOUND)
            return rc;
        if (rc == 0 && anchored < last && anchored >= x->hz.seq &&
            (rc = push_sel(x, anchored, ROLE_SUPPORT)) < 0)
            return rc;
    }
    sort_sel(x);
    for (size_t i = 0; i < x->nev; i++)
        if (!(x->ev[i].role & ROLE_SELECTED))
            x->rep.support++;
    return 0;
}
