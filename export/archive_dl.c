/*
 * archive_dl.c — libarchive, loaded on first use.
 *
 * Only evidence bundles need libarchive, but linking it into the ledger
 * program pulls ICU, libxml2 and libstdc++ into every process: about 2.6 ms
 * of dynamic relocation on each `ledger query` or `ledger append`, which is
 * most of a short command's run time. So the program does not link
 * libarchive; these trampolines, one for each function export/archive.c
 * uses, dlopen it the first time one is called. Each is defined with the
 * prototype from <archive.h>, so the compiler checks they match.
 *
 * If the library cannot be loaded, constructors return NULL and the rest
 * return ARCHIVE_FATAL (or -1, or nothing), and archive_error_string says
 * why; export/archive.c reports those as it reports any libarchive error.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <archive.h>
#include <archive_entry.h>

#define SONAME "libarchive.so.13"

/* The library and what it failed with, under mu. A load that ran out of
 * memory is tried again at the next call (a daemon's later export must
 * not find libarchive "missing" for the rest of its life); one that
 * failed otherwise (not installed) is not. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static void *lib;
static int gave_up;
static char why[256] = "libarchive is not loaded";
static int load_errno; /* errno when dlopen failed (ENOMEM: not missing) */

static void *
load_locked(void)
{
    if (lib == NULL && !gave_up) {
        errno = 0;
        lib = dlopen(SONAME, RTLD_NOW | RTLD_LOCAL);
        if (lib == NULL) {
            const char *e = dlerror();
            load_errno = errno;
            gave_up = load_errno != ENOMEM;
            snprintf(why, sizeof why, "cannot load %s: %s", SONAME,
                     e != NULL ? e : strerror(load_errno));
        }
    }
    return lib;
}

const char *ldg_archive_unavailable(void); /* (export_int.h) */

/* why, copied under mu into the calling thread's own buffer (another
 * thread's failed load may rewrite why meanwhile). */
static _Thread_local char why_mine[sizeof why];

static const char *
why_copy_locked(void)
{
    memcpy(why_mine, why, sizeof why_mine);
    return why_mine;
}

const char *
ldg_archive_unavailable(void)
{
    const char *r;
    pthread_mutex_lock(&mu);
    /* the loader out of memory: the caller's "out of memory" holds */
    r = load_locked() == NULL && load_errno != ENOMEM ? why_copy_locked()
                                                      : NULL;
    pthread_mutex_unlock(&mu);
    return r;
}

/* name's address, kept in *slot once found; NULL while it cannot be had
 * (looked for again at the next call). */
static void *
sym(void *_Atomic *slot, const char *name)
{
    void *p = atomic_load_explicit(slot, memory_order_acquire);
    if (p != NULL)
        return p;
    pthread_mutex_lock(&mu);
    if ((p = atomic_load_explicit(slot, memory_order_relaxed)) == NULL &&
        load_locked() != NULL) {
        if ((p = dlsym(lib, name)) == NULL)
            snprintf(why, sizeof why, "%s has no %s", SONAME, name);
        else
            atomic_store_explicit(slot, p, memory_order_release);
    }
    pthread_mutex_unlock(&mu);
    return p;
}

/* A trampoline: the real function once found, else FAILVAL. */
#define TRAMP_PTR(ret, fn, params, args)                                       \
    static void *_Atomic real_##fn;                                            \
    ret fn params                                                              \
    {                                                                          \
        void *tramp_p = sym(&real_##fn, #fn);                                  \
        ret(*tramp_f) params;                                                  \
        if (tramp_p == NULL)                                                   \
            return FAILVAL;                                                    \
        memcpy(&tramp_f, &tramp_p, sizeof tramp_f);                            \
        return tramp_f args;                                                   \
    }

#define TRAMP_VOID(fn, params, args)                                           \
    static void *_Atomic real_##fn;                                            \
    void fn params                                                             \
    {                                                                          \
        void *tramp_p = sym(&real_##fn, #fn);                                  \
        void(*tramp_f) params;                                                 \
        if (tramp_p == NULL)                                                   \
            return;                                                            \
        memcpy(&tramp_f, &tramp_p, sizeof tramp_f);                            \
        tramp_f args;                                                          \
    }

/* Constructors: NULL when the library is missing. */
#define FAILVAL NULL
TRAMP_PTR(struct archive *, archive_read_new, (void), ())
TRAMP_PTR(struct archive *, archive_write_new, (void), ())
TRAMP_PTR(struct archive_entry *, archive_entry_new, (void), ())
TRAMP_PTR(const char *, archive_entry_pathname, (struct archive_entry * e), (e))
TRAMP_PTR(const char *, archive_entry_symlink, (struct archive_entry * e), (e))
TRAMP_PTR(const char *, archive_entry_hardlink, (struct archive_entry * e), (e))
TRAMP_PTR(const char *, archive_version_string, (void), ())
#undef FAILVAL

/* Status calls: ARCHIVE_FATAL. */
#define FAILVAL ARCHIVE_FATAL
TRAMP_PTR(int, archive_read_support_format_tar, (struct archive * a), (a))
TRAMP_PTR(int, archive_read_set_read_callback,
          (struct archive * a, archive_read_callback *r), (a, r))
TRAMP_PTR(int, archive_read_set_callback_data, (struct archive * a, void *d),
          (a, d))
TRAMP_PTR(int, archive_read_open1, (struct archive * a), (a))
TRAMP_PTR(int, archive_read_next_header,
          (struct archive * a, struct archive_entry **e), (a, e))
TRAMP_PTR(int, archive_read_next_header2,
          (struct archive * a, struct archive_entry *e), (a, e))
TRAMP_PTR(int, archive_read_free, (struct archive * a), (a))
TRAMP_PTR(int, archive_read_data_skip, (struct archive * a), (a))
TRAMP_PTR(int, archive_write_set_format_ustar, (struct archive * a), (a))
TRAMP_PTR(int, archive_write_open,
          (struct archive * a, void *cd, archive_open_callback *o,
           archive_write_callback *w, archive_close_callback *c),
          (a, cd, o, w, c))
TRAMP_PTR(int, archive_write_header,
          (struct archive * a, struct archive_entry *e), (a, e))
TRAMP_PTR(int, archive_write_close, (struct archive * a), (a))
TRAMP_PTR(int, archive_write_free, (struct archive * a), (a))
TRAMP_PTR(int, archive_entry_size_is_set, (struct archive_entry * e), (e))
TRAMP_PTR(int, archive_entry_sparse_count, (struct archive_entry * e), (e))
#undef FAILVAL

#define FAILVAL 0 /* no errno: the library is missing, not out of memory */
TRAMP_PTR(int, archive_errno, (struct archive * a), (a))
#undef FAILVAL

#define FAILVAL (-1)
TRAMP_PTR(la_ssize_t, archive_read_data,
          (struct archive * a, void *buf, size_t n), (a, buf, n))
TRAMP_PTR(la_ssize_t, archive_write_data,
          (struct archive * a, const void *buf, size_t n), (a, buf, n))
TRAMP_PTR(la_int64_t, archive_entry_size, (struct archive_entry * e), (e))
#undef FAILVAL

#define FAILVAL 0
TRAMP_PTR(__LA_MODE_T, archive_entry_filetype, (struct archive_entry * e), (e))
#undef FAILVAL

TRAMP_VOID(archive_entry_free, (struct archive_entry * e), (e))
TRAMP_VOID(archive_entry_set_pathname,
           (struct archive_entry * e, const char *p), (e, p))
TRAMP_VOID(archive_entry_set_size, (struct archive_entry * e, la_int64_t s),
           (e, s))
TRAMP_VOID(archive_entry_set_filetype,
           (struct archive_entry * e, unsigned int t), (e, t))
TRAMP_VOID(archive_entry_set_perm, (struct archive_entry * e, __LA_MODE_T m),
           (e, m))
TRAMP_VOID(archive_entry_set_mtime,
           (struct archive_entry * e, time_t t, long ns), (e, t, ns))

/* archive_error_string: says why the library is missing, if it is (the
 * text is the calling thread's until its next such call). */
static void *_Atomic real_archive_error_string;
const char *
archive_error_string(struct archive *a)
{
    void *p = sym(&real_archive_error_string, "archive_error_string");
    const char *(*f)(struct archive *);
    if (p == NULL) {
        const char *r;
        pthread_mutex_lock(&mu);
        r = why_copy_locked();
        pthread_mutex_unlock(&mu);
        return r;
    }
    memcpy(&f, &p, sizeof f);
    return f(a);
}

/* archive_set_error is variadic: format here, hand over the text. */
static void *_Atomic real_archive_set_error;
void
archive_set_error(struct archive *a, int err, const char *fmt, ...)
{
    void *p = sym(&real_archive_set_error, "archive_set_error");
    void (*f)(struct archive *, int, const char *, ...);
    char text[1024];
    va_list ap;
    if (p == NULL)
        return;
    memcpy(&f, &p, sizeof f);
    if (fmt == NULL) {
        f(a, err, NULL);
        return;
    }
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    f(a, err, "%s", text);
}
