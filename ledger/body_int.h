/*
 * body_int.h — what the files of the body records share (body.c draws
 * the record kinds):
 *
 *   body.c        records made: salts, digests, the commitment, the
 *                 compressed forms; the dictionaries a store holds
 *   body_read.c   records read back: opened, decoded, their root
 *   body_train.c  dictionaries trained on the ledger's own bodies
 *
 * Included by those files alone.
 */
#ifndef LEDGER_BODY_INT_H
#define LEDGER_BODY_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <zstd.h>

#include "ledger/record_int.h"

/*
 * The dictionaries a store's records name, by id (1..255). A set only
 * grows: ldg_dicts_add puts an id once (under the mutex) and readers look
 * ids up without it (the pointer is published with a release store).
 */
struct ldg_dicts {
    pthread_mutex_t mu;
    ZSTD_DDict *dd[LDG_DICT_IDS];
    uint8_t *bytes[LDG_DICT_IDS]; /* the dictionary as stored */
    size_t len[LDG_DICT_IDS];
    unsigned top; /* the highest id held, 0 for none */
};

/* body.c */
void body_digest_slices(uint8_t out[32], const uint8_t salt[LDG_SALT_LEN],
                        const uint8_t *name, size_t name_len,
                        const uint8_t *val, size_t val_len);
void body_seed_salts(uint8_t kind, const uint8_t seed[LDG_SEED_LEN], size_t n,
                     uint8_t (*out)[LDG_SALT_LEN]);
ZSTD_DCtx *body_thread_dctx(void);
ZSTD_DCtx *body_thread_dctx5(void);
struct ldg_inflate *body_thread_scratch(void);
unsigned body_dict_header_id(const uint8_t *p, size_t len);

#endif
