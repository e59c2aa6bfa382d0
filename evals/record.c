/*
 * record.c — an eval recorded in the ledger and what it decides: the
 * targets evals are for, the candidate's weights as the log knows them,
 * eval.started and eval.result around a run, and the promotion and
 * rollback of a target (the gate itself is the promotions projection's:
 * ldg_projections_gate).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "evals/evals_int.h"
#include "ledger/ledger.h"
#include "projections/projections.h"
#include "query/query.h"
#include "util/util.h"

int
ldg_eval_target_valid(const char *t)
{
    const char *colon = t ? strchr(t, ':') : NULL;
    return colon && colon[1] && strlen(t) <= LDG_SUBJECT_MAX &&
           (strncmp(t, "route:", 6) == 0 || strncmp(t, "pack:", 5) == 0 ||
            strncmp(t, "model:", 6) == 0);
}

json_t *
ldg_eval_candidate(struct ldg_ledger *l, const char *model)
{
    struct ldg_txn *t = NULL;
    struct ldg_model_at m;

    memset(&m, 0, sizeof m);
    if (ldg_txn_begin(l, LDG_TXN_READ, &t) == 0 &&
        ldg_query_model_at(t, model, UINT64_MAX, &m) < 0)
        memset(&m, 0, sizeof m);
    ldg_txn_abort(t);
    return json_pack("{s:o, s:b}", "digest",
                     m.known ? json_string(m.digest) : json_null(), "verified",
                     m.verified);
}

/* "E-20261122T101500Z-3fa9c1": the time and 24 random bits. */
static void
new_eval_id(char *buf, size_t cap)
{
    uint8_t r[3] = {0};
    char hx[7];
    time_t now = time(NULL);
    struct tm tm;
    char ts[32];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
        uint64_t x = ldg_now_mono_ns();
        memcpy(r, &x, sizeof r);
    }
    ldg_hex(hx, r, sizeof r);
    gmtime_r(&now, &tm);
    strftime(ts, sizeof ts, "%Y%m%dT%H%M%SZ", &tm);
    snprintf(buf, cap, "E-%s-%s", ts, hx);
}

/* Does the log hold an eval.result of eval_id? 1 yes; 0 no, with the
 * handle's message saying whether the eval is unknown or has not
 * finished; < 0 an error (said). */
static int
eval_has_result(struct ldg_ledger *l, const char *eval_id)
{
    char t1[] = "type=eval.result", t2[] = "type=eval.started", id[600];
    char *terms[] = {t1, t2, id}, err[256];
    struct ldg_query *q = NULL;
    struct ldg_query_iter *it = NULL;
    struct ldg_txn *t = NULL;
    struct ldg_event ev;
    int rc, started = 0, result = 0;

    /* (an id cut short could name another eval) */
    if ((size_t)snprintf(id, sizeof id, "body.eval_id=%s", eval_id) >=
        sizeof id) {
        ldg_set_errmsg(l, "an eval id of %zu bytes: no eval has one",
                       strlen(eval_id));
        return 0;
    }
    rc = ldg_query_compile(&q, 3, terms, NULL, NULL, err, sizeof err);
    if (rc == LDG_EBADINPUT) { /* no id the log holds is refused there */
        ldg_set_errmsg(l, "no eval %.*s in the log (%s)",
                       ldg_utf8_cut(eval_id, 80), eval_id, err);
        return 0;
    }
    if (rc == 0)
        rc = ldg_txn_begin(l, LDG_TXN_READ, &t);
    if (rc == 0)
        rc = ldg_query_iter_new(&it, q, t, 0);
    while (rc == 0 && !result && (rc = ldg_query_iter_next(it, &ev)) == 0) {
        result |= strcmp(ev.type, LDG_EV_EVAL_RESULT) == 0;
        started |= strcmp(ev.type, LDG_EV_EVAL_STARTED) == 0;
    }
    if (rc == LDG_ENOTFOUND || result)
        rc = 0;
    ldg_query_iter_free(it);
    ldg_txn_abort(t);
    ldg_query_free(q);
    if (rc < 0)
        ldg_set_errmsg(l, "cannot look up eval %s: %s", eval_id,
                       ldg_strerror(rc));
    else if (!result)
        ldg_set_errmsg(l,
                       started ? "eval %s has started but has no result yet"
                               : "no eval %s in the log (`" LDG_CMD_EVALS
                                 "` lists them)",
                       eval_id);
    return rc < 0 ? rc : result;
}

/* Appends type with body: 0 and *seq, or the code with the handle's
 * message naming the type. */
static int
append(struct ldg_ledger *l, const char *type, json_t *body, uint64_t *seq)
{
    struct ldg_event_in in = {.type = type, .body = body};
    char m[512];
    int rc = ldg_append(l, &in, seq);
    if (rc < 0) {
        snprintf(m, sizeof m, "%s", ldg_errmsg(l));
        ldg_set_errmsg(l, "cannot append %s: %s", type,
                       m[0] ? m : ldg_strerror(rc));
    }
    return rc;
}

/* Text a body records must be UTF-8 (a JSON string): 0, or LDG_EBADINPUT
 * with the handle's message naming what. */
static int
text_ok(struct ldg_ledger *l, const char *what, const char *s)
{
    if (s == NULL || ldg_json_text_ok(s))
        return 0;
    ldg_set_errmsg(l, "%s is not UTF-8 text", what);
    return LDG_EBADINPUT;
}

int
ldg_eval_record(struct ldg_ledger *l, const struct ldg_eval_suite *s,
                const struct ldg_eval_run_opts *o, const char *target,
                struct ldg_eval_report *rep, json_t **result, uint64_t *seq)
{
    char id[64], err[1024];
    const char *v;
    json_t *md, *st = NULL, *b = NULL;
    int rc;

    if (l == NULL || s == NULL || o == NULL || o->model == NULL ||
        o->endpoint == NULL || rep == NULL || result == NULL || seq == NULL)
        return LDG_EINVAL;
    *result = NULL;
    if (!ldg_eval_target_valid(target)) {
        ldg_set_errmsg(l, "'%s' is not route:NAME, pack:NAME or model:NAME",
                       target ? target : "");
        return LDG_EINVAL;
    }
    /* what the run would refuse, refused before eval.started is written */
    if ((rc = text_ok(l, "the candidate", o->model)) < 0 ||
        (rc = text_ok(l, "the endpoint", o->endpoint)) < 0 ||
        (rc = text_ok(l, "the suite's name", ldg_eval_suite_name(s))) < 0)
        return rc;
    if (eval_run_check(o, err, sizeof err) < 0) {
        ldg_set_errmsg(l, "%s", err);
        return LDG_EINVAL;
    }
    if ((md = ldg_eval_candidate(l, o->model)) == NULL)
        return LDG_ENOMEM;
    new_eval_id(id, sizeof id);
    v = ldg_eval_suite_version(s);
    st = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:o, s:O, s:s, s:s, s:I, s:I}", "eval_id",
        id, "suite", ldg_eval_suite_name(s), "target", target, "candidate",
        o->model, "suite_digest", ldg_eval_suite_digest(s), "suite_version",
        v ? json_string(v) : json_null(), "candidate_digest",
        json_object_get(md, "digest"), "endpoint", o->endpoint, "harness",
        LDG_EVAL_HARNESS, "cases_total", (json_int_t)ldg_eval_suite_cases(s),
        "concurrency", (json_int_t)(o->concurrency ? o->concurrency : 1));
    rc = st ? append(l, LDG_EV_EVAL_STARTED, st, NULL) : LDG_ENOMEM;
    if (rc == 0 && (rc = ldg_eval_run(s, o, rep, err, sizeof err)) < 0)
        ldg_set_errmsg(l, "%s", err);
    if (rc == 0) {
        b = ldg_eval_result_body(
            s, o, rep, id, target, o->model,
            json_string_value(json_object_get(md, "digest")));
        if (b == NULL)
            rc = LDG_ENOMEM;
        else
            json_object_set(b, "candidate_verified",
                            json_object_get(md, "verified"));
    }
    if (rc == 0 && (rc = append(l, LDG_EV_EVAL_RESULT, b, seq)) == 0)
        *result = json_incref(b);
    json_decref(md);
    json_decref(st);
    json_decref(b);
    return rc;
}

int
ldg_eval_promote(struct ldg_ledger *l, const struct ldg_promotion *p,
                 json_t **body, uint64_t *seq)
{
    char why[512], m[512];
    json_t *b = NULL, *md = NULL;
    int rc, held;

    if (l == NULL || p == NULL || body == NULL || seq == NULL ||
        p->candidate == NULL || p->eval_id == NULL)
        return LDG_EINVAL;
    *body = NULL;
    if (!ldg_eval_target_valid(p->target)) {
        ldg_set_errmsg(l, "'%s' is not route:NAME, pack:NAME or model:NAME",
                       p->target ? p->target : "");
        return LDG_EINVAL;
    }
    if ((rc = text_ok(l, "the candidate", p->candidate)) < 0 ||
        (rc = text_ok(l, "the reason", p->reason)) < 0 ||
        (rc = text_ok(l, "the eval id", p->eval_id)) < 0)
        return rc;
    /* An eval id that names no result (a typo, an eval still running)
     * decides nothing: refused, nothing written, forced or not. */
    if ((rc = eval_has_result(l, p->eval_id)) <= 0)
        return rc < 0 ? rc : LDG_ENOTFOUND;
    held = ldg_projections_gate(l, p->target, p->candidate, p->eval_id, why,
                                sizeof why);
    if (held < 0) {
        snprintf(m, sizeof m, "%s", ldg_errmsg(l));
        ldg_set_errmsg(l, "cannot apply the gate: %s",
                       m[0] ? m : ldg_strerror(held));
        return held;
    }
    if (held || p->force) {
        md = ldg_eval_candidate(l, p->candidate);
        b = json_pack("{s:s, s:s, s:s, s:O, s:O}", "target", p->target,
                      "candidate", p->candidate, "eval_id", p->eval_id,
                      "candidate_digest", json_object_get(md, "digest"),
                      "candidate_verified", json_object_get(md, "verified"));
        if (b && !held) {
            json_object_set_new(b, "forced", json_true());
            json_object_set_new(b, "gate_failed", json_string(why));
        }
        if (b && p->reason)
            json_object_set_new(b, "reason", json_string(p->reason));
    } else {
        b = json_pack("{s:s, s:s, s:s, s:s}", "target", p->target, "candidate",
                      p->candidate, "reason", why, "eval_id", p->eval_id);
    }
    json_decref(md);
    if (b == NULL)
        return LDG_ENOMEM;
    rc = append(l,
                held || p->force ? LDG_EV_PROMOTION_PROMOTED
                                 : LDG_EV_PROMOTION_REJECTED,
                b, seq);
    if (rc < 0) {
        json_decref(b);
        return rc;
    }
    *body = b;
    return held || p->force ? 0 : 1;
}

/* The candidate promoted on target before its current one, from the
 * promotions view: 0 with *to (a new string), or LDG_ENOTFOUND. */
static int
previous_candidate(struct ldg_ledger *l, const char *target, char **to)
{
    json_t *rows = NULL, *r;
    const char *prev = NULL;
    size_t i;
    int rc = ldg_projections_view(l, LDG_VIEW_PROMOTIONS, NULL, &rows);
    if (rc < 0)
        return rc;
    json_array_foreach(rows, i, r)
    {
        const char *t = json_string_value(json_object_get(r, "target"));
        if (t != NULL && strcmp(t, target) == 0)
            prev = json_string_value(
                json_object_get(json_object_get(r, "previous"), "candidate"));
    }
    *to = prev ? strdup(prev) : NULL;
    json_decref(rows);
    if (prev == NULL) {
        ldg_set_errmsg(
            l, "%s has no earlier promoted candidate to roll back to", target);
        return LDG_ENOTFOUND;
    }
    return *to ? 0 : LDG_ENOMEM;
}

int
ldg_eval_rollback(struct ldg_ledger *l, const char *target, const char *to,
                  const char *reason, json_t **body, uint64_t *seq)
{
    char *prev = NULL;
    json_t *b;
    int rc;

    if (l == NULL || body == NULL || seq == NULL)
        return LDG_EINVAL;
    *body = NULL;
    if (!ldg_eval_target_valid(target)) {
        ldg_set_errmsg(l, "'%s' is not route:NAME, pack:NAME or model:NAME",
                       target ? target : "");
        return LDG_EINVAL;
    }
    if (reason == NULL || reason[0] == '\0' || (to != NULL && to[0] == '\0')) {
        ldg_set_errmsg(l, "%s",
                       to != NULL && to[0] == '\0'
                           ? "an empty name of the model to roll back to"
                           : "a rollback needs a reason");
        return LDG_EINVAL;
    }
    if ((rc = text_ok(l, "the reason", reason)) < 0 ||
        (rc = text_ok(l, "the model to roll back to", to)) < 0)
        return rc;
    if (to == NULL && (rc = previous_candidate(l, target, &prev)) < 0)
        return rc;
    b = json_pack("{s:s, s:s, s:s}", "target", target, "to", to ? to : prev,
                  "reason", reason);
    free(prev);
    if (b == NULL)
        return LDG_ENOMEM;
    if ((rc = append(l, LDG_EV_PROMOTION_ROLLED_BACK, b, seq)) < 0) {
        json_decref(b);
        return rc;
    }
    *body = b;
    return 0;
}
