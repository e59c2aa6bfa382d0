/*
 * test_reindex.c — rebuilding the secondary indexes (query/reindex.c):
 * after an index loses or gains entries, verify fails; after
 * ldg_query_reindex it passes and queries see the log again; the rebuilt
 * databases hold exactly what the append path wrote.
 */
#include "ledger/ledger_int.h"
#include "tests/query/qtest.h"

static const char *const idx[5] = {"idx.type", "idx.subject", "idx.run",
                                   "idx.actor", "idx.time"};

/* Copies every key of the five indexes into one sorted list of strings. */
static json_t *
snapshot(struct ldg_ledger *l)
{
    struct ldg_txn *t;
    json_t *all = json_array();
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    for (int i = 0; i < 5; i++) {
        struct ldg_cursor *c;
        struct ldg_val k, v;
        ldg_dbi db;
        int rc;
        assert_int_equal(ldg_db_open(t, idx[i], 0, &db), 0);
        assert_int_equal(ldg_cursor_open(t, db, &c), 0);
        for (rc = ldg_cursor_get(c, LDG_FIRST, NULL, 0, &k, &v); rc == 0;
             rc = ldg_cursor_get(c, LDG_NEXT, NULL, 0, &k, &v)) {
            char hex[2 * 600 + 1];
            assert_true(k.len < 600);
            ldg_hex(hex, k.data, k.len);
            json_array_append_new(all, json_sprintf("%s/%s", idx[i], hex));
            assert_int_equal(v.len, 0);
        }
        ldg_cursor_close(c);
    }
    ldg_txn_abort(t);
    return all;
}

static int
verify_ok(struct ldg_ledger *l)
{
    struct ldg_verify_report r;
    return ldg_verify(l, LDG_VERIFY_FULL | LDG_VERIFY_NOSAVE, 0, &r, NULL,
                      NULL);
}

static void
test_reindex__restores_a_damaged_index_exactly(void **state)
{
    char dir[512], err[64];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_txn *t;
    json_t *before, *after;
    ldg_dbi db;
    uint8_t key[32];
    uint64_t got[64];
    const char *terms[] = {"run=R-0001"};
    (void)state;

    q_load_pdf_ops(l);
    before = snapshot(l);
    assert_int_equal(verify_ok(l), 0);
    /* damage: drop idx.run, add a stray idx.type key */
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_WRITE, &t), 0);
    assert_int_equal(ldg_db_open(t, "idx.run", 0, &db), 0);
    assert_int_equal(ldg_core_db_drop(t, db, 0), 0);
    assert_int_equal(ldg_db_open(t, "idx.type", 0, &db), 0);
    memcpy(key, "x.stray\0\0\0\0\0\0\0\0\x05", 16);
    assert_int_equal(ldg_core_kv_put(t, db, key, 16, "", 0), 0);
    assert_int_equal(ldg_txn_commit(t), 0);
    assert_int_equal(verify_ok(l), LDG_ETAMPER);
    assert_int_equal(
        q_collect(l, 1, terms, NULL, NULL, 0, got, 64, err, sizeof err), 0);

    assert_int_equal(ldg_query_reindex(l), 0);
    assert_int_equal(verify_ok(l), 0);
    after = snapshot(l);
    assert_true(json_equal(before, after));
    assert_int_equal(
        q_collect(l, 1, terms, NULL, NULL, 0, got, 64, err, sizeof err), 8);
    json_decref(before);
    json_decref(after);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_reindex__is_idempotent_and_refuses_misuse(void **state)
{
    char dir[512];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    json_t *a, *b;
    (void)state;
    q_load_pdf_ops(l);
    assert_int_equal(ldg_query_reindex(l), 0);
    a = snapshot(l);
    assert_int_equal(ldg_query_reindex(l), 0);
    b = snapshot(l);
    assert_true(json_equal(a, b));
    /* 32 events in four indexes, and the 8 events of run R-0001 */
    assert_int_equal(json_array_size(a), 32 * 4 + 8);
    json_decref(a);
    json_decref(b);
    assert_int_equal(ldg_query_reindex(NULL), LDG_EINVAL);
    ldg_close(l);
    t_rmrf(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reindex__restores_a_damaged_index_exactly),
        cmocka_unit_test(test_reindex__is_idempotent_and_refuses_misuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
