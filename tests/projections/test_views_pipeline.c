/*
 * test_views_pipeline.c — the control pipeline's views on a real ledger:
 * violations as {seq (a string), rule, detail}, only_flagged, filters that
 * name nothing, the gates over a --since window, and the plans in the
 * bundle state only when there are plans.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "projections/projections.h"
#include "tests/support/support.h"

static json_t *
view(struct ldg_ledger *l, enum ldg_proj_view v, const char *filter,
     int flagged, uint64_t since_ns, int want_rc)
{
    struct ldg_view_opts o;
    json_t *out = NULL;
    memset(&o, 0, sizeof o);
    o.filter = filter;
    o.only_flagged = flagged;
    o.since_ns = since_ns;
    assert_int_equal(ldg_projections_view(l, v, &o, &out), want_rc);
    return out;
}

static const char *
js(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static void
test_views_pipeline__plans_memory_and_their_violations(void **state)
{
    char dir[256];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    json_t *v, *st = NULL;
    (void)state;
    assert_int_equal(ldg_projections_state_json(l, 0, &st), 0);
    assert_null(json_object_get(st, "plans")); /* none: as before */
    json_decref(st);
    assert_int_equal(ldg_projections_attach(l), 0);
    t_append(l, "plan.state", "{\"plan\":\"A\",\"state\":\"IDLE\"}", NULL);
    t_append(l, "plan.state", "{\"plan\":\"B\",\"state\":\"PLAN\"}", NULL);
    t_append(l, "plan.state", "{\"plan\":\"B\",\"state\":\"PROMOTE\"}", NULL);
    t_append(l, "memory.admitted", "{\"item\":\"m\"}", NULL);
    v = view(l, LDG_VIEW_PLANS, NULL, 0, 0, 0);
    assert_int_equal(json_array_size(v), 2);
    assert_int_equal(
        json_array_size(json_object_get(json_array_get(v, 0), "violations")),
        0);
    json_decref(v);
    v = view(l, LDG_VIEW_PLANS, NULL, 1, 0, 0);
    assert_int_equal(json_array_size(v), 1);
    assert_string_equal(js(json_array_get(v, 0), "plan"), "B");
    {
        const json_t *x = json_array_get(
            json_object_get(json_array_get(v, 0), "violations"), 0);
        assert_string_equal(js(x, "seq"), "3");
        assert_string_equal(js(x, "rule"), "promote-without-verify");
        assert_non_null(js(x, "detail"));
    }
    json_decref(v);
    /* A conforms: flagged, nothing; it is there, so no "no such plan" */
    v = view(l, LDG_VIEW_PLANS, "A", 1, 0, 0);
    assert_int_equal(json_array_size(v), 0);
    json_decref(v);
    view(l, LDG_VIEW_PLANS, "Z", 0, 0, LDG_ENOTFOUND);
    assert_string_equal(ldg_errmsg(l), "Z: no such plan");
    view(l, LDG_VIEW_MEMORY, "zz", 0, 0, LDG_ENOTFOUND);
    v = view(l, LDG_VIEW_MEMORY, "m", 1, 0, 0);
    assert_string_equal(
        js(json_array_get(json_object_get(json_array_get(v, 0), "violations"),
                          0),
           "rule"),
        "admitted-without-provenance");
    json_decref(v);
    assert_int_equal(ldg_projections_state_json(l, 0, &st), 0);
    assert_int_equal(json_array_size(json_object_get(st, "plans")), 2);
    json_decref(st);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_views_pipeline__gates_over_a_window(void **state)
{
    char dir[256];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    json_t *g;
    (void)state;
    assert_int_equal(ldg_projections_attach(l), 0);
    g = view(l, LDG_VIEW_GATES, NULL, 0, 0, 0);
    assert_string_equal(js(g, "status"), "unknown");
    json_decref(g);
    t_append(l, "build.built",
             "{\"artifact_digest\":\"x\",\"inputs_digest\":\"i\"}", NULL);
    t_append(l, "build.built",
             "{\"artifact_digest\":\"x\",\"inputs_digest\":\"i\"}", NULL);
    t_append(l, "build.promoted", "{\"artifact_digest\":\"x\"}", NULL);
    g = view(l, LDG_VIEW_GATES, NULL, 0, 0, 0);
    assert_string_equal(js(g, "status"), "pass");
    assert_int_equal(json_integer_value(json_object_get(g, "promotions")), 1);
    json_decref(g);
    t_append(l, "build.reverted", "{\"artifact_digest\":\"x\"}", NULL);
    t_append(l, "build.promoted",
             "{\"artifact_digest\":\"y\",\"slot\":\"blue\"}", NULL);
    g = view(l, LDG_VIEW_GATES, NULL, 0, 0, 0);
    assert_string_equal(js(g, "status"), "fail");
    {
        const json_t *ps = json_array_get(json_object_get(g, "gates"), 0);
        const json_t *blue = json_array_get(json_object_get(g, "gates"), 2);
        assert_string_equal(js(ps, "gate"), "promotion-success");
        assert_true(json_real_value(json_object_get(ps, "value")) == 50.0);
        assert_string_equal(
            js(json_array_get(json_object_get(ps, "evidence"), 0),
               "reverted_seq"),
            "4");
        assert_string_equal(
            js(json_array_get(json_object_get(blue, "evidence"), 0), "seq"),
            "5");
    }
    json_decref(g);
    /* a window after everything: nothing to judge */
    g = view(l, LDG_VIEW_GATES, NULL, 0, UINT64_MAX - 1, 0);
    assert_string_equal(js(g, "status"), "unknown");
    assert_int_equal(json_integer_value(json_object_get(g, "promotions")), 0);
    json_decref(g);
    ldg_close(l);
    t_rmrf(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_views_pipeline__plans_memory_and_their_violations),
        cmocka_unit_test(test_views_pipeline__gates_over_a_window),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
