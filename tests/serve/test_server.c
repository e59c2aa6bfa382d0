/*
 * test_server.c — serve/server.c in process: answers in order, one
 * commit shared by events that arrive together, a refused event beside
 * committed ones, stop drains. (The hostile clients are in
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
        snprintf(want, sizeof want, "{\"id\":\"e%d\",\"seq\":\"%d\"}\n", i,
                 i);
        assert_string_equal(buf, want);
    }
    /* after the trims an id committed before them is still found */
    assert_int_equal(write(fd, "{\"type\":\"x.a\",\"body\":{\"i\":1},"
                               "\"id\":\"e1\"}\n",
                           41),
                     41);
    read_lines(fd, buf, sizeof buf, 1);
    assert_non_null(strstr(buf, "\"seq\":\"1\""));
    ldg_serve_stop(r.s);
    pthread_join(th, NULL);
    assert_int_equal(r.rc, 0);
    ldg_serve_stats(r.s, &st);
    /* five events committed one at a time, then a duplicate: a part
     * released after the 2nd, 4th and 6th request */
    assert_true(st.acked == 6 && st.commits == 6);
    assert_int_equal(st.trims, 3);
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
