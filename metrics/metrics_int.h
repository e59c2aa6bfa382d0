/*
 * metrics_int.h — shared between the files of metrics/, not public.
 *
 *   collect.c   the counts over the log's events (struct ldg_metrics),
 *               updated incrementally, and their cache file
 *   render.c    the text exposition format
 *   endpoint.c  GET /metrics for `ledger serve --metrics`
 */
#ifndef LDG_METRICS_INT_H
#define LDG_METRICS_INT_H

#include "metrics/metrics.h"
#include "ledger/module.h"
#include "util/util.h"

/* The histograms' upper bounds, in seconds (Prometheus's default buckets
 * stretched to the minutes a slow local model takes). */
#define M_NBUCKETS 14
extern const double metrics_bounds[M_NBUCKETS];

struct m_hist {
    uint64_t b[M_NBUCKETS]; /* observations <= bound i (not cumulative) */
    uint64_t count;         /* all observations, +Inf included */
    double sum;             /* seconds */
};

struct m_type {
    char name[LDG_TYPE_MAX + 1]; /* "other" for the overflow */
    uint64_t n;
};

struct m_model {
    char name[LDG_METRICS_LABEL_MAX + 1];
    struct m_hist lat, ttft;
    uint64_t tok_in, tok_out, req_bytes, resp_bytes, fallbacks;
};

/* Requests by (model, status, outcome): indexes into models, statuses
 * (M_OTHER_STATUS: "other") and metrics_outcomes. */
struct m_req {
    uint16_t model, status, outcome;
    uint64_t n;
};

#define M_NOUTCOMES 5
extern const char *const metrics_outcomes[M_NOUTCOMES]; /* ... "other" */
#define M_OTHER_STATUS 0xffffu

/* The events a span becomes (route.decision, run.step, otel.span), then
 * a log record's (otel.log), as ledger_otlp_events_total labels them. */
#define M_NOTLP 4
extern const char *const metrics_otlp_types[M_NOTLP];

struct ldg_metrics {
    uint64_t size;    /* events counted: [0, size) */
    uint8_t leaf[32]; /* leaf hash of event size-1 (size > 0) */
    struct m_type *types;
    size_t ntypes; /* the last may be "other" */
    struct m_model *models;
    size_t nmodels; /* at most LDG_METRICS_MODELS_MAX + 1 ("other") */
    unsigned statuses[LDG_METRICS_STATUSES_MAX];
    size_t nstatuses;
    struct m_req *reqs;
    size_t nreqs, capreqs;
    uint64_t proxy_events;
    /* events the OTLP receiver made (ids "otlp:" for a span, "otlp-log:"
     * for a log record), by metrics_otlp_types */
    uint64_t otlp[M_NOTLP];
};

#endif
