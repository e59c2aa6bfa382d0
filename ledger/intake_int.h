/*
 * intake_int.h — the intake log, internal to ledger/ (docs/FORMAT.md
 * section 12).
 *
 * DIR/intake is a file preallocated with written blocks and used as a
 * ring of frames: one frame an ack group (its events in their signed,
 * stored form, the seals the group closed and the signed checkpoint of
 * the new size), each starting at a fresh 4 KiB block, so an append never
 * rewrites a sector that holds an acknowledged record and a torn write
 * can take only the frame being written. A reader walks frames from a
 * position while header, checksum, lap and seq continuity hold, and stops
 * at the first that does not.
 *
 *   block 0         the file header (written once, at creation)
 *   blocks 1..N-1   the ring: frames, lap after lap
 *
 * This floor knows the bytes and the file; what a frame means to the
 * store (apply, replay) is the append path's. No LMDB here.
 */
#ifndef LDG_INTAKE_INT_H
#define LDG_INTAKE_INT_H

#include <stddef.h>
#include <stdint.h>

#define LDG_INTAKE_BLOCK 4096u
#define LDG_INTAKE_VERSION 1
#define LDG_INTAKE_MAGIC "LDGRINTK" /* the file header's 8 bytes */
#define LDG_INTAKE_FRAME_MAGIC "LDGF"
#define LDG_INTAKE_FRAME_HDR 64 /* a frame's header, checksum included */
/* A group's events fill its frame up to the writer's limit (intake_log.c:
 * 64 KiB, then the group goes to LMDB); the seals and the checkpoint
 * that close it may take this much more, so that closing a full frame
 * never fails (a seal's epoch part alone can be some 6 KB). */
#define LDG_INTAKE_CLOSE_ROOM ((size_t)64 << 10)
#define LDG_INTAKE_ID_LEN 16
/* The smallest file: its header block and a ring of 15 blocks. */
#define LDG_INTAKE_MIN_BLOCKS 16u
/* A frame's payload is at most this (its length field is 32 bits; a ring
 * bounds it further). */
#define LDG_INTAKE_PAYLOAD_MAX ((uint32_t)0xffffffffu - LDG_INTAKE_BLOCK)

/* A frame's records, in this order (FORMAT.md 12.3). */
enum ldg_intake_kind {
    LDG_IREC_DICT = 1,       /* u8 id ‖ a zstd dictionary */
    LDG_IREC_EVENT = 2,      /* u32be entry length ‖ entry ‖ body record */
    LDG_IREC_SEAL = 3,       /* u64be seq of its first event ‖ seal record */
    LDG_IREC_CHECKPOINT = 4, /* the signed checkpoint note */
    LDG_IREC_NOTE = 5        /* the appliers' signed note of the new size
                              * (the projection note), optional */
};

/* A record header: u8 kind ‖ u32be length. */
#define LDG_INTAKE_REC_HDR 5

/* The position of a frame: where the next one is looked for (or goes),
 * in which lap, and the seq of its first event. */
struct ldg_intake_pos {
    uint64_t block; /* 1..blocks-1 */
    uint32_t gen;   /* the lap: 1 for the first pass over the ring */
    uint64_t seq;
};

/* A frame whose header and checksum held. Borrowed: payload points into
 * the bytes parsed. */
struct ldg_intake_frame {
    uint32_t gen, blocks, count, payload_len;
    uint64_t first_seq;
    const uint8_t *payload;
};

/* One record of a frame. EVENT: p/len the entry, b/blen the body record;
 * SEAL: seq and p/len the seal record; DICT: id and p/len the
 * dictionary; CHECKPOINT and NOTE: p/len the note. */
struct ldg_intake_rec {
    enum ldg_intake_kind kind;
    const uint8_t *p, *b;
    size_t len, blen;
    uint64_t seq;
    unsigned id;
};

/* ---------------------------------------------------------- frames -- */

/*
 * Parses the frame at p (len bytes available from the start of its first
 * block): the magic, version, reserved bytes, the length in blocks for
 * its payload, the checksum, and every record (kinds in order, lengths
 * inside the payload, `count` events, at most one checkpoint and one
 * note, each event
 * with an entry of 1..65535 bytes). 0 with *f; LDG_ENOTFOUND when the
 * block is not a frame's start (no magic: zeros, a stale middle), or
 * LDG_ECORRUPT when it starts like one but does not hold, with a reason
 * in *why (static text; may be NULL). Reads no byte past p + len.
 */
int ldg_intake_frame_parse(const uint8_t *p, size_t len,
                           struct ldg_intake_frame *f, const char **why);

/* The records of a parsed frame, one a call: 1 with *r, 0 at the end.
 * *off starts at 0. A frame ldg_intake_frame_parse took never fails. */
int ldg_intake_rec_next(const struct ldg_intake_frame *f, size_t *off,
                        struct ldg_intake_rec *r);

/* Builds one frame in memory, records added in kind order. */
struct ldg_intake_build {
    uint8_t *p;
    size_t len, cap, max; /* max: the whole frame's bytes, at most */
    uint32_t gen, count;
    uint64_t first_seq;
    enum ldg_intake_kind last;
    int full; /* a record was refused for max_bytes (LDG_ETOOBIG) */
};

/* Starts a frame of lap gen whose first event is first_seq, of at most
 * max_bytes in all (padding included). */
void ldg_intake_build_init(struct ldg_intake_build *b, uint32_t gen,
                           uint64_t first_seq, size_t max_bytes);
void ldg_intake_build_release(struct ldg_intake_build *b);
/* Empties b's records (its memory kept) and makes first_seq its first
 * event's seq: a commit tried again starts its frame over. */
void ldg_intake_build_reset(struct ldg_intake_build *b, uint64_t first_seq);
/* Each: 0; LDG_EINVAL out of kind order (or a second checkpoint or note, an
 * entry of 0 or > 65535 bytes, a dictionary id of 0); LDG_ETOOBIG past
 * max_bytes; LDG_ENOMEM. */
int ldg_intake_build_dict(struct ldg_intake_build *b, unsigned id,
                          const void *dict, size_t len);
int ldg_intake_build_event(struct ldg_intake_build *b, const void *entry,
                           size_t entry_len, const void *body, size_t body_len);
int ldg_intake_build_seal(struct ldg_intake_build *b, uint64_t seal_seq,
                          const void *rec, size_t len);
int ldg_intake_build_checkpoint(struct ldg_intake_build *b, const void *note,
                                size_t len);
int ldg_intake_build_note(struct ldg_intake_build *b, const void *note,
                          size_t len);
/* Writes the header and checksum and pads to whole blocks: *out (b's
 * memory, valid until b is released or built on) holds *len bytes, a
 * multiple of LDG_INTAKE_BLOCK. LDG_EINVAL for a frame of no event. */
int ldg_intake_build_finish(struct ldg_intake_build *b, const uint8_t **out,
                            size_t *len);

/* ------------------------------------------------------------ file -- */

struct ldg_intake;

/* The file header (block 0) for a file of `blocks` blocks with id id:
 * 4096 bytes into hdr. */
void ldg_intake_header_encode(uint8_t hdr[LDG_INTAKE_BLOCK], uint64_t blocks,
                              const uint8_t id[LDG_INTAKE_ID_LEN]);
/* Checks a file header: 0 with *blocks and id, LDG_EVERSION for another
 * version, LDG_ECORRUPT (with *why) otherwise. */
int ldg_intake_header_parse(const uint8_t hdr[LDG_INTAKE_BLOCK],
                            uint64_t *blocks, uint8_t id[LDG_INTAKE_ID_LEN],
                            const char **why);

/*
 * Creates path holding `blocks` blocks (at least LDG_INTAKE_MIN_BLOCKS):
 * written in full (the header, then zeros) and fsynced under a temporary
 * name, then renamed into place and the directory synced, so the file is
 * either whole or absent after a crash, and a later fdatasync of a frame
 * writes its data only (no extent or size to record). LDG_EEXIST if path
 * is there; LDG_EFULL when the file system has no room for it (nothing is
 * left behind); LDG_EIO otherwise, with err.
 */
int ldg_intake_create(const char *path, uint64_t blocks,
                      const uint8_t id[LDG_INTAKE_ID_LEN], char *err,
                      size_t errcap);

/* Opens path (read-only when rdonly) and checks its header and length.
 * LDG_ENOTFOUND when there is none; LDG_EVERSION, LDG_ECORRUPT or LDG_EIO
 * with err. */
int ldg_intake_open(struct ldg_intake **out, const char *path, int rdonly,
                    char *err, size_t errcap);
void ldg_intake_close(struct ldg_intake *in);
uint64_t ldg_intake_blocks(const struct ldg_intake *in);
const uint8_t *ldg_intake_id(const struct ldg_intake *in);

/*
 * Reads the frame at *pos, or when the block there holds none of lap
 * pos->gen, the frame at block 1 of lap pos->gen + 1 (the writer wrapped):
 * either must hold and have first seq pos->seq. 1 with *f (its bytes in
 * *buf, grown as needed, at most the ring) and *pos moved past it; 0 at
 * the end of the log (nothing more, or a torn or stale frame: the tail no
 * ack covers); LDG_EIO, LDG_ENOMEM.
 */
int ldg_intake_next(struct ldg_intake *in, struct ldg_intake_pos *pos,
                    uint8_t **buf, size_t *bufcap, struct ldg_intake_frame *f);

/* The frame at block `block` whatever its lap and seq: 1 with *f, 0 when
 * none holds there, LDG_EIO, LDG_ENOMEM (verify's look past the end). */
int ldg_intake_frame_at(struct ldg_intake *in, uint64_t block, uint8_t **buf,
                        size_t *bufcap, struct ldg_intake_frame *f);

/* The header of a frame at block `block`, unchecked past its own fields
 * (its payload's checksum is not read): 1 with its lap and first seq, 0
 * when no header parses there, LDG_EIO. A cheap look before
 * ldg_intake_frame_at. */
int ldg_intake_peek_at(struct ldg_intake *in, uint64_t block, uint32_t *gen,
                       uint64_t *first_seq);

/*
 * Where a frame of `blocks` blocks goes when the log ends at *end and the
 * store has applied up to *applied: *at (block and lap; seq is end's).
 * The frame never covers a block of an unapplied frame. 0, or LDG_EFULL
 * when the ring has no room until more is applied (or the frame is larger
 * than the ring).
 */
int ldg_intake_place(const struct ldg_intake *in,
                     const struct ldg_intake_pos *end,
                     const struct ldg_intake_pos *applied, uint32_t blocks,
                     struct ldg_intake_pos *at);

/* Blocks of the ring in use between applied and end (unapplied). */
uint64_t ldg_intake_used(const struct ldg_intake *in,
                         const struct ldg_intake_pos *end,
                         const struct ldg_intake_pos *applied);

/* Writes a built frame (len a multiple of the block) at block at, then
 * fdatasync: durable on return 0. LDG_EFULL (ENOSPC, EDQUOT), LDG_EIO:
 * then the frame's header is overwritten with zeros and flushed, so that
 * no reader takes it for one; if that fails too, ldg_intake_unsure says
 * so (the frame may be in the log). */
int ldg_intake_write(struct ldg_intake *in, uint64_t at, const void *frame,
                     size_t len);

/* Overwrites every frame block of the ring (all but the header block)
 * with zeros in place, then fdatasync: what an erasure leaves of the
 * events the ring held (their bodies among them). Only once every frame
 * is applied to the store (the exclusive lock held, the tail settled):
 * the ring then reads as holding no frame. 0; LDG_EFULL, LDG_EIO (some
 * blocks may be zero: they were applied); LDG_EINVAL read-only. */
int ldg_intake_wipe(struct ldg_intake *in);

/* Whether the last failed ldg_intake_write could not undo its frame. */
int ldg_intake_unsure(const struct ldg_intake *in);

/* Writes without the flush from now on (a ledger opened LDG_NOSYNC, as
 * LMDB's MDB_NOSYNC: for tests; nothing is durable). */
void ldg_intake_set_nosync(struct ldg_intake *in);

#endif
