/*
 * segment_read.c — a segment's stream as it is read (segment_int.h): the
 * zstd frame decompressed from a file or from memory, a record (kind,
 * length, payload) at a time, every bound the caller allows checked.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zstd.h>
#include <zstd_errors.h>

#include "ledger/codec_int.h"
#include "ledger/epoch_int.h"
#include "ledger/mp_int.h"
#include "ledger/segment_int.h"
#include "ledger/tlog_int.h"

/* ------------------------------------------------------------ reading -- */

#define IN_CAP ((size_t)1 << 17)

static int sr_fail(struct segr *s, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int
sr_fail(struct segr *s, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->err, sizeof s->err, fmt, ap);
    va_end(ap);
    return rc;
}

/* More compressed bytes into ib: 0, 1 at the file's end, or an error. */
static int
sr_fill(struct segr *s)
{
    size_t n;
    if (s->ib.pos < s->ib.size)
        return 0;
    if (s->mem != NULL) {
        n = s->mem_len - s->mem_pos;
        if (n > IN_CAP)
            n = IN_CAP;
        memcpy(s->in, s->mem + s->mem_pos, n);
        s->mem_pos += n;
        LDG_ASSERT(s->mem_pos <= s->mem_len);
    } else {
        ssize_t k;
        do
            k = read(s->fd, s->in, IN_CAP);
        while (k < 0 && errno == EINTR);
        if (k < 0)
            return sr_fail(s, LDG_EIO, "reading the file: %s", strerror(errno));
        n = (size_t)k;
    }
    s->ib.src = s->in;
    s->ib.size = n;
    s->ib.pos = 0;
    if (n == 0)
        return 1;
    ldg_sha256_update(&s->sha, s->in, n);
    s->file_bytes += n;
    if (s->raw != NULL && s->raw(s->raw_ctx, s->in, n) != 0)
        return sr_fail(s, LDG_EIO, "keeping a copy of what was read: %s",
                       strerror(errno));
    return 0;
}

/* The file's first bytes: a zstd frame's magic (not a skippable frame's)
 * and its Frame_Header_Descriptor (RFC 8878 3.1.1.1.1) with the
 * Content_Checksum_flag (bit 2) set: FORMAT.md 11.1's one frame with its
 * content checksum, which zstd then checks at the frame's end. */
static int
frame_head(struct segr *s)
{
    const uint8_t *b = s->ib.src;
    if (s->ib.size < 4 || b[0] != 0x28 || b[1] != 0xb5 || b[2] != 0x2f ||
        b[3] != 0xfd)
        return sr_fail(s, LDG_EBADINPUT,
                       "not zstd-compressed (the file does "
                       "not begin with a zstd frame's magic number)");
    if (s->ib.size < 5)
        return sr_fail(s, LDG_EBADINPUT,
                       "the file ends inside its zstd frame (truncated)");
    if (!(b[4] & 0x04))
        return sr_fail(s, LDG_EBADINPUT,
                       "its zstd frame has no content checksum (a segment "
                       "is one frame with its checksum, FORMAT.md 11.1)");
    return 0;
}

/* Decompresses more into out (which the caller has consumed): 0, 1 at
 * the stream's end (the frame complete and nothing after it), or an
 * error. */
static int
sr_more(struct segr *s)
{
    int rc;
    s->out_pos = s->out_len = 0;
    while (s->out_len == 0) {
        ZSTD_outBuffer ob = {s->out, s->out_cap, 0};
        size_t r;
        if (s->frame_done) {
            /* nothing may follow the frame */
            if ((rc = sr_fill(s)) < 0)
                return rc;
            if (rc == 1)
                return 1;
            return sr_fail(s, LDG_EBADINPUT,
                           "bytes after the segment's zstd frame (a segment "
                           "is one frame)");
        }
        if ((rc = sr_fill(s)) < 0)
            return rc;
        if (rc == 1)
            return sr_fail(s, LDG_EBADINPUT,
                           "the file ends inside its zstd frame (truncated)");
        if (s->file_bytes == s->ib.size && s->ib.pos == 0 &&
            (rc = frame_head(s)) < 0)
            return rc;
        r = ZSTD_decompressStream(s->z, &ob, &s->ib);
        if (ZSTD_isError(r)) {
            ZSTD_ErrorCode e = ZSTD_getErrorCode(r);
            if (e == ZSTD_error_frameParameter_windowTooLarge)
                return sr_fail(s, LDG_ETOOBIG,
                               "its zstd window is larger than readers take");
            if (e == ZSTD_error_prefix_unknown && s->raw_bytes == 0)
                return sr_fail(s, LDG_EBADINPUT, "not zstd-compressed");
            return sr_fail(s, LDG_EBADINPUT, "zstd: %s (damaged or truncated)",
                           ZSTD_getErrorName(r));
        }
        s->out_len = ob.pos;
        s->raw_bytes += ob.pos;
        if (r == 0)
            s->frame_done = 1;
    }
    if (s->raw_max > 0 && s->raw_bytes > s->raw_max)
        return sr_fail(s, LDG_ETOOBIG,
                       "it decompresses to more than the %" PRIu64
                       " bytes this reader takes (" LDG_OPT_MAX_BYTES ")",
                       s->raw_max);
    if (s->raw_bytes > ((uint64_t)1 << 20) &&
        s->raw_bytes / 100 > s->file_bytes)
        return sr_fail(s, LDG_ETOOBIG,
                       "it decompresses to more than 100 bytes a byte of "
                       "the file: refused as a decompression bomb");
    return 0;
}

/* n bytes of the stream into dst: 0, 1 at its end before any byte, or an
 * error (the stream ending inside them). */
int
segr_read(struct segr *s, uint8_t *dst, size_t n)
{
    size_t got = 0;
    while (got < n) {
        size_t k;
        if (s->out_pos == s->out_len) {
            int rc = sr_more(s);
            if (rc == 1 && got == 0)
                return 1;
            if (rc == 1)
                return sr_fail(s, LDG_EBADINPUT,
                               "the stream ends inside a record (truncated)");
            if (rc < 0)
                return rc;
        }
        k = s->out_len - s->out_pos;
        if (k > n - got)
            k = n - got;
        LDG_ASSERT(k > 0 && s->out_pos + k <= s->out_len);
        memcpy(dst + got, s->out + s->out_pos, k);
        s->out_pos += k;
        got += k;
    }
    return 0;
}

/* The next record: 0 with *kind, *p (valid until the next call) and *n;
 * 1 at the stream's end; or an error. max: the most its kind may have. */
int
segr_record(struct segr *s, uint8_t *kind, const uint8_t **p, size_t *n)
{
    uint8_t b[5];
    uint64_t len = 0;
    size_t i, used;
    int rc;

    s->rec_at = s->raw_bytes - (s->out_len - s->out_pos);
    if ((rc = segr_read(s, kind, 1)) != 0)
        return rc;
    for (i = 0; i < 5; i++) {
        if ((rc = segr_read(s, b + i, 1)) != 0)
            return rc == 1 ? sr_fail(s, LDG_EBADINPUT,
                                     "the stream ends inside a record")
                           : rc;
        if (!(b[i] & 0x80))
            break;
    }
    if (i == 5 || seg_uv_get(b, i + 1, &len, &used) < 0)
        return sr_fail(s, LDG_EBADINPUT,
                       "a record's length is not a shortest uvarint");
    if (len > s->record_max)
        return sr_fail(s, LDG_ETOOBIG,
                       "a record of %" PRIu64 " bytes (kind %u): more than "
                       "the %" PRIu64 " a record may have here",
                       len, *kind, s->record_max);
    LDG_ASSERT(used == i + 1);
    *n = (size_t)len;
    if (s->out_len - s->out_pos >= len) {
        *p = s->out + s->out_pos;
        s->out_pos += (size_t)len;
        return 0;
    }
    if (s->rec_cap < len) {
        size_t cap = s->rec_cap ? s->rec_cap : 65536;
        uint8_t *r;
        while (cap < len)
            cap *= 2;
        if ((r = realloc(s->rec, cap)) == NULL)
            return LDG_ENOMEM;
        s->rec = r;
        s->rec_cap = cap;
    }
    if ((rc = segr_read(s, s->rec, (size_t)len)) != 0)
        return rc == 1 ? sr_fail(s, LDG_EBADINPUT,
                                 "the stream ends inside a record (truncated)")
                       : rc;
    *p = s->rec;
    return 0;
}

int
segr_open(struct segr *s, int fd, const void *mem, size_t mem_len,
          const struct ldg_segment_verify_opts *o)
{
    memset(s, 0, sizeof *s);
    s->fd = fd;
    s->mem = mem;
    s->mem_len = mem_len;
    s->record_max = o->record_max ? o->record_max : LDG_SEGMENT_RECORD_MAX;
    s->raw_max = o->raw_max;
    s->raw = o->raw;
    s->raw_ctx = o->raw_ctx;
    ldg_sha256_init(&s->sha);
    s->z = ZSTD_createDCtx();
    s->in = malloc(IN_CAP);
    s->out_cap = ZSTD_DStreamOutSize();
    s->out = malloc(s->out_cap);
    if (s->z == NULL || s->in == NULL || s->out == NULL)
        return LDG_ENOMEM;
    if (ZSTD_isError(ZSTD_DCtx_setParameter(
            s->z, ZSTD_d_windowLogMax,
            o->window_log ? (int)o->window_log : SEG_WINDOW_LOG_DEFAULT)))
        return LDG_EINVAL;
    s->ib.src = s->in;
    return 0;
}

void
segr_close(struct segr *s)
{
    ZSTD_freeDCtx(s->z);
    free(s->in);
    free(s->out);
    free(s->rec);
}

int
ldg_segment_sniff(int fd)
{
    uint8_t *in, out[LDG_SEGMENT_MAGIC_LEN];
    ZSTD_DCtx *z;
    ZSTD_outBuffer ob = {out, sizeof out, 0};
    off_t off = 0;
    int rc = 0;

    /* a zstd block is at most 128 KiB: the first bytes of the stream come
     * out of at most that much of the file after the frame's header */
    if ((in = malloc(IN_CAP)) == NULL)
        return LDG_ENOMEM;
    if ((z = ZSTD_createDCtx()) == NULL) {
        free(in);
        return LDG_ENOMEM;
    }
    ZSTD_DCtx_setParameter(z, ZSTD_d_windowLogMax, SEG_WINDOW_LOG_DEFAULT);
    while (ob.pos < ob.size && off < (off_t)(4 * IN_CAP)) {
        ZSTD_inBuffer ib;
        ssize_t n;
        size_t r = 1;
        do
            n = pread(fd, in, IN_CAP, off);
        while (n < 0 && errno == EINTR);
        if (n < 0) {
            rc = LDG_EIO;
            break;
        }
        if (n == 0 || (off == 0 && (n < 4 || in[0] != 0x28 || in[1] != 0xb5 ||
                                    in[2] != 0x2f || in[3] != 0xfd)))
            break;
        ib.src = in;
        ib.size = (size_t)n;
        ib.pos = 0;
        while (ob.pos < ob.size && ib.pos < ib.size) {
            r = ZSTD_decompressStream(z, &ob, &ib);
            if (ZSTD_isError(r) || r == 0)
                break;
        }
        if (ZSTD_isError(r) || r == 0)
            break;
        off += n;
    }
    if (rc == 0)
        rc = ob.pos == ob.size &&
             memcmp(out, LDG_SEGMENT_MAGIC, LDG_SEGMENT_MAGIC_LEN) == 0;
    ZSTD_freeDCtx(z);
    free(in);
    return rc;
}
