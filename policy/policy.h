/*
 * policy.h — the retention policy, DIR/retention.json: how long the
 * ledger keeps its events, its disk budget, where archives go
 * (docs/RETENTION.md). Reading it, its defaults and its errors, and
 * nothing else: the doctor reads it to give its advice and retention
 * (retention/retention.h) applies it, and reading a policy does not
 * bring in the bundle writer.
 *
 * Conventions as in ledger/ledger.h: 0 or a negative enum ldg_error, a
 * message in err naming the file and line and column, or the key.
 */
#ifndef LDG_POLICY_H
#define LDG_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

#define LDG_RETENTION_FILE "retention.json" /* in the ledger directory */
#define LDG_RETENTION_KEEP_DAYS_DEFAULT 180
#define LDG_RETENTION_KEEP_DAYS_MAX 36500
#define LDG_RETENTION_ARCHIVE_DIR_DEFAULT "archive" /* under DIR */
/* Events an archive of `prune --policy` holds at most (retention.json
 * "archive_events"): a longer stretch is archived and pruned in parts.
 * It sets the files' size, not memory: writing and checking a segment
 * hold a record and a few hashes whatever its size. */
#define LDG_RETENTION_ARCHIVE_MAX 1000000

struct ldg_retention_policy {
    uint32_t keep_days;      /* keep at least this many days; older events
                                are what `prune --policy` removes */
    uint64_t disk_budget;    /* bytes the store may use (pages in use, as
                                `ledger stats` counts them); 0 = no budget */
    char archive_dir[4096];  /* absolute: where --policy writes archives */
    uint64_t archive_events; /* events an archive holds at most
                                (LDG_RETENTION_ARCHIVE_MAX by default) */
    int from_file;           /* 1 when DIR/retention.json was read */
};

/* Reads DIR/retention.json into *p; a missing file gives the defaults
 * (keep 180 days, no budget, DIR/archive) with from_file 0. The file is
 * one JSON object: {"keep_days": N (1..36500), "disk_budget": bytes as an
 * integer or a string "N", "NK", "NM", "NG", "NT" (1024-based, an
 * optional "iB" or "B"), "archive_dir": path (relative to DIR),
 * "archive_events": 1..10,000,000}; every key optional, no other key.
 * @return 0; LDG_EBADINPUT with err naming the file, line and column or
 * the key; LDG_EIO (unreadable). */
int ldg_retention_policy_load(const char *dir, struct ldg_retention_policy *p,
                              char *err, size_t errcap);

/* Parses a byte size as the policy's disk_budget takes it ("20G").
 * @return 0; LDG_EBADINPUT. */
int ldg_retention_parse_bytes(const char *s, uint64_t *out);

#endif
