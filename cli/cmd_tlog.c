/*
 * cmd_tlog.c — checkpoint, proof, tiles: the transparency-log commands.
 * Their output is the C2SP formats, byte for byte, on stdout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "fleet/fleet.h"

/* checkpoint's and proof's options */
struct tlog_args {
    uint64_t size, old; /* --size (0: the latest), --consistency */
    int cosigned, consistency;
};

/* --size N and --consistency OLD: 0, or the exit code of a usage error */
static int
tlog_opt(struct cli *c, void *args, int id, struct cli_args *a)
{
    struct tlog_args *x = args;
    if (id == 's' && cli_parse_u64(a->value, &x->size) == 0 && x->size > 0)
        return 0;
    if (id == 'c' && cli_parse_u64(a->value, &x->old) == 0) {
        x->consistency = 1;
        return 0;
    }
    return cli_usage_err(c, "--%s: '%s' is not a %s",
                         id == 's' ? "size" : "consistency", a->value,
                         id == 's' ? "tree size (1 or more)"
                                   : "tree size (0 or more)");
}

static const struct cli_opt checkpoint_opts[] = {
    CLI_VALUE('s', 0, "size", "N",
              "the checkpoint of the tree of size N (default: the latest)"),
    CLI_ON(300, 0, "cosigned",
           "the newest checkpoint witnesses cosigned (of size N with "
           "--size), with their cosignatures (see ledger publish "
           "--witness)",
           struct tlog_args, cosigned),
    CLI_OPT_END};

static int
cmd_checkpoint(struct cli *c, const struct tlog_args *x, int npos, char **pos)
{
    uint64_t size = x->size, held;
    int cosigned = x->cosigned, rc;
    struct ldg_ledger *l;
    struct ldg_txn *t;
    char *note;
    size_t note_len;

    if ((rc = cli_open_read(c, &l, &t)) != 0)
        return rc;
    if (cosigned)
        rc = ldg_cosigned_get(l, size, &note, &note_len);
    else
        rc = ldg_checkpoint_get(t, size, &note);
    if (rc < 0) {
        if (rc == LDG_ENOTFOUND && cosigned)
            cli_err(c,
                    "no cosigned checkpoint%s is kept (ledger publish "
                    "--witness submits them)",
                    size ? " of that size" : "");
        else if (rc == LDG_ENOTFOUND)
            cli_err(c,
                    "no checkpoint of size %llu is stored (checkpoints "
                    "are signed at the end of each commit)",
                    (unsigned long long)size);
        else
            cli_err(c, "%s", ldg_strerror(rc));
        rc = cli_exit_code(rc);
    } else if ((rc = ldg_checkpoint_check(t, note,
                                          cosigned ? note_len : strlen(note),
                                          &held)) == LDG_EPRUNED) {
        /* store layout 9: its size is among the tree hashes a prune
         * dropped; the note is the log key's (checked), its root is not
         * the stored tree's to give */
        cli_print_text(c, "checkpoint", note);
        cli_err(c, "note: its signature was checked, not its root: %s",
                cli_why(l, rc));
        free(note);
        rc = EX_OK;
    } else if (rc == LDG_ENOMEM) {
        cli_err(c, "checking the stored checkpoint: %s; nothing printed",
                ldg_strerror(rc));
        free(note);
        rc = EX_OSERR;
    } else if (rc < 0) {
        /* handed out as a trust anchor: never one the log key did not
         * sign */
        char why[128];
        snprintf(why, sizeof why, "is not the stored tree's (%s)",
                 ldg_strerror(rc));
        cli_err(c,
                "storage corrupt: the stored checkpoint %s; nothing printed: "
                "ledger verify --full names it",
                rc == LDG_ETAMPER     ? "has another root than the stored tree"
                : rc == LDG_EBADSIG   ? cli_why(l, rc)
                : rc == LDG_EBADINPUT ? "does not decode (or names another log)"
                                      : why);
        free(note);
        rc = EX_DATAERR;
    } else {
        cli_print_text(c, "checkpoint", note);
        free(note);
        rc = EX_OK;
    }
    ldg_txn_abort(t);
    ldg_close(l);
    return rc;
}

CLI_COMMAND(
    checkpoint, CLI_GROUP_TLOG, "the latest (or size N) signed checkpoint",
    "Prints a signed checkpoint of the log's Merkle tree in the C2SP "
    "tlog-checkpoint format, byte for byte: the origin, the tree size, the "
    "root hash and the log key's signature. Save one somewhere else (or "
    "publish it) and `ledger verify --trusted FILE` later proves the log "
    "was only appended to since. A stored checkpoint whose signature does "
    "not verify with the log key is not printed (exit 65: storage "
    "corrupt).",
    checkpoint_opts, CLI_OUT_BASIC,
    "ledger checkpoint > trusted-checkpoint.txt\n"
    "ledger checkpoint --size 100\n"
    "ledger checkpoint --cosigned\n",
    CLI_CMD_GATHER, {.size = sizeof(struct tlog_args), .opt = tlog_opt});

static const struct cli_opt proof_opts[] = {
    CLI_VALUE('s', 0, "size", "N",
              "prove against the tree of size N (default: the latest "
              "checkpoint)"),
    CLI_VALUE('c', 0, "consistency", "OLD",
              "instead of an inclusion proof: prove that the tree of size N "
              "extends the tree of size OLD"),
    CLI_ARG("SEQ", "the event to prove (not with --consistency)", CLI_OPTIONAL),
    CLI_OPT_END};

static int
cmd_proof(struct cli *c, const struct tlog_args *x, int npos, char **pos)
{
    uint64_t size = x->size, seq = 0, old = x->old;
    int rc, consistency = x->consistency;
    struct ldg_ledger *l;
    struct ldg_txn *t;
    char *text = NULL;

    if (consistency && npos > 0)
        return cli_usage_err(c, "--consistency OLD takes no SEQ ('%s' given)",
                             pos[0]);
    if (!consistency &&
        (rc = cli_one_seq(c, npos, pos,
                          "the event to prove (or --consistency OLD)", &seq)))
        return rc;
    if ((rc = cli_open_read(c, &l, &t)) != 0)
        return rc;
    if (consistency)
        rc = ldg_consistency_text(t, old, size, &text);
    else
        rc = ldg_proof_text(t, seq, size, &text);
    if (rc < 0) {
        uint64_t latest = 0;
        if (size == 0 && ldg_txn_size(t, &latest) < 0)
            latest = 0;
        if (rc == LDG_ENOTFOUND && !consistency && size == 0)
            cli_err(c,
                    "event %llu is not in the log, which holds %llu events "
                    "(its last is %llu)",
                    (unsigned long long)seq, (unsigned long long)latest,
                    (unsigned long long)(latest ? latest - 1 : 0));
        else if (rc == LDG_ENOTFOUND && !consistency && seq >= size)
            cli_err(c,
                    "event %llu is not in the tree of size %llu (it holds "
                    "events 0..%llu)",
                    (unsigned long long)seq, (unsigned long long)size,
                    (unsigned long long)(size - 1));
        else if (rc == LDG_ENOTFOUND && !consistency) {
            /* no checkpoint of that size: name the nearest */
            uint64_t lo = 0, hi = 0;
            int has_lo = ldg_checkpoint_floor(t, size, &lo) == 0;
            int has_hi = ldg_checkpoint_ceil(t, size, &hi) == 0;
            char near[96] = "";
            if (has_lo && has_hi)
                snprintf(near, sizeof near,
                         ": the nearest are of size %llu "
                         "and %llu",
                         (unsigned long long)lo, (unsigned long long)hi);
            else if (has_lo || has_hi)
                snprintf(near, sizeof near, ": the nearest is of size %llu",
                         (unsigned long long)(has_lo ? lo : hi));
            cli_err(c,
                    "no checkpoint of size %llu is stored (one is signed "
                    "where each commit ends%s)",
                    (unsigned long long)size, near);
        } else if (rc == LDG_EINVAL || rc == LDG_ENOTFOUND)
            cli_err(c,
                    "no consistency proof from %llu to %s%.0llu: need 0 <= "
                    "OLD <= N <= log size and a stored checkpoint of N%s",
                    (unsigned long long)old, size ? "" : "the latest",
                    (unsigned long long)size,
                    rc == LDG_ENOTFOUND ? " (not in this log)" : "");
        else
            cli_err(c, "%s", cli_why(l, rc));
        rc = rc == LDG_EINVAL ? EX_DATAERR : cli_exit_code(rc);
    } else {
        cli_print_text(c, consistency ? "consistency" : "proof", text);
        rc = EX_OK;
    }
    free(text);
    ldg_txn_abort(t);
    ldg_close(l);
    return rc;
}

CLI_COMMAND(
    proof, CLI_GROUP_TLOG, "inclusion or consistency proof",
    "Prints a proof a third party can check against a signed checkpoint "
    "without the ledger: for SEQ, a tlog-proof@v1 inclusion proof (the "
    "event's entry, its index, the audit path and the checkpoint); with "
    "--consistency OLD, the RFC 6962 consistency proof between the trees "
    "of size OLD and N. At store layout 9 a prune drops the pruned "
    "events' tree hashes: a proof that needs them exits 66, naming the "
    "archive that proves it.",
    proof_opts, CLI_OUT_BASIC,
    "# prove event 5 is in the log\n"
    "ledger proof 5\n"
    "# prove the tree of size 40 extends the tree of size 10\n"
    "ledger proof --consistency 10 --size 40\n",
    CLI_CMD_GATHER,
    {.size = sizeof(struct tlog_args), .maxpos = -1, .opt = tlog_opt});

static const struct cli_opt tiles_opts[] = {
    CLI_ARG("OUTDIR", "where the tiles are written (created if missing)", 0),
    CLI_OPT_END};

static int
cmd_tiles(struct cli *c, void *args, int npos, char **pos)
{
    struct ldg_tiles_report r;
    struct ldg_ledger *l;
    int rc;

    if ((rc = cli_npos(c, npos, pos, 1, 1,
                       "OUTDIR is needed: the directory to write the tiles "
                       "into")) != 0)
        return rc;
    if ((rc = cli_open(c, 1, &l)) != 0)
        return rc;
    rc = ldg_tiles_write(l, pos[0], &r);
    if (rc < 0) {
        cli_err(c, "%s: %s", pos[0], cli_why(l, rc));
        rc = cli_exit_code(rc);
    } else {
        if (c->out == OUT_HUMAN) {
            fprintf(stderr,
                    "tiles: size %llu, %llu hash tile%s and %llu entry "
                    "bundle%s written\n",
                    (unsigned long long)r.size,
                    (unsigned long long)r.tiles_written,
                    r.tiles_written == 1 ? "" : "s",
                    (unsigned long long)r.bundles_written,
                    r.bundles_written == 1 ? "" : "s");
            /* a pruned ledger: the bundles of pruned events are in no
             * ledger any more (a publication keeps its files); the one the
             * horizon falls in is written with the entries the prune kept */
            struct ldg_horizon h;
            if (ldg_horizon(l, &h) == 0) {
                uint64_t k0 = h.seq / LDG_TILE_WIDTH * LDG_TILE_WIDTH;
                char what[200];
                snprintf(what, sizeof what,
                         "the entry bundles of events 0..%llu, all pruned, "
                         "were not written (a publication made before the "
                         "prune keeps them)",
                         (unsigned long long)(k0 ? k0 - 1 : 0));
                if (k0 > 0)
                    cli_pruned(c, l, what);
                /* store layout 9: the prune dropped their hash tiles */
                if (r.tree_from > 0) {
                    snprintf(what, sizeof what,
                             "the level-0 hash tiles of events 0..%llu, "
                             "which the prune dropped (store layout 9), "
                             "were not written",
                             (unsigned long long)(r.tree_from - 1));
                    cli_pruned(c, l, what);
                }
                ldg_horizon_release(&h);
            }
        } else {
            cli_print_json(
                c,
                json_pack("{s:o, s:I, s:I, s:o}", "size", ldg_json_u64(r.size),
                          "tiles_written", (json_int_t)r.tiles_written,
                          "bundles_written", (json_int_t)r.bundles_written,
                          "tree_from", ldg_json_u64(r.tree_from)));
        }
        rc = EX_OK;
    }
    ldg_close(l);
    return rc;
}

CLI_COMMAND(
    tiles, CLI_GROUP_TLOG, "write C2SP tlog-tiles to a directory",
    "Writes the log as C2SP tlog-tiles under OUTDIR: the checkpoint, the "
    "hash tiles and the entry bundles, ready to be served by any static "
    "web server so that witnesses and monitors can follow the log. Only "
    "tiles that changed are rewritten.",
    tiles_opts, CLI_OUT_BASIC, "ledger tiles /var/www/ledger\n", 0,
    {.maxpos = -1});
