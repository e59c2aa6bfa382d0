/*
 * test_peer.c — who is at the other end: a /proc/net/tcp line found by
 * its addresses (and not by a line with the addresses swapped), and the
 * real thing over loopback TCP and a Unix socket pair: this process's
 * uid, pid and executable.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "proxy/proxy_int.h"

static void
test_peer__tcp_table(void **state)
{
    const char *t =
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when "
        "retrnsmt   uid  timeout inode\n"
        "   0: 0100007F:2CAB 00000000:0000 0A 00000000:00000000 00:00000000 "
        "00000000     0        0 11111 1 0000000000000000 100 0 0 10 0\n"
        "   1: 0100007F:2CAB 0100007F:9C40 01 00000000:00000000 00:00000000 "
        "00000000   998        0 22222 1 0000000000000000 20 4 30 10 -1\n"
        "   2: 0100007F:9C40 0100007F:2CAB 01 00000000:00000000 00:00000000 "
        "00000000  1000        0 33333 1 0000000000000000 20 4 30 10 -1\n";
    uint64_t uid = 0, ino = 0;
    assert_int_equal(proxy_tcp_lookup(t, strlen(t), "0100007F:9C40",
                                      "0100007F:2CAB", &uid, &ino),
                     0);
    assert_int_equal(uid, 1000);
    assert_int_equal(ino, 33333);
    assert_int_equal(proxy_tcp_lookup(t, strlen(t), "0100007F:9C41",
                                      "0100007F:2CAB", &uid, &ino),
                     -1);
    assert_int_equal(proxy_tcp_lookup("", 0, "a", "b", &uid, &ino), -1);
}

/* A loopback TCP connection: the listener, the client's end and the
 * accepted end. */
static void
loopback_pair(int *ls, int *cs, int *as)
{
    struct sockaddr_in a = {0};
    socklen_t al = sizeof a;
    *ls = socket(AF_INET, SOCK_STREAM, 0);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(*ls, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(*ls, 1), 0);
    assert_int_equal(getsockname(*ls, (struct sockaddr *)&a, &al), 0);
    *cs = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(connect(*cs, (struct sockaddr *)&a, sizeof a), 0);
    *as = accept(*ls, NULL, NULL);
    assert_true(*as >= 0);
}

static void
test_peer__loopback_tcp_is_us(void **state)
{
    struct proxy_peer p;
    char exe[1024];
    int ls, cs, as;
    loopback_pair(&ls, &cs, &as);
    proxy_peer_get(as, &p);
    assert_string_equal(p.transport, "tcp");
    assert_true(p.has_ids);
    assert_int_equal(p.uid, getuid());
    assert_true(p.has_pid);
    assert_int_equal(p.pid, (uint64_t)getpid());
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = 0;
    assert_string_equal(p.exe, exe);
    assert_non_null(strstr(p.addr, "127.0.0.1:"));
    json_t *j = proxy_peer_json(&p);
    assert_string_equal(json_string_value(json_object_get(j, "transport")),
                        "tcp");
    assert_int_equal(json_integer_value(json_object_get(j, "pid")), getpid());
    json_decref(j);
    close(as);
    close(cs);
    close(ls);
}

struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
};

static void
scan_done(void *cls)
{
    struct waiter *w = cls;
    pthread_mutex_lock(&w->mu);
    w->done++;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* proxy_peer_lookup: the first request of a connection scans on a thread
 * and says when it is done; the next ones of that connection are answered
 * at once from what it learned; a closed connection is forgotten. */
static void
test_peer__lookup_per_connection(void **state)
{
    struct proxy_peers *ps;
    struct proxy_peer p, q, r;
    struct waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
                       0};
    int ls, cs, as;
    loopback_pair(&ls, &cs, &as);
    assert_int_equal(proxy_peers_new(&ps), 0);

    /* the scan of /proc runs on a thread: 0, then done once */
    assert_int_equal(proxy_peer_lookup(ps, as, 7, &p, scan_done, &w), 0);
    pthread_mutex_lock(&w.mu);
    while (w.done == 0)
        pthread_cond_wait(&w.cv, &w.mu);
    pthread_mutex_unlock(&w.mu);
    assert_true(p.has_pid);
    assert_int_equal(p.pid, (uint64_t)getpid());
    assert_int_equal(p.uid, getuid());

    /* the same connection again: whole at once, done never called */
    assert_int_equal(proxy_peer_lookup(ps, as, 7, &q, scan_done, &w), 1);
    assert_int_equal(q.pid, p.pid);
    assert_string_equal(q.addr, p.addr);
    assert_string_equal(q.exe, p.exe);

    /* closed: forgotten (a new connection with its id scans again) */
    proxy_peers_closed(ps, 7);
    assert_int_equal(proxy_peer_lookup(ps, as, 7, &r, scan_done, &w), 0);
    proxy_peers_free(ps); /* waits for that scan */
    assert_int_equal(w.done, 2);
    assert_int_equal(r.pid, p.pid);

    /* a Unix socket: whole at once (SO_PEERCRED) */
    int sv[2];
    assert_int_equal(proxy_peers_new(&ps), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(proxy_peer_lookup(ps, sv[0], 1, &p, scan_done, &w), 1);
    assert_string_equal(p.transport, "unix");
    assert_int_equal(p.pid, (uint64_t)getpid());
    proxy_peers_free(ps);
    close(sv[0]);
    close(sv[1]);
    close(as);
    close(cs);
    close(ls);
}

static void
test_peer__unix_is_us(void **state)
{
    int sv[2];
    struct proxy_peer p;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    proxy_peer_get(sv[0], &p);
    assert_string_equal(p.transport, "unix");
    assert_int_equal(p.uid, getuid());
    assert_int_equal(p.gid, getgid());
    assert_int_equal(p.pid, (uint64_t)getpid());
    assert_true(p.exe[0] == '/');
    close(sv[0]);
    close(sv[1]);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_peer__tcp_table),
        cmocka_unit_test(test_peer__loopback_tcp_is_us),
        cmocka_unit_test(test_peer__lookup_per_connection),
        cmocka_unit_test(test_peer__unix_is_us),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
