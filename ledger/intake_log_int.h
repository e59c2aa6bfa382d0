/*
 * intake_log_int.h — layout 9's intake log as the append part keeps it
 * (intake_log.c): attached to a handle, its acknowledgement groups, its
 * tail applied to the store. The part header of the append part's intake;
 * the store's own half (the file's frames, intake.c) is intake_int.h.
 */
#ifndef LEDGER_INTAKE_LOG_INT_H
#define LEDGER_INTAKE_LOG_INT_H

#include "ledger/intake_int.h"
#include "ledger/handle_int.h"

/* ------------------------------------- intake_log.c: layout 9's path -- */

/* Opens DIR/intake for a store at layout 9 (load_meta). */
/* A frame holds at most this many bytes of events: a bigger ack group (a
 * bulk ingest's, a busy server's) goes straight to LMDB once the tail is
 * applied, written once. Past about that many a group costs no more in
 * its own LMDB commit (some 100-200 KB whatever it holds) than in a frame
 * and again when applied, and it is stored faster: the intake's overlay
 * costs more CPU an event than LMDB's own pages (docs/WRITE-PATH.md,
 * "Bigger groups": 16 KiB was faster still at 64 clients, and wrote twice
 * the bytes for groups of up to 64 events). */
#define LDG_INTAKE_FRAME_MAX ((size_t)64 << 10)

int ldg_intake_attach(struct ldg_ledger *l);
void ldg_intake_detach(struct ldg_ledger *l);
/* Creates DIR/intake (a new one: one left by a conversion that did not
 * finish is replaced) and puts its position, at the log's size, in t:
 * ldg_init and ledger migrate to layout 9 commit t after. */
int ldg_intake_make(struct ldg_ledger *l, struct ldg_txn *t, uint64_t size);
/* Applies the unapplied tail to LMDB in one transaction (taking the
 * exclusive lock unless this thread holds it). 0 when nothing was left. */
int ldg_intake_settle(struct ldg_ledger *l);
/* 0 when t's store records an intake position that belongs to l's intake
 * log and lies inside its ring (or l has none), else LDG_ECORRUPT with
 * the message, or a storage error reading it (what ldg_open checks
 * without replaying the tail). */
int ldg_intake_position_check(struct ldg_ledger *l, struct ldg_txn *t);
/* Before an erasure (the exclusive lock held): the tail applied (with
 * settle; without, the caller applied it, as a batch gone to LMDB has),
 * then every block of the ring overwritten with zeros in place and
 * flushed, so that no frame keeps the erased body's bytes (the seed its
 * salts come from); the erasure then goes to LMDB itself, which deletes
 * the record at once. 0; < 0 with errmsg, nothing erased. */
int ldg_intake_scrub(struct ldg_ledger *l, int settle);
/* A read transaction: the store's snapshot with the tail replayed. */
int ldg_intake_read_begin(struct ldg_ledger *l, struct ldg_txn **out);
/* The intake's lock (flock(2) on a descriptor of its own): every writer
 * holds it exclusive from reading the tail to its frame's fdatasync; a
 * reader holds it shared from before its store snapshot begins until it
 * has read the tail past the snapshot's applied position, so the frames
 * it reads are durable and none of them is overwritten under it
 * (FORMAT.md 12.5). The exclusive lock: a file descriptor to give back,
 * or < 0. */
int ldg_intake_lock_ex(struct ldg_ledger *l);
void ldg_intake_unlock_ex(struct ldg_ledger *l, int fd);
/* One ack group, the exclusive lock held: ldg_intake_ack_begin gives
 * the transaction (an overlay with the tail replayed) the append path
 * stores the group in, recording a->frame; ldg_intake_ack_write writes
 * and flushes it (the ack), applying the tail first when the ring has no
 * room, and after when it passed its bound. */
struct ldg_intake_ack {
    struct ldg_intake_pos applied, end;
    uint64_t tail_events;
    int settled; /* the tail was applied to LMDB */
    struct ldg_intake_build frame;
};
int ldg_intake_ack_begin(struct ldg_ledger *l, struct ldg_intake_ack *a,
                         struct ldg_txn **out);
int ldg_intake_ack_write(struct ldg_ledger *l, struct ldg_intake_ack *a);
void ldg_intake_ack_release(struct ldg_intake_ack *a);
/* Ends the group's transaction in place of ldg_txn_abort: ok when the
 * group was acknowledged (or stored nothing), so that the view it is
 * kept for the next group; otherwise it is dropped. */
void ldg_intake_ack_end(struct ldg_ledger *l, struct ldg_intake_ack *a,
                        struct ldg_txn *t, int ok);
/* In a write transaction that appends to LMDB itself (a group too big
 * for a frame, a batch; the tail applied first, the lock held): the
 * intake position moved to the log's new size. */
int ldg_intake_direct_pos(struct ldg_ledger *l, struct ldg_txn *t,
                          uint64_t size);
/* verify --full's check of the intake against the store (intake_log.c):
 * 0; 1 with what and *seq; < 0 on an error. */
int ldg_intake_check(struct ldg_ledger *l, char *what, size_t cap,
                     uint64_t *seq);

/* append.c: brings t (a write transaction, or one with an overlay) up to
 * date with one intake frame (FORMAT.md 12): each event stored as an
 * append stores it (ldg_event's decode, its seq the next, its prev the
 * last leaf; the body record as given), the seals, the dictionaries, and
 * the checkpoint, which must verify with the log key and name the tree's
 * root at its size. LDG_ECORRUPT (with the ledger's message) when the
 * frame does not follow t's log or does not hold; a storage error
 * otherwise (t must then be aborted). */
struct ldg_intake_frame;
int ldg_intake_apply_frame(struct ldg_txn *t, const struct ldg_intake_frame *f);

#endif
