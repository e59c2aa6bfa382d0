/*
 * test_scan.c — the folds' envelopes and bodies from the core's scan are
 * exactly what the core's decoders give; event types; time values.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "projections/proj_int.h"
#include "tests/support/support.h"

struct seen {
    struct ldg_txn *t;
    uint64_t n, erased;
};

static int
compare_cb(void *ctx, const struct penv *e, const struct ldg_body_view *b)
{
    struct seen *s = ctx;
    struct ldg_event ev;
    json_t *body = NULL, *v;
    const char *k;
    int rc;
    assert_int_equal(ldg_event_get(s->t, e->seq, &ev), 0);
    assert_int_equal(e->seq, s->n);
    assert_int_equal(e->ts, ev.ts_ns);
    assert_int_equal(e->type, ev_type_of(ev.type, strlen(ev.type)));
    assert_int_equal(e->subject.n, strlen(ev.subject));
    assert_memory_equal(e->subject.p, ev.subject, e->subject.n);
    assert_int_equal(e->run.n, strlen(ev.run));
    assert_memory_equal(e->run.p, ev.run, e->run.n);
    rc = ldg_body_get(s->t, e->seq, &body);
    if (rc == LDG_EERASED) {
        assert_true(ldg_body_view_erased(b));
        s->erased++;
    } else {
        assert_int_equal(rc, 0);
        assert_false(ldg_body_view_erased(b));
        if (ev_type_feeds(e->type)) {
            json_object_foreach(body, k, v)
            {
                json_t *w = ldg_body_view_json(b, k);
                if (json_is_null(v))
                    assert_null(w);
                else
                    assert_true(json_equal(v, w));
                json_decref(w);
            }
        }
        json_decref(body);
    }
    s->n++;
    return 0;
}

static void
test_scan__fast_path_reads_what_the_core_reads(void **state)
{
    char dir[256];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_scan_stats st;
    struct seen s;
    uint64_t size;
    uint64_t a, b;
    (void)state;

    t_append(l, "pack.installed",
             "{\"pack\":\"p\",\"version\":\"1\",\"manifest_digest\":\"d\","
             "\"requires\":{\"routes\":[\"p/r\"]}}",
             NULL);
    a = t_append(l, "route.decision",
                 "{\"route\":\"p/r\",\"chosen_model\":\"m\",\"run\":\"R\","
                 "\"latency_ms\":1.5,\"fallback\":false}",
                 NULL);
    t_append(l, "run.step",
             "{\"run\":\"R\",\"step\":\"s\",\"tool\":\"t\",\"status\":\"ok\"}",
             NULL);
    t_append(l, "x.other", "{\"k\":\"v\"}", NULL);
    b = t_append(l, "permission.granted",
                 "{\"pack\":\"p\",\"group\":\"g\",\"scope\":\"s\","
                 "\"by\":\"o\",\"expires\":\"2999-01-01T00:00:00Z\"}",
                 NULL);
    {
        char body[128];
        snprintf(body, sizeof body, "{\"target_seq\":%llu,\"reason\":\"r\"}",
                 (unsigned long long)a);
        t_append(l, "body.erased", body, NULL);
    }
    t_append(l, "model.state", "{\"model\":\"m\",\"state\":\"loaded\"}", NULL);
    (void)b;
    assert_int_equal(ldg_size(l, &size), 0);
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &s.t), 0);
    s.n = 0;
    s.erased = 0;
    assert_int_equal(
        scan_events(s.t, 0, size, P_ALL, compare_cb, &s, NULL, NULL, &st), 0);
    assert_int_equal(s.n, size);
    assert_int_equal(s.erased, 1);
    assert_int_equal(st.erased, 1);
    assert_true(st.fast_bodies >= 5);
    assert_int_equal(st.slow_bodies, 0);
    /* from the middle */
    s.n = 3;
    assert_int_equal(
        scan_events(s.t, 3, size, P_ALL, compare_cb, &s, NULL, NULL, &st), 0);
    assert_int_equal(st.events, size - 3);
    ldg_txn_abort(s.t);
    ldg_close(l);
    t_rmrf(dir);
}

/* compare_cb at any seq, remembering which were seen */
struct seen_at {
    struct seen s;
    uint64_t seqs[32];
    size_t n;
};

static int
record_cb(void *ctx, const struct penv *e, const struct ldg_body_view *b)
{
    struct seen_at *a = ctx;
    assert_true(a->n < 32);
    assert_true(a->n == 0 || e->seq > a->seqs[a->n - 1]);
    a->seqs[a->n++] = e->seq;
    a->s.n = e->seq;
    return compare_cb(&a->s, e, b);
}

/* A fold of some projections only: the permissions view (packs and
 * permissions) gets the events of those types from the type index, an
 * erased body as erased, and no decision or run event; the doctor's inputs
 * get everything but the runs' own events. */
static void
test_scan__a_narrow_fold_reads_only_its_types(void **state)
{
    char dir[256];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_scan_stats st;
    struct seen_at a;
    uint64_t size, pk, rq, gr, ev, ms, er, st0;
    char body[128];
    (void)state;

    pk = t_append(l, "pack.installed",
                  "{\"pack\":\"p\",\"version\":\"1\",\"manifest_digest\":\"d\","
                  "\"requires\":{\"routes\":[\"p/r\"]}}",
                  NULL);
    for (int i = 0; i < 3; i++)
        t_append(l, "route.decision",
                 "{\"route\":\"p/r\",\"chosen_model\":\"m\",\"run\":\"R\","
                 "\"latency_ms\":1.5,\"fallback\":false}",
                 NULL);
    st0 = t_append(l, "run.started", "{\"run\":\"R\",\"pack\":\"p\"}", NULL);
    rq = t_append(
        l, "permission.requested",
        "{\"pack\":\"p\",\"group\":\"g\",\"scope\":\"s\",\"tier\":\"T1\"}",
        NULL);
    t_append(l, "run.step",
             "{\"run\":\"R\",\"step\":\"s\",\"tool\":\"t\",\"status\":\"ok\"}",
             NULL);
    gr = t_append(l, "permission.granted",
                  "{\"pack\":\"p\",\"group\":\"g\",\"scope\":\"s\","
                  "\"by\":\"o\"}",
                  NULL);
    ev = t_append(l, "eval.result",
                  "{\"target\":\"route:p/r\",\"candidate\":\"m\","
                  "\"eval_id\":\"e1\",\"suite\":\"s\",\"passed\":true,"
                  "\"cases_total\":1,\"cases_passed\":1,"
                  "\"metrics\":{\"pass_rate\":1.0}}",
                  NULL);
    snprintf(body, sizeof body, "{\"target_seq\":%llu,\"reason\":\"r\"}",
             (unsigned long long)gr);
    er = t_append(l, "body.erased", body, NULL);
    ms = t_append(l, "model.state", "{\"model\":\"m\",\"state\":\"loaded\"}",
                  NULL);
    assert_int_equal(ldg_size(l, &size), 0);
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &a.s.t), 0);

    memset(&a.seqs, 0, sizeof a.seqs);
    a.n = 0;
    a.s.erased = 0;
    assert_int_equal(scan_events(a.s.t, 0, size,
                                 (1u << P_PACKS) | (1u << P_PERMISSIONS),
                                 record_cb, &a, NULL, NULL, &st),
                     0);
    /* eval.result: a type whose fold is not narrowed down is read */
    assert_int_equal(a.n, 4);
    assert_int_equal(a.seqs[0], pk);
    assert_int_equal(a.seqs[1], rq);
    assert_int_equal(a.seqs[2], gr);
    assert_int_equal(a.seqs[3], ev);
    assert_int_equal(a.s.erased, 1);
    assert_int_equal(st.events, 4);
    assert_int_equal(st.erased, 1);
    /* a range */
    a.n = 0;
    assert_int_equal(scan_events(a.s.t, rq + 1, ev,
                                 (1u << P_PACKS) | (1u << P_PERMISSIONS),
                                 record_cb, &a, NULL, NULL, &st),
                     0);
    assert_int_equal(a.n, 1);
    assert_int_equal(a.seqs[0], gr);

    /* the doctor's inputs: the whole log but run.started and run.step */
    a.n = 0;
    assert_int_equal(scan_events(a.s.t, 0, size,
                                 (1u << P_PACKS) | (1u << P_PERMISSIONS) |
                                     (1u << P_MODELS) | (1u << P_ROUTES) |
                                     (1u << P_PROMOTIONS),
                                 record_cb, &a, NULL, NULL, &st),
                     0);
    assert_int_equal(a.n, size - 2);
    for (size_t i = 0; i < a.n; i++)
        assert_true(a.seqs[i] != st0 && a.seqs[i] != st0 + 2);
    assert_int_equal(a.seqs[a.n - 1], ms);
    assert_true(er < ms);
    ldg_txn_abort(a.s.t);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_scan__event_types_by_name(void **state)
{
    (void)state;
    assert_int_equal(ev_type_of("route.decision", 14), T_ROUTE_DECISION);
    assert_int_equal(ev_type_of("pack.installed", 14), T_PACK_INSTALLED);
    assert_int_equal(ev_type_of("promotion.rolled_back", 21),
                     T_PROMOTION_ROLLED_BACK);
    assert_int_equal(ev_type_of("x.route.decision", 16), T_OTHER);
    assert_int_equal(ev_type_of("pack.installe", 13), T_OTHER);
    assert_false(ev_type_feeds(T_OTHER));
    assert_false(ev_type_feeds(T_EVAL_STARTED));
    assert_true(ev_type_feeds(T_RUN_POLICY));
}

static uint64_t
time_of(const char *json)
{
    json_t *b = json_loads(json, 0, NULL);
    struct ldg_body_view *v = NULL;
    uint64_t t;
    assert_non_null(b);
    assert_int_equal(ldg_body_view_new(&v), 0);
    ldg_body_view_set_json(v, b);
    t = parse_time_ns(v, "t");
    ldg_body_view_free(v);
    json_decref(b);
    return t;
}

static void
test_scan__times_in_rfc3339_and_by_magnitude(void **state)
{
    (void)state;
    assert_int_equal(time_of("{\"t\":\"1970-01-01T00:00:01Z\"}"),
                     1000000000ull);
    /* 2026-11-21T09:00:00.5Z is 1795251600.5 s after the epoch */
    assert_int_equal(time_of("{\"t\":\"2026-11-21T10:00:00.5+01:00\"}"),
                     1795251600500000000ull);
    assert_int_equal(time_of("{\"t\":\"2026-11-21t09:00:00.5z\"}"),
                     time_of("{\"t\":\"2026-11-21T10:00:00.5+01:00\"}"));
    assert_int_equal(time_of("{\"t\":1700000000}"),
                     1700000000ull * 1000000000u);
    assert_int_equal(time_of("{\"t\":1700000000000}"),
                     1700000000ull * 1000000000u);
    assert_int_equal(time_of("{\"t\":1700000000000000}"),
                     1700000000ull * 1000000000u);
    assert_int_equal(time_of("{\"t\":1700000000000000000}"),
                     1700000000ull * 1000000000u);
    /* unreadable: 0 (the fold then treats the grant as expired) */
    assert_int_equal(time_of("{\"t\":\"tomorrow\"}"), 0);
    assert_int_equal(time_of("{\"t\":\"2026-13-01T00:00:00Z\"}"), 0);
    assert_int_equal(time_of("{\"t\":\"2026-01-01T00:00:00\"}"), 0);
    assert_int_equal(time_of("{\"t\":-5}"), 0);
    /* past 2^64 - 1 ns: far ahead, not a wrapped-around time (an expiry in
     * 2999 came out in 2413) */
    assert_int_equal(time_of("{\"t\":\"2999-01-01T00:00:00Z\"}"), UINT64_MAX);
    assert_int_equal(time_of("{\"t\":\"1969-12-31T23:59:59Z\"}"), 0);
    /* a day the month has not is malformed, not the next month's */
    assert_int_equal(time_of("{\"t\":\"2026-02-30T00:00:00Z\"}"), 0);
    assert_int_equal(time_of("{\"t\":\"2026-11-21 10:00:00Z\"}"),
                     time_of("{\"t\":\"2026-11-21T10:00:00Z\"}"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scan__fast_path_reads_what_the_core_reads),
        cmocka_unit_test(test_scan__a_narrow_fold_reads_only_its_types),
        cmocka_unit_test(test_scan__event_types_by_name),
        cmocka_unit_test(test_scan__times_in_rfc3339_and_by_magnitude),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
