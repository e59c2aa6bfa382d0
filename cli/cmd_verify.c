/*
 * cmd_verify.c — verify, with crash isolation (ldg_run_isolated).
 */
#include <errno.h>
#include <string.h>
#include "cli/cli.h"
#include "cli/commands.h"
#include "projections/projections.h"
#include "verify/verify.h"

/* -------------------------------------------------------------- verify -- */

static int
read_file(const char *path, size_t max, char **out, size_t *len)
{
    FILE *f = cli_fopen_input(path);
    int rc;
    if (f == NULL)
        return LDG_ENOTFOUND;
    rc = cli_read_all(f, max, out, len);
    fclose(f);
    return rc;
}

/* What `ledger verify` was asked (verify_parse) and what it found. */
struct vrun {
    const char *trusted;
    uint64_t from, quorum;
    unsigned flags;
    int only_new;
    const char *wkeys[LDG_VERDICT_WITNESS_MAX];
    size_t nw;
    char *note; /* the trusted checkpoint's text */
    struct ldg_verdict v;
};

/* --witness-key, --quorum, --from, --full: 0, or the exit code of a usage
 * error */
static int
verify_opt(struct cli *c, void *args, int id, struct cli_args *a)
{
    struct vrun *v = args;
    switch (id) {
    case 'W':
        if (v->nw == LDG_VERDICT_WITNESS_MAX)
            return cli_usage_err(c, "--witness-key: at most %d",
                                 LDG_VERDICT_WITNESS_MAX);
        v->wkeys[v->nw++] = a->value;
        return 0;
    case 'Q':
        if (cli_parse_u64(a->value, &v->quorum) < 0 || v->quorum == 0)
            return cli_usage_err(c, "--quorum: '%s' is not a count > 0",
                                 a->value);
        return 0;
    case 'f':
        if (cli_parse_u64(a->value, &v->from) < 0)
            return cli_usage_err(c, "--from: '%s' is not a sequence number",
                                 a->value);
        v->flags |= LDG_VERIFY_FROM; /* 0 is an event too */
        return 0;
    default: /* --full */
        v->flags |= LDG_VERIFY_FULL;
        return 0;
    }
}

static const struct cli_opt verify_opts[] = {
    CLI_VALUE('f', 0, "from", "SEQ",
              "start at event SEQ (implies a full check from there)"),
    CLI_FLAG('F', 0, "full",
             "check everything from event 0, not only what was appended "
             "since the last verify: also every page of data.mdb as "
             "stored, every index key by key, and the projections' stored "
             "state and signed notes against the log"),
    CLI_ON('N', 0, "new",
           "check only the events appended since the last recorded "
           "verification, at what they cost (what `ledger doctor` does "
           "on demand and `serve --verify-every` on an interval): chain "
           "link, signatures or seals, bodies, tree consistency, the "
           "checkpoints they brought",
           struct vrun, only_new),
    CLI_STR('t', 0, "trusted", "FILE",
            "also check that this log extends FILE, a checkpoint saved "
            "earlier (`ledger checkpoint > FILE`)",
            struct vrun, trusted),
    CLI_VALUES('W', 0, "witness-key", "VKEY",
               "with --trusted: a witness's cosigner key whose cosignature "
               "on FILE counts toward --quorum (repeatable; FILE from "
               "`ledger checkpoint --cosigned`)"),
    CLI_VALUE('Q', 0, "quorum", "K",
              "with --witness-key: at least K of those witnesses must have "
              "cosigned FILE (default 1)"),
    CLI_OPT_END};

/* What the verifying child has done, in memory shared with its parent
 * (ldg_run_isolated): if a corrupt page kills the child, the parent says
 * how far it got. NULL when verifying in this process. */
static struct ldg_isolation *vshared;

static void
verify_progress(void *ctx, uint64_t done, uint64_t total)
{
    ldg_isolation_progress(vshared, done, total);
    cli_progress(ctx, done, total);
}

static int verify_run(struct cli *c, struct vrun *v);
static int verify_check_args(struct cli *c, struct vrun *v);

struct verify_call {
    struct cli *c;
    struct vrun *v;
};

/* verify_run with its output kept until it is done (cli/gather.c): in the
 * process that verifies, which is not the command's when it forks. */
static int
verify_gathered(void *ctx, struct ldg_isolation *iso)
{
    struct verify_call *v = ctx;
    int rc, grc;
    unsigned long oom = ldg_alloc_failures();
    vshared = iso;
    cli_gather_start();
    rc = verify_run(v->c, v->v);
    /* in the child, what the program checks after a command (main.c) */
    if (iso != NULL && ldg_alloc_failures() != oom && rc != EX_OSERR) {
        cli_err(v->c, "out of memory: an allocation failed while verifying, "
                      "so what it printed is not to be relied on");
        rc = EX_OSERR;
    }
    if ((grc = cli_gather_end(v->c)) != 0 && rc == EX_OK)
        rc = grc;
    return rc;
}

/*
 * Verification is the one command that must survive any file: the checks
 * run in a child process (ldg_run_isolated), and a child killed by what it
 * read is a finding, exit 1. LEDGER_VERIFY_INPROCESS=1 runs it in this
 * process (for debuggers).
 */
static int
cmd_verify(struct cli *c, void *args, int npos, char **pos)
{
    const char *inproc = getenv("LEDGER_VERIFY_INPROCESS");
    struct verify_call v = {c, args};
    char what[512];
    int st = 0, rc;

    if ((rc = verify_check_args(c, args)) != 0)
        return rc;
    if (inproc != NULL && strcmp(inproc, "1") == 0)
        return verify_gathered(&v, NULL);
    rc = ldg_run_isolated(verify_gathered, &v, &st, what, sizeof what);
    if (rc == LDG_EIO || rc == LDG_ENOMEM) {
        cli_err(c, "%s", what);
        return EX_OSERR;
    }
    if (rc == 0) {
        if (what[0] != '\0') /* stopped from outside */
            cli_err(c, "%s", what);
        return st;
    }
    if (c->out != OUT_HUMAN)
        cli_print_json(c, json_pack("{s:b, s:s}", "ok", 0, "error", what));
    cli_err(c, "FAILED: %s", what);
    return EX_VERIFY;
}

CLI_COMMAND(
    verify, CLI_GROUP_EVENTS, "re-check signatures, chain and tree",
    "Re-checks the ledger: that each event's actor key vouched for it (in "
    "a format 2 ledger its seal: the claim's digest in the seal's root, "
    "one signature per seal; in format 1 the event's own signature), the "
    "hash chain, the bodies against their hashes, the Merkle tree "
    "against the signed checkpoints, the key registry and the indexes. "
    "Without --full, signatures (format 2: each event's claim in its seal; "
    "the seals themselves are checked from event 0) and indexes are checked "
    "only for events appended since the last verify (the rest from event "
    "0), and it says so. It reads only (a write-protected copy works) and "
    "records its result afterwards where it can; a failure is remembered "
    "and fails "
    "every later verify until a --full one passes. A projection state "
    "that differs from the log's fails --full too (`ledger rebuild` "
    "makes it again), and so does a body index (ix.body, which query "
    "uses for body.F=V) that does not hold exactly the stored bodies' "
    "keys, when it is current. Exits 0 when "
    "everything holds and 1 with the first failure named when something "
    "does not.",
    verify_opts, CLI_OUT_BASIC,
    "ledger verify\n"
    "# only what was appended since the last verification (cheap)\n"
    "ledger verify --new\n"
    "# everything, and that the log still extends a checkpoint kept "
    "elsewhere\n"
    "ledger verify --full --trusted saved-checkpoint.txt\n"
    "# and that 2 of these 3 witnesses cosigned it\n"
    "ledger verify --trusted c.txt --quorum 2 --witness-key \"$W1\" \\\n"
    "    --witness-key \"$W2\" --witness-key \"$W3\"\n",
    0, {.size = sizeof(struct vrun), .opt = verify_opt});

/* How the options go together: 0, or the exit code of a usage error. */
static int
verify_check_args(struct cli *c, struct vrun *v)
{
    if (v->only_new && (v->flags != 0 || v->trusted != NULL))
        return cli_usage_err(c, "--new checks only new events: it takes no "
                                "--full, --from or --trusted");
    if ((v->flags & LDG_VERIFY_FULL) && (v->flags & LDG_VERIFY_FROM))
        /* --full is every event from 0 (and the store's pages): a --from
         * that won would say 'ok' having done less than asked */
        return cli_usage_err(c, "--full checks everything from event 0: it "
                                "takes no --from");
    if ((v->nw > 0 || v->quorum > 0) && v->trusted == NULL)
        return cli_usage_err(c, "--witness-key and --quorum need --trusted");
    if (v->quorum > 0 && v->nw == 0)
        return cli_usage_err(c, "--quorum needs --witness-key");
    if (v->quorum > v->nw)
        return cli_usage_err(c, "--quorum %llu: only %zu witness keys given",
                             (unsigned long long)v->quorum, v->nw);
    return 0;
}

/* -o json: the result as one object. */
static void
verify_json(struct cli *c, struct ldg_ledger *l, const struct vrun *v, int rc)
{
    const struct ldg_verdict *vd = &v->v;
    const struct ldg_verify_report *r = &vd->log;
    char n0[24], b[24], t1[32];
    struct ldg_horizon h;
    json_t *o;

    snprintf(n0, sizeof n0, "%llu", (unsigned long long)r->from);
    snprintf(b, sizeof b, "%llu", (unsigned long long)r->to);
    o = json_pack("{s:b, s:s, s:s, s:s, s:I, s:I, s:b}", "ok", rc == 0, "mode",
                  v->only_new                    ? "new-only"
                  : r->full                      ? "full"
                  : (v->flags & LDG_VERIFY_FROM) ? "from"
                                                 : "new",
                  "from", n0, "to", b, "checkpoints",
                  (json_int_t)r->checkpoints, "erased", (json_int_t)r->erased,
                  "recorded", vd->not_recorded[0] == '\0');
    json_object_set_new(o, "erased_pruned",
                        json_integer((json_int_t)r->erased_pruned));
    /* a pruned ledger (whatever the mode checked) */
    if (ldg_horizon(l, &h) == 0) {
        char hs[24], hx[65];
        snprintf(hs, sizeof hs, "%llu", (unsigned long long)h.seq);
        ldg_hex(hx, h.archive, 32);
        ldg_time_rfc3339_ns(t1, sizeof t1, h.pruned_ns);
        json_object_set_new(o, "pruned",
                            json_pack("{s:s, s:s, s:s, s:o, s:I}", "horizon",
                                      hs, "at", t1, "archive_sha256", hx,
                                      "tree_from", ldg_json_u64(r->tree_from),
                                      "checkpoints_unchecked",
                                      (json_int_t)r->checkpoints_unchecked));
        ldg_horizon_release(&h);
    }
    if (r->full_ts_ns != 0) {
        char fs[24];
        snprintf(fs, sizeof fs, "%llu", (unsigned long long)r->full_size);
        ldg_time_rfc3339_ns(t1, sizeof t1, r->full_ts_ns);
        json_object_set_new(o, "last_full",
                            json_pack("{s:s, s:s}", "size", fs, "time", t1));
    }
    if (vd->failed == LDG_VERDICT_PROJECTIONS) {
        json_object_set_new(o, "error", json_string(vd->what));
    } else if (vd->failed == LDG_VERDICT_LOG) {
        char bs[24];
        snprintf(bs, sizeof bs, "%llu", (unsigned long long)r->bad_seq);
        ldg_time_rfc3339_ns(t1, sizeof t1, r->found_ts_ns);
        json_object_set_new(o, "bad_seq", json_string(bs));
        json_object_set_new(o, "error", json_string(vd->what));
        json_object_set_new(o, "found", json_string(t1));
        json_object_set_new(o, "standing", json_boolean(r->finding_stands));
    }
    if (r->full && vd->failed != LDG_VERDICT_LOG) {
        json_t *names = json_array();
        for (unsigned bit = 1; bit <= LDG_PROJECTIONS_ALL; bit <<= 1)
            if (vd->proj_checked & bit)
                json_array_append_new(names,
                                      json_string(ldg_projections_name(bit)));
        json_object_set_new(
            o, "projections",
            json_pack("{s:o, s:O}", "checked", names, "differences",
                      vd->proj_diffs ? vd->proj_diffs : json_null()));
    }
    if (r->full && vd->failed != LDG_VERDICT_LOG &&
        vd->failed != LDG_VERDICT_PROJECTIONS)
        json_object_set_new(
            o, "body_index",
            json_string(r->bix_checked ? "checked" : "behind the log"));
    if (vd->trusted_checked)
        json_object_set_new(o, "trusted",
                            json_pack("{s:b, s:s}", "ok",
                                      vd->failed == LDG_VERDICT_NONE, "detail",
                                      vd->trusted_said));
    cli_print_json(c, o);
}

/* ok / FAILED in colour on a colour terminal */
#define OKP cli_paint(c->color, CLI_PAINT_OK)
#define OFFO cli_paint(c->color, CLI_PAINT_OFF)

/* The human "ok" line of a verification that passed. */
static void
verify_ok_line(struct cli *c, struct ldg_ledger *l, const struct vrun *v)
{
    const struct ldg_verify_report *r = &v->v.log;
    /* format 2: one signature per seal, every seal checked from 0 */
    int sealed = ldg_format(l) >= 2;
    const char *sigs = sealed ? "seals" : "signatures";
    int from = (v->flags & LDG_VERIFY_FROM) != 0;
    char pnote[96] = "";
    if (v->v.proj_checked)
        snprintf(pnote, sizeof pnote, "%d stored projections match the log",
                 __builtin_popcount(v->v.proj_checked));
    else
        snprintf(pnote, sizeof pnote,
                 "no projection state is stored as current (views "
                 "compute it from the log)");
    if (v->only_new && r->checked == 0)
        cli_printf_fit(c, 4,
                       "%sok%s: nothing new since seq %llu (the last "
                       "recorded verification)\n",
                       OKP, OFFO, (unsigned long long)(r->to ? r->to - 1 : 0));
    else if (v->only_new)
        cli_printf_fit(
            c, 4,
            "%sok%s: checked %llu new event%s %llu..%llu (chain link, %s, "
            "bodies, tree consistency, checkpoints); their indexes%s are "
            "left to "
            "`ledger verify`\n",
            OKP, OFFO, (unsigned long long)r->checked,
            r->checked == 1 ? "" : "s", (unsigned long long)r->from,
            (unsigned long long)(r->to - 1), sigs,
            r->from > 0 ? " and the events before them" : "");
    else if (r->full && r->horizon > 0)
        cli_printf_fit(c, 4,
                       "%sok%s: full verification of the %llu kept events "
                       "(%llu..%llu) and the tree over all %llu: "
                       "%s, bodies, chain, tree, %llu checkpoint%s; "
                       "%llu erased bodies; %s\n",
                       OKP, OFFO, (unsigned long long)(r->to - r->horizon),
                       (unsigned long long)r->horizon,
                       (unsigned long long)(r->to ? r->to - 1 : 0),
                       (unsigned long long)r->to, sigs,
                       (unsigned long long)r->checkpoints,
                       r->checkpoints == 1 ? "" : "s",
                       (unsigned long long)r->erased, pnote);
    else if (r->full)
        cli_printf_fit(
            c, 4,
            "%sok%s: full verification of %llu event%s (0..%llu): "
            "%s, bodies, chain, tree, %llu checkpoint%s; "
            "%llu erased bodies; %s\n",
            OKP, OFFO, (unsigned long long)r->to, r->to == 1 ? "" : "s",
            (unsigned long long)(r->to ? r->to - 1 : 0), sigs,
            (unsigned long long)r->checkpoints, r->checkpoints == 1 ? "" : "s",
            (unsigned long long)r->erased, pnote);
    else if (r->checked == 0 && !(v->flags & LDG_VERIFY_FROM))
        cli_printf_fit(
            c, 4,
            "%sok%s: nothing new since seq %llu (chain, tree, bodies and "
            "%llu checkpoint%s re-checked from %llu)\n",
            OKP, OFFO, (unsigned long long)(r->to ? r->to - 1 : 0),
            (unsigned long long)r->checkpoints, r->checkpoints == 1 ? "" : "s",
            (unsigned long long)r->horizon);
    else /* --from's events were asked for: re-checked, not new */
        cli_printf_fit(
            c, 4,
            "%sok%s: %s %llu %sevent%s %llu..%llu%s (%s, "
            "indexes); chain, tree, bodies%s and %llu checkpoint%s "
            "re-checked from %llu; %llu erased bodies\n",
            OKP, OFFO, from ? "re-checked" : "checked",
            (unsigned long long)r->checked, from ? "" : "new ",
            r->checked == 1 ? "" : "s", (unsigned long long)r->from,
            (unsigned long long)(r->to ? r->to - 1 : 0),
            from ? " from --from" : "", sealed ? "claims" : "signatures",
            sealed ? ", seals" : "", (unsigned long long)r->checkpoints,
            r->checkpoints == 1 ? "" : "s", (unsigned long long)r->horizon,
            (unsigned long long)r->erased);
}

/* The human report of a verification that passed: the ok line, what it
 * did not re-check, the trusted checkpoint, the pruned past. */
static void
verify_human(struct cli *c, struct ldg_ledger *l, const struct vrun *v)
{
    const struct ldg_verify_report *r = &v->v.log;
    int sealed = ldg_format(l) >= 2;
    char t1[32];
    struct ldg_horizon h;

    verify_ok_line(c, l, v);
    /* (the erased bodies counted are the kept events', as stats counts
     * them; a body.erased kept for a pruned event is said apart) */
    if (r->erased_pruned > 0)
        cli_printf_fit(c, 4,
                       "    and %llu body.erased kept for pruned events "
                       "(their bodies left with them, into the archive)\n",
                       (unsigned long long)r->erased_pruned);
    if (r->full && !r->bix_checked)
        cli_printf_fit(c, 4,
                       "    the body index ix.body is behind the log: not "
                       "checked (query scans the bodies instead; `ledger "
                       "rebuild` makes it current)\n");
    if (!v->only_new && !r->full && r->from > 0 &&
        (r->horizon == 0 || r->from > r->horizon)) {
        char last[128], range[64];
        if (r->full_ts_ns != 0) {
            cli_when(t1, sizeof t1, r->full_ts_ns);
            snprintf(
                last, sizeof last, "last full verification at seq %llu, %s",
                (unsigned long long)(r->full_size ? r->full_size - 1 : 0), t1);
        } else {
            snprintf(last, sizeof last, "never fully verified");
        }
        if (r->horizon > 0)
            snprintf(range, sizeof range, "the kept events %llu..%llu",
                     (unsigned long long)r->horizon,
                     (unsigned long long)(r->from - 1));
        else
            snprintf(range, sizeof range, "events before %llu",
                     (unsigned long long)r->from);
        cli_printf_fit(c, 4,
                       "%s; %s of %s were not re-checked (`ledger "
                       "verify --full` does)\n",
                       last,
                       sealed ? "claims, keys and indexes"
                              : "signatures and indexes",
                       range);
    }
    if (v->v.trusted_checked)
        cli_printf_fit(c, 4, "%sok%s: %s\n", OKP, OFFO, v->v.trusted_said);
    if (r->horizon > 0 && ldg_horizon(l, &h) == 0) {
        char hx[65], earlier[80] = "";
        ldg_hex(hx, h.archive, 32);
        cli_when(t1, sizeof t1, h.pruned_ns);
        if (h.first > 0)
            snprintf(earlier, sizeof earlier,
                     " (0..%llu into earlier archives)",
                     (unsigned long long)(h.first - 1));
        cli_printf_fit(c, 4,
                       "events %llu..%llu pruned at %s into archive "
                       "%s%s; verified from %llu (and the tree over "
                       "the pruned events' kept hashes, with their "
                       "checkpoints)\n",
                       (unsigned long long)h.first,
                       (unsigned long long)(h.seq - 1), t1, hx, earlier,
                       (unsigned long long)h.seq);
        /* store layout 9: what the prune dropped was not checked */
        if (r->tree_from > 0)
            cli_printf_fit(
                c, 4,
                "not checked: the leaf hashes of events 0..%llu, dropped "
                "by the prune at store layout 9 (the tree over them was "
                "checked from its level-8 hashes up), and %llu "
                "checkpoint%s of sizes among them; their archives prove "
                "them\n",
                (unsigned long long)(r->tree_from - 1),
                (unsigned long long)r->checkpoints_unchecked,
                r->checkpoints_unchecked == 1 ? "" : "s");
        ldg_horizon_release(&h);
    }
}
#undef OKP
#undef OFFO

/* The verdict: EX_OK, or EX_VERIFY with the failure said. */
static int
verify_report(struct cli *c, struct ldg_ledger *l, const struct vrun *v, int rc)
{
    const char *failp = cli_paint(c->color_err, CLI_PAINT_FAIL);
    const char *offe = cli_paint(c->color_err, CLI_PAINT_OFF);
    char t1[32];

    if (c->out != OUT_HUMAN)
        verify_json(c, l, v, rc);
    if (v->v.not_recorded[0] != '\0')
        cli_err(c, "note: could not record this result in the ledger: %s",
                v->v.not_recorded);
    if (rc == LDG_ETAMPER && v->v.log.finding_stands) {
        cli_when(t1, sizeof t1, v->v.log.found_ts_ns);
        cli_err(c,
                "%sFAILED%s: a verification at %s found: %s; this stands "
                "until `ledger verify --full` passes",
                failp, offe, t1, v->v.what);
        return EX_VERIFY;
    }
    if (rc == LDG_ETAMPER) {
        cli_err(c, "%sFAILED%s: %s", failp, offe, v->v.what);
        return EX_VERIFY;
    }
    if (c->out == OUT_HUMAN)
        verify_human(c, l, v);
    return EX_OK;
}

static int
verify_run(struct cli *c, struct vrun *v)
{
    struct ldg_ledger *l = NULL;
    size_t len = 0;
    int rc;

    if ((rc = cli_resolve_dir(c)) != 0)
        return rc;
    if (v->trusted != NULL) {
        rc = read_file(v->trusted, 1 << 16, &v->note, &len);
        if (rc < 0) {
            cli_err(c, "cannot read trusted checkpoint %s: %s", v->trusted,
                    rc == LDG_ENOTFOUND ? strerror(errno) : ldg_strerror(rc));
            return cli_exit_code(rc);
        }
    }
    if ((rc = cli_open(c, 1, &l)) != 0) {
        if (rc == EX_DATAERR)
            rc = EX_VERIFY; /* storage that cannot be opened fails */
        goto out;
    }
    if (vshared != NULL) {
        vshared->start = v->from; /* 0 unless --from: a lower bound */
        vshared->started = 1;
    }
    v->v.from = v->from;
    v->v.trusted = v->note;
    v->v.trusted_len = len;
    v->v.trusted_name = v->trusted;
    v->v.witness_keys = v->wkeys;
    v->v.nwitness = v->nw;
    v->v.quorum = v->quorum;
    rc = ldg_verify_full(l, v->flags | (v->only_new ? LDG_VERIFY_NEW : 0),
                         &v->v, verify_progress, c);
    if (c->progress)
        cli_progress_done(c);
    if (rc == LDG_ENOTFOUND && (v->flags & LDG_VERIFY_FROM)) {
        /* Not "0 events verified": nothing there was checked. */
        cli_err(c, "--from %llu: %s", (unsigned long long)v->from, v->v.what);
        rc = EX_NOINPUT;
    } else if (rc == LDG_ECORRUPT) {
        /* storage that cannot be read fails, as storage that cannot be
         * opened does (at store layout 9 a reader meets some damage
         * only when it replays the intake's tail, after the open) */
        cli_err(c, "%sFAILED%s: %s", cli_paint(c->color_err, CLI_PAINT_FAIL),
                cli_paint(c->color_err, CLI_PAINT_OFF), v->v.what);
        rc = EX_VERIFY;
    } else if (rc < 0 && rc != LDG_ETAMPER) {
        cli_err(c, "%s", v->v.what);
        rc = cli_exit_code(rc);
    } else {
        rc = verify_report(c, l, v, rc);
    }
out:
    free(v->note);
    ldg_verdict_release(&v->v);
    ldg_close(l);
    return rc;
}
