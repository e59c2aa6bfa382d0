/*
 * test_migrate.c — ledger/migrate.c: from every older layout (the golden
 * images of tests/vectors/layout/, 600 events: a build makes layout 6
 * only) to the newest, in one step and a step at a time, no signed or hashed byte changes (the
 * entries, every root, the verification), the indexes answer the same and
 * appends go on; asking for the layout the ledger has is a no-op, an older
 * or unknown one is refused; and a standing verification finding stops a
 * migrate (it would rebuild what the finding is about) with nothing
 * changed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ledger/ledger_int.h"
#include "tests/support/support.h"

#define N 600 /* the images' events */

struct snap {
    uint8_t leaf[N + 8][32], root[N + 8][32];
    uint64_t size, by_type;
};

static int
count_one(void *ctx, uint64_t seq)
{
    (void)seq;
    ++*(uint64_t *)ctx;
    return 0;
}

/* Events of type, by the type index. */
static uint64_t
count_type(struct ldg_txn *t, const char *type)
{
    uint64_t n = 0;
    assert_int_equal(ldg_index_walk(t, LDG_INDEX_TYPE, type, 0, UINT64_MAX, 0,
                                    count_one, &n),
                     0);
    return n;
}

static void
take(struct ldg_ledger *l, struct snap *s)
{
    struct ldg_txn *t;
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_txn_size(t, &s->size), 0);
    for (uint64_t i = 0; i < s->size; i++) {
        struct ldg_event ev;
        assert_int_equal(ldg_event_get(t, i, &ev), 0);
        memcpy(s->leaf[i], ev.leaf, 32);
        assert_int_equal(ldg_tree_root(t, i + 1, s->root[i]), 0);
    }
    s->by_type = count_type(t, "x.layout.test");
    ldg_txn_abort(t);
}

static void
same(const struct snap *a, const struct snap *b)
{
    assert_int_equal(a->size, b->size);
    assert_memory_equal(a->leaf, b->leaf, 32 * a->size);
    assert_memory_equal(a->root, b->root, 32 * a->size);
    assert_int_equal(a->by_type, b->by_type);
}

static struct ldg_ledger *
ledger_at(char *dir, size_t cap, unsigned layout)
{
    return t_ledger_image(dir, cap, layout);
}

static void
verifies(struct ldg_ledger *l)
{
    struct ldg_verify_report vr;
    memset(&vr, 0, sizeof vr);
    if (ldg_verify(l, LDG_VERIFY_FULL | LDG_VERIFY_NOSAVE, 0, &vr, NULL,
                   NULL) != 0)
        fail_msg("verify: event %llu: %s", (unsigned long long)vr.bad_seq,
                 vr.what);
}

static void
test_migrate__every_older_layout_keeps_every_byte(void **state)
{
    static struct snap before, after;
    (void)state;
    for (int from = 1; from < LDG_LAYOUT_NEWEST; from++) {
        for (int stepwise = 0; stepwise < 2; stepwise++) {
            char dir[256];
            struct ldg_ledger *l = ledger_at(dir, sizeof dir, (unsigned)from);
            struct ldg_migrate_result res;
            take(l, &before);
            if (stepwise) {
                for (int to = from + 1; to <= LDG_LAYOUT_NEWEST; to++) {
                    assert_int_equal(ldg_migrate(l, to, NULL, NULL, &res), 0);
                    assert_int_equal(res.from, to - 1);
                    assert_int_equal(res.to, to);
                    take(l, &after);
                    same(&before, &after);
                }
            } else {
                assert_int_equal(ldg_migrate(l, 0, NULL, NULL, &res), 0);
                assert_int_equal(res.from, from);
                assert_int_equal(res.to, LDG_LAYOUT_NEWEST);
                assert_int_equal(res.events, before.size);
                take(l, &after);
                same(&before, &after);
            }
            verifies(l);
            /* appends go on, in the new layout, and a reopened handle
             * reads it */
            t_append(l, "x.layout.test", "{\"n\":600}", NULL);
            ldg_close(l);
            {
                struct ldg_options o;
                char err[256];
                memset(&o, 0, sizeof o);
                o.flags = LDG_NOSYNC;
                assert_int_equal(ldg_open(&l, dir, &o, err, sizeof err), 0);
            }
            take(l, &after);
            assert_int_equal(after.size, before.size + 1);
            assert_int_equal(after.by_type, before.by_type + 1);
            verifies(l);
            ldg_close(l);
            t_rmrf(dir);
        }
    }
}

static void
test_migrate__the_same_layout_is_a_no_op_an_older_is_refused(void **state)
{
    char dir[256];
    struct ldg_ledger *l = ledger_at(dir, sizeof dir, 2);
    struct ldg_migrate_result res;
    static struct snap before, after;
    (void)state;
    take(l, &before);
    assert_int_equal(ldg_migrate(l, 2, NULL, NULL, &res), 0);
    assert_int_equal(res.from, 2);
    assert_int_equal(res.to, 2);
    assert_int_equal(ldg_migrate(l, 1, NULL, NULL, &res), LDG_EINVAL);
    assert_int_equal(ldg_migrate(l, LDG_LAYOUT_NEWEST + 1, NULL, NULL, &res),
                     LDG_EINVAL);
    take(l, &after);
    same(&before, &after);
    verifies(l);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_migrate__a_standing_finding_stops_it(void **state)
{
    char dir[256];
    struct ldg_ledger *l = ledger_at(dir, sizeof dir, 2);
    struct ldg_migrate_result res;
    struct ldg_verify_report vr;
    uint8_t buf[8192];
    size_t n;
    (void)state;
    /* a flipped bit in a body: verify finds it and keeps the finding */
    n = t_raw_get(l, "bodies", 10, buf, sizeof buf);
    assert_true(n > 4);
    buf[n - 1] ^= 1;
    t_raw_put(l, "bodies", 10, buf, n);
    memset(&vr, 0, sizeof vr);
    assert_int_equal(ldg_verify(l, LDG_VERIFY_FULL, 0, &vr, NULL, NULL),
                     LDG_ETAMPER);
    assert_int_equal(vr.bad_seq, 10);
    assert_int_equal(ldg_migrate(l, 0, NULL, NULL, &res), LDG_ETAMPER);
    assert_non_null(strstr(ldg_errmsg(l), "nothing was changed"));
    {
        struct ldg_txn *t;
        assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
        assert_int_equal(ldg_txn_layout(t), 2);
        ldg_txn_abort(t);
    }
    ldg_close(l);
    t_rmrf(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_migrate__every_older_layout_keeps_every_byte),
        cmocka_unit_test(
            test_migrate__the_same_layout_is_a_no_op_an_older_is_refused),
        cmocka_unit_test(test_migrate__a_standing_finding_stops_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
