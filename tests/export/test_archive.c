/*
 * test_archive.c — the bundle container (export/archive.c): names, the
 * writer, and the reader under hostile input.
 *
 * Hostile archives are made here with libarchive and libzstd directly:
 * links, devices, directories, sparse files, absolute and ".." paths,
 * duplicates, a missing magic member, members outside the top directory,
 * a foreign format version, oversize
 * members, too many members, too much data, a large zstd window, trailing
 * garbage, a missing end marker, a plain tar. Each must be refused with
 * the right code and nothing extracted.
 *
 * With LDG_EXPORT_WRITE_VECTORS=DIR set, every hostile archive is also
 * written to DIR (that is how tests/vectors/bundles/ was made); the last
 * test runs every file there through the verifier, so the fuzz corpus is
 * exercised without clang.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <archive.h>
#include <archive_entry.h>
#include <cmocka.h>
#include <dirent.h>
#include <zstd.h>

#include "tests/export/helpers.h"

#define MAGIC_DATA LDG_BUNDLE_MAGIC "\n"

/* ------------------------------------------------ raw archive builder -- */

struct raw {
    struct archive *a;
    uint8_t *tar;
    size_t len, cap;
};

static la_ssize_t
raw_write(struct archive *a, void *ctx, const void *p, size_t n)
{
    struct raw *r = ctx;
    (void)a;
    if (r->len + n > r->cap) {
        r->cap = (r->len + n) * 2;
        r->tar = realloc(r->tar, r->cap);
    }
    memcpy(r->tar + r->len, p, n);
    r->len += n;
    return (la_ssize_t)n;
}

static void
raw_open(struct raw *r, int pax)
{
    memset(r, 0, sizeof *r);
    r->a = archive_write_new();
    assert_int_equal(pax ? archive_write_set_format_pax(r->a)
                         : archive_write_set_format_ustar(r->a),
                     ARCHIVE_OK);
    assert_int_equal(archive_write_open(r->a, r, NULL, raw_write, NULL),
                     ARCHIVE_OK);
}

/* Adds an entry of filetype with optional link target and data. */
static void
raw_add(struct raw *r, const char *name, unsigned type, const char *link,
        const void *data, size_t len)
{
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, type);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, type == AE_IFREG ? (la_int64_t)len : 0);
    if (link != NULL && type == AE_IFLNK)
        archive_entry_set_symlink(e, link);
    else if (link != NULL)
        archive_entry_set_hardlink(e, link);
    assert_int_equal(archive_write_header(r->a, e), ARCHIVE_OK);
    if (type == AE_IFREG && len > 0)
        assert_int_equal(archive_write_data(r->a, data, len), (la_ssize_t)len);
    archive_entry_free(e);
}

static void
raw_file(struct raw *r, const char *name, const char *text)
{
    raw_add(r, name, AE_IFREG, NULL, text, strlen(text));
}

static void
raw_close(struct raw *r)
{
    assert_int_equal(archive_write_close(r->a), ARCHIVE_OK);
    archive_write_free(r->a);
}

/* zstd of p; window_log 0 = default; one frame, unknown content size. */
static uint8_t *
zcompress(const void *p, size_t n, int window_log, size_t *out_len)
{
    ZSTD_CCtx *c = ZSTD_createCCtx();
    size_t cap = ZSTD_compressBound(n) + 1024, pos = 0, rc;
    uint8_t *out = malloc(cap);
    ZSTD_inBuffer in = {p, n, 0};
    ZSTD_outBuffer ob = {out, cap, 0};

    ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
    if (window_log)
        ZSTD_CCtx_setParameter(c, ZSTD_c_windowLog, window_log);
    rc = ZSTD_compressStream2(c, &ob, &in, ZSTD_e_continue);
    assert_false(ZSTD_isError(rc));
    do {
        ZSTD_inBuffer none = {NULL, 0, 0};
        rc = ZSTD_compressStream2(c, &ob, &none, ZSTD_e_end);
        assert_false(ZSTD_isError(rc));
    } while (rc != 0);
    pos = ob.pos;
    ZSTD_freeCCtx(c);
    *out_len = pos;
    return out;
}

/* Reads a raw archive (compressed here) and expects code with needle. */
static void
expect_refused(struct raw *r, const char *vector, int code, const char *needle,
               const struct ldg_bundle_limits *lim)
{
    struct bundle b;
    char err[512] = "";
    size_t zlen;
    uint8_t *z = zcompress(r->tar, r->len, 0, &zlen);
    int rc = bundle_read_mem(&b, z, zlen, lim, err, sizeof err);

    if (rc != code || strstr(err, needle) == NULL)
        fprintf(stderr, "%s: rc %d, err '%s' (want %d, '%s')\n", vector, rc,
                err, code, needle);
    assert_int_equal(rc, code);
    assert_non_null(strstr(err, needle));
    assert_int_equal(b.n, 0);
    save_vector(vector, z, zlen);
    free(z);
    free(r->tar);
}

/* -------------------------------------------------------------- names -- */

static void
test_archive__names_outside_the_layout_are_refused(void **state)
{
    static const char *const good[] = {"ledger-bundle",
                                       "README.txt",
                                       "SUMMARY.txt",
                                       "manifest.json",
                                       "manifest.sig",
                                       "checkpoint",
                                       "log.vkey",
                                       "events.jsonl",
                                       "state/projections.json",
                                       "state/projections.note",
                                       "entries/0.entry",
                                       "entries/18446744073709551615.entry",
                                       "proofs/12.proof",
                                       "bodies/7.json",
                                       "keys/0123456789abcdef.json",
                                       NULL};
    static const char *const bad[] = {"",
                                      "/manifest.json",
                                      "../manifest.json",
                                      "entries/../x",
                                      "entries/01.entry",
                                      "entries/1.entry/",
                                      "entries/.entry",
                                      "entries/18446744073709551616.entry",
                                      "entries/-1.entry",
                                      "entries/1.proof",
                                      "proofs/1.entry",
                                      "bodies/1.JSON",
                                      "keys/0123456789ABCDEF.json",
                                      "keys/0123456789abcde.json",
                                      "keys/../0123456789ab.json",
                                      "./manifest.json",
                                      "manifest.json/",
                                      "state/other.json",
                                      "entries/1",
                                      "entries//1.entry",
                                      "x",
                                      NULL};
    uint64_t seq;
    (void)state;
    for (size_t i = 0; good[i]; i++) {
        if (bundle_name_kind(good[i], &seq) == BN_BAD)
            fprintf(stderr, "refused good name %s\n", good[i]);
        assert_true(bundle_name_kind(good[i], &seq) != BN_BAD);
    }
    for (size_t i = 0; bad[i]; i++) {
        if (bundle_name_kind(bad[i], &seq) != BN_BAD)
            fprintf(stderr, "accepted bad name %s\n", bad[i]);
        assert_int_equal(bundle_name_kind(bad[i], &seq), BN_BAD);
    }
    assert_int_equal(bundle_name_kind("entries/42.entry", &seq), BN_ENTRY);
    assert_int_equal(seq, 42);
}

/* ---------------------------------------------------------- roundtrip -- */

static void
test_archive__written_members_read_back_exactly(void **state)
{
    struct bwriter *w;
    struct bundle b;
    char err[256];
    FILE *f = tmpfile();
    uint8_t big[70000];
    (void)state;

    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 7);
    assert_int_equal(
        bwriter_new(&w, fileno(f), 3, 2, 1700000000, NULL, err, sizeof err), 0);
    assert_int_equal(bwriter_add(w, B_MAGIC, MAGIC_DATA, strlen(MAGIC_DATA)),
                     0);
    assert_int_equal(bwriter_add(w, "entries/5.entry", big, sizeof big), 0);
    assert_int_equal(bwriter_add(w, "bodies/5.json", "", 0), 0);
    assert_int_equal(bwriter_finish(w, NULL, NULL), 0);
    bwriter_free(w);
    lseek(fileno(f), 0, SEEK_SET);
    assert_int_equal(bundle_read_fd(&b, fileno(f), NULL, err, sizeof err), 0);
    fclose(f);
    assert_int_equal(b.n, 3);
    assert_non_null(bundle_get(&b, "bodies/5.json"));
    assert_int_equal(bundle_get(&b, "bodies/5.json")->len, 0);
    assert_int_equal(bundle_get(&b, "entries/5.entry")->len, sizeof big);
    assert_memory_equal(bundle_get(&b, "entries/5.entry")->data, big,
                        sizeof big);
    assert_null(bundle_get(&b, "entries/6.entry"));
    bundle_release(&b);
}

/* What the writer says the tar unpacks to is exactly what a reader
 * decompresses: a limit of that many bytes reads it, one less does not
 * (ledger archive tells its reader that --max-bytes). */
static void
test_archive__unpacked_bytes_are_what_a_reader_needs(void **state)
{
    struct bwriter *w;
    struct bundle b;
    struct ldg_bundle_limits lim = {0};
    char err[256];
    FILE *f = tmpfile();
    static uint8_t big[300000];
    uint64_t bytes = 0, unpacked = 0;
    (void)state;

    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 7);
    assert_int_equal(
        bwriter_new(&w, fileno(f), 3, 1, 1700000000, "r1", err, sizeof err), 0);
    assert_int_equal(bwriter_add(w, B_MAGIC, MAGIC_DATA, strlen(MAGIC_DATA)),
                     0);
    assert_int_equal(bwriter_add(w, "entries/5.entry", big, sizeof big), 0);
    assert_int_equal(bwriter_finish(w, &bytes, &unpacked), 0);
    bwriter_free(w);
    /* the members with their headers, the top directory and the end */
    assert_true(unpacked >= 512 * 3 + sizeof big + 1024);
    assert_int_equal(unpacked % 512, 0);
    assert_true(bytes > 0 && bytes < unpacked);
    lim.total_bytes = unpacked;
    lim.file_bytes = sizeof big;
    lseek(fileno(f), 0, SEEK_SET);
    assert_int_equal(bundle_read_fd(&b, fileno(f), &lim, err, sizeof err), 0);
    bundle_release(&b);
    lim.total_bytes = unpacked - 1;
    lseek(fileno(f), 0, SEEK_SET);
    assert_int_equal(bundle_read_fd(&b, fileno(f), &lim, err, sizeof err),
                     LDG_ETOOBIG);
    assert_non_null(strstr(err, "exceeds the limit"));
    fclose(f);
}

/* ------------------------------------------------------ top directory -- */

static void
test_archive__top_directory_is_taken_off(void **state)
{
    struct bwriter *w;
    struct bundle b;
    struct archive *a;
    struct archive_entry *e;
    char err[256];
    FILE *f = tmpfile();
    const char *first = NULL;
    int nent = 0;
    (void)state;

    assert_int_equal(
        bwriter_new(&w, fileno(f), 3, 1, 1700000000, "r1", err, sizeof err), 0);
    assert_int_equal(bwriter_add(w, B_MAGIC, MAGIC_DATA, strlen(MAGIC_DATA)),
                     0);
    assert_int_equal(bwriter_add(w, "entries/5.entry", "e", 1), 0);
    assert_int_equal(bwriter_add(w, B_README, "hi\n", 3), 0);
    assert_int_equal(bwriter_finish(w, NULL, NULL), 0);
    bwriter_free(w);
    /* as tar lists it: r1/ first, then r1/ledger-bundle, ... */
    lseek(fileno(f), 0, SEEK_SET);
    a = archive_read_new();
    archive_read_support_filter_zstd(a);
    archive_read_support_format_tar(a);
    assert_int_equal(archive_read_open_fd(a, fileno(f), 4096), ARCHIVE_OK);
    while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
        const char *n = archive_entry_pathname(e);
        if (nent == 0) {
            assert_string_equal(n, "r1/");
            assert_int_equal(archive_entry_filetype(e), AE_IFDIR);
        } else {
            assert_int_equal(strncmp(n, "r1/", 3), 0);
        }
        if (nent == 1)
            first = "seen";
        nent++;
    }
    archive_read_free(a);
    assert_int_equal(nent, 4);
    assert_non_null(first);
    lseek(fileno(f), 0, SEEK_SET);
    assert_int_equal(bundle_read_fd(&b, fileno(f), NULL, err, sizeof err), 0);
    fclose(f);
    assert_int_equal(b.n, 3);
    assert_string_equal(b.top, "r1");
    assert_non_null(bundle_get(&b, B_MAGIC));
    assert_non_null(bundle_get(&b, "entries/5.entry"));
    assert_non_null(bundle_get(&b, B_README));
    bundle_release(&b);
    /* a bad name is refused before anything is written */
    f = tmpfile();
    assert_int_equal(
        bwriter_new(&w, fileno(f), 3, 1, 0, "../x", err, sizeof err),
        LDG_EINVAL);
    fclose(f);
}

/* What `tar --zstd -cf x NAME` gives after unpacking: directory entries
 * for NAME/ and its subdirectories, "./" prefixes, any order. */
static void
test_archive__repacked_in_any_order_reads_the_same(void **state)
{
    struct raw r;
    struct bundle b;
    char err[256] = "";
    size_t zlen;
    uint8_t *z;
    (void)state;

    raw_open(&r, 1);
    raw_add(&r, "./b1/", AE_IFDIR, NULL, NULL, 0);
    raw_add(&r, "./b1/proofs/", AE_IFDIR, NULL, NULL, 0);
    raw_file(&r, "./b1/proofs/3.proof", "p");
    raw_file(&r, "./b1/manifest.json", "{}");
    raw_add(&r, "./b1/keys", AE_IFDIR, NULL, NULL, 0);
    raw_file(&r, "./b1/ledger-bundle", MAGIC_DATA);
    raw_file(&r, "./b1/SUMMARY.txt", "s");
    raw_close(&r);
    z = zcompress(r.tar, r.len, 0, &zlen);
    assert_int_equal(bundle_read_mem(&b, z, zlen, NULL, err, sizeof err), 0);
    assert_int_equal(b.n, 4);
    assert_string_equal(b.top, "b1");
    assert_non_null(bundle_get(&b, "proofs/3.proof"));
    assert_non_null(bundle_get(&b, B_SUMMARY));
    bundle_release(&b);
    free(z);
    free(r.tar);
}

static void
test_archive__members_outside_the_top_refused(void **state)
{
    struct raw r;
    (void)state;
    raw_open(&r, 0);
    raw_add(&r, "b1/", AE_IFDIR, NULL, NULL, 0);
    raw_file(&r, "b1/ledger-bundle", MAGIC_DATA);
    raw_file(&r, "b2/manifest.json", "{}");
    raw_close(&r);
    expect_refused(&r, "bad-two-tops", LDG_EBADINPUT,
                   "outside the bundle's directory b1/", NULL);
    raw_open(&r, 0);
    raw_file(&r, "b1/ledger-bundle", MAGIC_DATA);
    raw_file(&r, "manifest.json", "{}");
    raw_close(&r);
    expect_refused(&r, "bad-outside-top", LDG_EBADINPUT,
                   "outside the bundle's directory b1/", NULL);
    raw_open(&r, 0);
    raw_file(&r, "-b1/ledger-bundle", MAGIC_DATA);
    raw_close(&r);
    expect_refused(&r, "bad-top-name", LDG_EBADINPUT,
                   "not a bundle's top directory", NULL);
    raw_open(&r, 0);
    raw_file(&r, "b1/ledger-bundle", MAGIC_DATA);
    raw_add(&r, "b1/notes/", AE_IFDIR, NULL, NULL, 0);
    raw_close(&r);
    expect_refused(&r, "bad-dir-in-top", LDG_EBADINPUT, "not a regular file",
                   NULL);
}

/* ------------------------------------------------------------ hostile -- */

static void
test_archive__symlink_member_refused(void **state)
{
    struct raw r;
    (void)state;
    raw_open(&r, 0);
    raw_file(&r, B_MAGIC, MAGIC_DATA);
    raw_add(&r, "manifest.json", AE_IFLNK, "/etc/passwd", NULL, 0);
    raw_close(&r);
    expect_refused(&r, "bad-symlink", LDG_EBADINPUT, "links are refused", NULL);
}

static void
test_archive__hardlink_member_refused(void **state)
{
    struct raw r;
    (void)state;
    raw_open(&r, 0);
    raw_file(&r, B_MAGIC, MAGIC_DATA);
    raw_add(&r, "manifest.json", AE_IFREG, "ledger-bundle", NULL, 0);
    raw_close(&r);
    expect_refused(&r, "bad-hardlink", LDG_EBADINPUT, "links are refused",
                   NULL);
}

static void
test_archive__directory_and_device_members_refused(void **state)
{
    struct raw r;
    (void)state;
    raw_open(&r, 0);
    raw_file(&r, B_MAGIC, MAGIC_DATA);
    raw_add(&r, "notes", AE_IFDIR, NULL, NULL, 0);
    raw_close(&r);
    expect_refused(&r, "bad-directory", LDG_EBADINPUT, "not a regular file",
                   NULL);
    raw_open(&r, 0);
    raw_file(&r, B_MAGIC, MAGIC_DATA);
    raw_add(&r, "checkpoint", AE_IFIFO, NULL, NULL, 0);
    raw_close(&r);
    expect_refused(&r, "bad-fifo", LDG_EBADINPUT, "not a regular file", NULL);
    raw_open(&r, 0);
    raw_file(&r, B_MAGIC, MAGIC_DATA);
    raw_add(&r, "checkpoint", AE_IFCHR, NULL, NULL, 0);
    raw_close(&r);
    expect_refused(&r, "bad-chardev", LDG_EBADINPUT, "not a regular file",
                   NULL);
}

static void
test_archive__absolute_and_dotdot_paths_refused(void **state)
{
    struct raw r;
    (void)state;
    raw_open(&r, 0);
    raw_file(&r, B_MAGIC, MAGIC_DATA);
    raw_file(&r, "/tmp/ldg-evil", "x");
    raw_close(&r);
    expect_refused(&r, "bad-absolute", LDG_EBADINPUT, "absolute or '..'", NULL);
    raw_open(&r, 0);
    raw_file(&r, B_MAGIC, MAGIC_DATA);
    raw_file(&r, "entries/../../ldg-evil", "x");
    raw_close(&r);
    expect_refused(&r, "bad-dotdot", LDG_EBADINPUT, "absolute or '..'", NULL);
    raw_open(&r, 0);
    raw_file(&r, B_MAGIC, MAGIC_DATA);
    raw_file(&r, "notes.txt", "x");
    raw_close(&r);
    expect_refused(&r, "bad-unknown-name", LDG_EBADINPUT,
                   "not a name of the bundle layout", NULL);
}

static void
test_archive__duplicate_member_refused(void **state)
{
    struct raw r;
    (void)state;
    raw_open(&r, 0);
    raw_file(&r, B_MAGIC, MAGIC_DATA);
    raw_file(&r, "manifest.json", "{}");
    raw_file(&r, "checkpoint", "a");
    raw_file(&r, "manifest.json", "{\"x\":1}");
    raw_close(&r);
    expect_refused(&r, "bad-duplicate", LDG_EBADINPUT,
                   "duplicate member manifest.json", NULL);
}

static void
test_archive__magic_member_must_be_there(void **state)
{
    struct raw r;
    (void)state;
    raw_open(&r, 0);
    raw_file(&r, "manifest.json", "{}");
    raw_file(&r, "checkpoint", "x");
    raw_close(&r);
    expect_refused(&r, "bad-no-magic", LDG_EBADINPUT, "no ledger-bundle member",
                   NULL);
    raw_open(&r, 0);
    raw_add(&r, "b1/", AE_IFDIR, NULL, NULL, 0);
    raw_file(&r, "b1/manifest.json", "{}");
    raw_close(&r);
    expect_refused(&r, "bad-no-magic-in-dir", LDG_EBADINPUT,
                   "no ledger-bundle member", NULL);
    raw_open(&r, 0);
    raw_file(&r, B_MAGIC, "hello\n");
    raw_close(&r);
    expect_refused(&r, "bad-magic", LDG_EBADINPUT, "bad magic", NULL);
    raw_open(&r, 0);
    raw_close(&r);
    expect_refused(&r, "bad-empty-archive", LDG_EBADINPUT, "empty archive",
                   NULL);
}

static void
test_archive__other_format_version_is_eversion(void **state)
{
    struct raw r;
    (void)state;
    raw_open(&r, 0);
    raw_file(&r, B_MAGIC, "ledger.bundle/v2\n");
    raw_close(&r);
    expect_refused(&r, "bad-version", LDG_EVERSION, "ledger.bundle/v2", NULL);
}

static void
test_archive__sparse_member_refused(void **state)
{
    struct raw r;
    struct archive_entry *e;
    char data[1024];
    (void)state;
    memset(data, 'x', sizeof data);
    raw_open(&r, 1);
    raw_file(&r, B_MAGIC, MAGIC_DATA);
    e = archive_entry_new();
    archive_entry_set_pathname(e, "events.jsonl");
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, 1 << 20);
    archive_entry_sparse_add_entry(e, 0, 512);
    archive_entry_sparse_add_entry(e, (1 << 20) - 512, 512);
    assert_int_equal(archive_write_header(r.a, e), ARCHIVE_OK);
    archive_write_data(r.a, data, sizeof data);
    archive_entry_free(e);
    raw_close(&r);
    expect_refused(&r, "bad-sparse", LDG_EBADINPUT, "sparse", NULL);
}

static void
test_archive__member_over_the_file_limit_refused(void **state)
{
    struct ldg_bundle_limits lim;
    struct raw r;
    char data[5000];
    (void)state;
    memset(data, 'a', sizeof data);
    memset(&lim, 0, sizeof lim);
    lim.file_bytes = 4096;
    raw_open(&r, 0);
    raw_file(&r, B_MAGIC, MAGIC_DATA);
    raw_add(&r, "events.jsonl", AE_IFREG, NULL, data, sizeof data);
    raw_close(&r);
    expect_refused(&r, "bad-member-too-big", LDG_ETOOBIG,
                   "larger than the per-file limit", &lim);
}

static void
test_archive__too_many_members_refused(void **state)
{
    struct ldg_bundle_limits lim;
    struct raw r;
    char name[48];
    (void)state;
    memset(&lim, 0, sizeof lim);
    lim.files = 10;
    raw_open(&r, 0);
    raw_file(&r, B_MAGIC, MAGIC_DATA);
    for (int i = 0; i < 20; i++) {
        snprintf(name, sizeof name, "entries/%d.entry", i);
        raw_file(&r, name, "x");
    }
    raw_close(&r);
    expect_refused(&r, "bad-too-many-members", LDG_ETOOBIG,
                   "more archive members than the limit", &lim);
}

static void
test_archive__decompressed_total_over_the_limit_refused(void **state)
{
    struct ldg_bundle_limits lim;
    struct raw r;
    static char zeros[300000];
    (void)state;
    memset(&lim, 0, sizeof lim);
    lim.total_bytes = 100000;
    raw_open(&r, 0);
    raw_file(&r, B_MAGIC, MAGIC_DATA);
    raw_add(&r, "events.jsonl", AE_IFREG, NULL, zeros, sizeof zeros);
    raw_close(&r);
    expect_refused(&r, "bad-total-too-big", LDG_ETOOBIG,
                   "decompressed size exceeds the limit", &lim);
}

static void
test_archive__large_zstd_window_refused(void **state)
{
    struct bundle b;
    struct raw r;
    char err[512];
    size_t zlen;
    uint8_t *z;
    (void)state;
    raw_open(&r, 0);
    raw_file(&r, B_MAGIC, MAGIC_DATA);
    raw_close(&r);
    z = zcompress(r.tar, r.len, 27, &zlen);
    assert_int_equal(bundle_read_mem(&b, z, zlen, NULL, err, sizeof err),
                     LDG_ETOOBIG);
    assert_non_null(strstr(err, "window larger than the limit"));
    save_vector("bad-zstd-window", z, zlen);
    free(z);
    free(r.tar);
}

static void
test_archive__trailing_garbage_and_plain_tar_refused(void **state)
{
    struct bundle b;
    struct raw r;
    char err[512];
    size_t zlen;
    uint8_t *z;
    (void)state;
    raw_open(&r, 0);
    raw_file(&r, B_MAGIC, MAGIC_DATA);
    raw_close(&r);
    z = zcompress(r.tar, r.len, 0, &zlen);
    z = realloc(z, zlen + 7);
    memcpy(z + zlen, "garbage", 7);
    assert_int_equal(bundle_read_mem(&b, z, zlen + 7, NULL, err, sizeof err),
                     LDG_EBADINPUT);
    save_vector("bad-trailing-garbage", z, zlen + 7);
    free(z);
    assert_int_equal(bundle_read_mem(&b, r.tar, r.len, NULL, err, sizeof err),
                     LDG_EBADINPUT);
    assert_non_null(strstr(err, "not a zstd stream"));
    save_vector("bad-plain-tar", r.tar, r.len);
    free(r.tar);
}

static void
test_archive__missing_end_marker_refused(void **state)
{
    struct raw r;
    (void)state;
    raw_open(&r, 0);
    raw_file(&r, B_MAGIC, MAGIC_DATA);
    raw_file(&r, "checkpoint", "x");
    raw_close(&r);
    /* header + one block of data per member: cut after them */
    r.len = 4 * 512;
    expect_refused(&r, "bad-no-end-marker", LDG_EBADINPUT, "no end marker",
                   NULL);
}

static void
test_archive__truncated_tar_header_refused(void **state)
{
    struct raw r;
    (void)state;
    raw_open(&r, 0);
    raw_file(&r, B_MAGIC, MAGIC_DATA);
    raw_file(&r, "checkpoint", "x");
    raw_close(&r);
    r.len = 2 * 512 + 100; /* inside the second header */
    expect_refused(&r, "bad-truncated-header", LDG_EBADINPUT, "", NULL);
}

/* --------------------------------------------------------- extraction -- */

static void
make_small_bundle(struct bundle *b)
{
    struct raw r;
    char err[256];
    size_t zlen;
    uint8_t *z;

    raw_open(&r, 0);
    raw_file(&r, B_MAGIC, MAGIC_DATA);
    raw_file(&r, "manifest.json", "{}");
    raw_file(&r, "entries/3.entry", "abc");
    raw_close(&r);
    z = zcompress(r.tar, r.len, 0, &zlen);
    assert_int_equal(bundle_read_mem(b, z, zlen, NULL, err, sizeof err), 0);
    free(z);
    free(r.tar);
}

static void
test_archive__extract_writes_only_under_the_target(void **state)
{
    struct bundle b;
    char *dir = tmp_dir(), target[4200], path[4300], err[512];
    struct stat st;
    (void)state;

    make_small_bundle(&b);
    snprintf(target, sizeof target, "%s/out", dir);
    assert_int_equal(bundle_extract(&b, target, err, sizeof err), 0);
    snprintf(path, sizeof path, "%s/entries/3.entry", target);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 3);
    /* a second extraction never overwrites */
    assert_int_equal(bundle_extract(&b, target, err, sizeof err), LDG_EEXIST);
    /* a planted symlink is not followed */
    snprintf(target, sizeof target, "%s/out2", dir);
    assert_int_equal(mkdir(target, 0700), 0);
    snprintf(path, sizeof path, "%s/entries", target);
    assert_int_equal(symlink(dir, path), 0);
    assert_true(bundle_extract(&b, target, err, sizeof err) < 0);
    snprintf(path, sizeof path, "%s/3.entry", dir);
    assert_int_not_equal(stat(path, &st), 0);
    /* nor a planted file symlink */
    snprintf(target, sizeof target, "%s/out3", dir);
    assert_int_equal(mkdir(target, 0700), 0);
    snprintf(path, sizeof path, "%s/manifest.json", target);
    assert_int_equal(symlink("/tmp/ldg-should-not-exist", path), 0);
    assert_true(bundle_extract(&b, target, err, sizeof err) < 0);
    assert_int_not_equal(stat("/tmp/ldg-should-not-exist", &st), 0);
    bundle_release(&b);
    rm_rf(dir);
    free(dir);
}

/* ------------------------------------------------------------- corpus -- */

static void
test_archive__corpus_vectors_never_verify(void **state)
{
    const char *dirname = "tests/vectors/bundles";
    struct ldg_bundle_report *r = malloc(sizeof *r);
    struct dirent *de;
    DIR *d = opendir(dirname);
    int n = 0;
    (void)state;

    if (d == NULL) {
        fprintf(stderr, "no %s (run from the repository root)\n", dirname);
        free(r);
        fail();
    }
    while ((de = readdir(d)) != NULL) {
        char path[4200];
        struct ldg_bundle_verify_opts o;
        int rc;
        size_t l = strlen(de->d_name);
        if (l < 7 || strcmp(de->d_name + l - 7, ".bundle") != 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dirname, de->d_name);
        memset(&o, 0, sizeof o);
        o.insecure_trust_bundle_key = 1;
        rc = ldg_export_verify(path, &o, r);
        if (rc == 0)
            fprintf(stderr, "%s: verified, but every vector must fail\n", path);
        assert_true(rc != 0);
        assert_false(r->ok && r->readable);
        n++;
    }
    closedir(d);
    free(r);
    assert_true(n > 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_archive__names_outside_the_layout_are_refused),
        cmocka_unit_test(test_archive__written_members_read_back_exactly),
        cmocka_unit_test(test_archive__unpacked_bytes_are_what_a_reader_needs),
        cmocka_unit_test(test_archive__symlink_member_refused),
        cmocka_unit_test(test_archive__hardlink_member_refused),
        cmocka_unit_test(test_archive__directory_and_device_members_refused),
        cmocka_unit_test(test_archive__absolute_and_dotdot_paths_refused),
        cmocka_unit_test(test_archive__duplicate_member_refused),
        cmocka_unit_test(test_archive__magic_member_must_be_there),
        cmocka_unit_test(test_archive__top_directory_is_taken_off),
        cmocka_unit_test(test_archive__repacked_in_any_order_reads_the_same),
        cmocka_unit_test(test_archive__members_outside_the_top_refused),
        cmocka_unit_test(test_archive__other_format_version_is_eversion),
        cmocka_unit_test(test_archive__sparse_member_refused),
        cmocka_unit_test(test_archive__member_over_the_file_limit_refused),
        cmocka_unit_test(test_archive__too_many_members_refused),
        cmocka_unit_test(
            test_archive__decompressed_total_over_the_limit_refused),
        cmocka_unit_test(test_archive__large_zstd_window_refused),
        cmocka_unit_test(test_archive__trailing_garbage_and_plain_tar_refused),
        cmocka_unit_test(test_archive__missing_end_marker_refused),
        cmocka_unit_test(test_archive__truncated_tar_header_refused),
        cmocka_unit_test(test_archive__extract_writes_only_under_the_target),
        cmocka_unit_test(test_archive__corpus_vectors_never_verify),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
