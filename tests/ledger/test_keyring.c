/*
 * test_keyring.c — ledger/keyring.c: keys held by their writers. Enrolling
 * one needs format version 2 (a format-1 ledger refuses, nothing written);
 * a key whose key.added says "held": "writer" never signs through the
 * ledger — append and batch refuse it with LDG_EKEY naming the key, even
 * with a key file planted under its name — and ldg_keys_list says who
 * holds each key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ledger/module.h"
#include "util/util.h"
#include "tests/support/support.h"

/* Records key NAME as held by its writer, as ldg_keys_enrol writes it. */
static uint64_t
add_writer_held(struct ldg_ledger *l, const char *name, struct ldg_key *k)
{
    struct ldg_event_in in;
    char hex[65];
    uint64_t seq;
    json_t *body;

    ldg_hex(hex, k->pub, 32);
    body = json_pack("{s:s, s:s, s:s, s:[s], s:s}", "key_id", k->key_id,
                     "public_key", hex, "actor", name, "roles", "run", "held",
                     "writer");
    memset(&in, 0, sizeof in);
    in.type = "key.added";
    in.body = body;
    assert_int_equal(ldg_append(l, &in, &seq), 0);
    json_decref(body);
    return seq;
}

static void
test_keyring__enrol_needs_format_2(void **state)
{
    char dir[256], path[512];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_key *k = NULL;
    uint64_t n0, n1, seq = 0;
    int rc;
    (void)state;
    assert_int_equal(ldg_key_generate(&k, "client"), 0);
    assert_int_equal(ldg_size(l, &n0), 0);
    rc = ldg_keys_enrol(l, "client", "run", k->pub, &seq);
    if (ldg_format(l) < 2) {
        assert_int_equal(rc, LDG_EVERSION);
        assert_non_null(strstr(ldg_errmsg(l), "needs format version 2"));
        assert_int_equal(ldg_size(l, &n1), 0);
        assert_int_equal(n1, n0);
    } else {
        struct ldg_txn *t;
        assert_int_equal(rc, 0);
        assert_int_equal(seq, n0);
        assert_int_equal(ldg_keys_held_by_writer(l, "client"), 1);
        assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
        assert_int_equal(ldg_key_writer_held(t, seq), 1);
        ldg_txn_abort(t);
        /* the same public key again, under another name: refused */
        assert_int_equal(ldg_keys_enrol(l, "again", NULL, k->pub, &seq),
                         LDG_EEXIST);
        assert_non_null(strstr(ldg_errmsg(l), "already in the log"));
    }
    /* no secret key file either way */
    snprintf(path, sizeof path, "%s/keys/client.key", dir);
    assert_int_equal(access(path, F_OK), -1);
    /* invalid names and the log key's name are refused first */
    assert_int_equal(ldg_keys_enrol(l, "../x", NULL, k->pub, &seq), LDG_EINVAL);
    assert_int_equal(ldg_keys_enrol(l, "log", NULL, k->pub, &seq), LDG_EEXIST);
    ldg_key_free(k);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_keyring__writer_held_never_signs_here(void **state)
{
    char dir[256], err[512], path[512];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_key *k = NULL, *got = NULL;
    struct ldg_event_in in;
    struct ldg_batch *b = NULL;
    struct ldg_keyinfo *ki;
    uint64_t seq, n0, n1;
    size_t n;
    json_t *body;
    (void)state;
    assert_int_equal(ldg_key_generate(&k, "client"), 0);
    seq = add_writer_held(l, "client", k);
    assert_int_equal(ldg_keys_held_by_writer(l, "client"), 1);
    assert_int_equal(ldg_keys_held_by_writer(l, "log"), 0);
    assert_int_equal(ldg_keys_held_by_writer(l, "nobody"), 0);
    assert_int_equal(ldg_size(l, &n0), 0);

    body = json_pack("{s:s, s:s}", "run", "R-1", "pack", "p");
    memset(&in, 0, sizeof in);
    in.type = "run.started";
    in.actor = "client";
    in.body = body;
    assert_int_equal(ldg_append(l, &in, &seq), LDG_EKEY);
    assert_non_null(strstr(ldg_errmsg(l), "key client (id "));
    assert_non_null(strstr(ldg_errmsg(l),
                           "held by its writer: its events must arrive "
                           "sealed"));
    assert_int_equal(ldg_keys_load(l, "client", &got), LDG_EKEY);
    assert_null(got);

    /* a key file planted under its name changes nothing */
    snprintf(path, sizeof path, "%s/keys/client.key", dir);
    assert_int_equal(ldg_keyfile_save(path, k, err, sizeof err), 0);
    assert_int_equal(ldg_append(l, &in, &seq), LDG_EKEY);
    assert_int_equal(ldg_batch_begin(&b, l), 0);
    assert_int_equal(ldg_batch_add(b, &in), LDG_EKEY);
    assert_non_null(strstr(ldg_errmsg(l), "held by its writer"));
    ldg_batch_free(b);
    assert_int_equal(ldg_size(l, &n1), 0);
    assert_int_equal(n1, n0);

    /* keys list: who holds each key */
    assert_int_equal(ldg_keys_list(l, &ki, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(ki[0].name, "log");
    assert_int_equal(ki[0].writer_held, 0);
    assert_string_equal(ki[1].name, "client");
    assert_int_equal(ki[1].writer_held, 1);
    free(ki);
    unlink(path);
    json_decref(body);
    ldg_key_free(k);
    ldg_close(l);
    t_rmrf(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keyring__enrol_needs_format_2),
        cmocka_unit_test(test_keyring__writer_held_never_signs_here),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
