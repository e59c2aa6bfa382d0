/*
 * codec_view.c — body views: the top-level fields of a stored body read
 * in place, for the scans that look at a few fields of millions of
 * events (the projections' rebuild).
 *
 * ldg_body_get builds a jansson tree and every field digest, ~30 µs an
 * event on the reference machine; a rebuild's whole budget is ~3 µs. A
 * view instead splits the stored payload (FORMAT.md section 4)
 *
 *   map(n) { str name : array(2) [ bin8(16) salt, value ] }
 *
 * into (name, value bytes) slices and decodes a value only when a caller
 * asks for that field, with the type it asks for. A view over a JSON
 * object (the append path hands appliers one) answers the same questions
 * the same way, so a fold does not care which it got. Anything this
 * reader does not expect (a compressed record, a surprise in the bytes)
 * makes ldg_body_view_from_record return 1 and the caller decodes with the
 * strict decoder instead: a view can only be faster, never different.
 */
#include <stdlib.h>
#include <string.h>

#include "ledger/codec_int.h"
#include "ledger/record_int.h"

struct vfield {
    const char *name;
    size_t nlen;
    const uint8_t *val; /* one msgpack value */
    size_t vlen;
};

struct ldg_body_view {
    const json_t *json; /* JSON mode when non-NULL */
    int erased;
    size_t n;
    struct vfield f[LDG_FIELDS_MAX]; /* msgpack mode */
    /* a compressed record is inflated here, with these dictionaries */
    const struct ldg_dicts *dicts;
    size_t max;
    struct ldg_inflate scratch;
};

int
ldg_body_view_new(struct ldg_body_view **out)
{
    if (out == NULL)
        return LDG_EINVAL;
    *out = calloc(1, sizeof **out);
    return *out == NULL ? LDG_ENOMEM : 0;
}

void
ldg_body_view_free(struct ldg_body_view *b)
{
    if (b == NULL)
        return;
    ldg_inflate_release(&b->scratch);
    free(b);
}

void
ldg_body_view_set_dicts(struct ldg_body_view *b, const struct ldg_dicts *d,
                        size_t body_max)
{
    b->dicts = d;
    b->max = body_max;
}

void
ldg_body_view_set_json(struct ldg_body_view *b, const json_t *body)
{
    b->json = body;
    b->erased = body == NULL;
    b->n = 0;
}

void
ldg_body_view_set_none(struct ldg_body_view *b)
{
    b->json = NULL;
    b->erased = 0;
    b->n = 0;
}

int
ldg_body_view_erased(const struct ldg_body_view *b)
{
    return b->erased;
}

/* ------------------------------------------------------ value readers -- */

/* A string at p: 0 and the slice, or -1 if not a string. */
static int
mp_str(const uint8_t *p, size_t len, struct ldg_slice *out)
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
        n = (size_t)ldg_rd_ben(p + 1, 2);
    } else if (p[0] == 0xdb && len >= 5) {
        hdr = 5;
        n = (size_t)ldg_rd_ben(p + 1, 4);
    } else {
        return -1;
    }
    if (len - hdr < n)
        return -1;
    out->p = (const char *)p + hdr;
    out->n = n;
    return 0;
}

/* An integer at p: 0 and the value, or -1 (also for a uint64 past
 * INT64_MAX, which JSON mode cannot hold either). */
static int
mp_int(const uint8_t *p, size_t len, int64_t *out)
{
    static const uint8_t width[8] = {1, 2, 4, 8, 1, 2, 4, 8};
    uint8_t c;
    uint64_t u;
    int w;

    if (len < 1)
        return -1;
    c = p[0];
    if (c <= 0x7f || c >= 0xe0) {
        *out = (int8_t)c;
        if (c <= 0x7f)
            *out = c;
        return 0;
    }
    if (c < 0xcc || c > 0xd3)
        return -1;
    w = width[c - 0xcc];
    if (len < (size_t)w + 1)
        return -1;
    u = ldg_rd_ben(p + 1, (size_t)w);
    if (c <= 0xcf) { /* uint8..uint64 */
        if (u > INT64_MAX)
            return -1;
        *out = (int64_t)u;
    } else if (w == 1) {
        *out = (int8_t)u;
    } else if (w == 2) {
        *out = (int16_t)u;
    } else if (w == 4) {
        *out = (int32_t)u;
    } else {
        *out = (int64_t)u;
    }
    return 0;
}

static int
mp_float(const uint8_t *p, size_t len, double *out)
{
    if (len >= 9 && p[0] == 0xcb) {
        uint64_t u = ldg_rd_ben(p + 1, 8);
        memcpy(out, &u, 8);
        return 0;
    }
    if (len >= 5 && p[0] == 0xca) {
        uint32_t u = (uint32_t)ldg_rd_ben(p + 1, 4);
        float f;
        memcpy(&f, &u, 4);
        *out = f;
        return 0;
    }
    return -1;
}

/* ------------------------------------------------------------ fields -- */

static const struct vfield *
find(const struct ldg_body_view *b, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < b->n; i++)
        if (b->f[i].nlen == n && memcmp(b->f[i].name, name, n) == 0)
            return &b->f[i];
    return NULL;
}

int
ldg_body_view_str(const struct ldg_body_view *b, const char *name,
                  struct ldg_slice *out)
{
    const struct vfield *f;
    if (b->erased)
        return 0;
    if (b->json != NULL) {
        const json_t *v = json_object_get(b->json, name);
        if (!json_is_string(v))
            return 0;
        out->p = json_string_value(v);
        out->n = json_string_length(v);
        return 1;
    }
    f = find(b, name);
    return f != NULL && mp_str(f->val, f->vlen, out) == 0;
}

int
ldg_body_view_int(const struct ldg_body_view *b, const char *name, int64_t *out)
{
    const struct vfield *f;
    if (b->erased)
        return 0;
    if (b->json != NULL) {
        const json_t *v = json_object_get(b->json, name);
        if (!json_is_integer(v))
            return 0;
        *out = (int64_t)json_integer_value(v);
        return 1;
    }
    f = find(b, name);
    return f != NULL && mp_int(f->val, f->vlen, out) == 0;
}

int
ldg_body_view_num(const struct ldg_body_view *b, const char *name, double *out)
{
    const struct vfield *f;
    int64_t i;
    if (b->erased)
        return 0;
    if (b->json != NULL) {
        const json_t *v = json_object_get(b->json, name);
        if (!json_is_number(v))
            return 0;
        *out = json_number_value(v);
        return 1;
    }
    f = find(b, name);
    if (f == NULL)
        return 0;
    if (mp_float(f->val, f->vlen, out) == 0)
        return 1;
    if (mp_int(f->val, f->vlen, &i) == 0) {
        *out = (double)i;
        return 1;
    }
    return 0;
}

int
ldg_body_view_bool(const struct ldg_body_view *b, const char *name, int *out)
{
    const struct vfield *f;
    if (b->erased)
        return 0;
    if (b->json != NULL) {
        const json_t *v = json_object_get(b->json, name);
        if (!json_is_boolean(v))
            return 0;
        *out = json_is_true(v);
        return 1;
    }
    f = find(b, name);
    if (f == NULL || f->vlen != 1 || (f->val[0] != 0xc2 && f->val[0] != 0xc3))
        return 0;
    *out = f->val[0] == 0xc3;
    return 1;
}

json_t *
ldg_body_view_json(const struct ldg_body_view *b, const char *name)
{
    const struct vfield *f;
    json_t *v = NULL;
    if (b->erased)
        return NULL;
    if (b->json != NULL) {
        v = json_object_get(b->json, name);
        if (v == NULL || json_is_null(v))
            return NULL;
        return json_incref(v);
    }
    f = find(b, name);
    if (f == NULL || f->val[0] == 0xc0)
        return NULL;
    if (ldg_msgpack_to_json(f->val, f->vlen, &v) < 0)
        return NULL;
    return v;
}

int
ldg_body_view_str_or_array(const struct ldg_body_view *b, const char *name,
                           struct ldg_slice *str, json_t **arr)
{
    const struct vfield *f;
    *arr = NULL;
    if (b->erased)
        return 0;
    if (b->json != NULL) {
        json_t *v = json_object_get(b->json, name);
        if (json_is_string(v)) {
            str->p = json_string_value(v);
            str->n = json_string_length(v);
            return 1;
        }
        if (!json_is_array(v))
            return 0;
        *arr = json_incref(v);
        return 2;
    }
    if ((f = find(b, name)) == NULL)
        return 0;
    if (mp_str(f->val, f->vlen, str) == 0)
        return 1;
    /* fixarray, array 16, array 32: only these are made into JSON */
    if ((f->val[0] & 0xf0) != 0x90 && f->val[0] != 0xdc && f->val[0] != 0xdd)
        return 0;
    if (ldg_msgpack_to_json(f->val, f->vlen, arr) < 0 || !json_is_array(*arr)) {
        json_decref(*arr);
        *arr = NULL;
        return 0;
    }
    return 2;
}

/* ------------------------------------------------------------ records -- */

/* The field map of a body record's payload p (n bytes): *p at its first
 * key, *end past its last byte, *n its number of fields (at most
 * LDG_FIELDS_MAX). -1 for bytes that do not begin a map. */
static int
map_head(const uint8_t *q, size_t plen, const uint8_t **p, const uint8_t **end,
         uint64_t *n)
{
    uint8_t c;
    if (plen < 1)
        return -1;
    *end = q + plen;
    c = *q++;
    if ((c & 0xf0) == 0x80) {
        *n = c & 0x0f;
    } else if (c == 0xde && *end - q >= 2) {
        *n = ldg_rd_ben(q, 2);
        q += 2;
    } else if (c == 0xdf && *end - q >= 4) {
        *n = ldg_rd_ben(q, 4);
        q += 4;
    } else {
        return -1;
    }
    *p = q;
    return *n > LDG_FIELDS_MAX ? -1 : 0;
}

/* The field map of a plain (uncompressed) body record: as map_head, and
 * *seeded for a seeded record's map (name to value, no [salt, value]
 * pair). -1 for a compressed record, an unknown flag, or bytes that do
 * not begin a map. */
static int
record_map(const uint8_t *rec, size_t len, const uint8_t **p,
           const uint8_t **end, uint64_t *n, int *seeded)
{
    const uint8_t *q;
    size_t plen;

    if (ldg_body_record_plain(rec, len, &q, &plen) != 1)
        return -1;
    *seeded = ldg_body_record_seeded(rec, len);
    return map_head(q, plen, p, end, n);
}

/* The length of the msgpack value at p (at most len bytes), for the
 * values a body holds most often without a walk; else the walker's. */
static size_t
value_len(const uint8_t *p, size_t len)
{
    uint8_t c = p[0];
    size_t n;
    if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3)
        return 1;
    if ((c & 0xe0) == 0xa0) {
        n = 1 + (size_t)(c & 0x1f);
        return n <= len ? n : 0;
    }
    return ldg_mp_bounded_len(p, len);
}

/* b's fields from the n fields of a map at p (its bytes end at end):
 * salted pairs [salt, value], or values alone (seeded). 0, or 1 for a
 * surprise in the bytes. */
static int
view_fields(struct ldg_body_view *b, const uint8_t *p, const uint8_t *end,
            uint64_t n, int seeded)
{
    for (uint64_t i = 0; i < n; i++) {
        struct ldg_slice name;
        size_t l = p < end ? value_len(p, (size_t)(end - p)) : 0;
        if (l == 0 || mp_str(p, l, &name) < 0)
            return 1;
        p += l;
        /* [bin8(16) salt, value], or the value alone (seeded) */
        if (!seeded) {
            if (!ldg_field_pair_at(p, end))
                return 1;
            p += LDG_FIELD_PAIR_VALUE;
        }
        if (p >= end || (l = value_len(p, (size_t)(end - p))) == 0)
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

int
ldg_body_view_from_record(struct ldg_body_view *b, const uint8_t *rec,
                          size_t len)
{
    const uint8_t *p, *end;
    uint64_t n;
    int seeded;

    b->json = NULL;
    b->erased = 0;
    b->n = 0;
    if (record_map(rec, len, &p, &end, &n, &seeded) < 0) {
        /* compressed: inflated with the view's dictionaries; an unknown
         * flag or not a map: the strict decoder */
        struct ldg_payload pl;
        if (b->max == 0 ||
            ldg_body_payload(b->dicts, rec, len, b->max, &b->scratch, &pl) <
                0 ||
            map_head(pl.map, pl.len, &p, &end, &n) < 0)
            return 1;
        seeded = pl.seed != NULL;
    }
    return view_fields(b, p, end, n, seeded);
}

int
ldg_body_view_from_payload(struct ldg_body_view *b,
                           const struct ldg_payload *pl)
{
    const uint8_t *p, *end;
    uint64_t n;

    b->json = NULL;
    b->erased = 0;
    b->n = 0;
    if (map_head(pl->map, pl->len, &p, &end, &n) < 0)
        return 1;
    return view_fields(b, p, end, n, pl->seed != NULL);
}

int
ldg_body_view_from_slices(struct ldg_body_view *b,
                          const struct ldg_field_slice *sl, size_t n)
{
    b->json = NULL;
    b->erased = 0;
    b->n = 0;
    if (n > LDG_FIELDS_MAX)
        return 1;
    for (size_t i = 0; i < n; i++) {
        struct ldg_slice name;
        if (mp_str(sl[i].name_enc, sl[i].name_enc_len, &name) < 0)
            return 1;
        b->f[i].name = name.p;
        b->f[i].nlen = name.n;
        b->f[i].val = sl[i].value_enc;
        b->f[i].vlen = sl[i].value_enc_len;
    }
    b->n = n;
    return 0;
}

int
ldg_body_record_str(const uint8_t *rec, size_t len, const char *name,
                    struct ldg_slice *out)
{
    const uint8_t *p, *end;
    size_t want;
    uint64_t n;
    int seeded;

    if (rec == NULL || name == NULL || out == NULL)
        return LDG_EINVAL;
    if (record_map(rec, len, &p, &end, &n, &seeded) < 0)
        return 2; /* compressed, unknown flag or not a map */
    want = strlen(name);
    /* as ldg_body_view_from_record splits them, up to the first field
     * of that name */
    for (uint64_t i = 0; i < n; i++) {
        struct ldg_slice nm;
        size_t l;
        if (p >= end)
            return 2;
        if ((*p & 0xe0) == 0xa0 && (size_t)(end - p) > (size_t)(*p & 0x1f)) {
            nm.p = (const char *)p + 1; /* a fixstr name, the usual */
            nm.n = *p & 0x1f;
            l = 1 + nm.n;
        } else if ((l = ldg_mp_bounded_len(p, (size_t)(end - p))) == 0 ||
                   mp_str(p, l, &nm) < 0) {
            return 2;
        }
        p += l;
        if (!seeded) {
            if (!ldg_field_pair_at(p, end))
                return 2;
            p += LDG_FIELD_PAIR_VALUE;
        }
        if (p >= end || (l = value_len(p, (size_t)(end - p))) == 0)
            return 2;
        if (nm.n == want && memcmp(nm.p, name, want) == 0)
            return mp_str(p, l, out) == 0 ? 1 : 0;
        p += l;
    }
    return p == end ? 0 : 2;
}
