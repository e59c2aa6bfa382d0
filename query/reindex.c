/*
 * reindex.c — ldg_query_reindex, kept for the query API: the secondary
 * indexes are the core's (ledger/index.c), and so is their rebuild; the
 * index model_at seeks in is the projections' (projections/verified.c).
 */
#include "query/query_int.h"
#include "ledger/module.h"
#include "projections/verified.h"
#include "util/util.h"

int
ldg_query_reindex(struct ldg_ledger *l)
{
    int rc = ldg_index_rebuild(l);
    return rc < 0 ? rc : ldg_projections_verified_rebuild(l);
}
