/*
 * engine.c — keeping the projections current, rebuilding and checking
 * them, and signing what they said.
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
 * exactly those (doctor_inputs), so a note proves which answer the doctor
 * gave at that size, and costs nothing to keep current.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "projections/proj_int.h"

#define META_DB "proj.meta"
#define NOTES_DB "proj.notes"
#define META_LEN 60
#define NOTE_HEADER "ledger-projections/v1"

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

static int
meta_dbi(struct ldg_txn *t, int create, ldg_dbi *dbi)
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
    rc = meta_dbi(t, 0, &dbi);
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

static int
meta_write(struct ldg_txn *t, enum proj_id p, uint64_t applied,
           const struct pdigest *d)
{
    uint8_t b[META_LEN];
    ldg_dbi dbi;
    int rc = meta_dbi(t, 1, &dbi);
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

/* Time of the event size-1 (the log's clock at that size), 0 if none;
 * at a pruned ledger's horizon, the horizon record's. */
static int
log_time(struct ldg_txn *t, uint64_t size, uint64_t *ts)
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

/* 1 when note (a signed note) signs exactly text. */
static int
note_signs(const char *note, const char *text)
{
    size_t n = strlen(text);
    return note != NULL && strncmp(note, text, n) == 0 && note[n] == '\n';
}

static int note_get(struct ldg_txn *t, uint64_t size, char **out);
static int note_text_of(struct ldg_txn *t, uint64_t size,
                        const struct pdigest d[P_COUNT], uint64_t ts, char *buf,
                        size_t cap);

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
        rc = note_get(t, hz, &note);
    }
    if (rc == LDG_ENOTFOUND)
        return 0;
    if (rc < 0)
        return rc;
    rc = note_signs(note, text) &&
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
        rc = note_text_of(t, h.seq, d, h.ts_ns, text, sizeof text);
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

static int
horizon_check(struct ldg_txn *t, json_t *diffs)
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

/* Folds events [from, to) of t into ps. */
static int
fold_range(struct pstate *ps, struct ldg_txn *t, uint64_t from, uint64_t to,
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
            return log_time(t, hz, &ps->last_ts);
    }
    rc = scan_events(t, from, to, ps->mask, fold_cb, ps, fn, ctx, &st);
    if (rc == 0) {
        ps->applied = to;
    }
    return rc;
}

/* Writes the records of projection p from a memory-only ps into t,
 * replacing everything the projection had, and its meta. */
static int
write_out(struct pstate *ps, struct ldg_txn *t, enum proj_id p,
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
        rc = meta_write(t, p, applied, &d);
    return rc;
}

/* ------------------------------------------------------------- doctor -- */

/* The projections the doctor reads. */
#define DOCTOR_INPUTS                                                          \
    ((1u << P_PACKS) | (1u << P_PERMISSIONS) | (1u << P_MODELS) |              \
     (1u << P_ROUTES) | (1u << P_PROMOTIONS))

/*
 * Doctor digest at size: SHA-256("ledger/doctor/v1" 0x00 ‖ u32be(version)
 * ‖ u64be(size) ‖ u64be(ts of event size-1) ‖ digest(packs) ‖
 * digest(permissions) ‖ digest(models) ‖ digest(routes) ‖
 * digest(promotions)).
 */
static void
doctor_inputs(uint8_t out[32], uint64_t size, uint64_t ts,
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
    return ts != NULL ? log_time(t, size, ts) : 0;
}

/* The doctor digest of the state stored in t at size; LDG_ESTALE if the
 * store is not exactly at size. */
static int
doctor_inputs_stored(struct ldg_txn *t, uint64_t size, uint8_t out[32])
{
    struct pdigest d[P_COUNT];
    uint64_t ts;
    int rc = stored_at(t, size, d, &ts);
    if (rc == 0)
        doctor_inputs(out, size, ts, d);
    return rc;
}

/* -------------------------------------------------------------- notes -- */

/* The note text for the projections' digests d (this code's versions)
 * at size, the log's clock there ts. */
static int
note_text_of(struct ldg_txn *t, uint64_t size, const struct pdigest d[P_COUNT],
             uint64_t ts, char *buf, size_t cap)
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
    doctor_inputs(dd, size, ts, d);
    ldg_hex(hex, dd, 32);
    if (n < cap)
        n +=
            (size_t)snprintf(buf + n, cap - n, "doctor %u %s\n", V_DOCTOR, hex);
    return n < cap ? 0 : LDG_ETOOBIG;
}

/* The note text for the state stored in t at size. */
static int
note_text(struct ldg_txn *t, uint64_t size, char *buf, size_t cap)
{
    struct pdigest d[P_COUNT];
    uint64_t ts;
    int rc = stored_at(t, size, d, &ts);
    return rc < 0 ? rc : note_text_of(t, size, d, ts, buf, cap);
}

static int
note_store(struct ldg_txn *t, uint64_t size)
{
    char text[2048], *note = NULL;
    uint8_t k[8];
    ldg_dbi dbi;
    int rc = note_text(t, size, text, sizeof text);
    if (rc < 0)
        return rc;
    rc = ldg_log_sign_note(ldg_txn_ledger(t), text, strlen(text), &note);
    if (rc < 0)
        return rc;
    ldg_be64(k, size);
    rc = ldg_db_open(t, NOTES_DB, LDG_DB_CREATE, &dbi);
    if (rc == 0)
        rc = ldg_kv_put(t, dbi, k, 8, note, strlen(note));
    free(note);
    return rc;
}

static int
note_get(struct ldg_txn *t, uint64_t size, char **out)
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
    rc = note_get(t, size, out);
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

/*
 * Makes the stored projections in t describe exactly the first `size`
 * events (size <= log size in t): projections never built or built by
 * other code are rebuilt from the log; the rest, if behind, catch up.
 * Projections in `skip` are left alone. Sets *changed if it wrote.
 */
static int
bring_current(struct ldg_txn *t, uint64_t size, unsigned skip,
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
        rc = fold_range(ps, t, from, size, fn, ctx);
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
                    rc = meta_write(t, (enum proj_id)p, size, &ps->dig[p]);
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
        rc = fold_range(ps, t, 0, size, fn, ctx);
        for (int p = 0; rc == 0 && p < P_COUNT; p++)
            if (rebuild & (1u << p))
                rc = write_out(ps, t, (enum proj_id)p, size);
        ps_free(ps);
        if (rc < 0)
            return rc;
        *changed = 1;
    }
    return 0;
}

/* Is everything (projections and doctor) stored at size and this code's
 * version? */
static int
all_current(struct ldg_txn *t, uint64_t size, int *yes)
{
    struct pdigest d[P_COUNT];
    int rc = stored_at(t, size, d, NULL);
    *yes = rc == 0;
    return rc == LDG_ESTALE ? 0 : rc;
}

/* After the projections in t are current at size: the note, if none is
 * stored for size. A missing log secret only skips the note. */
static int
finish_size(struct ldg_txn *t, uint64_t size)
{
    char *note = NULL;
    int rc = note_get(t, size, &note);
    free(note);
    if (rc == LDG_ENOTFOUND) {
        rc = note_store(t, size);
        if (rc == LDG_EKEY)
            rc = 0;
    }
    return rc;
}

/* ------------------------------------------------------------ applier -- */

struct pctx {
    struct ldg_ledger *l;
    struct ldg_body_view *jview; /* apply()'s body view (JSON bodies) */
    struct pstate *ps;           /* the current commit group's cache */
    struct ldg_txn *t;           /* its transaction */
    ldg_projections_progress_fn fn;
    void *fnctx;
    struct pctx *next; /* global list: see attach */
};

/* Every context ever attached. The core has no hook to release an
 * applier's context when the handle closes, so contexts are kept here
 * (small, and reachable, so leak checkers stay quiet); a context's cache
 * is freed at the end of each commit group. */
static struct pctx *all_ctx;
static pthread_mutex_t all_mu = PTHREAD_MUTEX_INITIALIZER;

static void
drop_cache(struct pctx *c)
{
    ps_free(c->ps);
    c->ps = NULL;
    c->t = NULL;
}

/* Opens the cache for a group whose next event is seq, bringing the
 * store current to seq first. */
static int
open_cache(struct pctx *c, struct ldg_txn *t, uint64_t seq)
{
    int rc, changed;
    drop_cache(c);
    rc = bring_current(t, seq, 0, c->fn, c->fnctx, &changed);
    if (rc < 0)
        return rc;
    if ((rc = ps_new(&c->ps, c->l, t, 1, P_ALL)) < 0)
        return rc;
    for (int p = 0; p < P_COUNT; p++) {
        struct pmeta m;
        if ((rc = meta_read(t, (enum proj_id)p, &m)) < 0) {
            drop_cache(c);
            return rc;
        }
        c->ps->dig[p] = m.dig;
    }
    c->ps->applied = seq;
    c->t = t;
    (void)changed;
    return 0;
}

/* Does erasing the body of event target change any projection? */
static int
erase_matters(struct ldg_txn *t, const json_t *body)
{
    json_t *v = json_object_get(body, "target_seq");
    struct ldg_event ev;
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return 0;
    if (ldg_event_get(t, (uint64_t)json_integer_value(v), &ev) < 0)
        return 1; /* cannot tell: replay to be safe */
    return ev_type_feeds(ev_type_of(ev.type, strlen(ev.type)));
}

/* Replaces every projection in t by a replay of events [0, seq), and
 * opens a fresh cache for event seq. */
static int
rebuild_in_txn(struct pctx *c, struct ldg_txn *t, uint64_t seq)
{
    int rc, changed;
    drop_cache(c);
    for (int p = 0; p < P_COUNT; p++) {
        ldg_dbi dbi;
        if ((rc = meta_dbi(t, 1, &dbi)) < 0)
            return rc;
        rc = ldg_kv_del(t, dbi, proj_defs[p].name, strlen(proj_defs[p].name),
                        NULL, 0);
        if (rc < 0 && rc != LDG_ENOTFOUND)
            return rc;
    }
    if ((rc = bring_current(t, seq, 0, c->fn, c->fnctx, &changed)) < 0)
        return rc;
    return open_cache(c, t, seq);
}

static int apply_view(struct pctx *c, struct ldg_txn *t,
                      const struct ldg_event *ev, const json_t *body,
                      struct ldg_body_view *b);

static int
apply(void *ctx, struct ldg_txn *t, const struct ldg_event *ev,
      const json_t *body)
{
    struct pctx *c = ctx;
    if (body != NULL)
        ldg_body_view_set_json(c->jview, body);
    else
        ldg_body_view_set_none(c->jview);
    return apply_view(c, t, ev, body, c->jview);
}

/* The bulk writer's events come with their body record only: folded from
 * a view of it, as the rebuild path folds stored records. 1 (apply gets
 * the JSON instead) for a record that cannot be read in place and for an
 * erasure, which reads its target from the JSON. */
static int
apply_record(void *ctx, struct ldg_txn *t, const struct ldg_event *ev,
             const uint8_t *rec, size_t len)
{
    struct pctx *c = ctx;
    /* a compressed record is inflated with the store's dictionaries */
    ldg_body_view_set_dicts(c->jview, ldg_txn_dicts(t),
                            ldg_body_max(ldg_txn_ledger(t)));
    if (strcmp(ev->type, LDG_EV_BODY_ERASED) == 0 ||
        ldg_body_view_set_record(c->jview, rec, len) != 0)
        return 1;
    return apply_view(c, t, ev, NULL, c->jview);
}

/* apply with the body as view b (body: its JSON, for an erasure). */
static int
apply_view(struct pctx *c, struct ldg_txn *t, const struct ldg_event *ev,
           const json_t *body, struct ldg_body_view *b)
{
    struct penv e;
    int rc;

    if (c->ps == NULL || c->t != t || c->ps->applied != ev->seq) {
        if ((rc = open_cache(c, t, ev->seq)) < 0)
            goto fail;
    }
    penv_from_event(&e, ev);
    if (e.type == T_BODY_ERASED && erase_matters(t, body)) {
        /* The erased body may have fed a projection: the state must be
         * what a replay without it gives, so replay (O(log)). The target
         * body is already gone in this transaction. */
        if ((rc = rebuild_in_txn(c, t, ev->seq)) < 0)
            goto fail;
    }
    rc = fold_event(c->ps, &e, b);
    if (rc == LDG_ECORRUPT) {
        /* A stored record does not decode: rebuild from the log rather
         * than refuse the append, then fold the event again. */
        if ((rc = rebuild_in_txn(c, t, ev->seq)) == 0)
            rc = fold_event(c->ps, &e, b);
    }
    if (rc < 0)
        goto fail;
    return 0;
fail:
    drop_cache(c);
    return rc;
}

static int
at_commit(void *ctx, struct ldg_txn *t, uint64_t size)
{
    struct pctx *c = ctx;
    int rc;

    if (c->ps == NULL || c->t != t || c->ps->applied != size) {
        if ((rc = open_cache(c, t, size)) < 0)
            goto out;
    }
    if ((rc = ps_flush(c->ps)) < 0)
        goto out;
    for (int p = 0; p < P_COUNT && rc == 0; p++)
        rc = meta_write(t, (enum proj_id)p, size, &c->ps->dig[p]);
    if (rc < 0)
        goto out;
    drop_cache(c);
    rc = finish_size(t, size);
out:
    drop_cache(c);
    if (rc < 0 && ldg_errmsg(ldg_txn_ledger(t))[0] == '\0')
        ldg_set_errmsg(ldg_txn_ledger(t),
                       "projections: cannot store the state at log size "
                       "%llu: %s",
                       (unsigned long long)size, ldg_strerror(rc));
    return rc;
}

int
ldg_projections_attach_progress(struct ldg_ledger *l,
                                ldg_projections_progress_fn fn, void *fnctx)
{
    struct ldg_applier a;
    struct ldg_txn *t = NULL;
    struct pctx *c;
    uint64_t size;
    int rc, yes = 0, changed;

    if (l == NULL)
        return LDG_EINVAL;
    /* A read-only handle writes nothing: its read transactions fold what
     * the store's projections lack (the intake's tail) in memory. */
    if (ldg_read_only(l))
        goto attach;
    /* Bring the store current first (a rebuild if versions changed):
     * current with the store's own events, the intake's tail aside (at
     * layout 999 it is applied to the projections when it is applied to
     * the store; a one-shot writer leaves it there, LDG_KEEP_TAIL) */
    if ((rc = ldg_txn_begin(l, LDG_TXN_READ, &t)) < 0)
        return rc;
    rc = ldg_txn_size(t, &size);
    if (rc == 0)
        rc = all_current(t, size - ldg_txn_tail(t), &yes);
    ldg_txn_abort(t);
    t = NULL;
    if (rc < 0)
        return rc;
    if (!yes) {
        if ((rc = ldg_txn_begin(l, LDG_TXN_WRITE, &t)) < 0) {
            ldg_set_errmsg(l,
                           "projections: cannot open a write "
                           "transaction: %s",
                           ldg_strerror(rc));
            return rc;
        }
        rc = ldg_txn_size(t, &size);
        if (rc == 0)
            rc = bring_current(t, size, 0, fn, fnctx, &changed);
        if (rc == 0)
            rc = finish_size(t, size);
        if (rc == 0) {
            rc = ldg_txn_commit(t);
        } else {
            ldg_txn_abort(t);
        }
        if (rc == LDG_EFULL) {
            /* Only the core's append path can grow the map: the first
             * append does this work instead, inside its transaction,
             * and retries it after growing. */
            rc = 0;
        }
        if (rc < 0) {
            if (ldg_errmsg(l)[0] == '\0')
                ldg_set_errmsg(l,
                               "projections: cannot bring the "
                               "projections up to date: %s",
                               ldg_strerror(rc));
            return rc;
        }
    }
attach:
    c = calloc(1, sizeof *c);
    if (c == NULL)
        return LDG_ENOMEM;
    if ((rc = ldg_body_view_new(&c->jview)) < 0) {
        free(c);
        return rc;
    }
    c->l = l;
    c->fn = fn;
    c->fnctx = fnctx;
    memset(&a, 0, sizeof a);
    a.name = "projections";
    a.apply = apply;
    a.apply_record = apply_record;
    a.at_commit = at_commit;
    a.ctx = c;
    rc = ldg_applier_add(l, &a);
    if (rc < 0) {
        ldg_body_view_free(c->jview);
        free(c);
        return rc;
    }
    pthread_mutex_lock(&all_mu);
    c->next = all_ctx;
    all_ctx = c;
    pthread_mutex_unlock(&all_mu);
    return verified_attach(l);
}

int
ldg_projections_attach(struct ldg_ledger *l)
{
    return ldg_projections_attach_progress(l, NULL, NULL);
}

/* -------------------------------------------------------------- views -- */

/*
 * A state to read: at_size 0 = the current log (stored records, with any
 * events the store lacks folded in memory; all of it from the log if the
 * stored versions are not this code's); else the first at_size events,
 * folded in memory. ps is read-only; t stays open while ps is used.
 */
static int
read_state(struct ldg_ledger *l, uint64_t at_size, unsigned mask,
           int memory_only, ldg_projections_progress_fn fn, void *ctx,
           struct ldg_txn **tout, struct pstate **out)
{
    struct ldg_txn *t = NULL;
    struct pstate *ps = NULL;
    uint64_t size, from = 0;
    int rc, stored = 1;

    *out = NULL;
    *tout = NULL;
    if ((rc = ldg_txn_begin(l, LDG_TXN_READ, &t)) < 0)
        return rc;
    if ((rc = ldg_txn_size(t, &size)) < 0)
        goto fail;
    if (at_size > size) {
        ldg_set_errmsg(l, LDG_OPT_AT ": the log has %llu events (seq 0..%llu)",
                       (unsigned long long)size,
                       (unsigned long long)(size ? size - 1 : 0));
        rc = LDG_EINVAL;
        goto fail;
    }
    if (memory_only || (at_size != 0 && at_size != size)) {
        stored = 0;
        if (at_size != 0)
            size = at_size;
    } else {
        for (int p = 0; p < P_COUNT; p++) {
            struct pmeta m;
            if ((rc = meta_read(t, (enum proj_id)p, &m)) < 0)
                goto fail;
            if (!m.present || m.version != proj_defs[p].version ||
                m.applied > size || (p > 0 && m.applied != from)) {
                stored = 0;
                break;
            }
            from = m.applied;
        }
    }
    if ((rc = ps_new(&ps, l, stored ? t : NULL, 0, stored ? P_ALL : mask)) < 0)
        goto fail;
    if (!stored)
        from = 0;
    if ((rc = fold_range(ps, t, from, size, fn, ctx)) < 0)
        goto fail;
    ps->applied = size;
    if ((rc = log_time(t, size, &ps->last_ts)) < 0)
        goto fail;
    *out = ps;
    *tout = t;
    return 0;
fail:
    ps_free(ps);
    ldg_txn_abort(t);
    return rc;
}

/* "Who did it" from the log: beside a claimed actor (a permission's "by",
 * a run's "requested_by"), each row gets "signer", the key that signed the
 * event its seq field names, and "source", the process that submitted it
 * when `ledger serve` recorded one (docs/PROJECTIONS.md). */
static int
add_signers(struct ldg_txn *t, json_t *rows, const char *seq_field)
{
    uint64_t hz = ldg_txn_horizon(t);
    size_t i;
    json_t *r;

    json_array_foreach(rows, i, r)
    {
        const char *s = json_string_value(json_object_get(r, seq_field));
        struct ldg_event ev;
        json_t *sg;
        if (s == NULL)
            continue;
        /* pruned: its archive says who signed it (docs/RETENTION.md) */
        if (strtoull(s, NULL, 10) < hz) {
            json_object_set_new(r, "signer", json_null());
            continue;
        }
        sg = ldg_signer_json(t, strtoull(s, NULL, 10));
        if (sg == NULL)
            return LDG_ECORRUPT; /* the projection names an event not read */
        json_object_set_new(r, "signer", sg);
        if (ldg_event_get(t, strtoull(s, NULL, 10), &ev) < 0)
            return LDG_ECORRUPT;
        if (ev.has_source) {
            json_t *src = ldg_event_source_json(&ev);
            if (src == NULL)
                return LDG_ENOMEM;
            json_object_set_new(r, "source", src);
        }
    }
    return 0;
}

/* A stored record of the projections could not be read: says so, with the
 * remedy, and returns err. */
static int
unreadable(struct ldg_ledger *l, int err)
{
    ldg_set_errmsg(
        l,
        "projections: a stored record cannot be read (%s); `" LDG_CMD_REBUILD
        "` replaces it",
        ldg_strerror(err));
    return err;
}

/* The projections a view reads, folded when it is asked at an earlier
 * size (P_ALL for those not narrowed down). The permissions at a run's
 * start (`ledger timeline`, export --run) then read the bodies of pack
 * and permission events only, not the whole log's; the doctor's pipeline
 * clauses (plans, memory) and the promotions those of the pipeline's and
 * the promotions' events. */
static unsigned
view_inputs(enum ldg_proj_view view)
{
    switch (view) {
    case LDG_VIEW_PERMISSIONS:
        return (1u << P_PACKS) | (1u << P_PERMISSIONS);
    case LDG_VIEW_DOCTOR:
    case LDG_VIEW_PACKS: /* their readiness is the doctor's */
    case LDG_VIEW_ROUTES:
    case LDG_VIEW_MODELS:
        return DOCTOR_INPUTS;
    case LDG_VIEW_PLANS:
    case LDG_VIEW_SNAPSHOTS:
    case LDG_VIEW_TRIPCODES:
        return 1u << P_PLANS;
    case LDG_VIEW_MEMORY:
        return 1u << P_MEMORY;
    case LDG_VIEW_GATES:
        return 1u << P_BUILDS;
    case LDG_VIEW_PROMOTIONS:
        return 1u << P_PROMOTIONS;
    default:
        return P_ALL;
    }
}

/* The doctor view of ps (after ps->applied events), with the digest the
 * projection note binds for it. NULL if out of memory. */
static json_t *
doctor_json(struct pstate *ps, struct ldg_txn *t, const char *f)
{
    json_t *v = doctor_state_json(ps, f);
    uint8_t dd[32];

    if (v == NULL)
        return NULL;
    json_object_set_new(v, "size", ldg_json_u64(ps->applied));
    if (ps->t == NULL) {
        struct pdigest d[P_COUNT];
        if (ps_digest_all(ps, d) == 0) {
            doctor_inputs(dd, ps->applied, ps->last_ts, d);
            json_object_set_new(v, "digest", ldg_json_hex(dd, 32));
        }
    } else if (doctor_inputs_stored(t, ps->applied, dd) == 0) {
        json_object_set_new(v, "digest", ldg_json_hex(dd, 32));
    }
    return v;
}

int
ldg_projections_doctor_each(struct ldg_ledger *l, uint64_t lo, uint64_t hi,
                            int (*fn)(void *ctx, uint64_t size, json_t *doctor),
                            void *ctx)
{
    struct ldg_txn *t = NULL;
    struct pstate *ps = NULL;
    uint64_t size;
    int rc;

    if (l == NULL || fn == NULL || lo == 0 || hi < lo)
        return LDG_EINVAL;
    if ((rc = read_state(l, lo, DOCTOR_INPUTS, 1, NULL, NULL, &t, &ps)) < 0)
        return rc;
    if ((rc = ldg_txn_size(t, &size)) < 0)
        goto out;
    if (hi > size) {
        ldg_set_errmsg(l, "the doctor after %llu events: the log has %llu",
                       (unsigned long long)hi, (unsigned long long)size);
        rc = LDG_EINVAL;
        goto out;
    }
    for (uint64_t at = lo;; at++) {
        json_t *d = doctor_json(ps, t, NULL);
        if (ps->err != 0) {
            json_decref(d);
            rc = unreadable(l, ps->err);
            goto out;
        }
        if (d == NULL) {
            rc = LDG_ENOMEM;
            goto out;
        }
        if ((rc = fn(ctx, at, d)) != 0 || at == hi)
            break;
        /* one more event: as read_state leaves a state at a size */
        if ((rc = fold_range(ps, t, at, at + 1, NULL, NULL)) < 0)
            goto out;
        ps->applied = at + 1;
        if ((rc = log_time(t, at + 1, &ps->last_ts)) < 0)
            goto out;
    }
    if (rc > 0)
        rc = 0;
out:
    ps_free(ps);
    ldg_txn_abort(t);
    return rc;
}

int
ldg_projections_view(struct ldg_ledger *l, enum ldg_proj_view view,
                     const struct ldg_view_opts *o, json_t **out)
{
    struct ldg_view_opts none;
    struct ldg_txn *t = NULL;
    struct pstate *ps = NULL;
    const char *f;
    char asof[48] = "";
    json_t *v = NULL;
    int rc;

    if (l == NULL || out == NULL)
        return LDG_EINVAL;
    *out = NULL;
    if (o == NULL) {
        memset(&none, 0, sizeof none);
        o = &none;
    }
    f = o->filter;
    rc = read_state(l, o->at_size, view_inputs(view), 0, o->progress,
                    o->progress_ctx, &t, &ps);
    if (rc < 0)
        return rc;
    switch (view) {
    case LDG_VIEW_PACKS:
        v = view_packs(ps, f);
        break;
    case LDG_VIEW_PERMISSIONS:
        v = view_permissions(ps, f);
        break;
    case LDG_VIEW_MODELS:
        v = view_models(ps);
        break;
    case LDG_VIEW_ROUTES:
        v = view_routes(ps);
        break;
    case LDG_VIEW_PROMOTIONS:
        v = view_promotions(ps);
        break;
    case LDG_VIEW_RUNS:
        v = view_runs(ps, f);
        break;
    case LDG_VIEW_PLANS:
        v = view_plans(ps, f, o->only_flagged);
        break;
    case LDG_VIEW_SNAPSHOTS:
        v = view_snapshots(ps);
        break;
    case LDG_VIEW_TRIPCODES:
        v = view_tripcodes(ps, f);
        break;
    case LDG_VIEW_MEMORY:
        v = view_memory(ps, f, o->only_flagged);
        break;
    case LDG_VIEW_GATES:
        v = view_gates(ps, o->since_ns);
        break;
    case LDG_VIEW_DOCTOR:
        v = doctor_json(ps, t, f);
        break;
    default:
        rc = LDG_EINVAL;
        goto out;
    }
    if (ps->err != 0) {
        rc = unreadable(l, ps->err);
        goto out;
    }
    if (v == NULL) {
        rc = LDG_ENOMEM;
        goto out;
    }
    if (view == LDG_VIEW_PERMISSIONS && (rc = add_signers(t, v, "seq")) < 0)
        goto out;
    if (view == LDG_VIEW_RUNS && (rc = add_signers(t, v, "started_seq")) < 0)
        goto out;
    /* with --at, the name may well come later in the log: say when */
    if (o->at_size != 0)
        snprintf(asof, sizeof asof, " as of event %llu",
                 (unsigned long long)(o->at_size - 1));
    if (f != NULL && view != LDG_VIEW_DOCTOR && view != LDG_VIEW_GATES &&
        json_array_size(v) == 0) {
        ldg_set_errmsg(l, "%s: no such %s%s", f,
                       view == LDG_VIEW_RUNS        ? "run"
                       : view == LDG_VIEW_PLANS     ? "plan"
                       : view == LDG_VIEW_MEMORY    ? "memory item"
                       : view == LDG_VIEW_TRIPCODES ? "tripcode"
                                                    : "pack",
                       asof);
        rc = LDG_ENOTFOUND;
    } else if (f != NULL && view == LDG_VIEW_DOCTOR &&
               json_array_size(json_object_get(v, "packs")) == 0) {
        ldg_set_errmsg(l, "%s: no such pack%s", f, asof);
        rc = LDG_ENOTFOUND;
    }
    if (rc == 0) {
        *out = v;
        v = NULL;
    }
out:
    json_decref(v);
    ps_free(ps);
    ldg_txn_abort(t);
    return rc;
}

int
ldg_projections_gate(struct ldg_ledger *l, const char *target,
                     const char *candidate, const char *eval_id, char *why,
                     size_t whycap)
{
    struct ldg_txn *t = NULL;
    struct pstate *ps = NULL;
    int rc;

    if (l == NULL || target == NULL || candidate == NULL || eval_id == NULL ||
        why == NULL || whycap == 0)
        return LDG_EINVAL;
    why[0] = 0;
    if ((rc = read_state(l, 0, P_ALL, 0, NULL, NULL, &t, &ps)) < 0)
        return rc;
    rc = promotion_gate(ps, target, candidate, eval_id, why, whycap);
    if (rc >= 0 && ps->err != 0)
        rc = unreadable(l, ps->err);
    ps_free(ps);
    ldg_txn_abort(t);
    return rc;
}

/* The views of ps as a bundle carries them (without "note"). */
static int
state_views(struct ldg_ledger *l, struct pstate *ps, json_t **out)
{
    json_t *o, *packs, *routes, *promos, *doc;

    *out = NULL;
    packs = view_packs(ps, NULL);
    routes = view_routes(ps);
    promos = view_promotions(ps);
    doc = doctor_state_json(ps, NULL);
    if (packs == NULL || routes == NULL || promos == NULL || doc == NULL ||
        ps->err != 0) {
        json_decref(packs);
        json_decref(routes);
        json_decref(promos);
        json_decref(doc);
        return ps->err ? unreadable(l, ps->err) : LDG_ENOMEM;
    }
    o = json_object();
    json_object_set_new(o, "size", ldg_json_u64(ps->applied));
    json_object_set_new(o, "packs", packs);
    json_object_set_new(o, "routes", routes);
    json_object_set_new(o, "promotions", promos);
    json_object_set_new(o, "doctor", doc);
    {
        /* the control pipeline's plans, when the log has any (a bundle
         * of a box without them is as before) */
        json_t *plans = view_plans(ps, NULL, 0);
        if (json_array_size(plans) > 0)
            json_object_set_new(o, "plans", plans);
        else
            json_decref(plans);
    }
    *out = o;
    return o != NULL ? 0 : LDG_ENOMEM;
}

int
ldg_projections_state_json(struct ldg_ledger *l, uint64_t at_size, json_t **out)
{
    struct ldg_txn *t = NULL;
    struct pstate *ps = NULL;
    json_t *o = NULL;
    char *note = NULL;
    int rc;

    if (l == NULL || out == NULL)
        return LDG_EINVAL;
    *out = NULL;
    if ((rc = read_state(l, at_size, P_ALL, 0, NULL, NULL, &t, &ps)) < 0)
        return rc;
    if ((rc = state_views(l, ps, &o)) < 0)
        goto out;
    rc = note_get(t, ps->applied, &note);
    if (rc < 0 && rc != LDG_ENOTFOUND)
        goto out;
    if (rc == LDG_ENOTFOUND) {
        /* No note was signed at that size (store layout 999 signs one
         * when the intake's tail is applied, not at each ack): signed
         * now, for this state, by whoever holds the log key; a reader
         * without it gets none, as before. */
        struct pdigest d[P_COUNT];
        char text[2048];
        if (ps_digest_all(ps, d) == 0 &&
            note_text_of(t, ps->applied, d, ps->last_ts, text, sizeof text) ==
                0 &&
            ldg_log_sign_note(l, text, strlen(text), &note) < 0)
            note = NULL;
    }
    rc = 0;
    json_object_set_new(o, "note", note ? json_string(note) : json_null());
    *out = o;
    o = NULL;
out:
    json_decref(o);
    free(note);
    ps_free(ps);
    ldg_txn_abort(t);
    return rc;
}

int
ldg_projections_horizon_state(struct ldg_ledger *l, uint64_t hz, json_t **state,
                              char **note)
{
    struct ldg_txn *t = NULL;
    struct pstate *ps = NULL;
    struct pdigest d[P_COUNT];
    char text[2048], *stored = NULL;
    int rc;

    if (l == NULL || state == NULL || note == NULL || hz == 0)
        return LDG_EINVAL;
    *state = NULL;
    *note = NULL;
    /* folded from the start (or the state kept at an earlier horizon):
     * the events as the log holds them now, an erased body as erased */
    if ((rc = read_state(l, hz, P_ALL, 1, NULL, NULL, &t, &ps)) < 0)
        return rc;
    if ((rc = ps_digest_all(ps, d)) < 0 ||
        (rc = note_text_of(t, hz, d, ps->last_ts, text, sizeof text)) < 0 ||
        (rc = state_views(l, ps, state)) < 0)
        goto out;
    rc = note_get(t, hz, &stored);
    if (rc < 0 && rc != LDG_ENOTFOUND)
        goto out;
    if (note_signs(stored, text)) {
        *note = stored;
        stored = NULL;
        rc = 0;
    } else {
        /* a body erased since hz changed the state of its first hz
         * events: the note signed then is not this state's */
        rc = ldg_log_sign_note(l, text, strlen(text), note);
    }
out:
    if (rc < 0) {
        json_decref(*state);
        *state = NULL;
    }
    free(stored);
    ps_free(ps);
    ldg_txn_abort(t);
    return rc;
}

/* -------------------------------------------------------------- list -- */

int
ldg_projections_records(struct ldg_ledger *l, const char *name,
                        uint64_t at_size, uint64_t *out)
{
    struct ldg_txn *t = NULL;
    struct pstate *ps = NULL;
    struct pdigest d[P_COUNT];
    struct pmeta m;
    int p = name != NULL ? proj_find(name) : -1, rc;

    if (l == NULL || out == NULL || p < 0)
        return LDG_EINVAL;
    if (at_size == 0) {
        if ((rc = ldg_txn_begin(l, LDG_TXN_READ, &t)) < 0)
            return rc;
        if ((rc = meta_read(t, (enum proj_id)p, &m)) == 0)
            *out = m.dig.count;
        ldg_txn_abort(t);
        return rc;
    }
    if ((rc = read_state(l, at_size, 1u << p, 1, NULL, NULL, &t, &ps)) < 0)
        return rc;
    if ((rc = ps_digest_all(ps, d)) == 0)
        *out = d[p].count;
    ps_free(ps);
    ldg_txn_abort(t);
    return rc;
}

int
ldg_projections_list(struct ldg_ledger *l, uint64_t at_size, json_t **out)
{
    struct ldg_txn *t = NULL;
    struct pstate *ps = NULL;
    json_t *a;
    uint64_t size, stored;
    int rc;

    if (l == NULL || out == NULL)
        return LDG_EINVAL;
    *out = NULL;
    if (at_size != 0) {
        struct pdigest d[P_COUNT];
        uint8_t dd[32];
        if ((rc = read_state(l, at_size, P_ALL, 1, NULL, NULL, &t, &ps)) < 0)
            return rc;
        if ((rc = ps_digest_all(ps, d)) < 0)
            goto out;
        doctor_inputs(dd, at_size, ps->last_ts, d);
        a = json_array();
        for (int p = 0; p < P_COUNT; p++) {
            uint8_t dg[32];
            pdigest_final(dg, (enum proj_id)p, &d[p]);
            json_array_append_new(
                a, json_pack(
                       "{s:s, s:i, s:i, s:o, s:o, s:o, s:I, s:b, s:I}", "name",
                       proj_defs[p].name, "version", (int)proj_defs[p].version,
                       "code_version", (int)proj_defs[p].version, "applied",
                       ldg_json_u64(at_size), "last_seq",
                       ldg_json_u64(at_size - 1), "digest",
                       ldg_json_hex(dg, 32), "records", (json_int_t)d[p].count,
                       "current", 1, "behind", (json_int_t)0));
        }
        json_array_append_new(a, json_pack("{s:s, s:i, s:i, s:o}", "name",
                                           "doctor", "version", V_DOCTOR,
                                           "code_version", V_DOCTOR, "digest",
                                           ldg_json_hex(dd, 32)));
        *out = a;
        goto out;
    }
    if ((rc = ldg_txn_begin(l, LDG_TXN_READ, &t)) < 0)
        return rc;
    if ((rc = ldg_txn_size(t, &size)) < 0)
        goto out;
    /* At store layout 999 the store's own events end before the intake's
     * unapplied tail, which every read folds in memory (the appliers of a
     * read-only handle fold it into what meta_read gives, too): stored
     * projections current with either end need nothing. */
    stored = size - ldg_txn_tail(t);
    a = json_array();
    for (int p = 0; p < P_COUNT; p++) {
        struct pmeta m;
        json_t *o;
        uint8_t dg[32];
        if ((rc = meta_read(t, (enum proj_id)p, &m)) < 0) {
            json_decref(a);
            goto out;
        }
        o = json_object();
        json_object_set_new(o, "name", json_string(proj_defs[p].name));
        json_object_set_new(o, "version",
                            m.present ? json_integer(m.version) : json_null());
        json_object_set_new(o, "code_version",
                            json_integer(proj_defs[p].version));
        json_object_set_new(o, "applied", ldg_json_u64(m.applied));
        json_object_set_new(o, "last_seq",
                            m.applied ? ldg_json_u64(m.applied - 1)
                                      : json_null());
        if (m.present) {
            pdigest_final(dg, (enum proj_id)p, &m.dig);
            json_object_set_new(o, "digest", ldg_json_hex(dg, 32));
        } else {
            json_object_set_new(o, "digest", json_null());
        }
        json_object_set_new(o, "records",
                            json_integer((json_int_t)m.dig.count));
        json_object_set_new(
            o, "current",
            json_boolean(m.present && m.version == proj_defs[p].version &&
                         m.applied >= stored && m.applied <= size));
        json_object_set_new(
            o, "behind", /* a count: a number */
            json_integer(
                (json_int_t)(m.applied < stored ? stored - m.applied : 0)));
        json_array_append_new(a, o);
    }
    {
        uint8_t dd[32];
        uint64_t at = size;
        int drc = doctor_inputs_stored(t, size, dd);
        json_t *o;
        if (drc == LDG_ESTALE && stored != size)
            drc = doctor_inputs_stored(t, at = stored, dd);
        o = json_object();
        if (drc < 0 && drc != LDG_ESTALE) {
            json_decref(o);
            json_decref(a);
            rc = drc;
            goto out;
        }
        json_object_set_new(o, "name", json_string("doctor"));
        json_object_set_new(o, "version", json_integer(V_DOCTOR));
        json_object_set_new(o, "code_version", json_integer(V_DOCTOR));
        json_object_set_new(o, "applied", ldg_json_u64(drc == 0 ? at : 0));
        json_object_set_new(
            o, "last_seq", drc == 0 && at ? ldg_json_u64(at - 1) : json_null());
        json_object_set_new(o, "digest",
                            drc == 0 ? ldg_json_hex(dd, 32) : json_null());
        json_object_set_new(o, "current", json_boolean(drc == 0));
        json_array_append_new(a, o);
    }
    *out = a;
out:
    ps_free(ps);
    ldg_txn_abort(t);
    return rc;
}

/* ------------------------------------------------------------ rebuild -- */

/* The digest of projection p's records as they are stored (a scan: a
 * record written behind the applier's back shows here, not in meta). */
static int
stored_digest(struct ldg_txn *t, enum proj_id p, struct pdigest *d)
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
 * signed note stored for size. */
static const char *
note_compare(const char *note, enum proj_id p, uint32_t version,
             const uint8_t dg[32])
{
    char want[128], hex[65];
    const char *line;
    if (note == NULL)
        return "none before (signed now)";
    line = note_line(note, proj_defs[p].name);
    if (line == NULL)
        return "none";
    ldg_hex(hex, dg, 32);
    snprintf(want, sizeof want, "%u %s\n", version, hex);
    return strncmp(line, want, strlen(want)) == 0 ? "matches" : "differs";
}

#define REBUILD_READAHEAD_MIN 65536 /* events */

/* Store layout 999: stored projections current with the store's own
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
    if ((rc = ps_new(&ps, l, t, 0, P_ALL)) < 0)
        return rc;
    rc = fold_range(ps, t, size - tail, size, NULL, NULL);
    if (rc == 0)
        rc = ps_digest_all(ps, d);
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
    int rc, changed;

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
            (rc = stored_digest(t, (enum proj_id)p, &scanned[p])) < 0)
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
    rc = fold_range(ps, t, 0, size0, fn, ctx);
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
    if ((rc = fold_range(ps, t, size0, size1, NULL, NULL)) < 0)
        goto fail;
    if ((rc = bring_current(t, size1, mask, NULL, NULL, &changed)) < 0)
        goto fail;
    for (int p = 0; p < P_COUNT; p++)
        if ((mask & (1u << p)) &&
            (rc = write_out(ps, t, (enum proj_id)p, size1)) < 0)
            goto fail;
    /* model_at's index of verifications goes with the models */
    if ((mask & (1u << P_MODELS)) && (rc = verified_refill(t, size1)) < 0)
        goto fail;
    /* The note signed at this size before the rebuild, if any: the new
     * state is compared with it (an upgrade that reproduces the state
     * shows "matches"). */
    rc = note_get(t, size1, &note);
    if (rc < 0 && rc != LDG_ENOTFOUND)
        goto fail;
    if ((rc = finish_size(t, size1)) < 0)
        goto fail;
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
            rep,
            json_pack(
                "{s:s, s:I, s:o, s:o, s:b, s:s}", "name", proj_defs[p].name,
                "events", (json_int_t)size1, "before",
                before[p].present ? ldg_json_hex(b, 32) : json_null(), "after",
                ldg_json_hex(a, 32), "changed",
                !before[p].present || before[p].version != after.version ||
                    memcmp(a, b, 32) != 0 || memcmp(a, m, 32) != 0 ||
                    before[p].applied != size1,
                "note", note_compare(note, (enum proj_id)p, after.version, a)));
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

/* -------------------------------------------------------------- check -- */

/* Positional JSON of a record's fields (IO order; see records.c). */
static json_t *
rec_json(const struct rtype *rt, const uint8_t *val, size_t len)
{
    void *rec = NULL;
    json_t *o;
    char *hex;
    if (rt == NULL)
        return json_null();
    o = json_object();
    json_object_set_new(o, "type", json_string(rt->name));
    if (rec_decode(rt, val, len, &rec) == 0) {
        rec_free(rt, rec);
        json_object_set_new(o, "bytes", json_integer((json_int_t)len));
    } else {
        json_object_set_new(o, "undecodable", json_true());
    }
    hex = malloc(len * 2 + 1);
    if (hex != NULL) {
        ldg_hex(hex, val, len);
        json_object_set_new(o, "hex", json_string(hex));
        free(hex);
    }
    return o;
}

static json_t *
key_json(const uint8_t *k, size_t n)
{
    /* tag ‖ parts with NUL separators; shown with '/' between parts, and
     * 8-byte sequence numbers (history) as "#N". */
    char buf[PROJ_KEY_MAX * 2 + 32];
    size_t o = 0;
    buf[o++] = (char)k[0];
    buf[o++] = ':';
    for (size_t i = 1; i < n && o + 4 < sizeof buf; i++) {
        if (k[i] == 0x00 && k[0] == TAG_PHIST && n - i - 1 == 8) {
            o += (size_t)snprintf(buf + o, sizeof buf - o, "#%llu",
                                  (unsigned long long)ldg_rd_be64(k + i + 1));
            break;
        }
        if (k[i] == 0x00)
            buf[o++] = '/';
        else if (k[i] >= 0x20 && k[i] < 0x7f)
            buf[o++] = (char)k[i];
        else
            o += (size_t)snprintf(buf + o, sizeof buf - o, "\\x%02x", k[i]);
    }
    buf[o < sizeof buf ? o : sizeof buf - 1] = '\0';
    return json_string(buf);
}

static void
add_diff(json_t *diffs, enum proj_id p, json_t *key, const char *what,
         json_t *stored, json_t *rebuilt)
{
    json_array_append_new(
        diffs, json_pack("{s:s, s:o, s:s, s:o, s:o}", "projection",
                         proj_defs[p].name, "key", key ? key : json_null(),
                         "what", what, "stored", stored ? stored : json_null(),
                         "rebuilt", rebuilt ? rebuilt : json_null()));
}

static int
compare_one(struct ldg_txn *t, struct pstate *ps, enum proj_id p, json_t *diffs)
{
    struct pentry **v = NULL;
    struct ldg_cursor *c = NULL;
    struct ldg_val k, val;
    ldg_dbi dbi;
    size_t n = 0, i = 0;
    int rc, crc;

    v = malloc((ps->n ? ps->n : 1) * sizeof *v);
    if (v == NULL)
        return LDG_ENOMEM;
    for (size_t s = 0; s < ps->cap; s++)
        if (ps->slots[s] != NULL && ps->slots[s]->rt->proj == p)
            v[n++] = ps->slots[s];
    LDG_ASSERT(n <= ps->n);
    qsort(v, n, sizeof *v, proj_cmp_entry);
    rc = ldg_db_open(t, proj_defs[p].db, 0, &dbi);
    if (rc == LDG_ENOTFOUND) {
        /* no database: no records (each one rebuilt is missing) */
        crc = LDG_ENOTFOUND;
        rc = 0;
    } else if (rc < 0) {
        free(v);
        return rc;
    } else {
        if ((rc = ldg_cursor_open(t, dbi, &c)) < 0) {
            free(v);
            return rc;
        }
        crc = ldg_cursor_get(c, LDG_FIRST, NULL, 0, &k, &val);
    }
    for (;;) {
        int cmp;
        uint8_t *enc = NULL;
        size_t elen = 0;
        if (crc != 0 && crc != LDG_ENOTFOUND) {
            rc = crc;
            break;
        }
        if (crc == LDG_ENOTFOUND && i >= n)
            break;
        if (crc == LDG_ENOTFOUND) {
            cmp = 1;
        } else if (i >= n) {
            cmp = -1;
        } else {
            size_t m = k.len < v[i]->klen ? k.len : v[i]->klen;
            cmp = memcmp(k.data, v[i]->key, m);
            if (cmp == 0)
                cmp = k.len < v[i]->klen ? -1 : k.len > v[i]->klen;
        }
        if (i < n && cmp >= 0) {
            if ((rc = rec_encode(v[i]->rt, v[i]->rec, &enc, &elen)) < 0)
                break;
        }
        if (cmp < 0) {
            add_diff(diffs, p, key_json(k.data, k.len), "only in the store",
                     rec_json(rtype_of(p, ((const uint8_t *)k.data)[0]),
                              val.data, val.len),
                     NULL);
            crc = ldg_cursor_get(c, LDG_NEXT, NULL, 0, &k, &val);
        } else if (cmp > 0) {
            add_diff(diffs, p, key_json(v[i]->key, v[i]->klen),
                     "missing from the store", NULL,
                     rec_json(v[i]->rt, enc, elen));
            i++;
        } else {
            if (elen != val.len || memcmp(enc, val.data, elen) != 0)
                add_diff(diffs, p, key_json(v[i]->key, v[i]->klen), "differs",
                         rec_json(v[i]->rt, val.data, val.len),
                         rec_json(v[i]->rt, enc, elen));
            i++;
            crc = ldg_cursor_get(c, LDG_NEXT, NULL, 0, &k, &val);
        }
        free(enc);
    }
    ldg_cursor_close(c);
    free(v);
    return rc < 0 ? rc : 0;
}

/* The signed projection notes in proj.notes, as `projections --note` and
 * bundles give them: each signed by the log key, of this log's origin and
 * of the size it is stored under, never past the log; and the one at the
 * stored state's size (at, when every projection is stored there) says
 * what the stored state is (which the caller compared with the log).
 * Differences go to diffs as {"projection": "notes", "key": size, ...}. */
/* Whether the stored note's text (n bytes at s, its lines up to the
 * blank one) names the state want names. Its header, origin and size
 * lines are want's. A projection's line "NAME VERSION DIGEST" at want's
 * version must be want's line; one at another version (or a projection
 * the note or want lacks) is a true statement of another code's fold,
 * which this code folds anew (the projection's version changed): it is
 * not compared, and then nor is the doctor's line, whose digest folds
 * every projection's. */
#define NOTE_LINES 32
static int
note_lines(const char *s, size_t n, const char **l, size_t *len)
{
    size_t k = 0;
    const char *p = s, *end = s + n;
    while (p < end && k < NOTE_LINES) {
        const char *e = memchr(p, '\n', (size_t)(end - p));
        size_t m = e != NULL ? (size_t)(e - p) : (size_t)(end - p);
        if (m == 0)
            break; /* the blank line before the signatures */
        l[k] = p;
        len[k++] = m;
        p += m + (e != NULL);
    }
    return (int)k;
}

static int
note_agrees(const char *s, size_t n, const char *want)
{
    const char *a[NOTE_LINES], *b[NOTE_LINES];
    size_t al[NOTE_LINES], bl[NOTE_LINES];
    int na = note_lines(s, n, a, al),
        nb = note_lines(want, strlen(want), b, bl);
    int same = na == nb, doctor_a = -1, doctor_b = -1;

    if (na < 3 || nb < 3)
        return 0;
    for (int i = 0; i < 3; i++) /* header, origin, size */
        if (al[i] != bl[i] || memcmp(a[i], b[i], al[i]) != 0)
            return 0;
    for (int i = 3; i < na; i++) {
        size_t an = strcspn(a[i], " "), av;
        int j;
        if (an >= al[i])
            return 0;
        if (an == 6 && memcmp(a[i], "doctor", 6) == 0) {
            doctor_a = i;
            continue;
        }
        for (j = 3; j < nb; j++)
            if (strcspn(b[j], " ") == an && memcmp(a[i], b[j], an) == 0)
                break;
        if (j == nb) { /* a projection this code has not */
            same = 0;
            continue;
        }
        av = strcspn(a[i] + an + 1, " ");
        if (av != strcspn(b[j] + an + 1, " ") ||
            memcmp(a[i] + an + 1, b[j] + an + 1, av) != 0) {
            same = 0; /* another version: not compared */
            continue;
        }
        if (al[i] != bl[j] || memcmp(a[i], b[j], al[i]) != 0)
            return 0; /* the same version, another digest */
    }
    for (int j = 3; j < nb; j++)
        if (strcspn(b[j], " ") == 6 && memcmp(b[j], "doctor", 6) == 0)
            doctor_b = j;
    if (!same)
        return 1;
    return doctor_a >= 0 && doctor_b >= 0 && al[doctor_a] == bl[doctor_b] &&
           memcmp(a[doctor_a], b[doctor_b], al[doctor_a]) == 0;
}

static int
notes_check(struct ldg_txn *t, uint64_t size, uint64_t at, json_t *diffs)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    struct ldg_cursor *c = NULL;
    struct ldg_val k, v;
    ldg_dbi dbi;
    char want[2048], head[256];
    int rc, crc, have_want;

    rc = ldg_db_open(t, NOTES_DB, 0, &dbi);
    if (rc == LDG_ENOTFOUND)
        return 0;
    if (rc < 0)
        return rc;
    have_want = note_text(t, at, want, sizeof want) == 0;
    if ((rc = ldg_cursor_open(t, dbi, &c)) < 0)
        return rc;
    for (crc = ldg_cursor_get(c, LDG_FIRST, NULL, 0, &k, &v); crc == 0;
         crc = ldg_cursor_get(c, LDG_NEXT, NULL, 0, &k, &v)) {
        const char *what = NULL;
        uint64_t ks = k.len == 8 ? ldg_rd_be64(k.data) : 0;
        size_t tlen = 0;
        char ksz[24];
        snprintf(ksz, sizeof ksz, "%llu", (unsigned long long)ks);
        snprintf(head, sizeof head, "%s\norigin %s\nsize %llu\n", NOTE_HEADER,
                 ldg_origin(l), (unsigned long long)ks);
        if (k.len != 8)
            what = "a key that is not a log size";
        else if (ks > size)
            what = "signed for a size the log has not reached";
        else if (ldg_log_verify_note(l, v.data, v.len, &tlen) != 0)
            what = "its signature does not verify with the log key";
        else if (tlen < strlen(head) || memcmp(v.data, head, strlen(head)) != 0)
            what = "its text does not name this log's origin and the size "
                   "it is stored under";
        else if (ks == at && have_want &&
                 !note_agrees((const char *)v.data, tlen, want))
            what = "its digests are not those of the stored state";
        if (what != NULL)
            json_array_append_new(diffs,
                                  json_pack("{s:s, s:s, s:s, s:n, s:n}",
                                            "projection", "notes", "key", ksz,
                                            "what", what, "stored", "rebuilt"));
    }
    ldg_cursor_close(c);
    return crc == LDG_ENOTFOUND ? 0 : crc;
}

int
ldg_projections_check_stored(struct ldg_ledger *l,
                             ldg_projections_progress_fn fn, void *ctx,
                             json_t **diffs, uint64_t *ndiff, unsigned *checked)
{
    struct ldg_txn *t = NULL;
    struct pmeta m[P_COUNT];
    unsigned mask = 0, bad = 0;
    uint64_t size = 0, at = 0;
    json_t *d = NULL;
    int rc;

    if (l == NULL || diffs == NULL || ndiff == NULL || checked == NULL)
        return LDG_EINVAL;
    *diffs = NULL;
    *ndiff = 0;
    *checked = 0;
    if ((rc = ldg_txn_begin(l, LDG_TXN_READ, &t)) < 0)
        return rc;
    if ((rc = ldg_txn_size(t, &size)) == 0) {
        /* a view answers from the store only when every projection is
         * stored at this code's version, at one size within the log (as
         * ldg_projections_view decides); otherwise from the log alone */
        mask = P_ALL;
        for (int p = 0; p < P_COUNT && rc == 0; p++) {
            if ((rc = meta_read(t, (enum proj_id)p, &m[p])) < 0)
                break;
            if (!m[p].present || m[p].version != proj_defs[p].version ||
                m[p].applied > size || (p > 0 && m[p].applied != at))
                mask = 0;
            at = m[p].applied;
        }
    }
    if (rc == 0 && (d = json_array()) == NULL)
        rc = LDG_ENOMEM;
    /* As stored: each projection's records add up to the digest its meta
     * record keeps (the applier keeps it with every change), the signed
     * notes are sound, proj.verified is what its events call for. A
     * record that differs from the log's while its digest was kept with
     * it is what `rebuild --check` finds (a fold of the whole log). */
    for (int p = 0; rc == 0 && p < P_COUNT; p++) {
        struct pdigest sd;
        if (!(mask & (1u << p)))
            continue;
        if ((rc = stored_digest(t, (enum proj_id)p, &sd)) < 0)
            break;
        if (sd.count != m[p].dig.count || memcmp(sd.acc, m[p].dig.acc, 32) != 0)
            bad |= 1u << p;
    }
    if (rc == 0)
        rc = notes_check(t, size, mask ? at : size, d);
    if (rc == 0 && (mask & (1u << P_MODELS)))
        rc = verified_check(t, d);
    if (rc == 0)
        rc = horizon_check(t, d);
    ldg_txn_abort(t);
    if (rc < 0) {
        json_decref(d);
        return rc;
    }
    *checked = mask;
    if (bad == 0) {
        *diffs = d;
        *ndiff = json_array_size(d);
        return 0;
    }
    /* a projection whose records are not what was kept: name them, by
     * the state the log gives */
    json_decref(d);
    if ((rc = ldg_projections_check(l, mask, fn, ctx, diffs, ndiff)) < 0)
        return rc;
    for (int p = 0; *ndiff == 0 && p < P_COUNT; p++)
        if (bad & (1u << p))
            add_diff(*diffs, (enum proj_id)p, NULL,
                     "the digest kept for its records is not theirs (its "
                     "meta record is damaged)",
                     NULL, NULL);
    *ndiff = json_array_size(*diffs);
    return 0;
}

int
ldg_projections_check(struct ldg_ledger *l, unsigned mask,
                      ldg_projections_progress_fn fn, void *ctx,
                      json_t **diffs_out, uint64_t *ndiff)
{
    struct ldg_txn *t = NULL;
    struct pstate *ps = NULL;
    struct pmeta m[P_COUNT];
    struct pdigest d[P_COUNT];
    uint64_t size, at = UINT64_MAX;
    json_t *diffs = NULL;
    int rc;

    if (l == NULL || diffs_out == NULL || (mask & ~P_ALL) != 0)
        return LDG_EINVAL;
    if (mask == 0)
        mask = P_ALL;
    *diffs_out = NULL;
    if ((rc = ldg_txn_begin(l, LDG_TXN_READ, &t)) < 0)
        return rc;
    if ((rc = ldg_txn_size(t, &size)) < 0)
        goto out;
    diffs = json_array();
    /* Compare at the size the store has applied (the most common). */
    for (int p = 0; p < P_COUNT; p++) {
        if ((rc = meta_read(t, (enum proj_id)p, &m[p])) < 0)
            goto out;
        if ((mask & (1u << p)) && m[p].present && at == UINT64_MAX)
            at = m[p].applied;
    }
    if (at == UINT64_MAX || at > size)
        at = size;
    for (int p = 0; p < P_COUNT; p++) {
        char buf[160];
        if (!(mask & (1u << p)))
            continue;
        if (!m[p].present) {
            add_diff(diffs, (enum proj_id)p, NULL,
                     "no stored state (never built)", NULL, NULL);
            continue;
        }
        if (m[p].version != proj_defs[p].version) {
            snprintf(buf, sizeof buf, "stored version %u, code version %u",
                     m[p].version, proj_defs[p].version);
            add_diff(diffs, (enum proj_id)p, NULL, buf, NULL, NULL);
        }
        if (m[p].applied != at) {
            snprintf(buf, sizeof buf,
                     "stored state covers %llu events, "
                     "the others %llu",
                     (unsigned long long)m[p].applied, (unsigned long long)at);
            add_diff(diffs, (enum proj_id)p, NULL, buf, NULL, NULL);
        }
    }
    if ((rc = ps_new(&ps, l, NULL, 0, mask)) < 0)
        goto out;
    if ((rc = fold_range(ps, t, 0, at, fn, ctx)) < 0)
        goto out;
    if ((rc = ps_digest_all(ps, d)) < 0)
        goto out;
    for (int p = 0; p < P_COUNT; p++) {
        uint8_t a[32], b[32];
        if (!(mask & (1u << p)) || !m[p].present)
            continue;
        if ((rc = compare_one(t, ps, (enum proj_id)p, diffs)) < 0)
            goto out;
        pdigest_final(a, (enum proj_id)p, &d[p]);
        pdigest_final(b, (enum proj_id)p, &m[p].dig);
        if (memcmp(a, b, 32) != 0)
            add_diff(diffs, (enum proj_id)p, NULL, "digest differs",
                     ldg_json_hex(b, 32), ldg_json_hex(a, 32));
    }
    if ((mask & (1u << P_MODELS)) && (rc = verified_check(t, diffs)) < 0)
        goto out;
    if ((rc = notes_check(t, size, at, diffs)) < 0)
        goto out;
    *ndiff = json_array_size(diffs);
    *diffs_out = diffs;
    diffs = NULL;
out:
    json_decref(diffs);
    ps_free(ps);
    ldg_txn_abort(t);
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
    if ((rc = fold_range(ps, t, old, hz, NULL, NULL)) < 0 ||
        (rc = ps_flush(ps)) < 0 || (rc = log_time(t, hz, &ts)) < 0 ||
        (rc = note_text_of(t, hz, ps->dig, ts, text, sizeof text)) < 0)
        goto out;
    if (note == NULL) {
        /* the note signed at hz, when it is this state's; else one signed
         * now (a body erased since changed the state at hz) */
        rc = note_get(t, hz, &mine);
        if (rc < 0 && rc != LDG_ENOTFOUND)
            goto out;
        if (!note_signs(mine, text)) {
            free(mine);
            mine = NULL;
            if ((rc = ldg_log_sign_note(l, text, strlen(text), &mine)) < 0)
                goto out;
        }
        note = mine;
    } else if (!note_signs(note, text)) {
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
