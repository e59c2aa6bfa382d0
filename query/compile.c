/*
 * compile.c — journalctl-style terms into a query.
 *
 * Terms are grouped: a lone "+" closes a group. Inside a group the terms
 * of one field are merged into one predicate whose values OR; predicates
 * AND. Predicates are sorted so envelope fields (seq, run, type, subject,
 * actor) are tested before those that may need the body.
 *
 * For every predicate that reads the body we precompute "needles": the
 * bytes a stored (uncompressed) body record must contain if the predicate
 * can hold — one for the field name and one for each encoding the value
 * may take. The core makes them (ldg_body_needle_name/_value), so the
 * prefilter is a byte search and this module never sees the encoding.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "query/query_int.h"
#include "ledger/module.h"
#include "util/util.h"

static const struct {
    const char *name;
    enum qfield f;
} field_names[] = {
    {"seq", QF_SEQ},         {"run", QF_RUN},     {"type", QF_TYPE},
    {"subject", QF_SUBJECT}, {"actor", QF_ACTOR}, {"pack", QF_PACK},
    {"model", QF_MODEL},     {"route", QF_ROUTE},
};

static const char *const pack_fields[] = {"pack", NULL};
static const char *const model_fields[] = {"model", "chosen_model", NULL};
static const char *const route_fields[] = {"route", NULL};

static void
needles_free(struct needle *n, size_t k)
{
    for (size_t i = 0; i < k; i++)
        free(n[i].p);
    free(n);
}

static void
pred_release(struct qpred *p)
{
    for (size_t i = 0; i < p->nv; i++) {
        free(p->v[i].s);
        needles_free(p->v[i].vneedles, p->v[i].nvneedles);
    }
    free(p->v);
    free(p->name);
    if (p->path != NULL)
        for (size_t i = 0; i < p->npath; i++)
            free(p->path[i]);
    free(p->path);
    needles_free(p->nneedles, p->nnneedles);
}

void
ldg_query_free(struct ldg_query *q)
{
    if (q == NULL)
        return;
    for (size_t i = 0; i < q->ng; i++) {
        for (size_t j = 0; j < q->g[i].n; j++)
            pred_release(&q->g[i].p[j]);
        free(q->g[i].p);
    }
    free(q->g);
    q_grep_free(q);
    ldg_buf_release(&q->notes);
    free(q);
}

void
ldg_query_restrict(struct ldg_query *q, uint64_t seq_lo, uint64_t seq_hi)
{
    if (q == NULL)
        return;
    q->seq_lo = seq_lo;
    q->seq_hi = seq_hi;
}

int
ldg_query_set_grep(struct ldg_query *q, const char *pattern, char *err,
                   size_t errcap)
{
    if (q == NULL || pattern == NULL)
        return LDG_EINVAL;
    return q_grep_compile(q, pattern, err, errcap);
}

/* Appends a needle the core made (p, len; owned) to the list. */
static int
push_needle(struct needle **arr, size_t *n, uint8_t *p, size_t len)
{
    struct needle *na = realloc(*arr, (*n + 1) * sizeof **arr);
    if (na == NULL) {
        free(p);
        return LDG_ENOMEM;
    }
    *arr = na;
    na[*n].p = p;
    na[*n].n = len;
    (*n)++;
    return 0;
}

/* The needle of a field value v (consumed). */
static int
add_needle(struct needle **arr, size_t *n, json_t *v)
{
    uint8_t *p = NULL;
    size_t len;
    int rc;

    if (v == NULL)
        return LDG_ENOMEM;
    rc = ldg_body_needle_value(v, &p, &len);
    json_decref(v);
    if (rc < 0)
        return rc;
    return push_needle(arr, n, p, len);
}

/* Reads VALUE as a number if it is one (for numeric comparison). */
static void
classify_number(struct qvalue *v)
{
    const char *s = v->s;
    char *end;
    if (*s == '\0' || strchr(" \t\n", *s) != NULL)
        return;
    errno = 0;
    v->ival = strtoll(s, &end, 10);
    if (errno == 0 && *end == '\0') {
        v->is_int = 1;
        v->is_num = 1;
        v->dval = (double)v->ival;
        return;
    }
    errno = 0;
    v->dval = strtod(s, &end);
    if (errno == 0 && *end == '\0' && isfinite(v->dval) &&
        strspn(s, "0123456789+-.eE") == strlen(s)) {
        v->is_num = 1;
        if (v->dval == floor(v->dval) && fabs(v->dval) < 9.0e18) {
            v->is_int = 1;
            v->ival = (int64_t)v->dval;
        }
    }
}

static int
value_needles(struct qvalue *v)
{
    int rc;
    classify_number(v);
    rc = add_needle(&v->vneedles, &v->nvneedles, json_string(v->s));
    if (rc == 0 && v->is_int)
        rc = add_needle(&v->vneedles, &v->nvneedles,
                        json_integer((json_int_t)v->ival));
    if (rc == 0 && v->is_num)
        rc = add_needle(&v->vneedles, &v->nvneedles, json_real(v->dval));
    if (rc == 0 && strcmp(v->s, "true") == 0)
        rc = add_needle(&v->vneedles, &v->nvneedles, json_true());
    if (rc == 0 && strcmp(v->s, "false") == 0)
        rc = add_needle(&v->vneedles, &v->nvneedles, json_false());
    if (rc == 0 && strcmp(v->s, "null") == 0)
        rc = add_needle(&v->vneedles, &v->nvneedles, json_null());
    return rc;
}

/* A glob value (pack=, model=, route=): a string field that matches it
 * holds its literal prefix's bytes (as they are, inside the encoded
 * string); an empty prefix is an empty needle, found in any record. */
static int
glob_needle(struct qvalue *v)
{
    uint8_t *p = malloc(v->prefix + 1);
    if (p == NULL)
        return LDG_ENOMEM;
    memcpy(p, v->s, v->prefix);
    return push_needle(&v->vneedles, &v->nvneedles, p, v->prefix);
}

/* The needle of a field name. */
static int
name_needle(struct qpred *p, const char *name)
{
    uint8_t *b = NULL;
    size_t len;
    int rc = ldg_body_needle_name(name, &b, &len);
    if (rc < 0)
        return rc;
    return push_needle(&p->nneedles, &p->nnneedles, b, len);
}

static int
split_path(struct qpred *p, char *err, size_t errcap)
{
    const char *s = p->name;
    size_t n = 1;
    for (const char *c = s; *c; c++)
        n += *c == '.';
    p->path = calloc(n, sizeof *p->path);
    if (p->path == NULL)
        return LDG_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        size_t k = strcspn(s, ".");
        if (k == 0) {
            snprintf(err, errcap,
                     "term 'body.%s': empty field name in the "
                     "path",
                     p->name);
            return LDG_EBADINPUT;
        }
        p->path[i] = strndup(s, k);
        if (p->path[i] == NULL)
            return LDG_ENOMEM;
        p->npath++;
        s += k + (s[k] == '.');
    }
    return 0;
}

static int
parse_seq(struct qvalue *v, const char *term, char *err, size_t errcap)
{
    const char *s = v->s, *dots = strstr(s, "..");
    v->lo = 0;
    v->hi = UINT64_MAX;
    if (dots == NULL) {
        if (ldg_parse_u64(s, strlen(s), 0, &v->lo) < 0)
            goto bad;
        v->hi = v->lo;
        return 0;
    }
    if (dots > s && ldg_parse_u64(s, (size_t)(dots - s), 0, &v->lo) < 0)
        goto bad;
    if (dots[2] != '\0' &&
        ldg_parse_u64(dots + 2, strlen(dots + 2), 0, &v->hi) < 0)
        goto bad;
    if (dots == s && dots[2] == '\0')
        goto bad;
    if (v->lo > v->hi) {
        snprintf(err, errcap, "term '%s': the range is empty (%llu > %llu)",
                 term, (unsigned long long)v->lo, (unsigned long long)v->hi);
        return LDG_EBADINPUT;
    }
    return 0;
bad:
    snprintf(err, errcap,
             "term '%s': expected seq=N or seq=A..B (A.. and ..B are open)",
             term);
    return LDG_EBADINPUT;
}

static struct qpred *
find_or_add_pred(struct qgroup *g, enum qfield f, const char *name, int neg)
{
    struct qpred *np;
    for (size_t i = 0; i < g->n; i++)
        if (g->p[i].f == f && g->p[i].neg == neg &&
            (f != QF_BODY || strcmp(g->p[i].name, name) == 0))
            return &g->p[i];
    np = realloc(g->p, (g->n + 1) * sizeof *g->p);
    if (np == NULL)
        return NULL;
    g->p = np;
    memset(&g->p[g->n], 0, sizeof g->p[g->n]);
    g->p[g->n].f = f;
    g->p[g->n].neg = neg;
    return &g->p[g->n++];
}

static int
pred_init(struct qpred *p, const char *body_name, char *err, size_t errcap)
{
    int rc = 0;
    switch (p->f) {
    case QF_BODY:
        p->name = strdup(body_name);
        if (p->name == NULL)
            return LDG_ENOMEM;
        if ((rc = split_path(p, err, errcap)) < 0)
            return rc;
        /* a dotted NAME is first a top-level field of that whole name
         * (QUERY.md): the prefilter passes a body holding either */
        if (p->npath > 1 && (rc = name_needle(p, p->name)) < 0)
            return rc;
        return name_needle(p, p->path[0]);
    case QF_PACK:
        p->fields = pack_fields;
        break;
    case QF_MODEL:
        p->fields = model_fields;
        break;
    case QF_ROUTE:
        p->fields = route_fields;
        break;
    default:
        return 0;
    }
    for (size_t i = 0; p->fields[i] != NULL && rc == 0; i++)
        rc = name_needle(p, p->fields[i]);
    return rc;
}

/* Characters that would make an operator other than = and != if they
 * ended a field name (body.x>=3, body.x~=re, body.x<=3): refused, so a
 * query never silently looks for a field named "x>". */
static int
is_op_char(char c)
{
    return c == '!' || c == '<' || c == '>' || c == '~' || c == '*' ||
           c == '?' || c == '[' || c == ']' || c == '(' || c == ')' ||
           c == '|' || c == '&' || c == ' ' || c == '\t';
}

/* type=NAME (no glob) naming a type neither in the vocabulary nor an x.
 * extension matches nothing (type!=NAME excludes nothing): a line in
 * q->notes, once, with the closest type at most two edits away. */
static int
note_type(struct ldg_query *q, const char *name)
{
    static const char *const types[] = {
#define NAME(id, name) name,
        LDG_EVENT_TYPES(NAME)
#undef NAME
    };
    const char *near = NULL;
    size_t best = 3;
    char line[700];

    if (*name == '\0' || strncmp(name, "x.", 2) == 0)
        return 0;
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        size_t d = ldg_edit_distance(name, types[k]);
        if (d == 0)
            return 0;
        if (d < best)
            best = d, near = types[k];
    }
    snprintf(line, sizeof line, "no event type '%s' in the vocabulary (%s%s%s)",
             name, near ? "did you mean " : "", near ? near : "",
             near ? "?" : "docs/VOCABULARY.md; extension types start with x.");
    if (q->notes.s == NULL || strstr(q->notes.s, line) == NULL)
        ldg_buf_printf(&q->notes, "%s%s", q->notes.len ? "\n" : "", line);
    return q->notes.err;
}

const char *
ldg_query_notes(const struct ldg_query *q)
{
    return q != NULL ? q->notes.s : NULL;
}

static int
add_term(struct ldg_query *q, struct qgroup *g, const char *term, char *err,
         size_t errcap)
{
    const char *eq = strchr(term, '=');
    const char *val, *body_name = NULL, *name_end;
    enum qfield f = QF_BODY;
    struct qpred *p;
    struct qvalue *nv, *v;
    size_t flen;
    int rc, fresh, neg = 0, is_trace = 0;

    if (eq == NULL || eq == term) {
        snprintf(err, errcap,
                 "term '%s': expected FIELD=VALUE, FIELD!=VALUE or '+' "
                 "(fields: type, subject, run, actor, pack, model, route, "
                 "trace, seq, body.NAME)",
                 term);
        return LDG_EBADINPUT;
    }
    name_end = eq;
    if (eq[-1] == '!') {
        neg = 1;
        name_end = eq - 1;
    }
    flen = (size_t)(name_end - term);
    val = eq + 1;
    for (size_t i = 0; i < flen; i++) {
        if (is_op_char(term[i]) || (unsigned char)term[i] < 0x20) {
            snprintf(err, errcap,
                     "term '%s': '%c' in the field name: only FIELD=VALUE "
                     "and FIELD!=VALUE are understood",
                     term, term[i] < 0x20 ? '?' : term[i]);
            return LDG_EBADINPUT;
        }
    }
    if (flen == 0) {
        snprintf(err, errcap, "term '%s': no field name before '!='", term);
        return LDG_EBADINPUT;
    }
    if (flen > 5 && memcmp(term, "body.", 5) == 0) {
        body_name = term + 5;
    } else if (flen == 5 && memcmp(term, "trace", 5) == 0) {
        /* trace=ID: the OTLP receiver's and the proxy's body.trace_id
         * (docs/QUERY.md) */
        body_name = "trace_id";
        is_trace = 1;
    } else {
        size_t i;
        for (i = 0; i < sizeof field_names / sizeof field_names[0]; i++)
            if (strlen(field_names[i].name) == flen &&
                memcmp(field_names[i].name, term, flen) == 0)
                break;
        if (i == sizeof field_names / sizeof field_names[0]) {
            snprintf(err, errcap,
                     "term '%s': unknown field '%.*s' (fields: type, "
                     "subject, run, actor, pack, model, route, trace, seq, "
                     "body.NAME)",
                     term, (int)(flen > 64 ? 64 : flen), term);
            return LDG_EBADINPUT;
        }
        f = field_names[i].f;
    }
    if (strlen(val) > Q_VALUE_MAX) {
        snprintf(err, errcap, "term '%.40s...': value longer than %d bytes",
                 term, Q_VALUE_MAX);
        return LDG_EBADINPUT;
    }
    /* body names end at the '=' */
    if (body_name != NULL) {
        char *bn = body_name >= term && body_name < name_end
                       ? strndup(body_name, (size_t)(name_end - body_name))
                       : strdup(body_name);
        if (bn == NULL)
            return LDG_ENOMEM;
        p = find_or_add_pred(g, f, bn, neg);
        fresh = p != NULL && p->nv == 0 && p->name == NULL;
        rc = p == NULL ? LDG_ENOMEM : 0;
        if (rc == 0 && fresh)
            rc = pred_init(p, bn, err, errcap);
        free(bn);
    } else {
        p = find_or_add_pred(g, f, NULL, neg);
        fresh = p != NULL && p->nv == 0;
        rc = p == NULL ? LDG_ENOMEM : 0;
        if (rc == 0 && fresh)
            rc = pred_init(p, NULL, err, errcap);
    }
    if (rc < 0)
        return rc;
    nv = realloc(p->v, (p->nv + 1) * sizeof *p->v);
    if (nv == NULL)
        return LDG_ENOMEM;
    p->v = nv;
    v = &p->v[p->nv];
    memset(v, 0, sizeof *v);
    v->s = strdup(val);
    if (v->s == NULL)
        return LDG_ENOMEM;
    p->nv++;
    if (is_trace) {
        /* a trace id is recorded as 32 lowercase hex digits: another
         * value could never match, and upper case is the same id */
        size_t n = strlen(v->s), i;
        for (i = 0; i < n && isxdigit((unsigned char)v->s[i]); i++)
            v->s[i] = (char)tolower((unsigned char)v->s[i]);
        if (n != 32 || i != n) {
            snprintf(err, errcap,
                     "term '%.80s': a trace id is 32 hex digits (16 bytes)",
                     term);
            return LDG_EBADINPUT;
        }
    }
    if (f == QF_TYPE || f == QF_SUBJECT || f == QF_PACK || f == QF_MODEL ||
        f == QF_ROUTE) {
        v->prefix = strcspn(v->s, "*?[\\");
        v->glob = v->s[v->prefix] != '\0';
    }
    if (f == QF_SEQ)
        return parse_seq(v, term, err, errcap);
    if (f == QF_TYPE && !v->glob)
        return note_type(q, v->s);
    if (v->glob)
        return glob_needle(v);
    if (f >= QF_PACK)
        return value_needles(v);
    return 0;
}

static int
cmp_pred(const void *a, const void *b)
{
    const struct qpred *x = a, *y = b;
    if (x->f != y->f)
        return (int)x->f - (int)y->f;
    return x->neg - y->neg;
}

static int
close_group(struct ldg_query *q, struct qgroup *cur, char *err, size_t errcap)
{
    struct qgroup *ng;
    if (cur->n == 0) {
        snprintf(err, errcap, "'+' must separate two groups of terms");
        return LDG_EBADINPUT;
    }
    qsort(cur->p, cur->n, sizeof *cur->p, cmp_pred);
    for (size_t i = 0; i < cur->n; i++) {
        LDG_ASSERT(i == 0 || cur->p[i - 1].f <= cur->p[i].f);
        if (cur->p[i].f >= QF_PACK)
            cur->needs_body = 1;
    }
    ng = realloc(q->g, (q->ng + 1) * sizeof *q->g);
    if (ng == NULL)
        return LDG_ENOMEM;
    q->g = ng;
    q->g[q->ng++] = *cur;
    memset(cur, 0, sizeof *cur);
    return 0;
}

/* One of --since/--until; its message names the option. */
static int
parse_bound(const char *opt, const char *spec, uint64_t now, uint64_t *ns,
            char *err, size_t errcap)
{
    char why[400];
    int rc = ldg_query_parse_time(spec, now, ns, why, sizeof why);
    if (rc != 0)
        snprintf(err, errcap, "%s: %s", opt, why);
    return rc;
}

int
ldg_query_compile(struct ldg_query **out, int nterms, char *const *terms,
                  const char *since, const char *until, char *err,
                  size_t errcap)
{
    struct ldg_query *q;
    struct qgroup cur;
    uint64_t now = ldg_now_wall_ns();
    int rc = 0;

    if (out == NULL || nterms < 0 || (nterms > 0 && terms == NULL))
        return LDG_EINVAL;
    *out = NULL;
    if (err != NULL && errcap > 0)
        err[0] = '\0';
    else {
        static char sink[8];
        err = sink;
        errcap = sizeof sink;
    }
    q = calloc(1, sizeof *q);
    if (q == NULL) {
        snprintf(err, errcap, "out of memory");
        return LDG_ENOMEM;
    }
    memset(&cur, 0, sizeof cur);
    q->until_ns = UINT64_MAX;
    q->seq_hi = UINT64_MAX;
    for (int i = 0; i < nterms && rc == 0; i++) {
        if (terms[i] == NULL) {
            rc = LDG_EINVAL;
        } else if (strcmp(terms[i], "+") == 0) {
            rc = close_group(q, &cur, err, errcap);
        } else {
            rc = add_term(q, &cur, terms[i], err, errcap);
        }
    }
    if (rc == 0 && (cur.n > 0 || q->ng > 0))
        rc = close_group(q, &cur, err, errcap);
    if (rc == 0 && since != NULL)
        rc = parse_bound(LDG_OPT_SINCE, since, now, &q->since_ns, err, errcap);
    if (rc == 0 && until != NULL)
        rc = parse_bound(LDG_OPT_UNTIL, until, now, &q->until_ns, err, errcap);
    if (rc == 0 && q->since_ns > q->until_ns) {
        snprintf(err, errcap,
                 LDG_OPT_SINCE " '%s' is after " LDG_OPT_UNTIL " '%s'", since,
                 until);
        rc = LDG_EBADINPUT;
    }
    if (rc < 0) {
        for (size_t j = 0; j < cur.n; j++)
            pred_release(&cur.p[j]);
        free(cur.p);
        ldg_query_free(q);
        if (rc == LDG_ENOMEM)
            snprintf(err, errcap, "out of memory compiling the query");
        return rc;
    }
    *out = q;
    return 0;
}
