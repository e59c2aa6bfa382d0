/*
 * test_match.c — predicate evaluation (query/match.c): value comparison
 * rules, globs, the byte prefilter on stored body records (never a false
 * negative, rejects records lacking the bytes, lets compressed records
 * through), and grep's smart case.
 */
#include "ledger/record_int.h"
#include "query/query_int.h"
#include "tests/query/qtest.h"

static struct ldg_query *
compile1(const char *term)
{
    struct ldg_query *q = NULL;
    char err[256];
    const char *t[1] = {term};
    assert_int_equal(ldg_query_compile(&q, 1, (char *const *)(uintptr_t)t, NULL,
                                       NULL, err, sizeof err),
                     0);
    return q;
}

static int
vm(const char *term, const char *json)
{
    struct ldg_query *q = compile1(term);
    json_t *v = json_loads(json, JSON_DECODE_ANY, NULL);
    int r;
    assert_non_null(v);
    r = q_value_match(v, &q->g[0].p[0].v[0]);
    json_decref(v);
    ldg_query_free(q);
    return r;
}

static void
test_match__values_compare_by_type(void **state)
{
    (void)state;
    assert_true(vm("body.x=ok", "\"ok\""));
    assert_false(vm("body.x=ok", "\"OK\""));
    assert_false(vm("body.x=ok", "\"ok \""));
    assert_true(vm("body.x=910", "910"));
    assert_true(vm("body.x=910", "910.0"));
    assert_true(vm("body.x=910.0", "910"));
    assert_true(vm("body.x=0.95", "0.95"));
    assert_false(vm("body.x=0.95", "0.9500001"));
    assert_true(vm("body.x=-3", "-3"));
    assert_true(vm("body.x=1e3", "1000"));
    assert_true(vm("body.x=910", "\"910\""));
    assert_false(vm("body.x=91", "910"));
    assert_true(vm("body.x=true", "true"));
    assert_false(vm("body.x=true", "false"));
    assert_true(vm("body.x=false", "false"));
    assert_true(vm("body.x=null", "null"));
    assert_false(vm("body.x=null", "\"\""));
    assert_true(vm("body.x=", "\"\""));
    assert_true(vm("body.x=chat", "[\"tools\",\"chat\"]"));
    assert_true(vm("body.x=2", "[1,2]"));
    assert_false(vm("body.x=2", "[1,[2]]"));
    assert_false(vm("body.x=a", "{\"a\":1}"));
}

static void
test_match__globs_need_the_whole_string(void **state)
{
    struct ldg_query *q = compile1("type=route.*");
    const struct qvalue *v = &q->g[0].p[0].v[0];
    (void)state;
    assert_true(q_str_match(v, "route.decision"));
    assert_true(q_str_match(v, "route."));
    assert_false(q_str_match(v, "router.x"));
    assert_false(q_str_match(v, "x.route.decision"));
    ldg_query_free(q);
    q = compile1("type=*.decision");
    assert_true(q_str_match(&q->g[0].p[0].v[0], "route.decision"));
    ldg_query_free(q);
    q = compile1("subject=pack:p[12]");
    assert_true(q_str_match(&q->g[0].p[0].v[0], "pack:p1"));
    assert_false(q_str_match(&q->g[0].p[0].v[0], "pack:p3"));
    ldg_query_free(q);
}

/* A stored record: flag 0, map { name: [bin8(16) salt, value] } (sorted). */
static size_t
record(uint8_t *out, const char *const *names, const char *const *values,
       size_t n, int flag)
{
    size_t len = 0;
    out[len++] = (uint8_t)flag;
    out[len++] = (uint8_t)(0x80 | n);
    for (size_t i = 0; i < n; i++) {
        uint8_t *enc;
        size_t el;
        json_t *nm = json_string(names[i]);
        json_t *v = json_loads(values[i], JSON_DECODE_ANY, NULL);
        assert_int_equal(ldg_json_to_msgpack(nm, 1024, &enc, &el), 0);
        memcpy(out + len, enc, el);
        len += el;
        free(enc);
        out[len++] = 0x92;
        out[len++] = 0xc4;
        out[len++] = 0x10;
        memset(out + len, 0x5a, 16);
        len += 16;
        assert_int_equal(ldg_json_to_msgpack(v, 1024, &enc, &el), 0);
        memcpy(out + len, enc, el);
        len += el;
        free(enc);
        json_decref(nm);
        json_decref(v);
    }
    return len;
}

static int
pf(const char *term, const uint8_t *rec, size_t len)
{
    struct ldg_query *q = compile1(term);
    int r = q_prefilter(&q->g[0].p[0], NULL, rec, len);
    ldg_query_free(q);
    return r;
}

static void
test_match__prefilter_never_rejects_a_match(void **state)
{
    static const char *const names[] = {"latency_ms", "ok", "r", "status",
                                        "tags"};
    static const char *const vals[] = {"910", "true", "0.5", "\"failed\"",
                                       "[\"a\",\"chat\"]"};
    uint8_t rec[1024];
    size_t len = record(rec, names, vals, 5, 0);
    (void)state;
    assert_true(pf("body.status=failed", rec, len));
    assert_true(pf("body.latency_ms=910", rec, len));
    assert_true(pf("body.latency_ms=910.0", rec, len));
    assert_true(pf("body.ok=true", rec, len));
    assert_true(pf("body.r=0.5", rec, len));
    assert_true(pf("body.tags=chat", rec, len));
    /* the bytes are absent: cannot match */
    assert_false(pf("body.status=skipped", rec, len));
    assert_false(pf("body.latency_ms=911", rec, len));
    assert_false(pf("body.missing=failed", rec, len));
    assert_false(pf("pack=pdf-ops", rec, len));
    /* the value's bytes occur elsewhere (another field's value, or the
     * name "ok"): passes, and decoding decides */
    assert_true(pf("body.ok=failed", rec, len));
    assert_true(pf("body.status=ok", rec, len));
    /* a near miss before the bytes (the same first byte, then another):
     * found past it; at the record's very end: found; one byte short of
     * the end: not */
    {
        static const char *const n2[] = {"a", "b"};
        static const char *const v2[] = {"\"failes\"", "\"failed\""};
        uint8_t r2[256];
        size_t l2 = record(r2, n2, v2, 2, 0);
        assert_true(pf("body.b=failed", r2, l2));
        assert_false(pf("body.b=failed", r2, l2 - 1));
        assert_false(pf("body.b=faile", r2, 1));
    }
    /* compressed or unknown records cannot be judged by bytes */
    rec[0] = 1;
    assert_true(pf("body.status=ok", rec, len));
    rec[0] = 7;
    assert_true(pf("body.status=ok", rec, len));
}

static void
test_match__prefilter_for_pack_model_route_fields(void **state)
{
    static const char *const n1[] = {"chosen_model", "route"};
    static const char *const v1[] = {"\"m1\"", "\"r1\""};
    uint8_t rec[512];
    size_t len = record(rec, n1, v1, 2, 0);
    (void)state;
    assert_true(pf("model=m1", rec, len));
    assert_true(pf("route=r1", rec, len));
    assert_false(pf("model=m2", rec, len));
    assert_false(pf("pack=m1", rec, len));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match__values_compare_by_type),
        cmocka_unit_test(test_match__globs_need_the_whole_string),
        cmocka_unit_test(test_match__prefilter_never_rejects_a_match),
        cmocka_unit_test(test_match__prefilter_for_pack_model_route_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
