/*
 * powerlog.c — an LD_PRELOAD shim that records every write a process
 * makes to one file (data.mdb), every sync of it and what it prints on
 * standard output, so tests/faults/powerloss.c can replay prefixes and
 * reorderings of the writes between syncs: the states a disk may be left
 * in by a power cut (tests/e2e/robust_powerloss.sh, make torture). Built
 * by the script with
 *
 *     cc -shared -fPIC -o powerlog.so tests/faults/powerlog.c -ldl
 *
 * Environment:
 *   POWERLOG=path       the log to append to (required)
 *   POWERLOG_FILE=path  the file whose writes are recorded (required; it
 *                       is recognised by device and inode, whatever fd)
 *   POWERLOG_FILE2=path a second file recorded in the same ordered log
 *                       (a ledger's intake log beside its data.mdb)
 *
 * Log records, native byte order: a header
 *   u8 type ('W' write, 'S' sync, 'T' truncate, 'A' stdout), u8 dsync,
 *   u16 file (0: POWERLOG_FILE, 1: POWERLOG_FILE2), u32 len, u64 offset
 * then len bytes (W: the data written at offset; A: the text; T: none,
 * offset = the new size). A write on an fd opened O_DSYNC/O_SYNC (LMDB's
 * meta pages) is durable when it returns: dsync = 1 (a sync after it).
 * Wrapped: write, pwrite, pwrite64, writev, pwritev, pwritev64, fsync,
 * fdatasync, ftruncate, ftruncate64. Each call is done first, then logged
 * for the bytes it wrote, under a lock (the writer and its threads).
 * Standard output is caught at fflush(stdout), which is how `ingest
 * --acks` sends each acknowledgement (stdio's own writes do not go
 * through the wrapped write): the buffered text is logged as 'A' (glibc's
 * FILE buffer pointers), then flushed.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

struct rec {
    uint8_t type, dsync;
    uint16_t zero;
    uint32_t len;
    uint64_t off;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int logfd = -1;
static dev_t fdev, fdev2;
static ino_t fino, fino2;
static int have_file, have_file2;

static ssize_t (*r_write)(int, const void *, size_t);
static ssize_t (*r_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*r_pwrite64)(int, const void *, size_t, off_t);
static ssize_t (*r_writev)(int, const struct iovec *, int);
static ssize_t (*r_pwritev)(int, const struct iovec *, int, off_t);
static ssize_t (*r_pwritev64)(int, const struct iovec *, int, off_t);
static int (*r_fsync)(int);
static int (*r_fdatasync)(int);
static int (*r_ftruncate)(int, off_t);
static int (*r_ftruncate64)(int, off_t);
static int (*r_fflush)(FILE *);

static void
init(void)
{
    const char *log = getenv("POWERLOG"), *file = getenv("POWERLOG_FILE");
    struct stat st;
    *(void **)&r_write = dlsym(RTLD_NEXT, "write");
    *(void **)&r_pwrite = dlsym(RTLD_NEXT, "pwrite");
    *(void **)&r_pwrite64 = dlsym(RTLD_NEXT, "pwrite64");
    *(void **)&r_writev = dlsym(RTLD_NEXT, "writev");
    *(void **)&r_pwritev = dlsym(RTLD_NEXT, "pwritev");
    *(void **)&r_pwritev64 = dlsym(RTLD_NEXT, "pwritev64");
    *(void **)&r_fsync = dlsym(RTLD_NEXT, "fsync");
    *(void **)&r_fdatasync = dlsym(RTLD_NEXT, "fdatasync");
    *(void **)&r_ftruncate = dlsym(RTLD_NEXT, "ftruncate");
    *(void **)&r_ftruncate64 = dlsym(RTLD_NEXT, "ftruncate64");
    *(void **)&r_fflush = dlsym(RTLD_NEXT, "fflush");
    if (log != NULL && file != NULL && stat(file, &st) == 0) {
        const char *file2 = getenv("POWERLOG_FILE2");
        fdev = st.st_dev;
        fino = st.st_ino;
        have_file = 1;
        if (file2 != NULL && stat(file2, &st) == 0) {
            fdev2 = st.st_dev;
            fino2 = st.st_ino;
            have_file2 = 1;
        }
        logfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    }
}

/* Which recorded file fd is: 0 the first, 1 the second, -1 neither. */
static int
which_file(int fd)
{
    struct stat st;
    if (!have_file || logfd < 0 || fd == logfd || fstat(fd, &st) != 0)
        return -1;
    if (st.st_dev == fdev && st.st_ino == fino)
        return 0;
    if (have_file2 && st.st_dev == fdev2 && st.st_ino == fino2)
        return 1;
    return -1;
}

/* Is fd the recorded file? *dsync: opened for synchronous writes. */
static int
is_file(int fd, int *dsync)
{
    int w;
    pthread_once(&once, init);
    if ((w = which_file(fd)) < 0)
        return 0;
    if (dsync != NULL)
        *dsync = 0;
    if (dsync != NULL) {
        int fl = fcntl(fd, F_GETFL);
        *dsync = fl >= 0 && (fl & (O_DSYNC | O_SYNC)) != 0;
    }
    return w + 1;
}

static void
put(const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = r_write(logfd, c, n);
        if (w <= 0)
            abort(); /* a log with a hole would replay wrong states */
        c += w;
        n -= (size_t)w;
    }
}

static void
log_rec(int type, int dsync, uint64_t off, const struct iovec *iov, int n,
        size_t total, int mine)
{
    struct rec r = {(uint8_t)type, (uint8_t)dsync,
                    (uint16_t)(mine > 1 ? mine - 1 : 0), (uint32_t)total, off};
    pthread_mutex_lock(&mu);
    put(&r, sizeof r);
    for (int i = 0; i < n && total > 0; i++) {
        size_t k = iov[i].iov_len < total ? iov[i].iov_len : total;
        put(iov[i].iov_base, k);
        total -= k;
    }
    pthread_mutex_unlock(&mu);
}

static ssize_t
logged_writev(int fd, const struct iovec *iov, int n, off_t off, int at)
{
    int dsync = 0;
    off_t pos = 0;
    int mine = is_file(fd, &dsync);
    ssize_t w;
    if (mine && !at)
        pos = lseek(fd, 0, SEEK_CUR);
    if (at)
        w = r_pwritev ? r_pwritev(fd, iov, n, off) : -1;
    else
        w = r_writev(fd, iov, n);
    if (w > 0 && mine)
        log_rec('W', dsync, (uint64_t)(at ? off : pos), iov, n, (size_t)w,
                mine);
    else if (w > 0 && fd == 1 && logfd >= 0)
        log_rec('A', 0, 0, iov, n, (size_t)w, 0);
    return w;
}

ssize_t
write(int fd, const void *buf, size_t count)
{
    struct iovec v = {(void *)(uintptr_t)buf, count};
    int dsync = 0, mine;
    off_t pos = 0;
    ssize_t w;
    pthread_once(&once, init);
    mine = is_file(fd, &dsync);
    if (mine)
        pos = lseek(fd, 0, SEEK_CUR);
    w = r_write(fd, buf, count);
    if (w > 0 && mine)
        log_rec('W', dsync, (uint64_t)pos, &v, 1, (size_t)w, mine);
    else if (w > 0 && fd == 1 && logfd >= 0)
        log_rec('A', 0, 0, &v, 1, (size_t)w, 0);
    return w;
}

static ssize_t
do_pwrite(ssize_t (*fn)(int, const void *, size_t, off_t), int fd,
          const void *buf, size_t count, off_t off)
{
    struct iovec v = {(void *)(uintptr_t)buf, count};
    int dsync = 0, mine = is_file(fd, &dsync);
    ssize_t w = fn(fd, buf, count, off);
    if (w > 0 && mine)
        log_rec('W', dsync, (uint64_t)off, &v, 1, (size_t)w, mine);
    return w;
}

ssize_t
pwrite(int fd, const void *buf, size_t count, off_t off)
{
    pthread_once(&once, init);
    return do_pwrite(r_pwrite, fd, buf, count, off);
}

ssize_t
pwrite64(int fd, const void *buf, size_t count, off_t off)
{
    pthread_once(&once, init);
    return do_pwrite(r_pwrite64 ? r_pwrite64 : r_pwrite, fd, buf, count, off);
}

ssize_t
writev(int fd, const struct iovec *iov, int n)
{
    pthread_once(&once, init);
    return logged_writev(fd, iov, n, 0, 0);
}

ssize_t
pwritev(int fd, const struct iovec *iov, int n, off_t off)
{
    pthread_once(&once, init);
    return logged_writev(fd, iov, n, off, 1);
}

ssize_t
pwritev64(int fd, const struct iovec *iov, int n, off_t off)
{
    pthread_once(&once, init);
    return logged_writev(fd, iov, n, off, 1);
}

static int
do_sync(int (*fn)(int), int fd)
{
    int mine = is_file(fd, NULL);
    int rc = fn(fd);
    if (rc == 0 && mine)
        log_rec('S', 0, 0, NULL, 0, 0, mine);
    return rc;
}

int
fsync(int fd)
{
    pthread_once(&once, init);
    return do_sync(r_fsync, fd);
}

int
fdatasync(int fd)
{
    pthread_once(&once, init);
    return do_sync(r_fdatasync, fd);
}

static int
do_truncate(int (*fn)(int, off_t), int fd, off_t len)
{
    int mine = is_file(fd, NULL);
    int rc = fn(fd, len);
    if (rc == 0 && mine)
        log_rec('T', 0, (uint64_t)len, NULL, 0, 0, mine);
    return rc;
}

int
ftruncate(int fd, off_t len)
{
    pthread_once(&once, init);
    return do_truncate(r_ftruncate, fd, len);
}

int
ftruncate64(int fd, off_t len)
{
    pthread_once(&once, init);
    return do_truncate(r_ftruncate64 ? r_ftruncate64 : r_ftruncate, fd, len);
}

int
fflush(FILE *f)
{
    pthread_once(&once, init);
    if (f == stdout && logfd >= 0 && f->_IO_write_ptr > f->_IO_write_base) {
        struct iovec v = {f->_IO_write_base,
                          (size_t)(f->_IO_write_ptr - f->_IO_write_base)};
        log_rec('A', 0, 0, &v, 1, v.iov_len, 0);
    }
    return r_fflush(f);
}
