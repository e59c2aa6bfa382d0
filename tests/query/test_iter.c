/*
 * test_iter.c — the planner and streaming iterator (query/iter.c): every
 * matching rule on the pdf-ops example, the plan each query gets, time
 * windows, reverse order, restriction, erased bodies, cursors, and a model
 * test: random queries over a random seeded log against a brute-force
 * filter written independently of query/.
 */
#include <fnmatch.h>

#include "tests/query/qtest.h"

#include "ledger/index_int.h"
#include "query/query_int.h"

#define MAXR 4096

struct fx {
    char dir[512];
    struct ldg_ledger *l;
};

static int
setup_pdf(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    f->l = t_ledger_new(f->dir, sizeof f->dir, 0);
    q_load_pdf_ops(f->l);
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

/* Runs terms and checks the exact result (expected ends with -1). */
static void
expect(struct ldg_ledger *l, int n, const char *const *terms, unsigned flags,
       const int *want)
{
    uint64_t got[MAXR];
    char err[512] = "";
    int k = q_collect(l, n, terms, NULL, NULL, flags, got, MAXR, err,
                      sizeof err),
        nw = 0;
    if (k < 0)
        fail_msg("query failed: %d %s %s", k, err, ldg_errmsg(l));
    while (want[nw] >= 0)
        nw++;
    for (int i = 0; i < k || i < nw; i++) {
        if (i >= k || i >= nw || got[i] != (uint64_t)want[i]) {
            char line[2048] = "";
            size_t at = 0;
            for (int j = 0; j < k && at < sizeof line - 24; j++)
                at += (size_t)snprintf(line + at, sizeof line - at, "%llu ",
                                       (unsigned long long)got[j]);
            fail_msg("query '%s'...: got %d results [%s], want %d", terms[0], k,
                     line, nw);
        }
    }
}

#define EXPECT(l, flags, want, ...)                                            \
    expect(l, NTERMS(__VA_ARGS__), TERMS(__VA_ARGS__), flags, (const int[])want)
#define L(...)                                                                 \
    {                                                                          \
        __VA_ARGS__, -1                                                        \
    }

static void
test_iter__run_uses_run_index_and_examines_only_matches(void **state)
{
    struct fx *f = *state;
    struct ldg_query *q;
    struct ldg_query_iter *it;
    struct ldg_query_stats st;
    struct ldg_txn *t;
    struct ldg_event ev;
    char err[256];
    const char *terms[] = {"run=R-0001"};

    EXPECT(f->l, 0, L(23, 24, 25, 26, 27, 29, 30, 31), "run=R-0001");
    assert_int_equal(ldg_query_compile(&q, 1, (char *const *)(uintptr_t)terms,
                                       NULL, NULL, err, sizeof err),
                     0);
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_query_iter_new(&it, q, t, 0), 0);
    while (ldg_query_iter_next(it, &ev) == 0)
        ;
    ldg_query_iter_stats(it, &st);
    assert_string_equal(st.plan, "ix.run");
    assert_int_equal(st.examined, 8);
    assert_int_equal(st.matched, 8);
    ldg_query_iter_free(it);
    ldg_txn_abort(t);
    ldg_query_free(q);
}

static void
test_iter__type_glob_and_or_of_same_field(void **state)
{
    struct fx *f = *state;
    EXPECT(f->l, 0, L(18, 19, 26, 29), "type=route.*");
    EXPECT(f->l, 0, L(10, 11, 12, 13, 14, 15, 16, 17, 31), "type=permission.*",
           "type=run.finished");
    EXPECT(f->l, 0, L(6, 7, 28), "type=model.state");
    EXPECT(f->l, 0, L(6, 7, 28), "type=m?del.st[a]te");
    {
        /* a glob with no literal prefix walks the index from its first
         * value (it failed as "stored data is corrupt": an empty key) */
        const char *terms[] = {"type=*"};
        uint64_t got[64];
        char err[256] = "";
        int k =
            q_collect(f->l, 1, terms, NULL, NULL, 0, got, 64, err, sizeof err);
        assert_int_equal(k, 32);
        for (int i = 0; i < k; i++)
            assert_int_equal(got[i], (uint64_t)i);
    }
}

static void
test_iter__different_fields_and(void **state)
{
    struct fx *f = *state;
    EXPECT(f->l, 0, L(23, 24, 25, 27, 30, 31), "type=run.*", "run=R-0001");
    EXPECT(f->l, 0, L(25, 30), "type=run.step", "body.status=ok");
    EXPECT(f->l, 0, L(-1), "type=run.step", "run=R-9999");
}

static void
test_iter__plus_starts_an_or_group(void **state)
{
    struct fx *f = *state;
    EXPECT(f->l, 0, L(25, 27, 30, 31), "body.status=ok", "+", "type=run.policy",
           "body.decision=deny");
    EXPECT(f->l, 0, L(1, 31), "seq=1", "+", "type=run.finished");
}

static void
test_iter__subject_exact_and_glob(void **state)
{
    struct fx *f = *state;
    EXPECT(f->l, 0, L(20, 21, 26, 29), "subject=route:pdf-ops/extract");
    EXPECT(f->l, 0, L(4, 5, 6, 7, 28), "subject=model:*");
}

static void
test_iter__pack_model_route_match_subject_or_body(void **state)
{
    struct fx *f = *state;
    /* subject pack:pdf-ops, plus run.started whose body.pack says so */
    EXPECT(f->l, 0, L(8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 22, 23),
           "pack=pdf-ops");
    /* subject model:llama..., plus the decision that chose it */
    EXPECT(f->l, 0, L(5, 7, 29), "model=llama3.2-3b-instruct@q8_0");
    /* subject route:pdf-ops/extract, plus route.declared's body.route */
    EXPECT(f->l, 0, L(18, 20, 21, 26, 29), "route=pdf-ops/extract");
    EXPECT(f->l, 0, L(-1), "pack=nope");
}

/* issue 29: the README's model='qwen2.5*' found nothing (the value was
 * compared exactly). A glob matches the subject's name and the body
 * fields alike, through the subject index and the bodies scan. */
static void
test_iter__pack_model_route_globs(void **state)
{
    struct fx *f = *state;
    EXPECT(f->l, 0, L(4, 6, 18, 19, 26, 28), "model=qwen2.5*");
    EXPECT(f->l, 0, L(6, 28), "type=model.state", "model=qwen2.5*");
    EXPECT(f->l, 0, L(5, 7, 29), "model=llama3.?-3b-instruct@q[0-9]_0");
    EXPECT(f->l, 0, L(-1), "model=nope*");
    /* 19 declares pdf-ops/summarize */
    EXPECT(f->l, 0, L(18, 19, 20, 21, 26, 29), "route=pdf-ops/*");
    EXPECT(f->l, 0, L(8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 22, 23),
           "pack=pdf-*");
    /* negated: the complement, as for an exact value */
    EXPECT(f->l, 0, L(29), "type=route.decision", "model!=qwen*");
    /* a body term still compares exactly */
    EXPECT(f->l, 0, L(-1), "body.model=qwen2.5*");
}

static void
test_iter__seq_single_and_ranges(void **state)
{
    struct fx *f = *state;
    EXPECT(f->l, 0, L(5), "seq=5");
    EXPECT(f->l, 0, L(5, 6, 7), "seq=5..7");
    EXPECT(f->l, 0, L(30, 31), "seq=30..");
    EXPECT(f->l, 0, L(0, 1, 2), "seq=..2");
    EXPECT(f->l, 0, L(0, 1, 2, 10, 11, 30, 31), "seq=..2", "seq=30..",
           "seq=10..11");
    EXPECT(f->l, 0, L(-1), "seq=500");
}

static void
test_iter__body_fields_strings_numbers_bools_arrays_paths(void **state)
{
    struct fx *f = *state;
    EXPECT(f->l, 0, L(25, 30, 31), "body.status=ok");
    EXPECT(f->l, 0, L(26), "body.latency_ms=910");
    EXPECT(f->l, 0, L(26), "body.latency_ms=910.0");
    EXPECT(f->l, 0, L(29), "body.fallback=true");
    EXPECT(f->l, 0, L(9, 22), "body.ok=true");
    EXPECT(f->l, 0, L(26, 29), "body.candidates=llama3.2-3b-instruct@q8_0");
    EXPECT(f->l, 0, L(21), "body.metrics.pass_rate=0.95");
    EXPECT(f->l, 0, L(5), "body.size_bytes=3421898016");
    EXPECT(f->l, 0, L(-1), "body.status=OK");
    EXPECT(f->l, 0, L(-1), "body.nosuchfield=1");
}

/* body.a.b names first a top-level field "a.b", then the path a -> b
 * (QUERY.md); the byte prefilter let through only bodies holding "a",
 * so a body of field "a.b" alone was missed (a bundle's query found it). */
static void
test_iter__dotted_name_is_a_field_or_a_path(void **state)
{
    char dir[256];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    (void)state;
    t_append(l, "x.t.other", "{\"a.b\":\"x\",\"n\":1}", NULL);
    t_append(l, "x.t.other", "{\"a\":{\"b\":\"x\"}}", NULL);
    t_append(l, "x.t.other", "{\"a.b\":\"y\"}", NULL);
    EXPECT(l, 0, L(1, 2), "body.a.b=x");
    EXPECT(l, 0, L(3), "body.a.b=y");
    EXPECT(l, 0, L(1, 2), "body.a.b!=y");
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_iter__reverse_gives_the_same_set_backwards(void **state)
{
    struct fx *f = *state;
    EXPECT(f->l, LDG_QUERY_REVERSE, L(31, 30, 29, 27, 26, 25, 24, 23),
           "run=R-0001");
    EXPECT(f->l, LDG_QUERY_REVERSE, L(31, 30, 27, 25), "body.status=ok", "+",
           "body.decision=deny");
    EXPECT(f->l, LDG_QUERY_REVERSE, L(29, 26, 19, 18), "type=route.*");
    EXPECT(f->l, LDG_QUERY_REVERSE, L(31, 30), "seq=30..");
}

static void
test_iter__no_terms_is_every_event(void **state)
{
    struct fx *f = *state;
    uint64_t got[64];
    char err[64];
    int k = q_collect(f->l, 0, NULL, NULL, NULL, 0, got, 64, err, sizeof err);
    assert_int_equal(k, 32);
    for (int i = 0; i < k; i++)
        assert_int_equal(got[i], (uint64_t)i);
}

static void
test_iter__restrict_bounds_the_seq_window(void **state)
{
    struct fx *f = *state;
    const char *terms[] = {"run=R-0001"};
    struct ldg_query *q;
    struct ldg_query_iter *it;
    struct ldg_txn *t;
    struct ldg_event ev;
    uint64_t want[] = {25, 26, 27, 29}, n = 0;
    char err[64];

    assert_int_equal(ldg_query_compile(&q, 1, (char *const *)(uintptr_t)terms,
                                       NULL, NULL, err, sizeof err),
                     0);
    ldg_query_restrict(q, 25, 29);
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_query_iter_new(&it, q, t, LDG_QUERY_REVERSE), 0);
    while (ldg_query_iter_next(it, &ev) == 0) {
        assert_true(n < 4);
        assert_int_equal(ev.seq, want[3 - n]);
        n++;
    }
    assert_int_equal(n, 4);
    ldg_query_iter_free(it);
    ldg_txn_abort(t);
    ldg_query_free(q);
}

/* Read in windows (issue 63): an iterator with a window of 3 events
 * stops with LDG_QUERY_WINDOW_END and its position, and iterators begun
 * after it in new transactions, restricted from there, give the same
 * matches as one pass: none missed, none twice, forward and reverse,
 * for a sparse match (windows with no match) and every event. */
static void
windows_match_one_pass(struct ldg_ledger *l, const char *term, unsigned flags)
{
    const char *terms[] = {term};
    struct ldg_query *q;
    struct ldg_query_iter *it;
    struct ldg_txn *t;
    struct ldg_event ev;
    uint64_t one[MAXR], win[MAXR], pos = 0, lo = 0, hi = UINT64_MAX;
    size_t n1 = 0, nw = 0, windows = 0;
    char err[64];
    int rc;

    assert_int_equal(ldg_query_compile(&q, 1, (char *const *)(uintptr_t)terms,
                                       NULL, NULL, err, sizeof err),
                     0);
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_query_iter_new(&it, q, t, flags), 0);
    while (ldg_query_iter_next(it, &ev) == 0)
        one[n1++] = ev.seq;
    ldg_query_iter_free(it);
    ldg_txn_abort(t);
    for (;;) {
        ldg_query_restrict(q, lo, hi);
        assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
        assert_int_equal(ldg_query_iter_new(&it, q, t, flags), 0);
        ldg_query_iter_window(it, 3, 0);
        while ((rc = ldg_query_iter_next(it, &ev)) == 0)
            win[nw++] = ev.seq;
        windows++;
        if (rc != LDG_QUERY_WINDOW_END) {
            assert_int_equal(rc, LDG_ENOTFOUND);
            ldg_query_iter_free(it);
            ldg_txn_abort(t);
            break;
        }
        assert_int_equal(ldg_query_iter_position(it, &pos), 1);
        ldg_query_iter_free(it);
        ldg_txn_abort(t);
        if (flags & LDG_QUERY_REVERSE)
            hi = pos - 1;
        else
            lo = pos + 1;
    }
    /* (an index that answers with matches only, fewer than a window,
     * is read in one) */
    if (windows <= 2 && n1 > 3)
        fail_msg("%s: %zu windows for %zu matches", term, windows, n1);
    assert_int_equal(nw, n1);
    for (size_t i = 0; i < n1; i++)
        assert_int_equal(win[i], one[i]);
    ldg_query_free(q);
}

static void
test_iter__windows_resume_without_gap_or_repeat(void **state)
{
    struct fx *f = *state;
    windows_match_one_pass(f->l, "run=R-0001", 0);
    windows_match_one_pass(f->l, "type!=run.*", 0);
    windows_match_one_pass(f->l, "type!=run.*", LDG_QUERY_REVERSE);
    windows_match_one_pass(f->l, "body.status=ok", 0);
    windows_match_one_pass(f->l, "seq=0..", 0);
    windows_match_one_pass(f->l, "seq=0..", LDG_QUERY_REVERSE);
}

/* A long forward bodies scan has its second half prefiltered by a
 * thread (iter.c, struct prescan): with the threshold lowered to every
 * scan, and the prescan's room for candidates cut so that it stops early
 * and the source scans on, body terms find what they found. */
static void
test_iter__body_scans_with_a_prescan_find_the_same(void **state)
{
    static const size_t caps[] = {(size_t)1 << 20, 1};
    for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
        q_iter_prescan_cap = caps[c];
        for (uint64_t min = 0; min <= 3; min++) {
            q_iter_prescan_min = min;
            test_iter__different_fields_and(state);
            test_iter__plus_starts_an_or_group(state);
            test_iter__pack_model_route_match_subject_or_body(state);
            test_iter__body_fields_strings_numbers_bools_arrays_paths(state);
            test_iter__reverse_gives_the_same_set_backwards(state);
            test_iter__restrict_bounds_the_seq_window(state);
        }
    }
    q_iter_prescan_min = 131072;
    q_iter_prescan_cap = (size_t)1 << 20;
}

static void
plan_of(struct ldg_ledger *l, int n, const char *const *terms,
        const char *want_plan)
{
    struct ldg_query *q;
    struct ldg_query_iter *it;
    struct ldg_query_stats st;
    struct ldg_txn *t;
    char err[256];
    assert_int_equal(ldg_query_compile(&q, n, (char *const *)(uintptr_t)terms,
                                       NULL, NULL, err, sizeof err),
                     0);
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_query_iter_new(&it, q, t, 0), 0);
    ldg_query_iter_stats(it, &st);
    if (strcmp(st.plan, want_plan) != 0)
        fail_msg("%s: plan '%s', want '%s'", terms[0], st.plan, want_plan);
    ldg_query_iter_free(it);
    ldg_txn_abort(t);
    ldg_query_free(q);
}

#define PLAN(l, want, ...)                                                     \
    plan_of(l, NTERMS(__VA_ARGS__), TERMS(__VA_ARGS__), want)

static void
test_iter__planner_prefers_run_subject_type_actor_body(void **state)
{
    struct fx *f = *state;
    PLAN(f->l, "ix.run", "type=run.step", "run=R-0001", "body.status=ok");
    PLAN(f->l, "ix.subject", "type=route.decision",
         "subject=route:pdf-ops/extract");
    PLAN(f->l, "ix.type", "type=route.*", "body.fallback=true");
    PLAN(f->l, "ix.actor", "actor=log", "body.status=ok");
    PLAN(f->l, "ix.body", "body.status=ok");
    PLAN(f->l, "bodies+prefilter", "body.status=200"); /* may be a number */
    PLAN(f->l, "bodies+prefilter", "body.tool=ocr");   /* not indexed */
    PLAN(f->l, "ix.subject+bodies+prefilter", "pack=pdf-ops");
    PLAN(f->l, "entries(range)", "seq=3..9");
    PLAN(f->l, "entries", "run=");
    PLAN(f->l, "ix.run | ix.type", "run=R-0001", "+", "type=pack.*");
}

static void
test_iter__body_prefilter_skips_records_without_the_bytes(void **state)
{
    struct fx *f = *state;
    const char *terms[] = {"body.latency_ms=910"};
    struct ldg_query *q;
    struct ldg_query_iter *it;
    struct ldg_query_stats st;
    struct ldg_txn *t;
    struct ldg_event ev;
    struct ldg_val v;
    ldg_dbi bodies;
    uint64_t compressed = 0;
    char err[64];
    assert_int_equal(ldg_query_compile(&q, 1, (char *const *)(uintptr_t)terms,
                                       NULL, NULL, err, sizeof err),
                     0);
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_READ, &t), 0);
    /* records stored as zstd frames are prefiltered once inflated */
    assert_int_equal(ldg_db_open(t, "bodies", 0, &bodies), 0);
    for (uint64_t s = 0; s < 32; s++) {
        uint8_t k[8];
        for (int i = 0; i < 8; i++)
            k[i] = (uint8_t)(s >> (56 - 8 * i));
        if (ldg_kv_get(t, bodies, k, 8, &v) == 0 &&
            ((const uint8_t *)v.data)[0] != 0 &&
            ((const uint8_t *)v.data)[0] != 2)
            compressed++;
    }
    (void)compressed; /* some or none: each is looked into the same way */
    assert_int_equal(ldg_query_iter_new(&it, q, t, 0), 0);
    assert_int_equal(ldg_query_iter_next(it, &ev), 0);
    assert_int_equal(ev.seq, 26);
    assert_int_equal(ldg_query_iter_next(it, &ev), LDG_ENOTFOUND);
    ldg_query_iter_stats(it, &st);
    /* of 32 bodies only the one holding both the name and 910 was
     * decoded, compressed or not */
    assert_int_equal(st.examined, 1);
    ldg_query_iter_free(it);
    ldg_txn_abort(t);
    ldg_query_free(q);
}

static void
test_iter__actor_by_name_or_id_and_unknown_is_an_error(void **state)
{
    struct fx *f = *state;
    struct ldg_keyinfo *keys;
    size_t nk;
    uint64_t seq, got[64];
    char err[256], idterm[64];
    const char *t1[] = {"actor=foundry"}, *t2[1], *t3[] = {"actor=nobody"};
    int k;

    assert_int_equal(ldg_keys_add(f->l, "foundry", NULL, &seq), 0);
    seq = q_append(f->l, "x.test.signed", NULL, NULL, "foundry", "{\"a\":1}");
    k = q_collect(f->l, 1, t1, NULL, NULL, 0, got, 64, err, sizeof err);
    assert_int_equal(k, 1);
    assert_int_equal(got[0], seq);
    assert_int_equal(ldg_keys_list(f->l, &keys, &nk), 0);
    for (size_t i = 0; i < nk; i++)
        if (strcmp(keys[i].name, "foundry") == 0)
            snprintf(idterm, sizeof idterm, "actor=%s", keys[i].key_id);
    free(keys);
    t2[0] = idterm;
    k = q_collect(f->l, 1, t2, NULL, NULL, 0, got, 64, err, sizeof err);
    assert_int_equal(k, 1);
    assert_int_equal(got[0], seq);
    k = q_collect(f->l, 1, t3, NULL, NULL, 0, got, 64, err, sizeof err);
    assert_int_equal(k, LDG_EBADINPUT);
    assert_non_null(strstr(ldg_errmsg(f->l), "nobody"));
}

static void
test_iter__erased_body_fails_body_terms_but_keeps_envelope(void **state)
{
    struct fx *f = *state;
    char body[128];
    snprintf(body, sizeof body, "{\"target_seq\":25,\"reason\":\"gdpr\"}");
    q_append(f->l, "body.erased", NULL, NULL, NULL, body);
    EXPECT(f->l, 0, L(30, 31), "body.status=ok");
    EXPECT(f->l, 0, L(23, 24, 25, 26, 27, 29, 30, 31), "run=R-0001");
    EXPECT(f->l, 0, L(25), "run=R-0001", "type=run.step", "seq=20..26");
}

/* body.NAME!=VALUE: events that have the field with another value; the
 * same field's != terms AND; envelope != is the complement. */
static void
test_iter__negation(void **state)
{
    struct fx *f = *state;
    uint64_t all[64], pos[64], neg[64];
    char err[256];
    int na, np, nn;
    const char *t_all[] = {"type=x.t"};
    const char *t_ok[] = {"type=x.t", "body.status=ok"};
    const char *t_not[] = {"type=x.t", "body.status!=ok"};
    q_append(f->l, "x.t", "kind:a", NULL, NULL, "{\"status\":\"ok\"}");
    q_append(f->l, "x.t", "kind:a", NULL, NULL, "{\"status\":\"failed\"}");
    q_append(f->l, "x.t", "kind:a", NULL, NULL, "{\"status\":\"skipped\"}");
    q_append(f->l, "x.t", "kind:a", NULL, NULL, "{\"status\":[\"ok\",\"x\"]}");
    q_append(f->l, "x.t", "kind:a", NULL, NULL, "{\"other\":1}");
    na = q_collect(f->l, 1, t_all, NULL, NULL, 0, all, 64, err, sizeof err);
    np = q_collect(f->l, 2, t_ok, NULL, NULL, 0, pos, 64, err, sizeof err);
    nn = q_collect(f->l, 2, t_not, NULL, NULL, 0, neg, 64, err, sizeof err);
    assert_int_equal(na, 5);
    assert_int_equal(np, 2); /* "ok" and the array holding "ok" */
    assert_int_equal(nn, 2); /* failed, skipped: not the one without it */
    for (int i = 0; i < np; i++)
        for (int j = 0; j < nn; j++)
            assert_true(pos[i] != neg[j]);
    {
        const char *t[] = {"type!=x.t"};
        uint64_t every[64];
        int ne =
            q_collect(f->l, 0, NULL, NULL, NULL, 0, every, 64, err, sizeof err);
        int nt =
            q_collect(f->l, 1, t, NULL, NULL, 0, all + 32, 32, err, sizeof err);
        assert_int_equal(nt, ne - na);
    }
    {
        /* two != of one field: neither value */
        const char *t[] = {"type=x.t", "body.status!=ok",
                           "body.status!=failed"};
        const char *tf[] = {"type=x.t", "body.status=failed"};
        uint64_t x[64];
        int n2 = q_collect(f->l, 3, t, NULL, NULL, 0, x, 64, err, sizeof err);
        int nf = q_collect(f->l, 2, tf, NULL, NULL, 0, x, 64, err, sizeof err);
        assert_int_equal(n2, nn - nf);
    }
    {
        /* a field no event has: != matches nothing, = matches nothing */
        const char *t[] = {"body.no_such_field!=x"};
        uint64_t x[4];
        assert_int_equal(
            q_collect(f->l, 1, t, NULL, NULL, 0, x, 4, err, sizeof err), 0);
    }
}

/* Repeated -g OR, as git log --grep does. */
static void
test_iter__grep_patterns_or(void **state)
{
    struct fx *f = *state;
    struct ldg_query *q;
    struct ldg_query_iter *it;
    struct ldg_txn *t;
    struct ldg_event ev;
    char err[256];
    int n = 0;
    assert_int_equal(
        ldg_query_compile(&q, 0, NULL, NULL, NULL, err, sizeof err), 0);
    assert_int_equal(ldg_query_set_grep(q, "deny", err, sizeof err), 0);
    assert_int_equal(
        ldg_query_set_grep(q, "\"fallback\":true", err, sizeof err), 0);
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_query_iter_new(&it, q, t, 0), 0);
    while (ldg_query_iter_next(it, &ev) == 0)
        n++;
    assert_int_equal(n, 2); /* 27 and 29: one each, not the last only */
    ldg_query_iter_free(it);
    ldg_txn_abort(t);
    ldg_query_free(q);
}

static void
test_iter__grep_smart_case_over_the_event_text(void **state)
{
    struct fx *f = *state;
    struct ldg_query *q;
    struct ldg_query_iter *it;
    struct ldg_txn *t;
    struct ldg_event ev;
    char err[256];
    const struct {
        const char *re;
        int n;
    } cases[] = {{"deny", 1},              /* 27: decision=deny */
                 {"DENY", 0},              /* uppercase: case-sensitive */
                 {"\"fallback\":true", 1}, /* 29 */
                 {"primary (offline|available)", 2},
                 {"^run\\.step run:R-0001", 2},
                 {"actor=log", 32}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int n = 0;
        assert_int_equal(
            ldg_query_compile(&q, 0, NULL, NULL, NULL, err, sizeof err), 0);
        assert_int_equal(ldg_query_set_grep(q, cases[i].re, err, sizeof err),
                         0);
        assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_READ, &t), 0);
        assert_int_equal(ldg_query_iter_new(&it, q, t, 0), 0);
        while (ldg_query_iter_next(it, &ev) == 0)
            n++;
        if (n != cases[i].n)
            fail_msg("grep '%s': %d matches, want %d", cases[i].re, n,
                     cases[i].n);
        ldg_query_iter_free(it);
        ldg_txn_abort(t);
        ldg_query_free(q);
    }
    assert_int_equal(
        ldg_query_compile(&q, 0, NULL, NULL, NULL, err, sizeof err), 0);
    assert_int_equal(ldg_query_set_grep(q, "(unclosed", err, sizeof err),
                     LDG_EBADINPUT);
    assert_non_null(strstr(err, "(unclosed"));
    ldg_query_free(q);
}

static void
test_iter__cursor_round_trip_and_mismatch(void **state)
{
    struct fx *f = *state;
    struct ldg_txn *t;
    struct ldg_event ev;
    char cur[LDG_QUERY_CURSOR_MAX], bad[LDG_QUERY_CURSOR_MAX], err[512];
    uint64_t seq = 0;

    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_event_get(t, 26, &ev), 0);
    ldg_query_cursor(&ev, cur);
    assert_int_equal(strncmp(cur, "26:", 3), 0);
    assert_int_equal(strlen(cur), 3 + 16);
    assert_int_equal(ldg_query_cursor_check(t, cur, &seq, err, sizeof err), 0);
    assert_int_equal(seq, 26);
    /* same seq, another hash: the log changed */
    snprintf(bad, sizeof bad, "%s", cur);
    bad[3] = bad[3] == '0' ? '1' : '0';
    assert_int_equal(ldg_query_cursor_check(t, bad, &seq, err, sizeof err),
                     LDG_EBADINPUT);
    assert_non_null(strstr(err, "the log changed"));
    assert_int_equal(ldg_query_cursor_check(t, "9999:0123456789abcdef", &seq,
                                            err, sizeof err),
                     LDG_ENOTFOUND);
    /* not a cursor's text at all: a usage error (exit 64) */
    assert_int_equal(ldg_query_cursor_check(t, "26", &seq, err, sizeof err),
                     LDG_EINVAL);
    assert_non_null(strstr(err, "malformed"));
    assert_int_equal(
        ldg_query_cursor_check(t, "x:0123456789abcdef", &seq, err, sizeof err),
        LDG_EINVAL);
    ldg_txn_abort(t);
}

static void
test_iter__body_decoded_while_matching_is_handed_out(void **state)
{
    struct fx *f = *state;
    const char *t1[] = {"body.latency_ms=910"}, *t2[] = {"run=R-0001"};
    struct ldg_query *q;
    struct ldg_query_iter *it;
    struct ldg_txn *t;
    struct ldg_event ev;
    const json_t *body = NULL;
    char err[64];

    assert_int_equal(ldg_query_compile(&q, 1, (char *const *)(uintptr_t)t1,
                                       NULL, NULL, err, sizeof err),
                     0);
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_query_iter_new(&it, q, t, 0), 0);
    assert_int_equal(ldg_query_iter_next(it, &ev), 0);
    assert_int_equal(ldg_query_iter_body(it, &body), 1);
    assert_non_null(body);
    assert_int_equal(json_integer_value(json_object_get(body, "latency_ms")),
                     910);
    ldg_query_iter_free(it);
    ldg_query_free(q);
    /* envelope-only queries never decode bodies */
    assert_int_equal(ldg_query_compile(&q, 1, (char *const *)(uintptr_t)t2,
                                       NULL, NULL, err, sizeof err),
                     0);
    assert_int_equal(ldg_query_iter_new(&it, q, t, 0), 0);
    assert_int_equal(ldg_query_iter_next(it, &ev), 0);
    assert_int_equal(ldg_query_iter_body(it, &body), 0);
    assert_null(body);
    ldg_query_iter_free(it);
    ldg_query_free(q);
    ldg_txn_abort(t);
}

/* ------------------------------------------------------------ time -- */

static void
test_iter__since_until_become_a_seq_window(void **state)
{
    char dir[512], s1[64], s2[64];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_txn *t;
    struct ldg_event ev;
    uint64_t clock, base, got[64];
    char err[512];
    int k;
    (void)state;

    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_event_get(t, 0, &ev), 0);
    ldg_txn_abort(t);
    base = (ev.ts_ns / 1000000000u + 10) * 1000000000u; /* whole second */
    ldg_set_clock(l, &clock);
    for (int i = 1; i <= 10; i++) { /* event i at base + i seconds */
        clock = base + (uint64_t)i * 1000000000u;
        q_append(l, "x.t", NULL, NULL, NULL, "{}");
    }
    snprintf(s1, sizeof s1, "@%llu",
             (unsigned long long)(base / 1000000000u + 3));
    snprintf(s2, sizeof s2, "@%llu",
             (unsigned long long)(base / 1000000000u + 6));
    k = q_collect(l, 0, NULL, s1, s2, 0, got, 64, err, sizeof err);
    assert_int_equal(k, 4); /* 3,4,5,6: both ends inclusive */
    assert_int_equal(got[0], 3);
    assert_int_equal(got[3], 6);
    k = q_collect(l, 0, NULL, s1, s2, LDG_QUERY_REVERSE, got, 64, err,
                  sizeof err);
    assert_int_equal(k, 4);
    assert_int_equal(got[0], 6);
    k = q_collect(l, 0, NULL, s2, NULL, 0, got, 64, err, sizeof err);
    assert_int_equal(k, 5); /* 6..10 */
    k = q_collect(l, 0, NULL, NULL, s1, 0, got, 64, err, sizeof err);
    assert_int_equal(k, 4); /* 0..3 */
    snprintf(s1, sizeof s1, "@%llu.5",
             (unsigned long long)(base / 1000000000u + 3));
    k = q_collect(l, 0, NULL, s1, s2, 0, got, 64, err, sizeof err);
    assert_int_equal(k, 3); /* 4,5,6 */
    snprintf(s1, sizeof s1, "@%llu",
             (unsigned long long)(base / 1000000000u + 99));
    k = q_collect(l, 0, NULL, s1, NULL, 0, got, 64, err, sizeof err);
    assert_int_equal(k, 0);
    k = q_collect(l, 0, NULL, "@1", "@2", 0, got, 64, err, sizeof err);
    assert_int_equal(k, 0);
    ldg_close(l);
    t_rmrf(dir);
}

/* ------------------------------------------------------- model test -- */

static const char *const m_types[] = {"x.a.one", "x.a.two", "x.b.one", "x.c"};
static const char *const m_subjects[] = {"kind:a",  "kind:b",   "pack:p1",
                                         "pack:p2", "model:m1", "route:r1",
                                         "route:r2"};
static const char *const m_runs[] = {NULL, "R1", "R2", "R3"};
static const char *const m_actors[] = {NULL, "alice", "bob"};
static const char *const m_status[] = {"ok", "failed", "skipped"};
static const char *const m_names[] = {"p1", "p2", "m1", "r1", "r2"};

static unsigned long long rng_state;

static unsigned
rnd(unsigned n)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (unsigned)((rng_state >> 33) % n);
}

static json_t *
random_body(void)
{
    json_t *b = json_object();
    if (rnd(4))
        json_object_set_new(b, "status", json_string(m_status[rnd(3)]));
    if (rnd(2))
        json_object_set_new(b, "n", json_integer(rnd(6)));
    if (rnd(3) == 0)
        json_object_set_new(b, "f", json_boolean(rnd(2)));
    if (rnd(3) == 0)
        json_object_set_new(b, "pack", json_string(m_names[rnd(2)]));
    if (rnd(4) == 0)
        json_object_set_new(b, rnd(2) ? "model" : "chosen_model",
                            json_string("m1"));
    if (rnd(4) == 0)
        json_object_set_new(b, "route", json_string(m_names[3 + rnd(2)]));
    if (rnd(3) == 0) {
        json_t *a = json_array();
        for (unsigned i = rnd(4); i > 0; i--)
            json_array_append_new(a, json_string(m_status[rnd(3)]));
        json_object_set_new(b, "tags", a);
    }
    if (rnd(4) == 0)
        json_object_set_new(b, "m", json_pack("{s:i}", "k", (int)rnd(3)));
    if (rnd(10) == 0) { /* big enough to be stored compressed */
        char pad[1200];
        memset(pad, 'z', sizeof pad - 1);
        pad[sizeof pad - 1] = '\0';
        json_object_set_new(b, "pad", json_string(pad));
    }
    return b;
}

struct mterm {
    char text[96];
};

/* A random term over the model's value pools. */
static void
random_term(char *out, size_t cap, char ids[3][LDG_KEYID_LEN + 1],
            uint64_t size)
{
    static const char *const type_pats[] = {
        "x.a.one", "x.c", "x.a.*", "x.*.one", "x.[ab].t*", "key.added"};
    static const char *const subj_pats[] = {"kind:a", "pack:p2", "pack:*",
                                            "route:r?", "model:m1"};
    switch (rnd(12)) {
    case 0:
        snprintf(out, cap, "type=%s", type_pats[rnd(6)]);
        break;
    case 1:
        snprintf(out, cap, "subject=%s", subj_pats[rnd(5)]);
        break;
    case 2: {
        const char *r = m_runs[rnd(4)];
        snprintf(out, cap, "run=%s", r ? r : "");
        break;
    }
    case 3:
        if (rnd(2))
            snprintf(out, cap, "actor=%s", rnd(2) ? "alice" : "log");
        else
            snprintf(out, cap, "actor=%s", ids[rnd(3)]);
        break;
    case 4:
        snprintf(out, cap, "pack=%s", m_names[rnd(2)]);
        break;
    case 5:
        snprintf(out, cap, "model=m1");
        break;
    case 6:
        snprintf(out, cap, "route=%s", m_names[3 + rnd(2)]);
        break;
    case 7: {
        uint64_t a = rnd((unsigned)size + 5), b = a + rnd(60);
        if (rnd(3) == 0)
            snprintf(out, cap, "seq=%llu", (unsigned long long)a);
        else if (rnd(4) == 0)
            snprintf(out, cap, "seq=%llu..", (unsigned long long)a);
        else
            snprintf(out, cap, "seq=%llu..%llu", (unsigned long long)a,
                     (unsigned long long)b);
        break;
    }
    case 8:
        snprintf(out, cap, "body.status=%s", m_status[rnd(3)]);
        break;
    case 9:
        snprintf(out, cap, "body.n=%u", rnd(6));
        break;
    case 10:
        snprintf(out, cap, "body.%s", rnd(2) ? "f=true" : "m.k=1");
        break;
    default:
        snprintf(out, cap, "body.tags=%s", m_status[rnd(3)]);
        break;
    }
    if (rnd(4) == 0) { /* FIELD!=VALUE */
        char *eq = strchr(out, '=');
        size_t n = strlen(out);
        if (n + 1 < cap) {
            memmove(eq + 1, eq, n - (size_t)(eq - out) + 1);
            *eq = '!';
        }
    }
}

/* The brute-force model: the rules of docs/QUERY.md, written again. */
static int
m_value_eq(const json_t *v, const char *s)
{
    char buf[64];
    if (v == NULL)
        return 0;
    if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) if (m_value_eq(e, s)) return 1;
        return 0;
    }
    if (json_is_string(v))
        return strcmp(json_string_value(v), s) == 0;
    if (json_is_integer(v)) {
        snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
        return strcmp(buf, s) == 0;
    }
    if (json_is_true(v))
        return strcmp(s, "true") == 0;
    if (json_is_false(v))
        return strcmp(s, "false") == 0;
    return 0;
}

static int m_term_pos(const char *term, size_t fl, const char *v,
                      const struct ldg_event *ev, const json_t *body,
                      char names[3][LDG_NAME_MAX + 1],
                      char ids[3][LDG_KEYID_LEN + 1]);

/* FIELD!=VALUE is the complement of FIELD=VALUE, except that body.NAME!=
 * needs the field to be there. */
static int
m_term(const char *term, const struct ldg_event *ev, const json_t *body,
       char names[3][LDG_NAME_MAX + 1], char ids[3][LDG_KEYID_LEN + 1])
{
    const char *v = strchr(term, '=') + 1;
    size_t fl = (size_t)(v - 1 - term);
    int neg = fl > 0 && term[fl - 1] == '!';
    int pos;
    if (!neg)
        return m_term_pos(term, fl, v, ev, body, names, ids);
    pos = m_term_pos(term, fl - 1, v, ev, body, names, ids);
    if (strncmp(term, "body.", 5) == 0) {
        char name[64];
        const json_t *x = body;
        if (body == NULL)
            return 0;
        snprintf(name, sizeof name, "%.*s", (int)(fl - 1 - 5), term + 5);
        for (char *p = strtok(name, "."); p != NULL && x != NULL;
             p = strtok(NULL, "."))
            x = json_object_get(x, p);
        return x != NULL && !pos;
    }
    return !pos;
}

static int
m_term_pos(const char *term, size_t fl, const char *v,
           const struct ldg_event *ev, const json_t *body,
           char names[3][LDG_NAME_MAX + 1], char ids[3][LDG_KEYID_LEN + 1])
{
    char kindv[128];
    if (strncmp(term, "type", fl) == 0 && fl == 4)
        return fnmatch(v, ev->type, 0) == 0;
    if (strncmp(term, "subject", fl) == 0 && fl == 7)
        return fnmatch(v, ev->subject, 0) == 0;
    if (strncmp(term, "run", fl) == 0 && fl == 3)
        return strcmp(v, ev->run) == 0;
    if (strncmp(term, "actor", fl) == 0 && fl == 5) {
        for (int i = 0; i < 3; i++)
            if ((strcmp(v, names[i]) == 0 || strcmp(v, ids[i]) == 0) &&
                strcmp(ids[i], ev->actor) == 0)
                return 1;
        return 0;
    }
    if (strncmp(term, "seq", fl) == 0 && fl == 3) {
        unsigned long long a = 0, b = UINT64_MAX;
        const char *dots = strstr(v, "..");
        a = strtoull(v, NULL, 10);
        if (dots == NULL)
            b = a;
        else if (dots[2] != '\0')
            b = strtoull(dots + 2, NULL, 10);
        return ev->seq >= a && ev->seq <= b;
    }
    if ((strncmp(term, "pack", fl) == 0 && fl == 4) ||
        (strncmp(term, "model", fl) == 0 && fl == 5) ||
        (strncmp(term, "route", fl) == 0 && fl == 5)) {
        snprintf(kindv, sizeof kindv, "%.*s:%s", (int)fl, term, v);
        if (strcmp(ev->subject, kindv) == 0)
            return 1;
        if (body == NULL)
            return 0;
        if (term[0] == 'm')
            return m_value_eq(json_object_get(body, "model"), v) ||
                   m_value_eq(json_object_get(body, "chosen_model"), v);
        return m_value_eq(
            json_object_get(body, term[0] == 'p' ? "pack" : "route"), v);
    }
    if (strncmp(term, "body.", 5) == 0 && body != NULL) {
        char name[64];
        const json_t *x = body;
        snprintf(name, sizeof name, "%.*s", (int)(fl - 5), term + 5);
        for (char *p = strtok(name, "."); p != NULL && x != NULL;
             p = strtok(NULL, "."))
            x = json_object_get(x, p);
        return m_value_eq(x, v);
    }
    return 0;
}

/* groups: terms split at "+"; within a group same field ORs */
static int
m_match(char terms[][96], int n, const struct ldg_event *ev, const json_t *body,
        char names[3][LDG_NAME_MAX + 1], char ids[3][LDG_KEYID_LEN + 1])
{
    int start = 0;
    if (n == 0)
        return 1;
    while (start < n) {
        int end = start, ok = 1;
        while (end < n && strcmp(terms[end], "+") != 0)
            end++;
        for (int i = start; i < end && ok; i++) {
            size_t fl = (size_t)(strchr(terms[i], '=') - terms[i]);
            int any = 0, seen = 0;
            if (terms[i][fl - 1] == '!') {
                /* negated terms AND: none of the values */
                ok = m_term(terms[i], ev, body, names, ids);
                continue;
            }
            for (int j = start; j < end; j++) {
                if (strncmp(terms[j], terms[i], fl + 1) != 0)
                    continue;
                if (j < i) {
                    seen = 1; /* this field was judged already */
                    break;
                }
                any |= m_term(terms[j], ev, body, names, ids);
            }
            if (!seen)
                ok = any;
        }
        if (ok)
            return 1;
        start = end + 1;
    }
    return 0;
}

static void
test_iter__model_random_queries_match_brute_force(void **state)
{
    char dir[512], names[3][LDG_NAME_MAX + 1] = {"log", "alice", "bob"};
    char ids[3][LDG_KEYID_LEN + 1];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_keyinfo *keys;
    struct ldg_txn *t;
    struct ldg_event ev;
    size_t nk;
    uint64_t size, clock, base, seq;
    int queries = 0, nonempty = 0;
    (void)state;

    rng_state = 20261121;
    assert_int_equal(ldg_keys_add(l, "alice", NULL, &seq), 0);
    assert_int_equal(ldg_keys_add(l, "bob", NULL, &seq), 0);
    assert_int_equal(ldg_keys_list(l, &keys, &nk), 0);
    for (size_t i = 0; i < nk; i++)
        for (int j = 0; j < 3; j++)
            if (strcmp(keys[i].name, names[j]) == 0)
                snprintf(ids[j], sizeof ids[j], "%s", keys[i].key_id);
    free(keys);
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_event_get(t, 2, &ev), 0);
    ldg_txn_abort(t);
    base = ev.ts_ns + 1000000000u;
    clock = base;
    ldg_set_clock(l, &clock);
    for (int i = 0; i < 500; i++) {
        struct ldg_event_in in;
        json_t *b = random_body();
        memset(&in, 0, sizeof in);
        in.type = m_types[rnd(4)];
        in.subject = m_subjects[rnd(7)];
        in.run = m_runs[rnd(4)];
        in.actor = m_actors[rnd(3)];
        in.body = b;
        clock += rnd(3) * 500000000u; /* equal times happen too */
        assert_int_equal(ldg_append(l, &in, &seq), 0);
        json_decref(b);
        if (rnd(25) == 0) { /* erase a random earlier x.* body */
            char eb[96];
            struct ldg_event te;
            uint64_t target = 3 + rnd((unsigned)(seq - 2));
            assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
            assert_int_equal(ldg_event_get(t, target, &te), 0);
            ldg_txn_abort(t);
            if (strncmp(te.type, "x.", 2) == 0) {
                json_t *bb = NULL;
                assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
                int erased = ldg_body_get(t, target, &bb) == LDG_EERASED;
                json_decref(bb);
                ldg_txn_abort(t);
                if (!erased) {
                    snprintf(eb, sizeof eb,
                             "{\"target_seq\":%llu,\"reason\":\"model\"}",
                             (unsigned long long)target);
                    q_append(l, "body.erased", NULL, NULL, NULL, eb);
                }
            }
        }
    }
    assert_int_equal(ldg_size(l, &size), 0);

    for (int qi = 0; qi < 400; qi++) {
        char terms[10][96], since[48] = "", until[48] = "", err[512];
        const char *tp[10];
        uint64_t got[MAXR], want[MAXR];
        int n = 0, ngroups = 1 + (rnd(4) == 0), k, nw = 0;
        unsigned flags = rnd(3) == 0 ? LDG_QUERY_REVERSE : 0;
        uint64_t since_ns = 0, until_ns = UINT64_MAX;

        for (int g = 0; g < ngroups; g++) {
            int nt = 1 + (int)rnd(3);
            if (g > 0)
                snprintf(terms[n++], 96, "+");
            for (int j = 0; j < nt; j++)
                random_term(terms[n++], 96, ids, size);
        }
        if (rnd(6) == 0)
            n = 0; /* no terms at all */
        if (rnd(3) == 0) {
            since_ns = base + rnd(400) * 250000000ull;
            snprintf(since, sizeof since, "@%llu.%09llu",
                     (unsigned long long)(since_ns / 1000000000u),
                     (unsigned long long)(since_ns % 1000000000u));
        }
        if (rnd(3) == 0) {
            until_ns = since_ns + rnd(300) * 250000000ull;
            if (since_ns == 0)
                until_ns += base;
            snprintf(until, sizeof until, "@%llu.%09llu",
                     (unsigned long long)(until_ns / 1000000000u),
                     (unsigned long long)(until_ns % 1000000000u));
        }
        for (int i = 0; i < n; i++)
            tp[i] = terms[i];
        k = q_collect(l, n, tp, since[0] ? since : NULL,
                      until[0] ? until : NULL, flags, got, MAXR, err,
                      sizeof err);
        if (k < 0)
            fail_msg("query %d failed: %d %s %s", qi, k, err, ldg_errmsg(l));

        assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
        for (uint64_t s = 0; s < size; s++) {
            uint64_t sq = flags ? size - 1 - s : s;
            json_t *body = NULL;
            assert_int_equal(ldg_event_get(t, sq, &ev), 0);
            if (ev.ts_ns < since_ns || ev.ts_ns > until_ns)
                continue;
            if (ldg_body_get(t, sq, &body) != 0)
                body = NULL;
            if (m_match(terms, n, &ev, body, names, ids))
                want[nw++] = sq;
            json_decref(body);
        }
        ldg_txn_abort(t);
        if (k != nw || memcmp(got, want, (size_t)k * sizeof got[0]) != 0) {
            char desc[1024] = "";
            for (int i = 0; i < n; i++) {
                strncat(desc, terms[i], sizeof desc - strlen(desc) - 2);
                strncat(desc, " ", sizeof desc - strlen(desc) - 1);
            }
            fail_msg("query %d [%s] since=%s until=%s rev=%u: %d results, "
                     "brute force %d (first %llu vs %llu)",
                     qi, desc, since, until, flags, k, nw,
                     (unsigned long long)(k ? got[0] : 0),
                     (unsigned long long)(nw ? want[0] : 0));
        }
        queries++;
        nonempty += nw > 0;
    }
    print_message("%d random queries over %llu events agree (%d non-empty)\n",
                  queries, (unsigned long long)size, nonempty);
    assert_true(nonempty > queries / 4);
    ldg_close(l);
    t_rmrf(dir);
}

/* A random value for an indexed (or other) body field: strings among
 * them (short, empty, 64 and 65 bytes, with a NUL), numbers, booleans,
 * null, arrays, an object. */
static json_t *
bix_random_value(void)
{
    static const char *const strs[] = {"ok", "failed", "x", "true", "5", ""};
    char big[80];
    json_t *a;
    switch (rnd(12)) {
    case 0:
    case 1:
    case 2:
    case 3:
        return json_string(strs[rnd(6)]);
    case 4:
        memset(big, 'a', sizeof big);
        return json_stringn(big, 64 + rnd(2));
    case 5:
        return json_stringn("ok\0x", 4);
    case 6:
        return json_integer(5);
    case 7:
        return rnd(2) ? json_true() : json_null();
    case 8:
    case 9:
        a = json_array();
        for (unsigned i = 0, n = rnd(4); i < n; i++)
            json_array_append_new(a, rnd(3) ? json_string(strs[rnd(6)])
                                            : json_integer(5));
        return a;
    case 10:
        return json_real(5.0);
    default:
        return json_pack("{s:s}", "x", "ok");
    }
}

/* Issue 49: body.F=V answers through ix.body exactly as the bodies scan
 * does: random bodies (strings, numbers, booleans, null, arrays, absent
 * fields, values too long to index, a NUL inside), erased bodies, a
 * pruned start, a stale index (meta behind the log: the scan answers)
 * and a rebuilt one. */
static void
test_iter__body_index_answers_as_the_scan(void **state)
{
    static const char *const fields[] = {"status", "decision", "kind",
                                         "tier",   "other",    "status.x"};
    static const char *const vals[] = {
        "ok",
        "failed",
        "x",
        "true",
        "5",
        "5.0",
        "null",
        "",
        "nope",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
    char dir[512];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_txn *t;
    struct ldg_prune_stats ps;
    uint8_t zero[32] = {0};
    uint64_t seq = 0, size, hz = 0;
    int indexed = 0;
    (void)state;

    rng_state = 49;
    for (int i = 0; i < 600; i++) {
        json_t *b = json_object();
        for (size_t fi = 0; fi < 5; fi++)
            if (rnd(5) < 3)
                json_object_set_new(b, fields[fi], bix_random_value());
        if (rnd(8) == 0)
            json_object_set_new(b, "status.x", json_string("ok"));
        {
            struct ldg_event_in in;
            memset(&in, 0, sizeof in);
            in.type = "x.bix";
            in.subject = "s:bix";
            in.body = b;
            assert_int_equal(ldg_append(l, &in, &seq), 0);
        }
        json_decref(b);
        if (rnd(15) == 0) { /* erase a random x.bix body */
            char eb[96];
            struct ldg_event te;
            uint64_t lo = hz > 1 ? hz : 1;
            uint64_t target = lo + rnd((unsigned)(seq - lo + 1));
            json_t *bb = NULL;
            int erased;
            assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
            assert_int_equal(ldg_event_get(t, target, &te), 0);
            erased = ldg_body_get(t, target, &bb) == LDG_EERASED;
            json_decref(bb);
            ldg_txn_abort(t);
            if (!erased && strcmp(te.type, "x.bix") == 0 && target >= hz) {
                snprintf(eb, sizeof eb,
                         "{\"target_seq\":%llu,\"reason\":\"bix\"}",
                         (unsigned long long)target);
                q_append(l, "body.erased", NULL, NULL, NULL, eb);
            }
        }
        if (i == 200) { /* prune the first 150 events */
            hz = 150;
            assert_int_equal(ldg_txn_begin(l, LDG_TXN_WRITE, &t), 0);
            assert_int_equal(ldg_prune_txn(t, hz, zero, zero, 1, &ps), 0);
            assert_int_equal(ldg_txn_commit(t), 0);
        }
    }
    assert_int_equal(ldg_size(l, &size), 0);

    for (int round = 0; round < 3; round++) {
        char want_plan[32];
        if (round == 1) { /* meta says the index is behind: not used */
            uint8_t n[8];
            ldg_be64(n, size - 1);
            assert_int_equal(ldg_txn_begin(l, LDG_TXN_WRITE, &t), 0);
            assert_int_equal(
                ldg_core_kv_put(
                    t, ldg_store_core_dbi(ldg_txn_store(t), LDG_DB_META),
                    "ix.body", 7, n, 8),
                0);
            assert_int_equal(ldg_txn_commit(t), 0);
        }
        if (round == 2) { /* rebuilt: current again (in small batches) */
            ldg_bix_batch_pairs = 50;
            ldg_bix_batch_keys = 16;
            assert_int_equal(ldg_index_rebuild(l), 0);
            ldg_bix_batch_pairs = (size_t)1 << 20;
            ldg_bix_batch_keys = (size_t)1 << 14;
        }
        for (size_t fi = 0; fi < sizeof fields / sizeof fields[0]; fi++) {
            for (size_t vi = 0; vi < sizeof vals / sizeof vals[0]; vi++) {
                char term[128], term2[128];
                const char *tp[3];
                uint64_t got[MAXR], want[MAXR];
                int k, kw, uses, ntp = 1;
                snprintf(term, sizeof term, "body.%s=%s", fields[fi], vals[vi]);
                tp[0] = term;
                if (vi % 3 == 0) { /* and an OR of two values */
                    snprintf(term2, sizeof term2, "body.%s=%s", fields[fi],
                             vals[(vi + 1) % 9]);
                    tp[ntp++] = term2;
                }
                q_iter_body_index = 1;
                k = q_collect(l, ntp, tp, NULL, NULL, vi % 2, got, MAXR, NULL,
                              0);
                q_iter_body_index = 0;
                kw = q_collect(l, ntp, tp, NULL, NULL, vi % 2, want, MAXR, NULL,
                               0);
                q_iter_body_index = 1;
                assert_true(k >= 0);
                if (k != kw || memcmp(got, want, (size_t)k * 8) != 0)
                    fail_msg("round %d %s: %d results by the index, %d by "
                             "the scan",
                             round, term, k, kw);
                uses = fi < 4 && round != 1 && vi != 3 && vi != 4 && vi != 5 &&
                       vi != 6 && vi != 10;
                snprintf(want_plan, sizeof want_plan, "%s",
                         uses ? "ix.body" : "bodies+prefilter");
                plan_of(l, ntp, tp, want_plan);
                indexed += uses && k > 0;
            }
        }
    }
    assert_true(indexed > 20);
    /* nothing of a pruned event is left in the index */
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    for (size_t vi = 0; vi < 6; vi++) {
        struct ldg_seqscan *sc;
        uint64_t s;
        assert_int_equal(ldg_seqscan_body_index(&sc, t, "status", vals[vi], 0,
                                                UINT64_MAX, 0),
                         0);
        while (ldg_seqscan_next(sc, &s) == 1)
            assert_true(s >= hz);
        ldg_seqscan_free(sc);
    }
    ldg_txn_abort(t);
    ldg_close(l);
    t_rmrf(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_iter__dotted_name_is_a_field_or_a_path),
        cmocka_unit_test_setup_teardown(
            test_iter__run_uses_run_index_and_examines_only_matches, setup_pdf,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_iter__type_glob_and_or_of_same_field, setup_pdf, teardown),
        cmocka_unit_test_setup_teardown(test_iter__different_fields_and,
                                        setup_pdf, teardown),
        cmocka_unit_test_setup_teardown(test_iter__plus_starts_an_or_group,
                                        setup_pdf, teardown),
        cmocka_unit_test_setup_teardown(test_iter__pack_model_route_globs,
                                        setup_pdf, teardown),
        cmocka_unit_test_setup_teardown(test_iter__subject_exact_and_glob,
                                        setup_pdf, teardown),
        cmocka_unit_test_setup_teardown(
            test_iter__pack_model_route_match_subject_or_body, setup_pdf,
            teardown),
        cmocka_unit_test_setup_teardown(test_iter__seq_single_and_ranges,
                                        setup_pdf, teardown),
        cmocka_unit_test_setup_teardown(
            test_iter__body_fields_strings_numbers_bools_arrays_paths,
            setup_pdf, teardown),
        cmocka_unit_test_setup_teardown(
            test_iter__reverse_gives_the_same_set_backwards, setup_pdf,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_iter__body_scans_with_a_prescan_find_the_same, setup_pdf,
            teardown),
        cmocka_unit_test_setup_teardown(test_iter__no_terms_is_every_event,
                                        setup_pdf, teardown),
        cmocka_unit_test_setup_teardown(
            test_iter__restrict_bounds_the_seq_window, setup_pdf, teardown),
        cmocka_unit_test_setup_teardown(
            test_iter__windows_resume_without_gap_or_repeat, setup_pdf,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_iter__planner_prefers_run_subject_type_actor_body, setup_pdf,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_iter__body_prefilter_skips_records_without_the_bytes,
            setup_pdf, teardown),
        cmocka_unit_test_setup_teardown(
            test_iter__actor_by_name_or_id_and_unknown_is_an_error, setup_pdf,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_iter__erased_body_fails_body_terms_but_keeps_envelope,
            setup_pdf, teardown),
        cmocka_unit_test_setup_teardown(
            test_iter__grep_smart_case_over_the_event_text, setup_pdf,
            teardown),
        cmocka_unit_test_setup_teardown(test_iter__negation, setup_pdf,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_iter__grep_patterns_or, setup_pdf,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_iter__cursor_round_trip_and_mismatch, setup_pdf, teardown),
        cmocka_unit_test_setup_teardown(
            test_iter__body_decoded_while_matching_is_handed_out, setup_pdf,
            teardown),
        cmocka_unit_test(test_iter__since_until_become_a_seq_window),
        cmocka_unit_test(test_iter__model_random_queries_match_brute_force),
        cmocka_unit_test(test_iter__body_index_answers_as_the_scan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
