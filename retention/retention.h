/*
 * retention.h — keeping a ledger for a stated time: archive the old
 * events into an evidence bundle, prune them from the ledger, and keep
 * proving everything (docs/RETENTION.md).
 *
 *   archive   every event before a horizon, written as an evidence bundle
 *             (export/export.h) proven against the checkpoint at the
 *             horizon, with the projected state there
 *   prune     removes the entries, bodies, seals and index keys of the
 *             events before the horizon, only after checking that a file
 *             is exactly their archive; keeps every tree hash, checkpoint
 *             and key, a horizon record signed by the log key, and the
 *             projections' records at the horizon (so rebuild starts
 *             there); appends a `ledger.pruned` event in the same commit
 *   policy    DIR/retention.json: keep at least N days (default 180), a
 *             disk budget, where archives go
 *
 * A horizon is a number of events H: events 0..H-1 are before it. It is
 * always the size of a stored checkpoint (a commit boundary, so no seal
 * spans it); a requested horizon is rounded down to one.
 *
 * Conventions as in ledger/ledger.h: 0 or a negative enum ldg_error, a
 * message in ldg_errmsg(l) (or err for the policy), nothing borrowed past
 * a call unless said.
 */
#ifndef LDG_RETENTION_H
#define LDG_RETENTION_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/ledger.h"

/* ------------------------------------------------------------- policy -- */

#define LDG_RETENTION_FILE "retention.json" /* in the ledger directory */
#define LDG_RETENTION_KEEP_DAYS_DEFAULT 180
#define LDG_RETENTION_KEEP_DAYS_MAX 36500
#define LDG_RETENTION_ARCHIVE_DIR_DEFAULT "archive" /* under DIR */

struct ldg_retention_policy {
    uint32_t keep_days;  /* keep at least this many days; older events
                            are what `prune --policy` removes */
    uint64_t disk_budget; /* bytes the store may use (pages in use, as
                             `ledger stats` counts them); 0 = no budget */
    char archive_dir[4096]; /* absolute: where --policy writes archives */
    int from_file;          /* 1 when DIR/retention.json was read */
};

/* Reads DIR/retention.json into *p; a missing file gives the defaults
 * (keep 180 days, no budget, DIR/archive) with from_file 0. The file is
 * one JSON object: {"keep_days": N (1..36500), "disk_budget": bytes as an
 * integer or a string "N", "NK", "NM", "NG", "NT" (1024-based, an
 * optional "iB" or "B"), "archive_dir": path (relative to DIR)}; every
 * key optional, no other key.
 * @return 0; LDG_EBADINPUT with err naming the file, line and column or
 * the key; LDG_EIO (unreadable). */
int ldg_retention_policy_load(const char *dir, struct ldg_retention_policy *p,
                              char *err, size_t errcap);

/* Parses a byte size as the policy's disk_budget takes it ("20G").
 * @return 0; LDG_EBADINPUT. */
int ldg_retention_parse_bytes(const char *s, uint64_t *out);

#endif
