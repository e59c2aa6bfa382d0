/*
 * test_hex.c — hex out and in, and decimals in (util/hex.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ledger/module.h"
#include "util/util.h"

static void
test_hex__round_trips_every_byte(void **state)
{
    uint8_t in[256], out[256];
    char h[513];
    (void)state;
    for (int i = 0; i < 256; i++)
        in[i] = (uint8_t)i;
    ldg_hex(h, in, sizeof in);
    assert_int_equal(strlen(h), 512);
    assert_memory_equal(h, "000102", 6);
    assert_string_equal(h + 506, "fdfeff");
    assert_int_equal(ldg_unhex(out, sizeof out, h), 0);
    assert_memory_equal(in, out, sizeof in);
}

static void
test_hex__reads_either_case_and_refuses_the_rest(void **state)
{
    uint8_t o[2];
    (void)state;
    assert_int_equal(ldg_unhex(o, 2, "aBcD"), 0);
    assert_int_equal(o[0], 0xab);
    assert_int_equal(o[1], 0xcd);
    assert_int_equal(ldg_unhex(o, 2, "abc"), LDG_EBADINPUT);   /* short */
    assert_int_equal(ldg_unhex(o, 2, "abcde"), LDG_EBADINPUT); /* long */
    assert_int_equal(ldg_unhex(o, 2, "abcg"), LDG_EBADINPUT);  /* not hex */
    assert_int_equal(ldg_unhex(o, 2, "ab c"), LDG_EBADINPUT);
    assert_int_equal(ldg_unhex(o, 0, ""), 0);
}

static void
test_hex__prefix_reads_only_its_digits(void **state)
{
    uint8_t o[2];
    (void)state;
    assert_int_equal(ldg_unhex_prefix(o, 2, "0A1b+rest"), 0);
    assert_int_equal(o[0], 0x0a);
    assert_int_equal(o[1], 0x1b);
    assert_int_equal(ldg_unhex_prefix(o, 2, "0a1"), LDG_EBADINPUT); /* NUL */
    assert_int_equal(ldg_unhex_prefix(o, 2, "0a+b"), LDG_EBADINPUT);
}

static void
test_text_ok__takes_printable_text_up_to_max(void **state)
{
    (void)state;
    assert_int_equal(ldg_text_ok("run-1 \xc3\xa9", 9), 1);
    assert_int_equal(ldg_text_ok("abc", 3), 1);
    assert_int_equal(ldg_text_ok("abcd", 3), 0); /* over max */
    assert_int_equal(ldg_text_ok("", 3), 0);     /* empty */
    assert_int_equal(ldg_text_ok("a\tb", 9), 0); /* a control character */
    assert_int_equal(ldg_text_ok("a\nb", 9), 0);
    assert_int_equal(ldg_text_ok("a\x7f", 9), 0); /* DEL */
    assert_int_equal(ldg_text_ok("\x1f", 9), 0);
}

/* n bytes of s, as ldg_parse_u64 reads them; out is 7 after a refusal */
static int
dec(const char *s, unsigned flags, uint64_t *out)
{
    *out = 7;
    return ldg_parse_u64(s, strlen(s), flags, out);
}

static void
test_parse_u64__one_language_leading_zeros_by_flag(void **state)
{
    static const char *const refused[] = {
        "",
        "-1",
        "+1",
        " 1",
        "1 ",
        "1x",
        "0x10",
        "1.0",
        "18446744073709551616",
        "99999999999999999999",
        "000000000000000000001", /* 21 digits */
    };
    uint64_t v;
    (void)state;
    for (unsigned f = 0; f <= LDG_DEC_CANONICAL; f++) {
        assert_int_equal(dec("0", f, &v), 0);
        assert_int_equal(v, 0);
        assert_int_equal(dec("4812", f, &v), 0);
        assert_int_equal(v, 4812);
        assert_int_equal(dec("18446744073709551615", f, &v), 0);
        assert_int_equal(v, UINT64_MAX);
        for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
            assert_int_equal(dec(refused[i], f, &v), -1);
            assert_int_equal(v, 7); /* untouched */
        }
    }
    /* leading zeros: read as plain, refused as canonical */
    assert_int_equal(dec("009", 0, &v), 0);
    assert_int_equal(v, 9);
    assert_int_equal(dec("00000000000000000042", 0, &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(dec("00", LDG_DEC_CANONICAL, &v), -1);
    assert_int_equal(dec("01", LDG_DEC_CANONICAL, &v), -1);
    /* exactly n bytes: what follows is not read */
    assert_int_equal(ldg_parse_u64("123456", 3, LDG_DEC_CANONICAL, &v), 0);
    assert_int_equal(v, 123);
}

static void
test_edit_distance__counts_edits_up_to_64_bytes(void **state)
{
    char long_one[66];
    (void)state;
    assert_int_equal(ldg_edit_distance("", ""), 0);
    assert_int_equal(ldg_edit_distance("R-0001", "R-0001"), 0);
    assert_int_equal(ldg_edit_distance("R-001", "R-0001"), 1);
    assert_int_equal(ldg_edit_distance("run.startd", "run.started"), 1);
    assert_int_equal(ldg_edit_distance("kitten", "sitting"), 3);
    assert_int_equal(ldg_edit_distance("", "abc"), 3);
    memset(long_one, 'a', 65);
    long_one[65] = '\0';
    assert_int_equal(ldg_edit_distance(long_one, "a"), SIZE_MAX);
    long_one[64] = '\0';
    assert_int_equal(ldg_edit_distance(long_one, long_one), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hex__round_trips_every_byte),
        cmocka_unit_test(test_hex__reads_either_case_and_refuses_the_rest),
        cmocka_unit_test(test_hex__prefix_reads_only_its_digits),
        cmocka_unit_test(test_text_ok__takes_printable_text_up_to_max),
        cmocka_unit_test(test_parse_u64__one_language_leading_zeros_by_flag),
        cmocka_unit_test(test_edit_distance__counts_edits_up_to_64_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
