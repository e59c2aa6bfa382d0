/*
 * test_auth.c — serve/auth.c: DIR/access.json (docs/SYSTEMD.md, "Who may
 * write and who may read"): the default without a file, matching by uid,
 * group (primary and supplementary), unit, narrowed by types and actors,
 * and every refusal of a malformed file naming its place; "readers":
 * the modes and group the server gives the directory and its files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "ledger/module.h"
#include "util/util.h"
#include "serve/serve_int.h"

static char dir[64];
static char path[128];

static int
setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/test_auth.XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(path, sizeof path, "%s/access.json", dir);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    unlink(path);
    rmdir(dir);
    return 0;
}

static void
put(const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static struct serve_peer
peer(uid_t uid, gid_t gid, const char *unit)
{
    struct serve_peer p;
    memset(&p, 0, sizeof p);
    p.ok = 1;
    p.uid = uid;
    p.gid = gid;
    snprintf(p.unit, sizeof p.unit, "%s", unit);
    return p;
}

static int
may(struct serve_auth *a, const struct serve_peer *p, const char *type,
    const char *actor, char *msg)
{
    return serve_auth_check(a, serve_auth_match(a, p), p, type, actor, msg,
                            600);
}

static void
test_auth__default_without_a_file(void **state)
{
    struct serve_auth *a;
    struct serve_peer self = peer(1000, 1000, ""), root = peer(0, 0, ""),
                      other = peer(1001, 1001, "");
    char err[600], msg[600];
    (void)state;
    assert_int_equal(serve_auth_load(&a, path, 1000, err, sizeof err), 0);
    assert_true(may(a, &self, "x.a", NULL, msg));
    assert_true(may(a, &root, "x.a", "agent", msg));
    assert_false(may(a, &other, "x.a", NULL, msg));
    assert_non_null(strstr(msg, "uid 1001 gid 1001 matches no writer"));
    assert_non_null(strstr(msg, "no such file"));
    serve_auth_free(a);
}

static void
test_auth__entries(void **state)
{
    struct serve_auth *a;
    struct serve_peer p;
    char err[600], msg[600];
    (void)state;
    put("{\"version\":1,\"writers\":["
        "{\"uid\":2000,\"types\":[\"x.ok.*\",\"x.exact\"],\"actors\":[\"log\"]}"
        ","
        "{\"gid\":3000,\"uid\":2001,\"types\":[\"g.*\"]},"
        "{\"unit\":\"agent.service\",\"actors\":[\"agent\"]},"
        "{\"uid\":2002,\"types\":[\"*\"],\"comment\":\"all\"}]}");
    assert_int_equal(serve_auth_load(&a, path, 999, err, sizeof err), 0);
    p = peer(2000, 2000, "");
    assert_true(may(a, &p, "x.ok.a", NULL, msg));
    assert_true(may(a, &p, "x.ok.a.b", "log", msg));
    assert_true(may(a, &p, "x.exact", NULL, msg));
    assert_false(may(a, &p, "x.ok", NULL, msg)); /* x.* is under x. */
    assert_non_null(strstr(msg, "may not write type \"x.ok\""));
    assert_false(may(a, &p, "x.exactly", NULL, msg));
    assert_false(may(a, &p, "x.ok.a", "agent", msg));
    assert_non_null(strstr(msg, "as actor \"agent\""));
    /* gid: primary or supplementary, and the uid too */
    p = peer(2001, 3000, "");
    assert_true(may(a, &p, "g.x", NULL, msg));
    p = peer(2001, 2001, "");
    assert_false(may(a, &p, "g.x", NULL, msg));
    p.groups[0] = 5;
    p.groups[1] = 3000;
    p.ngroups = 2;
    assert_true(may(a, &p, "g.x", NULL, msg));
    p = peer(2003, 3000, "");
    assert_false(may(a, &p, "g.x", NULL, msg)); /* uid 2001 only */
    /* unit */
    p = peer(4000, 4000, "agent.service");
    assert_true(may(a, &p, "any.type", "agent", msg));
    assert_false(may(a, &p, "any.type", NULL, msg));
    p = peer(4000, 4000, "other.service");
    assert_false(may(a, &p, "any.type", "agent", msg));
    /* "*" */
    p = peer(2002, 1, "");
    assert_true(may(a, &p, "z", NULL, msg));
    /* the daemon's own uid, whatever the file says */
    p = peer(999, 999, "");
    assert_true(may(a, &p, "z", "who", msg));
    /* a peer the kernel did not name */
    p = peer(2000, 2000, "");
    p.ok = 0;
    assert_false(may(a, &p, "x.ok.a", NULL, msg));
    assert_non_null(strstr(msg, "SO_PEERCRED"));
    serve_auth_free(a);
}

static void
bad(const char *text, const char *want)
{
    struct serve_auth *a = (struct serve_auth *)1;
    char err[600];
    put(text);
    assert_int_equal(serve_auth_load(&a, path, 1, err, sizeof err),
                     LDG_EBADINPUT);
    assert_null(a);
    if (strstr(err, want) == NULL)
        fail_msg("%s: want \"%s\" in \"%s\"", text, want, err);
    assert_non_null(strstr(err, path));
}

static void
test_auth__malformed(void **state)
{
    (void)state;
    bad("{\"writers\":[\n{\"uid\":1,}]}", "line 2, column");
    bad("", "line 1");
    bad("[]", "must be an object");
    bad("{\"writers\":[],\"writer\":[]}", "unknown key \"writer\"");
    bad("{}", "writers: missing or not a list");
    bad("{\"writers\":{}}", "writers: missing or not a list");
    bad("{\"version\":2,\"writers\":[]}", "version 1");
    bad("{\"writers\":[{\"uid\":1,\"uid\":2}]}", "duplicate");
    bad("{\"writers\":[{\"uid\":1,\"typs\":[]}]}",
        "writers[0]: unknown key \"typs\"");
    bad("{\"writers\":[5]}", "writers[0]: must be an object");
    bad("{\"writers\":[{\"types\":[\"x.*\"]}]}", "writers[0]: names no peer");
    bad("{\"writers\":[{\"uid\":1,\"user\":\"root\"}]}", "not both");
    bad("{\"writers\":[{\"gid\":1,\"group\":\"root\"}]}", "not both");
    bad("{\"writers\":[{\"uid\":-1}]}", "writers[0].uid: must be a number");
    bad("{\"writers\":[{\"uid\":\"1\"}]}", "writers[0].uid: must be a number");
    bad("{\"writers\":[{\"uid\":4294967295}]}", "writers[0].uid");
    bad("{\"writers\":[{\"uid\":1},{\"user\":\"no-such-user-xyz\"}]}",
        "writers[1].user: no user \"no-such-user-xyz\"");
    bad("{\"writers\":[{\"group\":\"no-such-group-xyz\"}]}",
        "writers[0].group: no group");
    bad("{\"writers\":[{\"unit\":\"a/b.service\"}]}", "writers[0].unit");
    bad("{\"writers\":[{\"unit\":\"\"}]}", "writers[0].unit");
    bad("{\"writers\":[{\"uid\":1,\"types\":[]}]}",
        "writers[0].types: must be");
    bad("{\"writers\":[{\"uid\":1,\"types\":[\"\"]}]}", "writers[0].types[0]");
    bad("{\"writers\":[{\"uid\":1,\"types\":[\"x*\"]}]}",
        "writers[0].types[0]: \"x*\"");
    bad("{\"writers\":[{\"uid\":1,\"types\":[\"*.x\"]}]}", "types[0]");
    bad("{\"writers\":[{\"uid\":1,\"types\":[\"a.*.*\"]}]}", "types[0]");
    bad("{\"writers\":[{\"uid\":1,\"actors\":[7]}]}", "writers[0].actors[0]");
    bad("{\"writers\":[{\"uid\":1,\"comment\":5}]}", "writers[0].comment");
    bad("{\"readers\":\"no-such-group-xyz\",\"writers\":[]}",
        "readers: no group");
    bad("{\"readers\":\"\",\"writers\":[]}", "readers: must be a group");
}

static void
test_auth__too_many_entries(void **state)
{
    char buf[64 * 16 + 64];
    size_t off = 0;
    (void)state;
    off += (size_t)snprintf(buf, sizeof buf, "{\"writers\":[");
    for (int i = 0; i < 64; i++)
        off += (size_t)snprintf(buf + off, sizeof buf - off, "%s{\"uid\":%d}",
                                i ? "," : "", i);
    snprintf(buf + off, sizeof buf - off, "]}");
    bad(buf, "64 entries, at most 63");
}


/* Readers: the directory, data.mdb and lock.mdb get the group and the
 * modes reading needs. The directory's setgid bit only when files the
 * server makes would not get the group anyway: a directory already 0750
 * in the server's own group is left as it is (the shipped unit's
 * RestrictSUIDSGID= refuses the bit, found by tests/systemd/boot.sh). */
static mode_t
mode_of(const char *f)
{
    struct stat st;
    assert_int_equal(stat(f, &st), 0);
    return st.st_mode & 07777;
}

static void
touch(const char *f, mode_t mode)
{
    FILE *fp = fopen(f, "w");
    assert_non_null(fp);
    fclose(fp);
    assert_int_equal(chmod(f, mode), 0);
}

static void
test_auth__readers_modes(void **state)
{
    struct serve_auth *a = NULL;
    char err[600], data[160], lock[160], text[200];
    (void)state;
    snprintf(data, sizeof data, "%s/data.mdb", dir);
    snprintf(lock, sizeof lock, "%s/lock.mdb", dir);
    touch(data, 0600);
    touch(lock, 0600);

    /* the server's own group: 0750 stays, the files get their modes */
    assert_int_equal(chmod(dir, 0750), 0);
    snprintf(text, sizeof text, "{\"readers\": %u, \"writers\": []}",
             (unsigned)getegid());
    put(text);
    assert_int_equal(serve_auth_load(&a, path, getuid(), err, sizeof err), 0);
    assert_int_equal(serve_auth_apply_readers(a, dir, NULL, err, sizeof err),
                     0);
    assert_int_equal(mode_of(dir), 0750);
    assert_int_equal(mode_of(data), 0640);
    assert_int_equal(mode_of(lock), 0660);
    serve_auth_free(a);

    /* another group (root only may give it): the setgid directory */
    if (geteuid() == 0) {
        struct stat st;
        gid_t other = getegid() == 65534 ? 65533 : 65534;
        snprintf(text, sizeof text, "{\"readers\": %u, \"writers\": []}",
                 (unsigned)other);
        put(text);
        assert_int_equal(serve_auth_load(&a, path, getuid(), err, sizeof err),
                         0);
        assert_int_equal(
            serve_auth_apply_readers(a, dir, NULL, err, sizeof err), 0);
        assert_int_equal(mode_of(dir), 02750);
        assert_int_equal(stat(data, &st), 0);
        assert_int_equal(st.st_gid, other);
        serve_auth_free(a);
    }
    unlink(data);
    unlink(lock);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_auth__default_without_a_file,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_auth__entries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auth__malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auth__too_many_entries, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_auth__readers_modes, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
