/*
 * codec_json.c — a body payload written straight to JSON text, without
 * building jansson values (the fast path of query and export).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/codec_int.h"
#include "ledger/record_int.h"
#include "ledger/tlog_int.h"

/* ------------------------------------------------- body as JSON text -- */

/*
 * JSON text the way jansson's json_dumps(JSON_COMPACT) writes it, so this
 * path and the jansson path give the same bytes: strings escape '"',
 * '\\', \b \f \n \r \t and other control characters as \u00XX (upper-case
 * hex); UTF-8 is copied; integers in decimal; reals use "%.17g" with ".0"
 * added to integral values; object keys in stored (bytewise) order.
 *
 * The payload is read in place, byte by byte, with no msgpack-c objects:
 * this is the display path (query -o json, show, export) and runs once
 * per event shown. Every length is checked against the bytes that remain
 * and nesting is bounded, so a damaged record gives LDG_ECORRUPT, never a
 * read out of bounds. It refuses what obj_to_json refuses inside a body
 * value (bin, ext, float32, integers above INT64_MAX, non-string keys,
 * NaN and infinities).
 */

/* The text is at most 6 bytes for each payload byte (a string byte
 * escaped as \u00XX; "false" for 0xc2; a fixint "-32"; a float64's 9
 * bytes as at most 26 characters), so the room is reserved once and the
 * walker writes through a plain pointer. */
#define JT_ROOM(n) (6 * (n) + 2)

/* Room for n more bytes at the end of b (grown as ldg_buf_add grows it);
 * NULL with b->err set if it cannot be had. */
static uint8_t *
jt_room(struct ldg_buf *b, size_t n)
{
    return ldg_buf_room(b, n);
}

static uint8_t *
jt_lit(uint8_t *o, const char *s, size_t n)
{
    memcpy(o, s, n);
    return o + n;
}

/* 1 for the bytes JSON strings escape: below 0x20, '"' and '\\'. */
/* clang-format off */
static const uint8_t jt_esc[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 00 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 10 */
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 20 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 30 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 40 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, /* 50 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 60 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 70 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 80 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 90 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* a0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* b0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* c0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* d0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* e0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* f0 */
};
/* clang-format on */

/* Does one of the 8 bytes at s need escaping in JSON (below 0x20, '"' or
 * '\\')? The usual bit tricks for "has a byte less than" and "has a zero
 * byte"; a false alarm only sends the caller to its byte loop. */
static int
needs_escape8(const uint8_t *s)
{
    uint64_t x, lt, q, bs;
    memcpy(&x, s, 8);
    lt = (x - 0x2020202020202020u) & ~x;
    q = x ^ 0x2222222222222222u;
    q = (q - 0x0101010101010101u) & ~q;
    bs = x ^ 0x5c5c5c5c5c5c5c5cu;
    bs = (bs - 0x0101010101010101u) & ~bs;
    return ((lt | q | bs) & 0x8080808080808080u) != 0;
}

/* The escaping part of jt_str, from the first byte that may need it. */
static uint8_t *__attribute__((noinline))
jt_str_esc(uint8_t *o, const uint8_t *s, size_t n)
{
    static const char hexd[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        if (!jt_esc[c]) {
            *o++ = c;
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '"':
        case '\\':
            *o++ = c;
            break;
        case '\b':
            *o++ = 'b';
            break;
        case '\f':
            *o++ = 'f';
            break;
        case '\n':
            *o++ = 'n';
            break;
        case '\r':
            *o++ = 'r';
            break;
        case '\t':
            *o++ = 't';
            break;
        default:
            *o++ = 'u';
            *o++ = '0';
            *o++ = '0';
            *o++ = (uint8_t)hexd[c >> 4];
            *o++ = (uint8_t)hexd[c & 15];
        }
    }
    return o;
}

/* jt_str for any string: words up to the first byte to escape, then
 * byte by byte. */
static uint8_t *__attribute__((noinline))
jt_str_any(uint8_t *o, const uint8_t *s, size_t n)
{
    size_t i = 0;
    /* eight bytes at a time up to the first that needs escaping; all
     * before it is copied in one go */
    for (; i + 8 <= n; i += 8)
        if (needs_escape8(s + i))
            break;
    /* the last few bytes: the eight that end the string, if there are
     * eight, else one by one */
    if (i < n && n >= 8 && i + 8 > n && !needs_escape8(s + n - 8))
        i = n;
    while (i < n && !jt_esc[s[i]])
        i++;
    *o++ = '"';
    memcpy(o, s, i);
    o += i;
    if (i < n)
        o = jt_str_esc(o, s + i, n - i);
    *o++ = '"';
    return o;
}

/* A JSON string literal of n bytes at s, at o; returns the end. */
static inline uint8_t *
jt_str(uint8_t *o, const uint8_t *s, size_t n)
{
    /* most strings are short and need no escaping: 8 to 16 bytes are two
     * (overlapping) words to test and copy; under 8, a byte loop */
    if (n >= 8 && n <= 16) {
        if (!needs_escape8(s) && !needs_escape8(s + n - 8)) {
            *o++ = '"';
            memcpy(o, s, 8);
            memcpy(o + n - 8, s + n - 8, 8);
            o += n;
            *o++ = '"';
            return o;
        }
    } else if (n < 8) {
        size_t i = 0;
        while (i < n && !jt_esc[s[i]]) {
            o[1 + i] = s[i];
            i++;
        }
        if (i == n) {
            o[0] = '"';
            o[n + 1] = '"';
            return o + n + 2;
        }
    }
    return jt_str_any(o, s, n);
}

char *
ldg_json_str_write(char *o, const char *s, size_t n)
{
    return (char *)jt_str((uint8_t *)o, (const uint8_t *)s, n);
}

static uint8_t *
jt_int(uint8_t *o, uint64_t mag, int neg)
{
    uint8_t tmp[24];
    size_t i = sizeof tmp;
    do {
        tmp[--i] = (uint8_t)('0' + mag % 10);
        mag /= 10;
    } while (mag != 0);
    if (neg)
        tmp[--i] = '-';
    memcpy(o, tmp + i, sizeof tmp - i);
    return o + (sizeof tmp - i);
}

/* A str header at *pp: its bytes. -1 if *pp is not a str or overruns. */
static int
jt_strhdr(const uint8_t **pp, const uint8_t *end, const uint8_t **s, size_t *n)
{
    const uint8_t *p = *pp;
    size_t w;
    if (p >= end)
        return -1;
    if ((*p & 0xe0) == 0xa0) {
        *n = *p & 0x1f;
        w = 0;
    } else if (*p >= 0xd9 && *p <= 0xdb) {
        w = (size_t)1 << (*p - 0xd9);
        if ((size_t)(end - p) < 1 + w)
            return -1;
        *n = (size_t)ldg_rd_ben(p + 1, w);
    } else {
        return -1;
    }
    p += 1 + w;
    if ((size_t)(end - p) < *n)
        return -1;
    *s = p;
    *pp = p + *n;
    return 0;
}

/* An array or map header at *pp (which is before end): 1 array, 2 map,
 * with its count; 0 if *pp is neither; -1 if it overruns. */
static int
jt_container(const uint8_t **pp, const uint8_t *end, uint32_t *n)
{
    const uint8_t *p = *pp;
    int kind;
    size_t w;
    if ((*p & 0xf0) == 0x90 || (*p & 0xf0) == 0x80) {
        kind = (*p & 0xf0) == 0x90 ? 1 : 2;
        *n = *p & 0x0f;
        *pp = p + 1;
        return kind;
    }
    switch (*p) {
    case 0xdc:
    case 0xdd:
        kind = 1;
        break;
    case 0xde:
    case 0xdf:
        kind = 2;
        break;
    default:
        return 0;
    }
    w = (*p & 1) ? 4 : 2;
    if ((size_t)(end - p) < 1 + w)
        return -1;
    *n = (uint32_t)ldg_rd_ben(p + 1, w);
    *pp = p + 1 + w;
    return kind;
}

/* jansson writes an exponent without '+' and without leading zeros
 * ("1e300", "2.5e-7" where printf gives "1e+300", "2.5e-07"); so do we.
 * Returns the new length. */
static size_t
jansson_exponent(char *num, size_t len)
{
    char *e = strchr(num, 'e'), *from, *to;
    if (e == NULL)
        return len;
    to = e + 1;
    if (*to == '-')
        to++;
    from = e + 1;
    if (*from == '+' || *from == '-')
        from++;
    while (*from == '0' && from[1] != '\0')
        from++;
    if (from != to) {
        memmove(to, from, len + 1 - (size_t)(from - num));
        len -= (size_t)(from - to);
    }
    return len;
}

static int
jt_value(uint8_t **op, const uint8_t **pp, const uint8_t *end, int depth)
{
    const uint8_t *p = *pp, *s;
    uint8_t *o = *op;
    size_t n, left, w;
    uint32_t cnt;
    uint64_t u;
    int kind;

    if (depth > JSON_DEPTH_MAX || p >= end)
        return LDG_ECORRUPT;
    left = (size_t)(end - p);
    if (*p <= 0x7f) {
        *op = jt_int(o, *p, 0);
        *pp = p + 1;
        return 0;
    }
    if (*p >= 0xe0) {
        *op = jt_int(o, (uint64_t)(0x100 - *p), 1);
        *pp = p + 1;
        return 0;
    }
    if ((*p & 0xe0) == 0xa0) { /* fixstr, the usual string */
        n = *p & 0x1f;
        if (left - 1 < n)
            return LDG_ECORRUPT;
        *op = jt_str(o, p + 1, n);
        *pp = p + 1 + n;
        return 0;
    }
    if (*p >= 0xd9 && *p <= 0xdb) {
        if (jt_strhdr(pp, end, &s, &n) < 0)
            return LDG_ECORRUPT;
        *op = jt_str(o, s, n);
        return 0;
    }
    kind = jt_container(pp, end, &cnt);
    if (kind < 0)
        return LDG_ECORRUPT;
    if (kind > 0) {
        /* each element takes at least a byte (each pair two) */
        if (cnt > (size_t)(end - *pp) / (size_t)kind)
            return LDG_ECORRUPT;
        *o++ = kind == 1 ? '[' : '{';
        for (uint32_t i = 0; i < cnt; i++) {
            int rc;
            if (i)
                *o++ = ',';
            if (kind == 2) {
                const uint8_t *k = *pp;
                if (k < end && (*k & 0xe0) == 0xa0 &&
                    (size_t)(end - k) > (size_t)(*k & 0x1f)) {
                    s = k + 1; /* fixstr key, the usual */
                    n = *k & 0x1f;
                    *pp = k + 1 + n;
                } else if (jt_strhdr(pp, end, &s, &n) < 0) {
                    return LDG_ECORRUPT;
                }
                o = jt_str(o, s, n);
                *o++ = ':';
            }
            if ((rc = jt_value(&o, pp, end, depth + 1)) < 0)
                return rc;
        }
        *o++ = kind == 1 ? ']' : '}';
        *op = o;
        return 0;
    }
    switch (*p) {
    case 0xc0:
        *op = jt_lit(o, "null", 4);
        *pp = p + 1;
        return 0;
    case 0xc2:
        *op = jt_lit(o, "false", 5);
        *pp = p + 1;
        return 0;
    case 0xc3:
        *op = jt_lit(o, "true", 4);
        *pp = p + 1;
        return 0;
    case 0xcc:
    case 0xcd:
    case 0xce:
    case 0xcf:
        w = (size_t)1 << (*p - 0xcc);
        if (left < 1 + w)
            return LDG_ECORRUPT;
        u = ldg_rd_ben(p + 1, w);
        if (u > (uint64_t)INT64_MAX)
            return LDG_ECORRUPT;
        *op = jt_int(o, u, 0);
        *pp = p + 1 + w;
        return 0;
    case 0xd0:
    case 0xd1:
    case 0xd2:
    case 0xd3:
        w = (size_t)1 << (*p - 0xd0);
        if (left < 1 + w)
            return LDG_ECORRUPT;
        u = ldg_rd_ben(p + 1, w);
        if (w < 8 && (u >> (8 * w - 1)) != 0) /* sign-extend */
            u |= ~(uint64_t)0 << (8 * w);
        if ((int64_t)u < 0)
            *op = jt_int(o, (uint64_t)0 - u, 1);
        else
            *op = jt_int(o, u, 0);
        *pp = p + 1 + w;
        return 0;
    case 0xcb: {
        char num[48];
        double d;
        int k;
        if (left < 9)
            return LDG_ECORRUPT;
        u = ldg_rd_ben(p + 1, 8);
        memcpy(&d, &u, sizeof d);
        if (!isfinite(d))
            return LDG_ECORRUPT;
        k = snprintf(num, sizeof num, "%.17g", d);
        if (k < 0 || k > 26)
            return LDG_ECORRUPT; /* cannot happen for a finite double */
        if (strpbrk(num, ".eE") == NULL) {
            memcpy(num + k, ".0", 3);
            k += 2;
        } else {
            k = (int)jansson_exponent(num, (size_t)k);
        }
        *op = jt_lit(o, num, (size_t)k);
        *pp = p + 9;
        return 0;
    }
    default: /* float32, bin, ext, 0xc1: never inside a body */
        return LDG_ECORRUPT;
    }
}

int
ldg_codec_fields_json_text_shape(const uint8_t *p, size_t len, int seeded,
                                 struct ldg_buf *b)
{
    const uint8_t *q = p, *end = p + len;
    uint8_t *o0, *o;
    uint32_t n;
    int rc = 0;

    if (len == 0 || jt_container(&q, end, &n) != 2 || n > (size_t)(end - q) / 2)
        return LDG_ECORRUPT;
    o0 = o = jt_room(b, JT_ROOM(len));
    if (o == NULL)
        return b->err;
    *o++ = '{';
    for (uint32_t i = 0; rc == 0 && i < n; i++) {
        const uint8_t *s;
        size_t sn, salt;
        uint32_t two;
        /* name: a fixstr as written (any str form is read); then the
         * pair's header, 0x92 as written (any array form is read) */
        if (q < end && (*q & 0xe0) == 0xa0 &&
            (size_t)(end - q) > (size_t)(*q & 0x1f)) {
            s = q + 1;
            sn = *q & 0x1f;
            q += 1 + sn;
        } else if (jt_strhdr(&q, end, &s, &sn) < 0) {
            rc = LDG_ECORRUPT;
            break;
        }
        if (!seeded) {
            if (q < end && *q == 0x92) {
                q++;
            } else if (q >= end || jt_container(&q, end, &two) != 1 ||
                       two != 2) {
                rc = LDG_ECORRUPT;
                break;
            }
            if (q >= end) {
                rc = LDG_ECORRUPT;
                break;
            }
            /* [salt, value]: the salt is skipped whatever it is (a bin8
             * of 16 bytes as written) */
            if (end - q > 18 && q[0] == 0xc4 && q[1] == 16)
                salt = 18;
            else
                salt = ldg_mp_bounded_len(q, (size_t)(end - q));
            if (salt == 0) {
                rc = LDG_ECORRUPT;
                break;
            }
            q += salt;
        } else if (q >= end) {
            rc = LDG_ECORRUPT;
            break;
        }
        if (i)
            *o++ = ',';
        o = jt_str(o, s, sn);
        *o++ = ':';
        rc = jt_value(&o, &q, end, 1);
    }
    if (rc == 0 && q != end)
        rc = LDG_ECORRUPT;
    *o++ = '}';
    b->len += (size_t)(o - o0);
    return rc;
}

int
ldg_body_record_json_append(const struct ldg_dicts *d, const uint8_t *rec,
                            size_t rec_len, size_t body_max, char **buf,
                            size_t *len, size_t *cap)
{
    struct ldg_buf b;
    int rc;

    if (rec == NULL || buf == NULL || len == NULL || cap == NULL || *len > *cap)
        return LDG_EINVAL;
    /* Work in an ldg_buf over the caller's buffer. */
    b.p = (uint8_t *)*buf;
    b.len = *len;
    b.cap = *cap;
    b.max = (size_t)1 << 30;
    b.err = 0;
    rc = ldg_body_rec_json_text(d, rec, rec_len, body_max, NULL, &b);
    if (rc == 0)
        ldg_buf_add(&b, "", 1); /* NUL, not counted */
    if (rc == 0 && b.err)
        rc = b.err;
    *buf = (char *)b.p;
    *cap = b.cap;
    if (rc == 0)
        *len = b.len - 1;
    else if (*buf != NULL && *cap > *len)
        (*buf)[*len] = '\0';
    return rc;
}
