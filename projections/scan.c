/*
 * scan.c — events as the folds see them.
 *
 * On the append path the core hands each applier the body as a jansson
 * object. On the rebuild path there is no such object: ldg_body_get would
 * make one, but it computes every field digest and builds a JSON tree,
 * ~30 µs an event on the reference machine, ten times the whole budget of
 * a rebuild (300,000 events/s). So the rebuild reads the stored bytes
 * itself, in key order with two cursors, and looks at only the fields a
 * fold asks for:
 *
 *   entries db, key seq (8 BE):  0x93 ‖ event map ‖ bin32 prev ‖ bin64 sig
 *       event map: canonical msgpack {actor, body, [parent], [run], seq,
 *                  subject, ts, type, v}
 *   bodies db, key seq (8 BE):   flag (0x00 raw, 0x01 zstd) ‖ payload
 *       payload:   canonical msgpack {name: [bin8(16) salt, value], ...}
 *
 * (docs/FORMAT.md, format version 1.) Anything else — a compressed body,
 * another format version, a surprise in the bytes — falls back to the
 * core's own decoders for that event, so this file can only be faster,
 * never wrong. A core accessor that hands out field slices would retire
 * it (see the report in docs/PROJECTIONS.md).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "projections/proj_int.h"

#define SCAN_RELEASE_EVERY 65536 /* events between dropped mappings */

int
sv_eq(struct sv a, const char *s)
{
    size_t n = strlen(s);
    return a.n == n && memcmp(a.p, s, n) == 0;
}

int
sv_prefix(struct sv a, const char *s)
{
    size_t n = strlen(s);
    return a.n >= n && memcmp(a.p, s, n) == 0;
}

/* ------------------------------------------------------------- types -- */

static const struct {
    const char *name;
    enum ev_type t;
} type_names[] = {
    {"host.profile", T_HOST_PROFILE},
    {"runtime.registered", T_RUNTIME_REGISTERED},
    {"runtime.health", T_RUNTIME_HEALTH},
    {"capacity.snapshot", T_CAPACITY_SNAPSHOT},
    {"model.registered", T_MODEL_REGISTERED},
    {"model.verified", T_MODEL_VERIFIED},
    {"model.state", T_MODEL_STATE},
    {"pack.installed", T_PACK_INSTALLED},
    {"pack.validated", T_PACK_VALIDATED},
    {"pack.checked", T_PACK_CHECKED},
    {"pack.enabled", T_PACK_ENABLED},
    {"pack.disabled", T_PACK_DISABLED},
    {"pack.removed", T_PACK_REMOVED},
    {"pack.upgraded", T_PACK_UPGRADED},
    {"permission.requested", T_PERM_REQUESTED},
    {"permission.granted", T_PERM_GRANTED},
    {"permission.denied", T_PERM_DENIED},
    {"permission.revoked", T_PERM_REVOKED},
    {"route.declared", T_ROUTE_DECLARED},
    {"route.decision", T_ROUTE_DECISION},
    {"eval.started", T_EVAL_STARTED},
    {"eval.result", T_EVAL_RESULT},
    {"promotion.requested", T_PROMO_REQUESTED},
    {"promotion.promoted", T_PROMO_PROMOTED},
    {"promotion.rejected", T_PROMO_REJECTED},
    {"promotion.rolled_back", T_PROMO_ROLLED_BACK},
    {"run.started", T_RUN_STARTED},
    {"run.step", T_RUN_STEP},
    {"run.policy", T_RUN_POLICY},
    {"run.finished", T_RUN_FINISHED},
    {"body.erased", T_BODY_ERASED},
};

enum ev_type
ev_type_of(const char *type, size_t len)
{
    /* The hot types first: most of a large log is decisions and runs. */
    if (len == 14 && memcmp(type, "route.decision", 14) == 0)
        return T_ROUTE_DECISION;
    for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++) {
        const char *n = type_names[i].name;
        if (n[0] == type[0] && strlen(n) == len && memcmp(n, type, len) == 0)
            return type_names[i].t;
    }
    return T_OTHER;
}

int
ev_type_feeds(enum ev_type t)
{
    return t != T_OTHER && t != T_EVAL_STARTED && t != T_BODY_ERASED;
}

/* ---------------------------------------------------------- msgpack -- */

/* Reads a msgpack value header at p: sets *len to the full encoded size
 * of the value (with nested values), depth-limited. 0 or -1. */
static int
mp_skip(const uint8_t *p, const uint8_t *end, size_t *len, int depth)
{
    const uint8_t *s = p;
    uint64_t n = 0, items = 0;
    uint8_t c;

    if (p >= end || depth > 64)
        return -1;
    c = *p++;
    if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3) {
        /* fixint, nil, bool */
    } else if ((c & 0xe0) == 0xa0) {
        n = c & 0x1f;
    } else if ((c & 0xf0) == 0x90) {
        items = c & 0x0f;
    } else if ((c & 0xf0) == 0x80) {
        items = (uint64_t)(c & 0x0f) * 2;
    } else {
        switch (c) {
        case 0xcc:
        case 0xd0:
            n = 1;
            break;
        case 0xcd:
        case 0xd1:
            n = 2;
            break;
        case 0xce:
        case 0xd2:
        case 0xca:
            n = 4;
            break;
        case 0xcf:
        case 0xd3:
        case 0xcb:
            n = 8;
            break;
        case 0xd9:
        case 0xc4:
            if (end - p < 1)
                return -1;
            n = p[0];
            p += 1;
            break;
        case 0xda:
        case 0xc5:
            if (end - p < 2)
                return -1;
            n = ((uint64_t)p[0] << 8) | p[1];
            p += 2;
            break;
        case 0xdb:
        case 0xc6:
            if (end - p < 4)
                return -1;
            n = ((uint64_t)p[0] << 24) | ((uint64_t)p[1] << 16) |
                ((uint64_t)p[2] << 8) | p[3];
            p += 4;
            break;
        case 0xdc:
            if (end - p < 2)
                return -1;
            items = ((uint64_t)p[0] << 8) | p[1];
            p += 2;
            break;
        case 0xdd:
            if (end - p < 4)
                return -1;
            items = ((uint64_t)p[0] << 24) | ((uint64_t)p[1] << 16) |
                    ((uint64_t)p[2] << 8) | p[3];
            p += 4;
            break;
        case 0xde:
            if (end - p < 2)
                return -1;
            items = (((uint64_t)p[0] << 8) | p[1]) * 2;
            p += 2;
            break;
        case 0xdf:
            if (end - p < 4)
                return -1;
            items = (((uint64_t)p[0] << 24) | ((uint64_t)p[1] << 16) |
                     ((uint64_t)p[2] << 8) | p[3]) *
                    2;
            p += 4;
            break;
        default:
            return -1; /* ext types and reserved bytes never appear */
        }
    }
    if ((uint64_t)(end - p) < n)
        return -1;
    p += n;
    for (uint64_t i = 0; i < items; i++) {
        size_t l;
        if (mp_skip(p, end, &l, depth + 1) < 0)
            return -1;
        p += l;
    }
    *len = (size_t)(p - s);
    return 0;
}

/* A string at p: 0 and the slice, or -1 if not a string. */
static int
mp_str(const uint8_t *p, size_t len, struct sv *out)
{
    size_t hdr, n;
    if (len < 1)
        return -1;
    if ((p[0] & 0xe0) == 0xa0) {
        hdr = 1;
        n = p[0] & 0x1f;
    } else if (p[0] == 0xd9 && len >= 2) {
        hdr = 2;
        n = p[1];
    } else if (p[0] == 0xda && len >= 3) {
        hdr = 3;
        n = ((size_t)p[1] << 8) | p[2];
    } else if (p[0] == 0xdb && len >= 5) {
        hdr = 5;
        n = ((size_t)p[1] << 24) | ((size_t)p[2] << 16) | ((size_t)p[3] << 8) |
            p[4];
    } else {
        return -1;
    }
    if (len - hdr < n)
        return -1;
    out->p = (const char *)p + hdr;
    out->n = n;
    return 0;
}

static uint64_t
rd_be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* An integer at p. 0 and the value, or -1. */
static int
mp_int(const uint8_t *p, size_t len, int64_t *out, int *is_unsigned_big)
{
    uint8_t c;
    *is_unsigned_big = 0;
    if (len < 1)
        return -1;
    c = p[0];
    if (c <= 0x7f) {
        *out = c;
        return 0;
    }
    if (c >= 0xe0) {
        *out = (int8_t)c;
        return 0;
    }
    switch (c) {
    case 0xcc:
        if (len < 2)
            return -1;
        *out = p[1];
        return 0;
    case 0xcd:
        if (len < 3)
            return -1;
        *out = (int64_t)rd_be(p + 1, 2);
        return 0;
    case 0xce:
        if (len < 5)
            return -1;
        *out = (int64_t)rd_be(p + 1, 4);
        return 0;
    case 0xcf: {
        uint64_t u;
        if (len < 9)
            return -1;
        u = rd_be(p + 1, 8);
        if (u > INT64_MAX)
            *is_unsigned_big = 1;
        *out = (int64_t)u;
        return 0;
    }
    case 0xd0:
        if (len < 2)
            return -1;
        *out = (int8_t)p[1];
        return 0;
    case 0xd1:
        if (len < 3)
            return -1;
        *out = (int16_t)rd_be(p + 1, 2);
        return 0;
    case 0xd2:
        if (len < 5)
            return -1;
        *out = (int32_t)rd_be(p + 1, 4);
        return 0;
    case 0xd3:
        if (len < 9)
            return -1;
        *out = (int64_t)rd_be(p + 1, 8);
        return 0;
    default:
        return -1;
    }
}

static int
mp_float(const uint8_t *p, size_t len, double *out)
{
    if (len >= 9 && p[0] == 0xcb) {
        uint64_t u = rd_be(p + 1, 8);
        double d;
        memcpy(&d, &u, 8);
        *out = d;
        return 0;
    }
    if (len >= 5 && p[0] == 0xca) {
        uint32_t u = (uint32_t)rd_be(p + 1, 4);
        float f;
        memcpy(&f, &u, 4);
        *out = f;
        return 0;
    }
    return -1;
}

/* ------------------------------------------------------- body views -- */

static const struct bfield *
bv_find(const struct bview *b, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < b->n; i++)
        if (b->f[i].nlen == n && memcmp(b->f[i].name, name, n) == 0)
            return &b->f[i];
    return NULL;
}

int
bv_str(const struct bview *b, const char *name, struct sv *out)
{
    if (b->erased)
        return 0;
    if (b->json != NULL) {
        const json_t *v = json_object_get(b->json, name);
        if (!json_is_string(v))
            return 0;
        out->p = json_string_value(v);
        out->n = json_string_length(v);
        return 1;
    } else {
        const struct bfield *f = bv_find(b, name);
        return f != NULL && mp_str(f->val, f->vlen, out) == 0;
    }
}

int
bv_int(const struct bview *b, const char *name, int64_t *out)
{
    if (b->erased)
        return 0;
    if (b->json != NULL) {
        const json_t *v = json_object_get(b->json, name);
        if (!json_is_integer(v))
            return 0;
        *out = (int64_t)json_integer_value(v);
        return 1;
    } else {
        const struct bfield *f = bv_find(b, name);
        int big;
        if (f == NULL || mp_int(f->val, f->vlen, out, &big) < 0 || big)
            return 0;
        return 1;
    }
}

int
bv_num(const struct bview *b, const char *name, double *out)
{
    if (b->erased)
        return 0;
    if (b->json != NULL) {
        const json_t *v = json_object_get(b->json, name);
        if (!json_is_number(v))
            return 0;
        *out = json_number_value(v);
        return 1;
    } else {
        const struct bfield *f = bv_find(b, name);
        int64_t i;
        int big;
        if (f == NULL)
            return 0;
        if (mp_float(f->val, f->vlen, out) == 0)
            return 1;
        if (mp_int(f->val, f->vlen, &i, &big) == 0 && !big) {
            *out = (double)i;
            return 1;
        }
        return 0;
    }
}

int
bv_bool(const struct bview *b, const char *name, int *out)
{
    if (b->erased)
        return 0;
    if (b->json != NULL) {
        const json_t *v = json_object_get(b->json, name);
        if (!json_is_boolean(v))
            return 0;
        *out = json_is_true(v);
        return 1;
    } else {
        const struct bfield *f = bv_find(b, name);
        if (f == NULL || f->vlen != 1 ||
            (f->val[0] != 0xc2 && f->val[0] != 0xc3))
            return 0;
        *out = f->val[0] == 0xc3;
        return 1;
    }
}

json_t *
bv_json(const struct bview *b, const char *name)
{
    if (b->erased)
        return NULL;
    if (b->json != NULL) {
        json_t *v = json_object_get(b->json, name);
        if (v == NULL || json_is_null(v))
            return NULL;
        return json_incref(v);
    } else {
        const struct bfield *f = bv_find(b, name);
        json_t *v = NULL;
        if (f == NULL || f->val[0] == 0xc0)
            return NULL;
        if (ldg_msgpack_to_json(f->val, f->vlen, &v) < 0)
            return NULL;
        return v;
    }
}

int
bview_from_record(struct bview *b, const uint8_t *rec, size_t len)
{
    const uint8_t *p, *end = rec + len;
    uint64_t n;
    uint8_t c;

    b->json = NULL;
    b->erased = 0;
    b->n = 0;
    if (len < 2 || rec[0] != 0x00)
        return 1; /* compressed or unknown flag: the core decodes it */
    p = rec + 1;
    c = *p++;
    if ((c & 0xf0) == 0x80) {
        n = c & 0x0f;
    } else if (c == 0xde && end - p >= 2) {
        n = rd_be(p, 2);
        p += 2;
    } else if (c == 0xdf && end - p >= 4) {
        n = rd_be(p, 4);
        p += 4;
    } else {
        return 1;
    }
    if (n > LDG_FIELDS_MAX)
        return 1;
    for (uint64_t i = 0; i < n; i++) {
        struct sv name;
        size_t l;
        /* name */
        if (mp_skip(p, end, &l, 0) < 0 || mp_str(p, l, &name) < 0)
            return 1;
        p += l;
        /* [bin8(16) salt, value] */
        if (end - p < 1 + 18 || p[0] != 0x92 || p[1] != 0xc4 || p[2] != 16)
            return 1;
        p += 1 + 18;
        if (mp_skip(p, end, &l, 0) < 0)
            return 1;
        b->f[i].name = name.p;
        b->f[i].nlen = name.n;
        b->f[i].val = p;
        b->f[i].vlen = l;
        p += l;
    }
    if (p != end)
        return 1;
    b->n = (size_t)n;
    return 0;
}

/* -------------------------------------------------------- envelopes -- */

/* Parses the envelope fields the folds need from a stored entry. 0, or 1
 * when the bytes are not what this reader expects. */
static int
env_from_entry(const uint8_t *buf, size_t len, struct penv *e)
{
    const uint8_t *p = buf, *end = buf + len;
    uint64_t n;
    int have = 0;
    uint8_t c;
    struct sv type = {NULL, 0};

    memset(e, 0, sizeof *e);
    if (len < 4 || p[0] != 0x93)
        return 1;
    p++;
    c = *p++;
    if ((c & 0xf0) != 0x80)
        return 1;
    n = c & 0x0f;
    for (uint64_t i = 0; i < n; i++) {
        struct sv k;
        size_t l;
        if (mp_skip(p, end, &l, 0) < 0 || mp_str(p, l, &k) < 0)
            return 1;
        p += l;
        if (mp_skip(p, end, &l, 0) < 0)
            return 1;
        if (k.n == 3 && memcmp(k.p, "seq", 3) == 0) {
            int64_t v;
            int big;
            if (mp_int(p, l, &v, &big) < 0 || v < 0)
                return 1;
            e->seq = big ? (uint64_t)v : (uint64_t)v;
            have |= 1;
        } else if (k.n == 2 && memcmp(k.p, "ts", 2) == 0) {
            int64_t v;
            int big;
            if (mp_int(p, l, &v, &big) < 0)
                return 1;
            e->ts = (uint64_t)v;
            have |= 2;
        } else if (k.n == 4 && memcmp(k.p, "type", 4) == 0) {
            if (mp_str(p, l, &type) < 0)
                return 1;
            have |= 4;
        } else if (k.n == 7 && memcmp(k.p, "subject", 7) == 0) {
            if (mp_str(p, l, &e->subject) < 0)
                return 1;
        } else if (k.n == 3 && memcmp(k.p, "run", 3) == 0) {
            if (mp_str(p, l, &e->run) < 0)
                return 1;
        } else if (k.n == 1 && k.p[0] == 'v') {
            if (l != 1 || p[0] != LDG_FORMAT_VERSION)
                return 1;
            have |= 8;
        }
        p += l;
    }
    if (have != 15 || type.n == 0 || type.n > LDG_TYPE_MAX)
        return 1;
    e->type = ev_type_of(type.p, type.n);
    return 0;
}

/* ------------------------------------------------------------- scan -- */

struct slow {
    struct ldg_event ev;
    json_t *body;
};

static void
penv_from_event(struct penv *e, const struct ldg_event *ev)
{
    e->seq = ev->seq;
    e->ts = ev->ts_ns;
    e->type = ev_type_of(ev->type, strlen(ev->type));
    e->subject.p = ev->subject;
    e->subject.n = strlen(ev->subject);
    e->run.p = ev->run;
    e->run.n = strlen(ev->run);
}

int
scan_events(struct ldg_txn *t, uint64_t from, uint64_t to,
            int (*fn)(void *ctx, const struct penv *e, const struct bview *b),
            void *ctx, ldg_projections_progress_fn progress, void *pctx,
            struct scan_stats *st)
{
    struct ldg_cursor *ce = NULL, *cb = NULL;
    struct ldg_val k, v, bk, bv;
    struct bview *b = NULL;
    struct slow *sl = NULL;
    ldg_dbi de, db;
    uint8_t key[8];
    int rc, bodies_left = 1;
    uint64_t seq, body_seq = UINT64_MAX;

    memset(st, 0, sizeof *st);
    if (from >= to)
        return 0;
    b = calloc(1, sizeof *b);
    sl = calloc(1, sizeof *sl);
    if (b != NULL)
        b->f = malloc(LDG_FIELDS_MAX * sizeof *b->f);
    if (b == NULL || sl == NULL || b->f == NULL) {
        rc = LDG_ENOMEM;
        goto out;
    }
    if ((rc = ldg_db_open(t, "entries", 0, &de)) < 0 ||
        (rc = ldg_db_open(t, "bodies", 0, &db)) < 0)
        goto out;
    if ((rc = ldg_cursor_open(t, de, &ce)) < 0 ||
        (rc = ldg_cursor_open(t, db, &cb)) < 0)
        goto out;
    for (int i = 7; i >= 0; i--)
        key[7 - i] = (uint8_t)(from >> (i * 8));
    rc = ldg_cursor_get(ce, LDG_SET_RANGE, key, 8, &k, &v);
    if (rc == 0) {
        int brc = ldg_cursor_get(cb, LDG_SET_RANGE, key, 8, &bk, &bv);
        if (brc == LDG_ENOTFOUND)
            bodies_left = 0;
        else if (brc < 0) {
            rc = brc;
            goto out;
        } else if (bk.len == 8)
            body_seq = rd_be(bk.data, 8);
    }
    for (seq = from; seq < to; seq++) {
        struct penv e;
        const struct bview *use = b;
        json_t *slow_body = NULL;
        int fast;

        /* Keep the resident size of a whole-log scan down. */
        if (seq > from && (seq - from) % SCAN_RELEASE_EVERY == 0)
            ldg_access_hint(ldg_txn_ledger(t), LDG_ACCESS_RELEASE);

        if (rc == LDG_ENOTFOUND ||
            (rc == 0 && (k.len != 8 || rd_be(k.data, 8) != seq))) {
            ldg_set_errmsg(ldg_txn_ledger(t),
                           "projections: event %llu is missing from the "
                           "log",
                           (unsigned long long)seq);
            rc = LDG_ECORRUPT;
            goto out;
        }
        if (rc < 0)
            goto out;
        fast = env_from_entry(v.data, v.len, &e) == 0 && e.seq == seq;
        if (!fast) {
            if ((rc = ldg_event_get(t, seq, &sl->ev)) < 0)
                goto out;
            penv_from_event(&e, &sl->ev);
        }
        while (bodies_left && body_seq < seq) {
            int brc = ldg_cursor_get(cb, LDG_NEXT, NULL, 0, &bk, &bv);
            if (brc == LDG_ENOTFOUND) {
                bodies_left = 0;
            } else if (brc < 0) {
                rc = brc;
                goto out;
            } else {
                body_seq = bk.len == 8 ? rd_be(bk.data, 8) : UINT64_MAX;
            }
        }
        if (!bodies_left || body_seq != seq) {
            b->json = NULL;
            b->n = 0;
            b->erased = 1;
            st->erased++;
        } else if (!ev_type_feeds(e.type) && e.type != T_BODY_ERASED) {
            b->json = NULL;
            b->n = 0;
            b->erased = 0;
        } else if (bview_from_record(b, bv.data, bv.len) == 0) {
            st->fast_bodies++;
        } else {
            rc = ldg_body_get(t, seq, &slow_body);
            if (rc < 0)
                goto out;
            b->json = slow_body;
            b->erased = 0;
            b->n = 0;
            st->slow_bodies++;
        }
        rc = fn(ctx, &e, use);
        json_decref(slow_body);
        if (rc < 0)
            goto out;
        st->events++;
        if (progress != NULL && (seq & 0xffff) == 0)
            progress(pctx, seq - from, to - from);
        rc = ldg_cursor_get(ce, LDG_NEXT, NULL, 0, &k, &v);
        if (rc < 0 && rc != LDG_ENOTFOUND)
            goto out;
    }
    if (progress != NULL)
        progress(pctx, to - from, to - from);
    rc = 0;
out:
    ldg_cursor_close(ce);
    ldg_cursor_close(cb);
    if (b != NULL)
        free(b->f);
    free(b);
    free(sl);
    return rc;
}

/* ------------------------------------------------------------- time -- */

static int
digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* RFC 3339: YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM). 0 if malformed. */
static uint64_t
parse_rfc3339(const char *s, size_t n)
{
    char buf[64];
    struct tm tm;
    int Y, M, D, h, m, sec, oh = 0, om = 0, sign = 0;
    uint64_t frac = 0;
    size_t i = 19;
    int64_t secs;

    if (n < 20 || n >= sizeof buf)
        return 0;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (digits(buf, 4, &Y) || buf[4] != '-' || digits(buf + 5, 2, &M) ||
        buf[7] != '-' || digits(buf + 8, 2, &D) ||
        (buf[10] != 'T' && buf[10] != 't' && buf[10] != ' ') ||
        digits(buf + 11, 2, &h) || buf[13] != ':' || digits(buf + 14, 2, &m) ||
        buf[16] != ':' || digits(buf + 17, 2, &sec))
        return 0;
    if (buf[i] == '.') {
        int nd = 0;
        i++;
        while (buf[i] >= '0' && buf[i] <= '9') {
            if (nd < 9) {
                frac = frac * 10 + (uint64_t)(buf[i] - '0');
                nd++;
            }
            i++;
        }
        if (nd == 0)
            return 0;
        while (nd++ < 9)
            frac *= 10;
    }
    if (buf[i] == 'Z' || buf[i] == 'z') {
        i++;
    } else if (buf[i] == '+' || buf[i] == '-') {
        sign = buf[i] == '-' ? -1 : 1;
        if (digits(buf + i + 1, 2, &oh) || buf[i + 3] != ':' ||
            digits(buf + i + 4, 2, &om))
            return 0;
        i += 6;
    } else {
        return 0;
    }
    if (i != n || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 ||
        sec > 60 || Y < 1970)
        return 0;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = Y - 1900;
    tm.tm_mon = M - 1;
    tm.tm_mday = D;
    tm.tm_hour = h;
    tm.tm_min = m;
    tm.tm_sec = sec;
    secs = (int64_t)timegm(&tm);
    secs -= (int64_t)sign * (oh * 3600 + om * 60);
    if (secs < 0)
        return 0;
    return (uint64_t)secs * 1000000000u + frac;
}

uint64_t
parse_time_ns(const struct bview *b, const char *name)
{
    struct sv s;
    int64_t i;
    if (bv_str(b, name, &s))
        return parse_rfc3339(s.p, s.n);
    if (bv_int(b, name, &i)) {
        if (i <= 0)
            return 0;
        if (i < 100000000000LL) /* < 1e11: seconds */
            return (uint64_t)i * 1000000000u;
        if (i < 100000000000000LL) /* < 1e14: milliseconds */
            return (uint64_t)i * 1000000u;
        if (i < 100000000000000000LL) /* < 1e17: microseconds */
            return (uint64_t)i * 1000u;
        return (uint64_t)i;
    }
    return 0;
}
