/*
 * intake.c — the intake log's bytes and file (intake_int.h; docs/FORMAT.md
 * section 12).
 *
 * The file header, block 0 (written once):
 *
 *   0       8  "LDGRINTK"
 *   8       4  u32be version (1)
 *   12      4  u32be block size (4096)
 *   16      8  u64be blocks: the file's length in blocks, header included
 *   24     16  file id (random; the store's meta names it)
 *   40     32  SHA-256 of bytes 0..40
 *   72   4024  zeros
 *
 * A frame, from the start of a block of the ring:
 *
 *   0       4  "LDGF"
 *   4       1  version (1)
 *   5       3  zeros (reserved)
 *   8       4  u32be gen: the lap (1, 2, ...)
 *   12      4  u32be blocks: the frame's length, ceil((64 + payload) / 4096)
 *   16      8  u64be seq of its first event
 *   24      4  u32be count: its events
 *   28      4  u32be payload length
 *   32     32  SHA-256(bytes 0..32 ‖ payload)
 *   64      .  payload: records, each u8 kind ‖ u32be length ‖ bytes
 *   .       .  zeros to the end of its last block (not checked)
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ledger/intake_int.h"
#include "ledger/record_int.h"

#define HDR_SUM_AT 40
#define ENTRY_MAX 65535u

/* ---------------------------------------------------------- frames -- */

static uint32_t
blocks_for(uint64_t payload_len)
{
    return (
        uint32_t)((LDG_INTAKE_FRAME_HDR + payload_len + LDG_INTAKE_BLOCK - 1) /
                  LDG_INTAKE_BLOCK);
}

static int
say(const char **why, const char *what, int rc)
{
    if (why != NULL)
        *why = what;
    return rc;
}

/* Reads the header of a frame's first block (64 bytes at p) without its
 * checksum: how many blocks the frame says it is. 0, or as
 * ldg_intake_frame_parse. */
static int
ldg_intake_frame_peek(const uint8_t *p, uint32_t *gen, uint32_t *blocks,
                      uint64_t *first_seq, const char **why)
{
    uint32_t plen;

    if (memcmp(p, LDG_INTAKE_FRAME_MAGIC, 4) != 0)
        return say(why, "no frame starts here", LDG_ENOTFOUND);
    if (p[4] != LDG_INTAKE_VERSION)
        return say(why, "a frame of another version", LDG_ECORRUPT);
    if (p[5] != 0 || p[6] != 0 || p[7] != 0)
        return say(why, "a frame's reserved bytes are not zero", LDG_ECORRUPT);
    *gen = ldg_rd_be32(p + 8);
    *blocks = ldg_rd_be32(p + 12);
    *first_seq = ldg_rd_be64(p + 16);
    plen = ldg_rd_be32(p + 28);
    if (*gen == 0)
        return say(why, "a frame of lap 0", LDG_ECORRUPT);
    if (ldg_rd_be32(p + 24) == 0)
        return say(why, "a frame of no event", LDG_ECORRUPT);
    if (plen > LDG_INTAKE_PAYLOAD_MAX || *blocks != blocks_for(plen))
        return say(why, "a frame's length in blocks is not its payload's",
                   LDG_ECORRUPT);
    if (*first_seq > UINT64_MAX - ldg_rd_be32(p + 24))
        return say(why, "a frame's seqs run past 2^64", LDG_ECORRUPT);
    return 0;
}

/* The record at f's payload offset *off, checked: 1 with *r, 0 at the
 * end, LDG_ECORRUPT with *why. */
static int
rec_read(const uint8_t *pl, uint32_t plen, size_t *off,
         struct ldg_intake_rec *r, const char **why)
{
    const uint8_t *p;
    size_t len;

    if (*off == plen)
        return 0;
    if (plen - *off < LDG_INTAKE_REC_HDR)
        return say(why, "a record's header runs past the payload",
                   LDG_ECORRUPT);
    p = pl + *off;
    len = ldg_rd_be32(p + 1);
    if (len > plen - *off - LDG_INTAKE_REC_HDR)
        return say(why, "a record runs past the payload", LDG_ECORRUPT);
    memset(r, 0, sizeof *r);
    r->kind = (enum ldg_intake_kind)p[0];
    r->p = p + LDG_INTAKE_REC_HDR;
    r->len = len;
    switch (p[0]) {
    case LDG_IREC_DICT:
        if (len < 2 || r->p[0] == 0)
            return say(why, "a dictionary record without its id", LDG_ECORRUPT);
        r->id = r->p[0];
        r->p++;
        r->len--;
        break;
    case LDG_IREC_EVENT: {
        size_t el;
        if (len < 4)
            return say(why, "an event record without its entry's length",
                       LDG_ECORRUPT);
        el = ldg_rd_be32(r->p);
        if (el == 0 || el > ENTRY_MAX || el > len - 4)
            return say(why, "an event record's entry length is not inside it",
                       LDG_ECORRUPT);
        r->b = r->p + 4 + el;
        r->blen = len - 4 - el;
        r->p += 4;
        r->len = el;
        break;
    }
    case LDG_IREC_SEAL:
        if (len < 9)
            return say(why, "a seal record without its seq", LDG_ECORRUPT);
        r->seq = ldg_rd_be64(r->p);
        r->p += 8;
        r->len -= 8;
        break;
    case LDG_IREC_CHECKPOINT:
        if (len == 0)
            return say(why, "an empty checkpoint record", LDG_ECORRUPT);
        break;
    case LDG_IREC_NOTE:
        if (len == 0)
            return say(why, "an empty note record", LDG_ECORRUPT);
        break;
    default:
        return say(why, "a record of an unknown kind", LDG_ECORRUPT);
    }
    *off += LDG_INTAKE_REC_HDR + len;
    return 1;
}

int
ldg_intake_frame_parse(const uint8_t *p, size_t len, struct ldg_intake_frame *f,
                       const char **why)
{
    struct ldg_sha256_ctx c;
    struct ldg_intake_rec r;
    enum ldg_intake_kind last = LDG_IREC_DICT;
    uint8_t sum[32];
    uint32_t events = 0, checkpoints = 0, notes = 0;
    size_t off = 0;
    int rc;

    if (p == NULL || f == NULL)
        return LDG_EINVAL;
    memset(f, 0, sizeof *f);
    if (len < LDG_INTAKE_FRAME_HDR)
        return say(why, "shorter than a frame's header", LDG_ECORRUPT);
    if ((rc = ldg_intake_frame_peek(p, &f->gen, &f->blocks, &f->first_seq,
                                    why)) < 0)
        return rc;
    f->count = ldg_rd_be32(p + 24);
    f->payload_len = ldg_rd_be32(p + 28);
    if (LDG_INTAKE_FRAME_HDR + (size_t)f->payload_len > len)
        return say(why, "a frame runs past the bytes read", LDG_ECORRUPT);
    f->payload = p + LDG_INTAKE_FRAME_HDR;
    ldg_sha256_init(&c);
    ldg_sha256_update(&c, p, 32);
    ldg_sha256_update(&c, f->payload, f->payload_len);
    ldg_sha256_final(&c, sum);
    if (memcmp(sum, p + 32, 32) != 0)
        return say(why, "a frame's checksum does not hold (a torn write?)",
                   LDG_ECORRUPT);
    while ((rc = rec_read(f->payload, f->payload_len, &off, &r, why)) == 1) {
        if (r.kind < last)
            return say(why, "a frame's records are out of kind order",
                       LDG_ECORRUPT);
        last = r.kind;
        events += r.kind == LDG_IREC_EVENT;
        checkpoints += r.kind == LDG_IREC_CHECKPOINT;
        notes += r.kind == LDG_IREC_NOTE;
    }
    if (rc < 0)
        return rc;
    if (events != f->count)
        return say(why, "a frame's event records are not its count",
                   LDG_ECORRUPT);
    if (checkpoints > 1)
        return say(why, "a frame with two checkpoints", LDG_ECORRUPT);
    if (notes > 1)
        return say(why, "a frame with two notes", LDG_ECORRUPT);
    return 0;
}

int
ldg_intake_rec_next(const struct ldg_intake_frame *f, size_t *off,
                    struct ldg_intake_rec *r)
{
    int rc = rec_read(f->payload, f->payload_len, off, r, NULL);
    LDG_ASSERT(rc >= 0); /* the frame was parsed */
    return rc < 0 ? 0 : rc;
}

void
ldg_intake_build_init(struct ldg_intake_build *b, uint32_t gen,
                      uint64_t first_seq, size_t max_bytes)
{
    memset(b, 0, sizeof *b);
    b->gen = gen;
    b->first_seq = first_seq;
    b->max = max_bytes;
    b->len = LDG_INTAKE_FRAME_HDR;
    b->last = LDG_IREC_DICT;
}

void
ldg_intake_build_release(struct ldg_intake_build *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

void
ldg_intake_build_reset(struct ldg_intake_build *b, uint64_t first_seq)
{
    b->len = LDG_INTAKE_FRAME_HDR;
    b->count = 0;
    b->first_seq = first_seq;
    b->last = LDG_IREC_DICT;
    b->full = 0;
}

/* Room for n more bytes (and the padding after them). */
static int
build_room(struct ldg_intake_build *b, size_t n)
{
    size_t want;
    if (n > LDG_INTAKE_PAYLOAD_MAX ||
        b->len - LDG_INTAKE_FRAME_HDR + n > LDG_INTAKE_PAYLOAD_MAX ||
        (size_t)blocks_for(b->len - LDG_INTAKE_FRAME_HDR + n) *
                LDG_INTAKE_BLOCK >
            b->max) {
        b->full = 1;
        return LDG_ETOOBIG;
    }
    want = (size_t)blocks_for(b->len - LDG_INTAKE_FRAME_HDR + n) *
           LDG_INTAKE_BLOCK;
    if (want > b->cap) {
        size_t cap = b->cap ? b->cap : LDG_INTAKE_BLOCK;
        uint8_t *np;
        while (cap < want)
            cap *= 2;
        if ((np = realloc(b->p, cap)) == NULL)
            return LDG_ENOMEM;
        b->p = np;
        b->cap = cap;
    }
    return 0;
}

/* Appends a record of kind k: u8 k ‖ u32be (hlen + len) ‖ h ‖ d. */
static int
build_rec(struct ldg_intake_build *b, enum ldg_intake_kind k, const void *h,
          size_t hlen, const void *d, size_t len)
{
    int rc;
    /* (kinds in order; a checkpoint and a note once each, so one of those
     * after its own kind is a second) */
    if (k < b->last || (k == b->last && k >= LDG_IREC_CHECKPOINT) ||
        hlen + len > UINT32_MAX)
        return LDG_EINVAL;
    if ((rc = build_room(b, LDG_INTAKE_REC_HDR + hlen + len)) < 0)
        return rc;
    b->p[b->len] = (uint8_t)k;
    ldg_be32(b->p + b->len + 1, (uint32_t)(hlen + len));
    b->len += LDG_INTAKE_REC_HDR;
    if (hlen)
        memcpy(b->p + b->len, h, hlen);
    b->len += hlen;
    if (len)
        memcpy(b->p + b->len, d, len);
    b->len += len;
    b->last = k;
    return 0;
}

int
ldg_intake_build_dict(struct ldg_intake_build *b, unsigned id, const void *dict,
                      size_t len)
{
    uint8_t h = (uint8_t)id;
    if (id == 0 || id > 255 || len == 0)
        return LDG_EINVAL;
    return build_rec(b, LDG_IREC_DICT, &h, 1, dict, len);
}

int
ldg_intake_build_event(struct ldg_intake_build *b, const void *entry,
                       size_t entry_len, const void *body, size_t body_len)
{
    struct ldg_intake_build save = *b;
    uint8_t h[4];
    int rc;
    if (entry_len == 0 || entry_len > ENTRY_MAX || b->count == UINT32_MAX)
        return LDG_EINVAL;
    ldg_be32(h, (uint32_t)entry_len);
    if ((rc = build_rec(b, LDG_IREC_EVENT, h, 4, entry, entry_len)) < 0)
        return rc;
    /* the body follows the entry inside the same record */
    if (body_len > 0) {
        size_t at = save.len;
        if ((rc = build_room(b, body_len)) < 0 ||
            4 + entry_len + body_len > UINT32_MAX) {
            b->len = save.len; /* (b->p may have moved: lengths only) */
            b->last = save.last;
            return rc < 0 ? rc : LDG_ETOOBIG;
        }
        memcpy(b->p + b->len, body, body_len);
        b->len += body_len;
        ldg_be32(b->p + at + 1, (uint32_t)(4 + entry_len + body_len));
    }
    b->count++;
    return 0;
}

int
ldg_intake_build_seal(struct ldg_intake_build *b, uint64_t seal_seq,
                      const void *rec, size_t len)
{
    uint8_t h[8];
    if (len == 0)
        return LDG_EINVAL;
    ldg_be64(h, seal_seq);
    return build_rec(b, LDG_IREC_SEAL, h, 8, rec, len);
}

int
ldg_intake_build_checkpoint(struct ldg_intake_build *b, const void *note,
                            size_t len)
{
    return len == 0 ? LDG_EINVAL
                    : build_rec(b, LDG_IREC_CHECKPOINT, NULL, 0, note, len);
}

int
ldg_intake_build_note(struct ldg_intake_build *b, const void *note, size_t len)
{
    return len == 0 ? LDG_EINVAL
                    : build_rec(b, LDG_IREC_NOTE, NULL, 0, note, len);
}

int
ldg_intake_build_finish(struct ldg_intake_build *b, const uint8_t **out,
                        size_t *len)
{
    struct ldg_sha256_ctx c;
    uint32_t plen, blocks;
    int rc;

    if (b->count == 0 || b->gen == 0 || b->first_seq > UINT64_MAX - b->count)
        return LDG_EINVAL;
    if ((rc = build_room(b, 0)) < 0)
        return rc;
    plen = (uint32_t)(b->len - LDG_INTAKE_FRAME_HDR);
    blocks = blocks_for(plen);
    memset(b->p, 0, LDG_INTAKE_FRAME_HDR);
    memcpy(b->p, LDG_INTAKE_FRAME_MAGIC, 4);
    b->p[4] = LDG_INTAKE_VERSION;
    ldg_be32(b->p + 8, b->gen);
    ldg_be32(b->p + 12, blocks);
    ldg_be64(b->p + 16, b->first_seq);
    ldg_be32(b->p + 24, b->count);
    ldg_be32(b->p + 28, plen);
    ldg_sha256_init(&c);
    ldg_sha256_update(&c, b->p, 32);
    ldg_sha256_update(&c, b->p + LDG_INTAKE_FRAME_HDR, plen);
    ldg_sha256_final(&c, b->p + 32);
    memset(b->p + b->len, 0, (size_t)blocks * LDG_INTAKE_BLOCK - b->len);
    *out = b->p;
    *len = (size_t)blocks * LDG_INTAKE_BLOCK;
    return 0;
}

/* ------------------------------------------------------------ file -- */

struct ldg_intake {
    int fd, rdonly, nosync;
    int unsure; /* the last failed write could not be undone */
    uint64_t blocks;
    uint8_t id[LDG_INTAKE_ID_LEN];
};

void
ldg_intake_header_encode(uint8_t hdr[LDG_INTAKE_BLOCK], uint64_t blocks,
                         const uint8_t id[LDG_INTAKE_ID_LEN])
{
    memset(hdr, 0, LDG_INTAKE_BLOCK);
    memcpy(hdr, LDG_INTAKE_MAGIC, 8);
    ldg_be32(hdr + 8, LDG_INTAKE_VERSION);
    ldg_be32(hdr + 12, LDG_INTAKE_BLOCK);
    ldg_be64(hdr + 16, blocks);
    memcpy(hdr + 24, id, LDG_INTAKE_ID_LEN);
    ldg_sha256(hdr + HDR_SUM_AT, hdr, HDR_SUM_AT);
}

int
ldg_intake_header_parse(const uint8_t hdr[LDG_INTAKE_BLOCK], uint64_t *blocks,
                        uint8_t id[LDG_INTAKE_ID_LEN], const char **why)
{
    uint8_t sum[32];
    if (memcmp(hdr, LDG_INTAKE_MAGIC, 8) != 0)
        return say(why, "not an intake log (no LDGRINTK magic)", LDG_ECORRUPT);
    ldg_sha256(sum, hdr, HDR_SUM_AT);
    if (memcmp(sum, hdr + HDR_SUM_AT, 32) != 0)
        return say(why, "its header's checksum does not hold", LDG_ECORRUPT);
    if (ldg_rd_be32(hdr + 8) != LDG_INTAKE_VERSION)
        return say(why, "an intake log of another version", LDG_EVERSION);
    if (ldg_rd_be32(hdr + 12) != LDG_INTAKE_BLOCK)
        return say(why, "its block size is not 4096", LDG_ECORRUPT);
    *blocks = ldg_rd_be64(hdr + 16);
    if (*blocks < LDG_INTAKE_MIN_BLOCKS ||
        *blocks > (uint64_t)INT64_MAX / LDG_INTAKE_BLOCK)
        return say(why, "its length in blocks is out of range", LDG_ECORRUPT);
    memcpy(id, hdr + 24, LDG_INTAKE_ID_LEN);
    return 0;
}

static int
full_errno(int e)
{
    return e == ENOSPC || e == EDQUOT;
}

/* Writes n bytes at off in full. 0 or -1 with errno. */
static int
pwrite_all(int fd, const void *p, size_t n, off_t off)
{
    const uint8_t *q = p;
    while (n > 0) {
        ssize_t w = pwrite(fd, q, n, off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = ENOSPC;
            return -1;
        }
        q += w;
        n -= (size_t)w;
        off += w;
    }
    return 0;
}

/* Reads n bytes at off: the count read (short at the end of the file), or
 * -1 with errno. */
static ssize_t
pread_all(int fd, void *p, size_t n, off_t off)
{
    uint8_t *q = p;
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, q + got, n - got, off + (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

static void
sync_dir_of(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    int fd;
    if (slash == NULL) {
        snprintf(dir, sizeof dir, ".");
    } else {
        size_t n = (size_t)(slash - path);
        if (n == 0)
            n = 1;
        if (n >= sizeof dir)
            return;
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        return;
    (void)fsync(fd);
    close(fd);
}

int
ldg_intake_create(const char *path, uint64_t blocks,
                  const uint8_t id[LDG_INTAKE_ID_LEN], char *err, size_t errcap)
{
    char tmp[PATH_MAX];
    uint8_t *chunk = NULL;
    struct stat st;
    const size_t step = 64 * LDG_INTAKE_BLOCK; /* 256 KiB a write */
    int fd = -1, rc = LDG_EIO, e = 0;

    if (path == NULL || blocks < LDG_INTAKE_MIN_BLOCKS ||
        blocks > (uint64_t)INT64_MAX / LDG_INTAKE_BLOCK)
        return LDG_EINVAL;
    if (stat(path, &st) == 0) {
        snprintf(err, errcap, "%s is there already", path);
        return LDG_EEXIST;
    }
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.new", path) >= sizeof tmp)
        return LDG_EINVAL;
    (void)unlink(tmp); /* a creation that died half-way */
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        e = errno;
        goto fail;
    }
    if ((chunk = calloc(1, step)) == NULL) {
        rc = LDG_ENOMEM;
        goto fail;
    }
    ldg_intake_header_encode(chunk, blocks, id);
    for (uint64_t b = 0; b < blocks;) {
        uint64_t n = blocks - b < step / LDG_INTAKE_BLOCK
                         ? blocks - b
                         : step / LDG_INTAKE_BLOCK;
        if (pwrite_all(fd, chunk, (size_t)n * LDG_INTAKE_BLOCK,
                       (off_t)(b * LDG_INTAKE_BLOCK)) < 0) {
            e = errno;
            goto fail;
        }
        if (b == 0)
            memset(chunk, 0, LDG_INTAKE_BLOCK);
        b += n;
    }
    if (fsync(fd) != 0) {
        e = errno;
        goto fail;
    }
    close(fd);
    fd = -1;
    if (rename(tmp, path) != 0) {
        e = errno;
        goto fail;
    }
    sync_dir_of(path);
    free(chunk);
    return 0;
fail:
    if (fd >= 0)
        close(fd);
    (void)unlink(tmp);
    free(chunk);
    if (rc != LDG_ENOMEM)
        rc = full_errno(e) ? LDG_EFULL : LDG_EIO;
    if (err != NULL && errcap > 0)
        snprintf(err, errcap, "cannot create the intake log %s (%llu KiB): %s",
                 path, (unsigned long long)(blocks * (LDG_INTAKE_BLOCK / 1024)),
                 rc == LDG_ENOMEM ? "out of memory" : strerror(e));
    return rc;
}

int
ldg_intake_open(struct ldg_intake **out, const char *path, int rdonly,
                char *err, size_t errcap)
{
    struct ldg_intake *in;
    uint8_t hdr[LDG_INTAKE_BLOCK];
    struct stat st;
    const char *why = NULL;
    ssize_t got;
    int fd, rc;

    *out = NULL;
    fd = open(path, (rdonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return LDG_ENOTFOUND;
    if (fd < 0) {
        snprintf(err, errcap, "cannot open the intake log %s: %s", path,
                 strerror(errno));
        return LDG_EIO;
    }
    got = fstat(fd, &st) == 0 ? pread_all(fd, hdr, sizeof hdr, 0) : -1;
    if (got < 0) {
        snprintf(err, errcap, "cannot read the intake log %s: %s", path,
                 strerror(errno));
        close(fd);
        return LDG_EIO;
    }
    if ((size_t)got < sizeof hdr) {
        snprintf(err, errcap,
                 "storage corrupt: the intake log %s is %lld bytes, shorter "
                 "than its header block",
                 path, (long long)st.st_size);
        close(fd);
        return LDG_ECORRUPT;
    }
    if ((in = calloc(1, sizeof *in)) == NULL) {
        close(fd);
        return LDG_ENOMEM;
    }
    if ((rc = ldg_intake_header_parse(hdr, &in->blocks, in->id, &why)) < 0 ||
        (uint64_t)st.st_size < in->blocks * LDG_INTAKE_BLOCK) {
        if (rc == 0) {
            why = "the file is shorter than its header says (cut short)";
            rc = LDG_ECORRUPT;
        }
        snprintf(err, errcap, "%sthe intake log %s: %s",
                 rc == LDG_ECORRUPT ? "storage corrupt: " : "", path, why);
        close(fd);
        free(in);
        return rc;
    }
    in->fd = fd;
    in->rdonly = rdonly;
    *out = in;
    return 0;
}

void
ldg_intake_close(struct ldg_intake *in)
{
    if (in == NULL)
        return;
    close(in->fd); /* drops the lock too */
    free(in);
}

uint64_t
ldg_intake_blocks(const struct ldg_intake *in)
{
    return in->blocks;
}

const uint8_t *
ldg_intake_id(const struct ldg_intake *in)
{
    return in->id;
}

/* The frame at block b, of lap gen with first seq seq: 1 with *f, 0 when
 * there is none such, or an error. */
static int
frame_at(struct ldg_intake *in, uint64_t b, uint32_t gen, uint64_t seq,
         uint8_t **buf, size_t *bufcap, struct ldg_intake_frame *f)
{
    uint32_t fgen, blocks;
    uint64_t first;
    size_t need;
    ssize_t got;

    if (b < 1 || b >= in->blocks)
        return 0;
    if (*bufcap < LDG_INTAKE_BLOCK) {
        uint8_t *np = realloc(*buf, LDG_INTAKE_BLOCK);
        if (np == NULL)
            return LDG_ENOMEM;
        *buf = np;
        *bufcap = LDG_INTAKE_BLOCK;
    }
    got = pread_all(in->fd, *buf, LDG_INTAKE_BLOCK,
                    (off_t)(b * LDG_INTAKE_BLOCK));
    if (got < 0)
        return LDG_EIO;
    if ((size_t)got < LDG_INTAKE_BLOCK)
        return 0;
    /* (gen 0: a frame of any lap and seq) */
    if (ldg_intake_frame_peek(*buf, &fgen, &blocks, &first, NULL) < 0 ||
        (gen != 0 && (fgen != gen || first != seq)) || blocks > in->blocks - b)
        return 0;
    need = (size_t)blocks * LDG_INTAKE_BLOCK;
    if (need > *bufcap) {
        uint8_t *np = realloc(*buf, need);
        if (np == NULL)
            return LDG_ENOMEM;
        *buf = np;
        *bufcap = need;
    }
    if (blocks > 1) {
        got =
            pread_all(in->fd, *buf + LDG_INTAKE_BLOCK, need - LDG_INTAKE_BLOCK,
                      (off_t)((b + 1) * LDG_INTAKE_BLOCK));
        if (got < 0)
            return LDG_EIO;
        if ((size_t)got < need - LDG_INTAKE_BLOCK)
            return 0;
    }
    return ldg_intake_frame_parse(*buf, need, f, NULL) == 0;
}

int
ldg_intake_next(struct ldg_intake *in, struct ldg_intake_pos *pos,
                uint8_t **buf, size_t *bufcap, struct ldg_intake_frame *f)
{
    uint64_t b = pos->block;
    uint32_t gen = pos->gen;
    int rc = frame_at(in, b, gen, pos->seq, buf, bufcap, f);

    if (rc == 0 && gen < UINT32_MAX) {
        /* the writer wrapped: the next frame starts the next lap */
        b = 1;
        gen++;
        rc = frame_at(in, b, gen, pos->seq, buf, bufcap, f);
    }
    if (rc <= 0)
        return rc;
    pos->block = b + f->blocks;
    pos->gen = gen;
    pos->seq = f->first_seq + f->count;
    return 1;
}

int
ldg_intake_frame_at(struct ldg_intake *in, uint64_t block, uint8_t **buf,
                    size_t *bufcap, struct ldg_intake_frame *f)
{
    return frame_at(in, block, 0, 0, buf, bufcap, f);
}

int
ldg_intake_peek_at(struct ldg_intake *in, uint64_t block, uint32_t *gen,
                   uint64_t *first_seq)
{
    uint8_t hdr[32];
    uint32_t blocks;
    ssize_t got;

    if (block < 1 || block >= in->blocks)
        return 0;
    got = pread_all(in->fd, hdr, sizeof hdr, (off_t)(block * LDG_INTAKE_BLOCK));
    if (got < 0)
        return LDG_EIO;
    return (size_t)got == sizeof hdr &&
           ldg_intake_frame_peek(hdr, gen, &blocks, first_seq, NULL) == 0 &&
           blocks <= in->blocks - block;
}

int
ldg_intake_place(const struct ldg_intake *in, const struct ldg_intake_pos *end,
                 const struct ldg_intake_pos *applied, uint32_t blocks,
                 struct ldg_intake_pos *at)
{
    uint64_t n = in->blocks;

    *at = *end;
    if (blocks == 0)
        return LDG_EINVAL;
    if (end->gen == applied->gen) {
        /* [applied, end) in use: room up to the ring's end, else after
         * the wrap up to applied */
        LDG_ASSERT(applied->block <= end->block);
        if (end->block + blocks <= n)
            return 0;
        if (1 + (uint64_t)blocks <= applied->block && end->gen < UINT32_MAX) {
            at->block = 1;
            at->gen = end->gen + 1;
            return 0;
        }
        return LDG_EFULL;
    }
    /* wrapped once past applied: [applied, n) and [1, end) in use */
    LDG_ASSERT(end->gen == applied->gen + 1 && end->block <= applied->block);
    if (end->block + blocks <= applied->block)
        return 0;
    return LDG_EFULL;
}

uint64_t
ldg_intake_used(const struct ldg_intake *in, const struct ldg_intake_pos *end,
                const struct ldg_intake_pos *applied)
{
    if (end->gen == applied->gen)
        return end->block - applied->block;
    return (in->blocks - applied->block) + (end->block - 1);
}

int
ldg_intake_write(struct ldg_intake *in, uint64_t at, const void *frame,
                 size_t len)
{
    if (in->rdonly || len == 0 || len % LDG_INTAKE_BLOCK != 0 || at < 1 ||
        at >= in->blocks || len / LDG_INTAKE_BLOCK > in->blocks - at)
        return LDG_EINVAL;
    if (pwrite_all(in->fd, frame, len, (off_t)(at * LDG_INTAKE_BLOCK)) == 0 &&
        (in->nosync || fdatasync(in->fd) == 0))
        return 0;
    /* Not acknowledged, yet the frame may be whole in the page cache (a
     * failed flush leaves it there), where the next reader would take it
     * for one: its header is overwritten with zeros and flushed, so that
     * a failure means "not in the log". Should that fail too, it may be. */
    {
        static const uint8_t zero[LDG_INTAKE_BLOCK];
        int e = errno;
        in->unsure = pwrite_all(in->fd, zero, sizeof zero,
                                (off_t)(at * LDG_INTAKE_BLOCK)) != 0 ||
                     (!in->nosync && fdatasync(in->fd) != 0);
        errno = e;
    }
    return full_errno(errno) ? LDG_EFULL : LDG_EIO;
}

int
ldg_intake_wipe(struct ldg_intake *in)
{
    static const uint8_t zero[64 * LDG_INTAKE_BLOCK];
    uint64_t b = 1;

    if (in->rdonly)
        return LDG_EINVAL;
    while (b < in->blocks) {
        uint64_t n = in->blocks - b;
        if (n > sizeof zero / LDG_INTAKE_BLOCK)
            n = sizeof zero / LDG_INTAKE_BLOCK;
        if (pwrite_all(in->fd, zero, (size_t)n * LDG_INTAKE_BLOCK,
                       (off_t)(b * LDG_INTAKE_BLOCK)) != 0)
            return full_errno(errno) ? LDG_EFULL : LDG_EIO;
        b += n;
    }
    LDG_ASSERT(b == in->blocks);
    if (!in->nosync && fdatasync(in->fd) != 0)
        return LDG_EIO;
    return 0;
}

int
ldg_intake_unsure(const struct ldg_intake *in)
{
    return in->unsure;
}

void
ldg_intake_set_nosync(struct ldg_intake *in)
{
    in->nosync = 1;
}
