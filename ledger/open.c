/*
 * open.c — a ledger handle: finding, opening and closing a ledger (a new
 * one is init.c's; the handle's settings are handle.c's).
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

#include "ledger/intake_log_int.h"
#include "ledger/keys_int.h"
#include "ledger/log_int.h"
#include "ledger/layout_int.h"
#include "ledger/open_int.h"
#include "ledger/tlog_int.h"

/* ---------------------------------------------------------- open/close -- */

static int
meta_get(struct ldg_txn *t, const char *key, struct ldg_val *v)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    return ldg_kv_get(t, ldg_core(l, LDG_DB_META), key, strlen(key), v);
}

/* The store's own size, the intake's tail aside, and its intake position
 * checked: a look that replays nothing (at store layout 9 the tail may
 * hold every event but the ones a reader needs: the caller asks again
 * when it is 0). */
static int
store_size(struct ldg_ledger *l, uint64_t *size)
{
    struct ldg_txn *t;
    int rc = ldg_txn_begin(l, LDG_TXN_READ | LDG_TXN_STORE, &t);
    if (rc < 0)
        return rc;
    rc = ldg_intake_position_check(l, t);
    if (rc == 0)
        rc = ldg_txn_size(t, size);
    ldg_txn_abort(t);
    return rc;
}

/* *old: the layout of a store an earlier build left, which only a
 * handle for migrate opens (0 at the current one). */
static int
load_meta(struct ldg_ledger *l, int *old)
{
    struct ldg_txn *t;
    struct ldg_val v;
    uint32_t ver;
    int rc;

    rc = ldg_txn_begin(l, LDG_TXN_READ, &t);
    if (rc < 0)
        return rc;
    rc = meta_get(t, LDG_META_FORMAT, &v);
    if (rc < 0 || v.len != LDG_META_FORMAT_LEN ||
        memcmp(v.data, LDG_META_FORMAT_MAGIC, 4) != 0) {
        /* a store whose log holds entries is a ledger, damaged; one with
         * none is not a ledger */
        uint64_t n = 0, m = 0;
        if (ldg_db_count(t, ldg_core(l, LDG_DB_ENTRIES), &n) < 0)
            n = 0;
        if (ldg_store_has_core(l->store, LDG_DB_ENTRIES5) &&
            ldg_db_count(t, ldg_core(l, LDG_DB_ENTRIES5), &m) == 0)
            n += m;
        if (n > 0)
            ldg_seterr(l,
                       "%s: storage corrupt: the ledger is damaged, its "
                       "format record is missing or unreadable while its "
                       "log holds %llu %s (run `" LDG_CMD_VERIFY "`)",
                       l->dir, (unsigned long long)n,
                       n == 1 ? "entry" : "entries");
        else
            ldg_seterr(l, "%s: not a ledger (no format record)", l->dir);
        rc = LDG_ECORRUPT;
        goto out;
    }
    ver = (uint32_t)ldg_rd_be64((const uint8_t *)v.data) & 0xffffffffu;
    if (ver < LDG_FORMAT_VERSION_MIN || ver > LDG_FORMAT_VERSION_MAX) {
        ldg_seterr(l, "%s: format version %u, this build reads %d to %d",
                   l->dir, ver, LDG_FORMAT_VERSION_MIN, LDG_FORMAT_VERSION_MAX);
        rc = LDG_EVERSION;
        goto out;
    }
    l->format = (int)ver;
    /* the store layout is read again in every transaction (migrate changes
     * it under open handles); here a damaged or unknown one is refused
     * before anything reads by it, and an earlier build's unless the
     * handle is for ledger migrate (which alone reads it then) */
    if ((rc = ldg_txn_layout(t)) < 0)
        goto out;
    if (!ldg_layout_current(rc)) {
        if (!(l->opts.flags & (LDG_MIGRATE | LDG_ANY_LAYOUT))) {
            rc = ldg_layout_refuse(l, rc);
            goto out;
        }
        if (!(l->opts.flags & LDG_ANY_LAYOUT))
            *old = rc;
    }
    if ((rc = ldg_txn_has(t, LDG_HAS_INTAKE)) < 0)
        goto out;
    if (rc == 1 && (rc = ldg_intake_attach(l)) < 0)
        goto out;
    /* layout 5 on: new records are made with the newest dictionary (one
     * that does not load is left to verify to name) */
    if (ldg_txn_has(t, LDG_HAS_STORED) == 1)
        (void)ldg_dict_refresh(l, t);
    l->errmsg[0] = '\0';
    rc = meta_get(t, LDG_META_ORIGIN, &v);
    if (rc < 0 || v.len == 0 || v.len > LDG_ORIGIN_MAX) {
        ldg_seterr(l, "%s: meta record has no origin", l->dir);
        rc = LDG_ECORRUPT;
        goto out;
    }
    memcpy(l->origin, v.data, v.len);
    l->origin[v.len] = '\0';
    rc = meta_get(t, LDG_META_LOG_KEY, &v);
    if (rc < 0 || v.len != 32) {
        ldg_seterr(l, "%s: meta record has no log key", l->dir);
        rc = LDG_ECORRUPT;
        goto out;
    }
    /* public half only until the secret is needed (need_log_secret) */
    rc = ldg_key_from_public(&l->log_key, LDG_LOG_KEY_NAME, v.data);
out:
    ldg_txn_abort(t);
    return rc;
}

int
ldg_open_handle(struct ldg_ledger **out, const char *dir,
                const struct ldg_options *opts, int create, char *err,
                size_t errcap)
{
    struct ldg_ledger *l;
    struct ldg_store_opts so;
    int rc;

    *out = NULL;
    l = calloc(1, sizeof *l);
    if (l == NULL)
        return LDG_ENOMEM;
    pthread_mutex_init(&l->keys_mu, NULL);
    pthread_mutex_init(&l->dict_mu, NULL);
    pthread_mutex_init(&l->epoch_mu, NULL);
    if (ldg_dicts_new(&l->dicts) < 0) {
        free(l);
        return LDG_ENOMEM;
    }
    if (opts != NULL)
        l->opts = *opts;
    if (l->opts.body_max_bytes == 0)
        l->opts.body_max_bytes = LDG_BODY_MAX_DEFAULT;
    if (strlen(dir) >= sizeof l->dir) {
        ldg_dicts_free(l->dicts);
        free(l);
        return LDG_EINVAL;
    }
    memcpy(l->dir, dir, strlen(dir) + 1);
    memset(&so, 0, sizeof so);
    so.map_size = l->opts.map_size_bytes;
    so.map_max = l->opts.map_max_bytes;
    so.rdonly = !create && (l->opts.flags & LDG_RDONLY);
    so.nosync = (l->opts.flags & LDG_NOSYNC) != 0;
    so.room_to_rewrite = (l->opts.flags & LDG_ROOM_TO_REWRITE) != 0;
    so.old_layout_ok = create || (l->opts.flags & LDG_ANY_LAYOUT) != 0;
    rc = ldg_store_open(&l->store, dir, &so, err, errcap);
    if (rc < 0) {
        ldg_dicts_free(l->dicts);
        free(l);
        return rc;
    }
    *out = l;
    return 0;
}

int
ldg_open(struct ldg_ledger **out, const char *dir,
         const struct ldg_options *opts, char *err, size_t errcap)
{
    char path[4200];
    struct stat st;
    struct ldg_ledger *l;
    int rc, old = 0;

    *out = NULL;
    if (dir == NULL)
        return LDG_EINVAL;
    snprintf(path, sizeof path, "%s/%s", dir,
             ldg_store_file_name(LDG_FILE_DATA));
    if (stat(path, &st) != 0) {
        int e = errno;
        /* Only a file that is not there is "no ledger": one this user
         * may not reach is there or not, and init is not the remedy. */
        if (e != ENOENT && e != ENOTDIR) {
            snprintf(err, errcap, "cannot open %s: %s", path, strerror(e));
            return LDG_EIO;
        }
        handle_no_ledger(dir, err, errcap);
        return LDG_ENOTFOUND;
    }
    rc = ldg_open_handle(&l, dir, opts, 0, err, errcap);
    if (rc < 0)
        return rc;
    rc = load_meta(l, &old);
    if (rc == 0) {
        /* A ledger without its genesis is one whose init never finished
         * (a crash or an I/O error half-way): never append to it. */
        uint64_t size = 0;
        rc = store_size(l, &size);
        if (rc == 0 && size == 0) /* the genesis may be in the tail */
            rc = ldg_size(l, &size);
        if (rc == 0 && size == 0) {
            ldg_seterr(l,
                       "%s holds an unfinished ledger (init did not "
                       "complete); remove it and run '" LDG_CMD_INIT "' again",
                       dir);
            rc = LDG_ECORRUPT;
        }
    }
    /* from here on every transaction but migrate's is refused */
    l->layout_old = old;
    if (rc < 0) {
        snprintf(err, errcap, "%s",
                 l->errmsg[0] ? l->errmsg : ldg_strerror(rc));
        ldg_close(l);
        return rc;
    }
    *out = l;
    return 0;
}

void
ldg_close(struct ldg_ledger *l)
{
    if (l == NULL)
        return;
    /* layout 9: a clean stop (serve's, a long-lived writer's) leaves
     * LMDB up to date with the intake; a failure, or a one-shot writer
     * (LDG_KEEP_TAIL), leaves the tail where it is */
    if (l->intake != NULL && !(l->opts.flags & (LDG_RDONLY | LDG_KEEP_TAIL)))
        (void)ldg_intake_settle(l);
    for (size_t i = 0; i < l->nactors; i++)
        ldg_key_free(l->actors[i]);
    ldg_key_free(l->log_key);
    ldg_intake_detach(l);
    if (l->epoch_keep_free != NULL)
        l->epoch_keep_free(l->epoch_keep);
    pthread_mutex_destroy(&l->epoch_mu);
    ldg_store_close(l->store);
    pthread_mutex_destroy(&l->keys_mu);
    ldg_cdict_free(l->cdict);
    for (size_t i = 0; i < l->ncdict_old; i++)
        ldg_cdict_free(l->cdict_old[i]);
    ldg_dicts_free(l->dicts);
    pthread_mutex_destroy(&l->dict_mu);
    free(l);
}

/* --------------------------------------------------------------- init -- */
