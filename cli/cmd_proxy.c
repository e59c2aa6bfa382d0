/*
 * cmd_proxy.c — `ledger proxy`: the recorder in the request path of the
 * box's models (proxy/proxy.h, docs/PROXY.md).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "proxy/proxy.h"
#include "serve/serve.h"

enum {
    OPT_LISTEN = 500,
    OPT_UPSTREAM,
    OPT_CONFIG,
    OPT_RECORD,
    OPT_CONTENT,
    OPT_DIRECT,
    OPT_ACTOR,
    OPT_BODY_MAX,
    OPT_FIRST_BYTE,
    OPT_IDLE
};

/* The longest --first-byte-timeout and --idle-timeout: a day, in ms. */
#define PROXY_TIMEOUT_MAX_MS 86400000

struct proxy_args {
    struct ldg_proxy_options o;
    const char *config;
    int record, content, direct;
    struct cli_list upstreams;
};
static const struct proxy_args proxy_defaults = {.record = -1};
#define XA struct proxy_args
static const struct cli_opt proxy_opts[] = {
    CLI_STR(OPT_LISTEN, 0, "listen", "ADDR",
            "where to listen: HOST:PORT or unix:PATH "
            "(default " LDG_PROXY_LISTEN_DEFAULT
            "; an address other than loopback "
            "only when given here or as the proxy file's \"listen\")",
            XA, o.listen),
    CLI_LIST(OPT_UPSTREAM, 0, "upstream", "NAME=URL",
             "a runtime to pass requests to, e.g. "
             "ollama=http://127.0.0.1:11434; repeatable, the first is the "
             "default",
             XA, upstreams),
    CLI_STR(OPT_CONFIG, 0, "config", "FILE",
            "the proxy file (default: DIR/" LDG_PROXY_FILE
            " when it exists): upstreams, routes, record mode",
            XA, config),
    CLI_PICK(OPT_RECORD, 0, "record", "MODE",
             "sync (default): an answer only after its event is durable; "
             "async: answer first, commit after",
             XA, record, "sync|async"),
    CLI_ON(OPT_CONTENT, 0, "record-content",
           "record prompts and completions too (body fields prompt and "
           "completion; off by default)",
           XA, content),
    CLI_ON(OPT_DIRECT, 0, "direct",
           "write the ledger directly even when `ledger serve` serves it", XA,
           direct),
    CLI_STR(OPT_ACTOR, 0, "actor", "NAME",
            "sign the events with this actor's key (direct writes)", XA,
            o.actor),
    CLI_VALUE(OPT_BODY_MAX, 0, "body-max", "BYTES",
              "largest request body passed on (default 32 MiB; larger: 413)"),
    CLI_VALUE(OPT_FIRST_BYTE, 0, "first-byte-timeout", "MS",
              "wait this long for an upstream's answer to begin (default "
              "300000: a cold model load)"),
    CLI_VALUE(OPT_IDLE, 0, "idle-timeout", "MS",
              "end a stream whose upstream sends nothing for this long "
              "(default 300000)"),
    CLI_OPT_END};

static volatile sig_atomic_t stop_flag;

static void
on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

/* --body-max, --first-byte-timeout, --idle-timeout: 0, or the exit code
 * of a usage error */
static int
proxy_opt(struct cli *c, void *args, int id, struct cli_args *a)
{
    struct ldg_proxy_options *o = &((struct proxy_args *)args)->o;
    const char *name = id == OPT_BODY_MAX     ? "--body-max"
                       : id == OPT_FIRST_BYTE ? "--first-byte-timeout"
                                              : "--idle-timeout";
    uint64_t n;
    if (cli_parse_u64(a->value, &n) < 0 || n == 0)
        return cli_usage_err(c, "%s: '%s' is not a positive number", name,
                             a->value);
    /* a longer wait is no timeout, and past 2^63 ms it wraps around */
    if (id != OPT_BODY_MAX && n > PROXY_TIMEOUT_MAX_MS)
        return cli_usage_err(c, "%s: '%s' ms is more than a day (%d)", name,
                             a->value, PROXY_TIMEOUT_MAX_MS);
    if (id == OPT_BODY_MAX)
        o->body_max = (size_t)n;
    else if (id == OPT_FIRST_BYTE)
        o->first_byte_ms = (long)n;
    else
        o->idle_ms = (long)n;
    return 0;
}

/* Enough descriptors for max_conns clients and their upstreams. */
static void
raise_nofile(rlim_t want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
        return;
    rl.rlim_cur =
        rl.rlim_max != RLIM_INFINITY && want > rl.rlim_max ? rl.rlim_max : want;
    setrlimit(RLIMIT_NOFILE, &rl);
}

/* The proxy file (config, or the ledger directory's when it is there)
 * and the options it and the command line give: 0, or the exit code. */
static int
proxy_configure(struct cli *c, struct ldg_proxy_config *cfg, const char *config,
                int record, int content, struct ldg_proxy_options *o)
{
    char err[1024] = "", path[4200];
    int rc;

    /* the proxy file: named, or the ledger directory's when it is there */
    if (config == NULL) {
        snprintf(path, sizeof path, "%s/%s", c->dir, LDG_PROXY_FILE);
        struct stat st;
        if (stat(path, &st) == 0)
            config = path;
    }
    if (config != NULL) {
        rc = ldg_proxy_config_load(cfg, config, err, sizeof err);
        if (rc == LDG_ENOTFOUND || rc == LDG_EIO) {
            cli_err(c, "%s", err);
            rc = rc == LDG_EIO ? EX_IOERR : EX_NOINPUT;
            return rc;
        }
        if (rc < 0) {
            /* the file is wrong, not the command line: no usage block */
            cli_err(c, "%s", err);
            rc = EX_USAGE;
            return rc;
        }
    }
    if (ldg_proxy_config_upstreams(cfg) == 0) {
        rc = cli_usage_err(c, "no upstream: give --upstream NAME=URL (e.g. "
                              "ollama=http://127.0.0.1:11434) or a proxy "
                              "file");
        return rc;
    }
    if (o->listen == NULL)
        o->listen = ldg_proxy_config_listen(cfg);
    o->record =
        record >= 0
            ? (record ? LDG_PROXY_RECORD_ASYNC : LDG_PROXY_RECORD_SYNC)
            : (ldg_proxy_config_async(cfg) == 1 ? LDG_PROXY_RECORD_ASYNC
                                                : LDG_PROXY_RECORD_SYNC);
    o->record_content = content || ldg_proxy_config_content(cfg) == 1;
    o->config = cfg;
    return 0;
}

/* Where the proxy listens and how it records, on stdout. */
static void
say_listening(struct cli *c, struct ldg_proxy *p,
              const struct ldg_proxy_options *o)
{
    const char *lis = o->listen ? o->listen : LDG_PROXY_LISTEN_DEFAULT;
    unsigned port = ldg_proxy_port(p);
    if (strncmp(lis, "unix:", 5) == 0 || port == 0) {
        printf("listening on %s\n", lis);
    } else {
        const char *colon = strrchr(lis, ':');
        printf("listening on %.*s:%u\n",
               colon ? (int)(colon - lis) : (int)strlen(lis), lis, port);
    }
    printf("recording %s into %s (%s)%s\n",
           o->record == LDG_PROXY_RECORD_ASYNC ? "async" : "sync", c->dir,
           o->client ? "through ledger serve" : "directly",
           o->record_content ? ", with prompts and completions "
                               "(--record-content)"
                             : "");
    fflush(stdout);
}

/* Stops the proxy and says what it did: the exit code. */
static int
proxy_stop_say(struct ldg_proxy *p)
{
    int rc;
    struct ldg_proxy_stats st;
    char last[256];
    ldg_proxy_last_error(p, last, sizeof last);
    rc = ldg_proxy_stop(p, &st);
    fprintf(stderr,
            "ledger proxy: stopped: %llu requests, %llu events recorded "
            "(%llu commits), %llu not recorded; outcomes: %llu error, "
            "%llu refused, %llu client-gone\n",
            (unsigned long long)st.requests, (unsigned long long)st.recorded,
            (unsigned long long)st.commits,
            (unsigned long long)st.record_failed, (unsigned long long)st.errors,
            (unsigned long long)st.refused, (unsigned long long)st.client_gone);
    if (last[0])
        fprintf(stderr, "ledger proxy: last recording error: %s\n", last);
    return rc < 0 ? EX_IOERR : EX_OK;
}

static int
cmd_proxy(struct cli *c, struct proxy_args *x, int npos, char **pos)
{
    struct ldg_proxy_config *cfg = NULL;
    struct ldg_proxy *p = NULL;
    struct ldg_ledger *l = NULL, *reg = NULL;
    struct ldg_client *cl = NULL;
    char err[1024] = "";
    int rc;

    if (ldg_proxy_config_new(&cfg) < 0)
        return cli_fail_err(c, "", LDG_ENOMEM);
    for (size_t i = 0; i < x->upstreams.n; i++)
        if (ldg_proxy_config_add_upstream(cfg, x->upstreams.v[i], err,
                                          sizeof err) < 0) {
            rc = cli_usage_err(c, "%s", err);
            goto out;
        }
    if ((rc = cli_resolve_dir(c)) != 0)
        goto out;
    if ((rc = proxy_configure(c, cfg, x->config, x->record, x->content,
                              &x->o)) != 0)
        goto out;

    /* where the events go: through ledger serve when it serves the
     * ledger, else directly */
    if (!x->direct) {
        rc = cli_serve_connect(c, &cl, 0);
        if (rc > 0)
            goto out;
    }
    if (cl != NULL) {
        struct ldg_options lo = {0};
        lo.flags = LDG_RDONLY;
        if (ldg_open(&reg, c->dir, &lo, err, sizeof err) < 0) {
            fprintf(stderr,
                    "ledger proxy: cannot read the registry (%s): events "
                    "carry no model digest\n",
                    err);
            reg = NULL;
        }
        x->o.client = cl;
        x->o.serve_dir = c->dir;
        x->o.registry = reg;
        if (x->o.actor) {
            rc = cli_usage_err(c, "--actor: ledger serve signs what it "
                                  "commits; give --direct to sign with an "
                                  "actor's key");
            goto out;
        }
    } else {
        if ((rc = cli_open(c, CLI_OPEN_DAEMON, &l)) != 0)
            goto out;
        x->o.ledger = l;
        x->o.registry = l;
    }
    raise_nofile(4096);
    {
        struct sigaction sa = {0};
        sa.sa_handler = on_signal;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);
    }
    err[0] = 0;
    rc = ldg_proxy_start(&p, &x->o, err, sizeof err);
    cl = NULL; /* the proxy's now (closed on failure too) */
    if (rc < 0) {
        /* an address the proxy file gave: say so, and where */
        if (rc == LDG_EBADINPUT && x->o.listen != NULL &&
            x->o.listen == ldg_proxy_config_listen(cfg) &&
            strncmp(err, "'", 1) == 0 &&
            strncmp(err + 1, x->o.listen, strlen(x->o.listen)) == 0)
            cli_err(c, "%s: \"listen\": %s", x->config, err);
        else
            cli_err(c, "%s", err[0] ? err : ldg_strerror(rc));
        rc = rc == LDG_EBADINPUT ? EX_USAGE
             : rc == LDG_EKEY || rc == LDG_EVERSION || rc == LDG_EBUSY
                 ? cli_exit_code(rc) /* as append: 77, 65; in use: 75 */
                 : EX_IOERR;
        goto out;
    }
    say_listening(c, p, &x->o);
    /* an epoch the proxy cannot end (writing directly), said when it
     * begins and when it is over */
    for (int was_bad = 0; !stop_flag;) {
        char why[256];
        sleep(1); /* (a signal ends it early) */
        ldg_proxy_epoch_error(p, why, sizeof why);
        if ((why[0] != 0) != was_bad) {
            was_bad = why[0] != 0;
            if (was_bad)
                fprintf(stderr,
                        "ledger proxy: cannot end an expired epoch (tried "
                        "again each second): %s\n",
                        why);
            else
                fprintf(stderr, "ledger proxy: expired epochs end again\n");
        }
    }
    rc = proxy_stop_say(p);
    p = NULL;
out:
    ldg_proxy_stop(p, NULL);
    ldg_client_close(cl);
    ldg_close(reg);
    ldg_close(l);
    ldg_proxy_config_free(cfg);
    return rc;
}

CLI_COMMAND(
    proxy, CLI_GROUP_EVENTS,
    "record every model request passing through a local proxy",
    "A reverse proxy for the box's model runtimes (Ollama, llama.cpp's "
    "server, vLLM, LM Studio, anything OpenAI-compatible): applications "
    "call it instead of the runtime's port, every request is passed on "
    "unchanged and its answer passed back (streams piece by piece), and "
    "each becomes one event: route.decision for a model call (OpenAI "
    "/v1/chat/completions, /v1/completions, /v1/embeddings; Ollama "
    "/api/chat, /api/generate, /api/embed), proxy.request for anything "
    "else. An event says which upstream and model answered, the model's "
    "digest in the registry and whether it was verified, status, outcome "
    "(ok, error, refused, client-gone), latency, time to first token, "
    "tokens, sizes, and who asked (uid, pid and executable, from the "
    "kernel). Prompts and completions are not recorded without "
    "--record-content; Authorization and API keys never are. A header "
    "X-Ledger-Run: R puts the event in run R; X-Request-Id becomes its "
    "id.\n\n"
    "With several upstreams, a request picks one with a first path "
    "segment naming it (/vllm/v1/chat/completions) or the header "
    "X-Ledger-Upstream: NAME; the proxy file's routes may give a model "
    "an ordered list of candidates, tried in turn on refusal, 5xx or "
    "timeout (fallback: true).\n\n"
    "By default (--record sync) an answer is released only once its "
    "event is durable (a stream's last piece waits for it); a request "
    "whose event cannot be written gets 503. When `ledger serve` serves "
    "the ledger, events go through its socket. Runs until SIGINT or "
    "SIGTERM, then says what it recorded: exit 0, or 74 when an event "
    "could not be recorded. Exit 64 for a bad option or proxy file, 66 "
    "for a --config FILE or a ledger that is not there, 65 for a ledger "
    "at an older store layout (`ledger migrate` it), 77 for an --actor "
    "whose key is missing or unusable, 75 when its address is in use (as "
    "`ledger serve --otlp`), 74 when it cannot listen otherwise, open the "
    "ledger that is there or read the proxy file. See docs/PROXY.md.",
    proxy_opts, NULL,
    "# in front of Ollama; applications use http://127.0.0.1:11435\n"
    "ledger proxy --upstream ollama=http://127.0.0.1:11434\n"
    "# two runtimes, answers before commits\n"
    "ledger proxy --upstream ollama=http://127.0.0.1:11434 \\\n"
    "    --upstream vllm=http://127.0.0.1:8000 --record async\n"
    "# the model calls of run r1\n"
    "curl -H 'X-Ledger-Run: r1' http://127.0.0.1:11435/api/chat -d @req.json\n"
    "ledger timeline r1\n",
    0,
    {.size = sizeof(struct proxy_args),
     .opt = proxy_opt,
     .defaults = &proxy_defaults});
