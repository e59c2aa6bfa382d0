/*
 * test_json.c — otlp/json.c: OTLP/JSON as the specification writes it
 * (lowerCamelCase keys, hex ids, enums as integers, 64-bit integers as
 * strings or numbers, unknown keys ignored), every AnyValue kind, and
 * what is refused: JSON that does not parse, fields of the wrong type,
 * enum names, nesting and counts past the limits (before jansson parses),
 * long values; jansson's memory, counted by its allocator hooks: an 8 MiB
 * body of 150,000 attributes refused before jansson allocates (it took
 * 144 MB before it was refused, until 2026-11-28), and json.c's estimate
 * above what jansson takes for texts of every shape.
 */
#include <malloc.h>
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

/* jansson's allocations as malloc took them (its usable size and its
 * 8-byte header): now and the peak. No header of ours: the library frees
 * some of jansson's strings (json_dumps) with free(), which this count
 * then misses, so mem_now only drifts up; a peak is measured from the
 * count at its start. This program is single-threaded. */
static size_t mem_now, mem_peak;

static void *
count_malloc(size_t n)
{
    void *p = malloc(n);
    if (p == NULL)
        return NULL;
    mem_now += malloc_usable_size(p) + 8;
    if (mem_now > mem_peak)
        mem_peak = mem_now;
    return p;
}

static void
count_free(void *p)
{
    if (p == NULL)
        return;
    mem_now -= malloc_usable_size(p) + 8;
    free(p);
}

/* A span with n attributes {"key":"kNNNNNN","value":{"stringValue":"v"}}
 * (malloc'd). */
static char *
many_attrs(size_t n)
{
    char *t = malloc(n * 64 + 512), *p = t;
    p += sprintf(p, "%s", SPAN_HEAD ",\"attributes\":[");
    for (size_t i = 0; i < n; i++)
        p += sprintf(p,
                     "%s{\"key\":\"k%06zu\",\"value\":{\"stringValue\":\"v\"}}",
                     i ? "," : "", i);
    sprintf(p, "]%s", SPAN_TAIL);
    return t;
}

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

/* 150,000 attributes in 6.9 MB: refused (413) before jansson takes more
 * than its lexer's few bytes (it took 144 MB, parsed whole, before the
 * attribute limit refused it). */
static void
test_json__memory_bounded_before_the_parse(void **state)
{
    struct ldg_otlp_batch *b;
    char *t = many_attrs(150000);
    (void)state;
    mem_peak = mem_now;
    assert_int_equal(decode_lim(t, NULL, &b), LDG_ETOOBIG);
    assert_true(mem_peak - mem_now < ((size_t)1 << 20));
    assert_non_null(strstr(err, "MiB to parse, over the 32 MiB"));
    free(t);
}

/* Parses t with jansson, counting: its estimate must be above what
 * jansson took at its peak, and not absurdly so. */
static void
cost_holds(const char *what, const char *t, size_t len)
{
    size_t est = otlp_json_cost(t, len);
    json_error_t je;
    mem_peak = mem_now;
    size_t base = mem_now;
    json_t *v = json_loadb(t, len, JSON_REJECT_DUPLICATES, &je);
    if (v == NULL)
        fail_msg("%s: does not parse: %s", what, je.text);
    size_t took = mem_peak - base;
    json_decref(v);
    print_message("%s: %zu bytes, jansson took %zu, estimated %zu\n", what, len,
                  took, est);
    if (took > est || est > 4 * took)
        fail_msg("%s: jansson took %zu bytes, estimated %zu", what, took, est);
}

static void
test_json__memory_estimate_is_above_what_jansson_takes(void **state)
{
    size_t n = 200000, len;
    char *t = malloc(n * 16 + 64), *p;
    (void)state;
    p = many_attrs(20000);
    cost_holds("20,000 attributes", p, strlen(p));
    free(p);
    /* a long string with escapes; a long number */
    p = t + sprintf(t, "{\"s\":\"");
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, i % 2 ? "ab" : "\\n");
    p += sprintf(p, "\",\"r\":1.");
    for (size_t i = 0; i < 10000; i++)
        *p++ = '0';
    sprintf(p, "1}");
    cost_holds("a long string and number", t, strlen(t));
    /* numbers in an array; one object of many keys; empty containers;
     * nesting; escaped keys */
    p = t + sprintf(t, "[");
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, i % 2 ? "%zu," : "-%zu.5e3,", i);
    sprintf(p, "0]");
    cost_holds("numbers", t, strlen(t));
    p = t + sprintf(t, "{");
    for (size_t i = 0; i < n / 4; i++)
        p += sprintf(p, "\"key%zu\":true,", i);
    sprintf(p, "\"z\":null}");
    cost_holds("one object of many keys", t, strlen(t));
    p = t + sprintf(t, "[");
    for (size_t i = 0; i < n / 2; i++)
        p += sprintf(p, i % 2 ? "{}," : "[],");
    sprintf(p, "{\"\\u00e9\\t\":[[[[[[[[[]]]]]]]]]}]");
    cost_holds("empty objects and arrays", t, strlen(t));
    p = t;
    for (size_t i = 0; i < 40; i++)
        p += sprintf(p, "{\"a\":[");
    for (size_t i = 0; i < 40; i++)
        p += sprintf(p, "]}");
    len = (size_t)(p - t);
    cost_holds("nested", t, len);
    free(t);
}

/* A request over a lower json_mem_max: 413 naming it; under: decoded. */
static void
test_json__memory_limit_is_the_callers(void **state)
{
    struct ldg_otlp_limits lim = {0};
    struct ldg_otlp_batch *b;
    char *t = many_attrs(2000);
    (void)state;
    size_t est = otlp_json_cost(t, strlen(t));
    lim.json_mem_max = est - 1;
    assert_int_equal(decode_lim(t, &lim, &b), LDG_ETOOBIG);
    assert_non_null(strstr(err, "MiB to parse"));
    lim.json_mem_max = est;
    assert_int_equal(decode_lim(t, &lim, &b), 0);
    ldg_otlp_batch_free(b);
    free(t);
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
        cmocka_unit_test(test_json__memory_bounded_before_the_parse),
        cmocka_unit_test(
            test_json__memory_estimate_is_above_what_jansson_takes),
        cmocka_unit_test(test_json__memory_limit_is_the_callers),
    };
    /* before anything allocates with jansson */
    json_set_alloc_funcs(count_malloc, count_free);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
