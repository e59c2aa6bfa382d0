/*
 * module_segment.h — the segments' interface for the sibling modules
 * (export/, retention/): write, verify, read and check a segment, the
 * archive of a range of events (ledger/segment_int.h lists the files;
 * docs/FORMAT.md section 11 states every byte). Included by
 * ledger/module.h; what module.h says of its conventions holds here.
 */
#ifndef LDG_MODULE_SEGMENT_H
#define LDG_MODULE_SEGMENT_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/ledger.h"

/* ------------------------------------------------------------ segments -- */

/*
 * A segment (ledger/segment_*.c around segment_int.h; docs/FORMAT.md
 * section 11 byte for byte) is the archive of a contiguous range of
 * events first..end-1: one zstd
 * stream of length-prefixed records holding what cannot be recomputed —
 * the entries and body records as the ledger keeps them less what a
 * reader derives (each entry's prev, a sealed entry's claim digest), the
 * seals, the horizon record of an earlier prune, the left-edge hashes
 * that stand for the events before first, the signed checkpoint, the
 * projected state with its signed note, the few events outside the range
 * that prove its keys and its erasures, and a trailer signed by the log
 * key that states first and end. No proof per event: the leaves of the
 * range, folded with the left edge, give the checkpoint's root.
 *
 * Writing reads one transaction's snapshot and streams; verifying is one
 * pass over the file. Memory of either: the zstd window, one record, the
 * keys and one open seal per key (O(log n) hashes each), and the erased
 * bodies of the range — not the events.
 */
#define LDG_SEGMENT_MAGIC "ledger.segment/v1\n" /* the stream's first bytes */
#define LDG_SEGMENT_MAGIC_LEN 18
/* Bytes one record may have unless the reader says (a body record, the
 * projected state): refused from its length, before anything is read. */
#define LDG_SEGMENT_RECORD_MAX ((uint64_t)64 << 20)

/* What a segment says of itself (writer's report, verifier's finding).
 * The pointers are malloc'd, owned by the struct:
 * ldg_segment_info_release frees them. */
struct ldg_segment_info {
    int format; /* the ledger format of its entries (1 or 2) */
    int codec;  /* how its entry records are packed (FORMAT.md 11) */
    char origin[LDG_ORIGIN_MAX + 1];
    uint8_t log_pub[32];
    uint64_t first, end;      /* events first..end-1 */
    uint64_t checkpoint_size; /* its checkpoint's (>= end) */
    uint8_t root[32];         /* and root */
    char *checkpoint;         /* the signed checkpoint note */
    size_t checkpoint_len;
    uint8_t *horizon; /* the horizon record it carries, or NULL */
    size_t horizon_len;
    uint64_t horizon_seq;     /* its seq (0: none) */
    int has_state;            /* a projected state at end, with its note */
    uint8_t state_sha256[32]; /* of the state's bytes */
    char *state;              /* its bytes (with keep_state), or NULL */
    size_t state_len;
    char *state_note; /* its signed projection note (keep_state) */
    size_t state_note_len;
    uint64_t events;             /* end - first */
    uint64_t erased;             /* bodies of the range erased */
    uint64_t prior, after;       /* proven events carried before first, after
                                    end (key events, genesis, erasures) */
    uint64_t seals, seal_checks; /* seal records; signature checks made */
    uint64_t epoch_seals;        /* seals by epoch keys, checked as such */
    int ck_epoch; /* the checkpoint's epoch line: 1 checked, -1 carried
                     but not checked (no anchor of the log key), 0 none */
    uint32_t ck_period, ck_sub; /* ... its epoch */
    uint64_t signatures;        /* format 1 entries checked by signature */
    uint64_t file_bytes;        /* bytes of the file */
    uint64_t raw_bytes;         /* bytes of the stream it decompresses to */
    uint8_t sha256[32];         /* SHA-256 of the file's bytes */
};
void ldg_segment_info_release(struct ldg_segment_info *i);

struct ldg_segment_write_opts {
    uint64_t first, end; /* events first..end-1 (end > first); first at or
                            after the ledger's horizon */
    /* The checkpoint the range is proven against: 0 = end's, which must
     * be stored (a commit's end); else a stored size >= end. A body of the
     * range erased by a body.erased at or after it raises it to the log's
     * latest, which holds that erasure. */
    uint64_t checkpoint_size;
    /* The projected state at end (ldg_projections_state_json's object
     * without its "note", as JSON text) and the signed projection note
     * for exactly that state; NULL: none. Borrowed for the call. */
    const char *state;
    size_t state_len;
    const char *state_note;
    size_t state_note_len;
    int level; /* zstd level 1..19; 0 = 1 */
    void (*progress)(void *ctx, uint64_t done, uint64_t total);
    void *progress_ctx;
    /* Called with 1 before the writer begins a read snapshot and 0 once it
     * has ended it, a window at a time (NULL: not told); a CLI keeps a
     * ctrl-Z until 0, so a stopped writer holds no snapshot. */
    void (*snapshot)(void *ctx, int held);
    void *snapshot_ctx;
};
/* Writes the segment of events o->first..o->end-1 of l to fd (from its
 * current offset; not synced, not closed), signing its trailer with the
 * log key (its secret must be at hand: LDG_EKEY). *out (may be NULL) gets
 * what it holds, with the file's SHA-256 and size. It reads in windows of
 * at most 1,000 events or 100 ms, each in a new read snapshot, and writes
 * to fd between two, outside any (segment_write.c, SEG_WINDOW_*): the range,
 * checkpoint and proven events are fixed in the first, and the bytes are
 * those one snapshot would give; a prune, or an erase of an event below
 * the checkpoint, between two windows fails it (LDG_ENOTFOUND, with the
 * message; what fd holds then is to be thrown away).
 * @return 0; LDG_EINVAL (a range outside the log or before its horizon);
 * LDG_ENOTFOUND (no checkpoint of that size; a prune or an erase
 * meanwhile); LDG_ECORRUPT (the store is not what verify passes: message
 * on the ledger); LDG_EKEY; LDG_EIO (writing fd).
 * Cost: one cursor step a record; zstd at o->level; memory as above, and
 * a window's compressed bytes (8 MiB or so at most). */
int ldg_segment_write(struct ldg_ledger *l,
                      const struct ldg_segment_write_opts *o, int fd,
                      struct ldg_segment_info *out);

/* One event a reader hands out, valid for the callback only. */
enum ldg_segment_where {
    LDG_SEGMENT_PRIOR, /* a proven event before first (a key event) */
    LDG_SEGMENT_RANGE, /* one of first..end-1 */
    LDG_SEGMENT_AFTER  /* a proven event at or after end (an erasure, a key
                          event) */
};
struct ldg_segment_event {
    const struct ldg_event *ev; /* decoded (ev->entry: its exact bytes) */
    const uint8_t *body;        /* its stored body record, or NULL: erased */
    size_t body_len;
    enum ldg_segment_where where;
};

struct ldg_segment_verify_opts {
    /* The trust anchor: the log's verifier key ("origin+hexid+base64").
     * NULL takes the segment's own key (then it proves only that it is
     * consistent with itself: the caller says so). */
    const char *trusted_vkey;
    /* Epoch anchors the caller pins, or NULL (ldg_anchor_pin): a segment
     * whose key.anchored of a pinned key differs, or is missing while a
     * seal of the key after the pin's seq is in it, or whose seals of the
     * key after that seq carry no epoch part, fails LDG_SEGCHK_SEALS. */
    const struct ldg_anchor_pin *anchors;
    size_t nanchors;
    uint64_t record_max; /* bytes one record may have; 0 =
                            LDG_SEGMENT_RECORD_MAX */
    uint64_t raw_max;    /* bytes the stream may decompress to in all; 0:
                            no bound (memory does not grow with them) */
    unsigned window_log; /* zstd window log at most; 0 = 24 */
    /* Keep the state and its note in the result's info (malloc'd). */
    int keep_state;
    /* Optional, in seq order: each leaf of the range as computed from its
     * entry (the prune compares it with its stored tree), with whether
     * the segment holds its body. A non-zero return stops verification:
     * the check it names (an enum ldg_segment_check; another value:
     * LDG_SEGCHK_TREE) failed, with the message in *what (cap 400). */
    int (*leaf)(void *ctx, uint64_t seq, const uint8_t leaf[32], int has_body,
                char *what);
    /* Optional: each event once its own checks passed (the verdict on the
     * whole comes at the end: a reader that shows events verifies first,
     * then reads again with ldg_segment_read). */
    int (*event)(void *ctx, const struct ldg_segment_event *e);
    void *ctx;
    void (*progress)(void *ctx, uint64_t done, uint64_t total);
    void *progress_ctx;
    /* Optional: each stretch of the file's bytes as it is read (a reader
     * keeps a private copy of what it verified, to read it again). A
     * non-zero return stops the read (LDG_EIO). */
    int (*raw)(void *raw_ctx, const void *p, size_t n);
    void *raw_ctx;
};

/* The checks of a segment, in the order one pass makes them; a result
 * names the one that failed. */
enum ldg_segment_check {
    LDG_SEGCHK_CONTAINER,  /* zstd stream, records, order, limits */
    LDG_SEGCHK_HEADER,     /* magic, version, header fields */
    LDG_SEGCHK_LOG_KEY,    /* the trusted key is the segment's */
    LDG_SEGCHK_CHECKPOINT, /* signed by the log key, this origin */
    LDG_SEGCHK_HORIZON,    /* the earlier prune's record */
    LDG_SEGCHK_KEYS,       /* key events, key validity and roles */
    LDG_SEGCHK_CHAIN,      /* entries decode, seq, time, chain */
    LDG_SEGCHK_SEALS,      /* format 2 seals (format 1: signatures) */
    LDG_SEGCHK_BODIES,     /* bodies against their commitments */
    LDG_SEGCHK_ERASURES,   /* every erased body named by a body.erased */
    LDG_SEGCHK_TREE,       /* leaves + left edge = the checkpoint's root */
    LDG_SEGCHK_STATE,      /* the state's note; the trailer's digest */
    LDG_SEGCHK_TRAILER,    /* the signed trailer states first and end */
    LDG_SEGCHK_COUNT
};
/* "container", "header", ... (static). */
const char *ldg_segment_check_name(enum ldg_segment_check c);

struct ldg_segment_result {
    struct ldg_segment_info info;
    int readable; /* the stream began as a segment (magic and header) */
    int ok;       /* every check passed */
    enum ldg_segment_check failed; /* when !ok */
    uint64_t bad_seq;              /* the event it is about, or UINT64_MAX */
    char what[512];                /* what is wrong, naming where */
};
/* Verifies the segment read from fd (sequentially, from its current
 * offset) in one pass; r is filled either way (release r->info).
 * @return 0 (r->ok); LDG_ETAMPER (a check failed: r says which, where and
 * what); LDG_EBADINPUT / LDG_ETOOBIG / LDG_EVERSION (not a readable
 * segment: r->readable 0 or the container check); LDG_EIO; LDG_ENOMEM.
 * Cost: O(n) hashing (a leaf, a body commitment and about one node an
 * event, a claim digest and seal nodes in format 2), one signature a seal
 * (format 1: an event), the decompression. */
int ldg_segment_verify_fd(int fd, const struct ldg_segment_verify_opts *o,
                          struct ldg_segment_result *r);
/* The same over bytes in memory (fuzzing, tests). */
int ldg_segment_verify_mem(const void *p, size_t n,
                           const struct ldg_segment_verify_opts *o,
                           struct ldg_segment_result *r);
/* Reads a segment (already verified) again, handing each event to
 * o->event and nothing else checked but its framing; the state with
 * keep_state. @return 0; the container's codes; the callback's. */
int ldg_segment_read_fd(int fd, const struct ldg_segment_verify_opts *o,
                        struct ldg_segment_info *info);
/* The same over bytes in memory (fuzzing, tests). */
int ldg_segment_read_mem(const void *p, size_t n,
                         const struct ldg_segment_verify_opts *o,
                         struct ldg_segment_info *info);
/* The prune's check: the segment on fd verifies with this ledger's log
 * key (ldg_segment_verify_fd, o's callbacks chained), every leaf of its
 * range is the one the ledger's tree holds for that seq, a body of a kept
 * event is in the segment exactly when the ledger holds it (not erased
 * since the segment was written), its checkpoint is the ledger's of that
 * size byte for byte, and the horizon record it carries is the ledger's
 * when the ledger's horizon is its first event. No JSON, no proof an
 * event: one pass over the file, a tile of stored hashes a 256 events.
 * @return as ldg_segment_verify_fd (LDG_ETAMPER naming the event and
 * what differs). */
int ldg_segment_check(struct ldg_txn *t, int fd,
                      const struct ldg_segment_verify_opts *o,
                      struct ldg_segment_result *r);
/* 1 when the file open on fd (read with pread, its offset untouched)
 * begins as a segment (a zstd frame whose stream starts with the magic),
 * 0 when not, < 0 on an I/O error. */
int ldg_segment_sniff(int fd);

#endif
