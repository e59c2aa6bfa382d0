/*
 * projections_overhead.c — what keeping the projections current costs the
 * bulk ingest path, and how fast a rebuild replays the log.
 *
 *   projections_overhead FILE.jsonl [--nosync] [--rounds N]
 *
 * Ingests FILE into two fresh ledgers (in $TMPDIR), one with the
 * projections attached and one without, alternating N rounds (default 1),
 * and prints the best wall time and CPU time of each, the overhead in
 * percent, then times ldg_projections_rebuild on the attached ledger and
 * checks that the rebuilt digests equal the incrementally kept ones.
 * --nosync opens the ledgers without fsync (isolates CPU cost).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "ingest/ingest.h"
#include "ledger/module.h"
#include "util/util.h"
#include "projections/projections.h"

static double
cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static void
rmrf(const char *dir)
{
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
}

/* One ingest; returns events committed, wall and cpu seconds. */
static int
one(const char *file, int attach, int nosync, double *wall, double *cpu,
    uint64_t *events, char *dir_out, size_t dcap)
{
    struct ldg_options o;
    struct ldg_ingest_opts io;
    struct ldg_ingest_report rep;
    struct ldg_ledger *l = NULL;
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char err[512];
    FILE *in;
    double w0, c0;
    int rc;

    snprintf(dir_out, dcap, "%s/projovh-XXXXXX", tmp);
    if (mkdtemp(dir_out) == NULL)
        return -1;
    rmrf(dir_out);
    memset(&o, 0, sizeof o);
    o.flags = nosync ? LDG_NOSYNC : 0;
    if (ldg_init(dir_out, "bench.local/projections", &o, err, sizeof err) < 0 ||
        ldg_open(&l, dir_out, &o, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    if (attach && ldg_projections_attach(l) < 0) {
        fprintf(stderr, "attach: %s\n", ldg_errmsg(l));
        ldg_close(l);
        return -1;
    }
    in = fopen(file, "rb");
    if (in == NULL) {
        perror(file);
        ldg_close(l);
        return -1;
    }
    memset(&io, 0, sizeof io);
    w0 = (double)ldg_now_mono_ns() / 1e9;
    c0 = cpu_s();
    rc = ldg_ingest(l, in, &io, &rep);
    *wall = (double)ldg_now_mono_ns() / 1e9 - w0;
    *cpu = cpu_s() - c0;
    *events = rep.committed;
    fclose(in);
    if (rc < 0)
        fprintf(stderr, "ingest: %s\n", ldg_errmsg(l));
    ldg_close(l);
    return rc < 0 ? -1 : 0;
}

int
main(int argc, char **argv)
{
    double bw[2] = {1e99, 1e99}, bc[2] = {1e99, 1e99};
    uint64_t n = 0;
    int nosync = 0, rounds = 1;
    char dir[2][512] = {"", ""};
    struct ldg_ledger *l;
    struct ldg_options o;
    char err[512];
    json_t *before = NULL, *rep = NULL;
    double w0, c0;

    if (argc < 2) {
        fprintf(stderr, "usage: projections_overhead FILE.jsonl [--nosync] "
                        "[--rounds N]\n");
        return 64;
    }
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--nosync") == 0)
            nosync = 1;
        else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
            rounds = atoi(argv[++i]);
    }
    for (int r = 0; r < rounds; r++) {
        for (int a = 0; a < 2; a++) {
            double w, c;
            if (dir[a][0])
                rmrf(dir[a]);
            if (one(argv[1], a, nosync, &w, &c, &n, dir[a], sizeof dir[a]) < 0)
                return 1;
            if (w < bw[a])
                bw[a] = w;
            if (c < bc[a])
                bc[a] = c;
        }
    }
    printf("events                 %llu%s\n", (unsigned long long)n,
           nosync ? " (no fsync)" : "");
    printf("ingest, no projections %.0f events/s (%.2f s wall, %.2f s cpu)\n",
           (double)n / bw[0], bw[0], bc[0]);
    printf("ingest, projections    %.0f events/s (%.2f s wall, %.2f s cpu)\n",
           (double)n / bw[1], bw[1], bc[1]);
    printf("overhead               %.1f%% wall, %.1f%% cpu (target <= 20%%)\n",
           100.0 * (bw[1] - bw[0]) / bw[0], 100.0 * (bc[1] - bc[0]) / bc[0]);
    memset(&o, 0, sizeof o);
    if (ldg_open(&l, dir[1], &o, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    ldg_projections_list(l, 0, &before);
    w0 = (double)ldg_now_mono_ns() / 1e9;
    c0 = cpu_s();
    if (ldg_projections_rebuild(l, 0, NULL, NULL, &rep) < 0) {
        fprintf(stderr, "rebuild: %s\n", ldg_errmsg(l));
        return 1;
    }
    w0 = (double)ldg_now_mono_ns() / 1e9 - w0;
    c0 = cpu_s() - c0;
    printf("rebuild                %.0f events/s (%.2f s wall, %.2f s cpu)\n",
           (double)(n + 1) / w0, w0, c0);
    {
        size_t i;
        json_t *x;
        int same = 1;
        json_array_foreach(rep, i,
                           x) if (json_is_true(json_object_get(x, "changed")))
            same = 0;
        printf("rebuilt state          %s the incremental state\n",
               same ? "equals" : "DIFFERS FROM");
        if (!same)
            return 1;
    }
    json_decref(before);
    json_decref(rep);
    ldg_close(l);
    rmrf(dir[0]);
    rmrf(dir[1]);
    return 0;
}
