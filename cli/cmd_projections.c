/*
 * cmd_projections.c — packs, permissions, models, routes, promotions,
 * runs, doctor, projections, rebuild.
 *
 * Each view asks the library for its rows as JSON and prints them: JSON
 * Lines with -o json (one row a line), or a human table. Every view takes
 * --at SEQ: the state as of event SEQ.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "export/export.h"
#include "doctor/doctor.h"
#include "pipeline/pipeline.h"
#include "projections/projections.h"
#include "query/query.h"

struct vargs {
    uint64_t at_size;    /* 0 = now */
    const char *at_time; /* --at TIME, resolved once the ledger is open */
    const char *pack;
    int check;
    struct cli_bundle_args ba; /* doctor --bundle */
};

#define AT_OPT                                                                 \
    CLI_VALUE('A', 0, "at", "SEQ|TIME",                                        \
              "the state as of event SEQ, or as of TIME (the last event "      \
              "at or before it; TIME as `ledger query -S` takes it: "          \
              "'2026-11-22 09:39', '-1h', 'yesterday', RFC 3339); "            \
              "default: now")

static int
prepare(struct cli *c)
{
    if (c->out == OUT_HUMAN && c->out_name != NULL &&
        strcmp(c->out_name, "human") != 0) {
        cli_err(c,
                "unknown output format '%s' (use human, json or "
                "json-pretty)",
                c->out_name);
        return EX_USAGE;
    }
    if (cli_resolve_dir(c) != 0)
        return EX_USAGE;
    return 0;
}

/* Parses argv against c->command's table: options, then at most max_pos
 * positionals into pos. 0; -1 after --help (the caller returns 0); or the
 * exit code of a usage error. */
static int
parse(struct cli *c, int argc, char **argv, struct vargs *va, const char **pos,
      int max_pos)
{
    struct cli_args a;
    uint64_t seq;
    int ch, n = 0, i;

    cli_args_init(&a, c, argc, argv);
    while ((ch = cli_args_next(&a)) > 0) {
        switch (ch) {
        case 'A':
            if (cli_parse_u64(a.value, &seq) == 0 && seq != UINT64_MAX) {
                va->at_size = seq + 1;
                va->at_time = NULL;
                break;
            }
            /* a time, in query's grammar: checked now, resolved later */
            if (ldg_query_parse_time(a.value, UINT64_C(1) << 62, &seq, NULL,
                                     0) < 0)
                return cli_usage_err(c,
                                     "--at: '%s' is neither a sequence number "
                                     "nor a time ('2026-11-22 09:39', '-1h', "
                                     "'yesterday', RFC 3339)",
                                     a.value);
            va->at_time = a.value;
            break;
        case 'p':
            va->pack = a.value;
            break;
        case 'c':
            va->check = 1;
            break;
        default:
            i = cli_bundle_opt(c, &va->ba, ch, a.value);
            if (i < 0)
                return -i;
            if (i == 0)
                return cli_usage(c);
        }
    }
    if (ch < 0)
        return a.exit == EX_OK ? -1 : a.exit;
    if (va->ba.file == NULL && (va->ba.have_key || va->ba.insecure))
        return cli_usage_err(c, "--trusted-key and "
                                "--insecure-trust-bundle-key go with "
                                "--bundle FILE");
    for (i = a.ind; i < argc; i++) {
        if (n >= max_pos)
            return cli_usage(c);
        pos[n++] = argv[i];
    }
    return prepare(c);
}

/* parse()'s answer as the command's exit code. */
#define PARSED(rc) ((rc) < 0 ? EX_OK : (rc))

static const char *
js(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "-";
}

static void
print_rows(struct cli *c, json_t *rows)
{
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r) cli_print_json(c, json_incref(r));
}

static int
fail(struct cli *c, struct ldg_ledger *l, int rc)
{
    const char *m = ldg_errmsg(l);
    cli_err(c, "%s", m && m[0] ? m : ldg_strerror(rc));
    return cli_exit_code(rc);
}

/* Warns on stderr when the answer had to be computed from the log
 * because the store is not this code's version or is behind. */
static void
warn_stale(struct cli *c, struct ldg_ledger *l, const struct vargs *va)
{
    json_t *list = NULL, *o;
    size_t i;
    if (va->at_size != 0 || ldg_projections_list(l, 0, &list) < 0)
        return;
    json_array_foreach(list, i, o)
    {
        if (json_is_true(json_object_get(o, "current")))
            continue;
        fprintf(stderr,
                "ledger %s: note: projection %s is not current in "
                "the store (computed from the log for this answer; "
                "`ledger rebuild` fixes the store)\n",
                c->cmd, js(o, "name"));
        break;
    }
    json_decref(list);
}

/*
 * --at TIME: the state as of the last event at or before TIME, found with
 * the time index (a reverse query bounded by TIME). 0 or an exit code.
 */
static int
resolve_at(struct cli *c, struct ldg_ledger *l, struct vargs *va)
{
    struct ldg_query *q = NULL;
    struct ldg_query_iter *it = NULL;
    struct ldg_txn *t = NULL;
    struct ldg_event ev;
    char err[512];
    int rc;

    if (va->at_time == NULL)
        return 0;
    rc = ldg_query_compile(&q, 0, NULL, NULL, va->at_time, err, sizeof err);
    if (rc < 0) {
        cli_err(c, "--at: %s", err);
        return EX_USAGE;
    }
    if ((rc = ldg_txn_begin(l, LDG_TXN_READ, &t)) == 0 &&
        (rc = ldg_query_iter_new(&it, q, t, LDG_QUERY_REVERSE)) == 0)
        rc = ldg_query_iter_next(it, &ev);
    if (rc == 0)
        va->at_size = ev.seq + 1;
    if (rc == LDG_ENOTFOUND && it != NULL) {
        /* a pruned ledger: the last event at or before TIME may be
         * pruned. At or after the last pruned event's time, that is the
         * horizon's state, which the ledger keeps; before it, it is in an
         * archive. */
        struct ldg_query_stats st;
        struct ldg_horizon h;
        uint64_t at_ns;
        ldg_query_iter_stats(it, &st);
        if (st.reached_pruned && ldg_horizon(l, &h) == 0) {
            if (ldg_query_parse_time(va->at_time, ldg_now_wall_ns(), &at_ns,
                                     err, sizeof err) == 0 &&
                at_ns >= h.ts_ns)
                va->at_size = h.seq, rc = 0;
            else
                rc = LDG_EPRUNED;
            ldg_horizon_release(&h);
        }
    }
    ldg_query_iter_free(it);
    ldg_txn_abort(t);
    ldg_query_free(q);
    if (rc == LDG_EPRUNED) {
        char what[300];
        snprintf(what, sizeof what,
                 "--at %s: the state at that time is before the horizon, "
                 "and no state before it is kept (the events are in the "
                 "archive, which carries the state at its end; the "
                 "earliest state here is the one at the horizon: --at the "
                 "last pruned event's seq)",
                 va->at_time);
        if (!cli_pruned(c, l, what))
            cli_err(c, "%s", what);
        return EX_NOINPUT;
    }
    if (rc == LDG_ENOTFOUND) {
        cli_err(c, "--at %s: the log has no event at or before that time",
                va->at_time);
        return EX_NOINPUT;
    }
    if (rc < 0)
        return fail(c, l, rc);
    return 0;
}

/* the horizon of the ledger a view was read from (0: nothing pruned) */
static uint64_t view_horizon;

static int
run_view(struct cli *c, enum ldg_proj_view view, struct vargs *va,
         const char *filter, void (*human)(struct cli *c, json_t *rows))
{
    struct ldg_view_opts vo;
    struct ldg_ledger *l = NULL;
    json_t *rows = NULL;
    int rc;

    if ((rc = cli_open(c, 1, &l)) != 0)
        return rc;
    if ((rc = resolve_at(c, l, va)) != 0) {
        ldg_close(l);
        return rc;
    }
    memset(&vo, 0, sizeof vo);
    vo.at_size = va->at_size;
    vo.filter = filter;
    vo.progress = cli_progress;
    vo.progress_ctx = c;
    rc = ldg_projections_view(l, view, &vo, &rows);
    if (c->progress && va->at_size)
        cli_progress_done(c);
    if (rc < 0) {
        rc = fail(c, l, rc);
        ldg_close(l);
        return rc;
    }
    warn_stale(c, l, va);
    {
        /* a pruned ledger: the human views point into the archive for
         * states before the horizon */
        struct ldg_horizon h;
        view_horizon = 0;
        if (ldg_horizon(l, &h) == 0) {
            view_horizon = h.seq;
            ldg_horizon_release(&h);
        }
    }
    if (c->out == OUT_HUMAN)
        human(c, rows);
    else
        print_rows(c, rows);
    /* On a terminal an empty table says so under its header, as
     * systemctl's legend does ("0 loaded units listed"); piped, the
     * header alone is the answer. */
    if (c->out == OUT_HUMAN && c->tty_out && json_array_size(rows) == 0) {
        if (va->at_size != 0)
            printf("(none as of event %llu)\n",
                   (unsigned long long)(va->at_size - 1));
        else
            printf("(none recorded in the ledger yet)\n");
    }
    json_decref(rows);
    ldg_close(l);
    return EX_OK;
}

/* --------------------------------------------------------------- packs -- */

static void
human_packs(struct cli *c, json_t *rows)
{
    size_t i, k;
    json_t *r, *x;
    char detail[1024];
    /* 20 + 8 + 20 + 27 + 3 spaces: 78 columns on a terminal */
    cli_cell(c, "PACK", 20, 0);
    cli_cell(c, "VERSION", 8, 0);
    cli_cell(c, "STATE", 20, 0);
    cli_cell(c, "DETAIL", 27, 1);
    json_array_foreach(rows, i, r)
    {
        char state[64];
        size_t n = 0;
        snprintf(state, sizeof state, "%s%s", js(r, "state"),
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
        cli_cell(c, js(r, "pack"), 20, 0);
        cli_cell(c, js(r, "version"), 8, 0);
        cli_cell(c, state, 20, 0);
        cli_cell(c, detail, 27, 1);
    }
}

static const struct cli_opt packs_opts[] = {
    AT_OPT, CLI_ARG("PACK", "only this pack", CLI_OPTIONAL), CLI_OPT_END};

const struct cli_command cli_cmd_packs = {
    "packs",
    CLI_GROUP_STATE,
    cmd_packs,
    "installed packs and their state",
    "Lists the packs (installable bundles of tools, routes and the "
    "permissions they need) with their version, their state - the first "
    "that applies of removed, disabled, invalid, installed, blocked, "
    "awaiting-permissions, demo-only, declared-not-proven, degraded, ready; "
    "+partial when an optional permission was denied - and the reasons. "
    "Computed from the events by the packs projection.",
    packs_opts,
    CLI_OUT_BASIC,
    "ledger packs\n"
    "# the state of pack summarize as of event 120\n"
    "ledger packs summarize --at 120\n",
    CLI_CMD_PAGER | CLI_CMD_GATHER};

int
cmd_packs(struct cli *c, int argc, char **argv)
{
    struct vargs va = {0};
    const char *pos[1] = {NULL};
    int rc = parse(c, argc, argv, &va, pos, 1);
    if (rc != 0)
        return PARSED(rc);
    return run_view(c, LDG_VIEW_PACKS, &va, pos[0], human_packs);
}

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
    cli_cell(c, "PACK", 8, 0);
    cli_cell(c, "GROUP", 8, 0);
    cli_cell(c, "SCOPE", 10, 0);
    cli_cell(c, "T", 2, 0);
    cli_cell(c, "STATE", 8, 0);
    cli_cell(c, "BY", 8, 0);
    cli_cell(c, "SIGNER", 6, 0);
    cli_cell(c, "SEQ", 6, 0);
    cli_cell(c, "TIME", 15, 1);
    json_array_foreach(rows, i, r)
    {
        const json_t *sg = json_object_get(r, "signer");
        cli_when_rfc3339(when, sizeof when,
                         json_string_value(json_object_get(r, "time")));
        cli_cell(c, js(r, "pack"), 8, 0);
        cli_cell(c, js(r, "group"), 8, 0);
        cli_cell(c, js(r, "scope"), 10, 0);
        cli_cell(c, js(r, "tier"), 2, 0);
        cli_cell(c, js(r, "state"), 8, 0);
        cli_cell(c, js(r, "by"), 8, 0);
        cli_cell(c,
                 json_is_string(json_object_get(sg, "name")) ? js(sg, "name")
                                                             : js(sg, "key_id"),
                 6, 0);
        cli_cell(c, js(r, "seq"), 6, 0);
        cli_cell(c, when, 15, 1);
        /* who submitted the deciding event, under its row */
        if (source_text(json_object_get(r, "source"), src, sizeof src))
            printf("  source: %s\n", src);
    }
}

static const struct cli_opt permissions_opts[] = {
    CLI_VALUE('p', 0, "pack", "P", "only pack P's permissions"), AT_OPT,
    CLI_OPT_END};

const struct cli_command cli_cmd_permissions = {
    "permissions",
    CLI_GROUP_STATE,
    cmd_permissions,
    "permissions in force",
    "Lists every permission a pack asked for or was given: its group and "
    "scope, tier, whether it is granted, denied, revoked or expired, "
    "whether the pack requires it, who decided and at which event: the "
    "permissions projection's rule for what is in force, expiry "
    "included.",
    permissions_opts,
    CLI_OUT_BASIC,
    "ledger permissions --pack summarize\n"
    "# what was in force when event 300 was written\n"
    "ledger permissions --at 300\n",
    CLI_CMD_PAGER | CLI_CMD_GATHER};

int
cmd_permissions(struct cli *c, int argc, char **argv)
{
    struct vargs va = {0};
    int rc = parse(c, argc, argv, &va, NULL, 0);
    if (rc != 0)
        return PARSED(rc);
    return run_view(c, LDG_VIEW_PERMISSIONS, &va, va.pack, human_permissions);
}

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
            int w = snprintf(
                routes + n, sizeof routes - n, "%s%s%s", k ? ", " : "",
                js(x, "route"),
                strcmp(js(x, "role"), "fallback") == 0 ? " (fallback)" : "");
            if (w < 0 || (size_t)w >= sizeof routes - n)
                break;
            n += (size_t)w;
        }
        cli_table_add(t, js(r, "model"), CLI_PAINT_OFF);
        cli_table_add(t, js(r, "state"), CLI_PAINT_OFF);
        cli_table_add(t, js(r, "verified"), CLI_PAINT_OFF);
        cli_table_add(t, js(r, "runtime"), CLI_PAINT_OFF);
        cli_table_add(t, js(r, "digest"), CLI_PAINT_OFF);
        cli_table_add(t, routes, CLI_PAINT_OFF);
    }
    cli_table_print(c, t);
}

static const struct cli_opt at_only_opts[] = {AT_OPT, CLI_OPT_END};

const struct cli_command cli_cmd_models = {
    "models",
    CLI_GROUP_STATE,
    cmd_models,
    "models, their state and who routes to them",
    "Lists the models the box knows: their last state (available, loaded, "
    "parked, offline, removed), whether their weights were verified against "
    "their digest, the runtime serving them, and the routes that use them "
    "(as primary or fallback).",
    at_only_opts,
    CLI_OUT_BASIC,
    "ledger models\n"
    "ledger models -o json\n",
    CLI_CMD_PAGER | CLI_CMD_GATHER};

int
cmd_models(struct cli *c, int argc, char **argv)
{
    struct vargs va = {0};
    int rc = parse(c, argc, argv, &va, NULL, 0);
    if (rc != 0)
        return PARSED(rc);
    return run_view(c, LDG_VIEW_MODELS, &va, NULL, human_models);
}

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
        const char *rd = js(r, "readiness");
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
        cli_table_add(t, js(r, "route"), CLI_PAINT_OFF);
        cli_table_add(t, js(r, "model"), CLI_PAINT_OFF);
        /* readiness in colour on a terminal (green proven, red failing or
         * offline, yellow the states between) */
        cli_table_add(t, rd, pt);
        cli_table_add(t, n, CLI_PAINT_OFF);
        cli_table_add(t, fb, CLI_PAINT_OFF);
        cli_table_add(t, er, CLI_PAINT_OFF);
        cli_table_add(t, p50, CLI_PAINT_OFF);
        cli_table_add(t, p95, CLI_PAINT_OFF);
        cli_table_note(t, js(r, "detail"), 4);
    }
    cli_table_print(c, t);
}

const struct cli_command cli_cmd_routes = {
    "routes",
    CLI_GROUP_STATE,
    cmd_routes,
    "routes, their models and how they behave",
    "Lists the routes (the names requests are sent to) with the model each "
    "resolves to, its readiness (proven, declared-not-proven, failing, "
    "fallback-active, offline), and what its decisions show: how many, "
    "the fallback and error rates, and the 50th and 95th percentile "
    "latency; then a line saying why it is in that state.",
    at_only_opts,
    CLI_OUT_BASIC,
    "ledger routes\n"
    "ledger routes --at 250\n",
    CLI_CMD_PAGER | CLI_CMD_GATHER};

int
cmd_routes(struct cli *c, int argc, char **argv)
{
    struct vargs va = {0};
    int rc = parse(c, argc, argv, &va, NULL, 0);
    if (rc != 0)
        return PARSED(rc);
    return run_view(c, LDG_VIEW_ROUTES, &va, NULL, human_routes);
}

/* ---------------------------------------------------------- promotions -- */

static void
human_promotions(struct cli *c, json_t *rows)
{
    size_t i, k;
    json_t *r, *h;
    char gating[512];
    /* 24 + 26 + 8 + 17 + 3 spaces: 78 columns on a terminal */
    cli_cell(c, "TARGET", 24, 0);
    cli_cell(c, "CANDIDATE", 26, 0);
    cli_cell(c, "EVAL", 8, 0);
    cli_cell(c, "GATING", 17, 1);
    json_array_foreach(rows, i, r)
    {
        int ungated = json_is_true(json_object_get(r, "ungated"));
        snprintf(gating, sizeof gating, "%s%s", ungated ? "UNGATED: " : "gated",
                 ungated ? js(r, "ungated_reason") : "");
        cli_cell(c, js(r, "target"), 24, 0);
        cli_cell(c, js(r, "candidate"), 26, 0);
        cli_cell(c, js(r, "eval_id"), 8, 0);
        cli_cell(c, gating, 17, 1);
        /* history lines: on a terminal wrapped under the candidate */
        json_array_foreach(json_object_get(r, "history"), k, h) cli_printf_fit(
            c, 26, "    %-8s %-12s %s%s%s%s\n", js(h, "seq"), js(h, "event"),
            js(h, "candidate"),
            json_is_true(json_object_get(h, "ungated")) ? " (ungated)" : "",
            json_object_get(h, "reason") ? ": " : "",
            json_object_get(h, "reason") ? js(h, "reason") : "");
    }
}

const struct cli_command cli_cmd_promotions = {
    "promotions",
    CLI_GROUP_STATE,
    cmd_promotions,
    "which model each route was promoted to, and on what evidence",
    "Lists, per route, the candidate model currently promoted, the eval "
    "that gated the promotion (or UNGATED and why), and the history of "
    "promotions and rollbacks.",
    at_only_opts,
    CLI_OUT_BASIC,
    "ledger promotions\n",
    CLI_CMD_PAGER | CLI_CMD_GATHER};

int
cmd_promotions(struct cli *c, int argc, char **argv)
{
    struct vargs va = {0};
    int rc = parse(c, argc, argv, &va, NULL, 0);
    if (rc != 0)
        return PARSED(rc);
    return run_view(c, LDG_VIEW_PROMOTIONS, &va, NULL, human_promotions);
}

/* ---------------------------------------------------------------- runs -- */

static long long
ji(const json_t *o, const char *a, const char *b)
{
    return (long long)json_integer_value(
        json_object_get(json_object_get(o, a), b));
}

static void
human_runs(struct cli *c, json_t *rows)
{
    size_t i;
    json_t *r;
    char when[32];
    /* 12 + 12 + 9 + 15 + 4 x 6 + 7 spaces: 79 columns on a terminal */
    cli_cell(c, "RUN", 12, 0);
    cli_cell(c, "PACK", 12, 0);
    cli_cell(c, "STATUS", 9, 0);
    cli_cell(c, "START", 15, 0);
    printf("%6s %6s %6s %6s\n", "STEPS", "FAILED", "DECIS", "DENIED");
    json_array_foreach(rows, i, r)
    {
        const char *st = js(r, "status");
        cli_when_rfc3339(when, sizeof when,
                         json_string_value(json_object_get(r, "start")));
        cli_cell(c, js(r, "run"), 12, 0);
        cli_cell(c, js(r, "pack"), 12, 0);
        fputs(cli_paint(c->color, strcmp(st, "ok") == 0 ? CLI_PAINT_OK
                                  : strcmp(st, "failed") == 0 ||
                                          strcmp(st, "aborted") == 0
                                      ? CLI_PAINT_FAIL
                                      : CLI_PAINT_OFF),
              stdout);
        cli_cell(c, st, 9, 0);
        fputs(cli_paint(c->color, CLI_PAINT_OFF), stdout);
        cli_cell(c, when, 15, 0);
        printf("%6lld %6lld %6lld %6lld\n", ji(r, "steps", "total"),
               ji(r, "steps", "failed"), ji(r, "decisions", "total"),
               ji(r, "policy", "deny"));
    }
}

static void
human_run_one(struct cli *c, json_t *rows)
{
    json_t *r = json_array_get(rows, 0), *x;
    char t0[32], t1[32];
    (void)c;
    cli_when_rfc3339(t0, sizeof t0,
                     json_string_value(json_object_get(r, "start")));
    cli_when_rfc3339(t1, sizeof t1,
                     json_string_value(json_object_get(r, "end")));
    printf("run            %s\n", js(r, "run"));
    printf("pack           %s\n", js(r, "pack"));
    printf("status         %s\n", js(r, "status"));
    printf("started        seq %s at %s\n", js(r, "started_seq"), t0);
    if ((x = json_object_get(r, "signer")) != NULL) {
        /* who asked (the claim), the key that signed run.started, and
         * the process that submitted it */
        const json_t *by = json_object_get(r, "requested_by");
        char src[1200];
        printf("requested by   %s (signer %s",
               json_is_string(by) ? json_string_value(by) : "-",
               json_is_string(json_object_get(x, "name")) ? js(x, "name")
                                                          : js(x, "key_id"));
        if (source_text(json_object_get(r, "source"), src, sizeof src))
            printf(", source %s", src);
        printf(")\n");
    }
    printf("finished       seq %s at %s\n", js(r, "finished_seq"), t1);
    printf("events         %lld (seq %s..%s)\n",
           (long long)json_integer_value(json_object_get(r, "events")),
           js(r, "first_seq"), js(r, "last_seq"));
    printf("steps          %lld (ok %lld, failed %lld, skipped %lld)\n",
           ji(r, "steps", "total"), ji(r, "steps", "ok"),
           ji(r, "steps", "failed"), ji(r, "steps", "skipped"));
    printf("decisions      %lld (fallback %lld, error %lld, refused %lld)\n",
           ji(r, "decisions", "total"), ji(r, "decisions", "fallback"),
           ji(r, "decisions", "error"), ji(r, "decisions", "refused"));
    printf("policy         %lld allowed, %lld denied\n",
           ji(r, "policy", "allow"), ji(r, "policy", "deny"));
    if ((x = json_object_get(r, "first_failed_step")) != NULL)
        printf("first failure  step %s at seq %s\n", js(x, "step"),
               js(x, "seq"));
    if ((x = json_object_get(r, "first_denial")) != NULL)
        printf("first denial   %s at seq %s\n", js(x, "rule"), js(x, "seq"));
    if (json_object_get(r, "error"))
        printf("error          %s\n", js(r, "error"));
    if (json_object_get(r, "snapshot_seq")) {
        const char *snap = js(r, "snapshot_seq");
        if (strtoull(snap, NULL, 10) + 1 < view_horizon)
            printf("at its start   not kept (seq %s is before the horizon, "
                   "%llu; its events are in an archive)\n",
                   snap, (unsigned long long)view_horizon);
        else
            printf("at its start   ledger doctor --at %s (and any view)\n",
                   snap);
    }
}

static const struct cli_opt runs_opts[] = {
    AT_OPT, CLI_ARG("RUN", "one run in detail", CLI_OPTIONAL), CLI_OPT_END};

const struct cli_command cli_cmd_runs = {
    "runs",
    CLI_GROUP_STATE,
    cmd_runs,
    "runs and how they ended",
    "Lists the runs: their pack, status, start time, and counts of steps, "
    "failed steps, route decisions and policy denials. With RUN, that run "
    "in detail: where it started and finished, its first failure and first "
    "denial, and the event to give `ledger doctor --at` to see the box as "
    "it was when the run started.",
    runs_opts,
    CLI_OUT_BASIC,
    "ledger runs\n"
    "ledger runs r1\n",
    CLI_CMD_PAGER | CLI_CMD_GATHER};

int
cmd_runs(struct cli *c, int argc, char **argv)
{
    struct vargs va = {0};
    const char *pos[1] = {NULL};
    int rc = parse(c, argc, argv, &va, pos, 1);
    if (rc != 0)
        return PARSED(rc);
    return run_view(c, LDG_VIEW_RUNS, &va, pos[0],
                    pos[0] ? human_run_one : human_runs);
}

/* -------------------------------------------------------------- doctor -- */

/* A remedy that is a command to run (the doctor's remedies either say
 * what to do or are the command itself). */
static int
is_command(const char *r)
{
    return strncmp(r, "ledger ", 7) == 0 || strncmp(r, "chmod ", 6) == 0;
}

/* Clause lines: the ones that do not hold, with detail and remedies;
 * with all set, every clause. Columns: indent, the status (8), the
 * clause (21), then the detail, one line each. On a terminal (c->fit)
 * detail and prose remedies are wrapped under their column, and a
 * command that would not fit there goes on a line of its own at the
 * indent, whole: a command is never wrapped or cut. */
static void
human_clauses(const struct cli *c, json_t *cl, const char *indent, int all)
{
    size_t i, k, in = strlen(indent);
    int hang = (int)in + 29;
    char *line = NULL;
    size_t cap = 0;
    FILE *m;
    json_t *x;
    json_array_foreach(cl, i, x)
    {
        const char *st = js(x, "status");
        const char *word = strcmp(st, "ok") == 0     ? "ok"
                           : strcmp(st, "fail") == 0 ? "FAIL"
                           : strcmp(st, "warn") == 0 ? "WARN"
                                                     : "UNKNOWN";
        json_t *det = json_object_get(x, "detail");
        json_t *rem = json_object_get(x, "remedy");
        size_t nd = json_array_size(det);
        if (!all && strcmp(st, "ok") == 0)
            continue;
        if ((m = open_memstream(&line, &cap)) == NULL)
            return;
        fprintf(m, "%s%s%s%s%*s%-20s %s", indent,
                cli_paint(c->color, strcmp(st, "ok") == 0     ? CLI_PAINT_OK
                                    : strcmp(st, "fail") == 0 ? CLI_PAINT_FAIL
                                                              : CLI_PAINT_WARN),
                word, cli_paint(c->color, CLI_PAINT_OFF), 8 - (int)strlen(word),
                "", js(x, "name"),
                nd ? json_string_value(json_array_get(det, 0)) : "");
        fclose(m);
        cli_line(c, line, strlen(line), hang, NULL, NULL);
        free(line);
        line = NULL;
        for (k = 1; k < nd; k++) {
            const char *d = json_string_value(json_array_get(det, k));
            if ((m = open_memstream(&line, &cap)) == NULL)
                return;
            fprintf(m, "%*s%s", hang, "", d ? d : "");
            fclose(m);
            cli_line(c, line, strlen(line), hang, NULL, NULL);
            free(line);
            line = NULL;
        }
        for (k = 0; k < json_array_size(rem); k++) {
            const char *r = json_string_value(json_array_get(rem, k));
            int at = hang;
            r = r ? r : "";
            if (c->fit && is_command(r) &&
                (size_t)hang + 3 + cli_cols(r, strlen(r)) > cli_width(c))
                at = (int)in + 2; /* its own line, whole */
            if ((m = open_memstream(&line, &cap)) == NULL)
                return;
            fprintf(m, "%*s-> %s", at, "", r);
            fclose(m);
            if (is_command(r))
                puts(line);
            else
                cli_line(c, line, strlen(line), hang + 3, NULL, NULL);
            free(line);
            line = NULL;
        }
    }
}

/* See the end of cmd_doctor. volatile: the store must happen, so the
 * answer stays reachable until exit (leak checkers agree). */
static json_t *volatile doctor_answer;

static const struct cli_opt doctor_opts[] = {
    CLI_VALUE('p', 0, "pack", "P",
              "only pack P, with every clause (ok ones too)"),
    AT_OPT, CLI_BUNDLE_OPTS, CLI_OPT_END};

const struct cli_command cli_cmd_doctor = {
    "doctor",
    CLI_GROUP_STATE,
    cmd_doctor,
    "readiness verdict with remedies",
    "Says whether the box is ready to serve each pack and why not: for "
    "every pack, the clauses that must hold (permissions resolved, models "
    "available, routes proven, runtime up, last check ok, promotions gated, "
    "...) with what failed and a remedy, then the box-wide clauses (chain "
    "verified, keys valid, projections current, disk headroom: free space "
    "and the days it lasts at the log's growth, against the retention "
    "policy's keep_days). The exit code is the verdict: 0 healthy, 1 "
    "degraded, 2 blocked, 3 unknown; a WARN clause does not change it.",
    doctor_opts,
    CLI_OUT_BASIC,
    "ledger doctor\n"
    "ledger doctor --pack summarize\n"
    "# the box as it was when a run started (see `ledger runs RUN`)\n"
    "ledger doctor --at 212\n"
    "# from an evidence bundle: at its checkpoint, or at any event or\n"
    "# time of its run\n"
    "ledger doctor --bundle r1.bundle --trusted-key box.vkey --at 22\n"
    "ledger doctor --bundle r1.bundle --trusted-key box.vkey \\\n"
    "    --at '2026-11-22 09:39'\n",
    CLI_CMD_PAGER | CLI_CMD_GATHER};

static void
human_doctor(struct cli *c, json_t *d, const char *pack)
{
    json_t *p;
    size_t i;
    json_array_foreach(json_object_get(d, "packs"), i, p)
    {
        json_t *cl = json_object_get(p, "clauses");
        json_t *ok = json_object_get(p, "ok");
        size_t k;
        printf("pack %s: %s (state %s%s), %zu/%zu clauses ok\n", js(p, "pack"),
               js(p, "verdict"), js(p, "state"),
               json_is_true(json_object_get(p, "partial")) ? ", partial" : "",
               json_array_size(ok), json_array_size(ok) + json_array_size(cl));
        if (pack != NULL)
            for (k = 0; k < json_array_size(ok); k++)
                printf("  %-7s %s\n", "ok",
                       json_string_value(json_array_get(ok, k)));
        human_clauses(c, cl, "  ", 1);
    }
    printf("box:\n");
    human_clauses(c, json_object_get(d, "box"), "  ", 1);
    {
        const char *v = js(d, "verdict");
        enum cli_paint pt = strcmp(v, "healthy") == 0    ? CLI_PAINT_OK
                            : strcmp(v, "degraded") == 0 ? CLI_PAINT_WARN
                                                         : CLI_PAINT_FAIL;
        printf("verdict: %s%s%s (log size %s)\n", cli_paint(c->color, pt), v,
               cli_paint(c->color, CLI_PAINT_OFF), js(d, "size"));
    }
}

static int
verdict_code(const json_t *d)
{
    const char *v = js(d, "verdict");
    return strcmp(v, "healthy") == 0    ? LDG_DOCTOR_HEALTHY
           : strcmp(v, "degraded") == 0 ? LDG_DOCTOR_DEGRADED
           : strcmp(v, "blocked") == 0  ? LDG_DOCTOR_BLOCKED
                                        : LDG_DOCTOR_UNKNOWN;
}

/* A decimal string field as a number (0 when absent). */
static uint64_t
ju(const json_t *o, const char *k)
{
    return strtoull(js(o, k), NULL, 10);
}

/*
 * The doctor a bundle's timeline.json holds as of log size at_size, or of
 * time at_ns (at_size 0): the last of its doctor_points at or before it
 * (they are kept where the doctor changes). NULL, with *range filled, when
 * the point is outside them or the bundle has none.
 */
static json_t *
bundle_point(const json_t *tl, uint64_t at_size, uint64_t at_ns, char *range,
             size_t cap, int *have)
{
    const json_t *dp = json_object_get(tl, "doctor_points"), *pt, *hit = NULL;
    uint64_t lo = ju(dp, "first_size"), hi = ju(dp, "last_size");
    uint64_t t0 = ju(dp, "first_ts"), t1 = ju(dp, "last_ts");
    uint64_t tn = ju(dp, "next_ts");
    char w0[32], w1[32];
    size_t i;

    *have = json_is_object(dp) && lo > 0 && hi >= lo;
    if (!*have)
        return NULL;
    cli_when(w0, sizeof w0, t0);
    cli_when(w1, sizeof w1, t1);
    snprintf(range, cap, "events %llu..%llu (%s .. %s) of run %s",
             (unsigned long long)lo - 1, (unsigned long long)hi - 1, w0, w1,
             js(tl, "run"));
    if (at_size == 0) { /* a time: the log size then, as on a ledger */
        const json_t *ts = json_object_get(dp, "ts");
        if (at_ns < t0 || (tn != 0 ? at_ns >= tn : at_ns > t1))
            return NULL;
        for (i = 0; i < json_array_size(ts); i++)
            if (strtoull(json_string_value(json_array_get(ts, i))
                             ? json_string_value(json_array_get(ts, i))
                             : "",
                         NULL, 10) <= at_ns)
                at_size = lo + i;
        if (at_size == 0)
            return NULL;
    }
    if (at_size < lo || at_size > hi)
        return NULL;
    json_array_foreach(json_object_get(dp, "points"), i, pt)
    {
        if (ju(pt, "size") > at_size)
            break;
        hit = pt;
    }
    if (hit == NULL)
        return NULL;
    {
        json_t *d = json_deep_copy(json_object_get(hit, "doctor"));
        json_object_set_new(d, "size", ldg_json_u64(at_size));
        return d;
    }
}

/*
 * doctor --bundle: the log-derived doctor a verified bundle carries: at
 * its checkpoint (state/projections.json), or with --at SEQ or TIME at
 * any event of its run, from the events before its start to its end
 * (timeline.json's doctor_points, computed by the exporter). A bundle
 * made before doctor_points holds the run's start and end only. The live
 * box-wide clauses (disk, chain verified here) are not in a bundle.
 */
static int
doctor_bundle(struct cli *c, struct vargs *va)
{
    struct ldg_bundle_contents *bc = NULL;
    json_t *d = NULL, *x;
    char sizes[256] = "", range[256] = "", err[256] = "";
    size_t i, n = 0;
    uint64_t at_ns = 0, ck = 0;
    int rc, have = 0;

    if (va->at_time != NULL) {
        if (ldg_query_parse_time(va->at_time, ldg_now_wall_ns(), &at_ns, err,
                                 sizeof err) < 0)
            return cli_usage_err(c, "--at: %s", err);
    }
    if ((rc = cli_bundle_read(c, &va->ba, &bc)) != 0)
        return rc;
    if (bc->state != NULL)
        ck = ju(bc->state, "size");
    /* --at inside the run's range: the doctor there */
    if (va->at_size != 0 || va->at_time != NULL)
        d = bundle_point(bc->timeline, va->at_size, at_ns, range, sizeof range,
                         &have);
    /* the checkpoint's, with no --at or --at its last event */
    if (d == NULL && bc->state != NULL &&
        json_is_object(x = json_object_get(bc->state, "doctor"))) {
        if (va->at_time == NULL && (va->at_size == 0 || va->at_size == ck)) {
            d = json_deep_copy(x);
            json_object_set(d, "size", json_object_get(bc->state, "size"));
        }
        n +=
            snprintf(sizes + n, sizeof sizes - n, "event %llu (the checkpoint)",
                     (unsigned long long)ck - 1);
    }
    /* a bundle from before doctor_points: the run's start and end */
    json_array_foreach(json_object_get(bc->timeline, "doctor"), i, x)
    {
        uint64_t sz = ju(x, "size");
        if (d == NULL && !have && va->at_size != 0 && sz == va->at_size)
            d = json_incref(x);
        if (!have && n < sizeof sizes)
            n += snprintf(sizes + n, sizeof sizes - n, "%s%llu (run %s)",
                          n ? ", " : "", (unsigned long long)sz - 1,
                          i == 0 ? "start" : "end");
    }
    if (d == NULL) {
        char at[64];
        if (va->at_time != NULL)
            snprintf(at, sizeof at, "%s", va->at_time);
        else
            snprintf(at, sizeof at, "event %llu",
                     (unsigned long long)(va->at_size - 1));
        if (va->at_size == 0 && va->at_time == NULL)
            cli_err(c,
                    "bundle %s holds no doctor at its checkpoint (its "
                    "state was left out)%s%s",
                    va->ba.file, have ? "; --at any of " : "",
                    have ? range : "");
        else if (have)
            cli_err(c, "--at %s is outside bundle %s: it answers at %s%s%s", at,
                    va->ba.file, range, n ? " and at " : "", n ? sizes : "");
        else
            cli_err(c,
                    "bundle %s holds no doctor as of %s (it holds no "
                    "run's doctor at every event); --at one of: %s",
                    va->ba.file, at, n ? sizes : "none");
        ldg_export_contents_free(bc);
        return EX_NOINPUT;
    }
    ldg_export_contents_free(bc);
    if (va->pack != NULL) {
        json_t *keep = json_array();
        json_array_foreach(json_object_get(d, "packs"), i,
                           x) if (strcmp(js(x, "pack"), va->pack) == 0)
            json_array_append(keep, x);
        if (json_array_size(keep) == 0) {
            cli_err(c, "bundle %s: no pack '%s' in its doctor", va->ba.file,
                    va->pack);
            json_decref(keep);
            json_decref(d);
            return EX_NOINPUT;
        }
        json_object_set_new(d, "packs", keep);
    }
    fprintf(stderr,
            "ledger doctor: the log-derived doctor from the bundle (the live "
            "box-wide checks are not in it)\n");
    rc = verdict_code(d);
    if (c->out != OUT_HUMAN)
        cli_print_json(c, d);
    else {
        human_doctor(c, d, va->pack);
        json_decref(d);
    }
    return rc;
}

int
cmd_doctor(struct cli *c, int argc, char **argv)
{
    struct vargs va = {0};
    struct ldg_doctor_opts o;
    struct ldg_ledger *l = NULL;
    json_t *d = NULL;
    int rc, verdict = LDG_DOCTOR_UNKNOWN;

    rc = parse(c, argc, argv, &va, NULL, 0);
    if (rc != 0)
        return PARSED(rc);
    if (va.ba.file != NULL)
        return doctor_bundle(c, &va);
    if ((rc = cli_open(c, 1, &l)) != 0)
        return rc;
    if ((rc = resolve_at(c, l, &va)) != 0) {
        ldg_close(l);
        return rc;
    }
    memset(&o, 0, sizeof o);
    o.at_size = va.at_size;
    o.pack = va.pack;
    o.progress = cli_progress;
    o.progress_ctx = c;
    rc = ldg_doctor_run(l, &o, &d, &verdict);
    if (c->progress && va.at_size)
        cli_progress_done(c);
    if (rc < 0) {
        rc = fail(c, l, rc);
        ldg_close(l);
        /* A usage error or an unknown pack is said so; otherwise the
         * doctor could not look, and that is "unknown". */
        return rc == EX_NOINPUT || rc == EX_USAGE ? rc : LDG_DOCTOR_UNKNOWN;
    }
    if (c->out != OUT_HUMAN) {
        cli_print_json(c, d);
    } else {
        human_doctor(c, d, va.pack);
        /* The process ends here: tearing down the JSON of a thousand
         * packs costs more than computing it, so it is kept. */
        doctor_answer = d;
    }
    ldg_close(l);
    return verdict;
}

/* --------------------------------------------------------- projections -- */

static const struct cli_opt projections_opts[] = {
    AT_OPT,
    CLI_FLAG('c', 0, "note",
             "print the signed projection note (the digests, signed with "
             "the log key) instead of the table"),
    CLI_OPT_END};

const struct cli_command cli_cmd_projections = {
    "projections",
    CLI_GROUP_STATE,
    cmd_projections,
    "versions, positions and digests of the projections",
    "Lists the projections (packs, permissions, models, routes, promotions, "
    "runs, and the control pipeline's plans, memory and builds): each one's "
    "code version, the last event it has applied, how "
    "many records it holds, whether the stored copy is current, and the "
    "digest of its state, which `ledger rebuild --check` and bundles "
    "compare.",
    projections_opts,
    CLI_OUT_BASIC,
    "ledger projections\n"
    "ledger projections --note\n",
    CLI_CMD_PAGER | CLI_CMD_GATHER};

int
cmd_projections(struct cli *c, int argc, char **argv)
{
    struct vargs va = {0};
    struct ldg_ledger *l = NULL;
    json_t *list = NULL, *o;
    size_t i;
    int rc = parse(c, argc, argv, &va, NULL, 0);
    if (rc != 0)
        return PARSED(rc);
    if ((rc = cli_open(c, 1, &l)) != 0)
        return rc;
    if ((rc = resolve_at(c, l, &va)) != 0) {
        ldg_close(l);
        return rc;
    }
    if (va.check) { /* --note: the signed projection note */
        char *note = NULL;
        rc = ldg_projections_note(l, va.at_size, &note);
        if (rc < 0) {
            rc = fail(c, l, rc);
        } else {
            if (c->out == OUT_HUMAN)
                fputs(note, stdout);
            else
                cli_print_json(c, json_pack("{s:s}", "note", note));
            free(note);
            rc = EX_OK;
        }
        ldg_close(l);
        return rc;
    }
    rc = ldg_projections_list(l, va.at_size, &list);
    if (rc < 0) {
        rc = fail(c, l, rc);
        ldg_close(l);
        return rc;
    }
    if (c->out != OUT_HUMAN) {
        print_rows(c, list);
    } else {
        printf("%-12s %-7s %-10s %-8s %-8s %s\n", "NAME", "VERSION", "LAST_SEQ",
               "RECORDS", "CURRENT", "DIGEST");
        json_array_foreach(list, i, o)
        {
            char ver[16], recs[24];
            json_t *v = json_object_get(o, "version");
            json_t *r = json_object_get(o, "records");
            json_t *cur = json_object_get(o, "current");
            if (json_is_integer(v))
                snprintf(ver, sizeof ver, "%lld",
                         (long long)json_integer_value(v));
            else
                snprintf(ver, sizeof ver, "-");
            if (json_is_integer(r))
                snprintf(recs, sizeof recs, "%lld",
                         (long long)json_integer_value(r));
            else
                snprintf(recs, sizeof recs, "-");
            printf("%-12s %-7s %-10s %-8s %-8s ", js(o, "name"), ver,
                   js(o, "last_seq"), recs,
                   json_is_true(cur) ? "yes"
                   : cur             ? "NO"
                                     : "-");
            /* the digest takes the rest of the terminal's columns */
            cli_cell(c, js(o, "digest"), (int)cli_width(c) - 50, 1);
        }
    }
    json_decref(list);
    ldg_close(l);
    return EX_OK;
}

/* ------------------------------------------------------------- rebuild -- */

/* Opens the ledger writable without attaching the projections (the
 * rebuild does that work itself, once). */
static int
open_plain(struct cli *c, struct ldg_ledger **out, int ro)
{
    struct ldg_options o;
    char err[1024];
    const char *mb = getenv("LEDGER_MAP_BYTES");
    const char *mx = getenv("LEDGER_MAP_MAX_BYTES");
    int rc;
    memset(&o, 0, sizeof o);
    /* A rebuild writes a second copy of the projections in one
     * transaction: ask the core for room for it. */
    o.flags = ro ? LDG_RDONLY : LDG_ROOM_TO_REWRITE;
    if (mb != NULL)
        o.map_size_bytes = (size_t)strtoull(mb, NULL, 10);
    if (mx != NULL)
        o.map_max_bytes = (size_t)strtoull(mx, NULL, 10);
    rc = ldg_open(out, c->dir, &o, err, sizeof err);
    if (rc < 0) {
        cli_err(c, "%s", err);
        return cli_exit_code(rc);
    }
    return 0;
}

static const struct cli_opt rebuild_opts[] = {
    CLI_FLAG('c', 0, "check",
             "change nothing: rebuild in memory and report every difference "
             "from the stored projections (exit 1 if any)"),
    CLI_ARG("NAME",
            "packs, permissions, models, routes, promotions, runs, plans, "
            "memory, builds or indexes (default: all of them)",
            CLI_OPTIONAL | CLI_REPEAT),
    CLI_OPT_END};

const struct cli_command cli_cmd_rebuild = {
    "rebuild",
    CLI_GROUP_STATE,
    cmd_rebuild,
    "replay the log into the projections",
    "Recomputes the projections (and the secondary indexes) from the log, "
    "in one transaction, and prints what changed. Needed after an upgrade "
    "that changed a projection's code version; views answer from the log "
    "meanwhile, and say so. With --check, nothing is written.",
    rebuild_opts,
    CLI_OUT_BASIC,
    "ledger rebuild\n"
    "ledger rebuild --check\n"
    "ledger rebuild routes models\n",
    0};

int
cmd_rebuild(struct cli *c, int argc, char **argv)
{
    struct vargs va = {0};
    const char *pos[8] = {NULL};
    struct ldg_ledger *l = NULL;
    json_t *rep = NULL, *o;
    unsigned mask = 0;
    uint64_t ndiff = 0;
    size_t i;
    int rc, n, want_index = 0;

    rc = parse(c, argc, argv, &va, pos, 8);
    if (rc != 0)
        return PARSED(rc);
    for (n = 0; n < 8 && pos[n]; n++) {
        unsigned b;
        if (strcmp(pos[n], "indexes") == 0) {
            want_index = 1;
            continue;
        }
        b = ldg_projections_bit(pos[n]);
        if (b == 0) {
            cli_err(c,
                    "no projection named '%s' (packs, permissions, "
                    "models, routes, promotions, runs, plans, memory, "
                    "builds, indexes)",
                    pos[n]);
            return EX_USAGE;
        }
        mask |= b;
    }
    /* No names: everything derived from the log, indexes included. */
    if (n == 0)
        want_index = 1;
    if ((rc = open_plain(c, &l, va.check)) != 0)
        return rc;
    if (va.check) {
        rc = ldg_projections_check(l, mask, cli_progress, c, &rep, &ndiff);
        if (c->progress)
            cli_progress_done(c);
        if (rc < 0) {
            rc = fail(c, l, rc);
            ldg_close(l);
            return rc;
        }
        if (c->out != OUT_HUMAN) {
            print_rows(c, rep);
        } else {
            json_array_foreach(rep, i, o)
            {
                char *s = json_dumps(json_object_get(o, "stored"),
                                     JSON_COMPACT | JSON_ENCODE_ANY);
                char *r = json_dumps(json_object_get(o, "rebuilt"),
                                     JSON_COMPACT | JSON_ENCODE_ANY);
                printf("%s %s: %s\n    stored:  %s\n    rebuilt: %s\n",
                       js(o, "projection"), js(o, "key"), js(o, "what"),
                       s ? s : "-", r ? r : "-");
                free(s);
                free(r);
            }
        }
        fprintf(stderr, "rebuild --check: %llu difference%s\n",
                (unsigned long long)ndiff, ndiff == 1 ? "" : "s");
        json_decref(rep);
        ldg_close(l);
        return ndiff ? EX_VERIFY : EX_OK;
    }
    if (want_index) {
        /* The secondary indexes (type, subject, run, actor, time), in one
         * write transaction; ledger verify checks them. */
        rc = ldg_index_rebuild_progress(l, cli_progress, c);
        if (c->progress)
            cli_progress_done(c);
        if (rc < 0) {
            rc = fail(c, l, rc);
            ldg_close(l);
            return rc;
        }
        fprintf(stderr, "rebuild: indexes rebuilt from the log\n");
        if (n > 0 && mask == 0) {
            ldg_close(l);
            return EX_OK;
        }
    }
    rc = ldg_projections_rebuild(l, mask, cli_progress, c, &rep);
    if (c->progress)
        cli_progress_done(c);
    if (rc < 0) {
        rc = fail(c, l, rc);
        ldg_close(l);
        return rc;
    }
    if (c->out != OUT_HUMAN) {
        print_rows(c, rep);
    } else {
        printf("%-12s %-10s %-8s %-26s %s\n", "NAME", "EVENTS", "CHANGED",
               "SIGNED NOTE", "DIGEST");
        json_array_foreach(rep, i, o)
            printf("%-12s %-10lld %-8s %-26s %s\n", js(o, "name"),
                   (long long)json_integer_value(json_object_get(o, "events")),
                   json_is_true(json_object_get(o, "changed")) ? "yes" : "no",
                   js(o, "note"), js(o, "after"));
    }
    json_decref(rep);
    ldg_close(l);
    return EX_OK;
}

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
        printf("  seq %-8s %s", js(v, "seq"), js(v, "rule"));
        fputs(cli_paint(c->color, CLI_PAINT_OFF), stdout);
        printf(": %s\n", js(v, "detail"));
    }
    if ((size_t)total > json_array_size(vs))
        printf("  (%lld more not kept)\n",
               total - (long long)json_array_size(vs));
}

static void
path_text(const json_t *r, char *buf, size_t cap)
{
    size_t i, n = 0;
    json_t *x;
    buf[0] = '\0';
    json_array_foreach(json_object_get(r, "path"), i, x)
    {
        int w = snprintf(buf + n, cap - n, "%s%s", i ? ">" : "",
                         json_string_value(x));
        if (w < 0 || (size_t)w >= cap - n)
            break;
        n += (size_t)w;
    }
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
        const char *st = js(r, "state");
        path_text(r, path, sizeof path);
        snprintf(nv, sizeof nv, "%lld", v);
        cli_cell(c, js(r, "plan"), 16, 0);
        fputs(cli_paint(c->color, strcmp(st, "PROMOTE") == 0 ? CLI_PAINT_OK
                                  : strcmp(st, "ABORT") == 0 ? CLI_PAINT_WARN
                                                             : CLI_PAINT_OFF),
              stdout);
        cli_cell(c, st, 12, 0);
        fputs(cli_paint(c->color, CLI_PAINT_OFF), stdout);
        printf("%5lld ", ji(r, "steps", "total"));
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
    cli_when_rfc3339(t0, sizeof t0,
                     json_string_value(json_object_get(r, "start")));
    cli_when_rfc3339(t1, sizeof t1,
                     json_string_value(json_object_get(r, "end")));
    printf("plan           %s\n", js(r, "plan"));
    printf("state          %s (seq %s)\n", js(r, "state"), js(r, "state_seq"));
    printf("path           %s\n", path);
    if (json_is_string(json_object_get(r, "intent")))
        printf("intent         %s\n", js(r, "intent"));
    printf("events         seq %s..%s (%s .. %s)\n", js(r, "first_seq"),
           js(r, "last_seq"), t0, t1);
    d = json_object_get(r, "debate");
    if (json_is_object(d))
        printf("debate         %s %s (seq %s)\n", js(d, "debate"),
               js(d, "decision"), js(d, "seq"));
    else
        printf("debate         none\n");
    printf("verified       %s\n",
           json_is_string(json_object_get(r, "verified_seq"))
               ? js(r, "verified_seq")
               : "no passing VERIFY since the last change");
    printf("steps          %lld (ok %lld, failed %lld, skipped %lld)\n",
           ji(r, "steps", "total"), ji(r, "steps", "ok"),
           ji(r, "steps", "failed"), ji(r, "steps", "skipped"));
    printf(
        "snapshots      %lld (%lld restored), tripcodes %lld (%lld "
        "refused)\n",
        (long long)json_integer_value(json_object_get(r, "snapshots")),
        (long long)json_integer_value(json_object_get(r, "snapshots_restored")),
        (long long)json_integer_value(json_object_get(r, "tripcodes")),
        (long long)json_integer_value(json_object_get(r, "tripcodes_refused")));
    human_violations(c, r);
    printf("timeline       ledger timeline %s\n", js(r, "plan"));
}

static const struct cli_opt plans_opts[] = {
    AT_OPT, CLI_ARG("PLAN", "one plan in detail", CLI_OPTIONAL), CLI_OPT_END};

const struct cli_command cli_cmd_plans = {
    "plans",
    CLI_GROUP_STATE,
    cmd_plans,
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
    plans_opts,
    CLI_OUT_BASIC,
    "ledger plans\n"
    "ledger plans P-0917 -o json-pretty\n",
    CLI_CMD_PAGER | CLI_CMD_GATHER};

int
cmd_plans(struct cli *c, int argc, char **argv)
{
    struct vargs va = {0};
    const char *pos[1] = {NULL};
    int rc = parse(c, argc, argv, &va, pos, 1);
    if (rc != 0)
        return PARSED(rc);
    return run_view(c, LDG_VIEW_PLANS, &va, pos[0],
                    pos[0] ? human_plan_one : human_plans);
}

/* -------------------------------------------------------------- memory -- */

static void
gates_text(const json_t *r, char *buf, size_t cap)
{
    size_t i, n = 0;
    json_t *x;
    snprintf(buf, cap, "-");
    if (json_array_size(json_object_get(r, "passed")) == 4) {
        snprintf(buf, cap, "all four");
        return;
    }
    json_array_foreach(json_object_get(r, "passed"), i, x)
    {
        int w = snprintf(buf + n, cap - n, "%s%s", i ? "," : "",
                         json_string_value(x));
        if (w < 0 || (size_t)w >= cap - n)
            break;
        n += (size_t)w;
    }
}

static void
human_memory(struct cli *c, json_t *rows)
{
    size_t i;
    json_t *r;
    char gates[128], hash[16], nv[24];
    /* 16 + 10 + 13 + 32 + 5 + 4 spaces: 80 columns */
    cli_cell(c, "ITEM", 16, 0);
    cli_cell(c, "STATUS", 10, 0);
    cli_cell(c, "HASH", 13, 0);
    cli_cell(c, "GATES PASSED", 32, 0);
    printf("%5s\n", "VIOLS");
    json_array_foreach(rows, i, r)
    {
        long long v = (long long)json_integer_value(
            json_object_get(r, "violations_total"));
        gates_text(r, gates, sizeof gates);
        /* no hash: erased, or never given (no memory.candidate) */
        snprintf(hash, sizeof hash, "%.12s",
                 json_is_string(json_object_get(r, "hash"))   ? js(r, "hash")
                 : json_is_true(json_object_get(r, "erased")) ? "(erased)"
                                                              : "-");
        snprintf(nv, sizeof nv, "%lld", v);
        cli_cell(c, js(r, "item"), 16, 0);
        cli_cell(c, js(r, "status"), 10, 0);
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
    printf("item           %s\n", js(r, "item"));
    printf("status         %s\n", js(r, "status"));
    printf("hash           %s\n", json_is_string(json_object_get(r, "hash"))
                                      ? js(r, "hash")
                                  : json_is_true(json_object_get(r, "erased"))
                                      ? "(erased)"
                                      : "none: no memory.candidate gave one");
    p = json_object_get(r, "provenance");
    if (json_is_object(p)) {
        char *t = json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS);
        printf("provenance     %s\n", t ? t : "?");
        free(t);
    }
    printf("candidate      seq %s\n", js(r, "candidate_seq"));
    g = json_object_get(r, "gates");
    json_object_foreach(g, k, x)
    {
        if (json_is_object(x))
            printf("gate %-10s %s (seq %s)\n", k, js(x, "status"),
                   js(x, "seq"));
        else
            printf("gate %-10s never\n", k);
    }
    if (json_is_string(json_object_get(r, "admitted_seq")))
        printf("admitted       seq %s\n", js(r, "admitted_seq"));
    if (json_is_string(json_object_get(r, "revoked_seq")))
        printf("revoked        seq %s\n", js(r, "revoked_seq"));
    if (json_is_string(json_object_get(r, "purged_seq")))
        printf("purged         seq %s\n", js(r, "purged_seq"));
    if (json_is_string(json_object_get(r, "reason")))
        printf("reason         %s\n", js(r, "reason"));
    human_violations(c, r);
}

#define OPT_REVOKED 0x401
#define OPT_PREFIX 0x402
#define OPT_REASON 0x403
#define OPT_ALL 0x404

static const struct cli_opt memory_opts[] = {
    AT_OPT,
    CLI_FLAG(OPT_REVOKED, 0, "revoked",
             "list the revoked and purged items instead of the others"),
    CLI_VALUE(OPT_PREFIX, 0, "prefix", "HEX",
              "with purge: the hash prefix (1..64 hex digits) of the items "
              "to purge; it must name one hash"),
    CLI_VALUE(OPT_REASON, 0, "reason", "TEXT", "with purge: why (required)"),
    CLI_FLAG(OPT_ALL, 0, "all",
             "with purge: purge every item the prefix matches, even when "
             "their hashes differ"),
    CLI_ARG("ITEM|purge", "one item in detail, or `purge`", CLI_OPTIONAL),
    CLI_OPT_END};

const struct cli_command cli_cmd_memory = {
    "memory",
    CLI_GROUP_STATE,
    cmd_memory,
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
    memory_opts,
    CLI_OUT_BASIC,
    "ledger memory\n"
    "ledger memory --revoked\n"
    "ledger memory note-42 -o json-pretty\n"
    "ledger memory purge --prefix a9df53 --reason 'user asked, ticket 88'\n",
    CLI_CMD_PAGER | CLI_CMD_GATHER};

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
    if (rc < 0) {
        rc = fail(c, l, rc);
        ldg_close(l);
        return rc;
    }
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
               js(rep, "prefix"));
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
    struct ldg_view_opts vo;
    struct ldg_ledger *l = NULL;
    json_t *rows = NULL, *keep, *r;
    size_t i;
    int rc;

    if ((rc = cli_open(c, 1, &l)) != 0)
        return rc;
    if ((rc = resolve_at(c, l, va)) != 0) {
        ldg_close(l);
        return rc;
    }
    memset(&vo, 0, sizeof vo);
    vo.at_size = va->at_size;
    vo.filter = item;
    rc = ldg_projections_view(l, LDG_VIEW_MEMORY, &vo, &rows);
    if (rc < 0) {
        rc = fail(c, l, rc);
        ldg_close(l);
        return rc;
    }
    warn_stale(c, l, va);
    keep = json_array();
    json_array_foreach(rows, i, r)
    {
        const char *st = js(r, "status");
        int gone = strcmp(st, "revoked") == 0 || strcmp(st, "purged") == 0;
        if (item != NULL || gone == revoked)
            json_array_append(keep, r);
    }
    if (c->out != OUT_HUMAN)
        print_rows(c, keep);
    else if (item != NULL)
        human_memory_one(c, keep);
    else
        human_memory(c, keep);
    if (c->out == OUT_HUMAN && c->tty_out && json_array_size(keep) == 0)
        printf(revoked ? "(no item revoked or purged)\n"
                       : "(no memory item recorded in the ledger yet)\n");
    json_decref(keep);
    json_decref(rows);
    ldg_close(l);
    return EX_OK;
}

int
cmd_memory(struct cli *c, int argc, char **argv)
{
    struct vargs va = {0};
    struct cli_args a;
    const char *prefix = NULL, *reason = NULL, *item = NULL;
    int ch, revoked = 0, all = 0, rc;
    uint64_t seq;

    cli_args_init(&a, c, argc, argv);
    while ((ch = cli_args_next(&a)) > 0) {
        switch (ch) {
        case 'A':
            if (cli_parse_u64(a.value, &seq) == 0 && seq != UINT64_MAX) {
                va.at_size = seq + 1;
                break;
            }
            if (ldg_query_parse_time(a.value, UINT64_C(1) << 62, &seq, NULL,
                                     0) < 0)
                return cli_usage_err(c,
                                     "--at: '%s' is neither a sequence number "
                                     "nor a time",
                                     a.value);
            va.at_time = a.value;
            break;
        case OPT_REVOKED:
            revoked = 1;
            break;
        case OPT_PREFIX:
            prefix = a.value;
            break;
        case OPT_REASON:
            reason = a.value;
            break;
        case OPT_ALL:
            all = 1;
            break;
        default:
            return cli_usage(c);
        }
    }
    if (ch < 0)
        return a.exit;
    if (a.ind < argc)
        item = argv[a.ind];
    if (a.ind + 1 < argc)
        return cli_usage_err(c, "one ITEM at most (or `purge`)");
    if ((rc = prepare(c)) != 0)
        return rc;
    if (item != NULL && strcmp(item, "purge") == 0) {
        if (revoked || va.at_size || va.at_time)
            return cli_usage_err(c, "--revoked and --at do not go with purge");
        if (prefix == NULL || *prefix == '\0')
            return cli_usage_err(c, "purge needs --prefix HEX (a non-empty "
                                    "hash prefix)");
        if (reason == NULL || *reason == '\0')
            return cli_usage_err(c, "purge needs --reason TEXT");
        return memory_purge(c, prefix, reason, all);
    }
    if (prefix != NULL || reason != NULL || all)
        return cli_usage_err(c, "--prefix, --reason and --all go with "
                                "`ledger memory purge`");
    return memory_view(c, &va, item, revoked);
}

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
        const char *st = js(g, "status");
        char val[32];
        if (json_is_real(v))
            snprintf(val, sizeof val, "%.2f %%", json_real_value(v));
        else if (json_is_integer(v))
            snprintf(val, sizeof val, "%lld", (long long)json_integer_value(v));
        else
            snprintf(val, sizeof val, "-");
        printf("%-24s %-10s %-26s ", js(g, "gate"), val, js(g, "threshold"));
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
                       js(e, "seq"), js(e, "reverted_seq"));
            else if (json_object_get(e, "errors"))
                printf(
                    "  promotion at seq %s: %lld error event(s), the "
                    "first at seq %s\n",
                    js(e, "seq"),
                    (long long)json_integer_value(json_object_get(e, "errors")),
                    js(e, "first_error_seq"));
            else if (json_object_get(e, "inputs_digest"))
                printf("  inputs %.16s: %.16s at seq %s, %.16s at seq %s\n",
                       js(e, "inputs_digest"), js(e, "first_digest"),
                       js(e, "first_seq"), js(e, "digest"), js(e, "seq"));
            else
                printf("  seq %s: %s %s writes to Blue\n", js(e, "seq"),
                       js(e, "type"), js(e, "what"));
        }
    }
    {
        char since[48] = "";
        if (json_is_string(json_object_get(o, "since")))
            cli_when_rfc3339(since, sizeof since, js(o, "since"));
        printf("overall: %s (%lld promotions%s%s)\n", js(o, "status"),
               (long long)json_integer_value(json_object_get(o, "promotions")),
               since[0] ? " since " : "", since);
    }
}

#define OPT_SINCE 0x405

static const struct cli_opt gates_opts[] = {
    AT_OPT,
    CLI_VALUE(OPT_SINCE, 'S', "since", "TIME",
              "judge only the events at or after TIME (as `ledger query -S` "
              "takes it: '-7d', 'yesterday', RFC 3339)"),
    CLI_FLAG('c', 0, "check", "exit 1 when a gate fails"), CLI_OPT_END};

const struct cli_command cli_cmd_gates = {
    "gates",
    CLI_GROUP_STATE,
    cmd_gates,
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
    gates_opts,
    CLI_OUT_BASIC,
    "ledger gates\n"
    "ledger gates --since -7d --check\n",
    CLI_CMD_GATHER};

int
cmd_gates(struct cli *c, int argc, char **argv)
{
    struct vargs va = {0};
    struct cli_args a;
    struct ldg_view_opts vo;
    struct ldg_ledger *l = NULL;
    const char *since = NULL;
    json_t *o = NULL;
    uint64_t seq, since_ns = 0;
    char err[512];
    int ch, check = 0, rc;

    cli_args_init(&a, c, argc, argv);
    while ((ch = cli_args_next(&a)) > 0) {
        switch (ch) {
        case 'A':
            if (cli_parse_u64(a.value, &seq) == 0 && seq != UINT64_MAX) {
                va.at_size = seq + 1;
                break;
            }
            if (ldg_query_parse_time(a.value, UINT64_C(1) << 62, &seq, NULL,
                                     0) < 0)
                return cli_usage_err(c,
                                     "--at: '%s' is neither a sequence number "
                                     "nor a time",
                                     a.value);
            va.at_time = a.value;
            break;
        case OPT_SINCE:
            since = a.value;
            break;
        case 'c':
            check = 1;
            break;
        default:
            return cli_usage(c);
        }
    }
    if (ch < 0)
        return a.exit;
    if (a.ind < argc)
        return cli_usage(c);
    if (since != NULL) {
        if (ldg_query_parse_time(since, ldg_now_wall_ns(), &since_ns, err,
                                 sizeof err) < 0)
            return cli_usage_err(c, "--since: %s", err);
    }
    if ((rc = prepare(c)) != 0)
        return rc;
    if ((rc = cli_open(c, 1, &l)) != 0)
        return rc;
    if ((rc = resolve_at(c, l, &va)) != 0) {
        ldg_close(l);
        return rc;
    }
    memset(&vo, 0, sizeof vo);
    vo.at_size = va.at_size;
    vo.since_ns = since_ns;
    rc = ldg_projections_view(l, LDG_VIEW_GATES, &vo, &o);
    if (rc < 0) {
        rc = fail(c, l, rc);
        ldg_close(l);
        return rc;
    }
    warn_stale(c, l, &va);
    if (c->out != OUT_HUMAN)
        cli_print_json(c, json_incref(o));
    else
        human_gates(c, o);
    rc = check && strcmp(js(o, "status"), "fail") == 0 ? EX_VERIFY : EX_OK;
    json_decref(o);
    ldg_close(l);
    return rc;
}
