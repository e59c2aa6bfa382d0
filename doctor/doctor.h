/*
 * doctor.h — one truthful answer to "is this box and each pack ready, and
 * if not, what exactly do I do?".
 *
 * The per-pack clauses and the box-wide clauses that follow from the log
 * (promotions-gated, runtimes-up, disk-reported) come from the
 * projections (projections/projections.h, LDG_VIEW_DOCTOR). This module
 * adds the box-wide clauses that look at the box itself:
 *
 *   chain-verified       the core's saved verify position covers the log
 *                        (once there is one, events new since it are
 *                        checked on demand, up to
 *                        LDG_DOCTOR_VERIFY_NEW_MAX: ldg_doctor_verify_new)
 *   keys-valid           the log key file is present with mode 0600, no
 *                        revoked key still has a secret key file here
 *   projections-current  every projection is stored at this code's version
 *                        and up to the log
 *   disk-headroom        free space on the ledger's file system
 *
 * and the verdict: healthy, degraded, blocked or unknown. A pack is
 * blocked when it cannot run (disabled, removed, not validated, a
 * required permission not granted), degraded when it runs but a clause
 * fails, unknown when nothing fails but something could not be known.
 * The box's verdict is the worst over its active packs and its own
 * clauses (a failed box clause makes it degraded).
 */
#ifndef LDG_DOCTOR_H
#define LDG_DOCTOR_H

#include <stdint.h>

#include <jansson.h>

#include "ledger/ledger.h"
#include "projections/projections.h"

/* Verdicts, numbered as monitoring systems number exit codes. */
enum ldg_doctor_verdict {
    LDG_DOCTOR_HEALTHY = 0,
    LDG_DOCTOR_DEGRADED = 1,
    LDG_DOCTOR_BLOCKED = 2,
    LDG_DOCTOR_UNKNOWN = 3
};

struct ldg_doctor_opts {
    uint64_t at_size; /* 0 = now; N = as of the first N events */
    const char *pack; /* one pack, or NULL for all */
    ldg_projections_progress_fn progress; /* for --at replays, may be NULL */
    void *progress_ctx;
};

/* Free space below either bound fails disk-headroom. */
#define LDG_DOCTOR_DISK_MIN_MB 1024
#define LDG_DOCTOR_DISK_MIN_PERCENT 5

/* The most new events the doctor checks on demand (ldg_doctor_run); a
 * box further behind is left to `ledger verify` or `serve --verify-every`.
 * About 0.05 ms an event on one core (a signature check each). */
#define LDG_DOCTOR_VERIFY_NEW_MAX 65536

/*
 * Verifies the events new since the last recorded verification, and
 * only them (doctor/verify_new.c says what is checked and what is left
 * to `ledger verify`): the stored tree still has the verified root at the
 * verified size and grew consistently from it; each new event is vouched
 * for as export vouches (entry, leaf, chain link, key, signature or seal,
 * body); times never decrease. The result is recorded as a plain `ledger
 * verify` run's (through l if it is writable, else through a writable
 * handle on its directory): the verified position moves to the log's
 * size, a failure becomes a standing finding. r gets what was checked
 * (from, to, checked, root; bad_seq and what on a failure; recorded).
 * Returns 0 (also when nothing is new), LDG_ETAMPER (a finding, new or
 * standing: r->finding_stands), LDG_EFULL when more than max_events are
 * new (nothing checked or recorded), or an I/O code. err (may be NULL)
 * says why the result could not be recorded. Cost: about one signature
 * check per new event (on every CPU), plus a few tree reads.
 */
int ldg_doctor_verify_new(struct ldg_ledger *l, uint64_t max_events,
                          struct ldg_verify_report *r, char *err,
                          size_t errcap);

/*
 * Runs the doctor. *out gets {"size", "verdict", "packs": [{pack, state,
 * partial, active, verdict, clauses: [{name, status, detail: [..],
 * remedy: [..]}]}], "box": [clauses]}; *verdict the enum value (for a
 * pack filter: that pack's verdict with the box's). Reads projection
 * records and a few files; never replays the log unless at_size asks for
 * a past state or the store is behind. At at_size != 0 the live clauses
 * describe the box now, except chain-verified (judged at that size) and
 * disk-headroom (the host's reported value only).
 */
int ldg_doctor_run(struct ldg_ledger *l, const struct ldg_doctor_opts *opts,
                   json_t **out, int *verdict);

#endif
