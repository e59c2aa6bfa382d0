/*
 * clockshift.c — an LD_PRELOAD shim that moves the wall clock, for the
 * tests of what the ledger makes of time that has passed
 * (tests/e2e/doctor_disk_headroom.sh: a log whose events were appended
 * days ago, a log that stopped growing a month ago). Not part of
 * libledger and not linked into any unit test: the scripts build it with
 *
 *     cc -shared -fPIC -o clockshift.so tests/faults/clockshift.c -ldl
 *
 * and run a command with LD_PRELOAD=.../clockshift.so.
 *
 * Environment:
 *   CLOCK_SHIFT_S=N  CLOCK_REALTIME (clock_gettime, also _COARSE),
 *                    gettimeofday and time read N seconds later (earlier
 *                    when N is negative). Unset or 0: the real clock.
 *   CLOCK_SHIFT_FILE=PATH
 *                    N is read from PATH at every read of the clock
 *                    instead (missing or empty: 0), so a test steps the
 *                    wall clock of a process that runs, as NTP does
 *                    (tests/e2e/serve_clock.sh).
 *
 * The monotonic clocks are left alone: timeouts and durations still run
 * at their own pace.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static long long
shift_s(void)
{
    const char *e = getenv("CLOCK_SHIFT_FILE");
    if (e != NULL) {
        char b[32];
        ssize_t n = -1;
        int saved = errno; /* a clock read leaves errno as it was */
        int fd = open(e, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            n = read(fd, b, sizeof b - 1);
            close(fd);
        }
        errno = saved;
        if (n <= 0)
            return 0;
        b[n] = '\0';
        return strtoll(b, NULL, 10);
    }
    e = getenv("CLOCK_SHIFT_S");
    return e != NULL ? strtoll(e, NULL, 10) : 0;
}

int
clock_gettime(clockid_t id, struct timespec *ts)
{
    static int (*real)(clockid_t, struct timespec *);
    int rc;
    if (real == NULL)
        *(void **)&real = dlsym(RTLD_NEXT, "clock_gettime");
    rc = real(id, ts);
    if (rc == 0 && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE))
        ts->tv_sec += (time_t)shift_s();
    return rc;
}

int
gettimeofday(struct timeval *tv, void *tz)
{
    static int (*real)(struct timeval *, void *);
    int rc;
    if (real == NULL)
        *(void **)&real = dlsym(RTLD_NEXT, "gettimeofday");
    rc = real(tv, tz);
    if (rc == 0 && tv != NULL)
        tv->tv_sec += (time_t)shift_s();
    return rc;
}

time_t
time(time_t *t)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (t != NULL)
        *t = ts.tv_sec;
    return ts.tv_sec;
}
