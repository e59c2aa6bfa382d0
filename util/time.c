/*
 * time.c — RFC 3339 time text: the one formatter every view uses, the one
 * parser of RFC 3339 date-times (ingest's "time", the projections' body
 * times) and the civil-date arithmetic under both; and the local time of
 * human output.
 */
#include <stdio.h>
#include <time.h>

#include "util/util.h"

int
ldg_time_rfc3339_base(char *buf, size_t cap, int64_t secs)
{
    time_t t = (time_t)secs;
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL ||
        strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
        return -1;
    return 0;
}

char *
ldg_time_local(char *buf, size_t cap, uint64_t ts_ns)
{
    time_t secs = (time_t)(ts_ns / 1000000000u);
    struct tm tm;
    if (localtime_r(&secs, &tm) == NULL ||
        strftime(buf, cap, "%b %d %H:%M:%S", &tm) == 0)
        snprintf(buf, cap, "?");
    return buf;
}

char *
ldg_time_when(char *buf, size_t cap, uint64_t ts_ns)
{
    time_t secs = (time_t)(ts_ns / 1000000000u), now = time(NULL);
    struct tm tm, tn;

    if (localtime_r(&secs, &tm) != NULL && localtime_r(&now, &tn) != NULL &&
        tm.tm_year != tn.tm_year &&
        strftime(buf, cap, "%b %d %Y %H:%M:%S", &tm) != 0)
        return buf;
    return ldg_time_local(buf, cap, ts_ns);
}

/* ts_ns as RFC 3339 UTC, with its nine fraction digits when frac. */
static char *
rfc3339(char *buf, size_t cap, uint64_t ts_ns, int frac)
{
    char base[32];
    if (ldg_time_rfc3339_base(base, sizeof base,
                              (int64_t)(ts_ns / 1000000000u)) < 0)
        snprintf(buf, cap, "?");
    else if (frac)
        snprintf(buf, cap, "%s.%09lluZ", base,
                 (unsigned long long)(ts_ns % 1000000000u));
    else
        snprintf(buf, cap, "%sZ", base);
    return buf;
}

char *
ldg_time_rfc3339_ns(char *buf, size_t cap, uint64_t ts_ns)
{
    return rfc3339(buf, cap, ts_ns, 1);
}

char *
ldg_time_rfc3339_sec(char *buf, size_t cap, uint64_t ts_ns)
{
    return rfc3339(buf, cap, ts_ns, 0);
}

/* ------------------------------------------------------ civil dates -- */

int64_t
ldg_days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;
    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void
ldg_civil_from_days(int64_t days, int64_t *y, int *m, int *d)
{
    int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
    LDG_ASSERT(*m >= 1 && *m <= 12 && *d >= 1 && *d <= 31);
}

int
ldg_days_in_month(int64_t y, int m)
{
    static const int n[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m < 1 || m > 12)
        return 0;
    if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
        return 29;
    return n[m - 1];
}

/* ---------------------------------------------------------- parsing -- */

/* k decimal digits at s[*i]: 0 with the value, or -1. */
static int
digits(const char *s, size_t n, size_t *i, int k, int *out)
{
    int v = 0;
    if (n - *i < (size_t)k)
        return -1;
    for (int j = 0; j < k; j++) {
        char c = s[*i + (size_t)j];
        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (c - '0');
    }
    *i += (size_t)k;
    *out = v;
    return 0;
}

static int
lit(const char *s, size_t n, size_t *i, char c)
{
    if (*i >= n || s[*i] != c)
        return -1;
    (*i)++;
    return 0;
}

int
ldg_time_parse_rfc3339(const char *s, size_t n, unsigned flags, uint64_t *ns)
{
    int y, mo, d, h, mi, sec, zh = 0, zm = 0, sign = 0;
    uint64_t frac = 0;
    size_t i = 0;
    int64_t t;

    if (s == NULL || ns == NULL)
        return -1;
    if (digits(s, n, &i, 4, &y) || lit(s, n, &i, '-') ||
        digits(s, n, &i, 2, &mo) || lit(s, n, &i, '-') ||
        digits(s, n, &i, 2, &d) || i >= n ||
        !(s[i] == 'T' || s[i] == 't' ||
          (s[i] == ' ' && (flags & LDG_TIME_SPACE))))
        return -1;
    i++;
    if (digits(s, n, &i, 2, &h) || lit(s, n, &i, ':') ||
        digits(s, n, &i, 2, &mi) || lit(s, n, &i, ':') ||
        digits(s, n, &i, 2, &sec))
        return -1;
    if (i < n && s[i] == '.') {
        int nd = 0;
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
            if (nd == 9) {
                if (!(flags & LDG_TIME_LONGFRAC))
                    return -1;
                continue;
            }
            frac = frac * 10 + (uint64_t)(s[i] - '0');
            nd++;
        }
        if (nd == 0)
            return -1;
        for (; nd < 9; nd++)
            frac *= 10;
    }
    if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i < n && (s[i] == '+' || s[i] == '-')) {
        sign = s[i++] == '+' ? 1 : -1;
        if (digits(s, n, &i, 2, &zh) || lit(s, n, &i, ':') ||
            digits(s, n, &i, 2, &zm) || zh > 23 || zm > 59)
            return -1;
    } else {
        return -1;
    }
    if (i != n || mo < 1 || mo > 12 || d < 1 || d > ldg_days_in_month(y, mo) ||
        h > 23 || mi > 59 || sec > 60)
        return -1;
    if (sec == 60) /* a leap second: the last nanosecond of the minute */
        sec = 59, frac = 999999999;
    t = ldg_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec -
        sign * (zh * 3600 + zm * 60);
    if (t < 0) {
        *ns = 0;
        return -2;
    }
    if ((uint64_t)t > (UINT64_MAX - frac) / 1000000000u) {
        *ns = UINT64_MAX;
        return -2;
    }
    *ns = (uint64_t)t * 1000000000u + frac;
    return 0;
}

static uint64_t
clock_ns(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t
ldg_now_wall_ns(void)
{
    return clock_ns(CLOCK_REALTIME);
}

uint64_t
ldg_now_mono_ns(void)
{
    return clock_ns(CLOCK_MONOTONIC);
}

uint64_t
ldg_now_mono_ms(void)
{
    return ldg_now_mono_ns() / 1000000u;
}

struct timespec
ldg_mono_timespec(uint64_t at_ns)
{
    struct timespec ts = {(time_t)(at_ns / 1000000000u),
                          (long)(at_ns % 1000000000u)};
    return ts;
}

struct timespec
ldg_mono_deadline(uint64_t in_ns)
{
    return ldg_mono_timespec(ldg_now_mono_ns() + in_ns);
}

int
ldg_cond_init_mono(pthread_cond_t *cv)
{
    pthread_condattr_t a;
    int rc = pthread_condattr_init(&a);
    if (rc != 0)
        return LDG_ENOMEM;
    /* CLOCK_MONOTONIC is one of the clocks POSIX lets a condition
     * variable wait on, and Linux has it: this cannot fail there */
    rc = pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    if (rc == 0)
        rc = pthread_cond_init(cv, &a);
    pthread_condattr_destroy(&a);
    return rc == 0 ? 0 : LDG_ENOMEM;
}
