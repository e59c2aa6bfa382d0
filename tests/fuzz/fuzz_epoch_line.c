/*
 * fuzz_epoch_line.c — libFuzzer target for a checkpoint's epoch line made
 * whole (FORMAT.md 5.1, "The epoch signature of a checkpoint"): what a
 * bundle's member checkpoint.epoch, a segment's CHECKPOINT_EPOCH record
 * and a published log's checkpoint.epoch carry from outside, checked by
 * ldg_epoch_checkpoint_check against the note they sign. An input is
 *
 *   anchor[32] ‖ u64be t0 ‖ u64be period ‖ u8 n ‖ origin[n] ‖
 *   u16be m ‖ note[m] ‖ line (the rest)
 *
 * (the seeds in tests/fuzz/corpus_epoch_line/ are real ones: a ledger's
 * anchor, its checkpoint and the line `ledger tiles` wrote). No crash, no
 * undefined behaviour, no leak, and:
 *
 *   - the check answers 0, LDG_ENOTFOUND, LDG_ECORRUPT or LDG_EBADSIG
 *     (LDG_ENOMEM aside), with a NUL-terminated reason within its buffer
 *     on a refusal;
 *   - what passes binds the note's text: the same input with one byte of
 *     the text changed never passes (the line's signature is over it), and
 *     ldg_epoch_checkpoint_epoch reads the same epoch from the note's own
 *     line;
 *   - ldg_epoch_checkpoint_has_line says 1 of every note whose own line
 *     under the anchor passes or is read.
 *
 * Built by tests/fuzz/run.sh; tests/ledger/test_fuzz_regress.c runs the
 * corpus through it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/module.h"
#include "util/util.h"

#include "tests/fuzz/fuzz.h"

int FUZZ_ENTRY(const uint8_t *data, size_t size);

/* The check of note (len) and line, as a mirror makes it; the epoch in
 * *p, *j. */
static int
el_check(const char *note, size_t len, const char *line, size_t llen,
         const char *origin, const uint8_t anchor[32], uint64_t t0,
         uint64_t period, uint32_t *p, uint32_t *j)
{
    char err[512];
    const char *blank = len >= 2 ? memmem(note, len, "\n\n", 2) : NULL;
    int rc;

    if (blank == NULL)
        return LDG_ECORRUPT;
    memset(err, 0x55, sizeof err);
    rc = ldg_epoch_checkpoint_check(note, len, (size_t)(blank - note) + 1,
                                    line, llen, origin, anchor, t0, period, p,
                                    j, err, sizeof err);
    FUZZ_ASSERT(rc == 0 || rc == LDG_ENOTFOUND || rc == LDG_ECORRUPT ||
                rc == LDG_EBADSIG || rc == LDG_ENOMEM);
    if (rc == LDG_ECORRUPT || rc == LDG_EBADSIG)
        FUZZ_ASSERT(memchr(err, '\0', sizeof err) != NULL);
    return rc;
}

int
FUZZ_ENTRY(const uint8_t *data, size_t size)
{
    char origin[256], *note, *line;
    const uint8_t *anchor = data;
    uint64_t t0, period;
    uint32_t p = 0, j = 0, p2 = 0, j2 = 0;
    size_t n, m, at, llen;
    int rc;

    if (size < 32 + 16 + 1)
        return 0;
    t0 = ldg_rd_be64(data + 32);
    period = ldg_rd_be64(data + 40);
    n = data[48];
    at = 49;
    if (size < at + n + 2)
        return 0;
    memcpy(origin, data + at, n);
    origin[n] = '\0';
    at += n;
    m = (size_t)data[at] << 8 | data[at + 1];
    at += 2;
    if (size < at + m)
        return 0;
    /* (copies of their own: no read past either) */
    note = malloc(m + 1);
    llen = size - at - m;
    line = malloc(llen + 1);
    if (note == NULL || line == NULL) {
        free(note);
        free(line);
        return 0;
    }
    memcpy(note, data + at, m);
    note[m] = '\0';
    memcpy(line, data + at + m, llen);
    line[llen] = '\0';
    rc = el_check(note, m, line, llen, origin, anchor, t0, period, &p, &j);
    {
        const char *b = m >= 2 ? memmem(note, m, "\n\n", 2) : NULL;
        size_t tl = b != NULL ? (size_t)(b - note) + 1 : m;
        int has = ldg_epoch_checkpoint_has_line(note, m, tl, origin);

        FUZZ_ASSERT(has == 0 || has == 1);
        /* a line under this anchor is a line under some anchor */
        if (rc == 0 || (b != NULL && ldg_epoch_checkpoint_epoch(
                                         note, m, tl, origin, anchor, &p2,
                                         &j2) == 0))
            FUZZ_ASSERT(has == 1);
    }
    if (rc == 0) {
        const char *blank = memmem(note, m, "\n\n", 2);
        size_t tl = (size_t)(blank - note) + 1;
        /* the note's own line names the same epoch */
        FUZZ_ASSERT(ldg_epoch_checkpoint_epoch(note, m, tl, origin, anchor,
                                               &p2, &j2) == 0 &&
                    p2 == p && j2 == j);
        /* and the signature binds the text: one byte of it changed */
        for (size_t i = 0; i + 1 < tl; i += 1 + tl / 8) {
            note[i] ^= 0x01;
            FUZZ_ASSERT(el_check(note, m, line, llen, origin, anchor, t0,
                                 period, &p2, &j2) != 0);
            note[i] ^= 0x01;
        }
    }
    free(note);
    free(line);
    return 0;
}
