/*
 * timeline_pruned.c — a timeline on a pruned ledger: who signed each
 * event (null before the horizon), the archives that hold what a prune
 * removed, and a run whose start is before the horizon.
 */
#include <stdlib.h>
#include <string.h>

#include "projections/projections.h"
#include "query/query_int.h"
#include "query/timeline_int.h"

int
tl_add_signers(struct ldg_txn *t, json_t *arr)
{
    struct ldg_horizon h;
    uint64_t hz = 0;
    size_t i;
    json_t *e;
    int rc;

    if (ldg_horizon_get(t, &h) == 0) {
        hz = h.seq;
        ldg_horizon_release(&h);
    }
    json_array_foreach(arr, i, e)
    {
        const char *s = json_string_value(json_object_get(e, "seq"));
        json_t *sg;
        if (s == NULL)
            continue;
        if (strtoull(s, NULL, 10) < hz) {
            json_object_set_new(e, "signer", json_null());
            continue;
        }
        if ((rc = ldg_signer_json(t, strtoull(s, NULL, 10), &sg)) < 0)
            return ldg_as_damage(rc);
        json_object_set_new(e, "signer", sg);
        if (json_object_get(e, "clock") == NULL) {
            /* a permission in force: its event's source beside the signer
             * (the run's own events have theirs already) */
            struct ldg_event ev;
            json_t *src;
            if ((rc = ldg_event_get(t, strtoull(s, NULL, 10), &ev)) < 0)
                return ldg_as_damage(rc);
            if ((src = ldg_event_source_json(&ev)) != NULL)
                json_object_set_new(e, "source", src);
        }
    }
    return 0;
}

struct pa {
    struct ldg_txn *t;
    uint64_t from, to;
    json_t *a;
};

static int
pa_one(void *ctx, uint64_t seq)
{
    struct pa *x = ctx;
    json_t *b = NULL;
    json_int_t f, h;
    const char *sha;

    if (ldg_body_get(x->t, seq, &b) < 0)
        return 0;
    f = json_integer_value(json_object_get(b, "first"));
    h = json_integer_value(json_object_get(b, "horizon"));
    sha = json_string_value(json_object_get(b, "archive_sha256"));
    if (sha != NULL && f >= 0 && h > f && (uint64_t)h > x->from &&
        (uint64_t)f < x->to &&
        json_array_append_new(
            x->a, json_pack("{s:o, s:o, s:s, s:O?, s:o}", "first",
                            ldg_json_u64((uint64_t)f), "horizon",
                            ldg_json_u64((uint64_t)h), "archive_sha256", sha,
                            "archive", json_object_get(b, "archive"), "seq",
                            ldg_json_u64(seq))) < 0) {
        json_decref(b);
        return LDG_ENOMEM;
    }
    json_decref(b);
    return 0;
}

static uint64_t
a_u64(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s != NULL ? strtoull(s, NULL, 10) : 0;
}

int
ldg_query_pruned_archives(struct ldg_txn *t, uint64_t from, uint64_t to,
                          json_t **out, int *whole)
{
    struct pa x = {t, from, to, json_array()};
    uint64_t at = from;
    size_t i;
    json_t *e;
    int rc;

    *out = NULL;
    *whole = 0;
    if (x.a == NULL)
        return LDG_ENOMEM;
    /* (oldest first: seq order; a prune continued after a crash names
     * the same archive twice, the later covering more: the later stays) */
    rc = ldg_index_walk(t, LDG_INDEX_TYPE, LDG_EV_LEDGER_PRUNED, 0, UINT64_MAX,
                        0, pa_one, &x);
    if (rc < 0 && rc != LDG_ENOTFOUND) {
        json_decref(x.a);
        return rc;
    }
    for (i = 0; i + 1 < json_array_size(x.a);) {
        json_t *p = json_array_get(x.a, i), *n = json_array_get(x.a, i + 1);
        if (json_equal(json_object_get(p, "archive_sha256"),
                       json_object_get(n, "archive_sha256")))
            json_array_remove(x.a, i);
        else
            i++;
    }
    *whole = 1;
    json_array_foreach(x.a, i, e)
    {
        if (a_u64(e, "first") > at)
            *whole = 0;
        if (a_u64(e, "horizon") > at)
            at = a_u64(e, "horizon");
    }
    if (at < to)
        *whole = 0;
    *out = x.a;
    return 0;
}

void
ldg_query_pruned_archives_text(const json_t *archives, int whole, char *buf,
                               size_t cap)
{
    struct ldg_buf b;
    size_t i, n = json_array_size(archives);
    json_t *e;

    memset(&b, 0, sizeof b);
    ldg_buf_puts(&b, n > 1 ? "the archives " : "the archive ");
    json_array_foreach(archives, i, e)
    {
        const char *name = json_string_value(json_object_get(e, "archive"));
        if (i > 0)
            ldg_buf_puts(&b, i + 1 == n && whole ? " and " : ", ");
        ldg_buf_printf(&b, "%s (events %llu..%llu, SHA-256 %s)",
                       name != NULL ? name : "with no name recorded",
                       (unsigned long long)a_u64(e, "first"),
                       (unsigned long long)(a_u64(e, "horizon") - 1),
                       json_string_value(json_object_get(e, "archive_sha256")));
    }
    if (!whole)
        ldg_buf_puts(&b, n > 0 ? " and earlier ones" : "earlier archives");
    snprintf(buf, cap, "%s", b.err || b.s == NULL ? "" : b.s);
    ldg_buf_release(&b);
}

int
tl_pruned_start(struct tl *tl, json_t **cut)
{
    struct ldg_ledger *l = ldg_txn_ledger(tl->t);
    struct ldg_horizon h;
    struct ldg_view_opts vo;
    json_t *rows = NULL, *row;
    uint64_t hz, started;
    char hex[65];
    int rc;

    *cut = NULL;
    if (ldg_horizon_get(tl->t, &h) != 0)
        return 0;
    hz = h.seq;
    ldg_hex(hex, h.archive, 32);
    ldg_horizon_release(&h);
    memset(&vo, 0, sizeof vo);
    vo.filter = tl->run;
    rc = ldg_projections_view(l, LDG_VIEW_RUNS, &vo, &rows);
    if (rc == LDG_ENOTFOUND) {
        ldg_set_errmsg(l, "%s", "");
        return 0;
    }
    if (rc < 0)
        return rc;
    row = json_array_get(rows, 0);
    started =
        json_is_string(json_object_get(row, "started_seq"))
            ? strtoull(json_string_value(json_object_get(row, "started_seq")),
                       NULL, 10)
            : UINT64_MAX;
    if (started < hz) {
        const char *when = json_string_value(json_object_get(row, "start"));
        uint64_t ns = 0;
        if (tl->pack[0] == '\0' && json_is_string(json_object_get(row, "pack")))
            snprintf(tl->pack, sizeof tl->pack, "%s",
                     json_string_value(json_object_get(row, "pack")));
        *cut = json_pack("{s:{s:O, s:O?, s:b}, s:{s:o, s:s}, s:I}", "start",
                         "seq", json_object_get(row, "started_seq"), "time",
                         json_object_get(row, "start"), "pruned", 1, "horizon",
                         "seq", ldg_json_u64(hz), "archive_sha256", hex, "at",
                         (json_int_t)hz);
        /* its time, on the ledger's clock as the runs projection kept it:
         * the offsets count from it, as for a start that is kept */
        if (*cut != NULL && when != NULL &&
            ldg_time_parse_rfc3339(when, strlen(when), 0, &ns) == 0) {
            json_t *st = json_object_get(*cut, "start");
            json_object_set_new(st, "recorded_ts", ldg_json_u64(ns));
            json_object_set_new(st, "recorded_time", json_string(when));
            tl->start_ts = ns;
        }
        /* every archive its pruned events went into, not only the last
         * prune's (a run can span several) */
        if (*cut != NULL) {
            json_t *arch = NULL;
            int whole = 0;
            if ((rc = ldg_query_pruned_archives(tl->t, started, hz, &arch,
                                                &whole)) == 0) {
                json_object_set_new(*cut, "archives", arch);
                json_object_set_new(*cut, "archives_whole",
                                    json_boolean(whole));
            }
        }
        if (*cut == NULL)
            rc = LDG_ENOMEM;
    }
    json_decref(rows);
    return rc < 0 ? rc : 0;
}
