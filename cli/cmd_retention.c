/*
 * cmd_retention.c — ledger archive, ledger prune (retention/retention.h,
 * docs/RETENTION.md).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>

#include "cli/commands.h"
#include "projections/projections.h"
#include "query/query.h"
#include "retention/retention.h"
#include "serve/serve.h"

struct prune_args {
    struct ldg_prune_opts o;
    int policy;
};
#define PA struct prune_args
enum {
    OPT_BEFORE = 400,
    OPT_ARCHIVE,
    OPT_POLICY,
    OPT_FORCE,
    OPT_LEVEL,
    OPT_FORMAT
};

static void
hex32(char out[65], const uint8_t h[32])
{
    static const char d[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = d[h[i] >> 4];
        out[2 * i + 1] = d[h[i] & 15];
    }
    out[64] = '\0';
}

static json_t *
horizon_json(const struct ldg_retention_horizon *h)
{
    char until[40];
    ldg_time_rfc3339_ns(until, sizeof until, h->until_ns);
    return json_pack("{s:o, s:o, s:o, s:o, s:s}", "first",
                     ldg_json_u64(h->first), "requested",
                     ldg_json_u64(h->requested), "horizon",
                     ldg_json_u64(h->horizon), "size", ldg_json_u64(h->size),
                     "until", until);
}

/* --before is a sequence number or a time (else 64, as query -S's). */
static int
before_ok(struct cli *c, const char *before)
{
    char err[600];
    uint64_t seq, ns;
    if (ldg_query_parse_point(before, ldg_now_wall_ns(), &seq, &ns, err,
                              sizeof err) < 0)
        return cli_usage_err(c, "--before %s", err);
    return 0;
}

/* "before 1000 (rounded down to 998, the end of a commit)" */
static void
say_rounding(struct cli *c, const char *before,
             const struct ldg_retention_horizon *h)
{
    if (h->before_ns != 0) {
        char t[48];
        cli_when(t, sizeof t, h->before_ns);
        cli_err(c, "--before %s read as the time %s%s", before, t,
                h->past_end ? ", after the log's last event: all of it" : "");
    } else if (h->past_end) {
        cli_err(c,
                "--before %s is past the log's end (%llu events): all of "
                "it",
                before, (unsigned long long)h->size);
    }
    if (h->requested != h->horizon)
        cli_err(
            c,
            "the events before %llu were asked for; rounded down to "
            "%llu, where a commit ends (a seal boundary, with a checkpoint)",
            (unsigned long long)h->requested, (unsigned long long)h->horizon);
}

/* ------------------------------------------------------------ archive -- */

static const struct cli_opt archive_opts[] = {
    CLI_STR(OPT_BEFORE, 0, "before", "SEQ|TIME",
            "archive the events before this sequence number, or before "
            "this time (systemd.time or RFC 3339, as query -S takes it)",
            struct ldg_archive_opts, before),
    CLI_STR(OPT_ARCHIVE, 0, "out", "FILE",
            "the archive file to write (a segment; refused if it exists)",
            struct ldg_archive_opts, out),
    CLI_NUM(OPT_LEVEL, 0, "level", "N", "zstd level 1..19 (default 1)",
            struct ldg_archive_opts, level, 1, 19),
    CLI_PICK(OPT_FORMAT, 0, "format", "segment|bundle",
             "segment (the default), or an evidence bundle as archive "
             "wrote before segments (a proof and a JSON line an event: "
             "several times the bytes, and a prune's check of it is slow)",
             struct ldg_archive_opts, bundle, "segment|bundle"),
    CLI_OPT_END};

/* word as a shell word: as it is when it needs no quoting, else in single
 * quotes (a ' as '\'') */
static void
put_shword(const char *word)
{
    const char *p;
    int plain = word[0] != '\0';
    for (p = word; *p && plain; p++)
        plain = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                       "0123456789_./:=@%+,-",
                       *p) != NULL;
    if (plain) {
        fputs(word, stdout);
        return;
    }
    putchar('\'');
    for (p = word; *p; p++) {
        if (*p == '\'')
            fputs("'\\''", stdout);
        else
            putchar(*p);
    }
    putchar('\'');
}

/* "next: ledger [--dir DIR] " */
static void
put_next_ledger(struct cli *c)
{
    fputs("next: ledger ", stdout);
    if (c->dir_opt != NULL) {
        fputs("--dir ", stdout);
        put_shword(c->dir_opt);
        putchar(' ');
    }
}

/* The prune to run next, as it can be pasted: the ledger named as it was
 * (--dir), the archive's name quoted for the shell, and --force when the
 * events are younger than the retention minimum (prune refuses them
 * without it; retention.json's keep_days as prune reads it). A store of
 * an older layout is read (archived) but not written (pruned): the
 * migrate that prune would ask for comes first. */
static void
put_next(struct cli *c, const struct ldg_archive_report *r, const char *out,
         int old_layout)
{
    struct ldg_retention_policy pol;
    char err[300];
    int force = 0;

    if (ldg_retention_policy_load(c->dir, &pol, err, sizeof err) == 0 &&
        pol.keep_days > 0 &&
        r->h.until_ns + (uint64_t)pol.keep_days * 86400u * 1000000000u >
            ldg_now_wall_ns())
        force = 1;
    if (old_layout) {
        put_next_ledger(c);
        fputs("migrate  # an older store layout: prune writes only the "
              "newest\n",
              stdout);
    }
    put_next_ledger(c);
    printf("prune --before %llu --archive ", (unsigned long long)r->h.horizon);
    put_shword(out);
    if (force)
        printf(" --force  # younger than keep_days, %u", pol.keep_days);
    putchar('\n');
}

static int
cmd_archive(struct cli *c, struct ldg_archive_opts *o, int npos, char **pos)
{
    struct ldg_ledger *l = NULL;
    struct ldg_archive_report r;
    char hex[65];
    int rc, old_layout;

    if (o->before == NULL)
        return cli_usage_err(c, "--before SEQ|TIME is required");
    if ((rc = before_ok(c, o->before)) != 0)
        return rc;
    if (o->out == NULL)
        return cli_usage_err(c, "--out FILE is required");
    if (o->out[0] == '\0' || strcmp(o->out, "-") == 0)
        return cli_usage_err(c,
                             "--out '%s': an archive is a file to keep and "
                             "to give prune (not standard output)",
                             o->out);
    if ((rc = cli_resolve_dir(c)) != 0)
        return rc;
    cli_tstp_install(); /* ctrl-Z waits for the read window's end */
    if ((rc = cli_open(c, 1, &l)) != 0)
        return rc;
    if ((rc = cli_out_check(c, l, o->out, !o->bundle)) != 0) {
        ldg_close(l);
        return rc;
    }
    o->progress = cli_progress;
    o->progress_ctx = c;
    /* ctrl-Z waits for the read window's end (docs/QUERY.md) */
    o->snapshot = cli_rtxn_held;
    rc = ldg_retention_archive(l, o, &r);
    cli_progress_done(c);
    if (rc < 0)
        return cli_fail_close(c, l, rc);
    old_layout = ldg_check_writable(l) == LDG_EVERSION;
    ldg_close(l);
    hex32(hex, r.sha256);
    say_rounding(c, o->before, &r.h);
    if (c->out == OUT_HUMAN) {
        char until[40];
        cli_when(until, sizeof until, r.h.until_ns);
        printf("archived events %llu..%llu (%llu event%s, up to %s) into %s\n",
               (unsigned long long)r.h.first,
               (unsigned long long)(r.h.horizon - 1),
               (unsigned long long)r.events, r.events == 1 ? "" : "s", until,
               o->out);
        printf("proven against the checkpoint of size %llu; %llu bytes; "
               "SHA-256 %s\n",
               (unsigned long long)r.checkpoint_size,
               (unsigned long long)r.bytes, hex);
        if (r.erased_by != UINT64_MAX)
            printf("(the log's latest checkpoint, not the horizon's: bodies "
                   "of archived events were erased since, by event %llu "
                   "and any after it, which it carries)\n",
                   (unsigned long long)r.erased_by);
        if (r.after > 0)
            printf("(the log's latest checkpoint, not the horizon's: %llu "
                   "bodies of archived events were erased since, and it "
                   "carries the %llu events after the horizon that prove "
                   "those erasures and their keys)\n",
                   (unsigned long long)r.erased, (unsigned long long)r.after);
        if (r.max_bytes > 0)
            printf("it unpacks to more than verify-bundle reads by default: "
                   "read it with --max-bytes %llu\n",
                   (unsigned long long)r.max_bytes);
        put_next(c, &r, o->out, old_layout);
    } else {
        json_t *j = json_pack("{s:s, s:o, s:o, s:o, s:s}", "file", o->out,
                              "horizon", horizon_json(&r.h), "events",
                              json_integer((json_int_t)r.events), "bytes",
                              json_integer((json_int_t)r.bytes), "sha256", hex);
        if (j != NULL && r.max_bytes > 0)
            json_object_set_new(j, "max_bytes",
                                json_integer((json_int_t)r.max_bytes));
        if (j != NULL) {
            json_object_set_new(j, "checkpoint_size",
                                ldg_json_u64(r.checkpoint_size));
            json_object_set_new(j, "format",
                                json_string(o->bundle ? "bundle" : "segment"));
            if (!o->bundle)
                json_object_set_new(j, "after",
                                    json_integer((json_int_t)r.after));
        }
        cli_print_json(c, j);
    }
    return EX_OK;
}

CLI_COMMAND(
    archive, CLI_GROUP_EVENTS,
    "write the events before a horizon into a segment",
    "Writes every event from the ledger's first (0, or its horizon if it "
    "was pruned before) up to a horizon into a segment: one zstd stream "
    "of their entries and bodies as the ledger keeps them (less what a "
    "reader derives), their seals, the hashes that stand for the events "
    "before them and the signed checkpoint at the horizon, which their "
    "leaves recompute, and the projected state there with its signed note "
    "(docs/FORMAT.md section 11). The horizon is --before rounded down to "
    "the end of a commit (said on stderr). `ledger verify-bundle` checks "
    "it in one pass; `query` and `timeline` read its events with --bundle "
    "FILE, and `doctor --bundle FILE` the state at its end (the only state "
    "it carries). `ledger prune --archive FILE` then removes those events "
    "from the ledger (docs/RETENTION.md).",
    archive_opts, CLI_OUT_BASIC,
    "# the events before event 100; then: ledger verify-bundle box-old.bundle\n"
    "ledger archive --before 100 --out box-old.bundle\n"
    "# or before a time: --before '180 days ago', --before 2026-05-01\n",
    0, {.size = sizeof(struct ldg_archive_opts)});

/* -------------------------------------------------------------- prune -- */

static const struct cli_opt prune_opts[] = {
    CLI_STR(OPT_BEFORE, 0, "before", "SEQ|TIME",
            "prune the events before this sequence number, or before this "
            "time (rounded down to the end of a commit, as archive did)",
            PA, o.before),
    CLI_STR(OPT_ARCHIVE, 0, "archive", "FILE",
            "the archive of exactly those events (ledger archive): checked "
            "before anything is removed",
            PA, o.archive),
    CLI_ON(OPT_POLICY, 0, "policy",
           "obey DIR/retention.json: archive (into its archive_dir) and "
           "prune the events older than keep_days, and more of the oldest "
           "while the store is over its disk_budget",
           PA, policy),
    CLI_ON(OPT_FORCE, 0, "force",
           "prune events younger than the retention minimum "
           "(retention.json keep_days, default 180 days)",
           PA, o.force),
    CLI_OPT_END};

static void print_pruned(struct cli *c, const char *archive,
                         const struct ldg_prune_report *rp,
                         const struct ldg_policy_report *pol);
static int policy_said(struct cli *c, const struct ldg_retention_policy *pol,
                       const struct ldg_policy_report *r);

static int
cmd_prune(struct cli *c, struct prune_args *x, int npos, char **pos)
{
    struct ldg_ledger *l = NULL;
    struct ldg_retention_policy pol;
    struct ldg_prune_report r = {0};
    struct ldg_policy_report pr = {0};
    const char *note;
    char err[512];
    int rc, ex;

    if (x->policy && (x->o.before != NULL || x->o.archive != NULL))
        return cli_usage_err(c, "--policy takes the horizon and the archive "
                                "from retention.json: not with --before or "
                                "--archive");
    if (!x->policy && x->o.before == NULL)
        return cli_usage_err(c, "--before SEQ|TIME is required");
    if (!x->policy && (rc = before_ok(c, x->o.before)) != 0)
        return rc;
    if (!x->policy && (x->o.archive == NULL || x->o.archive[0] == '\0'))
        return cli_usage_err(c, "--archive FILE is required (write it with "
                                "ledger archive)");
    if ((rc = cli_resolve_dir(c)) != 0)
        return rc;
    if ((rc = ldg_retention_policy_load(c->dir, &pol, err, sizeof err)) < 0) {
        cli_err(c, "%s", err);
        return cli_exit_code(rc);
    }
    x->o.keep_days = pol.keep_days;
    if ((rc = cli_open(c, 0, &l)) != 0)
        return rc;
    rc = x->policy ? ldg_retention_apply(l, &pol, x->o.force, 0, &pr)
                   : ldg_retention_prune(l, &x->o, &r);
    note = x->policy ? pr.pr.metrics_note : r.metrics_note;
    if (note[0] != '\0')
        cli_err(c,
                "the metrics' counts before the prune were not brought up "
                "(%s): after it, a count starts at the horizon",
                note);
    if (rc == 0 && r.already) {
        /* run again after it was done, with the archive a record pins */
        char hex[65];
        hex32(hex, r.archive_sha256);
        if (c->out == OUT_HUMAN)
            printf("%s\n", r.why);
        else
            cli_print_json(c, json_pack("{s:b, s:s, s:s, s:s}", "pruned", 0,
                                        "why", r.why, "archive", x->o.archive,
                                        "archive_sha256", hex));
        ldg_close(l);
        return EX_OK;
    }
    if (rc < 0) {
        /* how --before was read, when it was (zeros until then: silent) */
        if (!x->policy)
            say_rounding(c, x->o.before, &r.h);
        ex = cli_fail_close(c, l, rc);
        /* parts pruned before the failure are pruned: said, not lost
         * behind the error */
        if (x->policy && pr.pruned > 0)
            cli_err(c,
                    "before that, this run pruned %d part%s: %llu events "
                    "from event %llu on, each after checking its archive "
                    "in %s; the ledger is whole, and a run again goes on "
                    "from there",
                    pr.pruned, pr.pruned == 1 ? "" : "s",
                    (unsigned long long)pr.events, (unsigned long long)pr.first,
                    pol.archive_dir);
        return rc == LDG_EINVAL ? EX_DATAERR : ex;
    }
    ldg_close(l);
    if (x->policy)
        return policy_said(c, &pol, &pr);
    say_rounding(c, x->o.before, &r.h);
    print_pruned(c, x->o.archive, &r, NULL);
    return EX_OK;
}

CLI_COMMAND(
    prune, CLI_GROUP_EVENTS,
    "remove archived events from the ledger, keeping every proof",
    "Removes the entries, bodies, seals and index keys of the events before "
    "a horizon, only after checking that --archive FILE is exactly their "
    "archive: a segment (what `ledger archive` writes) is checked in one "
    "pass, each of its leaves against the tree hashes this ledger holds "
    "and its checkpoint against this ledger's, with no proof an event; an "
    "evidence bundle (an older archive, or --format bundle) is verified "
    "with this ledger's log key against its own checkpoint (a missing, "
    "partial, redacted, stale or foreign archive is refused, naming what "
    "is wrong, and nothing is removed). Every tree hash, checkpoint and key "
    "stays, with a horizon "
    "record signed by the log key (the horizon, the archive's SHA-256, the "
    "last pruned event's leaf hash and the projections' state digest "
    "there), so proofs, tiles, consistency proofs and verify go on "
    "working; the projections' state at the horizon is kept for rebuild. "
    "The prune is made in steps of a commit each, ending where commits of "
    "the log end, the last with a ledger.pruned event: a crash or a full "
    "disk leaves the ledger before it, after it, or pruned to a step's end, "
    "each verifying, and the same prune run again goes on. Run again after "
    "it was done, it prunes nothing and says so only when FILE is the "
    "archive the ledger's records pin by its SHA-256. Events younger than the "
    "retention minimum (DIR/retention.json keep_days, default 180) are "
    "refused without --force. With --policy it obeys DIR/retention.json "
    "instead (keep_days, disk_budget, archive_dir, archive_events): it "
    "archives and prunes the events older than keep_days, and more of the "
    "oldest while the store is over its disk budget (never younger than "
    "keep_days without --force), in parts of at most archive_events "
    "(1,000,000) events; `ledger serve --prune-every DUR` runs that. While "
    "`ledger "
    "serve` runs, its commits wait for the prune's. data.mdb does not "
    "shrink: LMDB reuses the freed pages (docs/RETENTION.md).",
    prune_opts, CLI_OUT_BASIC,
    "# what ledger archive --before 100 --out old.seg wrote, out of ./old\n"
    "ledger --dir old prune --before 100 --archive old.seg --force\n"
    "# as DIR/retention.json says (keep_days 180 without one)\n"
    "ledger prune --policy\n",
    0, {.size = sizeof(struct prune_args)});

static void
print_pruned(struct cli *c, const char *archive,
             const struct ldg_prune_report *rp,
             const struct ldg_policy_report *pol)
{
    const struct ldg_prune_report r = *rp;
    char hex[65];

    hex32(hex, r.archive_sha256);
    if (c->out == OUT_HUMAN) {
        if (pol != NULL && pol->archived)
            printf("archived events %llu..%llu into %s\n",
                   (unsigned long long)r.h.first,
                   (unsigned long long)(r.h.horizon - 1), archive);
        char until[40];
        cli_when(until, sizeof until, r.h.until_ns);
        printf("pruned events %llu..%llu (%llu event%s, up to %s); the "
               "ledger now starts at %llu\n",
               (unsigned long long)r.h.first,
               (unsigned long long)(r.h.horizon - 1),
               (unsigned long long)r.events, r.events == 1 ? "" : "s", until,
               (unsigned long long)r.h.horizon);
        printf("archive  %s (SHA-256 %s)\n", archive, hex);
        printf("recorded as ledger.pruned, seq %llu\n",
               (unsigned long long)r.pruned_seq);
        if (r.continued)
            printf("went on with the prune into this archive that a crash "
                   "stopped between two of its commits\n");
        if (r.steps > 1)
            printf("in %d commits (a step each, every one leaving a ledger "
                   "that verifies)\n",
                   r.steps);
        if (r.tiles > 0)
            printf("dropped  %llu hash tile%s of the pruned events (store "
                   "layout 9: their archive proves them)\n",
                   (unsigned long long)r.tiles, r.tiles == 1 ? "" : "s");
        printf("in use   %llu -> %llu bytes (data.mdb does not shrink; "
               "LMDB reuses its free pages for later writes)\n",
               (unsigned long long)r.used_before,
               (unsigned long long)r.used_after);
    } else {
        json_t *o = json_pack(
            "{s:b, s:o, s:o, s:s, s:s, s:o, s:{s:o, s:o}, s:{s:o, "
            "s:o, s:o, s:o, s:o}}",
            "pruned", 1, "horizon", horizon_json(&r.h), "events",
            json_integer((json_int_t)r.events), "archive", archive,
            "archive_sha256", hex, "pruned_seq", ldg_json_u64(r.pruned_seq),
            "used_bytes", "before", json_integer((json_int_t)r.used_before),
            "after", json_integer((json_int_t)r.used_after), "removed",
            "entries", json_integer((json_int_t)r.entries), "bodies",
            json_integer((json_int_t)r.bodies), "seals",
            json_integer((json_int_t)r.seals), "index_keys",
            json_integer((json_int_t)r.index_keys), "tiles",
            json_integer((json_int_t)r.tiles));
        if (o != NULL) {
            json_object_set_new(o, "commits", json_integer(r.steps));
            json_object_set_new(o, "continued", json_boolean(r.continued));
        }
        /* --policy: the parts it took (the object above is the last) */
        if (o != NULL && pol != NULL)
            json_object_set_new(
                o, "policy",
                json_pack("{s:b, s:i, s:i, s:o, s:o, s:b, s:I}", "pruned", 1,
                          "parts", pol->pruned, "archives_written",
                          pol->archived, "first", ldg_json_u64(pol->first),
                          "events", json_integer((json_int_t)pol->events),
                          "budget_refused", pol->budget_refused,
                          "over_budget_after",
                          (json_int_t)pol->over_budget_after));
        if (o != NULL && pol != NULL && pol->set_aside[0])
            json_object_set_new(json_object_get(o, "policy"), "set_aside",
                                json_string(pol->set_aside));
        cli_print_json(c, o);
    }
}

/* ledger prune --policy: what it did (r from ldg_retention_apply). */
static int
policy_said(struct cli *c, const struct ldg_retention_policy *pol,
            const struct ldg_policy_report *r)
{
    if (r->set_aside[0])
        cli_err(c,
                "an archive of that name failed its check: kept as %s, and "
                "written again (%s)",
                r->set_aside, r->set_aside_why);
    if (r->budget_refused)
        cli_err(c, "%s", r->budget_why);
    if (!r->pruned) {
        /* over the budget with nothing the policy may prune: said on
         * every run, not only the first */
        if (r->over_budget_after > 0 && !r->budget_refused)
            cli_err(c,
                    "%llu bytes over the disk budget of %llu, and nothing "
                    "the policy may prune: what no prune removes (every "
                    "event's tree hashes, the checkpoints, the projections' "
                    "state) is more than the budget: raise it",
                    (unsigned long long)r->over_budget_after,
                    (unsigned long long)pol->disk_budget);
        if (c->out == OUT_HUMAN)
            printf("%s; keeping %u days%s\n", r->why, pol->keep_days,
                   pol->from_file ? "" : " (the default: no retention.json)");
        else
            cli_print_json(c, json_pack("{s:b, s:s, s:i, s:b, s:I}", "pruned",
                                        0, "why", r->why, "keep_days",
                                        (int)pol->keep_days, "budget_refused",
                                        r->budget_refused, "over_budget_after",
                                        (json_int_t)r->over_budget_after));
        return EX_OK;
    }
    if (r->over_budget_after > 0)
        cli_err(c,
                "still %llu bytes over the disk budget of %llu after this "
                "prune: %s",
                (unsigned long long)r->over_budget_after,
                (unsigned long long)pol->disk_budget,
                r->budget_refused
                    ? "the rest is younger than the retention minimum"
                : r->kept_for_all >= pol->disk_budget
                    ? "what no prune removes (every event's tree hashes, the "
                      "checkpoints, the projections' state) is more than the "
                      "budget: raise it"
                    : "the pruned events freed fewer pages than their "
                      "share of the records (a page is freed when it is "
                      "empty): run it again to prune more");
    if (r->pruned > 1 && c->out == OUT_HUMAN)
        printf("in %d parts: events %llu..%llu (%llu events) pruned, %d "
               "archive%s written into %s; the last part:\n",
               r->pruned, (unsigned long long)r->first,
               (unsigned long long)(r->pr.h.horizon - 1),
               (unsigned long long)r->events, r->archived,
               r->archived == 1 ? "" : "s", pol->archive_dir);
    print_pruned(c, r->archive, &r->pr, r);
    return EX_OK;
}
