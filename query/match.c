/*
 * match.c — evaluating a query's predicates on one event, and -g.
 *
 * Envelope predicates come first and cost nothing beyond the decoded
 * entry. Predicates on the body first look at the raw stored record
 * ("bodies": one flag byte, then the canonical msgpack map, or a zstd
 * frame when flag is 1): if the record is uncompressed and lacks the
 * field's name bytes or every encoding the value may take, the predicate
 * cannot hold and the body is never decoded. Otherwise the body is
 * decoded once (ldg_body_get) and shared by every predicate and group.
 *
 * This file is the only one of query/ that uses PCRE2.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include <pcre2.h>

#include "query/query_int.h"
#include "ledger/module.h"
#include "util/util.h"

void
qbody_init(struct qbody *b, struct ldg_txn *t, struct ldg_reader *rd,
           uint64_t seq)
{
    memset(b, 0, sizeof *b);
    b->t = t;
    b->rd = rd;
    b->seq = seq;
}

void
qbody_release(struct qbody *b)
{
    json_decref(b->json);
    b->json = NULL;
    b->have_json = 0;
}

/* *have after a body read that returned rc: 1 read, -1 none (erased,
 * not found); another error is returned, *have left 0. */
static int
loaded(int rc, int *have)
{
    if (rc < 0 && rc != LDG_EERASED && rc != LDG_ENOTFOUND)
        return rc;
    *have = rc < 0 ? -1 : 1;
    return 0;
}

static int
load_raw(struct qbody *b)
{
    if (b->have_raw)
        return 0;
    if (b->t == NULL) { /* an event given as JSON: its body is all there is */
        b->have_raw = b->have_json > 0 ? 1 : -1;
        b->raw = NULL;
        b->raw_len = 0;
        return 0;
    }
    return loaded(ldg_reader_body(b->rd, b->seq, &b->raw, &b->raw_len),
                  &b->have_raw);
}

static int
load_json(struct qbody *b)
{
    if (b->have_json)
        return 0;
    return loaded(ldg_body_get(b->t, b->seq, &b->json), &b->have_json);
}

/* Whether rec holds the needle: memchr for its first byte, then the rest
 * (glibc's memmem sets up a table of 256 shifts a call, which costs more
 * than the search through a body of a few hundred bytes). */
static int
has(const uint8_t *rec, size_t len, const struct needle *n)
{
    const uint8_t *p = rec, *end;
    if (n->n == 0)
        return 1;
    if (len < n->n)
        return 0;
    end = rec + len - n->n + 1; /* past the last place it may start */
    while (p < end && (p = memchr(p, n->p[0], (size_t)(end - p))) != NULL) {
        if (memcmp(p + 1, n->p + 1, n->n - 1) == 0)
            return 1;
        p++;
    }
    return 0;
}

void
q_pre_init(struct q_pre *x, struct ldg_txn *t)
{
    memset(x, 0, sizeof *x);
    x->d = ldg_txn_dicts(t);
    x->max = ldg_body_max(ldg_txn_ledger(t));
}

void
q_pre_release(struct q_pre *x)
{
    ldg_inflate_release(&x->s);
    ldg_buf_release(&x->grep);
}

int
q_prefilter(const struct qpred *p, struct q_pre *x, const uint8_t *rec,
            size_t len)
{
    int name = 0;
    if (!ldg_body_record_plain(rec, len, &rec, &len) &&
        (x == NULL || ldg_body_record_open(x->d, rec, len, x->max, &x->s, &rec,
                                           &len, NULL) < 0))
        return 1; /* cannot tell: the decoder will say */
    for (size_t i = 0; i < p->nnneedles && !name; i++)
        name = has(rec, len, &p->nneedles[i]);
    if (!name)
        return 0;
    for (size_t i = 0; i < p->nv; i++)
        for (size_t j = 0; j < p->v[i].nvneedles; j++)
            if (has(rec, len, &p->v[i].vneedles[j]))
                return 1;
    return 0;
}

static int
scalar_match(const json_t *v, const struct qvalue *qv)
{
    switch (json_typeof(v)) {
    case JSON_STRING:
        if (qv->glob) /* pack=, model=, route= globs */
            return q_str_match(qv, json_string_value(v));
        return json_string_length(v) == strlen(qv->s) &&
               memcmp(json_string_value(v), qv->s, json_string_length(v)) == 0;
    case JSON_INTEGER:
        if (qv->is_int)
            return (int64_t)json_integer_value(v) == qv->ival;
        return qv->is_num && (double)json_integer_value(v) == qv->dval;
    case JSON_REAL:
        return qv->is_num && json_real_value(v) == qv->dval;
    case JSON_TRUE:
        return strcmp(qv->s, "true") == 0;
    case JSON_FALSE:
        return strcmp(qv->s, "false") == 0;
    case JSON_NULL:
        return strcmp(qv->s, "null") == 0;
    default:
        return 0;
    }
}

int
q_value_match(const json_t *v, const struct qvalue *qv)
{
    if (v == NULL)
        return 0;
    if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) if (!json_is_array(e) &&
                                        scalar_match(e, qv)) return 1;
        return 0;
    }
    return scalar_match(v, qv);
}

int
q_str_match(const struct qvalue *qv, const char *s)
{
    if (!qv->glob)
        return strcmp(qv->s, s) == 0;
    if (strncmp(qv->s, s, qv->prefix) != 0)
        return 0;
    return fnmatch(qv->s, s, 0) == 0;
}

static const json_t *
body_path(const json_t *body, const struct qpred *p)
{
    const json_t *v = json_object_get(body, p->name);
    if (v != NULL || p->npath < 2)
        return v;
    v = body;
    for (size_t i = 0; i < p->npath && v != NULL; i++)
        v = json_object_get(v, p->path[i]);
    return v;
}

/* A predicate on body fields: prefilter, then decode. */
static int
body_pred(const struct qpred *p, struct qbody *b)
{
    int rc;
    if ((rc = load_raw(b)) < 0)
        return rc;
    if (b->have_raw < 0)
        return 0; /* erased: no fields */
    if (b->t != NULL && !q_prefilter(p, b->pre, b->raw, b->raw_len))
        return 0;
    if ((rc = load_json(b)) < 0)
        return rc;
    if (b->have_json < 0)
        return 0;
    for (size_t i = 0; i < p->nv; i++) {
        if (p->f == QF_BODY) {
            if (q_value_match(body_path(b->json, p), &p->v[i]))
                return 1;
        } else {
            for (size_t k = 0; p->fields[k] != NULL; k++)
                if (q_value_match(json_object_get(b->json, p->fields[k]),
                                  &p->v[i]))
                    return 1;
        }
    }
    return 0;
}

static int
subject_kind_match(const struct qpred *p, const char *subject)
{
    const char *kind = p->f == QF_PACK    ? "pack:"
                       : p->f == QF_MODEL ? "model:"
                                          : "route:";
    size_t kl = strlen(kind);
    if (strncmp(subject, kind, kl) != 0)
        return 0;
    for (size_t i = 0; i < p->nv; i++)
        if (q_str_match(&p->v[i], subject + kl))
            return 1;
    return 0;
}

/* body.NAME!=VALUE: the body has the field (so it is not erased) and no
 * value of p matches it. */
static int
body_pred_neg(const struct qpred *p, struct qbody *b)
{
    const uint8_t *plain;
    size_t plain_len;
    const json_t *v;
    int rc, name = 0;

    if ((rc = load_raw(b)) < 0)
        return rc;
    if (b->have_raw < 0)
        return 0; /* erased: no fields */
    if (b->t != NULL &&
        (ldg_body_record_plain(b->raw, b->raw_len, &plain, &plain_len) ||
         (b->pre != NULL &&
          ldg_body_record_open(b->pre->d, b->raw, b->raw_len, b->pre->max,
                               &b->pre->s, &plain, &plain_len, NULL) == 0))) {
        /* without the name's bytes the field is absent */
        for (size_t i = 0; i < p->nnneedles && !name; i++)
            name = has(plain, plain_len, &p->nneedles[i]);
        if (!name)
            return 0;
    }
    if ((rc = load_json(b)) < 0)
        return rc;
    if (b->have_json < 0)
        return 0;
    v = body_path(b->json, p);
    if (v == NULL)
        return 0;
    for (size_t i = 0; i < p->nv; i++)
        if (q_value_match(v, &p->v[i]))
            return 0;
    return 1;
}

static int pred_match_pos(const struct qpred *p, const struct ldg_event *ev,
                          struct qbody *b, char *const *actor_ids);

/* A negated predicate is the complement of the positive one, except that
 * body.NAME!=VALUE needs the field to be there (docs/QUERY.md). */
static int
pred_match(const struct qpred *p, const struct ldg_event *ev, struct qbody *b,
           char *const *actor_ids)
{
    int rc;
    if (!p->neg)
        return pred_match_pos(p, ev, b, actor_ids);
    if (p->f == QF_BODY)
        return body_pred_neg(p, b);
    rc = pred_match_pos(p, ev, b, actor_ids);
    return rc < 0 ? rc : !rc;
}

static int
pred_match_pos(const struct qpred *p, const struct ldg_event *ev,
               struct qbody *b, char *const *actor_ids)
{
    size_t i;
    switch (p->f) {
    case QF_SEQ:
        for (i = 0; i < p->nv; i++)
            if (ev->seq >= p->v[i].lo && ev->seq <= p->v[i].hi)
                return 1;
        return 0;
    case QF_RUN:
        for (i = 0; i < p->nv; i++)
            if (strcmp(p->v[i].s, ev->run) == 0)
                return 1;
        return 0;
    case QF_TYPE:
        for (i = 0; i < p->nv; i++)
            if (q_str_match(&p->v[i], ev->type))
                return 1;
        return 0;
    case QF_SUBJECT:
        for (i = 0; i < p->nv; i++)
            if (q_str_match(&p->v[i], ev->subject))
                return 1;
        return 0;
    case QF_ACTOR:
        for (i = 0; actor_ids != NULL && actor_ids[i] != NULL; i++)
            if (strcmp(actor_ids[i], ev->actor) == 0)
                return 1;
        return 0;
    case QF_PACK:
    case QF_MODEL:
    case QF_ROUTE:
        if (subject_kind_match(p, ev->subject))
            return 1;
        return body_pred(p, b);
    case QF_BODY:
        return body_pred(p, b);
    }
    return 0;
}

int
q_group_match(const struct qgroup *g, const struct ldg_event *ev,
              struct qbody *b, char *const *const *actor_ids)
{
    size_t actor_i = 0;
    for (size_t i = 0; i < g->n; i++) {
        char *const *ids = NULL;
        int rc;
        if (g->p[i].f == QF_ACTOR)
            ids = actor_ids != NULL ? actor_ids[actor_i++] : NULL;
        rc = pred_match(&g->p[i], ev, b, ids);
        if (rc <= 0)
            return rc;
    }
    return 1;
}

/* ----------------------------------------------------------------- grep -- */

/* journalctl's rule: a pattern without uppercase letters (outside escape
 * sequences such as \S) is case-insensitive. */
static int
has_upper(const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' && s[1] != '\0') {
            s++;
            continue;
        }
        if (*s >= 'A' && *s <= 'Z')
            return 1;
    }
    return 0;
}

int
q_grep_compile(struct ldg_query *q, const char *pattern, char *err,
               size_t errcap)
{
    uint32_t opts = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF;
    PCRE2_SIZE off;
    int code;
    pcre2_code *re;

    if (!has_upper(pattern))
        opts |= PCRE2_CASELESS;
    re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, opts, &code,
                       &off, NULL);
    if (re == NULL) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof msg);
        snprintf(err, errcap, "bad pattern '%s' at offset %zu: %s", pattern,
                 (size_t)off, (const char *)msg);
        return LDG_EBADINPUT;
    }
    if (q->nre >= Q_GREP_MAX) {
        pcre2_code_free(re);
        snprintf(err, errcap, "more than %d " LDG_OPT_GREP_SHORT " patterns",
                 Q_GREP_MAX);
        return LDG_EBADINPUT;
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* optional speed-up */
    if (q->re == NULL) {
        q->re = calloc(Q_GREP_MAX, sizeof *q->re);
        q->md = calloc(Q_GREP_MAX, sizeof *q->md);
        if (q->re == NULL || q->md == NULL) {
            pcre2_code_free(re);
            return LDG_ENOMEM;
        }
    }
    q->md[q->nre] = pcre2_match_data_create_from_pattern(re, NULL);
    if (q->md[q->nre] == NULL) {
        pcre2_code_free(re);
        return LDG_ENOMEM;
    }
    q->re[q->nre++] = re;
    return 0;
}

void
q_grep_free(struct ldg_query *q)
{
    for (size_t i = 0; i < q->nre; i++) {
        pcre2_match_data_free(q->md[i]);
        pcre2_code_free(q->re[i]);
    }
    free(q->md);
    free(q->re);
    q->md = NULL;
    q->re = NULL;
    q->nre = 0;
}

/* The body's compact JSON after t: from its stored record when no
 * predicate decoded it yet (the same bytes json_dumps gives of
 * ldg_body_get's object, without building it), else from that object. */
static int
grep_body(struct ldg_buf *t, struct qbody *b)
{
    int rc;
    if (b->have_json == 0 && b->t != NULL && b->pre != NULL) {
        char *s;
        size_t len, cap;
        if ((rc = load_raw(b)) < 0)
            return rc;
        if (b->have_raw < 0) {
            ldg_buf_puts(t, "[erased]");
            return 0;
        }
        s = t->s;
        len = t->len;
        cap = t->cap;
        rc = ldg_body_record_json_append(b->pre->d, b->raw, b->raw_len,
                                         b->pre->max, &s, &len, &cap);
        t->s = s;
        t->len = len;
        t->cap = cap;
        return rc < 0 ? rc : 0;
    }
    if ((rc = load_json(b)) < 0)
        return rc;
    if (b->have_json > 0)
        q_json_value(t, b->json, JSON_COMPACT);
    else
        ldg_buf_puts(t, "[erased]");
    return 0;
}

/* Several patterns OR, as git log --grep does. */
int
q_grep(const struct ldg_query *q, const struct ldg_event *ev, struct qbody *b,
       const char *actor_name)
{
    struct ldg_buf own, *t = &own;
    int rc;

    if (q->nre == 0)
        return 1;
    if (b->pre != NULL) { /* the iterator's buffer, kept between events */
        t = &b->pre->grep;
        t->len = 0;
        t->err = 0;
    } else {
        memset(&own, 0, sizeof own);
    }
    ldg_buf_puts(t, ev->type);
    ldg_buf_add(t, " ", 1);
    ldg_buf_puts(t, ev->subject);
    if (ev->run[0]) {
        ldg_buf_add(t, " run=", 5);
        ldg_buf_puts(t, ev->run);
    }
    ldg_buf_add(t, " actor=", 7);
    ldg_buf_puts(t, actor_name[0] ? actor_name : ev->actor);
    ldg_buf_add(t, " ", 1);
    rc = grep_body(t, b);
    if (rc == 0 && t->err)
        rc = t->err;
    for (size_t i = 0; rc == 0 && i < q->nre; i++) {
        int m = pcre2_match((const pcre2_code *)q->re[i], (PCRE2_SPTR)t->s,
                            t->len, 0, 0, (pcre2_match_data *)q->md[i], NULL);
        if (m >= 0)
            rc = 1;
        else if (m == PCRE2_ERROR_MATCHLIMIT || m == PCRE2_ERROR_DEPTHLIMIT ||
                 m == PCRE2_ERROR_HEAPLIMIT)
            rc = LDG_ETOOBIG; /* the pattern backtracks past PCRE2's limits */
        else if (m != PCRE2_ERROR_NOMATCH)
            rc = LDG_EINVAL;
    }
    if (t == &own)
        ldg_buf_release(&own);
    return rc;
}

/* Canonical decimal (as the JSON forms write 64-bit numbers). */
static int
dec_u64(const char *s, uint64_t *out)
{
    return ldg_parse_u64(s, strlen(s), LDG_DEC_CANONICAL, out);
}

/* An event as JSON (`ledger show -o json`'s shape): the envelope fields
 * into ev, the body into b (no store behind it). */
static int
event_from_json(const json_t *e, struct ldg_event *ev, struct qbody *b)
{
    const char *s;
    json_t *body = json_object_get(e, "body");

    memset(ev, 0, sizeof *ev);
    memset(b, 0, sizeof *b);
    s = json_string_value(json_object_get(e, "seq"));
    if (s == NULL || dec_u64(s, &ev->seq) < 0)
        return LDG_EBADINPUT;
    /* the ledger's time, which time selections use: "recorded_ts" when the
     * line says when it happened by another clock */
    s = json_string_value(json_object_get(e, "recorded_ts"));
    if (s == NULL)
        s = json_string_value(json_object_get(e, "ts"));
    if (s == NULL || dec_u64(s, &ev->ts_ns) < 0)
        return LDG_EBADINPUT;
#define COPY(field, key)                                                       \
    snprintf(ev->field, sizeof ev->field, "%s",                                \
             (s = json_string_value(json_object_get(e, key))) ? s : "")
    COPY(type, "type");
    COPY(subject, "subject");
    COPY(run, "run");
    COPY(actor, "actor");
#undef COPY
    s = json_string_value(json_object_get(e, "parent"));
    if (s != NULL && dec_u64(s, &ev->parent) == 0)
        ev->has_parent = 1;
    if (json_is_object(body)) {
        b->json = json_incref(body);
        b->have_json = 1;
    } else {
        b->have_json = -1; /* erased or withheld whole: no fields */
    }
    return 0;
}

int
ldg_query_match_json(const struct ldg_query *q, const json_t *event)
{
    struct ldg_event ev;
    struct qbody b;
    const char *name;
    int m = 1, rc;

    if (q == NULL || !json_is_object(event))
        return LDG_EINVAL;
    if ((rc = event_from_json(event, &ev, &b)) < 0)
        return rc;
    name = json_string_value(json_object_get(event, "actor_name"));
    if (ev.ts_ns < q->since_ns || ev.ts_ns > q->until_ns ||
        ev.seq < q->seq_lo || ev.seq > q->seq_hi) {
        qbody_release(&b);
        return 0;
    }
    for (size_t gi = 0; gi < q->ng; gi++) {
        const struct qgroup *g = &q->g[gi];
        char *own[2] = {ev.actor, NULL}, *none[1] = {NULL};
        char *const *ids[64];
        size_t na = 0;
        /* actor=NAME|ID: the event's own key id and name stand for the
         * key registry a ledger would ask */
        for (size_t i = 0; i < g->n && na < 64; i++) {
            int hit = 0;
            if (g->p[i].f != QF_ACTOR)
                continue;
            for (size_t j = 0; j < g->p[i].nv; j++)
                hit |= strcmp(g->p[i].v[j].s, ev.actor) == 0 ||
                       (name != NULL && strcmp(g->p[i].v[j].s, name) == 0);
            ids[na++] = hit ? own : none;
        }
        m = q_group_match(g, &ev, &b, ids);
        if (m != 0)
            break;
    }
    if (m == 1 && q->nre > 0)
        m = q_grep(q, &ev, &b, name != NULL ? name : "");
    qbody_release(&b);
    return m;
}

const char *
ldg_query_lib_version(void)
{
    static char v[64];
    char ver[48] = "?";
    pcre2_config(PCRE2_CONFIG_VERSION, ver);
    snprintf(v, sizeof v, "pcre2 %s", ver);
    return v;
}
