/*
 * store.c — the one file of ledger/ that talks to LMDB.
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
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <lmdb.h>

#include "ledger/ledger_int.h"
#include "ledger/overlay_int.h"

#define DEFAULT_MAP_SIZE ((size_t)1 << 30)
#define MAX_DBS 128

const char *const ldg_core_db_names[LDG_CORE_DBS] = {
    "meta",       "entries",  "bodies",      "tree",    "checkpoints",
    "keys",       "idx.type", "idx.subject", "idx.run", "idx.actor",
    "idx.time",   "idx.id",   "seals",       "tiles",   "ix.type",
    "ix.subject", "ix.run",   "ix.actor",    "dicts",   "entries5",
    "bodies5",    "ix.body"};

struct ldg_store {
    MDB_env *env;
    MDB_dbi core[LDG_CORE_DBS];
    unsigned char missing[LDG_CORE_DBS]; /* read-only: not in this file */
    size_t map_size, map_max;
    int rdonly, nosync;
    int disk_full;            /* the last commit failed with ENOSPC/EDQUOT */
    uint64_t checked_ns;      /* last reader-table sweep (monotonic) */
    char data_path[PATH_MAX]; /* realpath of data.mdb, for ldg_store_trim */
};

struct ldg_txn {
    MDB_txn *txn;
    struct ldg_store *s;
    struct ldg_ledger *l;
    int write;
    int layout;         /* ldg_txn_layout's answer, once asked; 0 before */
    int dicts_ok;       /* ldg_txn_dicts has read the snapshot's dictionaries */
    struct ldg_bix bix; /* ix.body's upkeep in a write (index.c) */
    struct ldg_ovl *ov; /* an overlay's changes over the read snapshot */
    int reader;         /* an overlay of a read transaction (the tail) */
    uint64_t tail;      /* events its tail replayed */
    void *memo;         /* ldg_txn_memo, released with the transaction */
    void (*memo_release)(void *);
};

/* An item a cursor of an overlay transaction is on: a pointer into the
 * snapshot's pages or the overlay's arena, valid until the transaction
 * ends. */
struct ovl_item {
    const uint8_t *k, *v;
    size_t kl, vl;
};

struct ldg_cursor {
    MDB_cursor *c;
    /* an overlay transaction's cursor (ovl_* below); t NULL otherwise */
    struct ldg_txn *t;
    MDB_dbi dbi;
    int dup;
    int pos;      /* on cur */
    int deleted;  /* cur was deleted through the cursor */
    int dir;      /* the last step's direction, for the candidates */
    uint64_t ver; /* the overlay's version the candidates hold for */
    int b_ok;     /* the snapshot's next candidate (the base cursor) */
    struct ovl_item b;
    const struct ldg_ovl_node *o; /* the overlay's next candidate */
    int from_o;                   /* cur came from the overlay */
    struct ovl_item cur;
    int plain; /* a reader's overlay left this database alone: LMDB's */
};

static int
xlate(int rc)
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
        return LDG_ENOMEM;
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

const char *
ldg_store_strerror(int mdb_rc)
{
    return mdb_strerror(mdb_rc);
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

static int tail_pages_free(const char *path, size_t psize, uint64_t size,
                           uint64_t last);

int
ldg_store_open(struct ldg_store **out, const char *path,
               const struct ldg_store_opts *o, char *err, size_t errcap)
{
    struct ldg_store *s;
    MDB_txn *txn = NULL;
    unsigned flags = MDB_NOTLS | MDB_NORDAHEAD;
    char bad[80] = "";
    int rc, dead = 0;

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
            !tail_pages_free(s->data_path, st.ms_psize, fs.st_size,
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
    for (int i = 0; i < LDG_CORE_DBS; i++) {
        unsigned f = o->rdonly ? 0 : MDB_CREATE;
        if ((i >= LDG_DB_IX_TYPE && i <= LDG_DB_IX_ACTOR) ||
            i == LDG_DB_IX_BODY)
            f |= MDB_DUPSORT | MDB_DUPFIXED;
        rc = mdb_dbi_open(txn, ldg_core_db_names[i], f, &s->core[i]);
        /* idx.id came with format version 2, seals with ledger format 2,
         * tiles and ix.* with store layouts 2 and 3: a ledger written
         * before has none, and a read-only open cannot create them (it
         * holds nothing of theirs then). */
        if (rc == MDB_NOTFOUND && o->rdonly &&
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
    return xlate(rc);
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
        return xlate(rc);
    }
    s->map_size = next;
    return 0;
}

static struct ldg_ovl_map *ovl_map_of(struct ldg_txn *t, MDB_dbi dbi,
                                      int create);

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
        return xlate(rc);
    }
    t->s = s;
    t->l = l;
    t->write = write;
    *out = t;
    return 0;
}

/* Frees t (its LMDB transaction ended) and what it held. */
static void
txn_free(struct ldg_txn *t)
{
    ldg_bix_release(&t->bix);
    ldg_ovl_free(t->ov);
    ldg_txn_memo_drop(t);
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
    return xlate(rc);
}

void
ldg_txn_abort(struct ldg_txn *t)
{
    if (t == NULL)
        return;
    mdb_txn_abort(t->txn);
    txn_free(t);
}

struct ldg_bix *
ldg_txn_bix(struct ldg_txn *t)
{
    return &t->bix;
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
    return ldg_txn_layout(t) >= LDG_LAYOUT_STORED ? LDG_DB_ENTRIES5
                                                  : LDG_DB_ENTRIES;
}

enum ldg_core_db
ldg_db_bodies(struct ldg_txn *t)
{
    return ldg_txn_layout(t) >= LDG_LAYOUT_STORED ? LDG_DB_BODIES5
                                                  : LDG_DB_BODIES;
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
        return xlate(rc);
    if (v.mv_size == LDG_META_LAYOUT_LEN)
        n = ldg_rd_be32(v.mv_data);
    if (n > LDG_LAYOUT_MAX && n != LDG_LAYOUT_INTAKE) {
        if (t->l != NULL)
            ldg_seterr(t->l, "%s: store layout %u, this build reads %d to %d",
                       t->l->dir, n, LDG_LAYOUT_MIN, LDG_LAYOUT_MAX);
        return LDG_EVERSION;
    }
    if (n < LDG_LAYOUT_MIN ||
        (n >= LDG_LAYOUT_TILES && t->s->missing[LDG_DB_TILES]) ||
        (n >= LDG_LAYOUT_DUPS && t->s->missing[LDG_DB_IX_TYPE]) ||
        (n >= LDG_LAYOUT_STORED && t->s->missing[LDG_DB_ENTRIES5])) {
        if (t->l != NULL)
            ldg_seterr(t->l,
                       "storage corrupt: %s: the store layout record is "
                       "damaged (%zu bytes%s)",
                       t->l->dir, v.mv_size,
                       n < LDG_LAYOUT_TILES ? ""
                       : t->s->missing[LDG_DB_TILES]
                           ? ", and no 'tiles' database"
                       : t->s->missing[LDG_DB_IX_TYPE]
                           ? ", and no 'ix.type' database"
                           : ", and no 'entries5' database");
        return LDG_ECORRUPT;
    }
    t->layout = (int)n;
    return t->layout;
}

int
ldg_txn_writable(struct ldg_txn *t)
{
    int layout = ldg_txn_layout(t);
    if (layout < 0)
        return layout;
    if (layout >= LDG_LAYOUT_NEWEST)
        return 0;
    if (t->l != NULL)
        ldg_seterr(t->l,
                   "%s is at store layout %d, and this build appends to "
                   "layout %d only: run `" LDG_CMD_MIGRATE "` (it converts the "
                   "ledger in place and may be stopped at any point; stop "
                   "`" LDG_CMD_SERVE "` first if it serves the ledger), then "
                   "try again",
                   t->l->dir, layout, LDG_LAYOUT_NEWEST);
    return LDG_EVERSION;
}

int
ldg_check_writable(struct ldg_ledger *l)
{
    struct ldg_txn *t;
    int rc;
    if (l == NULL)
        return LDG_EINVAL;
    if ((rc = ldg_txn_begin(l, LDG_TXN_READ, &t)) < 0)
        return rc;
    rc = ldg_txn_writable(t);
    if (rc == LDG_EVERSION) /* said to a server's operator, with the dir */
        ldg_seterr(l,
                   "%s is at store layout %d, and this build appends to "
                   "layout %d only: every event would be refused until "
                   "`" LDG_CMD_MIGRATE_IN "` converts it (in place; it may be "
                   "stopped at any point)",
                   l->dir, ldg_txn_layout(t), LDG_LAYOUT_NEWEST, l->dir);
    ldg_txn_abort(t);
    return rc;
}

_Static_assert(LDG_LAYOUT_MAX == LDG_LAYOUT_NEWEST,
               "format.h and ledger.h name the same newest layout");

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
ldg_txn_set_reader(struct ldg_txn *t, uint64_t events)
{
    t->reader = 1;
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
        return xlate(rc);
    *dbi = d;
    return 0;
}

int
ldg_db_count(struct ldg_txn *t, ldg_dbi dbi, uint64_t *n)
{
    MDB_stat st;
    int rc = mdb_stat(t->txn, dbi, &st);
    if (rc != 0)
        return xlate(rc);
    *n = st.ms_entries;
    if (t->ov != NULL) {
        struct ldg_ovl_map *m = ovl_map_of(t, dbi, 0);
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
        return xlate(rc);
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

/*
 * A transaction with an overlay reads an LMDB snapshot (a read
 * transaction) and keeps its writes in memory (overlay.c): every get,
 * put, delete and cursor step of this file's wrappers sees the snapshot
 * with the overlay's changes over it, as a write transaction would see
 * its own changes, so the append path's code runs on it unchanged.
 *
 * A cursor merges two ordered sources: the snapshot's records through an
 * LMDB cursor, less those the overlay hides (a node of the same key, or
 * pair in a database of duplicates, a deleted key, a cleared database),
 * and the overlay's live nodes. It keeps the next candidate of each in
 * the direction it last moved, and steps the one it took; after a change
 * to the overlay (its version moved) or a turn, it seeks both again from
 * the item it is on. Page counts (ldg_db_bytes, sizes, the page check)
 * are the snapshot's.
 */
static int
dbi_dup(MDB_txn *txn, MDB_dbi dbi)
{
    unsigned f = 0;
    return mdb_dbi_flags(txn, dbi, &f) == 0 && (f & MDB_DUPSORT);
}

static struct ldg_ovl_map *
ovl_map_of(struct ldg_txn *t, MDB_dbi dbi, int create)
{
    return ldg_ovl_map(t->ov, dbi, dbi_dup(t->txn, dbi), create);
}

/* Does the overlay leave the snapshot's record (k, v) visible? */
static int
base_visible(const struct ldg_ovl_map *m, const MDB_val *k, const MDB_val *v)
{
    if (m == NULL)
        return 1;
    if (ldg_ovl_map_cleared(m))
        return 0;
    if (!ldg_ovl_map_dup(m))
        return ldg_ovl_find(m, k->mv_data, k->mv_size, NULL, 0) == NULL;
    return ldg_ovl_keydel(m, k->mv_data, k->mv_size) == NULL &&
           ldg_ovl_find(m, k->mv_data, k->mv_size, v->mv_data, v->mv_size) ==
               NULL;
}

static int
node_live(const struct ldg_ovl_node *n)
{
    const uint8_t *k, *v;
    size_t kl, vl;
    unsigned f;
    ldg_ovl_node_get(n, &k, &kl, &v, &vl, &f);
    return !(f & (LDG_OVL_DEL | LDG_OVL_KEYDEL));
}

static void
node_item(const struct ldg_ovl_node *n, struct ovl_item *it)
{
    ldg_ovl_node_get(n, &it->k, &it->kl, &it->v, &it->vl, NULL);
}

/* The overlay's first live node from n on, in direction dir. */
static const struct ldg_ovl_node *
ovl_live(const struct ldg_ovl_map *m, const struct ldg_ovl_node *n, int dir)
{
    while (n != NULL && !node_live(n))
        n = dir > 0 ? ldg_ovl_next(n) : ldg_ovl_prev(m, n);
    return n;
}

/* Moves the base cursor by op, then on in direction dir past what the
 * overlay hides; c->b_ok and c->b say where it is. */
static int
base_move(struct ldg_cursor *c, const struct ldg_ovl_map *m, MDB_cursor_op op,
          int dir)
{
    MDB_val k, v;
    int rc = mdb_cursor_get(c->c, &k, &v, op);
    while (rc == 0 && !base_visible(m, &k, &v))
        rc = mdb_cursor_get(c->c, &k, &v, dir > 0 ? MDB_NEXT : MDB_PREV);
    c->b_ok = rc == 0;
    if (rc == 0) {
        c->b.k = k.mv_data;
        c->b.kl = k.mv_size;
        c->b.v = v.mv_data;
        c->b.vl = v.mv_size;
        return 0;
    }
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* The base cursor on the snapshot's first record at or after (k, v)
 * (strict: after), without regard to the overlay. v NULL: the key's
 * first; LDG_OVL_VMAX: past its last. MDB_NOTFOUND past the end. */
static int
base_seek_raw(struct ldg_cursor *c, const void *key, size_t kl, const void *val,
              size_t vl, int strict)
{
    MDB_val k = {kl, (void *)(uintptr_t)key}, v = {vl, (void *)(uintptr_t)val};
    int rc;

    if (!c->dup || val == NULL) {
        rc = mdb_cursor_get(c->c, &k, &v, MDB_SET_RANGE);
        if (rc == 0 && strict && k.mv_size == kl &&
            (kl == 0 || memcmp(k.mv_data, key, kl) == 0))
            rc = mdb_cursor_get(c->c, &k, &v,
                                c->dup ? MDB_NEXT_NODUP : MDB_NEXT);
        return rc;
    }
    if (val != LDG_OVL_VMAX) {
        rc = mdb_cursor_get(c->c, &k, &v, MDB_GET_BOTH_RANGE);
        if (rc == 0) {
            if (strict && v.mv_size == vl &&
                (vl == 0 || memcmp(v.mv_data, val, vl) == 0))
                rc = mdb_cursor_get(c->c, &k, &v, MDB_NEXT);
            return rc;
        }
        if (rc != MDB_NOTFOUND)
            return rc;
    }
    /* past every duplicate of key: the next key's first */
    k.mv_size = kl;
    k.mv_data = (void *)(uintptr_t)key;
    rc = mdb_cursor_get(c->c, &k, &v, MDB_SET_RANGE);
    if (rc == 0 && k.mv_size == kl &&
        (kl == 0 || memcmp(k.mv_data, key, kl) == 0))
        rc = mdb_cursor_get(c->c, &k, &v, MDB_NEXT_NODUP);
    return rc;
}

/* The snapshot's candidate at or after (strict: after) (k, v), dir +1, or
 * at or before (strict: before), dir -1, past what the overlay hides. */
static int
base_seek(struct ldg_cursor *c, const struct ldg_ovl_map *m, const void *k,
          size_t kl, const void *v, size_t vl, int strict, int dir)
{
    int rc;
    if (m != NULL && ldg_ovl_map_cleared(m)) {
        c->b_ok = 0;
        return 0;
    }
    if (dir > 0) {
        rc = base_seek_raw(c, k, kl, v, vl, strict);
        if (rc == MDB_NOTFOUND) {
            c->b_ok = 0;
            return 0;
        }
        if (rc != 0)
            return rc;
        return base_move(c, m, MDB_GET_CURRENT, +1);
    }
    /* before: the one before the first that is not */
    rc = base_seek_raw(c, k, kl, v, vl, !strict);
    if (rc == MDB_NOTFOUND)
        return base_move(c, m, MDB_LAST, -1);
    if (rc != 0)
        return rc;
    return base_move(c, m, MDB_PREV, -1);
}

static void
ovl_seek(struct ldg_cursor *c, const struct ldg_ovl_map *m, const void *k,
         size_t kl, const void *v, size_t vl, int strict, int dir)
{
    if (m == NULL) {
        c->o = NULL;
        return;
    }
    c->o = dir > 0 ? ldg_ovl_seek(m, k, kl, v, vl, strict)
                   : ldg_ovl_seek_le(m, k, kl, v, vl, strict);
    c->o = ovl_live(m, c->o, dir);
}

/* Takes the nearer candidate in direction dir as the cursor's item. */
static int
pick(struct ldg_cursor *c, int dir)
{
    struct ovl_item oi;
    int take_o;
    c->dir = dir;
    c->ver = ldg_ovl_version(c->t->ov);
    c->deleted = 0;
    if (c->o != NULL)
        node_item(c->o, &oi);
    if (!c->b_ok && c->o == NULL) {
        c->pos = 0;
        return MDB_NOTFOUND;
    }
    if (!c->b_ok)
        take_o = 1;
    else if (c->o == NULL)
        take_o = 0;
    else
        take_o = ldg_ovl_cmp(c->dup, oi.k, oi.kl, oi.v, oi.vl, c->b.k, c->b.kl,
                             c->b.v, c->b.vl) *
                     dir <
                 0;
    c->from_o = take_o;
    c->cur = take_o ? oi : c->b;
    c->pos = 1;
    return 0;
}

/* Both sources sought from (k, v), then the nearer taken. */
static int
seek_both(struct ldg_cursor *c, const void *k, size_t kl, const void *v,
          size_t vl, int strict, int dir)
{
    struct ldg_ovl_map *m = ovl_map_of(c->t, c->dbi, 0);
    int rc = base_seek(c, m, k, kl, v, vl, strict, dir);
    if (rc != 0)
        return rc;
    ovl_seek(c, m, k, kl, v, vl, strict, dir);
    return pick(c, dir);
}

/* One step in direction dir from the cursor's item. */
static int
step(struct ldg_cursor *c, int dir)
{
    struct ldg_ovl_map *m = ovl_map_of(c->t, c->dbi, 0);
    int rc;
    if (c->dir != dir || c->ver != ldg_ovl_version(c->t->ov)) {
        struct ovl_item at = c->cur;
        return seek_both(c, at.k, at.kl, c->dup ? at.v : NULL, at.vl, 1, dir);
    }
    if (c->from_o) {
        c->o = dir > 0 ? ldg_ovl_next(c->o) : ldg_ovl_prev(m, c->o);
        c->o = ovl_live(m, c->o, dir);
    } else if ((rc = base_move(c, m, dir > 0 ? MDB_NEXT : MDB_PREV, dir)) !=
               0) {
        return rc;
    }
    return pick(c, dir);
}

static int
same_key(const struct ovl_item *a, const void *k, size_t kl)
{
    return a->kl == kl && (kl == 0 || memcmp(a->k, k, kl) == 0);
}

static int
ovl_cursor_get(struct ldg_cursor *c, enum ldg_seek op, const void *key,
               size_t klen, struct ldg_val *k, struct ldg_val *v)
{
    struct ldg_ovl_map *m = ovl_map_of(c->t, c->dbi, 0);
    struct ovl_item save = c->cur;
    int rc, pos = c->pos;

    switch (op) {
    case LDG_FIRST:
        c->b_ok = 0;
        if ((m == NULL || !ldg_ovl_map_cleared(m)) &&
            (rc = base_move(c, m, MDB_FIRST, +1)) != 0)
            return xlate(rc);
        c->o = m != NULL ? ovl_live(m, ldg_ovl_first(m), +1) : NULL;
        rc = pick(c, +1);
        break;
    case LDG_LAST:
        c->b_ok = 0;
        if ((m == NULL || !ldg_ovl_map_cleared(m)) &&
            (rc = base_move(c, m, MDB_LAST, -1)) != 0)
            return xlate(rc);
        c->o = m != NULL ? ovl_live(m, ldg_ovl_last(m), -1) : NULL;
        rc = pick(c, -1);
        break;
    case LDG_NEXT:
    case LDG_PREV:
        if (!pos)
            return ovl_cursor_get(c, op == LDG_NEXT ? LDG_FIRST : LDG_LAST,
                                  NULL, 0, k, v);
        rc = step(c, op == LDG_NEXT ? +1 : -1);
        break;
    case LDG_SET_RANGE:
    case LDG_SET_KEY:
        rc = seek_both(c, key, klen, NULL, 0, 0, +1);
        if (rc == 0 && op == LDG_SET_KEY && !same_key(&c->cur, key, klen)) {
            c->pos = 0;
            rc = MDB_NOTFOUND;
        }
        break;
    case LDG_GET_BOTH_RANGE:
        if (v == NULL)
            return LDG_EINVAL;
        rc = seek_both(c, key, klen, v->data, v->len, 0, +1);
        if (rc == 0 && !same_key(&c->cur, key, klen)) {
            c->pos = 0;
            rc = MDB_NOTFOUND;
        }
        break;
    case LDG_NEXT_DUP:
    case LDG_PREV_DUP:
        if (!pos || c->deleted)
            return LDG_ENOTFOUND;
        rc = step(c, op == LDG_NEXT_DUP ? +1 : -1);
        if (rc == 0 && !same_key(&c->cur, save.k, save.kl))
            rc = MDB_NOTFOUND;
        if (rc == MDB_NOTFOUND) {
            /* stays on the item it was on, as LMDB's does */
            c->cur = save;
            c->pos = 1;
            c->ver = ldg_ovl_version(c->t->ov) - 1; /* candidates stale */
            return LDG_ENOTFOUND;
        }
        break;
    case LDG_LAST_DUP:
        if (!pos)
            return LDG_EINVAL;
        rc = seek_both(c, save.k, save.kl, c->dup ? LDG_OVL_VMAX : NULL, 0, 0,
                       -1);
        break;
    case LDG_NEXT_NODUP:
        if (!pos)
            return ovl_cursor_get(c, LDG_FIRST, NULL, 0, k, v);
        rc = seek_both(c, save.k, save.kl, c->dup ? LDG_OVL_VMAX : NULL, 0,
                       !c->dup, +1);
        break;
    default:
        return LDG_EINVAL;
    }
    if (rc != 0)
        return xlate(rc);
    if (k != NULL) {
        k->data = c->cur.k;
        k->len = c->cur.kl;
    }
    if (v != NULL) {
        v->data = c->cur.v;
        v->len = c->cur.vl;
    }
    return 0;
}

/* Is (k, v) (v unused without duplicates) in t's view? *val gets the
 * value. */
static int
ovl_get(struct ldg_txn *t, MDB_dbi dbi, const void *key, size_t klen,
        const void *val, size_t vlen, struct ldg_val *out)
{
    struct ldg_ovl_map *m = ovl_map_of(t, dbi, 0);
    MDB_val k = {klen, (void *)(uintptr_t)key},
            v = {vlen, (void *)(uintptr_t)val};
    const struct ldg_ovl_node *n;
    int rc;

    if (m != NULL && (n = ldg_ovl_find(m, key, klen, val, vlen)) != NULL) {
        const uint8_t *nk, *nv;
        size_t nkl, nvl;
        unsigned f;
        ldg_ovl_node_get(n, &nk, &nkl, &nv, &nvl, &f);
        if (f & (LDG_OVL_DEL | LDG_OVL_KEYDEL))
            return LDG_ENOTFOUND;
        if (out != NULL) {
            out->data = nv;
            out->len = nvl;
        }
        return 0;
    }
    if (m != NULL && (ldg_ovl_map_cleared(m) ||
                      (val != NULL && ldg_ovl_keydel(m, key, klen) != NULL)))
        return LDG_ENOTFOUND;
    if (val == NULL) {
        rc = mdb_get(t->txn, dbi, &k, &v);
    } else {
        MDB_cursor *c;
        if ((rc = mdb_cursor_open(t->txn, dbi, &c)) != 0)
            return xlate(rc);
        rc = mdb_cursor_get(c, &k, &v, MDB_GET_BOTH);
        mdb_cursor_close(c);
    }
    if (rc == 0 && out != NULL) {
        out->data = v.mv_data;
        out->len = v.mv_size;
    }
    return xlate(rc);
}

/* The first of key's values in t's view (a database of duplicates: its
 * first duplicate). */
static int
ovl_kv_get(struct ldg_txn *t, MDB_dbi dbi, const void *key, size_t klen,
           struct ldg_val *val)
{
    struct ldg_cursor *c;
    int rc;
    if (!dbi_dup(t->txn, dbi))
        return ovl_get(t, dbi, key, klen, NULL, 0, val);
    if ((rc = ldg_cursor_open(t, dbi, &c)) < 0)
        return rc;
    rc = ldg_cursor_get(c, LDG_SET_KEY, key, klen, NULL, val);
    ldg_cursor_close(c);
    return rc;
}

/* Puts (k, v): a new value of k, or a duplicate of it. */
static int
ovl_put(struct ldg_txn *t, MDB_dbi dbi, const void *key, size_t klen,
        const void *val, size_t vlen)
{
    struct ldg_ovl_map *m = ovl_map_of(t, dbi, 1);
    int dup, had;
    if (m == NULL)
        return LDG_ENOMEM;
    dup = ldg_ovl_map_dup(m);
    if (klen == 0 || klen > 511 || (dup && vlen > 511))
        return LDG_ECORRUPT; /* LMDB's MDB_BAD_VALSIZE */
    had = ovl_get(t, dbi, key, klen, dup ? val : NULL, vlen, NULL) == 0;
    if (dup && had)
        return 0;
    if (ldg_ovl_set(t->ov, m, key, klen, val, vlen, 0) < 0)
        return LDG_ENOMEM;
    if (!had)
        ldg_ovl_map_add_delta(m, 1);
    return 0;
}

static int
ovl_del(struct ldg_txn *t, MDB_dbi dbi, const void *key, size_t klen,
        const void *val, size_t vlen)
{
    struct ldg_ovl_map *m = ovl_map_of(t, dbi, 1);
    struct ldg_cursor *c;
    int64_t n = 0;
    int rc;

    if (m == NULL)
        return LDG_ENOMEM;
    if (!ldg_ovl_map_dup(m) || val != NULL) {
        if ((rc = ovl_get(t, dbi, key, klen, ldg_ovl_map_dup(m) ? val : NULL,
                          vlen, NULL)) < 0)
            return rc;
        if (ldg_ovl_set(t->ov, m, key, klen, val, vlen, LDG_OVL_DEL) < 0)
            return LDG_ENOMEM;
        ldg_ovl_map_add_delta(m, -1);
        return 0;
    }
    /* every duplicate of key: the overlay's are deleted one by one, the
     * snapshot's hidden at once */
    if ((rc = ldg_cursor_open(t, dbi, &c)) < 0)
        return rc;
    for (rc = ldg_cursor_get(c, LDG_SET_KEY, key, klen, NULL, NULL); rc == 0;
         rc = ldg_cursor_get(c, LDG_NEXT_DUP, NULL, 0, NULL, NULL))
        n++;
    ldg_cursor_close(c);
    if (rc != LDG_ENOTFOUND)
        return rc;
    if (n == 0)
        return LDG_ENOTFOUND;
    for (const struct ldg_ovl_node *o = ldg_ovl_seek(m, key, klen, NULL, 0, 0);
         o != NULL; o = ldg_ovl_next(o)) {
        struct ovl_item it;
        node_item(o, &it);
        if (!same_key(&it, key, klen))
            break;
        if (node_live(o) &&
            ldg_ovl_set(t->ov, m, it.k, it.kl, it.v, it.vl, LDG_OVL_DEL) < 0)
            return LDG_ENOMEM;
    }
    if (ldg_ovl_set(t->ov, m, key, klen, NULL, 0, LDG_OVL_KEYDEL) < 0)
        return LDG_ENOMEM;
    ldg_ovl_map_add_delta(m, -n);
    return 0;
}

/* The greatest key in t's view of dbi (LDG_ENOTFOUND when empty). */
static int
ovl_last_key(struct ldg_txn *t, MDB_dbi dbi, struct ldg_val *k)
{
    struct ldg_cursor *c;
    int rc;
    if ((rc = ldg_cursor_open(t, dbi, &c)) < 0)
        return rc;
    rc = ldg_cursor_get(c, LDG_LAST, NULL, 0, k, NULL);
    ldg_cursor_close(c);
    return rc;
}

int
ldg_store_txn_begin_overlay(struct ldg_store *s, struct ldg_ledger *l,
                            struct ldg_txn **out)
{
    int rc = ldg_store_txn_begin(s, l, 0, out);
    if (rc < 0)
        return rc;
    if (((*out)->ov = ldg_ovl_new()) == NULL) {
        ldg_txn_abort(*out);
        *out = NULL;
        return LDG_ENOMEM;
    }
    return 0;
}

int
ldg_txn_is_overlay(const struct ldg_txn *t)
{
    return t != NULL && t->ov != NULL;
}

size_t
ldg_txn_overlay_bytes(const struct ldg_txn *t)
{
    return t->ov != NULL ? ldg_ovl_bytes(t->ov) : 0;
}

/* Is dbi one of the core's databases? Those are written only by ledger/
 * (ldg_core_kv_put and friends), so append-only is a property of the API
 * and not a convention: the public writers refuse them. */
static int
refuse_core(struct ldg_txn *t, ldg_dbi dbi, const char *what)
{
    for (int i = 0; i < LDG_CORE_DBS; i++) {
        if (t->s->core[i] == dbi && !t->s->missing[i]) {
            if (t->l != NULL)
                ldg_seterr(t->l,
                           "%s: database '%s' belongs to the core and is "
                           "written only through ledger.h's append path",
                           what, ldg_core_db_names[i]);
            return 1;
        }
    }
    return 0;
}

int
ldg_db_drop(struct ldg_txn *t, ldg_dbi dbi, int del)
{
    if (t == NULL || refuse_core(t, dbi, "ldg_db_drop"))
        return LDG_EINVAL;
    return ldg_core_db_drop(t, dbi, del);
}

int
ldg_core_db_drop(struct ldg_txn *t, ldg_dbi dbi, int del)
{
    if (t->ov != NULL) {
        struct ldg_ovl_map *m;
        uint64_t n = 0;
        int rc;
        if (del) /* a database cannot leave a snapshot */
            return LDG_EINVAL;
        if ((rc = ldg_db_count(t, dbi, &n)) < 0)
            return rc;
        if ((m = ovl_map_of(t, dbi, 1)) == NULL)
            return LDG_ENOMEM;
        ldg_ovl_map_clear(t->ov, m);
        {
            MDB_stat st;
            if ((rc = mdb_stat(t->txn, dbi, &st)) != 0)
                return xlate(rc);
            ldg_ovl_map_add_delta(m, -(int64_t)st.ms_entries);
        }
        return 0;
    }
    return xlate(mdb_drop(t->txn, dbi, del ? 1 : 0));
}

int
ldg_kv_get(struct ldg_txn *t, ldg_dbi dbi, const void *key, size_t klen,
           struct ldg_val *val)
{
    MDB_val k = {klen, (void *)(uintptr_t)key}, v;
    int rc;
    if (t->ov != NULL)
        return ovl_kv_get(t, dbi, key, klen, val);
    rc = mdb_get(t->txn, dbi, &k, &v);
    if (rc != 0)
        return xlate(rc);
    val->data = v.mv_data;
    val->len = v.mv_size;
    return 0;
}

int
ldg_kv_put(struct ldg_txn *t, ldg_dbi dbi, const void *key, size_t klen,
           const void *val, size_t vlen)
{
    if (t == NULL || refuse_core(t, dbi, "ldg_kv_put"))
        return LDG_EINVAL;
    return ldg_core_kv_put(t, dbi, key, klen, val, vlen);
}

int
ldg_core_kv_put(struct ldg_txn *t, ldg_dbi dbi, const void *key, size_t klen,
                const void *val, size_t vlen)
{
    MDB_val k = {klen, (void *)(uintptr_t)key};
    MDB_val v = {vlen, (void *)(uintptr_t)val};
    if (t->ov != NULL)
        return ovl_put(t, dbi, key, klen, val, vlen);
    return xlate(mdb_put(t->txn, dbi, &k, &v, 0));
}

int
ldg_kv_put_new(struct ldg_txn *t, ldg_dbi dbi, const void *key, size_t klen,
               const void *val, size_t vlen)
{
    MDB_val k = {klen, (void *)(uintptr_t)key};
    MDB_val v = {vlen, (void *)(uintptr_t)val};
    if (t->ov != NULL) {
        /* as MDB_APPEND: a key not past the last is refused */
        struct ldg_val last;
        int rc = ovl_last_key(t, dbi, &last);
        if (rc == 0 && ldg_ovl_cmp(0, key, klen, NULL, 0, last.data, last.len,
                                   NULL, 0) <= 0)
            return LDG_EEXIST;
        if (rc < 0 && rc != LDG_ENOTFOUND)
            return rc;
        return ovl_put(t, dbi, key, klen, val, vlen);
    }
    return xlate(mdb_put(t->txn, dbi, &k, &v, MDB_NOOVERWRITE | MDB_APPEND));
}

/* One more duplicate, the greatest of its key as a rule (an index's seq):
 * appended without a search of the duplicates; one that is not the
 * greatest goes in the ordinary way, and one already there is left. */
int
ldg_core_kv_put_dup(struct ldg_txn *t, ldg_dbi dbi, const void *key,
                    size_t klen, const void *val, size_t vlen)
{
    MDB_val k = {klen, (void *)(uintptr_t)key};
    MDB_val v = {vlen, (void *)(uintptr_t)val};
    int rc;
    if (t->ov != NULL)
        return ovl_put(t, dbi, key, klen, val, vlen);
    rc = mdb_put(t->txn, dbi, &k, &v, MDB_APPENDDUP);
    if (rc == MDB_KEYEXIST) {
        k.mv_size = klen;
        k.mv_data = (void *)(uintptr_t)key;
        v.mv_size = vlen;
        v.mv_data = (void *)(uintptr_t)val;
        rc = mdb_put(t->txn, dbi, &k, &v, MDB_NODUPDATA);
        if (rc == MDB_KEYEXIST)
            rc = 0;
    }
    return xlate(rc);
}

/* n duplicates of `each` bytes at vals, ascending and past key's others,
 * in requests of many (MDB_MULTIPLE): a new key that sorts last goes in
 * without a search (MDB_APPEND), a key there already gets them at the end
 * of its duplicates (MDB_APPENDDUP), anything else the ordinary way. */
int
ldg_core_kv_put_dups(struct ldg_txn *t, ldg_dbi dbi, const void *key,
                     size_t klen, const void *vals, size_t each, size_t n)
{
    static const unsigned tries[] = {MDB_MULTIPLE | MDB_APPEND | MDB_APPENDDUP,
                                     MDB_MULTIPLE | MDB_APPENDDUP,
                                     MDB_MULTIPLE};
    const uint8_t *p = vals;
    MDB_cursor *c = NULL;
    size_t i = 0;
    int rc;

    if (t->ov != NULL) {
        for (size_t j = 0; j < n; j++)
            if ((rc = ovl_put(t, dbi, key, klen, p + j * each, each)) < 0)
                return rc;
        return 0;
    }
    rc = mdb_cursor_open(t->txn, dbi, &c);

    while (rc == 0 && n > 0) {
        MDB_val k = {klen, (void *)(uintptr_t)key};
        MDB_val d[2] = {{each, (void *)(uintptr_t)p}, {n, NULL}};
        rc = mdb_cursor_put(c, &k, d, tries[i]);
        if (rc == MDB_KEYEXIST && i + 1 < sizeof tries / sizeof tries[0]) {
            i++;
            rc = 0;
            continue;
        }
        if (rc == 0) {
            size_t done = d[1].mv_size ? d[1].mv_size : n;
            p += done * each;
            n -= done < n ? done : n;
        }
    }
    if (c != NULL)
        mdb_cursor_close(c);
    return xlate(rc);
}

int
ldg_core_kv_get_both(struct ldg_txn *t, ldg_dbi dbi, const void *key,
                     size_t klen, const void *val, size_t vlen)
{
    MDB_val k = {klen, (void *)(uintptr_t)key};
    MDB_val v = {vlen, (void *)(uintptr_t)val};
    MDB_cursor *c;
    int rc;
    if (t->ov != NULL)
        return ovl_get(t, dbi, key, klen, val, vlen, NULL);
    rc = mdb_cursor_open(t->txn, dbi, &c);
    if (rc != 0)
        return xlate(rc);
    rc = mdb_cursor_get(c, &k, &v, MDB_GET_BOTH);
    mdb_cursor_close(c);
    return xlate(rc);
}

int
ldg_kv_del(struct ldg_txn *t, ldg_dbi dbi, const void *key, size_t klen,
           const void *val, size_t vlen)
{
    if (t == NULL || refuse_core(t, dbi, "ldg_kv_del"))
        return LDG_EINVAL;
    return ldg_core_kv_del(t, dbi, key, klen, val, vlen);
}

int
ldg_core_kv_del(struct ldg_txn *t, ldg_dbi dbi, const void *key, size_t klen,
                const void *val, size_t vlen)
{
    MDB_val k = {klen, (void *)(uintptr_t)key};
    MDB_val v = {vlen, (void *)(uintptr_t)val};
    if (t->ov != NULL)
        return ovl_del(t, dbi, key, klen, val, vlen);
    return xlate(mdb_del(t->txn, dbi, &k, val ? &v : NULL));
}

int
ldg_cursor_del(struct ldg_cursor *c)
{
    if (c->t != NULL) {
        int rc;
        if (!c->pos || c->deleted)
            return LDG_EINVAL;
        rc = ovl_del(c->t, c->dbi, c->cur.k, c->cur.kl,
                     c->dup ? c->cur.v : NULL, c->cur.vl);
        c->deleted = rc == 0;
        return rc;
    }
    return xlate(mdb_cursor_del(c->c, 0));
}

int
ldg_cursor_put_current(struct ldg_cursor *c, const void *val, size_t vlen)
{
    MDB_val k, v = {vlen, (void *)(uintptr_t)val};
    uint8_t key[512]; /* the key lies in the page the put rewrites */
    int rc;
    if (c->t != NULL) {
        if (!c->pos || c->deleted || c->dup)
            return LDG_EINVAL;
        if ((rc = ovl_put(c->t, c->dbi, c->cur.k, c->cur.kl, val, vlen)) < 0)
            return rc;
        {
            struct ldg_ovl_map *m = ovl_map_of(c->t, c->dbi, 0);
            const struct ldg_ovl_node *n =
                ldg_ovl_find(m, c->cur.k, c->cur.kl, NULL, 0);
            node_item(n, &c->cur);
            c->from_o = 1;
            c->o = n;
        }
        return 0;
    }
    rc = mdb_cursor_get(c->c, &k, NULL, MDB_GET_CURRENT);
    if (rc == 0 && k.mv_size > sizeof key)
        return LDG_EINVAL;
    if (rc == 0) {
        memcpy(key, k.mv_data, k.mv_size);
        k.mv_data = key;
        rc = mdb_cursor_put(c->c, &k, &v, MDB_CURRENT);
    }
    return xlate(rc);
}

int
ldg_cursor_open(struct ldg_txn *t, ldg_dbi dbi, struct ldg_cursor **out)
{
    struct ldg_cursor *c = calloc(1, sizeof *c);
    int rc;
    *out = NULL;
    if (c == NULL)
        return LDG_ENOMEM;
    rc = mdb_cursor_open(t->txn, dbi, &c->c);
    if (rc != 0) {
        free(c);
        return xlate(rc);
    }
    if (t->ov != NULL) {
        c->t = t;
        c->dbi = dbi;
        c->dup = dbi_dup(t->txn, dbi);
    }
    *out = c;
    return 0;
}

/*
 * Cache lines asked for ahead of a cursor step. LMDB puts each node it
 * adds to a leaf page just below the one before (mp_upper grows down), and
 * the log's databases are written in key order, so the next record of a
 * forward walk lies just below this one's node header (8 bytes before its
 * key) and the next of a backward walk just above its data. A walk over a
 * window of the log reads page after page that no cache holds: without
 * the hint each step stalls on its node's first line (84% of the samples
 * of mdb_cursor_next, in a 196,000-event time window, bench/RESULTS.md);
 * with it the lines are on their way a step or two early. 12 lines cover
 * about two entries or one and a half bodies; 6 to 32 measured the same.
 * A hint costs nothing when it is wrong (a page split, the end of a page):
 * a prefetch never faults.
 */
#ifndef PREFETCH_LINES
#define PREFETCH_LINES 12
#endif

int
ldg_cursor_get(struct ldg_cursor *c, enum ldg_seek op, const void *key,
               size_t klen, struct ldg_val *k, struct ldg_val *v)
{
    MDB_val mk = {klen, (void *)(uintptr_t)key}, mv = {0, NULL};
    MDB_cursor_op mop;
    int rc;

    /* an overlay's cursor merges; a reader's overlay holds what its tail
     * replayed and never changes after, so a database it left alone is
     * read as LMDB keeps it */
    if (c->t != NULL && !c->plain) {
        if (!c->t->reader || ovl_map_of(c->t, c->dbi, 0) != NULL)
            return ovl_cursor_get(c, op, key, klen, k, v);
        c->plain = 1;
    }
    switch (op) {
    case LDG_FIRST:
        mop = MDB_FIRST;
        break;
    case LDG_LAST:
        mop = MDB_LAST;
        break;
    case LDG_NEXT:
        mop = MDB_NEXT;
        break;
    case LDG_PREV:
        mop = MDB_PREV;
        break;
    case LDG_SET_RANGE:
        mop = MDB_SET_RANGE;
        break;
    case LDG_SET_KEY:
        mop = MDB_SET_KEY;
        break;
    case LDG_GET_BOTH_RANGE:
        if (v == NULL)
            return LDG_EINVAL;
        mop = MDB_GET_BOTH_RANGE;
        mv.mv_size = v->len;
        mv.mv_data = (void *)(uintptr_t)v->data;
        break;
    case LDG_NEXT_DUP:
        mop = MDB_NEXT_DUP;
        break;
    case LDG_PREV_DUP:
        mop = MDB_PREV_DUP;
        break;
    case LDG_LAST_DUP:
        mop = MDB_LAST_DUP;
        break;
    case LDG_NEXT_NODUP:
        mop = MDB_NEXT_NODUP;
        break;
    default:
        return LDG_EINVAL;
    }
    rc = mdb_cursor_get(c->c, &mk, &mv, mop);
    if (rc != 0)
        return xlate(rc);
    if (op == LDG_LAST_DUP) {
        /* LMDB gives the data only; the key is the cursor's */
        MDB_val dk, dv;
        if (mdb_cursor_get(c->c, &dk, &dv, MDB_GET_CURRENT) == 0)
            mk = dk;
    } else if (op < LDG_SET_KEY) {
        /* (in this function's body: gcc drops a helper holding only
         * prefetches as a pure call whose result is unused) */
        if (mop == MDB_PREV || mop == MDB_LAST) {
            const char *p = (const char *)mv.mv_data + mv.mv_size;
            for (int i = 0; i < PREFETCH_LINES; i++)
                __builtin_prefetch(p + 64 * i);
        } else {
            const char *p = (const char *)mk.mv_data - 8;
            for (int i = 1; i <= PREFETCH_LINES; i++)
                __builtin_prefetch(p - 64 * i);
        }
    }
    if (k != NULL) {
        k->data = mk.mv_data;
        k->len = mk.mv_size;
    }
    if (v != NULL) {
        v->data = mv.mv_data;
        v->len = mv.mv_size;
    }
    return 0;
}

void
ldg_cursor_close(struct ldg_cursor *c)
{
    if (c == NULL)
        return;
    mdb_cursor_close(c->c);
    free(c);
}

const char *
ldg_store_lib_version(void)
{
    static char v[48];
    int a, b, c;
    mdb_version(&a, &b, &c);
    snprintf(v, sizeof v, "lmdb %d.%d.%d", a, b, c);
    return v;
}

/* ------------------------------------------------------- page structure -- */

/*
 * ldg_store_check_pages: LMDB has no page checksums and trusts its pages,
 * and a damaged page that every read still gets through (a flag, a count,
 * a key that sorts wrong) can turn into lost or misplaced records at the
 * next write. So `verify --full` walks every B-tree of the snapshot as
 * stored, page by page, the way mdb.c lays them out (LMDB 0.9's on-disk
 * format, frozen for the 0.9 series: lmdb.h and mdb.c's MDB_meta, MDB_db,
 * MDB_page and MDB_node), through a read-only map of data.mdb of its own.
 * Checked: each page is where its number says and reached once, of the
 * kind its depth calls for (branch above, leaf at the database's depth,
 * overflow for big values), its pointers and nodes inside it, its keys in
 * the database's order and inside the bounds its parent gives; each
 * database's page and entry counts are those its record holds; the free
 * list names only pages past the meta pages, up to the last one, and none
 * in use. docs/FORMAT.md §6 says so.
 */
#define PG_HDR 16
#define PG_BRANCH 0x01
#define PG_LEAF 0x02
#define PG_OVERFLOW 0x04
#define PG_LEAF2 0x20
#define PG_DIRTY 0x10
#define PG_SUBP 0x40
#define ND_BIGDATA 0x01
#define ND_SUBDATA 0x02
#define ND_DUPDATA 0x04
#define DB_REVERSEKEY 0x02
#define DB_DUPSORT 0x04
#define DB_INTEGERKEY 0x08
#define DB_REC_LEN 48
#define META_TXNID 128 /* in MDB_meta: 24 + 2 x 48 + mm_last_pg */

struct pgwalk {
    const uint8_t *map;
    size_t psize;
    uint64_t last;   /* the snapshot's last page */
    uint8_t *seen;   /* a bit per page */
    const char *db;  /* the database walked */
    unsigned dflags; /* its MDB_db flags */
    unsigned pad;    /* its MDB_db md_pad: the size of a LEAF2 page's keys */
    uint64_t branch, leaf, overflow, entries;
    char *what;
    size_t cap;
};

struct dbrec {
    unsigned pad, flags, depth;
    uint64_t branch, leaf, overflow, entries, root;
};

static uint16_t
rd16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

static uint32_t
rd32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static uint64_t
rd64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static void
dbrec_read(const uint8_t *p, struct dbrec *r)
{
    r->pad = rd32(p);
    r->flags = rd16(p + 4);
    r->depth = rd16(p + 6);
    r->branch = rd64(p + 8);
    r->leaf = rd64(p + 16);
    r->overflow = rd64(p + 24);
    r->entries = rd64(p + 32);
    r->root = rd64(p + 40);
}

static int pg_bad(struct pgwalk *w, uint64_t pg, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
pg_bad(struct pgwalk *w, uint64_t pg, const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(w->what, w->cap, "database '%s', page %llu: ", w->db,
                     (unsigned long long)pg);
    if (n > 0 && (size_t)n < w->cap) {
        va_start(ap, fmt);
        vsnprintf(w->what + n, w->cap - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return 1;
}

/* Marks page pg as reached: 0, or 1 with w->what when it cannot be. */
static int
pg_take(struct pgwalk *w, uint64_t pg)
{
    if (pg < 2 || pg > w->last)
        return pg_bad(w, pg, "a page number outside the file's pages 2..%llu",
                      (unsigned long long)w->last);
    if (w->seen[pg >> 3] & (1u << (pg & 7)))
        return pg_bad(w, pg, "reached twice");
    w->seen[pg >> 3] |= (uint8_t)(1u << (pg & 7));
    return 0;
}

/* The database's key order: integer keys by value (native order, as
 * mdb.c's cmp_int), others as bytes then length (memcmp order). */
static int
pg_cmp(const struct pgwalk *w, const uint8_t *a, size_t an, const uint8_t *b,
       size_t bn)
{
    size_t n;
    int c;
    if ((w->dflags & DB_INTEGERKEY) && an == bn && (an == 8 || an == 4)) {
        uint64_t x = an == 8 ? rd64(a) : rd32(a);
        uint64_t y = an == 8 ? rd64(b) : rd32(b);
        return x < y ? -1 : x > y;
    }
    n = an < bn ? an : bn;
    c = n ? memcmp(a, b, n) : 0;
    return c != 0 ? c : an < bn ? -1 : an > bn;
}

static int pg_tree(struct pgwalk *w, const char *db, unsigned dflags,
                   const struct dbrec *r);

/* n fixed-size keys of ks bytes packed from k0 (a LEAF2 page or sub-page
 * of room bytes, in page pg): they fit, ascend and lie in [lo, hi). */
static int
leaf2_check(struct pgwalk *w, uint64_t pg, const char *what, const uint8_t *k0,
            unsigned n, size_t ks, size_t room, const uint8_t *lo, size_t lon,
            const uint8_t *hi, size_t hin)
{
    if (ks == 0 || ks > room || PG_HDR + (size_t)n * ks > room)
        return pg_bad(w, pg, "%s: %u keys of %zu bytes do not fit its %zu",
                      what, n, ks, room);
    for (unsigned i = 0; i < n; i++) {
        const uint8_t *key = k0 + (size_t)i * ks;
        if ((i == 0 && lo != NULL && pg_cmp(w, key, ks, lo, lon) < 0) ||
            (i + 1 == n && hi != NULL && pg_cmp(w, key, ks, hi, hin) >= 0))
            return pg_bad(w, pg,
                          "%s: key %u is outside the range its parent "
                          "gives",
                          what, i);
        if (i > 0 && pg_cmp(w, key - ks, ks, key, ks) >= 0)
            return pg_bad(w, pg, "%s: key %u is not after the one before it",
                          what, i);
    }
    return 0;
}

/* A key's duplicates kept inside its leaf node (a sub-page of ds bytes at
 * sp, in node i of page pg): a leaf page of their own, whose items fit in
 * it and ascend (as bytes: the duplicate order of every database the
 * ledger keeps; w->dflags, the database's, has no integer order). LMDB
 * reads them through the sub-page's own header, so a damaged one would
 * send a read past its node. */
static int
subpage_check(struct pgwalk *w, uint64_t pg, unsigned i, const uint8_t *sp,
              size_t ds)
{
    const uint8_t *pk = NULL;
    size_t pkn = 0;
    unsigned fl, lower, upper, n;
    char what[48];

    snprintf(what, sizeof what, "node %u's duplicates", i);
    if (ds < PG_HDR)
        return pg_bad(w, pg, "%s (%zu bytes) have no page header", what, ds);
    fl = rd16(sp + 10) & ~PG_DIRTY; /* LMDB marks sub-pages dirty */
    lower = rd16(sp + 12);
    upper = rd16(sp + 14);
    if ((fl != (PG_LEAF | PG_SUBP) && fl != (PG_LEAF | PG_LEAF2 | PG_SUBP)) ||
        lower < PG_HDR + 2 || (lower & 1) || lower > upper || upper > ds)
        return pg_bad(w, pg,
                      "%s are not a sub-page (flags 0x%x, bounds %u..%u of "
                      "%zu)",
                      what, fl, lower, upper, ds);
    n = (lower - PG_HDR) / 2;
    if (fl & PG_LEAF2) /* their size is the sub-page's mp_pad */
        return leaf2_check(w, pg, what, sp + PG_HDR, n, rd16(sp + 8), ds, NULL,
                           0, NULL, 0);
    for (unsigned j = 0; j < n; j++) {
        unsigned off = rd16(sp + PG_HDR + 2 * j), kn;
        if (off < upper || off + 8 > ds || off + 8 + rd16(sp + off + 6) > ds)
            return pg_bad(w, pg, "%s: %u is outside them", what, j);
        kn = rd16(sp + off + 6);
        if (pk != NULL && pg_cmp(w, pk, pkn, sp + off + 8, kn) >= 0)
            return pg_bad(w, pg, "%s: %u is not after the one before it", what,
                          j);
        pk = sp + off + 8;
        pkn = kn;
    }
    return 0;
}

/* Page pg at level (1 = the root) of a tree depth deep, whose keys lie in
 * [lo, hi) (NULL: unbounded). 0, 1 with w->what, or -1 on memory. */
static int
pg_walk(struct pgwalk *w, uint64_t pg, unsigned level, unsigned depth,
        const uint8_t *lo, size_t lon, const uint8_t *hi, size_t hin)
{
    const uint8_t *p, *pk = NULL;
    size_t pkn = 0;
    unsigned flags, lower, upper, n;
    int leaf;

    if (pg_take(w, pg))
        return 1;
    p = w->map + pg * w->psize;
    if (rd64(p) != pg)
        return pg_bad(w, pg, "its header says page %llu",
                      (unsigned long long)rd64(p));
    flags = rd16(p + 10);
    leaf = level == depth;
    if (leaf ? flags != PG_LEAF && flags != (PG_LEAF | PG_LEAF2)
             : flags != PG_BRANCH)
        return pg_bad(w, pg,
                      "flags 0x%x where a %s page belongs (level %u of %u)",
                      flags, leaf ? "leaf" : "branch", level, depth);
    lower = rd16(p + 12);
    upper = rd16(p + 14);
    if (lower < PG_HDR + 2 || (lower & 1) || upper > w->psize || lower > upper)
        return pg_bad(w, pg, "free space bounds %u..%u are not a page's", lower,
                      upper);
    n = (lower - PG_HDR) / 2;
    if (leaf)
        w->leaf++;
    else
        w->branch++;
    if (flags & PG_LEAF2) {
        /* fixed-size keys of a sorted-duplicates sub-database, packed
         * without nodes from the header on: they fit, ascend and stay in
         * the parent's bounds */
        if (leaf2_check(w, pg, "packed keys", p + PG_HDR, n, w->pad, w->psize,
                        lo, lon, hi, hin) != 0)
            return 1;
        w->entries += n;
        return 0;
    }
    for (unsigned i = 0; i < n; i++) {
        unsigned off = rd16(p + PG_HDR + 2 * i);
        const uint8_t *nd = p + off, *key;
        unsigned nlo, nhi, nfl, ks;
        size_t ds;
        if (off < upper || off + 8 > w->psize)
            return pg_bad(w, pg,
                          "node %u at offset %u is outside the page's "
                          "records (%u..%zu)",
                          i, off, upper, w->psize);
        nlo = rd16(nd);
        nhi = rd16(nd + 2);
        nfl = rd16(nd + 4);
        ks = rd16(nd + 6);
        key = nd + 8;
        if (off + 8 + ks > w->psize)
            return pg_bad(w, pg, "node %u's key runs past the page", i);
        /* keys in order, within the parent's bounds; a branch's first
         * key is not stored (it stands for lo) */
        if (leaf || i > 0) {
            /* the keys ascend, so the first and the last keep the
             * bounds for all */
            if ((pk == NULL && lo != NULL && pg_cmp(w, key, ks, lo, lon) < 0) ||
                (i + 1 == n && hi != NULL && pg_cmp(w, key, ks, hi, hin) >= 0))
                return pg_bad(w, pg,
                              "node %u's key is outside the range its "
                              "parent gives this page",
                              i);
            if (pk != NULL && pg_cmp(w, pk, pkn, key, ks) >= 0)
                return pg_bad(w, pg,
                              "node %u's key is not after the one "
                              "before it",
                              i);
            pk = key;
            pkn = ks;
        }
        if (!leaf) {
            uint64_t child = nlo | (uint64_t)nhi << 16 | (uint64_t)nfl << 32;
            const uint8_t *clo = i == 0 ? lo : key, *chi = hi;
            size_t clon = i == 0 ? lon : ks, chin = hin;
            int rc;
            if (i + 1 < n) {
                const uint8_t *nx = p + rd16(p + PG_HDR + 2 * (i + 1));
                if ((size_t)(nx - p) + 8 > w->psize ||
                    (size_t)(nx - p) + 8 + rd16(nx + 6) > w->psize)
                    return pg_bad(w, pg, "node %u is outside the page", i + 1);
                chi = nx + 8;
                chin = rd16(nx + 6);
            }
            if ((rc = pg_walk(w, child, level + 1, depth, clo, clon, chi,
                              chin)) != 0)
                return rc;
            continue;
        }
        ds = nlo | (size_t)nhi << 16;
        if (nfl & ~(unsigned)(ND_BIGDATA | ND_SUBDATA | ND_DUPDATA))
            return pg_bad(w, pg, "node %u has flags 0x%x", i, nfl);
        w->entries++;
        if (nfl & ND_BIGDATA) {
            const uint8_t *op;
            uint64_t opg, pages;
            if (off + 8 + ks + 8 > w->psize)
                return pg_bad(w, pg,
                              "node %u's page number runs past the "
                              "page",
                              i);
            opg = rd64(key + ks);
            if (opg < 2 || opg > w->last)
                return pg_bad(w, pg,
                              "node %u's value is on page %llu, "
                              "outside the file's pages",
                              i, (unsigned long long)opg);
            op = w->map + opg * w->psize;
            pages = rd32(op + 12);
            if (rd64(op) != opg || rd16(op + 10) != PG_OVERFLOW ||
                pages < (ds + PG_HDR + w->psize - 1) / w->psize ||
                opg + pages - 1 > w->last)
                return pg_bad(w, pg,
                              "node %u's value (%zu bytes) is not on "
                              "the overflow pages from %llu",
                              i, ds, (unsigned long long)opg);
            for (uint64_t k = 0; k < pages; k++)
                if (pg_take(w, opg + k))
                    return 1;
            w->overflow += pages;
            continue;
        }
        if (off + 8 + ks + ds > w->psize)
            return pg_bad(w, pg, "node %u's value runs past the page", i);
        if ((nfl & ND_DUPDATA) && !(nfl & ND_SUBDATA) &&
            subpage_check(w, pg, i, key + ks, ds) != 0)
            return 1;
        if (nfl & ND_SUBDATA) {
            /* a named database (in the main one) or a key's duplicates:
             * walked with counts of its own, this one's then go on */
            struct pgwalk outer = *w;
            struct dbrec r;
            char name[128];
            if (ds != DB_REC_LEN)
                return pg_bad(w, pg, "node %u's database record is %zu bytes",
                              i, ds);
            dbrec_read(key + ks, &r);
            snprintf(name, sizeof name, "%s%.*s",
                     (nfl & ND_DUPDATA) ? "(dups) " : "",
                     (int)(ks < 100 ? ks : 100), (const char *)key);
            if (pg_tree(w, name, r.flags, &r) != 0)
                return 1;
            *w = outer;
        }
    }
    return 0;
}

/* The whole tree of a database record r named db. */
static int
pg_tree(struct pgwalk *w, const char *db, unsigned dflags,
        const struct dbrec *r)
{
    int rc;
    w->db = db;
    w->dflags = dflags;
    w->pad = r->pad;
    w->branch = w->leaf = w->overflow = w->entries = 0;
    if (r->root == UINT64_MAX) {
        if (r->depth != 0 || r->entries != 0 || r->leaf != 0)
            return pg_bad(w, 0, "no root page, but %llu entries",
                          (unsigned long long)r->entries);
        return 0;
    }
    if (r->depth == 0 || r->depth > 32)
        return pg_bad(w, r->root, "a depth of %u", r->depth);
    if ((rc = pg_walk(w, r->root, 1, r->depth, NULL, 0, NULL, 0)) != 0)
        return rc;
    if (w->branch != r->branch || w->leaf != r->leaf ||
        w->overflow != r->overflow)
        return pg_bad(
            w, r->root,
            "its record counts %llu branch, %llu leaf and %llu "
            "overflow pages; its tree has %llu, %llu and %llu",
            (unsigned long long)r->branch, (unsigned long long)r->leaf,
            (unsigned long long)r->overflow, (unsigned long long)w->branch,
            (unsigned long long)w->leaf, (unsigned long long)w->overflow);
    if (!(dflags & DB_DUPSORT) && w->entries != r->entries)
        return pg_bad(
            w, r->root, "its record counts %llu entries; its leaves hold %llu",
            (unsigned long long)r->entries, (unsigned long long)w->entries);
    return 0;
}

/* Every page the free list names (through LMDB's own cursor on it, as
 * mdb_stat -f reads it): past the meta pages, up to the last page, and in
 * no tree of the snapshot. */
static int
free_pages_check(struct pgwalk *w, MDB_txn *txn, const uint8_t *used)
{
    MDB_cursor *c;
    MDB_val k, v;
    int rc;

    w->db = "(free list)";
    if ((rc = mdb_cursor_open(txn, 0, &c)) != 0)
        return pg_bad(w, 0, "cannot be read (%s)", mdb_strerror(rc));
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        const uint8_t *ids = v.mv_data;
        uint64_t n;
        if (v.mv_size < 8 || (n = rd64(ids)) != v.mv_size / 8 - 1 ||
            v.mv_size % 8 != 0) {
            mdb_cursor_close(c);
            return pg_bad(w, 0, "a list of %zu bytes is not a page list",
                          v.mv_size);
        }
        for (uint64_t i = 1; i <= n; i++) {
            uint64_t pg = rd64(ids + 8 * i);
            if (pg < 2 || pg > w->last || (used[pg >> 3] & (1u << (pg & 7)))) {
                mdb_cursor_close(c);
                return pg_bad(w, pg, "named free, but %s",
                              pg < 2 || pg > w->last
                                  ? "outside the file's pages"
                                  : "in use");
            }
        }
    }
    mdb_cursor_close(c);
    if (rc != MDB_NOTFOUND)
        return pg_bad(w, 0, "cannot be read (%s)", mdb_strerror(rc));
    return 0;
}

/* The free list's tree under page pg (of a map of npages pages): each
 * page it names from `from` on is marked in seen. 0, or -1 when a page
 * of the tree lies past the file or does not parse. */
static int
free_tail_walk(const uint8_t *map, size_t psize, uint64_t npages, uint64_t pg,
               unsigned depth, uint64_t from, uint64_t last, uint8_t *seen)
{
    const uint8_t *p;
    unsigned flags, lower, n;

    if (depth > 32 || pg < 2 || pg >= npages)
        return -1;
    p = map + pg * psize;
    flags = rd16(p + 10);
    lower = rd16(p + 12);
    if (lower < PG_HDR || lower > psize || !(flags & (PG_BRANCH | PG_LEAF)))
        return -1;
    n = (lower - PG_HDR) / 2;
    for (unsigned i = 0; i < n; i++) {
        unsigned off = rd16(p + PG_HDR + 2 * i), ks, nfl;
        const uint8_t *nd = p + off, *ids;
        size_t ds;
        uint64_t cnt;
        if (off + 8 > psize)
            return -1;
        nfl = rd16(nd + 4);
        ks = rd16(nd + 6);
        if (flags & PG_BRANCH) {
            uint64_t child =
                rd16(nd) | (uint64_t)rd16(nd + 2) << 16 | (uint64_t)nfl << 32;
            if (free_tail_walk(map, psize, npages, child, depth + 1, from, last,
                               seen) < 0)
                return -1;
            continue;
        }
        ds = rd16(nd) | (size_t)rd16(nd + 2) << 16;
        if (off + 8 + ks > psize)
            return -1;
        if (nfl & ND_BIGDATA) {
            uint64_t opg;
            if (off + 8 + ks + 8 > psize)
                return -1;
            opg = rd64(nd + 8 + ks);
            if (opg < 2 || opg + (ds + PG_HDR + psize - 1) / psize > npages)
                return -1;
            ids = map + opg * psize + PG_HDR;
        } else {
            if (off + 8 + ks + ds > psize)
                return -1;
            ids = nd + 8 + ks;
        }
        if (ds < 8 || (cnt = rd64(ids)) > ds / 8 - 1)
            return -1;
        for (uint64_t j = 1; j <= cnt; j++) {
            uint64_t id = rd64(ids + 8 * j);
            if (id >= from && id <= last)
                seen[(id - from) >> 3] |= (uint8_t)(1u << ((id - from) & 7));
        }
    }
    return 0;
}

/*
 * A data.mdb shorter than its last page is not always cut short: LMDB
 * does not write a page that a transaction allocated and freed again
 * before it committed (a loose page), so when that was the highest page
 * the file ends before it, and the page is on the free list, never read.
 * 1 when every page past the end of the file is free in the newest
 * snapshot (read with plain loads of the file's own length, so nothing
 * past its end is touched), else 0.
 */
static int
tail_pages_free(const char *path, size_t psize, uint64_t size, uint64_t last)
{
    uint64_t npages = size / psize, from = npages, best = 0;
    const uint8_t *meta = NULL;
    struct dbrec freedb;
    uint8_t *seen = NULL, *map;
    int fd, ok = 0;

    if (npages < 2 || last < from || last - from >= 4096)
        return 0;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return 0;
    map = mmap(NULL, (size_t)npages * psize, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return 0;
    for (int i = 0; i < 2; i++) {
        const uint8_t *m = map + i * psize + PG_HDR;
        if (rd32(m) == 0xBEEFC0DE && rd64(m + META_TXNID) >= best) {
            best = rd64(m + META_TXNID);
            meta = m;
        }
    }
    if (meta != NULL && rd64(meta + 24 + 2 * DB_REC_LEN) == last &&
        (seen = calloc((size_t)((last - from) >> 3) + 1, 1)) != NULL) {
        dbrec_read(meta + 24, &freedb);
        if (freedb.root != UINT64_MAX &&
            free_tail_walk(map, psize, npages, freedb.root, 1, from, last,
                           seen) == 0) {
            ok = 1;
            for (uint64_t id = from; ok && id <= last; id++)
                ok = (seen[(id - from) >> 3] >> ((id - from) & 7)) & 1;
        }
    }
    free(seen);
    munmap(map, (size_t)npages * psize);
    return ok;
}

int
ldg_store_check_pages(struct ldg_txn *t, char *what, size_t cap)
{
    struct pgwalk w;
    MDB_stat st;
    const uint8_t *meta = NULL;
    struct dbrec freedb, maindb;
    uint64_t txnid = (uint64_t)mdb_txn_id(t->txn);
    size_t len;
    int fd, rc;
    void *map;

    if (what == NULL || cap == 0)
        return LDG_EINVAL;
    what[0] = '\0';
    if (mdb_env_stat(t->s->env, &st) != 0 ||
        mdb_env_get_fd(t->s->env, &fd) != 0)
        return LDG_EIO;
    memset(&w, 0, sizeof w);
    w.psize = st.ms_psize;
    w.what = what;
    w.cap = cap;
    /* the meta pages first: the one of this snapshot gives the rest */
    map = mmap(NULL, 2 * w.psize, PROT_READ, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED)
        return LDG_EIO;
    for (int i = 0; i < 2; i++) {
        const uint8_t *m = (const uint8_t *)map + i * w.psize + PG_HDR;
        if (rd32(m) == 0xBEEFC0DE && rd64(m + META_TXNID) == txnid)
            meta = m;
    }
    if (meta == NULL) {
        munmap(map, 2 * w.psize);
        snprintf(what, cap, "no meta page holds this snapshot (txn %llu)",
                 (unsigned long long)txnid);
        return 1;
    }
    dbrec_read(meta + 24, &freedb);
    dbrec_read(meta + 24 + DB_REC_LEN, &maindb);
    w.last = rd64(meta + 24 + 2 * DB_REC_LEN);
    munmap(map, 2 * w.psize);
    len = (size_t)(w.last + 1) * w.psize;
    map = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED)
        return LDG_EIO;
    madvise(map, len, MADV_SEQUENTIAL);
    w.map = map;
    w.seen = calloc((size_t)(w.last >> 3) + 1, 1);
    if (w.seen == NULL) {
        munmap(map, len);
        return LDG_ENOMEM;
    }
    rc = pg_tree(&w, "(catalogue)", maindb.flags, &maindb);
    if (rc == 0) {
        /* the free list: its own tree, then the pages it names */
        uint8_t *used = w.seen;
        w.seen = calloc((size_t)(w.last >> 3) + 1, 1);
        if (w.seen == NULL) {
            w.seen = used;
            rc = -1;
        } else {
            rc = pg_tree(&w, "(free list)", freedb.flags | DB_INTEGERKEY,
                         &freedb);
            for (uint64_t pg = 0; rc == 0 && pg <= w.last; pg++)
                if ((used[pg >> 3] & w.seen[pg >> 3]) & (1u << (pg & 7)))
                    rc = pg_bad(&w, pg,
                                "a page of the free list's own tree "
                                "is also in use");
            /* what the free list names */
            if (rc == 0)
                rc = free_pages_check(&w, t->txn, used);
            free(used);
        }
    }
    free(w.seen);
    munmap(map, len);
    return rc < 0 ? LDG_ENOMEM : rc;
}

/* ------------------------------------------------------------- sizes -- */

/* The class of the database named name (ledger.h). */
static enum ldg_db_class
db_class(const char *name)
{
    static const char *const event[] = {"entries", "bodies", "seals",
                                        "entries5", "bodies5"};
    if (strcmp(name, "(free)") == 0)
        return LDG_DBC_FREE;
    if (strcmp(name, "(ix duplicates)") == 0)
        return LDG_DBC_INDEX;
    if (name[0] == '(')
        return LDG_DBC_LMDB;
    for (size_t i = 0; i < sizeof event / sizeof event[0]; i++)
        if (strcmp(name, event[i]) == 0)
            return LDG_DBC_EVENT;
    if (strncmp(name, "idx.", 4) == 0 || strncmp(name, "ix.", 3) == 0)
        return LDG_DBC_INDEX;
    if (strcmp(name, "tree") == 0 || strcmp(name, "tiles") == 0)
        return LDG_DBC_TREE;
    if (strcmp(name, "checkpoints") == 0)
        return LDG_DBC_CHECKPOINT;
    return LDG_DBC_STATE;
}

/* Appends one row to *v (of *n, room *cap). 0 or LDG_ENOMEM. */
static int
size_add(struct ldg_db_size **v, size_t *n, size_t *cap, const char *name,
         size_t nlen, uint64_t entries, uint64_t pages, uint64_t psize)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 32;
        struct ldg_db_size *nv = realloc(*v, nc * sizeof *nv);
        if (nv == NULL)
            return LDG_ENOMEM;
        *v = nv;
        *cap = nc;
    }
    struct ldg_db_size *d = &(*v)[(*n)++];
    memset(d, 0, sizeof *d);
    if (nlen >= sizeof d->name)
        nlen = sizeof d->name - 1;
    memcpy(d->name, name, nlen);
    d->cls = db_class(d->name);
    d->entries = entries;
    d->pages = pages;
    d->bytes = pages * psize;
    return 0;
}

int
ldg_store_db_sizes(struct ldg_txn *t, struct ldg_db_size **out, size_t *nout)
{
    struct ldg_db_size *v = NULL;
    size_t n = 0, cap = 0;
    MDB_stat st;
    MDB_envinfo ei;
    MDB_cursor *c = NULL;
    MDB_val k, d;
    MDB_dbi main_db;
    struct stat sb;
    int fd, rc;

    *out = NULL;
    *nout = 0;
    if (mdb_env_stat(t->s->env, &st) != 0 ||
        mdb_env_info(t->s->env, &ei) != 0 ||
        mdb_env_get_fd(t->s->env, &fd) != 0 || fstat(fd, &sb) != 0)
        return LDG_EIO;
    uint64_t psize = st.ms_psize;
    /* each named database: its record in the catalogue (MDB_db, 48
     * bytes: flags, depth, branch, leaf and overflow pages, entries,
     * root; store.c's page walk reads the same) */
    if ((rc = mdb_dbi_open(t->txn, NULL, 0, &main_db)) != 0 ||
        (rc = mdb_cursor_open(t->txn, main_db, &c)) != 0)
        return xlate(rc);
    for (rc = mdb_cursor_get(c, &k, &d, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
        struct dbrec r;
        if (d.mv_size != DB_REC_LEN) {
            mdb_cursor_close(c);
            free(v);
            return LDG_ECORRUPT;
        }
        dbrec_read(d.mv_data, &r);
        if (size_add(&v, &n, &cap, k.mv_data, k.mv_size, r.entries,
                     r.branch + r.leaf + r.overflow, psize) < 0)
            goto nomem;
    }
    mdb_cursor_close(c);
    c = NULL;
    if (rc != MDB_NOTFOUND) {
        free(v);
        return xlate(rc);
    }
    /* LMDB's own: the catalogue, and the pages free for reuse (the free
     * list's tree, the pages it names, and the file's pages past the
     * last one written) */
    MDB_stat ms;
    if ((rc = mdb_stat(t->txn, main_db, &ms)) != 0)
        goto lmdb;
    if (size_add(&v, &n, &cap, "(catalogue)", 11, ms.ms_entries,
                 ms.ms_branch_pages + ms.ms_leaf_pages + ms.ms_overflow_pages,
                 psize) < 0)
        goto nomem;
    if ((rc = mdb_stat(t->txn, 0, &ms)) != 0 ||
        (rc = mdb_cursor_open(t->txn, 0, &c)) != 0)
        goto lmdb;
    uint64_t free_pages =
        ms.ms_branch_pages + ms.ms_leaf_pages + ms.ms_overflow_pages;
    for (rc = mdb_cursor_get(c, &k, &d, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &d, MDB_NEXT))
        if (d.mv_size >= 8)
            free_pages += rd64(d.mv_data);
    mdb_cursor_close(c);
    c = NULL;
    if (rc != MDB_NOTFOUND)
        goto lmdb;
    /* LMDB counts a database's own tree; the trees of one key's many
     * sorted duplicates (ix.*, store layout 3 on: a value's seqs once
     * they outgrow its node) are counted in none. They are the pages in
     * use that no row holds. */
    uint64_t held = free_pages + 2;
    for (size_t i = 0; i < n; i++)
        held += v[i].pages;
    if ((uint64_t)ei.me_last_pgno + 1 > held) {
        struct ldg_db_size cat;
        if (size_add(&v, &n, &cap, "(ix duplicates)", 15, 0,
                     (uint64_t)ei.me_last_pgno + 1 - held, psize) < 0)
            goto nomem;
        /* before the catalogue: LMDB's own rows come last */
        cat = v[n - 2];
        v[n - 2] = v[n - 1];
        v[n - 1] = cat;
    }
    uint64_t file_pages = (uint64_t)sb.st_size / psize;
    if (file_pages > (uint64_t)ei.me_last_pgno + 1)
        free_pages += file_pages - ((uint64_t)ei.me_last_pgno + 1);
    if (size_add(&v, &n, &cap, "(free)", 6, 0, free_pages, psize) < 0 ||
        size_add(&v, &n, &cap, "(meta)", 6, 0, 2, psize) < 0)
        goto nomem;
    *out = v;
    *nout = n;
    return 0;
lmdb:
    if (c)
        mdb_cursor_close(c);
    free(v);
    return xlate(rc);
nomem:
    if (c)
        mdb_cursor_close(c);
    free(v);
    return LDG_ENOMEM;
}

/*
 * LMDB's reader table, for ldg_stats_snapshots. mdb_reader_list gives
 * each slot as a line "PID THREAD TXNID" (TXNID "-" when the slot is in
 * no transaction), after a header line. A slot in a transaction pins the
 * snapshot of commit TXNID: LMDB's writer reuses the pages of a free-list
 * record (keyed by the commit that freed them) only when that commit is
 * older than every reader's snapshot (mdb_page_alloc's "oldest"), so a
 * reader at TXNID holds every record keyed TXNID or later. The writer
 * holds those of the last commit itself, so what a reader adds is the
 * records keyed from its TXNID to before the last commit: pages freed
 * since its snapshot, each of them replaced by a new page (the file
 * grows) unless older free pages were left.
 */
struct rl_ctx {
    struct ldg_snapshot_holder *v;
    size_t n, cap;
    int nomem;
};

static int
rl_line(const char *msg, void *ctx)
{
    struct rl_ctx *x = ctx;
    char th[32], tx[32], *end;
    int pid;
    unsigned long long txnid;

    if (sscanf(msg, "%d %31s %31s", &pid, th, tx) != 3 || pid <= 0 ||
        tx[0] == '-')
        return 0; /* the header, or a slot in no transaction */
    errno = 0;
    txnid = strtoull(tx, &end, 10);
    if (errno != 0 || *end != '\0')
        return 0;
    if (x->n == x->cap) {
        size_t cap = x->cap ? x->cap * 2 : 8;
        struct ldg_snapshot_holder *v;
        if (cap > LDG_SNAPSHOT_HOLDERS_MAX ||
            (v = realloc(x->v, cap * sizeof *v)) == NULL) {
            x->nomem = 1;
            return 0;
        }
        x->v = v;
        x->cap = cap;
    }
    memset(&x->v[x->n], 0, sizeof x->v[x->n]);
    x->v[x->n].pid = pid;
    x->v[x->n].thread = strtoull(th, NULL, 16);
    x->v[x->n].txnid = txnid;
    x->n++;
    return 0;
}

int
ldg_store_snapshots(struct ldg_txn *t, struct ldg_snapshot_holder **out,
                    size_t *nout, uint64_t *last_txnid)
{
    struct rl_ctx x;
    MDB_cursor *c = NULL;
    MDB_val k, d;
    MDB_stat st;
    uint64_t last = mdb_txn_id(t->txn), self_tid = (uint64_t)pthread_self();
    int rc, self = -1;

    *out = NULL;
    *nout = 0;
    *last_txnid = last;
    memset(&x, 0, sizeof x);
    if (mdb_env_stat(t->s->env, &st) != 0)
        return LDG_EIO;
    if ((rc = mdb_reader_list(t->s->env, rl_line, &x)) < 0 || x.nomem) {
        free(x.v);
        return x.nomem ? LDG_ENOMEM : LDG_EIO;
    }
    for (size_t i = 0; i < x.n; i++) {
        struct ldg_snapshot_holder *h = &x.v[i];
        h->behind = h->txnid < last ? last - h->txnid : 0;
        /* this call's own transaction is not a holder */
        if (self < 0 && h->pid == (int)getpid() && h->thread == self_tid &&
            h->txnid == last) {
            self = (int)i;
            continue;
        }
        h->self = h->pid == (int)getpid();
    }
    if (self >= 0) {
        memmove(&x.v[self], &x.v[self + 1],
                (x.n - (size_t)self - 1) * sizeof *x.v);
        x.n--;
    }
    /* the free list's records keyed from each holder's commit to before
     * the last: one pass over the free list (its records are few: one a
     * commit not yet reused) */
    if (x.n > 0 && (rc = mdb_cursor_open(t->txn, 0, &c)) == 0) {
        for (rc = mdb_cursor_get(c, &k, &d, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
            uint64_t key = 0, pages;
            size_t kv = 0, nv = 0;
            if (k.mv_size == sizeof kv)
                memcpy(&kv, k.mv_data, sizeof kv);
            if (d.mv_size < sizeof nv)
                continue;
            memcpy(&nv, d.mv_data, sizeof nv); /* an IDL: its count first */
            key = kv;
            pages = nv;
            for (size_t i = 0; i < x.n; i++)
                if (key >= x.v[i].txnid && key < last)
                    x.v[i].held_pages += pages;
        }
        mdb_cursor_close(c);
        if (rc != MDB_NOTFOUND) {
            free(x.v);
            return xlate(rc);
        }
    }
    for (size_t i = 0; i < x.n; i++)
        x.v[i].held_bytes = x.v[i].held_pages * st.ms_psize;
    if (x.n == 0) {
        free(x.v);
        x.v = NULL;
    }
    *out = x.v;
    *nout = x.n;
    return 0;
}
