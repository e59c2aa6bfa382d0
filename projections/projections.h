/*
 * projections.h — state computed from the events: packs, permissions,
 * models, routes, promotions, runs and the log-derived part of the doctor.
 *
 * Every projection is a deterministic fold over the log into its own LMDB
 * database ("proj.<name>"), updated by an applier inside the append's
 * write transaction, so a reader never sees the log and a projection
 * disagree. Each carries a code version, the number of events applied and
 * a digest of its whole state (docs/format-projections.md). Derived states
 * (a pack's state, a route's readiness, the doctor's clauses) are computed
 * from the records when read; they are never stored as claims.
 *
 * Reading never shows stale state: if the stored records are behind the
 * log (an appender without projections attached) the missing events are
 * folded in memory for the answer; if their version is not this code's,
 * the whole answer is computed from the log (and `ledger rebuild` or any
 * writable open fixes the store; at a store layout older than this
 * build's, both refuse and `ledger migrate` does it).
 *
 * "size" below is a number of events: the state after the first `size`
 * events of the log, i.e. "as of event size-1". 0 means "the current
 * log". The JSON returned uses strings for sequence numbers and
 * nanosecond times.
 *
 * Conventions as in ledger/ledger.h: 0 or a negative enum ldg_error, a
 * message in ldg_errmsg(l), `json_t **out` owned by the caller
 * (json_decref).
 */
#ifndef LDG_PROJECTIONS_H
#define LDG_PROJECTIONS_H

#include <stdint.h>

#include <jansson.h>

#include "ledger/ledger.h"

/* Progress of long operations: (events done, events total). */
typedef void (*ldg_projections_progress_fn)(void *ctx, uint64_t done,
                                            uint64_t total);

/*
 * Registers the projections' applier on a writable handle, so every
 * append keeps them current in the same transaction, and signs, at each
 * commit, a projection note binding the new log size to each
 * projection's version and digest (stored by size; see
 * ldg_projections_note). Before returning it brings the store up to date:
 * projections whose stored version differs from the code's (or that were
 * never built) are rebuilt from the log, and projections behind the log
 * are caught up. It also registers the applier of proj.verified, the
 * index of successful model verifications query's model_at seeks in
 * (projections/verified.h), filling it first when it is behind the log.
 * Call once per handle, right after ldg_open. Cost: O(1) when the store
 * is current; O(log) for a rebuild.
 * On a read-only handle (LDG_RDONLY) it writes nothing and only registers
 * the appliers: each read transaction then folds into the views, in its
 * own memory, what the store's projections lack (at store layout 9, the
 * intake's unapplied tail, which every read transaction replays), so a
 * view read through it is current without a fold of the whole log.
 */
int ldg_projections_attach(struct ldg_ledger *l);
/* The same, reporting rebuild/catch-up progress to fn (may be NULL). */
int ldg_projections_attach_progress(struct ldg_ledger *l,
                                    ldg_projections_progress_fn fn, void *ctx);

/* Bit of the projection named name ("packs", "permissions", "models",
 * "routes", "promotions", "runs", "plans", "memory", "builds"), or 0 if
 * unknown. */
unsigned ldg_projections_bit(const char *name);
/* The name of the projection whose bit is bit (one bit), or NULL. Static
 * text. */
const char *ldg_projections_name(unsigned bit);
/* All projection bits. */
#define LDG_PROJECTIONS_ALL 0x1ffu

enum ldg_proj_view {
    LDG_VIEW_PACKS,
    LDG_VIEW_PERMISSIONS,
    LDG_VIEW_MODELS,
    LDG_VIEW_ROUTES,
    LDG_VIEW_PROMOTIONS,
    LDG_VIEW_RUNS,
    LDG_VIEW_DOCTOR,
    /* the control pipeline (issue 34; docs/PROJECTIONS.md) */
    LDG_VIEW_PLANS,     /* filter: plan */
    LDG_VIEW_SNAPSHOTS, /* all snapshots */
    LDG_VIEW_TRIPCODES, /* filter: code */
    LDG_VIEW_MEMORY,    /* filter: item */
    LDG_VIEW_GATES      /* one object; since_ns bounds the window */
};

struct ldg_view_opts {
    uint64_t at_size;   /* 0 = current; N = after the first N events */
    const char *filter; /* pack (packs, permissions, doctor) or run */
    ldg_projections_progress_fn progress; /* for --at replays; may be NULL */
    void *progress_ctx;
    uint64_t since_ns; /* LDG_VIEW_GATES: events at or after this time */
    int only_flagged;  /* LDG_VIEW_PLANS, LDG_VIEW_MEMORY: only the rows
                        * with violations (the doctor's question; a
                        * filter that names a row without any gives
                        * LDG_ENOTFOUND) */
};

/*
 * Computes a view. *out is a JSON array with one object per row, sorted
 * by key (LDG_VIEW_DOCTOR: one object {"size", "verdict", "packs": [...],
 * "box": [...]} holding the log-derived clauses only; doctor/doctor.h
 * adds the live box-wide ones). A filter that names nothing gives
 * LDG_ENOTFOUND. at_size beyond the log gives LDG_EINVAL.
 * Cost: current state reads the records (no replay unless behind);
 * at_size replays the first at_size events in memory, reading only those
 * of the types that can change what the view reads (permissions: pack
 * and permission events, from the type index; plans, snapshots,
 * tripcodes, memory, promotions: the pipeline's and the promotions'
 * events, likewise; doctor, packs, routes, models and gates: all but
 * the runs' own events, whose bodies are not read).
 */
int ldg_projections_view(struct ldg_ledger *l, enum ldg_proj_view view,
                         const struct ldg_view_opts *opts, json_t **out);
/*
 * The doctor (LDG_VIEW_DOCTOR, no filter) after each size from lo to hi
 * (1 <= lo <= hi <= the log's size), in order: fn gets each as a new
 * reference it owns; a non-zero return stops (returned if negative).
 * Each answer is ldg_projections_view's at that size. Cost: one replay of
 * the first lo events in memory, then one event a size (not a replay a
 * size).
 */
int ldg_projections_doctor_each(struct ldg_ledger *l, uint64_t lo, uint64_t hi,
                                int (*fn)(void *ctx, uint64_t size,
                                          json_t *doctor),
                                void *ctx);
/* The doctor's verdicts by rank: "healthy" 0 < "unknown" 1 (and NULL) <
 * "degraded" 2 < "blocked" 3 (and any other text); the name of a rank
 * (clamped to 0..3). */
int ldg_projections_verdict_rank(const char *verdict);
const char *ldg_projections_verdict_name(int rank);

/*
 * The promotion gate (VOCABULARY.md, "promotions") for promoting candidate
 * on target with eval_id, against the current state — the rule that marks
 * a recorded promotion.promoted `ungated`, asked before writing one: the
 * eval has a result, passed, is for this target and candidate, and is no
 * worse than the current promoted candidate's eval (pass rate, p50
 * latency, policy violations). Returns 1 if the gate holds, 0 if not
 * (why gets the reason), < 0 on error.
 */
int ldg_projections_gate(struct ldg_ledger *l, const char *target,
                         const char *candidate, const char *eval_id, char *why,
                         size_t whycap);

/*
 * One object per projection: {"name", "version", "code_version",
 * "applied" (events folded), "last_seq", "digest" (hex), "records",
 * "current" (bool: version matches and nothing behind), "behind"}, plus a
 * final {"name": "doctor", "version", "digest"} whose digest is SHA-256
 * of the canonical JSON of the log-derived doctor. at_size 0 reads the
 * store; otherwise the state is recomputed at that size.
 */
int ldg_projections_list(struct ldg_ledger *l, uint64_t at_size, json_t **out);
/*
 * The records projection name ("plans", as ldg_projections_list names it)
 * holds after at_size events (0 = now): ldg_projections_list's "records"
 * for it. LDG_EINVAL for a name no projection has. Cost: now, a read of
 * its stored meta; at_size, a replay of the events that can change it.
 */
int ldg_projections_records(struct ldg_ledger *l, const char *name,
                            uint64_t at_size, uint64_t *out);

/*
 * Replays the log into fresh state for the projections in mask and swaps
 * it in atomically (one write transaction: an interrupted rebuild leaves
 * the old state in place). *report (may be NULL) gets an array of
 * {"name", "events", "before", "after", "changed", "note"} where before
 * and after are digests and note says whether the state matches the
 * signed projection note at that size. With the models projection,
 * proj.verified (the index of model verifications) is emptied and filled
 * again too. Needs a writable handle.
 */
int ldg_projections_rebuild(struct ldg_ledger *l, unsigned mask,
                            ldg_projections_progress_fn fn, void *ctx,
                            json_t **report);

/*
 * Rebuilds the projections in mask into scratch memory at the size the
 * store has applied and compares with the stored records. *diffs gets an
 * array of {"projection", "key", "what", "stored", "rebuilt"} (empty when
 * they agree); *ndiff their count. With the models projection,
 * proj.verified is compared with what the events it covers call for too
 * (differences with "projection": "verified"). Works on read-only
 * handles.
 */
int ldg_projections_check(struct ldg_ledger *l, unsigned mask,
                          ldg_projections_progress_fn fn, void *ctx,
                          json_t **diffs, uint64_t *ndiff);

/*
 * What `verify --full` asks of the projections: ldg_projections_check of
 * the records the views answer from. They do when every projection is
 * stored at this code's version and at one size within the log; any
 * other state is computed from the log when read (and `ledger doctor`
 * says so), and needs no check. *checked gets the bits checked (0 when
 * none is answered from: *diffs is then an empty array). *diffs, owned by
 * the caller, and *ndiff as ldg_projections_check gives them. Works on
 * read-only handles. Cost: a fold of the log up to the stored size.
 */
int ldg_projections_check_stored(struct ldg_ledger *l,
                                 ldg_projections_progress_fn fn, void *ctx,
                                 json_t **diffs, uint64_t *ndiff,
                                 unsigned *checked);

/*
 * The projected state for bundles: {"size": "N", "packs": [...],
 * "routes": [...], "promotions": [...], "doctor": {...}, "plans": [...]
 * (only when the log has plans), "note": "<signed
 * projection note for that size>" or null}. at_size 0 = current; N = the
 * state after the first N events (same as --at N-1). A note not stored
 * for that size is signed now when l holds the log key (null without).
 */
int ldg_projections_state_json(struct ldg_ledger *l, uint64_t at_size,
                               json_t **out);

/* For a prune (retention/): in the write transaction t, before the events
 * are removed, keeps the projections' state after the first hz events as
 * they fold now (records and proj.verified's keys) in proj.horizon, where
 * every later fold from the start begins (rebuild, --at, check), with the
 * signed projection note for exactly that state beside it, and gives the
 * SHA-256 of that note's text (the horizon record's "state"). note is the
 * note the archive carries (ldg_projections_horizon_state's), or NULL:
 * the note signed at hz when it is this state's, else one signed now.
 * The state kept at the ledger's horizon is folded on in place: memory
 * holds the records the events since it touch, not the state (a scan of
 * its stored records gives its digests).
 * @return 0; LDG_ETAMPER (note is not this state's: a body was erased
 * since it was signed; message on the ledger); LDG_ECORRUPT (the state
 * kept at the horizon is not the one the horizon record names); LDG_EKEY
 * (signing). */
int ldg_projections_horizon(struct ldg_txn *t, uint64_t hz, const char *note,
                            uint8_t state[32]);

/* The projected state after the first hz events as the log folds them
 * now (a body erased since folded as erased: what a prune at hz keeps),
 * as ldg_projections_state_json gives it but without "note", and the
 * signed projection note for exactly that state: the one the applier
 * signed at hz when its text is this state's, else one signed now with
 * the log key (an erasure after hz changed what the first hz events fold
 * to). *state and *note (malloc'd) are the caller's.
 * @return 0; LDG_EKEY (a note to sign, and no log key file). Cost: a
 * fold of the events before hz (from the state kept at the horizon). */
int ldg_projections_horizon_state(struct ldg_ledger *l, uint64_t hz,
                                  json_t **state, char **note);

/* The signed projection note stored for log size (0 = the latest one).
 * *out malloc'd. LDG_ENOTFOUND if none was signed at that size. */
int ldg_projections_note(struct ldg_ledger *l, uint64_t size, char **out);

#endif
