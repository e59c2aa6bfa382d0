/*
 * test_proofs_batch.c — ldg_proof_batch_* (ledger/proofs_batch.c): every
 * proof text is ldg_proof_text's, byte for byte, in any order and at
 * several tree sizes (right edges included), and a run of neighbouring
 * entries reads far fewer stored hashes than one proof at a time; a batch
 * rebound to a later snapshot (events appended between) goes on giving
 * the same texts (export reads in windows).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ledger/module.h"
#include "util/util.h"
#include "tests/support/support.h"

struct fx {
    char dir[256];
    struct ldg_ledger *l;
};

static int
setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    f->l = t_ledger_new(f->dir, sizeof f->dir, 0);
    t_append_many(f->l, 300);   /* one commit: checkpoint of size 301 */
    for (int i = 0; i < 3; i++) /* checkpoints of sizes 302..304 */
        t_append(f->l, "x.test.one", "{}", NULL);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    ldg_close(f->l);
    t_rmrf(f->dir);
    free(f);
    return 0;
}

/* Every index of size, in the order given by step (1: increasing; a
 * large odd step: scattered), against ldg_proof_text. */
static void
same_as_single(struct ldg_txn *t, uint64_t size, uint64_t step)
{
    struct ldg_proof_batch *b = NULL;
    uint64_t idx = 0;

    assert_int_equal(ldg_proof_batch_new(&b, t, size), 0);
    for (uint64_t k = 0; k < size; k++) {
        char *want = NULL, *got = NULL;
        size_t len = 0;
        idx = (idx + step) % size;
        assert_int_equal(ldg_proof_text(t, idx, size, &want), 0);
        assert_int_equal(ldg_proof_batch_text(b, idx, &got, &len), 0);
        assert_int_equal(len, strlen(want));
        assert_string_equal(got, want);
        free(want);
        free(got);
    }
    ldg_proof_batch_free(b);
}

static void
test_proofs_batch__texts_are_the_single_proofs(void **state)
{
    struct fx *f = *state;
    struct ldg_txn *t;

    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_READ, &t), 0);
    for (uint64_t size = 301; size <= 304; size++) {
        same_as_single(t, size, 1);
        same_as_single(t, size, 97); /* coprime with these sizes */
    }
    ldg_txn_abort(t);
}

static void
test_proofs_batch__a_run_reads_each_hash_about_once(void **state)
{
    struct fx *f = *state;
    struct ldg_proof_batch *b = NULL;
    struct ldg_txn *t;

    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_proof_batch_new(&b, t, 301), 0);
    for (uint64_t i = 0; i < 301; i++) {
        char *p = NULL;
        assert_int_equal(ldg_proof_batch_text(b, i, &p, NULL), 0);
        free(p);
    }
    /* one at a time would read about 301 * 9 hashes; a run shares them:
     * a few per entry at most */
    assert_true(ldg_proof_batch_reads(b) < 3 * 301);
    ldg_proof_batch_free(b);
    ldg_txn_abort(t);
}

static void
test_proofs_batch__bad_arguments(void **state)
{
    struct fx *f = *state;
    struct ldg_proof_batch *b = NULL;
    struct ldg_txn *t;
    char *p = NULL;

    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_proof_batch_new(&b, t, 0), LDG_EINVAL);
    assert_int_equal(ldg_proof_batch_new(&b, t, 305), LDG_ENOTFOUND);
    assert_int_equal(ldg_proof_batch_new(&b, t, 200), LDG_ENOTFOUND);
    assert_int_equal(ldg_proof_batch_new(&b, t, 302), 0);
    assert_int_equal(ldg_proof_batch_text(b, 302, &p, NULL), LDG_ENOTFOUND);
    assert_null(p);
    ldg_proof_batch_free(b);
    ldg_proof_batch_free(NULL);
    ldg_txn_abort(t);
}

/* Half the proofs in one snapshot, the rest after events were appended,
 * in a new one the batch is rebound to: the same texts as one proof at a
 * time. (Last: it appends to the shared ledger.) */
static void
test_proofs_batch__rebound_to_a_later_snapshot(void **state)
{
    struct fx *f = *state;
    struct ldg_proof_batch *b = NULL;
    struct ldg_txn *t;

    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_proof_batch_new(&b, t, 301), 0);
    for (uint64_t i = 0; i < 301; i++) {
        char *got = NULL, *want = NULL;
        if (i == 150) {
            ldg_txn_abort(t);
            t_append_many(f->l, 40);
            assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_READ, &t), 0);
            ldg_proof_batch_rebind(b, t);
        }
        assert_int_equal(ldg_proof_batch_text(b, i, &got, NULL), 0);
        assert_int_equal(ldg_proof_text(t, i, 301, &want), 0);
        assert_string_equal(got, want);
        free(got);
        free(want);
    }
    ldg_proof_batch_free(b);
    ldg_txn_abort(t);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_proofs_batch__texts_are_the_single_proofs),
        cmocka_unit_test(test_proofs_batch__a_run_reads_each_hash_about_once),
        cmocka_unit_test(test_proofs_batch__bad_arguments),
        cmocka_unit_test(test_proofs_batch__rebound_to_a_later_snapshot),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
