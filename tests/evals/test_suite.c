/*
 * test_suite.c — suite parsing: the header, prompt and messages cases,
 * every assertion type, and errors with FILE:LINE:COLUMN and the field.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "evals/evals.h"
#include "tests/support/support.h"
#include "ledger/module.h"
#include "util/util.h"

static int
parse(const char *text, struct ldg_eval_suite **s, char *err)
{
    return ldg_eval_suite_parse(s, "s.jsonl", text, strlen(text), err, 512);
}

static void
test_suite__header_and_cases(void **state)
{
    const char *t =
        "{\"suite\": {\"name\": \"x\", \"version\": \"2\", \"threshold\": "
        "{\"metric\": \"pass_rate\", \"op\": \">=\", \"value\": 0.5}, "
        "\"forbid\": [\"secret\"]}}\n"
        "\n"
        "{\"id\": \"a\", \"prompt\": \"hi\", \"assert\": [{\"type\": "
        "\"equals\", \"value\": \"hello\"}]}\n"
        "{\"id\": \"b\", \"messages\": [{\"role\": \"system\", \"content\": "
        "\"be brief\"}, {\"role\": \"user\", \"content\": \"q\"}], "
        "\"assert\": [{\"type\": \"is-json\"}, {\"type\": "
        "\"json-path-equals\", \"value\": {\"path\": \"a.1\", \"value\": 2}}]}";
    struct ldg_eval_suite *s;
    char err[512];
    assert_int_equal(parse(t, &s, err), 0);
    assert_string_equal(ldg_eval_suite_name(s), "x");
    assert_string_equal(ldg_eval_suite_version(s), "2");
    assert_int_equal(ldg_eval_suite_cases(s), 2);
    assert_string_equal(ldg_eval_case_id(s, 1), "b");
    assert_int_equal(strncmp(ldg_eval_suite_digest(s), "sha256:", 7), 0);
    assert_int_equal(strlen(ldg_eval_suite_digest(s)), 71);
    json_t *th = ldg_eval_suite_threshold(s);
    assert_true(json_number_value(json_object_get(th, "value")) == 0.5);
    json_decref(th);
    ldg_eval_suite_free(s);
}

static void
test_suite__no_header_named_after_file_default_threshold(void **state)
{
    struct ldg_eval_suite *s;
    char err[512];
    const char *t = "{\"id\": \"a\", \"prompt\": \"hi\", \"assert\": "
                    "[{\"type\": \"contains\", \"value\": \"h\"}]}\n";
    assert_int_equal(
        ldg_eval_suite_parse(&s, "dir/pdf-ops.jsonl", t, strlen(t), err, 512),
        0);
    assert_string_equal(ldg_eval_suite_name(s), "pdf-ops");
    json_t *th = ldg_eval_suite_threshold(s);
    assert_string_equal(json_string_value(json_object_get(th, "op")), ">=");
    assert_true(json_number_value(json_object_get(th, "value")) == 1.0);
    json_decref(th);
    ldg_eval_suite_free(s);
}

struct bad {
    const char *text;
    const char *want; /* substring of the error */
};

static void
test_suite__errors_name_line_column_field(void **state)
{
    static const struct bad cases[] = {
        {"{\"id\": \"a\", \"prompt\": \"x\", \"assert\": [{\"type\": "
         "\"equals\", \"value\": \"y\"}]}\n{\"id\": \"b\", \"prompt\": ",
         "s.jsonl:2:"},
        {"{\"id\": \"a\", \"prompt\": \"x\", \"assert\": [{\"type\": "
         "\"regexp\", \"value\": \"y\"}]}",
         "s.jsonl:1:40: field 'assert[0].type': unknown type 'regexp'"},
        {"{\"id\": \"a\", \"prompt\": \"x\", \"asert\": []}",
         "s.jsonl:1:28: field 'asert': unknown field"},
        {"{\"id\": \"a\", \"prompt\": \"x\", \"assert\": [{\"type\": "
         "\"regex\", \"value\": \"(\"}]}",
         "field 'assert[0].value': bad regex: offset 1"},
        {"{\"id\": \"a\", \"assert\": [{\"type\": \"is-json\"}]}",
         "exactly one of 'prompt' and 'messages'"},
        {"{\"id\": \"a\", \"prompt\": \"x\", \"assert\": []}",
         "field 'assert': a non-empty array"},
        {"{\"id\": \"a\", \"prompt\": \"x\", \"assert\": [{\"type\": "
         "\"is-json\"}]}\n{\"id\": \"a\", \"prompt\": \"y\", \"assert\": "
         "[{\"type\": \"is-json\"}]}",
         "s.jsonl:2:1: field 'id': duplicate id 'a' (first on line 1)"},
        {"{\"id\": \"a\", \"prompt\": \"x\", \"assert\": [{\"type\": "
         "\"is-json\"}]}\n{\"suite\": {\"name\": \"late\"}}",
         "s.jsonl:2:2: field 'suite': only on the first line"},
        {"{\"suite\": {\"name\": \"x\", \"threshold\": {\"metric\": "
         "\"accuracy\", \"op\": \">=\", \"value\": 1}}}",
         "field 'suite.threshold.metric'"},
        {"{\"id\": \"a\", \"messages\": [{\"role\": \"robot\", \"content\": "
         "\"x\"}], \"assert\": [{\"type\": \"is-json\"}]}",
         "field 'messages[0].role'"},
        {"{\"id\": \"a\", \"prompt\": \"x\", \"assert\": [{\"type\": "
         "\"json-path-equals\", \"value\": \"a.b\"}]}",
         "json-path-equals takes"},
        {"[1,2]", "s.jsonl:1:1: a line must be a JSON object"},
        {"\n\n", "s.jsonl: no cases"},
        {"{\"suite\": {\"name\": \"x\", \"forbid\": [\"[\"]}}",
         "field 'suite.forbid[0]': bad regex"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct ldg_eval_suite *s = (void *)1;
        char err[512];
        int rc = parse(cases[i].text, &s, err);
        if (rc != LDG_EBADINPUT || !strstr(err, cases[i].want))
            fail_msg("case %zu: rc %d err '%s', want '%s'", i, rc, err,
                     cases[i].want);
        assert_null(s);
    }
}

static void
test_suite__load_missing_file(void **state)
{
    struct ldg_eval_suite *s;
    char err[512];
    assert_int_equal(ldg_eval_suite_load(&s, "/nonexistent/x.jsonl", err, 512),
                     LDG_ENOTFOUND);
    assert_non_null(strstr(err, "/nonexistent/x.jsonl"));
}

/* the fuzz target's corpus, replayed: its invariants are assertions */
static char current[1200];
#define FUZZ_ASSERT(c)                                                         \
    do {                                                                       \
        if (!(c))                                                              \
            fail_msg("%s: invariant %s does not hold", current, #c);         \
    } while (0)
#define FUZZ_ENTRY fuzz_suite_one
#include "tests/fuzz/fuzz_suite.c"

static void
suite_one(const uint8_t *data, size_t size)
{
    (void)fuzz_suite_one(data, size);
}

static void
test_suite__fuzz_corpus_holds_invariants(void **state)
{
    (void)state;
    /* the seeds at least */
    assert_true(t_corpus_each("tests/fuzz/corpus_suite", suite_one, current,
                              sizeof current) >= 3);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_suite__header_and_cases),
        cmocka_unit_test(test_suite__fuzz_corpus_holds_invariants),
        cmocka_unit_test(
            test_suite__no_header_named_after_file_default_threshold),
        cmocka_unit_test(test_suite__errors_name_line_column_field),
        cmocka_unit_test(test_suite__load_missing_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
