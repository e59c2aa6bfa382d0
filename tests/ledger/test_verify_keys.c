/*
 * test_verify_keys.c — ledger/verify_keys.c: who signed what: an event
 * signed again with another key, a key registry altered to un-revoke or
 * add a key, an event signed outside its key's roles, a claim digest
 * flipped in its stored record (store layout 7).
 */
#include "tests/ledger/verify_fx.h"

/* Re-sign event 18's map with a key that is not its actor's. */
static void
test_verify__detects_event_resigned_with_wrong_key(void **state)
{
    struct fx *f = *state;
    uint8_t buf[1024];
    struct ldg_event ev;
    struct ldg_key *k;
    size_t n = t_raw_get(f->l, "entries", 18, buf, sizeof buf);
    assert_int_equal(ldg_event_decode(buf, n, &ev), 0);
    assert_int_equal(ldg_key_generate(&k, "mallory"), 0);
    assert_int_equal(ldg_ed25519_sign_ctx(buf + n - 64, LDG_CTX_EVENT,
                                          ev.signed_part, ev.signed_len, k),
                     0);
    ldg_key_free(k);
    t_raw_put(f->l, "entries", 18, buf, n);
    expect_bad(f, LDG_VERIFY_FULL, 18, "signature does not verify");
}

/* Appends and returns ldg_append's code (the test expects a refusal). */
static int
try_append(struct ldg_ledger *l, const char *type, const char *actor)
{
    struct ldg_event_in in;
    uint64_t seq = 0;
    json_t *b = json_object();
    int rc;
    memset(&in, 0, sizeof in);
    in.type = type;
    in.body = b;
    in.actor = actor;
    rc = ldg_append(l, &in, &seq);
    json_decref(b);
    return rc;
}

/* The registry is a derived index; tampering it to un-revoke a key lets
 * an append through, but verify rebuilds key state from the log. */
static void
test_verify__tampered_registry_cannot_unrevoke_a_key(void **state)
{
    struct fx *f = *state;
    struct ldg_keyinfo ki;
    memset(&ki, 0, sizeof ki);
    struct ldg_txn *t;
    ldg_dbi dbi;
    uint8_t k[3 + LDG_KEYID_LEN], v[48 + 8];
    uint64_t rseq, bad = 0;
    struct ldg_verify_report bad_r;

    assert_int_equal(ldg_keys_revoke(f->l, "alice", "lost", &rseq), 0);
    {
        struct ldg_keyinfo *list;
        size_t nk, found = 0;
        assert_int_equal(ldg_keys_list(f->l, &list, &nk), 0);
        for (size_t i = 0; i < nk; i++)
            if (strcmp(list[i].name, "alice") == 0) {
                ki = list[i];
                found = 1;
            }
        free(list);
        assert_true(found);
    }
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_WRITE, &t), 0);
    assert_int_equal(ldg_db_open(t, "keys", 0, &dbi), 0);
    memcpy(k, "id:", 3);
    memcpy(k + 3, ki.key_id, LDG_KEYID_LEN);
    memcpy(v, ki.pub, 32);
    ldg_be64(v + 32, ki.added_seq);
    ldg_be64(v + 40, UINT64_MAX);
    memcpy(v + 48, "alice", 5);
    assert_int_equal(ldg_core_kv_put(t, dbi, k, sizeof k, v, 53), 0);
    assert_int_equal(ldg_txn_commit(t), 0);
    /* append trusts only what the log proves: the revoked key is refused */
    assert_int_equal(try_append(f->l, "x.test.after", "alice"), LDG_ETAMPER);
    assert_non_null(strstr(ldg_errmsg(f->l), "key registry"));
    (void)bad;
    /* and keys list does not show the tampered view */
    {
        struct ldg_keyinfo *list = NULL;
        size_t nk;
        assert_int_equal(ldg_keys_list(f->l, &list, &nk), LDG_ETAMPER);
        assert_null(list);
    }
    /* the registry itself no longer says what the log says */
    expect_bad(f, LDG_VERIFY_FULL, rseq, "key registry");
    /* put right, the key is refused as revoked */
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_WRITE, &t), 0);
    ldg_be64(v + 40, rseq);
    assert_int_equal(ldg_core_kv_put(t, dbi, k, sizeof k, v, 53), 0);
    assert_int_equal(ldg_txn_commit(t), 0);
    assert_int_equal(try_append(f->l, "x.test.after", "alice"), LDG_EKEY);
    assert_int_equal(ldg_verify(f->l, LDG_VERIFY_FULL | LDG_VERIFY_NOSAVE, 0,
                                &bad_r, NULL, NULL),
                     0);
}

/* A writer that ignores roles (here: its proven-key cache widened) gets
 * an event through; verify judges roles from the key.added events. */
static void
test_verify__detects_event_signed_outside_its_key_roles(void **state)
{
    struct fx *f = *state;
    uint64_t seq;
    size_t i;

    assert_int_equal(try_append(f->l, "x.test.outside", "alice"), LDG_EKEY);
    for (i = 0; i < f->l->nkproven; i++)
        if (strcmp(f->l->kproven[i].name, "alice") == 0)
            f->l->kproven[i].roles = UINT32_MAX;
    assert_int_equal(try_append(f->l, "x.test.outside", "alice"), 0);
    assert_int_equal(ldg_size(f->l, &seq), 0);
    expect_bad(f, LDG_VERIFY_FULL, seq - 1, "roles");
    expect_bad(f, 0, seq - 1, "do not allow it");
    /* and export's check before writing (ldg_vouch_*) refuses it too */
    {
        struct ldg_vouch *v;
        struct ldg_txn *t;
        char why[256];
        assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_READ, &t), 0);
        assert_int_equal(ldg_vouch_new(&v, t), 0);
        assert_int_equal(ldg_vouch_event(v, 3, why, sizeof why), 0);
        assert_int_equal(ldg_vouch_event(v, seq - 1, why, sizeof why),
                         LDG_ETAMPER);
        assert_non_null(strstr(why, "roles"));
        ldg_vouch_free(v);
        ldg_txn_abort(t);
    }
}

/* A key that no key.added event added, put into the registry. */
static void
test_verify__tampered_registry_cannot_add_a_key(void **state)
{
    struct fx *f = *state;
    struct ldg_key *k;
    struct ldg_txn *t;
    ldg_dbi dbi;
    char err[256];
    uint8_t key[3 + LDG_KEYID_LEN], v[48 + 8], nk[5 + 7];
    uint64_t bad;

    assert_int_equal(ldg_key_generate(&k, "mallory"), 0);
    assert_int_equal(ldg_keyfile_write(f->dir, k, err, sizeof err), 0);
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_WRITE, &t), 0);
    assert_int_equal(ldg_db_open(t, "keys", 0, &dbi), 0);
    memcpy(key, "id:", 3);
    memcpy(key + 3, k->key_id, LDG_KEYID_LEN);
    memcpy(v, k->pub, 32);
    ldg_be64(v + 32, 5);
    ldg_be64(v + 40, UINT64_MAX);
    memcpy(v + 48, "mallory", 7);
    assert_int_equal(ldg_core_kv_put(t, dbi, key, sizeof key, v, 55), 0);
    memcpy(nk, "name:", 5);
    memcpy(nk + 5, "mallory", 7);
    assert_int_equal(ldg_core_kv_put(t, dbi, nk, 12, k->key_id, LDG_KEYID_LEN),
                     0);
    assert_int_equal(ldg_txn_commit(t), 0);
    ldg_key_free(k);
    /* no key event adds mallory: the registry's word is not enough */
    assert_int_equal(try_append(f->l, "x.test.forged", "mallory"), LDG_ETAMPER);
    assert_int_equal(ldg_size(f->l, &bad), 0);
    expect_bad(f, LDG_VERIFY_FULL, bad - 1, "which no key event");
}

/* The key registry is checked against the key events: a record that says
 * a valid key was revoked, or names another public key, fails verify. */
static void
test_verify__detects_tampered_key_registry(void **state)
{
    struct fx *f = *state;
    struct ldg_keyinfo *list;
    struct ldg_txn *t;
    ldg_dbi dbi;
    uint8_t k[3 + LDG_KEYID_LEN], v[48 + 8];
    size_t nk, ai = 0;

    assert_int_equal(ldg_keys_list(f->l, &list, &nk), 0);
    for (size_t i = 0; i < nk; i++)
        if (strcmp(list[i].name, "alice") == 0)
            ai = i;
    memcpy(k, "id:", 3);
    memcpy(k + 3, list[ai].key_id, LDG_KEYID_LEN);
    memcpy(v, list[ai].pub, 32);
    ldg_be64(v + 32, list[ai].added_seq);
    ldg_be64(v + 40, 7); /* "revoked at 7": it never was */
    memcpy(v + 48, "alice", 5);
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_WRITE, &t), 0);
    assert_int_equal(ldg_db_open(t, "keys", 0, &dbi), 0);
    assert_int_equal(ldg_core_kv_put(t, dbi, k, sizeof k, v, 53), 0);
    assert_int_equal(ldg_txn_commit(t), 0);
    expect_bad(f, LDG_VERIFY_FULL, 1, "key registry's record of key");
    expect_bad(f, 0, 1, "revoked 7; the log: alice, added at 1, revoked never");
    /* another public key under alice's id */
    v[0] ^= 1;
    ldg_be64(v + 40, UINT64_MAX);
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_WRITE, &t), 0);
    assert_int_equal(ldg_core_kv_put(t, dbi, k, sizeof k, v, 53), 0);
    assert_int_equal(ldg_txn_commit(t), 0);
    expect_bad(f, LDG_VERIFY_FULL, 1, "key registry");
    free(list);
}

/* ------------------------------------------------ format 2: the seals -- */

/* Store layout 8 keeps a sealed entry's claim digest raw before its
 * stored record (0x01 ‖ d[32] ‖ ...): a bit flipped in it is found by
 * plain verify and by --full at that event, named as the digest (the
 * entry's leaf differs from the tree too: the digest is what is named),
 * also when the log was verified before. */
static void
test_verify__detects_flipped_stored_claim_digest(void **state)
{
    struct fx *f = *state;
    struct ldg_verify_report r;
    uint8_t buf[LDG_ENTRY_MAX];
    size_t n;
    assert_int_equal(ldg_verify(f->l, LDG_VERIFY_FULL, 0, &r, NULL, NULL), 0);
    n = t_raw_stored_get(f->l, "entries", 23, buf, sizeof buf);
    assert_true(n > 34 && buf[0] == 0x01 && buf[33] == 0x92);
    buf[1 + 31] ^= 0x80; /* 0x01, d[32] */
    t_raw_put(f->l, "entries", 23, buf, n);
    expect_bad(f, 0, 23, "event 23: claim digest does not match its stamp");
    expect_bad(f, LDG_VERIFY_FULL, 23,
               "event 23: claim digest does not match its stamp");
}

/* A layout 7 record (the digest as the stamp's first pair), read at any
 * seq of a layout 8 store: its flipped digest is named the same way. */
static void
test_verify__detects_flipped_claim_digest_in_a_layout7_record(void **state)
{
    struct fx *f = *state;
    struct ldg_verify_report r;
    uint8_t buf[LDG_ENTRY_MAX], rec[LDG_ENTRY_MAX];
    size_t n, m;
    int sealed;
    assert_int_equal(ldg_verify(f->l, LDG_VERIFY_FULL, 0, &r, NULL, NULL), 0);
    n = t_raw_stored_get(f->l, "entries", 23, buf, sizeof buf);
    assert_int_equal(
        ldg_entry_stored(buf, n, LDG_STORED_STAMP, rec, sizeof rec, &n), 0);
    assert_int_equal(ldg_entry_stored_parts(rec, n, &m, &sealed), 0);
    assert_true(sealed);
    assert_true(ldg_entry_stored_digest(rec, n, m));
    t_raw_put(f->l, "entries", 23, rec, n);
    assert_int_equal(ldg_verify(f->l, LDG_VERIFY_FULL | LDG_VERIFY_NOSAVE, 0,
                                &r, NULL, NULL),
                     0);
    /* 0x92, the claim, the stamp's header, a6 "digest" c4 20, d[32] */
    rec[1 + m + 1 + 9 + 31] ^= 0x80;
    t_raw_put(f->l, "entries", 23, rec, n);
    expect_bad(f, 0, 23, "event 23: claim digest does not match its stamp");
    expect_bad(f, LDG_VERIFY_FULL, 23,
               "event 23: claim digest does not match its stamp");
}

/* A layout 8 record cut short is damage, named at its event: the tag and
 * the digest alone, the digest cut, and the record after it a byte short;
 * so is one whose record after the digest keeps a digest of its own. */
static void
test_verify__a_truncated_layout8_record_is_corruption(void **state)
{
    struct fx *f = *state;
    struct ldg_verify_report r;
    uint8_t buf[LDG_ENTRY_MAX], rec[LDG_ENTRY_MAX];
    size_t n, cuts[3], sn;
    assert_int_equal(ldg_verify(f->l, LDG_VERIFY_FULL, 0, &r, NULL, NULL), 0);
    n = t_raw_stored_get(f->l, "entries", 23, buf, sizeof buf);
    assert_true(n > 34 && buf[0] == 0x01);
    cuts[0] = 33;
    cuts[1] = 20;
    cuts[2] = n - 1;
    for (size_t i = 0; i < 3; i++) {
        t_raw_put(f->l, "entries", 23, buf, cuts[i]);
        expect_bad(f, 0, 23, "event 23");
        expect_bad(f, LDG_VERIFY_FULL, 23, "event 23");
        assert_int_equal(
            ldg_entry_whole(buf, cuts[i], buf + 1, rec, sizeof rec, &sn),
            LDG_ECORRUPT);
    }
    /* 0x01 ‖ d ‖ a layout 7 record (the digest twice) */
    memcpy(rec, buf, 33);
    assert_int_equal(ldg_entry_stored(buf, n, LDG_STORED_STAMP, rec + 33,
                                      sizeof rec - 33, &sn),
                     0);
    t_raw_put(f->l, "entries", 23, rec, 33 + sn);
    expect_bad(f, LDG_VERIFY_FULL, 23, "event 23");
    t_raw_put(f->l, "entries", 23, buf, n);
    assert_int_equal(ldg_verify(f->l, LDG_VERIFY_FULL | LDG_VERIFY_NOSAVE, 0,
                                &r, NULL, NULL),
                     0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_verify__detects_flipped_stored_claim_digest),
        T(test_verify__detects_flipped_claim_digest_in_a_layout7_record),
        T(test_verify__a_truncated_layout8_record_is_corruption),
        T(test_verify__tampered_registry_cannot_unrevoke_a_key),
        T(test_verify__tampered_registry_cannot_add_a_key),
        T(test_verify__detects_event_signed_outside_its_key_roles),
        T(test_verify__detects_tampered_key_registry),
        T1(test_verify__detects_event_resigned_with_wrong_key),
        T1(test_verify__tampered_registry_cannot_unrevoke_a_key),
        T1(test_verify__detects_event_signed_outside_its_key_roles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
