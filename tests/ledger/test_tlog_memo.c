/*
 * test_tlog_memo.c — the inclusion checks for runs of proofs
 * (ledger/tlog_memo.c) and the cached tlog-proof@v1 parser (tlog.c) that
 * verify-bundle uses, against a transcription of RFC 6962 and against the
 * core's own proofs and ldg_proof_check.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tests/export/helpers.h"

/* A parsed proof, as verify-bundle holds one. */
struct bproof {
    uint64_t index;
    uint8_t hashes[LDG_PROOF_MAX][32];
    size_t n;
    const char *checkpoint;
    size_t checkpoint_len;
};

static int
bproof_parse_cached(struct bproof *p, const char *text, size_t len,
                    struct ldg_tlog_proof_cache *c)
{
    memset(p, 0, sizeof *p);
    return ldg_tlog_proof_parse_cached(text, len, &p->index, p->hashes, &p->n,
                                       &p->checkpoint, &p->checkpoint_len, c);
}

static int
bproof_parse(struct bproof *p, const char *text, size_t len)
{
    return bproof_parse_cached(p, text, len, NULL);
}

#define N 64

static void
make_leaves(uint8_t (*leaves)[32], size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t e[8];
        for (int k = 0; k < 8; k++)
            e[k] = (uint8_t)(i >> (8 * k));
        leaf_of(leaves[i], e, sizeof e);
    }
}

static void
test_tlog_memo__every_proof_of_sizes_1_to_64_verifies(void **state)
{
    uint8_t leaves[N][32], root[32], proof[64][32];
    (void)state;
    make_leaves(leaves, N);
    for (uint64_t size = 1; size <= N; size++) {
        naive_root(root, (const uint8_t(*)[32])leaves, 0, size);
        for (uint64_t i = 0; i < size; i++) {
            size_t n =
                naive_path(proof, (const uint8_t(*)[32])leaves, i, 0, size);
            assert_int_equal(
                ldg_tlog_verify_inclusion(leaves[i], i, size,
                                          (const uint8_t(*)[32])proof, n, root),
                0);
        }
    }
}

static void
test_tlog_memo__any_change_to_a_proof_fails(void **state)
{
    uint8_t leaves[N][32], root[32], proof[65][32], bad[65][32];
    (void)state;
    make_leaves(leaves, N);
    for (uint64_t size = 1; size <= 40; size++) {
        naive_root(root, (const uint8_t(*)[32])leaves, 0, size);
        for (uint64_t i = 0; i < size; i++) {
            size_t n =
                naive_path(proof, (const uint8_t(*)[32])leaves, i, 0, size);
            const uint8_t(*p)[32] = (const uint8_t(*)[32])proof;
            const uint8_t(*q)[32] = (const uint8_t(*)[32])bad;
            /* other index, other leaf, an index beyond the tree (the
             * size itself is bound by the signed checkpoint, not here) */
            if (size > 1)
                assert_int_equal(ldg_tlog_verify_inclusion(leaves[i],
                                                           (i + 1) % size, size,
                                                           p, n, root),
                                 LDG_EBADPROOF);
            assert_int_equal(
                ldg_tlog_verify_inclusion(leaves[i], size, size, p, n, root),
                LDG_EBADPROOF);
            assert_int_equal(ldg_tlog_verify_inclusion(leaves[(i + 1) % N], i,
                                                       size, p, n, root),
                             LDG_EBADPROOF);
            /* every bit of every hash */
            for (size_t h = 0; h < n; h++)
                for (int bit = 0; bit < 256; bit += 37) {
                    memcpy(bad, proof, sizeof proof);
                    bad[h][bit / 8] ^= (uint8_t)(1 << (bit % 8));
                    assert_int_equal(ldg_tlog_verify_inclusion(
                                         leaves[i], i, size, q, n, root),
                                     LDG_EBADPROOF);
                }
            /* a hash dropped or added */
            if (n > 0)
                assert_int_equal(ldg_tlog_verify_inclusion(leaves[i], i, size,
                                                           p, n - 1, root),
                                 LDG_EBADPROOF);
            memcpy(bad, proof, sizeof proof);
            memcpy(bad[n], root, 32);
            assert_int_equal(
                ldg_tlog_verify_inclusion(leaves[i], i, size, q, n + 1, root),
                LDG_EBADPROOF);
        }
    }
}

static void
test_tlog_memo__core_proofs_parse_and_verify(void **state)
{
    char *dir = tmp_dir(), vkey[512], origin[LDG_ORIGIN_MAX + 1];
    struct ldg_ledger *l = new_ledger(dir, "l");
    struct ldg_txn *t;
    uint64_t size, cksize;
    uint8_t root[32];
    char *ck, err[256];
    (void)state;

    for (int i = 0; i < 37; i++)
        add(l, "x.test.n", NULL, "{\"i\":1}");
    assert_int_equal(ldg_verifier_key(l, vkey, sizeof vkey), 0);
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_txn_size(t, &size), 0);
    assert_int_equal(ldg_checkpoint_get(t, 0, &ck), 0);
    assert_int_equal(ldg_checkpoint_open(vkey, ck, strlen(ck), origin,
                                         sizeof origin, &cksize, root),
                     0);
    assert_int_equal(cksize, size);
    for (uint64_t i = 0; i < size; i++) {
        static uint8_t whole[LDG_ENTRY_MAX];
        const uint8_t *e;
        size_t en;
        struct ldg_event ev;
        struct bproof p;
        char *text;
        assert_int_equal(ldg_event_get(t, i, &ev), 0);
        assert_int_equal(ldg_proof_text(t, i, size, &text), 0);
        assert_int_equal(bproof_parse(&p, text, strlen(text)), 0);
        assert_int_equal(p.index, i);
        assert_int_equal(p.checkpoint_len, strlen(ck));
        assert_memory_equal(p.checkpoint, ck, strlen(ck));
        assert_int_equal(ldg_tlog_verify_inclusion(
                             ev.leaf, p.index, cksize,
                             (const uint8_t(*)[32])p.hashes, p.n, root),
                         0);
        /* the core agrees */
        assert_int_equal(ldg_event_entry(t, i, whole, sizeof whole, &e, &en),
                         0);
        assert_int_equal(ldg_proof_check(vkey, text, strlen(text), e, en, NULL,
                                         NULL, NULL, err, sizeof err),
                         0);
        free(text);
    }
    free(ck);
    ldg_txn_abort(t);
    ldg_close(l);
    rm_rf(dir);
    free(dir);
}

static void
test_tlog_memo__malformed_proof_text_is_refused(void **state)
{
    static const char *const bad[] = {
        "",
        "c2sp.org/tlog-proof@v2\nindex 1\n\nck\n",
        "c2sp.org/tlog-proof@v1\n",
        "c2sp.org/tlog-proof@v1\nindex 01\n\nck\n",
        "c2sp.org/tlog-proof@v1\nindex -1\n\nck\n",
        "c2sp.org/tlog-proof@v1\nindex 18446744073709551616\n\nck\n",
        "c2sp.org/tlog-proof@v1\nindex \n\nck\n",
        "c2sp.org/tlog-proof@v1\nindex 1\nAAAA\n\nck\n",
        "c2sp.org/tlog-proof@v1\nindex 1\n"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", /* no blank line */
        "c2sp.org/tlog-proof@v1\nindex 1\n\n",            /* no checkpoint */
        "c2sp.org/tlog-proof@v1\nindex 1",
        NULL};
    struct bproof p;
    char *many;
    size_t len;
    (void)state;

    for (size_t i = 0; bad[i]; i++) {
        if (bproof_parse(&p, bad[i], strlen(bad[i])) == 0)
            fprintf(stderr, "accepted: %s\n", bad[i]);
        assert_int_equal(bproof_parse(&p, bad[i], strlen(bad[i])),
                         LDG_EBADINPUT);
    }
    {
        static const char ok[] =
            "c2sp.org/tlog-proof@v1\nextra AAAA\nindex 7\n\nck\n";
        assert_int_equal(bproof_parse(&p, ok, strlen(ok)), 0);
    }
    assert_int_equal(p.index, 7);
    assert_int_equal(p.n, 0);
    assert_int_equal(p.checkpoint_len, 3);
    /* more than LDG_PROOF_MAX hashes: malformed (64 parse, and no
     * inclusion proof of a tree of at most 2^63 leaves has that many) */
    many = malloc(65 * 45 + 64);
    len = (size_t)sprintf(many, "c2sp.org/tlog-proof@v1\nindex 0\n");
    for (int i = 0; i < 65; i++)
        len += (size_t)sprintf(
            many + len, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n");
    len += (size_t)sprintf(many + len, "\nck\n");
    assert_int_equal(bproof_parse(&p, many, len), LDG_EBADINPUT);
    free(many);
}

/* The memo (ldg_tlog_verify_inclusion_memo) gives exactly the plain
 * result: every proof of every size in increasing and decreasing order
 * with one memo carried along, and each proof altered (any hash, a hash
 * dropped or added, another leaf or index) right after the memo learned
 * the true path, so the altered proof meets the memo's nodes. */
static void
memo_case(struct ldg_tlog_memo *m, const uint8_t *leaf, uint64_t i,
          uint64_t size, const uint8_t (*p)[32], size_t n,
          const uint8_t root[32])
{
    assert_int_equal(
        ldg_tlog_verify_inclusion_memo(m, leaf, i, size, p, n, root),
        ldg_tlog_verify_inclusion(leaf, i, size, p, n, root));
}

static void
test_tlog_memo__memo_gives_the_plain_result(void **state)
{
    uint8_t leaves[N][32], root[32], proof[65][32], bad[65][32];
    const uint8_t(*q)[32] = (const uint8_t(*)[32])bad;
    struct ldg_tlog_memo *m = calloc(1, sizeof *m);
    (void)state;
    assert_non_null(m);
    make_leaves(leaves, N);
    for (uint64_t size = 1; size <= N; size++) {
        naive_root(root, (const uint8_t(*)[32])leaves, 0, size);
        for (uint64_t k = 0; k < 2 * size; k++) {
            uint64_t i = k < size ? k : 2 * size - 1 - k; /* up, then down */
            size_t n =
                naive_path(proof, (const uint8_t(*)[32])leaves, i, 0, size);
            const uint8_t(*p)[32] = (const uint8_t(*)[32])proof;
            memo_case(m, leaves[i], i, size, p, n, root);
            for (size_t h = 0; h < n; h++) {
                memcpy(bad, proof, sizeof proof);
                bad[h][h % 32] ^= 0x40;
                memo_case(m, leaves[i], i, size, q, n, root);
                memo_case(m, leaves[i], i, size, p, n, root);
            }
            if (n > 0)
                memo_case(m, leaves[i], i, size, p, n - 1, root);
            memcpy(bad, proof, sizeof proof);
            memcpy(bad[n], root, 32);
            memo_case(m, leaves[i], i, size, q, n + 1, root);
            memo_case(m, leaves[(i + 1) % N], i, size, p, n, root);
            if (size > 1)
                memo_case(m, leaves[i], (i + 1) % size, size, p, n, root);
        }
        /* the same memo against another tree: still exact */
        memo_case(m, leaves[0], 0, size + 1, (const uint8_t(*)[32])proof, 0,
                  root);
    }
    free(m);
}

static void
test_tlog_memo__cached_parse_is_the_plain_parse(void **state)
{
    static const char *const hashes[] = {
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=",
        "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=",
        "not base64 at all, but forty-four bytes lo=",
    };
    struct ldg_tlog_proof_cache *c = calloc(1, sizeof *c);
    (void)state;
    assert_non_null(c);
    /* proofs whose lines repeat, change and go bad at each position */
    for (int round = 0; round < 64; round++) {
        char text[1024];
        struct bproof a, b;
        size_t len = 0;
        int ra, rb, lines = 1 + round % 4;
        len += (size_t)snprintf(text + len, sizeof text - len,
                                "c2sp.org/tlog-proof@v1\nindex %d\n", round);
        for (int k = 0; k < lines; k++)
            len += (size_t)snprintf(text + len, sizeof text - len, "%s\n",
                                    hashes[(round / 4 + k * (round % 3)) % 4]);
        len += (size_t)snprintf(text + len, sizeof text - len,
                                "\nexample.org\n1\nroot\n");
        ra = bproof_parse(&a, text, len);
        rb = bproof_parse_cached(&b, text, len, c);
        assert_int_equal(ra, rb);
        if (ra == 0) {
            assert_int_equal(a.n, b.n);
            assert_int_equal(a.index, b.index);
            assert_memory_equal(a.hashes, b.hashes, a.n * 32);
        }
    }
    free(c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tlog_memo__every_proof_of_sizes_1_to_64_verifies),
        cmocka_unit_test(test_tlog_memo__any_change_to_a_proof_fails),
        cmocka_unit_test(test_tlog_memo__memo_gives_the_plain_result),
        cmocka_unit_test(test_tlog_memo__cached_parse_is_the_plain_parse),
        cmocka_unit_test(test_tlog_memo__core_proofs_parse_and_verify),
        cmocka_unit_test(test_tlog_memo__malformed_proof_text_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
