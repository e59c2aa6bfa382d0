/*
 * serve_load_ep.c — serve_load's load from one thread: the same CLIENTS
 * connections, the same requests, window and timing, driven by one epoll
 * loop instead of a sender and a receiver thread a connection.
 *
 *   serve_load_ep SOCKET CLIENTS EVENTS_PER_CLIENT [WINDOW]
 *
 * Why a second generator: on two cores the load shares the machine with
 * the server it measures. serve_load's 2 x CLIENTS threads, a semaphore
 * and a wake-up for every request, cost ~10 us of CPU an event here
 * (bench/RESULTS.md), a fifth of the box at 50,000 events/s, taken from
 * the server under test and its peer alike. This one writes each
 * connection's window of requests with one write and reads its answers
 * in blocks, so the server gets the rest of the machine. Requests are
 * exactly serve_load's (docs/PROTOCOL.md): x.bench events with ids
 * "b<tag>-K-I", the tag the run's own; answers are checked to be in order, carry that id and a seq.
 * A request's latency is from the write that carried it to the read
 * that brought its answer. Prints the line serve_load prints; exits 1 if
 * any request was refused or a connection broke.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "bench/serve_load.h"

#define LINE_MAX_BYTES 200
#define IN_CAP 65536

struct conn {
    const char *tag; /* the run's, in every id (serve_load.c says why) */
    int fd, k;
    int sent, acked, n;
    uint64_t *sent_ns;
    double *lat_ms;
    char *out;
    size_t out_len, out_off;
    char in[IN_CAP];
    size_t in_len;
    int errors, done;
};

static uint64_t
now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* Formats as many requests as the window allows after what is unsent. */
static void
fill(struct conn *c, int window)
{
    uint64_t t;
    if (c->out_off < c->out_len)
        return; /* the last write is not out yet */
    c->out_len = c->out_off = 0;
    t = now_ns();
    while (c->sent < c->n && c->sent - c->acked < window) {
        int len = snprintf(c->out + c->out_len, LINE_MAX_BYTES + 1,
                           "{\"type\":\"x.bench\",\"body\":{\"client\":%d,"
                           "\"i\":%d,\"msg\":\"step done\"},\"id\":\"b%s-%d-%d\"}"
                           "\n",
                           c->k, c->sent, c->tag, c->k, c->sent);
        c->out_len += (size_t)len;
        c->sent_ns[c->sent++] = t;
    }
}

static int
flush_out(struct conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t w = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
        if (w < 0)
            return errno == EAGAIN ? 0 : -1;
        c->out_off += (size_t)w;
    }
    return 0;
}

/* Takes the complete answer lines read so far. */
static void
answers(struct conn *c)
{
    size_t off = 0;
    uint64_t t = now_ns();
    for (;;) {
        char *nl = memchr(c->in + off, '\n', c->in_len - off);
        char want[80];
        if (nl == NULL)
            break;
        *nl = '\0';
        snprintf(want, sizeof want, "{\"id\":\"b%s-%d-%d\",\"seq\":\"",
                 c->tag, c->k, c->acked);
        if (c->acked >= c->sent ||
            strncmp(c->in + off, want, strlen(want)) != 0) {
            if (c->errors++ == 0)
                fprintf(stderr, "serve_load_ep: client %d: %s\n", c->k,
                        c->in + off);
        }
        if (c->acked < c->n) {
            c->lat_ms[c->acked] = (double)(t - c->sent_ns[c->acked]) / 1e6;
            c->acked++;
        }
        off = (size_t)(nl - c->in) + 1;
    }
    memmove(c->in, c->in + off, c->in_len - off);
    c->in_len -= off;
}

int
main(int argc, char **argv)
{
    int nc, n, window = 64, errors = 0, left, ep;
    char tag[40];
    struct conn *cs;
    double *all, secs;
    uint64_t t0;
    size_t total;
    struct sockaddr_un sa;

    if (argc < 4)
        return load_usage("serve_load_ep");
    nc = atoi(argv[2]);
    n = atoi(argv[3]);
    if (argc > 4)
        window = atoi(argv[4]);
    if (nc < 1 || n < 1 || window < 1 || strlen(argv[1]) >= sizeof sa.sun_path)
        return load_usage("serve_load_ep");
    cs = calloc((size_t)nc, sizeof *cs);
    total = (size_t)nc * (size_t)n;
    all = malloc(total * sizeof *all);
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (cs == NULL || all == NULL || ep < 0)
        return 71;
    load_tag(tag, sizeof tag);
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, argv[1], strlen(argv[1]));
    for (int k = 0; k < nc; k++) {
        struct conn *c = &cs[k];
        struct epoll_event e;
        c->tag = tag;
        c->k = k;
        c->n = n;
        c->sent_ns = calloc((size_t)n, sizeof *c->sent_ns);
        c->lat_ms = all + (size_t)k * (size_t)n;
        c->out = malloc((size_t)window * (LINE_MAX_BYTES + 1));
        c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (c->sent_ns == NULL || c->out == NULL || c->fd < 0)
            return 71;
        if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
            fprintf(stderr, "serve_load_ep: connect %s: %s\n", argv[1],
                    strerror(errno));
            return 1;
        }
        fcntl(c->fd, F_SETFL, O_NONBLOCK);
        e.events = EPOLLIN | EPOLLOUT | EPOLLET;
        e.data.ptr = c;
        epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &e);
    }
    t0 = now_ns();
    for (int k = 0; k < nc; k++) {
        fill(&cs[k], window);
        if (flush_out(&cs[k]) < 0)
            return 1;
    }
    left = nc;
    while (left > 0) {
        struct epoll_event ev[64];
        int m = epoll_wait(ep, ev, 64, 60000);
        if (m <= 0) {
            fprintf(stderr, "serve_load_ep: no answer for 60 s\n");
            errors++;
            break;
        }
        for (int i = 0; i < m; i++) {
            struct conn *c = ev[i].data.ptr;
            if (c->done)
                continue;
            if (ev[i].events & EPOLLIN) {
                for (;;) {
                    ssize_t r = read(c->fd, c->in + c->in_len,
                                     IN_CAP - c->in_len);
                    if (r > 0) {
                        c->in_len += (size_t)r;
                        answers(c);
                        continue;
                    }
                    if (r < 0 && errno == EAGAIN)
                        break;
                    fprintf(stderr, "serve_load_ep: client %d: %s\n", c->k,
                            r == 0 ? "the server closed the connection"
                                   : strerror(errno));
                    c->errors += c->n - c->acked;
                    c->acked = c->n;
                    break;
                }
            }
            if (c->acked >= c->n) {
                c->done = 1;
                left--;
                close(c->fd);
                continue;
            }
            fill(c, window);
            if (flush_out(c) < 0) {
                c->errors += c->n - c->acked;
                c->done = 1;
                left--;
            }
        }
    }
    secs = (double)(now_ns() - t0) / 1e9;
    for (int k = 0; k < nc; k++) {
        errors += cs[k].errors;
        free(cs[k].sent_ns);
        free(cs[k].out);
    }
    load_report(nc, window, all, total, secs, errors);
    free(all);
    free(cs);
    return errors ? 1 : 0;
}
