/*
 * test_codec_entry.c — ledger/codec_entry.c, the signed entry (format 1,
 * FORMAT.md 3): the encoding is canonical both ways — an entry decodes to
 * an envelope that encodes to the same bytes, and any damaged entry the
 * strict decoder still accepts is the one encoding of what it decodes to
 * (so no two byte strings are the same event); every cut-short entry is
 * refused by the strict and by the trusted decoder, never read past its
 * end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ledger/record_int.h"

static uint64_t
xs(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

struct strs {
    char subject[300], run[200], id[80], exe[64], unit[64];
    struct ldg_source src;
};

/* A random envelope, with or without each optional part. */
static void
random_env(uint64_t *st, struct ldg_envelope *env, struct strs *s)
{
    static const uint64_t nums[] = {0,     1,          127,           128,
                                    65535, 4294967296, UINT64_MAX - 1};
    memset(env, 0, sizeof *env);
    snprintf(s->subject, sizeof s->subject, "kind:%.*s", (int)(xs(st) % 250),
             "subject-subject-subject-subject-subject-"
             "subject-subject-subject-subject-subject-"
             "subject-subject-subject-subject-subject-"
             "subject-subject-subject-subject-subject-"
             "subject-subject-subject-subject-subject-"
             "subject-subject-subject-subject-subject-");
    snprintf(s->run, sizeof s->run, "R-%llu",
             (unsigned long long)(xs(st) % 100000));
    snprintf(s->id, sizeof s->id, "id-%llu",
             (unsigned long long)(xs(st) % 100000));
    snprintf(s->exe, sizeof s->exe, "/usr/bin/agent");
    snprintf(s->unit, sizeof s->unit, "agent.service");
    env->seq = nums[xs(st) % 7];
    env->ts_ns = nums[xs(st) % 7];
    env->type = xs(st) % 2 ? "route.decision" : "x.entry";
    env->subject = s->subject;
    env->run = xs(st) % 2 ? s->run : NULL;
    env->actor = "0123456789abcdef";
    env->has_parent = (int)(xs(st) % 2);
    env->parent = nums[xs(st) % 7];
    for (int i = 0; i < 32; i++)
        env->body_root[i] = (uint8_t)xs(st);
    if (xs(st) % 3 == 0)
        env->id = s->id;
    if (xs(st) % 3 == 0) {
        env->has_time = 1;
        env->time_ns = nums[xs(st) % 7];
    }
    if (xs(st) % 3 == 0) {
        s->src.uid = xs(st) % 70000;
        s->src.gid = xs(st) % 70000;
        s->src.pid = xs(st) % 4000000;
        s->src.exe = xs(st) % 2 ? s->exe : NULL;
        s->src.unit = xs(st) % 2 ? s->unit : NULL;
        env->source = &s->src;
    }
}

/* The envelope of a decoded event, for encoding it again. */
static void
env_of(const struct ldg_event *ev, struct ldg_envelope *env, struct strs *s)
{
    memset(env, 0, sizeof *env);
    env->seq = ev->seq;
    env->ts_ns = ev->ts_ns;
    env->type = ev->type;
    env->subject = ev->subject;
    env->run = ev->run[0] ? ev->run : NULL;
    env->actor = ev->actor;
    env->has_parent = ev->has_parent;
    env->parent = ev->parent;
    memcpy(env->body_root, ev->body_root, 32);
    if (ev->id_len > 0) {
        snprintf(s->id, sizeof s->id, "%.*s", (int)ev->id_len, ev->id);
        env->id = s->id;
    }
    env->has_time = ev->has_time;
    env->time_ns = ev->time_ns;
    if (ev->has_source) {
        s->src.uid = ev->src_uid;
        s->src.gid = ev->src_gid;
        s->src.pid = ev->src_pid;
        s->src.exe = NULL;
        s->src.unit = NULL;
        if (ev->src_exe_len > 0) {
            snprintf(s->exe, sizeof s->exe, "%.*s", (int)ev->src_exe_len,
                     ev->src_exe);
            s->src.exe = s->exe;
        }
        if (ev->src_unit_len > 0) {
            snprintf(s->unit, sizeof s->unit, "%.*s", (int)ev->src_unit_len,
                     ev->src_unit);
            s->src.unit = s->unit;
        }
        env->source = &s->src;
    }
}

/* Encodes env with prev and sig into b (released first). */
static int
encode(struct ldg_buf *b, const struct ldg_envelope *env,
       const uint8_t prev[32], const uint8_t sig[64])
{
    size_t map_len;
    int rc;
    ldg_buf_release(b);
    ldg_buf_init(b, LDG_ENTRY_MAX);
    if ((rc = ldg_entry_encode(b, env, &map_len)) < 0)
        return rc;
    return ldg_entry_finish(b, prev, sig);
}

/* The bytes decode (strictly) to an event that encodes to these bytes. */
static void
assert_canonical(const uint8_t *p, size_t n)
{
    struct ldg_event ev;
    struct ldg_envelope env;
    struct strs s;
    struct ldg_buf again = {0};
    assert_int_equal(ldg_event_decode(p, n, &ev), 0);
    env_of(&ev, &env, &s);
    assert_int_equal(encode(&again, &env, ev.prev, ev.sig), 0);
    assert_int_equal(again.len, n);
    assert_memory_equal(again.p, p, n);
    ldg_buf_release(&again);
}

static void
test_codec_entry__round_trips_and_damage_stays_canonical(void **state)
{
    uint64_t st = 4242;
    (void)state;
    for (int round = 0; round < 300; round++) {
        struct ldg_envelope env;
        struct strs s;
        struct ldg_buf e = {0};
        uint8_t prev[32], sig[64], *d;
        for (int i = 0; i < 32; i++)
            prev[i] = (uint8_t)xs(&st);
        for (int i = 0; i < 64; i++)
            sig[i] = (uint8_t)xs(&st);
        random_env(&st, &env, &s);
        assert_int_equal(encode(&e, &env, prev, sig), 0);
        assert_canonical(e.p, e.len);
        d = malloc(e.len);
        assert_non_null(d);
        for (int m = 0; m < 40; m++) {
            struct ldg_event ev;
            memcpy(d, e.p, e.len);
            d[xs(&st) % e.len] ^= (uint8_t)(1u << (xs(&st) % 8));
            if (ldg_event_decode(d, e.len, &ev) == 0)
                assert_canonical(d, e.len);
        }
        free(d);
        ldg_buf_release(&e);
    }
}

static void
test_codec_entry__every_cut_is_refused(void **state)
{
    uint64_t st = 99;
    (void)state;
    for (int round = 0; round < 30; round++) {
        struct ldg_envelope env;
        struct strs s;
        struct ldg_buf e = {0};
        uint8_t prev[32] = {1}, sig[64] = {2};
        random_env(&st, &env, &s);
        assert_int_equal(encode(&e, &env, prev, sig), 0);
        for (size_t n = 0; n < e.len; n++) {
            /* a copy of exactly n bytes: a read past it is ASan's to see */
            uint8_t *cut = malloc(n ? n : 1);
            struct ldg_event ev;
            memcpy(cut, e.p, n);
            assert_int_not_equal(ldg_event_decode(cut, n, &ev), 0);
            assert_int_not_equal(
                ldg_event_decode_ex(cut, n, &ev, LDG_DECODE_TRUSTED), 0);
            free(cut);
        }
        ldg_buf_release(&e);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_codec_entry__round_trips_and_damage_stays_canonical),
        cmocka_unit_test(test_codec_entry__every_cut_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
