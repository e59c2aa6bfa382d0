/*
 * test_tree.c — ledger/tree.c, the stored Merkle tree and its checkpoints:
 * the root at every size is RFC 6962's Merkle tree hash of the entries'
 * leaf hashes, computed here from scratch (in every store layout, across
 * tile boundaries: the older layouts' golden images, 600 events committed
 * at sizes 1, 32 and 600, and a fresh ledger of the newest); a checkpoint is
 * kept at every commit's end and only there, and floor and ceil find the
 * nearest ones; the signed checkpoint at a size names that size and root.
 * A benchmark's ledger (LDG_BENCH_NOTREE) keeps level 0 alone, from which
 * its entries read.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "ledger/module.h"
#include "ledger/tree_int.h"
#include "tests/support/support.h"

#define N_EVENTS 600 /* past two tiles of 256 */

/* RFC 6962 2.1: MTH of leaves[0..n), from the leaf hashes. */
static void
mth(const uint8_t (*leaves)[32], uint64_t n, uint8_t out[32])
{
    uint8_t buf[65], l[32], r[32];
    uint64_t k = 1;
    if (n == 1) {
        memcpy(out, leaves[0], 32);
        return;
    }
    while (k * 2 < n)
        k *= 2; /* the largest power of two smaller than n */
    mth(leaves, k, l);
    mth(leaves + k, n - k, r);
    buf[0] = 0x01;
    memcpy(buf + 1, l, 32);
    memcpy(buf + 33, r, 32);
    ldg_sha256(out, buf, sizeof buf);
}

/* Appends N_EVENTS events in commits of 1 to 40, noting each commit's end
 * in ends[] (ends[s] = 1: a commit ended at size s). */
static void
fill(struct ldg_ledger *l, uint8_t *ends, uint64_t seed)
{
    uint64_t added = 0;
    ends[1] = 1; /* the genesis commit */
    while (added < N_EVENTS) {
        struct ldg_batch *b = NULL;
        uint64_t k = 1 + seed % 40, first = 0, n = 0;
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        if (k > N_EVENTS - added)
            k = N_EVENTS - added;
        assert_int_equal(ldg_batch_begin(&b, l), 0);
        for (uint64_t i = 0; i < k; i++) {
            struct ldg_event_in in;
            json_t *body = json_pack("{s:I}", "i", (json_int_t)(added + i));
            memset(&in, 0, sizeof in);
            in.type = "x.tree.t";
            in.body = body;
            assert_int_equal(ldg_batch_add(b, &in), 0);
            json_decref(body);
        }
        assert_int_equal(ldg_batch_commit(b, &first, &n), 0);
        ldg_batch_free(b);
        added += k;
        ends[first + n] = 1;
    }
}

static void
check_tree(unsigned layout)
{
    char dir[256];
    struct ldg_ledger *l;
    static uint8_t leaves[N_EVENTS + 1][32];
    uint8_t ends[N_EVENTS + 2], got[32], want[32];
    struct ldg_txn *t;
    uint64_t size = 0;

    memset(ends, 0, sizeof ends);
    if (layout < LDG_LAYOUT_TAGGED) {
        /* a build appends to layouts 8 and 9 only: the older ones are
         * the images of tests/vectors/layout/ (README: three commits) */
        l = t_ledger_image(dir, sizeof dir, layout);
        ends[1] = ends[32] = ends[600] = 1;
    } else {
        l = t_ledger_new_layout(dir, sizeof dir, 0, 0, layout);
        fill(l, ends, 7 + layout);
    }
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_txn_size(t, &size), 0);
    assert_int_equal(size, layout < LDG_LAYOUT_TAGGED ? 600 : N_EVENTS + 1);
    /* the leaf hashes as the strict decoder computes them from the bytes */
    for (uint64_t s = 0; s < size; s++) {
        struct ldg_event ev;
        assert_int_equal(ldg_event_get(t, s, &ev), 0);
        memcpy(leaves[s], ev.leaf, 32);
    }
    for (uint64_t n = 1; n <= size; n++) {
        uint64_t fl = 0, ce = 0, want_fl = n, want_ce = n;
        char *note = NULL;
        mth((const uint8_t(*)[32])leaves, n, want);
        assert_int_equal(ldg_tree_root(t, n, got), 0);
        if (memcmp(got, want, 32) != 0)
            fail_msg("layout %u: the root at size %llu is not RFC 6962's",
                     layout, (unsigned long long)n);
        /* checkpoints: at commit ends and only there */
        while (!ends[want_fl])
            want_fl--;
        while (want_ce <= size && !ends[want_ce])
            want_ce++;
        assert_int_equal(ldg_checkpoint_floor(t, n, &fl), 0);
        assert_int_equal(fl, want_fl);
        assert_int_equal(ldg_checkpoint_ceil(t, n, &ce), 0);
        assert_int_equal(ce, want_ce);
        if (ends[n]) {
            char line[80], b64[64];
            assert_int_equal(ldg_checkpoint_get(t, n, &note), 0);
            snprintf(line, sizeof line, "\n%llu\n", (unsigned long long)n);
            assert_non_null(strstr(note, line));
            /* its root line: base64 of the root */
            sodium_bin2base64(b64, sizeof b64, want, 32,
                              sodium_base64_VARIANT_ORIGINAL);
            assert_non_null(strstr(note, b64));
            free(note);
        } else {
            assert_int_equal(ldg_checkpoint_get(t, n, &note), LDG_ENOTFOUND);
        }
    }
    /* past the log: no root, no ceiling */
    assert_int_not_equal(ldg_tree_root(t, size + 1, got), 0);
    {
        uint64_t ce = 0;
        assert_int_equal(ldg_checkpoint_ceil(t, size + 1, &ce), LDG_ENOTFOUND);
    }
    ldg_txn_abort(t);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_tree__roots_and_checkpoints_in_every_layout(void **state)
{
    (void)state;
    for (unsigned layout = 1; layout <= LDG_LAYOUT_NEWEST; layout++)
        check_tree(layout);
}

/* LDG_BENCH_NOTREE (bench/tree_overhead): init makes the ledger without
 * verifying its genesis, appends store each leaf hash at level 0 (tiles
 * included: every event reads back, its prev taken from there), and
 * nothing above it: no root from a whole tile on, no checkpoint. */
static void
test_tree__bench_notree_keeps_the_leaf_hashes_only(void **state)
{
    struct ldg_options o;
    struct ldg_ledger *l = NULL;
    struct ldg_txn *t;
    uint8_t ends[N_EVENTS + 2], got[32];
    uint64_t size = 0, fl = 0;
    char dir[256], err[512], *note = NULL;
    const char *tmp = getenv("TMPDIR");

    (void)state;
    snprintf(dir, sizeof dir, "%s/ldgtest.XXXXXX", tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(dir));
    memset(&o, 0, sizeof o);
    o.flags = LDG_NOSYNC | LDG_BENCH_NOTREE;
    o.map_size_bytes = 64u << 20;
    if (ldg_init(dir, "test.local/unit", &o, err, sizeof err) != 0)
        fail_msg("init: %s", err);
    if (ldg_open(&l, dir, &o, err, sizeof err) != 0)
        fail_msg("open: %s", err);
    memset(ends, 0, sizeof ends);
    fill(l, ends, 11);
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_txn_size(t, &size), 0);
    assert_int_equal(size, N_EVENTS + 1);
    for (uint64_t s = 0; s < size; s++) {
        struct ldg_event ev;
        uint8_t stored[32];
        /* the entry, whole with its prev from level 0, hashes to the
         * leaf hash stored for it */
        assert_int_equal(ldg_event_get(t, s, &ev), 0);
        assert_int_equal(ldg_tree_stored_hash(t, 0, s, stored), 0);
        assert_memory_equal(ev.leaf, stored, 32);
    }
    /* within tile 0 of level 0, a root; a whole tile's hash is kept at
     * the level above, which is not there */
    assert_int_equal(ldg_tree_root(t, 255, got), 0);
    assert_int_not_equal(ldg_tree_root(t, 256, got), 0);
    assert_int_not_equal(ldg_tree_root(t, size, got), 0);
    assert_int_equal(ldg_checkpoint_floor(t, size, &fl), LDG_ENOTFOUND);
    assert_int_equal(ldg_checkpoint_get(t, size, &note), LDG_ENOTFOUND);
    ldg_txn_abort(t);
    ldg_close(l);
    t_rmrf(dir);
}

/* A transaction remembers the complete subtrees it hashed (tree.c's
 * memo): a root asked again takes them from there, and a leaf written
 * where they reach (a tree rewritten in place, as tests and attackers do)
 * is not hidden by them. */
static void
test_tree__memo_follows_a_rewritten_leaf(void **state)
{
    char dir[256];
    static uint8_t leaves[N_EVENTS + 1][32];
    uint8_t ends[N_EVENTS + 2], got[32], want[32];
    struct ldg_ledger *l;
    struct ldg_txn *t;
    uint64_t size = 0;

    (void)state;
    l = t_ledger_new_layout(dir, sizeof dir, 0, 0, LDG_LAYOUT_NEWEST);
    memset(ends, 0, sizeof ends);
    fill(l, ends, 5);
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_WRITE, &t), 0);
    assert_int_equal(ldg_txn_size(t, &size), 0);
    for (uint64_t s = 0; s < size; s++)
        assert_int_equal(ldg_tree_stored_hash(t, 0, s, leaves[s]), 0);
    mth((const uint8_t(*)[32])leaves, size, want);
    assert_int_equal(ldg_tree_root(t, size, got), 0);
    assert_memory_equal(got, want, 32);
    assert_int_equal(ldg_tree_root(t, size, got), 0); /* from the memo */
    assert_memory_equal(got, want, 32);
    /* leaf 520 (of the last tile, not yet whole), under the subtree of
     * 512..575 the memo holds, rewritten */
    leaves[520][0] ^= 1;
    assert_int_equal(ldg_tree_add_leaf(t, 520, leaves[520]), 0);
    mth((const uint8_t(*)[32])leaves, size, want);
    assert_int_equal(ldg_tree_root(t, size, got), 0);
    assert_memory_equal(got, want, 32);
    ldg_txn_abort(t);
    ldg_close(l);
    t_rmrf(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tree__roots_and_checkpoints_in_every_layout),
        cmocka_unit_test(test_tree__bench_notree_keeps_the_leaf_hashes_only),
        cmocka_unit_test(test_tree__memo_follows_a_rewritten_leaf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
