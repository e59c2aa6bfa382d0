/*
 * follow.c — waking a follower when the ledger grows.
 *
 * LMDB writes data.mdb in place (pwrite of pages, then the meta page), and
 * at store layout 9 an acknowledgement writes a frame of DIR/intake, so an
 * inotify watch on the ledger directory sees IN_MODIFY on one of the two
 * for every commit by any process. The wait is poll() on the inotify
 * descriptor with a timeout, so a missed or coalesced event costs at most
 * one timeout (the caller rechecks the log size either way). Nothing here
 * spins: between commits the process sleeps in poll().
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "query/query_int.h"
#include "ledger/module.h"
#include "util/util.h"

struct ldg_query_follow {
    int fd; /* inotify, or -1 when unavailable (then: timeouts only) */
};

int
ldg_query_follow_new(struct ldg_query_follow **out, const char *dir)
{
    struct ldg_query_follow *f;
    if (out == NULL || dir == NULL)
        return LDG_EINVAL;
    f = calloc(1, sizeof *f);
    if (f == NULL)
        return LDG_ENOMEM;
    f->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (f->fd >= 0 &&
        inotify_add_watch(f->fd, dir, IN_MODIFY | IN_CLOSE_WRITE) < 0) {
        close(f->fd);
        f->fd = -1; /* fall back to the poll timeout */
    }
    *out = f;
    return 0;
}

/* Reads all pending events; 1 if one of them is about the store's data
 * file or its intake log (data.mdb, intake: ledger/module.h's
 * ldg_store_file_name). */
static int
drain(int fd)
{
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    const char *data = ldg_store_file_name(LDG_FILE_DATA),
               *intake = ldg_store_file_name(LDG_FILE_INTAKE);
    int hit = 0;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0)
            return hit;
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *e = (const struct inotify_event *)p;
            if (e->len > 0 &&
                (strcmp(e->name, data) == 0 || strcmp(e->name, intake) == 0))
                hit = 1;
            p += sizeof *e + e->len;
        }
    }
}

int
ldg_query_follow_wait(struct ldg_query_follow *f, int timeout_ms)
{
    struct pollfd pfd;
    int rc;
    if (f == NULL)
        return LDG_EINVAL;
    if (f->fd < 0) {
        rc = poll(NULL, 0, timeout_ms);
        return rc < 0 && errno != EINTR ? LDG_EIO : 0;
    }
    pfd.fd = f->fd;
    pfd.events = POLLIN;
    pfd.revents = 0;
    rc = poll(&pfd, 1, timeout_ms);
    if (rc < 0)
        return errno == EINTR ? 0 : LDG_EIO;
    if (rc == 0)
        return 0;
    return drain(f->fd);
}

void
ldg_query_follow_free(struct ldg_query_follow *f)
{
    if (f == NULL)
        return;
    if (f->fd >= 0)
        close(f->fd);
    free(f);
}
