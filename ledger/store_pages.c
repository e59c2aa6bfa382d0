/*
 * store_pages.c — the store's pages as LMDB lays them out (store_int.h):
 * the page check of `verify --full`, each database's size, the readers
 * that hold a snapshot.
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

#include "ledger/overlay_int.h"
#include "ledger/store_int.h"

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
    void *base;     /* the map, for its drops */
    size_t len;     /* its length */
    uint64_t taken; /* pages reached */
};

/* The walk drops its mapped pages every PG_TRIM pages reached (2 MiB of
 * 4 KiB pages): they are page cache, but would count in the process's
 * resident size, the whole file's by the end (a migrate's verify of 1M
 * events peaked at 804 MiB). The kernel maps the cached pages around
 * each fault too, so far more is mapped than reached: a drop every 8,192
 * pages left the walk at 310 MiB, every 512 at 40. A page dropped
 * faults back in if read again; the walk's pointers into the map stay
 * valid. */
#define PG_TRIM 512

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
    if (++w->taken % PG_TRIM == 0)
        (void)madvise(w->base, w->len, MADV_DONTNEED);
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
            outer.taken = w->taken; /* (the whole walk's count) */
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
    if ((rc = mdb_cursor_open(txn, 0, &c)) == ENOMEM)
        return ldg_alloc_failed(); /* the machine's: no finding */
    if (rc != 0)
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
int
store_tail_pages_free(const char *path, size_t psize, uint64_t size,
                      uint64_t last)
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
    w.base = map;
    w.len = len;
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
        return store_xlate(rc);
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
        return store_xlate(rc);
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
    return store_xlate(rc);
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
            return store_xlate(rc);
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
