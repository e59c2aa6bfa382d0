/*
 * test_pb.c — otlp/pb.c: OTLP's protobuf encoding. A request packed by
 * protobuf-c from the generated messages decodes to the same events as
 * the same request in OTLP/JSON; the prescan refuses what protobuf-c
 * would recurse or allocate without bound (nesting, counts), and wire
 * bytes that are not a request (cut short, a wrong wire type, a length
 * past its end) are refused naming the byte; the answers encode.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "otlp/otlp.pb-c.h"
#include "otlp/otlp_int.h"

static char err[1024];

/* protobuf-c's structs hold char *, the literals are const */
#define W(s) ((char *)(uintptr_t)(s))

static uint8_t trace_id[16] = {0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03,
                               0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c};
static uint8_t span_id[8] = {0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x75};
static uint8_t parent_id[8] = {0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74};

/* A request with one chat span: packed into *len bytes (malloc'd). */
static uint8_t *
chat_request(size_t *len)
{
    LdgOtlp__ExportTraceServiceRequest rq;
    LdgOtlp__ResourceSpans rs, *rsp = &rs;
    LdgOtlp__Resource res;
    LdgOtlp__ScopeSpans ss, *ssp = &ss;
    LdgOtlp__InstrumentationScope sc;
    LdgOtlp__Span sp, *spp = &sp;
    LdgOtlp__Status st;
    LdgOtlp__KeyValue kv[5], *kvp[5], rkv, *rkvp = &rkv;
    LdgOtlp__AnyValue av[5], rav;

    ldg_otlp__export_trace_service_request__init(&rq);
    ldg_otlp__resource_spans__init(&rs);
    ldg_otlp__resource__init(&res);
    ldg_otlp__scope_spans__init(&ss);
    ldg_otlp__instrumentation_scope__init(&sc);
    ldg_otlp__span__init(&sp);
    ldg_otlp__status__init(&st);
    static const char *keys[5] = {
        "gen_ai.operation.name", "gen_ai.request.model", "gen_ai.system",
        "gen_ai.usage.input_tokens", "gen_ai.input.messages"};
    static const char *vals[5] = {"chat", "llama3", "ollama", NULL, "hi"};
    for (int i = 0; i < 5; i++) {
        ldg_otlp__key_value__init(&kv[i]);
        ldg_otlp__any_value__init(&av[i]);
        kv[i].key = W(keys[i]);
        kv[i].value = &av[i];
        if (vals[i]) {
            av[i].value_case = LDG_OTLP__ANY_VALUE__VALUE_STRING_VALUE;
            av[i].string_value = W(vals[i]);
        } else {
            av[i].value_case = LDG_OTLP__ANY_VALUE__VALUE_INT_VALUE;
            av[i].int_value = 12;
        }
        kvp[i] = &kv[i];
    }
    ldg_otlp__key_value__init(&rkv);
    ldg_otlp__any_value__init(&rav);
    rkv.key = W("service.name");
    rkv.value = &rav;
    rav.value_case = LDG_OTLP__ANY_VALUE__VALUE_STRING_VALUE;
    rav.string_value = W("agent");
    res.n_attributes = 1;
    res.attributes = &rkvp;
    sc.name = W("scope-x");
    sp.trace_id.data = trace_id;
    sp.trace_id.len = 16;
    sp.span_id.data = span_id;
    sp.span_id.len = 8;
    sp.parent_span_id.data = parent_id;
    sp.parent_span_id.len = 8;
    sp.name = W("chat llama3");
    sp.kind = LDG_OTLP__SPAN__SPAN_KIND__SPAN_KIND_CLIENT;
    sp.start_time_unix_nano = 1700000000000000000ull;
    sp.end_time_unix_nano = 1700000000250000000ull;
    sp.n_attributes = 5;
    sp.attributes = kvp;
    st.code = LDG_OTLP__STATUS__STATUS_CODE__STATUS_CODE_OK;
    sp.status = &st;
    ss.scope = &sc;
    ss.n_spans = 1;
    ss.spans = &spp;
    rs.resource = &res;
    rs.n_scope_spans = 1;
    rs.scope_spans = &ssp;
    rq.n_resource_spans = 1;
    rq.resource_spans = &rsp;
    *len = protobuf_c_message_get_packed_size(&rq.base);
    uint8_t *b = malloc(*len);
    protobuf_c_message_pack(&rq.base, b);
    return b;
}

static const char chat_json[] =
    "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":"
    "\"service.name\",\"value\":{\"stringValue\":\"agent\"}}]},\"scopeSpans\":"
    "[{\"scope\":{\"name\":\"scope-x\"},\"spans\":[{\"traceId\":"
    "\"5B8EFFF798038103D269B633813FC60C\",\"spanId\":\"eee19b7ec3c1b175\","
    "\"parentSpanId\":\"eee19b7ec3c1b174\",\"name\":\"chat llama3\","
    "\"kind\":3,\"startTimeUnixNano\":\"1700000000000000000\","
    "\"endTimeUnixNano\":\"1700000000250000000\",\"status\":{\"code\":1},"
    "\"attributes\":[{\"key\":\"gen_ai.operation.name\",\"value\":{"
    "\"stringValue\":\"chat\"}},{\"key\":\"gen_ai.request.model\",\"value\":{"
    "\"stringValue\":\"llama3\"}},{\"key\":\"gen_ai.system\",\"value\":{"
    "\"stringValue\":\"ollama\"}},{\"key\":\"gen_ai.usage.input_tokens\","
    "\"value\":{\"intValue\":\"12\"}},{\"key\":\"gen_ai.input.messages\","
    "\"value\":{\"stringValue\":\"hi\"}}]}]}]}]}";

static void
test_pb__the_same_events_as_json(void **state)
{
    struct ldg_otlp_batch *pb = NULL, *js = NULL;
    size_t len, n1, n2;
    uint8_t *b = chat_request(&len);
    (void)state;
    assert_int_equal(ldg_otlp_decode(&pb, LDG_OTLP_TRACES, 0, b, len, NULL,
                                     NULL, err, sizeof err),
                     0);
    assert_int_equal(ldg_otlp_decode(&js, LDG_OTLP_TRACES, 1, chat_json,
                                     strlen(chat_json), NULL, NULL, err,
                                     sizeof err),
                     0);
    const struct ldg_event_in *e1 = ldg_otlp_batch_events(pb, &n1);
    const struct ldg_event_in *e2 = ldg_otlp_batch_events(js, &n2);
    assert_int_equal(n1, 1);
    assert_int_equal(n2, 1);
    assert_string_equal(e1->type, "route.decision");
    assert_string_equal(e1->type, e2->type);
    assert_string_equal(e1->id, e2->id);
    assert_string_equal(e1->run, e2->run);
    assert_true(e1->time_ns == e2->time_ns);
    char *s1 = json_dumps(e1->body, JSON_SORT_KEYS | JSON_COMPACT);
    char *s2 = json_dumps(e2->body, JSON_SORT_KEYS | JSON_COMPACT);
    assert_string_equal(s1, s2);
    assert_non_null(strstr(s1, "\"tokens_in\":12"));
    assert_null(strstr(s1, "\"hi\""));
    free(s1);
    free(s2);
    ldg_otlp_batch_free(pb);
    ldg_otlp_batch_free(js);
    free(b);
}

/* Puts a NUL at byte at of the first occurrence of text in b. */
static void
nul_in(uint8_t *b, size_t len, const char *text, size_t at)
{
    size_t n = strlen(text);
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(b + i, text, n) == 0) {
            b[i + at] = 0;
            return;
        }
    fail_msg("%s not in the request", text);
}

static void
test_pb__a_nul_in_a_string_is_refused_by_name(void **state)
{
    static const struct {
        const char *text;
        size_t at;
        const char *want;
    } cases[] = {
        {"chat llama3", 4,
         "resourceSpans[0].scopeSpans[0].spans[0].name: a NUL byte at byte 4"},
        {"gen_ai.system", 6,
         "resourceSpans[0].scopeSpans[0].spans[0].attributes[2].key: a NUL "
         "byte at byte 6"},
        {"ollama", 0,
         "resourceSpans[0].scopeSpans[0].spans[0].attributes[2].value."
         "stringValue: a NUL byte at byte 0"},
        {"agent", 4,
         "resourceSpans[0].resource.attributes[0].value.stringValue: a NUL "
         "byte at byte 4"},
        {"scope-x", 5, "resourceSpans[0].scopeSpans[0].scope.name: a NUL"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct ldg_otlp_batch *b = NULL;
        size_t len;
        uint8_t *req = chat_request(&len);
        nul_in(req, len, cases[i].text, cases[i].at);
        /* protobuf-c would have cut the string there, silently */
        assert_int_equal(ldg_otlp_decode(&b, LDG_OTLP_TRACES, 0, req, len, NULL,
                                         NULL, err, sizeof err),
                         LDG_EBADINPUT);
        assert_null(b);
        if (strstr(err, cases[i].want) == NULL)
            fail_msg("%s: '%s', want '%s'", cases[i].text, err, cases[i].want);
        free(req);
    }
    /* a NUL in bytes (an id) is no text: taken */
    {
        struct ldg_otlp_batch *b = NULL;
        size_t len;
        uint8_t save = trace_id[3];
        trace_id[3] = 0;
        uint8_t *req = chat_request(&len);
        trace_id[3] = save;
        assert_int_equal(ldg_otlp_decode(&b, LDG_OTLP_TRACES, 0, req, len, NULL,
                                         NULL, err, sizeof err),
                         0);
        ldg_otlp_batch_free(b);
        free(req);
    }
}

static void
test_pb__wire_bytes_that_are_not_a_request(void **state)
{
    struct ldg_otlp_batch *b = NULL;
    size_t len;
    uint8_t *good = chat_request(&len);
    (void)state;
    /* cut short at every length */
    for (size_t cut = 1; cut < len; cut++) {
        int rc = ldg_otlp_decode(&b, LDG_OTLP_TRACES, 0, good, cut, NULL, NULL,
                                 err, sizeof err);
        assert_int_equal(rc, LDG_EBADINPUT);
        assert_null(b);
        assert_non_null(strstr(err, "protobuf"));
    }
    /* field 1 (resource_spans) as a varint: protobuf-c refuses it */
    static const uint8_t wrongtype[] = {0x08, 0x01};
    assert_int_equal(ldg_otlp_decode(&b, LDG_OTLP_TRACES, 0, wrongtype, 2, NULL,
                                     NULL, err, sizeof err),
                     LDG_EBADINPUT);
    /* a group (wire type 3) */
    static const uint8_t group[] = {0x0b};
    assert_int_equal(ldg_otlp_decode(&b, LDG_OTLP_TRACES, 0, group, 1, NULL,
                                     NULL, err, sizeof err),
                     LDG_EBADINPUT);
    assert_non_null(strstr(err, "wire type 3"));
    /* a length past the end */
    static const uint8_t past[] = {0x0a, 0x7f, 0x00};
    assert_int_equal(ldg_otlp_decode(&b, LDG_OTLP_TRACES, 0, past, 3, NULL,
                                     NULL, err, sizeof err),
                     LDG_EBADINPUT);
    assert_non_null(strstr(err, "runs past the end"));
    /* unknown fields are skipped (a newer sender) */
    uint8_t *more = malloc(len + 3);
    memcpy(more, good, len);
    more[len] = 0x78; /* field 15, varint */
    more[len + 1] = 0x00;
    assert_int_equal(ldg_otlp_decode(&b, LDG_OTLP_TRACES, 0, more, len + 2,
                                     NULL, NULL, err, sizeof err),
                     0);
    ldg_otlp_batch_free(b);
    free(more);
    /* an empty body is an empty request */
    assert_int_equal(ldg_otlp_decode(&b, LDG_OTLP_TRACES, 0, "", 0, NULL, NULL,
                                     err, sizeof err),
                     0);
    ldg_otlp_batch_free(b);
    free(good);
}

/* Appends a length-delimited field (tag, then n as a varint). */
static size_t
ld(uint8_t *p, uint8_t tag, size_t n)
{
    size_t k = 0;
    p[k++] = tag;
    do {
        p[k++] = (uint8_t)((n & 0x7f) | (n > 0x7f ? 0x80 : 0));
        n >>= 7;
    } while (n);
    return k;
}

static void
test_pb__nesting_and_counts_refused_before_unpack(void **state)
{
    struct ldg_otlp_batch *b = NULL;
    struct ldg_otlp_limits lim = {0};
    (void)state;
    /* ResourceSpans > ScopeSpans > Span > KeyValue > AnyValue, then
     * ArrayValue > AnyValue ... a million deep: built inside out */
    size_t depth = 200000, cap = depth * 16 + 64, end = cap, inner = 0;
    uint8_t *buf = malloc(cap), hdr[16];
    for (size_t i = 0; i < depth; i++) {
        /* AnyValue.array_value (5) around ArrayValue.values (1) */
        size_t h = ld(hdr, 0x0a, inner); /* ArrayValue{values: AnyValue} */
        end -= h;
        memcpy(buf + end, hdr, h);
        inner += h;
        h = ld(hdr, 0x2a, inner); /* AnyValue{array_value} */
        end -= h;
        memcpy(buf + end, hdr, h);
        inner += h;
    }
    static const uint8_t tags[] = {0x12, 0x4a, 0x12, 0x12, 0x0a};
    /* KeyValue.value(2), Span.attributes(9), ScopeSpans.spans(2),
     * ResourceSpans.scope_spans(2), request.resource_spans(1) */
    for (size_t t = 0; t < sizeof tags; t++) {
        size_t h = ld(hdr, tags[t], inner);
        end -= h;
        memcpy(buf + end, hdr, h);
        inner += h;
    }
    assert_int_equal(ldg_otlp_decode(&b, LDG_OTLP_TRACES, 0, buf + end, inner,
                                     NULL, NULL, err, sizeof err),
                     LDG_EBADINPUT);
    assert_non_null(strstr(err, "nested more than 8 deep"));
    free(buf);
    /* 20 empty spans, the limit 10 */
    uint8_t many[64];
    size_t k = 0;
    k += ld(many + k, 0x0a, 42);
    k += ld(many + k, 0x12, 40);
    for (int i = 0; i < 20; i++)
        k += ld(many + k, 0x12, 0);
    lim.items_max = 10;
    assert_int_equal(ldg_otlp_decode(&b, LDG_OTLP_TRACES, 0, many, k, NULL,
                                     &lim, err, sizeof err),
                     LDG_ETOOBIG);
    assert_non_null(strstr(err, "more than 10 spans"));
    /* the same bytes as a logs request: log records, counted alike */
    assert_int_equal(ldg_otlp_decode(&b, LDG_OTLP_LOGS, 0, many, k, NULL, &lim,
                                     err, sizeof err),
                     LDG_ETOOBIG);
    assert_non_null(strstr(err, "more than 10 log records"));
}

static void
test_pb__answers_encode(void **state)
{
    void *out = NULL;
    size_t len = 0;
    (void)state;
    assert_int_equal(otlp_pb_response(LDG_OTLP_TRACES, 0, NULL, &out, &len), 0);
    assert_int_equal(len, 0); /* no partial_success: an empty message */
    free(out);
    assert_int_equal(
        otlp_pb_response(LDG_OTLP_TRACES, 3, "event 2: too big", &out, &len),
        0);
    LdgOtlp__ExportTraceServiceResponse *r =
        ldg_otlp__export_trace_service_response__unpack(NULL, len, out);
    assert_non_null(r);
    assert_non_null(r->partial_success);
    assert_int_equal(r->partial_success->rejected_spans, 3);
    assert_string_equal(r->partial_success->error_message, "event 2: too big");
    ldg_otlp__export_trace_service_response__free_unpacked(r, NULL);
    free(out);
    assert_int_equal(otlp_pb_status(3, "bad", &out, &len), 0);
    LdgOtlp__RpcStatus *st = ldg_otlp__rpc_status__unpack(NULL, len, out);
    assert_true(st->code == 3 && strcmp(st->message, "bad") == 0);
    ldg_otlp__rpc_status__free_unpacked(st, NULL);
    free(out);
}

/* gRPC's grpc-status-details-bin: a google.rpc.Status with a RetryInfo
 * among its details when the client should come back later, none when
 * it should not (its delay 0). */
static void
test_pb__status_carries_retry_info(void **state)
{
    void *b = NULL;
    size_t n = 0;
    LdgOtlp__RpcStatus *st;
    LdgOtlp__RpcRetryInfo *ri;
    (void)state;
    assert_int_equal(otlp_pb_status_retry(14, "behind", 3, &b, &n), 0);
    st = ldg_otlp__rpc_status__unpack(NULL, n, b);
    assert_non_null(st);
    assert_int_equal(st->code, 14);
    assert_string_equal(st->message, "behind");
    assert_int_equal(st->n_details, 1);
    assert_string_equal(st->details[0]->type_url,
                        "type.googleapis.com/google.rpc.RetryInfo");
    ri = ldg_otlp__rpc_retry_info__unpack(NULL, st->details[0]->value.len,
                                          st->details[0]->value.data);
    assert_non_null(ri);
    assert_non_null(ri->retry_delay);
    assert_int_equal(ri->retry_delay->seconds, 3);
    assert_int_equal(ri->retry_delay->nanos, 0);
    ldg_otlp__rpc_retry_info__free_unpacked(ri, NULL);
    ldg_otlp__rpc_status__free_unpacked(st, NULL);
    free(b);
    assert_int_equal(otlp_pb_status_retry(8, "too big", 0, &b, &n), 0);
    st = ldg_otlp__rpc_status__unpack(NULL, n, b);
    assert_non_null(st);
    assert_int_equal(st->code, 8);
    assert_int_equal(st->n_details, 0);
    ldg_otlp__rpc_status__free_unpacked(st, NULL);
    free(b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pb__the_same_events_as_json),
        cmocka_unit_test(test_pb__a_nul_in_a_string_is_refused_by_name),
        cmocka_unit_test(test_pb__wire_bytes_that_are_not_a_request),
        cmocka_unit_test(test_pb__nesting_and_counts_refused_before_unpack),
        cmocka_unit_test(test_pb__answers_encode),
        cmocka_unit_test(test_pb__status_carries_retry_info),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
