/*
 * test_migrate.c — ledger/migrate.c: from every older layout (the golden
 * images of tests/vectors/layout/, 600 events: a build makes layout 6
 * only) to the newest, in one step and a step at a time, no signed or hashed byte changes (the
 * entries, every root, the verification), the indexes answer the same and
 * appends go on; asking for the layout the ledger has is a no-op, an older
 * or unknown one is refused; and a standing verification finding stops a
 * migrate (it would rebuild what the finding is about) with nothing
 * changed. To layout 8 every sealed entry's record keeps its claim digest
 * raw before it (to 7, in its stamp): from 4 or older the copy stores it
 * so, from 5, 6 and 7 the records are rewritten (layout 7's and those
 * without a digest alike), and a rewrite that stopped (meta
 * "digest.next"), also over a pruned range, is finished by the next
 * migrate.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ledger/handle_int.h"
#include "retention/retention.h"
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
    for (int from = 1; from < LDG_LAYOUT_TAGGED; from++) {
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

/* Records of entries5 that are sealed entries stored in form (enum
 * ldg_stored_form); *all gets the records. */
static uint64_t
in_form(struct ldg_ledger *l, int form, uint64_t *all)
{
    struct ldg_txn *t;
    struct ldg_cursor *c;
    struct ldg_val k, v;
    uint64_t n = 0;
    int rc;
    *all = 0;
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_cursor_open(t, ldg_core(l, LDG_DB_ENTRIES5), &c), 0);
    for (rc = ldg_cursor_get(c, LDG_FIRST, NULL, 0, &k, &v); rc == 0;
         rc = ldg_cursor_get(c, LDG_NEXT, NULL, 0, &k, &v)) {
        const uint8_t *p = v.data;
        size_t m;
        int sealed, f;
        ++*all;
        if (v.len > 33 && p[0] == 0x01) {
            assert_int_equal(ldg_entry_stored_parts(p + 33, v.len - 33, &m,
                                                    &sealed),
                             0);
            assert_true(sealed && !ldg_entry_stored_digest(p + 33, v.len - 33,
                                                           m));
            n += form == LDG_STORED_TAGGED;
            continue;
        }
        assert_int_equal(ldg_entry_stored_parts(p, v.len, &m, &sealed), 0);
        f = ldg_entry_stored_digest(p, v.len, m) ? LDG_STORED_STAMP
                                                 : LDG_STORED_CUT;
        n += sealed && f == form;
    }
    assert_int_equal(rc, LDG_ENOTFOUND);
    ldg_cursor_close(c);
    ldg_txn_abort(t);
    return n;
}

/* Records stored without their claim digests. */
static uint64_t
undigested(struct ldg_ledger *l, uint64_t *all)
{
    return in_form(l, LDG_STORED_CUT, all);
}

/* meta "digest.next": 0 with *seq, or LDG_ENOTFOUND. */
static int
digest_next(struct ldg_ledger *l, uint64_t *seq)
{
    struct ldg_txn *t;
    struct ldg_val v;
    int rc;
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    rc = ldg_kv_get(t, ldg_core(l, LDG_DB_META), LDG_META_DIGEST_NEXT,
                    sizeof LDG_META_DIGEST_NEXT - 1, &v);
    if (rc == 0) {
        assert_int_equal(v.len, 8);
        *seq = ldg_rd_be64(v.data);
    }
    ldg_txn_abort(t);
    return rc;
}

static void
test_migrate__to_8_every_sealed_entry_keeps_its_digest(void **state)
{
    (void)state;
    for (int from = 1; from < LDG_LAYOUT_TAGGED; from++) {
        char dir[256];
        struct ldg_ledger *l = ledger_at(dir, sizeof dir, (unsigned)from);
        struct ldg_migrate_result res;
        uint64_t all, seq;
        if (from >= LDG_LAYOUT_STORED)
            assert_int_equal(in_form(l,
                                     from == LDG_LAYOUT_DIGEST
                                         ? LDG_STORED_STAMP
                                         : LDG_STORED_CUT,
                                     &all),
                             N);
        assert_int_equal(ldg_migrate(l, 0, NULL, NULL, &res), 0);
        assert_int_equal(res.to, LDG_LAYOUT_INTAKE);
        /* from 4 or older stored with them, from 5, 6 and 7 rewritten */
        assert_int_equal(res.entries_digested,
                         from >= LDG_LAYOUT_STORED ? N : 0);
        assert_int_equal(in_form(l, LDG_STORED_TAGGED, &all), N);
        assert_int_equal(all, N);
        assert_int_equal(digest_next(l, &seq), LDG_ENOTFOUND);
        verifies(l);
        assert_int_equal(ldg_migrate(l, 0, NULL, NULL, &res), 0);
        assert_int_equal(res.entries_digested, 0);
        ldg_close(l);
        t_rmrf(dir);
    }
    /* --layout 5 and 6 write the records without them, as those layouts
     * read them; --layout 7 with them in the stamp, from 4 (the copy) and
     * from 6 (the rewrite) */
    for (int to = LDG_LAYOUT_STORED; to < LDG_LAYOUT_TAGGED; to++) {
        for (int from = LDG_LAYOUT_SPLIT; from < to; from += 2) {
            char dir[256];
            struct ldg_ledger *l = ledger_at(dir, sizeof dir, (unsigned)from);
            struct ldg_migrate_result res;
            uint64_t all;
            int form =
                to == LDG_LAYOUT_DIGEST ? LDG_STORED_STAMP : LDG_STORED_CUT;
            assert_int_equal(ldg_migrate(l, to, NULL, NULL, &res), 0);
            assert_int_equal(res.to, to);
            assert_int_equal(in_form(l, form, &all), N);
            assert_int_equal(res.entries_digested,
                             from > LDG_LAYOUT_SPLIT && to == LDG_LAYOUT_DIGEST
                                 ? N
                                 : 0);
            verifies(l);
            ldg_close(l);
            t_rmrf(dir);
        }
    }
}

/* l (layout 6 or 7) as a migrate to `layout` (7 or 8) leaves it when it
 * stops after writing meta "layout" and rewriting the records below
 * `next` in that layout's form. */
static void
stop_at(struct ldg_ledger *l, uint64_t next, int layout)
{
    struct ldg_txn *t;
    ldg_dbi meta = ldg_core(l, LDG_DB_META),
            e5 = ldg_core(l, LDG_DB_ENTRIES5);
    uint8_t lay[4], k[8], rec[LDG_ENTRY_MAX];
    int form = layout == LDG_LAYOUT_TAGGED ? LDG_STORED_TAGGED
                                           : LDG_STORED_STAMP;
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_WRITE, &t), 0);
    for (uint64_t seq = 0; seq < next; seq++) {
        struct ldg_val v;
        size_t n;
        ldg_be64(k, seq);
        assert_int_equal(ldg_kv_get(t, e5, k, 8, &v), 0);
        assert_int_equal(ldg_entry_stored(v.data, v.len, form, rec,
                                          sizeof rec, &n),
                         0);
        assert_int_equal(ldg_core_kv_put(t, e5, k, 8, rec, n), 0);
    }
    ldg_be32(lay, (uint32_t)layout);
    ldg_be64(k, next);
    assert_int_equal(ldg_core_kv_put(t, meta, LDG_META_LAYOUT,
                                     sizeof LDG_META_LAYOUT - 1, lay, 4),
                     0);
    assert_int_equal(ldg_core_kv_put(t, meta, LDG_META_DIGEST_NEXT,
                                     sizeof LDG_META_DIGEST_NEXT - 1, k, 8),
                     0);
    assert_int_equal(ldg_txn_commit(t), 0);
}

static void
test_migrate__a_stopped_digest_rewrite_is_finished_by_the_next(void **state)
{
    static struct snap before, after;
    char dir[256];
    struct ldg_ledger *l = ledger_at(dir, sizeof dir, LDG_LAYOUT_AES_SALTS);
    struct ldg_migrate_result res;
    struct ldg_stats st;
    uint64_t all, seq;
    (void)state;
    take(l, &before);
    stop_at(l, 300, LDG_LAYOUT_TAGGED);
    /* meta "digest.next" says where the rewrite stopped */
    assert_int_equal(ldg_stats(l, &st), 0);
    assert_int_equal(st.layout, LDG_LAYOUT_TAGGED);
    assert_int_equal(digest_next(l, &seq), 0);
    assert_int_equal(seq, 300);
    /* a whole layout 8 ledger meanwhile: it reads both forms, appends */
    assert_int_equal(undigested(l, &all), N - 300);
    assert_int_equal(in_form(l, LDG_STORED_TAGGED, &all), 300);
    verifies(l);
    t_append(l, "x.layout.test", "{\"n\":600}", NULL);
    assert_int_equal(undigested(l, &all), N - 300);
    assert_int_equal(in_form(l, LDG_STORED_TAGGED, &all), 301);
    assert_int_equal(all, N + 1);
    assert_int_equal(ldg_migrate(l, 0, NULL, NULL, &res), 0);
    assert_int_equal(res.from, LDG_LAYOUT_TAGGED);
    assert_int_equal(res.to, LDG_LAYOUT_INTAKE);
    assert_int_equal(res.entries_digested, N - 300);
    assert_int_equal(undigested(l, &all), 0);
    assert_int_equal(in_form(l, LDG_STORED_TAGGED, &all), N + 1);
    assert_int_equal(all, N + 1);
    assert_int_equal(digest_next(l, &seq), LDG_ENOTFOUND);
    assert_int_equal(ldg_stats(l, &st), 0);
    take(l, &after);
    assert_int_equal(after.size, before.size + 1);
    assert_memory_equal(after.leaf, before.leaf, 32 * before.size);
    assert_memory_equal(after.root, before.root, 32 * before.size);
    verifies(l);
    ldg_close(l);
    t_rmrf(dir);
}

/* A layout 7 store whose rewrite stopped (records below 300 with their
 * digests in their stamps, the rest without), migrated to 8: every
 * record, of either form, rewritten in layout 8's; --layout 7 finishes
 * layout 7's rewrite in its own form. */
static void
test_migrate__a_stopped_layout7_rewrite_goes_to_8(void **state)
{
    static struct snap before, after;
    char dir[256];
    struct ldg_ledger *l = ledger_at(dir, sizeof dir, LDG_LAYOUT_AES_SALTS);
    struct ldg_migrate_result res;
    uint64_t all, seq;
    (void)state;
    take(l, &before);
    stop_at(l, 300, LDG_LAYOUT_DIGEST);
    assert_int_equal(in_form(l, LDG_STORED_STAMP, &all), 300);
    assert_int_equal(undigested(l, &all), N - 300);
    verifies(l);
    assert_int_equal(ldg_migrate(l, 0, NULL, NULL, &res), 0);
    assert_int_equal(res.from, LDG_LAYOUT_DIGEST);
    assert_int_equal(res.to, LDG_LAYOUT_INTAKE);
    assert_int_equal(res.entries_digested, N);
    assert_int_equal(in_form(l, LDG_STORED_TAGGED, &all), N);
    assert_int_equal(digest_next(l, &seq), LDG_ENOTFOUND);
    take(l, &after);
    same(&before, &after);
    verifies(l);
    ldg_close(l);
    t_rmrf(dir);

    l = ledger_at(dir, sizeof dir, LDG_LAYOUT_AES_SALTS);
    stop_at(l, 200, LDG_LAYOUT_DIGEST);
    assert_int_equal(ldg_migrate(l, LDG_LAYOUT_DIGEST, NULL, NULL, &res), 0);
    assert_int_equal(res.to, LDG_LAYOUT_DIGEST);
    assert_int_equal(res.entries_digested, N - 200);
    assert_int_equal(in_form(l, LDG_STORED_STAMP, &all), N);
    assert_int_equal(digest_next(l, &seq), LDG_ENOTFOUND);
    verifies(l);
    ldg_close(l);
    t_rmrf(dir);
}

/* meta "digest.next" written as v (n bytes) */
static void
put_digest_next(struct ldg_ledger *l, const uint8_t *v, size_t n)
{
    struct ldg_txn *t;
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_WRITE, &t), 0);
    assert_int_equal(ldg_core_kv_put(t, ldg_core(l, LDG_DB_META),
                                     LDG_META_DIGEST_NEXT,
                                     sizeof LDG_META_DIGEST_NEXT - 1, v, n),
                     0);
    assert_int_equal(ldg_txn_commit(t), 0);
}

/* A meta "digest.next" not 8 bytes long is damage: stats and migrate
 * name it rather than guess where the rewrite stopped. */
static void
test_migrate__a_malformed_digest_next_is_named(void **state)
{
    char dir[256];
    struct ldg_ledger *l = ledger_at(dir, sizeof dir, LDG_LAYOUT_AES_SALTS);
    struct ldg_migrate_result res;
    struct ldg_stats st;
    const uint8_t three[3] = {0, 1, 2};
    (void)state;
    stop_at(l, 100, LDG_LAYOUT_TAGGED);
    put_digest_next(l, three, 3);
    assert_int_equal(ldg_stats(l, &st), LDG_ECORRUPT);
    assert_non_null(strstr(ldg_errmsg(l), "digest.next: 3 bytes, not 8"));
    assert_int_equal(ldg_migrate(l, 0, NULL, NULL, &res), LDG_ECORRUPT);
    assert_non_null(strstr(ldg_errmsg(l), "digest.next: 3 bytes, not 8"));
    ldg_close(l);
    t_rmrf(dir);
    /* at layout 9 too (migrate had said "nothing to convert"), and a
     * whole one left there is finished: its rewrite goes on */
    l = t_ledger_new(dir, sizeof dir, 0);
    t_append_many(l, 10);
    put_digest_next(l, three, 3);
    assert_int_equal(ldg_migrate(l, 0, NULL, NULL, &res), LDG_ECORRUPT);
    assert_non_null(strstr(ldg_errmsg(l), "digest.next: 3 bytes, not 8; the "
                                          "store is damaged (run `ledger "
                                          "verify`)"));
    {
        const uint8_t zero[8] = {0};
        uint64_t seq;
        put_digest_next(l, zero, 8);
        assert_int_equal(ldg_migrate(l, 0, NULL, NULL, &res), 0);
        assert_int_equal(res.from, LDG_LAYOUT_NEWEST);
        assert_int_equal(res.to, LDG_LAYOUT_NEWEST);
        assert_int_equal(digest_next(l, &seq), LDG_ENOTFOUND);
    }
    verifies(l);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_migrate__a_digest_rewrite_steps_over_a_pruned_range(void **state)
{
    char dir[256], archive[300];
    struct ldg_ledger *l = ledger_at(dir, sizeof dir, LDG_LAYOUT_AES_SALTS);
    struct ldg_migrate_result res;
    struct ldg_archive_opts ao;
    struct ldg_archive_report ar;
    struct ldg_prune_opts po;
    struct ldg_prune_report pr;
    uint64_t all, left, seq;
    int rc;
    (void)state;
    /* stopped before its first chunk, then pruned below 300 (a write
     * layout 8 takes), the records below the horizon gone */
    stop_at(l, 0, LDG_LAYOUT_TAGGED);
    snprintf(archive, sizeof archive, "%s/archive", dir);
    memset(&ao, 0, sizeof ao);
    ao.before = "300";
    ao.out = archive;
    if ((rc = ldg_retention_archive(l, &ao, &ar)) != 0)
        fail_msg("archive: %s (%s)", ldg_strerror(rc), ldg_errmsg(l));
    memset(&po, 0, sizeof po);
    po.before = "300";
    po.archive = archive;
    if ((rc = ldg_retention_prune(l, &po, &pr)) != 0)
        fail_msg("prune: %s (%s)", ldg_strerror(rc), ldg_errmsg(l));
    left = undigested(l, &all);
    assert_true(left > 0 && left < N && all < N);
    assert_int_equal(ldg_migrate(l, 0, NULL, NULL, &res), 0);
    assert_int_equal(res.entries_digested, left);
    assert_int_equal(undigested(l, &all), 0);
    assert_int_equal(digest_next(l, &seq), LDG_ENOTFOUND);
    verifies(l);
    ldg_close(l);
    t_rmrf(dir);
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
        cmocka_unit_test(test_migrate__to_8_every_sealed_entry_keeps_its_digest),
        cmocka_unit_test(
            test_migrate__a_stopped_digest_rewrite_is_finished_by_the_next),
        cmocka_unit_test(test_migrate__a_stopped_layout7_rewrite_goes_to_8),
        cmocka_unit_test(test_migrate__a_malformed_digest_next_is_named),
        cmocka_unit_test(
            test_migrate__a_digest_rewrite_steps_over_a_pruned_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
