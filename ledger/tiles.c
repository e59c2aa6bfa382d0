/*
 * tiles.c — publishes the log as static files in the C2SP tlog-tiles
 * layout (c2sp.org/tlog-tiles), for any web server to serve.
 *
 *     DIR/checkpoint                  the latest signed checkpoint (last)
 *     DIR/checkpoint.epoch            its epoch line whole, when it has one
 *                                     (layout 9: FORMAT.md 5.1; before it)
 *     DIR/tile/<L>/<N>[.p/<W>]        hash tiles
 *     DIR/tile/entries/<N>[.p/<W>]    entry bundles
 *
 * Hash tile (L, N) holds the stored hashes at tree level 8L with indexes
 * N*256 .. N*256+W-1, 32 bytes each, back to back (W = 256 for a full
 * tile). Entry bundle N holds entries N*256 .. N*256+W-1, each as
 *
 *     +--------+--------+---------------------+
 *     | len_hi | len_lo | entry (len bytes)   |   len: big-endian uint16
 *     +--------+--------+---------------------+
 *
 * back to back, the entry being the exact bytes whose RFC 6962 leaf hash is
 * in tile (0, N). For a tree of size s the level-L files are the full
 * tiles N < (s >> 8L) / 256 and, if (s >> 8L) % 256 > 0, the partial tile
 * of that width.
 *
 * Nothing unchecked is published: each level-0 hash is checked against
 * its entry, each higher hash against the 256 hashes under it and the
 * root against the signed checkpoint, before the file holding it is
 * written (check_tile).
 *
 * Every file name fixes its content for good (a partial tile that grows is
 * a new name, ".p/<W+1>"), so a file that exists with the right bytes is
 * never rewritten; old partial tiles stay, as clients holding an older
 * checkpoint may still ask for them. Each file is written to a temporary
 * name in its directory and renamed. Durability: one syncfs() after all
 * of them, then the touched directories are fsync'd, and only then is
 * DIR/checkpoint replaced (fsync'd, renamed), so a reader that sees a
 * checkpoint finds every tile it needs on disk. A crash before that can
 * leave a new file with wrong bytes that no checkpoint points to; the
 * next run compares and rewrites it. (An fsync per file cost ~95 s for
 * the ~8,000 files of a 1M-event log on this disk.)
 *
 * Incremental: if DIR/checkpoint verifies under the log key and its root
 * is our tree's root at its size, the files for that size are taken as
 * present and only the tiles that are new since are written (and compared
 * first). Otherwise every file is compared and written if missing or
 * different. Delete DIR/checkpoint to force the full pass.
 *
 * Reads through the public API and the tree's own (tree_int.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "ledger/tree_int.h"
#include "ledger/tlog_int.h"

#define PATH_CAP 4096
#define CHECKPOINT_MAX (64 * 1024) /* a larger DIR/checkpoint is ignored */
#define DIRS_MAX 4096              /* directories to fsync, beyond: syncfs */

struct tiles {
    struct ldg_ledger *l;
    struct ldg_txn *t;
    uint64_t hz; /* a pruned ledger's horizon (0: never pruned) */
    /* store layout 9, pruned: the level-0 tiles of the events before it
     * went with them (ldg_tree_kept_from); 0: every tile is kept */
    uint64_t kept;
    const char *dir;
    struct ldg_buf buf; /* the file being built (util.h) */
    char **dirs;        /* directories whose entries changed, to fsync */
    size_t ndirs;
    int dirs_overflow;
    uint8_t *whole;     /* LDG_ENTRY_MAX: a layout 5 record made whole */
    unsigned window;    /* tiles read in t's snapshot (tiles_window) */
    uint64_t window_ns; /* when t began (monotonic) */
};

/*
 * The read window (issue 63): t is ended and another begun after every
 * WINDOW_TILES tiles or WINDOW_MS, so that a publication of a long log
 * (thousands of files written and synced) or one stopped on its way does
 * not pin one snapshot throughout: LMDB can reuse no page freed after a
 * live snapshot was taken, and data.mdb grows with every commit meanwhile.
 * The tree's hashes and entries up to the checkpoint's size are the same
 * in every later snapshot (the log only grows), unless a prune moved the
 * horizon: then nothing is published (the checkpoint, written last, stays
 * as it was) and the run fails with LDG_EPRUNED, to be run again.
 */
#define WINDOW_TILES 4 /* 1,024 hashes or entries */
#define WINDOW_MS 100

/* ----------------------------------------------------------- file work -- */

static int
join(struct tiles *c, char *out, const char *rel)
{
    int w = snprintf(out, PATH_CAP, "%s/%s", c->dir, rel);

    if (w < 0 || w >= PATH_CAP) {
        ldg_seterr(c->l, "tiles: path too long under %s", c->dir);
        return LDG_EINVAL;
    }
    return 0;
}

static int
io_error(struct tiles *c, const char *what, const char *path)
{
    int e = errno;

    ldg_seterr(c->l, "tiles: %s %s: %s", what, path, strerror(e));
    return e == ENOSPC || e == EDQUOT ? LDG_EFULL : LDG_EIO;
}

/* Remembers that the entries of directory path changed. */
static int
note_dir(struct tiles *c, const char *path, size_t len)
{
    char *d, **grown;

    for (size_t i = c->ndirs; i-- > 0;)
        if (strlen(c->dirs[i]) == len && memcmp(c->dirs[i], path, len) == 0)
            return 0;
    if (c->ndirs == DIRS_MAX) {
        c->dirs_overflow = 1;
        return 0;
    }
    grown = realloc(c->dirs, (c->ndirs + 1) * sizeof *c->dirs);
    if (grown == NULL)
        return LDG_ENOMEM;
    c->dirs = grown;
    d = strndup(path, len);
    if (d == NULL)
        return LDG_ENOMEM;
    c->dirs[c->ndirs++] = d;
    return 0;
}

static int
fsync_path(struct tiles *c, const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = 0;

    if (fd < 0)
        return io_error(c, "open", path);
    if (fsync(fd) < 0)
        rc = io_error(c, "fsync", path);
    close(fd);
    return rc;
}

static int
sync_dirs(struct tiles *c)
{
    int rc;

    if (c->dirs_overflow) {
        /* Too many to list: flush the whole file system once. */
        int fd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
            return io_error(c, "open", c->dir);
        rc = syncfs(fd) < 0 ? io_error(c, "syncfs", c->dir) : 0;
        close(fd);
        if (rc < 0)
            return rc;
    }
    for (size_t i = 0; i < c->ndirs; i++) {
        rc = fsync_path(c, c->dirs[i]);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* One syncfs for every tile and bundle written: they are new names that
 * no published checkpoint points to yet, so they need to be on disk only
 * before the checkpoint is replaced, not one by one. */
static int
sync_all(struct tiles *c)
{
    int fd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;
    if (fd < 0)
        return io_error(c, "open", c->dir);
    if (syncfs(fd) < 0)
        rc = io_error(c, "syncfs", c->dir);
    close(fd);
    return rc;
}

/* A directory ldg_mkdir_p made: its name must reach the disk too, so its
 * parent is noted for sync_dirs. */
static int
made_dir(void *ctx, const char *path)
{
    struct tiles *c = ctx;
    const char *slash = strrchr(path, '/');
    return slash == NULL   ? note_dir(c, ".", 1)
           : slash == path ? note_dir(c, "/", 1)
                           : note_dir(c, path, (size_t)(slash - path));
}

/* mkdir -p of path's directories from byte from on (and path when
 * whole), each new one noted. */
static int
make_dirs(struct tiles *c, char *path, size_t from, int whole)
{
    int rc = ldg_mkdir_p(path, from, whole, 0755, made_dir, c);
    return rc == -1 ? io_error(c, "mkdir", path) : rc;
}

/* 1 if path is a regular file holding exactly data[0:len]. */
static int
file_matches(const char *path, const uint8_t *data, size_t len)
{
    struct stat st;
    uint8_t chunk[8192];
    size_t off = 0;
    int fd, same = 0;

    if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode) ||
        (uint64_t)st.st_size != len)
        return 0;
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return 0;
    while (off < len) {
        size_t want = len - off < sizeof chunk ? len - off : sizeof chunk;
        ssize_t got = read(fd, chunk, want);
        if (got <= 0 || memcmp(chunk, data + off, (size_t)got) != 0)
            goto out;
        off += (size_t)got;
    }
    same = 1;
out:
    close(fd);
    return same;
}

/*
 * Puts c->buf at DIR/rel unless it is already there: temporary file in the
 * same directory, fsync, rename over. Returns 1 if written, 0 if it was
 * already in place, or a negative error.
 */
static int
put_file(struct tiles *c, const char *rel)
{
    char path[PATH_CAP], tmp[PATH_CAP + 16];
    char *slash;
    int fd = -1, rc;

    rc = join(c, path, rel);
    if (rc < 0)
        return rc;
    if (file_matches(path, c->buf.p, c->buf.len))
        return 0;
    rc = make_dirs(c, path, strlen(c->dir) + 1, 0);
    if (rc < 0)
        return rc;
    slash = strrchr(path, '/');
    snprintf(tmp, sizeof tmp, "%.*s/.tmp-XXXXXX", (int)(slash - path), path);
    fd = mkstemp(tmp);
    if (fd < 0)
        return io_error(c, "create", tmp);
    /* No fsync per file: see "Durability" at the top. */
    if (fchmod(fd, 0644) < 0 ||
        ldg_write_all(fd, c->buf.p, c->buf.len, 0) < 0) {
        rc = io_error(c, "write", tmp);
        goto fail;
    }
    if (close(fd) < 0) {
        fd = -1;
        rc = io_error(c, "close", tmp);
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) < 0) {
        rc = io_error(c, "rename to", path);
        goto fail;
    }
    rc = note_dir(c, path, (size_t)(slash - path));
    return rc < 0 ? rc : 1;
fail:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return rc;
}

/* Room for more bytes at the end of c->buf: 0, or LDG_ENOMEM. (The
 * buffer's default ceiling is never reached: the largest file is an entry
 * bundle, 256 entries of at most 2 + 65535 bytes.) */
static int
buf_reserve(struct tiles *c, size_t more)
{
    return ldg_buf_room(&c->buf, more) != NULL ? 0 : c->buf.err;
}

/* ------------------------------------------------------ tile contents -- */

/* Hash tile (level, n) of width w: stored hashes at tree level 8*level. */
static int
build_tile(struct tiles *c, int level, uint64_t n, unsigned w)
{
    int rc;

    LDG_ASSERT(w > 0 && w <= LDG_TILE_WIDTH);
    c->buf.len = 0;
    rc = buf_reserve(c, (size_t)w * LDG_HASH_LEN);
    if (rc < 0)
        return rc;
    for (unsigned i = 0; i < w; i++) {
        uint64_t idx = n * LDG_TILE_WIDTH + i;
        rc = ldg_tree_stored_hash(c->t, LDG_TILE_HEIGHT * level, idx,
                                  c->buf.p + c->buf.len);
        if (rc < 0) {
            ldg_seterr(c->l, "tiles: stored hash (%d, %llu): %s",
                       LDG_TILE_HEIGHT * level, (unsigned long long)idx,
                       ldg_strerror(rc));
            return rc;
        }
        c->buf.len += LDG_HASH_LEN;
    }
    LDG_ASSERT(c->buf.len == (size_t)w * LDG_HASH_LEN);
    return 0;
}

/* Entry bundle n of width w. Each entry is checked against its stored leaf
 * hash, so the bundle can never disagree with the level-0 tile. */
static int
build_bundle(struct tiles *c, uint64_t n, unsigned w)
{
    struct {
        const uint8_t *entry;
        size_t entry_len;
    } ev;
    ldg_dbi entries =
        ldg_store_core_dbi(ldg_txn_store(c->t), ldg_db_entries(c->t));
    uint8_t leaf[32], stored[32], prev[32], key[8];
    struct ldg_val v;
    int rc, have_prev = 0;

    LDG_ASSERT(w > 0 && w <= LDG_TILE_WIDTH);
    c->buf.len = 0;
    for (unsigned i = 0; i < w; i++) {
        uint64_t seq = n * LDG_TILE_WIDTH + i;
        /* The exact stored bytes; their hash must be the tree's leaf,
         * which is all a published entry needs (verify checks the rest). */
        if (seq < c->hz) {
            /* a pruned event of the horizon's tile: its kept entry */
            rc = ldg_horizon_entry(c->t, c->hz, seq, &ev.entry, &ev.entry_len);
        } else {
            ldg_be64(key, seq);
            rc = ldg_kv_get(c->t, entries, key, 8, &v);
            ev.entry = v.data;
            ev.entry_len = v.len;
            /* layout 5's stored form: made whole with prev, the stored
             * leaf of the event before (checked against the tree as the
             * entry before was) */
            if (rc == 0 && v.len > 0 && ((const uint8_t *)v.data)[0] != 0x93) {
                if (!have_prev)
                    rc = ldg_entry_prev(c->t, seq, prev);
                if (rc == 0)
                    rc = ldg_entry_whole(v.data, v.len, prev, c->whole,
                                         LDG_ENTRY_MAX, &ev.entry_len);
                ev.entry = c->whole;
            }
        }
        if (rc == 0)
            rc = ldg_tree_stored_hash(c->t, 0, seq, stored);
        if (rc < 0) {
            ldg_seterr(c->l, "tiles: event %llu: %s", (unsigned long long)seq,
                       ldg_strerror(rc));
            return rc;
        }
        ldg_tlog_leaf_hash(leaf, ev.entry, ev.entry_len);
        if (ev.entry_len > 0xffff || memcmp(leaf, stored, 32) != 0) {
            ldg_seterr(c->l,
                       "tiles: event %llu: entry does not match its leaf "
                       "hash in the tree",
                       (unsigned long long)seq);
            return LDG_ECORRUPT;
        }
        memcpy(prev, stored, 32);
        have_prev = 1;
        rc = buf_reserve(c, 2 + ev.entry_len);
        if (rc < 0)
            return rc;
        LDG_ASSERT(ev.entry_len <= 0xffff);
        ldg_be16(c->buf.p + c->buf.len, (uint16_t)ev.entry_len);
        memcpy(c->buf.p + c->buf.len + 2, ev.entry, ev.entry_len);
        c->buf.len += 2 + ev.entry_len;
    }
    return 0;
}

/*
 * A hash tile of level 1 or more is written only if each of its hashes is
 * the root of the 256 stored hashes under it: a damaged stored hash is
 * refused before any file shows it. The levels are written from the top
 * down, then the entry bundles (each entry checked against its leaf hash),
 * then level 0, so a file is only written once the hashes it holds are
 * checked, and the stored root was checked against the checkpoint first.
 */
static int
check_tile(struct tiles *c, int level, uint64_t n, unsigned w)
{
    uint8_t root[LDG_HASH_LEN];
    int below = LDG_TILE_HEIGHT * (level - 1);

    LDG_ASSERT(level >= 1 && c->buf.len == (size_t)w * LDG_HASH_LEN);
    for (unsigned j = 0; j < w; j++) {
        uint64_t idx = n * LDG_TILE_WIDTH + j;
        int rc;
        /* a level-0 tile a prune dropped: the hash over it is checked by
         * the levels above and the signed root, as every stored hash */
        if (level == 1 && (idx + 1) * LDG_TILE_WIDTH <= c->kept)
            continue;
        rc = ldg_tree_tile_root(c->t, level - 1, idx, root);
        if (rc < 0) {
            ldg_seterr(
                c->l, "tiles: stored hashes (%d, %llu..%llu): %s", below,
                (unsigned long long)(idx * LDG_TILE_WIDTH),
                (unsigned long long)(idx * LDG_TILE_WIDTH + LDG_TILE_WIDTH - 1),
                ldg_strerror(rc));
            return rc;
        }
        if (memcmp(root, c->buf.p + (size_t)j * LDG_HASH_LEN, LDG_HASH_LEN) !=
            0) {
            ldg_seterr(
                c->l,
                "tiles: stored hash (%d, %llu) is not the hash of "
                "the stored hashes (%d, %llu..%llu) under it: the "
                "stored Merkle tree is damaged (" LDG_CMD_VERIFY_FULL " "
                "names the event); nothing of tile %d/%llu written",
                LDG_TILE_HEIGHT * level, (unsigned long long)idx, below,
                (unsigned long long)(idx * LDG_TILE_WIDTH),
                (unsigned long long)(idx * LDG_TILE_WIDTH + LDG_TILE_WIDTH - 1),
                level, (unsigned long long)n);
            return LDG_ECORRUPT;
        }
    }
    return 0;
}

/*
 * Writes the files of one level (level -1: entry bundles) for a tree of
 * size, skipping full tiles already covered by a published tree of size
 * old. count is the number of hashes (entries) at that level.
 */
static int
tiles_window(struct tiles *c)
{
    uint64_t now = ldg_now_mono_ns(), hz;
    int rc;

    if (++c->window < WINDOW_TILES &&
        now - c->window_ns < (uint64_t)WINDOW_MS * 1000000u)
        return 0;
    ldg_txn_abort(c->t);
    c->t = NULL;
    if ((rc = ldg_txn_begin(c->l, LDG_TXN_READ, &c->t)) < 0) {
        c->t = NULL;
        return rc;
    }
    c->window = 0;
    c->window_ns = ldg_now_mono_ns();
    hz = ldg_txn_horizon(c->t);
    if (hz != c->hz) {
        ldg_seterr(c->l,
                   "tiles: the ledger was pruned while its tiles were "
                   "written (its horizon moved from %llu to %llu): nothing "
                   "published; run it again",
                   (unsigned long long)c->hz, (unsigned long long)hz);
        return LDG_EPRUNED;
    }
    return 0;
}

static int
write_level(struct tiles *c, int level, uint64_t old, uint64_t size,
            uint64_t *written)
{
    int shift = level < 0 ? 0 : LDG_TILE_HEIGHT * level;
    uint64_t count = size >> shift, first = (old >> shift) / LDG_TILE_WIDTH;
    uint64_t full = count / LDG_TILE_WIDTH;
    unsigned partial = (unsigned)(count % LDG_TILE_WIDTH);
    char rel[128];
    int rc;

    uint64_t hz = level < 0 ? c->hz : 0;
    uint64_t kept = level == 0 ? c->kept : 0;

    for (uint64_t n = first; n <= full; n++) {
        unsigned w = n < full ? LDG_TILE_WIDTH : partial;
        if (w == 0)
            break;
        /* a pruned ledger: an entry bundle of pruned events is gone with
         * them (its hashes stay in the hash tiles; its archive holds the
         * entries; an earlier publication keeps the file); the one the
         * horizon falls in is made with the pruned entries the prune kept
         * for it (meta horizon.entries), when it kept them */
        LDG_ASSERT(w <= LDG_TILE_WIDTH && n * LDG_TILE_WIDTH + w <= count);
        if ((n + 1) * LDG_TILE_WIDTH <= hz)
            continue;
        /* layout 9: a level-0 tile the prune dropped is not written
         * (nor can it be: its archive proves its hashes) */
        if ((n + 1) * LDG_TILE_WIDTH <= kept)
            continue;
        if (n * LDG_TILE_WIDTH < hz) {
            const uint8_t *e;
            size_t en;
            rc = ldg_horizon_entry(c->t, hz, n * LDG_TILE_WIDTH, &e, &en);
            if (rc == LDG_ENOTFOUND)
                continue;
            if (rc < 0) {
                ldg_seterr(c->l,
                           "tiles: the kept entries of the horizon's tile "
                           "(meta horizon.entries): %s",
                           ldg_strerror(rc));
                return rc;
            }
        }
        rc = ldg_tlog_tile_path(rel, sizeof rel, level, n, w);
        if (rc < 0)
            return rc;
        rc = level < 0 ? build_bundle(c, n, w) : build_tile(c, level, n, w);
        if (rc == 0 && level > 0)
            rc = check_tile(c, level, n, w);
        if (rc < 0)
            return rc;
        rc = put_file(c, rel);
        if (rc < 0)
            return rc;
        *written += (uint64_t)rc;
        if ((rc = tiles_window(c)) < 0)
            return rc;
    }
    return 0;
}

/* ---------------------------------------------------------- checkpoint -- */

/* The size of the tree already published in DIR, or 0 if there is none we
 * can trust (missing, unreadable, not ours, not matching the log). */
static uint64_t
published_size(struct tiles *c, uint64_t size)
{
    char path[PATH_CAP], *note = NULL;
    uint64_t old = 0;
    ssize_t got;
    int fd;

    if (join(c, path, "checkpoint") < 0)
        return 0;
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return 0;
    note = malloc(CHECKPOINT_MAX + 1);
    if (note == NULL)
        goto out;
    got = read(fd, note, CHECKPOINT_MAX + 1);
    if (got <= 0 || got > CHECKPOINT_MAX)
        goto out;
    if (ldg_checkpoint_check(c->t, note, (size_t)got, &old) < 0 || old > size)
        old = 0;
out:
    free(note);
    close(fd);
    return old;
}

int
ldg_tiles_write(struct ldg_ledger *l, const char *dir,
                struct ldg_tiles_report *report)
{
    struct tiles c = {0};
    struct ldg_tiles_report r = {0};
    char *note = NULL, *line = NULL, dpath[PATH_CAP];
    uint64_t size, old;
    int rc;

    if (l == NULL || dir == NULL || dir[0] == '\0' ||
        strlen(dir) >= sizeof dpath)
        return LDG_EINVAL;
    c.l = l;
    c.dir = dir;
    if ((c.whole = malloc(LDG_ENTRY_MAX)) == NULL)
        return LDG_ENOMEM;
    memcpy(dpath, dir, strlen(dir) + 1);
    if ((rc = make_dirs(&c, dpath, 1, 1)) < 0)
        goto out;
    rc = ldg_txn_begin(l, LDG_TXN_READ, &c.t);
    if (rc < 0)
        goto out;
    c.window_ns = ldg_now_mono_ns();
    c.hz = ldg_txn_horizon(c.t);
    if ((rc = ldg_tree_kept_from(c.t, &c.kept)) < 0)
        goto out;
    r.tree_from = c.kept;
    rc = ldg_checkpoint_get(c.t, 0, &note);
    if (rc < 0) {
        ldg_seterr(l, "tiles: no stored checkpoint to publish: %s",
                   ldg_strerror(rc));
        goto out;
    }
    /* Publish exactly what the log signed, and only if it holds. */
    rc = ldg_checkpoint_check(c.t, note, strlen(note), &size);
    if (rc == LDG_ETAMPER) {
        ldg_seterr(l,
                   "tiles: the stored Merkle tree's root at size %llu is "
                   "not the signed checkpoint's: the stored tree is "
                   "damaged (" LDG_CMD_VERIFY_FULL " names the event); "
                   "nothing written",
                   (unsigned long long)size);
        rc = LDG_ECORRUPT;
        goto out;
    }
    if (rc < 0) {
        ldg_seterr(l,
                   "tiles: the stored checkpoint does not verify "
                   "against the log: %s",
                   ldg_strerror(rc));
        goto out;
    }
    r.size = size;
    old = published_size(&c, size);

    /* From the top level down, the entry bundles before level 0: see
     * check_tile */
    int top = 0;
    while (top + 1 < 8 && (size >> (LDG_TILE_HEIGHT * (top + 1))) > 0)
        top++;
    for (int level = top; level >= 1 && rc == 0; level--)
        rc = write_level(&c, level, old, size, &r.tiles_written);
    if (rc == 0)
        rc = write_level(&c, -1, old, size, &r.bundles_written);
    if (rc == 0)
        rc = write_level(&c, 0, old, size, &r.tiles_written);
    /* the checkpoint's epoch line whole (FORMAT.md 5.1), for a mirror
     * that checks it from the log key's anchor: DIR/checkpoint.epoch */
    if (rc == 0)
        rc = ldg_epoch_checkpoint_whole(c.t, size, note, &line);
    if (rc < 0)
        goto out;
    /* the rest reads nothing from the store */
    ldg_txn_abort(c.t);
    c.t = NULL;
    rc = sync_all(&c);
    if (rc < 0)
        goto out;
    rc = sync_dirs(&c);
    if (rc < 0)
        goto out;

    /* Then its epoch line (or none: a stale one removed), and last the
     * checkpoint that makes the new tiles reachable. */
    if (join(&c, dpath, "checkpoint.epoch") < 0) {
        rc = LDG_EINVAL;
        goto out;
    }
    c.buf.len = 0;
    if (line != NULL && (rc = buf_reserve(&c, strlen(line))) == 0) {
        memcpy(c.buf.p, line, strlen(line));
        c.buf.len = strlen(line);
        rc = put_file(&c, "checkpoint.epoch");
    } else if (line == NULL && unlink(dpath) < 0 && errno != ENOENT) {
        rc = io_error(&c, "remove", dpath);
    }
    if (rc < 0)
        goto out;
    c.buf.len = 0;
    rc = buf_reserve(&c, strlen(note));
    if (rc < 0)
        goto out;
    memcpy(c.buf.p, note, strlen(note));
    c.buf.len = strlen(note);
    rc = put_file(&c, "checkpoint");
    if (rc < 0)
        goto out;
    rc = fsync_path(&c, dir);
    if (rc < 0)
        goto out;
    if (report != NULL)
        *report = r;
out:
    if (c.t != NULL)
        ldg_txn_abort(c.t);
    for (size_t i = 0; i < c.ndirs; i++)
        free(c.dirs[i]);
    free(c.dirs);
    ldg_buf_release(&c.buf);
    free(c.whole);
    free(note);
    free(line);
    return rc < 0 ? rc : 0;
}
