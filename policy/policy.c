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
    json_t *j;
    int rc;

    if (dir == NULL || p == NULL)
        return LDG_EINVAL;
    memset(p, 0, sizeof *p);
    p->keep_days = LDG_RETENTION_KEEP_DAYS_DEFAULT;
    p->archive_events = LDG_RETENTION_ARCHIVE_MAX;
    snprintf(p->archive_dir, sizeof p->archive_dir, "%s/%s", dir,
             LDG_RETENTION_ARCHIVE_DIR_DEFAULT);
    snprintf(path, sizeof path, "%s/%s", dir, LDG_RETENTION_FILE);
    rc = ldg_json_load_object(path, &j, err, errcap);
    if (rc == LDG_ENOTFOUND)
        return 0; /* no file: the defaults */
    if (rc < 0)
        return rc;
    rc = load_object(path, dir, j, p, err, errcap);
    json_decref(j);
    if (rc == 0)
        p->from_file = 1;
    return rc;
}
