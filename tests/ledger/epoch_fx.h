/*
 * epoch_fx.h — the fixture of the epoch attacker's tests (test_epoch_log.c,
 * tests/export/test_verify_keys.c): a layout 9 ledger whose log key was
 * anchored and advanced twice, and the attacker's tools (the state file as
 * it is now, the log key): rewrite an event, re-seal it (by the current
 * epoch key, by the log key alone, or under its past epoch with a forged
 * signature), and rebuild the chain, tree and checkpoints after it.
 */
#ifndef LDG_TEST_EPOCH_FX_H
#define LDG_TEST_EPOCH_FX_H

#include "tests/ledger/verify_fx.h"

#include "ledger/crypto_int.h"
#include "ledger/epoch_int.h"
#include "ledger/tlog_int.h"

#define T0 2000000000000000000ull
#define SEC 1000000000ull

static uint64_t clock_ns;

/* Every epoch secret the box held on the way (from the state file). */
static uint8_t held[2048][32];
static size_t nheld;

static inline void
note_secrets(struct fx *f)
{
    char path[512], err[256];
    struct ldg_epoch_state *s = NULL;
    static const uint8_t zero[32];
    snprintf(path, sizeof path, "%s/keys/log.epochs", f->dir);
    if (ldg_epoch_file_load(path, &s, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_true(nheld + 33 <= sizeof held / sizeof held[0]);
    memcpy(held[nheld++], s->cur_seed, 32);
    for (int l = 0; l < 32; l++)
        if (memcmp(s->pend[l], zero, 32) != 0)
            memcpy(held[nheld++], s->pend[l], 32);
    ldg_epoch_state_free(s);
}

static inline void
append_at(struct fx *f, uint64_t t)
{
    clock_ns = t;
    t_append(f->l, "x.test", "{\"k\":1}", NULL);
    note_secrets(f);
}

/*
 * 1, 2 before the anchor; 3 key.anchored (60 s periods from T0 + 10 s);
 * 4, 5 in epoch 0.0; keys advance; 6 in epoch 0.1; 7 in epoch 2.0; keys
 * advance; 8 in epoch 2.1. Each its own commit and seal.
 */
static inline int
setup_epochs(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    uint64_t seq;
    f->l = t_ledger_new_layout(f->dir, sizeof f->dir, 0, 0, 9);
    ldg_set_clock(f->l, &clock_ns);
    nheld = 0;
    clock_ns = T0;
    t_append(f->l, "x.test", "{\"k\":1}", NULL); /* 1 */
    clock_ns = T0 + 5 * SEC;
    t_append(f->l, "x.test", "{\"k\":2}", NULL); /* 2 */
    clock_ns = T0 + 10 * SEC;
    assert_int_equal(ldg_keys_anchor(f->l, NULL, 60 * SEC, &seq), 0);
    assert_int_equal(seq, 3);
    note_secrets(f);
    append_at(f, T0 + 20 * SEC); /* 4 */
    append_at(f, T0 + 21 * SEC); /* 5 */
    clock_ns = T0 + 22 * SEC;
    assert_int_equal(ldg_keys_advance(f->l, NULL, NULL), 0);
    note_secrets(f);
    append_at(f, T0 + 23 * SEC);  /* 6 */
    append_at(f, T0 + 135 * SEC); /* 7: period 2 */
    clock_ns = T0 + 136 * SEC;
    assert_int_equal(ldg_keys_advance(f->l, NULL, NULL), 0);
    append_at(f, T0 + 137 * SEC); /* 8: epoch 2.1 */
    *state = f;
    return 0;
}

/* The attacker's tools: the state file as it is now, and the log key. */
static inline struct ldg_epoch_state *
current_state(struct fx *f)
{
    char path[512], err[256];
    struct ldg_epoch_state *s = NULL;
    snprintf(path, sizeof path, "%s/keys/log.epochs", f->dir);
    if (ldg_epoch_file_load(path, &s, err, sizeof err) != 0)
        fail_msg("%s", err);
    return s;
}

static inline struct ldg_event
get_event(struct fx *f, uint64_t seq)
{
    static uint8_t buf[LDG_ENTRY_MAX];
    struct ldg_event ev;
    size_t n = t_raw_get(f->l, "entries", seq, buf, sizeof buf);
    assert_int_equal(ldg_entry2_decode(buf, n, &ev), 0);
    return ev;
}

/* Rewrites event q's claim with another source time (which no index
 * holds): its digest, its one-event seal's root into root. */
static inline void
rewrite_time(struct fx *f, uint64_t q, uint8_t root[32])
{
    struct ldg_event ev = get_event(f, q);
    struct ldg_claim c;
    struct ldg_stamp st;
    uint8_t claim[LDG_ENTRY_MAX], entry[LDG_ENTRY_MAX];
    size_t cn, en;

    assert_int_equal(ldg_claim_decode(ev.signed_part, ev.signed_len, &c), 0);
    c.has_time = 1;
    c.time_ns = 1234567890;
    assert_int_equal(ldg_claim_encode(&c, claim, sizeof claim, &cn), 0);
    memset(&st, 0, sizeof st);
    ldg_claim_digest(st.digest, claim, cn);
    st.leaf = 0;
    st.seal = q;
    st.seq = q;
    st.ts = ev.ts_ns;
    assert_int_equal(
        ldg_entry2_encode(entry, sizeof entry, &en, claim, cn, &st, ev.prev),
        0);
    t_raw_put(f->l, "entries", q, entry, en);
    ldg_seal_root((const uint8_t(*)[32])st.digest, 1, root);
}

/* Prunes the events before hz (as `ledger prune` does, the archive's and
 * the state's digests aside). */
static inline void
prune_at(struct fx *f, uint64_t hz)
{
    struct ldg_txn *t;
    struct ldg_prune_stats ps;
    uint8_t zero[32] = {0};
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_WRITE, &t), 0);
    assert_int_equal(ldg_prune_txn(t, hz, zero, zero, 1, &ps), 0);
    assert_int_equal(ldg_txn_commit(t), 0);
}

/* Horizon record h as whoever holds the box can sign it again with the
 * log key: every key's anchor and epoch chain left out (as a development
 * build before 2026-11-29 wrote it). *rec is malloc'd, *len its bytes. */
static inline void
horizon_without_anchors(struct fx *f, struct ldg_horizon *h, uint8_t **rec,
                        size_t *len)
{
    size_t cap, n;

    for (size_t i = 0; i < h->nkeys; i++) {
        h->keys[i].anchored = 0;
        free(h->keys[i].epoch);
        h->keys[i].epoch = NULL;
        h->keys[i].epoch_len = 0;
    }
    cap = 1 + hz_map_cap(h) + 66;
    assert_non_null(*rec = malloc(cap));
    (*rec)[0] = 0x92;
    assert_int_equal(hz_map_encode(h, *rec + 1, cap - 67, &n), 0);
    assert_int_equal(ldg_log_secret_load(f->l), 0);
    assert_int_equal(ldg_ed25519_sign_ctx(*rec + 3 + n, LDG_CTX_HORIZON,
                                          *rec + 1, n, f->l->log_key),
                     0);
    (*rec)[1 + n] = 0xc4;
    (*rec)[2 + n] = 64;
    *len = n + 67;
}

/* Verifies the ledger whole. */
static inline void
verify_ok(struct fx *f)
{
    struct ldg_verify_report r;
    int rc = ldg_verify(f->l, LDG_VERIFY_FULL | LDG_VERIFY_NOSAVE, 0, &r, NULL,
                        NULL);
    if (rc != 0)
        fail_msg("verify: %d at %llu: %s", rc, (unsigned long long)r.bad_seq,
                 r.what);
}

enum forge { BY_CURRENT, NO_EPOCH, OLD_EPOCH_FORGED_SIG };

/* Re-seals event q (one event, key-local first `first`) over root with the
 * log key and, as `how` says, the epoch part. */
static inline void
reseal(struct fx *f, uint64_t q, const uint8_t root[32], enum forge how)
{
    struct ldg_epoch_state *st = current_state(f);
    struct ldg_seal s, old;
    uint8_t rec[LDG_SEAL_REC_MAX], map[LDG_SEAL_MAP_MAX], sig[64];
    static uint8_t ext[LDG_EPOCH_EXT_MAX];
    size_t n, mn;

    n = t_raw_get(f->l, "seals", q, rec, sizeof rec);
    assert_int_equal(ldg_seal_record_decode(rec, n, &old), 0);
    memset(&s, 0, sizeof s);
    s.count = 1;
    s.first = old.first;
    memcpy(s.key_id, old.key_id, sizeof s.key_id);
    memcpy(s.origin, old.origin, sizeof s.origin);
    memcpy(s.root, root, 32);
    assert_int_equal(ldg_log_secret_load(f->l), 0);
    assert_int_equal(ldg_seal_sign(&s, f->l->log_key), 0);
    assert_int_equal(ldg_seal_map_encode(&s, map, sizeof map, &mn), 0);
    assert_int_equal(ldg_epoch_seal_sign(st, map, mn, sig), 0);
    if (how == BY_CURRENT) {
        /* the whole path: as if it were the key's first epoch seal */
        s.ext_len = ldg_epoch_ext_encode(ext, st, sig, 0, 0);
        s.ext = ext;
    } else if (how == OLD_EPOCH_FORGED_SIG) {
        /* the past epoch's part as stored, the signature the current
         * key's */
        memcpy(ext, old.ext, old.ext_len);
        memcpy(ext + 8, sig, 64);
        s.ext = ext;
        s.ext_len = old.ext_len;
    }
    assert_int_equal(ldg_seal_record_encode(&s, rec, sizeof rec, &n), 0);
    t_raw_put(f->l, "seals", q, rec, n);
    ldg_epoch_state_free(st);
}

enum ckforge { CK_LOG_KEY_ONLY, CK_BY_CURRENT, CK_FORGED_SIG };

/* Signs the checkpoint of size again the attacker's way: with the log
 * key, and an epoch line as how says (the current epoch's, carrying the
 * certs from level l0 and the links after j0; or the stored line with its
 * signature changed). */
static inline void
resign_checkpoint(struct fx *f, uint64_t size, enum ckforge how, unsigned l0,
                  unsigned j0)
{
    static char note[65536];
    struct ldg_epoch_state *st = current_state(f);
    uint8_t raw[4 + LDG_EPOCH_EXT_MAX], sig[64];
    char name[LDG_ORIGIN_MAX + 8], *out = NULL;
    size_t n = t_raw_get(f->l, "checkpoints", size, (uint8_t *)note,
                         sizeof note - 1),
           tlen, len = 0;
    uint32_t id;

    note[n] = '\0';
    tlen = (size_t)(strstr(note, "\n\n") - note) + 1;
    assert_int_equal(ldg_log_secret_load(f->l), 0);
    assert_int_equal(ldg_note_sign(&out, note, tlen, f->l->origin,
                                   f->l->log_key),
                     0);
    id = ldg_epoch_note_key_id(f->l->origin, st->par.anchor, name,
                               sizeof name);
    ldg_be32(raw, id);
    if (how == CK_BY_CURRENT) {
        assert_int_equal(ldg_epoch_checkpoint_sign(st, note, tlen, sig), 0);
        len = ldg_epoch_ext_encode(raw + 4, st, sig, l0, j0);
    } else if (how == CK_FORGED_SIG) {
        assert_int_equal(ldg_note_sig_find(note, n, tlen, name, id, raw + 4,
                                           sizeof raw - 4, &len),
                         0);
        raw[4 + 8 + 5] ^= 0x20; /* (esig, after p and j) */
    }
    if (how != CK_LOG_KEY_ONLY)
        assert_int_equal(ldg_note_sig_append(&out, name, raw, 4 + len), 0);
    t_raw_put(f->l, "checkpoints", size, (const uint8_t *)out, strlen(out));
    free(out);
    ldg_epoch_state_free(st);
}

#endif
