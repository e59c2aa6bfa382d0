/*
 * test_model_at.c — what the log knew of a model's weights at an event
 * (query/model_at.c): a shared cache (ldg_query_models_at, which reads
 * verifications only as far as the digests asked about need) answers
 * exactly as a fresh lookup per question (ldg_query_model_at), in any
 * order of questions; the model's name is matched exactly, never as a
 * pattern; the "model_at" text is the same from the cache and fresh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "query/query.h"
#include "query/query_int.h"
#include "projections/projections.h"
#include "projections/verified.h"
#include "tests/support/support.h"

/* seq: 1 m registered A, 2 verified B ok, 3 verified A failed, 4 m*
 * registered Z, 5 verified A ok, 6 m registered B, 7 verified Z ok (m*),
 * 8 verified B ok, 9 verified A ok, 10 m registered C (never verified). */
static struct ldg_ledger *
setup_log(char *dir, size_t cap, uint64_t *last)
{
    static const char *const ev[][2] = {
        {"model.registered", "{\"model\":\"m\",\"digest\":\"A\"}"},
        {"model.verified", "{\"model\":\"m\",\"digest\":\"B\",\"ok\":true}"},
        {"model.verified", "{\"model\":\"m\",\"digest\":\"A\",\"ok\":false}"},
        {"model.registered", "{\"model\":\"m*\",\"digest\":\"Z\"}"},
        {"model.verified", "{\"model\":\"m\",\"digest\":\"A\",\"ok\":true}"},
        {"model.registered", "{\"model\":\"m\",\"digest\":\"B\"}"},
        {"model.verified", "{\"model\":\"m*\",\"digest\":\"Z\",\"ok\":true}"},
        {"model.verified", "{\"model\":\"m\",\"digest\":\"B\",\"ok\":true}"},
        {"model.verified", "{\"model\":\"m\",\"digest\":\"A\",\"ok\":true}"},
        {"model.registered", "{\"model\":\"m\",\"digest\":\"C\"}"},
    };
    struct ldg_ledger *l = t_ledger_new(dir, cap, 0);
    for (size_t i = 0; i < sizeof ev / sizeof ev[0]; i++)
        *last = t_append(l, ev[i][0], ev[i][1], NULL);
    return l;
}

static void
expect(const struct ldg_model_at *m, int known, const char *digest,
       uint64_t reg, int verified, int ever, uint64_t vseq)
{
    assert_int_equal(m->known, known);
    if (known) {
        assert_string_equal(m->digest, digest);
        assert_int_equal(m->registered_seq, reg);
    }
    assert_int_equal(m->verified, verified);
    assert_int_equal(m->ever_verified, ever);
    if (ever)
        assert_int_equal(m->verified_seq, vseq);
}

static void
test_model_at__answers_at_each_seq(void **state)
{
    char dir[512];
    uint64_t last;
    struct ldg_ledger *l = setup_log(dir, sizeof dir, &last);
    struct ldg_txn *t;
    struct ldg_model_at m;
    (void)state;
    assert_int_equal(last, 10);
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_query_model_at(t, "m", 0, &m), 0);
    expect(&m, 0, NULL, 0, 0, 0, 0);
    assert_int_equal(ldg_query_model_at(t, "m", 1, &m), 0);
    expect(&m, 1, "A", 1, 0, 1, 5); /* A's first ok verification is 5 */
    assert_int_equal(ldg_query_model_at(t, "m", 5, &m), 0);
    expect(&m, 1, "A", 1, 1, 1, 5);
    assert_int_equal(ldg_query_model_at(t, "m", 6, &m), 0);
    expect(&m, 1, "B", 6, 1, 1, 2); /* B was verified before it was m's */
    assert_int_equal(ldg_query_model_at(t, "m", 10, &m), 0);
    expect(&m, 1, "C", 10, 0, 0, 0);
    /* "m*" is a name, not a pattern: its own registration only */
    assert_int_equal(ldg_query_model_at(t, "m*", 3, &m), 0);
    expect(&m, 0, NULL, 0, 0, 0, 0);
    assert_int_equal(ldg_query_model_at(t, "m*", 4, &m), 0);
    expect(&m, 1, "Z", 4, 0, 1, 7);
    assert_int_equal(ldg_query_model_at(t, "m?", 10, &m), 0);
    expect(&m, 0, NULL, 0, 0, 0, 0);
    assert_int_equal(ldg_query_model_at(t, "nobody", 10, &m), 0);
    expect(&m, 0, NULL, 0, 0, 0, 0);
    ldg_txn_abort(t);
    ldg_close(l);
    t_rmrf(dir);
}

/* One cache asked in descending, ascending and scattered order answers as
 * fresh lookups do, and its "model_at" text is the fresh rendering. */
static void
test_model_at__a_cache_in_any_order_is_a_fresh_lookup(void **state)
{
    static const char *const models[] = {"m", "m*", "x"};
    static const uint64_t orders[][11] = {
        {10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0},
        {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10},
        {6, 1, 10, 0, 5, 9, 2, 8, 3, 7, 4},
    };
    char dir[512];
    uint64_t last;
    struct ldg_ledger *l = setup_log(dir, sizeof dir, &last);
    struct ldg_txn *t;
    (void)state;
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    for (size_t o = 0; o < 3; o++) {
        struct ldg_query_models *c;
        struct q_modelcache *mc = NULL;
        assert_int_equal(ldg_query_models_new(&c, t), 0);
        for (size_t i = 0; i < 11; i++) {
            for (size_t k = 0; k < 3; k++) {
                struct ldg_model_at a, b;
                json_t *j;
                char *want, *line;
                struct q_mtext *got = NULL;
                uint64_t seq = orders[o][i];
                assert_int_equal(ldg_query_models_at(c, models[k], seq, &a), 0);
                assert_int_equal(ldg_query_model_at(t, models[k], seq, &b), 0);
                assert_memory_equal(&a, &b, sizeof a);
                j = ldg_query_model_at_json(models[k], &b);
                want = json_dumps(j, JSON_COMPACT);
                json_decref(j);
                assert_int_equal(
                    q_modelcache_text(&mc, t, models[k], seq, &got), 0);
                assert_non_null(want);
                line = malloc(strlen(want) + 13);
                sprintf(line, ",\"model_at\":%s", want);
                assert_string_equal(got->s, line);
                free(line);
                free(want);
                q_mtext_drop(got);
            }
        }
        q_modelcache_free(mc);
        ldg_query_models_free(c);
    }
    ldg_txn_abort(t);
    ldg_close(l);
    t_rmrf(dir);
}

/* A detached cache goes on in a later transaction of the same snapshot
 * (reading on from where it stopped) and starts again in one that sees
 * more of the log: its answers are always a fresh lookup's. */
static void
test_model_at__a_detached_cache_follows_the_snapshot(void **state)
{
    char dir[512];
    uint64_t last;
    struct ldg_ledger *l = setup_log(dir, sizeof dir, &last);
    struct q_modelcache *mc = NULL;
    struct ldg_txn *t;
    struct ldg_model_at m;
    static const uint64_t asks[] = {1, 6, 10, 4};
    (void)state;
    for (size_t i = 0; i < sizeof asks / sizeof asks[0]; i++) {
        struct q_mtext *got = NULL;
        char *want;
        json_t *j;
        /* a new transaction for each question, the cache detached from
         * the one before (as ldg_query_stream leaves it) */
        assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
        assert_int_equal(q_modelcache_text(&mc, t, "m", asks[i], &got), 0);
        assert_int_equal(ldg_query_model_at(t, "m", asks[i], &m), 0);
        j = ldg_query_model_at_json("m", &m);
        want = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        assert_non_null(strstr(got->s, want));
        free(want);
        q_mtext_drop(got);
        q_modelcache_detach(mc);
        ldg_txn_abort(t);
    }
    /* C (registered at 10) verified at 11: a new snapshot, a new answer */
    assert_int_equal(t_append(l, "model.verified",
                              "{\"model\":\"m\",\"digest\":\"C\",\"ok\":true}",
                              NULL),
                     11);
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    {
        struct q_mtext *got = NULL;
        assert_int_equal(q_modelcache_text(&mc, t, "m", 10, &got), 0);
        assert_non_null(strstr(got->s, "\"ever_verified\":true"));
        assert_non_null(strstr(got->s, "\"verified_seq\":\"11\""));
        q_mtext_drop(got);
    }
    q_modelcache_free(mc);
    ldg_txn_abort(t);
    ldg_close(l);
    t_rmrf(dir);
}

/* Every answer for models m, m* and x at every seq, as text. */
static void
all_answers(struct ldg_ledger *l, uint64_t last, char *out, size_t cap)
{
    static const char *const models[] = {"m", "m*", "x"};
    struct ldg_txn *t;
    size_t n = 0;
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    for (uint64_t seq = 0; seq <= last; seq++)
        for (size_t k = 0; k < 3; k++) {
            struct ldg_model_at m;
            json_t *j;
            char *txt;
            assert_int_equal(ldg_query_model_at(t, models[k], seq, &m), 0);
            j = ldg_query_model_at_json(models[k], &m);
            txt = json_dumps(j, JSON_COMPACT);
            json_decref(j);
            n += (size_t)snprintf(out + n, cap - n, "%s\n", txt);
            assert_true(n < cap);
            free(txt);
        }
    ldg_txn_abort(t);
}

static int
seqs_of(void *ctx, uint64_t seq)
{
    char *out = ctx;
    snprintf(out + strlen(out), 64 - strlen(out), "%llu,",
             (unsigned long long)seq);
    return 0;
}

/* Walks the projections' index for model m's digest d: "seq,seq," into
 * got, its mark into *upto; the walk's return. */
static int
walk(struct ldg_ledger *l, const char *d, char got[64], uint64_t *upto)
{
    struct ldg_txn *t;
    int rc;
    got[0] = '\0';
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    rc = ldg_projections_verified_walk(t, "model:m", d, upto, seqs_of, got);
    ldg_txn_abort(t);
    return rc;
}

static void
expect_walk(struct ldg_ledger *l, const char *d, const char *want,
            uint64_t mark)
{
    char got[64];
    uint64_t upto = 0;
    assert_int_equal(walk(l, d, got, &upto), 0);
    assert_string_equal(got, want);
    assert_int_equal(upto, mark);
}

/* Deletes the projections' index (a ledger that never had one). */
static void
drop_index(struct ldg_ledger *l)
{
    struct ldg_txn *t;
    ldg_dbi dbi;
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_WRITE, &t), 0);
    assert_int_equal(ldg_db_open(t, "proj.verified", 0, &dbi), 0);
    assert_int_equal(ldg_db_drop(t, dbi, 1), 0);
    assert_int_equal(ldg_txn_commit(t), 0);
}

static struct ldg_ledger *
reopen(struct ldg_ledger *l, const char *dir)
{
    struct ldg_options o;
    char err[256];
    ldg_close(l);
    memset(&o, 0, sizeof o);
    o.flags = LDG_NOSYNC;
    o.map_size_bytes = 64u << 20;
    if (ldg_open(&l, dir, &o, err, sizeof err) != 0)
        fail_msg("open: %s", err);
    return l;
}

/* Every answer through the projections' index of verifications
 * (projections/verified.c) is the answer of reading every verification
 * (a ledger without the index), with an erased verification and a failed
 * one among them: the index filled when the projections are attached to
 * a ledger written without them, fed by appends, behind the log after an
 * appender without them (the rest looked through), and rebuilt. */
static void
test_model_at__the_index_answers_as_the_scan(void **state)
{
    char dir[512], got[64], *with = malloc(1 << 16),
                            *without = malloc(1 << 16);
    uint64_t last, upto;
    struct ldg_ledger *l = setup_log(dir, sizeof dir, &last);
    (void)state;
    /* 11: C ok, 12: its body erased; 13: A ok, 14: C failed */
    t_append(l, "model.verified",
             "{\"model\":\"m\",\"digest\":\"C\",\"ok\":true}", NULL);
    t_append(l, "body.erased", "{\"target_seq\":11,\"reason\":\"test\"}", NULL);
    t_append(l, "model.verified",
             "{\"model\":\"m\",\"digest\":\"A\",\"ok\":true}", NULL);
    last = t_append(l, "model.verified",
                    "{\"model\":\"m\",\"digest\":\"C\",\"ok\":false}", NULL);
    /* written without the projections: no index, the answers a scan's */
    assert_int_equal(walk(l, "A", got, &upto), LDG_ENOTFOUND);
    all_answers(l, last, without, 1 << 16);
    /* C: its one success erased, so never verified */
    assert_null(strstr(without, "\"verified_seq\":\"11\""));
    /* attached: filled from the log (an erased body gives no key) */
    assert_int_equal(ldg_projections_attach(l), 0);
    expect_walk(l, "A", "5,9,13,", last + 1);
    expect_walk(l, "B", "2,8,", last + 1);
    expect_walk(l, "C", "", last + 1);
    expect_walk(l, "D", "", last + 1);
    all_answers(l, last, with, 1 << 16);
    assert_string_equal(with, without);
    /* fed by appends: 15 m registered D, 16 D ok, 17 D failed */
    t_append(l, "model.registered", "{\"model\":\"m\",\"digest\":\"D\"}",
             NULL);
    t_append(l, "model.verified",
             "{\"model\":\"m\",\"digest\":\"D\",\"ok\":true}", NULL);
    last = t_append(l, "model.verified",
                    "{\"model\":\"m\",\"digest\":\"D\",\"ok\":false}", NULL);
    expect_walk(l, "D", "16,", last + 1);
    all_answers(l, last, with, 1 << 16);
    assert_non_null(strstr(with, "\"verified_seq\":\"16\""));
    /* 18: 16's body erased: its key stays, and is not taken for it */
    last = t_append(l, "body.erased", "{\"target_seq\":16,\"reason\":\"t\"}",
                    NULL);
    expect_walk(l, "D", "16,", last + 1);
    all_answers(l, last, with, 1 << 16);
    assert_null(strstr(with, "\"verified_seq\":\"16\""));
    drop_index(l);
    assert_int_equal(walk(l, "D", got, &upto), LDG_ENOTFOUND);
    all_answers(l, last, without, 1 << 16);
    assert_string_equal(with, without);
    /* rebuilt (query's reindex), then appended to without the
     * projections (19 m registered E, 20 E ok): the index stops at 19,
     * the answers for E come from the events after it */
    assert_int_equal(ldg_query_reindex(l), 0);
    expect_walk(l, "A", "5,9,13,", last + 1);
    l = reopen(l, dir);
    t_append(l, "model.registered", "{\"model\":\"m\",\"digest\":\"E\"}",
             NULL);
    last = t_append(l, "model.verified",
                    "{\"model\":\"m\",\"digest\":\"E\",\"ok\":true}", NULL);
    expect_walk(l, "E", "", last - 1);
    all_answers(l, last, with, 1 << 16);
    assert_non_null(strstr(with, "\"verified_seq\":\"20\""));
    drop_index(l);
    all_answers(l, last, without, 1 << 16);
    assert_string_equal(with, without);
    /* ledger rebuild of the models projection fills it again */
    assert_int_equal(ldg_projections_rebuild(l, ldg_projections_bit("models"),
                                             NULL, NULL, NULL),
                     0);
    expect_walk(l, "E", "20,", last + 1);
    expect_walk(l, "A", "5,9,13,", last + 1);
    all_answers(l, last, with, 1 << 16);
    assert_string_equal(with, without);
    free(with);
    free(without);
    ldg_close(l);
    t_rmrf(dir);
}

/* The reference text of the model_at of "m" at seq: a fresh lookup. */
static char *
fresh_text(struct ldg_txn *t, uint64_t seq)
{
    struct ldg_model_at m;
    json_t *o;
    char *txt, *out;
    assert_int_equal(ldg_query_model_at(t, "m", seq, &m), 0);
    o = ldg_query_model_at_json("m", &m);
    txt = json_dumps(o, JSON_COMPACT);
    out = malloc(strlen(txt) + 13);
    sprintf(out, ",\"model_at\":%s", txt);
    free(txt);
    json_decref(o);
    return out;
}

/* q_model_at_ref over a scan (the stream's path: the name read from the
 * stored record, one reference per event, the last text reused while its
 * answer holds): at every route decision, forward and backward, the text
 * is a fresh lookup's; events in a stretch with one answer share one
 * text, and the text changes where the answer does. */
static void
test_model_at__references_over_a_scan_are_fresh_lookups(void **state)
{
    static const char *const ev[][2] = {
        {"model.registered", "{\"model\":\"m\",\"digest\":\"A\"}"},
        {"model.verified", "{\"model\":\"m\",\"digest\":\"B\",\"ok\":true}"},
        {"model.verified", "{\"model\":\"m\",\"digest\":\"A\",\"ok\":false}"},
        {"model.verified", "{\"model\":\"m\",\"digest\":\"A\",\"ok\":true}"},
        {"model.registered", "{\"model\":\"m\",\"digest\":\"B\"}"},
        {"model.verified", "{\"model\":\"m\",\"digest\":\"B\",\"ok\":true}"},
        {"model.registered", "{\"model\":\"m\",\"digest\":\"C\"}"},
    };
    static const char rd[] =
        "{\"route\":\"r\",\"chosen_model\":\"m\",\"candidates\":[\"m\"],"
        "\"fallback\":false,\"reason\":\"t\",\"outcome\":\"ok\"}";
    char dir[512];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    uint64_t last = 0, changes = 0;
    struct ldg_txn *t;
    (void)state;
    /* three route decisions before, between and after each model event */
    for (size_t i = 0; i <= sizeof ev / sizeof ev[0]; i++) {
        for (int k = 0; k < 3; k++)
            last = t_append(l, "route.decision", rd, NULL);
        if (i < sizeof ev / sizeof ev[0])
            last = t_append(l, ev[i][0], ev[i][1], NULL);
    }
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    for (int dir_ = 0; dir_ < 2; dir_++) {
        struct q_modelcache *mc = NULL;
        struct ldg_reader *r;
        struct q_mtext *prev = NULL;
        assert_int_equal(ldg_reader_new(&r, t), 0);
        for (uint64_t i = 1; i <= last; i++) {
            uint64_t seq = dir_ == 0 ? i : last + 1 - i;
            struct ldg_event e;
            const uint8_t *rec;
            size_t len;
            struct q_mtext *x = NULL;
            assert_int_equal(ldg_reader_event(r, seq, &e), 0);
            assert_int_equal(ldg_reader_body(r, seq, &rec, &len), 0);
            assert_int_equal(q_model_at_ref(&mc, t, &e, NULL, rec, len, &x), 0);
            if (strcmp(e.type, "route.decision") != 0) {
                assert_null(x);
                continue;
            }
            assert_non_null(x);
            {
                char *want = fresh_text(t, seq);
                assert_string_equal(x->s, want);
                if (prev != NULL && strcmp(prev->s, x->s) == 0)
                    assert_ptr_equal(prev, x); /* shared, not rendered again */
                else if (prev != NULL)
                    changes++;
                free(want);
            }
            q_mtext_drop(prev);
            prev = x;
        }
        q_mtext_drop(prev);
        ldg_reader_free(r);
        q_modelcache_free(mc);
    }
    /* the answer changed at each registration and each verification that
     * counts (A ok, B ok after B's registration), both ways */
    assert_true(changes >= 2 * 4);
    ldg_txn_abort(t);
    ldg_close(l);
    t_rmrf(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_at__answers_at_each_seq),
        cmocka_unit_test(test_model_at__a_cache_in_any_order_is_a_fresh_lookup),
        cmocka_unit_test(test_model_at__a_detached_cache_follows_the_snapshot),
        cmocka_unit_test(test_model_at__the_index_answers_as_the_scan),
        cmocka_unit_test(
            test_model_at__references_over_a_scan_are_fresh_lookups),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
