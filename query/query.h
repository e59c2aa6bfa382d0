/*
 * query.h — journalctl-style matching over the ledger: query, timeline,
 * follow.
 *
 * A query is a list of terms FIELD=VALUE: different fields AND, the same
 * field repeated ORs, and a lone "+" starts a new OR group (the query
 * matches when any group matches). FIELD!=VALUE negates: it holds when
 * FIELD=VALUE does not (for body.NAME only when the body has NAME);
 * several != terms of one field AND (none of the values). Any other
 * operator or an unknown field is refused. Fields:
 *
 *   type=GLOB        event type; * ? [..] globs (route.*)
 *   subject=GLOB     subject "kind:name"; globs allowed
 *   run=ID           the envelope's run link ("run=" = events of no run)
 *   actor=NAME|ID    signing key, by key name or 16-hex key id
 *   pack=P           subject "pack:P", or body field pack == P
 *   model=M          subject "model:M", or body model / chosen_model == M
 *   route=R          subject "route:R", or body field route == R
 *   seq=N | A..B     sequence numbers (A.. and ..B are open)
 *   body.NAME=VALUE  a body field (NAME may be a dotted path a.b) equal to
 *                    VALUE: strings exactly, numbers numerically, true/
 *                    false/null by name; an array matches if an element
 *                    does
 *
 * An optional time window [since, until] (both inclusive) uses systemd
 * .time(7) or RFC 3339 syntax (see ldg_query_parse_time).
 *
 * The iterator streams: it picks, per OR group, the most selective source
 * (idx.run, then idx.subject, idx.type, idx.actor, a scan of stored
 * bodies with a byte prefilter for body.* terms, the time range, or a
 * full scan), merges the groups' sources by sequence number and holds a
 * constant amount of memory whatever the size of the result.
 * See docs/QUERY.md.
 */
#ifndef LDG_QUERY_H
#define LDG_QUERY_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "ledger/ledger.h"

/* -------------------------------------------------------------- matcher -- */

struct ldg_query;

/* Compiles journalctl-style terms (FIELD=VALUE and "+"), and optional
 * since/until specs (systemd.time or RFC 3339; NULL = none). On a bad term
 * or time, LDG_EBADINPUT with a message in err. */
int ldg_query_compile(struct ldg_query **out, int nterms, char *const *terms,
                      const char *since, const char *until, char *err,
                      size_t errcap);
void ldg_query_free(struct ldg_query *q);
/* Notes on q's terms that are not errors, one a line, or NULL: type=NAME
 * or type!=NAME (no glob, not x.) naming no vocabulary type matches
 * nothing, with the closest type if near. Valid until q is freed. */
const char *ldg_query_notes(const struct ldg_query *q);

struct ldg_query_iter;

/* LDG_QUERY_KEEP_HINT: one of a series of iterators over one scan, a
 * window each (ldg_query_iter_window): a long scan's hints to the kernel
 * (read ahead, sequential access) are given by the first that needs them
 * and kept when it is freed, instead of given and taken back by each
 * (costly a thousand times over: each read ahead the rest of the scan),
 * until ldg_query_release_hint. */
enum ldg_query_flags { LDG_QUERY_REVERSE = 1, LDG_QUERY_KEEP_HINT = 2 };

/* Iterates matching events in seq order (reverse with the flag) within t's
 * snapshot. The iterator borrows q and t. */
int ldg_query_iter_new(struct ldg_query_iter **out, const struct ldg_query *q,
                       struct ldg_txn *t, unsigned flags);
/* 0 with *ev filled (ev->entry valid until t ends), LDG_ENOTFOUND at the
 * end, other codes on error. */
int ldg_query_iter_next(struct ldg_query_iter *it, struct ldg_event *ev);
void ldg_query_iter_free(struct ldg_query_iter *it);

/* A read window: from this call on, ldg_query_iter_next returns
 * LDG_QUERY_WINDOW_END instead of examining another event once it has
 * examined max_events (0: no count) or max_ms have passed (0: no time;
 * the clock is read every 64 events). The caller then ends its read
 * transaction (so a reader that waits, or is stopped, while it writes
 * what it read pins no snapshot: docs/QUERY.md, "Readers and the file's
 * growth") and goes on from ldg_query_iter_position in a new one with a
 * new iterator: the log's events never change once appended, so the
 * answer is the same, unless a prune removed events meanwhile. */
#define LDG_QUERY_WINDOW_END 3
void ldg_query_iter_window(struct ldg_query_iter *it, uint64_t max_events,
                           uint64_t max_ms);
/* 1 with *seq the last event it examined (matched or not: every event
 * before it, after it with LDG_QUERY_REVERSE, is done), 0 when it
 * examined none. */
int ldg_query_iter_position(const struct ldg_query_iter *it, uint64_t *seq);
/* Takes back the scan hints iterators of q made with LDG_QUERY_KEEP_HINT
 * gave on l's map, if any (the map is random-access again). */
void ldg_query_release_hint(struct ldg_query *q, struct ldg_ledger *l);

/* ------------------------------------------------------ matcher extras -- */

/* Parses one time spec (systemd.time(7): "now", "today", "yesterday",
 * "tomorrow" [TZ], "@SECS[.frac]", "-1h", "+3d", "11min ago", "1h 30min
 * ago", "[Weekday] YYYY-MM-DD [HH:MM[:SS[.frac]]] [UTC|±HH:MM|zone]",
 * "HH:MM[:SS]"; RFC 3339 "2026-11-20T10:00:00Z") relative to now_ns
 * (nanoseconds since the epoch). Local times use the TZ environment.
 * *out_ns gets nanoseconds since the epoch. LDG_EBADINPUT with a message
 * naming the spec and what is wrong. */
int ldg_query_parse_time(const char *spec, uint64_t now_ns, uint64_t *out_ns,
                         char *err, size_t errcap);

/* A point of the log as `--at SEQ|TIME` and `--before SEQ|TIME` take it:
 * digits are a sequence number (*seq set, returns 1), anything else a time
 * as ldg_query_parse_time reads it relative to now_ns (*ns set, returns
 * 0). A sign and a number alone ("-1", "+5"), which the time grammar
 * reads as seconds from now, is refused: beside sequence numbers it is a
 * slip, so a unit is asked for ("-1s", "-1d"). LDG_EBADINPUT with err
 * naming the spec and what is wrong: that, a number past 2^64-2, or
 * neither a number nor a time. */
int ldg_query_parse_point(const char *spec, uint64_t now_ns, uint64_t *seq,
                          uint64_t *ns, char *err, size_t errcap);
/* A point as `--at SEQ|TIME` takes it: ldg_query_parse_point, and a time
 * after now_ns ("+1h", "tomorrow") is refused, since the log holds no
 * state after now and taking it as now would answer another question in
 * silence: LDG_EBADINPUT, err "'+1h' is in the future (Nov 27 18:13:00)",
 * and *ns set to that time, so a caller can tell this refusal from the
 * others (which leave *ns as it was). `--before` takes
 * ldg_query_parse_point: a cut past the log's last event is all of it. */
int ldg_query_parse_at(const char *spec, uint64_t now_ns, uint64_t *seq,
                       uint64_t *ns, char *err, size_t errcap);

/* Further restricts q to events with seq_lo <= seq <= seq_hi (ANDed with
 * everything else; calling again replaces the previous bounds). Used for
 * --after-cursor and follow mode. */
void ldg_query_restrict(struct ldg_query *q, uint64_t seq_lo, uint64_t seq_hi);

/* Adds a PCRE2 pattern matched against the event's text: "TYPE SUBJECT
 * run=RUN actor=NAME BODY-JSON" (compact JSON; "[erased]" for an erased
 * body). A pattern with no uppercase letter matches case-insensitively
 * (journalctl's rule). Patterns added by several calls OR (an event is
 * kept when any matches, as git log --grep does). LDG_EBADINPUT with
 * PCRE2's message and offset, or when more than 64 are added. */
int ldg_query_set_grep(struct ldg_query *q, const char *pattern, char *err,
                       size_t errcap);

/* The body the iterator decoded while matching the event it returned last
 * (so a caller need not decode it again): 1 with *body set (borrowed until
 * the next call on it), 0 with *body NULL if matching did not need it,
 * LDG_EERASED if the body is erased. */
int ldg_query_iter_body(const struct ldg_query_iter *it, const json_t **body);

/* Statistics of an iterator: the source it scans and events examined. */
struct ldg_query_stats {
    char plan[128];          /* e.g. "idx.run", "bodies+prefilter", "entries" */
    uint64_t examined;       /* candidate events decoded and tested */
    uint64_t matched;        /* events returned */
    uint64_t seq_lo, seq_hi; /* the seq window the sources were clipped to */
    /* A pruned ledger: the window the query asked for reached before the
     * horizon (events 0..horizon-1 were pruned, ldg_horizon says into
     * which archive), and was clipped to it; all_pruned when nothing of
     * the window is left. */
    uint64_t horizon;
    int reached_pruned, all_pruned;
};
void ldg_query_iter_stats(const struct ldg_query_iter *it,
                          struct ldg_query_stats *st);

/* --------------------------------------------------------------- cursor -- */

/* A cursor names one event stably across restarts: "SEQ:HASH16", the
 * sequence number and the first 16 hex digits of its leaf hash. */
#define LDG_QUERY_CURSOR_MAX 40
void ldg_query_cursor(const struct ldg_event *ev,
                      char buf[LDG_QUERY_CURSOR_MAX]);
/* Parses cursor and checks that event SEQ exists in t's log with that leaf
 * hash; *seq gets SEQ.
 * @return 0; LDG_EINVAL if cursor is not a cursor's text (a usage error:
 *   "SEQ:HASH16" expected); LDG_EBADINPUT if the hash differs (the log
 *   changed, or the cursor is from another ledger); LDG_ENOTFOUND if the
 *   log has no such event. err says which. */
int ldg_query_cursor_check(struct ldg_txn *t, const char *cursor, uint64_t *seq,
                           char *err, size_t errcap);

/* ------------------------------------------------------------ rendering -- */

enum ldg_query_format {
    LDG_QFMT_SHORT,         /* "Nov 21 15:09:01 SEQ TYPE SUBJECT ACTOR ..." */
    LDG_QFMT_SHORT_ISO,     /* as short with an ISO 8601 local time */
    LDG_QFMT_SHORT_PRECISE, /* as short with microseconds */
    LDG_QFMT_SHORT_UTC,     /* as short-iso in UTC with nanoseconds */
    LDG_QFMT_VERBOSE,       /* every field, hashes, signature, key */
    LDG_QFMT_JSON,          /* JSON Lines, the shape of `ledger show` */
    LDG_QFMT_JSON_PRETTY,   /* the same, indented */
    LDG_QFMT_CAT            /* the body only, compact JSON */
};
/* Maps "short", "short-iso", "short-precise", "short-utc", "verbose",
 * "json", "json-pretty", "cat" (and "human" = short). 0 or LDG_EINVAL. */
int ldg_query_format_parse(const char *name, enum ldg_query_format *out);

enum ldg_query_render_flags {
    LDG_RENDER_CURSOR = 1 /* json: add "cursor"; verbose: show it */
};

struct ldg_query_render;
int ldg_query_render_new(struct ldg_query_render **out,
                         enum ldg_query_format fmt, unsigned flags);

/* The keys of a json / json-pretty event that a renderer can be limited
 * to (`ledger query --output-fields`, as journalctl's), in the order a
 * line writes them. LDG_QF_BODY stands for "body", or "erased":true when
 * the body was erased. Keys an event does not have (run, parent,
 * actor_name, id, source; claim_digest, seal and seal_leaf of a sealed
 * event, signature of a signed one; model_at) are left out as always. */
enum ldg_query_field {
    LDG_QF_SEQ,
    LDG_QF_TS,
    LDG_QF_TIME,
    LDG_QF_RECORDED_TS,
    LDG_QF_RECORDED_TIME,
    LDG_QF_CLOCK,
    LDG_QF_TYPE,
    LDG_QF_SUBJECT,
    LDG_QF_RUN,
    LDG_QF_PARENT,
    LDG_QF_ACTOR,
    LDG_QF_ACTOR_NAME,
    LDG_QF_ID,
    LDG_QF_SOURCE,
    LDG_QF_PREV,
    LDG_QF_BODY_COMMITMENT,
    LDG_QF_LEAF_HASH,
    LDG_QF_CLAIM_DIGEST,
    LDG_QF_SEAL,
    LDG_QF_SEAL_LEAF,
    LDG_QF_SIGNATURE,
    LDG_QF_BODY,
    LDG_QF_MODEL_AT,
    LDG_QF_COUNT
};
#define LDG_QF_ALL ((UINT32_C(1) << LDG_QF_COUNT) - 1)
/* Parses a comma-separated list of those names ("seq,type,body") into
 * *mask, a bit (1 << enum ldg_query_field) for each. LDG_EBADINPUT, with
 * err (errcap bytes; may be NULL) naming the unknown or empty name and
 * listing the known ones; *mask is then unchanged. */
int ldg_query_fields_parse(const char *list, uint32_t *mask, char *err,
                           size_t errcap);
/* Limits json and json-pretty to the keys in mask (the default is
 * LDG_QF_ALL); "cursor" stays LDG_RENDER_CURSOR's. What no asked-for key
 * needs is not looked up: the actor's name, the body record, the model
 * lookups of "model_at" (and ldg_query_stream skips the leaf hash when
 * neither "leaf_hash" nor a cursor is wanted). LDG_EINVAL for an empty
 * mask or unknown bits. Other formats ignore it. */
int ldg_query_render_set_fields(struct ldg_query_render *r, uint32_t mask);
/* Deletes from an event object (the shape of `ledger show -o json`, or a
 * bundle's events.jsonl line) every key not in mask: "erased" and
 * "body_error" go with LDG_QF_BODY, and keys of no enum ldg_query_field
 * name (a bundle's own, "cursor") are deleted too. No-op if event is not
 * an object. */
void ldg_query_fields_filter(json_t *event, uint32_t mask);
/* Renders ev as text ending in '\n' (several lines for verbose and
 * json-pretty). *text is borrowed until the next call on r. Erased bodies
 * render as erased ("erased": true in JSON). Key names are cached in r
 * across transactions. */
int ldg_query_render_event(struct ldg_query_render *r, struct ldg_txn *t,
                           const struct ldg_event *ev, const char **text,
                           size_t *len);
/* The same with the body already at hand: body non-NULL is rendered as the
 * event's body, erased non-zero renders it as erased, neither fetches it
 * (see ldg_query_iter_body). */
int ldg_query_render_body(struct ldg_query_render *r, struct ldg_txn *t,
                          const struct ldg_event *ev, const json_t *body,
                          int erased, const char **text, size_t *len);
/* Renders the event the iterator returned last (ev from
 * ldg_query_iter_next, in the iterator's transaction) with what the
 * iterator already read for it: the body it decoded while matching, or
 * the stored body record its scan is on. The same text as
 * ldg_query_render_event, without fetching or decoding anything twice;
 * this is the streaming path (-o json renders the stored record straight
 * to text). */
int ldg_query_render_iter(struct ldg_query_render *r, struct ldg_query_iter *it,
                          const struct ldg_event *ev, const char **text,
                          size_t *len);
/* A standing verification finding (ldg_verify_state): `ledger verify`
 * found event seq altered or not verifiable, and no full verification
 * has passed since. Every view of events marks that event where it shows
 * it, the same way: "verify": "failed: WHAT" on the event (the renderer's
 * formats, ldg_query_render_set_finding; a timeline's and a page's events,
 * ldg_query_finding_mark; the page draws it as a failure). */
struct ldg_query_finding {
    uint64_t seq;
    uint64_t found_ts_ns; /* wall-clock ns */
    char what[512];
};
/* @return 1 with *f when a finding stands; 0 when none stands, or when
 * what verify recorded cannot be read (a view shows what it can).
 * Lifetime: f is the caller's. */
int ldg_query_finding(struct ldg_ledger *l, struct ldg_query_finding *f);
/* Marks f's event where v shows it: v is an event object ({"seq": "N",
 * ...}, as `ledger show -o json` and a bundle's events.jsonl give it) or
 * a timeline ({"events": [...]}, ldg_query_timeline's and
 * ldg_pipeline_timeline's): "verify": "failed: WHAT" on that event.
 * f NULL marks nothing. @return the events marked (0 or 1). */
size_t ldg_query_finding_mark(const struct ldg_query_finding *f, json_t *v);
/* Marks the event a standing verification finding names (struct
 * ldg_verify_state: finding_seq, finding_what), so that what `ledger
 * verify` found is shown beside the data it found altered: json and
 * json-pretty add "verify": "failed: WHAT" (whatever --output-fields
 * says: a warning is not a field to leave out), verbose a line
 * "verify=failed: WHAT", the short formats a line "!! verification
 * failed: WHAT ..." after the event's; cat (the body alone) nothing.
 * seq UINT64_MAX clears it. what is copied. 0, LDG_EINVAL, LDG_ENOMEM. */
int ldg_query_render_set_finding(struct ldg_query_render *r, uint64_t seq,
                                 const char *what);
/* Renders an event of an evidence bundle (an events.jsonl object: the
 * shape of `ledger show -o json`, less what the bundle leaves out) as
 * ldg_query_render_event renders the stored event, so that `query
 * --bundle` prints what `query` prints: in the short formats the same
 * line (the ledger's recorded time, the signer's name, the submitting
 * process, the same summary; "[body erased]", "[body withheld]" or "[N
 * fields withheld]" after it); in json and json-pretty the same keys in
 * the same order ("recorded_ts", "recorded_time" and "clock" "ledger"
 * when the bundle gives only "ts", for an event with no source time),
 * the bundle's own keys ("withheld", "body_withheld") after them, and
 * r's fields (ldg_query_render_set_fields). Verbose and cat are
 * LDG_EINVAL (a bundle holds no entry bytes to show). *text is borrowed
 * until the next call on r. LDG_EBADINPUT for an object without seq,
 * type or ts. */
int ldg_query_render_bundle_event(struct ldg_query_render *r, const json_t *e,
                                  const char **text, size_t *len);
/* 1 when r's format marks the event of a finding
 * (ldg_query_render_set_finding), 0 when it cannot: cat prints the bodies
 * alone. */
int ldg_query_render_marks(const struct ldg_query_render *r);
void ldg_query_render_free(struct ldg_query_render *r);

/* ---------------------------------------------------------- streaming -- */

#define LDG_QUERY_WRITE_PAUSE 2
struct ldg_query_stream_opts {
    /* Threads for -o json: 0 = one per online CPU (at most 4), 1 = none
     * besides the caller's. Other formats always render on the caller's
     * thread. */
    unsigned threads;
    uint64_t limit; /* events at most; 0 = all */
    /* Called with rendered text, whole lines, in order; a nonzero return
     * stops the stream and is returned by ldg_query_stream.
     * LDG_QUERY_WRITE_PAUSE means the text was taken: the events it holds
     * count in *count and *last, so a caller can end its transaction and
     * go on after *last in a new one. */
    int (*write)(void *ctx, const char *text, size_t len);
    void *ctx;
    /* Optional: the stream stops (returning 0) once *stop is nonzero. */
    volatile sig_atomic_t *stop;
};
/* Writes the matches of it, rendered by r, through o->write in order:
 * what a loop of ldg_query_iter_next, ldg_query_render_iter and write
 * gives, byte for byte. For -o json the caller's thread runs the iterator
 * and worker threads render batches of events beside it (they read the
 * stored records of it's transaction, which must stay open and unchanged
 * until this returns); memory is bounded by a fixed ring of batches and
 * output streams batch by batch. *count (may be NULL) gets the events
 * written, *last (may be NULL) a copy of the last one (with -o json, its
 * leaf hash and claim digest only when the lines show them or a cursor:
 * else zero). Returns 0 at the
 * end of the matches, the limit or a stop, the writer's nonzero value, or
 * a negative code (message in ldg_errmsg) after writing every event
 * before the one that failed. */
int ldg_query_stream(struct ldg_query_iter *it, struct ldg_query_render *r,
                     const struct ldg_query_stream_opts *o, uint64_t *count,
                     struct ldg_event *last);

/* The event as a JSON object of the same shape as `ledger show -o json`
 * (seq, ts, time, type, subject, run, parent, actor, actor_name, prev,
 * body_commitment, leaf_hash, signature, then body or "erased": true).
 * Caller json_decref's; NULL on allocation failure. */
json_t *ldg_query_event_json(struct ldg_txn *t, const struct ldg_event *ev);

/* The erasure of event seq's body: the body.erased event naming it, as
 * {"seq", "time", "reason"} in *out (caller json_decref's). LDG_ENOTFOUND
 * when none is in the log (the body is there, or its erasure was pruned
 * while the event was kept). Cost: a walk of the body.erased events after
 * seq, reading each one's body. */
int ldg_query_erasure_of(struct ldg_txn *t, uint64_t seq, json_t **out);

/* ------------------------------------------------------- model at seq -- */

/* What the log knew of a model's weights at an event (query/model_at.c):
 * a route decision, an eval and a promotion name a model, and a name can
 * be re-pointed at other weights. */
#define LDG_MODEL_DIGEST_MAX 160
struct ldg_model_at {
    int known; /* a model.registered for the model at or before seq */
    char digest[LDG_MODEL_DIGEST_MAX + 1]; /* the latest one's digest */
    uint64_t registered_seq;               /* and its seq */
    int verified;          /* a model.verified with ok true and that digest at
                            * or before seq: the weights were hashed by then */
    int ever_verified;     /* such a model.verified anywhere in t's snapshot */
    uint64_t verified_seq; /* the first one (when ever_verified) */
};
/* Fills *out for model as of event seq, within t's snapshot. Erased
 * bodies say nothing. 0, or a negative code. */
int ldg_query_model_at(struct ldg_txn *t, const char *model, uint64_t seq,
                       struct ldg_model_at *out);
/* The same lookups for many events of one snapshot, cached per model
 * (its registrations read once, its verifications as far as the digests
 * asked about need, through idx.subject and idx.type). The handle borrows
 * t and lives no longer than it. */
struct ldg_query_models;
int ldg_query_models_new(struct ldg_query_models **out, struct ldg_txn *t);
int ldg_query_models_at(struct ldg_query_models *c, const char *model,
                        uint64_t seq, struct ldg_model_at *out);
/* Reads from t from now on (a later snapshot, for a reader that reads in
 * windows; what c cached stays the first snapshot's). */
void ldg_query_models_rebind(struct ldg_query_models *c, struct ldg_txn *t);
void ldg_query_models_free(struct ldg_query_models *c);
/* The model an event of this type is about: route.decision's
 * chosen_model, eval.started/eval.result/promotion.promoted/
 * promotion.rejected's candidate, promotion.rolled_back's to; NULL for
 * other types or when the body has no such string (borrowed from body). */
const char *ldg_query_model_of(const char *type, const json_t *body);
/* Ollama's reading of a model name without a tag: 1 with buf "NAME:latest"
 * when name has no ':' (and it fits in cap), else 0. model_at, the proxy
 * and verify-bundle read an untagged name so. */
int ldg_query_model_latest(const char *name, char *buf, size_t cap);
/* {"model", "digest" (null when never registered), "registered_seq",
 * "verified", "ever_verified", "verified_seq"}: the "model_at" object
 * that `query -o json`, `timeline` and bundles' events.jsonl carry (seqs
 * as decimal strings, as "seq" is). New reference; NULL on ENOMEM. */
json_t *ldg_query_model_at_json(const char *model,
                                const struct ldg_model_at *m);

/* Does q match an event given as JSON, in the shape of `ledger show -o
 * json` or a bundle's events.jsonl (seq and ts as decimal strings, type,
 * subject, run, parent, actor, actor_name, body)? For events with no
 * ledger behind them (`ledger query --bundle`): actor= compares with the
 * event's key id and actor_name; a body that is absent (erased, withheld)
 * has no fields, and withheld fields are not there to match. 1, 0, or
 * LDG_EBADINPUT (no seq/ts) / LDG_EINVAL / LDG_ETOOBIG (--grep's limit,
 * LDG_QUERY_GREP_LIMIT). */
int ldg_query_match_json(const struct ldg_query *q, const json_t *event);

/* What LDG_ETOOBIG from matching --grep means: PCRE2 gave up on an event
 * (its match, depth or heap limit), so the query cannot say whether that
 * event matches. */
#define LDG_QUERY_GREP_LIMIT                                                   \
    "the pattern backtracks past PCRE2's match limit on this event (make it "  \
    "simpler, e.g. no nested repeats like (a+)+)"

/* ------------------------------------------------------------- timeline -- */

/* The flight-recorder view of one run: its start (run.started), steps with
 * durations and artifacts, route decisions, policy decisions, other events
 * of the run, the end (run.finished), and what was in force at the start:
 * the latest permission decision per (group, scope) of the run's pack and
 * the latest eval.result per route of the pack (from route.declared and
 * the pack's manifest) before the start. Times are relative to the start
 * (or the run's first event). *out is caller-owned (json_decref); see
 * docs/QUERY.md for its fields. LDG_ENOTFOUND if no event has that run. */
int ldg_query_timeline(struct ldg_txn *t, const char *run, json_t **out);

/* What q's run=ID and run!=ID terms name that no event in t carries: one
 * line per such run, "no run named 'r9' in this ledger (did you mean
 * r1?)" (the nearest run id at most two edits away, among the first
 * 100,000; "among the kept events (events before N were pruned)" on a
 * pruned ledger; "run= compares exactly: it takes no glob" when ID holds
 * *, ? or [), '\n' between lines, into *out (caller-owned, free; NULL
 * when every run is there). When q reaches before the horizon
 * (ldg_query_iter_stats' reached_pruned), the caller says where the
 * pruned events went, which a run missing from the kept events may be
 * among: its note is then given only with a near name or the glob hint,
 * and without the "(events before N were pruned)" that would repeat it.
 * The empty answer such a term gives is true: this says why. Cost: one
 * index seek a run; a walk of the run ids for one that is not there.
 * 0, or an ldg_error. */
int ldg_query_run_notes(const struct ldg_query *q, struct ldg_txn *t,
                        char **out);
/* The timeline of one trace: the events whose body.trace_id is trace (32
 * lowercase hex digits; the OTLP receiver's spans and logs, the proxy's
 * records of requests that carried it), whatever their run, found by a
 * scan of the log (a body field has no index). "run" is the trace id and
 * "trace" says it. LDG_EBADINPUT for a malformed id, LDG_ENOTFOUND when
 * no event has it; else as ldg_query_timeline. */
int ldg_query_timeline_trace(struct ldg_txn *t, const char *trace,
                             json_t **out);
/* The archives events from..to-1 were pruned into, as the ledger.pruned
 * events the log keeps name them (the horizon record names only the last
 * prune's): *out a JSON array, oldest first, of {"first", "horizon",
 * "archive_sha256", "archive" (its file name, or null), "seq" (the
 * ledger.pruned's)} for every prune whose events meet from..to-1; *whole
 * is 1 when they cover it from `from` on with no gap (0: an earlier
 * prune's ledger.pruned was pruned itself, by a later one). Costs one
 * index walk of ledger.pruned and a body read each.
 * @return 0; LDG_ENOMEM. Lifetime: *out is the caller's (json_decref). */
int ldg_query_pruned_archives(struct ldg_txn *t, uint64_t from, uint64_t to,
                              json_t **out, int *whole);
/* One line naming them, into buf: "the archive a1.bundle (events 0..99,
 * SHA-256 HEX)", "the archives a1.bundle (events 0..99, SHA-256 HEX) and
 * a2.bundle (events 100..199, ...)", with "and earlier ones" when not
 * whole. Lifetime: nothing borrowed. */
void ldg_query_pruned_archives_text(const json_t *archives, int whole,
                                    char *buf, size_t cap);
/* Renders a timeline from ldg_query_timeline as text lines. *out is
 * malloc'd (caller frees). */
int ldg_query_timeline_text(const json_t *tl, char **out);
/* One event of a timeline (an entry of its "events") in words, as `ledger
 * timeline` and the run page (page/page.h) say it: "p/r -> small
 * FALLBACK  12ms  ok"; *bad, when bad is not NULL, is 1 when the timeline
 * marks it with '!' (a denial, a failure, an error, a permission
 * withdrawn, ...). @return a malloc'd string (the caller frees it), NULL
 * when out of memory or e is not an object. */
char *ldg_query_timeline_event_text(const json_t *e, int *bad);

/* --------------------------------------------------------------- follow -- */

/* Wakes a follower when the ledger in dir may have grown: inotify on the
 * directory (data.mdb modified or closed after writing). */
struct ldg_query_follow;
int ldg_query_follow_new(struct ldg_query_follow **out, const char *dir);
/* Blocks until a change is signalled (returns 1), timeout_ms passes
 * (returns 0) or a signal interrupts the wait (returns 0). Never spins.
 * Negative codes on error. */
int ldg_query_follow_wait(struct ldg_query_follow *f, int timeout_ms);
void ldg_query_follow_free(struct ldg_query_follow *f);

/* -------------------------------------------------------------- indexes -- */

/* ldg_index_rebuild (ledger.h): the indexes are the core's; then the
 * projections' index of model verifications that model_at seeks in,
 * emptied and filled again. Needs a writable handle. */
int ldg_query_reindex(struct ldg_ledger *l);

/* The version of PCRE2 that -g/--grep runs on ("pcre2 10.42"). */
const char *ldg_query_lib_version(void);

#endif
