/*
 * test_common.c — helpers shared by export/ (export/common.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tests/export/helpers.h"

static void
test_common__envelope_json_shows_the_decoded_entry(void **state)
{
    char *dir = tmp_dir(), hex[129];
    struct ldg_ledger *l = new_ledger(dir, "l");
    struct ldg_txn *t;
    struct ldg_event ev;
    json_t *o;
    uint64_t seq =
        add(l, "run.started", NULL, "{\"run\":\"R9\",\"pack\":\"p\"}");
    (void)state;

    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_event_get(t, seq, &ev), 0);
    o = envelope_json(&ev);
    for (size_t i = 0; envelope_keys[i]; i++) {
        static const char *const absent[] = {
            "parent", "recorded_ts",  "recorded_time", "clock",    "id",
            "source", "claim_digest", "seal",          "seal_leaf"};
        json_t *v = json_object_get(o, envelope_keys[i]);
        int want_absent = 0;
        for (size_t j = 0; j < sizeof absent / sizeof absent[0]; j++)
            want_absent |= strcmp(envelope_keys[i], absent[j]) == 0;
        if (want_absent) /* a format version 1 entry shows as it always did */
            assert_null(v);
        else
            assert_true(json_is_string(v));
    }
    assert_int_equal(json_object_size(o), 11);
    assert_string_equal(json_string_value(json_object_get(o, "run")), "R9");
    assert_string_equal(json_string_value(json_object_get(o, "type")),
                        "run.started");
    ldg_hex(hex, ev.leaf, 32);
    assert_string_equal(json_string_value(json_object_get(o, "leaf_hash")),
                        hex);
    ldg_hex(hex, ev.sig, 64);
    assert_string_equal(json_string_value(json_object_get(o, "signature")),
                        hex);
    json_decref(o);
    ldg_txn_abort(t);
    ldg_close(l);
    rm_rf(dir);
    free(dir);
}

/* A format version 2 entry: "ts"/"time" the source's claim, the ledger's
 * time as "recorded_ts"/"recorded_time", "clock", "id" and "source"; the
 * text writer gives the same bytes as json_dumps of envelope_json. */
static void
test_common__envelope_of_a_version_2_entry(void **state)
{
    char *dir = tmp_dir(), tbuf[64];
    struct ldg_ledger *l = new_ledger(dir, "l");
    struct ldg_source src = {1000, 100, 4242, "/usr/bin/agent",
                             "agent.service"};
    struct ldg_event_in in;
    struct ldg_txn *t;
    struct ldg_event ev;
    struct ldg_buf b;
    json_t *o, *src_o;
    char *dumped;
    uint64_t seq = 0;
    (void)state;

    memset(&in, 0, sizeof in);
    in.type = "x.step";
    in.id = "req-7";
    in.has_time = 1;
    in.time_ns = 1767225600123456789ull;
    in.source = &src;
    assert_int_equal(ldg_append(l, &in, &seq), 0);
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_event_get(t, seq, &ev), 0);
    o = envelope_json(&ev);
    assert_string_equal(json_string_value(json_object_get(o, "ts")),
                        "1767225600123456789");
    assert_string_equal(json_string_value(json_object_get(o, "time")),
                        "2026-01-01T00:00:00.123456789Z");
    snprintf(tbuf, sizeof tbuf, "%llu", (unsigned long long)ev.ts_ns);
    assert_string_equal(json_string_value(json_object_get(o, "recorded_ts")),
                        tbuf);
    ldg_time_rfc3339_ns(tbuf, sizeof tbuf, ev.ts_ns);
    assert_string_equal(json_string_value(json_object_get(o, "recorded_time")),
                        tbuf);
    assert_string_equal(json_string_value(json_object_get(o, "clock")),
                        "source");
    assert_string_equal(json_string_value(json_object_get(o, "id")), "req-7");
    src_o = json_object_get(o, "source");
    assert_int_equal(json_integer_value(json_object_get(src_o, "uid")), 1000);
    assert_int_equal(json_integer_value(json_object_get(src_o, "gid")), 100);
    assert_int_equal(json_integer_value(json_object_get(src_o, "pid")), 4242);
    assert_string_equal(json_string_value(json_object_get(src_o, "exe")),
                        "/usr/bin/agent");
    assert_string_equal(json_string_value(json_object_get(src_o, "unit")),
                        "agent.service");
    memset(&b, 0, sizeof b);
    gb_envelope(&b, &ev);
    ldg_buf_add(&b, "}", 1); /* ldg_buf keeps a NUL after the text */
    assert_int_equal(b.err, 0);
    dumped = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    assert_string_equal(b.s, dumped);
    free(dumped);
    free(b.p);
    json_decref(o);
    ldg_txn_abort(t);
    ldg_close(l);
    rm_rf(dir);
    free(dir);
}

/* A format 2 (sealed) entry: no signature; its claim digest, its seal
 * and its place in it, as `ledger show -o json` gives them. */
static void
test_common__envelope_of_a_sealed_entry(void **state)
{
    char *dir = tmp_dir(), path[4200], err[512], hex[65];
    struct ldg_options o;
    struct ldg_ledger *l = NULL;
    struct ldg_txn *t;
    struct ldg_event ev;
    json_t *env;
    uint64_t seq;
    (void)state;

    memset(&o, 0, sizeof o);
    o.flags = LDG_NOSYNC;
    o.format = 2;
    snprintf(path, sizeof path, "%s/l2", dir);
    assert_int_equal(ldg_init(path, NULL, &o, err, sizeof err), 0);
    assert_int_equal(ldg_open(&l, path, &o, err, sizeof err), 0);
    seq = add(l, "run.started", NULL, "{\"run\":\"R9\",\"pack\":\"p\"}");
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_event_get(t, seq, &ev), 0);
    assert_true(ev.sealed);
    env = envelope_json(&ev);
    assert_null(json_object_get(env, "signature"));
    ldg_hex(hex, ev.digest, 32);
    assert_string_equal(json_string_value(json_object_get(env, "claim_digest")),
                        hex);
    assert_string_equal(json_string_value(json_object_get(env, "seal")), "1");
    assert_string_equal(json_string_value(json_object_get(env, "seal_leaf")),
                        "0");
    json_decref(env);
    ldg_txn_abort(t);
    ldg_close(l);
    rm_rf(dir);
    free(dir);
}

/* --out DIR says it is a directory and what --out names, not "already
 * exists" as if a bundle were there; a free path is 0. */
static void
test_common__out_check_names_a_directory(void **state)
{
    char *dir = tmp_dir(), path[4200];
    struct ldg_ledger *l = new_ledger(dir, "l");
    FILE *f;
    (void)state;

    snprintf(path, sizeof path, "%s/r1.bundle", dir);
    assert_int_equal(ldg_export_out_check(l, path, 0), 0);
    assert_int_equal(ldg_export_out_check(l, dir, 0), LDG_EEXIST);
    assert_non_null(strstr(ldg_errmsg(l), "is a directory"));
    assert_non_null(strstr(ldg_errmsg(l), "bundle file"));
    /* the path and the problem; the option is the command line's word */
    assert_ptr_equal(strstr(ldg_errmsg(l), dir), ldg_errmsg(l));
    assert_null(strstr(ldg_errmsg(l), "--out"));
    assert_int_equal(ldg_export_out_check(l, dir, 1), LDG_EEXIST);
    assert_non_null(strstr(ldg_errmsg(l), "segment file"));
    f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(ldg_export_out_check(l, path, 0), LDG_EEXIST);
    assert_non_null(strstr(ldg_errmsg(l), "already exists"));
    assert_int_equal(ldg_export_out_check(l, "", 0), LDG_EINVAL);
    ldg_close(l);
    rm_rf(dir);
    free(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_common__envelope_json_shows_the_decoded_entry),
        cmocka_unit_test(test_common__envelope_of_a_version_2_entry),
        cmocka_unit_test(test_common__envelope_of_a_sealed_entry),
        cmocka_unit_test(test_common__out_check_names_a_directory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
