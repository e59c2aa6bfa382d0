/*
 * audit.c — `ledger audit-central`: the fleet-wide store's rows against
 * verified mirrors (rows missing, rows whose entry is not the mirror's
 * leaf, bodies that disagree with their commitment, rows of no event).
 */
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fleet/fleet.h"
#include "fleet/fleet_int.h"
#include "http/http.h"
#include "ledger/module.h"
#include "util/util.h"

struct audit {
    struct ldg_http_client *c;
    const char *url, *table;
    struct ldg_audit_report *rep;
    void (*finding)(void *ctx, const char *line);
    void *ctx;
    char *err;
    size_t errcap;
    /* the mirror of the origin being audited */
    char dir[4096];
    uint64_t size;
    uint64_t tile_n; /* level-0 tile held in tile[], or UINT64_MAX */
    uint8_t tile[LDG_TILE_WIDTH * 32];
};

static void found(struct audit *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
found(struct audit *a, const char *fmt, ...)
{
    char line[1024];
    va_list ap;

    a->rep->findings++;
    if (a->finding == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    a->finding(a->ctx, line);
}

/* The leaf hash at seq from the mirror's verified level-0 tiles. */
static int
mirror_leaf(struct audit *a, uint64_t seq, uint8_t out[32])
{
    uint64_t n = seq / LDG_TILE_WIDTH;

    if (n != a->tile_n) {
        uint64_t w = a->size - n * LDG_TILE_WIDTH;
        char rel[128], path[4400], *buf = NULL;
        size_t len = 0;
        if (w > LDG_TILE_WIDTH)
            w = LDG_TILE_WIDTH;
        ldg_tlog_tile_path(rel, sizeof rel, 0, n, (unsigned)w);
        snprintf(path, sizeof path, "%s/%s", a->dir, rel);
        if (ldg_fleet_read_file(path, LDG_TILE_WIDTH * 32, &buf, &len) < 0 ||
            len != w * 32) {
            free(buf);
            snprintf(a->err, a->errcap, "mirror %s: %s missing or short",
                     a->dir, rel);
            return LDG_ECORRUPT;
        }
        memcpy(a->tile, buf, len);
        free(buf);
        a->tile_n = n;
    }
    memcpy(out, a->tile + (seq % LDG_TILE_WIDTH) * 32, 32);
    return 0;
}

static void
check_column(struct audit *a, const char *origin, uint64_t seq, json_t *row,
             const char *col, const char *want)
{
    const char *got = json_string_value(json_object_get(row, col));

    if (got == NULL || strcmp(got, want) != 0)
        found(a,
              "%s seq %llu: column '%s' is \"%.80s\" but the entry says "
              "\"%.80s\"",
              origin, (unsigned long long)seq, col, got ? got : "(none)", want);
}

/* A number column (ClickHouse quotes 64-bit ones in JSON; toString makes
 * every one a string) against the entry's value, as decimal text. */
static void
check_number(struct audit *a, const char *origin, uint64_t seq, json_t *row,
             const char *col, const char *want)
{
    json_t *v = json_object_get(row, col);
    char got[32] = "";
    if (json_is_string(v))
        snprintf(got, sizeof got, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(got, sizeof got, "%lld", (long long)json_integer_value(v));
    if (strcmp(got, want) != 0)
        found(a, "%s seq %llu: column '%s' is %s but the entry says %s", origin,
              (unsigned long long)seq, col, got[0] ? got : "(none)", want);
}

static void
check_body(struct audit *a, const char *origin, uint64_t seq, json_t *row,
           const struct ldg_event *ev)
{
    const char *btxt = json_string_value(json_object_get(row, "body"));
    const char *stxt = json_string_value(json_object_get(row, "body_salts"));
    json_t *body = NULL, *salts = NULL;
    uint8_t(*dig)[32] = NULL, root[32];
    const char *name;
    json_t *v;
    size_t n = 0;

    if (json_integer_value(json_object_get(row, "body_erased")) != 0) {
        /* erased on the box: nothing to check but the entry, and that
         * the row then carries no body (a forged one would be read by
         * every query of the table, under a flag that skips the check) */
        if (btxt == NULL || btxt[0] != '\0' || stxt == NULL ||
            strcmp(stxt, "{}") != 0)
            found(a,
                  "%s seq %llu: marked body_erased but carries a body "
                  "(\"%.60s\") or salts (\"%.60s\")",
                  origin, (unsigned long long)seq, btxt ? btxt : "(none)",
                  stxt ? stxt : "(none)");
        return;
    }
    if (btxt != NULL)
        body = json_loads(btxt, JSON_DECODE_ANY, NULL);
    if (stxt != NULL)
        salts = json_loads(stxt, 0, NULL);
    if (!json_is_object(body) || !json_is_object(salts) ||
        json_object_size(body) != json_object_size(salts)) {
        found(a, "%s seq %llu: body or body_salts malformed", origin,
              (unsigned long long)seq);
        goto out;
    }
    dig = calloc(json_object_size(body) + 1, 32);
    if (dig == NULL)
        goto out;
    json_object_foreach(body, name, v)
    {
        const char *sh = json_string_value(json_object_get(salts, name));
        uint8_t salt[16];
        if (sh == NULL || strlen(sh) != 32 || ldg_unhex(salt, 16, sh) < 0 ||
            ldg_field_digest(dig[n], salt, name, v) < 0) {
            found(a, "%s seq %llu: field '%s' has no valid salt", origin,
                  (unsigned long long)seq, name);
            goto out;
        }
        n++;
    }
    ldg_body_root(root, (const uint8_t(*)[32])dig, n);
    if (memcmp(root, ev->body_root, 32) != 0)
        found(a,
              "%s seq %llu: body disagrees with its commitment in the "
              "entry",
              origin, (unsigned long long)seq);
out:
    free(dig);
    json_decref(body);
    json_decref(salts);
}

static void
check_row(struct audit *a, const char *origin, json_t *row, uint64_t seq)
{
    const char *hex = json_string_value(json_object_get(row, "entry"));
    const char *lh = json_string_value(json_object_get(row, "leaf_hash"));
    uint8_t *entry = NULL, leaf[32], want[32];
    struct ldg_event ev;
    size_t n;
    char lhex[65], num[32];

    a->rep->rows++;
    n = hex ? strlen(hex) / 2 : 0;
    entry = malloc(n + 1);
    if (hex == NULL || entry == NULL || strlen(hex) % 2 != 0 ||
        ldg_unhex(entry, n, hex) < 0) {
        found(a, "%s seq %llu: entry is not hex", origin,
              (unsigned long long)seq);
        free(entry);
        return;
    }
    ldg_tlog_leaf_hash(leaf, entry, n);
    if (mirror_leaf(a, seq, want) < 0) {
        found(a, "%s", a->err);
        free(entry);
        return;
    }
    if (memcmp(leaf, want, 32) != 0) {
        found(a,
              "%s seq %llu: entry does not hash to the tile's leaf "
              "(mirrored log)",
              origin, (unsigned long long)seq);
        free(entry);
        return;
    }
    ldg_hex(lhex, leaf, 32);
    if (lh == NULL || strcmp(lh, lhex) != 0)
        found(a,
              "%s seq %llu: column 'leaf_hash' is not the entry's leaf "
              "hash",
              origin, (unsigned long long)seq);
    if (ldg_event_decode(entry, n, &ev) < 0 || ev.seq != seq) {
        found(a, "%s seq %llu: entry does not decode as event %llu", origin,
              (unsigned long long)seq, (unsigned long long)seq);
        free(entry);
        return;
    }
    check_column(a, origin, seq, row, "type", ev.type);
    check_column(a, origin, seq, row, "subject", ev.subject);
    check_column(a, origin, seq, row, "run", ev.run);
    check_column(a, origin, seq, row, "actor", ev.actor);
    snprintf(num, sizeof num, "%llu", (unsigned long long)ev.ts_ns);
    check_number(a, origin, seq, row, "ts_ns", num);
    snprintf(num, sizeof num, "%llu",
             (unsigned long long)(ev.ts_ns / 1000000000u));
    check_number(a, origin, seq, row, "time", num);
    snprintf(num, sizeof num, "%lld",
             ev.has_parent ? (long long)ev.parent : -1LL);
    check_number(a, origin, seq, row, "parent", num);
    ldg_hex(lhex, ev.body_root, 32);
    check_column(a, origin, seq, row, "body_root", lhex);
    check_body(a, origin, seq, row, &ev);
    free(entry);
}

static void
report_missing(struct audit *a, const char *origin, uint64_t lo, uint64_t hi)
{
    a->rep->missing += hi - lo;
    if (hi - lo == 1)
        found(a, "%s seq %llu: in the log but missing from ClickHouse", origin,
              (unsigned long long)lo);
    else
        found(a,
              "%s seq %llu..%llu: %llu rows in the log but missing from "
              "ClickHouse",
              origin, (unsigned long long)lo, (unsigned long long)(hi - 1),
              (unsigned long long)(hi - lo));
}

#define PAGE 8192

/* The row's seq: a JSON integer, or a decimal string (ClickHouse quotes
 * UInt64 in JSON). 0 or -1 if missing or not a number. */
static int
row_seq(json_t *row, uint64_t *seq)
{
    json_t *s = json_object_get(row, "seq");

    if (json_is_integer(s) && json_integer_value(s) >= 0) {
        *seq = (uint64_t)json_integer_value(s);
        return 0;
    }
    if (json_is_string(s)) {
        const char *v = json_string_value(s);
        uint64_t n = 0;
        if (*v == '\0' || strlen(v) > 19)
            return -1;
        for (; *v; v++) {
            if (*v < '0' || *v > '9')
                return -1;
            n = n * 10 + (uint64_t)(*v - '0');
        }
        *seq = n;
        return 0;
    }
    return -1;
}

/* Decodes and checks one page of rows (JSONEachRow: one JSON object a
 * line) that the query for seq in [lo, hi), ascending, returned. *next is
 * the seq expected next; gaps before a row are reported missing. A line
 * that is not an object with a seq, or a seq out of order or outside the
 * page, is itself a finding: nothing in the answer is skipped unseen. */
static void
audit_page(struct audit *a, const char *origin, const char *p, size_t len,
           uint64_t lo, uint64_t hi, uint64_t *next)
{
    const char *end = p + len;
    uint64_t line = 0;

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        json_t *row;
        json_error_t je;
        uint64_t seq = 0;
        if (nl == NULL)
            nl = end;
        line++;
        if (nl == p) { /* an empty line */
            p = nl + 1;
            continue;
        }
        row = json_loadb(p, (size_t)(nl - p), 0, &je);
        p = nl + 1;
        if (!json_is_object(row) || row_seq(row, &seq) < 0) {
            a->rep->rows++;
            found(a,
                  "%s rows %llu..%llu, line %llu of the answer: not a row "
                  "with a seq (%.200s)",
                  origin, (unsigned long long)lo, (unsigned long long)hi - 1,
                  (unsigned long long)line,
                  row == NULL ? je.text : "no numeric \"seq\"");
            json_decref(row);
            continue;
        }
        if (seq < *next || seq < lo || seq >= hi) {
            a->rep->rows++;
            found(a,
                  "%s seq %llu: row out of order or outside the rows "
                  "%llu..%llu asked for (a duplicate?)",
                  origin, (unsigned long long)seq, (unsigned long long)lo,
                  (unsigned long long)hi - 1);
            json_decref(row);
            continue;
        }
        if (seq > *next)
            report_missing(a, origin, *next, seq);
        check_row(a, origin, row, seq);
        *next = seq + 1;
        json_decref(row);
    }
}

static int
audit_origin(struct audit *a, const char *origin)
{
    struct ldg_http_response resp;
    struct ldg_buf q = {0};
    uint64_t next = 0;
    int rc = 0;

    a->tile_n = UINT64_MAX;
    for (uint64_t lo = 0; lo < a->size; lo += PAGE) {
        char num[96];
        q.len = 0;
        ldg_buf_puts(&q,
                     "SELECT seq, type, subject, run, actor, toString(ts_ns) "
                     "AS ts_ns, toString(toUnixTimestamp(time)) AS time, "
                     "toString(parent) AS parent, body, body_salts, "
                     "body_erased, entry, leaf_hash, body_root FROM ");
        ldg_buf_puts(&q, a->table);
        ldg_buf_puts(&q, " FINAL WHERE origin = ");
        ldg_ch_sql_string(&q, origin);
        snprintf(
            num, sizeof num,
            " AND seq >= %llu AND seq < %llu ORDER BY seq FORMAT "
            "JSONEachRow",
            (unsigned long long)lo,
            (unsigned long long)(lo + PAGE < a->size ? lo + PAGE : a->size));
        ldg_buf_puts(&q, num);
        memset(&resp, 0, sizeof resp);
        rc = ldg_ch_query(a->c, a->url, q.s, NULL, 0, &resp, a->err, a->errcap);
        if (rc < 0) {
            ldg_http_response_release(&resp);
            goto out;
        }
        audit_page(a, origin, resp.body ? resp.body : "", resp.body_len, lo,
                   lo + PAGE < a->size ? lo + PAGE : a->size, &next);
        ldg_http_response_release(&resp);
    }
    if (next < a->size)
        report_missing(a, origin, next, a->size);
    /* rows beyond the log */
    q.len = 0;
    ldg_buf_puts(&q, "SELECT seq FROM ");
    ldg_buf_puts(&q, a->table);
    ldg_buf_puts(&q, " WHERE origin = ");
    ldg_ch_sql_string(&q, origin);
    {
        char num[96];
        snprintf(num, sizeof num,
                 " AND seq >= %llu GROUP BY seq ORDER BY seq LIMIT 1000 "
                 "FORMAT TabSeparated",
                 (unsigned long long)a->size);
        ldg_buf_puts(&q, num);
    }
    memset(&resp, 0, sizeof resp);
    rc = ldg_ch_query(a->c, a->url, q.s, NULL, 0, &resp, a->err, a->errcap);
    if (rc == 0 && resp.body != NULL) {
        for (char *s = resp.body; *s;) {
            char *nl = strchr(s, '\n');
            if (nl)
                *nl = '\0';
            if (*s) {
                a->rep->extra++;
                found(a,
                      "%s seq %s: in ClickHouse but not in the log "
                      "(mirrored size %llu)",
                      origin, s, (unsigned long long)a->size);
            }
            if (nl == NULL)
                break;
            s = nl + 1;
        }
    }
    ldg_http_response_release(&resp);
out:
    free(q.p);
    return rc;
}

/* One verified mirror: its origin and size, re-checked with its key. */
static int
open_mirror(const char *dir, char *origin, size_t cap, uint64_t *size)
{
    char path[4400], *vkey = NULL, *note = NULL;
    size_t vl = 0, nl = 0;
    uint8_t root[32];
    int rc;

    snprintf(path, sizeof path, "%s/vkey", dir);
    rc = ldg_fleet_read_file(path, 4096, &vkey, &vl);
    if (rc < 0)
        return rc;
    while (vl > 0 && vkey[vl - 1] == '\n')
        vkey[--vl] = '\0';
    snprintf(path, sizeof path, "%s/checkpoint", dir);
    rc = ldg_fleet_read_file(path, 1 << 20, &note, &nl);
    if (rc == 0)
        rc = ldg_checkpoint_open(vkey, note, nl, origin, cap, size, root);
    free(vkey);
    free(note);
    return rc;
}

int
ldg_audit_central(const char *url, const char *table,
                  const char *const *mirrors, size_t nmirrors,
                  void (*finding)(void *ctx, const char *line), void *ctx,
                  struct ldg_audit_report *rep, char *err, size_t errcap)
{
    struct audit *a;
    struct ldg_http_response resp;
    struct {
        char origin[LDG_ORIGIN_MAX + 1];
        char dir[4096];
        uint64_t size;
    } *m = NULL;
    size_t nm = 0, capm = 0;
    char q[512];
    int rc = 0;

    memset(rep, 0, sizeof *rep);
    if (table == NULL)
        table = "ledger_events";
    if (!ldg_ch_table_ok(table)) {
        snprintf(err, errcap, LDG_OPT_TABLE " '%s': want a plain name", table);
        return LDG_EINVAL;
    }
    a = calloc(1, sizeof *a);
    if (a == NULL)
        return LDG_ENOMEM;
    a->url = url;
    a->table = table;
    a->rep = rep;
    a->finding = finding;
    a->ctx = ctx;
    a->err = err;
    a->errcap = errcap;
    /* the mirrors: each DIR is a mirror state, or holds them */
    for (size_t i = 0; i < nmirrors; i++) {
        char sub[4400];
        int single;
        snprintf(sub, sizeof sub, "%s/checkpoint", mirrors[i]);
        single = access(sub, F_OK) == 0;
        {
            DIR *d = single ? NULL : opendir(mirrors[i]);
            struct dirent *de;
            const char *one = mirrors[i];
            if (!single && d == NULL) {
                snprintf(err, errcap,
                         LDG_OPT_MIRROR " %s: not a mirror directory",
                         mirrors[i]);
                rc = LDG_ENOTFOUND;
                goto out;
            }
            for (;;) {
                char dir[4096];
                if (single) {
                    snprintf(dir, sizeof dir, "%s", one);
                } else {
                    de = readdir(d);
                    if (de == NULL)
                        break;
                    if (de->d_name[0] == '.')
                        continue;
                    snprintf(dir, sizeof dir, "%.3000s/%s", one, de->d_name);
                    snprintf(sub, sizeof sub, "%s/checkpoint", dir);
                    if (access(sub, F_OK) != 0)
                        continue;
                }
                if (nm == capm) {
                    size_t nc = capm ? 2 * capm : 8;
                    void *nmm = realloc(m, nc * sizeof *m);
                    if (nmm == NULL) {
                        rc = LDG_ENOMEM;
                        if (d)
                            closedir(d);
                        goto out;
                    }
                    m = nmm;
                    capm = nc;
                }
                snprintf(m[nm].dir, sizeof m[nm].dir, "%s", dir);
                if (open_mirror(dir, m[nm].origin, sizeof m[nm].origin,
                                &m[nm].size) < 0) {
                    snprintf(err, errcap,
                             "mirror %s: its checkpoint does not verify with "
                             "its key",
                             dir);
                    rc = LDG_ETAMPER;
                    if (d)
                        closedir(d);
                    goto out;
                }
                nm++;
                if (single)
                    break;
            }
            if (d)
                closedir(d);
        }
    }
    if (nm == 0) {
        snprintf(err, errcap, "no verified mirror found under " LDG_OPT_MIRROR);
        rc = LDG_ENOTFOUND;
        goto out;
    }
    if ((rc = ldg_http_client_new(&a->c)) < 0)
        goto out;
    /* every origin the table holds must have a mirror */
    snprintf(q, sizeof q,
             "SELECT DISTINCT origin FROM %s ORDER BY origin FORMAT "
             "TabSeparated",
             table);
    memset(&resp, 0, sizeof resp);
    rc = ldg_ch_query(a->c, url, q, NULL, 0, &resp, err, errcap);
    if (rc < 0) {
        ldg_http_response_release(&resp);
        goto out;
    }
    static char none[1];
    for (char *s = resp.body ? resp.body : none; *s;) {
        char *nl = strchr(s, '\n');
        size_t k;
        if (nl)
            *nl = '\0';
        for (k = 0; k < nm && strcmp(m[k].origin, s) != 0; k++)
            ;
        if (*s && k == nm) {
            rep->unmirrored++;
            found(a,
                  "%s: rows in ClickHouse but no verified mirror of this "
                  "origin",
                  s);
        }
        if (nl == NULL)
            break;
        s = nl + 1;
    }
    ldg_http_response_release(&resp);
    for (size_t k = 0; k < nm; k++) {
        snprintf(a->dir, sizeof a->dir, "%s", m[k].dir);
        a->size = m[k].size;
        rep->origins++;
        rc = audit_origin(a, m[k].origin);
        if (rc < 0)
            goto out;
    }
    rc = rep->findings > 0 ? LDG_ETAMPER : 0;
out:
    ldg_http_client_free(a->c);
    free(a);
    free(m);
    return rc;
}

int
ldg_audit_rows(const char *mirror, const char *rows, size_t len,
               void (*finding)(void *ctx, const char *line), void *ctx,
               struct ldg_audit_report *rep, char *err, size_t errcap)
{
    struct audit *a;
    char origin[LDG_ORIGIN_MAX + 1];
    uint64_t next = 0;
    int rc;

    memset(rep, 0, sizeof *rep);
    a = calloc(1, sizeof *a);
    if (a == NULL)
        return LDG_ENOMEM;
    a->rep = rep;
    a->finding = finding;
    a->ctx = ctx;
    a->err = err;
    a->errcap = errcap;
    a->tile_n = UINT64_MAX;
    snprintf(a->dir, sizeof a->dir, "%s", mirror);
    if (open_mirror(mirror, origin, sizeof origin, &a->size) < 0) {
        snprintf(err, errcap,
                 "mirror %s: its checkpoint does not verify with its key",
                 mirror);
        rc = LDG_ETAMPER;
        goto out;
    }
    rep->origins = 1;
    audit_page(a, origin, rows, len, 0, a->size, &next);
    if (next < a->size)
        report_missing(a, origin, next, a->size);
    rc = rep->findings > 0 ? LDG_ETAMPER : 0;
out:
    free(a);
    return rc;
}
