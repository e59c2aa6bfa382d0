/*
 * test_tiles.c — ldg_tiles_write (ledger/tiles.c) end to end: a real
 * ledger is published as C2SP tlog-tiles and Go's x/mod/sumdb/tlog, via
 * tests/interop/tlogcheck, must read every tile and bundle and find the
 * ledger's own root. The file-level checks (what is written, what is
 * left alone, repairs, errors) run without Go too.
 *
 * Go: skipped if `go` is not on PATH, unless LEDGER_REQUIRE_GO=1. The
 * checker is built from the source tree (LEDGER_SRC_DIR, else derived from
 * this file's path, else ".") in GOPATH mode against /usr/share/gocode
 * (LEDGER_GOPATH overrides).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "ledger/module.h"
#include "util/util.h"
#include "tests/support/support.h"

struct fix {
    char dir[4096]; /* the ledger */
    char pub[4200]; /* the tiles directory */
    char tmp[4096]; /* scratch: checker binary, outputs */
    char checker[4200];
    char vkey[512];
    struct ldg_ledger *l;
    int have_go;
};

static int
on_path(const char *prog)
{
    const char *path = getenv("PATH");
    char buf[4096];

    while (path != NULL && *path) {
        size_t n = strcspn(path, ":");
        snprintf(buf, sizeof buf, "%.*s/%s", (int)n, path, prog);
        if (access(buf, X_OK) == 0)
            return 1;
        path += n + (path[n] == ':');
    }
    return 0;
}

/* Runs argv in dir (NULL: here) with stdout and stderr into files; returns
 * the exit status (-1 if killed). */
static int
run(const char *dir, const char *const argv[], const char *out, const char *err)
{
    pid_t pid = fork();
    int status;

    assert_true(pid >= 0);
    if (pid == 0) {
        size_t argc = 0;
        char **av;
        int fo = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int fe = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        while (argv[argc] != NULL)
            argc++;
        av = calloc(argc + 1, sizeof *av);
        for (size_t i = 0; av != NULL && i < argc; i++)
            av[i] = strdup(argv[i]);
        if (fo < 0 || fe < 0 || av == NULL || dup2(fo, 1) < 0 ||
            dup2(fe, 2) < 0 || (dir != NULL && chdir(dir) != 0))
            _exit(126);
        execvp(av[0], av);
        _exit(127);
    }
    while (waitpid(pid, &status, 0) < 0)
        assert_int_equal(errno, EINTR);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static char *
slurp(const char *path)
{
    FILE *fp = fopen(path, "rb");
    char *b = calloc(1, 65536);

    assert_non_null(b);
    if (fp != NULL) {
        size_t n = fread(b, 1, 65535, fp);
        b[n] = '\0';
        fclose(fp);
    }
    return b;
}

static int
setup(void **state)
{
    struct fix *f = calloc(1, sizeof *f);
    const char *base = getenv("TMPDIR");
    const char *gopath = getenv("LEDGER_GOPATH");

    assert_non_null(f);
    *state = f;
    snprintf(f->tmp, sizeof f->tmp, "%s/ldg-tiles-XXXXXX",
             base ? base : "/tmp");
    assert_non_null(mkdtemp(f->tmp));
    f->have_go = on_path("go");
    if (f->have_go) {
        const char *src = getenv("LEDGER_SRC_DIR");
        const char *me = __FILE__, *suffix = "tests/ledger/test_tiles.c";
        size_t ml = strlen(me), sl = strlen(suffix);
        char srcbuf[4096], out[4200], err[4200];
        const char *argv[] = {
            "go", "build", "-o", f->checker, "./tests/interop/tlogcheck", NULL};

        if (src == NULL && ml > sl && strcmp(me + ml - sl, suffix) == 0) {
            snprintf(srcbuf, sizeof srcbuf, "%.*s", (int)(ml - sl - 1), me);
            src = srcbuf;
        }
        setenv("GOPATH", gopath ? gopath : "/usr/share/gocode", 1);
        setenv("GO111MODULE", "off", 1);
        unsetenv("GOFLAGS");
        if (getenv("GOCACHE") == NULL && getenv("HOME") == NULL) {
            char cache[4200];
            snprintf(cache, sizeof cache, "%s/gocache", f->tmp);
            setenv("GOCACHE", cache, 1);
        }
        snprintf(f->checker, sizeof f->checker, "%s/tlogcheck", f->tmp);
        snprintf(out, sizeof out, "%s/build.out", f->tmp);
        snprintf(err, sizeof err, "%s/build.err", f->tmp);
        if (run(src, argv, out, err) != 0) {
            char *e = slurp(err);
            fprintf(stderr,
                    "go build in %s failed (run from the source "
                    "tree or set LEDGER_SRC_DIR):\n%s\n",
                    src ? src : ".", e);
            free(e);
            return -1;
        }
    }
    return 0;
}

static int
teardown(void **state)
{
    struct fix *f = *state;

    t_rmrf(f->tmp);
    free(f);
    return 0;
}

/* A fresh ledger with n events in all (the genesis event included) and an
 * empty place to publish it. */
static int
each_setup(void **state)
{
    struct fix *f = *state;
    uint64_t size;

    f->l = t_ledger_new(f->dir, sizeof f->dir, 0);
    snprintf(f->pub, sizeof f->pub, "%s/pub", f->dir);
    assert_true(ldg_verifier_key(f->l, f->vkey, sizeof f->vkey) >= 0);
    assert_int_equal(ldg_size(f->l, &size), 0);
    return 0;
}

static int
each_teardown(void **state)
{
    struct fix *f = *state;

    ldg_close(f->l);
    t_rmrf(f->dir);
    return 0;
}

static void
grow_to(struct ldg_ledger *l, uint64_t size)
{
    uint64_t now;

    assert_int_equal(ldg_size(l, &now), 0);
    assert_true(now <= size);
    if (size > now)
        t_append_many(l, (int)(size - now));
    assert_int_equal(ldg_size(l, &now), 0);
    assert_int_equal(now, size);
}

static int
exists(const char *dir, const char *rel)
{
    char p[8400];
    struct stat st;

    snprintf(p, sizeof p, "%s/%s", dir, rel);
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static off_t
file_size(const char *dir, const char *rel)
{
    char p[8400];
    struct stat st;

    snprintf(p, sizeof p, "%s/%s", dir, rel);
    assert_int_equal(stat(p, &st), 0);
    return st.st_size;
}

/* Go reads the whole directory and must find the ledger's root. */
static void
go_accepts(struct fix *f, uint64_t size)
{
    const char *req = getenv("LEDGER_REQUIRE_GO");
    char out[4200], err[4200], want[256], hex[65];
    const char *argv[] = {f->checker, "tiles", f->vkey, f->pub, NULL};
    struct ldg_txn *t;
    uint8_t root[32];
    char *o, *e;
    int rc;

    if (!f->have_go) {
        if (req != NULL && strcmp(req, "1") == 0)
            fail_msg("go is not on PATH and LEDGER_REQUIRE_GO=1");
        return; /* the file checks still ran */
    }
    snprintf(out, sizeof out, "%s/check.out", f->tmp);
    snprintf(err, sizeof err, "%s/check.err", f->tmp);
    rc = run(NULL, argv, out, err);
    o = slurp(out);
    e = slurp(err);
    if (rc != 0)
        fail_msg("tlogcheck tiles failed (%d): %s", rc, e);
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_tree_root(t, size, root), 0);
    ldg_txn_abort(t);
    ldg_hex(hex, root, 32);
    snprintf(want, sizeof want, "size %llu\nroot %s\n",
             (unsigned long long)size, hex);
    if (strstr(o, want) == NULL)
        fail_msg("tlogcheck said:\n%s\nwant:\n%s", o, want);
    free(o);
    free(e);
}

static int
go_rejects(struct fix *f)
{
    char out[4200], err[4200];
    const char *argv[] = {f->checker, "tiles", f->vkey, f->pub, NULL};

    snprintf(out, sizeof out, "%s/check.out", f->tmp);
    snprintf(err, sizeof err, "%s/check.err", f->tmp);
    return run(NULL, argv, out, err) != 0;
}

/* No temporary files left anywhere under dir. */
static void
no_temp_files(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        char p[8400];
        struct stat st;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (strncmp(e->d_name, ".tmp-", 5) == 0)
            fail_msg("temporary file left: %s/%s", dir, e->d_name);
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
            no_temp_files(p);
    }
    closedir(d);
}

/* --------------------------------------------------------------- tests -- */

static void
test_tiles__layout_and_go_accepts(void **state)
{
    struct fix *f = *state;
    struct ldg_tiles_report r;
    char *note, *pubck, p[8400];
    struct ldg_txn *t;

    grow_to(f->l, 300);
    memset(&r, 0xff, sizeof r);
    assert_int_equal(ldg_tiles_write(f->l, f->pub, &r), 0);
    assert_int_equal(r.size, 300);
    /* level 0: 000 and 001.p/44; level 1: 000.p/1 */
    assert_int_equal(r.tiles_written, 3);
    assert_int_equal(r.bundles_written, 2);
    assert_true(exists(f->pub, "tile/0/000"));
    assert_true(exists(f->pub, "tile/0/001.p/44"));
    assert_true(exists(f->pub, "tile/1/000.p/1"));
    assert_true(exists(f->pub, "tile/entries/000"));
    assert_true(exists(f->pub, "tile/entries/001.p/44"));
    assert_false(exists(f->pub, "tile/0/001"));
    assert_false(exists(f->pub, "tile/2/000.p/1"));
    assert_int_equal(file_size(f->pub, "tile/0/000"), 8192);
    assert_int_equal(file_size(f->pub, "tile/0/001.p/44"), 44 * 32);
    assert_int_equal(file_size(f->pub, "tile/1/000.p/1"), 32);
    no_temp_files(f->pub);

    /* DIR/checkpoint is the ledger's latest checkpoint, byte for byte. */
    assert_int_equal(ldg_txn_begin(f->l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_checkpoint_get(t, 0, &note), 0);
    ldg_txn_abort(t);
    snprintf(p, sizeof p, "%s/checkpoint", f->pub);
    pubck = slurp(p);
    assert_string_equal(pubck, note);
    free(pubck);
    free(note);

    go_accepts(f, 300);
}

static void
test_tiles__incremental_writes_only_what_is_new(void **state)
{
    struct fix *f = *state;
    struct ldg_tiles_report r;
    struct stat before, after;
    char p[8400];

    grow_to(f->l, 300);
    assert_int_equal(ldg_tiles_write(f->l, f->pub, &r), 0);
    snprintf(p, sizeof p, "%s/tile/0/000", f->pub);
    assert_int_equal(stat(p, &before), 0);

    /* Nothing new: nothing written. */
    assert_int_equal(ldg_tiles_write(f->l, f->pub, &r), 0);
    assert_int_equal(r.size, 300);
    assert_int_equal(r.tiles_written, 0);
    assert_int_equal(r.bundles_written, 0);

    /* Ten more: one new partial tile and bundle at level 0; the level-1
     * partial tile (still width 1) is unchanged. Old partials stay for
     * clients of the older checkpoint. */
    grow_to(f->l, 310);
    assert_int_equal(ldg_tiles_write(f->l, f->pub, &r), 0);
    assert_int_equal(r.size, 310);
    assert_int_equal(r.tiles_written, 1);
    assert_int_equal(r.bundles_written, 1);
    assert_true(exists(f->pub, "tile/0/001.p/54"));
    assert_true(exists(f->pub, "tile/0/001.p/44"));
    assert_true(exists(f->pub, "tile/entries/001.p/54"));
    assert_int_equal(stat(p, &after), 0);
    assert_int_equal(before.st_ino, after.st_ino); /* never replaced */
    go_accepts(f, 310);

    /* Across the next full tile: 512 completes tile 001 and makes the
     * level-1 tile two wide. */
    grow_to(f->l, 512);
    assert_int_equal(ldg_tiles_write(f->l, f->pub, &r), 0);
    assert_int_equal(r.tiles_written, 2); /* 0/001, 1/000.p/2 */
    assert_int_equal(r.bundles_written, 1);
    assert_true(exists(f->pub, "tile/0/001"));
    assert_true(exists(f->pub, "tile/1/000.p/2"));
    assert_false(exists(f->pub, "tile/0/002.p/0"));
    no_temp_files(f->pub);
    go_accepts(f, 512);
}

static void
test_tiles__full_pass_repairs_damage(void **state)
{
    struct fix *f = *state;
    struct ldg_tiles_report r;
    char p[8400];
    int fd;

    grow_to(f->l, 300);
    assert_int_equal(ldg_tiles_write(f->l, f->pub, &r), 0);

    /* Damage a full tile and a bundle, and drop the checkpoint so the
     * next run cannot trust what is there. */
    snprintf(p, sizeof p, "%s/tile/0/000", f->pub);
    fd = open(p, O_RDWR);
    assert_true(fd >= 0);
    {
        /* flipped, not overwritten: a hash byte is 'X' one time in 256,
         * and writing it again damaged nothing (a rare failure) */
        unsigned char b;
        assert_int_equal(pread(fd, &b, 1, 100), 1);
        b ^= 0xff;
        assert_int_equal(pwrite(fd, &b, 1, 100), 1);
    }
    close(fd);
    snprintf(p, sizeof p, "%s/tile/entries/000", f->pub);
    assert_int_equal(truncate(p, 10), 0);
    if (f->have_go)
        assert_true(go_rejects(f));
    snprintf(p, sizeof p, "%s/checkpoint", f->pub);
    assert_int_equal(unlink(p), 0);

    assert_int_equal(ldg_tiles_write(f->l, f->pub, &r), 0);
    assert_int_equal(r.tiles_written, 1);
    assert_int_equal(r.bundles_written, 1);
    go_accepts(f, 300);

    /* A checkpoint that is not the log's (garbage, or another log's):
     * ignored, full pass, nothing to repair. */
    snprintf(p, sizeof p, "%s/checkpoint", f->pub);
    fd = open(p, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "x\n1\n\n", 5), 5);
    close(fd);
    assert_int_equal(ldg_tiles_write(f->l, f->pub, &r), 0);
    assert_int_equal(r.tiles_written, 0);
    assert_int_equal(r.bundles_written, 0);
    go_accepts(f, 300);
}

static void
test_tiles__small_logs_and_errors(void **state)
{
    struct fix *f = *state;
    struct ldg_tiles_report r;
    char p[8400];
    int fd;

    /* The genesis event alone. */
    assert_int_equal(ldg_tiles_write(f->l, f->pub, &r), 0);
    assert_int_equal(r.size, 1);
    assert_int_equal(r.tiles_written, 1);
    assert_int_equal(r.bundles_written, 1);
    assert_true(exists(f->pub, "tile/0/000.p/1"));
    assert_true(exists(f->pub, "tile/entries/000.p/1"));
    go_accepts(f, 1);

    /* Exactly one full tile: level 1 gets a partial tile of width 1. */
    grow_to(f->l, 256);
    assert_int_equal(ldg_tiles_write(f->l, f->pub, &r), 0);
    assert_true(exists(f->pub, "tile/0/000"));
    assert_true(exists(f->pub, "tile/1/000.p/1"));
    assert_true(exists(f->pub, "tile/entries/000"));
    go_accepts(f, 256);

    /* Where a directory is needed there is a file. */
    snprintf(p, sizeof p, "%s/blocked", f->dir);
    fd = open(p, O_WRONLY | O_CREAT, 0644);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(ldg_tiles_write(f->l, p, &r), LDG_EIO);
    assert_true(strlen(ldg_errmsg(f->l)) > 0);
    snprintf(p, sizeof p, "%s/pub2", f->dir);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/pub2/tile", f->dir);
    fd = open(p, O_WRONLY | O_CREAT, 0644);
    close(fd);
    snprintf(p, sizeof p, "%s/pub2", f->dir);
    assert_int_equal(ldg_tiles_write(f->l, p, &r), LDG_EIO);
    assert_non_null(strstr(ldg_errmsg(f->l), "tile"));
    /* Misuse. */
    assert_int_equal(ldg_tiles_write(f->l, NULL, &r), LDG_EINVAL);
    assert_int_equal(ldg_tiles_write(f->l, "", &r), LDG_EINVAL);
    assert_int_equal(ldg_tiles_write(NULL, f->pub, &r), LDG_EINVAL);
    /* The report is optional. */
    assert_int_equal(ldg_tiles_write(f->l, f->pub, NULL), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tiles__layout_and_go_accepts,
                                        each_setup, each_teardown),
        cmocka_unit_test_setup_teardown(
            test_tiles__incremental_writes_only_what_is_new, each_setup,
            each_teardown),
        cmocka_unit_test_setup_teardown(test_tiles__full_pass_repairs_damage,
                                        each_setup, each_teardown),
        cmocka_unit_test_setup_teardown(test_tiles__small_logs_and_errors,
                                        each_setup, each_teardown),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
