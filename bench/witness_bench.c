/*
 * witness_bench.c — how many checkpoints a witness cosigns a second.
 *
 *   build/bench/witness_bench [LOGS] [CHECKPOINTS] [DIR]
 *
 * Makes LOGS ledgers (default 32) of CHECKPOINTS+1 commits each (default
 * 100; one checkpoint per commit, NOSYNC) in a new directory under DIR
 * (default $TMPDIR or /tmp), a witness trusting all of them, and each
 * log's add-checkpoint bodies old=i -> i+1. Then serves the witness over
 * HTTP on 127.0.0.1 (fleet/witness_http.c) and has one client thread per
 * log (http/, keep-alive) post its log's bodies in order, as a fleet of
 * boxes would; every answer must be 200. Each cosignature is durable
 * before its answer (the witness's journal is fdatasync'd, shared by the
 * requests that arrive together). Prints
 *   "witness_cosign LOGS CHECKPOINTS TOTAL SECONDS PER_SECOND".
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fleet/fleet.h"
#include "http/http.h"
#include "ledger/module.h"
#include "util/util.h"

static volatile int stop;
static volatile unsigned port;
static int per_log;
static char url[128];

struct log {
    char **bodies;
    int failed;
};

static void
ready(void *ctx, unsigned p)
{
    port = p;
}

static void *
serve(void *arg)
{
    struct ldg_witness_serve_options o = {0};
    char err[256];

    o.addr = "127.0.0.1:0";
    o.stop = &stop;
    o.on_ready = ready;
    ldg_witness_serve(arg, &o, err, sizeof err);
    return NULL;
}

static void *
client(void *arg)
{
    struct log *lg = arg;
    struct ldg_http_client *c;
    char err[256];

    ldg_http_client_new(&c);
    for (int i = 0; i < per_log; i++) {
        struct ldg_http_request q = {0};
        struct ldg_http_response r;
        q.method = "POST";
        q.url = url;
        q.body = lg->bodies[i];
        q.body_len = strlen(lg->bodies[i]);
        if (ldg_http_request(c, &q, &r, err, sizeof err) < 0 ||
            r.status != 200) {
            fprintf(stderr, "witness_bench: %s\n", err);
            lg->failed = 1;
        }
        ldg_http_response_release(&r);
    }
    ldg_http_client_free(c);
    return NULL;
}

static int
make_log(const char *dir, int k, char *vkey, size_t cap, struct log *lg)
{
    struct ldg_options opt = {.flags = LDG_NOSYNC};
    struct ldg_ledger *l;
    struct ldg_txn *t;
    char path[4200], origin[64], err[256], *ck = NULL;

    snprintf(path, sizeof path, "%s/log%d", dir, k);
    snprintf(origin, sizeof origin, "bench.example/log%d", k);
    if (ldg_init(path, origin, &opt, err, sizeof err) < 0 ||
        ldg_open(&l, path, &opt, err, sizeof err) < 0) {
        fprintf(stderr, "witness_bench: %s\n", err);
        return -1;
    }
    for (int i = 0; i < per_log; i++) {
        struct ldg_event_in ev = {.type = "x.bench"};
        if (ldg_append(l, &ev, NULL) < 0)
            return -1;
    }
    lg->bodies = calloc((size_t)per_log, sizeof *lg->bodies);
    ldg_txn_begin(l, LDG_TXN_READ, &t);
    ldg_checkpoint_get(t, 1, &ck);
    lg->bodies[0] = malloc(strlen(ck) + 8);
    sprintf(lg->bodies[0], "old 0\n\n%s", ck);
    free(ck);
    for (int i = 1; i < per_log; i++)
        if (ldg_consistency_text(t, (uint64_t)i, (uint64_t)i + 1,
                                 &lg->bodies[i]) < 0)
            return -1;
    ldg_txn_abort(t);
    ldg_verifier_key(l, vkey, cap);
    ldg_close(l);
    return 0;
}

int
main(int argc, char **argv)
{
    int nlogs = argc > 1 ? atoi(argv[1]) : 32;
    const char *base = argc > 3 ? argv[3] : getenv("TMPDIR");
    char dir[4096], wdir[4200], wvkey[600], err[512], (*vkeys)[600];
    struct ldg_witness *w;
    struct log *logs;
    const char **trust;
    pthread_t th, *cl;
    uint64_t t0, t1;
    int failed = 0;

    per_log = argc > 2 ? atoi(argv[2]) : 100;
    snprintf(dir, sizeof dir, "%s/witness-bench.XXXXXX", base ? base : "/tmp");
    if (mkdtemp(dir) == NULL || nlogs < 1 || per_log < 1)
        return 2;
    logs = calloc((size_t)nlogs, sizeof *logs);
    vkeys = calloc((size_t)nlogs, sizeof *vkeys);
    trust = calloc((size_t)nlogs, sizeof *trust);
    cl = calloc((size_t)nlogs, sizeof *cl);
    for (int k = 0; k < nlogs; k++) {
        if (make_log(dir, k, vkeys[k], sizeof vkeys[k], &logs[k]) < 0)
            return 1;
        trust[k] = vkeys[k];
    }
    snprintf(wdir, sizeof wdir, "%s/witness", dir);
    if (ldg_witness_init(wdir, "bench.example/w", wvkey, sizeof wvkey, err,
                         sizeof err) < 0 ||
        ldg_witness_open(&w, wdir, trust, (size_t)nlogs, err, sizeof err) < 0) {
        fprintf(stderr, "witness_bench: %s\n", err);
        return 1;
    }
    pthread_create(&th, NULL, serve, w);
    while (port == 0)
        usleep(1000);
    snprintf(url, sizeof url, "http://127.0.0.1:%u/add-checkpoint", port);
    t0 = ldg_now_mono_ns();
    for (int k = 0; k < nlogs; k++)
        pthread_create(&cl[k], NULL, client, &logs[k]);
    for (int k = 0; k < nlogs; k++) {
        pthread_join(cl[k], NULL);
        failed |= logs[k].failed;
    }
    t1 = ldg_now_mono_ns();
    printf("witness_cosign %d %d %d %.3f %.0f\n", nlogs, per_log,
           nlogs * per_log, (double)(t1 - t0) / 1e9,
           nlogs * per_log / ((double)(t1 - t0) / 1e9));
    stop = 1;
    pthread_join(th, NULL);
    ldg_witness_free(w);
    for (int k = 0; k < nlogs; k++) {
        for (int i = 0; i < per_log; i++)
            free(logs[k].bodies[i]);
        free(logs[k].bodies);
    }
    free(logs);
    free(vkeys);
    free(trust);
    free(cl);
    {
        char cmd[4300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            return 1;
    }
    return failed;
}
