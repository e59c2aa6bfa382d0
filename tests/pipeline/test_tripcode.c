/*
 * test_tripcode.c — tripcode text, signing and the known-answer vector of
 * docs/VOCABULARY.md ("Tripcodes"), with must-fail forms.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pipeline/pipeline.h"
#include "ledger/module.h"
#include "util/util.h"

/* The vector (checked with Python's cryptography package, independent of
 * libsodium): the key from the seed 00 01 02 .. 1f (public key
 * 03a107bf...5531b8), TS 1795500000, CODE
 * RECOVERY:REVERT_SNAPSHOT::S-0917; the signed bytes are "TS|CODE". */
#define V_TS 1795500000
#define V_CODE "RECOVERY:REVERT_SNAPSHOT::S-0917"
#define V_SIG                                                                  \
    "ca4e3c106705ddf3007edea116d90e602a8a8578996efcf912a007eb74e318b116cc8237" \
    "95cf383e07914eed24e95bbeaae288d4c754e37c41b6b75b9b87820a"

static struct ldg_key *
vector_key(void)
{
    uint8_t seed[32];
    struct ldg_key *k = NULL;
    for (int i = 0; i < 32; i++)
        seed[i] = (uint8_t)i;
    assert_int_equal(ldg_key_from_seed(&k, "controller", seed), 0);
    return k;
}

static void
test_tripcode__the_vector(void **state)
{
    struct ldg_key *k = vector_key();
    char out[LDG_TRIPCODE_MAX], err[256], msg[128];
    struct ldg_tripcode t;
    (void)state;
    assert_int_equal(ldg_pipeline_tripcode_sign(k, V_TS, V_CODE, out,
                                                sizeof out, err, sizeof err),
                     0);
    assert_string_equal(out, "1795500000|" V_CODE "|" V_SIG);
    assert_int_equal(ldg_pipeline_tripcode_parse(out, &t, err, sizeof err), 0);
    assert_int_equal(t.ts_s, V_TS);
    assert_string_equal(t.code, V_CODE);
    snprintf(msg, sizeof msg, "%lld|%s", (long long)t.ts_s, t.code);
    assert_int_equal(ldg_sig_verify_plain(k->pub, msg, strlen(msg), t.sig), 0);
    /* one byte more or less in the signed text and it fails */
    assert_int_equal(ldg_sig_verify_plain(k->pub, msg, strlen(msg) - 1, t.sig),
                     LDG_EBADSIG);
    msg[0] = '2';
    assert_int_equal(ldg_sig_verify_plain(k->pub, msg, strlen(msg), t.sig),
                     LDG_EBADSIG);
    ldg_key_free(k);
}

static void
test_tripcode__a_trailing_newline_is_the_file_s_not_the_code_s(void **state)
{
    struct ldg_tripcode t;
    char err[256];
    (void)state;
    assert_int_equal(ldg_pipeline_tripcode_parse("1795500000|" V_CODE "|" V_SIG
                                                 "\r\n",
                                                 &t, err, sizeof err),
                     0);
    assert_string_equal(t.sig_hex, V_SIG);
}

static void
test_tripcode__malformed_texts_are_refused(void **state)
{
    static const char *const bad[] = {
        "",
        "1795500000",
        "1795500000|" V_CODE,
        "|" V_CODE "|" V_SIG,
        "01795500000|" V_CODE "|" V_SIG,   /* a leading zero */
        "-1|" V_CODE "|" V_SIG,            /* a sign */
        "1795500000000|" V_CODE "|" V_SIG, /* 13 digits */
        "17955x0000|" V_CODE "|" V_SIG,
        "1795500000||" V_SIG,               /* no code */
        "1795500000|" V_CODE "|" V_SIG "0", /* 129 digits */
        "1795500000|" V_CODE "|abc",
    };
    struct ldg_tripcode t;
    char err[256], upper[300];
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(
            ldg_pipeline_tripcode_parse(bad[i], &t, err, sizeof err),
            LDG_EBADINPUT);
        assert_true(err[0] != '\0');
    }
    /* the signature's hex is lowercase only */
    snprintf(upper, sizeof upper, "1795500000|%s|%s", V_CODE, V_SIG);
    for (char *p = strrchr(upper, '|'); *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
    assert_int_equal(ldg_pipeline_tripcode_parse(upper, &t, err, sizeof err),
                     LDG_EBADINPUT);
}

static void
test_tripcode__the_code_grammar(void **state)
{
    static const char *const good[] = {
        "RECOVERY:REIMAGE_TO_GOLDEN", "RECOVERY:LOCKDOWN",
        "RECOVERY:REVERT_SNAPSHOT::S-1", "RECOVERY:DIAGNOSTIC::gpu.full_v2"};
    static const char *const bad[] = {"RECOVERY:NUKE",
                                      "recovery:lockdown",
                                      "RECOVERY:LOCKDOWN ",
                                      "RECOVERY:REVERT_SNAPSHOT::",
                                      "RECOVERY:REVERT_SNAPSHOT::a b",
                                      "RECOVERY:DIAGNOSTIC::x|y",
                                      "RECOVERY:REVERT_SNAPSHOT:S-1",
                                      ""};
    struct ldg_key *k = vector_key();
    char err[256], out[LDG_TRIPCODE_MAX];
    (void)state;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_int_equal(ldg_pipeline_code_check(good[i], err, sizeof err), 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(ldg_pipeline_code_check(bad[i], err, sizeof err),
                         LDG_EBADINPUT);
        /* and nothing is signed for it */
        assert_int_equal(ldg_pipeline_tripcode_sign(
                             k, V_TS, bad[i], out, sizeof out, err, sizeof err),
                         LDG_EBADINPUT);
    }
    ldg_key_free(k);
}

static void
test_tripcode__a_public_key_cannot_sign(void **state)
{
    struct ldg_key *k = vector_key(), *pub = NULL;
    char err[256], out[LDG_TRIPCODE_MAX];
    (void)state;
    assert_int_equal(ldg_key_from_public(&pub, "p", k->pub), 0);
    assert_int_equal(ldg_pipeline_tripcode_sign(pub, V_TS, V_CODE, out,
                                                sizeof out, err, sizeof err),
                     LDG_EKEY);
    assert_int_equal(ldg_pipeline_tripcode_sign(k, -1, V_CODE, out, sizeof out,
                                                err, sizeof err),
                     LDG_EINVAL);
    ldg_key_free(pub);
    ldg_key_free(k);
}

/* Mutations of the vector's text (seeded, so a failure repeats): a byte
 * changed, dropped or inserted anywhere. Parsing never reads past the
 * text, a text that parses is given back exactly by its parts, and no
 * mutation that still parses verifies unless it is the text itself (the
 * format has one spelling of each TS, CODE and SIG). */
static void
test_tripcode__mutations_never_verify(void **state)
{
    static const char good[] = "1795500000|" V_CODE "|" V_SIG;
    struct ldg_key *k = vector_key();
    uint64_t x = 0x9e3779b97f4a7c15ull;
    unsigned parsed = 0, verified = 0;
    (void)state;
    for (int i = 0; i < 20000; i++) {
        char buf[sizeof good + 2], msg[LDG_TRIPCODE_MAX], back[600], err[256];
        struct ldg_tripcode t;
        size_t n = sizeof good - 1, at;
        int op;
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        at = (size_t)(x % n);
        op = (int)((x >> 32) % 3);
        memcpy(buf, good, sizeof good);
        if (op == 0) {
            buf[at] = (char)(x >> 40);
            if (buf[at] == '\0')
                buf[at] = '|';
        } else if (op == 1) {
            memmove(buf + at, buf + at + 1, n - at);
        } else {
            memmove(buf + at + 1, buf + at, n - at + 1);
            buf[at] = (char)(32 + (x >> 48) % 95);
        }
        if (ldg_pipeline_tripcode_parse(buf, &t, err, sizeof err) != 0)
            continue;
        parsed++;
        snprintf(back, sizeof back, "%lld|%s|%s", (long long)t.ts_s, t.code,
                 t.sig_hex);
        assert_string_equal(back, buf);
        snprintf(msg, sizeof msg, "%lld|%s", (long long)t.ts_s, t.code);
        if (ldg_sig_verify_plain(k->pub, msg, strlen(msg), t.sig) == 0) {
            verified++;
            assert_string_equal(buf, good); /* only the unchanged text */
        }
    }
    assert_true(parsed > 1000); /* the mutations did reach the verifier */
    (void)verified;
    ldg_key_free(k);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tripcode__the_vector),
        cmocka_unit_test(
            test_tripcode__a_trailing_newline_is_the_file_s_not_the_code_s),
        cmocka_unit_test(test_tripcode__malformed_texts_are_refused),
        cmocka_unit_test(test_tripcode__the_code_grammar),
        cmocka_unit_test(test_tripcode__a_public_key_cannot_sign),
        cmocka_unit_test(test_tripcode__mutations_never_verify),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
