/*
 * test_json.c — otlp/json.c: OTLP/JSON as the specification writes it
 * (lowerCamelCase keys, hex ids, enums as integers, 64-bit integers as
 * strings or numbers, unknown keys ignored), every AnyValue kind, and
 * what is refused: JSON that does not parse, fields of the wrong type,
 * enum names, nesting and counts past the limits (before jansson parses),
 * long values.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "otlp/otlp_int.h"

#define TRACE "5b8efff798038103d269b633813fc60c"
#define SPAN_HEAD SPAN_HEAD_N("n")
#define SPAN_HEAD_N(NAME)                                                      \
    "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"" TRACE   \
    "\",\"spanId\":\"0000000000000001\",\"name\":\"" NAME "\","                \
    "\"startTimeUnixNano\":\"1700000000000000000\",\"endTimeUnixNano\":"       \
    "1700000001000000000"
#define SPAN_TAIL "}]}]}]}"

static char err[1024];

static int
decode_lim(const char *text, const struct ldg_otlp_limits *lim,
           struct ldg_otlp_batch **b)
{
    *b = NULL;
    return ldg_otlp_decode(b, LDG_OTLP_TRACES, 1, text, strlen(text), NULL, lim,
                           err, sizeof err);
}

static json_t *
attrs_of(struct ldg_otlp_batch *b)
{
    size_t n;
    const struct ldg_event_in *ev = ldg_otlp_batch_events(b, &n);
    assert_int_equal(n, 1);
    return json_object_get(ev->body, "attributes");
}

static void
test_json__every_value_kind(void **state)
{
    struct ldg_otlp_batch *b;
    (void)state;
    const char *t = SPAN_HEAD
        ",\"attributes\":["
        "{\"key\":\"s\",\"value\":{\"stringValue\":\"x\"}},"
        "{\"key\":\"b\",\"value\":{\"boolValue\":true}},"
        "{\"key\":\"i1\",\"value\":{\"intValue\":\"-9007199254740993\"}},"
        "{\"key\":\"i2\",\"value\":{\"intValue\":7}},"
        "{\"key\":\"d\",\"value\":{\"doubleValue\":0.5}},"
        "{\"key\":\"nan\",\"value\":{\"doubleValue\":\"NaN\"}},"
        "{\"key\":\"by\",\"value\":{\"bytesValue\":\"AAEC\"}},"
        "{\"key\":\"a\",\"value\":{\"arrayValue\":{\"values\":[{"
        "\"intValue\":1},{\"stringValue\":\"two\"}]}}},"
        "{\"key\":\"m\",\"value\":{\"kvlistValue\":{\"values\":[{"
        "\"key\":\"k\",\"value\":{\"boolValue\":false}}]}}},"
        "{\"key\":\"e\",\"value\":{}},"
        "{\"key\":\"u\",\"value\":{\"futureValue\":{\"x\":1}}},"
        "{\"key\":\"nv\"}"
        "]" SPAN_TAIL;
    assert_int_equal(decode_lim(t, NULL, &b), 0);
    json_t *a = attrs_of(b);
    char *s = json_dumps(a, JSON_SORT_KEYS | JSON_COMPACT);
    assert_string_equal(s, "{\"a\":[1,\"two\"],\"b\":true,\"by\":\"AAEC\","
                           "\"d\":0.5,\"e\":null,\"i1\":-9007199254740993,"
                           "\"i2\":7,\"m\":{\"k\":false},\"nan\":\"NaN\","
                           "\"nv\":null,\"s\":\"x\",\"u\":null}");
    free(s);
    ldg_otlp_batch_free(b);
}

static void
test_json__unknown_and_snake_case_keys_are_ignored(void **state)
{
    struct ldg_otlp_batch *b;
    (void)state;
    /* trace_id in snake_case is not a field of OTLP/JSON: the span has no
     * traceId at all, and is refused for that, not for the key */
    const char *t =
        "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"trace_id\":"
        "\"" TRACE "\",\"spanId\":\"0000000000000001\",\"name\":\"n\","
        "\"startTimeUnixNano\":\"1700000000000000000\",\"endTimeUnixNano\":"
        "\"1700000000000000000\"}]}]}]}";
    assert_int_equal(decode_lim(t, NULL, &b), LDG_EBADINPUT);
    assert_non_null(strstr(err, "traceId: 0 bytes"));
    /* unknown keys anywhere, null for absent, flags, droppedX */
    t = SPAN_HEAD ",\"flags\":257,\"droppedAttributesCount\":3,"
                  "\"traceState\":null,\"links\":[],\"futureField\":{\"x\":1},"
                  "\"parentSpanId\":\"\",\"status\":null" SPAN_TAIL;
    assert_int_equal(decode_lim(t, NULL, &b), 0);
    ldg_otlp_batch_free(b);
    /* an empty request, and one with no resourceSpans */
    assert_int_equal(decode_lim("{}", NULL, &b), 0);
    assert_int_equal(ldg_otlp_batch_items(b), 0);
    ldg_otlp_batch_free(b);
    assert_int_equal(decode_lim("{\"resourceSpans\":[]}", NULL, &b), 0);
    ldg_otlp_batch_free(b);
}

static void
test_json__refusals_name_the_field(void **state)
{
    struct ldg_otlp_batch *b;
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{", "JSON: line 1"},
        {"[]", "not an object"},
        {"{\"resourceSpans\":{}}", "request.resourceSpans: not an array"},
        {SPAN_HEAD ",\"kind\":\"SPAN_KIND_CLIENT\"" SPAN_TAIL,
         "spans[0].kind: not an integer from 0 to 5"},
        {SPAN_HEAD ",\"kind\":9" SPAN_TAIL, "kind: not an integer"},
        {SPAN_HEAD ",\"status\":{\"code\":3}" SPAN_TAIL,
         "spans[0].status.code: not an integer from 0 to 2"},
        {SPAN_HEAD ",\"attributes\":{}" SPAN_TAIL,
         "spans[0].attributes: not an array"},
        {SPAN_HEAD ",\"attributes\":[1]" SPAN_TAIL, "not a KeyValue object"},
        {SPAN_HEAD ",\"attributes\":[{\"key\":\"x\",\"value\":{\"intValue\":"
                   "\"1.5\"}}]" SPAN_TAIL,
         "attributes[\"x\"]: a value of the wrong JSON type"},
        {SPAN_HEAD ",\"attributes\":[{\"key\":\"x\",\"value\":{"
                   "\"stringValue\":3}}]" SPAN_TAIL,
         "attributes[\"x\"]: a value of the wrong JSON type"},
        {SPAN_HEAD ",\"attributes\":[{\"key\":\"x\",\"value\":{"
                   "\"intValue\":\"3\",\"stringValue\":\"x\"}}]" SPAN_TAIL,
         "attributes[\"x\"]: both stringValue and intValue (an AnyValue "
         "holds one value)"},
        {SPAN_HEAD
         ",\"attributes\":[{\"key\":\"x\",\"value\":{"
         "\"boolValue\":true,\"kvlistValue\":{\"values\":[]}}}]" SPAN_TAIL,
         "both boolValue and kvlistValue"},
        {SPAN_HEAD ",\"attributes\":[{\"key\":\"\",\"value\":{}}]" SPAN_TAIL,
         "an empty key"},
        {"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":"
         "\"" TRACE "\",\"spanId\":\"0000000000000001\",\"name\":\"n\","
         "\"startTimeUnixNano\":\"-5\"}]}]}]}",
         "startTimeUnixNano: not a non-negative 64-bit integer"},
        {"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":"
         "\"" TRACE "\",\"spanId\":\"0000000000000001\",\"name\":\"n\","
         "\"startTimeUnixNano\":\"99999999999999999999\"}]}]}]}",
         "startTimeUnixNano: not a non-negative 64-bit integer"},
        {SPAN_HEAD_N("") SPAN_TAIL, "name: empty"},
        /* a key twice: which value is meant is not known (jansson kept
         * the last, and the span was recorded with it) */
        {SPAN_HEAD ",\"name\":\"x\"" SPAN_TAIL,
         "JSON: line 1, column 214: duplicate object key near '\"name\"'"},
        /* jansson refuses a NUL; said plainly, where */
        {SPAN_HEAD_N("a\\u0000b") SPAN_TAIL,
         "JSON: line 1, column 134: a NUL (\\u0000) in a string"},
        {SPAN_HEAD
         ",\"attributes\":[{\"key\":\"k\\u0000\",\"value\":{}}]" SPAN_TAIL,
         "a NUL (\\u0000) in a string"},
        {" ", "JSON: line 1, column 1"},
        {"{\"resourceLogs\":[]}",
         "request: resourceLogs, not resourceSpans: log records go to "
         "/v1/logs"},
        {"{\"resourceMetrics\":[]}", "metrics are not taken here"},
        {SPAN_HEAD ",\"events\":[{\"name\":\"e\",\"timeUnixNano\":"
                   "\"9999999999999999999\"}]" SPAN_TAIL,
         "spans[0].events[0].timeUnixNano: 9999999999999999999 is past the "
         "year 2262"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(decode_lim(cases[i].text, NULL, &b), LDG_EBADINPUT);
        assert_null(b);
        if (strstr(err, cases[i].want) == NULL)
            fail_msg("case %zu: '%s' does not say '%s'", i, err, cases[i].want);
    }
}

/* A value nested n deep: arrayValue within arrayValue. */
static char *
nested(int n)
{
    size_t cap = (size_t)n * 40 + 512;
    char *t = malloc(cap), *p = t;
    p += sprintf(p, SPAN_HEAD ",\"attributes\":[{\"key\":\"x\",\"value\":");
    for (int i = 0; i < n; i++)
        p += sprintf(p, "{\"arrayValue\":{\"values\":[");
    p += sprintf(p, "{\"intValue\":1}");
    for (int i = 0; i < n; i++)
        p += sprintf(p, "]}}");
    sprintf(p, "}]" SPAN_TAIL);
    return t;
}

/* An empty body carries no telemetry: the specification's empty request,
 * answered as a success (nothing to record). */
static void
test_json__an_empty_body_is_an_empty_request(void **state)
{
    struct ldg_otlp_batch *b = NULL;
    size_t n;
    (void)state;
    assert_int_equal(ldg_otlp_decode(&b, LDG_OTLP_TRACES, 1, "", 0, NULL, NULL,
                                     err, sizeof err),
                     0);
    ldg_otlp_batch_events(b, &n);
    assert_int_equal(n, 0);
    assert_int_equal(ldg_otlp_batch_items(b), 0);
    ldg_otlp_batch_free(b);
    assert_int_equal(decode_lim("{\"resourceSpans\":[]}", NULL, &b), 0);
    ldg_otlp_batch_free(b);
}

static void
test_json__limits(void **state)
{
    struct ldg_otlp_limits lim = {0};
    struct ldg_otlp_batch *b;
    char *t;
    (void)state;
    /* nesting: 8 is fine, 9 is refused by the mapper, and a deep one by
     * the scan before jansson parses */
    t = nested(8);
    assert_int_equal(decode_lim(t, NULL, &b), 0);
    ldg_otlp_batch_free(b);
    free(t);
    t = nested(9);
    assert_int_equal(decode_lim(t, NULL, &b), LDG_EBADINPUT);
    assert_non_null(strstr(err, "nested more than 8 deep"));
    free(t);
    t = nested(100000);
    assert_int_equal(decode_lim(t, NULL, &b), LDG_EBADINPUT);
    assert_non_null(strstr(err, "JSON nested more than 48 deep"));
    free(t);
    /* values: a request of many commas is refused before the parse */
    lim.items_max = 1;
    lim.attrs_max = 1;
    size_t n = 8 + 8 + 4096 + 10;
    t = malloc(n * 2 + 64);
    char *p = t + sprintf(t, "{\"x\":[");
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "1,");
    sprintf(p, "1]}");
    assert_int_equal(decode_lim(t, &lim, &b), LDG_ETOOBIG);
    assert_non_null(strstr(err, "JSON values in one request"));
    free(t);
    /* spans a request */
    lim.attrs_max = 0;
    lim.items_max = 1;
    t = malloc(4096);
    snprintf(t, 4096,
             "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{},{}]}]}]}");
    assert_int_equal(decode_lim(t, &lim, &b), LDG_ETOOBIG);
    assert_non_null(strstr(err, "more than 1 spans"));
    free(t);
    /* attributes a request */
    lim.items_max = 0;
    lim.attrs_max = 2;
    assert_int_equal(
        decode_lim(SPAN_HEAD ",\"attributes\":[{\"key\":\"a\"},{\"key\":\"b\"},"
                             "{\"key\":\"c\"}]" SPAN_TAIL,
                   &lim, &b),
        LDG_ETOOBIG);
    assert_non_null(strstr(err, "more than 2 attributes"));
    /* a long value, but not content */
    lim.attrs_max = 0;
    lim.value_max = 4;
    assert_int_equal(decode_lim(SPAN_HEAD
                                ",\"attributes\":[{\"key\":\"a\",\"value\":{"
                                "\"stringValue\":\"12345\"}}]" SPAN_TAIL,
                                &lim, &b),
                     LDG_EBADINPUT);
    assert_non_null(strstr(err, "attributes[\"a\"]: a value of more than 4"));
    /* content is not recorded, so its length does not matter */
    assert_int_equal(decode_lim(SPAN_HEAD
                                ",\"attributes\":[{\"key\":\"gen_ai.input."
                                "messages\",\"value\":{\"stringValue\":"
                                "\"12345\"}}]" SPAN_TAIL,
                                &lim, &b),
                     0);
    ldg_otlp_batch_free(b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json__every_value_kind),
        cmocka_unit_test(test_json__unknown_and_snake_case_keys_are_ignored),
        cmocka_unit_test(test_json__refusals_name_the_field),
        cmocka_unit_test(test_json__an_empty_body_is_an_empty_request),
        cmocka_unit_test(test_json__limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
