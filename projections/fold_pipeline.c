/*
 * fold_pipeline.c — the control pipeline's projections (issue 34):
 * plans (with their snapshots and tripcodes), memory items, and builds
 * with the success gates. One event in, records updated, as in fold.c.
 *
 * The rules each record checks are the promises of the box's control
 * pipeline (docs/PROJECTIONS.md, "Control pipeline"). A broken promise is
 * never a refusal: the event is in the log, and the record carries a
 * violation naming the event's seq and the rule, so `ledger plans` and
 * `ledger memory` show what happened and where.
 *
 * Everything here depends only on the events, in log order: a rule that
 * needs an earlier fact (a snapshot before a T2 step, an accepted
 * tripcode before a T3 step) reads the record that fact left, which is in
 * the same projection so a rebuild of one projection alone sees it too.
 * Memory items and debates about them are in "memory"; debates about
 * plans, snapshots and tripcodes are in "plans"; builds, probes and the
 * error window after a promotion are in "builds".
 *
 * Erased bodies: a memory.candidate whose body was erased (a purge) still
 * names its item by its subject (memory:ITEM) and leaves an item without
 * hash or provenance, marked erased; other pipeline events without a
 * body are skipped, as in fold.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "projections/proj_int.h"

/* Sets *dst from an optional string field; leaves it when absent. */
static int
keep_field(char **dst, const struct ldg_body_view *b, const char *name)
{
    struct ldg_slice s;
    if (ldg_body_view_str(b, name, &s))
        return set_sv(dst, s);
    return 0;
}

/* Adds a violation (the first PROJ_VIOL_MAX are kept, all are counted). */
static int viol_add(struct viols *v, uint64_t seq, const char *rule,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int
viol_add(struct viols *v, uint64_t seq, const char *rule, const char *fmt, ...)
{
    char detail[512];
    struct pviol *nv;
    va_list ap;

    v->total++;
    if (v->n >= PROJ_VIOL_MAX)
        return 0;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    nv = realloc(v->v, (v->n + 1) * sizeof *nv);
    if (nv == NULL)
        return LDG_ENOMEM;
    v->v = nv;
    nv[v->n].seq = seq;
    nv[v->n].rule = dup_sv(svs(rule));
    nv[v->n].detail = dup_sv(svs(detail));
    if (nv[v->n].rule == NULL || nv[v->n].detail == NULL) {
        free(nv[v->n].rule);
        free(nv[v->n].detail);
        return LDG_ENOMEM;
    }
    v->n++;
    return 0;
}

static const char *const plan_states[] = {
    "", "IDLE", "PLAN", "DEBATE_PLAN", "SIMULATE", "VERIFY", "PROMOTE", "ABORT",
};

const char *
plan_state_name(uint8_t s)
{
    return s < sizeof plan_states / sizeof plan_states[0] && s != PL_NONE
               ? plan_states[s]
               : "NONE";
}

static uint8_t
plan_state_of(struct ldg_slice s)
{
    for (uint8_t i = PL_IDLE; i <= PL_ABORT; i++)
        if (sv_eq(s, plan_states[i]))
            return i;
    return PL_NONE;
}

static const char *const mgates[MG_COUNT] = {"sanitize", "debate", "validators",
                                             "quarantine"};

const char *
mgate_name(int g)
{
    return g >= 0 && g < MG_COUNT ? mgates[g] : "?";
}

static uint8_t
debate_of(struct ldg_slice s)
{
    return sv_eq(s, "ACCEPT")   ? DD_ACCEPT
           : sv_eq(s, "REJECT") ? DD_REJECT
           : sv_eq(s, "ERROR")  ? DD_ERROR
                                : DD_NONE;
}

static const char *
debate_name(uint8_t d)
{
    return d == DD_ACCEPT   ? "ACCEPT"
           : d == DD_REJECT ? "REJECT"
           : d == DD_ERROR  ? "ERROR"
                            : "none";
}

/* ------------------------------------------------------------- plans -- */

static struct rec_plan *
plan_get(struct pstate *ps, struct ldg_slice name)
{
    uint8_t key[PROJ_KEY_MAX + 1];
    size_t kl = KEY1(key, TAG_PLAN, name);
    return ps_get(ps, P_PLANS, key, kl);
}

static struct rec_plan *
plan_upd(struct pstate *ps, const struct penv *e, struct ldg_slice name)
{
    uint8_t key[PROJ_KEY_MAX + 1];
    size_t kl = KEY1(key, TAG_PLAN, name);
    struct rec_plan *p = ps_upd(ps, P_PLANS, key, kl);
    if (p == NULL)
        return NULL;
    if (p->plan == NULL && set_sv(&p->plan, name) < 0)
        return NULL;
    if (p->first_seq == 0) {
        p->first_seq = e->seq;
        p->first_ts = e->ts;
    }
    p->last_seq = e->seq;
    p->last_ts = e->ts;
    return p;
}

/* Is from → to a step of IDLE → PLAN → DEBATE_PLAN → SIMULATE → VERIFY →
 * PROMOTE? ABORT is legal from anywhere before the end, PLAN (a re-plan)
 * from any state before the end; PROMOTE has its own rule. */
static int
transition_ok(uint8_t from, uint8_t to)
{
    if (to == PL_ABORT || to == PL_PLAN)
        return 1;
    if (to == PL_IDLE)
        return from == PL_NONE;
    return from != PL_NONE && to == from + 1;
}

static int
fold_plan_state(struct pstate *ps, const struct penv *e,
                const struct ldg_body_view *b, struct rec_plan *p)
{
    struct ldg_slice s;
    uint8_t to, from = p->state;
    int passed = 0, has_passed, rc;

    if (!ldg_body_view_str(b, "state", &s) || (to = plan_state_of(s)) == 0)
        return 0;
    has_passed = ldg_body_view_bool(b, "passed", &passed);
    if (from == PL_ABORT || from == PL_PROMOTE) {
        if ((rc = viol_add(&p->viols, e->seq, "after-end",
                           "%s after the plan ended with %s at seq %llu",
                           plan_state_name(to), plan_state_name(from),
                           (unsigned long long)p->state_seq)) < 0)
            return rc;
    } else if (to != PL_PROMOTE && !transition_ok(from, to)) {
        if ((rc = viol_add(&p->viols, e->seq, "illegal-transition",
                           "%s -> %s is not a step of IDLE -> PLAN -> "
                           "DEBATE_PLAN -> SIMULATE -> VERIFY -> PROMOTE",
                           plan_state_name(from), plan_state_name(to))) < 0)
            return rc;
    }
    if (p->failed_seq != 0 && to != PL_ABORT) {
        if ((rc = viol_add(&p->viols, e->seq, "abort-on-failure",
                           "the failed check at seq %llu was followed by %s, "
                           "not ABORT",
                           (unsigned long long)p->failed_seq,
                           plan_state_name(to))) < 0)
            return rc;
        p->failed_seq = 0;
    }
    if (to == PL_SIMULATE && p->debate.dec != DD_ACCEPT) {
        rc = p->debate.dec == DD_NONE
                 ? viol_add(&p->viols, e->seq, "debate-not-accepted",
                            "SIMULATE without a debate.decided ACCEPT for "
                            "plan:%s since the plan was made",
                            p->plan)
                 : viol_add(&p->viols, e->seq, "debate-not-accepted",
                            "SIMULATE after debate %s decided %s at seq %llu",
                            p->debate.id ? p->debate.id : "?",
                            debate_name(p->debate.dec),
                            (unsigned long long)p->debate.seq);
        if (rc < 0)
            return rc;
    }
    if (to == PL_PROMOTE && p->verified_seq == 0) {
        if (p->change_seq != 0)
            rc = viol_add(&p->viols, e->seq, "promote-without-verify",
                          "no passing VERIFY after the last change at seq "
                          "%llu",
                          (unsigned long long)p->change_seq);
        else
            rc = viol_add(&p->viols, e->seq, "promote-without-verify",
                          "no passing VERIFY before PROMOTE");
        if (rc < 0)
            return rc;
    }
    switch (to) {
    case PL_PLAN:
        p->change_seq = e->seq;
        p->verified_seq = 0;
        p->debate.dec = DD_NONE; /* a new plan needs its own debate */
        p->debate.seq = 0;
        break;
    case PL_SIMULATE:
    case PL_VERIFY:
        if (has_passed && passed) {
            if (to == PL_VERIFY)
                p->verified_seq = e->seq;
        } else if (has_passed) {
            p->failed_seq = e->seq;
            if (to == PL_VERIFY)
                p->verified_seq = 0;
        }
        break;
    case PL_PROMOTE:
        p->promoted_seq = e->seq;
        break;
    case PL_ABORT:
        p->aborted_seq = e->seq;
        p->failed_seq = 0;
        break;
    default:
        break;
    }
    if (from != PL_ABORT && from != PL_PROMOTE) {
        p->state = to;
        p->state_seq = e->seq;
    }
    if (p->path.n < PROJ_LIST_MAX) {
        const char *n = plan_state_name(to);
        if ((rc = strlist_add(&p->path, n, strlen(n))) < 0)
            return rc;
    }
    if ((rc = keep_field(&p->intent, b, "intent")) < 0 ||
        (rc = keep_field(&p->plan_hash, b, "plan_hash")) < 0 ||
        (rc = keep_field(&p->reason, b, "reason")) < 0)
        return rc;
    return 0;
}

static int
tier_of(struct ldg_slice s)
{
    return s.n == 2 && s.p[0] == 'T' && s.p[1] >= '0' && s.p[1] <= '3'
               ? s.p[1] - '0'
               : -1;
}

static int
fold_plan_step(struct pstate *ps, const struct penv *e,
               const struct ldg_body_view *b, struct rec_plan *p)
{
    struct ldg_slice s, step, tier_s, ref;
    int tier = -1, rc;
    uint8_t key[PROJ_KEY_MAX + 1];
    size_t kl;

    if (!ldg_body_view_str(b, "step", &step))
        step = svs("?");
    if (ldg_body_view_str(b, "tier", &tier_s))
        tier = tier_of(tier_s);
    p->steps++;
    if (ldg_body_view_str(b, "status", &s)) {
        if (sv_eq(s, "ok")) {
            p->steps_ok++;
            /* a step that changed something before the promotion: the
             * plan must be verified again (the promotion's own steps
             * come after PROMOTE) */
            if (tier >= 1 && p->state != PL_PROMOTE) {
                p->change_seq = e->seq;
                p->verified_seq = 0;
            }
        } else if (sv_eq(s, "failed")) {
            p->steps_failed++;
        } else if (sv_eq(s, "skipped")) {
            p->steps_skipped++;
        }
    }
    if (p->aborted_seq != 0 &&
        (rc = viol_add(&p->viols, e->seq, "step-after-abort",
                       "step %.*s after ABORT at seq %llu", (int)step.n, step.p,
                       (unsigned long long)p->aborted_seq)) < 0)
        return rc;
    if (ldg_body_view_str(b, "slot", &s) && sv_eq(s, "blue") &&
        (rc = viol_add(&p->viols, e->seq, "mutate-blue",
                       "step %.*s writes to Blue directly (build Green from "
                       "golden and promote it)",
                       (int)step.n, step.p)) < 0)
        return rc;
    if (tier == 2) {
        const struct rec_snap *sn = NULL;
        if (ldg_body_view_str(b, "snapshot", &ref)) {
            kl = KEY1(key, TAG_SNAP, ref);
            sn = ps_get(ps, P_PLANS, key, kl);
            if (ps->err)
                return ps->err;
        }
        if (sn == NULL || sn->taken_seq == 0) {
            rc = ldg_body_view_str(b, "snapshot", &ref)
                     ? viol_add(&p->viols, e->seq, "t2-without-snapshot",
                                "T2 step %.*s names snapshot %.*s, which "
                                "was never taken before it",
                                (int)step.n, step.p, (int)ref.n, ref.p)
                     : viol_add(&p->viols, e->seq, "t2-without-snapshot",
                                "T2 step %.*s names no snapshot", (int)step.n,
                                step.p);
            if (rc < 0)
                return rc;
        }
    } else if (tier == 3) {
        struct rec_trip *tc = NULL;
        if (ldg_body_view_str(b, "tripcode", &ref)) {
            kl = KEY1(key, TAG_TRIP, ref);
            if (ps_get(ps, P_PLANS, key, kl) != NULL)
                tc = ps_upd(ps, P_PLANS, key, kl);
            if (ps->err)
                return ps->err;
        }
        if (tc != NULL && tc->uses > tc->consumed) {
            tc->consumed++; /* one accepted use, one T3 step */
        } else {
            if (tc == NULL && !ldg_body_view_str(b, "tripcode", &ref))
                rc = viol_add(&p->viols, e->seq, "t3-without-tripcode",
                              "T3 step %.*s names no tripcode", (int)step.n,
                              step.p);
            else if (tc == NULL || tc->uses == 0)
                rc = viol_add(&p->viols, e->seq, "t3-without-tripcode",
                              "T3 step %.*s names tripcode %.*s, which was "
                              "never accepted before it",
                              (int)step.n, step.p, (int)ref.n, ref.p);
            else
                rc = viol_add(&p->viols, e->seq, "t3-without-tripcode",
                              "T3 step %.*s: every accepted use of tripcode "
                              "%.*s was already spent by an earlier T3 step",
                              (int)step.n, step.p, (int)ref.n, ref.p);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

int
fold_snapshot(struct pstate *ps, const struct penv *e,
              const struct ldg_body_view *b)
{
    uint8_t key[PROJ_KEY_MAX + 1];
    struct ldg_slice name, plan;
    struct rec_snap *r;
    size_t kl;
    int rc;

    if (!ldg_body_view_str(b, "snapshot", &name))
        return 0;
    kl = KEY1(key, TAG_SNAP, name);
    if ((r = ps_upd(ps, P_PLANS, key, kl)) == NULL)
        return ps->err ? ps->err : LDG_ENOMEM;
    if (r->snapshot == NULL && (rc = set_sv(&r->snapshot, name)) < 0)
        return rc;
    if (e->type == T_SNAPSHOT_TAKEN) {
        r->taken_seq = e->seq;
        r->taken_ts = e->ts;
    } else {
        r->restored_seq = e->seq;
        r->restores++;
    }
    if ((rc = keep_field(&r->label, b, "label")) < 0 ||
        (rc = keep_field(&r->plan, b, "plan")) < 0 ||
        (rc = keep_field(&r->reason, b, "reason")) < 0)
        return rc;
    /* a plan counts the snapshot events that name it, taken or
     * restored, as its timeline shows them */
    if (ldg_body_view_str(b, "plan", &plan) && plan_get(ps, plan) != NULL) {
        struct rec_plan *p = plan_upd(ps, e, plan);
        if (p == NULL)
            return ps->err ? ps->err : LDG_ENOMEM;
        p->snapshots++;
        if (e->type != T_SNAPSHOT_TAKEN)
            p->snaps_restored++;
    }
    return ps->err;
}

int
fold_tripcode(struct pstate *ps, const struct penv *e,
              const struct ldg_body_view *b)
{
    uint8_t key[PROJ_KEY_MAX + 1];
    struct ldg_slice code, plan;
    struct rec_trip *r;
    int64_t ts;
    size_t kl;
    int rc;

    if (!ldg_body_view_str(b, "code", &code))
        return 0;
    kl = KEY1(key, TAG_TRIP, code);
    if ((r = ps_upd(ps, P_PLANS, key, kl)) == NULL)
        return ps->err ? ps->err : LDG_ENOMEM;
    if (r->code == NULL && (rc = set_sv(&r->code, code)) < 0)
        return rc;
    if (e->type == T_TRIPCODE_USED) {
        struct ldg_slice sig;
        int have_ts = ldg_body_view_int(b, "ts", &ts);
        if (r->uses > 0 && ((ldg_body_view_str(b, "sig", &sig) &&
                             r->sig != NULL && sv_eq(sig, r->sig)) ||
                            (have_ts && ts <= r->payload_ts))) {
            r->replays++;
            r->replay_seq = e->seq;
        }
        r->uses++;
        r->used_seq = e->seq;
        r->used_ts = e->ts;
        r->payload_ts = ldg_body_view_int(b, "ts", &ts) ? ts : 0;
        if ((rc = keep_field(&r->sig, b, "sig")) < 0 ||
            (rc = keep_field(&r->plan, b, "plan")) < 0)
            return rc;
        if (ldg_body_view_str(b, "plan", &plan) && plan_get(ps, plan)) {
            struct rec_plan *p = plan_upd(ps, e, plan);
            if (p == NULL)
                return ps->err ? ps->err : LDG_ENOMEM;
            p->tripcodes++;
        }
    } else {
        struct ldg_slice why;
        r->refusals++;
        r->refused_seq = e->seq;
        if (ldg_body_view_str(b, "reason", &why) &&
            (rc = set_sv(&r->refused_reason, why)) < 0)
            return rc;
        /* a refusal for the plan is one of its tripcode events too */
        if (ldg_body_view_str(b, "plan", &plan) && plan_get(ps, plan)) {
            struct rec_plan *p = plan_upd(ps, e, plan);
            if (p == NULL)
                return ps->err ? ps->err : LDG_ENOMEM;
            p->tripcodes++;
            p->trips_refused++;
        }
    }
    return ps->err;
}

/* ------------------------------------------------------------ debates -- */

/*
 * A debate on a plan or memory item: two models and a judge, at most two
 * rounds, stopping early on agreement, failing closed on any ERROR. A vote
 * past round 2 breaks "debate-rounds"; a decision by "agreement" when the
 * debate's votes disagreed breaks "debate-agreement"; an ACCEPT after an
 * ERROR vote breaks "debate-fail-closed".
 */
static int
debate_into(const struct penv *e, const struct ldg_body_view *b,
            struct viols *vs, struct pdebate *d, const char *subject)
{
    struct ldg_slice dec, id, rule;
    int64_t round;
    uint8_t v;
    int rc;

    if (!ldg_body_view_str(b, "decision", &dec) ||
        !ldg_body_view_str(b, "debate", &id))
        return 0;
    v = debate_of(dec);
    if (d->votes_id == NULL || !sv_eq(id, d->votes_id)) {
        if ((rc = set_sv(&d->votes_id, id)) < 0)
            return rc;
        d->votes_mask = 0;
    }
    if (e->type == T_DEBATE_VOTE) {
        if (v != DD_NONE)
            d->votes_mask |= (uint8_t)(1u << v);
        if (v == DD_ERROR) {
            d->err_seq = e->seq;
            if ((rc = set_sv(&d->err_id, id)) < 0)
                return rc;
        }
        if (ldg_body_view_int(b, "round", &round) && round > 2)
            return viol_add(vs, e->seq, "debate-rounds",
                            "debate %.*s on %s: a vote in round %lld (two "
                            "rounds at most)",
                            (int)id.n, id.p, subject, (long long)round);
        return 0;
    }
    d->dec = v;
    d->seq = e->seq;
    if ((rc = set_sv(&d->id, id)) < 0)
        return rc;
    if (ldg_body_view_str(b, "rule", &rule) && sv_eq(rule, "agreement") &&
        (d->votes_mask & (1u << DD_ACCEPT)) &&
        (d->votes_mask & (1u << DD_REJECT)) &&
        (rc = viol_add(vs, e->seq, "debate-agreement",
                       "debate %.*s on %s decided by agreement although its "
                       "votes disagreed",
                       (int)id.n, id.p, subject)) < 0)
        return rc;
    if (v == DD_ACCEPT && d->err_id != NULL && sv_eq(id, d->err_id))
        return viol_add(vs, e->seq, "debate-fail-closed",
                        "debate %.*s on %s decided ACCEPT after an ERROR "
                        "vote at seq %llu (a debate fails closed)",
                        (int)id.n, id.p, subject,
                        (unsigned long long)d->err_seq);
    return 0;
}

/* ------------------------------------------------------------- memory -- */

static struct rec_mitem *
mitem_upd(struct pstate *ps, struct ldg_slice name, uint64_t seq)
{
    uint8_t key[PROJ_KEY_MAX + 1];
    size_t kl = KEY1(key, TAG_MITEM, name);
    struct rec_mitem *m = ps_upd(ps, P_MEMORY, key, kl);
    if (m == NULL)
        return NULL;
    if (m->item == NULL && set_sv(&m->item, name) < 0)
        return NULL;
    m->last_seq = seq;
    return m;
}

static int
gate_of(struct ldg_slice s)
{
    for (int g = 0; g < MG_COUNT; g++)
        if (sv_eq(s, mgates[g]))
            return g;
    return -1;
}

static int
fold_admit(const struct penv *e, struct rec_mitem *m)
{
    int rc;
    if ((m->status == MS_REVOKED || m->status == MS_PURGED) &&
        (rc = viol_add(&m->viols, e->seq, "admitted-after-revoke",
                       "item admitted again after its %s at seq %llu",
                       m->status == MS_PURGED ? "purge" : "revocation",
                       (unsigned long long)(m->status == MS_PURGED
                                                ? m->purged_seq
                                                : m->revoked_seq))) < 0)
        return rc;
    if (m->candidate_seq == 0 &&
        (rc = viol_add(&m->viols, e->seq, "admitted-without-provenance",
                       "no memory.candidate (hash and provenance) before "
                       "the admission")) < 0)
        return rc;
    for (int g = 0; g < MG_COUNT; g++) {
        char rule[48];
        if (m->gate[g] == TRI_OK || (g == MG_DEBATE && m->gate[g] == TRI_NONE &&
                                     m->debate.dec == DD_ACCEPT))
            continue;
        snprintf(rule, sizeof rule, "admitted-without-%s", mgates[g]);
        rc = m->gate[g] == TRI_FAIL
                 ? viol_add(&m->viols, e->seq, rule,
                            "admitted although its %s gate failed at seq "
                            "%llu",
                            mgates[g], (unsigned long long)m->gate_seq[g])
                 : viol_add(&m->viols, e->seq, rule,
                            "admitted without passing the %s gate", mgates[g]);
        if (rc < 0)
            return rc;
    }
    m->status = MS_ADMITTED;
    m->admitted_seq = e->seq;
    return 0;
}

int
fold_memory(struct pstate *ps, const struct penv *e,
            const struct ldg_body_view *b)
{
    struct ldg_slice name, s;
    struct rec_mitem *m;
    int rc, passed = 0;

    if (e->type == T_MEMORY_PURGED) {
        json_t *items = ldg_body_view_json(b, "items");
        size_t i;
        json_t *v;
        rc = 0;
        json_array_foreach(items, i, v)
        {
            if (!json_is_string(v))
                continue;
            s.p = json_string_value(v);
            s.n = json_string_length(v);
            if ((m = mitem_upd(ps, s, e->seq)) == NULL) {
                rc = ps->err ? ps->err : LDG_ENOMEM;
                break;
            }
            m->status = MS_PURGED;
            m->purged_seq = e->seq;
            if ((rc = keep_field(&m->reason, b, "reason")) < 0)
                break;
        }
        json_decref(items);
        return rc;
    }
    if (!ldg_body_view_str(b, "item", &name)) {
        /* an erased candidate still names its item by its subject */
        if (!(ldg_body_view_erased(b) && e->type == T_MEMORY_CANDIDATE &&
              kind_name(e->subject, "memory", &name)))
            return 0;
    }
    if ((m = mitem_upd(ps, name, e->seq)) == NULL)
        return ps->err ? ps->err : LDG_ENOMEM;
    switch (e->type) {
    case T_MEMORY_CANDIDATE:
        m->candidate_seq = e->seq;
        m->candidate_ts = e->ts;
        if (ldg_body_view_erased(b)) {
            m->erased = 1;
            free(m->hash);
            free(m->provenance);
            m->hash = m->provenance = NULL;
            break;
        }
        if ((rc = keep_field(&m->hash, b, "hash")) < 0)
            return rc;
        {
            json_t *pv = ldg_body_view_json(b, "provenance");
            char *c = pv ? canonical_json(pv) : NULL;
            json_decref(pv);
            if (c != NULL) {
                free(m->provenance);
                m->provenance = dup_sv(svs(c));
                free(c);
                if (m->provenance == NULL)
                    return LDG_ENOMEM;
            }
        }
        break;
    case T_MEMORY_GATE: {
        int g;
        if (!ldg_body_view_str(b, "gate", &s) || (g = gate_of(s)) < 0 ||
            !ldg_body_view_bool(b, "passed", &passed))
            break;
        m->gate[g] = passed ? TRI_OK : TRI_FAIL;
        m->gate_seq[g] = e->seq;
        for (int k = 0; passed && k < g; k++) {
            if (m->gate[k] == TRI_OK ||
                (k == MG_DEBATE && m->debate.dec == DD_ACCEPT))
                continue;
            if ((rc = viol_add(&m->viols, e->seq, "gate-out-of-order",
                               "%s passed before %s (Trace -> Sanitize -> "
                               "Debate -> Validators -> Quarantine -> Admit)",
                               mgates[g], mgates[k])) < 0)
                return rc;
            break;
        }
        break;
    }
    case T_MEMORY_ADMITTED:
        if ((rc = fold_admit(e, m)) < 0)
            return rc;
        if ((rc = keep_field(&m->reason, b, "reason")) < 0)
            return rc;
        break;
    case T_MEMORY_REVOKED:
        m->status = MS_REVOKED;
        m->revoked_seq = e->seq;
        if ((rc = keep_field(&m->reason, b, "reason")) < 0)
            return rc;
        break;
    default:
        break;
    }
    return 0;
}

int
fold_debate(struct pstate *ps, const struct penv *e,
            const struct ldg_body_view *b)
{
    struct ldg_slice subj, name;
    char what[PROJ_KEY_MAX + 16];

    if (!ldg_body_view_str(b, "subject", &subj))
        return 0;
    snprintf(what, sizeof what, "%.*s", (int)subj.n, subj.p);
    if ((ps->mask & (1u << P_PLANS)) && kind_name(subj, "plan", &name)) {
        struct rec_plan *p;
        if (plan_get(ps, name) == NULL && e->type == T_DEBATE_VOTE)
            return ps->err;
        if ((p = plan_upd(ps, e, name)) == NULL)
            return ps->err ? ps->err : LDG_ENOMEM;
        return debate_into(e, b, &p->viols, &p->debate, what);
    }
    if ((ps->mask & (1u << P_MEMORY)) && kind_name(subj, "memory", &name)) {
        struct rec_mitem *m = mitem_upd(ps, name, e->seq);
        if (m == NULL)
            return ps->err ? ps->err : LDG_ENOMEM;
        return debate_into(e, b, &m->viols, &m->debate, what);
    }
    return 0;
}

/* ------------------------------------------------------------- builds -- */

static int
blue_write(struct pstate *ps, const struct penv *e, const char *type,
           struct ldg_slice what, const struct ldg_body_view *b)
{
    uint8_t key[PROJ_KEY_MAX + 1], seqb[8];
    struct rec_bblue *r;
    struct ldg_slice s = {(const char *)seqb, 8};
    size_t kl;
    int rc;

    ldg_be64(seqb, e->seq);
    kl = KEY1(key, TAG_BBLUE, s);
    if ((r = ps_upd(ps, P_BUILDS, key, kl)) == NULL)
        return ps->err ? ps->err : LDG_ENOMEM;
    r->seq = e->seq;
    r->ts = e->ts;
    if ((rc = set_sv(&r->type, svs(type))) < 0 ||
        (rc = set_sv(&r->what, what)) < 0 ||
        (rc = keep_field(&r->plan, b, "plan")) < 0)
        return rc;
    return 0;
}

static struct rec_blast *
blast_get(struct pstate *ps, int create)
{
    uint8_t key[PROJ_KEY_MAX + 1];
    size_t kl = KEY1(key, TAG_BLAST, svs("last"));
    return create ? ps_upd(ps, P_BUILDS, key, kl)
                  : ps_get(ps, P_BUILDS, key, kl);
}

static struct rec_bpromo *
bpromo_upd(struct pstate *ps, uint64_t seq)
{
    uint8_t key[PROJ_KEY_MAX + 1], seqb[8];
    struct ldg_slice s = {(const char *)seqb, 8};
    size_t kl;
    ldg_be64(seqb, seq);
    kl = KEY1(key, TAG_BPROMO, s);
    return ps_upd(ps, P_BUILDS, key, kl);
}

int
fold_build(struct pstate *ps, const struct penv *e,
           const struct ldg_body_view *b)
{
    uint8_t key[PROJ_KEY_MAX + 1];
    struct ldg_slice art, in, slot;
    int rc;

    if (!ldg_body_view_str(b, "artifact_digest", &art))
        return 0;
    if (e->type != T_BUILD_REVERTED && ldg_body_view_str(b, "slot", &slot) &&
        sv_eq(slot, "blue") &&
        (rc = blue_write(ps, e,
                         e->type == T_BUILD_BUILT ? LDG_EV_BUILD_BUILT
                                                  : LDG_EV_BUILD_PROMOTED,
                         art, b)) < 0)
        return rc;
    if (e->type == T_BUILD_BUILT) {
        struct rec_binput *r;
        size_t kl;
        if (!ldg_body_view_str(b, "inputs_digest", &in))
            return 0;
        kl = KEY1(key, TAG_BINPUT, in);
        if ((r = ps_upd(ps, P_BUILDS, key, kl)) == NULL)
            return ps->err ? ps->err : LDG_ENOMEM;
        if (r->builds == 0) {
            if ((rc = set_sv(&r->inputs, in)) < 0 ||
                (rc = set_sv(&r->first_digest, art)) < 0)
                return rc;
            r->first_seq = e->seq;
            r->first_ts = e->ts;
        } else if (!sv_eq(art, r->first_digest)) {
            r->differ++;
            r->differ_seq = e->seq;
            r->differ_ts = e->ts;
            if ((rc = set_sv(&r->differ_digest, art)) < 0)
                return rc;
        }
        r->builds++;
    } else if (e->type == T_BUILD_PROMOTED) {
        struct rec_bpromo *r = bpromo_upd(ps, e->seq);
        struct rec_blast *l;
        if (r == NULL)
            return ps->err ? ps->err : LDG_ENOMEM;
        r->seq = e->seq;
        r->ts = e->ts;
        if ((rc = set_sv(&r->artifact, art)) < 0 ||
            (rc = keep_field(&r->sbom, b, "sbom_digest")) < 0 ||
            (rc = keep_field(&r->plan, b, "plan")) < 0 ||
            (rc = keep_field(&r->slot, b, "slot")) < 0 ||
            (rc = keep_field(&r->inputs, b, "inputs_digest")) < 0)
            return rc;
        if ((l = blast_get(ps, 1)) == NULL)
            return ps->err ? ps->err : LDG_ENOMEM;
        l->seq = e->seq;
        l->ts = e->ts;
    } else { /* build.reverted: the promotion in force is undone */
        const struct rec_blast *l = blast_get(ps, 0);
        struct rec_bpromo *r;
        if (l == NULL || l->seq == 0)
            return ps->err;
        if ((r = bpromo_upd(ps, l->seq)) == NULL)
            return ps->err ? ps->err : LDG_ENOMEM;
        if (r->reverted_seq == 0)
            r->reverted_seq = e->seq;
    }
    return 0;
}

int
fold_build_errors(struct pstate *ps, const struct penv *e,
                  const struct ldg_body_view *b)
{
    struct ldg_slice s;
    const struct rec_blast *l;
    struct rec_bpromo *r;
    int err = 0;

    if (!(ps->mask & (1u << P_BUILDS)))
        return 0;
    switch (e->type) {
    case T_ROUTE_DECISION:
        err = ldg_body_view_str(b, "outcome", &s) && sv_eq(s, "error");
        break;
    case T_HEALTH_PROBE:
        err = ldg_body_view_str(b, "status", &s) && sv_eq(s, "red");
        break;
    case T_RUN_FINISHED:
    case T_PLAN_STEP:
        err = ldg_body_view_str(b, "status", &s) && sv_eq(s, "failed");
        break;
    default:
        break;
    }
    if (!err)
        return 0;
    l = blast_get(ps, 0);
    if (l == NULL || l->seq == 0 || e->ts < l->ts ||
        e->ts - l->ts > GATE_ERROR_WINDOW_NS)
        return ps->err;
    if ((r = bpromo_upd(ps, l->seq)) == NULL)
        return ps->err ? ps->err : LDG_ENOMEM;
    if (r->errors++ == 0)
        r->first_error_seq = e->seq;
    return 0;
}

/* --------------------------------------------------------------- plans -- */

int
fold_plan(struct pstate *ps, const struct penv *e,
          const struct ldg_body_view *b)
{
    unsigned m = ps->mask;
    struct ldg_slice name;
    struct rec_plan *p;
    int rc;

    if (m & (1u << P_BUILDS) && e->type == T_PLAN_STEP &&
        ldg_body_view_str(b, "slot", &name) && sv_eq(name, "blue")) {
        struct ldg_slice st;
        if (!ldg_body_view_str(b, "step", &st))
            st = svs("?");
        if ((rc = blue_write(ps, e, LDG_EV_PLAN_STEP, st, b)) < 0)
            return rc;
    }
    if (m & (1u << P_PLANS) && ldg_body_view_str(b, "plan", &name)) {
        if ((p = plan_upd(ps, e, name)) == NULL)
            return ps->err ? ps->err : LDG_ENOMEM;
        rc = e->type == T_PLAN_STATE ? fold_plan_state(ps, e, b, p)
                                     : fold_plan_step(ps, e, b, p);
        if (rc != 0)
            return rc;
    }
    return e->type == T_PLAN_STEP ? fold_build_errors(ps, e, b) : 0;
}
