/*
 * serve_addr.c — `ledger serve`'s addresses and descriptors: an
 * endpoint's address as it is listened on, and the file descriptors its
 * connections need (cli/cmd_serve.c's helpers).
 */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "cli/commands.h"

/* An endpoint's address as listened on: a bare PORT, or localhost:PORT,
 * is loopback IPv4; NULL stays NULL. */
const char *
cli_serve_listen_addr(const char *addr, char *buf, size_t cap)
{
    if (addr == NULL)
        return NULL;
    if (strspn(addr, "0123456789") == strlen(addr))
        snprintf(buf, cap, "127.0.0.1:%s", addr);
    else if (strncmp(addr, "localhost:", 10) == 0)
        snprintf(buf, cap, "127.0.0.1:%s", addr + 10);
    else
        snprintf(buf, cap, "%s", addr);
    return buf;
}

/* 1,000 idle clients need more descriptors than the usual soft limit of
 * 1024: raise it towards the hard limit as far as max_conns needs. */
unsigned
cli_serve_raise_nofile(unsigned want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return want;
    if (rl.rlim_cur < (rlim_t)want + 64) {
        rlim_t n = (rlim_t)want + 64;
        if (rl.rlim_max != RLIM_INFINITY && n > rl.rlim_max)
            n = rl.rlim_max;
        rl.rlim_cur = n;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)want + 64)
        /* 64 kept for the rest (LMDB, receivers, jobs); under a limit
         * of 96, a third of it (32 would need more than a limit of 50) */
        return rl.rlim_cur > 96  ? (unsigned)(rl.rlim_cur - 64)
               : rl.rlim_cur > 3 ? (unsigned)(rl.rlim_cur / 3)
                                 : 1;
    return want;
}
