/*
 * manifest.c — the manifest's member list ("files": name -> SHA-256, and
 * "sizes": name -> bytes), as the bundle reader needs it before it holds
 * any member in memory.
 *
 * The reader (archive.c) finds manifest.json first, decodes its "files"
 * object with bundle_manifest_files, refuses to read a listed member whose
 * size is not the declared one, then streams every listed member
 * through SHA-256 and holds only the members whose digest matches (plus a
 * small budget of the others, so the checks can still name them). The
 * manifest is outside input: this decoder is fuzzed (tests/fuzz/
 * fuzz_manifest.c). Everything else in the manifest is checked by
 * verify.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export/export_int.h"
#include "ledger/module.h"
#include "util/util.h"

static int
cmp_bmfile(const void *a, const void *b)
{
    const struct bmfile *x = a, *y = b;
    return strcmp(x->name, y->name);
}

void
bmlist_free(struct bmlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->f[i].name);
    free(l->f);
    memset(l, 0, sizeof *l);
}

/* "sizes" (optional: bundles written before it existed have none): a
 * decimal string per member "files" lists, and for every one of them. */
static int
manifest_sizes(struct bmlist *out, json_t *sizes, char *err, size_t errcap)
{
    const char *name;
    json_t *val;

    if (sizes == NULL)
        return 0;
    if (!json_is_object(sizes)) {
        snprintf(err, errcap, "%s",
                 "manifest.json: \"sizes\" is not an object of member "
                 "sizes");
        return LDG_EBADINPUT;
    }
    json_object_foreach(sizes, name, val)
    {
        const char *dec = json_string_value(val);
        struct bmfile *f = bmlist_find(out, name);
        uint64_t n;
        if (dec == NULL ||
            ldg_parse_u64(dec, strlen(dec), LDG_DEC_CANONICAL, &n) != 0) {
            snprintf(err, errcap,
                     "manifest.json: sizes.%.80s is not a decimal string",
                     name);
            return LDG_EBADINPUT;
        }
        if (f == NULL) {
            snprintf(err, errcap,
                     "manifest.json: sizes.%.80s names a member \"files\" "
                     "does not list",
                     name);
            return LDG_EBADINPUT;
        }
        f->has_size = 1;
        f->declared = n;
    }
    for (size_t i = 0; i < out->n; i++)
        if (!out->f[i].has_size) {
            snprintf(err, errcap,
                     "manifest.json: files lists %.80s but sizes does not",
                     out->f[i].name);
            return LDG_EBADINPUT;
        }
    return 0;
}

int
bundle_manifest_files(struct bmlist *out, const void *p, size_t len, char *err,
                      size_t errcap)
{
    json_error_t je;
    json_t *j, *files, *val;
    const char *name;
    size_t n = 0;
    int rc = LDG_EBADINPUT;

    memset(out, 0, sizeof *out);
    if (p == NULL && len > 0)
        return LDG_EINVAL;
    j = json_loadb(p ? p : "", len, JSON_REJECT_DUPLICATES, &je);
    if (j == NULL) {
        snprintf(err, errcap,
                 "manifest.json is not JSON (line %d, column %d: %s)", je.line,
                 je.column, je.text);
        return LDG_EBADINPUT;
    }
    files = json_object_get(j, "files");
    if (!json_is_object(j) || !json_is_object(files)) {
        snprintf(err, errcap, "%s",
                 "manifest.json has no \"files\" object listing its members");
        goto out;
    }
    out->f = calloc(json_object_size(files) ? json_object_size(files) : 1,
                    sizeof *out->f);
    if (out->f == NULL) {
        rc = LDG_ENOMEM;
        goto out;
    }
    json_object_foreach(files, name, val)
    {
        const char *hex = json_string_value(val);
        struct bmfile *f = &out->f[n];
        if (hex == NULL || json_string_length(val) != 64 || strlen(name) == 0 ||
            ldg_unhex(f->sha, 32, hex) != 0) {
            snprintf(err, errcap,
                     "manifest.json: files.%.80s is not a 64-digit hex "
                     "SHA-256",
                     name);
            goto out;
        }
        /* lowercase only, as the writer writes it */
        for (size_t i = 0; i < 64; i++)
            if (hex[i] >= 'A' && hex[i] <= 'F') {
                snprintf(err, errcap,
                         "manifest.json: files.%.80s is not lowercase hex",
                         name);
                goto out;
            }
        f->name = strdup(name);
        if (f->name == NULL) {
            rc = LDG_ENOMEM;
            goto out;
        }
        n++;
        out->n = n;
    }
    qsort(out->f, out->n, sizeof *out->f, cmp_bmfile);
    if ((rc = manifest_sizes(out, json_object_get(j, "sizes"), err, errcap)) <
        0)
        goto out;
    rc = 0;
out:
    json_decref(j);
    if (rc < 0)
        bmlist_free(out);
    return rc;
}

static int
name_cmp(const void *name, const void *f)
{
    return strcmp(name, ((const struct bmfile *)f)->name);
}

struct bmfile *
bmlist_find(const struct bmlist *l, const char *name)
{
    return l->n ? bsearch(name, l->f, l->n, sizeof *l->f, name_cmp) : NULL;
}
