/*
 * test_horizon.c — a pruned ledger's horizon record (ledger/horizon.c,
 * FORMAT.md 6.2), made through the retention API (ldg_retention_archive,
 * ldg_retention_prune with keep_days 0):
 *
 *   - the record round-trips: seq, first, ts_ns and leaf of event seq-1,
 *     the archive's SHA-256, the keys as ldg_keys_list saw them at the
 *     horizon (roles, held, sealed, added, revoked), in key id order; the
 *     stored bytes parse to the same record and verify with the log key;
 *   - ldg_horizon_parse refuses every truncation, a byte more, another map
 *     size, map keys out of order, first >= seq, seq 0, a number not in
 *     its shortest form; of every single-byte change (a set of values at
 *     each offset) what still decodes is canonical: the writer's encoder
 *     gives those very bytes (re-signed with the log key, the record
 *     verifies);
 *   - ldg_horizon_check_sig fails for each flipped byte of the map and of
 *     the signature;
 *   - ldg_event_get: LDG_EPRUNED before the horizon, 0 from it on;
 *     ldg_verify passes with report.horizon set;
 *   - verify fails naming the record when meta "horizon" is changed (its
 *     signature, its map, cut short) and when the checkpoint at the
 *     horizon is gone; ldg_projections_check_stored reports a "horizon"
 *     difference when proj.horizon's records are changed or deleted;
 *   - store layout 9: a prune drops the level-0 tiles before the one of
 *     its last event, and every proof of an event from there on, every
 *     consistency proof between sizes from there on, is the bytes it was
 *     before; what needs a dropped hash is LDG_EPRUNED, named; verify
 *     --full passes and counts the checkpoints it could not check; a
 *     second prune drops the next tiles; at layout 8 nothing is dropped.

 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ledger/crypto_int.h"
#include "ledger/keys_int.h"
#include "ledger/tree_int.h"
#include "projections/projections.h"
#include "retention/retention.h"
#include "tests/support/support.h"

#define HZ 15   /* the horizon: events 0..14 are pruned */
#define TAIL 5  /* events after it, before the prune's own */
#define NKEYS 4 /* the log key, alice, bob, carol (held by its writer) */

struct fx {
    char dir[256];
    char archive[300];
    struct ldg_ledger *l;
    struct ldg_event last; /* event HZ-1, before the prune */
    uint8_t last_leaf[32];
    uint64_t last_ts_ns;
    struct ldg_keyinfo *keys; /* ldg_keys_list at the horizon */
    size_t nkeys;
    struct ldg_prune_report pr;
    struct ldg_horizon h; /* ldg_horizon after the prune */
};

/* A check that once was a known bug (docs/TESTING.md): now it holds. */
static void
known(const char *id, int holds, const char *what)
{
    if (!holds)
        fail_msg("[%s] %s", id, what);
}

static int
prune(struct ldg_ledger *l, const struct ldg_prune_opts *o,
      struct ldg_prune_report *r)
{
    return ldg_retention_prune(l, o, r);
}

static void
prune_before(struct fx *f, uint64_t hz, const char *archive)
{
    struct ldg_archive_opts ao;
    struct ldg_archive_report ar;
    struct ldg_prune_opts po;
    char before[24];
    int rc;

    snprintf(before, sizeof before, "%llu", (unsigned long long)hz);
    memset(&ao, 0, sizeof ao);
    ao.before = before;
    ao.out = archive;
    if ((rc = ldg_retention_archive(f->l, &ao, &ar)) != 0)
        fail_msg("archive: %s (%s)", ldg_strerror(rc), ldg_errmsg(f->l));
    assert_int_equal(ar.h.horizon, hz);
    memset(&po, 0, sizeof po);
    po.before = before;
    po.archive = archive;
    po.keep_days = 0;
    if ((rc = prune(f->l, &po, &f->pr)) != 0)
        fail_msg("prune: %s (%s)", ldg_strerror(rc), ldg_errmsg(f->l));
    assert_memory_equal(f->pr.archive_sha256, ar.sha256, 32);
}

/*
 *   0        genesis
 *   1..3     key.added alice (model,run), bob (no roles), carol (held by
 *            its writer, enrolled with a public key)
 *   4        model.registered by alice
 *   5        pack.installed
 *   6        run.started by alice
 *   7..14    x.test.n (one commit)
 *   --- the horizon (15) ---
 *   15..19   x.test.n (one commit), then 20 ledger.pruned
 *
 * No key is revoked before the horizon here: see
 * test_horizon__prune_of_a_revoked_key for why.
 */
static int
setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    struct ldg_txn *t;
    /* carol's: the public key of the all-0x01 seed (its writer's) */
    static const uint8_t carol[32] = {
        0x8a, 0x88, 0xe3, 0xdd, 0x74, 0x09, 0xf1, 0x95, 0xfd, 0x52, 0xdb,
        0x2d, 0x3c, 0xba, 0x5d, 0x72, 0xca, 0x67, 0x09, 0xbf, 0x1d, 0x94,
        0x12, 0x1b, 0xf3, 0x74, 0x88, 0x01, 0xb4, 0x0f, 0x6f, 0x5c};

    assert_non_null(f);
    f->l = t_ledger_new(f->dir, sizeof f->dir, 0);
    assert_int_equal(ldg_keys_add(f->l, "alice", "model,run", NULL), 0);
    assert_int_equal(ldg_keys_add(f->l, "bob", NULL, NULL), 0);
    assert_int_equal(ldg_keys_enrol(f->l, "carol", "run", carol, NULL), 0);
    t_append(f->l, "model.registered",
             "{\"model\":\"m1\",\"digest\":\"sha256:aa\"}", "alice");
    t_append(f->l, "pack.installed",
             "{\"pack\":\"p1\",\"version\":\"1.0\","
             "\"manifest_digest\":\"sha256:bb\"}",
             NULL);
    t_append(f->l, "run.started", "{\"run\":\"R-1\",\"pack\":\"p1\"}", "alice");
    t_append_many(f->l, 8);
    assert_int_equal(ldg_keys_list(f->l, &f->keys, &f->nkeys), 0);
    assert_int_equal(f->nkeys, NKEYS);
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_READ, &t), 0);
    {
        uint64_t size;
        assert_int_equal(ldg_txn_size(t, &size), 0);
        assert_int_equal(size, HZ);
    }
    assert_int_equal(ldg_event_get(t, HZ - 1, &f->last), 0);
    memcpy(f->last_leaf, f->last.leaf, 32);
    f->last_ts_ns = f->last.ts_ns;
    ldg_txn_abort(t);
    t_append_many(f->l, TAIL);
    snprintf(f->archive, sizeof f->archive, "%s/a1.bundle", f->dir);
    prune_before(f, HZ, f->archive);
    assert_int_equal(ldg_horizon(f->l, &f->h), 0);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    ldg_horizon_release(&f->h);
    free(f->keys);
    ldg_close(f->l);
    t_rmrf(f->dir);
    free(f);
    return 0;
}

static const struct ldg_keyinfo *
key_named(const struct fx *f, const char *name)
{
    for (size_t i = 0; i < f->nkeys; i++)
        if (strcmp(f->keys[i].name, name) == 0)
            return &f->keys[i];
    fail_msg("no key %s", name);
    return NULL;
}

/* ------------------------------------------------------- round trip -- */

static void
test_horizon__record_round_trips(void **state)
{
    struct fx *f = *state;
    const struct ldg_horizon *h = &f->h;
    struct ldg_horizon p;
    char text[512];

    assert_int_equal(f->pr.h.horizon, HZ);
    assert_int_equal(f->pr.events, HZ);
    assert_int_equal(f->pr.pruned_seq, HZ + TAIL);
    assert_int_equal(h->seq, HZ);
    assert_int_equal(h->first, 0);
    assert_int_equal(h->ts_ns, f->last_ts_ns);
    assert_memory_equal(h->leaf, f->last_leaf, 32);
    assert_memory_equal(h->archive, f->pr.archive_sha256, 32);
    assert_string_equal(h->origin, "test.local/unit");
    assert_true(h->pruned_ns > 0);
    assert_int_equal(h->nkeys, NKEYS);
    for (size_t i = 0; i < h->nkeys; i++) {
        const struct ldg_horizon_key *k = &h->keys[i];
        const struct ldg_keyinfo *ki = key_named(f, k->name);
        if (i > 0) /* in increasing key id */
            assert_true(strcmp(h->keys[i - 1].key_id, k->key_id) < 0);
        assert_string_equal(k->key_id, ki->key_id);
        assert_memory_equal(k->pub, ki->pub, 32);
        assert_int_equal(k->added, ki->added_seq);
        assert_int_equal(k->revoked, ki->revoked_seq);
        assert_string_equal(k->roles, ki->roles);
        assert_int_equal(k->sealed, ki->sealed);
        assert_string_equal(k->held, ki->writer_held ? "writer" : "");
    }
    assert_string_equal(
        ldg_horizon_key_find(h, key_named(f, "log")->key_id)->roles, "*");
    assert_string_equal(
        ldg_horizon_key_find(h, key_named(f, "alice")->key_id)->roles,
        "model,run");
    assert_int_equal(
        ldg_horizon_key_find(h, key_named(f, "alice")->key_id)->sealed, 2);
    assert_string_equal(
        ldg_horizon_key_find(h, key_named(f, "bob")->key_id)->roles, "");
    assert_int_equal(
        ldg_horizon_key_find(h, key_named(f, "bob")->key_id)->revoked,
        UINT64_MAX);
    assert_string_equal(
        ldg_horizon_key_find(h, key_named(f, "carol")->key_id)->held, "writer");
    /* the stored bytes: they parse to the same record, signed */
    assert_non_null(h->record);
    assert_int_equal(ldg_horizon_parse(h->record, h->record_len, &p), 0);
    assert_int_equal(p.seq, h->seq);
    assert_int_equal(p.ts_ns, h->ts_ns);
    assert_int_equal(p.nkeys, h->nkeys);
    assert_memory_equal(p.keys, h->keys, h->nkeys * sizeof *h->keys);
    assert_memory_equal(p.sig, h->sig, 64);
    assert_null(p.record);
    assert_int_equal(ldg_horizon_check_sig(&p, f->l->log_key->pub), 0);
    assert_int_equal(ldg_horizon_check_sig(&p, key_named(f, "alice")->pub),
                     LDG_EBADSIG);
    ldg_horizon_release(&p);
    ldg_horizon_describe(h, text, sizeof text);
    assert_non_null(strstr(text, "events 0..14 "));
    assert_non_null(strstr(text, "into the archive with SHA-256 "));
}

/* -------------------------------------------------------- decoding -- */

static void
test_horizon__parse_refuses_every_truncation(void **state)
{
    struct fx *f = *state;
    const struct ldg_horizon *h = &f->h;
    uint8_t *b = malloc(h->record_len + 1);
    struct ldg_horizon p;

    assert_non_null(b);
    memcpy(b, h->record, h->record_len);
    for (size_t n = 0; n < h->record_len; n++) {
        if (ldg_horizon_parse(b, n, &p) != LDG_ECORRUPT)
            fail_msg("the record's first %zu of %zu bytes decode", n,
                     h->record_len);
        assert_null(p.keys);
    }
    b[h->record_len] = 0x00;
    assert_int_equal(ldg_horizon_parse(b, h->record_len + 1, &p), LDG_ECORRUPT);
    assert_int_equal(ldg_horizon_parse(NULL, 0, &p), LDG_EINVAL);
    free(b);
}

/* The offset of map key name (a fixstr) in the record's top-level map:
 * its header byte. */
static size_t
field_at(const uint8_t *rec, size_t len, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 2; i + 1 + n <= len; i++)
        if (rec[i] == (0xa0 | n) && memcmp(rec + i + 1, name, n) == 0)
            return i;
    fail_msg("no field %s in the record", name);
    return 0;
}

static int
parses(const uint8_t *b, size_t n)
{
    struct ldg_horizon p;
    int rc = ldg_horizon_parse(b, n, &p);
    ldg_horizon_release(&p);
    return rc;
}

static void
test_horizon__parse_refuses_what_breaks_canonical_form(void **state)
{
    struct fx *f = *state;
    const uint8_t *r = f->h.record;
    size_t len = f->h.record_len, at_first, at_seq, at_archive, at_keys;
    uint8_t *b = malloc(len + 64);

    assert_non_null(b);
    assert_int_equal(parses(r, len), 0);
    /* another map size */
    for (int m = 0x80; m <= 0x8f; m++) {
        memcpy(b, r, len);
        b[1] = (uint8_t)m;
        if (m != 0x89)
            assert_int_equal(parses(b, len), LDG_ECORRUPT);
    }
    /* "first": 0 is one byte after its name; first = seq, > seq */
    at_first = field_at(r, len, "first") + 6;
    assert_int_equal(r[at_first], 0x00);
    memcpy(b, r, len);
    b[at_first] = HZ;
    assert_int_equal(parses(b, len), LDG_ECORRUPT);
    b[at_first] = HZ + 1;
    assert_int_equal(parses(b, len), LDG_ECORRUPT);
    b[at_first] = HZ - 1; /* decodes: the signature says the rest */
    assert_int_equal(parses(b, len), 0);
    /* "seq" 0 */
    at_seq = field_at(r, len, "seq") + 4;
    assert_int_equal(r[at_seq], HZ);
    memcpy(b, r, len);
    b[at_seq] = 0x00;
    assert_int_equal(parses(b, len), LDG_ECORRUPT);
    /* "seq" as 0xcc 16: not the shortest form */
    memcpy(b, r, at_seq);
    b[at_seq] = 0xcc;
    memcpy(b + at_seq + 1, r + at_seq, len - at_seq);
    assert_int_equal(parses(b, len + 1), LDG_ECORRUPT);
    /* map keys out of order: "first" 0 before "archive" */
    at_archive = field_at(r, len, "archive");
    assert_int_equal(at_archive, 2);
    at_keys = field_at(r, len, "keys");
    memcpy(b, r, len);
    memcpy(b + 2, r + at_first - 6, 7);                       /* "first" 0 */
    memcpy(b + 9, r + at_archive, at_first - 6 - at_archive); /* "archive" */
    assert_int_equal(at_first + 1, at_keys);
    assert_int_equal(parses(b, len), LDG_ECORRUPT);
    /* an unknown key in place of one */
    memcpy(b, r, len);
    b[at_archive + 1] = 'A';
    assert_int_equal(parses(b, len), LDG_ECORRUPT);
    /* a signature of 63 bytes, or not a bin8 */
    memcpy(b, r, len);
    b[len - 65] = 63;
    assert_int_equal(parses(b, len), LDG_ECORRUPT);
    b[len - 65] = 64;
    b[len - 66] = 0xc5;
    assert_int_equal(parses(b, len), LDG_ECORRUPT);
    free(b);
}

/* Keys out of id order: bob's and carol's maps swapped, re-signed. */
static void
test_horizon__parse_refuses_keys_out_of_id_order(void **state)
{
    struct fx *f = *state;
    const uint8_t *r = f->h.record;
    size_t len = f->h.record_len, at[NKEYS + 1];
    uint8_t *b = malloc(len), *map;
    size_t at_keys, k = 0, maplen = len - 67;
    int rc;

    assert_non_null(b);
    /* each key map starts 0x88 0xa5 "added" */
    at_keys = field_at(r, len, "keys") + 5 + 1;
    for (size_t i = at_keys; i + 7 < len && k < NKEYS; i++)
        if (memcmp(r + i,
                   "\x88\xa5"
                   "added",
                   7) == 0)
            at[k++] = i;
    assert_int_equal(k, NKEYS);
    at[NKEYS] = field_at(r, len, "leaf");
    /* keys 0 and 1 swapped */
    memcpy(b, r, len);
    memcpy(b + at[0], r + at[1], at[2] - at[1]);
    memcpy(b + at[0] + (at[2] - at[1]), r + at[0], at[1] - at[0]);
    map = b + 1;
    assert_int_equal(ldg_log_secret_load(f->l), 0);
    assert_int_equal(ldg_ed25519_sign_ctx(b + len - 64, LDG_CTX_HORIZON, map,
                                          maplen, f->l->log_key),
                     0);
    rc = parses(b, len);
    known("horizon-key-order", rc == LDG_ECORRUPT,
          "a record with its keys out of key id order (signed by the log "
          "key) decodes");
    free(b);
}

/* Every value of a set at every offset: what still decodes is the
 * writer's own encoding of what it decoded (re-signed with the log key,
 * the changed record verifies), and names a seq > 0 with first < seq. */
static void
test_horizon__a_changed_byte_that_decodes_is_canonical(void **state)
{
    static const uint8_t vals[] = {0x00, 0x01, 0x0f, 0x10, 0x7f, 0x80, 0x88,
                                   0x89, 0x8a, 0x90, 0x93, 0x94, 0xa0, 0xa2,
                                   0xbf, 0xc4, 0xc5, 0xcc, 0xcd, 0xce, 0xcf,
                                   0xd9, 0xda, 0xdc, 0xff};
    struct fx *f = *state;
    const uint8_t *r = f->h.record;
    size_t len = f->h.record_len, decoded = 0;
    uint8_t *b = malloc(len);

    assert_non_null(b);
    assert_int_equal(ldg_log_secret_load(f->l), 0);
    for (size_t i = 0; i < len - 64; i++) {
        for (size_t v = 0; v < sizeof vals + 2; v++) {
            struct ldg_horizon p;
            uint8_t val =
                v < sizeof vals
                    ? vals[v]
                    : (uint8_t)(r[i] ^ (v == sizeof vals ? 0x01 : 0x20));
            int rc;
            if (val == r[i])
                continue;
            memcpy(b, r, len);
            b[i] = val;
            rc = ldg_horizon_parse(b, len, &p);
            if (rc != 0) {
                assert_int_equal(rc, LDG_ECORRUPT);
                continue;
            }
            decoded++;
            assert_true(p.seq > 0 && p.first < p.seq);
            /* the map as changed, signed: verifies only if the decoded
             * record encodes to exactly these bytes */
            assert_int_equal(ldg_ed25519_sign_ctx(p.sig, LDG_CTX_HORIZON, b + 1,
                                                  len - 67, f->l->log_key),
                             0);
            if (ldg_horizon_check_sig(&p, f->l->log_key->pub) != 0)
                fail_msg("byte %zu = 0x%02x decodes to a record that "
                         "encodes otherwise",
                         i, val);
            ldg_horizon_release(&p);
        }
    }
    assert_true(decoded > 0); /* hashes, strings, numbers in place */
    free(b);
}

/* ------------------------------------------------------- signature -- */

static void
test_horizon__check_sig_fails_for_each_flipped_byte(void **state)
{
    struct fx *f = *state;
    const uint8_t *r = f->h.record;
    size_t len = f->h.record_len, decoded = 0;
    uint8_t *b = malloc(len);

    assert_non_null(b);
    for (size_t i = 1; i < len; i++) {
        struct ldg_horizon p;
        memcpy(b, r, len);
        b[i] ^= 0x01;
        if (ldg_horizon_parse(b, len, &p) != 0)
            continue; /* refused: never reaches the signature */
        decoded++;
        if (ldg_horizon_check_sig(&p, f->l->log_key->pub) != LDG_EBADSIG)
            fail_msg("byte %zu flipped: the signature still verifies", i);
        ldg_horizon_release(&p);
    }
    /* every byte of the signature, at least */
    assert_true(decoded >= 64);
    free(b);
}

/* ---------------------------------------------------------- reading -- */

static void
test_horizon__pruned_events_are_epruned_kept_ones_read(void **state)
{
    struct fx *f = *state;
    struct ldg_txn *t;
    struct ldg_event ev;

    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_READ, &t), 0);
    for (uint64_t s = 0; s < HZ; s++)
        assert_int_equal(ldg_event_get(t, s, &ev), LDG_EPRUNED);
    for (uint64_t s = HZ; s <= HZ + TAIL; s++)
        assert_int_equal(ldg_event_get(t, s, &ev), 0);
    assert_int_equal(ldg_event_get(t, HZ + TAIL + 1, &ev), LDG_ENOTFOUND);
    assert_int_equal(ldg_event_get(t, HZ + TAIL, &ev), 0);
    assert_string_equal(ev.type, "ledger.pruned");
    ldg_txn_abort(t);
}

static void
test_horizon__verify_passes_from_the_horizon(void **state)
{
    struct fx *f = *state;
    struct ldg_verify_report r;

    if (ldg_verify(f->l, LDG_VERIFY_FULL | LDG_VERIFY_NOSAVE, 0, &r, NULL,
                   NULL) != 0)
        fail_msg("verify --full: %s at %llu", r.what,
                 (unsigned long long)r.bad_seq);
    assert_int_equal(r.horizon, HZ);
    assert_int_equal(r.to, HZ + TAIL + 1);
    assert_int_equal(r.checked, TAIL + 1);
    assert_true(r.checkpoints >= 1);
    assert_int_equal(ldg_verify(f->l, 0, 0, &r, NULL, NULL), 0);
    assert_int_equal(r.horizon, HZ);
}

/* ------------------------------------------------------- tampering -- */

static void
meta_put(struct fx *f, const uint8_t *rec, size_t n)
{
    struct ldg_txn *t;
    ldg_dbi dbi;
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_WRITE, &t), 0);
    assert_int_equal(ldg_db_open(t, "meta", 0, &dbi), 0);
    assert_int_equal(ldg_core_kv_put(t, dbi, LDG_META_HORIZON,
                                     strlen(LDG_META_HORIZON), rec, n),
                     0);
    assert_int_equal(ldg_txn_commit(t), 0);
}

/* verify (full or not) fails at event bad, saying word. */
static void
verify_names(struct fx *f, unsigned flags, uint64_t bad, const char *word)
{
    struct ldg_verify_report r;
    int rc = ldg_verify(f->l, flags | LDG_VERIFY_NOSAVE, 0, &r, NULL, NULL);
    if (rc != LDG_ETAMPER)
        fail_msg("verify: %s, expected a finding naming '%s' (%s)",
                 ldg_strerror(rc), word, r.what);
    if (strstr(r.what, word) == NULL)
        fail_msg("verify says '%s', not '%s'", r.what, word);
    assert_int_equal(r.bad_seq, bad);
}

static void
test_horizon__verify_names_a_changed_record(void **state)
{
    struct fx *f = *state;
    size_t len = f->h.record_len;
    uint8_t *b = malloc(len);

    assert_non_null(b);
    /* its signature's last byte */
    memcpy(b, f->h.record, len);
    b[len - 1] ^= 0x01;
    meta_put(f, b, len);
    verify_names(f, LDG_VERIFY_FULL, HZ - 1,
                 "the horizon record's signature does not verify");
    verify_names(f, 0, HZ - 1, "the horizon record's signature");
    /* a byte of the archive's hash, in the map */
    memcpy(b, f->h.record, len);
    b[field_at(b, len, "archive") + 10] ^= 0x01;
    meta_put(f, b, len);
    verify_names(f, LDG_VERIFY_FULL, HZ - 1,
                 "the horizon record's signature does not verify");
    /* cut short: it does not decode */
    meta_put(f, f->h.record, len - 1);
    verify_names(f, LDG_VERIFY_FULL, 0, "the horizon record does not decode");
    /* put back: it passes again */
    meta_put(f, f->h.record, len);
    {
        struct ldg_verify_report r;
        if (ldg_verify(f->l, LDG_VERIFY_FULL | LDG_VERIFY_NOSAVE, 0, &r, NULL,
                       NULL) != 0)
            fail_msg("verify --full of the record put back: %s at %llu", r.what,
                     (unsigned long long)r.bad_seq);
    }
    free(b);
}

static void
test_horizon__verify_names_the_checkpoint_at_the_horizon_gone(void **state)
{
    struct fx *f = *state;
    t_raw_del(f->l, "checkpoints", HZ);
    verify_names(f, LDG_VERIFY_FULL, HZ - 1,
                 "no signed checkpoint at the horizon's size 15");
}

/* ldg_projections_check_stored's differences: how many name the
 * projection "horizon". */
static size_t
horizon_diffs(struct fx *f)
{
    json_t *d = NULL, *v;
    uint64_t n = 0;
    unsigned checked = 0;
    size_t i, hits = 0;
    assert_int_equal(
        ldg_projections_check_stored(f->l, NULL, NULL, &d, &n, &checked), 0);
    assert_non_null(d);
    json_array_foreach(d, i, v)
    {
        const char *p = json_string_value(json_object_get(v, "projection"));
        if (p != NULL && strcmp(p, "horizon") == 0)
            hits++;
    }
    json_decref(d);
    return hits;
}

/* proj.horizon: op 0 flips the last byte of each record of projection
 * index < 0xfe (the verified index's keys aside), 1 deletes the first. */
static size_t
proj_horizon_tamper(struct fx *f, int op)
{
    struct ldg_txn *t;
    struct ldg_cursor *c;
    struct ldg_val k, v;
    ldg_dbi dbi;
    size_t n = 0;
    int rc;

    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_WRITE, &t), 0);
    assert_int_equal(ldg_db_open(t, "proj.horizon", 0, &dbi), 0);
    assert_int_equal(ldg_cursor_open(t, dbi, &c), 0);
    for (rc = ldg_cursor_get(c, LDG_FIRST, NULL, 0, &k, &v); rc == 0;
         rc = ldg_cursor_get(c, LDG_NEXT, NULL, 0, &k, &v)) {
        uint8_t key[512], val[4096];
        size_t kl = k.len, vl = v.len;
        if (kl < 2 || ((const uint8_t *)k.data)[0] >= 0xfe || vl == 0)
            continue;
        assert_true(kl <= sizeof key && vl <= sizeof val);
        memcpy(key, k.data, kl);
        memcpy(val, v.data, vl);
        n++;
        ldg_cursor_close(c);
        if (op == 1) {
            assert_int_equal(ldg_kv_del(t, dbi, key, kl, NULL, 0), 0);
        } else {
            val[vl - 1] ^= 0x01;
            assert_int_equal(ldg_kv_put(t, dbi, key, kl, val, vl), 0);
        }
        break;
    }
    if (n == 0)
        ldg_cursor_close(c);
    assert_int_equal(ldg_txn_commit(t), 0);
    return n;
}

static void
test_horizon__check_stored_names_changed_proj_horizon(void **state)
{
    struct fx *f = *state;
    assert_int_equal(horizon_diffs(f), 0);
    assert_int_equal(proj_horizon_tamper(f, 0), 1);
    assert_int_equal(horizon_diffs(f), 1);
}

static void
test_horizon__check_stored_names_deleted_proj_horizon(void **state)
{
    struct fx *f = *state;
    assert_int_equal(horizon_diffs(f), 0);
    assert_int_equal(proj_horizon_tamper(f, 1), 1);
    assert_int_equal(horizon_diffs(f), 1);
}

/* -------------------------------------------------- a second prune -- */

static void
test_horizon__second_prune_names_its_first(void **state)
{
    struct fx *f = *state;
    struct ldg_horizon h2;
    struct ldg_verify_report r;
    char a2[320];
    uint64_t hz2 = HZ + TAIL; /* the commit of the tail ends there */

    snprintf(a2, sizeof a2, "%s/a2.bundle", f->dir);
    prune_before(f, hz2, a2);
    assert_int_equal(ldg_horizon(f->l, &h2), 0);
    assert_int_equal(h2.seq, hz2);
    assert_int_equal(h2.first, HZ);
    assert_int_equal(h2.nkeys, NKEYS);
    /* the keys as they stood: the first record's, with more sealed */
    for (size_t i = 0; i < NKEYS; i++) {
        assert_string_equal(h2.keys[i].key_id, f->h.keys[i].key_id);
        assert_string_equal(h2.keys[i].roles, f->h.keys[i].roles);
        assert_true(h2.keys[i].sealed >= f->h.keys[i].sealed);
    }
    assert_int_equal(ldg_horizon_check_sig(&h2, f->l->log_key->pub), 0);
    assert_int_equal(ldg_verify(f->l, LDG_VERIFY_FULL | LDG_VERIFY_NOSAVE, 0,
                                &r, NULL, NULL),
                     0);
    assert_int_equal(r.horizon, hz2);
    ldg_horizon_release(&h2);
}

/* ------------------------------------------------- a revoked key -- */

static int
by_key_id(const void *a, const void *b)
{
    return strcmp(((const struct ldg_keyinfo *)a)->key_id,
                  ((const struct ldg_keyinfo *)b)->key_id);
}

/* Four actor keys; the one second in key id order is revoked before the
 * horizon, so in ix.subject its "key:ID" (key.added, key.revoked) comes
 * right after the first one's (key.added alone). The record names the
 * revocation; the prune must remove every index record of the pruned
 * events, which verify --full counts. */
static void
test_horizon__prune_of_a_revoked_key(void **state)
{
    char dir[256], archive[300], name[16];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_keyinfo *keys = NULL, actors[4];
    struct ldg_archive_opts ao;
    struct ldg_archive_report ar;
    struct ldg_prune_opts po;
    struct ldg_prune_report pr;
    struct ldg_verify_report r;
    struct ldg_horizon h;
    const struct ldg_horizon_key *hk;
    uint64_t revoked_seq = 0;
    size_t n = 0, na = 0;
    int rc;

    (void)state;
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "k%d", i % 10);
        assert_int_equal(ldg_keys_add(l, name, NULL, NULL), 0);
    }
    assert_int_equal(ldg_keys_list(l, &keys, &n), 0);
    for (size_t i = 0; i < n; i++)
        if (keys[i].added_seq > 0)
            actors[na++] = keys[i];
    assert_int_equal(na, 4);
    qsort(actors, na, sizeof actors[0], by_key_id);
    assert_int_equal(ldg_keys_revoke(l, actors[1].name, "test", &revoked_seq),
                     0);
    t_append_many(l, 3); /* 6..8; the horizon: 9 */
    t_append_many(l, 2);
    snprintf(archive, sizeof archive, "%s/a.bundle", dir);
    memset(&ao, 0, sizeof ao);
    ao.before = "9";
    ao.out = archive;
    assert_int_equal(ldg_retention_archive(l, &ao, &ar), 0);
    memset(&po, 0, sizeof po);
    po.before = "9";
    po.archive = archive;
    assert_int_equal(prune(l, &po, &pr), 0);
    assert_int_equal(ldg_horizon(l, &h), 0);
    assert_int_equal(h.seq, 9);
    assert_non_null(hk = ldg_horizon_key_find(&h, actors[1].key_id));
    assert_int_equal(hk->revoked, revoked_seq);
    assert_non_null(hk = ldg_horizon_key_find(&h, actors[0].key_id));
    assert_int_equal(hk->revoked, UINT64_MAX);
    ldg_horizon_release(&h);
    rc = ldg_verify(l, LDG_VERIFY_FULL | LDG_VERIFY_NOSAVE, 0, &r, NULL, NULL);
    if (rc != 0)
        print_message("verify --full: %s\n", r.what);
    known("horizon-prune-stale-index", rc == 0,
          "after a prune, verify --full finds an index record of a pruned "
          "event (ix.subject \"key:ID\" of the revoked key's key.added)");
    free(keys);
    ldg_close(l);
    t_rmrf(dir);
}

/* ---------------------------------------------------- a large record -- */

/* Keys of 64-byte names and 255 bytes of roles: the record is larger
 * than horizon.c's estimate (map_cap) once there are enough of them. */
static void
test_horizon__prune_of_keys_with_long_names_and_roles(void **state)
{
    char dir[256], archive[300], name[LDG_NAME_MAX + 1], roles[256] = "";
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_archive_opts ao;
    struct ldg_archive_report ar;
    struct ldg_prune_opts po;
    struct ldg_prune_report pr;
    int rc;

    (void)state;
    while (strlen(roles) + strlen("control-plane,") + 3 <= 255)
        strcat(roles, "control-plane,");
    strcat(roles, "any");
    assert_int_equal(strlen(roles), 255);
    for (unsigned i = 0; i < 48; i++) {
        memset(name, 'n', LDG_NAME_MAX);
        snprintf(name + LDG_NAME_MAX - 2, 3, "%02u", i % 100);
        if ((rc = ldg_keys_add(l, name, roles, NULL)) != 0)
            fail_msg("keys add %s: %s (%s)", name, ldg_strerror(rc),
                     ldg_errmsg(l));
    }
    t_append_many(l, 3);
    t_append_many(l, 2);
    snprintf(archive, sizeof archive, "%s/a.bundle", dir);
    memset(&ao, 0, sizeof ao);
    ao.before = "52";
    ao.out = archive;
    assert_int_equal(ldg_retention_archive(l, &ao, &ar), 0);
    memset(&po, 0, sizeof po);
    po.before = "52";
    po.archive = archive;
    rc = prune(l, &po, &pr);
    known("horizon-map-cap", rc == 0,
          "a prune of 48 keys with 64-byte names and 255 bytes of roles "
          "fails (LDG_ETOOBIG: horizon.c's map_cap is below the record)");
    if (rc == 0) {
        struct ldg_horizon h;
        assert_int_equal(ldg_horizon(l, &h), 0);
        assert_int_equal(h.nkeys, 49);
        assert_int_equal(ldg_horizon_check_sig(&h, l->log_key->pub), 0);
        ldg_horizon_release(&h);
    }
    ldg_close(l);
    t_rmrf(dir);
}

/* ---------------------------------- store layout 9 (issue 64, 6) -- */

/* Commits of these sizes after genesis: sizes 1, 2, 39, 294, 550, 850, 857,
 * 1024, 1536, 1636, 1638, 1893, 2406, 2806, 2935, 3185, 3215. */
static const int l999_commits[] = {1,   37,  255, 256, 300, 7,   167, 512,
                                   100, 2,   255, 513, 400, 129, 250, 30};
#define L999_SIZE 3215
#define L999_HZ 2806   /* a commit's end, at about 90% */
#define L999_KEPT 2560 /* floor((HZ-1)/256)*256: the first kept leaf */
#define L999_HZ2 3185
#define L999_KEPT2 3072

static struct ldg_ledger *
l999_ledger(char *dir, size_t cap, unsigned layout)
{
    struct ldg_ledger *l = t_ledger_new_layout(dir, cap, 0, 0, layout);
    for (size_t i = 0; i < sizeof l999_commits / sizeof l999_commits[0]; i++)
        t_append_many(l, l999_commits[i]);
    return l;
}

static void
l999_prune(struct ldg_ledger *l, const char *dir, uint64_t hz, const char *name,
           struct ldg_prune_report *pr)
{
    struct ldg_archive_opts ao;
    struct ldg_archive_report ar;
    struct ldg_prune_opts po;
    char before[24], path[400];
    int rc;

    snprintf(before, sizeof before, "%llu", (unsigned long long)hz);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    memset(&ao, 0, sizeof ao);
    ao.before = before;
    ao.out = path;
    if ((rc = ldg_retention_archive(l, &ao, &ar)) != 0)
        fail_msg("archive: %s (%s)", ldg_strerror(rc), ldg_errmsg(l));
    assert_int_equal(ar.h.horizon, hz);
    memset(&po, 0, sizeof po);
    po.before = before;
    po.archive = path;
    if ((rc = ldg_retention_prune(l, &po, pr)) != 0)
        fail_msg("prune: %s (%s)", ldg_strerror(rc), ldg_errmsg(l));
}

/* Every proof the log gives at size n of events from `from` on, and
 * every consistency proof into n from a size from `from` on (and from
 * the multiples of 256 before it), one string each, in a fixed order;
 * NULL where there is none (rc in *rcs). */
struct l999_proofs {
    size_t n;
    char **text;
    int *rc;
};

static void
l999_collect(struct ldg_ledger *l, uint64_t from, struct l999_proofs *p)
{
    static const uint64_t sizes[] = {L999_HZ, 2935, L999_HZ2, L999_SIZE};
    struct ldg_txn *t;
    size_t cap = 0;

    memset(p, 0, sizeof *p);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        cap += 2 * (sizes[i] + 1);
    p->text = calloc(cap, sizeof *p->text);
    p->rc = calloc(cap, sizeof *p->rc);
    assert_non_null(p->text);
    assert_non_null(p->rc);
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        uint64_t n = sizes[i];
        for (uint64_t s = from; s < n; s++) {
            p->rc[p->n] = ldg_proof_text(t, s, n, &p->text[p->n]);
            p->n++;
        }
        for (uint64_t old = 0; old <= n; old++) {
            if (old < from && old % LDG_TILE_WIDTH != 0)
                continue;
            p->rc[p->n] = ldg_consistency_text(t, old, n, &p->text[p->n]);
            p->n++;
        }
    }
    ldg_txn_abort(t);
    assert_true(p->n <= cap);
}

static void
l999_release(struct l999_proofs *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->text[i]);
    free(p->text);
    free(p->rc);
}

static void
l999_same(const struct l999_proofs *a, const struct l999_proofs *b)
{
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        if (a->rc[i] != 0 || b->rc[i] != 0)
            fail_msg("proof %zu: %s before, %s after", i,
                     ldg_strerror(a->rc[i]), ldg_strerror(b->rc[i]));
        assert_string_equal(a->text[i], b->text[i]);
    }
}

/* What a prune needs of the tree at store layout 9: the proofs of
 * every event from the first kept leaf on and the consistency proofs
 * between its sizes are the same bytes as before the prune; a proof
 * that needs a dropped hash is LDG_EPRUNED with a message naming the
 * archive; verify --full checks the rest and counts what it could not; a
 * second prune drops the next tiles. */
static void
test_horizon__layout_9_prune_drops_only_what_proofs_of_pruned_need(
    void **state)
{
    struct l999_proofs before, after;
    struct ldg_prune_report pr;
    struct ldg_verify_report r;
    struct ldg_txn *t;
    uint8_t tile[LDG_TILE_BYTES];
    char dir[256], *text = NULL;
    uint64_t size, kept;
    struct ldg_ledger *l;
    (void)state;

    l = l999_ledger(dir, sizeof dir, 9);
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_txn_size(t, &size), 0);
    assert_int_equal(size, L999_SIZE);
    assert_int_equal(ldg_checkpoint_floor(t, L999_SIZE * 9 / 10, &size), 0);
    assert_int_equal(size, L999_HZ);
    ldg_txn_abort(t);
    l999_collect(l, L999_KEPT, &before);
    l999_prune(l, dir, L999_HZ, "a1.seg", &pr);
    assert_int_equal(pr.tiles, L999_KEPT / LDG_TILE_WIDTH);
    l999_collect(l, L999_KEPT, &after);
    l999_same(&before, &after);
    l999_release(&before);
    l999_release(&after);

    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_tree_kept_from(t, &kept), 0);
    assert_int_equal(kept, L999_KEPT);
    /* the dropped tiles are gone; the one of the last pruned event and
     * every later one stays */
    for (uint64_t n = 0; n < L999_SIZE / LDG_TILE_WIDTH; n++)
        assert_int_equal(ldg_tree_tile_get(t, 0, n, tile),
                         n < L999_KEPT / LDG_TILE_WIDTH ? LDG_ENOTFOUND : 0);
    /* what needs a dropped hash says so, naming the archive */
    assert_int_equal(ldg_proof_text(t, 5, 0, &text), LDG_EPRUNED);
    assert_null(text);
    assert_non_null(strstr(ldg_errmsg(l), "no inclusion proof of event 5"));
    assert_non_null(strstr(ldg_errmsg(l), "store layout 9"));
    assert_non_null(strstr(ldg_errmsg(l), "into the archive with SHA-256"));
    assert_int_equal(ldg_proof_text(t, L999_KEPT - 1, 0, &text), LDG_EPRUNED);
    assert_int_equal(ldg_consistency_text(t, 1000, 0, &text), LDG_EPRUNED);
    assert_non_null(
        strstr(ldg_errmsg(l), "no consistency proof from size 1000"));
    assert_int_equal(ldg_consistency_text(t, L999_KEPT - 1, 0, &text),
                     LDG_EPRUNED);
    /* a pruned event of the kept tile still has its proof */
    assert_int_equal(ldg_proof_text(t, L999_KEPT, 0, &text), 0);
    free(text);
    assert_int_equal(ldg_proof_text(t, L999_HZ - 1, 0, &text), 0);
    free(text);
    ldg_txn_abort(t);

    /* verify --full: the kept part, and what it did not check counted
     * (the checkpoints 1 (genesis), 2, 39, 294, 550, 850, 857, 1636, 1638,
     * 1893 and 2406; 1024 and 1536 are checked from the level-8 hashes) */
    if (ldg_verify(l, LDG_VERIFY_FULL, 0, &r, NULL, NULL) != 0)
        fail_msg("verify --full: %s at %llu", r.what,
                 (unsigned long long)r.bad_seq);
    assert_int_equal(r.tree_from, L999_KEPT);
    assert_int_equal(r.checkpoints_unchecked, 11);
    assert_int_equal(ldg_verify(l, 0, 0, &r, NULL, NULL), 0);

    /* a second prune: the tiles up to the new one of its last event */
    l999_prune(l, dir, L999_HZ2, "a2.seg", &pr);
    assert_int_equal(pr.tiles, (L999_KEPT2 - L999_KEPT) / LDG_TILE_WIDTH);
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_tree_kept_from(t, &kept), 0);
    assert_int_equal(kept, L999_KEPT2);
    assert_int_equal(ldg_proof_text(t, L999_KEPT2 - 1, 0, &text),
                     LDG_EPRUNED);
    assert_int_equal(ldg_proof_text(t, L999_KEPT2, 0, &text), 0);
    free(text);
    ldg_txn_abort(t);
    if (ldg_verify(l, LDG_VERIFY_FULL, 0, &r, NULL, NULL) != 0)
        fail_msg("verify --full after the second prune: %s at %llu", r.what,
                 (unsigned long long)r.bad_seq);
    assert_int_equal(r.tree_from, L999_KEPT2);
    ldg_close(l);
    t_rmrf(dir);
}

/* At a released layout a prune keeps every tree hash, as before. */
static void
test_horizon__layout_8_prune_keeps_every_tree_hash(void **state)
{
    struct ldg_prune_report pr;
    struct ldg_verify_report r;
    struct ldg_txn *t;
    char dir[256], *text = NULL;
    uint64_t kept = 1;
    struct ldg_ledger *l;
    (void)state;

    l = l999_ledger(dir, sizeof dir, 8);
    l999_prune(l, dir, L999_HZ, "a1.seg", &pr);
    assert_int_equal(pr.tiles, 0);
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_tree_kept_from(t, &kept), 0);
    assert_int_equal(kept, 0);
    assert_int_equal(ldg_proof_text(t, 5, 0, &text), 0);
    free(text);
    assert_int_equal(ldg_consistency_text(t, 1000, 0, &text), 0);
    free(text);
    ldg_txn_abort(t);
    assert_int_equal(ldg_verify(l, LDG_VERIFY_FULL, 0, &r, NULL, NULL), 0);
    assert_int_equal(r.tree_from, 0);
    assert_int_equal(r.checkpoints_unchecked, 0);
    ldg_close(l);
    t_rmrf(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_horizon__record_round_trips, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_horizon__parse_refuses_every_truncation, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_horizon__parse_refuses_what_breaks_canonical_form, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_horizon__parse_refuses_keys_out_of_id_order, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_horizon__a_changed_byte_that_decodes_is_canonical, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_horizon__check_sig_fails_for_each_flipped_byte, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_horizon__pruned_events_are_epruned_kept_ones_read, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_horizon__verify_passes_from_the_horizon, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_horizon__verify_names_a_changed_record, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_horizon__verify_names_the_checkpoint_at_the_horizon_gone,
            setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_horizon__check_stored_names_changed_proj_horizon, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_horizon__check_stored_names_deleted_proj_horizon, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_horizon__second_prune_names_its_first, setup, teardown),
        cmocka_unit_test(test_horizon__prune_of_a_revoked_key),
        cmocka_unit_test(test_horizon__prune_of_keys_with_long_names_and_roles),
        cmocka_unit_test(
            test_horizon__layout_9_prune_drops_only_what_proofs_of_pruned_need),
        cmocka_unit_test(test_horizon__layout_8_prune_keeps_every_tree_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
