/*
 * suite.c — reading an eval suite (JSON Lines; see evals.h and
 * docs/EVALS.md). Strict: every field is known and typed, every error
 * names FILE:LINE:COLUMN and the field. Nothing is kept from a suite that
 * fails to parse.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "evals/evals_int.h"
#include "ledger/ledger.h"
#include "ledger/module.h"
#include "util/util.h"

struct pctx {
    const char *name;
    unsigned line;
    const char *text; /* the line */
    size_t len;
    char *err;
    size_t errlen;
};

/* Column of "key" in the line (1-based), or 1: where to point for a field
 * error. A guess for nested keys (the first occurrence), exact for most. */
static unsigned
col_of(const struct pctx *p, const char *key)
{
    char pat[80];
    int n = snprintf(pat, sizeof pat, "\"%s\"", key);
    if (n <= 0 || (size_t)n >= sizeof pat)
        return 1;
    for (size_t i = 0; i + (size_t)n <= p->len; i++)
        if (memcmp(p->text + i, pat, (size_t)n) == 0)
            return (unsigned)i + 1;
    return 1;
}

static int
ferr(const struct pctx *p, const char *key, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(p->err, p->errlen, "%s:%u:%u: %s", p->name, p->line,
             key ? col_of(p, key) : 1, msg);
    return LDG_EBADINPUT;
}

static const char *const type_names[] = {
    "equals", "contains", "icontains",       "not-contains",
    "regex",  "is-json",  "json-path-equals"};

/* Threshold metric names accepted; 1 if name is one. */
static int
eval_metric_known(const char *m)
{
    return strcmp(m, "pass_rate") == 0 || strcmp(m, "latency_p50_ms") == 0 ||
           strcmp(m, "latency_p95_ms") == 0 ||
           strcmp(m, "policy_violations") == 0 ||
           strcmp(m, "cases_passed") == 0;
}

static int
only_keys(const struct pctx *p, json_t *o, const char *where,
          const char *const *allowed)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        int ok = 0;
        for (const char *const *a = allowed; *a; a++)
            ok |= strcmp(*a, k) == 0;
        if (!ok)
            return ferr(p, k, "field '%s%s': unknown field", where, k);
    }
    return 0;
}

static int
parse_header(struct ldg_eval_suite *s, const struct pctx *p, json_t *h)
{
    static const char *const keys[] = {"name",   "version",     "threshold",
                                       "forbid", "description", NULL};
    static const char *const tkeys[] = {"metric", "op", "value", NULL};
    int rc;
    if (!json_is_object(h))
        return ferr(p, "suite", "field 'suite': must be an object");
    if ((rc = only_keys(p, h, "suite.", keys)) < 0)
        return rc;
    json_t *name = json_object_get(h, "name");
    if (!json_is_string(name) || json_string_length(name) == 0)
        return ferr(p, "name", "field 'suite.name': required string");
    json_t *ver = json_object_get(h, "version");
    if (ver && !json_is_string(ver))
        return ferr(p, "version", "field 'suite.version': must be a string");
    json_t *d = json_object_get(h, "description");
    if (d && !json_is_string(d))
        return ferr(p, "description",
                    "field 'suite.description': must be a string");
    s->name = strdup(json_string_value(name));
    s->version = ver ? strdup(json_string_value(ver)) : NULL;
    if (!s->name || (ver && !s->version))
        return LDG_ENOMEM;
    json_t *th = json_object_get(h, "threshold");
    if (th) {
        if (!json_is_object(th))
            return ferr(p, "threshold",
                        "field 'suite.threshold': must be an object");
        if ((rc = only_keys(p, th, "suite.threshold.", tkeys)) < 0)
            return rc;
        json_t *m = json_object_get(th, "metric");
        json_t *op = json_object_get(th, "op");
        json_t *v = json_object_get(th, "value");
        if (!json_is_string(m) || !eval_metric_known(json_string_value(m)))
            return ferr(p, "metric",
                        "field 'suite.threshold.metric': one of pass_rate, "
                        "latency_p50_ms, latency_p95_ms, policy_violations, "
                        "cases_passed");
        const char *o = json_string_value(op);
        if (!o || (strcmp(o, ">=") && strcmp(o, ">") && strcmp(o, "<=") &&
                   strcmp(o, "<") && strcmp(o, "==")))
            return ferr(p, "op",
                        "field 'suite.threshold.op': one of >= > <= < ==");
        if (!json_is_number(v))
            return ferr(p, "value",
                        "field 'suite.threshold.value': must be a number");
        s->threshold = json_deep_copy(th);
        if (!s->threshold)
            return LDG_ENOMEM;
    }
    json_t *fb = json_object_get(h, "forbid");
    if (fb) {
        if (!json_is_array(fb))
            return ferr(p, "forbid",
                        "field 'suite.forbid': must be an array of regexes");
        size_t n = json_array_size(fb);
        s->forbid = calloc(n ? n : 1, sizeof *s->forbid);
        s->forbid_src = calloc(n ? n : 1, sizeof *s->forbid_src);
        if (!s->forbid || !s->forbid_src)
            return LDG_ENOMEM;
        for (size_t i = 0; i < n; i++) {
            json_t *r = json_array_get(fb, i);
            char e[200];
            if (!json_is_string(r))
                return ferr(p, "forbid",
                            "field 'suite.forbid[%zu]': must be "
                            "a string",
                            i);
            s->forbid[i] = eval_re_compile(json_string_value(r), e, sizeof e);
            if (!s->forbid[i])
                return ferr(p, "forbid",
                            "field 'suite.forbid[%zu]': bad regex: %s", i, e);
            s->forbid_src[i] = strdup(json_string_value(r));
            s->nforbid = i + 1;
            if (!s->forbid_src[i])
                return LDG_ENOMEM;
        }
    }
    return 0;
}

static int
parse_assert(struct eval_assert *a, const struct pctx *p, json_t *o, size_t k)
{
    static const char *const keys[] = {"type", "value", NULL};
    char where[32];
    int rc;
    snprintf(where, sizeof where, "assert[%zu].", k);
    if (!json_is_object(o))
        return ferr(p, "assert", "field 'assert[%zu]': must be an object", k);
    if ((rc = only_keys(p, o, where, keys)) < 0)
        return rc;
    json_t *t = json_object_get(o, "type");
    json_t *v = json_object_get(o, "value");
    if (!json_is_string(t))
        return ferr(p, "type", "field 'assert[%zu].type': required string", k);
    size_t ti = 0;
    while (ti < sizeof type_names / sizeof *type_names &&
           strcmp(type_names[ti], json_string_value(t)) != 0)
        ti++;
    if (ti == sizeof type_names / sizeof *type_names)
        return ferr(p, "type",
                    "field 'assert[%zu].type': unknown type '%s' (equals, "
                    "contains, icontains, not-contains, regex, is-json, "
                    "json-path-equals)",
                    k, json_string_value(t));
    a->type = (enum ldg_eval_assert_type)ti;
    if (a->type == LDG_EA_IS_JSON) {
        if (v)
            return ferr(p, "value",
                        "field 'assert[%zu].value': is-json takes no value", k);
        return 0;
    }
    if (a->type == LDG_EA_JSON_PATH_EQUALS) {
        static const char *const vkeys[] = {"path", "value", NULL};
        char w2[48];
        snprintf(w2, sizeof w2, "assert[%zu].value.", k);
        if (!json_is_object(v))
            return ferr(p, "value",
                        "field 'assert[%zu].value': json-path-equals takes "
                        "{\"path\": \"a.b\", \"value\": …}",
                        k);
        if ((rc = only_keys(p, v, w2, vkeys)) < 0)
            return rc;
        json_t *path = json_object_get(v, "path");
        json_t *want = json_object_get(v, "value");
        if (!json_is_string(path) || json_string_length(path) == 0)
            return ferr(p, "path",
                        "field 'assert[%zu].value.path': required string", k);
        if (!want)
            return ferr(p, "value", "field 'assert[%zu].value.value': required",
                        k);
        a->path = strdup(json_string_value(path));
        a->want = json_incref(want);
        return a->path ? 0 : LDG_ENOMEM;
    }
    if (!json_is_string(v))
        return ferr(p, "value", "field 'assert[%zu].value': %s takes a string",
                    k, type_names[ti]);
    a->text_len = json_string_length(v);
    a->text = malloc(a->text_len + 1);
    if (!a->text)
        return LDG_ENOMEM;
    memcpy(a->text, json_string_value(v), a->text_len + 1);
    if (a->type == LDG_EA_REGEX) {
        char e[200];
        a->re = eval_re_compile(a->text, e, sizeof e);
        if (!a->re)
            return ferr(p, "value", "field 'assert[%zu].value': bad regex: %s",
                        k, e);
    }
    return 0;
}

static int
parse_case(struct eval_case *c, const struct pctx *p, json_t *o)
{
    static const char *const keys[] = {"id",     "prompt",      "messages",
                                       "assert", "description", NULL};
    int rc;
    if ((rc = only_keys(p, o, "", keys)) < 0)
        return rc;
    json_t *id = json_object_get(o, "id");
    if (!json_is_string(id) || json_string_length(id) == 0)
        return ferr(p, "id", "field 'id': required string");
    json_t *prompt = json_object_get(o, "prompt");
    json_t *msgs = json_object_get(o, "messages");
    if ((prompt != NULL) == (msgs != NULL))
        return ferr(p, prompt ? "messages" : NULL,
                    "case '%s': exactly one of 'prompt' and 'messages'",
                    json_string_value(id));
    if (prompt) {
        if (!json_is_string(prompt))
            return ferr(p, "prompt", "field 'prompt': must be a string");
        c->messages =
            json_pack("[{s:s, s:O}]", "role", "user", "content", prompt);
    } else {
        if (!json_is_array(msgs) || json_array_size(msgs) == 0)
            return ferr(p, "messages", "field 'messages': a non-empty array");
        for (size_t i = 0; i < json_array_size(msgs); i++) {
            static const char *const mkeys[] = {"role", "content", NULL};
            json_t *m = json_array_get(msgs, i);
            char w[32];
            snprintf(w, sizeof w, "messages[%zu].", i);
            if (!json_is_object(m))
                return ferr(p, "messages",
                            "field 'messages[%zu]': must be an object", i);
            if ((rc = only_keys(p, m, w, mkeys)) < 0)
                return rc;
            const char *role = json_string_value(json_object_get(m, "role"));
            if (!role || (strcmp(role, "system") && strcmp(role, "user") &&
                          strcmp(role, "assistant")))
                return ferr(p, "role",
                            "field 'messages[%zu].role': system, user or "
                            "assistant",
                            i);
            if (!json_is_string(json_object_get(m, "content")))
                return ferr(p, "content",
                            "field 'messages[%zu].content': required string",
                            i);
        }
        c->messages = json_deep_copy(msgs);
    }
    json_t *d = json_object_get(o, "description");
    if (d && !json_is_string(d))
        return ferr(p, "description", "field 'description': must be a string");
    c->id = strdup(json_string_value(id));
    if (!c->id || !c->messages)
        return LDG_ENOMEM;
    json_t *as = json_object_get(o, "assert");
    if (!json_is_array(as) || json_array_size(as) == 0)
        return ferr(p, "assert", "case '%s': field 'assert': a non-empty array",
                    c->id);
    c->na = json_array_size(as);
    c->a = calloc(c->na, sizeof *c->a);
    if (!c->a)
        return LDG_ENOMEM;
    for (size_t k = 0; k < c->na; k++)
        if ((rc = parse_assert(&c->a[k], p, json_array_get(as, k), k)) < 0)
            return rc;
    return 0;
}

static void
free_case(struct eval_case *c)
{
    free(c->id);
    json_decref(c->messages);
    for (size_t k = 0; k < c->na; k++) {
        free(c->a[k].text);
        eval_re_free(c->a[k].re);
        free(c->a[k].path);
        json_decref(c->a[k].want);
    }
    free(c->a);
}

void
ldg_eval_suite_free(struct ldg_eval_suite *s)
{
    if (!s)
        return;
    free(s->name);
    free(s->version);
    json_decref(s->threshold);
    for (size_t i = 0; i < s->nforbid; i++) {
        eval_re_free(s->forbid[i]);
        free(s->forbid_src[i]);
    }
    free(s->forbid);
    free(s->forbid_src);
    for (size_t i = 0; i < s->ncases; i++)
        free_case(&s->cases[i]);
    free(s->cases);
    free(s);
}

static int
cmp_ids(const void *a, const void *b)
{
    const struct eval_case *const *x = a, *const *y = b;
    return strcmp((*x)->id, (*y)->id);
}

int
ldg_eval_suite_parse(struct ldg_eval_suite **out, const char *name,
                     const char *buf, size_t len, char *err, size_t errlen)
{
    struct ldg_eval_suite *s;
    struct pctx p = {
        .name = name ? name : "suite", .err = err, .errlen = errlen};
    size_t cap = 0, off = 0;
    int rc = 0;
    uint8_t d[32];

    if (!out || (!buf && len))
        return LDG_EINVAL;
    *out = NULL;
    if (err && errlen)
        err[0] = 0;
    if (len > LDG_EVAL_SUITE_MAX_BYTES) {
        snprintf(err, errlen, "%s: %zu bytes, over the limit of %u", p.name,
                 len, LDG_EVAL_SUITE_MAX_BYTES);
        return LDG_ETOOBIG;
    }
    if (!(s = calloc(1, sizeof *s)))
        return LDG_ENOMEM;
    ldg_sha256(d, buf, len);
    memcpy(s->digest, "sha256:", 7);
    ldg_hex(s->digest + 7, d, 32);

    while (off < len) {
        const char *nl = memchr(buf + off, '\n', len - off);
        size_t n = nl ? (size_t)(nl - (buf + off)) : len - off;
        p.line++;
        p.text = buf + off;
        p.len = n;
        off += n + (nl ? 1 : 0);
        LDG_ASSERT(off <= len);
        size_t w = 0;
        while (w < n &&
               (p.text[w] == ' ' || p.text[w] == '\t' || p.text[w] == '\r'))
            w++;
        if (w == n)
            continue; /* blank */
        json_error_t je;
        json_t *o = json_loadb(p.text, n, JSON_REJECT_DUPLICATES, &je);
        if (!o) {
            snprintf(err, errlen, "%s:%u:%d: %s", p.name, p.line,
                     je.column > 0 ? je.column : 1, je.text);
            rc = LDG_EBADINPUT;
            goto out;
        }
        if (!json_is_object(o)) {
            json_decref(o);
            rc = ferr(&p, NULL, "a line must be a JSON object");
            goto out;
        }
        json_t *h = json_object_get(o, "suite");
        if (h) {
            if (s->ncases > 0 || s->name) {
                rc = ferr(&p, "suite", "field 'suite': only on the first line");
            } else if (json_object_size(o) != 1) {
                rc = ferr(&p, NULL, "the suite line holds only {\"suite\": …}");
            } else {
                rc = parse_header(s, &p, h);
            }
            json_decref(o);
            if (rc < 0)
                goto out;
            continue;
        }
        if (s->ncases == LDG_EVAL_CASES_MAX) {
            json_decref(o);
            ferr(&p, NULL, "more than %d cases", LDG_EVAL_CASES_MAX);
            rc = LDG_ETOOBIG;
            goto out;
        }
        if (s->ncases == cap) {
            size_t nc = cap ? cap * 2 : 64;
            struct eval_case *c = realloc(s->cases, nc * sizeof *c);
            if (!c) {
                json_decref(o);
                rc = LDG_ENOMEM;
                goto out;
            }
            s->cases = c;
            cap = nc;
        }
        LDG_ASSERT(s->ncases < cap);
        struct eval_case *c = &s->cases[s->ncases++];
        memset(c, 0, sizeof *c);
        c->line = p.line;
        rc = parse_case(c, &p, o);
        json_decref(o);
        if (rc < 0)
            goto out;
    }
    if (s->ncases == 0) {
        snprintf(err, errlen, "%s: no cases", p.name);
        rc = LDG_EBADINPUT;
        goto out;
    }
    if (!s->name) {
        /* No header: the suite is named after the file. */
        const char *b = strrchr(p.name, '/');
        b = b ? b + 1 : p.name;
        size_t bl = strcspn(b, ".");
        s->name = strndup(b, bl ? bl : strlen(b));
        if (!s->name) {
            rc = LDG_ENOMEM;
            goto out;
        }
    }
    /* Duplicate ids: sort pointers, compare neighbours. */
    {
        struct eval_case **v = malloc(s->ncases * sizeof *v);
        if (!v) {
            rc = LDG_ENOMEM;
            goto out;
        }
        for (size_t i = 0; i < s->ncases; i++)
            v[i] = &s->cases[i];
        qsort(v, s->ncases, sizeof *v, cmp_ids);
        for (size_t i = 1; i < s->ncases; i++) {
            if (strcmp(v[i - 1]->id, v[i]->id) == 0) {
                const struct eval_case *a = v[i - 1], *b = v[i];
                if (a->line > b->line) {
                    const struct eval_case *x = a;
                    a = b;
                    b = x;
                }
                snprintf(err, errlen,
                         "%s:%u:1: field 'id': duplicate id '%s' (first on "
                         "line %u)",
                         p.name, b->line, b->id, a->line);
                rc = LDG_EBADINPUT;
                break;
            }
        }
        free(v);
        if (rc < 0)
            goto out;
    }
out:
    if (rc < 0) {
        if (rc == LDG_ENOMEM && err && errlen)
            snprintf(err, errlen, "%s: out of memory", p.name);
        ldg_eval_suite_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

int
ldg_eval_suite_load(struct ldg_eval_suite **out, const char *path, char *err,
                    size_t errlen)
{
    FILE *f;
    struct stat st;
    char *buf;
    int rc;

    if (!out || !path)
        return LDG_EINVAL;
    *out = NULL;
    f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        return e == ENOENT ? LDG_ENOTFOUND : LDG_EIO;
    }
    if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        fclose(f);
        return LDG_EIO;
    }
    if ((uint64_t)st.st_size > LDG_EVAL_SUITE_MAX_BYTES) {
        snprintf(err, errlen, "%s: %lld bytes, over the limit of %u", path,
                 (long long)st.st_size, LDG_EVAL_SUITE_MAX_BYTES);
        fclose(f);
        return LDG_ETOOBIG;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        fclose(f);
        return LDG_ENOMEM;
    }
    size_t n = fread(buf, 1, (size_t)st.st_size, f);
    if (ferror(f) || n != (size_t)st.st_size) {
        snprintf(err, errlen, "%s: read error", path);
        free(buf);
        fclose(f);
        return LDG_EIO;
    }
    fclose(f);
    rc = ldg_eval_suite_parse(out, path, buf, n, err, errlen);
    free(buf);
    return rc;
}

const char *
ldg_eval_suite_name(const struct ldg_eval_suite *s)
{
    return s->name;
}
const char *
ldg_eval_suite_version(const struct ldg_eval_suite *s)
{
    return s->version;
}
const char *
ldg_eval_suite_digest(const struct ldg_eval_suite *s)
{
    return s->digest;
}
size_t
ldg_eval_suite_cases(const struct ldg_eval_suite *s)
{
    return s->ncases;
}
const char *
ldg_eval_case_id(const struct ldg_eval_suite *s, size_t i)
{
    return i < s->ncases ? s->cases[i].id : NULL;
}
json_t *
ldg_eval_suite_threshold(const struct ldg_eval_suite *s)
{
    if (s->threshold)
        return json_deep_copy(s->threshold);
    return json_pack("{s:s, s:s, s:f}", "metric", "pass_rate", "op",
                     ">=", "value", 1.0);
}
