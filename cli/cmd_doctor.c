/*
 * cmd_doctor.c — doctor, projections, rebuild.
 */
#include <string.h>
#include "cli/cli.h"
#include "cli/commands.h"
#include "export/export.h"
#include "fleet/fleet.h"
#include "doctor/doctor.h"
#include "query/query.h"
#include "projections/projections.h"

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
        const char *st = cli_view_js(x, "status");
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
                "", cli_view_js(x, "name"),
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
        printf("pack %s: %s (state %s%s), %zu/%zu clauses ok\n",
               cli_view_js(p, "pack"), cli_view_js(p, "verdict"),
               cli_view_js(p, "state"),
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
        const char *v = cli_view_js(d, "verdict");
        enum cli_paint pt = strcmp(v, "healthy") == 0    ? CLI_PAINT_OK
                            : strcmp(v, "degraded") == 0 ? CLI_PAINT_WARN
                                                         : CLI_PAINT_FAIL;
        printf("verdict: %s%s%s (log size %s)\n", cli_paint(c->color, pt), v,
               cli_paint(c->color, CLI_PAINT_OFF), cli_view_js(d, "size"));
    }
}

static int
verdict_code(const json_t *d)
{
    const char *v = cli_view_js(d, "verdict");
    return strcmp(v, "healthy") == 0    ? LDG_DOCTOR_HEALTHY
           : strcmp(v, "degraded") == 0 ? LDG_DOCTOR_DEGRADED
           : strcmp(v, "blocked") == 0  ? LDG_DOCTOR_BLOCKED
                                        : LDG_DOCTOR_UNKNOWN;
}

/* A decimal string field as a number (0 when absent). */
static uint64_t
ju(const json_t *o, const char *k)
{
    return strtoull(cli_view_js(o, k), NULL, 10);
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
             cli_view_js(tl, "run"));
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
    char sizes[256] = "", range[256] = "", err[600] = "";
    size_t i, n = 0;
    uint64_t at_ns = 0, ck = 0;
    int rc, have = 0;

    if (va->at_time != NULL) {
        uint64_t seq; /* (a seq is at_size) */
        if (ldg_query_parse_at(va->at_time, ldg_now_wall_ns(), &seq, &at_ns,
                               err, sizeof err) < 0)
            return cli_usage_err(c, "--at %s", err);
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
                           x) if (strcmp(cli_view_js(x, "pack"), va->pack) == 0)
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
    /* the bundle's verdict is every active pack's; P's is its own */
    rc = va->pack != NULL ? ldg_doctor_verdict(d, va->pack) : verdict_code(d);
    if (c->out != OUT_HUMAN)
        cli_print_json(c, d);
    else {
        human_doctor(c, d, va->pack);
        json_decref(d);
    }
    return rc;
}

static int
cmd_doctor(struct cli *c, struct vargs *va, int npos, char **pos)
{
    struct ldg_doctor_opts o;
    struct ldg_ledger *l = NULL;
    json_t *d = NULL;
    int rc, verdict = LDG_DOCTOR_UNKNOWN;

    if ((rc = cli_view_args(c, va, npos, pos, 0)) != 0)
        return rc;
    if (va->ba.file != NULL)
        return doctor_bundle(c, va);
    if ((rc = cli_view_open(c, va, &l)) != 0)
        return rc;
    memset(&o, 0, sizeof o);
    o.at_size = va->at_size;
    o.pack = va->pack;
    o.progress = cli_progress;
    o.progress_ctx = c;
    {
        /* the newest size a witness cosigned (fleet/), for
         * epoch-exposure */
        char *note = NULL, *nl;
        size_t len;
        if (ldg_cosigned_get(l, 0, &note, &len) == 0 &&
            (nl = strchr(note, '\n')) != NULL)
            o.witness_size = strtoull(nl + 1, NULL, 10);
        free(note);
    }
    rc = ldg_doctor_run(l, &o, &d, &verdict);
    if (c->progress && va->at_size)
        cli_progress_done(c);
    if (rc < 0) {
        rc = cli_fail(c, l, rc);
        ldg_close(l);
        /* A usage error or an unknown pack is said so; otherwise the
         * doctor could not look, and that is "unknown". */
        return rc == EX_NOINPUT || rc == EX_USAGE ? rc : LDG_DOCTOR_UNKNOWN;
    }
    if (c->out != OUT_HUMAN) {
        cli_print_json(c, d);
    } else {
        human_doctor(c, d, va->pack);
        /* The process ends here: tearing down the JSON of a thousand
         * packs costs more than computing it, so it is kept. */
        doctor_answer = d;
    }
    ldg_close(l);
    return verdict;
}

CLI_COMMAND(
    doctor, CLI_GROUP_STATE, "readiness verdict with remedies",
    "Says whether the box is ready to serve each pack and why not: for "
    "every pack, the clauses that must hold (permissions resolved, models "
    "available, routes proven, runtime up, last check ok, promotions gated, "
    "...) with what failed and a remedy, then the box-wide clauses (chain "
    "verified, keys valid, projections current, disk headroom: free space "
    "and the days it lasts at the log's growth, against the retention "
    "policy's keep_days; storage wear: the bytes the ledger's device wrote "
    "in the last hour and day, from samples `ledger metrics` keeps, and the "
    "years a device of its size lasts at that rate, or the device's own "
    "wear figure; a warning below 5 years). The exit code is the verdict: 0 "
    "healthy, 1 "
    "degraded, 2 blocked, 3 unknown; a WARN clause does not change it.",
    doctor_opts, CLI_OUT_BASIC,
    "ledger doctor\n"
    "ledger doctor --pack summarize\n"
    "# the box as it was when a run started (see `ledger runs RUN`)\n"
    "ledger doctor --at 212\n"
    "# from an evidence bundle: at its checkpoint, or at any event or\n"
    "# time of its run\n"
    "ledger doctor --bundle r1.bundle --trusted-key box.vkey --at 22\n"
    "ledger doctor --bundle r1.bundle --trusted-key box.vkey \\\n"
    "    --at '2026-11-22 09:39'\n",
    CLI_CMD_PAGER | CLI_CMD_GATHER, CLI_VIEW_ARGS);

/* --------------------------------------------------------- projections -- */

static const struct cli_opt projections_opts[] = {
    AT_OPT,
    CLI_FLAG('c', 0, "note",
             "print the signed projection note (the digests, signed with "
             "the log key) instead of the table"),
    CLI_OPT_END};

static int
cmd_projections(struct cli *c, struct vargs *va, int npos, char **pos)
{
    struct ldg_ledger *l = NULL;
    json_t *list = NULL, *o;
    size_t i;
    int rc = cli_view_args(c, va, npos, pos, 0);
    if (rc != 0)
        return rc;
    if ((rc = cli_view_open(c, va, &l)) != 0)
        return rc;
    if (va->check) { /* --note: the signed projection note */
        char *note = NULL;
        rc = ldg_projections_note(l, va->at_size, &note);
        if (rc < 0) {
            rc = cli_fail(c, l, rc);
        } else {
            cli_print_text(c, "note", note);
            free(note);
            rc = EX_OK;
        }
        ldg_close(l);
        return rc;
    }
    rc = ldg_projections_list(l, va->at_size, &list);
    if (rc < 0)
        return cli_fail_close(c, l, rc);
    if (c->out != OUT_HUMAN) {
        cli_view_rows(c, list);
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
            printf("%-12s %-7s %-10s %-8s %-8s ", cli_view_js(o, "name"), ver,
                   cli_view_js(o, "last_seq"), recs,
                   json_is_true(cur) ? "yes"
                   : cur             ? "NO"
                                     : "-");
            /* the digest takes the rest of the terminal's columns */
            cli_cell(c, cli_view_js(o, "digest"), (int)cli_width(c) - 50, 1);
        }
    }
    json_decref(list);
    ldg_close(l);
    return EX_OK;
}

CLI_COMMAND(
    projections, CLI_GROUP_STATE,
    "versions, positions and digests of the projections",
    "Lists the projections (packs, permissions, models, routes, promotions, "
    "runs, and the control pipeline's plans, memory and builds): each one's "
    "code version, the last event it has applied, how "
    "many records it holds, whether the stored copy is current, and the "
    "digest of its state, which `ledger rebuild --check` and bundles "
    "compare.",
    projections_opts, CLI_OUT_BASIC,
    "ledger projections\n"
    "ledger projections --note\n",
    CLI_CMD_PAGER | CLI_CMD_GATHER, CLI_VIEW_ARGS);

/* ------------------------------------------------------------- rebuild -- */

/* Opens the ledger writable without attaching the projections (the
 * rebuild does that work itself, once). */
static int
open_plain(struct cli *c, struct ldg_ledger **out, int ro)
{
    struct ldg_options o;
    char err[1024] = ""; /* (not every failure says why) */
    int rc;
    /* A rebuild writes a second copy of the projections in one
     * transaction: ask the core for room for it. */
    cli_ledger_options(&o, ro ? LDG_RDONLY : LDG_ROOM_TO_REWRITE);
    rc = ldg_open(out, c->dir, &o, err, sizeof err);
    if (rc < 0)
        return cli_fail_err(c, err, rc);
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

/* After a step that showed progress: its line ended; on a failure, said,
 * the ledger closed, 1 returned and *rc the exit code. */
static int
step_failed(struct cli *c, struct ldg_ledger *l, int *rc)
{
    if (c->progress)
        cli_progress_done(c);
    if (*rc >= 0)
        return 0;
    *rc = cli_fail(c, l, *rc);
    ldg_close(l);
    return 1;
}

static int
cmd_rebuild(struct cli *c, struct vargs *va, int npos, char **pos)
{
    struct ldg_ledger *l = NULL;
    json_t *rep = NULL, *o;
    unsigned mask = 0;
    uint64_t ndiff = 0;
    size_t i;
    int rc, n, want_index = 0;

    /* every name once: the nine projections and indexes */
    if ((rc = cli_view_args(c, va, npos, pos, 10)) != 0)
        return rc;
    for (n = 0; n < npos; n++) {
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
    /* --check compares projections only (mask 0 would compare them
     * all): indexes asked for would be said checked and not be */
    if (va->check && want_index)
        return cli_usage_err(c, "--check compares projections; `ledger "
                                "verify --full` checks the indexes");
    /* No names: everything derived from the log, indexes included. */
    if (n == 0)
        want_index = 1;
    if ((rc = open_plain(c, &l, va->check)) != 0)
        return rc;
    if (va->check) {
        rc = ldg_projections_check(l, mask, cli_progress, c, &rep, &ndiff);
        if (step_failed(c, l, &rc))
            return rc;
        if (c->out != OUT_HUMAN) {
            cli_view_rows(c, rep);
        } else {
            json_array_foreach(rep, i, o)
            {
                char *s = json_dumps(json_object_get(o, "stored"),
                                     JSON_COMPACT | JSON_ENCODE_ANY);
                char *r = json_dumps(json_object_get(o, "rebuilt"),
                                     JSON_COMPACT | JSON_ENCODE_ANY);
                printf("%s %s: %s\n    stored:  %s\n    rebuilt: %s\n",
                       cli_view_js(o, "projection"), cli_view_js(o, "key"),
                       cli_view_js(o, "what"), s ? s : "-", r ? r : "-");
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
    /* The projections first: their rebuild compares them with what every
     * read saw, the intake's tail folded (store layout 9), which any
     * other write applies to the store first. */
    if (!(want_index && n > 0 && mask == 0)) {
        rc = ldg_projections_rebuild(l, mask, cli_progress, c, &rep);
        if (step_failed(c, l, &rc))
            return rc;
    }
    if (want_index) {
        /* The secondary indexes (type, subject, run, actor, time), in one
         * write transaction; ledger verify checks them. Its write applies
         * the intake's tail first (store layout 9): with the
         * projections attached, as every writer has them, so that they
         * take it too. */
        rc = rep == NULL ? ldg_projections_attach_progress(l, cli_progress, c)
                         : 0;
        if (rc == 0)
            rc = ldg_index_rebuild_progress(l, cli_progress, c);
        if (step_failed(c, l, &rc)) {
            json_decref(rep);
            return rc;
        }
        fprintf(stderr, "rebuild: indexes rebuilt from the log\n");
    }
    if (rep == NULL) {
        ldg_close(l);
        return EX_OK;
    }
    if (c->out != OUT_HUMAN) {
        cli_view_rows(c, rep);
    } else {
        printf("%-12s %-10s %-8s %-26s %s\n", "NAME", "EVENTS", "CHANGED",
               "SIGNED NOTE", "DIGEST");
        json_array_foreach(rep, i, o)
            printf("%-12s %-10lld %-8s %-26s %s\n", cli_view_js(o, "name"),
                   (long long)json_integer_value(json_object_get(o, "events")),
                   json_is_true(json_object_get(o, "changed")) ? "yes" : "no",
                   cli_view_js(o, "note"), cli_view_js(o, "after"));
    }
    json_decref(rep);
    ldg_close(l);
    return EX_OK;
}

CLI_COMMAND(
    rebuild, CLI_GROUP_STATE, "replay the log into the projections",
    "Recomputes the projections (and the secondary indexes) from the log, "
    "in one transaction, and prints what changed. Needed after an upgrade "
    "that changed a projection's code version; views answer from the log "
    "meanwhile, and say so. With --check, nothing is written.",
    rebuild_opts, CLI_OUT_BASIC,
    "ledger rebuild\n"
    "ledger rebuild --check\n"
    "ledger rebuild routes models\n",
    0, CLI_VIEW_ARGS);
