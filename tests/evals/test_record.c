/*
 * test_record.c — an eval recorded and what it decides (evals/record.c):
 * the targets, the candidate's digest, a promotion through the gate
 * (promoted, rejected, forced) and the refusals that write nothing (an
 * unknown eval, one still running, a bad target), a rollback to the
 * previous candidate or a named one and its refusals, and an eval run
 * recorded as eval.started and eval.result.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "evals/evals.h"
#include "ledger/module.h"
#include "projections/projections.h"
#include "tests/support/stub.h"
#include "tests/support/support.h"
#include "util/util.h"

#define D1                                                                     \
    "sha256:d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1"

static char dir[256];

static struct ldg_ledger *
fresh(void)
{
    return t_ledger_new(dir, sizeof dir, 0);
}

/* An eval.result of candidate on route:qa: passed, p of 10 cases right,
 * p50 latency ms. */
static void
eval_result(struct ldg_ledger *l, const char *id, const char *cand, int p,
            double ms)
{
    char b[512];
    snprintf(b, sizeof b,
             "{\"eval_id\": \"%s\", \"suite\": \"s\", \"target\": "
             "\"route:qa\", \"candidate\": \"%s\", \"passed\": true, "
             "\"cases_total\": 10, \"cases_passed\": %d, \"metrics\": "
             "{\"pass_rate\": %g, \"latency_p50_ms\": %g}, "
             "\"policy_violations\": 0}",
             id, cand, p, p / 10.0, ms);
    t_append(l, LDG_EV_EVAL_RESULT, b, NULL);
}

static uint64_t
size(struct ldg_ledger *l)
{
    uint64_t n = 0;
    assert_int_equal(ldg_size(l, &n), 0);
    return n;
}

static const char *
str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static void
test_record__targets(void **state)
{
    (void)state;
    assert_true(ldg_eval_target_valid("route:qa"));
    assert_true(ldg_eval_target_valid("pack:pdf-ops/extract"));
    assert_true(ldg_eval_target_valid("model:m1"));
    assert_false(ldg_eval_target_valid("qa"));
    assert_false(ldg_eval_target_valid("route:"));
    assert_false(ldg_eval_target_valid("host:qa"));
    assert_false(ldg_eval_target_valid(""));
    assert_false(ldg_eval_target_valid(NULL));
    {
        /* longer than a subject: no event can be about it */
        char t[LDG_SUBJECT_MAX + 2] = "route:";
        memset(t + 6, 'r', sizeof t - 7);
        t[sizeof t - 1] = '\0';
        assert_false(ldg_eval_target_valid(t));
        t[sizeof t - 2] = '\0';
        assert_true(ldg_eval_target_valid(t));
    }
}

static void
test_record__candidate_digest_as_registered(void **state)
{
    struct ldg_ledger *l = fresh();
    json_t *m;
    (void)state;
    m = ldg_eval_candidate(l, "m1");
    assert_non_null(m);
    assert_true(json_is_null(json_object_get(m, "digest")));
    assert_true(json_is_false(json_object_get(m, "verified")));
    json_decref(m);
    t_append(l, LDG_EV_MODEL_REGISTERED,
             "{\"model\": \"m1\", \"digest\": \"" D1 "\"}", NULL);
    m = ldg_eval_candidate(l, "m1");
    assert_string_equal(str(m, "digest"), D1);
    assert_true(json_is_false(json_object_get(m, "verified")));
    json_decref(m);
    t_append(l, LDG_EV_MODEL_VERIFIED,
             "{\"model\": \"m1\", \"digest\": \"" D1 "\", \"ok\": true}", NULL);
    m = ldg_eval_candidate(l, "m1");
    assert_true(json_is_true(json_object_get(m, "verified")));
    json_decref(m);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_record__promote_through_the_gate(void **state)
{
    struct ldg_ledger *l = fresh();
    struct ldg_promotion p = {"route:qa", "m1", "E-1", "first", 0};
    json_t *b = NULL;
    uint64_t seq = 0, n;
    (void)state;
    t_append(l, LDG_EV_MODEL_REGISTERED,
             "{\"model\": \"m1\", \"digest\": \"" D1 "\"}", NULL);
    eval_result(l, "E-1", "m1", 10, 50);
    eval_result(l, "E-2", "m2", 8, 40);
    /* passes: promoted, with the candidate's digest and the reason */
    n = size(l);
    assert_int_equal(ldg_eval_promote(l, &p, &b, &seq), 0);
    assert_int_equal(seq, n);
    assert_int_equal(size(l), n + 1);
    assert_string_equal(str(b, "candidate"), "m1");
    assert_string_equal(str(b, "candidate_digest"), D1);
    assert_string_equal(str(b, "reason"), "first");
    assert_null(json_object_get(b, "forced"));
    json_decref(b);
    /* worse than m1's: rejected, promotion.rejected says why */
    p = (struct ldg_promotion){"route:qa", "m2", "E-2", NULL, 0};
    assert_int_equal(ldg_eval_promote(l, &p, &b, &seq), 1);
    assert_int_equal(size(l), n + 2);
    assert_non_null(strstr(str(b, "reason"), "pass rate 0.8 is lower than 1"));
    json_decref(b);
    {
        struct ldg_event ev;
        struct ldg_txn *t = NULL;
        assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
        assert_int_equal(ldg_event_get(t, seq, &ev), 0);
        assert_string_equal(ev.type, LDG_EV_PROMOTION_REJECTED);
        ldg_txn_abort(t);
    }
    /* forced: promoted all the same, marked */
    p.force = 1;
    assert_int_equal(ldg_eval_promote(l, &p, &b, &seq), 0);
    assert_true(json_is_true(json_object_get(b, "forced")));
    assert_non_null(strstr(str(b, "gate_failed"), "pass rate"));
    assert_true(json_is_null(json_object_get(b, "candidate_digest")));
    json_decref(b);
    /* an eval of another candidate: rejected */
    p = (struct ldg_promotion){"route:qa", "m1", "E-2", NULL, 0};
    assert_int_equal(ldg_eval_promote(l, &p, &b, &seq), 1);
    assert_non_null(strstr(str(b, "reason"), "not this target"));
    json_decref(b);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_record__promote_refusals_write_nothing(void **state)
{
    struct ldg_ledger *l = fresh();
    struct ldg_promotion p = {"route:qa", "m1", "E-nope", NULL, 1};
    json_t *b = (json_t *)&p;
    uint64_t seq = 0, n;
    (void)state;
    eval_result(l, "E-1", "m1", 10, 50);
    t_append(l, LDG_EV_EVAL_STARTED,
             "{\"eval_id\": \"E-9\", \"suite\": \"s\", \"target\": "
             "\"route:qa\", \"candidate\": \"m1\"}",
             NULL);
    n = size(l);
    /* an unknown eval, forced or not */
    assert_int_equal(ldg_eval_promote(l, &p, &b, &seq), LDG_ENOTFOUND);
    assert_null(b);
    assert_non_null(strstr(ldg_errmsg(l), "no eval E-nope in the log"));
    assert_non_null(strstr(ldg_errmsg(l), "ledger evals"));
    /* one that has started and not finished */
    p.eval_id = "E-9";
    assert_int_equal(ldg_eval_promote(l, &p, &b, &seq), LDG_ENOTFOUND);
    assert_non_null(strstr(ldg_errmsg(l), "has started but has no result"));
    /* an id too long to look up is none */
    {
        char longid[1024];
        memset(longid, 'E', sizeof longid - 1);
        longid[sizeof longid - 1] = '\0';
        p.eval_id = longid;
        assert_int_equal(ldg_eval_promote(l, &p, &b, &seq), LDG_ENOTFOUND);
    }
    /* a bad target, a missing argument */
    p = (struct ldg_promotion){"qa", "m1", "E-1", NULL, 0};
    assert_int_equal(ldg_eval_promote(l, &p, &b, &seq), LDG_EINVAL);
    assert_non_null(strstr(ldg_errmsg(l), "'qa' is not route:NAME"));
    p = (struct ldg_promotion){"route:qa", NULL, "E-1", NULL, 0};
    assert_int_equal(ldg_eval_promote(l, &p, &b, &seq), LDG_EINVAL);
    assert_int_equal(ldg_eval_promote(l, NULL, &b, &seq), LDG_EINVAL);
    assert_int_equal(size(l), n);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_record__rollback(void **state)
{
    struct ldg_ledger *l = fresh();
    struct ldg_promotion p = {"route:qa", "m1", "E-1", NULL, 0};
    json_t *b = NULL;
    uint64_t seq = 0, n;
    (void)state;
    eval_result(l, "E-1", "m1", 10, 50);
    eval_result(l, "E-2", "m2", 10, 40);
    n = size(l);
    /* nothing promoted before: nothing to go back to */
    assert_int_equal(ldg_eval_rollback(l, "route:qa", NULL, "why", &b, &seq),
                     LDG_ENOTFOUND);
    assert_non_null(strstr(ldg_errmsg(l), "route:qa has no earlier promoted "
                                          "candidate to roll back to"));
    assert_int_equal(ldg_eval_promote(l, &p, &b, &seq), 0);
    json_decref(b);
    assert_int_equal(ldg_eval_rollback(l, "route:qa", NULL, "why", &b, &seq),
                     LDG_ENOTFOUND);
    p = (struct ldg_promotion){"route:qa", "m2", "E-2", NULL, 0};
    assert_int_equal(ldg_eval_promote(l, &p, &b, &seq), 0);
    json_decref(b);
    n = size(l);
    /* refusals: no reason, a bad target; nothing written */
    assert_int_equal(ldg_eval_rollback(l, "route:qa", NULL, "", &b, &seq),
                     LDG_EINVAL);
    assert_int_equal(ldg_eval_rollback(l, "route:qa", NULL, NULL, &b, &seq),
                     LDG_EINVAL);
    assert_int_equal(ldg_eval_rollback(l, "qa", "m1", "why", &b, &seq),
                     LDG_EINVAL);
    assert_int_equal(ldg_eval_rollback(l, "route:qa", "", "why", &b, &seq),
                     LDG_EINVAL);
    assert_null(b);
    assert_int_equal(size(l), n);
    /* back to the previous one */
    assert_int_equal(
        ldg_eval_rollback(l, "route:qa", NULL, "worse answers", &b, &seq), 0);
    assert_int_equal(seq, n);
    assert_string_equal(str(b, "to"), "m1");
    assert_string_equal(str(b, "reason"), "worse answers");
    json_decref(b);
    {
        /* the promotions view follows it: m1 is current again */
        json_t *rows = NULL, *row;
        assert_int_equal(
            ldg_projections_view(l, LDG_VIEW_PROMOTIONS, NULL, &rows), 0);
        assert_int_equal(json_array_size(rows), 1);
        row = json_array_get(rows, 0);
        assert_string_equal(str(row, "target"), "route:qa");
        assert_string_equal(str(row, "candidate"), "m1");
        json_decref(rows);
    }
    /* or to a named one */
    assert_int_equal(ldg_eval_rollback(l, "route:qa", "m0", "x", &b, &seq), 0);
    assert_string_equal(str(b, "to"), "m0");
    json_decref(b);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_record__eval_run_recorded(void **state)
{
    struct ldg_ledger *l = fresh();
    struct ldg_eval_suite *s = NULL;
    struct ldg_eval_report rep;
    struct ldg_eval_run_opts o;
    char err[256], ep[64];
    const char *suite = "{\"id\": \"a\", \"prompt\": \"x\", \"assert\": "
                        "[{\"type\": \"equals\", \"value\": \"y\"}]}\n";
    json_t *r = NULL;
    uint64_t seq = 0, n;
    (void)state;
    assert_int_equal(ldg_eval_suite_parse(&s, "s.jsonl", suite, strlen(suite),
                                          err, sizeof err),
                     0);
    /* a port nothing listens on: the case fails, the run is recorded */
    snprintf(ep, sizeof ep, "http://127.0.0.1:%d/v1", t_unused_port());
    memset(&o, 0, sizeof o);
    o.endpoint = ep;
    o.model = "m1";
    o.seed = -1;
    memset(&rep, 0, sizeof rep);
    n = size(l);
    assert_int_equal(ldg_eval_record(l, s, &o, "qa", &rep, &r, &seq),
                     LDG_EINVAL);
    assert_int_equal(size(l), n);
    assert_int_equal(ldg_eval_record(l, s, &o, "route:qa", &rep, &r, &seq), 0);
    assert_int_equal(size(l), n + 2);
    assert_int_equal(seq, n + 1);
    assert_int_equal(rep.total, 1);
    assert_int_equal(rep.request_failures, 1);
    assert_false(rep.threshold_passed);
    assert_true(json_is_false(json_object_get(r, "passed")));
    assert_int_equal(strncmp(str(r, "eval_id"), "E-", 2), 0);
    assert_string_equal(str(r, "target"), "route:qa");
    assert_true(json_is_null(json_object_get(r, "candidate_digest")));
    assert_true(json_is_boolean(json_object_get(r, "candidate_verified")));
    {
        /* eval.started first, with the same id */
        struct ldg_txn *t = NULL;
        struct ldg_event ev;
        json_t *b = NULL;
        assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
        assert_int_equal(ldg_event_get(t, n, &ev), 0);
        assert_string_equal(ev.type, LDG_EV_EVAL_STARTED);
        assert_int_equal(ldg_body_get(t, n, &b), 0);
        assert_string_equal(str(b, "eval_id"), str(r, "eval_id"));
        json_decref(b);
        ldg_txn_abort(t);
    }
    ldg_eval_report_release(&rep);
    json_decref(r);
    ldg_eval_suite_free(s);
    ldg_close(l);
    t_rmrf(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record__targets),
        cmocka_unit_test(test_record__candidate_digest_as_registered),
        cmocka_unit_test(test_record__promote_through_the_gate),
        cmocka_unit_test(test_record__promote_refusals_write_nothing),
        cmocka_unit_test(test_record__rollback),
        cmocka_unit_test(test_record__eval_run_recorded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
