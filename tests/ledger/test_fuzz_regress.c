/*
 * test_fuzz_regress.c — runs every file of the fuzz corpora through the
 * fuzz targets' own entry points, under plain cmocka, so `make check`
 * (and `make asan`) exercises the decoders of outside input without
 * clang or libFuzzer:
 *
 *   tests/fuzz/corpus_entry/   ldg_event_decode        (fuzz_entry.c)
 *   tests/fuzz/corpus_sealed/  sealed batches, seal records, claims
 *                              (fuzz_sealed.c)
 *   tests/fuzz/corpus_body/    stored body records     (fuzz_body.c)
 *   tests/fuzz/corpus_canon/   body payloads: the byte walk against
 *                              msgpack-c's unpack + repack (fuzz_canon.c)
 *   tests/fuzz/corpus_ingest/  one JSON Lines line     (fuzz_ingest.c)
 *   tests/fuzz/corpus_horizon/ a horizon record, a pruned ledger's bundle
 *                              member "horizon"        (fuzz_horizon.c)
 *   tests/fuzz/corpus_segment/ a segment, as a file or as its stream
 *                              (fuzz_segment.c; good-* verify with
 *                              tests/vectors/segment's key)
 *   tests/fuzz/corpus_intake/  an intake log frame or file header
 *                              (fuzz_intake.c)
 *   tests/fuzz/corpus_epoch_line/ a checkpoint's epoch line made whole,
 *                              with its note and anchor (fuzz_epoch_line.c;
 *                              good-* pass the check, bad-* are refused)
 *   tests/fuzz/corpus_note/    signed notes, checkpoints, cosignatures,
 *                              verifier keys, tlog-proof texts, witness
 *                              requests, a checkpoint against a ledger
 *                              (fuzz_note.c; good-* pass their parser,
 *                              bad-* are refused)
 *   tests/vectors/bad/ (.jsonl) also through fuzz_ingest
 *
 * The targets' invariants (FUZZ_ASSERT) become cmocka failures naming the
 * file. Beyond them: files named good-* must decode, bad-* must be
 * refused (a good horizon record's signature verifies with its log key). Files
 * named known-* reproduce known core bugs (see docs/TESTING.md); they are
 * skipped unless LEDGER_XFAIL_STRICT=1.
 *
 * Paths are relative to the repository root (where `make check` runs
 * the tests), or to $LEDGER_SRC_DIR.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

static char current[2400]; /* the corpus file being run, for messages */

#define FUZZ_ASSERT(c)                                                         \
    do {                                                                       \
        if (!(c))                                                              \
            fail_msg("%s: invariant %s (%s:%d) does not hold", current, #c,    \
                     __FILE__, __LINE__);                                      \
    } while (0)

#define FUZZ_ENTRY fuzz_entry_one
#include "tests/fuzz/fuzz_entry.c"
#undef FUZZ_ENTRY
#define FUZZ_ENTRY fuzz_body_one
#include "tests/fuzz/fuzz_body.c"
#undef FUZZ_ENTRY
#define FUZZ_ENTRY fuzz_ingest_one
#include "tests/fuzz/fuzz_ingest.c"
#undef FUZZ_ENTRY
#define FUZZ_ENTRY fuzz_sealed_one
#include "tests/fuzz/fuzz_sealed.c"
#undef FUZZ_ENTRY
#define FUZZ_ENTRY fuzz_canon_one
#include "tests/fuzz/fuzz_canon.c"
#undef FUZZ_ENTRY
#define FUZZ_ENTRY fuzz_horizon_one
#include "tests/fuzz/fuzz_horizon.c"
#undef FUZZ_ENTRY
#define FUZZ_ENTRY fuzz_segment_one
#include "tests/fuzz/fuzz_segment.c"
#undef FUZZ_ENTRY
#define FUZZ_ENTRY fuzz_intake_one
#include "tests/fuzz/fuzz_intake.c"
#undef FUZZ_ENTRY
#define FUZZ_ENTRY fuzz_epoch_line_one
#include "tests/fuzz/fuzz_epoch_line.c"
#undef FUZZ_ENTRY
#define FUZZ_ENTRY fuzz_note_one
#include "tests/fuzz/fuzz_note.c"
#undef FUZZ_ENTRY

#define FILE_MAX (16u << 20)

static const char *
root(void)
{
    static char buf[1024];
    const char *env = getenv("LEDGER_SRC_DIR");
    struct stat st;
    if (env != NULL && *env) {
        snprintf(buf, sizeof buf, "%s", env);
        return buf;
    }
    if (stat("tests/fuzz/corpus_entry", &st) == 0)
        return ".";
    /* Built from the repository root, __FILE__ is relative to it. */
    snprintf(buf, sizeof buf, "%s", __FILE__);
    {
        char *cut = strstr(buf, "tests/ledger/test_fuzz_regress.c");
        if (cut == NULL)
            return ".";
        if (cut == buf)
            return ".";
        cut[-1] = '\0';
    }
    return buf;
}

static uint8_t *
read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    long n;
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    assert_true(n >= 0 && (unsigned long)n <= FILE_MAX);
    rewind(f);
    buf = malloc((size_t)n + 1); /* never NULL for an empty file */
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static int
strict_known(void)
{
    const char *v = getenv("LEDGER_XFAIL_STRICT");
    return v != NULL && strcmp(v, "1") == 0;
}

static int
has_prefix(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

/* Calls fn(path, name, data, len) for every regular file of dir whose
 * name passes the known-bug filter and ends in suffix (NULL: any).
 * Returns how many files it ran. */
static size_t
each_file(const char *sub, const char *suffix,
          void (*fn)(const char *name, const uint8_t *data, size_t len))
{
    char dir[1200];
    struct dirent **names;
    size_t ran = 0;
    int n;

    snprintf(dir, sizeof dir, "%s/%s", root(), sub);
    n = scandir(dir, &names, NULL, alphasort);
    if (n < 0)
        fail_msg("cannot read %s (run from the repository root or set "
                 "LEDGER_SRC_DIR)",
                 dir);
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        size_t nl = strlen(name);
        struct stat st;
        uint8_t *data;
        size_t len;

        snprintf(current, sizeof current, "%s/%s", dir, name);
        if (name[0] == '.' || stat(current, &st) != 0 || !S_ISREG(st.st_mode) ||
            (suffix != NULL &&
             (nl < strlen(suffix) ||
              strcmp(name + nl - strlen(suffix), suffix) != 0))) {
            free(names[i]);
            continue;
        }
        if (has_prefix(name, "known-") && !strict_known()) {
            print_message("skipped (known bug; LEDGER_XFAIL_STRICT=1 runs "
                          "it): %s\n",
                          current);
            free(names[i]);
            continue;
        }
        data = read_file(current, &len);
        fn(name, data, len);
        free(data);
        free(names[i]);
        ran++;
    }
    free(names);
    return ran;
}

/* ------------------------------------------------------------ entries -- */

static void
run_entry(const char *name, const uint8_t *data, size_t len)
{
    struct ldg_event ev;
    int rc = ldg_event_decode(data, len, &ev);
    if (has_prefix(name, "good-") && rc != 0)
        fail_msg("%s: a real entry does not decode (%s)", current,
                 ldg_strerror(rc));
    if (has_prefix(name, "bad-") && rc == 0)
        fail_msg("%s: a malformed entry decodes", current);
    fuzz_entry_one(data, len);
}

static void
test_fuzz_regress__entry_corpus_holds_invariants(void **state)
{
    (void)state;
    assert_true(each_file("tests/fuzz/corpus_entry", NULL, run_entry) >= 10);
}

static int seen_version;

static void
run_entry_version(const char *name, const uint8_t *data, size_t len)
{
    struct ldg_event ev;
    if (strcmp(name, "bad-version-3") == 0) {
        assert_int_equal(ldg_event_decode(data, len, &ev), LDG_EVERSION);
        seen_version = 1;
    }
    /* v 2 is a known version, but only with a version 2 key (FORMAT.md
     * section 3.1): this one has none */
    if (strcmp(name, "bad-version-2") == 0)
        assert_int_equal(ldg_event_decode(data, len, &ev), LDG_ECORRUPT);
}

static void
test_fuzz_regress__entry_of_another_version_is_eversion(void **state)
{
    (void)state;
    each_file("tests/fuzz/corpus_entry", NULL, run_entry_version);
    assert_true(seen_version);
}

/* ------------------------------------------------------------- seals -- */

static void
run_sealed(const char *name, const uint8_t *data, size_t len)
{
    struct ldg_seal s;
    struct ldg_claim c;
    struct ldg_sealed_batch *b = NULL;
    json_t *j = json_loadb((const char *)data, len, 0, NULL);
    char err[256];
    int ok = ldg_seal_record_decode(data, len, &s) == 0 ||
             ldg_claim_decode(data, len, &c) == 0;
    if (j != NULL && ldg_sealed_batch_parse(&b, j, err, sizeof err) == 0)
        ok = 1;
    ldg_sealed_batch_free(b);
    json_decref(j);
    if (has_prefix(name, "good-") && !ok)
        fail_msg("%s: a good seed does not decode", current);
    if (has_prefix(name, "bad-") && ok)
        fail_msg("%s: a malformed seed decodes", current);
    fuzz_sealed_one(data, len);
}

static void
test_fuzz_regress__sealed_corpus_holds_invariants(void **state)
{
    (void)state;
    assert_true(each_file("tests/fuzz/corpus_sealed", NULL, run_sealed) >= 5);
}

/* ------------------------------------------------------------- bodies -- */

static void
run_body(const char *name, const uint8_t *data, size_t len)
{
    struct ldg_field *f = NULL;
    size_t n = 0;
    int rc = ldg_body_decode(NULL, data, len, BODY_MAX, &f, &n);
    if (has_prefix(name, "good-") && rc != 0)
        fail_msg("%s: a real body record does not decode (%s)", current,
                 ldg_strerror(rc));
    if (has_prefix(name, "bad-") && rc == 0)
        fail_msg("%s: a malformed body record decodes", current);
    ldg_fields_free(f, n);
    fuzz_body_one(data, len);
}

static void
test_fuzz_regress__body_corpus_holds_invariants(void **state)
{
    (void)state;
    assert_true(each_file("tests/fuzz/corpus_body", NULL, run_body) >= 10);
}

/* -------------------------------------------------- canonical walk -- */

static void
run_canon(const char *name, const uint8_t *data, size_t len)
{
    size_t n = 0;
    int rc = ldg_codec_fields_walk_shape(data, len, 0, NULL, 0, &n);
    if (has_prefix(name, "good-") && rc != 0)
        fail_msg("%s: a real body payload is refused", current);
    if (has_prefix(name, "bad-") && rc == 0)
        fail_msg("%s: a malformed body payload is accepted", current);
    fuzz_canon_one(data, len);
}

static void
test_fuzz_regress__canon_corpus_holds_invariants(void **state)
{
    (void)state;
    assert_true(each_file("tests/fuzz/corpus_canon", NULL, run_canon) >= 50);
}

/* Both checks put the depth limit at one place: a field's value is level
 * 1, so 29 arrays around a scalar pass and 30 do not (FORMAT.md 2). */
static void
test_fuzz_regress__canon_depth_limit_is_shared(void **state)
{
    static const uint8_t head[] = {0x81, 0xa1, 'a', 0x92, 0xc4, 0x10};
    uint8_t buf[128];
    (void)state;
    for (size_t k = 0; k <= 40; k++) {
        size_t n = 0, len = 0;
        memcpy(buf, head, sizeof head);
        len = sizeof head;
        memset(buf + len, 0x07, 16); /* salt */
        len += 16;
        memset(buf + len, 0x91, k);
        len += k;
        buf[len++] = 0x01;
        snprintf(current, sizeof current, "%zu arrays deep", k);
        fuzz_canon_one(buf, len);
        assert_int_equal(ldg_codec_fields_walk_shape(buf, len, 0, NULL, 0, &n),
                         k <= 29 ? 0 : LDG_ECORRUPT);
    }
}

/* ----------------------------------------------------------- horizon -- */

static void
run_horizon(const char *name, const uint8_t *data, size_t len)
{
    struct ldg_horizon h;
    const uint8_t *pub;
    int rc = ldg_horizon_parse(data, len, &h);
    if (has_prefix(name, "good-")) {
        if (rc != 0)
            fail_msg("%s: a real horizon record does not decode (%s)", current,
                     ldg_strerror(rc));
        /* its own log key (the key added at 0) signed it */
        if ((pub = horizon_log_pub(&h)) == NULL ||
            ldg_horizon_check_sig(&h, pub) != 0)
            fail_msg("%s: its signature does not verify with its log key",
                     current);
    }
    if (has_prefix(name, "bad-") && rc == 0)
        fail_msg("%s: a malformed horizon record decodes", current);
    ldg_horizon_release(&h);
    fuzz_horizon_one(data, len);
}

static void
test_fuzz_regress__horizon_corpus_holds_invariants(void **state)
{
    (void)state;
    assert_true(each_file("tests/fuzz/corpus_horizon", NULL, run_horizon) >=
                15);
}

/* -------------------------------------------------------- epoch line -- */

static void
run_epoch_line(const char *name, const uint8_t *data, size_t len)
{
    /* the input as fuzz_epoch_line.c reads it, checked once more here */
    size_t n = len > 48 ? data[48] : 0, at = 49 + n, m;
    char origin[256], *note, *line;
    uint32_t p, j;
    int rc = LDG_ECORRUPT;

    if (len >= at + 2 && (m = (size_t)data[at] << 8 | data[at + 1],
                          len >= at + 2 + m)) {
        memcpy(origin, data + 49, n);
        origin[n] = '\0';
        note = malloc(m + 1);
        line = malloc(len - at - 2 - m + 1);
        assert_non_null(note);
        assert_non_null(line);
        memcpy(note, data + at + 2, m);
        note[m] = '\0';
        memcpy(line, data + at + 2 + m, len - at - 2 - m);
        line[len - at - 2 - m] = '\0';
        rc = el_check(note, m, line, len - at - 2 - m, origin, data,
                      ldg_rd_be64(data + 32), ldg_rd_be64(data + 40), &p, &j);
        free(note);
        free(line);
    }
    if (has_prefix(name, "good-") && rc != 0)
        fail_msg("%s: a real epoch line does not pass (%s)", current,
                 ldg_strerror(rc));
    if (has_prefix(name, "bad-") && rc == 0)
        fail_msg("%s: a bad epoch line passes", current);
    fuzz_epoch_line_one(data, len);
}

static void
test_fuzz_regress__epoch_line_corpus_holds_invariants(void **state)
{
    (void)state;
    assert_true(each_file("tests/fuzz/corpus_epoch_line", NULL,
                          run_epoch_line) >= 5);
}

/* -------------------------------------------------------------- note -- */

static void
run_note(const char *name, const uint8_t *data, size_t len)
{
    /* the target's verdict: its mode's parser accepted (0) or refused
     * (an error code; a witness's status, negated) */
    fuzz_note_one(data, len);
    if (has_prefix(name, "good-") && nt.last != 0)
        fail_msg("%s: a real note, checkpoint, cosignature, key, proof or "
                 "request is refused (%d)",
                 current, nt.last);
    if (has_prefix(name, "bad-") && nt.last == 0)
        fail_msg("%s: a must-fail input is accepted", current);
}

static void
test_fuzz_regress__note_corpus_holds_invariants(void **state)
{
    (void)state;
    assert_true(each_file("tests/fuzz/corpus_note", NULL, run_note) >= 100);
}

/* ----------------------------------------------------------- segment -- */

static void
run_segment(const char *name, const uint8_t *data, size_t len)
{
    struct ldg_segment_verify_opts o;
    struct ldg_segment_result r;
    int rc = -1;
    if (len > 1 && data[0] == 0) {
        memset(&o, 0, sizeof o);
        o.trusted_vkey = seg_vkey;
        rc = ldg_segment_verify_mem(data + 1, len - 1, &o, &r);
        ldg_segment_info_release(&r.info);
        if (has_prefix(name, "good-") && rc != 0)
            fail_msg("%s: a good segment does not verify: %s: %s", current,
                     ldg_segment_check_name(r.failed), r.what);
        if (has_prefix(name, "bad-") && rc == 0)
            fail_msg("%s: a must-fail segment verifies", current);
    }
    fuzz_segment_one(data, len);
}

static void
test_fuzz_regress__segment_corpus_holds_invariants(void **state)
{
    (void)state;
    assert_true(each_file("tests/fuzz/corpus_segment", NULL, run_segment) >=
                30);
}

/* ------------------------------------------------------------ intake -- */

static void
run_intake(const char *name, const uint8_t *data, size_t len)
{
    int rc = -1;
    if (len > 1 && data[0] == 0) {
        struct ldg_intake_frame f;
        rc = ldg_intake_frame_parse(data + 1, len - 1, &f, NULL);
    } else if (len > 1 && data[0] == 1) {
        uint8_t hdr[LDG_INTAKE_BLOCK], id[LDG_INTAKE_ID_LEN];
        uint64_t blocks;
        memset(hdr, 0, sizeof hdr);
        memcpy(hdr, data + 1, len - 1 < sizeof hdr ? len - 1 : sizeof hdr);
        rc = ldg_intake_header_parse(hdr, &blocks, id, NULL);
    }
    if (has_prefix(name, "good-") && rc != 0)
        fail_msg("%s: a good frame or header is refused", current);
    if (has_prefix(name, "bad-") && rc == 0)
        fail_msg("%s: a malformed frame or header is taken", current);
    fuzz_intake_one(data, len);
}

static void
test_fuzz_regress__intake_corpus_holds_invariants(void **state)
{
    (void)state;
    assert_true(each_file("tests/fuzz/corpus_intake", NULL, run_intake) >= 14);
}

/* ------------------------------------------------------------- ingest -- */

static void
run_ingest(const char *name, const uint8_t *data, size_t len)
{
    struct ldg_event_in ev;
    json_t *holder = NULL;
    char msg[600];
    int col, rc;

    rc = ldg_ingest_parse_line((const char *)data, len, INGEST_BODY_MAX, &ev,
                               &holder, &col, msg, sizeof msg);
    if (has_prefix(name, "good-")) {
        if (rc != 0)
            fail_msg("%s: a good line is refused: %s", current, msg);
        rc = ldg_vocab_check(ev.type, ev.body, msg, sizeof msg);
        if (rc != 0)
            fail_msg("%s: a good line fails the vocabulary: %s", current, msg);
    }
    json_decref(holder);
    fuzz_ingest_one(data, len);
}

static void
test_fuzz_regress__ingest_corpus_holds_invariants(void **state)
{
    (void)state;
    assert_true(each_file("tests/fuzz/corpus_ingest", NULL, run_ingest) >= 10);
}

static void
run_bad_line(const char *name, const uint8_t *data, size_t len)
{
    (void)name;
    fuzz_ingest_one(data, len);
}

static void
test_fuzz_regress__bad_input_vectors_hold_ingest_invariants(void **state)
{
    (void)state;
    assert_true(each_file("tests/vectors/bad", ".jsonl", run_bad_line) >= 50);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fuzz_regress__sealed_corpus_holds_invariants),
        cmocka_unit_test(test_fuzz_regress__entry_corpus_holds_invariants),
        cmocka_unit_test(
            test_fuzz_regress__entry_of_another_version_is_eversion),
        cmocka_unit_test(test_fuzz_regress__body_corpus_holds_invariants),
        cmocka_unit_test(test_fuzz_regress__canon_corpus_holds_invariants),
        cmocka_unit_test(test_fuzz_regress__canon_depth_limit_is_shared),
        cmocka_unit_test(test_fuzz_regress__horizon_corpus_holds_invariants),
        cmocka_unit_test(
            test_fuzz_regress__epoch_line_corpus_holds_invariants),
        cmocka_unit_test(test_fuzz_regress__note_corpus_holds_invariants),
        cmocka_unit_test(test_fuzz_regress__segment_corpus_holds_invariants),
        cmocka_unit_test(test_fuzz_regress__intake_corpus_holds_invariants),
        cmocka_unit_test(test_fuzz_regress__ingest_corpus_holds_invariants),
        cmocka_unit_test(
            test_fuzz_regress__bad_input_vectors_hold_ingest_invariants),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
