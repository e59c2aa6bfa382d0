/*
 * cmd_export.c — export (signed evidence bundles); cmd_verify_bundle.c checks
 * them.
 */
#include <unistd.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "export/export.h"
#include "fleet/fleet.h"
#include "query/query.h"

#define LIST_MAX 256

/* Splits "a,b,c" into list (pointers into s, which is modified). An
 * empty name ("", "a,", "a,,b": an unset variable, a stray comma) is
 * refused: a redaction asked for must not quietly withhold nothing. */
static int
split_list(struct cli *c, const char *opt, char *s, char **list, size_t *n)
{
    char *tok = s, *comma;
    size_t len = strlen(s);
    if (len == 0 || s[0] == ',' || s[len - 1] == ',' ||
        strstr(s, ",,") != NULL) {
        cli_err(c,
                "%s: an empty name in '%s' (give each name, separated by "
                "commas)",
                opt, s);
        return -1;
    }
    for (;;) {
        comma = strchr(tok, ',');
        if (*n == LIST_MAX) {
            cli_err(c, "%s: more than %d names", opt, LIST_MAX);
            return -1;
        }
        if (comma != NULL)
            *comma = '\0';
        list[(*n)++] = tok;
        if (comma == NULL)
            break;
        tok = comma + 1;
    }
    return 0;
}

static void
export_progress(void *ctx, uint64_t done, uint64_t total)
{
    cli_progress(ctx, done, total);
}

/* -------------------------------------------------------------- export -- */

#define CTX_TERM 28 /* "seq=" and 20 digits, NUL */

/* What `ledger export` was asked. */
struct export_args {
    struct ldg_export_opts o;
    char *fields[LIST_MAX], *types[LIST_MAX];
    const char *out, *run, *plan;
    int no_context, no_cosigned, segment;
};
#define EA struct export_args
static const struct cli_opt export_opts[] = {
    {.id = 'O',
     .name = "out",
     .value = "FILE",
     .help = "the bundle file to write, not there yet (- for standard output, "
             "not a terminal)",
     .flags = CLI_REQUIRED,
     CLI_AT(EA, out, CLI_K_STR)},
    CLI_STR('S', 'S', "since", "TIME", "events at or after TIME", EA, o.since),
    CLI_STR('U', 'U', "until", "TIME", "events at or before TIME", EA, o.until),
    CLI_STR('r', 0, "run", "R", "the events of run R", EA, run),
    CLI_STR(302, 0, "plan", "PLAN",
            "the events of the control pipeline's plan PLAN and its "
            "context, as `ledger timeline PLAN` shows them",
            EA, plan),
    CLI_VALUES('R', 0, "redact", "FIELD,...",
               "withhold these body fields (their hashes stay, so the "
               "bundle still verifies)"),
    CLI_VALUES('B', 0, "redact-body", "TYPE,...",
               "withhold the whole body of events of these types"),
    CLI_ON('A', 0, "redact-allow-missing",
           "accept a --redact field or --redact-body type that no "
           "selected event has (otherwise an error, exit 65: a typo must "
           "not let the data out)",
           EA, o.redact_allow_missing),
    CLI_ON(303, 0, "allow-envelope-disclosure",
           "ship an event whose envelope (subject, run) repeats the value "
           "of a field --redact or --redact-body withholds (otherwise "
           "refused, exit 64: the envelope is signed and would disclose "
           "it)",
           EA, o.allow_envelope_disclosure),
    CLI_ON('E', 0, "allow-empty",
           "write a bundle even if no event matches (otherwise an error, "
           "exit 66)",
           EA, o.allow_empty),
    CLI_STR('C', 0, "creator", "TEXT",
            "record TEXT in the manifest as created.by (nothing is "
            "recorded about the exporter otherwise)",
            EA, o.exported_by),
    CLI_STR('n', 0, "name", "NAME",
            "the bundle's directory: every file is NAME/... (default: "
            "the file's name without .tar.zst or .bundle; \"bundle\" for "
            "--out -)",
            EA, o.name),
    CLI_NUM('L', 0, "level", "N", "zstd level, 1 to 19", EA, o.level, 1, 19),
    CLI_VALUE('M', 0, "max-events", "N",
              "refuse a selection larger than N events"),
    CLI_ON('N', 0, "no-state",
           "leave out the projected state (packs, models, routes, ...)", EA,
           o.no_state),
    CLI_ON(301, 0, "no-cosigned",
           "leave out the witnesses' cosigned checkpoint the box keeps "
           "(bundles carry it by default)",
           EA, no_cosigned),
    CLI_ON(304, 0, "segment",
           "write a segment (docs/FORMAT.md section 11) of a contiguous "
           "range, seq=A..B and/or -S/-U, taken out to whole commits: "
           "the events with their leaves and the signed checkpoint, no "
           "proof an event, nothing redacted (what `ledger archive` "
           "writes; `verify-bundle` and the --bundle readers read it)",
           EA, segment),
    CLI_ON('K', 0, "no-context",
           "with --run or --plan: only its own events, not the context "
           "`ledger timeline` shows with them",
           EA, no_context),
    CLI_ARG("MATCH", "query terms, as `ledger query` takes them",
            CLI_OPTIONAL | CLI_REPEAT),
    CLI_OPT_END};

/* export --segment: the range the terms and window select, out to whole
 * commits, as one segment. */
static int
export_segment(struct cli *c, const struct ldg_export_opts *o, const char *out,
               int nterms, char **terms, const char *run, const char *plan,
               int context_flags)
{
    struct ldg_export_segment_opts so;
    struct ldg_segment_range r;
    struct ldg_segment_report info;
    struct ldg_ledger *l = NULL;
    char hex[65];
    int rc;

    /* a segment has no manifest: nothing records --creator, and nothing
     * is redacted for the --redact options' companions to allow */
    if (run != NULL || plan != NULL || o->nredact_fields > 0 ||
        o->nredact_types > 0 || o->name != NULL || context_flags ||
        o->allow_empty || o->max_events > 0 || o->exported_by != NULL ||
        o->redact_allow_missing || o->allow_envelope_disclosure)
        return cli_usage_err(c, "--segment writes a contiguous range, whole: "
                                "seq=A..B, -S, -U, --level and --no-state "
                                "go with it, not --run, --plan, --redact, "
                                "--redact-body, --name, --creator or the "
                                "others (a selection is a bundle)");
    if (strcmp(out, "-") == 0)
        return cli_usage_err(c, "--segment --out -: a segment is written to "
                                "a file (beside its path, then linked in)");
    /* ctrl-Z waits for the read window's end (docs/QUERY.md) */
    cli_tstp_install();
    if ((rc = cli_open(c, 1, &l)) != 0)
        return rc;
    if ((rc = cli_out_check(c, l, out, 1)) != 0) {
        ldg_close(l);
        return rc;
    }
    rc = ldg_export_segment_range(l, nterms, terms, o->since, o->until,
                                  ldg_now_wall_ns(), &r);
    if (rc == 0) {
        memset(&so, 0, sizeof so);
        so.first = r.first;
        so.end = r.end;
        so.with_state = !o->no_state;
        so.level = o->level;
        if (c->progress) {
            so.progress = export_progress;
            so.progress_ctx = c;
        }
        so.snapshot = cli_rtxn_held;
        rc = ldg_export_segment(l, &so, out, &info);
        if (c->progress)
            cli_progress_done(c);
    }
    if (rc < 0)
        return cli_fail_close(c, l, rc);
    ldg_close(l);
    if (r.first != r.lo || r.end != r.hi + 1)
        cli_err(c,
                "events %llu..%llu were selected; taken out to %llu..%llu, "
                "whole commits (a segment's seals are whole)",
                (unsigned long long)r.lo, (unsigned long long)r.hi,
                (unsigned long long)r.first, (unsigned long long)(r.end - 1));
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", info.sha256[i]);
    fprintf(stderr,
            "export: wrote %s: a segment of events %llu..%llu (%llu), "
            "proven against the checkpoint of size %llu; %llu bodies "
            "erased; %s; %llu bytes; SHA-256 %s\n",
            out, (unsigned long long)info.first,
            (unsigned long long)(info.end - 1), (unsigned long long)info.events,
            (unsigned long long)info.checkpoint_size,
            (unsigned long long)info.erased,
            info.has_state ? "with the projected state at its end"
                           : "no projected state (--no-state)",
            (unsigned long long)info.bytes, hex);
    if (c->out != OUT_HUMAN)
        cli_print_json(
            c,
            json_pack("{s:s, s:s, s:o, s:o, s:I, s:o, s:I, s:I, s:s}", "file",
                      out, "format", "segment", "first",
                      ldg_json_u64(info.first), "end", ldg_json_u64(info.end),
                      "events", (json_int_t)info.events, "checkpoint_size",
                      ldg_json_u64(info.checkpoint_size), "erased",
                      (json_int_t)info.erased, "bytes", (json_int_t)info.bytes,
                      "sha256", hex));
    return EX_OK;
}

/* One option (its value is cut up by split_list): 0, or the exit code. */
static int
export_opt(struct cli *c, void *args, int id, struct cli_args *a)
{
    struct export_args *x = args;
    char *val = a->value;
    uint64_t v;
    switch (id) {
    case 'R':
        if (split_list(c, "--redact", val, x->fields, &x->o.nredact_fields) < 0)
            return EX_USAGE;
        return 0;
    case 'B':
        if (split_list(c, "--redact-body", val, x->types, &x->o.nredact_types) <
            0)
            return EX_USAGE;
        return 0;
    case 'M':
        if (cli_parse_u64(val, &v) < 0 || v == 0) {
            cli_err(c, "--max-events: a positive number");
            return EX_USAGE;
        }
        x->o.max_events = v;
        return 0;
    default:
        return cli_usage(c);
    }
}

/* What the export wrote, on stderr, and with -o json on stdout. */
static void
export_say(struct cli *c, const struct export_args *x,
           struct ldg_export_report *rep, size_t nplan)
{
    const char *out = x->out, *run = x->run, *plan = x->plan;
    int no_context = x->no_context, no_cosigned = x->no_cosigned;

    if (no_cosigned)
        snprintf(rep->cosigned_detail, sizeof rep->cosigned_detail,
                 "cosigned checkpoint left out (--no-cosigned)");
    fprintf(stderr,
            "export: wrote %s: %llu events selected, %llu added to "
            "establish keys or erasures, proven against the checkpoint of "
            "size %llu; %llu fields and %llu whole bodies withheld, %llu "
            "bodies erased; %llu bytes\n",
            strcmp(out, "-") == 0 ? "<stdout>" : out,
            (unsigned long long)rep->selected, (unsigned long long)rep->support,
            (unsigned long long)rep->checkpoint_size,
            (unsigned long long)rep->fields_withheld,
            (unsigned long long)rep->bodies_withheld,
            (unsigned long long)rep->bodies_erased,
            (unsigned long long)rep->bytes);
    fprintf(stderr, "export: projected state %s\n", rep->state_detail);
    fprintf(stderr, "export: %s\n", rep->cosigned_detail);
    if (run != NULL && no_context)
        fprintf(stderr, "export: context of run %s left out (--no-context)\n",
                run);
    else if (plan != NULL)
        fprintf(stderr,
                "export: plan %s, %zu events%s (`ledger timeline %s`)\n", plan,
                nplan, no_context ? " (--no-context)" : "", plan);
    else if (run != NULL)
        fprintf(stderr,
                "export: with the %zu context events of run %s (`ledger "
                "timeline %s`)\n",
                (size_t)rep->context, run, run);
    if (c->out != OUT_HUMAN) {
        /* counts are numbers; the checkpoint's size is a 64-bit log
         * position, a string (README, "Output") */
        json_t *jo;
        char ck[24], cs[24];
        snprintf(ck, sizeof ck, "%llu",
                 (unsigned long long)rep->checkpoint_size);
        snprintf(cs, sizeof cs, "%llu", (unsigned long long)rep->cosigned_size);
        jo = json_pack("{s:s, s:I, s:I, s:s, s:I, s:I, s:I, s:I, s:I, s:b, "
                       "s:s}",
                       "file", out, "selected", (json_int_t)rep->selected,
                       "support", (json_int_t)rep->support, "checkpoint_size",
                       ck, "fields_withheld", (json_int_t)rep->fields_withheld,
                       "bodies_withheld", (json_int_t)rep->bodies_withheld,
                       "bodies_erased", (json_int_t)rep->bodies_erased, "files",
                       (json_int_t)rep->files, "bytes", (json_int_t)rep->bytes,
                       "state", rep->has_state, "state_detail",
                       rep->state_detail);
        json_object_set_new(jo, "cosigned",
                            rep->cosigned_size
                                ? json_pack("{s:s, s:I}", "size", cs,
                                            "cosignatures",
                                            (json_int_t)rep->cosignatures)
                                : json_null());
        cli_print_json(c, jo);
    }
}

/* Where --out FILE goes: 0, or the exit code. */
static int
export_check_out(struct cli *c, const char *out)
{
    if (strcmp(out, "-") == 0 && c->out != OUT_HUMAN) {
        cli_err(c, "-o json writes to standard output, which --out - "
                   "already uses");
        return EX_USAGE;
    }
    if (strcmp(out, "-") == 0 && isatty(1)) {
        cli_err(c, "refusing to write a compressed bundle to a terminal");
        return EX_USAGE;
    }
    return 0;
}

static int
cmd_export(struct cli *c, struct export_args *x, int npos, char **pos)
{
    struct ldg_export_opts *o = &x->o;
    struct ldg_export_report rep = {0};
    struct ldg_ledger *l = NULL;
    char **terms = NULL, *runterm = NULL, *ctxterms = NULL, *cosigned = NULL;
    char **all = NULL;
    size_t ncontext = 0;
    const char *out, *run, *plan;
    json_t *plan_tl = NULL;
    char *plan_text = NULL;
    int no_context, no_cosigned, rc, nterms = npos;

    o->redact_fields = x->fields;
    o->redact_types = x->types;
    out = x->out;
    run = x->run;
    plan = x->plan;
    no_context = x->no_context;
    no_cosigned = x->no_cosigned;
    if (out == NULL)
        return cli_usage_err(c, "--out FILE is required (- for standard "
                                "output)");
    if ((rc = export_check_out(c, out)) != 0)
        return rc;
    if (x->segment)
        return export_segment(c, o, out, npos, pos, run, plan,
                              no_context || no_cosigned);
    if (plan != NULL && (run != NULL || nterms > 0))
        return cli_usage_err(c, "--plan selects by itself: no --run or "
                                "MATCH terms with it");
    terms = calloc((size_t)nterms + 2, sizeof *terms);
    if (terms == NULL)
        return cli_fail_err(c, "", LDG_ENOMEM);
    for (int i = 0; i < nterms; i++)
        terms[i] = pos[i];
    if (run != NULL) {
        size_t n = strlen(run) + 5;
        runterm = malloc(n);
        if (runterm == NULL) {
            free(terms);
            return cli_fail_err(c, "", LDG_ENOMEM);
        }
        snprintf(runterm, n, "run=%s", run);
        terms[nterms++] = runterm;
    }
    o->nterms = nterms;
    o->terms = terms;
    o->run = run;
    if (c->progress) {
        o->progress = export_progress;
        o->progress_ctx = c;
    }
    /* ctrl-Z waits for the read window's end (docs/EXPORT.md) */
    o->snapshot = cli_rtxn_held;
    cli_tstp_install();
    if ((rc = cli_open(c, 1, &l)) != 0)
        goto out;
    /* before the selection and the run's context are worked out (seconds
     * on a big log), as ldg_export_write says it again at the end */
    if (strcmp(out, "-") != 0 && (rc = cli_out_check(c, l, out, 0)) != 0)
        goto out;
    if (plan != NULL) {
        /* the plan's events and context: seq=A seq=B ... (cmd_pipeline.c) */
        if ((rc = cli_plan_terms(c, l, plan, no_context, CTX_TERM, &ctxterms,
                                 &ncontext, &plan_tl, &plan_text)) != 0)
            goto out;
        o->plan = plan;
        o->plan_timeline = plan_tl;
        o->plan_timeline_text = plan_text;
        all = calloc(ncontext + 1, sizeof *all);
        if (all == NULL) {
            rc = cli_fail_err(c, "", LDG_ENOMEM);
            goto out;
        }
        for (size_t i = 0; i < ncontext; i++)
            all[i] = ctxterms + i * CTX_TERM;
        o->terms = all;
        o->nterms = (int)ncontext;
    }
    o->run_context = run != NULL && !no_context;
    /* the cosignatures the box holds go with the bundle */
    rc = no_cosigned ? LDG_ENOTFOUND
                     : ldg_cosigned_get(l, 0, &cosigned, &o->cosigned_len);
    if (rc < 0 && rc != LDG_ENOTFOUND) {
        cli_err(c,
                "cannot read the cosigned checkpoint kept (ledger checkpoint "
                "--cosigned): %s; --no-cosigned leaves it out",
                ldg_strerror(rc));
        rc = cli_exit_code(rc);
        goto out;
    }
    o->cosigned_note = cosigned;
    if (strcmp(out, "-") == 0)
        rc = ldg_export_write_fd(l, o, 1, &rep);
    else
        rc = ldg_export_write(l, o, out, &rep);
    if (c->progress)
        cli_progress_done(c);
    if (rc < 0) {
        cli_err(c, "%s%s", cli_why(l, rc),
                rep.cosigned_failed ? "; --no-cosigned leaves it out" : "");
        rc = cli_exit_code(rc);
        goto out;
    }
    export_say(c, x, &rep, ncontext);
    rc = EX_OK;
out:
    free(cosigned);
    free(runterm);
    free(ctxterms);
    json_decref(plan_tl);
    free(plan_text);
    free(all);
    free(terms);
    ldg_close(l);
    return rc;
}

CLI_COMMAND(
    export, CLI_GROUP_EXPORT, "write a signed evidence bundle",
    "Writes the selected events to a bundle a third party can verify "
    "offline with `ledger verify-bundle`: the events, the keys that vouched "
    "for them (with their seals in a format 2 ledger), Merkle inclusion proofs "
    "against a signed checkpoint, and the "
    "projected state. The selection is the query terms, time bounds and "
    "--run; with --run, the context events `ledger timeline` shows (its "
    "pack's permission changes, its models' state changes, its routes' "
    "evals and promotions, runtime health) are included too, unless "
    "--no-context. Events needed to establish keys and erasures are added. "
    "Redacted fields and bodies are replaced by their hashes. The bundle "
    "is one directory NAME/ in a zstd-compressed tar, with a README.txt "
    "saying how to verify it and a SUMMARY.txt saying what it shows (with "
    "--run: the run's timeline, the doctor at its start and end, what "
    "failed). A summary of the export goes to standard error. It reads the "
    "store a window at a time (1,000 events or 100 ms, each in a new "
    "snapshot) against the checkpoint of the first, and waits on its output "
    "outside them; ctrl-Z waits for the window's end. It exits 66, writing "
    "nothing, when a prune or an erase "
    "between two windows removed what the bundle needs (docs/EXPORT.md).",
    export_opts, CLI_OUT_BASIC,
    "# everything about run r1, for a support ticket\n"
    "ledger export --run r1 --out r1.bundle\n"
    "# the last day's route decisions, prompts withheld\n"
    "ledger export type='route.*' -S -1d --redact prompt --out "
    "routes.bundle\n"
    "# the last month's evidence for an auditor, as one segment\n"
    "ledger export --segment -S '30 days ago' --out month.seg\n",
    0, {.size = sizeof(struct export_args), .maxpos = -1, .opt = export_opt});
