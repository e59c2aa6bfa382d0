/*
 * verify_fx.h — the fixture of the verify tests (test_verify*.c): a fresh
 * ledger of 40 events (keys, a run, bodies) in a format, or the golden
 * image of an older store layout (TL1, TL2), and expect_bad, which checks the
 * first bad seq a verification names and what it says.
 */
#ifndef LDG_TEST_VERIFY_FX_H
#define LDG_TEST_VERIFY_FX_H

#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ledger/keys_int.h"
#include "ledger/tree_int.h"
#include "ledger/tlog_int.h"
#include "tests/support/support.h"

struct fx {
    char dir[256];
    struct ldg_ledger *l;
};

static inline int
setup_layout(void **state, unsigned format, unsigned layout)
{
    struct fx *f = calloc(1, sizeof *f);
    f->l = t_ledger_new_layout(f->dir, sizeof f->dir, 0, format, layout);
    assert_int_equal(ldg_keys_add(f->l, "alice", "run", NULL), 0); /* 1 */
    for (int i = 2; i < 40; i++) {
        char body[128];
        snprintf(body, sizeof body,
                 "{\"run\":\"R-1\",\"step\":\"s%d\",\"tool\":\"t\","
                 "\"status\":\"ok\",\"duration_ms\":%d}",
                 i, i * 10);
        t_append(f->l, "run.step", body, (i % 2) ? "alice" : NULL);
    }
    *state = f;
    return 0;
}

/* A format 2 ledger (sealed entries). */
static inline int
setup(void **state)
{
    return setup_layout(state, 2, 0);
}

/* A format 1 ledger (per-event signatures), as written before. */
static inline int
setup_v1(void **state)
{
    return setup_layout(state, 1, 0);
}

/* The golden image of store layout 1 (a record per tree node) and of
 * layout 2 (a key per event in each index): older layouts are read and
 * verified, never appended to, so their ledgers come from images made by
 * the builds that wrote those layouts (tests/vectors/layout/README: 600
 * events, the pdf-ops example at 0..31, run R-0001 among them). */
static inline int
setup_image(void **state, unsigned layout)
{
    struct fx *f = calloc(1, sizeof *f);
    f->l = t_ledger_image(f->dir, sizeof f->dir, layout);
    *state = f;
    return 0;
}

static inline int
setup_l1(void **state)
{
    return setup_image(state, 1);
}

static inline int
setup_l2(void **state)
{
    return setup_image(state, 2);
}

static inline int
teardown(void **state)
{
    struct fx *f = *state;
    ldg_close(f->l);
    t_rmrf(f->dir);
    free(f);
    return 0;
}

static inline void
expect_bad(struct fx *f, unsigned flags, uint64_t seq, const char *word)
{
    struct ldg_verify_report r;
    int rc = ldg_verify(f->l, flags | LDG_VERIFY_NOSAVE, 0, &r, NULL, NULL);
    if (rc != LDG_ETAMPER)
        fail_msg("verify returned %d (%s), expected tampering at %llu", rc,
                 ldg_strerror(rc), (unsigned long long)seq);
    if (r.bad_seq != seq)
        fail_msg("first bad event %llu, expected %llu: %s",
                 (unsigned long long)r.bad_seq, (unsigned long long)seq,
                 r.what);
    if (strstr(r.what, word) == NULL)
        fail_msg("message '%s' does not say '%s'", r.what, word);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
#define T1(name) cmocka_unit_test_setup_teardown(name, setup_v1, teardown)
#define TL1(name) cmocka_unit_test_setup_teardown(name, setup_l1, teardown)
#define TL2(name) cmocka_unit_test_setup_teardown(name, setup_l2, teardown)

/* An attacker who holds the log key rebuilds everything it signs: from
 * `from` on, each entry's prev, the stored tree and every checkpoint. What
 * is left to catch them is the seals. */
static inline void
rechain(struct fx *f, uint64_t from)
{
    struct ldg_txn *t;
    ldg_dbi ent, cks;
    uint64_t size;
    uint8_t prev[32] = {0};

    assert_int_equal(ldg_size(f->l, &size), 0);
    assert_int_equal(ldg_log_secret_load(f->l), 0);
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_WRITE, &t), 0);
    assert_int_equal(
        ldg_db_open(t, ldg_core_db_names[ldg_db_entries(t)], 0, &ent), 0);
    assert_int_equal(ldg_db_open(t, "checkpoints", 0, &cks), 0);
    if (from > 0)
        assert_int_equal(ldg_entry_prev(t, from, prev), 0);
    for (uint64_t q = from; q < size; q++) {
        uint8_t k[8], buf[LDG_ENTRY_MAX], leaf[32];
        struct ldg_val v;
        size_t n;
        ldg_be64(k, q);
        assert_int_equal(ldg_kv_get(t, ent, k, 8, &v), 0);
        /* a whole entry gets the new prev; a stored form (layout 5) has
         * none, and is read with the new tree's */
        assert_int_equal(
            ldg_entry_whole(v.data, v.len, prev, buf, sizeof buf, &n), 0);
        if (q > from) /* sealed: prev is the last 32 bytes */
            memcpy(buf + n - 32, prev, 32);
        if (((const uint8_t *)v.data)[0] == 0x93)
            assert_int_equal(ldg_core_kv_put(t, ent, k, 8, buf, n), 0);
        ldg_tlog_leaf_hash(leaf, buf, n);
        assert_int_equal(ldg_tree_add_leaf(t, q, leaf), 0);
        memcpy(prev, leaf, 32);
    }
    for (uint64_t q = from + 1; q <= size; q++) {
        uint8_t k[8];
        struct ldg_val v;
        ldg_be64(k, q);
        if (ldg_kv_get(t, cks, k, 8, &v) == 0)
            assert_int_equal(ldg_checkpoint_put(t, q), 0);
    }
    assert_int_equal(ldg_txn_commit(t), 0);
}

#endif
