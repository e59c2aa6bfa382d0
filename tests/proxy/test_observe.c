/*
 * test_observe.c — what the proxy reads from requests and answers: the
 * API of a method and path, a request's model, stream flag and prompt,
 * and from answers (whole, or streams cut anywhere, even mid-line) the
 * model, tokens in and out, the end marker, errors and the completion.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proxy/proxy_int.h"

static void
test_observe__api_of(void **state)
{
    assert_int_equal(proxy_api_of("POST", "/v1/chat/completions"),
                     API_OPENAI_CHAT);
    assert_int_equal(proxy_api_of("POST", "/api/embed"), API_OLLAMA_EMBED);
    assert_int_equal(proxy_api_of("GET", "/api/chat"), API_OTHER);
    assert_int_equal(proxy_api_of("POST", "/api/chat/"), API_OTHER);
    assert_int_equal(proxy_api_of("GET", "/v1/models"), API_OTHER);
    assert_string_equal(proxy_api_name(API_OLLAMA_GENERATE), "ollama.generate");
    assert_null(proxy_api_name(API_OTHER));
    assert_true(proxy_api_ollama(API_OLLAMA_CHAT));
    assert_false(proxy_api_ollama(API_OPENAI_EMBEDDINGS));
}

static void
test_observe__request(void **state)
{
    struct proxy_reqinfo ri;
    json_t *j;
    const char *b = "{\"model\":\"m:1\",\"messages\":[{\"role\":\"user\","
                    "\"content\":\"hi\"}]}";
    proxy_req_parse(API_OLLAMA_CHAT, b, strlen(b), 0, &ri, &j);
    assert_true(ri.json_ok);
    assert_string_equal(ri.model, "m:1");
    assert_int_equal(ri.stream, 1); /* Ollama's default */
    assert_null(ri.prompt);
    json_decref(j);
    proxy_req_parse(API_OPENAI_CHAT, b, strlen(b), 1, &ri, &j);
    assert_int_equal(ri.stream, 0); /* OpenAI's default */
    assert_true(json_is_array(ri.prompt));
    json_decref(ri.prompt);
    json_decref(j);
    b = "{\"model\":\"m\",\"prompt\":\"p\",\"stream\":false}";
    proxy_req_parse(API_OLLAMA_GENERATE, b, strlen(b), 1, &ri, &j);
    assert_int_equal(ri.stream, 0);
    assert_string_equal(json_string_value(ri.prompt), "p");
    json_decref(ri.prompt);
    json_decref(j);
    proxy_req_parse(API_OPENAI_CHAT, "{\"model\":", 9, 1, &ri, &j);
    assert_false(ri.json_ok);
    assert_string_equal(ri.model, "");
    assert_null(j);
    proxy_req_parse(API_OPENAI_CHAT, "[1]", 3, 1, &ri, &j);
    assert_false(ri.json_ok);
}

static void
test_observe__whole_answers(void **state)
{
    struct proxy_obs o;
    const char *a = "{\"model\":\"m\",\"choices\":[{\"message\":{\"content\":"
                    "\"hello\"}}],\"usage\":{\"prompt_tokens\":7,"
                    "\"completion_tokens\":2}}";
    proxy_obs_init(&o, API_OPENAI_CHAT, 1);
    proxy_obs_whole(&o, a, strlen(a));
    assert_string_equal(o.model, "m");
    assert_true(o.has_in && o.has_out);
    assert_int_equal(o.tokens_in, 7);
    assert_int_equal(o.tokens_out, 2);
    assert_int_equal(o.content.len, 5);
    assert_memory_equal(o.content.s, "hello", 5);
    assert_false(o.bad_json);
    proxy_obs_release(&o);
    a = "{\"model\":\"x\",\"embeddings\":[[1]],\"prompt_eval_count\":3}";
    proxy_obs_init(&o, API_OLLAMA_EMBED, 0);
    proxy_obs_whole(&o, a, strlen(a));
    assert_int_equal(o.tokens_in, 3);
    assert_false(o.has_out);
    proxy_obs_whole(&o, "{\"model\"", 8);
    assert_true(o.bad_json);
    proxy_obs_release(&o);
    /* an error's message is content: kept only when content is wanted;
     * else its code (or type) when that is a plain name */
    a = "{\"error\":{\"message\":\"model not found\"}}";
    proxy_obs_init(&o, API_OPENAI_CHAT, 1);
    proxy_obs_whole(&o, a, strlen(a));
    assert_true(o.error_seen);
    assert_string_equal(o.error, "model not found");
    proxy_obs_release(&o);
    proxy_obs_init(&o, API_OPENAI_CHAT, 0);
    proxy_obs_whole(&o, a, strlen(a));
    assert_true(o.error_seen);
    assert_string_equal(o.error, "");
    proxy_obs_release(&o);
    a = "{\"error\":{\"message\":\"Incorrect API key provided: sk-x\","
        "\"type\":\"invalid_request_error\",\"code\":\"invalid_api_key\"}}";
    proxy_obs_init(&o, API_OPENAI_CHAT, 0);
    proxy_obs_whole(&o, a, strlen(a));
    assert_string_equal(o.error, "invalid_api_key");
    proxy_obs_release(&o);
    a = "{\"error\":{\"message\":\"m\",\"type\":\"t y\",\"code\":null}}";
    proxy_obs_init(&o, API_OPENAI_CHAT, 0);
    proxy_obs_whole(&o, a, strlen(a));
    assert_string_equal(o.error, ""); /* "t y" is no name */
    proxy_obs_release(&o);
    a = "{\"error\":\"model 'x' not found\"}"; /* Ollama's: a message */
    proxy_obs_init(&o, API_OLLAMA_CHAT, 0);
    proxy_obs_whole(&o, a, strlen(a));
    assert_true(o.error_seen);
    assert_string_equal(o.error, "");
    proxy_obs_release(&o);
    /* a negative count is no count */
    a = "{\"model\":\"m\",\"prompt_eval_count\":-5,\"eval_count\":2}";
    proxy_obs_init(&o, API_OLLAMA_CHAT, 0);
    proxy_obs_whole(&o, a, strlen(a));
    assert_false(o.has_in);
    assert_true(o.has_out);
    proxy_obs_release(&o);
}

/* Feeds s cut into pieces of k bytes. */
static void
feed(struct proxy_obs *o, const char *s, size_t k)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i += k)
        proxy_obs_piece(o, s + i, n - i < k ? n - i : k);
    proxy_obs_flush(o);
}

static void
test_observe__streams_cut_anywhere(void **state)
{
    const char *sse =
        "data: {\"model\":\"gpt\",\"choices\":[{\"delta\":{\"content\":"
        "\"Hel\"}}]}\n\n"
        ": a comment\n"
        "data: {\"model\":\"gpt\",\"choices\":[{\"delta\":{\"content\":"
        "\"lo\"}}]}\r\n\r\n"
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":4,"
        "\"completion_tokens\":2}}\n\n"
        "data: [DONE]\n\n";
    const char *nd =
        "{\"model\":\"llama\",\"message\":{\"content\":\"a\"},\"done\":false}\n"
        "{\"model\":\"llama\",\"message\":{\"content\":\"b\"},\"done\":false}\n"
        "{\"model\":\"llama\",\"done\":true,\"prompt_eval_count\":9,"
        "\"eval_count\":2}";
    for (size_t k = 1; k <= 64; k = k * 2 + 1) {
        struct proxy_obs o;
        proxy_obs_init(&o, API_OPENAI_CHAT, 1);
        feed(&o, sse, k);
        assert_string_equal(o.model, "gpt");
        assert_int_equal(o.tokens_in, 4);
        assert_int_equal(o.tokens_out, 2);
        assert_true(o.done);
        assert_int_equal(o.content.len, 5);
        assert_memory_equal(o.content.s, "Hello", 5);
        proxy_obs_release(&o);
        proxy_obs_init(&o, API_OLLAMA_CHAT, 0);
        feed(&o, nd, k); /* the last line has no newline: flush reads it */
        assert_string_equal(o.model, "llama");
        assert_int_equal(o.tokens_in, 9);
        assert_int_equal(o.tokens_out, 2);
        assert_true(o.done);
        assert_int_equal(o.content.len, 0); /* not asked for */
        proxy_obs_release(&o);
    }
}

static void
test_observe__long_line_skipped_bounded(void **state)
{
    struct proxy_obs o;
    size_t n = 3u << 20;
    char *big = malloc(n + 64);
    memset(big, 'x', n);
    const char *tail = "\n{\"model\":\"m\",\"eval_count\":5}\n";
    size_t tl = strlen(tail);
    memcpy(big + n, tail, tl);
    proxy_obs_init(&o, API_OLLAMA_GENERATE, 0);
    for (size_t i = 0; i < n + tl; i += 4096)
        proxy_obs_piece(&o, big + i, n + tl - i < 4096 ? n + tl - i : 4096);
    assert_true(o.line.cap <= (1u << 20) + 65536); /* never the whole */
    assert_string_equal(o.model, "m");
    assert_int_equal(o.tokens_out, 5);
    proxy_obs_release(&o);
    free(big);
}

static void
test_observe__piece_ends(void **state)
{
    assert_true(proxy_piece_ends("data: [DONE]\n\n", 14));
    assert_true(proxy_piece_ends("{\"done\":true}", 13));
    assert_true(proxy_piece_ends("{\"done\": true}", 14));
    assert_false(proxy_piece_ends("{\"done\":false}", 14));
    /* at a line's start only: a model's text quoting it is inside JSON
     * (it was held, and the pieces after it sent before it) */
    assert_true(proxy_piece_ends("x\n\ndata: [DONE]\n\n", 18));
    {
        static const char q[] = "data: {\"choices\":[{\"delta\":{\"content\":"
                                "\"ends with data: [DONE]\"}}]}\n\n";
        assert_false(proxy_piece_ends(q, sizeof q - 1));
    }
    assert_false(proxy_piece_ends("data: {}", 8));
}

/* W3C traceparent: the recommendation's examples and its must-fail
 * cases. */
static void
test_observe__traceparent(void **state)
{
    char tr[33], sp[17];
    static const char *const bad[] = {
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",    /* short */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x", /* 00 +*/
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", /* case */
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
        "",
        NULL};
    (void)state;
    assert_int_equal(
        proxy_traceparent(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", tr, sp),
        1);
    assert_string_equal(tr, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_string_equal(sp, "00f067aa0ba902b7");
    /* a later version may add fields after a '-' */
    assert_int_equal(
        proxy_traceparent(
            "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-what", tr,
            sp),
        1);
    assert_int_equal(
        proxy_traceparent(
            " 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\t", tr,
            sp),
        1);
    for (int i = 0; bad[i] != NULL; i++) {
        if (proxy_traceparent(bad[i], tr, sp) != 0)
            fail_msg("'%s' accepted", bad[i]);
        assert_string_equal(tr, "");
    }
    assert_int_equal(proxy_traceparent(NULL, tr, sp), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_observe__api_of),
        cmocka_unit_test(test_observe__request),
        cmocka_unit_test(test_observe__whole_answers),
        cmocka_unit_test(test_observe__streams_cut_anywhere),
        cmocka_unit_test(test_observe__long_line_skipped_bounded),
        cmocka_unit_test(test_observe__piece_ends),
        cmocka_unit_test(test_observe__traceparent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
