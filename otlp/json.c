/*
 * json.c — OTLP/JSON (application/json), as the OTLP specification maps
 * the protobuf messages to JSON: keys are the fields' lowerCamelCase
 * names (the proto's own snake_case names are unknown keys, and unknown
 * keys are ignored); trace and span ids are hex strings, not base64;
 * enumerations are integers; 64-bit integers (times, intValue) are
 * decimal strings or numbers; bytesValue is base64; a field may be
 * absent or null for its default.
 *
 * jansson parses the body whole. Before it does, a scan of the text
 * (brackets, commas, string boundaries, the start of a number: no parse)
 * bounds what it will allocate: nesting at most 16 + 4 depth_max, at
 * most as many values as the limits let a protobuf request hold
 * messages, and at most json_mem_max bytes (32 MiB) of jansson's memory
 * by the estimate below, before a byte of it is allocated.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otlp/otlp_int.h"
#include "util/util.h"

/*
 * What jansson 2.14 allocates to parse a text, at most, from what the
 * scan finds. Each allocation is counted as glibc's malloc takes it
 * (CHUNK: the size and its 8-byte header rounded up to 16, at least 32):
 *
 *   {          json_object_t (72 bytes) and its first 8 buckets (128)
 *   [          json_array_t (40) and its first 8 slots (64)
 *   "key":     a member: its pair (56 + the key + 1)
 *   "text"     a string: json_string_t (32) and its text (jansson takes
 *              the raw length + 3: escapes only shorten it)
 *   -1.5e3     json_integer_t or json_real_t (24)
 *   true ...   nothing (jansson shares them)
 *   , { [      one more member or element: 48 bytes of buckets or slots
 *              (an object's buckets double, to at most twice its members
 *              at 16 bytes each, beside the old ones while they are
 *              copied; an array's slots, 8 bytes, alike)
 *
 * and, once, the lexer's buffer (it doubles: at most 3 times the longest
 * token while it grows) and the key being inserted. test_json.c counts
 * jansson's own allocations (json_set_alloc_funcs) and checks that this
 * is above them for texts of every shape.
 */
#define CHUNK(n)                                                               \
    ((size_t)(n) + 8 + 15 < 32 ? (size_t)32 : ((size_t)(n) + 23) & ~(size_t)15)
#define COST_SLOT ((size_t)48)

static int
is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* The scan: values ({, [ and commas), the estimate of jansson's bytes,
 * and where nesting first passed maxd (SIZE_MAX: it did not). */
struct scan {
    size_t values, bytes, deep_at;
};

static void
scan(const char *p, size_t len, size_t maxd, struct scan *sc)
{
    size_t depth = 0, maxtok = 0, run = 0, tok = 0;
    int in_str = 0;

    memset(sc, 0, sizeof *sc);
    sc->deep_at = SIZE_MAX;
    for (size_t i = 0; i < len; i++) {
        char c = p[i];
        if (in_str) {
            if (c == '\\') {
                i++;
            } else if (c == '"') {
                size_t n = i - tok - 1, j = i + 1;
                in_str = 0;
                maxtok = n > maxtok ? n : maxtok;
                while (j < len && is_space(p[j]))
                    j++;
                sc->bytes += j < len && p[j] == ':' ? CHUNK(56 + n + 1)
                                                    : CHUNK(32) + CHUNK(n + 3);
            }
            continue;
        }
        if (c == '"' || c == '{' || c == '[' || c == ',' || c == '}' ||
            c == ']' || c == ':' || is_space(c)) {
            maxtok = run > maxtok ? run : maxtok;
            run = 0;
        } else if (run++ == 0 && (c == '-' || (c >= '0' && c <= '9'))) {
            sc->bytes += CHUNK(24); /* a number begins */
        }
        switch (c) {
        case '"':
            in_str = 1;
            tok = i;
            break;
        case '{':
        case '[':
            if (++depth > maxd && sc->deep_at == SIZE_MAX)
                sc->deep_at = i;
            sc->bytes +=
                c == '{' ? CHUNK(72) + CHUNK(128) : CHUNK(40) + CHUNK(64);
            /* fall through */
        case ',':
            sc->values++;
            sc->bytes += COST_SLOT;
            break;
        case '}':
        case ']':
            if (depth > 0)
                depth--;
            break;
        default:
            break;
        }
    }
    maxtok = run > maxtok ? run : maxtok;
    sc->bytes += 4 * CHUNK(maxtok + 3) + 4096;
}

size_t
otlp_json_cost(const char *p, size_t len)
{
    struct scan sc;
    scan(p, len, SIZE_MAX, &sc);
    return sc.bytes;
}

/* The checks of the file's header comment. */
static int
prescan(struct otlp_mapper *m, const char *p, size_t len)
{
    const struct ldg_otlp_limits *lim = m->lim;
    size_t maxd = 16 + 4 * (size_t)lim->depth_max;
    size_t maxv = 8 * lim->items_max + 8 * lim->attrs_max + 4096;
    struct scan sc;

    scan(p, len, maxd, &sc);
    if (sc.deep_at != SIZE_MAX)
        return otlp_fail(m, LDG_EBADINPUT,
                         "JSON nested more than %zu deep (at byte %zu)", maxd,
                         sc.deep_at);
    if (sc.values > maxv)
        return otlp_fail(m, LDG_ETOOBIG,
                         "more than %zu JSON values in one request", maxv);
    if (sc.bytes > lim->json_mem_max)
        return otlp_fail(
            m, LDG_ETOOBIG,
            "this JSON body would take about %zu MiB to parse, over the %zu "
            "MiB a request may take: send fewer spans or records a request "
            "(the exporter's batch size), or send protobuf, which takes "
            "less",
            (sc.bytes + (1 << 20) - 1) >> 20, lim->json_mem_max >> 20);
    return 0;
}

/* ----------------------------------------------------------- fields -- */

/* obj[key] of the wanted kind, or NULL when absent or null; a present
 * value of another kind is an error (*bad set). */
static json_t *
field(struct otlp_mapper *m, const char *where, json_t *obj, const char *key,
      json_type want, int *bad)
{
    json_t *v = json_object_get(obj, key);
    static const char *const names[] = {"an object",  "an array", "a string",
                                        "an integer", "a number", "a boolean",
                                        "a boolean",  "null"};
    if (v == NULL || json_is_null(v))
        return NULL;
    if (json_typeof(v) == want ||
        (want == JSON_TRUE && (json_is_true(v) || json_is_false(v))) ||
        (want == JSON_REAL && json_is_number(v)))
        return v;
    otlp_fail(m, LDG_EBADINPUT, "%s.%s: not %s", where, key, names[want]);
    *bad = 1;
    return NULL;
}

/* A uint64 field: a decimal string or a non-negative integer. */
static int
u64_field(struct otlp_mapper *m, const char *where, json_t *obj,
          const char *key, uint64_t *out)
{
    json_t *v = json_object_get(obj, key);
    *out = 0;
    if (v == NULL || json_is_null(v))
        return 0;
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = (uint64_t)json_integer_value(v);
        return 0;
    }
    if (json_is_string(v)) {
        if (ldg_parse_u64(json_string_value(v), json_string_length(v), 0,
                          out) == 0)
            return 0;
    }
    return otlp_fail(
        m, LDG_EBADINPUT,
        "%s.%s: not a non-negative 64-bit integer (a decimal string "
        "or number)",
        where, key);
}

/* An enum field: an integer (the specification's JSON writes enums as
 * their numbers). */
static int
enum_field(struct otlp_mapper *m, const char *where, json_t *obj,
           const char *key, int lo, int hi, int *out)
{
    json_t *v = json_object_get(obj, key);
    *out = 0;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < lo ||
        json_integer_value(v) > hi)
        return otlp_fail(m, LDG_EBADINPUT,
                         "%s.%s: not an integer from %d to %d", where, key, lo,
                         hi);
    *out = (int)json_integer_value(v);
    return 0;
}

/* A hex id (traceId, spanId, parentSpanId) into buf (at most 16 bytes);
 * *n its bytes (0: absent or ""). */
static int
hex_field(struct otlp_mapper *m, const char *where, json_t *obj,
          const char *key, uint8_t *buf, size_t *n)
{
    int bad = 0;
    json_t *v = field(m, where, obj, key, JSON_STRING, &bad);
    *n = 0;
    if (bad)
        return LDG_EBADINPUT;
    if (v == NULL || json_string_length(v) == 0)
        return 0;
    size_t len = json_string_length(v);
    if (len % 2 || len > 32)
        return otlp_fail(
            m, LDG_EBADINPUT,
            "%s.%s: %zu hex digits (an id is 16 or 8 bytes, in hex)", where,
            key, len);
    if (ldg_unhex(buf, len / 2, json_string_value(v)) < 0)
        return otlp_fail(m, LDG_EBADINPUT, "%s.%s: not hex", where, key);
    *n = len / 2;
    return 0;
}

static const char *
str_field(struct otlp_mapper *m, const char *where, json_t *obj,
          const char *key, int *bad)
{
    json_t *v = field(m, where, obj, key, JSON_STRING, bad);
    return v ? json_string_value(v) : NULL;
}

/* ------------------------------------------------------------ values -- */

static json_t *any_json(struct otlp_mapper *m, const char *where,
                        const char *key, json_t *v, unsigned depth);

static int
check_base64(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '=' ||
              c == '-' || c == '_'))
            return -1;
    }
    return 0;
}

/* A KeyValue list (values) into an object. */
static json_t *
kvs_json(struct otlp_mapper *m, const char *where, const char *key, json_t *arr,
         unsigned depth, int attrs)
{
    json_t *o = json_object(), *kv;
    size_t i;
    if (o == NULL)
        return NULL;
    json_array_foreach(arr, i, kv)
    {
        int bad = 0;
        if (otlp_attr_count(m, where) < 0)
            goto bad;
        if (!json_is_object(kv)) {
            otlp_fail(m, LDG_EBADINPUT, "%s.%s[%zu]: not a KeyValue object",
                      where, key ? key : "attributes", i);
            goto bad;
        }
        const char *k = str_field(m, where, kv, "key", &bad);
        if (bad)
            goto bad;
        if (k == NULL)
            k = "";
        size_t kl = json_string_length(json_object_get(kv, "key"));
        if (attrs && !m->m->record_content && otlp_content_attr(m, k, kl))
            continue;
        json_t *v = any_json(m, where, attrs ? k : key,
                             json_object_get(kv, "value"), depth);
        if (v == NULL)
            goto bad;
        if (attrs) {
            if (otlp_attr_put(m, o, where, k, kl, v) < 0)
                goto bad;
        } else if (kl == 0) {
            json_decref(v);
            otlp_fail(m, LDG_EBADINPUT,
                      "%s.attributes[\"%s\"]: an empty map key", where,
                      key ? key : "");
            goto bad;
        } else if (json_object_setn_new(o, k, kl, v) < 0) {
            goto bad;
        }
    }
    return o;
bad:
    json_decref(o);
    return NULL;
}

static json_t *
any_json(struct otlp_mapper *m, const char *where, const char *key, json_t *v,
         unsigned depth)
{
    json_t *x;
    int bad = 0;
    const char *k = key ? key : "";

    if (v == NULL || json_is_null(v))
        return json_null();
    if (!json_is_object(v)) {
        otlp_fail(m, LDG_EBADINPUT,
                  "%s.attributes[\"%s\"]: not an AnyValue object", where, k);
        return NULL;
    }
    /* AnyValue's value is a oneof: the protobuf JSON mapping refuses two
     * of its fields set (taking one would drop the other unsaid) */
    static const char *const kinds[] = {
        "stringValue", "boolValue",  "intValue",   "doubleValue",
        "bytesValue",  "arrayValue", "kvlistValue"};
    const char *first = NULL;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        if ((x = json_object_get(v, kinds[i])) == NULL || json_is_null(x))
            continue;
        if (first != NULL) {
            otlp_fail(
                m, LDG_EBADINPUT,
                "%s.attributes[\"%s\"]: both %s and %s (an AnyValue holds "
                "one value)",
                where, k, first, kinds[i]);
            return NULL;
        }
        first = kinds[i];
    }
    if ((x = json_object_get(v, "stringValue")) != NULL && !json_is_null(x)) {
        if (!json_is_string(x))
            goto wrong;
        return json_incref(x);
    }
    if ((x = json_object_get(v, "boolValue")) != NULL && !json_is_null(x)) {
        if (!json_is_boolean(x))
            goto wrong;
        return json_incref(x);
    }
    if ((x = json_object_get(v, "intValue")) != NULL && !json_is_null(x)) {
        if (json_is_integer(x))
            return json_incref(x);
        if (json_is_string(x)) {
            const char *s = json_string_value(x);
            char *end;
            errno = 0;
            long long ll = strtoll(s, &end, 10);
            if (s[0] != 0 && *end == 0 && errno == 0 && s[0] != ' ' &&
                s[0] != '+')
                return json_integer((json_int_t)ll);
        }
        goto wrong;
    }
    if ((x = json_object_get(v, "doubleValue")) != NULL && !json_is_null(x)) {
        if (json_is_number(x))
            return json_real(json_number_value(x));
        if (json_is_string(x) &&
            (strcmp(json_string_value(x), "NaN") == 0 ||
             strcmp(json_string_value(x), "Infinity") == 0 ||
             strcmp(json_string_value(x), "-Infinity") == 0))
            return json_incref(x);
        goto wrong;
    }
    if ((x = json_object_get(v, "bytesValue")) != NULL && !json_is_null(x)) {
        if (!json_is_string(x) ||
            check_base64(json_string_value(x), json_string_length(x)) < 0)
            goto wrong;
        return json_incref(x);
    }
    json_t *av = field(m, where, v, "arrayValue", JSON_OBJECT, &bad);
    json_t *kl =
        bad ? NULL : field(m, where, v, "kvlistValue", JSON_OBJECT, &bad);
    if (bad)
        return NULL;
    if (av == NULL && kl == NULL)
        return json_null(); /* {}: an empty value */
    if (depth + 1 > m->lim->depth_max) {
        otlp_fail(m, LDG_EBADINPUT,
                  "%s.attributes[\"%s\"]: nested more than %u deep", where, k,
                  m->lim->depth_max);
        return NULL;
    }
    json_t *vals = field(m, where, av ? av : kl, "values", JSON_ARRAY, &bad);
    if (bad)
        return NULL;
    if (kl != NULL)
        return kvs_json(m, where, key, vals, depth + 1, 0);
    json_t *a = json_array(), *e;
    size_t i;
    json_array_foreach(vals, i, e)
    {
        if (otlp_attr_count(m, where) < 0) {
            json_decref(a);
            return NULL;
        }
        json_t *y = any_json(m, where, key, e, depth + 1);
        if (y == NULL || json_array_append_new(a, y) < 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
wrong:
    otlp_fail(
        m, LDG_EBADINPUT,
        "%s.attributes[\"%s\"]: a value of the wrong JSON type for its field",
        where, k);
    return NULL;
}

static json_t *
attrs_json(struct otlp_mapper *m, const char *where, json_t *obj)
{
    int bad = 0;
    json_t *arr = field(m, where, obj, "attributes", JSON_ARRAY, &bad);
    if (bad)
        return NULL;
    return kvs_json(m, where, NULL, arr, 0, 1);
}

static int
scope_of(struct otlp_mapper *m, const char *where, json_t *rs, json_t *ss,
         struct otlp_scope *sc)
{
    int bad = 0;
    json_t *res = field(m, where, rs, "resource", JSON_OBJECT, &bad);
    json_t *scope =
        bad ? NULL : field(m, where, ss, "scope", JSON_OBJECT, &bad);
    memset(sc, 0, sizeof *sc);
    if (bad)
        return LDG_EBADINPUT;
    sc->resource = res ? attrs_json(m, where, res) : json_object();
    if (sc->resource == NULL)
        return m->rc ? m->rc : LDG_ENOMEM;
    sc->service =
        json_string_value(json_object_get(sc->resource, "service.name"));
    sc->scope = scope ? str_field(m, where, scope, "name", &bad) : NULL;
    if (bad) {
        json_decref(sc->resource);
        sc->resource = NULL;
        return LDG_EBADINPUT;
    }
    return 0;
}

/* ------------------------------------------------------------- spans -- */

static int
span_events(struct otlp_mapper *m, const char *where, json_t *s, json_t **out)
{
    char t[64];
    int bad = 0;
    json_t *arr = field(m, where, s, "events", JSON_ARRAY, &bad), *e;
    size_t i;
    *out = NULL;
    if (bad)
        return LDG_EBADINPUT;
    if (json_array_size(arr) == 0)
        return 0;
    json_t *a = json_array();
    json_array_foreach(arr, i, e)
    {
        uint64_t tm;
        if (!json_is_object(e)) {
            json_decref(a);
            return otlp_fail(m, LDG_EBADINPUT, "%s.events[%zu]: not an object",
                             where, i);
        }
        const char *name = str_field(m, where, e, "name", &bad);
        m->event = name;
        json_t *at = bad ? NULL : attrs_json(m, where, e);
        m->event = NULL;
        char w2[200];
        snprintf(w2, sizeof w2, "%s.events[%zu]", where, i);
        if (bad || at == NULL || u64_field(m, w2, e, "timeUnixNano", &tm) < 0 ||
            otlp_time_check(m, w2, "timeUnixNano", tm) < 0) {
            json_decref(at);
            json_decref(a);
            return LDG_EBADINPUT;
        }
        json_t *ev = json_object();
        json_object_set_new(ev, "name", json_string(name ? name : ""));
        if (tm > 0)
            json_object_set_new(
                ev, "time", json_string(ldg_time_rfc3339_ns(t, sizeof t, tm)));
        if (json_object_size(at) > 0)
            json_object_set_new(ev, "attributes", at);
        else
            json_decref(at);
        json_array_append_new(a, ev);
    }
    *out = a;
    return 0;
}

static int
one_span(struct otlp_mapper *m, const char *where, const struct otlp_scope *sc,
         json_t *s)
{
    struct otlp_span v;
    uint8_t tid[16], sid[16], pid[16];
    json_t *st;
    int bad = 0, rc;

    memset(&v, 0, sizeof v);
    v.where = where;
    if (!json_is_object(s))
        return otlp_fail(m, LDG_EBADINPUT, "%s: not a Span object", where);
    if ((rc = hex_field(m, where, s, "traceId", tid, &v.trace_len)) < 0 ||
        (rc = hex_field(m, where, s, "spanId", sid, &v.span_len)) < 0 ||
        (rc = hex_field(m, where, s, "parentSpanId", pid, &v.parent_len)) < 0 ||
        (rc = enum_field(m, where, s, "kind", 0, 5, &v.kind)) < 0 ||
        (rc = u64_field(m, where, s, "startTimeUnixNano", &v.start_ns)) < 0 ||
        (rc = u64_field(m, where, s, "endTimeUnixNano", &v.end_ns)) < 0)
        return rc;
    v.trace_id = tid;
    v.span_id = sid;
    v.parent_id = pid;
    v.name = str_field(m, where, s, "name", &bad);
    st = bad ? NULL : field(m, where, s, "status", JSON_OBJECT, &bad);
    if (bad)
        return LDG_EBADINPUT;
    if (st != NULL) {
        char w2[200];
        snprintf(w2, sizeof w2, "%s.status", where);
        if ((rc = enum_field(m, w2, st, "code", 0, 2, &v.status_code)) < 0)
            return rc;
        v.status_message = str_field(m, w2, st, "message", &bad);
        if (bad)
            return LDG_EBADINPUT;
    }
    v.attrs = attrs_json(m, where, s);
    if (v.attrs == NULL)
        return m->rc ? m->rc : LDG_ENOMEM;
    if ((rc = span_events(m, where, s, &v.events)) == 0)
        rc = otlp_map_span(m, sc, &v);
    json_decref(v.attrs);
    json_decref(v.events);
    return rc;
}

static int
one_log(struct otlp_mapper *m, const char *where, const struct otlp_scope *sc,
        json_t *r)
{
    struct otlp_log v;
    uint8_t tid[16], sid[16];
    int bad = 0, rc;

    memset(&v, 0, sizeof v);
    v.where = where;
    if (!json_is_object(r))
        return otlp_fail(m, LDG_EBADINPUT, "%s: not a LogRecord object", where);
    if ((rc = hex_field(m, where, r, "traceId", tid, &v.trace_len)) < 0 ||
        (rc = hex_field(m, where, r, "spanId", sid, &v.span_len)) < 0 ||
        (rc = enum_field(m, where, r, "severityNumber", 0, 24, &v.severity)) <
            0 ||
        (rc = u64_field(m, where, r, "timeUnixNano", &v.time_ns)) < 0 ||
        (rc = u64_field(m, where, r, "observedTimeUnixNano", &v.observed_ns)) <
            0)
        return rc;
    v.trace_id = tid;
    v.span_id = sid;
    v.severity_text = str_field(m, where, r, "severityText", &bad);
    v.event_name = bad ? NULL : str_field(m, where, r, "eventName", &bad);
    if (bad)
        return LDG_EBADINPUT;
    v.attrs = attrs_json(m, where, r);
    if (v.attrs == NULL)
        return m->rc ? m->rc : LDG_ENOMEM;
    json_t *b = json_object_get(r, "body");
    if (b != NULL && !json_is_null(b)) {
        /* (a GenAI event's body is content: the mapper withholds it, but
         * the record's id is made of it too) */
        v.body = any_json(m, where, "body", b, 0);
        if (v.body == NULL) {
            json_decref(v.attrs);
            return m->rc ? m->rc : LDG_ENOMEM;
        }
    }
    rc = otlp_map_log(m, sc, &v);
    json_decref(v.attrs);
    json_decref(v.body);
    return rc;
}

/* ------------------------------------------------------------ decode -- */

int
otlp_json_decode(struct otlp_mapper *m, enum ldg_otlp_signal sig,
                 const void *body, size_t len)
{
    const char *outer =
        sig == LDG_OTLP_TRACES ? "resourceSpans" : "resourceLogs";
    const char *inner = sig == LDG_OTLP_TRACES ? "scopeSpans" : "scopeLogs";
    const char *items = sig == LDG_OTLP_TRACES ? "spans" : "logRecords";
    json_error_t je;
    json_t *root, *rl, *r, *sl, *s, *il, *it;
    size_t i, j, k, n = 0;
    char where[160];
    int rc = 0, bad = 0;

    if (len == 0)
        return 0; /* no telemetry: the specification's empty request */
    if ((rc = prescan(m, body, len)) < 0)
        return rc;
    root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL && strstr(je.text, "JSON_ALLOW_NUL") != NULL)
        return otlp_fail(
            m, LDG_EBADINPUT,
            "JSON: line %d, column %d: a NUL (\\u0000) in a string "
            "(text may not hold one)",
            je.line, je.column);
    if (root == NULL)
        return otlp_fail(m, LDG_EBADINPUT, "JSON: line %d, column %d: %s",
                         je.line, je.column, je.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return otlp_fail(
            m, LDG_EBADINPUT,
            "JSON: the body is not an object (an Export%sServiceRequest)",
            sig == LDG_OTLP_TRACES ? "Trace" : "Logs");
    }
    if (json_object_get(root, outer) == NULL) {
        /* the key of another signal: sent to the wrong path, not a request
         * without telemetry */
        const char *other =
            sig == LDG_OTLP_TRACES ? "resourceLogs" : "resourceSpans";
        const char *why = sig == LDG_OTLP_TRACES ? "log records go to /v1/logs"
                                                 : "spans go to /v1/traces";
        if (json_object_get(root, other) == NULL) {
            other = "resourceMetrics";
            why = "metrics are not taken here (only traces and logs)";
        }
        if (json_object_get(root, other) != NULL) {
            json_decref(root);
            return otlp_fail(m, LDG_EBADINPUT, "request: %s, not %s: %s", other,
                             outer, why);
        }
    }
    rl = field(m, "request", root, outer, JSON_ARRAY, &bad);
    /* the items, counted before anything is mapped (items_max) */
    json_array_foreach(rl, i, r)
    {
        json_t *l = json_is_object(r) ? json_object_get(r, inner) : NULL;
        json_array_foreach(l, j, s)
        {
            json_t *x = json_is_object(s) ? json_object_get(s, items) : NULL;
            n += json_array_size(x);
        }
    }
    if (n > m->lim->items_max) {
        json_decref(root);
        return otlp_fail(m, LDG_ETOOBIG, "more than %zu %s in one request",
                         m->lim->items_max,
                         sig == LDG_OTLP_TRACES ? "spans" : "log records");
    }
    json_array_foreach(rl, i, r)
    {
        snprintf(where, sizeof where, "%s[%zu]", outer, i);
        if (!json_is_object(r)) {
            rc = otlp_fail(m, LDG_EBADINPUT, "%s: not an object", where);
            break;
        }
        sl = field(m, where, r, inner, JSON_ARRAY, &bad);
        if (bad) {
            rc = LDG_EBADINPUT;
            break;
        }
        json_array_foreach(sl, j, s)
        {
            struct otlp_scope sc;
            snprintf(where, sizeof where, "%s[%zu].%s[%zu]", outer, i, inner,
                     j);
            if (!json_is_object(s)) {
                rc = otlp_fail(m, LDG_EBADINPUT, "%s: not an object", where);
                break;
            }
            if ((rc = scope_of(m, where, r, s, &sc)) < 0)
                break;
            il = field(m, where, s, items, JSON_ARRAY, &bad);
            if (bad)
                rc = LDG_EBADINPUT;
            json_array_foreach(il, k, it)
            {
                if (rc < 0)
                    break;
                snprintf(where, sizeof where, "%s[%zu].%s[%zu].%s[%zu]", outer,
                         i, inner, j, items, k);
                rc = sig == LDG_OTLP_TRACES ? one_span(m, where, &sc, it)
                                            : one_log(m, where, &sc, it);
            }
            json_decref(sc.resource);
            if (rc < 0)
                break;
        }
        if (rc < 0)
            break;
    }
    if (bad && rc == 0)
        rc = LDG_EBADINPUT;
    json_decref(root);
    return rc;
}
