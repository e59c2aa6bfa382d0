/*
 * fuzz_sealed.c — libFuzzer target for what a writer holding its own key
 * sends and what the seals database holds (ledger/seal.c): the sealed-batch
 * JSON (ldg_sealed_batch_parse), a stored seal record
 * (ldg_seal_record_decode) and a claim (ldg_claim_decode), from the same
 * bytes. No crash, no undefined behaviour, and:
 *
 *   - a batch that parses has count events, each with a type, and one
 *     salt per body field; one that does not says why;
 *   - a record or claim that decodes encodes again to the same bytes (one
 *     encoding each), and one byte less never decodes.
 *
 * Built by tests/fuzz/run.sh; tests/ledger/test_fuzz_regress.c runs the
 * corpus (tests/fuzz/corpus_sealed/) through it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/module.h"

#include "tests/fuzz/fuzz.h"

int FUZZ_ENTRY(const uint8_t *data, size_t size);

int
FUZZ_ENTRY(const uint8_t *data, size_t size)
{
    struct ldg_sealed_batch *b = NULL;
    struct ldg_seal s;
    struct ldg_claim c;
    json_error_t je;
    json_t *j;
    char err[512];
    uint8_t *out = malloc(LDG_ENTRY_MAX);
    size_t n;
    int rc;

    FUZZ_ASSERT(out != NULL);
    /* as JSON: a sealed batch */
    j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &je);
    if (j != NULL) {
        err[0] = '\0';
        rc = ldg_sealed_batch_parse(&b, j, err, sizeof err);
        if (rc == 0) {
            FUZZ_ASSERT(b != NULL && b->n == b->count && b->n >= 1 &&
                        b->n <= LDG_SEAL_EVENTS_MAX);
            for (size_t i = 0; i < b->n; i++) {
                const char *k;
                json_t *v;
                FUZZ_ASSERT(b->ev[i].in.type != NULL);
                json_object_foreach(b->ev[i].in.body, k, v)
                    FUZZ_ASSERT(json_object_get(b->ev[i].salts, k) != NULL);
            }
            ldg_sealed_batch_free(b);
        } else {
            FUZZ_ASSERT(rc == LDG_EBADINPUT && err[0] != '\0' && b == NULL);
        }
        json_decref(j);
    }
    /* as a stored seal record */
    if (ldg_seal_record_decode(data, size, &s) == 0) {
        FUZZ_ASSERT(ldg_seal_record_encode(&s, out, LDG_SEAL_REC_MAX, &n) == 0);
        FUZZ_ASSERT(n == size && memcmp(out, data, size) == 0);
        FUZZ_ASSERT(ldg_seal_record_decode(data, size - 1, &s) != 0);
        rc = ldg_seal_verify(&s, s.root);
        FUZZ_ASSERT(rc == 0 || rc == LDG_EBADSIG);
    }
    /* as a claim */
    rc = ldg_claim_decode(data, size, &c);
    FUZZ_ASSERT(rc == 0 || rc == LDG_ECORRUPT || rc == LDG_EVERSION);
    if (rc == 0) {
        FUZZ_ASSERT(ldg_claim_encode(&c, out, LDG_ENTRY_MAX, &n) == 0);
        FUZZ_ASSERT(n == size && memcmp(out, data, size) == 0);
        FUZZ_ASSERT(ldg_claim_decode(data, size - 1, &c) != 0);
    }
    free(out);
    return 0;
}
