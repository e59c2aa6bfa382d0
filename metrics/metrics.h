/*
 * metrics.h — the ledger's state in the Prometheus text exposition format
 * (version 0.0.4, the format node_exporter's textfile collector reads), for
 * `ledger metrics` and `ledger serve --metrics ADDR` (docs/METRICS.md).
 *
 * Two kinds of figures:
 *
 *   - figures read from the ledger as it is now (log size, last commit and
 *     checkpoint, verification, the doctor, route readiness, disk), asked
 *     afresh each time: each costs a lookup or a projection read;
 *   - figures counted over the log's events (events by type; the proxy's
 *     requests, latencies, time to first token and tokens, computed from
 *     its route.decision events that carry "upstream" and its
 *     proxy.request events). They come from the log, not from a process,
 *     so they survive restarts and do not depend on which process ran the
 *     proxy. They are counted incrementally: a struct ldg_metrics holds
 *     the counts up to a log size and ldg_metrics_update adds the events
 *     after it; a cache file (ldg_metrics_load/_save) carries the counts
 *     from one run of `ledger metrics` to the next, so a scrape reads only
 *     the events appended since the last one.
 *
 * Label values are bounded, as Prometheus asks (no run or request ids):
 * event types, models and HTTP statuses beyond LDG_METRICS_*_MAX distinct
 * values are counted under "other"; a model name longer than
 * LDG_METRICS_LABEL_MAX bytes is "other" too.
 *
 * Threads: a struct ldg_metrics is used by one thread at a time.
 */
#ifndef LDG_METRICS_H
#define LDG_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/ledger.h"

#include "otlp/otlp.h"
#include "serve/serve.h"

#define LDG_METRICS_TYPES_MAX 256   /* distinct event types labelled */
#define LDG_METRICS_MODELS_MAX 64   /* distinct proxy models labelled */
#define LDG_METRICS_STATUSES_MAX 32 /* distinct HTTP statuses labelled */
#define LDG_METRICS_LABEL_MAX 128   /* bytes of a label value */
/* The cache file's name inside the ledger directory. */
#define LDG_METRICS_CACHE_FILE "metrics-cache.json"

struct ldg_metrics;

/* Empty counts (log size 0). LDG_ENOMEM. */
int ldg_metrics_new(struct ldg_metrics **out);
/* NULL is a no-op. */
void ldg_metrics_free(struct ldg_metrics *m);

/* The log size the counts are up to. */
uint64_t ldg_metrics_size(const struct ldg_metrics *m);

/* Adds the events of t's snapshot after ldg_metrics_size(m): events by
 * type through the type index (one cursor step an event), the proxy's
 * events by reading their bodies in place. When the log is shorter than
 * the counts, or its event ldg_metrics_size - 1 is not the one counted
 * (another log), the counts start again from 0. *scanned (may be NULL)
 * gets the events read. LDG_ECORRUPT with the event in err if one does
 * not decode. Cost: O(events added). */
int ldg_metrics_update(struct ldg_metrics *m, struct ldg_txn *t,
                       uint64_t *scanned, char *err, size_t errcap);

/* Reads counts saved by ldg_metrics_save into m (replacing its counts).
 * LDG_ENOTFOUND when there is no file; LDG_ECORRUPT when it is not one
 * this code wrote (another version, damaged): the caller then starts from
 * empty counts, which is always correct, only slower. */
int ldg_metrics_load(struct ldg_metrics *m, const char *path);
/* Writes the counts to path whole (temporary file, rename; mode 0640).
 * LDG_EIO with err when it cannot. */
int ldg_metrics_save(const struct ldg_metrics *m, const char *path, char *err,
                     size_t errcap);

/* Renders every figure of the ledger l (opened, read-only is enough) and
 * the counts in m (bring them up to date first) in the text exposition
 * format: the ledger's own state, the doctor, routes, disk, the interval
 * jobs of DIR/serve-status.json when a server has run there, and the
 * proxy. The doctor and the route view read the projections (no replay
 * unless they are behind).
 * @return 0 and *out, a NUL-terminated text of *len bytes; or a negative
 *   code with ldg_errmsg(l) (LDG_ENOMEM, LDG_ETOOBIG without).
 * Lifetime: *out is the caller's (free). */
int ldg_metrics_render(struct ldg_metrics *m, struct ldg_ledger *l, char **out,
                       size_t *len);

/* Renders a running server's counters (ldg_serve_stats) as the
 * ledger_serve_* families; the endpoint of `ledger serve --metrics` adds
 * them to ldg_metrics_render's text.
 * @return 0 and *out (NUL-terminated, *len bytes); LDG_ENOMEM.
 * Lifetime: *out is the caller's (free). */
int ldg_metrics_render_serve(const struct ldg_serve_stats *st, char **out,
                             size_t *len);

/* Renders an OTLP receiver's counters (ldg_otlp_stats: spans and log
 * records received, recorded, duplicate, rejected, dropped; requests
 * refused, by reason, and throttled) as the ledger_otlp_* families (the
 * refused by their reason label), which `ledger
 * serve --otlp ADDR --metrics ADDR` adds to its /metrics.
 * @return 0 and *out (NUL-terminated, *len bytes); LDG_ENOMEM.
 * Lifetime: *out is the caller's (free). */
int ldg_metrics_render_otlp(const struct ldg_otlp_stats *st, char **out,
                            size_t *len);

/* ------------------------------------------------------------ endpoint -- */

/*
 * `ledger serve --metrics ADDR`: GET /metrics over HTTP (http/server.h).
 * The server process's ledger handle belongs to its writer thread, and
 * LMDB forbids opening the same environment twice in one process, so each
 * scrape runs `ledger --dir DIR metrics` (this program, /proc/self/exe) as
 * a child with a time limit, and appends the server's own counters (fn)
 * to what it prints. The child keeps the counts in DIR's cache file, so a
 * scrape reads only the events appended since the one before.
 *
 * Addresses: "127.0.0.1:9464", "[::1]:9464", "localhost:9464" or a bare
 * port (loopback); any other address only with allow_remote set (the
 * figures name packs, models and routes: exposing them off the box is
 * the operator's explicit choice).
 */
struct ldg_metrics_endpoint;
struct ldg_metrics_endpoint_opts {
    const char *listen;  /* required */
    const char *dir;     /* the ledger directory; copied */
    int allow_remote;    /* accept a non-loopback address */
    unsigned timeout_ms; /* the child's time limit; 0 = 10000 */
    /* The serving process's own families, appended to each scrape (may
     * be NULL): a malloc'd text of *len bytes the endpoint frees, or
     * NULL for none. Called on the endpoint's threads. */
    char *(*extra)(void *ctx, size_t *len);
    /* Told why a scrape had only the server's own figures ("metrics:
     * `ledger metrics` exited with 74 ..."), one line without a newline
     * (may be NULL: nothing is said; the scrape's ledger_metrics_scrape_ok
     * is 0 either way). Called on the endpoint's threads. */
    void (*log)(void *ctx, const char *line);
    void *ctx;
};
/* 0 and *out (stop with ldg_metrics_endpoint_stop); LDG_EBADINPUT for an
 * address that does not parse or is not loopback (without allow_remote),
 * LDG_EIO when it cannot listen or find its own program; err says why. */
int ldg_metrics_endpoint_start(struct ldg_metrics_endpoint **out,
                               const struct ldg_metrics_endpoint_opts *o,
                               char *err, size_t errcap);
/* The TCP port listened on. */
unsigned ldg_metrics_endpoint_port(const struct ldg_metrics_endpoint *e);
/* Stops serving and frees e. NULL is a no-op. */
void ldg_metrics_endpoint_stop(struct ldg_metrics_endpoint *e);
/* Whether listen is a loopback address as above: 1 yes, 0 no (another
 * address), -1 it does not parse. */
int ldg_metrics_addr_loopback(const char *listen);

#endif
