/*
 * test_ingest.c — ingest/ingest.c: the bounded line reader and ldg_ingest
 * on awkward streams (an empty first line, CR, NUL, no final newline, a
 * line that never ends), plus the line reader's fuzz corpus
 * (tests/fuzz/corpus_lines/) through the fuzz target's own entry point.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static char current[2400];
#define FUZZ_ASSERT(c)                                                         \
    do {                                                                       \
        if (!(c))                                                              \
            fail_msg("%s: invariant %s (%s:%d) does not hold", current, #c,    \
                     __FILE__, __LINE__);                                      \
    } while (0)
#define FUZZ_ENTRY fuzz_lines_one
#include "tests/fuzz/fuzz_lines.c"
#undef FUZZ_ENTRY

#include "ingest/ingest.h"
#include "projections/projections.h"
#include "projections/verified.h"
#include "tests/support/support.h"

static FILE *
mem(const char *s, size_t n)
{
    FILE *f = fmemopen((void *)(uintptr_t)s, n, "rb");
    assert_non_null(f);
    return f;
}

struct errs {
    int n;
    uint64_t line[8];
    char msg[8][600];
};

static void
on_err(void *ctx, uint64_t line, int col, const char *msg)
{
    struct errs *e = ctx;
    (void)col;
    if (e->n < 8) {
        e->line[e->n] = line;
        snprintf(e->msg[e->n], sizeof e->msg[0], "%s", msg);
    }
    e->n++;
}

/* Was a SIGSEGV: the first line empty wrote '\0' into a NULL buffer. */
static void
test_ingest__empty_first_line_is_skipped(void **state)
{
    static const char in[] = "\n{\"type\":\"x.t\",\"body\":{}}\n";
    char dir[256];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_ingest_opts o;
    struct ldg_ingest_report rep;
    struct errs e;
    FILE *f = mem(in, sizeof in - 1);
    (void)state;
    memset(&o, 0, sizeof o);
    memset(&e, 0, sizeof e);
    o.on_error = on_err;
    o.ctx = &e;
    assert_int_equal(ldg_ingest(l, f, &o, &rep), 0);
    assert_int_equal(rep.committed, 1);
    assert_int_equal(rep.lines, 1);
    assert_int_equal(e.n, 0);
    fclose(f);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_ingest__line_reader_awkward_streams(void **state)
{
    static const char in[] = "\n\r\n{\"a\":1}\r\nab\0cd\n\nlast";
    struct ldg_line_reader r;
    size_t len;
    FILE *f = mem(in, sizeof in - 1);
    (void)state;
    memset(&r, 0, sizeof r);
    r.in = f;
    r.max = 64;
    assert_int_equal(ldg_line_read(&r, &len), LDG_LINE_OK);
    assert_int_equal(len, 0);
    assert_non_null(r.buf.s);
    assert_string_equal(r.buf.s, "");
    assert_int_equal(ldg_line_read(&r, &len), LDG_LINE_OK);
    assert_int_equal(len, 1);
    assert_string_equal(r.buf.s, "\r");
    assert_int_equal(ldg_line_read(&r, &len), LDG_LINE_OK);
    assert_string_equal(r.buf.s, "{\"a\":1}\r");
    assert_int_equal(ldg_line_read(&r, &len), LDG_LINE_OK);
    assert_int_equal(len, 5);
    assert_memory_equal(r.buf.s, "ab\0cd", 5);
    assert_int_equal(ldg_line_read(&r, &len), LDG_LINE_OK);
    assert_int_equal(len, 0);
    assert_int_equal(ldg_line_read(&r, &len), LDG_LINE_OK);
    assert_string_equal(r.buf.s, "last");
    assert_int_equal(ldg_line_read(&r, &len), LDG_LINE_END);
    assert_int_equal(ldg_line_read(&r, &len), LDG_LINE_END);
    ldg_buf_release(&r.buf);
    fclose(f);
}

static void
test_ingest__line_reader_skips_then_stops(void **state)
{
    static const char in[] = "0123456789\nok\n0123456789012345678901234";
    struct ldg_line_reader r;
    size_t len;
    FILE *f = mem(in, sizeof in - 1);
    (void)state;
    memset(&r, 0, sizeof r);
    r.in = f;
    r.max = 4;
    r.skip_max = 10;
    assert_int_equal(ldg_line_read(&r, &len), LDG_LINE_LONG);
    assert_int_equal(len, 10);
    assert_int_equal(ldg_line_read(&r, &len), LDG_LINE_OK);
    assert_string_equal(r.buf.s, "ok");
    assert_int_equal(ldg_line_read(&r, &len), LDG_LINE_STOP);
    assert_int_equal(len, 15);
    assert_int_equal(ldg_line_read(&r, &len), LDG_LINE_END);
    assert_true(r.buf.cap <= 5);
    ldg_buf_release(&r.buf);
    fclose(f);
}

/* Was an endless read: `ingest /dev/zero` consumed zeros waiting for a
 * newline. Now it stops LDG_LINE_SKIP_MAX past the limit, naming line 1,
 * after committing what came before. */
static void
test_ingest__endless_line_stops_with_an_error(void **state)
{
    char dir[256];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_ingest_opts o;
    struct ldg_ingest_report rep;
    struct errs e;
    FILE *f = fopen("/dev/zero", "rb");
    (void)state;
    assert_non_null(f);
    memset(&o, 0, sizeof o);
    memset(&e, 0, sizeof e);
    o.on_error = on_err;
    o.ctx = &e;
    assert_int_equal(ldg_ingest(l, f, &o, &rep), LDG_EBADINPUT);
    assert_int_equal(rep.committed, 0);
    assert_int_equal(rep.rejected, 1);
    assert_int_equal(e.n, 1);
    assert_int_equal(e.line[0], 1);
    assert_non_null(strstr(e.msg[0], "stopped reading"));
    fclose(f);
    ldg_close(l);
    t_rmrf(dir);
}

static void
lines_one(const uint8_t *data, size_t size)
{
    (void)fuzz_lines_one(data, size);
}

static void
test_ingest__line_corpus_holds_invariants(void **state)
{
    (void)state;
    assert_true(t_corpus_each("tests/fuzz/corpus_lines", lines_one, current,
                              sizeof current) >= 6);
}

/* The serve protocol's "time": RFC 3339 or decimal ns, nothing else. */
static void
test_ingest__parse_time_rfc3339_and_ns(void **state)
{
    uint64_t ns = 0;
    const char *why = NULL;
    (void)state;
    assert_int_equal(ldg_ingest_parse_time("1970-01-01T00:00:00Z", &ns, &why),
                     0);
    assert_true(ns == 0);
    assert_int_equal(
        ldg_ingest_parse_time("2026-11-22T20:55:01.25Z", &ns, &why), 0);
    assert_true(ns == 1795380901250000000ull);
    /* the same instant in another zone */
    assert_int_equal(
        ldg_ingest_parse_time("2026-11-22T21:55:01.250+01:00", &ns, &why), 0);
    assert_true(ns == 1795380901250000000ull);
    assert_int_equal(
        ldg_ingest_parse_time("2026-11-22T20:55:01.123456789Z", &ns, &why), 0);
    assert_true(ns == 1795380901123456789ull);
    assert_int_equal(ldg_ingest_parse_time("1795380901123456789", &ns, &why),
                     0);
    assert_true(ns == 1795380901123456789ull);
    assert_int_equal(ldg_ingest_parse_time("2000-02-29T00:00:00Z", &ns, &why),
                     0);
    static const char *const bad[] = {
        "",
        "yesterday",
        "2026-11-22",
        "2026-11-22T20:55:01",             /* no zone */
        "2026-11-22 20:55:01Z",            /* space */
        "2026-11-22T20:55:01.Z",           /* empty fraction */
        "2026-11-22T20:55:01.1234567890Z", /* 10 digits */
        "2026-13-01T00:00:00Z",
        "2026-02-29T00:00:00Z",
        "1900-02-29T00:00:00Z",
        "2026-11-22T24:00:00Z",
        "2026-11-22T20:55:01+24:00",
        "1969-12-31T23:59:59Z", /* before 1970 */
        "18446744073709551616", /* 2^64 ns */
        "-5",
        "2026-11-22T20:55:01Zjunk",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        why = NULL;
        if (ldg_ingest_parse_time(bad[i], &ns, &why) != LDG_EBADINPUT)
            fail_msg("accepted '%s'", bad[i]);
        assert_non_null(why);
    }
}

/* "id" and "time" only with LDG_INGEST_REQUEST; the id is kept when the
 * line is refused for another field. */
static void
test_ingest__request_fields(void **state)
{
    struct ldg_event_in ev;
    struct ldg_ingest_meta m;
    json_t *h = NULL;
    char msg[600];
    int col;
    const char *ok = "{\"type\":\"x.a\",\"body\":{},\"id\":\"k1\","
                     "\"time\":\"5\"}";
    (void)state;
    /* plain ingest lines take them too, into the event */
    assert_int_equal(ldg_ingest_parse_line(ok, strlen(ok), 1 << 20, &ev, &h,
                                           &col, msg, sizeof msg),
                     0);
    assert_string_equal(ev.id, "k1");
    assert_true(ev.has_time && ev.time_ns == 5);
    json_decref(h);
    assert_int_equal(ldg_ingest_parse_line_ex(ok, strlen(ok), 1 << 20,
                                              LDG_INGEST_REQUEST, &ev, &m, &h,
                                              &col, msg, sizeof msg),
                     0);
    assert_int_equal(m.has_id, 1);
    assert_string_equal(m.id, "k1");
    assert_int_equal(m.id_len, 2);
    assert_int_equal(m.has_time, 1);
    assert_true(m.time_ns == 5);
    json_decref(h);

    const char *bad = "{\"type\":\"x.a\",\"id\":\"k2\",\"colour\":1,"
                      "\"body\":{}}";
    assert_int_equal(ldg_ingest_parse_line_ex(bad, strlen(bad), 1 << 20,
                                              LDG_INGEST_REQUEST, &ev, &m, &h,
                                              &col, msg, sizeof msg),
                     LDG_EBADINPUT);
    assert_null(h);
    assert_int_equal(m.has_id, 1);
    assert_string_equal(m.id, "k2");
    assert_non_null(strstr(msg, "colour"));

    char longid[300];
    memset(longid, 'a', 129);
    longid[129] = '\0';
    char line[512];
    snprintf(line, sizeof line, "{\"type\":\"x.a\",\"body\":{},\"id\":\"%s\"}",
             longid);
    assert_int_equal(ldg_ingest_parse_line_ex(line, strlen(line), 1 << 20,
                                              LDG_INGEST_REQUEST, &ev, &m, &h,
                                              &col, msg, sizeof msg),
                     LDG_EBADINPUT);
    assert_int_equal(m.has_id, 0);
    assert_non_null(strstr(msg, "field 'id'"));
    longid[128] = '\0'; /* 128 bytes: allowed */
    snprintf(line, sizeof line, "{\"type\":\"x.a\",\"body\":{},\"id\":\"%s\"}",
             longid);
    assert_int_equal(ldg_ingest_parse_line_ex(line, strlen(line), 1 << 20,
                                              LDG_INGEST_REQUEST, &ev, &m, &h,
                                              &col, msg, sizeof msg),
                     0);
    json_decref(h);
    const char *ctl = "{\"type\":\"x.a\",\"body\":{},\"id\":\"a\\nb\"}";
    assert_int_equal(ldg_ingest_parse_line_ex(ctl, strlen(ctl), 1 << 20,
                                              LDG_INGEST_REQUEST, &ev, &m, &h,
                                              &col, msg, sizeof msg),
                     LDG_EBADINPUT);
    const char *num = "{\"type\":\"x.a\",\"body\":{},\"time\":5}";
    assert_int_equal(ldg_ingest_parse_line_ex(num, strlen(num), 1 << 20,
                                              LDG_INGEST_REQUEST, &ev, &m, &h,
                                              &col, msg, sizeof msg),
                     LDG_EBADINPUT);
    assert_non_null(strstr(msg, "field 'time': must be a string"));
}

/* A line from a key held by its writer, unsealed: refused, counted in
 * key_refused; LDG_EKEY when every refused line is one (the CLI's exit
 * 77), LDG_EBADINPUT when other lines were refused too. Both modes. */
static void
test_ingest__unsealed_from_writer_held_key(void **state)
{
    static const char one[] =
        "{\"type\":\"run.started\",\"actor\":\"cp\",\"body\":{\"run\":\"R\","
        "\"pack\":\"p\"}}\n";
    static const char two[] =
        "{\"type\":\"run.started\",\"actor\":\"cp\",\"body\":{\"run\":\"R\","
        "\"pack\":\"p\"}}\n{\"type\":\"run.started\",\"body\":{}}\n";
    char dir[256], hex[65];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_ingest_opts o;
    struct ldg_ingest_report rep;
    struct ldg_event_in in;
    struct ldg_key *k = NULL;
    struct errs e;
    uint64_t seq, n0, n1;
    json_t *body;
    FILE *f;
    (void)state;
    assert_int_equal(ldg_key_generate(&k, "cp"), 0);
    ldg_hex(hex, k->pub, 32);
    body = json_pack("{s:s, s:s, s:s, s:s}", "key_id", k->key_id, "public_key",
                     hex, "actor", "cp", "held", "writer");
    memset(&in, 0, sizeof in);
    in.type = "key.added";
    in.body = body;
    assert_int_equal(ldg_append(l, &in, &seq), 0);
    json_decref(body);
    ldg_key_free(k);
    assert_int_equal(ldg_size(l, &n0), 0);
    for (int strict = 0; strict < 2; strict++) {
        memset(&o, 0, sizeof o);
        memset(&e, 0, sizeof e);
        o.on_error = on_err;
        o.ctx = &e;
        o.strict = strict;
        f = mem(one, sizeof one - 1);
        assert_int_equal(ldg_ingest(l, f, &o, &rep), LDG_EKEY);
        fclose(f);
        assert_int_equal(rep.rejected, 1);
        assert_int_equal(rep.key_refused, 1);
        assert_int_equal(rep.committed, 0);
        assert_int_equal(e.n, 1);
        assert_non_null(strstr(e.msg[0], "key cp (id "));
        assert_non_null(strstr(e.msg[0], "held by its writer"));
        memset(&e, 0, sizeof e);
        f = mem(two, sizeof two - 1);
        assert_int_equal(ldg_ingest(l, f, &o, &rep), LDG_EBADINPUT);
        fclose(f);
        assert_int_equal(rep.rejected, 2);
        assert_int_equal(rep.key_refused, 1);
    }
    assert_int_equal(ldg_size(l, &n1), 0);
    assert_int_equal(n1, n0);
    ldg_close(l);
    t_rmrf(dir);
}

struct commits {
    size_t n;
    uint64_t size[8];
};

static void
on_commit(void *ctx, uint64_t first, uint64_t n)
{
    struct commits *c = ctx;
    (void)first;
    if (c->n < 8)
        c->size[c->n] = n;
    c->n++;
}

/* A file without --batch: commits take whole batches of 1,000 (several
 * at once when they are ready: ldg_writer_options.gather asks for two),
 * the rest goes at the end; with --batch 1000 every commit holds exactly
 * 1,000. How many go together is the scheduler's: the end of the file
 * flushes what is signed, and on a loaded machine (CI's chroot beside two
 * sanitizer runs, 2026-11-26) the first batch was alone when it came. */
static void
test_ingest__file_commits_whole_batches(void **state)
{
    char dir[256];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_ingest_opts o;
    struct ldg_ingest_report rep;
    struct commits c;
    (void)state;

    for (int pass = 0; pass < 2; pass++) {
        FILE *f = tmpfile();
        assert_non_null(f);
        for (int i = 0; i < 2500; i++)
            fprintf(f, "{\"type\":\"x.t\",\"body\":{\"i\":%d}}\n", i);
        rewind(f);
        memset(&o, 0, sizeof o);
        memset(&c, 0, sizeof c);
        o.batch = pass == 0 ? 0 : 1000;
        o.on_commit = on_commit;
        o.ctx = &c;
        assert_int_equal(ldg_ingest(l, f, &o, &rep), 0);
        assert_int_equal(rep.committed, 2500);
        if (pass == 0) {
            /* one to three commits of whole batches, the last with the
             * 500 of the end, none over LDG_WRITER_GROUP_MAX batches */
            uint64_t sum = 0;
            assert_true(c.n >= 1 && c.n <= 3);
            for (size_t i = 0; i < c.n; i++) {
                sum += c.size[i];
                assert_true(c.size[i] <= LDG_WRITER_GROUP_MAX * 1000);
                assert_int_equal(c.size[i] % 1000, i + 1 < c.n ? 0 : 500);
            }
            assert_int_equal(sum, 2500);
        } else {
            assert_int_equal(c.n, 3);
            assert_int_equal(c.size[0], 1000);
            assert_int_equal(c.size[1], 1000);
            assert_int_equal(c.size[2], 500);
        }
        fclose(f);
    }
    ldg_close(l);
    t_rmrf(dir);
}

/* Every refusal, as text "LINE:COL: message", in the order reported. */
struct log {
    char *text;
    size_t len, cap;
};

static void
log_err(void *ctx, uint64_t line, int col, const char *msg)
{
    struct log *g = ctx;
    char one[1024];
    int n = snprintf(one, sizeof one, "%llu:%d: %s\n", (unsigned long long)line,
                     col, msg);
    if (g->len + (size_t)n + 1 > g->cap) {
        g->cap = (g->len + (size_t)n + 1) * 2;
        g->text = realloc(g->text, g->cap);
        assert_non_null(g->text);
    }
    memcpy(g->text + g->len, one, (size_t)n + 1);
    g->len += (size_t)n;
}

struct feed {
    int fd;
    const char *s;
    size_t n;
};

static void *
feeder(void *arg)
{
    struct feed *f = arg;
    size_t off = 0;
    while (off < f->n) {
        ssize_t k = write(f->fd, f->s + off, f->n - off);
        if (k <= 0)
            break;
        off += (size_t)k;
    }
    close(f->fd);
    return NULL;
}

/* 3,000 lines of every kind: events, lines that do not parse (with their
 * column), unknown fields, a refused type, a bad actor name, an unknown
 * actor, a body over the limit, a bad parent, blank lines, an over-long
 * line, repeated ids. */
static char *
mixed_input(size_t *len)
{
    size_t cap = 4u << 20, n = 0;
    char *s = malloc(cap);
    assert_non_null(s);
    for (int i = 0; i < 3000; i++) {
        int k = i % 23;
        if (n + 1300000 > cap)
            s = realloc(s, cap *= 2);
        assert_non_null(s);
        switch (k) {
        case 3:
            n +=
                (size_t)sprintf(s + n, "{\"type\":\"x.t\",\"body\":{\"a\":}\n");
            break;
        case 5:
            n += (size_t)sprintf(s + n, "{\"type\":\"x.t\",\"nope\":1}\n");
            break;
        case 7:
            n +=
                (size_t)sprintf(s + n, "{\"type\":\"bad type\",\"body\":{}}\n");
            break;
        case 9:
            n += (size_t)sprintf(s + n, "\n   \n");
            break;
        case 11:
            n += (size_t)sprintf(
                s + n,
                "{\"type\":\"x.t\",\"actor\":\"no body\",\"body\":{}}\n");
            break;
        case 13:
            n += (size_t)sprintf(
                s + n, "{\"type\":\"x.t\",\"actor\":\"nobody\",\"body\":{}}\n");
            break;
        case 15:
            /* once a body over the limit (1 MiB), once a line over the
             * line limit (1 MiB + 64 KiB) */
            if (i == 15 || i == 38) {
                size_t big = i == 15 ? 1100000 : 1200000;
                n += (size_t)sprintf(s + n,
                                     "{\"type\":\"x.t\",\"body\":{\"a\":\"");
                memset(s + n, 'x', big);
                n += big;
                n += (size_t)sprintf(s + n, "\"}}\n");
                break;
            }
            n += (size_t)sprintf(s + n, "{\"type\":\"x.t\",\"body\":{}}\n");
            break;
        case 17:
            n += (size_t)sprintf(
                s + n, "{\"type\":\"x.t\",\"parent\":99999999,\"body\":{}}\n");
            break;
        case 19:
            n += (size_t)sprintf(
                s + n, "{\"type\":\"x.t\",\"id\":\"i%d\",\"body\":{}}\n",
                i % 5);
            break;
        case 21:
            n += (size_t)sprintf(s + n, "[%d]\n", i);
            break;
        default:
            n += (size_t)sprintf(s + n,
                                 "{\"type\":\"x.t\",\"body\":{\"i\":%d}}\n", i);
        }
    }
    *len = n;
    return s;
}

/* A file goes through the parse threads (pass_piped), a pipe through
 * pass() line by line: both report the same refusals, in line order, with
 * the same columns and messages, and commit the same events. */
static void
test_ingest__file_and_pipe_refuse_alike(void **state)
{
    size_t n;
    char *in = mixed_input(&n);
    struct log got[2];
    struct ldg_ingest_report rep[2];
    uint64_t size[2];
    (void)state;

    for (int way = 0; way < 2; way++) {
        char dir[256];
        struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
        struct ldg_ingest_opts o;
        FILE *f;
        pthread_t th;
        struct feed fd;
        int p[2];

        memset(&got[way], 0, sizeof got[way]);
        memset(&o, 0, sizeof o);
        o.on_error = log_err;
        o.ctx = &got[way];
        if (way == 0) {
            f = tmpfile();
            assert_non_null(f);
            assert_int_equal(fwrite(in, 1, n, f), n);
            rewind(f);
        } else {
            assert_int_equal(pipe(p), 0);
            fd.fd = p[1];
            fd.s = in;
            fd.n = n;
            assert_int_equal(pthread_create(&th, NULL, feeder, &fd), 0);
            f = fdopen(p[0], "r");
            assert_non_null(f);
        }
        assert_int_equal(ldg_ingest(l, f, &o, &rep[way]), LDG_EBADINPUT);
        if (way == 1)
            pthread_join(th, NULL);
        fclose(f);
        assert_int_equal(ldg_size(l, &size[way]), 0);
        ldg_close(l);
        t_rmrf(dir);
        /* the messages name the ledger's directory: cut it out */
        for (char *q; (q = strstr(got[way].text, dir)) != NULL;)
            memmove(q, q + strlen(dir), strlen(q + strlen(dir)) + 1);
    }
    assert_string_equal(got[0].text, got[1].text);
    assert_int_equal(rep[0].lines, rep[1].lines);
    assert_int_equal(rep[0].rejected, rep[1].rejected);
    assert_int_equal(rep[0].committed, rep[1].committed);
    assert_int_equal(rep[0].duplicates, rep[1].duplicates);
    assert_int_equal(size[0], size[1]);
    /* every kind was refused, each line once, in order */
    assert_true(rep[0].rejected > 900);
    assert_non_null(strstr(got[0].text, ": body exceeds 1048576 bytes\n"));
    assert_non_null(strstr(got[0].text, ":1: line is longer than"));
    assert_non_null(strstr(got[0].text, "no key 'nobody'"));
    assert_non_null(strstr(got[0].text, "invalid key name 'no body'"));
    assert_non_null(strstr(got[0].text, "is not an earlier event"));
    {
        uint64_t last = 0;
        for (const char *q = got[0].text; *q; q = strchr(q, '\n') + 1) {
            uint64_t line = strtoull(q, NULL, 10);
            assert_true(line > last);
            last = line;
        }
    }
    free(got[0].text);
    free(got[1].text);
    free(in);
}

struct dups {
    int n;
    uint64_t line[4];
    unsigned differs[4];
};

static void
on_dup(void *ctx, uint64_t line, const char *id, uint64_t seq, unsigned differs)
{
    struct dups *d = ctx;
    (void)id;
    (void)seq;
    if (d->n < 4) {
        d->line[d->n] = line;
        d->differs[d->n] = differs;
    }
    d->n++;
}

static int
count_seq(void *ctx, uint64_t seq)
{
    (void)seq;
    ++*(int *)ctx;
    return 0;
}

/* Events from a file wait in the writer as their records only: the parse
 * thread drops the body's JSON tree (ldg_prep_compact). What the commit
 * reads of a body still comes out right: the projections fold it from
 * the record (their stored state equals a replay), proj.verified gets a
 * successful model.verified, a duplicate's differing body is named, and
 * the log verifies. */
static void
test_ingest__file_events_wait_compact(void **state)
{
    static const char first[] =
        "{\"type\":\"model.registered\",\"body\":{\"model\":\"m\","
        "\"digest\":\"sha256:01\",\"runtime\":\"ollama\",\"format\":"
        "\"gguf\",\"capabilities\":[\"chat\"],\"size_bytes\":4683087332}}\n"
        "{\"type\":\"model.verified\",\"body\":{\"model\":\"m\","
        "\"digest\":\"sha256:01\",\"ok\":true}}\n"
        "{\"type\":\"runtime.health\",\"id\":\"h1\",\"body\":{\"runtime\":"
        "\"ollama\",\"status\":\"up\",\"latency_ms\":2.5}}\n"
        "{\"type\":\"runtime.health\",\"id\":\"h2\",\"body\":{\"runtime\":"
        "\"ollama\",\"status\":\"up\",\"latency_ms\":3}}\n";
    static const char again[] =
        "{\"type\":\"runtime.health\",\"id\":\"h1\",\"body\":{\"runtime\":"
        "\"ollama\",\"status\":\"up\",\"latency_ms\":2.5}}\n"
        "{\"type\":\"runtime.health\",\"id\":\"h2\",\"body\":{\"runtime\":"
        "\"ollama\",\"status\":\"down\",\"latency_ms\":3}}\n";
    char dir[256];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_ingest_opts o;
    struct ldg_ingest_report rep;
    struct ldg_verify_report vr;
    struct dups d;
    struct ldg_txn *t;
    json_t *diffs = NULL;
    uint64_t ndiff = 1;
    int nverified = 0;
    uint64_t upto = 0;
    (void)state;

    assert_int_equal(ldg_projections_attach(l), 0);
    for (int pass = 0; pass < 2; pass++) {
        const char *in = pass == 0 ? first : again;
        FILE *f = tmpfile(); /* a regular file: the parse threads */
        assert_non_null(f);
        fputs(in, f);
        rewind(f);
        memset(&o, 0, sizeof o);
        memset(&d, 0, sizeof d);
        o.on_duplicate = on_dup;
        o.ctx = &d;
        assert_int_equal(ldg_ingest(l, f, &o, &rep), 0);
        fclose(f);
        assert_int_equal(rep.committed, pass == 0 ? 4 : 0);
        assert_int_equal(rep.duplicates, pass == 0 ? 0 : 2);
    }
    assert_int_equal(d.n, 2);
    assert_int_equal(d.line[0], 1);
    assert_int_equal(d.differs[0], 0);
    assert_int_equal(d.line[1], 2);
    assert_int_equal(d.differs[1], LDG_DIFF_BODY);

    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_projections_verified_walk(t, "model:m", "sha256:01",
                                                   &upto, count_seq,
                                                   &nverified),
                     0);
    ldg_txn_abort(t);
    assert_int_equal(nverified, 1);
    assert_int_equal(upto, 5); /* the genesis and the four events */

    assert_int_equal(ldg_projections_check(l, LDG_PROJECTIONS_ALL, NULL, NULL,
                                           &diffs, &ndiff),
                     0);
    if (ndiff != 0)
        fail_msg("projections differ from a replay: %s",
                 json_dumps(diffs, JSON_COMPACT));
    json_decref(diffs);

    memset(&vr, 0, sizeof vr);
    assert_int_equal(ldg_verify(l, LDG_VERIFY_FULL, 0, &vr, NULL, NULL), 0);
    ldg_close(l);
    t_rmrf(dir);
}

/* ldg_ingest_sealed_cost is at or above what the parse holds (issue 29:
 * ledger serve counts it against its budget): batches of small events,
 * of bodies of small arrays (jansson's worst: 15 times the text) and of
 * long strings. glibc's mallinfo2 says what the parse took. */
static void
sealed_cost_case(int n, const char *body, const char *salts)
{
    struct ldg_ingest_cost_line {
        char *p;
        size_t len, cap;
    } L = {NULL, 0, 0};
    struct ldg_sealed_batch *b = NULL;
    struct mallinfo2 m0, m1;
    char msg[512];
    int col;
    FILE *f = open_memstream(&L.p, &L.len);
    assert_non_null(f);
    fprintf(f, "{\"sealed\":{\"key\":\"0123456789abcdef\",\"first\":0,"
               "\"count\":%d,\"sig\":\"%.86s==\",\"events\":[",
            n,
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    for (int i = 0; i < n; i++)
        fprintf(f, "%s{\"type\":\"run.step\",\"id\":\"e%d\",\"body\":%s,"
                   "\"salts\":%s}",
                i ? "," : "", i, body, salts);
    fprintf(f, "]}}");
    fclose(f);
    m0 = mallinfo2();
    if (ldg_ingest_parse_sealed(L.p, L.len, &b, &col, msg, sizeof msg) != 0)
        fail_msg("parse: %s", msg);
    m1 = mallinfo2();
    /* the parse alone: the append's part is on top */
    assert_true(ldg_ingest_sealed_cost(b) >= m1.uordblks - m0.uordblks);
    assert_true(ldg_ingest_sealed_cost(b) <
                40 * L.len + (size_t)n * 4096); /* and not absurd */
    ldg_sealed_batch_free(b);
    free(L.p);
}

static void
test_ingest__sealed_cost_covers_the_parse(void **state)
{
    static const char salt[] = "\"00000000000000000000000000000000\"";
    char body[2200], salts[400];
    (void)state;
    snprintf(salts, sizeof salts,
             "{\"run\":%s,\"step\":%s,\"tool\":%s,\"status\":%s}", salt, salt,
             salt, salt);
    sealed_cost_case(3000,
                     "{\"run\":\"R-1\",\"step\":\"s\",\"tool\":\"ocr\","
                     "\"status\":\"ok\"}",
                     salts);
    snprintf(salts, sizeof salts, "{\"a\":%s,\"b\":%s}", salt, salt);
    sealed_cost_case(2000,
                     "{\"a\":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,"
                     "1,1,1,1,1,1,1],\"b\":{\"x\":1,\"y\":\"z\"}}",
                     salts);
    snprintf(body, sizeof body, "{\"a\":\"%02000d\"}", 0);
    snprintf(salts, sizeof salts, "{\"a\":%s}", salt);
    sealed_cost_case(500, body, salts);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ingest__empty_first_line_is_skipped),
        cmocka_unit_test(test_ingest__line_reader_awkward_streams),
        cmocka_unit_test(test_ingest__line_reader_skips_then_stops),
        cmocka_unit_test(test_ingest__endless_line_stops_with_an_error),
        cmocka_unit_test(test_ingest__line_corpus_holds_invariants),
        cmocka_unit_test(test_ingest__parse_time_rfc3339_and_ns),
        cmocka_unit_test(test_ingest__request_fields),
        cmocka_unit_test(test_ingest__unsealed_from_writer_held_key),
        cmocka_unit_test(test_ingest__sealed_cost_covers_the_parse),
        cmocka_unit_test(test_ingest__file_commits_whole_batches),
        cmocka_unit_test(test_ingest__file_events_wait_compact),
        cmocka_unit_test(test_ingest__file_and_pipe_refuse_alike),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
