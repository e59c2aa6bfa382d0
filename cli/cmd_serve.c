/*
 * cmd_serve.c — `ledger serve`: the daemon a box's control plane streams
 * events into (serve/serve.h, docs/PROTOCOL.md).
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "serve/serve.h"

static struct ldg_server *volatile serving;

static void
on_stop_signal(int sig)
{
    struct ldg_server *s = serving;
    (void)sig;
    if (s != NULL)
        ldg_serve_stop(s);
}

/* systemd (Type=notify) is told it is ready, what it does and when it
 * stops; without NOTIFY_SOCKET these are no-ops. A failure to tell is
 * said once on stderr (the journal) and does not stop the daemon. */
static void
notify(const char *fmt, ...)
{
    static int warned;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (ldg_serve_sd_notify(msg) < 0 && !warned) {
        warned = 1;
        fprintf(stderr, "ledger serve: cannot notify systemd (%s)\n",
                ldg_serve_sd_why());
    }
}

static void
on_ready(void *ctx, const char *path)
{
    (void)ctx;
    printf("listening on %s\n", path[0] ? path : "(an inherited socket)");
    fflush(stdout);
    notify("READY=1\nMAINPID=%ld\nSTATUS=serving on %s", (long)getpid(),
           path[0] ? path : "an inherited socket");
}

static void
on_stopping(void *ctx)
{
    (void)ctx;
    notify("STOPPING=1\nSTATUS=stopping: committing and answering what "
           "is in flight");
}

/* 1,000 idle clients need more descriptors than the usual soft limit of
 * 1024: raise it towards the hard limit as far as max_conns needs. */
static unsigned
raise_nofile(unsigned want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return want;
    if (rl.rlim_cur < (rlim_t)want + 64) {
        rlim_t n = (rlim_t)want + 64;
        if (rl.rlim_max != RLIM_INFINITY && n > rl.rlim_max)
            n = rl.rlim_max;
        rl.rlim_cur = n;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)want + 64)
        return rl.rlim_cur > 96 ? (unsigned)(rl.rlim_cur - 64) : 32;
    return want;
}

enum { OPT_SOCKET = 256, OPT_MAX_CONNS, OPT_MAX_LINE, OPT_STALL };

static const struct cli_opt serve_opts[] = {
    CLI_VALUE(OPT_SOCKET, 0, "socket", "PATH",
              "serve on this Unix socket (default: DIR/ledger.sock)"),
    CLI_VALUE(OPT_MAX_CONNS, 0, "max-conns", "N",
              "connections at most (default 4096); one more is refused"),
    CLI_VALUE(OPT_MAX_LINE, 0, "max-line", "BYTES",
              "longest request line (default: the body limit + 64 KiB)"),
    CLI_VALUE(OPT_STALL, 0, "stall-timeout", "MS",
              "drop a client that has not read its answers for MS "
              "milliseconds once 1 MiB of them wait (default 10000)"),
    CLI_OPT_END};

const struct cli_command cli_cmd_serve = {
    "serve",
    CLI_GROUP_EVENTS,
    cmd_serve,
    "serve the ledger on a Unix socket",
    "Serves the ledger to local clients on a Unix stream socket (mode 0660, "
    "never world-writable). A client writes one JSON line per event, the "
    "line `ledger ingest` takes plus an optional \"id\" and \"time\", and "
    "reads one line per request, in order: {\"id\":...,\"seq\":\"N\"} once "
    "the event is durably committed, or {\"id\":...,\"error\":\"...\","
    "\"code\":65} naming the field. Events arriving together from all "
    "clients share one commit. docs/PROTOCOL.md describes the protocol.\n\n"
    "Prints \"listening on PATH\" on standard output once it accepts "
    "connections. SIGTERM or SIGINT stops it: no new connections or lines "
    "are taken, every complete line already read is committed and "
    "answered, and it exits 0.\n\n"
    "Under systemd (systemd/ledger.socket, docs/SYSTEMD.md) it serves the "
    "socket it is passed (socket activation; exactly one listening Unix "
    "stream socket, else exit 78) and, with NOTIFY_SOCKET set, tells the "
    "manager READY=1, STATUS=... and STOPPING=1 (Type=notify).",
    serve_opts,
    NULL,
    "# serve the default ledger\n"
    "ledger serve &\n"
    "# send one event and read its answer\n"
    "echo '{\"type\":\"x.hello\",\"body\":{},\"id\":\"a1\"}' |\n"
    "  socat - UNIX-CONNECT:\"$LEDGER_DIR/ledger.sock\"\n",
    0};

int
cmd_serve(struct cli *c, int argc, char **argv)
{
    struct cli_args a;
    struct ldg_serve_options o;
    struct ldg_serve_stats st;
    struct ldg_ledger *l = NULL;
    struct ldg_server *s = NULL;
    struct sigaction sa;
    char err[1024];
    uint64_t v;
    int ch, rc;

    memset(&o, 0, sizeof o);
    cli_args_init(&a, c, argc, argv);
    while ((ch = cli_args_next(&a)) > 0) {
        switch (ch) {
        case OPT_SOCKET:
            if (a.value[0] == '\0')
                return cli_usage_err(c, "--socket: empty path");
            o.socket_path = a.value;
            break;
        case OPT_MAX_CONNS:
            if (cli_parse_u64(a.value, &v) < 0 || v == 0 || v > 1000000)
                return cli_usage_err(c, "--max-conns: 1 to 1000000");
            o.max_conns = (unsigned)v;
            break;
        case OPT_MAX_LINE:
            if (cli_parse_u64(a.value, &v) < 0 || v < 64 ||
                v > ((uint64_t)256 << 20))
                return cli_usage_err(c, "--max-line: 64 to 268435456");
            o.max_line = (size_t)v;
            break;
        case OPT_STALL:
            if (cli_parse_u64(a.value, &v) < 0 || v == 0 || v > 86400000)
                return cli_usage_err(c, "--stall-timeout: 1 to 86400000");
            o.stall_ms = (unsigned)v;
            break;
        default:
            return cli_usage(c);
        }
    }
    if (ch < 0)
        return a.exit;
    if (a.ind != argc)
        return cli_usage(c);
    if (ldg_default_dir(c->dir, sizeof c->dir, c->dir_opt) < 0) {
        cli_dir_error(c);
        return EX_USAGE;
    }
    {
        unsigned want = o.max_conns ? o.max_conns : 4096;
        unsigned got = raise_nofile(want);
        if (got < want) {
            if (o.max_conns != 0)
                fprintf(stderr,
                        "ledger serve: --max-conns %u: only %u file "
                        "descriptors allowed; serving at most %u\n",
                        want, got + 64, got);
            o.max_conns = got;
        }
    }
    {
        int lfd = -1;
        err[0] = '\0';
        rc = ldg_serve_sd_listen(&lfd, err, sizeof err);
        if (rc < 0) {
            cli_err(c, "%s", err);
            notify("STATUS=cannot start: %s", err);
            return EX_CONFIG;
        }
        if (rc == 1) {
            if (o.socket_path != NULL) {
                close(lfd);
                return cli_usage_err(c,
                                     "--socket %s, but systemd passed a "
                                     "socket (socket activation): give one",
                                     o.socket_path);
            }
            o.has_listen_fd = 1;
            o.listen_fd = lfd;
        }
    }
    if ((rc = cli_open(c, 0, &l)) != 0) {
        notify("STATUS=cannot open the ledger in %s (exit %d)", c->dir, rc);
        return rc;
    }
    o.on_ready = on_ready;
    o.on_stopping = on_stopping;
    err[0] = '\0';
    rc = ldg_serve_new(&s, l, &o, err, sizeof err);
    if (rc < 0) {
        cli_err(c, "%s", err[0] ? err : ldg_strerror(rc));
        notify("STATUS=cannot start: %s", err[0] ? err : ldg_strerror(rc));
        rc = rc == LDG_EBUSY        ? 75
             : rc == LDG_EBADINPUT ? EX_CONFIG /* access.json */
                                   : cli_exit_code(rc);
        goto out;
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    serving = s;
    sa.sa_handler = on_stop_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    rc = ldg_serve_run(s);
    serving = NULL;
    ldg_serve_stats(s, &st);
    fprintf(stderr,
            "ledger serve: stopped: %llu connections (%llu refused, %llu "
            "dropped), %llu requests, %llu events committed in %llu "
            "commits, %llu errors (%llu not authorised)\n",
            (unsigned long long)st.conns, (unsigned long long)st.refused,
            (unsigned long long)st.dropped, (unsigned long long)st.requests,
            (unsigned long long)st.acked, (unsigned long long)st.commits,
            (unsigned long long)st.errors,
            (unsigned long long)st.denied);
    notify("STATUS=stopped: %llu events committed, %llu errors",
           (unsigned long long)st.acked, (unsigned long long)st.errors);
    if (rc < 0) {
        cli_err(c, "%s", ldg_serve_errmsg(s));
        rc = cli_exit_code(rc);
    } else
        rc = EX_OK;
out:
    ldg_serve_free(s);
    ldg_close(l);
    return rc;
}
