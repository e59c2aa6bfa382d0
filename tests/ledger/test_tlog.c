/*
 * test_tlog.c — RFC 6962 tree math, RFC 9162 verification, tile paths and
 * proof text formats (ledger/tlog.c).
 *
 *   - known answers from the Certificate Transparency test suite
 *     (tests/vectors/rfc6962.txt), good and must-fail;
 *   - a model test: every root and proof for sizes 1..70 against a naive
 *     recursive transcription of RFC 6962 section 2.1;
 *   - a mutation battery: every valid proof for sizes 1..70, changed in
 *     any one way (index, sizes, any bit of any hash, swapped, dropped or
 *     added hashes), must be rejected;
 *   - sizes near the 2^63 cap, over a uniform tree that costs nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ledger/module.h"
#include "util/util.h"
#include "ledger/tlog_int.h"

#define MAX_SIZE 70

/* ------------------------------------------------- in-memory hash store -- */

/* Stored hashes as the log keeps them: lv[L][i] covers leaves
 * [i*2^L, (i+1)*2^L), present once complete. */
struct memtree {
    uint64_t size, cap;
    uint8_t (*lv[64])[32];
};

static void
memtree_init(struct memtree *t, uint64_t cap)
{
    memset(t, 0, sizeof *t);
    t->cap = cap;
    for (int l = 0; l < 64 && (cap >> l) > 0; l++) {
        t->lv[l] = calloc(cap >> l, 32);
        assert_non_null(t->lv[l]);
    }
}

static void
memtree_release(struct memtree *t)
{
    for (int l = 0; l < 64; l++)
        free(t->lv[l]);
}

static void
memtree_append(struct memtree *t, const uint8_t leaf_hash[32])
{
    uint64_t i = t->size;
    int l = 0;

    assert_true(t->size < t->cap);
    memcpy(t->lv[0][i], leaf_hash, 32);
    while (i & 1) {
        ldg_tlog_node_hash(t->lv[l + 1][i >> 1], t->lv[l][i - 1], t->lv[l][i]);
        i >>= 1;
        l++;
    }
    t->size++;
}

static int
mem_reader(void *ctx, int level, uint64_t index, uint8_t out[32])
{
    const struct memtree *t = ctx;

    if (level < 0 || level > 63 || index >= (t->size >> level))
        return LDG_ENOTFOUND;
    memcpy(out, t->lv[level][index], 32);
    return 0;
}

/* Distinct leaves, so that no two subtree hashes collide by accident. */
static void
build_tree(struct memtree *t, uint64_t n)
{
    memtree_init(t, n);
    for (uint64_t i = 0; i < n; i++) {
        char data[32];
        uint8_t h[32];
        int len =
            snprintf(data, sizeof data, "leaf %llu", (unsigned long long)i);
        ldg_tlog_leaf_hash(h, data, (size_t)len);
        memtree_append(t, h);
    }
}

/* -------------------------------------------- reference: RFC 6962 2.1 -- */

static uint64_t
ref_split(uint64_t n)
{
    uint64_t k = 1;
    while (k * 2 < n)
        k *= 2;
    return k;
}

static void
ref_mth(uint8_t (*lh)[32], uint64_t n, uint8_t out[32])
{
    uint8_t a[32], b[32];
    uint64_t k;

    if (n == 1) {
        memcpy(out, lh[0], 32);
        return;
    }
    k = ref_split(n);
    ref_mth(lh, k, a);
    ref_mth(lh + k, n - k, b);
    ldg_tlog_node_hash(out, a, b);
}

static void
ref_path(uint64_t m, uint8_t (*lh)[32], uint64_t n, uint8_t (*out)[32],
         size_t *cnt)
{
    uint64_t k;

    if (n == 1)
        return;
    k = ref_split(n);
    if (m < k) {
        ref_path(m, lh, k, out, cnt);
        ref_mth(lh + k, n - k, out[(*cnt)++]);
    } else {
        ref_path(m - k, lh + k, n - k, out, cnt);
        ref_mth(lh, k, out[(*cnt)++]);
    }
}

static void
ref_subproof(uint64_t m, uint8_t (*lh)[32], uint64_t n, int b,
             uint8_t (*out)[32], size_t *cnt)
{
    uint64_t k;

    if (m == n) {
        if (!b)
            ref_mth(lh, n, out[(*cnt)++]);
        return;
    }
    k = ref_split(n);
    if (m <= k) {
        ref_subproof(m, lh, k, b, out, cnt);
        ref_mth(lh + k, n - k, out[(*cnt)++]);
    } else {
        ref_subproof(m - k, lh + k, n - k, 0, out, cnt);
        ref_mth(lh, k, out[(*cnt)++]);
    }
}

/* ------------------------------------------------------------ helpers -- */

static void
unhex_any(uint8_t *out, size_t *n, const char *hex)
{
    size_t len = strlen(hex);

    if (strcmp(hex, "-") == 0) {
        *n = 0;
        return;
    }
    assert_int_equal(len % 2, 0);
    assert_int_equal(ldg_unhex(out, len / 2, hex), 0);
    *n = len / 2;
}

static void
vectors_path(char *buf, size_t cap, const char *name)
{
    const char *src = getenv("LEDGER_SRC_DIR");
    const char *me = __FILE__, *suffix = "tests/ledger/test_tlog.c";
    size_t ml = strlen(me), sl = strlen(suffix);

    if (src != NULL)
        snprintf(buf, cap, "%s/tests/vectors/%s", src, name);
    else if (ml >= sl && strcmp(me + ml - sl, suffix) == 0)
        snprintf(buf, cap, "%.*stests/vectors/%s", (int)(ml - sl), me, name);
    else
        snprintf(buf, cap, "tests/vectors/%s", name);
}

/* ------------------------------------------------- known-answer tests -- */

static void
test_tlog__leaf_and_node_hash_domains(void **state)
{
    uint8_t h[32], want[32], l[32], r[32];

    (void)state;
    /* The empty leaf: SHA-256(0x00). */
    ldg_tlog_leaf_hash(h, "", 0);
    ldg_unhex(want, 32,
              "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511"
              "a30617afa01d");
    assert_memory_equal(h, want, 32);
    /* The empty tree: SHA-256(""). */
    assert_int_equal(ldg_tlog_root(mem_reader, NULL, 0, h), 0);
    ldg_unhex(want, 32,
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495"
              "991b7852b855");
    assert_memory_equal(h, want, 32);
    /* A node hash may be written over one of its inputs. */
    memset(l, 1, 32);
    memset(r, 2, 32);
    ldg_tlog_node_hash(want, l, r);
    ldg_tlog_node_hash(l, l, r);
    assert_memory_equal(l, want, 32);
}

static void
test_tlog__rfc6962_vectors(void **state)
{
    char path[4096], line[4096];
    struct memtree t;
    uint8_t roots[9][32];
    int nroots = 0, nincl = 0, ncons = 0, nbad = 0;
    FILE *f;

    (void)state;
    vectors_path(path, sizeof path, "rfc6962.txt");
    f = fopen(path, "r");
    if (f == NULL)
        fail_msg("cannot open %s (set LEDGER_SRC_DIR)", path);
    memtree_init(&t, 8);
    while (fgets(line, sizeof line, f) != NULL) {
        char *tok[80], *save = NULL;
        int nt = 0;
        uint8_t buf[64], proof[LDG_PROOF_MAX][32], got[LDG_PROOF_MAX][32];
        size_t n, np = 0, ng = 0;

        for (char *s = strtok_r(line, " \n", &save); s && nt < 80;
             s = strtok_r(NULL, " \n", &save))
            tok[nt++] = s;
        if (nt == 0 || tok[0][0] == '#')
            continue;
        for (int i = 3; i < nt; i++) {
            unhex_any(proof[np], &n, tok[i]);
            assert_int_equal(n, 32);
            np++;
        }
        if (strcmp(tok[0], "leaf") == 0) {
            uint8_t h[32];
            unhex_any(buf, &n, tok[1]);
            ldg_tlog_leaf_hash(h, buf, n);
            memtree_append(&t, h);
        } else if (strcmp(tok[0], "root") == 0) {
            uint64_t size = strtoull(tok[1], NULL, 10);
            uint8_t want[32], h[32];
            unhex_any(want, &n, tok[2]);
            assert_int_equal(ldg_tlog_root(mem_reader, &t, size, h), 0);
            assert_memory_equal(h, want, 32);
            memcpy(roots[size], h, 32);
            nroots++;
        } else if (strcmp(tok[0], "inclusion") == 0 ||
                   strcmp(tok[0], "bad-inclusion") == 0) {
            uint64_t idx = strtoull(tok[1], NULL, 10);
            uint64_t size = strtoull(tok[2], NULL, 10);
            uint8_t lh[32];
            int good = tok[0][0] == 'i';
            memcpy(lh, t.lv[0][idx < 8 ? idx : 0], 32);
            if (good) {
                assert_int_equal(ldg_tlog_inclusion_proof(mem_reader, &t, idx,
                                                          size, got, &ng),
                                 0);
                assert_int_equal(ng, np);
                if (np > 0)
                    assert_memory_equal(got, proof, np * 32);
                assert_int_equal(ldg_tlog_verify_inclusion(
                                     lh, idx, size, (const uint8_t(*)[32])proof,
                                     np, roots[size]),
                                 0);
                nincl++;
            } else {
                assert_int_equal(ldg_tlog_verify_inclusion(
                                     lh, idx, size, (const uint8_t(*)[32])proof,
                                     np, roots[size < 8 ? size : 8]),
                                 LDG_EBADPROOF);
                nbad++;
            }
        } else if (strcmp(tok[0], "consistency") == 0 ||
                   strcmp(tok[0], "bad-consistency") == 0) {
            uint64_t old = strtoull(tok[1], NULL, 10);
            uint64_t size = strtoull(tok[2], NULL, 10);
            int good = tok[0][0] == 'c';
            if (good) {
                assert_int_equal(ldg_tlog_consistency_proof(mem_reader, &t, old,
                                                            size, got, &ng),
                                 0);
                assert_int_equal(ng, np);
                if (np > 0)
                    assert_memory_equal(got, proof, np * 32);
                assert_int_equal(ldg_tlog_verify_consistency(
                                     old, size, roots[old], roots[size],
                                     (const uint8_t(*)[32])proof, np),
                                 0);
                ncons++;
            } else {
                assert_int_equal(ldg_tlog_verify_consistency(
                                     old, size, roots[old], roots[size],
                                     (const uint8_t(*)[32])proof, np),
                                 LDG_EBADPROOF);
                nbad++;
            }
        } else {
            fail_msg("unknown vector line: %s", tok[0]);
        }
    }
    fclose(f);
    memtree_release(&t);
    /* The file was read in full. */
    assert_int_equal(nroots, 9);
    assert_int_equal(nincl, 5);
    assert_int_equal(ncons, 5);
    assert_int_equal(nbad, 10);
}

/* -------------------------------------------------------- model test -- */

static void
test_tlog__matches_rfc6962_reference(void **state)
{
    struct memtree t;

    (void)state;
    build_tree(&t, MAX_SIZE);
    for (uint64_t s = 1; s <= MAX_SIZE; s++) {
        uint8_t want[32], got[32];
        uint8_t rp[LDG_PROOF_MAX][32], p[LDG_PROOF_MAX][32];
        size_t rn, n;

        t.size = s; /* a prefix of the stored hashes is the smaller tree */
        ref_mth(t.lv[0], s, want);
        assert_int_equal(ldg_tlog_root(mem_reader, &t, s, got), 0);
        assert_memory_equal(got, want, 32);

        for (uint64_t i = 0; i < s; i++) {
            rn = 0;
            ref_path(i, t.lv[0], s, rp, &rn);
            assert_int_equal(
                ldg_tlog_inclusion_proof(mem_reader, &t, i, s, p, &n), 0);
            assert_int_equal(n, rn);
            if (n > 0)
                assert_memory_equal(p, rp, n * 32);
            assert_int_equal(ldg_tlog_verify_inclusion(t.lv[0][i], i, s,
                                                       (const uint8_t(*)[32])p,
                                                       n, want),
                             0);
        }
        for (uint64_t m = 1; m <= s; m++) {
            uint8_t old_root[32];
            rn = 0;
            ref_subproof(m, t.lv[0], s, 1, rp, &rn);
            assert_int_equal(
                ldg_tlog_consistency_proof(mem_reader, &t, m, s, p, &n), 0);
            assert_int_equal(n, rn);
            if (n > 0)
                assert_memory_equal(p, rp, n * 32);
            ref_mth(t.lv[0], m, old_root);
            assert_int_equal(
                ldg_tlog_verify_consistency(m, s, old_root, want,
                                            (const uint8_t(*)[32])p, n),
                0);
        }
    }
    t.size = MAX_SIZE;
    memtree_release(&t);
}

/* ---------------------------------------------------- mutation battery -- */

/* Every bit is flipped for trees up to this size; beyond it, 8 bits per
 * hash (one in each 32-bit word, at a position that moves from hash to
 * hash), which keeps the battery to a few seconds. SHA-256 makes all bits
 * alike to the verifier, so this loses nothing but time. */
#define ALL_BITS_MAX_SIZE 16

static int
bit_selected(uint64_t size, size_t hash, unsigned bit)
{
    return size <= ALL_BITS_MAX_SIZE || bit % 32 == (hash * 5 + 3) % 32;
}

/* The next mutation number after k, skipping unselected bit flips. */
static size_t
next_k(size_t k, size_t n, uint64_t size)
{
    for (k++; k < n * 256; k++)
        if (bit_selected(size, k / 256, (unsigned)(k % 256)))
            break;
    return k;
}

/* Sizes near x to try instead of x: +-1, +-2, doubled, halved, 0. */
#define NEAR 7

static uint64_t
near(uint64_t x, int d)
{
    switch (d) {
    case 0:
        return x - 1;
    case 1:
        return x + 1;
    case 2:
        return x - 2;
    case 3:
        return x + 2;
    case 4:
        return x * 2;
    case 5:
        return x / 2;
    default:
        return 0;
    }
}

struct mut {
    uint8_t p[LDG_PROOF_MAX + 1][32];
    size_t n;
};

static int
incl_ok(const uint8_t leaf[32], uint64_t i, uint64_t s, const struct mut *m,
        const uint8_t root[32])
{
    return ldg_tlog_verify_inclusion(leaf, i, s, (const uint8_t(*)[32])m->p,
                                     m->n, root) == 0;
}

static int
cons_ok(uint64_t o, uint64_t s, const uint8_t ro[32], const uint8_t rs[32],
        const struct mut *m)
{
    return ldg_tlog_verify_consistency(o, s, ro, rs, (const uint8_t(*)[32])m->p,
                                       m->n) == 0;
}

/*
 * The structural mutations shared by both proof kinds: for each, fills *m
 * and returns 1, or returns 0 when k is past the last one. A swap of two
 * equal hashes is not a change and is skipped (returns 2).
 */
static int
mutate(const struct mut *orig, size_t k, struct mut *m, const uint8_t x[32])
{
    size_t n = orig->n;

    *m = *orig;
    /* flip bit k of the proof */
    if (k < n * 256) {
        m->p[k / 256][(k % 256) / 8] ^= (uint8_t)(1u << (k % 8));
        return 1;
    }
    k -= n * 256;
    /* swap hashes a < b */
    if (k < n * n) {
        size_t a = k / n, b = k % n;
        if (a >= b || memcmp(m->p[a], m->p[b], 32) == 0)
            return 2;
        memcpy(m->p[a], orig->p[b], 32);
        memcpy(m->p[b], orig->p[a], 32);
        return 1;
    }
    k -= n * n;
    /* drop hash k */
    if (k < n) {
        memmove(m->p[k], m->p[k + 1], (n - k - 1) * 32);
        m->n--;
        return 1;
    }
    k -= n;
    /* insert x at position k (k == n appends) */
    if (k <= n && n < LDG_PROOF_MAX) {
        memmove(m->p[k + 1], m->p[k], (n - k) * 32);
        memcpy(m->p[k], x, 32);
        m->n++;
        return 1;
    }
    return 0;
}

static void
test_tlog__inclusion_mutations_rejected(void **state)
{
    struct memtree t;
    uint8_t roots[MAX_SIZE + 2][32];
    struct mut orig, m;
    uint64_t checked = 0;

    (void)state;
    build_tree(&t, MAX_SIZE + 1);
    for (uint64_t s = 1; s <= MAX_SIZE + 1; s++)
        assert_int_equal(ldg_tlog_root(mem_reader, &t, s, roots[s]), 0);
    for (uint64_t s = 1; s <= MAX_SIZE; s++) {
        for (uint64_t i = 0; i < s; i++) {
            const uint8_t *leaf = t.lv[0][i];
            uint8_t bad[32], other[32];
            int r;

            assert_int_equal(
                ldg_tlog_inclusion_proof(mem_reader, &t, i, s, orig.p, &orig.n),
                0);
            assert_true(incl_ok(leaf, i, s, &orig, roots[s]));

            /* index +-1, same leaf hash and root */
            if (i > 0)
                assert_false(incl_ok(leaf, i - 1, s, &orig, roots[s]));
            assert_false(incl_ok(leaf, i + 1, s, &orig, roots[s]));
            /* another size, with that size's root: the proof is for s */
            for (int d = 0; d < NEAR; d++) {
                uint64_t s2 = near(s, d);
                if (s2 != s && s2 > i && s2 <= MAX_SIZE + 1)
                    assert_false(incl_ok(leaf, i, s2, &orig, roots[s2]));
            }
            /* index beyond the tree */
            assert_false(incl_ok(leaf, s, s, &orig, roots[s]));
            /* any bit of the leaf hash or the root */
            for (unsigned b = 0; b < 256; b++) {
                if (!bit_selected(s, i, b))
                    continue;
                memcpy(bad, leaf, 32);
                bad[b / 8] ^= (uint8_t)(1u << (b % 8));
                assert_false(incl_ok(bad, i, s, &orig, roots[s]));
                memcpy(bad, roots[s], 32);
                bad[b / 8] ^= (uint8_t)(1u << (b % 8));
                assert_false(incl_ok(leaf, i, s, &orig, bad));
            }
            /* any bit of the proof, swaps, drops, insertions of a foreign
             * hash and of the root */
            ldg_tlog_leaf_hash(other, "other", 5);
            for (size_t k = next_k((size_t)-1, orig.n, s);
                 (r = mutate(&orig, k, &m, other)) != 0;
                 k = next_k(k, orig.n, s)) {
                if (r == 1) {
                    assert_false(incl_ok(leaf, i, s, &m, roots[s]));
                    checked++;
                }
            }
            for (size_t k = orig.n * (256 + orig.n + 1);
                 (r = mutate(&orig, k, &m, roots[s])) != 0; k++)
                assert_false(incl_ok(leaf, i, s, &m, roots[s]));
        }
    }
    assert_true(checked > 100000);
    memtree_release(&t);
}

static void
test_tlog__consistency_mutations_rejected(void **state)
{
    struct memtree t;
    uint8_t roots[MAX_SIZE + 2][32];
    struct mut orig, m;
    uint64_t checked = 0;

    (void)state;
    build_tree(&t, MAX_SIZE + 1);
    for (uint64_t s = 0; s <= MAX_SIZE + 1; s++)
        assert_int_equal(ldg_tlog_root(mem_reader, &t, s, roots[s]), 0);
    for (uint64_t s = 1; s <= MAX_SIZE; s++) {
        for (uint64_t o = 1; o <= s; o++) {
            uint8_t bad[32], other[32];
            int r;

            assert_int_equal(ldg_tlog_consistency_proof(mem_reader, &t, o, s,
                                                        orig.p, &orig.n),
                             0);
            assert_true(cons_ok(o, s, roots[o], roots[s], &orig));

            /* another old size: with the old root as given, and with the
             * root that size really has */
            for (int d = 0; d < NEAR; d++) {
                uint64_t o2 = near(o, d);
                if (o2 == o || o2 > s)
                    continue;
                assert_false(cons_ok(o2, s, roots[o], roots[s], &orig));
                /* (the empty tree is consistent with any, given its root) */
                if (o2 > 0)
                    assert_false(cons_ok(o2, s, roots[o2], roots[s], &orig));
            }
            /* another new size, likewise */
            for (int d = 0; d < NEAR; d++) {
                uint64_t s2 = near(s, d);
                if (s2 == s || s2 < o || s2 > MAX_SIZE + 1)
                    continue;
                assert_false(cons_ok(o, s2, roots[o], roots[s2], &orig));
                /* with s's own root, only a shape-identical size could
                 * pass; a different size and root must not */
            }
            /* roots swapped, and any bit of either root */
            if (o != s)
                assert_false(cons_ok(o, s, roots[s], roots[o], &orig));
            for (unsigned b = 0; b < 256; b++) {
                if (!bit_selected(s, o, b))
                    continue;
                memcpy(bad, roots[o], 32);
                bad[b / 8] ^= (uint8_t)(1u << (b % 8));
                assert_false(cons_ok(o, s, bad, roots[s], &orig));
                memcpy(bad, roots[s], 32);
                bad[b / 8] ^= (uint8_t)(1u << (b % 8));
                assert_false(cons_ok(o, s, roots[o], bad, &orig));
            }
            ldg_tlog_leaf_hash(other, "other", 5);
            for (size_t k = next_k((size_t)-1, orig.n, s);
                 (r = mutate(&orig, k, &m, other)) != 0;
                 k = next_k(k, orig.n, s)) {
                if (r == 1) {
                    assert_false(cons_ok(o, s, roots[o], roots[s], &m));
                    checked++;
                }
            }
            /* inserting either root, anywhere */
            for (size_t k = orig.n * (256 + orig.n + 1);
                 (r = mutate(&orig, k, &m, roots[o])) != 0; k++)
                assert_false(cons_ok(o, s, roots[o], roots[s], &m));
            for (size_t k = orig.n * (256 + orig.n + 1);
                 (r = mutate(&orig, k, &m, roots[s])) != 0; k++)
                assert_false(cons_ok(o, s, roots[o], roots[s], &m));
        }
    }
    assert_true(checked > 100000);
    memtree_release(&t);
}

/* -------------------------------------------------------- edge cases -- */

static void
test_tlog__verify_edge_cases(void **state)
{
    uint8_t empty[32], a[32], b[32], p[1][32];

    (void)state;
    ldg_sha256(empty, "", 0);
    memset(a, 0xaa, 32);
    memset(b, 0xbb, 32);
    memset(p, 0xcc, sizeof p);

    /* Inclusion in an empty tree, or past the end. */
    assert_int_equal(ldg_tlog_verify_inclusion(a, 0, 0, NULL, 0, a),
                     LDG_EBADPROOF);
    assert_int_equal(ldg_tlog_verify_inclusion(a, 1, 1, NULL, 0, a),
                     LDG_EBADPROOF);
    /* A one-leaf tree: the leaf hash is the root. */
    assert_int_equal(ldg_tlog_verify_inclusion(a, 0, 1, NULL, 0, a), 0);
    assert_int_equal(ldg_tlog_verify_inclusion(a, 0, 1, NULL, 0, b),
                     LDG_EBADPROOF);
    /* Too long a proof. */
    assert_int_equal(
        ldg_tlog_verify_inclusion(a, 0, 1, p, LDG_PROOF_MAX + 1, a),
        LDG_EBADPROOF);
    /* Misuse. */
    assert_int_equal(ldg_tlog_verify_inclusion(NULL, 0, 1, NULL, 0, a),
                     LDG_EINVAL);
    assert_int_equal(ldg_tlog_verify_inclusion(a, 0, 2, NULL, 1, a),
                     LDG_EINVAL);

    /* Consistency from the empty tree: empty proof, the empty root. */
    assert_int_equal(ldg_tlog_verify_consistency(0, 5, empty, a, NULL, 0), 0);
    assert_int_equal(ldg_tlog_verify_consistency(0, 0, empty, empty, NULL, 0),
                     0);
    assert_int_equal(ldg_tlog_verify_consistency(0, 0, empty, a, NULL, 0),
                     LDG_EBADPROOF);
    assert_int_equal(ldg_tlog_verify_consistency(0, 5, a, a, NULL, 0),
                     LDG_EBADPROOF);
    assert_int_equal(ldg_tlog_verify_consistency(0, 5, empty, a, p, 1),
                     LDG_EBADPROOF);
    /* Equal sizes: empty proof, equal roots. */
    assert_int_equal(ldg_tlog_verify_consistency(5, 5, a, a, NULL, 0), 0);
    assert_int_equal(ldg_tlog_verify_consistency(5, 5, a, b, NULL, 0),
                     LDG_EBADPROOF);
    assert_int_equal(ldg_tlog_verify_consistency(5, 5, a, a, p, 1),
                     LDG_EBADPROOF);
    /* Backwards, or an empty proof between different sizes. */
    assert_int_equal(ldg_tlog_verify_consistency(6, 5, a, b, p, 1),
                     LDG_EBADPROOF);
    assert_int_equal(ldg_tlog_verify_consistency(4, 5, a, b, NULL, 0),
                     LDG_EBADPROOF);
    assert_int_equal(ldg_tlog_verify_consistency(3, 5, a, b, NULL, 0),
                     LDG_EBADPROOF);
}

static int
failing_reader(void *ctx, int level, uint64_t index, uint8_t out[32])
{
    (void)ctx;
    (void)level;
    (void)index;
    (void)out;
    return LDG_EIO;
}

static void
test_tlog__generation_errors(void **state)
{
    struct memtree t;
    uint8_t p[LDG_PROOF_MAX][32], h[32];
    size_t n = 99;

    (void)state;
    build_tree(&t, 10);
    /* Arguments out of range: LDG_EINVAL, nothing written. */
    assert_int_equal(ldg_tlog_inclusion_proof(mem_reader, &t, 10, 10, p, &n),
                     LDG_EINVAL);
    assert_int_equal(ldg_tlog_inclusion_proof(mem_reader, &t, 0, 0, p, &n),
                     LDG_EINVAL);
    assert_int_equal(ldg_tlog_consistency_proof(mem_reader, &t, 0, 10, p, &n),
                     LDG_EINVAL);
    assert_int_equal(ldg_tlog_consistency_proof(mem_reader, &t, 11, 10, p, &n),
                     LDG_EINVAL);
    assert_int_equal(ldg_tlog_range_hash(mem_reader, &t, 5, 5, h), LDG_EINVAL);
    assert_int_equal(n, 99);
    /* Hashes the store does not have (beyond size 10). */
    assert_int_equal(ldg_tlog_root(mem_reader, &t, 11, h), LDG_ENOTFOUND);
    assert_int_equal(ldg_tlog_inclusion_proof(mem_reader, &t, 0, 12, p, &n),
                     LDG_ENOTFOUND);
    /* Reader errors come back as they are. */
    assert_int_equal(ldg_tlog_root(failing_reader, NULL, 3, h), LDG_EIO);
    assert_int_equal(
        ldg_tlog_consistency_proof(failing_reader, NULL, 3, 5, p, &n), LDG_EIO);
    /* The one-leaf and equal-size cases need no hashes at all. */
    assert_int_equal(
        ldg_tlog_inclusion_proof(failing_reader, NULL, 0, 1, p, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(
        ldg_tlog_consistency_proof(failing_reader, NULL, 7, 7, p, &n), 0);
    assert_int_equal(n, 0);
    memtree_release(&t);
}

/* A uniform tree (every leaf the same) has one hash per level, so trees of
 * 2^63 leaves cost nothing and exercise the arithmetic at its limits. */
static uint8_t uniform[64][32];

static int
uniform_reader(void *ctx, int level, uint64_t index, uint8_t out[32])
{
    (void)ctx;
    (void)index;
    memcpy(out, uniform[level], 32);
    return 0;
}

static void
test_tlog__huge_trees(void **state)
{
    const uint64_t max = (uint64_t)1 << 63;
    const uint64_t sizes[] = {max, max - 1, max / 2 + 1, 0xfedcba987654321ull};
    uint8_t p[LDG_PROOF_MAX][32], root[32], old_root[32];
    size_t n;

    (void)state;
    ldg_tlog_leaf_hash(uniform[0], "u", 1);
    for (int l = 1; l < 64; l++)
        ldg_tlog_node_hash(uniform[l], uniform[l - 1], uniform[l - 1]);

    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        uint64_t s = sizes[k];
        const uint64_t idx[] = {0, 1, s / 2, s - 2, s - 1};
        const uint64_t olds[] = {1, 2, 3, s / 3, s - 1, s};

        assert_int_equal(ldg_tlog_root(uniform_reader, NULL, s, root), 0);
        for (size_t j = 0; j < 5; j++) {
            assert_int_equal(ldg_tlog_inclusion_proof(uniform_reader, NULL,
                                                      idx[j], s, p, &n),
                             0);
            assert_true(n <= 63);
            assert_int_equal(ldg_tlog_verify_inclusion(uniform[0], idx[j], s,
                                                       (const uint8_t(*)[32])p,
                                                       n, root),
                             0);
        }
        for (size_t j = 0; j < 6; j++) {
            assert_int_equal(
                ldg_tlog_root(uniform_reader, NULL, olds[j], old_root), 0);
            assert_int_equal(ldg_tlog_consistency_proof(uniform_reader, NULL,
                                                        olds[j], s, p, &n),
                             0);
            assert_true(n <= LDG_PROOF_MAX);
            assert_int_equal(
                ldg_tlog_verify_consistency(olds[j], s, old_root, root,
                                            (const uint8_t(*)[32])p, n),
                0);
        }
    }
    /* Beyond the cap. */
    assert_int_equal(ldg_tlog_root(uniform_reader, NULL, max + 1, root),
                     LDG_EINVAL);
    assert_int_equal(
        ldg_tlog_inclusion_proof(uniform_reader, NULL, 0, max + 1, p, &n),
        LDG_EINVAL);
    assert_int_equal(
        ldg_tlog_verify_inclusion(uniform[0], 0, max + 1, p, 0, root),
        LDG_EBADPROOF);
}

/* -------------------------------------------------------------- tiles -- */

static void
check_path(int level, uint64_t index, unsigned width, const char *want)
{
    char buf[128];
    int n = ldg_tlog_tile_path(buf, sizeof buf, level, index, width);

    assert_int_equal(n, (int)strlen(want));
    assert_string_equal(buf, want);
}

static void
test_tlog__tile_paths(void **state)
{
    char buf[64];

    (void)state;
    /* The C2SP examples, and the corners of the grouping. */
    check_path(0, 1234067, 256, "tile/0/x001/x234/067");
    check_path(0, 0, 256, "tile/0/000");
    check_path(0, 0, 1, "tile/0/000.p/1");
    check_path(1, 5, 17, "tile/1/005.p/17");
    check_path(2, 999, 255, "tile/2/999.p/255");
    check_path(0, 1000, 256, "tile/0/x001/000");
    check_path(3, 1000000, 256, "tile/3/x001/x000/000");
    check_path(-1, 0, 3, "tile/entries/000.p/3");
    check_path(-1, 1234067, 256, "tile/entries/x001/x234/067");
    check_path(63, UINT64_MAX, 256,
               "tile/63/x018/x446/x744/x073/x709/x551/615");
    /* Out of range. */
    assert_int_equal(ldg_tlog_tile_path(buf, sizeof buf, 0, 0, 0), LDG_EINVAL);
    assert_int_equal(ldg_tlog_tile_path(buf, sizeof buf, 0, 0, 257),
                     LDG_EINVAL);
    assert_int_equal(ldg_tlog_tile_path(buf, sizeof buf, 64, 0, 1), LDG_EINVAL);
    assert_int_equal(ldg_tlog_tile_path(buf, sizeof buf, -2, 0, 1), LDG_EINVAL);
    /* Exactly fitting, and one byte short. */
    assert_int_equal(ldg_tlog_tile_path(buf, 15, 0, 0, 1), 14);
    assert_int_equal(ldg_tlog_tile_path(buf, 14, 0, 0, 1), LDG_EINVAL);
    assert_int_equal(ldg_tlog_tile_path(buf, 11, 0, 0, 256), 10);
    assert_int_equal(ldg_tlog_tile_path(buf, 10, 0, 0, 256), LDG_EINVAL);
}

/* ------------------------------------------------------- text formats -- */

static const char test_checkpoint[] =
    "example.com/log\n3\nqT6kGxZ8Jbq4k6rpJfr1Df1nW4HCx0gT4YfMXdD1Wng=\n"
    "\n"
    "\xe2\x80\x94 example.com/log AAAAAAAA\n";

static void
test_tlog__proof_format_round_trip(void **state)
{
    uint8_t p[3][32], q[LDG_PROOF_MAX][32];
    uint64_t idx;
    size_t n, cl;
    const char *cp;
    char *text;

    (void)state;
    for (int i = 0; i < 3; i++)
        memset(p[i], 0x11 * (i + 1), 32);
    assert_int_equal(ldg_tlog_proof_format(&text, 73894, p, 3, test_checkpoint),
                     0);
    assert_string_equal(text, "c2sp.org/tlog-proof@v1\n"
                              "index 73894\n"
                              "ERERERERERERERERERERERERERERERERERERERERERE=\n"
                              "IiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiI=\n"
                              "MzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzM=\n"
                              "\n"
                              "example.com/log\n3\n"
                              "qT6kGxZ8Jbq4k6rpJfr1Df1nW4HCx0gT4YfMXdD1Wng=\n"
                              "\n"
                              "\xe2\x80\x94 example.com/log AAAAAAAA\n");
    assert_int_equal(
        ldg_tlog_proof_parse(text, strlen(text), &idx, q, &n, &cp, &cl), 0);
    assert_int_equal(idx, 73894);
    assert_int_equal(n, 3);
    assert_memory_equal(q, p, sizeof p);
    assert_int_equal(cl, strlen(test_checkpoint));
    assert_memory_equal(cp, test_checkpoint, cl);
    free(text);

    /* No hashes (a one-entry tree), index 0. */
    assert_int_equal(ldg_tlog_proof_format(&text, 0, NULL, 0, test_checkpoint),
                     0);
    assert_int_equal(
        ldg_tlog_proof_parse(text, strlen(text), &idx, q, &n, &cp, &cl), 0);
    assert_int_equal(idx, 0);
    assert_int_equal(n, 0);
    free(text);

    /* The optional "extra" line is accepted and skipped. */
    {
        const char *t = "c2sp.org/tlog-proof@v1\n"
                        "extra YWdlLXYx\n"
                        "index 7\n"
                        "ERERERERERERERERERERERERERERERERERERERERERE=\n"
                        "\n"
                        "o\n1\nERERERERERERERERERERERERERERERERERERERERERE=\n";
        assert_int_equal(
            ldg_tlog_proof_parse(t, strlen(t), &idx, q, &n, &cp, &cl), 0);
        assert_int_equal(idx, 7);
        assert_int_equal(n, 1);
    }
    /* Misuse. */
    assert_int_equal(
        ldg_tlog_proof_format(&text, 0, p, LDG_PROOF_MAX + 1, test_checkpoint),
        LDG_EINVAL);
    assert_null(text);
    assert_int_equal(ldg_tlog_proof_format(&text, 0, p, 1, ""), LDG_EINVAL);
}

static void
test_tlog__proof_parse_rejects_malformed(void **state)
{
    static const char *const bad[] = {
        "",
        "c2sp.org/tlog-proof@v2\nindex 1\n\nx\n",
        "c2sp.org/tlog-proof@v1\n",
        "c2sp.org/tlog-proof@v1\nindex 01\n\nx\n", /* leading zero */
        "c2sp.org/tlog-proof@v1\nindex -1\n\nx\n",
        "c2sp.org/tlog-proof@v1\nindex 1x\n\nx\n",
        "c2sp.org/tlog-proof@v1\nindex \n\nx\n",
        "c2sp.org/tlog-proof@v1\nindex 18446744073709551616\n\nx\n",
        "c2sp.org/tlog-proof@v1\nindex  1\n\nx\n",
        "c2sp.org/tlog-proof@v1\nIndex 1\n\nx\n",
        "c2sp.org/tlog-proof@v1\nindex 1\n\n", /* no checkpoint */
        "c2sp.org/tlog-proof@v1\nindex 1\n",   /* no blank line */
        "c2sp.org/tlog-proof@v1\nextra \nindex 1\n\nx\n",
        "c2sp.org/tlog-proof@v1\nextra !!!!\nindex 1\n\nx\n",
        "c2sp.org/tlog-proof@v1\nindex 1\nextra YWdl\n\nx\n", /* order */
        "c2sp.org/tlog-proof@v1\nindex 1\n"
        "ERERERERERERERERERERERERERERERERERERERERERE\n\nx\n", /* short */
        "c2sp.org/tlog-proof@v1\nindex 1\n"
        "ERERERERERERERERERERERERERERERERERERERERERERE=\n\nx\n", /* long */
        "c2sp.org/tlog-proof@v1\nindex 1\n"
        "ERERERERERERERERERERERERERERERERERERERERER!=\n\nx\n",
        "c2sp.org/tlog-proof@v1\nindex 1\n"
        "ERERERERERERERERERERERERERERERERERERERERERE=\r\n\nx\n",
        "c2sp.org/tlog-proof@v1\r\nindex 1\n\nx\n",
    };
    uint8_t q[LDG_PROOF_MAX][32];
    uint64_t idx;
    size_t n, cl;
    const char *cp;

    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc =
            ldg_tlog_proof_parse(bad[i], strlen(bad[i]), &idx, q, &n, &cp, &cl);
        if (rc != LDG_EBADINPUT)
            fail_msg("case %zu accepted or wrong code %d", i, rc);
    }
    /* 65 hashes: more than any tree needs. */
    {
        char *t = malloc(40 + 65 * 45 + 8);
        size_t hdr = (size_t)sprintf(t, "c2sp.org/tlog-proof@v1\nindex 1\n");
        size_t off = hdr;
        for (int i = 0; i < 65; i++)
            off += (size_t)sprintf(
                t + off, "ERERERERERERERERERERERERERERERERERERERERERE=\n");
        off += (size_t)sprintf(t + off, "\nx\n");
        assert_int_equal(ldg_tlog_proof_parse(t, off, &idx, q, &n, &cp, &cl),
                         LDG_EBADINPUT);
        /* 64 is fine */
        memmove(t + hdr, t + hdr + 45, off - hdr - 45);
        assert_int_equal(
            ldg_tlog_proof_parse(t, off - 45, &idx, q, &n, &cp, &cl), 0);
        assert_int_equal(n, 64);
        free(t);
    }
}

static void
test_tlog__consistency_body_round_trip(void **state)
{
    uint8_t p[2][32], q[LDG_PROOF_MAX][32];
    uint64_t old;
    size_t n, cl;
    const char *cp;
    char *text;

    (void)state;
    memset(p[0], 0x11, 32);
    memset(p[1], 0x22, 32);
    assert_int_equal(
        ldg_tlog_consistency_format(&text, 20852014, p, 2, test_checkpoint), 0);
    assert_string_equal(text, "old 20852014\n"
                              "ERERERERERERERERERERERERERERERERERERERERERE=\n"
                              "IiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiI=\n"
                              "\n"
                              "example.com/log\n3\n"
                              "qT6kGxZ8Jbq4k6rpJfr1Df1nW4HCx0gT4YfMXdD1Wng=\n"
                              "\n"
                              "\xe2\x80\x94 example.com/log AAAAAAAA\n");
    assert_int_equal(
        ldg_tlog_consistency_parse(text, strlen(text), &old, q, &n, &cp, &cl),
        0);
    assert_int_equal(old, 20852014);
    assert_int_equal(n, 2);
    assert_memory_equal(q, p, sizeof p);
    assert_memory_equal(cp, test_checkpoint, cl);
    free(text);

    assert_int_equal(
        ldg_tlog_consistency_format(&text, 0, NULL, 0, test_checkpoint), 0);
    assert_int_equal(strncmp(text, "old 0\n\nexample.com/log\n", 23), 0);
    free(text);

    {
        static const char *const bad[] = {
            "old 01\n\nx\n", "old\n\nx\n", "new 1\n\nx\n",
            "old 1\n\n",     "old 1\n",    "old 1\nAAAA\n\nx\n",
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
            assert_int_equal(ldg_tlog_consistency_parse(bad[i], strlen(bad[i]),
                                                        &old, q, &n, &cp, &cl),
                             LDG_EBADINPUT);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tlog__leaf_and_node_hash_domains),
        cmocka_unit_test(test_tlog__rfc6962_vectors),
        cmocka_unit_test(test_tlog__matches_rfc6962_reference),
        cmocka_unit_test(test_tlog__inclusion_mutations_rejected),
        cmocka_unit_test(test_tlog__consistency_mutations_rejected),
        cmocka_unit_test(test_tlog__verify_edge_cases),
        cmocka_unit_test(test_tlog__generation_errors),
        cmocka_unit_test(test_tlog__huge_trees),
        cmocka_unit_test(test_tlog__tile_paths),
        cmocka_unit_test(test_tlog__proof_format_round_trip),
        cmocka_unit_test(test_tlog__proof_parse_rejects_malformed),
        cmocka_unit_test(test_tlog__consistency_body_round_trip),
    };
    if (getenv("TEST_FILTER") != NULL)
        cmocka_set_test_filter(getenv("TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
