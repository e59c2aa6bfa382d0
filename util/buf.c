/*
 * buf.c — the bounded growable buffer (struct ldg_buf, util.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/util.h"

static size_t
ceiling(const struct ldg_buf *b)
{
    return b->max ? b->max : LDG_BUF_MAX_DEFAULT;
}

void
ldg_buf_init(struct ldg_buf *b, size_t max)
{
    memset(b, 0, sizeof *b);
    b->max = max;
}

void
ldg_buf_release(struct ldg_buf *b)
{
    size_t max = b->max;
    free(b->p);
    memset(b, 0, sizeof *b);
    b->max = max;
}

/* Doubling from 256 bytes; the allocation is at most the ceiling plus
 * one byte for the NUL. */
uint8_t *
ldg_buf_grow(struct ldg_buf *b, size_t n)
{
    size_t max = ceiling(b);
    if (b->err)
        return NULL;
    if (b->len > max || n > max - b->len) {
        b->err = LDG_ETOOBIG;
        return NULL;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        uint8_t *np;
        while (cap < b->len + n + 1)
            cap *= 2;
        if (cap > max + 1)
            cap = max + 1;
        np = realloc(b->p, cap);
        if (np == NULL) {
            b->err = LDG_ENOMEM;
            return NULL;
        }
        b->p = np;
        b->cap = cap;
    }
    /* room for the n bytes and the NUL, within the ceiling */
    LDG_ASSERT(b->len + n < b->cap && b->cap <= max + 1);
    return b->p + b->len;
}

void
ldg_buf_add(struct ldg_buf *b, const void *p, size_t n)
{
    uint8_t *o = ldg_buf_room(b, n);
    if (o == NULL)
        return;
    if (n)
        memcpy(o, p, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void
ldg_buf_puts(struct ldg_buf *b, const char *s)
{
    ldg_buf_add(b, s, strlen(s));
}

void
ldg_buf_vprintf(struct ldg_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    uint8_t *o;
    int n;

    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) {
        if (b->err == 0)
            b->err = LDG_EINVAL;
        return;
    }
    if ((o = ldg_buf_room(b, (size_t)n)) == NULL)
        return;
    vsnprintf((char *)o, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    LDG_ASSERT(b->len < b->cap);
}

void
ldg_buf_printf(struct ldg_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ldg_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

void
ldg_buf_consume(struct ldg_buf *b, size_t n)
{
    if (b->p == NULL || n == 0)
        return;
    if (n < b->len) {
        memmove(b->p, b->p + n, b->len - n);
        b->len -= n;
    } else {
        b->len = 0;
    }
    LDG_ASSERT(b->len < b->cap);
    b->p[b->len] = '\0';
}

char *
ldg_buf_detach(struct ldg_buf *b, size_t *len)
{
    char *s = (char *)b->p;
    if (b->err || s == NULL) {
        ldg_buf_release(b);
        return NULL;
    }
    if (len != NULL)
        *len = b->len;
    b->p = NULL;
    b->len = b->cap = 0;
    return s;
}
