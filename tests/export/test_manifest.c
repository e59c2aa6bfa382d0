/*
 * test_manifest.c — the manifest's member list (export/manifest.c) and
 * what the reader holds because of it (export/archive.c's three passes):
 * members the manifest lists with their digest are held, anything else
 * only within a small budget, so a bundle's memory is what its manifest
 * declares. Also runs tests/fuzz/fuzz_manifest.c's target (with its
 * invariants) over fixed inputs, so make check exercises it without clang.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tests/fuzz/fuzz_manifest.c"

static const char *
hex_of(const void *p, size_t n, char out[65])
{
    uint8_t d[32];
    ldg_sha256(d, p, n);
    ldg_hex(out, d, 32);
    return out;
}

struct mem {
    const char *name;
    const uint8_t *data;
    size_t len;
};

/* A bundle in memory: the magic, the given members, then manifest.json
 * (text as given). */
static uint8_t *
build(const struct mem *m, size_t n, const char *manifest, size_t *len)
{
    char err[256];
    struct bwriter *w;
    FILE *f = tmpfile();
    uint8_t *buf;
    long sz;

    assert_non_null(f);
    assert_int_equal(bwriter_new(&w, fileno(f), 1, 1, 0, NULL, err, sizeof err),
                     0);
    assert_int_equal(bwriter_add(w, B_MAGIC, LDG_BUNDLE_MAGIC "\n", 17), 0);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(bwriter_add(w, m[i].name, m[i].data, m[i].len), 0);
    if (manifest != NULL)
        assert_int_equal(bwriter_add(w, B_MANIFEST, manifest, strlen(manifest)),
                         0);
    assert_int_equal(bwriter_finish(w, NULL, NULL), 0);
    bwriter_free(w);
    sz = ftell(f);
    buf = malloc((size_t)sz);
    rewind(f);
    assert_int_equal(fread(buf, 1, (size_t)sz, f), (size_t)sz);
    fclose(f);
    *len = (size_t)sz;
    return buf;
}

static void
test_manifest__files_decoded_and_refused(void **state)
{
    static const char *const bad[] = {"",
                                      "[]",
                                      "{}",
                                      "{\"files\": []}",
                                      "{\"files\": {\"a\": 1}}",
                                      "{\"files\": {\"a\": \"00\"}}",
                                      "{\"files\": {\"\": "
                                      "\"00000000000000000000000000000000000000"
                                      "00000000000000000000000000\"}}",
                                      "{\"files\": {\"a\": "
                                      "\"00000000000000000000000000000000000000"
                                      "0000000000000000000000000A\"}}",
                                      "{\"files\": {\"a\": "
                                      "\"00000000000000000000000000000000000000"
                                      "0000000000000000000000000g\"}}",
                                      "{\"files\": {}, \"files\": {}}",
                                      "{\"files\": {} trailing",
                                      /* "sizes": an object of decimal
                                       * strings, for every listed member
                                       * and nothing else */
                                      "{\"files\": {}, \"sizes\": []}",
                                      "{\"files\": {\"a\": \"00000000000000000000000000000000" "00000000000000000000000000000000\"}, "
                                      "\"sizes\": {\"a\": 1}}",
                                      "{\"files\": {\"a\": \"00000000000000000000000000000000" "00000000000000000000000000000000\"}, "
                                      "\"sizes\": {\"a\": \"01\"}}",
                                      "{\"files\": {\"a\": \"00000000000000000000000000000000" "00000000000000000000000000000000\"}, "
                                      "\"sizes\": {\"a\": \"-1\"}}",
                                      "{\"files\": {\"a\": \"00000000000000000000000000000000" "00000000000000000000000000000000\"}, "
                                      "\"sizes\": {\"a\": \"1\", "
                                      "\"b\": \"1\"}}",
                                      "{\"files\": {\"a\": \"00000000000000000000000000000000" "00000000000000000000000000000000\"}, "
                                      "\"sizes\": {}}",
                                      NULL};
    const char *good = "{\"x\": 1, \"files\": {\"log.vkey\": "
                       "\"00000000000000000000000000000000000000000000000000"
                       "00000000000001\", \"checkpoint\": "
                       "\"ff000000000000000000000000000000000000000000000000"
                       "000000000000ff\"}}";
    struct bmlist l;
    char err[256];
    (void)state;

    for (size_t i = 0; bad[i]; i++) {
        err[0] = '\0';
        assert_int_equal(
            bundle_manifest_files(&l, bad[i], strlen(bad[i]), err, sizeof err),
            LDG_EBADINPUT);
        assert_true(err[0] != '\0');
        assert_null(l.f);
        LLVMFuzzerTestOneInput((const uint8_t *)bad[i], strlen(bad[i]));
    }
    assert_int_equal(
        bundle_manifest_files(&l, good, strlen(good), err, sizeof err), 0);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.f[0].name, "checkpoint"); /* sorted */
    assert_int_equal(l.f[0].sha[0], 0xff);
    assert_non_null(bmlist_find(&l, "log.vkey"));
    assert_null(bmlist_find(&l, "manifest.json"));
    assert_false(l.f[0].has_size); /* a bundle from before "sizes" */
    bmlist_free(&l);
    LLVMFuzzerTestOneInput((const uint8_t *)good, strlen(good));
    {
        const char *sized =
            "{\"files\": {\"a\": \"00000000000000000000000000000000"
            "00000000000000000000000000000000\"}, \"sizes\": {\"a\": "
            "\"18446744073709551615\"}}";
        assert_int_equal(
            bundle_manifest_files(&l, sized, strlen(sized), err, sizeof err),
            0);
        assert_true(l.f[0].has_size);
        assert_true(l.f[0].declared == UINT64_MAX);
        bmlist_free(&l);
        LLVMFuzzerTestOneInput((const uint8_t *)sized, strlen(sized));
    }
}

/* Listed with its digest: held, however large (the manifest declares
 * it); listed with another digest or unlisted and over the per-member
 * budget: never held, counted. */
static void
test_manifest__only_what_the_manifest_vouches_for_is_held(void **state)
{
    size_t big = 2u << 20, len;
    struct mem m[4];
    uint8_t *d[4];
    char h1[65], h3[65], man[1024], err[512];
    struct bundle b;
    uint8_t *z;
    (void)state;

    for (int i = 0; i < 4; i++) {
        m[i].len = i == 3 ? 5 : big;
        m[i].data = d[i] = malloc(m[i].len);
        for (size_t k = 0; k < m[i].len; k++) /* not too compressible */
            d[i][k] = (uint8_t)((k * 2654435761u) >> (8 + i));
    }
    m[0].name = "bodies/1.json";   /* listed, right digest */
    m[1].name = "bodies/2.json";   /* listed, wrong digest */
    m[2].name = "bodies/3.json";   /* not listed */
    m[3].name = "entries/4.entry"; /* not listed, small */
    hex_of(m[0].data, m[0].len, h1);
    hex_of("other", 5, h3);
    snprintf(man, sizeof man,
             "{\"files\": {\"bodies/1.json\": \"%s\", \"bodies/2.json\": "
             "\"%s\"}}",
             h1, h3);
    z = build(m, 4, man, &len);
    assert_int_equal(bundle_read_mem(&b, z, len, NULL, err, sizeof err), 0);
    assert_int_equal(b.members, 6);
    assert_true(b.listed);
    assert_non_null(bundle_get(&b, "bodies/1.json"));
    assert_int_equal(bundle_get(&b, "bodies/1.json")->len, big);
    assert_null(bundle_get(&b, "bodies/2.json"));
    assert_null(bundle_get(&b, "bodies/3.json"));
    assert_non_null(bundle_get(&b, "entries/4.entry")); /* to name it */
    assert_int_equal(b.not_held, 2);
    assert_int_equal(b.not_held_bytes, 2 * big);
    assert_string_equal(b.first_not_held, "bodies/2.json");
    assert_true(bmlist_find(&b.files, "bodies/2.json")->seen);
    assert_false(bmlist_find(&b.files, "bodies/2.json")->matches);
    bundle_release(&b);
    free(z);

    /* without a manifest only the budget applies */
    z = build(m, 4, NULL, &len);
    assert_int_equal(bundle_read_mem(&b, z, len, NULL, err, sizeof err), 0);
    assert_false(b.listed);
    assert_int_equal(b.n, 2); /* the magic and the small member */
    assert_int_equal(b.not_held, 3);
    bundle_release(&b);
    free(z);
    for (int i = 0; i < 4; i++)
        free(d[i]);
}

/* Many small unlisted members: held only up to the budget. */
static void
test_manifest__many_small_members_held_within_the_budget(void **state)
{
    enum { N = 40000 };
    struct mem *m = calloc(N, sizeof *m);
    char(*names)[32] = calloc(N, 32);
    struct ldg_bundle_limits lim;
    struct bundle b;
    char err[512];
    size_t len;
    uint8_t *z;
    (void)state;

    for (size_t i = 0; i < N; i++) {
        snprintf(names[i], 32, "entries/%zu.entry", i);
        m[i].name = names[i];
        m[i].data = (const uint8_t *)"e";
        m[i].len = 1;
    }
    z = build(m, N, "{\"files\": {}}", &len);
    memset(&lim, 0, sizeof lim);
    lim.ratio = 1000000; /* tar headers compress very well */
    assert_int_equal(bundle_read_mem(&b, z, len, &lim, err, sizeof err), 0);
    assert_int_equal(b.members, N + 2);
    assert_true(b.n < BUNDLE_HOLD_OTHER_BYTES / 256 + 3);
    assert_int_equal(b.n + b.not_held, b.members);
    bundle_release(&b);
    free(z);
    free(names);
    free(m);
}

/* The ratio cap: a member of zeros is refused, naming it, long before the
 * total limit. */
static void
test_manifest__decompression_ratio_capped(void **state)
{
    struct mem m = {"bodies/7.json", NULL, 32u << 20};
    uint8_t *zeros = calloc(1, m.len);
    struct ldg_bundle_limits lim;
    struct bundle b;
    char err[512] = "";
    size_t len;
    uint8_t *z;
    (void)state;

    m.data = zeros;
    z = build(&m, 1, NULL, &len);
    assert_int_equal(bundle_read_mem(&b, z, len, NULL, err, sizeof err),
                     LDG_ETOOBIG);
    assert_non_null(strstr(err, "member bodies/7.json"));
    assert_non_null(strstr(err, "decompression bomb"));
    /* a higher ratio lets it through (and it is then not held) */
    memset(&lim, 0, sizeof lim);
    lim.ratio = 1000000;
    assert_int_equal(bundle_read_mem(&b, z, len, &lim, err, sizeof err), 0);
    assert_null(bundle_get(&b, "bodies/7.json"));
    bundle_release(&b);
    free(z);
    free(zeros);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_manifest__files_decoded_and_refused),
        cmocka_unit_test(
            test_manifest__only_what_the_manifest_vouches_for_is_held),
        cmocka_unit_test(
            test_manifest__many_small_members_held_within_the_budget),
        cmocka_unit_test(test_manifest__decompression_ratio_capped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
