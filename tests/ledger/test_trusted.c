/*
 * test_trusted.c — ledger verify --trusted: a checkpoint kept elsewhere
 * catches a log that was rolled back or forked.
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

static char *
checkpoint(struct ldg_ledger *l, uint64_t size)
{
    struct ldg_txn *t;
    char *note;
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_checkpoint_get(t, size, &note), 0);
    ldg_txn_abort(t);
    return note;
}

static void
test_trusted__consistent_log_passes(void **state)
{
    char dir[256], *note;
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_trusted_report r;
    (void)state;
    t_append_many(l, 10);
    note = checkpoint(l, 0);
    t_append_many(l, 5);
    assert_int_equal(ldg_verify_trusted(l, note, strlen(note), &r), 0);
    assert_int_equal(r.trusted_size, 11);
    assert_int_equal(r.log_size, 16);
    free(note);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_trusted__rolled_back_log_is_reported(void **state)
{
    char dir[256], *note;
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_trusted_report r;
    (void)state;
    t_append_many(l, 10);
    note = checkpoint(l, 0);
    t_raw_del(l, "entries", 10);
    t_raw_del(l, "entries", 9);
    assert_int_equal(ldg_verify_trusted(l, note, strlen(note), &r),
                     LDG_ETAMPER);
    assert_non_null(strstr(r.what, "rolled back"));
    assert_non_null(strstr(r.what, "11"));
    assert_non_null(strstr(r.what, "9"));
    free(note);
    ldg_close(l);
    t_rmrf(dir);
}

/* A checkpoint signed by the log key for the same size with another root:
 * the log and the auditor's copy have forked. */
static void
test_trusted__forked_log_is_reported(void **state)
{
    char dir[256], text[256], *note;
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_trusted_report r;
    (void)state;
    t_append_many(l, 10);
    snprintf(text, sizeof text,
             "%s\n11\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
             ldg_origin(l));
    assert_int_equal(ldg_log_sign_note(l, text, strlen(text), &note), 0);
    assert_int_equal(ldg_verify_trusted(l, note, strlen(note), &r),
                     LDG_ETAMPER);
    assert_non_null(strstr(r.what, "forked"));
    free(note);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_trusted__foreign_or_malformed_checkpoint_is_refused(void **state)
{
    char dir[256], dir2[256], *note;
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_ledger *other = t_ledger_new(dir2, sizeof dir2, 0);
    struct ldg_trusted_report r;
    (void)state;
    note = checkpoint(other, 0); /* another log key */
    assert_int_equal(ldg_verify_trusted(l, note, strlen(note), &r),
                     LDG_EBADINPUT);
    assert_int_equal(ldg_verify_trusted(l, "junk", 4, &r), LDG_EBADINPUT);
    free(note);
    ldg_close(l);
    ldg_close(other);
    t_rmrf(dir);
    t_rmrf(dir2);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trusted__consistent_log_passes),
        cmocka_unit_test(test_trusted__rolled_back_log_is_reported),
        cmocka_unit_test(test_trusted__forked_log_is_reported),
        cmocka_unit_test(
            test_trusted__foreign_or_malformed_checkpoint_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
