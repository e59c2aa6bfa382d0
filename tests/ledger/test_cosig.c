/*
 * test_cosig.c — C2SP tlog-cosignature/v1 (ledger/cosig.c): signing,
 * verifying, verifier keys, and the lines of other signers on one note.
 * tests/e2e/fleet_witness.sh checks the same signatures with Go's
 * crypto/ed25519 over the spec's message (tests/interop/tlogcheck).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ledger/module.h"
#include "util/util.h"
#include "ledger/tlog_int.h"

static const char ck[] = "example.com/log\n42\n"
                         "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";

static struct ldg_key *
key_of(int n)
{
    uint8_t seed[32];
    struct ldg_key *k = NULL;

    memset(seed, n, sizeof seed);
    assert_int_equal(ldg_key_from_seed(&k, "w", seed), 0);
    return k;
}

/* The checkpoint signed by a log key, with cosig lines appended. */
static char *
note_with(const char *lines)
{
    struct ldg_key *log = key_of(9);
    char *n = NULL, *out;

    assert_int_equal(ldg_note_sign(&n, ck, strlen(ck), "example.com/log", log),
                     0);
    out = malloc(strlen(n) + strlen(lines) + 1);
    strcpy(out, n);
    strcat(out, lines);
    free(n);
    ldg_key_free(log);
    return out;
}

static void
test_cosig__sign_verify_roundtrip(void **state)
{
    struct ldg_key *k = key_of(1);
    char vkey[200], name[100], *line = NULL, *note;
    uint8_t pub[32];
    uint64_t t = 0;

    assert_true(ldg_cosig_verifier(vkey, sizeof vkey, "w.example/w1", k->pub) >
                0);
    assert_int_equal(ldg_cosig_parse_verifier(vkey, name, sizeof name, pub), 0);
    assert_string_equal(name, "w.example/w1");
    assert_memory_equal(pub, k->pub, 32);
    assert_int_equal(
        ldg_cosig_sign(&line, ck, strlen(ck), "w.example/w1", k, 1700000000),
        0);
    assert_true(strncmp(line, "\xe2\x80\x94 w.example/w1 ", 17) == 0);
    assert_int_equal(strlen(line), 3 + 1 + 12 + 1 + 104 + 1);
    note = note_with(line);
    assert_int_equal(ldg_cosig_verify(note, strlen(note), vkey, &t), 0);
    assert_int_equal(t, 1700000000);
    free(note);
    free(line);
    ldg_key_free(k);
}

static void
test_cosig__tampered_text_or_time_fails(void **state)
{
    struct ldg_key *k = key_of(1);
    char vkey[200], *line = NULL, *note;

    ldg_cosig_verifier(vkey, sizeof vkey, "w.example/w1", k->pub);
    assert_int_equal(
        ldg_cosig_sign(&line, ck, strlen(ck), "w.example/w1", k, 1700000000),
        0);
    note = note_with(line);
    note[17] ^= 1; /* the size line: 42 -> 43 */
    assert_int_equal(ldg_cosig_verify(note, strlen(note), vkey, NULL),
                     LDG_EBADSIG);
    free(note);
    /* flip a bit of the time field inside the base64 (char 7 of the b64) */
    line[17 + 8] = line[17 + 8] == 'A' ? 'B' : 'A';
    note = note_with(line);
    assert_int_equal(ldg_cosig_verify(note, strlen(note), vkey, NULL),
                     LDG_EBADSIG);
    free(note);
    free(line);
    ldg_key_free(k);
}

static void
test_cosig__other_keys_ignored(void **state)
{
    struct ldg_key *k1 = key_of(1), *k2 = key_of(2);
    char v1[200], v2[200], *l1 = NULL, *l2 = NULL, both[400], *note;

    ldg_cosig_verifier(v1, sizeof v1, "w.example/w1", k1->pub);
    ldg_cosig_verifier(v2, sizeof v2, "w.example/w2", k2->pub);
    ldg_cosig_sign(&l1, ck, strlen(ck), "w.example/w1", k1, 5);
    ldg_cosig_sign(&l2, ck, strlen(ck), "w.example/w2", k2, 6);
    note = note_with(l1);
    /* w2 has not cosigned this note: not found, not an error */
    assert_int_equal(ldg_cosig_verify(note, strlen(note), v2, NULL),
                     LDG_ENOTFOUND);
    free(note);
    snprintf(both, sizeof both, "%s%s", l1, l2);
    note = note_with(both);
    assert_int_equal(ldg_cosig_verify(note, strlen(note), v1, NULL), 0);
    assert_int_equal(ldg_cosig_verify(note, strlen(note), v2, NULL), 0);
    free(note);
    free(l1);
    free(l2);
    ldg_key_free(k1);
    ldg_key_free(k2);
}

static void
test_cosig__verifier_types_are_distinct(void **state)
{
    struct ldg_key *k = key_of(1);
    char cv[200], nv[200], name[100];
    uint8_t pub[32];

    ldg_cosig_verifier(cv, sizeof cv, "w.example/w1", k->pub);
    /* a signed-note (0x01) verifier key is not a cosigner key, and back */
    assert_true(ldg_note_verifier(nv, sizeof nv, "w.example/w1", k->pub) > 0);
    assert_int_equal(ldg_cosig_parse_verifier(nv, name, sizeof name, pub),
                     LDG_EBADINPUT);
    assert_int_equal(ldg_note_parse_verifier(cv, name, sizeof name, pub),
                     LDG_EBADINPUT);
    /* the key ID must match */
    cv[13] = cv[13] == '0' ? '1' : '0';
    assert_int_equal(ldg_cosig_parse_verifier(cv, name, sizeof name, pub),
                     LDG_EBADINPUT);
    assert_int_equal(
        ldg_cosig_parse_verifier("no-plus", name, sizeof name, pub),
        LDG_EBADINPUT);
    ldg_key_free(k);
}

static void
test_cosig__bad_arguments(void **state)
{
    struct ldg_key *k = key_of(1), *pubonly = NULL;
    char *line = (char *)1;

    assert_int_equal(ldg_cosig_sign(&line, ck, strlen(ck), "bad name", k, 1),
                     LDG_EINVAL);
    assert_null(line);
    assert_int_equal(ldg_cosig_sign(&line, "no newline", 10, "w", k, 1),
                     LDG_EINVAL);
    assert_int_equal(
        ldg_cosig_sign(&line, ck, strlen(ck), "w", k, (uint64_t)1 << 63),
        LDG_EINVAL);
    ldg_key_from_public(&pubonly, "w", k->pub);
    assert_int_equal(ldg_cosig_sign(&line, ck, strlen(ck), "w", pubonly, 1),
                     LDG_EINVAL);
    ldg_key_free(pubonly);
    ldg_key_free(k);
}

static void
test_cosig__malformed_notes(void **state)
{
    struct ldg_key *k = key_of(1);
    char vkey[200];
    static const char nosig[] = "example.com/log\n1\nAAAA\n";
    static const char badline[] = "example.com/log\n1\nAAAA\n\nnot a sig\n";

    ldg_cosig_verifier(vkey, sizeof vkey, "w", k->pub);
    assert_int_equal(ldg_cosig_verify(nosig, strlen(nosig), vkey, NULL),
                     LDG_EBADINPUT);
    assert_int_equal(ldg_cosig_verify(badline, strlen(badline), vkey, NULL),
                     LDG_EBADINPUT);
    assert_int_equal(ldg_cosig_verify(badline, strlen(badline), "junk", NULL),
                     LDG_EBADINPUT);
    ldg_key_free(k);
}

static void
test_cosig__count_for_a_quorum(void **state)
{
    struct ldg_key *k1 = key_of(1), *k2 = key_of(2), *k3 = key_of(3);
    char v1[200], v2[200], v3[200], *l1 = NULL, *l3 = NULL, both[400];
    const char *keys[3] = {v1, v2, v3};
    int ok[3];
    char *note;

    ldg_cosig_verifier(v1, sizeof v1, "w1", k1->pub);
    ldg_cosig_verifier(v2, sizeof v2, "w2", k2->pub);
    ldg_cosig_verifier(v3, sizeof v3, "w3", k3->pub);
    ldg_cosig_sign(&l1, ck, strlen(ck), "w1", k1, 10);
    ldg_cosig_sign(&l3, ck, strlen(ck), "w3", k3, 11);
    snprintf(both, sizeof both, "%s%s", l1, l3);
    note = note_with(both);
    assert_int_equal(ldg_cosig_count(note, strlen(note), keys, 3, ok), 2);
    assert_int_equal(ok[0], 1);
    assert_int_equal(ok[1], 0);
    assert_int_equal(ok[2], 1);
    free(note);
    /* a forged line by w3 (w1's signature bytes under w3's key ID) */
    memcpy(strstr(both, "w3 ") + 3 + 8, strstr(both, "w1 ") + 3 + 8, 60);
    note = note_with(both);
    assert_int_equal(ldg_cosig_count(note, strlen(note), keys, 3, ok),
                     LDG_EBADSIG);
    free(note);
    free(l1);
    free(l3);
    ldg_key_free(k1);
    ldg_key_free(k2);
    ldg_key_free(k3);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cosig__sign_verify_roundtrip),
        cmocka_unit_test(test_cosig__tampered_text_or_time_fails),
        cmocka_unit_test(test_cosig__other_keys_ignored),
        cmocka_unit_test(test_cosig__verifier_types_are_distinct),
        cmocka_unit_test(test_cosig__bad_arguments),
        cmocka_unit_test(test_cosig__malformed_notes),
        cmocka_unit_test(test_cosig__count_for_a_quorum),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
