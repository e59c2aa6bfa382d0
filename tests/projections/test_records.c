/*
 * test_records.c — record encodings (one canonical byte string per
 * value, strict decoding) and the latency histogram.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "projections/proj_int.h"

static struct rec_pack *
sample_pack(void)
{
    struct rec_pack *p = calloc(1, sizeof *p);
    p->name = strdup("pdf-ops");
    p->version = strdup("0.3.1");
    p->installed_seq = 7;
    p->installed_ts = 1763700000123456789ull;
    p->lifecycle = LC_INSTALLED;
    p->enabled = 1;
    p->validated = TRI_FAIL;
    p->validation_errors.n = 2;
    p->validation_errors.v = calloc(2, sizeof(char *));
    p->validation_errors.v[0] = strdup("first");
    p->validation_errors.v[1] = strdup("second ünïcode");
    p->nperms = 1;
    p->perms = calloc(1, sizeof *p->perms);
    p->perms[0].group = strdup("fs.read");
    p->perms[0].scope = strdup("~/Documents");
    p->perms[0].optional = 1;
    p->perms[0].since_seq = 7;
    p->upgrades = 3;
    return p;
}

static void
test_records__pack_round_trips_to_the_same_bytes(void **state)
{
    const struct rtype *rt = rtype_of(P_PACKS, TAG_PACK);
    struct rec_pack *p = sample_pack(), *q = NULL;
    uint8_t *a, *b;
    size_t na, nb;
    (void)state;

    assert_int_equal(rec_encode(rt, p, &a, &na), 0);
    assert_int_equal(rec_decode(rt, a, na, (void **)&q), 0);
    assert_string_equal(q->name, "pdf-ops");
    assert_null(q->manifest_digest); /* absent stays absent */
    assert_int_equal(q->installed_ts, p->installed_ts);
    assert_string_equal(q->validation_errors.v[1], "second ünïcode");
    assert_string_equal(q->perms[0].scope, "~/Documents");
    assert_int_equal(q->perms[0].optional, 1);
    assert_int_equal(q->upgrades, 3);
    assert_int_equal(rec_encode(rt, q, &b, &nb), 0);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na);
    free(a);
    free(b);
    rec_free(rt, p);
    rec_free(rt, q);
}

/* An encoded record is at most 16 MiB: a host record whose cpu string
 * takes it to exactly that encodes, one byte more is LDG_ETOOBIG. (cpu
 * is a 4-byte varint length and the bytes; the other 14 fields, zero, a
 * byte each.) */
static void
test_records__encoding_stops_at_16_mib(void **state)
{
    const struct rtype *rt = rtype_of(P_MODELS, TAG_HOST);
    const size_t max = (size_t)16 << 20, rest = 4 + 14;
    struct rec_host h;
    uint8_t *a = NULL;
    size_t na = 0;
    (void)state;
    memset(&h, 0, sizeof h);
    h.cpu = malloc(max - rest + 2);
    assert_non_null(h.cpu);
    memset(h.cpu, 'x', max - rest + 1);
    h.cpu[max - rest] = '\0';
    assert_int_equal(rec_encode(rt, &h, &a, &na), 0);
    assert_int_equal(na, max);
    assert_int_equal(a[0], 0x80 | (uint8_t)(max - rest + 1)); /* varint */
    free(a);
    h.cpu[max - rest] = 'x';
    h.cpu[max - rest + 1] = '\0';
    a = NULL;
    assert_int_equal(rec_encode(rt, &h, &a, &na), LDG_ETOOBIG);
    assert_null(a); /* untouched */
    free(h.cpu);
}

static void
test_records__decoding_refuses_truncated_and_trailing_bytes(void **state)
{
    const struct rtype *rt = rtype_of(P_PACKS, TAG_PACK);
    struct rec_pack *p = sample_pack();
    uint8_t *a, *longer;
    size_t na;
    void *q = NULL;
    (void)state;

    assert_int_equal(rec_encode(rt, p, &a, &na), 0);
    for (size_t cut = 0; cut < na; cut++)
        assert_int_equal(rec_decode(rt, a, cut, &q), LDG_ECORRUPT);
    longer = malloc(na + 1);
    memcpy(longer, a, na);
    longer[na] = 0;
    assert_int_equal(rec_decode(rt, longer, na + 1, &q), LDG_ECORRUPT);
    free(longer);
    free(a);
    rec_free(rt, p);
}

static void
test_records__varints_must_be_shortest(void **state)
{
    /* A perm record whose first field (pack) is absent, written as the
     * overlong varint 0x80 0x00 instead of 0x00. */
    const struct rtype *rt = rtype_of(P_PERMISSIONS, TAG_PERM);
    struct rec_perm *g = calloc(1, sizeof *g);
    uint8_t *a, *bad;
    size_t na;
    void *q = NULL;
    (void)state;

    assert_int_equal(rec_encode(rt, g, &a, &na), 0);
    assert_int_equal(a[0], 0x00);
    bad = malloc(na + 1);
    bad[0] = 0x80;
    bad[1] = 0x00;
    memcpy(bad + 2, a + 1, na - 1);
    assert_int_equal(rec_decode(rt, bad, na + 1, &q), LDG_ECORRUPT);
    free(bad);
    free(a);
    rec_free(rt, g);
}

static void
test_records__histogram_is_sparse_and_canonical(void **state)
{
    const struct rtype *rt = rtype_of(P_ROUTES, TAG_RSTATS);
    struct rec_rstats *s = calloc(1, sizeof *s), *q = NULL;
    uint8_t *a;
    size_t na;
    (void)state;

    s->route = strdup("r");
    s->count = 3;
    s->hist[hist_bucket(5)] = 2;
    s->hist[hist_bucket(1234.5)] = 1;
    assert_int_equal(rec_encode(rt, s, &a, &na), 0);
    assert_true(na < 32); /* two buckets, not HIST_N */
    assert_int_equal(rec_decode(rt, a, na, (void **)&q), 0);
    assert_memory_equal(q->hist, s->hist, sizeof s->hist);
    free(a);
    rec_free(rt, s);
    rec_free(rt, q);
}

static void
test_records__histogram_buckets_and_percentiles(void **state)
{
    uint64_t h[HIST_N];
    (void)state;

    /* exact below 16 ms, 1/16 of an octave above */
    assert_int_equal(hist_bucket(0), 0);
    assert_int_equal(hist_bucket(15.9), 15);
    assert_int_equal(hist_bucket(16), HIST_LINEAR);
    assert_int_equal(hist_bucket(-1), -1);
    for (double v = 16; v < 1e9; v *= 1.37) {
        int b = hist_bucket(v);
        double mid = hist_value(b);
        assert_true(b >= 0 && b < HIST_N);
        assert_true(mid / v < 1 + 1.0 / 16 && v / mid < 1 + 1.0 / 16);
    }
    memset(h, 0, sizeof h);
    assert_true(hist_percentile(h, 0.5) < 0);
    for (int v = 1; v <= 100; v++)
        h[hist_bucket(v)]++;
    /* nearest rank: the 50th of 1..100 is 50, the 95th is 95 */
    assert_true(hist_percentile(h, 0.5) >= 48 && hist_percentile(h, 0.5) <= 52);
    assert_true(hist_percentile(h, 0.95) >= 92 &&
                hist_percentile(h, 0.95) <= 98);
    assert_true(hist_percentile(h, 1.0) >= 96);
}

static void
test_records__arena_decoding_equals_heap_decoding(void **state)
{
    const struct rtype *rt = rtype_of(P_PACKS, TAG_PACK);
    struct rec_pack *p = sample_pack(), *q = NULL;
    struct arena ar = {NULL};
    uint8_t *a, *b;
    size_t na, nb;
    (void)state;

    assert_int_equal(rec_encode(rt, p, &a, &na), 0);
    assert_int_equal(rec_decode_in(rt, a, na, &ar, (void **)&q), 0);
    assert_int_equal(rec_encode(rt, q, &b, &nb), 0);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na);
    free(a);
    free(b);
    arena_release(&ar); /* q lives there: never rec_free'd */
    rec_free(rt, p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_records__pack_round_trips_to_the_same_bytes),
        cmocka_unit_test(test_records__encoding_stops_at_16_mib),
        cmocka_unit_test(
            test_records__decoding_refuses_truncated_and_trailing_bytes),
        cmocka_unit_test(test_records__varints_must_be_shortest),
        cmocka_unit_test(test_records__histogram_is_sparse_and_canonical),
        cmocka_unit_test(test_records__histogram_buckets_and_percentiles),
        cmocka_unit_test(test_records__arena_decoding_equals_heap_decoding),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
