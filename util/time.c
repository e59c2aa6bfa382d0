/*
 * time.c — RFC 3339 time text, the one formatter every view uses.
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
ldg_time_rfc3339_ns(char *buf, size_t cap, uint64_t ts_ns)
{
    char base[32];
    if (ldg_time_rfc3339_base(base, sizeof base,
                              (int64_t)(ts_ns / 1000000000u)) < 0)
        snprintf(buf, cap, "?");
    else
        snprintf(buf, cap, "%s.%09lluZ", base,
                 (unsigned long long)(ts_ns % 1000000000u));
    return buf;
}

char *
ldg_time_rfc3339_sec(char *buf, size_t cap, uint64_t ts_ns)
{
    char base[32];
    if (ldg_time_rfc3339_base(base, sizeof base,
                              (int64_t)(ts_ns / 1000000000u)) < 0)
        snprintf(buf, cap, "?");
    else
        snprintf(buf, cap, "%sZ", base);
    return buf;
}
