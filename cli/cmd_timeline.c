/*
 * cmd_timeline.c — timeline: a run's (or a plan's) story, in words, JSON or a
 * page.
 */
#include <unistd.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <string.h>
#include "cli/cli.h"
#include "cli/commands.h"
#include "export/export.h"
#include "page/page.h"
#include "pipeline/pipeline.h"
#include "projections/projections.h"
#include "query/query.h"

/* The run's events among a bundle's, gathered as they come (timeline
 * RUN --bundle of a bundle without timeline.json), with how many it holds
 * and its first and last seq. */
struct brun {
    const char *run;
    json_t *evs;
    uint64_t events;
    char first_seq[24], last_seq[24];
    const char *kind; /* "bundle" or "segment" (once read) */
    int nomem;        /* an event could not be kept */
};

static int
bundle_run_hit(void *ctx, json_t *e)
{
    struct brun *r = ctx;
    const char *run = json_string_value(json_object_get(e, "run"));
    char buf[24];
    if (r->events++ == 0)
        snprintf(r->first_seq, sizeof r->first_seq, "%s",
                 cli_bundle_seq(e, buf));
    snprintf(r->last_seq, sizeof r->last_seq, "%s", cli_bundle_seq(e, buf));
    if (run != NULL && strcmp(run, r->run) == 0 &&
        json_array_append(r->evs, e) < 0) {
        r->nomem = 1; /* (said by timeline_bundle: no cli here) */
        return EX_OSERR;
    }
    return 0;
}

/* 1 (said) when the bundle holds no event of the run; else 0, saying
 * that what follows (shown: "these are", "the page shows") is the run's
 * events, not its timeline. */
static int
bundle_run_none(struct cli *c, const struct cli_bundle_args *ba,
                const struct brun *br, const char *shown)
{
    int seg = strcmp(br->kind, "segment") == 0;
    if (json_array_size(br->evs) == 0) {
        cli_err(c,
                "%s %s holds no timeline and no event of run %s (it "
                "holds %llu events, seq %s..%s)",
                br->kind, ba->file, br->run, (unsigned long long)br->events,
                br->first_seq, br->last_seq);
        return 1;
    }
    if (seg)
        cli_err(c,
                "segment %s holds a range of the log, not a run's timeline "
                "(what was in force at the run's start is not in it): %s "
                "the events of run %s it holds",
                ba->file, shown, br->run);
    else
        cli_err(c,
                "bundle %s holds no timeline.json (`ledger export --run R` "
                "writes one when nothing is redacted): %s the events of run "
                "%s it holds",
                ba->file, shown, br->run);
    return 0;
}

/* What `ledger timeline` says of an event of a bundle or segment (its
 * kind from its type, as a run's timeline gives it): a new string. */
static char *
event_words(const json_t *e)
{
    static const char *const kinds[][2] = {
        {LDG_EV_RUN_STARTED, "start"}, {LDG_EV_RUN_FINISHED, "end"},
        {LDG_EV_RUN_STEP, "step"},     {LDG_EV_ROUTE_DECISION, "route"},
        {LDG_EV_RUN_POLICY, "policy"}, {LDG_EV_OTEL_SPAN, "span"},
        {LDG_EV_OTEL_LOG, "log"}};
    const char *type = json_string_value(json_object_get(e, "type"));
    const json_t *body = json_object_get(e, "body");
    const char *kind = "context"; /* type, subject and its telling fields */
    json_t *x;
    char *s;
    for (size_t i = 0; type && i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(type, kinds[i][0]) == 0)
            kind = kinds[i][1];
    x = json_pack(
        "{s:s?, s:O?, s:s, s:b, s:O?}", "type", type, "subject",
        json_object_get(e, "subject"), "kind", kind, "denied",
        json_is_object(body) &&
            json_is_string(json_object_get(body, "decision")) &&
            strcmp(json_string_value(json_object_get(body, "decision")),
                   "deny") == 0,
        "body", json_is_object(body) ? body : NULL);
    s = x != NULL ? ldg_query_timeline_event_text(x, NULL) : NULL;
    json_decref(x);
    return s;
}

/* timeline RUN --bundle FILE of a bundle with no timeline.json (an
 * archive, an export by selection): the run's events it holds, in seq
 * order, with their offsets from the first; -o json gives {"run",
 * "bundle", "from": "events", "events": [...]}. 66 when it holds none. */
static int
bundle_run_events(struct cli *c, const struct cli_bundle_args *ba,
                  struct brun *br)
{
    json_t *evs = br->evs, *e;
    size_t i;
    uint64_t t0 = 0;
    char b0[24], b1[24];

    if (bundle_run_none(c, ba, br, "these are"))
        return EX_NOINPUT;
    if (c->out != OUT_HUMAN) {
        cli_print_json(c, json_pack("{s:s, s:s, s:s, s:O}", "run", br->run,
                                    "bundle", ba->file, "from", "events",
                                    "events", evs));
        return EX_OK;
    }
    printf("run %s  (%zu events in the %s %s, seq %s..%s)\n\ntimeline:\n",
           br->run, json_array_size(evs), br->kind, ba->file,
           cli_bundle_seq(json_array_get(evs, 0), b0),
           cli_bundle_seq(json_array_get(evs, json_array_size(evs) - 1), b1));
    json_array_foreach(evs, i, e)
    {
        /* the ledger's clock, as a run's timeline reads it: "ts" is the
         * source's time when one was given, and may be before the first */
        const char *ts = json_string_value(json_object_get(e, "recorded_ts"));
        uint64_t t;
        char *w = event_words(e);
        if (ts == NULL)
            ts = json_string_value(json_object_get(e, "ts"));
        t = ts ? strtoull(ts, NULL, 10) : 0;
        if (i == 0)
            t0 = t;
        /* as a run's timeline says each event: its kind and words */
        printf("  %+10.3fs  #%-8s %-14s %s\n",
               (t >= t0 ? (double)(t - t0) : -(double)(t0 - t)) / 1e9,
               cli_bundle_seq(e, b0),
               json_string_value(json_object_get(e, "type"))
                   ? json_string_value(json_object_get(e, "type"))
                   : "?",
               w ? w : "");
        free(w);
    }
    printf("\n%zu events\n", json_array_size(evs));
    return EX_OK;
}

/* (a long option's id: above the common options' and CLI_OPT_BUNDLE's) */
enum { OPT_TL_HTML = 0x4c48, OPT_TL_TRACE };
struct timeline_args {
    struct cli_bundle_args ba;
    const char *html, *trace;
};

/* --bundle's options: 0, or the exit code after saying why */
static int
timeline_opt(struct cli *c, void *args, int id, struct cli_args *a)
{
    int rc =
        cli_bundle_opt(c, &((struct timeline_args *)args)->ba, id, a->value);
    return rc < 0 ? -rc : rc == 0 ? cli_usage(c) : 0;
}

static const struct cli_opt timeline_opts[] = {
    CLI_BUNDLE_OPTS,
    CLI_STR(OPT_TL_HTML, 0, "html", "FILE",
            "write the run (or plan) as one self-contained HTML page to FILE "
            "(- for "
            "standard output): a picture on a time axis, the doctor at its "
            "start, the evidence status, every event (docs/PAGE.md)",
            struct timeline_args, html),
    CLI_STR(OPT_TL_TRACE, 0, "trace", "ID",
            "instead of a run: the events of this trace (32 hex digits: "
            "the spans and logs `ledger serve --otlp` took, the proxy's "
            "records of requests that carried its traceparent), whatever "
            "their run; found by a scan of the log",
            struct timeline_args, trace),
    CLI_ARG("RUN",
            "the run's id (as in `ledger runs`), or a plan's (`ledger plans`)",
            0),
    CLI_OPT_END};

/* Writes text to file whole (a temporary file renamed over it), or to
 * standard output for "-". */
static int
write_whole(struct cli *c, const char *file, const char *text, size_t len)
{
    char tmp[4200];
    int fd;
    if (strcmp(file, "-") == 0) {
        cli_guard_raw(); /* a page is a file, not lines for a terminal */
        if (fwrite(text, 1, len, stdout) != len || fflush(stdout) != 0) {
            if (errno == EPIPE)
                return EX_OK;
            cli_err(c, "writing the page: %s", strerror(errno));
            return EX_IOERR;
        }
        return EX_OK;
    }
    /* a name nobody can have planted (a symlink in a shared directory
     * would have been followed and truncated) */
    fd = ldg_tmp_beside(file, 0644, tmp, sizeof tmp);
    if (fd < 0) {
        cli_err(c, "cannot create %s: %s", file, strerror(errno));
        return EX_CANTCREAT;
    }
    if (ldg_write_all(fd, text, len, 0) < 0) {
        cli_err(c, "writing %s: %s", file, strerror(errno));
        close(fd);
        unlink(tmp);
        return EX_IOERR;
    }
    if (close(fd) != 0 || rename(tmp, file) != 0) {
        cli_err(c, "writing %s: %s", file, strerror(errno));
        unlink(tmp);
        return EX_IOERR;
    }
    return EX_OK;
}

/* The page of a run (page/page.h): tl, the doctor at its start (may be
 * NULL), what the events are proven against (evidence, taken), and a
 * notice (may be NULL). */
static int page_write(struct cli *c, json_t *m, json_t *evidence,
                      const char *notice, const char *file);

static int
timeline_page(struct cli *c, const json_t *tl, const json_t *doctor,
              const char *doctor_title, json_t *evidence, const char *notice,
              const char *file)
{
    json_t *m = NULL;
    /* a plan's story (ldg_pipeline_timeline's) or a run's timeline */
    int is_plan = json_is_string(json_object_get(tl, "plan")) &&
                  json_is_array(json_object_get(tl, "path"));

    int rc = is_plan ? ldg_page_plan(tl, &m) : ldg_page_run(tl, &m);
    if (rc < 0) {
        json_decref(evidence);
        cli_err(c, "the timeline cannot be drawn: %s",
                rc == LDG_EINVAL ? "not a timeline" : ldg_strerror(rc));
        return rc == LDG_EINVAL ? EX_DATAERR : cli_exit_code(rc);
    }
    if (doctor != NULL)
        ldg_page_set_doctor(m, doctor,
                            json_string_value(json_object_get(tl, "pack")),
                            doctor_title);
    return page_write(c, m, evidence, notice, file);
}

/* Writes the page of model m (taken), with what its events are proven
 * against (evidence, taken) and a notice (may be NULL), into file. */
static int
page_write(struct cli *c, json_t *m, json_t *evidence, const char *notice,
           const char *file)
{
    char *html = NULL;
    size_t hlen = 0;
    char gen[128], when[64];
    int rc;

    json_object_set_new(m, "evidence", evidence);
    if (notice != NULL)
        json_object_set_new(m, "notice", json_string(notice));
    /* the one time format of human output, as the page's other times */
    ldg_time_when(when, sizeof when, ldg_now_wall_ns());
    snprintf(gen, sizeof gen, "Written by `ledger timeline --html` at %s.",
             when);
    json_object_set_new(m, "generator", json_string(gen));
    rc = ldg_page_html(m, &html, &hlen);
    json_decref(m);
    if (rc < 0) {
        cli_err(c, "drawing the page: %s", ldg_strerror(rc));
        return cli_exit_code(rc);
    }
    rc = write_whole(c, file, html, hlen);
    free(html);
    return rc;
}

/* timeline RUN --bundle FILE --html of a bundle with no timeline.json (an
 * archive): the page of the run's events it holds, as the text form lists
 * them (page/page.h, ldg_page_events). */
static int
bundle_run_page(struct cli *c, const struct cli_bundle_args *ba,
                const struct ldg_bundle_contents *bc, const struct brun *br,
                const char *file)
{
    json_t *evs = br->evs, *m = NULL, *ev = NULL;
    char title[400], sub[600], b0[24], b1[24];
    int rc;

    if (bundle_run_none(c, ba, br, "the page shows"))
        return EX_NOINPUT;
    snprintf(title, sizeof title, "Run %s", br->run);
    snprintf(sub, sizeof sub, "%zu events in the %s %s, seq %s..%s",
             json_array_size(evs), br->kind, ba->file,
             cli_bundle_seq(json_array_get(evs, 0), b0),
             cli_bundle_seq(json_array_get(evs, json_array_size(evs) - 1), b1));
    rc = ldg_page_events(evs, json_array_size(evs), title, sub, &m);
    if (rc < 0) {
        cli_err(c, "drawing the page: %s", ldg_strerror(rc));
        return cli_exit_code(rc);
    }
    ldg_page_evidence_bundle(ba->file, br->kind, (size_t)br->events,
                             bc->checkpoint_size, bc->origin, ba->insecure, 0,
                             &ev);
    return page_write(
        c, m, ev,
        strcmp(br->kind, "segment") == 0
            ? "This page is drawn from a segment (an archive of a range of "
              "the log) by its receiver, after verifying it. A segment holds "
              "no timeline of the run: these are the run's events it holds."
            : "This page is drawn from an evidence bundle by its "
              "receiver, after verifying it. The bundle holds no "
              "timeline of the run (an archive, or an export by "
              "selection): these are the run's events it holds.",
        file);
}

/* Shows a timeline: its page (--html FILE), -o json, or its lines; takes
 * tl and evidence. */
static int
timeline_show(struct cli *c, json_t *tl, const json_t *doctor,
              const char *dtitle, json_t *evidence, const char *notice,
              const char *html)
{
    char *text = NULL;
    int rc;

    if (html != NULL) {
        rc = timeline_page(c, tl, doctor, dtitle, evidence, notice, html);
        json_decref(tl);
        return rc;
    }
    json_decref(evidence);
    if (c->out != OUT_HUMAN) {
        cli_print_json(c, tl);
        goto flush;
    }
    rc = ldg_query_timeline_text(tl, &text);
    json_decref(tl);
    if (rc < 0) {
        cli_err(c, "%s", ldg_strerror(rc));
        return cli_exit_code(rc);
    }
    cli_timeline_print(c, text, 34);
    free(text);
flush:
    if (fflush(stdout) != 0 && errno != EPIPE) {
        cli_err(c, "writing the output: %s", strerror(errno));
        return EX_IOERR;
    }
    return EX_OK;
}

/* ledger timeline RUN --bundle FILE: the run's (or plan's) timeline the
 * bundle holds, verified first. */
static int
timeline_bundle(struct cli *c, struct cli_bundle_args *ba, const char *run,
                const char *html)
{
    struct ldg_bundle_contents *bc = NULL;
    json_t *tl = NULL, *doctor = NULL, *evidence = NULL;
    char dtitle[200] = "Doctor at the run's start";
    int rc;

    const json_t *bt;
    struct brun br;
    if (run[0] == '\0' || strlen(run) > LDG_RUN_MAX)
        return cli_usage_err(c, "run id must be 1..%d bytes", LDG_RUN_MAX);
    memset(&br, 0, sizeof br);
    br.run = run;
    if ((br.evs = json_array()) == NULL)
        return cli_fail_err(c, "", LDG_ENOMEM);
    if ((rc = cli_bundle_each(c, ba, bundle_run_hit, &br, &bc)) != 0) {
        json_decref(br.evs);
        return br.nomem ? cli_fail_err(c, "", LDG_ENOMEM) : rc;
    }
    /* a segment's events are never held (ldg_export_each) */
    br.kind = bc->events == NULL ? "segment" : "bundle";
    bt = bc->timeline;
    if (bt != NULL && json_is_string(json_object_get(bt, "plan")) &&
        strcmp(json_string_value(json_object_get(bt, "plan")), run) == 0) {
        /* export --plan's: the plan's story (cmd_pipeline.c) */
        if (html != NULL) {
            json_t *ev = NULL;
            ldg_page_evidence_bundle(
                ba->file, "bundle", json_array_size(bc->events),
                bc->checkpoint_size, bc->origin, ba->insecure, 0, &ev);
            rc = timeline_page(c, json_object_get(bt, "timeline"), NULL, NULL,
                               ev,
                               "This page is drawn from an evidence "
                               "bundle by its receiver, after verifying "
                               "it.",
                               html);
        } else {
            rc = cli_plan_timeline_json(c, json_object_get(bt, "timeline"));
        }
        json_decref(br.evs);
        ldg_export_contents_free(bc);
        return rc;
    }
    if (bt == NULL) {
        /* no timeline.json (an archive, an export by selection): the
         * run's events the bundle holds, as it gives them, or their
         * page */
        rc = html != NULL ? bundle_run_page(c, ba, bc, &br, html)
                          : bundle_run_events(c, ba, &br);
        json_decref(br.evs);
        ldg_export_contents_free(bc);
        return rc;
    }
    if (strcmp(json_string_value(json_object_get(bt, "run"))
                   ? json_string_value(json_object_get(bt, "run"))
                   : "",
               run) != 0) {
        if (json_is_string(json_object_get(bt, "plan")))
            cli_err(c, "bundle %s holds the timeline of plan %s, not of %s",
                    ba->file, json_string_value(json_object_get(bt, "plan")),
                    run);
        else
            cli_err(c,
                    "bundle %s holds the timeline of run %s, not of "
                    "run %s",
                    ba->file, json_string_value(json_object_get(bt, "run")),
                    run);
        json_decref(br.evs);
        ldg_export_contents_free(bc);
        return EX_NOINPUT;
    }
    tl = json_incref(json_object_get(bt, "timeline"));
    if (html != NULL) {
        /* the exporter's doctor at the run's start, and what
         * verify-bundle has just proven */
        doctor = json_incref(json_array_get(json_object_get(bt, "doctor"), 0));
        if (doctor != NULL)
            snprintf(dtitle, sizeof dtitle,
                     "Doctor at the run's start (the exporter's view, log "
                     "size %s)",
                     json_string_value(json_object_get(doctor, "size"))
                         ? json_string_value(json_object_get(doctor, "size"))
                         : "?");
        ldg_page_evidence_bundle(
            ba->file, "bundle", json_array_size(bc->events),
            bc->checkpoint_size, bc->origin, ba->insecure, 1, &evidence);
    }
    json_decref(br.evs);
    ldg_export_contents_free(bc);
    if (!json_is_object(tl)) {
        json_decref(tl);
        json_decref(doctor);
        json_decref(evidence);
        cli_err(c, "bundle %s: its timeline.json has no timeline", ba->file);
        return EX_DATAERR;
    }
    rc = timeline_show(c, tl, doctor, dtitle, evidence,
                       "This page is drawn from an evidence bundle by its "
                       "receiver, after verifying it.",
                       html);
    json_decref(doctor);
    return rc;
}

static int
cmd_timeline(struct cli *c, struct timeline_args *x, int npos, char **pos)
{
    struct cli_bundle_args *ba = &x->ba;
    const char *html = x->html, *trace = x->trace, *run;
    struct ldg_ledger *l = NULL;
    struct ldg_txn *t = NULL;
    json_t *tl = NULL;
    json_t *doctor = NULL, *evidence = NULL;
    char dtitle[200] = "Doctor at the run's start", note[3000] = "";
    int rc, kind = 0;

    if (html != NULL && html[0] == '\0')
        return cli_usage_err(c, "--html: empty file name");
    if (trace != NULL && npos != 0)
        return cli_usage_err(c, "--trace ID or RUN, not both");
    if (trace != NULL && ba->file != NULL)
        return cli_usage_err(c, "--trace does not go with --bundle");
    if (trace == NULL &&
        (rc = cli_npos(c, npos, pos, 1, 1,
                       "RUN is needed: the run (or plan) to show, or --trace "
                       "ID")) != 0)
        return rc;
    if (ba->file == NULL &&
        (ba->have_key || ba->insecure || ba->max_bytes != 0))
        return cli_usage_err(c, "--trusted-key, "
                                "--insecure-trust-bundle-key and --max-bytes "
                                "go with --bundle FILE");
    if (html != NULL && c->out_name != NULL)
        return cli_usage_err(c, "--html writes a page: -o does not go with "
                                "it");
    if ((rc = cli_check_output(c, (const char *const[]){"short", NULL})) != 0)
        return rc;
    if (ba->file != NULL)
        return timeline_bundle(c, ba, pos[0], html);
    if ((rc = cli_open(c, 1, &l)) != 0)
        return rc;
    if ((rc = ldg_txn_begin(l, LDG_TXN_READ, &t)) < 0) {
        cli_err(c, "reading the ledger: %s", cli_why(l, rc));
        rc = cli_exit_code(rc);
        goto out;
    }
    run = trace != NULL ? trace : pos[0];
    /* a run, else a plan (ldg_pipeline_timeline_find), or why neither */
    rc = trace != NULL ? ldg_query_timeline_trace(t, trace, &tl)
                       : ldg_pipeline_timeline_find(l, t, run, &tl, &kind, note,
                                                    sizeof note);
    if (rc < 0) {
        cli_err(c, "%s", ldg_errmsg(l));
        if (rc == LDG_ENOTFOUND && trace != NULL)
            cli_pruned(c, l, "it may be in an archive");
        rc = rc == LDG_EBADINPUT ? EX_USAGE : cli_exit_code(rc);
        goto out;
    }
    if (note[0] != '\0')
        cli_err(c, "%s", note);
    if (kind == LDG_TIMELINE_PLAN) {
        /* the plan's story (cmd_pipeline.c) */
        if (html != NULL) {
            struct ldg_query_finding f;
            if (cli_finding(c, l, &f, NULL))
                ldg_query_finding_mark(&f, tl);
            ldg_page_evidence_ledger(t, "--plan", run, &evidence);
            ldg_txn_abort(t);
            t = NULL;
            rc = timeline_page(c, tl, NULL, NULL, evidence, NULL, html);
            evidence = NULL;
        } else {
            rc = cli_plan_timeline_json(c, tl);
        }
        goto out;
    }
    if (html != NULL) {
        /* the log-derived doctor after the events before the run's start
         * (export's SUMMARY.txt takes the same) */
        struct ldg_view_opts vo;
        const char *ss = json_string_value(
            json_object_get(json_object_get(tl, "start"), "seq"));
        memset(&vo, 0, sizeof vo);
        vo.at_size = ss ? strtoull(ss, NULL, 10) : 0;
        ldg_page_evidence_ledger(t, "--run", run, &evidence);
        ldg_txn_abort(t);
        t = NULL;
        if (vo.at_size > 0 &&
            ldg_projections_view(l, LDG_VIEW_DOCTOR, &vo, &doctor) == 0)
            snprintf(dtitle, sizeof dtitle,
                     "Doctor at the run's start (log size %llu)",
                     (unsigned long long)vo.at_size);
    }
    ldg_txn_abort(t);
    t = NULL;
    {
        struct ldg_query_finding f;
        if (cli_finding(c, l, &f, NULL))
            ldg_query_finding_mark(&f, tl);
    }
    rc = timeline_show(c, tl, doctor, dtitle, evidence, NULL, html);
    tl = NULL;
    evidence = NULL;
out:
    json_decref(tl);
    json_decref(doctor);
    json_decref(evidence);
    ldg_txn_abort(t);
    ldg_close(l);
    return rc;
}

CLI_COMMAND(
    timeline, CLI_GROUP_QUERY, "the flight-recorder view of a run",
    "Prints the story of one run: when it started and with which pack, "
    "each step, route decision (which model served it, and why), policy "
    "decision and failure in order, how it ended, and a summary. Each "
    "route decision, eval and promotion also shows the weights its model "
    "had then: the digest the runtime last reported before it and whether "
    "`ledger model verify` had hashed them (model_at in -o json). This is "
    "the view to start from when someone asks what happened to their "
    "request. With --bundle FILE it reads the timeline an `export --run` "
    "put in an evidence bundle, after verifying the bundle, with no ledger "
    "at hand; a bundle without one, or a segment (an archive of `ledger "
    "archive`), gives the run's events it holds, each as the timeline "
    "says it. When no run has that id but a plan of the "
    "box's control "
    "pipeline does (`ledger plans`), it prints the plan's story: its "
    "states, steps, debates, snapshots, tripcodes and builds, with each "
    "broken rule marked '!' under the event that broke it.\n\n"
    "With --html FILE it writes the same run as one HTML page that needs "
    "nothing "
    "else (no script, font or image from anywhere): a time axis with one "
    "lane per kind of event, each event a mark with its type and body as a "
    "tooltip, failures and denials in red with a cross, route decisions "
    "with the model that answered and any fallback, the doctor's verdict "
    "for the run's pack at its start, and what the events are proven "
    "against. Every evidence bundle carries such a page as index.html.\n\n"
    "Spans an application exported to `ledger serve --otlp` (docs/OTLP.md) "
    "are shown as a tree (each indented under its parent, a log record "
    "under the span it was emitted in), and a model "
    "call the proxy recorded for a request that carried the span's trace "
    "context (traceparent) is shown under the application's span: one "
    "request, two witnesses, with what they disagree on (the model, the "
    "tokens, the outcome) marked '!', counted once in the summary. A "
    "trace is the run of its spans by "
    "default, so `ledger timeline TRACEID` shows it; --trace ID selects "
    "its events whatever their run. Its status is trace, with how its "
    "root span ended, and its time its first event's.",
    timeline_opts, CLI_OUT_BASIC,
    "ledger timeline r1\n"
    "ledger timeline r1 -o json-pretty\n"
    "# on the receiving side: the run's story from the bundle alone\n"
    "ledger timeline r1 --bundle r1.bundle --trusted-key box.vkey\n"
    "# a page to attach to the ticket\n"
    "ledger timeline r1 --html r1.html\n"
    "# an application's trace (OpenTelemetry), with the proxy's records\n"
    "ledger timeline --trace 5b8efff798038103d269b633813fc60c\n",
    CLI_CMD_PAGER | CLI_CMD_OWN_OUTPUT,
    {.size = sizeof(struct timeline_args), .maxpos = -1, .opt = timeline_opt});
