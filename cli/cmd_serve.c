/*
 * cmd_serve.c — `ledger serve`: the daemon a box's control plane streams
 * events into (serve/serve.h, docs/PROTOCOL.md).
 */
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>
#include <errno.h>
#include <pthread.h>
#include <limits.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "proxy/proxy.h"
#include "metrics/metrics.h"
#include "otlp/otlp.h"
#include "serve/serve.h"

static struct ldg_server *volatile serving;

static void
on_hup(int sig)
{
    struct ldg_server *s = serving;
    (void)sig;
    if (s != NULL)
        ldg_serve_reload(s);
}

/* SIGTERM with a proxy child running: the child is stopped first (it
 * drains its requests in flight, which commit through this server), and
 * the server once it has exited (proxy_main) */
static atomic_int stop_asked; /* lock-free atomics: safe in a handler */
static struct {
    int on;
    pthread_t thr;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* with on: made by serve_prepare, on the monotonic
                          clock (the wait is the restart's backoff) */
    int quit;
    atomic_int pid; /* a pid_t (also read by on_stop_signal) */
} px = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void
on_stop_signal(int sig)
{
    struct ldg_server *s = serving;
    pid_t p = (pid_t)px.pid;
    (void)sig;
    if (p > 0) {
        stop_asked = 1;
        kill(p, SIGTERM);
        return;
    }
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

/* The interval jobs (serve/jobs.c), reached from the server's callbacks. */
static struct ldg_jobs *jobs;
static const char *jobs_dir; /* the ledger directory, for the jobs */

/* The URL after --publish-every/--ship-every's DUR: the next argument. */
static const char *
take_url(struct cli_args *a)
{
    if (optind < a->argc && a->argv[optind][0] != '-')
        return a->argv[optind++];
    return NULL;
}

/* --proxy: `ledger --dir DIR proxy` (DIR/proxy.json) as a child process
 * that writes through this server, started once the socket accepts and
 * started again (after 1 s, 2 s, 4 s, ... at most 30 s) when it exits; on
 * stopping it is sent SIGTERM first, and the server stops once it has
 * drained (px, on_stop_signal). */
static void *
proxy_main(void *arg)
{
    unsigned backoff = 1;
    char text[LDG_CMD_TEXT_MAX], *av[LDG_CMD_ARGS_MAX];
    (void)arg;
    if (ldg_cmd_argv(LDG_CMD_PROXY, jobs_dir, NULL, text, av) < 0) {
        fprintf(stderr, "ledger serve: cannot run the proxy: its directory "
                        "path is too long\n");
        return NULL;
    }
    pthread_mutex_lock(&px.mu);
    while (!px.quit) {
        uint64_t t0 = ldg_now_mono_ns();
        pid_t parent = getpid();
        pid_t pid = fork();
        if (pid == 0) {
            /* it ends with the server, a kill -9 of it included (the
             * signal comes when this thread ends: with the server) */
            if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
                _exit(0);
            execv("/proc/self/exe", av);
            fprintf(stderr, "ledger serve: cannot run the proxy: %s\n",
                    strerror(errno));
            _exit(127);
        }
        if (pid < 0) {
            fprintf(stderr, "ledger serve: cannot start the proxy: %s\n",
                    strerror(errno));
        } else {
            int st = 0;
            px.pid = pid;
            pthread_mutex_unlock(&px.mu);
            ldg_jobs_proxy(jobs, 1, 0, 0); /* --status says it runs */
            while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                ;
            pthread_mutex_lock(&px.mu);
            px.pid = 0;
            if (stop_asked) {
                /* the stop the signal asked for: the proxy has drained,
                 * now the server */
                struct ldg_server *sv = serving;
                if (sv != NULL)
                    ldg_serve_stop(sv);
                break;
            }
            if (px.quit)
                break;
            if (ldg_now_mono_ns() - t0 > 60000000000u)
                backoff = 1; /* it ran a while: a fresh failure */
            ldg_jobs_proxy(jobs, 0, st, backoff * 1000ull);
            fprintf(stderr,
                    "ledger serve: the proxy exited (%s %d); starting it "
                    "again in %u s\n",
                    WIFSIGNALED(st) ? "signal" : "exit",
                    WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st), backoff);
        }
        struct timespec ts = ldg_mono_deadline(backoff * 1000000000ull);
        while (!px.quit &&
               pthread_cond_timedwait(&px.cv, &px.mu, &ts) != ETIMEDOUT)
            ;
        backoff = backoff >= 16 ? 30 : backoff * 2;
    }
    pthread_mutex_unlock(&px.mu);
    return NULL;
}

static void
proxy_quit(void)
{
    pthread_mutex_lock(&px.mu);
    px.quit = 1;
    pid_t p = (pid_t)px.pid;
    if (p > 0)
        kill(p, SIGTERM);
    pthread_cond_broadcast(&px.cv);
    pthread_mutex_unlock(&px.mu);
}

static void rx_start(void);

static void
on_ready(void *ctx, const char *path)
{
    (void)ctx;
    printf("listening on %s\n", path[0] ? path : "(an inherited socket)");
    fflush(stdout);
    notify("READY=1\nMAINPID=%ld\nSTATUS=serving on %s", (long)getpid(),
           path[0] ? path : "an inherited socket");
    rx_start();
    {
        char err[512];
        if (ldg_jobs_start(jobs, jobs_dir, path, err, sizeof err) < 0)
            fprintf(stderr, "ledger serve: %s: no interval jobs\n", err);
    }
    if (px.on && pthread_create(&px.thr, NULL, proxy_main, NULL) == 0)
        px.started = 1;
}

static void
on_reload(void *ctx, int rc, const char *what)
{
    (void)ctx;
    if (rc == 0)
        fprintf(stderr, "ledger serve: SIGHUP: %s read again\n", what);
    else
        fprintf(stderr,
                "ledger serve: SIGHUP: not reloaded, the previous rules stay: "
                "%s\n",
                what);
}

/* --otlp: the receiver, stopped (its requests in flight committed and
 * answered) when the server begins to stop, while its writer runs. */
static struct ldg_otlp *otlp;
static struct ldg_otlp_stats otlp_final;
/* What the metrics endpoint's threads read (metrics_extra), under
 * otlp_mu: the running receiver, or once it stopped its last counts. */
static pthread_mutex_t otlp_mu = PTHREAD_MUTEX_INITIALIZER;
static struct ldg_otlp *metrics_otlp;
static int otlp_stopped;

/* --status lists the receivers (ldg_jobs_receivers) at their addresses
 * (otlp_url, metrics_url; "" when not run) with their counters: written
 * at the start, then now and then while they change (cli/serve_rx.c),
 * and at the stop. */
static char otlp_url[400], grpc_url[400], metrics_url[400];
static uint64_t scrapes, scrapes_partial; /* __atomic */

static json_t *
receivers_now(void)
{
    json_t *l = json_array();
    struct ldg_otlp_stats ot;
    int have = 0;
    pthread_mutex_lock(&otlp_mu);
    if (metrics_otlp != NULL || otlp_stopped) {
        if (metrics_otlp != NULL)
            ldg_otlp_stats(metrics_otlp, &ot);
        else
            ot = otlp_final;
        have = 1;
    }
    pthread_mutex_unlock(&otlp_mu);
    /* one receiver: its counts under --otlp (else --otlp-grpc) */
    if (have && otlp_url[0])
        json_array_append_new(l,
                              cli_serve_receiver_otlp("otlp", otlp_url, &ot));
    if (have && grpc_url[0])
        json_array_append_new(
            l, otlp_url[0]
                   ? cli_serve_receiver_grpc(grpc_url, &ot)
                   : cli_serve_receiver_otlp("otlp-grpc", grpc_url, &ot));
    if (metrics_url[0])
        json_array_append_new(
            l, cli_serve_receiver_metrics(
                   metrics_url, __atomic_load_n(&scrapes, __ATOMIC_RELAXED),
                   __atomic_load_n(&scrapes_partial, __ATOMIC_RELAXED)));
    return l;
}

/* The receivers' first counters written, and their writer started. */
static void
rx_start(void)
{
    if (otlp_url[0] || grpc_url[0] || metrics_url[0])
        cli_serve_rx_start(jobs, receivers_now);
}

/* Stops the writer, and writes the receivers' last counters. */
static void
rx_stop(void)
{
    if (otlp_url[0] || grpc_url[0] || metrics_url[0])
        cli_serve_rx_stop(jobs, receivers_now);
}

static void
otlp_quit(void)
{
    struct ldg_otlp *o = otlp;
    struct ldg_otlp_stats fin;
    if (o == NULL)
        return;
    pthread_mutex_lock(&otlp_mu);
    metrics_otlp = NULL; /* no scrape reads it from here on */
    pthread_mutex_unlock(&otlp_mu);
    otlp = NULL;
    ldg_otlp_stop(o, &fin);
    pthread_mutex_lock(&otlp_mu);
    otlp_final = fin;
    otlp_stopped = 1;
    pthread_mutex_unlock(&otlp_mu);
}

static void
on_stopping(void *ctx)
{
    (void)ctx;
    otlp_quit();
    ldg_jobs_quit(jobs); /* no job starts any more; one in flight is cut */
    if (px.on)
        proxy_quit();
    notify("STOPPING=1\nSTATUS=stopping: committing and answering what "
           "is in flight");
}

/* What `ledger serve` was asked. */
struct serve_args {
    struct ldg_serve_options o;
    struct ldg_otlp_options oo;
    const char *metrics_addr, *otlp_addr, *grpc_addr;
    int metrics_remote, otlp_remote, status;
    char otlp_listen[300], grpc_listen[300]; /* oo.listen, oo.grpc_listen */
};

#define SA struct serve_args
enum {
    OPT_SOCKET = 256,
    OPT_MAX_CONNS,
    OPT_MAX_LINE,
    OPT_STALL,
    OPT_BUDGET,
    OPT_IDLE,
    OPT_LINE_TIMEOUT,
    OPT_PROBE_EVERY,
    OPT_PUBLISH_EVERY,
    OPT_SHIP_EVERY,
    OPT_SWEEP_EVERY,
    OPT_STATUS,
    OPT_PROXY,
    OPT_METRICS,
    OPT_METRICS_REMOTE,
    OPT_VERIFY_EVERY,
    OPT_PRUNE_EVERY,
    OPT_OTLP,
    OPT_OTLP_REMOTE,
    OPT_OTLP_RUN,
    OPT_OTLP_SPANS,
    OPT_OTLP_LOGS,
    OPT_OTLP_CONTENT,
    OPT_OTLP_BACKLOG,
    OPT_OTLP_GRPC
};

static const struct cli_opt serve_opts[] = {
    CLI_VALUE(OPT_SOCKET, 0, "socket", "PATH",
              "serve on this Unix socket (default: DIR/ledger.sock)"),
    CLI_NUM(OPT_MAX_CONNS, 0, "max-conns", "N",
            "connections at most (default 4096); one more is refused. "
            "Peers that may write nothing hold a quarter of them at most, "
            "one uid other than this one half",
            SA, o.max_conns, 1, 1000000),
    CLI_NUM(OPT_MAX_LINE, 0, "max-line", "BYTES",
            "longest request line (default: the body limit + 64 KiB)", SA,
            o.max_line, 64, (uint64_t)256 << 20),
    CLI_NUM(OPT_STALL, 0, "stall-timeout", "MS",
            "drop a client that has not read its answers for MS "
            "milliseconds once 1 MiB of them wait (default 10000)",
            SA, o.stall_ms, 1, 86400000),
    CLI_NUM(OPT_BUDGET, 0, "budget", "BYTES",
            "hold at most BYTES for all clients together: input read, "
            "requests waiting (a sealed batch: what its parse and append "
            "take; one may be --budget / 16 bytes long), answers unsent "
            "(default 67108864, 64 MiB); "
            "at it no client is read until less is held, and a client "
            "that reads none of its answers for --stall-timeout is "
            "dropped",
            SA, o.budget_bytes, 65536, (uint64_t)64 << 30),
    CLI_NUM(OPT_IDLE, 0, "idle-timeout", "MS",
            "close a client that has nothing in flight and has sent "
            "nothing for MS milliseconds (default 600000, 10 minutes): "
            "one that may write nothing always, a writer only while half "
            "of --max-conns or more are taken",
            SA, o.idle_ms, 1, 86400000),
    CLI_NUM(OPT_LINE_TIMEOUT, 0, "line-timeout", "MS",
            "drop a client whose request line has not ended (its "
            "newline) within MS milliseconds of its first byte (default "
            "30000)",
            SA, o.line_ms, 1, 86400000),
    CLI_VALUE(OPT_PROBE_EVERY, 0, "probe-every", "DUR",
              "run `ledger probe` (the runtimes in DIR/runtimes) every DUR "
              "(30s, 5m, 1h); its events go through this server"),
    CLI_VALUE(OPT_PUBLISH_EVERY, 0, "publish-every", "DUR URL",
              "run `ledger publish URL` every DUR"),
    CLI_VALUE(OPT_SHIP_EVERY, 0, "ship-every", "DUR URL",
              "run `ledger ship URL` (ClickHouse) every DUR"),
    CLI_VALUE(OPT_VERIFY_EVERY, 0, "verify-every", "DUR",
              "run `ledger verify --new` every DUR: the events appended "
              "since the last verification are checked and the result "
              "recorded, so `ledger doctor` says chain-verified ok"),
    CLI_VALUE(OPT_PRUNE_EVERY, 0, "prune-every", "DUR",
              "run `ledger prune --policy` every DUR: archive the events "
              "older than DIR/retention.json's keep_days (default 180 days) "
              "into its archive_dir and prune them (docs/RETENTION.md)"),
    CLI_VALUE(OPT_SWEEP_EVERY, 0, "sweep-every", "DUR",
              "clear dead readers' slots every DUR (default 60s)"),
    CLI_FLAG(OPT_PROXY, 0, "proxy",
             "run `ledger proxy` with the server, as DIR/" LDG_PROXY_FILE
             " says (docs/PROXY.md); its events go through this server"),
    CLI_ON(OPT_STATUS, 0, "status",
           "show what the server of DIR is doing, how its interval jobs "
           "fare and what its receivers (--otlp, --metrics) counted, then "
           "exit (0 serving and every job's last run ok, 1 a "
           "job failing or --proxy's proxy not running, 69 not serving, 66 "
           "never served)",
           SA, status),
    CLI_VALUE(OPT_METRICS, 0, "metrics", "ADDR",
              "serve `ledger metrics` and this server's counters at "
              "http://ADDR/metrics (127.0.0.1:PORT, [::1]:PORT, "
              "localhost:PORT, PORT or unix:PATH; port 0: any free one)"),
    CLI_ON(OPT_METRICS_REMOTE, 0, "metrics-remote",
           "let --metrics listen on an address that is not loopback (the "
           "figures name packs, models and routes)",
           SA, metrics_remote),
    CLI_VALUE(OPT_OTLP, 0, "otlp", "ADDR",
              "take OpenTelemetry spans and logs over OTLP/HTTP at ADDR "
              "(POST /v1/traces, /v1/logs; protobuf or JSON, gzip or not): "
              "127.0.0.1:4318, [::1]:PORT, localhost:PORT, PORT or "
              "unix:PATH; each span becomes an event (docs/OTLP.md)"),
    CLI_VALUE(OPT_OTLP_GRPC, 0, "otlp-grpc", "ADDR",
              "take them over OTLP/gRPC too, or only (HTTP/2 cleartext; "
              "TraceService/Export, LogsService/Export; gzip or not) at "
              "ADDR: 127.0.0.1:4317, [::1]:PORT, localhost:PORT, PORT or "
              "unix:PATH (docs/OTLP.md)"),
    CLI_ON(OPT_OTLP_REMOTE, 0, "otlp-remote",
           "let --otlp and --otlp-grpc listen on an address that is not "
           "loopback (anyone "
           "who reaches it can write events)",
           SA, otlp_remote),
    CLI_VALUE(OPT_OTLP_RUN, 0, "otlp-run", "ATTR",
              "the run of a span or log record: this attribute's value (the "
              "span's, else its resource's), e.g. gen_ai.conversation.id or "
              "session.id (default: the trace id)"),
    CLI_PICK(OPT_OTLP_SPANS, 0, "otlp-spans", "WHICH",
             "all (default): spans that are neither model calls nor tool "
             "executions become otel.span events; genai: only model calls "
             "(a gen_ai.request.model is enough) and spans with "
             "gen_ai.operation.name are recorded, the rest dropped "
             "(counted)",
             SA, oo.map.spans, "all|genai"),
    CLI_PICK(OPT_OTLP_LOGS, 0, "otlp-logs", "WHAT",
             "record (default): each log record becomes an otel.log event; "
             "drop: none is (counted)",
             SA, oo.map.drop_logs, "record|drop"),
    CLI_ON(OPT_OTLP_CONTENT, 0, "otlp-content",
           "record content too: prompts, completions, tool arguments and "
           "results, system instructions, GenAI log events' bodies (not "
           "recorded by default)",
           SA, oo.map.record_content),
    CLI_NUM(OPT_OTLP_BACKLOG, 0, "otlp-backlog", "N",
            "answer OTLP requests 503 (Retry-After: 1 to 3) while N events or "
            "more wait for the writer, and 429 while the receiver holds N "
            "not yet committed (default 65536)",
            SA, oo.behind_max, 1, 100000000),
    CLI_OPT_END};

/* The interval jobs' and the metrics endpoint's reports: stderr, which
 * is the journal under systemd. */
static void
serve_log(void *ctx, const char *line)
{
    (void)ctx;
    fprintf(stderr, "ledger serve: %s\n", line);
}

/* The jobs, made on first use: 0, or the exit code after saying why. */
static int
jobs_ready(struct cli *c)
{
    if (jobs != NULL)
        return 0;
    if (ldg_jobs_new(&jobs) < 0) {
        cli_err(c, "%s", ldg_strerror(LDG_ENOMEM));
        return EX_OSERR;
    }
    ldg_jobs_set_log(jobs, serve_log, NULL);
    return 0;
}

/* A scrape with the server's own figures only: counted for --status. */
static void
metrics_log(void *ctx, const char *line)
{
    __atomic_add_fetch(&scrapes_partial, 1, __ATOMIC_RELAXED);
    serve_log(ctx, line);
}

/* --metrics: the server whose counters the endpoint adds. */
static struct ldg_server *metrics_server;

static char *
metrics_extra(void *ctx, size_t *len)
{
    struct ldg_serve_stats st;
    struct ldg_otlp_stats ot;
    char *s = NULL, *t = NULL;
    size_t tl = 0;
    int have = 1;
    (void)ctx;
    __atomic_add_fetch(&scrapes, 1, __ATOMIC_RELAXED); /* --status's */
    ldg_serve_stats(metrics_server, &st);
    if (ldg_metrics_render_serve(&st, &s, len) < 0)
        return NULL;
    pthread_mutex_lock(&otlp_mu);
    if (metrics_otlp != NULL)
        ldg_otlp_stats(metrics_otlp, &ot);
    else if (otlp_stopped)
        ot = otlp_final;
    else
        have = 0;
    pthread_mutex_unlock(&otlp_mu);
    if (!have)
        return s;
    if (ldg_metrics_render_otlp(&ot, &t, &tl) < 0) {
        free(s);
        return NULL;
    }
    char *both = realloc(s, *len + tl + 1);
    if (both == NULL) {
        free(s);
        free(t);
        return NULL;
    }
    memcpy(both + *len, t, tl + 1);
    *len += tl;
    free(t);
    return both;
}

static int serve_main(struct cli *c, struct serve_args *g);
static int serve_opt(struct cli *c, void *args, int ch, struct cli_args *a);

static int
cmd_serve(struct cli *c, void *args, int npos, char **pos)
{
    int rc = jobs_ready(c);

    if (rc == 0)
        rc = serve_main(c, args);
    ldg_jobs_free(jobs); /* stops them, and says so in the status file */
    jobs = NULL;
    return rc;
}

CLI_COMMAND(
    serve, CLI_GROUP_EVENTS, "serve the ledger on a Unix socket",
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
    "manager READY=1, STATUS=... and STOPPING=1 (Type=notify).\n\n"
    "On a ledger at an older store layout, which this build reads but "
    "does not append to, it does not start: exit 65, naming `ledger --dir "
    "DIR migrate`.\n\n"
    "DIR/access.json says who may write (docs/SYSTEMD.md); without it only "
    "this user and root may. SIGHUP reads it again (a bad file changes "
    "nothing and is reported on stderr).\n\n"
    "Interval jobs (--probe-every, --publish-every, --ship-every, "
    "--verify-every, --prune-every) run in processes of their own (the "
    "library's calls those commands make; no program is executed), one at "
    "a time, the first at once; one that hangs is killed at its time "
    "limit. A failed run is "
    "logged on stderr and retried after 5 s, 10 s, 20 s, ... up to the "
    "interval; it never stops the server. DIR/serve-status.json and "
    "`ledger serve --status` show each job's last run, and under systemd "
    "so does STATUS=.\n\n"
    "When the log's keys seal with forward-secure epoch keys "
    "(docs/EPOCHS.md), each epoch that sealed events is ended once its "
    "period is over (within some milliseconds: its secret overwritten in "
    "place in DIR/keys/NAME.epochs, as `ledger keys advance` does); one "
    "that sealed nothing is left, so an idle box makes no epoch.\n\n"
    "With --proxy it runs `ledger proxy` (the model proxy, docs/PROXY.md) as a "
    "child process configured by DIR/proxy.json, writing through this "
    "server; it is started again when it exits (after 1 s, 2 s, ... at "
    "most 30 s) and stopped with the server.\n\n"
    "With --metrics ADDR it serves GET /metrics for Prometheus: what "
    "`ledger metrics` prints (counted in a process of its own for each "
    "scrape) and this "
    "server's "
    "connections, requests, commits, duplicates and refusals "
    "(docs/METRICS.md). It listens on loopback only, unless "
    "--metrics-remote is given too, and prints \"metrics on "
    "http://ADDR/metrics\" once it listens.\n\n"
    "With --otlp ADDR it is an OpenTelemetry collector for the box's "
    "instrumented applications (OTLP/HTTP, docs/OTLP.md): each span and "
    "log record becomes an event, committed with the socket's events and "
    "answered 200 only once durable; a model-call span (the GenAI semantic "
    "conventions " LDG_OTLP_SEMCONV ") is a route.decision, a tool "
    "execution a run.step, any other span an otel.span, a log record an "
    "otel.log; the run is the trace id (--otlp-run: an attribute's value), "
    "and the span id is the event's id, so a batch sent again records "
    "nothing twice. It prints \"otlp on http://ADDR\" once it listens; "
    "loopback only unless --otlp-remote. With --otlp-grpc ADDR (with "
    "--otlp or alone) it takes the same over OTLP/gRPC, HTTP/2 cleartext "
    "(OTEL_EXPORTER_OTLP_PROTOCOL=grpc), answered with the OTLP status "
    "codes and a RetryInfo where HTTP says Retry-After; it prints "
    "\"otlp-grpc on http://ADDR\".",
    serve_opts, NULL,
    "# serve the default ledger\n"
    "ledger serve &\n"
    "# probe every minute, publish every 5 minutes\n"
    "ledger serve --probe-every 1m --publish-every 5m "
    "https://logs.example/box1 &\n"
    "ledger serve --status\n"
    "# Prometheus scrapes http://127.0.0.1:9464/metrics\n"
    "ledger serve --metrics 127.0.0.1:9464 &\n"
    "# applications export their traces and logs to the ledger\n"
    "# (OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318)\n"
    "ledger serve --otlp 127.0.0.1:4318 &\n"

    "# send one event and read its answer\n"
    "echo '{\"type\":\"x.hello\",\"body\":{},\"id\":\"a1\"}' |\n"
    "  socat - UNIX-CONNECT:\"$LEDGER_DIR/ledger.sock\"\n",
    0, {.size = sizeof(struct serve_args), .opt = serve_opt});

/* One option: 0, or the exit code of a usage error. */
static int
serve_opt(struct cli *c, void *args, int ch, struct cli_args *a)
{
    struct serve_args *g = args;
    uint64_t v;
    char err[1024];
    int is_otlp = ch == OPT_OTLP;

    switch (ch) {
    case OPT_OTLP_RUN:
        if (a->value[0] == '\0')
            return cli_usage_err(c, "--otlp-run: an empty attribute name");
        g->oo.map.run_attr = a->value;
        return 0;
    case OPT_SOCKET: /* ('' refused by cli/args.c: PATH names a file) */
        g->o.socket_path = a->value;
        return 0;
    case OPT_PROBE_EVERY:
    case OPT_VERIFY_EVERY:
    case OPT_PRUNE_EVERY:
    case OPT_PUBLISH_EVERY:
    case OPT_SHIP_EVERY: {
        const char *what = ch == OPT_PROBE_EVERY    ? "probe"
                           : ch == OPT_VERIFY_EVERY ? "verify"
                           : ch == OPT_PRUNE_EVERY  ? "prune"
                           : ch == OPT_SHIP_EVERY   ? "ship"
                                                    : "publish";
        const char *dur = a->value, *url = NULL;
        int rc;
        if ((ch == OPT_PUBLISH_EVERY || ch == OPT_SHIP_EVERY) &&
            (url = take_url(a)) == NULL)
            return cli_usage_err(c, "--%s-every DUR URL: the URL is missing",
                                 what);
        if ((rc = jobs_ready(c)) != 0)
            return rc;
        if (ldg_jobs_add(jobs, what, dur, url, err, sizeof err) < 0)
            return cli_usage_err(c, "%s", err);
        return 0;
    }
    case OPT_SWEEP_EVERY:
        if (ldg_jobs_parse_every(a->value, &v) < 0)
            return cli_usage_err(c,
                                 "--sweep-every: '%s' is not a duration "
                                 "of 1s to 30d",
                                 a->value);
        /* at most 30 days: 2,592,000,000 ms fits (the help's range; a
         * cap of a day here once shortened longer ones unsaid) */
        LDG_ASSERT(v <= UINT_MAX);
        g->o.sweep_ms = (unsigned)v;
        return 0;
    case OPT_PROXY:
        px.on = 1;
        return 0;
    case OPT_METRICS:
    case OPT_OTLP:
    case OPT_OTLP_GRPC:
        is_otlp |= ch == OPT_OTLP_GRPC;
        if ((!is_otlp || strncmp(a->value, "unix:", 5) != 0) &&
            ldg_metrics_addr_loopback(a->value) < 0)
            return cli_usage_err(c,
                                 "--%s: '%s' is not an address "
                                 "(127.0.0.1:PORT, [::1]:PORT, "
                                 "localhost:PORT, PORT or unix:PATH)",
                                 ch == OPT_OTLP_GRPC ? "otlp-grpc"
                                 : is_otlp           ? "otlp"
                                                     : "metrics",
                                 a->value);
        *(ch == OPT_OTLP_GRPC ? &g->grpc_addr
          : is_otlp           ? &g->otlp_addr
                              : &g->metrics_addr) = a->value;
        return 0;
    default:
        return cli_usage(c);
    }
}

/* How the options go together: 0, or the exit code of a usage error. */
static int
serve_check_args(struct cli *c, struct serve_args *g)
{
    if (g->status) {
        /* --status reports on DIR's server: a serving option beside it
         * would be ignored */
        struct serve_args zero, mine;
        memset(&zero, 0, sizeof zero);
        memcpy(&mine, g, sizeof mine); /* calloc'd: its padding is 0 */
        mine.status = 0;
        if (memcmp(&mine, &zero, sizeof zero) != 0 ||
            (jobs != NULL && ldg_jobs_count(jobs) > 0) || px.on)
            return cli_usage_err(c, "--status takes no serving option (it "
                                    "reports on DIR's server)");
        return 0;
    }
    if (c->out != OUT_HUMAN)
        return cli_usage_err(c, "-o goes with --status (the server's own "
                                "lines are text)");
    {
        /* one address for two receivers: the second could not listen,
         * after the first had said it serves there */
        const char *ad[3] = {g->metrics_addr, g->otlp_addr, g->grpc_addr};
        static const char *const nm[3] = {"--metrics", "--otlp", "--otlp-grpc"};
        char a[300], b[300];
        for (int i = 0; i < 3; i++)
            for (int j = i + 1; j < 3; j++)
                if (ad[i] != NULL && ad[j] != NULL &&
                    strcmp(cli_serve_listen_addr(ad[i], a, sizeof a),
                           cli_serve_listen_addr(ad[j], b, sizeof b)) == 0 &&
                    strcmp(a + strlen(a) - 2, ":0") != 0)
                    return cli_usage_err(c,
                                         "%s and %s are both %s: give each "
                                         "its own address",
                                         nm[i], nm[j], a);
    }
    if (g->metrics_remote && g->metrics_addr == NULL)
        return cli_usage_err(c, "--metrics-remote goes with --metrics ADDR");
    if (g->otlp_addr == NULL && g->grpc_addr == NULL &&
        (g->otlp_remote || g->oo.map.run_attr || g->oo.map.spans ||
         g->oo.map.drop_logs || g->oo.map.record_content || g->oo.behind_max))
        return cli_usage_err(c, "--otlp-remote, --otlp-run, --otlp-spans, "
                                "--otlp-logs, --otlp-content and "
                                "--otlp-backlog go with --otlp ADDR or "
                                "--otlp-grpc ADDR");
    for (int i = 0; i < 2; i++) {
        const char *ad = i ? g->grpc_addr : g->otlp_addr;
        if (ad != NULL && !g->otlp_remote && strncmp(ad, "unix:", 5) != 0 &&
            ldg_metrics_addr_loopback(ad) == 0)
            return cli_usage_err(c,
                                 "--%s %s is not a loopback address: anyone "
                                 "who reaches it can write events; add "
                                 "--otlp-remote to take spans from off this "
                                 "box",
                                 i ? "otlp-grpc" : "otlp", ad);
    }
    if (g->metrics_addr != NULL && !g->metrics_remote &&
        ldg_metrics_addr_loopback(g->metrics_addr) == 0)
        return cli_usage_err(c,
                             "--metrics %s is not a loopback address: the "
                             "metrics name packs, models and routes; add "
                             "--metrics-remote to serve them off this box",
                             g->metrics_addr);
    return 0;
}

/* Before the ledger is opened: a proxy file that will not do is said now,
 * not later; the file descriptors --max-conns needs; a socket systemd
 * passed. 0, or the exit code. */
static int
serve_prepare(struct cli *c, struct serve_args *g)
{
    char err[1024] = "";
    int rc;

    if (px.on) { /* a proxy file that will not do: said now, not later */
        struct ldg_proxy_config *pc = NULL;
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", c->dir, LDG_PROXY_FILE);
        if (ldg_cond_init_mono(&px.cv) != 0) {
            cli_err(c, "--proxy: cannot make the proxy's condition variable");
            return EX_OSERR;
        }
        if (ldg_proxy_config_new(&pc) < 0)
            return cli_fail_err(c, "", LDG_ENOMEM);
        rc = ldg_proxy_config_load(pc, path, err, sizeof err);
        if (rc == 0 && ldg_proxy_config_upstreams(pc) == 0) {
            snprintf(err, sizeof err, "%.900s: no \"upstreams\"", path);
            rc = LDG_EBADINPUT;
        }
        ldg_proxy_config_free(pc);
        /* as `ledger proxy` answers for the same file: 66 missing, 74
         * unreadable or not a file, 64 what it says */
        if (rc == LDG_ENOTFOUND || rc == LDG_EIO) {
            cli_err(c, "--proxy: %s", err[0] ? err : ldg_strerror(rc));
            return cli_exit_code(rc);
        }
        if (rc < 0)
            return cli_usage_err(c, "--proxy: %s",
                                 err[0] ? err : ldg_strerror(rc));
    }
    {
        unsigned want = g->o.max_conns ? g->o.max_conns : 4096;
        unsigned got = cli_serve_raise_nofile(want);
        if (got < want) {
            struct rlimit rl;
            if (g->o.max_conns != 0 && getrlimit(RLIMIT_NOFILE, &rl) == 0)
                fprintf(stderr,
                        "ledger serve: --max-conns %u: only %llu file "
                        "descriptors allowed; serving at most %u\n",
                        want, (unsigned long long)rl.rlim_cur, got);
            g->o.max_conns = got;
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
            if (g->o.socket_path != NULL) {
                close(lfd);
                return cli_usage_err(c,
                                     "--socket %s, but systemd passed a "
                                     "socket (socket activation): give one",
                                     g->o.socket_path);
            }
            g->o.has_listen_fd = 1;
            g->o.listen_fd = lfd;
        }
    }
    return 0;
}

/* --metrics ADDR: the endpoint, and where it listens said. 0, or the
 * exit code. */
static int
serve_metrics(struct cli *c, struct ldg_server *s, struct serve_args *g,
              struct ldg_metrics_endpoint **mep)
{
    struct ldg_metrics_endpoint_opts mo;
    char err[1024];
    int rc;

    memset(&mo, 0, sizeof mo);
    mo.listen = g->metrics_addr;
    mo.dir = c->dir;
    mo.allow_remote = g->metrics_remote;
    mo.extra = metrics_extra;
    mo.jobs = jobs;
    mo.log = metrics_log;
    metrics_server = s;
    err[0] = '\0';
    rc = ldg_metrics_endpoint_start(mep, &mo, err, sizeof err);
    if (rc < 0) {
        cli_err(c, "--metrics %s: %s", g->metrics_addr, err);
        return rc == LDG_EBADINPUT ? EX_USAGE : cli_exit_code(rc);
    }
    cli_serve_said_on("metrics", g->metrics_addr,
                      ldg_metrics_endpoint_port(*mep), "/metrics",
                      "GET /metrics", metrics_url, sizeof metrics_url);
    return 0;
}

/* --otlp ADDR, --otlp-grpc ADDR: the receiver, and where it listens
 * said. 0, or the exit code. */
static int
serve_otlp(struct cli *c, struct ldg_server *s, struct serve_args *g)
{
    char err[1024];
    int rc;

    g->oo.listen = cli_serve_listen_addr(g->otlp_addr, g->otlp_listen,
                                         sizeof g->otlp_listen);
    g->oo.grpc_listen = cli_serve_listen_addr(g->grpc_addr, g->grpc_listen,
                                              sizeof g->grpc_listen);
    g->oo.server = s;
    g->oo.log = serve_log; /* a refused request: one line, rate-limited */
    err[0] = '\0';
    rc = ldg_otlp_start(&otlp, &g->oo, err, sizeof err);
    if (rc < 0) {
        /* (which of the two: the address in the message says) */
        cli_err(c, "--otlp%s: %s",
                g->oo.grpc_listen && strstr(err, g->oo.grpc_listen) ? "-grpc"
                                                                    : "",
                err);
        return rc == LDG_EBADINPUT ? EX_USAGE : cli_exit_code(rc);
    }
    pthread_mutex_lock(&otlp_mu);
    metrics_otlp = otlp;
    pthread_mutex_unlock(&otlp_mu);
    if (g->oo.listen != NULL)
        cli_serve_said_on("otlp", g->oo.listen, ldg_otlp_port(otlp),
                          " (POST /v1/traces, /v1/logs)",
                          "POST /v1/traces, /v1/logs", otlp_url,
                          sizeof otlp_url);
    if (g->oo.grpc_listen != NULL)
        cli_serve_said_on("otlp-grpc", g->oo.grpc_listen,
                          ldg_otlp_grpc_port(otlp),
                          " (gRPC: TraceService/Export, LogsService/Export)",
                          "gRPC: TraceService/Export, LogsService/Export",
                          grpc_url, sizeof grpc_url);
    return 0;
}

static int
serve_main(struct cli *c, struct serve_args *g)
{
    struct ldg_serve_stats st;
    struct ldg_ledger *l = NULL;
    struct ldg_server *s = NULL;
    struct sigaction sa;
    struct ldg_metrics_endpoint *mep = NULL;
    char err[1024];
    int rc;

    if ((rc = serve_check_args(c, g)) != 0)
        return rc;
    if (cli_resolve_dir(c) != 0)
        return EX_USAGE;
    if (g->status)
        return cli_serve_status(c);
    jobs_dir = c->dir;
    if ((rc = serve_prepare(c, g)) != 0)
        return rc;
    if ((rc = cli_open(c, CLI_OPEN_DAEMON, &l)) != 0) {
        notify("STATUS=cannot open the ledger in %s (exit %d)", c->dir, rc);
        return rc;
    }
    g->o.on_ready = on_ready;
    g->o.on_stopping = on_stopping;
    g->o.on_reload = on_reload;
    err[0] = '\0';
    rc = ldg_serve_new(&s, l, &g->o, err, sizeof err);
    if (rc < 0) {
        cli_err(c, "%s", err[0] ? err : ldg_strerror(rc));
        notify("STATUS=cannot start: %s", err[0] ? err : ldg_strerror(rc));
        rc = rc == LDG_EBADINPUT ? EX_CONFIG          /* access.json */
                                 : cli_exit_code(rc); /* 75 in use */
        goto out;
    }
    if (g->metrics_addr != NULL && (rc = serve_metrics(c, s, g, &mep)) != 0)
        goto out;
    if (g->otlp_addr != NULL || g->grpc_addr != NULL) {
        /* a span timed before the ledger's first event is flagged (not
         * known on a pruned ledger, whose first is gone: 2000 only) */
        struct ldg_stats lst;
        if (ldg_stats(l, &lst) == 0 && lst.horizon == 0)
            g->oo.map.genesis_ns = lst.first_ts;
        if ((rc = serve_otlp(c, s, g)) != 0)
            goto out;
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    serving = s;
    sa.sa_handler = on_stop_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_hup;
    sigaction(SIGHUP, &sa, NULL);
    rc = ldg_serve_run(s);
    serving = NULL;
    ldg_metrics_endpoint_stop(mep); /* before the server it reads */
    mep = NULL;
    otlp_quit(); /* (stopped already, unless the loop failed) */
    rx_stop();   /* the receivers' last counters, in the status file */
    ldg_jobs_quit(jobs);
    if (px.started) {
        proxy_quit();
        pthread_join(px.thr, NULL);
        px.started = 0;
    }
    ldg_serve_stats(s, &st);
    cli_serve_stopped(
        &st, g->otlp_addr != NULL || g->grpc_addr != NULL ? &otlp_final : NULL);
    notify("STATUS=stopped: %llu events committed, %llu duplicates, %llu "
           "errors",
           (unsigned long long)st.acked, (unsigned long long)st.duplicates,
           (unsigned long long)st.errors);
    if (rc < 0) {
        cli_err(c, "%s", ldg_serve_errmsg(s));
        rc = cli_exit_code(rc);
    } else
        rc = EX_OK;
out:
    ldg_metrics_endpoint_stop(mep);
    otlp_quit();
    ldg_serve_free(s);
    ldg_close(l);
    return rc;
}
