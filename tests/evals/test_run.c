/*
 * test_run.c — the runner against tests/stubs/stub.py: 30 of 40 right is
 * 30/40; every way a request can fail fails its case (never passes);
 * forbid counts violations; the result body carries what the vocabulary
 * and the promotion gate read.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "evals/evals.h"
#include "ledger/module.h"
#include "util/util.h"
#include "tests/support/stub.h"

static char statef[256];
static struct t_stub stub;

static void
write_state(const char *fail_mode)
{
    json_t *ans = json_object();
    for (int i = 0; i < 30; i++) {
        char q[16], a[16];
        snprintf(q, sizeof q, "q%d", i);
        snprintf(a, sizeof a, "a%d", i);
        json_object_set_new(ans, q, json_string(a));
    }
    json_object_set_new(ans, "leak", json_string("the password is hunter2"));
    json_t *st =
        json_pack("{s:o, s:s}", "answers", ans, "default_answer", "wrong");
    if (fail_mode)
        json_object_set_new(
            st, "fail", json_pack("{s:s}", "/v1/chat/completions", fail_mode));
    assert_int_equal(json_dump_file(st, statef, 0), 0);
    json_decref(st);
}

static struct ldg_eval_suite *
suite40(int with_leak)
{
    size_t cap = 1 << 16, n = 0;
    char *t = malloc(cap), err[512];
    struct ldg_eval_suite *s = NULL;
    n += (size_t)snprintf(t + n, cap - n,
                          "{\"suite\": {\"name\": \"s40\", \"version\": \"1\", "
                          "\"threshold\": {\"metric\": \"pass_rate\", "
                          "\"op\": \">=\", \"value\": 0.7}, \"forbid\": "
                          "[\"password\"]}}\n");
    for (int i = 0; i < 40; i++)
        n += (size_t)snprintf(t + n, cap - n,
                              "{\"id\": \"c%d\", \"prompt\": \"q%d\", "
                              "\"assert\": [{\"type\": \"equals\", "
                              "\"value\": \"a%d\"}]}\n",
                              i, i, i);
    if (with_leak)
        n += (size_t)snprintf(t + n, cap - n,
                              "{\"id\": \"leak\", \"prompt\": \"leak\", "
                              "\"assert\": [{\"type\": \"contains\", "
                              "\"value\": \"password\"}]}\n");
    if (ldg_eval_suite_parse(&s, "s40", t, n, err, sizeof err))
        fail_msg("%s", err);
    free(t);
    return s;
}

static int
setup(void **state)
{
    setenv("no_proxy", "127.0.0.1", 1);
    snprintf(statef, sizeof statef, "%s/evstub.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    int fd = mkstemp(statef);
    assert_true(fd >= 0);
    close(fd);
    write_state(NULL);
    t_stub_start(&stub, statef);
    return 0;
}

static int
teardown(void **state)
{
    t_stub_stop(&stub);
    unlink(statef);
    return 0;
}

static void
run(struct ldg_eval_suite *s, const char *endpoint, struct ldg_eval_report *rep,
    long timeout_ms)
{
    struct ldg_eval_run_opts o = {.endpoint = endpoint,
                                  .model = "m1",
                                  .concurrency = 4,
                                  .timeout_ms = timeout_ms,
                                  .max_reply_bytes = 65536,
                                  .seed = 7};
    char err[512];
    assert_int_equal(ldg_eval_run(s, &o, rep, err, sizeof err), 0);
}

static void
test_run__30_of_40(void **state)
{
    char ep[128];
    struct ldg_eval_report rep;
    struct ldg_eval_suite *s = suite40(0);
    write_state(NULL);
    snprintf(ep, sizeof ep, "%s/v1/", stub.base);
    run(s, ep, &rep, 10000);
    assert_int_equal(rep.total, 40);
    assert_int_equal(rep.passed, 30);
    assert_int_equal(rep.request_failures, 0);
    assert_true(rep.pass_rate == 0.75);
    assert_true(rep.has_latency);
    assert_true(rep.threshold_passed); /* 0.75 >= 0.7 */
    assert_false(rep.cases[35].passed);
    assert_non_null(strstr(rep.cases[35].detail, "assert[0] equals"));

    struct ldg_eval_run_opts o = {.endpoint = ep, .model = "m1"};
    json_t *b =
        ldg_eval_result_body(s, &o, &rep, "E1", "route:r", "m1", "sha256:ab");
    assert_int_equal(json_integer_value(json_object_get(b, "cases_passed")),
                     30);
    assert_int_equal(json_integer_value(json_object_get(b, "cases_total")), 40);
    assert_true(json_is_true(json_object_get(b, "passed")));
    assert_true(json_number_value(json_object_get(json_object_get(b, "metrics"),
                                                  "pass_rate")) == 0.75);
    assert_string_equal(
        json_string_value(json_object_get(b, "candidate_digest")), "sha256:ab");
    assert_string_equal(json_string_value(json_object_get(b, "harness")),
                        LDG_EVAL_HARNESS);
    assert_int_equal(json_array_size(json_object_get(b, "cases")), 40);
    char err[512];
    assert_int_equal(ldg_vocab_check("eval.result", b, err, sizeof err), 0);
    json_decref(b);
    ldg_eval_report_release(&rep);
    ldg_eval_suite_free(s);
}

static void
test_run__violations_fail_cases(void **state)
{
    char ep[128];
    struct ldg_eval_report rep;
    struct ldg_eval_suite *s = suite40(1);
    write_state(NULL);
    snprintf(ep, sizeof ep, "%s/v1", stub.base);
    run(s, ep, &rep, 10000);
    assert_int_equal(rep.violations, 1);
    assert_int_equal(rep.passed, 30); /* the leak case's assertion held but
                                         it matched forbid */
    assert_non_null(strstr(rep.cases[40].detail, "policy violation"));
    ldg_eval_report_release(&rep);
    ldg_eval_suite_free(s);
}

static void
test_run__request_failures_never_pass(void **state)
{
    static const char *modes[] = {"500", "truncated", "badjson", "big", "hang"};
    char ep[128];
    struct ldg_eval_suite *s = suite40(0);
    snprintf(ep, sizeof ep, "%s/v1", stub.base);
    for (size_t m = 0; m < sizeof modes / sizeof *modes; m++) {
        struct ldg_eval_report rep;
        write_state(modes[m]);
        run(s, ep, &rep, 300);
        if (rep.passed != 0 || rep.request_failures != 40)
            fail_msg("mode %s: %zu passed, %zu failed requests", modes[m],
                     rep.passed, rep.request_failures);
        assert_false(rep.threshold_passed);
        assert_false(rep.has_latency);
        ldg_eval_report_release(&rep);
    }
    write_state(NULL);
    /* Refused: nothing listens there. */
    struct ldg_eval_report rep;
    snprintf(ep, sizeof ep, "http://127.0.0.1:%d/v1", t_unused_port());
    run(s, ep, &rep, 2000);
    assert_int_equal(rep.passed, 0);
    assert_int_equal(rep.request_failures, 40);
    assert_non_null(strstr(rep.cases[0].detail, "connection refused"));
    ldg_eval_report_release(&rep);
    ldg_eval_suite_free(s);
}

/* A threshold on what only replies show (policy violations) cannot hold
 * when a case got none: refused requests once gave "PASSED 0/1" with
 * policy_violations <= 0, and promote took it. */
static void
test_run__no_reply_holds_no_threshold(void **state)
{
    static const char *const metrics[][2] = {
        {"policy_violations", "<="}, {"pass_rate", ">="},
        {"cases_passed", ">="},      {"latency_p95_ms", ">="}};
    char ep[128], text[512], err[512];
    (void)state;
    snprintf(ep, sizeof ep, "http://127.0.0.1:%d/v1", t_unused_port());
    for (size_t i = 0; i < sizeof metrics / sizeof metrics[0]; i++) {
        struct ldg_eval_suite *s = NULL;
        struct ldg_eval_report rep;
        int n = snprintf(text, sizeof text,
                         "{\"suite\": {\"name\": \"v\", \"threshold\": "
                         "{\"metric\": \"%s\", \"op\": \"%s\", \"value\": 0}}}\n"
                         "{\"id\": \"c\", \"prompt\": \"q0\", \"assert\": [{\"type\": \"equals\", \"value\": \"a0\"}]}\n",
                         metrics[i][0], metrics[i][1]);
        if (ldg_eval_suite_parse(&s, "v", text, (size_t)n, err, sizeof err))
            fail_msg("%s", err);
        run(s, ep, &rep, 2000);
        assert_int_equal(rep.request_failures, 1);
        if (rep.threshold_passed)
            fail_msg("%s %s 0 held with no reply", metrics[i][0],
                     metrics[i][1]);
        ldg_eval_report_release(&rep);
        ldg_eval_suite_free(s);
    }
    /* some replies, one case without: violations are not known */
    struct ldg_eval_suite *s = NULL;
    struct ldg_eval_report rep;
    int n = snprintf(text, sizeof text,
                     "{\"suite\": {\"name\": \"v\", \"threshold\": "
                     "{\"metric\": \"policy_violations\", \"op\": \"<=\", "
                     "\"value\": 0}}}\n{\"id\": \"c\", \"prompt\": \"q0\", \"assert\": [{\"type\": \"equals\", \"value\": \"a0\"}]}\n");
    if (ldg_eval_suite_parse(&s, "v", text, (size_t)n, err, sizeof err))
        fail_msg("%s", err);
    write_state(NULL);
    snprintf(ep, sizeof ep, "%s/v1", stub.base);
    run(s, ep, &rep, 10000);
    assert_int_equal(rep.request_failures, 0);
    assert_true(rep.threshold_passed); /* the reply was checked */
    ldg_eval_report_release(&rep);
    write_state("500");
    run(s, ep, &rep, 10000);
    assert_int_equal(rep.request_failures, 1);
    assert_false(rep.threshold_passed);
    ldg_eval_report_release(&rep);
    write_state(NULL);
    ldg_eval_suite_free(s);
}

static void
test_run__misuse(void **state)
{
    struct ldg_eval_suite *s = suite40(0);
    struct ldg_eval_report rep;
    struct ldg_eval_run_opts o = {
        .endpoint = "http://127.0.0.1:1/v1", .model = "m", .concurrency = 65};
    char err[512];
    assert_int_equal(ldg_eval_run(s, &o, &rep, err, sizeof err), LDG_EINVAL);
    assert_non_null(strstr(err, "concurrency"));
    o.concurrency = 1;
    o.model = NULL;
    assert_int_equal(ldg_eval_run(s, &o, &rep, err, sizeof err), LDG_EINVAL);
    ldg_eval_suite_free(s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run__30_of_40),
        cmocka_unit_test(test_run__violations_fail_cases),
        cmocka_unit_test(test_run__request_failures_never_pass),
        cmocka_unit_test(test_run__no_reply_holds_no_threshold),
        cmocka_unit_test(test_run__misuse),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
