/*
 * verified.h — the projections' index of successful model verifications,
 * for the sibling modules that read it (query's model_at). Neither
 * installed nor exported: programs that embed the library ask through
 * query/query.h (ldg_query_model_at).
 *
 * The index is kept in "proj.verified" by an applier that
 * ldg_projections_attach registers, so it covers the log as far as an
 * appender with the projections attached wrote it: the store records how
 * far (its mark), and a reader looks through the events after the mark
 * itself (docs/FORMAT.md section 6).
 */
#ifndef LDG_PROJ_VERIFIED_H
#define LDG_PROJ_VERIFIED_H

#include <stdint.h>

#include "ledger/ledger.h"

/* The successful verifications (model.verified with "ok": true) of digest
 * among the events of subject ("model:M") that the store covers: calls
 * fn(ctx, seq) for each, in increasing seq order, as ldg_index_walk does
 * (the body is not re-read: an erased one's seq is still given), and
 * *upto gets the mark: the walk answered for the events [0, *upto), the
 * caller looks through those from *upto on. LDG_ENOTFOUND when t has no
 * index (never built: a ledger not opened for writing with the
 * projections attached since it was written), LDG_ETOOBIG when subject
 * and digest are too long for a key (never indexed): then look through
 * the subject's events. Cost: two cursor seeks, then one step per
 * verification of that digest. */
int ldg_projections_verified_walk(struct ldg_txn *t, const char *subject,
                                  const char *digest, uint64_t *upto,
                                  int (*fn)(void *ctx, uint64_t seq),
                                  void *ctx);

/* A pruned ledger: model's last registration before the horizon, as the
 * state kept at the horizon has it (its models projection): 1 with *seq
 * and digest (NUL-terminated; cap bytes at most with the NUL), 0 when the
 * ledger was never pruned or the model was not registered before its
 * horizon, or an error (LDG_ECORRUPT: the record does not decode). The
 * events are gone; the state that folded them is what remembers them.
 * Cost: one lookup. */
int ldg_projections_horizon_registration(struct ldg_txn *t, const char *model,
                                         uint64_t *seq, char *digest,
                                         size_t cap);

/* Empties the index and fills it from the log in one write transaction
 * (query's reindex; ledger rebuild does it with the models projection).
 * Cost: one read of each model.verified event. */
int ldg_projections_verified_rebuild(struct ldg_ledger *l);

#endif
