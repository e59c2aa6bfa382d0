/*
 * fs.c — mkdir -p, once for every module that makes directories (the
 * ledger's own, tiles, archives, fleet state).
 */
#include <errno.h>
#include <sys/stat.h>

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
