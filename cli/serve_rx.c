/*
 * serve_rx.c — `ledger serve`'s receivers in its status file: a thread
 * that writes their counters (cli/cmd_serve.c's receivers_now) when they
 * changed, at most once a minute (cli/cmd_serve.c's helper).
 *
 * Once a minute, not more: each write is the status file's fsync'd
 * replace (a data block and a journal commit, some 16 KiB on ext4), and
 * a scraped server's counters change at every scrape. What --status
 * prints says when they were counted.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "serve/serve.h"

#define RX_EVERY_S 60

static struct {
    pthread_t thr;
    int started, quit;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct ldg_jobs *jobs;
    json_t *(*now)(void);
} rx = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void *
rx_main(void *arg)
{
    char *last = NULL;
    (void)arg;
    pthread_mutex_lock(&rx.mu);
    while (!rx.quit) {
        struct timespec ts = ldg_mono_deadline(RX_EVERY_S * 1000000000ull);
        while (!rx.quit &&
               pthread_cond_timedwait(&rx.cv, &rx.mu, &ts) != ETIMEDOUT)
            ;
        if (rx.quit)
            break;
        pthread_mutex_unlock(&rx.mu);
        json_t *l = rx.now();
        char *now = json_dumps(l, JSON_COMPACT);
        if (now != NULL && (last == NULL || strcmp(now, last) != 0)) {
            ldg_jobs_receivers(rx.jobs, l); /* changed: written */
            l = NULL;
            free(last);
            last = now;
        } else {
            free(now);
        }
        json_decref(l);
        pthread_mutex_lock(&rx.mu);
    }
    pthread_mutex_unlock(&rx.mu);
    free(last);
    return NULL;
}

void
cli_serve_rx_start(struct ldg_jobs *jobs, json_t *(*now)(void))
{
    rx.jobs = jobs;
    rx.now = now;
    ldg_jobs_receivers(jobs, now());
    if (ldg_cond_init_mono(&rx.cv) == 0 &&
        pthread_create(&rx.thr, NULL, rx_main, NULL) == 0)
        rx.started = 1;
}

void
cli_serve_rx_stop(struct ldg_jobs *jobs, json_t *(*now)(void))
{
    if (rx.started) {
        pthread_mutex_lock(&rx.mu);
        rx.quit = 1;
        pthread_cond_broadcast(&rx.cv);
        pthread_mutex_unlock(&rx.mu);
        pthread_join(rx.thr, NULL);
        rx.started = 0;
    }
    ldg_jobs_receivers(jobs, now());
}
