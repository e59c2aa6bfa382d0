/*
 * model.c — model weights on disk: Ollama's store layout and hashing.
 *
 * Ollama keeps, under its models directory,
 *   manifests/<host>/<namespace>/<model>/<tag>   a JSON manifest
 *   blobs/sha256-<hex>                           content-addressed files
 * The manifest lists layers {mediaType, digest, size}; the weights are
 * the layer of mediaType "application/vnd.ollama.image.model". The digest
 * Ollama reports for a model (/api/tags) is the SHA-256 of the manifest,
 * not of the weights, so verifying a model checks both: the manifest
 * hashes to what was registered, and the blob hashes to the digest the
 * manifest names.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "ledger/ledger.h"
#include "sensors/sensors.h"
#include "ledger/module.h"
#include "util/util.h"

int
ldg_ollama_models_dir(char *buf, size_t cap)
{
    const char *e = getenv("OLLAMA_MODELS");
    const char *home = getenv("HOME");
    int n;
    if (e && *e)
        n = snprintf(buf, cap, "%s", e);
    else if (home && *home)
        n = snprintf(buf, cap, "%s/.ollama/models", home);
    else
        return LDG_EINVAL;
    return n < 0 || (size_t)n >= cap ? LDG_EINVAL : 0;
}

static int
safe_part(const char *p, size_t n)
{
    if (n == 0 || (n == 1 && p[0] == '.') ||
        (n == 2 && p[0] == '.' && p[1] == '.'))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (p[i] == '/' || p[i] == '\\' || (unsigned char)p[i] < 0x20)
            return 0;
    return 1;
}

int
ldg_digest_same(const char *a, const char *b)
{
    if (!a || !b)
        return 0;
    if (strncmp(a, "sha256:", 7) == 0)
        a += 7;
    if (strncmp(b, "sha256:", 7) == 0)
        b += 7;
    if (strlen(a) != 64 || strlen(b) != 64)
        return 0;
    for (int i = 0; i < 64; i++)
        if (!isxdigit((unsigned char)a[i]) ||
            tolower((unsigned char)a[i]) != tolower((unsigned char)b[i]))
            return 0;
    return 1;
}

/* Opens path for reading if it is a regular file: a FIFO or a device is
 * refused without waiting on it (O_NONBLOCK until fstat said what it is).
 * The fd with *st filled; or < 0 with err set (LDG_ENOTFOUND, *missing
 * set when nothing is there). */
static int
open_regular(const char *path, struct stat *st, int *missing, char *err,
             size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    *missing = 0;
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        *missing = e == ENOENT;
        return e == ENOENT ? LDG_ENOTFOUND : LDG_EIO;
    }
    if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        close(fd);
        return LDG_ENOTFOUND;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    return fd;
}

int
ldg_file_sha256(const char *path, char out[72], uint64_t *bytes,
                void (*progress)(void *ctx, uint64_t done, uint64_t total),
                void *progress_ctx, char *err, size_t errlen)
{
    struct stat st;
    uint8_t d[32];
    int missing, fd = open_regular(path, &st, &missing, err, errlen);
    if (fd < 0)
        return fd;
    int rc = ldg_sha256_fd(fd, d, bytes, (uint64_t)st.st_size, progress,
                           progress_ctx);
    close(fd);
    if (rc < 0) {
        snprintf(err, errlen, "%s: read error", path);
        return rc;
    }
    memcpy(out, "sha256:", 7);
    ldg_hex(out + 7, d, 32);
    LDG_ASSERT(strlen(out) == 71); /* "sha256:" and 64 hex digits */
    return 0;
}

int
ldg_ollama_resolve(const char *models_dir, const char *name,
                   struct ldg_ollama_model *out, char *err, size_t errlen)
{
    char host[256] = "registry.ollama.ai", ns[256] = "library", model[256],
         tag[256] = "latest";
    const char *slash = strrchr(name, '/');
    const char *colon = strrchr(slash ? slash : name, ':');
    const char *end = colon ? colon : name + strlen(name);
    const char *parts[3];
    size_t lens[3];
    int np = 0;
    const char *p = name;

    memset(out, 0, sizeof *out);
    if (colon) {
        if (!safe_part(colon + 1, strlen(colon + 1)) ||
            strlen(colon + 1) >= sizeof tag)
            goto badname;
        snprintf(tag, sizeof tag, "%s", colon + 1);
    }
    while (p < end) {
        const char *s = memchr(p, '/', (size_t)(end - p));
        size_t n = s ? (size_t)(s - p) : (size_t)(end - p);
        if (np == 3 || !safe_part(p, n) || n >= sizeof model)
            goto badname;
        parts[np] = p;
        lens[np++] = n;
        p += n + (s ? 1 : 0);
        if (s && p == end)
            goto badname; /* trailing slash */
    }
    if (np == 0)
        goto badname;
    snprintf(model, sizeof model, "%.*s", (int)lens[np - 1], parts[np - 1]);
    if (np >= 2)
        snprintf(ns, sizeof ns, "%.*s", (int)lens[np - 2], parts[np - 2]);
    if (np == 3)
        snprintf(host, sizeof host, "%.*s", (int)lens[0], parts[0]);
    if ((size_t)snprintf(out->manifest_path, sizeof out->manifest_path,
                         "%s/manifests/%s/%s/%s/%s", models_dir, host, ns,
                         model, tag) >= sizeof out->manifest_path)
        goto badname;

    /* The manifest, read once: its hash (the digest Ollama reports) and
     * its model layer come from the same bytes. Manifests are small; 1 MiB
     * is far beyond any, and a larger file is refused before it is read. */
    struct stat st;
    char *mb;
    uint8_t md[32];
    int missing,
        fd = open_regular(out->manifest_path, &st, &missing, err, errlen);
    if (missing)
        snprintf(err, errlen,
                 "model %s: no manifest at %s (is it pulled, and is "
                 "OLLAMA_MODELS right?)",
                 name, out->manifest_path);
    if (fd < 0)
        return fd;
    if (st.st_size > (1 << 20)) {
        close(fd);
        snprintf(err, errlen, "%s: manifest over 1 MiB", out->manifest_path);
        return LDG_EBADINPUT;
    }
    if ((mb = malloc((size_t)st.st_size + 1)) == NULL) {
        close(fd);
        snprintf(err, errlen, "%s: out of memory", out->manifest_path);
        return LDG_ENOMEM;
    }
    ssize_t got = read(fd, mb, (size_t)st.st_size + 1);
    close(fd);
    if (got < 0 || got > st.st_size) {
        snprintf(err, errlen, "%s: %s", out->manifest_path,
                 got < 0 ? strerror(errno) : "changed while read");
        free(mb);
        return LDG_EIO;
    }
    ldg_sha256(md, mb, (size_t)got);
    memcpy(out->manifest_digest, "sha256:", 7);
    ldg_hex(out->manifest_digest + 7, md, 32);
    json_error_t je;
    json_t *m = json_loadb(mb, (size_t)got, 0, &je);
    free(mb);
    if (!m) {
        snprintf(err, errlen, "%s:%d:%d: %s", out->manifest_path, je.line,
                 je.column, je.text);
        return LDG_EBADINPUT;
    }
    size_t i;
    json_t *layer, *found = NULL;
    json_array_foreach(json_object_get(m, "layers"), i, layer)
    {
        const char *mt = json_string_value(json_object_get(layer, "mediaType"));
        if (mt && strcmp(mt, "application/vnd.ollama.image.model") == 0)
            found = layer;
    }
    const char *ld = json_string_value(json_object_get(found, "digest"));
    if (!found || !ld) {
        snprintf(err, errlen,
                 "%s: no layer of mediaType "
                 "application/vnd.ollama.image.model",
                 out->manifest_path);
        json_decref(m);
        return found ? LDG_EBADINPUT : LDG_ENOTFOUND;
    }
    if (strncmp(ld, "sha256:", 7) != 0 || strlen(ld) != 71) {
        snprintf(err, errlen, "%s: layer digest '%.80s' is not sha256:<64 hex>",
                 out->manifest_path, ld);
        json_decref(m);
        return LDG_EBADINPUT;
    }
    for (int k = 7; k < 71; k++)
        if (!isxdigit((unsigned char)ld[k])) {
            snprintf(err, errlen, "%s: layer digest is not hex",
                     out->manifest_path);
            json_decref(m);
            return LDG_EBADINPUT;
        }
    snprintf(out->layer_digest, sizeof out->layer_digest, "%s", ld);
    json_int_t sz = json_integer_value(json_object_get(found, "size"));
    out->layer_size = sz > 0 ? (uint64_t)sz : 0;
    snprintf(out->blob_path, sizeof out->blob_path, "%s/blobs/sha256-%s",
             models_dir, ld + 7);
    json_decref(m);
    return 0;
badname:
    snprintf(err, errlen,
             "'%s' is not an Ollama model name (NAME[:TAG], "
             "NS/NAME[:TAG] or HOST/NS/NAME[:TAG])",
             name);
    return LDG_EBADINPUT;
}
