/*
 * map.c — spans and log records become events, by the GenAI semantic
 * conventions (LDG_OTLP_SEMCONV; docs/OTLP.md, "Mapping"), and the
 * dialects before and beside them: OpenLLMetry's flat attributes and
 * OpenInference's (classify(), below; docs/OTLP.md, "Dialects").
 *
 *   span with gen_ai.operation.name
 *     chat, text_completion,
 *     generate_content, embeddings  ──▶ route.decision  (needs a model:
 *     (or none, with a request model)                    else otel.span)
 *     execute_tool                  ──▶ run.step
 *     anything else, or none        ──▶ otel.span  (or dropped: spans
 *                                                   LDG_OTLP_SPANS_GENAI
 *                                                   keeps GenAI ones)
 *   log record                      ──▶ otel.log   (or dropped)
 *
 * Attributes a typed field takes (the model, the tokens, error.type...)
 * leave the event's "attributes"; every other one stays there, known or
 * not, except content (otlp_content_key) without record_content. The
 * resource gives only service.name ("service") and the scope its name
 * ("scope"): the rest of the resource would be the same bytes in every
 * event of a process.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ledger/module.h"
#include "otlp/otlp_int.h"
#include "util/util.h"

/* What one event keeps besides its body: the id its ev points to. */
struct otlp_aux {
    char id[80];
};

struct ldg_otlp_batch {
    enum ldg_otlp_signal sig;
    struct ldg_event_in *ev;
    struct otlp_aux *aux;
    size_t n, cap;
    size_t items, dropped;
    size_t early;        /* taken, timed before 2000 or the ledger's genesis */
    char early_why[300]; /* the first of them, said */
};

/* Span events kept per span; the rest are counted (events_dropped). */
#define EVENTS_KEPT 32

void
otlp_limits_fill(struct ldg_otlp_limits *out, const struct ldg_otlp_limits *in)
{
    memset(out, 0, sizeof *out);
    if (in != NULL)
        *out = *in;
    if (out->body_max == 0)
        out->body_max = LDG_OTLP_BODY_MAX_DEFAULT;
    if (out->inflated_max == 0)
        out->inflated_max = LDG_OTLP_INFLATED_MAX_DEFAULT;
    if (out->items_max == 0)
        out->items_max = LDG_OTLP_ITEMS_MAX_DEFAULT;
    if (out->attrs_max == 0)
        out->attrs_max = LDG_OTLP_ATTRS_MAX_DEFAULT;
    if (out->value_max == 0)
        out->value_max = LDG_OTLP_VALUE_MAX_DEFAULT;
    if (out->depth_max == 0)
        out->depth_max = LDG_OTLP_DEPTH_MAX_DEFAULT;
    if (out->json_mem_max == 0)
        out->json_mem_max = LDG_OTLP_JSON_MEM_MAX_DEFAULT;
}

/* ------------------------------------------------------------- batch -- */

/* A new, empty batch for sig with room for n events; NULL when out of
 * memory. */
static struct ldg_otlp_batch *
otlp_batch_new(enum ldg_otlp_signal sig, size_t n)
{
    struct ldg_otlp_batch *b = calloc(1, sizeof *b);
    if (b == NULL)
        return NULL;
    b->sig = sig;
    if (n > 0) {
        b->ev = calloc(n, sizeof *b->ev);
        b->aux = calloc(n, sizeof *b->aux);
        if (b->ev == NULL || b->aux == NULL) {
            ldg_otlp_batch_free(b);
            return NULL;
        }
        b->cap = n;
    }
    return b;
}

/* Room for one more event: its slot, or NULL when out of memory. */
static struct ldg_event_in *
batch_push(struct ldg_otlp_batch *b, struct otlp_aux **aux)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        struct ldg_event_in *ev = realloc(b->ev, cap * sizeof *ev);
        if (ev == NULL)
            return NULL;
        b->ev = ev;
        struct otlp_aux *ax = realloc(b->aux, cap * sizeof *ax);
        if (ax == NULL)
            return NULL;
        b->aux = ax;
        b->cap = cap;
        /* ids point into aux: set again where it moved */
        for (size_t i = 0; i < b->n; i++)
            b->ev[i].id = b->aux[i].id;
    }
    LDG_ASSERT(b->n < b->cap);
    memset(&b->ev[b->n], 0, sizeof b->ev[b->n]);
    memset(&b->aux[b->n], 0, sizeof b->aux[b->n]);
    *aux = &b->aux[b->n];
    return &b->ev[b->n++];
}

const struct ldg_event_in *
ldg_otlp_batch_events(const struct ldg_otlp_batch *b, size_t *n)
{
    *n = b ? b->n : 0;
    return b ? b->ev : NULL;
}

void
otlp_batch_source(struct ldg_otlp_batch *b, const struct ldg_source *src)
{
    for (size_t i = 0; b != NULL && i < b->n; i++)
        b->ev[i].source = src;
}

size_t
ldg_otlp_batch_items(const struct ldg_otlp_batch *b)
{
    return b ? b->items : 0;
}

size_t
ldg_otlp_batch_dropped(const struct ldg_otlp_batch *b)
{
    return b ? b->dropped : 0;
}

size_t
ldg_otlp_batch_early(const struct ldg_otlp_batch *b, const char **why)
{
    if (why != NULL)
        *why = b && b->early ? b->early_why : "";
    return b ? b->early : 0;
}

void
ldg_otlp_batch_free(struct ldg_otlp_batch *b)
{
    if (b == NULL)
        return;
    for (size_t i = 0; i < b->n; i++)
        json_decref(b->ev[i].body);
    free(b->ev);
    free(b->aux);
    free(b);
}

/* ----------------------------------------------------------- content -- */

/* Attributes that carry what was said (docs/OTLP.md, "Content"): the
 * GenAI conventions' opt-in content, the names they replaced, and
 * OpenInference's and OpenLLMetry's. Exact names, then prefixes. */
static const char *const content_exact[] = {"gen_ai.input.messages",
                                            "gen_ai.event.content",
                                            "gen_ai.output.messages",
                                            "gen_ai.system_instructions",
                                            "gen_ai.tool.definitions",
                                            "gen_ai.tool.call.arguments",
                                            "gen_ai.tool.call.result",
                                            "gen_ai.prompt",
                                            "gen_ai.completion",
                                            "input.value",
                                            "output.value",
                                            "llm.prompts",
                                            "llm.tools",
                                            NULL};
static const char *const content_prefix[] = {"gen_ai.prompt.",
                                             "gen_ai.completion.",
                                             "llm.input_messages.",
                                             "llm.output_messages.",
                                             "llm.prompt_template.",
                                             "llm.tools.",
                                             NULL};

int
otlp_content_key(const char *key, size_t n)
{
    /* OpenLLMetry's gen_ai.completion.N.finish_reason says why a
     * completion ended, not what it said */
    static const char fr[] = ".finish_reason";
    if (n > 18 + sizeof fr - 1 && memcmp(key, "gen_ai.completion.", 18) == 0 &&
        memcmp(key + n - (sizeof fr - 1), fr, sizeof fr - 1) == 0 &&
        memchr(key + 18, '.', n - 18 - (sizeof fr - 1)) == NULL)
        return 0;
    for (int i = 0; content_exact[i] != NULL; i++)
        if (strlen(content_exact[i]) == n &&
            memcmp(content_exact[i], key, n) == 0)
            return 1;
    for (int i = 0; content_prefix[i] != NULL; i++) {
        size_t pl = strlen(content_prefix[i]);
        if (n > pl && memcmp(content_prefix[i], key, pl) == 0)
            return 1;
    }
    return 0;
}

int
otlp_content_attr(const struct otlp_mapper *m, const char *key, size_t n)
{
    /* the body of a GenAI event (gen_ai.user.message, gen_ai.choice...)
     * spread over a span event's attributes */
    static const char *const body[] = {"content", "message", "tool_calls",
                                       NULL};
    if (otlp_content_key(key, n))
        return 1;
    if (m->event == NULL || strncmp(m->event, "gen_ai.", 7) != 0)
        return 0;
    for (int i = 0; body[i] != NULL; i++)
        if (strlen(body[i]) == n && memcmp(body[i], key, n) == 0)
            return 1;
    return 0;
}

/* ------------------------------------------------------------ values -- */

int
otlp_fail(struct otlp_mapper *m, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->err, m->errcap, fmt, ap);
    va_end(ap);
    m->rc = rc;
    return rc;
}

json_t *
otlp_str(struct otlp_mapper *m, const char *where, const char *key,
         const char *p, size_t n)
{
    json_t *s = json_stringn(p ? p : "", p ? n : 0);
    if (s == NULL)
        otlp_fail(m, LDG_EBADINPUT, "%s%s%s: not UTF-8 text", where,
                  key ? "." : "", key ? key : "");
    return s;
}

int
otlp_str_ok(struct otlp_mapper *m, const char *where, const char *what,
            const char *s)
{
    if (s == NULL || s[0] == 0)
        return 1;
    json_t *j = otlp_str(m, where, what, s, strlen(s));
    json_decref(j);
    return j != NULL;
}

int
otlp_attr_count(struct otlp_mapper *m, const char *where)
{
    if (++m->attrs > m->lim->attrs_max)
        return otlp_fail(m, LDG_ETOOBIG,
                         "%s: more than %zu attributes in one request", where,
                         m->lim->attrs_max);
    return 0;
}

/* The bytes a value's strings hold, for the value_max rule: a string's
 * length (an array's or map's largest string). */
static size_t
longest(json_t *v)
{
    size_t most = 0, i;
    const char *k;
    json_t *x;
    if (json_is_string(v))
        return json_string_length(v);
    if (json_is_array(v)) {
        json_array_foreach(v, i, x)
        {
            size_t l = longest(x);
            most = l > most ? l : most;
        }
    } else if (json_is_object(v)) {
        json_object_foreach(v, k, x)
        {
            size_t l = longest(x);
            most = l > most ? l : most;
        }
    }
    return most;
}

/* The JSON text's size, for content. */
static size_t
text_size(json_t *v)
{
    if (json_is_string(v))
        return json_string_length(v);
    return json_dumpb(v, NULL, 0, JSON_COMPACT);
}

int
otlp_attr_put(struct otlp_mapper *m, json_t *attrs, const char *where,
              const char *key, size_t keylen, json_t *v)
{
    char name[256];
    if (v == NULL)
        return m->rc ? m->rc : LDG_ENOMEM; /* the conversion said why */
    snprintf(name, sizeof name, "%.*s", (int)(keylen < 200 ? keylen : 200),
             key);
    if (otlp_content_attr(m, key, keylen)) {
        size_t sz = text_size(v);
        if (sz > LDG_OTLP_CONTENT_MAX) {
            char note[160];
            snprintf(note, sizeof note,
                     "(not recorded: %zu bytes, over the %zu-byte limit)", sz,
                     (size_t)LDG_OTLP_CONTENT_MAX);
            json_decref(v);
            v = json_string(note);
        }
    } else if (longest(v) > m->lim->value_max) {
        json_decref(v);
        return otlp_fail(
            m, LDG_EBADINPUT,
            "%s.attributes[\"%s\"]: a value of more than %zu bytes", where,
            name, m->lim->value_max);
    }
    if (memchr(key, 0, keylen) != NULL || keylen == 0) {
        json_decref(v);
        return otlp_fail(m, LDG_EBADINPUT, "%s: an attribute with %s key",
                         where, keylen ? "a NUL in its" : "an empty");
    }
    /* (checks the key is UTF-8; takes v in every case) */
    if (json_object_setn_new(attrs, key, keylen, v) < 0)
        return otlp_fail(m, LDG_EBADINPUT,
                         "%s: an attribute key that is not UTF-8", where);
    return 0;
}

/* ----------------------------------------------------------- helpers -- */

/* A string attribute taken out of attrs (set into body as field, when
 * body is not NULL); NULL when absent or not a string (then it stays). */
static const char *
take_str(json_t *attrs, const char *key, json_t *body, const char *field)
{
    json_t *v = json_object_get(attrs, key);
    if (!json_is_string(v) || json_string_length(v) == 0)
        return NULL;
    if (body == NULL)
        return json_string_value(v);
    json_object_set(body, field, v);
    json_object_del(attrs, key);
    return json_string_value(json_object_get(body, field));
}

/* An integer attribute (the first of two names) into body[field]. */
static void
take_int(json_t *attrs, const char *key, const char *old, json_t *body,
         const char *field)
{
    json_t *v = json_object_get(attrs, key);
    if (!json_is_integer(v)) {
        key = old;
        v = old ? json_object_get(attrs, old) : NULL;
    }
    if (!json_is_integer(v))
        return;
    json_object_set(body, field, v);
    json_object_del(attrs, key);
}

static int
all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0)
            return 0;
    return 1;
}

/* Checks a trace id (16 bytes) and span id (8 bytes); hex into the
 * buffers. what: "traceId"/"spanId"/"parentSpanId". */
static int
check_id(struct otlp_mapper *m, const char *where, const char *what,
         const uint8_t *p, size_t n, size_t want, char *hex)
{
    if (n != want)
        return otlp_fail(m, LDG_EBADINPUT, "%s.%s: %zu bytes, not %zu", where,
                         what, n, want);
    if (all_zero(p, n))
        return otlp_fail(m, LDG_EBADINPUT, "%s.%s: all zeros (an invalid id)",
                         where, what);
    ldg_hex(hex, p, n);
    return 0;
}

/* A day: how far in the future a time may be (clocks disagree). */
#define FUTURE_NS (86400ull * 1000000000ull)

static int
check_time(struct otlp_mapper *m, const char *where, const char *what,
           uint64_t t)
{
    if (t > (uint64_t)INT64_MAX)
        return otlp_fail(m, LDG_EBADINPUT, "%s.%s: %llu is past the year 2262",
                         where, what, (unsigned long long)t);
    if (t > m->now_ns + FUTURE_NS)
        return otlp_fail(m, LDG_EBADINPUT,
                         "%s.%s: %llu is more than a day in the future", where,
                         what, (unsigned long long)t);
    return 0;
}

int
otlp_time_check(struct otlp_mapper *m, const char *where, const char *what,
                uint64_t t)
{
    return check_time(m, where, what, t);
}

/* 2000-01-01T00:00:00Z, in ns since the epoch. */
#define Y2000_NS 946684800000000000ull

/* An item taken with a time t (ns) before 2000-01-01 or before the
 * ledger's genesis: likely seconds or milliseconds sent as nanoseconds
 * (1700000000 ns is 1970-01-01T00:00:01.7Z), or a clock not yet set.
 * It is recorded as sent; the batch counts it, and says the first. */
static void
early_note(struct otlp_mapper *m, const char *where, const char *what,
           uint64_t t)
{
    char ts[64], gs[64];
    uint64_t g = m->m->genesis_ns;
    int before_2000 = t < Y2000_NS;

    if (!before_2000 && (g == 0 || t >= g))
        return;
    if (m->b->early++ > 0)
        return;
    ldg_time_rfc3339_ns(ts, sizeof ts, t);
    if (before_2000)
        snprintf(m->b->early_why, sizeof m->b->early_why,
                 "%.120s.%s: %llu is %s, before 2000-01-01 (seconds or "
                 "milliseconds sent as nanoseconds?)",
                 where, what, (unsigned long long)t, ts);
    else
        snprintf(m->b->early_why, sizeof m->b->early_why,
                 "%.120s.%s: %s is before the ledger's first event (%s)", where,
                 what, ts, ldg_time_rfc3339_ns(gs, sizeof gs, g));
}

/* The run of an item: run_attr's value (the item's attributes, then its
 * resource's), else the trace id hex (NULL for a log without one). Set
 * into body as "run". */
static int
set_run(struct otlp_mapper *m, const char *where, json_t *attrs,
        const struct otlp_scope *sc, const char *trace_hex, json_t *body)
{
    const char *run = trace_hex;
    char num[32];
    json_t *v = NULL;

    if (m->m->run_attr != NULL) {
        v = json_object_get(attrs, m->m->run_attr);
        if (v == NULL && sc->resource != NULL)
            v = json_object_get(sc->resource, m->m->run_attr);
    }
    if (json_is_integer(v)) {
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
        run = num;
    } else if (json_is_string(v)) {
        run = json_string_value(v);
        size_t n = json_string_length(v);
        if (n == 0 || n > LDG_RUN_MAX)
            return otlp_fail(
                m, LDG_EBADINPUT,
                "%s: attribute %s (the run): %zu bytes, not 1 to %d", where,
                m->m->run_attr, n, LDG_RUN_MAX);
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)run[i] < 0x20 || run[i] == 0x7f)
                return otlp_fail(
                    m, LDG_EBADINPUT,
                    "%s: attribute %s (the run): a control character", where,
                    m->m->run_attr);
    } else if (v != NULL && !json_is_null(v)) {
        return otlp_fail(
            m, LDG_EBADINPUT,
            "%s: attribute %s (the run) is not a string or integer", where,
            m->m->run_attr);
    }
    if (run != NULL)
        json_object_set_new(body, "run", json_string(run));
    return 0;
}

/* Adds the event whose body is built; its id, run and time. */
static int
push(struct otlp_mapper *m, const char *type, json_t *body, const char *id,
     uint64_t time_ns)
{
    struct otlp_aux *aux;
    struct ldg_event_in *ev = batch_push(m->b, &aux);
    if (ev == NULL) {
        json_decref(body);
        return otlp_fail(m, LDG_ENOMEM, "out of memory");
    }
    ev->type = type;
    ev->body = body;
    snprintf(aux->id, sizeof aux->id, "%s", id);
    ev->id = aux->id;
    ev->run = json_string_value(json_object_get(body, "run"));
    if (time_ns > 0) {
        ev->has_time = 1;
        ev->time_ns = time_ns;
    }
    return 0;
}

/* Common fields: trace and span ids, service, scope, the attributes left
 * and the span events. */
static void
common(json_t *body, const struct otlp_scope *sc, json_t *attrs)
{
    if (sc->service != NULL)
        json_object_set_new(body, "service", json_string(sc->service));
    if (sc->scope != NULL && sc->scope[0])
        json_object_set_new(body, "scope", json_string(sc->scope));
    if (json_object_size(attrs) > 0)
        json_object_set(body, "attributes", attrs);
}

static void
span_events(json_t *body, json_t *events)
{
    size_t n = json_array_size(events);
    if (n == 0)
        return;
    if (n <= EVENTS_KEPT) {
        json_object_set(body, "events", events);
        return;
    }
    json_t *kept = json_array();
    for (size_t i = 0; i < EVENTS_KEPT; i++)
        json_array_append(kept, json_array_get(events, i));
    json_object_set_new(body, "events", kept);
    json_object_set_new(body, "events_dropped",
                        json_integer((json_int_t)(n - EVENTS_KEPT)));
}

static const char *
kind_name(int kind)
{
    static const char *const names[] = {NULL,     "internal", "server",
                                        "client", "producer", "consumer"};
    return kind > 0 && kind <= 5 ? names[kind] : NULL;
}

/* ------------------------------------------------------------- spans -- */

enum span_class { SPAN_OTHER, SPAN_MODEL, SPAN_TOOL };

/*
 * The four shapes GenAI spans come in (docs/OTLP.md, "Dialects"), told
 * apart by what names the span's kind:
 *
 *   gen_ai.operation.name          the conventions (the OTel
 *                                  instrumentations, OpenLLMetry since
 *                                  0.23: messages in gen_ai.input.messages,
 *                                  or on an operation-details event)
 *   llm.request.type               OpenLLMetry before it (gen_ai.prompt.N.*,
 *                                  gen_ai.system, gen_ai.usage.prompt_tokens)
 *   traceloop.span.kind            OpenLLMetry's SDK's tools and workflows
 *   openinference.span.kind        OpenInference (LLM, EMBEDDING, TOOL, ...:
 *                                  llm.model_name, llm.token_count.*)
 *
 * *op is the conventions' operation name for the span (NULL: none).
 */
static enum span_class
classify(json_t *attrs, const char **op)
{
    static const char *const inference[] = {
        "chat", "text_completion", "generate_content", "embeddings", NULL};
    /* OpenLLMetry's llm.request.type values, as operation names */
    static const char *const legacy[][2] = {{"chat", "chat"},
                                            {"completion", "text_completion"},
                                            {"embedding", "embeddings"},
                                            {NULL, NULL}};
    const char *oi, *rt, *tl;
    *op = take_str(attrs, "gen_ai.operation.name", NULL, NULL);
    if (*op != NULL) {
        for (int i = 0; inference[i] != NULL; i++)
            if (strcmp(*op, inference[i]) == 0)
                return SPAN_MODEL;
        return strcmp(*op, "execute_tool") == 0 ? SPAN_TOOL : SPAN_OTHER;
    }
    if ((oi = take_str(attrs, "openinference.span.kind", NULL, NULL)) != NULL) {
        if (strcmp(oi, "EMBEDDING") == 0)
            *op = "embeddings";
        if (strcmp(oi, "LLM") == 0 || strcmp(oi, "EMBEDDING") == 0)
            return SPAN_MODEL;
        return strcmp(oi, "TOOL") == 0 ? SPAN_TOOL : SPAN_OTHER;
    }
    if ((tl = take_str(attrs, "traceloop.span.kind", NULL, NULL)) != NULL &&
        strcmp(tl, "tool") == 0)
        return SPAN_TOOL;
    if ((rt = take_str(attrs, "llm.request.type", NULL, NULL)) != NULL)
        for (int i = 0; legacy[i][0] != NULL; i++)
            if (strcmp(rt, legacy[i][0]) == 0)
                *op = legacy[i][1];
    return take_str(attrs, "gen_ai.request.model", NULL, NULL) ? SPAN_MODEL
                                                               : SPAN_OTHER;
}

/* The model a span names, whichever dialect: the conventions'
 * gen_ai.request.model / gen_ai.response.model, or OpenInference's
 * llm.model_name (the model that answered) with the request's model from
 * llm.invocation_parameters (a JSON text), or embedding.model_name. */
static void
models(json_t *attrs, const char **req, const char **resp, json_t **parsed)
{
    const char *ip;
    *parsed = NULL;
    *req = take_str(attrs, "gen_ai.request.model", NULL, NULL);
    *resp = take_str(attrs, "gen_ai.response.model", NULL, NULL);
    if (*req != NULL || *resp != NULL)
        return;
    *resp = take_str(attrs, "llm.model_name", NULL, NULL);
    if (*resp == NULL)
        *resp = take_str(attrs, "embedding.model_name", NULL, NULL);
    ip = take_str(attrs, "llm.invocation_parameters", NULL, NULL);
    if (ip != NULL && (*parsed = json_loads(ip, 0, NULL)) != NULL &&
        json_is_string(json_object_get(*parsed, "model")) &&
        json_string_length(json_object_get(*parsed, "model")) > 0)
        *req = json_string_value(json_object_get(*parsed, "model"));
}

/* The provider, in lower case (the conventions' values are; OpenLLMetry's
 * gen_ai.system says "OpenAI"): gen_ai.provider.name, gen_ai.system,
 * OpenInference's llm.provider, llm.system. */
static void
provider(json_t *attrs, json_t *body)
{
    static const char *const names[] = {"gen_ai.provider.name", "gen_ai.system",
                                        "llm.provider", "llm.system", NULL};
    for (int i = 0; names[i] != NULL; i++) {
        const char *v = take_str(attrs, names[i], NULL, NULL);
        if (v == NULL)
            continue;
        char *low = strdup(v);
        if (low == NULL)
            return;
        for (char *c = low; *c; c++)
            if (*c >= 'A' && *c <= 'Z')
                *c = (char)(*c - 'A' + 'a');
        json_object_set_new(body, "provider", json_string(low));
        free(low);
        json_object_del(attrs, names[i]);
        return;
    }
}

/* Finish reasons: the conventions' array, OpenLLMetry's
 * gen_ai.completion.N.finish_reason, OpenInference's llm.finish_reason. */
static void
finish_reasons(json_t *attrs, json_t *body)
{
    json_t *fr = json_object_get(attrs, "gen_ai.response.finish_reasons");
    const char *one;
    if (json_is_array(fr)) {
        json_object_set(body, "finish_reasons", fr);
        json_object_del(attrs, "gen_ai.response.finish_reasons");
        return;
    }
    if ((one = take_str(attrs, "llm.finish_reason", NULL, NULL)) != NULL) {
        json_object_set_new(body, "finish_reasons", json_pack("[s]", one));
        json_object_del(attrs, "llm.finish_reason");
        return;
    }
    json_t *all = json_array();
    for (int i = 0; i < 64; i++) {
        char key[64];
        snprintf(key, sizeof key, "gen_ai.completion.%d.finish_reason", i);
        if ((one = take_str(attrs, key, NULL, NULL)) == NULL)
            break;
        json_array_append_new(all, json_string(one));
        json_object_del(attrs, key);
    }
    if (json_array_size(all) > 0)
        json_object_set(body, "finish_reasons", all);
    json_decref(all);
}

/* error.type, and the status message as "reason" (content: an error's
 * text may quote the prompt; without record_content the reason is the
 * error type). 1 when the span failed. */
static int
span_error(struct otlp_mapper *m, const struct otlp_span *sp, json_t *attrs,
           json_t *body)
{
    const char *et = take_str(attrs, "error.type", body, "error_type");
    int failed = sp->status_code == 2 || et != NULL;
    if (failed && m->m->record_content && sp->status_message != NULL &&
        sp->status_message[0])
        json_object_set_new(body, "reason", json_string(sp->status_message));
    else if (failed && et != NULL)
        json_object_set_new(body, "reason", json_string(et));
    return failed;
}

int
otlp_map_span(struct otlp_mapper *m, const struct otlp_scope *sc,
              const struct otlp_span *sp)
{
    char trace[33], span[17], parent[17] = "", id[80];
    const char *op = NULL, *type;
    enum span_class cls;
    json_t *body, *attrs = sp->attrs;
    int rc;

    m->b->items++;
    if ((rc = check_id(m, sp->where, "traceId", sp->trace_id, sp->trace_len, 16,
                       trace)) < 0 ||
        (rc = check_id(m, sp->where, "spanId", sp->span_id, sp->span_len, 8,
                       span)) < 0)
        return rc;
    if (sp->parent_len > 0 &&
        (rc = check_id(m, sp->where, "parentSpanId", sp->parent_id,
                       sp->parent_len, 8, parent)) < 0)
        return rc;
    if (sp->start_ns == 0)
        return otlp_fail(m, LDG_EBADINPUT, "%s.startTimeUnixNano: 0 (not set)",
                         sp->where);
    if (sp->end_ns == 0)
        return otlp_fail(
            m, LDG_EBADINPUT,
            "%s.endTimeUnixNano: 0 (not set: a span is exported once "
            "it has ended)",
            sp->where);
    if (sp->end_ns < sp->start_ns)
        return otlp_fail(m, LDG_EBADINPUT,
                         "%s.endTimeUnixNano: %llu is before startTimeUnixNano "
                         "%llu",
                         sp->where, (unsigned long long)sp->end_ns,
                         (unsigned long long)sp->start_ns);
    if ((rc = check_time(m, sp->where, "startTimeUnixNano", sp->start_ns)) <
            0 ||
        (rc = check_time(m, sp->where, "endTimeUnixNano", sp->end_ns)) < 0)
        return rc;
    if (sp->name == NULL || sp->name[0] == 0)
        return otlp_fail(m, LDG_EBADINPUT, "%s.name: empty", sp->where);

    cls = classify(attrs, &op);
    const char *req = NULL, *resp = NULL;
    json_t *params = NULL; /* (holds req when it came from there) */
    if (cls == SPAN_MODEL) {
        models(attrs, &req, &resp, &params);
        if (req == NULL && resp == NULL) {
            cls = SPAN_OTHER;    /* a route.decision must name its model */
            json_decref(params); /* (only that branch uses it) */
            params = NULL;
        }
    }
    if (cls == SPAN_OTHER && m->m->spans == LDG_OTLP_SPANS_GENAI &&
        op == NULL) {
        m->b->dropped++;
        LDG_ASSERT(m->b->dropped <= m->b->items);
        json_decref(params);
        return 0;
    }
    early_note(m, sp->where, "startTimeUnixNano", sp->start_ns);
    body = json_object();
    if (body == NULL) {
        json_decref(params);
        return otlp_fail(m, LDG_ENOMEM, "out of memory");
    }
    if ((rc = set_run(m, sp->where, attrs, sc, trace, body)) < 0) {
        json_decref(body);
        json_decref(params);
        return rc;
    }
    if (m->m->run_attr != NULL)
        json_object_del(attrs, m->m->run_attr);
    LDG_ASSERT(sp->start_ns <= sp->end_ns);
    double ms = (double)(sp->end_ns - sp->start_ns) / 1e6;

    if (cls == SPAN_MODEL) {
        type = LDG_EV_ROUTE_DECISION;
        if (op != NULL)
            json_object_set_new(body, "operation", json_string(op));
        if (req != NULL)
            json_object_set_new(body, "model_requested", json_string(req));
        json_object_set_new(body, "route", json_string(req ? req : resp));
        json_object_set_new(body, "chosen_model",
                            json_string(resp ? resp : req));
        /* the attributes the fields came from (the dialect's names) */
        static const char *const used[] = {
            "gen_ai.operation.name", "gen_ai.request.model",
            "gen_ai.response.model", "openinference.span.kind",
            "llm.request.type",      "llm.model_name",
            "embedding.model_name",  NULL};
        for (int i = 0; used[i] != NULL; i++)
            json_object_del(attrs, used[i]);
        if (params != NULL && req != NULL &&
            json_object_size(params) == 1) /* only the model: said */
            json_object_del(attrs, "llm.invocation_parameters");
        json_decref(params);
        params = NULL;
        provider(attrs, body);
        take_int(attrs, "gen_ai.usage.input_tokens",
                 "gen_ai.usage.prompt_tokens", body, "tokens_in");
        take_int(attrs, "gen_ai.usage.output_tokens",
                 "gen_ai.usage.completion_tokens", body, "tokens_out");
        take_int(attrs, "llm.token_count.prompt", NULL, body, "tokens_in");
        take_int(attrs, "llm.token_count.completion", NULL, body, "tokens_out");
        json_object_set_new(body, "latency_ms", json_real(ms));
        json_object_set_new(
            body, "outcome",
            json_string(span_error(m, sp, attrs, body) ? "error" : "ok"));
        take_str(attrs, "gen_ai.response.id", body, "response_id");
        take_str(attrs, "gen_ai.conversation.id", body, "conversation_id");
        finish_reasons(attrs, body);
    } else if (cls == SPAN_TOOL) {
        const char *tool;
        type = LDG_EV_RUN_STEP;
        json_object_set_new(body, "step", json_string(sp->name));
        json_object_del(attrs, "gen_ai.operation.name");
        json_object_del(attrs, "openinference.span.kind");
        json_object_del(attrs, "traceloop.span.kind");
        /* the conventions', OpenInference's, OpenLLMetry's SDK's name */
        tool = take_str(attrs, "gen_ai.tool.name", body, "tool");
        if (tool == NULL)
            tool = take_str(attrs, "tool.name", body, "tool");
        if (tool == NULL)
            tool = take_str(attrs, "traceloop.entity.name", body, "tool");
        if (tool == NULL)
            json_object_set_new(body, "tool", json_string(sp->name));
        json_object_set_new(
            body, "status",
            json_string(span_error(m, sp, attrs, body) ? "failed" : "ok"));
        json_object_set_new(body, "duration_ms", json_real(ms));
        if (!take_str(attrs, "gen_ai.tool.call.id", body, "tool_call_id"))
            take_str(attrs, "tool_call.id", body, "tool_call_id");
        take_str(attrs, "gen_ai.tool.type", body, "tool_type");
    } else {
        const char *kn = kind_name(sp->kind);
        type = LDG_EV_OTEL_SPAN;
        json_object_set_new(body, "name", json_string(sp->name));
        if (kn != NULL)
            json_object_set_new(body, "kind", json_string(kn));
        if (op != NULL) {
            json_object_set_new(body, "operation", json_string(op));
            json_object_del(attrs, "gen_ai.operation.name");
        }
        int failed = span_error(m, sp, attrs, body);
        json_object_set_new(body, "status",
                            json_string(failed                 ? "error"
                                        : sp->status_code == 1 ? "ok"
                                                               : "unset"));
        json_object_set_new(body, "duration_ms", json_real(ms));
    }
    json_object_set_new(body, "trace_id", json_string(trace));
    json_object_set_new(body, "span_id", json_string(span));
    if (parent[0])
        json_object_set_new(body, "parent_span_id", json_string(parent));
    common(body, sc, attrs);
    span_events(body, sp->events);
    snprintf(id, sizeof id, "otlp:%s:%s", trace, span);
    return push(m, type, body, id, sp->start_ns);
}

/* -------------------------------------------------------------- logs -- */

int
otlp_map_log(struct otlp_mapper *m, const struct otlp_scope *sc,
             const struct otlp_log *lg)
{
    char trace[33] = "", span[17] = "", id[80], dig[65];
    uint8_t d[32];
    uint64_t t = lg->time_ns ? lg->time_ns : lg->observed_ns;
    json_t *body;
    const char *ename = lg->event_name;
    int rc, genai;

    m->b->items++;
    if (lg->trace_len > 0 &&
        (rc = check_id(m, lg->where, "traceId", lg->trace_id, lg->trace_len, 16,
                       trace)) < 0)
        return rc;
    if (lg->span_len > 0 && (rc = check_id(m, lg->where, "spanId", lg->span_id,
                                           lg->span_len, 8, span)) < 0)
        return rc;
    if (t == 0)
        return otlp_fail(m, LDG_EBADINPUT,
                         "%s: neither timeUnixNano nor observedTimeUnixNano is "
                         "set",
                         lg->where);
    if ((rc = check_time(m, lg->where,
                         lg->time_ns ? "timeUnixNano" : "observedTimeUnixNano",
                         t)) < 0)
        return rc;
    if (lg->severity < 0 || lg->severity > 24)
        return otlp_fail(m, LDG_EBADINPUT,
                         "%s.severityNumber: %d is not 0 to 24", lg->where,
                         lg->severity);
    if (m->m->drop_logs) {
        m->b->dropped++;
        LDG_ASSERT(m->b->dropped <= m->b->items);
        return 0;
    }
    early_note(m, lg->where,
               lg->time_ns ? "timeUnixNano" : "observedTimeUnixNano", t);
    /* The id: the record's own bytes as the ledger reads them (a record
     * sent again is the same record), since a log record has no id. */
    {
        struct ldg_sha256_ctx c;
        char *a = json_dumps(lg->attrs, JSON_COMPACT | JSON_SORT_KEYS);
        char *bd = lg->body
                       ? json_dumps(lg->body, JSON_COMPACT | JSON_SORT_KEYS |
                                                  JSON_ENCODE_ANY)
                       : NULL;
        char head[200];
        int hn = snprintf(head, sizeof head, "%llu %llu %d %s %s %s\n",
                          (unsigned long long)lg->time_ns,
                          (unsigned long long)lg->observed_ns, lg->severity,
                          trace, span, lg->event_name ? lg->event_name : "");
        ldg_sha256_init(&c);
        ldg_sha256_update(&c, head, (size_t)hn);
        if (lg->severity_text && lg->severity_text[0]) /* "" is unset */
            ldg_sha256_update(&c, lg->severity_text,
                              strlen(lg->severity_text) + 1);
        if (a)
            ldg_sha256_update(&c, a, strlen(a) + 1);
        if (bd)
            ldg_sha256_update(&c, bd, strlen(bd));
        ldg_sha256_final(&c, d);
        free(a);
        free(bd);
        if (a == NULL)
            return otlp_fail(m, LDG_ENOMEM, "out of memory");
    }
    ldg_hex(dig, d, 16);
    snprintf(id, sizeof id, "otlp-log:%s", dig);

    body = json_object();
    if (body == NULL)
        return otlp_fail(m, LDG_ENOMEM, "out of memory");
    if ((rc = set_run(m, lg->where, lg->attrs, sc, trace[0] ? trace : NULL,
                      body)) < 0) {
        json_decref(body);
        return rc;
    }
    if (m->m->run_attr != NULL)
        json_object_del(lg->attrs, m->m->run_attr);
    /* an event's name: the record's eventName, or (before that field, and
     * what instrumentation-openai still sends) its event.name attribute */
    if (ename == NULL || ename[0] == 0) {
        ename = json_string_value(json_object_get(lg->attrs, "event.name"));
        if (ename != NULL)
            json_object_set_new(body, "event_name", json_string(ename));
        json_object_del(lg->attrs, "event.name");
        ename = json_string_value(json_object_get(body, "event_name"));
    } else {
        json_object_set_new(body, "event_name", json_string(ename));
    }
    if (lg->severity > 0)
        json_object_set_new(body, "severity", json_integer(lg->severity));
    if (lg->severity_text && lg->severity_text[0])
        json_object_set_new(body, "severity_text",
                            json_string(lg->severity_text));
    if (trace[0])
        json_object_set_new(body, "trace_id", json_string(trace));
    if (span[0])
        json_object_set_new(body, "span_id", json_string(span));
    /* A GenAI event's body is what was said (a message, a choice): kept
     * only with record_content; another record's body is its log line. */
    genai = ename != NULL && strncmp(ename, "gen_ai.", 7) == 0;
    if (lg->body != NULL && !json_is_null(lg->body)) {
        if (m->m->record_content || !genai) {
            size_t sz = text_size(lg->body);
            if (genai && sz > LDG_OTLP_CONTENT_MAX) {
                char note[160];
                snprintf(note, sizeof note,
                         "(not recorded: %zu bytes, over the %zu-byte limit)",
                         sz, (size_t)LDG_OTLP_CONTENT_MAX);
                json_object_set_new(body, "body", json_string(note));
            } else if (!genai && longest(lg->body) > m->lim->value_max) {
                json_decref(body);
                return otlp_fail(m, LDG_EBADINPUT,
                                 "%s.body: a value of more than %zu bytes",
                                 lg->where, m->lim->value_max);
            } else {
                json_object_set(body, "body", lg->body);
            }
        } else {
            json_object_set_new(body, "body_withheld", json_true());
        }
    }
    common(body, sc, lg->attrs);
    return push(m, LDG_EV_OTEL_LOG, body, id, t);
}

/* ------------------------------------------------------------ decode -- */

int
ldg_otlp_decode(struct ldg_otlp_batch **out, enum ldg_otlp_signal sig, int json,
                const void *body, size_t len, const struct ldg_otlp_map *map,
                const struct ldg_otlp_limits *lim, char *err, size_t errcap)
{
    static const struct ldg_otlp_map defaults;
    struct ldg_otlp_limits l;
    struct otlp_mapper m;
    char scratch[2];
    int rc;

    if (out == NULL || (body == NULL && len > 0) ||
        (sig != LDG_OTLP_TRACES && sig != LDG_OTLP_LOGS))
        return LDG_EINVAL;
    *out = NULL;
    otlp_limits_fill(&l, lim);
    memset(&m, 0, sizeof m);
    m.b = otlp_batch_new(sig, 0);
    if (m.b == NULL) {
        if (err != NULL && errcap > 0)
            snprintf(err, errcap, "out of memory");
        return LDG_ENOMEM;
    }
    m.m = map ? map : &defaults;
    m.lim = &l;
    m.now_ns = ldg_now_wall_ns();
    m.err = err ? err : scratch;
    m.errcap = err ? errcap : sizeof scratch;
    m.err[0] = 0;
    rc = json ? otlp_json_decode(&m, sig, body, len)
              : otlp_pb_decode(&m, sig, body, len);
    if (rc < 0) {
        if (m.err[0] == 0)
            snprintf(m.err, m.errcap, "%s", ldg_strerror(rc));
        ldg_otlp_batch_free(m.b);
        return rc;
    }
    *out = m.b;
    return 0;
}
