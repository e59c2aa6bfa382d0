/*
 * fuzz_lines.c — libFuzzer target for ingest's bounded line reader
 * (ldg_line_read, ingest/ingest.c) over arbitrary bytes: leading and
 * repeated empty lines, CR, NUL, no trailing newline, lines at and over
 * the limit. The first input byte picks the line limit (1..256 bytes) and
 * the skip limit (0..255 bytes past it) so that short inputs reach every
 * branch; the rest is the stream. Invariants:
 *
 *   - every call returns one of the LDG_LINE_* codes, never crashes, and
 *     the buffer exists (and is NUL-terminated at len) after LDG_LINE_OK;
 *   - a kept line is at most max bytes and holds no newline;
 *   - kept lines, over-long line lengths and newlines add up to exactly
 *     the input consumed: nothing is lost or invented;
 *   - after LDG_LINE_STOP or LDG_LINE_END the reader returns LDG_LINE_END;
 *   - LDG_LINE_STOP only when an over-long line ran past max + skip_max
 *     bytes without a newline;
 *   - the buffer never grows past max + 1 bytes.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/ingest_int.h"

#include "tests/fuzz/fuzz.h"

int FUZZ_ENTRY(const uint8_t *data, size_t size);

int
FUZZ_ENTRY(const uint8_t *data, size_t size)
{
    struct ldg_line_reader r;
    const uint8_t *s;
    size_t n, pos = 0, len;
    FILE *f;
    int got, stopped = 0;

    if (size < 1)
        return 0;
    memset(&r, 0, sizeof r);
    r.max = (size_t)(data[0] & 0xff) + 1;
    r.skip_max = (size_t)((data[0] * 37u) & 0xff) + 1;
    s = data + 1;
    n = size - 1;
    /* fmemopen of 0 bytes fails on some libcs: an empty stream is a
     * file with nothing in it. */
    f = n ? fmemopen((void *)(uintptr_t)s, n, "rb") : tmpfile();
    if (f == NULL)
        return 0;
    r.in = f;
    for (;;) {
        got = ldg_line_read(&r, &len);
        FUZZ_ASSERT(got == LDG_LINE_END || got == LDG_LINE_OK ||
                    got == LDG_LINE_LONG || got == LDG_LINE_STOP);
        FUZZ_ASSERT(r.buf.cap <= r.max + 1);
        if (got == LDG_LINE_END)
            break;
        if (got == LDG_LINE_OK) {
            FUZZ_ASSERT(r.buf.s != NULL && len <= r.max);
            FUZZ_ASSERT(r.buf.s[len] == '\0');
            FUZZ_ASSERT(pos + len <= n && memcmp(r.buf.s, s + pos, len) == 0);
            FUZZ_ASSERT(memchr(r.buf.s, '\n', len) == NULL);
        } else if (got == LDG_LINE_LONG) {
            FUZZ_ASSERT(len > r.max && len <= r.max + r.skip_max);
            FUZZ_ASSERT(pos + len <= n && memchr(s + pos, '\n', len) == NULL);
        } else {
            FUZZ_ASSERT(len == r.max + r.skip_max + 1);
            FUZZ_ASSERT(pos + len <= n && memchr(s + pos, '\n', len) == NULL);
            stopped = 1;
            pos += len;
            break;
        }
        pos += len;
        /* the newline that ended it, unless the input ended first */
        if (pos < n) {
            FUZZ_ASSERT(s[pos] == '\n');
            pos++;
        }
    }
    if (!stopped)
        FUZZ_ASSERT(pos == n);
    FUZZ_ASSERT(ldg_line_read(&r, &len) == LDG_LINE_END);
    ldg_buf_release(&r.buf);
    fclose(f);
    return 0;
}
