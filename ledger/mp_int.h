/*
 * mp_int.h — the core's byte-exact writer and strict reader of small
 * canonical msgpack maps (seal.c's claims, stamps and seal maps;
 * horizon.c's horizon record): the writer emits msgpack's shortest forms,
 * the reader accepts only those. Private to ledger/.
 */
#ifndef LDG_MP_INT_H
#define LDG_MP_INT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ledger/record_int.h"

/* ------------------------------------------------------------ writing -- */

struct wr {
    uint8_t *p;
    size_t n, cap;
    int err;
};

static inline void
w_bytes(struct wr *w, const void *p, size_t n)
{
    if (w->err)
        return;
    if (w->cap - w->n < n) {
        w->err = LDG_ETOOBIG;
        return;
    }
    memcpy(w->p + w->n, p, n);
    w->n += n;
}

static inline void
w_byte(struct wr *w, uint8_t c)
{
    w_bytes(w, &c, 1);
}

/* msgpack's shortest form of an unsigned integer. */
static inline void
w_uint(struct wr *w, uint64_t v)
{
    uint8_t b[9];
    size_t n;
    if (v < 0x80) {
        w_byte(w, (uint8_t)v);
        return;
    }
    if (v <= 0xff) {
        b[0] = 0xcc;
        n = 1;
    } else if (v <= 0xffff) {
        b[0] = 0xcd;
        n = 2;
    } else if (v <= 0xffffffffu) {
        b[0] = 0xce;
        n = 4;
    } else {
        b[0] = 0xcf;
        n = 8;
    }
    for (size_t i = 0; i < n; i++)
        b[1 + i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    w_bytes(w, b, 1 + n);
}

static inline void
w_str(struct wr *w, const char *s, size_t n)
{
    uint8_t h[3];
    if (n < 32) {
        w_byte(w, (uint8_t)(0xa0 | n));
    } else if (n < 256) {
        h[0] = 0xd9;
        h[1] = (uint8_t)n;
        w_bytes(w, h, 2);
    } else if (n < 65536) {
        h[0] = 0xda;
        h[1] = (uint8_t)(n >> 8);
        h[2] = (uint8_t)n;
        w_bytes(w, h, 3);
    } else {
        w->err = LDG_ETOOBIG;
        return;
    }
    w_bytes(w, s, n);
}

static inline void
w_key(struct wr *w, const char *k)
{
    w_str(w, k, strlen(k));
}

static inline void
w_bin(struct wr *w, const uint8_t *p, uint8_t n)
{
    uint8_t h[2] = {0xc4, n};
    w_bytes(w, h, 2);
    w_bytes(w, p, n);
}

/* ------------------------------------------------------------ reading -- */

/* A strict reader: every read accepts only msgpack's shortest form. */
struct rd {
    const uint8_t *p, *end;
};

/* An unsigned integer: in msgpack's shortest form only when shortest
 * (r_uint), in any width otherwise (seal.c's trusted decoder). */
static inline int
r_uint_form(struct rd *r, uint64_t *v, int shortest)
{
    size_t w;
    uint8_t c;
    if (r->p >= r->end)
        return -1;
    c = *r->p;
    if (c < 0x80) {
        *v = c;
        r->p++;
        return 0;
    }
    if (c < 0xcc || c > 0xcf)
        return -1;
    w = (size_t)1 << (c - 0xcc);
    if ((size_t)(r->end - r->p) < 1 + w)
        return -1;
    *v = ldg_rd_ben(r->p + 1, w);
    if (shortest &&
        ((c == 0xcc && *v < 0x80) || (c == 0xcd && *v <= 0xff) ||
         (c == 0xce && *v <= 0xffff) || (c == 0xcf && *v <= 0xffffffffu)))
        return -1;
    r->p += 1 + w;
    return 0;
}

static inline int
r_uint(struct rd *r, uint64_t *v)
{
    return r_uint_form(r, v, 1);
}

static inline int
r_str(struct rd *r, const char **s, size_t *n)
{
    size_t avail = (size_t)(r->end - r->p);
    uint8_t c;
    if (avail < 1)
        return -1;
    c = *r->p;
    if ((c & 0xe0) == 0xa0) {
        *n = c & 0x1f;
        r->p += 1;
    } else if (c == 0xd9 && avail >= 2) {
        *n = r->p[1];
        if (*n < 32)
            return -1;
        r->p += 2;
    } else if (c == 0xda && avail >= 3) {
        *n = ldg_rd_be16(r->p + 1);
        if (*n < 256)
            return -1;
        r->p += 3;
    } else {
        return -1;
    }
    if ((size_t)(r->end - r->p) < *n)
        return -1;
    *s = (const char *)r->p;
    r->p += *n;
    return 0;
}

static inline int
r_bin(struct rd *r, uint8_t *out, uint8_t n)
{
    if ((size_t)(r->end - r->p) < 2u + n || r->p[0] != 0xc4 || r->p[1] != n)
        return -1;
    memcpy(out, r->p + 2, n);
    r->p += 2 + n;
    return 0;
}

/* A fixmap header of 1..15 entries. */
static inline int
r_map(struct rd *r, unsigned *n)
{
    if (r->p >= r->end || (*r->p & 0xf0) != 0x80 || (*r->p & 0x0f) == 0)
        return -1;
    *n = *r->p++ & 0x0f;
    return 0;
}

/* The next key: its index in keys[from..count), which must be later than
 * the previous key's (bytewise order, no duplicates). */
static inline int
r_key(struct rd *r, const char *const *keys, int count, int from)
{
    const char *s;
    size_t n;
    if (r_str(r, &s, &n) < 0)
        return -1;
    /* keys[i] (a few bytes, NUL-terminated) equals s[0..n): compared in
     * place, no strlen and memcmp calls; never read past keys[i]'s NUL */
    for (int i = from; i < count; i++) {
        const char *k = keys[i];
        size_t j = 0;
        while (j < n && k[j] != '\0' && k[j] == s[j])
            j++;
        if (j == n && k[n] == '\0')
            return i;
    }
    return -1;
}

/* --------------------------------------------------------- field rules -- */

static inline int
keyid_ok(const char *s, size_t n)
{
    if (n != LDG_KEYID_LEN)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

/* min..max bytes, no NUL; no control characters either if no_ctl. */
static inline int
text_ok(const char *s, size_t n, size_t min, size_t max, int no_ctl)
{
    if (n < min || n > max || (n > 0 && s == NULL))
        return 0;
    if (!no_ctl) /* only NUL is refused */
        return n == 0 || memchr(s, 0, n) == NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == 0 || (no_ctl && (c < 0x20 || c == 0x7f)))
            return 0;
    }
    return 1;
}

#endif
