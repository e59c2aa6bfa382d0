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
 *   epoch-exposure       what whoever holds the box now could re-sign:
 *                        the log key's current epoch, since which seq and
 *                        how long ago (warn: no epoch keys); what would
 *                        detect deleting or truncating the log (a
 *                        witness's cosigned size, or nothing here); and
 *                        whether keys/'s file system may keep the bytes an
 *                        in-place overwrite replaces (warn: btrfs, ZFS,
 *                        F2FS, ext4 data=journal)
 *   disk-headroom        free space on the ledger's file system: at
 *                        least LDG_DOCTOR_DISK_MIN_MB and _PERCENT, and
 *                        days left at the log's growth rate against the
 *                        retention policy's keep_days (fail below it,
 *                        warn below twice it)
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
    uint64_t now_ns;  /* the time disk-headroom measures growth up to
                         (ledger time, ns); 0 = the wall clock */
    const char *pack; /* one pack, or NULL for all */
    ldg_projections_progress_fn progress; /* for --at replays, may be NULL */
    void *progress_ctx;
    /* epoch-exposure: the size of the newest checkpoint a witness
     * cosigned for this log (the CLI reads it from fleet/), 0: none */
    uint64_t witness_size;
};

/* Free space below either bound fails disk-headroom. */
#define LDG_DOCTOR_DISK_MIN_MB 1024
#define LDG_DOCTOR_DISK_MIN_PERCENT 5
/* disk-headroom's growth rate: events appended (ledger time) in the last
 * this many days, or over the log's whole span when it is younger (a
 * span under a day counts as a day: minutes of history are not
 * extrapolated), times the store's bytes in use per event. */
#define LDG_DOCTOR_GROWTH_DAYS 7

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
 * What to do about a full disk, for a write refused with LDG_EFULL: the
 * free space on the file system of the ledger in dir, then the remedies
 * disk-headroom gives (`ledger prune --policy` with the retention
 * policy's keep_days, moving the archives off the box, `ledger stats
 * --databases` for where the bytes go), as one line of prose into buf.
 * Reads dir/retention.json (a malformed one is named, and the defaults
 * are said). Returns the length written (truncated to cap - 1).
 */
size_t ldg_doctor_full_advice(const char *dir, char *buf, size_t cap);

/*
 * Runs the doctor. *out gets {"size", "verdict", "packs": [{pack, state,
 * partial, active, verdict, clauses: [{name, status, detail: [..],
 * remedy: [..]}]}], "box": [clauses]}; *verdict the enum value (for a
 * pack filter: that pack's verdict with the box's). Reads projection
 * records and a few files; never replays the log unless at_size asks for
 * a past state or the store is behind. At at_size != 0 the live clauses
 * describe the box now, except chain-verified (judged at that size) and
 * disk-headroom (left out: disk-reported rests on the host's reported
 * value only). A clause's status is "ok", "warn", "unknown" or "fail";
 * "warn" carries remedies but does not change the verdict. disk-headroom
 * also carries its measures: free_bytes, events_per_day, bytes_per_event,
 * bytes_per_day, window_days (numbers), days_left (a number, null when
 * not growing), keep_days (null when retention.json is malformed).
 * Costs a few index lookups (a binary search over the log by time) and
 * one pass over LMDB's catalogue for disk-headroom.
 */
int ldg_doctor_run(struct ldg_ledger *l, const struct ldg_doctor_opts *opts,
                   json_t **out, int *verdict);

#endif
