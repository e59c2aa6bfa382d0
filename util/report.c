/*
 * report.c — how a failure is reported from util/'s tier: the message of a
 * call that reports into its caller's buffer (ldg_errf), and what a
 * broken assertion does in an LDG_DEBUG build. (Apart from error.c, whose
 * functions are the library's API: the program links its own copy of
 * util/ beside libledger.a, and takes only what the API does not give.)
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "util/util.h"

int
ldg_errf(char *err, size_t cap, int rc, const char *fmt, ...)
{
    va_list ap;
    if (err != NULL && cap > 0) {
        va_start(ap, fmt);
        vsnprintf(err, cap, fmt, ap);
        va_end(ap);
    }
    return rc;
}

#ifdef LDG_DEBUG
/* A broken LDG_ASSERT: says so on file descriptor 2 (one write, no stdio:
 * the library does not print, and this is the end of the process) and
 * aborts, for the core dump or the sanitizer's stack. */
_Noreturn void
ldg_assert_fail(const char *cond, const char *file, int line)
{
    char msg[512];
    int n = snprintf(msg, sizeof msg, "ledger: assertion failed: %s (%s:%d)\n",
                     cond, file, line);
    if (n > 0)
        (void)!write(2, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg);
    abort();
}
#endif
