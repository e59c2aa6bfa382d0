/*
 * test_client.c — serve/client.c against a server in process: pipelined
 * appends from one thread while another waits for the answers, a refused
 * request, connecting where nothing serves, and the end of a connection.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "serve/serve.h"
#include "tests/support/support.h"

#define N 200

struct run {
    struct ldg_server *s;
    int rc;
};

static void *
run_main(void *arg)
{
    struct run *r = arg;
    r->rc = ldg_serve_run(r->s);
    return NULL;
}

struct sender {
    struct ldg_client *cl;
    int rc;
};

static void *
send_main(void *arg)
{
    struct sender *sd = arg;
    for (int i = 0; i < N && sd->rc == 0; i++) {
        struct ldg_event_in ev;
        char id[32];
        memset(&ev, 0, sizeof ev);
        ev.type = i == 7 ? "run.started" : "x.client"; /* 7: refused */
        ev.body = json_pack("{s:i}", "i", i);
        snprintf(id, sizeof id, "k%d", i);
        sd->rc = ldg_client_append(sd->cl, &ev, id, 1, 1000u + (unsigned)i);
        json_decref(ev.body);
    }
    ldg_client_done(sd->cl);
    return NULL;
}

static void
test_client__pipelined_appends_answered_in_order(void **state)
{
    char dir[256], err[512];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_client_answer a;
    struct sender sd;
    struct run r;
    pthread_t th, ts;
    uint64_t last = 0;
    (void)state;

    memset(&r, 0, sizeof r);
    assert_int_equal(ldg_serve_new(&r.s, l, NULL, err, sizeof err), 0);
    assert_int_equal(pthread_create(&th, NULL, run_main, &r), 0);
    memset(&sd, 0, sizeof sd);
    assert_int_equal(ldg_client_connect(&sd.cl, dir, NULL, err, sizeof err), 0);
    assert_int_equal(pthread_create(&ts, NULL, send_main, &sd), 0);
    for (int i = 0; i < N; i++) {
        char id[32];
        assert_int_equal(ldg_client_wait(sd.cl, &a, 30000), 0);
        snprintf(id, sizeof id, "k%d", i);
        assert_int_equal(a.has_id, 1);
        assert_string_equal(a.id, id);
        if (i == 7) {
            assert_int_equal(a.ok, 0);
            assert_int_equal(a.code, 65);
            assert_non_null(strstr(a.error, "run.started"));
            continue;
        }
        assert_int_equal(a.ok, 1);
        assert_true(a.seq > last);
        last = a.seq;
    }
    /* everything answered and the sender said it is done: the server
     * closes, and waiting says so */
    assert_int_equal(ldg_client_wait(sd.cl, &a, 30000), LDG_EIO);
    assert_non_null(strstr(ldg_client_errmsg(sd.cl), "closed"));
    pthread_join(ts, NULL);
    assert_int_equal(sd.rc, 0);
    ldg_client_close(sd.cl);
    ldg_serve_stop(r.s);
    pthread_join(th, NULL);
    assert_int_equal(r.rc, 0);
    ldg_serve_free(r.s);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_client__nothing_serves_is_not_found(void **state)
{
    char dir[256], err[512];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_client *cl = NULL;
    struct ldg_event_in ev;
    struct run r;
    (void)state;
    assert_int_equal(ldg_client_connect(&cl, dir, NULL, err, sizeof err),
                     LDG_ENOTFOUND);
    assert_null(cl);
    assert_non_null(strstr(err, "ledger.sock"));
    /* an id over 128 bytes is refused before anything is sent */
    memset(&r, 0, sizeof r);
    assert_int_equal(ldg_serve_new(&r.s, l, NULL, err, sizeof err), 0);
    assert_int_equal(
        ldg_client_connect(&cl, NULL, ldg_serve_path(r.s), err, sizeof err), 0);
    memset(&ev, 0, sizeof ev);
    ev.type = "x.a";
    char id[200];
    memset(id, 'a', 129);
    id[129] = '\0';
    assert_int_equal(ldg_client_append(cl, &ev, id, 0, 0), LDG_EBADINPUT);
    /* the event's own id is the one sent when the argument is NULL (it
     * was dropped: a resend after LDG_EIO recorded the event twice) */
    ev.id = id;
    assert_int_equal(ldg_client_append(cl, &ev, NULL, 0, 0), LDG_EBADINPUT);
    ev.id = NULL;
    assert_int_equal(ldg_client_wait(cl, &(struct ldg_client_answer){0}, 10),
                     LDG_ETIMEOUT);
    ldg_client_close(cl);
    ldg_serve_free(r.s);
    ldg_close(l);
    t_rmrf(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_client__pipelined_appends_answered_in_order),
        cmocka_unit_test(test_client__nothing_serves_is_not_found),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
