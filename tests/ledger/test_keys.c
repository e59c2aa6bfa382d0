/*
 * test_keys.c — ledger/keys.c: key files are refused unless they are the
 * user's own, single-linked, in a real keys/ directory of a ledger
 * directory no one else may write; a process that loaded a secret writes
 * no core file and is not dumpable; a revoked key's secret is wiped; keys
 * are added and revoked, a revoked or unknown key refused, and a key signs
 * only what its roles allow.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "ledger/module.h"
#include "util/util.h"
#include "tests/support/support.h"

static void
load_fails(struct ldg_ledger *l, const char *name, const char *msg)
{
    struct ldg_key *k = NULL;
    int rc = ldg_keys_load(l, name, &k);
    if (rc != LDG_EKEY)
        fail_msg("loading '%s' gave %d (%s), want LDG_EKEY", name, rc,
                 ldg_errmsg(l));
    if (strstr(ldg_errmsg(l), msg) == NULL)
        fail_msg("loading '%s': message '%s' lacks '%s'", name, ldg_errmsg(l),
                 msg);
}

static void
test_keys__loose_places_refused(void **state)
{
    char dir[256], p[512], q[512];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_key *k = NULL;
    uint64_t seq;
    (void)state;
    assert_int_equal(ldg_keys_add(l, "alice", NULL, &seq), 0);
    assert_int_equal(ldg_keys_load(l, "alice", &k), 0);
    ldg_key_free(k);

    assert_int_equal(chmod(dir, 0777), 0);
    load_fails(l, "alice", "has mode 0777");
    assert_int_equal(chmod(dir, 0700), 0);

    snprintf(p, sizeof p, "%s/keys/alice.key", dir);
    snprintf(q, sizeof q, "%s/alice-copy", dir);
    assert_int_equal(link(p, q), 0);
    load_fails(l, "alice", "2 hard links");
    assert_int_equal(unlink(q), 0);

    if (geteuid() == 0) {
        assert_int_equal(chown(p, 65534, 65534), 0);
        load_fails(l, "alice", "owned by uid 65534");
        assert_int_equal(chown(p, 0, 0), 0);
    }

    snprintf(p, sizeof p, "%s/keys", dir);
    snprintf(q, sizeof q, "%s/real-keys", dir);
    assert_int_equal(rename(p, q), 0);
    assert_int_equal(symlink(q, p), 0);
    load_fails(l, "alice", "symbolic link");
    assert_int_equal(unlink(p), 0);
    assert_int_equal(rename(q, p), 0);
    assert_int_equal(ldg_keys_load(l, "alice", &k), 0);
    ldg_key_free(k);
    ldg_close(l);
    t_rmrf(dir);
}

/* keys/alice.key holding bob's seed: appending as alice must not sign as
 * bob. */
static void
test_keys__file_holding_another_names_key_refused(void **state)
{
    char dir[256], a[512], b[512], text[512], swapped[600];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_event_in in;
    uint64_t seq;
    FILE *f;
    size_t n;
    char *nm;
    (void)state;
    assert_int_equal(ldg_keys_add(l, "alice", NULL, &seq), 0);
    assert_int_equal(ldg_keys_add(l, "bob", NULL, &seq), 0);
    ldg_close(l);
    snprintf(a, sizeof a, "%s/keys/alice.key", dir);
    snprintf(b, sizeof b, "%s/keys/bob.key", dir);
    f = fopen(b, "r");
    assert_non_null(f);
    n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    nm = strstr(text, "name bob\n");
    assert_non_null(nm);
    *nm = '\0';
    snprintf(swapped, sizeof swapped, "%sname alice\n%s", text,
             nm + strlen("name bob\n"));
    f = fopen(a, "w");
    assert_non_null(f);
    fputs(swapped, f);
    fclose(f);
    {
        char err[256];
        struct ldg_options o;
        memset(&o, 0, sizeof o);
        o.flags = LDG_NOSYNC;
        assert_int_equal(ldg_open(&l, dir, &o, err, sizeof err), 0);
    }
    memset(&in, 0, sizeof in);
    in.type = "x.t";
    in.actor = "alice";
    assert_int_equal(ldg_append(l, &in, &seq), LDG_EKEY);
    assert_non_null(strstr(ldg_errmsg(l), "registered under the name 'bob'"));
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_keys__secret_holder_dumps_no_core(void **state)
{
    char dir[256];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_key *k = NULL;
    struct rlimit rl;
    uint64_t seq;
    (void)state;
    assert_int_equal(ldg_keys_add(l, "alice", NULL, &seq), 0);
    assert_int_equal(ldg_keys_load(l, "alice", &k), 0);
    assert_int_equal(getrlimit(RLIMIT_CORE, &rl), 0);
    assert_int_equal(rl.rlim_cur, 0);
    assert_int_equal(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 0);
    ldg_key_free(k);
    ldg_close(l);
    t_rmrf(dir);
}

/* A revoked key's secret does not stay on disk; a later load says why
 * the file is gone. */
static void
test_keys__revoked_secret_is_wiped(void **state)
{
    char dir[256], p[512];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_key *k = NULL;
    struct stat st;
    uint64_t seq;
    (void)state;
    assert_int_equal(ldg_keys_add(l, "alice", NULL, &seq), 0);
    snprintf(p, sizeof p, "%s/keys/alice.key", dir);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(ldg_keys_revoke(l, "alice", "lost", &seq), 0);
    assert_int_not_equal(stat(p, &st), 0);
    assert_int_equal(ldg_keys_load(l, "alice", &k), LDG_EKEY);
    assert_non_null(strstr(ldg_errmsg(l), "was revoked at event"));
    assert_non_null(strstr(ldg_errmsg(l), "wiped"));
    ldg_close(l);
    t_rmrf(dir);
}

/* The signer of an event comes from the log: the key that signed it and
 * the name the key events gave that key, whatever the body claims. */
static void
test_keys__signer_json_names_the_signing_key(void **state)
{
    char dir[256];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_keyinfo *k;
    struct ldg_txn *t;
    json_t *sg;
    size_t n;
    uint64_t seq;
    (void)state;

    assert_int_equal(ldg_keys_add(l, "ops", NULL, NULL), 0);
    seq = t_append(l, "x.t", "{\"by\":\"alice\"}", "ops");
    assert_int_equal(ldg_keys_list(l, &k, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_signer_json(t, seq, &sg), 0);
    assert_non_null(sg);
    assert_string_equal(json_string_value(json_object_get(sg, "key_id")),
                        k[1].key_id);
    assert_string_equal(json_string_value(json_object_get(sg, "name")), "ops");
    json_decref(sg);
    assert_int_equal(ldg_signer_json(t, 0, &sg), 0);
    assert_string_equal(json_string_value(json_object_get(sg, "name")), "log");
    json_decref(sg);
    /* no such event; no transaction */
    assert_int_equal(ldg_signer_json(t, seq + 1, &sg), LDG_ENOTFOUND);
    assert_null(sg);
    assert_int_equal(ldg_signer_json(NULL, 0, &sg), LDG_EINVAL);
    ldg_txn_abort(t);
    free(k);
    ldg_close(l);
    t_rmrf(dir);
}

/* A key file anywhere (keys generate --out): written 0600, never over an
 * existing file, read back to the same key; loose or foreign files are
 * refused as from keys/. */
static void
test_keys__keyfile_anywhere(void **state)
{
    char dir[256], path[512], err[512];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_key *k = NULL, *back = NULL;
    struct stat st;
    FILE *f;
    (void)state;
    snprintf(path, sizeof path, "%s/client.key", dir);
    assert_int_equal(ldg_keyfile_load(path, &back, err, sizeof err),
                     LDG_ENOTFOUND);
    assert_non_null(strstr(err, path));
    assert_int_equal(ldg_key_generate(&k, "client"), 0);
    assert_int_equal(ldg_keyfile_save(path, k, err, sizeof err), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(ldg_keyfile_load(path, &back, err, sizeof err), 0);
    assert_string_equal(back->name, "client");
    assert_memory_equal(back->pub, k->pub, 32);
    assert_non_null(back->sk);
    ldg_key_free(back);
    back = NULL;
    /* never overwritten */
    {
        struct ldg_key *k2 = NULL;
        assert_int_equal(ldg_key_generate(&k2, "client"), 0);
        assert_int_equal(ldg_keyfile_save(path, k2, err, sizeof err),
                         LDG_EEXIST);
        assert_non_null(strstr(err, "already exists"));
        ldg_key_free(k2);
        assert_int_equal(ldg_keyfile_load(path, &back, err, sizeof err), 0);
        assert_memory_equal(back->pub, k->pub, 32);
        ldg_key_free(back);
        back = NULL;
    }
    /* loose mode: refused, named */
    assert_int_equal(chmod(path, 0640), 0);
    assert_int_equal(ldg_keyfile_load(path, &back, err, sizeof err), LDG_EKEY);
    assert_non_null(strstr(err, "has mode 0640"));
    assert_null(back);
    /* not a key file */
    snprintf(path, sizeof path, "%s/junk.key", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("hello\n", f);
    fclose(f);
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(ldg_keyfile_load(path, &back, err, sizeof err), LDG_EKEY);
    assert_non_null(strstr(err, "is not a ledger secret key"));
    /* a truncated one */
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("ledger-secret-key v1\nname x\nseed 00\n", f);
    fclose(f);
    assert_int_equal(ldg_keyfile_load(path, &back, err, sizeof err), LDG_EKEY);
    assert_non_null(strstr(err, "malformed seed"));
    ldg_key_free(k);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_keys__keys_add_revoke_and_refuse(void **state)
{
    char dir[256];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_keyinfo *k;
    struct ldg_event_in in;
    json_t *b = json_object();
    uint64_t seq;
    size_t n;
    (void)state;

    assert_int_equal(ldg_keys_add(l, "alice", "x,run", &seq), 0);
    assert_int_equal(seq, 1);
    assert_int_equal(ldg_keys_add(l, "alice", NULL, NULL), LDG_EEXIST);
    assert_int_equal(ldg_keys_add(l, "log", NULL, NULL), LDG_EEXIST);
    assert_int_equal(ldg_keys_add(l, "bad name", NULL, NULL), LDG_EINVAL);
    t_append(l, "x.t", "{}", "alice");
    assert_int_equal(ldg_keys_list(l, &k, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(k[0].name, "log");
    assert_string_equal(k[1].name, "alice");
    assert_int_equal(k[1].revoked_seq, UINT64_MAX);
    assert_true(k[1].has_secret);
    free(k);
    assert_int_equal(ldg_keys_revoke(l, "alice", "lost", &seq), 0);
    assert_int_equal(ldg_keys_revoke(l, "alice", "again", NULL), LDG_EBADINPUT);
    assert_int_equal(ldg_keys_revoke(l, "log", "no", NULL), LDG_EBADINPUT);
    memset(&in, 0, sizeof in);
    in.type = "x.t";
    in.body = b;
    in.actor = "alice";
    assert_int_equal(ldg_append(l, &in, NULL), LDG_EKEY);
    assert_non_null(strstr(ldg_errmsg(l), "revoked"));
    /* a new key may take the name once the old one is revoked */
    assert_int_equal(ldg_keys_add(l, "alice2", NULL, NULL), 0);
    json_decref(b);
    ldg_close(l);
    t_rmrf(dir);
}

/* A name revoked and added again: DIR/keys/NAME.key is the new key's, and
 * the revoked one is listed without a secret (the doctor's keys-valid
 * said the revoked key's file was "still here" and told the operator to
 * remove it: the new key's secret). */
static void
test_keys__readded_name_file_is_the_new_keys(void **state)
{
    char dir[256];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_keyinfo *k;
    size_t n;
    (void)state;

    assert_int_equal(ldg_keys_add(l, "alice", NULL, NULL), 0);
    assert_int_equal(ldg_keys_revoke(l, "alice", "lost", NULL), 0);
    assert_int_equal(ldg_keys_add(l, "alice", NULL, NULL), 0);
    assert_int_equal(ldg_keys_list(l, &k, &n), 0);
    assert_int_equal(n, 3);
    assert_string_equal(k[1].name, "alice");
    assert_true(k[1].revoked_seq != UINT64_MAX);
    assert_false(k[1].has_secret);
    assert_string_equal(k[2].name, "alice");
    assert_int_equal(k[2].revoked_seq, UINT64_MAX);
    assert_true(k[2].has_secret);
    free(k);
    ldg_close(l);
    t_rmrf(dir);
}

/* Appends type with an empty body as actor; returns ldg_append's code. */
static int
append_as(struct ldg_ledger *l, const char *type, const char *body,
          const char *actor)
{
    struct ldg_event_in in;
    json_t *b = json_loads(body, 0, NULL);
    int rc;
    memset(&in, 0, sizeof in);
    in.type = type;
    in.body = b;
    in.actor = actor;
    rc = ldg_append(l, &in, NULL);
    json_decref(b);
    return rc;
}

/* Roles are enforced: a key signs only the types its roles allow; the log
 * key and a key added without roles sign any type an actor key may. */
static void
test_keys__key_roles_are_enforced_at_append(void **state)
{
    char dir[256], path[300];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    const char *decision = "{\"route\":\"p/x\",\"chosen_model\":\"m\"}";
    const char *step = "{\"run\":\"R-1\",\"step\":\"s\",\"tool\":\"t\","
                       "\"status\":\"ok\"}";
    uint64_t n0, n1;
    (void)state;

    assert_int_equal(ldg_keys_add(l, "runner", "run", NULL), 0);
    assert_int_equal(ldg_keys_add(l, "cp", "control-plane,x", NULL), 0);
    assert_int_equal(ldg_keys_add(l, "free", NULL, NULL), 0);
    assert_int_equal(append_as(l, "run.step", step, "runner"), 0);
    assert_int_equal(ldg_size(l, &n0), 0);
    assert_int_equal(append_as(l, "route.decision", decision, "runner"),
                     LDG_EKEY);
    assert_non_null(strstr(ldg_errmsg(l), "may not sign route.decision"));
    assert_non_null(strstr(ldg_errmsg(l), "'runner'"));
    assert_int_equal(append_as(l, "x.t", "{}", "runner"), LDG_EKEY);
    assert_int_equal(append_as(l, "body.erased",
                               "{\"target_seq\":4,\"reason\":\"r\"}", "runner"),
                     LDG_EKEY);
    assert_int_equal(ldg_size(l, &n1), 0);
    assert_int_equal(n0, n1); /* nothing written */
    assert_int_equal(append_as(l, "route.decision", decision, "cp"), 0);
    assert_int_equal(append_as(l, "x.t", "{}", "cp"), 0);
    assert_int_equal(append_as(l, "run.step", step, "cp"), LDG_EKEY);
    assert_int_equal(append_as(l, "run.step", step, "free"), 0);
    assert_int_equal(append_as(l, "route.decision", decision, "free"), 0);
    assert_int_equal(append_as(l, "route.decision", decision, NULL), 0);
    /* after a reopen (no cached proof) the roles still hold */
    ldg_close(l);
    assert_int_equal(ldg_open(&l, dir, NULL, NULL, 0), 0);
    assert_int_equal(append_as(l, "route.decision", decision, "runner"),
                     LDG_EKEY);
    assert_int_equal(append_as(l, "run.step", step, "runner"), 0);
    /* an unknown role is refused before any key file is written */
    assert_int_equal(ldg_keys_add(l, "typo", "rn", NULL), LDG_EINVAL);
    assert_non_null(strstr(ldg_errmsg(l), "unknown role 'rn'"));
    snprintf(path, sizeof path, "%s/keys/typo.key", dir);
    assert_int_equal(access(path, F_OK), -1);
    /* and so is a key.added carrying one, however it comes */
    assert_int_equal(
        append_as(l, "key.added",
                  "{\"key_id\":\"0000000000000000\",\"public_key\":\"00\","
                  "\"actor\":\"z\",\"roles\":[\"run\",7]}",
                  NULL),
        LDG_EBADINPUT);
    assert_non_null(strstr(ldg_errmsg(l), "roles"));
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_keys__loose_key_file_permissions_are_refused(void **state)
{
    char dir[256], path[300];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_event_in in;
    json_t *b = json_object();
    (void)state;

    assert_int_equal(ldg_keys_add(l, "bob", NULL, NULL), 0);
    snprintf(path, sizeof path, "%s/keys/bob.key", dir);
    assert_int_equal(chmod(path, 0644), 0);
    memset(&in, 0, sizeof in);
    in.type = "x.t";
    in.body = b;
    in.actor = "bob";
    assert_int_equal(ldg_append(l, &in, NULL), LDG_EKEY);
    assert_non_null(strstr(ldg_errmsg(l), "0644"));
    assert_int_equal(chmod(path, 0600), 0);
    snprintf(path, sizeof path, "%s/keys", dir);
    assert_int_equal(chmod(path, 0755), 0);
    assert_int_equal(ldg_append(l, &in, NULL), LDG_EKEY);
    assert_non_null(strstr(ldg_errmsg(l), "0755"));
    assert_int_equal(chmod(path, 0700), 0);
    json_decref(b);
    ldg_close(l);
    t_rmrf(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys__loose_places_refused),
        cmocka_unit_test(test_keys__signer_json_names_the_signing_key),
        cmocka_unit_test(test_keys__file_holding_another_names_key_refused),
        cmocka_unit_test(test_keys__secret_holder_dumps_no_core),
        cmocka_unit_test(test_keys__revoked_secret_is_wiped),
        cmocka_unit_test(test_keys__keyfile_anywhere),
        cmocka_unit_test(test_keys__keys_add_revoke_and_refuse),
        cmocka_unit_test(test_keys__readded_name_file_is_the_new_keys),
        cmocka_unit_test(test_keys__key_roles_are_enforced_at_append),
        cmocka_unit_test(test_keys__loose_key_file_permissions_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
