/*
 * cmd_fleet.c — beyond one box: the witness (init, key, serve).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include "cli/commands.h"
#include "fleet/fleet.h"

static volatile int stop_flag;

static void
on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static char listen_host[64];
static const char *listen_unix; /* --listen unix:PATH, said as given */

static void
on_ready(void *ctx, unsigned port)
{
    if (listen_unix != NULL)
        printf("listening on %s\n", listen_unix);
    else
        printf("listening on %s:%u\n", listen_host, port);
    fflush(stdout);
}

static void
on_log(void *ctx, const char *line)
{
    char ts[LDG_TIME_SEC_LEN];

    ldg_time_rfc3339_sec(ts, sizeof ts, (uint64_t)time(NULL) * 1000000000u);
    fprintf(stderr, "%s witness: %s\n", ts, line);
}

enum { OPT_NAME = 256, OPT_LISTEN, OPT_TRUST };

struct witness_args {
    const char *name, *listen;
    struct cli_list trust;
};
#define WA struct witness_args
static const struct cli_opt witness_opts[] = {
    CLI_ARG("init|key|serve",
            "init: create the witness key in --dir and print its verifier "
            "key; key: print it again; serve: answer add-checkpoint requests",
            0),
    CLI_STR(OPT_NAME, 0, "name", "NAME",
            "init: the witness's key name, a schema-less URL (default "
            "witness.local/w1)",
            WA, name),
    CLI_STR(OPT_LISTEN, 0, "listen", "ADDR",
            "serve: IPv4:PORT to listen on (port 0 picks a free one)", WA,
            listen),
    CLI_LIST(OPT_TRUST, 0, "trust", "VKEY",
             "serve: a log's verifier key: what `ledger keys verifier` "
             "prints (its anchor lines are read and checked, and a witness "
             "needs only the key's line), as text or a file holding it; "
             "repeatable",
             WA, trust),
    CLI_OPT_END};

/* The witness's verifier key: a line, or {"verifier": VKEY} as `keys
 * verifier -o json` prints a log's. */
static void
print_vkey(struct cli *c, const char *vkey)
{
    if (c->out != OUT_HUMAN)
        cli_print_json(c, json_pack("{s:s}", "verifier", vkey));
    else
        printf("%s\n", vkey);
}

/* Each --trust value's verifier line, as `ledger keys verifier` prints
 * it with or without anchor lines after it (text or a file), into *out:
 * one block, the pointers then the lines, which the caller frees; 0 or
 * an exit code after saying why. */
static int
trust_keys(struct cli *c, const struct cli_list *trust, char ***out)
{
    enum { KEYCAP = 600 };
    char **keys;
    int rc;

    *out = NULL;
    keys = calloc(trust->n ? trust->n : 1, sizeof *keys + KEYCAP);
    if (keys == NULL) {
        cli_err(c, "out of memory");
        return EX_OSERR;
    }
    for (size_t i = 0; i < trust->n; i++) {
        struct ldg_anchor_pin *pins = NULL;
        size_t npins = 0;
        keys[i] = (char *)(keys + trust->n) + i * KEYCAP;
        if (strchr(trust->v[i], '+') == NULL &&
            access(trust->v[i], F_OK) != 0) {
            cli_err(c,
                    "--trust '%s': not a log verifier key (the line `ledger "
                    "keys verifier` prints: origin+id+key) nor a file "
                    "holding one",
                    trust->v[i]);
            free(keys);
            return EX_DATAERR;
        }
        rc = cli_trust_arg(c, "--trust", trust->v[i], keys[i], KEYCAP, &pins,
                           &npins);
        free(pins); /* a witness checks the log key's signature only */
        if (rc != 0) {
            free(keys);
            return rc == EX_USAGE ? EX_DATAERR : rc;
        }
    }
    *out = keys;
    return 0;
}

static int
cmd_witness(struct cli *c, struct witness_args *x, int npos, char **pos)
{
    const char *sub, *dir;
    char err[1024] = "", vkey[600], **keys = NULL;
    struct ldg_witness *w = NULL;
    int rc;

    if (npos != 1)
        return cli_usage_err(c, "want one subcommand: init, key or serve");
    sub = pos[0];
    dir = c->dir_opt;
    if (strcmp(sub, "init") && strcmp(sub, "key") && strcmp(sub, "serve"))
        return cli_usage_err(c, "unknown subcommand '%s' (init, key, serve)",
                             sub);
    if (dir == NULL || dir[0] == '\0')
        return cli_usage_err(c, "--dir DIR (the witness's directory) is "
                                "required");
    /* each option belongs to one subcommand: another's is a mistake */
    if (x->name != NULL && strcmp(sub, "init") != 0)
        return cli_usage_err(c, "--name is for init, not %s", sub);
    if ((x->listen != NULL || x->trust.n > 0) && strcmp(sub, "serve") != 0)
        return cli_usage_err(c, "--listen and --trust are for serve, not %s",
                             sub);
    if (c->out != OUT_HUMAN && strcmp(sub, "serve") == 0)
        return cli_usage_err(c, "serve takes no -o: it logs lines");
    if (strcmp(sub, "init") == 0) {
        rc = ldg_witness_init(dir, x->name ? x->name : "witness.local/w1", vkey,
                              sizeof vkey, err, sizeof err);
        if (rc < 0)
            return cli_fail_err(c, err, rc);
        print_vkey(c, vkey);
        return EX_OK;
    }
    if (strcmp(sub, "serve") == 0 && (x->listen == NULL || x->trust.n == 0))
        return cli_usage_err(c, "serve needs --listen ADDR and at least one "
                                "--trust VKEY");
    if ((rc = trust_keys(c, &x->trust, &keys)) != 0)
        return rc;
    rc = ldg_witness_open(&w, dir, (const char *const *)keys, x->trust.n, err,
                          sizeof err);
    free(keys);
    if (rc < 0)
        return cli_fail_err(c, err, rc);
    if (strcmp(sub, "key") == 0) {
        print_vkey(c, ldg_witness_vkey(w));
        rc = EX_OK;
    } else {
        struct ldg_witness_serve_options o = {0};
        struct sigaction sa = {0};
        const char *colon = strrchr(x->listen, ':');
        sa.sa_handler = on_signal;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        snprintf(listen_host, sizeof listen_host, "%.*s",
                 colon ? (int)(colon - x->listen) : 0, x->listen);
        listen_unix = strncmp(x->listen, "unix:", 5) == 0 ? x->listen : NULL;
        o.addr = x->listen;
        o.stop = &stop_flag;
        o.on_ready = on_ready;
        o.on_log = on_log;
        rc = ldg_witness_serve(w, &o, err, sizeof err);
        if (rc < 0) {
            cli_err(c, "%s", err[0] ? err : ldg_strerror(rc));
            rc = rc == LDG_EBADINPUT ? EX_USAGE : cli_exit_code(rc);
        } else {
            rc = EX_OK;
        }
    }
    ldg_witness_free(w);
    return rc;
}

CLI_COMMAND(
    witness, CLI_GROUP_TLOG, "a C2SP tlog-witness that cosigns checkpoints",
    "A C2SP tlog-witness. --dir is the witness's own directory (not a "
    "ledger). It keeps the latest checkpoint it cosigned per log origin and "
    "cosigns a new one (a C2SP tlog-cosignature/v1, Ed25519) only with a "
    "valid consistency proof from it; rollbacks and forks are refused "
    "(409, 422) and kept under DIR/refused as evidence.\n\n"
    "serve prints \"listening on ADDR:PORT\" on stdout once it accepts "
    "POST /add-checkpoint, logs one line per request on stderr and stops "
    "on SIGINT or SIGTERM. Exit codes: 64 bad options or address, 65 a "
    "malformed --trust key, 66 no witness in --dir, 73 init over an "
    "existing witness, 77 a key file others can read. See docs/FLEET.md.",
    witness_opts, NULL,
    "# create a witness and serve two boxes\n"
    "ledger witness init --dir wdir --name witness.example/w1\n"
    "VKEY=$(ledger --dir box1 keys verifier)\n"
    "ledger witness serve --listen 127.0.0.1:8380 --dir wdir --trust "
    "\"$VKEY\"\n",
    0, {.size = sizeof(struct witness_args), .maxpos = -1});

/* A call to another box that failed: said; 64 for a misuse, 74 when the
 * network failed, else rc's exit code. */
static int
remote_fail(struct cli *c, const char *err, int rc)
{
    int ex = cli_fail_err(c, err, rc);
    if (rc == LDG_EINVAL)
        return EX_USAGE;
    return rc == LDG_ENET || rc == LDG_ETIMEOUT || rc == LDG_EHTTP ? EX_IOERR
                                                                   : ex;
}

/* ------------------------------------------------------------ publish -- */

enum { OPT_WITNESS = 400, OPT_NOW };

#define WITNESS_URL_MAX 2048 /* with its NUL */

struct publish_args {
    struct cli_list wit;
    int now;
};
static const struct cli_opt publish_opts[] = {
    CLI_ARG("URL",
            "where to publish: an http(s) prefix that accepts PUT (WebDAV), "
            "s3://BUCKET/PREFIX, or a directory",
            0),
    CLI_LIST(OPT_WITNESS, 0, "witness", "'URL VKEY'",
             "submit the checkpoint to this witness (its URL prefix and "
             "cosigner key, one argument); repeatable. Unreachable "
             "witnesses are retried from an outbox by later runs",
             struct publish_args, wit),
    CLI_ON(OPT_NOW, 0, "retry-now",
           "try witnesses in the outbox now, ignoring the backoff",
           struct publish_args, now),
    CLI_OPT_END};

static int
cmd_publish(struct cli *c, struct publish_args *x, int npos, char **pos)
{
    struct ldg_ledger *l = NULL;
    struct ldg_publish_report r;
    char err[1024] = "";
    int rc, pub_rc = 0, worst = EX_OK;
    json_t *wj = NULL;

    /* Every --witness is checked before anything is published: one that
     * can never be reached (not an http(s) URL) or whose key is not a
     * witness's is a usage error, not an outbox entry retried forever. */
    for (size_t i = 0; i < x->wit.n; i++) {
        const char *w = x->wit.v[i], *sp = strchr(w, ' ');
        char wname[LDG_ORIGIN_MAX + 1];
        uint8_t wpub[32];
        size_t ul = sp ? (size_t)(sp - w) : 0;
        if (sp == NULL)
            return cli_usage_err(c, "--witness '%s': want 'URL VKEY'", w);
        if (ul >= WITNESS_URL_MAX) /* the outbox keeps it whole */
            return cli_usage_err(c,
                                 "--witness: a URL of %zu bytes (at most "
                                 "%d)",
                                 ul, WITNESS_URL_MAX - 1);
        if (!((ul > 7 && strncmp(w, "http://", 7) == 0) ||
              (ul > 8 && strncmp(w, "https://", 8) == 0)))
            return cli_usage_err(c,
                                 "--witness '%s': '%.*s' is not an http(s) "
                                 "URL (the witness's submission prefix)",
                                 w, (int)ul, w);
        if (ldg_cosig_parse_verifier(sp + 1, wname, sizeof wname, wpub) < 0)
            return cli_usage_err(c,
                                 "--witness '%s': '%s' is not a witness "
                                 "(cosignature) verifier key (`ledger "
                                 "witness key` prints it)",
                                 w, sp + 1);
    }
    if (npos != 1)
        return cli_usage_err(c, "want one URL");
    /* the outbox is kept per witness: which to retry is said by --witness */
    if (x->now && x->wit.n == 0)
        return cli_usage_err(c, "--retry-now retries the --witness named "
                                "with it: give --witness 'URL VKEY'");
    if ((rc = cli_resolve_dir(c)) != 0 || (rc = cli_open(c, 1, &l)) != 0)
        return rc;
    rc = ldg_publish(l, pos[0], &r, err, sizeof err);
    if (rc < 0) {
        cli_err(c, "%s", err[0] ? err : ldg_strerror(rc));
        pub_rc = rc;
        worst = rc == LDG_EINVAL ? EX_USAGE : cli_exit_code(rc);
        if ((rc != LDG_ENET && rc != LDG_ETIMEOUT && rc != LDG_EHTTP &&
             rc != LDG_EIO) ||
            x->wit.n == 0) {
            ldg_close(l);
            return worst;
        }
        /* The upload failed (the remote is unreachable: a box offline):
         * the witnesses still get the checkpoint, or it waits in their
         * outbox, so nothing is lost for the next run. */
    }
    wj = json_array();
    for (size_t i = 0; i < x->wit.n; i++) {
        struct ldg_submit_report sr;
        char wurl[WITNESS_URL_MAX];
        const char *sp = strchr(x->wit.v[i], ' ');
        snprintf(wurl, sizeof wurl, "%.*s", (int)(sp - x->wit.v[i]),
                 x->wit.v[i]);
        rc = ldg_witness_submit(l, wurl, sp + 1, x->now ? LDG_SUBMIT_NOW : 0u,
                                &sr);
        json_array_append_new(
            wj, json_pack("{s:s,s:s,s:o,s:s}", "witness", wurl, "outcome",
                          rc < 0 && sr.outcome != LDG_SUBMIT_REFUSED ? "error"
                          : sr.outcome == LDG_SUBMIT_COSIGNED ? "cosigned"
                          : sr.outcome == LDG_SUBMIT_UPTODATE ? "up-to-date"
                          : sr.outcome == LDG_SUBMIT_QUEUED   ? "queued"
                                                              : "refused",
                          "cosigned_size", ldg_json_u64(sr.cosigned), "what",
                          sr.what));
        if (rc < 0) {
            cli_err(c, "witness %s: %s", wurl, sr.what);
            if (rc == LDG_ETAMPER || rc == LDG_EBADSIG)
                worst = EX_VERIFY;
            else if (worst == EX_OK)
                worst = rc == LDG_EBADINPUT ? EX_USAGE : cli_exit_code(rc);
        } else if (sr.outcome == LDG_SUBMIT_QUEUED) {
            cli_err(c, "warning: %s", sr.what);
        } else if (c->out == OUT_HUMAN) {
            fprintf(stderr, "%s\n", sr.what);
        }
    }
    ldg_close(l);
    if (pub_rc < 0) {
        /* nothing was published: the error is on stderr; the witnesses'
         * outcomes too (human), or on stdout for scripts */
        if (c->out != OUT_HUMAN)
            cli_print_json(c, json_pack("{s:s,s:s,s:O}", "url", pos[0], "error",
                                        err[0] ? err : ldg_strerror(pub_rc),
                                        "witnesses", wj));
        json_decref(wj);
        return worst;
    }
    if (c->out == OUT_HUMAN) {
        if (r.files_put == 0)
            printf("%s: already published at size %llu; nothing new\n", pos[0],
                   (unsigned long long)r.size);
        else
            printf("%s: published size %llu (was %llu): %llu files, %llu "
                   "bytes\n",
                   pos[0], (unsigned long long)r.size,
                   (unsigned long long)r.old_size,
                   (unsigned long long)r.files_put,
                   (unsigned long long)r.bytes_put);
    } else {
        cli_print_json(c, json_pack("{s:s,s:o,s:o,s:I,s:I,s:O}", "url", pos[0],
                                    "size", ldg_json_u64(r.size), "old_size",
                                    ldg_json_u64(r.old_size), "files",
                                    (json_int_t)r.files_put, "bytes",
                                    (json_int_t)r.bytes_put, "witnesses", wj));
    }
    json_decref(wj);
    return worst;
}

CLI_COMMAND(
    publish, CLI_GROUP_TLOG, "upload the log as C2SP tlog-tiles",
    "Uploads the log as C2SP tlog-tiles: entry bundles and hash tiles "
    "first, the signed checkpoint last, so a reader never sees a checkpoint "
    "whose tiles are missing. Only what is new since the last complete "
    "publish to URL is sent; an interrupted publish is resumed by the next "
    "one. s3:// URLs are signed with AWS SigV4: credentials from "
    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, region from AWS_REGION, "
    "endpoint from LEDGER_S3_ENDPOINT (else AWS). Prints the sizes and what "
    "was sent. Exit 74 when the remote fails (nothing recorded; the "
    "witnesses are still given the checkpoint, or it waits in their "
    "outbox).\n\n"
    "With --witness, the checkpoint is then submitted to each witness (C2SP "
    "tlog-witness) with a consistency proof from the size it last "
    "cosigned; verified cosignatures are kept (ledger checkpoint "
    "--cosigned). A witness that cannot be reached gets the submission "
    "queued in an outbox, retried with backoff by later runs (a warning, "
    "exit 0); a witness that refuses our history (a fork or rollback) "
    "makes the exit 1.",
    publish_opts, CLI_OUT_BASIC,
    "# publish to a WebDAV share, then again (only the increment)\n"
    "ledger publish http://127.0.0.1:8080/logs/box1\n"
    "ledger publish s3://fleet-logs/box1\n"
    "ledger publish http://h/logs/box1 --witness \"http://w:8380 $WVKEY\"\n",
    0, {.size = sizeof(struct publish_args), .maxpos = -1});

/* ------------------------------------------------------------- mirror -- */

enum { OPT_STATE = 300, OPT_KEY, OPT_LIST };

struct mirror_args {
    const char *state, *key, *list;
};
#define RA struct mirror_args
static const struct cli_opt mirror_opts[] = {
    CLI_ARG("URL", "the published log (as given to ledger publish)",
            CLI_OPTIONAL),
    CLI_STR(OPT_STATE, 0, "state", "DIR",
            "the verified copy (a servable tlog-tiles tree) and what the "
            "mirror remembers",
            RA, state),
    CLI_STR(OPT_KEY, 0, "key", "VKEY|FILE",
            "the log's verifier key (`ledger keys verifier` on the box), "
            "or a file holding what it prints: with the log key's anchor "
            "line, each checkpoint's epoch signature is checked too; "
            "needed until a checkpoint verifies with it, then remembered "
            "in DIR",
            RA, key),
    CLI_STR(OPT_LIST, 0, "list", "FILE",
            "mirror many logs: one \"URL DIR [VKEY]\" a line (# comments)", RA,
            list),
    CLI_OPT_END};

static int
mirror_one(struct cli *c, const char *url, const char *state, const char *key)
{
    struct ldg_remote *r = NULL;
    struct ldg_fetcher f;
    struct ldg_mirror_report rep;
    struct ldg_anchor_pin *pins = NULL;
    size_t npins = 0;
    char err[1536] = "", vkey[1024];
    int rc;

    /* the key or a file holding it, read as verify-bundle reads
     * --trusted-key (the text of a file name is never a key), with the
     * anchors `keys verifier` names after it */
    if (key != NULL) {
        if ((rc = cli_trust_arg(c, "--key", key, vkey, sizeof vkey, &pins,
                                &npins)) != 0)
            return rc;
        key = vkey;
    }
    rc = ldg_remote_open(&r, url, err, sizeof err);
    if (rc < 0) {
        free(pins);
        cli_err(c, "%s", err);
        return EX_USAGE;
    }
    ldg_remote_fetcher(r, &f);
    rc = ldg_mirror_sync(state, key, pins, npins, &f, &rep, err, sizeof err);
    ldg_remote_free(r);
    free(pins);
    if (c->out != OUT_HUMAN) {
        char ep[32];
        snprintf(ep, sizeof ep, "%u.%u", rep.period, rep.sub);
        cli_print_json(c, json_pack("{s:s,s:s,s:s,s:o,s:o,s:I,s:I,s:s*,s:s}",
                                    "url", url, "state", state, "origin",
                                    rep.origin, "old_size",
                                    ldg_json_u64(rep.old_size), "size",
                                    ldg_json_u64(rep.size), "tiles",
                                    (json_int_t)rep.tiles_fetched, "bundles",
                                    (json_int_t)rep.bundles_fetched, "epoch",
                                    rc == 0 && rep.epoch ? ep : NULL, "status",
                                    rc == 0 ? "ok" : err));
    }
    if (rc < 0) {
        cli_err(c, "%s: %s", url, err[0] ? err : ldg_strerror(rc));
        if (rc == LDG_ENOTFOUND || rc == LDG_ENET || rc == LDG_ETIMEOUT ||
            rc == LDG_EHTTP)
            return EX_IOERR;
        return cli_exit_code(rc);
    }
    if (c->out == OUT_HUMAN) {
        char ep[96] = "";
        if (rep.epoch)
            snprintf(ep, sizeof ep,
                     " (signed by epoch %u.%u of the log key, certified "
                     "from its anchor)",
                     rep.period, rep.sub);
        if (rep.entries_added == 0)
            printf("%s: %s verified at size %llu%s; nothing new\n", url,
                   rep.origin, (unsigned long long)rep.size, ep);
        else
            printf("%s: %s verified at size %llu%s (was %llu): %llu "
                   "bundles, %llu tiles, %llu bytes fetched\n",
                   url, rep.origin, (unsigned long long)rep.size, ep,
                   (unsigned long long)rep.old_size,
                   (unsigned long long)rep.bundles_fetched,
                   (unsigned long long)rep.tiles_fetched,
                   (unsigned long long)rep.bytes_fetched);
    }
    return EX_OK;
}

static int
cmd_mirror(struct cli *c, struct mirror_args *x, int npos, char **pos)
{
    int rc, worst = EX_OK;

    if (x->list == NULL) {
        if (npos != 1 || x->state == NULL)
            return cli_usage_err(c, "want URL --state DIR (or --list FILE)");
        return mirror_one(c, pos[0], x->state, x->key);
    }
    if (npos != 0 || x->state != NULL || x->key != NULL)
        return cli_usage_err(c, "--list FILE takes no URL, --state or --key");
    {
        FILE *fp = cli_fopen_input(x->list); /* a directory: 66 too */
        char line[8192];
        unsigned lineno = 0, n = 0;
        if (fp == NULL) {
            cli_err(c, "cannot open %s: %s", x->list, strerror(errno));
            return EX_NOINPUT;
        }
        while (fgets(line, sizeof line, fp) != NULL) {
            char *u, *d, *k, *save = NULL;
            lineno++;
            if (strchr(line, '\n') == NULL && !feof(fp)) {
                /* its tail would be read as another line */
                cli_err(c, "%s:%u: line longer than %zu bytes", x->list, lineno,
                        sizeof line - 2);
                fclose(fp);
                return EX_DATAERR;
            }
            u = strtok_r(line, " \t\r\n", &save);
            if (u == NULL || u[0] == '#')
                continue;
            d = strtok_r(NULL, " \t\r\n", &save);
            k = strtok_r(NULL, " \t\r\n", &save);
            if (d == NULL || strtok_r(NULL, " \t\r\n", &save) != NULL) {
                cli_err(c, "%s:%u: want \"URL DIR [VKEY]\"", x->list, lineno);
                fclose(fp);
                return EX_DATAERR;
            }
            n++;
            rc = mirror_one(c, u, d, k);
            /* verification failures outrank fetch failures */
            if (rc == EX_VERIFY || (rc != EX_OK && worst == EX_OK))
                worst = rc;
        }
        if (ferror(fp)) { /* not "no logs listed" of a list not read */
            cli_err(c, "reading %s: %s", x->list, strerror(errno));
            fclose(fp);
            return EX_IOERR;
        }
        fclose(fp);
        if (n == 0) {
            cli_err(c, "%s: no logs listed", x->list);
            return EX_DATAERR;
        }
    }
    return worst;
}

CLI_COMMAND(
    mirror, CLI_GROUP_TLOG, "fetch and verify a published log",
    "Fetches a log published as C2SP tlog-tiles and keeps a verified copy "
    "in the state directory. The checkpoint's signature is checked with the "
    "log's key; every tile is recomputed from the entries and the copy "
    "already verified, so a rollback, a fork (a rewritten history, even "
    "signed with the same key), a changed bundle or a tile that disagrees "
    "with its entries is an error naming the sizes and hashes. Only new "
    "tiles are fetched. The copy is written checkpoint last and can be "
    "served as it is. Given the log key's anchor (what `ledger keys "
    "verifier` prints, in --key FILE), each checkpoint's epoch signature is "
    "checked from it too, and a fork of two checkpoints under epoch keys is "
    "named an equivocation. Exit 0 when every log verified, 1 when one did "
    "not, 74 when one could not be fetched, 75 when a checkpoint and its "
    "checkpoint.epoch disagree (a publish in progress), 77 another key or "
    "anchor, 64 no key the first time.",
    mirror_opts, CLI_OUT_BASIC,
    "# first time, with the key; then just the URL and state\n"
    "ledger mirror http://logs.example/box1 --state m/box1 --key \"$VKEY\"\n"
    "# with the anchors: `ledger keys verifier > box1.pin` on the box\n"
    "ledger mirror http://logs.example/box1 --state m/box1 --key box1.pin\n"
    "ledger mirror --list boxes.txt\n",
    0, {.size = sizeof(struct mirror_args), .maxpos = -1});

/* --------------------------------------------------------------- ship -- */

enum { OPT_TABLE = 500, OPT_BATCH, OPT_MIRROR };

struct ship_args {
    const char *table;
    size_t batch;
};
static const struct cli_opt ship_opts[] = {
    CLI_ARG("URL",
            "ClickHouse's HTTP endpoint, e.g. "
            "http://127.0.0.1:8123/?database=fleet",
            0),
    CLI_STR(OPT_TABLE, 0, "table", "T",
            "the table (created if missing; default ledger_events)",
            struct ship_args, table),
    CLI_NUM(OPT_BATCH, 0, "batch", "N",
            "events per INSERT (default 20000): memory is one batch",
            struct ship_args, batch, 1, 1000000),
    CLI_OPT_END};

static int
cmd_ship(struct cli *c, struct ship_args *x, int npos, char **pos)
{
    struct ldg_ledger *l = NULL;
    struct ldg_ship_report r;
    char err[1024] = "";
    int rc;

    if (npos != 1)
        return cli_usage_err(c, "want one URL");
    if ((rc = cli_open(c, 1, &l)) != 0)
        return rc;
    rc = ldg_ship(l, pos[0], x->table, x->batch, &r, err, sizeof err);
    ldg_close(l);
    if (rc < 0)
        return remote_fail(c, err, rc);
    if (c->out == OUT_HUMAN)
        printf("shipped %llu events [%llu, %llu) in %llu batches\n",
               (unsigned long long)r.shipped, (unsigned long long)r.from,
               (unsigned long long)r.to, (unsigned long long)r.batches);
    else
        cli_print_json(
            c, json_pack("{s:I,s:o,s:o,s:I}", "shipped", (json_int_t)r.shipped,
                         "from", ldg_json_u64(r.from), "to", ldg_json_u64(r.to),
                         "batches", (json_int_t)r.batches));
    return EX_OK;
}

CLI_COMMAND(
    ship, CLI_GROUP_TLOG, "stream events into ClickHouse",
    "Streams the log's events into a ClickHouse table over its HTTP "
    "interface (JSONEachRow INSERTs), creating the table if missing (the "
    "schema is in docs/FLEET.md). It resumes after the largest seq the "
    "table already holds for this log's origin, so running it again ships "
    "only what is new; delivery is at least once and the table keeps one "
    "row per (origin, seq). Each row carries the entry bytes, the leaf "
    "hash and the body's salts, so `ledger audit-central` can re-check it "
    "against the box's published tiles. Exit 74 when ClickHouse fails.",
    ship_opts, CLI_OUT_BASIC,
    "ledger ship 'http://127.0.0.1:8123/?database=fleet'\n"
    "ledger ship http://127.0.0.1:8123/ --table box_events\n",
    0, {.size = sizeof(struct ship_args), .maxpos = -1});

/* ------------------------------------------------------ audit-central -- */

struct audit_args {
    const char *table;
    struct cli_list mirrors;
};
static const struct cli_opt audit_opts[] = {
    CLI_ARG("URL", "ClickHouse's HTTP endpoint (as given to ledger ship)", 0),
    CLI_LIST(OPT_MIRROR, 0, "mirror", "DIR",
             "a `ledger mirror` state directory, or a directory of them; "
             "repeatable",
             struct audit_args, mirrors),
    CLI_STR(OPT_TABLE, 0, "table", "T", "the table (default ledger_events)",
            struct audit_args, table),
    CLI_OPT_END};

static void
print_finding(void *ctx, const char *line)
{
    struct cli *c = ctx;

    if (c->out == OUT_HUMAN)
        printf("%s\n", line);
    else
        cli_print_json(c, json_pack("{s:s}", "finding", line));
}

static int
cmd_audit_central(struct cli *c, void *args, int npos, char **pos)
{
    struct ldg_audit_report r;
    struct audit_args *x = args;
    char err[1024] = "";
    int rc;

    if (npos != 1 || x->mirrors.n == 0)
        return cli_usage_err(c, "want URL and at least one --mirror DIR");
    rc = ldg_audit_central(pos[0], x->table, x->mirrors.v, x->mirrors.n,
                           print_finding, c, &r, err, sizeof err);
    if (rc < 0 && rc != LDG_ETAMPER)
        return remote_fail(c, err, rc);
    fprintf(stderr,
            "audit-central: %llu origins, %llu rows checked, %llu "
            "discrepancies (%llu missing, %llu not in the log, %llu origins "
            "without a mirror)\n",
            (unsigned long long)r.origins, (unsigned long long)r.rows,
            (unsigned long long)r.findings, (unsigned long long)r.missing,
            (unsigned long long)r.extra, (unsigned long long)r.unmirrored);
    return rc == LDG_ETAMPER ? EX_VERIFY : EX_OK;
}

const struct cli_command cli_cmd_audit_central = {
    "audit-central",
    CLI_GROUP_TLOG,
    cmd_audit_central,
    "check the central table against verified mirrors",
    "Compares the ClickHouse table with verified mirrors, per origin: rows "
    "missing, rows whose entry does not hash to the mirrored tile's leaf, "
    "rows whose columns or body disagree with the entry and its body "
    "commitment, rows that exist in ClickHouse but not in the log, and "
    "origins with no mirror. Prints one line per discrepancy on stdout and "
    "a summary on stderr. Exit 0 when there is none, 1 when there is any, "
    "74 when ClickHouse fails.",
    audit_opts,
    CLI_OUT_BASIC,
    "ledger audit-central 'http://127.0.0.1:8123/?database=fleet' "
    "--mirror m/\n",
    0,
    {.size = sizeof(struct audit_args), .maxpos = -1}};
