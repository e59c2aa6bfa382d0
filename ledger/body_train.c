/*
 * body_train.c — the dictionaries of body records (body_int.h), trained
 * on the ledger's own bodies with every value an erase could remove left
 * out.
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

/* ---------------------------------------------------------- training -- */

/*
 * A dictionary is trained on the maps of recent bodies (seeded shape: name
 * then value), in which every value is replaced by nil except those that
 * erasing a body cannot remove from the store:
 *
 *   - nil, true and false;
 *   - a string the vocabulary enumerates ("ok", "failed", "deny", ...;
 *     ledger/vocab.c);
 *   - a string an entry of the window shows: its type, subject, the
 *     subject's name (after its first ':'), run, actor key id, id, source
 *     exe and unit. Entries are never erased (only pruned into archives).
 *
 * Numbers, other strings, arrays and maps go. zstd's trainer (fastCover)
 * builds the dictionary's content from segments of these samples only, so
 * a dictionary holds field names, the structure of the maps and those
 * values: nothing of an erased body is left in it. Its tables only count
 * symbols. Training the same samples gives the same bytes.
 */
struct env_str {
    char *p;
    size_t n;
};
struct ldg_train {
    /* envelope strings, sorted when the dictionary is made */
    struct env_str *env;
    size_t nenv, capenv;
    /* the bodies' sanitized maps, back to back */
    struct ldg_buf samples;
    size_t *sizes;
    size_t nsamples, capsamples;
};

int
ldg_train_new(struct ldg_train **out)
{
    struct ldg_train *t = calloc(1, sizeof *t);
    if (t == NULL)
        return LDG_ENOMEM;
    ldg_buf_init(&t->samples, (size_t)1 << 30);
    *out = t;
    return 0;
}

void
ldg_train_free(struct ldg_train *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->nenv; i++)
        free(t->env[i].p);
    free(t->env);
    ldg_buf_release(&t->samples);
    free(t->sizes);
    free(t);
}

static int
env_add(struct ldg_train *t, const char *s, size_t n)
{
    char *c;
    if (n == 0)
        return 0;
    if (t->nenv == t->capenv) {
        size_t cap = t->capenv ? 2 * t->capenv : 1024;
        struct env_str *e = realloc(t->env, cap * sizeof *e);
        if (e == NULL)
            return LDG_ENOMEM;
        t->env = e;
        t->capenv = cap;
    }
    if ((c = malloc(n)) == NULL)
        return LDG_ENOMEM;
    memcpy(c, s, n);
    LDG_ASSERT(t->nenv < t->capenv);
    t->env[t->nenv].p = c;
    t->env[t->nenv++].n = n;
    return 0;
}

int
ldg_train_envelope(struct ldg_train *t, const struct ldg_event *ev)
{
    const char *colon = strchr(ev->subject, ':');
    int rc = env_add(t, ev->type, strlen(ev->type));
    if (rc == 0)
        rc = env_add(t, ev->subject, strlen(ev->subject));
    if (rc == 0 && colon != NULL)
        rc = env_add(t, colon + 1, strlen(colon + 1));
    if (rc == 0)
        rc = env_add(t, ev->run, strlen(ev->run));
    if (rc == 0)
        rc = env_add(t, ev->actor, strlen(ev->actor));
    if (rc == 0 && ev->id_len > 0)
        rc = env_add(t, ev->id, ev->id_len);
    if (rc == 0 && ev->src_exe_len > 0)
        rc = env_add(t, ev->src_exe, ev->src_exe_len);
    if (rc == 0 && ev->src_unit_len > 0)
        rc = env_add(t, ev->src_unit, ev->src_unit_len);
    return rc;
}

/* Adds a body record's map (either shape) as it is; sanitized when the
 * dictionary is made (the envelopes must all be in by then). */
int
ldg_train_body(struct ldg_train *t, const struct ldg_dicts *d,
               const uint8_t *rec, size_t len, size_t max)
{
    struct ldg_inflate s = {NULL, 0};
    struct ldg_payload pl;
    uint8_t shape;
    int rc = ldg_body_payload(d, rec, len, max, &s, &pl);
    if (rc < 0) {
        ldg_inflate_release(&s);
        return rc;
    }
    if (t->nsamples == t->capsamples) {
        size_t cap = t->capsamples ? 2 * t->capsamples : 1024;
        size_t *ns = realloc(t->sizes, cap * sizeof *ns);
        if (ns == NULL) {
            ldg_inflate_release(&s);
            return LDG_ENOMEM;
        }
        t->sizes = ns;
        t->capsamples = cap;
    }
    LDG_ASSERT(t->nsamples < t->capsamples);
    shape = pl.seed != NULL;
    ldg_buf_add(&t->samples, &shape, 1);
    ldg_buf_add(&t->samples, pl.map, pl.len);
    t->sizes[t->nsamples++] = 1 + pl.len;
    ldg_inflate_release(&s);
    return t->samples.err;
}

static int
strcmp_n(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    return c ? c : (an > bn) - (an < bn);
}

static int
env_sort_cmp(const void *a, const void *b)
{
    const struct env_str *x = a, *y = b;
    return strcmp_n((const uint8_t *)x->p, x->n, (const uint8_t *)y->p, y->n);
}

/* Is the string s (n bytes) one that may be in a dictionary? (t->env
 * sorted) */
static int
kept_string(const struct ldg_train *t, const uint8_t *s, size_t n)
{
    size_t lo = 0, hi = t->nenv;
    if (ldg_vocab_enum_value((const char *)s, n))
        return 1;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        LDG_ASSERT(lo <= mid && mid < hi);
        int c = strcmp_n((const uint8_t *)t->env[mid].p, t->env[mid].n, s, n);
        if (c == 0)
            return 1;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

static int
kept_value(const struct ldg_train *t, const uint8_t *v, size_t n)
{
    size_t h;
    if (n == 1 && (v[0] == 0xc0 || v[0] == 0xc2 || v[0] == 0xc3))
        return 1;
    if ((v[0] & 0xe0) == 0xa0)
        h = 1;
    else if (v[0] == 0xd9)
        h = 2;
    else if (v[0] == 0xda)
        h = 3;
    else if (v[0] == 0xdb)
        h = 5;
    else
        return 0;
    return n >= h && kept_string(t, v + h, n - h);
}

int
ldg_dict_train(struct ldg_train *t, unsigned id, uint8_t **out, size_t *len)
{
    struct ldg_buf san;
    size_t *sizes = NULL, at = 0, ds, k = 0;
    uint8_t *dict = NULL;
    int rc = 0;
    ZDICT_fastCover_params_t fc;

    *out = NULL;
    *len = 0;
    if (id < 1 || id >= LDG_DICT_IDS)
        return LDG_EINVAL;
    if (t->nsamples < LDG_DICT_TRAIN_MIN)
        return LDG_ENOTFOUND;
    sizes = malloc(t->nsamples * sizeof *sizes);
    dict = malloc(LDG_DICT_SIZE);
    ldg_buf_init(&san, (size_t)1 << 30);
    if (sizes == NULL || dict == NULL) {
        rc = LDG_ENOMEM;
        goto out;
    }
    qsort(t->env, t->nenv, sizeof *t->env, env_sort_cmp);
    for (size_t i = 0; i < t->nsamples; i++) {
        const uint8_t *p = t->samples.p + at + 1;
        size_t n = t->sizes[i] - 1, nf = 0, before = san.len;
        struct ldg_field_slice *sl = NULL;
        int seeded = t->samples.p[at];
        LDG_ASSERT(t->sizes[i] >= 1);
        at += t->sizes[i];
        if (ldg_codec_fields_slices_shape(p, n, seeded, &sl, &nf) < 0)
            continue; /* not canonical: left out */
        ldg_mp_map(&san, (uint32_t)nf);
        for (size_t f = 0; f < nf; f++) {
            ldg_buf_add(&san, sl[f].name_enc, sl[f].name_enc_len);
            if (kept_value(t, sl[f].value_enc, sl[f].value_enc_len))
                ldg_buf_add(&san, sl[f].value_enc, sl[f].value_enc_len);
            else
                ldg_buf_add(&san, "\xc0", 1);
        }
        free(sl);
        sizes[k++] = san.len - before;
    }
    LDG_ASSERT(k <= t->nsamples);
    if (san.err) {
        rc = san.err;
        goto out;
    }
    /* fastCover with fixed parameters, single-threaded (the same samples
     * give the same bytes): segments of 1024 bytes (k), scored by their
     * 8-byte substrings (d), counted in a table of 2^16 (f; 256 KiB, not
     * the default 4 MiB). On the bench's bodies a search over k finds
     * 1024 to 2000 and bodies 2% smaller, for ten times the time. */
    memset(&fc, 0, sizeof fc);
    fc.k = 1024;
    fc.d = 8;
    fc.f = 16;
    fc.accel = 1;
    fc.zParams.compressionLevel = LDG_DICT_LEVEL;
    fc.zParams.dictID = id;
    ds = ZDICT_trainFromBuffer_fastCover(dict, LDG_DICT_SIZE, san.p, sizes,
                                         (unsigned)k, fc);
    if (ZDICT_isError(ds) || body_dict_header_id(dict, ds) != id) {
        rc = LDG_ENOTFOUND; /* too little to learn from */
        goto out;
    }
    *out = dict;
    *len = ds;
    dict = NULL;
out:
    free(dict);
    free(sizes);
    ldg_buf_release(&san);
    return rc;
}
