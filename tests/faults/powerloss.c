/*
 * powerloss.c — makes the file a power cut may leave behind, from a copy
 * of the file before a run and the log tests/faults/powerlog.c recorded
 * during it (tests/e2e/robust_powerloss.sh).
 *
 *   powerloss LOG BASE count
 *       prints "epochs N acked A": N epochs (the writes between two syncs;
 *       a write on an O_DSYNC fd ends its epoch), A the last sequence
 *       number acknowledged on standard output in the whole run
 *   powerloss LOG BASE OUT MODE E SEED
 *       writes OUT: BASE with every write of epochs 0..E-1 (made durable
 *       by the sync that ended them), and of epoch E what MODE says, SEED
 *       choosing:
 *         prefix   the first r writes, in order (r random in 0..n)
 *         subset   each write or not (in order; a later write wins)
 *         reorder  a random subset, applied in random order
 *         torn     a random subset, and one write of it cut after a
 *                  random number of its 512-byte sectors
 *       and prints "acked A": the last sequence number the process had
 *       printed as committed ("committed_last":"A") by the end of epoch E
 *       (-1: none). Every such ack came after the sync that made it
 *       durable, so A must be in OUT.
 * A disk is assumed to write a 512-byte sector whole or not at all.
 *
 * Two files (powerlog's POWERLOG_FILE2, a record's u16 naming the file):
 * POWERLOSS_BASE2 and POWERLOSS_OUT2 name the second file's copy before
 * the run and its image. A sync makes durable the writes to its own file
 * only: of each file, the writes before its last sync by the end of
 * epoch E-1 are applied, and its writes after that sync, up to the end of
 * epoch E, are the ones MODE chooses from (the two files' together, in
 * the order they were made).
 * POWERLOSS_IGNORE_SYNC=1 treats the log as if nothing had been synced
 * (one epoch): the images a disk that ignores flushes may leave, which
 * must lose acknowledged events; the test uses it to show it would notice.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct rec {
    uint8_t type, dsync;
    uint16_t zero;
    uint32_t len;
    uint64_t off;
};

struct op {
    struct rec r;
    const uint8_t *data;
};

static uint64_t rng;
static uint64_t
next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static uint8_t *
slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *p = NULL;
    size_t cap = 0, n = 0, got;
    if (f == NULL) {
        perror(path);
        exit(2);
    }
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 1 << 20;
            p = realloc(p, cap);
            if (p == NULL)
                exit(2);
        }
        got = fread(p + n, 1, cap - n, f);
        if (got == 0)
            break;
        n += got;
    }
    fclose(f);
    *len = n;
    return p;
}

/* The last "committed_last":"N" in text, or keep *acked. */
static void
scan_ack(const uint8_t *p, size_t n, long long *acked)
{
    static const char key[] = "\"committed_last\":\"";
    for (size_t i = 0; i + sizeof key - 1 < n; i++)
        if (memcmp(p + i, key, sizeof key - 1) == 0)
            *acked = strtoll((const char *)p + i + sizeof key - 1, NULL, 10);
}

static int out_fd[2] = {-1, -1};

static int
fd_of(const struct op *o)
{
    return out_fd[o->r.zero == 1 && out_fd[1] >= 0 ? 1 : 0];
}

static void
apply(int fd, const struct op *o, size_t len)
{
    fd = fd_of(o);
    if (o->r.type == 'T') {
        if (ftruncate(fd, (off_t)o->r.off) != 0)
            exit(2);
        return;
    }
    if (pwrite(fd, o->data, len, (off_t)o->r.off) != (ssize_t)len)
        exit(2);
}

int
main(int argc, char **argv)
{
    size_t loglen, nops = 0, cap = 0, p = 0;
    struct op *ops = NULL;
    uint8_t *log;
    long long acked = -1, epochs = 0, want, cur = 0;
    const char *ign = getenv("POWERLOSS_IGNORE_SYNC");
    int nosync = ign != NULL && strcmp(ign, "1") == 0;

    if (argc != 4 && argc != 7) {
        fprintf(stderr, "usage: powerloss LOG BASE count | LOG BASE OUT "
                        "prefix|subset|reorder|torn EPOCH SEED\n");
        return 2;
    }
    log = slurp(argv[1], &loglen);
    while (p + sizeof(struct rec) <= loglen) {
        struct op o;
        memcpy(&o.r, log + p, sizeof o.r);
        p += sizeof o.r;
        if (p + o.r.len > loglen)
            break; /* a torn log record: the process died writing it */
        o.data = log + p;
        p += o.r.len;
        if (nops == cap) {
            cap = cap ? cap * 2 : 1024;
            ops = realloc(ops, cap * sizeof *ops);
            if (ops == NULL)
                return 2;
        }
        if (nosync && o.r.type == 'S')
            continue;
        if (nosync)
            o.r.dsync = 0;
        ops[nops++] = o;
    }
    if (strcmp(argv[3], "count") == 0) {
        for (size_t i = 0; i < nops; i++) {
            if (ops[i].r.type == 'S' ||
                (ops[i].r.type == 'W' && ops[i].r.dsync))
                epochs++;
            if (ops[i].r.type == 'A')
                scan_ack(ops[i].data, ops[i].r.len, &acked);
        }
        printf("epochs %lld acked %lld\n", epochs + 1, acked);
        return 0;
    }
    {
        const char *mode = argv[4];
        int out;
        size_t blen, first, n = 0;
        uint8_t *base = slurp(argv[2], &blen);
        size_t *pick;

        want = atoll(argv[5]);
        rng = (uint64_t)atoll(argv[6]) * 0x9E3779B97F4A7C15ull + 77;
        out = open(argv[3], O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (out < 0 || write(out, base, blen) != (ssize_t)blen) {
            perror(argv[3]);
            return 2;
        }
        out_fd[0] = out;
        if (getenv("POWERLOSS_BASE2") != NULL &&
            getenv("POWERLOSS_OUT2") != NULL) {
            size_t b2len;
            uint8_t *b2 = slurp(getenv("POWERLOSS_BASE2"), &b2len);
            out_fd[1] = open(getenv("POWERLOSS_OUT2"),
                             O_WRONLY | O_CREAT | O_TRUNC, 0600);
            if (out_fd[1] < 0 ||
                write(out_fd[1], b2, b2len) != (ssize_t)b2len) {
                perror(getenv("POWERLOSS_OUT2"));
                return 2;
            }
            free(b2);
        }
        /* where epoch `want` begins (cut: the index past the sync that
         * ended the one before) and ends (end: its own sync, or the
         * log's end); each file's last sync before the cut */
        size_t i = 0, cut, end, last_sync[2] = {0, 0};
        int synced[2] = {0, 0};
        for (; i < nops && cur < want; i++) {
            if (ops[i].r.type == 'A')
                scan_ack(ops[i].data, ops[i].r.len, &acked);
            if (ops[i].r.type == 'S' ||
                (ops[i].r.type == 'W' && ops[i].r.dsync)) {
                int f = ops[i].r.zero == 1;
                cur++;
                last_sync[f] = i;
                synced[f] = 1;
            }
        }
        cut = i;
        for (; i < nops; i++) {
            if (ops[i].r.type == 'A')
                scan_ack(ops[i].data, ops[i].r.len, &acked);
            if (ops[i].r.type == 'S' ||
                (ops[i].r.type == 'W' && ops[i].r.dsync))
                break;
        }
        end = i < nops ? i : nops - 1;
        (void)cut;
        /* durable: each file's writes up to its last sync */
        for (size_t k = 0; k < nops && k <= end; k++) {
            int f = ops[k].r.zero == 1;
            if ((ops[k].r.type == 'W' || ops[k].r.type == 'T') && synced[f] &&
                k <= last_sync[f])
                apply(out, &ops[k], ops[k].r.len);
        }
        /* the rest, up to the end of epoch `want`: MODE chooses */
        first = 0;
        for (size_t k = 0; k < nops && k <= end; k++) {
            int f = ops[k].r.zero == 1;
            if ((ops[k].r.type == 'W' || ops[k].r.type == 'T') &&
                !(synced[f] && k <= last_sync[f]))
                n++;
        }
        pick = calloc(n ? n : 1, sizeof *pick);
        if (pick == NULL)
            return 2;
        n = 0;
        for (size_t k = 0; k < nops && k <= end; k++) {
            int f = ops[k].r.zero == 1;
            if ((ops[k].r.type == 'W' || ops[k].r.type == 'T') &&
                !(synced[f] && k <= last_sync[f]))
                pick[n++] = k;
        }
        (void)first;
        if (strcmp(mode, "prefix") == 0) {
            size_t r = n ? (size_t)(next() % (n + 1)) : 0;
            for (size_t k = 0; k < r; k++)
                apply(out, &ops[pick[k]], ops[pick[k]].r.len);
        } else if (strcmp(mode, "subset") == 0 ||
                   strcmp(mode, "reorder") == 0 || strcmp(mode, "torn") == 0) {
            size_t m = 0, torn;
            for (size_t k = 0; k < n; k++)
                if (next() & 1)
                    pick[m++] = pick[k];
            if (strcmp(mode, "reorder") == 0)
                for (size_t k = m; k > 1; k--) {
                    size_t j = (size_t)(next() % k), t = pick[k - 1];
                    pick[k - 1] = pick[j];
                    pick[j] = t;
                }
            torn = strcmp(mode, "torn") == 0 && m > 0 ? (size_t)(next() % m)
                                                      : (size_t)-1;
            for (size_t k = 0; k < m; k++) {
                size_t len = ops[pick[k]].r.len;
                if (k == torn && ops[pick[k]].r.type == 'W' && len > 512)
                    len = (size_t)(next() % (len / 512)) * 512;
                apply(out, &ops[pick[k]], len);
            }
        } else {
            fprintf(stderr, "powerloss: unknown mode %s\n", mode);
            return 2;
        }
        if (close(out) != 0 || (out_fd[1] >= 0 && close(out_fd[1]) != 0))
            return 2;
        printf("acked %lld writes %zu\n", acked, n);
        free(pick);
        free(base);
    }
    free(ops);
    free(log);
    return 0;
}
