/*
 * body_dict.c — what a trained zstd dictionary would do to the stored
 * bodies of a ledger (issue 31's next step, measured, not built): their
 * bytes, and the cost of reading them back for the body scan's byte
 * prefilter. Reads the stored body records of the ledger in DIR (through
 * ldg_seqscan_bodies, read-only), trains a
 * dictionary (ZDICT, 64 KiB by default) on every 10th payload, then over all of
 * them times: the prefilter on the payload as stored today (memmem), and
 * inflating the dictionary-compressed payload first, then memmem.
 *
 *   make build/bench/body_dict
 *   build/bench/body_dict DIR [NEEDLE] [LEVEL] [DICT_KIB]
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#define ZSTD_STATIC_LINKING_ONLY /* the magicless frame format */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zdict.h>
#include <zstd.h>

#include "ledger/ledger.h"
#include "ledger/module.h"

#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
    const char *needle = argc > 2 ? argv[2] : "failed";
    int level = argc > 3 ? atoi(argv[3]) : 3;
    size_t dict_kib = argc > 4 ? (size_t)atoi(argv[4]) : 64;
    struct ldg_ledger *l;
    struct ldg_txn *t;
    struct ldg_seqscan *sc;
    uint64_t seq;
    size_t n = 0, cap = 1 << 22, total = 0, stored = 0;
    unsigned char **pl;
    size_t *plen;
    char err[512];

    if (argc < 2) {
        fprintf(stderr, "usage: body_dict DIR [NEEDLE] [LEVEL] [DICT_KIB]\n");
        return 64;
    }
    pl = malloc(cap * sizeof *pl);
    plen = malloc(cap * sizeof *plen);
    if (ldg_open(&l, argv[1], NULL, err, sizeof err) != 0 ||
        ldg_txn_begin(l, LDG_TXN_READ, &t) != 0 ||
        ldg_seqscan_bodies(&sc, t, 0, UINT64_MAX, 0) != 0) {
        fprintf(stderr, "body_dict: cannot read %s: %s\n", argv[1], err);
        return 66;
    }
    while (n < cap && ldg_seqscan_next(sc, &seq) == 1) {
        const uint8_t *r;
        size_t len;
        ldg_seqscan_record(sc, &r, &len);
        stored += len;
        if (len < 1)
            continue;
        if (r[0] == 0) {
            plen[n] = len - 1;
            pl[n] = malloc(plen[n]);
            memcpy(pl[n], r + 1, plen[n]);
        } else {
            unsigned long long sz = ZSTD_getFrameContentSize(r + 1, len - 1);
            if (sz == ZSTD_CONTENTSIZE_ERROR || sz == ZSTD_CONTENTSIZE_UNKNOWN)
                continue;
            pl[n] = malloc(sz);
            plen[n] = ZSTD_decompress(pl[n], sz, r + 1, len - 1);
        }
        total += plen[n];
        n++;
    }
    {
        size_t ns = 0, sbytes = 0, dsz = dict_kib << 10;
        size_t *sl = malloc((n / 10 + 1) * sizeof *sl);
        unsigned char *samples = malloc(total / 5 + 1), *dict = malloc(dsz);
        for (size_t i = 0; i < n; i += 10) {
            memcpy(samples + sbytes, pl[i], plen[i]);
            sbytes += plen[i];
            sl[ns++] = plen[i];
        }
        double t0 = now();
        dsz = ZDICT_trainFromBuffer(dict, dsz, samples, sl, (unsigned)ns);
        double tt = now() - t0;
        if (ZDICT_isError(dsz)) {
            fprintf(stderr, "train: %s\n", ZDICT_getErrorName(dsz));
            return 1;
        }
        ZSTD_CDict *cd = ZSTD_createCDict(dict, dsz, level);
        ZSTD_DDict *dd = ZSTD_createDDict(dict, dsz);
        ZSTD_CCtx *cc = ZSTD_createCCtx();
        ZSTD_DCtx *dc = ZSTD_createDCtx();
        unsigned char **z = malloc(n * sizeof *z), *out = malloc(1 << 20);
        size_t *zl = malloc(n * sizeof *zl), zt = 0, plain = 0, hit = 0, hit2 = 0;
        /* frames without the magic number, dictionary id or checksum:
         * the record names its dictionary */
        ZSTD_frameParameters fp = {1, 0, 1};
        ZSTD_DCtx_setParameter(dc, ZSTD_d_format, ZSTD_f_zstd1_magicless);
        ZSTD_DCtx_refDDict(dc, dd);
        for (size_t i = 0; i < n; i++) /* touched before the clock runs */
            z[i] = calloc(1, ZSTD_compressBound(plen[i]));
        t0 = now();
        for (size_t i = 0; i < n; i++) {
            zl[i] = ZSTD_compress_usingCDict_advanced(
                cc, z[i], ZSTD_compressBound(plen[i]), pl[i], plen[i], cd, fp);
            /* the magic number is 4 bytes at the front */
            if (!ZSTD_isError(zl[i])) {
                memmove(z[i], z[i] + 4, zl[i] - 4);
                zl[i] -= 4;
            }
            zt += zl[i] + 1;
        }
        double tc = now() - t0;
        t0 = now();
        for (size_t i = 0; i < n; i++) {
            plain += plen[i];
            hit += memmem(pl[i], plen[i], needle, strlen(needle)) != NULL;
        }
        double tp = now() - t0;
        t0 = now();
        for (size_t i = 0; i < n; i++) {
            size_t m = ZSTD_decompressDCtx(dc, out, 1 << 20, z[i], zl[i]);
            hit2 += !ZSTD_isError(m) && memmem(out, m, needle, strlen(needle)) != NULL;
        }
        double td = now() - t0;
        printf("bodies %zu: stored %.1f B each, payload %.1f B; dictionary %zu B "
               "(trained on %zu in %.2f s); compressed with it (level %d) %.1f B each "
               "(%.0f ns each to compress)\n",
               n, (double)stored / n, (double)total / n, dsz, ns, tt, level,
               (double)zt / n, tc / n * 1e9);
        printf("prefilter '%s': as stored %.0f ns a body (%zu hits); inflate + "
               "memmem %.0f ns a body (%zu hits): %.1fx\n",
               needle, tp / n * 1e9, hit, td / n * 1e9, hit2, td / tp);
    }
    return 0;
}
