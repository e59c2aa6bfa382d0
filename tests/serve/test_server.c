/*
 * test_server.c — serve/server.c in process: answers in order, one
 * commit shared by events that arrive together (from one connection or
 * several), a lone event committed alone, a refused event beside
 * committed ones, backpressure on a sender that does not read, stop
 * drains, an over-long line skipped to its newline, and the budget for
 * all connections together: what they hold, a non-reader holding it,
 * incomplete lines filling it. (The hostile clients are in
 * tests/e2e/serve_cli.sh.)
 */
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "serve/serve.h"
#include "tests/support/support.h"

/* A server running on a thread of its own. */
struct run {
    struct ldg_server *s;
    int rc;
    pthread_t th;
};

static void *
run_main(void *arg)
{
    struct run *r = arg;
    r->rc = ldg_serve_run(r->s);
    return NULL;
}

/* Runs r->s (made by the caller) on r->th. */
static void
run_start(struct run *r)
{
    assert_int_equal(pthread_create(&r->th, NULL, run_main, r), 0);
}

/* Stops r->s, waits for its thread and checks it ended well; the server
 * is still there for its stats (the caller frees it). */
static void
run_stop(struct run *r)
{
    ldg_serve_stop(r->s);
    pthread_join(r->th, NULL);
    assert_int_equal(r->rc, 0);
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
    run_start(&r);
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
    run_stop(&r);
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

/* Waits until the counter at offset `at` of the server's stats
 * (ldg_serve_stats may be read while it runs) is at least n. A guard of
 * 30 s fails a test that would never get there; it measures nothing. */
static void
wait_stat(struct ldg_server *s, size_t at, const char *what, uint64_t n)
{
    struct ldg_serve_stats st;
    uint64_t v = 0;
    for (int i = 0; i < 30000; i++) {
        ldg_serve_stats(s, &st);
        memcpy(&v, (const char *)&st + at, sizeof v);
        if (v >= n)
            return;
        usleep(1000);
    }
    fail_msg("the server's %s is %llu, never %llu", what, (unsigned long long)v,
             (unsigned long long)n);
}
/* request lines read; bytes held */
#define wait_requests(s, n)                                                    \
    wait_stat((s), offsetof(struct ldg_serve_stats, requests), "requests", (n))
#define wait_held(s, n)                                                        \
    wait_stat((s), offsetof(struct ldg_serve_stats, held), "held", (n))

/* The seq of an ack line, or 0. */
static uint64_t
ack_seq(const char *line)
{
    const char *p = strstr(line, "\"seq\":\"");
    return p ? strtoull(p + 7, NULL, 10) : 0;
}

/* A lone request's answer is sent by the writer itself (no queue behind
 * it): every one of twenty sent one at a time. A client that sends and
 * closes at once has its connection closed by the loop while the writer
 * holds its request; the socket stays open until the writer is done
 * with it. Else a connection accepted meanwhile gets its number and the
 * writer's answer to the first: the test holds the writer in its group
 * (a write transaction of its own, as below) until the second client is
 * accepted, lets it commit, and only then has the second client send:
 * that client must get its own answer and no other. */
static void
test_server__a_lone_answer_goes_out_from_the_writer(void **state)
{
    char dir[256], buf[4096], line[128];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_serve_stats st;
    struct run r;
    uint64_t size = 0;
    int fd;
    (void)state;

    memset(&r, 0, sizeof r);
    assert_int_equal(ldg_serve_new(&r.s, l, NULL, buf, sizeof buf), 0);
    run_start(&r);
    fd = dial(ldg_serve_path(r.s));
    for (int i = 0; i < 20; i++) {
        int n = snprintf(line, sizeof line,
                         "{\"type\":\"x.a\",\"body\":{},\"id\":\"one-%d\"}\n",
                         i);
        char want[64];
        assert_int_equal(write(fd, line, (size_t)n), n);
        read_lines(fd, buf, sizeof buf, 1);
        snprintf(want, sizeof want, "{\"id\":\"one-%d\",\"seq\":\"%d\"}\n", i,
                 i + 1);
        assert_string_equal(buf, want);
    }
    close(fd);
    /* (counted just after the send: the last may be read before) */
    wait_stat(r.s, offsetof(struct ldg_serve_stats, direct), "direct", 20);
    ldg_serve_stats(r.s, &st);
    assert_int_equal(st.direct, 20);
    for (int i = 0; i < 5; i++) {
        struct ldg_txn *hold = NULL;
        int a, b, n;
        assert_int_equal(ldg_txn_begin(l, LDG_TXN_WRITE, &hold), 0);
        a = dial(ldg_serve_path(r.s));
        n = snprintf(line, sizeof line,
                     "{\"type\":\"x.a\",\"body\":{},\"id\":\"a-%d\"}\n", i);
        assert_int_equal(write(a, line, (size_t)n), n);
        close(a);
        wait_requests(r.s, 21 + 2 * (uint64_t)i);
        usleep(20000); /* the loop sees a's end (not needed to pass) */
        b = dial(ldg_serve_path(r.s));
        wait_stat(r.s, offsetof(struct ldg_serve_stats, conns), "conns",
                  3 + 2 * (uint64_t)i);
        ldg_txn_abort(hold); /* the writer commits a's event */
        wait_stat(r.s, offsetof(struct ldg_serve_stats, acked), "acked",
                  21 + (uint64_t)i); /* and knows b sent nothing yet */
        n = snprintf(line, sizeof line,
                     "{\"type\":\"x.a\",\"body\":{},\"id\":\"b-%d\"}\n", i);
        assert_int_equal(write(b, line, (size_t)n), n);
        read_lines(b, buf, sizeof buf, 1);
        snprintf(line, sizeof line, "{\"id\":\"b-%d\",\"seq\":", i);
        if (strncmp(buf, line, strlen(line)) != 0)
            fail_msg("b-%d was answered %s", i, buf);
        close(b);
    }
    run_stop(&r);
    ldg_serve_stats(r.s, &st);
    assert_int_equal(st.acked, 30);
    ldg_serve_free(r.s);
    assert_int_equal(ldg_size(l, &size), 0);
    assert_int_equal(size, 31); /* and the ledger's first event */
    ldg_close(l);
    t_rmrf(dir);
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
    uint64_t size = 0, seen[8], commits;
    int fd[8];
    (void)state;

    memset(&r, 0, sizeof r);
    assert_int_equal(ldg_serve_new(&r.s, l, NULL, buf, sizeof buf), 0);
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_WRITE, &hold), 0);
    run_start(&r);
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
    run_stop(&r);
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
    /* (layout 8: the writer waits on LMDB's write lock, which hold takes;
     * at 9 its frames do not) */
    struct ldg_ledger *l = t_ledger_new_layout(dir, sizeof dir, 0, 0, 8);
    struct ldg_serve_options o;
    struct ldg_serve_stats st;
    struct ldg_txn *hold = NULL;
    struct run r;
    size_t len = 0, cap = 200 * 64;
    int a, b;
    (void)state;

    memset(&r, 0, sizeof r);
    memset(&o, 0, sizeof o);
    o.queue_max = 4;
    assert_int_equal(ldg_serve_new(&r.s, l, &o, buf, sizeof buf), 0);
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_WRITE, &hold), 0);
    run_start(&r);
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
    run_stop(&r);
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
    uint64_t size = 0;
    int fd;
    (void)state;

    memset(&r, 0, sizeof r);
    memset(&o, 0, sizeof o);
    o.trim_events = 2 * LDG_SERVE_TRIM_PARTS; /* a part every 2 events */
    assert_int_equal(ldg_serve_new(&r.s, l, &o, buf, sizeof buf), 0);
    run_start(&r);
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
    run_stop(&r);
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

/* ------------------------------------------------ input and the budget -- */

/* Reads one line (without its newline) into line from fd through the
 * buffer *rb (have bytes in it); 0, or -1 when nothing came for
 * timeout_ms or the connection ended. */
struct rbuf {
    char b[8192];
    size_t have;
};
static int
read_line_tm(int fd, struct rbuf *rb, char *line, size_t cap, int timeout_ms)
{
    for (;;) {
        char *nl = memchr(rb->b, '\n', rb->have);
        struct pollfd p = {fd, POLLIN, 0};
        ssize_t k;
        if (nl != NULL) {
            size_t n = (size_t)(nl - rb->b);
            snprintf(line, cap, "%.*s", (int)n, rb->b);
            memmove(rb->b, nl + 1, rb->have - n - 1);
            rb->have -= n + 1;
            return 0;
        }
        if (rb->have == sizeof rb->b || poll(&p, 1, timeout_ms) != 1)
            return -1;
        k = read(fd, rb->b + rb->have, sizeof rb->b - rb->have);
        if (k <= 0)
            return -1;
        rb->have += (size_t)k;
    }
}

/* A client streaming n requests (ids TAG-0, TAG-1, ...) from one thread
 * while another reads the answers and checks them (the checks are
 * counted here and asserted by the test's own thread). noread: it never
 * reads, and sends until the server drops it. */
#define STREAM_PAD "0123456789abcdef0123456789abcdef"
struct stream {
    int fd;
    char tag[16];
    int n, noread;
    pthread_t tx, rx;
    int answered, bad;
    uint64_t last_seq;
    char first_bad[600];
};

static void *
stream_send(void *arg)
{
    struct stream *c = arg;
    char batch[16 * 160];
    size_t len = 0;
    for (int i = 0; i < c->n; i++) {
        len += (size_t)snprintf(batch + len, sizeof batch - len,
                                "{\"type\":\"x.s\",\"body\":{\"i\":%d,"
                                "\"pad\":\"" STREAM_PAD "\"},"
                                "\"id\":\"%s-%d\"}\n",
                                i, c->tag, i);
        if (len > sizeof batch - 160 || i == c->n - 1) {
            /* many lines a send: the server sees lines cut anywhere */
            for (size_t off = 0; off < len;) {
                ssize_t w = send(c->fd, batch + off, len - off, MSG_NOSIGNAL);
                if (w <= 0)
                    return NULL; /* dropped (the non-reader) */
                off += (size_t)w;
            }
            len = 0;
        }
    }
    return NULL;
}

static void *
stream_recv(void *arg)
{
    struct stream *c = arg;
    struct rbuf *rb = calloc(1, sizeof *rb);
    char line[512], want[64];
    while (rb != NULL && c->answered < c->n) {
        uint64_t seq;
        if (read_line_tm(c->fd, rb, line, sizeof line, 15000) < 0) {
            snprintf(c->first_bad, sizeof c->first_bad,
                     "%s: no answer %d within 15 s", c->tag, c->answered);
            c->bad++;
            break;
        }
        snprintf(want, sizeof want, "{\"id\":\"%s-%d\",\"seq\":\"", c->tag,
                 c->answered);
        seq = ack_seq(line);
        if (strncmp(line, want, strlen(want)) != 0 || seq <= c->last_seq) {
            if (c->bad++ == 0)
                snprintf(c->first_bad, sizeof c->first_bad, "%s: answer %d: %s",
                         c->tag, c->answered, line);
        }
        c->last_seq = seq;
        c->answered++;
    }
    free(rb);
    return NULL;
}

static void
stream_start(struct stream *c, const char *path, const char *tag, int n,
             int noread)
{
    memset(c, 0, sizeof *c);
    c->fd = dial(path);
    snprintf(c->tag, sizeof c->tag, "%s", tag);
    c->n = n;
    c->noread = noread;
    assert_int_equal(pthread_create(&c->tx, NULL, stream_send, c), 0);
    if (!noread)
        assert_int_equal(pthread_create(&c->rx, NULL, stream_recv, c), 0);
}

/* Waits for its reader (all answers read, or none for 15 s), then shuts
 * the socket down, which ends a sender still blocked (a non-reader's, or
 * one the server does not read), waits for it and closes the socket. */
static void
stream_join(struct stream *c)
{
    if (!c->noread)
        pthread_join(c->rx, NULL);
    shutdown(c->fd, SHUT_RDWR);
    pthread_join(c->tx, NULL);
    close(c->fd);
}

/* It got every answer, in order. */
static void
stream_check(const struct stream *c)
{
    if (c->bad)
        fail_msg("%s (%d bad answers)", c->first_bad, c->bad);
    assert_int_equal(c->answered, c->n);
}

/* Waits (30 s at most) until the server has held at least n bytes for
 * ms milliseconds on end, by the clock (counting passes of a 1 ms sleep
 * took seconds on a busy box, and the stall rule dropped the client
 * meanwhile). */
static void
wait_held_for(struct ldg_server *s, uint64_t n, int ms)
{
    struct ldg_serve_stats st;
    uint64_t start = ldg_now_mono_ms(), since = 0;
    int held_long = 0;
    while (!held_long && ldg_now_mono_ms() - start < 30000) {
        ldg_serve_stats(s, &st);
        if (st.held < n)
            since = 0;
        else if (since == 0)
            since = ldg_now_mono_ms();
        held_long = since != 0 && ldg_now_mono_ms() - since >= (uint64_t)ms;
        usleep(1000);
    }
    if (!held_long)
        fail_msg("the server never held %llu bytes for %d ms",
                 (unsigned long long)n, ms);
}

/* A connection's input buffer: a line over max_line is answered once it
 * fills the buffer and is skipped to its newline, however many reads it
 * takes; the line after it on the same connection (here in the same
 * write as the over-long line's end) is committed; a line the
 * connection's input ends in the middle of is answered as cut short. */
static void
test_server__an_over_long_line_is_skipped_to_its_newline(void **state)
{
    char dir[256], buf[4096], big[1000];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_serve_options o;
    struct run r;
    const char *tail = "\"}}\n{\"type\":\"x.a\",\"body\":{},\"id\":\"next\"}\n";
    int fd;
    (void)state;

    memset(&r, 0, sizeof r);
    memset(&o, 0, sizeof o);
    o.max_line = 100;
    assert_int_equal(ldg_serve_new(&r.s, l, &o, buf, sizeof buf), 0);
    run_start(&r);
    fd = dial(ldg_serve_path(r.s));
    memset(big, 'x', sizeof big);
    memcpy(big, "{\"type\":\"x.a\",\"body\":{\"s\":\"", 27);
    assert_int_equal(write(fd, big, 500), 500);
    read_lines(fd, buf, sizeof buf, 1); /* answered before its end came */
    assert_string_equal(buf, "{\"error\":\"line 1: longer than 100 bytes: not "
                             "recorded (the rest of the line is skipped)\","
                             "\"code\":65}\n");
    assert_int_equal(write(fd, big + 500, 500), 500);
    assert_int_equal(write(fd, tail, strlen(tail)), (ssize_t)strlen(tail));
    read_lines(fd, buf, sizeof buf, 1);
    assert_string_equal(buf, "{\"id\":\"next\",\"seq\":\"1\"}\n");
    /* a partial line, then the end of the connection's input */
    assert_int_equal(write(fd, "{\"type\":", 8), 8);
    shutdown(fd, SHUT_WR);
    read_lines(fd, buf, sizeof buf, 1);
    assert_string_equal(buf, "{\"error\":\"line 3: cut short (the "
                             "connection's input ended before its newline): "
                             "not recorded\",\"code\":65}\n");
    close(fd);
    run_stop(&r);
    ldg_serve_free(r.s);
    ldg_close(l);
    t_rmrf(dir);
}

/* The budget: with 16 KiB for all connections, six clients streaming at
 * once are read until they hold 16 KiB together, not each up to its own
 * limits (256 requests waiting: 1,536 requests and ~150 KiB); the writer
 * is held in its first group meanwhile (as above) so that what the loop
 * read is certain. Then all of them get every answer, in order, and what
 * was held never passed the budget by more than one read (the buffer a
 * connection reads into is 4 KiB here: lines are short). */
#define BUDGET_SMALL ((size_t)16 << 10)
#define ONE_READ ((size_t)4096)
static void
test_server__the_budget_bounds_all_connections_together(void **state)
{
    char dir[256], buf[4096];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_serve_options o;
    struct ldg_serve_stats st;
    struct ldg_txn *hold = NULL;
    struct stream cs[6];
    struct run r;
    uint64_t size = 0;
    (void)state;

    memset(&r, 0, sizeof r);
    memset(&o, 0, sizeof o);
    o.budget_bytes = BUDGET_SMALL;
    assert_int_equal(ldg_serve_new(&r.s, l, &o, buf, sizeof buf), 0);
    assert_int_equal(ldg_txn_begin(l, LDG_TXN_WRITE, &hold), 0);
    run_start(&r);
    for (int i = 0; i < 6; i++) {
        char tag[8];
        snprintf(tag, sizeof tag, "c%d", i);
        stream_start(&cs[i], ldg_serve_path(r.s), tag, 1500, 0);
    }
    wait_held(r.s, BUDGET_SMALL);
    usleep(200 * 1000); /* time to read more, if it would */
    ldg_serve_stats(r.s, &st);
    assert_true(st.held_peak <= BUDGET_SMALL + ONE_READ);
    /* ~110 bytes a request: about 150 read, far from 6 x 256 */
    assert_true(st.requests < 400);
    assert_true(st.budget_stops >= 1);
    ldg_txn_abort(hold); /* the writer goes on */
    for (int i = 0; i < 6; i++)
        stream_join(&cs[i]);
    for (int i = 0; i < 6; i++)
        stream_check(&cs[i]);
    run_stop(&r);
    ldg_serve_stats(r.s, &st);
    assert_int_equal(st.acked, 6 * 1500);
    assert_int_equal(st.dropped, 0);
    assert_true(st.held_peak <= BUDGET_SMALL + ONE_READ);
    assert_int_equal(st.held, 0);
    ldg_serve_free(r.s);
    assert_int_equal(ldg_size(l, &size), 0);
    assert_true(size == 6 * 1500 + 1); /* and the first event */
    ldg_close(l);
    t_rmrf(dir);
}

/* A client that sends and never reads its answers fills the budget with
 * them (its socket's buffer full, they wait in the server), and then no
 * connection is read any more. Two clients that come then must not wait
 * for it: it is dropped by the stall rule (stall_ms) although its
 * answers are far below out_max, and they get every answer while it is
 * still connected on the test's side. */
static void
test_server__a_client_that_never_reads_does_not_hold_the_budget(void **state)
{
    char dir[256], buf[4096];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_serve_options o;
    struct ldg_serve_stats st;
    struct stream a, b, c;
    struct run r;
    (void)state;

    memset(&r, 0, sizeof r);
    memset(&o, 0, sizeof o);
    o.budget_bytes = BUDGET_SMALL;
    o.stall_ms = 1500; /* past the wait below and b's and c's start */
    assert_int_equal(ldg_serve_new(&r.s, l, &o, buf, sizeof buf), 0);
    run_start(&r);
    stream_start(&a, ldg_serve_path(r.s), "a", 100000, 1);
    /* until its answers hold the budget: nothing moves any more */
    wait_held_for(r.s, BUDGET_SMALL, 100);
    stream_start(&b, ldg_serve_path(r.s), "b", 3000, 0);
    stream_start(&c, ldg_serve_path(r.s), "c", 3000, 0);
    stream_join(&b);
    stream_join(&c);
    ldg_serve_stats(r.s, &st); /* before a is shut down here */
    stream_join(&a);
    stream_check(&b);
    stream_check(&c);
    assert_int_equal(st.dropped, 1);
    assert_true(st.budget_stops >= 1);
    /* Not timed: a client held by a's answers would wait until a is shut
     * down, which is only after b and c have every answer (stream_check:
     * none missing, each within read_line_tm's 15 s), and a was dropped
     * by the stall rule before that (st, read before a is shut down). */
    run_stop(&r);
    ldg_serve_free(r.s);
    ldg_close(l);
    t_rmrf(dir);
}

/* Lines still incomplete can fill the budget by themselves: four clients
 * each send 12 KiB of a line (more than the 16 KiB budget together) and
 * wait before sending its end. Nothing else is held, so nothing would
 * ever be read again; instead the connection with the longest start is
 * read on up to its newline, its event is committed and answered, and
 * then the others. Every client gets its answer. */
static void
test_server__incomplete_lines_at_the_budget_still_complete(void **state)
{
    char dir[256], buf[4096], *line;
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_serve_options o;
    struct ldg_serve_stats st;
    struct run r;
    size_t part = 12 << 10, len;
    int fd[4];
    (void)state;

    memset(&r, 0, sizeof r);
    memset(&o, 0, sizeof o);
    o.budget_bytes = BUDGET_SMALL;
    assert_int_equal(ldg_serve_new(&r.s, l, &o, buf, sizeof buf), 0);
    run_start(&r);
    line = malloc(2 * part);
    assert_non_null(line);
    len = (size_t)snprintf(line, 64, "{\"type\":\"x.a\",\"body\":{\"s\":\"");
    memset(line + len, 'y', 2 * part - len);
    len = part + 1000; /* the whole line, with its end below */
    memcpy(line + len - 4, "\"}}\n", 4);
    for (int i = 0; i < 4; i++) {
        fd[i] = dial(ldg_serve_path(r.s));
        assert_int_equal(write(fd[i], line, part), (ssize_t)part);
    }
    wait_held(r.s, BUDGET_SMALL); /* and then no one is read */
    usleep(100 * 1000);
    for (int i = 0; i < 4; i++)
        assert_int_equal(write(fd[i], line + part, len - part),
                         (ssize_t)(len - part));
    for (int i = 0; i < 4; i++) {
        struct rbuf rb = {.have = 0};
        char ans[512];
        assert_int_equal(read_line_tm(fd[i], &rb, ans, sizeof ans, 15000), 0);
        assert_true(ack_seq(ans) >= 1 && ack_seq(ans) <= 4);
        close(fd[i]);
    }
    free(line);
    run_stop(&r);
    ldg_serve_stats(r.s, &st);
    assert_int_equal(st.acked, 4);
    assert_int_equal(st.dropped, 0);
    assert_true(st.budget_stops >= 1);
    /* past the budget by one read (the buffers grew to 16 KiB for these
     * lines: 8 KiB a read) and the rest of the finisher's line */
    assert_true(st.held_peak <= BUDGET_SMALL + (8 << 10) + len);
    ldg_serve_free(r.s);
    ldg_close(l);
    t_rmrf(dir);
}

/* Issue 29: connections that hold a slot and send nothing. While half
 * of max_conns or more are taken, one that has nothing in flight and
 * sends nothing for idle_ms is closed; with slots to spare an idle writer
 * keeps its connection. One that trickles a line without ever ending it
 * (slowloris) is dropped line_ms after the line's first byte, however
 * often bytes come; a line that ends in time is answered, and a client
 * that sends now and then, each time within idle_ms, keeps its
 * connection. */
static int
closed_within(int fd, int ms)
{
    char b[256];
    struct pollfd p = {fd, POLLIN, 0};
    uint64_t until = ldg_now_mono_ms() + (uint64_t)ms;
    while (ldg_now_mono_ms() < until) {
        if (poll(&p, 1, 50) == 1) {
            ssize_t k = read(fd, b, sizeof b);
            if (k <= 0)
                return 1;
        }
    }
    return 0;
}

static void
test_server__idle_and_slow_connections_are_closed(void **state)
{
    char dir[256], buf[4096], ans[512];
    static const char line[] = "{\"type\":\"x.a\",\"body\":{\"i\":1}}\n";
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_serve_options o;
    struct ldg_serve_stats st;
    struct rbuf rb = {.have = 0};
    struct run r;
    int idle, idle2, slow, ok, sent = 1;
    uint64_t t0;
    (void)state;

    memset(&r, 0, sizeof r);
    memset(&o, 0, sizeof o);
    o.idle_ms = 1500;
    o.line_ms = 1000;
    o.max_conns = 4; /* idle writers are closed at 2 connections or more */
    assert_int_equal(ldg_serve_new(&r.s, l, &o, buf, sizeof buf), 0);
    run_start(&r);
    idle = dial(ldg_serve_path(r.s));
    slow = dial(ldg_serve_path(r.s));
    ok = dial(ldg_serve_path(r.s));
    t0 = ldg_now_mono_ms();
    for (int i = 0; ldg_now_mono_ms() - t0 < 3000; i++) {
        /* the slow one: a byte every 50 ms, never a newline */
        if (send(slow, "{", 1, MSG_NOSIGNAL) != 1 &&
            ldg_now_mono_ms() - t0 < o.line_ms / 2)
            fail_msg("the slow line was dropped before line_ms");
        /* the good one: a line in three parts over 200 ms, about every
         * 500 ms (never idle for idle_ms) */
        if (i % 6 == 0) {
            assert_int_equal(write(ok, line, 10), 10);
            usleep(100 * 1000);
            assert_int_equal(write(ok, line + 10, 10), 10);
            usleep(100 * 1000);
            assert_int_equal(write(ok, line + 20, sizeof line - 21),
                             (ssize_t)(sizeof line - 21));
            assert_int_equal(read_line_tm(ok, &rb, ans, sizeof ans, 5000), 0);
            assert_true(ack_seq(ans) >= 1);
            sent++;
        }
        usleep(50 * 1000);
    }
    /* 3 s on: the slow one was dropped at 1 s, the idle one closed at
     * 1.5 s (3 then 2 connections: half of max_conns); the good one,
     * never idle 1.5 s, is still there */
    assert_true(closed_within(slow, 1000));
    assert_true(closed_within(idle, 1000));
    assert_int_equal(write(ok, line, sizeof line - 1),
                     (ssize_t)(sizeof line - 1));
    assert_int_equal(read_line_tm(ok, &rb, ans, sizeof ans, 5000), 0);
    assert_true(ack_seq(ans) >= 1);
    /* alone, it keeps its connection however long it idles ... */
    assert_false(closed_within(ok, 2500));
    /* ... until slots get scarce: with a second connection (half of
     * max_conns) the one idle for idle_ms is closed; then the other,
     * alone, stays */
    idle2 = dial(ldg_serve_path(r.s));
    assert_true(closed_within(ok, 1000));
    assert_false(closed_within(idle2, 2500));
    close(idle2);
    close(idle);
    close(slow);
    close(ok);
    run_stop(&r);
    ldg_serve_stats(r.s, &st);
    assert_int_equal(st.slow_dropped, 1);
    assert_int_equal(st.idle_closed, 2);
    assert_int_equal(st.dropped, 0);
    assert_int_equal(st.acked, sent);
    ldg_serve_free(r.s);
    ldg_close(l);
    t_rmrf(dir);
}

/* ldg_serve_submit: an in-process writer's events. */
struct ext_wait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, rc;
    size_t appended, duplicates, refused;
    int outcome[4];
    uint64_t seqs[4];
    unsigned differs[4];
    char why[700];
};

static void
ext_done(void *cls, const struct ldg_serve_done *d)
{
    struct ext_wait *w = cls;
    pthread_mutex_lock(&w->mu);
    w->rc = d->rc;
    w->appended = d->appended;
    w->duplicates = d->duplicates;
    w->refused = d->refused;
    for (size_t i = 0; i < d->n && i < 4; i++) {
        w->outcome[i] = d->outcome[i];
        w->seqs[i] = d->seqs[i];
        w->differs[i] = d->differs[i];
    }
    snprintf(w->why, sizeof w->why, "%s", d->why);
    w->done = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void
ext_wait_done(struct ext_wait *w)
{
    pthread_mutex_lock(&w->mu);
    while (!w->done)
        pthread_cond_wait(&w->cv, &w->mu);
    w->done = 0;
    pthread_mutex_unlock(&w->mu);
}

static void
test_server__submit_commits_in_process_events(void **state)
{
    char dir[256], buf[4096];
    struct ldg_ledger *l = t_ledger_new(dir, sizeof dir, 0);
    struct ldg_serve_stats st;
    struct ext_wait w;
    struct ldg_event_in ev[3];
    json_t *b0 = json_pack("{s:i}", "i", 1), *b1 = json_pack("{s:i}", "i", 2);
    json_t *bad = json_pack("{s:i}", "route", 3); /* route must be a string */
    struct run r;
    uint64_t size = 0;
    (void)state;

    memset(&w, 0, sizeof w);
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    memset(ev, 0, sizeof ev);
    ev[0].type = "x.a";
    ev[0].body = b0;
    ev[0].id = "ext-1";
    ev[1].type = "route.decision";
    ev[1].body = bad;
    ev[2].type = "x.a";
    ev[2].body = b1;
    ev[2].id = "ext-2";
    memset(&r, 0, sizeof r);
    assert_int_equal(ldg_serve_new(&r.s, l, NULL, buf, sizeof buf), 0);
    run_start(&r);
    assert_int_equal(ldg_serve_submit(r.s, ev, 3, ext_done, &w), 0);
    ext_wait_done(&w);
    /* one refused (named), the others committed */
    assert_int_equal(w.rc, 0);
    assert_true(w.appended == 2 && w.refused == 1 && w.duplicates == 0);
    assert_true(w.outcome[0] == 0 && w.outcome[1] < 0 && w.outcome[2] == 0);
    assert_true(w.seqs[0] == 1 && w.seqs[2] == 2);
    assert_non_null(strstr(w.why, "event 1: "));
    assert_non_null(strstr(w.why, "route"));
    /* the same ids again: duplicates, nothing appended */
    assert_int_equal(ldg_serve_submit(r.s, ev, 3, ext_done, &w), 0);
    ext_wait_done(&w);
    assert_true(w.appended == 0 && w.duplicates == 2 && w.refused == 1);
    assert_true(w.outcome[0] == 1 && w.seqs[0] == 1 && w.seqs[2] == 2);
    assert_true(w.differs[0] == 0 && w.differs[2] == 0);
    /* an id sent again with another body: a duplicate that says so */
    json_object_set_new(b1, "i", json_integer(3));
    assert_int_equal(ldg_serve_submit(r.s, ev + 2, 1, ext_done, &w), 0);
    ext_wait_done(&w);
    assert_true(w.duplicates == 1 && w.outcome[0] == 1 && w.seqs[0] == 2);
    assert_int_equal(w.differs[0], LDG_DIFF_BODY);
    run_stop(&r);
    /* stopped: the writer takes nothing more */
    assert_int_equal(ldg_serve_submit(r.s, ev, 1, ext_done, &w), LDG_EIO);
    ldg_serve_stats(r.s, &st);
    assert_true(st.acked == 2 && st.duplicates == 3);
    assert_int_equal(ldg_serve_backlog(r.s), 0);
    ldg_serve_free(r.s);
    assert_int_equal(ldg_size(l, &size), 0);
    assert_true(size == 3); /* genesis and the two */
    json_decref(b0);
    json_decref(b1);
    json_decref(bad);
    pthread_mutex_destroy(&w.mu);
    pthread_cond_destroy(&w.cv);
    ldg_close(l);
    t_rmrf(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_server__answers_in_order_and_drains),
        cmocka_unit_test(test_server__a_lone_answer_goes_out_from_the_writer),
        cmocka_unit_test(
            test_server__second_server_on_a_live_socket_is_refused),
        cmocka_unit_test(test_server__drops_its_map_every_trim_events),
        cmocka_unit_test(test_server__connections_share_a_commit),
        cmocka_unit_test(test_server__a_fast_sender_is_held_back),
        cmocka_unit_test(
            test_server__an_over_long_line_is_skipped_to_its_newline),
        cmocka_unit_test(
            test_server__the_budget_bounds_all_connections_together),
        cmocka_unit_test(
            test_server__a_client_that_never_reads_does_not_hold_the_budget),
        cmocka_unit_test(
            test_server__incomplete_lines_at_the_budget_still_complete),
        cmocka_unit_test(test_server__idle_and_slow_connections_are_closed),
        cmocka_unit_test(test_server__submit_commits_in_process_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
