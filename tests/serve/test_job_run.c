/*
 * test_job_run.c — serve/job_run.c: every interval job of `ledger serve`
 * runs from the library alone (this test program is no `ledger`, and
 * none is executed: the jobs are functions forked by the runner), and a
 * job that hangs leaves the server acking:
 *   - verify (ldg_verify_full of the new events), prune (the retention
 *     policy), publish (into a directory), probe (of the stub runtime,
 *     its events through the server's socket): each does its work;
 *   - ship into a "ClickHouse" that accepts and never answers, and a
 *     probe whose runtime hangs: killed at the job's time limit, or ended
 *     by the probe's own, while appends through the server are acked;
 *   - publish into a directory on a full file system: the job fails,
 *     saying why (a tmpfs filled up; as root only);
 *   - a job in flight when the jobs stop is killed, its connection with
 *     it (ldg_jobs_free).
 */
#include <dlfcn.h>
#include <errno.h>
#include <sys/stat.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "serve/serve.h"
#include "serve/serve_int.h"
#include "tests/support/stub.h"
#include "tests/support/support.h"

/* The wall clock of this process, shifted back while shift_ns is set:
 * the events it writes are days old to a job (whose runner was forked
 * with no shift). */
static int64_t shift_ns;

int
clock_gettime(clockid_t id, struct timespec *ts)
{
    int (*next)(clockid_t, struct timespec *);
    int rc;
    *(void **)&next = dlsym(RTLD_NEXT, "clock_gettime");
    rc = next(id, ts);
    if (rc == 0 && id == CLOCK_REALTIME && shift_ns != 0) {
        int64_t ns = (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec + shift_ns;
        ts->tv_sec = ns / 1000000000;
        ts->tv_nsec = ns % 1000000000;
    }
    return rc;
}

/* made in main, before any thread */
static struct ldg_runner *runner;
static struct ldg_jobs *jobs;

struct out {
    char text[4096];
    size_t len;
};

static int
take(void *ctx, const char *p, size_t n)
{
    struct out *o = ctx;
    if (n > sizeof o->text - 1 - o->len)
        n = sizeof o->text - 1 - o->len;
    memcpy(o->text + o->len, p, n);
    o->len += n;
    o->text[o->len] = '\0';
    return 0;
}

/* Runs job fn with args through the runner: its exit code, o its output. */
static int
job(ldg_job_fn fn, const char *dir, const char *url, uint64_t limit_ms,
    struct out *o, char *why, size_t cap)
{
    struct ldg_child c = {.runner = runner,
                          .fn = fn,
                          .args = {dir, url},
                          .nargs = url ? 2 : 1,
                          .limit_ms = limit_ms,
                          .out = take,
                          .ctx = o};
    memset(o, 0, sizeof *o);
    why[0] = '\0';
    return ldg_child_run(&c, why, cap);
}

/* A "ClickHouse" that accepts and says nothing: a listening socket on
 * loopback, and a thread that accepts and holds what it accepted until
 * the peer goes (then counts it gone). */
struct silent {
    int fd, port;
    _Atomic int accepted, gone; /* (the thread's counts, read here) */
    pthread_t th;
};

static void *
silent_main(void *arg)
{
    struct silent *s = arg;
    for (;;) {
        char b[4096];
        int c = accept(s->fd, NULL, NULL);
        if (c < 0)
            return NULL;
        s->accepted++;
        while (read(c, b, sizeof b) > 0) /* never answers */
            ;
        close(c);
        s->gone++;
    }
}

static void
silent_start(struct silent *s)
{
    struct sockaddr_in sa;
    socklen_t n = sizeof sa;
    memset(s, 0, sizeof *s);
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(s->fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(s->fd, 8), 0);
    getsockname(s->fd, (struct sockaddr *)&sa, &n);
    s->port = ntohs(sa.sin_port);
    assert_int_equal(pthread_create(&s->th, NULL, silent_main, s), 0);
}

static void
silent_stop(struct silent *s)
{
    shutdown(s->fd, SHUT_RDWR);
    close(s->fd);
    pthread_join(s->th, NULL);
}

/* A server on l, on a thread of its own. */
struct run {
    struct ldg_server *s;
    pthread_t th;
    int rc;
};

static void *
run_main(void *arg)
{
    struct run *r = arg;
    r->rc = ldg_serve_run(r->s);
    return NULL;
}

static void
serve_start(struct run *r, struct ldg_ledger *l)
{
    char err[512];
    assert_int_equal(ldg_serve_new(&r->s, l, NULL, err, sizeof err), 0);
    assert_int_equal(pthread_create(&r->th, NULL, run_main, r), 0);
}

static void
serve_stop(struct run *r)
{
    ldg_serve_stop(r->s);
    pthread_join(r->th, NULL);
    ldg_serve_free(r->s);
}

/* One event appended through the server: acked, its seq. */
static uint64_t
append_acked(const char *dir)
{
    struct ldg_client *c = NULL;
    struct ldg_client_answer a;
    struct ldg_event_in in;
    char err[600];
    json_t *body = json_pack("{s:i}", "i", 1);
    memset(&in, 0, sizeof in);
    in.type = "x.test.acked";
    in.body = body;
    assert_int_equal(ldg_client_connect(&c, dir, NULL, err, sizeof err), 0);
    assert_int_equal(ldg_client_append(c, &in, NULL, 0, 0), 0);
    assert_int_equal(ldg_client_wait(c, &a, -1), 0);
    assert_true(a.ok);
    ldg_client_close(c);
    json_decref(body);
    return a.seq;
}

static uint64_t
count_type(struct ldg_ledger *l, const char *type)
{
    struct ldg_txn *t = NULL;
    struct ldg_event ev;
    uint64_t n = 0, size = 0;
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    ldg_txn_size(t, &size);
    for (uint64_t s = 0; s < size; s++)
        if (ldg_event_get(t, s, &ev) == 0 && strcmp(ev.type, type) == 0)
            n++;
    ldg_txn_abort(t);
    return n;
}

static void
write_file(const char *dir, const char *name, const char *text)
{
    char p[512];
    FILE *f;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    assert_non_null(f = fopen(p, "w"));
    fputs(text, f);
    fclose(f);
}

/* A tmpfs filled to the last byte, and a publish into it. */
static void
publish_full(const char *dir)
{
    char mnt[300], fill[400], why[256];
    static char block[4096];
    struct out o;
    FILE *f;
    int rc;

    snprintf(mnt, sizeof mnt, "%s/full", dir);
    assert_int_equal(mkdir(mnt, 0700), 0);
    if (mount("tmpfs", mnt, "tmpfs", 0, "size=256k") != 0) {
        printf("SKIP: publish to a full disk (cannot mount a tmpfs: %s)\n",
               strerror(errno));
        return;
    }
    snprintf(fill, sizeof fill, "%s/fill", mnt);
    assert_non_null(f = fopen(fill, "w"));
    while (fwrite(block, 1, sizeof block, f) == sizeof block &&
           fflush(f) == 0)
        ;
    fclose(f);
    snprintf(fill, sizeof fill, "%s/pub", mnt);
    rc = job(ldg_job_publish, dir, fill, 60000, &o, why, sizeof why);
    umount2(mnt, MNT_DETACH);
    printf("publish into a full disk: exit %d: %s", rc, o.text);
    if (rc == 0 || rc == LDG_CHILD_NO_EXIT)
        fail_msg("publish into a full disk: %d %s %s", rc, why, o.text);
    if (strstr(o.text, "No space left") == NULL &&
        strstr(o.text, "space") == NULL)
        fail_msg("publish into a full disk did not say why: %s", o.text);
}

static void
test_job_run__every_job_runs_from_the_library(void **state)
{
    char dir[256], pub[300], url[128], rt[256], why[256];
    struct ldg_ledger *l;
    struct t_stub stub;
    struct silent ch;
    struct run r;
    struct out o;
    (void)state;

    /* a ledger and its events three days ago, then a few now */
    shift_ns = -3 * 86400ll * 1000000000ll;
    l = t_ledger_new(dir, sizeof dir, 0);
    t_append_many(l, 20);
    shift_ns = 0;
    t_append_many(l, 5);
    ldg_close(l);

    /* verify: the events new since init */
    assert_int_equal(job(ldg_job_verify, dir, NULL, 60000, &o, why, sizeof why),
                     0);
    assert_non_null(strstr(o.text, "ok: checked"));
    /* prune: the policy keeps a day */
    write_file(dir, "retention.json", "{\"keep_days\": 1}\n");
    assert_int_equal(job(ldg_job_prune, dir, NULL, 60000, &o, why, sizeof why),
                     0);
    if (strstr(o.text, "\"pruned\":1") == NULL)
        fail_msg("prune: %s", o.text);
    /* publish: the tiles and checkpoint, into a directory */
    snprintf(pub, sizeof pub, "%s/pub", dir);
    assert_int_equal(job(ldg_job_publish, dir, pub, 60000, &o, why, sizeof why),
                     0);
    snprintf(pub, sizeof pub, "%s/pub/checkpoint", dir);
    assert_int_equal(access(pub, F_OK), 0);
    /* publish into a full file system: fails, saying why */
    publish_full(dir);
    /* ship into a ClickHouse that never answers: killed at its limit */
    silent_start(&ch);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", ch.port);
    assert_int_equal(job(ldg_job_ship, dir, url, 1500, &o, why, sizeof why),
                     LDG_CHILD_NO_EXIT);
    assert_non_null(strstr(why, "its time limit"));
    assert_true(ch.accepted >= 1);

    /* probe: the stub runtime's models, through the server's socket */
    assert_int_equal(ldg_open(&l, dir, NULL, NULL, 0), 0);
    serve_start(&r, l);
    t_stub_start(&stub, NULL);
    snprintf(rt, sizeof rt, "ol=ollama:%s\n", stub.base);
    write_file(dir, "runtimes", rt);
    setenv("LEDGER_NVIDIA_SMI", "", 1);
    assert_int_equal(job(ldg_job_probe, dir, NULL, 60000, &o, why, sizeof why),
                     0);
    assert_non_null(strstr(o.text, "events appended"));
    assert_true(count_type(l, "runtime.registered") >= 1);
    /* a probe whose runtime hangs (accepts, says nothing): the probe's
     * own time limit ends it, and the server acks meanwhile */
    snprintf(rt, sizeof rt, "ol=ollama:http://127.0.0.1:%d\n", ch.port);
    write_file(dir, "runtimes", rt);
    append_acked(dir);
    assert_int_equal(job(ldg_job_probe, dir, NULL, 60000, &o, why, sizeof why),
                     0);
    assert_true(count_type(l, "runtime.health") >= 1);
    append_acked(dir);
    t_stub_stop(&stub);
    serve_stop(&r);
    silent_stop(&ch);
    ldg_close(l);
    t_rmrf(dir);
}

/* A job in flight when the jobs stop: killed, its connection closed; the
 * server acked while it hung. */
static void
test_job_run__a_hanging_job_is_cancelled_and_the_server_acks(void **state)
{
    char dir[256], url[128], err[512], sock[400];
    struct ldg_ledger *l;
    struct silent ch;
    struct run r;
    (void)state;

    l = t_ledger_new(dir, sizeof dir, 0);
    serve_start(&r, l);
    silent_start(&ch);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", ch.port);
    snprintf(sock, sizeof sock, "%s/%s", dir, LDG_SERVE_SOCKET);
    assert_int_equal(ldg_jobs_add(jobs, "ship", "1h", url, err, sizeof err),
                     0);
    assert_int_equal(ldg_jobs_start(jobs, dir, sock, err, sizeof err), 0);
    while (ch.accepted == 0) /* the job has connected, and hangs */
        usleep(10000);
    for (int i = 0; i < 5; i++)
        append_acked(dir);
    ldg_jobs_free(jobs); /* kills the job in flight */
    jobs = NULL;
    while (ch.gone == 0) /* its connection went with it */
        usleep(10000);
    append_acked(dir);
    serve_stop(&r);
    silent_stop(&ch);
    ldg_close(l);
    t_rmrf(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_job_run__every_job_runs_from_the_library),
        cmocka_unit_test(
            test_job_run__a_hanging_job_is_cancelled_and_the_server_acks),
    };
    int rc;
    /* before any thread, as serve.h asks */
    if (ldg_runner_new(&runner) < 0 || ldg_jobs_new(&jobs) < 0)
        return 1;
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    ldg_jobs_free(jobs);
    ldg_runner_free(runner);
    return rc;
}
