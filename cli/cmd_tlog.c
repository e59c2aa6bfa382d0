/*
 * cmd_tlog.c — checkpoint, proof, tiles: the transparency-log commands.
 * Their output is the C2SP formats, byte for byte, on stdout.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"

static int
tlog_usage(const char *u)
{
    fprintf(stderr, "usage: ledger %s\n", u);
    return EX_USAGE;
}

static int
open_ro(struct cli *c, struct ldg_ledger **l, struct ldg_txn **t)
{
    int rc;
    if (ldg_default_dir(c->dir, sizeof c->dir, c->dir_opt) < 0) {
        cli_err(c, "cannot tell where the ledger is: give --dir DIR");
        return EX_USAGE;
    }
    if ((rc = cli_open(c, 1, l)) != 0)
        return rc;
    rc = ldg_txn_begin(*l, LDG_TXN_READ, t);
    if (rc < 0) {
        cli_err(c, "%s", ldg_strerror(rc));
        ldg_close(*l);
        return cli_exit_code(rc);
    }
    return 0;
}

static const struct option tlog_opts[] = {
    {"size", required_argument, NULL, 's'},
    {"consistency", required_argument, NULL, 'c'},
    {"dir", required_argument, NULL, 'D'},
    {"output", required_argument, NULL, 'o'},
    {0}};

int
cmd_checkpoint(struct cli *c, int argc, char **argv)
{
    static const char *u = "checkpoint [--size N]";
    struct ldg_ledger *l;
    struct ldg_txn *t;
    uint64_t size = 0;
    char *note;
    int ch, rc;

    optind = 1;
    while ((ch = getopt_long(argc, argv, "o:", tlog_opts, NULL)) != -1) {
        if (ch == 's' && cli_parse_u64(optarg, &size) == 0 && size > 0)
            continue;
        if (ch == 'D') {
            c->dir_opt = optarg;
            continue;
        }
        if (ch == 'o') {
            cli_set_output(c, optarg);
            continue;
        }
        return tlog_usage(u);
    }
    if (optind != argc)
        return tlog_usage(u);
    if ((rc = open_ro(c, &l, &t)) != 0)
        return rc;
    rc = ldg_checkpoint_get(t, size, &note);
    if (rc < 0) {
        if (rc == LDG_ENOTFOUND)
            cli_err(c,
                    "no checkpoint of size %llu is stored (checkpoints "
                    "are signed at the end of each commit)",
                    (unsigned long long)size);
        else
            cli_err(c, "%s", ldg_strerror(rc));
        rc = cli_exit_code(rc);
    } else {
        if (c->out == OUT_HUMAN)
            fputs(note, stdout);
        else
            cli_print_json(c, json_pack("{s:s}", "checkpoint", note));
        free(note);
        rc = EX_OK;
    }
    ldg_txn_abort(t);
    ldg_close(l);
    return rc;
}

int
cmd_proof(struct cli *c, int argc, char **argv)
{
    static const char *u =
        "proof SEQ [--size N] | proof --consistency OLD [--size N]";
    struct ldg_ledger *l;
    struct ldg_txn *t;
    uint64_t size = 0, seq = 0, old = 0;
    int ch, rc, consistency = 0;
    char *text = NULL;

    optind = 1;
    while ((ch = getopt_long(argc, argv, "o:", tlog_opts, NULL)) != -1) {
        if (ch == 's' && cli_parse_u64(optarg, &size) == 0 && size > 0)
            continue;
        if (ch == 'c' && cli_parse_u64(optarg, &old) == 0 && old > 0) {
            consistency = 1;
            continue;
        }
        if (ch == 'D') {
            c->dir_opt = optarg;
            continue;
        }
        if (ch == 'o') {
            cli_set_output(c, optarg);
            continue;
        }
        return tlog_usage(u);
    }
    if (consistency
            ? optind != argc
            : (optind + 1 != argc || cli_parse_u64(argv[optind], &seq) < 0))
        return tlog_usage(u);
    if ((rc = open_ro(c, &l, &t)) != 0)
        return rc;
    if (consistency)
        rc = ldg_consistency_text(t, old, size, &text);
    else
        rc = ldg_proof_text(t, seq, size, &text);
    if (rc < 0) {
        if (rc == LDG_ENOTFOUND && !consistency)
            cli_err(c,
                    "event %llu is not in the tree of size %llu, or no "
                    "checkpoint of that size is stored",
                    (unsigned long long)seq, (unsigned long long)size);
        else if (rc == LDG_EINVAL || rc == LDG_ENOTFOUND)
            cli_err(c,
                    "no consistency proof from %llu to %llu: need 0 < "
                    "OLD <= N <= log size and a stored checkpoint of N",
                    (unsigned long long)old, (unsigned long long)size);
        else
            cli_err(c, "%s", ldg_strerror(rc));
        rc = rc == LDG_EINVAL ? EX_DATAERR : cli_exit_code(rc);
    } else {
        if (c->out == OUT_HUMAN)
            fputs(text, stdout);
        else
            cli_print_json(c, json_pack("{s:s}",
                                        consistency ? "consistency" : "proof",
                                        text));
        rc = EX_OK;
    }
    free(text);
    ldg_txn_abort(t);
    ldg_close(l);
    return rc;
}

int
cmd_tiles(struct cli *c, int argc, char **argv)
{
    static const char *u = "tiles DIR";
    struct ldg_tiles_report r;
    struct ldg_ledger *l;
    int ch, rc;

    optind = 1;
    while ((ch = getopt_long(argc, argv, "o:", tlog_opts, NULL)) != -1) {
        if (ch == 'D') {
            c->dir_opt = optarg;
            continue;
        }
        if (ch == 'o') {
            cli_set_output(c, optarg);
            continue;
        }
        return tlog_usage(u);
    }
    if (optind + 1 != argc)
        return tlog_usage(u);
    if (ldg_default_dir(c->dir, sizeof c->dir, c->dir_opt) < 0) {
        cli_err(c, "cannot tell where the ledger is: give --dir DIR");
        return EX_USAGE;
    }
    if ((rc = cli_open(c, 1, &l)) != 0)
        return rc;
    rc = ldg_tiles_write(l, argv[optind], &r);
    if (rc < 0) {
        cli_err(c, "%s: %s", argv[optind],
                ldg_errmsg(l)[0] ? ldg_errmsg(l) : ldg_strerror(rc));
        rc = cli_exit_code(rc);
    } else {
        if (c->out == OUT_HUMAN) {
            fprintf(stderr,
                    "tiles: size %llu, %llu hash tiles and %llu entry "
                    "bundles written\n",
                    (unsigned long long)r.size,
                    (unsigned long long)r.tiles_written,
                    (unsigned long long)r.bundles_written);
        } else {
            char a[24], b[24], d[24];
            snprintf(a, sizeof a, "%llu", (unsigned long long)r.size);
            snprintf(b, sizeof b, "%llu", (unsigned long long)r.tiles_written);
            snprintf(d, sizeof d, "%llu",
                     (unsigned long long)r.bundles_written);
            cli_print_json(c,
                           json_pack("{s:s, s:s, s:s}", "size", a,
                                     "tiles_written", b, "bundles_written", d));
        }
        rc = EX_OK;
    }
    ldg_close(l);
    return rc;
}
