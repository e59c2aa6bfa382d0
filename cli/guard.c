/*
 * guard.c — what ledger prints is shown on the terminal, never obeyed by it.
 *
 * A subject, a run, a pack's name or a body's string is whatever a client
 * sent: through `serve`, the proxy or an OTLP span, anyone who can record
 * can put an escape sequence into what an operator's terminal later
 * prints (clear the screen, move the cursor over a FAILED, set the
 * window's title, a hyperlink). So standard output and standard error
 * pass through one filter, installed before the command runs
 * (cli_guard_install), that writes each of these as text instead:
 *
 *   - the C0 control bytes other than newline and tab: "\x1b" (DEL, which
 *     terminals ignore, passes: it may stand raw in a JSON string);
 *   - a byte that is not part of valid UTF-8 (a C1 control on a Latin-1
 *     terminal): "\xHH";
 *   - the C1 controls U+0080..U+009F and the bidirectional overrides and
 *     isolates U+202A..U+202E, U+2066..U+2069: "\u009b".
 *
 * The colours ledger paints (cli_paint: five SGR sequences) pass, only on
 * a stream whose colour is on. A backslash is not doubled, so "\x1b" in
 * the text and an escaped ESC look alike; `-o json` is exact (and passes
 * the filter unchanged: JSON has no raw control bytes, and a C1 or bidi
 * character written as "\u0085" inside a JSON string is the same string).
 *
 * What is a file format rather than text for a person (show --raw, page
 * --out -, metrics) turns the filter off for standard output
 * (cli_guard_raw) before it writes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

#define HOLD 8 /* bytes kept back at a write's end: a split sequence */

struct guard {
    int fd;
    int raw;   /* pass every byte as it is */
    int paint; /* cli_paint's sequences pass */
    size_t held;
    unsigned char hold[HOLD];
};

static struct guard out = {1, 0, 0, 0, {0}}, err = {2, 0, 0, 0, {0}};
static FILE *err_real; /* the C library's stderr, for the progress line */

static const char *const paints[] = {"\033[0m", "\033[32m", "\033[33m",
                                     "\033[1;31m", "\033[1m"};

/* The length of cli_paint's sequence at s, 0 if none, or -1 when s's n
 * bytes are the start of one (wait for more). */
static int
paint_len(const unsigned char *s, size_t n)
{
    int partial = 0;
    for (size_t i = 0; i < sizeof paints / sizeof paints[0]; i++) {
        size_t k = strlen(paints[i]);
        if (n >= k && memcmp(s, paints[i], k) == 0)
            return (int)k;
        if (n < k && memcmp(s, paints[i], n) == 0)
            partial = 1;
    }
    return partial ? -1 : 0;
}

/* The length of the valid UTF-8 sequence at s, 0 if s[0] starts none, or
 * -1 when the n bytes are a valid start of one (wait for more). *cp is
 * the code point. */
static int
utf8_len(const unsigned char *s, size_t n, unsigned *cp)
{
    static const unsigned min[] = {0, 0, 0x80, 0x800, 0x10000};
    int k = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc0 ? 2 : 0;
    unsigned c;
    if (k == 0 || s[0] > 0xf4)
        return 0;
    c = s[0] & (0x7fu >> k);
    for (int i = 1; i < k; i++) {
        if ((size_t)i >= n)
            return -1;
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = c << 6 | (s[i] & 0x3fu);
    }
    if (c < min[k] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return k;
}

/* 1 for the characters written escaped as "\\u%04x" (C1, bidi). */
static int
shown_as_u(unsigned cp)
{
    return (cp >= 0x80 && cp <= 0x9f) || (cp >= 0x202a && cp <= 0x202e) ||
           (cp >= 0x2066 && cp <= 0x2069);
}

size_t
cli_shown_cols(const char *s, size_t n, int paint, size_t *len)
{
    const unsigned char *u = (const unsigned char *)s;
    unsigned cp = 0;
    int k;
    *len = 1;
    if (u[0] == '\033' && paint && (k = paint_len(u, n)) > 0)
        return *len = (size_t)k, 0;
    if (u[0] < 0x20)
        return u[0] == '\t' || u[0] == '\n' ? 1 : 4; /* \x1b */
    if (u[0] < 0x80)
        return 1;
    if ((k = utf8_len(u, n, &cp)) <= 0)
        return 4; /* \xff */
    *len = (size_t)k;
    return shown_as_u(cp) ? 6 : 1; /* \u202e */
}

static int
flush_to(int fd, const void *b, size_t n)
{
    return n > 0 && ldg_write_all(fd, b, n, 0) < 0 ? -1 : 0;
}

struct outbuf {
    int fd;
    size_t k;
    char o[4096];
};

/* Adds p's n bytes to what goes out; a long run is written from where it
 * is. 0, or -1 with errno. */
static int
put(struct outbuf *ob, const void *p, size_t n)
{
    if (ob->k + n > sizeof ob->o) {
        if (flush_to(ob->fd, ob->o, ob->k) < 0)
            return -1;
        ob->k = 0;
        if (n > sizeof ob->o / 2)
            return flush_to(ob->fd, p, n);
    }
    memcpy(ob->o + ob->k, p, n);
    ob->k += n;
    return 0;
}

/* Writes b's n bytes filtered to g's descriptor; keeps back an unfinished
 * sequence at the end unless last. 0, or -1 with errno. */
static int
filter(struct guard *g, const unsigned char *b, size_t n, int last)
{
    struct outbuf ob;
    size_t i = 0, run = 0;
    ob.fd = g->fd;
    ob.k = 0;
    while (i < n) {
        unsigned c = b[i], cp = 0;
        int len = 1, esc = 0;
        char e[8];
        if ((c >= 0x20 && c < 0x80) || c == '\n' || c == '\t') {
            uint64_t x; /* the common case: eight printable ASCII bytes */
            for (i++; i + 8 <= n; i += 8) {
                memcpy(&x, b + i, 8);
                if (((x | (x - 0x2020202020202020u)) & 0x8080808080808080u))
                    break;
            }
            continue;
        }
        if (c == '\033' && g->paint) {
            len = paint_len(b + i, n - i);
            if (len < 0 && !last)
                break;
            esc = len <= 0;
            len = len <= 0 ? 1 : len;
        } else if (c < 0x20) {
            esc = 1;
        } else {
            len = utf8_len(b + i, n - i, &cp);
            if (len < 0 && !last)
                break;
            if (len <= 0) {
                len = 1;
                esc = 1;
            } else if (shown_as_u(cp)) {
                esc = 2;
            }
        }
        if (esc != 0) {
            int m = esc == 1 ? snprintf(e, sizeof e, "\\x%02x", c)
                             : snprintf(e, sizeof e, "\\u%04x", cp);
            if (put(&ob, b + run, i - run) < 0 || put(&ob, e, (size_t)m) < 0)
                return -1;
            run = i + (size_t)len;
        }
        i += (size_t)len;
    }
    g->held = n - i;
    memcpy(g->hold, b + i, g->held);
    if (put(&ob, b + run, i - run) < 0)
        return -1;
    return flush_to(ob.fd, ob.o, ob.k);
}

static ssize_t
guard_write(void *cookie, const char *buf, size_t n)
{
    struct guard *g = cookie;
    unsigned char b[HOLD + 512];
    size_t used = 0;

    if (g->raw)
        return flush_to(g->fd, buf, n) < 0 ? -1 : (ssize_t)n;
    if (g->held > 0) { /* what was kept back, finished by buf's start */
        size_t m = g->held, take = n < 512 ? n : 512;
        memcpy(b, g->hold, m);
        memcpy(b + m, buf, take);
        g->held = 0;
        if (filter(g, b, m + take, 0) < 0)
            return -1;
        if (take == n)
            return (ssize_t)n;
        /* kept back again: a part of a sequence, shorter than take */
        used = take - g->held;
        g->held = 0;
    }
    if (filter(g, (const unsigned char *)buf + used, n - used, 0) < 0)
        return -1;
    return (ssize_t)n;
}

/* At the end, what was kept back is not a sequence: written escaped. */
static int
guard_end(struct guard *g)
{
    unsigned char b[HOLD];
    size_t m = g->held;
    memcpy(b, g->hold, m);
    g->held = 0;
    return m > 0 && filter(g, b, m, 1) < 0 ? -1 : 0;
}

static void
guard_atexit(void)
{
    if (fflush(stdout) == 0)
        guard_end(&out);
    guard_end(&err);
}

static int
guard_close(void *cookie)
{
    return guard_end(cookie);
}

void
cli_guard_install(void)
{
    cookie_io_functions_t io = {NULL, guard_write, NULL, guard_close};
    FILE *o = fopencookie(&out, "w", io), *e = fopencookie(&err, "w", io);
    if (o == NULL || e == NULL) { /* no filter is better than no output */
        if (o != NULL)
            fclose(o);
        if (e != NULL)
            fclose(e);
        return;
    }
    fflush(stdout);
    setvbuf(o, NULL, isatty(1) ? _IOLBF : _IOFBF, 0);
    setvbuf(e, NULL, _IONBF, 0);
    err_real = stderr;
    stdout = o;
    stderr = e;
    atexit(guard_atexit);
}

void
cli_guard_paint(int on_out, int on_err)
{
    out.paint = on_out;
    err.paint = on_err;
}

void
cli_guard_raw(void)
{
    if (fflush(stdout) == 0)
        guard_end(&out);
    out.raw = 1;
}

FILE *
cli_guard_stderr_raw(void)
{
    return err_real != NULL ? err_real : stderr;
}
