/*
 * test_fold_pipeline.c — the control pipeline's folds (issue 34), event
 * by event on a memory-only state: plans and their violations by seq,
 * snapshots and tripcodes as T2/T3 evidence, memory admission, the builds
 * behind the success gates, and the records' encoding.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "projections/proj_int.h"

static uint64_t next_seq, next_ts;

/* Folds one event given as type, subject and body text (NULL: erased);
 * returns its seq. Times advance one second an event unless set. */
static uint64_t
fold(struct pstate *ps, const char *type, const char *subject, const char *body)
{
    struct penv e;
    struct ldg_body_view *b = NULL;
    json_t *j = NULL;
    assert_int_equal(ldg_body_view_new(&b), 0);
    memset(&e, 0, sizeof e);
    e.seq = next_seq++;
    next_ts += 1000000000ull;
    e.ts = next_ts;
    e.type = ev_type_of(type, strlen(type));
    e.subject.p = subject ? subject : "";
    e.subject.n = strlen(e.subject.p);
    if (body != NULL) {
        j = json_loads(body, 0, NULL);
        assert_non_null(j);
    }
    ldg_body_view_set_json(b, j);
    assert_int_equal(fold_event(ps, &e, b), 0);
    json_decref(j);
    ldg_body_view_free(b);
    return e.seq;
}

static struct pstate *
fresh(void)
{
    struct pstate *ps;
    next_seq = 1;
    next_ts = 1000000000ull * 1000;
    assert_int_equal(ps_new(&ps, NULL, NULL, 0, P_ALL), 0);
    return ps;
}

static void *
get(struct pstate *ps, enum proj_id p, uint8_t tag, const char *a)
{
    uint8_t key[PROJ_KEY_MAX + 1];
    struct ldg_slice part = {a, strlen(a)};
    size_t kl = pkey(key, tag, &part, 1);
    return ps_get(ps, p, key, kl);
}

static void
state(struct pstate *ps, const char *plan, const char *st, const char *extra)
{
    char body[512];
    snprintf(body, sizeof body, "{\"plan\":\"%s\",\"state\":\"%s\"%s%s}", plan,
             st, extra ? "," : "", extra ? extra : "");
    fold(ps, "plan.state", NULL, body);
}

static uint64_t
step(struct pstate *ps, const char *plan, const char *tier, const char *extra)
{
    char body[512];
    snprintf(body, sizeof body,
             "{\"plan\":\"%s\",\"step\":\"s\",\"tool\":\"t\",\"tier\":\"%s\","
             "\"status\":\"ok\"%s%s}",
             plan, tier, extra ? "," : "", extra ? extra : "");
    return fold(ps, "plan.step", NULL, body);
}

static void
accept(struct pstate *ps, const char *plan)
{
    char body[256];
    snprintf(body, sizeof body,
             "{\"debate\":\"D\",\"subject\":\"plan:%s\",\"decision\":"
             "\"ACCEPT\",\"rule\":\"agreement\"}",
             plan);
    fold(ps, "debate.decided", NULL, body);
}

static void
assert_viol(const struct viols *v, uint32_t i, uint64_t seq, const char *rule)
{
    assert_true(i < v->n);
    assert_int_equal(v->v[i].seq, seq);
    assert_string_equal(v->v[i].rule, rule);
}

static void
test_fold_pipeline__a_plan_by_the_book_breaks_nothing(void **st)
{
    struct pstate *ps = fresh();
    const struct rec_plan *p;
    (void)st;
    state(ps, "P", "IDLE", NULL);
    state(ps, "P", "PLAN", "\"intent\":\"i\"");
    state(ps, "P", "DEBATE_PLAN", NULL);
    accept(ps, "P");
    state(ps, "P", "SIMULATE", "\"passed\":true");
    step(ps, "P", "T1", NULL);
    fold(ps, "snapshot.taken", NULL, "{\"snapshot\":\"S\",\"plan\":\"P\"}");
    step(ps, "P", "T2", "\"snapshot\":\"S\"");
    state(ps, "P", "VERIFY", "\"passed\":true");
    state(ps, "P", "PROMOTE", NULL);
    step(ps, "P", "T2", "\"snapshot\":\"S\""); /* the promotion's own */
    p = get(ps, P_PLANS, TAG_PLAN, "P");
    assert_non_null(p);
    assert_int_equal(p->viols.n, 0);
    assert_int_equal(p->viols.total, 0);
    assert_int_equal(p->state, PL_PROMOTE);
    assert_int_equal(p->path.n, 6);
    assert_string_equal(p->path.v[5], "PROMOTE");
    assert_int_equal(p->verified_seq, 9);
    assert_int_equal(p->snapshots, 1);
    assert_int_equal(p->steps, 3);
    assert_string_equal(p->intent, "i");
    ps_free(ps);
}

static void
test_fold_pipeline__each_rule_names_the_seq_that_broke_it(void **st)
{
    struct pstate *ps = fresh();
    const struct rec_plan *p;
    uint64_t s;
    (void)st;
    state(ps, "P", "PLAN", NULL);                   /* 1 */
    state(ps, "P", "SIMULATE", "\"passed\":false"); /* 2 */
    step(ps, "P", "T1", NULL);                      /* 3: a change */
    state(ps, "P", "VERIFY", "\"passed\":true");    /* 4 */
    s = step(ps, "P", "T1", "\"slot\":\"blue\"");   /* 5 */
    state(ps, "P", "PROMOTE", NULL);                /* 6 */
    state(ps, "P", "ABORT", NULL);                  /* 7 */
    p = get(ps, P_PLANS, TAG_PLAN, "P");
    assert_non_null(p);
    /* 2: PLAN -> SIMULATE skips DEBATE_PLAN, and no debate accepted it */
    assert_viol(&p->viols, 0, 2, "illegal-transition");
    assert_viol(&p->viols, 1, 2, "debate-not-accepted");
    /* 4: the failed SIMULATE was not followed by ABORT */
    assert_viol(&p->viols, 2, 4, "abort-on-failure");
    assert_viol(&p->viols, 3, s, "mutate-blue");
    /* 6: the Blue write after VERIFY undid it */
    assert_viol(&p->viols, 4, 6, "promote-without-verify");
    assert_string_equal(p->viols.v[4].detail,
                        "no passing VERIFY after the last change at seq 5");
    /* 7: nothing after PROMOTE */
    assert_viol(&p->viols, 5, 7, "after-end");
    assert_int_equal(p->viols.n, 6);
    assert_int_equal(p->state, PL_PROMOTE); /* the end stands */
    ps_free(ps);
}

static void
test_fold_pipeline__a_step_after_abort_and_a_fail_open_debate(void **st)
{
    struct pstate *ps = fresh();
    const struct rec_plan *p;
    (void)st;
    state(ps, "P", "PLAN", NULL);
    state(ps, "P", "DEBATE_PLAN", NULL);
    fold(ps, "debate.vote", NULL,
         "{\"debate\":\"D\",\"subject\":\"plan:P\",\"round\":1,\"model\":"
         "\"m\",\"decision\":\"ERROR\"}"); /* 3 */
    accept(ps, "P");                       /* 4 */
    state(ps, "P", "ABORT", NULL);         /* 5 */
    step(ps, "P", "T0", NULL);             /* 6 */
    p = get(ps, P_PLANS, TAG_PLAN, "P");
    assert_viol(&p->viols, 0, 4, "debate-fail-closed");
    assert_viol(&p->viols, 1, 6, "step-after-abort");
    assert_int_equal(p->viols.n, 2);
    ps_free(ps);
}

static void
test_fold_pipeline__debates_have_two_rounds_and_agree_for_real(void **st)
{
    struct pstate *ps = fresh();
    const struct rec_plan *p;
    const struct rec_mitem *m;
    (void)st;
    state(ps, "P", "PLAN", NULL);
    fold(ps, "debate.vote", NULL,
         "{\"debate\":\"D\",\"subject\":\"plan:P\",\"round\":1,"
         "\"model\":\"a\",\"decision\":\"ACCEPT\"}");
    fold(ps, "debate.vote", NULL,
         "{\"debate\":\"D\",\"subject\":\"plan:P\",\"round\":1,"
         "\"model\":\"b\",\"decision\":\"REJECT\"}");
    fold(ps, "debate.vote", NULL,
         "{\"debate\":\"D\",\"subject\":\"plan:P\",\"round\":3,"
         "\"model\":\"b\",\"decision\":\"ACCEPT\"}"); /* 4 */
    fold(ps, "debate.decided", NULL,
         "{\"debate\":\"D\",\"subject\":\"plan:P\",\"decision\":"
         "\"ACCEPT\",\"rule\":\"agreement\"}"); /* 5 */
    /* a new debate starts its own tally: agreement holds */
    fold(ps, "debate.vote", NULL,
         "{\"debate\":\"E\",\"subject\":\"plan:P\",\"round\":1,"
         "\"model\":\"a\",\"decision\":\"ACCEPT\"}");
    fold(ps, "debate.decided", NULL,
         "{\"debate\":\"E\",\"subject\":\"plan:P\",\"decision\":"
         "\"ACCEPT\",\"rule\":\"agreement\"}");
    p = get(ps, P_PLANS, TAG_PLAN, "P");
    assert_viol(&p->viols, 0, 4, "debate-rounds");
    assert_viol(&p->viols, 1, 5, "debate-agreement");
    assert_int_equal(p->viols.n, 2);
    assert_int_equal(p->debate.dec, DD_ACCEPT);
    assert_string_equal(p->debate.id, "E");
    /* the same rules for a memory item */
    fold(ps, "debate.vote", NULL,
         "{\"debate\":\"M\",\"subject\":\"memory:x\",\"round\":1,"
         "\"model\":\"a\",\"decision\":\"ERROR\"}"); /* 8 */
    fold(ps, "debate.decided", NULL,
         "{\"debate\":\"M\",\"subject\":\"memory:x\",\"decision\":"
         "\"ACCEPT\",\"rule\":\"judge\"}"); /* 9 */
    m = get(ps, P_MEMORY, TAG_MITEM, "x");
    assert_non_null(m);
    assert_viol(&m->viols, 0, 9, "debate-fail-closed");
    assert_non_null(strstr(m->viols.v[0].detail, "at seq 8"));
    ps_free(ps);
}

static void
test_fold_pipeline__t2_needs_a_snapshot_taken_before_it(void **st)
{
    struct pstate *ps = fresh();
    const struct rec_plan *p;
    (void)st;
    state(ps, "P", "PLAN", NULL);
    step(ps, "P", "T2", NULL);                 /* 2: names none */
    step(ps, "P", "T2", "\"snapshot\":\"S\""); /* 3: not taken yet */
    fold(ps, "snapshot.taken", NULL, "{\"snapshot\":\"S\"}");
    step(ps, "P", "T2", "\"snapshot\":\"S\""); /* 5: fine */
    p = get(ps, P_PLANS, TAG_PLAN, "P");
    assert_viol(&p->viols, 0, 2, "t2-without-snapshot");
    assert_viol(&p->viols, 1, 3, "t2-without-snapshot");
    assert_int_equal(p->viols.n, 2);
    ps_free(ps);
}

static void
test_fold_pipeline__one_accepted_tripcode_one_t3_step(void **st)
{
    struct pstate *ps = fresh();
    const struct rec_plan *p;
    const struct rec_trip *t;
    (void)st;
    state(ps, "P", "PLAN", NULL);
    step(ps, "P", "T3", "\"tripcode\":\"RECOVERY:LOCKDOWN\""); /* 2: none */
    fold(ps, "tripcode.refused", NULL,
         "{\"code\":\"RECOVERY:LOCKDOWN\",\"reason\":\"forged\"}");
    step(ps, "P", "T3", "\"tripcode\":\"RECOVERY:LOCKDOWN\""); /* 4 */
    fold(ps, "tripcode.used", NULL,
         "{\"code\":\"RECOVERY:LOCKDOWN\",\"ts\":100,\"sig\":\"aa\","
         "\"plan\":\"P\"}");
    step(ps, "P", "T3", "\"tripcode\":\"RECOVERY:LOCKDOWN\""); /* 6: ok */
    step(ps, "P", "T3", "\"tripcode\":\"RECOVERY:LOCKDOWN\""); /* 7: spent */
    step(ps, "P", "T3", NULL);                                 /* 8 */
    p = get(ps, P_PLANS, TAG_PLAN, "P");
    assert_viol(&p->viols, 0, 2, "t3-without-tripcode");
    assert_viol(&p->viols, 1, 4, "t3-without-tripcode");
    assert_viol(&p->viols, 2, 7, "t3-without-tripcode");
    assert_non_null(strstr(p->viols.v[2].detail, "already spent"));
    assert_viol(&p->viols, 3, 8, "t3-without-tripcode");
    assert_int_equal(p->viols.n, 4);
    assert_int_equal(p->tripcodes, 1);
    t = get(ps, P_PLANS, TAG_TRIP, "RECOVERY:LOCKDOWN");
    assert_non_null(t);
    assert_int_equal(t->uses, 1);
    assert_int_equal(t->consumed, 1);
    assert_int_equal(t->refusals, 1);
    assert_int_equal(t->payload_ts, 100);
    assert_int_equal(t->replays, 0);
    /* a use that repeats the signature, or is not after the last one:
     * counted as a replay whatever the command decided */
    fold(ps, "tripcode.used", NULL,
         "{\"code\":\"RECOVERY:LOCKDOWN\",\"ts\":101,\"sig\":\"aa\"}");
    fold(ps, "tripcode.used", NULL,
         "{\"code\":\"RECOVERY:LOCKDOWN\",\"ts\":90,\"sig\":\"bb\"}");
    fold(ps, "tripcode.used", NULL,
         "{\"code\":\"RECOVERY:LOCKDOWN\",\"ts\":200,\"sig\":\"cc\"}");
    t = get(ps, P_PLANS, TAG_TRIP, "RECOVERY:LOCKDOWN");
    assert_int_equal(t->uses, 4);
    assert_int_equal(t->replays, 2);
    assert_int_equal(t->replay_seq, 10);
    ps_free(ps);
}

static void
test_fold_pipeline__memory_admitted_past_its_gates_is_flagged(void **st)
{
    struct pstate *ps = fresh();
    const struct rec_mitem *m;
    (void)st;
    fold(ps, "memory.candidate", NULL,
         "{\"item\":\"a\",\"hash\":\"ab12\",\"provenance\":{\"policy\":"
         "\"p7\",\"models\":[\"m\"]}}");
    fold(ps, "memory.gate", NULL,
         "{\"item\":\"a\",\"gate\":\"sanitize\",\"passed\":true}");
    fold(ps, "memory.gate", NULL,
         "{\"item\":\"a\",\"gate\":\"validators\",\"passed\":false}");
    fold(ps, "memory.admitted", NULL, "{\"item\":\"a\"}"); /* 4 */
    m = get(ps, P_MEMORY, TAG_MITEM, "a");
    assert_non_null(m);
    assert_int_equal(m->status, MS_ADMITTED);
    assert_string_equal(m->hash, "ab12");
    /* canonical JSON: keys sorted */
    assert_string_equal(m->provenance,
                        "{\"models\":[\"m\"],\"policy\":\"p7\"}");
    assert_viol(&m->viols, 0, 4, "admitted-without-debate");
    assert_viol(&m->viols, 1, 4, "admitted-without-validators");
    assert_non_null(strstr(m->viols.v[1].detail, "failed at seq 3"));
    assert_viol(&m->viols, 2, 4, "admitted-without-quarantine");
    assert_int_equal(m->viols.n, 3);
    ps_free(ps);
}

static void
test_fold_pipeline__memory_through_every_gate_and_then_purged(void **st)
{
    struct pstate *ps = fresh();
    const struct rec_mitem *m;
    (void)st;
    fold(ps, "memory.candidate", NULL,
         "{\"item\":\"b\",\"hash\":\"cd34\",\"provenance\":{}}");
    fold(ps, "memory.gate", NULL,
         "{\"item\":\"b\",\"gate\":\"sanitize\",\"passed\":true}");
    /* the debate gate passes by the debate's own decision */
    fold(ps, "debate.decided", NULL,
         "{\"debate\":\"D\",\"subject\":\"memory:b\",\"decision\":"
         "\"ACCEPT\"}");
    fold(ps, "memory.gate", NULL,
         "{\"item\":\"b\",\"gate\":\"validators\",\"passed\":true}");
    fold(ps, "memory.gate", NULL,
         "{\"item\":\"b\",\"gate\":\"quarantine\",\"passed\":true}");
    fold(ps, "memory.admitted", NULL, "{\"item\":\"b\"}");
    m = get(ps, P_MEMORY, TAG_MITEM, "b");
    assert_int_equal(m->viols.n, 0);
    /* the purge: the candidate's body erased (a replay sees it so), then
     * the record of the purge */
    ps_free(ps);
    ps = fresh();
    fold(ps, "memory.candidate", "memory:b", NULL); /* erased */
    fold(ps, "memory.purged", NULL,
         "{\"prefix\":\"cd\",\"reason\":\"asked\",\"items\":[\"b\"]}");
    m = get(ps, P_MEMORY, TAG_MITEM, "b");
    assert_non_null(m);
    assert_int_equal(m->erased, 1);
    assert_null(m->hash);
    assert_int_equal(m->candidate_seq, 1);
    assert_int_equal(m->status, MS_PURGED);
    assert_int_equal(m->purged_seq, 2);
    assert_string_equal(m->reason, "asked");
    ps_free(ps);
}

static void
test_fold_pipeline__gates_count_errors_in_the_window(void **st)
{
    struct pstate *ps = fresh();
    const struct rec_bpromo *b;
    const struct rec_binput *in;
    uint8_t key[PROJ_KEY_MAX + 1], seqb[8];
    struct ldg_slice s = {(const char *)seqb, 8};
    size_t kl;
    (void)st;
    fold(ps, "build.built", NULL,
         "{\"artifact_digest\":\"a1\",\"inputs_digest\":\"i\"}");
    fold(ps, "build.built", NULL,
         "{\"artifact_digest\":\"a2\",\"inputs_digest\":\"i\"}");
    fold(ps, "build.promoted", NULL, "{\"artifact_digest\":\"a1\"}"); /* 3 */
    fold(ps, "health.probe", NULL, "{\"target\":\"g\",\"status\":\"red\"}");
    fold(ps, "health.probe", NULL, "{\"target\":\"g\",\"status\":\"green\"}");
    fold(ps, "route.decision", "route:r",
         "{\"route\":\"r\",\"chosen_model\":\"m\",\"outcome\":\"error\"}");
    next_ts += GATE_ERROR_WINDOW_NS; /* past the window */
    fold(ps, "health.probe", NULL, "{\"target\":\"g\",\"status\":\"red\"}");
    fold(ps, "build.reverted", NULL, "{\"artifact_digest\":\"a1\"}"); /* 8 */
    ldg_be64(seqb, 3);
    kl = pkey(key, TAG_BPROMO, &s, 1);
    b = ps_get(ps, P_BUILDS, key, kl);
    assert_non_null(b);
    assert_int_equal(b->errors, 2);
    assert_int_equal(b->first_error_seq, 4);
    assert_int_equal(b->reverted_seq, 8);
    in = get(ps, P_BUILDS, TAG_BINPUT, "i");
    assert_non_null(in);
    assert_int_equal(in->builds, 2);
    assert_int_equal(in->differ, 1);
    assert_string_equal(in->differ_digest, "a2");
    ps_free(ps);
}

static void
test_fold_pipeline__records_encode_canonically(void **st)
{
    struct pstate *ps = fresh();
    const struct rtype *rt = rtype_of(P_PLANS, TAG_PLAN);
    struct rec_plan *p;
    uint8_t *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    void *back = NULL;
    (void)st;
    state(ps, "P", "PLAN", NULL);
    state(ps, "P", "PROMOTE", NULL);
    p = get(ps, P_PLANS, TAG_PLAN, "P");
    assert_int_equal(p->viols.n, 1);
    assert_int_equal(rec_encode(rt, p, &a, &na), 0);
    assert_int_equal(rec_decode(rt, a, na, &back), 0);
    assert_int_equal(rec_encode(rt, back, &b, &nb), 0);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na);
    assert_string_equal(((struct rec_plan *)back)->viols.v[0].rule,
                        "promote-without-verify");
    /* a truncated record does not decode */
    rec_free(rt, back);
    back = NULL;
    assert_int_equal(rec_decode(rt, a, na - 1, &back), LDG_ECORRUPT);
    free(a);
    free(b);
    ps_free(ps);
}

static void
test_fold_pipeline__violations_are_bounded(void **st)
{
    struct pstate *ps = fresh();
    const struct rec_plan *p;
    (void)st;
    state(ps, "P", "ABORT", NULL);
    for (int i = 0; i < PROJ_VIOL_MAX + 10; i++)
        step(ps, "P", "T0", NULL);
    p = get(ps, P_PLANS, TAG_PLAN, "P");
    assert_int_equal(p->viols.n, PROJ_VIOL_MAX);
    assert_int_equal(p->viols.total, PROJ_VIOL_MAX + 10);
    ps_free(ps);
}

/* A plan counts every snapshot and tripcode event that names it, taken
 * or restored, used or refused, and they end its span (issue 46: `ledger
 * plans P` counted 0 of what its timeline shows). */
static void
test_fold_pipeline__a_plan_counts_its_snapshot_and_tripcode_events(
    void **state_)
{
    struct pstate *ps = fresh();
    struct rec_plan *p;
    uint64_t last;
    (void)state_;
    state(ps, "P", "IDLE", NULL);
    fold(ps, "snapshot.taken", NULL,
         "{\"snapshot\":\"S\",\"label\":\"l\",\"plan\":\"P\"}");
    fold(ps, "tripcode.used", NULL,
         "{\"code\":\"RECOVERY:REVERT_SNAPSHOT::S\",\"ts\":100,"
         "\"sig\":\"aa\",\"plan\":\"P\"}");
    fold(ps, "tripcode.refused", NULL,
         "{\"code\":\"RECOVERY:REVERT_SNAPSHOT::S\",\"reason\":\"cooldown\","
         "\"plan\":\"P\"}");
    last = fold(ps, "snapshot.restored", NULL,
                "{\"snapshot\":\"S\",\"plan\":\"P\"}");
    /* another plan's, or none's: not P's */
    fold(ps, "snapshot.restored", NULL, "{\"snapshot\":\"S\"}");
    p = get(ps, P_PLANS, TAG_PLAN, "P");
    assert_non_null(p);
    assert_int_equal(p->snapshots, 2);
    assert_int_equal(p->snaps_restored, 1);
    assert_int_equal(p->tripcodes, 2);
    assert_int_equal(p->trips_refused, 1);
    assert_int_equal(p->last_seq, last);
    ps_free(ps);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fold_pipeline__a_plan_by_the_book_breaks_nothing),
        cmocka_unit_test(
            test_fold_pipeline__a_plan_counts_its_snapshot_and_tripcode_events),
        cmocka_unit_test(
            test_fold_pipeline__each_rule_names_the_seq_that_broke_it),
        cmocka_unit_test(
            test_fold_pipeline__a_step_after_abort_and_a_fail_open_debate),
        cmocka_unit_test(
            test_fold_pipeline__debates_have_two_rounds_and_agree_for_real),
        cmocka_unit_test(
            test_fold_pipeline__t2_needs_a_snapshot_taken_before_it),
        cmocka_unit_test(test_fold_pipeline__one_accepted_tripcode_one_t3_step),
        cmocka_unit_test(
            test_fold_pipeline__memory_admitted_past_its_gates_is_flagged),
        cmocka_unit_test(
            test_fold_pipeline__memory_through_every_gate_and_then_purged),
        cmocka_unit_test(test_fold_pipeline__gates_count_errors_in_the_window),
        cmocka_unit_test(test_fold_pipeline__records_encode_canonically),
        cmocka_unit_test(test_fold_pipeline__violations_are_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
