/*
 * test_verify_chain.c — ledger/verify_chain.c: the chain of entries and
 * the tree over them: a flipped bit in an entry, events swapped, deleted,
 * duplicated or cut off at the tail, a change in the part already
 * verified, a stale stored tree hash, a deleted checkpoint; each named by
 * its first bad seq.
 */
#include "tests/ledger/verify_fx.h"

static void
test_verify__detects_flipped_bit_in_entry(void **state)
{
    struct fx *f = *state;
    uint8_t buf[1024];
    size_t n = t_raw_get(f->l, "entries", 10, buf, sizeof buf);
    buf[20] ^= 0x01; /* inside the event map */
    t_raw_put(f->l, "entries", 10, buf, n);
    expect_bad(f, LDG_VERIFY_FULL, 10, "event 10");
}

static void
test_verify__detects_swapped_events(void **state)
{
    struct fx *f = *state;
    uint8_t a[1024], b[1024];
    size_t na = t_raw_get(f->l, "entries", 14, a, sizeof a);
    size_t nb = t_raw_get(f->l, "entries", 15, b, sizeof b);
    t_raw_put(f->l, "entries", 14, b, nb);
    t_raw_put(f->l, "entries", 15, a, na);
    expect_bad(f, LDG_VERIFY_FULL, 14, "sequence number 15");
}

static void
test_verify__detects_deleted_event(void **state)
{
    struct fx *f = *state;
    t_raw_del(f->l, "entries", 16);
    expect_bad(f, LDG_VERIFY_FULL, 16, "missing");
}

static void
test_verify__detects_duplicated_event(void **state)
{
    struct fx *f = *state;
    uint8_t a[1024];
    size_t na = t_raw_get(f->l, "entries", 16, a, sizeof a);
    t_raw_put(f->l, "entries", 17, a, na);
    expect_bad(f, LDG_VERIFY_FULL, 17, "sequence number 16");
}

static void
test_verify__detects_truncated_tail_after_verified_run(void **state)
{
    struct fx *f = *state;
    struct ldg_verify_report r;
    assert_int_equal(ldg_verify(f->l, 0, 0, &r, NULL, NULL), 0);
    t_raw_del(f->l, "entries", 39);
    t_raw_del(f->l, "entries", 38);
    expect_bad(f, 0, 38, "truncated");
}

/* Change an old entry and fix everything a careless forger could fix
 * except the saved root: the incremental run notices. */
static void
test_verify__detects_change_in_verified_part_incrementally(void **state)
{
    struct fx *f = *state;
    struct ldg_verify_report r;
    uint8_t buf[1024];
    size_t n;
    assert_int_equal(ldg_verify(f->l, 0, 0, &r, NULL, NULL), 0);
    t_append(f->l, "x.test.more", "{}", NULL);
    n = t_raw_get(f->l, "entries", 5, buf, sizeof buf);
    buf[n - 1] ^= 0x80; /* last signature byte */
    t_raw_put(f->l, "entries", 5, buf, n);
    /* Not --full: only event 40 is new, yet 5 is caught through the tree */
    {
        int rc = ldg_verify(f->l, LDG_VERIFY_NOSAVE, 0, &r, NULL, NULL);
        assert_int_equal(rc, LDG_ETAMPER);
        assert_true(r.bad_seq <= 6);
    }
}

/* Layout 1 stores node (1, 4), over leaves 8 and 9; layout 2 stores only
 * the leaves of a tile not yet full, so leaf 9 itself is made stale. */
static void
test_verify__detects_stale_stored_tree_hash(void **state)
{
    struct fx *f = *state;
    struct ldg_txn *t;
    ldg_dbi dbi;
    uint8_t k[9] = {1, 0, 0, 0, 0, 0, 0, 0, 4}; /* level 1, index 4 */
    uint8_t h[32] = {0};
    struct ldg_stats st;
    assert_int_equal(ldg_stats(f->l, &st), 0);
    if (st.layout >= 2) {
        k[0] = 0;
        k[8] = 9;
    }
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_WRITE, &t), 0);
    assert_int_equal(ldg_db_open(t, "tree", 0, &dbi), 0);
    assert_int_equal(ldg_core_kv_put(t, dbi, k, 9, h, 32), 0);
    assert_int_equal(ldg_txn_commit(t), 0);
    expect_bad(f, LDG_VERIFY_FULL, 9, "Merkle");
}

/* The newest checkpoint is part of the log: deleting it (or all of them)
 * fails every mode, naming the last event. */
static void
test_verify__detects_deleted_latest_checkpoint(void **state)
{
    struct fx *f = *state;
    struct ldg_verify_report r;
    struct ldg_txn *t = NULL;
    ldg_dbi dbi;
    uint8_t k[8];

    assert_int_equal(ldg_verify(f->l, LDG_VERIFY_FULL, 0, &r, NULL, NULL), 0);
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_WRITE, &t), 0);
    assert_int_equal(ldg_db_open(t, "checkpoints", 0, &dbi), 0);
    ldg_be64(k, 40);
    assert_int_equal(ldg_core_kv_del(t, dbi, k, 8, NULL, 0), 0);
    assert_int_equal(ldg_txn_commit(t), 0);
    assert_int_equal(ldg_verify(f->l, LDG_VERIFY_NOSAVE, 0, &r, NULL, NULL),
                     LDG_ETAMPER);
    assert_int_equal(r.bad_seq, 39);
    assert_non_null(strstr(r.what, "no signed checkpoint at the log's size"));
    expect_bad(f, LDG_VERIFY_FULL, 39, "latest checkpoint was deleted");
    /* all of them */
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_WRITE, &t), 0);
    assert_int_equal(ldg_db_open(t, "checkpoints", 0, &dbi), 0);
    assert_int_equal(ldg_core_db_drop(t, dbi, 0), 0);
    assert_int_equal(ldg_txn_commit(t), 0);
    expect_bad(f, LDG_VERIFY_FULL, 39, "stored is for 0");
}

/* Layout 1 stores node (1, 4), over leaves 8 and 9; layout 2 keeps the
 * leaves past its two full tiles in the edge: leaf 520 made stale. */
static void
test_verify__an_image_names_a_stale_tree_hash(void **state)
{
    struct fx *f = *state;
    struct ldg_stats st;
    struct ldg_txn *t;
    ldg_dbi dbi;
    uint8_t k[9] = {1, 0, 0, 0, 0, 0, 0, 0, 4}; /* level 1, index 4 */
    uint8_t h[32] = {0};
    uint64_t bad = 9;
    assert_int_equal(ldg_stats(f->l, &st), 0);
    if (st.layout >= 2) {
        k[0] = 0;
        ldg_be64(k + 1, 520);
        bad = 520;
    }
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_WRITE, &t), 0);
    assert_int_equal(ldg_db_open(t, "tree", 0, &dbi), 0);
    assert_int_equal(ldg_core_kv_put(t, dbi, k, 9, h, 32), 0);
    assert_int_equal(ldg_txn_commit(t), 0);
    expect_bad(f, LDG_VERIFY_FULL, bad, "Merkle");
}

static void
test_verify__an_image_names_its_truncated_tail(void **state)
{
    struct fx *f = *state;
    struct ldg_verify_report r;
    assert_int_equal(ldg_verify(f->l, 0, 0, &r, NULL, NULL), 0);
    t_raw_del(f->l, "entries", 599);
    t_raw_del(f->l, "entries", 598);
    expect_bad(f, 0, 598, "truncated");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_verify__detects_flipped_bit_in_entry),
        T(test_verify__detects_swapped_events),
        T(test_verify__detects_deleted_event),
        T(test_verify__detects_duplicated_event),
        T(test_verify__detects_truncated_tail_after_verified_run),
        T(test_verify__detects_change_in_verified_part_incrementally),
        T(test_verify__detects_stale_stored_tree_hash),
        T(test_verify__detects_deleted_latest_checkpoint),
        T1(test_verify__detects_flipped_bit_in_entry),
        T1(test_verify__detects_swapped_events),
        T1(test_verify__detects_deleted_event),
        T1(test_verify__detects_duplicated_event),
        T1(test_verify__detects_truncated_tail_after_verified_run),
        T1(test_verify__detects_stale_stored_tree_hash),
        /* store layouts 1 and 2: the golden images */
        TL1(test_verify__an_image_names_a_stale_tree_hash),
        TL1(test_verify__an_image_names_its_truncated_tail),
        TL2(test_verify__an_image_names_a_stale_tree_hash),
        TL2(test_verify__an_image_names_its_truncated_tail),
        T1(test_verify__detects_deleted_latest_checkpoint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
