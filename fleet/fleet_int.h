/*
 * fleet_int.h — helpers shared by the files of fleet/, not public.
 */
#ifndef LDG_FLEET_INT_H
#define LDG_FLEET_INT_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/module.h"
#include "util/util.h"

/* 1 if name is a valid signed-note key name (a witness name). */
int ldg_fleet_name_ok(const char *name);
/* Writes len bytes to dir/rel atomically and durably: a temporary file in
 * the same directory, fsync, rename, fsync of the directory. Parent
 * directories of rel must exist. err (may be NULL) gets a message. */
int ldg_fleet_write_file(const char *dir, const char *rel, const void *data,
                         size_t len, unsigned mode, char *err, size_t errcap);
/* Writes dir/rel (creating its parent directories) through a temporary
 * name and a rename, without fsync: for many files made durable together
 * (syncfs) before the one that points at them. */
int ldg_fleet_put_file(const char *dir, const char *rel, const void *data,
                       size_t len, char *err, size_t errcap);
/* Creates the parent directories of path (0755). */
int ldg_fleet_mkdirs_for(const char *path);
/* Makes what was put to r durable before a watermark says it was: a
 * directory's file system is synced (syncfs; its files are written
 * without a flush each); an HTTP or S3 target's answers were its acks.
 * 0; LDG_EIO with err. */
int ldg_remote_settle(struct ldg_remote *r, char *err, size_t errcap);
/* Reads a whole file (at most max bytes, else LDG_ETOOBIG) into *out,
 * malloc'd and NUL-terminated; LDG_ENOTFOUND if it does not exist. */
int ldg_fleet_read_file(const char *path, size_t max, char **out, size_t *len);
/* Length of a signed note's text (ldg_note_text_len), for a note that
 * ends in '\n' and has a signature line after its text; LDG_EBADINPUT
 * otherwise. */
int ldg_fleet_note_text_len(const char *note, size_t len, size_t *text_len);

struct ldg_ledger;
/* LEDGER_DIR/fleet/<what>-<16 hex of SHA-256(url)>, created 0700. */
int ldg_fleet_state_dir(struct ldg_ledger *l, const char *what, const char *url,
                        char *out, size_t cap);
/* A decimal number kept in dir/name (0 if the file is missing). */
uint64_t ldg_fleet_read_u64(const char *dir, const char *name);
int ldg_fleet_write_u64(const char *dir, const char *name, uint64_t v);

/* ClickHouse over HTTP (fleet/central.c). */
struct ldg_buf;
struct ldg_http_client;
struct ldg_http_response;
/* Appends a ClickHouse string literal of s: quoted, quote and backslash
 * escaped. */
void ldg_ch_sql_string(struct ldg_buf *b, const char *s);
/* 1 if t may be a table name (1-64 of [A-Za-z0-9_], not starting with a
 * digit): it is written into queries as it is. */
int ldg_ch_table_ok(const char *t);
/* POSTs query (URL-encoded into base's query string) with body (may be
 * NULL) as its data; resp as ldg_http_request's (the caller releases it).
 * LDG_EHTTP with ClickHouse's first line of complaint in err. */
int ldg_ch_query(struct ldg_http_client *c, const char *base, const char *query,
                 const char *body, size_t len, struct ldg_http_response *resp,
                 char *err, size_t errcap);

struct ldg_audit_report;
/* Audits rows (ClickHouse's JSONEachRow answer: one object a line, seq
 * ascending) as the whole central table for the origin of the verified
 * mirror state directory mirror, without a server: what
 * ldg_audit_central does with each page it fetches (fleet/audit.c; for
 * the fuzz target and tests). 0, LDG_ETAMPER with findings, or an error. */
int ldg_audit_rows(const char *mirror, const char *rows, size_t len,
                   void (*finding)(void *ctx, const char *line), void *ctx,
                   struct ldg_audit_report *rep, char *err, size_t errcap);
/* The rows `ledger ship` sends for events [lo, hi) of t's log, as
 * JSONEachRow text (*out malloc'd, NUL-terminated). */
struct ldg_txn;
int ldg_ship_rows(struct ldg_txn *t, const char *origin, uint64_t lo,
                  uint64_t hi, char **out, size_t *len, char *err,
                  size_t errcap);

#endif
