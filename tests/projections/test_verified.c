/*
 * test_verified.c — proj.verified, the projections' index of successful
 * model verifications (projections/verified.c): fed by single appends
 * and by the bulk writer (which hands appliers body records), its keys
 * exactly what the log calls for; ledger rebuild --check
 * (ldg_projections_check) finds a key taken away or one added, and
 * ledger rebuild (the models projection) puts it right.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "projections/projections.h"
#include "projections/verified.h"
#include "tests/support/support.h"

static int
seqs_of(void *ctx, uint64_t seq)
{
    char *out = ctx;
    snprintf(out + strlen(out), 64 - strlen(out), "%llu,",
             (unsigned long long)seq);
    return 0;
}

static void
expect_walk(struct ldg_ledger *l, const char *model, const char *d,
            const char *want, uint64_t mark)
{
    struct ldg_txn *t;
    char got[64] = "";
    uint64_t upto = 0;
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    assert_int_equal(
        ldg_projections_verified_walk(t, model, d, &upto, seqs_of, got), 0);
    ldg_txn_abort(t);
    assert_string_equal(got, want);
    assert_int_equal(upto, mark);
}

/* The "what" of each difference ldg_projections_check finds in the
 * models projection and its index, one a line. */
static char *
check_models(struct ldg_ledger *l)
{
    static char buf[2048];
    json_t *diffs = NULL, *d;
    uint64_t ndiff = 0;
    size_t i, n = 0;
    assert_int_equal(ldg_projections_check(l, ldg_projections_bit("models"),
                                           NULL, NULL, &diffs, &ndiff),
                     0);
    buf[0] = '\0';
    json_array_foreach(diffs, i, d)
    {
        n += (size_t)snprintf(
            buf + n, sizeof buf - n, "%s %s: %s\n",
            json_string_value(json_object_get(d, "projection")),
            json_string_value(json_object_get(d, "key")),
            json_string_value(json_object_get(d, "what")));
    }
    assert_int_equal(json_array_size(diffs), ndiff);
    json_decref(diffs);
    return buf;
}

static void
key_put(struct ldg_ledger *l, const char *subject, const char *digest,
        uint64_t seq, int del)
{
    struct ldg_txn *t;
    uint8_t k[128];
    size_t sn = strlen(subject), dn = strlen(digest);
    ldg_dbi dbi;
    memcpy(k, subject, sn + 1);
    memcpy(k + sn + 1, digest, dn + 1);
    ldg_be64(k + sn + dn + 2, seq);
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_WRITE, &t), 0);
    assert_int_equal(ldg_db_open(t, "proj.verified", 0, &dbi), 0);
    if (del)
        assert_int_equal(ldg_kv_del(t, dbi, k, sn + dn + 10, NULL, 0), 0);
    else
        assert_int_equal(ldg_kv_put(t, dbi, k, sn + dn + 10, "", 0), 0);
    assert_int_equal(ldg_txn_commit(t), 0);
}

static void
test_verified__fed_by_appends_and_the_bulk_writer(void **state)
{
    char dir[512];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_writer *w;
    uint64_t size = 0;
    (void)state;
    assert_int_equal(ldg_projections_attach(l), 0);
    t_append(l, "model.registered",
             "{\"model\":\"m1\",\"digest\":\"sha256:aa\"}", NULL);
    t_append(l, "model.verified",
             "{\"model\":\"m1\",\"digest\":\"sha256:aa\",\"ok\":true}", NULL);
    t_append(l, "model.verified",
             "{\"model\":\"m1\",\"digest\":\"sha256:bb\",\"ok\":false}", NULL);
    assert_int_equal(ldg_size(l, &size), 0);
    expect_walk(l, "model:m1", "sha256:aa", "2,", size);
    expect_walk(l, "model:m1", "sha256:bb", "", size);
    /* the bulk writer: records, in commits of several events */
    {
        struct ldg_writer_options o;
        memset(&o, 0, sizeof o);
        o.batch = 4;
        o.threads = 1;
        assert_int_equal(ldg_writer_new(&w, l, &o), 0);
    }
    for (int i = 0; i < 10; i++) {
        struct ldg_event_in ev;
        memset(&ev, 0, sizeof ev);
        ev.type = i % 3 == 0 ? "model.verified" : "x.other";
        ev.body = i % 3 == 0 ? json_pack("{s:s, s:s, s:b}", "model", "m1",
                                         "digest", "sha256:bb", "ok", i > 0)
                             : json_object();
        assert_int_equal(ldg_writer_add(w, &ev), 0);
        json_decref(ev.body);
    }
    assert_int_equal(ldg_writer_flush(w), 0);
    ldg_writer_free(w);
    assert_int_equal(ldg_size(l, &size), 0);
    /* from seq 4: 4 failed, 7, 10 and 13 ok */
    expect_walk(l, "model:m1", "sha256:bb", "7,10,13,", size);
    assert_string_equal(check_models(l), "");
    ldg_close(l);
    t_rmrf(dir);
}

/* A key taken away is found at its event, one added for a failed
 * verification too; ledger rebuild of the models puts both right. */
static void
test_verified__the_check_finds_what_differs(void **state)
{
    char dir[512];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    uint64_t ok_seq, bad_seq, size = 0;
    (void)state;
    assert_int_equal(ldg_projections_attach(l), 0);
    t_append(l, "model.registered",
             "{\"model\":\"m1\",\"digest\":\"sha256:aa\"}", NULL);
    ok_seq = t_append(l, "model.verified",
                      "{\"model\":\"m1\",\"digest\":\"sha256:aa\",\"ok\":true}",
                      NULL);
    bad_seq = t_append(
        l, "model.verified",
        "{\"model\":\"m1\",\"digest\":\"sha256:bb\",\"ok\":false}", NULL);
    t_append(l, "x.after", "{}", NULL);
    assert_string_equal(check_models(l), "");
    key_put(l, "model:m1", "sha256:aa", ok_seq, 1);
    assert_string_equal(check_models(l),
                        "verified model:m1/sha256:aa#2: no key for this "
                        "successful model.verified\n");
    key_put(l, "model:m1", "sha256:aa", ok_seq, 0);
    key_put(l, "model:m1", "sha256:bb", bad_seq, 0);
    assert_string_equal(check_models(l),
                        "verified model:m1/sha256:bb#3: a key for an event "
                        "that is not this successful verification\n");
    /* only the models projection's check looks at it */
    {
        json_t *diffs = NULL;
        uint64_t ndiff = 1;
        assert_int_equal(ldg_projections_check(l, ldg_projections_bit("packs"),
                                               NULL, NULL, &diffs, &ndiff),
                         0);
        assert_int_equal(ndiff, 0);
        json_decref(diffs);
    }
    key_put(l, "model:m1", "sha256:aa", ok_seq, 1);
    assert_int_equal(ldg_projections_rebuild(l, ldg_projections_bit("models"),
                                             NULL, NULL, NULL),
                     0);
    assert_string_equal(check_models(l), "");
    assert_int_equal(ldg_size(l, &size), 0);
    expect_walk(l, "model:m1", "sha256:aa", "2,", size);
    expect_walk(l, "model:m1", "sha256:bb", "", size);
    /* an erased verification says nothing: its key is not judged, and a
     * rebuild leaves it out */
    {
        char body[96];
        snprintf(body, sizeof body, "{\"target_seq\":%llu,\"reason\":\"r\"}",
                 (unsigned long long)ok_seq);
        t_append(l, "body.erased", body, NULL);
    }
    assert_string_equal(check_models(l), "");
    assert_int_equal(ldg_projections_rebuild(l, ldg_projections_bit("models"),
                                             NULL, NULL, NULL),
                     0);
    assert_string_equal(check_models(l), "");
    assert_int_equal(ldg_size(l, &size), 0);
    expect_walk(l, "model:m1", "sha256:aa", "", size);
    ldg_close(l);
    t_rmrf(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verified__fed_by_appends_and_the_bulk_writer),
        cmocka_unit_test(test_verified__the_check_finds_what_differs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
