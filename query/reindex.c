/*
 * reindex.c — ldg_query_reindex, kept for the query API: the secondary
 * indexes are the core's (ledger/index.c), and so is their rebuild.
 */
#include "query/query_int.h"
#include "ledger/module.h"
#include "util/util.h"

int
ldg_query_reindex(struct ldg_ledger *l)
{
    return ldg_index_rebuild(l);
}
