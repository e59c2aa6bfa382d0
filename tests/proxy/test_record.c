/*
 * test_record.c — proxy/record.c, the recorder of every model request:
 * what is queued while a commit runs goes in one group commit; an id
 * reused with other content is recorded again without the id (directly
 * and through ledger serve), the same event twice is recorded once; a
 * refused event fails alone; and when ledger serve is gone, what waits for
 * it fails with a reason instead of hanging or being counted as recorded.
 *
 * Events no one waits for (async mode's) are taken on the recorder's tick
 * or a full group at a time, and a stop commits them all.
 *
 * The group is made deterministic: the first event's callback (which the
 * recorder's thread runs after its commit) blocks until the others are
 * queued, so they can only be taken together.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "proxy/proxy_int.h"
#include "serve/serve.h"
#include "tests/support/support.h"

#define GROUP 40

struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int entered, open, calls, fails;
    char last_why[256];
};

static void
gate_init(struct gate *g)
{
    memset(g, 0, sizeof *g);
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
}

/* The first event's outcome: holds the recorder's thread until opened. */
static void
held_cb(void *cls, int rc, const char *why)
{
    struct gate *g = cls;
    pthread_mutex_lock(&g->mu);
    g->entered = 1;
    g->calls++;
    g->fails += rc < 0;
    pthread_cond_broadcast(&g->cv);
    while (!g->open)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
    (void)why;
}

static void
count_cb(void *cls, int rc, const char *why)
{
    struct gate *g = cls;
    pthread_mutex_lock(&g->mu);
    g->calls++;
    if (rc < 0) {
        g->fails++;
        snprintf(g->last_why, sizeof g->last_why, "%s", why);
    }
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static void
gate_wait_entered(struct gate *g)
{
    pthread_mutex_lock(&g->mu);
    while (!g->entered)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

static void
gate_open(struct gate *g)
{
    pthread_mutex_lock(&g->mu);
    g->open = 1;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static void
gate_wait_calls(struct gate *g, int n)
{
    pthread_mutex_lock(&g->mu);
    while (g->calls < n)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

static json_t *
body_i(int i)
{
    return json_pack("{s:i}", "i", i);
}

static uint64_t
size_of(struct ldg_ledger *l)
{
    struct ldg_txn *t;
    uint64_t n = 0;
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_txn_size(t, &n), 0);
    ldg_txn_abort(t);
    return n;
}

/* Event seq's id ("" when none) and body's "i" (-1 when none). */
static void
event_at(struct ldg_ledger *l, uint64_t seq, char *id, size_t cap, int *i)
{
    struct ldg_txn *t;
    struct ldg_event ev;
    json_t *b = NULL;
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_READ, &t), 0);
    assert_int_equal(ldg_event_get(t, seq, &ev), 0);
    snprintf(id, cap, "%.*s", (int)ev.id_len, ev.id_len ? ev.id : "");
    assert_int_equal(ldg_body_get(t, seq, &b), 0);
    *i = json_is_integer(json_object_get(b, "i"))
             ? (int)json_integer_value(json_object_get(b, "i"))
             : -1;
    json_decref(b);
    ldg_txn_abort(t);
}

static struct proxy_rec *
rec_direct(struct ldg_ledger *l)
{
    struct proxy_rec_options o;
    struct proxy_rec *r = NULL;
    char err[256];
    memset(&o, 0, sizeof o);
    o.ledger = l;
    if (proxy_rec_new(&r, &o, err, sizeof err) != 0)
        fail_msg("proxy_rec_new: %s", err);
    return r;
}

static void
test_record__what_waits_goes_in_one_group_commit(void **state)
{
    char dir[256], why[256], id[64];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct proxy_rec *r = rec_direct(l);
    struct gate g;
    uint64_t rec = 0, failed = 0, commits = 0, n0 = size_of(l);
    int v;
    (void)state;
    gate_init(&g);
    assert_int_equal(proxy_rec_submit_cb(r, "x.proxy.t", body_i(0), NULL, NULL,
                                         0, held_cb, &g, why, sizeof why),
                     0);
    gate_wait_entered(&g); /* committed; the recorder is held */
    for (int i = 1; i < GROUP; i++)
        assert_int_equal(proxy_rec_submit_cb(r, "x.proxy.t", body_i(i), NULL,
                                             NULL, 0, count_cb, &g, why,
                                             sizeof why),
                         0);
    gate_open(&g);
    gate_wait_calls(&g, GROUP);
    proxy_rec_stats(r, &rec, &failed, &commits);
    assert_int_equal(rec, GROUP);
    assert_int_equal(failed, 0);
    assert_int_equal(commits, 2); /* the first alone, the rest together */
    assert_int_equal(proxy_rec_free(r, NULL, NULL, NULL), 0);
    /* in the order they were queued */
    assert_int_equal(size_of(l), n0 + GROUP);
    for (int i = 0; i < GROUP; i++) {
        event_at(l, n0 + (uint64_t)i, id, sizeof id, &v);
        assert_int_equal(v, i);
    }
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_record__a_reused_id_is_recorded_again_without_it(void **state)
{
    char dir[256], why[256], id[64];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct proxy_rec *r = rec_direct(l);
    struct gate g;
    uint64_t n0 = size_of(l);
    int v;
    (void)state;
    gate_init(&g);
    /* one at a time: the first keeps its id; the same event again is the
     * one in the log; another with that id goes in without it */
    assert_int_equal(proxy_rec_submit(r, "x.proxy.t", body_i(1), NULL, "req-1",
                                      0, 1, why, sizeof why),
                     0);
    assert_int_equal(proxy_rec_submit(r, "x.proxy.t", body_i(1), NULL, "req-1",
                                      0, 1, why, sizeof why),
                     0);
    assert_int_equal(size_of(l), n0 + 1);
    assert_int_equal(proxy_rec_submit(r, "x.proxy.t", body_i(2), NULL, "req-1",
                                      0, 1, why, sizeof why),
                     0);
    assert_int_equal(size_of(l), n0 + 2);
    event_at(l, n0, id, sizeof id, &v);
    assert_string_equal(id, "req-1");
    assert_int_equal(v, 1);
    event_at(l, n0 + 1, id, sizeof id, &v);
    assert_string_equal(id, "");
    assert_int_equal(v, 2);
    /* in one group: the same, within a batch */
    assert_int_equal(proxy_rec_submit_cb(r, "x.proxy.t", body_i(3), NULL, NULL,
                                         0, held_cb, &g, why, sizeof why),
                     0);
    gate_wait_entered(&g);
    assert_int_equal(proxy_rec_submit_cb(r, "x.proxy.t", body_i(4), NULL,
                                         "req-2", 0, count_cb, &g, why,
                                         sizeof why),
                     0);
    assert_int_equal(proxy_rec_submit_cb(r, "x.proxy.t", body_i(5), NULL,
                                         "req-2", 0, count_cb, &g, why,
                                         sizeof why),
                     0);
    gate_open(&g);
    gate_wait_calls(&g, 3);
    assert_int_equal(g.fails, 0);
    assert_int_equal(proxy_rec_free(r, NULL, NULL, NULL), 0);
    assert_int_equal(size_of(l), n0 + 5);
    event_at(l, n0 + 3, id, sizeof id, &v);
    assert_string_equal(id, "req-2");
    assert_int_equal(v, 4);
    event_at(l, n0 + 4, id, sizeof id, &v);
    assert_string_equal(id, "");
    assert_int_equal(v, 5);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_record__a_refused_event_fails_alone(void **state)
{
    char dir[256], why[256];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct proxy_rec *r = rec_direct(l);
    struct gate g;
    uint64_t rec = 0, failed = 0, commits = 0, n0 = size_of(l);
    (void)state;
    gate_init(&g);
    assert_int_equal(proxy_rec_submit_cb(r, "x.proxy.t", body_i(0), NULL, NULL,
                                         0, held_cb, &g, why, sizeof why),
                     0);
    gate_wait_entered(&g);
    assert_int_equal(proxy_rec_submit_cb(r, "x.proxy.t", body_i(1), NULL, NULL,
                                         0, count_cb, &g, why, sizeof why),
                     0);
    /* route.decision without its required fields */
    assert_int_equal(proxy_rec_submit_cb(r, "route.decision", body_i(2), NULL,
                                         NULL, 0, count_cb, &g, why,
                                         sizeof why),
                     0);
    assert_int_equal(proxy_rec_submit_cb(r, "x.proxy.t", body_i(3), NULL, NULL,
                                         0, count_cb, &g, why, sizeof why),
                     0);
    gate_open(&g);
    gate_wait_calls(&g, 4);
    assert_int_equal(g.fails, 1);
    assert_non_null(strstr(g.last_why, "route"));
    proxy_rec_stats(r, &rec, &failed, &commits);
    assert_int_equal(rec, 3);
    assert_int_equal(failed, 1);
    assert_int_equal(proxy_rec_free(r, NULL, NULL, NULL), LDG_EBADINPUT);
    assert_int_equal(size_of(l), n0 + 3);
    ldg_close(l);
    t_rmrf(dir);
}

/* Events no one waits for (async mode's), queued while the recorder is
 * busy, are taken together on its tick, and a full group (PROXY_REC_GROUP_MAX)
 * and more in one commit too. */
static void
test_record__events_not_waited_for_are_taken_in_one_group(void **state)
{
    char dir[256], why[256], id[64];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct proxy_rec *r = rec_direct(l);
    struct gate g;
    uint64_t rec = 0, failed = 0, commits = 0, n0 = size_of(l);
    int v, n = 5;
    (void)state;
    gate_init(&g);
    for (int round = 0; round < 2; round++) {
        /* the recorder is held after a commit; n queued meanwhile (the
         * second round a full group and one more) */
        assert_int_equal(proxy_rec_submit_cb(r, "x.proxy.t", body_i(0), NULL,
                                             NULL, 0, held_cb, &g, why,
                                             sizeof why),
                         0);
        gate_wait_entered(&g);
        for (int i = 1; i <= n; i++)
            assert_int_equal(proxy_rec_submit(r, "x.proxy.t", body_i(i), NULL,
                                              NULL, 0, 0, why, sizeof why),
                             0);
        gate_open(&g);
        /* taken on the tick (round 0) or at once (a full group) */
        for (;;) {
            proxy_rec_stats(r, &rec, &failed, &commits);
            if (rec >= (uint64_t)(round == 0 ? 1 + n : 7 + n))
                break;
            nanosleep(&(struct timespec){0, 1000000}, NULL);
        }
        assert_int_equal(failed, 0);
        assert_int_equal(commits, round == 0 ? 2 : 4);
        pthread_mutex_lock(&g.mu);
        g.entered = g.open = 0;
        pthread_mutex_unlock(&g.mu);
        n = PROXY_REC_GROUP_MAX + 1;
    }
    assert_int_equal(size_of(l), n0 + 6 + 1 + PROXY_REC_GROUP_MAX + 1);
    for (int i = 0; i <= 5; i++) {
        event_at(l, n0 + (uint64_t)i, id, sizeof id, &v);
        assert_int_equal(v, i);
    }
    assert_int_equal(proxy_rec_free(r, NULL, NULL, NULL), 0);
    ldg_close(l);
    t_rmrf(dir);
}

/* A stop commits every event queued, whether or not its tick came. */
static void
test_record__a_stop_commits_what_is_queued(void **state)
{
    char dir[256], why[256];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct proxy_rec *r = rec_direct(l);
    uint64_t rec = 0, failed = 0, commits = 0, n0 = size_of(l);
    (void)state;
    for (int i = 0; i < 10; i++)
        assert_int_equal(proxy_rec_submit(r, "x.proxy.t", body_i(i), NULL, NULL,
                                          0, 0, why, sizeof why),
                         0);
    assert_int_equal(proxy_rec_free(r, &rec, &failed, &commits), 0);
    assert_int_equal(rec, 10);
    assert_int_equal(failed, 0);
    assert_int_equal(size_of(l), n0 + 10);
    ldg_close(l);
    t_rmrf(dir);
}

/* ------------------------------------------------- through ledger serve -- */

struct srv {
    struct ldg_server *s;
    pthread_t th;
    int rc;
};

static void *
srv_main(void *arg)
{
    struct srv *v = arg;
    v->rc = ldg_serve_run(v->s);
    return NULL;
}

static void
srv_start(struct srv *v, struct ldg_ledger *l)
{
    char err[256];
    if (ldg_serve_new(&v->s, l, NULL, err, sizeof err) != 0)
        fail_msg("ldg_serve_new: %s", err);
    assert_int_equal(pthread_create(&v->th, NULL, srv_main, v), 0);
}

static void
srv_stop(struct srv *v)
{
    ldg_serve_stop(v->s);
    pthread_join(v->th, NULL);
    assert_int_equal(v->rc, 0);
    ldg_serve_free(v->s);
}

static void
test_record__through_serve_a_reused_id_is_sent_again(void **state)
{
    char dir[256], why[256], id[64];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct proxy_rec_options o;
    struct proxy_rec *r = NULL;
    struct srv v;
    uint64_t n0 = size_of(l), rec = 0, failed = 0, commits = 0;
    int v1;
    (void)state;
    srv_start(&v, l);
    memset(&o, 0, sizeof o);
    o.serve_dir = dir;
    if (proxy_rec_new(&r, &o, why, sizeof why) != 0)
        fail_msg("proxy_rec_new: %s", why);
    assert_int_equal(proxy_rec_submit(r, "x.proxy.t", body_i(1), NULL, "req-1",
                                      0, 1, why, sizeof why),
                     0);
    assert_int_equal(proxy_rec_submit(r, "x.proxy.t", body_i(1), NULL, "req-1",
                                      0, 1, why, sizeof why),
                     0);
    assert_int_equal(proxy_rec_submit(r, "x.proxy.t", body_i(2), NULL, "req-1",
                                      0, 1, why, sizeof why),
                     0);
    proxy_rec_stats(r, &rec, &failed, &commits);
    assert_int_equal(rec, 3);
    assert_int_equal(failed, 0);
    assert_int_equal(size_of(l), n0 + 2);
    event_at(l, n0, id, sizeof id, &v1);
    assert_string_equal(id, "req-1");
    assert_int_equal(v1, 1);
    event_at(l, n0 + 1, id, sizeof id, &v1);
    assert_string_equal(id, "");
    assert_int_equal(v1, 2);
    /* the server goes: what waits for it fails, saying so */
    srv_stop(&v);
    assert_true(proxy_rec_submit(r, "x.proxy.t", body_i(3), NULL, NULL, 0, 1,
                                 why, sizeof why) < 0);
    assert_non_null(strstr(why, "ledger serve"));
    proxy_rec_stats(r, &rec, &failed, &commits);
    assert_int_equal(rec, 3);
    assert_int_equal(failed, 1);
    assert_true(proxy_rec_free(r, NULL, NULL, NULL) < 0);
    assert_int_equal(size_of(l), n0 + 2);
    ldg_close(l);
    t_rmrf(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record__what_waits_goes_in_one_group_commit),
        cmocka_unit_test(test_record__a_reused_id_is_recorded_again_without_it),
        cmocka_unit_test(test_record__a_refused_event_fails_alone),
        cmocka_unit_test(
            test_record__events_not_waited_for_are_taken_in_one_group),
        cmocka_unit_test(test_record__a_stop_commits_what_is_queued),
        cmocka_unit_test(test_record__through_serve_a_reused_id_is_sent_again),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
