/*
 * segment_int.h — the segments part of ledger/ (its files and what they
 * share; docs/FORMAT.md section 11 states every byte, segment.c draws
 * the stream). Included by the segment files alone:
 *
 *   segment.c         the format: record kinds, the header, the ENTRY
 *                     codec, the trailer's text
 *   segment_write.c   the writer (ldg_segment_write)
 *   segment_read.c    the stream: decompressed as it is read, a record
 *                     at a time (and ldg_segment_sniff)
 *   segment_pool.c    the body commitments' worker (a second core)
 *   segment_events.c  the verifier's checks of one event: keys, seals,
 *                     bodies, the tree, proven events
 *   segment_verify.c  the verifier's pass over the stream, stage by
 *                     stage (ldg_segment_verify_*, ldg_segment_read_*)
 *   segment_check.c   a segment against a ledger (ldg_segment_check)
 */
#ifndef LEDGER_SEGMENT_INT_H
#define LEDGER_SEGMENT_INT_H

#include <pthread.h>

#include <zstd.h>

#include "ledger/epoch_int.h"
#include "ledger/record_int.h"

/* ------------------------------------------------------------ format -- */

enum seg_kind {
    K_HEADER = 0x01,
    K_HORIZON = 0x02,
    K_EDGE = 0x03,
    K_CHECKPOINT = 0x04,
    K_CONSISTENCY = 0x05,
    K_PROVEN = 0x06,
    K_SEAL = 0x07,
    K_ENTRY = 0x08,
    K_BODY = 0x09,
    K_ERASED = 0x0a,
    K_STATE = 0x0b,
    K_STATE_NOTE = 0x0c,
    K_TRAILER = 0x0d,
    K_CHECKPOINT_EPOCH = 0x0e /* right after CHECKPOINT (layout 9) */
};

/* The way ENTRY records pack an entry (the header's "codec"). */
#define CODEC_V1 1
#define SEG_TRAILER_LINE "ledger.segment/v1"
#define SEG_WINDOW_LOG_DEFAULT 24
#define SEG_LEVEL_DEFAULT 1
/* Records the framing bounds whatever the caller allows. */
#define HEADER_MAX 1024
#define NOTE_MAX 65536
#define EDGE_MAX (32 * 65)

struct seg_hdr {
    uint64_t codec, end, first, format;
    uint8_t key[32];
    char origin[LDG_ORIGIN_MAX + 1];
};

/* Unsigned LEB128, the shortest form, < 2^32: its length in p; and
 * back: 0 and *v, or -1. */
size_t seg_uv_put(uint8_t *p, uint64_t v);
int seg_uv_get(const uint8_t *p, size_t avail, uint64_t *v, size_t *used);
int seg_entry_pack(int format, const uint8_t *e, size_t n, uint8_t *out,
                   size_t cap, size_t *olen);
int seg_entry_unpack(int format, const uint8_t *p, size_t n,
                     const uint8_t prev[32], uint8_t *out, size_t *olen);
int seg_hdr_encode(const struct seg_hdr *h, uint8_t *out, size_t cap,
                   size_t *len);
int seg_hdr_decode(const uint8_t *p, size_t n, struct seg_hdr *h);
int seg_trailer_text(char *buf, size_t cap, const char *origin, uint64_t first,
                     uint64_t end, uint64_t n, const uint8_t *state_sha);

/* ------------------------------------------------------------ stream -- */

/* The stream of a segment, decompressed as it is read: from fd
 * (sequentially) or from memory. */
struct segr {
    int fd;
    const uint8_t *mem;
    size_t mem_len, mem_pos;
    ZSTD_DCtx *z;
    uint8_t *in;
    ZSTD_inBuffer ib;
    uint8_t *out;
    size_t out_cap, out_pos, out_len;
    int frame_done, eof;
    struct ldg_sha256_ctx sha; /* of the file's bytes */
    uint64_t file_bytes, raw_bytes;
    uint8_t *rec; /* a record that spans buffers, copied */
    size_t rec_cap;
    uint64_t rec_at; /* the stream offset of the last record's kind byte */
    uint64_t record_max, raw_max;
    int (*raw)(void *raw_ctx, const void *p, size_t n);
    void *raw_ctx;
    char err[256];
};

int segr_read(struct segr *s, uint8_t *dst, size_t n);
int segr_record(struct segr *s, uint8_t *kind, const uint8_t **p, size_t *n);
int segr_open(struct segr *s, int fd, const void *mem, size_t mem_len,
              const struct ldg_segment_verify_opts *o);
void segr_close(struct segr *s);

/* ----------------------------------------------------- bodies' worker -- */

/*
 * The body commitments, on a second core. Half of a verification's work is
 * hashing the bodies' fields (a digest a field, their root): independent
 * of everything else an event's checks need, so the reading thread hands
 * each body record with the commitment its entry names to a worker, in
 * batches, and goes on; the worker recomputes and compares, in seq order,
 * keeping the first that differs. Bodies the reading thread needs at once
 * (the genesis's, key events', erasures') it checks itself. A failure is
 * reported at the end, the first in seq order among the reader's and the
 * worker's (verify_common). One worker: the reading thread is the other
 * half of the work.
 */
#define BATCH_EVENTS 1024
#define BATCH_BYTES ((size_t)1 << 20)
#define NBATCH 4

struct bjob {
    uint64_t seq;
    size_t off, len;
    uint8_t root[32];
};

struct bbatch {
    struct bjob jobs[BATCH_EVENTS];
    size_t n;
    uint8_t *data;
    size_t len, cap;
    int full; /* handed to the worker, not yet checked */
};

struct bworker {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct bbatch b[NBATCH];
    int fill, next; /* the batch being filled; the next to check */
    int stop, running;
    size_t body_max;
    uint64_t bad_seq; /* the first body that failed, UINT64_MAX: none */
    char what[200];
};

int seg_bworker_start(struct bworker *w, size_t body_max);
int seg_bworker_add(struct bworker *w, uint64_t seq, const uint8_t *rec,
                    size_t len, const uint8_t root[32]);
void seg_bworker_finish(struct bworker *w);
void seg_bworker_free(struct bworker *w);

/* --------------------------------------------------------- verifying -- */

struct skey {
    char id[LDG_KEYID_LEN + 1];
    char name[LDG_NAME_MAX + 1];
    uint8_t pub[32];
    uint64_t added, revoked;
    uint32_t roles;
    uint64_t sealed;  /* events its seals covered so far */
    int sealed_known; /* ... when the segment knows where it started */
    int open;         /* index of its open seal + 1, or 0 */
    /* epoch keys: its key.anchored's seq + 1 (0: none seen), and its
     * chain along the range's seals (the first whole, FORMAT.md 11.1) */
    uint64_t anchored;
    struct ldg_epoch_chain *ep;
};

struct sopen {
    uint64_t seal_seq, next;
    struct ldg_seal seal;
    struct ldg_seal_acc acc;
    int key;
    /* by an epoch key: which, its start, and the seal's epoch signature */
    int epoch;
    struct ldg_epoch_id e;
    uint8_t ep_pub[32], ep_sig[64];
    uint64_t ep_start;
};

struct sv {
    const struct ldg_segment_verify_opts *o;
    struct ldg_segment_result *r;
    int check;          /* 0: ldg_segment_read (framing and decoding only) */
    struct bworker *bw; /* the body commitments' worker, or NULL */
    struct seg_hdr h;
    uint8_t pub[32];
    char log_id[LDG_KEYID_LEN + 1];
    size_t body_max;
    /* keys and open seals */
    struct skey *keys;
    size_t nkeys, capkeys, lastkey;
    struct sopen *seals;
    size_t nseals;
    /* the pending seal record (read, its first event not yet) */
    int have_seal;
    struct ldg_seal pend;
    uint8_t pend_ext[LDG_SEAL_EXT_MAX]; /* its epoch part, copied */
    /* the last proven event's seal, checked once */
    uint8_t proven_seal_rec[LDG_SEAL_REC_MAX];
    size_t proven_seal_len;
    uint8_t proven_seal_pub[32];
    /* the tree's right edge: complete subtrees, levels decreasing */
    int fn;
    int flevel[70];
    uint8_t fh[70][32];
    /* the checkpoint and the consistency proof to it */
    uint64_t n;
    uint8_t root[32];
    uint8_t cproof[LDG_PROOF_MAX][32];
    size_t ncproof;
    char *ck_line; /* its epoch line whole (CHECKPOINT_EPOCH), or NULL */
    size_t ck_line_len;
    /* the chain */
    uint64_t next_seq, last_ts, last_proven;
    int ts_known;
    uint8_t prev[32];
    /* erased bodies of the range not yet named by a body.erased */
    uint64_t *erased;
    uint8_t *named;
    size_t nerased, caperased;
    uint8_t entry[LDG_ENTRY_MAX + 64];
};

int seg_vfail(struct sv *s, enum ldg_segment_check c, uint64_t seq,
              const char *fmt, ...) __attribute__((format(printf, 4, 5)));
struct skey *seg_key_find(struct sv *s, const char *id);
struct skey *seg_key_add(struct sv *s, const char *id, const uint8_t pub[32],
                         uint64_t added);
/* Key k was anchored before the segment's horizon record: its anchor
 * as the record keeps it (FORMAT.md 6.2, "epoch"), which must be the
 * caller's pin when there is one; its seals in the range are then
 * checked from it (the first whole). @return 0; a finding; LDG_ENOMEM. */
int seg_anchor_at_horizon(struct sv *s, struct skey *k,
                          const struct ldg_horizon_key *hk);
void seg_tree_push(struct sv *s, const uint8_t h[32], int level);
void seg_tree_root(const struct sv *s, uint8_t root[32]);
int seg_body_kind(struct sv *s, uint64_t seq, const uint8_t *p, size_t n);
int seg_range_event(struct sv *s, const struct ldg_event *ev,
                    const uint8_t *body, size_t blen);
int seg_proven_event(struct sv *s, const uint8_t *p, size_t n, int after,
                     struct ldg_event *ev, struct ldg_segment_event *se);

#endif
