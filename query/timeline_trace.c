/*
 * timeline_trace.c — a timeline's traces: the spans' tree, the proxy's
 * records joined to the calls they witnessed, and the events of a trace
 * (ldg_query_timeline_trace) or of the run's traces in other runs.
 */
#include <stdlib.h>
#include <string.h>

#include "query/query_int.h"
#include "query/timeline_int.h"

/* ------------------------------------------------------------ traces -- */

/*
 * Spans (docs/OTLP.md) and the proxy's records (docs/PROXY.md) carry
 * trace_id, span_id and parent_span_id. Each span's entry gets "depth",
 * its distance from the nearest ancestor not in the run (the timeline
 * indents it so: the span tree). A proxy record names the span of its
 * caller (the traceparent it was sent with): the model call it witnessed
 * is that span or its nearest route.decision ancestor (an HTTP client's
 * span sits between an instrumented `openai` call and the proxy). The
 * two are one request seen twice: the proxy's entry gets "joined": {seq,
 * agree, differs: [{field, app, proxy}]} comparing the model that
 * answered, the tokens and the outcome, and the span's entry "witnesses":
 * [seq].
 */

static json_t *
span_parent(json_t *spans, const json_t *body)
{
    char key[64];
    const char *tr = json_string_value(json_object_get(body, "trace_id"));
    const char *p = json_string_value(json_object_get(body, "parent_span_id"));
    if (tr == NULL || p == NULL)
        return NULL;
    snprintf(key, sizeof key, "%.32s:%.16s", tr, p);
    return json_object_get(spans, key);
}

/* What of the app's span and the proxy's record of one call differ. */
static json_t *
join_differs(const json_t *app, const json_t *px)
{
    static const char *const fields[] = {"chosen_model", "tokens_in",
                                         "tokens_out", "outcome"};
    json_t *d = json_array();
    for (size_t i = 0; d != NULL && i < sizeof fields / sizeof fields[0]; i++) {
        json_t *a = json_object_get(app, fields[i]);
        json_t *b = json_object_get(px, fields[i]);
        if (a == NULL || b == NULL || json_equal(a, b))
            continue;
        json_array_append_new(d, json_pack("{s:s,s:O,s:O}", "field", fields[i],
                                           "app", a, "proxy", b));
    }
    return d;
}

/* Notes (as "_up", until tl_nest_order) the event e sits under in the tree:
 * a span's parent, a log record's span, the span a proxy record joined. */
static void
set_up(json_t *e, const json_t *up)
{
    if (up != NULL && json_is_string(json_object_get(up, "seq")))
        json_object_set(e, "_up", json_object_get(up, "seq"));
}

/* The place of e in the list: its time, but never before the event it
 * sits under (a log record emitted as its span began has that span's
 * millisecond, a child's clock may lag its parent's). */
static json_int_t
nest_at(json_t *bys, json_t *e, int hops)
{
    const json_t *up = json_object_get(e, "_up"),
                 *at = json_object_get(e, "_at");
    json_int_t t = json_integer_value(json_object_get(e, "rel_us")), p;
    if (json_is_integer(at))
        return json_integer_value(at);
    if (json_is_string(up) && hops < TRACE_DEPTH_MAX) {
        json_t *x = json_object_get(bys, json_string_value(up));
        if (x != NULL && x != e && (p = nest_at(bys, x, hops + 1)) > t)
            t = p;
    }
    json_object_set_new(e, "_at", json_integer(t));
    return t;
}

static int
nest_cmp(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    json_int_t p = json_integer_value(json_object_get(x, "_at"));
    json_int_t q = json_integer_value(json_object_get(y, "_at"));
    json_int_t dx = json_integer_value(json_object_get(x, "depth"));
    json_int_t dy = json_integer_value(json_object_get(y, "depth"));
    if (p != q)
        return p < q ? -1 : 1;
    if (dx != dy) /* at one instant, the outer first */
        return dx < dy ? -1 : 1;
    return tl_seq_cmp(a, b);
}

void
tl_nest_order(struct tl *tl)
{
    size_t i, n = json_array_size(tl->events);
    json_t *bys = json_object(), *e, **all = n ? malloc(n * sizeof *all) : NULL;
    json_t *sorted = json_array();

    if (bys == NULL || sorted == NULL || (n > 0 && all == NULL))
        goto out;
    json_array_foreach(tl->events, i, e)
    {
        const char *seq = json_string_value(json_object_get(e, "seq"));
        if (seq != NULL && !tl_jstr_is(e, "kind", "context"))
            json_object_set(bys, seq, e);
    }
    json_array_foreach(tl->events, i, e)
    {
        nest_at(bys, e, 0);
        all[i] = e;
    }
    qsort(all, n, sizeof *all, nest_cmp);
    for (i = 0; i < n; i++) {
        json_object_del(all[i], "_at");
        json_object_del(all[i], "_up");
        json_array_append(sorted, all[i]);
    }
    json_decref(tl->events);
    tl->events = sorted;
    sorted = NULL;
out:
    free(all);
    json_decref(bys);
    json_decref(sorted);
}

void
tl_trace_tree(struct tl *tl)
{
    json_t *spans = json_object(), *e;
    char key[64];
    size_t i;

    if (spans == NULL)
        return;
    /* the run's spans, by trace and span id */
    json_array_foreach(tl->events, i, e)
    {
        json_t *b = json_object_get(e, "body");
        const char *tr = json_string_value(json_object_get(b, "trace_id"));
        const char *sp = json_string_value(json_object_get(b, "span_id"));
        /* (a log record names the span it was emitted in: not a span) */
        if (tr == NULL || sp == NULL ||
            json_object_get(b, "upstream") != NULL ||
            tl_jstr_is(e, "type", LDG_EV_OTEL_LOG))
            continue;
        snprintf(key, sizeof key, "%.32s:%.16s", tr, sp);
        json_object_set(spans, key, e);
    }
    json_array_foreach(tl->events, i, e)
    {
        json_t *b = json_object_get(e, "body");
        json_t *up;
        json_int_t depth = 0;
        if (!json_is_string(json_object_get(b, "trace_id")))
            continue;
        if (tl_jstr_is(e, "type", LDG_EV_OTEL_LOG)) {
            /* a record under the span it was emitted in */
            const char *sp = json_string_value(json_object_get(b, "span_id"));
            snprintf(key, sizeof key, "%.32s:%.16s",
                     json_string_value(json_object_get(b, "trace_id")),
                     sp ? sp : "");
            set_up(e, sp ? json_object_get(spans, key) : NULL);
            for (up = sp ? json_object_get(spans, key) : NULL;
                 up != NULL && depth < TRACE_DEPTH_MAX;
                 up = span_parent(spans, json_object_get(up, "body")))
                depth++;
            json_object_set_new(e, "depth", json_integer(depth));
            continue;
        }
        set_up(e, span_parent(spans, b));
        if (json_object_get(b, "upstream") == NULL) {
            for (up = span_parent(spans, b);
                 up != NULL && depth < TRACE_DEPTH_MAX;
                 up = span_parent(spans, json_object_get(up, "body")))
                depth++;
            json_object_set_new(e, "depth", json_integer(depth));
            continue;
        }
        /* a proxy record: the model call it witnessed */
        int hops = 0;
        for (up = span_parent(spans, b);
             up != NULL && hops < TRACE_DEPTH_MAX &&
             !tl_jstr_is(up, "type", LDG_EV_ROUTE_DECISION);
             up = span_parent(spans, json_object_get(up, "body")))
            hops++;
        if (up == NULL || !tl_jstr_is(e, "type", LDG_EV_ROUTE_DECISION))
            continue;
        json_t *d = join_differs(json_object_get(up, "body"), b);
        if (d == NULL)
            continue;
        set_up(e, up);
        json_object_set_new(e, "joined",
                            json_pack("{s:O,s:b,s:o}", "seq",
                                      json_object_get(up, "seq"), "agree",
                                      json_array_size(d) == 0, "differs", d));
        json_t *w = json_object_get(up, "witnesses");
        if (w == NULL) {
            w = json_array();
            json_object_set_new(up, "witnesses", w);
        }
        json_array_append(w, json_object_get(e, "seq"));
        tl->joined++;
        tl->disagree += json_array_size(d) > 0;
        /* (one call: its fallback counted once, the app's say) */
        tl->joined_fallbacks += json_is_true(json_object_get(b, "fallback")) &&
                                json_is_true(json_object_get(
                                    json_object_get(up, "body"), "fallback"));
    }
    json_decref(spans);
    /* a proxy record sits under the span it joined */
    json_array_foreach(tl->events, i, e)
    {
        const json_t *j = json_object_get(e, "joined");
        if (j == NULL)
            continue;
        for (size_t k = 0; k < json_array_size(tl->events); k++) {
            json_t *x = json_array_get(tl->events, k);
            if (json_equal(json_object_get(x, "seq"),
                           json_object_get(j, "seq")))
                json_object_set_new(
                    e, "depth",
                    json_integer(
                        json_integer_value(json_object_get(x, "depth")) + 1));
        }
    }
}

void
tl_trace_status(struct tl *tl)
{
    size_t i;
    json_t *e, *root = NULL;
    int traced = 0;

    json_array_foreach(tl->events, i, e)
    {
        const json_t *b = json_object_get(e, "body");
        if (tl_jstr_is(e, "kind", "context"))
            continue;
        if (tl_jstr_is(e, "kind", "span") || tl_jstr_is(e, "kind", "log") ||
            json_is_string(json_object_get(b, "trace_id")))
            traced = 1;
        if (root == NULL && json_is_string(json_object_get(b, "span_id")) &&
            json_object_get(b, "parent_span_id") == NULL &&
            json_object_get(b, "upstream") == NULL &&
            !tl_jstr_is(e, "kind", "log"))
            root = e;
    }
    if (!traced)
        return;
    json_object_set_new(tl->root, "status", json_string("trace"));
    if (root != NULL) {
        const json_t *b = json_object_get(root, "body");
        json_object_set_new(tl->root, "root",
                            json_pack("{s:O, s:O?, s:O?, s:O?}", "seq",
                                      json_object_get(root, "seq"), "name",
                                      json_object_get(b, "name"), "status",
                                      json_object_get(b, "status"),
                                      "duration_ms",
                                      json_object_get(b, "duration_ms")));
    } else {
        json_object_set_new(tl->root, "root", json_null());
    }
}
int
tl_trace_walk(struct tl *tl, const char *trace)
{
    struct ldg_query *q = NULL;
    struct ldg_query_iter *it = NULL;
    struct ldg_event ev;
    char term[80], err[256];
    char *terms[1] = {term};
    int rc;

    snprintf(term, sizeof term, "trace=%s", trace);
    if ((rc = ldg_query_compile(&q, 1, terms, NULL, NULL, err, sizeof err)) < 0)
        return rc;
    if ((rc = ldg_query_iter_new(&it, q, tl->t, 0)) == 0) {
        while ((rc = ldg_query_iter_next(it, &ev)) == 0)
            if (tl_on_run_event(tl, ev.seq) != 0)
                break;
        if (rc == LDG_ENOTFOUND)
            rc = 0;
        if (rc == 0)
            rc = tl->err;
    }
    ldg_query_iter_free(it);
    ldg_query_free(q);
    return rc;
}

/*
 * The proxy's records of the run's model calls when they are in another
 * run: with `serve --otlp-run ATTR` the application's spans are in the
 * attribute's run while the proxy puts its record in the trace's
 * (docs/OTLP.md). For each trace of the run's spans (at most
 * TL_TRACES_MAX; one scan of the log for all), the proxy's
 * route.decisions of another run whose caller (parent_span_id) is one of
 * the run's spans are added, so that tl_trace_tree joins them as it joins
 * those of the run.
 */
#define TL_TRACES_MAX 64

int
tl_witness_walk(struct tl *tl)
{
    json_t *traces = json_object(), *spans = json_object(), *e, *v;
    const char *tr;
    char key[64];
    size_t i;
    int rc = 0, added = 0;

    if (traces == NULL || spans == NULL) {
        json_decref(traces);
        json_decref(spans);
        return LDG_ENOMEM;
    }
    json_array_foreach(tl->events, i, e)
    {
        json_t *b = json_object_get(e, "body");
        const char *sp = json_string_value(json_object_get(b, "span_id"));
        tr = json_string_value(json_object_get(b, "trace_id"));
        if (tr == NULL || sp == NULL ||
            json_object_get(b, "upstream") != NULL ||
            tl_jstr_is(e, "type", LDG_EV_OTEL_LOG))
            continue;
        snprintf(key, sizeof key, "%.32s:%.16s", tr, sp);
        json_object_set_new(spans, key, json_true());
        /* (a trace id as the receiver and the proxy write it: another
         * value, appended by hand, is no trace= term) */
        if (strcmp(tr, tl->run) != 0 && strlen(tr) == 32 &&
            strspn(tr, "0123456789abcdef") == 32 &&
            json_object_size(traces) < TL_TRACES_MAX)
            json_object_set_new(traces, tr, json_true());
    }
    /* one scan of the log for all of them: trace=A trace=B ... (the
     * same field's terms are alternatives) */
    size_t nt = json_object_size(traces), k = 0;
    char(*tv)[48] = nt ? calloc(nt, sizeof *tv) : NULL;
    char **terms = nt ? calloc(nt, sizeof *terms) : NULL;
    if (nt > 0 && (tv == NULL || terms == NULL))
        rc = LDG_ENOMEM;
    json_object_foreach(traces, tr, v)
    {
        if (rc < 0)
            break;
        snprintf(tv[k], sizeof tv[k], "trace=%s", tr);
        terms[k] = tv[k];
        k++;
    }
    if (rc == 0 && nt > 0) {
        struct ldg_query *q = NULL;
        struct ldg_query_iter *it = NULL;
        struct ldg_event ev;
        char err[256];

        if ((rc = ldg_query_compile(&q, (int)nt, terms, NULL, NULL, err,
                                    sizeof err)) == 0 &&
            (rc = ldg_query_iter_new(&it, q, tl->t, 0)) == 0) {
            while ((rc = ldg_query_iter_next(it, &ev)) == 0) {
                json_t *b = NULL;
                const char *p, *btr;
                if (strcmp(ev.type, LDG_EV_ROUTE_DECISION) != 0 ||
                    strcmp(ev.run, tl->run) == 0)
                    continue;
                if (ldg_body_get(tl->t, ev.seq, &b) < 0)
                    continue;
                p = json_string_value(json_object_get(b, "parent_span_id"));
                btr = json_string_value(json_object_get(b, "trace_id"));
                if (p != NULL && btr != NULL &&
                    json_object_get(b, "upstream") != NULL) {
                    snprintf(key, sizeof key, "%.32s:%.16s", btr, p);
                    p = json_object_get(spans, key) != NULL ? p : NULL;
                } else {
                    p = NULL;
                }
                json_decref(b);
                if (p == NULL)
                    continue;
                uint64_t first_ts = tl->first_ts, first_seq = tl->first_seq;
                uint64_t last_ts = tl->last_ts, last_seq = tl->last_seq;
                size_t had = json_array_size(tl->events);
                if (tl_on_run_event(tl, ev.seq) != 0)
                    break;
                added = 1;
                if (json_array_size(tl->events) > had)
                    json_object_set_new(json_array_get(tl->events, had), "run",
                                        json_string(ev.run));
                if (first_ts < ev.ts_ns) {
                    tl->first_ts = first_ts;
                    tl->first_seq = first_seq;
                }
                if (last_seq > ev.seq) {
                    tl->last_ts = last_ts;
                    tl->last_seq = last_seq;
                }
            }
            if (rc == LDG_ENOTFOUND)
                rc = 0;
            if (rc == 0)
                rc = tl->err;
        }
        ldg_query_iter_free(it);
        ldg_query_free(q);
    }
    free(terms);
    free(tv);
    json_decref(traces);
    json_decref(spans);
    if (rc == 0 && added) {
        /* in the order of the log, as the run's own */
        size_t n = json_array_size(tl->events);
        json_t **all = malloc(n * sizeof *all), *sorted = json_array();
        if (all == NULL || sorted == NULL) {
            free(all);
            json_decref(sorted);
            return LDG_ENOMEM;
        }
        json_array_foreach(tl->events, i, e) all[i] = e;
        qsort(all, n, sizeof *all, tl_seq_cmp);
        for (i = 0; i < n; i++)
            json_array_append(sorted, all[i]);
        free(all);
        json_decref(tl->events);
        tl->events = sorted;
    }
    return rc;
}
