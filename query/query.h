/*
 * query.h — journalctl-style matching over the ledger.
 *
 * A query is a list of terms FIELD=VALUE: different fields AND, the same
 * field repeated ORs, and a lone "+" starts a new OR group (the query
 * matches when any group matches). Fields: type (glob), subject, run,
 * actor, pack, model, route, seq (N or A..B) and body.NAME. An optional
 * time window [since, until] uses systemd.time(7) or RFC 3339 syntax.
 *
 * The iterator streams: it uses the secondary indexes (idx.run,
 * idx.subject, idx.type, idx.actor, idx.time) to pick the smallest
 * candidate set and holds O(1) memory per index range, whatever the size
 * of the result. See docs/QUERY.md.
 */
#ifndef LDG_QUERY_H
#define LDG_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/ledger.h"

struct ldg_query;

/* Compiles journalctl-style terms (FIELD=VALUE and "+"), and optional
 * since/until specs (systemd.time or RFC 3339; NULL = none). On a bad term
 * or time, LDG_EBADINPUT with a message in err. */
int ldg_query_compile(struct ldg_query **out, int nterms, char *const *terms,
                      const char *since, const char *until, char *err,
                      size_t errcap);
void ldg_query_free(struct ldg_query *q);

struct ldg_query_iter;

enum ldg_query_flags { LDG_QUERY_REVERSE = 1 };

/* Iterates matching events in seq order (reverse with the flag) within t's
 * snapshot. The iterator borrows q and t. */
int ldg_query_iter_new(struct ldg_query_iter **out, const struct ldg_query *q,
                       struct ldg_txn *t, unsigned flags);
/* 0 with *ev filled (ev->entry valid until t ends), LDG_ENOTFOUND at the
 * end, other codes on error. */
int ldg_query_iter_next(struct ldg_query_iter *it, struct ldg_event *ev);
void ldg_query_iter_free(struct ldg_query_iter *it);

#endif
