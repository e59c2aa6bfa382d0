/*
 * cmd_sensors.c — the box's own sensors: `ledger model verify` and
 * `ledger probe`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "query/query.h"
#include "serve/serve.h"
#include "sensors/sensors.h"

/* The string field k of o, or "?" (never a NULL printed as "(null)"). */
static const char *
sv(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s != NULL ? s : "?";
}

/* -------------------------------------------------------- model verify -- */

enum { OPT_MODEL = 256, OPT_EXPECT, OPT_OLLAMA };

static const struct cli_opt model_opts[] = {
    CLI_STR(OPT_MODEL, 0, "model", "NAME",
            "the model a FILE holds (default: the file's name)",
            struct ldg_model_verify_opts, name),
    CLI_STR(OPT_EXPECT, 0, "expect", "DIGEST",
            "compare with this sha256 instead of the registered digest",
            struct ldg_model_verify_opts, expect),
    CLI_STR(OPT_OLLAMA, 0, "ollama-dir", "DIR",
            "Ollama's models directory (default $OLLAMA_MODELS, else "
            "~/.ollama/models)",
            struct ldg_model_verify_opts, ollama_dir),
    CLI_ARG("verify", "the subcommand (only verify)", 0),
    CLI_ARG("MODEL|FILE", "a registered model name, or a weights file", 0),
    CLI_OPT_END};

static int
cmd_model(struct cli *c, struct ldg_model_verify_opts *o, int npos, char **pos)
{
    struct ldg_ledger *l = NULL;
    json_t *body = NULL;
    uint64_t seq = 0;
    int rc;

    if ((rc = cli_only_sub(c, npos, pos, "verify", "give one MODEL or FILE")) !=
        0)
        return rc;
    o->arg = pos[1];
    o->progress = cli_progress;
    o->progress_ctx = c;
    if (o->expect && !ldg_digest_same(o->expect, o->expect))
        return cli_usage_err(c,
                             "--expect: '%s' is not a sha256 digest "
                             "(64 hex digits, optionally sha256:)",
                             o->expect);
    if ((rc = cli_view_prepare(c)) != 0 || (rc = cli_open(c, 0, &l)) != 0)
        return rc;
    rc = ldg_model_verify(l, o, &body, &seq);
    cli_progress_done(c);
    if (rc < 0) {
        cli_err(c, "%s", cli_why(l, rc));
    } else if (c->out != OUT_HUMAN) {
        json_object_set_new(body, "seq", ldg_json_u64(seq));
        cli_print_json(c, json_incref(body));
    } else {
        const char *det = json_string_value(json_object_get(body, "detail"));
        printf("%s: %s %s (%lld bytes)%s%s; seq %llu\n",
               json_string_value(json_object_get(body, "model")),
               rc == 0 ? "OK" : "MISMATCH",
               json_string_value(json_object_get(body, "weights_digest")),
               (long long)json_integer_value(json_object_get(body, "bytes")),
               det ? ": " : "", det ? det : "", (unsigned long long)seq);
    }
    json_decref(body);
    ldg_close(l);
    return rc < 0 ? cli_exit_code(rc) : rc == 1 ? EX_VERIFY : EX_OK;
}

CLI_COMMAND(
    model, CLI_GROUP_STATE, "hash a model's weights",
    "Streams the weights through SHA-256 (a progress line when stderr is a "
    "terminal) and appends model.verified with the digest and whether it "
    "matches. A FILE (e.g. a GGUF) is compared with --expect or with the "
    "digest registered for --model (neither: exit 64, nothing written). A "
    "MODEL served by Ollama is found in Ollama's store: its manifest must "
    "hash to the digest Ollama reported "
    "(the registered one) and the weights blob the manifest names must hash "
    "to the digest the manifest gives; a registered model with a path (from "
    "llama.cpp's /props) hashes that file. Exit 0 when it matches, 1 when "
    "not, 66 when the weights cannot be found.",
    model_opts, CLI_OUT_BASIC,
    "# verify a model Ollama serves\nledger model verify qwen2.5:7b\n"
    "# verify a GGUF file against a published digest (sha256:64 hex)\n"
    "ledger model verify m.gguf --model m --expect \"$DIGEST\"\n",
    0, {.size = sizeof(struct ldg_model_verify_opts), .maxpos = -1});

/* --------------------------------------------------------------- probe -- */

enum { OPT_RUNTIME = 300, OPT_NO_HOST, OPT_DRY, OPT_TMO, OPT_PDIRECT };

#define PROBE_MAX LDG_PROBE_RUNTIMES_MAX

struct probe_args {
    int no_host, dry, direct, verbose;
    uint64_t tmo;
    struct ldg_probe_runtime rts[PROBE_MAX]; /* --runtime's */
    size_t n;
};
static const struct probe_args probe_defaults = {.tmo = 5000};
#define PA struct probe_args
static const struct cli_opt probe_opts[] = {
    CLI_VALUES('r', 'r', "runtime", "NAME=URL",
               "a runtime to ask (repeatable); KIND:URL picks the API "
               "(ollama, llamacpp, openai), else it is detected"),
    CLI_ON(OPT_NO_HOST, 0, "no-host", "skip host.profile and capacity.snapshot",
           PA, no_host),
    CLI_ON('n', 'n', "dry-run", "print what would be appended", PA, dry),
    CLI_NUM(OPT_TMO, 0, "timeout-ms", "N", "per request (default 5000)", PA,
            tmo, 1, 600000),
    CLI_DIRECT_OPT(OPT_PDIRECT, PA, direct),
    CLI_ON('v', 'v', "verbose", "say whether it writes through ledger serve",
           PA, verbose),
    CLI_OPT_END};

/* Appends news through `ledger serve` when it serves c->dir, as
 * `ledger append` does: 0 with seqs filled, -1 when no server answers
 * (write directly), else the exit code (an answer refused, or the
 * connection lost: then what was not answered may or may not be in). */
static int
probe_served(struct cli *c, json_t *news, uint64_t *seqs, int verbose)
{
    struct ldg_client *cl = NULL;
    struct ldg_client_answer ans;
    size_t i, n = json_array_size(news), got = 0;
    json_t *e;
    int rc, ex = EX_OK;

    if ((rc = cli_serve_connect(c, &cl, verbose)) != 0)
        return rc;
    json_array_foreach(news, i, e)
    {
        struct ldg_event_in in = {
            .type = json_string_value(json_object_get(e, "type")),
            .body = json_object_get(e, "body")};
        if ((rc = ldg_client_append(cl, &in, NULL, 0, 0)) < 0)
            break;
    }
    ldg_client_done(cl);
    for (got = 0; got < n; got++) {
        if (ldg_client_wait(cl, &ans, -1) < 0) {
            cli_err(c,
                    "ledger serve: %s: %zu of %zu events acknowledged, the "
                    "rest may or may not be recorded",
                    ldg_client_errmsg(cl), got, n);
            ex = EX_IOERR;
            break;
        }
        if (!ans.ok) {
            cli_err(c, "ledger serve refused %s: %s",
                    json_string_value(
                        json_object_get(json_array_get(news, got), "type")),
                    ans.error);
            if (ex == EX_OK)
                ex = ans.code > 0 && ans.code < 256 ? ans.code : EX_SOFTWARE;
            continue;
        }
        seqs[got] = ans.seq;
    }
    ldg_client_close(cl);
    return ex;
}

/* Prints each _warning of ldg_probe_collect on stderr and leaves them out
 * of *news (replaced by a new array). 0 or an exit code. */
static int
say_warnings(struct cli *c, json_t **news)
{
    json_t *keep = json_array(), *e;
    size_t i;

    if (keep == NULL)
        return cli_fail_err(c, "", LDG_ENOMEM);
    json_array_foreach(*news, i, e)
    {
        json_t *b = json_object_get(e, "body");
        if (strcmp(json_string_value(json_object_get(e, "type")), "_warning") !=
            0) {
            json_array_append(keep, e);
            continue;
        }
        if (json_is_string(json_object_get(b, "why"))) {
            cli_err(c, "runtime %s: %s", sv(b, "runtime"), sv(b, "why"));
            continue;
        }
        char *v = json_dumps(json_object_get(b, "value"),
                             JSON_COMPACT | JSON_ENCODE_ANY);
        cli_err(c,
                "runtime %s: model %s: field '%s' is %s, not a byte count: "
                "%s left out of model.registered",
                sv(b, "runtime"), sv(b, "model"), sv(b, "field"), v ? v : "?",
                sv(b, "left_out"));
        free(v);
    }
    json_decref(*news);
    *news = keep;
    return 0;
}

/* Appends news directly in one commit (all or nothing: a probe of a
 * runtime listing 20,000 models is one transaction and one sync, not
 * 40,000), seqs filled. EX_OK or an exit code (printed). */
static int
probe_commit(struct cli *c, struct ldg_ledger *l, json_t *news, uint64_t *seqs)
{
    struct ldg_batch *b = NULL;
    uint64_t first = 0, n = 0;
    size_t i;
    json_t *e;
    int rc, retried = 0;

again:
    if ((rc = ldg_batch_begin(&b, l)) < 0)
        goto fail;
    json_array_foreach(news, i, e)
    {
        struct ldg_event_in in = {
            .type = json_string_value(json_object_get(e, "type")),
            .body = json_object_get(e, "body")};
        if ((rc = ldg_batch_add_seq(b, &in, &seqs[i], NULL)) < 0)
            break;
    }
    if (rc == 0)
        rc = ldg_batch_commit(b, &first, &n);
    ldg_batch_free(b); /* after LDG_EFULL it grows the map */
    b = NULL;
    if (rc == LDG_EFULL && !retried++)
        goto again;
    if (rc < 0 && i < json_array_size(news)) {
        cli_err(
            c, "cannot append %s: %s (nothing appended)",
            json_string_value(json_object_get(json_array_get(news, i), "type")),
            cli_why(l, rc));
        return cli_exit_code(rc);
    }
    if (rc < 0)
        goto fail;
    return EX_OK;
fail:
    cli_err(c, "cannot append: %s", cli_why(l, rc));
    return cli_exit_code(rc);
}

/* What probe appended (or, dry > 0, would append), one line or object
 * each. */
static void
probe_print(struct cli *c, const json_t *news, const uint64_t *seqs, int dry)
{
    size_t i;
    json_t *e;
    json_array_foreach(news, i, e)
    {
        const char *type = json_string_value(json_object_get(e, "type"));
        json_t *body = json_object_get(e, "body");
        uint64_t seq = seqs[i];
        if (c->out != OUT_HUMAN) {
            json_t *row = json_pack("{s:s, s:O}", "type", type, "body", body);
            if (dry <= 0)
                json_object_set_new(row, "seq", ldg_json_u64(seq));
            cli_print_json(c, row);
        } else {
            char *txt = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
            if (dry > 0)
                printf("would append %-20s %s\n", type, txt ? txt : "");
            else
                printf("%-8llu %-20s %s\n", (unsigned long long)seq, type,
                       txt ? txt : "");
            free(txt);
        }
    }
}

/* --runtime NAME=URL: 0, or the exit code of a usage error */
static int
probe_opt(struct cli *c, void *args, int id, struct cli_args *a)
{
    struct probe_args *x = args;
    int rc;
    if (x->n == PROBE_MAX)
        return cli_usage_err(c, "at most %d runtimes", PROBE_MAX);
    rc = ldg_probe_runtime_parse(a->value, x->rts, x->n, &x->rts[x->n]);
    if (rc == LDG_EEXIST)
        return cli_usage_err(c, "--runtime: runtime '%s' is given twice",
                             x->rts[x->n].name);
    if (rc < 0)
        return cli_usage_err(c,
                             "--runtime: '%s' is not NAME=URL or "
                             "NAME=KIND:URL with an http(s) URL, in UTF-8",
                             a->value);
    x->n++;
    return 0;
}

static int
cmd_probe(struct cli *c, struct probe_args *x, int npos, char **pos)
{
    struct ldg_probe_runtime *rts = x->rts;
    char *own = NULL, err[600];
    size_t n = x->n;
    int rc, ex = EX_OK;
    uint64_t *seqs = NULL;
    struct ldg_ledger *l = NULL;
    json_t *evs = NULL, *news = NULL;

    if ((rc = cli_npos(c, npos, pos, 0, 0, NULL)) != 0)
        return rc;
    if ((rc = cli_view_prepare(c)) != 0)
        goto out_rc;
    if (n == 0 && (rc = ldg_probe_runtimes_load(c->dir, rts, &n, &own, err,
                                                sizeof err)) < 0) {
        cli_err(c, "%s", err);
        rc = cli_exit_code(rc);
        goto out_rc;
    }
    if (n == 0 && x->no_host) {
        cli_err(c,
                "nothing to probe: give --runtime NAME=URL (or list "
                "runtimes in %s/runtimes) or drop --no-host",
                c->dir);
        rc = EX_USAGE;
        goto out_rc;
    }
    if ((rc = cli_open(c, x->dry, &l)) != 0)
        goto out_rc;
    struct ldg_probe_opts o = {.runtimes = rts,
                               .nruntimes = n,
                               .timeout_ms = (long)x->tmo,
                               .host = !x->no_host,
                               .disk_path = c->dir,
                               .proc_root = getenv("LEDGER_PROC_ROOT"),
                               .nvidia_smi = getenv("LEDGER_NVIDIA_SMI")};
    if ((rc = ldg_probe_collect(&o, &evs)) < 0 ||
        (rc = ldg_probe_diff(l, evs, &o, &news)) < 0) {
        cli_err(c, "%s", ldg_strerror(rc));
        ex = cli_exit_code(rc);
        goto out;
    }
    if ((rc = say_warnings(c, &news)) != 0) {
        ex = rc;
        goto out;
    }
    seqs = calloc(json_array_size(news) + 1, sizeof *seqs);
    if (seqs == NULL) {
        cli_err(c, "out of memory");
        ex = EX_OSERR;
        goto out;
    }
    if (!x->dry && !x->direct && json_array_size(news) > 0) {
        rc = probe_served(c, news, seqs, x->verbose);
        if (rc > 0) {
            ex = rc;
            goto out;
        }
        if (rc == 0)
            x->dry = -1; /* appended through the server */
    } else if (!x->dry && x->direct && x->verbose)
        fprintf(stderr, "ledger probe: --direct: writing %s directly\n",
                c->dir);
    if (x->dry == 0 && json_array_size(news) > 0 &&
        (ex = probe_commit(c, l, news, seqs)) != EX_OK)
        goto out;
    probe_print(c, news, seqs, x->dry);
    if (json_array_size(news) == 0)
        fprintf(stderr,
                "ledger probe: no change since the last probe "
                "(%zu observations, nothing appended)\n",
                json_array_size(evs));
out:
    free(seqs);
    json_decref(evs);
    json_decref(news);
    ldg_close(l);
    free(own);
    return ex;
out_rc:
    free(own);
    return rc;
}

CLI_COMMAND(
    probe, CLI_GROUP_STATE, "record what the runtimes and host have",
    "Asks each runtime what it serves (Ollama /api/tags, /api/show, /api/ps; "
    "llama.cpp /props and /v1/models; OpenAI-compatible URL/models) and the "
    "host what it has (/proc, statvfs, nvidia-smi when present), and appends "
    "only what changed since the log's current state: runtime.registered, "
    "runtime.health, model.registered, model.state, host.profile, "
    "capacity.snapshot. Probing twice in a row appends nothing the second "
    "time. Runtimes come from --runtime, or from the file 'runtimes' in the "
    "ledger directory (one NAME=URL a line, # comments). Prints the events "
    "appended; exit 0. When `ledger serve` serves the ledger, the events go "
    "through it (its write path and its access.json), as `ledger append`'s "
    "do; --direct writes directly. A socket it may not reach (permission "
    "denied: a server may be there) is an error (74), not a direct write.",
    probe_opts, CLI_OUT_BASIC,
    "# a local Ollama and a llama.cpp server\n"
    "ledger probe -r ol=http://127.0.0.1:11434 -r lc=llamacpp:http://h:8080\n",
    0,
    {.size = sizeof(struct probe_args),
     .maxpos = -1,
     .opt = probe_opt,
     .defaults = &probe_defaults});
