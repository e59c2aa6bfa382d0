/*
 * inflate_floor.c — what reading a store's compressed bodies costs in
 * zstd alone, in a tight loop on one thread: the frames of the body
 * records of seqs [LO, HI) of the ledger in DIR (read-only), inflated with
 * the store's dictionaries several ways, best of ROUNDS; the per-frame
 * floor (a frame of one byte with the same dictionary); and what the
 * frames' blocks are made of (literal and sequence modes, sequences a
 * frame). Issue 49's time window inflates one such frame per event. With
 * RECOMPRESS set it also compresses the same contents the writer's other
 * possible ways (level, literals, the dictionary's hash table) and says
 * what each costs in bytes, to make and to inflate.
 *
 *   make build/bench/inflate_floor
 *   [RECOMPRESS=1] build/bench/inflate_floor DIR [LO HI [ROUNDS]]
 *
 * On the bench's 1M events (layout 7, seqs 100000..900000, one core,
 * zstd 1.5.4): 139-144 ns a frame as the store reads them, 156-160 with
 * no room past the content, 134-139 without the reader's own header
 * parse, 126-131 with the output right after the dictionary; a frame of
 * one byte 22-24 ns; a memcpy of the content 21-22 ns.
 */
#define ZSTD_STATIC_LINKING_ONLY /* the magicless frame format */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "ledger/ledger.h"
#include "ledger/module.h"
#include "util/util.h"

#define SLACK 64

/* The body records with a zstd frame (FORMAT.md 4.3): 0x03 and 0x06 are
 * kind, seed[16], dictionary id, frame; 0x04 kind, dictionary id, frame.
 * Dictionaries are ids 1..255, made at level 1. */
#define SEEDED_Z 0x03
#define SALTED_Z 0x04
#define SEEDED_AES_Z 0x06
#define SEED_LEN 16
#define DICT_IDS 256
#define DICT_LEVEL 1

struct frame {
    const uint8_t *z;
    size_t zn;
    unsigned dict;
    size_t n; /* content size */
};

static struct frame *fr;
static size_t nfr;
static ZSTD_DDict *dd[DICT_IDS];
static uint8_t *out;
static size_t out_cap;

/* seconds on the monotonic clock */
static double
now(void)
{
    return (double)ldg_now_mono_ns() / 1e9;
}

static void
die(const char *what)
{
    fprintf(stderr, "inflate_floor: %s\n", what);
    exit(70);
}

/* the ways of inflating frame f into out; each returns its length */
enum way {
    HDR_EXACT,
    HDR_SLACK,
    NOHDR_MAX,
    REFDDICT_MAX,
    FHD_MAX,
    CONTIG,
    MEMCPY
};
static const char *const way_name[] = {
    "header parsed, cap = content size (main)",
    "header parsed, cap = content size + 64",
    "no header parse, cap = max (usingDDict)",
    "no header parse, cap = max (refDDict once, decompressDCtx)",
    "descriptor byte checked, cap = max",
    "output right after the dictionary (byRef DDict), cap = max",
    "memcpy of the content only (not zstd)",
};

/* one dictionary's bytes with room for a frame's content after them, and
 * a DDict over them by reference: the dictionary's end is the output's
 * start, so zstd sees its matches into the dictionary as into the frame's
 * own prefix */
static uint8_t *cont;
static size_t cont_dl;
static ZSTD_DDict *cont_dd;

static size_t
one(ZSTD_DCtx *dx, enum way w, const struct frame *f, size_t max)
{
    ZSTD_frameHeader h;
    size_t got;
    switch (w) {
    case HDR_EXACT:
    case HDR_SLACK:
        if (ZSTD_getFrameHeader_advanced(&h, f->z, f->zn,
                                         ZSTD_f_zstd1_magicless) != 0 ||
            h.frameContentSize > max)
            die("header");
        got = ZSTD_decompress_usingDDict(
            dx, out, h.frameContentSize + (w == HDR_SLACK ? SLACK : 0), f->z,
            f->zn, dd[f->dict]);
        if (got != h.frameContentSize)
            die("size");
        return got;
    case NOHDR_MAX:
        return ZSTD_decompress_usingDDict(dx, out, out_cap, f->z, f->zn,
                                          dd[f->dict]);
    case REFDDICT_MAX:
        return ZSTD_decompressDCtx(dx, out, out_cap, f->z, f->zn);
    case FHD_MAX:
        if (f->zn < 2 || (f->z[0] & 0xe0) == 0)
            die("descriptor");
        return ZSTD_decompress_usingDDict(dx, out, out_cap, f->z, f->zn,
                                          dd[f->dict]);
    case CONTIG:
        return ZSTD_decompress_usingDDict(dx, cont + cont_dl, out_cap, f->z,
                                          f->zn, cont_dd);
    case MEMCPY:
        memcpy(out, f->z, f->zn < f->n ? f->zn : f->n);
        return f->n;
    }
    return 0;
}

static double
time_way(enum way w, int rounds, size_t max)
{
    ZSTD_DCtx *dx = ZSTD_createDCtx();
    double best = 1e9;
    unsigned cur = 0;
    ZSTD_DCtx_setParameter(dx, ZSTD_d_format, ZSTD_f_zstd1_magicless);
    for (int r = 0; r < rounds; r++) {
        size_t sum = 0;
        double t0 = now(), dt;
        for (size_t i = 0; i < nfr; i++) {
            size_t got;
            if (w == REFDDICT_MAX && fr[i].dict != cur) {
                ZSTD_DCtx_refDDict(dx, dd[fr[i].dict]);
                cur = fr[i].dict;
            }
            got = one(dx, w, &fr[i], max);
            if (ZSTD_isError(got) || got != fr[i].n)
                die(ZSTD_isError(got) ? ZSTD_getErrorName(got) : "length");
            sum += got;
        }
        dt = now() - t0;
        if (dt < best)
            best = dt;
        (void)sum;
    }
    ZSTD_freeDCtx(dx);
    return best;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* block statistics: RFC 8878 3.1.1.2-3.1.1.3 */
static unsigned long lit_type[4], seq_mode[3][4], nseq_hist[6], blocks,
    blocks_multi;
static unsigned long long nseq_total;

static size_t
fhd_size(const uint8_t *z)
{
    unsigned fcs = z[0] >> 6, ss = (z[0] >> 5) & 1, did = z[0] & 3;
    static const size_t did_len[4] = {0, 1, 2, 4};
    static const size_t fcs_len[4] = {0, 2, 4, 8};
    return 1 + (ss ? 0 : 1) + did_len[did] +
           (fcs == 0 ? (ss ? 1 : 0) : fcs_len[fcs]);
}

static void
block_stats(const struct frame *f)
{
    const uint8_t *p = f->z + fhd_size(f->z), *e = f->z + f->zn;
    int nb = 0;
    while (p + 3 <= e) {
        uint32_t bh = p[0] | p[1] << 8 | (uint32_t)p[2] << 16;
        unsigned last = bh & 1, type = (bh >> 1) & 3, size = bh >> 3;
        const uint8_t *b = p + 3;
        nb++;
        blocks++;
        if (type == 2 && b < e) {
            unsigned lt = b[0] & 3, sf = (b[0] >> 2) & 3;
            size_t lh, lsize;
            lit_type[lt]++;
            if (lt >= 2) /* Huffman-coded: not followed further */
                goto next;
            lh = sf == 1 ? 2 : sf == 3 ? 3 : 1;
            lsize = lh == 1   ? (size_t)b[0] >> 3
                    : lh == 2 ? (size_t)(b[0] | b[1] << 8) >> 4
                              : (size_t)(b[0] | b[1] << 8 | b[2] << 16) >> 4;
            if (lt == 1) /* RLE: one byte stored */
                lsize = 1;
            {
                const uint8_t *s = b + lh + lsize;
                unsigned nseq = s[0];
                if (nseq >= 128 && nseq < 255)
                    nseq = ((nseq - 128) << 8) + s[1], s++;
                else if (nseq == 255)
                    nseq = s[1] + (s[2] << 8) + 0x7f00, s += 2;
                s++;
                nseq_total += nseq;
                nseq_hist[nseq == 0   ? 0
                          : nseq < 4  ? 1
                          : nseq < 8  ? 2
                          : nseq < 16 ? 3
                          : nseq < 32 ? 4
                                      : 5]++;
                if (nseq > 0) {
                    seq_mode[0][s[0] >> 6]++;
                    seq_mode[1][(s[0] >> 4) & 3]++;
                    seq_mode[2][(s[0] >> 2) & 3]++;
                }
            }
        }
    next:
        p = b + (type == 1 ? 1 : size);
        if (last)
            break;
    }
    if (nb > 1)
        blocks_multi++;
}

/* ---- the writer's choices: the same contents compressed other ways ---- */

struct variant {
    const char *name;
    int level;     /* the CDict's */
    int raw_lits;  /* literals stored raw */
    int hash_log;  /* the CDict's hashLog (0: the level's) */
    int min_match; /* 0: the level's */
    int strategy;  /* 0: the level's */
};

static const struct variant variants[] = {
    {"level 1, raw literals (the store's)", 1, 1, 0, 0, 0},
    {"level 1, huffman literals", 1, 0, 0, 0, 0},
    {"level 1, raw, minMatch 4", 1, 1, 0, 4, 0},
    {"level 1, raw, minMatch 6", 1, 1, 0, 6, 0},
    {"level 1, raw, minMatch 7", 1, 1, 0, 7, 0},
    {"level 1, raw, dict hashLog 14", 1, 1, 14, 0, 0},
    {"level 1, raw, dict hashLog 16", 1, 1, 16, 0, 0},
    {"level 1, raw, dict hashLog 16, minMatch 6", 1, 1, 16, 6, 0},
    {"level 3, raw literals", 3, 1, 0, 0, 0},
    {"level 3, raw, dict hashLog 16", 3, 1, 16, 0, 0},
    {"level 6 (lazy2), raw literals", 6, 1, 0, 0, 0},
    {"level 19 (btultra2), raw literals", 19, 1, 0, 0, 0},
};
#define NVAR (sizeof variants / sizeof variants[0])

static void
recompress(const struct ldg_dicts *ds, int rounds)
{
    uint8_t **plain = malloc(nfr * sizeof *plain);
    const uint8_t *dp;
    size_t dl;
    ZSTD_DCtx *dx = ZSTD_createDCtx();
    ZSTD_CCtx *cx = ZSTD_createCCtx();

    ZSTD_DCtx_setParameter(dx, ZSTD_d_format, ZSTD_f_zstd1_magicless);
    if (ldg_dicts_get(ds, fr[0].dict, &dp, &dl) != 0)
        die("dictionary");
    for (size_t i = 0; i < nfr; i++) {
        plain[i] = malloc(fr[i].n);
        if (ZSTD_decompress_usingDDict(dx, out, out_cap, fr[i].z, fr[i].zn,
                                       dd[fr[i].dict]) != fr[i].n)
            die("inflate");
        memcpy(plain[i], out, fr[i].n);
    }
    for (size_t v = 0; v < NVAR; v++) {
        const struct variant *va = &variants[v];
        ZSTD_compressionParameters cp =
            ZSTD_getCParams(va->level, ZSTD_CONTENTSIZE_UNKNOWN, dl);
        ZSTD_CDict *cd;
        struct frame *nf = malloc(nfr * sizeof *nf);
        size_t zbytes = 0;
        double t0, tc, best = 1e9, tv[64];
        int nr = rounds > 64 ? 64 : rounds;
        /* as ZSTD_createCDict(dp, dl, level) does, with the changes */
        cp = ZSTD_getCParams(va->level, ZSTD_CONTENTSIZE_UNKNOWN, dl);
        if (va->hash_log)
            cp.hashLog = va->hash_log;
        cd = va->hash_log ? ZSTD_createCDict_advanced(dp, dl, ZSTD_dlm_byCopy,
                                                      ZSTD_dct_auto, cp,
                                                      ZSTD_defaultCMem)
                          : ZSTD_createCDict(dp, dl, va->level);
        if (cd == NULL)
            die("cdict");
        memset(nseq_hist, 0, sizeof nseq_hist);
        nseq_total = blocks = 0;
        t0 = now();
        for (size_t i = 0; i < nfr; i++) {
            uint8_t *z = malloc(ZSTD_compressBound(fr[i].n));
            size_t zn;
            ZSTD_CCtx_reset(cx, ZSTD_reset_session_and_parameters);
            ZSTD_CCtx_setParameter(cx, ZSTD_c_format, ZSTD_f_zstd1_magicless);
            ZSTD_CCtx_setParameter(cx, ZSTD_c_checksumFlag, 0);
            ZSTD_CCtx_setParameter(cx, ZSTD_c_dictIDFlag, 0);
            ZSTD_CCtx_setParameter(cx, ZSTD_c_contentSizeFlag, 1);
            ZSTD_CCtx_refCDict(cx, cd);
            ZSTD_CCtx_setParameter(cx, ZSTD_c_literalCompressionMode,
                                   va->raw_lits ? ZSTD_ps_disable
                                                : ZSTD_ps_auto);
            if (va->min_match)
                ZSTD_CCtx_setParameter(cx, ZSTD_c_minMatch, va->min_match);
            if (va->strategy)
                ZSTD_CCtx_setParameter(cx, ZSTD_c_strategy, va->strategy);
            zn = ZSTD_compress2(cx, z, ZSTD_compressBound(fr[i].n), plain[i],
                                fr[i].n);
            if (ZSTD_isError(zn))
                die("compress");
            nf[i] = fr[i];
            nf[i].z = z;
            nf[i].zn = zn;
            zbytes += zn;
        }
        tc = now() - t0;
        for (size_t i = 0; i < nfr; i++)
            block_stats(&nf[i]);
        for (int r = 0; r < nr; r++) {
            double t1 = now();
            for (size_t i = 0; i < nfr; i++)
                if (ZSTD_decompress_usingDDict(dx, out, out_cap, nf[i].z,
                                               nf[i].zn,
                                               dd[nf[i].dict]) != nf[i].n)
                    die("round trip");
            tv[r] = now() - t1;
            if (tv[r] < best)
                best = tv[r];
        }
        qsort(tv, nr, sizeof tv[0], cmp_double);
        printf("%-44s %6.1f B, %5.2f seqs, inflate %6.1f ns (median %6.1f), "
               "make %6.1f ns\n",
               va->name, (double)zbytes / nfr, (double)nseq_total / blocks,
               best * 1e9 / nfr, tv[nr / 2] * 1e9 / nfr, tc * 1e9 / nfr);
        for (size_t i = 0; i < nfr; i++)
            free((uint8_t *)(uintptr_t)nf[i].z);
        free(nf);
        ZSTD_freeCDict(cd);
    }
    for (size_t i = 0; i < nfr; i++)
        free(plain[i]);
    free(plain);
    ZSTD_freeDCtx(dx);
    ZSTD_freeCCtx(cx);
}

/* *v from s, a decimal number in [min, max]: 0, else -1 */
static int
arg_u64(const char *s, uint64_t min, uint64_t max, uint64_t *v)
{
    char *end;
    if (s[0] < '0' || s[0] > '9')
        return -1;
    errno = 0;
    *v = strtoull(s, &end, 10);
    return errno == 0 && *end == '\0' && *v >= min && *v <= max ? 0 : -1;
}

int
main(int argc, char **argv)
{
    uint64_t lo = 0, hi = UINT64_MAX, r64 = 5;
    int rounds;
    struct ldg_ledger *l;
    struct ldg_txn *t;
    struct ldg_seqscan *sc;
    const struct ldg_dicts *ds;
    size_t cap = 1 << 20, zbytes = 0, nbytes = 0, max = 0, other = 0;
    uint64_t seq;
    char err[512];

    if (argc < 2 || argc == 3 || argc > 5 ||
        (argc > 3 && (arg_u64(argv[2], 0, UINT64_MAX - 1, &lo) < 0 ||
                      arg_u64(argv[3], lo + 1, UINT64_MAX, &hi) < 0)) ||
        (argc > 4 && arg_u64(argv[4], 1, 1000, &r64) < 0)) {
        fprintf(stderr, "usage: inflate_floor DIR [LO HI [ROUNDS]] (seqs "
                        "LO <= seq < HI, ROUNDS 1 to 1000)\n");
        return 64;
    }
    rounds = (int)r64;
    if (ldg_open(&l, argv[1], NULL, err, sizeof err) != 0 ||
        ldg_txn_begin(l, LDG_TXN_READ, &t) != 0 ||
        ldg_seqscan_bodies(&sc, t, lo, hi - 1, 0) != 0 ||
        (ds = ldg_txn_dicts(t)) == NULL) {
        fprintf(stderr, "inflate_floor: cannot read %s: %s\n", argv[1], err);
        return 66;
    }
    fr = malloc(cap * sizeof *fr);
    while (ldg_seqscan_next(sc, &seq) == 1) {
        const uint8_t *r;
        size_t len, head;
        ZSTD_frameHeader h;
        ldg_seqscan_record(sc, &r, &len);
        if (len < 1)
            continue;
        head = r[0] == SEEDED_Z || r[0] == SEEDED_AES_Z ? 2 + SEED_LEN
               : r[0] == SALTED_Z                       ? 2
                                                        : 0;
        if (head == 0 || len <= head) {
            other++;
            continue;
        }
        if (nfr == cap && (fr = realloc(fr, (cap *= 2) * sizeof *fr)) == NULL)
            die("memory");
        fr[nfr].z = r + head;
        fr[nfr].zn = len - head;
        fr[nfr].dict = r[head - 1];
        if (ZSTD_getFrameHeader_advanced(&h, fr[nfr].z, fr[nfr].zn,
                                         ZSTD_f_zstd1_magicless) != 0)
            die("frame header");
        fr[nfr].n = h.frameContentSize;
        if (fr[nfr].n > max)
            max = fr[nfr].n;
        if (dd[fr[nfr].dict] == NULL && fr[nfr].dict > 0) {
            const uint8_t *p;
            size_t dl;
            if (ldg_dicts_get(ds, fr[nfr].dict, &p, &dl) != 0 ||
                (dd[fr[nfr].dict] = ZSTD_createDDict(p, dl)) == NULL)
                die("dictionary");
        }
        zbytes += fr[nfr].zn;
        nbytes += fr[nfr].n;
        block_stats(&fr[nfr]);
        nfr++;
    }
    if (nfr == 0) {
        fprintf(stderr,
                "inflate_floor: no compressed body in seqs [%llu, %llu) of "
                "%s (%zu other records)\n",
                (unsigned long long)lo, (unsigned long long)hi, argv[1], other);
        return 66;
    }
    out_cap = max + 16 + SLACK;
    out = malloc(out_cap);
    {
        const uint8_t *p;
        for (size_t i = 1; i < nfr; i++)
            if (fr[i].dict != fr[0].dict)
                die("several dictionaries: CONTIG takes one");
        if (ldg_dicts_get(ds, fr[0].dict, &p, &cont_dl) != 0 ||
            (cont = malloc(cont_dl + out_cap)) == NULL)
            die("contig");
        memcpy(cont, p, cont_dl);
        if ((cont_dd = ZSTD_createDDict_advanced(cont, cont_dl, ZSTD_dlm_byRef,
                                                 ZSTD_dct_auto,
                                                 ZSTD_defaultCMem)) == NULL)
            die("contig ddict");
    }
    printf("%zu frames (%zu other records): %.1f B stored, %.1f B inflated "
           "a frame, largest %zu\n",
           nfr, other, (double)zbytes / nfr, (double)nbytes / nfr, max);
    printf("blocks %lu (%lu frames of several); literals raw %lu rle %lu "
           "huffman %lu treeless %lu\n",
           blocks, blocks_multi, lit_type[0], lit_type[1], lit_type[2],
           lit_type[3]);
    printf("sequences %.1f a block; blocks by sequences 0 / 1-3 / 4-7 / "
           "8-15 / 16-31 / 32+: %lu %lu %lu %lu %lu %lu\n",
           (double)nseq_total / blocks, nseq_hist[0], nseq_hist[1],
           nseq_hist[2], nseq_hist[3], nseq_hist[4], nseq_hist[5]);
    for (int k = 0; k < 3; k++)
        printf("%s modes basic %lu rle %lu fse %lu repeat %lu\n",
               k == 0   ? "LL"
               : k == 1 ? "OF"
                        : "ML",
               seq_mode[k][0], seq_mode[k][1], seq_mode[k][2], seq_mode[k][3]);
    {
        /* the ways interleaved round by round, so that a slower spell of
         * the machine falls on all of them: best and median */
        double tw[MEMCPY + 1][64];
        if (rounds > 64)
            rounds = 64;
        for (int r = 0; r < rounds; r++)
            for (int w = HDR_EXACT; w <= MEMCPY; w++)
                tw[w][r] = time_way((enum way)w, 1, max);
        for (int w = HDR_EXACT; w <= MEMCPY; w++) {
            qsort(tw[w], rounds, sizeof tw[w][0], cmp_double);
            printf("%-58s %6.1f ns a frame, median %6.1f\n", way_name[w],
                   tw[w][0] * 1e9 / nfr, tw[w][rounds / 2] * 1e9 / nfr);
        }
    }
    if (getenv("RECOMPRESS") != NULL)
        recompress(ds, rounds);
    /* the floor: a one-byte frame with the same dictionary, many times */
    {
        ZSTD_CCtx *cx = ZSTD_createCCtx();
        ZSTD_DCtx *dx = ZSTD_createDCtx();
        ZSTD_CDict *cd;
        const uint8_t *p;
        size_t dl, zn, k = 1000000;
        uint8_t z[64];
        double best = 1e9;
        if (ldg_dicts_get(ds, fr[0].dict, &p, &dl) != 0 ||
            (cd = ZSTD_createCDict(p, dl, DICT_LEVEL)) == NULL)
            die("cdict");
        ZSTD_CCtx_setParameter(cx, ZSTD_c_format, ZSTD_f_zstd1_magicless);
        ZSTD_CCtx_setParameter(cx, ZSTD_c_dictIDFlag, 0);
        ZSTD_CCtx_refCDict(cx, cd);
        zn = ZSTD_compress2(cx, z, sizeof z, "{", 1);
        if (ZSTD_isError(zn))
            die("compress");
        ZSTD_DCtx_setParameter(dx, ZSTD_d_format, ZSTD_f_zstd1_magicless);
        for (int r = 0; r < rounds; r++) {
            double t0 = now(), dt;
            for (size_t i = 0; i < k; i++)
                if (ZSTD_decompress_usingDDict(dx, out, out_cap, z, zn,
                                               dd[fr[0].dict]) != 1)
                    die("floor");
            dt = now() - t0;
            if (dt < best)
                best = dt;
        }
        printf("%-58s %7.1f ns a frame (%zu B)\n",
               "floor: a frame of one byte, same dictionary", best * 1e9 / k,
               zn);
    }
    ldg_seqscan_free(sc);
    ldg_txn_abort(t);
    ldg_close(l);
    return 0;
}
