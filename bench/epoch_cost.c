/*
 * epoch_cost.c — what forward-secure epoch keys cost (issue 65, item 5).
 *
 *   epoch_cost [--events N] [--every K] [--rounds R]
 *
 * Prints "key=value" figures:
 *
 *   epoch_cpu_us      CPU (user + system) per epoch when periods follow
 *                     each other: the tree's move and the state file
 *                     stored in place (two writes, two fdatasync); over
 *                     4096 epochs (getrusage: 4 ms ticks at worst, so the
 *                     mean over many epochs). The seal's epoch signature
 *                     is not counted: it is made in place of the key's
 *                     own (FORMAT.md 5.1), one a seal with epochs or
 *                     without
 *   epoch_store_cpu_us  of which the state file's store
 *   epoch_user_us     of epoch_cpu_us, the part in user space (the tree's
 *                     signatures and keys; the rest is the kernel's, most
 *                     of it the two fdatasync)
 *   sign_us           one Ed25519 signature on the same machine then: the
 *                     yardstick (an epoch is about 3 of them and a store)
 *   epoch_bytes       bytes an epoch adds to the log: the epoch part of the
 *                     seal that opens it (its certs amortized), with the
 *                     record's bin16 header, less the key's own signature
 *                     (0xc4 0x40 and 64 bytes) it stands in for
 *   seal_bytes        bytes each further seal in the same epoch adds, on
 *                     the same terms
 *   chain_bytes       the certs and links that prove one epoch key of a
 *                     ledger 2^19 periods old (a year of 60 s epochs) from
 *                     its anchor: what a one-event bundle would carry
 *   chain_verify_ms   the time to check them
 *   verify_ratio      `verify --full` events/s of a ledger of N events
 *                     whose log key changes epoch every K events, over the
 *                     same ledger without epochs; best of R rounds each,
 *                     side by side (target >= 0.95)
 *   verify_cpu_ratio  the same by CPU time (all threads): steadier when
 *                     other work shares the machine
 *   cli_verify_ratio, cli_verify_cpu_ratio
 *                     the same for the command `ledger verify --full` (with
 *                     --ledger PATH): what the target names, its
 *                     CPU from wait4; it also checks the body index and
 *                     the projections, work that is the same with epochs
 *                     or without
 *
 * The floor, side by side in the same run (what any design that stores
 * an epoch's secret in place and links it must pay on this machine):
 *
 *   floor_epoch_us    the least an epoch's end can cost, in a loop like
 *                     epoch_cpu_us's: floor_link_us then floor_store_us
 *   floor_link_us     one Ed25519 key pair made from a seed and one
 *                     signature: the least an epoch's end can sign (the
 *                     next key, certified by the current one)
 *   floor_store_us    two writes of a slot's size over a plain file on the
 *                     same file system, each followed by fdatasync: the
 *                     two ordered flushes of a power-safe overwrite in
 *                     place (docs/EPOCHS.md), nothing else
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ledger/crypto_int.h"
#include "ledger/epoch_int.h"
#include "util/util.h"

#define SEC 1000000000ull

static double
cpu_s(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static double
user_s(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
}

static double
now_s(void)
{
    return (double)ldg_now_mono_ns() / 1e9;
}

static void
rmrf(const char *dir)
{
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
}

/* Per epoch: CPU and bytes over n consecutive periods. */
static int
per_epoch(int n)
{
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char dir[1024], path[1100], err[256];
    struct ldg_epoch_state *s = NULL;
    uint8_t map[200], sig[64];
    static uint8_t ext[LDG_EPOCH_EXT_MAX];
    uint64_t bytes = 0, t0 = 1700000000ull * SEC;
    struct ldg_epoch_id prev = {0, 0};
    double c0, cs = 0, c1, u0;

    snprintf(dir, sizeof dir, "%s/epochcost-XXXXXX", tmp);
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(path, sizeof path, "%s/log.epochs", dir);
    memset(map, 0xa5, sizeof map);
    if (ldg_epoch_state_new(&s, t0, 60 * SEC) < 0 ||
        ldg_epoch_file_create(path, s, err, sizeof err) < 0) {
        fprintf(stderr, "epoch_cost: %s\n", err);
        return -1;
    }
    /* (a seal's signature: its bytes, not its CPU, are an epoch's) */
    if (ldg_epoch_seal_sign(s, map, 120, sig) < 0)
        return -1;
    c0 = cpu_s();
    u0 = user_s();
    for (int i = 1; i <= n; i++) {
        unsigned l0;
        int bad = ldg_epoch_advance(s, t0 + (uint64_t)i * 60 * SEC) < 0;
        c1 = cpu_s();
        bad |= ldg_epoch_file_store(path, s, 0, err, sizeof err) < 0;
        cs += cpu_s() - c1;
        if (bad) {
            fprintf(stderr, "epoch_cost: advance %d failed\n", i);
            return -1;
        }
        l0 = ldg_epoch_part_level(prev.period, s->cur.period);
        bytes += 3 + ldg_epoch_ext_encode(ext, s, sig, l0, 0) - 66;
        prev = s->cur;
    }
    c1 = cpu_s();
    u0 = user_s() - u0;
    for (int i = 0; i < n; i++) /* the yardstick: one Ed25519 signature */
        ldg_epoch_seal_sign(s, map, 120, sig);
    printf("epoch_cpu_us=%.1f epoch_store_cpu_us=%.1f epoch_user_us=%.1f "
           "epoch_bytes=%.1f seal_bytes=%d sign_us=%.1f\n",
           (c1 - c0) * 1e6 / n, cs * 1e6 / n, u0 * 1e6 / n, (double)bytes / n,
           3 + 74 - 66, (cpu_s() - c1) * 1e6 / n);
    ldg_epoch_state_free(s);
    rmrf(dir);
    return 0;
}

/* The floor, on the same file system and with the same library: two
 * ordered in-place writes of a slot, each made durable, and one key pair
 * with one signature. */
static int
floor_cost(int n)
{
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char dir[1024], path[1100];
    static uint8_t buf[LDG_EPOCH_SLOT];
    uint8_t seed[32], pub[32], sig[64], msg[LDG_EPOCH_LINK_MSG];
    double c0, store = 0, link = 0;
    int fd;

    snprintf(dir, sizeof dir, "%s/epochfloor-XXXXXX", tmp);
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(path, sizeof path, "%s/f", dir);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    memset(buf, 0x5a, sizeof buf);
    if (fd < 0 || pwrite(fd, buf, sizeof buf, 0) != (ssize_t)sizeof buf ||
        pwrite(fd, buf, sizeof buf, sizeof buf) != (ssize_t)sizeof buf ||
        fdatasync(fd) != 0) {
        fprintf(stderr, "epoch_cost: cannot write %s\n", path);
        return -1;
    }
    memset(seed, 7, sizeof seed);
    memset(msg, 9, sizeof msg);
    c0 = cpu_s();
    for (int i = 0; i < n; i++) {
        double c1;
        seed[0] = (uint8_t)i;
        if (ldg_ed25519_seed_pub(pub, seed) < 0 ||
            ldg_ed25519_seed_sign_ctx(sig, LDG_EPOCH_LINK_CTX, msg, sizeof msg,
                                      seed, pub) < 0)
            return -1;
        c1 = cpu_s();
        link += c1 - c0;
        for (int k = 0; k < 2; k++) {
            buf[0] = (uint8_t)i;
            if (pwrite(fd, buf, sizeof buf, (off_t)k * LDG_EPOCH_SLOT) !=
                    (ssize_t)sizeof buf ||
                fdatasync(fd) != 0)
                return -1;
        }
        c0 = cpu_s();
        store += c0 - c1;
    }
    close(fd);
    rmrf(dir);
    printf("floor_epoch_us=%.1f floor_store_us=%.1f floor_link_us=%.1f\n",
           (store + link) * 1e6 / n, store * 1e6 / n, link * 1e6 / n);
    return 0;
}

/* One epoch key of a ledger 2^19 periods old, from its anchor. */
static int
chain(void)
{
    struct ldg_epoch_state *s = NULL;
    uint64_t t0 = 1700000000ull * SEC;
    uint8_t pub[32];
    char err[256];
    double w0;
    int reps = 20;

    if (ldg_epoch_state_new(&s, t0, 60 * SEC) < 0 ||
        ldg_epoch_advance(s, t0 + 525600ull * 60 * SEC) < 0 ||
        ldg_epoch_advance(s, t0 + 525600ull * 60 * SEC + 5) < 0)
        return -1;
    w0 = now_s();
    for (int i = 0; i < reps; i++)
        if (ldg_epoch_verify(&s->par, s->cur, s->path, s->links, pub, NULL,
                             err, sizeof err) < 0) {
            fprintf(stderr, "epoch_cost: %s\n", err);
            return -1;
        }
    printf("chain_bytes=%u chain_verify_ms=%.2f\n",
           (unsigned)(LDG_EPOCH_DEPTH * 128 + s->cur.sub * 104),
           (now_s() - w0) * 1e3 / reps);
    ldg_epoch_state_free(s);
    return 0;
}

/* A ledger of n events in commits of `every`, each in a new period (an
 * epoch a commit) when epochs is set. */
static int
build(const char *dir, uint64_t n, uint64_t every, int epochs)
{
    struct ldg_options o;
    struct ldg_ledger *l = NULL;
    char err[512];
    uint64_t clock = 2000000000ull * SEC, done = 0;
    int rc;

    memset(&o, 0, sizeof o);
    o.flags = LDG_NOSYNC;
    o.layout = 9; /* epoch keys need it (what init makes) */
    if ((rc = ldg_init(dir, "bench.local/epochs", &o, err, sizeof err)) < 0 ||
        (rc = ldg_open(&l, dir, &o, err, sizeof err)) < 0) {
        fprintf(stderr, "epoch_cost: %s\n", err);
        return -1;
    }
    ldg_set_clock(l, &clock);
    if (epochs && ldg_keys_anchor(l, NULL, 1 * SEC, NULL) < 0) {
        fprintf(stderr, "epoch_cost: %s\n", ldg_errmsg(l));
        ldg_close(l);
        return -1;
    }
    while (done < n) {
        struct ldg_batch *b = NULL;
        json_t *body = json_pack("{s:s, s:i}", "run", "R-1", "k", 1);
        struct ldg_event_in in;
        memset(&in, 0, sizeof in);
        in.type = "x.bench";
        in.body = body;
        clock += 2 * SEC; /* a new period for every commit */
        if ((rc = ldg_batch_begin(&b, l)) < 0)
            break;
        for (uint64_t i = 0; i < every && done < n; i++, done++)
            if ((rc = ldg_batch_add(b, &in)) < 0)
                break;
        if (rc == 0)
            rc = ldg_batch_commit(b, NULL, NULL);
        ldg_batch_free(b);
        json_decref(body);
        if (rc < 0) {
            fprintf(stderr, "epoch_cost: %s\n", ldg_errmsg(l));
            break;
        }
    }
    ldg_close(l);
    return rc < 0 ? -1 : 0;
}

/* events/s of one verify --full, by the wall clock; *cpu_rate by the
 * process's CPU time (all threads), the steadier figure on a busy box */
static double
verify_rate(const char *dir, uint64_t n, double *cpu_rate)
{
    struct ldg_options o;
    struct ldg_ledger *l = NULL;
    struct ldg_verify_report r;
    char err[512];
    double w0, w, c0;
    int rc;

    memset(&o, 0, sizeof o);
    o.flags = LDG_RDONLY;
    if (ldg_open(&l, dir, &o, err, sizeof err) < 0) {
        fprintf(stderr, "epoch_cost: %s\n", err);
        return -1;
    }
    w0 = now_s();
    c0 = cpu_s();
    rc = ldg_verify(l, LDG_VERIFY_FULL | LDG_VERIFY_NOSAVE, 0, &r, NULL, NULL);
    w = now_s() - w0;
    *cpu_rate = (double)n / (cpu_s() - c0);
    ldg_close(l);
    if (rc < 0) {
        fprintf(stderr, "epoch_cost: verify: %s\n", r.what);
        return -1;
    }
    return (double)n / w;
}

/* `ledger --dir DIR verify --full`, its output thrown away: wall seconds,
 * and its CPU seconds (user + system, all threads) from wait4; -1 when it
 * could not be run or did not exit 0. */
static double
cli_verify(const char *ledger, const char *dir, double *cpu)
{
    struct rusage ru;
    double w0 = now_s();
    int st;
    pid_t pid = fork();

    if (pid < 0)
        return -1;
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) {
            dup2(null, 1);
            close(null);
        }
        execl(ledger, ledger, "--dir", dir, "verify", "--full", (char *)NULL);
        _exit(127);
    }
    if (wait4(pid, &st, 0, &ru) != pid || !WIFEXITED(st) ||
        WEXITSTATUS(st) != 0) {
        fprintf(stderr, "epoch_cost: %s --dir %s verify --full failed\n",
                ledger, dir);
        return -1;
    }
    *cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    return now_s() - w0;
}

int
main(int argc, char **argv)
{
    uint64_t n = 1000000, every = 1000;
    int rounds = 3;
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    const char *cli = NULL;
    char a[1024], b[1024];
    double best_a = 0, best_b = 0, cpu_a = 0, cpu_b = 0;

    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--events") == 0)
            n = strtoull(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--every") == 0)
            every = strtoull(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--rounds") == 0)
            rounds = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--ledger") == 0)
            cli = argv[i + 1];
    }
    if (per_epoch(4096) < 0 || floor_cost(4096) < 0 || chain() < 0)
        return 1;
    fflush(stdout);
    snprintf(a, sizeof a, "%s/epochcost-a-XXXXXX", tmp);
    snprintf(b, sizeof b, "%s/epochcost-b-XXXXXX", tmp);
    if (mkdtemp(a) == NULL || mkdtemp(b) == NULL)
        return 1;
    rmrf(a);
    rmrf(b);
    if (build(a, n, every, 0) < 0 || build(b, n, every, 1) < 0)
        return 1;
    for (int r = 0; r < rounds; r++) { /* side by side, alternately */
        double ca, cb, ra = verify_rate(a, n + 1, &ca),
                       rb = verify_rate(b, n + 2, &cb);
        if (ra < 0 || rb < 0)
            return 1;
        best_a = ra > best_a ? ra : best_a;
        best_b = rb > best_b ? rb : best_b;
        cpu_a = ca > cpu_a ? ca : cpu_a;
        cpu_b = cb > cpu_b ? cb : cpu_b;
    }
    printf("verify_plain=%.0f verify_epochs=%.0f verify_ratio=%.3f "
           "verify_cpu_ratio=%.3f events=%llu every=%llu\n",
           best_a, best_b, best_b / best_a, cpu_b / cpu_a,
           (unsigned long long)n, (unsigned long long)every);
    if (cli != NULL) {
        double wa = 1e9, wb = 1e9, ca = 1e9, cb = 1e9;
        for (int r = 0; r < rounds; r++) { /* best of each, alternately */
            double c1, c2, w1 = cli_verify(cli, a, &c1),
                           w2 = cli_verify(cli, b, &c2);
            if (w1 < 0 || w2 < 0)
                return 1;
            wa = w1 < wa ? w1 : wa;
            wb = w2 < wb ? w2 : wb;
            ca = c1 < ca ? c1 : ca;
            cb = c2 < cb ? c2 : cb;
        }
        printf("cli_verify_plain_s=%.3f cli_verify_epochs_s=%.3f "
               "cli_verify_ratio=%.3f cli_verify_cpu_ratio=%.3f\n",
               wa, wb, wa / wb, ca / cb);
    }
    if (getenv("EPOCH_COST_KEEP") != NULL)
        printf("kept %s %s\n", a, b);
    else {
        rmrf(a);
        rmrf(b);
    }
    return 0;
}
