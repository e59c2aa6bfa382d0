/*
 * init.c — a new ledger (ldg_init): its directory, store and keys, the
 * genesis event appended and verified. The top of ledger/: it calls the
 * append path and verification, which open.c's handle sits below.
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
#include "ledger/append_int.h"
#include "ledger/keys_int.h"
#include "ledger/open_int.h"
#include "ledger/tlog_int.h"

static int
mkdir_p(const char *path, mode_t mode)
{
    char tmp[4096];
    size_t n = strlen(path);
    if (n >= sizeof tmp)
        return -1;
    memcpy(tmp, path, n + 1);
    struct stat st;
    if (ldg_mkdir_p(tmp, 0, 0, 0755, NULL, NULL) < 0 ||
        (mkdir(tmp, mode) != 0 && errno != EEXIST))
        return -1;
    /* there already: a directory, or no ledger can be made there */
    if (stat(tmp, &st) != 0)
        return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

static int
meta_put(struct ldg_txn *t, const char *key, const void *v, size_t n)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    return ldg_core_kv_put(t, ldg_core(l, LDG_DB_META), key, strlen(key), v, n);
}

static int
write_genesis(struct ldg_ledger *l)
{
    struct ldg_prep p;
    int rc = ldg_prep_genesis(l, &p);

    if (rc == 0)
        rc = ldg_commit_group(l, &p, 1, NULL);
    ldg_prep_release(&p);
    return rc;
}

int
ldg_init(const char *dir, const char *origin, const struct ldg_options *opts,
         char *err, size_t errcap)
{
    char path[4200], gen[64];
    struct stat st;
    struct ldg_ledger *l = NULL;
    struct ldg_key *key = NULL;
    struct ldg_txn *t = NULL;
    uint8_t fmt[8], rnd[6];
    int rc, created = 0, layout, intake;

    if (dir == NULL)
        return LDG_EINVAL;
    if (opts != NULL && opts->format != 0 &&
        (opts->format < LDG_FORMAT_VERSION_MIN ||
         opts->format > LDG_FORMAT_VERSION_MAX)) {
        snprintf(err, errcap, "format %u: this build writes format %d or %d",
                 opts->format, LDG_FORMAT_VERSION_MIN, LDG_FORMAT_VERSION_MAX);
        return LDG_EINVAL;
    }
    if ((layout = ldg_layout_to_make(opts != NULL ? opts->layout : 0,
                                     opts != NULL &&
                                         (opts->flags & LDG_ANY_LAYOUT) != 0,
                                     err, errcap)) < 0)
        return layout;
    intake = ldg_layout_has(layout, LDG_HAS_INTAKE);
    if (origin == NULL) {
        char hex[13];
        ldg_random(rnd, sizeof rnd);
        ldg_hex(hex, rnd, sizeof rnd);
        snprintf(gen, sizeof gen, "ledger.local/%s", hex);
        origin = gen;
    }
    if (!ldg_origin_valid(origin)) {
        /* the caller's argument (the header's LDG_EINVAL: a usage error) */
        snprintf(err, errcap,
                 "invalid origin '%.80s%s': 1-%d printable ASCII "
                 "characters, no spaces or '+'",
                 origin, strlen(origin) > 80 ? "..." : "", LDG_ORIGIN_MAX);
        return LDG_EINVAL;
    }
    if (mkdir_p(dir, 0700) != 0) {
        int e = errno;
        snprintf(err, errcap, "cannot create %s: %s", dir, strerror(e));
        /* a path that is no directory, or one not ours to make: cannot
         * create (73); the disk's own faults: I/O (74) */
        return e == ENOSPC || e == EIO || e == EDQUOT ? LDG_EIO : LDG_EEXIST;
    }
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    if (stat(path, &st) == 0) {
        snprintf(err, errcap, "a ledger already exists in %s", dir);
        return LDG_EEXIST;
    }
    rc = ldg_key_generate(&key, LDG_LOG_KEY_NAME);
    if (rc < 0)
        return rc;
    rc = ldg_keyfile_write(dir, key, err, errcap);
    if (rc < 0)
        goto out;
    created = 1;
    rc = ldg_open_handle(&l, dir, opts, 1, err, errcap);
    if (rc < 0)
        goto out;
    memcpy(l->origin, origin, strlen(origin) + 1);
    l->format = opts != NULL && opts->format != 0 ? (int)opts->format
                                                  : LDG_FORMAT_DEFAULT;
    l->log_key = key;
    key = NULL;
    rc = ldg_txn_begin(l, LDG_TXN_WRITE, &t);
    if (rc < 0)
        goto out;
    memcpy(fmt, LDG_META_FORMAT_MAGIC, 4);
    fmt[4] = fmt[5] = fmt[6] = 0;
    fmt[7] = (uint8_t)l->format;
    rc = meta_put(t, LDG_META_FORMAT, fmt, LDG_META_FORMAT_LEN);
    if (rc == 0)
        rc = meta_put(t, LDG_META_ORIGIN, origin, strlen(origin));
    if (rc == 0)
        rc = meta_put(t, LDG_META_LOG_KEY, l->log_key->pub, 32);
    if (rc == 0) {
        uint8_t lay[LDG_META_LAYOUT_LEN];
        ldg_be32(lay, (uint32_t)layout);
        rc = meta_put(t, LDG_META_LAYOUT, lay, sizeof lay);
    }
    if (rc == 0 && intake)
        rc = ldg_intake_make(l, t, 0);
    if (rc == 0) { /* the body index, empty and current with the log */
        uint8_t n[8];
        ldg_be64(n, 0);
        rc = meta_put(t, LDG_META_IX_BODY, n, sizeof n);
    }
    if (rc == 0)
        rc = ldg_txn_commit(t);
    else
        ldg_txn_abort(t);
    t = NULL;
    if (rc == 0 && intake)
        rc = ldg_intake_attach(l);
    if (rc == 0)
        rc = write_genesis(l);
    if (rc == 0 && !(l->opts.flags & LDG_BENCH_NOTREE)) {
        /* A new ledger is a verified one: its genesis is checked in full
         * and the verification recorded, so the doctor's chain-verified
         * clause is ok from the start rather than unknown until a first
         * `ledger verify` (issue 46); later events are verified as they
         * come, by verify or the doctor's check of the new ones. Not
         * with LDG_BENCH_NOTREE: a benchmark's ledger without a tree
         * does not verify (ledger.h). */
        struct ldg_verify_report vr;
        rc = ldg_verify(l, LDG_VERIFY_FULL, 0, &vr, NULL, NULL);
        if (rc == 0 && !vr.recorded)
            rc = LDG_EIO; /* (said on the handle) */
    }
    if (rc < 0)
        snprintf(err, errcap, "cannot initialise %s: %s", dir,
                 l->errmsg[0] ? l->errmsg : ldg_strerror(rc));
out:
    ldg_key_free(key);
    ldg_close(l);
    if (rc < 0 && created) {
        /* Nothing half-made stays behind: init can simply be run again. */
        static const char *const files[] = {"data.mdb", "lock.mdb",
                                            "keys/log.key", "intake"};
        for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
            snprintf(path, sizeof path, "%s/%s", dir, files[i]);
            unlink(path);
        }
        snprintf(path, sizeof path, "%s/keys", dir);
        rmdir(path);
    }
    return rc;
}
