/*
 * fs.c — mkdir -p, once for every module that makes directories (the
 * ledger's own, tiles, archives, fleet state); and the loop that writes a
 * buffer whole, to a file or a socket.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/util.h"

int
ldg_mkdir_p(char *path, size_t from, int whole, unsigned mode,
            int (*made)(void *ctx, const char *dir), void *ctx)
{
    char *p = path + (from > 0 ? from : path[0] == '/');

    if (path[0] == '\0')
        return 0;
    for (;; p++) {
        char keep = *p;
        int rc = 0;
        if ((keep != '/' && keep != '\0') || (keep == '\0' && !whole)) {
            if (keep == '\0')
                return 0;
            continue;
        }
        *p = '\0';
        if (mkdir(path, (mode_t)mode) == 0)
            rc = made != NULL ? made(ctx, path) : 0;
        else if (errno != EEXIST)
            return -1; /* path cut at the directory that failed */
        *p = keep;
        if (rc != 0 || keep == '\0')
            return rc;
    }
}

int
ldg_write_all(int fd, const void *p, size_t n, int sock)
{
    const uint8_t *c = p;
    while (n > 0) {
        ssize_t w = sock ? send(fd, c, n, MSG_NOSIGNAL) : write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            errno = w == 0 ? EIO : errno;
            return -1;
        }
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

/* The process's umask, read without changing it (umask(2) sets it too,
 * for every thread at once): /proc/self/status's Umask line; 077, the
 * strictest, when that cannot be read. */
static mode_t
current_umask(void)
{
    char line[128];
    unsigned um = 077;
    FILE *f = fopen("/proc/self/status", "re");
    if (f == NULL)
        return 077;
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "Umask: %o", &um) == 1)
            break;
    fclose(f);
    return (mode_t)(um & 0777);
}

int
ldg_tmp_beside(const char *path, unsigned mode, char *tmp, size_t cap)
{
    mode_t um;
    int fd;
    if ((size_t)snprintf(tmp, cap, "%s.XXXXXX", path) >= cap) {
        errno = ENAMETOOLONG;
        return -1;
    }
    if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0)
        return -1;
    um = current_umask();
    if (fchmod(fd, (mode_t)mode & ~um) != 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        errno = e;
        return -1;
    }
    return fd;
}
