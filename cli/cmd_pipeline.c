/*
 * cmd_pipeline.c — tripcode: sign, verify and list the control pipeline's
 * signed recovery codes (issue 34). plans, memory and gates are views and
 * live in cmd_projections.c with the others.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "pipeline/pipeline.h"
#include "projections/projections.h"

enum {
    OPT_KEYFILE = 0x501,
    OPT_TS,
    OPT_PLAN,
    OPT_KEYNAME,
    OPT_TTL,
    OPT_COOLDOWN
};

struct tripcode_args {
    struct ldg_tripcode_opts o;
    const char *key, *ts;
};
#define TA struct tripcode_args
static const struct cli_opt tripcode_opts[] = {
    CLI_STR(OPT_KEYFILE, 0, "key", "FILE|NAME",
            "with sign (required): the controller's secret key file "
            "(`ledger keys generate --out FILE`); with verify: only the "
            "enrolled controller key of this name",
            TA, key),
    CLI_STR(OPT_TS, 0, "ts", "SECONDS",
            "with sign: the signing time in seconds since the epoch "
            "(default: now)",
            TA, ts),
    CLI_STR(OPT_PLAN, 0, "plan", "PLAN",
            "with verify: the plan the code is used for (recorded)", TA,
            o.plan),
    CLI_NUM(OPT_TTL, 0, "ttl", "SECONDS",
            "with verify: a code signed longer ago than this is expired "
            "(default 300)",
            TA, o.ttl_s, 1, 999999999999ull),
    CLI_NUM(OPT_COOLDOWN, 0, "cooldown", "SECONDS",
            "with verify: a code used less than this ago is refused "
            "(default 900), as is one whose last use is later than the "
            "clock reads (a clock stepped back)",
            TA, o.cooldown_s, 1, 999999999999ull),
    CLI_ARG("sign CODE|verify TRIPCODE|list",
            "sign: print TS|CODE|SIG for CODE; verify: check TRIPCODE "
            "(the text, @FILE, or - for stdin) and record its use or "
            "refusal; list: every tripcode the log has seen",
            CLI_REPEAT),
    CLI_OPT_END};

/* TRIPCODE as given: the text, @FILE, or - (stdin). */
static int
read_text(struct cli *c, const char *arg, char *buf, size_t cap)
{
    FILE *f;
    size_t n;
    if (strcmp(arg, "-") != 0 && arg[0] != '@') {
        if (strlen(arg) >= cap) {
            cli_err(c, "tripcode longer than %zu bytes", cap - 1);
            return EX_DATAERR;
        }
        snprintf(buf, cap, "%s", arg);
        return 0;
    }
    f = strcmp(arg, "-") == 0 ? stdin : fopen(arg + 1, "r");
    if (f == NULL) {
        cli_err(c, "cannot open %s: %s", arg + 1, strerror(errno));
        return EX_NOINPUT;
    }
    n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    if (ferror(f)) {
        cli_err(c, "cannot read %s", arg);
        if (f != stdin)
            fclose(f);
        return EX_IOERR;
    }
    if (n == cap - 1 && fgetc(f) != EOF) {
        cli_err(c, "%s is larger than a tripcode", arg);
        if (f != stdin)
            fclose(f);
        return EX_DATAERR;
    }
    if (f != stdin)
        fclose(f);
    return 0;
}

static int
parse_secs(const char *s, int64_t *out)
{
    uint64_t v;
    if (cli_parse_u64(s, &v) < 0 || v > 999999999999ull)
        return -1;
    *out = (int64_t)v;
    return 0;
}

static int
tripcode_sign(struct cli *c, const char *keyfile, const char *ts_arg,
              const char *code)
{
    struct ldg_key *k = NULL;
    char out[LDG_TRIPCODE_MAX], err[512];
    int64_t ts;
    int rc;

    if (ts_arg != NULL) {
        if (parse_secs(ts_arg, &ts) < 0)
            return cli_usage_err(c,
                                 "--ts: '%s' is not seconds since the "
                                 "epoch",
                                 ts_arg);
    } else {
        ts = (int64_t)time(NULL);
    }
    if (ldg_pipeline_code_check(code, err, sizeof err) < 0) {
        cli_err(c, "%s", err);
        return EX_DATAERR;
    }
    if ((rc = ldg_keyfile_load(keyfile, &k, err, sizeof err)) < 0) {
        cli_err(c, "%s", err);
        return rc == LDG_ENOTFOUND ? EX_NOINPUT : cli_exit_code(rc);
    }
    rc = ldg_pipeline_tripcode_sign(k, ts, code, out, sizeof out, err,
                                    sizeof err);
    ldg_key_free(k);
    if (rc < 0)
        return cli_fail_err(c, err, rc);
    cli_print_text(c, "tripcode", out);
    return EX_OK;
}

static int
tripcode_verify(struct cli *c, const char *arg,
                const struct ldg_tripcode_opts *o)
{
    struct ldg_tripcode_verdict v;
    struct ldg_ledger *l = NULL;
    char text[LDG_TRIPCODE_MAX + 2];
    struct ldg_tripcode t;
    char err[512];
    int rc;

    if ((rc = read_text(c, arg, text, sizeof text)) != 0)
        return rc;
    if (ldg_pipeline_tripcode_parse(text, &t, err, sizeof err) < 0) {
        if (arg[0] != '@' && strcmp(arg, "-") != 0 && access(arg, R_OK) == 0)
            cli_err(c, "%s ('%s' is a file: give it as @%s)", err, arg, arg);
        else
            cli_err(c, "%s", err);
        return EX_DATAERR;
    }
    if ((rc = cli_open(c, 0, &l)) != 0)
        return rc;
    rc = ldg_pipeline_tripcode_verify(l, text, o, &v);
    if (rc < 0)
        return cli_fail_close(c, l, rc);
    if (c->out != OUT_HUMAN) {
        cli_print_json(c, json_pack("{s:o, s:b, s:s, s:s?, s:s?, s:s?}", "seq",
                                    ldg_json_u64(v.seq), "accepted", v.accepted,
                                    "code", t.code, "reason",
                                    v.accepted ? NULL : v.reason, "key",
                                    v.key_name[0] ? v.key_name : NULL, "key_id",
                                    v.key_id[0] ? v.key_id : NULL));
    } else if (v.accepted) {
        printf("seq %llu: tripcode %s used (controller key %s, id %s)\n",
               (unsigned long long)v.seq, t.code, v.key_name, v.key_id);
    } else {
        printf("seq %llu: tripcode %s refused\n", (unsigned long long)v.seq,
               t.code);
    }
    if (!v.accepted)
        cli_err(c, "tripcode %s refused: %s", t.code, v.reason);
    ldg_close(l);
    return v.accepted ? EX_OK : EX_VERIFY;
}

static int
tripcode_list(struct cli *c)
{
    struct vargs va = {0};
    struct ldg_view_opts vo = {0};
    struct ldg_ledger *l = NULL;
    json_t *rows = NULL, *r;
    size_t i;
    int rc;

    if ((rc = cli_view_read(c, &va, LDG_VIEW_TRIPCODES, &vo, &l, &rows)) != 0)
        return rc;
    if (json_array_size(rows) == 0) {
        cli_view_none(c, l, "tripcodes", NULL, 0);
    } else if (c->out != OUT_HUMAN) {
        json_array_foreach(rows, i, r) cli_print_json(c, json_incref(r));
    } else {
        printf("%-34s %4s %5s %4s %4s %-8s %s\n", "CODE", "USES", "SPENT",
               "REPL", "REF", "LAST_USE", "LAST REFUSAL");
        json_array_foreach(rows, i, r)
        {
            const char *us = json_string_value(json_object_get(r, "used_seq"));
            const char *why =
                json_string_value(json_object_get(r, "refused_reason"));
            printf(
                "%-34s %4lld %5lld %4lld %4lld %-8s %s\n",
                json_string_value(json_object_get(r, "code")),
                (long long)json_integer_value(json_object_get(r, "uses")),
                (long long)json_integer_value(json_object_get(r, "spent")),
                (long long)json_integer_value(json_object_get(r, "replays")),
                (long long)json_integer_value(json_object_get(r, "refusals")),
                us ? us : "-", why ? why : "-");
        }
    }
    json_decref(rows);
    ldg_close(l);
    return EX_OK;
}

static int
cmd_tripcode(struct cli *c, struct tripcode_args *x, int npos, char **pos)
{
    const char *sub;

    if (npos < 1)
        return cli_usage_err(c, "a subcommand is needed: sign CODE, verify "
                                "TRIPCODE or list");
    sub = pos[0];
    if (c->out == OUT_HUMAN && c->out_name != NULL &&
        strcmp(c->out_name, "human") != 0)
        return cli_usage_err(c, "unknown output format '%s'", c->out_name);
    if (strcmp(sub, "sign") == 0) {
        if (npos != 2)
            return cli_usage_err(c, "sign takes one CODE");
        if (x->key == NULL)
            return cli_usage_err(c, "sign needs --key FILE (a secret key "
                                    "file from `ledger keys generate`)");
        if (x->o.plan || x->o.ttl_s || x->o.cooldown_s)
            return cli_usage_err(c, "--plan, --ttl and --cooldown go with "
                                    "verify");
        return tripcode_sign(c, x->key, x->ts, pos[1]);
    }
    if (cli_resolve_dir(c) != 0)
        return EX_USAGE;
    if (strcmp(sub, "verify") == 0) {
        if (npos != 2)
            return cli_usage_err(c, "verify takes one TRIPCODE (the text, "
                                    "@FILE or -)");
        if (x->ts != NULL)
            return cli_usage_err(c, "--ts goes with sign");
        x->o.key = x->key;
        return tripcode_verify(c, pos[1], &x->o);
    }
    if (strcmp(sub, "list") == 0) {
        if (npos != 1 || x->key || x->ts || x->o.plan || x->o.ttl_s ||
            x->o.cooldown_s)
            return cli_usage_err(c, "list takes no argument or option");
        return tripcode_list(c);
    }
    return cli_usage_err(c, "unknown subcommand '%s' (sign, verify, list)",
                         sub);
}

CLI_COMMAND(
    tripcode, CLI_GROUP_STATE,
    "signed recovery codes: sign, verify and record, list",
    "A tripcode is a recovery code the box's controller signs to authorise "
    "a T3 step: RECOVERY:REVERT_SNAPSHOT::<id>, RECOVERY:REIMAGE_TO_GOLDEN, "
    "RECOVERY:LOCKDOWN or RECOVERY:DIAGNOSTIC::<profile>, given as the text "
    "TS|CODE|SIG: TS seconds since the epoch, SIG the Ed25519 signature "
    "(128 hex digits) over the bytes \"TS|CODE\" by the controller's key "
    "(docs/VOCABULARY.md, with a test vector).\n\n"
    "Verifying: `ledger tripcode verify` checks one against the controller "
    "keys enrolled in "
    "the log (`ledger keys add NAME --public-key @FILE --roles controller`: "
    "the controller holds its secret), then its expiry, replay (the same "
    "signature again, or a TS not after the code's last use) and cooldown "
    "(the same code used too recently, or at a time later than the clock "
    "now reads: a clock stepped back never shortens it), and records the "
    "answer as tripcode.used or tripcode.refused with the reason. It exits "
    "0 when "
    "the code is accepted and 1 when it is refused; either way the answer "
    "is in the log. A T3 plan.step names the code in its \"tripcode\" "
    "field, and each accepted use authorises one such step (`ledger "
    "plans`).\n\n"
    "Signing: `ledger tripcode sign` makes one with a key file, for tests and "
    "for a "
    "controller without its own tooling; it needs no ledger.",
    tripcode_opts, CLI_OUT_BASIC,
    "# ctl.key made by `ledger keys generate`, its public key enrolled\n"
    "# with `ledger keys add controller ... --roles controller`\n"
    "ledger tripcode sign --key ctl.key RECOVERY:LOCKDOWN > code.txt\n"
    "ledger tripcode verify --plan P-0917 @code.txt\n"
    "ledger tripcode list\n",
    CLI_CMD_GATHER, {.size = sizeof(struct tripcode_args), .maxpos = -1});
