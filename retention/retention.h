/*
 * retention.h — keeping a ledger for a stated time: archive the old
 * events into an evidence bundle, prune them from the ledger, and keep
 * proving everything (docs/RETENTION.md).
 *
 *   archive   every event before a horizon, written as a segment
 *             (ledger/module.h, FORMAT.md 11) proven by its leaves against
 *             the checkpoint at the horizon, with the projected state
 *             there (or, on request, as an evidence bundle)
 *   prune     removes the entries, bodies, seals and index keys of the
 *             events before the horizon, only after checking that a file
 *             is exactly their archive; keeps every tree hash, checkpoint
 *             and key, a horizon record signed by the log key, and the
 *             projections' records at the horizon (so rebuild starts
 *             there); appends a `ledger.pruned` event in the same commit
 *   policy    `prune --policy` by DIR/retention.json (policy/policy.h:
 *             keep at least N days, a disk budget, where archives go)
 *
 * A horizon is a number of events H: events 0..H-1 are before it. It is
 * always the size of a stored checkpoint (a commit boundary, so no seal
 * spans it); a requested horizon is rounded down to one.
 *
 * Conventions as in ledger/ledger.h: 0 or a negative enum ldg_error, a
 * message in ldg_errmsg(l) (or err for the policy), nothing borrowed past
 * a call unless said.
 */
#ifndef LDG_RETENTION_H
#define LDG_RETENTION_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/ledger.h"
#include "policy/policy.h"

/* ------------------------------------------------------------ horizon -- */

/* Where a horizon asked for lands. */
struct ldg_retention_horizon {
    uint64_t first;     /* the ledger's first event now (its horizon) */
    uint64_t requested; /* events before this were asked for */
    uint64_t horizon;   /* rounded down to a commit's end (a checkpoint) */
    uint64_t size;      /* events in the log */
    uint64_t until_ns;  /* time of event horizon-1 */
    uint64_t before_ns; /* before was a time: the one it was read as (0: a
                           seq) */
    int past_end;       /* before lay past the log's last event: all of it */
};

/* Resolves `before` — a seq (digits: the events before it) or a time
 * (systemd.time or RFC 3339, as query's -S takes it: the events before
 * it) — against now_ns, rounded down to the largest checkpoint size at or
 * below it, as ldg_query_parse_point reads it (a sign and a number alone
 * is refused: a unit is asked for). @return 0; LDG_EBADINPUT (not a seq
 * or time); LDG_ENOTFOUND
 * when nothing is left before it past the ledger's horizon (message on l
 * names both). */
int ldg_retention_resolve(struct ldg_ledger *l, const char *before,
                          uint64_t now_ns, struct ldg_retention_horizon *h);

/* ------------------------------------------------------------ archive -- */

struct ldg_archive_opts {
    const char *before; /* a seq or a time (ldg_retention_resolve) */
    const char *out;    /* the file to write (refused if it exists) */
    int level;          /* zstd level; 0 = 1 */
    /* Write an evidence bundle (export/export.h) as archive did before
     * segments, not a segment: proven against the checkpoint at the
     * horizon with the state there, or, when a body of an archived event
     * was erased after it, against the log's latest with no state. */
    int bundle;
    void (*progress)(void *ctx, uint64_t done, uint64_t total);
    void *progress_ctx;
    /* told of each read snapshot a segment's writer begins (1) and ends
     * (0), a window at a time (export.h's ldg_export_segment_opts) */
    void (*snapshot)(void *ctx, int held);
    void *snapshot_ctx;
};

struct ldg_archive_report {
    struct ldg_retention_horizon h;
    uint64_t events; /* events archived: h.first .. h.horizon-1 */
    uint64_t bytes;
    uint8_t sha256[32]; /* of the file */
    /* 0 (a segment's readers need no --max-bytes: they stream it) */
    uint64_t max_bytes;
    /* the checkpoint it is proven against: h.horizon, or, when a body of
     * an archived event was erased by a body.erased after the horizon,
     * the log's latest, which holds those erasures: the segment carries
     * them (and its keys' events after the horizon) as `after` proven
     * events, its events' root taken to that checkpoint by a consistency
     * proof */
    uint64_t checkpoint_size;
    uint64_t erased_by; /* UINT64_MAX (kept for the report's shape) */
    uint64_t after;     /* proven events after the horizon it carries */
    uint64_t erased;    /* bodies of archived events erased */
};

/* Writes every event from the ledger's horizon to the horizon `before`
 * resolves to into a segment (ledger/module.h, FORMAT.md 11): their
 * entries and bodies, proven by their leaves against the checkpoint at
 * that horizon, with the projected state there and a note signed for it;
 * nothing redacted. The file is written beside its path, synced and
 * linked in place (export.h's ldg_export_segment).
 * @return 0; the codes of ldg_retention_resolve and ldg_export_write. */
int ldg_retention_archive(struct ldg_ledger *l,
                          const struct ldg_archive_opts *o,
                          struct ldg_archive_report *r);

/* ------------------------------------------------------------- prune -- */

struct ldg_prune_opts {
    const char *before;  /* a seq or a time */
    const char *archive; /* the archive of exactly those events */
    /* Refuse to prune an event younger than keep_days days (by its ledger
     * time against now_ns) unless force is set; 0 = no minimum. */
    uint32_t keep_days;
    int force;
    uint64_t now_ns; /* 0 = the clock */
};

struct ldg_prune_report {
    struct ldg_retention_horizon h;
    uint64_t events;     /* events removed */
    uint64_t pruned_seq; /* seq of the ledger.pruned event */
    uint8_t archive_sha256[32];
    uint64_t entries, bodies, seals, index_keys; /* records removed */
    uint64_t tiles; /* store layout 9: level-0 hash tiles dropped */
    uint64_t used_before, used_after; /* bytes of pages in use */
    int steps;     /* commits the prune took (one per step of at most 65,536
                      events at first, fewer when LMDB found one too large) */
    int continued; /* it went on with a prune a crash stopped between two
                      steps: the archive holds events before h.first too */
    /* run again after it was done: nothing pruned, the archive is the one
     * a kept record pins (why says which record) */
    int already;
    char why[900];
    /* "" when the metrics' counts (ldg_metrics_catch_up) were brought up
     * to the log before events were removed, or need not be; else why
     * not (the prune went on: after it, a count starts at the horizon) */
    char metrics_note[600];
};

/* Checks that o->archive is a bundle that verifies with this ledger's log
 * key, proven against its own checkpoint at the horizon, of exactly the
 * events h.first..horizon-1, nothing withheld; then keeps the projections'
 * state at the horizon, removes the events and appends ledger.pruned.
 * Nothing is removed when any check fails. The removal is made in steps,
 * a commit each, that end where a commit of the log ends (at most 65,536
 * events a step, halved when LMDB finds a step too large for one
 * transaction, never less than one commit of the log): a crash between
 * two leaves a ledger pruned at the first one's end, which verifies, and
 * the same prune run again goes on with the same archive (its horizon
 * record names it). ledger.pruned is appended by the last step. Before
 * the first step, the metrics' cached counts are brought up to the log
 * (ldg_metrics_catch_up), so the counts of the events removed are kept.
 * Run again after it was done (every event asked for is before the
 * horizon), nothing is removed and r->already is set, when o->archive is
 * the archive a kept record pins by its SHA-256 (the horizon record, or a
 * kept ledger.pruned event); another file is refused.
 * @return 0; LDG_ETAMPER (the archive is not that: message names what,
 * and which archive is); LDG_ENOTFOUND (no archive file, nothing to
 * prune); LDG_EINVAL (the retention minimum, without force); LDG_ETXNFULL
 * (one commit of the log is too large to remove in one transaction: the
 * steps before it are made); the codes of the write. */
int ldg_retention_prune(struct ldg_ledger *l, const struct ldg_prune_opts *o,
                        struct ldg_prune_report *r);

/* ------------------------------------------------------------ policy -- */

struct ldg_policy_report {
    int pruned;   /* prunes made (one per archive); 0: nothing to do (why
                     says) */
    int archived; /* archives written in this run (an archive a crash left
                     is used, not written again) */
    uint64_t first, events; /* the first event pruned, how many in all */
    /* the budget needs younger events than keep_days allows: only the
     * older ones were pruned, without force (budget_why says) */
    int budget_refused;
    char budget_why[400];
    uint64_t used;        /* bytes in use before */
    uint64_t over_budget; /* bytes in use past the budget, before */
    /* after pruning, with a budget: bytes in use still past it (0: within
     * it), and the bytes no prune removes (every event's tree hashes, the
     * checkpoints, the projections' state, the keys) */
    uint64_t over_budget_after, kept_for_all;
    char why[256];
    char archive[4200];
    /* an archive of the name already there that failed its check: moved
     * to set_aside (kept) and written again; set_aside_why says why */
    char set_aside[4300];
    char set_aside_why[600];
    struct ldg_archive_report ar;
    struct ldg_prune_report pr;
};

/* `ledger prune --policy`: archives into p->archive_dir
 * (ledger-FIRST-LAST.segment, at most LDG_RETENTION_ARCHIVE_MAX events
 * each, one prune each) and prunes the events older than p->keep_days,
 * and, when the store's pages in use exceed p->disk_budget, as many more
 * of the oldest as hold the excess (at the average bytes an event takes),
 * unless that reaches events younger than keep_days and force is not set.
 * An archive of exactly that name already there (a run a crash stopped)
 * is checked like any. @return 0 (r->pruned says whether anything was);
 * the codes of archive and prune. */
int ldg_retention_apply(struct ldg_ledger *l,
                        const struct ldg_retention_policy *p, int force,
                        uint64_t now_ns, struct ldg_policy_report *r);

#endif
