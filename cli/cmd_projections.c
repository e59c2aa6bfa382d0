/*
 * cmd_projections.c — packs, permissions, models, routes, promotions and
 * runs (what every view shares: view.c).
 *
 * Each view asks the library for its rows as JSON and prints them: JSON
 * Lines with -o json (one row a line), or a human table. Every view takes
 * --at SEQ: the state as of event SEQ.
 */
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "projections/projections.h"
#include "query/query.h"

static int cmd_view(struct cli *c, void *args, int npos, char **pos);
/* The view named ID, cli_cmd_ID (CLI_COMMAND, for the views): each is run
 * by cmd_view and pages and gathers its output. */
#define VIEW_COMMAND(xid, xsummary, xdescription, xopts, xexamples)            \
    const struct cli_command cli_cmd_##xid = {                                 \
        #xid,          CLI_GROUP_STATE, cmd_view,                              \
        (xsummary),    (xdescription),  (xopts),                               \
        CLI_OUT_BASIC, (xexamples),     CLI_CMD_PAGER | CLI_CMD_GATHER,        \
        CLI_VIEW_ARGS}

/* --------------------------------------------------------------- packs -- */

static void
human_packs(struct cli *c, json_t *rows)
{
    size_t i, k;
    json_t *r, *x;
    char detail[1024];
    /* 20 + 8 + 20 + 27 + 3 spaces: 78 columns on a terminal */
    cli_cells(c, 1, "PACK", 20, "VERSION", 8, "STATE", 20, "DETAIL", 27, NULL);
    json_array_foreach(rows, i, r)
    {
        char state[64];
        size_t n = 0;
        snprintf(state, sizeof state, "%s%s", cli_view_js(r, "state"),
                 json_is_true(json_object_get(r, "partial")) ? "+partial" : "");
        detail[0] = '\0';
        json_array_foreach(json_object_get(r, "reasons"), k, x)
        {
            int w = snprintf(detail + n, sizeof detail - n, "%s%s",
                             k ? "; " : "", json_string_value(x));
            if (w < 0 || (size_t)w >= sizeof detail - n)
                break;
            n += (size_t)w;
        }
        cli_cell(c, cli_view_js(r, "pack"), 20, 0);
        cli_cell(c, cli_view_js(r, "version"), 8, 0);
        cli_cell(c, state, 20, 0);
        cli_cell(c, detail, 27, 1);
    }
}

static const struct cli_opt packs_opts[] =
    CLI_VIEW_KEY_OPTS("PACK", "only this pack");

VIEW_COMMAND(
    packs, "installed packs and their state",
    "Lists the packs (installable bundles of tools, routes and the "
    "permissions they need) with their version, their state - the first "
    "that applies of removed, disabled, invalid, installed, blocked, "
    "awaiting-permissions, demo-only, declared-not-proven, degraded, ready; "
    "+partial when an optional permission was denied - and the reasons. "
    "Computed from the events by the packs projection.",
    packs_opts,
    "ledger packs\n"
    "# the state of pack summarize as of event 120\n"
    "ledger packs summarize --at 120\n");

/* --------------------------------------------------------- permissions -- */

/* The process that submitted a row's event, as `ledger serve` recorded it
 * (a view row's "source"): "uid U pid P UNIT" (the unit, else the
 * executable). 0 and an empty buf when the row has none. */
static int
source_text(const json_t *src, char *buf, size_t cap)
{
    const char *more;
    buf[0] = '\0';
    if (!json_is_object(src))
        return 0;
    more = json_string_value(json_object_get(src, "unit"));
    if (more == NULL)
        more = json_string_value(json_object_get(src, "exe"));
    snprintf(buf, cap, "uid %lld pid %lld%s%s",
             (long long)json_integer_value(json_object_get(src, "uid")),
             (long long)json_integer_value(json_object_get(src, "pid")),
             more ? " " : "", more ? more : "");
    return 1;
}

static void
human_permissions(struct cli *c, json_t *rows)
{
    size_t i;
    json_t *r;
    char when[32], src[1200];
    /* BY is what the event claims; SIGNER is the key that signed it
     * (and a line under the row says which process submitted it, when
     * `ledger serve` recorded one).
     * 8 + 8 + 10 + 2 + 8 + 8 + 6 + 6 + 15 + 8 spaces: 79 columns on a
     * terminal (the time to the second, long names cut; the tier is T) */
    cli_cells(c, 1, "PACK", 8, "GROUP", 8, "SCOPE", 10, "T", 2, "STATE", 8,
              "BY", 8, "SIGNER", 6, "SEQ", 6, "TIME", 15, NULL);
    json_array_foreach(rows, i, r)
    {
        const json_t *sg = json_object_get(r, "signer");
        cli_when_rfc3339(when, sizeof when, cli_view_js(r, "time"));
        cli_cell(c, cli_view_js(r, "pack"), 8, 0);
        cli_cell(c, cli_view_js(r, "group"), 8, 0);
        cli_cell(c, cli_view_js(r, "scope"), 10, 0);
        cli_cell(c, cli_view_js(r, "tier"), 2, 0);
        cli_cell(c, cli_view_js(r, "state"), 8, 0);
        cli_cell(c, cli_view_js(r, "by"), 8, 0);
        cli_cell(c,
                 json_is_string(json_object_get(sg, "name"))
                     ? cli_view_js(sg, "name")
                     : cli_view_js(sg, "key_id"),
                 6, 0);
        cli_cell(c, cli_view_js(r, "seq"), 6, 0);
        cli_cell(c, when, 15, 1);
        /* who submitted the deciding event, under its row */
        if (source_text(json_object_get(r, "source"), src, sizeof src))
            printf("  source: %s\n", src);
    }
}

static const struct cli_opt permissions_opts[] = {
    CLI_VALUE('p', 0, "pack", "P", "only pack P's permissions"), AT_OPT,
    CLI_OPT_END};

VIEW_COMMAND(
    permissions, "permissions in force",
    "Lists every permission a pack asked for or was given: its group and "
    "scope, tier, whether it is granted, denied, revoked or expired, "
    "whether the pack requires it, who decided and at which event: the "
    "permissions projection's rule for what is in force, expiry "
    "included.",
    permissions_opts,
    "ledger permissions --pack summarize\n"
    "# what was in force when event 300 was written\n"
    "ledger permissions --at 300\n");

/* -------------------------------------------------------------- models -- */

static void
human_models(struct cli *c, json_t *rows)
{
    /* on an 80-column terminal: 28 + 9 + 9 + 8 + 12 + 8 + 5 spaces, 79 */
    static const struct cli_col cols[] = {{"MODEL", 28, 0},   {"STATE", 9, 0},
                                          {"VERIFIED", 9, 0}, {"RUNTIME", 8, 0},
                                          {"DIGEST", 12, 0},  {"ROUTES", 8, 0}};
    struct cli_table *t = cli_table_new(cols, 6);
    size_t i, k;
    json_t *r, *x;
    char routes[1024];
    json_array_foreach(rows, i, r)
    {
        size_t n = 0;
        routes[0] = '\0';
        json_array_foreach(json_object_get(r, "routes"), k, x)
        {
            const char *role = cli_view_js(x, "role");
            int w = snprintf(routes + n, sizeof routes - n, "%s%s%s",
                             k ? ", " : "", cli_view_js(x, "route"),
                             strcmp(role, "fallback") == 0  ? " (fallback)"
                             : strcmp(role, "decided") == 0 ? " (decided)"
                                                            : "");
            if (w < 0 || (size_t)w >= sizeof routes - n)
                break;
            n += (size_t)w;
        }
        cli_table_add(t, cli_view_js(r, "model"), CLI_PAINT_OFF);
        cli_table_add(t, cli_view_js(r, "state"), CLI_PAINT_OFF);
        cli_table_add(t, cli_view_js(r, "verified"), CLI_PAINT_OFF);
        cli_table_add(t, cli_view_js(r, "runtime"), CLI_PAINT_OFF);
        cli_table_add(t, cli_view_js(r, "digest"), CLI_PAINT_OFF);
        cli_table_add(t, routes, CLI_PAINT_OFF);
        /* where the row comes from when not the registry */
        if (strcmp(cli_view_js(r, "known_from"), "decisions") == 0)
            cli_table_note(t,
                           "never registered: only seen in route decisions "
                           "(their chosen_model)",
                           4);
    }
    cli_table_print(c, t);
}

static const struct cli_opt at_only_opts[] = {AT_OPT, CLI_OPT_END};

VIEW_COMMAND(
    models, "models, their state and who routes to them",
    "Lists the models the box knows: their last state (available, loaded, "
    "parked, offline, removed), whether their weights were verified against "
    "their digest, the runtime serving them, and the routes that use them "
    "(as primary or fallback). A model the route decisions chose that no "
    "model.* event names is listed too, with a line saying it was only "
    "seen in decisions (known_from \"decisions\" in -o json, else "
    "\"registry\").",
    at_only_opts,
    "ledger models\n"
    "ledger models -o json\n");

/* -------------------------------------------------------------- routes -- */

static void
num(char *buf, size_t cap, const json_t *v, double scale, const char *unit)
{
    if (json_is_number(v))
        snprintf(buf, cap, "%.1f%s", json_number_value(v) * scale, unit);
    else
        snprintf(buf, cap, "-");
}

static void
human_routes(struct cli *c, json_t *rows)
{
    /* on an 80-column terminal: 18 + 10 + 15 + 5 + 5 + 5 + 7 + 7 + 8
     * spaces, 80 (the model cut first, then the route) */
    static const struct cli_col cols[] = {
        {"ROUTE", 18, 0}, {"MODEL", 10, 0}, {"READINESS", 15, 0},
        {"COUNT", 5, 1},  {"FALLB", 5, 1},  {"ERR", 5, 1},
        {"P50", 7, 1},    {"P95", 7, 1}};
    struct cli_table *t = cli_table_new(cols, 8);
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r)
    {
        json_t *d = json_object_get(r, "decisions");
        const char *rd = cli_view_js(r, "readiness");
        char fb[16], er[16], p50[24], p95[24], n[24];
        enum cli_paint pt =
            strcmp(rd, "proven") == 0 ? CLI_PAINT_OK
            : strcmp(rd, "failing") == 0 || strcmp(rd, "offline") == 0
                ? CLI_PAINT_FAIL
                : CLI_PAINT_WARN;
        num(fb, sizeof fb, json_object_get(d, "fallback_rate"), 100, "%");
        num(er, sizeof er, json_object_get(d, "error_rate"), 100, "%");
        num(p50, sizeof p50, json_object_get(d, "latency_p50_ms"), 1, "ms");
        num(p95, sizeof p95, json_object_get(d, "latency_p95_ms"), 1, "ms");
        snprintf(n, sizeof n, "%lld",
                 (long long)json_integer_value(json_object_get(d, "count")));
        cli_table_add(t, cli_view_js(r, "route"), CLI_PAINT_OFF);
        /* a route never declared: the models its decisions chose */
        if (json_is_string(json_object_get(r, "model")) ||
            json_array_size(json_object_get(r, "decided_models")) == 0) {
            cli_table_add(t, cli_view_js(r, "model"), CLI_PAINT_OFF);
        } else {
            size_t k, m = 0;
            json_t *x;
            char dm[512] = "";
            json_array_foreach(json_object_get(r, "decided_models"), k, x)
            {
                int w = snprintf(dm + m, sizeof dm - m, "%s%s", k ? "," : "",
                                 json_string_value(x));
                if (w < 0 || (size_t)w >= sizeof dm - m)
                    break;
                m += (size_t)w;
            }
            cli_table_add(t, dm, CLI_PAINT_OFF);
        }
        /* readiness in colour on a terminal (green proven, red failing or
         * offline, yellow the states between) */
        cli_table_add(t, rd, pt);
        cli_table_add(t, n, CLI_PAINT_OFF);
        cli_table_add(t, fb, CLI_PAINT_OFF);
        cli_table_add(t, er, CLI_PAINT_OFF);
        cli_table_add(t, p50, CLI_PAINT_OFF);
        cli_table_add(t, p95, CLI_PAINT_OFF);
        cli_table_note(t, cli_view_js(r, "detail"), 4);
    }
    cli_table_print(c, t);
}

VIEW_COMMAND(
    routes, "routes, their models and how they behave",
    "Lists the routes (the names requests are sent to) with the model each "
    "resolves to, its readiness (proven, declared-not-proven, failing, "
    "fallback-active, offline), and what its decisions show: how many, "
    "the fallback and error rates, and the 50th and 95th percentile "
    "latency; then a line saying why it is in that state. A route never "
    "declared shows as its model the models its decisions chose. A model "
    "call seen by both an application's span and `ledger proxy` is one "
    "decision, counted as the application's span says it (its outcome and "
    "latency: what the caller waited); the proxy's own latency is in "
    "`ledger timeline`.",
    at_only_opts,
    "ledger routes\n"
    "ledger routes --at 250\n");

/* ---------------------------------------------------------- promotions -- */

static void
human_promotions(struct cli *c, json_t *rows)
{
    size_t i, k;
    json_t *r, *h;
    char gating[512];
    /* 24 + 26 + 8 + 17 + 3 spaces: 78 columns on a terminal */
    cli_cells(c, 1, "TARGET", 24, "CANDIDATE", 26, "EVAL", 8, "GATING", 17,
              NULL);
    json_array_foreach(rows, i, r)
    {
        int ungated = json_is_true(json_object_get(r, "ungated"));
        snprintf(gating, sizeof gating, "%s%s", ungated ? "UNGATED: " : "gated",
                 ungated ? cli_view_js(r, "ungated_reason") : "");
        cli_cell(c, cli_view_js(r, "target"), 24, 0);
        cli_cell(c, cli_view_js(r, "candidate"), 26, 0);
        cli_cell(c, cli_view_js(r, "eval_id"), 8, 0);
        cli_cell(c, gating, 17, 1);
        /* history lines: on a terminal wrapped under the candidate */
        json_array_foreach(json_object_get(r, "history"), k, h) cli_printf_fit(
            c, 26, "    %-8s %-12s %s%s%s%s\n", cli_view_js(h, "seq"),
            cli_view_js(h, "event"), cli_view_js(h, "candidate"),
            json_is_true(json_object_get(h, "ungated")) ? " (ungated)" : "",
            json_object_get(h, "reason") ? ": " : "",
            json_object_get(h, "reason") ? cli_view_js(h, "reason") : "");
    }
}

VIEW_COMMAND(
    promotions, "which model each route was promoted to, and on what evidence",
    "Lists, per route, the candidate model currently promoted, the eval "
    "that gated the promotion (or UNGATED and why), and the history of "
    "promotions and rollbacks.",
    at_only_opts, "ledger promotions\n");

static void
human_runs(struct cli *c, json_t *rows)
{
    /* the run id is the key `ledger timeline` takes (an OTLP run's is a
     * 32-digit trace id): never cut; the pack and the start give way
     * first on a narrow terminal (issue 63: every id was cut to 12) */
    static const struct cli_col cols[] = {
        {"RUN", 1 << 20, 0}, {"PACK", 4, 0},  {"STATUS", 7, 0},
        {"START", 15, 0},    {"STEPS", 5, 1}, {"FAILED", 6, 1},
        {"DECIS", 5, 1},     {"DENIED", 6, 1}};
    struct cli_table *t = cli_table_new(cols, 8);
    size_t i;
    json_t *r;
    char when[32], n[4][24];
    json_array_foreach(rows, i, r)
    {
        const char *st = cli_view_js(r, "status");
        cli_when_rfc3339(when, sizeof when, cli_view_js(r, "start"));
        snprintf(n[0], sizeof n[0], "%lld", cli_view_ji(r, "steps", "total"));
        snprintf(n[1], sizeof n[1], "%lld", cli_view_ji(r, "steps", "failed"));
        snprintf(n[2], sizeof n[2], "%lld",
                 cli_view_ji(r, "decisions", "total"));
        snprintf(n[3], sizeof n[3], "%lld", cli_view_ji(r, "policy", "deny"));
        cli_table_add(t, cli_view_js(r, "run"), CLI_PAINT_OFF);
        cli_table_add(t, cli_view_js(r, "pack"), CLI_PAINT_OFF);
        cli_table_add(t, st,
                      strcmp(st, "ok") == 0 ? CLI_PAINT_OK
                      : strcmp(st, "failed") == 0 || strcmp(st, "aborted") == 0
                          ? CLI_PAINT_FAIL
                          : CLI_PAINT_OFF);
        cli_table_add(t, when, CLI_PAINT_OFF);
        for (int k = 0; k < 4; k++)
            cli_table_add(t, n[k], CLI_PAINT_OFF);
    }
    cli_table_print(c, t);
}

static void
human_run_one(struct cli *c, json_t *rows)
{
    json_t *r = json_array_get(rows, 0), *x;
    char t0[32], t1[32];
    (void)c;
    cli_when_rfc3339(t0, sizeof t0, cli_view_js(r, "start"));
    cli_when_rfc3339(t1, sizeof t1, cli_view_js(r, "end"));
    printf("run            %s\n", cli_view_js(r, "run"));
    printf("pack           %s\n", cli_view_js(r, "pack"));
    printf("status         %s\n", cli_view_js(r, "status"));
    int traced = strcmp(cli_view_js(r, "status"), "trace") == 0;
    if (json_object_get(r, "started_seq") != NULL)
        printf("started        seq %s at %s\n", cli_view_js(r, "started_seq"),
               t0);
    else
        printf("started        no run.started: known from the events linked "
               "to it%s\n",
               traced ? " (an application's trace: `ledger timeline` shows "
                        "how its root span ended)"
                      : "");
    if ((x = json_object_get(r, "signer")) != NULL) {
        /* who asked (the claim), the key that signed run.started, and
         * the process that submitted it */
        const json_t *by = json_object_get(r, "requested_by");
        char src[1200];
        printf("requested by   %s (signer %s",
               json_is_string(by) ? json_string_value(by) : "-",
               json_is_string(json_object_get(x, "name"))
                   ? cli_view_js(x, "name")
                   : cli_view_js(x, "key_id"));
        if (source_text(json_object_get(r, "source"), src, sizeof src))
            printf(", source %s", src);
        printf(")\n");
    }
    if (json_object_get(r, "finished_seq") != NULL)
        printf("finished       seq %s at %s\n", cli_view_js(r, "finished_seq"),
               t1);
    else
        printf("finished       no run.finished\n");
    printf("events         %lld (seq %s..%s)\n",
           (long long)json_integer_value(json_object_get(r, "events")),
           cli_view_js(r, "first_seq"), cli_view_js(r, "last_seq"));
    printf("steps          %lld (ok %lld, failed %lld, skipped %lld)\n",
           cli_view_ji(r, "steps", "total"), cli_view_ji(r, "steps", "ok"),
           cli_view_ji(r, "steps", "failed"),
           cli_view_ji(r, "steps", "skipped"));
    printf("decisions      %lld (fallback %lld, error %lld, refused %lld)%s\n",
           cli_view_ji(r, "decisions", "total"),
           cli_view_ji(r, "decisions", "fallback"),
           cli_view_ji(r, "decisions", "error"),
           cli_view_ji(r, "decisions", "refused"),
           traced ? ": records (a call the application and the proxy both "
                    "recorded is two here, one in `ledger routes` and the "
                    "timeline)"
                  : "");
    printf("policy         %lld allowed, %lld denied\n",
           cli_view_ji(r, "policy", "allow"), cli_view_ji(r, "policy", "deny"));
    if ((x = json_object_get(r, "first_failed_step")) != NULL)
        printf("first failure  step %s at seq %s\n", cli_view_js(x, "step"),
               cli_view_js(x, "seq"));
    if ((x = json_object_get(r, "first_denial")) != NULL)
        printf("first denial   %s at seq %s\n", cli_view_js(x, "rule"),
               cli_view_js(x, "seq"));
    if (json_object_get(r, "error"))
        printf("error          %s\n", cli_view_js(r, "error"));
    if (json_object_get(r, "snapshot_seq")) {
        const char *snap = cli_view_js(r, "snapshot_seq");
        if (strtoull(snap, NULL, 10) + 1 < cli_view_horizon)
            printf("at its start   not kept (seq %s is before the horizon, "
                   "%llu; its events are in an archive)\n",
                   snap, (unsigned long long)cli_view_horizon);
        else
            printf("at its start   ledger doctor --at %s (and any view)\n",
                   snap);
    }
}

static const struct cli_opt runs_opts[] =
    CLI_VIEW_KEY_OPTS("RUN", "one run in detail");

VIEW_COMMAND(
    runs, "runs and how they ended",
    "Lists the runs: their pack, status, start time, and counts of steps, "
    "failed steps, route decisions and policy denials; the run id whole "
    "(the key `ledger timeline` takes). A run known only from an "
    "application's trace (OTLP spans, its id the trace id) says trace: "
    "`ledger timeline` shows how its root span ended; one known only from "
    "other events linked to it, not-started. With RUN, that run "
    "in detail: where it started and finished, its first failure and first "
    "denial, and the event to give `ledger doctor --at` to see the box as "
    "it was when the run started.",
    runs_opts,
    "ledger runs\n"
    "ledger runs r1\n");

/* The views of this file: each command's view, whether it takes a
 * positional (one row), and its human forms (of the rows, of one row). */
static const struct {
    const struct cli_command *cmd;
    int view, npos;
    void (*human)(struct cli *c, json_t *rows);
    void (*human_one)(struct cli *c, json_t *rows);
} views[] = {
    {&cli_cmd_packs, LDG_VIEW_PACKS, 1, human_packs, NULL},
    {&cli_cmd_permissions, LDG_VIEW_PERMISSIONS, 0, human_permissions, NULL},
    {&cli_cmd_models, LDG_VIEW_MODELS, 0, human_models, NULL},
    {&cli_cmd_routes, LDG_VIEW_ROUTES, 0, human_routes, NULL},
    {&cli_cmd_promotions, LDG_VIEW_PROMOTIONS, 0, human_promotions, NULL},
    {&cli_cmd_runs, LDG_VIEW_RUNS, 1, human_runs, human_run_one},
};

static int
cmd_view(struct cli *c, void *args, int npos, char **pos)
{
    for (size_t i = 0; i < sizeof views / sizeof *views; i++)
        if (views[i].cmd == c->command)
            return cli_view_cmd(c, args, npos, pos, views[i].npos,
                                views[i].view, views[i].human,
                                views[i].human_one);
    return EX_SOFTWARE;
}
