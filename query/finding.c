/*
 * finding.c — a standing verification finding, marked on its event the
 * same way in every view (query.h, ldg_query_finding).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query/query_int.h"
#include "util/util.h"

int
ldg_query_finding(struct ldg_ledger *l, struct ldg_query_finding *f)
{
    struct ldg_verify_state st;

    if (l == NULL || f == NULL || ldg_verify_state(l, &st) < 0 || !st.finding)
        return 0;
    f->seq = st.finding_seq;
    f->found_ts_ns = st.finding_ts_ns;
    snprintf(f->what, sizeof f->what, "%s", st.finding_what);
    return 1;
}

/* One event object: marked when it is f's. */
static size_t
mark_one(const struct ldg_query_finding *f, json_t *e)
{
    const char *s = json_string_value(json_object_get(e, "seq"));
    char sq[24];

    snprintf(sq, sizeof sq, "%llu", (unsigned long long)f->seq);
    if (s == NULL || strcmp(s, sq) != 0)
        return 0;
    json_object_set_new(e, "verify", json_sprintf(Q_FINDING_MARK, f->what));
    return 1;
}

size_t
ldg_query_finding_mark(const struct ldg_query_finding *f, json_t *v)
{
    json_t *evs, *e;
    size_t i, n = 0;

    if (f == NULL || !json_is_object(v))
        return 0;
    evs = json_object_get(v, "events");
    if (!json_is_array(evs))
        return mark_one(f, v);
    json_array_foreach(evs, i, e) n += mark_one(f, e);
    return n;
}
