/*
 * ship.c — `ledger ship`: the log's events into the fleet-wide store,
 * ClickHouse, as JSONEachRow (central.c talks to it).
 *
 * Every row carries what is needed to re-check it against the box's
 * published tiles without trusting ClickHouse: the entry bytes (hex), the
 * leaf hash, and the body with its per-field salts, from which the body
 * commitment in the entry is recomputed (audit.c does).
 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet/fleet.h"
#include "fleet/fleet_int.h"
#include "http/http.h"
#include "ledger/module.h"
#include "util/util.h"

/* ------------------------------------------- JSON into an ldg_buf -- */

/* A JSON string literal of s. */
static void
buf_json(struct ldg_buf *b, const char *s, size_t n)
{
    char *o = (char *)ldg_buf_room(b, 6 * n + 2);
    if (o == NULL)
        return;
    b->len += (size_t)(ldg_json_str_write(o, s, n) - o);
    b->s[b->len] = '\0';
}

/* Lowercase hex of n bytes. */
static void
buf_hex(struct ldg_buf *b, const uint8_t *p, size_t n)
{
    char *o = (char *)ldg_buf_room(b, 2 * n);
    if (o == NULL)
        return;
    ldg_hex(o, p, n); /* and the NUL */
    b->len += 2 * n;
}

static int
ship_row(struct ldg_buf *b, struct ldg_buf *tmp, struct ldg_txn *t,
         const char *origin, uint64_t seq, char *err, size_t errcap)
{
    struct ldg_event ev;
    struct ldg_field *f = NULL;
    size_t nf = 0;
    char num[192];
    int erased = 0, rc;

    rc = ldg_event_get(t, seq, &ev);
    if (rc < 0) {
        snprintf(err, errcap, "event %llu: %s", (unsigned long long)seq,
                 ldg_strerror(rc));
        return rc;
    }
    rc = ldg_body_fields(t, seq, &f, &nf);
    if (rc == LDG_EERASED)
        erased = 1;
    else if (rc < 0) {
        snprintf(err, errcap, "event %llu: body: %s", (unsigned long long)seq,
                 ldg_strerror(rc));
        return rc;
    }
    ldg_buf_puts(b, "{\"origin\":");
    buf_json(b, origin, strlen(origin));
    snprintf(num, sizeof num,
             ",\"seq\":%llu,\"ts_ns\":%llu,\"time\":%llu,\"type\":",
             (unsigned long long)seq, (unsigned long long)ev.ts_ns,
             (unsigned long long)(ev.ts_ns / 1000000000u));
    ldg_buf_puts(b, num);
    buf_json(b, ev.type, strlen(ev.type));
    ldg_buf_puts(b, ",\"subject\":");
    buf_json(b, ev.subject, strlen(ev.subject));
    ldg_buf_puts(b, ",\"run\":");
    buf_json(b, ev.run, strlen(ev.run));
    ldg_buf_puts(b, ",\"actor\":");
    buf_json(b, ev.actor, strlen(ev.actor));
    snprintf(num, sizeof num, ",\"parent\":%lld,\"body\":",
             ev.has_parent ? (long long)ev.parent : -1LL);
    ldg_buf_puts(b, num);
    /* the body as the text of a JSON object, keys sorted (a string
     * column: ldg_body_json_append writes it straight from the stored
     * record), then its salts as another: {"name":"32 hex",...} */
    if (erased) {
        ldg_buf_puts(b, "\"\"");
    } else {
        tmp->len = 0;
        if (ldg_buf_room(tmp, 256) == NULL) {
            ldg_fields_free(f, nf);
            return LDG_ENOMEM;
        }
        rc = ldg_body_json_append(t, seq, &tmp->s, &tmp->len, &tmp->cap);
        if (rc < 0) {
            ldg_fields_free(f, nf);
            snprintf(err, errcap, "event %llu: body: %s",
                     (unsigned long long)seq, ldg_strerror(rc));
            return rc;
        }
        buf_json(b, tmp->s, tmp->len);
    }
    tmp->len = 0;
    ldg_buf_puts(tmp, "{");
    for (size_t i = 0; i < nf; i++) {
        char sh[33];
        if (i > 0)
            ldg_buf_puts(tmp, ",");
        buf_json(tmp, f[i].name, strlen(f[i].name));
        ldg_hex(sh, f[i].salt, 16);
        ldg_buf_puts(tmp, ":\"");
        ldg_buf_add(tmp, sh, 32);
        ldg_buf_puts(tmp, "\"");
    }
    ldg_buf_puts(tmp, "}");
    ldg_fields_free(f, nf);
    ldg_buf_puts(b, ",\"body_salts\":");
    buf_json(b, tmp->s, tmp->len);
    snprintf(num, sizeof num, ",\"body_erased\":%d,\"entry\":\"", erased);
    ldg_buf_puts(b, num);
    {
        uint8_t *whole = malloc(LDG_ENTRY_MAX);
        const uint8_t *e;
        size_t el;
        if (whole == NULL)
            return LDG_ENOMEM;
        rc = ldg_event_entry(t, seq, whole, LDG_ENTRY_MAX, &e, &el);
        if (rc == 0)
            buf_hex(b, e, el);
        free(whole);
        if (rc < 0) {
            snprintf(err, errcap, "event %llu: entry: %s",
                     (unsigned long long)seq, ldg_strerror(rc));
            return rc;
        }
    }
    ldg_buf_puts(b, "\",\"leaf_hash\":\"");
    buf_hex(b, ev.leaf, 32);
    ldg_buf_puts(b, "\",\"body_root\":\"");
    buf_hex(b, ev.body_root, 32);
    ldg_buf_puts(b, "\"}\n");
    if (b->err || tmp->err)
        return b->err ? b->err : tmp->err;
    return 0;
}

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS %s ("
    "origin String, seq UInt64, ts_ns UInt64, time DateTime, type String, "
    "subject String, run String, actor String, parent Int64, "
    "body String, body_salts String, body_erased UInt8, "
    "entry String, leaf_hash String, body_root String"
    ") ENGINE = ReplacingMergeTree() PARTITION BY toYYYYMM(time) "
    "ORDER BY (origin, seq)";

/*
 * The rows are built on a thread of their own while the calling thread
 * sends the previous batch: ClickHouse parses and stores one batch while
 * the next is made, so on two cores ship takes about the longer of the
 * two instead of their sum. Two buffers, handed back and forth; the
 * builder owns the read transaction (LMDB's are per thread).
 */
struct ship_pipe {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct ldg_ledger *l;
    const char *origin;
    uint64_t from, size;
    size_t batch;
    struct ldg_buf rows[2], tmp;
    uint64_t end[2];
    int full[2];    /* rows[k] holds a batch to send */
    int done, stop; /* the builder finished; the sender gave up */
    int rc;         /* the builder's */
    char err[512];
};

static void *
ship_builder(void *arg)
{
    struct ship_pipe *p = arg;
    struct ldg_txn *t = NULL;
    uint64_t size = 0;
    int rc = ldg_txn_begin(p->l, LDG_TXN_READ, &t), k = 0;

    if (rc == 0)
        rc = ldg_txn_size(t, &size);
    if (rc < 0)
        snprintf(p->err, sizeof p->err, "cannot read the log: %s",
                 ldg_strerror(rc));
    if (rc == 0 && p->from > size) {
        snprintf(p->err, sizeof p->err,
                 "holds seq %llu for origin %s but this log has only %llu "
                 "events: the log was rolled back, or another log uses the "
                 "same origin (audit-central tells which rows are wrong)",
                 (unsigned long long)(p->from - 1), p->origin,
                 (unsigned long long)size);
        rc = LDG_ETAMPER;
    }
    pthread_mutex_lock(&p->mu);
    p->size = size;
    pthread_mutex_unlock(&p->mu);
    if (rc == 0)
        ldg_access_hint(p->l, LDG_ACCESS_SEQUENTIAL);
    for (uint64_t s = p->from; rc == 0 && s < size; k ^= 1) {
        uint64_t end = s + p->batch < size ? s + p->batch : size;
        pthread_mutex_lock(&p->mu);
        while (p->full[k] && !p->stop)
            pthread_cond_wait(&p->cv, &p->mu);
        pthread_mutex_unlock(&p->mu);
        if (p->stop)
            break;
        p->rows[k].len = 0;
        for (; rc == 0 && s < end; s++)
            rc = ship_row(&p->rows[k], &p->tmp, t, p->origin, s, p->err,
                          sizeof p->err);
        if (rc < 0)
            break;
        pthread_mutex_lock(&p->mu);
        p->end[k] = end;
        p->full[k] = 1;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
    ldg_txn_abort(t);
    pthread_mutex_lock(&p->mu);
    p->rc = rc;
    p->done = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Sends the batches [from, size) the builder makes, in order. */
static int
ship_batches(struct ldg_ledger *l, struct ldg_http_client *c, const char *url,
             const char *table, const char *origin, uint64_t from, size_t batch,
             struct ldg_ship_report *rep, uint64_t *size, char *err,
             size_t errcap)
{
    struct ship_pipe *p = calloc(1, sizeof *p);
    struct ldg_http_response resp;
    pthread_t th;
    char q[512];
    int rc = 0, k = 0;

    if (p == NULL)
        return LDG_ENOMEM;
    p->l = l;
    p->origin = origin;
    p->from = from;
    p->batch = batch;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    if (pthread_create(&th, NULL, ship_builder, p) != 0) {
        rc = LDG_ENOMEM;
        goto out;
    }
    snprintf(q, sizeof q, "INSERT INTO %s FORMAT JSONEachRow", table);
    for (;; k ^= 1) {
        pthread_mutex_lock(&p->mu);
        while (!p->full[k] && !p->done)
            pthread_cond_wait(&p->cv, &p->mu);
        if (!p->full[k]) { /* done, and nothing more to send */
            pthread_mutex_unlock(&p->mu);
            break;
        }
        pthread_mutex_unlock(&p->mu);
        memset(&resp, 0, sizeof resp);
        rc = ldg_ch_query(c, url, q, p->rows[k].s, p->rows[k].len, &resp, err,
                          errcap);
        ldg_http_response_release(&resp);
        pthread_mutex_lock(&p->mu);
        if (rc < 0)
            p->stop = 1;
        else {
            rep->shipped = p->end[k] - from;
            rep->batches++;
        }
        p->full[k] = 0;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        if (rc < 0)
            break;
    }
    pthread_join(th, NULL);
    *size = p->size;
    if (rc == 0 && p->rc < 0) {
        rc = p->rc;
        snprintf(err, errcap, "%s%s%s", rc == LDG_ETAMPER ? table : "",
                 rc == LDG_ETAMPER ? " " : "", p->err);
    }
out:
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p->rows[0].p);
    free(p->rows[1].p);
    free(p->tmp.p);
    free(p);
    return rc;
}

int
ldg_ship(struct ldg_ledger *l, const char *url, const char *table, size_t batch,
         struct ldg_ship_report *rep, char *err, size_t errcap)
{
    struct ldg_http_client *c = NULL;
    struct ldg_http_response resp;
    struct ldg_buf b = {0};
    char q[512];
    const char *origin = ldg_origin(l);
    uint64_t from = 0, size = 0;
    int rc;

    memset(rep, 0, sizeof *rep);
    memset(&resp, 0, sizeof resp);
    if (table == NULL)
        table = "ledger_events";
    if (!ldg_ch_table_ok(table)) {
        snprintf(err, errcap,
                 LDG_OPT_TABLE
                 " '%s': want a plain name ([A-Za-z_][A-Za-z0-9_]*)",
                 table);
        return LDG_EINVAL;
    }
    if (batch == 0)
        batch = 20000;
    if ((rc = ldg_http_client_new(&c)) < 0)
        return rc;
    snprintf(q, sizeof q, schema, table);
    rc = ldg_ch_query(c, url, q, NULL, 0, &resp, err, errcap);
    ldg_http_response_release(&resp);
    if (rc < 0)
        goto out;
    /* resume: what the table holds for this origin */
    ldg_buf_puts(&b, "SELECT count(), max(seq) FROM ");
    ldg_buf_puts(&b, table);
    ldg_buf_puts(&b, " WHERE origin = ");
    ldg_ch_sql_string(&b, origin);
    ldg_buf_puts(&b, " FORMAT TabSeparated");
    rc = ldg_ch_query(c, url, b.s, NULL, 0, &resp, err, errcap);
    if (rc == 0) {
        unsigned long long cnt = 0, mx = 0;
        /* digits only: %llu takes "-1" and wraps it (a hostile or broken
         * server would make every event shipped again) */
        if (resp.body == NULL || !isdigit((unsigned char)resp.body[0]) ||
            strchr(resp.body, '-') != NULL ||
            sscanf(resp.body, "%llu\t%llu", &cnt, &mx) != 2) {
            snprintf(err, errcap,
                     "ClickHouse: unexpected answer to the "
                     "resume query");
            rc = LDG_EBADINPUT;
        } else {
            from = cnt ? mx + 1 : 0;
        }
    }
    ldg_http_response_release(&resp);
    b.len = 0;
    if (rc < 0)
        goto out;
    rep->from = from;
    rc = ship_batches(l, c, url, table, origin, from, batch, rep, &size, err,
                      errcap);
    if (rc < 0)
        goto out;
    rep->to = size;
out:
    ldg_http_client_free(c);
    free(b.p);
    return rc;
}

int
ldg_ship_rows(struct ldg_txn *t, const char *origin, uint64_t lo, uint64_t hi,
              char **out, size_t *len, char *err, size_t errcap)
{
    struct ldg_buf b = {0}, tmp = {0};
    int rc = 0;

    for (uint64_t s = lo; s < hi && rc == 0; s++)
        rc = ship_row(&b, &tmp, t, origin, s, err, errcap);
    free(tmp.p);
    if (rc < 0 || b.err || b.p == NULL) {
        free(b.p);
        return rc < 0 ? rc : b.err ? b.err : LDG_ENOMEM;
    }
    *out = b.s;
    *len = b.len;
    return 0;
}
