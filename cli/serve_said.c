/*
 * serve_said.c — what `ledger serve` says of itself: --status (from
 * its status file, with the receivers it runs and their counters) and,
 * when it stops, what it did.
 */
#include <string.h>
#include "cli/cli.h"
#include "cli/commands.h"
#include "otlp/otlp.h"
#include "serve/serve.h"

/* --proxy's child, a line under the jobs: running, or not and why (its
 * own message is on the server's standard error: the journal). */
static void
said_proxy(const json_t *px, int alive)
{
    const char *state = json_string_value(json_object_get(px, "state"));
    const char *since = json_string_value(json_object_get(px, "since"));
    const char *next = json_string_value(json_object_get(px, "next_start"));
    json_t *ex = json_object_get(px, "last_exit");
    json_t *sig = json_object_get(px, "last_signal");
    char sb[48] = "-", nb[48] = "-";
    if (state == NULL || !alive)
        return;
    if (since != NULL)
        cli_when_rfc3339(sb, sizeof sb, since);
    if (next != NULL)
        cli_when_rfc3339(nb, sizeof nb, next);
    if (strcmp(state, "running") == 0)
        printf("proxy    running since %s (started %lld times)\n", sb,
               (long long)json_integer_value(json_object_get(px, "starts")));
    else if (strcmp(state, "restarting") == 0)
        printf("proxy    NOT RUNNING: %s %lld at %s, %lld in a row (its "
               "message is on the server's standard error); next start "
               "%s\n",
               json_is_integer(sig) ? "signal" : "exit",
               (long long)json_integer_value(json_is_integer(sig) ? sig : ex),
               sb,
               (long long)json_integer_value(
                   json_object_get(px, "failing_in_a_row")),
               nb);
    else
        printf("proxy    %s\n", state);
}

/* The status file's receivers, a line each: name, address, what the
 * counters say (as of when they were counted: a job's run rewrites the
 * file more often than they are). */
static void
said_receivers(const json_t *rl, const char *counted)
{
    const json_t *r;
    size_t i;
    char when[48];

    if (json_array_size(rl) == 0)
        return;
    cli_when_rfc3339(when, sizeof when, counted);
    printf("receivers (counters as of %s):\n", when);
    json_array_foreach(rl, i, r)
    {
        const char *s = json_string_value(json_object_get(r, "summary"));
        printf("%-8s %s: %s\n", json_string_value(json_object_get(r, "name")),
               json_string_value(json_object_get(r, "address")), s ? s : "-");
    }
}

/* `ledger serve --status`: DIR/serve-status.json, and whether its
 * writer is still alive. */
int
cli_serve_status(struct cli *c)
{
    char err[4400];
    json_t *st, *jl, *j;
    json_int_t pid;
    const char *state;
    int alive, failing, rc;
    size_t i;

    rc = ldg_jobs_status(c->dir, &st, &alive, &failing, err, sizeof err);
    if (rc < 0) {
        cli_err(c, "%s", err);
        return rc == LDG_ENOTFOUND ? EX_NOINPUT : EX_DATAERR;
    }
    pid = json_integer_value(json_object_get(st, "pid"));
    state = json_string_value(json_object_get(st, "state"));
    jl = json_object_get(st, "jobs");
    if (c->out != OUT_HUMAN) {
        json_object_set_new(st, "running", json_boolean(alive));
        if (!alive)
            json_object_set_new(st, "state", json_string("not running"));
        cli_print_json(c, json_incref(st)); /* it takes a reference */
    } else {
        const char *sock = json_string_value(json_object_get(st, "socket"));
        char upd[48], since[48];
        /* human output's one time format (the file keeps RFC 3339) */
        cli_when_rfc3339(upd, sizeof upd,
                         json_string_value(json_object_get(st, "updated")));
        cli_when_rfc3339(since, sizeof since,
                         json_string_value(json_object_get(st, "started")));
        if (alive)
            printf("serving on %s (pid %lld, since %s)\n", sock ? sock : "?",
                   (long long)pid, since);
        else
            printf(
                "not running (pid %lld %s; last status %s)\n", (long long)pid,
                state && strcmp(state, "stopped") == 0 ? "stopped" : "is gone",
                upd);
        if (json_array_size(jl) > 0)
            printf("%-8s %-9s %5s %6s  %-20s  %s\n", "JOB", "EVERY", "RUNS",
                   "FAILED", "LAST OK", "STATE");
        json_array_foreach(jl, i, j)
        {
            char every[32];
            json_int_t ms = json_integer_value(json_object_get(j, "every_ms"));
            json_int_t streak =
                json_integer_value(json_object_get(j, "failing_in_a_row"));
            const char *ok0 = json_string_value(json_object_get(j, "last_ok"));
            const char *nx0 = json_string_value(json_object_get(j, "next_run"));
            char okb[48], nxb[48];
            const char *ok = NULL, *nx = NULL;
            if (ok0 != NULL && strcmp(ok0, "-") != 0) {
                cli_when_rfc3339(okb, sizeof okb, ok0);
                ok = okb;
            }
            if (nx0 != NULL && strcmp(nx0, "-") != 0) {
                cli_when_rfc3339(nxb, sizeof nxb, nx0);
                nx = nxb;
            }
            json_t *ex = json_object_get(j, "last_exit");
            /* (never printed as "(null)": a job that said nothing) */
            const char *le =
                json_string_value(json_object_get(j, "last_error"));
            if (ms % 3600000 == 0)
                snprintf(every, sizeof every, "%lldh",
                         (long long)(ms / 3600000));
            else if (ms % 60000 == 0)
                snprintf(every, sizeof every, "%lldm", (long long)(ms / 60000));
            else
                snprintf(every, sizeof every, "%llds", (long long)(ms / 1000));
            printf(
                "%-8s %-9s %5lld %6lld  %-20s  ",
                json_string_value(json_object_get(j, "name")), every,
                (long long)json_integer_value(json_object_get(j, "runs")),
                (long long)json_integer_value(json_object_get(j, "failures")),
                ok ? ok : "never");
            if (json_is_null(ex) &&
                json_integer_value(json_object_get(j, "runs")) == 0)
                printf("not run yet\n");
            else if (json_is_null(ex) && streak > 0)
                printf("FAILING: %lld in a row: %s; next try %s\n",
                       (long long)streak, le ? le : "(no message)",
                       nx ? nx : "-");
            else if (streak == 0 &&
                     json_is_string(json_object_get(j, "last_note")))
                printf("ok, but: %s\n",
                       json_string_value(json_object_get(j, "last_note")));
            else if (streak == 0)
                printf("ok\n");
            else
                printf("FAILING: %lld in a row, exit %lld: %s; next try %s\n",
                       (long long)streak, (long long)json_integer_value(ex),
                       le ? le : "(no message)", nx ? nx : "-");
        }
    }
    if (c->out == OUT_HUMAN) {
        said_proxy(json_object_get(st, "proxy"), alive);
        const char *counted =
            json_string_value(json_object_get(st, "receivers_counted"));
        said_receivers(json_object_get(st, "receivers"),
                       counted
                           ? counted
                           : json_string_value(json_object_get(st, "updated")));
    }
    json_decref(st);
    if (!alive)
        return EX_UNAVAILABLE;
    return failing ? EX_VERIFY : EX_OK;
}

/* One signal's counts, as the stop line says them. */
static void
said_counts(char *buf, size_t cap, const struct ldg_otlp_counts *n)
{
    snprintf(buf, cap,
             "%llu received, %llu recorded, %llu duplicates, %llu rejected, "
             "%llu dropped",
             (unsigned long long)n->received, (unsigned long long)n->recorded,
             (unsigned long long)n->duplicate, (unsigned long long)n->rejected,
             (unsigned long long)n->dropped);
}

/* What the server did, said when it stops. */
void
cli_serve_stopped(const struct ldg_serve_stats *sp,
                  const struct ldg_otlp_stats *otlp)
{
    const struct ldg_serve_stats st = *sp;
    char spans[160], logs[160];

    fprintf(stderr,
            "ledger serve: stopped: %llu connections (%llu refused, %llu "
            "dropped), %llu requests, %llu events committed in %llu "
            "commits, %llu duplicates answered (not appended again), %llu "
            "errors (%llu not authorised); at most %llu KiB held at once "
            "(reading stopped at the budget %llu times); %llu dead readers "
            "cleared; %llu idle connections closed, %llu slow lines dropped, "
            "%llu connections refused over a share\n",
            (unsigned long long)st.conns, (unsigned long long)st.refused,
            (unsigned long long)st.dropped, (unsigned long long)st.requests,
            (unsigned long long)st.acked, (unsigned long long)st.commits,
            (unsigned long long)st.duplicates, (unsigned long long)st.errors,
            (unsigned long long)st.denied,
            (unsigned long long)(st.held_peak + 1023) / 1024,
            (unsigned long long)st.budget_stops, (unsigned long long)st.cleared,
            (unsigned long long)st.idle_closed,
            (unsigned long long)st.slow_dropped,
            (unsigned long long)st.refused_share);
    if (st.epochs_ended > 0 || st.epoch_failures > 0)
        fprintf(stderr,
                "ledger serve: epochs: %llu ended at their period's end, "
                "%llu tries failed (ledger doctor: epoch-exposure)\n",
                (unsigned long long)st.epochs_ended,
                (unsigned long long)st.epoch_failures);
    if (otlp == NULL)
        return;
    said_counts(spans, sizeof spans, &otlp->spans);
    said_counts(logs, sizeof logs, &otlp->logs);
    fprintf(stderr,
            "ledger serve: otlp: %llu requests (%llu refused, %llu throttled, "
            "%llu not committed); spans: %s; log records: %s\n",
            (unsigned long long)otlp->requests,
            (unsigned long long)otlp->refused,
            (unsigned long long)otlp->throttled,
            (unsigned long long)otlp->failed, spans, logs);
    if (otlp->grpc_calls || otlp->grpc_conns_refused || otlp->grpc_calls_cut ||
        otlp->grpc_h2_errors || otlp->h2_refused)
        fprintf(stderr,
                "ledger serve: otlp: %llu of the requests over gRPC; gRPC "
                "connections: %llu refused, %llu idle closed, %llu calls "
                "cut (slow), %llu ended for breaking HTTP/2; %llu HTTP/2 "
                "clients at the OTLP/HTTP port\n",
                (unsigned long long)otlp->grpc_calls,
                (unsigned long long)otlp->grpc_conns_refused,
                (unsigned long long)otlp->grpc_conns_idle,
                (unsigned long long)otlp->grpc_calls_cut,
                (unsigned long long)otlp->grpc_h2_errors,
                (unsigned long long)otlp->h2_refused);
}

/* One signal's counters, as the status file has them. */
static json_t *
counts_json(const struct ldg_otlp_counts *n)
{
    return json_pack("{sIsIsIsIsIsI}", "received", (json_int_t)n->received,
                     "recorded", (json_int_t)n->recorded, "duplicate",
                     (json_int_t)n->duplicate, "rejected",
                     (json_int_t)n->rejected, "dropped", (json_int_t)n->dropped,
                     "early", (json_int_t)n->early);
}

json_t *
cli_serve_receiver_otlp(const char *name, const char *address,
                        const struct ldg_otlp_stats *st)
{
    json_t *by = json_object(), *o;
    char spans[200], logs[200], sum[600];

    for (unsigned i = 0; i < LDG_OTLP_REFUSED_N; i++)
        json_object_set_new(by, ldg_otlp_refusal_name(i),
                            json_integer((json_int_t)st->refused_by[i]));
    said_counts(spans, sizeof spans, &st->spans);
    said_counts(logs, sizeof logs, &st->logs);
    snprintf(sum, sizeof sum,
             "%llu requests (%llu refused, %llu throttled, %llu not "
             "committed); spans: %s, %llu early; log records: %s, %llu early",
             (unsigned long long)st->requests, (unsigned long long)st->refused,
             (unsigned long long)st->throttled, (unsigned long long)st->failed,
             spans, (unsigned long long)st->spans.early, logs,
             (unsigned long long)st->logs.early);
    o = json_pack("{sssss{sIsIsosIsI}ss}", "name", name, "address", address,
                  "counters", "requests", (json_int_t)st->requests, "refused",
                  (json_int_t)st->refused, "refused_by", by, "throttled",
                  (json_int_t)st->throttled, "failed", (json_int_t)st->failed,
                  "summary", sum);
    if (o != NULL) {
        json_t *c = json_object_get(o, "counters");
        json_object_set_new(c, "spans", counts_json(&st->spans));
        json_object_set_new(c, "logs", counts_json(&st->logs));
    }
    return o;
}

json_t *
cli_serve_receiver_grpc(const char *address, const struct ldg_otlp_stats *st)
{
    char sum[400];
    snprintf(sum, sizeof sum,
             "%llu of the otlp receiver's requests; connections: %llu "
             "refused, %llu idle closed; %llu calls cut (slow), %llu "
             "connections ended for breaking HTTP/2",
             (unsigned long long)st->grpc_calls,
             (unsigned long long)st->grpc_conns_refused,
             (unsigned long long)st->grpc_conns_idle,
             (unsigned long long)st->grpc_calls_cut,
             (unsigned long long)st->grpc_h2_errors);
    return json_pack("{sssss{sIsIsIsIsI}ss}", "name", "otlp-grpc", "address",
                     address, "counters", "calls", (json_int_t)st->grpc_calls,
                     "conns_refused", (json_int_t)st->grpc_conns_refused,
                     "conns_idle_closed", (json_int_t)st->grpc_conns_idle,
                     "calls_cut", (json_int_t)st->grpc_calls_cut, "h2_errors",
                     (json_int_t)st->grpc_h2_errors, "summary", sum);
}

json_t *
cli_serve_receiver_metrics(const char *address, uint64_t scrapes,
                           uint64_t partial)
{
    char sum[200];
    snprintf(sum, sizeof sum,
             "%llu scrapes (%llu with only the server's own figures: "
             "`ledger metrics` failed)",
             (unsigned long long)scrapes, (unsigned long long)partial);
    return json_pack("{sssss{sIsI}ss}", "name", "metrics", "address", address,
                     "counters", "scrapes", (json_int_t)scrapes, "partial",
                     (json_int_t)partial, "summary", sum);
}

/* "WHAT on http://HOST:PORTTAIL" once an endpoint given as addr (PORT,
 * localhost:PORT, HOST:PORT) listens on port; "WHAT on unix:PATH (HOW)".
 * The address alone (without TAIL and HOW) into url, for --status. */
void
cli_serve_said_on(const char *what, const char *addr, unsigned port,
                  const char *tail, const char *how, char *url, size_t cap)
{
    const char *colon = strrchr(addr, ':');
    int unx = strncmp(addr, "unix:", 5) == 0;
    if (unx)
        snprintf(url, cap, "%s", addr);
    else if (colon == NULL || strncmp(addr, "localhost:", 10) == 0)
        snprintf(url, cap, "http://127.0.0.1:%u", port);
    else
        snprintf(url, cap, "http://%.*s:%u", (int)(colon - addr), addr, port);
    if (unx)
        printf("%s on %s (%s)\n", what, url, how);
    else
        printf("%s on %s%s\n", what, url, tail);
    fflush(stdout);
    if (!unx && strcmp(tail, "/metrics") == 0)
        snprintf(url + strlen(url), cap - strlen(url), "%s", tail);
}
