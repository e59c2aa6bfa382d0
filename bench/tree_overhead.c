/*
 * tree_overhead.c — what maintaining the Merkle tree and signing a
 * checkpoint per commit costs the bulk ingest path (issue 3: <= 15%).
 *
 *   tree_overhead FILE.jsonl [--rounds N] [--nosync]
 *
 * Ingests FILE into fresh ledgers (in $TMPDIR) alternately as the normal
 * ledger and with the benchmark-only LDG_BENCH_NOTREE flag, N rounds
 * (default 2), and prints the best wall time of each, events/s and the
 * overhead in percent (overhead_pct, the figure of bench/run.sh's row),
 * and the same of the process's CPU time (user + system, all threads:
 * cpu_overhead_pct, the steadier figure on a busy machine). Projections
 * are not attached in either run.
 *
 * What the difference is: since store layout 5 an entry is stored without
 * its prev, which a reader takes from level 0 of the tree (the leaf hash
 * of the event before), so both runs hash every entry and store its leaf
 * hash in the tiles of level 0, as the chain needs (before layout 5 those
 * 32 bytes were in the entry). LDG_BENCH_NOTREE skips the rest: the levels
 * above (their edge and tiles) and, per commit, the root and the signed
 * checkpoint. The overhead is what the tree costs beyond the hash chain.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "ingest/ingest.h"
#include "ledger/module.h"
#include "util/util.h"

static void
rmrf(const char *dir)
{
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
}

/* This process's CPU time so far, user + system, in seconds. */
static double
cpu_s(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static int
one(const char *file, unsigned flags, double *wall, double *cpu,
    uint64_t *events)
{
    struct ldg_options o;
    struct ldg_ingest_opts io;
    struct ldg_ingest_report rep;
    struct ldg_ledger *l = NULL;
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char dir[1024], err[512];
    uint64_t t0;
    double c0;
    FILE *in;
    int rc;

    snprintf(dir, sizeof dir, "%s/treeovh-XXXXXX", tmp);
    if (mkdtemp(dir) == NULL)
        return -1;
    rmrf(dir);
    memset(&o, 0, sizeof o);
    o.flags = flags;
    if ((rc = ldg_init(dir, "bench.local/tree", &o, err, sizeof err)) < 0 ||
        (rc = ldg_open(&l, dir, &o, err, sizeof err)) < 0) {
        fprintf(stderr, "tree_overhead: %s\n", err);
        return -1;
    }
    in = fopen(file, "rb");
    if (in == NULL) {
        perror(file);
        return -1;
    }
    memset(&io, 0, sizeof io);
    t0 = ldg_now_mono_ns();
    c0 = cpu_s();
    rc = ldg_ingest(l, in, &io, &rep);
    *wall = (double)(ldg_now_mono_ns() - t0) / 1e9;
    *cpu = cpu_s() - c0;
    *events = rep.committed;
    fclose(in);
    ldg_close(l);
    rmrf(dir);
    if (rc < 0 && rc != LDG_EBADINPUT) {
        fprintf(stderr, "tree_overhead: ingest failed: %s\n", ldg_strerror(rc));
        return -1;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    double best_tree = 1e30, best_plain = 1e30;
    double cpu_tree = 1e30, cpu_plain = 1e30;
    unsigned extra = 0;
    uint64_t n = 0, n_tree = 0;
    int rounds = 2;

    if (argc < 2) {
        fprintf(stderr, "usage: tree_overhead FILE.jsonl [--rounds N] "
                        "[--nosync]\n");
        return 64;
    }
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc &&
            (rounds = atoi(argv[i + 1])) >= 1)
            i++;
        else if (strcmp(argv[i], "--nosync") == 0)
            extra |= LDG_NOSYNC;
        else {
            fprintf(stderr,
                    "tree_overhead: %s: not an option (--rounds N, "
                    "N >= 1; --nosync)\n",
                    argv[i]);
            return 64;
        }
    }
    for (int r = 0; r < rounds; r++) {
        double w, c;
        if (one(argv[1], extra, &w, &c, &n_tree) < 0)
            return 1;
        if (w < best_tree)
            best_tree = w;
        if (c < cpu_tree)
            cpu_tree = c;
        if (one(argv[1], extra | LDG_BENCH_NOTREE, &w, &c, &n) < 0)
            return 1;
        if (w < best_plain)
            best_plain = w;
        if (c < cpu_plain)
            cpu_plain = c;
        if (n != n_tree || n == 0) {
            fprintf(stderr,
                    "tree_overhead: %llu events stored with the tree, "
                    "%llu without: not the same work\n",
                    (unsigned long long)n_tree, (unsigned long long)n);
            return 1;
        }
    }
    printf("tree_overhead events=%llu with_tree_s=%.3f without_tree_s=%.3f "
           "with_tree_eps=%.0f without_tree_eps=%.0f overhead_pct=%.1f "
           "with_tree_cpu_s=%.3f without_tree_cpu_s=%.3f "
           "cpu_overhead_pct=%.1f\n",
           (unsigned long long)n, best_tree, best_plain, n / best_tree,
           n / best_plain, 100.0 * (best_tree - best_plain) / best_plain,
           cpu_tree, cpu_plain, 100.0 * (cpu_tree - cpu_plain) / cpu_plain);
    return 0;
}
