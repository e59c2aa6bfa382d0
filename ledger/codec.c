/*
 * codec.c — canonical msgpack: the writer (ldg_mp_*), JSON to msgpack, and
 * strict msgpack to JSON. With codec_entry.c, codec_fields.c and
 * codec_json.c (and codec_int.h) the only files that use msgpack-c.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "ledger/codec_int.h"
#include "ledger/record_int.h"
#include "ledger/tlog_int.h"

/* ------------------------------------------------------------- buffer -- */

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
                n = ldg_rd_ben(p + pos + 1, w);
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

size_t
ldg_mp_bounded_len(const uint8_t *p, size_t len)
{
    return mp_walk(p, len, NULL);
}

/* msgpack-c's fixed parse stack (MSGPACK_EMBED_STACK_SIZE); nesting at or
 * near it makes msgpack_unpack_next fail as if out of memory. */
#define MSGPACK_C_STACK 32

/* msgpack_unpack_next behind the bounds pre-pass; *off gets the length
 * of the object. */
int
ldg_mp_unpack_bounded(msgpack_unpacked *u, const uint8_t *p, size_t len,
                      size_t *off)
{
    unsigned depth;
    msgpack_unpack_return r;

    *off = 0;
    if (ldg_mp_bounded_len(p, len) == 0)
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
const char *
ldg_mp_sptr(const msgpack_object_str *s)
{
    return s->size ? s->ptr : "";
}

/* Unpacks exactly one object covering all of p[0..len) and checks that
 * packing it again gives the same bytes. */
int
ldg_mp_unpack_canonical(const uint8_t *p, size_t len, msgpack_unpacked *u)
{
    size_t off = 0;
    struct ldg_buf b;
    int rc;

    msgpack_unpacked_init(u);
    if ((rc = ldg_mp_unpack_bounded(u, p, len, &off)) < 0)
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

int
ldg_mp_key_cmp(const msgpack_object_str *a, const msgpack_object_str *b)
{
    size_t n = a->size < b->size ? a->size : b->size;
    int c = n ? memcmp(ldg_mp_sptr(a), ldg_mp_sptr(b), n) : 0;
    if (c)
        return c;
    return a->size < b->size ? -1 : a->size > b->size;
}

int
ldg_mp_obj_to_json(const msgpack_object *o, json_t **out, int depth)
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
        j = json_stringn_nocheck(ldg_mp_sptr(&o->via.str), o->via.str.size);
        break;
    case MSGPACK_OBJECT_ARRAY:
        j = json_array();
        if (j == NULL)
            return LDG_ENOMEM;
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            json_t *e;
            int rc = ldg_mp_obj_to_json(&o->via.array.ptr[i], &e, depth + 1);
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
                (i > 0 && ldg_mp_key_cmp(&o->via.map.ptr[i - 1].key.via.str,
                                         &kv->key.via.str) >= 0) ||
                memchr(ldg_mp_sptr(&kv->key.via.str), 0,
                       kv->key.via.str.size)) {
                json_decref(j);
                return LDG_ECORRUPT;
            }
            rc = ldg_mp_obj_to_json(&kv->val, &e, depth + 1);
            if (rc < 0) {
                json_decref(j);
                return rc;
            }
            if (json_object_setn_new_nocheck(j, ldg_mp_sptr(&kv->key.via.str),
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
    int rc = ldg_mp_unpack_canonical(p, len, &u);
    if (rc == 0)
        rc = ldg_mp_obj_to_json(&u.data, out, 0);
    msgpack_unpacked_destroy(&u);
    return rc;
}

int
ldg_msgpack_to_json(const uint8_t *p, size_t len, json_t **out)
{
    return ldg_mp_to_json_strict(p, len, out);
}

const char *
ldg_codec_lib_version(void)
{
    static char v[48];
    snprintf(v, sizeof v, "msgpack-c %s", msgpack_version());
    return v;
}
