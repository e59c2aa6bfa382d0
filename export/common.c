/*
 * common.c — small helpers shared by write.c and verify.c.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "export/export_int.h"
#include "ledger/module.h"
#include "util/util.h"

int
parse_dec(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;

    if (n == 0 || n > 20 || (n > 1 && s[0] == '0'))
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned d;
        if (s[i] < '0' || s[i] > '9')
            return -1;
        d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

json_t *
json_u64(uint64_t v)
{
    char b[24];
    snprintf(b, sizeof b, "%llu", (unsigned long long)v);
    return json_string(b);
}

json_t *
json_hex(const uint8_t *p, size_t n)
{
    char b[129];
    if (n > 64)
        return NULL;
    ldg_hex(b, p, n);
    return json_string(b);
}

const char *const envelope_keys[] = {
    "seq",       "ts",        "time",         "recorded_ts", "recorded_time",
    "clock",     "type",      "subject",      "run",         "parent",
    "actor",     "id",        "source",       "prev",        "body_commitment",
    "leaf_hash", "signature", "claim_digest", "seal",        "seal_leaf",
    NULL};

/* A format version 2 entry (id, source time or source): its line says
 * when it happened ("ts"/"time": the source's claim if any), when the
 * ledger recorded it ("recorded_ts"/"recorded_time") and which clock
 * "time" is; a version 1 entry's line is as it always was ("ts"/"time"
 * the ledger's). */
static int
is_v2(const struct ldg_event *ev)
{
    return ev->id_len > 0 || ev->has_time || ev->has_source;
}

json_t *
envelope_json(const struct ldg_event *ev)
{
    json_t *o = json_object();
    char tbuf[64];

    if (o == NULL)
        return NULL;
    ldg_time_rfc3339_ns(tbuf, sizeof tbuf, ldg_event_time(ev));
    json_object_set_new(o, "seq", json_u64(ev->seq));
    json_object_set_new(o, "ts", json_u64(ldg_event_time(ev)));
    json_object_set_new(o, "time", json_string(tbuf));
    if (is_v2(ev)) {
        ldg_time_rfc3339_ns(tbuf, sizeof tbuf, ev->ts_ns);
        json_object_set_new(o, "recorded_ts", json_u64(ev->ts_ns));
        json_object_set_new(o, "recorded_time", json_string(tbuf));
        json_object_set_new(o, "clock",
                            json_string(ev->has_time ? "source" : "ledger"));
    }
    json_object_set_new(o, "type", json_string(ev->type));
    json_object_set_new(o, "subject", json_string(ev->subject));
    if (ev->run[0])
        json_object_set_new(o, "run", json_string(ev->run));
    if (ev->has_parent)
        json_object_set_new(o, "parent", json_u64(ev->parent));
    json_object_set_new(o, "actor", json_string(ev->actor));
    if (ev->id_len > 0)
        json_object_set_new(o, "id", json_stringn(ev->id, ev->id_len));
    if (ev->has_source)
        json_object_set_new(o, "source", ldg_event_source_json(ev));
    json_object_set_new(o, "prev", json_hex(ev->prev, 32));
    json_object_set_new(o, "body_commitment", json_hex(ev->body_root, 32));
    json_object_set_new(o, "leaf_hash", json_hex(ev->leaf, 32));
    if (ev->sealed) {
        /* format 2: no signature of its own; its claim digest and the
         * seal that covers it (seals/, sealproofs/) */
        json_object_set_new(o, "claim_digest", json_hex(ev->digest, 32));
        json_object_set_new(o, "seal", json_u64(ev->seal_seq));
        json_object_set_new(o, "seal_leaf", json_u64(ev->seal_leaf));
    } else {
        json_object_set_new(o, "signature", json_hex(ev->sig, 64));
    }
    return o;
}

/* ------------------------------------------------------- text JSON -- */

/* A JSON string: quotes, backslashes and control characters escaped;
 * the rest (valid UTF-8, as the ledger stores it) as is. */
void
gb_jstr(struct ldg_buf *b, const char *s)
{
    const char *run = s;
    ldg_buf_add(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        ldg_buf_add(b, run, (size_t)(s - run));
        if (c == '"' || c == '\\')
            snprintf(esc, sizeof esc, "\\%c", c);
        else
            snprintf(esc, sizeof esc, "\\u%04x", c);
        ldg_buf_puts(b, esc);
        run = s + 1;
    }
    ldg_buf_add(b, run, (size_t)(s - run));
    ldg_buf_add(b, "\"", 1);
}

void
gb_u64(struct ldg_buf *b, uint64_t v)
{
    char buf[24];
    int n = snprintf(buf, sizeof buf, "\"%llu\"", (unsigned long long)v);
    ldg_buf_add(b, buf, (size_t)n);
}

void
gb_hex(struct ldg_buf *b, const uint8_t *p, size_t n)
{
    char buf[131];
    buf[0] = '"';
    ldg_hex(buf + 1, p, n);
    buf[1 + 2 * n] = '"';
    ldg_buf_add(b, buf, 2 + 2 * n);
}

/* A JSON value, compact. */
void
gb_value(struct ldg_buf *b, const json_t *v)
{
    char *s;
    if (b->err)
        return;
    s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (s == NULL) {
        b->err = LDG_ENOMEM;
        return;
    }
    ldg_buf_puts(b, s);
    free(s);
}

/* The envelope as envelope_json() shows it, written as text (without the
 * closing brace). */
void
gb_envelope(struct ldg_buf *b, const struct ldg_event *ev)
{
    char tbuf[64];

    ldg_time_rfc3339_ns(tbuf, sizeof tbuf, ldg_event_time(ev));
    ldg_buf_puts(b, "{\"seq\":");
    gb_u64(b, ev->seq);
    ldg_buf_puts(b, ",\"ts\":");
    gb_u64(b, ldg_event_time(ev));
    ldg_buf_puts(b, ",\"time\":");
    gb_jstr(b, tbuf);
    if (is_v2(ev)) {
        ldg_time_rfc3339_ns(tbuf, sizeof tbuf, ev->ts_ns);
        ldg_buf_puts(b, ",\"recorded_ts\":");
        gb_u64(b, ev->ts_ns);
        ldg_buf_puts(b, ",\"recorded_time\":");
        gb_jstr(b, tbuf);
        ldg_buf_puts(b, ev->has_time ? ",\"clock\":\"source\""
                                     : ",\"clock\":\"ledger\"");
    }
    ldg_buf_puts(b, ",\"type\":");
    gb_jstr(b, ev->type);
    ldg_buf_puts(b, ",\"subject\":");
    gb_jstr(b, ev->subject);
    if (ev->run[0]) {
        ldg_buf_puts(b, ",\"run\":");
        gb_jstr(b, ev->run);
    }
    if (ev->has_parent) {
        ldg_buf_puts(b, ",\"parent\":");
        gb_u64(b, ev->parent);
    }
    ldg_buf_puts(b, ",\"actor\":");
    gb_jstr(b, ev->actor);
    if (ev->id_len > 0 || ev->has_source) {
        /* the same bytes as json_dumps of envelope_json's values */
        json_t *o = json_object();
        if (o != NULL && ev->id_len > 0)
            json_object_set_new(o, "id", json_stringn(ev->id, ev->id_len));
        if (o != NULL && ev->has_source)
            json_object_set_new(o, "source", ldg_event_source_json(ev));
        if (o == NULL) {
            b->err = LDG_ENOMEM;
        } else {
            if (json_object_get(o, "id") != NULL) {
                ldg_buf_puts(b, ",\"id\":");
                gb_value(b, json_object_get(o, "id"));
            }
            if (json_object_get(o, "source") != NULL) {
                ldg_buf_puts(b, ",\"source\":");
                gb_value(b, json_object_get(o, "source"));
            }
        }
        json_decref(o);
    }
    ldg_buf_puts(b, ",\"prev\":");
    gb_hex(b, ev->prev, 32);
    ldg_buf_puts(b, ",\"body_commitment\":");
    gb_hex(b, ev->body_root, 32);
    ldg_buf_puts(b, ",\"leaf_hash\":");
    gb_hex(b, ev->leaf, 32);
    if (ev->sealed) {
        ldg_buf_puts(b, ",\"claim_digest\":");
        gb_hex(b, ev->digest, 32);
        ldg_buf_puts(b, ",\"seal\":");
        gb_u64(b, ev->seal_seq);
        ldg_buf_puts(b, ",\"seal_leaf\":");
        gb_u64(b, ev->seal_leaf);
    } else {
        ldg_buf_puts(b, ",\"signature\":");
        gb_hex(b, ev->sig, 64);
    }
}
