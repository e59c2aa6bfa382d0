/*
 * test_index.c — the secondary indexes (ledger/index.c): ldg_index_walk
 * in both directions and windows, stopping, errors; ldg_index_rebuild;
 * the idx.time put that appends at the end of its database.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ledger/module.h"
#include "util/util.h"
#include "ledger/ledger_int.h"
#include "tests/support/support.h"

struct got {
    uint64_t seq[64];
    size_t n;
    size_t stop_after; /* 0: never */
    int fail_with;     /* returned at stop_after instead of 1 */
};

static int
collect(void *ctx, uint64_t seq)
{
    struct got *g = ctx;
    g->seq[g->n++] = seq;
    if (g->stop_after && g->n == g->stop_after)
        return g->fail_with ? g->fail_with : 1;
    return 0;
}

/* seqs 1..12: x.one at odd seqs, x.two at even ones (0 is the genesis) */
static struct ldg_ledger *
setup_log(char *dir, size_t cap)
{
    struct ldg_ledger *l = t_ledger_new(dir, cap, 0);
    for (int i = 1; i <= 12; i++)
        t_append(l, i % 2 ? "x.one" : "x.two", "{}", NULL);
    return l;
}

static void
test_index__walks_a_value_in_order_within_the_window(void **state)
{
    char dir[512];
    struct ldg_ledger *l = setup_log(dir, sizeof dir);
    struct ldg_txn *t;
    struct got g;
    (void)state;
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);

    memset(&g, 0, sizeof g);
    assert_int_equal(ldg_index_walk(t, LDG_INDEX_TYPE, "x.one", 0, UINT64_MAX,
                                    0, collect, &g),
                     0);
    assert_int_equal(g.n, 6);
    for (size_t i = 0; i < g.n; i++)
        assert_int_equal(g.seq[i], 2 * i + 1);

    memset(&g, 0, sizeof g); /* window, forward: 4..9 -> 5 7 9 */
    assert_int_equal(
        ldg_index_walk(t, LDG_INDEX_TYPE, "x.one", 4, 9, 0, collect, &g), 0);
    assert_int_equal(g.n, 3);
    assert_int_equal(g.seq[0], 5);
    assert_int_equal(g.seq[2], 9);

    memset(&g, 0, sizeof g); /* window, reverse: 4..9 -> 8 6 4 */
    assert_int_equal(
        ldg_index_walk(t, LDG_INDEX_TYPE, "x.two", 4, 9, 1, collect, &g), 0);
    assert_int_equal(g.n, 3);
    assert_int_equal(g.seq[0], 8);
    assert_int_equal(g.seq[2], 4);

    memset(&g, 0, sizeof g); /* reverse from past the end of the db */
    assert_int_equal(ldg_index_walk(t, LDG_INDEX_TYPE, "x.two", 0, UINT64_MAX,
                                    1, collect, &g),
                     0);
    assert_int_equal(g.n, 6);
    assert_int_equal(g.seq[0], 12);
    assert_int_equal(g.seq[5], 2);
    ldg_txn_abort(t);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_index__no_match_stop_and_errors(void **state)
{
    char dir[512], big[LDG_SUBJECT_MAX + 2];
    struct ldg_ledger *l = setup_log(dir, sizeof dir);
    struct ldg_txn *t;
    struct got g;
    (void)state;
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    memset(&g, 0, sizeof g);
    /* a prefix of a value is another value */
    assert_int_equal(
        ldg_index_walk(t, LDG_INDEX_TYPE, "x.on", 0, 99, 0, collect, &g), 0);
    assert_int_equal(
        ldg_index_walk(t, LDG_INDEX_RUN, "none", 0, 99, 0, collect, &g), 0);
    assert_int_equal(
        ldg_index_walk(t, LDG_INDEX_TYPE, "x.one", 9, 3, 0, collect, &g), 0);
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(
        ldg_index_walk(t, LDG_INDEX_SUBJECT, big, 0, 99, 0, collect, &g), 0);
    assert_int_equal(g.n, 0);

    g.stop_after = 2; /* fn stops the walk */
    assert_int_equal(
        ldg_index_walk(t, LDG_INDEX_TYPE, "x.one", 0, 99, 0, collect, &g), 0);
    assert_int_equal(g.n, 2);
    memset(&g, 0, sizeof g); /* fn's error comes back */
    g.stop_after = 1;
    g.fail_with = LDG_ECORRUPT;
    assert_int_equal(
        ldg_index_walk(t, LDG_INDEX_TYPE, "x.one", 0, 99, 0, collect, &g),
        LDG_ECORRUPT);
    assert_int_equal(
        ldg_index_walk(t, (enum ldg_index)99, "x.one", 0, 99, 0, collect, &g),
        LDG_EINVAL);
    assert_int_equal(
        ldg_index_walk(t, LDG_INDEX_TYPE, NULL, 0, 99, 0, collect, &g),
        LDG_EINVAL);
    ldg_txn_abort(t);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_index__rebuild_gives_the_same_walks(void **state)
{
    char dir[512];
    struct ldg_ledger *l = setup_log(dir, sizeof dir);
    struct ldg_txn *t;
    struct got a, b;
    (void)state;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_index_walk(t, LDG_INDEX_TYPE, "x.two", 0, UINT64_MAX,
                                    0, collect, &a),
                     0);
    ldg_txn_abort(t);
    assert_int_equal(ldg_index_rebuild(l), 0);
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_index_walk(t, LDG_INDEX_TYPE, "x.two", 0, UINT64_MAX,
                                    0, collect, &b),
                     0);
    ldg_txn_abort(t);
    assert_int_equal(a.n, 6);
    assert_int_equal(a.n, b.n);
    assert_memory_equal(a.seq, b.seq, a.n * sizeof a.seq[0]);
    assert_int_equal(ldg_index_rebuild(NULL), LDG_EINVAL);
    ldg_close(l);
    t_rmrf(dir);
}

struct prog {
    uint64_t calls, last_done, last_total;
};

static void
on_progress(void *ctx, uint64_t done, uint64_t total)
{
    struct prog *p = ctx;
    assert_true(done >= p->last_done); /* only forward */
    p->calls++;
    p->last_done = done;
    p->last_total = total;
}

static void
test_index__rebuild_reports_progress_to_the_log_size(void **state)
{
    char dir[512];
    struct ldg_ledger *l = setup_log(dir, sizeof dir);
    struct ldg_txn *t;
    struct prog p;
    uint64_t size;
    (void)state;
    memset(&p, 0, sizeof p);
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_txn_size(t, &size), 0);
    ldg_txn_abort(t);
    assert_int_equal(ldg_index_rebuild_progress(l, on_progress, &p), 0);
    assert_true(p.calls >= 2); /* the start and the end at least */
    assert_int_equal(p.last_done, size);
    assert_int_equal(p.last_total, size);
    ldg_close(l);
    t_rmrf(dir);
}

/* idx.time keys go in with LMDB's append when they are past the last
 * one; a key that is not (a ts earlier than the last, or a key already
 * there) still goes in, through the ordinary put, as before. */
static void
test_index__time_key_not_at_the_end_is_still_indexed(void **state)
{
    char dir[512];
    struct ldg_ledger *l = setup_log(dir, sizeof dir);
    struct ldg_txn *t;
    struct ldg_event ev;
    (void)state;
    memset(&ev, 0, sizeof ev);
    strcpy(ev.type, "x.one");
    strcpy(ev.subject, "host:local");
    strcpy(ev.actor, "0123456789abcdef");
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_WRITE, &t), 0);
    ev.seq = 1000;
    ev.ts_ns = UINT64_MAX - 1; /* past every key: appended */
    assert_int_equal(ldg_index_put(t, &ev), 0);
    assert_int_equal(ldg_index_check(t, &ev), 0);
    ev.seq = 1001;
    ev.ts_ns = 1; /* before every key: the append refuses, the put does it */
    assert_int_equal(ldg_index_check(t, &ev), LDG_ENOTFOUND);
    assert_int_equal(ldg_index_put(t, &ev), 0);
    assert_int_equal(ldg_index_check(t, &ev), 0);
    /* the very key again */
    assert_int_equal(ldg_index_put(t, &ev), 0);
    assert_int_equal(ldg_index_check(t, &ev), 0);
    ev.seq = 1002;
    ev.ts_ns = UINT64_MAX; /* the append works after the fallback */
    assert_int_equal(ldg_index_put(t, &ev), 0);
    assert_int_equal(ldg_index_check(t, &ev), 0);
    ldg_txn_abort(t);
    ldg_close(l);
    t_rmrf(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_index__time_key_not_at_the_end_is_still_indexed),
        cmocka_unit_test(test_index__walks_a_value_in_order_within_the_window),
        cmocka_unit_test(test_index__no_match_stop_and_errors),
        cmocka_unit_test(test_index__rebuild_gives_the_same_walks),
        cmocka_unit_test(test_index__rebuild_reports_progress_to_the_log_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
