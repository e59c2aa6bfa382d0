/*
 * test_codec_view.c — body views over a stored record and over the JSON
 * object it was made from answer every question alike; records the view
 * does not expect are left to the strict decoder.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ledger/record_int.h"

/* Builds a stored-body record (flag 0 ‖ {name: [salt, value]}) from a
 * JSON object whose keys are already in bytewise order. */
static uint8_t *
record_of(json_t *body, size_t *len)
{
    uint8_t *out = malloc(1 << 16), *mp;
    size_t n = 0, mlen;
    const char *k;
    json_t *v;
    out[n++] = 0x00;
    out[n++] = (uint8_t)(0x80 | json_object_size(body));
    json_object_foreach(body, k, v)
    {
        size_t kl = strlen(k);
        out[n++] = (uint8_t)(0xa0 | kl);
        memcpy(out + n, k, kl);
        n += kl;
        out[n++] = 0x92;
        out[n++] = 0xc4;
        out[n++] = 16;
        memset(out + n, 0x5a, 16);
        n += 16;
        assert_int_equal(ldg_json_to_msgpack(v, 1 << 15, &mp, &mlen), 0);
        memcpy(out + n, mp, mlen);
        n += mlen;
        free(mp);
    }
    *len = n;
    return out;
}

static void
test_codec_view__json_and_msgpack_views_agree(void **state)
{
    json_t *body = json_loads(
        "{\"a_str\":\"héllo\",\"b_int\":-70000,\"c_big\":9007199254740993,"
        "\"d_real\":0.25,\"e_true\":true,\"f_null\":null,"
        "\"g_obj\":{\"x\":[1,2,{\"y\":\"z\"}]},\"h_zero\":0}",
        JSON_PRESERVE_ORDER, NULL);
    struct ldg_body_view *j = NULL, *m = NULL;
    static const char *const names[] = {"a_str",  "b_int",  "c_big",
                                        "d_real", "e_true", "f_null",
                                        "g_obj",  "h_zero", "missing"};
    uint8_t *rec;
    size_t len;
    (void)state;

    assert_non_null(body);
    assert_int_equal(ldg_body_view_new(&j), 0);
    assert_int_equal(ldg_body_view_new(&m), 0);
    ldg_body_view_set_json(j, body);
    rec = record_of(body, &len);
    assert_int_equal(ldg_body_view_from_record(m, rec, len), 0);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        struct ldg_slice a, b;
        int64_t ia, ib;
        double da, db;
        int ba, bb;
        json_t *ja, *jb;
        assert_int_equal(ldg_body_view_str(j, names[i], &a),
                         ldg_body_view_str(m, names[i], &b));
        if (ldg_body_view_str(j, names[i], &a) &&
            ldg_body_view_str(m, names[i], &b)) {
            assert_int_equal(a.n, b.n);
            assert_memory_equal(a.p, b.p, a.n);
        }
        assert_int_equal(ldg_body_view_int(j, names[i], &ia),
                         ldg_body_view_int(m, names[i], &ib));
        if (ldg_body_view_int(j, names[i], &ia))
            assert_true(ldg_body_view_int(m, names[i], &ib) && ia == ib);
        assert_int_equal(ldg_body_view_num(j, names[i], &da),
                         ldg_body_view_num(m, names[i], &db));
        if (ldg_body_view_num(j, names[i], &da))
            assert_true(ldg_body_view_num(m, names[i], &db) && da == db);
        assert_int_equal(ldg_body_view_bool(j, names[i], &ba),
                         ldg_body_view_bool(m, names[i], &bb));
        ja = ldg_body_view_json(j, names[i]);
        jb = ldg_body_view_json(m, names[i]);
        assert_true((ja == NULL) == (jb == NULL));
        if (ja != NULL)
            assert_true(json_equal(ja, jb));
        json_decref(ja);
        json_decref(jb);
    }
    /* compressed or foreign records are left to the core */
    rec[0] = 0x01;
    assert_int_equal(ldg_body_view_from_record(m, rec, len), 1);
    /* truncated: left to the core, never read past the end */
    rec[0] = 0x00;
    for (size_t cut = 1; cut < len; cut += 7)
        assert_int_equal(ldg_body_view_from_record(m, rec, cut), 1);
    /* an erased view has no fields */
    ldg_body_view_set_json(m, NULL);
    assert_true(ldg_body_view_erased(m));
    assert_null(ldg_body_view_json(m, "a_str"));
    free(rec);
    ldg_body_view_free(j);
    ldg_body_view_free(m);
    json_decref(body);
}

/* ldg_body_record_str answers as the view's str does, field by field;
 * records it cannot read are handed back (2), never read past the end. */
static void
test_codec_view__record_str_is_the_views(void **state)
{
    json_t *body = json_loads(
        "{\"a_arr\":[\"x\",{\"k\":[1,2]},3.5],\"b_str\":\"qwen\","
        "\"c_int\":300,\"d_long\":\"a string of more than thirty-one "
        "bytes, a str8\",\"e_nul\":\"a\\u0000b\",\"f_null\":null,"
        "\"g_empty\":\"\"}",
        JSON_PRESERVE_ORDER | JSON_ALLOW_NUL, NULL);
    static const char *const names[] = {"a_arr",   "b_str",   "c_int",
                                        "d_long",  "e_nul",   "f_null",
                                        "g_empty", "missing", "b_st"};
    struct ldg_body_view *m = NULL;
    uint8_t *rec;
    size_t len;
    (void)state;

    assert_non_null(body);
    assert_int_equal(ldg_body_view_new(&m), 0);
    rec = record_of(body, &len);
    assert_int_equal(ldg_body_view_from_record(m, rec, len), 0);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        struct ldg_slice a, b;
        int va = ldg_body_view_str(m, names[i], &a);
        assert_int_equal(ldg_body_record_str(rec, len, names[i], &b), va);
        if (va) {
            assert_int_equal(a.n, b.n);
            assert_memory_equal(a.p, b.p, a.n);
        }
    }
    /* truncated records: the field if it was whole before the cut, else
     * handed back; never a read past the end (ASan) */
    for (size_t cut = 1; cut < len; cut++) {
        struct ldg_slice b;
        int rc = ldg_body_record_str(rec, cut, "g_empty", &b);
        assert_true(rc == 2 || (rc == 1 && b.n == 0));
        rc = ldg_body_record_str(rec, cut, "missing", &b);
        assert_int_equal(rc, 2);
    }
    /* compressed or foreign: handed back */
    rec[0] = 0x01;
    {
        struct ldg_slice b;
        assert_int_equal(ldg_body_record_str(rec, len, "b_str", &b), 2);
    }
    free(rec);
    ldg_body_view_free(m);
    json_decref(body);
}

/* A view made from the slices of the commitment's walk (verify --full's)
 * answers as the view of the record; str_or_array answers as str, or as
 * json for an array, and makes no JSON of any other value. */
static void
test_codec_view__slices_view_is_the_records(void **state)
{
    json_t *body =
        json_loads("{\"a_arr\":[\"x\",{\"k\":[1,2]},3.5],\"b_str\":\"qwen\","
                   "\"c_int\":300,\"d_obj\":{\"s\":\"t\"},\"f_null\":null,"
                   "\"g_empty\":\"\"}",
                   JSON_PRESERVE_ORDER, NULL);
    static const char *const names[] = {"a_arr",  "b_str",   "c_int",  "d_obj",
                                        "f_null", "g_empty", "missing"};
    struct ldg_body_view *r = NULL, *s = NULL;
    struct ldg_field_slice sl[8];
    size_t n = 0;
    uint8_t *rec;
    size_t len;
    (void)state;

    assert_non_null(body);
    assert_int_equal(ldg_body_view_new(&r), 0);
    assert_int_equal(ldg_body_view_new(&s), 0);
    rec = record_of(body, &len);
    assert_int_equal(ldg_body_view_from_record(r, rec, len), 0);
    assert_int_equal(
        ldg_codec_fields_walk_shape(rec + 1, len - 1, 0, sl, 8, &n), 0);
    assert_int_equal(n, 6);
    assert_int_equal(ldg_body_view_from_slices(s, sl, n), 0);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        struct ldg_slice a, b;
        json_t *ja = ldg_body_view_json(r, names[i]);
        json_t *jb = ldg_body_view_json(s, names[i]), *arr;
        int va = ldg_body_view_str(r, names[i], &a);
        int kind = ldg_body_view_str_or_array(s, names[i], &b, &arr);

        assert_int_equal(ldg_body_view_str(s, names[i], &b), va);
        assert_true((ja == NULL) == (jb == NULL));
        if (ja != NULL)
            assert_true(json_equal(ja, jb));
        assert_int_equal(kind, va ? 1 : json_is_array(ja) ? 2 : 0);
        if (kind == 1) {
            assert_true(ldg_body_view_str(r, names[i], &a));
            assert_int_equal(a.n, b.n);
            assert_memory_equal(a.p, b.p, a.n);
        }
        if (kind == 2)
            assert_true(json_equal(arr, ja));
        else
            assert_null(arr);
        json_decref(arr);
        json_decref(ja);
        json_decref(jb);
    }
    free(rec);
    ldg_body_view_free(r);
    ldg_body_view_free(s);
    json_decref(body);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codec_view__json_and_msgpack_views_agree),
        cmocka_unit_test(test_codec_view__record_str_is_the_views),
        cmocka_unit_test(test_codec_view__slices_view_is_the_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
