/*
 * test_collect.c — the counts over the log (metrics/collect.c): proxy
 * events counted by model, status and outcome with their histograms and
 * tokens, route decisions without "upstream" left out, incremental
 * updates equal to a count from scratch, the events the OTLP receiver
 * made (by their ids), bounded labels, the cache file
 * (round trip, damaged, another log's), and the text rendered from them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "metrics/metrics.h"
#include "tests/support/support.h"

/* A proxy model request, as the proxy's contract says (route.decision
 * with "upstream"). */
static void
proxy_req(struct ldg_ledger *l, const char *model, int status,
          const char *outcome, double latency_ms, double ttft_ms, int tin,
          int tout)
{
    char body[1024];
    snprintf(body, sizeof body,
             "{\"route\":\"chat/default\",\"chosen_model\":\"%s\","
             "\"upstream\":\"ollama\",\"api\":\"ollama.chat\",\"status\":%d,"
             "\"outcome\":\"%s\",\"latency_ms\":%g,\"ttft_ms\":%g,"
             "\"stream\":true,\"tokens_in\":%d,\"tokens_out\":%d,"
             "\"request_bytes\":100,\"response_bytes\":1000,"
             "\"fallback\":false,\"request_id\":\"rq-%d\"}",
             model, status, outcome, latency_ms, ttft_ms, tin, tout, rand());
    t_append(l, "route.decision", body, NULL);
}

static char *
render(struct ldg_metrics *m, struct ldg_ledger *l)
{
    char *s = NULL;
    size_t n = 0;
    assert_int_equal(ldg_metrics_render(m, l, &s, &n), 0);
    assert_non_null(s);
    assert_int_equal(strlen(s), n);
    return s;
}

static void
update(struct ldg_metrics *m, struct ldg_ledger *l, uint64_t want_scanned)
{
    struct ldg_txn *t;
    uint64_t n;
    char err[512];
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_metrics_update(m, t, &n, err, sizeof err), 0);
    assert_int_equal(n, want_scanned);
    ldg_txn_abort(t);
}

static int
has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
        if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
            return 1;
    return 0;
}

static void
test_collect__counts_proxy_requests(void **state)
{
    char dir[512];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_metrics *m;
    char *text;
    (void)state;

    proxy_req(l, "qwen", 200, "ok", 40, 12, 100, 10);
    proxy_req(l, "qwen", 200, "ok", 3000, 700, 200, 20);
    proxy_req(l, "qwen", 502, "error", 7, 0, 0, 0);
    proxy_req(l, "llama", 0, "refused", 1, 0, 0, 0);
    /* not the proxy's: no upstream */
    t_append(l, "route.decision",
             "{\"route\":\"r\",\"chosen_model\":\"qwen\",\"latency_ms\":5}",
             NULL);
    /* a label value with a quote is escaped */
    proxy_req(l, "q\\\"uote", 200, "ok", 1, 1, 1, 1);
    assert_int_equal(ldg_metrics_new(&m), 0);
    update(m, l, 7); /* the genesis event and six decisions */
    text = render(m, l);
    assert_true(has_line(text, "ledger_proxy_requests_total{model=\"qwen\","
                               "status=\"200\",outcome=\"ok\"} 2"));
    assert_true(has_line(text, "ledger_proxy_requests_total{model=\"qwen\","
                               "status=\"502\",outcome=\"error\"} 1"));
    assert_true(has_line(text, "ledger_proxy_requests_total{model=\"llama\","
                               "status=\"0\",outcome=\"refused\"} 1"));
    assert_true(has_line(text,
                         "ledger_proxy_requests_total{model="
                         "\"q\\\"uote\",status=\"200\",outcome=\"ok\"} 1"));
    /* 40 ms and 7 ms are <= 0.05 s, 3 s is not */
    assert_true(has_line(text, "ledger_proxy_request_duration_seconds_bucket{"
                               "model=\"qwen\",le=\"0.05\"} 2"));
    assert_true(has_line(text, "ledger_proxy_request_duration_seconds_bucket{"
                               "model=\"qwen\",le=\"+Inf\"} 3"));
    assert_true(has_line(text, "ledger_proxy_request_duration_seconds_count{"
                               "model=\"qwen\"} 3"));
    assert_true(has_line(text, "ledger_proxy_tokens_total{model=\"qwen\","
                               "direction=\"in\"} 300"));
    assert_true(has_line(text, "ledger_proxy_tokens_total{model=\"qwen\","
                               "direction=\"out\"} 30"));
    assert_true(has_line(text, "ledger_events_total{type=\"route.decision\"} "
                               "6"));
    assert_true(has_line(text, "ledger_log_events 7"));
    assert_true(has_line(text, "# TYPE ledger_proxy_requests_total counter"));
    free(text);
    ldg_metrics_free(m);
    ldg_close(l);
    t_rmrf(dir);
}

/* text without the series that follow the clock and the disk (free
 * space moves whenever anything on the box writes): what a count from
 * scratch and an incremental one must agree on. Modifies text. */
static char *
stable(char *text)
{
    static const char *const volatile_[] = {
        "_timestamp_seconds", "avail_bytes", "headroom_bytes",
        "used_bytes",         "file_bytes",  "stored_bytes"};
    char *w = text, *r = text;

    while (*r) {
        size_t n = strcspn(r, "\n");
        int drop = 0;
        for (size_t i = 0; i < sizeof volatile_ / sizeof volatile_[0]; i++) {
            const char *hit = strstr(r, volatile_[i]);
            drop |= hit != NULL && hit < r + n;
        }
        if (!drop) {
            memmove(w, r, n + (r[n] == '\n'));
            w += n + (r[n] == '\n');
        }
        r += n + (r[n] == '\n');
    }
    *w = '\0';
    return text;
}

/* An event with an id, as the OTLP receiver appends them. */
static void
with_id(struct ldg_ledger *l, const char *type, const char *id,
        const char *body)
{
    struct ldg_event_in ev;
    json_t *b = json_loads(body, 0, NULL);
    assert_non_null(b);
    memset(&ev, 0, sizeof ev);
    ev.type = type;
    ev.body = b;
    ev.id = id;
    if (ldg_append(l, &ev, NULL) != 0)
        fail_msg("%s %s: %s", type, id, ldg_errmsg(l));
    json_decref(b);
}

#define OTLP_TR "otlp:5b8efff798038103d269b633813fc60c:"

/* The events the OTLP receiver made, counted from their ids (a route
 * decision or span of another origin is not one), saved and loaded. */
static void
test_collect__counts_what_the_otlp_receiver_recorded(void **state)
{
    char dir[512], path[600], err[512];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_metrics *m, *c;
    char *text;
    (void)state;
    with_id(l, "route.decision", OTLP_TR "0000000000000001",
            "{\"route\":\"m\",\"chosen_model\":\"m\"}");
    with_id(l, "route.decision", OTLP_TR "0000000000000002",
            "{\"route\":\"m\",\"chosen_model\":\"m\"}");
    with_id(l, "run.step", OTLP_TR "0000000000000003",
            "{\"run\":\"r\",\"step\":\"s\",\"tool\":\"t\",\"status\":\"ok\"}");
    with_id(l, "otel.span", OTLP_TR "0000000000000004",
            "{\"name\":\"n\",\"trace_id\":\"5b8efff798038103d269b633813fc60c\","
            "\"span_id\":\"0000000000000004\"}");
    with_id(l, "otel.log", "otlp-log:0123456789abcdef0123456789abcdef",
            "{\"severity\":9}");
    /* not the receiver's: a proxy request, an ingested span, no id */
    proxy_req(l, "m", 200, "ok", 1, 1, 1, 1);
    with_id(l, "otel.span", "mine-1",
            "{\"name\":\"n\",\"trace_id\":\"5b8efff798038103d269b633813fc60c\","
            "\"span_id\":\"0000000000000004\"}");
    t_append(l, "run.step",
             "{\"run\":\"r\",\"step\":\"s\",\"tool\":\"t\",\"status\":\"ok\"}",
             NULL);
    assert_int_equal(ldg_metrics_new(&m), 0);
    update(m, l, 9);
    snprintf(path, sizeof path, "%s/%s", dir, LDG_METRICS_CACHE_FILE);
    assert_int_equal(ldg_metrics_save(m, path, err, sizeof err), 0);
    assert_int_equal(ldg_metrics_new(&c), 0);
    assert_int_equal(ldg_metrics_load(c, path), 0);
    for (int k = 0; k < 2; k++) {
        text = render(k ? c : m, l);
        assert_true(has_line(text, "ledger_otlp_events_total{signal=\"span\","
                                   "type=\"route.decision\"} 2"));
        assert_true(has_line(text, "ledger_otlp_events_total{signal=\"span\","
                                   "type=\"run.step\"} 1"));
        assert_true(has_line(text, "ledger_otlp_events_total{signal=\"span\","
                                   "type=\"otel.span\"} 1"));
        assert_true(has_line(text, "ledger_otlp_events_total{signal=\"log\","
                                   "type=\"otel.log\"} 1"));
        free(text);
    }
    ldg_metrics_free(m);
    ldg_metrics_free(c);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_collect__incremental_equals_scratch(void **state)
{
    char dir[512], path[600];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_metrics *a, *b, *c;
    char *ta, *tb, *tc;
    (void)state;

    assert_int_equal(ldg_metrics_new(&a), 0);
    assert_int_equal(ldg_metrics_new(&b), 0);
    assert_int_equal(ldg_metrics_new(&c), 0);
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < 5; i++)
            proxy_req(l, i % 2 ? "a" : "b", i % 3 ? 200 : 500,
                      i % 3 ? "ok" : "error", 10.0 * i, 5, i, i);
        t_append_many(l, 3);
        update(a, l, 8 + (round == 0)); /* a goes step by step */
    }
    /* a saved and loaded copy goes on from where it was */
    snprintf(path, sizeof path, "%s/%s", dir, LDG_METRICS_CACHE_FILE);
    char err[512];
    assert_int_equal(ldg_metrics_save(a, path, err, sizeof err), 0);
    assert_int_equal(ldg_metrics_load(c, path), 0);
    assert_int_equal(ldg_metrics_size(c), ldg_metrics_size(a));
    proxy_req(l, "a", 200, "ok", 1, 1, 1, 1);
    update(a, l, 1);
    update(c, l, 1);
    update(b, l, ldg_metrics_size(a)); /* b counts all at once */
    ta = render(a, l);
    tb = render(b, l);
    tc = render(c, l);
    assert_string_equal(stable(ta), stable(tb));
    assert_string_equal(ta, stable(tc));
    free(ta);
    free(tb);
    free(tc);
    ldg_metrics_free(a);
    ldg_metrics_free(b);
    ldg_metrics_free(c);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_collect__another_log_starts_again(void **state)
{
    char d1[512], d2[512], path[600], err[512];
    struct ldg_ledger *l1 = t_ledger_new(d1, sizeof d1, 0);
    struct ldg_ledger *l2 = t_ledger_new(d2, sizeof d2, 0);
    struct ldg_metrics *m;
    (void)state;

    t_append_many(l1, 10);
    t_append_many(l2, 12);
    assert_int_equal(ldg_metrics_new(&m), 0);
    update(m, l1, 11);
    snprintf(path, sizeof path, "%s/cache.json", d1);
    assert_int_equal(ldg_metrics_save(m, path, err, sizeof err), 0);
    /* l2 is longer, but its event 10 is not l1's: counted from 0 */
    assert_int_equal(ldg_metrics_load(m, path), 0);
    update(m, l2, 13);
    /* a shorter log: from 0 too */
    update(m, l1, 11);
    ldg_metrics_free(m);
    ldg_close(l1);
    ldg_close(l2);
    t_rmrf(d1);
    t_rmrf(d2);
}

static void
test_collect__damaged_cache_is_refused(void **state)
{
    char dir[512], path[600];
    struct ldg_metrics *m;
    FILE *f;
    (void)state;

    snprintf(dir, sizeof dir, "/tmp/ldg-mc-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/c.json", dir);
    assert_int_equal(ldg_metrics_new(&m), 0);
    assert_int_equal(ldg_metrics_load(m, path), LDG_ENOTFOUND);
    f = fopen(path, "w");
    fputs("{\"version\":1,\"size\":\"5\",\"leaf\":\"zz\"}", f);
    fclose(f);
    assert_int_equal(ldg_metrics_load(m, path), LDG_ECORRUPT);
    assert_int_equal(ldg_metrics_size(m), 0);
    f = fopen(path, "w");
    fputs("{\"version\":99}", f);
    fclose(f);
    assert_int_equal(ldg_metrics_load(m, path), LDG_ECORRUPT);
    f = fopen(path, "w");
    fputs("not json", f);
    fclose(f);
    assert_int_equal(ldg_metrics_load(m, path), LDG_ECORRUPT);
    ldg_metrics_free(m);
    t_rmrf(dir);
}

/* A cache that gives a series twice, or an index past the labels it
 * lists, is not one this code wrote. */
static void
test_collect__cache_with_bad_series_is_refused(void **state)
{
    char dir[512], path[600], err[512];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_metrics *m;
    json_t *o, *reqs;
    (void)state;

    proxy_req(l, "a", 200, "ok", 1, 1, 1, 1);
    assert_int_equal(ldg_metrics_new(&m), 0);
    update(m, l, 2);
    snprintf(path, sizeof path, "%s/c.json", dir);
    assert_int_equal(ldg_metrics_save(m, path, err, sizeof err), 0);
    assert_int_equal(ldg_metrics_load(m, path), 0);
    o = json_load_file(path, 0, NULL);
    assert_non_null(o);
    reqs = json_object_get(o, "requests");
    assert_int_equal(json_array_size(reqs), 1);
    json_array_append(reqs, json_array_get(reqs, 0));
    assert_int_equal(json_dump_file(o, path, 0), 0);
    assert_int_equal(ldg_metrics_load(m, path), LDG_ECORRUPT);
    json_array_remove(reqs, 1);
    json_array_set_new(json_array_get(reqs, 0), 0, json_integer(7));
    assert_int_equal(json_dump_file(o, path, 0), 0);
    assert_int_equal(ldg_metrics_load(m, path), LDG_ECORRUPT);
    json_decref(o);
    ldg_metrics_free(m);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_collect__labels_are_bounded(void **state)
{
    char dir[512], name[64];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_metrics *m;
    char *text, *p;
    size_t series = 0;
    (void)state;

    for (int i = 0; i < LDG_METRICS_MODELS_MAX + 6; i++) {
        snprintf(name, sizeof name, "model-%d", i);
        proxy_req(l, name, 200 + i % (LDG_METRICS_STATUSES_MAX + 4), "ok", 1, 1,
                  1, 1);
    }
    proxy_req(l, "one-more", 200, "ok", 1, 1, 1, 1);
    assert_int_equal(ldg_metrics_new(&m), 0);
    update(m, l, LDG_METRICS_MODELS_MAX + 8);
    text = render(m, l);
    for (p = text; (p = strstr(p, "ledger_proxy_tokens_total{")) != NULL; p++)
        series++;
    /* in and out for each named model and for "other" */
    assert_int_equal(series, 2 * (LDG_METRICS_MODELS_MAX + 1));
    assert_non_null(strstr(text, "model=\"other\""));
    assert_non_null(strstr(text, "status=\"other\""));
    assert_null(strstr(text, "one-more")); /* past the limit: "other" */
    free(text);
    ldg_metrics_free(m);
    ldg_close(l);
    t_rmrf(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_collect__counts_proxy_requests),
        cmocka_unit_test(test_collect__counts_what_the_otlp_receiver_recorded),
        cmocka_unit_test(test_collect__incremental_equals_scratch),
        cmocka_unit_test(test_collect__another_log_starts_again),
        cmocka_unit_test(test_collect__damaged_cache_is_refused),
        cmocka_unit_test(test_collect__cache_with_bad_series_is_refused),
        cmocka_unit_test(test_collect__labels_are_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
