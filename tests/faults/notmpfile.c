/*
 * notmpfile.c — an LD_PRELOAD shim for a file system without O_TMPFILE
 * (NFS, an overlayfs before Linux 6.6): open with O_TMPFILE fails with
 * EOPNOTSUPP, as there, so a writer takes its named fallback
 * (tests/e2e/retention_again.sh: the NAME.tmp.XXXXXX that `ledger
 * archive` and `export --out` then write). Not part of libledger and not
 * linked into any unit test: the scripts build it with
 *
 *     cc -shared -fPIC -o notmpfile.so tests/faults/notmpfile.c -ldl
 *
 * and run a command with LD_PRELOAD=.../notmpfile.so. Every other open
 * is the C library's.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/types.h>

typedef int (*open_fn)(const char *, int, ...);
typedef int (*openat_fn)(int, const char *, int, ...);

static int
tmpfile_flag(int flags)
{
    return (flags & O_TMPFILE) == O_TMPFILE;
}

#define OPEN_SHIM(name)                                                        \
    int name(const char *path, int flags, ...)                                 \
    {                                                                          \
        static open_fn real;                                                   \
        mode_t mode = 0;                                                       \
        if (flags & (O_CREAT | O_TMPFILE)) {                                   \
            va_list ap;                                                        \
            va_start(ap, flags);                                               \
            mode = va_arg(ap, mode_t);                                         \
            va_end(ap);                                                        \
        }                                                                      \
        if (tmpfile_flag(flags)) {                                             \
            errno = EOPNOTSUPP;                                                \
            return -1;                                                         \
        }                                                                      \
        if (real == NULL)                                                      \
            real = (open_fn)dlsym(RTLD_NEXT, #name);                           \
        return real(path, flags, mode);                                        \
    }

#define OPENAT_SHIM(name)                                                      \
    int name(int dirfd, const char *path, int flags, ...)                      \
    {                                                                          \
        static openat_fn real;                                                 \
        mode_t mode = 0;                                                       \
        if (flags & (O_CREAT | O_TMPFILE)) {                                   \
            va_list ap;                                                        \
            va_start(ap, flags);                                               \
            mode = va_arg(ap, mode_t);                                         \
            va_end(ap);                                                        \
        }                                                                      \
        if (tmpfile_flag(flags)) {                                             \
            errno = EOPNOTSUPP;                                                \
            return -1;                                                         \
        }                                                                      \
        if (real == NULL)                                                      \
            real = (openat_fn)dlsym(RTLD_NEXT, #name);                         \
        return real(dirfd, path, flags, mode);                                 \
    }

OPEN_SHIM(open)
OPEN_SHIM(open64)
OPENAT_SHIM(openat)
OPENAT_SHIM(openat64)
