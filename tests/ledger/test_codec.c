/*
 * test_codec.c — canonical msgpack: same input, same bytes; strict decode.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ledger/record_int.h"

static void
enc(const char *json, uint8_t **p, size_t *n)
{
    json_t *v = json_loads(json, JSON_DECODE_ANY, NULL);
    assert_non_null(v);
    assert_int_equal(ldg_json_to_msgpack(v, 1 << 20, p, n), 0);
    json_decref(v);
}

static void
test_codec__map_keys_sorted_bytewise(void **state)
{
    uint8_t *a, *b;
    size_t na, nb;
    (void)state;
    enc("{\"b\":1,\"a\":2,\"B\":3,\"aa\":4}", &a, &na);
    enc("{\"aa\":4,\"B\":3,\"a\":2,\"b\":1}", &b, &nb);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na);
    /* fixmap(4), then "B" (0x42) sorts before "a" (0x61) */
    assert_int_equal(a[0], 0x84);
    assert_int_equal(a[1], 0xa1);
    assert_int_equal(a[2], 'B');
    free(a);
    free(b);
}

static void
test_codec__integers_take_the_shortest_form(void **state)
{
    static const struct {
        const char *json;
        uint8_t first;
        size_t len;
    } cases[] = {{"0", 0x00, 1},          {"127", 0x7f, 1},  {"128", 0xcc, 2},
                 {"255", 0xcc, 2},        {"256", 0xcd, 3},  {"65536", 0xce, 5},
                 {"4294967296", 0xcf, 9}, {"-1", 0xff, 1},   {"-32", 0xe0, 1},
                 {"-33", 0xd0, 2},        {"-129", 0xd1, 3}, {"1.5", 0xcb, 9}};
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t *p;
        size_t n;
        enc(cases[i].json, &p, &n);
        assert_int_equal(p[0], cases[i].first);
        assert_int_equal(n, cases[i].len);
        free(p);
    }
}

static void
test_codec__round_trip_preserves_values(void **state)
{
    const char *j = "{\"s\":\"héllo\",\"i\":-5,\"u\":9007199254740993,"
                    "\"f\":0.25,\"t\":true,\"n\":null,"
                    "\"a\":[1,[2,{\"x\":\"y\"}]],\"e\":{}}";
    json_t *in = json_loads(j, 0, NULL), *out;
    uint8_t *p;
    size_t n;
    (void)state;
    assert_int_equal(ldg_json_to_msgpack(in, 1 << 20, &p, &n), 0);
    assert_int_equal(ldg_msgpack_to_json(p, n, &out), 0);
    assert_true(json_equal(in, out));
    assert_int_equal(json_integer_value(json_object_get(out, "u")),
                     9007199254740993LL);
    json_decref(in);
    json_decref(out);
    free(p);
}

static void
test_codec__strict_decoder_refuses_non_canonical(void **state)
{
    json_t *o;
    (void)state;
    /* uint8 holding 5: shortest is a fixint */
    assert_int_equal(ldg_msgpack_to_json((const uint8_t *)"\xcc\x05", 2, &o),
                     LDG_ECORRUPT);
    /* map with keys out of order {"b":1,"a":2} */
    assert_int_equal(ldg_msgpack_to_json((const uint8_t *)"\x82\xa1"
                                                          "b\x01\xa1"
                                                          "a\x02",
                                         7, &o),
                     LDG_ECORRUPT);
    /* duplicate keys */
    assert_int_equal(ldg_msgpack_to_json((const uint8_t *)"\x82\xa1"
                                                          "a\x01\xa1"
                                                          "a\x02",
                                         7, &o),
                     LDG_ECORRUPT);
    /* trailing byte */
    assert_int_equal(ldg_msgpack_to_json((const uint8_t *)"\x01\x02", 2, &o),
                     LDG_ECORRUPT);
    /* str8 for a 3-byte string (fixstr is shorter) */
    assert_int_equal(ldg_msgpack_to_json((const uint8_t *)"\xd9\x03"
                                                          "abc",
                                         5, &o),
                     LDG_ECORRUPT);
    /* float32 never appears in canonical output */
    assert_int_equal(
        ldg_msgpack_to_json((const uint8_t *)"\xca\x3f\x80\x00\x00", 5, &o),
        LDG_ECORRUPT);
    /* bin is not a JSON value */
    assert_int_equal(ldg_msgpack_to_json((const uint8_t *)"\xc4\x01x", 3, &o),
                     LDG_ECORRUPT);
    /* truncated */
    assert_int_equal(ldg_msgpack_to_json((const uint8_t *)"\x92\x01", 2, &o),
                     LDG_ECORRUPT);
}

static void
test_codec__size_ceiling_is_enforced(void **state)
{
    json_t *v = json_pack("{s:s}", "k", "0123456789012345678901234567890");
    uint8_t *p;
    size_t n;
    (void)state;
    assert_int_equal(ldg_json_to_msgpack(v, 16, &p, &n), LDG_ETOOBIG);
    json_decref(v);
}

static void
test_codec__deep_nesting_is_refused(void **state)
{
    json_t *v = json_array(), *cur = v;
    uint8_t *p;
    size_t n;
    (void)state;
    for (int i = 0; i < 200; i++) {
        json_t *a = json_array();
        json_array_append_new(cur, a);
        cur = a;
    }
    assert_int_equal(ldg_json_to_msgpack(v, 1 << 20, &p, &n), LDG_ETOOBIG);
    json_decref(v);
}

/* Stored msgpack nested past msgpack-c's parse stack is damage (corrupt),
 * never "out of memory"; shallow nesting decodes. Each level is a
 * one-element array (0x91), innermost an empty array (0x90). */
static void
test_codec__deep_stored_msgpack_is_corrupt_not_oom(void **state)
{
    static const struct {
        int depth, ok;
    } cases[] = {{1, 1}, {20, 1}, {29, 1}, {40, 0}, {64, 0}, {65, 0}, {500, 0}};
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t buf[600];
        json_t *out = NULL;
        int d = cases[i].depth, rc;
        memset(buf, 0x91, (size_t)d);
        buf[d] = 0x90;
        rc = ldg_mp_to_json_strict(buf, (size_t)d + 1, &out);
        if (cases[i].ok) {
            assert_int_equal(rc, 0);
            json_decref(out);
        } else {
            assert_int_equal(rc, LDG_ECORRUPT);
        }
    }
}

/* ------------------------------------------ display-path fast readers -- */

static uint64_t
xs(uint64_t *st)
{
    *st ^= *st << 13;
    *st ^= *st >> 7;
    *st ^= *st << 17;
    return *st;
}

static json_t *
rand_json(uint64_t *st, int depth)
{
    static const char *const strs[] = {"",
                                       "a",
                                       "é日本 ✓",
                                       "q\"b\\s/\t\n",
                                       "\x01\x1f\x7f",
                                       "0123456789abcdefXYZ",
                                       "longer than thirty-one bytes, str8"};
    static const json_int_t ints[] = {
        0,   1,     -1,    127,       128,       -32,
        -33, 65535, 65536, INT64_MAX, INT64_MIN, -2147483649LL};
    static const double reals[] = {0.5, -0.0, 1e300, 2.5e-7, 1e-300, 3.0, 1e16};
    switch (xs(st) % (depth > 3 ? 5 : 7)) {
    case 0:
        return json_string(strs[xs(st) % 7]);
    case 1:
        return json_integer(ints[xs(st) % 12]);
    case 2:
        return json_real(reals[xs(st) % 7]);
    case 3:
        return xs(st) % 2 ? json_true() : json_false();
    case 4:
        return json_null();
    case 5: {
        json_t *a = json_array();
        for (uint64_t i = xs(st) % 5; i > 0; i--)
            json_array_append_new(a, rand_json(st, depth + 1));
        return a;
    }
    default: {
        json_t *o = json_object();
        char k[8];
        for (uint64_t i = xs(st) % 5; i > 0; i--) {
            snprintf(k, sizeof k, "k%u", (unsigned)(xs(st) % 7));
            json_object_set_new(o, k, rand_json(st, depth + 1));
        }
        return o;
    }
    }
}

/* The body-as-text walker reads the stored payload byte by byte (no
 * msgpack-c): on well-formed payloads it must give exactly jansson's
 * compact text of the decoded body, and on damaged ones (bytes flipped,
 * cut short) either the same text as the strict decoder's body or
 * LDG_ECORRUPT, never a read out of bounds (run under ASan). */
static void
test_codec__json_text_walker_matches_jansson_and_survives_damage(void **state)
{
    uint64_t st = 0x1234567887654321u;
    size_t same = 0, refused = 0;
    (void)state;
    for (int round = 0; round < 300; round++) {
        struct ldg_field f[6];
        struct ldg_buf enc, txt;
        json_t *obj = json_object();
        size_t n = xs(&st) % 6;
        char *want;
        for (size_t i = 0; i < n; i++) {
            char name[8];
            snprintf(name, sizeof name, "f%zu", i);
            f[i].name = strdup(name);
            memset(f[i].salt, (int)i, 16);
            f[i].value = rand_json(&st, 1);
            json_object_set(obj, name, f[i].value);
        }
        ldg_buf_init(&enc, 1 << 20);
        assert_int_equal(ldg_codec_fields_encode(&enc, f, n), 0);
        ldg_buf_init(&txt, 1 << 20);
        assert_int_equal(ldg_codec_fields_json_text_shape(enc.p, enc.len, 0, &txt), 0);
        /* stored keys are sorted bytewise, as ldg_body_get inserts them */
        want = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
        assert_int_equal(txt.len, strlen(want));
        assert_memory_equal(txt.p, want, txt.len);
        free(want);
        /* damaged copies */
        for (int m = 0; m < 40; m++) {
            uint8_t *d = malloc(enc.len);
            size_t dl = enc.len, fn = 0;
            struct ldg_field *df = NULL;
            struct ldg_buf t2;
            int rc;
            memcpy(d, enc.p, enc.len);
            if (m % 5 == 4) { /* cut short, in a block of exactly that
                               * size so that ASan sees any over-read */
                dl = xs(&st) % enc.len;
                free(d);
                d = malloc(dl ? dl : 1);
                memcpy(d, enc.p, dl);
            } else
                for (int k = 0; k <= m % 3; k++)
                    d[xs(&st) % dl] ^= (uint8_t)(1u << (xs(&st) % 8));
            ldg_buf_init(&t2, 1 << 20);
            rc = ldg_codec_fields_json_text_shape(d, dl, 0, &t2);
            /* (jansson cannot say what invalid UTF-8 should look like:
             * only texts it reads back are compared) */
            json_t *back = rc == 0 ? json_loadb((const char *)t2.p, t2.len,
                                                JSON_DECODE_ANY, NULL)
                                   : NULL;
            json_decref(back);
            if (back != NULL && ldg_codec_fields_decode_shape(d, dl, 0, &df, &fn) == 0) {
                json_t *o2 = json_object();
                char *w2 = NULL;
                int ok = 1;
                for (size_t i = 0; i < fn; i++) /* jansson wants UTF-8 keys */
                    ok &= json_object_set(o2, df[i].name, df[i].value) == 0;
                if (ok)
                    w2 = json_dumps(o2, JSON_COMPACT);
                /* strict decode accepted it: the walker agrees */
                if (w2 != NULL && strlen(w2) == t2.len &&
                    memcmp(w2, t2.p, t2.len) == 0)
                    same++;
                else if (w2 != NULL)
                    fail_msg("walker and strict decoder disagree:\n%.*s\n%s",
                             (int)t2.len, (const char *)t2.p, w2);
                free(w2);
                json_decref(o2);
                ldg_fields_free(df, fn);
            } else if (rc != 0) {
                assert_int_equal(rc, LDG_ECORRUPT);
                refused++;
            }
            ldg_buf_release(&t2);
            free(d);
        }
        for (size_t i = 0; i < n; i++) {
            free(f[i].name);
            json_decref(f[i].value);
        }
        json_decref(obj);
        ldg_buf_release(&enc);
        ldg_buf_release(&txt);
    }
    assert_true(same > 0 && refused > 0);
}

/* The trusted decoder's in-place fast path gives the same envelope as the
 * strict decoder on every entry the writer can produce (with and without
 * run and parent, short and long strings, integers of every width), and
 * on damaged entries never accepts what the general path would refuse
 * with other fields. */
static void
test_codec__trusted_fast_decode_matches_strict(void **state)
{
    uint64_t st = 42;
    (void)state;
    for (int round = 0; round < 400; round++) {
        struct ldg_envelope env;
        struct ldg_event a, b;
        struct ldg_buf e;
        uint8_t prev[32], sig[64];
        char subject[400], run[300];
        size_t map_len, sl = xs(&st) % 300, rl = 1 + xs(&st) % 255;
        static const uint64_t nums[] = {0,
                                        1,
                                        127,
                                        128,
                                        255,
                                        256,
                                        65535,
                                        65536,
                                        4294967295u,
                                        4294967296u,
                                        1900000000123456789u,
                                        UINT64_MAX};
        memset(&env, 0, sizeof env);
        memset(subject, 's', sl);
        memcpy(subject, "kind:", 5 < sl ? 5 : sl);
        subject[sl] = '\0';
        memset(run, 'r', rl);
        run[rl] = '\0';
        env.seq = nums[xs(&st) % 12];
        env.ts_ns = nums[xs(&st) % 12];
        env.type = xs(&st) % 2 ? "route.decision" : "x.a";
        env.subject = subject;
        env.run = xs(&st) % 3 ? run : NULL;
        env.actor = "0123456789abcdef";
        env.has_parent = xs(&st) % 2;
        env.parent = nums[xs(&st) % 12];
        memset(env.body_root, 7, 32);
        memset(prev, 8, 32);
        memset(sig, 9, 64);
        ldg_buf_init(&e, LDG_ENTRY_MAX);
        assert_int_equal(ldg_entry_encode(&e, &env, &map_len), 0);
        assert_int_equal(ldg_entry_finish(&e, prev, sig), 0);
        assert_int_equal(ldg_event_decode(e.p, e.len, &a), 0);
        assert_int_equal(
            ldg_event_decode_ex(e.p, e.len, &b, LDG_DECODE_TRUSTED), 0);
        memset(a.leaf, 0, 32); /* trusted leaves it to the tree */
        assert_memory_equal(&a, &b, sizeof a);
        for (int m = 0; m < 20; m++) {
            uint8_t *d = malloc(e.len);
            int ra, rb;
            memcpy(d, e.p, e.len);
            d[xs(&st) % e.len] ^= (uint8_t)(1u << (xs(&st) % 8));
            ra = ldg_event_decode(d, e.len, &a);
            rb = ldg_event_decode_ex(d, e.len, &b, LDG_DECODE_TRUSTED);
            if (ra == 0) { /* strictly fine: trusted reads the same */
                assert_int_equal(rb, 0);
                memset(a.leaf, 0, 32);
                a.entry = b.entry;
                assert_memory_equal(&a, &b, sizeof a);
            }
            free(d);
        }
        ldg_buf_release(&e);
    }
}

/* The prefilter's needles are in every payload that has the field or the
 * value, and a payload without the field lacks the name needle. */
static void
test_codec__body_needles_are_in_the_payload(void **state)
{
    char model[] = "model", tokens[] = "tokens";
    struct ldg_field f[2];
    struct ldg_buf b;
    uint8_t *nn, *nv, *nx;
    size_t ln, lv, lx;
    (void)state;
    memset(f, 0, sizeof f);
    f[0].name = model;
    f[0].value = json_string("llama3");
    f[1].name = tokens;
    f[1].value = json_integer(300);
    memset(f[1].salt, 7, 16);
    ldg_buf_init(&b, 1 << 16);
    assert_int_equal(ldg_codec_fields_encode(&b, f, 2), 0);
    assert_int_equal(ldg_body_needle_name("tokens", &nn, &ln), 0);
    assert_int_equal(ldg_body_needle_value(f[1].value, &nv, &lv), 0);
    assert_int_equal(ldg_body_needle_name("token", &nx, &lx), 0);
    assert_non_null(memmem(b.p, b.len, nn, ln));
    assert_non_null(memmem(b.p, b.len, nv, lv));
    assert_null(memmem(b.p, b.len, nx, lx)); /* a prefix is another name */
    assert_int_equal(ldg_body_needle_name(NULL, &nx, &lx), LDG_EINVAL);
    assert_int_equal(ldg_body_needle_value(NULL, &nx, &lx), LDG_EINVAL);
    free(nn);
    free(nv);
    free(nx);
    json_decref(f[0].value);
    json_decref(f[1].value);
    ldg_buf_release(&b);
}

/* Format version 2: id, source time and source are encoded, decoded by
 * both decoders alike, and v says 2 exactly when one of them is there. */
static void
test_codec__version_2_fields_round_trip_and_v_is_strict(void **state)
{
    struct ldg_envelope env;
    struct ldg_source src = {1000, 100, 4242, "/usr/bin/agent",
                             "agent.service"};
    struct ldg_event a, b;
    struct ldg_buf e;
    uint8_t prev[32] = {0}, sig[64] = {0};
    size_t map_len;
    (void)state;
    memset(&env, 0, sizeof env);
    env.seq = 5;
    env.ts_ns = 1795380901000000000u;
    env.type = "x.a";
    env.subject = "host:local";
    env.actor = "0123456789abcdef";
    env.id = "req-1";
    env.has_time = 1;
    env.time_ns = 1795380900123456789u;
    env.source = &src;
    ldg_buf_init(&e, LDG_ENTRY_MAX);
    assert_int_equal(ldg_entry_encode(&e, &env, &map_len), 0);
    assert_int_equal(ldg_entry_finish(&e, prev, sig), 0);
    assert_int_equal(ldg_event_decode(e.p, e.len, &a), 0);
    assert_int_equal(a.id_len, 5);
    assert_memory_equal(a.id, "req-1", 5);
    assert_true(a.has_time && a.time_ns == 1795380900123456789u);
    assert_true(a.has_source && a.src_uid == 1000 && a.src_gid == 100 &&
                a.src_pid == 4242);
    assert_int_equal(a.src_exe_len, strlen("/usr/bin/agent"));
    assert_memory_equal(a.src_exe, "/usr/bin/agent", a.src_exe_len);
    assert_memory_equal(a.src_unit, "agent.service", a.src_unit_len);
    assert_int_equal(ldg_event_decode_ex(e.p, e.len, &b, LDG_DECODE_TRUSTED),
                     0);
    memset(a.leaf, 0, 32);
    assert_memory_equal(&a, &b, sizeof a);
    /* the map ends with "v": 2; saying 1 is refused */
    assert_int_equal(e.p[1 + map_len - 1], 2);
    e.p[1 + map_len - 1] = 1;
    assert_int_equal(ldg_event_decode(e.p, e.len, &a), LDG_ECORRUPT);
    ldg_buf_release(&e);

    /* without the fields: v 1, and saying 2 is refused */
    env.id = NULL;
    env.has_time = 0;
    env.source = NULL;
    ldg_buf_init(&e, LDG_ENTRY_MAX);
    assert_int_equal(ldg_entry_encode(&e, &env, &map_len), 0);
    assert_int_equal(ldg_entry_finish(&e, prev, sig), 0);
    assert_int_equal(e.p[1 + map_len - 1], 1);
    assert_int_equal(ldg_event_decode(e.p, e.len, &a), 0);
    assert_int_equal(a.id_len, 0);
    assert_false(a.has_time || a.has_source);
    e.p[1 + map_len - 1] = 2;
    assert_int_equal(ldg_event_decode(e.p, e.len, &a), LDG_ECORRUPT);
    e.p[1 + map_len - 1] = 3;
    assert_int_equal(ldg_event_decode(e.p, e.len, &a), LDG_EVERSION);
    ldg_buf_release(&e);

    /* the test vector of FORMAT.md section 3.1 */
    {
        static const char vec[] =
            "8aa56163746f72b030313233343536373839616263646566a4626f6479c420ababababababababababababababababababababababababababababababababa26964a57265712d37a373657107a6736f7572636585a3657865ae2f7573722f62696e2f6167656e74a3676964cd03e8a3706964cd1092a3756964cd03e8a4756e6974ad6167656e742e73657276696365a77375626a656374aa686f73743a6c6f63616ca474696d65cf18ea796aaad2cd00a27473cf18ea796ac8a03200a474797065a9782e6578616d706c65a17602";
        struct ldg_source vs = {1000, 1000, 4242, "/usr/bin/agent",
                                "agent.service"};
        char hex[2 * 300 + 1];
        memset(&env, 0, sizeof env);
        env.seq = 7;
        env.ts_ns = 1795380901000000000u;
        env.type = "x.example";
        env.subject = "host:local";
        env.actor = "0123456789abcdef";
        memset(env.body_root, 0xab, 32);
        env.id = "req-7";
        env.has_time = 1;
        env.time_ns = 1795380900500000000u;
        env.source = &vs;
        ldg_buf_init(&e, LDG_ENTRY_MAX);
        assert_int_equal(ldg_entry_encode(&e, &env, &map_len), 0);
        assert_int_equal(map_len, 207);
        ldg_hex(hex, e.p + 1, map_len);
        assert_string_equal(hex, vec);
        ldg_buf_release(&e);
    }
    /* a source without exe and unit is fine; an empty id is not written */
    src.exe = NULL;
    src.unit = NULL;
    env.source = &src;
    env.id = "";
    ldg_buf_init(&e, LDG_ENTRY_MAX);
    assert_int_equal(ldg_entry_encode(&e, &env, &map_len), 0);
    assert_int_equal(ldg_entry_finish(&e, prev, sig), 0);
    assert_int_equal(ldg_event_decode(e.p, e.len, &a), 0);
    assert_true(a.has_source && a.src_exe_len == 0 && a.src_unit_len == 0);
    assert_int_equal(a.id_len, 0);
    ldg_buf_release(&e);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codec__map_keys_sorted_bytewise),
        cmocka_unit_test(test_codec__integers_take_the_shortest_form),
        cmocka_unit_test(test_codec__round_trip_preserves_values),
        cmocka_unit_test(test_codec__strict_decoder_refuses_non_canonical),
        cmocka_unit_test(test_codec__size_ceiling_is_enforced),
        cmocka_unit_test(test_codec__deep_nesting_is_refused),
        cmocka_unit_test(test_codec__deep_stored_msgpack_is_corrupt_not_oom),
        cmocka_unit_test(
            test_codec__json_text_walker_matches_jansson_and_survives_damage),
        cmocka_unit_test(test_codec__trusted_fast_decode_matches_strict),
        cmocka_unit_test(test_codec__body_needles_are_in_the_payload),
        cmocka_unit_test(
            test_codec__version_2_fields_round_trip_and_v_is_strict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
