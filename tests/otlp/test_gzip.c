/*
 * test_gzip.c — otlp/gzip.c: a gzip body inflates; a bomb stops at the
 * limit (and one of exactly the limit does not); a body cut short, with
 * bytes after its end, or not gzip at all is refused saying which.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <cmocka.h>

#include "otlp/otlp.h"

static char err[512];

/* data (n bytes) as a gzip member into *out. */
static unsigned char *
gz(const void *data, size_t n, size_t *out)
{
    z_stream z;
    size_t cap = compressBound((uLong)n) + 64;
    unsigned char *b = malloc(cap);
    memset(&z, 0, sizeof z);
    assert_int_equal(
        deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY),
        Z_OK);
    z.next_in = (unsigned char *)(uintptr_t)data;
    z.avail_in = (uInt)n;
    z.next_out = b;
    z.avail_out = (uInt)cap;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    *out = cap - z.avail_out;
    deflateEnd(&z);
    return b;
}

static void
test_gzip__round_trip_and_the_limit(void **state)
{
    size_t n = 1 << 20, gl, ol;
    unsigned char *data = malloc(n), *g;
    void *o;
    (void)state;
    for (size_t i = 0; i < n; i++)
        data[i] = (unsigned char)(i * 7 + (i >> 9));
    g = gz(data, n, &gl);
    assert_int_equal(ldg_otlp_inflate(g, gl, n, &o, &ol, err, sizeof err), 0);
    assert_true(ol == n && memcmp(o, data, n) == 0); /* exactly the limit */
    free(o);
    assert_int_equal(ldg_otlp_inflate(g, gl, n - 1, &o, &ol, err, sizeof err),
                     LDG_ETOOBIG);
    assert_null(o);
    assert_non_null(strstr(err, "more than 1048575 bytes"));
    free(g);
    free(data);
}

static void
test_gzip__a_bomb_stops_at_the_limit(void **state)
{
    size_t n = (size_t)256 << 20, gl, ol;
    unsigned char *zeros = calloc(1, n), *g;
    void *o;
    (void)state;
    g = gz(zeros, n, &gl); /* 256 MiB of zeros in about 250 KiB */
    free(zeros);
    assert_true(gl < n / 500);
    assert_int_equal(
        ldg_otlp_inflate(g, gl, (size_t)4 << 20, &o, &ol, err, sizeof err),
        LDG_ETOOBIG);
    assert_null(o);
    free(g);
}

static void
test_gzip__refusals(void **state)
{
    size_t gl, ol;
    unsigned char *g = gz("hello, otlp", 11, &gl), *two;
    void *o;
    (void)state;
    assert_int_equal(
        ldg_otlp_inflate(g, gl - 3, 1024, &o, &ol, err, sizeof err),
        LDG_EBADINPUT);
    assert_non_null(strstr(err, "cut short"));
    two = malloc(gl + 2);
    memcpy(two, g, gl);
    two[gl] = 'x';
    two[gl + 1] = 'y';
    assert_int_equal(
        ldg_otlp_inflate(two, gl + 2, 1024, &o, &ol, err, sizeof err),
        LDG_EBADINPUT);
    assert_non_null(strstr(err, "2 bytes after the end"));
    assert_int_equal(
        ldg_otlp_inflate("{\"a\":1}", 7, 1024, &o, &ol, err, sizeof err),
        LDG_EBADINPUT);
    assert_non_null(strstr(err, "not a valid gzip body"));
    assert_int_equal(ldg_otlp_inflate("", 0, 1024, &o, &ol, err, sizeof err),
                     LDG_EBADINPUT);
    g[gl - 5] ^= 0xff; /* the CRC */
    assert_int_equal(ldg_otlp_inflate(g, gl, 1024, &o, &ol, err, sizeof err),
                     LDG_EBADINPUT);
    free(two);
    free(g);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gzip__round_trip_and_the_limit),
        cmocka_unit_test(test_gzip__a_bomb_stops_at_the_limit),
        cmocka_unit_test(test_gzip__refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
