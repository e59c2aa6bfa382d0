/*
 * central.c — talking to the fleet-wide store, ClickHouse, over its HTTP
 * interface: a query with its data, a string literal, a table name. What
 * is sent is ship.c's; what is checked, audit.c's. docs/FLEET.md has the
 * table and example queries.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fleet/fleet.h"
#include "fleet/fleet_int.h"
#include "http/http.h"
#include "ledger/module.h"
#include "util/util.h"

/* A ClickHouse string literal: quote and backslash escaped. */
void
ldg_ch_sql_string(struct ldg_buf *b, const char *origin)
{
    ldg_buf_puts(b, "'");
    for (const char *p = origin; *p; p++) {
        if (*p == '\'' || *p == '\\')
            ldg_buf_add(b, "\\", 1);
        ldg_buf_add(b, p, 1);
    }
    ldg_buf_puts(b, "'");
}

int
ldg_ch_table_ok(const char *t)
{
    if (t == NULL || *t == '\0' || strlen(t) > 64)
        return 0;
    for (const char *p = t; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9') || *p == '_'))
            return 0;
    return !(t[0] >= '0' && t[0] <= '9');
}

/* base?query=QUERY, percent-encoded, into out: 0, or -1 when it does not
 * fit (a query cut short would be another query). */
static int
url_with_query(char *out, size_t cap, const char *base, const char *query)
{
    size_t o = (size_t)snprintf(out, cap, "%s%squery=", base,
                                strchr(base, '?') ? "&" : "?");
    if (o >= cap)
        return -1;
    for (const unsigned char *q = (const unsigned char *)query; *q; q++) {
        if (o + 4 >= cap)
            return -1;
        if ((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
            (*q >= '0' && *q <= '9') || strchr("-_.~", *q))
            out[o++] = (char)*q;
        else
            o += (size_t)snprintf(out + o, cap - o, "%%%02X", *q);
    }
    LDG_ASSERT(o < cap);
    out[o] = '\0';
    return 0;
}

/* Runs query (with body, if any, as the data after it). */
int
ldg_ch_query(struct ldg_http_client *c, const char *base, const char *query,
             const char *body, size_t len, struct ldg_http_response *resp,
             char *err, size_t errcap)
{
    struct ldg_http_request q;
    char url[4096];
    int rc;

    memset(&q, 0, sizeof q);
    /* said here, before the query is appended: the HTTP layer would name
     * the whole URL, a CREATE TABLE encoded into it */
    if (strncasecmp(base, "http://", 7) != 0 &&
        strncasecmp(base, "https://", 8) != 0) {
        snprintf(err, errcap,
                 "'%s' is not an http(s) URL (ClickHouse's HTTP interface, "
                 "e.g. http://127.0.0.1:8123/)",
                 base);
        return LDG_EINVAL;
    }
    if (url_with_query(url, sizeof url, base, query) < 0) {
        snprintf(err, errcap,
                 "ClickHouse: the URL with its query is longer than %zu "
                 "bytes (a shorter base URL, or table name)",
                 sizeof url - 1);
        return LDG_EINVAL;
    }
    q.method = "POST";
    q.url = url;
    q.body = body ? body : "";
    q.body_len = body ? len : 0;
    q.timeout_ms = 120000;
    q.max_response_bytes = 256u << 20;
    rc = ldg_http_request(c, &q, resp, err, errcap);
    if (rc == LDG_EHTTP && resp->status >= 300 && resp->status < 400) {
        char why[600]; /* http/ names the redirect and where it points */
        snprintf(why, sizeof why, "%s", err);
        snprintf(err, errcap, "ClickHouse: %s", why);
    } else if (rc == LDG_EHTTP) {
        snprintf(err, errcap, "ClickHouse: HTTP %ld: %.300s", resp->status,
                 resp->body ? resp->body : "");
        char *nl = strchr(err, '\n');
        if (nl)
            *nl = '\0';
    }
    return rc;
}

/* Appends one JSONEachRow line for event seq to b (the row layout of
 * docs/FLEET.md). tmp is scratch space for the body's text. */
