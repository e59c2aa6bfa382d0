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

static const char *
bs(const json_t *b, const char *k)
{
    const char *s = json_string_value(json_object_get(b, k));
    return s ? s : "";
}

/* One line about event type with body b (NULL when erased). */
static void
summary(const char *type, const json_t *b, char *buf, size_t cap)
{
    const json_t *p;
    if (b == NULL) {
        snprintf(buf, cap, "[body erased]");
    } else if (strcmp(type, "plan.state") == 0) {
        p = json_object_get(b, "passed");
        snprintf(buf, cap, "%.100s%s%s%s%.300s", bs(b, "state"),
                 json_is_true(p) ? " passed" : "",
                 json_is_false(p) ? " FAILED" : "",
                 json_object_get(b, "reason") ? ": " : "", bs(b, "reason"));
    } else if (strcmp(type, "plan.step") == 0) {
        snprintf(buf, cap,
                 "step %.200s (%.100s, %.8s) %.10s%s%.200s%s%.200s%s%.10s",
                 bs(b, "step"), bs(b, "tool"), bs(b, "tier"), bs(b, "status"),
                 json_object_get(b, "snapshot") ? " snapshot " : "",
                 bs(b, "snapshot"),
                 json_object_get(b, "tripcode") ? " tripcode " : "",
                 bs(b, "tripcode"), json_object_get(b, "slot") ? " slot " : "",
                 bs(b, "slot"));
    } else if (strcmp(type, "debate.vote") == 0) {
        snprintf(buf, cap, "debate %.200s round %lld: %.200s votes %.10s",
                 bs(b, "debate"),
                 (long long)json_integer_value(json_object_get(b, "round")),
                 bs(b, "model"), bs(b, "decision"));
    } else if (strcmp(type, "debate.decided") == 0) {
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
    } else {
        char *t = json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS);
        snprintf(buf, cap, "%.300s", t ? t : "");
        free(t);
    }
}

static int
collect(struct ldg_ledger *l, const char *plan, const json_t *viols,
        json_t *events)
{
    char t1[300], t2[300], plus[] = "+", detail[1024];
    char *terms[3] = {t1, plus, t2};
    struct ldg_query *q = NULL;
    struct ldg_query_iter *it = NULL;
    struct ldg_txn *t = NULL;
    struct ldg_event ev;
    char err[256];
    int rc;

    snprintf(t1, sizeof t1, "subject=plan:%s", plan);
    snprintf(t2, sizeof t2, "body.plan=%s", plan);
    if ((rc = ldg_query_compile(&q, 3, terms, NULL, NULL, err, sizeof err)) <
        0) {
        ldg_set_errmsg(l, "plan %s: %s", plan, err);
        return rc;
    }
    if ((rc = ldg_txn_begin(l, LDG_TXN_READ, &t)) < 0 ||
        (rc = ldg_query_iter_new(&it, q, t, 0)) < 0)
        goto out;
    while ((rc = ldg_query_iter_next(it, &ev)) == 0) {
        json_t *body = NULL, *o, *vs = json_array(), *v;
        char when[LDG_TIME_NS_LEN], seq[24];
        size_t i;
        int brc = ldg_body_get(t, ev.seq, &body);
        if (brc < 0 && brc != LDG_EERASED) {
            json_decref(vs);
            rc = brc;
            goto out;
        }
        summary(ev.type, brc == 0 ? body : NULL, detail, sizeof detail);
        snprintf(seq, sizeof seq, "%llu", (unsigned long long)ev.seq);
        json_array_foreach(viols, i, v) if (strcmp(bs(v, "seq"), seq) == 0)
            json_array_append(vs, v);
        o = json_pack("{s:s, s:s, s:s, s:s, s:o}", "seq", seq, "time",
                      ldg_time_rfc3339_ns(when, sizeof when, ev.ts_ns), "type",
                      ev.type, "summary", detail, "violations", vs);
        json_decref(body);
        if (o == NULL || json_array_append_new(events, o) < 0) {
            rc = LDG_ENOMEM;
            goto out;
        }
    }
    if (rc == LDG_ENOTFOUND)
        rc = 0;
out:
    ldg_query_iter_free(it);
    ldg_txn_abort(t);
    ldg_query_free(q);
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
    rc = collect(l, plan, json_object_get(p, "violations"), events);
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
        ADD("%s %.19s %6s %-16s %s\n", json_array_size(vs) ? "!" : " ",
            bs(e, "time"), bs(e, "seq"), bs(e, "type"), bs(e, "summary"));
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
