/*
 * cmd_metrics.c — `ledger metrics`: the ledger's state in the Prometheus
 * text exposition format (metrics/metrics.h, docs/METRICS.md).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "metrics/metrics.h"
#include "util/util.h"

enum { OPT_NO_CACHE = 256 };

struct metrics_args {
    int no_cache;
};
static const struct cli_opt metrics_opts[] = {
    CLI_ON(OPT_NO_CACHE, 0, "no-cache",
           "count every event again instead of starting from "
           "DIR/metrics-cache.json (and do not write it)",
           struct metrics_args, no_cache),
    CLI_OPT_END};

static int
cmd_metrics(struct cli *c, struct metrics_args *x, int npos, char **pos)
{
    struct ldg_ledger *l = NULL;
    struct ldg_metrics *m = NULL;
    char *text = NULL;
    size_t tlen = 0;
    char err[1024], note[1200];
    int rc;

    if (c->out_name != NULL) {
        cli_err(c,
                "-o %s: metrics take no -o; they print the Prometheus text "
                "format only",
                c->out_name);
        return EX_USAGE;
    }
    if ((rc = cli_open(c, 1, &l)) != 0)
        return rc;
    rc = ldg_metrics_count(l, !x->no_cache, &m, note, sizeof note, err,
                           sizeof err);
    if (note[0] != '\0')
        cli_err(c, "%s", note);
    if (rc < 0) {
        cli_err(c, "%s", rc == LDG_ECORRUPT || err[0] ? err : ldg_strerror(rc));
        rc = cli_exit_code(rc);
        goto out;
    }
    if ((rc = ldg_metrics_render(m, l, &text, &tlen)) < 0) {
        cli_err(c, "%s",
                rc == LDG_ENOMEM || rc == LDG_ETOOBIG ? ldg_strerror(rc)
                                                      : ldg_errmsg(l));
        rc = cli_exit_code(rc);
        goto out;
    }
    rc = EX_OK;
    cli_guard_raw(); /* Prometheus' text format, byte for byte */
    if (fwrite(text, 1, tlen, stdout) != tlen || fflush(stdout) != 0) {
        if (errno != EPIPE) {
            cli_err(c, "writing the output: %s", strerror(errno));
            rc = EX_IOERR;
        }
    }
out:
    free(text);
    ldg_metrics_free(m);
    ldg_close(l);
    return rc;
}

CLI_COMMAND(
    metrics, CLI_GROUP_STATE, "the ledger's state for Prometheus",
    "Prints the ledger's state in the Prometheus text exposition format "
    "(the format node_exporter's textfile collector reads): events by "
    "type, log size, last commit and checkpoint, verification, the "
    "doctor's verdict per pack and clause, route readiness, disk used and "
    "free, the interval jobs of `ledger serve` when one has run here, and "
    "the proxy's requests by model, status and outcome with latency and "
    "time-to-first-token histograms and token counters, counted from its "
    "events in the log, and the events made from OpenTelemetry spans and "
    "log records (`ledger serve --otlp`): the spans recorded; spans "
    "received, rejected, sent again or dropped leave nothing in the log, "
    "and only a running server's scrape counts them. docs/METRICS.md "
    "lists every series.\n\n"
    "Counting the events costs one step per event; the counts are kept in "
    "DIR/metrics-cache.json (when the directory is writable), so the next "
    "run counts only the events appended since. `ledger serve --metrics "
    "ADDR` serves the same at http://ADDR/metrics, with the server's own "
    "counters (and, with --otlp, its receiver's: spans received, rejected "
    "and recorded since it started). Exit 0, or 66 when there is no ledger, 74 "
    "on a read error.",
    metrics_opts, NULL,
    "ledger metrics\n"
    "# for node_exporter's textfile collector (written whole, then "
    "renamed)\n"
    "ledger metrics > /var/lib/node_exporter/ledger.prom.tmp &&\n"
    "  mv /var/lib/node_exporter/ledger.prom.tmp "
    "/var/lib/node_exporter/ledger.prom\n",
    CLI_CMD_GATHER | CLI_CMD_OWN_OUTPUT, {.size = sizeof(struct metrics_args)});
