/*
 * export.h — signed evidence bundles: `ledger export` and the offline
 * `ledger verify-bundle`.
 *
 * A bundle is one file: a ustar archive compressed with zstd (so
 * `tar --zstd -xf FILE` opens it). It holds the selected events — their
 * exact entry bytes, their bodies (minus what was redacted), a C2SP
 * tlog-proof for each against one signed checkpoint, which is included —
 * the log's verifier key, the key.added / key.revoked events that
 * establish every actor key the events need (themselves proven), the
 * projected state at the checkpoint (projections/projections.h) with its
 * signed projection note, and a manifest signed with the log key.
 * docs/format-bundle.md states the layout byte for byte; docs/EXPORT.md is the
 * user's manual.
 *
 * Writing needs a ledger (and its log key file, to sign the manifest).
 * Verifying needs nothing but the file: no ledger, no network.
 *
 * A bundle is outside input. The reader decompresses with a bounded zstd
 * window and a bounded total, refuses archive members with absolute paths,
 * "..", links, devices, directories, duplicates or names outside the
 * layout, bounds each member and the member count, and detects truncation
 * (zstd frame end and checksum, tar framing, manifest digests and counts).
 * It never writes anywhere unless asked to extract, and then only under
 * the target directory (openat with O_NOFOLLOW | O_EXCL).
 */
#ifndef LDG_EXPORT_H
#define LDG_EXPORT_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/ledger.h"

#define LDG_BUNDLE_MAGIC "ledger.bundle/v1" /* content of the first member */
#define LDG_BUNDLE_VERSION 1

/* ------------------------------------------------------------- limits -- */

/* Bounds for reading a bundle. Zero fields take the defaults below. */
struct ldg_bundle_limits {
    uint64_t total_bytes; /* decompressed bytes in all; default 1 GiB */
    uint64_t file_bytes;  /* bytes in one member; default 64 MiB */
    uint64_t files;       /* members; default 4,194,304 */
    unsigned window_log;  /* zstd window log at most; default 24 (16 MiB) */
    /* Decompressed bytes per compressed byte at most, over the stream
     * read so far, once past its first MiB; default 100. A bundle's
     * entries, proofs and salted bodies compress about 2-4 times. */
    unsigned ratio;
};
#define LDG_BUNDLE_TOTAL_DEFAULT ((uint64_t)1 << 30)
#define LDG_BUNDLE_FILE_DEFAULT ((uint64_t)64 << 20)
#define LDG_BUNDLE_FILES_DEFAULT ((uint64_t)1 << 22)
#define LDG_BUNDLE_WINDOW_LOG_DEFAULT 24
#define LDG_BUNDLE_RATIO_DEFAULT 100

/* ------------------------------------------------------------- export -- */

struct ldg_export_opts {
    /* Selection: the same terms and time window as `ledger query` (see
     * query/query.h); nterms == 0 with no window selects every event. */
    int nterms;
    char *const *terms;
    const char *since; /* NULL = none */
    const char *until; /* NULL = none */
    /* Redaction: top-level body fields withheld from every selected event
     * (redact_fields), and event types whose whole body is withheld
     * (redact_types, exact names). Bodies of the events that establish
     * keys or erasures (genesis, key.*, body.erased) are never redacted:
     * verification needs them. */
    size_t nredact_fields;
    char *const *redact_fields;
    size_t nredact_types;
    char *const *redact_types;
    /* A --redact field that no selected body has, or a --redact-body
     * type no selected event has, is an error (LDG_EBADINPUT naming it: a
     * typo must not let the data out) unless this is set. */
    int redact_allow_missing;
    /* A selection that matches no event is an error (LDG_ENOTFOUND)
     * unless this is set. */
    int allow_empty;
    /* Free text recorded in the manifest as created.by; NULL (the
     * default) records nothing about who exported. */
    const char *exported_by;
    /* Leave out the projected state (state/projections.json). The state
     * is included whole and cannot be redacted, so it is also left out
     * whenever a field or body type is redacted. */
    int no_state;
    /* With no_state: why, for the manifest and SUMMARY.txt (NULL: "left
     * out on request"). */
    const char *no_state_why;
    /* The newest checkpoint witnesses cosigned, with their cosignature
     * lines (what ldg_cosigned_get in fleet/ returns), or NULL. When its
     * size is at most the bundle's checkpoint size, the bundle carries it
     * (cosigned/checkpoint) with the consistency proof from its size to
     * the bundle's checkpoint (cosigned/consistency); a later one is left
     * out (report's cosigned_detail says why). It must verify with the
     * log key (LDG_ECORRUPT otherwise: nothing is written). */
    const char *cosigned_note;
    size_t cosigned_len;
    /* Prove against the stored checkpoint of this size, not the latest
     * (ledger archive: the checkpoint at the horizon); events from it on
     * are not selected. 0 = the latest. LDG_ENOTFOUND (nothing written)
     * when no checkpoint of that size is stored; LDG_EERASED (nothing
     * written; the report's erased_after names it) when a selected
     * event's body was erased by a body.erased at or past it, which a
     * bundle of that size cannot prove. */
    uint64_t checkpoint_size;
    /* Refuse a bundle that would unpack to more than this; 0 = what
     * verify-bundle reads by default (LDG_BUNDLE_TOTAL_DEFAULT). An
     * archive takes more, and its readers --max-bytes. */
    uint64_t max_bytes;
    int level;           /* zstd level 1..19; 0 = 1 */
    unsigned threads;    /* compression threads; 0 = 2 */
    uint64_t max_events; /* refuse larger selections; 0 = 1,000,000 */
    /* The bundle's one top directory: every file is NAME/<member>. 1 to
     * 64 of [A-Za-z0-9._-], not starting with '.' or '-' (LDG_EBADINPUT
     * otherwise). NULL: ldg_export_write derives it from the file's name
     * (ldg_export_bundle_name), ldg_export_write_fd uses "bundle". */
    const char *name;
    /* The bundle's file name as README.txt's commands give it; NULL: the
     * written file's base name, or NAME.tar.zst. */
    const char *file_name;
    /* The run the bundle is about (export --run), or NULL: SUMMARY.txt
     * then carries its timeline and the doctor at its start and end
     * (unless something is redacted: both show whole bodies). */
    const char *run;
    /* With run: its context is evidence too. The events its timeline
     * shows beside its own (ldg_query_timeline's kind "context": its
     * pack's permission changes, its models' state changes, its routes'
     * evals and promotions, runtime health) are selected with the terms'
     * events, read in the export's snapshots (report->context counts
     * them). */
    int run_context;
    /* Its timeline as ldg_query_timeline gives it (borrowed), when the
     * caller has it already, or NULL: the export reads it. */
    const json_t *run_timeline;
    /* Called now and then with (events written, events to write). */
    void (*progress)(void *ctx, uint64_t done, uint64_t total);
    void *progress_ctx;
    /* A withheld field (redact_fields, or a body of redact_types) whose
     * value the event's signed envelope repeats (its subject kind:VALUE or
     * VALUE, its run) would be disclosed anyway: that is refused
     * (LDG_EINVAL naming the event, the field and the envelope field)
     * unless this is set, and then the bundle ships the envelope as it is
     * (docs/EXPORT.md, "--allow-envelope-disclosure"). */
    int allow_envelope_disclosure;
    /* The control pipeline's plan the bundle is about (export --plan), or
     * NULL, with its timeline as ldg_pipeline_timeline gives it and as
     * text (both borrowed): SUMMARY.txt then carries the text and
     * timeline.json {"plan", "timeline"} (unless something is redacted). */
    const char *plan;
    const json_t *plan_timeline;
    const char *plan_timeline_text;
    /* Called (from the calling thread) with 1 as the export begins a read
     * snapshot and 0 once it has ended it, a window at a time
     * (docs/EXPORT.md), or NULL: a program can hold a stop (ctrl-Z) until
     * no snapshot is held, as `ledger export` does. */
    void (*snapshot)(void *ctx, int held);
    void *snapshot_ctx;
};

struct ldg_export_report {
    uint64_t selected;         /* events matched by the selection */
    uint64_t context;          /* of them, the run's context (run_context) */
    uint64_t support;          /* events added to establish keys/erasures */
    uint64_t checkpoint_size;  /* tree size every proof is against */
    uint64_t bodies_full;      /* bodies given whole */
    uint64_t bodies_redacted;  /* bodies with some fields withheld */
    uint64_t bodies_withheld;  /* bodies withheld whole */
    uint64_t bodies_erased;    /* bodies erased in the ledger */
    uint64_t fields_withheld;  /* fields withheld in all */
    uint64_t files;            /* archive members */
    uint64_t unpacked_bytes;   /* the tar's bytes, uncompressed (all of
                                * them: what verify-bundle --max-bytes
                                * must allow) */
    uint64_t largest_member;   /* bytes of the largest member */
    uint64_t bytes;            /* compressed bytes written */
    int has_state;             /* projected state included */
    char state_detail[256];    /* why not, or "with a signed note" etc. */
    uint64_t cosigned_size;    /* size of the cosigned checkpoint carried */
    uint64_t cosignatures;     /* its cosignature lines (0: none carried) */
    char cosigned_detail[256]; /* what was carried, or why not */
    /* On failure: 1 when the cosigned checkpoint kept was what failed
     * (not this log's, or no consistency proof to it): an export without
     * it (opts.cosigned_note NULL) may still succeed. */
    int cosigned_failed;
    /* LDG_EERASED: the body.erased past checkpoint_size that erased a
     * selected event's body (set on that failure too) */
    uint64_t erased_after;
};

/* Writes a bundle of the events opts selects to fd (left open; not
 * synced). When fd is not a regular file (a pipe), the bundle is written
 * to an unlinked temporary file in $TMPDIR and copied to fd after the read
 * transaction ended, so a slow consumer pins no snapshot. The latest stored
 * checkpoint is read in a first read transaction, and the events and proofs
 * against it in windows of at most 1,000 events or 100 ms, each in a new one
 * (opts->snapshot is told of each); the log below the checkpoint is the same
 * in all of them, so the bundle is that of one snapshot; events after the
 * checkpoint are not selected. A prune or an erase below the checkpoint
 * between two windows is LDG_ENOTFOUND, naming it, with nothing written. Every
 * event of the bundle is first checked as ledger verify would
 * (ldg_vouch_events): LDG_ETAMPER, naming the event, and nothing written, if
 * one fails. Returns 0, LDG_EBADINPUT (bad term, time or option, or a redaction
 * that matches nothing; message in ldg_errmsg(l)), LDG_ENOTFOUND (no event
 * selected, unless allow_empty), LDG_ETOOBIG (selection beyond max_events),
 * LDG_EKEY (log key file missing: the manifest cannot be signed), LDG_EIO.
 * Cost: O(events * log(size)) reads and one signature check an event (on
 * threads), one zstd stream; memory O(events) for the selection and file
 * digests, not for their content. */
int ldg_export_write_fd(struct ldg_ledger *l, const struct ldg_export_opts *o,
                        int fd, struct ldg_export_report *report);

/* Same, into path: written to a temporary file beside it, fsync'd, then
 * renamed into place. An existing path is refused with LDG_EEXIST.
 * Unless the options say, the bundle's directory is named after the file
 * and README.txt's commands use the file's base name. */
int ldg_export_write(struct ldg_ledger *l, const struct ldg_export_opts *o,
                     const char *path, struct ldg_export_report *report);

/* Whether path is free for an export to write (a bundle, or a segment
 * when segment is nonzero): 0, or LDG_EEXIST (73) with l's message saying
 * why not: path is a directory (the file to write is named, in it) or
 * already exists (never overwritten). The message begins with path and
 * names no option: a command line puts its option's name before it.
 * ldg_export_write and ldg_export_segment ask it first; a caller may ask
 * before work that takes long. */
int ldg_export_out_check(struct ldg_ledger *l, const char *path, int segment);

/* The top directory a bundle written to file gets by default: the base
 * name without .tar.zst, .tzst, .zst, .tar or .bundle, other characters
 * than [A-Za-z0-9._-] as '_' ("r1.bundle" -> "r1"); "bundle" if nothing
 * is left. buf gets at most 65 bytes. */
void ldg_export_bundle_name(char *buf, size_t cap, const char *file);

/* ------------------------------------------------------------- verify -- */

enum ldg_check_status {
    LDG_CHECK_PASS = 0,
    LDG_CHECK_FAIL = 1,
    LDG_CHECK_WARN = 2, /* holds, with a caveat (e.g. key taken on trust) */
    LDG_CHECK_SKIP = 3  /* not applicable (e.g. no state in the bundle) */
};

#define LDG_BUNDLE_DETAIL_MAX 512

/* One named check: "archive", "manifest", "manifest-signature", "files",
 * "log-key", "checkpoint", "keys", "proofs", "signatures", "chain",
 * "bodies", "erasures", "events", "state", "redactions", "cosignatures",
 * "witnesses", "trusted-checkpoint". */
struct ldg_bundle_check {
    const char *name; /* static */
    enum ldg_check_status status;
    char detail[LDG_BUNDLE_DETAIL_MAX];
};

#define LDG_BUNDLE_CHECKS_MAX 24

struct ldg_bundle_report {
    struct ldg_bundle_check checks[LDG_BUNDLE_CHECKS_MAX];
    size_t nchecks;
    int ok;                      /* no check failed */
    int readable;                /* the file was read as a bundle at all */
    int key_trusted;             /* the log key came from the caller */
    int checkpoint_trusted;      /* tied to the caller's trusted checkpoint */
    uint64_t cosigned_size;      /* the cosigned checkpoint carried, 0: none */
    unsigned witnesses_cosigned; /* of witness_keys, valid cosignatures */
    char origin[LDG_ORIGIN_MAX + 1];
    char log_vkey[512];
    uint64_t checkpoint_size;
    uint64_t events;              /* entries in the bundle */
    uint64_t selected;            /* of which selected (the rest support) */
    uint64_t first_seq, last_seq; /* the entries' lowest and highest seq */
    uint64_t sel_first, sel_last; /* the selected entries' (0, 0: none) */
    uint8_t checkpoint_root[32];  /* the checkpoint's root, when it opened */
    uint64_t fields_withheld, bodies_withheld, bodies_erased;
    /* 1 when the file is a segment (ledger/module.h, FORMAT.md 11), not a
     * bundle: selected is then its range first..end-1 (sel_first,
     * sel_last), events adds the proven events outside it, and sha256 is
     * the SHA-256 of the file's bytes as the verifier read them */
    int segment;
    uint8_t sha256[32];
};

struct ldg_bundle_verify_opts {
    /* The log's verifier key ("origin+hexid+base64"), trusted by the
     * caller: the trust anchor every check rests on. NULL is refused
     * (LDG_EKEY, nothing checked) unless insecure_trust_bundle_key is
     * set: then the bundle's own log.vkey is used and the "log-key" check
     * is a WARN saying so (the bundle then only proves it is consistent
     * with itself, not that it comes from the log you mean). */
    const char *trusted_vkey;
    int insecure_trust_bundle_key;
    /* A checkpoint of this log the caller trusts (a signed note as
     * `ledger checkpoint` prints it; cosignature lines are allowed), or
     * NULL. It is a trust anchor of its own (enough without trusted_vkey):
     * it must verify with the log key (the trusted one, else the bundle's),
     * and the bundle must be tied to it — its checkpoint is the trusted one
     * (same origin, size and root), or its cosigned checkpoint is, with
     * the consistency proof from there to its checkpoint. Otherwise the
     * "trusted-checkpoint" check fails naming what differs. */
    const char *trusted_checkpoint;
    size_t trusted_checkpoint_len;
    /* That checkpoint's epoch line whole (what `ledger tiles` and
     * `ledger publish` write beside it as checkpoint.epoch), or NULL.
     * With it, a trusted checkpoint of the bundle's size with another
     * root whose epoch line it certifies from the log key's anchor, while
     * the bundle's checkpoint is signed by a certified epoch key too, is
     * an "equivocation" check that fails: two histories signed by the
     * box's epoch keys (docs/EPOCHS.md). */
    const char *trusted_checkpoint_epoch;
    size_t trusted_checkpoint_epoch_len;
    /* Another bundle of the same log (a path), or NULL: a copy the caller
     * kept from before, or got from elsewhere. It is verified with these
     * options (less against, extract_dir, the trusted checkpoint and the
     * witness policy; trusted by this bundle's log key when only a
     * checkpoint was given) and compared with this bundle in an "against"
     * check: a checkpoint of one size has one root, an event of one seq one
     * entry, a seal of one seq one key, range and root. Two that differ,
     * both signed by epoch keys certified from the same anchor, also fail
     * an "equivocation" check naming the seq and both epochs: two
     * histories signed by the box's epoch keys (docs/EPOCHS.md). An other
     * bundle that does not verify, or is a segment, fails "against"; one
     * sharing nothing with this bundle is a SKIP. */
    const char *against;
    /* A k-of-n witness policy (docs/FLEET.md): at least quorum (0 = 1) of
     * these cosigner verifier keys must have a valid cosignature on the
     * cosigned checkpoint the bundle carries; the "witnesses" check names
     * who cosigned and who is missing. */
    const char *const *witness_keys;
    size_t nwitness_keys;
    unsigned quorum;
    /* Epoch anchors the caller pins (what `ledger keys verifier` names
     * beside the log key), or NULL. For each, the "epochs" check (a
     * segment's "seals") refuses a bundle whose key.anchored of that key
     * differs from the pin, or is missing while the bundle holds a seal
     * of the key after the pin's seq, or whose seals of the key after
     * that seq carry no epoch part: what a bundle re-signed whole by the
     * log key, its anchor removed, looks like (docs/EPOCHS.md). */
    const struct ldg_anchor_pin *anchors;
    size_t nanchors;
    struct ldg_bundle_limits limits;
    unsigned threads; /* signature-checking threads; 0 = CPUs (max 16) */
    /* If set, the bundle's members are also written under this directory
     * (created 0700 if missing; nothing existing is overwritten; nothing
     * is written outside it), whatever the verification result, as long
     * as the archive itself was readable. */
    const char *extract_dir;
};

/* Verifies the bundle at path offline and fills *report (caller-owned
 * memory). Returns 0 if every check passed (WARN and SKIP included),
 * LDG_ETAMPER if some check failed, LDG_EKEY if no trust anchor was given
 * (report's "log-key" check says what to pass; the file is not read),
 * LDG_ENOTFOUND if path cannot be
 * opened, LDG_EBADINPUT / LDG_ETOOBIG / LDG_EVERSION if the file is not
 * a readable bundle (report->readable == 0; the "archive" or "manifest"
 * check says why), LDG_EIO, or LDG_ENOMEM: memory ran out on the way
 * (ldg_alloc_failures grew), whatever the checks said (but LDG_EKEY), for a
 * check that failed then proves nothing and one that passed may have passed on
 * what a failed allocation left out. Cost: three passes over the file (a pipe
 * is first copied to an unlinked temporary file): the manifest, then the
 * digests of the members it lists, then the members it vouches for, which are
 * held in memory with at most 4 MiB of others (so memory follows what the
 * manifest declares, not what the file holds); one Ed25519 verification per
 * entry spread over threads. */
int ldg_export_verify(const char *path, const struct ldg_bundle_verify_opts *o,
                      struct ldg_bundle_report *report);

/* ------------------------------------------------------------ segments -- */

/* What a segment written holds. */
struct ldg_segment_report {
    uint64_t first, end;      /* events first..end-1 */
    uint64_t events;          /* end - first */
    uint64_t checkpoint_size; /* the checkpoint it is proven against */
    uint64_t erased;          /* bodies of the range erased */
    uint64_t prior, after;    /* proven events before and after the range */
    int has_state;            /* the projected state at end, with its note */
    uint64_t bytes;           /* of the file */
    uint64_t raw_bytes;       /* of the stream it decompresses to */
    uint8_t sha256[32];       /* of the file */
};

/* A segment (ledger/module.h, "segments"; FORMAT.md section 11): the
 * archive of the contiguous range of events first..end-1, what `ledger
 * archive` writes and `export --segment` may. */
struct ldg_export_segment_opts {
    uint64_t first, end; /* events first..end-1: first at or after the
                            ledger's horizon, end a stored checkpoint's
                            size (a commit's end) */
    /* Carry the projected state after the first `end` events as they fold
     * now, with a projection note signed for exactly it (the note signed
     * at end when an erasure since has not changed that state, else one
     * signed now: ldg_projections_horizon_state). */
    int with_state;
    int level; /* zstd level 1..19; 0 = 1 */
    void (*progress)(void *ctx, uint64_t done, uint64_t total);
    void *progress_ctx;
    /* told of each read snapshot begun (1) and ended (0): the segment is
     * read a window at a time (ldg_segment_write_opts.snapshot) */
    void (*snapshot)(void *ctx, int held);
    void *snapshot_ctx;
};
/* Writes the segment of o's range to path: into a temporary file beside
 * it, synced, linked to path (never replacing a file: LDG_EEXIST), its
 * directory synced. *r (may be NULL) gets what it holds, with the file's
 * size and SHA-256. Needs the log key (LDG_EKEY): the
 * segment's trailer is signed. @return 0; LDG_EEXIST; LDG_EINVAL (a range
 * outside the log); LDG_ENOTFOUND (end is not where a commit ends);
 * LDG_EKEY; LDG_EIO (naming the file); LDG_ECORRUPT (the store);
 * LDG_ENOTFOUND also when a prune or an erase between two of its read
 * windows removed what it needs (no file left).
 * Cost: one pass over the range, zstd; memory as the segment writer's. */
int ldg_export_segment(struct ldg_ledger *l,
                       const struct ldg_export_segment_opts *o,
                       const char *path, struct ldg_segment_report *r);

/* The STATE a segment of the events before end carries (FORMAT.md 11.6):
 * the projected state the first end events fold to now
 * (ldg_projections_horizon_state's object) as compact JSON text, *text,
 * and its signed projection note, *note (both malloc'd, the caller's).
 * What ldg_export_segment writes with with_state; a prune compares an
 * archive's STATE with it byte for byte. @return 0; LDG_EKEY (a note to
 * sign and no log key); LDG_ENOMEM. Cost: a fold of the events before
 * end (from the state kept at the horizon). */
int ldg_export_segment_state(struct ldg_ledger *l, uint64_t end, char **text,
                             char **note);

/* The range `export --segment` writes: the events the selection names
 * (one seq=A..B term, and the time window since..until, as `ledger query`
 * reads them against now_ns), lo..hi, taken out to where the commits that
 * hold them begin and end, first..end-1 (a segment neither starts nor ends
 * inside a commit: its seals are whole). */
struct ldg_segment_range {
    uint64_t lo, hi;     /* the events selected */
    uint64_t first, end; /* the segment's range */
};
/* @return 0 with *r; LDG_EBADINPUT (another term, a malformed range or
 * time; message on l); LDG_ENOTFOUND (no event in it); LDG_EPRUNED (it
 * reaches before the horizon). */
int ldg_export_segment_range(struct ldg_ledger *l, int nterms,
                             char *const *terms, const char *since,
                             const char *until, uint64_t now_ns,
                             struct ldg_segment_range *r);

/* The same over a bundle in memory (for fuzzing and tests). */
int ldg_export_verify_mem(const void *buf, size_t len,
                          const struct ldg_bundle_verify_opts *o,
                          struct ldg_bundle_report *report);

/* ----------------------------------------------------- reading one -- */

/* What a verified bundle holds, for readers on the receiving side
 * (`ledger timeline|query|doctor --bundle FILE`). */
struct ldg_bundle_contents {
    /* The selected events, as events.jsonl has them (the shape of
     * `ledger show -o json`, redactions applied), in increasing seq. */
    json_t *events;
    /* state/projections.json (the projected state and the log-derived
     * doctor at the checkpoint's size), or NULL if not included. */
    json_t *state;
    /* timeline.json, or NULL: {"run", "timeline" (ldg_query_timeline's
     * object at export), "doctor": [doctor views at the run's start and
     * end]} — written by export --run when nothing is redacted; or
     * {"plan", "timeline"} by export --plan. */
    json_t *timeline;
    uint64_t checkpoint_size;
    char origin[LDG_ORIGIN_MAX + 1];
};

/* Reads the bundle at path into memory (at most o->limits.total_bytes),
 * verifies those bytes as ldg_export_verify does, and only if every check
 * passed (WARN and SKIP included) parses them into *out (caller frees with
 * ldg_export_contents_free). Returns ldg_export_verify's codes; on any
 * failure *out is NULL and report says why. The views in state and
 * timeline are the exporter's, vouched for by the signed manifest, as
 * verify-bundle's "state" check says. */
int ldg_export_read(struct ldg_bundle_contents **out, const char *path,
                    const struct ldg_bundle_verify_opts *o,
                    struct ldg_bundle_report *report);
void ldg_export_contents_free(struct ldg_bundle_contents *c);

/* ldg_export_read for readers that take the events one at a time, a
 * segment's included: verified first, in full, then each selected event
 * (as events.jsonl gives it; borrowed for the call) handed to fn in
 * increasing seq (a non-zero return stops and is returned), and *out
 * (may be NULL) gets the rest: the state, the timeline, the checkpoint's
 * size (a segment's: the end of its range, where its state is), and a
 * bundle's events (NULL for a segment's: they are never held). A bundle is read
 * into memory as ldg_export_read reads it; a segment is never held: its bytes
 * are copied aside as they are verified (an unlinked file in $TMPDIR) and its
 * events read from the copy, so what is shown is what was verified.
 * @return ldg_export_read's codes; fn's. */
int ldg_export_each(const char *path, const struct ldg_bundle_verify_opts *o,
                    struct ldg_bundle_report *report,
                    int (*fn)(void *ctx, json_t *event), void *ctx,
                    struct ldg_bundle_contents **out);

/* Static name of a status: "PASS", "FAIL", "WARN", "SKIP". */
const char *ldg_export_status_name(enum ldg_check_status s);

/* The libarchive bundles are read and written with ("libarchive 3.7.2"),
 * loading it if it is not yet. */
const char *ldg_export_lib_version(void);

#endif
