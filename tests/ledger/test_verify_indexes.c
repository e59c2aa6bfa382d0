/*
 * test_verify_indexes.c — ledger/verify_indexes.c: the secondary indexes
 * against the entries: a missing index entry, replaced index keys, stray
 * records in layout 3, and the id index counted.
 */
#include "tests/ledger/verify_fx.h"

/* The run index's record of (R-1, seq), as the ledger's layout keeps it:
 * a key "R-1" NUL seq in idx.run, or the duplicate seq of key "R-1" in
 * ix.run (layout 3). put 0 deletes it, 1 writes it under run `run`. */
static void
run_index(struct fx *f, struct ldg_txn *t, const char *run, uint64_t seq,
          int put)
{
    struct ldg_stats st;
    ldg_dbi dbi;
    uint8_t k[32], d[8];
    size_t n = strlen(run);
    assert_int_equal(ldg_stats(f->l, &st), 0);
    if (st.layout >= 3) {
        ldg_be64(d, seq);
        assert_int_equal(ldg_db_open(t, "ix.run", 0, &dbi), 0);
        if (put)
            assert_int_equal(ldg_core_kv_put(t, dbi, run, n, d, 8), 0);
        else
            assert_int_equal(ldg_core_kv_del(t, dbi, run, n, d, 8), 0);
        return;
    }
    memcpy(k, run, n);
    k[n] = 0;
    ldg_be64(k + n + 1, seq);
    assert_int_equal(ldg_db_open(t, "idx.run", 0, &dbi), 0);
    if (put)
        assert_int_equal(ldg_core_kv_put(t, dbi, k, n + 9, "", 0), 0);
    else
        assert_int_equal(ldg_core_kv_del(t, dbi, k, n + 9, NULL, 0), 0);
}

static void
test_verify__detects_missing_index_entry(void **state)
{
    struct fx *f = *state;
    struct ldg_txn *t;
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_WRITE, &t), 0);
    run_index(f, t, "R-1", 30, 0);
    assert_int_equal(ldg_txn_commit(t), 0);
    {
        struct ldg_verify_report r;
        assert_int_equal(ldg_verify(f->l, LDG_VERIFY_FULL | LDG_VERIFY_NOSAVE,
                                    0, &r, NULL, NULL),
                         LDG_ETAMPER);
        assert_non_null(strstr(r.what, "index"));
    }
    expect_bad(f, 0, 30, "index entry");
}

/* verify --full fails, saying what. */
static void
full_names(struct fx *f, const char *what)
{
    struct ldg_verify_report r;
    assert_int_equal(ldg_verify(f->l, LDG_VERIFY_FULL | LDG_VERIFY_NOSAVE, 0,
                                &r, NULL, NULL),
                     LDG_ETAMPER);
    if (strstr(r.what, what) == NULL)
        fail_msg("%s", r.what);
}

/* Layout 3 keeps no idx.* but idx.id: a key left in one (a migrate that
 * did not empty it, a write by something else) is named by verify --full;
 * so are a duplicate in ix.* that is not 8 bytes (LMDB takes one) and a
 * seq past the log. */
static void
test_verify__layout_3_names_stray_index_records(void **state)
{
    struct fx *f = *state;
    struct ldg_txn *t;
    struct ldg_verify_report r;
    ldg_dbi dbi;
    uint8_t k[16], d[8];

    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_WRITE, &t), 0);
    assert_int_equal(ldg_db_open(t, "idx.type", 0, &dbi), 0);
    assert_int_equal(
        ldg_core_kv_put(t, dbi, "run.step\0\0\0\0\0\0\0\0\x05", 17, "", 0), 0);
    assert_int_equal(ldg_txn_commit(t), 0);
    full_names(f, "idx.type holds 1 entries, the log calls for 0");

    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_WRITE, &t), 0);
    assert_int_equal(ldg_db_open(t, "idx.type", 0, &dbi), 0);
    assert_int_equal(ldg_core_db_drop(t, dbi, 0), 0);
    assert_int_equal(ldg_db_open(t, "ix.type", 0, &dbi), 0);
    memset(k, 0, sizeof k);
    assert_int_equal(ldg_core_kv_put(t, dbi, "run.step", 8, k, 4), 0);
    assert_int_equal(ldg_txn_commit(t), 0);
    full_names(f, "index ix.type");
    assert_int_equal(ldg_index_rebuild(f->l), 0);

    /* run.step at seq 1000, past the log's 40, instead of 39 */
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_WRITE, &t), 0);
    assert_int_equal(ldg_db_open(t, "ix.type", 0, &dbi), 0);
    ldg_be64(d, 39);
    assert_int_equal(ldg_core_kv_del(t, dbi, "run.step", 8, d, 8), 0);
    ldg_be64(d, 1000);
    assert_int_equal(ldg_core_kv_put(t, dbi, "run.step", 8, d, 8), 0);
    assert_int_equal(ldg_txn_commit(t), 0);
    expect_bad(f, LDG_VERIFY_FULL, 39, "index entry");
    assert_int_equal(ldg_verify(f->l, LDG_VERIFY_NOSAVE, 0, &r, NULL, NULL),
                     LDG_ETAMPER);
    assert_int_equal(r.bad_seq, 39);
}

/* An index key replaced by another that keeps the count and the order
 * (so only the keys themselves tell): every mode names the event whose
 * key is gone. verify --full compares each index with what the entries
 * call for by a keyed hash, and looks the keys up one by one only when
 * the hashes differ; this is that path. */
static void
test_verify__detects_replaced_index_keys(void **state)
{
    struct fx *f = *state;
    struct ldg_txn *t;
    struct ldg_event ev;
    struct ldg_stats st;
    ldg_dbi dbi;
    uint8_t k[32];

    /* the run index: (R-1, 30) becomes (R-2, 30) (sorts after every R-1) */
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_WRITE, &t), 0);
    run_index(f, t, "R-1", 30, 0);
    run_index(f, t, "R-2", 30, 1);
    assert_int_equal(ldg_txn_commit(t), 0);
    expect_bad(f, LDG_VERIFY_FULL, 30, "index entry");
    expect_bad(f, 0, 30, "index entry");
    assert_int_equal(ldg_stats(f->l, &st), 0);
    if (st.layout >= 3)
        return; /* no idx.time */
    /* back, then idx.time: (ts, 25) becomes (ts + 1, 25), still between
     * its neighbours */
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_WRITE, &t), 0);
    run_index(f, t, "R-2", 30, 0);
    run_index(f, t, "R-1", 30, 1);
    assert_int_equal(ldg_event_get(t, 25, &ev), 0);
    ldg_be64(k, ev.ts_ns);
    ldg_be64(k + 8, 25);
    assert_int_equal(ldg_db_open(t, "idx.time", 0, &dbi), 0);
    assert_int_equal(ldg_core_kv_del(t, dbi, k, 16, NULL, 0), 0);
    ldg_be64(k, ev.ts_ns + 1);
    assert_int_equal(ldg_core_kv_put(t, dbi, k, 16, "", 0), 0);
    assert_int_equal(ldg_txn_commit(t), 0);
    expect_bad(f, LDG_VERIFY_FULL, 25, "index entry");
    expect_bad(f, 0, 25, "index entry");
}

/* idx.id (format version 2) holds one key per event with an id: a key
 * taken away is found at its event (plain and full), one added for an
 * event without an id by the full count of the index. */
static void
test_verify__counts_the_id_index(void **state)
{
    struct fx *f = *state;
    struct ldg_event_in in;
    struct ldg_txn *t;
    ldg_dbi dbi;
    uint64_t s1 = 0, s2 = 0;
    uint8_t k[32];

    memset(&in, 0, sizeof in);
    in.type = "x.id";
    in.id = "id-1";
    assert_int_equal(ldg_append(f->l, &in, &s1), 0);
    in.id = "id-2";
    assert_int_equal(ldg_append(f->l, &in, &s2), 0);
    {
        struct ldg_verify_report r;
        assert_int_equal(ldg_verify(f->l, LDG_VERIFY_FULL | LDG_VERIFY_NOSAVE,
                                    0, &r, NULL, NULL),
                         0);
    }
    /* one taken away */
    memcpy(k, "id-2", 4);
    k[4] = 0;
    ldg_be64(k + 5, s2);
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_WRITE, &t), 0);
    assert_int_equal(ldg_db_open(t, "idx.id", 0, &dbi), 0);
    assert_int_equal(ldg_core_kv_del(t, dbi, k, 13, NULL, 0), 0);
    assert_int_equal(ldg_txn_commit(t), 0);
    for (int full = 0; full < 2; full++) {
        struct ldg_verify_report r;
        assert_int_equal(
            ldg_verify(f->l, (full ? LDG_VERIFY_FULL : 0) | LDG_VERIFY_NOSAVE,
                       0, &r, NULL, NULL),
            LDG_ETAMPER);
        /* each event's index keys are checked, its id's too */
        if (strstr(r.what, "index entry") == NULL || r.bad_seq != s2)
            fail_msg("full %d: at %llu: %s", full,
                     (unsigned long long)r.bad_seq, r.what);
    }
    /* put back: clean again; then one for an event without an id */
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_WRITE, &t), 0);
    assert_int_equal(ldg_db_open(t, "idx.id", 0, &dbi), 0);
    assert_int_equal(ldg_core_kv_put(t, dbi, k, 13, "", 0), 0);
    memcpy(k, "stray", 5);
    k[5] = 0;
    ldg_be64(k + 6, 3);
    assert_int_equal(ldg_core_kv_put(t, dbi, k, 14, "", 0), 0);
    assert_int_equal(ldg_txn_commit(t), 0);
    {
        struct ldg_verify_report r;
        assert_int_equal(ldg_verify(f->l, LDG_VERIFY_FULL | LDG_VERIFY_NOSAVE,
                                    0, &r, NULL, NULL),
                         LDG_ETAMPER);
        assert_non_null(strstr(r.what, "idx.id"));
    }
}

/* The run index's key (R-0001, 30) of layouts 1 and 2 (idx.run): gone,
 * then moved to R-0002; and idx.time's (ts, 25) moved to ts + 1. */
static void
test_verify__an_image_names_its_index_damage(void **state)
{
    struct fx *f = *state;
    struct ldg_txn *t;
    struct ldg_event ev;
    ldg_dbi dbi;
    uint8_t k[32];
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_WRITE, &t), 0);
    run_index(f, t, "R-0001", 30, 0);
    assert_int_equal(ldg_txn_commit(t), 0);
    /* (a plain run of the image starts where its maker's last one ended,
     * and names the count at the log's end) */
    expect_bad(f, LDG_VERIFY_FULL, 30, "index entry");
    expect_bad(f, 0, 599, "idx.run holds 7 entries");
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_WRITE, &t), 0);
    run_index(f, t, "R-0002", 30, 1);
    assert_int_equal(ldg_txn_commit(t), 0);
    expect_bad(f, LDG_VERIFY_FULL, 30, "index entry");
    /* back, then idx.time */
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_WRITE, &t), 0);
    run_index(f, t, "R-0002", 30, 0);
    run_index(f, t, "R-0001", 30, 1);
    assert_int_equal(ldg_event_get(t, 25, &ev), 0);
    ldg_be64(k, ev.ts_ns);
    ldg_be64(k + 8, 25);
    assert_int_equal(ldg_db_open(t, "idx.time", 0, &dbi), 0);
    assert_int_equal(ldg_core_kv_del(t, dbi, k, 16, NULL, 0), 0);
    ldg_be64(k, ev.ts_ns + 1);
    assert_int_equal(ldg_core_kv_put(t, dbi, k, 16, "", 0), 0);
    assert_int_equal(ldg_txn_commit(t), 0);
    expect_bad(f, LDG_VERIFY_FULL, 25, "index entry");
}

/* One pair of ix.body: key "status" NUL value, duplicate seq. put 0
 * deletes it, 1 writes it. */
static void
bix_pair(struct ldg_txn *t, const char *value, uint64_t seq, int put)
{
    ldg_dbi dbi;
    uint8_t k[64], d[8];
    size_t n = strlen(value);
    memcpy(k, "status", 7); /* with its NUL */
    memcpy(k + 7, value, n);
    ldg_be64(d, seq);
    assert_int_equal(ldg_db_open(t, "ix.body", 0, &dbi), 0);
    if (put)
        assert_int_equal(ldg_core_kv_put(t, dbi, k, 7 + n, d, 8), 0);
    else
        assert_int_equal(ldg_core_kv_del(t, dbi, k, 7 + n, d, 8), 0);
}

static void
full_passes(struct fx *f, int bix_checked)
{
    struct ldg_verify_report r;
    int rc = ldg_verify(f->l, LDG_VERIFY_FULL | LDG_VERIFY_NOSAVE, 0, &r, NULL,
                        NULL);
    if (rc != 0)
        fail_msg("verify --full: %d: %s", rc, r.what);
    assert_int_equal(r.bix_checked, bix_checked);
}

/* ix.body (FORMAT.md 6.1), current with the log: verify --full names a
 * pair taken away, one added, a key changed and a seq past the log, at
 * the event concerned, and passes after ledger rebuild; behind the log
 * (meta "ix.body" < size), it is not checked and the report says so. */
static void
test_verify__checks_the_body_index(void **state)
{
    struct fx *f = *state;
    struct ldg_txn *t;
    uint8_t n8[8];

    full_passes(f, 1);
    /* a pair taken away */
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_WRITE, &t), 0);
    bix_pair(t, "ok", 30, 0);
    assert_int_equal(ldg_txn_commit(t), 0);
    expect_bad(f, LDG_VERIFY_FULL, 30, "ix.body lacks the key status=ok");
    assert_int_equal(ldg_index_rebuild(f->l), 0);
    full_passes(f, 1);
    /* a pair added that no body gives */
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_WRITE, &t), 0);
    bix_pair(t, "failed", 21, 1);
    assert_int_equal(ldg_txn_commit(t), 0);
    expect_bad(f, LDG_VERIFY_FULL, 21,
               "ix.body holds the key status=failed for this event");
    assert_int_equal(ldg_index_rebuild(f->l), 0);
    full_passes(f, 1);
    /* a key changed: ok becomes oK at 12 (the missing one is named) */
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_WRITE, &t), 0);
    bix_pair(t, "ok", 12, 0);
    bix_pair(t, "oK", 12, 1);
    assert_int_equal(ldg_txn_commit(t), 0);
    expect_bad(f, LDG_VERIFY_FULL, 12, "ix.body lacks the key status=ok");
    assert_int_equal(ldg_index_rebuild(f->l), 0);
    /* a seq past the end of the log: named at the last event */
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_WRITE, &t), 0);
    bix_pair(t, "ok", 99, 1);
    assert_int_equal(ldg_txn_commit(t), 0);
    expect_bad(f, LDG_VERIFY_FULL, 39, "past the end of the log");
    /* behind the log: query scans, verify --full does not check it */
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_WRITE, &t), 0);
    ldg_be64(n8, 5);
    assert_int_equal(ldg_core_kv_put(t, ldg_core(f->l, LDG_DB_META),
                                     LDG_META_IX_BODY,
                                     sizeof LDG_META_IX_BODY - 1, n8, 8),
                     0);
    assert_int_equal(ldg_txn_commit(t), 0);
    full_passes(f, 0);
    assert_int_equal(ldg_index_rebuild(f->l), 0);
    full_passes(f, 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_verify__detects_missing_index_entry),
        T(test_verify__detects_replaced_index_keys),
        T(test_verify__layout_3_names_stray_index_records),
        T(test_verify__counts_the_id_index),
        T(test_verify__checks_the_body_index),
        /* store layouts 1 and 2: the golden images */
        TL1(test_verify__an_image_names_its_index_damage),
        TL2(test_verify__an_image_names_its_index_damage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
