/*
 * scan.c — ldg_log_scan: every event of a range with its body, in seq
 * order, for folds over the whole log (the projections' rebuild), and
 * with fns->types, only the events of some types, listed by the type
 * index and read by seq (a fold that reads only those).
 *
 * Two cursors walk "entries" and "bodies" side by side (both keyed by
 * seq_be64, FORMAT.md section 4); an event without a body record was
 * erased. Each entry is decoded by the codec's trusted decoder (the one
 * decoder of the display paths, so every envelope field, of any format
 * version, comes through the same way), each wanted body is split into a
 * view in place (codec_view.c), and a body the view cannot read is
 * decoded strictly instead (scan_one, for both scans).
 */
#include <stdlib.h>
#include <string.h>

#include "ledger/index_int.h"

/* events between dropped mappings: an archive's fold of the state at
 * its horizon peaked at 89 MiB a million events every 65,536, 51 MiB
 * every 16,384 (the pages of 16,384 events are about 13 MB) */
#define SCAN_RELEASE_EVERY 16384
/* events read by seq between dropped mappings: each may be on pages of
 * its own (at 1M events, 2,048 of them kept 107 MB resident, 256 20 MB,
 * at no measurable cost) */
#define TYPES_RELEASE_EVERY 256

/* Hands fns->event ev with its body record rec (NULL: erased): a view
 * with no fields when want_body says 0, else read in place, else decoded
 * strictly. fns->event's return, or a negative ldg_error (named). */
static int
scan_one(struct ldg_ledger *l, const struct ldg_dicts *d,
         struct ldg_body_view *b, const struct ldg_scan_fns *fns,
         struct ldg_scan_stats *st, const struct ldg_event *ev,
         const uint8_t *rec, size_t len)
{
    json_t *slow_body = NULL;
    int rc;

    if (rec == NULL) {
        ldg_body_view_set_json(b, NULL);
        st->erased++;
    } else if (fns->want_body != NULL && !fns->want_body(fns->ctx, ev)) {
        ldg_body_view_set_none(b);
    } else if (ldg_body_view_from_record(b, rec, len) == 0) {
        st->fast_bodies++;
    } else {
        rc = ldg_body_decode_json(d, rec, len, l->opts.body_max_bytes,
                                  &slow_body);
        if (rc < 0) {
            ldg_seterr(l, "event %llu: body: %s (run " LDG_CMD_VERIFY ")",
                       (unsigned long long)ev->seq, ldg_strerror(rc));
            return rc;
        }
        ldg_body_view_set_json(b, slow_body);
        st->slow_bodies++;
    }
    rc = fns->event(fns->ctx, ev, b);
    json_decref(slow_body);
    st->events += rc >= 0;
    return rc;
}

static int
cmp_seq(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* ldg_log_scan with fns->types, for [from, to) past the horizon. */
static int
scan_types(struct ldg_txn *t, uint64_t from, uint64_t to,
           const struct ldg_scan_fns *fns, struct ldg_scan_stats *st,
           struct ldg_body_view *b)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    struct ldg_reader *r = NULL;
    uint64_t *seqs = NULL;
    size_t n = 0, i;
    int rc = 0;

    for (i = 0; rc == 0 && fns->types[i] != NULL; i++)
        rc = ldg_type_seqs(t, fns->types[i], from, to - 1, &seqs, &n);
    if (rc == 0 && n > 1)
        qsort(seqs, n, sizeof *seqs, cmp_seq);
    if (rc < 0 || (rc = ldg_reader_new(&r, t)) < 0)
        goto out;
    ldg_reader_want_leaf(r, 0);
    for (i = 0; i < n; i++) {
        struct ldg_event ev;
        const uint8_t *rec = NULL;
        size_t len = 0;

        /* the resident size of a walk over the whole log stays small */
        if (i > 0 && i % TYPES_RELEASE_EVERY == 0)
            ldg_access_hint(l, LDG_ACCESS_RELEASE);
        if ((rc = ldg_reader_event(r, seqs[i], &ev)) == 0 &&
            (rc = ldg_reader_body(r, seqs[i], &rec, &len)) == LDG_EERASED) {
            rec = NULL;
            rc = 0;
        }
        if (rc == LDG_ENOTFOUND) /* listed by the index, not in the log */
            rc = LDG_ECORRUPT;
        if (rc < 0) {
            ldg_seterr(l, "event %llu: %s (run " LDG_CMD_VERIFY ")",
                       (unsigned long long)seqs[i], ldg_strerror(rc));
            goto out;
        }
        if ((rc = scan_one(l, ldg_txn_dicts(t), b, fns, st, &ev, rec, len)) !=
            0) {
            rc = rc < 0 ? rc : 0; /* > 0: stop here, not an error */
            goto out;
        }
        if (fns->progress != NULL && ((i + 1) & 0xffff) == 0)
            fns->progress(fns->progress_ctx, i + 1, n);
    }
    if (fns->progress != NULL)
        fns->progress(fns->progress_ctx, n, n);
out:
    ldg_reader_free(r);
    free(seqs);
    return rc;
}

int
ldg_log_scan(struct ldg_txn *t, uint64_t from, uint64_t to,
             const struct ldg_scan_fns *fns, struct ldg_scan_stats *st)
{
    struct ldg_ledger *l;
    struct ldg_cursor *ce = NULL, *cb = NULL;
    struct ldg_val k, v, bk, bv = {NULL, 0};
    struct ldg_body_view *b = NULL;
    const struct ldg_dicts *d;
    struct ldg_event ev;
    struct ldg_scan_stats dummy;
    uint8_t key[8];
    int rc, bodies_left = 1;
    uint64_t seq, body_seq = UINT64_MAX;

    if (t == NULL || fns == NULL || fns->event == NULL)
        return LDG_EINVAL;
    if (st == NULL)
        st = &dummy;
    memset(st, 0, sizeof *st);
    /* a pruned ledger: the events before its horizon are gone */
    if (from < to && from < (seq = ldg_txn_horizon(t)))
        from = seq;
    if (from >= to)
        return 0;
    l = ldg_txn_ledger(t);
    if ((d = ldg_txn_dicts(t)) == NULL)
        return LDG_ECORRUPT;
    if ((rc = ldg_body_view_new(&b)) < 0)
        return rc;
    ldg_body_view_set_dicts(b, d, l->opts.body_max_bytes);
    if (fns->types != NULL) {
        rc = scan_types(t, from, to, fns, st, b);
        goto out;
    }
    if ((rc = ldg_cursor_open(t, ldg_core(l, ldg_db_entries(t)), &ce)) < 0 ||
        (rc = ldg_cursor_open(t, ldg_core(l, ldg_db_bodies(t)), &cb)) < 0)
        goto out;
    ldg_be64(key, from);
    rc = ldg_cursor_get(ce, LDG_SET_RANGE, key, 8, &k, &v);
    if (rc == 0) {
        int brc = ldg_cursor_get(cb, LDG_SET_RANGE, key, 8, &bk, &bv);
        if (brc == LDG_ENOTFOUND) {
            bodies_left = 0;
        } else if (brc < 0) {
            rc = brc;
            goto out;
        } else if (bk.len == 8) {
            body_seq = ldg_rd_be64(bk.data);
        }
    }
    for (seq = from; seq < to; seq++) {
        /* Keep the resident size of a whole-log scan down. */
        if (seq > from && (seq - from) % SCAN_RELEASE_EVERY == 0)
            ldg_access_hint(l, LDG_ACCESS_RELEASE);
        if (rc == LDG_ENOTFOUND ||
            (rc == 0 && (k.len != 8 || ldg_rd_be64(k.data) != seq))) {
            ldg_seterr(l, "event %llu is missing from the log",
                       (unsigned long long)seq);
            rc = LDG_ECORRUPT;
            goto out;
        }
        if (rc < 0)
            goto out;
        rc = ldg_entry_decode_rec(v.data, v.len, NULL, &ev,
                                  LDG_DECODE_TRUSTED | LDG_DECODE_NO_DIGEST);
        if (rc == 0 && ev.seq != seq)
            rc = LDG_ECORRUPT;
        if (rc < 0) {
            ldg_seterr(l, "event %llu: %s (run " LDG_CMD_VERIFY ")",
                       (unsigned long long)seq, ldg_strerror(rc));
            goto out;
        }
        while (bodies_left && body_seq < seq) {
            int brc = ldg_cursor_get(cb, LDG_NEXT, NULL, 0, &bk, &bv);
            if (brc == LDG_ENOTFOUND) {
                bodies_left = 0;
            } else if (brc < 0) {
                rc = brc;
                goto out;
            } else {
                body_seq = bk.len == 8 ? ldg_rd_be64(bk.data) : UINT64_MAX;
            }
        }
        /* the bodies' cursor never lags the entries' */
        LDG_ASSERT(!bodies_left || body_seq >= seq);
        rc = scan_one(l, d, b, fns, st, &ev,
                      bodies_left && body_seq == seq ? bv.data : NULL, bv.len);
        if (rc != 0) { /* > 0: stop here, not an error */
            rc = rc < 0 ? rc : 0;
            goto out;
        }
        if (fns->progress != NULL && (seq & 0xffff) == 0)
            fns->progress(fns->progress_ctx, seq - from, to - from);
        rc = ldg_cursor_get(ce, LDG_NEXT, NULL, 0, &k, &v);
        if (rc < 0 && rc != LDG_ENOTFOUND)
            goto out;
    }
    if (fns->progress != NULL)
        fns->progress(fns->progress_ctx, to - from, to - from);
    rc = 0;
out:
    ldg_cursor_close(ce);
    ldg_cursor_close(cb);
    ldg_body_view_free(b);
    return rc;
}
