/*
 * test_stream.c — ldg_query_stream (query/stream.c): with worker threads
 * the output is byte for byte what the plain loop (iter_next,
 * render_iter, write) prints, in order, for every format, limit and
 * query; a writer that says stop, a stop flag and a damaged body record
 * end it the way the plain loop ends, after everything before is written;
 * json's plain start (the first 256 events) hands over to the ring at any
 * limit or pause.
 */
#include "tests/query/qtest.h"

#define N_EVENTS 3000

struct fx {
    char dir[512];
    struct ldg_ledger *l;
    uint64_t erased_seq;
};

static int
setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    uint64_t clock = 1900000000000000000u;
    char body[256], eb[96];
    f->l = t_ledger_new(f->dir, sizeof f->dir, 0);
    ldg_set_clock(f->l, &clock);
    for (int i = 0; i < N_EVENTS; i++) {
        char run[16];
        snprintf(run, sizeof run, "R-%d", i % 7);
        snprintf(body, sizeof body,
                 "{\"i\":%d,\"s\":\"n\\u00e9 \\\"%d\\\"\\t\",\"big\":%lld,"
                 "\"r\":%g,\"odd\":%s}",
                 i, i % 13, (long long)INT64_MAX - i, i * 0.25,
                 i % 2 ? "true" : "false");
        clock += 100000000u; /* 10 a second */
        q_append(f->l, i % 3 ? "x.s.a" : "x.s.b", "kind:\"s\"", run, NULL,
                 body);
    }
    /* one erased body in the middle */
    snprintf(eb, sizeof eb, "{\"target_seq\":%d,\"reason\":\"t\"}",
             N_EVENTS / 2);
    f->erased_seq = N_EVENTS / 2;
    q_append(f->l, "body.erased", NULL, NULL, NULL, eb);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    ldg_close(f->l);
    t_rmrf(f->dir);
    free(f);
    return 0;
}

struct sink {
    char *p;
    size_t len, cap;
    size_t calls;
    size_t stop_after; /* return 7 on this call (0: never) */
};

static int
sink_write(void *ctx, const char *text, size_t len)
{
    struct sink *k = ctx;
    k->calls++;
    if (k->stop_after && k->calls == k->stop_after)
        return 7;
    if (k->len + len + 1 > k->cap) {
        k->cap = (k->len + len + 1) * 2;
        k->p = realloc(k->p, k->cap);
        assert_non_null(k->p);
    }
    memcpy(k->p + k->len, text, len);
    k->len += len;
    k->p[k->len] = '\0';
    return 0;
}

/* Runs one query through ldg_query_stream with `threads`, the renderer
 * limited to fields (LDG_QF_ALL: all) and given rflags; the text in *out
 * (malloc'd), the stream's return value. */
static int
stream_f(struct ldg_ledger *l, int n, const char *const *terms,
         const char *since, enum ldg_query_format fmt, unsigned threads,
         unsigned flags, uint64_t limit, size_t stop_after, uint32_t fields,
         unsigned rflags, char **out, uint64_t *count, uint64_t *last_seq)
{
    struct ldg_query *q = NULL;
    struct ldg_query_iter *it = NULL;
    struct ldg_query_render *r = NULL;
    struct ldg_query_stream_opts o;
    struct ldg_txn *t = NULL;
    struct ldg_event last;
    struct sink k;
    char err[256];
    int rc;

    memset(&k, 0, sizeof k);
    k.stop_after = stop_after;
    assert_int_equal(ldg_query_compile(&q, n, (char *const *)(uintptr_t)terms,
                                       since, NULL, err, sizeof err),
                     0);
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_query_iter_new(&it, q, t, flags), 0);
    assert_int_equal(ldg_query_render_new(&r, fmt, rflags), 0);
    assert_int_equal(ldg_query_render_set_fields(r, fields), 0);
    memset(&o, 0, sizeof o);
    o.threads = threads;
    o.limit = limit;
    o.write = sink_write;
    o.ctx = &k;
    memset(&last, 0, sizeof last);
    rc = ldg_query_stream(it, r, &o, count, &last);
    *last_seq = last.seq;
    ldg_query_render_free(r);
    ldg_query_iter_free(it);
    ldg_txn_abort(t);
    ldg_query_free(q);
    *out = k.p ? k.p : strdup("");
    return rc;
}

static int
stream(struct ldg_ledger *l, int n, const char *const *terms, const char *since,
       enum ldg_query_format fmt, unsigned threads, unsigned flags,
       uint64_t limit, size_t stop_after, char **out, uint64_t *count,
       uint64_t *last_seq)
{
    return stream_f(l, n, terms, since, fmt, threads, flags, limit,
                    stop_after, LDG_QF_ALL, LDG_RENDER_CURSOR, out, count,
                    last_seq);
}

/* Every line of got is the line of full with the keys not in fields
 * deleted: the same keys in the same order with the same values. */
static void
lines_are_filtered(const char *full, const char *got, uint32_t fields,
                   size_t want_lines)
{
    const char *a = full, *b = got;
    size_t lines = 0;
    while (*a != '\0') {
        const char *ea = strchr(a, '\n'), *eb = strchr(b, '\n');
        json_error_t je;
        json_t *ja, *jb;
        void *ia, *ib;
        assert_non_null(ea);
        if (eb == NULL)
            fail_msg("line %zu: missing", lines + 1);
        ja = json_loadb(a, (size_t)(ea - a), 0, &je);
        jb = json_loadb(b, (size_t)(eb - b), 0, &je);
        assert_non_null(ja);
        if (jb == NULL)
            fail_msg("line %zu: not JSON: %.*s", lines + 1, (int)(eb - b), b);
        ldg_query_fields_filter(ja, fields);
        if (!json_equal(ja, jb))
            fail_msg("line %zu: %.*s", lines + 1, (int)(eb - b), b);
        /* and in the same order */
        for (ia = json_object_iter(ja), ib = json_object_iter(jb);
             ia != NULL && ib != NULL; ia = json_object_iter_next(ja, ia),
            ib = json_object_iter_next(jb, ib))
            assert_string_equal(json_object_iter_key(ia),
                                json_object_iter_key(ib));
        json_decref(ja);
        json_decref(jb);
        a = ea + 1;
        b = eb + 1;
        lines++;
    }
    assert_int_equal(*b, '\0');
    assert_int_equal(lines, want_lines);
}

static void
test_stream__output_fields_are_the_full_line_less_the_others(void **state)
{
    struct fx *f = *state;
#define B(x) (UINT32_C(1) << LDG_QF_##x)
    static const uint32_t masks[] = {
        /* what bench/run.sh's peer prints */
        B(SEQ) | B(TS) | B(TYPE) | B(SUBJECT) | B(RUN) | B(ACTOR) | B(BODY),
        B(BODY),
        B(SEQ),
        B(LEAF_HASH) | B(ACTOR_NAME),
        B(MODEL_AT) | B(TYPE),
        B(RECORDED_TIME) | B(CLOCK) | B(SEAL) | B(SEAL_LEAF),
        LDG_QF_ALL & ~B(BODY),
        LDG_QF_ALL & ~B(TS) & ~B(TIME),
    };
#undef B
    char *full = NULL, *got = NULL;
    uint64_t fn = 0, fl = 0, gn = 0, gl = 0;

    /* the whole log, and a time window, without a cursor */
    for (int w = 0; w < 2; w++) {
        const char *since = w ? "@1900000100" : NULL;
        assert_int_equal(stream_f(f->l, 0, NULL, since, LDG_QFMT_JSON, 1, 0,
                                  0, 0, LDG_QF_ALL, 0, &full, &fn, &fl),
                         0);
        for (size_t m = 0; m < sizeof masks / sizeof masks[0]; m++) {
            for (unsigned th = 1; th <= 2; th++) {
                assert_int_equal(stream_f(f->l, 0, NULL, since, LDG_QFMT_JSON,
                                          th, 0, 0, 0, masks[m], 0, &got, &gn,
                                          &gl),
                                 0);
                assert_int_equal(gn, fn);
                assert_int_equal(gl, fl);
                lines_are_filtered(full, got, masks[m], (size_t)fn);
                free(got);
            }
        }
        free(full);
    }
    /* a cursor still names the event's leaf when leaf_hash is left out */
    assert_int_equal(stream_f(f->l, 0, NULL, NULL, LDG_QFMT_JSON, 2, 0, 0, 0,
                              LDG_QF_ALL, LDG_RENDER_CURSOR, &full, &fn, &fl),
                     0);
    assert_int_equal(stream_f(f->l, 0, NULL, NULL, LDG_QFMT_JSON, 2, 0, 0, 0,
                              UINT32_C(1) << LDG_QF_SEQ, LDG_RENDER_CURSOR,
                              &got, &gn, &gl),
                     0);
    {
        const char *a = full, *b = got;
        size_t k = 0;
        while ((a = strstr(a, "\"cursor\":\"")) != NULL) {
            b = strstr(b, "\"cursor\":\"");
            assert_non_null(b);
            assert_memory_equal(a, b, 30);
            a++;
            b++;
            k++;
        }
        assert_int_equal(k, fn);
    }
    free(full);
    free(got);
}

static void
test_stream__fields_parse_names_the_unknown_one(void **state)
{
    uint32_t m = 7;
    char err[512];
    (void)state;
    assert_int_equal(ldg_query_fields_parse("seq,body", &m, err, sizeof err),
                     0);
    assert_int_equal(m, (UINT32_C(1) << LDG_QF_SEQ) |
                            (UINT32_C(1) << LDG_QF_BODY));
    m = 7;
    assert_int_equal(ldg_query_fields_parse("seq,bdy", &m, err, sizeof err),
                     LDG_EBADINPUT);
    assert_non_null(strstr(err, "unknown field 'bdy'"));
    assert_non_null(strstr(err, "model_at"));
    assert_int_equal(m, 7);
    assert_int_equal(ldg_query_fields_parse("seq,,body", &m, err, sizeof err),
                     LDG_EBADINPUT);
    assert_non_null(strstr(err, "empty field name"));
    assert_int_equal(ldg_query_fields_parse("", &m, NULL, 0), LDG_EBADINPUT);
    assert_int_equal(ldg_query_fields_parse("Seq", &m, err, sizeof err),
                     LDG_EBADINPUT);
    assert_int_equal(ldg_query_fields_parse("seq,", &m, err, sizeof err),
                     LDG_EBADINPUT);
}

static void
test_stream__threads_print_what_the_plain_loop_prints(void **state)
{
    struct fx *f = *state;
    static const enum ldg_query_format fmts[] = {LDG_QFMT_JSON, LDG_QFMT_SHORT,
                                                 LDG_QFMT_CAT};
    static const struct {
        int n;
        const char *terms[2];
        const char *since;
        unsigned flags;
        uint64_t limit;
    } qs[] = {
        {0, {NULL}, NULL, 0, 0},
        {0, {NULL}, NULL, LDG_QUERY_REVERSE, 0},
        {0, {NULL}, "@1900000100", 0, 0},
        {0, {NULL}, NULL, 0, 777},
        {1, {"body.odd=true"}, NULL, 0, 0},
        {1, {"type=x.s.b"}, NULL, LDG_QUERY_REVERSE, 513},
        {1, {"run=R-3"}, NULL, 0, 0},
        {1, {"seq=1499..1502"}, NULL, 0, 0},
    };
    for (size_t fi = 0; fi < sizeof fmts / sizeof fmts[0]; fi++) {
        for (size_t qi = 0; qi < sizeof qs / sizeof qs[0]; qi++) {
            char *want = NULL, *got = NULL;
            uint64_t wn = 0, gn = 0, wl = 0, gl = 0;
            struct ldg_query *probe = NULL;
            char err[256];
            if (ldg_query_compile(&probe, qs[qi].n,
                                  (char *const *)(uintptr_t)qs[qi].terms, NULL,
                                  NULL, err, sizeof err) != 0)
                continue;
            ldg_query_free(probe);
            assert_int_equal(stream(f->l, qs[qi].n, qs[qi].terms, qs[qi].since,
                                    fmts[fi], 1, qs[qi].flags, qs[qi].limit, 0,
                                    &want, &wn, &wl),
                             0);
            /* 8: more than the stream ever starts */
            for (unsigned th = 2; th <= 8; th = th == 4 ? 8 : th + 1) {
                assert_int_equal(
                    stream(f->l, qs[qi].n, qs[qi].terms, qs[qi].since, fmts[fi],
                           th, qs[qi].flags, qs[qi].limit, 0, &got, &gn, &gl),
                    0);
                if (strcmp(got, want) != 0)
                    fail_msg("format %zu query %zu threads %u: output differs",
                             fi, qi, th);
                assert_int_equal(gn, wn);
                assert_int_equal(gl, wl);
                free(got);
            }
            if (qs[qi].limit)
                assert_int_equal(wn, qs[qi].limit);
            free(want);
        }
    }
}

static void
test_stream__writer_stop_ends_it_with_the_writers_value(void **state)
{
    struct fx *f = *state;
    for (unsigned th = 1; th <= 2; th++) {
        char *got;
        uint64_t n = 0, last = 0;
        int rc = stream(f->l, 0, NULL, NULL, LDG_QFMT_JSON, th, 0, 0, 3, &got,
                        &n, &last);
        assert_int_equal(rc, 7);
        assert_true(n < N_EVENTS);
        /* only whole lines, the first ones, in order */
        assert_true(got[0] == '\0' || got[strlen(got) - 1] == '\n');
        if (n > 0)
            assert_int_equal(last, n - 1);
        free(got);
    }
}

static void
test_stream__damaged_record_fails_after_the_events_before_it(void **state)
{
    struct fx *f = *state;
    static const uint8_t bad[] = {0x00, 0x81, 0xa1, 'x', 0x92, 0xc4, 0x10};
    uint8_t keep[4096];
    size_t keep_n = t_raw_get(f->l, "bodies", 2000, keep, sizeof keep);
    assert_true(keep_n > 0 && keep_n <= sizeof keep);
    t_raw_put(f->l, "bodies", 2000, bad, sizeof bad); /* cut short */
    for (unsigned th = 1; th <= 3; th++) {
        char *got;
        uint64_t n = 0, last = 0;
        int rc = stream(f->l, 0, NULL, NULL, LDG_QFMT_JSON, th, 0, 0, 0, &got,
                        &n, &last);
        size_t lines = 0;
        assert_int_equal(rc, LDG_ECORRUPT);
        assert_non_null(strstr(ldg_errmsg(f->l), "event 2000"));
        for (const char *p = got; *p; p++)
            lines += *p == '\n';
        assert_int_equal(n, 2000); /* seq 0..1999 */
        assert_int_equal(lines, 2000);
        assert_int_equal(last, 1999);
        free(got);
    }
    t_raw_put(f->l, "bodies", 2000, keep, keep_n);
}

static void
test_stream__erased_body_shows_as_erased_from_workers(void **state)
{
    struct fx *f = *state;
    char *got, needle[64];
    uint64_t n = 0, last = 0;
    assert_int_equal(
        stream(f->l, 0, NULL, NULL, LDG_QFMT_JSON, 4, 0, 0, 0, &got, &n, &last),
        0);
    snprintf(needle, sizeof needle, "{\"seq\":\"%llu\",",
             (unsigned long long)f->erased_seq);
    {
        const char *line = strstr(got, needle), *nl;
        assert_non_null(line);
        nl = strchr(line, '\n');
        assert_non_null(nl);
        assert_non_null(
            memmem(line, (size_t)(nl - line), "\"erased\":true", 13));
    }
    assert_int_equal(n, N_EVENTS + 2); /* genesis .. body.erased */
    free(got);
}

/* A writer that says pause on its k-th call (and takes the text). */
struct pausing {
    struct sink k;
    size_t pause_at;
};

static int
pause_write(void *ctx, const char *text, size_t len)
{
    struct pausing *p = ctx;
    int rc = sink_write(&p->k, text, len);
    return rc == 0 && p->k.calls == p->pause_at ? LDG_QUERY_WRITE_PAUSE : rc;
}

/* -o json renders its first 256 events on the caller's thread, then goes
 * on with the ring: limits around that boundary, and a pause on either
 * side of it, print what the plain loop prints and count what was taken. */
static void
test_stream__json_plain_start_then_ring_at_every_boundary(void **state)
{
    struct fx *f = *state;
    static const uint64_t limits[] = {1, 255, 256, 257, 511, 512, 513, 0};
    static const size_t pauses[] = {1, 255, 256, 257, 258};
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
        char *want = NULL, *got = NULL;
        uint64_t wn = 0, gn = 0, wl = 0, gl = 0;
        assert_int_equal(stream(f->l, 0, NULL, NULL, LDG_QFMT_JSON, 1, 0,
                                limits[i], 0, &want, &wn, &wl),
                         0);
        assert_int_equal(stream(f->l, 0, NULL, NULL, LDG_QFMT_JSON, 3, 0,
                                limits[i], 0, &got, &gn, &gl),
                         0);
        assert_string_equal(got, want);
        /* the claim digests the workers make (stream.c) are the ones
         * the plain loop's reader derives */
        assert_non_null(strstr(want, ",\"claim_digest\":\""));
        assert_int_equal(gn, wn);
        assert_int_equal(gl, wl);
        assert_int_equal(wn, limits[i] ? limits[i] : N_EVENTS + 2);
        free(want);
        free(got);
    }
    for (size_t i = 0; i < sizeof pauses / sizeof pauses[0]; i++) {
        struct ldg_query *q = NULL;
        struct ldg_query_iter *it = NULL;
        struct ldg_query_render *r = NULL;
        struct ldg_query_stream_opts o;
        struct ldg_txn *t = NULL;
        struct ldg_event last;
        struct pausing p;
        uint64_t n = 0;
        size_t lines = 0;
        char err[256];
        memset(&p, 0, sizeof p);
        p.pause_at = pauses[i];
        assert_int_equal(
            ldg_query_compile(&q, 0, NULL, NULL, NULL, err, sizeof err), 0);
        assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_READ, &t), 0);
        assert_int_equal(ldg_query_iter_new(&it, q, t, 0), 0);
        assert_int_equal(ldg_query_render_new(&r, LDG_QFMT_JSON, 0), 0);
        memset(&o, 0, sizeof o);
        o.threads = 2;
        o.write = pause_write;
        o.ctx = &p;
        memset(&last, 0, sizeof last);
        assert_int_equal(ldg_query_stream(it, r, &o, &n, &last),
                         LDG_QUERY_WRITE_PAUSE);
        for (size_t c = 0; c < p.k.len; c++)
            lines += p.k.p[c] == '\n';
        /* what was taken is counted, and ends with the last one */
        assert_int_equal(n, lines);
        assert_true(n >= pauses[i] && n < N_EVENTS);
        assert_int_equal(last.seq, n - 1);
        ldg_query_render_free(r);
        ldg_query_iter_free(it);
        ldg_txn_abort(t);
        ldg_query_free(q);
        free(p.k.p);
    }
}

/* A writer that says pause once it holds `every` more bytes. */
struct chunker {
    struct sink k;
    size_t every, mark;
};

static int
chunk_pause(void *ctx, const char *text, size_t len)
{
    struct chunker *c = ctx;
    int rc = sink_write(&c->k, text, len);
    if (rc == 0 && c->k.len - c->mark >= c->every) {
        c->mark = c->k.len;
        return LDG_QUERY_WRITE_PAUSE;
    }
    return rc;
}

/* The CLI's way: one renderer for many calls, each in a new transaction
 * going on after the last event of the one before (the ring is kept in
 * the renderer between calls). The same text as one plain loop. */
static void
test_stream__one_renderer_across_paused_calls_prints_it_all_once(void **state)
{
    struct fx *f = *state;
    char *want = NULL, err[256];
    uint64_t wn = 0, wl = 0;
    struct ldg_query *q = NULL;
    struct ldg_query_render *r = NULL;
    struct chunker c;
    uint64_t lo = 0, total = 0, calls = 0;

    assert_int_equal(
        stream(f->l, 0, NULL, NULL, LDG_QFMT_JSON, 1, 0, 0, 0, &want, &wn, &wl),
        0);
    memset(&c, 0, sizeof c);
    c.every = 150000; /* a few hundred events a call */
    assert_int_equal(
        ldg_query_compile(&q, 0, NULL, NULL, NULL, err, sizeof err), 0);
    assert_int_equal(ldg_query_render_new(&r, LDG_QFMT_JSON, LDG_RENDER_CURSOR),
                     0);
    for (;;) {
        struct ldg_txn *t = NULL;
        struct ldg_query_iter *it = NULL;
        struct ldg_query_stream_opts o;
        struct ldg_event last;
        uint64_t n = 0;
        int rc;
        assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_READ, &t), 0);
        ldg_query_restrict(q, lo, N_EVENTS + 1);
        assert_int_equal(ldg_query_iter_new(&it, q, t, 0), 0);
        memset(&o, 0, sizeof o);
        o.threads = 3;
        o.write = chunk_pause;
        o.ctx = &c;
        memset(&last, 0, sizeof last);
        rc = ldg_query_stream(it, r, &o, &n, &last);
        ldg_query_iter_free(it);
        ldg_txn_abort(t);
        calls++;
        total += n;
        if (rc == 0)
            break;
        assert_int_equal(rc, LDG_QUERY_WRITE_PAUSE);
        assert_true(n > 0);
        lo = last.seq + 1;
    }
    assert_true(calls > 3);
    assert_int_equal(total, wn);
    assert_string_equal(c.k.p, want);
    ldg_query_render_free(r);
    ldg_query_free(q);
    free(c.k.p);
    free(want);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream__threads_print_what_the_plain_loop_prints),
        cmocka_unit_test(
            test_stream__output_fields_are_the_full_line_less_the_others),
        cmocka_unit_test(test_stream__fields_parse_names_the_unknown_one),
        cmocka_unit_test(
            test_stream__writer_stop_ends_it_with_the_writers_value),
        cmocka_unit_test(
            test_stream__damaged_record_fails_after_the_events_before_it),
        cmocka_unit_test(test_stream__erased_body_shows_as_erased_from_workers),
        cmocka_unit_test(
            test_stream__json_plain_start_then_ring_at_every_boundary),
        cmocka_unit_test(
            test_stream__one_renderer_across_paused_calls_prints_it_all_once),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
