/*
 * store.c — the store part of ledger/ (store_int.h), the one part that
 * talks to LMDB: the environment, its map, transactions and databases.
 *
 * One environment per ledger (DIR/data.mdb, DIR/lock.mdb). Durability is
 * LMDB's default: a commit returns after fsync of the data and meta pages,
 * so a committed transaction survives kill -9 and power loss. We never use
 * MDB_WRITEMAP (a stray pointer could corrupt the map) and MDB_NOSYNC only
 * when a test asks for it.
 *
 * LMDB error codes are translated into enum ldg_error here; the last LMDB
 * code is kept so callers can put LMDB's own words in their message.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "ledger/layout_int.h"
#include "ledger/overlay_int.h"
#include "ledger/store_int.h"

#define DEFAULT_MAP_SIZE ((size_t)1 << 30)
#define MAX_DBS 128

const char *const ldg_core_db_names[LDG_CORE_DBS] = {
    "meta",       "entries",  "bodies",      "tree",    "checkpoints",
    "keys",       "idx.type", "idx.subject", "idx.run", "idx.actor",
    "idx.time",   "idx.id",   "seals",       "tiles",   "ix.type",
    "ix.subject", "ix.run",   "ix.actor",    "dicts",   "entries5",
    "bodies5",    "ix.body"};

int
store_xlate(int rc)
{
    switch (rc) {
    case MDB_SUCCESS:
        return 0;
    case MDB_NOTFOUND:
        return LDG_ENOTFOUND;
    case MDB_KEYEXIST:
        return LDG_EEXIST;
    case MDB_TXN_FULL:
        /* the transaction's dirty pages reached LMDB's limit: the disk and
         * the map may have all the room; a smaller transaction fits */
        return LDG_ETXNFULL;
    case MDB_MAP_FULL:
    case MDB_CURSOR_FULL:
    case MDB_PAGE_FULL:
    case ENOSPC:
    case EDQUOT:
        return LDG_EFULL;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    /* a transaction that met a page it cannot follow is flagged, and
     * every later call on it says only this (a write that failed is
     * never followed by another call on its transaction here) */
    case MDB_BAD_TXN:
    case MDB_INVALID:
    case MDB_BAD_VALSIZE:
    case MDB_INCOMPATIBLE:
        return LDG_ECORRUPT;
    case MDB_VERSION_MISMATCH:
        return LDG_EVERSION;
    case MDB_READERS_FULL:
    case EBUSY:
    case EAGAIN:
        return LDG_EBUSY;
    case ENOMEM:
        return ldg_alloc_failed();
    case EINVAL:
        return LDG_EINVAL;
    default:
        return LDG_EIO;
    }
}

/* LMDB's names for an environment's files (mdb.c's DATANAME and LOCKNAME,
 * the environment being a directory: no MDB_NOSUBDIR). */
const char *
ldg_store_file_name(enum ldg_store_file f)
{
    switch (f) {
    case LDG_FILE_DATA:
        return "data.mdb";
    case LDG_FILE_LOCK:
        return "lock.mdb";
    case LDG_FILE_INTAKE:
        return "intake";
    }
    return NULL;
}

static void
put_err(char *err, size_t cap, const char *what, const char *path, int rc)
{
    if (err != NULL && cap > 0)
        snprintf(err, cap, "%s %s: %s", what, path, mdb_strerror(rc));
}

/* Gives every other named database in the file (the modules' stores) its
 * handle in txn, which the caller commits: the handles are then the
 * environment's. LMDB lets only one transaction at a time open a handle
 * that is not yet the environment's (mdb_dbi_open: "must finish before any
 * other transaction in the process may use this function"): two
 * overlapping transactions opening the same new name take the same slot,
 * and one name's copy is lost. Modules read their stores from overlapping
 * read transactions (an export's, and a timeline's inside it), so the
 * stores that exist are opened here, once, before any of those begins.
 * A name that is not a database, or no room for more handles, is left
 * for ldg_db_open to report when a module asks for it. */
/* LMDB's default key order: bytes, then length. */
static int
key_before(const MDB_val *a, const MDB_val *b)
{
    size_t n = a->mv_size < b->mv_size ? a->mv_size : b->mv_size;
    int c = n ? memcmp(a->mv_data, b->mv_data, n) : 0;
    return c < 0 || (c == 0 && a->mv_size < b->mv_size);
}

/* The walk also checks the catalogue's order: LMDB finds a name by
 * binary search, and a flipped bit in one name can leave every lookup
 * working until a write inserts a name beside it (a writable open creates
 * a missing idx.id) and the search for another then fails. Out of order
 * is MDB_CORRUPTED, with the name in bad (cap bytes). */
static int
open_module_dbs(MDB_txn *txn, char *bad, size_t cap)
{
    MDB_dbi main_db, d;
    MDB_cursor *c;
    MDB_val k, v, prev = {0, NULL};
    char name[512];
    int rc = mdb_dbi_open(txn, NULL, 0, &main_db);

    if (rc != 0)
        return rc;
    if ((rc = mdb_cursor_open(txn, main_db, &c)) != 0)
        return rc;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        int core = 0, orc;
        if (prev.mv_data != NULL && !key_before(&prev, &k)) {
            size_t n = k.mv_size < cap - 1 ? k.mv_size : cap - 1;
            for (size_t i = 0; i < n; i++) {
                char ch = ((const char *)k.mv_data)[i];
                bad[i] = ch > 0x20 && ch < 0x7f ? ch : '?';
            }
            bad[n] = '\0';
            rc = MDB_CORRUPTED;
            break;
        }
        prev = k;
        if (k.mv_size == 0 || k.mv_size >= sizeof name ||
            memchr(k.mv_data, 0, k.mv_size) != NULL)
            continue;
        memcpy(name, k.mv_data, k.mv_size);
        name[k.mv_size] = '\0';
        for (int i = 0; i < LDG_CORE_DBS; i++)
            core |= strcmp(name, ldg_core_db_names[i]) == 0;
        if (core)
            continue;
        orc = mdb_dbi_open(txn, name, 0, &d);
        if (orc == MDB_DBS_FULL)
            break;
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* 1 when txn's store is a ledger's at an earlier build's layout (its
 * meta record says one, or none: layout 1), else 0. */
static int
earlier_layout(MDB_txn *txn)
{
    static char key[] = LDG_META_LAYOUT;
    MDB_dbi m;
    MDB_val k = {sizeof key - 1, key}, v;
    int g;

    if (mdb_dbi_open(txn, ldg_core_db_names[LDG_DB_META], 0, &m) != 0)
        return 0; /* (no ledger yet: init's) */
    g = mdb_get(txn, m, &k, &v);
    return g == MDB_NOTFOUND ||
           (g == 0 && v.mv_size == LDG_META_LAYOUT_LEN &&
            !ldg_layout_current(ldg_rd_be32(v.mv_data) > INT_MAX
                                    ? INT_MAX
                                    : (int)ldg_rd_be32(v.mv_data)));
}

/* The LMDB flags of core database i beside MDB_CREATE: the ix.* indexes
 * keep sorted duplicate seqs (layout 3 on). */
static unsigned
core_db_flags(int i)
{
    return (i >= LDG_DB_IX_TYPE && i <= LDG_DB_IX_ACTOR) || i == LDG_DB_IX_BODY
               ? MDB_DUPSORT | MDB_DUPFIXED
               : 0;
}

int
ldg_store_open(struct ldg_store **out, const char *path,
               const struct ldg_store_opts *o, char *err, size_t errcap)
{
    struct ldg_store *s;
    MDB_txn *txn = NULL;
    unsigned flags = MDB_NOTLS | MDB_NORDAHEAD;
    char bad[80] = "";
    int rc, dead = 0, as_is = 0;

    *out = NULL;
    s = calloc(1, sizeof *s);
    if (s == NULL)
        return LDG_ENOMEM;
    s->rdonly = o->rdonly;
    s->nosync = o->nosync;
    s->map_size = o->map_size ? o->map_size : DEFAULT_MAP_SIZE;
    s->map_max = o->map_max;
    if (o->room_to_rewrite && !o->rdonly) {
        /* Room for one transaction that writes a second copy of data the
         * size of the store (a projections rebuild): 1.5 times the file
         * plus 256 MiB. A map is address space, not disk. */
        char p[PATH_MAX + 16];
        struct stat fs;
        snprintf(p, sizeof p, "%s/data.mdb", path);
        if (stat(p, &fs) == 0) {
            size_t want = (size_t)fs.st_size + (size_t)fs.st_size / 2 +
                          ((size_t)256 << 20);
            if (s->map_size < want && (s->map_max == 0 || want <= s->map_max))
                s->map_size = want;
        }
    }
    if (s->map_max && s->map_size > s->map_max)
        s->map_size = s->map_max;
    if (o->rdonly)
        flags |= MDB_RDONLY;
    if (o->nosync)
        flags |= MDB_NOSYNC;

    rc = mdb_env_create(&s->env);
    if (rc == 0)
        rc = mdb_env_set_maxdbs(s->env, MAX_DBS);
    if (rc == 0)
        rc = mdb_env_set_mapsize(s->env, s->map_size);
    if (rc != 0) {
        put_err(err, errcap, "cannot set up LMDB for", path, rc);
        goto fail;
    }
    /* An existing data.mdb shorter than LMDB's two meta pages (emptied,
     * cut to nothing) is not an environment: a read-only open fails with
     * an unhelpful EBADF, and a writable one would quietly start a new,
     * empty log in its place. Either way it is corrupt storage. */
    {
        char p[PATH_MAX + 16];
        struct stat fs;
        long pg = sysconf(_SC_PAGESIZE);
        snprintf(p, sizeof p, "%s/data.mdb", path);
        if (stat(p, &fs) == 0 && S_ISREG(fs.st_mode) &&
            (uint64_t)fs.st_size < 2 * (uint64_t)(pg > 0 ? pg : 4096)) {
            if (err != NULL && errcap > 0)
                snprintf(err, errcap,
                         "storage corrupt: %s is %llu bytes, too short to "
                         "hold an LMDB environment (two meta pages)",
                         p, (unsigned long long)fs.st_size);
            rc = MDB_CORRUPTED;
            goto fail;
        }
    }
    rc = mdb_env_open(s->env, path, flags, 0600);
    if (rc != 0 && o->rdonly && (rc == EACCES || rc == EPERM || rc == EROFS)) {
        /* Evidence that may not be changed (a write-protected copy, an
         * immutable file, a read-only mount): the lock file cannot be
         * opened for writing either. Nothing can write to such a copy, so
         * reading it without the lock file is safe. */
        mdb_env_close(s->env);
        s->env = NULL;
        rc = mdb_env_create(&s->env);
        if (rc == 0)
            rc = mdb_env_set_maxdbs(s->env, MAX_DBS);
        if (rc == 0)
            rc = mdb_env_set_mapsize(s->env, s->map_size);
        if (rc == 0)
            rc = mdb_env_open(s->env, path, flags | MDB_NOLOCK, 0600);
    }
    if (rc != 0) {
        put_err(err, errcap, "cannot open", path, rc);
        goto fail;
    }
    /* The map may be larger than asked if the file already is. */
    {
        MDB_envinfo info;
        mdb_env_info(s->env, &info);
        s->map_size = info.me_mapsize;
    }
    {
        char p[PATH_MAX + 16];
        snprintf(p, sizeof p, "%s/data.mdb", path);
        if (realpath(p, s->data_path) == NULL)
            s->data_path[0] = '\0';
    }
    /* A file shorter than its own last page (a lost tail, a copy cut
     * short) would fault (SIGBUS) at the first read past its end: LMDB
     * trusts the meta page. Refuse it here, for every command. */
    {
        MDB_envinfo info;
        MDB_stat st;
        struct stat fs;
        if (mdb_env_info(s->env, &info) == 0 &&
            mdb_env_stat(s->env, &st) == 0 && s->data_path[0] != '\0' &&
            stat(s->data_path, &fs) == 0 &&
            (uint64_t)fs.st_size <
                ((uint64_t)info.me_last_pgno + 1) * st.ms_psize &&
            !store_tail_pages_free(s->data_path, st.ms_psize, fs.st_size,
                                   info.me_last_pgno)) {
            if (err != NULL && errcap > 0)
                snprintf(err, errcap,
                         "storage corrupt: %s is %llu bytes, but its last "
                         "page ends at byte %llu (the file was cut short)",
                         s->data_path, (unsigned long long)fs.st_size,
                         (unsigned long long)(info.me_last_pgno + 1) *
                             st.ms_psize);
            rc = MDB_CORRUPTED;
            goto fail;
        }
    }
    /* Clear reader slots left by processes that died (kill -9). */
    mdb_reader_check(s->env, &dead);
    s->checked_ns = ldg_now_mono_ns();

    rc = mdb_txn_begin(s->env, NULL, o->rdonly ? MDB_RDONLY : 0, &txn);
    if (rc != 0) {
        put_err(err, errcap, "cannot begin a transaction on", path, rc);
        goto fail;
    }
    /* first: nothing is created in a catalogue out of order */
    if ((rc = open_module_dbs(txn, bad, sizeof bad)) != 0) {
        if (rc == MDB_CORRUPTED && bad[0] != '\0' && err != NULL && errcap > 0)
            snprintf(err, errcap,
                     "storage corrupt: the catalogue of databases in "
                     "data.mdb in %s is out of order at '%s' (damaged)",
                     path, bad);
        else
            put_err(err, errcap, "cannot list the databases of", path, rc);
        mdb_txn_abort(txn);
        goto fail;
    }
    /* a store an earlier build left at an older layout: nothing created
     * in it (the open refuses it; ledger migrate creates what it needs) */
    as_is = !o->rdonly && !o->old_layout_ok && earlier_layout(txn);
    for (int i = 0; i < LDG_CORE_DBS; i++) {
        unsigned f = (o->rdonly || as_is ? 0 : MDB_CREATE) | core_db_flags(i);
        rc = mdb_dbi_open(txn, ldg_core_db_names[i], f, &s->core[i]);
        /* idx.id came with format version 2, seals with ledger format 2,
         * tiles and ix.* with store layouts 2 and 3: a ledger written
         * before has none, and a read-only open cannot create them (it
         * holds nothing of theirs then). */
        if (rc == MDB_NOTFOUND && (o->rdonly || as_is) &&
            (i == LDG_DB_IDX_ID || i == LDG_DB_SEALS || i >= LDG_DB_TILES)) {
            s->missing[i] = 1;
            s->core[i] = 0;
            rc = 0;
            continue;
        }
        if (rc == MDB_NOTFOUND) {
            /* data.mdb opened, but one of a ledger's databases is not in
             * its catalogue: damage (or not a ledger's file), not "no
             * ledger here" */
            if (err != NULL && errcap > 0)
                snprintf(err, errcap,
                         "storage corrupt: data.mdb in %s has no '%s' "
                         "database (damaged, or not a ledger's file)",
                         path, ldg_core_db_names[i]);
            mdb_txn_abort(txn);
            rc = MDB_CORRUPTED;
            goto fail;
        }
        if (rc != 0) {
            put_err(err, errcap, "no ledger database in", path, rc);
            mdb_txn_abort(txn);
            goto fail;
        }
    }
    /* (as_is: LMDB writes nothing for a transaction that changed nothing,
     * and its commit keeps the databases' handles) */
    rc = mdb_txn_commit(txn);
    if (rc != 0) {
        put_err(err, errcap, "cannot commit to", path, rc);
        goto fail;
    }
    *out = s;
    return 0;
fail:
    if (s->env != NULL)
        mdb_env_close(s->env);
    free(s);
    return store_xlate(rc);
}

/* Calls madvise(advice) on this process's mappings of data.mdb (LMDB does
 * not say where its map is; /proc/self/maps does); with parts > 1, only on
 * part `part` (0..parts-1) of the file's used length (the map reserves
 * more than the file holds). */
static void
advise_map_part(struct ldg_store *s, int advice, unsigned part, unsigned parts)
{
    FILE *f;
    char line[PATH_MAX + 128];
    unsigned long used = 0;

    if (s->data_path[0] == '\0')
        return;
    if (parts > 1) {
        MDB_envinfo info;
        MDB_stat st;
        unsigned long pg = (unsigned long)sysconf(_SC_PAGESIZE);
        if (part >= parts || mdb_env_info(s->env, &info) != 0 ||
            mdb_env_stat(s->env, &st) != 0)
            return;
        used = ((unsigned long)info.me_last_pgno + 1) * st.ms_psize;
        used = (used + pg - 1) / pg * pg;
    }
    f = fopen("/proc/self/maps", "r");
    if (f == NULL)
        return;
    while (fgets(line, sizeof line, f) != NULL) {
        unsigned long lo, hi;
        char *path = strchr(line, '/');
        size_t n;
        if (path == NULL || sscanf(line, "%lx-%lx", &lo, &hi) != 2)
            continue;
        n = strlen(path);
        if (n && path[n - 1] == '\n')
            path[n - 1] = '\0';
        if (strcmp(path, s->data_path) != 0 || strstr(line, " r--s ") == NULL)
            continue;
        if (parts > 1) {
            /* page-aligned slices of [lo, lo + used) */
            unsigned long pg = (unsigned long)sysconf(_SC_PAGESIZE);
            unsigned long npg = (used < hi - lo ? used : hi - lo) / pg;
            unsigned long a = lo + npg * part / parts * pg;
            unsigned long b = lo + npg * (part + 1) / parts * pg;
            if (b > a)
                madvise((void *)a, b - a, advice);
        } else {
            madvise((void *)lo, hi - lo, advice);
        }
    }
    fclose(f);
}

static void
advise_map(struct ldg_store *s, int advice)
{
    advise_map_part(s, advice, 0, 1);
}

/*
 * LMDB reads through a read-only shared mapping of data.mdb, so every page
 * a long job touches (an ingest of a million events walks most of the
 * file) stays mapped and counts in the process's resident size, although
 * it is only page cache. Dropping our mappings now and then keeps the
 * resident size to what the job really holds; the pages stay cached and
 * fault back in if used. The map is found in /proc/self/maps because LMDB
 * does not publish its address.
 */
void
ldg_store_trim(struct ldg_store *s)
{
    advise_map(s, MADV_DONTNEED);
}

unsigned
ldg_map_missing(const void *p, size_t len, unsigned samples)
{
    uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE), lo, n;
    unsigned missing = 0;
    if (len == 0 || samples == 0)
        return 0;
    lo = (uintptr_t)p & ~(pg - 1);
    n = ((uintptr_t)p + len - lo + pg - 1) / pg; /* pages */
    for (unsigned i = 0; i < samples; i++) {
        unsigned char in;
        uintptr_t at = lo + (uintptr_t)((uint64_t)n * i / samples) * pg;
        if (mincore((void *)at, pg, &in) == 0 && !(in & 1))
            missing++;
    }
    return missing;
}

/* A MADV_WILLNEED reads at most the device's readahead or largest
 * request (max(read_ahead_kb, max_sectors_kb); 128 KiB and 1,280 KiB are
 * common) of what it is given and drops the rest, so it is given 1 MiB at
 * a time. */
#define WILLNEED_STEP ((uintptr_t)1 << 20)

void
ldg_map_willneed(const void *p, size_t len)
{
    uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t lo = (uintptr_t)p & ~(pg - 1);
    uintptr_t hi = ((uintptr_t)p + len + pg - 1) & ~(pg - 1);
    for (; lo < hi; lo += WILLNEED_STEP) {
        uintptr_t n = hi - lo < WILLNEED_STEP ? hi - lo : WILLNEED_STEP;
        /* a step of which four pages spread over it are cached was most
         * likely read already (the CLI starts a new scan every 4 MiB of
         * output, asking again for what is ahead of it) */
        if (ldg_map_missing((const void *)lo, n, 4) == 0)
            continue;
        (void)madvise((void *)lo, n, MADV_WILLNEED);
    }
}

void
ldg_access_release_part(struct ldg_ledger *l, unsigned part, unsigned parts)
{
    if (l == NULL || l->store == NULL || parts == 0)
        return;
    advise_map_part(l->store, MADV_DONTNEED, part, parts);
}

void
ldg_access_hint(struct ldg_ledger *l, enum ldg_access how)
{
    /* The environment is opened MDB_NORDAHEAD (MADV_RANDOM on the map:
     * the file may be larger than memory, and lookups want one page).
     * A scan over much of the file from a cold page cache then reads a
     * page per fault; MADV_SEQUENTIAL lets the kernel read ahead. */
    if (l == NULL || l->store == NULL)
        return;
    if (how == LDG_ACCESS_RELEASE)
        ldg_store_trim(l->store);
    else
        advise_map(l->store, how == LDG_ACCESS_SEQUENTIAL ? MADV_SEQUENTIAL
                                                          : MADV_RANDOM);
}

void
ldg_store_close(struct ldg_store *s)
{
    if (s == NULL)
        return;
    mdb_env_close(s->env);
    free(s);
}

int
ldg_store_reader_check(struct ldg_store *s)
{
    int dead = 0;
    s->checked_ns = ldg_now_mono_ns();
    if (mdb_reader_check(s->env, &dead) != 0)
        return 0;
    return dead;
}

/* A dead reader's slot pins the snapshot it read, so every page freed
 * since cannot be reused and the file only grows (25x over 30,000 events
 * behind one SIGKILLed `query`). Writers sweep the reader table when
 * they begin a write, at most every READER_CHECK_MS: a sweep is one
 * fcntl(F_GETLK) per other process with a slot (a few microseconds), and
 * what a reader that died pins grows with the commits made before the
 * next sweep (30,000 events in commits of 5, a reader killed holding its
 * transaction as the writer resumes: up to +21 MB, 1.7x, at once a
 * second; at most +0.1 MB at 100 ms). */
#define READER_CHECK_MS 100

static void
reader_check_now_and_then(struct ldg_store *s)
{
    if (s->checked_ns == 0 ||
        ldg_now_mono_ns() - s->checked_ns >= READER_CHECK_MS * 1000000u)
        ldg_store_reader_check(s);
}

int
ldg_store_disk_full(struct ldg_store *s)
{
    return s->disk_full;
}

int
ldg_store_fs_free(struct ldg_store *s, uint64_t *free_bytes,
                  uint64_t *file_bytes)
{
    struct statvfs vfs;
    struct stat st;
    *free_bytes = 0;
    if (file_bytes != NULL)
        *file_bytes = 0;
    if (s->data_path[0] == '\0' || statvfs(s->data_path, &vfs) != 0)
        return LDG_EIO;
    *free_bytes = (uint64_t)vfs.f_bavail * (uint64_t)vfs.f_frsize;
    if (file_bytes != NULL && stat(s->data_path, &st) == 0)
        *file_bytes = (uint64_t)st.st_size;
    return 0;
}

int
ldg_store_grow(struct ldg_store *s, char *why, size_t cap)
{
    size_t next = s->map_size * 2;
    uint64_t fs_free = 0, file = 0;
    int rc, have_fs;

    /* Pages held for dead readers come back first: then the commit is
     * retried in the map it has. */
    if (ldg_store_reader_check(s) > 0)
        return 0;
    have_fs = ldg_store_fs_free(s, &fs_free, &file) == 0;
    if (s->disk_full) {
        snprintf(why, cap, "no space left on device (%llu MiB free on FS)",
                 (unsigned long long)(fs_free >> 20));
        return LDG_EFULL;
    }
    if (s->map_max && s->map_size >= s->map_max) {
        snprintf(why, cap,
                 "storage full: the map is at its ceiling of %llu MiB "
                 "(map_max_bytes)",
                 (unsigned long long)(s->map_max >> 20));
        return LDG_EFULL;
    }
    if (s->map_max && next > s->map_max)
        next = s->map_max;
    /* Grow only as far as the file system has room to fill: the file can
     * reach at most its size plus the free space. */
    if (have_fs && file + fs_free < next) {
        uint64_t room = (file + fs_free) & ~(uint64_t)0xfff;
        if (room <= s->map_size) {
            snprintf(why, cap, "no space left on device (%llu MiB free on FS)",
                     (unsigned long long)(fs_free >> 20));
            return LDG_EFULL;
        }
        next = (size_t)room;
    }
    rc = mdb_env_set_mapsize(s->env, next);
    if (rc != 0) {
        snprintf(why, cap, "cannot grow the map to %llu MiB: %s",
                 (unsigned long long)(next >> 20), mdb_strerror(rc));
        return store_xlate(rc);
    }
    s->map_size = next;
    return 0;
}

ldg_dbi
ldg_store_core_dbi(struct ldg_store *s, enum ldg_core_db which)
{
    return s->core[which];
}

int
ldg_store_txn_begin(struct ldg_store *s, struct ldg_ledger *l, int write,
                    struct ldg_txn **out)
{
    struct ldg_txn *t;
    int rc;

    *out = NULL;
    if (write && s->rdonly)
        return LDG_EINVAL;
    t = calloc(1, sizeof *t);
    if (t == NULL)
        return LDG_ENOMEM;
    if (write)
        reader_check_now_and_then(s);
    rc = mdb_txn_begin(s->env, NULL, write ? 0 : MDB_RDONLY, &t->txn);
    if (rc == MDB_MAP_RESIZED) {
        /* Another process grew the map: adopt its size and retry. */
        mdb_env_set_mapsize(s->env, 0);
        rc = mdb_txn_begin(s->env, NULL, write ? 0 : MDB_RDONLY, &t->txn);
    }
    if (rc != 0) {
        free(t);
        return store_xlate(rc);
    }
    t->s = s;
    t->l = l;
    t->write = write;
    *out = t;
    return 0;
}

void
ldg_store_txn_park(struct ldg_txn *t, int slot)
{
    LDG_ASSERT(!t->write && t->txn != NULL);
    t->parked_id = (uint64_t)mdb_txn_id(t->txn);
    if (slot) {
        mdb_txn_reset(t->txn);
    } else {
        mdb_txn_abort(t->txn);
        t->txn = NULL;
    }
}

int
ldg_store_txn_renew(struct ldg_txn *t)
{
    int rc;
    LDG_ASSERT(!t->write);
    if (t->txn != NULL) {
        rc = mdb_txn_renew(t->txn);
    } else {
        rc = mdb_txn_begin(t->s->env, NULL, MDB_RDONLY, &t->txn);
        if (rc == MDB_MAP_RESIZED) { /* another process grew the map */
            mdb_env_set_mapsize(t->s->env, 0);
            rc = mdb_txn_begin(t->s->env, NULL, MDB_RDONLY, &t->txn);
        }
        if (rc != 0)
            t->txn = NULL;
    }
    if (rc != 0)
        return store_xlate(rc);
    /* what was read of the snapshot let go (pointers into the map, which
     * may have moved) is asked again */
    t->layout = 0;
    t->dicts_ok = 0;
    /* nothing committed since it was let go: the same snapshot */
    return t->parked_id != 0 && (uint64_t)mdb_txn_id(t->txn) == t->parked_id;
}

void
ldg_txn_keep(struct ldg_txn *t, int (*keep)(struct ldg_txn *, int unchanged))
{
    t->keep = keep;
    t->keep_ver = t->ov != NULL ? ldg_ovl_version(t->ov) : 0;
}

/* Frees t (its LMDB transaction ended) and what it held. */
static void
txn_free(struct ldg_txn *t)
{
    ldg_body_view_free(t->bix.view); /* the ix.body view */
    t->bix.view = NULL;
    ldg_ovl_free(t->ov);
    ldg_txn_memo_drop(t);
    free(t->tree_memo);
    free(t);
}

int
ldg_txn_settle(struct ldg_txn *t)
{
    if (t->bix.dirty) { /* meta "ix.body": how far it reaches */
        uint8_t n[8];
        ldg_be64(n, t->bix.next);
        return ldg_core_kv_put(t, t->s->core[LDG_DB_META], LDG_META_IX_BODY,
                               sizeof LDG_META_IX_BODY - 1, n, sizeof n);
    }
    return 0;
}

int
ldg_txn_commit(struct ldg_txn *t)
{
    int rc;
    if (t == NULL)
        return LDG_EINVAL;
    if (t->ov != NULL) { /* nothing of an overlay reaches the store */
        int reader = t->reader;
        ldg_txn_abort(t);
        return reader ? 0 : LDG_EINVAL;
    }
    if (t->write && (rc = ldg_txn_settle(t)) < 0) {
        mdb_txn_abort(t->txn);
        txn_free(t);
        return rc;
    }
    rc = mdb_txn_commit(t->txn);
    if (t->write) {
        struct ldg_store *s = t->s;
        uint64_t fs_free;
        s->disk_full = rc == ENOSPC || rc == EDQUOT;
        /* LMDB turns a short write (what a full file system gives before
         * it refuses outright) into EIO: with almost nothing left free on
         * the file system, that is a full disk, not a failing one. */
        if (rc == EIO && ldg_store_fs_free(s, &fs_free, NULL) == 0 &&
            fs_free < ((uint64_t)1 << 20))
            s->disk_full = 1;
        if (s->disk_full)
            rc = ENOSPC;
    }
    txn_free(t);
    return store_xlate(rc);
}

void
ldg_txn_abort(struct ldg_txn *t)
{
    if (t == NULL)
        return;
    if (t->keep != NULL) {
        int (*keep)(struct ldg_txn *, int) = t->keep;
        t->keep = NULL;
        if (keep(t, t->ov != NULL && ldg_ovl_version(t->ov) == t->keep_ver))
            return; /* its keeper's again */
    }
    if (t->txn != NULL) /* (NULL: parked without its slot) */
        mdb_txn_abort(t->txn);
    txn_free(t);
}

void
ldg_txn_set_carried(struct ldg_txn *t, uint64_t size, const uint8_t *note,
                    size_t len)
{
    t->carried = note;
    t->carried_len = note != NULL ? len : 0;
    t->carried_size = size;
}

void
ldg_txn_frame_applied(struct ldg_txn *t, uint64_t first_seq, uint64_t end)
{
    t->frame_prev =
        t->frames_end != 0 && t->frames_end == first_seq ? first_seq : 0;
    t->frames_end = end;
}

uint64_t
ldg_txn_note_superseded(struct ldg_txn *t)
{
    return t != NULL && t->carried != NULL ? t->frame_prev : 0;
}

int
ldg_txn_note_carried(struct ldg_txn *t, uint64_t size, const char **note,
                     size_t *len)
{
    if (t == NULL || t->carried == NULL || t->carried_size != size)
        return 0;
    *note = (const char *)t->carried;
    *len = t->carried_len;
    return 1;
}

struct ldg_bix *
ldg_txn_bix(struct ldg_txn *t)
{
    return &t->bix;
}

void **
ldg_txn_tree_memo(struct ldg_txn *t)
{
    return &t->tree_memo;
}

void *
ldg_txn_memo(struct ldg_txn *t)
{
    return t->memo;
}

void
ldg_txn_set_memo(struct ldg_txn *t, void *memo, void (*release)(void *))
{
    t->memo = memo;
    t->memo_release = release;
}

void
ldg_txn_memo_drop(struct ldg_txn *t)
{
    if (t->memo_release != NULL)
        t->memo_release(t->memo);
    t->memo = NULL;
    t->memo_release = NULL;
}

struct ldg_ledger *
ldg_txn_ledger(struct ldg_txn *t)
{
    return t->l;
}

/* The databases the log's entries and bodies are in at t's layout. */
enum ldg_core_db
ldg_db_entries(struct ldg_txn *t)
{
    return ldg_layout_db(ldg_txn_layout(t), LDG_DB_ENTRIES);
}

enum ldg_core_db
ldg_db_bodies(struct ldg_txn *t)
{
    return ldg_layout_db(ldg_txn_layout(t), LDG_DB_BODIES);
}

/* Reads the dictionaries of t's snapshot that l's set does not hold yet
 * (ids are written in increasing order and never change: one cursor step
 * tells whether any is new). */
const struct ldg_dicts *
ldg_txn_dicts(struct ldg_txn *t)
{
    struct ldg_ledger *l;
    struct ldg_cursor *c = NULL;
    struct ldg_val k, v;
    int rc;

    if (t == NULL)
        return NULL;
    l = t->l;
    if (t->dicts_ok || t->s->missing[LDG_DB_DICTS])
        return l->dicts;
    if ((rc = ldg_cursor_open(t, t->s->core[LDG_DB_DICTS], &c)) < 0)
        goto fail;
    rc = ldg_cursor_get(c, LDG_LAST, NULL, 0, &k, NULL);
    if (rc == 0 && k.len == LDG_DICT_KEY_LEN &&
        ((const uint8_t *)k.data)[0] <= ldg_dicts_top(l->dicts)) {
        ldg_cursor_close(c);
        t->dicts_ok = 1;
        return l->dicts;
    }
    for (rc = rc == 0 ? ldg_cursor_get(c, LDG_FIRST, NULL, 0, &k, &v) : rc;
         rc == 0; rc = ldg_cursor_get(c, LDG_NEXT, NULL, 0, &k, &v)) {
        unsigned id =
            k.len == LDG_DICT_KEY_LEN ? ((const uint8_t *)k.data)[0] : 0;
        if ((rc = ldg_dicts_add(l->dicts, id, v.data, v.len)) < 0) {
            ldg_seterr(l,
                       "storage corrupt: the store's compression dictionary "
                       "%u does not load (damaged)",
                       id);
            break;
        }
    }
    ldg_cursor_close(c);
    if (rc == LDG_ENOTFOUND) {
        t->dicts_ok = 1;
        return l->dicts;
    }
fail:
    if (ldg_errbuf(l)[0] == '\0')
        ldg_seterr(l, "cannot read the store's dictionaries: %s",
                   ldg_strerror(rc));
    return NULL;
}

/* The store layout of this snapshot: meta "layout" (be32), 1 when there is
 * none. Read once a transaction: ledger migrate changes it under handles
 * other processes keep open. The one check of the record: a newer layout
 * or a damaged record is said on the ledger's error message. */
int
ldg_txn_layout(struct ldg_txn *t)
{
    MDB_val k = {sizeof LDG_META_LAYOUT - 1,
                 (void *)(uintptr_t)LDG_META_LAYOUT},
            v;
    uint32_t n = 0;
    int rc;

    if (t->layout != 0)
        return t->layout;
    rc = mdb_get(t->txn, t->s->core[LDG_DB_META], &k, &v);
    if (rc == MDB_NOTFOUND) {
        t->layout = 1;
        return 1;
    }
    if (rc != 0)
        return store_xlate(rc);
    if (v.mv_size == LDG_META_LAYOUT_LEN)
        n = ldg_rd_be32(v.mv_data);
    { /* the layout module says whether it is one this build reads */
        unsigned missing =
            (t->s->missing[LDG_DB_TILES] ? LDG_HAS_TILES : 0) |
            (t->s->missing[LDG_DB_IX_TYPE] ? LDG_HAS_DUPS : 0) |
            (t->s->missing[LDG_DB_ENTRIES5] ? LDG_HAS_STORED : 0);
        const char *damage;
        rc = ldg_layout_check(n > INT_MAX ? INT_MAX : (int)n, missing, &damage);
        if (rc == LDG_EVERSION && t->l != NULL &&
            ldg_layout_devel(n > INT_MAX ? 0 : (int)n))
            ldg_seterr(t->l,
                       "%s: store layout %u is in development, which no "
                       "release reads (a development build of ledger made "
                       "it); this build reads %s",
                       t->l->dir, n, ldg_layouts_known());
        else if (rc == LDG_EVERSION && t->l != NULL)
            ldg_seterr(t->l, "%s: store layout %u, this build reads %s",
                       t->l->dir, n, ldg_layouts_known());
        else if (rc < 0 && t->l != NULL)
            ldg_seterr(t->l,
                       "storage corrupt: %s: the store layout record is "
                       "damaged (%zu bytes%s)",
                       t->l->dir, v.mv_size, damage);
        if (rc < 0)
            return rc;
    }
    t->layout = (int)n;
    return t->layout;
}

/* After ledger migrate's last step wrote meta "layout" in t. */
void
ldg_txn_set_layout(struct ldg_txn *t, int layout)
{
    t->layout = layout;
}

uint64_t
ldg_txn_snapshot(struct ldg_txn *t)
{
    /* a reader's tail is part of what it sees */
    if (t->reader)
        return ((uint64_t)mdb_txn_id(t->txn) << 20) +
               (t->tail < 0xfffff ? t->tail : 0xfffff);
    return (uint64_t)mdb_txn_id(t->txn);
}

void
ldg_txn_set_reader(struct ldg_txn *t, int reader, uint64_t events)
{
    t->reader = reader;
    t->tail = events;
}

uint64_t
ldg_txn_tail(struct ldg_txn *t)
{
    return t != NULL && t->reader ? t->tail : 0;
}

struct ldg_store *
ldg_txn_store(struct ldg_txn *t)
{
    return t->s;
}

int
ldg_store_has_core(struct ldg_store *s, enum ldg_core_db which)
{
    return !s->missing[which];
}

int
ldg_store_create_missing(struct ldg_store *s)
{
    MDB_txn *txn;
    MDB_dbi d[LDG_CORE_DBS];
    int rc, any = 0;

    for (int i = 0; i < LDG_CORE_DBS; i++)
        any |= s->missing[i];
    if (!any)
        return 0;
    if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0)
        return store_xlate(rc);
    for (int i = 0; i < LDG_CORE_DBS; i++) {
        if (!s->missing[i])
            continue;
        rc = mdb_dbi_open(txn, ldg_core_db_names[i],
                          MDB_CREATE | core_db_flags(i), &d[i]);
        if (rc != 0) {
            mdb_txn_abort(txn);
            return store_xlate(rc);
        }
    }
    if ((rc = mdb_txn_commit(txn)) != 0)
        return store_xlate(rc);
    for (int i = 0; i < LDG_CORE_DBS; i++)
        if (s->missing[i]) {
            s->core[i] = d[i];
            s->missing[i] = 0;
        }
    return 0;
}

int
ldg_db_open(struct ldg_txn *t, const char *name, unsigned flags, ldg_dbi *dbi)
{
    unsigned f = 0;
    MDB_dbi d;
    int rc;

    if (t == NULL || name == NULL || dbi == NULL)
        return LDG_EINVAL;
    if (flags & LDG_DB_CREATE) {
        for (int i = 0; i < LDG_CORE_DBS; i++) {
            if (strcmp(name, ldg_core_db_names[i]) == 0) {
                if (t->l != NULL)
                    ldg_seterr(t->l,
                               "ldg_db_open: database '%s' belongs to the "
                               "core; other modules do not create or write it",
                               name);
                return LDG_EINVAL;
            }
        }
    }
    if ((flags & LDG_DB_CREATE) && t->write)
        f |= MDB_CREATE;
    if (flags & LDG_DB_DUPSORT)
        f |= MDB_DUPSORT;
    rc = mdb_dbi_open(t->txn, name, f, &d);
    if (rc != 0)
        return store_xlate(rc);
    *dbi = d;
    return 0;
}

int
ldg_db_count(struct ldg_txn *t, ldg_dbi dbi, uint64_t *n)
{
    MDB_stat st;
    int rc = mdb_stat(t->txn, dbi, &st);
    if (rc != 0)
        return store_xlate(rc);
    *n = st.ms_entries;
    if (t->ov != NULL) {
        struct ldg_ovl_map *m = store_ovl_map_of(t, dbi, 0);
        if (m != NULL)
            *n = (uint64_t)((int64_t)*n + ldg_ovl_map_delta(m));
    }
    return 0;
}

int
ldg_db_bytes(struct ldg_txn *t, ldg_dbi dbi, uint64_t *bytes)
{
    MDB_stat st;
    int rc = mdb_stat(t->txn, dbi, &st);
    if (rc != 0)
        return store_xlate(rc);
    *bytes = (uint64_t)st.ms_psize *
             (st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages);
    return 0;
}

uint64_t
ldg_store_map_size(struct ldg_store *s)
{
    return s->map_size;
}

/* ---------------------------------------------------- overlay reads -- */
