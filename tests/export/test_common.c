/*
 * test_common.c — helpers shared by export/ (export/common.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tests/export/helpers.h"

static void
test_common__parse_dec_takes_only_canonical_decimals(void **state)
{
    static const char *const bad[] = {"",
                                      "01",
                                      "-1",
                                      "+1",
                                      "1 ",
                                      " 1",
                                      "1a",
                                      "18446744073709551616",
                                      "99999999999999999999",
                                      NULL};
    uint64_t v;
    (void)state;
    assert_int_equal(parse_dec("0", 1, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(parse_dec("18446744073709551615", 20, &v), 0);
    assert_true(v == UINT64_MAX);
    assert_int_equal(parse_dec("123x", 3, &v), 0); /* only n bytes */
    assert_int_equal(v, 123);
    for (size_t i = 0; bad[i]; i++)
        assert_int_equal(parse_dec(bad[i], strlen(bad[i]), &v), -1);
}

static void
test_common__format_time_is_rfc3339_utc_with_nanoseconds(void **state)
{
    char buf[64];
    (void)state;
    format_time(buf, sizeof buf, 0);
    assert_string_equal(buf, "1970-01-01T00:00:00.000000000Z");
    format_time(buf, sizeof buf, 1767225600123456789ull);
    assert_string_equal(buf, "2026-01-01T00:00:00.123456789Z");
}

static void
test_common__envelope_json_shows_the_decoded_entry(void **state)
{
    char *dir = tmp_dir(), hex[129];
    struct ldg_ledger *l = new_ledger(dir, "l");
    struct ldg_txn *t;
    struct ldg_event ev;
    json_t *o;
    uint64_t seq =
        add(l, "run.started", NULL, "{\"run\":\"R9\",\"pack\":\"p\"}");
    (void)state;

    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_event_get(t, seq, &ev), 0);
    o = envelope_json(&ev);
    for (size_t i = 0; envelope_keys[i]; i++) {
        json_t *v = json_object_get(o, envelope_keys[i]);
        if (strcmp(envelope_keys[i], "parent") == 0)
            assert_null(v);
        else
            assert_true(json_is_string(v));
    }
    assert_int_equal(json_object_size(o), 11);
    assert_string_equal(json_string_value(json_object_get(o, "run")), "R9");
    assert_string_equal(json_string_value(json_object_get(o, "type")),
                        "run.started");
    ldg_hex(hex, ev.leaf, 32);
    assert_string_equal(json_string_value(json_object_get(o, "leaf_hash")),
                        hex);
    ldg_hex(hex, ev.sig, 64);
    assert_string_equal(json_string_value(json_object_get(o, "signature")),
                        hex);
    json_decref(o);
    ldg_txn_abort(t);
    ldg_close(l);
    rm_rf(dir);
    free(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_common__parse_dec_takes_only_canonical_decimals),
        cmocka_unit_test(
            test_common__format_time_is_rfc3339_utc_with_nanoseconds),
        cmocka_unit_test(test_common__envelope_json_shows_the_decoded_entry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
