/*
 * assert.c — checking a reply against a case's assertions and the suite's
 * forbid patterns. The only file of evals/ that includes PCRE2.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcre2.h>

#include "evals/evals_int.h"
#include "ledger/ledger.h"
#include "util/util.h"

struct eval_re {
    pcre2_code *code;
};

struct eval_re *
eval_re_compile(const char *pattern, char *err, size_t errlen)
{
    int ec;
    PCRE2_SIZE off;
    pcre2_code *c =
        pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                      PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &ec, &off, NULL);
    if (c == NULL) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(ec, msg, sizeof msg);
        snprintf(err, errlen, "offset %zu: %s", (size_t)off, (char *)msg);
        return NULL;
    }
    struct eval_re *re = malloc(sizeof *re);
    if (re == NULL) {
        pcre2_code_free(c);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    re->code = c;
    return re;
}

/* 1 match, 0 no match, < 0 error (e.g. match limit). */
static int
eval_re_match(const struct eval_re *re, const char *s, size_t n)
{
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re->code, NULL);
    if (md == NULL)
        return LDG_ENOMEM;
    int rc = pcre2_match(re->code, (PCRE2_SPTR)s, n, 0, 0, md, NULL);
    pcre2_match_data_free(md);
    if (rc >= 0)
        return 1;
    if (rc == PCRE2_ERROR_NOMATCH)
        return 0;
    return LDG_EBADINPUT;
}

void
eval_re_free(struct eval_re *re)
{
    if (re == NULL)
        return;
    pcre2_code_free(re->code);
    free(re);
}

static void
trim(const char **s, size_t *n)
{
    while (*n > 0 && isspace((unsigned char)**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && isspace((unsigned char)(*s)[*n - 1]))
        (*n)--;
}

static int
mem_has(const char *h, size_t hn, const char *nd, size_t nn, int icase)
{
    if (nn == 0)
        return 1;
    for (size_t i = 0; i + nn <= hn; i++) {
        size_t k = 0;
        if (icase)
            while (k < nn && tolower((unsigned char)h[i + k]) ==
                                 tolower((unsigned char)nd[k]))
                k++;
        else
            while (k < nn && h[i + k] == nd[k])
                k++;
        if (k == nn)
            return 1;
    }
    return 0;
}

/* The value at a dotted path ("a.b.0"): object keys, or array indexes when
 * the node is an array. Borrowed; NULL if absent. */
static json_t *
at_path(json_t *j, const char *path)
{
    char seg[256];
    const char *p = path;
    while (j != NULL && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (n >= sizeof seg)
            return NULL;
        memcpy(seg, p, n);
        seg[n] = 0;
        if (json_is_array(j)) {
            char *e;
            unsigned long ix = strtoul(seg, &e, 10);
            if (n == 0 || *e)
                return NULL;
            j = json_array_get(j, ix);
        } else {
            j = json_object_get(j, seg);
        }
        p += n + (dot ? 1 : 0);
    }
    return j;
}

/* json_equal, except that numbers compare by value (1 == 1.0). */
static int
same_json(json_t *a, json_t *b)
{
    if (json_is_number(a) && json_is_number(b))
        return json_number_value(a) == json_number_value(b);
    return json_equal(a, b);
}

static int
check_one(const struct eval_assert *a, const char *r, size_t n, char *why,
          size_t wl)
{
    const char *t = r;
    size_t tn = n;
    json_t *j;
    int ok;

    switch (a->type) {
    case LDG_EA_EQUALS:
        trim(&t, &tn);
        if (tn == a->text_len && memcmp(t, a->text, tn) == 0)
            return 1;
        snprintf(why, wl, "equals: reply is not \"%.*s\"",
                 ldg_utf8_cut(a->text, 60), a->text);
        return 0;
    case LDG_EA_CONTAINS:
    case LDG_EA_ICONTAINS:
        if (mem_has(r, n, a->text, a->text_len, a->type == LDG_EA_ICONTAINS))
            return 1;
        snprintf(why, wl, "%s: \"%.*s\" not found",
                 a->type == LDG_EA_CONTAINS ? "contains" : "icontains",
                 ldg_utf8_cut(a->text, 60), a->text);
        return 0;
    case LDG_EA_NOT_CONTAINS:
        if (!mem_has(r, n, a->text, a->text_len, 0))
            return 1;
        snprintf(why, wl, "not-contains: \"%.*s\" found",
                 ldg_utf8_cut(a->text, 60), a->text);
        return 0;
    case LDG_EA_REGEX:
        ok = eval_re_match(a->re, r, n);
        if (ok == 1)
            return 1;
        snprintf(why, wl, "regex /%.*s/: %s", ldg_utf8_cut(a->text, 60),
                 a->text, ok == 0 ? "no match" : "match error");
        return 0;
    case LDG_EA_IS_JSON:
    case LDG_EA_JSON_PATH_EQUALS:
        trim(&t, &tn);
        j = json_loadb(t, tn, JSON_DECODE_ANY, NULL);
        if (j == NULL) {
            snprintf(why, wl, "%s: reply is not JSON",
                     a->type == LDG_EA_IS_JSON ? "is-json"
                                               : "json-path-equals");
            return 0;
        }
        if (a->type == LDG_EA_IS_JSON) {
            json_decref(j);
            return 1;
        }
        json_t *v = at_path(j, a->path);
        ok = v != NULL && same_json(v, a->want);
        if (!ok)
            snprintf(why, wl, "json-path-equals %.*s: %s",
                     ldg_utf8_cut(a->path, 60), a->path,
                     v ? "different value" : "no such path");
        json_decref(j);
        return ok;
    }
    return 0;
}

int
ldg_eval_check(const struct ldg_eval_suite *s, size_t i, const char *reply,
               size_t reply_len, char *why, size_t whylen)
{
    char w[200];
    if (s == NULL || i >= s->ncases || reply == NULL)
        return 0;
    const struct eval_case *c = &s->cases[i];
    for (size_t k = 0; k < c->na; k++) {
        if (!check_one(&c->a[k], reply, reply_len, w, sizeof w)) {
            if (why && whylen)
                snprintf(why, whylen, "assert[%zu] %s", k, w);
            return 0;
        }
    }
    if (why && whylen)
        why[0] = 0;
    return 1;
}

int
ldg_eval_forbidden(const struct ldg_eval_suite *s, const char *reply,
                   size_t reply_len, const char **which)
{
    for (size_t k = 0; s && k < s->nforbid; k++) {
        if (eval_re_match(s->forbid[k], reply, reply_len) == 1) {
            if (which)
                *which = s->forbid_src[k];
            return 1;
        }
    }
    return 0;
}
