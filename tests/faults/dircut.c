/*
 * dircut.c — an LD_PRELOAD shim that cuts the power at one chosen sync
 * point of a process writing files into one directory, and leaves behind
 * the directory a disk may hold then (tests/e2e/retention_powerloss.sh:
 * `ledger archive`). Built by the script with
 *
 *     cc -shared -fPIC -o dircut.so tests/faults/dircut.c -ldl
 *
 * The sync points are the calls that order what reaches the disk: fsync
 * and fdatasync of a file in the directory or of the directory itself,
 * link, linkat, rename, renameat, renameat2, unlink and unlinkat of a
 * name in it, and the process's exit. At the chosen one, before the call
 * is made, the shim writes the image of the directory and kills the
 * process (SIGKILL):
 *
 *   - every name made in it so far is there (a name a link made and no
 *     fsync of the directory has made durable may be there: the image
 *     takes the worst case for a reader, that it is), names unlinked or
 *     renamed away are not; with DIRCUT_NAMES=durable, the names as the
 *     last fsync of the directory left them instead (the worst case for
 *     a writer that counts on a name being there);
 *   - each name holds its file's writes made durable by an fsync of that
 *     file before the cut, in order; of the writes after its last fsync,
 *     DIRCUT_SEED chooses: seed % 4 = 0 none of them, 1 a random subset,
 *     2 a random subset with one of them torn after a random number of
 *     its 512-byte sectors, 3 all of them.
 *
 * A file is known by the first write or sync made on its descriptor (its
 * /proc/self/fd link): an unnamed one (O_TMPFILE) gets a name when linked
 * from /proc/self/fd/N. Files in the directory before the process started
 * are not modelled (the test starts with an empty one). With
 * tests/faults/notmpfile.c preloaded too, the writer takes its named
 * temporary file instead.
 *
 * Environment:
 *   DIRCUT_DIR=path        the directory (required)
 *   DIRCUT_AT=N            cut at the Nth sync point (1-based); 0 or unset:
 *                          count only
 *   DIRCUT_IMAGE=path      an empty directory the image is written into
 *   DIRCUT_SEED=S          chooses the unsynced writes that reach it
 *   DIRCUT_COUNT_FILE=path at exit, "N\n": the sync points seen (the exit
 *                          the last of them)
 *   DIRCUT_NAMES=durable   the image's names are those of the last fsync
 *                          of the directory (none before one)
 *   DIRCUT_IGNORE_SYNC=1   an fsync makes nothing durable (a disk that
 *                          ignores flushes: the test shows it would notice)
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_FILES 64
#define MAX_FDS 4096

struct wr {
    uint64_t off;
    size_t len;
    uint8_t *data;
};

struct file {
    struct wr *w;
    size_t n, cap, synced; /* writes [0, synced) are durable */
};

struct name {
    char base[NAME_MAX + 1];
    int file;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static struct file files[MAX_FILES];
static int nfiles;
static struct name names[MAX_FILES * 2], durable[MAX_FILES * 2];
static int nnames, ndurable;
/* per fd: 0 not looked at (or not ours), -2 the directory, k + 1 file k */
static int fdkind[MAX_FDS];
static char dir[PATH_MAX];
static size_t dirlen;
static long at, count;
static uint64_t rng;
static int ignore_sync, durable_names;
static const char *image, *count_file;

static ssize_t (*r_write)(int, const void *, size_t);
static ssize_t (*r_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*r_pwrite64)(int, const void *, size_t, off_t);
static ssize_t (*r_writev)(int, const struct iovec *, int);
static int (*r_fsync)(int);
static int (*r_fdatasync)(int);
static int (*r_close)(int);
static int (*r_link)(const char *, const char *);
static int (*r_linkat)(int, const char *, int, const char *, int);
static int (*r_rename)(const char *, const char *);
static int (*r_renameat)(int, const char *, int, const char *);
static int (*r_renameat2)(int, const char *, int, const char *, unsigned);
static int (*r_unlink)(const char *);
static int (*r_unlinkat)(int, const char *, int);

static void
init(void)
{
    const char *d = getenv("DIRCUT_DIR"), *s;
    *(void **)&r_write = dlsym(RTLD_NEXT, "write");
    *(void **)&r_pwrite = dlsym(RTLD_NEXT, "pwrite");
    *(void **)&r_pwrite64 = dlsym(RTLD_NEXT, "pwrite64");
    *(void **)&r_writev = dlsym(RTLD_NEXT, "writev");
    *(void **)&r_fsync = dlsym(RTLD_NEXT, "fsync");
    *(void **)&r_fdatasync = dlsym(RTLD_NEXT, "fdatasync");
    *(void **)&r_close = dlsym(RTLD_NEXT, "close");
    *(void **)&r_link = dlsym(RTLD_NEXT, "link");
    *(void **)&r_linkat = dlsym(RTLD_NEXT, "linkat");
    *(void **)&r_rename = dlsym(RTLD_NEXT, "rename");
    *(void **)&r_renameat = dlsym(RTLD_NEXT, "renameat");
    *(void **)&r_renameat2 = dlsym(RTLD_NEXT, "renameat2");
    *(void **)&r_unlink = dlsym(RTLD_NEXT, "unlink");
    *(void **)&r_unlinkat = dlsym(RTLD_NEXT, "unlinkat");
    if (d == NULL || realpath(d, dir) == NULL) {
        dir[0] = '\0';
        return;
    }
    dirlen = strlen(dir);
    at = (s = getenv("DIRCUT_AT")) ? atol(s) : 0;
    rng = (s = getenv("DIRCUT_SEED")) ? strtoull(s, NULL, 10) : 0;
    ignore_sync = getenv("DIRCUT_IGNORE_SYNC") != NULL;
    durable_names = (s = getenv("DIRCUT_NAMES")) && strcmp(s, "durable") == 0;
    image = getenv("DIRCUT_IMAGE");
    count_file = getenv("DIRCUT_COUNT_FILE");
}

static void
setup(void)
{
    pthread_once(&once, init);
}

static uint64_t
next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* The name path has in the directory (absolute paths only), or NULL. */
static const char *
in_dir(const char *path)
{
    if (dir[0] == '\0' || path == NULL || strncmp(path, dir, dirlen) != 0 ||
        path[dirlen] != '/' || strchr(path + dirlen + 1, '/') != NULL)
        return NULL;
    return path + dirlen + 1;
}

static int
is_dir(const char *path)
{
    return dir[0] != '\0' && path != NULL && strcmp(path, dir) == 0;
}

static int
name_find(const char *base)
{
    for (int i = 0; i < nnames; i++)
        if (strcmp(names[i].base, base) == 0)
            return i;
    return -1;
}

static void
name_set(const char *base, int file)
{
    int i = name_find(base);
    if (i < 0) {
        if (nnames == MAX_FILES * 2 || strlen(base) > NAME_MAX)
            return;
        i = nnames++;
        snprintf(names[i].base, sizeof names[i].base, "%s", base);
    }
    names[i].file = file;
}

static void
name_drop(const char *base)
{
    int i = name_find(base);
    if (i >= 0)
        names[i] = names[--nnames];
}

static int
file_new(void)
{
    if (nfiles == MAX_FILES)
        return -1;
    memset(&files[nfiles], 0, sizeof files[nfiles]);
    return nfiles++;
}

/* What fd is: -1 not ours, -2 the directory, k + 1 file k (mu held). */
static int
kind(int fd)
{
    char proc[64], target[PATH_MAX];
    const char *base;
    ssize_t n;
    int k;

    if (dir[0] == '\0' || fd < 0 || fd >= MAX_FDS)
        return -1;
    if (fdkind[fd] != 0)
        return fdkind[fd];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    if ((n = readlink(proc, target, sizeof target - 1)) < 0)
        return -1;
    target[n] = '\0';
    if (is_dir(target))
        return fdkind[fd] = -2;
    if ((base = in_dir(target)) == NULL)
        return -1; /* (not kept: the fd may be closed where close() is
                    * not seen, by stdio, and reused for one of ours) */
    if (strstr(base, " (deleted)") != NULL) { /* unnamed (O_TMPFILE) */
        if ((k = file_new()) < 0)
            return -1;
    } else if ((k = name_find(base)) >= 0) {
        k = names[k].file;
    } else {
        if ((k = file_new()) < 0)
            return -1;
        name_set(base, k);
    }
    return fdkind[fd] = k + 1;
}

static void
record(int fd, uint64_t off, const void *p, size_t len)
{
    struct file *f;
    int k;
    if (len == 0)
        return;
    pthread_mutex_lock(&mu);
    if ((k = kind(fd)) > 0) {
        f = &files[k - 1];
        if (f->n == f->cap) {
            size_t nc = f->cap ? f->cap * 2 : 64;
            struct wr *nw = realloc(f->w, nc * sizeof *nw);
            if (nw == NULL)
                abort();
            f->w = nw;
            f->cap = nc;
        }
        if ((f->w[f->n].data = malloc(len)) == NULL)
            abort();
        memcpy(f->w[f->n].data, p, len);
        f->w[f->n].off = off;
        f->w[f->n].len = len;
        f->n++;
    }
    pthread_mutex_unlock(&mu);
}

/* Writes the image (mu held). */
static void
write_image(void)
{
    unsigned mode = (unsigned)(rng % 4);
    const struct name *nm = durable_names ? durable : names;
    int nn = durable_names ? ndurable : nnames;
    if (image == NULL)
        return;
    next();
    for (int i = 0; i < nn; i++) {
        struct file *f = &files[nm[i].file];
        char path[PATH_MAX];
        long torn = -1;
        int fd;
        if ((size_t)snprintf(path, sizeof path, "%s/%s", image, nm[i].base) >=
            sizeof path)
            abort();
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
            abort();
        if (mode == 2 && f->n > f->synced)
            torn = (long)(f->synced + next() % (f->n - f->synced));
        for (size_t j = 0; j < f->n; j++) {
            size_t len = f->w[j].len;
            if (j >= f->synced) {
                if (mode == 0 || ((mode == 1 || mode == 2) && (next() & 1) &&
                                  (long)j != torn))
                    continue;
                if ((long)j == torn)
                    len = (size_t)(next() % (len / 512 + 1)) * 512;
            }
            if (len > 0 &&
                r_pwrite(fd, f->w[j].data, len, (off_t)f->w[j].off) < 0)
                abort();
        }
        r_close(fd);
    }
}

/* A sync point (mu held): the power goes at the chosen one. */
static void
point(void)
{
    if (dir[0] == '\0')
        return;
    if (++count == at) {
        write_image();
        kill(getpid(), SIGKILL);
    }
}

__attribute__((destructor)) static void
dircut_exit(void)
{
    setup();
    pthread_mutex_lock(&mu);
    point();
    if (count_file != NULL && dir[0] != '\0') {
        FILE *f = fopen(count_file, "w");
        if (f != NULL) {
            fprintf(f, "%ld\n", count);
            fclose(f);
        }
    }
    pthread_mutex_unlock(&mu);
}

/* ---------------------------------------------------------- the calls -- */

ssize_t
write(int fd, const void *buf, size_t n)
{
    ssize_t k;
    setup();
    k = r_write(fd, buf, n);
    if (k > 0 && fd > 2)
        record(fd, (uint64_t)(lseek(fd, 0, SEEK_CUR) - k), buf, (size_t)k);
    return k;
}

ssize_t
pwrite(int fd, const void *buf, size_t n, off_t off)
{
    ssize_t k;
    setup();
    k = r_pwrite(fd, buf, n, off);
    if (k > 0)
        record(fd, (uint64_t)off, buf, (size_t)k);
    return k;
}

ssize_t
pwrite64(int fd, const void *buf, size_t n, off_t off)
{
    ssize_t k;
    setup();
    k = r_pwrite64(fd, buf, n, off);
    if (k > 0)
        record(fd, (uint64_t)off, buf, (size_t)k);
    return k;
}

ssize_t
writev(int fd, const struct iovec *iov, int cnt)
{
    ssize_t k;
    setup();
    k = r_writev(fd, iov, cnt);
    if (k > 0 && fd > 2) {
        uint64_t off = (uint64_t)(lseek(fd, 0, SEEK_CUR) - k);
        size_t left = (size_t)k;
        for (int i = 0; i < cnt && left > 0; i++) {
            size_t n = iov[i].iov_len < left ? iov[i].iov_len : left;
            record(fd, off, iov[i].iov_base, n);
            off += n;
            left -= n;
        }
    }
    return k;
}

static int
sync_fd(int fd, int (*real)(int))
{
    int k, rc;
    setup();
    pthread_mutex_lock(&mu);
    if ((k = kind(fd)) != -1)
        point();
    pthread_mutex_unlock(&mu);
    rc = real(fd);
    if (rc == 0 && k != -1 && !ignore_sync) {
        pthread_mutex_lock(&mu);
        if (k > 0) {
            files[k - 1].synced = files[k - 1].n;
        } else { /* the directory: its names are durable */
            memcpy(durable, names, sizeof names);
            ndurable = nnames;
        }
        pthread_mutex_unlock(&mu);
    }
    return rc;
}

int
fsync(int fd)
{
    return sync_fd(fd, r_fsync);
}

int
fdatasync(int fd)
{
    return sync_fd(fd, r_fdatasync);
}

int
close(int fd)
{
    setup();
    if (fd >= 0 && fd < MAX_FDS) {
        pthread_mutex_lock(&mu);
        fdkind[fd] = 0;
        pthread_mutex_unlock(&mu);
    }
    return r_close(fd);
}

/* The file old names: a name in the directory, or /proc/self/fd/N of a
 * file of it (mu held); -1 if none. */
static int
file_of(const char *old)
{
    const char *base = in_dir(old);
    int fd, k;
    if (base != NULL)
        return (k = name_find(base)) >= 0 ? names[k].file : -1;
    if (sscanf(old, "/proc/self/fd/%d", &fd) == 1 && (k = kind(fd)) > 0)
        return k - 1;
    return -1;
}

static void
linked(const char *old, const char *new, int moved)
{
    const char *nb = in_dir(new), *ob = in_dir(old);
    int k = file_of(old);
    if (nb != NULL && k >= 0)
        name_set(nb, k);
    if (moved && ob != NULL)
        name_drop(ob);
}

static int
ours(const char *a, const char *b)
{
    return in_dir(a) != NULL || (b != NULL && in_dir(b) != NULL);
}

int
link(const char *old, const char *new)
{
    int rc;
    setup();
    pthread_mutex_lock(&mu);
    if (ours(new, NULL))
        point();
    pthread_mutex_unlock(&mu);
    if ((rc = r_link(old, new)) == 0) {
        pthread_mutex_lock(&mu);
        linked(old, new, 0);
        pthread_mutex_unlock(&mu);
    }
    return rc;
}

int
linkat(int ofd, const char *old, int nfd, const char *new, int flags)
{
    int rc, mine;
    setup();
    mine = ofd == AT_FDCWD && nfd == AT_FDCWD && ours(new, NULL);
    pthread_mutex_lock(&mu);
    if (mine)
        point();
    pthread_mutex_unlock(&mu);
    if ((rc = r_linkat(ofd, old, nfd, new, flags)) == 0 && mine) {
        pthread_mutex_lock(&mu);
        linked(old, new, 0);
        pthread_mutex_unlock(&mu);
    }
    return rc;
}

static int
moved(int ofd, const char *old, int nfd, const char *new, int rc)
{
    (void)ofd;
    (void)nfd;
    if (rc == 0) {
        pthread_mutex_lock(&mu);
        linked(old, new, 1);
        pthread_mutex_unlock(&mu);
    }
    return rc;
}

static void
before_move(int ofd, const char *old, int nfd, const char *new)
{
    pthread_mutex_lock(&mu);
    if (ofd == AT_FDCWD && nfd == AT_FDCWD && ours(old, new))
        point();
    pthread_mutex_unlock(&mu);
}

int
rename(const char *old, const char *new)
{
    setup();
    before_move(AT_FDCWD, old, AT_FDCWD, new);
    return moved(AT_FDCWD, old, AT_FDCWD, new, r_rename(old, new));
}

int
renameat(int ofd, const char *old, int nfd, const char *new)
{
    setup();
    before_move(ofd, old, nfd, new);
    return moved(ofd, old, nfd, new, r_renameat(ofd, old, nfd, new));
}

int
renameat2(int ofd, const char *old, int nfd, const char *new, unsigned flags)
{
    setup();
    before_move(ofd, old, nfd, new);
    return moved(ofd, old, nfd, new, r_renameat2(ofd, old, nfd, new, flags));
}

int
unlink(const char *path)
{
    int rc;
    setup();
    pthread_mutex_lock(&mu);
    if (ours(path, NULL))
        point();
    pthread_mutex_unlock(&mu);
    if ((rc = r_unlink(path)) == 0 && in_dir(path) != NULL) {
        pthread_mutex_lock(&mu);
        name_drop(in_dir(path));
        pthread_mutex_unlock(&mu);
    }
    return rc;
}

int
unlinkat(int dfd, const char *path, int flags)
{
    int rc, mine;
    setup();
    mine = dfd == AT_FDCWD && ours(path, NULL);
    pthread_mutex_lock(&mu);
    if (mine)
        point();
    pthread_mutex_unlock(&mu);
    if ((rc = r_unlinkat(dfd, path, flags)) == 0 && mine) {
        pthread_mutex_lock(&mu);
        name_drop(in_dir(path));
        pthread_mutex_unlock(&mu);
    }
    return rc;
}
