/*
 * pb.c — OTLP's protobuf encoding (application/x-protobuf), the one file
 * of the project that calls protobuf-c (otlp.pb-c.[ch], generated from
 * otlp.proto by `make proto`).
 *
 * protobuf-c unpacks a message whole, recursing into submessages and
 * allocating as it goes, with no limit of its own. So before it runs, a
 * walk of the wire format (prescan), guided by the same descriptors,
 * checks what it will meet: every length inside its parent, messages
 * nested at most 8 + 3 depth_max deep (the request's own levels, then
 * values in arrays and maps), at most items_max spans or log records and
 * attrs_max attributes and array values, and no string field holding a
 * NUL (protobuf-c hands strings out NUL-terminated: the text after it
 * would be lost without a word; the refusal names the field by its
 * OTLP/JSON path). The unpack then allocates from
 * an arena whose budget follows from those counts (the body's bytes plus
 * a bounded size per message): past it protobuf-c is told no memory, and
 * the request is refused. One free drops it all.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/module.h"
#include "otlp/otlp.pb-c.h"
#include "otlp/otlp_int.h"
#include "util/util.h"

/* ------------------------------------------------------------- arena -- */

struct chunk {
    struct chunk *next;
    size_t cap, used;
    max_align_t data[];
};

struct arena {
    struct chunk *head;
    size_t total, budget;
};

#define CHUNK_MIN ((size_t)64 << 10)

static void *
arena_alloc(void *ad, size_t n)
{
    struct arena *a = ad;
    struct chunk *c = a->head;
    size_t need = (n + 15) & ~(size_t)15;

    if (need < n || a->total + need > a->budget)
        return NULL; /* over the budget: protobuf-c fails the unpack */
    if (c == NULL || c->cap - c->used < need) {
        size_t cap = need > CHUNK_MIN ? need : CHUNK_MIN;
        c = malloc(sizeof *c + cap);
        if (c == NULL)
            return NULL;
        c->cap = cap;
        c->used = 0;
        c->next = a->head;
        a->head = c;
    }
    LDG_ASSERT(c->used + need <= c->cap && need % 16 == 0);
    void *p = (char *)c->data + c->used;
    c->used += need;
    a->total += need;
    LDG_ASSERT(a->total <= a->budget);
    return p;
}

static void
arena_free(void *ad, void *p)
{
    (void)ad;
    (void)p; /* all at once, in arena_release */
}

static void
arena_release(struct arena *a)
{
    struct chunk *c, *nx;
    for (c = a->head; c != NULL; c = nx) {
        nx = c->next;
        free(c);
    }
    a->head = NULL;
}

/* ----------------------------------------------------------- prescan -- */

/* A message's bytes at most: the largest struct protobuf-c makes here
 * (Span), a pointer to it in its parent's array, and the arena's
 * rounding. */
#define MSG_COST 320

struct frame {
    const ProtobufCMessageDescriptor *d;
    size_t start, end; /* the message's bytes */
    /* how its parent holds it: the field, and where its tag is */
    const ProtobufCFieldDescriptor *f;
    size_t tag_at;
};

static int
varint(const uint8_t *p, size_t end, size_t *pos, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (*pos >= end)
            return -1;
        uint8_t b = p[(*pos)++];
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

/* Skips the field whose tag is at *pos (bytes the prescan has checked). */
static int
skip_field(const uint8_t *p, size_t end, size_t *pos, uint32_t *fn)
{
    uint64_t tag, n;
    if (varint(p, end, pos, &tag) < 0)
        return -1;
    *fn = (uint32_t)(tag >> 3);
    switch (tag & 7) {
    case 0:
        return varint(p, end, pos, &n);
    case 1:
        *pos += 8;
        return *pos <= end ? 0 : -1;
    case 5:
        *pos += 4;
        return *pos <= end ? 0 : -1;
    case 2:
        if (varint(p, end, pos, &n) < 0 || n > end - *pos)
            return -1;
        *pos += (size_t)n;
        return 0;
    default:
        return -1;
    }
}

/* Appends a field's name as OTLP/JSON writes it (lowerCamelCase) and,
 * for a repeated field, its index. */
static void
path_add(char *b, size_t cap, const ProtobufCFieldDescriptor *f, long idx)
{
    size_t k = strlen(b);
    if (k > 0 && k + 1 < cap)
        b[k++] = '.';
    for (const char *c = f->name; *c && k + 1 < cap; c++) {
        if (*c == '_' && c[1] >= 'a' && c[1] <= 'z') {
            b[k++] = (char)(c[1] - 'a' + 'A');
            c++;
        } else {
            b[k++] = *c;
        }
    }
    LDG_ASSERT(k < cap);
    b[k] = 0;
    if (idx >= 0)
        snprintf(b + k, cap - k, "[%ld]", idx);
}

/* The path of field f whose tag is at tag_at in the message st[top]
 * ("resourceSpans[0].scopeSpans[1].spans[3].name"), in OTLP/JSON's names:
 * the index of each repeated one counted again from its parent's start
 * (this runs only for a refusal). */
static void
path_of(const uint8_t *p, const struct frame *st, int top,
        const ProtobufCFieldDescriptor *f, size_t tag_at, char *b, size_t cap)
{
    b[0] = 0;
    for (int i = 1; i <= top + 1; i++) {
        const ProtobufCFieldDescriptor *fi = i <= top ? st[i].f : f;
        size_t at = i <= top ? st[i].tag_at : tag_at;
        long idx = -1;
        if (fi->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t pos = st[i - 1].start;
            uint32_t fn;
            idx = 0;
            while (pos < at && skip_field(p, st[i - 1].end, &pos, &fn) == 0)
                if (fn == fi->id)
                    idx++;
        }
        path_add(b, cap, fi, idx);
    }
}

/* Walks the wire format of a root message; *msgs the submessages it
 * holds. The checks of the file's header comment. */
static int
prescan(struct otlp_mapper *m, const ProtobufCMessageDescriptor *root,
        const uint8_t *p, size_t len, size_t *msgs)
{
    const struct ldg_otlp_limits *lim = m->lim;
    unsigned maxd = 8 + 3 * lim->depth_max;
    struct frame st[8 + 3 * 64 + 1];
    size_t pos = 0, items = 0, attrs = 0;
    int top = 0;

    if (maxd > sizeof st / sizeof st[0] - 1)
        maxd = sizeof st / sizeof st[0] - 1;
    *msgs = 0;
    memset(&st[0], 0, sizeof st[0]);
    st[0].d = root;
    st[0].end = len;
    for (;;) {
        while (top >= 0 && pos == st[top].end)
            top--;
        if (top < 0)
            break;
        const ProtobufCMessageDescriptor *d = st[top].d;
        size_t end = st[top].end, at = pos;
        LDG_ASSERT(pos < end);
        uint64_t tag, n;
        if (varint(p, end, &pos, &tag) < 0)
            return otlp_fail(m, LDG_EBADINPUT,
                             "protobuf: a field tag cut short at byte %zu", at);
        uint32_t fn = (uint32_t)(tag >> 3);
        unsigned wt = (unsigned)(tag & 7);
        if (fn == 0 || tag >> 3 > 0x1fffffff)
            return otlp_fail(m, LDG_EBADINPUT,
                             "protobuf: field number %llu at byte %zu",
                             (unsigned long long)(tag >> 3), at);
        switch (wt) {
        case 0:
            if (varint(p, end, &pos, &n) < 0)
                return otlp_fail(m, LDG_EBADINPUT,
                                 "protobuf: a varint cut short at byte %zu",
                                 at);
            break;
        case 1:
        case 5: {
            size_t w = wt == 1 ? 8 : 4;
            if (end - pos < w)
                return otlp_fail(
                    m, LDG_EBADINPUT,
                    "protobuf: a fixed field cut short at byte %zu", at);
            pos += w;
            break;
        }
        case 2: {
            if (varint(p, end, &pos, &n) < 0 || n > end - pos)
                return otlp_fail(m, LDG_EBADINPUT,
                                 "protobuf: field %u of %s at byte %zu: its "
                                 "length runs past the end of %s",
                                 fn, d->short_name, at,
                                 top ? "its message" : "the body");
            const ProtobufCFieldDescriptor *f =
                protobuf_c_message_descriptor_get_field(d, fn);
            if (f != NULL && f->type == PROTOBUF_C_TYPE_STRING &&
                memchr(p + pos, 0, (size_t)n) != NULL) {
                /* protobuf-c hands strings out NUL-terminated: the text
                 * after a NUL would be lost without a word */
                char path[256];
                path_of(p, st, top, f, at, path, sizeof path);
                return otlp_fail(
                    m, LDG_EBADINPUT,
                    "%s: a NUL byte at byte %zu of the string (text "
                    "may not hold one)",
                    path,
                    (size_t)((const uint8_t *)memchr(p + pos, 0, (size_t)n) -
                             (p + pos)));
            }
            if (f == NULL || f->type != PROTOBUF_C_TYPE_MESSAGE) {
                pos += n; /* a string, bytes, packed or unknown field */
                break;
            }
            const ProtobufCMessageDescriptor *sub = f->descriptor;
            if ((unsigned)top + 1 > maxd)
                return otlp_fail(m, LDG_EBADINPUT,
                                 "protobuf: values nested more than %u deep",
                                 lim->depth_max);
            ++*msgs;
            if (sub == &ldg_otlp__span__descriptor ||
                sub == &ldg_otlp__log_record__descriptor) {
                if (++items > lim->items_max)
                    return otlp_fail(
                        m, LDG_ETOOBIG, "more than %zu %s in one request",
                        lim->items_max,
                        sub == &ldg_otlp__span__descriptor ? "spans"
                                                           : "log records");
            } else if (sub == &ldg_otlp__key_value__descriptor ||
                       (sub == &ldg_otlp__any_value__descriptor &&
                        d == &ldg_otlp__array_value__descriptor)) {
                if (++attrs > lim->attrs_max)
                    return otlp_fail(m, LDG_ETOOBIG,
                                     "more than %zu attributes in one request",
                                     lim->attrs_max);
            }
            top++;
            st[top].d = sub;
            st[top].start = pos;
            st[top].end = pos + (size_t)n;
            st[top].f = f;
            st[top].tag_at = at;
            LDG_ASSERT(st[top].end <= st[top - 1].end && (unsigned)top <= maxd);
            break;
        }
        default:
            return otlp_fail(m, LDG_EBADINPUT,
                             "protobuf: wire type %u at byte %zu (not proto3)",
                             wt, at);
        }
        if (pos > end)
            return otlp_fail(m, LDG_EBADINPUT, "protobuf: a field runs past %s",
                             top ? "its message" : "the body");
    }
    /* messages other than spans, records, attributes and array values
     * (resources, scopes, events, links, statuses, lists) are bounded by
     * these: at most a few per span or attribute */
    if (*msgs > 8 * lim->items_max + 4 * lim->attrs_max + 4096)
        return otlp_fail(m, LDG_ETOOBIG,
                         "%zu messages in one request: more than its %zu spans "
                         "or records and %zu attributes can hold",
                         *msgs, items, attrs);
    return 0;
}

/* ------------------------------------------------------------ values -- */

static json_t *
any_json(struct otlp_mapper *m, const char *where, const char *key,
         const LdgOtlp__AnyValue *v, unsigned depth)
{
    if (v == NULL)
        return json_null();
    switch (v->value_case) {
    case LDG_OTLP__ANY_VALUE__VALUE_STRING_VALUE:
        return otlp_str(m, where, key, v->string_value,
                        strlen(v->string_value));
    case LDG_OTLP__ANY_VALUE__VALUE_BOOL_VALUE:
        return json_boolean(v->bool_value);
    case LDG_OTLP__ANY_VALUE__VALUE_INT_VALUE:
        return json_integer((json_int_t)v->int_value);
    case LDG_OTLP__ANY_VALUE__VALUE_DOUBLE_VALUE:
        if (isnan(v->double_value))
            return json_string("NaN");
        if (isinf(v->double_value))
            return json_string(v->double_value > 0 ? "Infinity" : "-Infinity");
        return json_real(v->double_value);
    case LDG_OTLP__ANY_VALUE__VALUE_BYTES_VALUE: {
        /* as protobuf's JSON mapping writes bytes: base64 */
        size_t n = v->bytes_value.len;
        if (n > m->lim->value_max) {
            otlp_fail(m, LDG_EBADINPUT,
                      "%s.attributes[\"%s\"]: a value of more than %zu bytes",
                      where, key ? key : "", m->lim->value_max);
            return NULL;
        }
        char *b = malloc((n + 2) / 3 * 4 + 1);
        if (b == NULL)
            return NULL;
        ldg_base64(b, v->bytes_value.data, n);
        json_t *s = json_string(b);
        free(b);
        return s;
    }
    case LDG_OTLP__ANY_VALUE__VALUE_ARRAY_VALUE:
    case LDG_OTLP__ANY_VALUE__VALUE_KVLIST_VALUE:
        break;
    default:
        return json_null(); /* not set: an empty value */
    }
    if (depth + 1 > m->lim->depth_max) {
        otlp_fail(m, LDG_EBADINPUT,
                  "%s.attributes[\"%s\"]: nested more than %u deep", where,
                  key ? key : "", m->lim->depth_max);
        return NULL;
    }
    if (v->value_case == LDG_OTLP__ANY_VALUE__VALUE_ARRAY_VALUE) {
        json_t *a = json_array();
        const LdgOtlp__ArrayValue *av = v->array_value;
        for (size_t i = 0; a && av && i < av->n_values; i++) {
            json_t *x = any_json(m, where, key, av->values[i], depth + 1);
            if (x == NULL || json_array_append_new(a, x) < 0) {
                json_decref(a);
                return NULL;
            }
        }
        return a;
    }
    json_t *o = json_object();
    const LdgOtlp__KeyValueList *kl = v->kvlist_value;
    for (size_t i = 0; o && kl && i < kl->n_values; i++) {
        const LdgOtlp__KeyValue *kv = kl->values[i];
        json_t *x = any_json(m, where, key, kv->value, depth + 1);
        if (x == NULL ||
            json_object_setn_new(o, kv->key, strlen(kv->key), x) < 0) {
            if (x != NULL)
                otlp_fail(m, LDG_EBADINPUT,
                          "%s.attributes[\"%s\"]: a map key that is not UTF-8",
                          where, key ? key : "");
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

/* attrs (n of them) into a new object; NULL with m->err. */
static json_t *
attrs_json(struct otlp_mapper *m, const char *where,
           LdgOtlp__KeyValue *const *kvs, size_t n)
{
    json_t *o = json_object();
    if (o == NULL) {
        otlp_fail(m, LDG_ENOMEM, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        const char *k = kvs[i]->key;
        size_t kl = strlen(k);
        if (otlp_attr_count(m, where) < 0)
            goto bad;
        /* content is not even converted unless it is recorded */
        if (!m->m->record_content && otlp_content_attr(m, k, kl))
            continue;
        json_t *v = any_json(m, where, k, kvs[i]->value, 0);
        if (v == NULL) {
            if (m->err[0] == 0)
                otlp_fail(m, LDG_ENOMEM, "out of memory");
            goto bad;
        }
        if (otlp_attr_put(m, o, where, k, kl, v) < 0)
            goto bad;
    }
    return o;
bad:
    json_decref(o);
    return NULL;
}

/* The resource's attributes, service.name and the scope's name. */
static int
scope_of(struct otlp_mapper *m, const char *where, const LdgOtlp__Resource *r,
         const LdgOtlp__InstrumentationScope *is, struct otlp_scope *sc)
{
    memset(sc, 0, sizeof *sc);
    sc->resource =
        attrs_json(m, where, r ? r->attributes : NULL, r ? r->n_attributes : 0);
    if (sc->resource == NULL)
        return m->rc ? m->rc : LDG_ENOMEM;
    sc->service =
        json_string_value(json_object_get(sc->resource, "service.name"));
    if (is != NULL && is->name != NULL && is->name[0]) {
        json_t *s = json_string(is->name);
        if (s == NULL) {
            json_decref(sc->resource);
            sc->resource = NULL;
            return otlp_fail(m, LDG_EBADINPUT, "%s.scope.name: not UTF-8 text",
                             where);
        }
        json_decref(s);
        sc->scope = is->name;
    }
    return 0;
}

/* ------------------------------------------------------------- spans -- */

static int
span_events(struct otlp_mapper *m, const char *where, const LdgOtlp__Span *s,
            json_t **out)
{
    char t[64];
    *out = NULL;
    if (s->n_events == 0)
        return 0;
    json_t *a = json_array();
    for (size_t i = 0; a && i < s->n_events; i++) {
        const LdgOtlp__Span__Event *e = s->events[i];
        json_t *ev = json_object(), *name;
        m->event = e->name;
        json_t *at = attrs_json(m, where, e->attributes, e->n_attributes);
        m->event = NULL;
        char w2[200];
        snprintf(w2, sizeof w2, "%s.events[%zu]", where, i);
        name = otlp_str(m, w2, "name", e->name, strlen(e->name));
        if (ev == NULL || at == NULL || name == NULL ||
            otlp_time_check(m, w2, "timeUnixNano", e->time_unix_nano) < 0) {
            json_decref(ev);
            json_decref(at);
            json_decref(name);
            json_decref(a);
            return m->rc ? m->rc : LDG_ENOMEM;
        }
        json_object_set_new(ev, "name", name);
        if (e->time_unix_nano > 0)
            json_object_set_new(ev, "time",
                                json_string(ldg_time_rfc3339_ns(
                                    t, sizeof t, e->time_unix_nano)));
        if (json_object_size(at) > 0)
            json_object_set_new(ev, "attributes", at);
        else
            json_decref(at);
        json_array_append_new(a, ev);
    }
    if (a == NULL)
        return otlp_fail(m, LDG_ENOMEM, "out of memory");
    *out = a;
    return 0;
}

static int
map_spans(struct otlp_mapper *m, const LdgOtlp__ExportTraceServiceRequest *rq)
{
    char where[128];
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < rq->n_resource_spans; i++) {
        const LdgOtlp__ResourceSpans *rs = rq->resource_spans[i];
        for (size_t j = 0; rc == 0 && j < rs->n_scope_spans; j++) {
            const LdgOtlp__ScopeSpans *ss = rs->scope_spans[j];
            struct otlp_scope sc;
            snprintf(where, sizeof where, "resourceSpans[%zu].scopeSpans[%zu]",
                     i, j);
            if ((rc = scope_of(m, where, rs->resource, ss->scope, &sc)) < 0)
                break;
            for (size_t k = 0; rc == 0 && k < ss->n_spans; k++) {
                const LdgOtlp__Span *s = ss->spans[k];
                struct otlp_span v;
                memset(&v, 0, sizeof v);
                snprintf(where, sizeof where,
                         "resourceSpans[%zu].scopeSpans[%zu].spans[%zu]", i, j,
                         k);
                v.where = where;
                v.trace_id = s->trace_id.data;
                v.trace_len = s->trace_id.len;
                v.span_id = s->span_id.data;
                v.span_len = s->span_id.len;
                v.parent_id = s->parent_span_id.data;
                v.parent_len = s->parent_span_id.len;
                v.kind = (int)s->kind;
                v.start_ns = s->start_time_unix_nano;
                v.end_ns = s->end_time_unix_nano;
                if (s->status != NULL) {
                    v.status_code = (int)s->status->code;
                    v.status_message = s->status->message;
                }
                json_t *name =
                    otlp_str(m, where, "name", s->name, strlen(s->name));
                v.attrs = attrs_json(m, where, s->attributes, s->n_attributes);
                if (name == NULL || v.attrs == NULL ||
                    (v.status_message &&
                     !otlp_str_ok(m, where, "status.message",
                                  v.status_message)) ||
                    span_events(m, where, s, &v.events) < 0) {
                    rc = m->rc ? m->rc : LDG_ENOMEM;
                } else {
                    v.name = json_string_value(name);
                    rc = otlp_map_span(m, &sc, &v);
                }
                json_decref(name);
                json_decref(v.attrs);
                json_decref(v.events);
            }
            json_decref(sc.resource);
        }
    }
    return rc;
}

/* -------------------------------------------------------------- logs -- */

static int
map_logs(struct otlp_mapper *m, const LdgOtlp__ExportLogsServiceRequest *rq)
{
    char where[128];
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < rq->n_resource_logs; i++) {
        const LdgOtlp__ResourceLogs *rl = rq->resource_logs[i];
        for (size_t j = 0; rc == 0 && j < rl->n_scope_logs; j++) {
            const LdgOtlp__ScopeLogs *sl = rl->scope_logs[j];
            struct otlp_scope sc;
            snprintf(where, sizeof where, "resourceLogs[%zu].scopeLogs[%zu]", i,
                     j);
            if ((rc = scope_of(m, where, rl->resource, sl->scope, &sc)) < 0)
                break;
            for (size_t k = 0; rc == 0 && k < sl->n_log_records; k++) {
                const LdgOtlp__LogRecord *r = sl->log_records[k];
                struct otlp_log v;
                memset(&v, 0, sizeof v);
                snprintf(where, sizeof where,
                         "resourceLogs[%zu].scopeLogs[%zu].logRecords[%zu]", i,
                         j, k);
                v.where = where;
                v.time_ns = r->time_unix_nano;
                v.observed_ns = r->observed_time_unix_nano;
                v.severity = (int)r->severity_number;
                v.severity_text = r->severity_text;
                v.event_name = r->event_name;
                v.trace_id = r->trace_id.data;
                v.trace_len = r->trace_id.len;
                v.span_id = r->span_id.data;
                v.span_len = r->span_id.len;
                v.attrs = attrs_json(m, where, r->attributes, r->n_attributes);
                /* (a GenAI event's body is content: the mapper withholds
                 * it, but the record's id is made of it too) */
                if (r->body != NULL)
                    v.body = any_json(m, where, "body", r->body, 0);
                if (v.attrs == NULL || (r->body != NULL && v.body == NULL) ||
                    !otlp_str_ok(m, where, "severityText", r->severity_text) ||
                    !otlp_str_ok(m, where, "eventName", r->event_name))
                    rc = m->rc ? m->rc : LDG_ENOMEM;
                else
                    rc = otlp_map_log(m, &sc, &v);
                json_decref(v.attrs);
                json_decref(v.body);
            }
            json_decref(sc.resource);
        }
    }
    return rc;
}

/* ------------------------------------------------------------ decode -- */

int
otlp_pb_decode(struct otlp_mapper *m, enum ldg_otlp_signal sig,
               const void *body, size_t len)
{
    const ProtobufCMessageDescriptor *d =
        sig == LDG_OTLP_TRACES
            ? &ldg_otlp__export_trace_service_request__descriptor
            : &ldg_otlp__export_logs_service_request__descriptor;
    struct arena a = {0};
    ProtobufCAllocator al = {arena_alloc, arena_free, &a};
    ProtobufCMessage *msg;
    size_t msgs;
    int rc;

    if ((rc = prescan(m, d, body, len, &msgs)) < 0)
        return rc;
    a.budget = 65536 + len + (msgs + 1) * MSG_COST;
    msg = protobuf_c_message_unpack(d, &al, len, body);
    if (msg == NULL) {
        arena_release(&a);
        if (a.total + 4096 > a.budget)
            return otlp_fail(m, LDG_ETOOBIG,
                             "protobuf: the request needs more than %zu bytes "
                             "to decode",
                             a.budget);
        return otlp_fail(m, LDG_EBADINPUT,
                         "protobuf: not an %s (a field of the wrong type, or "
                         "a malformed value)",
                         d->short_name);
    }
    rc = sig == LDG_OTLP_TRACES
             ? map_spans(m, (const LdgOtlp__ExportTraceServiceRequest *)msg)
             : map_logs(m, (const LdgOtlp__ExportLogsServiceRequest *)msg);
    arena_release(&a);
    return rc;
}

/* ----------------------------------------------------------- answers -- */

static int
pack(const ProtobufCMessage *msg, void **out, size_t *len)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    uint8_t *b = malloc(n ? n : 1);
    if (b == NULL)
        return LDG_ENOMEM;
    *len = protobuf_c_message_pack(msg, b);
    *out = b;
    return 0;
}

int
otlp_pb_response(enum ldg_otlp_signal sig, int64_t rejected, const char *msg,
                 void **out, size_t *len)
{
    char *m = (char *)(uintptr_t)(msg ? msg : "");
    if (sig == LDG_OTLP_TRACES) {
        LdgOtlp__ExportTraceServiceResponse r;
        LdgOtlp__ExportTracePartialSuccess ps;
        ldg_otlp__export_trace_service_response__init(&r);
        ldg_otlp__export_trace_partial_success__init(&ps);
        if (rejected > 0 || m[0]) {
            ps.rejected_spans = rejected;
            ps.error_message = m;
            r.partial_success = &ps;
        }
        return pack(&r.base, out, len);
    }
    LdgOtlp__ExportLogsServiceResponse r;
    LdgOtlp__ExportLogsPartialSuccess ps;
    ldg_otlp__export_logs_service_response__init(&r);
    ldg_otlp__export_logs_partial_success__init(&ps);
    if (rejected > 0 || m[0]) {
        ps.rejected_log_records = rejected;
        ps.error_message = m;
        r.partial_success = &ps;
    }
    return pack(&r.base, out, len);
}

int
otlp_pb_status(int code, const char *msg, void **out, size_t *len)
{
    LdgOtlp__RpcStatus st;
    ldg_otlp__rpc_status__init(&st);
    st.code = code;
    st.message = (char *)(uintptr_t)(msg ? msg : "");
    return pack(&st.base, out, len);
}

int
otlp_pb_status_retry(int code, const char *msg, unsigned retry_s, void **out,
                     size_t *len)
{
    LdgOtlp__RpcStatus st;
    LdgOtlp__ProtobufAny any, *anys[1] = {&any};
    LdgOtlp__RpcRetryInfo ri;
    LdgOtlp__ProtobufDuration d;
    unsigned char buf[32];
    ldg_otlp__rpc_status__init(&st);
    st.code = code;
    st.message = (char *)(uintptr_t)(msg ? msg : "");
    if (retry_s > 0) {
        ldg_otlp__protobuf_duration__init(&d);
        d.seconds = retry_s;
        ldg_otlp__rpc_retry_info__init(&ri);
        ri.retry_delay = &d;
        ldg_otlp__protobuf_any__init(&any);
        any.type_url = (char *)(uintptr_t) "type.googleapis.com/"
                                           "google.rpc.RetryInfo";
        any.value.len = ldg_otlp__rpc_retry_info__pack(&ri, buf);
        any.value.data = buf;
        st.n_details = 1;
        st.details = anys;
    }
    return pack(&st.base, out, len);
}
