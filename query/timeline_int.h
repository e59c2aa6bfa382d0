/*
 * timeline_int.h — what the timeline's files share (not public): the
 * state one timeline is gathered in (struct tl) and the steps of the
 * others a file calls. timeline.c gathers a run's events and context,
 * timeline_trace.c the traces' events and their tree, timeline_pruned.c
 * what a prune left (signers, archives, a start before the horizon),
 * timeline_text.c renders the result as text.
 */
#ifndef LDG_QUERY_TIMELINE_INT_H
#define LDG_QUERY_TIMELINE_INT_H

#include <stdint.h>

#include <jansson.h>

#include "query/query_int.h"

#define TL_EVENTS_MAX 100000 /* events listed; the rest are counted */
#define TL_ROUTES_MAX 256
#define TL_MODELS_MAX 256
#define TL_CONTEXT_MAX 2000 /* context events listed */
/* a span's "depth" in the trace tree is at most this (timeline_trace.c) */
#define TRACE_DEPTH_MAX 64

/* The times of an event entry: "ts"/"time" when it happened (the
 * source's claim when it carries one, else the ledger's time),
 * "recorded_ts"/"recorded_time" the ledger's commit time (the order of the
 * log), "clock" which of the two "time" is; then its "id" and "source"
 * (format version 2) when it has them. */
struct tl {
    struct ldg_txn *t;
    const char *run;
    json_t *root, *events;
    uint64_t start_seq, start_ts, start_time; /* start_time: ldg_event_time */
    int have_start, have_first;
    int started_pruned; /* its run.started is before the horizon */
    uint64_t first_seq, first_ts, last_ts;
    uint64_t nevents;
    char pack[Q_VALUE_MAX + 1];
    /* counts */
    uint64_t steps, steps_failed, routes, fallbacks, policies, denials;
    uint64_t spans, joined, disagree; /* tl_trace_tree */
    uint64_t joined_fallbacks;
    /* permissions / routes at start */
    json_t *routes_set;      /* object route -> true */
    json_t *version;         /* latest pack.installed/upgraded body */
    json_t *evals;           /* object target -> entry */
    json_t *models_set;      /* object model -> true: its routes' models */
    json_t *context;         /* object "seq" -> context entry */
    uint64_t last_seq;       /* the run's last event */
    uint64_t ctx_lo, ctx_hi; /* the window context is collected in */
    const char *ctx_want;    /* type prefix the current walk keeps */
    int ctx_latest;          /* walking backwards: keep one, then stop */
    size_t targets_left;
    int err;
    struct q_modelcache *mc; /* "model_at" of decisions, evals, promotions */
    /* the source's clock (format version 2 "time"): when every event of
     * the run carries one, steps are ordered and timed by it */
    int src_missing;
    int have_src_base;
    uint64_t src_base; /* source time of the start (else first) event */
};

/* 1 if o's member k is the string want. */
int tl_jstr_is(const json_t *o, const char *k, const char *want);

/* First pass: every event of the run. */
int tl_on_run_event(void *ctx, uint64_t seq);

/* qsort order of event entries by their "seq". */
int tl_seq_cmp(const void *a, const void *b);

/* Orders the events so that each comes after the one it sits under (the
 * text and the page then show a log record under its span), else as
 * they were (by time, then seq). */
void tl_nest_order(struct tl *tl);

/* The spans' tree and the proxy's records joined to the calls they
 * witnessed: "depth", "joined" and "witnesses" on the entries
 * (timeline_trace.c says how). */
void tl_trace_tree(struct tl *tl);

/* The status of a run known only from an application's trace (no
 * run.started nor run.finished): "trace", as `ledger runs` says it, and
 * "root": how its root span (the one with no parent) ended, when it is
 * there: {seq, name, status, duration_ms}. */
void tl_trace_status(struct tl *tl);

/* "Who did it" from the log: each event and each permission in force gets
 * "signer", the key that signed it, beside any "by" its body claims. On a
 * pruned ledger, an event before the horizon (a permission granted then)
 * gets "signer": null, as the permissions view gives it: its archive
 * says who signed it (docs/RETENTION.md). */
int tl_add_signers(struct ldg_txn *t, json_t *arr);

/* A run whose run.started a prune removed (its first kept event is at or
 * after the horizon): *cut gets {"start": {"seq", "time", "pruned":
 * true}, "horizon": {"seq", "archive_sha256"}, "at": horizon} from the
 * runs projection, and tl->pack its pack; NULL when the run did not begin
 * before the horizon. 0 or an ldg_error. */
int tl_pruned_start(struct tl *tl, json_t **cut);

/* The events of one trace (body.trace_id, any run), for
 * ldg_query_timeline_trace: each through tl_on_run_event. */
int tl_trace_walk(struct tl *tl, const char *trace);

/* The proxy's records of the run's model calls that are in another run
 * (the run's traces'), through tl_on_run_event. 0 or an ldg_error. */
int tl_witness_walk(struct tl *tl);

#endif
