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

static int
read_file(const char *path, uint64_t max, uint8_t **out, size_t *len)
{
    struct stat st;
    uint8_t *buf = NULL;
    size_t n = 0, cap;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    *out = NULL;
    *len = 0;
    if (fd < 0)
        return errno == ENOENT || errno == ENOTDIR ? LDG_ENOTFOUND : LDG_EIO;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return LDG_EIO;
    }
    /* compressed bytes are never more than the decompressed bound */
    if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > max) {
        close(fd);
        return LDG_ETOOBIG;
    }
    cap = S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : 1 << 16;
    buf = malloc(cap);
    while (buf != NULL) {
        ssize_t got;
        if (n == cap) {
            uint8_t *nb;
            if ((uint64_t)cap * 2 > max + 1) {
                free(buf);
                close(fd);
                return LDG_ETOOBIG;
            }
            nb = realloc(buf, cap * 2);
            if (nb == NULL)
                break;
            buf = nb;
            cap *= 2;
        }
        got = read(fd, buf + n, cap - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            free(buf);
            close(fd);
            return LDG_EIO;
        }
        if (got == 0) {
            close(fd);
            *out = buf;
            *len = n;
            return 0;
        }
        n += (size_t)got;
    }
    free(buf);
    close(fd);
    return LDG_ENOMEM;
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
    int rc;

    if (out == NULL || path == NULL || report == NULL)
        return LDG_EINVAL;
    *out = NULL;
    memset(report, 0, sizeof *report);
    memset(&b, 0, sizeof b);
    bundle_limits_fill(&lim, opts ? &opts->limits : NULL);
    rc = read_file(path, lim.total_bytes, &buf, &len);
    if (rc < 0) {
        report->nchecks = 1;
        report->checks[0].name = "archive";
        report->checks[0].status = LDG_CHECK_FAIL;
        snprintf(report->checks[0].detail, sizeof report->checks[0].detail,
                 "cannot read %s: %s", path,
                 rc == LDG_ETOOBIG ? "larger than the limit"
                                   : strerror(errno ? errno : EIO));
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
