/*
 * json.c — the JSON values every view writes the same way: a 64-bit
 * number (a sequence number, a log size, a time in ns) as a decimal
 * string, so that no reader's 53-bit doubles lose it (docs/OUTPUT.md), and
 * bytes as lowercase hex; a string member read without a NULL check; and a
 * configuration file that is one JSON object (retention.json, proxy.json).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "util/util.h"

json_t *
ldg_json_u64(uint64_t v)
{
    char b[24];
    snprintf(b, sizeof b, "%llu", (unsigned long long)v);
    return json_string(b);
}

json_t *
ldg_json_hex(const uint8_t *p, size_t n)
{
    char b[129];
    if (n > 64)
        return NULL;
    ldg_hex(b, p, n);
    return json_string(b);
}

const char *
ldg_json_str(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s != NULL ? s : "";
}

int
ldg_json_load_object(const char *path, json_t **out, char *err, size_t errcap)
{
    json_error_t je;
    struct stat sb;
    FILE *f = fopen(path, "rb");
    int e;

    *out = NULL;
    if (f == NULL) {
        e = errno;
        return ldg_errf(err, errcap, e == ENOENT ? LDG_ENOTFOUND : LDG_EIO,
                        "%s: %s", path, strerror(e));
    }
    /* a directory opens, then reads as an empty file */
    if (fstat(fileno(f), &sb) == 0 && !S_ISREG(sb.st_mode)) {
        fclose(f);
        return ldg_errf(err, errcap, LDG_EIO, "%s: not a regular file (%s)",
                        path,
                        S_ISDIR(sb.st_mode) ? "a directory" : "a special file");
    }
    *out = json_loadf(f, JSON_REJECT_DUPLICATES, &je);
    fclose(f);
    if (*out == NULL)
        return ldg_errf(err, errcap, LDG_EBADINPUT, "%s:%d:%d: %s", path,
                        je.line, je.column, je.text);
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return ldg_errf(err, errcap, LDG_EBADINPUT, "%s: must be a JSON object",
                        path);
    }
    return 0;
}

int
ldg_json_text_ok(const char *s)
{
    json_t *j = s != NULL ? json_string(s) : NULL;
    json_decref(j);
    return j != NULL;
}

void
ldg_utf8_trim(char *s)
{
    size_t n = strlen(s), i = n;
    unsigned lead;
    while (i > 0 && n - i < 3 && ((unsigned char)s[i - 1] & 0xC0) == 0x80)
        i--;
    if (i == 0 || (lead = (unsigned char)s[i - 1]) < 0xC0)
        return; /* ASCII, or continuation bytes without a lead: as is */
    if (n - (i - 1) < (lead >= 0xF0 ? 4u : lead >= 0xE0 ? 3u : 2u))
        s[i - 1] = '\0';
}

int
ldg_utf8_cut(const char *s, size_t max)
{
    size_t n;
    if (max > INT_MAX)
        max = INT_MAX;
    n = strnlen(s, max);
    /* s[n] a continuation byte: the cut is inside a character */
    for (int i = 0; i < 3 && n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80; i++)
        n--;
    return (int)n;
}
