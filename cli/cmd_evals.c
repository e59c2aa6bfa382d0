/*
 * cmd_evals.c — eval run, evals, promote, rollback.
 *
 *   ledger eval run SUITE --target route:R --candidate MODEL --endpoint URL
 *       [--concurrency N] [--timeout-ms N] [--seed N | --no-seed]
 *       [--api-key-env VAR] [-o json]
 *   ledger evals [--target T] [-o json]
 *   ledger promote TARGET CANDIDATE --eval ID [--force] [--reason TEXT]
 *   ledger rollback TARGET [--to MODEL] --reason TEXT
 *
 * Exit codes: eval run 0 when the suite passed its threshold, 1 when not;
 * promote 0 promoted, 1 rejected by the gate (promotion.rejected written).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "evals/evals.h"
#include "query/query.h"

/* ------------------------------------------------------------ eval run -- */

enum { OPT_NOSEED = 256, OPT_TIMEOUT, OPT_KEYENV, OPT_FORCE, OPT_REASON };

/* What each command is asked (the option tables store into these). */
struct eval_args {
    const char *target, *cand, *ep, *keyenv;
    uint64_t conc, tmo, seed;
    int noseed;
};
struct promote_args {
    const char *eval_id, *reason, *to;
    int force;
};
#define EA struct eval_args
#define PA struct promote_args

static const struct cli_opt eval_opts[] = {
    CLI_STR('t', 0, "target", "T",
            "what the eval is for: route:NAME, pack:NAME or model:NAME", EA,
            target),
    CLI_STR('c', 0, "candidate", "MODEL",
            "the model asked (the \"model\" of each request)", EA, cand),
    CLI_STR('e', 0, "endpoint", "URL",
            "OpenAI-compatible base URL (http://127.0.0.1:11434/v1)", EA, ep),
    CLI_NUM('j', 'j', "concurrency", "N", "requests in flight (1-64; 1)", EA,
            conc, 1, LDG_EVAL_CONCURRENCY_MAX),
    CLI_NUM(OPT_TIMEOUT, 0, "timeout-ms", "MS",
            "per-request timeout (default 120000)", EA, tmo, 1, 86400000),
    CLI_NUM('s', 0, "seed", "N", "the seed sent with each request (0)", EA,
            seed, 0, 0x7fffffff),
    CLI_ON(OPT_NOSEED, 0, "no-seed", "send no seed", EA, noseed),
    CLI_STR(OPT_KEYENV, 0, "api-key-env", "VAR",
            "send 'Authorization: Bearer' with $VAR", EA, keyenv),
    CLI_ARG("run", "the subcommand (only run)", 0),
    CLI_ARG("SUITE", "the suite file (JSON Lines, docs/EVALS.md)", 0),
    CLI_OPT_END};
/* seed UINT64_MAX: --seed not given (sent as 0 unless --no-seed) */
static const struct eval_args eval_defaults = {
    .conc = 1, .tmo = 120000, .seed = UINT64_MAX};

/* 0 when target is route:NAME, pack:NAME or model:NAME; else said after
 * what ("--target:" or "TARGET") and EX_USAGE. */
static int
target_ok(struct cli *c, const char *what, const char *target)
{
    if (ldg_eval_target_valid(target))
        return 0;
    cli_err(c, "%s '%s' is not route:NAME, pack:NAME or model:NAME", what,
            target);
    return EX_USAGE;
}

/* --target, --candidate and --endpoint, given and well formed: 0, or
 * EX_USAGE. */
static int
eval_check(struct cli *c, const char *target, const char *cand, const char *ep)
{
    if (!target || !cand || !ep)
        return cli_usage_err(c, "--target, --candidate and --endpoint are "
                                "required");
    if (target_ok(c, "--target:", target) != 0)
        return EX_USAGE;
    if (strncmp(ep, "http://", 7) != 0 && strncmp(ep, "https://", 8) != 0) {
        cli_err(c, "--endpoint: '%s' is not an http:// or https:// URL", ep);
        return EX_USAGE;
    }
    return 0;
}

static int
cmd_eval(struct cli *c, struct eval_args *x, int npos, char **pos)
{
    int rc, ex = EX_OK;
    struct ldg_eval_suite *s = NULL;
    struct ldg_ledger *l = NULL;
    struct ldg_eval_report rep = {0};
    char err[1024] = "";
    json_t *result = NULL;

    if ((rc = cli_only_sub(c, npos, pos, "run",
                           "give exactly one SUITE file")) != 0)
        return rc;
    const char *suite_path = pos[1];
    const char *target = x->target, *cand = x->cand, *ep = x->ep;
    if ((rc = eval_check(c, target, cand, ep)) != 0)
        return rc;
    if (x->noseed && x->seed != UINT64_MAX)
        return cli_usage_err(c, "--seed N and --no-seed: give one");
    if ((rc = cli_view_prepare(c)) != 0)
        return rc;
    rc = ldg_eval_suite_load(&s, suite_path, err, sizeof err);
    if (rc < 0)
        return cli_fail_err(c, err, rc);
    struct ldg_eval_run_opts o = {
        .endpoint = ep,
        .model = cand,
        .concurrency = (unsigned)x->conc,
        .timeout_ms = (long)x->tmo,
        .seed = x->noseed               ? -1
                : x->seed == UINT64_MAX ? 0
                                        : (long)x->seed,
        .api_key = x->keyenv ? getenv(x->keyenv) : NULL,
    };
    if (x->keyenv && !o.api_key) {
        cli_err(c, "--api-key-env: %s is not set", x->keyenv);
        ldg_eval_suite_free(s);
        return EX_USAGE;
    }
    if ((rc = cli_open(c, 0, &l)) != 0) {
        ldg_eval_suite_free(s);
        return rc;
    }
    uint64_t seq = 0;
    rc = ldg_eval_record(l, s, &o, target, &rep, &result, &seq);
    if (rc < 0) {
        ex = cli_fail(c, l, rc);
        goto out;
    }
    const char *eval_id = json_string_value(json_object_get(result, "eval_id"));
    const char *cdig =
        json_string_value(json_object_get(result, "candidate_digest"));
    if (c->out != OUT_HUMAN) {
        json_object_set_new(result, "seq", ldg_json_u64(seq));
        cli_print_json(c, json_incref(result));
    } else {
        for (size_t i = 0; i < rep.total; i++)
            if (!rep.cases[i].passed)
                printf("FAIL %-24s %s\n", ldg_eval_case_id(s, i),
                       rep.cases[i].detail);
        printf("eval %s: %s %zu/%zu passed (%.1f%%), %zu request failures, "
               "%zu policy violations",
               eval_id, rep.threshold_passed ? "PASSED" : "FAILED", rep.passed,
               rep.total, rep.pass_rate * 100.0, rep.request_failures,
               rep.violations);
        if (rep.has_latency)
            printf(", p50 %.1f ms, p95 %.1f ms", rep.p50_ms, rep.p95_ms);
        printf("; candidate %s digest %s; seq %llu\n", cand,
               cdig ? cdig : "unknown (never probed)", (unsigned long long)seq);
    }
    ex = rep.threshold_passed ? EX_OK : EX_VERIFY;
out:
    json_decref(result);
    ldg_eval_report_release(&rep);
    ldg_eval_suite_free(s);
    ldg_close(l);
    return ex;
}

CLI_COMMAND(
    eval, CLI_GROUP_STATE, "run an eval suite, record the result",
    "Sends each case of SUITE to URL/chat/completions with temperature 0, "
    "checks its assertions, measures latency, counts policy violations, and "
    "appends eval.started and eval.result (with per-case results, the "
    "suite's digest and the candidate's digest as last registered). A case "
    "whose request fails never passes and is named. Exit 0 when the suite "
    "passed its threshold, 1 when not, 65 for a bad suite.",
    eval_opts, CLI_OUT_BASIC,
    "# M=qwen2.5:7b URL=http://127.0.0.1:11434/v1 (Ollama)\n"
    "ledger eval run s.jsonl --target route:qa --candidate \"$M\" "
    "--endpoint \"$URL\"\n",
    0,
    {.size = sizeof(struct eval_args),
     .maxpos = -1,
     .defaults = &eval_defaults});

/* --------------------------------------------------------------- evals -- */

static const struct cli_opt evals_opts[] = {
    CLI_STR('t', 0, "target", "T", "only evals for this target", EA, target),
    CLI_OPT_END};

static int
cmd_evals(struct cli *c, struct eval_args *x, int npos, char **pos)
{
    int rc, n = 0;
    struct ldg_ledger *l = NULL;
    struct ldg_query *q = NULL;
    struct ldg_query_iter *it = NULL;
    struct ldg_txn *t = NULL;
    struct ldg_event ev;
    char err[512] = "", tt[LDG_SUBJECT_MAX + 16];

    const char *target = x->target;
    if (target && (rc = target_ok(c, "--target:", target)) != 0)
        return rc;
    if ((rc = cli_view_prepare(c)) != 0 || (rc = cli_open(c, 1, &l)) != 0)
        return rc;
    char ty[] = "type=eval.result";
    char *terms[2] = {ty, NULL};
    if (target) {
        snprintf(tt, sizeof tt, "body.target=%s", target);
        terms[1] = tt;
    }
    rc = ldg_query_compile(&q, target ? 2 : 1, terms, NULL, NULL, err,
                           sizeof err);
    if (rc == 0)
        rc = ldg_txn_begin(l, LDG_TXN_READ, &t);
    if (rc == 0)
        rc = ldg_query_iter_new(&it, q, t, 0);
    /* on a terminal: 12 + 17 + 16 + 7 + 6 + 8 + 8 + 6 spaces, 80 columns */
    static const struct cli_col cols[] = {
        {"EVAL", 12, 0},   {"TARGET", 17, 0}, {"CANDIDATE", 16, 0},
        {"VERDICT", 7, 0}, {"PASSED", 6, 1},  {"P50", 8, 1},
        {"DIGEST", 8, 0}};
    struct cli_table *tb =
        rc == 0 && c->out == OUT_HUMAN ? cli_table_new(cols, 7) : NULL;
    while (rc == 0 && (rc = ldg_query_iter_next(it, &ev)) == 0) {
        json_t *b = NULL;
        if (ldg_body_get(t, ev.seq, &b) < 0)
            continue; /* erased */
        n++;
        if (c->out != OUT_HUMAN) {
            /* the body's summary; a field it lacks is null */
            static const char *const keys[] = {
                "eval_id",         "target",  "candidate",
                "suite",           "passed",  "cases_total",
                "cases_passed",    "metrics", "policy_violations",
                "candidate_digest"};
            json_t *row = json_pack("{s:o}", "seq", ldg_json_u64(ev.seq));
            for (size_t k = 0; row && k < sizeof keys / sizeof *keys; k++) {
                json_t *v = json_object_get(b, keys[k]);
                json_object_set(row, keys[k], v ? v : json_null());
            }
            if (row)
                cli_print_json(c, row);
        } else {
            char pass[32], p50[24];
            const char *d =
                json_string_value(json_object_get(b, "candidate_digest"));
            json_t *p = json_object_get(json_object_get(b, "metrics"),
                                        "latency_p50_ms");
            snprintf(pass, sizeof pass, "%lld/%lld",
                     (long long)json_integer_value(
                         json_object_get(b, "cases_passed")),
                     (long long)json_integer_value(
                         json_object_get(b, "cases_total")));
            if (json_is_number(p))
                snprintf(p50, sizeof p50, "%.1fms", json_number_value(p));
            else
                snprintf(p50, sizeof p50, "-");
            char dg[24];
            static const char *const k[] = {"eval_id", "target", "candidate"};
            snprintf(dg, sizeof dg, "%.20s", d ? d : "-");
            for (size_t i = 0; i < 3; i++)
                cli_table_add(tb, json_string_value(json_object_get(b, k[i])),
                              CLI_PAINT_OFF);
            cli_table_add(tb,
                          json_is_true(json_object_get(b, "passed")) ? "passed"
                                                                     : "failed",
                          CLI_PAINT_OFF);
            cli_table_add(tb, pass, CLI_PAINT_OFF);
            cli_table_add(tb, p50, CLI_PAINT_OFF);
            cli_table_add(tb, dg, CLI_PAINT_OFF);
        }
        json_decref(b);
    }
    if (rc == LDG_ENOTFOUND)
        rc = 0;
    if (n == 0 && rc >= 0) {
        cli_table_free(tb);
        cli_view_none(c, l, "eval results", target, 0);
    } else {
        cli_table_print(c, tb);
    }
    if (rc < 0)
        cli_err(c, "%s", err[0] ? err : ldg_strerror(rc));
    ldg_query_iter_free(it);
    ldg_txn_abort(t);
    ldg_query_free(q);
    ldg_close(l);
    return rc < 0 ? cli_exit_code(rc) : EX_OK;
}

CLI_COMMAND(
    evals, CLI_GROUP_STATE, "eval runs and their verdicts",
    "Lists eval.result events, oldest first: eval id, target, candidate, "
    "verdict, cases passed, p50 latency and the candidate's digest as the "
    "runtime reported it when the eval ran.",
    evals_opts, CLI_OUT_BASIC,
    "# the evals of one route\nledger evals --target route:qa\n",
    CLI_CMD_GATHER, {.size = sizeof(struct eval_args)});

/* ------------------------------------------------------------- promote -- */

static const struct cli_opt promote_opts[] = {
    CLI_STR('e', 0, "eval", "ID", "the eval that justifies it (required)", PA,
            eval_id),
    CLI_ON(OPT_FORCE, 0, "force",
           "promote even if the gate fails (recorded as ungated)", PA, force),
    CLI_STR(OPT_REASON, 0, "reason", "TEXT", "why, recorded", PA, reason),
    CLI_ARG("TARGET", "route:NAME, pack:NAME or model:NAME", 0),
    CLI_ARG("CANDIDATE", "the model to promote", 0),
    CLI_OPT_END};

static int
cmd_promote(struct cli *c, struct promote_args *x, int npos, char **pos)
{
    int rc, ex;
    struct ldg_ledger *l = NULL;
    json_t *body = NULL;
    uint64_t seq = 0;

    if (!x->eval_id)
        return cli_usage_err(c, "--eval ID is required");
    if (npos != 2)
        return cli_usage_err(c, "give TARGET and CANDIDATE");
    struct ldg_promotion p = {pos[0], pos[1], x->eval_id, x->reason, x->force};
    if ((rc = target_ok(c, "TARGET", p.target)) != 0)
        return rc;
    if ((rc = cli_view_prepare(c)) != 0 || (rc = cli_open(c, 0, &l)) != 0)
        return rc;
    rc = ldg_eval_promote(l, &p, &body, &seq);
    if (rc == LDG_ENOTFOUND)
        cli_err(c, "--eval: %s; nothing was written", ldg_errmsg(l));
    else if (rc < 0)
        cli_err(c, "%s", cli_why(l, rc));
    else if (rc == 1)
        cli_err(c, "rejected: %s (promotion.rejected at seq %llu)",
                json_string_value(json_object_get(body, "reason")),
                (unsigned long long)seq);
    else if (json_is_true(json_object_get(body, "forced")))
        fprintf(stderr,
                "ledger promote: gate does not hold (%s); promoted "
                "anyway (--force), recorded as ungated\n",
                json_string_value(json_object_get(body, "gate_failed")));
    ex = rc < 0 ? cli_exit_code(rc) : rc == 1 ? EX_VERIFY : EX_OK;
    if (rc >= 0 && c->out != OUT_HUMAN) {
        json_object_set_new(body, "seq", ldg_json_u64(seq));
        json_object_set_new(body, "type",
                            json_string(rc == 0 ? LDG_EV_PROMOTION_PROMOTED
                                                : LDG_EV_PROMOTION_REJECTED));
        cli_print_json(c, json_incref(body));
    } else if (rc == 0) {
        printf("promoted %s on %s (eval %s), seq %llu\n", p.candidate, p.target,
               x->eval_id, (unsigned long long)seq);
    }
    json_decref(body);
    ldg_close(l);
    return ex;
}

CLI_COMMAND(
    promote, CLI_GROUP_STATE, "gated promotion of a candidate",
    "Applies the promotion gate before writing anything: the eval passed, "
    "for this target and candidate, with a pass rate at least the current "
    "promoted candidate's, a p50 latency no worse and no more policy "
    "violations. If it holds, appends promotion.promoted (exit 0); if not, "
    "appends promotion.rejected with the reason (exit 1). An --eval id with "
    "no eval.result in the log is refused (exit 66) and nothing is written. "
    "--force promotes "
    "anyway and the promotions view marks it ungated.",
    promote_opts, CLI_OUT_BASIC,
    "# promote after a passing eval\n"
    "ledger promote route:qa qwen2.5:7b --eval E-20261122T101500Z-3fa9c1\n",
    0, {.size = sizeof(struct promote_args), .maxpos = 2});

/* ------------------------------------------------------------ rollback -- */

static const struct cli_opt rollback_opts[] = {
    CLI_STR('t', 0, "to", "MODEL",
            "the candidate to go back to (default: the previous one)", PA, to),
    CLI_STR(OPT_REASON, 0, "reason", "TEXT", "why (required)", PA, reason),
    CLI_ARG("TARGET", "route:NAME, pack:NAME or model:NAME", 0), CLI_OPT_END};

static int
cmd_rollback(struct cli *c, struct promote_args *x, int npos, char **pos)
{
    int rc, ex = EX_OK;
    struct ldg_ledger *l = NULL;
    json_t *body = NULL;
    uint64_t seq = 0;

    if (!x->reason || !x->reason[0])
        return cli_usage_err(c, "--reason TEXT is required");
    if (npos != 1)
        return cli_usage_err(c, "give one TARGET");
    const char *target = pos[0];
    if ((rc = target_ok(c, "TARGET", target)) != 0)
        return rc;
    if ((rc = cli_view_prepare(c)) != 0 || (rc = cli_open(c, 0, &l)) != 0)
        return rc;
    rc = ldg_eval_rollback(l, target, x->to, x->reason, &body, &seq);
    if (rc < 0) {
        cli_err(c, "%s%s", cli_why(l, rc),
                rc == LDG_ENOTFOUND ? "; give --to MODEL" : "");
        ex = cli_exit_code(rc);
    } else if (c->out != OUT_HUMAN) {
        json_object_set_new(body, "seq", ldg_json_u64(seq));
        cli_print_json(c, json_incref(body));
    } else {
        printf("rolled back %s to %s, seq %llu\n", target,
               json_string_value(json_object_get(body, "to")),
               (unsigned long long)seq);
    }
    json_decref(body);
    ldg_close(l);
    return ex;
}

CLI_COMMAND(
    rollback, CLI_GROUP_STATE, "roll a target back to an earlier candidate",
    "Appends promotion.rolled_back: the target's current candidate becomes "
    "MODEL, by default the one promoted before the current one (exit 66 if "
    "there is none).",
    rollback_opts, CLI_OUT_BASIC,
    "# go back to the previous candidate\n"
    "ledger rollback route:qa --reason 'wrong answers in production'\n",
    0, {.size = sizeof(struct promote_args), .maxpos = 1});
