/*
 * test_compile.c — terms into a query (query/compile.c): grouping, merging
 * of one field's values, predicate order, globs, seq ranges, numbers, the
 * needles of body predicates, every malformed input with its message, and
 * the notes on types the vocabulary does not have.
 */
#include "query/query_int.h"
#include "tests/query/qtest.h"

static struct ldg_query *
compile_ok(int n, const char *const *terms)
{
    struct ldg_query *q = NULL;
    char err[512];
    int rc = ldg_query_compile(&q, n, (char *const *)(uintptr_t)terms, NULL,
                               NULL, err, sizeof err);
    if (rc != 0)
        fail_msg("compile %s: %s", n ? terms[0] : "(none)", err);
    return q;
}

static void
compile_bad(int n, const char *const *terms, const char *since,
            const char *until, const char *why)
{
    struct ldg_query *q = NULL;
    char err[512] = "";
    int rc = ldg_query_compile(&q, n, (char *const *)(uintptr_t)terms, since,
                               until, err, sizeof err);
    assert_int_equal(rc, LDG_EBADINPUT);
    assert_null(q);
    if (strstr(err, why) == NULL)
        fail_msg("message '%s' lacks '%s'", err, why);
}

#define OK(...) compile_ok(NTERMS(__VA_ARGS__), TERMS(__VA_ARGS__))
#define BAD(why, ...)                                                          \
    compile_bad(NTERMS(__VA_ARGS__), TERMS(__VA_ARGS__), NULL, NULL, why)

static void
test_compile__same_field_merges_different_fields_sort_envelope_first(
    void **state)
{
    struct ldg_query *q = OK("body.status=ok", "type=a", "run=R", "type=b",
                             "body.status=x", "body.n=1", "pack=p", "seq=3");
    (void)state;
    assert_int_equal(q->ng, 1);
    assert_int_equal(q->g[0].n, 6);
    assert_int_equal(q->g[0].p[0].f, QF_SEQ);
    assert_int_equal(q->g[0].p[1].f, QF_RUN);
    assert_int_equal(q->g[0].p[2].f, QF_TYPE);
    assert_int_equal(q->g[0].p[2].nv, 2);
    assert_int_equal(q->g[0].p[3].f, QF_PACK);
    assert_int_equal(q->g[0].p[4].f, QF_BODY);
    assert_int_equal(q->g[0].p[5].f, QF_BODY);
    assert_true(q->g[0].needs_body);
    ldg_query_free(q);
}

static void
test_compile__plus_makes_groups_and_no_terms_match_all(void **state)
{
    struct ldg_query *q = OK("type=a", "+", "run=R", "+", "seq=1");
    (void)state;
    assert_int_equal(q->ng, 3);
    assert_false(q->g[0].needs_body);
    ldg_query_free(q);
    q = compile_ok(0, NULL);
    assert_int_equal(q->ng, 0);
    assert_int_equal(q->since_ns, 0);
    assert_int_equal(q->until_ns, UINT64_MAX);
    ldg_query_free(q);
}

static void
test_compile__globs_and_literal_prefix(void **state)
{
    struct ldg_query *q = OK("type=route.*", "subject=pack:p?", "type=x.c");
    (void)state;
    assert_true(q->g[0].p[0].v[0].glob);
    assert_int_equal(q->g[0].p[0].v[0].prefix, 6);
    assert_false(q->g[0].p[0].v[1].glob);
    assert_true(q->g[0].p[1].v[0].glob);
    assert_int_equal(q->g[0].p[1].v[0].prefix, 6);
    ldg_query_free(q);
}

static void
test_compile__seq_forms(void **state)
{
    struct ldg_query *q = OK("seq=7", "seq=10..20", "seq=30..", "seq=..4");
    const struct qvalue *v;
    (void)state;
    v = q->g[0].p[0].v;
    assert_int_equal(v[0].lo, 7);
    assert_int_equal(v[0].hi, 7);
    assert_int_equal(v[1].lo, 10);
    assert_int_equal(v[1].hi, 20);
    assert_int_equal(v[2].lo, 30);
    assert_int_equal(v[2].hi, UINT64_MAX);
    assert_int_equal(v[3].lo, 0);
    assert_int_equal(v[3].hi, 4);
    ldg_query_free(q);
}

static void
test_compile__body_values_get_every_encoding_they_may_take(void **state)
{
    struct ldg_query *q = OK("body.n=910", "body.r=0.5", "body.s=ok",
                             "body.b=true", "body.a.b=1");
    const struct qpred *p = q->g[0].p;
    (void)state;
    /* body.n=910: string, integer and float64 encodings */
    assert_int_equal(p[0].nv, 1);
    assert_true(p[0].v[0].is_int);
    assert_int_equal(p[0].v[0].nvneedles, 3);
    assert_int_equal(p[0].v[0].vneedles[1].n, 3); /* cd 03 8e */
    assert_int_equal(p[0].v[0].vneedles[1].p[0], 0xcd);
    /* the name needle: a1 'n' (a salted map's [salt, value] pair or a
     * seeded map's value follows) */
    assert_int_equal(p[0].nnneedles, 1);
    assert_int_equal(p[0].nneedles[0].n, 2);
    assert_memory_equal(p[0].nneedles[0].p, "\xa1n", 2);
    assert_true(p[1].v[0].is_num && !p[1].v[0].is_int);
    assert_int_equal(p[1].v[0].nvneedles, 2);
    assert_false(p[2].v[0].is_num);
    assert_int_equal(p[2].v[0].nvneedles, 1);
    assert_int_equal(p[3].v[0].nvneedles, 2); /* "true" and true */
    assert_int_equal(p[4].npath, 2);
    assert_string_equal(p[4].path[0], "a");
    assert_string_equal(p[4].path[1], "b");
    ldg_query_free(q);
    q = OK("model=m");
    assert_int_equal(q->g[0].p[0].nnneedles, 2); /* model, chosen_model */
    ldg_query_free(q);
}

static void
test_compile__malformed_terms_say_what_is_wrong(void **state)
{
    static char big[700];
    (void)state;
    BAD("expected FIELD=VALUE", "route");
    BAD("expected FIELD=VALUE", "=x");
    BAD("unknown field 'colour'", "colour=red");
    BAD("unknown field", "body=x");
    BAD("expected seq=N or seq=A..B", "seq=abc");
    BAD("expected seq=N or seq=A..B", "seq=..");
    BAD("expected seq=N or seq=A..B", "seq=1..2..3");
    BAD("expected seq=N or seq=A..B", "seq=99999999999999999999999");
    BAD("the range is empty", "seq=9..3");
    BAD("'+' must separate two groups", "+", "type=a");
    BAD("'+' must separate two groups", "type=a", "+");
    BAD("'+' must separate two groups", "type=a", "+", "+", "type=b");
    BAD("empty field name", "body.a..b=1");
    /* operators other than = and != are refused, never read as part of a
     * field name (which would silently match nothing) */
    BAD("only FIELD=VALUE and FIELD!=VALUE", "body.n>=3");
    BAD("only FIELD=VALUE and FIELD!=VALUE", "body.n<=3");
    BAD("only FIELD=VALUE and FIELD!=VALUE", "body.name~=x");
    BAD("only FIELD=VALUE and FIELD!=VALUE", "body.a!!=x");
    BAD("only FIELD=VALUE and FIELD!=VALUE", "body.tags[0]=x");
    BAD("unknown field 'status'", "status!=ok");
    BAD("no field name before '!='", "!=x");
    /* a trace id that could never match is refused, not an empty answer */
    BAD("a trace id is 32 hex digits", "trace=");
    BAD("a trace id is 32 hex digits", "trace=xyz");
    BAD("a trace id is 32 hex digits", "trace=4bf92f3577b34da6a3ce929d0e0e473");
    BAD("a trace id is 32 hex digits",
        "trace!=4bf92f3577b34da6a3ce929d0e0e4736g");
    memset(big, 'v', sizeof big - 1);
    memcpy(big, "run=", 4);
    BAD("longer than", big);
}

static void
test_compile__times_are_checked(void **state)
{
    struct ldg_query *q = NULL;
    char err[512];
    (void)state;
    compile_bad(0, NULL, "next tuesday", NULL,
                "--since: bad time 'next tuesday'");
    compile_bad(0, NULL, NULL, "2026-02-30", "--until: bad time '2026-02-30'");
    compile_bad(0, NULL, "yesterday", "garbage", "--until: bad time 'garbage'");
    compile_bad(0, NULL, "@200", "@100", "is after --until");
    assert_int_equal(
        ldg_query_compile(&q, 0, NULL, "@100", "@200.5", err, sizeof err), 0);
    assert_int_equal(q->since_ns, 100000000000ull);
    assert_int_equal(q->until_ns, 200500000000ull);
    ldg_query_free(q);
    assert_int_equal(
        ldg_query_compile(NULL, 0, NULL, NULL, NULL, err, sizeof err),
        LDG_EINVAL);
    ldg_query_free(NULL);
}

static void
test_compile__unknown_types_get_a_note_once(void **state)
{
    struct ldg_query *q;
    (void)state;
    /* known, extension, glob, other fields, empty: no note */
    q = OK("type=run.started", "type!=x.mine", "type=run.*", "run=startd",
           "type=", "+", "type=model.state");
    assert_null(ldg_query_notes(q));
    ldg_query_free(q);
    /* a typo near a type, one far from all, the same typo again (as
     * --deps repeats a group's terms): one line each, in term order */
    q = OK("type=run.startd", "+", "type!=nothing.here", "+",
           "type=run.startd");
    assert_string_equal(ldg_query_notes(q),
                        "no event type 'run.startd' in the vocabulary (did "
                        "you mean run.started?)\n"
                        "no event type 'nothing.here' in the vocabulary "
                        "(docs/VOCABULARY.md; extension types start with x.)");
    ldg_query_free(q);
    assert_null(ldg_query_notes(NULL));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_compile__same_field_merges_different_fields_sort_envelope_first),
        cmocka_unit_test(
            test_compile__plus_makes_groups_and_no_terms_match_all),
        cmocka_unit_test(test_compile__globs_and_literal_prefix),
        cmocka_unit_test(test_compile__seq_forms),
        cmocka_unit_test(
            test_compile__body_values_get_every_encoding_they_may_take),
        cmocka_unit_test(test_compile__malformed_terms_say_what_is_wrong),
        cmocka_unit_test(test_compile__times_are_checked),
        cmocka_unit_test(test_compile__unknown_types_get_a_note_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
