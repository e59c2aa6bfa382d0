/*
 * test_tlog_interop.c — our transparency-log output, checked by Go's
 * golang.org/x/mod/sumdb/{note,tlog} through tests/interop/tlogcheck.
 *
 * Trees are built in memory (sizes 1, 2, 7, 256, 257, 1000, and 70000 for
 * tiles, the C2SP example with tiles on three levels). For each we write
 * signed checkpoints, tlog-proof@v1 inclusion proofs, tlog-witness
 * consistency bodies and a tlog-tiles directory with our functions, and
 * the Go checker must accept them, compute the same roots, and reject
 * mutated copies.
 *
 * Needs `go` on PATH and Debian's golang-golang-x-mod-dev (GOPATH mode,
 * GOPATH=/usr/share/gocode unless LEDGER_GOPATH says otherwise). Without
 * go the tests are skipped, unless LEDGER_REQUIRE_GO=1. LEDGER_KEEP_TMP=1
 * keeps the temporary directory.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
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
#include "ledger/tlog_int.h"

#define ORIGIN "example.com/ledger-interop"
#define BIG 1000
#define HUGE 70000

static const uint64_t sizes[] = {1, 2, 7, 256, 257, 1000};
#define NSIZES (sizeof sizes / sizeof sizes[0])

/* ------------------------------------------------- in-memory hash store -- */

struct memtree {
    uint64_t size, cap;
    uint8_t (*lv[64])[32];
    uint8_t **leaf;
    size_t *leaf_len;
};

static int
mem_reader(void *ctx, int level, uint64_t index, uint8_t out[32])
{
    const struct memtree *t = ctx;

    if (level < 0 || level > 63 || index >= (t->size >> level))
        return LDG_ENOTFOUND;
    memcpy(out, t->lv[level][index], 32);
    return 0;
}

/* Leaf i: "entry i " and i % 11 bytes of binary, so lengths vary and
 * bytes 0x00 and 0xff occur; leaf 0 is empty. */
static void
memtree_build(struct memtree *t, uint64_t n)
{
    memset(t, 0, sizeof *t);
    t->cap = n;
    for (int l = 0; l < 64 && (n >> l) > 0; l++)
        assert_non_null(t->lv[l] = calloc(n >> l, 32));
    assert_non_null(t->leaf = calloc(n, sizeof *t->leaf));
    assert_non_null(t->leaf_len = calloc(n, sizeof *t->leaf_len));
    for (uint64_t i = 0; i < n; i++) {
        uint8_t buf[64];
        size_t len = 0;
        if (i > 0) {
            len = (size_t)snprintf((char *)buf, sizeof buf, "entry %llu ",
                                   (unsigned long long)i);
            for (uint64_t k = 0; k < i % 11; k++)
                buf[len++] = (uint8_t)(k * 0x33 + i);
        }
        assert_non_null(t->leaf[i] = malloc(len ? len : 1));
        memcpy(t->leaf[i], buf, len);
        t->leaf_len[i] = len;
        ldg_tlog_leaf_hash(t->lv[0][i], buf, len);
        for (uint64_t j = i, l = 0; j & 1; j >>= 1, l++)
            ldg_tlog_node_hash(t->lv[l + 1][j >> 1], t->lv[l][j - 1],
                               t->lv[l][j]);
    }
    t->size = n;
}

static void
memtree_release(struct memtree *t)
{
    for (int l = 0; l < 64; l++)
        free(t->lv[l]);
    for (uint64_t i = 0; i < t->cap; i++)
        free(t->leaf[i]);
    free(t->leaf);
    free(t->leaf_len);
}

/* ------------------------------------------------------------ fixture -- */

struct fix {
    char tmp[4096];
    char checker[4200];
    char vkey[256];
    struct ldg_key *key, *other;
    struct memtree tree;
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
        path += n;
        if (*path == ':')
            path++;
    }
    return 0;
}

static void
src_dir(char *buf, size_t cap)
{
    const char *src = getenv("LEDGER_SRC_DIR");
    const char *me = __FILE__, *suffix = "tests/ledger/test_tlog_interop.c";
    size_t ml = strlen(me), sl = strlen(suffix);

    if (src != NULL)
        snprintf(buf, cap, "%s", src);
    else if (ml > sl && strcmp(me + ml - sl, suffix) == 0)
        snprintf(buf, cap, "%.*s", (int)(ml - sl - 1), me);
    else
        snprintf(buf, cap, ".");
}

/* Appends what fd has to b (keeping at most cap-1 bytes); 0 at EOF. */
static int
drain(int fd, char *b, size_t cap, size_t *n)
{
    char chunk[4096];
    ssize_t got = read(fd, chunk, sizeof chunk);

    if (got < 0)
        return errno == EINTR ? 1 : 0;
    if (got > 0 && *n + 1 < cap) {
        size_t take = (size_t)got < cap - 1 - *n ? (size_t)got : cap - 1 - *n;
        memcpy(b + *n, chunk, take);
        *n += take;
    }
    return got > 0;
}

/*
 * Runs argv (argv[0] found on PATH) in dir (NULL: here), capturing stdout
 * into out and stderr into err (NUL-terminated, truncated to fit).
 * Returns the exit status, or -1 if it did not exit normally.
 */
static int
run(const char *dir, const char *const argv[], char *out, size_t cap, char *err,
    size_t errcap)
{
    struct pollfd pfd[2];
    int po[2], pe[2], status, open_fds = 2;
    size_t on = 0, en = 0;
    pid_t pid;

    assert_int_equal(pipe(po), 0);
    assert_int_equal(pipe(pe), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(po[1], 1);
        dup2(pe[1], 2);
        close(po[0]);
        close(pe[0]);
        /* execvp wants mutable strings: copies (in the child only). */
        size_t argc = 0;
        char **av;
        while (argv[argc] != NULL)
            argc++;
        av = calloc(argc + 1, sizeof *av);
        for (size_t i = 0; av != NULL && i < argc; i++)
            av[i] = strdup(argv[i]);
        if (av == NULL || (dir != NULL && chdir(dir) != 0))
            _exit(126);
        execvp(av[0], av);
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    pfd[0].fd = po[0];
    pfd[1].fd = pe[0];
    pfd[0].events = pfd[1].events = POLLIN;
    while (open_fds > 0) {
        if (poll(pfd, 2, -1) < 0) {
            assert_int_equal(errno, EINTR);
            continue;
        }
        for (int i = 0; i < 2; i++) {
            if (pfd[i].fd < 0 || pfd[i].revents == 0)
                continue;
            if (!(i == 0 ? drain(pfd[i].fd, out, cap, &on)
                         : drain(pfd[i].fd, err, errcap, &en))) {
                close(pfd[i].fd);
                pfd[i].fd = -1;
                open_fds--;
            }
        }
    }
    out[on] = '\0';
    err[en] = '\0';
    while (waitpid(pid, &status, 0) < 0)
        assert_int_equal(errno, EINTR);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int
setup(void **state)
{
    static const uint8_t seed[32] = "ledger interop test key seed....";
    static const uint8_t seed2[32] = "another key, same name..........";
    struct fix *f = calloc(1, sizeof *f);
    const char *base = getenv("LEDGER_TEST_TMP");
    const char *gopath = getenv("LEDGER_GOPATH");
    char src[4096], out[4096], err[16384];

    assert_non_null(f);
    *state = f;
    if (base == NULL)
        base = getenv("TMPDIR");
    snprintf(f->tmp, sizeof f->tmp, "%s/ldg-interop-XXXXXX",
             base ? base : "/tmp");
    assert_non_null(mkdtemp(f->tmp));
    assert_int_equal(ldg_key_from_seed(&f->key, "log", seed), 0);
    assert_int_equal(ldg_key_from_seed(&f->other, "log", seed2), 0);
    assert_true(
        ldg_note_verifier(f->vkey, sizeof f->vkey, ORIGIN, f->key->pub) > 0);
    memtree_build(&f->tree, HUGE);

    f->have_go = on_path("go");
    if (!f->have_go)
        return 0;
    /* GOPATH mode against the distribution's x/mod; a cache of our own if
     * there is no HOME to keep one in; no module flags from outside. */
    setenv("GOPATH", gopath ? gopath : "/usr/share/gocode", 1);
    setenv("GO111MODULE", "off", 1);
    unsetenv("GOFLAGS");
    if (getenv("GOCACHE") == NULL && getenv("HOME") == NULL) {
        char cache[4200];
        snprintf(cache, sizeof cache, "%s/gocache", f->tmp);
        setenv("GOCACHE", cache, 1);
    }
    snprintf(f->checker, sizeof f->checker, "%s/tlogcheck", f->tmp);
    src_dir(src, sizeof src);
    {
        const char *argv[] = {
            "go", "build", "-o", f->checker, "./tests/interop/tlogcheck", NULL};
        int rc = run(src, argv, out, sizeof out, err, sizeof err);
        if (rc != 0) {
            fprintf(stderr,
                    "go build in %s failed (%d) (run from the source tree "
                    "or set LEDGER_SRC_DIR):\n%s\n",
                    src, rc, err);
            return -1;
        }
    }
    return 0;
}

static int
teardown(void **state)
{
    struct fix *f = *state;

    if (getenv("LEDGER_KEEP_TMP") == NULL)
        nftw(f->tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    else
        fprintf(stderr, "kept %s\n", f->tmp);
    memtree_release(&f->tree);
    ldg_key_free(f->key);
    ldg_key_free(f->other);
    free(f);
    return 0;
}

static void
need_go(struct fix *f)
{
    const char *req = getenv("LEDGER_REQUIRE_GO");

    if (f->have_go)
        return;
    if (req != NULL && strcmp(req, "1") == 0)
        fail_msg("go is not on PATH and LEDGER_REQUIRE_GO=1");
    skip();
}

/* ------------------------------------------------------------ helpers -- */

static void
write_file(const char *path, const void *data, size_t len)
{
    FILE *fp = fopen(path, "wb");

    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

static char *
read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    char *b;
    long n;

    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    b = malloc((size_t)n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, fp), (size_t)n);
    b[n] = '\0';
    fclose(fp);
    *len = (size_t)n;
    return b;
}

static void
path_in(const struct fix *f, char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", f->tmp, name);
}

/* Runs the checker; returns its exit code, output in out. */
static int
check(struct fix *f, char *out, size_t cap, const char *a1, const char *a2,
      const char *a3, const char *a4)
{
    char err[4096];
    const char *argv[] = {f->checker, a1, a2, a3, a4, NULL};
    int rc = run(NULL, argv, out, cap, err, sizeof err);

    if (rc != 0 && getenv("LEDGER_TEST_VERBOSE") != NULL)
        fprintf(stderr, "tlogcheck %s: %s", a1, err);
    return rc;
}

/* The "root HEX" line of the checker's output. */
static void
assert_output_root(const char *out, uint64_t size, const uint8_t root[32])
{
    char want[128], hex[65];

    ldg_hex(hex, root, 32);
    snprintf(want, sizeof want, "size %llu\nroot %s\n",
             (unsigned long long)size, hex);
    if (strstr(out, want) == NULL)
        fail_msg("checker output:\n%s\nwant:\n%s", out, want);
}

/* Signed checkpoint note of the tree's first size leaves. */
static char *
signed_checkpoint(struct fix *f, const struct ldg_key *key, uint64_t size,
                  uint8_t root[32])
{
    char text[512];
    char *note;
    int n;

    f->tree.size = size;
    assert_int_equal(ldg_tlog_root(mem_reader, &f->tree, size, root), 0);
    f->tree.size = f->tree.cap;
    n = ldg_checkpoint_text(text, sizeof text, ORIGIN, size, root);
    assert_true(n > 0);
    assert_int_equal(ldg_note_sign(&note, text, (size_t)n, ORIGIN, key), 0);
    return note;
}

/* --------------------------------------------------------------- tests -- */

static void
test_tlog_interop__roots_match_go(void **state)
{
    struct fix *f = *state;
    static const char *ct[] = {"-",
                               "00",
                               "10",
                               "2021",
                               "3031",
                               "40414243",
                               "5051525354555657",
                               "606162636465666768696a6b6c6d6e6f"};
    char out[4096];
    const char **argv;
    char **hex;
    uint8_t root[32];

    need_go(f);
    /* The CT vectors: Go must agree with the known root of 8 leaves. */
    {
        char err[1024];
        const char *av[11] = {f->checker, "root"};
        uint8_t want[32];
        for (int i = 0; i < 8; i++)
            av[2 + i] = ct[i];
        av[10] = NULL;
        assert_int_equal(run(NULL, av, out, sizeof out, err, sizeof err), 0);
        ldg_unhex(want, 32,
                  "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960"
                  "cfe370eff4604328");
        assert_output_root(out, 8, want);
    }
    /* Our trees: hex leaves on the command line. */
    argv = calloc(BIG + 3, sizeof *argv);
    hex = calloc(BIG, sizeof *hex);
    assert_non_null(argv);
    assert_non_null(hex);
    argv[0] = f->checker;
    argv[1] = "root";
    for (uint64_t i = 0; i < BIG; i++) {
        size_t len = f->tree.leaf_len[i];
        hex[i] = malloc(2 * len + 2);
        assert_non_null(hex[i]);
        if (len == 0)
            strcpy(hex[i], "-");
        else
            ldg_hex(hex[i], f->tree.leaf[i], len);
        argv[2 + i] = hex[i];
    }
    for (size_t k = 0; k < NSIZES; k++) {
        char err[1024];
        uint64_t s = sizes[k];
        const char *save = argv[2 + s];
        argv[2 + s] = NULL;
        assert_int_equal(run(NULL, argv, out, sizeof out, err, sizeof err), 0);
        argv[2 + s] = save;
        f->tree.size = s;
        assert_int_equal(ldg_tlog_root(mem_reader, &f->tree, s, root), 0);
        assert_output_root(out, s, root);
    }
    f->tree.size = f->tree.cap;
    /* The empty tree. */
    {
        char err[1024];
        const char *av[] = {f->checker, "root", NULL};
        assert_int_equal(run(NULL, av, out, sizeof out, err, sizeof err), 0);
        assert_int_equal(ldg_tlog_root(mem_reader, &f->tree, 0, root), 0);
        assert_output_root(out, 0, root);
    }
    for (uint64_t i = 0; i < BIG; i++)
        free(hex[i]);
    free(hex);
    free(argv);
}

static void
test_tlog_interop__checkpoints_accepted_and_forgeries_rejected(void **state)
{
    struct fix *f = *state;
    char path[4300], out[4096];
    uint8_t root[32];

    need_go(f);
    path_in(f, path, sizeof path, "checkpoint");
    for (size_t k = 0; k < NSIZES; k++) {
        char *note = signed_checkpoint(f, f->key, sizes[k], root);
        char *n2, *sig;
        size_t len = strlen(note);

        write_file(path, note, len);
        assert_int_equal(
            check(f, out, sizeof out, "checkpoint", f->vkey, path, NULL), 0);
        assert_output_root(out, sizes[k], root);
        assert_non_null(strstr(out, "origin " ORIGIN "\n"));

        /* The size changed in the text. */
        n2 = strdup(note);
        n2[strlen(ORIGIN) + 1] ^= 1;
        write_file(path, n2, len);
        assert_int_not_equal(
            check(f, out, sizeof out, "checkpoint", f->vkey, path, NULL), 0);
        /* A bit of the root's base64 changed. */
        memcpy(n2, note, len);
        sig = strchr(strchr(n2, '\n') + 1, '\n') + 1 + 4;
        *sig = *sig == 'A' ? 'B' : 'A';
        write_file(path, n2, len);
        assert_int_not_equal(
            check(f, out, sizeof out, "checkpoint", f->vkey, path, NULL), 0);
        /* A bit of the signature changed. */
        memcpy(n2, note, len);
        sig = strrchr(n2, ' ') + 10;
        *sig = *sig == 'A' ? 'B' : 'A';
        write_file(path, n2, len);
        assert_int_not_equal(
            check(f, out, sizeof out, "checkpoint", f->vkey, path, NULL), 0);
        free(n2);

        /* Signed by another key under the same name. */
        n2 = signed_checkpoint(f, f->other, sizes[k], root);
        write_file(path, n2, strlen(n2));
        assert_int_not_equal(
            check(f, out, sizeof out, "checkpoint", f->vkey, path, NULL), 0);
        /* ... but that line next to ours is ignored (unknown key). */
        {
            char *both = malloc(len + strlen(n2) + 1);
            char *theirs = strstr(n2, "\n\n") + 2;
            memcpy(both, note, len);
            strcpy(both + len, theirs);
            write_file(path, both, strlen(both));
            assert_int_equal(
                check(f, out, sizeof out, "checkpoint", f->vkey, path, NULL),
                0);
            /* and our verifier agrees */
            {
                size_t tl;
                assert_int_equal(ldg_note_verify(both, strlen(both), ORIGIN,
                                                 f->key->pub, &tl),
                                 0);
            }
            free(both);
        }
        free(n2);
        free(note);
    }
}

static void
test_tlog_interop__inclusion_proofs_accepted_and_mutants_rejected(void **state)
{
    struct fix *f = *state;
    char ppath[4300], lpath[4300], out[4096];
    uint8_t root[32], proof[LDG_PROOF_MAX][32];
    size_t n;
    int accepted = 0;

    need_go(f);
    path_in(f, ppath, sizeof ppath, "entry.tlog-proof");
    path_in(f, lpath, sizeof lpath, "entry");
    for (size_t k = 0; k < NSIZES; k++) {
        uint64_t s = sizes[k];
        const uint64_t idx[] = {0, 1, s / 2, s - 2, s - 1};
        char *note = signed_checkpoint(f, f->key, s, root);

        for (size_t j = 0; j < 5; j++) {
            uint64_t i = idx[j];
            char *text, *bad;
            size_t tl;

            if (i >= s || (j > 0 && i == idx[j - 1]))
                continue;
            f->tree.size = s;
            assert_int_equal(
                ldg_tlog_inclusion_proof(mem_reader, &f->tree, i, s, proof, &n),
                0);
            f->tree.size = f->tree.cap;
            assert_int_equal(ldg_tlog_proof_format(&text, i, proof, n, note),
                             0);
            tl = strlen(text);
            write_file(ppath, text, tl);
            write_file(lpath, f->tree.leaf[i], f->tree.leaf_len[i]);
            assert_int_equal(
                check(f, out, sizeof out, "inclusion", f->vkey, ppath, lpath),
                0);
            assert_output_root(out, s, root);
            accepted++;

            /* Our own parser and verifier agree. */
            {
                uint64_t pi;
                uint8_t pp[LDG_PROOF_MAX][32], lh[32];
                const char *cp;
                size_t pn, cl, tlen;
                assert_int_equal(
                    ldg_tlog_proof_parse(text, tl, &pi, pp, &pn, &cp, &cl), 0);
                assert_int_equal(
                    ldg_note_verify(cp, cl, ORIGIN, f->key->pub, &tlen), 0);
                ldg_tlog_leaf_hash(lh, f->tree.leaf[i], f->tree.leaf_len[i]);
                assert_int_equal(
                    ldg_tlog_verify_inclusion(
                        lh, pi, s, (const uint8_t(*)[32])pp, pn, root),
                    0);
            }

            /* Another entry's bytes. */
            write_file(lpath, f->tree.leaf[(i + 1) % s],
                       f->tree.leaf_len[(i + 1) % s]);
            if (s > 1)
                assert_int_not_equal(check(f, out, sizeof out, "inclusion",
                                           f->vkey, ppath, lpath),
                                     0);
            write_file(lpath, f->tree.leaf[i], f->tree.leaf_len[i]);

            /* Another index in the text. */
            {
                char *t2;
                assert_int_equal(
                    ldg_tlog_proof_format(&t2, i + 1, proof, n, note), 0);
                write_file(ppath, t2, strlen(t2));
                assert_int_not_equal(check(f, out, sizeof out, "inclusion",
                                           f->vkey, ppath, lpath),
                                     0);
                free(t2);
            }
            if (n > 0) {
                /* A bit of the first hash line (its 3rd base64 char). */
                char *h;
                bad = strdup(text);
                h = strchr(strstr(bad, "\nindex ") + 1, '\n') + 1 + 2;
                *h = *h == 'A' ? 'B' : 'A';
                write_file(ppath, bad, tl);
                assert_int_not_equal(check(f, out, sizeof out, "inclusion",
                                           f->vkey, ppath, lpath),
                                     0);
                free(bad);
                /* The last hash dropped. */
                {
                    char *t2;
                    assert_int_equal(
                        ldg_tlog_proof_format(&t2, i, proof, n - 1, note), 0);
                    write_file(ppath, t2, strlen(t2));
                    assert_int_not_equal(check(f, out, sizeof out, "inclusion",
                                               f->vkey, ppath, lpath),
                                         0);
                    free(t2);
                }
            }
            free(text);
        }
        free(note);
    }
    assert_true(accepted >= 25);
}

static void
test_tlog_interop__consistency_bodies_accepted_and_mutants_rejected(
    void **state)
{
    static const uint64_t pairs[][2] = {
        {1, 1},    {1, 2}, {2, 7},     {7, 256}, {256, 257}, {257, 1000},
        {1, 1000}, {7, 7}, {255, 256}, {6, 7},   {0, 7},     {999, 1000},
    };
    struct fix *f = *state;
    char opath[4300], bpath[4300], out[4096];
    uint8_t oroot[32], nroot[32], proof[LDG_PROOF_MAX][32];
    size_t n;

    need_go(f);
    path_in(f, opath, sizeof opath, "old-checkpoint");
    path_in(f, bpath, sizeof bpath, "add-checkpoint");
    for (size_t k = 0; k < sizeof pairs / sizeof pairs[0]; k++) {
        uint64_t o = pairs[k][0], s = pairs[k][1];
        char *onote = signed_checkpoint(f, f->key, o, oroot);
        char *nnote = signed_checkpoint(f, f->key, s, nroot);
        char *body, *b2;

        n = 0;
        if (o > 0) {
            f->tree.size = s;
            assert_int_equal(ldg_tlog_consistency_proof(mem_reader, &f->tree, o,
                                                        s, proof, &n),
                             0);
            f->tree.size = f->tree.cap;
        }
        assert_int_equal(ldg_tlog_consistency_format(&body, o, proof, n, nnote),
                         0);
        write_file(opath, onote, strlen(onote));
        write_file(bpath, body, strlen(body));
        assert_int_equal(
            check(f, out, sizeof out, "consistency", f->vkey, opath, bpath), 0);
        assert_output_root(out, s, nroot);
        /* Our verifier agrees, from the parsed body. */
        {
            uint64_t po;
            uint8_t pp[LDG_PROOF_MAX][32];
            const char *cp;
            size_t pn, cl;
            assert_int_equal(ldg_tlog_consistency_parse(body, strlen(body), &po,
                                                        pp, &pn, &cp, &cl),
                             0);
            assert_int_equal(
                ldg_tlog_verify_consistency(po, s, oroot, nroot,
                                            (const uint8_t(*)[32])pp, pn),
                0);
        }

        /* The old size in the body is not the old checkpoint's. */
        assert_int_equal(
            ldg_tlog_consistency_format(&b2, o + 1, proof, n, nnote), 0);
        write_file(bpath, b2, strlen(b2));
        assert_int_not_equal(
            check(f, out, sizeof out, "consistency", f->vkey, opath, bpath), 0);
        free(b2);
        if (n > 0) {
            /* A bit of the last proof hash. */
            proof[n - 1][3] ^= 0x10;
            assert_int_equal(
                ldg_tlog_consistency_format(&b2, o, proof, n, nnote), 0);
            proof[n - 1][3] ^= 0x10;
            write_file(bpath, b2, strlen(b2));
            assert_int_not_equal(
                check(f, out, sizeof out, "consistency", f->vkey, opath, bpath),
                0);
            free(b2);
            /* The first hash dropped. */
            assert_int_equal(
                ldg_tlog_consistency_format(&b2, o, proof + 1, n - 1, nnote),
                0);
            write_file(bpath, b2, strlen(b2));
            assert_int_not_equal(
                check(f, out, sizeof out, "consistency", f->vkey, opath, bpath),
                0);
            free(b2);
        }
        if (o > 0) {
            /* A validly signed old checkpoint of a different tree of the
             * same size: signatures alone must not be enough. */
            char text[512], *forged;
            uint8_t fake[32];
            int tn;
            memcpy(fake, oroot, 32);
            fake[0] ^= 1;
            tn = ldg_checkpoint_text(text, sizeof text, ORIGIN, o, fake);
            assert_int_equal(
                ldg_note_sign(&forged, text, (size_t)tn, ORIGIN, f->key), 0);
            write_file(opath, forged, strlen(forged));
            write_file(bpath, body, strlen(body));
            assert_int_not_equal(
                check(f, out, sizeof out, "consistency", f->vkey, opath, bpath),
                0);
            free(forged);
        }
        free(body);
        free(onote);
        free(nnote);
    }
}

/* Writes a tlog-tiles directory for the tree's first size leaves with
 * ldg_tlog_tile_path; returns the number of files. */
static int
write_tiles(struct fix *f, const char *dir, uint64_t size, const char *note)
{
    char rel[128], path[8192];
    uint8_t *buf = malloc(256 * (2 + 64));
    int files = 0;

    assert_non_null(buf);
    f->tree.size = size;
    for (int level = -1; level < 8; level++) {
        int shift = level < 0 ? 0 : 8 * level;
        uint64_t count = size >> shift;
        if (count == 0)
            break;
        for (uint64_t t = 0; t * 256 < count; t++) {
            unsigned w =
                count - t * 256 >= 256 ? 256 : (unsigned)(count - t * 256);
            size_t len = 0;
            char *slash;
            for (unsigned i = 0; i < w; i++) {
                uint64_t x = t * 256 + i;
                if (level < 0) {
                    size_t el = f->tree.leaf_len[x];
                    buf[len++] = (uint8_t)(el >> 8);
                    buf[len++] = (uint8_t)el;
                    memcpy(buf + len, f->tree.leaf[x], el);
                    len += el;
                } else {
                    assert_int_equal(mem_reader(&f->tree, shift, x, buf + len),
                                     0);
                    len += 32;
                }
            }
            assert_true(ldg_tlog_tile_path(rel, sizeof rel, level, t, w) > 0);
            snprintf(path, sizeof path, "%s/%s", dir, rel);
            /* mkdir -p */
            for (slash = path + strlen(dir) + 1;
                 (slash = strchr(slash, '/')) != NULL; slash++) {
                *slash = '\0';
                if (mkdir(path, 0755) != 0)
                    assert_int_equal(errno, EEXIST);
                *slash = '/';
            }
            write_file(path, buf, len);
            files++;
        }
    }
    f->tree.size = f->tree.cap;
    snprintf(path, sizeof path, "%s/checkpoint", dir);
    write_file(path, note, strlen(note));
    free(buf);
    return files;
}

static void
flip_file_byte(const char *path, long off)
{
    int fd = open(path, O_RDWR);
    unsigned char c;

    assert_true(fd >= 0);
    assert_int_equal(pread(fd, &c, 1, off), 1);
    c ^= 0x01;
    assert_int_equal(pwrite(fd, &c, 1, off), 1);
    close(fd);
}

static void
test_tlog_interop__tiles_accepted_and_mutants_rejected(void **state)
{
    static const uint64_t tsizes[] = {1, 7, 256, 257, 1000, HUGE};
    struct fix *f = *state;
    char dir[4300], out[4096], p[8400];
    uint8_t root[32];

    need_go(f);
    for (size_t k = 0; k < sizeof tsizes / sizeof tsizes[0]; k++) {
        uint64_t s = tsizes[k];
        char *note = signed_checkpoint(f, f->key, s, root);
        char name[64], want[64];
        int files;

        snprintf(name, sizeof name, "tiles-%llu", (unsigned long long)s);
        path_in(f, dir, sizeof dir, name);
        assert_int_equal(mkdir(dir, 0755), 0);
        files = write_tiles(f, dir, s, note);
        assert_int_equal(check(f, out, sizeof out, "tiles", f->vkey, dir, NULL),
                         0);
        assert_output_root(out, s, root);
        /* Go read every tile we wrote (hash tiles and bundles). */
        snprintf(want, sizeof want, "bundles %llu\n",
                 (unsigned long long)((s + 255) / 256));
        assert_non_null(strstr(out, want));
        (void)files;
        free(note);
    }
    /* The C2SP example: 70000 leaves have 273 full level-0 tiles and one
     * of width 112, one full level-1 tile and one of width 17, and one
     * level-2 tile of width 1. */
    path_in(f, dir, sizeof dir, "tiles-70000");
    snprintf(p, sizeof p, "%s/tile/0/272", dir);
    assert_int_equal(access(p, F_OK), 0);
    snprintf(p, sizeof p, "%s/tile/0/273.p/112", dir);
    assert_int_equal(access(p, F_OK), 0);
    snprintf(p, sizeof p, "%s/tile/1/000", dir);
    assert_int_equal(access(p, F_OK), 0);
    snprintf(p, sizeof p, "%s/tile/1/001.p/17", dir);
    assert_int_equal(access(p, F_OK), 0);
    snprintf(p, sizeof p, "%s/tile/2/000.p/1", dir);
    assert_int_equal(access(p, F_OK), 0);
    snprintf(p, sizeof p, "%s/tile/entries/273.p/112", dir);
    assert_int_equal(access(p, F_OK), 0);

    /* Mutants of the 1000-leaf directory, each undone after. */
    path_in(f, dir, sizeof dir, "tiles-1000");
    {
        static const struct {
            const char *file;
            long off;
        } m[] = {
            {"tile/0/001", 5},              /* a full level-0 tile */
            {"tile/0/003.p/232", 32 * 231}, /* the partial one's last hash */
            {"tile/1/000.p/3", 40},         /* level 1 */
            {"tile/entries/000", 20},       /* an entry's bytes */
            {"tile/entries/003.p/232", 1},  /* a length prefix */
        };
        for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
            snprintf(p, sizeof p, "%s/%s", dir, m[i].file);
            flip_file_byte(p, m[i].off);
            if (check(f, out, sizeof out, "tiles", f->vkey, dir, NULL) == 0)
                fail_msg("Go accepted %s with byte %ld flipped", m[i].file,
                         m[i].off);
            flip_file_byte(p, m[i].off);
        }
        /* A bundle with a trailing byte, a missing tile. */
        {
            size_t len;
            char *b;
            snprintf(p, sizeof p, "%s/tile/entries/001", dir);
            b = read_file(p, &len);
            b[len] = 0;
            write_file(p, b, len + 1);
            assert_int_not_equal(
                check(f, out, sizeof out, "tiles", f->vkey, dir, NULL), 0);
            write_file(p, b, len);
            free(b);
            snprintf(p, sizeof p, "%s/tile/0/002", dir);
            b = read_file(p, &len);
            assert_int_equal(unlink(p), 0);
            assert_int_not_equal(
                check(f, out, sizeof out, "tiles", f->vkey, dir, NULL), 0);
            write_file(p, b, len);
            free(b);
        }
        assert_int_equal(check(f, out, sizeof out, "tiles", f->vkey, dir, NULL),
                         0);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tlog_interop__roots_match_go),
        cmocka_unit_test(
            test_tlog_interop__checkpoints_accepted_and_forgeries_rejected),
        cmocka_unit_test(
            test_tlog_interop__inclusion_proofs_accepted_and_mutants_rejected),
        cmocka_unit_test(
            test_tlog_interop__consistency_bodies_accepted_and_mutants_rejected),
        cmocka_unit_test(
            test_tlog_interop__tiles_accepted_and_mutants_rejected),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
