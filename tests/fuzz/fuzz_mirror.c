/*
 * fuzz_mirror.c — libFuzzer target for what `ledger mirror` reads from a
 * published log (fleet/mirror.c): the checkpoint note, the entry bundles
 * (2-byte big-endian length, entry, repeated) and the hash tiles.
 *
 * Once per process it makes a real ledger of 300 events, publishes it as
 * tiles (ldg_tiles_write) and keeps every published file in memory; it
 * also keeps a mirror state verified at size 100. Each input replaces one
 * published file and the mirror syncs through an in-memory fetcher, from
 * an empty state or from the state at 100:
 *
 *   byte 0   bits 0-3: which published file to replace (modulo their
 *            number, in a fixed order: checkpoint, tiles, bundles);
 *            bit 4: sync from the state at 100 instead of an empty one;
 *            bit 5: when the file is the checkpoint, sign the new content
 *            as its text with the log key (so sizes and roots the fuzzer
 *            picks get past the signature);
 *            bit 6: patch the published file (the checkpoint's text with
 *            bit 5) instead of replacing it: bytes 1-2 an offset (big-
 *            endian, modulo its length), byte 3 how many bytes to delete
 *            there, the rest inserted there
 *   byte 1.. the file's new content (without bit 6)
 *
 * Checked: no crash, no undefined behaviour, no leak; a failure is a known
 * negative code with a message; and a sync that succeeded with a changed
 * bundle or tile, or with a signed checkpoint whose size or root is not
 * the log's, is a bug (abort).
 */
#include <ftw.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fleet/fleet.h"
#include "ledger/module.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NEVENTS 300
#define OLD 100

struct file {
    char rel[128];
    uint8_t *data;
    size_t len;
};

static struct {
    int ready;
    char base[256];
    char vkey[600];
    struct ldg_ledger *l;
    struct file files[16];
    size_t nfiles;
    /* the fetcher's view for one input */
    size_t replaced;
    const uint8_t *rdata;
    size_t rlen;
} g;

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void
rmrf(const char *dir)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void
load(const char *dir, const char *rel)
{
    char path[512];
    FILE *fp;
    struct file *f;
    long n;

    if (g.nfiles == sizeof g.files / sizeof g.files[0])
        abort();
    f = &g.files[g.nfiles++];
    snprintf(f->rel, sizeof f->rel, "%s", rel);
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    fp = fopen(path, "rb");
    if (fp == NULL)
        abort();
    fseek(fp, 0, SEEK_END);
    n = ftell(fp);
    rewind(fp);
    f->data = malloc((size_t)n + 1);
    if (f->data == NULL || fread(f->data, 1, (size_t)n, fp) != (size_t)n)
        abort();
    f->len = (size_t)n;
    fclose(fp);
}

static void
append(int n)
{
    struct ldg_writer *w;
    if (ldg_writer_new(&w, g.l, NULL) < 0)
        abort();
    for (int i = 0; i < n; i++) {
        struct ldg_event_in in;
        json_t *b = json_pack("{s:i, s:s}", "i", i, "note", "fuzz");
        memset(&in, 0, sizeof in);
        in.type = "x.fuzz.n";
        in.body = b;
        if (ldg_writer_add(w, &in) < 0)
            abort();
        json_decref(b);
    }
    if (ldg_writer_flush(w) < 0)
        abort();
    ldg_writer_free(w);
}

static int
mem_get(void *ctx, const char *rel, uint8_t **out, size_t *len, char *err,
        size_t errcap)
{
    (void)ctx;
    for (size_t i = 0; i < g.nfiles; i++) {
        const uint8_t *p = g.files[i].data;
        size_t n = g.files[i].len;
        if (strcmp(rel, g.files[i].rel) != 0)
            continue;
        if (i == g.replaced) {
            p = g.rdata;
            n = g.rlen;
        }
        *out = malloc(n + 1);
        if (*out == NULL)
            return LDG_ENOMEM;
        memcpy(*out, p, n);
        (*out)[n] = 0;
        *len = n;
        return 0;
    }
    snprintf(err, errcap, "not found");
    return LDG_ENOTFOUND;
}

static int
copy_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    char to[512];
    const char *rel = path + strlen(g.base) + strlen("/stateA");
    (void)ftw;
    snprintf(to, sizeof to, "%s/state%s", g.base, rel);
    if (flag == FTW_D)
        return mkdir(to, 0700) < 0 && rel[0] != '\0';
    if (flag == FTW_F) {
        FILE *a = fopen(path, "rb"), *b = fopen(to, "wb");
        char buf[8192];
        size_t n;
        if (a == NULL || b == NULL)
            abort();
        while ((n = fread(buf, 1, sizeof buf, a)) > 0)
            fwrite(buf, 1, n, b);
        fclose(a);
        fclose(b);
    }
    (void)sb;
    return 0;
}

/* The process's files go when it exits (libFuzzer exits normally at the
 * end of -max_total_time; a crash leaves them for the reproducer). */
static void
cleanup(void)
{
    if (g.l != NULL)
        ldg_close(g.l);
    rmrf(g.base);
}

static void
setup(void)
{
    struct ldg_options o;
    struct ldg_tiles_report tr;
    struct ldg_mirror_report mr;
    struct ldg_fetcher f;
    char err[512], d[300];

    snprintf(g.base, sizeof g.base, "/tmp/fuzz_mirror.XXXXXX");
    if (mkdtemp(g.base) == NULL)
        abort();
    atexit(cleanup);
    snprintf(d, sizeof d, "%s/log", g.base);
    memset(&o, 0, sizeof o);
    o.flags = LDG_NOSYNC;
    o.map_size_bytes = 64u << 20;
    if (ldg_init(d, "fuzz.example/mirror", &o, err, sizeof err) < 0 ||
        ldg_open(&g.l, d, &o, err, sizeof err) < 0)
        abort();
    if (ldg_verifier_key(g.l, g.vkey, sizeof g.vkey) < 0)
        abort();
    append(OLD - 1); /* genesis + 99 */
    snprintf(d, sizeof d, "%s/pubA", g.base);
    if (ldg_tiles_write(g.l, d, &tr) < 0)
        abort();
    ldg_fetcher_dir(&f, d);
    {
        char st[300];
        snprintf(st, sizeof st, "%s/stateA", g.base);
        if (ldg_mirror_sync(st, g.vkey, NULL, 0, &f, &mr, err, sizeof err) < 0 ||
            mr.size != OLD)
            abort();
    }
    append(NEVENTS - OLD);
    snprintf(d, sizeof d, "%s/pubB", g.base);
    if (ldg_tiles_write(g.l, d, &tr) < 0 || tr.size != NEVENTS)
        abort();
    load(d, "checkpoint");
    load(d, "tile/0/000");
    load(d, "tile/0/001.p/44");
    load(d, "tile/1/000.p/1");
    load(d, "tile/entries/000");
    load(d, "tile/entries/001.p/44");
    g.ready = 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ldg_fetcher f = {.get = mem_get, .ctx = NULL};
    struct ldg_mirror_report r;
    char err[1024] = "", st[300];
    char *signed_note = NULL;
    uint8_t *patched = NULL;
    int rc, incremental, changed;

    if (!g.ready)
        setup();
    if (size < 1)
        return 0;
    g.replaced = (data[0] & 15) % g.nfiles;
    incremental = (data[0] >> 4) & 1;
    g.rdata = data + 1;
    g.rlen = size - 1;
    if (data[0] & 64) {
        const struct file *o = &g.files[g.replaced];
        size_t olen = o->len, off, del, ins;
        if (size < 4)
            return 0;
        if (g.replaced == 0 && (data[0] & 32)) {
            /* the checkpoint's signed text: up to its blank line */
            const char *bl = memmem(o->data, o->len, "\n\n", 2);
            if (bl == NULL)
                abort();
            olen = (size_t)(bl - (const char *)o->data) + 1;
        }
        off = ((size_t)data[1] << 8 | data[2]) % (olen + 1);
        del = data[3];
        if (del > olen - off)
            del = olen - off;
        ins = size - 4;
        patched = malloc(olen - del + ins + 1);
        if (patched == NULL)
            abort();
        memcpy(patched, o->data, off);
        memcpy(patched + off, data + 4, ins);
        memcpy(patched + off + ins, o->data + off + del, olen - off - del);
        g.rdata = patched;
        g.rlen = olen - del + ins;
    }
    if (g.replaced == 0 && (data[0] & 32)) {
        /* a checkpoint text the log key really signed */
        if (g.rlen == 0 || g.rdata[g.rlen - 1] != '\n' ||
            memchr(g.rdata, 0, g.rlen) != NULL) {
            free(patched);
            return 0;
        }
        char *text = strndup((const char *)g.rdata, g.rlen);
        if (text == NULL)
            abort();
        rc = ldg_log_sign_note(g.l, text, g.rlen, &signed_note);
        free(text);
        if (rc < 0) {
            free(patched);
            return 0; /* the signer refused the text */
        }
        g.rdata = (const uint8_t *)signed_note;
        g.rlen = strlen(signed_note);
    }
    changed = g.rlen != g.files[g.replaced].len ||
              memcmp(g.rdata, g.files[g.replaced].data, g.rlen) != 0;

    snprintf(st, sizeof st, "%s/state", g.base);
    rmrf(st);
    if (incremental) {
        char from[300];
        snprintf(from, sizeof from, "%s/stateA", g.base);
        if (nftw(from, copy_one, 16, FTW_PHYS) != 0)
            abort();
    }
    memset(&r, 0, sizeof r);
    rc = ldg_mirror_sync(st, g.vkey, NULL, 0, &f, &r, err, sizeof err);
    if (rc == 0) {
        if (changed && g.replaced != 0)
            abort(); /* accepted a changed tile or bundle */
        /* the copy's checkpoint is the log's: its size and root */
        char path[400], origin[LDG_ORIGIN_MAX + 1];
        uint8_t root[32], want[32];
        uint64_t n = 0, wn = 0;
        FILE *fp;
        char note[8192];
        size_t nl;
        snprintf(path, sizeof path, "%s/checkpoint", st);
        fp = fopen(path, "rb");
        if (fp == NULL)
            abort();
        nl = fread(note, 1, sizeof note, fp);
        fclose(fp);
        if (r.size != NEVENTS ||
            ldg_checkpoint_open(g.vkey, note, nl, origin, sizeof origin, &n,
                                root) < 0 ||
            ldg_checkpoint_open(g.vkey, (const char *)g.files[0].data,
                                g.files[0].len, origin, sizeof origin, &wn,
                                want) < 0 ||
            n != wn || memcmp(root, want, 32) != 0)
            abort(); /* accepted a checkpoint that is not the log's */
    } else {
        if (rc > 0 || err[0] == '\0' || strcmp(ldg_strerror(rc), "") == 0)
            abort();
    }
    free(signed_note);
    free(patched);
    return 0;
}
