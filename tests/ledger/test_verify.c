/*
 * test_verify.c — ledger verify: every kind of tampering is detected and
 * the first bad sequence number is named.
 *
 * Each case builds a fresh ledger of 40 events (keys, a run, bodies),
 * tampers with the stored bytes through the raw KV API, and checks the
 * report.
 */
#include <ctype.h>
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
setup_layout(void **state, unsigned format, unsigned layout)
{
    struct fx *f = calloc(1, sizeof *f);
    f->l = t_ledger_new_layout(f->dir, sizeof f->dir, 0, format, layout);
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

/* A format 2 ledger (sealed entries). */
static int
setup(void **state)
{
    return setup_layout(state, 2, 0);
}

/* A format 1 ledger (per-event signatures), as written before. */
static int
setup_v1(void **state)
{
    return setup_layout(state, 1, 0);
}

/* A format 2 ledger in store layout 1 (a record per tree node). */
static int
setup_l1(void **state)
{
    return setup_layout(state, 2, 1);
}

/* And in layout 2 (a key per event in each index). */
static int
setup_l2(void **state)
{
    return setup_layout(state, 2, 2);
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
    /* An event altered at 25 (its body commitment) stops pass 1 there,
     * before the erasure of 12: event 25 is the first finding, not 12's
     * erased body. */
    n = t_raw_get(f->l, "entries", 25, buf, sizeof buf);
    buf[40] ^= 1;
    t_raw_put(f->l, "entries", 25, buf, n);
    expect_bad(f, LDG_VERIFY_FULL, 25,
               ldg_format(f->l) == 2 ? "claim digest" : "signature");
}

static void
test_verify__detects_deleted_body_without_erasure(void **state)
{
    struct fx *f = *state;
    t_raw_del(f->l, "bodies", 21);
    expect_bad(f, LDG_VERIFY_FULL, 21, "missing");
}

/* Layout 1 stores node (1, 4), over leaves 8 and 9; layout 2 stores only
 * the leaves of a tile not yet full, so leaf 9 itself is made stale. */
static void
test_verify__detects_stale_stored_tree_hash(void **state)
{
    struct fx *f = *state;
    struct ldg_txn *t;
    ldg_dbi dbi;
    uint8_t k[9] = {1, 0, 0, 0, 0, 0, 0, 0, 4}; /* level 1, index 4 */
    uint8_t h[32] = {0};
    struct ldg_stats st;
    assert_int_equal(ldg_stats(f->l, &st), 0);
    if (st.layout >= 2) {
        k[0] = 0;
        k[8] = 9;
    }
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_WRITE, &t), 0);
    assert_int_equal(ldg_db_open(t, "tree", 0, &dbi), 0);
    assert_int_equal(ldg_core_kv_put(t, dbi, k, 9, h, 32), 0);
    assert_int_equal(ldg_txn_commit(t), 0);
    expect_bad(f, LDG_VERIFY_FULL, 9, "Merkle");
}

/* The run index's record of (R-1, seq), as the ledger's layout keeps it:
 * a key "R-1" NUL seq in idx.run, or the duplicate seq of key "R-1" in
 * ix.run (layout 3). put 0 deletes it, 1 writes it under run `run`. */
static void
run_index(struct fx *f, struct ldg_txn *t, const char *run, uint64_t seq,
          int put)
{
    struct ldg_stats st;
    ldg_dbi dbi;
    uint8_t k[32], d[8];
    size_t n = strlen(run);
    assert_int_equal(ldg_stats(f->l, &st), 0);
    if (st.layout >= 3) {
        ldg_be64(d, seq);
        assert_int_equal(ldg_db_open(t, "ix.run", 0, &dbi), 0);
        if (put)
            assert_int_equal(ldg_core_kv_put(t, dbi, run, n, d, 8), 0);
        else
            assert_int_equal(ldg_core_kv_del(t, dbi, run, n, d, 8), 0);
        return;
    }
    memcpy(k, run, n);
    k[n] = 0;
    ldg_be64(k + n + 1, seq);
    assert_int_equal(ldg_db_open(t, "idx.run", 0, &dbi), 0);
    if (put)
        assert_int_equal(ldg_core_kv_put(t, dbi, k, n + 9, "", 0), 0);
    else
        assert_int_equal(ldg_core_kv_del(t, dbi, k, n + 9, NULL, 0), 0);
}

static void
test_verify__detects_missing_index_entry(void **state)
{
    struct fx *f = *state;
    struct ldg_txn *t;
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_WRITE, &t), 0);
    run_index(f, t, "R-1", 30, 0);
    assert_int_equal(ldg_txn_commit(t), 0);
    {
        struct ldg_verify_report r;
        assert_int_equal(ldg_verify(f->l, LDG_VERIFY_FULL | LDG_VERIFY_NOSAVE,
                                    0, &r, NULL, NULL),
                         LDG_ETAMPER);
        assert_non_null(strstr(r.what, "index"));
    }
    expect_bad(f, 0, 30, "index entry");
}

/* verify --full fails, saying what. */
static void
full_names(struct fx *f, const char *what)
{
    struct ldg_verify_report r;
    assert_int_equal(
        ldg_verify(f->l, LDG_VERIFY_FULL | LDG_VERIFY_NOSAVE, 0, &r, NULL, NULL),
        LDG_ETAMPER);
    if (strstr(r.what, what) == NULL)
        fail_msg("%s", r.what);
}

/* Layout 3 keeps no idx.* but idx.id: a key left in one (a migrate that
 * did not empty it, a write by something else) is named by verify --full;
 * so are a duplicate in ix.* that is not 8 bytes (LMDB takes one) and a
 * seq past the log. */
static void
test_verify__layout_3_names_stray_index_records(void **state)
{
    struct fx *f = *state;
    struct ldg_txn *t;
    struct ldg_verify_report r;
    ldg_dbi dbi;
    uint8_t k[16], d[8];

    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_WRITE, &t), 0);
    assert_int_equal(ldg_db_open(t, "idx.type", 0, &dbi), 0);
    assert_int_equal(ldg_core_kv_put(t, dbi, "run.step\0\0\0\0\0\0\0\0\x05",
                                     17, "", 0),
                     0);
    assert_int_equal(ldg_txn_commit(t), 0);
    full_names(f, "idx.type holds 1 entries, the log calls for 0");

    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_WRITE, &t), 0);
    assert_int_equal(ldg_db_open(t, "idx.type", 0, &dbi), 0);
    assert_int_equal(ldg_core_db_drop(t, dbi, 0), 0);
    assert_int_equal(ldg_db_open(t, "ix.type", 0, &dbi), 0);
    memset(k, 0, sizeof k);
    assert_int_equal(ldg_core_kv_put(t, dbi, "run.step", 8, k, 4), 0);
    assert_int_equal(ldg_txn_commit(t), 0);
    full_names(f, "index ix.type");
    assert_int_equal(ldg_index_rebuild(f->l), 0);

    /* run.step at seq 1000, past the log's 40, instead of 39 */
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_WRITE, &t), 0);
    assert_int_equal(ldg_db_open(t, "ix.type", 0, &dbi), 0);
    ldg_be64(d, 39);
    assert_int_equal(ldg_core_kv_del(t, dbi, "run.step", 8, d, 8), 0);
    ldg_be64(d, 1000);
    assert_int_equal(ldg_core_kv_put(t, dbi, "run.step", 8, d, 8), 0);
    assert_int_equal(ldg_txn_commit(t), 0);
    expect_bad(f, LDG_VERIFY_FULL, 39, "index entry");
    assert_int_equal(
        ldg_verify(f->l, LDG_VERIFY_NOSAVE, 0, &r, NULL, NULL), LDG_ETAMPER);
    assert_int_equal(r.bad_seq, 39);
}

/* The VmFlags of this process's mapping of dir/data.mdb, or "" (as
 * test_store.c reads them). */
static void
map_flags(const char *dir, char *out, size_t cap)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    char line[4096], want[600];
    int in = 0;
    out[0] = '\0';
    if (f == NULL)
        return;
    snprintf(want, sizeof want, "%s/data.mdb", dir);
    while (fgets(line, sizeof line, f) != NULL) {
        const char *dash = strchr(line, '-'), *sp = strchr(line, ' ');
        if (isxdigit((unsigned char)line[0]) && dash != NULL && sp != NULL &&
            dash < sp)
            in = strstr(line, want) != NULL;
        if (in && strncmp(line, "VmFlags:", 8) == 0) {
            size_t n = strnlen(line + 8, cap - 1);
            memcpy(out, line + 8, n);
            out[n] = '\0';
            break;
        }
    }
    fclose(f);
}

struct seen_flags {
    const char *dir;
    char during[512];
};

static void
note_flags(void *ctx, uint64_t done, uint64_t total)
{
    struct seen_flags *s = ctx;
    (void)done;
    (void)total;
    if (s->during[0] == '\0')
        map_flags(s->dir, s->during, sizeof s->during);
}

/* verify reads nearly all of data.mdb: the kernel reads ahead while it
 * runs (a cold page cache otherwise costs a disk read per page), and the
 * map is random access again afterwards. */
static void
test_verify__reads_ahead_while_it_runs(void **state)
{
    struct fx *f = *state;
    struct ldg_verify_report r;
    struct seen_flags s;
    char after[512];

    memset(&s, 0, sizeof s);
    s.dir = f->dir;
    map_flags(f->dir, after, sizeof after);
    if (after[0] == '\0')
        skip(); /* no smaps (not Linux): the hint is a no-op */
    assert_int_equal(ldg_verify(f->l, LDG_VERIFY_FULL | LDG_VERIFY_NOSAVE, 0,
                                &r, note_flags, &s),
                     0);
    map_flags(f->dir, after, sizeof after);
    if (strstr(s.during, " sr") == NULL || strstr(s.during, " rr") != NULL)
        fail_msg("during verify, VmFlags:%s", s.during);
    if (strstr(after, " rr") == NULL || strstr(after, " sr") != NULL)
        fail_msg("after verify, VmFlags:%s", after);
}

/* An index key replaced by another that keeps the count and the order
 * (so only the keys themselves tell): every mode names the event whose
 * key is gone. verify --full compares each index with what the entries
 * call for by a keyed hash, and looks the keys up one by one only when
 * the hashes differ; this is that path. */
static void
test_verify__detects_replaced_index_keys(void **state)
{
    struct fx *f = *state;
    struct ldg_txn *t;
    struct ldg_event ev;
    struct ldg_stats st;
    ldg_dbi dbi;
    uint8_t k[32];

    /* the run index: (R-1, 30) becomes (R-2, 30) (sorts after every R-1) */
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_WRITE, &t), 0);
    run_index(f, t, "R-1", 30, 0);
    run_index(f, t, "R-2", 30, 1);
    assert_int_equal(ldg_txn_commit(t), 0);
    expect_bad(f, LDG_VERIFY_FULL, 30, "index entry");
    expect_bad(f, 0, 30, "index entry");
    assert_int_equal(ldg_stats(f->l, &st), 0);
    if (st.layout >= 3)
        return; /* no idx.time */
    /* back, then idx.time: (ts, 25) becomes (ts + 1, 25), still between
     * its neighbours */
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_WRITE, &t), 0);
    run_index(f, t, "R-2", 30, 0);
    run_index(f, t, "R-1", 30, 1);
    assert_int_equal(ldg_event_get(t, 25, &ev), 0);
    ldg_be64(k, ev.ts_ns);
    ldg_be64(k + 8, 25);
    assert_int_equal(ldg_db_open(t, "idx.time", 0, &dbi), 0);
    assert_int_equal(ldg_core_kv_del(t, dbi, k, 16, NULL, 0), 0);
    ldg_be64(k, ev.ts_ns + 1);
    assert_int_equal(ldg_core_kv_put(t, dbi, k, 16, "", 0), 0);
    assert_int_equal(ldg_txn_commit(t), 0);
    expect_bad(f, LDG_VERIFY_FULL, 25, "index entry");
    expect_bad(f, 0, 25, "index entry");
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

/* ------------------------------------------------ format 2: the seals -- */

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

/* An attacker who holds the log key rebuilds everything it signs: from
 * `from` on, each entry's prev, the stored tree and every checkpoint. What
 * is left to catch them is the seals. */
static void
rechain(struct fx *f, uint64_t from)
{
    struct ldg_txn *t;
    ldg_dbi ent, cks;
    uint64_t size;
    uint8_t prev[32];

    assert_int_equal(ldg_size(f->l, &size), 0);
    assert_int_equal(ldg_log_secret_load(f->l), 0);
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_WRITE, &t), 0);
    assert_int_equal(ldg_db_open(t, "entries", 0, &ent), 0);
    assert_int_equal(ldg_db_open(t, "checkpoints", 0, &cks), 0);
    for (uint64_t q = from; q < size; q++) {
        uint8_t k[8], buf[LDG_ENTRY_MAX], leaf[32];
        struct ldg_val v;
        ldg_be64(k, q);
        assert_int_equal(ldg_kv_get(t, ent, k, 8, &v), 0);
        memcpy(buf, v.data, v.len);
        if (q > from)
            memcpy(buf + v.len - 32, prev, 32);
        assert_int_equal(ldg_core_kv_put(t, ent, k, 8, buf, v.len), 0);
        ldg_tlog_leaf_hash(leaf, buf, v.len);
        assert_int_equal(ldg_tree_add_leaf(t, q, leaf), 0);
        memcpy(prev, leaf, 32);
    }
    for (uint64_t q = from + 1; q <= size; q++) {
        uint8_t k[8];
        struct ldg_val v;
        ldg_be64(k, q);
        if (ldg_kv_get(t, cks, k, 8, &v) == 0)
            assert_int_equal(ldg_checkpoint_put(t, q), 0);
    }
    assert_int_equal(ldg_txn_commit(t), 0);
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
    expect_bad(f, LDG_VERIFY_FULL, first + 2, "the tail from here on was "
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
    /* the prover's proofs are ldg_seal_proof's, and each verifies */
    {
        struct ldg_seal_prover *pv;
        assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_READ, &t), 0);
        assert_int_equal(ldg_seal_prover_new(&pv, t), 0);
        for (uint64_t q = 0; q < size; q += (q < 100 ? 1 : 7)) {
            struct ldg_seal_proof a, b;
            struct ldg_keyinfo ki;
            assert_int_equal(ldg_seal_prover_proof(pv, q, &a), 0);
            assert_int_equal(ldg_seal_proof(t, q, &b), 0);
            assert_int_equal(a.seal_seq, b.seal_seq);
            assert_int_equal(a.leaf, b.leaf);
            assert_int_equal(a.n, b.n);
            assert_memory_equal(a.path, b.path, a.n * 32);
            assert_memory_equal(a.seal.root, b.seal.root, 32);
            assert_int_equal(
                ldg_seal_verify_inclusion(a.digest, a.leaf, a.seal.count,
                                          (const uint8_t(*)[32])a.path, a.n,
                                          a.seal.root),
                0);
            assert_int_equal(ldg_key_info(t, a.seal.key_id, &ki), 0);
            assert_int_equal(ldg_seal_verify(&a.seal, ki.pub), 0);
        }
        ldg_seal_prover_free(pv);
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
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
#define T1(name) cmocka_unit_test_setup_teardown(name, setup_v1, teardown)
#define TL1(name) cmocka_unit_test_setup_teardown(name, setup_l1, teardown)
#define TL2(name) cmocka_unit_test_setup_teardown(name, setup_l2, teardown)
#define TS(name) cmocka_unit_test_setup_teardown(name, setup_seals, teardown)
    const struct CMUnitTest tests[] = {
        T(test_verify__clean_log_passes_and_saves_position),
        T(test_verify__detects_flipped_bit_in_entry),
        T(test_verify__detects_flipped_bit_in_body),
        T(test_verify__detects_swapped_events),
        T(test_verify__detects_deleted_event),
        T(test_verify__detects_duplicated_event),
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
        T(test_verify__detects_replaced_index_keys),
        T(test_verify__layout_3_names_stray_index_records),
        T(test_verify__reads_ahead_while_it_runs),
        T(test_verify__counts_the_id_index),
        T(test_verify__a_finding_stands_until_a_full_verification_passes),
        T(test_verify__read_only_verify_records_nothing_until_asked),
        T(test_verify__plain_verify_sees_bodies_swapped_or_deleted_after_it),
        T(test_verify__detects_deleted_latest_checkpoint),
        T(test_verify__detects_tampered_key_registry),
        /* format 1 ledgers: the same tampering is caught as before */
        T1(test_verify__clean_log_passes_and_saves_position),
        T1(test_verify__detects_flipped_bit_in_entry),
        T1(test_verify__detects_flipped_bit_in_body),
        T1(test_verify__detects_swapped_events),
        T1(test_verify__detects_deleted_event),
        T1(test_verify__detects_duplicated_event),
        T1(test_verify__detects_event_resigned_with_wrong_key),
        T1(test_verify__tampered_registry_cannot_unrevoke_a_key),
        T1(test_verify__detects_event_signed_outside_its_key_roles),
        T1(test_verify__detects_truncated_tail_after_verified_run),
        T1(test_verify__late_erasure_and_first_finding_across_chunks),
        T1(test_verify__detects_stale_stored_tree_hash),
        /* store layout 1 */
        TL1(test_verify__clean_log_passes_and_saves_position),
        TL1(test_verify__detects_stale_stored_tree_hash),
        TL1(test_verify__detects_truncated_tail_after_verified_run),
        TL1(test_verify__detects_missing_index_entry),
        /* store layout 2: the indexes a key per event */
        TL2(test_verify__clean_log_passes_and_saves_position),
        TL2(test_verify__detects_missing_index_entry),
        TL2(test_verify__detects_replaced_index_keys),
        TL2(test_verify__counts_the_id_index),
        T1(test_verify__detects_deleted_latest_checkpoint),
        /* format 2: the seals */
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
