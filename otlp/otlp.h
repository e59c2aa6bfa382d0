/*
 * otlp.h — OpenTelemetry in: what instrumented applications already say,
 * taken as evidence (docs/OTLP.md).
 *
 * An OTLP/HTTP receiver (`ledger serve --otlp ADDR`): POST /v1/traces and
 * /v1/logs, in both encodings the OTLP specification defines for HTTP
 * (application/x-protobuf and application/json), gzip or not. Each span
 * and log record becomes one event, mapped by the GenAI semantic
 * conventions (LDG_OTLP_SEMCONV, pinned; unknown attributes are kept):
 *
 *   route.decision   a model call: gen_ai.operation.name chat,
 *                    text_completion, generate_content or embeddings
 *                    (or none, with a gen_ai.request.model), naming a model
 *   run.step         a tool execution: gen_ai.operation.name execute_tool
 *   otel.span        any other span (LDG_OTLP_SPANS_ALL, the default), or
 *                    nothing (LDG_OTLP_SPANS_GENAI: counted as dropped)
 *   otel.log         a log record (or nothing, with logs 0)
 *
 * The run is the trace id (32 hex digits), or the string value of the
 * attribute run_attr names (the span's or record's own, else its
 * resource's). The event's id (the ledger's idempotency key) is
 * "otlp:TRACEID:SPANID" for a span, so an exporter that sends a batch
 * again records nothing twice. Content (prompts, completions, tool
 * arguments and results, system instructions, a GenAI log event's body)
 * is recorded only with record_content.
 *
 * Durability: a request is answered 200 only once every event of it is
 * committed durably, by the `ledger serve` writer it was given (its
 * group commit: serve/serve.h, ldg_serve_submit). Nothing of a refused
 * request is written. Answers (docs/OTLP.md, "Answers"): 200 with a
 * partial success naming what the ledger refused; 400 for data that does
 * not decode or is invalid (naming the field); 413 over a limit; 415 for
 * a content type or encoding it does not read; 429 or 503 with
 * Retry-After when the writer is behind or cannot commit.
 *
 * Threads: the receiver's HTTP server runs its own threads (event-driven,
 * http/server.h); a request is decoded and mapped on one of them and
 * answered from the serve writer's thread once committed.
 */
#ifndef LDG_OTLP_H
#define LDG_OTLP_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/ledger.h"
#include "serve/serve.h"

/* The OTLP/HTTP port the specification names, on loopback. */
#define LDG_OTLP_LISTEN_DEFAULT "127.0.0.1:4318"
/* The version of the OpenTelemetry semantic conventions (GenAI, still
 * "Development") whose attribute names the mapping follows. The names
 * they replaced (gen_ai.system, gen_ai.usage.prompt_tokens and
 * completion_tokens, gen_ai.prompt, gen_ai.completion) are read too. */
#define LDG_OTLP_SEMCONV "1.37.0"

/* Limits, each enforced before what it bounds is allocated. A zero
 * field takes its default. */
struct ldg_otlp_limits {
    size_t body_max;     /* request body as sent; 0: 8 MiB (413) */
    size_t inflated_max; /* a gzip body once inflated; 0: 32 MiB (413) */
    size_t items_max;    /* spans or log records a request; 0: 8192 (413) */
    size_t attrs_max;    /* attributes a request, all spans, records,
                            span events, resources, and values in
                            arrays and maps; 0: 131072 (413) */
    size_t value_max;    /* bytes of a recorded string or bytes value;
                            0: 65536 (400) */
    unsigned depth_max;  /* arrays and maps nested in a value; 0: 8 (400) */
    size_t json_mem_max; /* bytes the JSON parser may take for a request,
                            estimated from the text before it parses;
                            0: 32 MiB (413) */
};
#define LDG_OTLP_BODY_MAX_DEFAULT ((size_t)8 << 20)
#define LDG_OTLP_INFLATED_MAX_DEFAULT ((size_t)32 << 20)
#define LDG_OTLP_ITEMS_MAX_DEFAULT 8192
#define LDG_OTLP_ATTRS_MAX_DEFAULT 131072
#define LDG_OTLP_VALUE_MAX_DEFAULT 65536
#define LDG_OTLP_DEPTH_MAX_DEFAULT 8
#define LDG_OTLP_JSON_MEM_MAX_DEFAULT ((size_t)32 << 20)
/* A content value (record_content) longer than this is replaced by a
 * note saying its size, as the proxy does with a prompt. */
#define LDG_OTLP_CONTENT_MAX ((size_t)256 << 10)

enum ldg_otlp_spans {
    LDG_OTLP_SPANS_ALL = 0, /* spans that are not GenAI: otel.span */
    LDG_OTLP_SPANS_GENAI    /* ... dropped (counted) */
};

/* How spans and records become events. */
struct ldg_otlp_map {
    /* The run: NULL, the trace id; else this attribute's value (a string
     * of 1 to LDG_RUN_MAX bytes without control characters, or an
     * integer), the span's or record's own, else its resource's; a span
     * without it is in the run of its trace id. Borrowed. */
    const char *run_attr;
    enum ldg_otlp_spans spans;
    int drop_logs;      /* 1: log records are not recorded (counted) */
    int record_content; /* 1: content attributes and bodies are kept */
    /* The ledger's first event's time (ns; 0: not known): a span or
     * record timed before it, or before 2000-01-01, is recorded as sent
     * and flagged (ldg_otlp_batch_early): a time in seconds or
     * milliseconds sent as nanoseconds, a clock not yet set. */
    uint64_t genesis_ns;
};

enum ldg_otlp_signal { LDG_OTLP_TRACES = 0, LDG_OTLP_LOGS = 1 };

/* ----------------------------------------------------------- decoding -- */

/* The events one export request maps to. */
struct ldg_otlp_batch;

/* Decodes an export request's body (json 0: protobuf, 1: OTLP/JSON) and
 * maps it (m; NULL: the defaults). The body must already be inflated
 * (ldg_otlp_inflate). @return 0 and *out (the caller's:
 * ldg_otlp_batch_free), LDG_EBADINPUT for data that does not decode or is
 * invalid, LDG_ETOOBIG over a limit, each with err naming the field
 * ("resourceSpans[0].scopeSpans[0].spans[3].traceId: 15 bytes, not 16");
 * nothing is kept then. Lifetime: the events point into *out. */
int ldg_otlp_decode(struct ldg_otlp_batch **out, enum ldg_otlp_signal sig,
                    int json, const void *body, size_t len,
                    const struct ldg_otlp_map *m,
                    const struct ldg_otlp_limits *lim, char *err,
                    size_t errcap);
/* The events to record (n of them into *n), valid until the batch is
 * freed; ids and times set. */
const struct ldg_event_in *ldg_otlp_batch_events(const struct ldg_otlp_batch *b,
                                                 size_t *n);
/* Spans or log records the request held, and of them those not recorded
 * by the mapping's choice (spans, drop_logs). */
size_t ldg_otlp_batch_items(const struct ldg_otlp_batch *b);
size_t ldg_otlp_batch_dropped(const struct ldg_otlp_batch *b);
/* Of the items to record, those timed before 2000-01-01 or before the
 * map's genesis_ns: recorded as sent, and flagged. *why (may be NULL)
 * names the first ("...spans[0].startTimeUnixNano: 1700000000 is
 * 1970-01-01T00:00:01.7Z, before 2000-01-01 ..."; "" when none), valid
 * until the batch is freed. */
size_t ldg_otlp_batch_early(const struct ldg_otlp_batch *b, const char **why);
void ldg_otlp_batch_free(struct ldg_otlp_batch *b);

/* Inflates a gzip body (Content-Encoding: gzip) into *out (malloc'd, the
 * caller's) of at most max bytes. LDG_ETOOBIG when it would be larger (a
 * gzip bomb stops at max: no more is allocated), LDG_EBADINPUT when it is
 * not gzip or is cut short or has bytes after its end; err says which. */
int ldg_otlp_inflate(const void *in, size_t len, size_t max, void **out,
                     size_t *outlen, char *err, size_t errcap);

/* ----------------------------------------------------------- receiver -- */

struct ldg_otlp_options {
    /* HOST:PORT or unix:PATH (NULL: LDG_OTLP_LISTEN_DEFAULT); which
     * addresses are allowed is the caller's policy. */
    const char *listen;
    struct ldg_server *server; /* where events are committed; borrowed,
                                  must outlive the receiver; required */
    struct ldg_otlp_map map;
    struct ldg_otlp_limits limits;
    /* The writer is behind when this many events wait for it
     * (ldg_serve_backlog), or the receiver holds this many not yet
     * answered: requests are then answered 503 (429 for the receiver's
     * own) with Retry-After. 0: 65536. */
    uint64_t behind_max;
    unsigned max_conns; /* connections at once; 0: 64 (each may hold a
                           body of body_max while it is read) */
    /* Where the receiver says what an operator should see (a request
     * refused: its reason, status, path and sender, and the answer's
     * message; at most one line a reason every LDG_OTLP_LOG_EVERY_MS,
     * saying how many it left unsaid), on a receiver thread; NULL: said
     * nowhere. The receiver never prints. */
    void (*log)(void *ctx, const char *line);
    void *log_ctx;
};
#define LDG_OTLP_LOG_EVERY_MS 60000

struct ldg_otlp;

/* Starts the receiver (its threads) and returns at once. LDG_EINVAL (no
 * server); from the HTTP server, with err: LDG_EBADINPUT (an address
 * that does not parse), LDG_EBUSY (in use), LDG_EIO (cannot listen). */
int ldg_otlp_start(struct ldg_otlp **out, const struct ldg_otlp_options *o,
                   char *err, size_t errcap);
/* The TCP port listened on (0 for a Unix socket). */
unsigned ldg_otlp_port(const struct ldg_otlp *r);

/* Why a request was refused (4xx but 429): the reason label of
 * ledger_otlp_requests_refused_total and of the log line. */
enum ldg_otlp_refusal {
    LDG_OTLP_REFUSED_PATH = 0, /* 404: neither /v1/traces nor /v1/logs */
    LDG_OTLP_REFUSED_METHOD,   /* 405: not POST */
    LDG_OTLP_REFUSED_TYPE,     /* 415: the Content-Type */
    LDG_OTLP_REFUSED_ENCODING, /* 415: the Content-Encoding */
    LDG_OTLP_REFUSED_SIZE,     /* 413: the body, or it inflated, too big */
    LDG_OTLP_REFUSED_LIMIT,    /* 413: too many spans, records, attributes
                                  or values, or the JSON parser's memory */
    LDG_OTLP_REFUSED_INVALID,  /* 400: does not decode, or is invalid */
    LDG_OTLP_REFUSED_N
};
/* "path", "method", "content_type", "content_encoding", "body_size",
 * "limit", "invalid"; NULL past the last. Static storage. */
const char *ldg_otlp_refusal_name(enum ldg_otlp_refusal why);

/* Counters, each read whole (not together one snapshot). A request
 * refused whole (4xx) did not decode: its spans are not counted, only the
 * request (refused). Spans and log records are counted alike: */
struct ldg_otlp_counts {
    uint64_t received;  /* in requests that decoded */
    uint64_t recorded;  /* committed as new events */
    uint64_t duplicate; /* their id was already in the log (a batch sent
                           again) */
    uint64_t rejected;  /* refused one by one by the ledger (a partial
                           success), or not committed (5xx) */
    uint64_t dropped;   /* not recorded by the mapping's choice */
    uint64_t early;     /* in requests that decoded, to be recorded, timed
                           before 2000-01-01 or the ledger's genesis:
                           flagged in the answer (ldg_otlp_batch_early) */
};
struct ldg_otlp_stats {
    uint64_t requests;  /* POSTs answered */
    uint64_t refused;   /* answered 4xx but 429 */
    uint64_t throttled; /* answered 429 or 503: the writer behind */
    uint64_t failed;    /* answered 503: a commit that failed, stopping */
    struct ldg_otlp_counts spans, logs;
    uint64_t refused_by[LDG_OTLP_REFUSED_N]; /* refused, by reason */
};
void ldg_otlp_stats(const struct ldg_otlp *r, struct ldg_otlp_stats *st);

/* Stops taking requests (new ones are answered 503), waits for those in
 * flight to be committed and answered (the server's writer must still
 * run: it answers every batch it took), stops listening and frees r;
 * *final (may be NULL) gets the last counts. NULL r is a no-op. */
void ldg_otlp_stop(struct ldg_otlp *r, struct ldg_otlp_stats *final);

#endif
