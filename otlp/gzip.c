/*
 * gzip.c — Content-Encoding: gzip, the one file of the project that uses
 * zlib. A body is inflated into a buffer that grows by doubling up to
 * the limit and no further: a gzip bomb (a few KiB that inflate to
 * gigabytes) stops at the limit, having allocated at most that.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "otlp/otlp.h"

int
ldg_otlp_inflate(const void *in, size_t len, size_t max, void **out,
                 size_t *outlen, char *err, size_t errcap)
{
    z_stream z;
    unsigned char *buf = NULL;
    size_t cap = 0, have = 0;
    int zr, rc = 0;

    if (out == NULL || outlen == NULL || (in == NULL && len > 0))
        return LDG_EINVAL;
    *out = NULL;
    *outlen = 0;
    if (len > UINT32_MAX) {
        snprintf(err, errcap, "gzip body of %zu bytes is too large", len);
        return LDG_ETOOBIG;
    }
    memset(&z, 0, sizeof z);
    /* 16 + MAX_WBITS: a gzip header and trailer, not zlib's or raw */
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
        snprintf(err, errcap, "cannot start zlib: %s",
                 z.msg ? z.msg : "out of memory");
        return LDG_ENOMEM;
    }
    z.next_in = (unsigned char *)(uintptr_t)in;
    z.avail_in = (uInt)len;
    for (;;) {
        if (have > max) {
            snprintf(err, errcap,
                     "the gzip body inflates to more than %zu bytes", max);
            rc = LDG_ETOOBIG;
            break;
        }
        if (have == cap) {
            /* up to max + 1: the byte past max says it is too big (a
             * body of exactly max bytes ends with room to spare) */
            size_t ncap = cap ? cap * 2 : (len * 4 > 4096 ? len * 4 : 4096);
            if (ncap > max + 1)
                ncap = max + 1;
            unsigned char *nb = realloc(buf, ncap ? ncap : 1);
            if (nb == NULL) {
                snprintf(err, errcap, "out of memory");
                rc = LDG_ENOMEM;
                break;
            }
            buf = nb;
            cap = ncap;
        }
        size_t room = cap - have;
        if (room > UINT32_MAX)
            room = UINT32_MAX;
        z.next_out = buf + have;
        z.avail_out = (uInt)room;
        zr = inflate(&z, Z_NO_FLUSH);
        have = (size_t)(z.next_out - buf);
        if (zr == Z_STREAM_END && have > max) {
            snprintf(err, errcap,
                     "the gzip body inflates to more than %zu bytes", max);
            rc = LDG_ETOOBIG;
            break;
        }
        if (zr == Z_STREAM_END) {
            if (z.avail_in != 0) {
                /* another member, or trailing bytes: not one body */
                snprintf(err, errcap,
                         "%u bytes after the end of the gzip stream",
                         z.avail_in);
                rc = LDG_EBADINPUT;
            }
            break;
        }
        if (zr == Z_OK)
            continue;
        if (zr == Z_BUF_ERROR && z.avail_in == 0) {
            snprintf(err, errcap, "the gzip body is cut short");
            rc = LDG_EBADINPUT;
            break;
        }
        if (zr == Z_BUF_ERROR)
            continue; /* out of room: grow */
        snprintf(err, errcap, "not a valid gzip body (%s)",
                 z.msg ? z.msg : "zlib error");
        rc = zr == Z_MEM_ERROR ? LDG_ENOMEM : LDG_EBADINPUT;
        break;
    }
    inflateEnd(&z);
    if (rc < 0) {
        free(buf);
        return rc;
    }
    *out = buf;
    *outlen = have;
    return 0;
}
