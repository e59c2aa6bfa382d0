/*
 * faultinject.c — an LD_PRELOAD shim that makes one chosen I/O call (or
 * allocation) fail, for the fault-injection tests (tests/e2e/core_faults.sh,
 * tests/e2e/core_crash.sh). Not part of libledger and not linked into any
 * unit test: the scripts build it with
 *
 *     cc -shared -fPIC -o faultinject.so tests/faults/faultinject.c -ldl
 *
 * and run a command with LD_PRELOAD=.../faultinject.so.
 *
 * Environment:
 *   FAULT_AT=N       the Nth counted call fails (1-based). 0 or unset: no
 *                    call fails; the shim only counts.
 *   FAULT_ERRNO=E    EIO (default), ENOSPC, EDQUOT, EINTR or a number.
 *   FAULT_CALLS=a,b  which calls count: any of write, pwrite, pwrite64,
 *                    writev, pwritev, fsync, fdatasync, msync,
 *                    sync_file_range, ftruncate, malloc, calloc, realloc.
 *                    Default: every I/O call (not the allocations).
 *   FAULT_MODE=M     fail: return -1/errno without doing the call
 *                    (default); after: do the call, then report failure
 *                    anyway (the bytes reached the file, the caller is
 *                    told they did not); short: writes only, write half
 *                    the bytes and return that; persist: fail the Nth
 *                    call and every counted call after it; hang: block
 *                    forever at the Nth call (for kill -9 tests: the
 *                    process dies inside that call).
 *   FAULT_STDIO=1    also count calls on fds 0, 1 and 2 (by default the
 *                    shim ignores them, so a command's output is not what
 *                    fails).
 *   FAULT_COUNT_FILE=path  at exit, write "COUNT\n" (counted calls seen).
 *   FAULT_LOG=path   append one line per injected fault: "CALL N fd=FD".
 *
 * Allocation counting uses glibc's __libc_malloc family, so it never
 * recurses through dlsym.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

enum call {
    C_WRITE,
    C_PWRITE,
    C_PWRITE64,
    C_WRITEV,
    C_PWRITEV,
    C_FSYNC,
    C_FDATASYNC,
    C_MSYNC,
    C_SFR,
    C_FTRUNCATE,
    C_MALLOC,
    C_CALLOC,
    C_REALLOC,
    C_COUNT
};

static const char *const call_names[C_COUNT] = {
    "write",  "pwrite",    "pwrite64", "writev",          "pwritev",
    "fsync",  "fdatasync", "msync",    "sync_file_range", "ftruncate",
    "malloc", "calloc",    "realloc"};

enum mode { M_FAIL, M_AFTER, M_SHORT, M_PERSIST, M_HANG };

static int configured;
static unsigned long long fault_at;
static int fault_errno = EIO;
static int counted[C_COUNT];
static enum mode mode = M_FAIL;
static int count_stdio;
static const char *count_file, *log_file;
static atomic_ullong seen;
/* Set while the shim does its own bookkeeping, which must not count. */
static __thread int in_shim __attribute__((tls_model("initial-exec")));

void *__libc_malloc(size_t);
void *__libc_calloc(size_t, size_t);
void *__libc_realloc(void *, size_t);

static int
parse_errno(const char *s)
{
    static const struct {
        const char *name;
        int value;
    } names[] = {{"EIO", EIO},     {"ENOSPC", ENOSPC}, {"EDQUOT", EDQUOT},
                 {"EINTR", EINTR}, {"EROFS", EROFS},   {"ENOMEM", ENOMEM},
                 {"EFBIG", EFBIG}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(s, names[i].name) == 0)
            return names[i].value;
    return atoi(s) > 0 ? atoi(s) : EIO;
}

/* Reads the environment once. getenv does not allocate. */
static void
configure(void)
{
    const char *v;
    if (configured)
        return;
    configured = 1;
    v = getenv("FAULT_AT");
    fault_at = v ? strtoull(v, NULL, 10) : 0;
    v = getenv("FAULT_ERRNO");
    if (v != NULL)
        fault_errno = parse_errno(v);
    v = getenv("FAULT_MODE");
    if (v != NULL) {
        if (strcmp(v, "after") == 0)
            mode = M_AFTER;
        else if (strcmp(v, "short") == 0)
            mode = M_SHORT;
        else if (strcmp(v, "persist") == 0)
            mode = M_PERSIST;
        else if (strcmp(v, "hang") == 0)
            mode = M_HANG;
    }
    v = getenv("FAULT_STDIO");
    count_stdio = v != NULL && strcmp(v, "1") == 0;
    count_file = getenv("FAULT_COUNT_FILE");
    log_file = getenv("FAULT_LOG");
    v = getenv("FAULT_CALLS");
    if (v == NULL || *v == '\0') {
        for (int i = 0; i < C_COUNT; i++)
            counted[i] = i < C_MALLOC;
    } else {
        const char *p = v;
        while (*p) {
            size_t n = strcspn(p, ",");
            for (int i = 0; i < C_COUNT; i++)
                if (strlen(call_names[i]) == n &&
                    strncmp(p, call_names[i], n) == 0)
                    counted[i] = 1;
            p += n;
            if (*p == ',')
                p++;
        }
    }
}

/* Writes with the raw system call so logging never re-enters the shim. */
static void
raw_append(const char *path, const char *text)
{
    int fd = (int)syscall(SYS_openat, AT_FDCWD, path,
                          O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    (void)syscall(SYS_write, fd, text, strlen(text));
    (void)syscall(SYS_close, fd);
}

static void
log_fault(enum call c, unsigned long long n, int fd)
{
    char line[128];
    if (log_file == NULL)
        return;
    snprintf(line, sizeof line, "%s %llu fd=%d\n", call_names[c], n, fd);
    raw_append(log_file, line);
}

__attribute__((destructor)) static void
report_count(void)
{
    char line[64];
    if (!configured || count_file == NULL)
        return;
    snprintf(line, sizeof line, "%llu\n", (unsigned long long)seen);
    {
        int fd = (int)syscall(SYS_openat, AT_FDCWD, count_file,
                              O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd >= 0) {
            (void)syscall(SYS_write, fd, line, strlen(line));
            (void)syscall(SYS_close, fd);
        }
    }
}

/*
 * Decides the fate of one call: 0 = do it normally, 1 = inject the fault.
 * For M_HANG it never returns when the fault is due.
 */
static int
should_fail(enum call c, int fd)
{
    unsigned long long n;
    configure();
    if (in_shim || !counted[c])
        return 0;
    if (fd >= 0 && fd <= 2 && !count_stdio)
        return 0;
    n = atomic_fetch_add(&seen, 1) + 1;
    if (fault_at == 0)
        return 0;
    if (n == fault_at || (mode == M_PERSIST && n > fault_at)) {
        in_shim = 1;
        log_fault(c, n, fd);
        in_shim = 0;
        if (mode == M_HANG)
            for (;;)
                pause();
        return 1;
    }
    return 0;
}

#define REAL(ret, name, ...)                                                   \
    static ret (*real_##name)(__VA_ARGS__);                                    \
    if (real_##name == NULL)                                                   \
    *(void **)(&real_##name) = dlsym(RTLD_NEXT, #name)

ssize_t
write(int fd, const void *buf, size_t n)
{
    REAL(ssize_t, write, int, const void *, size_t);
    if (should_fail(C_WRITE, fd)) {
        if (mode == M_SHORT && n > 1)
            return real_write(fd, buf, n / 2);
        if (mode == M_AFTER)
            (void)real_write(fd, buf, n);
        errno = fault_errno;
        return -1;
    }
    return real_write(fd, buf, n);
}

ssize_t
pwrite(int fd, const void *buf, size_t n, off_t off)
{
    REAL(ssize_t, pwrite, int, const void *, size_t, off_t);
    if (should_fail(C_PWRITE, fd)) {
        if (mode == M_SHORT && n > 1)
            return real_pwrite(fd, buf, n / 2, off);
        if (mode == M_AFTER)
            (void)real_pwrite(fd, buf, n, off);
        errno = fault_errno;
        return -1;
    }
    return real_pwrite(fd, buf, n, off);
}

ssize_t
pwrite64(int fd, const void *buf, size_t n, off_t off)
{
    REAL(ssize_t, pwrite64, int, const void *, size_t, off_t);
    if (should_fail(C_PWRITE64, fd)) {
        if (mode == M_SHORT && n > 1)
            return real_pwrite64(fd, buf, n / 2, off);
        if (mode == M_AFTER)
            (void)real_pwrite64(fd, buf, n, off);
        errno = fault_errno;
        return -1;
    }
    return real_pwrite64(fd, buf, n, off);
}

ssize_t
writev(int fd, const struct iovec *iov, int cnt)
{
    REAL(ssize_t, writev, int, const struct iovec *, int);
    if (should_fail(C_WRITEV, fd)) {
        if (mode == M_SHORT && cnt > 1)
            return real_writev(fd, iov, cnt / 2);
        if (mode == M_AFTER)
            (void)real_writev(fd, iov, cnt);
        errno = fault_errno;
        return -1;
    }
    return real_writev(fd, iov, cnt);
}

ssize_t
pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
    REAL(ssize_t, pwritev, int, const struct iovec *, int, off_t);
    if (should_fail(C_PWRITEV, fd)) {
        if (mode == M_SHORT && cnt > 1)
            return real_pwritev(fd, iov, cnt / 2, off);
        if (mode == M_AFTER)
            (void)real_pwritev(fd, iov, cnt, off);
        errno = fault_errno;
        return -1;
    }
    return real_pwritev(fd, iov, cnt, off);
}

#define SYNC_WRAP(name, which, ...)                                            \
    do {                                                                       \
        if (should_fail(which, fd)) {                                          \
            if (mode == M_AFTER)                                               \
                (void)real_##name(__VA_ARGS__);                                \
            errno = fault_errno;                                               \
            return -1;                                                         \
        }                                                                      \
        return real_##name(__VA_ARGS__);                                       \
    } while (0)

int
fsync(int fd)
{
    REAL(int, fsync, int);
    SYNC_WRAP(fsync, C_FSYNC, fd);
}

int
fdatasync(int fd)
{
    REAL(int, fdatasync, int);
    SYNC_WRAP(fdatasync, C_FDATASYNC, fd);
}

int
sync_file_range(int fd, off_t off, off_t n, unsigned int flags)
{
    REAL(int, sync_file_range, int, off_t, off_t, unsigned int);
    SYNC_WRAP(sync_file_range, C_SFR, fd, off, n, flags);
}

int
ftruncate(int fd, off_t len)
{
    REAL(int, ftruncate, int, off_t);
    SYNC_WRAP(ftruncate, C_FTRUNCATE, fd, len);
}

int
msync(void *addr, size_t len, int flags)
{
    REAL(int, msync, void *, size_t, int);
    if (should_fail(C_MSYNC, -1)) {
        if (mode == M_AFTER)
            (void)real_msync(addr, len, flags);
        errno = fault_errno;
        return -1;
    }
    return real_msync(addr, len, flags);
}

void *
malloc(size_t n)
{
    if (should_fail(C_MALLOC, -1)) {
        errno = ENOMEM;
        return NULL;
    }
    return __libc_malloc(n);
}

void *
calloc(size_t a, size_t b)
{
    if (should_fail(C_CALLOC, -1)) {
        errno = ENOMEM;
        return NULL;
    }
    return __libc_calloc(a, b);
}

void *
realloc(void *p, size_t n)
{
    if (should_fail(C_REALLOC, -1)) {
        errno = ENOMEM;
        return NULL;
    }
    return __libc_realloc(p, n);
}
