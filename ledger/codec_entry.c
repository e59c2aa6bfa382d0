/*
 * codec_entry.c — the stored entry: its encoder and its decoders (the
 * strict one and the fast trusted one). The layout is drawn in
 * record_int.h and docs/FORMAT.md; a change to the event map is made here.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "ledger/codec_int.h"
#include "ledger/record_int.h"
#include "ledger/tlog_int.h"

/* ------------------------------------------------------------ entries -- */

/* Keys of the event map, in canonical (bytewise) order. */
/* The entry and source keys: ldg_entry_keys, ldg_source_keys (format.h). */

/* Format version of an envelope: 2 when it has any version 2 key. */
static int
env_version(const struct ldg_envelope *env)
{
    return (env->id != NULL && env->id[0] != '\0') || env->has_time ||
                   env->source != NULL
               ? LDG_ENTRY_V2
               : LDG_ENTRY_V1;
}

static void
mp_src_key(struct ldg_buf *b, enum ldg_source_key k)
{
    ldg_mp_str(b, ldg_source_keys[k], strlen(ldg_source_keys[k]));
}

/*
 * source = map { "exe": str (optional), "gid": uint, "pid": uint,
 *                "uid": uint, "unit": str (optional) }
 */
static void
encode_source(struct ldg_buf *b, const struct ldg_source *src)
{
    int has_exe = src->exe != NULL && src->exe[0] != '\0';
    int has_unit = src->unit != NULL && src->unit[0] != '\0';
    ldg_mp_map(b, 3 + (uint32_t)has_exe + (uint32_t)has_unit);
    if (has_exe) {
        mp_src_key(b, LDG_SK_EXE);
        ldg_mp_str(b, src->exe, strlen(src->exe));
    }
    mp_src_key(b, LDG_SK_GID);
    ldg_mp_uint(b, src->gid);
    mp_src_key(b, LDG_SK_PID);
    ldg_mp_uint(b, src->pid);
    mp_src_key(b, LDG_SK_UID);
    ldg_mp_uint(b, src->uid);
    if (has_unit) {
        mp_src_key(b, LDG_SK_UNIT);
        ldg_mp_str(b, src->unit, strlen(src->unit));
    }
}

static void
mp_key(struct ldg_buf *b, enum ldg_entry_key k)
{
    ldg_mp_str(b, ldg_entry_keys[k], strlen(ldg_entry_keys[k]));
}

int
ldg_entry_encode(struct ldg_buf *b, const struct ldg_envelope *env,
                 size_t *map_len)
{
    int has_run = env->run != NULL && env->run[0] != '\0';
    int has_id = env->id != NULL && env->id[0] != '\0';
    int v = env_version(env);
    size_t start;

    ldg_mp_array(b, 3);
    start = b->len;
    ldg_mp_map(b, 7 + (uint32_t)has_run + (uint32_t)(env->has_parent != 0) +
                      (uint32_t)has_id + (uint32_t)(env->has_time != 0) +
                      (uint32_t)(env->source != NULL));
    mp_key(b, LDG_EK_ACTOR);
    ldg_mp_str(b, env->actor, strlen(env->actor));
    mp_key(b, LDG_EK_BODY);
    ldg_mp_bin(b, env->body_root, 32);
    if (has_id) {
        mp_key(b, LDG_EK_ID);
        ldg_mp_str(b, env->id, strlen(env->id));
    }
    if (env->has_parent) {
        mp_key(b, LDG_EK_PARENT);
        ldg_mp_uint(b, env->parent);
    }
    if (has_run) {
        mp_key(b, LDG_EK_RUN);
        ldg_mp_str(b, env->run, strlen(env->run));
    }
    mp_key(b, LDG_EK_SEQ);
    ldg_mp_uint(b, env->seq);
    if (env->source != NULL) {
        mp_key(b, LDG_EK_SOURCE);
        encode_source(b, env->source);
    }
    mp_key(b, LDG_EK_SUBJECT);
    ldg_mp_str(b, env->subject, strlen(env->subject));
    if (env->has_time) {
        mp_key(b, LDG_EK_TIME);
        ldg_mp_uint(b, env->time_ns);
    }
    mp_key(b, LDG_EK_TS);
    ldg_mp_uint(b, env->ts_ns);
    mp_key(b, LDG_EK_TYPE);
    ldg_mp_str(b, env->type, strlen(env->type));
    mp_key(b, LDG_EK_V);
    ldg_mp_uint(b, (uint64_t)v);
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
        memchr(ldg_mp_sptr(&o->via.str), 0, o->via.str.size))
        return LDG_ECORRUPT;
    memcpy(dst, ldg_mp_sptr(&o->via.str), o->via.str.size);
    dst[o->via.str.size] = '\0';
    return 0;
}

/* A string of 1..max bytes without NUL, pointed to in place. */
static int
str_ref(const msgpack_object *o, size_t max, const char **p, size_t *n)
{
    if (o->type != MSGPACK_OBJECT_STR || o->via.str.size == 0 ||
        o->via.str.size > max ||
        memchr(o->via.str.ptr, 0, o->via.str.size) != NULL)
        return LDG_ECORRUPT;
    *p = o->via.str.ptr;
    *n = o->via.str.size;
    return 0;
}

static int
decode_source(const msgpack_object *m, struct ldg_event *ev)
{
    unsigned seen = 0;
    if (m->type != MSGPACK_OBJECT_MAP)
        return LDG_ECORRUPT;
    for (uint32_t i = 0; i < m->via.map.size; i++) {
        const msgpack_object *k = &m->via.map.ptr[i].key;
        const msgpack_object *v = &m->via.map.ptr[i].val;
        int which = -1;
        if (k->type != MSGPACK_OBJECT_STR)
            return LDG_ECORRUPT;
        for (int j = 0; j < LDG_SK_COUNT; j++)
            if (strlen(ldg_source_keys[j]) == k->via.str.size &&
                memcmp(ldg_source_keys[j], ldg_mp_sptr(&k->via.str),
                       k->via.str.size) == 0)
                which = j;
        if (which < 0 || (seen >> which) != 0)
            return LDG_ECORRUPT;
        seen |= 1u << which;
        switch (which) {
        case LDG_SK_EXE:
            if (str_ref(v, LDG_EXE_MAX, &ev->src_exe, &ev->src_exe_len) < 0)
                return LDG_ECORRUPT;
            break;
        case LDG_SK_UNIT:
            if (str_ref(v, LDG_UNIT_MAX, &ev->src_unit, &ev->src_unit_len) < 0)
                return LDG_ECORRUPT;
            break;
        default:
            if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
                return LDG_ECORRUPT;
            if (which == LDG_SK_GID)
                ev->src_gid = v->via.u64;
            else if (which == LDG_SK_PID)
                ev->src_pid = v->via.u64;
            else
                ev->src_uid = v->via.u64;
        }
    }
    if ((seen &
         ((1u << LDG_SK_GID) | (1u << LDG_SK_PID) | (1u << LDG_SK_UID))) !=
        ((1u << LDG_SK_GID) | (1u << LDG_SK_PID) | (1u << LDG_SK_UID)))
        return LDG_ECORRUPT;
    ev->has_source = 1;
    return 0;
}

static int
decode_map(const msgpack_object *m, struct ldg_event *ev)
{
    unsigned seen = 0;
    uint64_t version = 0;
    int rc = 0;

    if (m->type != MSGPACK_OBJECT_MAP)
        return LDG_ECORRUPT;
    for (uint32_t i = 0; i < m->via.map.size && rc == 0; i++) {
        const msgpack_object *k = &m->via.map.ptr[i].key;
        const msgpack_object *v = &m->via.map.ptr[i].val;
        int which = -1;
        if (k->type != MSGPACK_OBJECT_STR)
            return LDG_ECORRUPT;
        for (int j = 0; j < LDG_EK_COUNT; j++)
            if (strlen(ldg_entry_keys[j]) == k->via.str.size &&
                memcmp(ldg_entry_keys[j], ldg_mp_sptr(&k->via.str),
                       k->via.str.size) == 0)
                which = j;
        /* Unknown, duplicate or out-of-order keys are all non-canonical:
         * keys must appear in strictly increasing enum order. */
        if (which < 0 || (seen >> which) != 0)
            return LDG_ECORRUPT;
        seen |= 1u << which;
        switch (which) {
        case LDG_EK_ACTOR:
            rc = copy_str(ev->actor, sizeof ev->actor, v);
            if (rc == 0 && strlen(ev->actor) != LDG_KEYID_LEN)
                rc = LDG_ECORRUPT;
            break;
        case LDG_EK_BODY:
            if (v->type != MSGPACK_OBJECT_BIN || v->via.bin.size != 32)
                return LDG_ECORRUPT;
            memcpy(ev->body_root, v->via.bin.ptr, 32);
            break;
        case LDG_EK_ID:
            rc = str_ref(v, LDG_ID_MAX, &ev->id, &ev->id_len);
            for (size_t c = 0; rc == 0 && c < ev->id_len; c++)
                if ((unsigned char)ev->id[c] < 0x20 || ev->id[c] == 0x7f)
                    rc = LDG_ECORRUPT;
            break;
        case LDG_EK_SOURCE:
            rc = decode_source(v, ev);
            break;
        case LDG_EK_TIME:
            if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
                return LDG_ECORRUPT;
            ev->has_time = 1;
            ev->time_ns = v->via.u64;
            break;
        case LDG_EK_PARENT:
            if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
                return LDG_ECORRUPT;
            ev->has_parent = 1;
            ev->parent = v->via.u64;
            break;
        case LDG_EK_RUN:
            rc = copy_str(ev->run, sizeof ev->run, v);
            if (rc == 0 && ev->run[0] == '\0')
                rc = LDG_ECORRUPT;
            break;
        case LDG_EK_SEQ:
            if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
                return LDG_ECORRUPT;
            ev->seq = v->via.u64;
            break;
        case LDG_EK_SUBJECT:
            rc = copy_str(ev->subject, sizeof ev->subject, v);
            break;
        case LDG_EK_TS:
            if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
                return LDG_ECORRUPT;
            ev->ts_ns = v->via.u64;
            break;
        case LDG_EK_TYPE:
            rc = copy_str(ev->type, sizeof ev->type, v);
            break;
        case LDG_EK_V:
            if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
                return LDG_ECORRUPT;
            if (v->via.u64 != LDG_ENTRY_V1 && v->via.u64 != LDG_ENTRY_V2)
                return LDG_EVERSION;
            version = v->via.u64;
            break;
        }
    }
    /* v is 2 exactly when a version 2 key is there: one entry, one
     * encoding. */
    if (rc == 0 && (version == LDG_ENTRY_V2) !=
                       ((seen & ((1u << LDG_EK_ID) | (1u << LDG_EK_SOURCE) |
                                 (1u << LDG_EK_TIME))) != 0))
        rc = LDG_ECORRUPT;
    if (rc == 0) {
        unsigned need = (1u << LDG_EK_ACTOR) | (1u << LDG_EK_BODY) |
                        (1u << LDG_EK_SEQ) | (1u << LDG_EK_SUBJECT) |
                        (1u << LDG_EK_TS) | (1u << LDG_EK_TYPE) |
                        (1u << LDG_EK_V);
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
        *n = ldg_rd_be16(p + 1);
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
    *v = ldg_rd_ben(p + 1, w);
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
    static const unsigned char ev_key_len[LDG_EK_COUNT] = {5, 4, 2, 6, 3, 3,
                                                           6, 7, 4, 2, 4, 1};
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
        for (int j = next; j < LDG_EK_COUNT && which < 0; j++) {
            size_t b = 0; /* keys are 1 to 7 bytes: no memcmp call */
            if (ev_key_len[j] != kn)
                continue;
            while (b < kn && k[b] == (uint8_t)ldg_entry_keys[j][b])
                b++;
            if (b == kn)
                which = j;
        }
        if (which < 0)
            return -1;
        next = which + 1;
        seen |= 1u << which;
        switch (which) {
        case LDG_EK_ACTOR:
            if (fast_copy(ev->actor, sizeof ev->actor, &p, end) < 0 ||
                strlen(ev->actor) != LDG_KEYID_LEN)
                return -1;
            break;
        case LDG_EK_BODY:
            if (end - p < 34 || p[0] != 0xc4 || p[1] != 32)
                return -1;
            memcpy(ev->body_root, p + 2, 32);
            p += 34;
            break;
        case LDG_EK_PARENT:
            if (fast_uint(&p, end, &ev->parent) < 0)
                return -1;
            ev->has_parent = 1;
            break;
        case LDG_EK_RUN:
            if (fast_copy(ev->run, sizeof ev->run, &p, end) < 0 ||
                ev->run[0] == '\0')
                return -1;
            break;
        case LDG_EK_SEQ:
            if (fast_uint(&p, end, &ev->seq) < 0)
                return -1;
            break;
        case LDG_EK_SUBJECT:
            if (fast_copy(ev->subject, sizeof ev->subject, &p, end) < 0)
                return -1;
            break;
        case LDG_EK_TS:
            if (fast_uint(&p, end, &ev->ts_ns) < 0)
                return -1;
            break;
        case LDG_EK_TYPE:
            if (fast_copy(ev->type, sizeof ev->type, &p, end) < 0)
                return -1;
            break;
        case LDG_EK_V:
            if (fast_uint(&p, end, &v) < 0 || v != LDG_ENTRY_V1)
                return -1;
            break;
        default: /* a version 2 key: the general decoder takes it */
            return -1;
        }
    }
    need = (1u << LDG_EK_ACTOR) | (1u << LDG_EK_BODY) | (1u << LDG_EK_SEQ) |
           (1u << LDG_EK_SUBJECT) | (1u << LDG_EK_TS) | (1u << LDG_EK_TYPE) |
           (1u << LDG_EK_V);
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

/*
 * Which layout an entry has, cheaply: both start 0x93, a map, "actor" (a
 * 16-byte str) and "body" (bin 32), then maybe "id", "parent", "run";
 * the next key is "seq" in a format 1 entry and "subject" in a sealed
 * one. 1 sealed, 0 format 1, -1 cannot tell (the caller then looks past
 * the first map: a stamp map follows a claim, prev's bin 32 an event map).
 */
static int
layout_sealed(const uint8_t *buf, size_t len)
{
    static const uint8_t head[] = {0xa5, 'a', 'c', 't', 'o', 'r', 0xb0};
    static const uint8_t body[] = {0xa4, 'b', 'o', 'd', 'y', 0xc4, 0x20};
    const uint8_t *p = buf + 2, *end = buf + len;

    if (len < 2 + 7 + 16 + 7 + 32 + 1 || (buf[1] & 0xf0) != 0x80 ||
        memcmp(p, head, 7) != 0 || memcmp(p + 23, body, 7) != 0)
        return -1;
    p += 23 + 7 + 32;
    for (int i = 0; i < 4 && p < end; i++) {
        const uint8_t *k;
        size_t kn;
        uint64_t v;
        if (fast_str(&p, end, &k, &kn) < 0)
            return -1;
        if (kn == 3 && memcmp(k, "seq", 3) == 0)
            return 0;
        if (kn == 7 && memcmp(k, "subject", 7) == 0)
            return 1;
        if ((kn == 2 && memcmp(k, "id", 2) == 0) ||
            (kn == 3 && memcmp(k, "run", 3) == 0)) {
            if (fast_str(&p, end, &k, &kn) < 0)
                return -1;
        } else if (kn == 6 && memcmp(k, "parent", 6) == 0) {
            if (fast_uint(&p, end, &v) < 0)
                return -1;
        } else {
            return -1;
        }
    }
    return -1;
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
    if (len < 2 || len > LDG_ENTRY_MAX || buf[0] != 0x93)
        return LDG_ECORRUPT;
    /* A sealed entry (format version 2) has a map after its first map
     * (the stamp after the claim) where format 1 has prev's bin 32. */
    {
        int sealed = layout_sealed(buf, len);
        size_t m = 0;
        if (sealed < 0) {
            m = ldg_mp_bounded_len(buf + 1, len - 1);
            sealed = m > 0 && m + 1 < len && (buf[1 + m] & 0xf0) == 0x80;
        }
        if (sealed) {
            if ((flags & LDG_DECODE_TRUSTED) &&
                ldg_entry2_decode_trusted(buf, len, ev) == 0)
                return 0;
            rc = ldg_entry2_decode(buf, len, ev);
            if (rc == 0 && !(flags & LDG_DECODE_TRUSTED))
                ldg_tlog_leaf_hash(ev->leaf, buf, len);
            return rc;
        }
    }
    if (len < LDG_ENTRY_OVERHEAD)
        return LDG_ECORRUPT;
    if ((flags & LDG_DECODE_TRUSTED) && decode_trusted_fast(buf, len, ev) == 0)
        return 0;
    memset(ev, 0, sizeof *ev);
    if (flags & LDG_DECODE_TRUSTED) {
        size_t off = 0;
        msgpack_unpacked_init(&u);
        rc = ldg_mp_unpack_bounded(&u, buf, len, &off);
        if (rc == 0 && off != len)
            rc = LDG_ECORRUPT;
    } else {
        rc = ldg_mp_unpack_canonical(buf, len, &u);
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
