/*
 * test_verify.c — ledger verify: every kind of tampering is detected and
 * the first bad sequence number is named.
 *
 * Each case builds a fresh ledger of 40 events (keys, a run, bodies),
 * tampers with the stored bytes through the raw KV API, and checks the
 * report.
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

struct fx {
    char dir[256];
    struct ldg_ledger *l;
};

static int
setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    f->l = t_ledger_new(f->dir, sizeof f->dir, 0);
    assert_int_equal(ldg_keys_add(f->l, "alice", "run", NULL), 0); /* 1 */
    for (int i = 2; i < 40; i++) {
        char body[128];
        snprintf(body, sizeof body,
                 "{\"run\":\"R-1\",\"step\":\"s%d\",\"tool\":\"t\","
                 "\"status\":\"ok\",\"duration_ms\":%d}",
                 i, i * 10);
        t_append(f->l, "run.step", body, (i % 2) ? "alice" : NULL);
    }
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    ldg_close(f->l);
    t_rmrf(f->dir);
    free(f);
    return 0;
}

static void
expect_bad(struct fx *f, unsigned flags, uint64_t seq, const char *word)
{
    struct ldg_verify_report r;
    int rc = ldg_verify(f->l, flags | LDG_VERIFY_NOSAVE, 0, &r, NULL, NULL);
    if (rc != LDG_ETAMPER)
        fail_msg("verify returned %d (%s), expected tampering at %llu", rc,
                 ldg_strerror(rc), (unsigned long long)seq);
    if (r.bad_seq != seq)
        fail_msg("first bad event %llu, expected %llu: %s",
                 (unsigned long long)r.bad_seq, (unsigned long long)seq,
                 r.what);
    if (strstr(r.what, word) == NULL)
        fail_msg("message '%s' does not say '%s'", r.what, word);
}

static void
test_verify__clean_log_passes_and_saves_position(void **state)
{
    struct fx *f = *state;
    struct ldg_verify_report r;
    assert_int_equal(ldg_verify(f->l, 0, 0, &r, NULL, NULL), 0);
    assert_int_equal(r.to, 40);
    assert_int_equal(r.from, 0);
    t_append(f->l, "x.test.more", "{}", NULL);
    assert_int_equal(ldg_verify(f->l, 0, 0, &r, NULL, NULL), 0);
    assert_int_equal(r.from, 40); /* only the new event */
    assert_int_equal(r.checked, 1);
    assert_int_equal(ldg_verify(f->l, LDG_VERIFY_FULL, 0, &r, NULL, NULL), 0);
    assert_int_equal(r.checked, 41);
    assert_true(r.checkpoints >= 40);
}

static void
test_verify__detects_flipped_bit_in_entry(void **state)
{
    struct fx *f = *state;
    uint8_t buf[1024];
    size_t n = t_raw_get(f->l, "entries", 10, buf, sizeof buf);
    buf[20] ^= 0x01; /* inside the event map */
    t_raw_put(f->l, "entries", 10, buf, n);
    expect_bad(f, LDG_VERIFY_FULL, 10, "event 10");
}

static void
test_verify__detects_flipped_bit_in_body(void **state)
{
    struct fx *f = *state;
    uint8_t buf[4096];
    size_t n = t_raw_get(f->l, "bodies", 12, buf, sizeof buf);
    buf[n - 1] ^= 0x01; /* last byte of the last value */
    t_raw_put(f->l, "bodies", 12, buf, n);
    expect_bad(f, LDG_VERIFY_FULL, 12, "body");
}

static void
test_verify__detects_swapped_events(void **state)
{
    struct fx *f = *state;
    uint8_t a[1024], b[1024];
    size_t na = t_raw_get(f->l, "entries", 14, a, sizeof a);
    size_t nb = t_raw_get(f->l, "entries", 15, b, sizeof b);
    t_raw_put(f->l, "entries", 14, b, nb);
    t_raw_put(f->l, "entries", 15, a, na);
    expect_bad(f, LDG_VERIFY_FULL, 14, "sequence number 15");
}

static void
test_verify__detects_deleted_event(void **state)
{
    struct fx *f = *state;
    t_raw_del(f->l, "entries", 16);
    expect_bad(f, LDG_VERIFY_FULL, 16, "missing");
}

static void
test_verify__detects_duplicated_event(void **state)
{
    struct fx *f = *state;
    uint8_t a[1024];
    size_t na = t_raw_get(f->l, "entries", 16, a, sizeof a);
    t_raw_put(f->l, "entries", 17, a, na);
    expect_bad(f, LDG_VERIFY_FULL, 17, "sequence number 16");
}

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

static void
test_verify__detects_truncated_tail_after_verified_run(void **state)
{
    struct fx *f = *state;
    struct ldg_verify_report r;
    assert_int_equal(ldg_verify(f->l, 0, 0, &r, NULL, NULL), 0);
    t_raw_del(f->l, "entries", 39);
    t_raw_del(f->l, "entries", 38);
    expect_bad(f, 0, 38, "truncated");
}

/* Change an old entry and fix everything a careless forger could fix
 * except the saved root: the incremental run notices. */
static void
test_verify__detects_change_in_verified_part_incrementally(void **state)
{
    struct fx *f = *state;
    struct ldg_verify_report r;
    uint8_t buf[1024];
    size_t n;
    assert_int_equal(ldg_verify(f->l, 0, 0, &r, NULL, NULL), 0);
    t_append(f->l, "x.test.more", "{}", NULL);
    n = t_raw_get(f->l, "entries", 5, buf, sizeof buf);
    buf[n - 1] ^= 0x80; /* last signature byte */
    t_raw_put(f->l, "entries", 5, buf, n);
    /* Not --full: only event 40 is new, yet 5 is caught through the tree */
    {
        int rc = ldg_verify(f->l, LDG_VERIFY_NOSAVE, 0, &r, NULL, NULL);
        assert_int_equal(rc, LDG_ETAMPER);
        assert_true(r.bad_seq <= 6);
    }
}

static void
test_verify__erased_body_still_verifies(void **state)
{
    struct fx *f = *state;
    struct ldg_verify_report r;
    struct ldg_txn *t;
    json_t *b = NULL;
    char body[64];
    snprintf(body, sizeof body, "{\"target_seq\":7,\"reason\":\"gdpr\"}");
    t_append(f->l, "body.erased", body, NULL);
    assert_int_equal(ldg_verify(f->l, LDG_VERIFY_FULL, 0, &r, NULL, NULL), 0);
    assert_int_equal(r.erased, 1);
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_body_get(t, 7, &b), LDG_EERASED);
    ldg_txn_abort(t);
    /* erasing again, or erasing a key event, is refused */
    {
        struct ldg_event_in in;
        json_t *jb = json_pack("{s:i, s:s}", "target_seq", 7, "reason", "x");
        memset(&in, 0, sizeof in);
        in.type = "body.erased";
        in.body = jb;
        assert_int_equal(ldg_append(f->l, &in, NULL), LDG_EBADINPUT);
        json_decref(jb);
        jb = json_pack("{s:i, s:s}", "target_seq", 1, "reason", "x");
        in.body = jb;
        assert_int_equal(ldg_append(f->l, &in, NULL), LDG_EBADINPUT);
        json_decref(jb);
    }
}

/* An erased body put back is found, at the erased event. */
static void
test_verify__detects_erased_body_put_back(void **state)
{
    struct fx *f = *state;
    uint8_t buf[4096];
    size_t n = t_raw_get(f->l, "bodies", 7, buf, sizeof buf);
    t_append(f->l, "body.erased", "{\"target_seq\":7,\"reason\":\"gdpr\"}",
             NULL);
    t_raw_put(f->l, "bodies", 7, buf, n);
    expect_bad(f, LDG_VERIFY_FULL, 7, "still stored");
}

/* Pass 2 runs behind pass 1 and leaves the body checks that depend on
 * later body.erased events to the end: an erasure thousands of events
 * (many pass-2 chunks) after its target still accounts for the missing
 * body, a missing body without one is found before a later bad body,
 * and an erasure after the event where pass 1 stops still keeps its
 * target from being blamed ahead of that event. */
static void
test_verify__late_erasure_and_first_finding_across_chunks(void **state)
{
    struct fx *f = *state;
    struct ldg_verify_report r;
    uint8_t buf[LDG_ENTRY_MAX];
    size_t n;

    t_append_many(f->l, 5000);
    t_append(f->l, "body.erased", "{\"target_seq\":12,\"reason\":\"late\"}",
             NULL);
    assert_int_equal(ldg_verify(f->l, LDG_VERIFY_FULL | LDG_VERIFY_NOSAVE, 0,
                                &r, NULL, NULL),
                     0);
    assert_int_equal(r.erased, 1);
    /* a body deleted with no erasure at 30 is reported, 12 is not */
    t_raw_del(f->l, "bodies", 30);
    expect_bad(f, LDG_VERIFY_FULL, 30, "missing");
    /* and a bad signature in pass 2's range, later than 30, loses to it */
    n = t_raw_get(f->l, "bodies", 4000, buf, sizeof buf);
    buf[n - 1] ^= 1;
    t_raw_put(f->l, "bodies", 4000, buf, n);
    expect_bad(f, LDG_VERIFY_FULL, 30, "missing");
    /* An event altered at 25 stops pass 1 there, before the erasure of
     * 12: event 25 is the first finding, not 12's erased body. */
    n = t_raw_get(f->l, "entries", 25, buf, sizeof buf);
    buf[n - 1] ^= 1;
    t_raw_put(f->l, "entries", 25, buf, n);
    expect_bad(f, LDG_VERIFY_FULL, 25, "signature");
}

static void
test_verify__detects_deleted_body_without_erasure(void **state)
{
    struct fx *f = *state;
    t_raw_del(f->l, "bodies", 21);
    expect_bad(f, LDG_VERIFY_FULL, 21, "missing");
}

static void
test_verify__detects_stale_stored_tree_hash(void **state)
{
    struct fx *f = *state;
    struct ldg_txn *t;
    ldg_dbi dbi;
    uint8_t k[9] = {1, 0, 0, 0, 0, 0, 0, 0, 4}; /* level 1, index 4 */
    uint8_t h[32] = {0};
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_WRITE, &t), 0);
    assert_int_equal(ldg_db_open(t, "tree", 0, &dbi), 0);
    assert_int_equal(ldg_core_kv_put(t, dbi, k, 9, h, 32), 0);
    assert_int_equal(ldg_txn_commit(t), 0);
    expect_bad(f, LDG_VERIFY_FULL, 9, "Merkle");
}

static void
test_verify__detects_missing_index_entry(void **state)
{
    struct fx *f = *state;
    struct ldg_txn *t;
    ldg_dbi dbi;
    uint8_t k[32];
    size_t n = strlen("R-1");
    memcpy(k, "R-1", n);
    k[n] = 0;
    ldg_be64(k + n + 1, 30);
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_WRITE, &t), 0);
    assert_int_equal(ldg_db_open(t, "idx.run", 0, &dbi), 0);
    assert_int_equal(ldg_core_kv_del(t, dbi, k, n + 9, NULL, 0), 0);
    assert_int_equal(ldg_txn_commit(t), 0);
    {
        struct ldg_verify_report r;
        assert_int_equal(ldg_verify(f->l, LDG_VERIFY_FULL | LDG_VERIFY_NOSAVE,
                                    0, &r, NULL, NULL),
                         LDG_ETAMPER);
        assert_non_null(strstr(r.what, "index"));
    }
}

/* idx.id (format version 2) holds one key per event with an id: a key
 * taken away is found at its event (plain and full), one added for an
 * event without an id by the full count of the index. */
static void
test_verify__counts_the_id_index(void **state)
{
    struct fx *f = *state;
    struct ldg_event_in in;
    struct ldg_txn *t;
    ldg_dbi dbi;
    uint64_t s1 = 0, s2 = 0;
    uint8_t k[32];

    memset(&in, 0, sizeof in);
    in.type = "x.id";
    in.id = "id-1";
    assert_int_equal(ldg_append(f->l, &in, &s1), 0);
    in.id = "id-2";
    assert_int_equal(ldg_append(f->l, &in, &s2), 0);
    {
        struct ldg_verify_report r;
        assert_int_equal(ldg_verify(f->l, LDG_VERIFY_FULL | LDG_VERIFY_NOSAVE,
                                    0, &r, NULL, NULL),
                         0);
    }
    /* one taken away */
    memcpy(k, "id-2", 4);
    k[4] = 0;
    ldg_be64(k + 5, s2);
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_WRITE, &t), 0);
    assert_int_equal(ldg_db_open(t, "idx.id", 0, &dbi), 0);
    assert_int_equal(ldg_core_kv_del(t, dbi, k, 13, NULL, 0), 0);
    assert_int_equal(ldg_txn_commit(t), 0);
    for (int full = 0; full < 2; full++) {
        struct ldg_verify_report r;
        assert_int_equal(
            ldg_verify(f->l, (full ? LDG_VERIFY_FULL : 0) | LDG_VERIFY_NOSAVE,
                       0, &r, NULL, NULL),
            LDG_ETAMPER);
        /* each event's index keys are checked, its id's too */
        if (strstr(r.what, "index entry") == NULL || r.bad_seq != s2)
            fail_msg("full %d: at %llu: %s", full,
                     (unsigned long long)r.bad_seq, r.what);
    }
    /* put back: clean again; then one for an event without an id */
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_WRITE, &t), 0);
    assert_int_equal(ldg_db_open(t, "idx.id", 0, &dbi), 0);
    assert_int_equal(ldg_core_kv_put(t, dbi, k, 13, "", 0), 0);
    memcpy(k, "stray", 5);
    k[5] = 0;
    ldg_be64(k + 6, 3);
    assert_int_equal(ldg_core_kv_put(t, dbi, k, 14, "", 0), 0);
    assert_int_equal(ldg_txn_commit(t), 0);
    {
        struct ldg_verify_report r;
        assert_int_equal(ldg_verify(f->l, LDG_VERIFY_FULL | LDG_VERIFY_NOSAVE,
                                    0, &r, NULL, NULL),
                         LDG_ETAMPER);
        assert_non_null(strstr(r.what, "idx.id"));
    }
}

/* Verification remembers what it found: after a failed full verification,
 * a plain one fails too (even with nothing new, or only good new events),
 * until a full verification passes again. */
static void
test_verify__a_finding_stands_until_a_full_verification_passes(void **state)
{
    struct fx *f = *state;
    struct ldg_verify_report r;
    struct ldg_verify_state st;
    uint8_t buf[4096], orig[4096];
    uint64_t clock = 1700000000000000000ull;
    size_t n;

    assert_int_equal(ldg_verify(f->l, LDG_VERIFY_FULL, 0, &r, NULL, NULL), 0);
    assert_true(r.full);
    assert_true(r.recorded);
    assert_int_equal(ldg_verify_state(f->l, &st), 0);
    assert_int_equal(st.verified_size, 40);
    assert_int_equal(st.full_size, 40);
    assert_true(st.full_ts_ns != 0);
    assert_false(st.finding);

    n = t_raw_get(f->l, "bodies", 12, buf, sizeof buf);
    memcpy(orig, buf, n);
    buf[n - 1] ^= 0x01;
    t_raw_put(f->l, "bodies", 12, buf, n);
    ldg_set_clock(f->l, &clock);
    assert_int_equal(ldg_verify(f->l, LDG_VERIFY_FULL, 0, &r, NULL, NULL),
                     LDG_ETAMPER);
    assert_int_equal(r.bad_seq, 12);
    assert_true(r.recorded);
    assert_int_equal(ldg_verify_state(f->l, &st), 0);
    assert_true(st.finding);
    assert_int_equal(st.finding_seq, 12);
    assert_int_equal(st.finding_ts_ns, clock);
    assert_non_null(strstr(st.finding_what, "event 12"));
    ldg_set_clock(f->l, NULL);

    /* repaired, but only a full verification may say so: plain verify,
     * with nothing new, fails with the standing finding */
    t_raw_put(f->l, "bodies", 12, orig, n);
    assert_int_equal(ldg_verify(f->l, 0, 0, &r, NULL, NULL), LDG_ETAMPER);
    assert_true(r.finding_stands);
    assert_int_equal(r.bad_seq, 12);
    assert_int_equal(r.found_ts_ns, clock);
    assert_int_equal(r.checked, 0);
    /* good new events do not clear it either */
    t_append(f->l, "x.test.more", "{}", NULL);
    assert_int_equal(ldg_verify(f->l, 0, 0, &r, NULL, NULL), LDG_ETAMPER);
    assert_true(r.finding_stands);
    /* nor does a run from an explicit start after the bad event */
    assert_int_equal(ldg_verify(f->l, LDG_VERIFY_FULL, 20, &r, NULL, NULL),
                     LDG_ETAMPER);
    assert_true(r.finding_stands);
    /* a full verification passes and clears it */
    assert_int_equal(ldg_verify(f->l, LDG_VERIFY_FULL, 0, &r, NULL, NULL), 0);
    assert_int_equal(ldg_verify_state(f->l, &st), 0);
    assert_false(st.finding);
    assert_int_equal(st.full_size, 41);
    assert_int_equal(ldg_verify(f->l, 0, 0, &r, NULL, NULL), 0);
}

/* A lower finding is kept over a later one (it names the first bad event);
 * NOSAVE and read-only handles record nothing, and ldg_verify_record writes
 * a read-only run's result through a writable handle. */
static void
test_verify__read_only_verify_records_nothing_until_asked(void **state)
{
    struct fx *f = *state;
    struct ldg_verify_report r;
    struct ldg_verify_state st;
    struct ldg_options o;
    struct ldg_ledger *ro = NULL;
    uint8_t buf[4096];
    char err[256];
    size_t n;

    n = t_raw_get(f->l, "bodies", 30, buf, sizeof buf);
    buf[n - 1] ^= 0x01;
    t_raw_put(f->l, "bodies", 30, buf, n);
    assert_int_equal(ldg_verify(f->l, LDG_VERIFY_FULL | LDG_VERIFY_NOSAVE, 0,
                                &r, NULL, NULL),
                     LDG_ETAMPER);
    assert_false(r.recorded);
    assert_int_equal(ldg_verify_state(f->l, &st), 0);
    assert_false(st.finding);
    assert_int_equal(st.verified_size, 0);

    memset(&o, 0, sizeof o);
    o.flags = LDG_RDONLY;
    assert_int_equal(ldg_open(&ro, f->dir, &o, err, sizeof err), 0);
    assert_int_equal(ldg_verify(ro, LDG_VERIFY_FULL, 0, &r, NULL, NULL),
                     LDG_ETAMPER);
    assert_int_equal(r.bad_seq, 30);
    assert_false(r.recorded);
    assert_int_equal(ldg_verify_record(ro, &r), LDG_EINVAL);
    ldg_close(ro);
    assert_int_equal(ldg_verify_state(f->l, &st), 0);
    assert_false(st.finding);
    assert_int_equal(ldg_verify_record(f->l, &r), 0);
    assert_int_equal(ldg_verify_state(f->l, &st), 0);
    assert_true(st.finding);
    assert_int_equal(st.finding_seq, 30);

    /* an earlier bad event replaces the finding; a later one does not */
    n = t_raw_get(f->l, "bodies", 8, buf, sizeof buf);
    buf[n - 1] ^= 0x01;
    t_raw_put(f->l, "bodies", 8, buf, n);
    assert_int_equal(ldg_verify(f->l, LDG_VERIFY_FULL, 0, &r, NULL, NULL),
                     LDG_ETAMPER);
    assert_int_equal(ldg_verify_state(f->l, &st), 0);
    assert_int_equal(st.finding_seq, 8);
    r.bad_seq = 35;
    assert_int_equal(ldg_verify_record(f->l, &r), 0);
    assert_int_equal(ldg_verify_state(f->l, &st), 0);
    assert_int_equal(st.finding_seq, 8);
}

/* Bodies swapped between two verified events, or one deleted without a
 * body.erased: the entries, chain and tree do not change, so only a body
 * check sees it, and plain verify (and so --trusted) makes one from 0. */
static void
test_verify__plain_verify_sees_bodies_swapped_or_deleted_after_it(void **state)
{
    struct fx *f = *state;
    struct ldg_verify_report r;
    uint8_t a[4096], b[4096];
    size_t na, nb;

    assert_int_equal(ldg_verify(f->l, LDG_VERIFY_FULL, 0, &r, NULL, NULL), 0);
    na = t_raw_get(f->l, "bodies", 10, a, sizeof a);
    nb = t_raw_get(f->l, "bodies", 11, b, sizeof b);
    t_raw_put(f->l, "bodies", 10, b, nb);
    t_raw_put(f->l, "bodies", 11, a, na);
    assert_int_equal(ldg_verify(f->l, LDG_VERIFY_NOSAVE, 0, &r, NULL, NULL),
                     LDG_ETAMPER);
    assert_int_equal(r.from, 40); /* signatures: nothing new */
    assert_int_equal(r.bad_seq, 10);
    assert_non_null(strstr(r.what, "commitment"));
    t_raw_put(f->l, "bodies", 10, a, na);
    t_raw_put(f->l, "bodies", 11, b, nb);
    assert_int_equal(ldg_verify(f->l, LDG_VERIFY_NOSAVE, 0, &r, NULL, NULL), 0);
    t_raw_del(f->l, "bodies", 20);
    assert_int_equal(ldg_verify(f->l, LDG_VERIFY_NOSAVE, 0, &r, NULL, NULL),
                     LDG_ETAMPER);
    assert_int_equal(r.bad_seq, 20);
    assert_non_null(strstr(r.what, "no body.erased"));
}

/* The newest checkpoint is part of the log: deleting it (or all of them)
 * fails every mode, naming the last event. */
static void
test_verify__detects_deleted_latest_checkpoint(void **state)
{
    struct fx *f = *state;
    struct ldg_verify_report r;
    struct ldg_txn *t = NULL;
    ldg_dbi dbi;
    uint8_t k[8];

    assert_int_equal(ldg_verify(f->l, LDG_VERIFY_FULL, 0, &r, NULL, NULL), 0);
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_WRITE, &t), 0);
    assert_int_equal(ldg_db_open(t, "checkpoints", 0, &dbi), 0);
    ldg_be64(k, 40);
    assert_int_equal(ldg_core_kv_del(t, dbi, k, 8, NULL, 0), 0);
    assert_int_equal(ldg_txn_commit(t), 0);
    assert_int_equal(ldg_verify(f->l, LDG_VERIFY_NOSAVE, 0, &r, NULL, NULL),
                     LDG_ETAMPER);
    assert_int_equal(r.bad_seq, 39);
    assert_non_null(strstr(r.what, "no signed checkpoint at the log's size"));
    expect_bad(f, LDG_VERIFY_FULL, 39, "latest checkpoint was deleted");
    /* all of them */
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_WRITE, &t), 0);
    assert_int_equal(ldg_db_open(t, "checkpoints", 0, &dbi), 0);
    assert_int_equal(ldg_core_db_drop(t, dbi, 0), 0);
    assert_int_equal(ldg_txn_commit(t), 0);
    expect_bad(f, LDG_VERIFY_FULL, 39, "stored is for 0");
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

int
main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_verify__clean_log_passes_and_saves_position),
        T(test_verify__detects_flipped_bit_in_entry),
        T(test_verify__detects_flipped_bit_in_body),
        T(test_verify__detects_swapped_events),
        T(test_verify__detects_deleted_event),
        T(test_verify__detects_duplicated_event),
        T(test_verify__detects_event_resigned_with_wrong_key),
        T(test_verify__tampered_registry_cannot_unrevoke_a_key),
        T(test_verify__tampered_registry_cannot_add_a_key),
        T(test_verify__detects_event_signed_outside_its_key_roles),
        T(test_verify__detects_truncated_tail_after_verified_run),
        T(test_verify__detects_change_in_verified_part_incrementally),
        T(test_verify__erased_body_still_verifies),
        T(test_verify__detects_erased_body_put_back),
        T(test_verify__late_erasure_and_first_finding_across_chunks),
        T(test_verify__detects_deleted_body_without_erasure),
        T(test_verify__detects_stale_stored_tree_hash),
        T(test_verify__detects_missing_index_entry),
        T(test_verify__counts_the_id_index),
        T(test_verify__a_finding_stands_until_a_full_verification_passes),
        T(test_verify__read_only_verify_records_nothing_until_asked),
        T(test_verify__plain_verify_sees_bodies_swapped_or_deleted_after_it),
        T(test_verify__detects_deleted_latest_checkpoint),
        T(test_verify__detects_tampered_key_registry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
