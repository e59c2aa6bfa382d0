/*
 * append_int.h — what the files of the append path share (append.c's
 * comment draws the path):
 *
 *   append_prep.c   an event prepared: checked, stamped, its body made,
 *                   encoded and signed (ldg_prepare, ldg_prep_*)
 *   append.c        a group stored in one write transaction, its seals
 *                   closed, layout 999's intake frames applied
 *                   (ldg_append, ldg_commit_*, ldg_intake_apply_frame)
 *   append_batch.c  all-or-nothing batches, sealed ones among them
 *                   (ldg_batch_*)
 *
 * Included by those files alone.
 */
#ifndef LEDGER_APPEND_INT_H
#define LEDGER_APPEND_INT_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/ledger_int.h"

#define GROW_RETRIES 24
/* ldg_commit_spans drops the map's resident pages every this many events
 * (a power of two). */
#define TRIM_EVERY 1024
/* A stamp without source (digest, leaf, seal, seq, ts: at most 95 bytes)
 * and prev (34 bytes). */
#define STAMP_ROOM 160

/* The tail of the log as seen by t: size, last ts, last leaf hash. */
struct tail {
    uint64_t size, ts;
    uint8_t leaf[32];
};

/*
 * Format 2: each key that appends in a commit seals its events of that
 * commit with one seal, opened at its first event there (FORMAT.md
 * section 3.3). A seal_set holds the open ones; closing signs each root
 * once and stores the seal and the key's new sealed count.
 */
struct open_seal {
    const struct ldg_key *key; /* ledger-held: has its secret */
    uint64_t seal_seq, first;
    struct ldg_seal_acc acc;
};
struct seal_set {
    struct open_seal *s;
    size_t n, cap;
};

/* append_prep.c */
/* ldg_batch_add_pruned is adding the prune's own event (this thread) */
extern _Thread_local int app_adding_pruned;
int app_roles_refuse(struct ldg_ledger *l, const struct ldg_key_state *ks,
                     const char *type);
int app_prep_init_ex(struct ldg_ledger *l, struct ldg_prep *p,
                     const struct ldg_event_in *in, uint64_t seq_hint,
                     int in_txn, struct ldg_key *signer, const json_t *salts);

/* append.c */
int app_read_tail(struct ldg_txn *t, struct tail *tl);
int app_dup_differs(struct ldg_txn *t, const struct ldg_prep *p, uint64_t seq,
                    unsigned *differs);
int app_check_in_txn(struct ldg_txn *t, struct ldg_prep *p, uint64_t seq,
                     int *erase, uint64_t *erase_target);
int app_store_checked(struct ldg_txn *t, struct ldg_prep *p,
                      const uint8_t prev[32], uint8_t leaf_out[32], int erase,
                      uint64_t target);
void app_seal_set_release(struct seal_set *ss);
int app_seal_store(struct ldg_txn *t, uint64_t seal_seq,
                   const struct ldg_seal *s);
int app_seal_place(struct seal_set *ss, struct ldg_txn *t, struct ldg_prep *p,
                   uint64_t seq, size_t *slot);
int app_seal_close_key(struct seal_set *ss, struct ldg_txn *t,
                       const char *key_id);
int app_seal_set_close(struct seal_set *ss, struct ldg_txn *t);
int app_frame_seals(struct ldg_txn *t, struct ldg_intake_build *frame,
                    uint64_t first, uint64_t k);
int app_frame_close(struct ldg_txn *t, struct ldg_intake_build *frame,
                    uint64_t first, uint64_t k);

#endif
