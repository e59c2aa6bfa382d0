/*
 * test_index.c — the secondary indexes (ledger/index.c): ldg_index_walk
 * in both directions and windows, stopping, errors; ldg_index_rebuild
 * (also in small batches);
 * the idx.time put that appends at the end of its database; the body
 * index append handed no body.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "ledger/index_int.h"
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

/* The contents of core db: each pair as klen ‖ key ‖ vlen ‖ value, in
 * the database's order (a duplicate is a pair), into buf; its length. */
static size_t
db_bytes(struct ldg_ledger *l, enum ldg_core_db db, uint8_t *buf, size_t cap)
{
    struct ldg_txn *t;
    struct ldg_cursor *c;
    struct ldg_val k, v;
    size_t n = 0;
    int rc;
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    assert_int_equal(
        ldg_cursor_open(t, ldg_store_core_dbi(ldg_txn_store(t), db), &c), 0);
    for (rc = ldg_cursor_get(c, LDG_FIRST, NULL, 0, &k, &v); rc == 0;
         rc = ldg_cursor_get(c, LDG_NEXT, NULL, 0, &k, &v)) {
        assert_true(n + 2 + k.len + v.len <= cap);
        buf[n++] = (uint8_t)k.len;
        memcpy(buf + n, k.data, k.len);
        n += k.len;
        buf[n++] = (uint8_t)v.len;
        memcpy(buf + n, v.data, v.len);
        n += v.len;
    }
    assert_int_equal(rc, LDG_ENOTFOUND);
    ldg_cursor_close(c);
    ldg_txn_abort(t);
    return n;
}

/* The rebuild writes ix.type/subject/run/actor a value at a time from
 * batches (flushed at ldg_bix_batch_pairs pairs or ldg_bix_batch_keys
 * values): with small limits (values met again after a flush) and with
 * the defaults, every index holds exactly the pairs the appends put. */
static void
test_index__rebuild_in_batches_puts_what_the_appends_put(void **state)
{
    static const enum ldg_core_db dbs[] = {LDG_DB_IX_TYPE, LDG_DB_IX_SUBJECT,
                                           LDG_DB_IX_RUN,  LDG_DB_IX_ACTOR,
                                           LDG_DB_IDX_ID,  LDG_DB_IX_BODY};
    static uint8_t before[64 * 1024], after[64 * 1024];
    char dir[512];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    (void)state;
    for (int i = 0; i < 300; i++) {
        char type[32], subject[32], run[32], id[32], body[96];
        struct ldg_event_in in;
        uint64_t seq;
        memset(&in, 0, sizeof in);
        snprintf(type, sizeof type, "x.t%d", i % 23);
        snprintf(subject, sizeof subject, "host:h%d", i % 11);
        snprintf(run, sizeof run, "run-%d", i / 9);
        snprintf(id, sizeof id, "id-%d", (i * 37) % 300);
        snprintf(body, sizeof body,
                 "{\"status\":\"s%d\",\"kind\":[\"a\",\"k%d\"]}", i % 3,
                 i % 40);
        in.type = type;
        in.subject = subject;
        in.run = i % 5 ? run : NULL;
        in.id = id;
        assert_non_null(in.body = json_loads(body, 0, NULL));
        assert_int_equal(ldg_append(l, &in, &seq), 0);
        json_decref(in.body);
    }
    for (int round = 0; round < 2; round++) {
        for (size_t d = 0; d < sizeof dbs / sizeof dbs[0]; d++) {
            size_t n = db_bytes(l, dbs[d], before, sizeof before), m;
            assert_true(n > 0);
            if (round == 0) {
                ldg_bix_batch_pairs = 5;
                ldg_bix_batch_keys = 16;
            }
            assert_int_equal(ldg_index_rebuild(l), 0);
            ldg_bix_batch_pairs = (size_t)1 << 20;
            ldg_bix_batch_keys = (size_t)1 << 14;
            m = db_bytes(l, dbs[d], after, sizeof after);
            assert_int_equal(n, m);
            assert_memory_equal(before, after, n);
        }
    }
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

/* ldg_bix_append is handed the body or its stored record: given neither
 * (no caller does), it refuses with LDG_EINVAL before it looks at the
 * index, and the transaction's index state is as it was (it used to go on
 * with an unset return code). In an LDG_DEBUG build the LDG_NEVER aborts
 * instead, so the call is made only in the release build. */
static void
test_index__body_append_without_a_body_is_refused(void **state)
{
    char dir[512];
    struct ldg_ledger *l = setup_log(dir, sizeof dir);
    struct ldg_txn *t;
    (void)state;
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_WRITE, &t), 0);
    assert_int_equal(ldg_txn_bix(t)->state, 0);
#ifndef LDG_DEBUG
    assert_int_equal(ldg_bix_append(t, 13, NULL, 0, NULL), LDG_EINVAL);
    assert_int_equal(ldg_txn_bix(t)->state, 0);
    assert_int_equal(ldg_txn_bix(t)->dirty, 0);
#else
    {
        int st;
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            fclose(stderr); /* the assertion's message is expected */
            ldg_bix_append(t, 13, NULL, 0, NULL);
            _exit(0);
        }
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
    }
#endif
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
        cmocka_unit_test(
            test_index__rebuild_in_batches_puts_what_the_appends_put),
        cmocka_unit_test(test_index__body_append_without_a_body_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
