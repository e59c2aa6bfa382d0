/*
 * test_verify.c — the whole verdict (verify/verify.c): what ldg_verify
 * alone does not see (a stored projection that differs from the log, put
 * there with mdb_dump and mdb_load as an intruder or a bad disk would),
 * the trusted checkpoint and its witnesses, the inputs that do not go
 * together, and the result recorded through a read-only handle.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "projections/projections.h"
#include "tests/support/support.h"
#include "verify/verify.h"

/* A ledger with one route whose stored state is current. */
static struct ldg_ledger *
routed(char *dir, size_t cap)
{
    struct ldg_ledger *l = t_ledger_new(dir, cap, 1);
    json_t *rep = NULL;
    t_append(l, "route.declared",
             "{\"route\":\"chat\",\"model\":\"llama3-8b\"}", NULL);
    assert_int_equal(ldg_projections_rebuild(l, LDG_PROJECTIONS_ALL, NULL,
                                             NULL, &rep),
                     0);
    json_decref(rep);
    return l;
}

static struct ldg_ledger *
open_ro(const char *dir)
{
    struct ldg_ledger *l = NULL;
    struct ldg_options o;
    memset(&o, 0, sizeof o);
    o.flags = LDG_RDONLY;
    assert_int_equal(ldg_open(&l, dir, &o, NULL, 0), 0);
    return l;
}

/* One byte of the route's model name changed in proj.routes, with the
 * LMDB tools (the test skips when they are not installed). */
static int
tamper_routes(const char *dir)
{
    char cmd[4096];
    if (system("command -v mdb_dump >/dev/null && "
               "command -v mdb_load >/dev/null") != 0)
        return -1;
    /* "llama3-8b" is 6c6c616d61332d3862: "llamb3-8b" */
    snprintf(cmd, sizeof cmd,
             "mdb_dump -s proj.routes '%s' > '%s/r.txt' && "
             "grep -q 6c6c616d61332d3862 '%s/r.txt' && "
             "sed -i /^db_pagesize=/d '%s/r.txt' && "
             "sed -i s/6c6c616d61332d3862/6c6c616d62332d3862/ '%s/r.txt' && "
             "mdb_load -s proj.routes -f '%s/r.txt' '%s' && rm '%s/r.txt'",
             dir, dir, dir, dir, dir, dir, dir, dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static void
test_verify__full_fails_on_a_stored_projection_the_log_does_not_give(
    void **state)
{
    char dir[256];
    struct ldg_ledger *l = routed(dir, sizeof dir);
    struct ldg_verify_report r;
    struct ldg_verdict v;
    (void)state;

    ldg_close(l);
    if (tamper_routes(dir) < 0) {
        t_rmrf(dir);
        skip();
    }
    l = open_ro(dir);
    /* the core's verdict alone: the log holds */
    memset(&r, 0, sizeof r);
    assert_int_equal(ldg_verify(l, LDG_VERIFY_FULL, 0, &r, NULL, NULL), 0);
    /* the whole verdict does not */
    memset(&v, 0, sizeof v);
    assert_int_equal(ldg_verify_full(l, LDG_VERIFY_FULL, &v, NULL, NULL),
                     LDG_ETAMPER);
    assert_int_equal(v.failed, LDG_VERDICT_PROJECTIONS);
    assert_non_null(strstr(v.what, "projection routes"));
    assert_true(v.proj_ndiff >= 1);
    assert_true(v.proj_checked & ldg_projections_bit("routes"));
    assert_int_equal(v.log.recorded, 0);
    ldg_verdict_release(&v);
    ldg_close(l);

    /* rebuilt, it passes again and is recorded through the read-only
     * handle's directory */
    {
        struct ldg_ledger *w = NULL;
        struct ldg_verify_state st;
        json_t *rep = NULL;
        assert_int_equal(ldg_open(&w, dir, NULL, NULL, 0), 0);
        assert_int_equal(ldg_projections_rebuild(w, LDG_PROJECTIONS_ALL, NULL,
                                                 NULL, &rep),
                         0);
        json_decref(rep);
        t_forget_verified(w);
        ldg_close(w);
        l = open_ro(dir);
        memset(&v, 0, sizeof v);
        assert_int_equal(ldg_verify_full(l, LDG_VERIFY_FULL, &v, NULL, NULL),
                         0);
        assert_int_equal(v.failed, LDG_VERDICT_NONE);
        assert_string_equal(v.not_recorded, "");
        ldg_verdict_release(&v);
        ldg_close(l);
        assert_int_equal(ldg_open(&w, dir, NULL, NULL, 0), 0);
        assert_int_equal(ldg_verify_state(w, &st), 0);
        assert_true(st.full_ts_ns != 0);
        ldg_close(w);
    }
    t_rmrf(dir);
}

static void
test_verify__inputs_that_do_not_go_together(void **state)
{
    char dir[256];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    const char *keys[1] = {"w.example+00000000+AA=="};
    struct ldg_verdict v;
    (void)state;

    memset(&v, 0, sizeof v);
    v.witness_keys = keys;
    v.nwitness = 1;
    assert_int_equal(ldg_verify_full(l, 0, &v, NULL, NULL), LDG_EINVAL);
    assert_non_null(strstr(v.what, "trusted checkpoint"));
    memset(&v, 0, sizeof v);
    assert_int_equal(
        ldg_verify_full(l, LDG_VERIFY_NEW | LDG_VERIFY_FULL, &v, NULL, NULL),
        LDG_EINVAL);
    memset(&v, 0, sizeof v);
    v.from = 1000;
    assert_int_equal(ldg_verify_full(l, LDG_VERIFY_FROM, &v, NULL, NULL),
                     LDG_ENOTFOUND);
    assert_non_null(strstr(v.what, "no such event"));
    ldg_close(l);
    t_rmrf(dir);
}

/* A checkpoint of this log: the log extends it; a witness key that did
 * not cosign it fails the quorum, naming the count. */
static void
test_verify__trusted_checkpoint_and_quorum(void **state)
{
    char dir[256], *note = NULL;
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    uint8_t pub[32];
    char vkey[256];
    const char *keys[1];
    struct ldg_verdict v;
    size_t len = 0;
    (void)state;

    t_append_many(l, 3);
    {
        struct ldg_txn *t = NULL;
        assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
        assert_int_equal(ldg_checkpoint_get(t, 0, &note), 0);
        ldg_txn_abort(t);
        len = strlen(note);
    }
    memset(&v, 0, sizeof v);
    v.trusted = note;
    v.trusted_len = len;
    v.trusted_name = "c.txt";
    assert_int_equal(ldg_verify_full(l, LDG_VERIFY_NOSAVE, &v, NULL, NULL),
                     0);
    assert_int_equal(v.trusted_checked, 1);
    assert_true(v.trusted_said[0] != '\0');
    ldg_verdict_release(&v);

    /* a witness key of its own, which never cosigned */
    memset(pub, 7, sizeof pub);
    assert_true(ldg_cosig_verifier(vkey, sizeof vkey, "w.example", pub) >= 0);
    keys[0] = vkey;
    memset(&v, 0, sizeof v);
    v.trusted = note;
    v.trusted_len = len;
    v.witness_keys = keys;
    v.nwitness = 1;
    assert_int_equal(ldg_verify_full(l, LDG_VERIFY_NOSAVE, &v, NULL, NULL),
                     LDG_ETAMPER);
    assert_int_equal(v.failed, LDG_VERDICT_QUORUM);
    assert_non_null(strstr(v.what, "witness quorum not met: 0 of 1"));
    ldg_verdict_release(&v);

    /* through this writable handle, recording: a failed quorum is not
     * recorded as a passing run (it was: the log's check recorded itself
     * before the trusted checkpoint was looked at); a passing one is */
    struct ldg_verify_state st0;
    t_forget_verified(l);
    assert_int_equal(ldg_verify_state(l, &st0), 0);
    memset(&v, 0, sizeof v);
    v.trusted = note;
    v.trusted_len = len;
    v.witness_keys = keys;
    v.nwitness = 1;
    assert_int_equal(ldg_verify_full(l, LDG_VERIFY_FULL, &v, NULL, NULL),
                     LDG_ETAMPER);
    assert_int_equal(v.log.recorded, 0);
    {
        struct ldg_verify_state st;
        assert_int_equal(ldg_verify_state(l, &st), 0);
        assert_true(st.full_ts_ns == st0.full_ts_ns);
    }
    ldg_verdict_release(&v);
    memset(&v, 0, sizeof v);
    v.trusted = note;
    v.trusted_len = len;
    assert_int_equal(ldg_verify_full(l, LDG_VERIFY_FULL, &v, NULL, NULL), 0);
    assert_int_equal(v.log.recorded, 1);
    {
        struct ldg_verify_state st;
        assert_int_equal(ldg_verify_state(l, &st), 0);
        assert_true(st.full_ts_ns != st0.full_ts_ns);
    }
    ldg_verdict_release(&v);
    free(note);
    ldg_close(l);
    t_rmrf(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_verify__full_fails_on_a_stored_projection_the_log_does_not_give),
        cmocka_unit_test(test_verify__inputs_that_do_not_go_together),
        cmocka_unit_test(test_verify__trusted_checkpoint_and_quorum),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
