/*
 * cmd_memory.c — the control pipeline's views (plans, debates), memory,
 * gates.
 */
#include <string.h>
#include "cli/cli.h"
#include "cli/commands.h"
#include "pipeline/pipeline.h"
#include "projections/projections.h"
#include "query/query.h"

/* ------------------------------------------ the control pipeline (34) -- */

/* Violations of a plan or memory item, one "seq N rule: detail" each. */
static void
human_violations(struct cli *c, const json_t *r)
{
    size_t i;
    json_t *v;
    const json_t *vs = json_object_get(r, "violations");
    long long total =
        (long long)json_integer_value(json_object_get(r, "violations_total"));
    if (json_array_size(vs) == 0) {
        printf("violations     none\n");
        return;
    }
    printf("violations     %lld\n", total);
    json_array_foreach(vs, i, v)
    {
        fputs(cli_paint(c->color, CLI_PAINT_FAIL), stdout);
        printf("  seq %-8s %s", cli_view_js(v, "seq"), cli_view_js(v, "rule"));
        fputs(cli_paint(c->color, CLI_PAINT_OFF), stdout);
        printf(": %s\n", cli_view_js(v, "detail"));
    }
    if ((size_t)total > json_array_size(vs))
        printf("  (%lld more not kept)\n",
               total - (long long)json_array_size(vs));
}

/* The strings of r's array K joined by SEP into buf (cut at cap). */
static void
join_text(const json_t *r, const char *k, const char *sep, char *buf,
          size_t cap)
{
    size_t i, n = 0;
    json_t *x;
    buf[0] = '\0';
    json_array_foreach(json_object_get(r, k), i, x)
    {
        int w = snprintf(buf + n, cap - n, "%s%s", i ? sep : "",
                         json_string_value(x));
        if (w < 0 || (size_t)w >= cap - n)
            break;
        n += (size_t)w;
    }
}

static void
path_text(const json_t *r, char *buf, size_t cap)
{
    join_text(r, "path", ">", buf, cap);
}

static void
human_plans(struct cli *c, json_t *rows)
{
    size_t i;
    json_t *r;
    char path[512], nv[24];
    /* 16 + 12 + 6 + 6 + 36 + 4 spaces: 80 columns */
    cli_cell(c, "PLAN", 16, 0);
    cli_cell(c, "STATE", 12, 0);
    printf("%5s %5s ", "STEPS", "VIOLS");
    cli_cell(c, "PATH", 36, 1);
    json_array_foreach(rows, i, r)
    {
        long long v = (long long)json_integer_value(
            json_object_get(r, "violations_total"));
        const char *st = cli_view_js(r, "state");
        path_text(r, path, sizeof path);
        snprintf(nv, sizeof nv, "%lld", v);
        cli_cell(c, cli_view_js(r, "plan"), 16, 0);
        fputs(cli_paint(c->color, strcmp(st, "PROMOTE") == 0 ? CLI_PAINT_OK
                                  : strcmp(st, "ABORT") == 0 ? CLI_PAINT_WARN
                                                             : CLI_PAINT_OFF),
              stdout);
        cli_cell(c, st, 12, 0);
        fputs(cli_paint(c->color, CLI_PAINT_OFF), stdout);
        printf("%5lld ", cli_view_ji(r, "steps", "total"));
        fputs(cli_paint(c->color, v ? CLI_PAINT_FAIL : CLI_PAINT_OFF), stdout);
        printf("%5s ", nv);
        fputs(cli_paint(c->color, CLI_PAINT_OFF), stdout);
        cli_cell(c, path, 36, 1);
    }
}

static void
human_plan_one(struct cli *c, json_t *rows)
{
    json_t *r = json_array_get(rows, 0), *d;
    char path[2048], t0[32], t1[32];
    path_text(r, path, sizeof path);
    cli_when_rfc3339(t0, sizeof t0, cli_view_js(r, "start"));
    cli_when_rfc3339(t1, sizeof t1, cli_view_js(r, "end"));
    printf("plan           %s\n", cli_view_js(r, "plan"));
    printf("state          %s (seq %s)\n", cli_view_js(r, "state"),
           cli_view_js(r, "state_seq"));
    printf("path           %s\n", path);
    if (json_is_string(json_object_get(r, "intent")))
        printf("intent         %s\n", cli_view_js(r, "intent"));
    printf("events         seq %s..%s (%s .. %s)\n",
           cli_view_js(r, "first_seq"), cli_view_js(r, "last_seq"), t0, t1);
    d = json_object_get(r, "debate");
    if (json_is_object(d))
        printf("debate         %s %s (seq %s)\n", cli_view_js(d, "debate"),
               cli_view_js(d, "decision"), cli_view_js(d, "seq"));
    else
        printf("debate         none\n");
    /* the event of its passing VERIFY (a seq alone read as a count) */
    if (json_is_string(json_object_get(r, "verified_seq")))
        printf("verified       VERIFY passed at seq %s (after the last "
               "change)\n",
               cli_view_js(r, "verified_seq"));
    else
        printf("verified       no passing VERIFY since the last change\n");
    printf("steps          %lld (ok %lld, failed %lld, skipped %lld)\n",
           cli_view_ji(r, "steps", "total"), cli_view_ji(r, "steps", "ok"),
           cli_view_ji(r, "steps", "failed"),
           cli_view_ji(r, "steps", "skipped"));
    printf(
        "snapshots      %lld (%lld restored), tripcodes %lld (%lld "
        "refused)\n",
        (long long)json_integer_value(json_object_get(r, "snapshots")),
        (long long)json_integer_value(json_object_get(r, "snapshots_restored")),
        (long long)json_integer_value(json_object_get(r, "tripcodes")),
        (long long)json_integer_value(json_object_get(r, "tripcodes_refused")));
    human_violations(c, r);
    printf("timeline       ledger timeline %s\n", cli_view_js(r, "plan"));
}

static const struct cli_opt plans_opts[] =
    CLI_VIEW_KEY_OPTS("PLAN", "one plan in detail");

static int
cmd_plans(struct cli *c, void *args, int npos, char **pos)
{
    return cli_view_cmd(c, args, npos, pos, 1, LDG_VIEW_PLANS, human_plans,
                        human_plan_one);
}

CLI_COMMAND(
    plans, CLI_GROUP_STATE,
    "the control pipeline's plans and the promises they broke",
    "Lists the plans of the box's control pipeline (plan.state, plan.step): "
    "each one's state, its path through IDLE > PLAN > DEBATE_PLAN > "
    "SIMULATE > VERIFY > PROMOTE (or ABORT), its steps, and how many of "
    "the pipeline's rules it broke. With PLAN, that plan in detail with "
    "every violation: the seq of the event that broke a rule and the "
    "rule's name (illegal-transition, promote-without-verify, "
    "abort-on-failure, debate-not-accepted, debate-fail-closed, "
    "debate-rounds, debate-agreement, "
    "step-after-abort, t2-without-snapshot, t3-without-tripcode, "
    "mutate-blue, after-end; docs/PROJECTIONS.md). With -o json each plan "
    "has a \"violations\" array, empty when it conforms.",
    plans_opts, CLI_OUT_BASIC,
    "ledger plans\n"
    "ledger plans P-0917 -o json-pretty\n",
    CLI_CMD_PAGER | CLI_CMD_GATHER, CLI_VIEW_ARGS);

/* -------------------------------------------------------------- memory -- */

static void
gates_text(const json_t *r, char *buf, size_t cap)
{
    if (json_array_size(json_object_get(r, "passed")) == 4)
        snprintf(buf, cap, "all four");
    else
        join_text(r, "passed", ",", buf, cap);
    if (buf[0] == '\0')
        snprintf(buf, cap, "-");
}

static void
human_memory(struct cli *c, json_t *rows)
{
    size_t i;
    json_t *r;
    char gates[128], hash[16], nv[24];
    /* 16 + 10 + 13 + 32 + 5 + 4 spaces: 80 columns */
    cli_cells(c, 0, "ITEM", 16, "STATUS", 10, "HASH", 13, "GATES PASSED", 32,
              NULL);
    printf("%5s\n", "VIOLS");
    json_array_foreach(rows, i, r)
    {
        long long v = (long long)json_integer_value(
            json_object_get(r, "violations_total"));
        gates_text(r, gates, sizeof gates);
        /* no hash: erased, or never given (no memory.candidate) */
        snprintf(hash, sizeof hash, "%.12s",
                 json_is_string(json_object_get(r, "hash"))
                     ? cli_view_js(r, "hash")
                 : json_is_true(json_object_get(r, "erased")) ? "(erased)"
                                                              : "-");
        snprintf(nv, sizeof nv, "%lld", v);
        cli_cell(c, cli_view_js(r, "item"), 16, 0);
        cli_cell(c, cli_view_js(r, "status"), 10, 0);
        cli_cell(c, hash, 13, 0);
        cli_cell(c, gates, 32, 0);
        fputs(cli_paint(c->color, v ? CLI_PAINT_FAIL : CLI_PAINT_OFF), stdout);
        printf("%5s\n", nv);
        fputs(cli_paint(c->color, CLI_PAINT_OFF), stdout);
    }
}

static void
human_memory_one(struct cli *c, json_t *rows)
{
    json_t *r = json_array_get(rows, 0), *p, *g, *x;
    const char *k;
    printf("item           %s\n", cli_view_js(r, "item"));
    printf("status         %s\n", cli_view_js(r, "status"));
    printf("hash           %s\n", json_is_string(json_object_get(r, "hash"))
                                      ? cli_view_js(r, "hash")
                                  : json_is_true(json_object_get(r, "erased"))
                                      ? "(erased)"
                                      : "none: no memory.candidate gave one");
    p = json_object_get(r, "provenance");
    if (json_is_object(p)) {
        char *t = json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS);
        printf("provenance     %s\n", t ? t : "?");
        free(t);
    }
    printf("candidate      seq %s\n", cli_view_js(r, "candidate_seq"));
    g = json_object_get(r, "gates");
    json_object_foreach(g, k, x)
    {
        if (json_is_object(x))
            printf("gate %-10s %s (seq %s)\n", k, cli_view_js(x, "status"),
                   cli_view_js(x, "seq"));
        else
            printf("gate %-10s never\n", k);
    }
    if (json_is_string(json_object_get(r, "admitted_seq")))
        printf("admitted       seq %s\n", cli_view_js(r, "admitted_seq"));
    if (json_is_string(json_object_get(r, "revoked_seq")))
        printf("revoked        seq %s\n", cli_view_js(r, "revoked_seq"));
    if (json_is_string(json_object_get(r, "purged_seq")))
        printf("purged         seq %s\n", cli_view_js(r, "purged_seq"));
    if (json_is_string(json_object_get(r, "reason")))
        printf("reason         %s\n", cli_view_js(r, "reason"));
    human_violations(c, r);
}

#define OPT_REVOKED 0x401
#define OPT_PREFIX 0x402
#define OPT_REASON 0x403
#define OPT_ALL 0x404

struct memory_args {
    struct vargs va; /* first: --at goes there (cli_view_opt) */
    const char *prefix, *reason;
    int revoked, all;
};
#define MA struct memory_args
static const struct cli_opt memory_opts[] = {
    AT_OPT,
    CLI_ON(OPT_REVOKED, 0, "revoked",
           "list the revoked and purged items instead of the others", MA,
           revoked),
    CLI_STR(OPT_PREFIX, 0, "prefix", "HEX",
            "with purge: the hash prefix (1..64 hex digits) of the items "
            "to purge; it must name one hash",
            MA, prefix),
    CLI_STR(OPT_REASON, 0, "reason", "TEXT", "with purge: why (required)", MA,
            reason),
    CLI_ON(OPT_ALL, 0, "all",
           "with purge: purge every item the prefix matches, even when "
           "their hashes differ",
           MA, all),
    CLI_ARG("ITEM|purge", "one item in detail, or `purge`", CLI_OPTIONAL),
    CLI_OPT_END};

static int
memory_purge(struct cli *c, const char *prefix, const char *reason, int all)
{
    struct ldg_ledger *l = NULL;
    json_t *rep = NULL;
    int rc;

    if ((rc = cli_open(c, 0, &l)) != 0)
        return rc;
    rc = ldg_pipeline_purge(l, prefix, reason, all, &rep);
    if (rc == LDG_EINVAL) { /* misuse: with the usage line, as others */
        rc = cli_usage_err(c, "%s", ldg_errmsg(l));
        ldg_close(l);
        return rc;
    }
    if (rc < 0)
        return cli_fail_close(c, l, rc);
    if (c->out != OUT_HUMAN) {
        char b[24];
        snprintf(b, sizeof b, "%lld",
                 (long long)json_integer_value(json_object_get(rep, "seq")));
        json_object_set_new(rep, "seq", json_string(b));
        {
            /* sequence numbers are strings in -o json (docs/OUTPUT.md) */
            json_t *er = json_array(), *x;
            size_t i;
            json_array_foreach(json_object_get(rep, "erased"), i, x)
            {
                snprintf(b, sizeof b, "%lld", (long long)json_integer_value(x));
                json_array_append_new(er, json_string(b));
            }
            json_object_set_new(rep, "erased", er);
        }
        cli_print_json(c, json_incref(rep));
    } else {
        size_t i;
        json_t *x;
        printf("seq %lld: memory purged (prefix %s): ",
               (long long)json_integer_value(json_object_get(rep, "seq")),
               cli_view_js(rep, "prefix"));
        json_array_foreach(json_object_get(rep, "items"), i, x)
            printf("%s%s", i ? ", " : "", json_string_value(x));
        printf("; bodies erased:");
        json_array_foreach(json_object_get(rep, "erased"), i, x)
            printf(" %lld", (long long)json_integer_value(x));
        printf("\n");
    }
    json_decref(rep);
    ldg_close(l);
    return EX_OK;
}

/* The memory view without the items --revoked leaves out (or keeps). */
static int
memory_view(struct cli *c, struct vargs *va, const char *item, int revoked)
{
    struct ldg_view_opts vo = {.filter = item};
    struct ldg_ledger *l = NULL;
    json_t *rows = NULL, *keep, *r;
    size_t i;
    int rc;

    if ((rc = cli_view_read(c, va, LDG_VIEW_MEMORY, &vo, &l, &rows)) != 0)
        return rc;
    keep = json_array();
    json_array_foreach(rows, i, r)
    {
        const char *st = cli_view_js(r, "status");
        int gone = strcmp(st, "revoked") == 0 || strcmp(st, "purged") == 0;
        if (item != NULL || gone == revoked)
            json_array_append(keep, r);
    }
    if (json_array_size(keep) == 0 && json_array_size(rows) > 0)
        /* items there are, all on the other side of --revoked */
        cli_err(c, "no %s memory items%s; %zu %s (%s)",
                revoked ? "revoked or purged" : "live",
                va->at_size ? " as of that event" : "", json_array_size(rows),
                revoked ? (json_array_size(rows) == 1 ? "is live" : "are live")
                        : (json_array_size(rows) == 1 ? "is revoked or purged"
                                                      : "are revoked or "
                                                        "purged"),
                revoked ? "`ledger memory` lists them"
                        : "`ledger memory --revoked` lists them");
    else if (json_array_size(keep) == 0)
        cli_view_none(
            c, l, revoked ? "revoked or purged memory items" : "memory items",
            item, va->at_size);
    else if (c->out != OUT_HUMAN)
        cli_view_rows(c, keep);
    else if (item != NULL)
        human_memory_one(c, keep);
    else
        human_memory(c, keep);
    json_decref(keep);
    json_decref(rows);
    ldg_close(l);
    return EX_OK;
}

static int
cmd_memory(struct cli *c, struct memory_args *x, int npos, char **pos)
{
    struct vargs *va = &x->va;
    const char *item = npos > 0 ? pos[0] : NULL;
    int rc;

    if (npos > 1)
        return cli_usage_err(c, "one ITEM at most (or `purge`)");
    if ((rc = cli_view_prepare(c)) != 0)
        return rc;
    if (item != NULL && strcmp(item, "purge") == 0) {
        if (x->revoked || va->at_size || va->at_time)
            return cli_usage_err(c, "--revoked and --at do not go with purge");
        if (x->prefix == NULL || *x->prefix == '\0')
            return cli_usage_err(c, "purge needs --prefix HEX (a non-empty "
                                    "hash prefix)");
        if (x->reason == NULL || *x->reason == '\0')
            return cli_usage_err(c, "purge needs --reason TEXT");
        return memory_purge(c, x->prefix, x->reason, x->all);
    }
    if (x->prefix != NULL || x->reason != NULL || x->all)
        return cli_usage_err(c, "--prefix, --reason and --all go with "
                                "`ledger memory purge`");
    if (item != NULL && x->revoked) /* ITEM is shown whatever its state */
        return cli_usage_err(c, "--revoked chooses which items the list "
                                "shows; with ITEM it says nothing (ITEM is "
                                "shown, revoked or not)");
    return memory_view(c, va, item, x->revoked);
}

CLI_COMMAND(
    memory, CLI_GROUP_STATE,
    "memory items, their provenance and gates; purge by hash prefix",
    "Lists the memory items the box's control pipeline admitted or is "
    "admitting (memory.candidate, memory.gate, debate.*, memory.admitted): "
    "each one's status, hash, the gates it passed (sanitize, debate, "
    "validators, quarantine) and how many rules its admission broke (an "
    "item admitted without passing every gate, out of order, after a "
    "failed gate or without provenance; docs/PROJECTIONS.md). With "
    "--revoked, the revoked and purged items. With ITEM, that item in "
    "detail with its provenance and every violation.\n\n"
    "Purging: `ledger memory purge --prefix HEX --reason TEXT` erases the "
    "bodies of "
    "the memory.candidate events of every item whose hash starts with HEX "
    "(through the same erasure as `ledger erase`: the log and bundles "
    "still verify) and records a memory.purged naming the items, in one "
    "transaction. A prefix that matches several different hashes is "
    "refused as ambiguous unless --all is given.",
    memory_opts, CLI_OUT_BASIC,
    "ledger memory\n"
    "ledger memory --revoked\n"
    "ledger memory note-42 -o json-pretty\n"
    "ledger memory purge --prefix a9df53 --reason 'user asked, ticket 88'\n",
    CLI_CMD_PAGER | CLI_CMD_GATHER,
    {.size = sizeof(struct memory_args), .maxpos = -1, .opt = cli_view_opt});

/* --------------------------------------------------------------- gates -- */

static void
human_gates(struct cli *c, json_t *o)
{
    size_t i, k;
    json_t *g, *e;
    printf("%-24s %-10s %-26s %s\n", "GATE", "VALUE", "THRESHOLD", "STATUS");
    json_array_foreach(json_object_get(o, "gates"), i, g)
    {
        json_t *v = json_object_get(g, "value");
        const char *st = cli_view_js(g, "status");
        char val[32];
        if (json_is_real(v))
            snprintf(val, sizeof val, "%.2f %%", json_real_value(v));
        else if (json_is_integer(v))
            snprintf(val, sizeof val, "%lld", (long long)json_integer_value(v));
        else
            snprintf(val, sizeof val, "-");
        printf("%-24s %-10s %-26s ", cli_view_js(g, "gate"), val,
               cli_view_js(g, "threshold"));
        fputs(cli_paint(c->color, strcmp(st, "pass") == 0   ? CLI_PAINT_OK
                                  : strcmp(st, "fail") == 0 ? CLI_PAINT_FAIL
                                                            : CLI_PAINT_WARN),
              stdout);
        printf("%s\n", st);
        fputs(cli_paint(c->color, CLI_PAINT_OFF), stdout);
        json_array_foreach(json_object_get(g, "evidence"), k, e)
        {
            if (json_object_get(e, "reverted_seq"))
                printf("  promotion at seq %s reverted at seq %s\n",
                       cli_view_js(e, "seq"), cli_view_js(e, "reverted_seq"));
            else if (json_object_get(e, "errors"))
                printf(
                    "  promotion at seq %s: %lld error event(s), the "
                    "first at seq %s\n",
                    cli_view_js(e, "seq"),
                    (long long)json_integer_value(json_object_get(e, "errors")),
                    cli_view_js(e, "first_error_seq"));
            else if (json_object_get(e, "inputs_digest"))
                printf("  inputs %.16s: %.16s at seq %s, %.16s at seq %s\n",
                       cli_view_js(e, "inputs_digest"),
                       cli_view_js(e, "first_digest"),
                       cli_view_js(e, "first_seq"), cli_view_js(e, "digest"),
                       cli_view_js(e, "seq"));
            else
                printf("  seq %s: %s %s writes to Blue\n",
                       cli_view_js(e, "seq"), cli_view_js(e, "type"),
                       cli_view_js(e, "what"));
        }
    }
    {
        char since[48] = "";
        if (json_is_string(json_object_get(o, "since")))
            cli_when_rfc3339(since, sizeof since, cli_view_js(o, "since"));
        printf("overall: %s (%lld promotions%s%s)\n", cli_view_js(o, "status"),
               (long long)json_integer_value(json_object_get(o, "promotions")),
               since[0] ? " since " : "", since);
    }
}

#define OPT_SINCE 0x405

struct gates_args {
    struct vargs va; /* first: --at goes there (cli_view_opt) */
    const char *since;
    int check;
};
static const struct cli_opt gates_opts[] = {
    AT_OPT,
    CLI_STR(OPT_SINCE, 'S', "since", "TIME",
            "judge only the events at or after TIME (as `ledger query -S` "
            "takes it: '-7d', 'yesterday', RFC 3339)",
            struct gates_args, since),
    CLI_ON('c', 0, "check", "exit 1 when a gate fails", struct gates_args,
           check),
    CLI_OPT_END};

static int
cmd_gates(struct cli *c, struct gates_args *x, int npos, char **pos)
{
    struct vargs *va = &x->va;
    struct ldg_view_opts vo = {0};
    struct ldg_ledger *l = NULL;
    json_t *o = NULL;
    char err[512];
    int rc;

    if ((rc = cli_npos(c, npos, pos, 0, 0, NULL)) != 0)
        return rc;
    if (x->since != NULL &&
        ldg_query_parse_time(x->since, ldg_now_wall_ns(), &vo.since_ns, err,
                             sizeof err) < 0)
        return cli_usage_err(c, "--since: %s", err);
    if ((rc = cli_view_prepare(c)) != 0)
        return rc;
    if ((rc = cli_view_read(c, va, LDG_VIEW_GATES, &vo, &l, &o)) != 0)
        return rc;
    if (c->out != OUT_HUMAN)
        cli_print_json(c, json_incref(o));
    else
        human_gates(c, o);
    rc = x->check && strcmp(cli_view_js(o, "status"), "fail") == 0 ? EX_VERIFY
                                                                   : EX_OK;
    json_decref(o);
    ldg_close(l);
    return rc;
}

CLI_COMMAND(
    gates, CLI_GROUP_STATE,
    "the control pipeline's success gates, from the log",
    "Computes the success gates of the box's control pipeline from the "
    "builds projection (build.built, build.promoted, build.reverted, "
    "health.probe, plan.step) and judges each against its threshold: "
    "promotion success (promotions not reverted) at least 99.5 %; no error "
    "event (a red health.probe, a failed plan.step or run, a route.decision "
    "with outcome error) in the 10 minutes after a promotion; no direct "
    "write to the Blue slot; and deterministic artifacts (two build.built "
    "of the same inputs_digest with the same artifact_digest). A gate with "
    "nothing to judge is \"unknown\", which is not a pass. Each failing "
    "gate names its evidence by seq.",
    gates_opts, CLI_OUT_BASIC,
    "ledger gates\n"
    "ledger gates --since -7d --check\n",
    CLI_CMD_GATHER,
    {.size = sizeof(struct gates_args), .maxpos = -1, .opt = cli_view_opt});
