/*
 * engine_int.h — what the engine's files share (not public; engine.c
 * tells how the projections are kept): engine.c keeps the meta records,
 * folds, signs notes and brings the projections current; applier.c keeps
 * them current on the append path; read.c reads them as of a size (one
 * view, the state, the list); rebuild.c rebuilds them from the log and
 * check.c compares the stored ones with a fold of the log.
 */
#ifndef LDG_PROJ_ENGINE_INT_H
#define LDG_PROJ_ENGINE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "projections/proj_int.h"

#define META_DB "proj.meta"
#define NOTES_DB "proj.notes"
#define META_LEN 60
#define NOTE_HEADER "ledger-projections/v1"

/* The projections the doctor reads. */
#define DOCTOR_INPUTS                                                          \
    ((1u << P_PACKS) | (1u << P_PERMISSIONS) | (1u << P_MODELS) |              \
     (1u << P_ROUTES) | (1u << P_PROMOTIONS))

/* Opens proj.meta (creating it when create is set). */
int eng_meta_dbi(struct ldg_txn *t, int create, ldg_dbi *dbi);

/* Stores projection p's meta record (the layout is engine.c's): its
 * events applied and digest d, at this code's version. */
int eng_meta_write(struct ldg_txn *t, enum proj_id p, uint64_t applied,
                   const struct pdigest *d);

/* Time of the event size-1 (the log's clock at that size), 0 if none;
 * at a pruned ledger's horizon, the horizon record's. */
int eng_log_time(struct ldg_txn *t, uint64_t size, uint64_t *ts);

/* 1 when note (a signed note) signs exactly text. */
int eng_note_signs(const char *note, const char *text);

/* On a pruned ledger: a difference in diffs when the state kept at the
 * horizon is not the one the horizon record names, or no note signed by
 * the log key is for it. 0 or an ldg_error. */
int eng_horizon_check(struct ldg_txn *t, json_t *diffs);

/* Folds events [from, to) of t into ps. */
int eng_fold_range(struct pstate *ps, struct ldg_txn *t, uint64_t from,
                   uint64_t to, ldg_projections_progress_fn fn, void *ctx);

/* Writes the records of projection p from a memory-only ps into t,
 * replacing everything the projection had, and its meta. */
int eng_write_out(struct pstate *ps, struct ldg_txn *t, enum proj_id p,
                  uint64_t applied);

/*
 * Doctor digest at size: SHA-256("ledger/doctor/v1" 0x00 ‖ u32be(version)
 * ‖ u64be(size) ‖ u64be(ts of event size-1) ‖ digest(packs) ‖
 * digest(permissions) ‖ digest(models) ‖ digest(routes) ‖
 * digest(promotions)).
 */
void eng_doctor_inputs(uint8_t out[32], uint64_t size, uint64_t ts,
                       const struct pdigest d[P_COUNT]);

/* The doctor digest of the state stored in t at size; LDG_ESTALE if the
 * store is not exactly at size. */
int eng_doctor_inputs_stored(struct ldg_txn *t, uint64_t size, uint8_t out[32]);

/* The note text for the projections' digests d (this code's versions)
 * at size, the log's clock there ts. */
int eng_note_text_of(struct ldg_txn *t, uint64_t size,
                     const struct pdigest d[P_COUNT], uint64_t ts, char *buf,
                     size_t cap);

/* The note text for the state stored in t at size. */
int eng_note_text(struct ldg_txn *t, uint64_t size, char *buf, size_t cap);

/* The signed note stored for size (0: the latest), malloc'd into *out
 * (the caller frees it); LDG_ENOTFOUND when there is none. */
int eng_note_get(struct ldg_txn *t, uint64_t size, char **out);

/*
 * Makes the stored projections in t describe exactly the first `size`
 * events (size <= log size in t): projections never built or built by
 * other code are rebuilt from the log; the rest, if behind, catch up.
 * Projections in `skip` are left alone. Sets *changed if it wrote.
 */
int eng_bring_current(struct ldg_txn *t, uint64_t size, unsigned skip,
                      ldg_projections_progress_fn fn, void *ctx, int *changed);

/* Is everything (projections and doctor) stored at size and this code's
 * version? */
int eng_all_current(struct ldg_txn *t, uint64_t size, int *yes);

/* After the projections in t are current at size: the note, if none is
 * stored for size. A missing log secret only skips the note. */
int eng_finish_size(struct ldg_txn *t, uint64_t size);

/* The digest of projection p's records as they are stored (a scan: a
 * record written behind the applier's back shows here, not in meta). */
int eng_stored_digest(struct ldg_txn *t, enum proj_id p, struct pdigest *d);

#endif
