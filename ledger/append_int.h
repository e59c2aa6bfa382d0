/*
 * append_int.h — what the files of the append path share (append.c's
 * comment draws the path):
 *
 *   append_prep.c   an event prepared: checked, stamped, its body made,
 *                   encoded and signed (ldg_prepare, ldg_prep_*)
 *   append.c        a group stored in one write transaction, its seals
 *                   closed, layout 9's intake frames applied
 *                   (ldg_append, ldg_commit_*, ldg_intake_apply_frame)
 *   append_batch.c  all-or-nothing batches, sealed ones among them
 *                   (ldg_batch_*)
 *
 * Included by those files, and by writer.c and init.c for the events
 * they prepare and commit (struct ldg_prep, ldg_commit_*).
 */
#ifndef LEDGER_APPEND_INT_H
#define LEDGER_APPEND_INT_H

#include "ledger/handle_int.h"

/* append.c: one event on its way into the log (see append.c's steps). */
struct ldg_prep {
    char type[LDG_TYPE_MAX + 1];
    /* NUL-terminated, "" for none: in text (owned; prep_text keeps them
     * at their own lengths), else static strings (write_genesis) */
    const char *subject, *run, *id;
    char *text;
    int has_parent;
    uint64_t parent;
    struct ldg_key *signer; /* borrowed from the handle */
    json_t *body;           /* owned reference */
    uint64_t seq, ts;       /* stamp the signature was made for */
    int signed_ok;          /* stamp, body and signature are done */
    int rc;                 /* error from signing, if any */
    struct ldg_body_rec body_rec;
    struct ldg_buf entry;
    size_t map_len;
    uint8_t sig[64];
    /* format version 2 (id above) */
    int has_time;
    uint64_t time_ns;
    int has_source;
    struct ldg_source source; /* exe, unit malloc'd (or NULL) */
    /* ledger format 2: entry holds 0x93 ‖ claim (map_len bytes) once
     * prepared; digest is the claim digest. salts: a sealed batch's
     * (borrowed), else NULL. */
    uint8_t digest[32];
    const json_t *salts;
    uint64_t seal_seq, seal_leaf; /* its stamp's seal and leaf */
    int dup;                      /* its id was found in the log: not stored */
    uint64_t dup_seq;             /* the event that carries the id */
    unsigned dup_differs;         /* enum ldg_dup_diff: what of it differs */
    uint64_t tag; /* the writer's caller's (ldg_writer_add_tagged) */
};
void ldg_prep_release(struct ldg_prep *p);
/* For an event that waits in the bulk writer: drops what the commit does
 * not read (the body's JSON tree where the record serves, the record's
 * slack), so many more fit in the same memory. */
void ldg_prep_compact(struct ldg_prep *p);
/* An event ldg_prepare made (off the writer's caller's thread): the prep
 * and what refused it, reported by ldg_prep_finish in order. */
struct ldg_prepared {
    struct ldg_prep p;
    int rc;      /* refused as an event (prep_event) */
    int body_rc; /* refused for its body (judged after the actor) */
    int has_actor;
    char actor[LDG_NAME_MAX + 1];
    char err[1024];
};
/* ldg_writer_add_prepared's step 1: pe's refusal, or its actor checked as
 * the log is now, or its body's refusal (message set), else 0 with the
 * prep moved into *p. */
int ldg_prep_finish(struct ldg_ledger *l, struct ldg_prepared *pe,
                    struct ldg_prep *p);
/* The bytes an event takes in an intake frame, its entry and body record
 * (less their records' few bytes of framing): what decides whether a
 * group goes in a frame or to LMDB (LDG_INTAKE_FRAME_MAX). */
static inline size_t
ldg_prep_frame_bytes(const struct ldg_prep *p)
{
    return p->entry.len + p->body_rec.rec_len;
}
/* Step 1 (validate). */
int ldg_prep_init(struct ldg_ledger *l, struct ldg_prep *p,
                  const struct ldg_event_in *in);
/* Step 1 for the genesis (ledger.genesis by the log key, its body the
 * origin and the key): no actor to judge, no key history yet. Release p
 * with ldg_prep_release, whatever the result. 0, LDG_ENOMEM. */
int ldg_prep_genesis(struct ldg_ledger *l, struct ldg_prep *p);
/* Steps 2-4 for a given stamp; thread-safe. */
int ldg_prep_sign(const struct ldg_ledger *l, struct ldg_prep *p, uint64_t seq,
                  uint64_t ts);
/* Steps 5-8 for n prepared events in one write transaction; seqs and
 * first_seq as ldg_batch_commit. */
int ldg_commit_group(struct ldg_ledger *l, struct ldg_prep *preps, size_t n,
                     uint64_t *first_seq);
/* The same; *stored (may be NULL) gets how many were stored: a prep whose
 * id is already in the log (or earlier in the group) is skipped, with
 * p->dup set and p->dup_seq naming that event. */
int ldg_commit_group_n(struct ldg_ledger *l, struct ldg_prep *preps, size_t n,
                       uint64_t *first_seq, uint64_t *stored);
/* The same over several arrays of preps, in order, as one transaction
 * (the bulk writer commits every batch that is ready at once). */
struct ldg_prep_span {
    struct ldg_prep *p;
    size_t n;
};
int ldg_commit_spans(struct ldg_ledger *l, const struct ldg_prep_span *spans,
                     size_t nspans, uint64_t *first_seq, uint64_t *stored);

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
                     const struct ldg_event_in *in, int in_txn,
                     struct ldg_key *signer, const json_t *salts);

/* append.c */
int app_read_tail(struct ldg_txn *t, struct tail *tl);
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
