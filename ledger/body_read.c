/*
 * body_read.c — body records read back (body_int.h; body.c draws them):
 * a frame opened into a caller's buffer, a record's payload, fields,
 * JSON and root.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define ZSTD_STATIC_LINKING_ONLY  /* the magicless format, frame headers */
#define ZDICT_STATIC_LINKING_ONLY /* fastCover training */
#include <zdict.h>
#include <zstd.h>

#include "ledger/codec_int.h"
#include "ledger/record_int.h"
#include "ledger/body_int.h"

/* --------------------------------------------------- reading records -- */

void
ldg_inflate_release(struct ldg_inflate *s)
{
    free(s->p);
    s->p = NULL;
    s->cap = 0;
}

/* Room past a frame's content: zstd copies a match 32 bytes at a time
 * when the output has that much room, else byte by byte to the end. */
#define SLACK 64

/* One frame at z (zn bytes) into s: legacy 0x01's (with magic) when dict
 * is -1, else a magicless one with dictionary dict (0 none). Bounded by
 * max: the frame must state its content size, at most max. One body, one
 * form (FORMAT.md 4): a frame with a content checksum or a Dictionary_ID
 * field is refused, whatever its kind (no writer of any layout made
 * one). */
static int
inflate(const struct ldg_dicts *d, int dict, const uint8_t *z, size_t zn,
        size_t max, struct ldg_inflate *s, size_t *n)
{
    ZSTD_frameHeader h;
    ZSTD_DCtx *dx;
    size_t got;

    if (ZSTD_getFrameHeader_advanced(
            &h, z, zn, dict < 0 ? ZSTD_f_zstd1 : ZSTD_f_zstd1_magicless) != 0 ||
        h.frameType != ZSTD_frame || h.checksumFlag || h.dictID != 0 ||
        h.frameContentSize == ZSTD_CONTENTSIZE_UNKNOWN ||
        h.frameContentSize > max + 16)
        return LDG_ECORRUPT;
    if (s->cap < h.frameContentSize + SLACK) {
        size_t cap = (size_t)h.frameContentSize + SLACK;
        uint8_t *np;
        if (cap < 4096)
            cap = 4096;
        if ((np = realloc(s->p, cap)) == NULL)
            return LDG_ENOMEM;
        s->p = np;
        s->cap = cap;
    }
    if (dict < 0) {
        dx = body_thread_dctx();
        got = dx ? ZSTD_decompressDCtx(dx, s->p, s->cap, z, zn)
                 : ZSTD_decompress(s->p, s->cap, z, zn);
    } else {
        const ZSTD_DDict *dd = NULL;
        if (dict > 0 &&
            (d == NULL ||
             (dd = __atomic_load_n(&d->dd[dict], __ATOMIC_ACQUIRE)) == NULL))
            return LDG_ECORRUPT; /* a dictionary the store lacks */
        if ((dx = body_thread_dctx5()) == NULL)
            return LDG_ENOMEM;
        got = ZSTD_decompress_usingDDict(dx, s->p, s->cap, z, zn, dd);
    }
    if (ZSTD_isError(got) || got != h.frameContentSize)
        return LDG_ECORRUPT;
    LDG_ASSERT(got + SLACK <= s->cap);
    *n = got;
    return 0;
}

int
ldg_body_payload(const struct ldg_dicts *d, const uint8_t *rec, size_t len,
                 size_t max, struct ldg_inflate *s, struct ldg_payload *pl)
{
    int rc;
    memset(pl, 0, sizeof *pl);
    if (rec == NULL || len < 1)
        return LDG_ECORRUPT;
    switch (rec[0]) {
    case LDG_BODY_RAW:
        pl->map = rec + 1;
        pl->len = len - 1;
        return 0;
    case LDG_BODY_ZSTD:
        if ((rc = inflate(d, -1, rec + 1, len - 1, max, s, &pl->len)) < 0)
            return rc;
        pl->map = s->p;
        return 0;
    case LDG_BODY_SEEDED:
    case LDG_BODY_SEEDED_AES:
        if (len < 1 + LDG_SEED_LEN + 1)
            return LDG_ECORRUPT;
        pl->kind = rec[0];
        pl->seed = rec + 1;
        pl->map = rec + 1 + LDG_SEED_LEN;
        pl->len = len - 1 - LDG_SEED_LEN;
        return 0;
    case LDG_BODY_SEEDED_Z:
    case LDG_BODY_SEEDED_AES_Z:
        if (len < 1 + LDG_SEED_LEN + 2)
            return LDG_ECORRUPT;
        if ((rc = inflate(d, rec[1 + LDG_SEED_LEN], rec + 2 + LDG_SEED_LEN,
                          len - 2 - LDG_SEED_LEN, max, s, &pl->len)) < 0)
            return rc;
        pl->kind =
            rec[0] == LDG_BODY_SEEDED_Z ? LDG_BODY_SEEDED : LDG_BODY_SEEDED_AES;
        pl->seed = rec + 1;
        pl->map = s->p;
        pl->dict = rec[1 + LDG_SEED_LEN];
        return 0;
    case LDG_BODY_SALTED_Z:
        if (len < 3)
            return LDG_ECORRUPT;
        if ((rc = inflate(d, rec[1], rec + 2, len - 2, max, s, &pl->len)) < 0)
            return rc;
        pl->map = s->p;
        pl->dict = rec[1];
        return 0;
    default:
        return LDG_ECORRUPT;
    }
}

int
ldg_body_rec_raw(const struct ldg_dicts *d, const uint8_t *rec, size_t len,
                 size_t max, struct ldg_inflate *s, struct ldg_inflate *o,
                 const uint8_t **out, size_t *olen)
{
    struct ldg_payload pl;
    size_t head;
    int rc;
    if (len > 0 && (rec[0] == LDG_BODY_RAW || rec[0] == LDG_BODY_SEEDED ||
                    rec[0] == LDG_BODY_SEEDED_AES)) {
        if ((rc = ldg_body_payload(d, rec, len, max, s, &pl)) < 0)
            return rc;
        *out = rec;
        *olen = len;
        return 0;
    }
    if ((rc = ldg_body_payload(d, rec, len, max, s, &pl)) < 0)
        return rc;
    head = pl.seed != NULL ? 1 + LDG_SEED_LEN : 1;
    if (o->cap < head + pl.len) {
        size_t nc = head + pl.len + 4096;
        uint8_t *np = realloc(o->p, nc);
        if (np == NULL)
            return LDG_ENOMEM;
        o->p = np;
        o->cap = nc;
    }
    o->p[0] = pl.kind;
    if (pl.seed != NULL)
        memcpy(o->p + 1, pl.seed, LDG_SEED_LEN);
    memcpy(o->p + head, pl.map, pl.len);
    *out = o->p;
    *olen = head + pl.len;
    return 0;
}

int
ldg_body_record_raw_append(const struct ldg_dicts *d, const uint8_t *rec,
                           size_t rec_len, size_t body_max, struct ldg_buf *out)
{
    struct ldg_inflate *s;
    struct ldg_payload pl;
    int rc;
    if (rec == NULL || out == NULL)
        return LDG_EINVAL;
    if ((s = body_thread_scratch()) == NULL)
        return LDG_ENOMEM;
    if ((rc = ldg_body_payload(d, rec, rec_len, body_max, s, &pl)) < 0)
        return rc;
    /* pl.kind: 0x00 unless seeded (as ldg_body_rec_raw writes it) */
    ldg_buf_add(out, &pl.kind, 1);
    if (pl.seed != NULL)
        ldg_buf_add(out, pl.seed, LDG_SEED_LEN);
    ldg_buf_add(out, pl.map, pl.len);
    return out->err;
}

int
ldg_body_record_open(const struct ldg_dicts *d, const uint8_t *rec, size_t len,
                     size_t max, struct ldg_inflate *s, const uint8_t **map,
                     size_t *n, int *seeded)
{
    struct ldg_payload pl;
    int rc;
    if (s == NULL || map == NULL || n == NULL)
        return LDG_EINVAL;
    if ((rc = ldg_body_payload(d, rec, len, max, s, &pl)) < 0)
        return rc;
    *map = pl.map;
    *n = pl.len;
    if (seeded != NULL)
        *seeded = pl.seed != NULL;
    return 0;
}

/* The digests of n sliced fields of a payload (a seeded one's salts
 * derived from its seed). */
static int
slice_digests(const struct ldg_payload *pl, const struct ldg_field_slice *sl,
              size_t n, uint8_t (*d)[32], struct ldg_field *f)
{
    uint8_t salts_stack[32][LDG_SALT_LEN], (*salts)[LDG_SALT_LEN] = salts_stack;
    if (pl->seed != NULL) {
        if (n > 32 && (salts = malloc(n * LDG_SALT_LEN)) == NULL)
            return LDG_ENOMEM;
        body_seed_salts(pl->kind, pl->seed, n, salts);
    }
    for (size_t i = 0; i < n; i++) {
        const uint8_t *sp = pl->seed != NULL ? salts[i] : sl[i].salt;
        if (f != NULL)
            memcpy(f[i].salt, sp, LDG_SALT_LEN);
        body_digest_slices(f != NULL ? f[i].digest : d[i], sp, sl[i].name_enc,
                           sl[i].name_enc_len, sl[i].value_enc,
                           sl[i].value_enc_len);
    }
    if (pl->seed != NULL)
        ldg_wipe(salts, (n < 32 ? 32 : n) * LDG_SALT_LEN);
    if (salts != salts_stack)
        free(salts);
    return 0;
}

/* The fields of a record, with their salts and digests when digests is
 * set (a JSON body needs none: computing them was most of ldg_body_get). */
static int
decode_fields(const struct ldg_dicts *d, const uint8_t *rec, size_t len,
              size_t max, struct ldg_field **out, size_t *n, int digests)
{
    struct ldg_inflate s = {NULL, 0};
    struct ldg_payload pl;
    size_t ns = 0;
    struct ldg_field_slice *sl = NULL;
    int rc = ldg_body_payload(d, rec, len, max, &s, &pl);
    *out = NULL;
    *n = 0;
    if (rc < 0)
        goto out;
    rc = ldg_codec_fields_decode_shape(pl.map, pl.len, pl.seed != NULL, out, n);
    if (rc < 0 || !digests)
        goto out;
    rc = ldg_codec_fields_slices_shape(pl.map, pl.len, pl.seed != NULL, &sl,
                                       &ns);
    if (rc == 0 && ns == *n)
        rc = slice_digests(&pl, sl, ns, NULL, *out);
    else if (rc == 0)
        rc = LDG_ECORRUPT;
    if (rc < 0) {
        ldg_fields_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
out:
    free(sl);
    ldg_inflate_release(&s);
    return rc;
}

int
ldg_body_decode(const struct ldg_dicts *d, const uint8_t *rec, size_t len,
                size_t max, struct ldg_field **out, size_t *n)
{
    return decode_fields(d, rec, len, max, out, n, 1);
}

int
ldg_body_decode_json(const struct ldg_dicts *d, const uint8_t *rec, size_t len,
                     size_t max, json_t **out)
{
    struct ldg_field *f;
    size_t n;
    json_t *o;
    int rc = decode_fields(d, rec, len, max, &f, &n, 0);
    if (rc < 0)
        return rc;
    o = json_object();
    if (o == NULL) {
        ldg_fields_free(f, n);
        return LDG_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        if (json_object_set_new_nocheck(o, f[i].name, f[i].value) != 0)
            rc = LDG_ENOMEM; /* (the value is gone with the failed set) */
        f[i].value = NULL;
    }
    ldg_fields_free(f, n);
    if (rc < 0) {
        json_decref(o);
        return rc;
    }
    *out = o;
    return 0;
}

int
ldg_body_payload_root(const struct ldg_payload *pl, uint8_t root[32],
                      struct ldg_body_view *b, int *viewed)
{
    size_t n = 0;
    uint8_t d_stack[32][32], (*dg)[32] = NULL;
    struct ldg_field_slice sl_stack[32], *sl = sl_stack;
    int rc;
    /* verify --full calls this for every event: one walk over the bytes
     * and no allocation for up to 32 fields */
    rc = ldg_codec_fields_walk_shape(pl->map, pl->len, pl->seed != NULL,
                                     sl_stack, 32, &n);
    if (rc == 0 && n > 32) {
        sl = NULL;
        rc = ldg_codec_fields_slices_shape(pl->map, pl->len, pl->seed != NULL,
                                           &sl, &n);
    }
    if (rc == 0) {
        dg = n <= 32 ? d_stack : malloc(n * 32);
        if (dg == NULL)
            rc = LDG_ENOMEM;
    }
    if (rc == 0)
        rc = slice_digests(pl, sl, n, dg, NULL);
    if (rc == 0)
        ldg_body_root(root, (const uint8_t(*)[32])dg, n);
    if (b != NULL)
        *viewed = rc == 0 && ldg_body_view_from_slices(b, sl, n) == 0;
    if (dg != d_stack)
        free(dg);
    if (sl != sl_stack)
        free(sl);
    return rc;
}

int
ldg_body_rec_root_s(const struct ldg_dicts *d, const uint8_t *rec, size_t len,
                    size_t max, struct ldg_inflate *s, uint8_t root[32])
{
    struct ldg_payload pl;
    int rc = ldg_body_payload(d, rec, len, max, s, &pl);
    return rc < 0 ? rc : ldg_body_payload_root(&pl, root, NULL, NULL);
}

int
ldg_body_rec_root(const struct ldg_dicts *d, const uint8_t *rec, size_t len,
                  size_t max, uint8_t root[32])
{
    struct ldg_inflate *s = body_thread_scratch();
    if (s == NULL)
        return LDG_ENOMEM;
    return ldg_body_rec_root_s(d, rec, len, max, s, root);
}

void
ldg_fields_free(struct ldg_field *f, size_t n)
{
    if (f == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        free(f[i].name);
        json_decref(f[i].value);
    }
    free(f);
}

int
ldg_body_rec_json_text(const struct ldg_dicts *d, const uint8_t *rec,
                       size_t len, size_t max, struct ldg_inflate *s,
                       struct ldg_buf *b)
{
    struct ldg_payload pl;
    int rc;
    if (s == NULL && (s = body_thread_scratch()) == NULL)
        return LDG_ENOMEM;
    rc = ldg_body_payload(d, rec, len, max, s, &pl);
    if (rc == 0)
        rc = ldg_codec_fields_json_text_shape(pl.map, pl.len, pl.seed != NULL,
                                              b);
    return rc;
}

const char *
ldg_body_lib_version(void)
{
    static char v[48];
    snprintf(v, sizeof v, "zstd %s", ZSTD_versionString());
    return v;
}

int
ldg_body_record_plain(const uint8_t *rec, size_t len, const uint8_t **p,
                      size_t *n)
{
    if (rec == NULL || len < 1)
        return 0;
    if (rec[0] == LDG_BODY_RAW) {
        *p = rec + 1;
        *n = len - 1;
        return 1;
    }
    if ((rec[0] == LDG_BODY_SEEDED || rec[0] == LDG_BODY_SEEDED_AES) &&
        len > 1 + LDG_SEED_LEN) {
        *p = rec + 1 + LDG_SEED_LEN;
        *n = len - 1 - LDG_SEED_LEN;
        return 1;
    }
    return 0;
}

int
ldg_body_record_seeded(const uint8_t *rec, size_t len)
{
    return rec != NULL && len > 0 &&
           (rec[0] == LDG_BODY_SEEDED || rec[0] == LDG_BODY_SEEDED_Z ||
            rec[0] == LDG_BODY_SEEDED_AES || rec[0] == LDG_BODY_SEEDED_AES_Z);
}
