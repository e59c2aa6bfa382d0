/*
 * segment_stream.h — a segment's stream taken apart and put together
 * again (FORMAT.md 11.1), for the tests that make must-fail segments from
 * a good one's records (test_segment.c, test_segment_epochs.c).
 */
#ifndef LDG_TEST_SEGMENT_STREAM_H
#define LDG_TEST_SEGMENT_STREAM_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zstd.h>

#include "ledger/module_segment.h"

/* ---------------------------------------------- the stream, taken apart -- */

struct rec {
    uint8_t kind;
    size_t at, len; /* of the payload, in the stream */
};

struct stream {
    uint8_t *p;
    size_t n;
    struct rec r[512];
    size_t nr;
};

static inline void
decompress(const uint8_t *seg, size_t len, struct stream *s)
{
    ZSTD_DCtx *z = ZSTD_createDCtx();
    ZSTD_inBuffer in = {seg, len, 0};
    size_t cap = 1 << 20;
    s->p = malloc(cap);
    s->n = 0;
    while (in.pos < in.size) {
        ZSTD_outBuffer o = {s->p + s->n, cap - s->n, 0};
        size_t r = ZSTD_decompressStream(z, &o, &in);
        assert_false(ZSTD_isError(r));
        s->n += o.pos;
        if (s->n == cap) {
            cap *= 2;
            s->p = realloc(s->p, cap);
        }
        if (r == 0)
            break;
    }
    ZSTD_freeDCtx(z);
    /* the records after the magic */
    s->nr = 0;
    for (size_t at = LDG_SEGMENT_MAGIC_LEN; at < s->n;) {
        uint64_t len2 = 0;
        int sh = 0;
        struct rec *r = &s->r[s->nr++];
        assert_true(s->nr < 512);
        r->kind = s->p[at++];
        while (s->p[at] & 0x80) {
            len2 |= (uint64_t)(s->p[at++] & 0x7f) << sh;
            sh += 7;
        }
        len2 |= (uint64_t)s->p[at++] << sh;
        r->at = at;
        r->len = (size_t)len2;
        at += r->len;
    }
}

/* The stream made of the magic and records picked (kinds and payloads
 * as given), compressed as the writer does. */
struct part {
    uint8_t kind;
    const uint8_t *p;
    size_t n;
};

static inline uint8_t *
compose(const struct part *parts, size_t np, size_t *len)
{
    size_t cap = LDG_SEGMENT_MAGIC_LEN, at;
    uint8_t *raw, *out;
    ZSTD_CCtx *z = ZSTD_createCCtx();
    for (size_t i = 0; i < np; i++)
        cap += 6 + parts[i].n;
    raw = malloc(cap);
    memcpy(raw, LDG_SEGMENT_MAGIC, LDG_SEGMENT_MAGIC_LEN);
    at = LDG_SEGMENT_MAGIC_LEN;
    for (size_t i = 0; i < np; i++) {
        size_t v = parts[i].n;
        raw[at++] = parts[i].kind;
        while (v >= 0x80) {
            raw[at++] = (uint8_t)(v | 0x80);
            v >>= 7;
        }
        raw[at++] = (uint8_t)v;
        memcpy(raw + at, parts[i].p, parts[i].n);
        at += parts[i].n;
    }
    out = malloc(ZSTD_compressBound(at));
    ZSTD_CCtx_setParameter(z, ZSTD_c_checksumFlag, 1);
    *len = ZSTD_compress2(z, out, ZSTD_compressBound(at), raw, at);
    assert_false(ZSTD_isError(*len));
    ZSTD_freeCCtx(z);
    free(raw);
    return out;
}

static inline size_t
parts_of(const struct stream *s, struct part *out)
{
    for (size_t i = 0; i < s->nr; i++) {
        out[i].kind = s->r[i].kind;
        out[i].p = s->p + s->r[i].at;
        out[i].n = s->r[i].len;
    }
    return s->nr;
}

/* kind's first record's index among parts, or -1. */
static inline long
first_of(const struct part *parts, size_t np, uint8_t kind)
{
    for (size_t i = 0; i < np; i++)
        if (parts[i].kind == kind)
            return (long)i;
    return -1;
}

#endif
