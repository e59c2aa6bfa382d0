/*
 * handle.c — a ledger handle's settings and its transactions
 * (ldg_txn_begin): what every part above the store asks of the handle.
 * Opening and creating one is open.c's, at the top.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ledger/layout_int.h"
#include "ledger/handle_int.h"
#include "ledger/tlog_int.h"

size_t
ldg_body_max(const struct ldg_ledger *l)
{
    return l->opts.body_max_bytes;
}

int
ldg_clear_dead_readers(struct ldg_ledger *l)
{
    return l != NULL && l->store != NULL ? ldg_store_reader_check(l->store) : 0;
}

const char *
ldg_errmsg(const struct ldg_ledger *l)
{
    return l ? l->errmsg : "no ledger";
}

const char *
ldg_dir(const struct ldg_ledger *l)
{
    return l->dir;
}

const char *
ldg_origin(const struct ldg_ledger *l)
{
    return l->origin;
}

int
ldg_format(const struct ldg_ledger *l)
{
    return l->format;
}

const struct ldg_key *
ldg_log_key(const struct ldg_ledger *l)
{
    return l->log_key;
}

void
ldg_set_clock(struct ldg_ledger *l, const uint64_t *clock_ns)
{
    l->clock_ns = clock_ns;
}

uint64_t
ldg_clock_now(const struct ldg_ledger *l)
{
    return l->clock_ns != NULL ? *l->clock_ns : ldg_now_wall_ns();
}

const char *
ldg_system_dir(int *readable)
{
    const char *sys = getenv("LEDGER_SYSTEM_DIR");
    char path[4200];
    struct stat st;

    if (readable != NULL)
        *readable = 0;
    if (sys == NULL || *sys == '\0')
        sys = LDG_SYSTEM_DIR;
    snprintf(path, sizeof path, "%s/%s", sys,
             ldg_store_file_name(LDG_FILE_DATA));
    if (stat(path, &st) == 0) {
        if (readable != NULL)
            *readable = access(path, R_OK) == 0;
        return sys;
    }
    if (errno == EACCES) /* (there or not: the directory is closed) */
        return sys;
    return NULL;
}

/* "no ledger in DIR", and where one is: the system ledger when there is
 * one (never `init`, which would make a second, empty ledger), else how
 * to make one or name another. */
void
handle_no_ledger(const char *dir, char *err, size_t errcap)
{
    int readable = 0;
    const char *sys = ldg_system_dir(&readable);
    char real1[PATH_MAX], real2[PATH_MAX];

    if (err == NULL || errcap == 0)
        return;
    if (sys != NULL &&
        (realpath(dir, real1) == NULL || realpath(sys, real2) == NULL ||
         strcmp(real1, real2) != 0))
        snprintf(
            err, errcap,
            "no ledger in %s; the system ledger is in %s%s: give " LDG_OPT_DIR
            " %s (or set LEDGER_DIR=%s)",
            dir, sys,
            readable ? ""
                     : " (this user may not read it: run as a member of "
                       "its group, or as its owner)",
            sys, sys);
    else
        snprintf(err, errcap,
                 "no ledger in %s: `" LDG_CMD_INIT "` makes one there, or "
                 "give " LDG_OPT_DIR " DIR (or set LEDGER_DIR) for one that is "
                 "elsewhere",
                 dir);
}

int
ldg_default_dir(char *buf, size_t cap, const char *dir)
{
    char path[4200];
    struct stat st;
    const char *sys;
    int rc, n;

    if (dir != NULL || getenv("LEDGER_DIR") != NULL)
        return ldg_default_dir_own(buf, cap, dir);
    rc = ldg_default_dir_own(buf, cap, NULL);
    if (rc == 0) {
        snprintf(path, sizeof path, "%s/%s", buf,
                 ldg_store_file_name(LDG_FILE_DATA));
        if (stat(path, &st) == 0 || errno != ENOENT)
            return 0; /* the user's own ledger (or one it may not reach) */
    }
    if ((sys = ldg_system_dir(NULL)) == NULL)
        return rc;
    n = snprintf(buf, cap, "%s", sys);
    return n > 0 && (size_t)n < cap ? 0 : LDG_EINVAL;
}

int
ldg_default_dir_own(char *buf, size_t cap, const char *dir)
{
    const char *env = getenv("LEDGER_DIR"), *xdg = getenv("XDG_STATE_HOME");
    const char *home = getenv("HOME");
    int n;

    /* An empty name is a mistake (an unset variable in a script), never
     * a request for the default ledger. */
    if (dir != NULL)
        n = *dir ? snprintf(buf, cap, "%s", dir) : -1;
    else if (env != NULL)
        n = *env ? snprintf(buf, cap, "%s", env) : -1;
    else if (xdg != NULL && *xdg)
        n = snprintf(buf, cap, "%s/ledger", xdg);
    else if (home != NULL && *home)
        n = snprintf(buf, cap, "%s/.local/state/ledger", home);
    else
        return LDG_EINVAL;
    return n > 0 && (size_t)n < cap ? 0 : LDG_EINVAL;
}

int
ldg_read_only(const struct ldg_ledger *l)
{
    return l != NULL && (l->opts.flags & LDG_RDONLY) != 0;
}

int
ldg_batch_blocks(struct ldg_ledger *l)
{
    if (__atomic_load_n(&l->batch_owner, __ATOMIC_ACQUIRE) == NULL ||
        !pthread_equal(__atomic_load_n(&l->batch_thread, __ATOMIC_RELAXED),
                       pthread_self()) ||
        l->batch_committing)
        return 0;
    ldg_seterr(l, "a batch is open on this handle, on this thread: commit "
                  "or free it before another write");
    return 1;
}

int
ldg_txn_begin(struct ldg_ledger *l, unsigned flags, struct ldg_txn **out)
{
    int rc;
    if (l == NULL || out == NULL)
        return LDG_EINVAL;
    if ((flags & LDG_TXN_WRITE) && ldg_batch_blocks(l))
        return LDG_EBUSY;
    if (l->layout_old && !l->migrating)
        return ldg_layout_refuse(l, l->layout_old);
    if (!(flags & LDG_TXN_WRITE)) {
        if (l->intake != NULL && !(flags & LDG_TXN_STORE))
            return l->intake_hooks->read_begin(l, out);
        return ldg_store_txn_begin(l->store, l, 0, out);
    }
    /* a write to the store itself (not an append: those go through the
     * intake) sees every acknowledged event: the tail is applied first */
    if (l->intake != NULL && !(flags & LDG_TXN_SIDE) &&
        (rc = l->intake_hooks->settle(l)) < 0)
        return rc;
    return ldg_store_txn_begin(l->store, l, (flags & LDG_TXN_WRITE) != 0, out);
}

int
ldg_applier_add(struct ldg_ledger *l, const struct ldg_applier *a)
{
    if (l == NULL || a == NULL || a->apply == NULL)
        return LDG_EINVAL;
    if (l->nappliers >= LDG_MAX_APPLIERS)
        return LDG_EFULL;
    l->appliers[l->nappliers++] = *a;
    return 0;
}

int
ldg_txn_size(struct ldg_txn *t, uint64_t *size)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    struct ldg_cursor *c;
    struct ldg_val k;
    int rc = ldg_cursor_open(t, ldg_core(l, ldg_db_entries(t)), &c);
    if (rc < 0)
        return rc;
    rc = ldg_cursor_get(c, LDG_LAST, NULL, 0, &k, NULL);
    ldg_cursor_close(c);
    if (rc == LDG_ENOTFOUND) {
        *size = 0;
        return 0;
    }
    if (rc < 0)
        return rc;
    if (k.len != 8)
        return LDG_ECORRUPT;
    *size = ldg_rd_be64(k.data) + 1;
    return 0;
}

int
ldg_size(struct ldg_ledger *l, uint64_t *size)
{
    struct ldg_txn *t;
    int rc = ldg_txn_begin(l, LDG_TXN_READ, &t);
    if (rc < 0)
        return rc;
    rc = ldg_txn_size(t, size);
    ldg_txn_abort(t);
    return rc;
}
