/*
 * test_purge.c — the purge of memory items by hash prefix on a real
 * ledger: what it matches, what it refuses (writing nothing), what it
 * erases and records, that the log still verifies and the projections
 * rebuild to the same state.
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

static uint64_t
candidate(struct ldg_ledger *l, const char *item, const char *hash)
{
    char body[512];
    snprintf(body, sizeof body,
             "{\"item\":\"%s\",\"hash\":\"%s\",\"provenance\":{\"models\":"
             "[\"m\"],\"policy\":\"p\"}}",
             item, hash);
    return t_append(l, "memory.candidate", body, NULL);
}

static struct ldg_ledger *
fixture(char *dir, size_t cap)
{
    struct ldg_ledger *l = t_ledger_new(dir, cap, 0);
    assert_int_equal(ldg_projections_attach(l), 0);
    candidate(
        l, "a",
        "aa11000000000000000000000000000000000000000000000000000000000001");
    candidate(
        l, "b",
        "aa22000000000000000000000000000000000000000000000000000000000002");
    candidate(
        l, "c",
        "BB33000000000000000000000000000000000000000000000000000000000003");
    candidate(
        l, "d",
        "bb33000000000000000000000000000000000000000000000000000000000003");
    /* a second candidate for a: both bodies must go */
    candidate(
        l, "a",
        "aa11000000000000000000000000000000000000000000000000000000000001");
    t_append(l, "memory.admitted", "{\"item\":\"a\"}", NULL);
    return l;
}

static uint64_t
size_of(struct ldg_ledger *l)
{
    uint64_t n = 0;
    assert_int_equal(ldg_size(l, &n), 0);
    return n;
}

static json_t *
item(struct ldg_ledger *l, const char *name)
{
    struct ldg_view_opts o;
    json_t *rows = NULL, *r;
    memset(&o, 0, sizeof o);
    o.filter = name;
    assert_int_equal(ldg_projections_view(l, LDG_VIEW_MEMORY, &o, &rows), 0);
    r = json_incref(json_array_get(rows, 0));
    json_decref(rows);
    return r;
}

static void
test_purge__refusals_write_nothing(void **state)
{
    char dir[256];
    struct ldg_ledger *l = fixture(dir, sizeof dir);
    uint64_t n0 = size_of(l);
    json_t *rep = NULL;
    (void)state;
    /* a malformed argument is misuse (64: docs/PROJECTIONS.md) */
    assert_int_equal(ldg_pipeline_purge(l, "", "r", 0, &rep), LDG_EINVAL);
    assert_int_equal(ldg_pipeline_purge(l, "aa1g", "r", 0, &rep), LDG_EINVAL);
    assert_int_equal(ldg_pipeline_purge(l, "zz", "r", 0, &rep), LDG_EINVAL);
    assert_int_equal(ldg_pipeline_purge(l, "aa", "", 0, &rep), LDG_EINVAL);
    assert_int_equal(
        ldg_pipeline_purge(
            l,
            "aa110000000000000000000000000000000000000000000000000000000000010",
            "r", 0, &rep),
        LDG_EINVAL); /* 65 digits */
    assert_int_equal(ldg_pipeline_purge(l, "cc", "r", 0, &rep), LDG_ENOTFOUND);
    /* two different hashes start with "aa": ambiguous, and says which */
    assert_int_equal(ldg_pipeline_purge(l, "aa", "r", 0, &rep), LDG_EBADINPUT);
    assert_non_null(strstr(ldg_errmsg(l), "ambiguous"));
    assert_non_null(strstr(ldg_errmsg(l), "aa22"));
    assert_null(rep);
    assert_int_equal(size_of(l), n0);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_purge__erases_every_candidate_of_the_items_of_one_hash(void **state)
{
    char dir[256];
    struct ldg_ledger *l = fixture(dir, sizeof dir);
    json_t *rep = NULL, *a, *body = NULL, *diffs = NULL;
    struct ldg_txn *t = NULL;
    uint64_t nd = 1;
    (void)state;
    /* one hash (either case) shared by two items */
    assert_int_equal(ldg_pipeline_purge(l, "Bb33", "asked", 0, &rep), 0);
    assert_int_equal(json_array_size(json_object_get(rep, "items")), 2);
    assert_int_equal(json_array_size(json_object_get(rep, "hashes")), 1);
    assert_int_equal(json_array_size(json_object_get(rep, "erased")), 2);
    json_decref(rep);
    /* a's two candidates */
    assert_int_equal(ldg_pipeline_purge(l, "aa11", "asked", 0, &rep), 0);
    assert_int_equal(json_array_size(json_object_get(rep, "erased")), 2);
    assert_int_equal(
        json_integer_value(json_array_get(json_object_get(rep, "erased"), 0)),
        1);
    assert_int_equal(
        json_integer_value(json_array_get(json_object_get(rep, "erased"), 1)),
        5);
    json_decref(rep);
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_body_get(t, 1, &body), LDG_EERASED);
    assert_int_equal(ldg_body_get(t, 5, &body), LDG_EERASED);
    assert_int_equal(ldg_body_get(t, 2, &body), 0); /* b is untouched */
    json_decref(body);
    ldg_txn_abort(t);
    a = item(l, "a");
    assert_string_equal(json_string_value(json_object_get(a, "status")),
                        "purged");
    assert_true(json_is_null(json_object_get(a, "hash")));
    assert_true(json_is_true(json_object_get(a, "erased")));
    assert_string_equal(json_string_value(json_object_get(a, "reason")),
                        "asked");
    json_decref(a);
    /* purged items have no hash left: the prefix now names one hash */
    assert_int_equal(ldg_pipeline_purge(l, "aa11", "again", 0, &rep),
                     LDG_ENOTFOUND);
    assert_int_equal(ldg_pipeline_purge(l, "aa", "last", 0, &rep), 0);
    json_decref(rep);
    /* the log verifies, the projections rebuild to the same state */
    {
        struct ldg_verify_report vr;
        int vrc = ldg_verify(l, LDG_VERIFY_FULL, 0, &vr, NULL, NULL);
        if (vrc != 0)
            fprintf(stderr, "verify: %s\n", ldg_errmsg(l));
        assert_int_equal(vrc, 0);
    }
    assert_int_equal(
        ldg_projections_check(l, LDG_PROJECTIONS_ALL, NULL, NULL, &diffs, &nd),
        0);
    assert_int_equal(nd, 0);
    json_decref(diffs);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_purge__all_takes_every_hash_the_prefix_matches(void **state)
{
    char dir[256];
    struct ldg_ledger *l = fixture(dir, sizeof dir);
    json_t *rep = NULL;
    (void)state;
    assert_int_equal(ldg_pipeline_purge(l, "aa", "r", 1, &rep), 0);
    assert_int_equal(json_array_size(json_object_get(rep, "hashes")), 2);
    assert_int_equal(json_array_size(json_object_get(rep, "items")), 2);
    assert_int_equal(json_array_size(json_object_get(rep, "erased")), 3);
    json_decref(rep);
    ldg_close(l);
    t_rmrf(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_purge__refusals_write_nothing),
        cmocka_unit_test(
            test_purge__erases_every_candidate_of_the_items_of_one_hash),
        cmocka_unit_test(test_purge__all_takes_every_hash_the_prefix_matches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
