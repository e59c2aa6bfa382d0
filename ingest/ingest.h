/*
 * ingest.h — JSON Lines into the ledger.
 *
 * Each line is one event: {"type": ..., "body": {...}} with optional
 * "subject", "run", "parent" (an earlier sequence number) and "actor" (a
 * key name). Lines are parsed with jansson (duplicate keys rejected),
 * validated against the vocabulary and appended through the ledger's bulk
 * writer, which signs on worker threads and commits in groups.
 */
#ifndef LDG_INGEST_H
#define LDG_INGEST_H

#include <stdint.h>
#include <stdio.h>

#include "ledger/ledger.h"

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
};

struct ldg_ingest_report {
    uint64_t lines;     /* non-empty lines read */
    uint64_t committed; /* events durably committed */
    uint64_t rejected;  /* invalid lines */
    uint64_t first_seq; /* sequence number of the first committed event */
};

/* Parses one input line (len bytes, no newline) into *ev. On success the
 * caller json_decref's *holder, which owns every string ev points to.
 * On failure returns LDG_EBADINPUT/LDG_ETOOBIG with msg and *col set. */
int ldg_ingest_parse_line(const char *line, size_t len, size_t body_max,
                          struct ldg_event_in *ev, json_t **holder, int *col,
                          char *msg, size_t msgcap);

/*
 * Reads JSON Lines from in and appends them. Returns 0 if every line was
 * valid and committed; LDG_EBADINPUT if some lines were rejected (the
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
