/*
 * test_timeline.c — a plan's timeline on a real ledger: its own events,
 * the snapshots its steps name as context, another plan's events left
 * out, each violation under the event that broke it, unknown plans.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pipeline/pipeline.h"
#include "projections/projections.h"
#include "tests/support/support.h"

static void
test_timeline__a_plan_with_its_context_and_its_violations(void **state)
{
    char dir[256];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    json_t *tl = NULL, *ev;
    char *text = NULL;
    (void)state;
    assert_int_equal(ldg_projections_attach(l), 0);
    t_append(l, "snapshot.taken", "{\"snapshot\":\"S\"}", NULL); /* 1 */
    t_append(l, "plan.state", "{\"plan\":\"P\",\"state\":\"PLAN\"}", NULL);
    t_append(l, "plan.state", "{\"plan\":\"Q\",\"state\":\"PLAN\"}", NULL);
    t_append(l, "plan.step",
             "{\"plan\":\"P\",\"step\":\"s\",\"tool\":\"t\",\"tier\":\"T2\","
             "\"status\":\"ok\",\"snapshot\":\"S\"}",
             NULL); /* 4 */
    t_append(l, "plan.state", "{\"plan\":\"P\",\"state\":\"PROMOTE\"}", NULL);
    assert_int_equal(ldg_pipeline_timeline(l, "P", &tl), 0);
    assert_int_equal(json_array_size(json_object_get(tl, "events")), 4);
    ev = json_array_get(json_object_get(tl, "events"), 0);
    assert_string_equal(json_string_value(json_object_get(ev, "seq")), "1");
    assert_string_equal(json_string_value(json_object_get(ev, "kind")),
                        "context");
    ev = json_array_get(json_object_get(tl, "events"), 3);
    assert_string_equal(json_string_value(json_object_get(ev, "seq")), "5");
    assert_string_equal(
        json_string_value(json_object_get(
            json_array_get(json_object_get(ev, "violations"), 0), "rule")),
        "promote-without-verify");
    assert_int_equal(ldg_pipeline_timeline_text(tl, &text), 0);
    assert_non_null(strstr(text, "!   broke promote-without-verify"));
    assert_null(strstr(text, " Q")); /* another plan's events stay out */
    free(text);
    json_decref(tl);
    assert_int_equal(ldg_pipeline_timeline(l, "nope", &tl), LDG_ENOTFOUND);
    ldg_close(l);
    t_rmrf(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_timeline__a_plan_with_its_context_and_its_violations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
