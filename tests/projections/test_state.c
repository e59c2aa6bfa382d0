/*
 * test_state.c — the record cache: keys, the multiset digest, write-back
 * to a transaction, arena-backed reads that are later changed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "projections/proj_int.h"
#include "tests/support/support.h"

static struct ldg_slice
S(const char *s) {
    struct ldg_slice v = {s, strlen(s)};
    return v;
}

static void
test_state__keys_join_parts_and_hash_long_ones(void **state)
{
    uint8_t a[PROJ_KEY_MAX + 1], b[PROJ_KEY_MAX + 1];
    char *big = malloc(2000), *big2 = malloc(2000);
    size_t na, nb;
    (void)state;

    na = pkey(a, 'g', (struct ldg_slice[]){S("p"), S("fs.read"), S("~")}, 3);
    assert_int_equal(na, 1 + 1 + 1 + 7 + 1 + 1);
    assert_memory_equal(a, "gp\0fs.read\0~", na);
    memset(big, 'x', 1999);
    big[1999] = '\0';
    memcpy(big2, big, 2000);
    big2[1990] = 'y'; /* differs after the kept prefix */
    na = pkey(a, 'p', (struct ldg_slice[]){S(big)}, 1);
    nb = pkey(b, 'p', (struct ldg_slice[]){S(big2)}, 1);
    assert_true(na <= PROJ_KEY_MAX && nb <= PROJ_KEY_MAX);
    assert_int_equal(na, nb);
    assert_memory_not_equal(a, b, na);
    assert_int_equal(pkey(b, 'p', (struct ldg_slice[]){S(big)}, 1), na);
    assert_memory_equal(a, b, na); /* deterministic */
    free(big);
    free(big2);
}

static void
test_state__digest_depends_on_the_set_not_the_order(void **state)
{
    struct pdigest x, y;
    uint8_t h[5][32], fx[32], fy[32];
    (void)state;

    memset(&x, 0, sizeof x);
    memset(&y, 0, sizeof y);
    for (int i = 0; i < 5; i++) {
        uint8_t k = (uint8_t)('a' + i);
        record_hash(h[i], &k, 1, (const uint8_t *)"v", 1);
    }
    for (int i = 0; i < 5; i++)
        pdigest_add(&x, h[i]);
    for (int i = 4; i >= 0; i--)
        pdigest_add(&y, h[i]);
    assert_memory_equal(&x, &y, sizeof x);
    /* replace one record: sub the old, add the new */
    pdigest_sub(&x, h[2]);
    pdigest_add(&x, h[2]);
    assert_memory_equal(&x, &y, sizeof x);
    pdigest_sub(&x, h[2]);
    pdigest_final(fx, P_PACKS, &x);
    pdigest_final(fy, P_PACKS, &y);
    assert_memory_not_equal(fx, fy, 32);
    assert_int_equal(x.count, 4);
    /* the name and version of the projection are bound */
    pdigest_final(fx, P_RUNS, &y);
    assert_memory_not_equal(fx, fy, 32);
}

static void
test_state__flush_keeps_the_digest_of_what_is_stored(void **state)
{
    char dir[256];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_txn *t;
    struct pstate *ps, *mem;
    struct pdigest all[P_COUNT];
    uint8_t key[PROJ_KEY_MAX + 1];
    struct rec_run *r;
    size_t kl;
    (void)state;

    assert_int_equal(ldg_txn_begin(l, LDG_TXN_WRITE, &t), 0);
    assert_int_equal(ps_new(&ps, l, t, 1, P_ALL), 0);
    for (int i = 0; i < 50; i++) {
        char name[16];
        snprintf(name, sizeof name, "R%d", i);
        kl = pkey(key, TAG_RUN, (struct ldg_slice[]){S(name)}, 1);
        r = ps_upd(ps, P_RUNS, key, kl);
        assert_non_null(r);
        r->run = strdup(name);
        r->events = (uint64_t)i;
    }
    assert_int_equal(ps_flush(ps), 0);
    /* change some, flush again: the digest follows */
    for (int i = 0; i < 50; i += 7) {
        char name[16];
        snprintf(name, sizeof name, "R%d", i);
        kl = pkey(key, TAG_RUN, (struct ldg_slice[]){S(name)}, 1);
        r = ps_upd(ps, P_RUNS, key, kl);
        r->steps = 99;
    }
    assert_int_equal(ps_flush(ps), 0);
    /* a fresh state reading what was written has the same digest */
    assert_int_equal(ps_new(&mem, l, t, 0, P_ALL), 0);
    assert_int_equal(ps_load_tag(mem, P_RUNS, TAG_RUN), 0);
    assert_int_equal(mem->n, 50);
    {
        /* digests of loaded (arena) records, as a memory-only sum */
        struct pentry **v;
        size_t n;
        struct pdigest d;
        memset(&d, 0, sizeof d);
        assert_int_equal(ps_list(mem, P_RUNS, TAG_RUN, &v, &n), 0);
        for (size_t i = 0; i < n; i++) {
            uint8_t *val, h[32];
            size_t vlen;
            assert_int_equal(rec_encode(v[i]->rt, v[i]->rec, &val, &vlen), 0);
            record_hash(h, v[i]->key, v[i]->klen, val, vlen);
            pdigest_add(&d, h);
            free(val);
        }
        free(v);
        assert_memory_equal(&d, &ps->dig[P_RUNS], sizeof d);
    }
    /* changing an arena-backed record gives it its own memory */
    kl = pkey(key, TAG_RUN, (struct ldg_slice[]){S("R3")}, 1);
    r = ps_upd(mem, P_RUNS, key, kl);
    assert_non_null(r);
    free(r->run);
    r->run = strdup("renamed");
    assert_int_equal(ps_digest_all(mem, all), 0);
    assert_int_equal(all[P_RUNS].count, 50);
    ps_free(mem);
    ps_free(ps);
    ldg_txn_abort(t);
    ldg_close(l);
    t_rmrf(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state__keys_join_parts_and_hash_long_ones),
        cmocka_unit_test(test_state__digest_depends_on_the_set_not_the_order),
        cmocka_unit_test(test_state__flush_keeps_the_digest_of_what_is_stored),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
