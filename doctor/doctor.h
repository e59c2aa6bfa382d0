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
 *   storage-wear         what the device holding the ledger writes, over
 *                        the last hour and day, and how long a device of
 *                        its size lasts at that rate, or the device's own
 *                        wear figure (ldg_doctor_wear_measure): a warning
 *                        at most, never a change of the verdict
 *   snapshots-held       no other process holds an old read snapshot of
 *                        the store, which keeps the writer from reusing
 *                        the pages freed since (ldg_stats_snapshots): a
 *                        holder of LDG_DOCTOR_SNAPSHOT_WARN_MB, or a
 *                        stopped one a commit behind, warns; one of
 *                        LDG_DOCTOR_SNAPSHOT_FAIL_MB fails
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
/* snapshots-held's bounds: pages a held snapshot keeps from reuse */
#define LDG_DOCTOR_SNAPSHOT_WARN_MB 16
#define LDG_DOCTOR_SNAPSHOT_FAIL_MB 1024
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

/* ------------------------------------------------------- storage-wear -- */

/* The samples of the device's writes, in the ledger's directory (wear.c
 * gives their form), one every LDG_DOCTOR_WEAR_EVERY_S at most, kept for
 * LDG_DOCTOR_WEAR_KEEP_S. */
#define LDG_DOCTOR_WEAR_FILE "storage-wear.tsv"
#define LDG_DOCTOR_WEAR_EVERY_S 600u
#define LDG_DOCTOR_WEAR_KEEP_S (26u * 3600u)
/* The lifetime estimate's assumption: write cycles a flash cell takes
 * (TLC's usual rating), over the whole device, with no amplification
 * inside it; and the estimate the clause warns below. */
#define LDG_DOCTOR_WEAR_CYCLES 3000u
#define LDG_DOCTOR_WEAR_WARN_YEARS 5

struct ldg_doctor_wear {
    unsigned major, minor; /* the device holding the directory */
    char dev[64];          /* its name ("sda1", "mmcblk0p2", "dm-0") */
    char disk[64];         /* its whole disk ("sda", "mmcblk0") */
    char disk_dir[4096];   /* the disk's sysfs directory */
    char boot[40];         /* this boot's id (counts start at boot) */
    char why[512];         /* why there is no device (measure < 0) */
    uint64_t sectors;      /* written to dev since boot, all writers */
    uint64_t disk_bytes;   /* the whole disk's size, 0 if unknown */
    double uptime_s;       /* since boot */
    /* from the samples: the windows (from the newest sample at least an
     * hour, a day, before now), 0 when there is none; bytes written in
     * each; history_s: the oldest sample's age */
    uint64_t hour_s, hour_bytes, day_s, day_bytes, history_s;
    /* the device's own figures: -1 when not read */
    int emmc_life_a, emmc_life_b, emmc_pre_eol;
    int is_nvme, nvme_used;
    char nvme_why[300]; /* why nvme_used was not read */
};

/*
 * Records a sample of the sectors written to the device holding dir (the
 * kernel's count since boot) in dir/LDG_DOCTOR_WEAR_FILE, when the last
 * one of this boot and device is LDG_DOCTOR_WEAR_EVERY_S old or more
 * (else writes nothing), dropping samples older than _KEEP_S or of another
 * boot. `ledger metrics` calls it, so a box scraped every 15 s writes the
 * file once every 10 minutes. A directory the caller cannot write is left
 * alone (0). Returns 0, LDG_ENOTFOUND (no block device behind dir), LDG_EIO
 * or LDG_ENOMEM. Reads sysfs under $LEDGER_SYSFS_ROOT (default /sys).
 */
int ldg_doctor_wear_sample(const char *dir, uint64_t now_s);

/*
 * Fills *w for the device holding dir: its count now, the bytes written
 * in the last hour and day from the samples (the windows as they fall:
 * from the newest sample at least an hour or a day old), and the
 * device's own wear figure where the kernel gives it (an eMMC's life_time
 * and pre_eol_info; an NVMe's percentage used, through the admin ioctl,
 * which needs CAP_SYS_ADMIN). Returns 0, LDG_ENOTFOUND (w->why says why),
 * LDG_EINVAL or LDG_ENOMEM. Writes nothing.
 */
int ldg_doctor_wear_measure(const char *dir, uint64_t now_s,
                            struct ldg_doctor_wear *w);

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
 * storage-wear ("ok" or "warn" only) carries device, hour_bytes,
 * day_bytes (null without the history), years (null without an
 * estimate).
 * Costs a few index lookups (a binary search over the log by time) and
 * one pass over LMDB's catalogue for disk-headroom.
 */
int ldg_doctor_run(struct ldg_ledger *l, const struct ldg_doctor_opts *opts,
                   json_t **out, int *verdict);

/*
 * Sets d's "verdict" (a doctor as ldg_doctor_run or a bundle's state
 * gives it) from its packs and box clauses, and returns it as the enum:
 * with pack NULL, the active packs and every box clause; with a pack,
 * that pack's own verdict (d's packs filtered to it or not) and only the
 * box clauses that bear on every pack (the log, keys, projections and
 * disk; not the control pipeline's or another pack's runtimes), so that
 * another pack's failure never changes P's answer. d is borrowed.
 */
int ldg_doctor_verdict(json_t *d, const char *pack);

#endif
