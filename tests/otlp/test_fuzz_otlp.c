/*
 * test_fuzz_otlp.c — the OTLP fuzz targets' corpora
 * (tests/fuzz/corpus_otlp_pb/, corpus_otlp_json/) through the targets'
 * own checks (tests/fuzz/fuzz_otlp.h) under make check; and each seed
 * that is in both encodings (the same name) maps to the same events;
 * the must-fail seeds nul_* (a NUL inside a string) are refused.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static char current[2400];
#define FUZZ_ASSERT(c)                                                         \
    do {                                                                       \
        if (!(c))                                                              \
            fail_msg("%s: invariant %s (%s:%d) does not hold", current, #c,    \
                     __FILE__, __LINE__);                                      \
    } while (0)
#include "tests/fuzz/fuzz_otlp.h"

static int
by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static size_t
slurp(const char *path, uint8_t *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    size_t n;
    if (f == NULL)
        return 0;
    n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

static void
replay(int json, const char *dir)
{
    static uint8_t buf[1 << 20];
    struct dirent **names;
    int n, ran = 0;
    n = scandir(dir, &names, NULL, by_name);
    assert_true(n > 0);
    for (int i = 0; i < n; i++) {
        if (names[i]->d_name[0] != '.') {
            snprintf(current, sizeof current, "%s/%s", dir, names[i]->d_name);
            fuzz_otlp_one(json, buf, slurp(current, buf, sizeof buf));
            ran++;
        }
        free(names[i]);
    }
    free(names);
    assert_true(ran > 0);
}

static void
test_fuzz_otlp__corpora_hold_invariants(void **state)
{
    (void)state;
    replay(0, "tests/fuzz/corpus_otlp_pb");
    replay(1, "tests/fuzz/corpus_otlp_json");
}

/* seed NAME decoded from both corpora, as text: type, id, run, body */
static char *
events_text(int json, const char *name)
{
    static uint8_t buf[1 << 20];
    char path[512];
    struct ldg_otlp_map m = {0};
    struct ldg_otlp_batch *b = NULL;
    char err[512];
    size_t n, len;
    snprintf(path, sizeof path, "tests/fuzz/corpus_otlp_%s/%s",
             json ? "json" : "pb", name);
    len = slurp(path, buf, sizeof buf);
    if (len < 1 || (buf[0] & 0x60))
        return NULL; /* small limits or gzip: compared elsewhere */
    m.record_content = (buf[0] >> 1) & 1;
    m.spans = (buf[0] >> 2) & 1 ? LDG_OTLP_SPANS_GENAI : LDG_OTLP_SPANS_ALL;
    m.drop_logs = (buf[0] >> 3) & 1;
    m.run_attr = (buf[0] >> 4) & 1 ? "session.id" : NULL;
    if (ldg_otlp_decode(&b, (buf[0] & 1) ? LDG_OTLP_LOGS : LDG_OTLP_TRACES,
                        json, buf + 1, len - 1, &m, NULL, err, sizeof err) < 0)
        return strdup(err);
    const struct ldg_event_in *ev = ldg_otlp_batch_events(b, &n);
    json_t *all = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(all, json_pack("{s:s,s:s,s:s?,s:O}", "type",
                                             ev[i].type, "id", ev[i].id, "run",
                                             ev[i].run, "body", ev[i].body));
    char *s = json_dumps(all, JSON_SORT_KEYS | JSON_COMPACT);
    json_decref(all);
    ldg_otlp_batch_free(b);
    return s;
}

static void
test_fuzz_otlp__both_encodings_map_alike(void **state)
{
    struct dirent **names;
    int n, compared = 0;
    (void)state;
    n = scandir("tests/fuzz/corpus_otlp_json", &names, NULL, by_name);
    assert_true(n > 0);
    for (int i = 0; i < n; i++) {
        char *a = events_text(1, names[i]->d_name);
        char *b = a ? events_text(0, names[i]->d_name) : NULL;
        if (a != NULL && b != NULL) {
            if (strcmp(a, b) != 0)
                fail_msg("%s: JSON %s\nprotobuf %s", names[i]->d_name, a, b);
            compared++;
        }
        free(a);
        free(b);
        free(names[i]);
    }
    free(names);
    assert_true(compared >= 4);
}

/* The must-fail seeds nul_*: a NUL in a string (protobuf-c and C
 * strings would cut the text there) is refused, naming it. */
static void
test_fuzz_otlp__nul_seeds_are_refused(void **state)
{
    static const char *const dirs[2] = {"tests/fuzz/corpus_otlp_pb",
                                        "tests/fuzz/corpus_otlp_json"};
    int seen = 0;
    (void)state;
    for (int json = 0; json < 2; json++) {
        struct dirent **names;
        int n = scandir(dirs[json], &names, NULL, by_name);
        assert_true(n > 0);
        for (int i = 0; i < n; i++) {
            if (strncmp(names[i]->d_name, "nul_", 4) == 0) {
                char *s = events_text(json, names[i]->d_name);
                assert_non_null(s);
                if (strstr(s, "NUL") == NULL)
                    fail_msg("%s/%s: not refused for its NUL: %s", dirs[json],
                             names[i]->d_name, s);
                free(s);
                seen++;
            }
            free(names[i]);
        }
        free(names);
    }
    assert_true(seen >= 7);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fuzz_otlp__corpora_hold_invariants),
        cmocka_unit_test(test_fuzz_otlp__both_encodings_map_alike),
        cmocka_unit_test(test_fuzz_otlp__nul_seeds_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
