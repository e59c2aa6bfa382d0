/*
 * test_views.c — the JSON of the views: 64-bit numbers as strings, rows
 * sorted by key, filters, --at bounds, the state for bundles.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ingest/ingest.h"
#include "projections/projections.h"
#include "tests/support/support.h"

static struct ldg_ledger *
pdf_ops(char *dir, size_t cap)
{
    struct ldg_ledger *l = t_ledger_new(dir, cap, 0);
    struct ldg_ingest_opts o;
    struct ldg_ingest_report rep;
    char path[1024];
    const char *src = getenv("LEDGER_SRC");
    FILE *f;
    snprintf(path, sizeof path, "%s/examples/pdf-ops.jsonl", src ? src : ".");
    f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(ldg_projections_attach(l), 0);
    memset(&o, 0, sizeof o);
    assert_int_equal(ldg_ingest(l, f, &o, &rep), 0);
    fclose(f);
    return l;
}

static json_t *
view(struct ldg_ledger *l, enum ldg_proj_view v, const char *filter,
     uint64_t at, int want_rc)
{
    struct ldg_view_opts o;
    json_t *out = NULL;
    memset(&o, 0, sizeof o);
    o.filter = filter;
    o.at_size = at;
    assert_int_equal(ldg_projections_view(l, v, &o, &out), want_rc);
    return out;
}

static void
test_views__sequence_numbers_and_times_are_strings(void **state)
{
    char dir[256];
    struct ldg_ledger *l = pdf_ops(dir, sizeof dir);
    json_t *p, *g, *r, *m;
    (void)state;
    p = view(l, LDG_VIEW_PACKS, NULL, 0, 0);
    assert_true(
        json_is_string(json_object_get(json_array_get(p, 0), "installed_seq")));
    assert_string_equal(json_string_value(json_object_get(json_array_get(p, 0),
                                                          "installed_seq")),
                        "8");
    g = view(l, LDG_VIEW_PERMISSIONS, NULL, 0, 0);
    assert_true(json_is_string(json_object_get(json_array_get(g, 0), "ts")));
    assert_true(json_is_string(json_object_get(json_array_get(g, 0), "seq")));
    r = view(l, LDG_VIEW_RUNS, NULL, 0, 0);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(r, 0), "started_seq")),
        "23");
    m = view(l, LDG_VIEW_MODELS, NULL, 0, 0);
    assert_true(json_integer_value(json_object_get(
                    json_array_get(m, 1), "size_bytes")) == 4683087332LL);
    json_decref(p);
    json_decref(g);
    json_decref(r);
    json_decref(m);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_views__rows_are_sorted_by_key(void **state)
{
    char dir[256];
    struct ldg_ledger *l = pdf_ops(dir, sizeof dir);
    json_t *g = view(l, LDG_VIEW_PERMISSIONS, NULL, 0, 0), *x;
    const char *prev = "";
    size_t i;
    (void)state;
    assert_int_equal(json_array_size(g), 4);
    json_array_foreach(g, i, x)
    {
        const char *grp = json_string_value(json_object_get(x, "group"));
        assert_true(strcmp(prev, grp) < 0);
        prev = grp;
    }
    json_decref(g);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_views__filters_and_bounds(void **state)
{
    char dir[256];
    struct ldg_ledger *l = pdf_ops(dir, sizeof dir);
    json_t *v;
    (void)state;
    v = view(l, LDG_VIEW_PACKS, "pdf-ops", 0, 0);
    assert_int_equal(json_array_size(v), 1);
    json_decref(v);
    view(l, LDG_VIEW_PACKS, "nope", 0, LDG_ENOTFOUND);
    assert_non_null(strstr(ldg_errmsg(l), "nope"));
    view(l, LDG_VIEW_RUNS, "R-9", 0, LDG_ENOTFOUND);
    view(l, LDG_VIEW_DOCTOR, "nope", 0, LDG_ENOTFOUND);
    view(l, LDG_VIEW_PACKS, NULL, 33, LDG_EINVAL); /* log has 32 */
    v = view(l, LDG_VIEW_PACKS, NULL, 32, 0);
    json_decref(v);
    /* before the pack was installed there is no pack */
    v = view(l, LDG_VIEW_PACKS, NULL, 8, 0);
    assert_int_equal(json_array_size(v), 0);
    json_decref(v);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_views__state_for_bundles_has_the_note_of_its_size(void **state)
{
    char dir[256];
    struct ldg_ledger *l = pdf_ops(dir, sizeof dir);
    json_t *s = NULL;
    char *note = NULL;
    (void)state;
    assert_int_equal(ldg_projections_state_json(l, 0, &s), 0);
    assert_string_equal(json_string_value(json_object_get(s, "size")), "32");
    assert_int_equal(json_array_size(json_object_get(s, "packs")), 1);
    assert_int_equal(json_array_size(json_object_get(s, "routes")), 2);
    assert_true(json_is_array(json_object_get(s, "promotions")));
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(s, "doctor"), "verdict")),
                        "degraded");
    assert_int_equal(ldg_projections_note(l, 32, &note), 0);
    assert_string_equal(json_string_value(json_object_get(s, "note")), note);
    free(note);
    json_decref(s);
    /* the ingest committed once: no note was stored at size 10, so the
     * state's is signed now, by the log key, for that size (and kept
     * nowhere) */
    assert_int_equal(ldg_projections_state_json(l, 10, &s), 0);
    assert_string_equal(json_string_value(json_object_get(s, "size")), "10");
    assert_int_equal(ldg_projections_note(l, 10, &note), LDG_ENOTFOUND);
    {
        const char *n = json_string_value(json_object_get(s, "note"));
        size_t tlen = 0;
        assert_non_null(n);
        assert_int_equal(ldg_log_verify_note(l, n, strlen(n), &tlen), 0);
        assert_non_null(strstr(n, "\nsize 10\n"));
    }
    json_decref(s);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_views__doctor_digest_matches_the_note(void **state)
{
    char dir[256], want[128];
    struct ldg_ledger *l = pdf_ops(dir, sizeof dir);
    json_t *d = view(l, LDG_VIEW_DOCTOR, NULL, 0, 0), *d2;
    char *note = NULL;
    (void)state;
    assert_int_equal(ldg_projections_note(l, 0, &note), 0);
    snprintf(want, sizeof want, "doctor 1 %s\n",
             json_string_value(json_object_get(d, "digest")));
    assert_non_null(strstr(note, want));
    /* the same digest when recomputed from the log (--at the last) */
    d2 = view(l, LDG_VIEW_DOCTOR, NULL, 32, 0);
    assert_string_equal(json_string_value(json_object_get(d, "digest")),
                        json_string_value(json_object_get(d2, "digest")));
    free(note);
    json_decref(d);
    json_decref(d2);
    ldg_close(l);
    t_rmrf(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_views__sequence_numbers_and_times_are_strings),
        cmocka_unit_test(test_views__rows_are_sorted_by_key),
        cmocka_unit_test(test_views__filters_and_bounds),
        cmocka_unit_test(
            test_views__state_for_bundles_has_the_note_of_its_size),
        cmocka_unit_test(test_views__doctor_digest_matches_the_note),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
