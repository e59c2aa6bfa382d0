/*
 * observe.c — what a model request asks for and what its answer says.
 *
 * Requests: the model, whether a stream is wanted, and (with
 * record_content) the prompt. Responses, whole or as a stream of lines
 * (OpenAI's Server-Sent Events "data: {...}", Ollama's NDJSON "{...}"):
 * the model that answered, tokens in and out (OpenAI's "usage":
 * prompt_tokens / completion_tokens; Ollama's prompt_eval_count /
 * eval_count), the end marker and (with record_content) the completion
 * text. Lines are parsed only as far as needed: a line is handed to
 * jansson only when it may carry what is still unknown (the model, until
 * one is seen; a "usage", an "eval_count", an "error"; content wanted).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/proxy_int.h"

#define LINE_MAX_BYTES (1024u * 1024)

static const struct {
    const char *method, *path, *name;
    enum proxy_api api;
} apis[] = {
    {"POST", "/v1/chat/completions", "openai.chat", API_OPENAI_CHAT},
    {"POST", "/v1/completions", "openai.completions", API_OPENAI_COMPLETIONS},
    {"POST", "/v1/embeddings", "openai.embeddings", API_OPENAI_EMBEDDINGS},
    {"POST", "/api/chat", "ollama.chat", API_OLLAMA_CHAT},
    {"POST", "/api/generate", "ollama.generate", API_OLLAMA_GENERATE},
    {"POST", "/api/embed", "ollama.embed", API_OLLAMA_EMBED},
};

enum proxy_api
proxy_api_of(const char *method, const char *path)
{
    for (size_t i = 0; i < sizeof apis / sizeof apis[0]; i++)
        if (strcmp(method, apis[i].method) == 0 &&
            strcmp(path, apis[i].path) == 0)
            return apis[i].api;
    return API_OTHER;
}

const char *
proxy_api_name(enum proxy_api a)
{
    for (size_t i = 0; i < sizeof apis / sizeof apis[0]; i++)
        if (apis[i].api == a)
            return apis[i].name;
    return NULL;
}

int
proxy_api_ollama(enum proxy_api a)
{
    return a == API_OLLAMA_CHAT || a == API_OLLAMA_GENERATE ||
           a == API_OLLAMA_EMBED;
}

void
proxy_req_parse(enum proxy_api a, const void *body, size_t len,
                int want_content, struct proxy_reqinfo *ri, json_t **parsed)
{
    json_t *j, *v;

    memset(ri, 0, sizeof *ri);
    *parsed = NULL;
    ri->stream = a == API_OLLAMA_CHAT || a == API_OLLAMA_GENERATE;
    if (body == NULL || len == 0)
        return;
    j = json_loadb(body, len, 0, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        return;
    }
    ri->json_ok = 1;
    if (json_is_string(v = json_object_get(j, "model")))
        snprintf(ri->model, sizeof ri->model, "%s", json_string_value(v));
    if (json_is_boolean(v = json_object_get(j, "stream")))
        ri->stream = json_is_true(v);
    if (a == API_OPENAI_EMBEDDINGS || a == API_OLLAMA_EMBED)
        ri->stream = 0;
    if (want_content) {
        static const char *const keys[] = {"messages", "prompt", "input"};
        for (size_t i = 0; i < 3 && ri->prompt == NULL; i++)
            if ((v = json_object_get(j, keys[i])) != NULL)
                ri->prompt = v;
        /* images would be large and are not the prompt's text */
        if (ri->prompt && json_dumpb(ri->prompt, NULL, 0, JSON_COMPACT) >
                              LDG_PROXY_CONTENT_MAX)
            ri->prompt = json_string("(prompt over the content limit; not "
                                     "recorded)");
        else if (ri->prompt)
            json_incref(ri->prompt);
    }
    *parsed = j;
}

void
proxy_obs_init(struct proxy_obs *o, enum proxy_api a, int want_content)
{
    memset(o, 0, sizeof *o);
    o->api = a;
    o->want_content = want_content;
    ldg_buf_init(&o->content, LDG_PROXY_CONTENT_MAX);
    ldg_buf_init(&o->line, LINE_MAX_BYTES);
}

void
proxy_obs_release(struct proxy_obs *o)
{
    ldg_buf_release(&o->content);
    ldg_buf_release(&o->line);
}

static void
add_content(struct proxy_obs *o, json_t *s)
{
    if (!o->want_content || !json_is_string(s) || o->content_cut)
        return;
    size_t n = json_string_length(s);
    if (o->content.len + n > LDG_PROXY_CONTENT_MAX) {
        o->content_cut = 1;
        return;
    }
    ldg_buf_add(&o->content, json_string_value(s), n);
}

/* A count into *n and *has; a negative one is no count (not recorded). */
static void
count_of(const json_t *v, int64_t *n, int *has)
{
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *n = (int64_t)json_integer_value(v);
        *has = 1;
    }
}

/* v's text when it is an identifier (1..64 of [A-Za-z0-9_.-]), or NULL. */
static const char *
ident(const json_t *v)
{
    const char *s = json_string_value(v);
    size_t n = 0;

    if (s == NULL)
        return NULL;
    for (; s[n]; n++)
        if (n == 64 || !(isalnum((unsigned char)s[n]) || s[n] == '_' ||
                         s[n] == '.' || s[n] == '-'))
            return NULL;
    return n > 0 ? s : NULL;
}

/* One JSON object of a response (the whole body, or a stream's line). */
static void
obs_object(struct proxy_obs *o, json_t *j)
{
    json_t *v, *u;

    if (!json_is_object(j))
        return;
    if (!o->model[0] && json_is_string(v = json_object_get(j, "model")))
        snprintf(o->model, sizeof o->model, "%s", json_string_value(v));
    if ((v = json_object_get(j, "error")) != NULL) {
        o->error_seen = 1;
        if (o->want_content) {
            /* the upstream's words, which may quote the prompt or the
             * key: content */
            json_t *m = json_is_object(v) ? json_object_get(v, "message") : v;
            if (json_is_string(m))
                snprintf(o->error, sizeof o->error, "%s", json_string_value(m));
        } else if (json_is_object(v)) {
            /* an OpenAI-style error's code (else type): a name from a
             * fixed set, not content */
            const char *k = ident(json_object_get(v, "code"));
            if (k == NULL)
                k = ident(json_object_get(v, "type"));
            if (k != NULL)
                snprintf(o->error, sizeof o->error, "%s", k);
        }
    }
    if (json_is_object(u = json_object_get(j, "usage"))) {
        count_of(json_object_get(u, "prompt_tokens"), &o->tokens_in,
                 &o->has_in);
        count_of(json_object_get(u, "completion_tokens"), &o->tokens_out,
                 &o->has_out);
    }
    count_of(json_object_get(j, "prompt_eval_count"), &o->tokens_in,
             &o->has_in);
    count_of(json_object_get(j, "eval_count"), &o->tokens_out, &o->has_out);
    if (json_is_true(json_object_get(j, "done")))
        o->done = 1;
    if (!o->want_content)
        return;
    /* the completion: OpenAI choices[0].message.content (whole),
     * .delta.content (stream), .text (completions); Ollama message.content
     * (chat), response (generate) */
    if (json_is_array(v = json_object_get(j, "choices")) &&
        json_array_size(v) > 0) {
        json_t *c0 = json_array_get(v, 0);
        json_t *m = json_object_get(c0, "message");
        if (m == NULL)
            m = json_object_get(c0, "delta");
        if (m)
            add_content(o, json_object_get(m, "content"));
        add_content(o, json_object_get(c0, "text"));
    }
    if (json_is_object(v = json_object_get(j, "message")))
        add_content(o, json_object_get(v, "content"));
    add_content(o, json_object_get(j, "response"));
}

void
proxy_obs_whole(struct proxy_obs *o, const char *p, size_t n)
{
    json_t *j = json_loadb(p, n, 0, NULL);
    if (!json_is_object(j))
        o->bad_json = 1;
    obs_object(o, j);
    json_decref(j);
}

static int
has(const char *p, size_t n, const char *s)
{
    return memmem(p, n, s, strlen(s)) != NULL;
}

/* One complete line of a stream (without its newline). */
static void
obs_line(struct proxy_obs *o, const char *p, size_t n)
{
    while (n > 0 && (p[n - 1] == '\r' || p[n - 1] == ' '))
        n--;
    if (n >= 5 && memcmp(p, "data:", 5) == 0) {
        p += 5;
        n -= 5;
    }
    while (n > 0 && (*p == ' ' || *p == '\t')) {
        p++;
        n--;
    }
    if (n >= 6 && memcmp(p, "[DONE]", 6) == 0) {
        o->done = 1; /* OpenAI's end of a stream */
        return;
    }
    if (n == 0 || *p != '{')
        return; /* an SSE comment or event name, a blank line */
    if (o->model[0] && !o->want_content && !has(p, n, "usage") &&
        !has(p, n, "eval_count") && !has(p, n, "\"error\"") &&
        !has(p, n, "\"done\""))
        return; /* nothing in it we still need */
    proxy_obs_whole(o, p, n);
}

void
proxy_obs_piece(struct proxy_obs *o, const char *p, size_t n)
{
    while (n > 0) {
        const char *nl = memchr(p, '\n', n);
        size_t k = nl ? (size_t)(nl - p) : n;
        if (!o->line_skip) {
            if (nl && o->line.len == 0) {
                obs_line(o, p, k); /* the whole line is in this piece */
            } else {
                ldg_buf_add(&o->line, p, k);
                if (o->line.err) { /* too long: not parsed */
                    o->line.err = 0;
                    o->line.len = 0;
                    o->line_skip = 1;
                } else if (nl) {
                    obs_line(o, (const char *)o->line.s, o->line.len);
                    o->line.len = 0;
                }
            }
        }
        if (nl == NULL)
            return;
        LDG_ASSERT(k < n);
        o->line_skip = 0;
        p += k + 1;
        n -= k + 1;
    }
}

void
proxy_obs_flush(struct proxy_obs *o)
{
    if (!o->line_skip && o->line.len > 0)
        obs_line(o, (const char *)o->line.s, o->line.len);
    o->line.len = 0;
}

/* s at the start of a line of p: at p's start or after a newline (a
 * model's text that quotes "data: [DONE]" is inside a JSON string, never
 * at a line's start) */
static int
has_line(const char *p, size_t n, const char *s)
{
    size_t k = strlen(s);
    for (const char *q = p; q != NULL && (size_t)(q - p) + k <= n;) {
        const char *m = memmem(q, n - (size_t)(q - p), s, k);
        if (m == NULL)
            return 0;
        if (m == p || m[-1] == '\n')
            return 1;
        q = m + 1;
    }
    return 0;
}

int
proxy_piece_ends(const char *p, size_t n)
{
    /* ollama's "done":true is a key of the line's object: in a model's
     * text it would be escaped (\"done\") */
    return has_line(p, n, "data: [DONE]") || has_line(p, n, "data:[DONE]") ||
           has(p, n, "\"done\":true") || has(p, n, "\"done\": true");
}

/* ------------------------------------------------------ trace context -- */

static int
lower_hex(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
            return 0;
    return 1;
}

static int
zeros(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != '0')
            return 0;
    return 1;
}

int
proxy_traceparent(const char *v, char trace[33], char parent[17])
{
    size_t n;

    trace[0] = parent[0] = 0;
    if (v == NULL)
        return 0;
    while (*v == ' ' || *v == '\t') /* optional white space around */
        v++;
    n = strlen(v);
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    /* version "-" trace-id "-" parent-id "-" trace-flags */
    if (n < 55 || !lower_hex(v, 2) || v[2] != '-' || v[35] != '-' ||
        v[52] != '-' || !lower_hex(v + 3, 32) || !lower_hex(v + 36, 16) ||
        !lower_hex(v + 53, 2))
        return 0;
    if (v[0] == 'f' && v[1] == 'f')
        return 0; /* version 255 is invalid */
    if (v[0] == '0' && v[1] == '0' ? n != 55 : n > 55 && v[55] != '-')
        return 0;
    if (zeros(v + 3, 32) || zeros(v + 36, 16))
        return 0;
    memcpy(trace, v + 3, 32);
    trace[32] = 0;
    memcpy(parent, v + 36, 16);
    parent[16] = 0;
    return 1;
}
