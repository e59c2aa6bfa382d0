/*
 * bundle.c — reading from elsewhere: a verified bundle or segment
 * (--bundle, --trusted-key: cli_bundle_*), query --deps (what a run's
 * model and pack rest on) and query --bundle (a verified bundle's events).
 */
#include <signal.h>
#include <errno.h>
#include <fnmatch.h>
#include <sys/stat.h>
#include <string.h>
#include "cli/cli.h"
#include "cli/commands.h"
#include "export/export.h"
#include "projections/projections.h"
#include "query/query.h"

/*
 * --deps: the terms, then for each pack=P among them an OR group for each
 * of its routes (route=R) and each model they use (model=M: the current
 * and declared model and the fallbacks), from the routes view. Each such
 * group carries the other terms of the group its pack=P is in (type=,
 * run=, body.X=, ...: `pack=P type=route.decision --deps` keeps only the
 * route decisions of P and of what it depends on). P may be a glob, as
 * pack= takes. *out points into the terms and into *store (a JSON array
 * that owns the new strings). 0 or an exit code (printed).
 */
int
cli_query_deps(struct cli *c, int nterms, char **terms, char ***out, int *nout,
               json_t **store)
{
    static char plus[] = "+";
    struct ldg_view_opts vo;
    struct ldg_ledger *l = NULL;
    json_t *rows = NULL, *r, *names = json_array(), *m;
    size_t i, k, cap;
    int rc, npacks = 0, g0, g1, t;

    for (t = 0; t < nterms; t++)
        npacks += strncmp(terms[t], "pack=", 5) == 0;
    if (npacks == 0) {
        json_decref(names);
        cli_err(c, "--deps needs a pack=P term");
        return EX_USAGE;
    }
    if ((rc = cli_open(c, 1, &l)) != 0) {
        json_decref(names);
        return rc;
    }
    memset(&vo, 0, sizeof vo);
    rc = ldg_projections_view(l, LDG_VIEW_ROUTES, &vo, &rows);
    if (rc < 0) {
        cli_err(c, "--deps: %s", cli_why(l, rc));
        ldg_close(l);
        json_decref(names);
        return cli_exit_code(rc);
    }
    ldg_close(l);
    /* names: for each group of the terms (split at "+") that has pack=
     * terms, [group start, group end, "route=R", "model=M", ...] */
    cap = (size_t)nterms;
    for (g0 = 0; g0 < nterms; g0 = g1 + 1) {
        json_t *deps = json_array();
        for (g1 = g0; g1 < nterms && strcmp(terms[g1], "+") != 0; g1++)
            ;
        json_array_foreach(rows, i, r)
        {
            const char *pk = json_string_value(json_object_get(r, "pack"));
            int mine = 0;
            char buf[600];
            for (t = g0; pk && t < g1; t++)
                mine |= strncmp(terms[t], "pack=", 5) == 0 &&
                        fnmatch(terms[t] + 5, pk, 0) == 0;
            if (!mine)
                continue;
            snprintf(buf, sizeof buf, "route=%s",
                     json_string_value(json_object_get(r, "route")));
            json_array_append_new(deps, json_string(buf));
            static const char *const mk[] = {"model", "declared_model"};
            for (k = 0; k < 2; k++)
                if (json_is_string(json_object_get(r, mk[k]))) {
                    snprintf(buf, sizeof buf, "model=%s",
                             json_string_value(json_object_get(r, mk[k])));
                    json_array_append_new(deps, json_string(buf));
                }
            json_array_foreach(json_object_get(r, "fallbacks"), k, m)
            {
                if (!json_is_string(m))
                    continue;
                snprintf(buf, sizeof buf, "model=%s", json_string_value(m));
                json_array_append_new(deps, json_string(buf));
            }
        }
        if (json_array_size(deps) > 0) {
            json_array_append_new(names, json_pack("{s:i, s:i, s:o}", "from",
                                                   g0, "to", g1, "deps", deps));
            cap += json_array_size(deps) * (size_t)(g1 - g0 + 2);
        } else {
            json_decref(deps);
        }
    }
    json_decref(rows);
    *out = calloc(cap + 1, sizeof **out);
    if (*out == NULL) {
        json_decref(names);
        return cli_fail_err(c, "", LDG_ENOMEM);
    }
    memcpy(*out, terms, (size_t)nterms * sizeof **out);
    *nout = nterms;
    /* each dependency its own group: + OTHER-TERMS route=R + OTHER-TERMS
     * model=M ... (a duplicate group is harmless) */
    json_array_foreach(names, i, r)
    {
        g0 = (int)json_integer_value(json_object_get(r, "from"));
        g1 = (int)json_integer_value(json_object_get(r, "to"));
        json_array_foreach(json_object_get(r, "deps"), k, m)
        {
            (*out)[(*nout)++] = plus;
            for (t = g0; t < g1; t++)
                if (strncmp(terms[t], "pack=", 5) != 0)
                    (*out)[(*nout)++] = terms[t];
            (*out)[(*nout)++] = (char *)(uintptr_t)json_string_value(m);
        }
    }
    *store = names;
    return 0;
}

/* An event's seq as a bundle's events.jsonl has it ("?" if it has none). */
const char *
cli_bundle_seq(const json_t *e, char buf[24])
{
    const json_t *v = json_object_get(e, "seq");
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v)) {
        snprintf(buf, 24, "%lld", (long long)json_integer_value(v));
        return buf;
    }
    return "?";
}

/* One match of query --bundle, as the ledger's query prints it: through
 * the ledger's own renderer, the lines and keys `query` gives. */
static int
bundle_print(const struct cli *c, struct ldg_query_render *r, json_t *e,
             enum ldg_query_format fmt)
{
    const char *text;
    size_t len;
    int rc;

    if ((rc = ldg_query_render_bundle_event(r, e, &text, &len)) < 0)
        return rc;
    if (fmt == LDG_QFMT_JSON || fmt == LDG_QFMT_JSON_PRETTY)
        fwrite(text, 1, len, stdout);
    else /* fitted to the terminal, as a ledger's lines are */
        cli_line(c, text, len - 1, 0, NULL, NULL);
    return 0;
}

/* The matches of query --bundle, gathered as the events come: all of
 * them, or with -n N only the last N (a ring), so that a segment's
 * millions of events are never held. */
struct bhits {
    struct cli *c;
    const struct ldg_query *q;
    struct ldg_query_render *r;
    enum ldg_query_format fmt;
    int stream; /* no -n, no -r: each match printed as it comes */
    uint64_t limit;
    json_t **v; /* a ring of cap when limited */
    size_t n, cap, start;
    uint64_t events, matched;
    char first_seq[24], last_seq[24];
    int rc;
};

static int
bundle_hit(void *ctx, json_t *e)
{
    struct bhits *h = ctx;
    int m = ldg_query_match_json(h->q, e);
    char buf[24];
    if (h->events++ == 0)
        snprintf(h->first_seq, sizeof h->first_seq, "%s",
                 cli_bundle_seq(e, buf));
    snprintf(h->last_seq, sizeof h->last_seq, "%s", cli_bundle_seq(e, buf));
    if (m < 0) {
        h->rc = m;
        return EX_DATAERR;
    }
    if (m != 1)
        return 0;
    h->matched++;
    if (h->stream) {
        if ((h->rc = bundle_print(h->c, h->r, e, h->fmt)) < 0)
            return h->rc == LDG_ENOMEM ? EX_OSERR : EX_DATAERR;
        return ferror(stdout) ? EX_IOERR : 0;
    }
    if (h->limit > 0 && h->n == h->limit) {
        /* full: the oldest goes */
        json_decref(h->v[h->start]);
        h->v[h->start] = json_incref(e);
        h->start = (h->start + 1) % h->n;
        return 0;
    }
    if (h->n == h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 64;
        json_t **v;
        if (h->limit > 0 && cap > h->limit)
            cap = (size_t)h->limit;
        if ((v = realloc(h->v, cap * sizeof *v)) == NULL) {
            h->rc = LDG_ENOMEM;
            return EX_OSERR;
        }
        h->v = v;
        h->cap = cap;
    }
    h->v[h->n++] = json_incref(e);
    return 0;
}

/* query --bundle: the matches among a verified bundle's selected events
 * (a segment's range). */
int
cli_query_bundle(struct cli *c, const struct cli_bundle_args *ba,
                 const struct ldg_query *q, int fmt, uint32_t fields,
                 uint64_t limit, int reverse)
{
    struct ldg_bundle_contents *bc = NULL;
    struct bhits h;
    int rc;

    if (fmt != LDG_QFMT_SHORT && fmt != LDG_QFMT_SHORT_UTC &&
        fmt != LDG_QFMT_SHORT_ISO && fmt != LDG_QFMT_JSON &&
        fmt != LDG_QFMT_JSON_PRETTY)
        return cli_usage_err(c, "--bundle prints short, short-iso, "
                                "short-utc, json or json-pretty");
    memset(&h, 0, sizeof h);
    h.c = c;
    h.q = q;
    h.fmt = fmt;
    h.stream = limit == 0 && !reverse;
    signal(SIGPIPE, SIG_IGN);
    /* -n N: the last N (with -r, the first N newest), as on a ledger;
     * either way the last N matches */
    h.limit = limit;
    /* the ledger's own renderer: the lines `query` prints */
    if (ldg_query_render_new(&h.r, fmt, 0) < 0 ||
        (fields != LDG_QF_ALL &&
         ldg_query_render_set_fields(h.r, fields) < 0)) {
        ldg_query_render_free(h.r);
        return cli_fail_err(c, "", LDG_ENOMEM);
    }
    rc = cli_bundle_each(c, ba, bundle_hit, &h, &bc);
    if (rc != 0) {
        if (h.rc == LDG_ETOOBIG)
            cli_err(c, "bundle %s: event %s: --grep: %s", ba->file, h.last_seq,
                    LDG_QUERY_GREP_LIMIT);
        else if (h.rc < 0)
            cli_err(c, "bundle %s: event %s: %s", ba->file, h.last_seq,
                    ldg_strerror(h.rc));
        goto out;
    }
    if (h.matched == 0) {
        /* a bundle holds a selection: say which, so that an empty answer
         * is not taken for the log's */
        if (h.events == 0)
            cli_err(c, "bundle %s holds no events", ba->file);
        else
            cli_err(c,
                    "no event of bundle %s matches: it holds %llu events of "
                    "the log %s, seq %s..%s%s",
                    ba->file, (unsigned long long)h.events, bc->origin,
                    h.first_seq, h.last_seq,
                    h.events == bc->checkpoint_size
                        ? ""
                        : " (a selection; an archive holds the events before "
                          "its horizon, earlier archives the ones before "
                          "those)");
    }
    for (size_t k = 0; k < h.n; k++) {
        /* the ring's oldest is at start */
        size_t at =
            reverse ? (h.start + h.n - 1 - k) % h.n : (h.start + k) % h.n;
        if ((rc = bundle_print(c, h.r, h.v[at], fmt)) < 0) {
            cli_err(c, "bundle %s: %s", ba->file, ldg_strerror(rc));
            rc = rc == LDG_ENOMEM ? EX_OSERR : EX_DATAERR;
            goto out;
        }
        if (ferror(stdout))
            break;
    }
    rc = EX_OK;
    if (fflush(stdout) != 0 && errno != EPIPE) {
        cli_err(c, "writing the output: %s", strerror(errno));
        rc = EX_IOERR;
    }
out:
    for (size_t k = 0; k < h.n; k++)
        json_decref(h.v[k]);
    free(h.v);
    ldg_query_render_free(h.r);
    ldg_export_contents_free(bc);
    return rc;
}

/* ---------------------------------------------------- --bundle readers -- */

/* The option whose text the anchors below are read from, named in
 * their errors: --trusted-key, or mirror's --key (cli_trust_arg). */
static const char *trust_opt = "--trusted-key";

/* One field of a pinned anchor (an "anchor" line's NAME=VALUE, or a
 * member of -o json's anchor object, as text): 0, or EX_USAGE after
 * naming the field. *have gets the field's bit. */
static int
pin_field(struct cli *c, const char *where, struct ldg_anchor_pin *p,
          const char *field, const char *val, unsigned *have)
{
    static const char *const names[] = {"key_id",    "pub", "t0",
                                        "period_ns", "seq", "name"};
    uint64_t n = 0;
    unsigned i;

    for (i = 0; i < 6 && strcmp(field, names[i]) != 0; i++)
        ;
    if (i == 6)
        return cli_usage_err(c,
                             "%s: %s: unknown field '%s' (an "
                             "anchor has key_id, pub, t0, period_ns, seq "
                             "and name)",
                             trust_opt, where, field);
    if (*have & (1u << i))
        return cli_usage_err(c, "%s: %s: field '%s' given twice", trust_opt,
                             where, field);
    *have |= 1u << i;
    if (i >= 2 && i <= 4 && cli_parse_u64(val, &n) < 0)
        return cli_usage_err(c,
                             "%s: %s: field '%s' is not a "
                             "number: '%s'",
                             trust_opt, where, field, val);
    switch (i) {
    case 0:
        if (strlen(val) != LDG_KEYID_LEN ||
            strspn(val, "0123456789abcdef") != LDG_KEYID_LEN)
            return cli_usage_err(c,
                                 "%s: %s: field 'key_id' is not "
                                 "%d lowercase hex digits: '%s'",
                                 trust_opt, where, LDG_KEYID_LEN, val);
        memcpy(p->key_id, val, LDG_KEYID_LEN + 1);
        return 0;
    case 1:
        if (strlen(val) != 64 || ldg_unhex(p->anchor, 32, val) < 0)
            return cli_usage_err(c,
                                 "%s: %s: field 'pub' is not 64 "
                                 "hex digits: '%s'",
                                 trust_opt, where, val);
        return 0;
    case 2:
        p->t0_ns = n;
        return 0;
    case 3:
        /* FORMAT.md 5.1: 1 s to 366 days */
        if (n < 1000000000ull || n > 31622400000000000ull)
            return cli_usage_err(c,
                                 "%s: %s: field 'period_ns' %s "
                                 "is not 1 s to 366 days",
                                 trust_opt, where, val);
        p->period_ns = n;
        return 0;
    case 4:
        p->seq = n;
        return 0;
    default:
        if (*val == '\0' || strlen(val) > LDG_NAME_MAX)
            return cli_usage_err(c,
                                 "%s: %s: field 'name' is empty "
                                 "or too long",
                                 trust_opt, where);
        snprintf(p->name, sizeof p->name, "%s", val);
        return 0;
    }
}

/* A pin complete (have: its fields' bits), added to *pins unless the same
 * is there: 0 or EX_USAGE. */
static int
pin_add(struct cli *c, const char *where, const struct ldg_anchor_pin *p,
        unsigned have, struct ldg_anchor_pin **pins, size_t *npins)
{
    static const char *const need[] = {"key_id", "pub", "t0", "period_ns",
                                       "seq"};
    struct ldg_anchor_pin *n;

    for (unsigned i = 0; i < 5; i++)
        if (!(have & (1u << i)))
            return cli_usage_err(c, "%s: %s: field '%s' is missing", trust_opt,
                                 where, need[i]);
    for (size_t i = 0; i < *npins; i++) {
        struct ldg_anchor_pin *q = &(*pins)[i];
        if (strcmp(q->key_id, p->key_id) != 0)
            continue;
        if (memcmp(q->anchor, p->anchor, 32) != 0 || q->t0_ns != p->t0_ns ||
            q->period_ns != p->period_ns || q->seq != p->seq)
            return cli_usage_err(c,
                                 "%s: %s: a second, different "
                                 "anchor of key %s",
                                 trust_opt, where, p->key_id);
        return 0;
    }
    if ((n = realloc(*pins, (*npins + 1) * sizeof *n)) == NULL) {
        cli_err(c, "out of memory");
        return EX_OSERR;
    }
    *pins = n;
    n[(*npins)++] = *p;
    return 0;
}

/* An object of -o json's "anchor" or "anchors". */
static int
pin_json(struct cli *c, const char *where, json_t *o,
         struct ldg_anchor_pin **pins, size_t *npins)
{
    struct ldg_anchor_pin p;
    unsigned have = 0;
    const char *k;
    json_t *v;
    int rc;

    if (!json_is_object(o))
        return cli_usage_err(c, "%s: %s is not an object", trust_opt, where);
    memset(&p, 0, sizeof p);
    json_object_foreach(o, k, v)
    {
        char num[24];
        const char *text = json_string_value(v);
        if (json_is_integer(v) && json_integer_value(v) >= 0) {
            snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
            text = num;
        }
        if (text == NULL)
            text = "(not a string or a number)";
        if ((rc = pin_field(c, where, &p, k, text, &have)) != 0)
            return rc;
    }
    return pin_add(c, where, &p, have, pins, npins);
}

/* What `ledger keys verifier -o json` prints: {"verifier", "anchor"
 * (the log key's), "anchors" (every anchored key's)}. */
static int
trust_json(struct cli *c, const char *text, char *vkey, size_t cap,
           struct ldg_anchor_pin **pins, size_t *npins)
{
    json_error_t je;
    json_t *o = json_loads(text, 0, &je), *a;
    const char *vk;
    size_t i;
    int rc = 0;

    if (o == NULL || !json_is_object(o)) {
        json_decref(o);
        return cli_usage_err(c,
                             "%s: not what `ledger keys verifier "
                             "-o json` prints: %s",
                             trust_opt, o == NULL ? je.text : "not an object");
    }
    vk = json_string_value(json_object_get(o, "verifier"));
    if (vk == NULL || strlen(vk) >= cap || strchr(vk, '+') == NULL) {
        json_decref(o);
        return cli_usage_err(c,
                             "%s: field 'verifier' is missing "
                             "or not a verifier key",
                             trust_opt);
    }
    snprintf(vkey, cap, "%s", vk);
    if ((a = json_object_get(o, "anchor")) != NULL)
        rc = pin_json(c, "anchor", a, pins, npins);
    a = json_object_get(o, "anchors");
    if (rc == 0 && a != NULL && !json_is_array(a))
        rc = cli_usage_err(c,
                           "%s: field 'anchors' is not an "
                           "array",
                           trust_opt);
    for (i = 0; rc == 0 && i < json_array_size(a); i++) {
        char where[48];
        snprintf(where, sizeof where, "anchors[%zu]", i);
        rc = pin_json(c, where, json_array_get(a, i), pins, npins);
    }
    json_decref(o);
    return rc;
}

/* What `ledger keys verifier` prints: the verifier key, then a line
 * "anchor key_id=... pub=... t0=... period_ns=... seq=... name=..." for
 * each anchored key. */
static int
trust_lines(struct cli *c, char *text, char *vkey, size_t cap,
            struct ldg_anchor_pin **pins, size_t *npins)
{
    char *line = text, *next;
    int no = 1, rc;

    next = line + strcspn(line, "\n");
    if (*next)
        *next++ = '\0';
    line[strcspn(line, "\r")] = '\0';
    snprintf(vkey, cap, "%s", line);
    for (line = next; *line; line = next) {
        struct ldg_anchor_pin p;
        unsigned have = 0;
        char where[40], *tok, *save = NULL;
        no++;
        next = line + strcspn(line, "\n");
        if (*next)
            *next++ = '\0';
        line[strcspn(line, "\r")] = '\0';
        if (line[strspn(line, " \t")] == '\0')
            continue;
        snprintf(where, sizeof where, "line %d", no);
        if (strncmp(line, "anchor ", 7) != 0)
            return cli_usage_err(c,
                                 "%s: %s is not an anchor line "
                                 "(\"anchor key_id=... pub=... t0=... "
                                 "period_ns=... seq=...\", what `ledger keys "
                                 "verifier` prints)",
                                 trust_opt, where);
        memset(&p, 0, sizeof p);
        for (tok = strtok_r(line + 7, " \t", &save); tok != NULL;
             tok = strtok_r(NULL, " \t", &save)) {
            char *eq = strchr(tok, '=');
            if (eq == NULL)
                return cli_usage_err(c,
                                     "%s: %s: '%s' is not "
                                     "FIELD=VALUE",
                                     trust_opt, where, tok);
            *eq = '\0';
            if ((rc = pin_field(c, where, &p, tok, eq + 1, &have)) != 0)
                return rc;
        }
        if ((rc = pin_add(c, where, &p, have, pins, npins)) != 0)
            return rc;
    }
    return 0;
}

int
cli_trust_arg(struct cli *c, const char *opt, const char *arg, char *vkey,
              size_t cap, struct ldg_anchor_pin **pins, size_t *npins)
{
    struct stat st;
    char *text;
    int rc;

    trust_opt = opt;
    *pins = NULL;
    *npins = 0;
    if (stat(arg, &st) != 0 && strchr(arg, '+') != NULL) {
        if ((text = strdup(arg)) == NULL)
            return cli_fail_err(c, "", LDG_ENOMEM);
    } else {
        /* a file: what `keys verifier` (-o json) wrote, 64 KiB at most */
        FILE *f = fopen(arg, "r");
        size_t n = 0;
        int e = errno, oom;
        text = f ? malloc(65537) : NULL;
        if (text != NULL)
            n = fread(text, 1, 65537, f);
        if (f == NULL || text == NULL || ferror(f) || n == 0 || n > 65536) {
            oom = (f == NULL && e == ENOMEM) || (f != NULL && text == NULL);
            cli_err(c, "%s: cannot read %s: %s", trust_opt, arg,
                    f == NULL      ? strerror(e)
                    : text == NULL ? "out of memory"
                    : ferror(f)    ? strerror(errno)
                    : n == 0       ? "empty"
                                   : "larger than 64 KiB: not a verifier key");
            if (f)
                fclose(f);
            free(text);
            return oom ? EX_OSERR : n > 65536 ? EX_DATAERR : EX_NOINPUT;
        }
        fclose(f);
        text[n] = '\0';
    }
    rc = text[strspn(text, " \t\r\n")] == '{'
             ? trust_json(c, text, vkey, cap, pins, npins)
             : trust_lines(c, text, vkey, cap, pins, npins);
    free(text);
    if (rc != 0) {
        free(*pins);
        *pins = NULL;
        *npins = 0;
    }
    return rc;
}

int
cli_bundle_exit(int rc)
{
    switch (rc) {
    case 0:
        return EX_OK;
    case LDG_ETAMPER:
        return EX_VERIFY;
    case LDG_ENOTFOUND:
        return EX_NOINPUT;
    case LDG_EKEY: /* no trust anchor given */
        return EX_USAGE;
    case LDG_EBADINPUT:
    case LDG_ETOOBIG:
    case LDG_EVERSION:
        return EX_DATAERR;
    default:
        return cli_exit_code(rc);
    }
}

/* --max-bytes N: a bundle of at most N bytes unpacked, and a member of it
 * up to N (an archive's events.jsonl is as long as its events). */
void
cli_bundle_limits(struct ldg_bundle_limits *lim, uint64_t n)
{
    if (n == 0)
        return;
    lim->total_bytes = n;
    if (n > LDG_BUNDLE_FILE_DEFAULT)
        lim->file_bytes = n;
    if (n > LDG_BUNDLE_TOTAL_DEFAULT)
        lim->files = (uint64_t)1 << 32;
}

int
cli_bundle_opt(struct cli *c, struct cli_bundle_args *b, int id,
               const char *value)
{
    int rc;
    switch (id) {
    case CLI_OPT_BUNDLE:
        b->file = value;
        return 1;
    case CLI_OPT_BUNDLE_KEY:
        /* one log key (cli/args.c refuses a second) */
        free(b->pins);
        if ((rc = cli_trust_arg(c, "--trusted-key", value, b->key,
                                sizeof b->key, &b->pins, &b->npins)) != 0)
            return -rc;
        b->have_key = 1;
        return 1;
    case CLI_OPT_BUNDLE_INSECURE:
        b->insecure = 1;
        return 1;
    case CLI_OPT_BUNDLE_MAX:
        if (cli_parse_u64(value, &b->max_bytes) < 0 || b->max_bytes == 0) {
            cli_usage_err(c, "--max-bytes: a positive number");
            return -EX_USAGE;
        }
        return 1;
    default:
        return 0;
    }
}

int
cli_bundle_read(struct cli *c, const struct cli_bundle_args *b,
                struct ldg_bundle_contents **out)
{
    return cli_bundle_each(c, b, NULL, NULL, out);
}

int
cli_bundle_each(struct cli *c, const struct cli_bundle_args *b,
                int (*fn)(void *ctx, json_t *event), void *ctx,
                struct ldg_bundle_contents **out)
{
    struct ldg_bundle_verify_opts o;
    struct ldg_bundle_report *r;
    int rc;

    *out = NULL;
    memset(&o, 0, sizeof o);
    o.trusted_vkey = b->have_key ? b->key : NULL;
    o.anchors = b->pins;
    o.nanchors = b->npins;
    o.insecure_trust_bundle_key = b->insecure;
    cli_bundle_limits(&o.limits, b->max_bytes);
    r = malloc(sizeof *r);
    if (r == NULL)
        return cli_fail_err(c, "", LDG_ENOMEM);
    rc = ldg_export_each(b->file, &o, r, fn, ctx, out);
    if (rc > 0) { /* fn's: an exit code, said */
        free(r);
        return rc;
    }
    if (rc == LDG_EKEY) { /* the file is there (the library looked first) */
        cli_err(c,
                "--bundle %s: pass --trusted-key with the log's verifier "
                "key (`ledger keys verifier` on the box that wrote it), "
                "or --insecure-trust-bundle-key: a bundle is outside "
                "input and is verified before anything is shown",
                b->file);
        free(r);
        return EX_USAGE;
    }
    if ((rc == LDG_ENOTFOUND || rc == LDG_EIO) && r->nchecks == 1 &&
        r->checks[0].status == LDG_CHECK_FAIL) {
        /* the file could not be opened or read: that is the whole story,
         * said once in verify-bundle's words ("cannot open FILE: why") */
        cli_err(c, "%s", r->checks[0].detail);
        free(r);
        return cli_bundle_exit(rc);
    }
    if (rc < 0) {
        size_t nfail = 0;
        for (size_t i = 0; i < r->nchecks; i++) {
            if (r->checks[i].status != LDG_CHECK_FAIL)
                continue;
            fprintf(stderr, "%sFAIL%s %s: %s\n",
                    cli_paint(c->color_err, CLI_PAINT_FAIL),
                    cli_paint(c->color_err, CLI_PAINT_OFF), r->checks[i].name,
                    r->checks[i].detail);
            nfail++;
        }
        cli_err(c,
                "--bundle %s: %s; nothing of it is shown "
                "(`ledger verify-bundle` says more)",
                b->file,
                rc == LDG_ETAMPER     ? "the bundle does not verify"
                : rc == LDG_ENOTFOUND ? "cannot open it"
                : rc == LDG_EKEY      ? "no trust anchor"
                                      : "not a readable bundle");
        free(r);
        return cli_bundle_exit(rc);
    }
    for (size_t i = 0; i < r->nchecks; i++)
        if (r->checks[i].status == LDG_CHECK_WARN)
            fprintf(stderr, "%sWARN%s %s: %s\n",
                    cli_paint(c->color_err, CLI_PAINT_WARN),
                    cli_paint(c->color_err, CLI_PAINT_OFF), r->checks[i].name,
                    r->checks[i].detail);
    {
        const char *kind = r->segment ? "segment" : "bundle";
        char what[80];
        snprintf(what, sizeof what,
                 r->segment ? "events %llu..%llu of"
                            : "%llu events (%llu "
                              "selected) from",
                 (unsigned long long)(r->segment ? r->sel_first : r->events),
                 (unsigned long long)(r->segment ? r->sel_last : r->selected));
        fprintf(stderr,
                "ledger %s: %s %s verified: %s %s, checkpoint of size "
                "%llu%s%s\n",
                c->cmd, kind, b->file, what, r->origin,
                (unsigned long long)r->checkpoint_size,
                r->key_trusted ? "" : "; log key TAKEN ON TRUST from the ",
                r->key_trusted ? "" : kind);
    }
    free(r);
    return 0;
}

int
cli_out_check(struct cli *c, struct ldg_ledger *l, const char *path,
              int segment)
{
    int rc = ldg_export_out_check(l, path, segment);
    if (rc >= 0)
        return 0;
    cli_err(c, "--out %s", cli_why(l, rc));
    return cli_exit_code(rc);
}
