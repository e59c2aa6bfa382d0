/*
 * test_bytes.c — big-endian byte order (util/util.h: ldg_be16/32/64,
 * ldg_rd_ben, ldg_rd_be16/32/64).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ledger/module.h"
#include "util/util.h"

/* xorshift64: the same values on every run */
static uint64_t
next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void
test_bytes__writes_the_most_significant_byte_first(void **state)
{
    uint8_t b[10];
    (void)state;
    memset(b, 0xee, sizeof b);
    ldg_be16(b + 1, 0x0102);
    assert_memory_equal(b, "\xee\x01\x02\xee", 4);
    memset(b, 0xee, sizeof b);
    ldg_be32(b + 1, 0x01020304u);
    assert_memory_equal(b, "\xee\x01\x02\x03\x04\xee", 6);
    memset(b, 0xee, sizeof b);
    ldg_be64(b + 1, 0x0102030405060708u);
    assert_memory_equal(b, "\xee\x01\x02\x03\x04\x05\x06\x07\x08\xee", 10);
}

static void
test_bytes__boundary_values_of_every_width(void **state)
{
    static const uint16_t v16[] = {0,     1,      0x7f,   0x80,   0xff,
                                   0x100, 0x7fff, 0x8000, 0xfffe, 0xffff};
    static const uint32_t v32[] = {
        0, 1, 0xff, 0x100, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff};
    static const uint64_t v64[] = {0,
                                   1,
                                   0xff,
                                   0xffffffffu,
                                   0x100000000u,
                                   (uint64_t)INT64_MAX,
                                   (uint64_t)INT64_MAX + 1,
                                   UINT64_MAX - 1,
                                   UINT64_MAX};
    uint8_t b[8];
    (void)state;
    for (size_t i = 0; i < sizeof v16 / sizeof v16[0]; i++) {
        ldg_be16(b, v16[i]);
        assert_int_equal(ldg_rd_be16(b), v16[i]);
        assert_int_equal(ldg_rd_ben(b, 2), v16[i]);
    }
    for (size_t i = 0; i < sizeof v32 / sizeof v32[0]; i++) {
        ldg_be32(b, v32[i]);
        assert_int_equal(ldg_rd_be32(b), v32[i]);
        assert_int_equal(ldg_rd_ben(b, 4), v32[i]);
    }
    for (size_t i = 0; i < sizeof v64 / sizeof v64[0]; i++) {
        ldg_be64(b, v64[i]);
        assert_true(ldg_rd_be64(b) == v64[i]);
        assert_true(ldg_rd_ben(b, 8) == v64[i]);
    }
    memset(b, 0xff, sizeof b);
    assert_int_equal(ldg_rd_be16(b), UINT16_MAX);
    assert_int_equal(ldg_rd_be32(b), UINT32_MAX);
    assert_true(ldg_rd_be64(b) == UINT64_MAX);
}

/* ldg_rd_ben reads exactly n bytes, for every n from 0 to 8 (msgpack's
 * 1, 2, 4 and 8 byte fields are read with it). */
static void
test_bytes__reads_n_bytes_for_every_n(void **state)
{
    static const uint64_t want[9] = {0,
                                     0x01,
                                     0x0102,
                                     0x010203,
                                     0x01020304,
                                     0x0102030405,
                                     0x010203040506,
                                     0x01020304050607,
                                     0x0102030405060708};
    uint8_t b[12];
    (void)state;
    memset(b, 0xff, sizeof b);
    for (int i = 0; i < 8; i++)
        b[1 + i] = (uint8_t)(i + 1);
    for (size_t n = 0; n <= 8; n++)
        assert_true(ldg_rd_ben(b + 1, n) == want[n]);
    /* the 2, 4 and 8 byte readers are ldg_rd_ben of their width */
    assert_int_equal(ldg_rd_be16(b + 1), want[2]);
    assert_int_equal(ldg_rd_be32(b + 1), want[4]);
    assert_true(ldg_rd_be64(b + 1) == want[8]);
    /* the byte before is not read: at an odd address as at an even one */
    assert_int_equal(ldg_rd_be16(b + 2), 0x0203);
    assert_int_equal(ldg_rd_be32(b + 3), 0x03040506u);
}

/* Written and read back, every width; and the bytes compare as the
 * numbers do, which is why keys are big-endian (FORMAT.md). */
static void
test_bytes__round_trips_and_sorts_as_numbers(void **state)
{
    uint64_t s = 0x9e3779b97f4a7c15u;
    (void)state;
    for (int i = 0; i < 10000; i++) {
        /* values of every magnitude: shift a random value down */
        uint64_t a = next(&s), c = next(&s);
        a >>= next(&s) % 64;
        c >>= next(&s) % 64;
        uint8_t ba[8], bc[8], h[4], l[2];
        int cmp, num;
        ldg_be64(ba, a);
        ldg_be64(bc, c);
        assert_true(ldg_rd_be64(ba) == a);
        cmp = memcmp(ba, bc, 8);
        num = a < c ? -1 : a > c;
        assert_int_equal(cmp < 0 ? -1 : cmp > 0, num);
        ldg_be32(h, (uint32_t)a);
        assert_int_equal(ldg_rd_be32(h), (uint32_t)a);
        assert_memory_equal(h, ba + 4, 4); /* the low half of the 64 */
        ldg_be16(l, (uint16_t)a);
        assert_int_equal(ldg_rd_be16(l), (uint16_t)a);
        assert_memory_equal(l, ba + 6, 2);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bytes__writes_the_most_significant_byte_first),
        cmocka_unit_test(test_bytes__boundary_values_of_every_width),
        cmocka_unit_test(test_bytes__reads_n_bytes_for_every_n),
        cmocka_unit_test(test_bytes__round_trips_and_sorts_as_numbers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
