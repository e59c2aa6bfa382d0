/*
 * fuzz_intake.c — libFuzzer target for the intake log's frames and file
 * header (FORMAT.md section 12, ledger/intake.c): what a reader takes from
 * DIR/intake, which a torn write, a stale lap or a hostile hand may have
 * left in any state. The first byte picks what the rest is:
 *
 *   0  a frame, from the start of its first block;
 *   1  a file header block (padded with zeros to 4096 bytes).
 *
 * No crash, no undefined behaviour, no leak, no read past the input, and:
 *
 *   - a frame parses to 0, LDG_ENOTFOUND or LDG_ECORRUPT (with a reason);
 *     one that parses has its length in blocks for its payload, inside
 *     the input, and its records walk to the payload's end in kind order,
 *     `count` events, each entry 1..65535 bytes, body and entry inside
 *     the record;
 *   - a frame that parses, built again from its records with the
 *     builder, comes out the same bytes (the encoding is canonical);
 *   - a header parses to 0, LDG_EVERSION or LDG_ECORRUPT.
 *
 * Built by tests/fuzz/run.sh; tests/ledger/test_fuzz_regress.c runs the
 * corpus (tests/fuzz/corpus_intake/) through it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/intake_int.h"
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

static void
intake_frame_one(const uint8_t *data, size_t size)
{
    struct ldg_intake_frame f;
    struct ldg_intake_rec r;
    struct ldg_intake_build b;
    const char *why = NULL;
    const uint8_t *out;
    size_t off = 0, n;
    uint32_t events = 0;
    int rc, last = 0;
    /* a copy of exactly size bytes: ASan sees any read past them */
    uint8_t *p = malloc(size ? size : 1);

    if (p == NULL)
        return;
    memcpy(p, data, size);
    rc = ldg_intake_frame_parse(p, size, &f, &why);
    FUZZ_ASSERT(rc == 0 || rc == LDG_ENOTFOUND || rc == LDG_ECORRUPT);
    if (rc < 0) {
        FUZZ_ASSERT(why != NULL && why[0] != '\0');
        free(p);
        return;
    }
    FUZZ_ASSERT(f.count > 0 && f.gen > 0);
    FUZZ_ASSERT(LDG_INTAKE_FRAME_HDR + (size_t)f.payload_len <= size);
    FUZZ_ASSERT((size_t)f.blocks * LDG_INTAKE_BLOCK >=
                LDG_INTAKE_FRAME_HDR + (size_t)f.payload_len);
    FUZZ_ASSERT((size_t)(f.blocks - 1) * LDG_INTAKE_BLOCK <
                LDG_INTAKE_FRAME_HDR + (size_t)f.payload_len);
    ldg_intake_build_init(&b, f.gen, f.first_seq,
                          (size_t)f.blocks * LDG_INTAKE_BLOCK);
    while (ldg_intake_rec_next(&f, &off, &r) == 1) {
        FUZZ_ASSERT((int)r.kind >= last);
        last = (int)r.kind;
        FUZZ_ASSERT(r.p >= f.payload &&
                    r.p + r.len <= f.payload + f.payload_len);
        switch (r.kind) {
        case LDG_IREC_DICT:
            FUZZ_ASSERT(ldg_intake_build_dict(&b, r.id, r.p, r.len) == 0);
            break;
        case LDG_IREC_EVENT:
            events++;
            FUZZ_ASSERT(r.len >= 1 && r.len <= 65535);
            FUZZ_ASSERT(r.b == r.p + r.len &&
                        r.b + r.blen <= f.payload + f.payload_len);
            FUZZ_ASSERT(ldg_intake_build_event(&b, r.p, r.len, r.b, r.blen) ==
                        0);
            break;
        case LDG_IREC_SEAL:
            FUZZ_ASSERT(ldg_intake_build_seal(&b, r.seq, r.p, r.len) == 0);
            break;
        case LDG_IREC_CHECKPOINT:
            FUZZ_ASSERT(ldg_intake_build_checkpoint(&b, r.p, r.len) == 0);
            break;
        case LDG_IREC_NOTE:
            FUZZ_ASSERT(ldg_intake_build_note(&b, r.p, r.len) == 0);
            break;
        }
    }
    FUZZ_ASSERT(off == f.payload_len && events == f.count);
    FUZZ_ASSERT(ldg_intake_build_finish(&b, &out, &n) == 0);
    FUZZ_ASSERT(n == (size_t)f.blocks * LDG_INTAKE_BLOCK);
    FUZZ_ASSERT(memcmp(out, p, LDG_INTAKE_FRAME_HDR + f.payload_len) == 0);
    ldg_intake_build_release(&b);
    free(p);
}

static void
intake_header_one(const uint8_t *data, size_t size)
{
    uint8_t hdr[LDG_INTAKE_BLOCK], id[LDG_INTAKE_ID_LEN];
    uint64_t blocks = 0;
    const char *why = NULL;
    int rc;

    memset(hdr, 0, sizeof hdr);
    memcpy(hdr, data, size < sizeof hdr ? size : sizeof hdr);
    rc = ldg_intake_header_parse(hdr, &blocks, id, &why);
    FUZZ_ASSERT(rc == 0 || rc == LDG_EVERSION || rc == LDG_ECORRUPT);
    if (rc < 0)
        FUZZ_ASSERT(why != NULL && why[0] != '\0');
    else
        FUZZ_ASSERT(blocks >= LDG_INTAKE_MIN_BLOCKS);
}

int FUZZ_ENTRY(const uint8_t *data, size_t size);

int
FUZZ_ENTRY(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] == 0)
        intake_frame_one(data + 1, size - 1);
    else if (data[0] == 1)
        intake_header_one(data + 1, size - 1);
    return 0;
}
