/*
 * test_layout.c — the store layouts (FORMAT.md section 6) and ledger
 * migrate (ledger/tree.c, ledger/migrate.c). This build appends to the
 * newest layout only: the older ones come from the golden images of
 * tests/vectors/layout/ (one 600-event ledger in layouts 1 to 7), read,
 * verified and migrated here.
 *
 *   - the tree as tiles (layout 2, and layout 5 as appended): every root,
 *     and inclusion and consistency proofs, against RFC 6962 computed here
 *     from the entries alone; layout 1 still read;
 *   - migrate from layout 1: the same roots, proofs and checkpoints after,
 *     a second run converts nothing, there is no way back, appends go on
 *     once at the newest layout and are refused before, naming migrate;
 *   - a stored hash that is wrong: migrate refuses and leaves layout 1,
 *     verify --full names the event whose hash a tile holds wrong;
 *   - layout 3 (the indexes as a key per value): every index scan, value
 *     list and time window answers as layout 2 did; a malformed old index
 *     key stops migrate at layout 2;
 *   - layout 4 (a full tile's last hash apart): a ledger with some tiles
 *     split and some whole (a migrate that stopped) reads and verifies, and
 *     migrate splits the rest; a split tile without its last hash is named;
 *   - layout 5 (the log in entries5 and bodies5): migrate keeps every
 *     answer, what a stopped copy left is dropped, a broken chain stops it;
 *   - layout 6 (new bodies seeded by AES): from 5, migrate rewrites the
 *     layout record and nothing else, appends are refused before it;
 *   - layout 7 (a sealed entry stored with its claim digest): from 6 the
 *     same, the old records read with the digest derived, new ones keep
 *     theirs; layout 8 (the digest raw before the record): from 7 every
 *     record rewritten so, the whole entries the same bytes;
 *   - a proof made from a damaged or missing stored hash is refused,
 *     named, never given out.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ledger/index_int.h"
#include "ledger/migrate_int.h"
#include "ledger/tree_int.h"
#include "ledger/tlog_int.h"
#include "tests/support/support.h"

#define N 800 /* three full tiles and 32 leaves of a fourth */

struct fx {
    char dir[256];
    struct ldg_ledger *l;
    uint8_t (*leaf)[32]; /* hashed from the stored entries */
    uint64_t n;
};

/* A ledger of n events (the genesis among them) in the newest layout, or
 * the golden image of an older one (600 events: n must say so). */
/* the core's own tests open an earlier build's layout (layout_int.h) */
static const struct ldg_options any_layout = {.flags = LDG_ANY_LAYOUT};

static struct fx *
fx_new(unsigned layout, int n)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    if (layout < LDG_LAYOUT_TAGGED) {
        assert_int_equal(n, 600);
        f->l = t_ledger_image(f->dir, sizeof f->dir, layout);
        return f;
    }
    f->l = t_ledger_new_layout(f->dir, sizeof f->dir, 0, 0, layout);
    t_append_many(f->l, n - 1); /* and the genesis */
    return f;
}

static void
fx_free(struct fx *f)
{
    ldg_close(f->l);
    t_rmrf(f->dir);
    free(f->leaf);
    free(f);
}

/* The leaf hashes, from the entries as stored. */
static void
fx_leaves(struct fx *f)
{
    struct ldg_txn *t;
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_txn_size(t, &f->n), 0);
    free(f->leaf);
    f->leaf = calloc(f->n, 32);
    assert_non_null(f->leaf);
    for (uint64_t i = 0; i < f->n; i++) {
        static uint8_t whole[LDG_ENTRY_MAX];
        const uint8_t *e;
        size_t n;
        assert_int_equal(ldg_event_entry(t, i, whole, sizeof whole, &e, &n), 0);
        ldg_tlog_leaf_hash(f->leaf[i], e, n);
    }
    ldg_txn_abort(t);
}

/* RFC 6962 section 2.1, MTH(D[lo:hi]), straight from the definition. */
static void
mth(const struct fx *f, uint64_t lo, uint64_t hi, uint8_t out[32])
{
    uint64_t k = 1, n = hi - lo;
    uint8_t l[32], r[32];
    if (n == 1) {
        memcpy(out, f->leaf[lo], 32);
        return;
    }
    while (k * 2 < n)
        k *= 2;
    mth(f, lo, lo + k, l);
    mth(f, lo + k, hi, r);
    ldg_tlog_node_hash(out, l, r);
}

/* Node (level, index) of the reference tree, for ldg_tlog's proofs. */
static int
ref_reader(void *ctx, int level, uint64_t index, uint8_t out[32])
{
    const struct fx *f = ctx;
    uint64_t lo = index << level, hi = lo + ((uint64_t)1 << level);
    if (hi > f->n)
        return LDG_ENOTFOUND;
    mth(f, lo, hi, out);
    return 0;
}

/* Every root, and proofs at some sizes, equal the reference's. */
static void
check_tree(struct fx *f)
{
    static const uint64_t sizes[] = {1,   2,   255, 256, 257, 511,
                                     512, 513, 767, 768, 769, 800};
    struct ldg_txn *t;
    uint8_t got[32], want[32], p1[LDG_PROOF_MAX][32], p2[LDG_PROOF_MAX][32];
    size_t n1, n2;

    fx_leaves(f);
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_READ, &t), 0);
    for (uint64_t s = 1; s <= f->n; s++) {
        assert_int_equal(ldg_tree_root(t, s, got), 0);
        mth(f, 0, s, want);
        assert_memory_equal(got, want, 32);
    }
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        uint64_t s = sizes[i];
        if (s > f->n)
            continue;
        for (uint64_t idx = 0; idx < s; idx += 37) {
            assert_int_equal(ldg_tree_inclusion(t, idx, s, p1, &n1), 0);
            assert_int_equal(
                ldg_tlog_inclusion_proof(ref_reader, f, idx, s, p2, &n2), 0);
            assert_int_equal(n1, n2);
            assert_memory_equal(p1, p2, 32 * n1);
        }
        for (uint64_t old = 1; old <= s; old += 53) {
            assert_int_equal(ldg_tree_consistency(t, old, s, p1, &n1), 0);
            assert_int_equal(
                ldg_tlog_consistency_proof(ref_reader, f, old, s, p2, &n2), 0);
            assert_int_equal(n1, n2);
            assert_memory_equal(p1, p2, 32 * n1);
        }
        /* every leaf hash as stored */
        for (uint64_t idx = 0; idx < s; idx++) {
            assert_int_equal(ldg_tree_stored_hash(t, 0, idx, got), 0);
            assert_memory_equal(got, f->leaf[idx], 32);
        }
    }
    ldg_txn_abort(t);
}

static int
layout_of(struct ldg_ledger *l)
{
    struct ldg_stats st;
    assert_int_equal(ldg_stats(l, &st), 0);
    return st.layout;
}

static void
verify_ok(struct ldg_ledger *l)
{
    struct ldg_verify_report r;
    int rc =
        ldg_verify(l, LDG_VERIFY_FULL | LDG_VERIFY_NOSAVE, 0, &r, NULL, NULL);
    if (rc != 0)
        fail_msg("verify: %d at %llu: %s", rc, (unsigned long long)r.bad_seq,
                 r.what);
}

static void
test_layout__tiles_give_rfc6962_roots_and_proofs(void **state)
{
    (void)state;
    struct fx *f = fx_new(2, 600);
    assert_int_equal(layout_of(f->l), 2);
    check_tree(f);
    verify_ok(f->l);
    fx_free(f);
    f = fx_new(LDG_LAYOUT_NEWEST, N);
    assert_int_equal(layout_of(f->l), LDG_LAYOUT_NEWEST);
    check_tree(f);
    verify_ok(f->l);
    fx_free(f);
}

/* An older layout is read, verified and migrated, never appended to: an
 * append says to migrate, and changes nothing. */
static void
test_layout__layout_1_is_still_read(void **state)
{
    (void)state;
    struct fx *f = fx_new(1, 600);
    struct ldg_event_in in;
    uint64_t seq = 0;
    assert_int_equal(layout_of(f->l), 1);
    check_tree(f);
    verify_ok(f->l);
    memset(&in, 0, sizeof in);
    in.type = "x.test.more";
    assert_int_equal(ldg_append(f->l, &in, &seq), LDG_EVERSION);
    assert_non_null(strstr(ldg_errmsg(f->l), "ledger migrate"));
    assert_int_equal(ldg_check_writable(f->l), LDG_EVERSION);
    /* what a server refusing to start says: the dir, the layouts, and
     * the migrate with --dir (its operator's shell has no LEDGER_DIR) */
    {
        char want[700];
        snprintf(want, sizeof want,
                 "%s is at store layout 1, an earlier build's: this build "
                 "reads and appends to layout 9 only, and `ledger migrate` "
                 "converts it in place (run `ledger --dir %s migrate`",
                 ldg_dir(f->l), ldg_dir(f->l));
        assert_non_null(strstr(ldg_errmsg(f->l), want));
    }
    check_tree(f);
    verify_ok(f->l);
    fx_free(f);
}

static void
test_layout__migrate_keeps_every_root_and_proof(void **state)
{
    (void)state;
    struct fx *f = fx_new(1, 600);
    struct ldg_migrate_result r;
    struct ldg_txn *t;
    char *ck1 = NULL, *ck2 = NULL, *pr1 = NULL, *pr2 = NULL;

    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_checkpoint_get(t, 0, &ck1), 0);
    assert_int_equal(ldg_proof_text(t, 300, 0, &pr1), 0);
    ldg_txn_abort(t);

    assert_int_equal(ldg_migrate(f->l, 2, NULL, NULL, &r), 0);
    assert_int_equal(r.from, 1);
    assert_int_equal(r.to, 2);
    assert_int_equal(r.events, 600);
    assert_true(r.tree_after < r.tree_before);
    assert_int_equal(layout_of(f->l), 2);
    check_tree(f);
    verify_ok(f->l);
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_checkpoint_get(t, 0, &ck2), 0);
    assert_int_equal(ldg_proof_text(t, 300, 0, &pr2), 0);
    ldg_txn_abort(t);
    assert_string_equal(ck1, ck2);
    assert_string_equal(pr1, pr2);
    free(pr2);
    pr2 = NULL;

    /* a second run converts nothing; there is no way back */
    assert_int_equal(ldg_migrate(f->l, 2, NULL, NULL, &r), 0);
    assert_int_equal(r.from, 2);
    assert_int_equal(r.to, 2);
    assert_int_equal(ldg_migrate(f->l, 1, NULL, NULL, &r), LDG_EINVAL);
    assert_non_null(strstr(ldg_errmsg(f->l), "never back"));
    assert_int_equal(layout_of(f->l), 2);

    /* on to the newest: the same, and appends go on across the next tile */
    assert_int_equal(ldg_migrate(f->l, 0, NULL, NULL, &r), 0);
    assert_int_equal(r.from, 2);
    assert_int_equal(r.to, LDG_LAYOUT_NEWEST);
    assert_int_equal(r.entries_stored, 600);
    check_tree(f);
    verify_ok(f->l);
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_proof_text(t, 300, 0, &pr2), 0);
    ldg_txn_abort(t);
    assert_string_equal(pr1, pr2);
    t_append_many(f->l, 300);
    check_tree(f);
    verify_ok(f->l);
    free(ck1);
    free(ck2);
    free(pr1);
    free(pr2);
    fx_free(f);
}

/* A handle opened before another migrated the ledger appends in the new
 * layout: the layout is read in each transaction. */
static void
test_layout__an_older_handle_follows_the_migration(void **state)
{
    (void)state;
    struct fx *f = fx_new(1, 600);
    struct ldg_ledger *l2;
    struct ldg_migrate_result r;
    char err[256];
    assert_int_equal(ldg_open(&l2, f->dir, &any_layout, err, sizeof err), 0);
    /* (to 8: one migrated to 9 refuses the older handle's appends, which
     * would go behind the intake's back: test_intake_log) */
    assert_int_equal(ldg_migrate(l2, LDG_LAYOUT_TAGGED, NULL, NULL, &r), 0);
    ldg_close(l2);
    t_append_many(f->l, 500);
    assert_int_equal(layout_of(f->l), LDG_LAYOUT_TAGGED);
    check_tree(f);
    verify_ok(f->l);
    fx_free(f);
}

static void
flip_tree_record(struct ldg_ledger *l, const char *db, int level,
                 uint64_t index, size_t at)
{
    struct ldg_txn *t;
    struct ldg_val v;
    ldg_dbi dbi;
    uint8_t k[LDG_TREE_KEY_LEN], *copy;
    ldg_tree_key(k, level, index);
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_WRITE, &t), 0);
    assert_int_equal(ldg_db_open(t, db, 0, &dbi), 0);
    assert_int_equal(ldg_kv_get(t, dbi, k, sizeof k, &v), 0);
    copy = malloc(v.len);
    memcpy(copy, v.data, v.len);
    copy[at] ^= 0x10;
    assert_int_equal(ldg_core_kv_put(t, dbi, k, sizeof k, copy, v.len), 0);
    free(copy);
    assert_int_equal(ldg_txn_commit(t), 0);
}

static void
test_layout__migrate_refuses_a_wrong_stored_hash(void **state)
{
    (void)state;
    struct fx *f = fx_new(1, 600);
    struct ldg_migrate_result r;
    flip_tree_record(f->l, "tree", 0, 300, 5);
    /* (its full verification first names the event, nothing converted) */
    assert_int_equal(ldg_migrate(f->l, 0, NULL, NULL, &r), LDG_ETAMPER);
    assert_non_null(strstr(ldg_errmsg(f->l), "the store does not verify at "
                                             "layout 1 (event 300"));
    assert_non_null(strstr(ldg_errmsg(f->l), "nothing was converted: the "
                                             "store is damaged: restore"));
    assert_int_equal(layout_of(f->l), 1);
    fx_free(f);
}

static void
test_layout__verify_names_the_event_of_a_wrong_tile_hash(void **state)
{
    (void)state;
    struct fx *f = fx_new(2, 600);
    struct ldg_verify_report r;
    /* tile 1 of level 0 holds leaves 256..511: flip leaf 300's hash */
    flip_tree_record(f->l, "tiles", 0, 1, 32 * (300 - 256) + 7);
    assert_int_equal(ldg_verify(f->l, LDG_VERIFY_FULL | LDG_VERIFY_NOSAVE, 0,
                                &r, NULL, NULL),
                     LDG_ETAMPER);
    assert_int_equal(r.bad_seq, 300);
    assert_non_null(strstr(r.what, "Merkle"));
    fx_free(f);
}

/* A proof is checked against the signed root before it is given out: a
 * damaged or missing stored hash is named, never a proof that does not
 * hold, nor "not in the tree". */
static void
test_layout__a_proof_from_a_damaged_tree_is_refused(void **state)
{
    (void)state;
    for (unsigned layout = 2; layout <= LDG_LAYOUT_NEWEST; layout++) {
        struct fx *f = fx_new(layout, 600);
        struct ldg_txn *t;
        ldg_dbi dbi;
        uint8_t k[LDG_TREE_KEY_LEN];
        char *text = NULL;

        /* leaf 301: the sibling an inclusion proof of 300 carries */
        flip_tree_record(f->l, "tiles", 0, 1, 32 * (301 - 256) + 7);
        assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_READ, &t), 0);
        assert_int_equal(ldg_proof_text(t, 300, 0, &text), LDG_ECORRUPT);
        assert_null(text);
        assert_non_null(strstr(ldg_errmsg(f->l), "event 300"));
        assert_non_null(strstr(ldg_errmsg(f->l), "verify --full"));
        assert_int_equal(ldg_consistency_text(t, 300, 0, &text), LDG_ECORRUPT);
        assert_null(text);
        /* a proof that needs no hash of that tile is given */
        assert_int_equal(ldg_proof_text(t, 550, 0, &text), 0);
        free(text);
        text = NULL;
        ldg_txn_abort(t);

        ldg_tree_key(k, 0, 1);
        assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_WRITE, &t), 0);
        assert_int_equal(ldg_db_open(t, "tiles", 0, &dbi), 0);
        assert_int_equal(ldg_core_kv_del(t, dbi, k, sizeof k, NULL, 0), 0);
        assert_int_equal(ldg_proof_text(t, 300, 0, &text), LDG_ECORRUPT);
        assert_non_null(strstr(ldg_errmsg(f->l), "missing"));
        ldg_txn_abort(t);
        fx_free(f);
    }
}

/* Each database's class (ledger.h), which the doctor, prune's budget and
 * migrate weigh the store by without knowing its layout. */
static void
test_layout__every_database_has_its_class(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        enum ldg_db_class cls;
    } want[] = {
        {"entries", LDG_DBC_EVENT},  {"bodies", LDG_DBC_EVENT},
        {"seals", LDG_DBC_EVENT},    {"ix.type", LDG_DBC_INDEX},
        {"ix.run", LDG_DBC_INDEX},   {"idx.id", LDG_DBC_INDEX},
        {"idx.time", LDG_DBC_INDEX}, {"tree", LDG_DBC_TREE},
        {"tiles", LDG_DBC_TREE},     {"checkpoints", LDG_DBC_CHECKPOINT},
        {"meta", LDG_DBC_STATE},     {"keys", LDG_DBC_STATE},
        {"(free)", LDG_DBC_FREE},    {"(catalogue)", LDG_DBC_LMDB},
        {"(meta)", LDG_DBC_LMDB},    {"entries5", LDG_DBC_EVENT},
        {"bodies5", LDG_DBC_EVENT},  {"dicts", LDG_DBC_STATE},
    };
    struct fx *f = fx_new(LDG_LAYOUT_NEWEST, 300);
    struct ldg_db_size *d = NULL;
    size_t n = 0;
    assert_int_equal(ldg_stats_databases(f->l, &d, &n), 0);
    for (size_t w = 0; w < sizeof want / sizeof want[0]; w++) {
        size_t i = 0;
        while (i < n && strcmp(d[i].name, want[w].name) != 0)
            i++;
        if (i == n)
            fail_msg("no database %s", want[w].name);
        if (d[i].cls != want[w].cls)
            fail_msg("%s: class %d, not %d", want[w].name, (int)d[i].cls,
                     (int)want[w].cls);
    }
    free(d);
    fx_free(f);
}

/* A layout record a build does not know, or a damaged one: every open
 * refuses it, naming it. */
static void
test_layout__an_unknown_or_damaged_layout_record_is_refused(void **state)
{
    (void)state;
    static const struct {
        uint8_t v[5];
        size_t n;
        int rc;
        const char *says;
    } cases[] = {
        {{0, 0, 0, 10},
         4,
         LDG_EVERSION,
         "store layout 10, this build reads layout 9 (ledger migrate converts "
         "1 to 8 to it)"},
        {{0, 0, 3, 0xe7},
         4,
         LDG_EVERSION,
         "store layout 999, this build reads layout 9 (ledger migrate"},
        {{0, 0, 0, 0}, 4, LDG_ECORRUPT, "layout record is damaged"},
        {{0, 0, 2}, 3, LDG_ECORRUPT, "layout record is damaged (3 bytes"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct fx *f = fx_new(LDG_LAYOUT_NEWEST, 10);
        struct ldg_txn *t;
        struct ldg_ledger *l2 = NULL;
        ldg_dbi dbi;
        char err[512];
        assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_WRITE, &t), 0);
        assert_int_equal(ldg_db_open(t, "meta", 0, &dbi), 0);
        assert_int_equal(
            ldg_core_kv_put(t, dbi, "layout", 6, cases[i].v, cases[i].n), 0);
        assert_int_equal(ldg_txn_commit(t), 0);
        err[0] = '\0';
        assert_int_equal(ldg_open(&l2, f->dir, NULL, err, sizeof err),
                         cases[i].rc);
        if (strstr(err, cases[i].says) == NULL)
            fail_msg("case %zu: %s", i, err);
        fx_free(f);
    }
}

/* ------------------------------------------------------------ layout 4 -- */

/* The db tiles record of tile (tl, n): its length. */
static size_t
tile_len(struct ldg_ledger *l, int tl, uint64_t n)
{
    struct ldg_txn *t;
    struct ldg_val v;
    ldg_dbi dbi;
    uint8_t k[LDG_TREE_KEY_LEN];
    size_t len;
    ldg_tree_key(k, tl, n);
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_db_open(t, "tiles", 0, &dbi), 0);
    assert_int_equal(ldg_kv_get(t, dbi, k, sizeof k, &v), 0);
    len = v.len;
    ldg_txn_abort(t);
    return len;
}

static void
test_layout__layout_4_keeps_a_tiles_last_hash_apart(void **state)
{
    (void)state;
    struct fx *f = fx_new(4, 600);
    assert_int_equal(layout_of(f->l), 4);
    for (uint64_t n = 0; n < 2; n++)
        assert_int_equal(tile_len(f->l, 0, n), LDG_TILE_SPLIT_BYTES);
    check_tree(f);
    verify_ok(f->l);
    fx_free(f);
}

/* A migrate from 3 that stopped after its first step: layout 4, one tile
 * split, one whole. */
static void
test_layout__a_stopped_split_reads_and_migrate_finishes_it(void **state)
{
    (void)state;
    struct fx *f = fx_new(3, 600);
    struct ldg_migrate_result r;
    struct ldg_txn *t;
    ldg_dbi meta;
    uint8_t lay[4] = {0, 0, 0, 4}, from[LDG_TREE_KEY_LEN] = {0},
            next[LDG_TREE_KEY_LEN];
    uint64_t split = 0;
    int done = 0;

    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_WRITE, &t), 0);
    assert_int_equal(ldg_db_open(t, "meta", 0, &meta), 0);
    assert_int_equal(ldg_core_kv_put(t, meta, "layout", 6, lay, 4), 0);
    ldg_txn_set_layout(t, 4);
    assert_int_equal(ldg_mig_tiles_split(t, from, 1, next, &done, &split), 0);
    assert_int_equal(split, 1);
    assert_false(done);
    assert_int_equal(ldg_txn_commit(t), 0);
    assert_int_equal(tile_len(f->l, 0, 0), LDG_TILE_SPLIT_BYTES);
    assert_int_equal(tile_len(f->l, 0, 1), LDG_TILE_BYTES);
    assert_int_equal(layout_of(f->l), 4);
    check_tree(f);
    verify_ok(f->l);

    assert_int_equal(ldg_migrate(f->l, 4, NULL, NULL, &r), 0);
    assert_int_equal(r.from, 4);
    assert_int_equal(r.to, 4);
    assert_int_equal(r.tiles_split, 1);
    for (uint64_t n = 0; n < 2; n++)
        assert_int_equal(tile_len(f->l, 0, n), LDG_TILE_SPLIT_BYTES);
    check_tree(f);
    verify_ok(f->l);
    assert_int_equal(ldg_migrate(f->l, 4, NULL, NULL, &r), 0);
    assert_int_equal(r.tiles_split, 0);
    /* on to the newest, and a third tile, split as it fills */
    assert_int_equal(ldg_migrate(f->l, 0, NULL, NULL, &r), 0);
    t_append_many(f->l, 300);
    assert_int_equal(tile_len(f->l, 0, 2), LDG_TILE_SPLIT_BYTES);
    check_tree(f);
    verify_ok(f->l);
    fx_free(f);
}

static void
test_layout__a_split_tile_without_its_last_hash_is_named(void **state)
{
    (void)state;
    struct fx *f = fx_new(4, 600);
    struct ldg_verify_report r;
    struct ldg_txn *t;
    ldg_dbi dbi;
    uint8_t k[LDG_TREE_KEY_LEN], out[LDG_TILE_BYTES];

    /* leaf 511 is tile 1's last hash, kept in db tree */
    ldg_tree_key(k, 0, 511);
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_WRITE, &t), 0);
    assert_int_equal(ldg_db_open(t, "tree", 0, &dbi), 0);
    assert_int_equal(ldg_core_kv_del(t, dbi, k, sizeof k, NULL, 0), 0);
    assert_int_equal(ldg_tree_tile_get(t, 0, 1, out), LDG_ECORRUPT);
    assert_int_equal(ldg_tree_tile_get(t, 0, 0, out), 0);
    assert_int_equal(ldg_txn_commit(t), 0);
    assert_int_not_equal(ldg_verify(f->l, LDG_VERIFY_FULL | LDG_VERIFY_NOSAVE,
                                    0, &r, NULL, NULL),
                         0);
    assert_int_equal(r.bad_seq, 511);
    fx_free(f);

    /* a flipped last hash: verify names its event */
    f = fx_new(4, 600);
    flip_tree_record(f->l, "tree", 0, 511, 3);
    assert_int_equal(ldg_verify(f->l, LDG_VERIFY_FULL | LDG_VERIFY_NOSAVE, 0,
                                &r, NULL, NULL),
                     LDG_ETAMPER);
    assert_int_equal(r.bad_seq, 511);
    fx_free(f);
}

/* ------------------------------------------------------------ layout 3 -- */

/* n events of a mix of types, subjects (a few common ones, values that
 * are prefixes of others, one of their own now and then) and runs. */
static void
append_mix(struct ldg_ledger *l, int n, int from)
{
    static const char *const types[] = {"x.a", "x.ab", "x.b", "x.a.c"};
    struct ldg_writer *w;
    assert_int_equal(ldg_writer_new(&w, l, NULL), 0);
    for (int i = from; i < from + n; i++) {
        struct ldg_event_in in;
        char subj[64], run[32];
        json_t *b = json_pack("{s:i}", "i", i);
        memset(&in, 0, sizeof in);
        in.type = types[i % 4];
        if (i % 10 == 9)
            snprintf(subj, sizeof subj, "pack:own%d", i);
        else
            snprintf(subj, sizeof subj, "pack:p%d", i % 13 == 12 ? 1 : i % 13);
        in.subject = subj;
        snprintf(run, sizeof run, "r%d", i % 5);
        if (i % 3 != 0)
            in.run = run;
        in.body = b;
        assert_int_equal(ldg_writer_add(w, &in), 0);
        json_decref(b);
    }
    assert_int_equal(ldg_writer_flush(w), 0);
    ldg_writer_free(w);
}

struct answers {
    char *s;
    size_t n, cap;
};

static void
say(struct answers *a, const char *fmt, ...)
{
    va_list ap;
    char line[8192];
    int k;
    va_start(ap, fmt);
    k = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    assert_true(k > 0 && (size_t)k < sizeof line);
    if (a->n + (size_t)k + 1 > a->cap) {
        a->cap = (a->cap + (size_t)k + 1) * 2;
        a->s = realloc(a->s, a->cap);
        assert_non_null(a->s);
    }
    memcpy(a->s + a->n, line, (size_t)k + 1);
    a->n += (size_t)k;
}

static int
say_seq(void *ctx, uint64_t seq)
{
    say(ctx, " %llu", (unsigned long long)seq);
    return 0;
}

struct values {
    char v[256][64];
    int n;
};

static int
value_add(void *ctx, const char *value)
{
    struct values *vs = ctx;
    assert_true(vs->n < 256 && strlen(value) < sizeof vs->v[0]);
    snprintf(vs->v[vs->n++], sizeof vs->v[0], "%s", value);
    return 0;
}

/* Every answer the indexes give: the values of each index (all, and by
 * prefix), each value's events forward and back over three ranges, a
 * scan that skips, and time windows around some events. */
static char *
index_answers(struct ldg_ledger *l)
{
    static const enum ldg_index which[] = {LDG_INDEX_TYPE, LDG_INDEX_SUBJECT,
                                           LDG_INDEX_RUN, LDG_INDEX_ACTOR};
    static const char *const prefixes[] = {"", "x.a", "pack:p1", "r", "zz"};
    struct answers a = {0};
    struct ldg_txn *t;
    uint64_t size;

    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_txn_size(t, &size), 0);
    for (size_t w = 0; w < 4; w++) {
        struct values *vsp = calloc(1, sizeof *vsp);
        for (size_t p = 1; p < sizeof prefixes / sizeof prefixes[0]; p++) {
            assert_int_equal(ldg_index_values(t, which[w], prefixes[p],
                                              strlen(prefixes[p]), value_add,
                                              vsp),
                             0);
            say(&a, "\nvalues %zu '%s':", w, prefixes[p]);
            for (int i = 0; i < vsp->n; i++)
                say(&a, " %s", vsp->v[i]);
            vsp->n = 0;
        }
        assert_int_equal(ldg_index_values(t, which[w], "", 0, value_add, vsp),
                         0);
        /* a value no event has, and the empty string */
        snprintf(vsp->v[vsp->n++], sizeof vsp->v[0], "pack:p");
        snprintf(vsp->v[vsp->n++], sizeof vsp->v[0], "%s", "");
        for (int i = 0; i < vsp->n; i++) {
            static const uint64_t ranges[][2] = {
                {0, UINT64_MAX}, {100, 400}, {401, 401}, {700, 5}};
            for (size_t r = 0; r < 4; r++)
                for (int rev = 0; rev < 2; rev++) {
                    struct ldg_seqscan *sc;
                    uint64_t seq;
                    int k = 0;
                    /* an actor is a key id, a ledger's own: by rank */
                    say(&a, "\n%zu '%s' #%d [%llu,%llu] %d:", w,
                        w == 3 ? "" : vsp->v[i], i,
                        (unsigned long long)ranges[r][0],
                        (unsigned long long)ranges[r][1], rev);
                    assert_int_equal(ldg_index_walk(t, which[w], vsp->v[i],
                                                    ranges[r][0], ranges[r][1],
                                                    rev, say_seq, &a),
                                     0);
                    /* the same by seqscan, skipping ahead once */
                    say(&a, " |");
                    assert_int_equal(ldg_seqscan_index(&sc, t, which[w],
                                                       vsp->v[i], ranges[r][0],
                                                       ranges[r][1], rev),
                                     0);
                    while (ldg_seqscan_next(sc, &seq) == 1) {
                        say(&a, " %llu", (unsigned long long)seq);
                        if (++k == 3)
                            ldg_seqscan_skip(sc, rev ? seq - 50 : seq + 50);
                    }
                    ldg_seqscan_free(sc);
                }
        }
        free(vsp);
    }
    for (uint64_t at = 0; at < size; at += size / 7 + 1) {
        struct ldg_event ev;
        assert_int_equal(ldg_event_get(t, at, &ev), 0);
        for (int d = -1; d <= 1; d++) {
            uint64_t lo = 0, hi = size - 1;
            int rc = ldg_time_window(t, ev.ts_ns + (uint64_t)d, UINT64_MAX, &lo,
                                     &hi);
            say(&a, "\nsince %llu%+d: %d %llu %llu", (unsigned long long)at, d,
                rc, (unsigned long long)lo, (unsigned long long)hi);
            lo = 0, hi = size - 1;
            rc = ldg_time_window(t, 1, ev.ts_ns + (uint64_t)d, &lo, &hi);
            say(&a, " until: %d %llu %llu", rc, (unsigned long long)lo,
                (unsigned long long)hi);
            lo = 3, hi = size / 2;
            if (at + 5 < size) {
                struct ldg_event e2;
                assert_int_equal(ldg_event_get(t, at + 5, &e2), 0);
                rc = ldg_time_window(t, ev.ts_ns + (uint64_t)d,
                                     e2.ts_ns + (uint64_t)d, &lo, &hi);
            } else {
                rc = ldg_time_window(t, ev.ts_ns + (uint64_t)d,
                                     ev.ts_ns + (uint64_t)d, &lo, &hi);
            }
            say(&a, " both: %d %llu %llu", rc, (unsigned long long)lo,
                (unsigned long long)hi);
        }
    }
    ldg_txn_abort(t);
    return a.s;
}

/* Fails naming the first line where a and b differ. */
static void
same_answers(const char *a, const char *b)
{
    size_t line = 1;
    const char *p = a, *q = b;
    while (*p != '\0' && *p == *q) {
        line += *p == '\n';
        p++, q++;
    }
    if (*p != *q) {
        const char *ls = p, *lq = q;
        while (ls > a && ls[-1] != '\n')
            ls--, lq--;
        fail_msg("answers differ at line %zu:\n  %.300s\n  %.300s", line, ls,
                 lq);
    }
}

struct during {
    struct ldg_ledger *other; /* appends while migrate runs */
    int calls, refused;
};

/* An append by another handle while migrate converts: the ledger is at
 * its old layout until the switch, and refuses it naming migrate. */
static void
append_during(void *ctx, uint64_t done, uint64_t total)
{
    struct during *d = ctx;
    struct ldg_event_in in;
    uint64_t seq;
    (void)done;
    (void)total;
    if (d->calls++ != 2)
        return;
    memset(&in, 0, sizeof in);
    in.type = "x.during";
    if (ldg_append(d->other, &in, &seq) == LDG_EVERSION &&
        strstr(ldg_errmsg(d->other), "ledger migrate") != NULL)
        d->refused = 1;
}

static void
test_layout__indexes_answer_the_same_in_layout_3(void **state)
{
    (void)state;
    struct fx *f = fx_new(2, 600);
    struct ldg_migrate_result r;
    struct ldg_ledger *l2;
    struct during d = {0};
    char err[256], *before, *after;

    before = index_answers(f->l);
    assert_int_equal(ldg_open(&l2, f->dir, &any_layout, err, sizeof err), 0);
    d.other = l2;
    assert_int_equal(ldg_migrate(f->l, 3, append_during, &d, &r), 0);
    assert_true(d.calls > 3);
    assert_true(d.refused);
    assert_int_equal(r.from, 2);
    assert_int_equal(r.to, 3);
    assert_true(r.index_after < r.index_before);
    assert_int_equal(layout_of(f->l), 3);
    after = index_answers(f->l);
    same_answers(before, after);
    verify_ok(f->l);
    check_tree(f);
    free(after);

    /* at layout 8: the same, the handle opened before appends, and
     * rebuilt indexes are the same (at 9 that handle's appends are
     * refused: test_intake_log) */
    assert_int_equal(ldg_migrate(f->l, LDG_LAYOUT_TAGGED, NULL, NULL, &r), 0);
    after = index_answers(f->l);
    same_answers(before, after);
    append_mix(l2, 100, 6000);
    verify_ok(f->l);
    free(after);
    after = index_answers(f->l);
    assert_int_equal(ldg_index_rebuild(f->l), 0);
    free(before);
    before = index_answers(f->l);
    same_answers(before, after);
    verify_ok(f->l);
    ldg_close(l2);
    free(before);
    free(after);
    fx_free(f);
}

/* The layout 1 image migrated to 3 in one go answers as the layout 3
 * image (made from the layout 2 one by the build of its time). */
static void
test_layout__layout_1_migrates_to_3_in_one_run(void **state)
{
    (void)state;
    struct fx *a = fx_new(1, 600), *b = fx_new(3, 600);
    struct ldg_migrate_result r;
    char *x, *y;
    assert_int_equal(ldg_migrate(a->l, 3, NULL, NULL, &r), 0);
    assert_int_equal(r.from, 1);
    assert_int_equal(r.to, 3);
    assert_int_equal(layout_of(a->l), 3);
    assert_int_equal(layout_of(b->l), 3);
    check_tree(a);
    verify_ok(a->l);
    verify_ok(b->l);
    x = index_answers(a->l);
    y = index_answers(b->l);
    same_answers(x, y);
    free(x);
    free(y);
    fx_free(a);
    fx_free(b);
}

/* A malformed key in an old index: migrate says so and leaves layout 2,
 * which still verifies but for that key. */
static void
test_layout__migrate_refuses_a_malformed_index_key(void **state)
{
    (void)state;
    struct fx *f = fx_new(2, 600);
    struct ldg_migrate_result r;
    struct ldg_txn *t;
    ldg_dbi dbi;
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_WRITE, &t), 0);
    assert_int_equal(ldg_db_open(t, "idx.subject", 0, &dbi), 0);
    assert_int_equal(ldg_core_kv_put(t, dbi, "no-nul-in-here", 14, "", 0), 0);
    assert_int_equal(ldg_txn_commit(t), 0);
    assert_int_equal(ldg_migrate(f->l, 0, NULL, NULL, &r), LDG_ETAMPER);
    assert_non_null(strstr(ldg_errmsg(f->l), "the store does not verify at "
                                             "layout 2 ("));
    assert_non_null(strstr(ldg_errmsg(f->l), "idx.subject"));
    assert_int_equal(layout_of(f->l), 2);
    fx_free(f);
}

/* What a migrate killed half-way leaves in ix.* is not read in layout 2
 * (verify passes) and is dropped by the next run. */
static void
test_layout__a_half_copied_index_is_ignored_then_replaced(void **state)
{
    (void)state;
    struct fx *f = fx_new(2, 600);
    struct ldg_migrate_result r;
    struct ldg_txn *t;
    ldg_dbi dbi;
    uint8_t d[8];
    char *before, *after;
    ldg_be64(d, 7);
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_WRITE, &t), 0);
    assert_int_equal(ldg_db_open(t, "ix.type", 0, &dbi), 0);
    assert_int_equal(ldg_core_kv_put(t, dbi, "x.layout.test", 13, d, 8), 0);
    assert_int_equal(ldg_core_kv_put(t, dbi, "x.left.over", 11, d, 8), 0);
    assert_int_equal(ldg_txn_commit(t), 0);
    verify_ok(f->l);
    before = index_answers(f->l);
    assert_int_equal(ldg_migrate(f->l, 3, NULL, NULL, &r), 0);
    assert_int_equal(layout_of(f->l), 3);
    verify_ok(f->l);
    after = index_answers(f->l);
    same_answers(before, after);
    free(before);
    free(after);
    fx_free(f);
}

/* ------------------------------------------------------------ layout 5 -- */

/* Every event as a reader gets it: envelope, leaf, body. */
static char *
event_answers(struct ldg_ledger *l)
{
    struct answers a = {0};
    struct ldg_txn *t;
    uint64_t size;
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_txn_size(t, &size), 0);
    for (uint64_t seq = 0; seq < size; seq++) {
        struct ldg_event ev;
        char *body = NULL, leaf[65];
        size_t bl = 0, bc = 0;
        int rc;
        assert_int_equal(ldg_event_get(t, seq, &ev), 0);
        ldg_hex(leaf, ev.leaf, 32);
        rc = ldg_body_json_append(t, seq, &body, &bl, &bc);
        say(&a, "\n%llu %s %s %s %s %d %s", (unsigned long long)ev.seq, ev.type,
            ev.subject, ev.run, leaf, rc, rc == 0 ? body : "");
        free(body);
    }
    ldg_txn_abort(t);
    return a.s;
}

static uint64_t
records(struct ldg_ledger *l, const char *db)
{
    struct ldg_txn *t;
    ldg_dbi dbi;
    uint64_t n = 0;
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_db_open(t, db, 0, &dbi), 0);
    assert_int_equal(ldg_db_count(t, dbi, &n), 0);
    ldg_txn_abort(t);
    return n;
}

/* Every pair of ix.body (key, seq), in its order, and their count. */
static char *
bix_pairs(struct ldg_ledger *l, uint64_t *count)
{
    struct answers a = {0};
    struct ldg_txn *t;
    struct ldg_cursor *c;
    struct ldg_val k, v;
    ldg_dbi dbi;
    int rc;

    *count = 0;
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_db_open(t, "ix.body", 0, &dbi), 0);
    assert_int_equal(ldg_cursor_open(t, dbi, &c), 0);
    for (rc = ldg_cursor_get(c, LDG_FIRST, NULL, 0, &k, &v); rc == 0;
         rc = ldg_cursor_get(c, LDG_NEXT, NULL, 0, &k, &v)) {
        assert_int_equal(v.len, 8);
        say(&a, "\n%.*s %llu", (int)k.len, (const char *)k.data,
            (unsigned long long)ldg_rd_be64(v.data));
        (*count)++;
    }
    assert_int_equal(rc, LDG_ENOTFOUND);
    ldg_cursor_close(c);
    ldg_txn_abort(t);
    return a.s ? a.s : strdup("");
}

/* Migrate makes ix.body as it copies the bodies: current when layout 5
 * is written, and pair for pair what a build of it from the bodies
 * makes. */
static void
bix_as_built(struct ldg_ledger *l)
{
    struct ldg_txn *t;
    uint64_t n1, n2;
    char *p1, *p2;

    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_bix_current(t), 1);
    ldg_txn_abort(t);
    p1 = bix_pairs(l, &n1);
    if (n1 < 18) /* the image's bodies: status, tier, ... */
        fail_msg("ix.body holds %llu pairs", (unsigned long long)n1);
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_WRITE, &t), 0);
    assert_int_equal(ldg_bix_build(t), 0);
    assert_int_equal(ldg_txn_commit(t), 0);
    p2 = bix_pairs(l, &n2);
    assert_int_equal(n1, n2);
    same_answers(p1, p2);
    free(p1);
    free(p2);
}

/* Layout 4 to 5: the log copied into entries5 and bodies5, the old
 * databases emptied, ix.body made; every event, leaf, body, index
 * answer, checkpoint and proof the same; appends go on. */
static void
test_layout__migrate_to_5_keeps_every_answer(void **state)
{
    (void)state;
    struct fx *f = fx_new(4, 600);
    struct ldg_migrate_result r;
    struct ldg_txn *t;
    char *ev1 = event_answers(f->l), *ix1 = index_answers(f->l), *ev2, *ix2;
    char *ck1 = NULL, *ck2 = NULL, *pr1 = NULL, *pr2 = NULL;

    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_checkpoint_get(t, 0, &ck1), 0);
    assert_int_equal(ldg_proof_text(t, 300, 0, &pr1), 0);
    ldg_txn_abort(t);
    assert_int_equal(ldg_migrate(f->l, 0, NULL, NULL, &r), 0);
    assert_int_equal(r.from, 4);
    assert_int_equal(r.to, LDG_LAYOUT_NEWEST);
    assert_int_equal(r.entries_stored, 600);
    assert_int_equal(layout_of(f->l), LDG_LAYOUT_NEWEST);
    assert_int_equal(records(f->l, "entries"), 0);
    assert_int_equal(records(f->l, "bodies"), 0);
    assert_int_equal(records(f->l, "entries5"), 600);
    assert_int_equal(records(f->l, "bodies5"), 600);
    assert_int_equal(r.body_index_built, 1);
    bix_as_built(f->l);
    ev2 = event_answers(f->l);
    ix2 = index_answers(f->l);
    same_answers(ev1, ev2);
    same_answers(ix1, ix2);
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_checkpoint_get(t, 0, &ck2), 0);
    assert_int_equal(ldg_proof_text(t, 300, 0, &pr2), 0);
    ldg_txn_abort(t);
    assert_string_equal(ck1, ck2);
    assert_string_equal(pr1, pr2);
    check_tree(f);
    verify_ok(f->l);
    /* again: nothing to convert */
    assert_int_equal(ldg_migrate(f->l, 0, NULL, NULL, &r), 0);
    assert_int_equal(r.from, LDG_LAYOUT_NEWEST);
    assert_int_equal(r.to, LDG_LAYOUT_NEWEST);
    t_append_many(f->l, 300);
    check_tree(f);
    verify_ok(f->l);
    free(ev1);
    free(ev2);
    free(ix1);
    free(ix2);
    free(ck1);
    free(ck2);
    free(pr1);
    free(pr2);
    fx_free(f);
}

/* Every record of every database, in order (meta's "layout" left out;
 * whole: an entries5 record as the whole entry it makes, prev zero, so
 * that a record given its claim digest is the same). */
static char *
all_records_as(struct ldg_ledger *l, int whole)
{
    struct answers a = {0};
    struct ldg_txn *t;
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    for (int d = 0; d < LDG_CORE_DBS; d++) {
        struct ldg_cursor *c;
        struct ldg_val k, v;
        ldg_dbi dbi;
        int rc;
        if (ldg_db_open(t, ldg_core_db_names[d], 0, &dbi) != 0)
            continue;
        assert_int_equal(ldg_cursor_open(t, dbi, &c), 0);
        for (rc = ldg_cursor_get(c, LDG_FIRST, NULL, 0, &k, &v); rc == 0;
             rc = ldg_cursor_get(c, LDG_NEXT, NULL, 0, &k, &v)) {
            char kh[1024], vh[65];
            uint8_t h[32];
            if (d == LDG_DB_META && k.len == 6 && !memcmp(k.data, "layout", 6))
                continue;
            assert_true(k.len < 512);
            ldg_hex(kh, k.data, k.len);
            if (whole && d == LDG_DB_ENTRIES5) {
                static const uint8_t zero[32];
                static uint8_t w[LDG_ENTRY_MAX];
                size_t n;
                assert_int_equal(
                    ldg_entry_whole(v.data, v.len, zero, w, sizeof w, &n), 0);
                v.data = w;
                v.len = n;
            }
            ldg_sha256(h, v.data, v.len); /* a tile is 8 KiB */
            ldg_hex(vh, h, 32);
            say(&a, "\n%s %s %s %zu", ldg_core_db_names[d], kh, vh, v.len);
        }
        assert_int_equal(rc, LDG_ENOTFOUND);
        ldg_cursor_close(c);
    }
    ldg_txn_abort(t);
    return a.s;
}

static char *
all_records(struct ldg_ledger *l)
{
    return all_records_as(l, 0);
}

/* Layout 5 to 6: the layout record and nothing else; appends refused
 * before and after (naming migrate: a build appends to layout 8 only),
 * and seeded by AES after migrating on, the old bodies read as they
 * were. */
static void
test_layout__migrate_5_to_6_rewrites_the_layout_record_only(void **state)
{
    (void)state;
    struct fx *f = fx_new(5, 600);
    struct ldg_migrate_result r;
    char *rec1, *rec2, *ev1, *ev2, err[1024];
    uint64_t s;

    assert_int_equal(layout_of(f->l), 5);
    assert_int_equal(ldg_check_writable(f->l), LDG_EVERSION);
    snprintf(err, sizeof err, "%s", ldg_errmsg(f->l));
    if (strstr(err, "is at store layout 5, an earlier build's: this build "
                    "reads and appends to layout 9 only, and `ledger migrate` "
                    "converts it in place (run `ledger --dir ") == NULL)
        fail_msg("%s", err);
    verify_ok(f->l);
    /* --layout 5 is where it is: nothing to convert (the image predates
     * the body index, which migrate builds at layout 5 as before) */
    assert_int_equal(ldg_migrate(f->l, 5, NULL, NULL, &r), 0);
    assert_int_equal(r.to, 5);
    assert_int_equal(r.body_index_built, 1);
    assert_int_equal(layout_of(f->l), 5);
    rec1 = all_records(f->l);
    ev1 = event_answers(f->l);
    assert_int_equal(ldg_migrate(f->l, 6, NULL, NULL, &r), 0);
    assert_int_equal(r.from, 5);
    assert_int_equal(r.to, 6);
    assert_int_equal(r.entries_stored, 0);
    assert_int_equal(r.body_index_built, 0);
    assert_int_equal(layout_of(f->l), 6);
    rec2 = all_records(f->l);
    same_answers(rec1, rec2);
    ev2 = event_answers(f->l);
    same_answers(ev1, ev2);
    verify_ok(f->l);
    /* no way back */
    assert_int_equal(ldg_migrate(f->l, 5, NULL, NULL, &r), LDG_EINVAL);
    assert_int_equal(ldg_check_writable(f->l), LDG_EVERSION);
    assert_non_null(strstr(ldg_errmsg(f->l),
                           "is at store layout 6, an earlier build's: this "
                           "build reads and appends to layout 9 only"));
    assert_int_equal(ldg_migrate(f->l, 0, NULL, NULL, &r), 0);
    assert_int_equal(r.from, 6);
    assert_int_equal(r.to, 9);
    assert_int_equal(ldg_check_writable(f->l), 0);
    s = t_append(f->l, "x.layout6", "{\"a\":\"one\",\"b\":2}", NULL);
    {
        uint8_t rec[256];
        size_t n = t_raw_stored_get(f->l, "bodies", s, rec, sizeof rec);
        assert_true(n > 1 + LDG_SEED_LEN);
        assert_int_equal(rec[0], LDG_BODY_SEEDED_AES);
    }
    check_tree(f);
    verify_ok(f->l);
    free(rec1);
    free(rec2);
    free(ev1);
    free(ev2);
    fx_free(f);
}

/* Layout 4 with --layout 5 stops at 5 (the one a build before layout 6
 * made), which verifies and takes no append until migrated on. */
static void
test_layout__migrate_4_to_5_stops_there(void **state)
{
    (void)state;
    struct fx *f = fx_new(4, 600);
    struct ldg_migrate_result r;
    assert_int_equal(ldg_migrate(f->l, 5, NULL, NULL, &r), 0);
    assert_int_equal(r.from, 4);
    assert_int_equal(r.to, 5);
    assert_int_equal(layout_of(f->l), 5);
    verify_ok(f->l);
    assert_int_equal(ldg_check_writable(f->l), LDG_EVERSION);
    assert_int_equal(ldg_migrate(f->l, 0, NULL, NULL, &r), 0);
    assert_int_equal(r.to, 9);
    assert_int_equal(ldg_check_writable(f->l), 0);
    verify_ok(f->l);
    fx_free(f);
}

/* The form (enum ldg_stored_form) of event seq's stored record. */
static int
stored_form(struct ldg_ledger *l, uint64_t seq)
{
    uint8_t rec[LDG_ENTRY_MAX];
    size_t n = t_raw_stored_get(l, "entries", seq, rec, sizeof rec), m;
    int sealed;
    if (n > 33 && rec[0] == 0x01)
        return LDG_STORED_TAGGED;
    assert_int_equal(ldg_entry_stored_parts(rec, n, &m, &sealed), 0);
    assert_true(sealed);
    return ldg_entry_stored_digest(rec, n, m) ? LDG_STORED_STAMP
                                              : LDG_STORED_CUT;
}

/* Layout 6 to 7 (the image a layout 6 build made, 600 events whose
 * entries5 records leave the claim digest out), then 7 to 8: the layout
 * record and the entries' records, each given its claim digest (in its
 * stamp, then raw before the record), the whole entries the same bytes,
 * nothing else; layout 7 takes no append (8 is the newest), the records
 * read with their digests stored, as an append after keeps its own, and
 * a migrate back is refused. */
static void
test_layout__migrate_6_to_7_to_8_gives_the_entries_their_digests(void **state)
{
    (void)state;
    struct fx *f = fx_new(6, 600);
    struct ldg_migrate_result r;
    char *rec1, *rec2, *ev1, *ev2;
    uint64_t s;

    assert_int_equal(layout_of(f->l), 6);
    assert_int_equal(ldg_check_writable(f->l), LDG_EVERSION);
    assert_non_null(strstr(ldg_errmsg(f->l),
                           "is at store layout 6, an earlier build's: this "
                           "build reads and appends to layout 9 only"));
    verify_ok(f->l);
    /* --layout 6 is where it is: nothing to convert */
    assert_int_equal(ldg_migrate(f->l, 6, NULL, NULL, &r), 0);
    assert_int_equal(r.to, 6);
    assert_int_equal(stored_form(f->l, 1), LDG_STORED_CUT);
    rec1 = all_records_as(f->l, 1);
    ev1 = event_answers(f->l);
    assert_int_equal(ldg_migrate(f->l, 7, NULL, NULL, &r), 0);
    assert_int_equal(r.from, 6);
    assert_int_equal(r.to, 7);
    assert_int_equal(r.entries_stored, 0);
    assert_int_equal(r.entries_digested, 600);
    assert_int_equal(r.body_index_built, 0);
    assert_int_equal(layout_of(f->l), 7);
    assert_int_equal(stored_form(f->l, 1), LDG_STORED_STAMP);
    rec2 = all_records_as(f->l, 1);
    same_answers(rec1, rec2);
    free(rec2);
    ev2 = event_answers(f->l);
    same_answers(ev1, ev2);
    free(ev2);
    verify_ok(f->l);
    assert_int_equal(ldg_check_writable(f->l), LDG_EVERSION);
    assert_non_null(strstr(ldg_errmsg(f->l),
                           "is at store layout 7, an earlier build's: this "
                           "build reads and appends to layout 9 only"));
    assert_int_equal(ldg_migrate(f->l, LDG_LAYOUT_TAGGED, NULL, NULL, &r), 0);
    assert_int_equal(r.from, 7);
    assert_int_equal(r.to, 8);
    assert_int_equal(r.entries_digested, 600);
    assert_int_equal(layout_of(f->l), 8);
    assert_int_equal(stored_form(f->l, 1), LDG_STORED_TAGGED);
    rec2 = all_records_as(f->l, 1);
    same_answers(rec1, rec2);
    ev2 = event_answers(f->l);
    same_answers(ev1, ev2);
    verify_ok(f->l);
    assert_int_equal(ldg_migrate(f->l, 7, NULL, NULL, &r), LDG_EINVAL);
    assert_int_equal(ldg_check_writable(f->l), 0);
    s = t_append(f->l, "x.layout8", "{\"a\":\"one\"}", NULL);
    assert_int_equal(s, 600);
    assert_int_equal(stored_form(f->l, s), LDG_STORED_TAGGED);
    assert_int_equal(stored_form(f->l, s - 1), LDG_STORED_TAGGED);
    {
        struct ldg_event ev;
        struct ldg_txn *t;
        uint8_t d[32];
        assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_READ, &t), 0);
        for (uint64_t q = s - 1; q <= s; q++) {
            assert_int_equal(ldg_event_get(t, q, &ev), 0);
            assert_int_equal(ev.digest_derived, 0);
            ldg_claim_digest(d, ev.signed_part, ev.signed_len);
            assert_memory_equal(d, ev.digest, 32);
        }
        ldg_txn_abort(t);
    }
    check_tree(f);
    verify_ok(f->l);
    free(rec1);
    free(rec2);
    free(ev1);
    free(ev2);
    fx_free(f);
}

/* What a stopped copy left in entries5, bodies5 and ix.body is read by
 * no one in layout 4 (verify passes) and dropped by the next run. */
static void
test_layout__a_stopped_copy_is_ignored_then_replaced(void **state)
{
    (void)state;
    struct fx *f = fx_new(4, 600);
    struct ldg_migrate_result r;
    struct ldg_txn *t;
    ldg_dbi dbi;
    uint8_t k[8];
    char *before, *after;
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_WRITE, &t), 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(ldg_db_open(t, i ? "bodies5" : "entries5", 0, &dbi),
                         0);
        for (uint64_t s = 0; s < 700; s += 7) {
            ldg_be64(k, s);
            assert_int_equal(ldg_core_kv_put(t, dbi, k, 8, "junk", 4), 0);
        }
    }
    assert_int_equal(ldg_db_open(t, "ix.body", 0, &dbi), 0);
    for (uint64_t s = 0; s < 700; s += 7) {
        ldg_be64(k, s);
        assert_int_equal(ldg_core_kv_put_dup(t, dbi, "status\0ok", 9, k, 8), 0);
    }
    assert_int_equal(ldg_txn_commit(t), 0);
    verify_ok(f->l);
    before = event_answers(f->l);
    assert_int_equal(ldg_migrate(f->l, 0, NULL, NULL, &r), 0);
    assert_int_equal(layout_of(f->l), LDG_LAYOUT_NEWEST);
    assert_int_equal(records(f->l, "entries5"), 600);
    bix_as_built(f->l);
    verify_ok(f->l);
    after = event_answers(f->l);
    same_answers(before, after);
    free(before);
    free(after);
    fx_free(f);
}

/* An entry whose prev is not the stored leaf of the event before: the
 * stored form would take the tree's, hiding it; migrate refuses and
 * leaves layout 4 as it was. */
static void
test_layout__migrate_to_5_refuses_a_broken_chain(void **state)
{
    (void)state;
    struct fx *f = fx_new(4, 600);
    struct ldg_migrate_result r;
    uint8_t buf[LDG_ENTRY_MAX];
    size_t n = t_raw_get(f->l, "entries", 333, buf, sizeof buf);
    buf[n - 1] ^= 1; /* the last byte of prev */
    t_raw_put(f->l, "entries", 333, buf, n);
    assert_int_equal(ldg_migrate(f->l, 0, NULL, NULL, &r), LDG_ETAMPER);
    assert_non_null(strstr(ldg_errmsg(f->l), "the store does not verify at "
                                             "layout 4 (event 333"));
    assert_int_equal(layout_of(f->l), 4);
    assert_int_equal(records(f->l, "entries"), 600);
    fx_free(f);
}

/* The layout module answers for every layout: what each has, in a
 * chain (each has what the one before had), and what the program asks
 * of a number with no ledger open. */
static void
test_layout__the_module_knows_each_layout(void **state)
{
    static const unsigned feat[] = {
        LDG_HAS_TILES,  LDG_HAS_DUPS,  LDG_HAS_SPLIT, LDG_HAS_STORED, 0,
        LDG_HAS_DIGEST, LDG_HAS_APPEND};
    unsigned want = 0;
    const char *what = NULL;
    char err[300];
    (void)state;
    for (int n = LDG_LAYOUT_MIN; n < LDG_LAYOUT_INTAKE; n++) {
        unsigned f = ldg_layout_info(n, &what);
        /* an earlier build's: migrate converts it; nothing else reads it */
        assert_int_equal(f, LDG_LAYOUT_MIGRATES);
        assert_false(ldg_layout_current(n));
        assert_string_equal(what, ldg_layout_what(n));
        assert_true(ldg_layout_has(n, want));
        if (n >= 2 && feat[n - 2] != 0) {
            assert_false(ldg_layout_has(n - 1, feat[n - 2]));
            assert_true(ldg_layout_has(n, feat[n - 2]));
        }
        want |= n >= 2 ? feat[n - 2] : 0;
        want &= ~(unsigned)LDG_HAS_APPEND; /* (8, for the tests, and 9) */
    }
    assert_int_equal(ldg_layout_info(0, NULL),
                     ldg_layout_info(LDG_LAYOUT_NEWEST, NULL));
    assert_int_equal(ldg_layout_info(LDG_LAYOUT_INTAKE, NULL),
                     LDG_LAYOUT_READS | LDG_LAYOUT_MAKES | LDG_LAYOUT_EPOCHS);
    assert_true(ldg_layout_current(LDG_LAYOUT_INTAKE));
    assert_int_equal(LDG_LAYOUT_INTAKE, LDG_LAYOUT_NEWEST);
    assert_true(
        ldg_layout_has(LDG_LAYOUT_INTAKE, LDG_HAS_INTAKE | LDG_HAS_TREE_PRUNE |
                                              LDG_HAS_EPOCHS | LDG_HAS_APPEND));
    assert_int_equal(ldg_layout_default(), LDG_LAYOUT_NEWEST);
    assert_int_equal(ldg_layout_with(LDG_HAS_EPOCHS), LDG_LAYOUT_INTAKE);
    assert_int_equal(ldg_layout_with(LDG_HAS_DUPS), LDG_LAYOUT_INTAKE);
    for (int n = -1; n <= 1000; n += n == 0 ? 10 : 1) {
        if (n == 0)
            continue;
        assert_int_equal(ldg_layout_info(n, &what), 0);
        assert_string_equal(what, "unknown to this build");
        assert_false(ldg_layout_has(n, 0));
    }
    assert_int_equal(ldg_layout_to_make(0, 0, err, sizeof err),
                     LDG_LAYOUT_NEWEST);
    assert_int_equal(ldg_layout_to_make(LDG_LAYOUT_INTAKE, 0, err, sizeof err),
                     LDG_LAYOUT_INTAKE);
    /* 8 only for the core's tests (LDG_ANY_LAYOUT), never to a caller */
    assert_int_equal(ldg_layout_to_make(LDG_LAYOUT_TAGGED, 0, err, sizeof err),
                     LDG_EINVAL);
    assert_non_null(strstr(err, "store layout 8: this build makes layout 9 "
                                "ledgers only (ledger migrate converts"));
    assert_int_equal(ldg_layout_to_make(LDG_LAYOUT_TAGGED, 1, err, sizeof err),
                     LDG_LAYOUT_TAGGED);
    assert_int_equal(ldg_layout_to_make(7, 1, err, sizeof err), LDG_EINVAL);
    assert_non_null(strstr(err, "store layout 7: this build makes layout 9"));
    assert_int_equal(ldg_layout_to_make(999, 0, err, sizeof err), LDG_EINVAL);
    assert_non_null(strstr(err, "store layout 999: this build makes layout 9"));
}

/* A 1.0 build reads one layout: an earlier build's store is refused by
 * every open but ledger migrate's (LDG_MIGRATE), whose handle does
 * nothing else until ldg_migrate has brought it to the newest. */
static void
test_layout__only_migrate_opens_an_earlier_layout(void **state)
{
    static const unsigned flags[] = {0, LDG_RDONLY, LDG_KEEP_TAIL};
    struct fx *f = fx_new(7, 600);
    struct ldg_ledger *l = NULL;
    struct ldg_options o;
    struct ldg_migrate_result r;
    struct ldg_stats st;
    uint64_t size = 0, seq = 0;
    char err[1024], want[1024];
    (void)state;

    ldg_close(f->l);
    f->l = NULL;
    snprintf(want, sizeof want,
             "%s is at store layout 7, an earlier build's: this build reads "
             "and appends to layout 9 only, and `ledger migrate` converts it "
             "in place (run `ledger --dir %s migrate`",
             f->dir, f->dir);
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        memset(&o, 0, sizeof o);
        o.flags = flags[i];
        err[0] = '\0';
        assert_int_equal(ldg_open(&l, f->dir, &o, err, sizeof err),
                         LDG_EVERSION);
        assert_null(l);
        if (strstr(err, want) == NULL)
            fail_msg("flags %u: %s", flags[i], err);
    }
    memset(&o, 0, sizeof o);
    o.flags = LDG_MIGRATE | LDG_NOSYNC;
    assert_int_equal(ldg_open(&l, f->dir, &o, err, sizeof err), 0);
    /* nothing but the migrate: no read, no append, no verify */
    assert_int_equal(ldg_size(l, &size), LDG_EVERSION);
    assert_non_null(strstr(ldg_errmsg(l), want));
    assert_int_equal(ldg_stats(l, &st), LDG_EVERSION);
    assert_int_equal(ldg_check_writable(l), LDG_EVERSION);
    assert_int_equal(ldg_verify(l, LDG_VERIFY_FULL | LDG_VERIFY_NOSAVE, 0,
                                &(struct ldg_verify_report){0}, NULL, NULL),
                     LDG_EVERSION);
    /* to the newest only: not to 8, the layout the one before 1.0 made */
    assert_int_equal(ldg_migrate(l, LDG_LAYOUT_TAGGED, NULL, NULL, &r),
                     LDG_EINVAL);
    assert_non_null(strstr(ldg_errmsg(l), "layout 8: not a store layout "
                                          "this build converts to"));
    assert_int_equal(ldg_size(l, &size), LDG_EVERSION);
    assert_int_equal(ldg_migrate(l, 0, NULL, NULL, &r), 0);
    assert_int_equal(r.from, 7);
    assert_int_equal(r.to, LDG_LAYOUT_NEWEST);
    /* then the handle is any other */
    assert_int_equal(ldg_size(l, &size), 0);
    assert_int_equal(size, 600);
    verify_ok(l);
    assert_int_equal(ldg_check_writable(l), 0);
    seq = t_append(l, "x.after.migrate", "{\"a\":1}", NULL);
    assert_int_equal(seq, 600);
    ldg_close(l);
    /* and every open takes it; LDG_MIGRATE at the newest changes nothing */
    assert_int_equal(ldg_open(&l, f->dir, NULL, err, sizeof err), 0);
    assert_int_equal(layout_of(l), LDG_LAYOUT_NEWEST);
    ldg_close(l);
    o.flags = LDG_MIGRATE | LDG_RDONLY;
    assert_int_equal(ldg_open(&l, f->dir, &o, err, sizeof err), 0);
    assert_int_equal(ldg_size(l, &size), 0);
    assert_int_equal(size, 601);
    assert_int_equal(ldg_migrate(l, LDG_LAYOUT_NEWEST, NULL, NULL, &r), 0);
    assert_int_equal(r.from, r.to);
    f->l = l;
    fx_free(f);
    /* and no caller makes an earlier layout */
    {
        char dir[512];
        const char *tmp = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/ldgold.XXXXXX", tmp ? tmp : "/tmp");
        assert_non_null(mkdtemp(dir));
        memset(&o, 0, sizeof o);
        o.layout = LDG_LAYOUT_TAGGED;
        assert_int_equal(ldg_init(dir, NULL, &o, err, sizeof err), LDG_EINVAL);
        assert_non_null(strstr(err, "store layout 8: this build makes layout 9 "
                                    "ledgers only"));
        assert_int_equal(access(strcat(dir, "/data.mdb"), F_OK), -1);
        dir[strlen(dir) - strlen("/data.mdb")] = '\0';
        t_rmrf(dir);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout__only_migrate_opens_an_earlier_layout),
        cmocka_unit_test(test_layout__tiles_give_rfc6962_roots_and_proofs),
        cmocka_unit_test(test_layout__layout_1_is_still_read),
        cmocka_unit_test(test_layout__migrate_keeps_every_root_and_proof),
        cmocka_unit_test(test_layout__an_older_handle_follows_the_migration),
        cmocka_unit_test(test_layout__migrate_refuses_a_wrong_stored_hash),
        cmocka_unit_test(
            test_layout__verify_names_the_event_of_a_wrong_tile_hash),
        cmocka_unit_test(
            test_layout__an_unknown_or_damaged_layout_record_is_refused),
        cmocka_unit_test(test_layout__a_proof_from_a_damaged_tree_is_refused),
        cmocka_unit_test(test_layout__every_database_has_its_class),
        cmocka_unit_test(test_layout__layout_4_keeps_a_tiles_last_hash_apart),
        cmocka_unit_test(
            test_layout__a_stopped_split_reads_and_migrate_finishes_it),
        cmocka_unit_test(
            test_layout__a_split_tile_without_its_last_hash_is_named),
        cmocka_unit_test(test_layout__indexes_answer_the_same_in_layout_3),
        cmocka_unit_test(test_layout__layout_1_migrates_to_3_in_one_run),
        cmocka_unit_test(test_layout__migrate_refuses_a_malformed_index_key),
        cmocka_unit_test(
            test_layout__a_half_copied_index_is_ignored_then_replaced),
        cmocka_unit_test(test_layout__migrate_to_5_keeps_every_answer),
        cmocka_unit_test(test_layout__a_stopped_copy_is_ignored_then_replaced),
        cmocka_unit_test(
            test_layout__migrate_5_to_6_rewrites_the_layout_record_only),
        cmocka_unit_test(test_layout__migrate_4_to_5_stops_there),
        cmocka_unit_test(
            test_layout__migrate_6_to_7_to_8_gives_the_entries_their_digests),
        cmocka_unit_test(test_layout__migrate_to_5_refuses_a_broken_chain),
        cmocka_unit_test(test_layout__the_module_knows_each_layout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
