/*
 * engine.c — keeping the projections current, rebuilding and checking
 * them, and signing what they said.
 *
 * This file keeps the meta records and the notes and brings stored
 * projections current; the append path is applier.c, reading as of a
 * size read.c, the rebuild rebuild.c, the check check.c (what they share:
 * engine_int.h).
 *
 * Append path. The applier's apply() folds each new event into a pstate
 * backed by the append's write transaction; records are read on first
 * touch and written back once per commit group by at_commit(), which
 * then stores each projection's meta (version, events applied, digest),
 * recomputes the doctor digest if something it reads changed, and signs
 * the projection note for the new log size. A pstate lives for one
 * commit group: if apply() sees another transaction, or a sequence number
 * it did not expect (the core retried a group after growing the map, or
 * another process appended without projections), it drops the cache and
 * starts again from what the transaction holds, catching up first.
 *
 * Rebuild. The log is folded into a memory-only pstate under a read
 * transaction (no lock held), then one write transaction folds whatever
 * was appended meanwhile, empties the projection's database, writes the
 * new records and meta, and commits: the swap is atomic, and a rebuild
 * killed at any point leaves the old state in place.
 *
 * Meta record (proj.meta, key = projection name), 60 bytes:
 *   "LDGP" ‖ u32be format ‖ u32be version ‖ u64be applied ‖ u64be count ‖
 *   acc[32]
 * Notes (proj.notes, key = u64be log size): the signed note text.
 *
 * The doctor keeps no records of its own: its answer is a function of the
 * packs, permissions, models, routes and promotions states, of the log's
 * clock (for grant expiry) and of its code version. Its digest binds
 * exactly those (eng_doctor_inputs), so a note proves which answer the doctor
 * gave at that size, and costs nothing to keep current.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "projections/proj_int.h"
#include "projections/engine_int.h"

/* ---------------------------------------------------------------- util -- */

unsigned
ldg_projections_bit(const char *name)
{
    int i = name ? proj_find(name) : -1;
    return i < 0 ? 0 : 1u << i;
}

const char *
ldg_projections_name(unsigned bit)
{
    for (int p = 0; p < P_COUNT; p++)
        if (bit == 1u << p)
            return proj_defs[p].name;
    return NULL;
}

/* --------------------------------------------------------------- meta -- */

int
eng_meta_dbi(struct ldg_txn *t, int create, ldg_dbi *dbi)
{
    return ldg_db_open(t, META_DB, create ? LDG_DB_CREATE : 0, dbi);
}

int
meta_read(struct ldg_txn *t, enum proj_id p, struct pmeta *m)
{
    struct ldg_val v;
    ldg_dbi dbi;
    const uint8_t *b;
    int rc;

    memset(m, 0, sizeof *m);
    rc = eng_meta_dbi(t, 0, &dbi);
    if (rc == LDG_ENOTFOUND)
        return 0;
    if (rc < 0)
        return rc;
    rc = ldg_kv_get(t, dbi, proj_defs[p].name, strlen(proj_defs[p].name), &v);
    if (rc == LDG_ENOTFOUND)
        return 0;
    if (rc < 0)
        return rc;
    b = v.data;
    if (v.len != META_LEN || memcmp(b, "LDGP", 4) != 0 ||
        ldg_rd_be32(b + 4) != PROJ_FORMAT)
        return 0; /* unknown layout: treated as absent, so rebuilt */
    m->present = 1;
    m->version = ldg_rd_be32(b + 8);
    m->applied = ldg_rd_be64(b + 12);
    m->dig.count = ldg_rd_be64(b + 20);
    memcpy(m->dig.acc, b + 28, 32);
    return 0;
}

int
eng_meta_write(struct ldg_txn *t, enum proj_id p, uint64_t applied,
               const struct pdigest *d)
{
    uint8_t b[META_LEN];
    ldg_dbi dbi;
    int rc = eng_meta_dbi(t, 1, &dbi);
    if (rc < 0)
        return rc;
    memcpy(b, "LDGP", 4);
    ldg_be32(b + 4, PROJ_FORMAT);
    ldg_be32(b + 8, proj_defs[p].version);
    ldg_be64(b + 12, applied);
    ldg_be64(b + 20, d->count);
    memcpy(b + 28, d->acc, 32);
    return ldg_kv_put(t, dbi, proj_defs[p].name, strlen(proj_defs[p].name), b,
                      sizeof b);
}

int
eng_log_time(struct ldg_txn *t, uint64_t size, uint64_t *ts)
{
    struct ldg_event ev;
    int rc;
    *ts = 0;
    if (size == 0)
        return 0;
    rc = ldg_event_get(t, size - 1, &ev);
    if (rc == LDG_EPRUNED) {
        struct ldg_horizon h;
        if ((rc = ldg_horizon_get(t, &h)) < 0)
            return rc;
        rc = h.seq == size ? 0 : LDG_EPRUNED;
        *ts = h.ts_ns;
        ldg_horizon_release(&h);
        return rc;
    }
    if (rc < 0)
        return rc;
    *ts = ev.ts_ns;
    return 0;
}

int
eng_note_signs(const char *note, const char *text)
{
    size_t n = strlen(text);
    return note != NULL && strncmp(note, text, n) == 0 && note[n] == '\n';
}

/* 1 when a projection note signed by the log key signs text, the state
 * at the horizon hz: the one the prune kept beside it (proj.horizon's
 * PROJ_HORIZON_NOTE), or, for a ledger pruned before it kept one, the
 * note signed at hz; 0 when neither does; < 0 on I/O. */
static int
horizon_note_ok(struct ldg_txn *t, uint64_t hz, const char *text)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    struct ldg_val v;
    char *note = NULL;
    size_t tl;
    ldg_dbi dbi;
    int rc = ldg_db_open(t, PROJ_HORIZON_DB, 0, &dbi);

    if (rc == 0)
        rc = ldg_kv_get(t, dbi, PROJ_HORIZON_NOTE, PROJ_HORIZON_NOTE_LEN, &v);
    if (rc == 0) {
        if ((note = malloc(v.len + 1)) == NULL)
            return LDG_ENOMEM;
        memcpy(note, v.data, v.len);
        note[v.len] = '\0';
    } else if (rc == LDG_ENOTFOUND) {
        rc = eng_note_get(t, hz, &note);
    }
    if (rc == LDG_ENOTFOUND)
        return 0;
    if (rc < 0)
        return rc;
    rc = eng_note_signs(note, text) &&
         ldg_log_verify_note(l, note, strlen(note), &tl) == 0 &&
         tl == strlen(text);
    free(note);
    return rc;
}

/* Records horizon_digests reads between two releases of the pages it
 * read (a prune's step runs it over the whole state: at 4.5M events
 * pruned, some 80 MB of pages would stay mapped in the process). */
#define HORIZON_RELEASE 4096

/* The digests of the projections' records kept at the horizon
 * (proj.horizon), from their stored bytes: a scan that holds none of
 * them. LDG_ECORRUPT for a record of no known record type, and when
 * there is no proj.horizon. */
static int
horizon_digests(struct ldg_txn *t, struct pdigest d[P_COUNT])
{
    struct ldg_cursor *c = NULL;
    struct ldg_val k, v;
    uint64_t n = 0;
    ldg_dbi dbi;
    int rc = ldg_db_open(t, PROJ_HORIZON_DB, 0, &dbi);

    memset(d, 0, sizeof(struct pdigest) * P_COUNT);
    if (rc == LDG_ENOTFOUND)
        return LDG_ECORRUPT;
    if (rc < 0 || (rc = ldg_cursor_open(t, dbi, &c)) < 0)
        return rc;
    for (rc = ldg_cursor_get(c, LDG_FIRST, NULL, 0, &k, &v); rc == 0;
         rc = ldg_cursor_get(c, LDG_NEXT, NULL, 0, &k, &v)) {
        const uint8_t *key = k.data;
        uint8_t h[32];
        /* (as ps_load_snapshot reads them: the verified index's keys and
         * the note are no projection's) */
        if (k.len < 2 || key[0] >= P_COUNT)
            continue;
        if (rtype_of((enum proj_id)key[0], key[1]) == NULL) {
            rc = LDG_ECORRUPT;
            break;
        }
        record_hash(h, key + 1, k.len - 1, v.data, v.len);
        pdigest_add(&d[key[0]], h);
        if (++n % HORIZON_RELEASE == 0)
            ldg_access_hint(ldg_txn_ledger(t), LDG_ACCESS_RELEASE);
    }
    ldg_cursor_close(c);
    ldg_access_hint(ldg_txn_ledger(t), LDG_ACCESS_RELEASE);
    return rc == LDG_ENOTFOUND ? 0 : rc;
}

/* A pruned ledger: whether the state kept at the horizon (proj.horizon),
 * where every fold from the start begins, is the one the horizon record
 * (signed by the log key) names by its digest: 1 yes, 0 no (or no
 * proj.horizon), 2 yes but no projection note signed by the log key signs
 * it (FORMAT.md 6.2), < 0 on I/O; LDG_ENOTFOUND when never pruned. d
 * gets the state's digests (when not NULL). */
static int
horizon_state_digests(struct ldg_txn *t, struct pdigest d[P_COUNT])
{
    struct ldg_horizon h;
    struct pdigest mine[P_COUNT];
    uint8_t got[32];
    char text[2048];
    int rc = ldg_horizon_get(t, &h);

    if (rc < 0)
        return rc;
    if (d == NULL)
        d = mine;
    rc = horizon_digests(t, d);
    if (rc == 0)
        rc = eng_note_text_of(t, h.seq, d, h.ts_ns, text, sizeof text);
    if (rc == 0) {
        ldg_sha256(got, text, strlen(text));
        rc = memcmp(got, h.state, 32) == 0;
    } else if (rc == LDG_ECORRUPT) {
        rc = 0;
    }
    if (rc == 1 && (rc = horizon_note_ok(t, h.seq, text)) == 0)
        rc = 2; /* the state is right; no signed note is for it */
    ldg_horizon_release(&h);
    return rc;
}

static int
horizon_state_ok(struct ldg_txn *t)
{
    return horizon_state_digests(t, NULL);
}

int
eng_horizon_check(struct ldg_txn *t, json_t *diffs)
{
    int rc = horizon_state_ok(t);
    if (rc == LDG_ENOTFOUND || rc == LDG_ECORRUPT)
        return 0; /* never pruned; a record that does not decode: verify
                     names it */
    if (rc == 0)
        json_array_append_new(
            diffs,
            json_pack("{s:s, s:n, s:s, s:n, s:n}", "projection", "horizon",
                      "key", "what",
                      "the state kept at the horizon (proj.horizon) is not "
                      "the one the horizon record names",
                      "stored", "rebuilt"));
    if (rc == 2)
        json_array_append_new(
            diffs,
            json_pack("{s:s, s:n, s:s, s:n, s:n}", "projection", "horizon",
                      "key", "what",
                      "the state kept at the horizon is the one the horizon "
                      "record names, but no projection note signed by the "
                      "log key is for it (the one kept beside it in "
                      "proj.horizon, or the one signed at the horizon)",
                      "stored", "rebuilt"));
    return rc < 0 ? rc : 0;
}

/* ------------------------------------------------------------ folding -- */

static int
fold_cb(void *ctx, const struct penv *e, const struct ldg_body_view *b)
{
    return fold_event(ctx, e, b);
}

int
eng_fold_range(struct pstate *ps, struct ldg_txn *t, uint64_t from, uint64_t to,
               ldg_projections_progress_fn fn, void *ctx)
{
    struct ldg_scan_stats st;
    uint64_t hz;
    int rc;
    if (from >= to)
        return 0;
    /* A pruned ledger: a fold from the start starts from the state kept
     * at the horizon */
    if (from < (hz = ldg_txn_horizon(t))) {
        if (from != 0 || to < hz || ps->t != NULL) {
            ldg_set_errmsg(ldg_txn_ledger(t),
                           "the state after %llu events is before the "
                           "ledger's horizon (events 0..%llu were pruned): "
                           "no state before the horizon is kept (the "
                           "events are in its archive, which carries the "
                           "state at its end; the earliest state here is "
                           "the one at the horizon, " LDG_OPT_AT " %llu)",
                           (unsigned long long)to, (unsigned long long)(hz - 1),
                           (unsigned long long)(hz - 1));
            return LDG_EPRUNED;
        }
        if ((rc = horizon_state_ok(t)) == 0) {
            ldg_set_errmsg(ldg_txn_ledger(t),
                           "the projections' state kept at the horizon "
                           "(proj.horizon) is not the one the horizon record "
                           "names: it cannot be folded from (the events before "
                           "event %llu were pruned; restore the ledger from a "
                           "copy)",
                           (unsigned long long)hz);
            return LDG_ECORRUPT;
        }
        if (rc < 0 || (rc = ps_load_snapshot(ps, t)) < 0) {
            if (rc == LDG_ECORRUPT)
                ldg_set_errmsg(ldg_txn_ledger(t),
                               "the projections' state at the horizon "
                               "(proj.horizon) is missing or damaged");
            return rc;
        }
        ps->applied = from = hz;
        if (from >= to)
            return eng_log_time(t, hz, &ps->last_ts);
    }
    rc = scan_events(t, from, to, ps->mask, fold_cb, ps, fn, ctx, &st);
    if (rc == 0) {
        ps->applied = to;
    }
    return rc;
}

int
eng_write_out(struct pstate *ps, struct ldg_txn *t, enum proj_id p,
              uint64_t applied)
{
    struct pentry **v = NULL;
    struct pdigest d;
    ldg_dbi dbi;
    size_t n = 0;
    int rc;

    memset(&d, 0, sizeof d);
    if ((rc = ldg_db_open(t, proj_defs[p].db, LDG_DB_CREATE, &dbi)) < 0)
        return rc;
    if ((rc = ldg_db_drop(t, dbi, 0)) < 0)
        return rc;
    /* All tags of p, in key order (LMDB writes sorted keys best). */
    v = malloc((ps->n ? ps->n : 1) * sizeof *v);
    if (v == NULL)
        return LDG_ENOMEM;
    for (size_t i = 0; i < ps->cap; i++)
        if (ps->slots[i] != NULL && ps->slots[i]->rt->proj == p)
            v[n++] = ps->slots[i];
    LDG_ASSERT(n <= ps->n);
    qsort(v, n, sizeof *v, proj_cmp_entry);
    for (size_t i = 0; i < n && rc == 0; i++) {
        uint8_t *val, h[32];
        size_t vlen;
        if ((rc = rec_encode(v[i]->rt, v[i]->rec, &val, &vlen)) < 0)
            break;
        record_hash(h, v[i]->key, v[i]->klen, val, vlen);
        pdigest_add(&d, h);
        rc = ldg_kv_put(t, dbi, v[i]->key, v[i]->klen, val, vlen);
        free(val);
    }
    free(v);
    if (rc == 0)
        rc = eng_meta_write(t, p, applied, &d);
    return rc;
}

/* ------------------------------------------------------------- doctor -- */

void
eng_doctor_inputs(uint8_t out[32], uint64_t size, uint64_t ts,
                  const struct pdigest d[P_COUNT])
{
    static const char ctx[] = "ledger/doctor/v1";
    uint8_t buf[sizeof ctx + 4 + 8 + 8 + 32 * P_COUNT];
    size_t n = sizeof ctx;
    memcpy(buf, ctx, sizeof ctx);
    ldg_be32(buf + n, V_DOCTOR);
    n += 4;
    ldg_be64(buf + n, size);
    n += 8;
    ldg_be64(buf + n, ts);
    n += 8;
    for (int p = 0; p < P_COUNT; p++) {
        if (!(DOCTOR_INPUTS & (1u << p)))
            continue;
        pdigest_final(buf + n, (enum proj_id)p, &d[p]);
        n += 32;
    }
    ldg_sha256(out, buf, n);
}

/* The projections' digests stored in t (d), and the log's clock at size
 * (ts, when not NULL): 0, or LDG_ESTALE if one is absent, of another
 * version or not at size. */
static int
stored_at(struct ldg_txn *t, uint64_t size, struct pdigest d[P_COUNT],
          uint64_t *ts)
{
    int rc;
    for (int p = 0; p < P_COUNT; p++) {
        struct pmeta m;
        if ((rc = meta_read(t, (enum proj_id)p, &m)) < 0)
            return rc;
        if (!m.present || m.version != proj_defs[p].version ||
            m.applied != size)
            return LDG_ESTALE;
        d[p] = m.dig;
    }
    return ts != NULL ? eng_log_time(t, size, ts) : 0;
}

int
eng_doctor_inputs_stored(struct ldg_txn *t, uint64_t size, uint8_t out[32])
{
    struct pdigest d[P_COUNT];
    uint64_t ts;
    int rc = stored_at(t, size, d, &ts);
    if (rc == 0)
        eng_doctor_inputs(out, size, ts, d);
    return rc;
}

/* -------------------------------------------------------------- notes -- */

int
eng_note_text_of(struct ldg_txn *t, uint64_t size,
                 const struct pdigest d[P_COUNT], uint64_t ts, char *buf,
                 size_t cap)
{
    uint8_t dd[32];
    char hex[65];
    size_t n;

    n = (size_t)snprintf(buf, cap, "%s\norigin %s\nsize %llu\n", NOTE_HEADER,
                         ldg_origin(ldg_txn_ledger(t)),
                         (unsigned long long)size);
    for (int p = 0; p < P_COUNT && n < cap; p++) {
        uint8_t dg[32];
        pdigest_final(dg, (enum proj_id)p, &d[p]);
        ldg_hex(hex, dg, 32);
        n += (size_t)snprintf(buf + n, cap - n, "%s %u %s\n", proj_defs[p].name,
                              proj_defs[p].version, hex);
    }
    eng_doctor_inputs(dd, size, ts, d);
    ldg_hex(hex, dd, 32);
    if (n < cap)
        n +=
            (size_t)snprintf(buf + n, cap - n, "doctor %u %s\n", V_DOCTOR, hex);
    return n < cap ? 0 : LDG_ETOOBIG;
}

int
eng_note_text(struct ldg_txn *t, uint64_t size, char *buf, size_t cap)
{
    struct pdigest d[P_COUNT];
    uint64_t ts;
    int rc = stored_at(t, size, d, &ts);
    return rc < 0 ? rc : eng_note_text_of(t, size, d, ts, buf, cap);
}

static int
note_put(struct ldg_txn *t, uint64_t size, const char *note, size_t len)
{
    uint8_t k[8];
    ldg_dbi dbi;
    int rc = ldg_db_open(t, NOTES_DB, LDG_DB_CREATE, &dbi);
    ldg_be64(k, size);
    return rc < 0 ? rc : ldg_kv_put(t, dbi, k, 8, note, len);
}

static int
note_del(struct ldg_txn *t, uint64_t size)
{
    uint8_t k[8];
    ldg_dbi dbi;
    int rc = ldg_db_open(t, NOTES_DB, 0, &dbi);
    ldg_be64(k, size);
    if (rc == 0)
        rc = ldg_kv_del(t, dbi, k, 8, NULL, 0);
    return rc == LDG_ENOTFOUND ? 0 : rc;
}

/* The note of the state at size, signed and stored. At store layout 9
 * it is signed once, at the ack: the group's intake frame carries it,
 * and the frame applied or replayed later stores it as it was signed
 * (when it is this state's note; one of a projection whose code changed
 * since is signed again, for the new state). */
static int
note_store(struct ldg_txn *t, uint64_t size)
{
    char text[2048], *note = NULL;
    const char *carried;
    size_t n, tl;
    int rc = eng_note_text(t, size, text, sizeof text);
    if (rc < 0)
        return rc;
    tl = strlen(text);
    if (ldg_txn_note_carried(t, size, &carried, &n) == 1 && n > tl &&
        memcmp(carried, text, tl) == 0 && carried[tl] == '\n') {
        /* the note of the frame applied before it in this transaction
         * goes: an application keeps its last frame's */
        uint64_t prev = ldg_txn_note_superseded(t);
        if ((rc = note_put(t, size, carried, n)) == 0 && prev != 0)
            rc = note_del(t, prev);
        return rc;
    }
    rc = ldg_log_sign_note(ldg_txn_ledger(t), text, tl, &note);
    if (rc < 0)
        return rc;
    rc = note_put(t, size, note, strlen(note));
    if (rc == 0)
        rc = ldg_txn_note_carry(t, size, note, strlen(note));
    free(note);
    return rc;
}

int
eng_note_get(struct ldg_txn *t, uint64_t size, char **out)
{
    struct ldg_val v;
    struct ldg_cursor *c = NULL;
    ldg_dbi dbi;
    uint8_t k[8];
    int rc;

    *out = NULL;
    rc = ldg_db_open(t, NOTES_DB, 0, &dbi);
    if (rc < 0)
        return rc;
    if (size == 0) {
        struct ldg_val kk;
        if ((rc = ldg_cursor_open(t, dbi, &c)) < 0)
            return rc;
        rc = ldg_cursor_get(c, LDG_LAST, NULL, 0, &kk, &v);
    } else {
        ldg_be64(k, size);
        rc = ldg_kv_get(t, dbi, k, 8, &v);
    }
    if (rc == 0) {
        *out = strndup((const char *)v.data, v.len); /* (a note: no NUL) */
        rc = *out != NULL ? 0 : LDG_ENOMEM;
    }
    ldg_cursor_close(c);
    return rc;
}

int
ldg_projections_note(struct ldg_ledger *l, uint64_t size, char **out)
{
    struct ldg_txn *t = NULL;
    int rc;
    if (l == NULL || out == NULL)
        return LDG_EINVAL;
    if ((rc = ldg_txn_begin(l, LDG_TXN_READ, &t)) < 0)
        return rc;
    rc = eng_note_get(t, size, out);
    if (rc == LDG_ENOTFOUND) {
        if (size)
            ldg_set_errmsg(l,
                           "no projection note was signed at log size "
                           "%llu",
                           (unsigned long long)size);
        else
            ldg_set_errmsg(l, "no projection note was signed yet");
    }
    ldg_txn_abort(t);
    return rc;
}

/* ------------------------------------------------------- bring current -- */

int
eng_bring_current(struct ldg_txn *t, uint64_t size, unsigned skip,
                  ldg_projections_progress_fn fn, void *ctx, int *changed)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    struct pmeta m[P_COUNT];
    unsigned rebuild = 0, catchup = 0;
    uint64_t from = UINT64_MAX;
    struct pstate *ps = NULL;
    int rc;

    *changed = 0;
    for (int p = 0; p < P_COUNT; p++) {
        if (skip & (1u << p))
            continue;
        if ((rc = meta_read(t, (enum proj_id)p, &m[p])) < 0)
            return rc;
        if (!m[p].present || m[p].version != proj_defs[p].version ||
            m[p].applied > size)
            rebuild |= 1u << p;
        else if (m[p].applied < size)
            catchup |= 1u << p;
    }
    /* Catch-up folds one range for all: projections behind by another
     * amount than the most behind are rebuilt instead (it never happens
     * through this code, which keeps them in step). */
    for (int p = 0; p < P_COUNT; p++)
        if ((catchup & (1u << p)) && m[p].applied < from)
            from = m[p].applied;
    for (int p = 0; p < P_COUNT; p++)
        if ((catchup & (1u << p)) && m[p].applied != from) {
            catchup &= ~(1u << p);
            rebuild |= 1u << p;
        }
    if (catchup) {
        if ((rc = ps_new(&ps, l, t, 1, catchup)) < 0)
            return rc;
        for (int p = 0; p < P_COUNT; p++)
            ps->dig[p] = m[p].dig;
        ps->applied = from;
        rc = eng_fold_range(ps, t, from, size, fn, ctx);
        if (rc == LDG_ECORRUPT) {
            /* A stored record does not decode (the log itself is read
             * the same way by the rebuild, which reports it if it is the
             * culprit): nothing was written yet, rebuild instead. */
            rebuild |= catchup;
            catchup = 0;
            rc = 0;
        } else {
            if (rc == 0)
                rc = ps_flush(ps);
            for (int p = 0; rc == 0 && p < P_COUNT; p++)
                if (catchup & (1u << p))
                    rc = eng_meta_write(t, (enum proj_id)p, size, &ps->dig[p]);
        }
        ps_free(ps);
        ps = NULL;
        if (rc < 0)
            return rc;
        *changed = 1;
    }
    if (rebuild) {
        if ((rc = ps_new(&ps, l, NULL, 0, rebuild)) < 0)
            return rc;
        rc = eng_fold_range(ps, t, 0, size, fn, ctx);
        for (int p = 0; rc == 0 && p < P_COUNT; p++)
            if (rebuild & (1u << p))
                rc = eng_write_out(ps, t, (enum proj_id)p, size);
        ps_free(ps);
        if (rc < 0)
            return rc;
        *changed = 1;
    }
    return 0;
}

int
eng_all_current(struct ldg_txn *t, uint64_t size, int *yes)
{
    struct pdigest d[P_COUNT];
    int rc = stored_at(t, size, d, NULL);
    *yes = rc == 0;
    return rc == LDG_ESTALE ? 0 : rc;
}

int
eng_finish_size(struct ldg_txn *t, uint64_t size)
{
    char *note = NULL;
    int rc = eng_note_get(t, size, &note);
    free(note);
    if (rc == LDG_ENOTFOUND) {
        rc = note_store(t, size);
        if (rc == LDG_EKEY)
            rc = 0;
    }
    return rc;
}

/* ------------------------------------------------------------ horizon -- */

int
ldg_projections_horizon(struct ldg_txn *t, uint64_t hz, const char *note,
                        uint8_t state[32])
{
    struct ldg_ledger *l;
    struct pstate *ps = NULL;
    struct pdigest d[P_COUNT];
    char text[2048], *mine = NULL;
    uint64_t ts, old;
    ldg_dbi dbi;
    int rc;

    if (t == NULL || state == NULL || hz == 0)
        return LDG_EINVAL;
    l = ldg_txn_ledger(t);
    /* The state kept at the last horizon, folded on to hz in place: the
     * records the events since touch are read, changed and written back
     * (its digests kept as they change), the rest stay as stored. */
    if ((old = ldg_txn_horizon(t)) > hz) {
        ldg_set_errmsg(l,
                       "the state after %llu events is before the ledger's "
                       "horizon (events 0..%llu were pruned)",
                       (unsigned long long)hz, (unsigned long long)(old - 1));
        return LDG_EPRUNED;
    }
    if (old > 0) {
        rc = horizon_state_digests(t, d);
        if (rc == 0)
            ldg_set_errmsg(l,
                           "the projections' state kept at the horizon "
                           "(proj.horizon) is not the one the horizon record "
                           "names: it cannot be folded from (the events before "
                           "event %llu were pruned; restore the ledger from a "
                           "copy)",
                           (unsigned long long)old);
        if (rc <= 0)
            return rc == 0 ? LDG_ECORRUPT : rc;
    } else {
        /* never pruned: the fold starts from no records */
        memset(d, 0, sizeof d);
        if ((rc = ldg_db_open(t, PROJ_HORIZON_DB, LDG_DB_CREATE, &dbi)) < 0 ||
            (rc = ldg_db_drop(t, dbi, 0)) < 0)
            return rc;
    }
    if ((rc = ps_new_horizon(&ps, l, t)) < 0)
        return rc;
    memcpy(ps->dig, d, sizeof d);
    ps->applied = old;
    if ((rc = eng_fold_range(ps, t, old, hz, NULL, NULL)) < 0 ||
        (rc = ps_flush(ps)) < 0 || (rc = eng_log_time(t, hz, &ts)) < 0 ||
        (rc = eng_note_text_of(t, hz, ps->dig, ts, text, sizeof text)) < 0)
        goto out;
    if (note == NULL) {
        /* the note signed at hz, when it is this state's; else one signed
         * now (a body erased since changed the state at hz) */
        rc = eng_note_get(t, hz, &mine);
        if (rc < 0 && rc != LDG_ENOTFOUND)
            goto out;
        if (!eng_note_signs(mine, text)) {
            free(mine);
            mine = NULL;
            if ((rc = ldg_log_sign_note(l, text, strlen(text), &mine)) < 0)
                goto out;
        }
        note = mine;
    } else if (!eng_note_signs(note, text)) {
        ldg_set_errmsg(l,
                       "the projection note given for the state at the "
                       "horizon %llu is not the state its events fold to now "
                       "(a body was erased since it was signed, or it was "
                       "written by a build whose projections differ: write "
                       "the archive again)",
                       (unsigned long long)hz);
        rc = LDG_ETAMPER;
        goto out;
    }
    if ((rc = verified_snapshot(t, hz)) < 0)
        goto out;
    /* the signed note for this state, beside it (FORMAT.md 6.2) */
    if ((rc = ldg_db_open(t, PROJ_HORIZON_DB, LDG_DB_CREATE, &dbi)) < 0 ||
        (rc = ldg_kv_put(t, dbi, PROJ_HORIZON_NOTE, PROJ_HORIZON_NOTE_LEN, note,
                         strlen(note))) < 0)
        goto out;
    ldg_sha256(state, text, strlen(text));
out:
    free(mine);
    ps_free(ps);
    return rc;
}
