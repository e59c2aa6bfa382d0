/*
 * codec_canon.c — the canonical check of a stored body payload by walking
 * its bytes once, in place (no msgpack-c, no allocation).
 *
 * verify --full checks every stored body against its commitment, and the
 * check used to unpack the payload with msgpack-c and pack it again to
 * compare the bytes (ldg_codec_fields_check_repack, kept in
 * codec_fields.c as the reference). This file accepts exactly the same
 * payloads by checking docs/FORMAT.md section 2's rules on the bytes
 * themselves; tests/fuzz/fuzz_canon.c feeds both the same inputs and
 * fails when they disagree.
 *
 * The payload (FORMAT.md section 4):
 *
 *   map(n) { str name : array(2) [ bin8(16) salt, value ] }
 *
 * n at most LDG_FIELDS_MAX; names without NUL, strictly increasing
 * bytewise (a prefix first); the pair exactly 0x92 0xc4 0x10 salt[16].
 * A value is one of:
 *
 *   nil, false, true                 0xc0 0xc2 0xc3
 *   an integer in its shortest form  positive fixint, uint8/16/32/64 for
 *                                    values >= 0 (at most 2^63-1, JSON's
 *                                    range); negative fixint, int8/16/32/64
 *                                    only for values < 0, each only when
 *                                    the value does not fit the one before
 *   float64                          0xcb, finite (no NaN, no infinity)
 *   str                              fixstr/str8/str16/str32, the shortest
 *                                    header for its length; any bytes
 *   array                            fixarray/array16/array32, shortest
 *   map                              fixmap/map16/map32, shortest; keys
 *                                    str without NUL, strictly increasing
 *
 * never bin, ext or float32, and nothing deeper than JSON_DEPTH_MAX
 * counting the field's value as level 1. The bytes must end exactly where
 * the map does. Anything else is LDG_ECORRUPT.
 */
#include <string.h>

#include "ledger/record_int.h"

/* codec_int.h's JSON_DEPTH_MAX, which this file does not include (it
 * pulls in msgpack-c); test_fuzz_regress checks both limits are one. */
#define CANON_DEPTH_MAX 30

struct cw {
    const uint8_t *p, *end;
};

static int
rd_n(struct cw *w, size_t width, uint64_t *v)
{
    if ((size_t)(w->end - w->p) < width)
        return -1;
    *v = ldg_rd_ben(w->p, width);
    w->p += width;
    return 0;
}

/* A str header in its shortest form; *s and *n its bytes. */
static int
canon_str(struct cw *w, const uint8_t **s, size_t *n)
{
    uint64_t len;
    uint8_t c;

    if (w->p >= w->end)
        return -1;
    c = *w->p++;
    if ((c & 0xe0) == 0xa0) {
        len = c & 0x1f;
    } else if (c == 0xd9) {
        if (rd_n(w, 1, &len) < 0 || len < 32)
            return -1;
    } else if (c == 0xda) {
        if (rd_n(w, 2, &len) < 0 || len < 256)
            return -1;
    } else if (c == 0xdb) {
        if (rd_n(w, 4, &len) < 0 || len < 65536)
            return -1;
    } else {
        return -1;
    }
    if ((uint64_t)(w->end - w->p) < len)
        return -1;
    *s = w->p;
    *n = (size_t)len;
    w->p += len;
    return 0;
}

/* Bytewise, a prefix first: < 0, 0, > 0. */
static int
key_order(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    size_t m = an < bn ? an : bn;
    int c = m ? memcmp(a, b, m) : 0;
    return c ? c : (an > bn) - (an < bn);
}

/* A map key: a canonical str without NUL after prev (if any). */
static int
canon_key(struct cw *w, const uint8_t **prev, size_t *prevn, int first)
{
    const uint8_t *s;
    size_t n;
    if (canon_str(w, &s, &n) < 0 || (n > 0 && memchr(s, 0, n) != NULL))
        return -1;
    if (!first && key_order(*prev, *prevn, s, n) >= 0)
        return -1;
    *prev = s;
    *prevn = n;
    return 0;
}

static int canon_value(struct cw *w, int depth);

static int
canon_items(struct cw *w, uint64_t n, int map, int depth)
{
    const uint8_t *prev = NULL;
    size_t prevn = 0;
    /* each item takes a byte at least: a header cannot make us loop
     * longer than the bytes that are there */
    if (n > (uint64_t)(w->end - w->p))
        return -1;
    for (uint64_t i = 0; i < n; i++) {
        if (map && canon_key(w, &prev, &prevn, i == 0) < 0)
            return -1;
        if (canon_value(w, depth + 1) < 0)
            return -1;
    }
    return 0;
}

static int
canon_value(struct cw *w, int depth)
{
    uint64_t v;
    uint8_t c;

    if (depth > CANON_DEPTH_MAX || w->p >= w->end)
        return -1;
    c = *w->p;
    if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3) {
        w->p++;
        return 0;
    }
    if ((c & 0xe0) == 0xa0 || c == 0xd9 || c == 0xda || c == 0xdb) {
        const uint8_t *s;
        size_t n;
        return canon_str(w, &s, &n);
    }
    if ((c & 0xf0) == 0x90) {
        w->p++;
        return canon_items(w, c & 0x0f, 0, depth);
    }
    if ((c & 0xf0) == 0x80) {
        w->p++;
        return canon_items(w, c & 0x0f, 1, depth);
    }
    w->p++;
    switch (c) {
    case 0xcc: /* uint8: above positive fixint */
        return rd_n(w, 1, &v) < 0 || v < 0x80 ? -1 : 0;
    case 0xcd:
        return rd_n(w, 2, &v) < 0 || v < 0x100 ? -1 : 0;
    case 0xce:
        return rd_n(w, 4, &v) < 0 || v < 0x10000 ? -1 : 0;
    case 0xcf: /* uint64: above uint32, within JSON's integers */
        return rd_n(w, 8, &v) < 0 || v <= 0xffffffffu || v > (uint64_t)INT64_MAX
                   ? -1
                   : 0;
    case 0xd0: /* int8: negative, below negative fixint (-32) */
        return rd_n(w, 1, &v) < 0 || (int8_t)(uint8_t)v >= -32 ? -1 : 0;
    case 0xd1:
        return rd_n(w, 2, &v) < 0 || (int16_t)(uint16_t)v >= -128 ? -1 : 0;
    case 0xd2:
        return rd_n(w, 4, &v) < 0 || (int32_t)(uint32_t)v >= -32768 ? -1 : 0;
    case 0xd3:
        return rd_n(w, 8, &v) < 0 || (int64_t)v >= -(int64_t)2147483648 ? -1
                                                                        : 0;
    case 0xcb: /* float64, finite: the exponent is not all ones */
        return rd_n(w, 8, &v) < 0 || ((v >> 52) & 0x7ff) == 0x7ff ? -1 : 0;
    case 0xdc:
        if (rd_n(w, 2, &v) < 0 || v < 16)
            return -1;
        return canon_items(w, v, 0, depth);
    case 0xdd:
        if (rd_n(w, 4, &v) < 0 || v < 65536)
            return -1;
        return canon_items(w, v, 0, depth);
    case 0xde:
        if (rd_n(w, 2, &v) < 0 || v < 16)
            return -1;
        return canon_items(w, v, 1, depth);
    case 0xdf:
        if (rd_n(w, 4, &v) < 0 || v < 65536)
            return -1;
        return canon_items(w, v, 1, depth);
    default: /* 0xc1, bin, ext, float32 */
        return -1;
    }
}

int
ldg_codec_fields_walk_shape(const uint8_t *p, size_t len, int seeded,
                            struct ldg_field_slice *out, size_t cap, size_t *n)
{
    struct cw w = {p, p + len};
    const uint8_t *prev = NULL;
    size_t prevn = 0;
    uint64_t cnt;
    uint8_t c;

    *n = 0;
    if (len == 0)
        return LDG_ECORRUPT;
    c = *w.p++;
    if ((c & 0xf0) == 0x80) {
        cnt = c & 0x0f;
    } else if (c == 0xde) {
        if (rd_n(&w, 2, &cnt) < 0 || cnt < 16)
            return LDG_ECORRUPT;
    } else if (c == 0xdf) {
        if (rd_n(&w, 4, &cnt) < 0 || cnt < 65536)
            return LDG_ECORRUPT;
    } else {
        return LDG_ECORRUPT;
    }
    if (cnt > LDG_FIELDS_MAX)
        return LDG_ECORRUPT;
    for (uint64_t i = 0; i < cnt; i++) {
        const uint8_t *name = w.p, *salt = NULL, *val;
        size_t name_len;
        if (canon_key(&w, &prev, &prevn, i == 0) < 0)
            return LDG_ECORRUPT;
        name_len = (size_t)(w.p - name);
        if (!seeded) {
            /* [bin8(16) salt, value] */
            if (!ldg_field_pair_at(w.p, w.end))
                return LDG_ECORRUPT;
            salt = w.p + LDG_FIELD_PAIR_SALT;
            w.p += LDG_FIELD_PAIR_VALUE;
        }
        /* a seeded map holds the value itself: its salt is derived */
        val = w.p;
        if (canon_value(&w, 1) < 0)
            return LDG_ECORRUPT;
        if (out != NULL && i < cap) {
            out[i].name_enc = name;
            out[i].name_enc_len = name_len;
            out[i].salt = salt;
            out[i].value_enc = val;
            out[i].value_enc_len = (size_t)(w.p - val);
        }
    }
    if (w.p != w.end)
        return LDG_ECORRUPT;
    *n = (size_t)cnt;
    return 0;
}
