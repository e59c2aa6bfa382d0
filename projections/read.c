/*
 * read.c — the projections read as of a log size: one view, the doctor's
 * answer for a range, the whole state, the list of records.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "projections/proj_int.h"
#include "projections/engine_int.h"

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
    if ((rc = eng_fold_range(ps, t, from, size, fn, ctx)) < 0)
        goto fail;
    ps->applied = size;
    if ((rc = eng_log_time(t, size, &ps->last_ts)) < 0)
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
    int rc;

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
        /* the projection names an event not read: damage */
        if ((rc = ldg_signer_json(t, strtoull(s, NULL, 10), &sg)) < 0)
            return ldg_as_damage(rc);
        json_object_set_new(r, "signer", sg);
        if ((rc = ldg_event_get(t, strtoull(s, NULL, 10), &ev)) < 0)
            return ldg_as_damage(rc);
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
            eng_doctor_inputs(dd, ps->applied, ps->last_ts, d);
            json_object_set_new(v, "digest", ldg_json_hex(dd, 32));
        }
    } else if (eng_doctor_inputs_stored(t, ps->applied, dd) == 0) {
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
        if ((rc = eng_fold_range(ps, t, at, at + 1, NULL, NULL)) < 0)
            goto out;
        ps->applied = at + 1;
        if ((rc = eng_log_time(t, at + 1, &ps->last_ts)) < 0)
            goto out;
    }
    if (rc > 0)
        rc = 0;
out:
    ps_free(ps);
    ldg_txn_abort(t);
    return rc;
}

/* Whether what filter f names is there, for a view narrowed to it that
 * came out empty: a pack with no permissions, a plan or item that is not
 * flagged (an empty list, exit 0), not "no such pack". */
static int
named_exists(struct pstate *ps, enum ldg_proj_view view, const char *f)
{
    json_t *v = view == LDG_VIEW_PERMISSIONS ? view_packs(ps, f)
                : view == LDG_VIEW_PLANS     ? view_plans(ps, f, 0)
                : view == LDG_VIEW_MEMORY    ? view_memory(ps, f, 0)
                                             : NULL;
    int yes = json_array_size(v) > 0;
    json_decref(v);
    return yes;
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
        json_array_size(v) == 0 && !named_exists(ps, view, f)) {
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
    rc = eng_note_get(t, ps->applied, &note);
    if (rc < 0 && rc != LDG_ENOTFOUND)
        goto out;
    if (rc == LDG_ENOTFOUND) {
        /* No note is stored at that size (at store layout 9: a frame
         * from a writer without the projections, or one applied by a
         * process without them): signed now, for this state, by whoever
         * holds the log key; a reader without it gets none, as before. */
        struct pdigest d[P_COUNT];
        char text[2048];
        if (ps_digest_all(ps, d) == 0 &&
            eng_note_text_of(t, ps->applied, d, ps->last_ts, text,
                             sizeof text) == 0 &&
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
        (rc = eng_note_text_of(t, hz, d, ps->last_ts, text, sizeof text)) < 0 ||
        (rc = state_views(l, ps, state)) < 0)
        goto out;
    rc = eng_note_get(t, hz, &stored);
    if (rc < 0 && rc != LDG_ENOTFOUND)
        goto out;
    if (eng_note_signs(stored, text)) {
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
        eng_doctor_inputs(dd, at_size, ps->last_ts, d);
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
    /* At store layout 9 the store's own events end before the intake's
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
        int drc = eng_doctor_inputs_stored(t, size, dd);
        json_t *o;
        if (drc == LDG_ESTALE && stored != size)
            drc = eng_doctor_inputs_stored(t, at = stored, dd);
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
