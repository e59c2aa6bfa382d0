/*
 * timespec.c — the time grammar of systemd.time(7), plus RFC 3339.
 *
 * Accepted forms (S is the spec, "now" the caller's clock):
 *
 *   now | today | yesterday | tomorrow [TZ]     midnight in the zone
 *   @SECONDS[.FRACTION]                         since the epoch, UTC
 *   +SPAN | -SPAN | SPAN ago | SPAN left        relative to now
 *   [WEEKDAY] [DATE] [TIME] [TZ]                absolute (date or time)
 *
 *   DATE  YYYY-MM-DD or YY-MM-DD (69..99 = 19YY, else 20YY)
 *   TIME  HH:MM[:SS[.FRACTION]], joined to DATE by a space or 'T'
 *   TZ    UTC | GMT | Z | ±HH[:MM] | ±HHMM | the local zone's names
 *         (tzname[0], tzname[1]); may follow TIME without a space
 *   SPAN  one or more NUMBER[.FRACTION][UNIT], spaces allowed, e.g.
 *         "1h 30min", "1.5h", "90" (no unit = seconds)
 *
 * Units as systemd.time(7): ns nsec, us usec µs, ms msec, s sec second
 * seconds, m min minute minutes, h hr hour hours, d day days, w week
 * weeks, M month months (30.44 days), y year years (365.25 days).
 *
 * Local time is the process's zone (TZ), as systemd uses it. Unlike
 * systemd (which lets mktime normalise "2026-02-30" into March), a date
 * or time that does not exist is refused, and a weekday that does not
 * match the date is refused, as systemd does.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "query/query_int.h"
#include "ledger/module.h"
#include "util/util.h"

#define NS 1000000000ull

struct unit {
    const char *name;
    uint64_t ns;
};

static const struct unit units[] = {
    {"nsec", 1},
    {"ns", 1},
    {"usec", 1000},
    {"us", 1000},
    {"\xc2\xb5s", 1000}, /* µs, MICRO SIGN */
    {"\xce\xbcs", 1000}, /* μs, GREEK SMALL LETTER MU */
    {"msec", 1000000},
    {"ms", 1000000},
    {"seconds", NS},
    {"second", NS},
    {"sec", NS},
    {"s", NS},
    {"minutes", 60 * NS},
    {"minute", 60 * NS},
    {"min", 60 * NS},
    {"m", 60 * NS},
    {"hours", 3600 * NS},
    {"hour", 3600 * NS},
    {"hr", 3600 * NS},
    {"h", 3600 * NS},
    {"days", 86400 * NS},
    {"day", 86400 * NS},
    {"d", 86400 * NS},
    {"weeks", 604800 * NS},
    {"week", 604800 * NS},
    {"w", 604800 * NS},
    {"months", 2629800 * NS},
    {"month", 2629800 * NS},
    {"M", 2629800 * NS},
    {"years", 31557600 * NS},
    {"year", 31557600 * NS},
    {"y", 31557600 * NS},
};

static const char *const wdays[7][2] = {
    {"Sun", "Sunday"},    {"Mon", "Monday"},   {"Tue", "Tuesday"},
    {"Wed", "Wednesday"}, {"Thu", "Thursday"}, {"Fri", "Friday"},
    {"Sat", "Saturday"}};

static int
fail(char *err, size_t cap, const char *spec, const char *why)
{
    if (err != NULL && cap > 0)
        snprintf(err, cap,
                 "bad time '%s': %s (use e.g. '2026-11-20 10:00', "
                 "'yesterday', '-1h', '11min ago', '@1763600000' or "
                 "'2026-11-20T10:00:00Z')",
                 spec, why);
    return LDG_EBADINPUT;
}

static int
is_unit_char(unsigned char c)
{
    return isalpha(c) || c >= 0x80;
}

/* Parses a time span at *p (up to end) into ns. Spaces between parts are
 * allowed. Returns 0, or -1 with *why set. */
static int
parse_span(const char *p, const char *end, uint64_t *out, const char **why)
{
    uint64_t total = 0;
    int parts = 0;

    while (p < end) {
        uint64_t whole = 0, frac = 0, fscale = 1, unit_ns = NS, add, fpart;
        const char *u;
        size_t ulen;
        int digits = 0;

        while (p < end && *p == ' ')
            p++;
        if (p == end)
            break;
        if (!isdigit((unsigned char)*p) && *p != '.') {
            *why = "expected a number in the time span";
            return -1;
        }
        for (; p < end && isdigit((unsigned char)*p); p++, digits++) {
            if (whole > UINT64_MAX / 10 - 1) {
                *why = "time span too large";
                return -1;
            }
            whole = whole * 10 + (uint64_t)(*p - '0');
        }
        if (p < end && *p == '.') {
            p++;
            for (; p < end && isdigit((unsigned char)*p); p++, digits++) {
                if (fscale < NS) {
                    frac = frac * 10 + (uint64_t)(*p - '0');
                    fscale *= 10;
                }
            }
        }
        if (digits == 0) {
            *why = "expected a number in the time span";
            return -1;
        }
        while (p < end && *p == ' ')
            p++;
        u = p;
        while (p < end && is_unit_char((unsigned char)*p))
            p++;
        ulen = (size_t)(p - u);
        if (ulen > 0) {
            size_t i;
            for (i = 0; i < sizeof units / sizeof units[0]; i++)
                if (strlen(units[i].name) == ulen &&
                    memcmp(units[i].name, u, ulen) == 0)
                    break;
            if (i == sizeof units / sizeof units[0]) {
                *why = "unknown time unit (use us, ms, s, min, h, d, w, M, "
                       "y or their long names)";
                return -1;
            }
            unit_ns = units[i].ns;
        }
        if (whole > UINT64_MAX / unit_ns) {
            *why = "time span too large";
            return -1;
        }
        add = whole * unit_ns;
        /* frac/fscale of a unit; unit_ns <= 3.2e16 and frac < 1e9, so
         * compute in long double to avoid overflow, rounding to ns. The
         * part is below one unit, but the sum can still pass 2^64. */
        fpart = (uint64_t)((long double)frac * (long double)unit_ns /
                               (long double)fscale +
                           0.5L);
        if (add > UINT64_MAX - fpart || total > UINT64_MAX - add - fpart) {
            *why = "time span too large";
            return -1;
        }
        total += add + fpart;
        parts++;
    }
    if (parts == 0) {
        *why = "empty time span";
        return -1;
    }
    *out = total;
    return 0;
}

/* Splits s into space-separated tokens (at most max). */
static int
tokenize(char *s, char **tok, int max)
{
    int n = 0;
    char *p = s;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            *p++ = '\0';
        if (*p == '\0')
            return n;
        if (n == max)
            return -1;
        LDG_ASSERT(n < max);
        tok[n++] = p;
        while (*p != '\0' && *p != ' ' && *p != '\t')
            p++;
    }
}

/* Day of week of a civil date (0 = Sunday), Sakamoto's method. */
static int
weekday(int y, int m, int d)
{
    static const int t[12] = {0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4};
    if (m < 3)
        y -= 1;
    return (y + y / 4 - y / 100 + y / 400 + t[m - 1] + d) % 7;
}

enum zone { Z_LOCAL, Z_OFFSET };

struct abs {
    int have_date, have_time, wday; /* wday -1 = none */
    int y, mo, d, h, mi, s;
    uint64_t frac_ns;
    enum zone zone;
    int isdst;      /* for Z_LOCAL: -1 unknown, 0/1 from a zone name */
    int offset_sec; /* for Z_OFFSET: east of UTC */
};

static int
num(const char **p, int ndig, int *out)
{
    int v = 0;
    for (int i = 0; i < ndig; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += ndig;
    *out = v;
    return 0;
}

/* Parses a zone at p (the whole rest). 0 or -1. */
static int
parse_zone(const char *p, struct abs *a)
{
    int hh = 0, mm = 0, sign;
    if (strcmp(p, "UTC") == 0 || strcmp(p, "GMT") == 0 || strcmp(p, "Z") == 0 ||
        strcmp(p, "z") == 0) {
        a->zone = Z_OFFSET;
        a->offset_sec = 0;
        return 0;
    }
    if (*p == '+' || *p == '-') {
        sign = *p == '-' ? -1 : 1;
        p++;
        if (num(&p, 2, &hh) < 0)
            return -1;
        if (*p == ':')
            p++;
        if (*p != '\0' && num(&p, 2, &mm) < 0)
            return -1;
        if (*p != '\0' || hh > 23 || mm > 59)
            return -1;
        a->zone = Z_OFFSET;
        a->offset_sec = sign * (hh * 3600 + mm * 60);
        return 0;
    }
    tzset();
    for (int i = 0; i < 2; i++) {
        if (tzname[i] != NULL && tzname[i][0] != '\0' &&
            strcmp(p, tzname[i]) == 0) {
            a->zone = Z_LOCAL;
            a->isdst = i;
            return 0;
        }
    }
    return -1;
}

/* Parses HH:MM[:SS[.frac]] at *p; stops at the first character that is
 * not part of it (zone follows). */
static int
parse_clock(const char **pp, struct abs *a)
{
    const char *p = *pp;
    if (num(&p, 2, &a->h) < 0 || *p != ':')
        return -1;
    p++;
    if (num(&p, 2, &a->mi) < 0)
        return -1;
    a->s = 0;
    a->frac_ns = 0;
    if (*p == ':') {
        p++;
        if (num(&p, 2, &a->s) < 0)
            return -1;
        if (*p == '.' || *p == ',') {
            uint64_t scale = NS / 10;
            p++;
            if (!isdigit((unsigned char)*p))
                return -1;
            for (; isdigit((unsigned char)*p); p++) {
                a->frac_ns += (uint64_t)(*p - '0') * scale;
                scale /= 10;
            }
        }
    }
    if (a->h > 23 || a->mi > 59 || a->s > 59)
        return -2;
    a->have_time = 1;
    *pp = p;
    return 0;
}

/* Parses YYYY-MM-DD or YY-MM-DD at *p. */
static int
parse_date(const char **pp, struct abs *a)
{
    const char *p = *pp;
    int y;
    if (isdigit((unsigned char)p[0]) && isdigit((unsigned char)p[1]) &&
        isdigit((unsigned char)p[2]) && isdigit((unsigned char)p[3])) {
        if (num(&p, 4, &y) < 0)
            return -1;
    } else {
        if (num(&p, 2, &y) < 0)
            return -1;
        y += y >= 69 ? 1900 : 2000;
    }
    if (*p++ != '-' || num(&p, 2, &a->mo) < 0 || *p++ != '-' ||
        num(&p, 2, &a->d) < 0)
        return -1;
    a->y = y;
    if (a->mo < 1 || a->mo > 12 || a->d < 1 ||
        a->d > ldg_days_in_month(y, a->mo))
        return -2;
    a->have_date = 1;
    *pp = p;
    return 0;
}

static int
parse_wday(const char *t)
{
    for (int i = 0; i < 7; i++)
        if (strcasecmp(t, wdays[i][0]) == 0 || strcasecmp(t, wdays[i][1]) == 0)
            return i;
    return -1;
}

/* Local midnight (or the given clock) of the civil date in the zone. */
static int
abs_to_ns(const struct abs *a, int64_t *secs_out)
{
    if (a->zone == Z_OFFSET) {
        int64_t days = ldg_days_from_civil(a->y, a->mo, a->d);
        *secs_out =
            days * 86400 + a->h * 3600 + a->mi * 60 + a->s - a->offset_sec;
        return 0;
    } else {
        struct tm tm;
        time_t t;
        memset(&tm, 0, sizeof tm);
        tm.tm_year = a->y - 1900;
        tm.tm_mon = a->mo - 1;
        tm.tm_mday = a->d;
        tm.tm_hour = a->h;
        tm.tm_min = a->mi;
        tm.tm_sec = a->s;
        tm.tm_isdst = a->isdst;
        t = mktime(&tm);
        if (t == (time_t)-1) /* an error, or 1969-12-31 23:59:59 UTC */
            return -1;
        *secs_out = (int64_t)t;
        return 0;
    }
}

/* Today's civil date in the zone of a (local or offset). */
static void
today_in_zone(struct abs *a, uint64_t now_ns)
{
    time_t now = (time_t)(now_ns / NS);
    struct tm tm;
    if (a->zone == Z_OFFSET) {
        now += a->offset_sec;
        gmtime_r(&now, &tm);
    } else {
        localtime_r(&now, &tm);
    }
    a->y = tm.tm_year + 1900;
    a->mo = tm.tm_mon + 1;
    a->d = tm.tm_mday;
}

static void
add_days(struct abs *a, int delta)
{
    int64_t y;
    ldg_civil_from_days(ldg_days_from_civil(a->y, a->mo, a->d) + delta, &y,
                        &a->mo, &a->d);
    a->y = (int)y;
}

static int
finish_abs(const char *spec, struct abs *a, uint64_t now_ns, uint64_t *out,
           char *err, size_t cap)
{
    int64_t secs;
    if (!a->have_date)
        today_in_zone(a, now_ns);
    if (a->wday >= 0 && weekday(a->y, a->mo, a->d) != a->wday) {
        char why[96];
        snprintf(why, sizeof why, "%04d-%02d-%02d is a %s, not a %s", a->y,
                 a->mo, a->d, wdays[weekday(a->y, a->mo, a->d)][1],
                 wdays[a->wday][1]);
        return fail(err, cap, spec, why);
    }
    if (abs_to_ns(a, &secs) < 0)
        return fail(err, cap, spec, "not representable in local time");
    if (secs < 0)
        return fail(err, cap, spec, "before 1970-01-01");
    if ((uint64_t)secs > (UINT64_MAX - a->frac_ns) / NS)
        return fail(err, cap, spec, "too far in the future");
    *out = (uint64_t)secs * NS + a->frac_ns;
    return 0;
}

static int
parse_epoch(const char *spec, const char *p, uint64_t *out, char *err,
            size_t cap)
{
    uint64_t secs = 0, frac = 0, scale = NS / 10;
    int digits = 0;
    for (; isdigit((unsigned char)*p); p++, digits++) {
        if (secs > (UINT64_MAX / NS - 10) / 10)
            return fail(err, cap, spec, "too far in the future");
        secs = secs * 10 + (uint64_t)(*p - '0');
    }
    if (digits == 0)
        return fail(err, cap, spec, "'@' must be followed by seconds");
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return fail(err, cap, spec, "digits expected after '.'");
        for (; isdigit((unsigned char)*p); p++) {
            frac += (uint64_t)(*p - '0') * scale;
            scale /= 10;
        }
    }
    if (*p != '\0')
        return fail(err, cap, spec, "trailing characters after the seconds");
    *out = secs * NS + frac;
    return 0;
}

static int
relative(const char *spec, const char *p, const char *end, int sign,
         uint64_t now_ns, uint64_t *out, char *err, size_t cap)
{
    const char *why = NULL;
    uint64_t span;
    if (parse_span(p, end, &span, &why) < 0)
        return fail(err, cap, spec, why);
    if (sign < 0) {
        if (span > now_ns)
            return fail(err, cap, spec, "before 1970-01-01");
        *out = now_ns - span;
    } else {
        if (span > UINT64_MAX - now_ns)
            return fail(err, cap, spec, "too far in the future");
        *out = now_ns + span;
    }
    return 0;
}

/* A spec that is a time span alone ("5s", "2 days"; systemd refuses it
 * too): which way from now is not said, so both ways are named. */
static int
span_alone(const char *spec, size_t n, char *err, size_t cap)
{
    char why[480];
    const char *whyspan = NULL;
    uint64_t span;
    if (parse_span(spec, spec + n, &span, &whyspan) < 0)
        return 0;
    snprintf(why, sizeof why,
             "a time span alone says no direction: '-%s' or '%s ago' is "
             "that long before now, '+%s' after",
             spec, spec, spec);
    fail(err, cap, spec, why);
    return 1;
}

static int
ends_with(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n > k && memcmp(s + n - k, suffix, k) == 0 && s[n - k - 1] == ' ';
}

int
ldg_query_parse_time(const char *spec, uint64_t now_ns, uint64_t *out_ns,
                     char *err, size_t errcap)
{
    char buf[128], *tok[8];
    struct abs a;
    size_t n;
    int ntok, i = 0, rc;

    if (spec == NULL || out_ns == NULL)
        return LDG_EINVAL;
    n = strlen(spec);
    if (n == 0)
        return fail(err, errcap, spec, "empty");
    if (n >= sizeof buf)
        return fail(err, errcap, "...", "too long");
    if (strcmp(spec, "now") == 0) {
        *out_ns = now_ns;
        return 0;
    }
    if (spec[0] == '@')
        return parse_epoch(spec, spec + 1, out_ns, err, errcap);
    if (spec[0] == '+' || spec[0] == '-')
        return relative(spec, spec + 1, spec + n, spec[0] == '-' ? -1 : 1,
                        now_ns, out_ns, err, errcap);
    if (ends_with(spec, n, "ago"))
        return relative(spec, spec, spec + n - 4, -1, now_ns, out_ns, err,
                        errcap);
    if (ends_with(spec, n, "left"))
        return relative(spec, spec, spec + n - 5, 1, now_ns, out_ns, err,
                        errcap);

    memcpy(buf, spec, n + 1);
    ntok = tokenize(buf, tok, 8);
    if (ntok <= 0)
        return fail(err, errcap, spec, ntok == 0 ? "empty" : "too many words");
    memset(&a, 0, sizeof a);
    a.wday = -1;
    a.isdst = -1;
    a.zone = Z_LOCAL;

    /* today / yesterday / tomorrow [TZ] */
    {
        int delta = 2;
        if (strcmp(tok[0], "today") == 0)
            delta = 0;
        else if (strcmp(tok[0], "yesterday") == 0)
            delta = -1;
        else if (strcmp(tok[0], "tomorrow") == 0)
            delta = 1;
        if (delta != 2) {
            if (ntok > 2 || (ntok == 2 && parse_zone(tok[1], &a) < 0))
                return fail(err, errcap, spec,
                            "only a time zone may follow this word");
            today_in_zone(&a, now_ns);
            add_days(&a, delta);
            a.have_date = 1;
            return finish_abs(spec, &a, now_ns, out_ns, err, errcap);
        }
    }

    if (ntok > 1 && (a.wday = parse_wday(tok[0])) >= 0)
        i = 1;
    else
        a.wday = -1;
    for (; i < ntok; i++) {
        const char *p = tok[i];
        if (!a.have_date && !a.have_time && isdigit((unsigned char)p[0]) &&
            (rc = parse_date(&p, &a)) != -1) {
            if (rc == -2)
                return fail(err, errcap, spec, "no such date");
            if (*p == 'T' || *p == 't') {
                p++;
                if ((rc = parse_clock(&p, &a)) < 0)
                    return fail(err, errcap, spec,
                                rc == -2 ? "no such time of day"
                                         : "expected HH:MM after 'T'");
            }
        } else if (!a.have_time && isdigit((unsigned char)p[0])) {
            if ((rc = parse_clock(&p, &a)) < 0 && rc != -2 &&
                span_alone(spec, n, err, errcap))
                return LDG_EBADINPUT;
            if (rc < 0)
                return fail(err, errcap, spec,
                            rc == -2 ? "no such time of day"
                                     : "expected YYYY-MM-DD or HH:MM[:SS]");
        } else if ((a.have_date || a.have_time) && i == ntok - 1) {
            if (parse_zone(p, &a) < 0)
                return fail(err, errcap, spec,
                            "unknown time zone (use UTC, Z, +HH:MM or the "
                            "local zone's name)");
            continue;
        } else if (parse_wday(p) >= 0) {
            return fail(err, errcap, spec,
                        "a weekday must come first and be followed by a "
                        "date or time");
        } else {
            return fail(err, errcap, spec, "not a date, time or known word");
        }
        /* a zone may follow the clock directly: 10:00Z, 10:00+02:00 */
        if (*p != '\0') {
            if (!a.have_time || parse_zone(p, &a) < 0)
                return fail(err, errcap, spec,
                            "unexpected characters after the date or time");
            if (i != ntok - 1)
                return fail(err, errcap, spec,
                            "nothing may follow the time zone");
        }
    }
    if (!a.have_date && !a.have_time)
        return fail(err, errcap, spec, "a date or time is needed");
    return finish_abs(spec, &a, now_ns, out_ns, err, errcap);
}

int
ldg_query_parse_point(const char *spec, uint64_t now_ns, uint64_t *seq,
                      uint64_t *ns, char *err, size_t errcap)
{
    char why[400];
    unsigned long long v;
    size_t n;

    if (spec == NULL || seq == NULL || ns == NULL)
        return LDG_EINVAL;
    n = strlen(spec);
    if (n > 0 && strspn(spec, "0123456789") == n) {
        errno = 0;
        v = strtoull(spec, NULL, 10);
        if (errno == ERANGE || v >= UINT64_MAX) {
            if (err != NULL && errcap > 0)
                snprintf(err, errcap,
                         "'%s': more than any sequence number (2^64-2)", spec);
            return LDG_EBADINPUT;
        }
        *seq = (uint64_t)v;
        return 1;
    }
    /* the grammar's seconds from now: a slip beside sequence numbers */
    if (n > 1 && (spec[0] == '-' || spec[0] == '+') &&
        strspn(spec + 1, "0123456789.") == n - 1) {
        if (err != NULL && errcap > 0)
            snprintf(err, errcap,
                     "'%s': not a sequence number; as a time it needs a "
                     "unit ('%ss', '%smin', '%sd', or 'N days ago')",
                     spec, spec, spec, spec);
        return LDG_EBADINPUT;
    }
    if (ldg_query_parse_time(spec, now_ns, ns, why, sizeof why) == 0)
        return 0;
    if (err != NULL && errcap > 0)
        snprintf(err, errcap,
                 "'%s' is neither a sequence number nor a time (%s)", spec,
                 why);
    return LDG_EBADINPUT;
}

int
ldg_query_parse_at(const char *spec, uint64_t now_ns, uint64_t *seq,
                   uint64_t *ns, char *err, size_t errcap)
{
    char when[LDG_TIME_WHEN_LEN];
    uint64_t t;
    int rc;

    if (ns == NULL)
        return LDG_EINVAL;
    rc = ldg_query_parse_point(spec, now_ns, seq, &t, err, errcap);
    if (rc != 0)
        return rc;
    *ns = t;
    if (t <= now_ns)
        return 0;
    /* the log holds no state after now: not taken as now in silence */
    if (err != NULL && errcap > 0)
        snprintf(err, errcap, "'%s' is in the future (%s)", spec,
                 ldg_time_when(when, sizeof when, t));
    return LDG_EBADINPUT;
}
