/*
 * test_fold.c — single folds, event by event, on a memory-only state.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "projections/proj_int.h"

static uint64_t next_seq;

/* Folds one event given as type, subject, run and body text. */
static void
fold(struct pstate *ps, const char *type, const char *subject, const char *run,
     const char *body)
{
    struct penv e;
    struct ldg_body_view *b = NULL;
    json_t *j = NULL;
    assert_int_equal(ldg_body_view_new(&b), 0);
    memset(&e, 0, sizeof e);
    e.seq = next_seq++;
    e.ts = 1000000000ull * (e.seq + 1);
    e.type = ev_type_of(type, strlen(type));
    e.subject.p = subject ? subject : "";
    e.subject.n = strlen(e.subject.p);
    e.run.p = run ? run : "";
    e.run.n = strlen(e.run.p);
    if (body != NULL) {
        j = json_loads(body, 0, NULL);
        assert_non_null(j);
    }
    ldg_body_view_set_json(b, j); /* NULL: erased */
    assert_int_equal(fold_event(ps, &e, b), 0);
    json_decref(j);
    ldg_body_view_free(b);
}

static struct pstate *
fresh(void)
{
    struct pstate *ps;
    next_seq = 1;
    assert_int_equal(ps_new(&ps, NULL, NULL, 0, P_ALL), 0);
    return ps;
}

static void *
get(struct pstate *ps, enum proj_id p, uint8_t tag, const char *a,
    const char *b, const char *c)
{
    uint8_t key[PROJ_KEY_MAX + 1];
    struct ldg_slice parts[3] = {{a, strlen(a)},
                                 {b ? b : "", b ? strlen(b) : 0},
                                 {c ? c : "", c ? strlen(c) : 0}};
    size_t kl = pkey(key, tag, parts, c ? 3 : b ? 2 : 1);
    return ps_get(ps, p, key, kl);
}

static void
test_fold__a_request_does_not_undo_a_grant(void **state)
{
    struct pstate *ps = fresh();
    const struct rec_perm *g;
    (void)state;
    fold(ps, "permission.granted", NULL, NULL,
         "{\"pack\":\"p\",\"group\":\"g\",\"scope\":\"s\",\"by\":\"a\"}");
    fold(ps, "permission.requested", NULL, NULL,
         "{\"pack\":\"p\",\"group\":\"g\",\"scope\":\"s\",\"tier\":\"T2\"}");
    g = get(ps, P_PERMISSIONS, TAG_PERM, "p", "g", "s");
    assert_non_null(g);
    assert_int_equal(g->state, PS_GRANTED);
    assert_int_equal(g->decided_seq, 1);
    assert_int_equal(g->requested_seq, 2);
    assert_string_equal(g->tier, "T2");
    ps_free(ps);
}

static void
test_fold__an_upgrade_keeps_old_groups_and_opens_new_ones(void **state)
{
    struct pstate *ps = fresh();
    const struct rec_pack *p;
    (void)state;
    fold(ps, "pack.installed", NULL, NULL,
         "{\"pack\":\"p\",\"version\":\"1\",\"manifest_digest\":\"d\","
         "\"requires\":{\"permissions\":[{\"group\":\"a\",\"scope\":\"x\"}]}}");
    fold(ps, "pack.validated", NULL, NULL, "{\"pack\":\"p\",\"ok\":true}");
    fold(ps, "pack.upgraded", NULL, NULL,
         "{\"pack\":\"p\",\"from\":\"1\",\"to\":\"2\",\"manifest_digest\":"
         "\"e\",\"requires\":{\"permissions\":[{\"group\":\"a\",\"scope\":"
         "\"x\"},{\"group\":\"b\",\"scope\":\"y\",\"optional\":true}]}}");
    p = get(ps, P_PACKS, TAG_PACK, "p", NULL, NULL);
    assert_non_null(p);
    assert_int_equal(p->nperms, 2);
    assert_int_equal(p->perms[0].since_seq, 1); /* from the install */
    assert_int_equal(p->perms[1].since_seq, 3); /* added by the upgrade */
    assert_int_equal(p->perms[1].optional, 1);
    assert_int_equal(p->validated, TRI_NONE); /* re-opened */
    assert_string_equal(p->version, "2");
    assert_string_equal(p->upgraded_from, "1");
    ps_free(ps);
}

static void
test_fold__events_about_unknown_packs_make_no_pack(void **state)
{
    struct pstate *ps = fresh();
    (void)state;
    fold(ps, "pack.validated", NULL, NULL, "{\"pack\":\"ghost\",\"ok\":true}");
    fold(ps, "pack.disabled", NULL, NULL, "{\"pack\":\"ghost\"}");
    assert_null(get(ps, P_PACKS, TAG_PACK, "ghost", NULL, NULL));
    ps_free(ps);
}

static void
test_fold__an_erased_decision_counts_by_its_envelope(void **state)
{
    struct pstate *ps = fresh();
    const struct rec_rstats *s;
    const struct rec_run *r;
    (void)state;
    fold(ps, "route.decision", "route:p/r", "R",
         "{\"route\":\"p/r\",\"chosen_model\":\"m\",\"outcome\":\"error\","
         "\"latency_ms\":20,\"fallback\":true}");
    fold(ps, "route.decision", "route:p/r", "R", NULL);
    s = get(ps, P_ROUTES, TAG_RSTATS, "p/r", NULL, NULL);
    assert_non_null(s);
    assert_int_equal(s->count, 2);
    assert_int_equal(s->error, 1);
    assert_int_equal(s->fallback, 1);
    assert_int_equal(s->unknown, 1);
    r = get(ps, P_RUNS, TAG_RUN, "R", NULL, NULL);
    assert_non_null(r);
    assert_int_equal(r->decisions, 2);
    assert_int_equal(r->dec_error, 1);
    assert_int_equal(r->events, 2);
    /* a decision alone declares no route */
    assert_null(get(ps, P_ROUTES, TAG_ROUTE, "p/r", NULL, NULL));
    ps_free(ps);
}

/* One model call seen twice (issue 63: `ledger routes` counted 9 for 5
 * calls): the app's span of it (a decision span), the HTTP client span
 * under it, the proxy's record whose caller is that client span, and the
 * agent span above. In every order the log may hold them, the route
 * counts one call, as the app's span says it (error, 400 ms); a proxy
 * record of another trace and one with no app span stay counted. */
static void
test_fold__a_call_both_witnessed_counts_once_in_any_order(void **state)
{
    static const char *const ev[4][3] = {
        {"route.decision", "T",
         "{\"route\":\"r\",\"chosen_model\":\"m\",\"trace_id\":\"t1\","
         "\"span_id\":\"a1\",\"parent_span_id\":\"g1\",\"outcome\":"
         "\"error\",\"latency_ms\":400}"},
        {"otel.span", "T",
         "{\"name\":\"POST\",\"kind\":\"client\",\"trace_id\":\"t1\","
         "\"span_id\":\"h1\",\"parent_span_id\":\"a1\"}"},
        {"route.decision", "T",
         "{\"route\":\"r\",\"chosen_model\":\"m\",\"upstream\":\"o\","
         "\"trace_id\":\"t1\",\"parent_span_id\":\"h1\",\"outcome\":"
         "\"client-gone\",\"latency_ms\":2000,\"fallback\":true}"},
        {"otel.span", "T",
         "{\"name\":\"agent\",\"trace_id\":\"t1\",\"span_id\":\"g1\"}"},
    };
    static const int perm[24][4] = {
        {0, 1, 2, 3}, {0, 1, 3, 2}, {0, 2, 1, 3}, {0, 2, 3, 1}, {0, 3, 1, 2},
        {0, 3, 2, 1}, {1, 0, 2, 3}, {1, 0, 3, 2}, {1, 2, 0, 3}, {1, 2, 3, 0},
        {1, 3, 0, 2}, {1, 3, 2, 0}, {2, 0, 1, 3}, {2, 0, 3, 1}, {2, 1, 0, 3},
        {2, 1, 3, 0}, {2, 3, 0, 1}, {2, 3, 1, 0}, {3, 0, 1, 2}, {3, 0, 2, 1},
        {3, 1, 0, 2}, {3, 1, 2, 0}, {3, 2, 0, 1}, {3, 2, 1, 0}};
    (void)state;
    for (int k = 0; k < 24; k++) {
        struct pstate *ps = fresh();
        const struct rec_rstats *s;
        uint64_t n = 0;
        for (int i = 0; i < 4; i++)
            fold(ps, ev[perm[k][i]][0], "route:r", ev[perm[k][i]][1],
                 ev[perm[k][i]][2]);
        s = get(ps, P_ROUTES, TAG_RSTATS, "r", NULL, NULL);
        assert_non_null(s);
        assert_int_equal(s->count, 1);
        assert_int_equal(s->error, 1);
        assert_int_equal(s->fallback, 0);
        for (int j = 0; j < HIST_N; j++)
            n += s->hist[j];
        assert_int_equal(n, 1);
        assert_int_equal(hist_percentile(s->hist, 0.5) < 1000, 1);
        /* a proxy record whose caller no app span names: counted */
        fold(ps, "route.decision", "route:r", "U",
             "{\"route\":\"r\",\"upstream\":\"o\",\"trace_id\":\"t2\","
             "\"parent_span_id\":\"x9\",\"outcome\":\"ok\"}");
        s = get(ps, P_ROUTES, TAG_RSTATS, "r", NULL, NULL);
        assert_int_equal(s->count, 2);
        ps_free(ps);
    }
}

static void
test_fold__metrics_are_kept_by_name_and_bounded(void **state)
{
    struct pstate *ps = fresh();
    const struct rec_reval *e;
    char body[2048];
    size_t n;
    (void)state;
    n = (size_t)snprintf(body, sizeof body,
                         "{\"eval_id\":\"E\",\"suite\":\"s\",\"target\":"
                         "\"route:r\",\"candidate\":\"m\",\"passed\":true,"
                         "\"cases_total\":1,\"cases_passed\":1,\"metrics\":{");
    for (int i = 20; i >= 0; i--)
        n += (size_t)snprintf(body + n, sizeof body - n, "\"m%02d\":%d,", i, i);
    snprintf(body + n, sizeof body - n, "\"text\":\"x\"}}");
    fold(ps, "eval.result", NULL, NULL, body);
    e = get(ps, P_ROUTES, TAG_REVAL, "r", "m", NULL);
    assert_non_null(e);
    assert_int_equal(e->nmetrics, PROJ_METRICS_MAX);
    for (uint32_t i = 0; i < e->nmetrics; i++) {
        char want[16];
        snprintf(want, sizeof want, "m%02u", i);
        assert_string_equal(e->m[i].name, want);
        assert_true(e->m[i].v == (double)i);
    }
    ps_free(ps);
}

static void
test_fold__long_text_is_cut_on_a_character_boundary(void **state)
{
    struct pstate *ps = fresh();
    const struct rec_pack *p;
    char *body = malloc(8192), *reason = malloc(4096);
    size_t n = 0;
    (void)state;
    while (n + 2 < 3000) {
        memcpy(reason + n, "\xc3\xa9", 2); /* é */
        n += 2;
    }
    reason[n] = '\0';
    fold(ps, "pack.installed", NULL, NULL,
         "{\"pack\":\"p\",\"version\":\"1\",\"manifest_digest\":\"d\"}");
    snprintf(body, 8192, "{\"pack\":\"p\",\"reason\":\"%s\"}", reason);
    fold(ps, "pack.disabled", NULL, NULL, body);
    p = get(ps, P_PACKS, TAG_PACK, "p", NULL, NULL);
    assert_true(strlen(p->lifecycle_reason) <= PROJ_STR_MAX);
    assert_int_equal(strlen(p->lifecycle_reason) % 2, 0);
    {
        json_t *v = json_string(p->lifecycle_reason); /* valid UTF-8 */
        assert_non_null(v);
        json_decref(v);
    }
    free(body);
    free(reason);
    ps_free(ps);
}

static void
test_fold__oversized_requirements_make_the_pack_invalid(void **state)
{
    struct pstate *ps = fresh();
    const struct rec_pack *p;
    json_t *b = json_pack("{s:s, s:s, s:s, s:{s:[]}}", "pack", "p", "version",
                          "1", "manifest_digest", "d", "requires", "routes");
    json_t *routes = json_object_get(json_object_get(b, "requires"), "routes");
    char *text;
    json_t *reasons = json_array();
    int partial;
    (void)state;
    for (int i = 0; i <= PROJ_LIST_MAX; i++)
        json_array_append_new(routes, json_sprintf("r%d", i));
    text = json_dumps(b, JSON_COMPACT);
    fold(ps, "pack.installed", NULL, NULL, text);
    fold(ps, "pack.validated", NULL, NULL, "{\"pack\":\"p\",\"ok\":true}");
    p = get(ps, P_PACKS, TAG_PACK, "p", NULL, NULL);
    assert_int_equal(p->requires_state, 1);
    assert_int_equal(p->routes.n, PROJ_LIST_MAX);
    assert_int_equal(pack_state_of(ps, p, 0, &partial, reasons), PK_INVALID);
    free(text);
    json_decref(b);
    json_decref(reasons);
    ps_free(ps);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fold__a_request_does_not_undo_a_grant),
        cmocka_unit_test(
            test_fold__an_upgrade_keeps_old_groups_and_opens_new_ones),
        cmocka_unit_test(test_fold__events_about_unknown_packs_make_no_pack),
        cmocka_unit_test(test_fold__an_erased_decision_counts_by_its_envelope),
        cmocka_unit_test(
            test_fold__a_call_both_witnessed_counts_once_in_any_order),
        cmocka_unit_test(test_fold__metrics_are_kept_by_name_and_bounded),
        cmocka_unit_test(test_fold__long_text_is_cut_on_a_character_boundary),
        cmocka_unit_test(
            test_fold__oversized_requirements_make_the_pack_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
