/*
 * proxy_load.c — the load of the proxy benchmark (bench/proxy.sh): CLIENTS
 * threads, each with one keep-alive HTTP/1.1 connection, sending POST
 * /v1/chat/completions one after another for SECONDS (after a warm-up of a
 * tenth of that), reading each answer whole (Content-Length or chunked).
 *
 *   build/bench/proxy_load HOST:PORT CLIENTS SECONDS [stream]
 *   PROXY_LOAD_HEADER="traceparent: 00-...-01" adds a header to each request
 *
 * Prints one line:
 *   reqs=N rps=R p50_ms=A p99_ms=B ttfb_p50_ms=C errors=E
 * (latency: request written to answer complete; ttfb: to the first byte of
 * the body). An error (refused, closed, a status other than 200) counts,
 * and the client connects again.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_in addr;
static double seconds;
static int streaming;
static volatile int go, stop;

struct worker {
    pthread_t th;
    double *lat, *ttfb;
    size_t n, cap;
    unsigned long errors;
};

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
dial(void)
{
    int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* One request and its whole answer: 0, or -1 (connection unusable). */
static int
one(int fd, const char *req, size_t rl, double *lat, double *ttfb)
{
    static __thread char buf[1 << 16];
    size_t have = 0;
    double t0 = now(), t1 = 0;
    if (write(fd, req, rl) != (ssize_t)rl)
        return -1;
    char *end = NULL;
    for (;;) {
        ssize_t n = read(fd, buf + have, sizeof buf - 1 - have);
        if (n <= 0)
            return -1;
        have += (size_t)n;
        buf[have] = 0;
        if (end == NULL && (end = strstr(buf, "\r\n\r\n")) != NULL) {
            if (strncmp(buf, "HTTP/1.1 200", 12) != 0)
                return -1;
        }
        if (end == NULL)
            continue;
        size_t hdr = (size_t)(end - buf) + 4;
        if (t1 == 0 && have > hdr)
            t1 = now();
        char *cl = strcasestr(buf, "\r\nContent-Length:");
        if (cl != NULL && cl < end) {
            size_t want = strtoul(cl + 17, NULL, 10);
            if (have >= hdr + want)
                break;
        } else if (have >= 5 && memcmp(buf + have - 5, "0\r\n\r\n", 5) == 0) {
            break;
        }
        if (have == sizeof buf - 1) /* keep only the tail */
            return -1;
    }
    *lat = now() - t0;
    *ttfb = t1 ? t1 - t0 : *lat;
    return 0;
}

static void *
run(void *arg)
{
    struct worker *w = arg;
    char req[512];
    const char *body = streaming
                           ? "{\"model\":\"m:1\",\"stream\":true,"
                             "\"messages\":[{\"role\":\"user\",\"content\":"
                             "\"hi\"}]}"
                           : "{\"model\":\"m:1\",\"messages\":[{\"role\":"
                             "\"user\",\"content\":\"hi\"}]}";
    /* PROXY_LOAD_HEADER="Name: value": one more request header (bench/
     * otlp.sh sends a W3C traceparent with it) */
    const char *extra = getenv("PROXY_LOAD_HEADER");
    int rl = snprintf(req, sizeof req,
                      "POST /v1/chat/completions HTTP/1.1\r\nHost: b\r\n"
                      "%s%sContent-Type: application/json\r\nContent-Length: "
                      "%zu\r\n\r\n%s",
                      extra ? extra : "", extra ? "\r\n" : "", strlen(body),
                      body);
    int fd = -1;
    while (!stop) {
        double lat, tt;
        if (fd < 0 && (fd = dial()) < 0) {
            w->errors++;
            usleep(1000);
            continue;
        }
        if (one(fd, req, (size_t)rl, &lat, &tt) < 0) {
            close(fd);
            fd = -1;
            if (go)
                w->errors++;
            continue;
        }
        if (!go)
            continue; /* warm-up */
        if (w->n == w->cap) {
            w->cap = w->cap ? w->cap * 2 : 4096;
            w->lat = realloc(w->lat, w->cap * sizeof *w->lat);
            w->ttfb = realloc(w->ttfb, w->cap * sizeof *w->ttfb);
        }
        w->lat[w->n] = lat;
        w->ttfb[w->n++] = tt;
    }
    if (fd >= 0)
        close(fd);
    return NULL;
}

static int
cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr,
                "usage: proxy_load HOST:PORT CLIENTS SECONDS [stream]\n");
        return 64;
    }
    char host[64];
    const char *colon = strrchr(argv[1], ':');
    if (colon == NULL || (size_t)(colon - argv[1]) >= sizeof host)
        return 64;
    memcpy(host, argv[1], (size_t)(colon - argv[1]));
    host[colon - argv[1]] = 0;
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)atoi(colon + 1));
    inet_pton(AF_INET, host, &addr.sin_addr);
    int nc = atoi(argv[2]);
    seconds = atof(argv[3]);
    streaming = argc > 4 && strcmp(argv[4], "stream") == 0;
    struct worker *w = calloc((size_t)nc, sizeof *w);
    for (int i = 0; i < nc; i++)
        pthread_create(&w[i].th, NULL, run, &w[i]);
    usleep((useconds_t)(seconds * 1e5)); /* warm-up: a tenth */
    double t0 = now();
    go = 1;
    usleep((useconds_t)(seconds * 1e6));
    stop = 1;
    double el = now() - t0;
    size_t total = 0;
    unsigned long errors = 0;
    for (int i = 0; i < nc; i++) {
        pthread_join(w[i].th, NULL);
        total += w[i].n;
        errors += w[i].errors;
    }
    double *all = malloc((total + 1) * sizeof *all);
    double *tt = malloc((total + 1) * sizeof *tt);
    size_t k = 0;
    for (int i = 0; i < nc; i++) {
        memcpy(all + k, w[i].lat, w[i].n * sizeof *all);
        memcpy(tt + k, w[i].ttfb, w[i].n * sizeof *tt);
        k += w[i].n;
    }
    qsort(all, total, sizeof *all, cmp);
    qsort(tt, total, sizeof *tt, cmp);
    printf("reqs=%zu rps=%.0f p50_ms=%.3f p99_ms=%.3f ttfb_p50_ms=%.3f "
           "errors=%lu\n",
           total, (double)total / el, total ? all[total / 2] * 1e3 : 0,
           total ? all[total * 99 / 100] * 1e3 : 0,
           total ? tt[total / 2] * 1e3 : 0, errors);
    return 0;
}
