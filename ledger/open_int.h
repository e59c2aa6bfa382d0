/*
 * open_int.h — the open part of ledger/: a ledger opened (open.c).
 */
#ifndef LDG_OPEN_INT_H
#define LDG_OPEN_INT_H

#include "ledger/handle_int.h"

/* open.c: a handle on dir's store (create: a new one, ldg_init's), its
 * meta read; err says why not */
int ldg_open_handle(struct ldg_ledger **out, const char *dir,
                    const struct ldg_options *opts, int create, char *err,
                    size_t errcap);

#endif
