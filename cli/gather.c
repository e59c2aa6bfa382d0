/*
 * gather.c — a reading command's standard output, kept until the command
 * is done (CLI_CMD_GATHER) and written out after it closed the ledger.
 *
 * A read transaction pins the snapshot it reads: while it lasts, LMDB
 * can reuse no page freed since, and every commit grows data.mdb. A
 * command that writes its output while its transaction is open and then
 * blocks on it (a pipe nobody reads, `| less` left open, ctrl-Z) pins its
 * snapshot for as long as it waits: a `ledger show` of a 300 KB event on
 * an unread pipe made data.mdb 22x over 30,000 events (issue 46). So the
 * output goes to memory (up to GATHER_MEM, then to an unlinked temporary
 * file in $TMPDIR or /tmp), and reaches the real standard output only
 * once the command returned, its transactions ended. `query` and `export`
 * stream what can be large on their own terms (cli/cmd_query.c, export
 * --out -) and are not gathered; `verify` gathers in the child that
 * verifies (cmd_verify).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

#define GATHER_MEM (8u << 20) /* bytes kept in memory; more go to a file */

static struct {
    FILE *real; /* the standard output while gathering, else NULL */
    char *mem;
    size_t len, cap;
    int fd;          /* the temporary file, once the output outgrew memory */
    int err;         /* errno of a failure to keep what was written */
    const char *dir; /* where the temporary file goes, for the error */
} g = {NULL, NULL, 0, 0, -1, 0, NULL};

static int
spill(void)
{
    char path[4200];
    g.dir = getenv("TMPDIR");
    if (g.dir == NULL || g.dir[0] == '\0')
        g.dir = "/tmp";
    snprintf(path, sizeof path, "%s/ledger-out.XXXXXX", g.dir);
    if ((g.fd = mkstemp(path)) < 0)
        return -1;
    unlink(path);
    if (ldg_write_all(g.fd, g.mem, g.len, 0) < 0)
        return -1;
    free(g.mem);
    g.mem = NULL;
    g.len = g.cap = 0;
    return 0;
}

static ssize_t
keep(void *cookie, const char *buf, size_t n)
{
    (void)cookie;
    if (g.fd < 0 && g.len + n > GATHER_MEM && spill() < 0) {
        g.err = errno;
        return -1;
    }
    if (g.fd >= 0) {
        if (ldg_write_all(g.fd, buf, n, 0) < 0) {
            g.err = errno;
            return -1;
        }
        return (ssize_t)n;
    }
    if (g.len + n > g.cap) {
        size_t cap = g.cap ? g.cap : 64 * 1024;
        while (cap < g.len + n)
            cap *= 2;
        char *m = realloc(g.mem, cap);
        if (m == NULL) {
            g.err = ENOMEM;
            errno = ENOMEM;
            return -1;
        }
        g.mem = m;
        g.cap = cap;
    }
    memcpy(g.mem + g.len, buf, n);
    g.len += n;
    return (ssize_t)n;
}

void
cli_gather_start(void)
{
    static const cookie_io_functions_t io = {NULL, keep, NULL, NULL};
    FILE *f;
    if (g.real != NULL)
        return;
    fflush(stdout);
    if ((f = fopencookie(NULL, "w", io)) == NULL)
        return; /* written as it comes, then */
    g.real = stdout;
    stdout = f;
}

int
cli_gather_end(const struct cli *c)
{
    char buf[65536];
    const char *dir;
    int err;
    if (g.real == NULL)
        return 0;
    fclose(stdout); /* flushes into keep() */
    stdout = g.real;
    g.real = NULL;
    err = g.err;
    if (err != 0) {
        /* a part of an answer is not the answer: none of it is written */
        if (g.fd >= 0)
            close(g.fd);
        g.fd = -1;
    } else if (g.fd >= 0) {
        ssize_t k = lseek(g.fd, 0, SEEK_SET) < 0 ? -1 : 1;
        while (k > 0 || (k < 0 && errno == EINTR)) {
            if ((k = read(g.fd, buf, sizeof buf)) > 0 &&
                fwrite(buf, 1, (size_t)k, stdout) != (size_t)k)
                break; /* the caller finds stdout's error */
        }
        if (k < 0 && err == 0)
            err = errno;
        close(g.fd);
        g.fd = -1;
    } else if (g.len > 0) {
        fwrite(g.mem, 1, g.len, stdout);
    }
    free(g.mem);
    g.mem = NULL;
    g.len = g.cap = 0;
    g.err = 0;
    dir = g.dir;
    g.dir = NULL;
    if (err == 0)
        return 0;
    if (dir != NULL)
        cli_err(c,
                "cannot keep the output until the command is done: a "
                "temporary file in %s: %s (an output past %u MiB goes to "
                "$TMPDIR, else /tmp); nothing of it is written",
                dir, strerror(err), GATHER_MEM >> 20);
    else
        cli_err(c,
                "cannot keep the output until the command is done: %s; "
                "nothing of it is written",
                strerror(err));
    return err == ENOMEM ? EX_OSERR : EX_IOERR;
}
