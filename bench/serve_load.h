/*
 * serve_load.h — what bench/serve_load.c and bench/serve_load_ep.c share:
 * the run's id tag, the usage line and the result line bench/serve.sh
 * reads.
 */
#ifndef BENCH_SERVE_LOAD_H
#define BENCH_SERVE_LOAD_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* A run's ids are its own ("b<tag>-K-I"): a second run against the same
 * server would otherwise be answered "duplicate" from the index and never
 * commit (bench/serve.sh's one-at-a-time figure measured that until the
 * ninth session, bench/RESULTS.md). */
static void
load_tag(char *tag, size_t cap)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    snprintf(tag, cap, "%x.%lx", (unsigned)getpid(),
             (unsigned long)(t.tv_nsec & 0xffffff));
}

/* The usage line, for a missing or bad argument: exit code 64. */
static int
load_usage(const char *prog)
{
    fprintf(stderr, "usage: %s SOCKET CLIENTS EVENTS [WINDOW] (counts >= 1)\n",
            prog);
    return 64;
}

static int
load_cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Sorts the latencies and prints the line serve.sh reads. */
static void
load_report(int clients, int window, double *lat_ms, size_t total, double secs,
            int errors)
{
    qsort(lat_ms, total, sizeof *lat_ms, load_cmp_d);
    printf("serve_load clients=%d window=%d events=%zu secs=%.3f eps=%.0f "
           "p50_ms=%.3f p99_ms=%.3f max_ms=%.3f errors=%d\n",
           clients, window, total, secs, (double)total / secs,
           lat_ms[total / 2], lat_ms[(size_t)((double)total * 0.99)],
           lat_ms[total - 1], errors);
}

#endif
