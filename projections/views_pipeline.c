/*
 * views_pipeline.c — JSON renderings of the control pipeline's
 * projections (issue 34): plans, snapshots, tripcodes, memory items and
 * the success gates. Layouts in docs/PROJECTIONS.md.
 */
#include <stdlib.h>
#include <string.h>

#include "projections/proj_int.h"

static json_t *
seq_or_null(uint64_t seq)
{
    return seq ? ldg_json_u64(seq) : json_null();
}

static json_t *
viols_json(const struct viols *v)
{
    json_t *a = json_array();
    for (uint32_t i = 0; i < v->n; i++)
        json_array_append_new(
            a, json_pack("{s:o, s:s, s:s}", "seq", ldg_json_u64(v->v[i].seq),
                         "rule", v->v[i].rule ? v->v[i].rule : "?", "detail",
                         v->v[i].detail ? v->v[i].detail : ""));
    return a;
}

static const char *
debate_word(uint8_t d)
{
    return d == DD_ACCEPT   ? "ACCEPT"
           : d == DD_REJECT ? "REJECT"
           : d == DD_ERROR  ? "ERROR"
                            : NULL;
}

/* The debate that gated a plan or an item: {decision, debate, seq}, or
 * null when none decided. */
static json_t *
debate_json(const struct pdebate *d)
{
    return debate_word(d->dec)
               ? json_pack("{s:s, s:s?, s:o}", "decision", debate_word(d->dec),
                           "debate", d->id, "seq", ldg_json_u64(d->seq))
               : json_null();
}

static json_t *
plan_json(const struct rec_plan *p)
{
    json_t *o = json_object(), *path = json_array();
    for (uint32_t i = 0; i < p->path.n; i++)
        json_array_append_new(path, json_string(p->path.v[i]));
    json_object_set_new(o, "plan", json_string(p->plan));
    json_object_set_new(o, "state", json_string(plan_state_name(p->state)));
    json_object_set_new(o, "state_seq", seq_or_null(p->state_seq));
    json_object_set_new(o, "path", path);
    json_object_set_new(o, "intent", sv_json(p->intent));
    json_object_set_new(o, "plan_hash", sv_json(p->plan_hash));
    json_object_set_new(o, "reason", sv_json(p->reason));
    json_object_set_new(o, "first_seq", ldg_json_u64(p->first_seq));
    json_object_set_new(o, "last_seq", ldg_json_u64(p->last_seq));
    json_object_set_new(o, "start", time_json(p->first_ts));
    json_object_set_new(o, "end", time_json(p->last_ts));
    json_object_set_new(o, "debate", debate_json(&p->debate));
    json_object_set_new(o, "verified_seq", seq_or_null(p->verified_seq));
    json_object_set_new(o, "promoted_seq", seq_or_null(p->promoted_seq));
    json_object_set_new(o, "aborted_seq", seq_or_null(p->aborted_seq));
    json_object_set_new(o, "steps",
                        json_pack("{s:I, s:I, s:I, s:I}", "total",
                                  (json_int_t)p->steps, "ok",
                                  (json_int_t)p->steps_ok, "failed",
                                  (json_int_t)p->steps_failed, "skipped",
                                  (json_int_t)p->steps_skipped));
    json_object_set_new(o, "snapshots", json_integer((json_int_t)p->snapshots));
    json_object_set_new(o, "snapshots_restored",
                        json_integer((json_int_t)p->snaps_restored));
    json_object_set_new(o, "tripcodes", json_integer((json_int_t)p->tripcodes));
    json_object_set_new(o, "tripcodes_refused",
                        json_integer((json_int_t)p->trips_refused));
    json_object_set_new(o, "violations", viols_json(&p->viols));
    json_object_set_new(o, "violations_total",
                        json_integer((json_int_t)p->viols.total));
    return o;
}

/* One record of tag by key, or the whole list, as a JSON array; with
 * keep, only the records it says yes to (the others cost a decode, no
 * JSON). */
static json_t *
list_view(struct pstate *ps, enum proj_id proj, uint8_t tag, const char *only,
          json_t *(*fn)(const void *rec), int (*keep)(const void *rec))
{
    struct pentry **v = NULL;
    size_t n = 0;
    json_t *a = json_array();
    if (a == NULL)
        return NULL;
    if (only != NULL) {
        uint8_t key[PROJ_KEY_MAX + 1];
        struct ldg_slice s = {only, strlen(only)};
        size_t kl = pkey(key, tag, &s, 1);
        const void *r = ps_get(ps, proj, key, kl);
        if (r != NULL && (keep == NULL || keep(r)))
            json_array_append_new(a, fn(r));
        return a;
    }
    if (ps_list(ps, proj, tag, &v, &n) < 0) {
        json_decref(a);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        if (keep == NULL || keep(v[i]->rec))
            json_array_append_new(a, fn(v[i]->rec));
    free(v);
    return a;
}

static json_t *
plan_fn(const void *r)
{
    return plan_json(r);
}

static int
plan_flagged(const void *r)
{
    return ((const struct rec_plan *)r)->viols.total > 0;
}

json_t *
view_plans(struct pstate *ps, const char *only, int flagged)
{
    return list_view(ps, P_PLANS, TAG_PLAN, only, plan_fn,
                     flagged ? plan_flagged : NULL);
}

static json_t *
snap_fn(const void *rec)
{
    const struct rec_snap *r = rec;
    return json_pack(
        "{s:s, s:o, s:o, s:o, s:o, s:I, s:o, s:o}", "snapshot", r->snapshot,
        "label", sv_json(r->label), "plan", sv_json(r->plan), "reason",
        sv_json(r->reason), "taken_seq", seq_or_null(r->taken_seq), "restores",
        (json_int_t)r->restores, "restored_seq", seq_or_null(r->restored_seq),
        "taken", r->taken_seq ? time_json(r->taken_ts) : json_null());
}

json_t *
view_snapshots(struct pstate *ps)
{
    return list_view(ps, P_PLANS, TAG_SNAP, NULL, snap_fn, NULL);
}

static json_t *
trip_fn(const void *rec)
{
    const struct rec_trip *r = rec;
    return json_pack(
        "{s:s, s:I, s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:I, "
        "s:o}",
        "code", r->code, "uses", (json_int_t)r->uses, "spent",
        (json_int_t)r->consumed, "refusals", (json_int_t)r->refusals,
        "used_seq", seq_or_null(r->used_seq), "used",
        r->used_seq ? time_json(r->used_ts) : json_null(), "payload_ts",
        r->used_seq ? json_integer((json_int_t)r->payload_ts) : json_null(),
        "plan", sv_json(r->plan), "sig", sv_json(r->sig), "refused_seq",
        seq_or_null(r->refused_seq), "refused_reason",
        sv_json(r->refused_reason), "used_ns",
        r->used_seq ? ldg_json_u64(r->used_ts) : json_null(), "replays",
        (json_int_t)r->replays, "replay_seq", seq_or_null(r->replay_seq));
}

json_t *
view_tripcodes(struct pstate *ps, const char *only)
{
    return list_view(ps, P_PLANS, TAG_TRIP, only, trip_fn, NULL);
}

static const char *
mstatus_name(uint8_t s)
{
    return s == MS_ADMITTED  ? "admitted"
           : s == MS_REVOKED ? "revoked"
           : s == MS_PURGED  ? "purged"
                             : "candidate";
}

static json_t *
mitem_fn(const void *rec)
{
    const struct rec_mitem *m = rec;
    json_t *o = json_object(), *gates = json_object(), *passed = json_array();
    json_t *prov = NULL;
    for (int g = 0; g < MG_COUNT; g++) {
        const char *st = m->gate[g] == TRI_OK     ? "passed"
                         : m->gate[g] == TRI_FAIL ? "failed"
                                                  : NULL;
        if (g == MG_DEBATE && st == NULL && m->debate.dec == DD_ACCEPT)
            st = "passed"; /* by the debate's own decision */
        json_object_set_new(
            gates, mgate_name(g),
            st ? json_pack(
                     "{s:s, s:o}", "status", st, "seq",
                     ldg_json_u64(m->gate[g] ? m->gate_seq[g] : m->debate.seq))
               : json_null());
        if (st != NULL && strcmp(st, "passed") == 0)
            json_array_append_new(passed, json_string(mgate_name(g)));
    }
    if (m->provenance != NULL)
        prov = json_loads(m->provenance, JSON_DECODE_ANY, NULL);
    json_object_set_new(o, "item", json_string(m->item));
    json_object_set_new(o, "status", json_string(mstatus_name(m->status)));
    json_object_set_new(o, "hash", sv_json(m->hash));
    json_object_set_new(o, "provenance", prov ? prov : json_null());
    json_object_set_new(o, "erased", json_boolean(m->erased));
    json_object_set_new(o, "candidate_seq", seq_or_null(m->candidate_seq));
    json_object_set_new(o, "gates", gates);
    json_object_set_new(o, "passed", passed);
    json_object_set_new(o, "debate", debate_json(&m->debate));
    json_object_set_new(o, "admitted_seq", seq_or_null(m->admitted_seq));
    json_object_set_new(o, "revoked_seq", seq_or_null(m->revoked_seq));
    json_object_set_new(o, "purged_seq", seq_or_null(m->purged_seq));
    json_object_set_new(o, "reason", sv_json(m->reason));
    json_object_set_new(o, "last_seq", ldg_json_u64(m->last_seq));
    json_object_set_new(o, "violations", viols_json(&m->viols));
    json_object_set_new(o, "violations_total",
                        json_integer((json_int_t)m->viols.total));
    return o;
}

static int
mitem_flagged(const void *r)
{
    return ((const struct rec_mitem *)r)->viols.total > 0;
}

json_t *
view_memory(struct pstate *ps, const char *only, int flagged)
{
    return list_view(ps, P_MEMORY, TAG_MITEM, only, mitem_fn,
                     flagged ? mitem_flagged : NULL);
}

/* ------------------------------------------------------------- gates -- */

/* The success gates of the seed design, computed from the builds
 * projection over the events at or after since_ns:
 *   promotion-success       promotions not reverted / promotions >= 99.5%
 *   errors-after-promotion  0 error events in the 10 minutes after each
 *   no-direct-blue-writes   0 writes to the Blue slot
 *   deterministic-artifacts 0 inputs whose builds gave differing digests
 * A gate with nothing to judge (no promotion, no build twice) is
 * "unknown", which is not a pass. */
json_t *
view_gates(struct pstate *ps, uint64_t since_ns)
{
    struct pentry **v = NULL;
    size_t n = 0;
    uint64_t promos = 0, reverted = 0, errors = 0, blue = 0, twice = 0;
    uint64_t differ = 0;
    json_t *g = json_array(), *ev_rev = json_array(), *ev_err = json_array();
    json_t *ev_blue = json_array(), *ev_det = json_array(), *o;
    const char *overall = "pass";

    if (ps_list(ps, P_BUILDS, TAG_BPROMO, &v, &n) < 0)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        const struct rec_bpromo *r = v[i]->rec;
        if (r->ts < since_ns)
            continue;
        promos++;
        if (r->reverted_seq) {
            reverted++;
            json_array_append_new(
                ev_rev,
                json_pack("{s:o, s:s, s:o}", "seq", ldg_json_u64(r->seq),
                          "artifact_digest", r->artifact ? r->artifact : "?",
                          "reverted_seq", ldg_json_u64(r->reverted_seq)));
        }
        if (r->errors) {
            errors += r->errors;
            json_array_append_new(
                ev_err,
                json_pack("{s:o, s:I, s:o}", "seq", ldg_json_u64(r->seq),
                          "errors", (json_int_t)r->errors, "first_error_seq",
                          ldg_json_u64(r->first_error_seq)));
        }
    }
    free(v);
    v = NULL;
    if (ps_list(ps, P_BUILDS, TAG_BBLUE, &v, &n) < 0)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        const struct rec_bblue *r = v[i]->rec;
        if (r->ts < since_ns)
            continue;
        blue++;
        json_array_append_new(
            ev_blue,
            json_pack("{s:o, s:s, s:s, s:o}", "seq", ldg_json_u64(r->seq),
                      "type", r->type ? r->type : "?", "what",
                      r->what ? r->what : "?", "plan", sv_json(r->plan)));
    }
    free(v);
    v = NULL;
    if (ps_list(ps, P_BUILDS, TAG_BINPUT, &v, &n) < 0)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        const struct rec_binput *r = v[i]->rec;
        /* builds before since are not evidence for the window; a pair
         * that differs inside it is */
        if (r->builds < 2 || (r->differ == 0 && r->first_ts < since_ns) ||
            (r->differ && r->differ_ts < since_ns))
            continue;
        twice++;
        if (r->differ) {
            differ++;
            json_array_append_new(
                ev_det,
                json_pack("{s:s, s:s, s:o, s:s, s:o}", "inputs_digest",
                          r->inputs, "first_digest", r->first_digest,
                          "first_seq", ldg_json_u64(r->first_seq), "digest",
                          r->differ_digest ? r->differ_digest : "?", "seq",
                          ldg_json_u64(r->differ_seq)));
        }
    }
    free(v);
    v = NULL;

#define GATE(name, value, thr, status, ev)                                     \
    json_array_append_new(g, json_pack("{s:s, s:o, s:s, s:s, s:o}", "gate",    \
                                       (name), "value", (value), "threshold",  \
                                       (thr), "status", (status), "evidence",  \
                                       (ev)))
    {
        const char *st = promos == 0 ? "unknown"
                         : (double)(promos - reverted) >= 0.995 * (double)promos
                             ? "pass"
                             : "fail";
        GATE("promotion-success",
             promos ? json_real(100.0 * (double)(promos - reverted) /
                                (double)promos)
                    : json_null(),
             ">= 99.5 %", st, ev_rev);
        if (strcmp(st, "fail") == 0)
            overall = "fail";
        else if (strcmp(st, "unknown") == 0 && strcmp(overall, "pass") == 0)
            overall = "unknown";
    }
    GATE("errors-after-promotion", json_integer((json_int_t)errors),
         "0 in 10 min after each",
         promos == 0 ? "unknown"
         : errors    ? "fail"
                     : "pass",
         ev_err);
    if (errors)
        overall = "fail";
    GATE("no-direct-blue-writes", json_integer((json_int_t)blue), "0",
         blue ? "fail" : "pass", ev_blue);
    if (blue)
        overall = "fail";
    GATE("deterministic-artifacts", json_integer((json_int_t)differ),
         "0 inputs built unalike",
         twice == 0 ? "unknown"
         : differ   ? "fail"
                    : "pass",
         ev_det);
    if (differ)
        overall = "fail";
    else if (twice == 0 && strcmp(overall, "pass") == 0)
        overall = "unknown";
#undef GATE
    o = json_pack("{s:o, s:I, s:s, s:o}", "since",
                  since_ns ? time_json(since_ns) : json_null(), "promotions",
                  (json_int_t)promos, "status", overall, "gates", g);
    return o;
fail:
    free(v);
    json_decref(g);
    json_decref(ev_rev);
    json_decref(ev_err);
    json_decref(ev_blue);
    json_decref(ev_det);
    return NULL;
}
