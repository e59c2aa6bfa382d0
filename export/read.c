/*
 * read.c — a bundle's contents for readers on the receiving side
 * (`ledger timeline|query|doctor --bundle FILE`): verified first, in full,
 * then handed out.
 *
 * The file is read into memory once (bounded); the same bytes are
 * verified (ldg_export_verify_mem: every check verify-bundle makes) and
 * then parsed, so what is shown is exactly what was verified — the file
 * changing in between changes nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "export/export_int.h"
#include "export/verify_int.h"
#include "util/util.h"

static json_t *
load_json(const struct bundle *b, const char *name)
{
    const struct bmember *m = bundle_get(b, name);
    return m != NULL ? json_loadb((const char *)m->data, m->len, 0, NULL)
                     : NULL;
}

/* events.jsonl as an array (it verified: one object a line). */
static json_t *
load_events(const struct bundle *b)
{
    const struct bmember *m = bundle_get(b, B_EVENTS);
    json_t *arr = json_array();
    const char *p, *end;

    if (m == NULL || arr == NULL)
        return arr;
    p = (const char *)m->data;
    end = p + m->len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        json_t *e;
        if (nl == NULL)
            nl = end;
        if (nl > p) {
            e = json_loadb(p, (size_t)(nl - p), 0, NULL);
            if (e == NULL || json_array_append_new(arr, e) < 0) {
                json_decref(arr);
                return NULL;
            }
        }
        p = nl + 1;
    }
    return arr;
}

/* The whole file at path, at most max bytes, into *out (malloc'd, never
 * NULL on success). A file that is not regular (a pipe, a device) is
 * copied first, as verify-bundle copies it (bundle_spool): the same bound,
 * the same refusals, memory the file's size. On failure *e is the errno
 * and *opened 0 when the file could not be opened (missing, a directory,
 * no permission), 1 when it could but not be read; err says why when
 * the bound or the gate refused it. */
static int
read_file(const char *path, uint64_t max, uint8_t **out, size_t *len, int *e,
          int *opened, char *err, size_t errcap)
{
    struct stat st;
    struct ldg_buf b;
    int rc = 0, fd = open(path, O_RDONLY | O_CLOEXEC);
    size_t ceil = max < (uint64_t)SIZE_MAX - 1 ? (size_t)max : SIZE_MAX - 1;

    *out = NULL;
    *len = 0;
    *e = 0;
    *opened = 0;
    err[0] = '\0';
    if (fd < 0) {
        *e = errno;
        return *e == ENOENT || *e == ENOTDIR ? LDG_ENOTFOUND : LDG_EIO;
    }
    if (fstat(fd, &st) != 0) {
        *e = errno;
        close(fd);
        return LDG_EIO;
    }
    if (S_ISDIR(st.st_mode)) { /* no input there, as a missing file */
        close(fd);
        *e = EISDIR;
        return LDG_ENOTFOUND;
    }
    *opened = 1;
    /* verify-bundle's gate and bound, in its words */
    if ((rc = bundle_gate_fd(fd, max, err, errcap)) < 0) {
        close(fd);
        return rc;
    }
    if (!S_ISREG(st.st_mode)) {
        int t;
        rc = bundle_spool(fd, max, &t, err, errcap);
        close(fd);
        if (rc < 0)
            return rc;
        fd = t;
        if (fstat(fd, &st) != 0) {
            *e = errno;
            close(fd);
            return LDG_EIO;
        }
    }
    ldg_buf_init(&b, ceil ? ceil : 1);
    /* its size at once; room for the NUL even if empty */
    (void)ldg_buf_room(&b, (size_t)st.st_size);
    while (rc == 0) {
        size_t want =
            ceil - b.len < ((size_t)1 << 16) ? ceil - b.len : (size_t)1 << 16;
        uint8_t *o, one;
        ssize_t got;
        if (want == 0) { /* at the limit: is there more? */
            got = read(fd, &one, 1);
            if (got < 0 && errno == EINTR)
                continue;
            if (got < 0)
                *e = errno;
            rc = got < 0 ? LDG_EIO : got > 0 ? LDG_ETOOBIG : 1;
            break;
        }
        if ((o = ldg_buf_room(&b, want)) == NULL) {
            rc = b.err;
            break;
        }
        got = read(fd, o, want);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            *e = errno;
            rc = LDG_EIO;
        } else if (got == 0)
            rc = 1; /* the end */
        else
            b.len += (size_t)got;
    }
    close(fd);
    if (rc == 1 && (*out = (uint8_t *)ldg_buf_detach(&b, len)) != NULL)
        return 0;
    ldg_buf_release(&b);
    if (rc == LDG_ETOOBIG) /* (a file that grew while it was read) */
        snprintf(err, errcap,
                 "the bundle is larger than the limit of %llu bytes "
                 "(--max-bytes)",
                 (unsigned long long)max);
    return rc == 1 ? LDG_ENOMEM : rc;
}

int
ldg_export_read(struct ldg_bundle_contents **out, const char *path,
                const struct ldg_bundle_verify_opts *opts,
                struct ldg_bundle_report *report)
{
    struct ldg_bundle_limits lim;
    struct ldg_bundle_contents *c = NULL;
    struct bundle b;
    uint8_t *buf = NULL;
    size_t len = 0;
    char err[512];
    int rc, e, opened;

    if (out == NULL || path == NULL || report == NULL)
        return LDG_EINVAL;
    *out = NULL;
    memset(report, 0, sizeof *report);
    memset(&b, 0, sizeof b);
    bundle_limits_fill(&lim, opts ? &opts->limits : NULL);
    rc = read_file(path, lim.total_bytes, &buf, &len, &e, &opened, err,
                   sizeof err);
    if (rc < 0) {
        /* in ldg_export_verify's words: "cannot open" a file that is not
         * there (or a directory), "cannot read" one that is, and the
         * gate's and the bound's own */
        report->nchecks = 1;
        report->checks[0].name = "archive";
        report->checks[0].status = LDG_CHECK_FAIL;
        if (err[0] != '\0')
            snprintf(report->checks[0].detail, sizeof report->checks[0].detail,
                     "%s", err);
        else
            snprintf(report->checks[0].detail, sizeof report->checks[0].detail,
                     "cannot %s %s: %s", opened ? "read" : "open", path,
                     rc == LDG_ENOMEM ? strerror(ENOMEM)
                                      : strerror(e ? e : EIO));
        return rc;
    }
    /* every check verify-bundle makes, on these bytes */
    rc = ldg_export_verify_mem(buf, len, opts, report);
    if (rc < 0)
        goto out;
    rc = bundle_read_mem(&b, buf, len, &lim, err, sizeof err);
    if (rc < 0)
        goto out;
    c = calloc(1, sizeof *c);
    if (c == NULL) {
        rc = LDG_ENOMEM;
        goto out;
    }
    c->events = load_events(&b);
    c->state = load_json(&b, B_STATE);
    c->timeline = load_json(&b, B_TIMELINE);
    c->checkpoint_size = report->checkpoint_size;
    snprintf(c->origin, sizeof c->origin, "%s", report->origin);
    if (c->events == NULL || (bundle_get(&b, B_STATE) && c->state == NULL) ||
        (bundle_get(&b, B_TIMELINE) && c->timeline == NULL)) {
        rc = LDG_ENOMEM;
        goto out;
    }
    *out = c;
    c = NULL;
    rc = 0;
out:
    ldg_export_contents_free(c);
    bundle_release(&b);
    free(buf);
    return rc;
}

void
ldg_export_contents_free(struct ldg_bundle_contents *c)
{
    if (c == NULL)
        return;
    json_decref(c->events);
    json_decref(c->state);
    json_decref(c->timeline);
    free(c);
}

int
ldg_export_each(const char *path, const struct ldg_bundle_verify_opts *opts,
                struct ldg_bundle_report *report,
                int (*fn)(void *ctx, json_t *event), void *ctx,
                struct ldg_bundle_contents **out)
{
    static const struct ldg_bundle_verify_opts none;
    struct ldg_bundle_contents *c = NULL;
    int fd, rc;

    if (path == NULL || report == NULL)
        return LDG_EINVAL;
    if (out != NULL)
        *out = NULL;
    if (opts == NULL)
        opts = &none;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0 && ldg_segment_sniff(fd) == 1) {
        rc = bv_segment_each(fd, opts, report, fn, ctx, out);
        close(fd);
        return rc;
    }
    if (fd >= 0)
        close(fd);
    if ((rc = ldg_export_read(&c, path, opts, report)) < 0)
        return rc;
    for (size_t i = 0; fn != NULL && i < json_array_size(c->events); i++)
        if ((rc = fn(ctx, json_array_get(c->events, i))) != 0)
            break;
    if (rc == 0 && out != NULL)
        *out = c;
    else
        ldg_export_contents_free(c);
    return rc;
}
