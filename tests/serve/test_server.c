/*
 * test_server.c — serve/server.c in process: answers in order, one
 * commit shared by events that arrive together (from one connection or
 * several), a lone event committed alone, a refused event beside
 * committed ones, backpressure on a sender that does not read, stop
 * drains. (The hostile clients are in
 * tests/e2e/serve_cli.sh.)
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "serve/serve.h"
#include "tests/support/support.h"

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

static int
dial(const char *path)
{
    struct sockaddr_un sa;
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

/* Reads n lines (into buf, NUL-terminated). */
static void
read_lines(int fd, char *buf, size_t cap, int n)
{
    size_t len = 0;
    while (n > 0 && len + 1 < cap) {
        ssize_t k = read(fd, buf + len, 1);
        assert_true(k == 1);
        if (buf[len++] == '\n')
            n--;
    }
    buf[len] = '\0';
}

static void
test_server__answers_in_order_and_drains(void **state)
{
    char dir[256], buf[4096];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_serve_stats st;
    struct run r;
    pthread_t th;
    uint64_t size = 0;
    const char *req = "{\"type\":\"x.a\",\"body\":{\"i\":1},\"id\":\"one\"}\n"
                      "{\"type\":\"x.a\",\"body\":{\"i\":2},\"actor\":\"none\","
                      "\"id\":\"two\"}\n"
                      "{\"type\":\"x.a\",\"body\":{\"i\":3}}\n"
                      "{\"type\":\"x.a\",\"body\":[]}\n";
    int fd;
    (void)state;

    memset(&r, 0, sizeof r);
    assert_int_equal(ldg_serve_new(&r.s, l, NULL, buf, sizeof buf), 0);
    assert_non_null(strstr(ldg_serve_path(r.s), "ledger.sock"));
    assert_int_equal(pthread_create(&th, NULL, run_main, &r), 0);
    fd = dial(ldg_serve_path(r.s));
    assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
    read_lines(fd, buf, sizeof buf, 4);
    /* seq 1 for "one", the refusal of "two", seq 2 for the third */
    assert_non_null(strstr(buf, "{\"id\":\"one\",\"seq\":\"1\"}\n"
                                "{\"id\":\"two\",\"error\":\"line 2: "));
    assert_non_null(strstr(buf, "\"code\":65}\n{\"seq\":\"2\"}\n{\"error\":"
                                "\"line 4: field 'body': must be an "
                                "object\",\"code\":65}\n"));
    /* a line sent just before stop is still committed and answered */
    assert_int_equal(write(fd, "{\"type\":\"x.a\",\"body\":{}}\n", 25), 25);
    read_lines(fd, buf, sizeof buf, 1);
    assert_string_equal(buf, "{\"seq\":\"3\"}\n");
    ldg_serve_stop(r.s);
    pthread_join(th, NULL);
    assert_int_equal(r.rc, 0);
    ldg_serve_stats(r.s, &st);
    assert_true(st.acked == 3 && st.errors == 2 && st.requests == 5);
    assert_true(st.commits <= 3);
    close(fd);
    ldg_serve_free(r.s);
    assert_int_equal(ldg_size(l, &size), 0);
    assert_true(size == 4);
    ldg_close(l);
    t_rmrf(dir);
}

/* Waits until the server has read n request lines (ldg_serve_stats may
 * be read while it runs). A guard of 30 s fails a test that would never
 * get there; it measures nothing. */
static void
wait_requests(struct ldg_server *s, uint64_t n)
{
    struct ldg_serve_stats st;
    for (int i = 0; i < 30000; i++) {
        ldg_serve_stats(s, &st);
        if (st.requests >= n)
            return;
        usleep(1000);
    }
    fail_msg("the server read %llu requests, not %llu",
             (unsigned long long)st.requests, (unsigned long long)n);
}

/* The seq of an ack line, or 0. */
static uint64_t
ack_seq(const char *line)
{
    const char *p = strstr(line, "\"seq\":\"");
    return p ? strtoull(p + 7, NULL, 10) : 0;
}

/* Requests from several connections that wait while a commit is on
 * disk share the next commit. The test holds the ledger's write lock (a
 * write transaction of its own) so the writer sits in its first group
 * while all eight connections are read; then it lets go. The loop reads
 * one connection at a time and hands each one's requests to the writer
 * before it reads the next, so once it has read all eight, at least
 * seven are queued: one group took the first (or more) and at most two
 * more take the rest. A lone event afterwards gets a commit of its own. */
static void
test_server__connections_share_a_commit(void **state)
{
    char dir[256], buf[4096];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_serve_stats st;
    struct ldg_txn *hold = NULL;
    struct run r;
    pthread_t th;
    uint64_t size = 0, seen[8], commits;
    int fd[8];
    (void)state;

    memset(&r, 0, sizeof r);
    assert_int_equal(ldg_serve_new(&r.s, l, NULL, buf, sizeof buf), 0);
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_WRITE, &hold), 0);
    assert_int_equal(pthread_create(&th, NULL, run_main, &r), 0);
    for (int i = 0; i < 8; i++) {
        char req[128];
        int n = snprintf(req, sizeof req,
                         "{\"type\":\"x.a\",\"body\":{\"i\":%d},"
                         "\"id\":\"c%d\"}\n",
                         i, i);
        fd[i] = dial(ldg_serve_path(r.s));
        assert_int_equal(write(fd[i], req, (size_t)n), n);
    }
    wait_requests(r.s, 8);
    ldg_txn_abort(hold); /* the writer goes on */
    for (int i = 0; i < 8; i++) {
        read_lines(fd[i], buf, sizeof buf, 1);
        seen[i] = ack_seq(buf);
        assert_true(seen[i] >= 1 && seen[i] <= 8);
        for (int k = 0; k < i; k++)
            assert_true(seen[k] != seen[i]);
    }
    ldg_serve_stats(r.s, &st);
    assert_int_equal(st.acked, 8);
    assert_true(st.commits >= 1 && st.commits <= 3);
    /* a lone event: a commit of its own, at once */
    commits = st.commits;
    assert_int_equal(write(fd[3], "{\"type\":\"x.a\",\"body\":{}}\n", 25), 25);
    read_lines(fd[3], buf, sizeof buf, 1);
    assert_string_equal(buf, "{\"seq\":\"9\"}\n");
    ldg_serve_stats(r.s, &st);
    assert_int_equal(st.commits, commits + 1);
    ldg_serve_stop(r.s);
    pthread_join(th, NULL);
    assert_int_equal(r.rc, 0);
    for (int i = 0; i < 8; i++)
        close(fd[i]);
    ldg_serve_free(r.s);
    assert_int_equal(ldg_size(l, &size), 0);
    assert_true(size == 10);
    ldg_close(l);
    t_rmrf(dir);
}

/* Backpressure: a connection that sends far more than queue_max
 * requests without reading its answers is not read past queue_max
 * requests waiting for the disk, and another connection's request does
 * not wait behind that backlog. The writer is held in its first group
 * (as above) while the loop reads: the flood's queue_max requests, then
 * nothing more of it, then the other's one. Once the writer goes on, the
 * other's event is committed after at most the flood's queue_max (what
 * was queued before it): its seq says so, whatever the timing. Without
 * the bound all 200 would have been read and queued first. */
static void
test_server__a_fast_sender_is_held_back(void **state)
{
    char dir[256], buf[4096], *flood;
    const char *one = "{\"type\":\"x.b\",\"body\":{},\"id\":\"b\"}\n";
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_serve_options o;
    struct ldg_serve_stats st;
    struct ldg_txn *hold = NULL;
    struct run r;
    pthread_t th;
    size_t len = 0, cap = 200 * 64;
    int a, b;
    (void)state;

    memset(&r, 0, sizeof r);
    memset(&o, 0, sizeof o);
    o.queue_max = 4;
    assert_int_equal(ldg_serve_new(&r.s, l, &o, buf, sizeof buf), 0);
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_WRITE, &hold), 0);
    assert_int_equal(pthread_create(&th, NULL, run_main, &r), 0);
    flood = malloc(cap);
    assert_non_null(flood);
    for (int i = 0; i < 200; i++)
        len +=
            (size_t)snprintf(flood + len, cap - len,
                             "{\"type\":\"x.flood\",\"body\":{\"i\":%d}}\n", i);
    a = dial(ldg_serve_path(r.s));
    /* ~8 KB: the socket's buffer takes it all, read or not */
    assert_int_equal(send(a, flood, len, MSG_DONTWAIT), (ssize_t)len);
    free(flood);
    wait_requests(r.s, 4);
    b = dial(ldg_serve_path(r.s));
    assert_int_equal(write(b, one, strlen(one)), (ssize_t)strlen(one));
    wait_requests(r.s, 5);
    /* the flood's connection was read no further than queue_max */
    ldg_serve_stats(r.s, &st);
    assert_int_equal(st.requests, 5);
    ldg_txn_abort(hold);
    read_lines(b, buf, sizeof buf, 1);
    /* queued behind at most the flood's first queue_max, not its 200 */
    assert_true(ack_seq(buf) >= 1 && ack_seq(buf) <= 5);
    assert_non_null(strstr(buf, "\"id\":\"b\""));
    /* the flood's answers come too, in order, when it reads them */
    read_lines(a, buf, sizeof buf, 4);
    assert_non_null(strstr(buf, "{\"seq\":\"1\"}\n"));
    close(a);
    close(b);
    ldg_serve_stop(r.s);
    pthread_join(th, NULL);
    assert_int_equal(r.rc, 0);
    ldg_serve_stats(r.s, &st);
    assert_int_equal(st.dropped, 0);
    ldg_serve_free(r.s);
    ldg_close(l);
    t_rmrf(dir);
}

static void
test_server__second_server_on_a_live_socket_is_refused(void **state)
{
    char dir[256], err[512];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_server *a = NULL, *b = NULL;
    (void)state;
    assert_int_equal(ldg_serve_new(&a, l, NULL, err, sizeof err), 0);
    assert_int_equal(ldg_serve_new(&b, l, NULL, err, sizeof err), LDG_EBUSY);
    assert_null(b);
    assert_non_null(strstr(err, "another server already answers"));
    ldg_serve_free(a);
    /* freed: the socket file is gone and a new server binds */
    assert_int_equal(ldg_serve_new(&b, l, NULL, err, sizeof err), 0);
    ldg_serve_free(b);
    ldg_close(l);
    t_rmrf(dir);
}

/* The server drops its mappings of data.mdb every trim_events committed
 * events, one of LDG_SERVE_TRIM_PARTS parts every trim_events / parts
 * events (the pages its lookups touched would otherwise stay resident as
 * the log grows), and what it committed reads back the same afterwards. */
static void
test_server__drops_its_map_every_trim_events(void **state)
{
    char dir[256], buf[4096];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_serve_options o;
    struct ldg_serve_stats st;
    struct run r;
    pthread_t th;
    uint64_t size = 0;
    int fd;
    (void)state;

    memset(&r, 0, sizeof r);
    memset(&o, 0, sizeof o);
    o.trim_events = 2 * LDG_SERVE_TRIM_PARTS; /* a part every 2 events */
    assert_int_equal(ldg_serve_new(&r.s, l, &o, buf, sizeof buf), 0);
    assert_int_equal(pthread_create(&th, NULL, run_main, &r), 0);
    fd = dial(ldg_serve_path(r.s));
    for (int i = 1; i <= 5; i++) {
        char req[128], want[64];
        int n = snprintf(req, sizeof req,
                         "{\"type\":\"x.a\",\"body\":{\"i\":%d},"
                         "\"id\":\"e%d\"}\n",
                         i, i);
        assert_int_equal(write(fd, req, (size_t)n), n);
        read_lines(fd, buf, sizeof buf, 1);
        snprintf(want, sizeof want, "{\"id\":\"e%d\",\"seq\":\"%d\"}\n", i, i);
        assert_string_equal(buf, want);
    }
    /* after the trims an id committed before them is still found */
    assert_int_equal(write(fd,
                           "{\"type\":\"x.a\",\"body\":{\"i\":1},"
                           "\"id\":\"e1\"}\n",
                           41),
                     41);
    read_lines(fd, buf, sizeof buf, 1);
    assert_non_null(strstr(buf, "\"seq\":\"1\""));
    ldg_serve_stop(r.s);
    pthread_join(th, NULL);
    assert_int_equal(r.rc, 0);
    ldg_serve_stats(r.s, &st);
    /* five events committed one at a time, then a duplicate, answered
     * with its seq: no event and no commit of its own (the stop line
     * counted it as both); a part released after the 2nd, 4th and 6th
     * request */
    assert_true(st.acked == 5 && st.commits == 5 && st.duplicates == 1);
    /* and the whole map once for the duplicate: every trim_step / 2
     * duplicates (here 1), as a retry storm reads pages anywhere */
    assert_int_equal(st.trims, 4);
    close(fd);
    ldg_serve_free(r.s);
    assert_int_equal(ldg_size(l, &size), 0);
    assert_true(size == 6); /* the first event, then the five */
    ldg_close(l);
    t_rmrf(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_server__answers_in_order_and_drains),
        cmocka_unit_test(
            test_server__second_server_on_a_live_socket_is_refused),
        cmocka_unit_test(test_server__drops_its_map_every_trim_events),
        cmocka_unit_test(test_server__connections_share_a_commit),
        cmocka_unit_test(test_server__a_fast_sender_is_held_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
