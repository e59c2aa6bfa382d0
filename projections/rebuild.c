/*
 * rebuild.c — the projections rebuilt from the log (engine.c's "Rebuild").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "projections/proj_int.h"
#include "projections/engine_int.h"

/* ------------------------------------------------------------ rebuild -- */

int
eng_stored_digest(struct ldg_txn *t, enum proj_id p, struct pdigest *d)
{
    struct ldg_cursor *c = NULL;
    struct ldg_val k, v;
    ldg_dbi dbi;
    int rc;
    memset(d, 0, sizeof *d);
    rc = ldg_db_open(t, proj_defs[p].db, 0, &dbi);
    if (rc == LDG_ENOTFOUND)
        return 0;
    if (rc < 0 || (rc = ldg_cursor_open(t, dbi, &c)) < 0)
        return rc;
    rc = ldg_cursor_get(c, LDG_FIRST, NULL, 0, &k, &v);
    while (rc == 0) {
        uint8_t h[32];
        record_hash(h, k.data, k.len, v.data, v.len);
        pdigest_add(d, h);
        rc = ldg_cursor_get(c, LDG_NEXT, NULL, 0, &k, &v);
    }
    ldg_cursor_close(c);
    return rc == LDG_ENOTFOUND ? 0 : rc;
}

/* Digest line of projection name in a note text, or NULL. */
static const char *
note_line(const char *note, const char *name)
{
    size_t n = strlen(name);
    const char *p = note;
    while (p && *p) {
        if (strncmp(p, name, n) == 0 && p[n] == ' ')
            return p + n + 1;
        p = strchr(p, '\n');
        if (p)
            p++;
        if (p && *p == '\n')
            break; /* end of the text, signatures follow */
    }
    return NULL;
}

/* "matches" / "differs" / "none": the digest of p at size against the
 * signed note stored for size; with none stored before, whether one was
 * signed now (signed: 0 when this process has no log key). */
static const char *
note_compare(const char *note, int signed_now, enum proj_id p, uint32_t version,
             const uint8_t dg[32])
{
    char want[128], hex[65];
    const char *line;
    if (note == NULL)
        return signed_now ? "none before (signed now)"
                          : "none (no log key here to sign one)";
    line = note_line(note, proj_defs[p].name);
    if (line == NULL)
        return "none";
    ldg_hex(hex, dg, 32);
    snprintf(want, sizeof want, "%u %s\n", version, hex);
    return strncmp(line, want, strlen(want)) == 0 ? "matches" : "differs";
}

#define REBUILD_READAHEAD_MIN 65536 /* events */

/* Store layout 9: stored projections current with the store's own
 * events, the intake's tail not applied yet, are what every read sees
 * once the tail is folded over them: that is the state before a rebuild
 * (else a rebuild after any one-shot append would report a change that
 * is only the tail). before[] and scanned[] get the folded digests and
 * size; left as they are otherwise. */
static int
before_with_tail(struct ldg_ledger *l, struct ldg_txn *t, uint64_t size,
                 struct pmeta before[P_COUNT], struct pdigest scanned[P_COUNT])
{
    uint64_t tail = ldg_txn_tail(t);
    struct pdigest d[P_COUNT];
    struct pstate *ps = NULL;
    int rc;

    if (tail == 0 || tail > size)
        return 0;
    for (int p = 0; p < P_COUNT; p++)
        if (!before[p].present || before[p].version != proj_defs[p].version ||
            before[p].applied != size - tail)
            return 0;
    /* the store's records, and the tail's changes to them in memory */
    for (int p = 0; p < P_COUNT; p++)
        if ((rc = eng_stored_digest(t, (enum proj_id)p, &d[p])) < 0)
            return rc;
    if ((rc = ps_new(&ps, l, t, 0, P_ALL)) < 0)
        return rc;
    rc = eng_fold_range(ps, t, size - tail, size, NULL, NULL);
    if (rc == 0)
        rc = ps_digest_over(ps, d);
    ps_free(ps);
    if (rc < 0)
        return rc;
    for (int p = 0; p < P_COUNT; p++) {
        before[p].dig = d[p];
        before[p].applied = size;
        scanned[p] = d[p];
    }
    return 0;
}

int
ldg_projections_rebuild(struct ldg_ledger *l, unsigned mask,
                        ldg_projections_progress_fn fn, void *ctx,
                        json_t **report)
{
    struct ldg_txn *t = NULL;
    struct pstate *ps = NULL;
    struct pmeta before[P_COUNT];
    struct pdigest scanned[P_COUNT];
    uint64_t size0, size1;
    char *note = NULL;
    json_t *rep = NULL;
    int rc, changed, signed_now = 0;

    if (l == NULL || (mask & ~P_ALL) != 0)
        return LDG_EINVAL;
    if (mask == 0)
        mask = P_ALL;
    if (report != NULL)
        *report = NULL;
    /* 1. Fold the log into memory under a read transaction. */
    if ((rc = ldg_txn_begin(l, LDG_TXN_READ, &t)) < 0)
        return rc;
    if ((rc = ldg_txn_size(t, &size0)) < 0)
        goto fail;
    for (int p = 0; p < P_COUNT; p++) {
        if ((rc = meta_read(t, (enum proj_id)p, &before[p])) < 0)
            goto fail;
        if ((mask & (1u << p)) &&
            (rc = eng_stored_digest(t, (enum proj_id)p, &scanned[p])) < 0)
            goto fail;
    }
    if ((rc = before_with_tail(l, t, size0, before, scanned)) < 0)
        goto fail;
    if ((rc = ps_new(&ps, l, NULL, 0, mask)) < 0)
        goto fail;
    /* A whole-log scan: kernel readahead on the map, as query's big scans
     * do (the store is opened for random access). */
    if (size0 >= REBUILD_READAHEAD_MIN)
        ldg_access_hint(l, LDG_ACCESS_SEQUENTIAL);
    rc = eng_fold_range(ps, t, 0, size0, fn, ctx);
    if (size0 >= REBUILD_READAHEAD_MIN)
        ldg_access_hint(l, LDG_ACCESS_RANDOM);
    if (rc < 0)
        goto fail;
    ldg_txn_abort(t);
    t = NULL;
    /* 2. One write transaction: what was appended meanwhile, the others
     * brought current, the swap. */
    if ((rc = ldg_txn_begin(l, LDG_TXN_WRITE, &t)) < 0) {
        ldg_set_errmsg(l, "rebuild: cannot open a write transaction: %s",
                       ldg_strerror(rc));
        goto fail;
    }
    if ((rc = ldg_txn_size(t, &size1)) < 0)
        goto fail;
    if ((rc = eng_fold_range(ps, t, size0, size1, NULL, NULL)) < 0)
        goto fail;
    if ((rc = eng_bring_current(t, size1, mask, NULL, NULL, &changed)) < 0)
        goto fail;
    for (int p = 0; p < P_COUNT; p++)
        if ((mask & (1u << p)) &&
            (rc = eng_write_out(ps, t, (enum proj_id)p, size1)) < 0)
            goto fail;
    /* model_at's index of verifications goes with the models */
    if ((mask & (1u << P_MODELS)) && (rc = verified_refill(t, size1)) < 0)
        goto fail;
    /* The note signed at this size before the rebuild, if any: the new
     * state is compared with it (an upgrade that reproduces the state
     * shows "matches"). */
    rc = eng_note_get(t, size1, &note);
    if (rc < 0 && rc != LDG_ENOTFOUND)
        goto fail;
    if ((rc = eng_finish_size(t, size1)) < 0)
        goto fail;
    if (note == NULL) { /* signed now, or no key to sign with */
        char *now = NULL;
        if ((rc = eng_note_get(t, size1, &now)) < 0 && rc != LDG_ENOTFOUND)
            goto fail;
        signed_now = now != NULL;
        free(now);
    }
    rep = json_array();
    for (int p = 0; p < P_COUNT; p++) {
        struct pmeta after;
        uint8_t b[32], a[32], m[32];
        if (!(mask & (1u << p)))
            continue;
        if ((rc = meta_read(t, (enum proj_id)p, &after)) < 0)
            goto fail;
        pdigest_final(a, (enum proj_id)p, &after.dig);
        pdigest_final(b, (enum proj_id)p, &scanned[p]);
        pdigest_final(m, (enum proj_id)p, &before[p].dig);
        /* before: the records as they were stored; changed: they, their
         * meta or their version differ from the rebuilt state (a rebuild
         * that only caught up on new events is a change too). */
        json_array_append_new(
            rep, json_pack(
                     "{s:s, s:I, s:o, s:o, s:b, s:s}", "name",
                     proj_defs[p].name, "events", (json_int_t)size1, "before",
                     before[p].present ? ldg_json_hex(b, 32) : json_null(),
                     "after", ldg_json_hex(a, 32), "changed",
                     !before[p].present || before[p].version != after.version ||
                         memcmp(a, b, 32) != 0 || memcmp(a, m, 32) != 0 ||
                         before[p].applied != size1,
                     "note",
                     note_compare(note, signed_now, (enum proj_id)p,
                                  after.version, a)));
    }
    rc = ldg_txn_commit(t);
    t = NULL;
    if (rc < 0) {
        ldg_set_errmsg(l, "rebuild: commit failed: %s", ldg_strerror(rc));
        goto fail;
    }
    ps_free(ps);
    free(note);
    if (report != NULL)
        *report = rep;
    else
        json_decref(rep);
    return 0;
fail:
    if (rc == LDG_EFULL)
        ldg_set_errmsg(l, "rebuild: the storage map is full; nothing was "
                          "changed (set LEDGER_MAP_BYTES larger)");
    json_decref(rep);
    free(note);
    ps_free(ps);
    ldg_txn_abort(t);
    return rc;
}
