/*
 * body.c — body commitments and stored body records. The one file of
 * ledger/ that uses zstd.
 *
 * The entry never holds the body, only a commitment to it, so a body can
 * be erased (body.erased) or some of its top-level fields withheld from an
 * export while everything else still verifies. The commitment works like
 * SD-JWT's disclosures:
 *
 *   salt_i   = 16 bytes per field (keeps low-entropy values such as "ok"
 *              or a user name from being guessed from the digest)
 *   digest_i = SHA-256("ledger/field/v1" 0x00 ‖ salt_i ‖ mp(name_i) ‖
 *                      mp(value_i))
 *   root     = SHA-256("ledger/body/v1" 0x00 ‖ u32be(n) ‖ sort(digest_i))
 *
 * mp() is canonical msgpack. Sorting the digests (not the names) means a
 * withheld field reveals neither its name nor its value.
 *
 * A salt is unpredictable to anyone without the body: either random and
 * stored beside its value (a salted record, every layout), or derived
 * from a random seed the record holds (a seeded record, store layouts 5
 * and 6):
 *
 *   layout 6 (0x05, 0x06): salt_i = AES-128(key = seed[16],
 *                                  "ledger/salt2" ‖ u32be(i))
 *   layout 5 (0x02, 0x03): salt_i = 16 bytes of BLAKE2b(key = seed[16],
 *                                  "ledger/salt/v1" 0x00 ‖ u32be(i div 4))
 *                                                             (crypto.c)
 *
 * Erasing the record erases the seed with it; disclosing one field's salt
 * (an export's redaction) says nothing of the others'.
 *
 * Stored record (FORMAT.md 4):
 *
 *   0x00 | map { name: [bin8(16) salt, value] }           salted
 *   0x01 | zstd frame (magic, content size) of that map    salted (read)
 *   0x02 | seed[16] | map { name: value }                  seeded
 *   0x03 | seed[16] | dict | frame of the seeded map       seeded, zstd
 *   0x04 | dict | frame of the salted map                  salted, zstd
 *   0x05 | seed[16] | map { name: value }                  seeded (AES)
 *   0x06 | seed[16] | dict | frame of the seeded map       seeded (AES), zstd
 *
 * A frame of 0x03, 0x04 and 0x06 is zstd's without its magic number, with the
 * content size, no checksum and no dictionary id; dict names the zstd
 * dictionary it was made with (db dicts, 1..255), 0 none. Dictionaries
 * are trained on the ledger's own bodies with every value that an erase
 * could remove left out (ldg_dict_train, below).
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

#define COMPRESS_MIN 512
#define RECORD_ROOM 960
/* A map of at most this many bytes is stored as it is, dictionary or
 * not: the frame adds 6 bytes (dict, frame and block headers) that a map
 * this small seldom wins back (no body of 32 bytes or less among 400,000
 * of the bench's two workloads was), and each try costs a frame's set-up
 * and entropy tables: for serve's small bodies, 7% of the server's CPU
 * on frames that were all thrown away (issue 49). */
#define DICT_COMPRESS_MIN 32

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
            LDG_ASSERT(min != NULL && same > 0 && done + same <= n);
            for (size_t k = 0; k < same; k++)
                ldg_sha256_update(c, min, 32);
            done += same;
            last = min;
        }
        LDG_ASSERT(done == n);
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

void
body_digest_slices(uint8_t out[32], const uint8_t salt[LDG_SALT_LEN],
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
        body_digest_slices(out, salt, nb.p, nb.len, vb.p, vb.len);
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

/* Where a body's salts come from. */
struct salt_src {
    const uint8_t *seed;      /* seeded record: derived from this seed */
    uint8_t kind;             /* seeded: LDG_BODY_SEEDED or _SEEDED_AES */
    const uint8_t *test_seed; /* salted, vectors: BLAKE2b(seed, seq ‖ name) */
    uint64_t seq;
    const json_t *given; /* salted, a sealed batch's */
};

/* The salts of fields 0..n-1 of a seeded record of uncompressed kind
 * kind (0x02: BLAKE2b, layout 5; 0x05: AES, layout 6). */
void
body_seed_salts(uint8_t kind, const uint8_t seed[LDG_SEED_LEN], size_t n,
                uint8_t (*out)[LDG_SALT_LEN])
{
    if (kind == LDG_BODY_SEEDED_AES)
        ldg_seed_salts_aes(seed, n, out);
    else
        ldg_seed_salts(seed, n, out);
}

/* A salted body's salt for field name (a seeded body's come from
 * seed_salts). */
static void
make_salt(uint8_t salt[LDG_SALT_LEN], const struct salt_src *src,
          const char *name)
{
    if (src->given != NULL) {
        /* a sealed batch's salts: checked by ldg_sealed_batch_parse */
        if (ldg_unhex(salt, LDG_SALT_LEN,
                      json_string_value(json_object_get(src->given, name))) < 0)
            memset(salt, 0, LDG_SALT_LEN);
    } else if (src->test_seed == NULL) {
        ldg_random(salt, LDG_SALT_LEN);
    } else {
        uint8_t msg[8 + 256];
        size_t n = strlen(name);
        if (n > 256)
            n = 256;
        ldg_be64(msg, src->seq);
        memcpy(msg + 8, name, n);
        ldg_keyed_hash16(salt, src->test_seed, msg, 8 + n);
    }
}

/*
 * Builds the payload directly (map header, then per field: name, [salt,]
 * value) so each name and value is encoded once, and hashes the very
 * slices it wrote.
 */
static ZSTD_CCtx *thread_cctx(void);
static int compress_rec(struct ldg_buf *b, const struct ldg_cdict *cd,
                        int legacy, size_t head, struct ldg_body_rec *out);
static int prepare(const json_t *body, const struct salt_src *src,
                   const struct ldg_cdict *cd, int legacy, size_t max,
                   struct ldg_body_rec *out, char *err, size_t errcap);

int
ldg_body_prepare(const json_t *body, uint64_t seq, const uint8_t *salt_seed,
                 size_t max, struct ldg_body_rec *out, char *err, size_t errcap)
{
    struct salt_src src = {NULL, 0, salt_seed, seq, NULL};
    return prepare(body, &src, NULL, 1, max, out, err, errcap);
}

int
ldg_body_prepare_salts(const json_t *body, const json_t *salts,
                       const struct ldg_cdict *cd, int legacy, size_t max,
                       struct ldg_body_rec *out, char *err, size_t errcap)
{
    struct salt_src src = {NULL, 0, NULL, 0, salts};
    return prepare(body, &src, cd, legacy, max, out, err, errcap);
}

int
ldg_body_prepare_seeded(const json_t *body, uint8_t kind,
                        const uint8_t seed[LDG_SEED_LEN],
                        const struct ldg_cdict *cd, size_t max,
                        struct ldg_body_rec *out, char *err, size_t errcap)
{
    struct salt_src src = {seed, kind, NULL, 0, NULL};
    if (kind != LDG_BODY_SEEDED && kind != LDG_BODY_SEEDED_AES) {
        snprintf(err, errcap, "body: %s", ldg_strerror(LDG_EINVAL));
        return LDG_EINVAL;
    }
    return prepare(body, &src, cd, 0, max, out, err, errcap);
}

static int
prepare(const json_t *body, const struct salt_src *src,
        const struct ldg_cdict *cd, int legacy, size_t max,
        struct ldg_body_rec *out, char *err, size_t errcap)
{
    const char *names_stack[32], **names = names_stack;
    uint8_t digests_stack[32][32], (*digests)[32] = digests_stack;
    uint8_t salts_stack[32][LDG_SALT_LEN], (*salts)[LDG_SALT_LEN] = salts_stack;
    struct ldg_buf b;
    size_t n, i = 0, head;
    const char *key;
    json_t *val;
    int rc = 0, seeded = src->seed != NULL;

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
        salts = malloc(n * LDG_SALT_LEN);
        if (names == NULL || digests == NULL || salts == NULL) {
            snprintf(err, errcap, "body: %s", ldg_strerror(LDG_ENOMEM));
            rc = LDG_ENOMEM;
            goto out;
        }
    }
    if (body != NULL)
        json_object_foreach((json_t *)(uintptr_t)body, key, val) names[i++] =
            key;
    sort_names(names, n);
    if (seeded)
        body_seed_salts(src->kind, src->seed, n, salts);
    else
        for (i = 0; i < n; i++)
            make_salt(salts[i], src, names[i]);

    ldg_buf_init(&b, max + 1 + LDG_SEED_LEN);
    /* Most records are a few hundred bytes: one allocation, not three
     * doublings from 256. RECORD_ROOM stays below glibc's large-bin size
     * (1,024 bytes with the chunk header): a large request first merges
     * every free small chunk (malloc_consolidate), which with the freed
     * JSON trees of a committed batch around was 5% of ingest. */
    (void)ldg_buf_room(&b, max + 1 < RECORD_ROOM ? max + 1 : RECORD_ROOM);
    if (seeded) {
        ldg_buf_add(&b, &src->kind, 1);
        ldg_buf_add(&b, src->seed, LDG_SEED_LEN);
    } else {
        ldg_buf_add(&b, "\0", 1); /* LDG_BODY_RAW, maybe changed below */
    }
    head = b.len;
    ldg_mp_map(&b, (uint32_t)n);
    for (i = 0; i < n && !b.err; i++) {
        const uint8_t *salt = salts[i];
        size_t name_at, val_at;
        name_at = b.len;
        ldg_mp_str(&b, names[i], strlen(names[i]));
        if (!seeded) {
            ldg_mp_array(&b, 2);
            ldg_mp_bin(&b, salt, LDG_SALT_LEN);
        }
        val_at = b.len;
        /* names[i] is the object's own key: its value without a hash
         * lookup */
        ldg_mp_json(&b,
                    json_object_iter_value(json_object_key_to_iter(names[i])));
        if (b.err)
            break;
        body_digest_slices(digests[i], salt, b.p + name_at,
                           val_at - (seeded ? 0 : 19) - name_at, b.p + val_at,
                           b.len - val_at);
    }
    if (seeded)
        ldg_wipe(salts, n * LDG_SALT_LEN);
    if (!b.err && b.len - head > max)
        b.err = LDG_ETOOBIG;
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
    (void)compress_rec(&b, cd, legacy, head, out);
out:
    if (names != names_stack)
        free(names);
    if (digests != digests_stack)
        free(digests);
    if (salts != salts_stack)
        free(salts);
    return rc;
}

/* One zstd compression context per thread for the frames of records 0x03
 * and 0x04 (no magic, no checksum, no dictionary id), beside thread_cctx's
 * for the legacy 0x01. */
static pthread_key_t cctx5_key;
static pthread_once_t cctx5_once = PTHREAD_ONCE_INIT;
static int cctx5_key_ok;

static void cctx_free(void *p);

static void
cctx5_key_make(void)
{
    cctx5_key_ok = pthread_key_create(&cctx5_key, cctx_free) == 0;
}

static ZSTD_CCtx *
thread_cctx5(void)
{
    ZSTD_CCtx *c;
    pthread_once(&cctx5_once, cctx5_key_make);
    if (!cctx5_key_ok)
        return NULL;
    c = pthread_getspecific(cctx5_key);
    if (c != NULL)
        return c;
    if ((c = ZSTD_createCCtx()) == NULL)
        return NULL;
    if (ZSTD_isError(
            ZSTD_CCtx_setParameter(c, ZSTD_c_format, ZSTD_f_zstd1_magicless)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 0)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_dictIDFlag, 0)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, 1)) ||
        pthread_setspecific(cctx5_key, c) != 0) {
        ZSTD_freeCCtx(c);
        return NULL;
    }
    return c;
}

struct ldg_cdict {
    unsigned id;
    ZSTD_CDict *cd;
};

/*
 * n bytes at src as a layout 5 frame (magicless, content size, no
 * checksum, no dictionary id) at level 1, with cd's dictionary or none,
 * into dst (cap >= ZSTD_compressBound(n)): its length, or a zstd error. A
 * call that failed leaves its frame begun: the next one starts anew.
 *
 * With a dictionary the literals are stored raw (Raw_Literals_Block, RFC
 * 8878 3.1.1.3.1.1), not Huffman-coded: what the dictionary and a body's
 * own matches leave is a few bytes of digits and ids that a Huffman table
 * shortens little, and decoding the table and the literals was a quarter
 * of each inflate, which the time window and the body scan do for every
 * event. On the bench's 1M bodies (zstd 1.5.4, the store's dictionary,
 * one thread, best of 3) a frame inflates in 117 ns against 152, is 99.3
 * B against 96.7, and takes 617 ns to make against 713. Level 3 with raw
 * literals kept the bytes (96.7 B) and inflated in 112 ns, but took 792
 * ns to make and raised a 1M-event ingest's peak RSS from 57-60 MiB to
 * 63-66 (its bound is 64; bench/bounds.tsv, "query time window"). Without a
 * dictionary zstd chooses, as before (Huffman-coded where that pays): such a
 * frame is a large body with no table to lean on. A reader takes any valid
 * frame: these are the writer's choices, not the format's.
 */
static size_t
compress5(const struct ldg_cdict *cd, void *dst, size_t cap, const void *src,
          size_t n)
{
    ZSTD_CCtx *cx = thread_cctx5();
    if (cx == NULL ||
        ZSTD_isError(ZSTD_CCtx_reset(cx, ZSTD_reset_session_only)) ||
        ZSTD_isError(ZSTD_CCtx_refCDict(cx, cd ? cd->cd : NULL)) ||
        ZSTD_isError(
            ZSTD_CCtx_setParameter(cx, ZSTD_c_literalCompressionMode,
                                   cd ? ZSTD_ps_disable : ZSTD_ps_auto)) ||
        (cd == NULL &&
         ZSTD_isError(ZSTD_CCtx_setParameter(cx, ZSTD_c_compressionLevel, 1))))
        return (size_t)-1;
    return ZSTD_compress2(cx, dst, cap, src, n);
}

int
ldg_body_pack_salted(const uint8_t *p, size_t n, const struct ldg_cdict *cd,
                     size_t have, uint8_t *out, size_t cap, size_t *out_len)
{
    size_t zn;
    *out_len = 0;
    if (n <= (cd == NULL ? COMPRESS_MIN : DICT_COMPRESS_MIN) ||
        cap < 2 + ZSTD_compressBound(n))
        return 0;
    zn = compress5(cd, out + 2, cap - 2, p, n);
    if (ZSTD_isError(zn) || 2 + zn >= have)
        return 0;
    out[0] = LDG_BODY_SALTED_Z;
    out[1] = (uint8_t)(cd ? cd->id : 0);
    *out_len = 2 + zn;
    return 1;
}

/* A frame of at most this many bytes is made on the stack (the bench's
 * bodies are 200-600 bytes); a larger one in an allocation of its own. */
#define FRAME_ROOM 2048

/*
 * The record in b (flag at b->p[0], the map from head on) compressed
 * when that makes it smaller: legacy (layouts 1 to 4) as 0x01 when the
 * map exceeds COMPRESS_MIN; else (layout 5) with cd's dictionary past
 * DICT_COMPRESS_MIN, or without one past COMPRESS_MIN, as 0x03 or 0x06
 * (seeded: 0x02's, 0x05's) or 0x04 (salted). A
 * record that does not shrink, or that zstd cannot make, stays as it is.
 *
 * out gets the record. A compressed one goes after the record as it was,
 * in b's allocation, and out->raw keeps that for the commit's readers:
 *
 *   b->p: | record as it was (raw_len) | compressed record (rec_len) |
 *           ^ out->raw                   ^ out->rec
 *
 * one allocation an event, not two: each was made on a parse thread and
 * freed on the writer's caller's (glibc's slow path, both ends), and the
 * second, with its realloc, cost about 2% of an ingest's CPU (issue 49).
 */
static int
compress_rec(struct ldg_buf *b, const struct ldg_cdict *cd, int legacy,
             size_t head, struct ldg_body_rec *out)
{
    size_t n = b->len - head, raw_len = b->len, bound, zn, zhead;
    uint8_t zflag = b->p[0] == LDG_BODY_SEEDED       ? LDG_BODY_SEEDED_Z
                    : b->p[0] == LDG_BODY_SEEDED_AES ? LDG_BODY_SEEDED_AES_Z
                                                     : LDG_BODY_SALTED_Z;
    uint8_t room[FRAME_ROOM], *z = room;
    int rc = 0;

    out->rec = b->p;
    out->rec_len = b->len;
    if (n <= (legacy || cd == NULL ? COMPRESS_MIN : DICT_COMPRESS_MIN))
        return 0;
    bound = ZSTD_compressBound(n);
    zhead = legacy ? 1 : head + 1; /* flag [seed] dict */
    if (zhead + bound > sizeof room && (z = malloc(zhead + bound)) == NULL)
        return LDG_ENOMEM;
    if (legacy) {
        ZSTD_CCtx *cx = thread_cctx();
        zn = cx ? ZSTD_compressCCtx(cx, z + 1, bound, b->p + head, n, 1)
                : ZSTD_compress(z + 1, bound, b->p + head, n, 1);
        z[0] = LDG_BODY_ZSTD;
    } else {
        zn = compress5(cd, z + zhead, bound, b->p + head, n);
        memcpy(z, b->p, head); /* flag and seed */
        z[0] = zflag;
        z[head] = (uint8_t)(cd ? cd->id : 0);
    }
    if (ZSTD_isError(zn) || zhead + zn >= raw_len)
        goto out;
    b->max = raw_len + zhead + zn; /* the two records, no more */
    ldg_buf_add(b, z, zhead + zn);
    if (b->err) { /* stays as it is */
        rc = b->err;
        b->err = 0;
        b->len = raw_len;
        goto out;
    }
    out->raw = b->p;
    out->raw_len = raw_len;
    out->rec = b->p + raw_len;
    out->rec_len = zhead + zn;
out:
    if (z != room)
        free(z);
    return rc;
}

void
ldg_body_rec_release(struct ldg_body_rec *b)
{
    free(b->raw != NULL ? b->raw : b->rec); /* raw holds rec (compress_rec) */
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

ZSTD_DCtx *
body_thread_dctx(void)
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

/* A thread's decompression context for the magicless frames of records
 * 0x03 and 0x04, beside thread_dctx's (which reads 0x01's, with magic). */
static pthread_key_t dctx5_key;
static pthread_once_t dctx5_once = PTHREAD_ONCE_INIT;
static int dctx5_key_ok;

static void
dctx5_key_make(void)
{
    dctx5_key_ok = pthread_key_create(&dctx5_key, dctx_free) == 0;
}

ZSTD_DCtx *
body_thread_dctx5(void)
{
    ZSTD_DCtx *d;
    pthread_once(&dctx5_once, dctx5_key_make);
    if (!dctx5_key_ok)
        return NULL;
    d = pthread_getspecific(dctx5_key);
    if (d != NULL)
        return d;
    if ((d = ZSTD_createDCtx()) == NULL)
        return NULL;
    if (ZSTD_isError(
            ZSTD_DCtx_setParameter(d, ZSTD_d_format, ZSTD_f_zstd1_magicless)) ||
        pthread_setspecific(dctx5_key, d) != 0) {
        ZSTD_freeDCtx(d);
        return NULL;
    }
    return d;
}

/* A thread's scratch for the inflating readers that copy out at once
 * (ldg_body_rec_json_text with no scratch of the caller's). */
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static int scratch_key_ok;

static void
scratch_free(void *p)
{
    ldg_inflate_release(p);
    free(p);
}

static void
scratch_key_make(void)
{
    scratch_key_ok = pthread_key_create(&scratch_key, scratch_free) == 0;
}

struct ldg_inflate *
body_thread_scratch(void)
{
    struct ldg_inflate *s;
    pthread_once(&scratch_once, scratch_key_make);
    if (!scratch_key_ok)
        return NULL;
    s = pthread_getspecific(scratch_key);
    if (s == NULL && (s = calloc(1, sizeof *s)) != NULL &&
        pthread_setspecific(scratch_key, s) != 0) {
        free(s);
        s = NULL;
    }
    return s;
}

/* ------------------------------------------------------ dictionaries -- */

int
ldg_dicts_new(struct ldg_dicts **out)
{
    struct ldg_dicts *d;
    if (out == NULL)
        return LDG_EINVAL;
    if ((d = calloc(1, sizeof *d)) == NULL)
        return LDG_ENOMEM;
    pthread_mutex_init(&d->mu, NULL);
    *out = d;
    return 0;
}

void
ldg_dicts_free(struct ldg_dicts *d)
{
    if (d == NULL)
        return;
    for (unsigned i = 0; i < LDG_DICT_IDS; i++) {
        ZSTD_freeDDict(d->dd[i]);
        free(d->bytes[i]);
    }
    pthread_mutex_destroy(&d->mu);
    free(d);
}

/* The id a zstd dictionary's header says it has (RFC 8878 5: the magic
 * 0xEC30A437, then Dictionary_ID, both little-endian), or 0. */
unsigned
body_dict_header_id(const uint8_t *p, size_t len)
{
    if (len < 8 || p[0] != 0x37 || p[1] != 0xa4 || p[2] != 0x30 || p[3] != 0xec)
        return 0;
    return (unsigned)p[4] | (unsigned)p[5] << 8 | (unsigned)p[6] << 16 |
           (unsigned)p[7] << 24;
}

int
ldg_dicts_add(struct ldg_dicts *d, unsigned id, const uint8_t *p, size_t len)
{
    ZSTD_DDict *dd;
    uint8_t *copy;
    int rc = 0;

    if (d == NULL || p == NULL)
        return LDG_EINVAL;
    if (id < 1 || id >= LDG_DICT_IDS || len > LDG_DICT_MAX ||
        body_dict_header_id(p, len) != id)
        return LDG_ECORRUPT;
    pthread_mutex_lock(&d->mu);
    if (__atomic_load_n(&d->dd[id], __ATOMIC_ACQUIRE) != NULL) {
        /* held already: the same bytes, or the store is not what it was */
        rc = d->len[id] == len && memcmp(d->bytes[id], p, len) == 0
                 ? 0
                 : LDG_ECORRUPT;
        goto out;
    }
    if ((copy = malloc(len)) == NULL) {
        rc = LDG_ENOMEM;
        goto out;
    }
    memcpy(copy, p, len);
    if ((dd = ZSTD_createDDict(copy, len)) == NULL) {
        free(copy);
        rc = LDG_ECORRUPT;
        goto out;
    }
    d->bytes[id] = copy;
    d->len[id] = len;
    if (id > d->top)
        d->top = id;
    __atomic_store_n(&d->dd[id], dd, __ATOMIC_RELEASE);
out:
    pthread_mutex_unlock(&d->mu);
    return rc;
}

unsigned
ldg_dicts_top(struct ldg_dicts *d)
{
    unsigned top;
    pthread_mutex_lock(&d->mu);
    top = d->top;
    pthread_mutex_unlock(&d->mu);
    return top;
}

int
ldg_dicts_get(const struct ldg_dicts *d, unsigned id, const uint8_t **p,
              size_t *len)
{
    if (d == NULL || id < 1 || id >= LDG_DICT_IDS ||
        __atomic_load_n(&d->dd[id], __ATOMIC_ACQUIRE) == NULL)
        return LDG_ENOTFOUND;
    *p = d->bytes[id];
    *len = d->len[id];
    return 0;
}

int
ldg_cdict_new(struct ldg_cdict **out, unsigned id, const uint8_t *p, size_t len)
{
    struct ldg_cdict *c;
    if (id < 1 || id >= LDG_DICT_IDS || body_dict_header_id(p, len) != id)
        return LDG_ECORRUPT;
    if ((c = calloc(1, sizeof *c)) == NULL)
        return LDG_ENOMEM;
    c->id = id;
    if ((c->cd = ZSTD_createCDict(p, len, LDG_DICT_LEVEL)) == NULL) {
        free(c);
        return LDG_ENOMEM;
    }
    *out = c;
    return 0;
}

unsigned
ldg_cdict_id(const struct ldg_cdict *c)
{
    return c->id;
}

void
ldg_cdict_free(struct ldg_cdict *c)
{
    if (c == NULL)
        return;
    ZSTD_freeCDict(c->cd);
    free(c);
}
