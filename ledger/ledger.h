/*
 * ledger.h — libledger for programs that embed it: signed, hash-chained
 * events in LMDB, covered by an RFC 6962 Merkle tree with C2SP signed
 * checkpoints. The byte formats are in docs/FORMAT.md.
 *
 * Three headers, one audience each (SQLite's sqlite3.h, btree.h and
 * btreeInt.h):
 *   ledger/ledger.h   this one: the embedding API. Installed, exported
 *                     from libledger, compiled alone by `make headertest`.
 *   ledger/module.h   what the sibling modules (projections/, query/,
 *                     export/, ...) build on: module key-value stores,
 *                     cursors, log scans, body views, index walks,
 *                     appliers, the seal and transparency primitives.
 *                     Neither installed nor exported.
 *   ledger/format.h   the stored layouts, private to the files of ledger/.
 *
 * Conventions
 *   - Functions return 0 on success or a negative enum ldg_error
 *     (util/error.h). "@return" lists the codes a caller can act on;
 *     LDG_ENOMEM and LDG_EIO are possible wherever memory is allocated or
 *     the store is read, and are not repeated.
 *   - A human message for the last failure on a handle is available from
 *     ldg_errmsg(); it names what and where ("event 4812: ...").
 *   - `T **out` first means the caller owns the result and frees it with
 *     the matching _free (each says so under "Lifetime"). `const T *`
 *     results are borrowed; "Lifetime" says for how long, as LMDB's
 *     lmdb.h does for every getter.
 *   - A ledger handle is used by one thread at a time; the bulk writer
 *     (ldg_writer_*) runs threads of its own behind it.
 */
#ifndef LDG_LEDGER_H
#define LDG_LEDGER_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ledger/events.h" /* LDG_EV_*: the vocabulary's type names */
#include "util/error.h"

/* Ledger formats (meta "format"): 1, per-event signatures; 2, sealed
 * entries (FORMAT.md section 3.2). A format 1 ledger still opens,
 * verifies, exports and is appended to in format 1. ldg_init writes
 * LDG_FORMAT_DEFAULT unless ldg_options.format says otherwise. */
#define LDG_FORMAT_VERSION 2
#define LDG_FORMAT_VERSION_MIN 1
#define LDG_FORMAT_DEFAULT 2     /* what ldg_init writes: sealed entries */
#define LDG_FORMAT_VERSION_MAX 2 /* the newest format read and written */

/* Limits. Inputs beyond them are refused before anything is allocated. */
#define LDG_TYPE_MAX 64 /* bytes in an event type */
#define LDG_SUBJECT_MAX                                                        \
    400 /* bytes in a subject ("kind:name"); LMDB keys are <= 511 */
#define LDG_RUN_MAX 256     /* bytes in a run id */
#define LDG_NAME_MAX 64     /* bytes in a key name */
#define LDG_ORIGIN_MAX 255  /* bytes in a checkpoint origin line */
#define LDG_KEYID_LEN 16    /* hex digits in a key id */
#define LDG_ENTRY_MAX 65535 /* bytes in an encoded entry */
#define LDG_BODY_MAX_DEFAULT (1024 * 1024) /* bytes of body JSON */
#define LDG_FIELDS_MAX 256                 /* top-level fields in a body */
#define LDG_DEPTH_MAX 24 /* nesting of arrays/objects in a body value */
/* Format version 2 additions (FORMAT.md section 3.1). */
#define LDG_ID_MAX 128   /* bytes in an event id (idempotency key) */
#define LDG_EXE_MAX 1024 /* bytes in a source executable path */
#define LDG_UNIT_MAX 256 /* bytes in a source systemd unit name */

/* RFC 6962 and C2SP tlog-tiles sizes. */
#define LDG_HASH_LEN 32
#define LDG_TILE_HEIGHT 8
#define LDG_TILE_WIDTH 256
#define LDG_PROOF_MAX 64 /* hashes in any proof of a 2^63-leaf tree */

struct ldg_ledger; /* an open ledger */
struct ldg_txn;    /* a read (or, inside the library, write) transaction */

/* ---------------------------------------------------------------- keys -- */

/* An Ed25519 key. sk is NULL for a public-only key; otherwise it points to
 * 64 bytes of sodium_malloc'd memory, wiped by ldg_key_free. */
struct ldg_key {
    char name[LDG_NAME_MAX + 1];
    char key_id[LDG_KEYID_LEN + 1]; /* hex of SHA-256(pub)[0:8] */
    uint8_t pub[32];
    uint8_t *sk;
};

/* Generates a new key named name (not written anywhere).
 * @return 0; LDG_EINVAL for a name ldg_key_name_valid refuses.
 * Lifetime: *out is the caller's, freed with ldg_key_free. */
int ldg_key_generate(struct ldg_key **out, const char *name);
/* Wipes the secret and frees k. NULL-safe.
 * @return nothing. Lifetime: k is gone when this returns. */
void ldg_key_free(struct ldg_key *k);
/* Whether name is a valid key name: 1..LDG_NAME_MAX of [A-Za-z0-9._-],
 * not starting with '.' or '-'.
 * @return 1 valid, 0 not. Lifetime: name is read during the call only. */
int ldg_key_name_valid(const char *name);

/* A key file anywhere (a writer's own key, kept outside the ledger
 * directory): the format of DIR/keys/NAME.key (FORMAT.md, "Secret key
 * file"). ldg_keyfile_save writes k's secret to path with mode 0600 and
 * refuses a path that exists; err receives a message naming the file.
 * @return 0; LDG_EEXIST (path exists), LDG_EKEY (k has no secret), LDG_EIO.
 * Lifetime: k and path are read during the call only. */
int ldg_keyfile_save(const char *path, const struct ldg_key *k, char *err,
                     size_t errcap);
/* Reads a key file back: a regular file of this user's, 0600, one link;
 * the key's name is the one the file records (its "name" line), whatever
 * the file is called.
 * @return 0; LDG_ENOTFOUND (no such file), LDG_EKEY (unusable: modes,
 * owner, links, content). err names the file.
 * Lifetime: *out is the caller's, freed with ldg_key_free. */
int ldg_keyfile_load(const char *path, struct ldg_key **out, char *err,
                     size_t errcap);

/* -------------------------------------------------------------- ledger -- */

enum ldg_open_flags {
    LDG_RDONLY = 1 << 0, /* read-only: no appends, no verify state update */
    LDG_NOSYNC = 1 << 1, /* tests only: skip fsync (not durable) */
    /* Benchmarks only (bench/tree_overhead), to measure what the Merkle
     * tree and checkpoints cost an append: keeps level 0 of the tree
     * (each event's leaf hash, stored in its tiles as always: layout 5
     * reads an entry's prev from it, so appending needs it) and skips
     * every level above it and the per-commit checkpoint. ldg_init then
     * skips the verify of the genesis: a ledger written this way has no
     * root and does not verify. */
    LDG_BENCH_NOTREE = 1 << 2,
    /* Writable opens only: map room for one transaction that rewrites
     * data as large as the whole store (a projections rebuild writes a
     * second copy of them): the map starts at 1.5 times data.mdb plus
     * 256 MiB, within map_max_bytes. The core grows the map by itself
     * only on its append path. */
    LDG_ROOM_TO_REWRITE = 1 << 3,
    /* Store layout 9 (docs/WRITE-PATH.md): ldg_close
     * leaves the intake's unapplied tail (at most 128 events or 2 MiB of
     * frames, which every reader replays) for the next writer to apply,
     * where by default a writer's clean close applies it to LMDB. For a
     * one-shot writer (`ledger append`, `ingest`, `probe`): an append
     * then costs one intake block and one flush, not an LMDB commit too.
     * A long-lived writer (`serve`, `proxy`) leaves it unset, so that
     * its clean stop leaves LMDB current. No effect at other layouts. */
    LDG_KEEP_TAIL = 1 << 4,
    /* For ldg_migrate: opens a store an earlier build left at an older
     * layout (docs/FORMAT.md 6.1), which ldg_open refuses otherwise
     * (LDG_EVERSION, naming `ledger migrate`). On such a handle every
     * call but ldg_migrate and ldg_close is refused the same way until
     * ldg_migrate has converted the store; at the newest layout the flag
     * changes nothing. */
    LDG_MIGRATE = 1 << 5
};

struct ldg_options {
    unsigned flags;        /* enum ldg_open_flags */
    size_t map_size_bytes; /* initial LMDB map size; 0 = default */
    size_t body_max_bytes; /* 0 = LDG_BODY_MAX_DEFAULT */
    size_t map_max_bytes;  /* growth ceiling; 0 = unlimited */
    /* ldg_init only: the ledger format to create, 1 or 2; 0 =
     * LDG_FORMAT_DEFAULT (2). Format 1 (a signature per event) is made
     * for the tests of the paths that ledgers of format 1, made before
     * format 2, still take: the command line makes format 2 only. Opens
     * read the format from the ledger. */
    unsigned format;
    /* ldg_init only: the store layout to create (docs/FORMAT.md 6.1): 0 or
     * LDG_LAYOUT_NEWEST (9: the intake log and epoch keys); another is
     * refused (LDG_EINVAL). */
    unsigned layout;
};
/* The store layout this build makes, reads and appends to, the only one
 * (docs/FORMAT.md 6.1): ldg_migrate converts the older ones (1 to 8) to
 * it, and ldg_open refuses them otherwise. */
#define LDG_LAYOUT_NEWEST 9
/* ldg_layout_info's flags. */
#define LDG_LAYOUT_READS 1u  /* this build reads it */
#define LDG_LAYOUT_MAKES 2u  /* and appends to it: ldg_init makes it */
#define LDG_LAYOUT_EPOCHS 4u /* its keys may seal with epoch keys */
#define LDG_LAYOUT_DEVEL 8u  /* in development: no release reads it */
#define LDG_LAYOUT_MIGRATES                                                    \
    16u /* an earlier build's: ldg_migrate                                     \
           converts it to the newest */
/* What this build knows of store layout number (docs/FORMAT.md 6.1; 0:
 * the one ldg_init makes unasked), for a caller with no ledger open (a
 * command's options; ldg_stats tells of an open one). *what, when not
 * NULL, gets the layout in a phrase, as ldg_stats gives it.
 * @return the LDG_LAYOUT_* flags below; 0 for a number this build does
 * not know. Lifetime: *what is static. */
unsigned ldg_layout_info(int number, const char **what);

/* Where the system ledger is (docs/SYSTEMD.md: the one ledger.service
 * serves), unless $LEDGER_SYSTEM_DIR names another: a command that names
 * no ledger uses it when the user's own default holds none. */
#define LDG_SYSTEM_DIR "/var/lib/ledger"

/* Resolves the ledger directory: dir if non-NULL, else $LEDGER_DIR if set,
 * else the user's own ${XDG_STATE_HOME:-$HOME/.local/state}/ledger when it
 * holds a ledger (or when no system ledger is there), else the system
 * ledger ($LEDGER_SYSTEM_DIR, default LDG_SYSTEM_DIR) when one is there
 * (its data.mdb exists, readable or not): root on a box set up as
 * docs/SYSTEMD.md says finds /var/lib/ledger, never an empty place to
 * `init` a second ledger in. Into buf.
 * @return 0; LDG_EINVAL if dir or a set $LEDGER_DIR is empty, if neither
 * is given and HOME is not set and no system ledger is there, or if the
 * name does not fit in buf.
 * Lifetime: nothing is kept; buf is the caller's. */
int ldg_default_dir(char *buf, size_t cap, const char *dir);
/* The same, but never the system ledger: the user's own default, where
 * `ledger init` makes a new ledger.
 * @return 0; LDG_EINVAL as ldg_default_dir (empty dir or $LEDGER_DIR, no
 * HOME, a name that does not fit).
 * Lifetime: nothing is kept; buf is the caller's. */
int ldg_default_dir_own(char *buf, size_t cap, const char *dir);
/* The system ledger's directory ($LEDGER_SYSTEM_DIR, else LDG_SYSTEM_DIR)
 * when a ledger is there (its data.mdb exists, readable by this user or
 * not). *readable (may be NULL) says whether this user may read it.
 * @return the directory, or NULL when no ledger is there.
 * Lifetime: a static string or the environment's: valid until the
 * environment changes. */
const char *ldg_system_dir(int *readable);

/* Creates a new ledger in dir (created 0700 if missing; must not already
 * hold one), its log key (named "log", file keys/log.key) and the genesis
 * event 0. origin: the checkpoint origin line: 1..LDG_ORIGIN_MAX printable
 * ASCII characters without spaces or '+' (a C2SP note's key name); NULL
 * means a unique "ledger.local/<random>". opts may be NULL.
 * @return 0; LDG_EEXIST (a ledger is there, or dir is not a directory
 * and cannot be made one), LDG_EINVAL (bad origin or format), LDG_EIO;
 * *err (if non-NULL) receives a message.
 * Lifetime: nothing is kept open; open the ledger with ldg_open. */
int ldg_init(const char *dir, const char *origin,
             const struct ldg_options *opts, char *err, size_t errcap);

/* Opens an existing ledger: checks the meta record (magic, format version,
 * origin) first. opts may be NULL.
 * @return 0; LDG_ENOTFOUND (no ledger in dir), LDG_EVERSION (a format this
 * build does not know), LDG_ECORRUPT (meta records unreadable), LDG_EIO;
 * err gets a message.
 * Lifetime: *out is the caller's until ldg_close. */
int ldg_open(struct ldg_ledger **out, const char *dir,
             const struct ldg_options *opts, char *err, size_t errcap);
/* Closes the ledger and frees the handle, as mdb_env_close does the
 * environment: every transaction, writer, batch and reader of it must be
 * ended first (their memory is not freed here and their use after this is
 * undefined). Only the handle's memory is freed: what was committed is
 * durable already; nothing is flushed here. NULL-safe.
 * @return nothing. Lifetime: l and every string borrowed from it (ldg_dir,
 * ldg_origin, ldg_errmsg) are gone when this returns. */
void ldg_close(struct ldg_ledger *l);

/* The message for the last failure on l ("" if none).
 * @return a string, never NULL.
 * Lifetime: valid until the next call on l. */
const char *ldg_errmsg(const struct ldg_ledger *l);
/* Sets the handle's message (for code built on the core that reports its
 * own failures through the handle, as the modules do).
 * @return nothing. Lifetime: the text is copied. */
void ldg_set_errmsg(struct ldg_ledger *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The ledger's directory, its checkpoint origin line, its format (1/2).
 * @return the directory / origin (never NULL), the format.
 * Lifetime: the strings are valid until ldg_close(l). */
const char *ldg_dir(const struct ldg_ledger *l);
const char *ldg_origin(const struct ldg_ledger *l);
int ldg_format(const struct ldg_ledger *l);
/* Number of events in the log (the next sequence number), committed.
 * @return 0 with *size set. Lifetime: nothing borrowed. */
int ldg_size(struct ldg_ledger *l, uint64_t *size);

/* Counts and sizes. */
struct ldg_stats {
    uint64_t events;      /* events in the log (the next seq) */
    uint64_t horizon;     /* a pruned ledger's first event (0: never
                             pruned; ldg_horizon says where they went) */
    uint64_t bodies;      /* bodies stored (events - erased) */
    uint64_t checkpoints; /* signed checkpoints stored */
    uint64_t keys;        /* keys known to the log */
    uint64_t entry_bytes; /* bytes of entries (LMDB pages in use) */
    uint64_t body_bytes;  /* bytes of stored bodies (pages in use) */
    uint64_t file_bytes;  /* size of data.mdb */
    uint64_t map_bytes;   /* current LMDB map size */
    uint64_t first_ts, last_ts;
    char first_type[LDG_TYPE_MAX + 1], last_type[LDG_TYPE_MAX + 1];
    int layout;              /* the store layout (docs/FORMAT.md 6.1): 9 */
    const char *layout_what; /* the layout in a phrase, and whether ledger
                                migrate converts it (static) */
    int intake;              /* 1: appends go through an intake log first
                                (layout 9, docs/WRITE-PATH.md) */
    uint64_t intake_events;  /* then: acknowledged events in the intake
                                log's tail, not yet applied to data.mdb
                                (every reader sees them); else 0 */
};
/* Fills st from one read snapshot.
 * @return 0; LDG_ECORRUPT (a malformed meta record, named in
 * ldg_errmsg). Lifetime: st is the caller's; nothing borrowed. */
int ldg_stats(struct ldg_ledger *l, struct ldg_stats *st);

/* One database's size, as LMDB counts it. */
/* What a database holds, for those who weigh the store without knowing
 * its layout (the doctor's disk headroom, prune's budget, migrate). */
enum ldg_db_class {
    LDG_DBC_EVENT,      /* an event's own records: entries, bodies, seals */
    LDG_DBC_INDEX,      /* a record or seq an event in an index */
    LDG_DBC_TREE,       /* the Merkle tree's hashes (kept by a prune; at store
                           layout 9 but the pruned events' level-0 tiles) */
    LDG_DBC_CHECKPOINT, /* signed checkpoints (kept by a prune) */
    LDG_DBC_STATE,      /* projections, meta, keys, dictionaries */
    LDG_DBC_FREE,       /* LMDB's pages free for reuse */
    LDG_DBC_LMDB        /* LMDB's catalogue and meta pages */
};
struct ldg_db_size {
    char name[64]; /* "entries", "idx.type", "proj.models", or LMDB's
                      own: "(catalogue)", "(free)", "(meta)" */
    enum ldg_db_class cls;
    uint64_t entries; /* records (every duplicate counted) */
    uint64_t pages;   /* branch, leaf and overflow pages */
    uint64_t bytes;   /* pages times the page size */
};
/* Every database the ledger keeps, in name order, then LMDB's own: the
 * catalogue of databases, the pages free for reuse (free-listed, and the
 * file's past the last one written) and the two meta pages; from one read
 * snapshot. Their bytes add up to data.mdb's size.
 * @return 0 with *out (n rows); LDG_ENOMEM; LDG_ECORRUPT when the
 * catalogue holds a record that is not a database's.
 * Lifetime: *out is the caller's, free() it. */
int ldg_stats_databases(struct ldg_ledger *l, struct ldg_db_size **out,
                        size_t *n);

/* A process that holds a read snapshot of the store (a slot of LMDB's
 * reader table in a read transaction). While it holds it, no commit may
 * reuse a page freed since: the writer takes new pages and data.mdb
 * grows (docs/QUERY.md, "Readers and the file's growth"). A reader that
 * is reading holds one for at most a batch (a tenth of a second); one
 * stopped (SIGSTOP) or hung inside it holds it until it goes on or dies. */
struct ldg_snapshot_holder {
    int pid;                /* its process */
    int self;               /* 1: this process (another of its transactions) */
    uint64_t thread;        /* its thread, as LMDB records it */
    uint64_t txnid;         /* the commit its snapshot shows */
    uint64_t behind;        /* commits made since (the store's last - txnid) */
    uint64_t held_pages;    /* pages freed by those commits, which no write can
                               reuse while the snapshot lives (LMDB's free
                               list, keyed by commit) */
    uint64_t held_bytes;    /* held_pages times the page size */
    uint64_t proc_start_ns; /* when its process started (wall clock, from
                               /proc; 0 when unknown): LMDB does not record
                               when a snapshot was taken, so this bounds
                               its age from above */
    char state;             /* its process's state letter in /proc ('T':
                               stopped, 'R', 'S', 'D', ...; 0 unknown) */
};
#define LDG_SNAPSHOT_HOLDERS_MAX 4096
/* Every snapshot held on l's store by another transaction than this
 * call's own (LMDB's reader table, a slot in no transaction left out),
 * the oldest first, with what each holds back (one pass over LMDB's free
 * list), and *last_txnid the store's last commit.
 * @return 0 with *out (n rows, NULL when none); LDG_ENOMEM.
 * Lifetime: *out is the caller's, free() it. */
int ldg_stats_snapshots(struct ldg_ledger *l, struct ldg_snapshot_holder **out,
                        size_t *n, uint64_t *last_txnid);
/* What ldg_migrate did. Bytes in use are data.mdb's pages less the free
 * ones (the file itself never shrinks: LMDB reuses freed pages). */
struct ldg_migrate_result {
    int from, to;          /* layouts before and after */
    uint64_t events;       /* events in the log */
    uint64_t used_before;  /* bytes of pages in use before */
    uint64_t used_after;   /* and after */
    uint64_t file_before;  /* data.mdb's size before */
    uint64_t file_after;   /* and after */
    uint64_t tree_before;  /* bytes of the tree's databases before */
    uint64_t tree_after;   /* and after */
    uint64_t index_before; /* bytes of the index databases before */
    uint64_t index_after;  /* and after */
    uint64_t tiles_split;  /* layout 4: whole tiles of 256 hashes split */
    /* layout 5: entries stored without their derivable bytes, and salted
     * bodies compressed with the store's dictionary */
    uint64_t entries_stored, bodies_packed;
    uint64_t events_before; /* bytes of the events' own databases before */
    uint64_t events_after;  /* and after (entries, bodies, seals, dicts) */
    /* layout 5: the body index (ix.body) was built, the store having
     * none current (a migrated store, or one made before it) */
    int body_index_built;
    /* layouts 7 and 8: sealed entries' stored records rewritten in the
     * layout's form with their claim digest (records layouts 5 and 6
     * wrote without it; at layout 8, layout 7's too) */
    uint64_t entries_digested;
};
/* Converts the ledger's store, opened with LDG_MIGRATE, from the layout
 * an earlier build left to the newest (to: 0 or LDG_LAYOUT_NEWEST), in
 * place: no signed or hashed byte changes. Crash-safe: the ledger is in
 * the old layout until a step's last transaction commits, which switches
 * it; the steps before only add records the old layout never reads. A
 * conversion stopped half-way (a crash, a full disk) leaves a layout the
 * next ldg_migrate goes on from. progress, if set, is called now and then
 * with tiles, index keys and events converted of those to convert.
 * @return 0 with *res (also when the ledger already has the newest
 * layout: from == to); LDG_EINVAL (to is neither 0 nor the newest);
 * LDG_EFULL, LDG_EIO; LDG_ECORRUPT when a tree hash the new layout needs
 * is missing or malformed, or an index key (ledger verify names the
 * event); LDG_ETAMPER while a failed verification stands. Lifetime:
 * nothing kept; res is the caller's. */
int ldg_migrate(struct ldg_ledger *l, int to,
                void (*progress)(void *ctx, uint64_t done, uint64_t total),
                void *progress_ctx, struct ldg_migrate_result *res);
/* Whether l's store can be appended to: it is at the newest layout, the
 * only one this build writes (a handle opened with LDG_MIGRATE on an
 * older store is not). A program that will append (a server) asks first,
 * to refuse at its start. @return 0; LDG_EVERSION when it is older (the message
 * names the directory, the layouts and `ledger --dir DIR migrate`); LDG_EIO.
 * Lifetime: nothing kept. */
int ldg_check_writable(struct ldg_ledger *l);

/* The versions of the libraries the core is built with, as
 * "lmdb 0.9.31, libsodium 1.0.18, ..." into buf (truncated to cap).
 * @return nothing. Lifetime: buf is the caller's. */
void ldg_lib_versions(char *buf, size_t cap);

/* ------------------------------------------------------------ key store -- */

/* Creates key NAME, writes its file (DIR/keys/NAME.key, 0600) and appends
 * key.added, signed by the log key. roles: a comma-separated list of role
 * names (FORMAT.md, "Key roles") or NULL for none.
 * @return 0 with *seq_out (may be NULL) the key.added event's seq;
 * LDG_EEXIST (an active key of that name, or the name 'log'), LDG_EINVAL
 * (a name ldg_key_name_valid refuses, or an unknown or empty role: the
 * caller's argument), LDG_EKEY (the log key file is unusable).
 * Lifetime: nothing borrowed. */
int ldg_keys_add(struct ldg_ledger *l, const char *name, const char *roles,
                 uint64_t *seq_out);
/* Enrols a key held by its writer: appends key.added for NAME with the
 * public key pub, roles (may be NULL) and "held": "writer"; no secret key
 * file is written, and the ledger never signs or seals with it (its events
 * must arrive sealed: ldg_sealer_*). Format version 2 only.
 * @return 0 with *seq_out (may be NULL); LDG_EVERSION (format 1),
 * LDG_EEXIST (the public key is in the log already or NAME names an
 * active key), LDG_EINVAL (bad name or role, as ldg_keys_add).
 * Lifetime: nothing borrowed. */
int ldg_keys_enrol(struct ldg_ledger *l, const char *name, const char *roles,
                   const uint8_t pub[32], uint64_t *seq_out);
/* Appends key.revoked for NAME (the newest key of that name), with reason
 * (required: a revocation says why). The log key cannot be revoked.
 * @return 0 with *seq_out (may be NULL); LDG_EINVAL (no name or no
 * reason), LDG_ENOTFOUND (no active key of that name), LDG_EBADINPUT (the
 * log key). Lifetime: nothing borrowed. */
int ldg_keys_revoke(struct ldg_ledger *l, const char *name, const char *reason,
                    uint64_t *seq_out);

/* Forward-secure epoch keys (FORMAT.md 5.1, docs/EPOCHS.md). One epoch of
 * a key: its period and sub-epoch, its public key, its start, and the seq
 * of the first seal under it (UINT64_MAX: none yet). */
struct ldg_epoch_row {
    char key[LDG_NAME_MAX + 1];
    uint32_t period, sub;
    uint8_t pub[32];
    uint64_t start_ns;
    uint64_t from_seq;
    /* 0: a pruned ledger whose key was anchored before the horizon: the
     * certs that give pub and start left with the pruned events */
    int checked;
    /* whether the box still holds its secret: 1 the current epoch of
     * DIR/keys/NAME.epochs; 0 ended, its secret destroyed; -1 not known
     * here (the state file cannot be read: a reader without the keys, a
     * revoked key) */
    int live;
};
/* Gives key name (NULL: the log key), whose secret this box holds, epoch
 * keys: makes DIR/keys/NAME.epochs (a fresh anchor, periods of period_ns
 * from now) and appends key.anchored, signed by the log key; the key's
 * seals after it are made by its epoch keys. A state file left by an
 * anchor that never reached the log is taken again. period_ns 0: the
 * default, that anchor's period, else (a key other than the log key) the
 * log key's when it has epoch keys, else 60 s.
 * Epoch keys need store layout 9 (made with ldg_init's layout 9, or
 * brought there by ldg_migrate).
 * @return 0 with *seq_out (may be NULL); LDG_EEXIST (anchored already),
 * LDG_EINVAL (period outside 1 s .. 366 days), LDG_EVERSION (format 1, or
 * a store layout before 9), LDG_ENOTFOUND, LDG_EKEY (the key's
 * secret is not here).
 * Lifetime: nothing borrowed. */
int ldg_keys_anchor(struct ldg_ledger *l, const char *name, uint64_t period_ns,
                    uint64_t *seq_out);
/* Ends key name's current epoch now (NULL: the log key): the next begins
 * after the last event in the log, its link made and the old secret
 * overwritten in place, under the writer lock. *row (may be NULL) gets the
 * new epoch. @return 0; LDG_ENOTFOUND (no such key, or no anchor);
 * LDG_EFULL (16 sub-epochs in this period: the next period begins
 * soon); LDG_EKEY (state file missing or behind the log).
 * Lifetime: nothing borrowed. */
int ldg_keys_advance(struct ldg_ledger *l, const char *name,
                     struct ldg_epoch_row *row);
/* Ends each epoch whose period is over and under which the log has
 * sealed something, of every key with epoch keys whose secret is here,
 * exactly as ldg_keys_advance ends one (the old secret overwritten in
 * place, under the lock every sealer takes); an epoch that has sealed
 * nothing is left (an idle box makes no epoch). What `ledger serve` runs
 * when an epoch's period ends, and `ledger keys advance --if-expired`.
 * *next_ns (may be NULL): when, by the ledger's clock, the next such end
 * falls due (the end of the period of the epoch a key's seals are under
 * last, while its secret is here), UINT64_MAX when none. *ended (may be
 * NULL): how many epochs it ended. Cost: a reader's transaction over
 * the key registry, no lock, and the state file of each key whose
 * period is over read; only when an epoch is to end, the lock, and two
 * writes and two fdatasync(2) of its state file.
 * @return 0; the first key's failure (LDG_EKEY: a state file missing or
 * behind the log, named in the handle's message; LDG_EIO), the other
 * keys' epochs ended all the same. Lifetime: nothing borrowed. */
int ldg_keys_expire(struct ldg_ledger *l, uint64_t *next_ns, unsigned *ended);
/* What a daemon asks after each commit to learn that ldg_keys_expire
 * falls due sooner: the end of the period of an epoch opened by a seal
 * this handle stored or replayed since the last call, the earliest, and
 * forgets it. Costs an atomic exchange; any thread.
 * @return that time (ns, the ledger's clock); UINT64_MAX: none.
 * Lifetime: nothing borrowed. */
uint64_t ldg_keys_epoch_due(struct ldg_ledger *l);
/* A key's epoch anchor as a verifier pins it (what `ledger keys verifier`
 * names beside the log's verifier key): the key (its id; name for
 * messages, may be ""), the anchor's public key, t0, the period length,
 * and the seq of its key.anchored. The verifiers that take pins
 * (ldg_bundle_verify_opts, ldg_segment_verify_opts) refuse a bundle or
 * segment whose key.anchored of that key differs, or is missing while
 * it holds seals of the key after seq, or whose seals after seq carry
 * no epoch part (docs/EPOCHS.md). */
struct ldg_anchor_pin {
    char key_id[LDG_KEYID_LEN + 1];
    char name[LDG_NAME_MAX + 1];
    uint8_t anchor[32];
    uint64_t t0_ns, period_ns;
    uint64_t seq;
};
/* The anchor of every key the log knows that has one (revoked keys
 * included), the log key's first, then in added order; each as its
 * key.anchored event says, read back while the log holds it.
 * @return 0 with *out (free(); NULL when none) and *n; LDG_ETAMPER (the
 * key registry, as ldg_keys_list, or a registry record that is not its
 * key.anchored: named in the message); LDG_ECORRUPT.
 * Lifetime: *out is the caller's. */
int ldg_keys_anchors(struct ldg_ledger *l, struct ldg_anchor_pin **out,
                     size_t *n);
/* The epochs the log's seals are under, in seq order of their first
 * seal, each checked from its key's anchor. @return 0 with *out (free())
 * and *n; LDG_ETAMPER (a seal's epoch part does not verify: named in the
 * handle's message); LDG_ECORRUPT. Lifetime: *out is the caller's. */
int ldg_keys_epochs(struct ldg_ledger *l, struct ldg_epoch_row **out,
                    size_t *n);
/* What whoever holds the box now could still re-sign (the doctor's line):
 * the log key's current epoch, since which seq and when it began, and
 * whether the file system under keys/ may keep the bytes an in-place
 * overwrite replaces. */
struct ldg_exposure {
    int anchored;         /* the log key seals with epoch keys */
    uint32_t period, sub; /* its current epoch (the state file's) */
    uint64_t since_seq;   /* the first seal under it; UINT64_MAX: none */
    uint64_t start_ns;    /* when it began */
    uint64_t end_ns;      /* when its period ends (UINT64_MAX: never) */
    char fs[32];          /* keys/'s file system: "ext4", "btrfs", ... */
    int fs_keeps_old;     /* 1: copy-on-write, log-structured or ext4
                           * data=journal; 0: overwrites in place; -1:
                           * not known (overlay, an unknown type) */
};
/* @return 0 with *out; LDG_EKEY (the state file is unusable: named in
 * the handle's message). Lifetime: nothing borrowed. */
int ldg_keys_exposure(struct ldg_ledger *l, struct ldg_exposure *out);

/* One key as the log knows it (from key.added / key.revoked). */
struct ldg_keyinfo {
    char name[LDG_NAME_MAX + 1];
    char key_id[LDG_KEYID_LEN + 1];
    uint8_t pub[32];
    uint64_t added_seq;
    uint64_t revoked_seq; /* UINT64_MAX if not revoked */
    int has_secret;       /* a key file is present on this box */
    int writer_held;      /* ldg_keys_list only: held by its writer */
    /* ldg_keys_list only: the roles its key.added gave it, comma-separated
     * ("" for none: any type an actor key may sign; "*" for the log key,
     * which signs anything). Cut at 255 bytes. */
    char roles[256];
    /* ldg_keys_list only: events this key's seals cover so far (format 2;
     * the `first` its next seal must carry). 0 in a format 1 ledger. */
    uint64_t sealed;
};
/* Every key the log knows, in added order. Each record of the key registry
 * is checked against the key events it names.
 * @return 0 with *out and *n; LDG_ETAMPER (the registry says anything but
 * what the key events say; message on l).
 * Lifetime: *out is malloc'd, the caller's to free(). */
int ldg_keys_list(struct ldg_ledger *l, struct ldg_keyinfo **out, size_t *n);
/* The key with id key_id as t's snapshot of the log knows it (has_secret
 * not filled).
 * @return 0; LDG_ENOTFOUND; LDG_ECORRUPT.
 * Lifetime: out is the caller's; nothing borrowed from t. */
int ldg_key_info(struct ldg_txn *t, const char *key_id,
                 struct ldg_keyinfo *out);
/* Events key_id's seals cover in the log as t sees it (format 2): the
 * `first` its next seal must carry (ldg_sealer_begin). 0 for a key with
 * none, or in a format 1 ledger.
 * @return 0 with *n; LDG_EINVAL (bad key id), LDG_ECORRUPT.
 * Lifetime: nothing borrowed. */
int ldg_key_sealed(struct ldg_txn *t, const char *key_id, uint64_t *n);

/* ------------------------------------------------------------ horizon -- */

/* A pruned ledger's horizon (FORMAT.md 6.2; retention/retention.h prunes):
 * events 0..seq-1 were removed into an archive; their tree hashes,
 * checkpoints and keys stay. The record is signed by the log key. */
#define LDG_HORIZON_KEYS_MAX 4096
#define LDG_HORIZON_ROLES_MAX 256
#define LDG_HORIZON_RECORD_MAX (1 << 20) /* bytes, the signature's included */
struct ldg_horizon_key {
    char key_id[LDG_KEYID_LEN + 1];
    char name[LDG_NAME_MAX + 1];
    uint8_t pub[32];
    uint64_t added;   /* seq of its key.added (0: the log key's genesis) */
    uint64_t revoked; /* seq of its key.revoked before the horizon, or
                         UINT64_MAX */
    uint64_t sealed;  /* events its seals covered before the horizon */
    /* the roles its key.added gave it, comma-separated ("" for none
     * given: any type an actor key may sign; "*" for the log key) */
    char roles[LDG_HORIZON_ROLES_MAX];
    char held[8]; /* "writer": held by its writer (key.added "held") */
    /* its epoch keys (FORMAT.md 6.2, "epoch"), when anchored: its
     * key.anchored is before the horizon (anchor_seq), and the record
     * keeps the anchor, t0 and period, and the whole epoch part of the
     * last epoch its seals before the horizon were under (epoch_len 0:
     * none yet). 0: no anchor, or one the record does not keep (a prune
     * by an earlier build) */
    int anchored;
    uint64_t anchor_seq;
    uint8_t anchor[32];
    uint64_t anchor_t0_ns, anchor_period_ns;
    uint8_t *epoch; /* malloc'd; ldg_horizon_release frees it */
    size_t epoch_len;
};
struct ldg_horizon {
    uint64_t seq;        /* events before this one were pruned (> 0) */
    uint64_t first;      /* the first event of the archive: events first..seq-1
                            went into it (earlier prunes took the ones before) */
    uint64_t ts_ns;      /* ledger time of event seq-1 */
    uint64_t pruned_ns;  /* when (wall clock) */
    uint8_t archive[32]; /* SHA-256 of the archive file */
    uint8_t leaf[32];    /* RFC 6962 leaf hash of event seq-1 */
    uint8_t state[32];   /* SHA-256 of the projection note text at seq */
    char origin[LDG_ORIGIN_MAX + 1];
    struct ldg_horizon_key *keys; /* the keys added before seq */
    size_t nkeys;
    uint8_t sig[64];
    uint8_t *record; /* ldg_horizon_get: the stored record's bytes, which a
                        bundle carries as its member "horizon" */
    size_t record_len;
};
/* The ledger's horizon as t sees it (ldg_horizon: in a read transaction
 * of its own).
 * @return 0 with *out; LDG_ENOTFOUND: never pruned; LDG_ECORRUPT (the
 * record does not decode); LDG_ENOMEM.
 * Lifetime: *out owns its keys and record: ldg_horizon_release it. */
int ldg_horizon_get(struct ldg_txn *t, struct ldg_horizon *out);
int ldg_horizon(struct ldg_ledger *l, struct ldg_horizon *out);
/* Frees what h owns (NULL is fine); h may be reused.
 * Lifetime: h's keys and record are gone. */
void ldg_horizon_release(struct ldg_horizon *h);
/* Decodes a horizon record (a bundle's member "horizon"; FORMAT.md 6.2)
 * strictly; its signature is not checked (ldg_horizon_check_sig).
 * @return 0 with *out; LDG_ECORRUPT (not a canonical record, or over
 * 1 MiB); LDG_ENOMEM.
 * Lifetime: *out owns its keys (record stays NULL): release it. */
int ldg_horizon_parse(const uint8_t *p, size_t len, struct ldg_horizon *out);
/* Checks h's signature with the log key pub.
 * @return 0; LDG_EBADSIG; LDG_ENOMEM.
 * Lifetime: nothing borrowed. */
int ldg_horizon_check_sig(const struct ldg_horizon *h, const uint8_t pub[32]);
/* "events 0..N-1 (up to TIME) were pruned into the archive with SHA-256
 * HEX" (after earlier prunes: "...were pruned: F..N-1 into the archive
 * with SHA-256 HEX, the ones before into earlier archives"): what a
 * reader says of the pruned past, into buf (cut to cap).
 * Lifetime: nothing borrowed. */
void ldg_horizon_describe(const struct ldg_horizon *h, char *buf, size_t cap);

/* -------------------------------------------------------------- events -- */

/* Who submitted an event, as the kernel says (SO_PEERCRED, /proc): set
 * by `ledger serve` for each connection, never from input. exe and unit
 * may be NULL (unknown); otherwise 1..LDG_EXE_MAX / LDG_UNIT_MAX bytes. */
struct ldg_source {
    uint64_t uid, gid, pid;
    const char *exe;
    const char *unit;
};

/* An event to append. All pointers are borrowed for the call. */
struct ldg_event_in {
    const char *type;    /* required */
    const char *subject; /* NULL: derived from the body */
    const char *run;     /* NULL: the body's "run" string, if any */
    int has_parent;
    uint64_t parent;   /* must be < the new event's seq */
    const char *actor; /* key name; NULL: the log key */
    json_t *body;      /* a JSON object; NULL means {} */
    /* Format version 2 (FORMAT.md section 3.1); all optional. */
    const char *id; /* idempotency key, 1..LDG_ID_MAX bytes without control
                       characters: an event whose id is already in the log
                       is not appended again (LDG_EDUPLICATE, see
                       ldg_append) */
    int has_time;
    uint64_t time_ns; /* when it happened at the source (a claim) */
    const struct ldg_source *source; /* NULL: none */
};

/* A decoded entry (envelope). Strings are copied in; entry points into the
 * stored bytes and is valid until the read transaction ends. */
struct ldg_event {
    uint64_t seq;
    uint64_t ts_ns;
    char type[LDG_TYPE_MAX + 1];
    char subject[LDG_SUBJECT_MAX + 1];
    char run[LDG_RUN_MAX + 1]; /* "" if none */
    char actor[LDG_KEYID_LEN + 1];
    int has_parent;
    uint64_t parent;
    uint8_t prev[32];      /* leaf hash of entry seq-1 (zeros for seq 0) */
    uint8_t body_root[32]; /* body commitment */
    uint8_t sig[64];
    uint8_t leaf[32];     /* SHA-256(0x00 ‖ entry) */
    const uint8_t *entry; /* exact stored bytes */
    size_t entry_len;
    const uint8_t *signed_part; /* the bytes the signature covers (after the */
    size_t signed_len;          /* context string), inside entry */
    /* Format version 2 (FORMAT.md section 3.1). The strings point into
     * entry (not NUL-terminated); a length of 0 means absent. */
    const char *id;
    size_t id_len;
    int has_time;
    uint64_t time_ns; /* source time claim */
    int has_source;
    uint64_t src_uid, src_gid, src_pid;
    const char *src_exe, *src_unit;
    size_t src_exe_len, src_unit_len;
    /* Format version 2 (sealed entries, FORMAT.md section 3.2): sealed is
     * 1, signed_part/signed_len are the claim bytes, sig is unused (zero);
     * digest is the stamp's claim digest (verify checks it against the
     * claim), seal_seq the seq of its seal's first event and seal_leaf its
     * index among that seal's events. */
    int sealed;
    uint64_t seal_seq, seal_leaf;
    uint8_t digest[32];
    /* Store layout 5 (docs/FORMAT.md 6.1): 1 when the stored record left
     * out prev, which the reader derived (from the tree or the entry
     * before). */
    int derived;
    /* 1 when a sealed entry's stored record left out the claim digest too
     * (store layouts 5 and 6; layouts 7 and 8 store it), which the reader
     * derived from the claim (or left zero: ldg_reader_want_digest). 0:
     * ev->digest is the entry's own, which verify checks against the
     * claim. */
    int digest_derived;
};

/* What of an event sent again with an id differs from the event already
 * carrying that id (LDG_EDUPLICATE): nothing is appended either way. */
enum ldg_dup_diff {
    LDG_DIFF_TYPE = 1 << 0,
    LDG_DIFF_SUBJECT = 1 << 1,
    LDG_DIFF_RUN = 1 << 2,
    LDG_DIFF_PARENT = 1 << 3,
    LDG_DIFF_ACTOR = 1 << 4, /* signed by another key */
    LDG_DIFF_TIME = 1 << 5,  /* the source time, or having one */
    LDG_DIFF_BODY = 1 << 6   /* (an erased body is not compared) */
};
/* The names of the bits of differs, "type, body", into buf (cap >= 64).
 * @return buf ("" for 0). Lifetime: buf is the caller's. */
const char *ldg_dup_diff_names(unsigned differs, char *buf, size_t cap);

/* Appends one event and commits it durably (fsync before it returns).
 * @return 0 with *seq_out (may be NULL) its sequence number, set only once
 * the commit is durable; LDG_EBADINPUT / LDG_ETOOBIG (bad input: nothing
 * written, message names the field); LDG_EKEY (actor unusable or not
 * allowed the type); LDG_EDUPLICATE (its id is in the log: *seq_out gets
 * that event's seq, and the message says which fields differ); LDG_EFULL.
 * Lifetime: ev is read during the call only. */
int ldg_append(struct ldg_ledger *l, const struct ldg_event_in *ev,
               uint64_t *seq_out);
/* ldg_append that, on LDG_EDUPLICATE, also gets what of ev differs from
 * the event already carrying its id into *differs (enum ldg_dup_diff;
 * 0: the same event; may be NULL).
 * @return as ldg_append. Lifetime: as ldg_append. */
int ldg_append_ex(struct ldg_ledger *l, const struct ldg_event_in *ev,
                  uint64_t *seq_out, unsigned *differs);

/* All-or-nothing append: every event added goes into one write
 * transaction, and nothing is durable until ldg_batch_commit. Each event
 * is judged by every check a commit makes, against the log as the batch
 * has it so far (keys added or revoked, bodies erased, sequence numbers
 * taken by earlier events of the batch count). The transaction holds the
 * ledger's write lock until commit or free; signing is on the caller's
 * thread. Meanwhile another write through the same handle on the same
 * thread (ldg_append, a second batch, a key event...) would wait for that
 * lock forever: it is refused with LDG_EBUSY; on another thread it
 * waits. */
struct ldg_batch;
/* Begins a batch (takes the write lock; waits for another writer).
 * @return 0; LDG_EINVAL (read-only handle).
 * Lifetime: *out is the caller's until ldg_batch_commit or _free. */
int ldg_batch_begin(struct ldg_batch **out, struct ldg_ledger *l);
/* Adds one event.
 * @return 0 (stored in the batch); LDG_EBADINPUT, LDG_ETOOBIG, LDG_EKEY or
 * LDG_EEXIST: this event is refused (message in ldg_errmsg), nothing of it
 * written, the batch goes on; LDG_EDUPLICATE: its id is in the log or
 * earlier in the batch, nothing written, the batch goes on. Any other
 * code: the batch failed and only ldg_batch_free is left (after
 * LDG_EFULL, free grows the map so that a new batch of the same events
 * may fit). LDG_EINVAL also after ldg_batch_commit (a committed batch
 * takes no more events). Lifetime: ev is read during the call only. */
int ldg_batch_add(struct ldg_batch *b, const struct ldg_event_in *ev);
/* ldg_batch_add that says where the event went: on 0, *seq the sequence
 * number it will have once committed; on LDG_EDUPLICATE, *seq that of the
 * event carrying its id and *differs (may be NULL) what of ev differs.
 * @return as ldg_batch_add. Lifetime: as ldg_batch_add. */
int ldg_batch_add_seq(struct ldg_batch *b, const struct ldg_event_in *ev,
                      uint64_t *seq, unsigned *differs);
/* Commits every stored event durably, with one checkpoint; b then takes
 * no more events.
 * @return 0 with *first_seq and *n (may be NULL) the first sequence number
 * and the count; LDG_EFULL or LDG_EIO: nothing committed.
 * Lifetime: b is still the caller's, whatever the result: ldg_batch_free
 * it. */
int ldg_batch_commit(struct ldg_batch *b, uint64_t *first_seq, uint64_t *n);
/* Frees the batch; what was not committed is discarded. NULL-safe.
 * @return nothing. Lifetime: b is gone when this returns. */
void ldg_batch_free(struct ldg_batch *b);

/* Bulk writer: prepares, signs (on worker threads) and commits events in
 * groups. Events are acknowledged only by a commit; ldg_writer_committed
 * says how many. One writer per ledger at a time. */
struct ldg_writer;
struct ldg_writer_options {
    size_t batch;     /* events per commit; 0 = 1000 */
    unsigned threads; /* signing threads; 0 = number of CPUs */
    /* Optional: called after each durable commit, from the writer's
     * commit thread, with the first sequence number and count of the
     * events that commit acknowledged. */
    void (*on_commit)(void *ctx, uint64_t first_seq, uint64_t n);
    void *ctx;
    /* Optional: called from the commit thread, after the commit that
     * skipped it, for each event not appended because its id was already
     * in the log (or earlier in its group): the tag it was added with
     * (ldg_writer_add_tagged; 0 from ldg_writer_add), its id, the event
     * that carries that id, and what differs from it (enum ldg_dup_diff;
     * 0: the same). id is valid for the call only. */
    void (*on_duplicate)(void *ctx, uint64_t tag, const char *id, uint64_t seq,
                         unsigned differs);
    /* Batches one commit may take (0 or 1: one, so exactly batch events a
     * commit). More: when several batches are ready together because the
     * commits are behind, they go into one commit, up to this many (at
     * most LDG_WRITER_GROUP_MAX): fewer commits, the same events in
     * flight. */
    unsigned group;
    /* Batches a commit waits for (0 or 1: none; at most group): a commit
     * holds at least this many batches unless ldg_writer_flush or
     * ldg_writer_free wants everything committed. For input that is all
     * there (a file), not for events that arrive over time. */
    unsigned gather;
};
#define LDG_WRITER_GROUP_MAX 8
/* Starts a writer and its threads. opts may be NULL (defaults).
 * @return 0; LDG_EINVAL (read-only handle, or a writer is running).
 * Lifetime: *out is the caller's until ldg_writer_free, which must come
 * before ldg_close(l). */
int ldg_writer_new(struct ldg_writer **out, struct ldg_ledger *l,
                   const struct ldg_writer_options *opts);
/* Validates and queues one event. May commit a full batch before
 * returning.
 * @return 0; LDG_EBADINPUT / LDG_ETOOBIG / LDG_EKEY: refused with a
 * message in ldg_errmsg(l), nothing queued, writer still usable; any other
 * code is a failed commit of an earlier batch.
 * Lifetime: ev is read during the call only. */
int ldg_writer_add(struct ldg_writer *w, const struct ldg_event_in *ev);
/* ldg_writer_add with a caller's tag (an input line number, say) that
 * on_duplicate hands back.
 * @return as ldg_writer_add. Lifetime: as ldg_writer_add. */
int ldg_writer_add_tagged(struct ldg_writer *w, const struct ldg_event_in *ev,
                          uint64_t tag);
/* Commits everything queued and waits for it.
 * @return 0, or the error of a failed commit (nothing after it is
 * acknowledged). Lifetime: nothing borrowed. */
int ldg_writer_flush(struct ldg_writer *w);
/* Events durably committed by this writer so far (an event whose id was
 * already in the log is not committed again and not counted), and the
 * sequence number of the first (valid when committed > 0).
 * @return the count / the seq. Lifetime: nothing borrowed. */
uint64_t ldg_writer_committed(const struct ldg_writer *w);
uint64_t ldg_writer_first_seq(const struct ldg_writer *w);
/* Frees the writer. Every full batch ldg_writer_add has sealed is
 * committed first; only the partial batch still being filled is dropped,
 * never acknowledged. With batch 10, 25 adds and no flush, exactly 20
 * events are committed. on_commit has been called for every committed
 * event by the time this returns; a commit error of those batches cannot
 * be returned: call ldg_writer_flush first to commit everything and see
 * errors. NULL-safe.
 * @return nothing. Lifetime: w and its threads are gone on return. */
void ldg_writer_free(struct ldg_writer *w);

/* ------------------------------------- sealing on the writer's side -- */

/*
 * A writer that holds its own key (ldg_keys_enrol) seals its events
 * itself, before it knows their sequence numbers (FORMAT.md 3.2-3.4):
 *
 *   ldg_sealer_begin(&s, origin, key, first);  origin: the ledger's;
 *                                               first: ldg_key_sealed
 *   ldg_sealer_add(s, &ev, err, cap);          per event, in order
 *   ldg_sealer_finish(s, &batch, err, cap);    the sealed-batch JSON
 *   ldg_sealer_free(s);
 *
 * The batch is one line of `ledger ingest` input or one request to
 * `ledger serve`. Each event gets a fresh random 16-byte salt per body
 * field; the sealed event carries its subject and run outright (derived
 * as ldg_append derives them when not given). ev->actor is ignored (the
 * key is the actor), ev->source refused (the ledger records that).
 */
struct ldg_sealer;
/* @return 0; LDG_EINVAL (key without its secret, bad origin).
 * Lifetime: key is copied; *out is the caller's until ldg_sealer_free. */
int ldg_sealer_begin(struct ldg_sealer **out, const char *origin,
                     const struct ldg_key *key, uint64_t first);
/* Adds one event.
 * @return 0; LDG_EBADINPUT / LDG_ETOOBIG with err naming the field
 * ("body: ...", "subject: ...", a vocabulary message), nothing added.
 * Lifetime: ev's strings are copied; its body is referenced until
 * ldg_sealer_free. */
int ldg_sealer_add(struct ldg_sealer *s, const struct ldg_event_in *ev,
                   char *err, size_t errcap);
/* @return the number of events added. Lifetime: nothing borrowed. */
size_t ldg_sealer_count(const struct ldg_sealer *s);
/* The sealed batch {"sealed": {...}} of every event added, signed.
 * @return 0; LDG_EBADINPUT when none was added.
 * Lifetime: *out is the caller's (json_decref). */
int ldg_sealer_finish(struct ldg_sealer *s, json_t **out, char *err,
                      size_t errcap);
/* Wipes and frees s. NULL-safe. @return nothing.
 * Lifetime: s is gone when this returns. */
void ldg_sealer_free(struct ldg_sealer *s);

/* ------------------------------------------------------------- reading -- */

/* A read transaction sees one consistent snapshot of the ledger. */
enum ldg_txn_flags { LDG_TXN_READ = 0, LDG_TXN_WRITE = 1 };
/* Begins a transaction (embedders: LDG_TXN_READ).
 * @return 0; LDG_EBUSY (the reader table is full); LDG_EINVAL (a write
 * transaction on a read-only handle).
 * Lifetime: *out is the caller's until ldg_txn_abort (read) or, inside
 * the library, ldg_txn_commit; it must end before ldg_close. */
int ldg_txn_begin(struct ldg_ledger *l, unsigned flags, struct ldg_txn **out);
/* Ends (and for a write, discards) t. NULL-safe. @return nothing.
 * Lifetime: every pointer borrowed from t is invalid after this. */
void ldg_txn_abort(struct ldg_txn *t);
/* @return the ledger t was begun on. Lifetime: as the ledger's. */
struct ldg_ledger *ldg_txn_ledger(struct ldg_txn *t);
/* Size of the log as seen by t. @return 0 with *size.
 * Lifetime: nothing borrowed. */
int ldg_txn_size(struct ldg_txn *t, uint64_t *size);
/* Reads and decodes event seq (strictly: canonical form, exact length;
 * the signature is not checked: ldg_verify does that).
 * @return 0; LDG_ENOTFOUND (no such seq); LDG_EPRUNED (seq is below the
 * horizon a prune left: it was recorded, and is gone from this store);
 * LDG_ECORRUPT.
 * Lifetime: ev is the caller's; ev->entry and the pointers into it are
 * valid until t ends. ev->entry is NULL when the store keeps the entry
 * without the bytes a reader derives (store layout 5, docs/FORMAT.md
 * 6.1): ldg_event_entry gives its bytes. */
int ldg_event_get(struct ldg_txn *t, uint64_t seq, struct ldg_event *ev);
/* The whole entry of event seq (docs/FORMAT.md 3: the bytes hashed into
 * the tree, as tiles and bundles publish them): *entry is the stored
 * record when it is whole (valid until t ends), else made in buf (cap
 * LDG_ENTRY_MAX is always enough) from the stored form of layouts 5 to 8,
 * with prev the stored tree's leaf hash of seq-1 (and, for a layout 5 or
 * 6 record, the claim digest derived from the claim).
 * @return 0; LDG_ENOTFOUND; LDG_EPRUNED; LDG_ECORRUPT; LDG_ETOOBIG (cap
 * too small). Lifetime: *entry is valid until t ends or buf is reused. */
int ldg_event_entry(struct ldg_txn *t, uint64_t seq, uint8_t *buf, size_t cap,
                    const uint8_t **entry, size_t *len);
/* The body of event seq as JSON.
 * @return 0; LDG_EERASED (erased by body.erased); LDG_ENOTFOUND;
 * LDG_ECORRUPT. Lifetime: *out is the caller's (json_decref). */
int ldg_body_get(struct ldg_txn *t, uint64_t seq, json_t **out);
/* When the event happened, in ns since the epoch: the source's claim
 * (format version 2 "time") when it carries one, else the ledger's own
 * commit time ts_ns. The ledger orders and indexes by ts_ns.
 * @return the time. Lifetime: nothing borrowed. */
uint64_t ldg_event_time(const struct ldg_event *ev);
/* The process that submitted the event through ledger serve (format
 * version 2 "source"): {"uid":U,"gid":G,"pid":P} plus "exe" and "unit"
 * when known.
 * @return a new object; NULL when the event carries none or on ENOMEM.
 * Lifetime: the caller's (json_decref). */
json_t *ldg_event_source_json(const struct ldg_event *ev);
/* ldg_event_json flags. */
#define LDG_EVENT_JSON_BRIEF 1u /* no run, parent, actor, hashes, signature */
#define LDG_EVENT_JSON_RECORDED_V2                                             \
    2u /* recorded_ts, recorded_time, clock only for a format 2 entry */
/* The event's envelope as JSON, the one builder of every view (show,
 * query -o json-pretty, the timeline, the evidence bundle's events.jsonl),
 * keys in this order: seq, ts, time (ldg_event_time), recorded_ts,
 * recorded_time (the ledger's ts_ns), clock ("source" or "ledger"),
 * type, subject, run, parent, actor, actor_name (when actor_name is not
 * NULL or empty), id, source, prev, body_commitment, leaf_hash, then
 * claim_digest, seal and seal_leaf (a sealed entry) or signature; 64-bit
 * numbers as decimal strings, hashes as hex; absent run, parent, id and
 * source left out. flags: LDG_EVENT_JSON_*.
 * @return a new object; NULL on ENOMEM. Lifetime: the caller's
 * (json_decref); nothing borrowed. */
json_t *ldg_event_json(const struct ldg_event *ev, const char *actor_name,
                       unsigned flags);

/* Drops and rebuilds the secondary indexes from the log in one write
 * transaction: readers see the old indexes or the complete new ones (the
 * repair `ledger reindex` makes). progress, if set, is called about every
 * 1024 events with the events indexed and the log's size, and once at the
 * end. Needs free map space about the indexes' size.
 * @return 0; LDG_ECORRUPT (an entry does not decode or seqs have a gap;
 * the event is in the message); LDG_EFULL.
 * Lifetime: nothing borrowed. */
int ldg_index_rebuild_progress(struct ldg_ledger *l,
                               void (*progress)(void *ctx, uint64_t done,
                                                uint64_t total),
                               void *progress_ctx);

/* ------------------------------------------- checkpoints and proofs -- */

/* The stored signed checkpoint (a C2SP signed note) of tree size size
 * (0 = the latest).
 * @return 0; LDG_ENOTFOUND (none of that size).
 * Lifetime: *out is malloc'd, the caller's to free(). */
int ldg_checkpoint_get(struct ldg_txn *t, uint64_t size, char **out);
/* The largest size at most n with a stored checkpoint (a commit's end).
 * @return 0 with *size; LDG_ENOTFOUND when there is none; LDG_ECORRUPT.
 * Lifetime: nothing borrowed. */
int ldg_checkpoint_floor(struct ldg_txn *t, uint64_t n, uint64_t *size);
/* The smallest size at least n with a stored checkpoint (the end of the
 * commit holding event n-1). @return 0 with *size; LDG_ENOTFOUND when
 * there is none; LDG_ECORRUPT. Lifetime: nothing borrowed. */
int ldg_checkpoint_ceil(struct ldg_txn *t, uint64_t n, uint64_t *size);
/* C2SP tlog-proof@v1 text for entry index against the stored checkpoint
 * of size (0 = latest).
 * @return 0; LDG_ENOTFOUND (index >= size, or no checkpoint of size);
 * LDG_EPRUNED (store layout 9: the event's tree hashes went with it in
 * a prune; the message names the archive that proves it).
 * Lifetime: *out is malloc'd, the caller's to free(). */
int ldg_proof_text(struct ldg_txn *t, uint64_t index, uint64_t size,
                   char **out);
/* The body of a C2SP tlog-witness add-checkpoint request: "old OLD\n",
 * the consistency proof from OLD to size (base64, one a line; none for
 * OLD 0, the empty tree), an empty line, and the stored checkpoint of
 * size (0 = latest).
 * @return 0; LDG_ENOTFOUND (old or size beyond the log, or no checkpoint
 * of size); LDG_EINVAL (old > size); LDG_EPRUNED (store layout 9: old
 * lies inside the level-0 tiles a prune dropped; named as above).
 * Lifetime: *out is malloc'd, the caller's to free(). */
int ldg_consistency_text(struct ldg_txn *t, uint64_t old, uint64_t size,
                         char **out);
/* The log's verifier key in C2SP signed-note form, "origin+hexid+base64",
 * into buf. @return 0; LDG_ETOOBIG (cap too small).
 * Lifetime: buf is the caller's. */
int ldg_verifier_key(struct ldg_ledger *l, char *buf, size_t cap);

/* Writes the log as C2SP tlog-tiles under dir: dir/checkpoint,
 * dir/tile/<L>/<N>[.p/<W>], dir/tile/entries/<N>[.p/<W>]. Only tiles that
 * are new or grew are written; each file is replaced atomically (write to
 * a temporary name, fsync, rename). The checkpoint is written last. */
struct ldg_tiles_report {
    uint64_t size;            /* tree size published */
    uint64_t tiles_written;   /* hash tiles written this run */
    uint64_t bundles_written; /* entry bundles written this run */
    /* store layout 9, pruned: the level-0 hash tiles of the events
     * before tree_from were dropped by the prune and are not written (0:
     * every tile is) */
    uint64_t tree_from;
};
/* @return 0 with *report (may be NULL); LDG_EIO (naming the file).
 * Lifetime: nothing borrowed. */
int ldg_tiles_write(struct ldg_ledger *l, const char *dir,
                    struct ldg_tiles_report *report);

/* ----------------------------------------- offline checks (no ledger) -- */

/* For auditors, mirrors and bundle readers that hold only published notes,
 * proofs and tiles. Each is a pure function of its arguments, safe on any
 * thread; nothing is kept. */

/* Parses a checkpoint body (the signed text of the note; extension lines
 * after the root are allowed and ignored). origin needs origin_cap bytes
 * (LDG_ORIGIN_MAX + 1 always suffices).
 * @return 0; LDG_EBADINPUT (malformed). Lifetime: nothing borrowed. */
int ldg_checkpoint_parse(const char *text, size_t len, char *origin,
                         size_t origin_cap, uint64_t *size, uint8_t root[32]);
/* Verifies a signed checkpoint note with a verifier key string and parses
 * it. @return 0; LDG_EBADINPUT (malformed note or key); LDG_EBADSIG.
 * Lifetime: nothing borrowed. */
int ldg_checkpoint_open(const char *vkey, const char *note, size_t len,
                        char *origin, size_t origin_cap, uint64_t *size,
                        uint8_t root[32]);
/* Checks a signed checkpoint note of this log against the stored tree:
 * the log key's signature, this log's origin, and the stored tree's root
 * at its size; and once the log key seals with epoch keys, its epoch line
 * (FORMAT.md 5.1), which must follow from the log key's seals before it
 * and verify with that epoch's key (the log key's seals are read once);
 * *size gets that size. @return 0; LDG_EBADSIG (not the log key's
 * signature, or the epoch line missing, malformed or not verifying: named
 * in the handle's message), LDG_EBADINPUT (malformed, or another log's),
 * LDG_ETAMPER (the stored tree has another root at that size: it is damaged),
 * or the tree's error (LDG_ENOTFOUND: the log is shorter; LDG_EPRUNED: store
 * layout 9, a size inside the tiles a prune dropped, its signature
 * checked and not its root, named). Lifetime: nothing borrowed; t is
 * only read. */
int ldg_checkpoint_check(struct ldg_txn *t, const char *note, size_t len,
                         uint64_t *size);
/* Verifies that note carries a valid signature by the verifier key vkey
 * ("name+hexid+base64"); *text_len gets the signed text's length.
 * @return 0; LDG_EBADINPUT (malformed); LDG_EBADSIG.
 * Lifetime: nothing borrowed; the text is note's first *text_len bytes. */
int ldg_note_verify_vkey(const char *vkey, const char *note, size_t len,
                         size_t *text_len);
/* Verifies a tlog-proof@v1 text: its checkpoint against vkey, and that the
 * entry bytes are the leaf at the proof's index. *index and *size (may be
 * NULL) get the proof's index and tree size; root (may be NULL) the root.
 * @return 0; LDG_EBADINPUT (malformed), LDG_EBADSIG (checkpoint
 * signature), LDG_EBADPROOF; err gets a message.
 * Lifetime: nothing borrowed. */
int ldg_proof_check(const char *vkey, const char *proof, size_t len,
                    const uint8_t *entry, size_t entry_len, uint64_t *index,
                    uint64_t *size, uint8_t root[32], char *err, size_t errcap);
/* Parses C2SP tlog-proof@v1 text:
 *     "c2sp.org/tlog-proof@v1\n" ["extra <base64>\n"] "index N\n"
 *     one base64 hash a line (at most LDG_PROOF_MAX), "\n",
 *     the signed checkpoint note (to the end)
 * Does not verify the note nor the proof.
 * @return 0; LDG_EBADINPUT (malformed); LDG_EINVAL (NULL pointers).
 * Lifetime: *checkpoint points into text (valid while text is). */
int ldg_tlog_proof_parse(const char *text, size_t len, uint64_t *index,
                         uint8_t proof[][32], size_t *n,
                         const char **checkpoint, size_t *checkpoint_len);
/* SHA-256(0x00 ‖ entry): an RFC 6962 leaf hash. @return nothing.
 * Lifetime: nothing borrowed. */
void ldg_tlog_leaf_hash(uint8_t out[32], const void *entry, size_t n);
/* RFC 9162 sections 2.1.3.2 / 2.1.4.2 verification. Consistency with
 * old == size needs an empty proof and equal roots; with old == 0, an
 * empty proof and old_root = SHA-256(""). An inclusion proof binds
 * (index, size) only together with the root of that size: check the root
 * comes from a checkpoint of that size.
 * @return 0 if the proof holds; LDG_EBADPROOF otherwise (also for index >=
 * size, old > size, a size above 2^63 or more than LDG_PROOF_MAX hashes);
 * LDG_EINVAL only for NULL pointers. Lifetime: nothing borrowed. */
int ldg_tlog_verify_inclusion(const uint8_t leaf_hash[32], uint64_t index,
                              uint64_t size, const uint8_t proof[][32],
                              size_t n, const uint8_t root[32]);
int ldg_tlog_verify_consistency(uint64_t old, uint64_t size,
                                const uint8_t old_root[32],
                                const uint8_t new_root[32],
                                const uint8_t proof[][32], size_t n);
/* C2SP tlog-tiles path, relative, e.g. "tile/0/x001/234" or
 * "tile/entries/005.p/17". level -1 means the entries bundle. width is
 * 1..256; 256 means a full tile (no .p/ suffix).
 * @return the length; LDG_EINVAL if it does not fit.
 * Lifetime: buf is the caller's. */
int ldg_tlog_tile_path(char *buf, size_t cap, int level, uint64_t index,
                       unsigned width);
/* C2SP tlog-cosignature/v1 witnesses: parses a cosigner verifier key
 * "name+<8 hex of key ID>+base64(0x04 ‖ pub)" into name (name_cap bytes
 * with the NUL) and pub.
 * @return 0; LDG_EBADINPUT (malformed, another type than 0x04, or the key
 * ID does not match). Lifetime: nothing borrowed. */
int ldg_cosig_parse_verifier(const char *vkey, char *name, size_t name_cap,
                             uint8_t pub[32]);
/* A k-of-n witness policy's count: how many of the n cosigner keys in
 * vkeys have a cosignature on note that verifies. cosigned (n ints, may
 * be NULL) gets 1 for each key that cosigned, 0 otherwise.
 * @return the count (>= 0); LDG_EBADINPUT (a malformed vkey or note);
 * LDG_EBADSIG (a line by one of the keys that does not verify: a forgery,
 * never counted). Lifetime: nothing borrowed. */
int ldg_cosig_count(const char *note, size_t len, const char *const *vkeys,
                    size_t n, int *cosigned);

/* ------------------------------------------------------------- verify -- */

enum ldg_verify_flags {
    LDG_VERIFY_FULL = 1 << 0,  /* from 0, ignoring the saved position */
    LDG_VERIFY_NOSAVE = 1 << 1 /* do not save the verified position */
};
struct ldg_verify_report {
    uint64_t checked;     /* events checked in this run */
    uint64_t from, to;    /* range checked [from, to) */
    uint64_t erased;      /* bodies found erased (legitimately) */
    uint64_t checkpoints; /* checkpoints checked */
    /* a pruned ledger: events before horizon are gone (ldg_horizon says
     * where to); the tree over their kept hashes and every checkpoint
     * are checked, the events from horizon on; 0: never pruned */
    uint64_t horizon;
    uint64_t bad_seq; /* first bad event when verification failed */
    char what[512];   /* what is wrong, or "" */
    /* What the run rests on and what it remembers (see ldg_verify_state).
     * full: signatures and bodies were checked from event 0 (--full, no
     * start); otherwise only events from `from` on were (the chain, tree,
     * checkpoints and key history are always checked from 0). */
    int full;
    uint64_t full_size, full_ts_ns; /* last full verification that passed
                                       (this one, if full and it passed);
                                       full_ts_ns 0: never */
    /* The run failed because an earlier finding stands (bad_seq and what
     * are that finding's; found_ts_ns when it was made). */
    int finding_stands;
    uint64_t found_ts_ns; /* when bad_seq was found */
    int recorded;         /* the result was saved in the ledger */
    uint8_t root[32];     /* tree root at `to`, when it passed */
    /* body.erased events kept that name a pruned event (its body went
     * into the archive): not among `erased`, which counts the kept events'
     * erased bodies as `ledger stats` does */
    uint64_t erased_pruned;
    /* --full: 1 when the body index ix.body was current and checked
     * against the bodies; 0 when it is behind the log (query scans the
     * bodies then, and it is not checked) */
    int bix_checked;
    /* store layout 9, pruned: the first event whose level-0 tree hashes
     * the prune kept (those before went with the pruned events: the tree
     * over them is checked from its level-8 hashes up), and how many
     * checkpoints of sizes inside the dropped tiles were not checked
     * (their roots need the dropped hashes; the archives prove them);
     * 0, 0 otherwise */
    uint64_t tree_from, checkpoints_unchecked;
};
/* Verifies the log: each entry decodes canonically, seq and prev chain,
 * timestamps never decrease, each signature or seal with a key valid at
 * that event, each body against its commitment, the Merkle tree and
 * stored checkpoints, the indexes. Without LDG_VERIFY_FULL, signatures and
 * indexes are checked only from the saved position on (report->from);
 * everything else is always checked from event 0. from is a starting
 * point (0 = saved position unless FULL). progress, if set, is called now
 * and then with (done, total).
 *
 * Verification remembers what it found. It reads one snapshot and records
 * its result afterwards, when the handle is writable and
 * LDG_VERIFY_NOSAVE is not set (report->recorded says so): a failure is
 * kept as a finding, and while it stands every verification but a full
 * one from 0 fails with it (report->finding_stands); a full verification
 * that passes clears the finding and is kept as the last full one; any
 * pass advances the verified position.
 * @return 0 if all holds; LDG_ETAMPER with report->bad_seq and
 * report->what; other codes for I/O.
 * Lifetime: report is the caller's; nothing borrowed. */
int ldg_verify(struct ldg_ledger *l, unsigned flags, uint64_t from,
               struct ldg_verify_report *report,
               void (*progress)(void *ctx, uint64_t done, uint64_t total),
               void *progress_ctx);
/* Records a verification made through a read-only handle (an auditor's
 * write-protected copy) for the ledger in dir, opened for writing only to
 * record it. A ledger whose data.mdb carries no write permission bit is
 * evidence that may not be changed: it is not written even by a user
 * (root) whom the modes would not stop.
 * @return 0; LDG_EIO / LDG_EINVAL with err saying why it could not be
 * recorded. Lifetime: nothing borrowed. */
int ldg_verify_record_dir(const char *dir, const struct ldg_options *opts,
                          const struct ldg_verify_report *report, char *err,
                          size_t errcap);

/* Verification with crash isolation (ledger/isolate.c). LMDB trusts its
 * pages, so a corrupt data.mdb can make a read fault or trip an LMDB
 * assertion: what reads it runs in a child process, and a child killed by
 * a signal (SIGSEGV, SIGBUS, SIGABRT, ...) is a finding, the storage
 * corrupt at or after where it was. The child's progress, in memory
 * shared with the parent, says where: */
struct ldg_isolation {
    volatile uint64_t start;       /* the first event it checks (a bound) */
    volatile uint64_t done, total; /* its progress (ldg_isolation_progress) */
    volatile int started;          /* 1 once the ledger is open */
};
/* Runs fn(ctx, iso) in a child process (or, when no child can be made,
 * in this one with iso NULL) and waits for it. fn's return (0..255) is the
 * child's exit status; fn may print (stdio is flushed before the fork and
 * when fn returns) and must not return into the caller's code otherwise.
 * @return 0 with *status fn's return, or 128+N when a signal N from
 * outside (SIGKILL, SIGTERM, SIGINT, SIGPIPE, ...) stopped it, what saying
 * so; LDG_ETAMPER when it died of what it read, what saying where (*status
 * 128+N); LDG_ENOMEM when it died after an allocation of its failed (not
 * of what it read: what says so); LDG_EIO when it cannot be waited for
 * (what says why).
 * Lifetime: nothing kept; what is the caller's. */
int ldg_run_isolated(int (*fn)(void *ctx, struct ldg_isolation *iso), void *ctx,
                     int *status, char *what, size_t cap);
/* fn's progress, for its parent to report (iso may be NULL).
 * Lifetime: nothing kept. */
void ldg_isolation_progress(struct ldg_isolation *iso, uint64_t done,
                            uint64_t total);

/* What the ledger remembers of its verifications (meta records, FORMAT.md
 * section 6). *_ts_ns are wall-clock ns; 0 means never. */
struct ldg_verify_state {
    uint64_t verified_size;         /* events verified so far (any mode) */
    uint8_t verified_root[32];      /* the tree root at verified_size */
    uint64_t full_size, full_ts_ns; /* the last full verification */
    int finding;                    /* a failed verification stands */
    uint64_t finding_seq, finding_ts_ns;
    char finding_what[512];
};
/* @return 0 with *st; LDG_ECORRUPT (a meta record does not decode).
 * Lifetime: st is the caller's. */
int ldg_verify_state(struct ldg_ledger *l, struct ldg_verify_state *st);

/* Checks the log against a checkpoint kept elsewhere (a signed note by
 * the log key). Run after ldg_verify, which checks the stored tree against
 * the entries. */
struct ldg_trusted_report {
    uint64_t trusted_size, log_size;
    char what[512];
};
/* @return 0; LDG_ETAMPER if the log is shorter than the note's tree
 * (rolled back) or its tree at that size has another root (forked):
 * report->what says which, with the sizes and roots; LDG_EBADSIG /
 * LDG_EBADINPUT for a note that is not the log key's.
 * Lifetime: nothing borrowed. */
int ldg_verify_trusted(struct ldg_ledger *l, const char *note, size_t len,
                       struct ldg_trusted_report *report);

#endif
