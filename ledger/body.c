/*
 * body.c — body commitments and stored body records. The one file of
 * ledger/ that uses zstd.
 *
 * The entry never holds the body, only a commitment to it, so a body can
 * be erased (body.erased) or some of its top-level fields withheld from an
 * export while everything else still verifies. The commitment works like
 * SD-JWT's disclosures:
 *
 *   salt_i   = 16 random bytes per field (keeps low-entropy values such as
 *              "ok" or a user name from being guessed from the digest)
 *   digest_i = SHA-256("ledger/field/v1" 0x00 ‖ salt_i ‖ mp(name_i) ‖
 *                      mp(value_i))
 *   root     = SHA-256("ledger/body/v1" 0x00 ‖ u32be(n) ‖ sort(digest_i))
 *
 * mp() is canonical msgpack. Sorting the digests (not the names) means a
 * withheld field reveals neither its name nor its value.
 *
 * Stored record:
 *
 *   +------+-----------------------------------------------+
 *   | flag | payload: map { name: [bin8(16) salt, value] }    |
 *   +------+-----------------------------------------------+
 *   flag 0x00: payload as is; 0x01: payload is one zstd frame (with its
 *   content size), used when the payload exceeds 512 bytes and shrinks.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "ledger/ledger_int.h"

#define COMPRESS_MIN 512
#define RECORD_ROOM 960

static int
cmp_digest(const void *a, const void *b)
{
    return memcmp(a, b, 32);
}

/* Up to this many items are sorted by insertion (a body has about a
 * dozen fields; glibc's qsort allocates and goes through a comparison
 * callback, which cost 5% of preparing a body), more by qsort. Both give
 * the same order: names in a body are distinct and equal digests are equal
 * bytes. */
#define SMALL_SORT 32

/* Feeds the digests to c in bytewise order. Up to LDG_FIELDS_MAX digests
 * are sorted in a stack copy; beyond that (never for bodies the ledger
 * writes) a selection pass that needs no memory, so that this can never
 * fail and never commit to anything but the true root. */
static void
feed_sorted(struct ldg_sha256_ctx *c, const uint8_t (*d)[32], size_t n)
{
    if (n <= SMALL_SORT) {
        uint8_t sorted[SMALL_SORT][32], tmp[32];
        memcpy(sorted, d, n * 32);
        for (size_t i = 1; i < n; i++) {
            size_t j = i;
            if (memcmp(sorted[j - 1], sorted[j], 32) <= 0)
                continue;
            memcpy(tmp, sorted[i], 32);
            while (j > 0 && memcmp(sorted[j - 1], tmp, 32) > 0) {
                memcpy(sorted[j], sorted[j - 1], 32);
                j--;
            }
            memcpy(sorted[j], tmp, 32);
        }
        ldg_sha256_update(c, sorted, n * 32);
        return;
    }
    if (n <= LDG_FIELDS_MAX) {
        uint8_t sorted[LDG_FIELDS_MAX][32];
        memcpy(sorted, d, n * 32);
        qsort(sorted, n, 32, cmp_digest);
        ldg_sha256_update(c, sorted, n * 32);
        return;
    }
    {
        const uint8_t *last = NULL;
        size_t done = 0;
        while (done < n) {
            const uint8_t *min = NULL;
            size_t same = 0;
            for (size_t i = 0; i < n; i++) {
                if (last != NULL && memcmp(d[i], last, 32) <= 0)
                    continue;
                if (min == NULL || memcmp(d[i], min, 32) < 0) {
                    min = d[i];
                    same = 1;
                } else if (memcmp(d[i], min, 32) == 0) {
                    same++;
                }
            }
            for (size_t k = 0; k < same; k++)
                ldg_sha256_update(c, min, 32);
            done += same;
            last = min;
        }
    }
}

void
ldg_body_root(uint8_t out[32], const uint8_t (*digests)[32], size_t n)
{
    struct ldg_sha256_ctx c;
    uint8_t nbe[4];

    nbe[0] = (uint8_t)(n >> 24);
    nbe[1] = (uint8_t)(n >> 16);
    nbe[2] = (uint8_t)(n >> 8);
    nbe[3] = (uint8_t)n;
    ldg_sha256_init(&c);
    ldg_sha256_update(&c, LDG_CTX_BODY, sizeof LDG_CTX_BODY);
    ldg_sha256_update(&c, nbe, 4);
    if (n > 0)
        feed_sorted(&c, digests, n);
    ldg_sha256_final(&c, out);
}

static void
digest_slices(uint8_t out[32], const uint8_t salt[LDG_SALT_LEN],
              const uint8_t *name, size_t name_len, const uint8_t *val,
              size_t val_len)
{
    struct ldg_sha256_ctx c;
    ldg_sha256_init(&c);
    ldg_sha256_update(&c, LDG_CTX_FIELD, sizeof LDG_CTX_FIELD);
    ldg_sha256_update(&c, salt, LDG_SALT_LEN);
    ldg_sha256_update(&c, name, name_len);
    ldg_sha256_update(&c, val, val_len);
    ldg_sha256_final(&c, out);
}

int
ldg_field_digest(uint8_t out[32], const uint8_t salt[LDG_SALT_LEN],
                 const char *name, const json_t *value)
{
    struct ldg_buf nb, vb;
    int rc;

    ldg_buf_init(&nb, 4096);
    ldg_buf_init(&vb, (size_t)64 << 20);
    ldg_mp_str(&nb, name, strlen(name));
    ldg_mp_json(&vb, value);
    rc = nb.err ? nb.err : vb.err;
    if (rc == 0)
        digest_slices(out, salt, nb.p, nb.len, vb.p, vb.len);
    ldg_buf_release(&nb);
    ldg_buf_release(&vb);
    return rc;
}

/* Nesting depth of a JSON value: a scalar is 0, a container (even an
 * empty one) is one more than its deepest member. Stops counting past
 * limit (the result is then limit + 1 or more). */
int
ldg_json_depth(const json_t *v, int limit)
{
    int d = 0;
    if (!json_is_object(v) && !json_is_array(v))
        return 0;
    if (limit <= 0)
        return 1;
    if (json_is_object(v)) {
        const char *k;
        json_t *e;
        json_object_foreach((json_t *)(uintptr_t)v, k, e)
        {
            int x = ldg_json_depth(e, limit - 1);
            if (x > d)
                d = x;
            if (d >= limit)
                break;
        }
    } else {
        for (size_t i = 0; i < json_array_size(v) && d < limit; i++) {
            int x = ldg_json_depth(json_array_get(v, i), limit - 1);
            if (x > d)
                d = x;
        }
    }
    return d + 1;
}

static int
cmp_name(const void *a, const void *b)
{
    const char *const *x = a, *const *y = b;
    return strcmp(*x, *y);
}

static void
sort_names(const char **names, size_t n)
{
    if (n > SMALL_SORT) {
        qsort(names, n, sizeof *names, cmp_name);
        return;
    }
    for (size_t i = 1; i < n; i++) {
        const char *x = names[i];
        size_t j = i;
        while (j > 0 && strcmp(names[j - 1], x) > 0) {
            names[j] = names[j - 1];
            j--;
        }
        names[j] = x;
    }
}

static void
make_salt(uint8_t salt[LDG_SALT_LEN], const uint8_t *seed, uint64_t seq,
          const char *name, const json_t *given)
{
    if (given != NULL) {
        /* a sealed batch's salts: checked by ldg_sealed_batch_parse */
        if (ldg_unhex(salt, LDG_SALT_LEN,
                      json_string_value(json_object_get(given, name))) < 0)
            memset(salt, 0, LDG_SALT_LEN);
    } else if (seed == NULL) {
        ldg_random(salt, LDG_SALT_LEN);
    } else {
        uint8_t msg[8 + 256];
        size_t n = strlen(name);
        if (n > 256)
            n = 256;
        ldg_be64(msg, seq);
        memcpy(msg + 8, name, n);
        ldg_keyed_hash16(salt, seed, msg, 8 + n);
    }
}

/*
 * Builds the payload directly (map header, then per field: name, array
 * header, salt, value) so each name and value is encoded once, and hashes
 * the very slices it wrote.
 */
static ZSTD_CCtx *thread_cctx(void);
static int prepare(const json_t *body, uint64_t seq, const uint8_t *salt_seed,
                   const json_t *salts, size_t max, struct ldg_body_rec *out,
                   char *err, size_t errcap);

int
ldg_body_prepare(const json_t *body, uint64_t seq, const uint8_t *salt_seed,
                 size_t max, struct ldg_body_rec *out, char *err, size_t errcap)
{
    return prepare(body, seq, salt_seed, NULL, max, out, err, errcap);
}

int
ldg_body_prepare_salts(const json_t *body, const json_t *salts, size_t max,
                       struct ldg_body_rec *out, char *err, size_t errcap)
{
    return prepare(body, 0, NULL, salts, max, out, err, errcap);
}

static int
prepare(const json_t *body, uint64_t seq, const uint8_t *salt_seed,
        const json_t *salts, size_t max, struct ldg_body_rec *out, char *err,
        size_t errcap)
{
    const char *names_stack[32], **names = names_stack;
    uint8_t digests_stack[32][32], (*digests)[32] = digests_stack;
    struct ldg_buf b;
    size_t n, i = 0;
    const char *key;
    json_t *val;
    int rc = 0;

    memset(out, 0, sizeof *out);
    if (body != NULL && !json_is_object(body)) {
        snprintf(err, errcap, "body must be a JSON object");
        return LDG_EBADINPUT;
    }
    n = body ? json_object_size(body) : 0;
    if (n > LDG_FIELDS_MAX) {
        snprintf(err, errcap, "body has %zu fields, more than %d", n,
                 LDG_FIELDS_MAX);
        return LDG_ETOOBIG;
    }
    if (body != NULL) {
        json_object_foreach((json_t *)(uintptr_t)body, key, val)
        {
            if (ldg_json_depth(val, LDG_DEPTH_MAX) > LDG_DEPTH_MAX) {
                snprintf(err, errcap,
                         "body field '%s' nests deeper than %d levels", key,
                         LDG_DEPTH_MAX);
                return LDG_ETOOBIG;
            }
        }
    }
    if (n > 32) {
        names = malloc(n * sizeof *names);
        digests = malloc(n * 32);
        if (names == NULL || digests == NULL) {
            snprintf(err, errcap, "body: %s", ldg_strerror(LDG_ENOMEM));
            rc = LDG_ENOMEM;
            goto out;
        }
    }
    if (body != NULL)
        json_object_foreach((json_t *)(uintptr_t)body, key, val) names[i++] =
            key;
    sort_names(names, n);

    ldg_buf_init(&b, max + 1);
    /* Most records are a few hundred bytes: one allocation, not three
     * doublings from 256. RECORD_ROOM stays below glibc's large-bin size
     * (1,024 bytes with the chunk header): a large request first merges
     * every free small chunk (malloc_consolidate), which with the freed
     * JSON trees of a committed batch around was 5% of ingest. */
    (void)ldg_buf_room(&b, max + 1 < RECORD_ROOM ? max + 1 : RECORD_ROOM);
    ldg_buf_add(&b, "\0", 1); /* flag, fixed up below */
    ldg_mp_map(&b, (uint32_t)n);
    for (i = 0; i < n && !b.err; i++) {
        uint8_t salt[LDG_SALT_LEN];
        size_t name_at, val_at;
        make_salt(salt, salt_seed, seq, names[i], salts);
        name_at = b.len;
        ldg_mp_str(&b, names[i], strlen(names[i]));
        ldg_mp_array(&b, 2);
        ldg_mp_bin(&b, salt, LDG_SALT_LEN);
        val_at = b.len;
        /* names[i] is the object's own key: its value without a hash
         * lookup */
        ldg_mp_json(&b,
                    json_object_iter_value(json_object_key_to_iter(names[i])));
        if (b.err)
            break;
        digest_slices(digests[i], salt, b.p + name_at, val_at - 19 - name_at,
                      b.p + val_at, b.len - val_at);
    }
    if (b.err) {
        rc = b.err;
        if (rc == LDG_ETOOBIG)
            snprintf(err, errcap, "body exceeds %zu bytes", max);
        else
            snprintf(err, errcap, "body: %s", ldg_strerror(rc));
        ldg_buf_release(&b);
        goto out;
    }
    ldg_body_root(out->root, (const uint8_t(*)[32])digests, n);

    if (b.len - 1 > COMPRESS_MIN) {
        size_t bound = ZSTD_compressBound(b.len - 1);
        uint8_t *z = malloc(1 + bound);
        if (z != NULL) {
            ZSTD_CCtx *cx = thread_cctx();
            size_t zn =
                cx ? ZSTD_compressCCtx(cx, z + 1, bound, b.p + 1, b.len - 1, 1)
                   : ZSTD_compress(z + 1, bound, b.p + 1, b.len - 1, 1);
            if (!ZSTD_isError(zn) && zn + 1 < b.len) {
                z[0] = LDG_BODY_ZSTD;
                ldg_buf_release(&b);
                b.p = z;
                b.len = zn + 1;
                z = NULL;
            }
            free(z);
        }
    }
    out->rec = b.p;
    out->rec_len = b.len;
out:
    if (names != names_stack)
        free(names);
    if (digests != digests_stack)
        free(digests);
    return rc;
}

void
ldg_body_rec_release(struct ldg_body_rec *b)
{
    free(b->rec);
    memset(b, 0, sizeof *b);
}

/* One zstd compression context per thread, made on its first body to
 * compress and freed when the thread ends: ZSTD_compress makes one per
 * call, and its set-up was 12% of the proxy's CPU at 9,000 events/s
 * (the same bytes come out: same level, same parameters). NULL when it
 * cannot be made: the caller uses ZSTD_compress. */
static pthread_key_t cctx_key;
static pthread_once_t cctx_once = PTHREAD_ONCE_INIT;
static int cctx_key_ok;

static void
cctx_free(void *p)
{
    ZSTD_freeCCtx(p);
}

static void
cctx_key_make(void)
{
    cctx_key_ok = pthread_key_create(&cctx_key, cctx_free) == 0;
}

static ZSTD_CCtx *
thread_cctx(void)
{
    ZSTD_CCtx *c;
    pthread_once(&cctx_once, cctx_key_make);
    if (!cctx_key_ok)
        return NULL;
    c = pthread_getspecific(cctx_key);
    if (c == NULL && (c = ZSTD_createCCtx()) != NULL &&
        pthread_setspecific(cctx_key, c) != 0) {
        ZSTD_freeCCtx(c);
        c = NULL;
    }
    return c;
}

/* One zstd decompression context per thread, made on its first
 * compressed body and freed when the thread ends: ZSTD_decompress makes
 * and frees one per call, and that set-up (ZSTD_initDCtx_internal) was
 * 62% of a scan reading 775,000 compressed bodies (metrics, query -o
 * json). NULL when it cannot be made: the caller uses ZSTD_decompress. */
static pthread_key_t dctx_key;
static pthread_once_t dctx_once = PTHREAD_ONCE_INIT;
static int dctx_key_ok;

static void
dctx_free(void *p)
{
    ZSTD_freeDCtx(p);
}

static void
dctx_key_make(void)
{
    dctx_key_ok = pthread_key_create(&dctx_key, dctx_free) == 0;
}

static ZSTD_DCtx *
thread_dctx(void)
{
    ZSTD_DCtx *d;
    pthread_once(&dctx_once, dctx_key_make);
    if (!dctx_key_ok)
        return NULL;
    d = pthread_getspecific(dctx_key);
    if (d == NULL && (d = ZSTD_createDCtx()) != NULL &&
        pthread_setspecific(dctx_key, d) != 0) {
        ZSTD_freeDCtx(d);
        d = NULL;
    }
    return d;
}

/* Returns the payload of a record, decompressing into *owned if needed.
 * Decompression is bounded by max: the frame must state its content size
 * and it must not exceed max. */
static int
payload(const uint8_t *rec, size_t len, size_t max, const uint8_t **p,
        size_t *n, uint8_t **owned)
{
    *owned = NULL;
    if (len < 1)
        return LDG_ECORRUPT;
    if (rec[0] == LDG_BODY_RAW) {
        *p = rec + 1;
        *n = len - 1;
        return 0;
    }
    if (rec[0] != LDG_BODY_ZSTD)
        return LDG_ECORRUPT;
    {
        unsigned long long sz = ZSTD_getFrameContentSize(rec + 1, len - 1);
        size_t got;
        if (sz == ZSTD_CONTENTSIZE_ERROR || sz == ZSTD_CONTENTSIZE_UNKNOWN ||
            sz > max + 16)
            return LDG_ECORRUPT;
        *owned = malloc(sz ? sz : 1);
        if (*owned == NULL)
            return LDG_ENOMEM;
        ZSTD_DCtx *d = thread_dctx();
        got = d ? ZSTD_decompressDCtx(d, *owned, sz, rec + 1, len - 1)
                : ZSTD_decompress(*owned, sz, rec + 1, len - 1);
        if (ZSTD_isError(got) || got != sz) {
            free(*owned);
            *owned = NULL;
            return LDG_ECORRUPT;
        }
        *p = *owned;
        *n = got;
    }
    return 0;
}

/* The fields of a record, with their digests when digests is set (a
 * JSON body needs none: computing them was most of ldg_body_get). */
static int
decode_fields(const uint8_t *rec, size_t len, size_t max,
              struct ldg_field **out, size_t *n, int digests)
{
    const uint8_t *p;
    size_t pn, ns = 0;
    uint8_t *owned;
    struct ldg_field_slice *sl = NULL;
    int rc = payload(rec, len, max, &p, &pn, &owned);
    if (rc < 0)
        return rc;
    rc = ldg_codec_fields_decode(p, pn, out, n);
    if (rc == 0 && !digests) {
        free(owned);
        return 0;
    }
    if (rc == 0)
        rc = ldg_codec_fields_slices(p, pn, &sl, &ns);
    if (rc == 0) {
        for (size_t i = 0; i < ns && i < *n; i++)
            digest_slices((*out)[i].digest, sl[i].salt, sl[i].name_enc,
                          sl[i].name_enc_len, sl[i].value_enc,
                          sl[i].value_enc_len);
    } else if (*out != NULL) {
        ldg_fields_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    free(sl);
    free(owned);
    return rc;
}

int
ldg_body_decode(const uint8_t *rec, size_t len, size_t max,
                struct ldg_field **out, size_t *n)
{
    return decode_fields(rec, len, max, out, n, 1);
}

int
ldg_body_decode_json(const uint8_t *rec, size_t len, size_t max, json_t **out)
{
    struct ldg_field *f;
    size_t n;
    json_t *o;
    int rc = decode_fields(rec, len, max, &f, &n, 0);
    if (rc < 0)
        return rc;
    o = json_object();
    if (o == NULL) {
        ldg_fields_free(f, n);
        return LDG_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        json_object_set_new_nocheck(o, f[i].name, f[i].value);
        f[i].value = NULL;
    }
    ldg_fields_free(f, n);
    *out = o;
    return 0;
}

int
ldg_body_rec_root(const uint8_t *rec, size_t len, size_t max, uint8_t root[32])
{
    const uint8_t *p;
    size_t pn, n = 0;
    uint8_t *owned, d_stack[32][32], (*d)[32] = NULL;
    struct ldg_field_slice sl_stack[32], *sl = sl_stack;
    int rc = payload(rec, len, max, &p, &pn, &owned);
    if (rc < 0)
        return rc;
    /* verify --full calls this for every event: one walk over the bytes
     * and no allocation for up to 32 fields */
    rc = ldg_codec_fields_walk(p, pn, sl_stack, 32, &n);
    if (rc == 0 && n > 32) {
        sl = NULL;
        rc = ldg_codec_fields_slices(p, pn, &sl, &n);
    }
    if (rc == 0) {
        /* verify --full calls this for every event: no allocation for
         * the usual dozen fields */
        d = n <= 32 ? d_stack : malloc(n * 32);
        if (d == NULL)
            rc = LDG_ENOMEM;
    }
    if (rc == 0) {
        for (size_t i = 0; i < n; i++)
            digest_slices(d[i], sl[i].salt, sl[i].name_enc, sl[i].name_enc_len,
                          sl[i].value_enc, sl[i].value_enc_len);
        ldg_body_root(root, (const uint8_t(*)[32])d, n);
    }
    if (d != d_stack)
        free(d);
    if (sl != sl_stack)
        free(sl);
    free(owned);
    return rc;
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
ldg_body_rec_json_text(const uint8_t *rec, size_t len, size_t max,
                       struct ldg_buf *b)
{
    const uint8_t *p;
    size_t pn;
    uint8_t *owned;
    int rc = payload(rec, len, max, &p, &pn, &owned);
    if (rc < 0)
        return rc;
    rc = ldg_codec_fields_json_text(p, pn, b);
    free(owned);
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
    if (rec == NULL || len < 1 || rec[0] != LDG_BODY_RAW)
        return 0;
    *p = rec + 1;
    *n = len - 1;
    return 1;
}
