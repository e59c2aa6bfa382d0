/*
 * layout.c — the store layouts (layout_int.h, docs/FORMAT.md 6.1): what
 * each keeps where, its words, which one ldg_init makes and which one an
 * append needs. The rest of the core asks; only this file and ledger
 * migrate know the numbers.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "ledger/handle_int.h"
#include "ledger/layout_int.h"

/* A release build (make RELEASE=1, the Debian packages') neither reads
 * nor makes a layout in development: its format may still change, and
 * what a release reads, every later release must (docs/FORMAT.md 6.1). */
#ifdef LEDGER_RELEASE
#define DEVEL_KNOWN 0
#else
#define DEVEL_KNOWN 1
#endif

/* Every layout this build reads, oldest first: its features and words
 * (devel: in development, unknown to a release build). */
static const struct layout {
    int number;
    unsigned has;
    const char *what; /* `ledger stats`' phrase (80 columns with its name) */
    int devel;
} layouts[] = {
    {1, 0, "a record per tree node; ledger migrate converts it", 0},
    {2, LDG_HAS_TILES,
     "Merkle tree as tiles, an index key per event; ledger migrate "
     "converts it",
     0},
    {3, LDG_HAS_TILES | LDG_HAS_DUPS,
     "Merkle tree as tiles, an index key per value; ledger migrate "
     "converts it",
     0},
    {4, LDG_HAS_TILES | LDG_HAS_DUPS | LDG_HAS_SPLIT,
     "Merkle tree as tiles of two pages, an index key per value; ledger "
     "migrate converts it",
     0},
    {5, LDG_HAS_TILES | LDG_HAS_DUPS | LDG_HAS_SPLIT | LDG_HAS_STORED,
     "entries without derived bytes, bodies seeded by BLAKE2b, "
     "dictionaries; ledger migrate converts it",
     0},
    {6, LDG_HAS_TILES | LDG_HAS_DUPS | LDG_HAS_SPLIT | LDG_HAS_STORED,
     "entries without derived bytes, seeded bodies, dictionaries; ledger "
     "migrate converts it",
     0},
    {7,
     LDG_HAS_TILES | LDG_HAS_DUPS | LDG_HAS_SPLIT | LDG_HAS_STORED |
         LDG_HAS_DIGEST,
     "entries without prev, seeded bodies, dictionaries; ledger migrate "
     "converts it",
     0},
    {8,
     LDG_HAS_TILES | LDG_HAS_DUPS | LDG_HAS_SPLIT | LDG_HAS_STORED |
         LDG_HAS_DIGEST | LDG_HAS_APPEND,
     "entries without prev, seeded bodies, dictionaries", 0},
    {LDG_LAYOUT_INTAKE,
     LDG_HAS_TILES | LDG_HAS_DUPS | LDG_HAS_SPLIT | LDG_HAS_STORED |
         LDG_HAS_DIGEST | LDG_HAS_APPEND | LDG_HAS_INTAKE | LDG_HAS_EPOCHS |
         LDG_HAS_TREE_PRUNE,
     "layout 8, and appends through an intake log; epoch keys", 0},
    /* a layout in development comes last, devel 1, numbered from 999
     * down (FORMAT.md 6.1): none now */
};
#define NLAYOUTS (sizeof layouts / sizeof layouts[0])
_Static_assert(NLAYOUTS >= LDG_LAYOUT_MAX - LDG_LAYOUT_MIN + 1,
               "one entry a released layout, then any in development");

_Static_assert(LDG_LAYOUT_MAX == LDG_LAYOUT_NEWEST,
               "layout_int.h and ledger.h name the same newest layout");
_Static_assert(LDG_LAYOUT_DEFAULT == LDG_LAYOUT_NEWEST,
               "init makes the newest released layout unasked");

/* number's entry, or NULL. Without a search for a released one: asked on
 * every read (they are in the table in order, one a number). */
static const struct layout *
find(int number)
{
    const struct layout *lo = NULL;
    if (number >= LDG_LAYOUT_MIN && number <= LDG_LAYOUT_MAX)
        lo = &layouts[number - LDG_LAYOUT_MIN];
    else
        for (size_t i = LDG_LAYOUT_MAX - LDG_LAYOUT_MIN + 1; i < NLAYOUTS; i++)
            if (layouts[i].number == number)
                lo = &layouts[i];
    if (lo == NULL || (!DEVEL_KNOWN && lo->devel))
        return NULL;
    LDG_ASSERT(lo->number == number);
    return lo;
}

int
ldg_layout_devel(int number)
{
    for (size_t i = 0; i < NLAYOUTS; i++)
        if (layouts[i].number == number)
            return layouts[i].devel;
    return 0;
}

const char *
ldg_damage_remedy(const struct ldg_ledger *l, int full)
{
    if (l != NULL && l->layout_old)
        return "the store is damaged: restore data.mdb from a backup (this "
               "build verifies a store only once it is migrated)";
    return full ? "run `" LDG_CMD_VERIFY_FULL "`" : "run `" LDG_CMD_VERIFY "`";
}

int
ldg_layout_current(int number)
{
    const struct layout *lo = find(number);
    return lo != NULL && (lo->number == LDG_LAYOUT_NEWEST || lo->devel);
}

int
ldg_layout_has(int number, unsigned what)
{
    const struct layout *lo = find(number);
    return lo != NULL && (lo->has & what) == what;
}

int
ldg_txn_has(struct ldg_txn *t, unsigned what)
{
    int n = ldg_txn_layout(t);
    return n < 0 ? n : ldg_layout_has(n, what);
}

enum ldg_core_db
ldg_layout_db(int number, enum ldg_core_db db)
{
    const struct layout *lo = find(number);
    unsigned has = lo != NULL ? lo->has : 0;

    switch (db) {
    case LDG_DB_ENTRIES: /* 5 on: the stored forms, derived bytes left out */
        return has & LDG_HAS_STORED ? LDG_DB_ENTRIES5 : db;
    case LDG_DB_BODIES:
        return has & LDG_HAS_STORED ? LDG_DB_BODIES5 : db;
    case LDG_DB_IDX_TYPE: /* 3 on: a key a value, the seqs duplicates */
        return has & LDG_HAS_DUPS ? LDG_DB_IX_TYPE : db;
    case LDG_DB_IDX_SUBJECT:
        return has & LDG_HAS_DUPS ? LDG_DB_IX_SUBJECT : db;
    case LDG_DB_IDX_RUN:
        return has & LDG_HAS_DUPS ? LDG_DB_IX_RUN : db;
    case LDG_DB_IDX_ACTOR:
        return has & LDG_HAS_DUPS ? LDG_DB_IX_ACTOR : db;
    case LDG_DB_IDX_TIME: /* 3 on: none (a binary search of the entries) */
        return has & LDG_HAS_DUPS ? LDG_CORE_DBS : db;
    default:
        return db;
    }
}

const char *
ldg_layout_what(int number)
{
    const struct layout *lo = find(number);
    return lo != NULL ? lo->what : "unknown to this build";
}

int
ldg_layout_default(void)
{
    return LDG_LAYOUT_DEFAULT;
}

int
ldg_layout_with(unsigned what)
{
    for (size_t i = NLAYOUTS; i-- > 0;)
        if ((layouts[i].has & what) == what &&
            (DEVEL_KNOWN || !layouts[i].devel))
            return layouts[i].number;
    return 0;
}

const char *
ldg_layouts_known(void)
{
    return "layout 9 (ledger migrate converts 1 to 8 to it)";
}

int
ldg_layout_refuse(struct ldg_ledger *l, int layout)
{
    if (l != NULL)
        ldg_seterr(l,
                   "%s is at store layout %d, an earlier build's: this build "
                   "reads and appends to layout %d only, and `" LDG_CMD_MIGRATE
                   "` converts it in place (run `" LDG_CMD_MIGRATE_IN
                   "`: no signed byte changes; it may be "
                   "stopped at any point and run again; stop `" LDG_CMD_SERVE
                   "` first if it serves the ledger)",
                   l->dir, layout, LDG_LAYOUT_NEWEST, l->dir);
    return LDG_EVERSION;
}

int
ldg_layout_check(int number, unsigned missing, const char **damage)
{
    const struct layout *lo = find(number);
    *damage = NULL;
    if (number > LDG_LAYOUT_MAX && lo == NULL)
        return LDG_EVERSION;
    if (lo == NULL)
        *damage = "";
    else if ((lo->has & missing & LDG_HAS_TILES) != 0)
        *damage = ", and no 'tiles' database";
    else if ((lo->has & missing & LDG_HAS_DUPS) != 0)
        *damage = ", and no 'ix.type' database";
    else if ((lo->has & missing & LDG_HAS_STORED) != 0)
        *damage = ", and no 'entries5' database";
    return *damage != NULL ? LDG_ECORRUPT : 0;
}

int
ldg_layout_to_make(unsigned asked, int any, char *err, size_t errcap)
{
    const struct layout *lo = find(asked <= INT_MAX ? (int)asked : 0);
    if (asked == 0)
        return LDG_LAYOUT_DEFAULT;
    if (lo != NULL && lo->number == LDG_LAYOUT_NEWEST)
        return (int)asked;
    if (lo != NULL && any && (lo->has & LDG_HAS_APPEND))
        return (int)asked; /* a test's store at 8 (LDG_ANY_LAYOUT) */
    if (ldg_layout_devel(asked <= INT_MAX ? (int)asked : 0))
        snprintf(err, errcap,
                 "store layout %u: in development, which no release makes "
                 "or reads; this release build makes layout %d ledgers",
                 asked, LDG_LAYOUT_NEWEST);
    else
        snprintf(err, errcap,
                 "store layout %u: this build makes layout %d ledgers only "
                 "(ledger migrate converts an earlier build's)",
                 asked, LDG_LAYOUT_NEWEST);
    return LDG_EINVAL;
}

unsigned
ldg_layout_info(int number, const char **what)
{
    const struct layout *lo;
    unsigned f = 0;

    if (number == 0)
        number = LDG_LAYOUT_DEFAULT;
    if ((lo = find(number)) == NULL) {
        if (what != NULL)
            *what = "unknown to this build";
        return 0;
    }
    if (lo->number == LDG_LAYOUT_NEWEST || lo->devel)
        f = LDG_LAYOUT_READS | LDG_LAYOUT_MAKES;
    else
        f = LDG_LAYOUT_MIGRATES;
    if (lo->has & LDG_HAS_EPOCHS)
        f |= LDG_LAYOUT_EPOCHS;
    if (lo->devel)
        f |= LDG_LAYOUT_DEVEL;
    if (what != NULL)
        *what = lo->what;
    return f;
}

/* ------------------------------------------------ the one appended to -- */

int
ldg_txn_writable(struct ldg_txn *t)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    int layout = ldg_txn_layout(t);
    if (layout < 0)
        return layout;
    if (ldg_layout_has(layout, LDG_HAS_APPEND))
        return 0;
    return ldg_layout_refuse(l, layout);
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
    ldg_txn_abort(t);
    return rc;
}
