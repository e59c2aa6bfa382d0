/*
 * serve_load.c — load for `ledger serve` and for its SQLite peer
 * (bench/peer_serve.c), which speak the same protocol (docs/PROTOCOL.md).
 *
 *   serve_load SOCKET CLIENTS EVENTS_PER_CLIENT [WINDOW [RATE]]
 *
 * CLIENTS connections each send EVENTS_PER_CLIENT x.bench events with ids
 * unique to the run ("b<tag>-K-I"),
 * keeping at most WINDOW (default 64) unanswered at a time, and time each
 * request from its send to its ack. WINDOW 1 is one event at a time.
 * RATE (events a second, each client) paces the sends: event I is sent no
 * sooner than I / RATE s after the start (a late one goes at once, and
 * the schedule is not caught up by a burst beyond the window); without
 * it, each is sent as soon as the window has room (bench/wear.sh paces
 * lone events at 1, 10, 100 and 1,000 a second).
 * Prints one line on stdout:
 *
 *   serve_load clients=64 events=64000 secs=1.23 eps=52032 p50_ms=0.9
 *       p99_ms=4.1 max_ms=9.0 errors=0
 *
 * Exits 1 if any request was refused or the connection broke.
 */
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench/serve_load.h"

#include "serve/serve.h"
#include "ledger/module.h"
#include "util/util.h"

struct client {
    const char *path;
    const char *tag; /* this run's, in every id: no id of an earlier run */
    int k, n, window;
    double rate;       /* events a second, 0: unpaced */
    uint64_t start_ns; /* monotonic: the schedule's origin */
    struct ldg_client *cl;
    sem_t room;
    uint64_t *sent_ns; /* per event */
    double *lat_ms;
    int errors, send_rc;
};

/* Sleeps until the monotonic clock reads at_ns (ldg_now_mono_ns's clock). */
static void
sleep_until(uint64_t at_ns)
{
    struct timespec t = {(time_t)(at_ns / 1000000000u),
                         (long)(at_ns % 1000000000u)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) != 0)
        ;
}

static void *
sender(void *arg)
{
    struct client *c = arg;
    char line[256];
    for (int i = 0; i < c->n; i++) {
        int len;
        sem_wait(&c->room);
        if (c->rate > 0)
            sleep_until(c->start_ns + (uint64_t)((double)i * 1e9 / c->rate));
        len = snprintf(line, sizeof line,
                       "{\"type\":\"x.bench\",\"body\":{\"client\":%d,"
                       "\"i\":%d,\"msg\":\"step done\"},\"id\":\"b%s-%d-%d\"}",
                       c->k, i, c->tag, c->k, i);
        c->sent_ns[i] = ldg_now_mono_ns();
        if ((c->send_rc = ldg_client_send(c->cl, line, (size_t)len)) < 0)
            break;
    }
    return NULL;
}

static void *
client_main(void *arg)
{
    struct client *c = arg;
    struct ldg_client_answer a;
    char err[300];
    pthread_t th;

    if (ldg_client_connect(&c->cl, NULL, c->path, err, sizeof err) < 0) {
        fprintf(stderr, "serve_load: %s\n", err);
        c->errors = c->n;
        return NULL;
    }
    sem_init(&c->room, 0, (unsigned)c->window);
    pthread_create(&th, NULL, sender, c);
    for (int i = 0; i < c->n; i++) {
        if (ldg_client_wait(c->cl, &a, 60000) < 0) {
            fprintf(stderr, "serve_load: client %d: %s\n", c->k,
                    ldg_client_errmsg(c->cl));
            c->errors += c->n - i;
            break;
        }
        c->lat_ms[i] = (double)(ldg_now_mono_ns() - c->sent_ns[i]) / 1e6;
        if (!a.ok) {
            if (c->errors++ == 0)
                fprintf(stderr, "serve_load: %s\n", a.error);
        }
        sem_post(&c->room);
    }
    pthread_join(th, NULL);
    ldg_client_close(c->cl);
    sem_destroy(&c->room);
    return NULL;
}

static int
usage(void)
{
    fprintf(stderr, "serve_load: a 5th argument, RATE, paces each client "
                    "(events a second, >= 0)\n");
    return load_usage("serve_load");
}

int
main(int argc, char **argv)
{
    int nc, n, window = 64, errors = 0;
    double rate = 0;
    char tag[40];
    struct client *cs;
    pthread_t *th;
    double *all, secs;
    uint64_t t0;
    size_t total;

    if (argc < 4 || argc > 6)
        return usage();
    nc = atoi(argv[2]);
    n = atoi(argv[3]);
    if (argc > 4)
        window = atoi(argv[4]);
    if (argc > 5)
        rate = atof(argv[5]);
    if (nc < 1 || n < 1 || window < 1 || !(rate >= 0))
        return usage();
    cs = calloc((size_t)nc, sizeof *cs);
    th = calloc((size_t)nc, sizeof *th);
    total = (size_t)nc * (size_t)n;
    all = malloc(total * sizeof *all);
    if (cs == NULL || th == NULL || all == NULL)
        return 71;
    load_tag(tag, sizeof tag);
    for (int k = 0; k < nc; k++) {
        cs[k].tag = tag;
        cs[k].path = argv[1];
        cs[k].k = k;
        cs[k].n = n;
        cs[k].window = window;
        cs[k].rate = rate;
        cs[k].sent_ns = calloc((size_t)n, sizeof(uint64_t));
        cs[k].lat_ms = all + (size_t)k * (size_t)n;
    }
    t0 = ldg_now_mono_ns();
    for (int k = 0; k < nc; k++) {
        cs[k].start_ns = t0;
        pthread_create(&th[k], NULL, client_main, &cs[k]);
    }
    for (int k = 0; k < nc; k++) {
        pthread_join(th[k], NULL);
        errors += cs[k].errors + (cs[k].send_rc < 0);
        free(cs[k].sent_ns);
    }
    secs = (double)(ldg_now_mono_ns() - t0) / 1e9;
    load_report(nc, window, all, total, secs, errors);
    free(all);
    free(cs);
    free(th);
    return errors ? 1 : 0;
}
