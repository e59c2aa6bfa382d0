/*
 * store_probe.c — where a ledger's stored bytes go, and what the derivable
 * parts and a trained zstd dictionary would take off (issue 49's design
 * measurements). Reads every entry and body record of the ledger in DIR
 * (read-only) and prints, per event: the entry as stored and without its
 * derivable bytes (prev; a sealed entry's claim digest), the body payload
 * with its per-field salts and as a seeded record would hold it (one
 * 16-byte seed, no salts), and each compressed with a dictionary trained
 * on the ledger's own first events; then the time to inflate them and
 * the body scan's byte prefilter on each form.
 *
 *   make build/bench/store_probe
 *   build/bench/store_probe DIR [TRAIN_EVENTS] [LEVEL] [DICT_KIB] [NEEDLE]
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#define ZSTD_STATIC_LINKING_ONLY /* the magicless frame format */
#define ZDICT_STATIC_LINKING_ONLY /* fastCover */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zdict.h>
#include <zstd.h>

#include "ledger/ledger_int.h"
#include "ledger/module.h"

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

struct blob {
    uint8_t *p;
    size_t n;
};

static void
put(struct blob *b, const void *p, size_t n)
{
    b->p = malloc(n ? n : 1);
    memcpy(b->p, p, n);
    b->n = n;
}

/* the entry without prev (its last 34 bytes) and, when sealed, without
 * the stamp's "digest" key and value (a6 "digest" c4 20 [32]) */
static void
cut_entry(struct blob *out, const uint8_t *e, size_t n)
{
    static const uint8_t dk[] = {0xa6, 'd', 'i', 'g', 'e', 's', 't',
                                 0xc4, 0x20};
    uint8_t *m = malloc(n);
    size_t len = n - 34;
    const uint8_t *d;
    memcpy(m, e, len);
    d = memmem(m, len, dk, sizeof dk);
    if (d != NULL) {
        size_t at = (size_t)(d - m);
        memmove(m + at, m + at + 41, len - at - 41);
        len -= 41;
    }
    out->p = m;
    out->n = len;
}

/* a seeded payload: seed[16] ‖ map { name: value } */
static int
seed_body(struct blob *out, const uint8_t *p, size_t n, size_t *fields)
{
    struct ldg_field_slice *sl;
    size_t ns, len = 16 + 5;
    struct ldg_buf b;
    if (ldg_codec_fields_slices(p, n, &sl, &ns) < 0)
        return -1;
    ldg_buf_init(&b, 1 << 24);
    {
        uint8_t seed[16];
        for (int i = 0; i < 16; i++)
            seed[i] = (uint8_t)rand();
        ldg_buf_add(&b, seed, 16);
    }
    ldg_mp_map(&b, (uint32_t)ns);
    for (size_t i = 0; i < ns; i++) {
        ldg_buf_add(&b, sl[i].name_enc, sl[i].name_enc_len);
        ldg_buf_add(&b, sl[i].value_enc, sl[i].value_enc_len);
    }
    (void)len;
    out->p = b.p;
    out->n = b.len;
    *fields = ns;
    free(sl);
    return 0;
}

static int
cmp_blob(const void *a, const void *b)
{
    const struct blob *x = a, *y = b;
    size_t m = x->n < y->n ? x->n : y->n;
    int c = memcmp(x->p, y->p, m);
    return c ? c : (x->n > y->n) - (x->n < y->n);
}

/* training samples from salted payloads: names kept; a value kept when
 * its encoding is in at least min_count samples, else nil (min_count 0:
 * every value kept; SIZE_MAX: none) */
struct env {
    char subject[512], run[300], type[80];
};
static struct env *envs;

/* a value is kept for training when it is a string the event's envelope
 * shows (its subject, the subject's name, its run, its type) */
static const char *const vocab_enum[] = {
    "ABORT", "ACCEPT", "DEBATE_PLAN", "ERROR", "IDLE", "PLAN", "PROMOTE",
    "REJECT", "SIMULATE", "T0", "T1", "T2", "T3", "VERIFY", "aborted",
    "agreement", "allow", "available", "blue", "client-gone", "debate",
    "degraded", "deny", "down", "error", "fail-closed", "failed", "green",
    "judge", "loaded", "offline", "ok", "parked", "quarantine", "red",
    "refused", "removed", "sanitize", "skipped", "up", "validators",
    "writer", NULL};
static struct blob *envset;
static size_t nenvset;

/* rule S: booleans and nil; a string the vocabulary enumerates or that
 * an envelope of the window shows */
static int
safe_value(const uint8_t *v, size_t n)
{
    size_t len, hl;
    if (n == 1 && (v[0] == 0xc0 || v[0] == 0xc2 || v[0] == 0xc3))
        return 1;
    if (v[0] >= 0xa0 && v[0] <= 0xbf) {
        len = v[0] & 0x1f;
        hl = 1;
    } else if (v[0] == 0xd9 && n >= 2) {
        len = v[1];
        hl = 2;
    } else {
        return 0;
    }
    for (int k = 0; vocab_enum[k]; k++)
        if (strlen(vocab_enum[k]) == len && !memcmp(vocab_enum[k], v + hl, len))
            return 1;
    {
        struct blob key = {(uint8_t *)(uintptr_t)(v + hl), len};
        size_t lo = 0, hi = nenvset;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            int c = cmp_blob(&envset[mid], &key);
            if (c == 0)
                return 1;
            if (c < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
    }
    return 0;
}

static void
make_envset(size_t n)
{
    envset = calloc(n * 5, sizeof *envset);
    for (size_t i = 0; i < n; i++) {
        const char *c = strchr(envs[i].subject, ':');
        envset[nenvset].p = (uint8_t *)envs[i].subject;
        envset[nenvset++].n = strlen(envs[i].subject);
        if (c) {
            envset[nenvset].p = (uint8_t *)(uintptr_t)(c + 1);
            envset[nenvset++].n = strlen(c + 1);
        }
        envset[nenvset].p = (uint8_t *)envs[i].run;
        envset[nenvset++].n = strlen(envs[i].run);
        envset[nenvset].p = (uint8_t *)envs[i].type;
        envset[nenvset++].n = strlen(envs[i].type);
    }
    qsort(envset, nenvset, sizeof *envset, cmp_blob);
}

static int
env_value(size_t i, const uint8_t *v, size_t n)
{
    const char *c[4];
    size_t len, hl;
    if (n < 1)
        return 0;
    if (v[0] >= 0xa0 && v[0] <= 0xbf) {
        len = v[0] & 0x1f;
        hl = 1;
    } else if (v[0] == 0xd9 && n >= 2) {
        len = v[1];
        hl = 2;
    } else {
        return 0;
    }
    if (hl + len != n)
        return 0;
    c[0] = envs[i].subject;
    c[1] = strchr(envs[i].subject, ':') ? strchr(envs[i].subject, ':') + 1 : "";
    c[2] = envs[i].run;
    c[3] = envs[i].type;
    for (int k = 0; k < 4; k++)
        if (strlen(c[k]) == len && memcmp(c[k], v + hl, len) == 0)
            return 1;
    return 0;
}

static void
filtered(struct blob *out, struct blob *body, size_t n, size_t min_count)
{
    struct blob *vals = NULL;
    size_t nv = 0, cap = 0;
    for (size_t i = 0; i < n; i++) {
        struct ldg_field_slice *sl;
        size_t ns;
        if (ldg_codec_fields_slices(body[i].p, body[i].n, &sl, &ns) < 0)
            continue;
        for (size_t k = 0; k < ns; k++) {
            if (nv == cap) {
                cap = cap ? cap * 2 : 1024;
                vals = realloc(vals, cap * sizeof *vals);
            }
            vals[nv].p = (uint8_t *)sl[k].value_enc;
            vals[nv++].n = sl[k].value_enc_len;
        }
        free(sl);
    }
    qsort(vals, nv, sizeof *vals, cmp_blob);
    for (size_t i = 0; i < n; i++) {
        struct ldg_field_slice *sl;
        size_t ns;
        struct ldg_buf b;
        ldg_buf_init(&b, 1 << 24);
        ldg_buf_add(&b, "0123456789abcdef", 16);
        if (ldg_codec_fields_slices(body[i].p, body[i].n, &sl, &ns) < 0) {
            out[i].p = b.p;
            out[i].n = b.len;
            continue;
        }
        ldg_mp_map(&b, (uint32_t)ns);
        for (size_t k = 0; k < ns; k++) {
            struct blob key = {(uint8_t *)sl[k].value_enc, sl[k].value_enc_len};
            size_t lo = 0, hi = nv, c;
            int keep = 0;
            ldg_buf_add(&b, sl[k].name_enc, sl[k].name_enc_len);
            if (min_count == 0) {
                keep = 1;
            } else if (min_count == SIZE_MAX - 1) {
                keep = env_value(i, key.p, key.n);
            } else if (min_count == SIZE_MAX - 2) {
                keep = safe_value(key.p, key.n);
            } else if (min_count != SIZE_MAX) {
                while (lo < hi) { /* first >= key */
                    size_t mid = (lo + hi) / 2;
                    if (cmp_blob(&vals[mid], &key) < 0)
                        lo = mid + 1;
                    else
                        hi = mid;
                }
                for (c = 0; lo + c < nv && cmp_blob(&vals[lo + c], &key) == 0;
                     c++)
                    ;
                keep = c >= min_count;
            }
            if (keep)
                ldg_buf_add(&b, sl[k].value_enc, sl[k].value_enc_len);
            else
                ldg_buf_add(&b, "\xc0", 1);
        }
        free(sl);
        out[i].p = b.p;
        out[i].n = b.len;
    }
    free(vals);
}

struct dict {
    ZSTD_CDict *cd;
    ZSTD_DDict *dd;
    size_t size;
};

static int
train(struct dict *d, struct blob *s, size_t n, size_t skip, size_t cap,
      int level, double *secs)
{
    size_t tot = 0, k = 0;
    size_t *sl = malloc(n * sizeof *sl);
    uint8_t *buf, *dict = malloc(cap);
    for (size_t i = 0; i < n; i++)
        tot += s[i].n - skip;
    buf = malloc(tot);
    tot = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(buf + tot, s[i].p + skip, s[i].n - skip);
        tot += s[i].n - skip;
        sl[k++] = s[i].n - skip;
    }
    double t0 = now();
    ZDICT_fastCover_params_t fc;
    memset(&fc, 0, sizeof fc);
    fc.d = 8;
    fc.f = getenv("FC_F") ? atoi(getenv("FC_F")) : 0;
    fc.steps = 4;
    fc.zParams.compressionLevel = level;
    size_t ds;
    if (getenv("FC_K")) {
        fc.k = (unsigned)atoi(getenv("FC_K"));
        fc.steps = 0;
        ds = ZDICT_trainFromBuffer_fastCover(dict, cap, buf, sl, (unsigned)k, fc);
    } else {
        ds = ZDICT_optimizeTrainFromBuffer_fastCover(dict, cap, buf, sl,
                                                     (unsigned)k, &fc);
        fprintf(stderr, "optimized k=%u d=%u\n", fc.k, fc.d);
    }
    *secs = now() - t0;
    if (ZDICT_isError(ds)) {
        fprintf(stderr, "train: %s\n", ZDICT_getErrorName(ds));
        return -1;
    }
    d->cd = ZSTD_createCDict(dict, ds, level);
    d->dd = ZSTD_createDDict(dict, ds);
    d->size = ds;
    free(buf);
    free(sl);
    free(dict);
    return 0;
}

/* compresses every blob (from byte skip on) with d; returns the total of
 * stored sizes (skip bytes kept as they are) and the time */
static size_t
squeeze(struct dict *d, ZSTD_CCtx *cc, struct blob *s, struct blob *z,
        size_t n, size_t skip, double *secs)
{
    size_t tot = 0;
    uint8_t tmp[1 << 16];
    double t0 = now();
    ZSTD_CCtx_reset(cc, ZSTD_reset_session_and_parameters);
    ZSTD_CCtx_setParameter(cc, ZSTD_c_format, ZSTD_f_zstd1_magicless);
    ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 0);
    ZSTD_CCtx_setParameter(cc, ZSTD_c_dictIDFlag, 0);
    ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, 1);
    ZSTD_CCtx_refCDict(cc, d->cd);
    for (size_t i = 0; i < n; i++) {
        size_t zl = ZSTD_compress2(cc, tmp, sizeof tmp, s[i].p + skip,
                                   s[i].n - skip);
        if (ZSTD_isError(zl)) {
            fprintf(stderr, "compress: %s\n", ZSTD_getErrorName(zl));
            exit(1);
        }
        z[i].n = skip + zl;
        z[i].p = malloc(z[i].n);
        memcpy(z[i].p, s[i].p, skip);
        memcpy(z[i].p + skip, tmp, zl);
        tot += z[i].n;
    }
    *secs = now() - t0;
    return tot;
}

static double
inflate_all(struct dict *d, ZSTD_DCtx *dc, struct blob *z, size_t n,
            size_t skip, const char *needle, size_t *hits)
{
    static uint8_t out[1 << 20];
    double t0 = now();
    *hits = 0;
    for (size_t i = 0; i < n; i++) {
        size_t m = ZSTD_decompress_usingDDict(dc, out, sizeof out,
                                              z[i].p + skip, z[i].n - skip,
                                              d->dd);
        if (ZSTD_isError(m)) {
            fprintf(stderr, "inflate %zu: %s\n", i, ZSTD_getErrorName(m));
            exit(1);
        }
        if (needle)
            *hits += memmem(out, m, needle, strlen(needle)) != NULL;
    }
    return now() - t0;
}

int
main(int argc, char **argv)
{
    size_t train_n = argc > 2 ? (size_t)atol(argv[2]) : 20000;
    int level = argc > 3 ? atoi(argv[3]) : 3;
    size_t dict_kib = argc > 4 ? (size_t)atoi(argv[4]) : 64;
    const char *needle = argc > 5 ? argv[5] : "failed";
    struct ldg_ledger *l;
    struct ldg_txn *t;
    struct ldg_reader *r;
    char err[512];
    size_t cap = 0, n = 0;
    struct blob *ent, *cut, *body, *seed, *zcut, *zseed, *both, *zboth;
    size_t e_tot = 0, c_tot = 0, b_tot = 0, p_tot = 0, s_tot = 0, f_tot = 0,
           braw = 0, bz = 0, both_tot = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: store_probe DIR [TRAIN_EVENTS] [LEVEL] "
                        "[DICT_KIB] [NEEDLE]\n");
        return 64;
    }
    if (ldg_open(&l, argv[1], NULL, err, sizeof err) != 0 ||
        ldg_txn_begin(l, LDG_TXN_READ, &t) != 0 ||
        ldg_reader_new(&r, t) != 0) {
        fprintf(stderr, "store_probe: cannot read %s: %s\n", argv[1], err);
        return 66;
    }
    cap = 1 << 24;
    ent = calloc(cap, sizeof *ent);
    cut = calloc(cap, sizeof *cut);
    body = calloc(cap, sizeof *body);
    seed = calloc(cap, sizeof *seed);
    both = calloc(cap, sizeof *both);
    ldg_reader_want_leaf(r, 0);
    envs = calloc(cap, sizeof *envs);
    for (uint64_t s = 0; n < cap; s++) {
        struct ldg_event ev;
        const uint8_t *rec;
        size_t rl, fields = 0;
        if (ldg_reader_event(r, s, &ev) != 0)
            break;
        put(&ent[n], ev.entry, ev.entry_len);
        snprintf(envs[n].subject, sizeof envs[n].subject, "%s", ev.subject);
        snprintf(envs[n].run, sizeof envs[n].run, "%s", ev.run);
        snprintf(envs[n].type, sizeof envs[n].type, "%s", ev.type);
        e_tot += ev.entry_len;
        cut_entry(&cut[n], ev.entry, ev.entry_len);
        c_tot += cut[n].n;
        if (ldg_reader_body(r, s, &rec, &rl) != 0) {
            put(&body[n], "", 0);
            put(&seed[n], "", 0);
        } else {
            const uint8_t *p = rec + 1;
            size_t pn = rl - 1;
            uint8_t *own = NULL;
            b_tot += rl;
            if (rec[0] == 1) {
                unsigned long long sz =
                    ZSTD_getFrameContentSize(rec + 1, rl - 1);
                own = malloc(sz);
                pn = ZSTD_decompress(own, sz, rec + 1, rl - 1);
                p = own;
                bz++;
            } else {
                braw++;
            }
            put(&body[n], p, pn);
            p_tot += pn;
            if (seed_body(&seed[n], p, pn, &fields) < 0) {
                fprintf(stderr, "event %llu: body does not decode\n",
                        (unsigned long long)s);
                return 65;
            }
            s_tot += seed[n].n;
            f_tot += fields;
            free(own);
        }
        /* one record: the cut entry, then the seeded body */
        both[n].n = cut[n].n + seed[n].n;
        both[n].p = malloc(both[n].n);
        memcpy(both[n].p, seed[n].p, 16 < seed[n].n ? 16 : seed[n].n);
        if (seed[n].n >= 16) {
            memcpy(both[n].p + 16, cut[n].p, cut[n].n);
            memcpy(both[n].p + 16 + cut[n].n, seed[n].p + 16, seed[n].n - 16);
        } else {
            memcpy(both[n].p, cut[n].p, cut[n].n);
        }
        both_tot += both[n].n;
        n++;
    }
    printf("events %zu (bodies raw %zu, zstd %zu)\n", n, braw, bz);
    printf("entry      as stored %7.1f B   without prev/digest %7.1f B\n",
           (double)e_tot / n, (double)c_tot / n);
    printf("body       record %7.1f B   payload %7.1f B   seeded %7.1f B   "
           "fields %.2f\n",
           (double)b_tot / n, (double)p_tot / n, (double)s_tot / n,
           (double)f_tot / n);
    {
        struct dict de, ds, db;
        double tt, tc;
        size_t tn = train_n < n ? train_n : n, hits;
        ZSTD_CCtx *cc = ZSTD_createCCtx();
        ZSTD_DCtx *dc = ZSTD_createDCtx();
        ZSTD_DCtx_setParameter(dc, ZSTD_d_format, ZSTD_f_zstd1_magicless);
        zcut = calloc(n, sizeof *zcut);
        zseed = calloc(n, sizeof *zseed);
        zboth = calloc(n, sizeof *zboth);
        if (train(&de, cut, tn, 0, dict_kib << 10, level, &tt) < 0)
            return 1;
        size_t zc = squeeze(&de, cc, cut, zcut, n, 0, &tc);
        printf("entries    dict %zu B (trained on first %zu in %.2f s)  "
               "compressed %.1f B (%.0f ns each)\n",
               de.size, tn, tt, (double)zc / n, tc / n * 1e9);
        double ti = inflate_all(&de, dc, zcut, n, 0, NULL, &hits);
        printf("           inflate %.0f ns each\n", ti / n * 1e9);
        if (train(&ds, seed, tn, 16, dict_kib << 10, level, &tt) < 0)
            return 1;
        size_t zs = squeeze(&ds, cc, seed, zseed, n, 16, &tc);
        printf("bodies     dict %zu B (trained in %.2f s)  seeded+compressed "
               "%.1f B (%.0f ns each)\n",
               ds.size, tt, (double)zs / n, tc / n * 1e9);
        {
            double t0 = now();
            size_t h = 0;
            for (size_t i = 0; i < n; i++)
                h += memmem(body[i].p, body[i].n, needle, strlen(needle)) !=
                     NULL;
            double tp = now() - t0;
            t0 = now();
            size_t h2 = 0;
            for (size_t i = 0; i < n; i++)
                h2 += memmem(seed[i].p, seed[i].n, needle, strlen(needle)) !=
                      NULL;
            double tq = now() - t0;
            ti = inflate_all(&ds, dc, zseed, n, 16, needle, &hits);
            printf("prefilter '%s': salted payload %.0f ns (%zu), seeded "
                   "%.0f ns (%zu), inflate+memmem %.0f ns (%zu)\n",
                   needle, tp / n * 1e9, h, tq / n * 1e9, h2, ti / n * 1e9,
                   hits);
        }
        {
            /* the three forms laid out back to back, as in pages */
            size_t ta = 0, tb = 0, tcz = 0;
            for (size_t i = 0; i < n; i++) {
                ta += body[i].n;
                tb += seed[i].n;
                tcz += zseed[i].n;
            }
            uint8_t *A = malloc(ta), *Bq = malloc(tb), *C = malloc(tcz);
            static uint8_t o[1 << 20];
            ta = tb = tcz = 0;
            for (size_t i = 0; i < n; i++) {
                memcpy(A + ta, body[i].p, body[i].n);
                ta += body[i].n;
                memcpy(Bq + tb, seed[i].p, seed[i].n);
                tb += seed[i].n;
                memcpy(C + tcz, zseed[i].p, zseed[i].n);
                tcz += zseed[i].n;
            }
            for (int round = 0; round < 3; round++) {
                size_t h1 = 0, h2 = 0, h3 = 0, at = 0;
                double t0 = now();
                for (size_t i = 0; i < n; at += body[i].n, i++)
                    h1 += memmem(A + at, body[i].n, needle, strlen(needle)) !=
                          NULL;
                double t1 = now();
                at = 0;
                for (size_t i = 0; i < n; at += seed[i].n, i++)
                    h2 += memmem(Bq + at, seed[i].n, needle, strlen(needle)) !=
                          NULL;
                double t2 = now();
                at = 0;
                for (size_t i = 0; i < n; at += zseed[i].n, i++) {
                    size_t m = ZSTD_decompress_usingDDict(
                        dc, o, sizeof o, C + at + 16, zseed[i].n - 16, ds.dd);
                    h3 += memmem(o, m, needle, strlen(needle)) != NULL;
                }
                double t3 = now();
                printf("contiguous scan: salted %.0f ns, seeded %.0f ns, "
                       "inflate+memmem %.0f ns a body (%zu %zu %zu)\n",
                       (t1 - t0) / n * 1e9, (t2 - t1) / n * 1e9,
                       (t3 - t2) / n * 1e9, h1, h2, h3);
            }
        }
        {
            size_t mins[] = {0, 64, SIZE_MAX - 2, SIZE_MAX - 1};
            make_envset(tn);
            struct blob *tr = calloc(tn, sizeof *tr);
            for (size_t m = 0; m < sizeof mins / sizeof mins[0]; m++) {
                struct dict dv;
                filtered(tr, body, tn, mins[m]);
                if (train(&dv, tr, tn, 16, dict_kib << 10, level, &tt) < 0)
                    continue;
                size_t zv = squeeze(&dv, cc, seed, zseed, n, 16, &tc);
                printf("dict trained on values in >= %zd samples (names only: "
                       "-1, envelope values: -2): bodies %.1f B\n",
                       mins[m] == SIZE_MAX       ? (ssize_t)-1
                       : mins[m] == SIZE_MAX - 2 ? (ssize_t)-3
                       : mins[m] == SIZE_MAX - 1 ? (ssize_t)-2
                                                 : (ssize_t)mins[m],
                       (double)zv / n);
            }
        }
        {
            /* groups of g consecutive seeded payloads, one plain zstd
             * frame each (no dictionary) */
            size_t gs[] = {8, 16, 32, 64, 256};
            static uint8_t gb[1 << 22], gz[1 << 22], go[1 << 22];
            ZSTD_DCtx *dg = ZSTD_createDCtx();
            for (size_t gi = 0; gi < sizeof gs / sizeof gs[0]; gi++) {
                size_t g = gs[gi], tot = 0, ng = 0, hits = 0;
                double tcomp = 0, tdec = 0;
                for (size_t i = 0; i < n; i += g) {
                    size_t len = 0, zl;
                    for (size_t k = i; k < i + g && k < n; k++) {
                        memcpy(gb + len, seed[k].p + 16,
                               seed[k].n > 16 ? seed[k].n - 16 : 0);
                        len += seed[k].n > 16 ? seed[k].n - 16 : 0;
                    }
                    double t0 = now();
                    zl = ZSTD_compress(gz, sizeof gz, gb, len, level);
                    double t1 = now();
                    size_t m = ZSTD_decompressDCtx(dg, go, sizeof go, gz, zl);
                    if (ZSTD_isError(m))
                        exit(1);
                    hits += memmem(go, m, needle, strlen(needle)) != NULL;
                    double t2 = now();
                    tcomp += t1 - t0;
                    tdec += t2 - t1;
                    tot += zl + 16 * (i + g < n ? g : n - i);
                    ng++;
                }
                printf("groups of %zu, no dictionary: bodies %.1f B (with "
                       "seeds), compress %.0f ns, inflate+memmem %.0f ns a "
                       "body\n",
                       g, (double)tot / n, tcomp / n * 1e9, tdec / n * 1e9);
            }
        }
        if (train(&db, both, tn, 16, dict_kib << 10, level, &tt) < 0)
            return 1;
        size_t zb = squeeze(&db, cc, both, zboth, n, 16, &tc);
        printf("one record entry+body: %.1f B plain, %.1f B compressed "
               "(dict %zu B)\n",
               (double)both_tot / n, (double)zb / n, db.size);
        ti = inflate_all(&db, dc, zboth, n, 16, NULL, &hits);
        printf("           inflate %.0f ns each\n", ti / n * 1e9);
    }
    return 0;
}
