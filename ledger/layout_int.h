/*
 * layout_int.h — the store layouts (docs/FORMAT.md 6.1): the one place
 * that knows their numbers and what each keeps where (issue 68, item 2).
 *
 * The rest of the core asks what a store has (ldg_txn_has: tiles, ix.*
 * indexes, an intake log, ...) and never compares or names a layout's
 * number; `make check` holds it to that (tools/check_layout.py). Only
 * layout.c and ledger migrate (migrate*.c), which converts the older
 * layouts, use the numbers below.
 *
 * Part store (tools/ledger_parts.txt).
 */
#ifndef LEDGER_LAYOUT_INT_H
#define LEDGER_LAYOUT_INT_H

#include <stddef.h>

struct ldg_txn;

/* meta "layout" (format.h, LDG_META_LAYOUT): be32, the store layout: how
 * the core keeps the signed bytes in LMDB, versioned apart from the
 * ledger format. Absent: layout 1. */
#define LDG_LAYOUT_MIN 1
#define LDG_LAYOUT_MAX 9 /* ledger.h's LDG_LAYOUT_NEWEST (layout.c checks) */
/* Layout 1: db tree holds every node of the Merkle tree. Layout 2: db
 * tiles holds full tiles, db tree only the hashes of the tiles not yet
 * full (the right edge). Layout 3: layout 2, and the type, subject, run
 * and actor indexes in ix.* (key: the value; sorted duplicate values:
 * be64 seqs, 8 bytes each) in place of idx.*, and no idx.time (ts grows
 * with seq: a time is found by binary search in entries). Layout 4:
 * layout 3, and a full tile keeps its first 255 hashes in db tiles
 * (LDG_TILE_SPLIT_BYTES: two pages, where 256 take three) and its last
 * in db tree, where the edge had it. */
#define LDG_LAYOUT_TILES 2
#define LDG_LAYOUT_DUPS 3
#define LDG_LAYOUT_SPLIT 4
/* Layout 5: layout 4, and entries stored without the bytes a reader
 * derives (prev; a sealed entry's claim digest: codec_stored.c), new
 * bodies seeded (one random seed a record, the field salts derived from
 * it) and compressed with zstd dictionaries of db dicts (body.c). */
#define LDG_LAYOUT_STORED 5
/* Layout 6: layout 5, and new bodies seeded with the salts derived by
 * AES-128 (records 0x05 and 0x06) in place of BLAKE2b; layout 5's records
 * stay as they are. Migrating 5 to 6 rewrites meta "layout" only. */
#define LDG_LAYOUT_AES_SALTS 6
/* Layout 7: layout 6, and a new sealed entry's stored record keeps its
 * claim digest (the whole entry less prev: codec_stored.c), which a
 * reader showing the digest would otherwise hash from the claim; layout 5
 * and 6's records stay as they are. Migrating 6 to 7 rewrites meta
 * "layout" only. */
#define LDG_LAYOUT_DIGEST 7
/* Layout 8: layout 7, and a new sealed entry's stored record is 0x01 ‖
 * digest[32] ‖ the record layouts 5 and 6 store (codec_stored.c): the
 * digest raw, 8 bytes an event less than layout 7's msgpack pair; the
 * records of layouts 5 to 7 stay readable at any seq until ledger
 * migrate rewrites them (meta "digest.next", as 6 to 7). */
#define LDG_LAYOUT_TAGGED 8
/* Layout 9 (1.0's): layout 8, and every append goes through DIR/intake
 * (intake_int.h, FORMAT.md 12), LMDB being brought up to date from it in
 * large transactions; the log key may seal with epoch keys (FORMAT.md
 * 5.1); a prune drops the level-0 tiles of the tree wholly before its
 * horizon (FORMAT.md 6.2). meta "intake" (format.h) says how far the store
 * is applied. Builds that know only layouts 1 to 8 refuse it, as they
 * must: they would not see the events in its intake log. (Before 1.0 it
 * was in development as layout 9, which no release reads.) */
#define LDG_LAYOUT_INTAKE 9
#define LDG_LAYOUT_DEFAULT 9

/* What a store layout has, asked of a transaction (ldg_txn_has) or of a
 * layout's number (ldg_layout_has): each from its layout on. */
enum ldg_layout_has {
    LDG_HAS_TILES = 1u << 0,  /* 2: full tiles in db tiles, db tree the edge */
    LDG_HAS_DUPS = 1u << 1,   /* 3: type, subject, run and actor in ix.*
                                 (sorted duplicate seqs), no idx.time */
    LDG_HAS_SPLIT = 1u << 2,  /* 4: a full tile's last hash in db tree */
    LDG_HAS_STORED = 1u << 3, /* 5: entries5 and bodies5, derived bytes left
                                 out, bodies seeded, dictionaries */
    LDG_HAS_DIGEST = 1u << 4, /* 7: sealed entries may keep their digest,
                                 meta "digest.next" a rewrite's progress */
    LDG_HAS_INTAKE = 1u << 5, /* 9: appends through DIR/intake */
    LDG_HAS_EPOCHS = 1u << 6, /* 9: seals by epoch keys (FORMAT.md 5.1) */
    LDG_HAS_TREE_PRUNE = 1u << 7, /* 9: a prune drops the level-0 tiles
                                     wholly before its horizon */
    LDG_HAS_APPEND = 1u << 8,     /* this build appends to it (8 and 9) */
};

/* struct ldg_options' flags, for the tests of the core only: opens (and
 * ldg_init makes) a store at any layout this build knows, as ldg_migrate
 * goes through them, and lets ldg_migrate stop at one (its `to`). The
 * read paths of the older layouts are migrate's; their tests open the
 * golden images (tests/vectors/layout/) with it. Not in ledger.h: a 1.0
 * build reads, makes and appends to the newest layout only. */
#define LDG_ANY_LAYOUT (1u << 30)

/* The refusal of a store at an older layout (handle.c, open.c): sets l's
 * message (the directory, the layout, `ledger migrate`).
 * @return LDG_EVERSION. */
struct ldg_ledger;
int ldg_layout_refuse(struct ldg_ledger *l, int layout);

/* What a message of damage found sends the operator to: "run `ledger
 * verify`" (full: "run `ledger verify --full`"), or, on a store still at
 * an earlier build's layout (a migrate under way), which verify refuses,
 * a restore from a backup. (static) */
const char *ldg_damage_remedy(const struct ldg_ledger *l, int full);
/* 1 when number is the layout this build reads and appends to (the
 * newest, or a development build's layout in development), else 0: an
 * earlier build's, which ldg_migrate alone reads. */
int ldg_layout_current(int number);
/* 1 when layout number has every feature in what, else 0 (an unknown
 * number has none). */
int ldg_layout_has(int number, unsigned what);
/* 1 when t's store layout has every feature in what, 0 when not; -err
 * when the layout record cannot be read (ldg_txn_layout's errors). */
int ldg_txn_has(struct ldg_txn *t, unsigned what);
/* The layout in a phrase, and whether ledger migrate converts it, for
 * `ledger stats` (static; "unknown to this build" for another number). */
const char *ldg_layout_what(int number);
/* The layout ldg_init makes when asked for asked (0: the default): the
 * number to store, or LDG_EINVAL with what this build makes in err. any:
 * LDG_ANY_LAYOUT was given (a test's older store, one this build could
 * append to before 1.0). */
int ldg_layout_to_make(unsigned asked, int any, char *err, size_t errcap);
/* 1 when number is a layout in development (one a release build knows
 * only to refuse it), else 0. */
int ldg_layout_devel(int number);
/* The layouts this build reads, in words for a message ("1 to 8 ..."). */
const char *ldg_layouts_known(void);
/* The check of a layout record read (ldg_txn_layout): 0 when number is a
 * layout this build reads and none of the databases it needs is among
 * missing (LDG_HAS_* of the databases a read-only open did not find:
 * tiles, ix.type, entries5); LDG_EVERSION for a newer layout;
 * LDG_ECORRUPT with *damage the words to add ("" or ", and no ..."). */
int ldg_layout_check(int number, unsigned missing, const char **damage);
/* The layout ldg_init makes unasked. */
int ldg_layout_default(void);
/* The layout that has every feature in what (the newest such; 0 when
 * none), for a message that names what to migrate to. */
int ldg_layout_with(unsigned what);

#endif
