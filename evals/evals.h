/*
 * evals.h — the eval harness: suites (JSON Lines), assertions, and a
 * concurrent runner that asks an OpenAI-compatible endpoint
 * (URL/chat/completions) each case and checks the reply. docs/EVALS.md
 * is the format; this header is the manual of the API.
 *
 * A suite file:
 *   line 1 (optional)  {"suite": {"name": "pdf-extract", "version": "3",
 *                        "threshold": {"metric": "pass_rate", "op": ">=",
 *                                      "value": 0.9},
 *                        "forbid": ["(?i)password", …]}}
 *   then one case a line
 *     {"id": "c1", "prompt": "…" | "messages": [{"role", "content"}, …],
 *      "assert": [{"type": T, "value": V}, …]}
 * T is equals, contains, icontains, not-contains, regex (PCRE2),
 * is-json (no value) or json-path-equals (value {"path": "a.b.0",
 * "value": any JSON}). Blank lines are skipped. Anything else — unknown
 * fields, wrong types, a duplicate id, a bad regex — is an error naming
 * FILE:LINE:COLUMN and the field.
 *
 * And an eval recorded in a ledger, with what it decides (evals/record.c):
 * eval.started and eval.result around a run, the promotion of a candidate
 * on a target through the promotion gate, and a rollback.
 *
 * Dependencies: ledger/ (codes, SHA-256), http/ (the requests), PCRE2
 * (in evals/assert.c only); record.c reads query/ (evals and models by
 * index) and projections/ (the gate, the promotions view).
 */
#ifndef LDG_EVALS_H
#define LDG_EVALS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define LDG_EVAL_HARNESS "ledger-evals/1"
#define LDG_EVAL_SUITE_MAX_BYTES (64u * 1024 * 1024) /* suite file */
#define LDG_EVAL_CASES_MAX 100000
#define LDG_EVAL_CONCURRENCY_MAX 64

enum ldg_eval_assert_type {
    LDG_EA_EQUALS,          /* reply, trimmed of surrounding white space, == */
    LDG_EA_CONTAINS,        /* reply contains value */
    LDG_EA_ICONTAINS,       /* the same, ASCII case-insensitive */
    LDG_EA_NOT_CONTAINS,    /* reply does not contain value */
    LDG_EA_REGEX,           /* PCRE2 pattern matches somewhere in the reply */
    LDG_EA_IS_JSON,         /* the trimmed reply is one JSON value */
    LDG_EA_JSON_PATH_EQUALS /* reply is JSON and the value at path equals */
};

struct ldg_eval_suite; /* opaque; parsed and checked */

/* Parses a suite from buf (len bytes). name is used in messages (the file
 * name). On error returns LDG_EBADINPUT (or LDG_ETOOBIG past the limits)
 * and err gets "NAME:LINE:COLUMN: field 'assert[1].type': unknown type
 * 'regexp'". The suite's digest is SHA-256 of the bytes. */
int ldg_eval_suite_parse(struct ldg_eval_suite **out, const char *name,
                         const char *buf, size_t len, char *err, size_t errlen);
/* Reads and parses a file: LDG_ENOTFOUND/LDG_EIO if it cannot be read. */
int ldg_eval_suite_load(struct ldg_eval_suite **out, const char *path,
                        char *err, size_t errlen);
void ldg_eval_suite_free(struct ldg_eval_suite *s);

/* Accessors (borrowed strings, valid while the suite lives). */
const char *ldg_eval_suite_name(const struct ldg_eval_suite *s);
const char *
ldg_eval_suite_version(const struct ldg_eval_suite *s); /* or NULL */
const char *
ldg_eval_suite_digest(const struct ldg_eval_suite *s); /* "sha256:hex" */
size_t ldg_eval_suite_cases(const struct ldg_eval_suite *s);
const char *ldg_eval_case_id(const struct ldg_eval_suite *s, size_t i);
/* The threshold as a new JSON object {metric, op, value} (the suite's, or
 * the default {"pass_rate", ">=", 1}). */
json_t *ldg_eval_suite_threshold(const struct ldg_eval_suite *s);

/* Checks case i's assertions against reply. Returns 1 if all hold, 0 if
 * not (why gets "assert[2] regex: no match" style text). */
int ldg_eval_check(const struct ldg_eval_suite *s, size_t i, const char *reply,
                   size_t reply_len, char *why, size_t whylen);
/* 1 if reply matches one of the suite's forbid patterns (a policy
 * violation; which gets the pattern), else 0. */
int ldg_eval_forbidden(const struct ldg_eval_suite *s, const char *reply,
                       size_t reply_len, const char **which);

/* ---------------------------------------------------------------- run -- */

struct ldg_eval_run_opts {
    const char *endpoint;   /* OpenAI-compatible base URL, e.g.
                               "http://127.0.0.1:11434/v1" */
    const char *model;      /* the "model" of each request (the candidate) */
    unsigned concurrency;   /* requests in flight; 0 = 1 */
    long timeout_ms;        /* per request; 0 = 120000 */
    size_t max_reply_bytes; /* per response; 0 = 4 MiB */
    long seed;              /* sent as "seed"; negative = not sent */
    const char *api_key;    /* "Authorization: Bearer KEY" if set */
};

/* One case's outcome. */
struct ldg_eval_case_result {
    int passed;         /* 1 only if a reply came and every assertion held */
    int request_failed; /* no usable reply: refused, 5xx, timeout,
                           malformed or oversized */
    int violation;      /* the reply matched a forbid pattern */
    double latency_ms;  /* request time (also for failed requests) */
    char detail[256];   /* why it failed, "" if it passed */
};

struct ldg_eval_report {
    size_t total, passed, request_failures, violations;
    double pass_rate;      /* passed / total (0 for an empty suite) */
    double p50_ms, p95_ms; /* over cases that got a reply; */
    int has_latency;       /* 0 if none did */
    int threshold_passed;  /* the suite's threshold holds */
    double elapsed_ms;     /* wall time of the whole run */
    struct ldg_eval_case_result *cases; /* total entries, suite order */
};

/* Runs every case against opts->endpoint/chat/completions with
 * temperature 0 (and the seed), opts->concurrency at a time. A case's
 * request failure never aborts the run; it fails that case. Returns 0
 * with rep filled (free with ldg_eval_report_release), or LDG_EINVAL /
 * LDG_ENOMEM. */
int ldg_eval_run(const struct ldg_eval_suite *s,
                 const struct ldg_eval_run_opts *opts,
                 struct ldg_eval_report *rep, char *err, size_t errlen);
void ldg_eval_report_release(struct ldg_eval_report *rep);

/* The eval.result body for a finished run (new reference): eval_id, suite,
 * suite_version, suite_digest, target, candidate, candidate_digest (NULL
 * → null), harness, endpoint, passed, cases_total, cases_passed,
 * metrics {pass_rate, latency_p50_ms, latency_p95_ms},
 * policy_violations, request_failures, threshold, and cases: [{id, ok,
 * latency_ms, detail?}] (every case when the suite has at most 2000,
 * else the failed ones only, with cases_listed: "failed"). */
json_t *ldg_eval_result_body(const struct ldg_eval_suite *s,
                             const struct ldg_eval_run_opts *opts,
                             const struct ldg_eval_report *rep,
                             const char *eval_id, const char *target,
                             const char *candidate,
                             const char *candidate_digest);

/* ----------------------------------------------------------- promotion -- */

struct ldg_ledger;

/* 1 if target is one an eval, a promotion or a rollback can be for:
 * "route:NAME", "pack:NAME" or "model:NAME" (NAME not empty, the whole at
 * most LDG_SUBJECT_MAX bytes: it is the events' subject); else 0 (also
 * for NULL). */
int ldg_eval_target_valid(const char *target);

/* The candidate's weights as the log knows them now, as eval.result and
 * promotion.promoted record them: a new object {"digest": the digest of
 * the latest model.registered for model, or null; "verified": whether a
 * model.verified hashed those weights and they matched}. NULL on
 * ENOMEM. Reads through its own read transaction. */
json_t *ldg_eval_candidate(struct ldg_ledger *l, const char *model);

/*
 * Runs suite s as ldg_eval_run does and records it: eval.started (a new
 * eval id "E-<UTC time>-<6 hex>", the suite's name, version and digest,
 * target, candidate o->model and its digest as registered, endpoint,
 * harness, cases_total, concurrency) before the first request, then
 * eval.result (ldg_eval_result_body, with candidate_verified). 0 with
 * *rep filled (ldg_eval_report_release it; rep->threshold_passed says
 * whether the suite passed), *result the eval.result body (new reference)
 * and *seq its sequence number. LDG_EINVAL for a NULL argument or a target
 * ldg_eval_target_valid refuses (nothing written); other negative codes
 * when an append or the run fails (eval.started may then stand alone, as
 * for an eval still running); ldg_errmsg(l) says why.
 */
int ldg_eval_record(struct ldg_ledger *l, const struct ldg_eval_suite *s,
                    const struct ldg_eval_run_opts *o, const char *target,
                    struct ldg_eval_report *rep, json_t **result,
                    uint64_t *seq);

/* A promotion asked for (strings borrowed for the call). */
struct ldg_promotion {
    const char *target;    /* route:NAME, pack:NAME or model:NAME */
    const char *candidate; /* the model promoted */
    const char *eval_id;   /* the eval that justifies it */
    const char *reason;    /* recorded when not NULL */
    int force; /* promote even when the gate fails: recorded ungated */
};

/*
 * Decides a promotion and records the decision. The gate
 * (ldg_projections_gate: the eval passed, is for this target and
 * candidate, and is no worse than the current promoted candidate's in
 * pass rate, p50 latency and policy violations) decides:
 *   0  promotion.promoted appended: the gate held, or it failed and
 *      p->force is set (then the body has "forced": true and
 *      "gate_failed": why, and the promotions view marks it ungated);
 *      the body carries candidate_digest and candidate_verified
 *      (ldg_eval_candidate);
 *   1  the gate failed: promotion.rejected appended, its "reason" why.
 * *body gets the appended body (new reference: json_decref it) and *seq
 * its sequence number. Refused with nothing written, forced or not:
 * LDG_EINVAL for a NULL argument or a target ldg_eval_target_valid
 * refuses; LDG_ENOTFOUND when p->eval_id names no eval.result in the log
 * (an unknown eval, or one started and not finished). Other negative
 * codes for a failed read or append. On every failure ldg_errmsg(l) says
 * why ("no eval E-1 in the log (`ledger evals` lists them)").
 */
int ldg_eval_promote(struct ldg_ledger *l, const struct ldg_promotion *p,
                     json_t **body, uint64_t *seq);

/*
 * Rolls target back: appends promotion.rolled_back {target, to, reason},
 * to being the given model, or when NULL the candidate promoted before the
 * current one (the promotions view's "previous"). 0 with *body (new
 * reference) and *seq. Nothing written on failure: LDG_EINVAL for a bad
 * target, an empty or NULL reason, an empty to or a NULL out pointer;
 * LDG_ENOTFOUND when to is NULL and target has no earlier promoted
 * candidate; other negative codes for a failed read or append;
 * ldg_errmsg(l) says why.
 */
int ldg_eval_rollback(struct ldg_ledger *l, const char *target, const char *to,
                      const char *reason, json_t **body, uint64_t *seq);

#endif
