/*
 * common.c — small helpers shared by the files of export/.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "export/export_int.h"
#include "ledger/module.h"
#include "util/util.h"

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
    return ldg_event_json(ev, NULL, LDG_EVENT_JSON_RECORDED_V2);
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

int
ldg_export_out_check(struct ldg_ledger *l, const char *path, int segment)
{
    struct stat st;

    if (l == NULL || path == NULL || *path == '\0')
        return LDG_EINVAL;
    if (lstat(path, &st) != 0)
        return 0;
    if (S_ISDIR(st.st_mode))
        ldg_set_errmsg(l,
                       "%s is a directory: the %s file to write is named "
                       "(e.g. %s%s%s), one that does not exist yet",
                       path, segment ? "segment" : "bundle", path,
                       path[strlen(path) - 1] == '/' ? "" : "/",
                       segment ? "NAME.seg" : "NAME.bundle");
    else
        ldg_set_errmsg(l, "%s already exists; not overwriting it", path);
    return LDG_EEXIST;
}
