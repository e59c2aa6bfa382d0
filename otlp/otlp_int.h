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
#include <pthread.h>
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
/* The same, with a google.rpc.RetryInfo of retry_s seconds among its
 * details (none when 0): gRPC's grpc-status-details-bin. */
int otlp_pb_status_retry(int code, const char *msg, unsigned retry_s,
                         void **out, size_t *len);

/* ------------------------------------------------------ the receiver -- */

struct ldg_httpd;
struct ldg_grpcd;

/* The receiver (receiver.c, its OTLP/HTTP front; grpc.c its OTLP/gRPC
 * front): both fronts decode, map and commit alike, and count into st. */
struct ldg_otlp {
    struct ldg_httpd *h; /* NULL: no OTLP/HTTP */
    struct ldg_grpcd *g; /* NULL: no OTLP/gRPC */
    struct ldg_server *srv;
    struct ldg_otlp_map map;
    char *run_attr;
    struct ldg_otlp_limits lim;
    uint64_t behind_max;
    struct ldg_otlp_stats st; /* added to atomically */
    uint64_t inflight;        /* events submitted, not answered (atomic) */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned pending; /* requests waiting for the writer */
    int stopping;
    /* the log (ldg_otlp_options), under mu: when each reason was last
     * said, and how many refusals of it since were not; the same for
     * HTTP/2 prefaces at the OTLP/HTTP port */
    void (*log)(void *ctx, const char *line);
    void *log_ctx;
    uint64_t said_ms[LDG_OTLP_REFUSED_N], unsaid[LDG_OTLP_REFUSED_N];
    uint64_t h2_said_ms, h2_unsaid;
};

/* gRPC status codes (google.rpc.Code), for google.rpc.Status */
#define RPC_INVALID_ARGUMENT 3
#define RPC_NOT_FOUND 5
#define RPC_RESOURCE_EXHAUSTED 8
#define RPC_FAILED_PRECONDITION 9
#define RPC_UNIMPLEMENTED 12
#define RPC_INTERNAL 13
#define RPC_UNAVAILABLE 14

/* Who sent a request, over a Unix socket (SO_PEERCRED, the executable
 * into exe): 1 and *src set, else 0 (TCP). */
int otlp_peer_source(int fd, struct ldg_source *src, char *exe, size_t cap);
/* A counter added to (receiver.c), from any thread; a signal's items
 * counted as recorded, duplicate and rejected. */
void otlp_add(uint64_t *c, uint64_t n);
void otlp_count(struct ldg_otlp *r, enum ldg_otlp_signal sig, size_t recorded,
                size_t dup, size_t rejected);
/* What a batch's commit came to (receiver.c), for either front to answer:
 * the items (those not dropped) counted as recorded, duplicate or
 * rejected, and msg: the partial success's message, or why nothing was
 * written. OTLP_NOT_RECORDED: refused the same way until `ledger
 * migrate` runs (not to retry); OTLP_RETRY: nothing written, to send
 * again. */
enum otlp_outcome { OTLP_RECORDED, OTLP_NOT_RECORDED, OTLP_RETRY };
enum otlp_outcome otlp_committed(struct ldg_otlp *r, enum ldg_otlp_signal sig,
                                 const struct ldg_otlp_batch *b, size_t items,
                                 const struct ldg_serve_done *d, char *msg,
                                 size_t cap);
/* A request answered: one fewer pending (receiver.c). */
void otlp_finish(struct ldg_otlp *r);
/* A request refused (4xx but 429, or its gRPC status), counted by its
 * reason and said on the log at most once a reason a minute (receiver.c):
 * fd its connection, status "413" or "INVALID_ARGUMENT". */
void otlp_refused_note(struct ldg_otlp *r, int fd, const char *method,
                       const char *path, enum ldg_otlp_refusal why,
                       const char *status, const char *msg);
/* The gRPC front (grpc.c): started on r (its map, limits, server set)
 * at addr; stopped once r's requests are answered. */
int otlp_grpc_start(struct ldg_otlp *r, const char *addr, unsigned max_conns,
                    char *err, size_t errcap);
void otlp_grpc_stop(struct ldg_otlp *r);
/* Its connections' counts into st (the grpc_* fields). */
void otlp_grpc_stats(const struct ldg_otlp *r, struct ldg_otlp_stats *st);

#endif
