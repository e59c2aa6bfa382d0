/*
 * fuzz_segment.c — libFuzzer target for segments (FORMAT.md section 11,
 * ledger/segment.c): what `ledger verify-bundle`, `prune` and the
 * `--bundle` readers take from outside. The first byte picks what the
 * rest is:
 *
 *   0  a segment file, as is (the zstd frame: truncation, checksums,
 *      windows and bombs, the magic's block);
 *   1  the decompressed stream, compressed here (so that the fuzzer
 *      reaches the records: their framing and order, the header, the
 *      entry codec, the horizon record, proven events, notes).
 *
 * Each input is verified (against the key of tests/vectors/segment's
 * good.vkey, and with the segment's own key) and read as a reader reads
 * a verified one (no crypto: every record decoded). No crash, no
 * undefined behaviour, no leak, and:
 *
 *   - verify answers 0, LDG_ETAMPER, LDG_EBADINPUT, LDG_ETOOBIG,
 *     LDG_EVERSION (LDG_ENOMEM aside), and ok exactly when 0; a refusal
 *     names a check and says what, NUL-terminated within its buffer;
 *   - the read answers 0 or one of those codes; the callback sees events
 *     in increasing seq within the range the header states.
 *
 * Built by tests/fuzz/run.sh; tests/ledger/test_fuzz_regress.c runs the
 * corpus (tests/fuzz/corpus_segment/) through it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "ledger/module.h"

#ifndef FUZZ_ASSERT
#include <stdio.h>
#define FUZZ_ASSERT(c)                                                         \
    do {                                                                       \
        if (!(c)) {                                                            \
            fprintf(stderr, "invariant %s (%s:%d)\n", #c, __FILE__, __LINE__); \
            abort();                                                           \
        }                                                                      \
    } while (0)
#endif
#ifndef FUZZ_ENTRY
#define FUZZ_ENTRY LLVMFuzzerTestOneInput
#endif

/* tests/vectors/segment/good.vkey (a key no fuzz input holds) */
static const char seg_vkey[] =
    "test.local/unit+539ee10a+AVeNFJA8OUlaQmMKhFNTAt97T4hHn1kmTBGXYyeRFD+2";

struct seg_seen {
    uint64_t last;
    int any;
};

static int
seg_event(void *ctx, const struct ldg_segment_event *e)
{
    struct seg_seen *s = ctx;
    FUZZ_ASSERT(e->ev != NULL);
    if (e->where == LDG_SEGMENT_RANGE) {
        FUZZ_ASSERT(!s->any || e->ev->seq > s->last);
        s->last = e->ev->seq;
        s->any = 1;
    }
    return 0;
}

static void
seg_check(const uint8_t *p, size_t n)
{
    struct ldg_segment_verify_opts o;
    struct ldg_segment_result *r = calloc(1, sizeof *r);
    struct ldg_segment_info info;
    struct seg_seen seen = {0, 0};
    int rc;

    FUZZ_ASSERT(r != NULL);
    for (int k = 0; k < 2; k++) {
        memset(&o, 0, sizeof o);
        o.trusted_vkey = k == 0 ? seg_vkey : NULL;
        o.keep_state = 1;
        rc = ldg_segment_verify_mem(p, n, &o, r);
        FUZZ_ASSERT(rc == 0 || rc == LDG_ETAMPER || rc == LDG_EBADINPUT ||
                    rc == LDG_ETOOBIG || rc == LDG_EVERSION ||
                    rc == LDG_ENOMEM);
        FUZZ_ASSERT((rc == 0) == (r->ok != 0));
        FUZZ_ASSERT(memchr(r->what, 0, sizeof r->what) != NULL);
        if (rc != 0 && rc != LDG_ENOMEM)
            FUZZ_ASSERT(r->what[0] != '\0' &&
                        (unsigned)r->failed < LDG_SEGCHK_COUNT);
        ldg_segment_info_release(&r->info);
    }
    memset(&o, 0, sizeof o);
    o.event = seg_event;
    o.ctx = &seen;
    rc = ldg_segment_read_mem(p, n, &o, &info);
    FUZZ_ASSERT(rc == 0 || rc == LDG_ETAMPER || rc == LDG_EBADINPUT ||
                rc == LDG_ETOOBIG || rc == LDG_EVERSION || rc == LDG_ENOMEM);
    if (seen.any)
        FUZZ_ASSERT(seen.last < info.end && info.first <= seen.last);
    ldg_segment_info_release(&info);
    free(r);
}

int FUZZ_ENTRY(const uint8_t *data, size_t size);

int
FUZZ_ENTRY(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] == 0) {
        seg_check(data + 1, size - 1);
    } else {
        size_t cap = ZSTD_compressBound(size - 1), n;
        uint8_t *z = malloc(cap ? cap : 1);
        ZSTD_CCtx *c = ZSTD_createCCtx();
        FUZZ_ASSERT(z != NULL && c != NULL);
        ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, 1);
        ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
        n = ZSTD_compress2(c, z, cap, data + 1, size - 1);
        FUZZ_ASSERT(!ZSTD_isError(n));
        seg_check(z, n);
        ZSTD_freeCCtx(c);
        free(z);
    }
    return 0;
}
