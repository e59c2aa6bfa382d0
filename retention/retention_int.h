/*
 * retention_int.h — what retention's files share (not public): the
 * archive and prune steps (retention.c) call the checks of an archive
 * against the log (check.c); a policy's runs (policy.c) call both.
 */
#ifndef LDG_RETENTION_INT_H
#define LDG_RETENTION_INT_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/module.h"
#include "retention/retention.h"

/* The horizon for "before seq v" (by_time 0) or "before the time v". */
int ret_resolve(struct ldg_ledger *l, const char *before, int by_time,
                uint64_t v, struct ldg_retention_horizon *h);

/* SHA-256 of a file. */
int ret_file_sha256(const char *path, uint8_t out[32]);

/* Bytes of the pages the ledger's databases use (the free ones aside). */
uint64_t ret_used_bytes2(struct ldg_ledger *l, uint64_t *removable);

/* The archive is a file this process can read: LDG_ENOTFOUND (missing,
 * or a directory: no input there, as for the bundle readers and ingest),
 * LDG_EIO or LDG_EBADINPUT (a device, a pipe) named on l. */
int ret_archive_readable(struct ldg_ledger *l, const char *path);

/* The archive must select exactly the events h.first..horizon-1, verify
 * with this log's key, with nothing withheld, against a checkpoint that is
 * this ledger's own of its size (at the horizon, or later when it carries
 * erasures made since). A segment is checked as one (check_segment): then
 * *note and sha256 are set; a bundle (what `ledger archive` wrote before
 * segments) leaves *note NULL. */
int ret_check_archive(struct ldg_ledger *l,
                      const struct ldg_retention_horizon *hz, const char *path,
                      char **note, uint8_t sha256[32], uint64_t *arch_first);

#endif
