/*
 * test_vectors.c — known-answer vectors for the entry format, the body
 * commitment, signatures and checkpoints (docs/FORMAT.md section 9).
 *
 * Everything is derived from fixed inputs: the key seed 00 01 .. 1f, the
 * salt seed 20 21 .. 3f, fixed times. The expected values live in
 * tests/vectors/core-v1.txt; run with LEDGER_WRITE_VECTORS=1 to rewrite
 * that file after a deliberate format change (and bump the version).
 *
 * Must-fail vectors: entries that are near misses (a flipped bit, a
 * non-shortest integer, unsorted keys, a trailing byte) must be refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ledger/record_int.h"
#include "ledger/tlog_int.h"

#define VECTORS "tests/vectors/core-v1.txt"

struct kv {
    char key[64];
    char *val;
};
static struct kv got[64];
static size_t ngot;

static void
put(const char *key, const char *val)
{
    assert_true(ngot < 64);
    snprintf(got[ngot].key, sizeof got[ngot].key, "%s", key);
    got[ngot].val = strdup(val);
    ngot++;
}

static void
put_hex(const char *key, const uint8_t *p, size_t n)
{
    char *h = malloc(2 * n + 1);
    ldg_hex(h, p, n);
    put(key, h);
    free(h);
}

struct ev2 {
    uint8_t entry[1024];
    size_t len;
    uint8_t leaf[32];
};

/* Builds one entry the way the append path does. */
static void
build(const struct ldg_key *k, uint64_t seq, uint64_t ts, const char *type,
      const char *subject, const char *run, const char *body_json,
      const uint8_t prev[32], struct ev2 *out, const char *tag)
{
    static const uint8_t salt_seed[32] = {
        0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a,
        0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35,
        0x36, 0x37, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f};
    struct ldg_body_rec br;
    struct ldg_envelope env;
    struct ldg_buf b;
    struct ldg_field *f;
    char err[128], key[64];
    size_t map_len, nf;
    uint8_t sig[64];
    json_t *body = json_loads(body_json, 0, NULL);

    assert_non_null(body);
    assert_int_equal(
        ldg_body_prepare(body, seq, salt_seed, 1 << 20, &br, err, sizeof err),
        0);
    snprintf(key, sizeof key, "%s.body_record", tag);
    put_hex(key, br.rec, br.rec_len);
    snprintf(key, sizeof key, "%s.body_commitment", tag);
    put_hex(key, br.root, 32);
    assert_int_equal(
        ldg_body_decode(NULL, br.rec, br.rec_len, 1 << 20, &f, &nf), 0);
    for (size_t i = 0; i < nf; i++) {
        snprintf(key, sizeof key, "%s.field.%s.salt", tag, f[i].name);
        put_hex(key, f[i].salt, 16);
        snprintf(key, sizeof key, "%s.field.%s.digest", tag, f[i].name);
        put_hex(key, f[i].digest, 32);
    }
    ldg_fields_free(f, nf);

    memset(&env, 0, sizeof env);
    env.seq = seq;
    env.ts_ns = ts;
    env.type = type;
    env.subject = subject;
    env.run = run;
    env.actor = k->key_id;
    memcpy(env.body_root, br.root, 32);
    ldg_buf_init(&b, LDG_ENTRY_MAX);
    assert_int_equal(ldg_entry_encode(&b, &env, &map_len), 0);
    assert_int_equal(
        ldg_ed25519_sign_ctx(sig, LDG_CTX_EVENT, b.p + 1, map_len, k), 0);
    assert_int_equal(ldg_entry_finish(&b, prev, sig), 0);
    snprintf(key, sizeof key, "%s.signature", tag);
    put_hex(key, sig, 64);
    snprintf(key, sizeof key, "%s.entry", tag);
    put_hex(key, b.p, b.len);
    memcpy(out->entry, b.p, b.len);
    out->len = b.len;
    ldg_tlog_leaf_hash(out->leaf, b.p, b.len);
    snprintf(key, sizeof key, "%s.leaf_hash", tag);
    put_hex(key, out->leaf, 32);
    ldg_buf_release(&b);
    ldg_body_rec_release(&br);
    json_decref(body);
}

static void
compute(void)
{
    uint8_t seed[32], zero[32] = {0}, root[32];
    char text[512], hex[65], vkey[256], *note;
    struct ldg_key *k;
    struct ev2 e0, e1;
    int n;

    for (int i = 0; i < 32; i++)
        seed[i] = (uint8_t)i;
    assert_int_equal(ldg_key_from_seed(&k, "log", seed), 0);
    put_hex("key.seed", seed, 32);
    put_hex("key.public", k->pub, 32);
    put("key.id", k->key_id);
    ldg_hex(hex, k->pub, 32);
    snprintf(text, sizeof text,
             "{\"origin\":\"example.org/vectors\","
             "\"log_key\":\"%s\"}",
             hex);
    build(k, 0, 1763700000000000000ull, "ledger.genesis", "host:local", NULL,
          text, zero, &e0, "event0");
    build(k, 1, 1763700000000000001ull, "route.decision",
          "route:pdf-ops/extract", "R-0001",
          "{\"route\":\"pdf-ops/extract\",\"chosen_model\":"
          "\"qwen2.5-7b-instruct@q4_k_m\",\"run\":\"R-0001\","
          "\"fallback\":false,\"latency_ms\":910,\"outcome\":\"ok\"}",
          e0.leaf, &e1, "event1");
    ldg_tlog_node_hash(root, e0.leaf, e1.leaf);
    put_hex("tree2.root", root, 32);
    n = ldg_checkpoint_text(text, sizeof text, "example.org/vectors", 2, root);
    assert_true(n > 0);
    assert_int_equal(
        ldg_note_sign(&note, text, (size_t)n, "example.org/vectors", k), 0);
    {
        /* one line per vector: escape newlines */
        char esc[1024];
        size_t j = 0;
        for (const char *p = note; *p && j + 3 < sizeof esc; p++) {
            if (*p == '\n') {
                esc[j++] = '\\';
                esc[j++] = 'n';
            } else {
                esc[j++] = *p;
            }
        }
        esc[j] = '\0';
        put("checkpoint2.note", esc);
    }
    free(note);
    assert_true(ldg_note_verifier(vkey, sizeof vkey, "example.org/vectors",
                                  k->pub) > 0);
    put("checkpoint2.verifier", vkey);
    ldg_key_free(k);
}

static void
test_vectors__match_the_file(void **state)
{
    FILE *f;
    char line[4096];
    size_t matched = 0;
    (void)state;

    ngot = 0;
    compute();
    if (getenv("LEDGER_WRITE_VECTORS") != NULL) {
        f = fopen(VECTORS, "w");
        assert_non_null(f);
        fprintf(f, "# ledger core vectors, format v1 (docs/FORMAT.md)\n");
        for (size_t i = 0; i < ngot; i++)
            fprintf(f, "%s: %s\n", got[i].key, got[i].val);
        fclose(f);
    }
    f = fopen(VECTORS, "r");
    assert_non_null(f);
    while (fgets(line, sizeof line, f) != NULL) {
        char *colon = strstr(line, ": ");
        size_t l = strlen(line);
        if (line[0] == '#' || colon == NULL)
            continue;
        if (l && line[l - 1] == '\n')
            line[l - 1] = '\0';
        *colon = '\0';
        for (size_t i = 0; i < ngot; i++) {
            if (strcmp(got[i].key, line) == 0) {
                if (strcmp(got[i].val, colon + 2) != 0)
                    fail_msg("vector %s: computed %s, file has %s", line,
                             got[i].val, colon + 2);
                matched++;
            }
        }
    }
    fclose(f);
    assert_int_equal(matched, ngot);
    for (size_t i = 0; i < ngot; i++)
        free(got[i].val);
}

/* The entry of event1 from the file, decoded and mutated. */
static size_t
load_entry(uint8_t *buf, size_t cap)
{
    FILE *f = fopen(VECTORS, "r");
    char line[4096];
    size_t n = 0;
    assert_non_null(f);
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "event1.entry: ", 14) == 0) {
            char *h = line + 14;
            h[strcspn(h, "\n")] = '\0';
            n = strlen(h) / 2;
            assert_true(n <= cap);
            assert_int_equal(ldg_unhex(buf, n, h), 0);
        }
    }
    fclose(f);
    assert_true(n > 0);
    return n;
}

static void
test_vectors__entry_decodes_and_verifies(void **state)
{
    uint8_t buf[1024], seed[32];
    struct ldg_event ev;
    struct ldg_key *k;
    size_t n = load_entry(buf, sizeof buf);
    (void)state;
    for (int i = 0; i < 32; i++)
        seed[i] = (uint8_t)i;
    assert_int_equal(ldg_key_from_seed(&k, "log", seed), 0);
    assert_int_equal(ldg_event_decode(buf, n, &ev), 0);
    assert_int_equal(ev.seq, 1);
    assert_string_equal(ev.type, "route.decision");
    assert_string_equal(ev.run, "R-0001");
    assert_string_equal(ev.actor, k->key_id);
    assert_int_equal(ldg_event_verify_sig(&ev, k->pub), 0);
    ldg_key_free(k);
}

/* Every single-bit flip of the entry is refused by the strict decoder or
 * the signature — except in prev, which the signature does not cover
 * (so that signing can run ahead of chaining): a flip there changes prev,
 * which the chain check catches (it no longer equals the leaf hash of the
 * entry before). */
static void
test_vectors__every_bit_flip_is_detected(void **state)
{
    uint8_t buf[1024], orig_prev[32], seed[32];
    struct ldg_event ev;
    struct ldg_key *k;
    size_t n = load_entry(buf, sizeof buf), prev_flips = 0;
    (void)state;
    for (int i = 0; i < 32; i++)
        seed[i] = (uint8_t)i;
    assert_int_equal(ldg_key_from_seed(&k, "log", seed), 0);
    assert_int_equal(ldg_event_decode(buf, n, &ev), 0);
    memcpy(orig_prev, ev.prev, 32);
    for (size_t i = 0; i < n * 8; i++) {
        buf[i / 8] ^= (uint8_t)(1u << (i % 8));
        if (ldg_event_decode(buf, n, &ev) == 0 &&
            ldg_event_verify_sig(&ev, k->pub) == 0) {
            if (memcmp(ev.prev, orig_prev, 32) == 0)
                fail_msg("bit %zu flipped went unnoticed", i);
            prev_flips++;
        }
        buf[i / 8] ^= (uint8_t)(1u << (i % 8));
    }
    assert_int_equal(prev_flips, 256); /* exactly the bits of prev */
    ldg_key_free(k);
}

static void
test_vectors__non_canonical_entries_are_refused(void **state)
{
    uint8_t buf[1024], bad[1100];
    struct ldg_event ev;
    size_t n = load_entry(buf, sizeof buf);
    (void)state;

    /* a trailing byte */
    memcpy(bad, buf, n);
    bad[n] = 0xc0;
    assert_int_not_equal(ldg_event_decode(bad, n + 1, &ev), 0);
    /* truncated */
    assert_int_not_equal(ldg_event_decode(buf, n - 1, &ev), 0);
    /* the seq (positive fixint 1 after the "seq" key) widened to uint8
     * 0xcc 0x01: a valid msgpack value, but not the shortest form */
    {
        const uint8_t key[] = {0xa3, 's', 'e', 'q', 0x01};
        uint8_t *p = memmem(buf, n, key, sizeof key);
        size_t at;
        assert_non_null(p);
        at = (size_t)(p - buf) + 4;
        memcpy(bad, buf, at);
        bad[at] = 0xcc;
        bad[at + 1] = 0x01;
        memcpy(bad + at + 2, buf + at + 1, n - at - 1);
        assert_int_equal(ldg_event_decode(bad, n + 1, &ev), LDG_ECORRUPT);
    }
    /* not an array of three */
    memcpy(bad, buf, n);
    bad[0] = 0x92;
    assert_int_not_equal(ldg_event_decode(bad, n, &ev), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors__match_the_file),
        cmocka_unit_test(test_vectors__entry_decodes_and_verifies),
        cmocka_unit_test(test_vectors__every_bit_flip_is_detected),
        cmocka_unit_test(test_vectors__non_canonical_entries_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
