/*
 * verify_int.h — shared by verify's files in ledger/ (verify.c,
 * verify_chain.c, verify_keys.c, verify_seals.c, verify_bodies.c,
 * verify_indexes.c, vouch.c). Nothing outside them includes it.
 */
#ifndef LDG_VERIFY_INT_H
#define LDG_VERIFY_INT_H

#include "ledger/epoch_int.h"
#include "ledger/handle_int.h"

#define CHUNK 512
/* pass 1 drops the mapped pages every 2^15 events (see vf_pass1) */
#define VERIFY_TRIM_MASK ((UINT64_C(1) << 15) - 1)
/* an index walk drops them every 2^16 records */
#define VERIFY_WALK_TRIM ((UINT64_C(1) << 16) - 1)

/* A sequential reader of one database (verify.c, vf_seqrd_get). */
struct seqrd {
    struct ldg_txn *t;
    ldg_dbi dbi;
    struct ldg_cursor *c; /* NULL: gets only */
    int at;               /* the cursor is on key k (value v) */
    struct ldg_val k, v;
};

#define VF_ANCHOR_PRUNED UINT64_MAX

struct vkey {
    char key_id[LDG_KEYID_LEN + 1];
    char name[LDG_NAME_MAX + 1];
    uint8_t pub[32];
    uint64_t added, revoked;
    uint32_t roles;  /* ldg_roles_mask of its key.added; the log key: all */
    uint64_t sealed; /* format 2: events its seals covered so far (pass 1) */
    /* epoch keys (FORMAT.md 5.1): anchor_seq + 1 of its key.anchored (0:
     * none; VF_ANCHOR_PRUNED: before a pruned ledger's horizon, its chain
     * not checkable), and its chain from the anchor as far as its seals
     * went */
    uint64_t anchored;
    struct ldg_epoch_chain *ep; /* malloc'd at its anchor; freed with keys */
};

/* A seal pass 1 has seen opened and not yet all of its events (format 2). */
struct vseal {
    uint64_t seal_seq;
    struct ldg_seal rec;
    struct ldg_seal_acc acc;
    /* an epoch seal: its epoch, key, start and signature (rec.ext is not
     * kept: it points into a record read once) */
    int epoch;
    struct ldg_epoch_id e;
    uint8_t ep_pub[32], ep_sig[64];
    uint64_t ep_start;
};

/* The index databases verify walks: idx.type, idx.subject, idx.run,
 * idx.actor, idx.time, idx.id (layouts 1 and 2) and ix.type, ix.subject,
 * ix.run, ix.actor (layout 3); each layout leaves the others' empty. */
#define VF_NIDX 10

struct vstate {
    uint64_t with_id; /* events with an id (idx.id entries) */
    /* a pruned ledger: the events before start are gone (the horizon
     * record, hz, says what they left); 0 when never pruned */
    uint64_t start;
    struct ldg_horizon hz;
    /* store layout 9: the first leaf whose level-0 hashes the prune
     * kept (ldg_tree_kept_from; 0: all), and the checkpoints of sizes
     * inside the dropped tiles, whose roots the kept hashes cannot give */
    uint64_t tree_from, ck_unchecked;
    struct ldg_ledger *l;
    /* the store's dictionaries (body records of layout 5), as many as
     * load: a body naming one that does not is a finding at its event */
    const struct ldg_dicts *dicts;
    struct vkey *keys;
    size_t nkeys, capkeys;
    uint64_t *erased; /* sorted targets of body.erased */
    size_t nerased, caperased;
    uint64_t bad_seq; /* UINT64_MAX while none */
    char what[512];
    pthread_mutex_t mu; /* guards keys, missing, bad_seq, p1_*, next, done */
    pthread_cond_t p1_cv;
    uint64_t p1_done; /* events pass 1 has passed */
    int p1_finished;
    uint64_t *missing; /* seqs pass 2 found without a stored body */
    size_t nmissing, capmissing;
    /* pass 2 */
    uint64_t from, to, next;
    uint64_t done;
    void (*progress)(void *, uint64_t, uint64_t);
    void *progress_ctx;
    int io_rc;
    /* format 2 (pass 1 only) */
    struct vseal *open;
    size_t nopen, capopen;
    uint64_t nseals; /* seals opened */
    /* the epoch of the log key that signed the last checkpoint since its
     * last seal (ck_ep_size 0: none): the next seal may not be under an
     * earlier one (vf_checkpoint_epoch) */
    struct ldg_epoch_id ck_ep;
    uint64_t ck_ep_size;
    /* verify --full from 0: the index keys the entries call for, as a
     * keyed multiset hash per index (a random key per run), compared
     * with the same hash over a walk of each index (check_indexes_fast) */
    int idx_fast;
    int layout; /* the store layout of the first snapshot */
    uint8_t idx_key[VF_NIDX][16];
    uint64_t idx_sum[VF_NIDX][2]; /* mod 2^128: [0] low, [1] high; under mu */
    /* the walks of the index databases, after both passes, on two threads
     * (vf_check_indexes_fast; under mu) */
    struct vwalk {
        int state; /* 0 to do, 1 taken, 2 done */
        int finding;
        uint64_t n, sum[2];
    } walks[VF_NIDX];
    int walk_next;
    /* verify --full from the start with ix.body current: the pairs the
     * bodies give (key, seq), summed as idx_sum (ldg_bix_sum_add), and
     * their count; bix_err: a body pass 2 could not make keys of (the
     * sums then decide nothing). Under mu. */
    int bix_fast, bix_err;
    uint8_t bix_key[16];
    uint64_t bix_sum[2], bix_n;
};

/* verify.c */
/* ldg_strerror(rc) for a finding's text; LDG_ENOMEM counted as it is
 * said (ldg_alloc_failed), so that ldg_verify answers LDG_ENOMEM and
 * records nothing: the words of a finding never decide (an entry's actor
 * can be any 16 bytes). */
const char *vf_strerror(int rc);
void vf_bad(struct vstate *vs, uint64_t seq, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const struct vkey *vf_find_key(const struct vstate *vs, const char *id);
int vf_key_copy(struct vstate *vs, const char *id, struct vkey *out);
int vf_add_key(struct vstate *vs, const char *id, const uint8_t pub[32],
               uint64_t seq);
int vf_is_erased(const struct vstate *vs, uint64_t seq);
int vf_cmp_u64(const void *a, const void *b);
void vf_seqrd_open(struct seqrd *r, struct ldg_txn *t, ldg_dbi dbi);
void vf_seqrd_close(struct seqrd *r);
int vf_seqrd_get(struct seqrd *r, const uint8_t *key, size_t klen,
                 struct ldg_val *v);
int vf_seqrd_seq(struct seqrd *r, uint64_t seq, struct ldg_val *v);
void vf_p1_publish(struct vstate *vs, uint64_t done, int finished);

/* verify_chain.c */
int vf_pass1(struct vstate *vs, struct ldg_txn *t, uint64_t size,
             uint64_t saved_size, const uint8_t saved_root[32],
             uint64_t *ncheck, uint8_t final_root[32], uint64_t *with_run);

/* verify_keys.c */
int vf_check_sig(struct vstate *vs, const struct ldg_event *ev);
int vf_collect(struct vstate *vs, struct ldg_txn *t,
               const struct ldg_event *ev);
void vf_check_registry(struct vstate *vs, struct ldg_txn *t, uint64_t size);

/* verify_seals.c */
int vf_seal_step(struct vstate *vs, struct ldg_txn *t,
                 const struct ldg_event *ev);
int vf_seals_closed(struct vstate *vs, uint64_t size, const char *what);
/* Pass 1, at the checkpoint of size (note, its text tlen bytes): its
 * epoch line (FORMAT.md 5.1), once the log key seals with epoch keys.
 * Returns 1 on a finding. */
int vf_checkpoint_epoch(struct vstate *vs, const char *note, size_t len,
                        size_t tlen, uint64_t size);
void vf_check_seals(struct vstate *vs, struct ldg_txn *t, uint64_t size);

/* verify_bodies.c */
extern const char vf_msg_nobody[], vf_msg_still[];
int vf_check_body_pl(struct vstate *vs, const struct ldg_event *ev, int defer,
                     int rc, struct ldg_val v, struct ldg_inflate *s,
                     struct ldg_body_view *bv, int *viewed);
int vf_check_body(struct vstate *vs, struct ldg_txn *t,
                  const struct ldg_event *ev, int defer);
void vf_deferred_body_checks(struct vstate *vs, struct ldg_txn *t);

/* verify_indexes.c */
struct idx_acc {
    const struct vstate *vs;
    uint64_t sum[VF_NIDX][2];
    uint64_t bix_sum[2], bix_n; /* vstate's bix_*, for one chunk */
    int bix_err;
};
void vf_idx_acc_key(void *ctx, enum ldg_core_db db, const uint8_t *key,
                    size_t n);
void vf_check_index_counts(struct vstate *vs, struct ldg_txn *t, uint64_t size,
                           uint64_t with_run);
void vf_walk_indexes(struct vstate *vs, struct ldg_txn *t, uint64_t size,
                     uint64_t with_run);
int vf_check_indexes_fast(struct vstate *vs, struct ldg_txn *t, uint64_t size,
                          uint64_t with_run);
int vf_check_indexes_slow(struct vstate *vs, struct ldg_txn *t);

#endif
