/*
 * test_body.c — body commitments: salts, digests, redaction, compression;
 * the stored record vectors of tests/vectors/body/ (EXPECT): each read as
 * its map's commitment, or refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ledger/record_int.h"

static const uint8_t seed[32] = {7};

static void
prepare(const char *json, const uint8_t *s, struct ldg_body_rec *br)
{
    json_t *b = json_loads(json, 0, NULL);
    char err[128];
    assert_non_null(b);
    assert_int_equal(ldg_body_prepare(b, 42, s, 1 << 20, br, err, sizeof err),
                     0);
    json_decref(b);
}

static void
test_body__same_seed_same_record_random_salts_differ(void **state)
{
    struct ldg_body_rec a, b, c;
    (void)state;
    prepare("{\"x\":1,\"y\":\"two\"}", seed, &a);
    prepare("{\"y\":\"two\",\"x\":1}", seed, &b);
    assert_int_equal(a.rec_len, b.rec_len);
    assert_memory_equal(a.rec, b.rec, a.rec_len);
    assert_memory_equal(a.root, b.root, 32);
    prepare("{\"x\":1,\"y\":\"two\"}", NULL, &c);
    assert_memory_not_equal(a.root, c.root, 32);
    ldg_body_rec_release(&a);
    ldg_body_rec_release(&b);
    ldg_body_rec_release(&c);
}

/* The commitment can be recomputed from the digests of withheld fields
 * and the disclosed (salt, value) of the others: redaction. */
static void
test_body__redacted_field_still_verifies_by_digest(void **state)
{
    struct ldg_body_rec br;
    struct ldg_field *f;
    uint8_t d[3][32], root[32];
    size_t n;
    (void)state;
    prepare("{\"user\":\"alice@example.org\",\"status\":\"ok\",\"n\":3}", seed,
            &br);
    assert_int_equal(ldg_body_decode(NULL, br.rec, br.rec_len, 1 << 20, &f, &n),
                     0);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(f[i].name, "user") == 0) {
            memcpy(d[i], f[i].digest, 32); /* withheld: digest only */
        } else {
            assert_int_equal(
                ldg_field_digest(d[i], f[i].salt, f[i].name, f[i].value), 0);
            assert_memory_equal(d[i], f[i].digest, 32);
        }
    }
    ldg_body_root(root, (const uint8_t(*)[32])d, n);
    assert_memory_equal(root, br.root, 32);
    /* a changed disclosed value does not */
    {
        json_t *v = json_string("failed");
        for (size_t i = 0; i < n; i++)
            if (strcmp(f[i].name, "status") == 0)
                ldg_field_digest(d[i], f[i].salt, "status", v);
        json_decref(v);
        ldg_body_root(root, (const uint8_t(*)[32])d, n);
        assert_memory_not_equal(root, br.root, 32);
    }
    ldg_fields_free(f, n);
    ldg_body_rec_release(&br);
}

static void
test_body__large_bodies_are_compressed_and_round_trip(void **state)
{
    struct ldg_body_rec br;
    uint8_t root[32];
    json_t *b = json_object(), *out;
    char err[128];
    (void)state;
    for (int i = 0; i < 100; i++) {
        char k[16];
        snprintf(k, sizeof k, "field%03d", i);
        json_object_set_new(b, k,
                            json_string("the same words again and again"));
    }
    assert_int_equal(
        ldg_body_prepare(b, 1, seed, 1 << 20, &br, err, sizeof err), 0);
    assert_int_equal(br.rec[0], 0x01); /* zstd */
    assert_int_equal(
        ldg_body_decode_json(NULL, br.rec, br.rec_len, 1 << 20, &out), 0);
    assert_true(json_equal(b, out));
    assert_int_equal(ldg_body_rec_root(NULL, br.rec, br.rec_len, 1 << 20, root),
                     0);
    assert_memory_equal(root, br.root, 32);
    /* decompression is bounded by the limit */
    assert_int_not_equal(ldg_body_rec_root(NULL, br.rec, br.rec_len, 64, root),
                         0);
    json_decref(out);
    json_decref(b);
    ldg_body_rec_release(&br);
}

static void
test_body__empty_body_has_a_commitment(void **state)
{
    struct ldg_body_rec br;
    uint8_t root[32];
    (void)state;
    prepare("{}", seed, &br);
    ldg_body_root(root, NULL, 0);
    assert_memory_equal(root, br.root, 32);
    ldg_body_rec_release(&br);
}

static void
test_body__corrupt_records_are_refused(void **state)
{
    struct ldg_body_rec br;
    uint8_t root[32], bad[4096];
    (void)state;
    prepare("{\"a\":1}", seed, &br);
    memcpy(bad, br.rec, br.rec_len);
    bad[0] = 0x07; /* unknown flag */
    assert_int_equal(ldg_body_rec_root(NULL, bad, br.rec_len, 1 << 20, root),
                     LDG_ECORRUPT);
    assert_int_equal(
        ldg_body_rec_root(NULL, br.rec, br.rec_len - 1, 1 << 20, root),
        LDG_ECORRUPT);
    assert_int_equal(ldg_body_rec_root(NULL, br.rec, 0, 1 << 20, root),
                     LDG_ECORRUPT);
    ldg_body_rec_release(&br);
}

static uint8_t *
read_vector(const char *name, size_t *len)
{
    char path[300];
    uint8_t *b = malloc(1 << 16);
    FILE *f;
    snprintf(path, sizeof path, "tests/vectors/body/%s", name);
    f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot open %s", path);
    *len = fread(b, 1, 1 << 16, f);
    fclose(f);
    return b;
}

/* FORMAT.md section 4's stored forms of one salted map: the plain record,
 * a 0x01 frame (magic, content size) and a 0x04 one of dictionary 0 (no
 * magic) give its commitment; a frame with a content checksum or a
 * Dictionary_ID, a magicless kind with the magic, an unknown flag are
 * refused (issue 63: a checksum was taken). */
static void
test_body__the_record_vectors(void **state)
{
    uint8_t want[32], root[32], *b;
    char line[200], file[100], verdict[20];
    size_t len, n = 0;
    FILE *ex = fopen("tests/vectors/body/EXPECT", "r");
    (void)state;

    assert_non_null(ex);
    b = read_vector("good-00.rec", &len);
    assert_int_equal(ldg_body_rec_root(NULL, b, len, 1 << 20, want), 0);
    free(b);
    while (fgets(line, sizeof line, ex) != NULL) {
        int rc;
        if (line[0] == '#' || sscanf(line, "%99s %19s", file, verdict) != 2)
            continue;
        b = read_vector(file, &len);
        rc = ldg_body_rec_root(NULL, b, len, 1 << 20, root);
        free(b);
        n++;
        if (strcmp(verdict, "ok") == 0) {
            if (rc != 0)
                fail_msg("%s: %s", file, ldg_strerror(rc));
            assert_memory_equal(root, want, 32);
        } else if (rc == 0) {
            fail_msg("%s is read", file);
        }
    }
    fclose(ex);
    assert_true(n >= 9);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_body__same_seed_same_record_random_salts_differ),
        cmocka_unit_test(test_body__redacted_field_still_verifies_by_digest),
        cmocka_unit_test(test_body__large_bodies_are_compressed_and_round_trip),
        cmocka_unit_test(test_body__empty_body_has_a_commitment),
        cmocka_unit_test(test_body__corrupt_records_are_refused),
        cmocka_unit_test(test_body__the_record_vectors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
