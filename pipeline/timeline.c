/*
 * timeline.c — a plan's story, as `ledger timeline` tells a run's: every
 * event of the plan in order (its states and steps, the debates on it,
 * the snapshots, tripcodes and builds that name it), each violation of
 * the plans projection under the event that broke the rule, and how it
 * ended.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/pipeline.h"
#include "projections/projections.h"
#include "query/query.h"
#include "util/util.h"

#define bs(o, k) ldg_json_str(o, k)

/* One line about event type with body b (NULL when erased). */
static void
summary(const char *type, const json_t *b, char *buf, size_t cap)
{
    const json_t *p;
    if (b == NULL) {
        snprintf(buf, cap, "[body erased]");
    } else if (strcmp(type, LDG_EV_PLAN_STATE) == 0) {
        p = json_object_get(b, "passed");
        snprintf(buf, cap, "%.100s%s%s%s%.300s", bs(b, "state"),
                 json_is_true(p) ? " passed" : "",
                 json_is_false(p) ? " FAILED" : "",
                 json_object_get(b, "reason") ? ": " : "", bs(b, "reason"));
    } else if (strcmp(type, LDG_EV_PLAN_STEP) == 0) {
        snprintf(buf, cap,
                 "step %.200s (%.100s, %.8s) %.10s%s%.200s%s%.200s%s%.10s",
                 bs(b, "step"), bs(b, "tool"), bs(b, "tier"), bs(b, "status"),
                 json_object_get(b, "snapshot") ? " snapshot " : "",
                 bs(b, "snapshot"),
                 json_object_get(b, "tripcode") ? " tripcode " : "",
                 bs(b, "tripcode"), json_object_get(b, "slot") ? " slot " : "",
                 bs(b, "slot"));
    } else if (strcmp(type, LDG_EV_DEBATE_VOTE) == 0) {
        snprintf(buf, cap, "debate %.200s round %lld: %.200s votes %.10s",
                 bs(b, "debate"),
                 (long long)json_integer_value(json_object_get(b, "round")),
                 bs(b, "model"), bs(b, "decision"));
    } else if (strcmp(type, LDG_EV_DEBATE_DECIDED) == 0) {
        snprintf(buf, cap, "debate %.200s decided %.10s%s%.20s%s",
                 bs(b, "debate"), bs(b, "decision"),
                 json_object_get(b, "rule") ? " (" : "", bs(b, "rule"),
                 json_object_get(b, "rule") ? ")" : "");
    } else if (strncmp(type, "snapshot.", 9) == 0) {
        snprintf(buf, cap, "snapshot %.200s %.20s%s%.300s", bs(b, "snapshot"),
                 type + 9, json_object_get(b, "label") ? ": " : "",
                 bs(b, "label"));
    } else if (strncmp(type, "tripcode.", 9) == 0) {
        snprintf(buf, cap, "tripcode %.200s %.20s%s%.400s", bs(b, "code"),
                 type + 9, json_object_get(b, "reason") ? ": " : "",
                 bs(b, "reason"));
    } else if (strncmp(type, "build.", 6) == 0) {
        snprintf(buf, cap, "build %.200s %.20s%s%.10s",
                 bs(b, "artifact_digest"), type + 6,
                 json_object_get(b, "slot") ? " slot " : "", bs(b, "slot"));
    } else if (strcmp(type, LDG_EV_KEY_ADDED) == 0) {
        char roles[256] = "";
        size_t i, n = 0;
        json_t *r;
        json_array_foreach(json_object_get(b, "roles"), i, r)
        {
            int w = snprintf(roles + n, sizeof roles - n, "%s%s", i ? "," : "",
                             json_string_value(r));
            if (w < 0 || (size_t)w >= sizeof roles - n)
                break;
            n += (size_t)w;
        }
        snprintf(buf, cap, "key %.64s (id %.16s) added, roles %s",
                 bs(b, "actor"), bs(b, "key_id"), n ? roles : "(any)");
    } else {
        char *t = json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS);
        snprintf(buf, cap, "%.300s", t ? t : "");
        free(t);
    }
}

/* Runs the query of terms over the log, calling fn for each event with
 * its body (NULL when erased). */
static int
each_event(struct ldg_ledger *l, char **terms, int nterms,
           int (*fn)(void *ctx, const struct ldg_event *ev, const json_t *b),
           void *ctx)
{
    struct ldg_query *q = NULL;
    struct ldg_query_iter *it = NULL;
    struct ldg_txn *t = NULL;
    struct ldg_event ev;
    char err[256];
    int rc;

    if ((rc = ldg_query_compile(&q, nterms, terms, NULL, NULL, err,
                                sizeof err)) < 0) {
        ldg_set_errmsg(l, "%s", err);
        return rc;
    }
    if ((rc = ldg_txn_begin(l, LDG_TXN_READ, &t)) < 0 ||
        (rc = ldg_query_iter_new(&it, q, t, 0)) < 0)
        goto out;
    while ((rc = ldg_query_iter_next(it, &ev)) == 0) {
        json_t *body = NULL;
        int brc = ldg_body_get(t, ev.seq, &body);
        if (brc < 0 && brc != LDG_EERASED) {
            rc = brc;
            goto out;
        }
        rc = fn(ctx, &ev, brc == 0 ? body : NULL);
        json_decref(body);
        if (rc < 0)
            goto out;
    }
    if (rc == LDG_ENOTFOUND)
        rc = 0;
out:
    ldg_query_iter_free(it);
    ldg_txn_abort(t);
    ldg_query_free(q);
    return rc;
}

struct tctx {
    const char *plan;
    const json_t *viols;
    json_t *ctx;    /* "subject=snapshot:S" / "subject=tripcode:C" terms */
    json_t *keys;   /* key ids tripcode events verified with */
    json_t *events; /* the timeline's */
};

static int
add_ctx(json_t *ctx, const char *kind, const char *name)
{
    char term[300];
    size_t i;
    json_t *x;
    snprintf(term, sizeof term, "subject=%s:%.250s", kind, name);
    json_array_foreach(ctx, i,
                       x) if (strcmp(json_string_value(x), term) == 0) return 0;
    return json_array_append_new(ctx, json_string(term)) < 0 ? LDG_ENOMEM : 0;
}

/* Pass 1: what the plan's steps name (snapshots, tripcodes). */
static int
names_of(void *vc, const struct ldg_event *ev, const json_t *b)
{
    struct tctx *c = vc;
    int rc = 0;
    if (b == NULL || strcmp(ev->type, LDG_EV_PLAN_STEP) != 0)
        return 0;
    if (json_is_string(json_object_get(b, "snapshot")))
        rc = add_ctx(c->ctx, "snapshot", bs(b, "snapshot"));
    if (rc == 0 && json_is_string(json_object_get(b, "tripcode"))) {
        static const char rs[] = "RECOVERY:REVERT_SNAPSHOT::";
        const char *code = bs(b, "tripcode");
        rc = add_ctx(c->ctx, "tripcode", code);
        /* a revert names the snapshot it goes back to */
        if (rc == 0 && strncmp(code, rs, sizeof rs - 1) == 0)
            rc = add_ctx(c->ctx, "snapshot", code + sizeof rs - 1);
    }
    return rc;
}

/* Pass 2: the timeline's events; context is what only a step names. */
static int
add_event(void *vc, const struct ldg_event *ev, const json_t *b)
{
    struct tctx *c = vc;
    json_t *o, *vs = json_array(), *v;
    char when[LDG_TIME_NS_LEN], seq[24], subj[LDG_SUBJECT_MAX + 8];
    char detail[1024];
    size_t i;
    int own;

    if (vs == NULL)
        return LDG_ENOMEM;
    snprintf(subj, sizeof subj, "plan:%s", c->plan);
    own = strcmp(ev->subject, subj) == 0 ||
          (b != NULL && strcmp(bs(b, "plan"), c->plan) == 0);
    summary(ev->type, b, detail, sizeof detail);
    if (b != NULL && strncmp(ev->type, "tripcode.", 9) == 0 &&
        json_is_string(json_object_get(b, "key_id"))) {
        /* the controller key that signed the code: its key.added is
         * context, so a bundle can re-check the signature offline */
        json_t *x;
        int seen = 0;
        json_array_foreach(c->keys, i, x) seen |=
            strcmp(json_string_value(x), bs(b, "key_id")) == 0;
        if (!seen &&
            json_array_append_new(c->keys, json_string(bs(b, "key_id"))) < 0)
            return LDG_ENOMEM;
    }
    snprintf(seq, sizeof seq, "%llu", (unsigned long long)ev->seq);
    json_array_foreach(c->viols, i, v) if (strcmp(bs(v, "seq"), seq) == 0)
        json_array_append(vs, v);
    o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "seq", seq, "time",
                  ldg_time_rfc3339_ns(when, sizeof when, ev->ts_ns), "type",
                  ev->type, "kind", own ? "plan" : "context", "summary", detail,
                  "violations", vs);
    if (o == NULL || json_array_append_new(c->events, o) < 0)
        return LDG_ENOMEM;
    return 0;
}

static int collect_plan(struct ldg_ledger *l, struct tctx *c);

static int
cmp_event(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    unsigned long long p = strtoull(bs(x, "seq"), NULL, 10);
    unsigned long long q = strtoull(bs(y, "seq"), NULL, 10);
    return p < q ? -1 : p > q;
}

/* Pass 3: the key.added of every controller key a tripcode event names,
 * then the events back in log order. */
static int
add_keys(struct ldg_ledger *l, struct tctx *c)
{
    struct ldg_txn *t = NULL;
    size_t n = json_array_size(c->keys), k = 0, i;
    char *block = NULL, **terms = NULL;
    json_t **v = NULL, *sorted;
    int rc = 0;

    if (n == 0)
        return 0;
    block = malloc(n * 32);
    terms = calloc(n, sizeof *terms);
    if (block == NULL || terms == NULL) {
        rc = LDG_ENOMEM;
        goto out;
    }
    if ((rc = ldg_txn_begin(l, LDG_TXN_READ, &t)) < 0)
        goto out;
    for (i = 0; i < n; i++) {
        struct ldg_keyinfo ki;
        if (ldg_key_info(t, json_string_value(json_array_get(c->keys, i)),
                         &ki) < 0)
            continue; /* an id the log does not know: nothing to add */
        LDG_ASSERT(k <= i && i < n);
        terms[k] = block + k * 32;
        snprintf(terms[k], 32, "seq=%llu", (unsigned long long)ki.added_seq);
        k++;
    }
    ldg_txn_abort(t);
    if (k > 0 && (rc = each_event(l, terms, (int)k, add_event, c)) < 0)
        goto out;
    n = json_array_size(c->events);
    if ((v = malloc((n ? n : 1) * sizeof *v)) == NULL ||
        (sorted = json_array()) == NULL) {
        rc = LDG_ENOMEM;
        goto out;
    }
    for (i = 0; i < n; i++)
        v[i] = json_array_get(c->events, i);
    qsort(v, n, sizeof *v, cmp_event);
    for (i = 0; i < n; i++)
        json_array_append(sorted, v[i]);
    json_array_clear(c->events);
    json_array_extend(c->events, sorted);
    json_decref(sorted);
out:
    free(v);
    free(terms);
    free(block);
    return rc;
}

static int
collect(struct ldg_ledger *l, struct tctx *c)
{
    int rc = collect_plan(l, c);
    return rc < 0 ? rc : add_keys(l, c);
}

static int
collect_plan(struct ldg_ledger *l, struct tctx *c)
{
    char t1[300], t2[300], plus[] = "+";
    char *base[3] = {t1, plus, t2}, **terms = NULL, *block = NULL;
    size_t n, i;
    int rc;

    snprintf(t1, sizeof t1, "subject=plan:%.250s", c->plan);
    snprintf(t2, sizeof t2, "body.plan=%.250s", c->plan);
    if ((rc = each_event(l, base, 3, names_of, c)) < 0)
        return rc;
    n = json_array_size(c->ctx);
    if (n == 0)
        return each_event(l, base, 3, add_event, c);
    terms = calloc(4 + n, sizeof *terms);
    block = malloc(n * 300);
    if (terms == NULL || block == NULL) {
        free(terms);
        free(block);
        return LDG_ENOMEM;
    }
    memcpy(terms, base, sizeof base);
    terms[3] = plus;
    for (i = 0; i < n; i++) {
        terms[4 + i] = block + i * 300;
        snprintf(terms[4 + i], 300, "%s",
                 json_string_value(json_array_get(c->ctx, i)));
    }
    rc = each_event(l, terms, (int)(4 + n), add_event, c);
    free(terms);
    free(block);
    return rc;
}

int
ldg_pipeline_timeline(struct ldg_ledger *l, const char *plan, json_t **out)
{
    struct ldg_view_opts o;
    json_t *rows = NULL, *p, *events = NULL;
    int rc;

    if (l == NULL || plan == NULL || out == NULL)
        return LDG_EINVAL;
    *out = NULL;
    memset(&o, 0, sizeof o);
    o.filter = plan;
    if ((rc = ldg_projections_view(l, LDG_VIEW_PLANS, &o, &rows)) < 0)
        return rc; /* LDG_ENOTFOUND: "P: no such plan" */
    p = json_array_get(rows, 0);
    if ((events = json_array()) == NULL) {
        json_decref(rows);
        return LDG_ENOMEM;
    }
    {
        struct tctx c;
        c.plan = plan;
        c.viols = json_object_get(p, "violations");
        c.events = events;
        c.ctx = json_array();
        c.keys = json_array();
        rc = c.ctx && c.keys ? collect(l, &c) : LDG_ENOMEM;
        json_decref(c.ctx);
        json_decref(c.keys);
    }
    if (rc == 0) {
        *out = json_pack("{s:s, s:O, s:O, s:O, s:o}", "plan", plan, "state",
                         json_object_get(p, "state"), "path",
                         json_object_get(p, "path"), "violations",
                         json_object_get(p, "violations"), "events", events);
        events = NULL;
        if (*out == NULL)
            rc = LDG_ENOMEM;
    }
    json_decref(events);
    json_decref(rows);
    return rc;
}

int
ldg_pipeline_timeline_text(const json_t *tl, char **out)
{
    struct ldg_buf b;
    const json_t *e, *v;
    size_t i, k, n = 0;
    char line[2048];

    if (tl == NULL || out == NULL)
        return LDG_EINVAL;
    ldg_buf_init(&b, 64u << 20);
#define ADD(...)                                                               \
    do {                                                                       \
        int w_ = snprintf(line, sizeof line, __VA_ARGS__);                     \
        if (w_ > 0)                                                            \
            ldg_buf_add(&b, line,                                              \
                        (size_t)w_ < sizeof line ? (size_t)w_                  \
                                                 : sizeof line - 1);           \
    } while (0)
    ADD("plan %s: %s\n", bs(tl, "plan"), bs(tl, "state"));
    json_array_foreach(json_object_get(tl, "path"), i, v)
        ADD("%s%s", i ? " > " : "path: ", json_string_value(v));
    ADD("\n\ntimeline:\n");
    json_array_foreach(json_object_get(tl, "events"), i, e)
    {
        const json_t *vs = json_object_get(e, "violations");
        const char *t = bs(e, "time");
        char when[LDG_TIME_WHEN_LEN];
        uint64_t ns = 0;
        /* human output's one time format (the JSON keeps RFC 3339) */
        if (ldg_time_parse_rfc3339(t, strlen(t), LDG_TIME_LONGFRAC, &ns) == 0)
            ldg_time_when(when, sizeof when, ns);
        else
            snprintf(when, sizeof when, "%.19s", t);
        ADD("%s %-15s %6s %-16s %s%s\n", json_array_size(vs) ? "!" : " ", when,
            bs(e, "seq"), bs(e, "type"),
            strcmp(bs(e, "kind"), "context") == 0 ? "(context) " : "",
            bs(e, "summary"));
        json_array_foreach(vs, k, v)
        {
            ADD("!   broke %s: %s\n", bs(v, "rule"), bs(v, "detail"));
            n++;
        }
    }
    ADD("\n%zu event(s), %zu violation(s)\n",
        json_array_size(json_object_get(tl, "events")),
        json_array_size(json_object_get(tl, "violations")));
#undef ADD
    (void)n;
    if (b.err) {
        int e2 = b.err;
        ldg_buf_release(&b);
        return e2;
    }
    ldg_buf_add(&b, "", 1);
    if (b.err) {
        int e2 = b.err;
        ldg_buf_release(&b);
        return e2;
    }
    *out = (char *)b.p;
    return 0;
}

/* ------------------------------------------- a name the log may not know -- */

/* "WHAT: events 0..N-1 were pruned into ...; the ledger keeps events from
 * N on (...)" into buf; 0 when the ledger was never pruned. */
static int
say_pruned(struct ldg_ledger *l, const char *what, char *buf, size_t cap)
{
    struct ldg_horizon h;
    char d[400];
    if (ldg_horizon(l, &h) < 0)
        return 0;
    ldg_horizon_describe(&h, d, sizeof d);
    snprintf(
        buf, cap,
        "%s: %s; the ledger keeps events from %llu on (`" LDG_CMD_QUERY_BUNDLE
        "` reads the archive)",
        what, d, (unsigned long long)h.seq, "FILE");
    ldg_horizon_release(&h);
    return 1;
}

/* A run that began before the horizon: into buf, where its pruned events
 * went (none_kept: none of its events is kept). 0: not such a run. */
static int
pruned_run(struct ldg_ledger *l, struct ldg_txn *t, const char *run,
           int none_kept, char *buf, size_t cap)
{
    struct ldg_horizon h;
    struct ldg_view_opts vo;
    json_t *rows = NULL, *arch = NULL;
    const char *f, *last;
    char what[300], names[2048];
    int said = 0, whole = 0;

    if (ldg_horizon(l, &h) < 0)
        return 0;
    memset(&vo, 0, sizeof vo);
    vo.filter = run;
    if (ldg_projections_view(l, LDG_VIEW_RUNS, &vo, &rows) < 0 ||
        (f = json_string_value(
             json_object_get(json_array_get(rows, 0), "first_seq"))) == NULL ||
        strtoull(f, NULL, 10) >= h.seq)
        goto out;
    last =
        json_string_value(json_object_get(json_array_get(rows, 0), "last_seq"));
    if (none_kept && last != NULL)
        snprintf(what, sizeof what,
                 "run %s: its events (%s..%s) are all before the horizon", run,
                 f, last);
    else
        snprintf(what, sizeof what,
                 "note: run %s began at event %s, before the horizon: this "
                 "shows its kept events",
                 run, f);
    /* every archive its events went into (a run can span several) */
    if (ldg_query_pruned_archives(t, strtoull(f, NULL, 10), h.seq, &arch,
                                  &whole) == 0 &&
        json_array_size(arch) > 0) {
        ldg_query_pruned_archives_text(arch, whole, names, sizeof names);
        snprintf(buf, cap,
                 "%s: its events before %llu were pruned into %s; the ledger "
                 "keeps events from %llu on (`" LDG_CMD_TIMELINE_BUNDLE
                 "` reads each)",
                 what, (unsigned long long)h.seq, names,
                 (unsigned long long)h.seq, run, "FILE");
        said = 1;
    } else {
        said = say_pruned(l, what, buf, cap);
    }
out:
    json_decref(arch);
    json_decref(rows);
    ldg_horizon_release(&h);
    return said;
}

int
ldg_pipeline_timeline_find(struct ldg_ledger *l, struct ldg_txn *t,
                           const char *name, json_t **out, int *kind,
                           char *note, size_t cap)
{
    char msg[3000];
    int rc;

    if (l == NULL || t == NULL || name == NULL || out == NULL || kind == NULL ||
        note == NULL || cap == 0)
        return LDG_EINVAL;
    *out = NULL;
    *kind = 0;
    note[0] = '\0';
    rc = ldg_query_timeline(t, name, out);
    if (rc == 0) {
        *kind = LDG_TIMELINE_RUN;
        pruned_run(l, t, name, 0, note, cap);
        return 0;
    }
    if (rc != LDG_ENOTFOUND)
        return rc;
    /* not a run: a plan of the control pipeline? */
    rc = ldg_pipeline_timeline(l, name, out);
    if (rc == 0) {
        *kind = LDG_TIMELINE_PLAN;
        return 0;
    }
    if (rc != LDG_ENOTFOUND)
        return rc;
    /* a pruned ledger: the run may have lived before the horizon */
    if (pruned_run(l, t, name, 1, msg, sizeof msg)) {
        ldg_set_errmsg(l, "%s", msg);
    } else if (say_pruned(l, "it may be in an archive", msg, sizeof msg)) {
        ldg_set_errmsg(l,
                       "%s: no run or plan of that name (`" LDG_CMD_RUNS
                       "`, `" LDG_CMD_PLANS "`); %s",
                       name, msg);
    } else {
        ldg_set_errmsg(l,
                       "%s: no run or plan of that name (`" LDG_CMD_RUNS
                       "`, `" LDG_CMD_PLANS "`)",
                       name);
    }
    return LDG_ENOTFOUND;
}
