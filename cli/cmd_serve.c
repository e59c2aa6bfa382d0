/*
 * cmd_serve.c — `ledger serve`: the daemon a box's control plane streams
 * events into (serve/serve.h, docs/PROTOCOL.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "serve/serve.h"
#include "util/util.h"

#define SERVE_STATUS_FILE "serve-status.json"
#ifndef EX_TEMPFAIL
#define EX_TEMPFAIL 75
#endif
#define EX_UNAVAILABLE 69

static struct ldg_server *volatile serving;

static void
on_hup(int sig)
{
    struct ldg_server *s = serving;
    (void)sig;
    if (s != NULL)
        ldg_serve_reload(s);
}

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

/* ----------------------------------------------------- interval jobs -- */

/*
 * `--probe-every`, `--publish-every`, `--ship-every`: jobs the daemon runs
 * on an interval, each as a child process (`ledger --dir DIR probe`, ...,
 * the same program), one at a time, on a thread of their own. A child is
 * the unit of failure: whatever a job does (hangs past its time limit,
 * crashes, fails), the daemon goes on serving. Probe's events go through
 * the daemon's own socket (cmd_probe writes through `ledger serve` when
 * it answers), so they share its write path and group commit.
 *
 * A failed run is logged on stderr (the journal) with the child's last
 * lines and retried with backoff: 5 s, 10 s, 20 s, ... up to the interval.
 * What each job did last is in DIR/serve-status.json (`ledger serve
 * --status`) and in systemd's STATUS= line.
 */
#define JOB_MAX 3
#define JOB_BACKOFF_MS 5000u

struct job {
    const char *name; /* probe, publish, ship */
    const char *url;
    uint64_t every_ms;
    uint64_t next_ns; /* monotonic */
    uint64_t runs, failures;
    unsigned streak;                       /* failures in a row */
    int last_exit;                         /* -1: never ran */
    uint64_t last_run, last_ok, next_wall; /* wall-clock ns */
    char last_error[512];
};

struct jobs {
    struct job j[JOB_MAX];
    size_t n;
    char exe[4096];
    const char *dir;
    char sock[1024];
    uint64_t started;
    pthread_t thread;
    int running;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int quit;
    pid_t child;
};

static struct jobs jobs;

static uint64_t
wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* "30s", "5m", "1h", "2d", "500ms"; a bare number is seconds. 1 s to
 * 30 days. */
static int
parse_every(const char *s, uint64_t *ms)
{
    char *end;
    unsigned long long v;
    uint64_t mul;
    if (s[0] < '0' || s[0] > '9')
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0)
        return -1;
    if (strcmp(end, "") == 0 || strcmp(end, "s") == 0)
        mul = 1000;
    else if (strcmp(end, "ms") == 0)
        mul = 1;
    else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
        mul = 60000;
    else if (strcmp(end, "h") == 0)
        mul = 3600000;
    else if (strcmp(end, "d") == 0)
        mul = 86400000;
    else
        return -1;
    if (v > 30ull * 86400000ull / mul)
        return -1;
    *ms = v * mul;
    return *ms >= 1000 ? 0 : -1;
}

static void
fmt_wall(char *buf, size_t cap, uint64_t ns)
{
    if (ns == 0)
        snprintf(buf, cap, "-");
    else
        ldg_time_rfc3339_sec(buf, cap, ns);
}

/* DIR/serve-status.json, replaced whole (written, fsync'd, renamed). */
static void
jobs_write_status(struct jobs *js, int stopped)
{
    char path[4200], tmp[4300], t[64];
    json_t *root, *arr;
    FILE *f;
    int fd;

    snprintf(path, sizeof path, "%s/%s", js->dir, SERVE_STATUS_FILE);
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
    root = json_object();
    arr = json_array();
    json_object_set_new(root, "pid", json_integer((json_int_t)getpid()));
    json_object_set_new(root, "socket", json_string(js->sock));
    fmt_wall(t, sizeof t, js->started);
    json_object_set_new(root, "started", json_string(t));
    fmt_wall(t, sizeof t, wall_ns());
    json_object_set_new(root, "updated", json_string(t));
    json_object_set_new(root, "state",
                        json_string(stopped ? "stopped" : "serving"));
    for (size_t i = 0; i < js->n; i++) {
        struct job *j = &js->j[i];
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(j->name));
        json_object_set_new(o, "every_ms",
                            json_integer((json_int_t)j->every_ms));
        json_object_set_new(o, "url",
                            j->url ? json_string(j->url) : json_null());
        json_object_set_new(o, "runs", json_integer((json_int_t)j->runs));
        json_object_set_new(o, "failures",
                            json_integer((json_int_t)j->failures));
        json_object_set_new(o, "failing_in_a_row", json_integer(j->streak));
        json_object_set_new(o, "last_exit",
                            j->last_exit < 0 ? json_null()
                                             : json_integer(j->last_exit));
        fmt_wall(t, sizeof t, j->last_run);
        json_object_set_new(o, "last_run",
                            j->last_run ? json_string(t) : json_null());
        fmt_wall(t, sizeof t, j->last_ok);
        json_object_set_new(o, "last_ok",
                            j->last_ok ? json_string(t) : json_null());
        fmt_wall(t, sizeof t, j->next_wall);
        json_object_set_new(o, "next_run",
                            stopped || !j->next_wall ? json_null()
                                                     : json_string(t));
        json_object_set_new(o, "last_error",
                            j->last_error[0] ? json_string(j->last_error)
                                             : json_null());
        json_array_append_new(arr, o);
    }
    json_object_set_new(root, "jobs", arr);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (f == NULL ||
        json_dumpf(root, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0 ||
        fputc('\n', f) == EOF || fflush(f) != 0 || fsync(fileno(f)) != 0 ||
        fclose(f) != 0 || rename(tmp, path) != 0) {
        static int warned;
        if (!warned)
            fprintf(stderr, "ledger serve: cannot write %s: %s\n", path,
                    strerror(errno));
        warned = 1;
        if (f == NULL && fd >= 0)
            close(fd);
        unlink(tmp);
    }
    json_decref(root);
}

/* systemd's STATUS=: what the daemon serves and how its jobs fare. */
static void
jobs_notify(struct jobs *js)
{
    char msg[1024];
    size_t off = 0;
    uint64_t now = wall_ns();
    off += (size_t)snprintf(msg, sizeof msg, "STATUS=serving on %s", js->sock);
    for (size_t i = 0; i < js->n && off < sizeof msg; i++) {
        struct job *j = &js->j[i];
        if (j->last_exit < 0)
            off += (size_t)snprintf(msg + off, sizeof msg - off,
                                    "; %s: not run yet", j->name);
        else if (j->streak == 0)
            off += (size_t)snprintf(
                msg + off, sizeof msg - off, "; %s ok %llus ago", j->name,
                (unsigned long long)((now - j->last_ok) / 1000000000u));
        else
            off += (size_t)snprintf(
                msg + off, sizeof msg - off,
                "; %s FAILING (%u in a row, exit %d: %.120s), retry in %llus",
                j->name, j->streak, j->last_exit, j->last_error,
                (unsigned long long)(j->next_wall > now
                                         ? (j->next_wall - now) / 1000000000u
                                         : 0));
    }
    notify("%s", msg);
}

/* Runs one job to its end (or its time limit): the exit code, with the
 * last lines it wrote in err. */
static int
job_run(struct jobs *js, struct job *j, char *err, size_t cap)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, def;
    int pfd[2], status = 0, rc;
    pid_t pid;
    char *argv[8];
    size_t an = 0, tail_len = 0;
    char tail[4096], line[1024];
    size_t line_len = 0;
    uint64_t limit_ms = j->every_ms < 600000 ? j->every_ms : 600000;
    uint64_t deadline;
    int killed = 0;

    if (limit_ms < 30000)
        limit_ms = 30000;
    err[0] = '\0';
    char a_dir[] = "--dir", a_path[4200], a_name[16], a_url[2048];
    snprintf(a_path, sizeof a_path, "%s", js->dir);
    snprintf(a_name, sizeof a_name, "%s", j->name);
    argv[an++] = js->exe;
    argv[an++] = a_dir;
    argv[an++] = a_path;
    argv[an++] = a_name;
    if (j->url != NULL) {
        snprintf(a_url, sizeof a_url, "%s", j->url);
        argv[an++] = a_url;
    }
    argv[an] = NULL;
    if (pipe2(pfd, O_CLOEXEC) < 0) {
        snprintf(err, cap, "pipe: %s", strerror(errno));
        return EX_OSERR;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 2);
    posix_spawnattr_init(&at);
    sigemptyset(&none);
    sigemptyset(&def);
    sigaddset(&def, SIGPIPE);
    sigaddset(&def, SIGTERM);
    sigaddset(&def, SIGINT);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &def);
    posix_spawnattr_setflags(&at,
                             POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    rc = posix_spawn(&pid, js->exe, &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(pfd[1]);
    if (rc != 0) {
        close(pfd[0]);
        snprintf(err, cap, "cannot start %.200s: %s", js->exe, strerror(rc));
        return EX_OSERR;
    }
    pthread_mutex_lock(&js->mu);
    js->child = pid;
    pthread_mutex_unlock(&js->mu);
    deadline = ldg_now_mono_ns() + limit_ms * 1000000u;
    for (;;) {
        struct pollfd p = {.fd = pfd[0], .events = POLLIN};
        uint64_t now = ldg_now_mono_ns();
        int n;
        char buf[2048];
        ssize_t r;
        if (now >= deadline && !killed) {
            kill(pid, SIGKILL);
            killed = 1;
        }
        n = poll(&p, 1, 200);
        if (n <= 0)
            continue;
        r = read(pfd[0], buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        for (ssize_t k = 0; k < r; k++) {
            if (buf[k] != '\n' && line_len + 1 < sizeof line) {
                line[line_len++] = buf[k];
                continue;
            }
            if (buf[k] != '\n')
                continue; /* an over-long line: cut */
            line[line_len] = '\0';
            fprintf(stderr, "ledger serve: %s: %s\n", j->name, line);
            if (line_len + 2 > sizeof tail - tail_len)
                tail_len = 0;
            tail_len +=
                (size_t)snprintf(tail + tail_len, sizeof tail - tail_len,
                                 "%s%s", tail_len ? " | " : "", line);
            line_len = 0;
        }
    }
    close(pfd[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    pthread_mutex_lock(&js->mu);
    js->child = 0;
    pthread_mutex_unlock(&js->mu);
    if (killed) {
        snprintf(err, cap, "killed after %llu s (its time limit)",
                 (unsigned long long)(limit_ms / 1000));
        return EX_TEMPFAIL;
    }
    if (WIFSIGNALED(status)) {
        snprintf(err, cap, "killed by signal %d%s%.400s", WTERMSIG(status),
                 tail_len ? ": " : "", tail);
        return 128 + WTERMSIG(status);
    }
    rc = WIFEXITED(status) ? WEXITSTATUS(status) : EX_SOFTWARE;
    if (rc != 0) {
        /* the last lines, which say why */
        const char *t = tail_len > 400 ? tail + tail_len - 400 : tail;
        snprintf(err, cap, "%.400s", tail_len ? t : "(no message)");
    }
    return rc;
}

static void *
jobs_main(void *arg)
{
    struct jobs *js = arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    for (;;) {
        struct job *due = NULL;
        uint64_t now = ldg_now_mono_ns(), soonest = UINT64_MAX;
        pthread_mutex_lock(&js->mu);
        if (js->quit) {
            pthread_mutex_unlock(&js->mu);
            break;
        }
        for (size_t i = 0; i < js->n; i++) {
            if (js->j[i].next_ns <= now &&
                (due == NULL || js->j[i].next_ns < due->next_ns))
                due = &js->j[i];
            if (js->j[i].next_ns < soonest)
                soonest = js->j[i].next_ns;
        }
        if (due == NULL) {
            struct timespec w;
            uint64_t wait_ns = soonest - now;
            if (wait_ns > 1000000000u)
                wait_ns = 1000000000u;
            clock_gettime(CLOCK_REALTIME, &w);
            w.tv_sec += (time_t)(wait_ns / 1000000000u);
            w.tv_nsec += (long)(wait_ns % 1000000000u);
            if (w.tv_nsec >= 1000000000L) {
                w.tv_sec++;
                w.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&js->cv, &js->mu, &w);
            pthread_mutex_unlock(&js->mu);
            continue;
        }
        pthread_mutex_unlock(&js->mu);
        {
            char err[512];
            uint64_t delay_ms;
            int rc;
            due->last_run = wall_ns();
            rc = job_run(js, due, err, sizeof err);
            due->runs++;
            due->last_exit = rc;
            if (rc == 0) {
                due->streak = 0;
                due->last_ok = wall_ns();
                due->last_error[0] = '\0';
                delay_ms = due->every_ms;
            } else {
                due->failures++;
                due->streak++;
                snprintf(due->last_error, sizeof due->last_error, "%.500s",
                         err);
                delay_ms = JOB_BACKOFF_MS;
                for (unsigned k = 1;
                     k < due->streak && delay_ms < due->every_ms; k++)
                    delay_ms *= 2;
                if (delay_ms > due->every_ms)
                    delay_ms = due->every_ms;
                fprintf(stderr,
                        "ledger serve: %s failed (exit %d, %u in a row): %s; "
                        "retrying in %llu s\n",
                        due->name, rc, due->streak, err,
                        (unsigned long long)(delay_ms / 1000));
            }
            due->next_ns = ldg_now_mono_ns() + delay_ms * 1000000u;
            due->next_wall = wall_ns() + delay_ms * 1000000u;
            jobs_write_status(js, 0);
            jobs_notify(js);
        }
    }
    return NULL;
}

static int
jobs_add(struct cli *c, const char *name, const char *every, const char *url)
{
    struct job *j;
    uint64_t ms;
    for (size_t i = 0; i < jobs.n; i++)
        if (strcmp(jobs.j[i].name, name) == 0)
            return cli_usage_err(c, "--%s-every given twice", name);
    if (parse_every(every, &ms) < 0)
        return cli_usage_err(c,
                             "--%s-every: '%s' is not a duration of 1s to "
                             "30d (30s, 5m, 1h, 1d; a bare number is seconds)",
                             name, every);
    if (url != NULL && strncmp(url, "http://", 7) != 0 &&
        strncmp(url, "https://", 8) != 0)
        return cli_usage_err(c, "--%s-every %s: '%s' is not an http(s) URL",
                             name, every, url);
    j = &jobs.j[jobs.n++];
    memset(j, 0, sizeof *j);
    j->name = name;
    j->url = url;
    j->every_ms = ms;
    j->last_exit = -1;
    return 0;
}

/* The URL after --publish-every/--ship-every's DUR: the next argument. */
static const char *
take_url(struct cli_args *a)
{
    if (optind < a->argc && a->argv[optind][0] != '-')
        return a->argv[optind++];
    return NULL;
}

static int
jobs_start(const char *dir, const char *sock)
{
    ssize_t n;
    jobs.dir = dir;
    snprintf(jobs.sock, sizeof jobs.sock, "%s", sock);
    jobs.started = wall_ns();
    pthread_mutex_init(&jobs.mu, NULL);
    pthread_cond_init(&jobs.cv, NULL);
    jobs_write_status(&jobs, 0);
    if (jobs.n == 0)
        return 0;
    n = readlink("/proc/self/exe", jobs.exe, sizeof jobs.exe - 1);
    if (n <= 0) {
        fprintf(stderr,
                "ledger serve: cannot find its own program (%s): no "
                "interval jobs\n",
                strerror(errno));
        return -1;
    }
    jobs.exe[n] = '\0';
    for (size_t i = 0; i < jobs.n; i++)
        jobs.j[i].next_ns = ldg_now_mono_ns(); /* a first run at once */
    if (pthread_create(&jobs.thread, NULL, jobs_main, &jobs) != 0) {
        fprintf(stderr, "ledger serve: cannot start the jobs' thread\n");
        return -1;
    }
    jobs.running = 1;
    return 0;
}

static void
jobs_stop(void)
{
    if (jobs.running) {
        pthread_mutex_lock(&jobs.mu);
        jobs.quit = 1;
        if (jobs.child > 0)
            kill(jobs.child, SIGTERM); /* a job in flight is cut short */
        pthread_cond_signal(&jobs.cv);
        pthread_mutex_unlock(&jobs.mu);
        pthread_join(jobs.thread, NULL);
        jobs.running = 0;
    }
    if (jobs.dir != NULL)
        jobs_write_status(&jobs, 1);
}

static void
on_ready(void *ctx, const char *path)
{
    (void)ctx;
    printf("listening on %s\n", path[0] ? path : "(an inherited socket)");
    fflush(stdout);
    notify("READY=1\nMAINPID=%ld\nSTATUS=serving on %s", (long)getpid(),
           path[0] ? path : "an inherited socket");
    jobs_start(jobs.dir, path);
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

static void
on_stopping(void *ctx)
{
    (void)ctx;
    /* no job starts any more; one in flight is cut short */
    if (jobs.running) {
        pthread_mutex_lock(&jobs.mu);
        jobs.quit = 1;
        if (jobs.child > 0)
            kill(jobs.child, SIGTERM);
        pthread_cond_signal(&jobs.cv);
        pthread_mutex_unlock(&jobs.mu);
    }
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

enum {
    OPT_SOCKET = 256,
    OPT_MAX_CONNS,
    OPT_MAX_LINE,
    OPT_STALL,
    OPT_PROBE_EVERY,
    OPT_PUBLISH_EVERY,
    OPT_SHIP_EVERY,
    OPT_SWEEP_EVERY,
    OPT_STATUS
};

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
    CLI_VALUE(OPT_PROBE_EVERY, 0, "probe-every", "DUR",
              "run `ledger probe` (the runtimes in DIR/runtimes) every DUR "
              "(30s, 5m, 1h); its events go through this server"),
    CLI_VALUE(OPT_PUBLISH_EVERY, 0, "publish-every", "DUR URL",
              "run `ledger publish URL` every DUR"),
    CLI_VALUE(OPT_SHIP_EVERY, 0, "ship-every", "DUR URL",
              "run `ledger ship URL` (ClickHouse) every DUR"),
    CLI_VALUE(OPT_SWEEP_EVERY, 0, "sweep-every", "DUR",
              "clear dead readers' slots every DUR (default 60s)"),
    CLI_FLAG(OPT_STATUS, 0, "status",
             "show what the server of DIR is doing and how its interval jobs "
             "fare, then exit (0 serving and every job's last run ok, 1 a "
             "job failing, 69 not serving, 66 never served)"),
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
    "manager READY=1, STATUS=... and STOPPING=1 (Type=notify).\n\n"
    "DIR/access.json says who may write (docs/SYSTEMD.md); without it only "
    "this user and root may. SIGHUP reads it again (a bad file changes "
    "nothing and is reported on stderr).\n\n"
    "Interval jobs (--probe-every, --publish-every, --ship-every) run as "
    "child processes, one at a time, the first at once. A failed run is "
    "logged on stderr and retried after 5 s, 10 s, 20 s, ... up to the "
    "interval; it never stops the server. DIR/serve-status.json and "
    "`ledger serve --status` show each job's last run, and under systemd "
    "so does STATUS=.",
    serve_opts,
    NULL,
    "# serve the default ledger\n"
    "ledger serve &\n"
    "# probe every minute, publish every 5 minutes\n"
    "ledger serve --probe-every 1m --publish-every 5m "
    "https://logs.example/box1 &\n"
    "ledger serve --status\n"
    "# send one event and read its answer\n"
    "echo '{\"type\":\"x.hello\",\"body\":{},\"id\":\"a1\"}' |\n"
    "  socat - UNIX-CONNECT:\"$LEDGER_DIR/ledger.sock\"\n",
    0};

/* `ledger serve --status`: DIR/serve-status.json, and whether its
 * writer is still alive. */
static int
serve_status(struct cli *c)
{
    char path[4200];
    json_error_t je;
    json_t *st, *jl, *j;
    json_int_t pid;
    const char *state;
    int alive, failing = 0;
    size_t i;

    snprintf(path, sizeof path, "%s/%s", c->dir, SERVE_STATUS_FILE);
    st = json_load_file(path, 0, &je);
    if (st == NULL) {
        if (access(path, F_OK) != 0 && errno == ENOENT) {
            cli_err(c, "no server has run on %s (no %s)", c->dir, path);
            return EX_NOINPUT;
        }
        cli_err(c, "%s: line %d, column %d: %s", path, je.line, je.column,
                je.text);
        return EX_DATAERR;
    }
    pid = json_integer_value(json_object_get(st, "pid"));
    state = json_string_value(json_object_get(st, "state"));
    alive = pid > 0 && state != NULL && strcmp(state, "serving") == 0 &&
            (kill((pid_t)pid, 0) == 0 || errno == EPERM);
    jl = json_object_get(st, "jobs");
    json_array_foreach(jl, i, j)
    {
        if (json_integer_value(json_object_get(j, "failing_in_a_row")) > 0)
            failing = 1;
    }
    if (c->out != OUT_HUMAN) {
        json_object_set_new(st, "running", json_boolean(alive));
        if (!alive)
            json_object_set_new(st, "state", json_string("not running"));
        cli_print_json(c, json_incref(st)); /* it takes a reference */
    } else {
        const char *sock = json_string_value(json_object_get(st, "socket"));
        const char *upd = json_string_value(json_object_get(st, "updated"));
        if (alive)
            printf("serving on %s (pid %lld, since %s)\n", sock ? sock : "?",
                   (long long)pid,
                   json_string_value(json_object_get(st, "started")));
        else
            printf(
                "not running (pid %lld %s; last status %s)\n", (long long)pid,
                state && strcmp(state, "stopped") == 0 ? "stopped" : "is gone",
                upd ? upd : "?");
        if (json_array_size(jl) > 0)
            printf("%-8s %-9s %5s %6s  %-20s  %s\n", "JOB", "EVERY", "RUNS",
                   "FAILED", "LAST OK", "STATE");
        json_array_foreach(jl, i, j)
        {
            char every[32];
            json_int_t ms = json_integer_value(json_object_get(j, "every_ms"));
            json_int_t streak =
                json_integer_value(json_object_get(j, "failing_in_a_row"));
            const char *ok = json_string_value(json_object_get(j, "last_ok"));
            const char *nx = json_string_value(json_object_get(j, "next_run"));
            json_t *ex = json_object_get(j, "last_exit");
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
            if (json_is_null(ex))
                printf("not run yet\n");
            else if (streak == 0)
                printf("ok\n");
            else
                printf("FAILING: %lld in a row, exit %lld: %s; next try %s\n",
                       (long long)streak, (long long)json_integer_value(ex),
                       json_string_value(json_object_get(j, "last_error")),
                       nx ? nx : "-");
        }
    }
    json_decref(st);
    if (!alive)
        return EX_UNAVAILABLE;
    return failing ? EX_VERIFY : EX_OK;
}

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
    int ch, rc, status = 0;

    memset(&o, 0, sizeof o);
    jobs.n = 0;
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
        case OPT_PROBE_EVERY:
            if ((rc = jobs_add(c, "probe", a.value, NULL)) != 0)
                return rc;
            break;
        case OPT_PUBLISH_EVERY:
        case OPT_SHIP_EVERY: {
            const char *what = ch == OPT_SHIP_EVERY ? "ship" : "publish";
            const char *dur = a.value, *url = take_url(&a);
            if (url == NULL)
                return cli_usage_err(
                    c, "--%s-every DUR URL: the URL is missing", what);
            if ((rc = jobs_add(c, what, dur, url)) != 0)
                return rc;
            break;
        }
        case OPT_SWEEP_EVERY:
            if (parse_every(a.value, &v) < 0)
                return cli_usage_err(c,
                                     "--sweep-every: '%s' is not a duration "
                                     "of 1s to 30d",
                                     a.value);
            o.sweep_ms = v > 86400000 ? 86400000 : (unsigned)v;
            break;
        case OPT_STATUS:
            status = 1;
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
    if (status)
        return serve_status(c);
    jobs.dir = c->dir;
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
    o.on_reload = on_reload;
    err[0] = '\0';
    rc = ldg_serve_new(&s, l, &o, err, sizeof err);
    if (rc < 0) {
        cli_err(c, "%s", err[0] ? err : ldg_strerror(rc));
        notify("STATUS=cannot start: %s", err[0] ? err : ldg_strerror(rc));
        rc = rc == LDG_EBUSY       ? 75
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
    sa.sa_handler = on_hup;
    sigaction(SIGHUP, &sa, NULL);
    rc = ldg_serve_run(s);
    serving = NULL;
    jobs_stop();
    ldg_serve_stats(s, &st);
    fprintf(stderr,
            "ledger serve: stopped: %llu connections (%llu refused, %llu "
            "dropped), %llu requests, %llu events committed in %llu "
            "commits, %llu errors (%llu not authorised); %llu dead "
            "readers cleared\n",
            (unsigned long long)st.conns, (unsigned long long)st.refused,
            (unsigned long long)st.dropped, (unsigned long long)st.requests,
            (unsigned long long)st.acked, (unsigned long long)st.commits,
            (unsigned long long)st.errors, (unsigned long long)st.denied,
            (unsigned long long)st.cleared);
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
