/*
 * render.c — events as text: short, short-iso, short-precise, short-utc,
 * verbose, json, json-pretty, cat.
 *
 * Rendering writes into a growable buffer owned by the renderer; the CLI
 * writes that buffer out. `json` is written by hand (no intermediate
 * jansson tree for the envelope) because it is the format scripts and the
 * benchmarks stream by the million; it has exactly the keys and order of
 * `ledger show -o json` (cli_event_json). json-pretty goes through
 * ldg_query_event_json and jansson's indenting encoder.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "query/query_int.h"
#include "ledger/module.h"
#include "util/util.h"

#define SUMMARY_MAX 240 /* bytes of the one-line body summary */
#define NAMES_MAX 256   /* cached key names */

/* enum ldg_query_field's names, in its order (the order of a json line) */
static const char *const field_names[LDG_QF_COUNT] = {
    "seq",
    "ts",
    "time",
    "recorded_ts",
    "recorded_time",
    "clock",
    "type",
    "subject",
    "run",
    "parent",
    "actor",
    "actor_name",
    "id",
    "source",
    "prev",
    "body_commitment",
    "leaf_hash",
    "claim_digest",
    "seal",
    "seal_leaf",
    "signature",
    "body",
    "model_at",
};

/* ---------------------------------------------- JSON into an ldg_buf -- */

/* A JSON string literal of the n bytes at s (escaped as jansson does by
 * default). */
static void
q_json_str(struct ldg_buf *b, const char *s, size_t n)
{
    char *o;
    if (ldg_buf_room(b, n * 6 + 2) == NULL)
        return;
    o = b->s + b->len;
    o = ldg_json_str_write(o, s, n);
    b->len = (size_t)(o - b->s);
    b->s[b->len] = '\0';
}

static int
dump_cb(const char *buf, size_t size, void *data)
{
    struct ldg_buf *b = data;
    ldg_buf_add(b, buf, size);
    return b->err ? -1 : 0;
}

void
q_json_value(struct ldg_buf *b, const json_t *v, size_t flags)
{
    if (json_dump_callback(v, dump_cb, b, flags | JSON_ENCODE_ANY) != 0 &&
        !b->err)
        b->err = LDG_ENOMEM;
}

static char *
w_u64(char *o, uint64_t v)
{
    char tmp[24];
    size_t i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    memcpy(o, tmp + i, sizeof tmp - i);
    return o + (sizeof tmp - i);
}

static void
q_buf_u64(struct ldg_buf *b, uint64_t v)
{
    if (ldg_buf_room(b, 20) == NULL)
        return;
    b->len = (size_t)(w_u64(b->s + b->len, v) - b->s);
    b->s[b->len] = '\0';
}

/* ------------------------------------------------------------- formats -- */

static const struct {
    const char *name;
    enum ldg_query_format f;
} formats[] = {
    {"short", LDG_QFMT_SHORT},
    {"human", LDG_QFMT_SHORT},
    {"short-iso", LDG_QFMT_SHORT_ISO},
    {"short-precise", LDG_QFMT_SHORT_PRECISE},
    {"short-utc", LDG_QFMT_SHORT_UTC},
    {"verbose", LDG_QFMT_VERBOSE},
    {"json", LDG_QFMT_JSON},
    {"json-pretty", LDG_QFMT_JSON_PRETTY},
    {"cat", LDG_QFMT_CAT},
};

int
ldg_query_format_parse(const char *name, enum ldg_query_format *out)
{
    if (name == NULL || out == NULL)
        return LDG_EINVAL;
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        if (strcmp(formats[i].name, name) == 0) {
            *out = formats[i].f;
            return 0;
        }
    }
    return LDG_EINVAL;
}

struct ldg_query_render {
    enum ldg_query_format fmt;
    unsigned flags;
    uint32_t fields; /* json, json-pretty: the keys to write */
    struct ldg_buf out;
    struct q_names names;
    time_t last_sec; /* time string cache (short formats) */
    char last_time[64];
    struct q_jsonstate js; /* json's time cache */
    int given;             /* body supplied for this call: 1, -1 erased */
    const json_t *given_body;
    struct ldg_query_iter *it; /* ldg_query_render_iter: its body record */
    struct q_modelcache *mc;   /* "model_at" lookups, per transaction */
    struct q_stream *stream;   /* ldg_query_stream's ring, kept */
    uint64_t bad_seq;          /* a standing verification finding's event */
    char *bad_what;            /* (UINT64_MAX: none) and what it says */
};

/* The body of the event being rendered: the one supplied by the caller
 * (already decoded while matching), else ldg_body_get. */
static int
get_body(struct ldg_query_render *r, struct ldg_txn *t, uint64_t seq,
         json_t **out)
{
    if (r != NULL && r->given == 1) {
        *out = json_incref((json_t *)(uintptr_t)r->given_body);
        return 0;
    }
    if (r != NULL && r->given == -1)
        return LDG_EERASED;
    return ldg_body_get(t, seq, out);
}

int
ldg_query_render_new(struct ldg_query_render **out, enum ldg_query_format fmt,
                     unsigned flags)
{
    struct ldg_query_render *r;
    if (out == NULL || (unsigned)fmt > LDG_QFMT_CAT)
        return LDG_EINVAL;
    r = calloc(1, sizeof *r);
    if (r == NULL)
        return LDG_ENOMEM;
    r->fmt = fmt;
    r->flags = flags;
    r->fields = LDG_QF_ALL;
    r->last_sec = (time_t)-1;
    r->js.utc_sec = (time_t)-1;
    r->bad_seq = UINT64_MAX;
    *out = r;
    return 0;
}

void
ldg_query_render_free(struct ldg_query_render *r)
{
    if (r == NULL)
        return;
    free(r->bad_what);
    ldg_buf_release(&r->out);
    free(r->names.v);
    q_modelcache_free(r->mc);
    q_stream_free(r->stream);
    free(r);
}

const char *
q_key_name(struct q_names *c, struct ldg_txn *t, const char *id)
{
    struct ldg_keyinfo ki;
    struct q_keyname *nv;
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->v[i].id, id) == 0)
            return c->v[i].name;
    if (ldg_key_info(t, id, &ki) < 0)
        ki.name[0] = '\0';
    if (c->n >= NAMES_MAX)
        return "";
    nv = realloc(c->v, (c->n + 1) * sizeof *nv);
    if (nv == NULL) { /* a name left out: the program says memory ran out */
        (void)ldg_alloc_failed();
        return "";
    }
    c->v = nv;
    snprintf(nv[c->n].id, sizeof nv[c->n].id, "%s", id);
    snprintf(nv[c->n].name, sizeof nv[c->n].name, "%s", ki.name);
    return nv[c->n++].name;
}

/* RFC 3339 UTC with nanoseconds, as cli_time prints it (30 bytes), for
 * render_json's raw writer; the date and clock part is formatted once per
 * second. */
static char *
w_utc(struct q_jsonstate *js, char *o, uint64_t ts_ns)
{
    time_t secs = (time_t)(ts_ns / 1000000000u);
    uint32_t ns = (uint32_t)(ts_ns % 1000000000u);
    size_t n;
    if (secs != js->utc_sec) {
        if (ldg_time_rfc3339_base(js->utc_base, sizeof js->utc_base,
                                  (int64_t)secs) < 0)
            snprintf(js->utc_base, sizeof js->utc_base, "?");
        js->utc_sec = secs;
    }
    n = strlen(js->utc_base);
    memcpy(o, js->utc_base, n);
    o += n;
    *o++ = '.';
    for (int i = 8; i >= 0; i--) {
        o[i] = (char)('0' + ns % 10);
        ns /= 10;
    }
    o += 9;
    *o++ = 'Z';
    return o;
}

/* The time column of the short formats. */
static void
short_time(struct ldg_query_render *r, uint64_t ts_ns, struct ldg_buf *b)
{
    time_t secs = (time_t)(ts_ns / 1000000000u);
    char tmp[64];
    struct tm tm;

    if (r->fmt == LDG_QFMT_SHORT_UTC) {
        ldg_time_rfc3339_ns(tmp, sizeof tmp, ts_ns);
        ldg_buf_puts(b, tmp);
        return;
    }
    if (secs != r->last_sec) {
        if (r->fmt == LDG_QFMT_SHORT_ISO) {
            char z[8];
            localtime_r(&secs, &tm);
            strftime(r->last_time, sizeof r->last_time, "%Y-%m-%dT%H:%M:%S",
                     &tm);
            strftime(z, sizeof z, "%z", &tm); /* +0100 -> +01:00 */
            if (strlen(z) == 5) {
                size_t n = strlen(r->last_time);
                snprintf(r->last_time + n, sizeof r->last_time - n, "%.3s:%.2s",
                         z, z + 3);
            }
        } else {
            ldg_time_local(r->last_time, sizeof r->last_time, ts_ns);
        }
        r->last_sec = secs;
    }
    ldg_buf_puts(b, r->last_time);
    if (r->fmt == LDG_QFMT_SHORT_PRECISE)
        ldg_buf_printf(b, ".%06u", (unsigned)(ts_ns % 1000000000u / 1000u));
}

/* ------------------------------------------------------------- summary -- */

/* Fields shown first in the summary of each type; the rest follow in
 * name order. */
static const struct {
    const char *type;
    const char *fields[8];
} lead_fields[] = {
    {LDG_EV_ROUTE_DECISION,
     {"route", "chosen_model", "fallback", "latency_ms", "outcome", "reason",
      NULL}},
    {LDG_EV_RUN_STEP, {"step", "tool", "status", "duration_ms", NULL}},
    {LDG_EV_RUN_POLICY, {"decision", "rule", "tool", "tier", NULL}},
    {LDG_EV_RUN_STARTED, {"pack", "intent", "requested_by", NULL}},
    {LDG_EV_RUN_FINISHED, {"status", "duration_ms", "error", NULL}},
    {LDG_EV_EVAL_RESULT,
     {"eval_id", "target", "candidate", "passed", "cases_passed", "cases_total",
      NULL}},
    {LDG_EV_MODEL_STATE, {"model", "state", "reason", NULL}},
    {LDG_EV_PACK_INSTALLED, {"pack", "version", NULL}},
};

static int
plain_string(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s; s++)
        if (*s == ' ' || *s == '"' || *s == '=' || (unsigned char)*s < 0x20)
            return 0;
    return 1;
}

#define HUMAN_JSON (JSON_COMPACT | JSON_REAL_PRECISION(15))

static void
summary_field(struct ldg_buf *b, const char *name, const json_t *v)
{
    if (b->len > 0 && b->s[b->len - 1] != ' ')
        ldg_buf_add(b, " ", 1);
    ldg_buf_puts(b, name);
    ldg_buf_add(b, "=", 1);
    if (json_is_string(v) && plain_string(json_string_value(v))) {
        ldg_buf_puts(b, json_string_value(v));
    } else if (json_is_array(v) && json_array_size(v) > 4) {
        ldg_buf_printf(b, "[%zu items]", json_array_size(v));
    } else {
        size_t at = b->len;
        q_json_value(b, v, HUMAN_JSON);
        /* a long nested value; a string is shown quoted, whole (the
         * summary is cut at its end: a reason is never "[...]") */
        if (!b->err && !json_is_string(v) && b->len - at > 64) {
            b->len = at;
            ldg_buf_puts(b, json_is_object(v) ? "{...}" : "[...]");
        }
    }
}

static int
skip_field(const struct ldg_event *ev, const char *name, const json_t *v)
{
    const char *colon = strchr(ev->subject, ':');
    /* the subject column already says it: pack=P for subject pack:P */
    if (colon != NULL && json_is_string(v) &&
        strncmp(ev->subject, name, (size_t)(colon - ev->subject)) == 0 &&
        name[colon - ev->subject] == '\0' &&
        strcmp(colon + 1, json_string_value(v)) == 0)
        return 1;
    return strcmp(name, "run") == 0 && json_is_string(v) &&
           strcmp(json_string_value(v), ev->run) == 0;
}

static void
summary(struct ldg_buf *out, const struct ldg_event *ev, const json_t *body)
{
    struct ldg_buf s;
    const char *const *lead = NULL;
    const char *k;
    json_t *v;

    memset(&s, 0, sizeof s);
    /* run= unless the subject says it already (run:RUN of the same run) */
    if (ev->run[0] && !(strncmp(ev->subject, "run:", 4) == 0 &&
                        strcmp(ev->subject + 4, ev->run) == 0)) {
        ldg_buf_puts(&s, "run=");
        ldg_buf_puts(&s, ev->run);
    }
    for (size_t i = 0; i < sizeof lead_fields / sizeof lead_fields[0]; i++)
        if (strcmp(lead_fields[i].type, ev->type) == 0)
            lead = lead_fields[i].fields;
    for (size_t i = 0; lead != NULL && lead[i] != NULL; i++) {
        json_t *lv = json_object_get(body, lead[i]);
        if (lv != NULL && !skip_field(ev, lead[i], lv))
            summary_field(&s, lead[i], lv);
    }
    json_object_foreach((json_t *)(uintptr_t)body, k, v)
    {
        int led = 0;
        for (size_t i = 0; lead != NULL && lead[i] != NULL && !led; i++)
            led = strcmp(lead[i], k) == 0;
        if (!led && !skip_field(ev, k, v))
            summary_field(&s, k, v);
        if (s.len > SUMMARY_MAX)
            break;
    }
    if (s.err) {
        out->err = s.err;
    } else if (s.len > SUMMARY_MAX) {
        size_t n = SUMMARY_MAX;
        while (n > 0 && ((unsigned char)s.p[n] & 0xc0) == 0x80)
            n--; /* do not cut a UTF-8 sequence */
        ldg_buf_add(out, s.p, n);
        ldg_buf_puts(out, "...");
    } else if (s.len > 0) {
        ldg_buf_add(out, s.p, s.len);
    }
    ldg_buf_release(&s);
}

/* ------------------------------------------------------------ renderers -- */

/* Who submitted the event, as the kernel said (format version 2 "source"):
 * "uid U pid P UNIT" (the unit, else the executable), for the human
 * views beside the signer. Empty when the event carries no source. */
static void
source_label(struct ldg_buf *b, const struct ldg_event *ev)
{
    if (!ev->has_source)
        return;
    ldg_buf_printf(b, "uid %llu pid %llu", (unsigned long long)ev->src_uid,
                   (unsigned long long)ev->src_pid);
    if (ev->src_unit_len > 0)
        ldg_buf_printf(b, " %.*s", (int)ev->src_unit_len, ev->src_unit);
    else if (ev->src_exe_len > 0)
        ldg_buf_printf(b, " %.*s", (int)ev->src_exe_len, ev->src_exe);
}

static int
render_short(struct ldg_query_render *r, struct ldg_txn *t,
             const struct ldg_event *ev, const char *name)
{
    struct ldg_buf *b = &r->out;
    json_t *body = NULL;
    int rc;

    short_time(r, ev->ts_ns, b);
    ldg_buf_add(b, " ", 1);
    q_buf_u64(b, ev->seq);
    ldg_buf_add(b, " ", 1);
    ldg_buf_puts(b, ev->type);
    ldg_buf_add(b, " ", 1);
    ldg_buf_puts(b, ev->subject);
    ldg_buf_add(b, " ", 1);
    ldg_buf_puts(b, name[0] ? name : ev->actor);
    if (ev->has_source) { /* the signer, then who submitted it */
        ldg_buf_add(b, " (", 2);
        source_label(b, ev);
        ldg_buf_add(b, ")", 1);
    }
    ldg_buf_add(b, ":", 1);
    rc = get_body(r, t, ev->seq, &body);
    if (rc == LDG_EERASED) {
        ldg_buf_puts(b, " [body erased]");
    } else if (rc < 0) {
        return rc;
    } else {
        size_t at = b->len;
        ldg_buf_add(b, " ", 1);
        summary(b, ev, body);
        if (b->len == at + 1) /* empty body */
            b->len = at;
        json_decref(body);
    }
    ldg_buf_add(b, "\n", 1);
    return 0;
}

static void
verbose_value(struct ldg_buf *b, const json_t *v)
{
    if (json_is_string(v))
        ldg_buf_puts(b, json_string_value(v));
    else
        q_json_value(b, v, HUMAN_JSON);
}

static int
render_verbose(struct ldg_query_render *r, struct ldg_txn *t,
               const struct ldg_event *ev, const char *name)
{
    struct ldg_buf *b = &r->out;
    char tbuf[64], wd[8], cur[LDG_QUERY_CURSOR_MAX], hex[129];
    time_t secs = (time_t)(ev->ts_ns / 1000000000u);
    struct tm tm;
    json_t *body = NULL, *v;
    const char *k;
    int rc;

    gmtime_r(&secs, &tm);
    strftime(wd, sizeof wd, "%a", &tm);
    ldg_time_rfc3339_ns(tbuf, sizeof tbuf, ev->ts_ns);
    ldg_query_cursor(ev, cur);
    ldg_buf_printf(b, "%s %s [seq %llu, cursor %s]\n", wd, tbuf,
                   (unsigned long long)ev->seq, cur);
    ldg_buf_printf(b, "    type=%s\n    subject=%s\n", ev->type, ev->subject);
    if (ev->run[0])
        ldg_buf_printf(b, "    run=%s\n", ev->run);
    if (ev->has_parent)
        ldg_buf_printf(b, "    parent=%llu\n", (unsigned long long)ev->parent);
    ldg_buf_printf(b, "    actor=%s%s%s%s\n", ev->actor, name[0] ? " (" : "",
                   name, name[0] ? ")" : "");
    if (ev->has_source) {
        ldg_buf_printf(b, "    source=uid %llu gid %llu pid %llu",
                       (unsigned long long)ev->src_uid,
                       (unsigned long long)ev->src_gid,
                       (unsigned long long)ev->src_pid);
        if (ev->src_exe_len > 0)
            ldg_buf_printf(b, " exe %.*s", (int)ev->src_exe_len, ev->src_exe);
        if (ev->src_unit_len > 0)
            ldg_buf_printf(b, " unit %.*s", (int)ev->src_unit_len,
                           ev->src_unit);
        ldg_buf_add(b, "\n", 1);
    }
    if (ev->id_len > 0)
        ldg_buf_printf(b, "    id=%.*s\n", (int)ev->id_len, ev->id);
    ldg_buf_printf(b, "    ts=%llu\n", (unsigned long long)ev->ts_ns);
    if (ev->has_time) {
        ldg_time_rfc3339_ns(tbuf, sizeof tbuf, ev->time_ns);
        ldg_buf_printf(b, "    time=%s (the source's clock)\n", tbuf);
    }
    ldg_hex(hex, ev->prev, 32);
    ldg_buf_printf(b, "    prev=%s\n", hex);
    ldg_hex(hex, ev->body_root, 32);
    ldg_buf_printf(b, "    body_commitment=%s\n", hex);
    ldg_hex(hex, ev->leaf, 32);
    ldg_buf_printf(b, "    leaf_hash=%s\n", hex);
    if (ev->sealed) { /* format 2: its seal vouches for it */
        ldg_hex(hex, ev->digest, 32);
        ldg_buf_printf(b, "    claim_digest=%s\n", hex);
        ldg_buf_printf(b, "    seal=%llu leaf=%llu\n",
                       (unsigned long long)ev->seal_seq,
                       (unsigned long long)ev->seal_leaf);
    } else {
        ldg_hex(hex, ev->sig, 64);
        ldg_buf_printf(b, "    signature=%s\n", hex);
    }
    rc = get_body(r, t, ev->seq, &body);
    if (rc == LDG_EERASED) {
        ldg_buf_puts(b, "    body=[erased]\n");
        return 0;
    }
    if (rc < 0)
        return rc;
    json_object_foreach(body, k, v)
    {
        ldg_buf_printf(b, "    body.%s=", k);
        verbose_value(b, v);
        ldg_buf_add(b, "\n", 1);
    }
    json_decref(body);
    return 0;
}

/* Raw writers for render_json: the caller has reserved the room. */
static char *
w_lit(char *o, const char *s, size_t n)
{
    memcpy(o, s, n);
    return o + n;
}

/* "00" "01" ... "ff": two digits a byte */
static const char hex2[] =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
    "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
    "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
    "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
    "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
    "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
    "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
    "e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

/* Quoted lowercase hex of n bytes (n a multiple of 4: hashes and
 * signatures). Each pair of digits is stored straight to o: four pairs
 * gathered in a local word and copied as one 8-byte store stalled on the
 * read of the word (a load that spans four smaller stores is not
 * forwarded from them), 11% of a whole-line window's samples. */
static char *
w_hex(char *o, const uint8_t *p, size_t n)
{
    *o++ = '"';
    for (size_t i = 0; i < n; i++, o += 2)
        memcpy(o, hex2 + 2 * (size_t)p[i], 2);
    *o++ = '"';
    return o;
}

/* Format version 2 (FORMAT.md 3.1): ,"id":.. and
 * ,"source":{"uid":U,"gid":G,"pid":P[,"exe":..][,"unit":..]} as present
 * (the time is in the head: see json_head). */
static char *
w_v2(char *o, uint32_t fields, const struct ldg_event *ev)
{
    if ((fields & (UINT32_C(1) << LDG_QF_ID)) && ev->id_len > 0) {
        o = w_lit(o, ",\"id\":", 6);
        o = ldg_json_str_write(o, ev->id, ev->id_len);
    }
    if ((fields & (UINT32_C(1) << LDG_QF_SOURCE)) && ev->has_source) {
        o = w_lit(o, ",\"source\":{\"uid\":", 17);
        o = w_u64(o, ev->src_uid);
        o = w_lit(o, ",\"gid\":", 7);
        o = w_u64(o, ev->src_gid);
        o = w_lit(o, ",\"pid\":", 7);
        o = w_u64(o, ev->src_pid);
        if (ev->src_exe_len > 0) {
            o = w_lit(o, ",\"exe\":", 7);
            o = ldg_json_str_write(o, ev->src_exe, ev->src_exe_len);
        }
        if (ev->src_unit_len > 0) {
            o = w_lit(o, ",\"unit\":", 8);
            o = ldg_json_str_write(o, ev->src_unit, ev->src_unit_len);
        }
        *o++ = '}';
    }
    return o;
}

/*
 * {"seq":"S","ts":"T","time":"...","recorded_ts":"R","recorded_time":"...",
 *  "clock":"source"|"ledger","type":..,"subject":..[,"run":..]
 *  [,"parent":"P"],"actor":..[,"actor_name":..][,"id":..][,"source":{..}],
 *  "prev":"hex",
 *  "body_commitment":"hex","leaf_hash":"hex","signature":"hex",
 *  "body":{..} | "erased":true [,"cursor":".."]}
 */
/* The envelope, up to and including "signature", or the fields of it in
 * fields (1 << enum ldg_query_field bits). Every key is written with a
 * comma before it; q_json_close turns the line's first byte into '{'. */
static int
json_head(struct ldg_buf *b, struct q_jsonstate *js, uint32_t fields,
          const struct ldg_event *ev, const char *name)
{
    size_t ntype = strlen(ev->type), nsubj = strlen(ev->subject);
    size_t nrun = strlen(ev->run), nact = strlen(ev->actor);
    size_t nname = strlen(name), nts = 0, ntm = 0;
    uint64_t when = ldg_event_time(ev);
    char *o, *ts = NULL, *tm = NULL;
#define F(x) (fields & (UINT32_C(1) << LDG_QF_##x))

    /* The envelope is written in one go into room reserved once: fixed
     * text and numbers under 512 bytes, hex 320, each string at most 6
     * bytes a byte escaped plus quotes. */
    if (ldg_buf_room(b, 1400 + 6 * (ntype + nsubj + nrun + nact + nname +
                                    ev->id_len + ev->src_exe_len +
                                    ev->src_unit_len)) == NULL)
        return LDG_ENOMEM;
    o = b->s + b->len;
    if (F(SEQ)) {
        o = w_lit(o, ",\"seq\":\"", 8);
        o = w_u64(o, ev->seq);
        *o++ = '"';
    }
    if (F(TS)) {
        o = w_lit(o, ",\"ts\":\"", 7);
        ts = o;
        o = w_u64(o, when);
        nts = (size_t)(o - ts);
        *o++ = '"';
    }
    if (F(TIME)) {
        o = w_lit(o, ",\"time\":\"", 9);
        tm = o;
        o = w_utc(js, o, when);
        ntm = (size_t)(o - tm);
        *o++ = '"';
    }
    /* the ledger's own clock (no source time): the same text again */
    if (F(RECORDED_TS)) {
        o = w_lit(o, ",\"recorded_ts\":\"", 16);
        if (when == ev->ts_ns && ts != NULL)
            o = w_lit(o, ts, nts);
        else
            o = w_u64(o, ev->ts_ns);
        *o++ = '"';
    }
    if (F(RECORDED_TIME)) {
        o = w_lit(o, ",\"recorded_time\":\"", 18);
        if (when == ev->ts_ns && tm != NULL)
            o = w_lit(o, tm, ntm);
        else
            o = w_utc(js, o, ev->ts_ns);
        *o++ = '"';
    }
    if (F(CLOCK)) {
        if (ev->has_time)
            o = w_lit(o, ",\"clock\":\"source\"", 17);
        else
            o = w_lit(o, ",\"clock\":\"ledger\"", 17);
    }
    if (F(TYPE)) {
        o = w_lit(o, ",\"type\":", 8);
        o = ldg_json_str_write(o, ev->type, ntype);
    }
    if (F(SUBJECT)) {
        o = w_lit(o, ",\"subject\":", 11);
        o = ldg_json_str_write(o, ev->subject, nsubj);
    }
    if (F(RUN) && nrun > 0) {
        o = w_lit(o, ",\"run\":", 7);
        o = ldg_json_str_write(o, ev->run, nrun);
    }
    if (F(PARENT) && ev->has_parent) {
        o = w_lit(o, ",\"parent\":\"", 11);
        o = w_u64(o, ev->parent);
        *o++ = '"';
    }
    if (F(ACTOR)) {
        o = w_lit(o, ",\"actor\":", 9);
        o = ldg_json_str_write(o, ev->actor, nact);
    }
    if (F(ACTOR_NAME) && nname > 0) {
        o = w_lit(o, ",\"actor_name\":", 14);
        o = ldg_json_str_write(o, name, nname);
    }
    o = w_v2(o, fields, ev);
    if (F(PREV)) {
        o = w_lit(o, ",\"prev\":", 8);
        o = w_hex(o, ev->prev, 32);
    }
    if (F(BODY_COMMITMENT)) {
        o = w_lit(o, ",\"body_commitment\":", 19);
        o = w_hex(o, ev->body_root, 32);
    }
    if (F(LEAF_HASH)) {
        o = w_lit(o, ",\"leaf_hash\":", 13);
        o = w_hex(o, ev->leaf, 32);
    }
    if (ev->sealed) {
        if (F(CLAIM_DIGEST)) {
            o = w_lit(o, ",\"claim_digest\":", 16);
            o = w_hex(o, ev->digest, 32);
        }
        if (F(SEAL)) {
            o = w_lit(o, ",\"seal\":\"", 9);
            o = w_u64(o, ev->seal_seq);
            *o++ = '"';
        }
        if (F(SEAL_LEAF)) {
            o = w_lit(o, ",\"seal_leaf\":\"", 14);
            o = w_u64(o, ev->seal_leaf);
            *o++ = '"';
        }
    } else if (F(SIGNATURE)) {
        o = w_lit(o, ",\"signature\":", 13);
        o = w_hex(o, ev->sig, 64);
    }
#undef F
    b->len = (size_t)(o - b->s);
    b->s[b->len] = '\0';
    return 0;
}

/* "model_at" (when extra is not empty and asked for), the cursor if asked
 * for, and the end of the line that began at start: its first byte, the
 * comma before the first key, becomes the '{'. */
static void
json_tail(struct ldg_buf *b, size_t start, unsigned flags, uint32_t fields,
          const struct ldg_event *ev, const char *extra)
{
    if (extra != NULL && (fields & (UINT32_C(1) << LDG_QF_MODEL_AT)))
        ldg_buf_puts(b, extra);
    if (flags & LDG_RENDER_CURSOR) {
        char cur[LDG_QUERY_CURSOR_MAX];
        ldg_query_cursor(ev, cur);
        ldg_buf_add(b, ",\"cursor\":\"", 11);
        ldg_buf_puts(b, cur);
        ldg_buf_add(b, "\"", 1);
    }
    if (b->err)
        return;
    if (b->len > start)
        b->s[start] = '{';
    else
        ldg_buf_add(b, "{", 1);
    ldg_buf_add(b, "}\n", 2);
}

/* ,"body":{..} from the stored record, or ,"erased":true (rec NULL), if
 * body is among fields. */
static int
json_body_rec(struct ldg_buf *b, uint32_t fields, const uint8_t *rec,
              size_t rec_len, size_t body_max, const struct ldg_dicts *d)
{
    if (!(fields & (UINT32_C(1) << LDG_QF_BODY)))
        return 0;
    if (rec == NULL) {
        ldg_buf_add(b, ",\"erased\":true", 14);
        return b->err;
    }
    ldg_buf_add(b, ",\"body\":", 8);
    if (b->err)
        return b->err;
    /* the stored record straight to text: the same bytes as json_dumps
     * of the decoded body */
    return ldg_body_record_json_append(d, rec, rec_len, body_max, &b->s,
                                       &b->len, &b->cap);
}

int
q_render_json_rec(struct ldg_buf *b, struct q_jsonstate *js, unsigned flags,
                  uint32_t fields, const struct ldg_event *ev, const char *name,
                  const uint8_t *rec, size_t rec_len, size_t body_max,
                  const struct ldg_dicts *d, const char *extra)
{
    size_t start = b->len;
    int rc = json_head(b, js, fields, ev, name);
    if (rc < 0)
        return rc;
    if ((rc = json_body_rec(b, fields, rec, rec_len, body_max, d)) < 0)
        return rc;
    json_tail(b, start, flags, fields, ev, extra);
    return b->err;
}

/*
 * {"seq":"S","ts":"T","time":"...","recorded_ts":"R","recorded_time":"...",
 *  "clock":"source"|"ledger","type":..,"subject":..[,"run":..]
 *  [,"parent":"P"],"actor":..[,"actor_name":..][,"id":..][,"source":{..}],
 *  "prev":"hex",
 *  "body_commitment":"hex","leaf_hash":"hex","signature":"hex",
 *  "body":{..} | "erased":true [,"cursor":".."]}
 */
static int
render_json(struct ldg_query_render *r, struct ldg_txn *t,
            const struct ldg_event *ev, const char *name)
{
    struct ldg_buf *b = &r->out;
    const uint8_t *rec = NULL; /* the record the iterator has at hand */
    size_t n = 0, start = b->len;
    char *extra = NULL;
    int rc;

    if (r->it != NULL && (r->fields & Q_FIELDS_REC)) {
        rc = q_iter_body_record(r->it, &rec, &n);
        if (rc == LDG_EERASED)
            rec = NULL;
        else if (rc < 0)
            return rc;
    }
    if ((r->fields & (UINT32_C(1) << LDG_QF_MODEL_AT)) &&
        (rc = q_model_at_text(&r->mc, t, ev,
                              r->given == 1 ? r->given_body : NULL,
                              r->given == 0 ? rec : NULL, n, &extra)) < 0)
        return rc;
    if (r->it != NULL) {
        rc = q_render_json_rec(b, &r->js, r->flags, r->fields, ev, name, rec, n,
                               ldg_body_max(ldg_txn_ledger(t)),
                               ldg_txn_dicts(t), extra);
        free(extra);
        return rc;
    }
    if ((rc = json_head(b, &r->js, r->fields, ev, name)) < 0) {
        free(extra);
        return rc;
    }
    if (!(r->fields & (UINT32_C(1) << LDG_QF_BODY))) {
        /* not asked for */
    } else if (r->given == -1) {
        ldg_buf_add(b, ",\"erased\":true", 14);
    } else if (r->given == 1) {
        ldg_buf_add(b, ",\"body\":", 8);
        q_json_value(b, r->given_body, JSON_COMPACT);
    } else {
        /* Straight from the stored record to JSON text: the same bytes
         * as json_dumps of ldg_body_get, without building a tree. */
        size_t mark = b->len;
        ldg_buf_add(b, ",\"body\":", 8);
        if (b->err) {
            free(extra);
            return LDG_ENOMEM;
        }
        rc = ldg_body_json_append(t, ev->seq, &b->s, &b->len, &b->cap);
        if (rc == LDG_EERASED) {
            b->len = mark;
            ldg_buf_add(b, ",\"erased\":true", 14);
        } else if (rc < 0) {
            free(extra);
            return rc;
        }
    }
    json_tail(b, start, r->flags, r->fields, ev, extra);
    free(extra);
    return 0;
}

/* The event as `ledger show -o json` and `query -o json-pretty` show it
 * (json_head and q_render_json_rec write the same keys as text). Not the
 * evidence bundle's events.jsonl envelope (export/common.c envelope_json)
 * and not shared with it: that one is the bundle format's
 * (docs/format-bundle.md section 5), checked key by key by verify-bundle,
 * and its bytes differ (recorded_* only for format 2 entries, actor_name
 * after the envelope, the disclosed body); either may change only with
 * its own format. */
static json_t *
event_json(struct ldg_query_render *r, struct ldg_txn *t,
           const struct ldg_event *ev, const char *name, int *body_rc)
{
    json_t *o = ldg_event_json(ev, name, 0), *body = NULL;
    int rc;

    if (o == NULL)
        return NULL;
    rc = get_body(r, t, ev->seq, &body);
    if (rc == 0)
        json_object_set_new(o, "body", body);
    else if (rc == LDG_EERASED)
        json_object_set_new(o, "erased", json_true());
    else
        json_object_set_new(o, "body_error", json_string(ldg_strerror(rc)));
    if (rc == 0) {
        const char *model = ldg_query_model_of(ev->type, body);
        struct ldg_model_at m;
        struct q_modelcache *tmp = NULL, **mc = r != NULL ? &r->mc : &tmp;
        if (model != NULL &&
            q_modelcache_lookup(mc, t, model, ev->seq, &m) == 0)
            json_object_set_new(o, "model_at",
                                ldg_query_model_at_json(model, &m));
        q_modelcache_free(tmp);
    }
    if (body_rc != NULL)
        *body_rc = rc == LDG_EERASED ? 0 : rc;
    return o;
}

json_t *
ldg_query_event_json(struct ldg_txn *t, const struct ldg_event *ev)
{
    struct ldg_keyinfo ki;
    if (t == NULL || ev == NULL)
        return NULL;
    if (ldg_key_info(t, ev->actor, &ki) < 0)
        ki.name[0] = '\0';
    return event_json(NULL, t, ev, ki.name, NULL);
}

struct erasure {
    struct ldg_txn *t;
    uint64_t target;
    json_t *found;
    int err;
};

static int
on_erasure(void *ctx, uint64_t seq)
{
    struct erasure *x = ctx;
    struct ldg_event ev;
    json_t *body = NULL, *tg;
    int rc = ldg_body_get(x->t, seq, &body);
    if (rc == LDG_EERASED || rc == LDG_ENOTFOUND)
        return 0;
    if (rc < 0 || (rc = ldg_event_get(x->t, seq, &ev)) < 0) {
        json_decref(body);
        x->err = rc;
        return 1;
    }
    tg = json_object_get(body, "target_seq");
    if (json_is_integer(tg) && (uint64_t)json_integer_value(tg) == x->target) {
        char when[LDG_TIME_NS_LEN];
        x->found =
            json_pack("{s:o, s:s, s:O?}", "seq", ldg_json_u64(seq), "time",
                      ldg_time_rfc3339_ns(when, sizeof when, ev.ts_ns),
                      "reason", json_object_get(body, "reason"));
        json_decref(body);
        if (x->found == NULL)
            x->err = LDG_ENOMEM;
        return 1;
    }
    json_decref(body);
    return 0;
}

int
ldg_query_erasure_of(struct ldg_txn *t, uint64_t seq, json_t **out)
{
    struct erasure x = {t, seq, NULL, 0};
    int rc;
    if (t == NULL || out == NULL)
        return LDG_EINVAL;
    *out = NULL;
    rc = ldg_index_walk(t, LDG_INDEX_TYPE, LDG_EV_BODY_ERASED, seq + 1,
                        UINT64_MAX, 0, on_erasure, &x);
    if (rc == 0)
        rc = x.err;
    if (rc < 0) {
        json_decref(x.found);
        return rc;
    }
    if (x.found == NULL)
        return LDG_ENOTFOUND;
    *out = x.found;
    return 0;
}

static int
render_json_pretty(struct ldg_query_render *r, struct ldg_txn *t,
                   const struct ldg_event *ev, const char *name)
{
    int rc = 0;
    json_t *o = event_json(r, t, ev, name, &rc);
    if (o == NULL)
        return LDG_ENOMEM;
    if (rc < 0) {
        json_decref(o);
        return rc;
    }
    if (r->fields != LDG_QF_ALL)
        ldg_query_fields_filter(o, r->fields);
    if (r->flags & LDG_RENDER_CURSOR) {
        char cur[LDG_QUERY_CURSOR_MAX];
        ldg_query_cursor(ev, cur);
        json_object_set_new(o, "cursor", json_string(cur));
    }
    if (ev->seq == r->bad_seq)
        json_object_set_new(o, "verify", json_string(r->bad_what));
    q_json_value(&r->out, o, JSON_INDENT(2));
    ldg_buf_add(&r->out, "\n", 1);
    json_decref(o);
    return 0;
}

static int
render_cat(struct ldg_query_render *r, struct ldg_txn *t,
           const struct ldg_event *ev)
{
    json_t *body = NULL;
    int rc = get_body(r, t, ev->seq, &body);
    if (rc == LDG_EERASED) {
        ldg_buf_puts(&r->out, "[body erased]\n");
        return 0;
    }
    if (rc < 0)
        return rc;
    q_json_value(&r->out, body, JSON_COMPACT);
    ldg_buf_add(&r->out, "\n", 1);
    json_decref(body);
    return 0;
}

int
ldg_query_render_body(struct ldg_query_render *r, struct ldg_txn *t,
                      const struct ldg_event *ev, const json_t *body,
                      int erased, const char **text, size_t *len)
{
    int rc;
    if (r == NULL)
        return LDG_EINVAL;
    r->given = body != NULL ? 1 : erased ? -1 : 0;
    r->given_body = body;
    rc = ldg_query_render_event(r, t, ev, text, len);
    r->given = 0;
    r->given_body = NULL;
    return rc;
}

enum ldg_query_format
q_render_fmt(const struct ldg_query_render *r)
{
    return r->fmt;
}

unsigned
q_render_flags(const struct ldg_query_render *r)
{
    return r->flags;
}

uint32_t
q_render_fields(const struct ldg_query_render *r)
{
    return r->fields;
}

int
ldg_query_fields_parse(const char *list, uint32_t *mask, char *err,
                       size_t errcap)
{
    uint32_t m = 0;
    const char *p = list;

    if (list == NULL || mask == NULL)
        return LDG_EINVAL;
    for (;;) {
        const char *e = strchr(p, ',');
        size_t n = e != NULL ? (size_t)(e - p) : strlen(p);
        int f;
        for (f = 0; f < LDG_QF_COUNT; f++)
            if (strlen(field_names[f]) == n &&
                memcmp(field_names[f], p, n) == 0)
                break;
        if (f == LDG_QF_COUNT) {
            struct ldg_buf known = {0};
            for (int k = 0; k < LDG_QF_COUNT; k++) {
                ldg_buf_puts(&known, k ? ", " : "");
                ldg_buf_puts(&known, field_names[k]);
            }
            if (err == NULL || errcap == 0)
                ; /* no room for a message */
            else if (n == 0)
                snprintf(err, errcap, "empty field name in '%s' (known: %s)",
                         list, known.err ? "?" : known.s);
            else
                snprintf(err, errcap, "unknown field '%.*s' (known: %s)",
                         (int)(n > 64 ? 64 : n), p, known.err ? "?" : known.s);
            ldg_buf_release(&known);
            return LDG_EBADINPUT;
        }
        LDG_ASSERT(f >= 0 && f < LDG_QF_COUNT && LDG_QF_COUNT <= 32);
        m |= UINT32_C(1) << f;
        if (e == NULL)
            break;
        p = e + 1;
    }
    *mask = m;
    return 0;
}

/* Is key one of mask's? "erased" and "body_error" go with "body". */
static int
field_wanted(const char *key, uint32_t mask)
{
    if (strcmp(key, "erased") == 0 || strcmp(key, "body_error") == 0)
        key = "body";
    for (int f = 0; f < LDG_QF_COUNT; f++)
        if (strcmp(field_names[f], key) == 0)
            return (mask & (UINT32_C(1) << f)) != 0;
    return 0;
}

void
ldg_query_fields_filter(json_t *event, uint32_t mask)
{
    const char *k;
    json_t *v;
    void *tmp;
    if (!json_is_object(event))
        return;
    json_object_foreach_safe(event, tmp, k, v)
    {
        (void)v;
        if (!field_wanted(k, mask))
            json_object_del(event, k);
    }
}

int
ldg_query_render_set_fields(struct ldg_query_render *r, uint32_t mask)
{
    if (r == NULL || mask == 0 || (mask & ~LDG_QF_ALL) != 0)
        return LDG_EINVAL;
    r->fields = mask;
    return 0;
}

const char *
q_render_key_name(struct ldg_query_render *r, struct ldg_txn *t, const char *id)
{
    return q_key_name(&r->names, t, id);
}

struct q_modelcache **
q_render_modelcache(struct ldg_query_render *r)
{
    return &r->mc;
}

struct q_stream **
q_render_stream(struct ldg_query_render *r)
{
    return &r->stream;
}

int
ldg_query_render_set_finding(struct ldg_query_render *r, uint64_t seq,
                             const char *what)
{
    char *w;
    if (r == NULL || (seq != UINT64_MAX && what == NULL))
        return LDG_EINVAL;
    w = NULL;
    if (seq != UINT64_MAX) {
        size_t n = strlen(what) + 9;
        if ((w = malloc(n)) == NULL)
            return LDG_ENOMEM;
        snprintf(w, n, Q_FINDING_MARK, what);
    }
    free(r->bad_what);
    r->bad_what = w;
    r->bad_seq = seq;
    return 0;
}

uint64_t
q_render_finding(const struct ldg_query_render *r, const char **what)
{
    *what = r->bad_what;
    return r->bad_seq;
}

void
q_json_mark_finding(struct ldg_buf *b, size_t start, const char *what)
{
    /* the line [start, len) ends in "}\n": the key goes before it */
    if (b->err || b->len < start + 2 || b->s[b->len - 2] != '}')
        return;
    b->len -= 2;
    LDG_ASSERT(b->len >= start);
    ldg_buf_add(b, ",\"verify\":", 10);
    q_json_str(b, what, strlen(what));
    ldg_buf_add(b, "}\n", 2);
}

/* The event a standing verification finding names, marked in the text
 * just rendered (json-pretty has it in its object already; cat writes the
 * body only). */
static void
mark_finding(struct ldg_query_render *r)
{
    switch (r->fmt) {
    case LDG_QFMT_JSON:
        q_json_mark_finding(&r->out, 0, r->bad_what);
        break;
    case LDG_QFMT_JSON_PRETTY:
    case LDG_QFMT_CAT:
        break;
    case LDG_QFMT_VERBOSE:
        ldg_buf_printf(&r->out, "    verify=%s\n", r->bad_what);
        break;
    default:
        ldg_buf_printf(&r->out,
                       "  !! verification %s (" LDG_CMD_VERIFY "; this event's "
                       "data may be altered)\n",
                       r->bad_what);
        break;
    }
}

int
ldg_query_render_iter(struct ldg_query_render *r, struct ldg_query_iter *it,
                      const struct ldg_event *ev, const char **text,
                      size_t *len)
{
    const json_t *body = NULL;
    int st, rc;
    if (r == NULL || it == NULL)
        return LDG_EINVAL;
    st = ldg_query_iter_body(it, &body);
    if (st < 0 && st != LDG_EERASED)
        return st;
    r->given = body != NULL ? 1 : st == LDG_EERASED ? -1 : 0;
    r->given_body = body;
    r->it = r->fmt == LDG_QFMT_JSON ? it : NULL;
    rc = ldg_query_render_event(r, q_iter_txn(it), ev, text, len);
    r->given = 0;
    r->given_body = NULL;
    r->it = NULL;
    return rc;
}

int
ldg_query_render_event(struct ldg_query_render *r, struct ldg_txn *t,
                       const struct ldg_event *ev, const char **text,
                       size_t *len)
{
    const char *name;
    int rc;

    if (r == NULL || t == NULL || ev == NULL || text == NULL || len == NULL)
        return LDG_EINVAL;
    r->out.len = 0;
    r->out.err = 0;
    /* json without actor_name has no use for the name */
    name = (r->fmt == LDG_QFMT_JSON || r->fmt == LDG_QFMT_JSON_PRETTY) &&
                   !(r->fields & (UINT32_C(1) << LDG_QF_ACTOR_NAME))
               ? ""
               : q_key_name(&r->names, t, ev->actor);
    switch (r->fmt) {
    case LDG_QFMT_VERBOSE:
        rc = render_verbose(r, t, ev, name);
        break;
    case LDG_QFMT_JSON:
        rc = render_json(r, t, ev, name);
        break;
    case LDG_QFMT_JSON_PRETTY:
        rc = render_json_pretty(r, t, ev, name);
        break;
    case LDG_QFMT_CAT:
        rc = render_cat(r, t, ev);
        break;
    default:
        rc = render_short(r, t, ev, name);
        break;
    }
    if (rc == 0 && ev->seq == r->bad_seq)
        mark_finding(r);
    if (rc == 0 && r->out.err)
        rc = r->out.err;
    if (rc < 0) {
        ldg_set_errmsg(ldg_txn_ledger(t), "event %llu: body: %s",
                       (unsigned long long)ev->seq, ldg_strerror(rc));
        return rc;
    }
    *text = r->out.s;
    *len = r->out.len;
    return 0;
}

/* ------------------------------------------------- a bundle's events -- */

static int
json_u64(const json_t *v, uint64_t *out)
{
    const char *s = json_string_value(v);
    char *end;
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = (uint64_t)json_integer_value(v);
        return 0;
    }
    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    *out = strtoull(s, &end, 10);
    return errno != 0 || *end != '\0' ? -1 : 0;
}

/* The short line of a bundle's event e, as render_short gives a stored
 * one. */
static int
bundle_short(struct ldg_query_render *r, const json_t *e)
{
    struct ldg_buf *b = &r->out;
    struct ldg_event ev;
    const json_t *body = json_object_get(e, "body"), *src, *v;
    const char *name = json_string_value(json_object_get(e, "actor_name"));
    uint64_t ts;

    memset(&ev, 0, sizeof ev);
    if (json_u64(json_object_get(e, "seq"), &ev.seq) < 0 ||
        !json_is_string(json_object_get(e, "type")) ||
        (json_u64(json_object_get(e, "recorded_ts"), &ts) < 0 &&
         json_u64(json_object_get(e, "ts"), &ts) < 0))
        return LDG_EBADINPUT;
    ev.ts_ns = ts; /* the ledger's time, as a view prints it */
    snprintf(ev.type, sizeof ev.type, "%s",
             json_string_value(json_object_get(e, "type")));
    if ((v = json_object_get(e, "subject")) != NULL && json_is_string(v))
        snprintf(ev.subject, sizeof ev.subject, "%s", json_string_value(v));
    if ((v = json_object_get(e, "run")) != NULL && json_is_string(v))
        snprintf(ev.run, sizeof ev.run, "%s", json_string_value(v));
    if ((v = json_object_get(e, "actor")) != NULL && json_is_string(v))
        snprintf(ev.actor, sizeof ev.actor, "%s", json_string_value(v));
    if (json_is_object(src = json_object_get(e, "source"))) {
        const char *x = json_string_value(json_object_get(src, "exe"));
        const char *u = json_string_value(json_object_get(src, "unit"));
        ev.has_source = 1;
        json_u64(json_object_get(src, "uid"), &ev.src_uid);
        json_u64(json_object_get(src, "pid"), &ev.src_pid);
        ev.src_exe = x;
        ev.src_exe_len = x ? strlen(x) : 0;
        ev.src_unit = u;
        ev.src_unit_len = u ? strlen(u) : 0;
    }
    short_time(r, ev.ts_ns, b);
    ldg_buf_add(b, " ", 1);
    q_buf_u64(b, ev.seq);
    ldg_buf_add(b, " ", 1);
    ldg_buf_puts(b, ev.type);
    ldg_buf_add(b, " ", 1);
    ldg_buf_puts(b, ev.subject);
    ldg_buf_add(b, " ", 1);
    ldg_buf_puts(b, name != NULL && name[0] ? name : ev.actor);
    if (ev.has_source) {
        ldg_buf_add(b, " (", 2);
        source_label(b, &ev);
        ldg_buf_add(b, ")", 1);
    }
    ldg_buf_add(b, ":", 1);
    if (json_is_true(json_object_get(e, "erased"))) {
        ldg_buf_puts(b, " [body erased]");
    } else if (json_is_true(json_object_get(e, "body_withheld"))) {
        ldg_buf_puts(b, " [body withheld]");
    } else {
        size_t at = b->len;
        ldg_buf_add(b, " ", 1);
        if (json_is_object(body))
            summary(b, &ev, body);
        if (b->len == at + 1)
            b->len = at;
        if ((v = json_object_get(e, "withheld")) != NULL) {
            uint64_t k;
            /* (a bundle says how many: "withheld": "N") */
            if (json_u64(v, &k) == 0)
                ldg_buf_printf(b, " [%llu fields withheld]",
                               (unsigned long long)k);
            else
                ldg_buf_puts(b, " [fields withheld]");
        }
    }
    ldg_buf_add(b, "\n", 1);
    return 0;
}

/* The bundle's event e with the keys of a stored event's JSON in their
 * order, the two clocks made whole, then the bundle's own keys. */
static json_t *
bundle_json(const struct ldg_query_render *r, const json_t *e)
{
    json_t *o = json_object(), *v;
    const char *k;

    if (o == NULL)
        return NULL;
    for (int f = 0; f < LDG_QF_COUNT; f++) {
        k = field_names[f];
        v = json_object_get(e, k);
        if (v == NULL && f == LDG_QF_RECORDED_TS)
            v = json_object_get(e, "ts");
        else if (v == NULL && f == LDG_QF_RECORDED_TIME)
            v = json_object_get(e, "time");
        if (v == NULL && f == LDG_QF_CLOCK && json_object_get(e, "ts"))
            /* (a bundle gives the two clocks only for an event with a
             * source time: the others are on the ledger's) */
            json_object_set_new(o, k, json_string("ledger"));
        else if (f == LDG_QF_BODY && json_object_get(e, "erased") != NULL)
            json_object_set(o, "erased", json_object_get(e, "erased"));
        else if (v != NULL)
            json_object_set(o, k, v);
    }
    json_object_foreach((json_t *)(uintptr_t)e, k, v)
    {
        if (json_object_get(o, k) == NULL)
            json_object_set(o, k, v);
    }
    if (r->fields != LDG_QF_ALL)
        ldg_query_fields_filter(o, r->fields);
    return o;
}

int
ldg_query_render_bundle_event(struct ldg_query_render *r, const json_t *e,
                              const char **text, size_t *len)
{
    int rc = 0;

    if (r == NULL || !json_is_object(e) || text == NULL || len == NULL)
        return LDG_EINVAL;
    r->out.len = 0;
    r->out.err = 0;
    switch (r->fmt) {
    case LDG_QFMT_VERBOSE:
    case LDG_QFMT_CAT:
        return LDG_EINVAL;
    case LDG_QFMT_JSON:
    case LDG_QFMT_JSON_PRETTY: {
        json_t *o = bundle_json(r, e);
        char *j;
        if (o == NULL)
            return LDG_ENOMEM;
        j = json_dumps(
            o, (r->fmt == LDG_QFMT_JSON ? JSON_COMPACT : JSON_INDENT(2)) |
                   JSON_PRESERVE_ORDER);
        json_decref(o);
        if (j == NULL)
            return LDG_ENOMEM;
        ldg_buf_puts(&r->out, j);
        ldg_buf_add(&r->out, "\n", 1);
        free(j);
        break;
    }
    default:
        rc = bundle_short(r, e);
        break;
    }
    if (rc == 0 && r->out.err)
        rc = r->out.err;
    if (rc < 0)
        return rc;
    *text = r->out.s;
    *len = r->out.len;
    return 0;
}

int
ldg_query_render_marks(const struct ldg_query_render *r)
{
    return r != NULL && r->fmt != LDG_QFMT_CAT;
}
