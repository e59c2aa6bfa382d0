/*
 * test_codec.c — canonical msgpack: same input, same bytes; strict decode.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ledger/ledger_int.h"

static void
enc(const char *json, uint8_t **p, size_t *n)
{
    json_t *v = json_loads(json, JSON_DECODE_ANY, NULL);
    assert_non_null(v);
    assert_int_equal(ldg_json_to_msgpack(v, 1 << 20, p, n), 0);
    json_decref(v);
}

static void
test_codec__map_keys_sorted_bytewise(void **state)
{
    uint8_t *a, *b;
    size_t na, nb;
    (void)state;
    enc("{\"b\":1,\"a\":2,\"B\":3,\"aa\":4}", &a, &na);
    enc("{\"aa\":4,\"B\":3,\"a\":2,\"b\":1}", &b, &nb);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na);
    /* fixmap(4), then "B" (0x42) sorts before "a" (0x61) */
    assert_int_equal(a[0], 0x84);
    assert_int_equal(a[1], 0xa1);
    assert_int_equal(a[2], 'B');
    free(a);
    free(b);
}

static void
test_codec__integers_take_the_shortest_form(void **state)
{
    static const struct {
        const char *json;
        uint8_t first;
        size_t len;
    } cases[] = {{"0", 0x00, 1},          {"127", 0x7f, 1},  {"128", 0xcc, 2},
                 {"255", 0xcc, 2},        {"256", 0xcd, 3},  {"65536", 0xce, 5},
                 {"4294967296", 0xcf, 9}, {"-1", 0xff, 1},   {"-32", 0xe0, 1},
                 {"-33", 0xd0, 2},        {"-129", 0xd1, 3}, {"1.5", 0xcb, 9}};
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t *p;
        size_t n;
        enc(cases[i].json, &p, &n);
        assert_int_equal(p[0], cases[i].first);
        assert_int_equal(n, cases[i].len);
        free(p);
    }
}

static void
test_codec__round_trip_preserves_values(void **state)
{
    const char *j = "{\"s\":\"héllo\",\"i\":-5,\"u\":9007199254740993,"
                    "\"f\":0.25,\"t\":true,\"n\":null,"
                    "\"a\":[1,[2,{\"x\":\"y\"}]],\"e\":{}}";
    json_t *in = json_loads(j, 0, NULL), *out;
    uint8_t *p;
    size_t n;
    (void)state;
    assert_int_equal(ldg_json_to_msgpack(in, 1 << 20, &p, &n), 0);
    assert_int_equal(ldg_msgpack_to_json(p, n, &out), 0);
    assert_true(json_equal(in, out));
    assert_int_equal(json_integer_value(json_object_get(out, "u")),
                     9007199254740993LL);
    json_decref(in);
    json_decref(out);
    free(p);
}

static void
test_codec__strict_decoder_refuses_non_canonical(void **state)
{
    json_t *o;
    (void)state;
    /* uint8 holding 5: shortest is a fixint */
    assert_int_equal(ldg_msgpack_to_json((const uint8_t *)"\xcc\x05", 2, &o),
                     LDG_ECORRUPT);
    /* map with keys out of order {"b":1,"a":2} */
    assert_int_equal(ldg_msgpack_to_json((const uint8_t *)"\x82\xa1"
                                                          "b\x01\xa1"
                                                          "a\x02",
                                         7, &o),
                     LDG_ECORRUPT);
    /* duplicate keys */
    assert_int_equal(ldg_msgpack_to_json((const uint8_t *)"\x82\xa1"
                                                          "a\x01\xa1"
                                                          "a\x02",
                                         7, &o),
                     LDG_ECORRUPT);
    /* trailing byte */
    assert_int_equal(ldg_msgpack_to_json((const uint8_t *)"\x01\x02", 2, &o),
                     LDG_ECORRUPT);
    /* str8 for a 3-byte string (fixstr is shorter) */
    assert_int_equal(ldg_msgpack_to_json((const uint8_t *)"\xd9\x03"
                                                          "abc",
                                         5, &o),
                     LDG_ECORRUPT);
    /* float32 never appears in canonical output */
    assert_int_equal(
        ldg_msgpack_to_json((const uint8_t *)"\xca\x3f\x80\x00\x00", 5, &o),
        LDG_ECORRUPT);
    /* bin is not a JSON value */
    assert_int_equal(ldg_msgpack_to_json((const uint8_t *)"\xc4\x01x", 3, &o),
                     LDG_ECORRUPT);
    /* truncated */
    assert_int_equal(ldg_msgpack_to_json((const uint8_t *)"\x92\x01", 2, &o),
                     LDG_ECORRUPT);
}

static void
test_codec__size_ceiling_is_enforced(void **state)
{
    json_t *v = json_pack("{s:s}", "k", "0123456789012345678901234567890");
    uint8_t *p;
    size_t n;
    (void)state;
    assert_int_equal(ldg_json_to_msgpack(v, 16, &p, &n), LDG_ETOOBIG);
    json_decref(v);
}

static void
test_codec__deep_nesting_is_refused(void **state)
{
    json_t *v = json_array(), *cur = v;
    uint8_t *p;
    size_t n;
    (void)state;
    for (int i = 0; i < 200; i++) {
        json_t *a = json_array();
        json_array_append_new(cur, a);
        cur = a;
    }
    assert_int_equal(ldg_json_to_msgpack(v, 1 << 20, &p, &n), LDG_ETOOBIG);
    json_decref(v);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codec__map_keys_sorted_bytewise),
        cmocka_unit_test(test_codec__integers_take_the_shortest_form),
        cmocka_unit_test(test_codec__round_trip_preserves_values),
        cmocka_unit_test(test_codec__strict_decoder_refuses_non_canonical),
        cmocka_unit_test(test_codec__size_ceiling_is_enforced),
        cmocka_unit_test(test_codec__deep_nesting_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
