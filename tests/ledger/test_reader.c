/*
 * test_reader.c — the query planner's sources (ledger/reader.c): seq scans
 * over an index and over the bodies, the time window, index values, and
 * the reader's events, leaf hashes and body records, each checked against
 * the strict accessors (ldg_event_get, ldg_index_walk, a brute force).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "ledger/handle_int.h"
#include "tests/support/support.h"

#define N 40

/* seqs 1..N: x.one at odd seqs, x.two at even ones, runs R-a / R-b by
 * thirds; then one body.erased of seq 5 (0 is the genesis). */
static struct ldg_ledger *
setup_log(char *dir, size_t cap, uint64_t *size)
{
    struct ldg_ledger *l = t_ledger_new(dir, cap, 0);
    for (int i = 1; i <= N; i++) {
        struct ldg_event_in in;
        char body[64];
        json_t *b;
        snprintf(body, sizeof body, "{\"i\":%d,\"k\":\"%s\"}", i,
                 i % 3 ? "v" : "w");
        b = json_loads(body, 0, NULL);
        memset(&in, 0, sizeof in);
        in.type = i % 2 ? "x.one" : "x.two";
        in.run = i % 3 == 0 ? NULL : i % 3 == 1 ? "R-a" : "R-b";
        in.body = b;
        assert_int_equal(ldg_append(l, &in, NULL), 0);
        json_decref(b);
    }
    t_append(l, "body.erased", "{\"target_seq\":5,\"reason\":\"test\"}", NULL);
    assert_int_equal(ldg_size(l, size), 0);
    return l;
}

static size_t
drain(struct ldg_seqscan *s, uint64_t *out, size_t cap)
{
    size_t n = 0;
    uint64_t seq;
    int rc;
    while ((rc = ldg_seqscan_next(s, &seq)) == 1) {
        assert_true(n < cap);
        out[n++] = seq;
    }
    assert_int_equal(rc, 0);
    /* exhausted stays exhausted */
    assert_int_equal(ldg_seqscan_next(s, &seq), 0);
    return n;
}

struct got {
    uint64_t seq[2 * N];
    size_t n;
};

static int
collect(void *ctx, uint64_t seq)
{
    struct got *g = ctx;
    g->seq[g->n++] = seq;
    return 0;
}

static void
test_reader__index_scans_match_the_index_walk(void **state)
{
    char dir[512];
    uint64_t size, got[2 * N];
    struct ldg_ledger *l = setup_log(dir, sizeof dir, &size);
    static const struct {
        enum ldg_index which;
        const char *value;
    } cases[] = {{LDG_INDEX_TYPE, "x.one"}, {LDG_INDEX_TYPE, "x.two"},
                 {LDG_INDEX_RUN, "R-a"},    {LDG_INDEX_RUN, "R-b"},
                 {LDG_INDEX_TYPE, "x.on"},  {LDG_INDEX_TYPE, "nothing"}};
    static const uint64_t win[][2] = {{0, UINT64_MAX}, {3, 17}, {4, 4},
                                      {5, 5},          {30, 2}, {N, N + 5}};
    struct ldg_txn *t;
    (void)state;
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (size_t w = 0; w < sizeof win / sizeof win[0]; w++) {
            for (int rev = 0; rev < 2; rev++) {
                struct ldg_seqscan *s;
                struct got g;
                size_t n;
                memset(&g, 0, sizeof g);
                assert_int_equal(ldg_index_walk(t, cases[c].which,
                                                cases[c].value, win[w][0],
                                                win[w][1], rev, collect, &g),
                                 0);
                assert_int_equal(ldg_seqscan_index(&s, t, cases[c].which,
                                                   cases[c].value, win[w][0],
                                                   win[w][1], rev),
                                 0);
                n = drain(s, got, 2 * N);
                ldg_seqscan_free(s);
                assert_int_equal(n, g.n);
                for (size_t i = 0; i < n; i++)
                    assert_int_equal(got[i], g.seq[i]);
            }
        }
    }
    ldg_txn_abort(t);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_reader__bodies_scan_skips_erased_and_hands_out_records(void **state)
{
    char dir[512];
    uint64_t size, got[2 * N], seq;
    struct ldg_ledger *l = setup_log(dir, sizeof dir, &size);
    struct ldg_txn *t;
    struct ldg_seqscan *s;
    struct ldg_reader *r;
    size_t n;
    (void)state;
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_reader_new(&r, t), 0);
    for (int rev = 0; rev < 2; rev++) {
        assert_int_equal(ldg_seqscan_bodies(&s, t, 2, 9, rev), 0);
        n = drain(s, got, 2 * N);
        ldg_seqscan_free(s);
        /* 2..9 without 5 (erased) */
        assert_int_equal(n, 7);
        for (size_t i = 0; i < n; i++) {
            uint64_t want = rev ? 9 - i : 2 + i;
            if (rev ? want <= 5 : want >= 5)
                want += rev ? -1 : 1;
            assert_int_equal(got[i], want);
        }
    }
    /* the record at hand is the reader's, and reads as the body */
    assert_int_equal(ldg_seqscan_bodies(&s, t, 0, size - 1, 0), 0);
    while (ldg_seqscan_next(s, &seq) == 1) {
        const uint8_t *a, *b, *p;
        size_t an, bn, pn;
        char *txt = NULL, *want = NULL;
        size_t tl = 0, tc = 0, wl = 0, wc = 0;
        ldg_seqscan_record(s, &a, &an);
        assert_int_equal(ldg_reader_body(r, seq, &b, &bn), 0);
        assert_int_equal(an, bn);
        assert_memory_equal(a, b, an);
        assert_int_equal(ldg_body_record_json_append(ldg_txn_dicts(t), a, an,
                                                     ldg_body_max(l), &txt, &tl,
                                                     &tc),
                         0);
        assert_int_equal(ldg_body_json_append(t, seq, &want, &wl, &wc), 0);
        assert_string_equal(txt, want);
        /* small bodies are stored plain; the payload is the record's tail
         * (after the flag, and a seeded record's seed) */
        assert_int_equal(ldg_body_record_plain(a, an, &p, &pn), 1);
        assert_int_equal(pn, an - 1 - (ldg_body_record_seeded(a, an) ? 16 : 0));
        free(txt);
        free(want);
    }
    ldg_seqscan_free(s);
    {
        const uint8_t *p;
        size_t pn;
        assert_int_equal(ldg_reader_body(r, 5, &p, &pn), LDG_EERASED);
        assert_int_equal(ldg_reader_body(r, size, &p, &pn), LDG_ENOTFOUND);
    }
    ldg_reader_free(r);
    ldg_txn_abort(t);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_reader__events_and_leaves_in_any_order_match_the_strict_decoder(
    void **state)
{
    char dir[512];
    uint64_t size;
    struct ldg_ledger *l = setup_log(dir, sizeof dir, &size);
    struct ldg_txn *t;
    struct ldg_reader *r;
    uint64_t order[3 * (N + 2) + 8];
    size_t n = 0;
    (void)state;
    /* forward, backward, strided and random jumps */
    for (uint64_t s = 0; s < size; s++)
        order[n++] = s;
    for (uint64_t s = size; s-- > 0;)
        order[n++] = s;
    for (uint64_t s = 0; s < size; s += 7)
        order[n++] = s;
    order[n++] = size - 1;
    order[n++] = 0;
    order[n++] = size / 2;
    size_t sealed = 0;
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_reader_new(&r, t), 0);
    for (size_t i = 0; i < n; i++) {
        struct ldg_event a, b;
        assert_int_equal(ldg_reader_event(r, order[i], &a), 0);
        sealed += a.sealed != 0;
        assert_int_equal(ldg_event_get(t, order[i], &b), 0);
        assert_int_equal(a.seq, b.seq);
        assert_int_equal(a.ts_ns, b.ts_ns);
        assert_string_equal(a.type, b.type);
        assert_string_equal(a.run, b.run);
        assert_string_equal(a.subject, b.subject);
        assert_memory_equal(a.leaf, b.leaf, 32);
        assert_memory_equal(a.prev, b.prev, 32);
    }
    /* format 2 (the default): the leaf of a sealed entry looked up out
     * of order is its hash, not a tree page (reader_leaf) */
    assert_true(sealed > 0);
    {
        struct ldg_event e;
        assert_int_equal(ldg_reader_event(r, size, &e), LDG_ENOTFOUND);
    }
    ldg_reader_free(r);
    ldg_txn_abort(t);
    ldg_close(l);
    t_rmrf(dir);
}

/* ldg_reader_want_digest(r, 0) over l's events: a derived claim digest
 * is left zero and ldg_claim_digest over the claim makes the one
 * ldg_event_get derives; a stored one (layouts 7, 8) is read as ever; the rest
 * of the event is as ever, and want 1 derives it again. Returns how many
 * were derived. */
static size_t
digests_left_to_the_caller(struct ldg_ledger *l)
{
    static const uint8_t zero[32];
    struct ldg_txn *t;
    struct ldg_reader *r;
    uint64_t size;
    size_t derived = 0;
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_txn_size(t, &size), 0);
    assert_int_equal(ldg_reader_new(&r, t), 0);
    ldg_reader_want_digest(r, 0);
    for (uint64_t s = 0; s < size; s++) {
        struct ldg_event a, b;
        uint8_t d[32];
        assert_int_equal(ldg_reader_event(r, s, &a), 0);
        assert_int_equal(ldg_event_get(t, s, &b), 0);
        assert_memory_equal(a.leaf, b.leaf, 32);
        assert_memory_equal(a.prev, b.prev, 32);
        assert_int_equal(a.sealed, b.sealed);
        assert_int_equal(a.digest_derived, b.digest_derived);
        ldg_claim_digest(d, a.signed_part, a.signed_len);
        assert_memory_equal(d, b.digest, 32);
        if (!(a.sealed && a.digest_derived)) {
            assert_memory_equal(a.digest, b.digest, 32);
            continue;
        }
        derived++;
        assert_memory_equal(a.digest, zero, 32);
    }
    ldg_reader_want_digest(r, 1);
    {
        struct ldg_event a, b;
        assert_int_equal(ldg_reader_event(r, size - 2, &a), 0);
        assert_int_equal(ldg_event_get(t, size - 2, &b), 0);
        assert_memory_equal(a.digest, b.digest, 32);
        assert_memory_not_equal(a.digest, zero, 32);
    }
    ldg_reader_want_digest(NULL, 0); /* a no-op */
    ldg_reader_free(r);
    ldg_txn_abort(t);
    return derived;
}

/* Layout 8 (what t_ledger_new makes) stores every sealed digest: none is
 * left to the caller; nor is one of the layout 7 image's. */
static void
test_reader__a_stored_digest_is_read_without_want_digest(void **state)
{
    char dir[512];
    uint64_t size;
    struct ldg_ledger *l = setup_log(dir, sizeof dir, &size);
    (void)state;
    assert_int_equal(digests_left_to_the_caller(l), 0);
    ldg_close(l);
    t_rmrf(dir);
    l = t_ledger_image(dir, sizeof dir, 7);
    assert_int_equal(digests_left_to_the_caller(l), 0);
    ldg_close(l);
    t_rmrf(dir);
}

/* The layout 6 image (entries migrated from layout 4, stored without
 * their digests): every one is left to the caller. */
static void
test_reader__digest_left_to_the_caller_is_the_derived_one(void **state)
{
    char dir[512];
    struct ldg_ledger *l = t_ledger_image(dir, sizeof dir, 6);
    (void)state;
    assert_int_equal(digests_left_to_the_caller(l), 600);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_reader__time_window_is_the_brute_force_answer(void **state)
{
    char dir[512];
    uint64_t size, ts[2 * N];
    struct ldg_ledger *l = setup_log(dir, sizeof dir, &size);
    struct ldg_txn *t;
    (void)state;
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    for (uint64_t s = 0; s < size; s++) {
        struct ldg_event e;
        assert_int_equal(ldg_event_get(t, s, &e), 0);
        ts[s] = e.ts_ns;
    }
    for (uint64_t a = 0; a < size; a += 3) {
        for (uint64_t b = a; b < size; b += 5) {
            uint64_t since = ts[a] - (a % 2), until = ts[b] + (b % 2);
            uint64_t lo = 0, hi = size - 1, wlo = UINT64_MAX, whi = 0;
            int rc = ldg_time_window(t, since, until, &lo, &hi);
            for (uint64_t s = 0; s < size; s++) {
                if (ts[s] >= since && ts[s] <= until) {
                    if (wlo == UINT64_MAX)
                        wlo = s;
                    whi = s;
                }
            }
            assert_int_equal(rc, wlo == UINT64_MAX ? 1 : 0);
            if (rc == 0) {
                assert_int_equal(lo, wlo);
                assert_int_equal(hi, whi);
            }
        }
    }
    {
        uint64_t lo = 0, hi = size - 1;
        /* open on both sides: unchanged */
        assert_int_equal(ldg_time_window(t, 0, UINT64_MAX, &lo, &hi), 0);
        assert_int_equal(lo, 0);
        assert_int_equal(hi, size - 1);
        /* after the last event, or before the first: none */
        assert_int_equal(
            ldg_time_window(t, ts[size - 1] + 1, UINT64_MAX, &lo, &hi), 1);
        lo = 0, hi = size - 1;
        assert_int_equal(ldg_time_window(t, 0, ts[0] - 1, &lo, &hi), 1);
        /* a narrower window given is kept */
        lo = 10, hi = 12;
        assert_int_equal(ldg_time_window(t, ts[2], ts[30], &lo, &hi), 0);
        assert_int_equal(lo, 10);
        assert_int_equal(hi, 12);
    }
    ldg_txn_abort(t);
    ldg_close(l);
    t_rmrf(dir);
}

struct vals {
    char v[8][64];
    size_t n, stop_at;
};

static int
collect_value(void *ctx, const char *value)
{
    struct vals *g = ctx;
    snprintf(g->v[g->n++], sizeof g->v[0], "%s", value);
    return g->stop_at && g->n == g->stop_at ? 1 : 0;
}

static void
test_reader__index_values_by_prefix(void **state)
{
    char dir[512];
    uint64_t size;
    struct ldg_ledger *l = setup_log(dir, sizeof dir, &size);
    struct ldg_txn *t;
    struct vals g;
    (void)state;
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    memset(&g, 0, sizeof g);
    assert_int_equal(
        ldg_index_values(t, LDG_INDEX_TYPE, "x.", 2, collect_value, &g), 0);
    assert_int_equal(g.n, 2);
    assert_string_equal(g.v[0], "x.one");
    assert_string_equal(g.v[1], "x.two");
    memset(&g, 0, sizeof g);
    assert_int_equal(
        ldg_index_values(t, LDG_INDEX_RUN, "", 0, collect_value, &g), 0);
    assert_int_equal(g.n, 2);
    assert_string_equal(g.v[0], "R-a");
    assert_string_equal(g.v[1], "R-b");
    memset(&g, 0, sizeof g);
    g.stop_at = 1;
    assert_int_equal(
        ldg_index_values(t, LDG_INDEX_TYPE, "x.", 2, collect_value, &g), 1);
    assert_int_equal(g.n, 1);
    memset(&g, 0, sizeof g);
    assert_int_equal(
        ldg_index_values(t, LDG_INDEX_TYPE, "zz", 2, collect_value, &g), 0);
    assert_int_equal(g.n, 0);
    /* a layout 3 ledger (the default) */
    assert_string_equal(ldg_index_name(t, LDG_INDEX_RUN), "ix.run");
    assert_string_equal(ldg_index_name(t, LDG_INDEX_ACTOR), "ix.actor");
    ldg_txn_abort(t);
    ldg_close(l);
    t_rmrf(dir);
}

/* ldg_seqscan_skip: after k steps, a skip to target gives the first seq
 * past target (before it, reversed) that is also past what was returned,
 * checked against the plain scan for every k and target; a skip before
 * the first step moves the start. */
static void
test_reader__skip_is_the_plain_scan_from_the_target(void **state)
{
    char dir[512];
    uint64_t size, all[2 * N], seq;
    struct ldg_ledger *l = setup_log(dir, sizeof dir, &size);
    struct ldg_txn *t;
    (void)state;
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    for (int rev = 0; rev < 2; rev++) {
        struct ldg_seqscan *s;
        size_t n;
        assert_int_equal(ldg_seqscan_index(&s, t, LDG_INDEX_TYPE, "x.one", 0,
                                           UINT64_MAX, rev),
                         0);
        n = drain(s, all, 2 * N);
        ldg_seqscan_free(s);
        assert_int_equal(n, N / 2);
        for (size_t k = 0; k <= n; k++) {
            for (uint64_t target = 0; target <= N + 2; target++) {
                size_t want = k; /* index into all of the expected seq */
                assert_int_equal(ldg_seqscan_index(&s, t, LDG_INDEX_TYPE,
                                                   "x.one", 0, UINT64_MAX, rev),
                                 0);
                for (size_t i = 0; i < k; i++) {
                    assert_int_equal(ldg_seqscan_next(s, &seq), 1);
                    assert_int_equal(seq, all[i]);
                }
                ldg_seqscan_skip(s, target);
                while (want < n &&
                       (rev ? all[want] > target : all[want] < target))
                    want++;
                if (want < n) {
                    assert_int_equal(ldg_seqscan_next(s, &seq), 1);
                    assert_int_equal(seq, all[want]);
                } else {
                    assert_int_equal(ldg_seqscan_next(s, &seq), 0);
                }
                ldg_seqscan_free(s);
            }
        }
    }
    ldg_seqscan_skip(NULL, 3); /* harmless */
    ldg_txn_abort(t);
    ldg_close(l);
    t_rmrf(dir);
}

/* ldg_body_view_set_record: a view of the stored record answers as a view
 * of the decoded body does; an erased body's record is not there. */
static void
test_reader__view_of_a_record_answers_as_the_json_view(void **state)
{
    char dir[512];
    uint64_t size;
    struct ldg_ledger *l = setup_log(dir, sizeof dir, &size);
    struct ldg_body_view *a, *b;
    struct ldg_reader *r;
    struct ldg_txn *t;
    (void)state;
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_reader_new(&r, t), 0);
    assert_int_equal(ldg_body_view_new(&a), 0);
    assert_int_equal(ldg_body_view_new(&b), 0);
    for (uint64_t seq = 1; seq <= N; seq++) {
        const uint8_t *rec;
        size_t len;
        json_t *body = NULL;
        struct ldg_slice sa, sb;
        int64_t ia = 0, ib = 0;
        int rc = ldg_reader_body(r, seq, &rec, &len);
        if (seq == 5) { /* erased */
            assert_int_equal(rc, LDG_EERASED);
            continue;
        }
        assert_int_equal(rc, 0);
        assert_int_equal(ldg_body_view_set_record(a, rec, len), 0);
        assert_int_equal(ldg_body_get(t, seq, &body), 0);
        ldg_body_view_set_json(b, body);
        assert_int_equal(ldg_body_view_int(a, "i", &ia), 1);
        assert_int_equal(ldg_body_view_int(b, "i", &ib), 1);
        assert_int_equal(ia, (int64_t)seq);
        assert_int_equal(ib, ia);
        assert_int_equal(ldg_body_view_str(a, "k", &sa), 1);
        assert_int_equal(ldg_body_view_str(b, "k", &sb), 1);
        assert_int_equal(sa.n, 1);
        assert_memory_equal(sa.p, sb.p, 1);
        assert_int_equal(ldg_body_view_str(a, "i", &sa), 0); /* not a str */
        assert_int_equal(ldg_body_view_str(a, "nope", &sa), 0);
        json_decref(body);
    }
    /* bytes that are no body record: 1, a view with no fields */
    {
        static const uint8_t junk[] = {0xff, 0x00, 0x01};
        int64_t v;
        assert_int_equal(ldg_body_view_set_record(a, junk, sizeof junk), 1);
        assert_int_equal(ldg_body_view_int(a, "i", &v), 0);
        assert_int_equal(ldg_body_view_erased(a), 0);
    }
    assert_int_equal(ldg_body_view_set_record(NULL, NULL, 0), LDG_EINVAL);
    ldg_body_view_free(a);
    ldg_body_view_free(b);
    ldg_reader_free(r);
    ldg_txn_abort(t);
    ldg_close(l);
    t_rmrf(dir);
}

/* A checksum of the bytes at p (FNV-1a). */
static uint64_t
fnv(const uint8_t *p, size_t n, uint64_t h)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3u;
    return h;
}

#define RA_N 2000

/* A checksum of event seq's entry and body record as r reads them; *e
 * and *b get where they lie. */
static uint64_t
event_sum(struct ldg_reader *r, struct ldg_txn *t, uint64_t seq,
          struct ldg_val *e, struct ldg_val *b)
{
    struct ldg_event ev;
    const uint8_t *rec;
    size_t len;
    const uint8_t *er;
    size_t el;
    assert_int_equal(ldg_reader_event(r, seq, &ev), 0);
    assert_int_equal(ldg_reader_body(r, seq, &rec, &len), 0);
    /* the entry's record as stored (layout 5's without prev) */
    assert_int_equal(ldg_entry_record(t, seq, &er, &el), 0);
    e->data = er;
    e->len = el;
    b->data = rec;
    b->len = len;
    return fnv(rec, len, fnv(er, el, 14695981039346656037u));
}

/* ldg_reader_readahead: a window whose pages were dropped from the page
 * cache is asked of the kernel (ldg_map_missing says the stretch is cold,
 * then that it came in), and reads the same events and bodies as warm. */
static void
test_reader__readahead_of_a_cold_window(void **state)
{
    char dir[512], path[600], pad[601];
    /* (layout 8: every event in data.mdb's pages; at 9 the last ones
     * may be in the intake's tail, in memory) */
    struct ldg_ledger *l = t_ledger_new_layout(dir, sizeof dir, 0, 0, 8);
    static uint64_t warm[RA_N + 1];
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    struct ldg_reader *r;
    struct ldg_txn *t;
    unsigned missing;
    int fd;
    (void)state;
    memset(pad, 'p', 600);
    pad[600] = '\0';
    for (int i = 1; i <= RA_N; i++) {
        char body[700];
        snprintf(body, sizeof body, "{\"i\":%d,\"pad\":\"%s\"}", i, pad);
        t_append(l, "x.big", body, NULL);
    }
    /* warm: what each event and body reads as, and where they lie */
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_reader_new(&r, t), 0);
    for (uint64_t seq = 1; seq <= RA_N; seq++) {
        struct ldg_val e, b;
        warm[seq] = event_sum(r, t, seq, &e, &b);
        /* the stretch: from the first to the last event's records */
        if (seq == 1 || seq == RA_N) {
            const struct ldg_val *v[2] = {&e, &b};
            for (int k = 0; k < 2; k++) {
                if ((uintptr_t)v[k]->data < lo)
                    lo = (uintptr_t)v[k]->data;
                if ((uintptr_t)v[k]->data + v[k]->len > hi)
                    hi = (uintptr_t)v[k]->data + v[k]->len;
            }
        }
    }
    ldg_reader_free(r);
    ldg_txn_abort(t);
    /* cold: our mapping let go, the file's clean pages dropped */
    ldg_access_hint(l, LDG_ACCESS_RELEASE);
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(fdatasync(fd), 0);
    assert_int_equal(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
    close(fd);
    missing = ldg_map_missing((const void *)lo, hi - lo, 64);
    if (missing < 32) {
        /* a file system that keeps files in memory (tmpfs) */
        ldg_close(l);
        t_rmrf(dir);
        skip();
    }
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_reader_new(&r, t), 0);
    ldg_reader_readahead(r, 1, RA_N);
    /* the reads were asked for, not made: pages come in by themselves
     * (nothing here touches them). The kernel serves advice when it can,
     * and a loaded machine (CI runs three builds at once, and its page
     * cache is reclaimed as it goes) may take seconds or evict some pages
     * again, so the test asks that pages came in, not how fast nor that
     * every one stayed. */
    for (int i = 0;
         i < 6000 && ldg_map_missing((const void *)lo, hi - lo, 64) >= missing;
         i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    assert_true(ldg_map_missing((const void *)lo, hi - lo, 64) < missing);
    for (uint64_t seq = 1; seq <= RA_N; seq++) {
        struct ldg_val e, b;
        assert_true(event_sum(r, t, seq, &e, &b) == warm[seq]);
    }
    /* a window in the page cache asks for nothing; nonsense is harmless */
    ldg_reader_readahead(r, 1, RA_N);
    ldg_reader_readahead(r, 5, 1);
    ldg_reader_readahead(r, RA_N + 10, RA_N + 20);
    ldg_reader_readahead(NULL, 1, 2);
    ldg_reader_free(r);
    ldg_txn_abort(t);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_reader__misuse_is_einval(void **state)
{
    struct ldg_seqscan *s;
    struct ldg_reader *r;
    uint64_t lo = 0, hi = 0;
    (void)state;
    assert_int_equal(ldg_seqscan_index(&s, NULL, LDG_INDEX_RUN, "R", 0, 1, 0),
                     LDG_EINVAL);
    assert_int_equal(ldg_seqscan_bodies(NULL, NULL, 0, 1, 0), LDG_EINVAL);
    assert_int_equal(ldg_reader_new(&r, NULL), LDG_EINVAL);
    assert_int_equal(ldg_time_window(NULL, 0, 1, &lo, &hi), LDG_EINVAL);
    assert_int_equal(ldg_seqscan_next(NULL, &lo), LDG_EINVAL);
    ldg_seqscan_free(NULL);
    ldg_reader_free(NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reader__index_scans_match_the_index_walk),
        cmocka_unit_test(
            test_reader__bodies_scan_skips_erased_and_hands_out_records),
        cmocka_unit_test(
            test_reader__events_and_leaves_in_any_order_match_the_strict_decoder),
        cmocka_unit_test(
            test_reader__digest_left_to_the_caller_is_the_derived_one),
        cmocka_unit_test(
            test_reader__a_stored_digest_is_read_without_want_digest),
        cmocka_unit_test(test_reader__time_window_is_the_brute_force_answer),
        cmocka_unit_test(test_reader__index_values_by_prefix),
        cmocka_unit_test(test_reader__skip_is_the_plain_scan_from_the_target),
        cmocka_unit_test(
            test_reader__view_of_a_record_answers_as_the_json_view),
        cmocka_unit_test(test_reader__readahead_of_a_cold_window),
        cmocka_unit_test(test_reader__misuse_is_einval),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
