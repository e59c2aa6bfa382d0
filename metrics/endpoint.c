/*
 * endpoint.c — GET /metrics for `ledger serve --metrics ADDR`, through the
 * project's one HTTP server (http/server.h).
 *
 * Each scrape is a job in a process of its own (scrape_job, forked by the
 * server's job runner; metrics.h says why: the server's ledger handle is
 * its writer's, and LMDB refuses a second handle on the same environment
 * in one process), reads what it gives (at most CHILD_OUT_MAX bytes,
 * within the time limit) and appends
 * the serving process's own families. A child that fails or runs out of
 * time still leaves a valid answer: the server's own families and
 * ledger_metrics_scrape_ok 0, with the reason told to the log function, so
 * the scrape keeps its series and the alert can name the cause.
 * Scrapes run one at a time (a mutex): a second scraper waits instead of
 * starting a second scan of the log.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "http/server.h"
#include "metrics/metrics_int.h"

#define CHILD_OUT_MAX ((size_t)64 << 20)
#define TIMEOUT_MS_DEFAULT 10000u

struct ldg_metrics_endpoint {
    struct ldg_httpd *h;
    char dir[4096];
    struct ldg_runner *runner;
    unsigned timeout_ms;
    char *(*extra)(void *ctx, size_t *len);
    void (*log)(void *ctx, const char *line);
    void *ctx;
    pthread_mutex_t mu;
};

int
ldg_metrics_addr_loopback(const char *s)
{
    const char *colon;
    char host[64];
    size_t n;

    if (s == NULL || *s == '\0')
        return -1;
    if (strncmp(s, "unix:", 5) == 0)
        return s[5] ? 1 : -1; /* a local socket: on the box only */
    colon = strrchr(s, ':');
    if (colon == NULL) /* a bare port */
        return strspn(s, "0123456789") == strlen(s) && strlen(s) <= 5 ? 1 : -1;
    n = (size_t)(colon - s);
    if (n == 0 || n >= sizeof host || colon[1] == '\0' ||
        strspn(colon + 1, "0123456789") != strlen(colon + 1))
        return -1;
    memcpy(host, s, n);
    host[n] = '\0';
    if (strcmp(host, "localhost") == 0 || strcmp(host, "[::1]") == 0 ||
        strncmp(host, "127.", 4) == 0)
        return 1;
    return 0;
}

/* The address as http/server.h takes it: a bare port and localhost
 * become 127.0.0.1. */
static void
normal_addr(const char *s, char *b, size_t cap)
{
    if (strchr(s, ':') == NULL)
        snprintf(b, cap, "127.0.0.1:%s", s);
    else if (strncmp(s, "localhost:", 10) == 0)
        snprintf(b, cap, "127.0.0.1:%s", s + 10);
    else
        snprintf(b, cap, "%s", s);
}

static int
scrape_output(void *ctx, const char *p, size_t n)
{
    struct ldg_buf *out = ctx;
    ldg_buf_add(out, p, n);
    return out->err != 0; /* more than CHILD_OUT_MAX: the child is killed */
}

/* The scrape itself, in its own process: the counts brought up from the
 * cache file (saved back when they moved and the directory is writable),
 * the text rendered to fd. Its exit code, the text of why on fd when it
 * is not 0. */
static int
scrape_job(const char *const *a, size_t n, int fd)
{
    struct ldg_ledger *l = NULL;
    struct ldg_metrics *m = NULL;
    struct ldg_options o;
    char err[1024] = "", *text = NULL;
    size_t len = 0;
    int rc;

    (void)n;
    memset(&o, 0, sizeof o);
    o.flags = LDG_RDONLY;
    if ((rc = ldg_open(&l, a[0], &o, err, sizeof err)) == 0 &&
        (rc = ldg_metrics_count(l, 1, &m, NULL, 0, err, sizeof err)) == 0 &&
        (rc = ldg_metrics_render(m, l, &text, &len)) < 0)
        snprintf(err, sizeof err, "%s", ldg_errmsg(l));
    if (rc == 0 && ldg_write_all(fd, text, len, 0) < 0)
        rc = LDG_EIO;
    if (rc < 0)
        dprintf(fd, "%s\n", err[0] ? err : ldg_strerror(rc));
    free(text);
    ldg_metrics_free(m);
    ldg_close(l);
    return rc < 0 ? ldg_exit_code(rc) : 0;
}

/* Runs the scrape; its output into out. 0, or -1 with why. */
static int
run_scrape(struct ldg_metrics_endpoint *e, struct ldg_buf *out, char *why,
           size_t cap)
{
    struct ldg_child c = {.runner = e->runner,
                          .fn = scrape_job,
                          .args = {e->dir},
                          .nargs = 1,
                          .limit_ms = e->timeout_ms,
                          .out = scrape_output,
                          .ctx = out};
    char w[256];
    int rc = ldg_child_run(&c, w, sizeof w);

    if (rc == 0)
        return 0;
    if (rc == LDG_CHILD_NO_EXIT)
        snprintf(why, cap, "the scrape: %s", w);
    else
        snprintf(why, cap, "the scrape failed (exit %d): %.*s", rc,
                 (int)(out->len < 300 ? out->len : 300), out->s ? out->s : "");
    return -1;
}

static int
handle(void *ctx, struct ldg_httpd_req *req)
{
    static const char *const text[] = {
        "Content-Type: text/plain; version=0.0.4; charset=utf-8", NULL};
    static const char *const plain[] = {"Content-Type: text/plain", NULL};
    struct ldg_metrics_endpoint *e = ctx;
    struct ldg_buf b;
    char why[512];
    int ok, rc;

    if (strcmp(ldg_httpd_path(req), "/metrics") != 0) {
        const char *msg = "not found: the metrics are at /metrics\n";
        return ldg_httpd_reply(req, 404, plain, msg, strlen(msg));
    }
    if (strcmp(ldg_httpd_method(req), "GET") != 0 &&
        strcmp(ldg_httpd_method(req), "HEAD") != 0) {
        static const char *const allow[] = {"Content-Type: text/plain",
                                            "Allow: GET, HEAD", NULL};
        const char *msg = "method not allowed: use GET\n";
        return ldg_httpd_reply(req, 405, allow, msg, strlen(msg));
    }
    ldg_buf_init(&b, CHILD_OUT_MAX);
    pthread_mutex_lock(&e->mu);
    ok = run_scrape(e, &b, why, sizeof why) == 0;
    pthread_mutex_unlock(&e->mu);
    if (!ok) {
        if (e->log != NULL) {
            char line[600];
            snprintf(line, sizeof line, "metrics: %s", why);
            e->log(e->ctx, line);
        }
        ldg_buf_release(&b);
        ldg_buf_init(&b, CHILD_OUT_MAX);
    }
    ldg_buf_printf(&b,
                   "# HELP ledger_metrics_scrape_ok 1 when the ledger's "
                   "figures were read for this scrape, 0 when only the "
                   "server's own are here (the reason is on its stderr).\n"
                   "# TYPE ledger_metrics_scrape_ok gauge\n"
                   "ledger_metrics_scrape_ok %d\n",
                   ok);
    if (e->extra) {
        size_t n = 0;
        char *s = e->extra(e->ctx, &n);
        if (s != NULL)
            ldg_buf_add(&b, s, n);
        free(s);
    }
    if (b.err) {
        const char *msg = "metrics: out of memory\n";
        ldg_buf_release(&b);
        return ldg_httpd_reply(req, 500, plain, msg, strlen(msg));
    }
    rc = ldg_httpd_reply(req, 200, text, b.p, b.len);
    ldg_buf_release(&b);
    return rc;
}

int
ldg_metrics_endpoint_start(struct ldg_metrics_endpoint **out,
                           const struct ldg_metrics_endpoint_opts *o, char *err,
                           size_t errcap)
{
    struct ldg_metrics_endpoint *e;
    struct ldg_httpd_options ho;
    char addr[300];
    int lb, rc;

    if (out == NULL || o == NULL || o->listen == NULL || o->dir == NULL)
        return LDG_EINVAL;
    *out = NULL;
    lb = ldg_metrics_addr_loopback(o->listen);
    if (lb < 0) {
        snprintf(err, errcap,
                 "'%s' is not an address (127.0.0.1:PORT, [::1]:PORT, "
                 "localhost:PORT, PORT or HOST:PORT)",
                 o->listen);
        return LDG_EBADINPUT;
    }
    if (lb == 0 && !o->allow_remote) {
        snprintf(err, errcap,
                 "%s is not a loopback address: the metrics name packs, "
                 "models and routes; to serve them off this box say so "
                 "with " LDG_OPT_METRICS_REMOTE,
                 o->listen);
        return LDG_EBADINPUT;
    }
    if ((e = calloc(1, sizeof *e)) == NULL)
        return LDG_ENOMEM;
    if ((e->runner = ldg_jobs_runner(o->jobs)) == NULL) {
        snprintf(err, errcap, "no job runner to scrape with (opts.jobs)");
        free(e);
        return LDG_EINVAL;
    }
    snprintf(e->dir, sizeof e->dir, "%s", o->dir);
    e->timeout_ms = o->timeout_ms ? o->timeout_ms : TIMEOUT_MS_DEFAULT;
    e->extra = o->extra;
    e->log = o->log;
    e->ctx = o->ctx;
    pthread_mutex_init(&e->mu, NULL);
    normal_addr(o->listen, addr, sizeof addr);
    memset(&ho, 0, sizeof ho);
    ho.listen = addr;
    ho.handle = handle;
    ho.ctx = e;
    ho.max_conns = 16;
    ho.body_max = 4096;
    if ((rc = ldg_httpd_start(&e->h, &ho, err, errcap)) < 0) {
        pthread_mutex_destroy(&e->mu);
        free(e);
        return rc;
    }
    *out = e;
    return 0;
}

unsigned
ldg_metrics_endpoint_port(const struct ldg_metrics_endpoint *e)
{
    return e ? ldg_httpd_port(e->h) : 0;
}

void
ldg_metrics_endpoint_stop(struct ldg_metrics_endpoint *e)
{
    if (e == NULL)
        return;
    ldg_httpd_stop(e->h);
    pthread_mutex_destroy(&e->mu);
    free(e);
}
