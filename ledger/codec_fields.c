/*
 * codec_fields.c — a body record's payload: the canonical map of field
 * name to [salt, value], its encoder, decoder and byte slices.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "ledger/codec_int.h"
#include "ledger/record_int.h"
#include "ledger/tlog_int.h"

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
        ldg_mp_bin(b, f[i].salt, LDG_SALT_LEN);
        ldg_mp_json(b, f[i].value);
    }
    return b->err;
}

/* seeded: the map holds each value itself (a seeded record's, FORMAT.md
 * 4): the salts are left zero for the caller to derive. */
int
ldg_codec_fields_decode_shape(const uint8_t *p, size_t len, int seeded,
                              struct ldg_field **out, size_t *n)
{
    msgpack_unpacked u;
    const msgpack_object *m;
    struct ldg_field *f = NULL;
    uint32_t cnt = 0;
    int rc;

    *out = NULL;
    *n = 0;
    rc = ldg_mp_unpack_canonical(p, len, &u);
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
            memchr(ldg_mp_sptr(&kv->key.via.str), 0, kv->key.via.str.size) ||
            (cnt > 0 && ldg_mp_key_cmp(&m->via.map.ptr[cnt - 1].key.via.str,
                                       &kv->key.via.str) >= 0))
            goto out;
        if (!seeded &&
            (arr->type != MSGPACK_OBJECT_ARRAY || arr->via.array.size != 2 ||
             arr->via.array.ptr[0].type != MSGPACK_OBJECT_BIN ||
             arr->via.array.ptr[0].via.bin.size != LDG_SALT_LEN))
            goto out;
        f[cnt].name =
            strndup(ldg_mp_sptr(&kv->key.via.str), kv->key.via.str.size);
        if (f[cnt].name == NULL) {
            rc = LDG_ENOMEM;
            goto out;
        }
        if (seeded) {
            rc = ldg_mp_obj_to_json(arr, &f[cnt].value, 1);
        } else {
            memcpy(f[cnt].salt, arr->via.array.ptr[0].via.bin.ptr,
                   LDG_SALT_LEN);
            rc = ldg_mp_obj_to_json(&arr->via.array.ptr[1], &f[cnt].value, 1);
        }
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
                memchr(ldg_mp_sptr(&kv->key.via.str), 0,
                       kv->key.via.str.size) ||
                (i > 0 && ldg_mp_key_cmp(&o->via.map.ptr[i - 1].key.via.str,
                                         &kv->key.via.str) >= 0) ||
                !json_compatible(&kv->val, depth + 1))
                return 0;
        }
        return 1;
    default:
        return 0;
    }
}

/*
 * The reference for codec_canon.c: the canonical check as it was made
 * before, by msgpack-c (unpack, pack again, compare the bytes) and the
 * shape of the payload on the unpacked objects. Only the differential
 * fuzz target (tests/fuzz/fuzz_canon.c) and its regression test call it:
 * both checks must accept exactly the same payloads.
 */
int
ldg_codec_fields_check_repack(const uint8_t *p, size_t len)
{
    msgpack_unpacked u;
    const msgpack_object *m;
    int rc = ldg_mp_unpack_canonical(p, len, &u);

    m = &u.data;
    if (rc == 0 &&
        (m->type != MSGPACK_OBJECT_MAP || m->via.map.size > LDG_FIELDS_MAX))
        rc = LDG_ECORRUPT;
    for (uint32_t i = 0; rc == 0 && i < m->via.map.size; i++) {
        const msgpack_object_kv *kv = &m->via.map.ptr[i];
        const msgpack_object *arr = &kv->val;
        if (kv->key.type != MSGPACK_OBJECT_STR ||
            memchr(ldg_mp_sptr(&kv->key.via.str), 0, kv->key.via.str.size) ||
            (i > 0 && ldg_mp_key_cmp(&m->via.map.ptr[i - 1].key.via.str,
                                     &kv->key.via.str) >= 0) ||
            arr->type != MSGPACK_OBJECT_ARRAY || arr->via.array.size != 2 ||
            arr->via.array.ptr[0].type != MSGPACK_OBJECT_BIN ||
            arr->via.array.ptr[0].via.bin.size != LDG_SALT_LEN ||
            !json_compatible(&arr->via.array.ptr[1], 1))
            rc = LDG_ECORRUPT;
    }
    msgpack_unpacked_destroy(&u);
    return rc;
}

int
ldg_codec_fields_slices_shape(const uint8_t *p, size_t len, int seeded,
                              struct ldg_field_slice **out, size_t *n)
{
    struct ldg_field_slice *s;
    size_t cnt = 0;
    /* canonical form, key order, [salt, value] shape, checked on the
     * bytes (codec_canon.c): this is on verify's hot path */
    int rc = ldg_codec_fields_walk_shape(p, len, seeded, NULL, 0, &cnt);

    *out = NULL;
    *n = 0;
    if (rc < 0)
        return rc;
    s = calloc(cnt ? cnt : 1, sizeof *s);
    if (s == NULL)
        return LDG_ENOMEM;
    if ((rc = ldg_codec_fields_walk_shape(p, len, seeded, s, cnt, &cnt)) < 0) {
        free(s);
        return rc;
    }
    *out = s;
    *n = cnt;
    return 0;
}

/*
 * Needles for a byte prefilter over body payloads (query's body.X= terms):
 * a payload (ldg_body_record_open's) holds, for a field `name`, the bytes
 * str(name) (followed by its [salt, value] pair in a salted map, by the
 * value in a seeded one), and its value as canonical msgpack. A payload
 * without them cannot have the field or the value; one with them still
 * has to be decoded to be sure.
 */
int
ldg_body_needle_name(const char *name, uint8_t **out, size_t *len)
{
    struct ldg_buf b;
    size_t n;

    if (name == NULL || out == NULL || len == NULL)
        return LDG_EINVAL;
    n = strlen(name);
    ldg_buf_init(&b, n + 16);
    ldg_mp_str(&b, name, n);
    if (b.err) {
        int rc = b.err;
        ldg_buf_release(&b);
        return rc;
    }
    *len = b.len;
    *out = (uint8_t *)ldg_buf_detach(&b, NULL);
    return 0;
}

int
ldg_body_needle_value(const json_t *v, uint8_t **out, size_t *len)
{
    if (v == NULL || out == NULL || len == NULL)
        return LDG_EINVAL;
    return ldg_json_to_msgpack(v, 4096, out, len);
}
