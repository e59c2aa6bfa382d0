/*
 * test_jobs.c — serve/jobs.c: durations, which jobs may be added, the
 * status file written by start/free (and --proxy's child, ldg_jobs_proxy)
 * and read back by ldg_jobs_status.
 * (serve_jobs.sh runs real jobs under a real daemon.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "serve/serve.h"

static char dir[64];

static int
setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/test_jobs.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int
teardown(void **state)
{
    char p[128];
    (void)state;
    snprintf(p, sizeof p, "%s/%s", dir, LDG_SERVE_STATUS_FILE);
    unlink(p);
    rmdir(dir);
    return 0;
}

static void
write_status(const char *text)
{
    char p[128];
    FILE *f;
    snprintf(p, sizeof p, "%s/%s", dir, LDG_SERVE_STATUS_FILE);
    f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void
test_jobs__durations(void **state)
{
    static const struct {
        const char *s;
        long long ms; /* -1: refused */
    } cases[] = {
        {"1", 1000},          {"30s", 30000},     {"5m", 300000},
        {"5min", 300000},     {"1h", 3600000},    {"2d", 172800000},
        {"1500ms", 1500},     {"30d", 2592000000}, {"31d", -1},
        {"999ms", -1},        {"0", -1},          {"", -1},
        {"s", -1},            {"-5s", -1},        {"5 s", -1},
        {"5sec", -1},         {"1.5h", -1},       {"99999999999999999999", -1},
        {"720h", 2592000000}, {"721h", -1},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t ms = 0;
        int rc = ldg_jobs_parse_every(cases[i].s, &ms);
        if (cases[i].ms < 0) {
            if (rc != -1)
                fail_msg("'%s' accepted as %llu ms", cases[i].s,
                         (unsigned long long)ms);
        } else {
            if (rc != 0 || ms != (uint64_t)cases[i].ms)
                fail_msg("'%s': rc %d, %llu ms, want %lld", cases[i].s, rc,
                         (unsigned long long)ms, cases[i].ms);
        }
    }
}

static void
test_jobs__add_refusals(void **state)
{
    struct ldg_jobs *js;
    char err[256];
    (void)state;
    assert_int_equal(ldg_jobs_new(&js), 0);
    assert_int_equal(ldg_jobs_add(js, "probe", "1m", NULL, err, sizeof err),
                     0);
    assert_int_equal(ldg_jobs_add(js, "probe", "5m", NULL, err, sizeof err),
                     LDG_EBADINPUT);
    assert_non_null(strstr(err, "given twice"));
    assert_int_equal(ldg_jobs_add(js, "publish", "5m", NULL, err, sizeof err),
                     LDG_EBADINPUT);
    assert_non_null(strstr(err, "URL is missing"));
    assert_int_equal(ldg_jobs_add(js, "publish", "5m", "ftp://x/", err,
                                  sizeof err),
                     LDG_EBADINPUT);
    assert_non_null(strstr(err, "not an http(s) URL"));
    assert_int_equal(
        ldg_jobs_add(js, "ship", "soon", "http://127.0.0.1:1/", err,
                     sizeof err),
        LDG_EBADINPUT);
    assert_non_null(strstr(err, "'soon' is not a duration"));
    assert_int_equal(ldg_jobs_add(js, "fetch", "1m", NULL, err, sizeof err),
                     LDG_EBADINPUT);
    assert_non_null(strstr(err, "no interval job called 'fetch'"));
    assert_int_equal(ldg_jobs_count(js), 1); /* only the first probe */
    assert_int_equal(ldg_jobs_add(js, "ship", "1h", "http://127.0.0.1:1/",
                                  err, sizeof err),
                     0);
    assert_int_equal(ldg_jobs_count(js), 2);
    /* verify (`verify --new`) takes no URL, and all four fit */
    assert_int_equal(ldg_jobs_add(js, "verify", "1m", "http://127.0.0.1:1/",
                                  err, sizeof err),
                     LDG_EBADINPUT);
    assert_non_null(strstr(err, "--verify-every: takes no URL"));
    assert_int_equal(ldg_jobs_add(js, "verify", "1m", NULL, err, sizeof err),
                     0);
    assert_int_equal(ldg_jobs_add(js, "publish", "5m", "http://127.0.0.1:1/",
                                  err, sizeof err),
                     0);
    assert_int_equal(ldg_jobs_count(js), 4);
    ldg_jobs_free(js); /* never started: writes nothing */
    assert_int_equal(ldg_jobs_status(dir, &(json_t *){NULL}, &(int){0},
                                     &(int){0}, err, sizeof err),
                     LDG_ENOTFOUND);
    assert_non_null(strstr(err, "no server has run"));
}

/* start with no jobs writes "serving" with our pid; free writes
 * "stopped", which ldg_jobs_status reports as not alive. */
static void
test_jobs__status_file_round_trip(void **state)
{
    struct ldg_jobs *js;
    json_t *st;
    char err[512];
    int alive, failing;
    (void)state;
    assert_int_equal(ldg_jobs_new(&js), 0);
    assert_int_equal(ldg_jobs_start(js, dir, "/run/x.sock", err, sizeof err),
                     0);
    assert_int_equal(
        ldg_jobs_status(dir, &st, &alive, &failing, err, sizeof err), 0);
    assert_int_equal(alive, 1);
    assert_int_equal(failing, 0);
    assert_string_equal(json_string_value(json_object_get(st, "state")),
                        "serving");
    assert_string_equal(json_string_value(json_object_get(st, "socket")),
                        "/run/x.sock");
    assert_int_equal(json_integer_value(json_object_get(st, "pid")),
                     getpid());
    json_decref(st);
    ldg_jobs_free(js);
    assert_int_equal(
        ldg_jobs_status(dir, &st, &alive, &failing, err, sizeof err), 0);
    assert_int_equal(alive, 0);
    assert_string_equal(json_string_value(json_object_get(st, "state")),
                        "stopped");
    json_decref(st);
}

static void
test_jobs__status_file_refusals(void **state)
{
    json_t *st = (json_t *)1;
    char err[512];
    int alive, failing;
    (void)state;
    write_status("{\"pid\": 1, \"state\": \"serving\", \"jobs\": [");
    assert_int_equal(
        ldg_jobs_status(dir, &st, &alive, &failing, err, sizeof err),
        LDG_ECORRUPT);
    assert_null(st);
    assert_non_null(strstr(err, "line 1, column"));
    write_status("[1, 2]\n");
    assert_int_equal(
        ldg_jobs_status(dir, &st, &alive, &failing, err, sizeof err),
        LDG_ECORRUPT);
    assert_non_null(strstr(err, "not a status file"));
    write_status("{\"pid\": \"1\", \"state\": \"serving\", \"jobs\": []}\n");
    assert_int_equal(
        ldg_jobs_status(dir, &st, &alive, &failing, err, sizeof err),
        LDG_ECORRUPT);
    /* a job that failed its last run; the pid is ours, so alive */
    {
        char text[256];
        snprintf(text, sizeof text,
                 "{\"pid\": %ld, \"state\": \"serving\", \"jobs\": "
                 "[{\"name\": \"ship\", \"failing_in_a_row\": 2}]}\n",
                 (long)getpid());
        write_status(text);
    }
    assert_int_equal(
        ldg_jobs_status(dir, &st, &alive, &failing, err, sizeof err), 0);
    assert_int_equal(alive, 1);
    assert_int_equal(failing, 1);
    json_decref(st);
}

/* --proxy's child in the status file: running, then exited (exit 74,
 * to be started again: failing), then running again, then stopped with
 * the server. */
static void
test_jobs__status_file_proxy(void **state)
{
    struct ldg_jobs *js;
    json_t *st, *px;
    char err[512];
    int alive, failing;
    (void)state;
    assert_int_equal(ldg_jobs_new(&js), 0);
    assert_int_equal(ldg_jobs_start(js, dir, "/run/x.sock", err, sizeof err),
                     0);
    assert_int_equal(
        ldg_jobs_status(dir, &st, &alive, &failing, err, sizeof err), 0);
    assert_null(json_object_get(st, "proxy")); /* no --proxy: none */
    json_decref(st);
    ldg_jobs_proxy(js, 1, 0, 0);
    assert_int_equal(
        ldg_jobs_status(dir, &st, &alive, &failing, err, sizeof err), 0);
    px = json_object_get(st, "proxy");
    assert_string_equal(json_string_value(json_object_get(px, "state")),
                        "running");
    assert_int_equal(failing, 0);
    json_decref(st);
    ldg_jobs_proxy(js, 0, 74 << 8, 2000); /* exit 74, as waitpid says */
    assert_int_equal(
        ldg_jobs_status(dir, &st, &alive, &failing, err, sizeof err), 0);
    px = json_object_get(st, "proxy");
    assert_string_equal(json_string_value(json_object_get(px, "state")),
                        "restarting");
    assert_int_equal(json_integer_value(json_object_get(px, "last_exit")), 74);
    assert_int_equal(
        json_integer_value(json_object_get(px, "failing_in_a_row")), 1);
    assert_true(json_is_string(json_object_get(px, "next_start")));
    assert_int_equal(alive, 1);
    assert_int_equal(failing, 1);
    json_decref(st);
    ldg_jobs_proxy(js, 1, 0, 0);
    assert_int_equal(
        ldg_jobs_status(dir, &st, &alive, &failing, err, sizeof err), 0);
    assert_int_equal(failing, 0);
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(st, "proxy"), "starts")),
                     2);
    json_decref(st);
    ldg_jobs_free(js);
    assert_int_equal(
        ldg_jobs_status(dir, &st, &alive, &failing, err, sizeof err), 0);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(st, "proxy"), "state")),
                        "stopped");
    json_decref(st);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jobs__durations),
        cmocka_unit_test_setup_teardown(test_jobs__add_refusals, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_jobs__status_file_round_trip,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_jobs__status_file_refusals,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_jobs__status_file_proxy, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
