/*
 * test_verify_seals.c — ledger/verify_seals.c: format 2 entries and their
 * seals: as designed, and every way of altering a stamp, a seal record,
 * a seal's span or its signer is named.
 */
#include "tests/ledger/verify_fx.h"

/*
 * The seals fixture: a format 2 ledger with keys alice (roles "run") and
 * bob (any actor type), then one batch commit 3..10 interleaving them and
 * the log key, so seals of several events sit side by side:
 *
 *   3 alice  4 bob  5 alice  6 bob  7 log  8 alice  9 bob  10 alice
 *   alice's seal at 3 (leaves 3 5 8 10), bob's at 4 (4 6 9), log's at 7
 *
 * then single appends 11 (alice), 12 (bob), 13 (log).
 */
static const char STEP[] = "{\"run\":\"R-1\",\"step\":\"s\",\"tool\":\"t\","
                           "\"status\":\"ok\",\"duration_ms\":1}";

static void
batch_add(struct ldg_batch *b, const char *actor)
{
    struct ldg_event_in in;
    json_t *body = json_loads(STEP, 0, NULL);
    memset(&in, 0, sizeof in);
    in.type = "run.step";
    in.actor = actor;
    in.body = body;
    assert_int_equal(ldg_batch_add(b, &in), 0);
    json_decref(body);
}

static int
setup_seals(void **state)
{
    static const char *const who[] = {"alice", "bob",   "alice", "bob",
                                      NULL,    "alice", "bob",   "alice"};
    struct fx *f = calloc(1, sizeof *f);
    struct ldg_batch *b;
    uint64_t first, n;

    f->l = t_ledger_new_format(f->dir, sizeof f->dir, 0, 2);
    assert_int_equal(ldg_keys_add(f->l, "alice", "run", NULL), 0); /* 1 */
    assert_int_equal(ldg_keys_add(f->l, "bob", NULL, NULL), 0);    /* 2 */
    assert_int_equal(ldg_batch_begin(&b, f->l), 0);
    for (size_t i = 0; i < sizeof who / sizeof who[0]; i++)
        batch_add(b, who[i]);
    assert_int_equal(ldg_batch_commit(b, &first, &n), 0);
    ldg_batch_free(b);
    assert_int_equal(first, 3);
    assert_int_equal(n, 8);
    t_append(f->l, "run.step", STEP, "alice"); /* 11 */
    t_append(f->l, "run.step", STEP, "bob");   /* 12 */
    t_append(f->l, "run.step", STEP, NULL);    /* 13 */
    *state = f;
    return 0;
}

static struct ldg_event
get_event(struct fx *f, uint64_t seq)
{
    static uint8_t buf[LDG_ENTRY_MAX];
    struct ldg_event ev;
    size_t n = t_raw_get(f->l, "entries", seq, buf, sizeof buf);
    assert_int_equal(ldg_event_decode(buf, n, &ev), 0);
    return ev;
}

static void
test_verify__seals_are_as_designed(void **state)
{
    struct fx *f = *state;
    static const uint64_t seal[] = {3, 4, 3, 4, 7, 3, 4, 3};
    static const uint64_t leaf[] = {0, 0, 1, 1, 0, 2, 2, 3};
    struct ldg_txn *t;
    struct ldg_seal s;
    struct ldg_seal_proof pr;
    struct ldg_verify_report r;
    struct ldg_keyinfo *ks;
    size_t nk;

    for (uint64_t q = 3; q <= 10; q++) {
        struct ldg_event ev = get_event(f, q);
        assert_true(ev.sealed);
        assert_int_equal(ev.seal_seq, seal[q - 3]);
        assert_int_equal(ev.seal_leaf, leaf[q - 3]);
    }
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_seal_get(t, 3, &s), 0);
    assert_int_equal(s.count, 4);
    assert_int_equal(s.first, 0);
    assert_int_equal(ldg_seal_get(t, 5, &s), LDG_ENOTFOUND);
    assert_int_equal(ldg_seal_get(t, 11, &s), 0);
    assert_int_equal(s.count, 1);
    assert_int_equal(s.first, 4); /* alice's fifth event */
    /* the attribution proof of event 8 (alice's leaf 2 of 4) */
    assert_int_equal(ldg_seal_proof(t, 8, &pr), 0);
    assert_int_equal(pr.seal_seq, 3);
    assert_int_equal(pr.leaf, 2);
    assert_int_equal(pr.seal.count, 4);
    assert_int_equal(ldg_seal_verify_inclusion(
                         pr.digest, pr.leaf, pr.seal.count,
                         (const uint8_t(*)[32])pr.path, pr.n, pr.seal.root),
                     0);
    {
        struct ldg_keyinfo ki;
        assert_int_equal(ldg_key_info(t, pr.seal.key_id, &ki), 0);
        assert_string_equal(ki.name, "alice");
        assert_int_equal(ldg_seal_verify(&pr.seal, ki.pub), 0);
    }
    ldg_txn_abort(t);
    assert_int_equal(ldg_keys_list(f->l, &ks, &nk), 0);
    for (size_t i = 0; i < nk; i++) {
        if (strcmp(ks[i].name, "alice") == 0)
            assert_int_equal(ks[i].sealed, 5);
        if (strcmp(ks[i].name, "bob") == 0)
            assert_int_equal(ks[i].sealed, 4);
    }
    free(ks);
    assert_int_equal(ldg_verify(f->l, LDG_VERIFY_FULL | LDG_VERIFY_NOSAVE, 0,
                                &r, NULL, NULL),
                     0);
}

/* Rewrites event q's claim with actor key_id (its digest recomputed, the
 * stamp kept but for the digest, and seal/leaf when given >= 0). */
static void
rewrite_claim(struct fx *f, uint64_t q, const char *key_id, int64_t seal,
              int64_t leaf, uint8_t digest_out[32])
{
    struct ldg_event ev = get_event(f, q);
    struct ldg_claim c;
    struct ldg_stamp st;
    uint8_t claim[LDG_ENTRY_MAX], entry[LDG_ENTRY_MAX];
    size_t cn, en;

    assert_false(ev.has_source);
    assert_int_equal(ldg_claim_decode(ev.signed_part, ev.signed_len, &c), 0);
    memcpy(c.actor, key_id, LDG_KEYID_LEN + 1);
    assert_int_equal(ldg_claim_encode(&c, claim, sizeof claim, &cn), 0);
    memset(&st, 0, sizeof st);
    ldg_claim_digest(st.digest, claim, cn);
    st.leaf = leaf >= 0 ? (uint64_t)leaf : ev.seal_leaf;
    st.seal = seal >= 0 ? (uint64_t)seal : ev.seal_seq;
    st.seq = ev.seq;
    st.ts = ev.ts_ns;
    assert_int_equal(
        ldg_entry2_encode(entry, sizeof entry, &en, claim, cn, &st, ev.prev),
        0);
    t_raw_put(f->l, "entries", q, entry, en);
    if (digest_out != NULL)
        memcpy(digest_out, st.digest, 32);
}

/* Replaces the seal record at seal_seq by one for (count, first, root)
 * signed by k. */
static void
put_seal(struct fx *f, uint64_t seal_seq, const struct ldg_key *k,
         uint64_t count, uint64_t first, const uint8_t root[32])
{
    struct ldg_seal s;
    uint8_t rec[LDG_SEAL_REC_MAX];
    size_t n;
    memset(&s, 0, sizeof s);
    s.count = count;
    s.first = first;
    memcpy(s.key_id, k->key_id, sizeof s.key_id);
    snprintf(s.origin, sizeof s.origin, "%s", ldg_origin(f->l));
    memcpy(s.root, root, 32);
    assert_int_equal(ldg_seal_sign(&s, k), 0);
    assert_int_equal(ldg_seal_record_encode(&s, rec, sizeof rec, &n), 0);
    t_raw_put(f->l, "seals", seal_seq, rec, n);
}

static void
set_sealed_count(struct fx *f, const char *key_id, uint64_t n)
{
    struct ldg_txn *t;
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_WRITE, &t), 0);
    assert_int_equal(ldg_keys_sealed_put(t, key_id, n), 0);
    assert_int_equal(ldg_txn_commit(t), 0);
}

static void
test_verify__seals_detect_flipped_stamp_and_prev(void **state)
{
    struct fx *f = *state;
    uint8_t buf[LDG_ENTRY_MAX];
    size_t n = t_raw_get(f->l, "entries", 6, buf, sizeof buf);
    /* the stamp's last byte: the ts value */
    buf[n - 35] ^= 0x01;
    t_raw_put(f->l, "entries", 6, buf, n);
    expect_bad(f, LDG_VERIFY_FULL, 6, "event 6");
    buf[n - 35] ^= 0x01;
    buf[n - 1] ^= 0x80; /* prev */
    t_raw_put(f->l, "entries", 6, buf, n);
    expect_bad(f, LDG_VERIFY_FULL, 6, "hash chain broken");
}

static void
test_verify__seals_detect_flipped_seal_record(void **state)
{
    struct fx *f = *state;
    uint8_t buf[LDG_SEAL_REC_MAX];
    size_t n = t_raw_get(f->l, "seals", 4, buf, sizeof buf);
    buf[n - 66 - 3] ^= 0x04; /* in the root */
    t_raw_put(f->l, "seals", 4, buf, n);
    expect_bad(f, LDG_VERIFY_FULL, 4, "root it signed");
    buf[n - 66 - 3] ^= 0x04;
    buf[n - 10] ^= 0x01; /* in the signature */
    t_raw_put(f->l, "seals", 4, buf, n);
    expect_bad(f, LDG_VERIFY_FULL, 4, "signature does not verify with key");
    buf[n - 10] ^= 0x01;
    buf[0] = 0x93; /* not a record */
    t_raw_put(f->l, "seals", 4, buf, n);
    expect_bad(f, 0, 4, "does not decode");
}

static void
test_verify__seals_detect_deleted_and_extra_seal(void **state)
{
    struct fx *f = *state;
    uint8_t buf[LDG_SEAL_REC_MAX];
    size_t n = t_raw_get(f->l, "seals", 7, buf, sizeof buf);
    t_raw_del(f->l, "seals", 7);
    expect_bad(f, LDG_VERIFY_FULL, 7, "seal deleted");
    t_raw_put(f->l, "seals", 7, buf, n);
    {
        struct ldg_verify_report r;
        assert_int_equal(ldg_verify(f->l, LDG_VERIFY_FULL | LDG_VERIFY_NOSAVE,
                                    0, &r, NULL, NULL),
                         0);
    }
}

static void
test_verify__seals_detect_extra_seal_record(void **state)
{
    struct fx *f = *state;
    uint8_t buf[LDG_SEAL_REC_MAX];
    size_t n = t_raw_get(f->l, "seals", 7, buf, sizeof buf);
    t_raw_put(f->l, "seals", 9, buf, n); /* 9 is leaf 2 of bob's seal */
    expect_bad(f, LDG_VERIFY_FULL, 9, "no entry opens");
}

/* Event 5 (alice's leaf 1) moved into bob's seal at 4: its claim names
 * bob, its stamp points at bob's seal, its digest is recomputed, bob's
 * later leaves renumbered, the chain, tree and checkpoints rebuilt with
 * the log key. Bob never sealed it: his seal at 4 fails. */
static void
test_verify__seals_detect_event_moved_into_another_actors_seal(void **state)
{
    struct fx *f = *state;
    struct ldg_event bob = get_event(f, 4);
    rewrite_claim(f, 5, bob.actor, 4, 1, NULL);
    rewrite_claim(f, 6, bob.actor, 4, 2, NULL);
    rewrite_claim(f, 9, bob.actor, 4, 3, NULL);
    rewrite_claim(f, 8, get_event(f, 3).actor, 3, 1, NULL);
    rewrite_claim(f, 10, get_event(f, 3).actor, 3, 2, NULL);
    rechain(f, 5);
    expect_bad(f, LDG_VERIFY_FULL, 4, "by key");
}

/* The simplest misattribution, an actor rewritten in place: the seal is
 * alice's, the claim now bob's. */

static void
test_verify__seals_detect_actor_rewritten_in_place(void **state)
{
    struct fx *f = *state;
    rewrite_claim(f, 8, get_event(f, 4).actor, -1, -1, NULL);
    rechain(f, 8);
    expect_bad(f, LDG_VERIFY_FULL, 8, "but its seal is by");
}

/* Event 13 (the log key's, alone in its seal) re-made as mallory's: a
 * seal signed by a key the log never added. */
static void
test_verify__seals_detect_forged_seal_by_unknown_key(void **state)
{
    struct fx *f = *state;
    struct ldg_key *m;
    uint8_t d[32], root[32];
    assert_int_equal(ldg_key_generate(&m, "mallory"), 0);
    rewrite_claim(f, 13, m->key_id, -1, -1, d);
    assert_int_equal(ldg_seal_root((const uint8_t(*)[32])d, 1, root), 0);
    put_seal(f, 13, m, 1, 0, root);
    rechain(f, 13);
    expect_bad(f, LDG_VERIFY_FULL, 13, "not added");
    ldg_key_free(m);
}

/* After alice is revoked, bob's event re-made as alice's with a seal her
 * (revoked) key signs, and the counts fixed up. */
static void
test_verify__seals_detect_seal_by_revoked_key(void **state)
{
    struct fx *f = *state;
    struct ldg_key *alice;
    uint64_t rseq, q, na = 0, nb = 0;
    uint8_t d[32], root[32];
    struct ldg_txn *t;
    struct ldg_event a = get_event(f, 3), b = get_event(f, 4);

    assert_int_equal(ldg_keys_load(f->l, "alice", &alice), 0);
    assert_int_equal(ldg_keys_revoke(f->l, "alice", "lost", &rseq), 0);
    q = t_append(f->l, "run.step", STEP, "bob");
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_key_sealed(t, a.actor, &na), 0);
    assert_int_equal(ldg_key_sealed(t, b.actor, &nb), 0);
    ldg_txn_abort(t);
    rewrite_claim(f, q, a.actor, -1, -1, d);
    assert_int_equal(ldg_seal_root((const uint8_t(*)[32])d, 1, root), 0);
    put_seal(f, q, alice, 1, na, root);
    set_sealed_count(f, a.actor, na + 1);
    set_sealed_count(f, b.actor, nb - 1);
    rechain(f, q);
    expect_bad(f, LDG_VERIFY_FULL, q, "revoked");
    ldg_key_free(alice);
}

/* alice's seal at 11 re-signed by alice with first one too high (as a
 * replayed or reordered seal would carry). */
static void
test_verify__seals_detect_wrong_first(void **state)
{
    struct fx *f = *state;
    struct ldg_key *alice;
    struct ldg_seal s;
    struct ldg_txn *t;
    assert_int_equal(ldg_keys_load(f->l, "alice", &alice), 0);
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_seal_get(t, 11, &s), 0);
    ldg_txn_abort(t);
    put_seal(f, 11, alice, 1, s.first + 1, s.root);
    expect_bad(f, LDG_VERIFY_FULL, 11, "first is 5");
    /* the signature holds: it is the count that is wrong */
    put_seal(f, 11, alice, 1, s.first, s.root);
    set_sealed_count(f, s.key_id, 7);
    expect_bad(f, LDG_VERIFY_FULL, 13, "counts 7 sealed events");
    ldg_key_free(alice);
}

/* A checkpoint signed (with the log key) at a size inside the batch's
 * seals: a seal may never straddle a checkpoint. */
static void
test_verify__seals_detect_checkpoint_inside_a_seal(void **state)
{
    struct fx *f = *state;
    struct ldg_txn *t;
    assert_int_equal(ldg_log_secret_load(f->l), 0);
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_WRITE, &t), 0);
    assert_int_equal(ldg_checkpoint_put(t, 6), 0);
    assert_int_equal(ldg_txn_commit(t), 0);
    expect_bad(f, LDG_VERIFY_FULL, 3, "straddles");
}

/* The tail cut inside a seal (the last batch's last event gone): the
 * checkpoints say so, with the newest checkpoint gone too. */
static void
test_verify__seals_detect_truncation_inside_a_seal(void **state)
{
    struct fx *f = *state;
    struct ldg_batch *b;
    uint64_t first, n;
    struct ldg_txn *t;
    ldg_dbi cks;
    uint8_t k[8];

    assert_int_equal(ldg_batch_begin(&b, f->l), 0);
    batch_add(b, "alice");
    batch_add(b, "alice");
    batch_add(b, "alice");
    assert_int_equal(ldg_batch_commit(b, &first, &n), 0);
    ldg_batch_free(b);
    t_raw_del(f->l, "entries", first + 2);
    t_raw_del(f->l, "bodies", first + 2);
    /* named at the first event missing: the checkpoint signed for the
     * longer log is still there */
    expect_bad(f, LDG_VERIFY_FULL, first + 2,
               "the tail from here on was "
               "truncated");
    /* and with the checkpoint gone too, the seal says so */
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_WRITE, &t), 0);
    assert_int_equal(ldg_db_open(t, "checkpoints", 0, &cks), 0);
    ldg_be64(k, first + 3);
    assert_int_equal(ldg_core_kv_del(t, cks, k, 8, NULL, 0), 0);
    assert_int_equal(ldg_txn_commit(t), 0);
    expect_bad(f, LDG_VERIFY_FULL, first + 1, "no signed checkpoint");
}

/* The writer (worker threads prepare claims; one seal per key per
 * commit) and vouching with seals. */
static void
test_verify__seals_from_the_writer(void **state)
{
    struct fx *f = *state;
    struct ldg_writer *w;
    struct ldg_writer_options o;
    struct ldg_verify_report r;
    struct ldg_vouch *v;
    struct ldg_txn *t;
    uint64_t size, *seqs;
    char why[256];

    memset(&o, 0, sizeof o);
    o.batch = 100;
    assert_int_equal(ldg_writer_new(&w, f->l, &o), 0);
    for (int i = 0; i < 1000; i++) {
        struct ldg_event_in in;
        json_t *body = json_loads(STEP, 0, NULL);
        memset(&in, 0, sizeof in);
        in.type = "run.step";
        in.actor = i % 3 == 0 ? "alice" : i % 3 == 1 ? "bob" : NULL;
        in.body = body;
        assert_int_equal(ldg_writer_add(w, &in), 0);
        json_decref(body);
    }
    assert_int_equal(ldg_writer_flush(w), 0);
    assert_int_equal(ldg_writer_committed(w), 1000);
    ldg_writer_free(w);
    assert_int_equal(ldg_verify(f->l, LDG_VERIFY_FULL | LDG_VERIFY_NOSAVE, 0,
                                &r, NULL, NULL),
                     0);
    assert_int_equal(ldg_size(f->l, &size), 0);
    seqs = malloc(size * sizeof *seqs);
    for (uint64_t q = 0; q < size; q++)
        seqs[q] = q;
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_vouch_new(&v, t), 0);
    if (ldg_vouch_events(v, seqs, size, 2, why, sizeof why) != 0)
        fail_msg("%s", why);
    ldg_vouch_free(v);
    ldg_txn_abort(t);
    /* each event's seal proof verifies */
    {
        assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_READ, &t), 0);
        for (uint64_t q = 0; q < size; q += (q < 100 ? 1 : 7)) {
            struct ldg_seal_proof a;
            struct ldg_keyinfo ki;
            assert_int_equal(ldg_seal_proof(t, q, &a), 0);
            assert_int_equal(
                ldg_seal_verify_inclusion(a.digest, a.leaf, a.seal.count,
                                          (const uint8_t(*)[32])a.path, a.n,
                                          a.seal.root),
                0);
            assert_int_equal(ldg_key_info(t, a.seal.key_id, &ki), 0);
            assert_int_equal(ldg_seal_verify(&a.seal, ki.pub), 0);
        }
        ldg_txn_abort(t);
    }
    /* one seal per key per commit: 10 commits x 3 keys */
    {
        struct ldg_event ev = get_event(f, size - 1);
        assert_true(ev.seal_leaf > 0);
    }
    /* vouching refuses a moved event */
    rewrite_claim(f, 500, get_event(f, 4).actor, -1, -1, NULL);
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_vouch_new(&v, t), 0);
    assert_int_equal(ldg_vouch_event(v, 500, why, sizeof why), LDG_ETAMPER);
    ldg_vouch_free(v);
    ldg_txn_abort(t);
    free(seqs);
}

int
main(void)
{
#define TS(name) cmocka_unit_test_setup_teardown(name, setup_seals, teardown)
    const struct CMUnitTest tests[] = {
        TS(test_verify__seals_are_as_designed),
        TS(test_verify__seals_detect_flipped_stamp_and_prev),
        TS(test_verify__seals_detect_flipped_seal_record),
        TS(test_verify__seals_detect_deleted_and_extra_seal),
        TS(test_verify__seals_detect_extra_seal_record),
        TS(test_verify__seals_detect_event_moved_into_another_actors_seal),
        TS(test_verify__seals_detect_actor_rewritten_in_place),
        TS(test_verify__seals_detect_forged_seal_by_unknown_key),
        TS(test_verify__seals_detect_seal_by_revoked_key),
        TS(test_verify__seals_detect_wrong_first),
        TS(test_verify__seals_detect_checkpoint_inside_a_seal),
        TS(test_verify__seals_detect_truncation_inside_a_seal),
        TS(test_verify__seals_from_the_writer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
