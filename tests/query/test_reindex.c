/*
 * test_reindex.c — rebuilding the secondary indexes (query/reindex.c):
 * after an index loses or gains entries, verify fails; after
 * ldg_query_reindex it passes and queries see the log again; the rebuilt
 * databases hold exactly what the append path wrote (ix.*, a key per
 * value). A ledger of an older layout is migrated, never reindexed.
 */
#include "ledger/handle_int.h"
#include "tests/query/qtest.h"

static const char *const idx[9] = {"idx.type",   "idx.subject", "idx.run",
                                   "idx.actor",  "idx.time",    "ix.type",
                                   "ix.subject", "ix.run",      "ix.actor"};

/* Copies every record of the index databases into one sorted list of
 * strings. */
static json_t *
snapshot(struct ldg_ledger *l)
{
    struct ldg_txn *t;
    json_t *all = json_array();
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    for (int i = 0; i < 9; i++) {
        struct ldg_cursor *c;
        struct ldg_val k, v;
        ldg_dbi db;
        int rc;
        assert_int_equal(ldg_db_open(t, idx[i], 0, &db), 0);
        assert_int_equal(ldg_cursor_open(t, db, &c), 0);
        for (rc = ldg_cursor_get(c, LDG_FIRST, NULL, 0, &k, &v); rc == 0;
             rc = ldg_cursor_get(c, LDG_NEXT, NULL, 0, &k, &v)) {
            char hex[2 * 600 + 1], vhex[17];
            assert_true(k.len < 600 && v.len <= 8);
            ldg_hex(hex, k.data, k.len);
            ldg_hex(vhex, v.data, v.len);
            json_array_append_new(all,
                                  json_sprintf("%s/%s/%s", idx[i], hex, vhex));
            /* idx.*: keys only; ix.*: an 8-byte seq each */
            assert_int_equal(v.len, i < 5 ? 0 : 8);
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
    unsigned layout = *(unsigned *)*state;
    char dir[512], err[64];
    struct ldg_ledger *l = t_ledger_new_layout(dir, sizeof dir, 0, 0, layout);
    struct ldg_txn *t;
    json_t *before, *after;
    ldg_dbi db;
    uint8_t key[32];
    uint64_t got[64];
    const char *terms[] = {"run=R-0001"};

    q_load_pdf_ops(l);
    before = snapshot(l);
    assert_int_equal(verify_ok(l), 0);
    /* damage: drop the run index, add a stray type key */
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_WRITE, &t), 0);
    assert_int_equal(ldg_db_open(t, layout >= 3 ? "ix.run" : "idx.run", 0, &db),
                     0);
    assert_int_equal(ldg_core_db_drop(t, db, 0), 0);
    assert_int_equal(
        ldg_db_open(t, layout >= 3 ? "ix.type" : "idx.type", 0, &db), 0);
    memcpy(key, "x.stray\0\0\0\0\0\0\0\0\x05", 16);
    if (layout >= 3)
        assert_int_equal(ldg_core_kv_put(t, db, key, 7, key + 8, 8), 0);
    else
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
    unsigned layout = *(unsigned *)*state;
    char dir[512];
    struct ldg_ledger *l = t_ledger_new_layout(dir, sizeof dir, 0, 0, layout);
    json_t *a, *b;
    q_load_pdf_ops(l);
    assert_int_equal(ldg_query_reindex(l), 0);
    a = snapshot(l);
    assert_int_equal(ldg_query_reindex(l), 0);
    b = snapshot(l);
    assert_true(json_equal(a, b));
    /* 32 events in four indexes (three in layout 3: no time index), and
     * the 8 events of run R-0001 */
    assert_int_equal(json_array_size(a), 32 * 3 + 8);
    json_decref(a);
    json_decref(b);
    assert_int_equal(ldg_query_reindex(NULL), LDG_EINVAL);
    ldg_close(l);
    t_rmrf(dir);
}

/* An older layout's indexes are converted by ledger migrate, not made
 * again in that layout: reindex refuses, naming the remedy, and changes
 * nothing. */
static void
test_reindex__refuses_an_older_layout(void **state)
{
    char dir[512];
    struct ldg_ledger *l = t_ledger_image(dir, sizeof dir, 2);
    json_t *a = snapshot(l), *b;
    (void)state;
    assert_int_equal(ldg_query_reindex(l), LDG_EVERSION);
    assert_non_null(strstr(ldg_errmsg(l), "ledger migrate"));
    b = snapshot(l);
    assert_true(json_equal(a, b));
    json_decref(a);
    json_decref(b);
    ldg_close(l);
    t_rmrf(dir);
}

int
main(void)
{
    static unsigned l5 = LDG_LAYOUT_NEWEST;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_prestate(
            test_reindex__restores_a_damaged_index_exactly, &l5),
        cmocka_unit_test_prestate(
            test_reindex__is_idempotent_and_refuses_misuse, &l5),
        cmocka_unit_test(test_reindex__refuses_an_older_layout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
