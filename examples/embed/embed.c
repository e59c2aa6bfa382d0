/*
 * embed.c — a program of its own built on libledger alone:
 *
 *     cc -o embed embed.c $(pkg-config --cflags --libs libledger)
 *     ./embed DIR
 *
 * makes a ledger in DIR, appends an event, asks for the whole verdict
 * `ledger verify --full` gives (ldg_verify_full: the log, the projections'
 * stored state, recorded), then runs one of `ledger serve`'s interval jobs
 * (verify, every second) until it has run once. No `ledger` program is
 * needed, installed or beside it: the library's jobs are its own
 * functions. tests/e2e/cli_install.sh builds it against an installed
 * libledger and runs it with the program out of reach.
 *
 * Threads: ldg_jobs_new forks the jobs' runner, so it comes first, before
 * anything starts a thread (serve/serve.h says which calls are safe from
 * which threads).
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep, under -std=c11 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <ledger/ledger.h>
#include <serve/serve.h>
#include <verify/verify.h>

/* The verify job's last exit code once it has run, from the status file
 * the jobs keep in dir: 0 when it passed, -1 while it has not run. */
static int
job_exit(const char *dir)
{
    json_t *st = NULL, *j;
    int alive, failing, ex = -1;
    char err[512];
    if (ldg_jobs_status(dir, &st, &alive, &failing, err, sizeof err) < 0)
        return -1;
    j = json_array_get(json_object_get(st, "jobs"), 0);
    if (json_integer_value(json_object_get(j, "runs")) > 0)
        ex = (int)json_integer_value(json_object_get(j, "last_exit"));
    json_decref(st);
    return ex;
}

int
main(int argc, char **argv)
{
    struct ldg_jobs *jobs = NULL;
    struct ldg_ledger *l = NULL;
    struct ldg_event_in in;
    struct ldg_verdict v;
    char err[512] = "";
    uint64_t seq;
    json_t *body;
    int rc, ex = -1;

    if (argc != 2) {
        fprintf(stderr, "usage: embed DIR\n");
        return 64;
    }
    if (ldg_jobs_new(&jobs) < 0) { /* first: before any thread */
        fprintf(stderr, "embed: cannot make the jobs' runner\n");
        return 71;
    }
    if ((rc = ldg_init(argv[1], "example.org/embed", NULL, err,
                       sizeof err)) < 0 ||
        (rc = ldg_open(&l, argv[1], NULL, err, sizeof err)) < 0) {
        /* (a failure for want of memory may leave err as it was) */
        fprintf(stderr, "embed: %s\n", err[0] ? err : ldg_strerror(rc));
        return 1;
    }
    body = json_pack("{s:s}", "note", "from a program built with pkg-config");
    memset(&in, 0, sizeof in);
    in.type = "x.embed.hello";
    in.body = body;
    rc = ldg_append(l, &in, &seq);
    json_decref(body);
    if (rc < 0) {
        fprintf(stderr, "embed: %s\n", ldg_errmsg(l));
        return 1;
    }
    printf("seq %llu\n", (unsigned long long)seq);

    /* the verdict `ledger verify --full` prints, decided by the library */
    memset(&v, 0, sizeof v);
    rc = ldg_verify_full(l, LDG_VERIFY_FULL, &v, NULL, NULL);
    printf("verdict: %s%s\n", rc == 0 ? "ok" : "FAILED: ",
           rc == 0 ? "" : v.what);
    ldg_verdict_release(&v);
    ldg_close(l);
    if (rc != 0)
        return ldg_exit_code(rc);

    /* a serve job, with no `ledger` program anywhere */
    if (ldg_jobs_add(jobs, "verify", "1s", NULL, err, sizeof err) < 0 ||
        ldg_jobs_start(jobs, argv[1], "(none)", err, sizeof err) < 0) {
        fprintf(stderr, "embed: %s\n", err);
        return 1;
    }
    for (int i = 0; i < 600 && (ex = job_exit(argv[1])) < 0; i++) {
        struct timespec tenth = {0, 100000000};
        nanosleep(&tenth, NULL);
    }
    ldg_jobs_free(jobs);
    printf("verify job: %s (exit %d)\n", ex == 0 ? "ok" : "FAILED", ex);
    return ex == 0 ? 0 : 1;
}
