/*
 * rss.c — run a command and report its wall time and peak memory.
 *
 *   rss [-o FILE] [-l LABEL] [--] CMD [ARG...]
 *
 * Forks, execs CMD with the same stdin/stdout/stderr, waits for it with
 * wait4() and prints one line
 *
 *   rss label=LABEL status=0 secs=0.012345 maxrss_kb=10240 user=0.010 sys=0.002
 *       write_bytes=409600
 *
 * to stderr, or appends it to FILE with -o (so the command's own stderr
 * stays separate). secs is wall time from just before fork() to just after
 * the child is reaped: a process's whole life, start to exit. maxrss_kb is
 * the child's ru_maxrss (Linux: KiB), which covers the largest of the
 * process and any descendants it waited for. write_bytes is the kernel's
 * count of bytes the child and the descendants it waited for caused to be
 * written (/proc/self/io of this wrapper after the reap: Linux adds a
 * reaped child's I/O accounting to its parent's; -1 where there is no
 * /proc/self/io): page-cache pages dirtied, counted when first dirtied
 * (bench/wear.sh reads it). Exits with the child's status
 * (128 + signal number if it was killed), 127 if it could not be run.
 *
 * Written rather than relying on GNU time(1), which is not always
 * installed and whose format differs between versions.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double
now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double
tv_s(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* write_bytes of /proc/self/io, or -1 */
static long long
write_bytes(void)
{
    char line[128];
    long long v = -1;
    FILE *f = fopen("/proc/self/io", "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "write_bytes: %lld", &v) == 1)
            break;
    fclose(f);
    return v;
}

static void
usage(void)
{
    fprintf(stderr, "usage: rss [-o FILE] [-l LABEL] [--] CMD [ARG...]\n");
    exit(2);
}

int
main(int argc, char **argv)
{
    const char *outpath = NULL, *label = "-";
    int i = 1;
    for (; i < argc; i++) {
        if (!strcmp(argv[i], "-o") && i + 1 < argc) {
            outpath = argv[++i];
        } else if (!strcmp(argv[i], "-l") && i + 1 < argc) {
            label = argv[++i];
        } else if (!strcmp(argv[i], "--")) {
            i++;
            break;
        } else if (argv[i][0] == '-') {
            usage();
        } else {
            break;
        }
    }
    if (i >= argc)
        usage();

    double t0 = now_s();
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "rss: fork: %s\n", strerror(errno));
        return 127;
    }
    if (pid == 0) {
        execvp(argv[i], argv + i);
        fprintf(stderr, "rss: cannot run %s: %s\n", argv[i], strerror(errno));
        _exit(127);
    }

    int status = 0;
    struct rusage ru;
    pid_t r;
    do {
        r = wait4(pid, &status, 0, &ru);
    } while (r < 0 && errno == EINTR);
    double secs = now_s() - t0;
    if (r < 0) {
        fprintf(stderr, "rss: wait4: %s\n", strerror(errno));
        return 127;
    }
    long long wb = write_bytes();
    int code = WIFEXITED(status)     ? WEXITSTATUS(status)
               : WIFSIGNALED(status) ? 128 + WTERMSIG(status)
                                     : 127;

    FILE *out = stderr;
    if (outpath) {
        out = fopen(outpath, "a");
        if (!out) {
            fprintf(stderr, "rss: opening %s: %s\n", outpath, strerror(errno));
            return 127;
        }
    }
    fprintf(out,
            "rss label=%s status=%d secs=%.6f maxrss_kb=%ld user=%.3f "
            "sys=%.3f write_bytes=%lld\n",
            label, code, secs, ru.ru_maxrss, tv_s(ru.ru_utime),
            tv_s(ru.ru_stime), wb);
    if (out != stderr && fclose(out)) {
        fprintf(stderr, "rss: writing %s: %s\n", outpath, strerror(errno));
        return 127;
    }
    return code;
}
