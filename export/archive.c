/*
 * archive.c — the bundle container: a ustar archive in one zstd frame.
 * The one file of export/ that uses libarchive and zstd.
 *
 * We drive zstd ourselves rather than through libarchive's filter so that
 * both directions are bounded by us: on reading, the window (memory) and
 * the total of decompressed bytes are capped before libarchive sees a
 * byte; libarchive only parses tar from our callback.
 *
 * Reading treats the file as hostile. Refused, each with a message naming
 * the member: a stream that is not zstd, a window above the limit, more
 * decompressed bytes than the limit, an incomplete frame or a bad frame
 * checksum (truncation, bit flips), tar framing errors or warnings, a
 * missing end-of-archive marker, any member that is not a plain regular
 * file (links, devices, FIFOs, directories, sparse files), names outside
 * the layout's allow-list (which excludes absolute paths and ".."),
 * duplicate names, members or member counts above the limits, a magic
 * member "ledger-bundle" that is missing or not this version's.
 *
 * Every member sits in one top directory NAME/ (bundles written before
 * November 2026 had none; the first member tells which). Directory
 * entries for NAME/ and the layout's subdirectories are accepted and
 * skipped, so a bundle unpacked and packed again with plain tar reads the
 * same; the members may then come in any order.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "export/export_int.h"
#include "ledger/module.h"
#include "util/util.h"

#define TAR_END_ZEROS 1024 /* two zero blocks end a tar archive */

/* ------------------------------------------------------------- names -- */

/* name == prefix <decimal> suffix ? */
static int
numbered(const char *name, const char *prefix, const char *suffix,
         uint64_t *seq)
{
    size_t n = strlen(name), pl = strlen(prefix), sl = strlen(suffix);
    if (n <= pl + sl || strncmp(name, prefix, pl) != 0 ||
        strcmp(name + n - sl, suffix) != 0)
        return 0;
    return ldg_parse_u64(name + pl, n - pl - sl, LDG_DEC_CANONICAL, seq) == 0;
}

enum bname
bundle_name_kind(const char *name, uint64_t *seq)
{
    static const struct {
        const char *name;
        enum bname kind;
    } fixed[] = {{B_MAGIC, BN_MAGIC},
                 {B_MANIFEST, BN_MANIFEST},
                 {B_MANIFEST_SIG, BN_MANIFEST_SIG},
                 {B_CHECKPOINT, BN_CHECKPOINT},
                 {B_VKEY, BN_VKEY},
                 {B_EVENTS, BN_EVENTS},
                 {B_STATE, BN_STATE},
                 {B_STATE_NOTE, BN_STATE_NOTE},
                 {B_COSIGNED, BN_COSIGNED},
                 {B_COSIGNED_PROOF, BN_COSIGNED_PROOF},
                 {B_README, BN_README},
                 {B_SUMMARY, BN_SUMMARY},
                 {B_TIMELINE, BN_TIMELINE},
                 {B_INDEX, BN_INDEX},
                 {B_HORIZON, BN_HORIZON},
                 {B_CHECKPOINT_EPOCH, BN_CHECKPOINT_EPOCH}};
    uint64_t dummy;

    if (seq == NULL)
        seq = &dummy;
    if (name == NULL)
        return BN_BAD;
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if (strcmp(name, fixed[i].name) == 0)
            return fixed[i].kind;
    if (numbered(name, "entries/", ".entry", seq))
        return BN_ENTRY;
    if (numbered(name, "proofs/", ".proof", seq))
        return BN_PROOF;
    if (numbered(name, "bodies/", ".json", seq))
        return BN_BODY;
    if (numbered(name, "seals/", ".seal", seq))
        return BN_SEAL;
    if (numbered(name, "sealproofs/", ".proof", seq))
        return BN_SEAL_PROOF;
    if (strlen(name) == 5 + LDG_KEYID_LEN + 5 &&
        strncmp(name, "keys/", 5) == 0 &&
        strcmp(name + 5 + LDG_KEYID_LEN, ".json") == 0) {
        for (size_t i = 5; i < 5 + LDG_KEYID_LEN; i++)
            if (!((name[i] >= '0' && name[i] <= '9') ||
                  (name[i] >= 'a' && name[i] <= 'f')))
                return BN_BAD;
        return BN_KEY;
    }
    return BN_BAD;
}

/* ----------------------------------------------------------- reading -- */

void
bundle_limits_fill(struct ldg_bundle_limits *out,
                   const struct ldg_bundle_limits *in)
{
    memset(out, 0, sizeof *out);
    if (in != NULL)
        *out = *in;
    if (out->total_bytes == 0)
        out->total_bytes = LDG_BUNDLE_TOTAL_DEFAULT;
    if (out->file_bytes == 0)
        out->file_bytes = LDG_BUNDLE_FILE_DEFAULT;
    if (out->files == 0)
        out->files = LDG_BUNDLE_FILES_DEFAULT;
    if (out->window_log == 0)
        out->window_log = LDG_BUNDLE_WINDOW_LOG_DEFAULT;
    if (out->window_log < 10)
        out->window_log = 10; /* ZSTD_WINDOWLOG_MIN */
    if (out->window_log > 31)
        out->window_log = 31;
    if (out->ratio == 0)
        out->ratio = LDG_BUNDLE_RATIO_DEFAULT;
}

/* The decompressing source libarchive reads from. */
struct zsrc {
    int fd;          /* -1: memory */
    const void *mem; /* memory: the whole file */
    size_t memlen;
    ZSTD_DCtx *dctx;
    ZSTD_inBuffer in;
    uint8_t *inbuf; /* fd only */
    size_t incap;
    uint8_t *outbuf;
    size_t outcap;
    uint64_t consumed; /* compressed bytes read so far */
    uint64_t total, max_total;
    uint64_t zero_tail; /* zero bytes at the end of the output so far */
    unsigned window_log, ratio;
    size_t last_ret; /* 0: at a frame boundary */
    int in_eof, started;
    int code;         /* our error code once failed */
    char member[128]; /* the member being read ("" before the first) */
    char err[256];
};

/* Decompressed bytes allowed before the ratio limit applies. */
#define RATIO_SLACK ((uint64_t)1 << 20)

static int zfail(struct zsrc *z, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
zfail(struct zsrc *z, int code, const char *fmt, ...)
{
    va_list ap;
    if (z->code == 0) {
        z->code = code;
        va_start(ap, fmt);
        vsnprintf(z->err, sizeof z->err, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* Back to the start of the file for another pass. */
static int
zrewind(struct zsrc *z)
{
    if (z->fd >= 0 && lseek(z->fd, 0, SEEK_SET) != 0)
        return zfail(z, LDG_EIO, "cannot read the bundle again: %s",
                     strerror(errno));
    ZSTD_DCtx_reset(z->dctx, ZSTD_reset_session_only);
    z->in.src = z->fd >= 0 ? (const void *)z->inbuf : z->mem;
    z->in.size = z->fd >= 0 ? 0 : z->memlen;
    z->in.pos = 0;
    z->in_eof = z->fd < 0;
    z->consumed = z->total = z->zero_tail = 0;
    z->last_ret = 0;
    z->started = 0;
    z->member[0] = '\0';
    return 0;
}

static int
zrefill(struct zsrc *z)
{
    size_t have = 0;
    ssize_t got;

    if (z->fd < 0) {
        z->in_eof = 1;
        return 0;
    }
    do { /* before the first frame, gather the 4 magic bytes */
        got = read(z->fd, z->inbuf + have, z->incap - have);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return zfail(z, LDG_EIO, "read error: %s", strerror(errno));
        if (got == 0) {
            z->in_eof = 1;
            break;
        }
        have += (size_t)got;
    } while (!z->started && have < 4);
    LDG_ASSERT(have <= z->incap);
    z->in.src = z->inbuf;
    z->in.size = have;
    z->in.pos = 0;
    return 0;
}

static void
track_zero_tail(struct zsrc *z, const uint8_t *p, size_t n)
{
    size_t i = n;
    while (i > 0 && p[i - 1] == 0)
        i--;
    if (i == 0)
        z->zero_tail += n;
    else
        z->zero_tail = n - i;
}

static la_ssize_t
zread(struct archive *a, void *ctx, const void **buf)
{
    struct zsrc *z = ctx;
    ZSTD_outBuffer out = {z->outbuf, z->outcap, 0};

    if (z->code != 0)
        goto fail;
    for (;;) {
        size_t before, r;
        if (z->in.pos == z->in.size && !z->in_eof && zrefill(z) < 0)
            goto fail;
        if (!z->started && z->in.size - z->in.pos < 4) {
            zfail(z, LDG_EBADINPUT,
                  "not a bundle: too short to be "
                  "zstd-compressed");
            goto fail;
        }
        if (!z->started) {
            const uint8_t *m = (const uint8_t *)z->in.src + z->in.pos;
            if (!(m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f &&
                  m[3] == 0xfd)) {
                zfail(z, LDG_EBADINPUT,
                      "not a bundle: not a zstd stream (a bundle is a "
                      "zstd-compressed tar: pack one with tar --zstd -cf)");
                goto fail;
            }
        }
        if (z->in.pos == z->in.size && z->in_eof && z->last_ret == 0)
            break; /* clean end after a complete frame */
        before = z->in.pos;
        r = ZSTD_decompressStream(z->dctx, &out, &z->in);
        z->consumed += z->in.pos - before;
        z->started = 1;
        if (ZSTD_isError(r)) {
            if (ZSTD_getErrorCode(r) ==
                ZSTD_error_frameParameter_windowTooLarge)
                zfail(z, LDG_ETOOBIG,
                      "zstd window larger than the limit of "
                      "2^%u bytes",
                      z->window_log);
            else
                zfail(z,
                      ZSTD_getErrorCode(r) == ZSTD_error_memory_allocation
                          ? LDG_ENOMEM
                          : LDG_EBADINPUT,
                      "zstd: %s", ZSTD_getErrorName(r));
            goto fail;
        }
        z->last_ret = r;
        if (out.pos > 0)
            break;
        if (z->in.pos == z->in.size && z->in_eof && r != 0) {
            zfail(z, LDG_EBADINPUT, "truncated: the zstd frame ends early");
            goto fail;
        }
    }
    if (out.pos > z->max_total - z->total) {
        zfail(z, LDG_ETOOBIG,
              "%s%s%sdecompressed size exceeds the limit of %llu bytes",
              z->member[0] ? "member " : "", z->member,
              z->member[0] ? ": " : "", (unsigned long long)z->max_total);
        goto fail;
    }
    z->total += out.pos;
    if (z->total > RATIO_SLACK && z->total / z->ratio > z->consumed) {
        zfail(z, LDG_ETOOBIG,
              "%s%s%sthe bundle decompresses to more than %u times its "
              "size (%llu bytes from %llu): refused as a decompression bomb",
              z->member[0] ? "member " : "", z->member,
              z->member[0] ? ": " : "", z->ratio, (unsigned long long)z->total,
              (unsigned long long)z->consumed);
        goto fail;
    }
    track_zero_tail(z, z->outbuf, out.pos);
    *buf = z->outbuf;
    return (la_ssize_t)out.pos;
fail:
    archive_set_error(a, EINVAL, "%s", z->err);
    return -1;
}

static int
cmp_member(const void *a, const void *b)
{
    const struct bmember *x = a, *y = b;
    return strcmp(x->name, y->name);
}

static int
push_member(struct bundle *b, char *name, uint8_t *data, size_t len,
            const uint8_t sha[32])
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        struct bmember *m = realloc(b->m, cap * sizeof *m);
        if (m == NULL)
            return LDG_ENOMEM;
        b->m = m;
        b->cap = cap;
    }
    LDG_ASSERT(b->n < b->cap);
    b->m[b->n].name = name;
    b->m[b->n].data = data;
    b->m[b->n].len = len;
    memcpy(b->m[b->n].sha, sha, 32);
    b->n++;
    return 0;
}

int
bundle_top_valid(const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;
    if (n == 0 || n > B_TOP_MAX || s[0] == '.' || s[0] == '-')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '_' ||
              s[i] == '-'))
            return 0;
    return strstr(s, "..") == NULL;
}

/* A directory entry tar may write when it packs a bundle again: the top
 * directory itself or one of the layout's subdirectories (rel is the
 * name below the top, with or without a trailing '/'). */
static int
layout_dir(const char *rel)
{
    static const char *const dirs[] = {"",         "keys",   "entries",
                                       "proofs",   "bodies", "state",
                                       "cosigned", "seals",  "sealproofs"};
    size_t n = strlen(rel);
    if (n > 0 && rel[n - 1] == '/')
        n--;
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
        if (strlen(dirs[i]) == n && strncmp(rel, dirs[i], n) == 0)
            return 1;
    return 0;
}

/*
 * The member's name in the layout: "./" taken off once, then, when the
 * archive has a top directory (decided by its first member: a name with a
 * '/' in it), that directory. *skip is set for the directory entries tar
 * writes (accepted, not members). 0 or a code with err set.
 */
static int
member_rel(struct bundle *b, struct archive_entry *e, uint64_t count,
           const char **rel, int *skip, char *err, size_t errcap)
{
    const char *name = archive_entry_pathname(e), *slash;
    size_t tl;

    *skip = 0;
    if (name == NULL || *name == '\0')
        return ldg_errf(err, errcap, LDG_EBADINPUT, "%s",
                        "archive member without a name");
    if (strncmp(name, "./", 2) == 0)
        name += 2;
    if (count == 0 && b->top == NULL && (slash = strchr(name, '/')) != NULL) {
        tl = (size_t)(slash - name);
        b->top = strndup(name, tl);
        if (b->top == NULL)
            return LDG_ENOMEM;
        if (!bundle_top_valid(b->top))
            return ldg_errf(err, errcap, LDG_EBADINPUT,
                            "member %s: '%s' is not a bundle's top directory "
                            "(letters, digits, '.', '_', '-'; at most %d)",
                            archive_entry_pathname(e), b->top, B_TOP_MAX);
    }
    if (b->top != NULL) {
        tl = strlen(b->top);
        if (strncmp(name, b->top, tl) != 0 || name[tl] != '/')
            return ldg_errf(err, errcap, LDG_EBADINPUT,
                            "member %s: outside the bundle's directory %s/",
                            archive_entry_pathname(e), b->top);
        name += tl + 1;
    }
    *rel = name;
    if (archive_entry_filetype(e) == AE_IFDIR && layout_dir(name) &&
        archive_entry_hardlink(e) == NULL && archive_entry_symlink(e) == NULL)
        *skip = 1;
    else if (*name == '\0' && archive_entry_filetype(e) != AE_IFDIR)
        return ldg_errf(err, errcap, LDG_EBADINPUT,
                        "member %s: not a name of the bundle layout",
                        archive_entry_pathname(e));
    return 0;
}

/* Checks one header; 0 or a code with err set. name is the member's
 * name in the layout (member_rel). */
static int
check_header(struct archive_entry *e, const char *name,
             const struct ldg_bundle_limits *lim, uint64_t count, char *err,
             size_t errcap)
{
    const char *full = archive_entry_pathname(e);
    la_int64_t size;

    if (archive_entry_hardlink(e) != NULL || archive_entry_symlink(e) != NULL)
        return ldg_errf(err, errcap, LDG_EBADINPUT,
                        "member %s: links are refused", full);
    if (archive_entry_filetype(e) != AE_IFREG)
        return ldg_errf(err, errcap, LDG_EBADINPUT,
                        "member %s: not a regular file", full);
    if (archive_entry_sparse_count(e) > 0)
        return ldg_errf(err, errcap, LDG_EBADINPUT,
                        "member %s: sparse files are refused", full);
    if (full[0] == '/' || strstr(full, "..") != NULL)
        return ldg_errf(err, errcap, LDG_EBADINPUT,
                        "member %s: absolute or '..' path refused", full);
    if (bundle_name_kind(name, NULL) == BN_BAD)
        return ldg_errf(err, errcap, LDG_EBADINPUT,
                        "member %s: not a name of the bundle layout", full);
    if (count >= lim->files)
        return ldg_errf(
            err, errcap, LDG_ETOOBIG,
            "member %s: more archive members than the limit of %llu", name,
            (unsigned long long)lim->files);
    if (!archive_entry_size_is_set(e))
        return ldg_errf(err, errcap, LDG_EBADINPUT, "member %s: no size", full);
    size = archive_entry_size(e);
    if (size < 0 || (uint64_t)size > lim->file_bytes)
        return ldg_errf(err, errcap, LDG_ETOOBIG,
                        "member %s: %lld bytes, larger than the per-file limit "
                        "of %llu (" LDG_OPT_MAX_BYTES " raises it)",
                        full, (long long)size,
                        (unsigned long long)lim->file_bytes);
    return 0;
}

#define STREAM_BUF 65536

/* What a failed libarchive read says about the bundle: nothing when
 * libarchive ran out of memory (it says so in its errno), that the bundle
 * is malformed otherwise. */
static int
arc_read_rc(struct archive *a)
{
    /* (libarchive names every malformation; a failure it has no words for
     * is an allocation's) */
    return archive_errno(a) == ENOMEM || archive_error_string(a) == NULL
               ? LDG_ENOMEM
               : LDG_EBADINPUT;
}

/* Reads the current member's data: exactly len bytes, then its end,
 * through SHA-256 into sha. hold: into *out (len + 1 bytes, NUL after);
 * else through buf (STREAM_BUF bytes) and forgotten. */
static int
read_data(struct archive *a, const char *name, size_t len, int hold,
          uint8_t *buf, uint8_t **out, uint8_t sha[32], char *err,
          size_t errcap)
{
    struct ldg_sha256_ctx c;
    uint8_t *data = NULL, extra;
    size_t off = 0;
    la_ssize_t got;

    if (hold && (data = malloc(len + 1)) == NULL)
        return LDG_ENOMEM;
    ldg_sha256_init(&c);
    while (off < len) {
        uint8_t *to = hold ? data + off : buf;
        size_t want = hold ? len - off
                           : (len - off < STREAM_BUF ? len - off : STREAM_BUF);
        got = archive_read_data(a, to, want);
        if (got <= 0) {
            snprintf(err, errcap, "member %s: truncated (%s)", name,
                     got < 0 ? archive_error_string(a) : "ends early");
            free(data);
            return got < 0 ? arc_read_rc(a) : LDG_EBADINPUT;
        }
        ldg_sha256_update(&c, to, (size_t)got);
        off += (size_t)got;
    }
    got = archive_read_data(a, &extra, 1);
    if (got != 0) {
        snprintf(err, errcap, "member %s: %s", name,
                 got < 0 ? archive_error_string(a) : "longer than declared");
        free(data);
        return got < 0 ? arc_read_rc(a) : LDG_EBADINPUT;
    }
    ldg_sha256_final(&c, sha);
    if (hold) {
        data[len] = 0;
        *out = data;
    }
    return 0;
}

static int
check_magic(const struct bmember *m, char *err, size_t errcap)
{
    static const char want[] = LDG_BUNDLE_MAGIC "\n";
    static const char family[] = "ledger.bundle/v";
    if (m->len == sizeof want - 1 && memcmp(m->data, want, m->len) == 0)
        return 0;
    if (m->len > sizeof family - 1 &&
        memcmp(m->data, family, sizeof family - 1) == 0) {
        snprintf(err, errcap,
                 "bundle format %.*s is not supported (this "
                 "reader knows %s)",
                 (int)(m->len > 40 ? 40 : m->len - 1), (const char *)m->data,
                 LDG_BUNDLE_MAGIC);
        return LDG_EVERSION;
    }
    snprintf(err, errcap, "not a ledger bundle: bad magic member");
    return LDG_EBADINPUT;
}

/* The three passes over the file (bundle_read). */
enum pass {
    PASS_FIND,   /* hold ledger-bundle, manifest.json, manifest.sig */
    PASS_DIGEST, /* hash each listed member into b->files */
    PASS_HOLD    /* hold what the digests allow */
};

static int
is_control(const char *name)
{
    return strcmp(name, B_MAGIC) == 0 || strcmp(name, B_MANIFEST) == 0 ||
           strcmp(name, B_MANIFEST_SIG) == 0;
}

/* PASS_HOLD: is a member held? Listed with the right digest: yes (the
 * manifest declares it); anything else only while the budget lasts. */
static int
hold_member(struct bundle *b, const char *name, uint64_t size, uint64_t *budget)
{
    const struct bmfile *f = b->listed ? bmlist_find(&b->files, name) : NULL;
    if (f != NULL && f->matches && f->size == size)
        return 1;
    /* a held member costs its bytes and its bookkeeping */
    if (size <= BUNDLE_HOLD_OTHER_MEMBER && size + 256 <= *budget) {
        *budget -= size + 256;
        return 1;
    }
    if (b->not_held++ == 0)
        snprintf(b->first_not_held, sizeof b->first_not_held, "%s", name);
    b->not_held_bytes += size;
    return 0;
}

static int
run_pass(struct bundle *b, struct zsrc *z, const struct ldg_bundle_limits *lim,
         enum pass pass, char *err, size_t errcap)
{
    struct archive *a = archive_read_new();
    /* headers read into an entry of ours (archive_read_next_header2):
     * libarchive 3.6's own, made by archive_read_new, is not checked for
     * NULL there, and reading into it after that allocation failed
     * crashes */
    struct archive_entry *e = archive_entry_new();
    uint8_t *buf = malloc(STREAM_BUF);
    uint64_t count = 0, budget = BUNDLE_HOLD_OTHER_BYTES;
    int rc = 0, r;

    if (a == NULL && ldg_archive_unavailable() != NULL) {
        rc = ldg_errf(err, errcap, LDG_EIO, "%s", ldg_archive_unavailable());
        goto out;
    }
    if (a == NULL || e == NULL || buf == NULL) {
        rc = ldg_errf(err, errcap, LDG_ENOMEM, "%s", ldg_strerror(LDG_ENOMEM));
        goto out;
    }
    /* it fails only when it cannot allocate (or libarchive is missing,
     * which archive_read_open then says) */
    if (archive_read_support_format_tar(a) != ARCHIVE_OK &&
        archive_errno(a) == ENOMEM) {
        rc = ldg_errf(err, errcap, LDG_ENOMEM, "%s", ldg_strerror(LDG_ENOMEM));
        goto out;
    }
    /* archive_read_open in three steps: libarchive 3.6's ignores a failed
     * allocation of the second and then crashes in the third */
    if (archive_read_set_read_callback(a, zread) != ARCHIVE_OK ||
        archive_read_set_callback_data(a, z) != ARCHIVE_OK ||
        archive_read_open1(a) != ARCHIVE_OK) {
        rc = z->code ? z->code : arc_read_rc(a);
        snprintf(err, errcap, "%s", z->code ? z->err : archive_error_string(a));
        goto out;
    }
    for (;; count++) {
        const char *name, *rel = NULL;
        uint8_t *data = NULL, sha[32];
        struct bmfile *f = NULL;
        size_t len;
        int hold = 0, hash = 0, skip;

        r = archive_read_next_header2(a, e);
        if (r == ARCHIVE_EOF)
            break;
        if (r != ARCHIVE_OK) {
            rc = z->code ? z->code : arc_read_rc(a);
            snprintf(err, errcap, "%s%s", z->code ? "" : "archive: ",
                     z->code ? z->err : archive_error_string(a));
            goto out;
        }
        if ((rc = member_rel(b, e, count, &rel, &skip, err, errcap)) < 0)
            goto out;
        if (skip) { /* a directory entry of the layout */
            if (count >= lim->files) {
                rc = ldg_errf(err, errcap, LDG_ETOOBIG, "%s",
                              "more archive members than the limit");
                goto out;
            }
            continue;
        }
        if ((rc = check_header(e, rel, lim, count, err, errcap)) < 0)
            goto out;
        name = rel; /* the layout's name, below the top directory */
        len = (size_t)archive_entry_size(e);
        snprintf(z->member, sizeof z->member, "%s", name);
        switch (pass) {
        case PASS_FIND:
            hold = is_control(name);
            break;
        case PASS_DIGEST:
            f = bmlist_find(&b->files, name);
            if (f != NULL && f->seen) {
                rc = LDG_EBADINPUT;
                snprintf(err, errcap, "duplicate member %s", name);
                goto out;
            }
            hash = f != NULL;
            if (f != NULL && f->has_size && f->declared != len) {
                /* refused by its size alone: never read */
                f->seen = 1;
                f->size = len;
                f->size_bad = 1;
                f = NULL;
                hash = 0;
            }
            break;
        case PASS_HOLD:
            hold = !is_control(name) && hold_member(b, name, len, &budget);
            break;
        }
        if (hold || hash) {
            rc = read_data(a, name, len, hold, buf, &data, sha, err, errcap);
        } else if (archive_read_data_skip(a) != ARCHIVE_OK) {
            rc = arc_read_rc(a);
            snprintf(err, errcap, "member %s: %s", name,
                     archive_error_string(a));
        }
        if (rc == 0 && f != NULL) {
            f->seen = 1;
            f->size = len;
            f->matches = memcmp(sha, f->sha, 32) == 0;
        }
        if (rc == 0 && hold) {
            char *copy = strdup(name);
            rc = copy ? push_member(b, copy, data, len, sha) : LDG_ENOMEM;
            if (rc < 0)
                free(copy);
        }
        if (rc < 0) {
            if (z->code) {
                rc = z->code;
                if (strncmp(z->err, "member ", 7) == 0)
                    snprintf(err, errcap, "%s", z->err);
                else
                    snprintf(err, errcap, "member %s: %s", name, z->err);
            }
            free(data);
            goto out;
        }
        /* The magic is checked as soon as it is held (the writer puts it
         * first; a bundle packed again with tar may have it anywhere): a
         * foreign version is named before anything else. */
        if (pass == PASS_FIND && hold && strcmp(name, B_MAGIC) == 0 &&
            (rc = check_magic(&b->m[b->n - 1], err, errcap)) < 0)
            goto out;
    }
    if (count == 0) {
        rc = LDG_EBADINPUT;
        snprintf(err, errcap, "not a ledger bundle: empty archive");
        goto out;
    }
    z->member[0] = '\0';
    if (z->last_ret != 0 || !z->in_eof || z->in.pos < z->in.size) {
        /* libarchive stops at the end marker; anything after it must be
         * padding inside the same, complete frame. */
        const void *p;
        while (zread(a, z, &p) > 0)
            ;
        if (z->code) {
            rc = z->code;
            snprintf(err, errcap, "%s", z->err);
            goto out;
        }
    }
    if (z->zero_tail < TAR_END_ZEROS) {
        rc = LDG_EBADINPUT;
        snprintf(err, errcap, "truncated: the archive has no end marker");
        goto out;
    }
    if (pass == PASS_FIND) {
        b->members = count;
        b->total = z->total;
    } else if (count != b->members || z->total != b->total) {
        rc = LDG_EIO;
        snprintf(err, errcap, "%s",
                 "the bundle changed while it was being read");
    }
out:
    free(buf);
    if (e != NULL)
        archive_entry_free(e);
    if (a != NULL)
        archive_read_free(a);
    return rc;
}

/* Sorts the held members; a duplicate name refuses the bundle. */
static int
sort_held(struct bundle *b, char *err, size_t errcap)
{
    qsort(b->m, b->n, sizeof *b->m, cmp_member);
    for (size_t i = 1; i < b->n; i++) {
        LDG_ASSERT(strcmp(b->m[i - 1].name, b->m[i].name) <= 0);
        if (strcmp(b->m[i - 1].name, b->m[i].name) == 0)
            return ldg_errf(err, errcap, LDG_EBADINPUT, "duplicate member %s",
                            b->m[i].name);
    }
    return 0;
}

/*
 * A manifest describes the members: about 120 bytes and 6 JSON values a
 * member as the writer writes it. A parsed JSON value costs far more
 * memory than its text (a "0," is a 2-byte integer and a ~50-byte node),
 * so a manifest much larger than the members call for is a memory bomb of
 * its own: refused before it is parsed. The bounds are 4x what the writer
 * needs, plus 64 KiB and 4,096 values for the fixed part.
 */
#define MANIFEST_BYTES_PER_MEMBER 512
#define MANIFEST_VALUES_PER_MEMBER 24
static int
manifest_size_ok(const struct bmember *m, uint64_t members, char *err,
                 size_t errcap)
{
    uint64_t values = 0, maxv = 4096 + MANIFEST_VALUES_PER_MEMBER * members;
    int in_str = 0, esc = 0;

    if (m->len > 65536 + MANIFEST_BYTES_PER_MEMBER * members)
        return ldg_errf(
            err, errcap, LDG_ETOOBIG,
            "member manifest.json: %zu bytes for %llu members, more "
            "than a manifest needs (at most %llu): refused before "
            "parsing",
            m->len, (unsigned long long)members,
            (unsigned long long)(65536 + MANIFEST_BYTES_PER_MEMBER * members));
    for (size_t i = 0; i < m->len; i++) {
        uint8_t c = m->data[i];
        if (in_str) {
            if (esc)
                esc = 0;
            else if (c == '\\')
                esc = 1;
            else if (c == '"')
                in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (c == ',' || c == ':' || c == '[' || c == '{') {
            values++; /* every value but the first follows one of these */
        }
    }
    if (values > maxv)
        return ldg_errf(err, errcap, LDG_ETOOBIG,
                        "member manifest.json: about %llu JSON values for %llu "
                        "members, more than a manifest needs (at most %llu): "
                        "refused before parsing",
                        (unsigned long long)values, (unsigned long long)members,
                        (unsigned long long)maxv);
    return 0;
}

/*
 * Pass 1 holds the control members and counts; the manifest's member list
 * is decoded; pass 2 streams every listed member through SHA-256; pass 3
 * holds what the manifest declares (and a little more, to name what is
 * wrong). No member is held that the manifest does not vouch for beyond
 * BUNDLE_HOLD_OTHER_BYTES, whatever the file holds. Without a readable
 * list, pass 2 is skipped and only the budget applies (verify then fails
 * on the manifest).
 */
static int
read_passes(struct bundle *b, struct zsrc *z,
            const struct ldg_bundle_limits *lim, char *err, size_t errcap)
{
    const struct bmember *mf;
    char merr[256];
    int rc;

    if ((rc = run_pass(b, z, lim, PASS_FIND, err, errcap)) < 0)
        return rc;
    if ((rc = sort_held(b, err, errcap)) < 0)
        return rc;
    if (bundle_get(b, B_MAGIC) == NULL)
        return ldg_errf(err, errcap, LDG_EBADINPUT,
                        "not a ledger bundle: no %s member", B_MAGIC);
    mf = bundle_get(b, B_MANIFEST);
    if (mf != NULL && (rc = manifest_size_ok(mf, b->members, err, errcap)) < 0)
        return rc;
    if (mf != NULL) {
        rc = bundle_manifest_files(&b->files, mf->data, mf->len, merr,
                                   sizeof merr);
        if (rc == LDG_ENOMEM)
            return rc;
        b->listed = rc == 0;
        if (!b->listed)
            snprintf(b->list_err, sizeof b->list_err, "%s", merr);
    }
    if (b->listed) {
        if (zrewind(z) < 0 ||
            (rc = run_pass(b, z, lim, PASS_DIGEST, err, errcap)) < 0)
            return rc < 0 ? rc : z->code;
    }
    if (zrewind(z) < 0 ||
        (rc = run_pass(b, z, lim, PASS_HOLD, err, errcap)) < 0)
        return rc < 0 ? rc : z->code;
    return sort_held(b, err, errcap);
}

static int
bundle_read(struct bundle *b, int fd, const void *p, size_t len,
            const struct ldg_bundle_limits *limits, char *err, size_t errcap)
{
    struct ldg_bundle_limits lim;
    struct zsrc z;
    int rc;

    memset(b, 0, sizeof *b);
    memset(&z, 0, sizeof z);
    bundle_limits_fill(&lim, limits);
    z.fd = fd;
    z.max_total = lim.total_bytes;
    z.window_log = lim.window_log;
    z.ratio = lim.ratio;
    z.dctx = ZSTD_createDCtx();
    z.outcap = ZSTD_DStreamOutSize();
    z.outbuf = malloc(z.outcap);
    if (fd >= 0) {
        z.incap = ZSTD_DStreamInSize();
        z.inbuf = malloc(z.incap);
    } else {
        z.mem = p;
        z.memlen = len;
        z.in.src = p;
        z.in.size = len;
        z.in_eof = 1;
    }
    if (z.dctx == NULL || z.outbuf == NULL || (fd >= 0 && z.inbuf == NULL)) {
        rc = LDG_ENOMEM;
        goto out;
    }
    if (ZSTD_isError(ZSTD_DCtx_setParameter(z.dctx, ZSTD_d_windowLogMax,
                                            (int)lim.window_log))) {
        rc = LDG_EINVAL;
        goto out;
    }
    rc = read_passes(b, &z, &lim, err, errcap);
    if (rc < 0 && z.code != 0 && err[0] == '\0')
        snprintf(err, errcap, "%s", z.err);
out:
    ZSTD_freeDCtx(z.dctx);
    free(z.inbuf);
    free(z.outbuf);
    if (rc < 0)
        bundle_release(b);
    return rc;
}

/* The one message every reader gives for a bundle past its bound. */
static int
too_big(char *err, size_t errcap, uint64_t max)
{
    return ldg_errf(err, errcap, LDG_ETOOBIG,
                    "the bundle is larger than the limit of %llu bytes "
                    "(" LDG_OPT_MAX_BYTES ")",
                    (unsigned long long)max);
}

/* The first bytes of a bundle (n of them, n < 4 only at the file's end):
 * a zstd frame's magic number, as zread says it. */
static int
zstd_head(const uint8_t *p, size_t n, char *err, size_t errcap)
{
    if (n < 4)
        return ldg_errf(err, errcap, LDG_EBADINPUT,
                        "not a bundle: too short to be zstd-compressed");
    if (!(p[0] == 0x28 && p[1] == 0xb5 && p[2] == 0x2f && p[3] == 0xfd))
        return ldg_errf(err, errcap, LDG_EBADINPUT,
                        "not a bundle: not a zstd stream (a bundle is a "
                        "zstd-compressed tar: pack one with tar --zstd -cf)");
    return 0;
}

int
bundle_gate_fd(int fd, uint64_t max, char *err, size_t errcap)
{
    struct stat st;
    uint8_t head[4];
    ssize_t n;

    if (fstat(fd, &st) != 0)
        return ldg_errf(err, errcap, LDG_EIO, "reading the bundle: %s",
                        strerror(errno));
    if (!S_ISREG(st.st_mode))
        return 0; /* (spool() reads it, bounded, looking at its head) */
    if ((uint64_t)st.st_size > max)
        return too_big(err, errcap, max);
    do
        n = pread(fd, head, sizeof head, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return ldg_errf(err, errcap, LDG_EIO, "reading the bundle: %s",
                        strerror(errno));
    return zstd_head(head, (size_t)n, err, errcap);
}

int
bundle_spool(int fd, uint64_t max, int *out, char *err, size_t errcap)
{
    const char *dir = getenv("TMPDIR");
    char path[4200];
    uint8_t *buf = malloc(STREAM_BUF), head[4];
    uint64_t n = 0;
    size_t nhead = 0;
    int t, rc;

    if (buf == NULL)
        return LDG_ENOMEM;
    if (dir == NULL || *dir == '\0')
        dir = "/tmp";
    snprintf(path, sizeof path, "%s/ledger-bundle-XXXXXX", dir);
    t = mkstemp(path);
    if (t < 0) {
        free(buf);
        return ldg_errf(err, errcap, LDG_EIO,
                        "cannot spool the bundle to %s: %s", dir,
                        strerror(errno));
    }
    unlink(path);
    for (;;) {
        /* never more than one byte past the bound */
        size_t want =
            max + 1 - n < STREAM_BUF ? (size_t)(max + 1 - n) : STREAM_BUF;
        ssize_t got = read(fd, buf, want);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0 || (got > 0 && ldg_write_all(t, buf, (size_t)got, 0) < 0)) {
            int e = errno;
            free(buf);
            close(t);
            return ldg_errf(err, errcap, LDG_EIO, "reading the bundle: %s",
                            strerror(e));
        }
        /* its head first: what is not zstd is refused at once (a device
         * of zeros is not read to the bound) */
        if (nhead < 4 && got > 0) {
            size_t k = 4 - nhead < (size_t)got ? 4 - nhead : (size_t)got;
            memcpy(head + nhead, buf, k);
            nhead += k;
        }
        if ((nhead == 4 || got == 0) &&
            (rc = zstd_head(head, nhead, err, errcap)) < 0) {
            free(buf);
            close(t);
            return rc;
        }
        if (got == 0)
            break;
        n += (uint64_t)got;
        if (n > max) {
            free(buf);
            close(t);
            return too_big(err, errcap, max);
        }
    }
    free(buf);
    if (lseek(t, 0, SEEK_SET) != 0) {
        int e = errno;
        close(t);
        return ldg_errf(err, errcap, LDG_EIO, "reading the bundle: %s",
                        strerror(e));
    }
    *out = t;
    return 0;
}

int
bundle_read_fd(struct bundle *b, int fd, const struct ldg_bundle_limits *lim,
               char *err, size_t errcap)
{
    struct ldg_bundle_limits l;
    struct stat st;
    int rc, t;

    if (fd < 0)
        return LDG_EINVAL;
    memset(b, 0, sizeof *b);
    bundle_limits_fill(&l, lim);
    if ((rc = bundle_gate_fd(fd, l.total_bytes, err, errcap)) < 0)
        return rc;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
        lseek(fd, 0, SEEK_CUR) == 0)
        return bundle_read(b, fd, NULL, 0, lim, err, errcap);
    if ((rc = bundle_spool(fd, l.total_bytes, &t, err, errcap)) < 0)
        return rc;
    rc = bundle_read(b, t, NULL, 0, lim, err, errcap);
    close(t);
    return rc;
}

int
bundle_read_mem(struct bundle *b, const void *p, size_t len,
                const struct ldg_bundle_limits *lim, char *err, size_t errcap)
{
    if (p == NULL && len > 0)
        return LDG_EINVAL;
    return bundle_read(b, -1, p ? p : "", len, lim, err, errcap);
}

static int
name_cmp(const void *name, const void *m)
{
    return strcmp(name, ((const struct bmember *)m)->name);
}

const struct bmember *
bundle_get(const struct bundle *b, const char *name)
{
    return b->n ? bsearch(name, b->m, b->n, sizeof *b->m, name_cmp) : NULL;
}

void
bundle_release(struct bundle *b)
{
    for (size_t i = 0; i < b->n; i++) {
        free(b->m[i].name);
        free(b->m[i].data);
    }
    free(b->m);
    bmlist_free(&b->files);
    free(b->top);
    memset(b, 0, sizeof *b);
}

/* -------------------------------------------------------- extraction -- */

/* The directory fd for a member's parent (dfd itself or one level down,
 * created if missing, never followed if it is a link). */
static int
parent_dir(int dfd, const char *name, char *sub, size_t subcap,
           const char **base)
{
    const char *slash = strchr(name, '/');
    size_t n;
    int fd;

    if (slash == NULL) {
        *base = name;
        return dup(dfd);
    }
    n = (size_t)(slash - name);
    if (n + 1 > subcap)
        return -1;
    memcpy(sub, name, n);
    sub[n] = '\0';
    *base = slash + 1;
    if (mkdirat(dfd, sub, 0700) < 0 && errno != EEXIST)
        return -1;
    fd = openat(dfd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    return fd;
}

/* Removes what extract_into wrote under tmp (at most one level of
 * subdirectories, as bundle names allow) and tmp itself. */
static void
remove_under(int dfd)
{
    /* what the directory open as dfd holds, through dfd alone: a name
     * swapped for a symlink meanwhile (in a parent others may write) is
     * removed as a link, never followed; dfd is closed */
    DIR *d = fdopendir(dfd);
    struct dirent *e;
    if (d == NULL) {
        close(dfd);
        return;
    }
    while ((e = readdir(d)) != NULL) {
        int sub;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
            unlinkat(dirfd(d), e->d_name, 0) == 0)
            continue;
        sub = openat(dirfd(d), e->d_name,
                     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub >= 0) {
            remove_under(sub);
            unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR);
        }
    }
    closedir(d);
}

static int
extract_into(const struct bundle *b, int dfd, const char *dir, char *err,
             size_t errcap)
{
    int rc = 0;
    for (size_t i = 0; i < b->n && rc == 0; i++) {
        const struct bmember *m = &b->m[i];
        const char *base;
        char sub[32];
        int pfd, fd;

        if (bundle_name_kind(m->name, NULL) == BN_BAD) { /* never read so */
            snprintf(err, errcap, "member %s: refused", m->name);
            rc = LDG_EBADINPUT;
            break;
        }
        pfd = parent_dir(dfd, m->name, sub, sizeof sub, &base);
        if (pfd < 0) {
            snprintf(err, errcap, "%s/%s: cannot open its directory: %s", dir,
                     m->name, strerror(errno));
            rc = LDG_EIO;
            break;
        }
        fd = openat(pfd, base,
                    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0 || ldg_write_all(fd, m->data, m->len, 0) < 0 ||
            fsync(fd) != 0) {
            snprintf(err, errcap, "%s/%s: %s", dir, m->name, strerror(errno));
            rc = errno == EEXIST ? LDG_EEXIST : LDG_EIO;
        }
        if (fd >= 0 && close(fd) < 0 && rc == 0) {
            snprintf(err, errcap, "%s/%s: %s", dir, m->name, strerror(errno));
            rc = LDG_EIO;
        }
        close(pfd);
    }
    return rc;
}

/*
 * Writes every member into a new temporary directory beside dir and
 * renames it to dir only when all were written: dir then holds the whole
 * bundle or was never touched. dir must not exist or be an empty
 * directory (which the rename replaces).
 */
int
bundle_extract(const struct bundle *b, const char *dir, char *err,
               size_t errcap)
{
    char tmp[4200];
    struct stat st;
    int dfd, rc;

    if (strlen(dir) + 16 > sizeof tmp) {
        snprintf(err, errcap, "%s: name too long", dir);
        return LDG_EINVAL;
    }
    if (lstat(dir, &st) == 0) {
        DIR *d;
        struct dirent *e;
        int empty = 1;
        if (!S_ISDIR(st.st_mode)) {
            snprintf(err, errcap, "%s exists and is not a directory", dir);
            return LDG_EEXIST;
        }
        d = opendir(dir);
        while (d != NULL && (e = readdir(d)) != NULL)
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
                empty = 0;
        if (d != NULL)
            closedir(d);
        if (!empty) {
            snprintf(err, errcap,
                     "%s exists and is not empty: nothing extracted", dir);
            return LDG_EEXIST;
        }
    }
    {
        /* strip trailing slashes: "out/" and "out" are one directory */
        size_t n = strlen(dir);
        memcpy(tmp, dir, n + 1);
        while (n > 1 && tmp[n - 1] == '/')
            tmp[--n] = '\0';
        snprintf(tmp + n, sizeof tmp - n, ".tmp-XXXXXX");
    }
    if (mkdtemp(tmp) == NULL) {
        snprintf(err, errcap, "cannot create a directory beside %s: %s", dir,
                 strerror(errno));
        return LDG_EIO;
    }
    dfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        snprintf(err, errcap, "cannot open %s: %s", tmp, strerror(errno));
        rmdir(tmp);
        return LDG_EIO;
    }
    rc = extract_into(b, dfd, dir, err, errcap);
    if (rc == 0 && fsync(dfd) != 0) {
        snprintf(err, errcap, "%s: %s", tmp, strerror(errno));
        rc = LDG_EIO;
    }
    if (rc == 0 && rename(tmp, dir) != 0) {
        snprintf(err, errcap, "cannot rename %s to %s: %s", tmp, dir,
                 strerror(errno));
        rc = errno == ENOTEMPTY || errno == EEXIST ? LDG_EEXIST : LDG_EIO;
    }
    if (rc < 0) {
        remove_under(dfd); /* the one it made, whatever is at its name */
        rmdir(tmp);
    } else {
        close(dfd);
    }
    return rc;
}

/* ----------------------------------------------------------- writing -- */

struct bwriter {
    struct archive *a;
    ZSTD_CCtx *cctx;
    int fd;
    uint8_t *outbuf;
    size_t outcap;
    uint64_t bytes, unpacked; /* compressed, and the tar's */
    int64_t mtime;
    char *top; /* NULL: members at the archive's root */
    int failed;
    char err[256];
};

/* A failed libarchive write: out of memory (its errno says), or I/O */
static int
arc_write_rc(struct archive *a)
{
    return archive_errno(a) == ENOMEM ? LDG_ENOMEM : LDG_EIO;
}

/* The writer's first failure, kept: libarchive's report of it (an I/O
 * error from the callback) comes after the cause (zstd out of memory). */
static int
wfail(struct bwriter *w, int code, const char *what)
{
    if (!w->failed) {
        w->failed = code;
        /* (libarchive's "Can't allocate ..." is memory: said so) */
        snprintf(w->err, sizeof w->err, "%s%s",
                 code == LDG_ENOMEM ? "out of memory: " : "", what);
    }
    return w->failed;
}

/* Compresses in with directive and writes all output to the file. */
static int
zpush(struct bwriter *w, const void *p, size_t n, ZSTD_EndDirective dir)
{
    ZSTD_inBuffer in = {p, n, 0};
    for (;;) {
        ZSTD_outBuffer out = {w->outbuf, w->outcap, 0};
        size_t r = ZSTD_compressStream2(w->cctx, &out, &in, dir);
        if (ZSTD_isError(r))
            return wfail(w,
                         ZSTD_getErrorCode(r) == ZSTD_error_memory_allocation
                             ? LDG_ENOMEM
                             : LDG_EIO,
                         ZSTD_getErrorName(r));
        LDG_ASSERT(in.pos <= in.size && out.pos <= w->outcap);
        if (out.pos > 0) {
            if (ldg_write_all(w->fd, w->outbuf, out.pos, 0) < 0)
                return wfail(w, LDG_EIO, strerror(errno));
            w->bytes += out.pos;
        }
        if (dir == ZSTD_e_end ? r == 0 : in.pos == in.size)
            return 0;
    }
}

static la_ssize_t
zwrite(struct archive *a, void *ctx, const void *buf, size_t n)
{
    struct bwriter *w = ctx;
    w->unpacked += n;
    if (zpush(w, buf, n, ZSTD_e_continue) < 0) {
        archive_set_error(a, EIO, "%s", w->err);
        return -1;
    }
    return (la_ssize_t)n;
}

/* One archive entry: a regular file, or (type AE_IFDIR, name "") the top
 * directory. Names are written below the top directory. */
static int
add_entry(struct bwriter *w, const char *name, unsigned type, const void *data,
          size_t len)
{
    struct archive_entry *e;
    char path[B_TOP_MAX + 256];
    int rc = 0;

    if (w->failed)
        return w->failed;
    if (snprintf(path, sizeof path, "%s%s%s", w->top ? w->top : "",
                 w->top ? "/" : "", name) >= (int)sizeof path)
        return wfail(w, LDG_EINVAL, "member name too long");
    e = archive_entry_new();
    if (e == NULL)
        return wfail(w, LDG_ENOMEM, "a member's entry");
    archive_entry_set_pathname(e, path);
    archive_entry_set_size(e, (la_int64_t)len);
    archive_entry_set_filetype(e, type);
    archive_entry_set_perm(e, type == AE_IFDIR ? 0755 : 0644);
    archive_entry_set_mtime(e, (time_t)w->mtime, 0);
    if (archive_write_header(w->a, e) != ARCHIVE_OK) {
        rc = wfail(w, arc_write_rc(w->a), archive_error_string(w->a));
    } else if (len > 0 &&
               archive_write_data(w->a, data, len) != (la_ssize_t)len) {
        rc = wfail(w, arc_write_rc(w->a), archive_error_string(w->a));
    }
    archive_entry_free(e);
    return rc;
}

int
bwriter_new(struct bwriter **out, int fd, int level, unsigned threads,
            int64_t mtime, const char *top, char *err, size_t errcap)
{
    struct bwriter *w = calloc(1, sizeof *w);
    int rc = LDG_ENOMEM;

    *out = NULL;
    if (w == NULL)
        return LDG_ENOMEM;
    w->fd = fd;
    w->mtime = mtime;
    if (top != NULL && !bundle_top_valid(top)) {
        snprintf(err, errcap, "'%s' cannot name a bundle's directory", top);
        free(w);
        return LDG_EINVAL;
    }
    if (top != NULL && (w->top = strdup(top)) == NULL) {
        free(w);
        return LDG_ENOMEM;
    }
    w->outcap = ZSTD_CStreamOutSize();
    w->outbuf = malloc(w->outcap);
    w->cctx = ZSTD_createCCtx();
    w->a = archive_write_new();
    if (w->a == NULL && ldg_archive_unavailable() != NULL) {
        rc = ldg_errf(err, errcap, LDG_EIO, "%s", ldg_archive_unavailable());
        goto fail;
    }
    if (w->outbuf == NULL || w->cctx == NULL || w->a == NULL)
        goto fail;
    ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel, level);
    ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_checksumFlag, 1);
    /* Keep the window within what readers accept by default. */
    ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_windowLog, 22);
    if (threads > 1) /* ignored (an error) without ZSTD_MULTITHREAD */
        (void)ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_nbWorkers, (int)threads);
    rc = LDG_EIO;
    if (archive_write_set_format_ustar(w->a) != ARCHIVE_OK ||
        archive_write_open(w->a, w, NULL, zwrite, NULL) != ARCHIVE_OK) {
        /* libarchive names every failure here but an allocation's */
        rc = archive_error_string(w->a) == NULL ? LDG_ENOMEM
                                                : arc_write_rc(w->a);
        snprintf(err, errcap, "archive: %s%s",
                 rc == LDG_ENOMEM && archive_error_string(w->a) != NULL
                     ? "out of memory: "
                     : "",
                 archive_error_string(w->a) ? archive_error_string(w->a)
                                            : ldg_strerror(rc));
        goto fail;
    }
    if (w->top != NULL && (rc = add_entry(w, "", AE_IFDIR, NULL, 0)) < 0) {
        snprintf(err, errcap, "archive: %s", w->err);
        goto fail;
    }
    *out = w;
    return 0;
fail:
    bwriter_free(w);
    return rc;
}

int
bwriter_add(struct bwriter *w, const char *name, const void *data, size_t len)
{
    return add_entry(w, name, AE_IFREG, data, len);
}

int
bwriter_finish(struct bwriter *w, uint64_t *bytes, uint64_t *unpacked)
{
    if (w->failed)
        return w->failed;
    if (archive_write_close(w->a) != ARCHIVE_OK)
        return wfail(w, arc_write_rc(w->a), archive_error_string(w->a));
    if (zpush(w, NULL, 0, ZSTD_e_end) < 0)
        return w->failed;
    if (bytes)
        *bytes = w->bytes;
    if (unpacked)
        *unpacked = w->unpacked;
    return 0;
}

const char *
bwriter_errmsg(const struct bwriter *w)
{
    return w->err;
}

void
bwriter_free(struct bwriter *w)
{
    if (w == NULL)
        return;
    if (w->a)
        archive_write_free(w->a);
    ZSTD_freeCCtx(w->cctx);
    free(w->outbuf);
    free(w->top);
    free(w);
}

const char *
ldg_export_lib_version(void)
{
    const char *v = archive_version_string(); /* "libarchive 3.7.2" */
    return v ? v : "libarchive (cannot be loaded)";
}
