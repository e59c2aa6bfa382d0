/*
 * test_open.c — ledger/open.c: init writes the genesis event and a
 * checkpoint, a full map grows or fails cleanly, a read-only handle refuses
 * appends, the ledger directory resolves as documented, and a damaged
 * format record is named (a damaged ledger, or not a ledger).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "ledger/handle_int.h"
#include "tests/support/support.h"

static void
test_open__init_writes_genesis_and_checkpoint(void **state)
{
    char dir[256], err[256], *note = NULL;
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 1);
    struct ldg_txn *t;
    struct ldg_event ev;
    struct stat st;
    uint64_t size;
    char path[300];
    (void)state;

    assert_int_equal(ldg_size(l, &size), 0);
    assert_int_equal(size, 1);
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_event_get(t, 0, &ev), 0);
    assert_string_equal(ev.type, "ledger.genesis");
    assert_string_equal(ev.actor, ldg_log_key(l)->key_id);
    assert_int_equal(ldg_checkpoint_get(t, 1, &note), 0);
    assert_non_null(strstr(note, "test.local/unit\n1\n"));
    free(note);
    ldg_txn_abort(t);
    /* key file 0600 in a 0700 directory */
    snprintf(path, sizeof path, "%s/keys", dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    snprintf(path, sizeof path, "%s/keys/log.key", dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* a second init refuses */
    assert_int_equal(ldg_init(dir, NULL, NULL, err, sizeof err), LDG_EEXIST);
    ldg_close(l);
    t_rmrf(dir);
}

/* A small map grows; a map that may not grow fails cleanly with nothing
 * lost. */
static void
test_open__full_map_grows_or_fails_cleanly(void **state)
{
    char dir[256], err[256];
    struct ldg_options o;
    struct ldg_ledger *l;
    struct ldg_writer *w;
    struct ldg_verify_report r;
    uint64_t size, committed;
    int rc = 0;
    (void)state;

    snprintf(dir, sizeof dir, "/tmp/ldgtest.XXXXXX");
    assert_non_null(mkdtemp(dir));
    memset(&o, 0, sizeof o);
    o.flags = LDG_NOSYNC;
    o.map_size_bytes = 256 * 1024;
    assert_int_equal(ldg_init(dir, "t.local/map", &o, err, sizeof err), 0);
    assert_int_equal(ldg_open(&l, dir, &o, err, sizeof err), 0);
    t_append_many(l, 3000); /* ~several MiB: must grow */
    assert_int_equal(ldg_size(l, &size), 0);
    assert_int_equal(size, 3001);
    ldg_close(l);

    o.map_max_bytes = 4u << 20; /* then cap it */
    assert_int_equal(ldg_open(&l, dir, &o, err, sizeof err), 0);
    assert_int_equal(ldg_writer_new(&w, l, NULL), 0);
    for (int i = 0; i < 100000 && rc == 0; i++) {
        struct ldg_event_in in;
        json_t *b =
            json_pack("{s:i, s:s}", "i", i, "pad",
                      "................................................"
                      "................................................");
        memset(&in, 0, sizeof in);
        in.type = "x.test.fill";
        in.body = b;
        rc = ldg_writer_add(w, &in);
        json_decref(b);
    }
    if (rc == 0)
        rc = ldg_writer_flush(w);
    assert_int_equal(rc, LDG_EFULL);
    assert_non_null(strstr(ldg_errmsg(l), "full"));
    committed = ldg_writer_committed(w);
    ldg_writer_free(w);
    assert_int_equal(ldg_size(l, &size), 0);
    assert_int_equal(size, 3001 + committed);
    assert_int_equal(
        ldg_verify(l, LDG_VERIFY_FULL | LDG_VERIFY_NOSAVE, 0, &r, NULL, NULL),
        0);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_open__read_only_handle_refuses_appends(void **state)
{
    char dir[256], err[256];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0), *ro;
    struct ldg_options o;
    struct ldg_event_in in;
    json_t *b = json_object();
    (void)state;

    ldg_close(l);
    memset(&o, 0, sizeof o);
    o.flags = LDG_RDONLY;
    assert_int_equal(ldg_open(&ro, dir, &o, err, sizeof err), 0);
    memset(&in, 0, sizeof in);
    in.type = "x.t";
    in.body = b;
    assert_int_equal(ldg_append(ro, &in, NULL), LDG_EINVAL);
    json_decref(b);
    ldg_close(ro);
    assert_int_equal(ldg_open(&ro, "/nonexistent/ledger", &o, err, sizeof err),
                     LDG_ENOTFOUND);
    assert_non_null(strstr(err, "ledger init"));
    t_rmrf(dir);
}

static void
test_open__default_dir_resolution(void **state)
{
    char buf[512];
    (void)state;
    assert_int_equal(ldg_default_dir(buf, sizeof buf, "/x/y"), 0);
    assert_string_equal(buf, "/x/y");
    setenv("LEDGER_DIR", "/from/env", 1);
    assert_int_equal(ldg_default_dir(buf, sizeof buf, NULL), 0);
    assert_string_equal(buf, "/from/env");
    unsetenv("LEDGER_DIR");
    setenv("XDG_STATE_HOME", "/xdg", 1);
    assert_int_equal(ldg_default_dir(buf, sizeof buf, NULL), 0);
    assert_string_equal(buf, "/xdg/ledger");
    unsetenv("XDG_STATE_HOME");
    setenv("HOME", "/home/u", 1);
    assert_int_equal(ldg_default_dir(buf, sizeof buf, NULL), 0);
    assert_string_equal(buf, "/home/u/.local/state/ledger");
}

/* A damaged format record: a store whose log holds events is a ledger,
 * damaged (run verify); one with no events is not a ledger. Both 65. */
static void
test_open__damaged_format_record(void **state)
{
    static const char *const dbs[] = {"entries", "entries5"};
    char dir[256], err[512];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 1), *l2 = NULL;
    struct ldg_txn *t;
    ldg_dbi meta, dbi;
    uint8_t k[8] = {0};
    (void)state;

    /* unreadable: the wrong length and magic */
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_WRITE, &t), 0);
    assert_int_equal(ldg_db_open(t, "meta", 0, &meta), 0);
    assert_int_equal(ldg_core_kv_put(t, meta, "format", 6, "XXXX", 4), 0);
    assert_int_equal(ldg_txn_commit(t), 0);
    err[0] = '\0';
    assert_int_equal(ldg_open(&l2, dir, NULL, err, sizeof err), LDG_ECORRUPT);
    assert_non_null(strstr(err, "the ledger is damaged, its format record is "
                                "missing or unreadable while its log holds 1 "
                                "entry (run `ledger verify`)"));
    assert_null(strstr(err, "not a ledger"));
    assert_int_equal(ldg_exit_code(LDG_ECORRUPT), 65);
    /* missing */
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_WRITE, &t), 0);
    assert_int_equal(ldg_core_kv_del(t, meta, "format", 6, NULL, 0), 0);
    assert_int_equal(ldg_txn_commit(t), 0);
    err[0] = '\0';
    assert_int_equal(ldg_open(&l2, dir, NULL, err, sizeof err), LDG_ECORRUPT);
    assert_non_null(strstr(err, "the ledger is damaged"));
    /* no events in the log (entries and entries5 empty): not a ledger */
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_WRITE, &t), 0);
    for (size_t i = 0; i < 2; i++) {
        int rc;
        assert_int_equal(ldg_db_open(t, dbs[i], 0, &dbi), 0);
        rc = ldg_core_kv_del(t, dbi, k, sizeof k, NULL, 0);
        assert_true(rc == 0 || rc == LDG_ENOTFOUND);
    }
    assert_int_equal(ldg_txn_commit(t), 0);
    err[0] = '\0';
    assert_int_equal(ldg_open(&l2, dir, NULL, err, sizeof err), LDG_ECORRUPT);
    assert_non_null(strstr(err, "not a ledger (no format record)"));
    ldg_close(l);
    t_rmrf(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open__init_writes_genesis_and_checkpoint),
        cmocka_unit_test(test_open__full_map_grows_or_fails_cleanly),
        cmocka_unit_test(test_open__read_only_handle_refuses_appends),
        cmocka_unit_test(test_open__default_dir_resolution),
        cmocka_unit_test(test_open__damaged_format_record),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
