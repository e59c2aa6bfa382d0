/*
 * policy.c — DIR/retention.json (policy/policy.h, docs/RETENTION.md).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "policy/policy.h"
#include "util/util.h"

int
ldg_retention_parse_bytes(const char *s, uint64_t *out)
{
    uint64_t n = 0, mul = 1;
    const char *p = s;

    if (s == NULL || *s < '0' || *s > '9')
        return LDG_EBADINPUT;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (n > (UINT64_MAX - 9) / 10)
            return LDG_EBADINPUT;
        n = n * 10 + (uint64_t)(*p - '0');
    }
    switch (*p) {
    case 'K':
        mul = (uint64_t)1 << 10;
        p++;
        break;
    case 'M':
        mul = (uint64_t)1 << 20;
        p++;
        break;
    case 'G':
        mul = (uint64_t)1 << 30;
        p++;
        break;
    case 'T':
        mul = (uint64_t)1 << 40;
        p++;
        break;
    default:
        break;
    }
    if (mul > 1 && strcmp(p, "iB") == 0)
        p += 2;
    else if (*p == 'B')
        p++;
    if (*p != '\0' || (n != 0 && mul > UINT64_MAX / n))
        return LDG_EBADINPUT;
    *out = n * mul;
    return 0;
}

static int
load_object(const char *path, const char *dir, json_t *j,
            struct ldg_retention_policy *p, char *err, size_t errcap)
{
    const char *k;
    json_t *v;

    json_object_foreach(j, k, v)
    {
        if (strcmp(k, "keep_days") && strcmp(k, "disk_budget") &&
            strcmp(k, "archive_dir") && strcmp(k, "archive_events"))
            return ldg_errf(
                err, errcap, LDG_EBADINPUT,
                "%s: unknown key \"%s\" (known: keep_days, disk_budget, "
                "archive_dir, archive_events)",
                path, k);
    }
    if ((v = json_object_get(j, "keep_days")) != NULL) {
        if (!json_is_integer(v) || json_integer_value(v) < 1 ||
            json_integer_value(v) > LDG_RETENTION_KEEP_DAYS_MAX)
            return ldg_errf(
                err, errcap, LDG_EBADINPUT,
                "%s: \"keep_days\": must be a whole number of days, 1 to "
                "%d",
                path, LDG_RETENTION_KEEP_DAYS_MAX);
        p->keep_days = (uint32_t)json_integer_value(v);
    }
    if ((v = json_object_get(j, "disk_budget")) != NULL) {
        int bad = 0;
        if (json_is_integer(v) && json_integer_value(v) > 0)
            p->disk_budget = (uint64_t)json_integer_value(v);
        else if (json_is_string(v))
            bad = ldg_retention_parse_bytes(json_string_value(v),
                                            &p->disk_budget) < 0 ||
                  p->disk_budget == 0;
        else
            bad = 1;
        if (bad)
            return ldg_errf(
                err, errcap, LDG_EBADINPUT,
                "%s: \"disk_budget\": must be a positive number of bytes, "
                "or a string like \"20G\" (K, M, G, T: 1024-based)",
                path);
    }
    if ((v = json_object_get(j, "archive_events")) != NULL) {
        if (!json_is_integer(v) || json_integer_value(v) < 1 ||
            json_integer_value(v) > 10000000)
            return ldg_errf(err, errcap, LDG_EBADINPUT,
                            "%s: \"archive_events\": must be a whole number of "
                            "events, 1 to 10000000",
                            path);
        p->archive_events = (uint64_t)json_integer_value(v);
    }
    if ((v = json_object_get(j, "archive_dir")) != NULL) {
        const char *s = json_string_value(v);
        int n;
        if (s == NULL || s[0] == '\0')
            return ldg_errf(err, errcap, LDG_EBADINPUT,
                            "%s: \"archive_dir\": must be a path", path);
        if (s[0] == '/')
            n = snprintf(p->archive_dir, sizeof p->archive_dir, "%s", s);
        else
            n = snprintf(p->archive_dir, sizeof p->archive_dir, "%s/%s", dir,
                         s);
        if (n < 0 || (size_t)n >= sizeof p->archive_dir)
            return ldg_errf(err, errcap, LDG_EBADINPUT,
                            "%s: \"archive_dir\": too long", path);
    }
    return 0;
}

int
ldg_retention_policy_load(const char *dir, struct ldg_retention_policy *p,
                          char *err, size_t errcap)
{
    char path[4200];
    json_error_t je;
    json_t *j;
    FILE *f;
    int rc;

    if (dir == NULL || p == NULL)
        return LDG_EINVAL;
    memset(p, 0, sizeof *p);
    p->keep_days = LDG_RETENTION_KEEP_DAYS_DEFAULT;
    p->archive_events = LDG_RETENTION_ARCHIVE_MAX;
    snprintf(p->archive_dir, sizeof p->archive_dir, "%s/%s", dir,
             LDG_RETENTION_ARCHIVE_DIR_DEFAULT);
    snprintf(path, sizeof path, "%s/%s", dir, LDG_RETENTION_FILE);
    if ((f = fopen(path, "rb")) == NULL) {
        if (errno == ENOENT)
            return 0;
        return ldg_errf(err, errcap, LDG_EIO, "%s: %s", path, strerror(errno));
    }
    {
        struct stat sb;
        if (fstat(fileno(f), &sb) == 0 && !S_ISREG(sb.st_mode)) {
            ldg_errf(err, errcap, 0, "%s: not a regular file (%s)", path,
                     S_ISDIR(sb.st_mode) ? "a directory" : "a special file");
            fclose(f);
            return LDG_EIO;
        }
    }
    j = json_loadf(f, JSON_REJECT_DUPLICATES, &je);
    fclose(f);
    if (j == NULL)
        return ldg_errf(err, errcap, LDG_EBADINPUT, "%s:%d:%d: %s", path,
                        je.line, je.column, je.text);
    if (!json_is_object(j)) {
        ldg_errf(err, errcap, 0, "%s: must be a JSON object", path);
        json_decref(j);
        return LDG_EBADINPUT;
    }
    rc = load_object(path, dir, j, p, err, errcap);
    json_decref(j);
    if (rc == 0)
        p->from_file = 1;
    return rc;
}
