/*
 * codec.c — canonical msgpack: the one file of ledger/ that uses msgpack-c.
 *
 * Canonical means: map keys are strings sorted bytewise with no duplicates,
 * every integer and length in its shortest form (msgpack-c's packer always
 * picks it), floats as float64, no bin or ext inside JSON values. Decoding
 * is strict: after unpacking we pack the object again and require the same
 * bytes, so every event has exactly one encoding. That re-pack is a
 * canonicality check only; hashes and signatures are always computed over
 * the stored bytes as they are.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "ledger/ledger_int.h"
#include "ledger/tlog_int.h"

/* msgpack-c's unpacker nests 32 deep at most, and a body value sits two
 * levels down (map, [salt, value]): readers accept values nested up to 30
 * deep, writers refuse more than LDG_DEPTH_MAX (24), leaving a margin. */
#define JSON_DEPTH_MAX 30

/* ------------------------------------------------------------- buffer -- */

void
ldg_buf_init(struct ldg_buf *b, size_t max)
{
    memset(b, 0, sizeof *b);
    b->max = max;
}

void
ldg_buf_release(struct ldg_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

void
ldg_buf_add(struct ldg_buf *b, const void *p, size_t n)
{
    if (b->err)
        return;
    if (n > b->max - b->len || b->len > b->max) {
        b->err = LDG_ETOOBIG;
        return;
    }
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        if (cap > b->max)
            cap = b->max;
        uint8_t *np = realloc(b->p, cap);
        if (np == NULL) {
            b->err = LDG_ENOMEM;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
}

static int
buf_write(void *data, const char *p, size_t n)
{
    struct ldg_buf *b = data;
    ldg_buf_add(b, p, n);
    return b->err ? -1 : 0;
}

#define PACKER(b)                                                              \
    msgpack_packer pk;                                                         \
    msgpack_packer_init(&pk, (b), buf_write)

void
ldg_mp_uint(struct ldg_buf *b, uint64_t v)
{
    PACKER(b);
    msgpack_pack_uint64(&pk, v);
}

void
ldg_mp_int(struct ldg_buf *b, int64_t v)
{
    PACKER(b);
    msgpack_pack_int64(&pk, v);
}

void
ldg_mp_str(struct ldg_buf *b, const char *s, size_t n)
{
    PACKER(b);
    msgpack_pack_str(&pk, n);
    msgpack_pack_str_body(&pk, s, n);
}

void
ldg_mp_bin(struct ldg_buf *b, const void *p, size_t n)
{
    PACKER(b);
    msgpack_pack_bin(&pk, n);
    msgpack_pack_bin_body(&pk, p, n);
}

void
ldg_mp_map(struct ldg_buf *b, uint32_t n)
{
    PACKER(b);
    msgpack_pack_map(&pk, n);
}

void
ldg_mp_array(struct ldg_buf *b, uint32_t n)
{
    PACKER(b);
    msgpack_pack_array(&pk, n);
}

/* ------------------------------------------------------- JSON -> mp -- */

static int
cmp_keys(const void *a, const void *b)
{
    const char *const *x = a, *const *y = b;
    return strcmp(*x, *y); /* compares as unsigned char: bytewise */
}

static void
mp_json(struct ldg_buf *b, const json_t *v, int depth)
{
    PACKER(b);
    if (depth > JSON_DEPTH_MAX) {
        b->err = LDG_ETOOBIG;
        return;
    }
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        size_t n = json_object_size(v), i = 0;
        const char *key;
        json_t *val;
        const char **keys = malloc((n ? n : 1) * sizeof *keys);
        if (keys == NULL) {
            b->err = LDG_ENOMEM;
            return;
        }
        json_object_foreach((json_t *)(uintptr_t)v, key, val) keys[i++] = key;
        qsort(keys, n, sizeof *keys, cmp_keys);
        msgpack_pack_map(&pk, n);
        for (i = 0; i < n && !b->err; i++) {
            ldg_mp_str(b, keys[i], strlen(keys[i]));
            mp_json(b, json_object_get(v, keys[i]), depth + 1);
        }
        free(keys);
        break;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(v);
        msgpack_pack_array(&pk, n);
        for (size_t i = 0; i < n && !b->err; i++)
            mp_json(b, json_array_get(v, i), depth + 1);
        break;
    }
    case JSON_STRING:
        ldg_mp_str(b, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER: {
        json_int_t x = json_integer_value(v);
        if (x >= 0)
            msgpack_pack_uint64(&pk, (uint64_t)x);
        else
            msgpack_pack_int64(&pk, x);
        break;
    }
    case JSON_REAL:
        msgpack_pack_double(&pk, json_real_value(v));
        break;
    case JSON_TRUE:
        msgpack_pack_true(&pk);
        break;
    case JSON_FALSE:
        msgpack_pack_false(&pk);
        break;
    case JSON_NULL:
        msgpack_pack_nil(&pk);
        break;
    }
}

void
ldg_mp_json(struct ldg_buf *b, const json_t *v)
{
    mp_json(b, v, 0);
}

int
ldg_json_to_msgpack(const json_t *v, size_t max, uint8_t **out, size_t *len)
{
    struct ldg_buf b;
    ldg_buf_init(&b, max);
    ldg_mp_json(&b, v);
    if (b.err) {
        int rc = b.err;
        ldg_buf_release(&b);
        return rc;
    }
    *out = b.p;
    *len = b.len;
    return 0;
}

/* ------------------------------------------------- strict mp -> JSON -- */

/*
 * Bounds pre-pass. msgpack-c sizes its allocations from the counts an
 * input declares (an array32 header can claim four billion elements in
 * five bytes), so before any input reaches it we walk the headers and
 * check that every declared element could fit in the bytes that remain:
 * each element takes at least one byte. Then msgpack-c never allocates
 * more than a small multiple of the input. Returns the length of the one
 * object at p, or 0 if it is malformed or does not fit in len.
 *
 * With depth non-NULL it also reports how deep non-empty containers nest
 * (saturating at MP_DEPTH_TRACK + 1): msgpack-c answers "out of memory"
 * both when an allocation fails and when nesting overflows its fixed
 * stack, and only the depth tells the two apart.
 */
#define MP_DEPTH_TRACK 64

static size_t
mp_walk(const uint8_t *p, size_t len, unsigned *depth)
{
    size_t pos = 0, pending = 1;
    size_t open[MP_DEPTH_TRACK]; /* elements left in each open container */
    unsigned top = 0;

    if (depth != NULL)
        *depth = 0;
    while (pending > 0) {
        uint8_t c;
        size_t skip = 0, more = 0, hdr = 1;

        if (pos >= len)
            return 0;
        c = p[pos];
        pending--;
        if (top > 0)
            open[top - 1]--;
        if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3) {
            skip = 0;
        } else if ((c & 0xf0) == 0x80) {
            more = 2u * (c & 0x0f);
        } else if ((c & 0xf0) == 0x90) {
            more = c & 0x0f;
        } else if ((c & 0xe0) == 0xa0) {
            skip = c & 0x1f;
        } else {
            size_t w;
            uint64_t n = 0;
            switch (c) {
            case 0xcc:
            case 0xd0:
                skip = 1;
                break;
            case 0xcd:
            case 0xd1:
                skip = 2;
                break;
            case 0xca:
            case 0xce:
            case 0xd2:
                skip = 4;
                break;
            case 0xcb:
            case 0xcf:
            case 0xd3:
                skip = 8;
                break;
            case 0xd4:
                skip = 2;
                break; /* fixext 1: type + 1 */
            case 0xd5:
                skip = 3;
                break;
            case 0xd6:
                skip = 5;
                break;
            case 0xd7:
                skip = 9;
                break;
            case 0xd8:
                skip = 17;
                break;
            case 0xc4:
            case 0xd9:
            case 0xc7:
                w = 1;
                goto sized;
            case 0xc5:
            case 0xda:
            case 0xc8:
                w = 2;
                goto sized;
            case 0xc6:
            case 0xdb:
            case 0xc9:
                w = 4;
                goto sized;
            case 0xdc:
                w = 2;
                goto counted;
            case 0xdd:
                w = 4;
                goto counted;
            case 0xde:
                w = 2;
                goto counted;
            case 0xdf:
                w = 4;
                goto counted;
            default:
                return 0; /* 0xc1, never used */
            sized:
            counted:
                if (len - pos < 1 + w)
                    return 0;
                for (size_t i = 0; i < w; i++)
                    n = n << 8 | p[pos + 1 + i];
                hdr = 1 + w;
                if (c >= 0xdc) {
                    more = (c >= 0xde) ? 2 * (size_t)n : (size_t)n;
                } else {
                    skip = (size_t)n + ((c >= 0xc7 && c <= 0xc9) ? 1 : 0);
                    if (n > len)
                        return 0;
                }
                break;
            }
        }
        if (len - pos < hdr || len - pos - hdr < skip)
            return 0;
        pos += hdr + skip;
        if (more > len - pos || pending > len - pos - more)
            return 0;
        pending += more;
        if (depth != NULL && more > 0 && *depth <= MP_DEPTH_TRACK) {
            if (top == MP_DEPTH_TRACK) {
                *depth = MP_DEPTH_TRACK + 1; /* deeper than we track */
                top = 0;
            } else {
                open[top++] = more;
                if (top > *depth)
                    *depth = top;
            }
        }
        while (top > 0 && open[top - 1] == 0)
            top--;
    }
    return pos;
}

static size_t
mp_bounded_len(const uint8_t *p, size_t len)
{
    return mp_walk(p, len, NULL);
}

/* msgpack-c's fixed parse stack (MSGPACK_EMBED_STACK_SIZE); nesting at or
 * near it makes msgpack_unpack_next fail as if out of memory. */
#define MSGPACK_C_STACK 32

/* msgpack_unpack_next behind the bounds pre-pass; *off gets the length
 * of the object. */
static int
unpack_bounded(msgpack_unpacked *u, const uint8_t *p, size_t len, size_t *off)
{
    unsigned depth;
    msgpack_unpack_return r;

    *off = 0;
    if (mp_bounded_len(p, len) == 0)
        return LDG_ECORRUPT;
    r = msgpack_unpack_next(u, (const char *)p, len, off);
    if (r == MSGPACK_UNPACK_SUCCESS)
        return 0;
    /* Shallow input that msgpack-c could not hold: a real allocation
     * failure, not damage. (The depth is measured only here, off the
     * path every good decode takes.) */
    if (r == MSGPACK_UNPACK_NOMEM_ERROR && mp_walk(p, len, &depth) != 0 &&
        depth < MSGPACK_C_STACK - 1)
        return LDG_ENOMEM;
    return LDG_ECORRUPT;
}

/* A str's bytes: msgpack-c leaves ptr NULL for an empty string. */
static const char *
sptr(const msgpack_object_str *s)
{
    return s->size ? s->ptr : "";
}

/* Unpacks exactly one object covering all of p[0..len) and checks that
 * packing it again gives the same bytes. */
static int
unpack_canonical(const uint8_t *p, size_t len, msgpack_unpacked *u)
{
    size_t off = 0;
    struct ldg_buf b;
    int rc;

    msgpack_unpacked_init(u);
    if ((rc = unpack_bounded(u, p, len, &off)) < 0)
        return rc;
    if (off != len)
        return LDG_ECORRUPT;
    ldg_buf_init(&b, len);
    {
        PACKER(&b);
        msgpack_pack_object(&pk, u->data);
    }
    if (b.err == LDG_ENOMEM)
        rc = LDG_ENOMEM;
    else
        rc = (b.err == 0 && b.len == len && memcmp(b.p, p, len) == 0)
                 ? 0
                 : LDG_ECORRUPT;
    ldg_buf_release(&b);
    return rc;
}

static const char *sptr(const msgpack_object_str *s);

static int
key_cmp(const msgpack_object_str *a, const msgpack_object_str *b)
{
    size_t n = a->size < b->size ? a->size : b->size;
    int c = n ? memcmp(sptr(a), sptr(b), n) : 0;
    if (c)
        return c;
    return a->size < b->size ? -1 : a->size > b->size;
}

static int
obj_to_json(const msgpack_object *o, json_t **out, int depth)
{
    json_t *j = NULL;
    *out = NULL;
    if (depth > JSON_DEPTH_MAX)
        return LDG_ECORRUPT;
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        j = json_null();
        break;
    case MSGPACK_OBJECT_BOOLEAN:
        j = json_boolean(o->via.boolean);
        break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        if (o->via.u64 > (uint64_t)INT64_MAX)
            return LDG_ECORRUPT; /* JSON input never produces these */
        j = json_integer((json_int_t)o->via.u64);
        break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        j = json_integer((json_int_t)o->via.i64);
        break;
    case MSGPACK_OBJECT_FLOAT64:
        if (!isfinite(o->via.f64))
            return LDG_ECORRUPT; /* JSON has no NaN or Infinity */
        j = json_real(o->via.f64);
        break;
    case MSGPACK_OBJECT_STR:
        j = json_stringn_nocheck(sptr(&o->via.str), o->via.str.size);
        break;
    case MSGPACK_OBJECT_ARRAY:
        j = json_array();
        if (j == NULL)
            return LDG_ENOMEM;
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            json_t *e;
            int rc = obj_to_json(&o->via.array.ptr[i], &e, depth + 1);
            if (rc < 0) {
                json_decref(j);
                return rc;
            }
            json_array_append_new(j, e);
        }
        break;
    case MSGPACK_OBJECT_MAP:
        j = json_object();
        if (j == NULL)
            return LDG_ENOMEM;
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            const msgpack_object_kv *kv = &o->via.map.ptr[i];
            json_t *e;
            int rc;
            if (kv->key.type != MSGPACK_OBJECT_STR ||
                (i > 0 && key_cmp(&o->via.map.ptr[i - 1].key.via.str,
                                  &kv->key.via.str) >= 0) ||
                memchr(sptr(&kv->key.via.str), 0, kv->key.via.str.size)) {
                json_decref(j);
                return LDG_ECORRUPT;
            }
            rc = obj_to_json(&kv->val, &e, depth + 1);
            if (rc < 0) {
                json_decref(j);
                return rc;
            }
            if (json_object_setn_new_nocheck(j, sptr(&kv->key.via.str),
                                             kv->key.via.str.size, e) != 0) {
                json_decref(j);
                return LDG_ENOMEM;
            }
        }
        break;
    default: /* FLOAT32, BIN, EXT: never canonical inside a body */
        return LDG_ECORRUPT;
    }
    if (j == NULL)
        return LDG_ENOMEM;
    *out = j;
    return 0;
}

int
ldg_mp_to_json_strict(const uint8_t *p, size_t len, json_t **out)
{
    msgpack_unpacked u;
    int rc = unpack_canonical(p, len, &u);
    if (rc == 0)
        rc = obj_to_json(&u.data, out, 0);
    msgpack_unpacked_destroy(&u);
    return rc;
}

int
ldg_msgpack_to_json(const uint8_t *p, size_t len, json_t **out)
{
    return ldg_mp_to_json_strict(p, len, out);
}

/* ------------------------------------------------------------ entries -- */

/* Keys of the event map, in canonical (bytewise) order. */
enum ev_key {
    K_ACTOR,
    K_BODY,
    K_PARENT,
    K_RUN,
    K_SEQ,
    K_SUBJECT,
    K_TS,
    K_TYPE,
    K_V,
    K_COUNT
};
static const char *const ev_keys[K_COUNT] = {
    "actor", "body", "parent", "run", "seq", "subject", "ts", "type", "v"};

static void
mp_key(struct ldg_buf *b, enum ev_key k)
{
    ldg_mp_str(b, ev_keys[k], strlen(ev_keys[k]));
}

int
ldg_entry_encode(struct ldg_buf *b, const struct ldg_envelope *env,
                 size_t *map_len)
{
    int has_run = env->run != NULL && env->run[0] != '\0';
    size_t start;

    ldg_mp_array(b, 3);
    start = b->len;
    ldg_mp_map(b, 7 + (uint32_t)has_run + (uint32_t)(env->has_parent != 0));
    mp_key(b, K_ACTOR);
    ldg_mp_str(b, env->actor, strlen(env->actor));
    mp_key(b, K_BODY);
    ldg_mp_bin(b, env->body_root, 32);
    if (env->has_parent) {
        mp_key(b, K_PARENT);
        ldg_mp_uint(b, env->parent);
    }
    if (has_run) {
        mp_key(b, K_RUN);
        ldg_mp_str(b, env->run, strlen(env->run));
    }
    mp_key(b, K_SEQ);
    ldg_mp_uint(b, env->seq);
    mp_key(b, K_SUBJECT);
    ldg_mp_str(b, env->subject, strlen(env->subject));
    mp_key(b, K_TS);
    ldg_mp_uint(b, env->ts_ns);
    mp_key(b, K_TYPE);
    ldg_mp_str(b, env->type, strlen(env->type));
    mp_key(b, K_V);
    ldg_mp_uint(b, LDG_FORMAT_VERSION);
    if (b->err)
        return b->err;
    if (b->len + 34 + 66 > LDG_ENTRY_MAX)
        return LDG_ETOOBIG;
    *map_len = b->len - start;
    return 0;
}

int
ldg_entry_finish(struct ldg_buf *b, const uint8_t prev[32],
                 const uint8_t sig[64])
{
    ldg_mp_bin(b, prev, 32);
    ldg_mp_bin(b, sig, 64);
    return b->err;
}

static int
copy_str(char *dst, size_t cap, const msgpack_object *o)
{
    if (o->type != MSGPACK_OBJECT_STR || o->via.str.size >= cap ||
        memchr(sptr(&o->via.str), 0, o->via.str.size))
        return LDG_ECORRUPT;
    memcpy(dst, sptr(&o->via.str), o->via.str.size);
    dst[o->via.str.size] = '\0';
    return 0;
}

static int
decode_map(const msgpack_object *m, struct ldg_event *ev)
{
    unsigned seen = 0;
    int rc = 0;

    if (m->type != MSGPACK_OBJECT_MAP)
        return LDG_ECORRUPT;
    for (uint32_t i = 0; i < m->via.map.size && rc == 0; i++) {
        const msgpack_object *k = &m->via.map.ptr[i].key;
        const msgpack_object *v = &m->via.map.ptr[i].val;
        int which = -1;
        if (k->type != MSGPACK_OBJECT_STR)
            return LDG_ECORRUPT;
        for (int j = 0; j < K_COUNT; j++)
            if (strlen(ev_keys[j]) == k->via.str.size &&
                memcmp(ev_keys[j], sptr(&k->via.str), k->via.str.size) == 0)
                which = j;
        /* Unknown, duplicate or out-of-order keys are all non-canonical:
         * keys must appear in strictly increasing enum order. */
        if (which < 0 || (seen >> which) != 0)
            return LDG_ECORRUPT;
        seen |= 1u << which;
        switch (which) {
        case K_ACTOR:
            rc = copy_str(ev->actor, sizeof ev->actor, v);
            if (rc == 0 && strlen(ev->actor) != LDG_KEYID_LEN)
                rc = LDG_ECORRUPT;
            break;
        case K_BODY:
            if (v->type != MSGPACK_OBJECT_BIN || v->via.bin.size != 32)
                return LDG_ECORRUPT;
            memcpy(ev->body_root, v->via.bin.ptr, 32);
            break;
        case K_PARENT:
            if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
                return LDG_ECORRUPT;
            ev->has_parent = 1;
            ev->parent = v->via.u64;
            break;
        case K_RUN:
            rc = copy_str(ev->run, sizeof ev->run, v);
            if (rc == 0 && ev->run[0] == '\0')
                rc = LDG_ECORRUPT;
            break;
        case K_SEQ:
            if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
                return LDG_ECORRUPT;
            ev->seq = v->via.u64;
            break;
        case K_SUBJECT:
            rc = copy_str(ev->subject, sizeof ev->subject, v);
            break;
        case K_TS:
            if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
                return LDG_ECORRUPT;
            ev->ts_ns = v->via.u64;
            break;
        case K_TYPE:
            rc = copy_str(ev->type, sizeof ev->type, v);
            break;
        case K_V:
            if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
                return LDG_ECORRUPT;
            if (v->via.u64 != LDG_FORMAT_VERSION)
                return LDG_EVERSION;
            break;
        }
    }
    if (rc == 0) {
        unsigned need = (1u << K_ACTOR) | (1u << K_BODY) | (1u << K_SEQ) |
                        (1u << K_SUBJECT) | (1u << K_TS) | (1u << K_TYPE) |
                        (1u << K_V);
        if ((seen & need) != need)
            rc = LDG_ECORRUPT;
    }
    return rc;
}

/*
 * The trusted decoder's fast path: reads the entry's bytes in place, with
 * no msgpack-c objects, for the display paths that walk millions of
 * events (query, export). It takes only the shape the writer produces:
 *
 *   0x93 | map(7..9) { fixstr key : value }... | 0xc4 0x20 prev | 0xc4 0x40 sig
 *
 * keys in canonical order, strings as fixstr/str8/str16, integers as
 * positive fixint or uint8..uint64. Anything else (including any malformed
 * input) returns -1, and the caller decodes with msgpack-c as before, so
 * the result, and every error, is the same as the general path's.
 */
static int
fast_str(const uint8_t **pp, const uint8_t *end, const uint8_t **s, size_t *n)
{
    const uint8_t *p = *pp;
    if (p >= end)
        return -1;
    if ((*p & 0xe0) == 0xa0) {
        *n = *p & 0x1f;
        p++;
    } else if (*p == 0xd9 && end - p >= 2) {
        *n = p[1];
        p += 2;
    } else if (*p == 0xda && end - p >= 3) {
        *n = (size_t)p[1] << 8 | p[2];
        p += 3;
    } else {
        return -1;
    }
    if ((size_t)(end - p) < *n)
        return -1;
    *s = p;
    *pp = p + *n;
    return 0;
}

static int
fast_uint(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
    const uint8_t *p = *pp;
    size_t w;
    if (p >= end)
        return -1;
    if (*p <= 0x7f) {
        *v = *p;
        *pp = p + 1;
        return 0;
    }
    if (*p < 0xcc || *p > 0xcf)
        return -1;
    w = (size_t)1 << (*p - 0xcc);
    if ((size_t)(end - p) < 1 + w)
        return -1;
    *v = 0;
    for (size_t i = 1; i <= w; i++)
        *v = *v << 8 | p[i];
    *pp = p + 1 + w;
    return 0;
}

static int
fast_copy(char *dst, size_t cap, const uint8_t **pp, const uint8_t *end)
{
    const uint8_t *s;
    size_t n;
    if (fast_str(pp, end, &s, &n) < 0 || n >= cap || memchr(s, 0, n) != NULL)
        return -1;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return 0;
}

static int
decode_trusted_fast(const uint8_t *buf, size_t len, struct ldg_event *ev)
{
    static const unsigned char ev_key_len[K_COUNT] = {5, 4, 6, 3, 3,
                                                      7, 2, 4, 1};
    const uint8_t *p = buf + 1, *end = buf + len;
    unsigned seen = 0, need, n;
    int next = 0;
    uint64_t v;

    if (*p < 0x87 || *p > 0x89)
        return -1;
    n = *p++ & 0x0f;
    for (unsigned i = 0; i < n; i++) {
        const uint8_t *k;
        size_t kn;
        int which = -1;
        if (fast_str(&p, end, &k, &kn) < 0)
            return -1;
        /* keys come in enum order: look from the one after the last */
        for (int j = next; j < K_COUNT && which < 0; j++) {
            size_t b = 0; /* keys are 1 to 7 bytes: no memcmp call */
            if (ev_key_len[j] != kn)
                continue;
            while (b < kn && k[b] == (uint8_t)ev_keys[j][b])
                b++;
            if (b == kn)
                which = j;
        }
        if (which < 0)
            return -1;
        next = which + 1;
        seen |= 1u << which;
        switch (which) {
        case K_ACTOR:
            if (fast_copy(ev->actor, sizeof ev->actor, &p, end) < 0 ||
                strlen(ev->actor) != LDG_KEYID_LEN)
                return -1;
            break;
        case K_BODY:
            if (end - p < 34 || p[0] != 0xc4 || p[1] != 32)
                return -1;
            memcpy(ev->body_root, p + 2, 32);
            p += 34;
            break;
        case K_PARENT:
            if (fast_uint(&p, end, &ev->parent) < 0)
                return -1;
            ev->has_parent = 1;
            break;
        case K_RUN:
            if (fast_copy(ev->run, sizeof ev->run, &p, end) < 0 ||
                ev->run[0] == '\0')
                return -1;
            break;
        case K_SEQ:
            if (fast_uint(&p, end, &ev->seq) < 0)
                return -1;
            break;
        case K_SUBJECT:
            if (fast_copy(ev->subject, sizeof ev->subject, &p, end) < 0)
                return -1;
            break;
        case K_TS:
            if (fast_uint(&p, end, &ev->ts_ns) < 0)
                return -1;
            break;
        case K_TYPE:
            if (fast_copy(ev->type, sizeof ev->type, &p, end) < 0)
                return -1;
            break;
        case K_V:
            if (fast_uint(&p, end, &v) < 0 || v != LDG_FORMAT_VERSION)
                return -1;
            break;
        }
    }
    need = (1u << K_ACTOR) | (1u << K_BODY) | (1u << K_SEQ) |
           (1u << K_SUBJECT) | (1u << K_TS) | (1u << K_TYPE) | (1u << K_V);
    if ((seen & need) != need)
        return -1;
    if (end - p != 34 + 66 || p[0] != 0xc4 || p[1] != 32 || p[34] != 0xc4 ||
        p[35] != 64)
        return -1;
    memcpy(ev->prev, p + 2, 32);
    memcpy(ev->sig, p + 36, 64);
    ev->entry = buf;
    ev->entry_len = len;
    ev->signed_part = buf + 1;
    ev->signed_len = len - LDG_ENTRY_OVERHEAD;
    return 0;
}

/* The positive-integer 0 in a canonical position would pack as a
 * positive fixint; the unpacker may hand the same value back as
 * NEGATIVE_INTEGER for some encodings. unpack_canonical rejects those. */
int
ldg_event_decode(const uint8_t *buf, size_t len, struct ldg_event *ev)
{
    return ldg_event_decode_flags(buf, len, ev, 0);
}

int
ldg_event_decode_ex(const uint8_t *buf, size_t len, struct ldg_event *ev,
                    unsigned flags)
{
    return ldg_event_decode_flags(buf, len, ev, flags);
}

int
ldg_event_decode_flags(const uint8_t *buf, size_t len, struct ldg_event *ev,
                       unsigned flags)
{
    msgpack_unpacked u;
    const msgpack_object *a;
    int rc;

    if (buf == NULL || ev == NULL)
        return LDG_EINVAL;
    memset(ev, 0, sizeof *ev);
    if (len < LDG_ENTRY_OVERHEAD || len > LDG_ENTRY_MAX || buf[0] != 0x93)
        return LDG_ECORRUPT;
    if ((flags & LDG_DECODE_TRUSTED) && decode_trusted_fast(buf, len, ev) == 0)
        return 0;
    memset(ev, 0, sizeof *ev);
    if (flags & LDG_DECODE_TRUSTED) {
        size_t off = 0;
        msgpack_unpacked_init(&u);
        rc = unpack_bounded(&u, buf, len, &off);
        if (rc == 0 && off != len)
            rc = LDG_ECORRUPT;
    } else {
        rc = unpack_canonical(buf, len, &u);
    }
    if (rc < 0)
        goto out;
    a = &u.data;
    rc = LDG_ECORRUPT;
    if (a->type != MSGPACK_OBJECT_ARRAY || a->via.array.size != 3)
        goto out;
    if (a->via.array.ptr[1].type != MSGPACK_OBJECT_BIN ||
        a->via.array.ptr[1].via.bin.size != 32 ||
        a->via.array.ptr[2].type != MSGPACK_OBJECT_BIN ||
        a->via.array.ptr[2].via.bin.size != 64)
        goto out;
    rc = decode_map(&a->via.array.ptr[0], ev);
    if (rc < 0)
        goto out;
    memcpy(ev->prev, a->via.array.ptr[1].via.bin.ptr, 32);
    memcpy(ev->sig, a->via.array.ptr[2].via.bin.ptr, 64);
    ev->entry = buf;
    ev->entry_len = len;
    ev->signed_part = buf + 1;
    ev->signed_len = len - LDG_ENTRY_OVERHEAD;
    if (!(flags & LDG_DECODE_TRUSTED))
        ldg_tlog_leaf_hash(ev->leaf, buf, len);
    rc = 0;
out:
    msgpack_unpacked_destroy(&u);
    return rc;
}

/* -------------------------------------------------------- body fields -- */

/*
 * Body record payload (before optional compression):
 *
 *   map(n) { str name : array(2) [ bin(16) salt, value ] }   keys sorted
 */
int
ldg_codec_fields_encode(struct ldg_buf *b, const struct ldg_field *f, size_t n)
{
    ldg_mp_map(b, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        ldg_mp_str(b, f[i].name, strlen(f[i].name));
        ldg_mp_array(b, 2);
        ldg_mp_bin(b, f[i].salt, 16);
        ldg_mp_json(b, f[i].value);
    }
    return b->err;
}

int
ldg_codec_fields_decode(const uint8_t *p, size_t len, struct ldg_field **out,
                        size_t *n)
{
    msgpack_unpacked u;
    const msgpack_object *m;
    struct ldg_field *f = NULL;
    uint32_t cnt = 0;
    int rc;

    *out = NULL;
    *n = 0;
    rc = unpack_canonical(p, len, &u);
    if (rc < 0)
        goto out;
    m = &u.data;
    rc = LDG_ECORRUPT;
    if (m->type != MSGPACK_OBJECT_MAP || m->via.map.size > LDG_FIELDS_MAX)
        goto out;
    f = calloc(m->via.map.size ? m->via.map.size : 1, sizeof *f);
    if (f == NULL) {
        rc = LDG_ENOMEM;
        goto out;
    }
    for (cnt = 0; cnt < m->via.map.size; cnt++) {
        const msgpack_object_kv *kv = &m->via.map.ptr[cnt];
        const msgpack_object *arr = &kv->val;
        if (kv->key.type != MSGPACK_OBJECT_STR ||
            memchr(sptr(&kv->key.via.str), 0, kv->key.via.str.size) ||
            (cnt > 0 && key_cmp(&m->via.map.ptr[cnt - 1].key.via.str,
                                &kv->key.via.str) >= 0) ||
            arr->type != MSGPACK_OBJECT_ARRAY || arr->via.array.size != 2 ||
            arr->via.array.ptr[0].type != MSGPACK_OBJECT_BIN ||
            arr->via.array.ptr[0].via.bin.size != 16)
            goto out;
        f[cnt].name = strndup(sptr(&kv->key.via.str), kv->key.via.str.size);
        if (f[cnt].name == NULL) {
            rc = LDG_ENOMEM;
            goto out;
        }
        memcpy(f[cnt].salt, arr->via.array.ptr[0].via.bin.ptr, 16);
        rc = obj_to_json(&arr->via.array.ptr[1], &f[cnt].value, 1);
        if (rc < 0) {
            cnt++;
            goto out;
        }
        rc = LDG_ECORRUPT;
    }
    *out = f;
    *n = cnt;
    f = NULL;
    rc = 0;
out:
    if (f != NULL)
        ldg_fields_free(f, cnt);
    msgpack_unpacked_destroy(&u);
    return rc;
}

/* Reads a map header (fixmap, map16, map32) at *p; canonicality of the
 * form is checked by unpack_canonical before we get here. */
static int
rd_map_header(const uint8_t **p, const uint8_t *end, uint32_t *n)
{
    const uint8_t *q = *p;
    if (q >= end)
        return LDG_ECORRUPT;
    if ((*q & 0xf0) == 0x80) {
        *n = *q & 0x0f;
        *p = q + 1;
    } else if (*q == 0xde && end - q >= 3) {
        *n = (uint32_t)q[1] << 8 | q[2];
        *p = q + 3;
    } else if (*q == 0xdf && end - q >= 5) {
        *n = (uint32_t)q[1] << 24 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 8 |
             q[4];
        *p = q + 5;
    } else {
        return LDG_ECORRUPT;
    }
    return 0;
}

/* Length of the one msgpack object at p (msgpack-c tells us how many bytes
 * it consumed). */
static int
obj_len(const uint8_t *p, const uint8_t *end, size_t *len)
{
    *len = mp_bounded_len(p, (size_t)(end - p));
    return *len ? 0 : LDG_ECORRUPT;
}

/* Would obj_to_json accept o? (No bin, ext, float32, huge uints, NUL in
 * keys, unsorted keys; depth-limited.) */
static int
json_compatible(const msgpack_object *o, int depth)
{
    if (depth > JSON_DEPTH_MAX)
        return 0;
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
    case MSGPACK_OBJECT_BOOLEAN:
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
    case MSGPACK_OBJECT_STR:
        return 1;
    case MSGPACK_OBJECT_FLOAT64:
        return isfinite(o->via.f64);
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        return o->via.u64 <= (uint64_t)INT64_MAX;
    case MSGPACK_OBJECT_ARRAY:
        for (uint32_t i = 0; i < o->via.array.size; i++)
            if (!json_compatible(&o->via.array.ptr[i], depth + 1))
                return 0;
        return 1;
    case MSGPACK_OBJECT_MAP:
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            const msgpack_object_kv *kv = &o->via.map.ptr[i];
            if (kv->key.type != MSGPACK_OBJECT_STR ||
                memchr(sptr(&kv->key.via.str), 0, kv->key.via.str.size) ||
                (i > 0 && key_cmp(&o->via.map.ptr[i - 1].key.via.str,
                                  &kv->key.via.str) >= 0) ||
                !json_compatible(&kv->val, depth + 1))
                return 0;
        }
        return 1;
    default:
        return 0;
    }
}

int
ldg_codec_fields_slices(const uint8_t *p, size_t len,
                        struct ldg_field_slice **out, size_t *n)
{
    const uint8_t *q = p, *end = p + len;
    struct ldg_field_slice *s = NULL;
    uint32_t cnt;
    int rc;

    *out = NULL;
    *n = 0;
    /* Strictness first: canonical form, key order, [salt, value] shape
     * (without building JSON values: this is on verify's hot path). */
    {
        msgpack_unpacked u;
        const msgpack_object *m;
        rc = unpack_canonical(p, len, &u);
        m = &u.data;
        if (rc == 0 &&
            (m->type != MSGPACK_OBJECT_MAP || m->via.map.size > LDG_FIELDS_MAX))
            rc = LDG_ECORRUPT;
        for (uint32_t i = 0; rc == 0 && i < m->via.map.size; i++) {
            const msgpack_object_kv *kv = &m->via.map.ptr[i];
            const msgpack_object *arr = &kv->val;
            if (kv->key.type != MSGPACK_OBJECT_STR ||
                memchr(sptr(&kv->key.via.str), 0, kv->key.via.str.size) ||
                (i > 0 && key_cmp(&m->via.map.ptr[i - 1].key.via.str,
                                  &kv->key.via.str) >= 0) ||
                arr->type != MSGPACK_OBJECT_ARRAY || arr->via.array.size != 2 ||
                arr->via.array.ptr[0].type != MSGPACK_OBJECT_BIN ||
                arr->via.array.ptr[0].via.bin.size != 16 ||
                !json_compatible(&arr->via.array.ptr[1], 1))
                rc = LDG_ECORRUPT;
        }
        msgpack_unpacked_destroy(&u);
        if (rc < 0)
            return rc;
    }
    rc = rd_map_header(&q, end, &cnt);
    if (rc < 0)
        return rc;
    s = calloc(cnt ? cnt : 1, sizeof *s);
    if (s == NULL)
        return LDG_ENOMEM;
    for (uint32_t i = 0; i < cnt; i++) {
        size_t l;
        s[i].name_enc = q;
        if ((rc = obj_len(q, end, &l)) < 0)
            goto fail;
        s[i].name_enc_len = l;
        q += l;
        /* array(2) = 0x92, then bin8 header 0xc4 0x10 and 16 salt bytes */
        if (end - q < 19 || q[0] != 0x92 || q[1] != 0xc4 || q[2] != 16) {
            rc = LDG_ECORRUPT;
            goto fail;
        }
        s[i].salt = q + 3;
        q += 19;
        s[i].value_enc = q;
        if ((rc = obj_len(q, end, &l)) < 0)
            goto fail;
        s[i].value_enc_len = l;
        q += l;
    }
    if (q != end) {
        rc = LDG_ECORRUPT;
        goto fail;
    }
    *out = s;
    *n = cnt;
    return 0;
fail:
    free(s);
    return rc;
}

/* ------------------------------------------------- body as JSON text -- */

/*
 * JSON text the way jansson's json_dumps(JSON_COMPACT) writes it, so this
 * path and the jansson path give the same bytes: strings escape '"',
 * '\\', \b \f \n \r \t and other control characters as \u00XX (upper-case
 * hex); UTF-8 is copied; integers in decimal; reals use "%.17g" with ".0"
 * added to integral values; object keys in stored (bytewise) order.
 *
 * The payload is read in place, byte by byte, with no msgpack-c objects:
 * this is the display path (query -o json, show, export) and runs once
 * per event shown. Every length is checked against the bytes that remain
 * and nesting is bounded, so a damaged record gives LDG_ECORRUPT, never a
 * read out of bounds. It refuses what obj_to_json refuses inside a body
 * value (bin, ext, float32, integers above INT64_MAX, non-string keys,
 * NaN and infinities).
 */

/* The text is at most 6 bytes for each payload byte (a string byte
 * escaped as \u00XX; "false" for 0xc2; a fixint "-32"; a float64's 9
 * bytes as at most 26 characters), so the room is reserved once and the
 * walker writes through a plain pointer. */
#define JT_ROOM(n) (6 * (n) + 2)

/* Room for n more bytes at the end of b (grown as ldg_buf_add grows it);
 * NULL with b->err set if it cannot be had. */
static uint8_t *
jt_room(struct ldg_buf *b, size_t n)
{
    if (b->err)
        return NULL;
    if (n > b->max - b->len || b->len > b->max) {
        b->err = LDG_ETOOBIG;
        return NULL;
    }
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        uint8_t *np;
        while (cap < b->len + n)
            cap *= 2;
        if (cap > b->max)
            cap = b->max;
        np = realloc(b->p, cap);
        if (np == NULL) {
            b->err = LDG_ENOMEM;
            return NULL;
        }
        b->p = np;
        b->cap = cap;
    }
    return b->p + b->len;
}

static uint8_t *
jt_lit(uint8_t *o, const char *s, size_t n)
{
    memcpy(o, s, n);
    return o + n;
}

/* 1 for the bytes JSON strings escape: below 0x20, '"' and '\\'. */
/* clang-format off */
static const uint8_t jt_esc[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 00 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 10 */
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 20 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 30 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 40 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, /* 50 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 60 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 70 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 80 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 90 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* a0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* b0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* c0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* d0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* e0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* f0 */
};
/* clang-format on */

/* Does one of the 8 bytes at s need escaping in JSON (below 0x20, '"' or
 * '\\')? The usual bit tricks for "has a byte less than" and "has a zero
 * byte"; a false alarm only sends the caller to its byte loop. */
static int
needs_escape8(const uint8_t *s)
{
    uint64_t x, lt, q, bs;
    memcpy(&x, s, 8);
    lt = (x - 0x2020202020202020u) & ~x;
    q = x ^ 0x2222222222222222u;
    q = (q - 0x0101010101010101u) & ~q;
    bs = x ^ 0x5c5c5c5c5c5c5c5cu;
    bs = (bs - 0x0101010101010101u) & ~bs;
    return ((lt | q | bs) & 0x8080808080808080u) != 0;
}

/* The escaping part of jt_str, from the first byte that may need it. */
static uint8_t *__attribute__((noinline))
jt_str_esc(uint8_t *o, const uint8_t *s, size_t n)
{
    static const char hexd[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        if (!jt_esc[c]) {
            *o++ = c;
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '"':
        case '\\':
            *o++ = c;
            break;
        case '\b':
            *o++ = 'b';
            break;
        case '\f':
            *o++ = 'f';
            break;
        case '\n':
            *o++ = 'n';
            break;
        case '\r':
            *o++ = 'r';
            break;
        case '\t':
            *o++ = 't';
            break;
        default:
            *o++ = 'u';
            *o++ = '0';
            *o++ = '0';
            *o++ = (uint8_t)hexd[c >> 4];
            *o++ = (uint8_t)hexd[c & 15];
        }
    }
    return o;
}

/* jt_str for any string: words up to the first byte to escape, then
 * byte by byte. */
static uint8_t *__attribute__((noinline))
jt_str_any(uint8_t *o, const uint8_t *s, size_t n)
{
    size_t i = 0;
    /* eight bytes at a time up to the first that needs escaping; all
     * before it is copied in one go */
    for (; i + 8 <= n; i += 8)
        if (needs_escape8(s + i))
            break;
    /* the last few bytes: the eight that end the string, if there are
     * eight, else one by one */
    if (i < n && n >= 8 && i + 8 > n && !needs_escape8(s + n - 8))
        i = n;
    while (i < n && !jt_esc[s[i]])
        i++;
    *o++ = '"';
    memcpy(o, s, i);
    o += i;
    if (i < n)
        o = jt_str_esc(o, s + i, n - i);
    *o++ = '"';
    return o;
}

/* A JSON string literal of n bytes at s, at o; returns the end. */
static inline uint8_t *
jt_str(uint8_t *o, const uint8_t *s, size_t n)
{
    /* most strings are short and need no escaping: 8 to 16 bytes are two
     * (overlapping) words to test and copy; under 8, a byte loop */
    if (n >= 8 && n <= 16) {
        if (!needs_escape8(s) && !needs_escape8(s + n - 8)) {
            *o++ = '"';
            memcpy(o, s, 8);
            memcpy(o + n - 8, s + n - 8, 8);
            o += n;
            *o++ = '"';
            return o;
        }
    } else if (n < 8) {
        size_t i = 0;
        while (i < n && !jt_esc[s[i]]) {
            o[1 + i] = s[i];
            i++;
        }
        if (i == n) {
            o[0] = '"';
            o[n + 1] = '"';
            return o + n + 2;
        }
    }
    return jt_str_any(o, s, n);
}

char *
ldg_json_str_write(char *o, const char *s, size_t n)
{
    return (char *)jt_str((uint8_t *)o, (const uint8_t *)s, n);
}

static uint8_t *
jt_int(uint8_t *o, uint64_t mag, int neg)
{
    uint8_t tmp[24];
    size_t i = sizeof tmp;
    do {
        tmp[--i] = (uint8_t)('0' + mag % 10);
        mag /= 10;
    } while (mag != 0);
    if (neg)
        tmp[--i] = '-';
    memcpy(o, tmp + i, sizeof tmp - i);
    return o + (sizeof tmp - i);
}

/* Big-endian unsigned of w bytes at p. */
static uint64_t
jt_be(const uint8_t *p, size_t w)
{
    uint64_t v = 0;
    for (size_t i = 0; i < w; i++)
        v = v << 8 | p[i];
    return v;
}

/* A str header at *pp: its bytes. -1 if *pp is not a str or overruns. */
static int
jt_strhdr(const uint8_t **pp, const uint8_t *end, const uint8_t **s, size_t *n)
{
    const uint8_t *p = *pp;
    size_t w;
    if (p >= end)
        return -1;
    if ((*p & 0xe0) == 0xa0) {
        *n = *p & 0x1f;
        w = 0;
    } else if (*p >= 0xd9 && *p <= 0xdb) {
        w = (size_t)1 << (*p - 0xd9);
        if ((size_t)(end - p) < 1 + w)
            return -1;
        *n = (size_t)jt_be(p + 1, w);
    } else {
        return -1;
    }
    p += 1 + w;
    if ((size_t)(end - p) < *n)
        return -1;
    *s = p;
    *pp = p + *n;
    return 0;
}

/* An array or map header at *pp (which is before end): 1 array, 2 map,
 * with its count; 0 if *pp is neither; -1 if it overruns. */
static int
jt_container(const uint8_t **pp, const uint8_t *end, uint32_t *n)
{
    const uint8_t *p = *pp;
    int kind;
    size_t w;
    if ((*p & 0xf0) == 0x90 || (*p & 0xf0) == 0x80) {
        kind = (*p & 0xf0) == 0x90 ? 1 : 2;
        *n = *p & 0x0f;
        *pp = p + 1;
        return kind;
    }
    switch (*p) {
    case 0xdc:
    case 0xdd:
        kind = 1;
        break;
    case 0xde:
    case 0xdf:
        kind = 2;
        break;
    default:
        return 0;
    }
    w = (*p & 1) ? 4 : 2;
    if ((size_t)(end - p) < 1 + w)
        return -1;
    *n = (uint32_t)jt_be(p + 1, w);
    *pp = p + 1 + w;
    return kind;
}

/* jansson writes an exponent without '+' and without leading zeros
 * ("1e300", "2.5e-7" where printf gives "1e+300", "2.5e-07"); so do we.
 * Returns the new length. */
static size_t
jansson_exponent(char *num, size_t len)
{
    char *e = strchr(num, 'e'), *from, *to;
    if (e == NULL)
        return len;
    to = e + 1;
    if (*to == '-')
        to++;
    from = e + 1;
    if (*from == '+' || *from == '-')
        from++;
    while (*from == '0' && from[1] != '\0')
        from++;
    if (from != to) {
        memmove(to, from, len + 1 - (size_t)(from - num));
        len -= (size_t)(from - to);
    }
    return len;
}

static int
jt_value(uint8_t **op, const uint8_t **pp, const uint8_t *end, int depth)
{
    const uint8_t *p = *pp, *s;
    uint8_t *o = *op;
    size_t n, left, w;
    uint32_t cnt;
    uint64_t u;
    int kind;

    if (depth > JSON_DEPTH_MAX || p >= end)
        return LDG_ECORRUPT;
    left = (size_t)(end - p);
    if (*p <= 0x7f) {
        *op = jt_int(o, *p, 0);
        *pp = p + 1;
        return 0;
    }
    if (*p >= 0xe0) {
        *op = jt_int(o, (uint64_t)(0x100 - *p), 1);
        *pp = p + 1;
        return 0;
    }
    if ((*p & 0xe0) == 0xa0) { /* fixstr, the usual string */
        n = *p & 0x1f;
        if (left - 1 < n)
            return LDG_ECORRUPT;
        *op = jt_str(o, p + 1, n);
        *pp = p + 1 + n;
        return 0;
    }
    if (*p >= 0xd9 && *p <= 0xdb) {
        if (jt_strhdr(pp, end, &s, &n) < 0)
            return LDG_ECORRUPT;
        *op = jt_str(o, s, n);
        return 0;
    }
    kind = jt_container(pp, end, &cnt);
    if (kind < 0)
        return LDG_ECORRUPT;
    if (kind > 0) {
        /* each element takes at least a byte (each pair two) */
        if (cnt > (size_t)(end - *pp) / (size_t)kind)
            return LDG_ECORRUPT;
        *o++ = kind == 1 ? '[' : '{';
        for (uint32_t i = 0; i < cnt; i++) {
            int rc;
            if (i)
                *o++ = ',';
            if (kind == 2) {
                const uint8_t *k = *pp;
                if (k < end && (*k & 0xe0) == 0xa0 &&
                    (size_t)(end - k) > (size_t)(*k & 0x1f)) {
                    s = k + 1; /* fixstr key, the usual */
                    n = *k & 0x1f;
                    *pp = k + 1 + n;
                } else if (jt_strhdr(pp, end, &s, &n) < 0) {
                    return LDG_ECORRUPT;
                }
                o = jt_str(o, s, n);
                *o++ = ':';
            }
            if ((rc = jt_value(&o, pp, end, depth + 1)) < 0)
                return rc;
        }
        *o++ = kind == 1 ? ']' : '}';
        *op = o;
        return 0;
    }
    switch (*p) {
    case 0xc0:
        *op = jt_lit(o, "null", 4);
        *pp = p + 1;
        return 0;
    case 0xc2:
        *op = jt_lit(o, "false", 5);
        *pp = p + 1;
        return 0;
    case 0xc3:
        *op = jt_lit(o, "true", 4);
        *pp = p + 1;
        return 0;
    case 0xcc:
    case 0xcd:
    case 0xce:
    case 0xcf:
        w = (size_t)1 << (*p - 0xcc);
        if (left < 1 + w)
            return LDG_ECORRUPT;
        u = jt_be(p + 1, w);
        if (u > (uint64_t)INT64_MAX)
            return LDG_ECORRUPT;
        *op = jt_int(o, u, 0);
        *pp = p + 1 + w;
        return 0;
    case 0xd0:
    case 0xd1:
    case 0xd2:
    case 0xd3:
        w = (size_t)1 << (*p - 0xd0);
        if (left < 1 + w)
            return LDG_ECORRUPT;
        u = jt_be(p + 1, w);
        if (w < 8 && (u >> (8 * w - 1)) != 0) /* sign-extend */
            u |= ~(uint64_t)0 << (8 * w);
        if ((int64_t)u < 0)
            *op = jt_int(o, (uint64_t)0 - u, 1);
        else
            *op = jt_int(o, u, 0);
        *pp = p + 1 + w;
        return 0;
    case 0xcb: {
        char num[48];
        double d;
        int k;
        if (left < 9)
            return LDG_ECORRUPT;
        u = jt_be(p + 1, 8);
        memcpy(&d, &u, sizeof d);
        if (!isfinite(d))
            return LDG_ECORRUPT;
        k = snprintf(num, sizeof num, "%.17g", d);
        if (k < 0 || k > 26)
            return LDG_ECORRUPT; /* cannot happen for a finite double */
        if (strpbrk(num, ".eE") == NULL) {
            memcpy(num + k, ".0", 3);
            k += 2;
        } else {
            k = (int)jansson_exponent(num, (size_t)k);
        }
        *op = jt_lit(o, num, (size_t)k);
        *pp = p + 9;
        return 0;
    }
    default: /* float32, bin, ext, 0xc1: never inside a body */
        return LDG_ECORRUPT;
    }
}

int
ldg_codec_fields_json_text(const uint8_t *p, size_t len, struct ldg_buf *b)
{
    const uint8_t *q = p, *end = p + len;
    uint8_t *o0, *o;
    uint32_t n;
    int rc = 0;

    if (len == 0 || jt_container(&q, end, &n) != 2 || n > (size_t)(end - q) / 2)
        return LDG_ECORRUPT;
    o0 = o = jt_room(b, JT_ROOM(len));
    if (o == NULL)
        return b->err;
    *o++ = '{';
    for (uint32_t i = 0; rc == 0 && i < n; i++) {
        const uint8_t *s;
        size_t sn, salt;
        uint32_t two;
        /* name: a fixstr as written (any str form is read); then the
         * pair's header, 0x92 as written (any array form is read) */
        if (q < end && (*q & 0xe0) == 0xa0 &&
            (size_t)(end - q) > (size_t)(*q & 0x1f)) {
            s = q + 1;
            sn = *q & 0x1f;
            q += 1 + sn;
        } else if (jt_strhdr(&q, end, &s, &sn) < 0) {
            rc = LDG_ECORRUPT;
            break;
        }
        if (q < end && *q == 0x92) {
            q++;
        } else if (q >= end || jt_container(&q, end, &two) != 1 || two != 2) {
            rc = LDG_ECORRUPT;
            break;
        }
        if (q >= end) {
            rc = LDG_ECORRUPT;
            break;
        }
        /* [salt, value]: the salt is skipped whatever it is (a bin8 of
         * 16 bytes as written) */
        if (end - q > 18 && q[0] == 0xc4 && q[1] == 16)
            salt = 18;
        else
            salt = mp_bounded_len(q, (size_t)(end - q));
        if (salt == 0) {
            rc = LDG_ECORRUPT;
            break;
        }
        q += salt;
        if (i)
            *o++ = ',';
        o = jt_str(o, s, sn);
        *o++ = ':';
        rc = jt_value(&o, &q, end, 1);
    }
    if (rc == 0 && q != end)
        rc = LDG_ECORRUPT;
    *o++ = '}';
    b->len += (size_t)(o - o0);
    return rc;
}

int
ldg_body_record_json_append(const uint8_t *rec, size_t rec_len, size_t body_max,
                            char **buf, size_t *len, size_t *cap)
{
    struct ldg_buf b;
    int rc;

    if (rec == NULL || buf == NULL || len == NULL || cap == NULL || *len > *cap)
        return LDG_EINVAL;
    /* Work in an ldg_buf over the caller's buffer. */
    b.p = (uint8_t *)*buf;
    b.len = *len;
    b.cap = *cap;
    b.max = (size_t)1 << 30;
    b.err = 0;
    rc = ldg_body_rec_json_text(rec, rec_len, body_max, &b);
    if (rc == 0)
        ldg_buf_add(&b, "", 1); /* NUL, not counted */
    if (rc == 0 && b.err)
        rc = b.err;
    *buf = (char *)b.p;
    *cap = b.cap;
    if (rc == 0)
        *len = b.len - 1;
    else if (*buf != NULL && *cap > *len)
        (*buf)[*len] = '\0';
    return rc;
}

const char *
ldg_codec_lib_version(void)
{
    static char v[48];
    snprintf(v, sizeof v, "msgpack-c %s", msgpack_version());
    return v;
}
