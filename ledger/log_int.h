/*
 * log_int.h — the log part of ledger/: events and bodies read, the
 * compression dictionaries (read.c, dicts.c).
 */
#ifndef LDG_LOG_INT_H
#define LDG_LOG_INT_H

#include "ledger/handle_int.h"

/* dicts.c: the dictionary new records of l are compressed with (NULL:
 * none yet); the newest of t's snapshot made that one (after an open);
 * after a commit that brought the log to size events, a dictionary trained
 * and stored when one is due (never fails: what was committed stays). */
const struct ldg_cdict *ldg_ledger_cdict(struct ldg_ledger *l);
int ldg_dict_refresh(struct ldg_ledger *l, struct ldg_txn *t);
void ldg_dict_after_commit(struct ldg_ledger *l, uint64_t size);
/* Trains dictionary id on the last events of a log of size events, stores
 * it and makes new records use it (or the one another writer stored
 * first): 0, LDG_ENOTFOUND (too little to learn from), or an error. */
int ldg_dict_make(struct ldg_ledger *l, unsigned id, uint64_t size);

/* read.c: the stored body record of seq (borrowed, valid until the
 * transaction ends); LDG_EERASED if the entry is there but its body was
 * erased. */
int ldg_body_raw(struct ldg_txn *t, uint64_t seq, struct ldg_val *v);

#endif
