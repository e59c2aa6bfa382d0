/*
 * test_note.c — C2SP signed notes and checkpoint bodies (ledger/note.c).
 *
 * Known answers are the PeterNeumann and EnochRoot vectors of Go's
 * golang.org/x/mod/sumdb/note tests (note_test.go, example_test.go): the
 * same seed must give the same verifier key and, Ed25519 being
 * deterministic, byte-identical signed notes.
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

#define DASH "\xe2\x80\x94"

/* From Go's x/mod/sumdb/note tests. */
static const char peter_skey_b64[] =
    "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"; /* 0x01 ‖ seed */
static const char peter_vkey[] =
    "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
static const char enoch_vkey[] =
    "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
static const char text[] =
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n";
static const char peter_sig[] =
    DASH " PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN"
         "1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
static const char enoch_sig[] =
    DASH " EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vA"
         "F1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

struct fixture {
    struct ldg_key *peter;
    uint8_t peter_pub[32], enoch_pub[32];
};

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    uint8_t raw[33];
    char name[LDG_NAME_MAX + 1];

    assert_non_null(f);
    assert_int_equal(
        ldg_unbase64(raw, 33, peter_skey_b64, strlen(peter_skey_b64)), 0);
    assert_int_equal(raw[0], 0x01);
    assert_int_equal(ldg_key_from_seed(&f->peter, "PeterNeumann", raw + 1), 0);
    assert_int_equal(
        ldg_note_parse_verifier(peter_vkey, name, sizeof name, f->peter_pub),
        0);
    assert_int_equal(
        ldg_note_parse_verifier(enoch_vkey, name, sizeof name, f->enoch_pub),
        0);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;

    ldg_key_free(f->peter);
    free(f);
    return 0;
}

/* note = text + "\n" + sigs, in a malloc'd buffer. */
static char *
make_note(const char *t, const char *sigs)
{
    size_t a = strlen(t), b = strlen(sigs);
    char *n = malloc(a + 1 + b + 1);

    assert_non_null(n);
    memcpy(n, t, a);
    n[a] = '\n';
    memcpy(n + a + 1, sigs, b + 1);
    return n;
}

static int
verify_str(const char *note, const char *name, const uint8_t pub[32],
           size_t *tlen)
{
    return ldg_note_verify(note, strlen(note), name, pub, tlen);
}

/* --------------------------------------------------------- known answers */

static void
test_note__go_vectors_key_id_and_verifier(void **state)
{
    struct fixture *f = *state;
    char buf[256];

    assert_memory_equal(f->peter->pub, f->peter_pub, 32);
    assert_int_equal(ldg_note_key_id("PeterNeumann", f->peter->pub),
                     0xc74f20a3u);
    assert_int_equal(ldg_note_key_id("EnochRoot", f->enoch_pub), 0xaf0cfe78u);
    assert_int_equal(
        ldg_note_verifier(buf, sizeof buf, "PeterNeumann", f->peter->pub),
        (int)strlen(peter_vkey));
    assert_string_equal(buf, peter_vkey);
    assert_int_equal(
        ldg_note_verifier(buf, sizeof buf, "EnochRoot", f->enoch_pub),
        (int)strlen(enoch_vkey));
    assert_string_equal(buf, enoch_vkey);
    /* Too small a buffer, a bad name. */
    assert_int_equal(ldg_note_verifier(buf, strlen(peter_vkey), "PeterNeumann",
                                       f->peter->pub),
                     LDG_EINVAL);
    assert_int_equal(
        ldg_note_verifier(buf, sizeof buf, "Peter Neumann", f->peter->pub),
        LDG_EINVAL);
}

/* The text ends at the note's last blank line, as Go's note.Open reads it:
 * an empty line inside the text is the text's own. */
static void
test_note__text_len_is_up_to_the_last_blank_line(void **state)
{
    static const char one[] = "a\nb\n\n\u2014 k sig\n";
    static const char two[] = "a\n\nb\n\n\u2014 k sig\n";
    struct fixture *f = *state;
    char *note = NULL;
    size_t tlen = 0;

    assert_int_equal(ldg_note_text_len(one, strlen(one)), 4);
    assert_int_equal(ldg_note_text_len(two, strlen(two)), 5);
    assert_int_equal(ldg_note_text_len("a\nb\n", 4), 0);
    assert_int_equal(ldg_note_text_len("\n\n", 2), 1);
    assert_int_equal(ldg_note_text_len("\n\nx", 3), 1);
    assert_int_equal(ldg_note_text_len("a\n\n\n- k sig\n", 12), 3);
    assert_int_equal(ldg_note_text_len("a\n\nb", 5), 2); /* no final '\n' */
    assert_int_equal(ldg_note_text_len("a\n\0\n\nb\n", 7), 4); /* a NUL */
    assert_int_equal(ldg_note_text_len("a\n\nb\n", 2), 0); /* only len */
    assert_int_equal(ldg_note_text_len("\n", 1), 0);
    assert_int_equal(ldg_note_text_len("", 0), 0);
    /* what verify reads is what the helper says */
    assert_int_equal(ldg_note_sign(&note, "a\n\nb\n", 5, "PeterNeumann",
                                   f->peter),
                     0);
    assert_int_equal(ldg_note_text_len(note, strlen(note)), 5);
    assert_int_equal(ldg_note_verify(note, strlen(note), "PeterNeumann",
                                     f->peter_pub, &tlen),
                     0);
    assert_int_equal(tlen, 5);
    /* and a cosignature over that text is found after the same line */
    {
        char *line = NULL, *both, vkey[256];
        uint64_t ts = 0;
        assert_int_equal(
            ldg_cosig_sign(&line, "a\n\nb\n", 5, "w.example/w1", f->peter, 7),
            0);
        assert_true(ldg_cosig_verifier(vkey, sizeof vkey, "w.example/w1",
                                       f->peter_pub) > 0);
        both = malloc(strlen(note) + strlen(line) + 1);
        assert_non_null(both);
        strcpy(both, note);
        strcat(both, line);
        assert_int_equal(ldg_cosig_verify(both, strlen(both), vkey, &ts), 0);
        assert_int_equal(ts, 7);
        free(both);
        free(line);
    }
    free(note);
}

static void
test_note__go_vector_sign_is_byte_identical(void **state)
{
    struct fixture *f = *state;
    char *want = make_note(text, peter_sig), *got = NULL;

    assert_int_equal(
        ldg_note_sign(&got, text, strlen(text), "PeterNeumann", f->peter), 0);
    assert_string_equal(got, want);
    free(got);
    free(want);
}

static void
test_note__go_vectors_open(void **state)
{
    struct fixture *f = *state;
    char sigs[1024];
    char *n;
    size_t tlen = 0;

    /* Peter's signature verifies; Enoch's, unknown to this check, is
     * ignored; with Enoch's key, the other way round. */
    snprintf(sigs, sizeof sigs, "%s%s", peter_sig, enoch_sig);
    n = make_note(text, sigs);
    assert_int_equal(verify_str(n, "PeterNeumann", f->peter_pub, &tlen), 0);
    assert_int_equal(tlen, strlen(text));
    assert_int_equal(verify_str(n, "EnochRoot", f->enoch_pub, &tlen), 0);
    assert_int_equal(tlen, strlen(text));
    free(n);

    /* Go's "Invalid signature": 4 characters spliced into Peter's. */
    snprintf(sigs, sizeof sigs, "%.60sABCD%s", peter_sig, peter_sig + 60);
    n = make_note(text, sigs);
    assert_int_equal(verify_str(n, "PeterNeumann", f->peter_pub, &tlen),
                     LDG_EBADSIG);
    free(n);

    /* Duplicates of ours, and a spoiled copy of someone else's: fine. */
    snprintf(sigs, sizeof sigs, "%s%s%s%s%.60sABCD%s", peter_sig, peter_sig,
             enoch_sig, enoch_sig, enoch_sig, enoch_sig + 60);
    n = make_note(text, sigs);
    assert_int_equal(verify_str(n, "PeterNeumann", f->peter_pub, &tlen), 0);
    free(n);

    /* Go's malformed messages. */
    {
        char bad[7][1024];
        snprintf(bad[0], sizeof bad[0], "%s", text);
        snprintf(bad[1], sizeof bad[1], "%s\n", text);
        snprintf(bad[2], sizeof bad[2], "%s\n%.*s", text,
                 (int)strlen(peter_sig) - 1, peter_sig);
        snprintf(bad[3], sizeof bad[3], "\x01%s\n%s", text, peter_sig);
        snprintf(bad[4], sizeof bad[4], "\xff%s\n%s", text, peter_sig);
        snprintf(bad[5], sizeof bad[5],
                 "%s\n" DASH " Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8p"
                 "AcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=",
                 text);
        snprintf(bad[6], sizeof bad[6], "%s\n%sUnexpected line.\n", text,
                 peter_sig);
        for (int i = 0; i < 7; i++)
            assert_int_equal(
                verify_str(bad[i], "PeterNeumann", f->peter_pub, &tlen),
                LDG_EBADINPUT);
    }

    /* Too many signatures (Go's limit, 100). */
    {
        size_t sl = strlen(peter_sig);
        char *many = malloc(strlen(text) + 1 + 101 * sl + 1);
        size_t off = strlen(text) + 1;
        memcpy(many, text, strlen(text));
        many[strlen(text)] = '\n';
        for (int i = 0; i < 100; i++, off += sl)
            memcpy(many + off, peter_sig, sl);
        many[off] = '\0';
        assert_int_equal(verify_str(many, "PeterNeumann", f->peter_pub, &tlen),
                         0);
        memcpy(many + off, peter_sig, sl + 1);
        assert_int_equal(verify_str(many, "PeterNeumann", f->peter_pub, &tlen),
                         LDG_EBADINPUT);
        free(many);
    }
}

/* Go's TestNewVerifier: every proper substring and every single-byte
 * change of the verifier key is refused. */
static void
test_note__verifier_manglings_rejected(void **state)
{
    char b[sizeof peter_vkey], sub[sizeof peter_vkey], name[64];
    uint8_t pub[32];
    size_t n = strlen(peter_vkey);

    (void)state;
    memcpy(b, peter_vkey, sizeof b);
    for (size_t i = 0; i <= n; i++) {
        for (size_t j = i + 1; j <= n; j++) {
            if (i == 0 && j == n)
                continue;
            memcpy(sub, b + i, j - i);
            sub[j - i] = '\0';
            assert_int_equal(
                ldg_note_parse_verifier(sub, name, sizeof name, pub),
                LDG_EBADINPUT);
        }
    }
    for (size_t i = 0; i < n; i++) {
        b[i]++;
        assert_int_equal(ldg_note_parse_verifier(b, name, sizeof name, pub),
                         LDG_EBADINPUT);
        b[i]--;
    }
    /* Wrong key length and unknown algorithm, with matching key IDs. */
    assert_int_equal(
        ldg_note_parse_verifier("PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKq"
                                "iBfsVkmqq/LDE4izWy10TWBADKEY==",
                                name, sizeof name, pub),
        LDG_EBADINPUT);
    assert_int_equal(
        ldg_note_parse_verifier("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKq"
                                "iBfsVkmqq/LDE4izWy10TW",
                                name, sizeof name, pub),
        LDG_EBADINPUT);
    /* Upper-case hex is accepted, as Go accepts it. */
    assert_int_equal(
        ldg_note_parse_verifier("PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKq"
                                "iBfsVkmqq/LDE4izWy10TW",
                                name, sizeof name, pub),
        0);
    assert_string_equal(name, "PeterNeumann");
    /* The name must fit. */
    assert_int_equal(ldg_note_parse_verifier(peter_vkey, name, 12, pub),
                     LDG_EBADINPUT);
    assert_int_equal(ldg_note_parse_verifier(peter_vkey, name, 13, pub), 0);
}

/* ------------------------------------------------------------ our keys -- */

static void
test_note__sign_verify_round_trip(void **state)
{
    static const uint8_t seed[32] = {1, 2, 3};
    const char *name = "example.com/log";
    struct ldg_key *k;
    char vkey[256], vname[64];
    uint8_t vpub[32];
    char *note;
    size_t tlen;

    (void)state;
    assert_int_equal(ldg_key_from_seed(&k, "log", seed), 0);
    assert_true(ldg_note_verifier(vkey, sizeof vkey, name, k->pub) > 0);
    assert_int_equal(ldg_note_parse_verifier(vkey, vname, sizeof vname, vpub),
                     0);
    assert_string_equal(vname, name);
    assert_memory_equal(vpub, k->pub, 32);

    assert_int_equal(ldg_note_sign(&note, text, strlen(text), name, k), 0);
    assert_int_equal(verify_str(note, name, k->pub, &tlen), 0);
    assert_int_equal(tlen, strlen(text));
    assert_memory_equal(note, text, tlen);
    /* The signature line says who signed. */
    assert_non_null(strstr(note, "\n\n" DASH " example.com/log "));
    free(note);

    /* Text with empty lines of its own (allowed by the spec): the note's
     * last empty line separates the signatures. */
    {
        const char *t = "a\n\nb\n\n";
        assert_int_equal(ldg_note_sign(&note, t, strlen(t), name, k), 0);
        assert_int_equal(verify_str(note, name, k->pub, &tlen), 0);
        assert_int_equal(tlen, strlen(t));
        free(note);
    }
    /* Non-ASCII text and name. */
    {
        const char *t = "ed \xc3\xa8 subito sera.\n";
        assert_int_equal(ldg_note_sign(&note, t, strlen(t),
                                       "quasimodo.example/salvat\xc3\xb2", k),
                         0);
        assert_int_equal(
            verify_str(note, "quasimodo.example/salvat\xc3\xb2", k->pub, &tlen),
            0);
        free(note);
    }
    /* Texts that cannot be signed. */
    note = (char *)1;
    assert_int_equal(ldg_note_sign(&note, "", 0, name, k), LDG_EINVAL);
    assert_null(note);
    assert_int_equal(ldg_note_sign(&note, "abc", 3, name, k), LDG_EINVAL);
    assert_int_equal(ldg_note_sign(&note, "a\rb\n", 4, name, k), LDG_EINVAL);
    assert_int_equal(ldg_note_sign(&note, "a\tb\n", 4, name, k), LDG_EINVAL);
    assert_int_equal(ldg_note_sign(&note, "\xc3\n", 2, name, k), LDG_EINVAL);
    assert_int_equal(ldg_note_sign(&note, "a\0b\n", 4, name, k), LDG_EINVAL);
    assert_int_equal(ldg_note_sign(&note, "a\n", 2, "a+b", k), LDG_EINVAL);
    assert_int_equal(ldg_note_sign(&note, "a\n", 2, "", k), LDG_EINVAL);
    ldg_key_free(k);
}

static void
test_note__wrong_key_and_altered_text_rejected(void **state)
{
    static const uint8_t s1[32] = {1}, s2[32] = {2};
    const char *name = "example.com/log";
    struct ldg_key *k1, *k2;
    char *note;
    size_t tlen, tl = strlen(text);

    (void)state;
    assert_int_equal(ldg_key_from_seed(&k1, "a", s1), 0);
    assert_int_equal(ldg_key_from_seed(&k2, "b", s2), 0);
    assert_int_equal(ldg_note_sign(&note, text, tl, name, k1), 0);

    /* Another key of the same name: its ID differs, so the line is not
     * ours and nothing verifies. Another name: likewise. */
    assert_int_equal(verify_str(note, name, k2->pub, &tlen), LDG_EBADSIG);
    assert_int_equal(verify_str(note, "example.com/other", k1->pub, &tlen),
                     LDG_EBADSIG);
    /* Every single-bit change of the text. */
    for (size_t i = 0; i < tl; i++) {
        for (int b = 0; b < 7; b++) {
            int rc;
            note[i] ^= (char)(1 << b);
            rc = verify_str(note, name, k1->pub, &tlen);
            note[i] ^= (char)(1 << b);
            /* either no longer a well-formed note, or a bad signature */
            if (rc != LDG_EBADSIG && rc != LDG_EBADINPUT)
                fail_msg("text byte %zu bit %d: rc %d", i, b, rc);
        }
    }
    /* Every single-bit change of the signature's base64 that keeps it
     * base64: the key ID changes (not ours: ignored, nothing verifies) or
     * the signature does (ours: does not verify). */
    {
        char *sig = strstr(note, DASH " ") + 4 + strlen(name) + 1;
        size_t sl = strlen(sig) - 1;
        for (size_t i = 0; i < sl; i++) {
            char save = sig[i];
            for (const char *c = "AQgw+/09az"; *c; c++) {
                int rc;
                if (*c == save || save == '=')
                    continue;
                sig[i] = *c;
                rc = verify_str(note, name, k1->pub, &tlen);
                if (rc != LDG_EBADSIG && rc != LDG_EBADINPUT)
                    fail_msg("sig char %zu '%c': rc %d", i, *c, rc);
            }
            sig[i] = save;
        }
        assert_int_equal(verify_str(note, name, k1->pub, &tlen), 0);
    }
    free(note);

    /* A good line of ours next to a bad line of ours: the note is
     * rejected as a whole (the spec's SHOULD). */
    {
        char *n2;
        char sigs[512];
        assert_int_equal(ldg_note_sign(&note, text, tl, name, k1), 0);
        assert_int_equal(ldg_note_sign(&n2, "other\n", 6, name, k1), 0);
        snprintf(sigs, sizeof sigs, "%s%s", note + tl + 1, n2 + 7);
        free(note);
        note = make_note(text, sigs);
        assert_int_equal(verify_str(note, name, k1->pub, &tlen), LDG_EBADSIG);
        free(n2);
        free(note);
    }
    ldg_key_free(k1);
    ldg_key_free(k2);
}

static void
test_note__malformed_signature_lines_rejected(void **state)
{
    static const uint8_t seed[32] = {7};
    const char *name = "log";
    struct ldg_key *k;
    char *note, sigline[256];
    size_t tlen;
    /* '@' stands for the good base64 signature. */
    const char *tmpl[] = {
        "- log @\n",        /* hyphen, not an em dash */
        DASH "log @\n",     /* no space after the dash */
        DASH "  log @\n",   /* two spaces */
        DASH " log  @\n",   /* two spaces before the base64 */
        DASH " log\t@\n",   /* tab */
        DASH " log @ \n",   /* trailing space */
        DASH " log @\r\n",  /* CR */
        DASH " lo+g @\n",   /* '+' in the name */
        DASH " @\n",        /* no name */
        DASH " log @=\n",   /* bad padding */
        DASH " log AAAA\n", /* 3 bytes: too short for key ID */
        DASH " log \n",     /* no signature */
        DASH " log @\n\n",  /* blank line after signatures */
        "@\n",              /* bare base64 */
    };

    (void)state;
    assert_int_equal(ldg_key_from_seed(&k, "log", seed), 0);
    assert_int_equal(ldg_note_sign(&note, text, strlen(text), name, k), 0);
    {
        char *b64 = strrchr(note, ' ') + 1;
        char sig[128];
        snprintf(sig, sizeof sig, "%.*s", (int)strcspn(b64, "\n"), b64);
        free(note);
        for (size_t i = 0; i < sizeof tmpl / sizeof tmpl[0]; i++) {
            int rc;
            const char *at = strchr(tmpl[i], '@');
            if (at == NULL)
                snprintf(sigline, sizeof sigline, "%s", tmpl[i]);
            else
                snprintf(sigline, sizeof sigline, "%.*s%s%s",
                         (int)(at - tmpl[i]), tmpl[i], sig, at + 1);
            note = make_note(text, sigline);
            rc = verify_str(note, name, k->pub, &tlen);
            if (rc != LDG_EBADINPUT)
                fail_msg("template %zu: rc %d, want LDG_EBADINPUT", i, rc);
            free(note);
        }
        /* 6 bytes with our key ID: ours, but not an Ed25519 signature. */
        {
            char raw_b64[16];
            uint8_t raw[6] = {0};
            uint32_t id = ldg_note_key_id(name, k->pub);
            raw[0] = (uint8_t)(id >> 24);
            raw[1] = (uint8_t)(id >> 16);
            raw[2] = (uint8_t)(id >> 8);
            raw[3] = (uint8_t)id;
            ldg_base64(raw_b64, raw, 6);
            snprintf(sigline, sizeof sigline, DASH " log %s\n", raw_b64);
            note = make_note(text, sigline);
            assert_int_equal(verify_str(note, name, k->pub, &tlen),
                             LDG_EBADSIG);
            free(note);
        }
    }
    /* No signatures at all, or no blank line. */
    assert_int_equal(verify_str("a\n\n", name, k->pub, &tlen), LDG_EBADINPUT);
    assert_int_equal(verify_str("a\n", name, k->pub, &tlen), LDG_EBADINPUT);
    assert_int_equal(verify_str("", name, k->pub, &tlen), LDG_EBADINPUT);
    /* A NUL inside the given length. */
    assert_int_equal(ldg_note_verify("a\0\n\n", 4, name, k->pub, &tlen),
                     LDG_EBADINPUT);
    ldg_key_free(k);
}

static void
test_note__name_validity(void **state)
{
    (void)state;
    assert_true(ldg_note_name_valid("example.com/log"));
    assert_true(ldg_note_name_valid("PeterNeumann"));
    assert_true(ldg_note_name_valid("salvat\xc3\xb2"));
    assert_false(ldg_note_name_valid(NULL));
    assert_false(ldg_note_name_valid(""));
    assert_false(ldg_note_name_valid("a+b"));
    assert_false(ldg_note_name_valid("a b"));
    assert_false(ldg_note_name_valid("a\tb"));
    assert_false(ldg_note_name_valid("a\xc2\xa0"
                                     "b")); /* NBSP */
    assert_false(ldg_note_name_valid("a\xe3\x80\x80"
                                     "b")); /* U+3000 */
    assert_false(ldg_note_name_valid("a\xe2\x80\x89"
                                     "b")); /* U+2009 */
    assert_false(ldg_note_name_valid("a\x01"
                                     "b"));
    assert_false(ldg_note_name_valid("\xff"));
    assert_false(ldg_note_name_valid("\xc0\xaf"));     /* overlong '/' */
    assert_false(ldg_note_name_valid("\xed\xa0\x80")); /* surrogate */
}

/* ---------------------------------------------------------- checkpoint -- */

static void
test_note__checkpoint_round_trip(void **state)
{
    uint8_t root[32], got[32];
    char buf[512], origin[LDG_ORIGIN_MAX + 1];
    uint64_t size;
    int n;

    (void)state;
    for (int i = 0; i < 32; i++)
        root[i] = (uint8_t)i;
    n = ldg_checkpoint_text(buf, sizeof buf, "example.com/behind-the-sofa",
                            20852163, root);
    assert_string_equal(buf, "example.com/behind-the-sofa\n20852163\n"
                             "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n");
    assert_int_equal(n, (int)strlen(buf));
    assert_int_equal(
        ldg_checkpoint_parse(buf, (size_t)n, origin, sizeof origin, &size, got),
        0);
    assert_string_equal(origin, "example.com/behind-the-sofa");
    assert_int_equal(size, 20852163);
    assert_memory_equal(got, root, 32);

    /* The C2SP example body, with an extension line. */
    {
        const char *t = "example.com/behind-the-sofa\n20852163\n"
                        "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
                        "extension\n";
        assert_int_equal(ldg_checkpoint_parse(t, strlen(t), origin,
                                              sizeof origin, &size, got),
                         0);
        assert_int_equal(size, 20852163);
    }
    /* Size 0 and the largest size. */
    n = ldg_checkpoint_text(buf, sizeof buf, "o", 0, root);
    assert_int_equal(
        ldg_checkpoint_parse(buf, (size_t)n, origin, sizeof origin, &size, got),
        0);
    assert_int_equal(size, 0);
    n = ldg_checkpoint_text(buf, sizeof buf, "o", UINT64_MAX, root);
    assert_int_equal(
        ldg_checkpoint_parse(buf, (size_t)n, origin, sizeof origin, &size, got),
        0);
    assert_true(size == UINT64_MAX);
    /* Origins that cannot be written; too small a buffer. */
    assert_int_equal(ldg_checkpoint_text(buf, sizeof buf, "", 1, root),
                     LDG_EINVAL);
    assert_int_equal(ldg_checkpoint_text(buf, sizeof buf, "a\nb", 1, root),
                     LDG_EINVAL);
    assert_int_equal(ldg_checkpoint_text(buf, 10, "o", 1, root), LDG_EINVAL);
}

static void
test_note__checkpoint_parse_rejects_malformed(void **state)
{
    static const char *const bad[] = {
        "",
        "o\n1\n",
        "o\n1\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",  /* no \n */
        "\n1\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", /* origin */
        "o\n01\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
        "o\n-1\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
        "o\n+1\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
        "o\n1 \nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
        "o\n\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
        "o\n18446744073709551616\n"
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
        "o\n1\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\n", /* short */
        "o\n1\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=A\n",
        "o\n1\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9=\n", /* bits */
        "o\n1\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n\n",
        "o\n1\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\nx\n\ny\n",
        "o\r\n1\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
    };
    uint8_t root[32];
    char origin[LDG_ORIGIN_MAX + 1];
    uint64_t size;

    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = ldg_checkpoint_parse(bad[i], strlen(bad[i]), origin,
                                      sizeof origin, &size, root);
        if (rc != LDG_EBADINPUT)
            fail_msg("case %zu: rc %d, want LDG_EBADINPUT", i, rc);
    }
    /* An origin longer than the caller's buffer. */
    {
        const char *t =
            "abcdef\n1\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n";
        assert_int_equal(
            ldg_checkpoint_parse(t, strlen(t), origin, 6, &size, root),
            LDG_EBADINPUT);
        assert_int_equal(
            ldg_checkpoint_parse(t, strlen(t), origin, 7, &size, root), 0);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_note__go_vectors_key_id_and_verifier),
        cmocka_unit_test(test_note__go_vector_sign_is_byte_identical),
        cmocka_unit_test(test_note__text_len_is_up_to_the_last_blank_line),
        cmocka_unit_test(test_note__go_vectors_open),
        cmocka_unit_test(test_note__verifier_manglings_rejected),
        cmocka_unit_test(test_note__sign_verify_round_trip),
        cmocka_unit_test(test_note__wrong_key_and_altered_text_rejected),
        cmocka_unit_test(test_note__malformed_signature_lines_rejected),
        cmocka_unit_test(test_note__name_validity),
        cmocka_unit_test(test_note__checkpoint_round_trip),
        cmocka_unit_test(test_note__checkpoint_parse_rejects_malformed),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
