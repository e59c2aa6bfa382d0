/*
 * export_int.h — shared between the files of export/, not public.
 *
 *   archive.c  the bundle container: zstd + ustar, writing and the
 *              hostile-input reader, extraction (the one file that uses
 *              libarchive and zstd)
 *   write.c    ledger export
 *   verify.c   offline verification
 */
#ifndef LDG_EXPORT_INT_H
#define LDG_EXPORT_INT_H

#include <stddef.h>
#include <stdint.h>

#include "export/export.h"
#include "ledger/module.h"
#include "util/util.h"

/* Member names of the layout (docs/format-bundle.md). */
#define B_MAGIC "ledger-bundle"
#define B_MANIFEST "manifest.json"
#define B_MANIFEST_SIG "manifest.sig"
#define B_CHECKPOINT "checkpoint"
#define B_VKEY "log.vkey"
#define B_EVENTS "events.jsonl"
#define B_STATE "state/projections.json"
#define B_STATE_NOTE "state/projections.note"
/* optional: the newest checkpoint witnesses cosigned, with their lines,
 * and the consistency proof from its size to the bundle's checkpoint */
#define B_COSIGNED "cosigned/checkpoint"
#define B_COSIGNED_PROOF "cosigned/consistency"
#define B_README "README.txt"
#define B_SUMMARY "SUMMARY.txt"
#define B_TIMELINE "timeline.json"
#define B_INDEX "index.html"
/* a pruned ledger's: its horizon record (FORMAT.md 6.2), which
 * establishes the keys added before the horizon */
#define B_HORIZON "horizon"
/* a layout 9 ledger's with epoch keys: the checkpoint's epoch line,
 * whole (FORMAT.md 5.1, docs/format-bundle.md 12.1) */
#define B_CHECKPOINT_EPOCH "checkpoint.epoch"
/* The bundle's one top directory (NAME/): at most this many bytes. */
#define B_TOP_MAX 64
/* The first line of the manifest's signed note (domain separation). */
#define B_SIG_PURPOSE "ledger.bundle/v1 manifest"

/* Kinds of member name, from bundle_name_kind. */
enum bname {
    BN_BAD = 0,
    BN_MAGIC,
    BN_MANIFEST,
    BN_MANIFEST_SIG,
    BN_CHECKPOINT,
    BN_VKEY,
    BN_EVENTS,
    BN_STATE,
    BN_STATE_NOTE,
    BN_COSIGNED,
    BN_COSIGNED_PROOF,
    BN_ENTRY,      /* entries/<seq>.entry */
    BN_PROOF,      /* proofs/<seq>.proof */
    BN_BODY,       /* bodies/<seq>.json */
    BN_KEY,        /* keys/<16 hex>.json */
    BN_SEAL,       /* seals/<seq>.seal (format 2) */
    BN_SEAL_PROOF, /* sealproofs/<seq>.proof (format 2) */
    BN_README,
    BN_SUMMARY,
    BN_TIMELINE,
    BN_INDEX,
    BN_HORIZON,
    BN_CHECKPOINT_EPOCH
};

/* Classifies a member name against the layout's allow-list. *seq gets
 * the number of entries/proofs/bodies names (canonical decimal, no
 * leading zeros). Anything else — absolute, "..", unknown — is BN_BAD. */
enum bname bundle_name_kind(const char *name, uint64_t *seq);

/* ---------------------------------------------------------- reading -- */

struct bmember {
    char *name;
    uint8_t *data; /* len bytes plus a NUL after them */
    size_t len;
    uint8_t sha[32]; /* SHA-256 of the data, computed as it was read */
};

/* The manifest's member list: "files", name -> SHA-256, and "sizes",
 * name -> bytes (manifest.c). Bundles written before "sizes" existed
 * have no sizes: has_size is 0 and the digest alone decides. */
struct bmfile {
    char *name;
    uint8_t sha[32];
    uint8_t has_size;  /* "sizes" lists this member */
    uint64_t declared; /* and says it has this many bytes */
    /* set by the reader's digest pass: */
    uint8_t seen;     /* the archive has a member of this name */
    uint8_t matches;  /* and its SHA-256 is this one */
    uint8_t size_bad; /* its size is not the declared one (not read) */
    uint64_t size;    /* that member's size */
};
struct bmlist {
    struct bmfile *f; /* sorted by name */
    size_t n;
};
/* Decodes manifest.json's "files" object and its optional "sizes"
 * object. 0, LDG_EBADINPUT (message in err: not JSON, no "files" object,
 * a value that is not 64 lowercase hex digits, "sizes" that is not an
 * object, a size that is not a canonical decimal string, a size for a
 * member "files" does not list, or "sizes" that leaves a listed member
 * out) or LDG_ENOMEM. Other manifest keys are verify.c's business. */
int bundle_manifest_files(struct bmlist *out, const void *p, size_t len,
                          char *err, size_t errcap);
struct bmfile *bmlist_find(const struct bmlist *l, const char *name);
void bmlist_free(struct bmlist *l);

/*
 * A bundle read for verification, members sorted by name. Memory is
 * bounded by what the manifest declares, never by what the file holds:
 * the reader finds manifest.json first, then streams every member through
 * SHA-256 and holds only
 *   - ledger-bundle, manifest.json and manifest.sig;
 *   - members the manifest lists whose digest matches (its declared
 *     content);
 *   - other members (unlisted, or listed with another digest) while they
 *     fit a small budget (BUNDLE_HOLD_OTHER_BYTES in all, counting 256
 *     bytes of bookkeeping each; none over BUNDLE_HOLD_OTHER_MEMBER), so
 *     that the checks can name what is wrong with them; the rest are
 *     counted in not_held and never read into memory.
 */
#define BUNDLE_HOLD_OTHER_BYTES ((uint64_t)4 << 20)
#define BUNDLE_HOLD_OTHER_MEMBER ((uint64_t)1 << 20)
struct bundle {
    struct bmember *m;
    size_t n, cap;
    uint64_t total;   /* decompressed bytes */
    uint64_t members; /* members in the archive, held or not */
    int listed;       /* the manifest's list was decoded into files */
    struct bmlist files;
    char list_err[256];       /* why it was not, when there is a manifest */
    uint64_t not_held;        /* members never held (see above) */
    uint64_t not_held_bytes;  /* their bytes */
    char first_not_held[128]; /* the first one's name */
    /* The top directory NAME/ every member sits in, taken off the names
     * above (the names are those of the layout); NULL for a bundle
     * written before November 2026, whose members had no top directory. */
    char *top;
};

void bundle_limits_fill(struct ldg_bundle_limits *out,
                        const struct ldg_bundle_limits *in);
/* Reads a bundle from fd (read to its end) or from memory. Applies every
 * container check; on failure returns LDG_EBADINPUT / LDG_ETOOBIG /
 * LDG_EVERSION / LDG_EIO / LDG_ENOMEM with a message in err and b empty. */
int bundle_read_fd(struct bundle *b, int fd,
                   const struct ldg_bundle_limits *lim, char *err,
                   size_t errcap);
int bundle_read_mem(struct bundle *b, const void *p, size_t len,
                    const struct ldg_bundle_limits *lim, char *err,
                    size_t errcap);
/* Every bundle reader's gate, before it reads a bundle from fd (issue
 * 63: the readers bound alike, with one message): a regular file larger
 * than max, or whose first bytes are not a zstd frame's magic, is refused
 * here (LDG_ETOOBIG, LDG_EBADINPUT; LDG_EIO), unread; anything else
 * passes, to be read through bundle_spool. */
int bundle_gate_fd(int fd, uint64_t max, char *err, size_t errcap);
/* What fd holds (a pipe, a device: not a regular file) copied into an
 * unlinked temporary file in $TMPDIR (*out, at its start), read once: a
 * reader goes over a bundle more than once. It reads at most max + 1
 * bytes (more is LDG_ETOOBIG, "the bundle is larger than the limit of
 * max bytes") and refuses, as soon as its first four bytes are read,
 * what is not zstd (LDG_EBADINPUT: /dev/zero is refused at once). */
int bundle_spool(int fd, uint64_t max, int *out, char *err, size_t errcap);
/* The member called name, or NULL (also for a member that was not held). */
const struct bmember *bundle_get(const struct bundle *b, const char *name);
void bundle_release(struct bundle *b);

/* Writes every member under dir (created 0700 if missing), each file
 * created with O_EXCL | O_NOFOLLOW relative to a directory fd, so nothing
 * outside dir is touched and nothing existing is replaced. */
int bundle_extract(const struct bundle *b, const char *dir, char *err,
                   size_t errcap);

/* ---------------------------------------------------------- writing -- */

struct bwriter;
/* archive_dl.c: why libarchive cannot be loaded, or NULL when it is
 * (then a constructor's NULL is out of memory). The calling thread's own
 * copy, valid until its next call here or to archive_error_string. */
const char *ldg_archive_unavailable(void);

/* A writer producing ustar + zstd into fd. level 1..19, threads >= 1.
 * top (NULL: none) is the directory every member is written in: a
 * directory entry top/ first, then each name as top/name. */
int bwriter_new(struct bwriter **out, int fd, int level, unsigned threads,
                int64_t mtime, const char *top, char *err, size_t errcap);
/* 1 if s can be a bundle's top directory: 1..B_TOP_MAX bytes of
 * [A-Za-z0-9._-], not starting with '.' or '-'. */
int bundle_top_valid(const char *s);
int bwriter_add(struct bwriter *w, const char *name, const void *data,
                size_t len);
/* Ends the archive and the zstd frame. *bytes gets the compressed bytes,
 * *unpacked the tar's (headers, padding and end blocks: what a reader
 * decompresses). */
int bwriter_finish(struct bwriter *w, uint64_t *bytes, uint64_t *unpacked);
void bwriter_free(struct bwriter *w);
/* The writer's message after a failure. */
const char *bwriter_errmsg(const struct bwriter *w);

/* Proof parsing and inclusion checks: the core's
 * (ldg_tlog_proof_parse_cached, ldg_tlog_verify_inclusion_memo). */

/* ----------------------------------------------------------- common -- */

/* An unnamed file in path's directory (O_TMPFILE), open for writing: a
 * process killed while it writes leaves nothing behind (a named
 * NAME.tmp.XXXXXX would stay, as large as what was written). -1 with
 * errno when the file system or the box cannot (no O_TMPFILE, no /proc):
 * the caller then writes a named temporary file. */
int export_open_unnamed(const char *path);
/* Gives the unnamed file fd the name path, with linkat through
 * /proc/self/fd (never replacing a file). 0 or -1 with errno. */
int export_link_unnamed(int fd, const char *path);
/* Where export_open_unnamed cannot: creates tmp (path's name followed by
 * ".tmp.XXXXXX", tmp's last six X replaced) open for writing and holds an
 * exclusive flock on it until the fd is closed, so that a writer killed
 * while it writes leaves a file no live writer holds. First it removes
 * such leftovers of path (PATH.tmp. and six characters, regular files no
 * process holds locked: a killed writer's); a live writer's file is
 * locked and kept. The fd, or -1 with errno. */
int export_open_named_tmp(const char *path, char *tmp);

/* The envelope of an event as events.jsonl shows it: seq, ts, time, type,
 * subject, run, parent, actor, prev, body_commitment, leaf_hash,
 * signature (64-bit numbers as strings).
 *
 * This is not query's event JSON (query/render.c, ldg_query_event_json
 * and `-o json`) and is deliberately not built on it or under it: the
 * bundle's line is a format of its own (docs/format-bundle.md section 5),
 * the contract verify-bundle checks key by key and "no other key", and it
 * differs in bytes: recorded_ts/recorded_time/clock only for format
 * version 2 entries (query shows them for every event), actor_name after
 * the envelope rather than after actor, and the body as disclosed
 * (withheld, body_withheld). A change to query's display must not change
 * what old bundles verify against, nor the reverse. */
json_t *envelope_json(const struct ldg_event *ev);
/* The keys of envelope_json, NULL-terminated (for comparisons). */
extern const char *const envelope_keys[];

/* JSON text into util's buffer (struct ldg_buf; errors sticky in err). */
/* A JSON string: quotes, backslashes and control characters escaped. */
void gb_jstr(struct ldg_buf *b, const char *s);
/* A 64-bit number as a JSON string; n bytes as a JSON hex string. */
void gb_u64(struct ldg_buf *b, uint64_t v);
void gb_hex(struct ldg_buf *b, const uint8_t *p, size_t n);
/* A JSON value, compact (jansson). */
void gb_value(struct ldg_buf *b, const json_t *v);
/* The envelope exactly as events.jsonl writes it: envelope_json's keys,
 * compact, without the closing brace. */
void gb_envelope(struct ldg_buf *b, const struct ldg_event *ev);

#endif
