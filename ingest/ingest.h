/*
 * ingest.h — JSON Lines into the ledger.
 *
 * Each line is one event: {"type": ..., "body": {...}} with optional
 * "subject", "run", "parent" (an earlier sequence number), "actor" (a
 * key name), "id" (idempotency key: a line whose id is in the log is not
 * appended again) and "time" (when it happened at the source). Lines are parsed
 * with jansson (duplicate keys rejected), validated against the vocabulary and
 * appended through the ledger's bulk writer, which signs on worker threads and
 * commits in groups.
 */
#ifndef LDG_INGEST_H
#define LDG_INGEST_H

#include <stdint.h>
#include <stdio.h>

#include "ledger/ledger.h"

struct ldg_sealed_batch;

struct ldg_ingest_opts {
    int strict;       /* all or nothing: commit only if every line is
                       * accepted (one transaction) */
    size_t batch;     /* events per commit (0 = 1000) */
    unsigned threads; /* signing threads (0 = CPUs) */
    /* Called once per rejected line. line is 1-based; col is 1-based
     * (1 when the problem is not at a place in the line). */
    void (*on_error)(void *ctx, uint64_t line, int col, const char *msg);
    void *ctx;
    /* Called after each durable commit (from the writer's thread). */
    void (*on_commit)(void *ctx, uint64_t first_seq, uint64_t n);
    /* Called now and then with lines read so far (for progress). */
    void (*on_progress)(void *ctx, uint64_t lines, uint64_t committed);
    /* Optional: called for each line not appended because its "id" was
     * already in the log (or on an earlier line): its 1-based line, the
     * id, the event that carries it and what of that event differs from
     * the line (enum ldg_dup_diff; 0: the same). From the writer's commit
     * thread, after the commit that skipped it (--strict: at once). */
    void (*on_duplicate)(void *ctx, uint64_t line, const char *id, uint64_t seq,
                         unsigned differs);
};

struct ldg_ingest_report {
    uint64_t lines;          /* non-empty lines read */
    uint64_t committed;      /* events durably committed */
    uint64_t rejected;       /* invalid lines */
    uint64_t key_refused;    /* of those, refused because of their key: a
                              * key held by its writer sent unsealed
                              * (ldg_keys_held_by_writer), or a sealed batch
                              * whose key is unknown, revoked or whose roles
                              * forbid a type */
    uint64_t sealed_lines;   /* of the lines, sealed batches */
    uint64_t sealed_refused; /* of the rejected, sealed batches */
    uint64_t sealed_batches; /* sealed batches committed */
    uint64_t sealed_events;  /* events they carried (in committed) */
    uint64_t duplicates;     /* events whose "id" was already in the log (or
                              * earlier in the input): not appended again (a
                              * plain line is one event; a retried sealed
                              * batch counts all of its events) */
    uint64_t first_seq;      /* sequence number of the first committed event */
    uint64_t last_seq;       /* ... and of the last: past first_seq +
                              * committed - 1 when another writer's events
                              * came between two of this input's commits */
};

/* The fields a request line of the serve protocol (docs/PROTOCOL.md) may
 * carry beside the event: "id", the client's idempotency key (1 to
 * LDG_ID_MAX bytes of UTF-8, no control characters), and "time", when the
 * event happened at the source (RFC 3339 with an optional fraction and a
 * zone, or integer nanoseconds since the epoch written as a string). */
struct ldg_ingest_meta {
    int has_id;
    char id[LDG_ID_MAX + 1]; /* kept even when the line is refused later */
    size_t id_len;
    int has_time;
    uint64_t time_ns; /* since 1970-01-01T00:00:00Z */
};
/* Flags of ldg_ingest_parse_line_ex. Every line may carry "id" and
 * "time" (format version 2): they go into ev (ev->id owned by *holder)
 * and *meta; LDG_INGEST_REQUEST is kept for callers that name it. */
enum ldg_ingest_parse_flags { LDG_INGEST_REQUEST = 1 << 0 };

/* Parses one input line (len bytes, no newline) into *ev. On success the
 * caller json_decref's *holder, which owns every string ev points to.
 * On failure returns LDG_EBADINPUT/LDG_ETOOBIG with msg and *col set. */
int ldg_ingest_parse_line(const char *line, size_t len, size_t body_max,
                          struct ldg_event_in *ev, json_t **holder, int *col,
                          char *msg, size_t msgcap);
/* The same with flags (enum ldg_ingest_parse_flags); meta may be NULL
 * without LDG_INGEST_REQUEST and is zeroed first otherwise. When the line
 * is refused, meta->has_id still says whether a valid "id" was read (so
 * the refusal can name it). */
int ldg_ingest_parse_line_ex(const char *line, size_t len, size_t body_max,
                             unsigned flags, struct ldg_event_in *ev,
                             struct ldg_ingest_meta *meta, json_t **holder,
                             int *col, char *msg, size_t msgcap);
/* Parses a source time as "time" takes it: RFC 3339
 * ("2026-11-22T20:55:01.123456789Z", "...+02:00"; the fraction has 1 to 9
 * digits) or decimal nanoseconds ("1795467301123456789"). 0, or
 * LDG_EBADINPUT with why (a static string) for anything else, a time
 * before 1970 or one past 2^64 - 1 ns. */
int ldg_ingest_parse_time(const char *s, uint64_t *ns, const char **why);

/* Sealed batches (docs/FORMAT.md, "Client-held keys"): one line
 * {"sealed": {...}} carries a writer's whole batch, which is appended
 * contiguously in one commit or not at all. At most LDG_SEALED_LINE_MAX
 * bytes (ordinary lines: the body limit and 64 KiB). */
#define LDG_SEALED_LINE_MAX ((size_t)64 << 20)
/* 1 if the line begins as a sealed batch (its first key is "sealed"). */
int ldg_ingest_is_sealed(const char *line, size_t len);
/* Parses a sealed-batch line strictly (ldg_sealed_batch_parse): *out the
 * caller's (ldg_sealed_batch_free). LDG_EBADINPUT / LDG_ETOOBIG with msg
 * naming the field and event index, *col for a JSON syntax error. */
int ldg_ingest_parse_sealed(const char *line, size_t len,
                            struct ldg_sealed_batch **out, int *col, char *msg,
                            size_t msgcap);
/* The memory a parsed sealed batch holds, and what appending it takes
 * while it runs (ldg_batch_sealed_cost, and the bodies' encodings), in
 * bytes: an estimate from its parsed JSON's nodes (jansson's, with the
 * allocator's rounding) and its event table, meant to be at or above the
 * truth (a daemon counts it against its budget: ledger serve's
 * --budget). Many times the line's length: 8.2 times parsed, 18 with the
 * append, for a batch of 23,000 run.step events with salts (8.7 MB).
 * Cost: one walk of the parsed tree. */
size_t ldg_ingest_sealed_cost(const struct ldg_sealed_batch *b);
/* What a sealed line of len bytes is expected to take, parsed and
 * appended, before it is parsed (LDG_INGEST_SEALED_FACTOR times len). */
#define LDG_INGEST_SEALED_FACTOR 16

/*
 * Reads JSON Lines from in and appends them. Returns 0 if every line was
 * valid and committed; LDG_EKEY if some lines were rejected, every one of
 * them because of its key (report->key_refused);
 * LDG_EBADINPUT if some lines were rejected otherwise (the
 * valid ones are committed unless strict); another code on I/O or storage
 * failure, with report->committed saying exactly how many events are
 * durable. Messages for storage failures are in ldg_errmsg(l).
 *
 * Strict mode is all or nothing: every line goes into one write
 * transaction (ldg_batch_*), judged by every check a commit makes (the
 * same checks that refuse a line without strict, so both modes refuse the
 * same lines), and it is committed only if no line was refused; on any
 * refusal or failure nothing is written and report->committed is 0. It
 * holds the write lock for the whole input and signs on one thread. A
 * non-seekable input is copied to a temporary file as it is read, so the
 * batch can be read again if it outgrows the map.
 */
int ldg_ingest(struct ldg_ledger *l, FILE *in,
               const struct ldg_ingest_opts *opts,
               struct ldg_ingest_report *report);

#endif
