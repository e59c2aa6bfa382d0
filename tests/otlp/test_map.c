/*
 * test_map.c — otlp/map.c: spans and log records become events by the
 * GenAI conventions (docs/OTLP.md, "Mapping"), fed through the JSON
 * decoder: a model call, a tool execution, another span, the old
 * attribute names, content kept out (and in, when asked), the run from
 * an attribute, the GenAI-only choice, a log record's id and body, and
 * each invalid id or time refused naming the span; a span timed in
 * seconds (1970) or before the ledger's genesis taken, and flagged.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "otlp/otlp_int.h"
#include "util/util.h"

#define TRACE "5b8efff798038103d269b633813fc60c"

static char req[16384];
static char err[1024];

/* A request of one span with these attributes (a JSON list of
 * KeyValues) and extra span fields. */
static const char *
span_req(const char *span_id, const char *attrs, const char *extra)
{
    unsigned long long t = ldg_now_wall_ns() - 2000000000ull;
    snprintf(req, sizeof req,
             "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":"
             "\"service.name\",\"value\":{\"stringValue\":\"agent\"}},{"
             "\"key\":\"session.id\",\"value\":{\"stringValue\":\"S-9\"}}]},"
             "\"scopeSpans\":[{\"scope\":{\"name\":\"my-scope\"},\"spans\":[{"
             "\"traceId\":\"" TRACE "\",\"spanId\":\"%s\",\"name\":\"chat "
             "m\",\"kind\":3,\"startTimeUnixNano\":\"%llu\","
             "\"endTimeUnixNano\":%llu,\"attributes\":[%s]%s}]}]}]}",
             span_id, t, t + 1500000000ull, attrs, extra ? extra : "");
    return req;
}

static struct ldg_otlp_batch *
decode(const char *text, const struct ldg_otlp_map *m, int want_rc)
{
    struct ldg_otlp_batch *b = NULL;
    int rc = ldg_otlp_decode(&b, LDG_OTLP_TRACES, 1, text, strlen(text), m,
                             NULL, err, sizeof err);
    if (rc != want_rc)
        fail_msg("decode: %d (%s), wanted %d", rc, err, want_rc);
    return b;
}

static const struct ldg_event_in *
only_event(struct ldg_otlp_batch *b)
{
    size_t n;
    const struct ldg_event_in *ev = ldg_otlp_batch_events(b, &n);
    assert_int_equal(n, 1);
    return ev;
}

static const char *
s(json_t *body, const char *k)
{
    return json_string_value(json_object_get(body, k));
}

#define KV_S(k, v) "{\"key\":\"" k "\",\"value\":{\"stringValue\":\"" v "\"}}"
#define KV_I(k, v) "{\"key\":\"" k "\",\"value\":{\"intValue\":\"" v "\"}}"

static void
test_map__a_chat_span_is_a_route_decision(void **state)
{
    (void)state;
    struct ldg_otlp_batch *b = decode(
        span_req(
            "eee19b7ec3c1b175",
            KV_S("gen_ai.operation.name", "chat") "," KV_S(
                "gen_ai.request.model",
                "gpt-4o") "," KV_S("gen_ai.response"
                                   ".model",
                                   "gpt-4o-0806") "," KV_S("gen_ai.provider."
                                                           "name",
                                                           "openai") "," KV_I("gen_ai.usage.input_tokens",
                                                                              "97") "," KV_I("gen_ai."
                                                                                             "usage."
                                                                                             "output_"
                                                                                             "tokens",
                                                                                             "52") "," KV_S("gen_ai.response.id",
                                                                                                            "chatcmpl-1") "," KV_S("server.address",
                                                                                                                                   "api.example") "," KV_S("gen_ai."
                                                                                                                                                           "input."
                                                                                                                                                           "messag"
                                                                                                                                                           "es",
                                                                                                                                                           "secret"),
            ",\"parentSpanId\":\"eee19b7ec3c1b174\""),
        NULL, 0);
    const struct ldg_event_in *ev = only_event(b);
    json_t *body = ev->body;
    assert_string_equal(ev->type, "route.decision");
    assert_string_equal(ev->id, "otlp:" TRACE ":eee19b7ec3c1b175");
    assert_string_equal(ev->run, TRACE);
    assert_true(ev->has_time && ev->time_ns > 0);
    assert_string_equal(s(body, "route"), "gpt-4o");
    assert_string_equal(s(body, "model_requested"), "gpt-4o");
    assert_string_equal(s(body, "chosen_model"), "gpt-4o-0806");
    assert_string_equal(s(body, "provider"), "openai");
    assert_string_equal(s(body, "operation"), "chat");
    assert_string_equal(s(body, "outcome"), "ok");
    assert_string_equal(s(body, "response_id"), "chatcmpl-1");
    assert_string_equal(s(body, "trace_id"), TRACE);
    assert_string_equal(s(body, "span_id"), "eee19b7ec3c1b175");
    assert_string_equal(s(body, "parent_span_id"), "eee19b7ec3c1b174");
    assert_string_equal(s(body, "service"), "agent");
    assert_string_equal(s(body, "scope"), "my-scope");
    assert_int_equal(json_integer_value(json_object_get(body, "tokens_in")),
                     97);
    assert_int_equal(json_integer_value(json_object_get(body, "tokens_out")),
                     52);
    assert_true(json_number_value(json_object_get(body, "latency_ms")) ==
                1500.0);
    /* what no field takes stays an attribute; content is not there */
    json_t *at = json_object_get(body, "attributes");
    assert_string_equal(s(at, "server.address"), "api.example");
    assert_int_equal(json_object_size(at), 1);
    char *text = json_dumps(body, 0);
    assert_null(strstr(text, "secret"));
    free(text);
    ldg_otlp_batch_free(b);
}

static void
test_map__the_old_names_are_read_too(void **state)
{
    (void)state;
    /* v1.36 and before: gen_ai.system, prompt/completion tokens, no
     * operation name but a request model */
    struct ldg_otlp_batch *b = decode(
        span_req("0000000000000001",
                 KV_S("gen_ai.request.model", "llama3") "," KV_S(
                     "gen_ai.system",
                     "ollama") "," KV_I("gen_ai.usage."
                                        "prompt_tokens",
                                        "5") "," KV_I("gen_ai.usage.completion_"
                                                      "tokens",
                                                      "6"),
                 ",\"status\":{\"code\":2,\"message\":\"quoted "
                 "prompt\"}"),
        NULL, 0);
    const struct ldg_event_in *ev = only_event(b);
    assert_string_equal(ev->type, "route.decision");
    assert_string_equal(s(ev->body, "provider"), "ollama");
    assert_string_equal(s(ev->body, "chosen_model"), "llama3");
    assert_int_equal(
        json_integer_value(json_object_get(ev->body, "tokens_out")), 6);
    /* an error, whose message is not recorded without content */
    assert_string_equal(s(ev->body, "outcome"), "error");
    assert_null(json_object_get(ev->body, "reason"));
    ldg_otlp_batch_free(b);
}

static void
test_map__a_tool_span_is_a_run_step(void **state)
{
    (void)state;
    struct ldg_otlp_batch *b = decode(
        span_req(
            "0000000000000002",
            KV_S("gen_ai.operation.name", "execute_tool") "," KV_S(
                "gen_ai.tool.name",
                "get_weather") "," KV_S("gen_"
                                        "ai."
                                        "tool."
                                        "call."
                                        "id",
                                        "c1") "," KV_S("error.type",
                                                       "timeout") "," KV_S("gen"
                                                                           "_ai"
                                                                           ".to"
                                                                           "ol."
                                                                           "cal"
                                                                           "l."
                                                                           "arg"
                                                                           "ume"
                                                                           "nt"
                                                                           "s",
                                                                           "{Pa"
                                                                           "ris"
                                                                           "}"),
            NULL),
        NULL, 0);
    const struct ldg_event_in *ev = only_event(b);
    assert_string_equal(ev->type, "run.step");
    assert_string_equal(s(ev->body, "tool"), "get_weather");
    assert_string_equal(s(ev->body, "step"), "chat m");
    assert_string_equal(s(ev->body, "status"), "failed");
    assert_string_equal(s(ev->body, "error_type"), "timeout");
    assert_string_equal(s(ev->body, "reason"), "timeout");
    assert_string_equal(s(ev->body, "tool_call_id"), "c1");
    assert_null(json_object_get(ev->body, "attributes"));
    ldg_otlp_batch_free(b);
}

static void
test_map__other_spans_are_otel_spans_or_dropped(void **state)
{
    struct ldg_otlp_map m = {0};
    (void)state;
    struct ldg_otlp_batch *b =
        decode(span_req("0000000000000003", KV_S("http.method", "GET"), NULL),
               NULL, 0);
    const struct ldg_event_in *ev = only_event(b);
    assert_string_equal(ev->type, "otel.span");
    assert_string_equal(s(ev->body, "name"), "chat m");
    assert_string_equal(s(ev->body, "kind"), "client");
    assert_string_equal(s(ev->body, "status"), "unset");
    assert_string_equal(
        s(json_object_get(ev->body, "attributes"), "http.method"), "GET");
    ldg_otlp_batch_free(b);
    /* GenAI only: dropped, and counted */
    m.spans = LDG_OTLP_SPANS_GENAI;
    b = decode(span_req("0000000000000003", KV_S("http.method", "GET"), NULL),
               &m, 0);
    size_t n;
    ldg_otlp_batch_events(b, &n);
    assert_int_equal(n, 0);
    assert_int_equal(ldg_otlp_batch_items(b), 1);
    assert_int_equal(ldg_otlp_batch_dropped(b), 1);
    ldg_otlp_batch_free(b);
    /* an agent span is GenAI: kept as otel.span with its operation */
    b = decode(span_req("0000000000000003",
                        KV_S("gen_ai.operation.name", "invoke_agent"), NULL),
               &m, 0);
    ev = only_event(b);
    assert_string_equal(ev->type, "otel.span");
    assert_string_equal(s(ev->body, "operation"), "invoke_agent");
    ldg_otlp_batch_free(b);
    /* a model call without an operation (it names a model) is GenAI too */
    b = decode(
        span_req("0000000000000003", KV_S("gen_ai.request.model", "m"), NULL),
        &m, 0);
    ev = only_event(b);
    assert_string_equal(ev->type, "route.decision");
    ldg_otlp_batch_free(b);
    /* a chat span that names no model cannot be a route.decision */
    b = decode(span_req("0000000000000003",
                        KV_S("gen_ai.operation.name", "chat"), NULL),
               NULL, 0);
    ev = only_event(b);
    assert_string_equal(ev->type, "otel.span");
    ldg_otlp_batch_free(b);
    /* GenAI in an older dialect (OTLP.md): OpenLLMetry's request type is
     * an operation, kept with --otlp-spans genai */
    b = decode(span_req("0000000000000003", KV_S("llm.request.type", "chat"),
                        NULL),
               &m, 0);
    ev = only_event(b);
    assert_string_equal(ev->type, "otel.span");
    assert_string_equal(s(ev->body, "operation"), "chat");
    ldg_otlp_batch_free(b);
    /* an OpenInference LLM span whose parameters name no model: an
     * otel.span, and the parameters parsed for the model are freed (they
     * leaked: make asan) */
    b = decode(span_req("0000000000000003",
                        KV_S("openinference.span.kind",
                             "LLM") "," KV_S("llm.invocation_parameters",
                                             "{\\\"temperature\\\":0}"),
                        NULL),
               NULL, 0);
    ev = only_event(b);
    assert_string_equal(ev->type, "otel.span");
    ldg_otlp_batch_free(b);
}

static void
test_map__content_only_when_asked(void **state)
{
    struct ldg_otlp_map m = {0};
    (void)state;
    m.record_content = 1;
    struct ldg_otlp_batch *b = decode(
        span_req(
            "0000000000000004",
            KV_S("gen_ai.operation.name", "chat") "," KV_S(
                "gen_ai.request.model",
                "m") "," KV_S("gen_ai.input."
                              "messages",
                              "the prompt") "," KV_S("gen_ai.prompt.0.content",
                                                     "old style") "," KV_S("inp"
                                                                           "ut."
                                                                           "val"
                                                                           "ue",
                                                                           "ope"
                                                                           "nin"
                                                                           "fer"
                                                                           "enc"
                                                                           "e"),
            ",\"status\":{\"code\":2,\"message\":\"boom\"}"),
        &m, 0);
    const struct ldg_event_in *ev = only_event(b);
    json_t *at = json_object_get(ev->body, "attributes");
    assert_string_equal(s(at, "gen_ai.input.messages"), "the prompt");
    assert_string_equal(s(at, "gen_ai.prompt.0.content"), "old style");
    assert_string_equal(s(at, "input.value"), "openinference");
    assert_string_equal(s(ev->body, "reason"), "boom");
    ldg_otlp_batch_free(b);
    assert_true(otlp_content_key("gen_ai.output.messages", 22));
    assert_true(otlp_content_key("llm.input_messages.0.message.content", 36));
    assert_false(otlp_content_key("gen_ai.prompt", 12)); /* a prefix */
    assert_false(otlp_content_key("gen_ai.request.model", 20));
}

/* The older GenAI event forms some SDKs put on spans (Azure's, Semantic
 * Kernel: gen_ai.user.message, gen_ai.choice with gen_ai.event.content, or
 * the body's fields as attributes) are content too; another event's
 * "message" (an exception's) is not. */
static void
test_map__genai_span_events_keep_no_content(void **state)
{
    static const char
        events
            [] = ",\"events\":[{\"name\":\"gen_ai.user.message\","
                 "\"attributes\":[" KV_S("gen_ai.system", "az.ai.inference") "," KV_S("gen_ai.event.content", "{\\\"content\\\":\\\"SECRET-1\\\"}") "]},{\"name\":\"gen_ai.choice\",\"attributes\":[" KV_S(
                     "finish_reason",
                     "stop") "," KV_S("content",
                                      "SECRET-2") "," KV_S("tool_calls",
                                                           "SECRET-3") "," KV_S("messag"
                                                                                "e",
                                                                                "SECRET-"
                                                                                "4") "]}"
                                                                                     ",{"
                                                                                     "\""
                                                                                     "na"
                                                                                     "me"
                                                                                     "\""
                                                                                     ":"
                                                                                     "\""
                                                                                     "ex"
                                                                                     "ce"
                                                                                     "pt"
                                                                                     "io"
                                                                                     "n"
                                                                                     "\""
                                                                                     ","
                                                                                     "\""
                                                                                     "at"
                                                                                     "tr"
                                                                                     "ib"
                                                                                     "ut"
                                                                                     "es"
                                                                                     "\""
                                                                                     ":"
                                                                                     "[" KV_S(
                                                                                         "message",
                                                                                         "connection reset") "]}]";
    struct ldg_otlp_map m = {0};
    (void)state;
    for (int content = 0; content < 2; content++) {
        m.record_content = content;
        struct ldg_otlp_batch *b =
            decode(span_req("0000000000000009",
                            KV_S("gen_ai.operation.name",
                                 "chat") "," KV_S("gen_ai.request.model", "m"),
                            events),
                   &m, 0);
        const struct ldg_event_in *ev = only_event(b);
        json_t *evs = json_object_get(ev->body, "events");
        json_t *a0 = json_object_get(json_array_get(evs, 0), "attributes");
        json_t *a1 = json_object_get(json_array_get(evs, 1), "attributes");
        json_t *a2 = json_object_get(json_array_get(evs, 2), "attributes");
        char *all = json_dumps(ev->body, JSON_COMPACT);
        assert_string_equal(s(a0, "gen_ai.system"), "az.ai.inference");
        assert_string_equal(s(a1, "finish_reason"), "stop");
        assert_string_equal(s(a2, "message"), "connection reset");
        if (content) {
            assert_non_null(strstr(all, "SECRET-1"));
            assert_string_equal(s(a1, "content"), "SECRET-2");
            assert_string_equal(s(a1, "message"), "SECRET-4");
        } else if (strstr(all, "SECRET") != NULL) {
            fail_msg("content recorded: %s", all);
        }
        free(all);
        ldg_otlp_batch_free(b);
    }
}

static void
test_map__the_run_from_an_attribute(void **state)
{
    struct ldg_otlp_map m = {0};
    (void)state;
    m.run_attr = "session.id"; /* the resource's */
    struct ldg_otlp_batch *b =
        decode(span_req("0000000000000005", KV_S("a", "b"), NULL), &m, 0);
    const struct ldg_event_in *ev = only_event(b);
    assert_string_equal(ev->run, "S-9");
    ldg_otlp_batch_free(b);
    /* the span's own wins, and leaves its attributes */
    b = decode(span_req("0000000000000005", KV_S("session.id", "S-1"), NULL),
               &m, 0);
    ev = only_event(b);
    assert_string_equal(ev->run, "S-1");
    assert_null(json_object_get(ev->body, "attributes"));
    ldg_otlp_batch_free(b);
    /* neither: the trace id */
    m.run_attr = "gen_ai.conversation.id";
    b = decode(span_req("0000000000000005", KV_S("a", "b"), NULL), &m, 0);
    ev = only_event(b);
    assert_string_equal(ev->run, TRACE);
    ldg_otlp_batch_free(b);
    /* a run that is not a string or integer is refused */
    b = decode(span_req("0000000000000005",
                        "{\"key\":\"gen_ai.conversation.id\",\"value\":{"
                        "\"boolValue\":true}}",
                        NULL),
               &m, LDG_EBADINPUT);
    assert_non_null(strstr(err, "gen_ai.conversation.id"));
}

static void
test_map__bad_ids_and_times_are_refused(void **state)
{
    char text[4096];
    unsigned long long t = ldg_now_wall_ns();
    static const struct {
        const char *span, *want;
    } cases[] = {
        {"\"traceId\":\"" TRACE "00\",\"spanId\":\"0000000000000001\"",
         "traceId: 34 hex digits"},
        {"\"traceId\":\"5b8e\",\"spanId\":\"0000000000000001\"",
         "traceId: 2 bytes, not 16"},
        {"\"spanId\":\"0000000000000001\"", "traceId: 0 bytes, not 16"},
        {"\"traceId\":\"00000000000000000000000000000000\",\"spanId\":"
         "\"0000000000000001\"",
         "traceId: all zeros"},
        {"\"traceId\":\"" TRACE "\",\"spanId\":\"0000000000000000\"",
         "spanId: all zeros"},
        {"\"traceId\":\"" TRACE "\",\"spanId\":\"zz00000000000001\"",
         "spanId: not hex"},
        {"\"traceId\":\"" TRACE "\",\"spanId\":\"0000000000000001\","
         "\"parentSpanId\":\"00000001\"",
         "parentSpanId: 4 bytes, not 8"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(text, sizeof text,
                 "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{%s,"
                 "\"name\":\"n\",\"startTimeUnixNano\":\"%llu\","
                 "\"endTimeUnixNano\":\"%llu\"}]}]}]}",
                 cases[i].span, t - 1000, t);
        assert_null(decode(text, NULL, LDG_EBADINPUT));
        if (strstr(err, cases[i].want) == NULL ||
            strstr(err, "resourceSpans[0].scopeSpans[0].spans[0]") == NULL)
            fail_msg("case %zu: '%s' does not say '%s'", i, err, cases[i].want);
    }
    static const struct {
        unsigned long long start, end;
        const char *want;
    } times[] = {
        {0, 5, "startTimeUnixNano: 0"},
        {10, 5, "before startTimeUnixNano"},
        {10, 0, "endTimeUnixNano: 0 (not set"},
        {5, 9300000000000000000ull, "past the year 2262"},
    };
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        snprintf(text, sizeof text,
                 "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{"
                 "\"traceId\":\"" TRACE "\",\"spanId\":\"0000000000000001\","
                 "\"name\":\"n\",\"startTimeUnixNano\":\"%llu\","
                 "\"endTimeUnixNano\":\"%llu\"}]}]}]}",
                 times[i].start, times[i].end);
        assert_null(decode(text, NULL, LDG_EBADINPUT));
        if (strstr(err, times[i].want) == NULL)
            fail_msg("time case %zu: '%s' does not say '%s'", i, err,
                     times[i].want);
    }
    /* a day and more in the future */
    snprintf(text, sizeof text,
             "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{"
             "\"traceId\":\"" TRACE "\",\"spanId\":\"0000000000000001\","
             "\"name\":\"n\",\"startTimeUnixNano\":\"%llu\","
             "\"endTimeUnixNano\":\"%llu\"}]}]}]}",
             t, t + 90000ull * 1000000000ull);
    assert_null(decode(text, NULL, LDG_EBADINPUT));
    assert_non_null(strstr(err, "more than a day in the future"));
}

static void
test_map__a_log_record(void **state)
{
    char text[4096];
    unsigned long long t = ldg_now_wall_ns();
    struct ldg_otlp_batch *b = NULL;
    struct ldg_otlp_map m = {0};
    size_t n;
    (void)state;
    snprintf(
        text, sizeof text,
        "{\"resourceLogs\":[{\"resource\":{\"attributes\":[" KV_S(
            "service.name",
            "agent") "]},\"scopeLogs\":[{\"logRecords\":[{"
                     "\"timeUnixNano\":\"%llu\",\"severityNumber\":9,"
                     "\"severityText\":\"INFO\",\"body\":{"
                     "\"stringValue\":\"user logged in\"},"
                     "\"traceId\":\"" TRACE "\",\"spanId\":"
                     "\"0000000000000001\"},{\"observedTimeUnixNano\":"
                     "%llu,\"eventName\":\"gen_ai.user.message\","
                     "\"body\":{\"kvlistValue\":{\"values\":[" KV_S(
                         "content", "the prompt") "]}}},{"
                                                  "\"timeUnixNano\":%"
                                                  "llu,\"attributes\":"
                                                  "[" KV_S("event.name",
                                                           "gen_ai."
                                                           "choice") "],"
                                                                     "\"bo"
                                                                     "dy\":"
                                                                     "{\"st"
                                                                     "ringV"
                                                                     "alue"
                                                                     "\":"
                                                                     "\"the "
                                                                     "answe"
                                                                     "r\"}}"
                                                                     "]}]}]"
                                                                     "}",
        t, t, t);
    assert_int_equal(ldg_otlp_decode(&b, LDG_OTLP_LOGS, 1, text, strlen(text),
                                     NULL, NULL, err, sizeof err),
                     0);
    const struct ldg_event_in *ev = ldg_otlp_batch_events(b, &n);
    assert_int_equal(n, 3);
    assert_string_equal(ev[0].type, "otel.log");
    /* the event name as an attribute (instrumentation-openai's) */
    assert_string_equal(s(ev[2].body, "event_name"), "gen_ai.choice");
    assert_null(json_object_get(ev[2].body, "body"));
    assert_null(json_object_get(ev[2].body, "attributes"));
    assert_string_equal(ev[0].run, TRACE);
    assert_string_equal(s(ev[0].body, "body"), "user logged in");
    assert_int_equal(
        json_integer_value(json_object_get(ev[0].body, "severity")), 9);
    assert_non_null(strstr(ev[0].id, "otlp-log:"));
    /* a GenAI event's body is content; no trace: no run */
    assert_null(ev[1].run);
    assert_null(json_object_get(ev[1].body, "body"));
    assert_true(json_is_true(json_object_get(ev[1].body, "body_withheld")));
    char id0[80];
    snprintf(id0, sizeof id0, "%s", ev[0].id);
    ldg_otlp_batch_free(b);
    /* the same record again has the same id (a retried batch) */
    assert_int_equal(ldg_otlp_decode(&b, LDG_OTLP_LOGS, 1, text, strlen(text),
                                     NULL, NULL, err, sizeof err),
                     0);
    ev = ldg_otlp_batch_events(b, &n);
    assert_string_equal(ev[0].id, id0);
    assert_string_not_equal(ev[1].id, id0);
    ldg_otlp_batch_free(b);
    /* dropped by choice */
    m.drop_logs = 1;
    assert_int_equal(ldg_otlp_decode(&b, LDG_OTLP_LOGS, 1, text, strlen(text),
                                     &m, NULL, err, sizeof err),
                     0);
    ldg_otlp_batch_events(b, &n);
    assert_true(n == 0 && ldg_otlp_batch_dropped(b) == 3);
    ldg_otlp_batch_free(b);
}

/* Times before 2000-01-01 (seconds sent as nanoseconds) or before the
 * ledger's first event: recorded as sent, counted and named (until
 * 2026-11-28 they were taken without a word). */
static void
test_map__an_early_time_is_taken_and_flagged(void **state)
{
    struct ldg_otlp_map m = {0};
    struct ldg_otlp_batch *b;
    const char *why;
    size_t n;
    (void)state;
    snprintf(req, sizeof req,
             "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{"
             "\"traceId\":\"" TRACE "\",\"spanId\":\"0000000000000001\","
             "\"name\":\"s\",\"startTimeUnixNano\":\"1700000000\","
             "\"endTimeUnixNano\":\"1700000001\"}]}]}]}");
    b = decode(req, &m, 0);
    ldg_otlp_batch_events(b, &n);
    assert_int_equal(n, 1); /* taken */
    assert_int_equal(ldg_otlp_batch_early(b, &why), 1);
    assert_non_null(strstr(why, "spans[0].startTimeUnixNano: 1700000000 is "
                                "1970-01-01T00:00:01.7"));
    assert_non_null(strstr(why, "before 2000-01-01"));
    ldg_otlp_batch_free(b);
    /* after 2000, before the ledger's genesis (now): flagged */
    m.genesis_ns = ldg_now_wall_ns();
    b = decode(span_req("0000000000000002", "", NULL), &m, 0);
    assert_int_equal(ldg_otlp_batch_early(b, &why), 1);
    assert_non_null(strstr(why, "is before the ledger's first event"));
    ldg_otlp_batch_free(b);
    /* after it: not */
    m.genesis_ns = ldg_now_wall_ns() - 3600000000000ull;
    b = decode(span_req("0000000000000003", "", NULL), &m, 0);
    assert_int_equal(ldg_otlp_batch_early(b, &why), 0);
    assert_string_equal(why, "");
    ldg_otlp_batch_free(b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_map__a_chat_span_is_a_route_decision),
        cmocka_unit_test(test_map__the_old_names_are_read_too),
        cmocka_unit_test(test_map__a_tool_span_is_a_run_step),
        cmocka_unit_test(test_map__other_spans_are_otel_spans_or_dropped),
        cmocka_unit_test(test_map__content_only_when_asked),
        cmocka_unit_test(test_map__genai_span_events_keep_no_content),
        cmocka_unit_test(test_map__the_run_from_an_attribute),
        cmocka_unit_test(test_map__bad_ids_and_times_are_refused),
        cmocka_unit_test(test_map__a_log_record),
        cmocka_unit_test(test_map__an_early_time_is_taken_and_flagged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
