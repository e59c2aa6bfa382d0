/*
 * jobs.c — the interval jobs of `ledger serve`: --probe-every,
 * --publish-every, --ship-every and --verify-every, and
 * DIR/serve-status.json, which says how they fare (serve/serve.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "serve/serve.h"
#include "serve/serve_int.h"
#include "util/util.h"

/*
 * `--probe-every`, `--publish-every`, `--ship-every`, `--verify-every`,
 * `--prune-every`: jobs the daemon runs on an interval, one at a time, on
 * a thread of their own, each a function of this library run in a process
 * of its own (util/spawn.c's runner, forked by ldg_jobs_new before any
 * thread started: no program is executed). The job opens the ledger
 * itself (LMDB allows one environment handle per process), and is the unit
 * of failure: whatever it does (hangs past its time limit, crashes,
 * fails), the daemon goes on serving and acking; at its time limit, or
 * when the jobs stop, it is killed, its I/O with it. Probe's events go
 * through the daemon's own socket (ldg_client), so they share its write
 * path and group commit.
 *
 * A failed run is reported through the log function the caller set
 * (ldg_jobs_set_log: the program writes it to stderr, the journal) with
 * the child's last lines, and retried with backoff: 5 s, 10 s, 20 s, ... up to
 * the interval. What each job did last is in DIR/serve-status.json (`ledger
 * serve
 * --status`) and in systemd's STATUS= line.
 */
#define JOB_MAX 4
#define JOB_BACKOFF_MS 5000u
#define JOB_NOT_RUN (-1)
#define JOB_NO_EXIT (-2) /* ran, but did not exit: not started, or killed */

/*
 * `--verify-every DUR`: ldg_verify_full's check of the events appended
 * since the last recorded verification, which records the result
 * (doctor/verify_new.c), so that the doctor's chain-verified clause
 * follows a busy box. A finding makes the job fail (exit 1, its line says
 * which event) until a full verification passes.
 */
struct job {
    const char *name; /* probe, publish, ship, verify, prune */
    ldg_job_fn fn;
    int notes; /* its other lines are notes (prune, -o json) */
    const char *url;
    uint64_t every_ms;
    uint64_t next_ns; /* monotonic: when it runs next */
    uint64_t ok_ns;   /* monotonic: when it last succeeded (for "ago") */
    uint64_t runs, failures;
    unsigned streak; /* failures in a row */
    int last_exit;   /* the child's exit code; JOB_NOT_RUN, JOB_NO_EXIT */
    uint64_t last_run, last_ok; /* wall-clock ns, for --status */
    char last_error[512];
    /* what a run that succeeded said on stderr (the prune job, run with
     * -o json: its other lines), e.g. a disk budget it could not meet */
    char last_note[512];
};

struct ldg_jobs {
    struct job j[JOB_MAX];
    size_t n;
    struct ldg_runner *runner; /* forked by ldg_jobs_new */
    char dir[4096];
    char sock[1024];
    uint64_t started;
    /* `ledger serve --proxy`'s child (ldg_jobs_proxy), for the status
     * file; with each status write, under wmu */
    pthread_mutex_t wmu;
    int proxy_on, proxy_running;
    unsigned proxy_starts, proxy_exits, proxy_streak;
    int proxy_exit, proxy_signal;     /* the last exit, when exited */
    uint64_t proxy_since, proxy_next; /* wall ns: its start or exit, restart */
    uint64_t proxy_started_mono;      /* when it was last started */
    json_t *receivers;                /* ldg_jobs_receivers's, or NULL */
    uint64_t receivers_ns;            /* when they were counted (wall) */
    char boot_id[37];                 /* proc_identity's, "" when unknown */
    unsigned long long start_ticks;   /* (the status file's; server_alive) */
    pthread_t thread;
    int running;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int quit;
    int status_warned, sd_warned; /* each said once */
    pid_t child;
    void (*log)(void *ctx, const char *line);
    void *log_ctx;
};

/* Says line through the caller's log function, if any. */
static void jobs_log(const struct ldg_jobs *js, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void
jobs_log(const struct ldg_jobs *js, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    if (js->log == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    js->log(js->log_ctx, line);
}

/* "30s", "5m", "1h", "2d", "500ms"; a bare number is seconds. 1 s to
 * 30 days. */
int
ldg_jobs_parse_every(const char *s, uint64_t *ms)
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

/*
 * Which process pid is, across pid reuse and reboots: the kernel's boot
 * id (boot, 37 bytes) and the process's start time in clock ticks since
 * that boot (*ticks), from /proc; *zombie whether it has exited and not
 * been reaped. 0, or -1 when /proc does not say (not mounted, hidepid, no
 * such process).
 */
static int
proc_identity(pid_t pid, char boot[37], unsigned long long *ticks, int *zombie)
{
    char path[64], buf[1024], *p;
    FILE *f;
    size_t n;
    int field;

    snprintf(path, sizeof path, "/proc/%lld/stat", (long long)pid);
    if ((f = fopen(path, "r")) == NULL)
        return -1;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* "PID (COMM) STATE PPID ...": COMM may hold anything, even ") " */
    if ((p = strrchr(buf, ')')) == NULL || p[1] != ' ')
        return -1;
    p += 2;
    *zombie = *p == 'Z' || *p == 'X';
    for (field = 3; field < 22 && p != NULL; field++)
        if ((p = strchr(p, ' ')) != NULL)
            p++;
    if (p == NULL || sscanf(p, "%llu", ticks) != 1)
        return -1;
    if ((f = fopen("/proc/sys/kernel/random/boot_id", "r")) == NULL)
        return -1;
    n = fread(boot, 1, 36, f);
    fclose(f);
    boot[n] = '\0';
    return n == 36 ? 0 : -1;
}

/*
 * Whether pid is still the server that wrote the status file st.
 * kill(pid, 0) alone says yes to a zombie, and to whatever process has
 * the pid since: after a power loss the file still says "serving" and,
 * once the box is up again, its pid may well be another program's. So
 * the server writes who it is (boot_id, start_ticks: immune to the wall
 * clock stepped at boot) and that must match; a file without them (an
 * older build's) gets kill's answer, less a zombie. Where /proc cannot be
 * read, kill's answer stands.
 */
static int
server_alive(pid_t pid, const json_t *st)
{
    const char *rboot = json_string_value(json_object_get(st, "boot_id"));
    json_t *rt = json_object_get(st, "start_ticks");
    unsigned long long ticks;
    char boot[37];
    int zombie;

    if (pid <= 0 || (kill(pid, 0) != 0 && errno != EPERM))
        return 0;
    if (proc_identity(pid, boot, &ticks, &zombie) < 0)
        return 1;
    if (zombie)
        return 0;
    if (rboot == NULL || !json_is_integer(rt))
        return 1;
    return strcmp(rboot, boot) == 0 &&
           (unsigned long long)json_integer_value(rt) == ticks;
}

/* DIR/serve-status.json, replaced whole (written, fsync'd, renamed). */
static void
jobs_write_status(struct ldg_jobs *js, int stopped)
{
    char path[4200], tmp[4300], t[64];
    json_t *root, *arr;
    FILE *f;
    int fd;
    uint64_t wall = ldg_now_wall_ns(), mono = ldg_now_mono_ns();

    if (js->dir[0] == '\0')
        return;                   /* not started */
    pthread_mutex_lock(&js->wmu); /* the jobs' thread and the proxy's */
    snprintf(path, sizeof path, "%s/%s", js->dir, LDG_SERVE_STATUS_FILE);
    root = json_object();
    arr = json_array();
    json_object_set_new(root, "pid", json_integer((json_int_t)getpid()));
    if (js->boot_id[0] != '\0') { /* who this pid is: server_alive */
        json_object_set_new(root, "boot_id", json_string(js->boot_id));
        json_object_set_new(root, "start_ticks",
                            json_integer((json_int_t)js->start_ticks));
    }
    json_object_set_new(root, "socket", json_string(js->sock));
    fmt_wall(t, sizeof t, js->started);
    json_object_set_new(root, "started", json_string(t));
    fmt_wall(t, sizeof t, wall);
    json_object_set_new(root, "updated", json_string(t));
    json_object_set_new(root, "state",
                        json_string(stopped ? "stopped" : "serving"));
    if (js->proxy_on) {
        json_t *px = json_object();
        int run = js->proxy_running && !stopped;
        json_object_set_new(px, "state",
                            json_string(run                ? "running"
                                        : stopped          ? "stopped"
                                        : js->proxy_starts ? "restarting"
                                                           : "not started"));
        json_object_set_new(px, "starts",
                            json_integer((json_int_t)js->proxy_starts));
        json_object_set_new(px, "failing_in_a_row",
                            json_integer((json_int_t)js->proxy_streak));
        json_object_set_new(px, "last_exit",
                            js->proxy_exits > 0 && js->proxy_signal == 0
                                ? json_integer(js->proxy_exit)
                                : json_null());
        json_object_set_new(px, "last_signal",
                            js->proxy_signal ? json_integer(js->proxy_signal)
                                             : json_null());
        fmt_wall(t, sizeof t, js->proxy_since);
        json_object_set_new(px, "since",
                            js->proxy_since ? json_string(t) : json_null());
        fmt_wall(t, sizeof t, js->proxy_next);
        json_object_set_new(px, "next_start",
                            !run && !stopped && js->proxy_next ? json_string(t)
                                                               : json_null());
        json_object_set_new(root, "proxy", px);
    }
    if (js->receivers != NULL) {
        json_object_set(root, "receivers", js->receivers);
        fmt_wall(t, sizeof t, js->receivers_ns);
        json_object_set_new(root, "receivers_counted", json_string(t));
    }
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
        json_object_set_new(o, "exited", json_boolean(j->last_exit >= 0));
        fmt_wall(t, sizeof t, j->last_run);
        json_object_set_new(o, "last_run",
                            j->last_run ? json_string(t) : json_null());
        fmt_wall(t, sizeof t, j->last_ok);
        json_object_set_new(o, "last_ok",
                            j->last_ok ? json_string(t) : json_null());
        /* what is left of its monotonic wait, from the wall clock's now:
         * a wall clock stepped since the last run does not move it */
        fmt_wall(t, sizeof t,
                 wall + (j->next_ns > mono ? j->next_ns - mono : 0));
        json_object_set_new(o, "next_run",
                            stopped || j->runs == 0 ? json_null()
                                                    : json_string(t));
        json_object_set_new(o, "last_error",
                            j->last_error[0] ? json_string(j->last_error)
                                             : json_null());
        json_object_set_new(o, "last_note",
                            j->last_note[0] && j->last_exit == 0
                                ? json_string(j->last_note)
                                : json_null());
        json_array_append_new(arr, o);
    }
    json_object_set_new(root, "jobs", arr);
    fd = ldg_tmp_beside(path, 0640, tmp, sizeof tmp); /* no planted name */
    f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (f == NULL ||
        json_dumpf(root, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0 ||
        fputc('\n', f) == EOF || fflush(f) != 0 || fsync(fileno(f)) != 0 ||
        fclose(f) != 0 || rename(tmp, path) != 0) {
        if (!js->status_warned)
            jobs_log(js, "cannot write %s: %s", path, strerror(errno));
        js->status_warned = 1;
        if (f == NULL && fd >= 0)
            close(fd);
        unlink(tmp);
    }
    json_decref(root);
    pthread_mutex_unlock(&js->wmu);
}

/* systemd's STATUS= through serve/sd.c; a failure is said once. */
static void
jobs_sd_notify(struct ldg_jobs *js, const char *msg)
{
    if (ldg_serve_sd_notify(msg) < 0 && !js->sd_warned) {
        js->sd_warned = 1;
        jobs_log(js, "cannot notify systemd (%s)", ldg_serve_sd_why());
    }
}

/* "exit 3: " for a child that exited, "" when err says why it did not. */
static const char *
exit_word(int last_exit, char *w, size_t cap)
{
    if (last_exit < 0)
        return "";
    snprintf(w, cap, "exit %d: ", last_exit);
    return w;
}

/* systemd's STATUS=: what the daemon serves and how its jobs fare. */
static void
jobs_notify(struct ldg_jobs *js)
{
    char msg[1024], w[32];
    size_t off = 0;
    uint64_t now = ldg_now_mono_ns(); /* intervals: the monotonic clock */
    off += (size_t)snprintf(msg, sizeof msg, "STATUS=serving on %s", js->sock);
    for (size_t i = 0; i < js->n && off < sizeof msg; i++) {
        struct job *j = &js->j[i];
        if (j->last_exit == JOB_NOT_RUN)
            off += (size_t)snprintf(msg + off, sizeof msg - off,
                                    "; %s: not run yet", j->name);
        else if (j->streak == 0)
            off += (size_t)snprintf(
                msg + off, sizeof msg - off, "; %s ok %llus ago", j->name,
                (unsigned long long)((now - j->ok_ns) / 1000000000u));
        else
            off += (size_t)snprintf(
                msg + off, sizeof msg - off,
                "; %s FAILING (%u in a row, %s%.120s), retry in %llus", j->name,
                j->streak, exit_word(j->last_exit, w, sizeof w), j->last_error,
                (unsigned long long)(j->next_ns > now
                                         ? (j->next_ns - now) / 1000000000u
                                         : 0));
    }
    jobs_sd_notify(js, msg);
}

/* What a job's child printed so far: its last lines, for the message of a
 * failed run, and a prune's notes. */
struct job_out {
    struct ldg_jobs *js;
    struct job *j;
    char line[1024], tail[4096];
    size_t line_len, tail_len;
    char note[512]; /* the job's note, made here: a status write reads
                       the job's own under wmu */
};

/* Adds line (n bytes, at most the line buffer's) to the tail, after " | ":
 * when it does not fit, the oldest bytes give way (the last lines say
 * why a run failed), from a character's start. */
static void
tail_add(struct job_out *o, const char *line, size_t n)
{
    const size_t cap = sizeof o->tail - 1;
    size_t sep = o->tail_len ? 3 : 0;
    LDG_ASSERT(n < sizeof o->line && n + 3 < cap);
    if (o->tail_len + sep + n > cap) {
        size_t drop = o->tail_len + sep + n - cap;
        while (drop < o->tail_len &&
               ((unsigned char)o->tail[drop] & 0xC0) == 0x80)
            drop++;
        if (drop >= o->tail_len) {
            o->tail_len = 0;
            sep = 0;
        } else {
            memmove(o->tail, o->tail + drop, o->tail_len - drop);
            o->tail_len -= drop;
        }
    }
    memcpy(o->tail + o->tail_len, " | ", sep);
    memcpy(o->tail + o->tail_len + sep, line, n);
    o->tail_len += sep + n;
    LDG_ASSERT(o->tail_len <= cap);
    o->tail[o->tail_len] = '\0';
}

/* Each line the child wrote goes to the log, the tail and (prune's lines
 * that are not its JSON answer) the job's note. */
static int
job_output(void *ctx, const char *p, size_t n)
{
    struct job_out *o = ctx;
    struct job *j = o->j;
    for (size_t k = 0; k < n; k++) {
        if (p[k] != '\n' && o->line_len + 1 < sizeof o->line) {
            o->line[o->line_len++] = p[k];
            LDG_ASSERT(o->line_len < sizeof o->line);
            continue;
        }
        if (p[k] != '\n')
            continue; /* an over-long line: cut */
        o->line[o->line_len] = '\0';
        ldg_utf8_trim(o->line); /* an over-long line cut inside a character */
        jobs_log(o->js, "%s: %s", j->name, o->line);
        if (j->notes && o->line[0] != '{') {
            size_t nl = strlen(o->note);
            snprintf(o->note + nl, sizeof o->note - nl, "%s%s", nl ? " | " : "",
                     o->line);
            ldg_utf8_trim(o->note);
        }
        tail_add(o, o->line, strlen(o->line));
        o->line_len = 0;
    }
    return 0;
}

static void
job_pid(void *ctx, pid_t pid)
{
    struct job_out *o = ctx;
    pthread_mutex_lock(&o->js->mu);
    o->js->child = pid;
    pthread_mutex_unlock(&o->js->mu);
}

/* Runs one job to its end (or its time limit): the child's exit code, or
 * JOB_NO_EXIT when it could not be started or was killed; the last lines
 * it wrote (or why it did not exit) in err, its note in note (512 bytes). */
static int
job_run(struct ldg_jobs *js, struct job *j, char *err, size_t cap, char *note)
{
    struct job_out o = {.js = js, .j = j};
    /* a job's second argument: its URL; the probe's, the socket this
     * daemon serves (wherever --socket put it), which it writes through */
    const char *arg2 = j->url != NULL                  ? j->url
                       : strcmp(j->name, "probe") == 0 ? js->sock
                                                       : NULL;
    struct ldg_child c = {.runner = js->runner,
                          .fn = j->fn,
                          .args = {js->dir, arg2},
                          .nargs = arg2 != NULL ? 2 : 1,
                          .out = job_output,
                          .pid = job_pid,
                          .ctx = &o};
    char why[256];
    int rc;

    c.limit_ms = j->every_ms < 600000 ? j->every_ms : 600000;
    if (c.limit_ms < 30000)
        c.limit_ms = 30000;
    err[0] = '\0';
    rc = ldg_child_run(&c, why, sizeof why);
    if (o.line_len > 0) /* a last line without its newline is a line too */
        job_output(&o, "\n", 1);
    memcpy(note, o.note, sizeof o.note);
    /* the last lines, which say why, from a character's start */
    const char *t = o.tail_len > 400 ? o.tail + o.tail_len - 400 : o.tail;
    while (((unsigned char)*t & 0xC0) == 0x80)
        t++;
    if (rc == LDG_CHILD_NO_EXIT) {
        /* a signal's message ends with the last lines, which say why */
        if (strncmp(why, "killed by signal", 16) == 0 && o.tail_len)
            snprintf(err, cap, "%.60s: %.400s", why, t);
        else
            snprintf(err, cap, "%s", why);
        ldg_utf8_trim(err);
        return JOB_NO_EXIT;
    }
    if (rc != 0) {
        snprintf(err, cap, "%.400s", o.tail_len ? t : "(no message)");
        ldg_utf8_trim(err);
    }
    return rc;
}

static void *
jobs_main(void *arg)
{
    struct ldg_jobs *js = arg;
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
            w = ldg_mono_deadline(wait_ns);
            pthread_cond_timedwait(&js->cv, &js->mu, &w);
            pthread_mutex_unlock(&js->mu);
            continue;
        }
        pthread_mutex_unlock(&js->mu);
        {
            char err[512], note[512];
            uint64_t delay_ms;
            int rc;
            pthread_mutex_lock(&js->wmu);
            due->last_run = ldg_now_wall_ns();
            pthread_mutex_unlock(&js->wmu);
            rc = job_run(js, due, err, sizeof err, note);
            pthread_mutex_lock(&js->mu);
            int stopped = js->quit && rc != 0;
            pthread_mutex_unlock(&js->mu);
            if (stopped) { /* cut short by the stop: not the job's failure */
                jobs_log(js, "%s: cut short by the stop", due->name);
                continue;
            }
            pthread_mutex_lock(&js->wmu); /* what a status write reads */
            memcpy(due->last_note, note, sizeof due->last_note);
            due->runs++;
            due->last_exit = rc;
            if (rc == 0) {
                due->streak = 0;
                due->last_ok = ldg_now_wall_ns();
                due->ok_ns = ldg_now_mono_ns();
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
                if (rc >= 0)
                    jobs_log(js,
                             "%s failed (exit %d, %u in a row): %s; "
                             "retrying in %llu s",
                             due->name, rc, due->streak, err,
                             (unsigned long long)(delay_ms / 1000));
                else
                    jobs_log(js,
                             "%s failed (%u in a row): %s; retrying in "
                             "%llu s",
                             due->name, due->streak, err,
                             (unsigned long long)(delay_ms / 1000));
            }
            due->next_ns = ldg_now_mono_ns() + delay_ms * 1000000u;
            pthread_mutex_unlock(&js->wmu);
            jobs_write_status(js, 0);
            jobs_notify(js);
        }
    }
    return NULL;
}

int
ldg_jobs_new(struct ldg_jobs **out)
{
    struct ldg_jobs *js;
    int rc;
    *out = NULL;
    js = calloc(1, sizeof *js);
    if (js == NULL)
        return LDG_ENOMEM;
    /* its timed wait is the time to the next run: on the monotonic clock */
    if (ldg_cond_init_mono(&js->cv) != 0) {
        free(js);
        return LDG_ENOMEM;
    }
    if ((rc = ldg_runner_new(&js->runner)) < 0) {
        pthread_cond_destroy(&js->cv);
        free(js);
        return rc;
    }
    pthread_mutex_init(&js->mu, NULL);
    pthread_mutex_init(&js->wmu, NULL);
    *out = js;
    return 0;
}

/* The interval jobs: each a function of serve/job_run.c (args: the
 * ledger's directory, then the URL of those that take one). */
static const struct {
    const char *name;
    ldg_job_fn fn;
    int takes_url, notes;
} job_kinds[] = {
    {"probe", ldg_job_probe, 0, 0}, {"publish", ldg_job_publish, 1, 0},
    {"ship", ldg_job_ship, 1, 0},   {"verify", ldg_job_verify, 0, 0},
    {"prune", ldg_job_prune, 0, 1},
};

int
ldg_jobs_add(struct ldg_jobs *js, const char *name, const char *every,
             const char *url, char *err, size_t errcap)
{
    struct job *j;
    uint64_t ms;
    size_t k = 0;
    int takes_url;

    while (k < sizeof job_kinds / sizeof job_kinds[0] &&
           strcmp(job_kinds[k].name, name) != 0)
        k++;
    if (k == sizeof job_kinds / sizeof job_kinds[0]) {
        snprintf(err, errcap, "no interval job called '%s'", name);
        return LDG_EBADINPUT;
    }
    takes_url = job_kinds[k].takes_url;
    for (size_t i = 0; i < js->n; i++)
        if (strcmp(js->j[i].name, name) == 0) {
            snprintf(err, errcap, "--%s-every given twice", name);
            return LDG_EBADINPUT;
        }
    if (ldg_jobs_parse_every(every, &ms) < 0) {
        snprintf(err, errcap,
                 "--%s-every: '%s' is not a duration of 1s to 30d (30s, 5m, "
                 "1h, 1d; a bare number is seconds)",
                 name, every);
        return LDG_EBADINPUT;
    }
    if (takes_url != (url != NULL)) {
        snprintf(err, errcap, "--%s-every: %s", name,
                 url == NULL ? "the URL is missing" : "takes no URL");
        return LDG_EBADINPUT;
    }
    if (url != NULL && strncmp(url, "http://", 7) != 0 &&
        strncmp(url, "https://", 8) != 0) {
        snprintf(err, errcap, "--%s-every %s: '%s' is not an http(s) URL", name,
                 every, url);
        return LDG_EBADINPUT;
    }
    if (js->n == JOB_MAX) {
        snprintf(err, errcap, "more than %d interval jobs", JOB_MAX);
        return LDG_EBADINPUT;
    }
    j = &js->j[js->n++];
    memset(j, 0, sizeof *j);
    j->name = job_kinds[k].name;
    j->fn = job_kinds[k].fn;
    j->notes = job_kinds[k].notes;
    j->url = url;
    j->every_ms = ms;
    j->last_exit = JOB_NOT_RUN;
    return 0;
}

size_t
ldg_jobs_count(const struct ldg_jobs *js)
{
    return js->n;
}

int
ldg_jobs_start(struct ldg_jobs *js, const char *dir, const char *sock,
               char *err, size_t errcap)
{
    if (strlen(dir) >= sizeof js->dir) {
        snprintf(err, errcap, "ledger directory path too long");
        return LDG_EBADINPUT;
    }
    snprintf(js->dir, sizeof js->dir, "%s", dir);
    snprintf(js->sock, sizeof js->sock, "%s", sock);
    js->started = ldg_now_wall_ns();
    {
        int zombie;
        if (proc_identity(getpid(), js->boot_id, &js->start_ticks, &zombie) < 0)
            js->boot_id[0] = '\0';
    }
    jobs_write_status(js, 0);
    if (js->n == 0)
        return 0;
    for (size_t i = 0; i < js->n; i++)
        js->j[i].next_ns = ldg_now_mono_ns(); /* a first run at once */
    if (pthread_create(&js->thread, NULL, jobs_main, js) != 0) {
        snprintf(err, errcap, "cannot start the jobs' thread");
        return LDG_EIO;
    }
    js->running = 1;
    return 0;
}

void
ldg_jobs_quit(struct ldg_jobs *js)
{
    if (js == NULL || !js->running)
        return;
    pthread_mutex_lock(&js->mu);
    js->quit = 1;
    if (js->child > 0)
        ldg_child_signal(js->child, SIGTERM); /* a job in flight is cut
                                                 short, with what it runs */
    pthread_cond_signal(&js->cv);
    pthread_mutex_unlock(&js->mu);
}

void
ldg_jobs_free(struct ldg_jobs *js)
{
    if (js == NULL)
        return;
    if (js->running) {
        ldg_jobs_quit(js);
        pthread_join(js->thread, NULL);
        js->running = 0;
    }
    if (js->started != 0)
        jobs_write_status(js, 1);
    ldg_runner_free(js->runner);
    pthread_mutex_destroy(&js->mu);
    pthread_mutex_destroy(&js->wmu);
    pthread_cond_destroy(&js->cv);
    json_decref(js->receivers);
    free(js);
}

struct ldg_runner *
ldg_jobs_runner(const struct ldg_jobs *js)
{
    return js != NULL ? js->runner : NULL;
}

void
ldg_jobs_receivers(struct ldg_jobs *js, json_t *list)
{
    json_t *old;
    if (js == NULL) {
        json_decref(list);
        return;
    }
    pthread_mutex_lock(&js->wmu);
    old = js->receivers;
    js->receivers = list;
    js->receivers_ns = ldg_now_wall_ns();
    pthread_mutex_unlock(&js->wmu);
    json_decref(old);
    jobs_write_status(js, 0);
}

void
ldg_jobs_proxy(struct ldg_jobs *js, int running, int wstatus,
               uint64_t restart_in_ms)
{
    uint64_t wall = ldg_now_wall_ns(), mono = ldg_now_mono_ns();
    if (js == NULL)
        return;
    pthread_mutex_lock(&js->wmu);
    js->proxy_on = 1;
    js->proxy_running = running;
    js->proxy_since = wall;
    if (running) {
        js->proxy_starts++;
        js->proxy_started_mono = mono;
        js->proxy_next = 0;
    } else {
        js->proxy_exits++;
        js->proxy_exit = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 0;
        js->proxy_signal = WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) : 0;
        /* a minute's run makes a fresh failure, as its restart's backoff */
        if (mono - js->proxy_started_mono > 60000000000u)
            js->proxy_streak = 0;
        js->proxy_streak++;
        js->proxy_next = wall + restart_in_ms * 1000000u;
    }
    pthread_mutex_unlock(&js->wmu);
    jobs_write_status(js, 0);
}

int
ldg_jobs_status(const char *dir, json_t **out, int *alive, int *failing,
                char *err, size_t errcap)
{
    char path[4200];
    json_error_t je;
    json_t *st, *jl, *j;
    json_int_t pid;
    const char *state;
    size_t i;

    *out = NULL;
    *alive = *failing = 0;
    snprintf(path, sizeof path, "%s/%s", dir, LDG_SERVE_STATUS_FILE);
    st = json_load_file(path, 0, &je);
    if (st == NULL) {
        if (access(path, F_OK) != 0 && errno == ENOENT) {
            snprintf(err, errcap, "no server has run on %s (no %s)", dir, path);
            return LDG_ENOTFOUND;
        }
        snprintf(err, errcap, "%s: line %d, column %d: %s", path, je.line,
                 je.column, je.text);
        return LDG_ECORRUPT;
    }
    if (!json_is_object(st) || !json_is_integer(json_object_get(st, "pid")) ||
        !json_is_string(json_object_get(st, "state")) ||
        !json_is_array(json_object_get(st, "jobs"))) {
        snprintf(err, errcap,
                 "%s: not a status file of ledger serve (no pid, state or "
                 "jobs)",
                 path);
        json_decref(st);
        return LDG_ECORRUPT;
    }
    pid = json_integer_value(json_object_get(st, "pid"));
    state = json_string_value(json_object_get(st, "state"));
    *alive = strcmp(state, "serving") == 0 && server_alive((pid_t)pid, st);
    jl = json_object_get(st, "jobs");
    json_array_foreach(jl, i, j)
    {
        if (json_integer_value(json_object_get(j, "failing_in_a_row")) > 0)
            *failing = 1;
    }
    {
        /* --proxy's child, exited and not yet started again */
        const char *ps = json_string_value(
            json_object_get(json_object_get(st, "proxy"), "state"));
        if (ps != NULL && strcmp(ps, "restarting") == 0)
            *failing = 1;
    }
    *out = st;
    return 0;
}

void
ldg_jobs_set_log(struct ldg_jobs *js, void (*log)(void *ctx, const char *line),
                 void *ctx)
{
    js->log = log;
    js->log_ctx = ctx;
}
