/*
 * test_admit.c — the connection shares of the HTTP servers
 * (http/admit.c, rules in http/http_int.h) against a table of made-up
 * connections: a peer's share is half, the server's own uid has none;
 * with every slot taken a newcomer takes the slot of the longest-idle
 * connection of the peer holding the most, never a busy one, and is
 * refused when all are busy; under pressure (half taken) idle ones go
 * after pressure_ms, not before and not without pressure; uids,
 * addresses and the unknown peer are distinct peers; a closed
 * connection counts no more and its peer record goes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/http_int.h"

#define SELF 0u

struct world {
    struct httpd_table t;
    struct httpd_conn c[64];
    int n;
    int closed[64]; /* close_fn was given c[i] */
};

static void
closer(void *cls, struct httpd_conn *v)
{
    struct world *w = cls;
    w->closed[v - w->c]++;
}

static void
world_init(struct world *w, unsigned max, uint64_t pressure_ms)
{
    memset(w, 0, sizeof *w);
    w->t.max = max;
    w->t.pressure_ms = pressure_ms;
    w->t.self_uid = SELF;
}

/* A connection of uid (or of IPv4 address a.b.c.d when uid < 0) arriving
 * at now; returns its index, and admit's answer in *rc. */
static int
arrive_peer(struct world *w, struct httpd_peer p, uint64_t now, int *rc)
{
    int i = w->n++;
    w->c[i].id = (uint64_t)i + 1;
    w->c[i].fd = -1;
    w->c[i].peer = p;
    w->c[i].active_ms = now;
    *rc = httpd_admit(&w->t, &w->c[i], now, closer, w);
    return i;
}

static struct httpd_peer
uid(uint32_t u)
{
    struct httpd_peer p = {HTTPD_PEER_UID, u, {0}};
    return p;
}

static struct httpd_peer
addr4(unsigned char last)
{
    struct httpd_peer p = {HTTPD_PEER_ADDR, 0, {192, 168, 1, last}};
    return p;
}

static int
arrive(struct world *w, uint32_t u, uint64_t now)
{
    int rc;
    arrive_peer(w, uid(u), now, &rc);
    return rc;
}

static void
test_admit__a_peer_holds_half_the_server_all(void **state)
{
    struct world w;
    world_init(&w, 8, 5000);
    for (int i = 0; i < 4; i++)
        assert_int_equal(arrive(&w, 65534, 0), 0);
    assert_int_equal(arrive(&w, 65534, 0), HTTPD_OVER_SHARE);
    assert_int_equal(w.t.refused_share, 1);
    /* another uid still gets in; the server's own uid past half */
    assert_int_equal(arrive(&w, 1000, 0), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(arrive(&w, SELF, 0), 0);
    assert_int_equal(w.t.n, 8);
    /* a refused connection is not listed, and closing it is a no-op */
    assert_int_equal(w.c[4].listed, 0);
    httpd_leave(&w.t, &w.c[4]);
    assert_int_equal(w.t.n, 8);
    for (int i = 0; i < w.n; i++)
        httpd_leave(&w.t, &w.c[i]);
    assert_int_equal(w.t.n, 0);
    assert_null(w.t.peers); /* every peer record went with its last */
    httpd_table_release(&w.t);
}

static void
test_admit__full_takes_the_longest_idle_of_the_biggest_peer(void **state)
{
    struct world w;
    int rc;
    world_init(&w, 6, 1000000); /* no pressure closing in this test */
    /* uid 7: three connections, idle since 10, 20, 30; uid 8: two, idle
     * since 0 and 5 (longer, but the smaller peer); one of SELF busy */
    int a = arrive_peer(&w, uid(7), 10, &rc);
    int b = arrive_peer(&w, uid(7), 20, &rc);
    arrive_peer(&w, uid(7), 30, &rc);
    int d = arrive_peer(&w, uid(8), 0, &rc);
    arrive_peer(&w, uid(8), 5, &rc);
    int f = arrive_peer(&w, uid(SELF), 0, &rc);
    w.c[f].busy = 1;
    assert_int_equal(w.t.n, 6);
    assert_int_equal(arrive(&w, 9, 100), 0);
    assert_int_equal(w.closed[a], 1); /* uid 7's, idle the longest */
    assert_int_equal(w.c[a].closing, 1);
    assert_int_equal(w.t.closed_idle, 1);
    /* uid 7 and 8 now hold two each: uid 8's (idle longer) goes next */
    assert_int_equal(arrive(&w, 9, 100), 0);
    assert_int_equal(w.closed[d], 1);
    assert_int_equal(w.closed[b], 0);
    /* libmicrohttpd closes them: they leave (counted once only) */
    httpd_leave(&w.t, &w.c[a]);
    httpd_leave(&w.t, &w.c[d]);
    assert_int_equal(w.t.n, 6);
    /* every connection busy: the newcomer is refused, none closed */
    for (int i = 0; i < w.n; i++)
        w.c[i].busy = 1;
    assert_int_equal(arrive(&w, 10, 200), HTTPD_FULL);
    assert_int_equal(w.t.refused_full, 1);
    for (int i = 0; i < w.n; i++)
        assert_true(w.closed[i] <= 1);
    for (int i = 0; i < w.n; i++)
        httpd_leave(&w.t, &w.c[i]);
    assert_null(w.t.peers);
    httpd_table_release(&w.t);
}

static void
test_admit__under_pressure_idle_ones_go_sooner(void **state)
{
    struct world w;
    int rc;
    world_init(&w, 8, 5000);
    /* three connections, idle since 0: below half, nothing closes even
     * long after */
    for (int i = 0; i < 3; i++)
        arrive_peer(&w, uid(1000 + (uint32_t)i), 0, &rc);
    assert_int_equal(arrive(&w, 2000, 60000), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(w.closed[i], 0);
    /* four taken (half): the next arrival closes those idle >= 5 s; the
     * one of 60000 (idle 1 s) and a busy old one stay */
    w.c[1].busy = 1;
    int late = arrive_peer(&w, uid(3000), 61000, &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(w.closed[0], 1);
    assert_int_equal(w.closed[1], 0); /* busy */
    assert_int_equal(w.closed[2], 1);
    assert_int_equal(w.closed[3], 0); /* idle 1 s */
    assert_int_equal(w.closed[late], 0);
    assert_int_equal(w.t.n, 3);
    assert_int_equal(w.t.closed_idle, 2);
    for (int i = 0; i < w.n; i++)
        httpd_leave(&w.t, &w.c[i]);
    httpd_table_release(&w.t);
}

static void
test_admit__addresses_and_the_unknown_are_peers_too(void **state)
{
    struct world w;
    struct httpd_peer none = {HTTPD_PEER_NONE, 0, {0}};
    int rc;
    world_init(&w, 4, 5000);
    arrive_peer(&w, addr4(1), 0, &rc);
    assert_int_equal(rc, 0);
    arrive_peer(&w, addr4(1), 0, &rc);
    assert_int_equal(rc, 0);
    arrive_peer(&w, addr4(1), 0, &rc);
    assert_int_equal(rc, HTTPD_OVER_SHARE);
    arrive_peer(&w, addr4(2), 0, &rc);
    assert_int_equal(rc, 0);
    /* an address is not a uid, even with the same bytes */
    struct httpd_peer u = uid(0x0201a8c0);
    arrive_peer(&w, u, 0, &rc);
    assert_int_equal(rc, 0);
    /* full (4): the unknown peer takes the longest idle of address 1 */
    arrive_peer(&w, none, 1, &rc);
    assert_int_equal(rc, 0);
    assert_true(w.closed[0] + w.closed[1] == 1);
    for (int i = 0; i < w.n; i++)
        httpd_leave(&w.t, &w.c[i]);
    assert_null(w.t.peers);
    httpd_table_release(&w.t);
}

static void
test_admit__a_server_of_one(void **state)
{
    struct world w;
    world_init(&w, 1, 5000);
    /* a share of half of 1 is 1: one connection, then the next takes its
     * slot while it is idle */
    assert_int_equal(arrive(&w, 5, 0), 0);
    assert_int_equal(arrive(&w, 6, 10), 0);
    assert_int_equal(w.closed[0], 1);
    assert_int_equal(arrive(&w, 6, 20), HTTPD_OVER_SHARE);
    for (int i = 0; i < w.n; i++)
        httpd_leave(&w.t, &w.c[i]);
    httpd_table_release(&w.t);
}

/* A connection closed to make room stays listed (libmicrohttpd closes
 * it later) while the last counted connection of its peer leaves first:
 * the peer's record must outlive both (it was freed under the closing
 * one: a use after free under ASan). */
static void
test_admit__a_closing_connection_keeps_its_peer(void **state)
{
    struct world w;
    int rc;
    world_init(&w, 4, 1000000);
    int a = arrive_peer(&w, uid(7), 0, &rc);
    int b = arrive_peer(&w, uid(7), 10, &rc);
    arrive_peer(&w, uid(8), 20, &rc);
    arrive_peer(&w, uid(8), 30, &rc);
    arrive_peer(&w, uid(9), 40, &rc); /* full: uid 7's a closes */
    assert_int_equal(rc, 0);
    assert_int_equal(w.closed[a], 1);
    assert_int_equal(w.closed[b], 0);
    httpd_leave(&w.t, &w.c[b]); /* uid 7's count is 0, a still listed */
    httpd_leave(&w.t, &w.c[a]);
    for (int i = 0; i < w.n; i++)
        httpd_leave(&w.t, &w.c[i]);
    assert_null(w.t.peers);
    httpd_table_release(&w.t);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_admit__a_peer_holds_half_the_server_all),
        cmocka_unit_test(
            test_admit__full_takes_the_longest_idle_of_the_biggest_peer),
        cmocka_unit_test(test_admit__under_pressure_idle_ones_go_sooner),
        cmocka_unit_test(test_admit__addresses_and_the_unknown_are_peers_too),
        cmocka_unit_test(test_admit__a_server_of_one),
        cmocka_unit_test(test_admit__a_closing_connection_keeps_its_peer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
