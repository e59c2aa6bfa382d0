/*
 * helpers.h — shared by the tests of export/: throwaway ledgers, bundles
 * in memory, and a bundle editor that can re-sign the manifest with the
 * log key (to check that deeper checks hold even when the manifest is
 * made consistent again).
 *
 * Included by tests/export/test_*.c only; functions are static and marked
 * unused so each test takes what it needs.
 */
#ifndef LDG_TESTS_EXPORT_HELPERS_H
#define LDG_TESTS_EXPORT_HELPERS_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "export/export.h"
#include "export/export_int.h"
#include "ledger/module.h"
#include "util/util.h"
#include "projections/projections.h"

#define UNUSED __attribute__((unused))

/* A temporary directory, removed by rm_rf. */
UNUSED static char *
tmp_dir(void)
{
    const char *base = getenv("LEDGER_TEST_TMP");
    char *p = malloc(4096);
    snprintf(p, 4096, "%s/ldg-export-XXXXXX", base ? base : "/tmp");
    if (mkdtemp(p) == NULL) {
        fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
        abort();
    }
    return p;
}

UNUSED static void
rm_rf(const char *dir)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

/* A fresh format 1 ledger in dir/name (no fsync: tests only). The export
 * unit tests tamper with per-event signatures, so they pin format 1;
 * format 2 bundles have their own cases (test_verify.c, "format 2:
 * seals"), and the e2e export tests run on format 2, the default. */
UNUSED static struct ldg_ledger *
new_ledger(const char *dir, const char *name)
{
    struct ldg_options o;
    struct ldg_ledger *l = NULL;
    char path[4200], err[512];

    memset(&o, 0, sizeof o);
    o.flags = LDG_NOSYNC;
    o.format = 1;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (ldg_init(path, NULL, &o, err, sizeof err) < 0 ||
        ldg_open(&l, path, &o, err, sizeof err) < 0) {
        fprintf(stderr, "ledger %s: %s\n", path, err);
        abort();
    }
    if (ldg_projections_attach(l) < 0) {
        fprintf(stderr, "projections: %s\n", ldg_errmsg(l));
        abort();
    }
    return l;
}

UNUSED static struct ldg_ledger *
open_ledger(const char *path)
{
    struct ldg_options o;
    struct ldg_ledger *l = NULL;
    char err[512];

    memset(&o, 0, sizeof o);
    o.flags = LDG_NOSYNC;
    if (ldg_open(&l, path, &o, err, sizeof err) < 0) {
        fprintf(stderr, "ledger %s: %s\n", path, err);
        abort();
    }
    if (ldg_projections_attach(l) < 0) {
        fprintf(stderr, "projections: %s\n", ldg_errmsg(l));
        abort();
    }
    return l;
}

/* Appends one event (body is JSON text; actor NULL = log key). */
UNUSED static uint64_t
add(struct ldg_ledger *l, const char *type, const char *actor, const char *body)
{
    struct ldg_event_in in;
    json_error_t je;
    uint64_t seq = 0;
    int rc;

    memset(&in, 0, sizeof in);
    in.type = type;
    in.actor = actor;
    in.body = json_loads(body, 0, &je);
    if (in.body == NULL) {
        fprintf(stderr, "bad test body %s: %s\n", body, je.text);
        abort();
    }
    rc = ldg_append(l, &in, &seq);
    json_decref(in.body);
    if (rc < 0) {
        fprintf(stderr, "append %s: %s\n", type, ldg_errmsg(l));
        abort();
    }
    return seq;
}

/* A small pack-run history: two runs, one by actor "alice". Returns the
 * number of events. */
UNUSED static uint64_t
seed_history(struct ldg_ledger *l)
{
    uint64_t seq;
    if (ldg_keys_add(l, "alice", NULL, &seq) < 0)
        abort();
    add(l, "run.started", NULL,
        "{\"run\":\"R1\",\"pack\":\"pdf-ops\",\"requested_by\":"
        "\"bob@example.com\",\"intent\":\"extract tables\"}");
    add(l, "route.decision", "alice",
        "{\"route\":\"pdf-ops/extract\",\"chosen_model\":\"qwen\","
        "\"run\":\"R1\",\"latency_ms\":12.5,\"tokens_in\":100}");
    add(l, "run.started", NULL,
        "{\"run\":\"R2\",\"pack\":\"pdf-ops\",\"requested_by\":"
        "\"carol@example.com\"}");
    add(l, "run.step", "alice",
        "{\"run\":\"R1\",\"step\":\"ocr\",\"tool\":\"tesseract\","
        "\"status\":\"ok\",\"duration_ms\":300}");
    add(l, "run.finished", NULL,
        "{\"run\":\"R1\",\"status\":\"ok\",\"duration_ms\":900}");
    add(l, "run.finished", NULL, "{\"run\":\"R2\",\"status\":\"failed\"}");
    return ldg_size(l, &seq) == 0 ? seq : 0;
}

/* Exports into memory; returns the rc, *buf malloc'd. */
UNUSED static int
export_mem(struct ldg_ledger *l, const struct ldg_export_opts *o, uint8_t **buf,
           size_t *len, struct ldg_export_report *rep)
{
    FILE *f = tmpfile();
    long n;
    int rc;

    *buf = NULL;
    *len = 0;
    if (f == NULL)
        abort();
    rc = ldg_export_write_fd(l, o, fileno(f), rep);
    if (rc == 0) {
        n = lseek(fileno(f), 0, SEEK_END);
        *buf = malloc((size_t)n + 1);
        if (pread(fileno(f), *buf, (size_t)n, 0) != n)
            abort();
        *len = (size_t)n;
    }
    fclose(f);
    return rc;
}

/* Exports with the given terms (NULL-terminated, may be empty). */
UNUSED static int
export_terms(struct ldg_ledger *l, const char *const *terms, uint8_t **buf,
             size_t *len)
{
    struct ldg_export_opts o;
    int n = 0;
    memset(&o, 0, sizeof o);
    while (terms && terms[n])
        n++;
    o.nterms = n;
    o.terms = (char *const *)(uintptr_t)terms;
    return export_mem(l, &o, buf, len, NULL);
}

UNUSED static int
verify_mem(const uint8_t *buf, size_t len, const char *trusted,
           struct ldg_bundle_report *r)
{
    struct ldg_bundle_verify_opts o;
    memset(&o, 0, sizeof o);
    o.trusted_vkey = trusted;
    o.insecure_trust_bundle_key = trusted == NULL;
    o.threads = 2;
    return ldg_export_verify_mem(buf, len, &o, r);
}

UNUSED static enum ldg_check_status
status_of(const struct ldg_bundle_report *r, const char *name)
{
    for (size_t i = 0; i < r->nchecks; i++)
        if (strcmp(r->checks[i].name, name) == 0)
            return r->checks[i].status;
    return (enum ldg_check_status) - 1;
}

UNUSED static const char *
detail_of(const struct ldg_bundle_report *r, const char *name)
{
    for (size_t i = 0; i < r->nchecks; i++)
        if (strcmp(r->checks[i].name, name) == 0)
            return r->checks[i].detail;
    return "";
}

UNUSED static void
print_report(const struct ldg_bundle_report *r)
{
    for (size_t i = 0; i < r->nchecks; i++)
        fprintf(stderr, "  %s %s: %s\n",
                ldg_export_status_name(r->checks[i].status), r->checks[i].name,
                r->checks[i].detail);
}

/* Optionally saves a hostile archive as a corpus vector. */
UNUSED static void
save_vector(const char *name, const uint8_t *p, size_t n)
{
    const char *dir = getenv("LDG_EXPORT_WRITE_VECTORS");
    char path[4200];
    FILE *f;
    if (dir == NULL)
        return;
    snprintf(path, sizeof path, "%s/%s.bundle", dir, name);
    f = fopen(path, "wb");
    if (f == NULL)
        abort();
    if (fwrite(p, 1, n, f) != n)
        abort();
    fclose(f);
}

/* ------------------------------------------------------ bundle editor -- */

UNUSED static void
read_bundle(struct bundle *b, const uint8_t *buf, size_t len)
{
    char err[512];
    if (bundle_read_mem(b, buf, len, NULL, err, sizeof err) < 0) {
        fprintf(stderr, "read_bundle: %s\n", err);
        abort();
    }
}

UNUSED static int
cmp_member_name(const void *a, const void *b)
{
    const struct bmember *x = a, *y = b;
    return strcmp(x->name, y->name);
}

UNUSED static struct bmember *
member_get(struct bundle *b, const char *name)
{
    return (struct bmember *)(uintptr_t)bundle_get(b, name);
}

/* Replaces (or adds) member name with a copy of data. */
UNUSED static void
member_set(struct bundle *b, const char *name, const void *data, size_t len)
{
    struct bmember *m = member_get(b, name);
    if (m == NULL) {
        b->m = realloc(b->m, (b->n + 1) * sizeof *b->m);
        m = &b->m[b->n++];
        m->name = strdup(name);
        m->data = NULL;
    }
    free(m->data);
    m->data = malloc(len + 1);
    memcpy(m->data, data, len);
    m->data[len] = 0;
    m->len = len;
    qsort(b->m, b->n, sizeof *b->m, cmp_member_name);
}

UNUSED static void
member_del(struct bundle *b, const char *name)
{
    struct bmember *m = member_get(b, name);
    if (m == NULL)
        return;
    free(m->name);
    free(m->data);
    *m = b->m[--b->n];
    qsort(b->m, b->n, sizeof *b->m, cmp_member_name);
}

UNUSED static json_t *
member_json_get(struct bundle *b, const char *name)
{
    struct bmember *m = member_get(b, name);
    return m ? json_loadb((const char *)m->data, m->len, 0, NULL) : NULL;
}

UNUSED static void
member_json_set(struct bundle *b, const char *name, json_t *v)
{
    char *s = json_dumps(v, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    member_set(b, name, s, strlen(s));
    free(s);
    json_decref(v);
}

UNUSED static int
cmp_bm(const void *a, const void *b)
{
    const struct bmember *x = a, *y = b;
    if (strcmp(x->name, B_MAGIC) == 0)
        return -1;
    if (strcmp(y->name, B_MAGIC) == 0)
        return 1;
    return strcmp(x->name, y->name);
}

/* Writes the bundle back (magic first); b is re-sorted for bundle_get
 * afterwards. */
UNUSED static void
write_bundle(struct bundle *b, uint8_t **buf, size_t *len)
{
    struct bwriter *w;
    char err[256];
    FILE *f = tmpfile();
    long n;

    qsort(b->m, b->n, sizeof *b->m, cmp_bm);
    if (bwriter_new(&w, fileno(f), 3, 1, 0, NULL, err, sizeof err) < 0)
        abort();
    for (size_t i = 0; i < b->n; i++)
        if (bwriter_add(w, b->m[i].name, b->m[i].data, b->m[i].len) < 0)
            abort();
    if (bwriter_finish(w, NULL, NULL) < 0)
        abort();
    bwriter_free(w);
    n = lseek(fileno(f), 0, SEEK_END);
    *buf = malloc((size_t)n);
    if (pread(fileno(f), *buf, (size_t)n, 0) != n)
        abort();
    *len = (size_t)n;
    fclose(f);
    qsort(b->m, b->n, sizeof *b->m, cmp_member_name);
}

/* Recomputes the manifest's digests for every member and re-signs it with
 * l's log key: what an exporter holding the key (or a bug) could do. */
UNUSED static void
resign(struct bundle *b, struct ldg_ledger *l)
{
    json_t *m = member_json_get(b, B_MANIFEST), *files = json_object();
    json_t *sizes = json_object();
    char *s, *note, text[256], hex[65], dec[24];
    uint8_t d[32];

    for (size_t i = 0; i < b->n; i++) {
        if (strcmp(b->m[i].name, B_MANIFEST) == 0 ||
            strcmp(b->m[i].name, B_MANIFEST_SIG) == 0)
            continue;
        ldg_sha256(d, b->m[i].data, b->m[i].len);
        ldg_hex(hex, d, 32);
        json_object_set_new(files, b->m[i].name, json_string(hex));
        snprintf(dec, sizeof dec, "%zu", b->m[i].len);
        json_object_set_new(sizes, b->m[i].name, json_string(dec));
    }
    json_object_set_new(m, "files", files);
    json_object_set_new(m, "sizes", sizes);
    s = json_dumps(m, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    json_decref(m);
    member_set(b, B_MANIFEST, s, strlen(s));
    ldg_sha256(d, s, strlen(s));
    ldg_hex(hex, d, 32);
    free(s);
    snprintf(text, sizeof text, "%s\n%s\n", B_SIG_PURPOSE, hex);
    if (ldg_log_sign_note(l, text, strlen(text), &note) < 0)
        abort();
    member_set(b, B_MANIFEST_SIG, note, strlen(note));
    free(note);
}

/* ------------------------------------------- RFC 6962, transcribed -- */

/* MTH(D[lo:hi]) over leaf hashes, straight from RFC 6962 section 2.1. */
UNUSED static void
naive_root(uint8_t out[32], const uint8_t (*leaves)[32], uint64_t lo,
           uint64_t hi)
{
    uint64_t n = hi - lo, k = 1;
    uint8_t buf[65];
    if (n == 1) {
        memcpy(out, leaves[lo], 32);
        return;
    }
    while (k * 2 < n)
        k *= 2;
    buf[0] = 1;
    naive_root(buf + 1, leaves, lo, lo + k);
    naive_root(buf + 33, leaves, lo + k, hi);
    ldg_sha256(out, buf, 65);
}

/* PATH(m, D[lo:hi]) into proof; returns its length. */
UNUSED static size_t
naive_path(uint8_t (*proof)[32], const uint8_t (*leaves)[32], uint64_t m,
           uint64_t lo, uint64_t hi)
{
    uint64_t n = hi - lo, k = 1;
    size_t len;
    if (n == 1)
        return 0;
    while (k * 2 < n)
        k *= 2;
    if (m < k) {
        len = naive_path(proof, leaves, m, lo, lo + k);
        naive_root(proof[len], leaves, lo + k, hi);
    } else {
        len = naive_path(proof, leaves, m - k, lo + k, hi);
        naive_root(proof[len], leaves, lo, lo + k);
    }
    return len + 1;
}

UNUSED static void
leaf_of(uint8_t out[32], const uint8_t *entry, size_t len)
{
    uint8_t *buf = malloc(len + 1);
    buf[0] = 0;
    memcpy(buf + 1, entry, len);
    ldg_sha256(out, buf, len + 1);
    free(buf);
}

/* tlog-proof@v1 text (malloc'd) for index against a signed checkpoint. */
UNUSED static char *
proof_text(uint64_t index, const uint8_t (*proof)[32], size_t n,
           const char *checkpoint)
{
    size_t cap = 64 + n * 46 + strlen(checkpoint) + 2, len;
    char *s = malloc(cap);
    len = (size_t)snprintf(s, cap, "c2sp.org/tlog-proof@v1\nindex %llu\n",
                           (unsigned long long)index);
    for (size_t i = 0; i < n; i++) {
        ldg_base64(s + len, proof[i], 32);
        len += 44;
        s[len++] = '\n';
    }
    s[len++] = '\n';
    memcpy(s + len, checkpoint, strlen(checkpoint) + 1);
    return s;
}

#endif
