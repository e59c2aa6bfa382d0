/*
 * fuzz_manifest.c — libFuzzer target for the bundle reader's manifest and
 * member paths (export/manifest.c, export/archive.c): the input is a
 * manifest.json; it is decoded on its own, then put in a bundle beside
 * members it may or may not list, and the bundle read.
 *
 * Invariants, not just "no crash":
 *   - bundle_manifest_files accepts or refuses with a message, never
 *     LDG_ENOMEM on these sizes; an accepted list is strictly sorted, its
 *     names non-empty, "sizes" given for all or none, and re-encoding it
 *     as {"files": ..., "sizes": ...} decodes to the same list;
 *   - reading the bundle succeeds (the archive itself is sound); every
 *     held member's sha is the SHA-256 of its data; a member held beyond
 *     the control members is either listed with that digest or within the
 *     budget (BUNDLE_HOLD_OTHER_BYTES); held + not held = members.
 *
 * Build and run with tests/fuzz/run_bundle.sh; tests/export/test_manifest.c
 * runs the same function over fixed inputs under make check.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zstd.h>

#include "export/export_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_ASSERT(c)                                                           \
    do {                                                                       \
        if (!(c)) {                                                            \
            fprintf(stderr, "fuzz_manifest: %s:%d: %s\n", __FILE__, __LINE__,  \
                    #c);                                                       \
            abort();                                                           \
        }                                                                      \
    } while (0)

static void
check_list(const struct bmlist *l)
{
    json_t *files = json_object(), *sizes = json_object(), *doc;
    struct bmlist again;
    char err[256], hex[65], dec[24], *text;
    for (size_t i = 0; i < l->n; i++) {
        FZ_ASSERT(l->f[i].name[0] != '\0');
        if (i > 0)
            FZ_ASSERT(strcmp(l->f[i - 1].name, l->f[i].name) < 0);
        /* "sizes" is all or nothing */
        FZ_ASSERT(l->f[i].has_size == l->f[0].has_size);
        ldg_hex(hex, l->f[i].sha, 32);
        json_object_set_new(files, l->f[i].name, json_string(hex));
        snprintf(dec, sizeof dec, "%llu", (unsigned long long)l->f[i].declared);
        json_object_set_new(sizes, l->f[i].name, json_string(dec));
    }
    if (l->n > 0 && l->f[0].has_size)
        doc = json_pack("{s:o,s:o}", "files", files, "sizes", sizes);
    else {
        doc = json_pack("{s:o}", "files", files);
        json_decref(sizes);
    }
    text = json_dumps(doc, JSON_COMPACT);
    FZ_ASSERT(text != NULL);
    FZ_ASSERT(bundle_manifest_files(&again, text, strlen(text), err,
                                    sizeof err) == 0);
    FZ_ASSERT(again.n == l->n);
    for (size_t i = 0; i < l->n; i++) {
        FZ_ASSERT(strcmp(again.f[i].name, l->f[i].name) == 0);
        FZ_ASSERT(memcmp(again.f[i].sha, l->f[i].sha, 32) == 0);
        FZ_ASSERT(again.f[i].has_size == l->f[i].has_size);
        FZ_ASSERT(again.f[i].declared == l->f[i].declared);
    }
    bmlist_free(&again);
    free(text);
    json_decref(doc);
}

/* A ustar member appended to buf (a header, the data, padding). */
static int
tar_add(uint8_t **buf, size_t *len, size_t *cap, const char *name,
        const void *data, size_t n)
{
    size_t need = *len + 512 + (n + 511) / 512 * 512 + 1024;
    uint8_t *h;
    unsigned sum = 0;

    if (strlen(name) > 99)
        return -1;
    if (need > *cap) {
        uint8_t *p = realloc(*buf, need * 2);
        if (p == NULL)
            return -1;
        *buf = p;
        *cap = need * 2;
    }
    h = *buf + *len;
    memset(h, 0, 512 + (n + 511) / 512 * 512);
    memcpy(h, name, strlen(name));
    snprintf((char *)h + 100, 8, "%07o", 0644);
    snprintf((char *)h + 108, 8, "%07o", 0);
    snprintf((char *)h + 116, 8, "%07o", 0);
    snprintf((char *)h + 124, 12, "%011llo", (unsigned long long)n);
    snprintf((char *)h + 136, 12, "%011o", 0);
    h[156] = '0';
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    memset(h + 148, ' ', 8);
    for (size_t i = 0; i < 512; i++)
        sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum);
    if (n > 0)
        memcpy(h + 512, data, n);
    *len += 512 + (n + 511) / 512 * 512;
    return 0;
}

/* A bundle: the magic, the manifest, then "x" as every layout name the
 * list names (in list order) and one member it does not list; ustar made
 * here and compressed in one call (small zstd tables: fast to fuzz). */
static uint8_t *
make_bundle(const struct bmlist *l, const uint8_t *man, size_t len,
            size_t *out_len)
{
    uint8_t *tar = NULL, *z = NULL;
    size_t tlen = 0, tcap = 0, zcap, zn;
    int bad = 0;

    bad |= tar_add(&tar, &tlen, &tcap, B_MAGIC, LDG_BUNDLE_MAGIC "\n",
                   strlen(LDG_BUNDLE_MAGIC "\n"));
    bad |= tar_add(&tar, &tlen, &tcap, B_MANIFEST, man, len);
    for (size_t i = 0; l != NULL && i < l->n && i < 64; i++)
        if (bundle_name_kind(l->f[i].name, NULL) != BN_BAD &&
            strcmp(l->f[i].name, B_MAGIC) != 0 &&
            strcmp(l->f[i].name, B_MANIFEST) != 0)
            bad |= tar_add(&tar, &tlen, &tcap, l->f[i].name, "x", 1);
    bad |= tar_add(&tar, &tlen, &tcap, "entries/999999.entry", "unlisted", 8);
    if (bad) {
        free(tar);
        return NULL;
    }
    memset(tar + tlen, 0, 1024); /* the end marker */
    tlen += 1024;
    zcap = ZSTD_compressBound(tlen);
    z = malloc(zcap);
    if (z != NULL) {
        zn = ZSTD_compress(z, zcap, tar, tlen, 1);
        if (ZSTD_isError(zn)) {
            free(z);
            z = NULL;
        } else {
            *out_len = zn;
        }
    }
    free(tar);
    return z;
}

static void
check_bundle(const uint8_t *z, size_t zlen)
{
    struct ldg_bundle_limits lim;
    struct bundle b;
    char err[512] = "";
    uint64_t other = 0;
    int rc;

    memset(&lim, 0, sizeof lim);
    rc = bundle_read_mem(&b, z, zlen, &lim, err, sizeof err);
    if (rc == LDG_EBADINPUT && strstr(err, "duplicate member") != NULL)
        return; /* the list names a member twice over (manifest.json) */
    if (rc != 0)
        fprintf(stderr, "fuzz_manifest: read: %d %s\n", rc, err);
    FZ_ASSERT(rc == 0);
    FZ_ASSERT(b.n + b.not_held == b.members);
    for (size_t i = 0; i < b.n; i++) {
        const struct bmember *m = &b.m[i];
        const struct bmfile *f =
            b.listed ? bmlist_find(&b.files, m->name) : NULL;
        uint8_t d[32];
        ldg_sha256(d, m->data, m->len);
        FZ_ASSERT(memcmp(d, m->sha, 32) == 0);
        FZ_ASSERT(m->data[m->len] == 0);
        if (strcmp(m->name, B_MAGIC) == 0 || strcmp(m->name, B_MANIFEST) == 0 ||
            strcmp(m->name, B_MANIFEST_SIG) == 0)
            continue;
        if (f != NULL && memcmp(f->sha, m->sha, 32) == 0)
            continue;
        other += m->len + 256;
    }
    FZ_ASSERT(other <= BUNDLE_HOLD_OTHER_BYTES);
    bundle_release(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bmlist l;
    char err[256] = "";
    uint8_t *z;
    size_t zlen = 0;
    int rc;

    rc = bundle_manifest_files(&l, data, size, err, sizeof err);
    FZ_ASSERT(rc == 0 || rc == LDG_EBADINPUT);
    if (rc < 0)
        FZ_ASSERT(err[0] != '\0');
    else
        check_list(&l);
    z = make_bundle(rc == 0 ? &l : NULL, data, size, &zlen);
    if (z != NULL) {
        check_bundle(z, zlen);
        free(z);
    }
    if (rc == 0)
        bmlist_free(&l);
    return 0;
}
