/*
 * ingest_int.h — ingest's internals shared with its tests and fuzz target
 * (not part of the public face, ingest.h).
 */
#ifndef LDG_INGEST_INT_H
#define LDG_INGEST_INT_H

#include <stddef.h>
#include <stdio.h>

#include "util/util.h"

/* How far past the line limit an over-long line is skipped looking for its
 * newline before reading stops (so `ingest /dev/zero` ends). */
#define LDG_LINE_SKIP_MAX ((size_t)64 << 20)

enum {
    LDG_LINE_END = 0,    /* no more input */
    LDG_LINE_OK = 1,     /* a line in buf */
    LDG_LINE_LONG = -1,  /* over-long line, skipped to its newline */
    LDG_LINE_ERROR = -2, /* read error or out of memory (errno) */
    LDG_LINE_STOP = -3   /* over-long line with no newline in sight */
};

/* A bounded line reader over a FILE: zero it, set in and max (the longest
 * line kept, in bytes) and optionally skip_max (0 = LDG_LINE_SKIP_MAX) and
 * sealed_max (a line that begins as a sealed batch, ldg_ingest_is_sealed,
 * may be that long; 0 = max); ldg_buf_release(&buf) when done. The line
 * is buf.s; buf's ceiling is set by ldg_line_read. */
struct ldg_line_reader {
    FILE *in;
    struct ldg_buf buf;
    size_t max, skip_max, sealed_max;
    int eof;
};

int ldg_line_read(struct ldg_line_reader *r, size_t *len);

#endif
