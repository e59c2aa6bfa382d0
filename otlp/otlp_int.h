/*
 * otlp_int.h — shared between the files of otlp/, its tests and its fuzz
 * targets; not public.
 *
 *   pb.c        the protobuf decoder (the one file that calls protobuf-c;
 *               otlp.pb-c.[ch] are generated from otlp.proto)
 *   json.c      the OTLP/JSON decoder (jansson)
 *   gzip.c      Content-Encoding: gzip (the one file that uses zlib)
 *   map.c       spans and records to events (the GenAI conventions)
 *   receiver.c  the HTTP front: paths, content types, limits, answers
 *
 * Both decoders fill the same views (struct otlp_span, struct otlp_log)
 * and hand each to the mapper, which builds the event.
 */
#ifndef LDG_OTLP_INT_H
#define LDG_OTLP_INT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "otlp/otlp.h"

/* What a decoder knows of one resource and scope, for the spans or
 * records under them (borrowed). */
struct otlp_scope {
    json_t *resource;    /* the resource's attributes: an object */
    const char *service; /* service.name, or NULL */
    const char *scope;   /* the instrumentation scope's name, or NULL */
};

/* One span, as either decoder read it. Bytes and strings are borrowed
 * from the decoder; attrs and events are the decoder's (the mapper takes
 * references of what it keeps). where names the span for errors
 * ("resourceSpans[0].scopeSpans[1].spans[3]"). */
struct otlp_span {
    const char *where;
    const uint8_t *trace_id;
    size_t trace_len;
    const uint8_t *span_id;
    size_t span_len;
    const uint8_t *parent_id;
    size_t parent_len;
    const char *name;
    int kind; /* Span.SpanKind */
    uint64_t start_ns, end_ns;
    int status_code; /* 0 unset, 1 ok, 2 error */
    const char *status_message;
    json_t *attrs;  /* object: the attributes, content included */
    json_t *events; /* array of {"name","time","attributes"}, or NULL */
};

/* One log record. */
struct otlp_log {
    const char *where;
    uint64_t time_ns, observed_ns;
    int severity; /* SeverityNumber */
    const char *severity_text;
    const char *event_name;
    json_t *body; /* the AnyValue, or NULL */
    json_t *attrs;
    const uint8_t *trace_id;
    size_t trace_len;
    const uint8_t *span_id;
    size_t span_len;
};

/* The mapper: builds a batch's events. */
struct otlp_mapper {
    struct ldg_otlp_batch *b;
    const struct ldg_otlp_map *m;
    const struct ldg_otlp_limits *lim;
    uint64_t now_ns;   /* for "in the future" */
    size_t attrs;      /* attributes converted so far (lim->attrs_max) */
    const char *event; /* the span event whose attributes are being read
                          (its name), else NULL: otlp_content_attr */
    char *err;
    size_t errcap;
    int rc; /* the last refusal's code (with err), 0 none */
};

/* Limits with their defaults filled in. */
void otlp_limits_fill(struct ldg_otlp_limits *out,
                      const struct ldg_otlp_limits *in);

/* Maps one span / record into the batch. 0, or LDG_EBADINPUT /
 * LDG_ETOOBIG / LDG_ENOMEM with m->err naming the field. */
int otlp_map_span(struct otlp_mapper *m, const struct otlp_scope *sc,
                  const struct otlp_span *sp);
int otlp_map_log(struct otlp_mapper *m, const struct otlp_scope *sc,
                 const struct otlp_log *lg);

/* Says the error in m->err (fmt, printf's) and keeps rc in m->rc;
 * returns rc. */
int otlp_fail(struct otlp_mapper *m, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A new, empty batch for sig with room for n events; NULL when out of
 * memory. */
struct ldg_otlp_batch *otlp_batch_new(enum ldg_otlp_signal sig, size_t n);

/* 1 if an attribute named key (n bytes) is content (docs/OTLP.md,
 * "Content"): recorded only with record_content. */
int otlp_content_key(const char *key, size_t n);
/* 1 if the attribute key (n bytes) being read is content: a content key,
 * or in a GenAI span event (m->event starting "gen_ai.", the older event
 * forms some SDKs put on spans) one of the event body's own fields that
 * carry text: content, message, tool_calls. */
int otlp_content_attr(const struct otlp_mapper *m, const char *key, size_t n);

/* Adds key = v (taken over) to the attributes object attrs, counting it
 * against the limits; a value over value_max that is not content is
 * refused (LDG_EBADINPUT naming where and key); content over
 * LDG_OTLP_CONTENT_MAX is replaced by a note. */
int otlp_attr_put(struct otlp_mapper *m, json_t *attrs, const char *where,
                  const char *key, size_t keylen, json_t *v);
/* Counts one more attribute; LDG_ETOOBIG over lim->attrs_max. */
int otlp_attr_count(struct otlp_mapper *m, const char *where);
/* A string value (n bytes): NULL with err when it is not UTF-8. */
json_t *otlp_str(struct otlp_mapper *m, const char *where, const char *key,
                 const char *p, size_t n);

/* 1 when s (a C string, or NULL) is UTF-8 text; else 0 with m->err
 * naming where and what. */
int otlp_str_ok(struct otlp_mapper *m, const char *where, const char *what,
                const char *s);

/* 0 when t (ns since the epoch) is a time the ledger takes: before 2262
 * and at most a day in the future; else LDG_EBADINPUT with m->err naming
 * where and what. */
int otlp_time_check(struct otlp_mapper *m, const char *where, const char *what,
                    uint64_t t);

/* Decoders: fill the views and call the mapper. */
int otlp_pb_decode(struct otlp_mapper *m, enum ldg_otlp_signal sig,
                   const void *body, size_t len);
int otlp_json_decode(struct otlp_mapper *m, enum ldg_otlp_signal sig,
                     const void *body, size_t len);
/* The bytes jansson may allocate to parse the text p (len bytes), at
 * most: the estimate json.c's prescan holds against json_mem_max. */
size_t otlp_json_cost(const char *p, size_t len);

/* Sets every event's source (borrowed: must outlive the batch's use). */
void otlp_batch_source(struct ldg_otlp_batch *b, const struct ldg_source *src);

/* Answers (receiver.c, with pb.c's encoder): the body of a success
 * (partial: rejected > 0 with msg) or of a refusal (google.rpc.Status:
 * code, msg), in the request's encoding; malloc'd, the caller's. */
int otlp_pb_response(enum ldg_otlp_signal sig, int64_t rejected,
                     const char *msg, void **out, size_t *len);
int otlp_pb_status(int code, const char *msg, void **out, size_t *len);

#endif
