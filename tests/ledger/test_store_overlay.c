/*
 * test_store_overlay.c — a transaction with an overlay (store.c,
 * overlay.c) against LMDB itself: the model test. The same random
 * operations go to a real LMDB write transaction and to an overlay over a
 * read snapshot of the same committed state — gets, puts (plain, new and
 * last, duplicates one and many), deletes of a key, a pair and every
 * duplicate of a key, drops, counts, and cursors stepping every way
 * (FIRST, LAST, NEXT, PREV, SET_RANGE, SET_KEY, GET_BOTH_RANGE,
 * NEXT_DUP, PREV_DUP, LAST_DUP, NEXT_NODUP), deleting and rewriting under
 * themselves, open across the changes — in three databases (plain keys,
 * sorted duplicates of one size as the ix.* indexes, of any size), and
 * after each step both must answer the same code and bytes, and hold the
 * same records read forward and backward, and the same counts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ledger/handle_int.h"
#include "tests/support/support.h"

enum { DB_PLAIN, DB_FIXED, DB_DUP, NDB };

struct side {
    struct ldg_txn *t;
    struct ldg_cursor *c[NDB];
};

static unsigned seed, seed0;
static int trace; /* LDG_OVL_TRACE=1: each operation on stderr */
static ldg_dbi dbs[NDB];
static int step_no;

static unsigned
rnd(unsigned n)
{
    return (unsigned)rand_r(&seed) % n;
}

/* A key of 1 to 3 letters of "abcd" (few enough to collide), or in the
 * wide models 1 to 4 of 16 letters (thousands: trees of many pages). */
static unsigned alpha = 4, keylen = 3;

static size_t
rkey(uint8_t *k)
{
    size_t n = 1 + rnd(keylen);
    for (size_t i = 0; i < n; i++)
        k[i] = (uint8_t)('a' + rnd(alpha));
    return n;
}

/* A value for database d: DB_FIXED's are 8 bytes (a small u64be, as the
 * indexes' seqs), DB_DUP's 1 to 3 letters, DB_PLAIN's 0 to 20 bytes. */
static size_t
rval(int d, uint8_t *v)
{
    size_t n;
    if (d == DB_FIXED) {
        ldg_be64(v, rnd(24));
        return 8;
    }
    n = d == DB_DUP ? 1 + rnd(3) : rnd(21);
    for (size_t i = 0; i < n; i++)
        v[i] = (uint8_t)(d == DB_DUP ? 'p' + rnd(4) : rnd(256));
    return n;
}

static void
same_val(const char *what, int rw, int ro, const struct ldg_val *w,
         const struct ldg_val *o)
{
    if (rw != ro)
        fail_msg("step %d (model %u): %s: LMDB answers %d, the overlay %d",
                 step_no, seed0, what, rw, ro);
    if (rw == 0 && w != NULL &&
        (w->len != o->len || (w->len && memcmp(w->data, o->data, w->len) != 0)))
        fail_msg("step %d (model %u): %s: LMDB and the overlay give "
                 "different bytes (%zu and %zu)",
                 step_no, seed0, what, w->len, o->len);
}

/* Both sides hold the same records of d, forward and backward, and the
 * same count. */
static void
same_db(struct side *w, struct side *o, int d)
{
    struct ldg_cursor *cw, *co;
    struct ldg_val kw, vw, ko, vo;
    uint64_t nw = 0, no = 0, seen = 0;
    int rw, ro;

    for (int dir = 0; dir < 2; dir++) {
        enum ldg_seek first = dir ? LDG_LAST : LDG_FIRST;
        enum ldg_seek next = dir ? LDG_PREV : LDG_NEXT;
        assert_int_equal(ldg_cursor_open(w->t, dbs[d], &cw), 0);
        assert_int_equal(ldg_cursor_open(o->t, dbs[d], &co), 0);
        seen = 0;
        rw = ldg_cursor_get(cw, first, NULL, 0, &kw, &vw);
        ro = ldg_cursor_get(co, first, NULL, 0, &ko, &vo);
        for (;;) {
            same_val("scan key", rw, ro, &kw, &ko);
            same_val("scan value", rw, ro, &vw, &vo);
            if (rw != 0)
                break;
            seen++;
            rw = ldg_cursor_get(cw, next, NULL, 0, &kw, &vw);
            ro = ldg_cursor_get(co, next, NULL, 0, &ko, &vo);
        }
        ldg_cursor_close(cw);
        ldg_cursor_close(co);
    }
    assert_int_equal(ldg_db_count(w->t, dbs[d], &nw), 0);
    assert_int_equal(ldg_db_count(o->t, dbs[d], &no), 0);
    if (nw != no || nw != seen)
        fail_msg("step %d: db %d counts %llu in LMDB, %llu in the overlay, "
                 "%llu scanned",
                 step_no, d, (unsigned long long)nw, (unsigned long long)no,
                 (unsigned long long)seen);
}

/* Each side's cursor of d is on an item (a relative step is defined). */
static int on_item[NDB];

static void
cursor_op(struct side *w, struct side *o, int d)
{
    static const enum ldg_seek plain_ops[] = {
        LDG_FIRST, LDG_LAST, LDG_NEXT, LDG_PREV, LDG_SET_RANGE, LDG_NEXT_NODUP};
    static const enum ldg_seek dup_ops[] = {
        LDG_FIRST,     LDG_LAST,     LDG_NEXT,           LDG_PREV,
        LDG_SET_RANGE, LDG_SET_KEY,  LDG_GET_BOTH_RANGE, LDG_NEXT_DUP,
        LDG_PREV_DUP,  LDG_LAST_DUP, LDG_NEXT_NODUP};
    uint8_t key[8], val[32];
    size_t kl = rkey(key), vl = rval(d, val);
    struct ldg_val kw = {0}, vw = {0}, ko = {0}, vo = {0};
    enum ldg_seek op;
    int rw, ro;
    char what[64];

    if (d == DB_PLAIN)
        op = plain_ops[rnd(sizeof plain_ops / sizeof plain_ops[0])];
    else
        op = dup_ops[rnd(sizeof dup_ops / sizeof dup_ops[0])];
    /* relative steps from an item only: after LDG_ENOTFOUND (or a
     * change under it through another path) LMDB's cursor state is its
     * own affair, and no caller steps from there */
    if (!on_item[d] && op != LDG_FIRST && op != LDG_LAST &&
        op != LDG_SET_RANGE && op != LDG_SET_KEY && op != LDG_GET_BOTH_RANGE)
        op = LDG_SET_RANGE;
    vw.data = vo.data = val;
    vw.len = vo.len = vl;
    rw = ldg_cursor_get(w->c[d], op, key, kl, &kw, &vw);
    ro = ldg_cursor_get(o->c[d], op, key, kl, &ko, &vo);
    if (trace)
        fprintf(
            stderr, "%d: db %d op %d key %.*s -> %d %.*s=%.*s / %d %.*s=%.*s\n",
            step_no, d, (int)op, (int)kl, key, rw, rw ? 0 : (int)kw.len,
            (const char *)kw.data, rw ? 0 : (int)vw.len, (const char *)vw.data,
            ro, ro ? 0 : (int)ko.len, (const char *)ko.data,
            ro ? 0 : (int)vo.len, (const char *)vo.data);
    snprintf(what, sizeof what, "db %d cursor op %d", d, (int)op);
    same_val(what, rw, ro, &kw, &ko);
    same_val(what, rw, ro, &vw, &vo);
    if (rw == 0)
        on_item[d] = 1;
    else if (op != LDG_NEXT_DUP && op != LDG_PREV_DUP)
        on_item[d] = 0;
    /* now and then a change through the cursor, then a step on */
    if (rw == 0 && rnd(6) == 0) {
        rw = ldg_cursor_del(w->c[d]);
        ro = ldg_cursor_del(o->c[d]);
        same_val("cursor del", rw, ro, NULL, NULL);
        if (d != DB_PLAIN) {
            /* LMDB's step after deleting a key's last duplicate can
             * skip the next key's first (horizon.c says so and looks
             * again); the overlay's gives the next record: the scans
             * compare what is left */
            on_item[d] = 0;
            return;
        }
        /* the next LDG_NEXT gives the one after the deleted */
        rw = ldg_cursor_get(w->c[d], LDG_NEXT, NULL, 0, &kw, &vw);
        ro = ldg_cursor_get(o->c[d], LDG_NEXT, NULL, 0, &ko, &vo);
        if (trace)
            fprintf(stderr, "  del, next -> %d %.*s=%.*s / %d %.*s=%.*s\n",
                    rw, rw ? 0 : (int)kw.len, (const char *)kw.data,
                    rw ? 0 : (int)vw.len, (const char *)vw.data, ro,
                    ro ? 0 : (int)ko.len, (const char *)ko.data,
                    ro ? 0 : (int)vo.len, (const char *)vo.data);
        same_val("next after del", rw, ro, &kw, &ko);
        same_val("next after del", rw, ro, &vw, &vo);
        on_item[d] = rw == 0;
    }
}

static void
change_op(struct side *w, struct side *o, int d)
{
    uint8_t key[8], val[32], vals[8 * 6];
    size_t kl = rkey(key), vl = rval(d, val);
    struct ldg_val gw, go;
    int rw, ro, op = (int)rnd(8);
    uint64_t base;

    if (trace && op != 7)
        fprintf(stderr, "%d: db %d change %d key %.*s\n", step_no, d, op,
                (int)kl, key);
    switch (op) {
    case 0: /* get */
        rw = ldg_kv_get(w->t, dbs[d], key, kl, &gw);
        ro = ldg_kv_get(o->t, dbs[d], key, kl, &go);
        same_val("get", rw, ro, &gw, &go);
        return;
    case 1: /* put */
        rw = ldg_core_kv_put(w->t, dbs[d], key, kl, val, vl);
        ro = ldg_core_kv_put(o->t, dbs[d], key, kl, val, vl);
        same_val("put", rw, ro, NULL, NULL);
        break;
    case 2: /* put of a new key that sorts last, or a duplicate */
        if (d == DB_PLAIN) {
            if (rnd(2)) { /* past every key most of the time */
                memset(key, 'a' + alpha - 1, 4);
                kl = keylen;
            }
            rw = ldg_kv_put_new(w->t, dbs[d], key, kl, val, vl);
            ro = ldg_kv_put_new(o->t, dbs[d], key, kl, val, vl);
            same_val("put_new", rw, ro, NULL, NULL);
        } else {
            rw = ldg_core_kv_put_dup(w->t, dbs[d], key, kl, val, vl);
            ro = ldg_core_kv_put_dup(o->t, dbs[d], key, kl, val, vl);
            same_val("put_dup", rw, ro, NULL, NULL);
        }
        break;
    case 3: /* many duplicates at once, ascending */
        if (d != DB_FIXED)
            return;
        /* past the key's others (the call's contract) */
        {
            struct ldg_cursor *c;
            struct ldg_val v = {0};
            assert_int_equal(ldg_cursor_open(w->t, dbs[d], &c), 0);
            base = rnd(20);
            if (ldg_cursor_get(c, LDG_SET_KEY, key, kl, NULL, &v) == 0 &&
                ldg_cursor_get(c, LDG_LAST_DUP, NULL, 0, NULL, &v) == 0)
                base += ldg_rd_be64(v.data) + 1;
            ldg_cursor_close(c);
        }
        for (unsigned i = 0; i < 6; i++)
            ldg_be64(vals + 8 * i, base + i * (1 + rnd(2)));
        vl = 1 + rnd(6); /* how many */
        rw = ldg_core_kv_put_dups(w->t, dbs[d], key, kl, vals, 8, vl);
        ro = ldg_core_kv_put_dups(o->t, dbs[d], key, kl, vals, 8, vl);
        same_val("put_dups", rw, ro, NULL, NULL);
        break;
    case 4: /* delete a key (every duplicate of it) */
        rw = ldg_core_kv_del(w->t, dbs[d], key, kl, NULL, 0);
        ro = ldg_core_kv_del(o->t, dbs[d], key, kl, NULL, 0);
        same_val("del key", rw, ro, NULL, NULL);
        break;
    case 5: /* delete one pair, or a get_both */
        if (d == DB_PLAIN)
            return;
        if (rnd(2)) {
            rw = ldg_core_kv_del(w->t, dbs[d], key, kl, val, vl);
            ro = ldg_core_kv_del(o->t, dbs[d], key, kl, val, vl);
            same_val("del pair", rw, ro, NULL, NULL);
        } else {
            rw = ldg_core_kv_get_both(w->t, dbs[d], key, kl, val, vl);
            ro = ldg_core_kv_get_both(o->t, dbs[d], key, kl, val, vl);
            same_val("get_both", rw, ro, NULL, NULL);
            return;
        }
        break;
    case 6: /* now and then, a drop */
        if (rnd(40) != 0)
            return;
        rw = ldg_core_db_drop(w->t, dbs[d], 0);
        ro = ldg_core_db_drop(o->t, dbs[d], 0);
        same_val("drop", rw, ro, NULL, NULL);
        on_item[d] = 0; /* LMDB unpositions the database's cursors */
        return;
    default:
        cursor_op(w, o, d);
        return;
    }
    /* a change through another path: LMDB keeps its cursors on their
     * items, and a step from there is as defined as any; but a cursor
     * whose record was deleted under it is left between records, and
     * one then put there is stepped over by LMDB (not by the overlay);
     * and for sorted duplicates LMDB's fix-ups of sub-cursors are its
     * own affair: those are sought again */
    if (d != DB_PLAIN || op == 4)
        on_item[d] = 0;
}

static void
run_model(unsigned s0, int steps, int base_n)
{
    char dir[256], err[256];
    struct ldg_store *st = NULL;
    struct ldg_store_opts opts = {0};
    struct side w = {0}, o = {0};
    struct ldg_txn *t;

    seed = seed0 = s0;
    trace = getenv("LDG_OVL_TRACE") != NULL;
    snprintf(dir, sizeof dir, "/tmp/ldg-ovl-XXXXXX");
    assert_non_null(mkdtemp(dir));
    opts.nosync = 1;
    assert_int_equal(ldg_store_open(&st, dir, &opts, err, sizeof err), 0);
    /* the three databases, and a committed state to begin from */
    assert_int_equal(ldg_store_txn_begin(st, NULL, 1, &t), 0);
    assert_int_equal(ldg_db_open(t, "t.plain", LDG_DB_CREATE, &dbs[DB_PLAIN]),
                     0);
    assert_int_equal(
        ldg_db_open(t, "t.dup", LDG_DB_CREATE | LDG_DB_DUPSORT, &dbs[DB_DUP]),
        0);
    dbs[DB_FIXED] = ldg_store_core_dbi(st, LDG_DB_IX_TYPE);
    for (int i = 0; i < base_n; i++) {
        uint8_t key[8], val[32];
        int d = (int)rnd(NDB);
        size_t kl = rkey(key), vl = rval(d, val);
        assert_int_equal(ldg_core_kv_put(t, dbs[d], key, kl, val, vl), 0);
    }
    assert_int_equal(ldg_txn_commit(t), 0);

    assert_int_equal(ldg_store_txn_begin_overlay(st, NULL, &o.t), 0);
    assert_int_equal(ldg_store_txn_begin(st, NULL, 1, &w.t), 0);
    for (int d = 0; d < NDB; d++) {
        assert_int_equal(ldg_cursor_open(w.t, dbs[d], &w.c[d]), 0);
        assert_int_equal(ldg_cursor_open(o.t, dbs[d], &o.c[d]), 0);
        on_item[d] = 0;
        same_db(&w, &o, d);
    }
    for (step_no = 0; step_no < steps; step_no++) {
        int d = (int)rnd(NDB);
        change_op(&w, &o, d);
        same_db(&w, &o, d);
    }
    for (int d = 0; d < NDB; d++) {
        ldg_cursor_close(w.c[d]);
        ldg_cursor_close(o.c[d]);
    }
    /* nothing of the overlay reaches the store */
    assert_int_equal(ldg_txn_commit(o.t), LDG_EINVAL);
    ldg_txn_abort(w.t);
    ldg_store_close(st);
    t_rmrf(dir);
}

static void
test_store_overlay__matches_lmdb(void **state)
{
    (void)state;
    for (unsigned s = 1; s <= 40; s++) {
        alpha = s % 4 ? 4 : 16;
        keylen = s % 4 ? 3 : 4;
        run_model(s, 2000, s % 4 ? 60 : 6000);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_overlay__matches_lmdb),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
