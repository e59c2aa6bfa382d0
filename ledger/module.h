/*
 * module.h — what the sibling modules of libledger build on: the core's
 * interface for projections/, query/, export/, ingest/, serve/, doctor/,
 * and the rest. Neither installed nor exported (libledger.a and .so keep
 * only ledger/ledger.h's names and the other modules' public headers');
 * programs that embed the library use ledger/ledger.h.
 *
 * What is here knows none of its callers: module key-value stores in the
 * ledger's own LMDB environment, cursors, log scans and body views, index
 * walks and seq scans, appliers that fold new events inside the append's
 * transaction, snapshots, the seal and transparency primitives, and the
 * test hooks. The stored layouts stay in ledger/format.h: a module reads
 * the core's data only through these accessors, so a format change is
 * made in ledger/ alone.
 *
 * The conventions are ledger.h's: 0 or a negative enum ldg_error; `T **out`
 * is the caller's, `const T *` borrowed for as long as each says.
 */
#ifndef LDG_MODULE_H
#define LDG_MODULE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ledger/ledger.h"

/* ---------------------------------------------------------------- keys -- */

/* Fills key_id (17 bytes with NUL) from a public key. */
void ldg_key_id(char key_id[LDG_KEYID_LEN + 1], const uint8_t pub[32]);
/* Plain Ed25519 (no domain prefix: the caller's format fixes the signed
 * bytes, e.g. a tripcode's "ts|code", docs/VOCABULARY.md): sig gets the
 * signature of msg by k (LDG_EKEY for a public-only key); ldg_sig_verify
 * returns 0 if sig is pub's over msg, LDG_EBADSIG if not. */
int ldg_key_sign_plain(const struct ldg_key *k, const void *msg, size_t n,
                       uint8_t sig[64]);
int ldg_sig_verify_plain(const uint8_t pub[32], const void *msg, size_t n,
                         const uint8_t sig[64]);
/* Deterministic key from a 32-byte seed (test vectors). */
int ldg_key_from_seed(struct ldg_key **out, const char *name,
                      const uint8_t seed[32]);
/* A public-only key (sk NULL): for verifying, or for a key whose secret
 * is loaded later. Caller frees with ldg_key_free. */
int ldg_key_from_public(struct ldg_key **out, const char *name,
                        const uint8_t pub[32]);

/* -------------------------------------------------------------- ledger -- */

/* The files LMDB keeps a ledger's store in, inside its directory: the data
 * file every commit writes (in place: the pages, then a meta page) and the
 * lock file every reader registers in (a reader needs to write it); at
 * store layout 9 the intake log too, which a reader reads (and locks,
 * flock(2) on a read-only descriptor). */
enum ldg_store_file { LDG_FILE_DATA, LDG_FILE_LOCK, LDG_FILE_INTAKE };
/* The base name of the store's file f, without a directory (the name
 * readdir and inotify report; ldg_dir gives the directory): a static
 * string, valid for the life of the program. NULL for an f not in the
 * enum. Modules above the core name the files only through this. */
const char *ldg_store_file_name(enum ldg_store_file f);
/* Clears the reader slots of processes that died holding a read
 * transaction (mdb_reader_check): their slots pin old pages, so the file
 * grows, and fill the reader table. Writers do it as they begin a write,
 * at most every 100 ms; a long-running writer that may sit idle (ledger
 * serve) calls this now and then. Returns how many were cleared (>= 0). */
int ldg_clear_dead_readers(struct ldg_ledger *l);
/* The body size limit in force (bytes of encoded body). */
size_t ldg_body_max(const struct ldg_ledger *l);
/* The log public key (borrowed, lives as long as l). */
const struct ldg_key *ldg_log_key(const struct ldg_ledger *l);

/* Test hook: fixed time source; ts_ns values are then taken from *clock_ns
 * (still forced to increase). NULL restores CLOCK_REALTIME. */
void ldg_set_clock(struct ldg_ledger *l, const uint64_t *clock_ns);

/* ------------------------------------------------------------ key store -- */

/* Loads the secret key NAME from DIR/keys/NAME.key. The file must be 0600
 * (no group/other bits) in a 0700 directory, else LDG_EKEY. */
int ldg_keys_load(struct ldg_ledger *l, const char *name, struct ldg_key **out);
/* 1 if the key added at added_seq is held by its writer (its key.added
 * says "held": "writer"), 0 if not, or a negative ldg_error. */
int ldg_key_writer_held(struct ldg_txn *t, uint64_t added_seq);
/* 1 if the key NAME (the newest of that name) is held by its writer, else
 * 0: after an LDG_EKEY refusal, says whether it was because the event came
 * unsealed from such a key. */
int ldg_keys_held_by_writer(struct ldg_ledger *l, const char *name);

/* Counts an allocation that failed where a caller may not tell it from
 * damage (ldg_alloc_failures). @return LDG_ENOMEM. */
int ldg_alloc_failed(void);
/* Every failure ldg_alloc_failures counts from now on is also added to *to
 * (shared memory: isolate.c's child tells its parent); NULL stops it. */
void ldg_alloc_mirror(volatile unsigned long *to);
/* rc, with LDG_ENOMEM counted (ldg_alloc_failed): for the reads many
 * callers take a failure of as "none" (no key name, no body), so that a
 * view made then still says, at the end, that memory ran out. */
static inline int
ldg_counted(int rc)
{
    return rc == LDG_ENOMEM ? ldg_alloc_failed() : rc;
}

/* Who signed event seq, from the log (not from any claim in its body):
 * {"key_id": K, "name": N}, N the name the log's key events gave K (null
 * if none does). Views put it as "signer" beside a claimed actor (a body's
 * "by" or "requested_by"). Costs one entry read and one key lookup
 * (proven keys are cached).
 * @return 0 with *out (a new reference); what ldg_event_get says
 * (LDG_ENOTFOUND, LDG_ECORRUPT, ...); LDG_ENOMEM. */
int ldg_signer_json(struct ldg_txn *t, uint64_t seq, json_t **out);

/* 1 when rc is the machine's failure (out of memory, I/O, a busy store),
 * which proves nothing about the stored bytes; a reader passes it on
 * where it would take any other failure for damage or a finding. */
static inline int
ldg_rc_machine(int rc)
{
    return rc == LDG_ENOMEM || rc == LDG_EIO || rc == LDG_EBUSY;
}

/* What a failed read of something the log must hold says: damage
 * (LDG_ECORRUPT), unless the machine failed (out of memory, I/O, a busy
 * store), which proves nothing about the bytes. */
static inline int
ldg_as_damage(int rc)
{
    return ldg_rc_machine(rc) || rc == LDG_EPRUNED ? rc : LDG_ECORRUPT;
}

/* -------------------------------------------------------------- events -- */

/* An event to append. All pointers are borrowed for the call. */

/* Validates an event against the vocabulary (type known or "x." prefixed,
 * required fields present with the right JSON types, sizes). On failure
 * returns LDG_EBADINPUT and writes "field 'route': required" style text. */
int ldg_vocab_check(const char *type, const json_t *body, char *err,
                    size_t errcap);
/* Checks a run.* event's run link against its body's "run": run (the
 * input's, NULL when it gives none: then the body's is taken) must be
 * the body's when the body names one. 0; LDG_EBADINPUT naming both. */
int ldg_vocab_run_check(const char *type, const json_t *body, const char *run,
                        char *err, size_t errcap);
/* Key roles (docs/FORMAT.md, "Key roles"): may a key whose key.added
 * carries roles rl (the body's "roles"; NULL or an empty array: every type
 * an actor key may sign) sign an event of this type? 1 yes, 0 no. Unknown
 * role names allow nothing; ledger.genesis and key.* are never allowed
 * (the log key's alone, and the log key signs anything). */
int ldg_roles_allow(const json_t *rl, const char *type);
/* Checks a key.added "roles" value: an array of known role names. On
 * failure LDG_EBADINPUT and text naming the entry. */
int ldg_roles_check(const json_t *rl, char *err, size_t errcap);
/* Derives the subject from a body as VOCABULARY.md says. */
int ldg_vocab_subject(const char *type, const json_t *body, char *buf,
                      size_t cap);

/* All-or-nothing append: every event added goes into one write
 * transaction, and nothing is durable until ldg_batch_commit. Each event
 * is judged by every check a commit makes, against the log as the batch
 * has it so far (keys added or revoked, bodies erased, sequence numbers
 * taken by earlier events of the batch count). The transaction holds the
 * ledger's write lock until commit or free; signing is on the caller's
 * thread. */
struct ldg_sealed_batch; /* below, "seals" */
/* Format 2: adds a client's sealed batch (ldg_sealed_batch_parse), all
 * or nothing: its key must be enrolled and active, sb->first must be the
 * key's sealed count (ldg_key_sealed) as the batch has it, every type
 * allowed by the key's roles (key.* and body.erased never arrive
 * sealed), every parent earlier, and the seal map rebuilt from the events
 * (commitments recomputed from body and salts, claims, digests, root,
 * origin) must verify with the key's signature sb->sig. Then the events
 * go in contiguously (stamps seal = *first_seq, leaf = index, and each
 * event's in.source when set: the stamp is the ledger's, not sealed) with
 * the seal as given. Returns 0 (*first_seq, may be NULL, gets the first
 * seq); LDG_EDUPLICATE when every event carries an id already in the log
 * (a retried batch: nothing written, *first_seq the first one's seq);
 * LDG_EBADINPUT, LDG_ETOOBIG, LDG_EKEY or LDG_EBADSIG: refused, nothing of
 * it written (the message names the cause, and the event index when it
 * is one event's: "sealed.events[3]: ..."), the batch goes on. Any other
 * code: as ldg_batch_add. */
int ldg_batch_add_sealed(struct ldg_batch *b, const struct ldg_sealed_batch *sb,
                         uint64_t *first_seq);
/* What ldg_batch_add_sealed allocates for sb while it runs, in bytes,
 * without its events' bodies' encodings (about their parsed size again,
 * which the caller knows better): a prepared event each, with its
 * entry's and body record's buffers. An estimate at or above the truth
 * for bodies of up to a few KiB (23,000 run.step events: 63 MB). */
size_t ldg_batch_sealed_cost(const struct ldg_sealed_batch *sb);

/* Format 2: a client's sealed batch through the writer: everything
 * queued is committed first, then the batch goes in as
 * ldg_batch_add_sealed says, in a commit of its own (acknowledged, and
 * counted by ldg_writer_committed, when this returns 0). *first_seq gets
 * its first seq (on LDG_EDUPLICATE: the seq of the event already
 * carrying its first id). A refusal (LDG_EBADINPUT, LDG_ETOOBIG,
 * LDG_EKEY, LDG_EBADSIG, LDG_EDUPLICATE) writes nothing of it and leaves
 * the writer usable. */
int ldg_writer_add_sealed(struct ldg_writer *w,
                          const struct ldg_sealed_batch *sb,
                          uint64_t *first_seq);
/* Events prepared off the caller's thread (ingest's parse threads):
 * ldg_prepare does what can be judged of an event without the log
 * (vocabulary, fields, subject, the body's record and commitment) on any
 * thread, with no ledger state changed; ldg_writer_add_prepared then does
 * the rest in the caller's order (the actor key as the log is now, then
 * as ldg_writer_add_tagged): a refusal ldg_prepare found is returned
 * there, with its message, so refusals come in the order events are
 * added, exactly as ldg_writer_add_tagged would have given them. */
struct ldg_prepared;
struct ldg_prepared *ldg_prepared_alloc(void);
/* NULL-safe. */
void ldg_prepared_free(struct ldg_prepared *pe);
/* Fills pe (reusable) from ev; ev's strings and body need not outlive the
 * call (the body is referenced). 0 (a refusal is kept in pe), or
 * LDG_ENOMEM. */
int ldg_prepare(const struct ldg_ledger *l, const struct ldg_event_in *ev,
                struct ldg_prepared *pe);
/* The actor key name ev named, or NULL. */
const char *ldg_prepared_actor(const struct ldg_prepared *pe);
/* ldg_writer_add_tagged for a prepared event; pe is emptied (reusable)
 * whatever the outcome. */
int ldg_writer_add_prepared(struct ldg_writer *w, struct ldg_prepared *pe,
                            uint64_t tag);
/* Hands the events queued so far (the batch being filled, however few)
 * to the commit thread without waiting for their commit: with gather 1
 * they are committed as soon as they are signed and the commits ahead of
 * them are done, and on_commit acknowledges them then. Blocks only while
 * every batch slot is in flight, as a full batch does. 0, the error of an
 * earlier failed commit, or LDG_EINVAL when w is NULL. */
int ldg_writer_push(struct ldg_writer *w);

/* --------------------------------------------- seals (format version 2) -- */

/*
 * Format version 2 (docs/FORMAT.md section 3.2) replaces the signature in
 * each entry with seals: an entry is
 *
 *     0x93 ‖ claim ‖ stamp ‖ 0xc4 0x20 ‖ prev[32]
 *
 * where the claim is what the actor vouches for (known before any
 * sequence number), the stamp what the ledger assigns, and one seal per
 * key per commit (or per client batch) signs the RFC 6962 root of the
 * claim digests of that key's events in it. These are the pure
 * primitives (ledger/seal.c): no ledger handle, no I/O; each is safe to
 * call from any thread.
 */
/* The claim digest's domain (a NUL follows it), the seal signature's,
 * and the claim's "v". */
#define LDG_CTX_CLAIM "ledger/claim/v1"
#define LDG_CTX_SEAL "ledger/seal/v1"
#define LDG_CLAIM_V 3
/* Most events one seal covers (a client's sealed batch, or one key's
 * events in one commit). */
#define LDG_SEAL_EVENTS_MAX 100000
/* Most bytes of a seal map, of a seal's epoch part (FORMAT.md 5.1: the
 * epoch, its signature, at most 32 certs and 16 links), and of a stored
 * seal record (map + sig, and the epoch part's bin16). */
#define LDG_SEAL_MAP_MAX 400
#define LDG_SEAL_EXT_MAX (74 + 32 * 128 + 16 * 104)
#define LDG_SEAL_REC_MAX (LDG_SEAL_MAP_MAX + 1 + 66 + 3 + LDG_SEAL_EXT_MAX)

/* A claim: canonical map { "actor": str(16 hex key id), "body": bin32,
 * "id": str (opt), "parent": uint (opt), "run": str (opt), "subject": str,
 * "time": uint (opt), "type": str, "v": 3 }, keys in bytewise order.
 * Strings are (pointer, length), not NUL-terminated; a length of 0 means
 * absent for id and run. */
struct ldg_claim {
    char actor[LDG_KEYID_LEN + 1];
    uint8_t body[32];
    const char *id;
    size_t id_len;
    int has_parent;
    uint64_t parent;
    const char *run;
    size_t run_len;
    const char *subject;
    size_t subject_len;
    int has_time;
    uint64_t time_ns;
    const char *type;
    size_t type_len;
};
/* Encodes c canonically into out (cap bytes; LDG_ENTRY_MAX is always
 * enough); *len gets the length. LDG_EBADINPUT if a field breaks the
 * limits of FORMAT.md (actor not 16 lowercase hex digits, type 1..
 * LDG_TYPE_MAX bytes, subject up to LDG_SUBJECT_MAX, run up to
 * LDG_RUN_MAX, id up to LDG_ID_MAX without control characters, any NUL),
 * LDG_ETOOBIG if it does not fit in cap. */
int ldg_claim_encode(const struct ldg_claim *c, uint8_t *out, size_t cap,
                     size_t *len);
/* Decodes exactly len bytes as one canonical claim (strict: shortest
 * forms, known keys in order, the limits above, v 3). out's strings point
 * into p (valid while p is). 0 or LDG_ECORRUPT (LDG_EVERSION for another
 * v). */
int ldg_claim_decode(const uint8_t *p, size_t len, struct ldg_claim *out);
/* d = SHA-256("ledger/claim/v1" ‖ 0x00 ‖ claim), over the exact bytes. */
void ldg_claim_digest(uint8_t out[32], const uint8_t *claim, size_t len);

/* Entries as store layouts 5 to 8 keep them (FORMAT.md 6.1, "Stored
 * entries"): without prev, which a reader derives, and, sealed, in one of
 * three forms (enum ldg_stored_form): without the stamp's claim digest
 * (layouts 5 and 6, and segments; a reader derives it), with it as the
 * stamp's first pair (layout 7), or with it raw before the layout 5/6
 * record (0x01 ‖ digest[32] ‖ 0x92 ...: layout 8). ldg_entry_stored
 * makes the stored record of that form of a whole entry (0x93 ...) or of
 * a stored record of any form (as it is, or its digest cut, moved, or
 * derived and put in) into out (at most len + 41 bytes; cap LDG_ENTRY_MAX
 * is always enough; a format 1 entry has one stored form whatever form
 * says); ldg_entry_whole makes the whole entry back from a stored record
 * of any form (or a whole entry, copied as it is) and prev, the leaf hash
 * of entry seq-1 (32 zero bytes at seq 0), computing the claim digest of
 * a sealed one that left it out and taking a stored one as it is. Both
 * check only the framing (the maps are the strict decoder's to check):
 * LDG_ECORRUPT when the bytes are not such a record, LDG_ETOOBIG when cap
 * is short. ldg_entry_stored_parts tells a stored record's first map's
 * length (claim or event map, at rec + 1) and whether it is sealed, of
 * the forms that begin 0x92 only (a segment's ENTRY; 0x01 is
 * LDG_ECORRUPT); ldg_entry_stored_digest, given that length, whether a
 * sealed one keeps its claim digest in its stamp (1) or not (0). */
enum ldg_stored_form {
    LDG_STORED_CUT = 0,   /* 0x92 ‖ claim ‖ stamp without digest */
    LDG_STORED_STAMP = 1, /* 0x92 ‖ claim ‖ stamp (layout 7) */
    LDG_STORED_TAGGED = 2 /* 0x01 ‖ digest ‖ 0x92 ‖ claim ‖ stamp' (8) */
};
int ldg_entry_stored(const uint8_t *entry, size_t len, int form, uint8_t *out,
                     size_t cap, size_t *out_len);
int ldg_entry_whole(const uint8_t *rec, size_t len, const uint8_t prev[32],
                    uint8_t *out, size_t cap, size_t *out_len);
int ldg_entry_stored_parts(const uint8_t *rec, size_t len, size_t *first_len,
                           int *sealed);
int ldg_entry_stored_digest(const uint8_t *rec, size_t len, size_t first_len);

/* A seal's tree: the RFC 6962 Merkle tree whose leaves are the claim
 * digests d_0..d_{n-1} in seq order (leaf hash SHA-256(0x00 ‖ d_i), node
 * SHA-256(0x01 ‖ l ‖ r): the log's tree math, ledger/tlog.c). n >= 1.
 * LDG_EINVAL for n 0 or above LDG_SEAL_EVENTS_MAX. */
int ldg_seal_root(const uint8_t (*digests)[32], size_t n, uint8_t root[32]);
/* Inclusion proof of leaf index among n digests (proof needs room for
 * LDG_PROOF_MAX hashes; *np gets the count, bottom-up as RFC 6962). */
int ldg_seal_inclusion(const uint8_t (*digests)[32], size_t n, size_t index,
                       uint8_t proof[][32], size_t *np);
/* Checks that digest is leaf index of a seal of count events whose root
 * is root. 0 or LDG_EBADPROOF. */
/* The same proofs, many from one seal: its tree built once (every
 * complete subtree kept), each proof then log2(n) lookups. */
struct ldg_seal_tree;
int ldg_seal_tree_new(struct ldg_seal_tree **out, const uint8_t (*digests)[32],
                      size_t n);
int ldg_seal_tree_proof(const struct ldg_seal_tree *t, size_t index,
                        uint8_t proof[][32], size_t *np);
void ldg_seal_tree_free(struct ldg_seal_tree *t);
int ldg_seal_verify_inclusion(const uint8_t digest[32], uint64_t index,
                              uint64_t count, const uint8_t proof[][32],
                              size_t np, const uint8_t root[32]);

/* A seal: the seal map { "count": uint, "first": uint, "key": str (key
 * id), "origin": str, "root": bin32 } and its signature, Ed25519 by key
 * over "ledger/seal/v1" ‖ 0x00 ‖ seal map. first is the key-local range:
 * how many events this key had in the log before this seal. Stored (DB
 * "seals", key u64be(seq of its first event)) as the record
 * 0x92 ‖ seal map ‖ 0xc4 0x40 ‖ sig[64]. */
struct ldg_seal {
    uint64_t count, first;
    char key_id[LDG_KEYID_LEN + 1];
    char origin[LDG_ORIGIN_MAX + 1];
    uint8_t root[32];
    uint8_t sig[64];
    /* A seal by a key with epochs (FORMAT.md 5.1): its epoch part, whose
     * epoch signature stands in place of sig (record 0x93 ‖ map ‖ bin
     * ext; sig left zero); NULL and 0 for none. Borrowed: from the bytes
     * ldg_seal_record_decode read, for as long as they are. */
    const uint8_t *ext;
    size_t ext_len;
};
/* The canonical seal map of s (sig not included) into out (cap >=
 * LDG_SEAL_MAP_MAX). LDG_EBADINPUT for count 0 or above
 * LDG_SEAL_EVENTS_MAX, a key id not 16 lowercase hex digits, an origin
 * empty or with control characters. */
int ldg_seal_map_encode(const struct ldg_seal *s, uint8_t *out, size_t cap,
                        size_t *len);
/* Strict decoder of a seal map (sig left zero). 0 or LDG_ECORRUPT. */
int ldg_seal_map_decode(const uint8_t *p, size_t len, struct ldg_seal *s);
/* Stored record: encode (cap >= LDG_SEAL_REC_MAX) and strict decode. */
int ldg_seal_record_encode(const struct ldg_seal *s, uint8_t *out, size_t cap,
                           size_t *len);
int ldg_seal_record_decode(const uint8_t *p, size_t len, struct ldg_seal *s);
/* Signs s's map with key (which must have its secret and whose id must be
 * s->key_id: LDG_EINVAL otherwise), filling s->sig. */
int ldg_seal_sign(struct ldg_seal *s, const struct ldg_key *key);
/* Verifies s->sig over s's map with pub. 0 or LDG_EBADSIG (also for a
 * map that does not encode, and for an epoch seal, which has no sig:
 * ldg_epoch_seal_check checks it). */
int ldg_seal_verify(const struct ldg_seal *s, const uint8_t pub[32]);

/*
 * The sealed-batch wire format: one JSON object (one line of `ingest`
 * input, or one request to `serve`; FORMAT.md section 3.4):
 *
 *   {"sealed": {"key": "<key id>", "first": K, "count": N,
 *               "sig": "<base64 of 64 bytes>",
 *               "events": [{"type": T, "subject": S (opt), "run": R (opt),
 *                           "parent": P (opt), "id": I (opt),
 *                           "time": NS (opt, integer ns since the epoch),
 *                           "body": {...} (opt, default {}),
 *                           "salts": {"<field>": "<32 hex digits>", ...}},
 *                          ...]}}
 *
 * salts holds exactly one salt per body field. The seal map is
 * {count N, first K, key, origin (the ledger's), root of the events'
 * claim digests}; a claim's subject is the given one or derived from the
 * body as ldg_append does, its run the given one or the body's "run".
 */
struct ldg_sealed_event {
    struct ldg_event_in in; /* actor NULL; strings and body borrowed from
                               the parsed JSON. source is NULL as parsed
                               (the wire format has none); a server sets
                               it to the sender as the kernel names it
                               (ledger serve does), and
                               ldg_batch_add_sealed records it in the
                               event's stamp, outside the claim and the
                               seal. Borrowed for that call. */
    const json_t *salts;    /* borrowed */
};
struct ldg_sealed_batch {
    char key_id[LDG_KEYID_LEN + 1];
    uint64_t first, count;
    uint8_t sig[64];
    size_t n; /* == count */
    struct ldg_sealed_event *ev;
    json_t *json; /* a reference to the parsed object */
};
/* Parses j (the whole {"sealed": ...} object) strictly: unknown fields,
 * wrong types, count not the number of events, count 0 or above
 * LDG_SEAL_EVENTS_MAX, a bad sig or salt are LDG_EBADINPUT with err
 * naming the field and event index ("sealed.events[3].salts: ...").
 * *out is the caller's (ldg_sealed_batch_free); it holds a reference to
 * j. Checks only the shape: the ledger checks the seal
 * (ldg_batch_add_sealed). */
/* The stored seal whose first event is seal_seq (ldg_event's seal_seq).
 * 0, LDG_ENOTFOUND, or LDG_ECORRUPT for a record that does not decode. */
int ldg_seal_get(struct ldg_txn *t, uint64_t seal_seq, struct ldg_seal *out);
/* Epoch parts outside the log (FORMAT.md 5.1; docs/EPOCHS.md): a bundle
 * carries each seal of an anchored key with its epoch part whole (the 32
 * certs from the anchor and the links 1..sub), so that it is checked from
 * the anchor alone. */
struct ldg_epoch_walk;
/* A walker over l's seals, for one reader of the log that asks for seals
 * in increasing seq per key (an export). @return 0 with *out
 * (ldg_epoch_walk_free); LDG_ENOMEM. */
int ldg_epoch_walk_new(struct ldg_ledger *l, struct ldg_epoch_walk **out);
void ldg_epoch_walk_free(struct ldg_epoch_walk *w);
/* s is the seal stored at seal_seq (ldg_seal_get in t). When it carries
 * an epoch part and its key's anchor is not before the ledger's horizon,
 * sets s->ext to buf (cap >= LDG_SEAL_EXT_MAX) holding the part whole
 * (l0 = 0, j0 = 0: every cert and link of its epoch, each checked from
 * the anchor on the way) and returns 1; 0 leaves s as stored (no epoch
 * part, or the certs were pruned). Cost: the key's seals since the one
 * asked before, read once. @return 1, 0; LDG_ETAMPER (a stored epoch
 * part does not verify: named in l's message); LDG_ECORRUPT. */
int ldg_epoch_walk_whole(struct ldg_epoch_walk *w, struct ldg_txn *t,
                         uint64_t seal_seq, struct ldg_seal *s, uint8_t *buf,
                         size_t cap);
/* The same walk, and s's epoch signature checked with the key it leads to
 * (an epoch seal has no other: ldg_seal_verify refuses it); *period,
 * *sub and *start_ns get the epoch and its start. Cost: the walk's certs once,
 * one Ed25519 check a seal. @return 1; 0 as ldg_epoch_walk_whole (no part, or
 * none the log leads to: no signature checked); LDG_ETAMPER (named in l's
 * message); LDG_ECORRUPT. */
int ldg_epoch_walk_check(struct ldg_epoch_walk *w, struct ldg_txn *t,
                         uint64_t seal_seq, const struct ldg_seal *s,
                         uint32_t *period, uint32_t *sub, uint64_t *start_ns);
/* 1 when a signature line's key name (name, n bytes) is the log's own
 * on l's checkpoints: the log key's (the origin) or its epoch key's
 * (FORMAT.md 5.1); 0 for another's (a witness's cosignature). */
int ldg_note_name_is_log(const struct ldg_ledger *l, const char *name,
                         size_t n);
/* ldg_checkpoint_check (ledger.h) but for the epoch line: the log key's
 * signature, this log's origin and the stored tree's root (a reader that
 * checks many checkpoints walks their epoch lines itself, on one walk:
 * ldg_epoch_walk_checkpoint). @return as ldg_checkpoint_check. */
int ldg_checkpoint_check_key(struct ldg_txn *t, const char *note, size_t len,
                             uint64_t *size);
/* The stored checkpoint of size (note, len bytes) checked against the
 * log key's epochs, on the same walk (sizes asked in increasing order
 * cost the log key's seals once): when the log key has sealed under an
 * epoch before size, the note must carry an epoch line (FORMAT.md 5.1)
 * whose epoch follows from those seals and what the line carries, and
 * whose signature over the text verifies with that epoch's key. @return
 * 1 checked; 0 nothing to check (no anchor, no epoch seal before size,
 * or its certs were pruned); LDG_ETAMPER (named in l's message);
 * LDG_ECORRUPT; LDG_ENOMEM. */
int ldg_epoch_walk_checkpoint(struct ldg_epoch_walk *w, struct ldg_txn *t,
                              uint64_t size, const char *note, size_t len);
/* The checkpoint of size (note, as stored) for a bundle: *line (malloc'd;
 * NULL when the note has none) gets its epoch line (FORMAT.md 5.1) made
 * whole (the certs from the anchor and links 1..sub of its epoch, from
 * the log key's seals before size and what the line carries), so that it
 * is checked from the anchor alone; none when the line does not follow
 * from the seals (a store forged: its verifier refuses the line) or their
 * certs were pruned. @return 0; LDG_ECORRUPT; LDG_ENOMEM. */
int ldg_epoch_checkpoint_whole(struct ldg_txn *t, uint64_t size,
                               const char *note, char **line);
/* A checkpoint note (len bytes; its text tlen bytes) of the log of origin
 * whose log key has this anchor, and its epoch line whole (line, one
 * signature line, as ldg_epoch_checkpoint_whole makes it): the note's
 * own epoch line has the same epoch and signature, the whole one's epoch
 * (*period, *sub) is certified from the anchor, and the signature over
 * the text verifies with that epoch's key. @return 0; LDG_ENOTFOUND (the
 * note has no epoch line); LDG_ECORRUPT (malformed, or the two lines
 * differ); LDG_EBADSIG with err naming the epoch. */
int ldg_epoch_checkpoint_check(const char *note, size_t len, size_t tlen,
                               const char *line, size_t line_len,
                               const char *origin, const uint8_t anchor[32],
                               uint64_t t0_ns, uint64_t period_ns,
                               uint32_t *period, uint32_t *sub, char *err,
                               size_t errcap);
/* The epoch (*period, *sub) a checkpoint note (len bytes; text tlen) of
 * origin names in its own epoch line under this anchor, read, not
 * checked (a note checked before: a mirror's own copy). @return 0;
 * LDG_ENOTFOUND (no epoch line under this anchor); LDG_ECORRUPT. */
int ldg_epoch_checkpoint_epoch(const char *note, size_t len, size_t tlen,
                               const char *origin, const uint8_t anchor[32],
                               uint32_t *period, uint32_t *sub);
/* 1 when the signature lines of a checkpoint note (len bytes; text tlen)
 * of origin hold one by the key name "<origin>/epoch", under any anchor
 * (its key ID not looked at); else 0. Says only that a line is there. */
int ldg_epoch_checkpoint_has_line(const char *note, size_t len, size_t tlen,
                                  const char *origin);
/* The seq of key_id's key.anchored: 0 and *seq; LDG_ENOTFOUND. */
int ldg_epoch_anchor_seq(struct ldg_txn *t, const char *key_id, uint64_t *seq);
/* Checks seal s's epoch part on its own (a bundle's): whole (l0 = 0,
 * j0 = 0), its epoch (*period, *sub) certified from the anchor (anchor,
 * t0_ns, period_ns: a key.anchored's body), and its epoch signature over
 * s's map by that epoch's key, whose start goes to *start_ns. s without
 * an epoch part is LDG_EINVAL. @return 0; LDG_ECORRUPT (does not
 * decode); LDG_EBADSIG with err naming the epoch and what fails. Cost: 33
 * + sub Ed25519 checks. */
int ldg_epoch_seal_check(const uint8_t anchor[32], uint64_t t0_ns,
                         uint64_t period_ns, const struct ldg_seal *s,
                         uint32_t *period, uint32_t *sub, uint64_t *start_ns,
                         char *err, size_t errcap);
/* What attributes one event to its seal (FORMAT.md section 3.3): the
 * seal, the event's leaf index among its count events, its claim digest
 * and the RFC 6962 inclusion path from that digest to the seal's root.
 * A verifier checks: SHA-256("ledger/claim/v1" 0x00 claim) == digest,
 * ldg_seal_verify_inclusion(digest, leaf, seal.count, path, n,
 * seal.root), then ldg_seal_verify(&seal, pub of seal.key_id), or for
 * an epoch seal ldg_epoch_seal_check from the key's anchor. */
struct ldg_seal_proof {
    uint64_t seal_seq; /* seq of the seal's first event */
    uint64_t leaf;
    uint8_t digest[32];
    struct ldg_seal seal;
    size_t n;
    uint8_t path[64][32]; /* LDG_PROOF_MAX */
};
/* The proof for event seq, from the stored entries and seal (not
 * verified: ldg_vouch_event does that). 0; LDG_ENOTFOUND if seq does not
 * exist or is a format 1 entry (signed, not sealed); LDG_ECORRUPT if its
 * seal or the seal's events are not as stored by the ledger. Cost: reads
 * the seal's events (one commit's worth at most). */
int ldg_seal_proof(struct ldg_txn *t, uint64_t seq, struct ldg_seal_proof *out);

int ldg_sealed_batch_parse(struct ldg_sealed_batch **out, const json_t *j,
                           char *err, size_t errcap);
void ldg_sealed_batch_free(struct ldg_sealed_batch *b);

/* ------------------------------------- sealing on the writer's side -- */

/* Test hook: salts derived from seed (fixed vectors); NULL: random. */
void ldg_sealer_set_salt_seed(struct ldg_sealer *s, const uint8_t seed[32]);

/* The claim of one sealed event, as both the sealer and the ledger that
 * checks a sealed batch compute it: subject in->subject or derived from
 * the body (ldg_vocab_subject), run in->run or the body's "run" string,
 * body commitment from in->body and salts (exactly one 32-hex-digit salt
 * per top-level field: ldg_field_digest, ldg_body_root), vocabulary and
 * limits checked (body_max: the body limit, 0 = default; the types
 * ldg_type_log_only names refused). claim gets the canonical
 * bytes (cap >= LDG_ENTRY_MAX is always enough) and *len their length,
 * digest the claim digest. LDG_EBADINPUT / LDG_ETOOBIG with err naming the
 * field. in->actor and in->source are not part of a claim. */
/* 1 for the types only the log key writes, which never arrive sealed by
 * a writer: ledger.genesis, key.*, body.erased, ledger.pruned. */
int ldg_type_log_only(const char *type);
int ldg_sealed_claim(const struct ldg_event_in *in, const json_t *salts,
                     const char *key_id, size_t body_max, uint8_t *claim,
                     size_t cap, size_t *len, uint8_t digest[32], char *err,
                     size_t errcap);

/* --------------------------------------------------- storage & reading -- */

/* Commits (durably, unless opened LDG_NOSYNC) and frees t. */
int ldg_txn_commit(struct ldg_txn *t);
/* Which committed state a transaction sees, as a number (LMDB's
 * transaction id: each committed write makes a new one): two read
 * transactions with the same number see the same bytes, so what was read
 * in one holds in the other. */
uint64_t ldg_txn_snapshot(struct ldg_txn *t);

/* Decodes an entry from bytes (strict: canonical msgpack, exact length).
 * Does not verify the signature. ev->entry points into buf. */
int ldg_event_decode(const uint8_t *buf, size_t len, struct ldg_event *ev);

/* Read paths that display rather than verify (query, export): */
enum ldg_decode_flags {
    /* Trust the stored bytes: skip the canonical-form check (a re-pack) and
     * take the leaf hash from the stored tree instead of hashing the entry.
     * ledger verify uses it only in pass 2, on entries its pass 1 has
     * already decoded canonically. */
    LDG_DECODE_TRUSTED = 1 << 0
};
int ldg_event_get_ex(struct ldg_txn *t, uint64_t seq, struct ldg_event *ev,
                     unsigned flags);
/* The record of event seq as db entries keeps it (a whole entry, or store
 * layout 5's stored form: ldg_entry_whole), valid until t ends. */
int ldg_entry_record(struct ldg_txn *t, uint64_t seq, const uint8_t **rec,
                     size_t *len);
/* ldg_event_decode with flags; with LDG_DECODE_TRUSTED ev->leaf is left
 * zeroed (take it from ldg_tree_stored_hash(t, 0, seq) if needed). */
int ldg_event_decode_ex(const uint8_t *buf, size_t len, struct ldg_event *ev,
                        unsigned flags);
/* Appends the body of event seq as compact JSON text (the same bytes as
 * json_dumps(body, JSON_COMPACT) of ldg_body_get's object: keys in bytewise
 * order) to the malloc'd buffer *buf (*len used, *cap allocated; grown as
 * needed; a NUL follows the text but is not counted). No digests, no
 * jansson tree. LDG_EERASED if erased. */
int ldg_body_json_append(struct ldg_txn *t, uint64_t seq, char **buf,
                         size_t *len, size_t *cap);
/* The same from a stored body record at hand (the value of the event's key
 * in the "bodies" database, as a cursor over it returns it; FORMAT.md
 * section 4), so a scan needs no second lookup; d the dictionaries its
 * store holds (ldg_txn_dicts). body_max is the ledger's body limit
 * (ldg_body_max), which bounds a compressed record's size. No checks
 * against the commitment: a display path. Touches nothing but its
 * arguments (and a scratch buffer of the calling thread): threads may
 * call it at once on records of one transaction. LDG_ECORRUPT if the
 * record is malformed. */
struct ldg_dicts;
int ldg_body_record_json_append(const struct ldg_dicts *d, const uint8_t *rec,
                                size_t rec_len, size_t body_max, char **buf,
                                size_t *len, size_t *cap);
/* A stored body record (as above) in its uncompressed kind, appended to
 * out: a compressed one inflated with d (body_max bounds its size) and
 * given the header of the kind it was compressed from (FORMAT.md 4: 0x00
 * salted, 0x02 or 0x05 seed then seeded map), the others as they are. The
 * same fields, read in place (ldg_body_record_str) and shown
 * (ldg_body_record_json_append) with no dictionaries and no inflating: a
 * scan that must open a record on one thread hands the result to another.
 * Touches nothing but its arguments (and the calling thread's scratch).
 * LDG_ECORRUPT if malformed; out->err when out cannot grow. */
struct ldg_buf;
int ldg_body_record_raw_append(const struct ldg_dicts *d, const uint8_t *rec,
                               size_t rec_len, size_t body_max,
                               struct ldg_buf *out);
/* Writes the n bytes at s as a JSON string literal at o, escaped as
 * jansson does by default (\uXXXX for other control characters, '/' and
 * non-ASCII as they are); o has room for 6n + 2 bytes. Returns the end.
 * The one JSON string writer of the display paths (query, show). */
char *ldg_json_str_write(char *o, const char *s, size_t n);

/* A body field's salt, in bytes (FORMAT.md 4.2; bundles carry it in hex). */
#define LDG_SALT_LEN 16

/* One top-level body field with its salt, as committed (for exports and
 * redaction). value is a JSON value owned by the struct. */
struct ldg_field {
    char *name;
    uint8_t salt[LDG_SALT_LEN];
    json_t *value;
    uint8_t digest[32];
};
/* The fields of event seq's body, sorted by name. Caller frees with
 * ldg_fields_free. LDG_EERASED if erased. */
int ldg_body_fields(struct ldg_txn *t, uint64_t seq, struct ldg_field **out,
                    size_t *n);
void ldg_fields_free(struct ldg_field *f, size_t n);
/* Field digest: SHA-256("ledger/field/v1" 0x00 ‖ salt ‖ msgpack(name) ‖
 * msgpack(value)); the value is encoded canonically from JSON. */
int ldg_field_digest(uint8_t out[32], const uint8_t salt[LDG_SALT_LEN],
                     const char *name, const json_t *value);
/* Body commitment from field digests (any order; sorted inside). */
void ldg_body_root(uint8_t out[32], const uint8_t (*digests)[32], size_t n);

/* Verifies an event's signature with pub. 0 or LDG_EBADSIG. */
int ldg_event_verify_sig(const struct ldg_event *ev, const uint8_t pub[32]);

/* --------------------------------------------------------- transparency -- */

/* RFC 6962 root of the first size entries, from stored hashes. */
int ldg_tree_root(struct ldg_txn *t, uint64_t size, uint8_t root[32]);
/* Inclusion proof of entry index in the tree of size; proof needs room for
 * 64 hashes. */
int ldg_tree_inclusion(struct ldg_txn *t, uint64_t index, uint64_t size,
                       uint8_t proof[][32], size_t *n);
int ldg_tree_consistency(struct ldg_txn *t, uint64_t old, uint64_t size,
                         uint8_t proof[][32], size_t *n);
/* Many tlog-proof@v1 texts against the stored checkpoint of one size, in
 * one pass (ledger/proofs_batch.c): the checkpoint is read once, and the
 * sibling hashes that proofs of nearby entries share are read and
 * base64-encoded once. Valid until t ends; one thread at a time. */
struct ldg_proof_batch;
/* size > 0 must have a stored checkpoint: LDG_ENOTFOUND otherwise. */
int ldg_proof_batch_new(struct ldg_proof_batch **out, struct ldg_txn *t,
                        uint64_t size);
/* The same bytes as ldg_proof_text(t, index, size, out), malloc'd, with
 * its length in *len (may be NULL). Cheapest for increasing indexes: a run
 * of consecutive entries costs about two hash reads each instead of
 * log2(size). LDG_ENOTFOUND if index >= size. */
int ldg_proof_batch_text(struct ldg_proof_batch *b, uint64_t index, char **out,
                         size_t *len);
/* Stored hashes read so far (for tests and benchmarks). */
uint64_t ldg_proof_batch_reads(const struct ldg_proof_batch *b);
/* Reads from t from now on (a later snapshot of the same store, for a
 * reader that reads in windows): the hashes of the tree of size never
 * change once stored, so what b keeps stays valid. */
void ldg_proof_batch_rebind(struct ldg_proof_batch *b, struct ldg_txn *t);
void ldg_proof_batch_free(struct ldg_proof_batch *b);
/* Signs text (non-empty, ending in '\n') as a C2SP signed note with the
 * log key under the origin name. *out malloc'd. Needs the log key file. */
int ldg_log_sign_note(struct ldg_ledger *l, const char *text, size_t len,
                      char **out);
/* Verifies a note signed by the log key (name = origin, pub = log key);
 * *text_len gets the signed text's length. 0 or LDG_EBADSIG/EBADINPUT. */
int ldg_log_verify_note(struct ldg_ledger *l, const char *note, size_t len,
                        size_t *text_len);
/* Offline checks (no ledger needed), for bundles and auditors. */
/* The hash of the complete subtree (level, index): leaves
 * [index*2^level, (index+1)*2^level), as stored (layout 1), or computed
 * from the stored tile or edge hashes under it (layout 2: up to 127
 * hashes). LDG_ENOTFOUND if not yet complete. */
int ldg_tree_stored_hash(struct ldg_txn *t, int level, uint64_t index,
                         uint8_t out[32]);

/* ------------------------------------- transparency primitives (pure) -- */

/* Reads the stored hash of the complete subtree (level, index). Returns 0,
 * or a negative ldg_error (LDG_ENOTFOUND if it is not stored). */
typedef int (*ldg_hash_reader)(void *ctx, int level, uint64_t index,
                               uint8_t out[32]);

/* SHA-256(0x01 ‖ left ‖ right) */
void ldg_tlog_node_hash(uint8_t out[32], const uint8_t left[32],
                        const uint8_t right[32]);

/* RFC 6962 root of the tree of the first size leaves (size 0: SHA-256 of
 * the empty string). */
int ldg_tlog_root(ldg_hash_reader rd, void *ctx, uint64_t size,
                  uint8_t out[32]);

/* The hash lines of the last proof parsed with it (text and decoding), so
 * the lines a proof shares with the previous one are not decoded again.
 * Zero it before first use; one per thread. */
struct ldg_tlog_proof_cache {
    char text[LDG_PROOF_MAX][44];
    uint8_t hash[LDG_PROOF_MAX][32];
    size_t n;
};
/* ldg_tlog_proof_parse, reusing and updating cache (NULL: none); the
 * result is exactly ldg_tlog_proof_parse's. */
int ldg_tlog_proof_parse_cached(const char *text, size_t len, uint64_t *index,
                                uint8_t proof[][32], size_t *n,
                                const char **checkpoint, size_t *checkpoint_len,
                                struct ldg_tlog_proof_cache *cache);
/* The path of the last proof that verified against (size, root): the
 * node reached after each step, named by (shifts, fn), its hash and the
 * proof hash used. Zero it before first use; one per thread. */
struct ldg_tlog_memo {
    uint64_t size;
    uint8_t root[32];
    size_t n;
    uint64_t shifts[LDG_PROOF_MAX], fn[LDG_PROOF_MAX];
    uint8_t node[LDG_PROOF_MAX][32], sib[LDG_PROOF_MAX][32];
};
/* ldg_tlog_verify_inclusion with the same result, faster for runs of
 * proofs in one tree (a bundle's thousands of proofs against its one
 * checkpoint): a proof that joins the memo's path (same node, same hash,
 * same remaining proof hashes) is accepted there, so neighbouring leaves
 * cost about two hashes each instead of log2(size); a proof that
 * verifies in full becomes the memo. m NULL: no memo. */
int ldg_tlog_verify_inclusion_memo(struct ldg_tlog_memo *m,
                                   const uint8_t leaf_hash[32], uint64_t index,
                                   uint64_t size, const uint8_t proof[][32],
                                   size_t n, const uint8_t root[32]);

/* The verifier string of Ed25519 key pub under name ("name+hexid+base64",
 * C2SP signed-note) into buf: its length, or LDG_EINVAL (bad name, cap). */
int ldg_note_verifier(char *buf, size_t cap, const char *name,
                      const uint8_t pub[32]);
/* Parses a verifier string; name must fit in name_cap with its NUL.
 * LDG_EBADINPUT if malformed (bad name, id not matching the key, ...). */
int ldg_note_parse_verifier(const char *vkey, char *name, size_t name_cap,
                            uint8_t pub[32]);
/* The text length of a signed note (len bytes): up to and with the first
 * newline of its last "\n\n" (the text may itself hold empty lines;
 * signature lines never do), as Go's sumdb/note reads it; 0 when it has
 * none. Reads only note[0..len). */
size_t ldg_note_text_len(const char *note, size_t len);
/* Verifies that note carries a valid signature by (name, pub). On success
 * *text_len is the length of the signed text (which starts at note).
 * LDG_EBADINPUT for a malformed note (any malformed signature line, bad
 * UTF-8, control characters, more than 100 signatures), LDG_EBADSIG if no
 * signature line by this key verifies or if any line by this key (same
 * name and key ID) fails to verify. Unknown signers' lines are ignored. */
int ldg_note_verify(const char *note, size_t len, const char *name,
                    const uint8_t pub[32], size_t *text_len);
/* Parses a C2SP tlog-witness add-checkpoint request body: "old N\n", at
 * most 63 base64 hashes one a line, "\n", the checkpoint note. Does not
 * verify the proof or the note; *checkpoint points into text (borrowed).
 * LDG_EBADINPUT if malformed. */
int ldg_tlog_consistency_parse(const char *text, size_t len, uint64_t *old,
                               uint8_t proof[][32], size_t *n,
                               const char **checkpoint, size_t *checkpoint_len);

/* C2SP tlog-cosignature/v1 with Ed25519 (ledger/cosig.c).
 *
 * A cosigner's key ID is SHA-256(name ‖ 0x0A ‖ 0x04 ‖ pub)[0:4] and its
 * verifier key "name+<8 hex of key ID>+base64(0x04 ‖ pub)". A cosignature
 * is one signed-note line
 *     "— name base64(key ID [4] ‖ time [8, big-endian] ‖ sig [64])\n"
 * where sig is Ed25519 over "cosignature/v1\ntime <time>\n" followed by
 * the whole checkpoint text (every line up to, not including, the empty
 * line before the signatures). time is POSIX seconds, < 2^63. */
int ldg_cosig_verifier(char *buf, size_t cap, const char *name,
                       const uint8_t pub[32]);
/* Cosigns checkpoint text (text_len bytes, ending in '\n') at time_s.
 * *line (malloc'd, NUL-terminated) gets the signature line with its
 * '\n'. LDG_EINVAL for a bad name or text, or a key without a secret. */
int ldg_cosig_sign(char **line, const char *text, size_t text_len,
                   const char *name, const struct ldg_key *key,
                   uint64_t time_s);
/* Looks for the cosignature by vkey among the signature lines of a signed
 * note. 0 when one verifies (*time_s, may be NULL, gets its time);
 * LDG_ENOTFOUND if the note has no line by that key; LDG_EBADSIG if such
 * a line does not verify; LDG_EBADINPUT for a malformed note or vkey. */
int ldg_cosig_verify(const char *note, size_t len, const char *vkey,
                     uint64_t *time_s);

/* Drops and rebuilds the secondary indexes (by type, subject, run, actor,
 * time and id) from the log in one write transaction: readers see the
 * old indexes or the complete new ones. Cost: one pass over the entries;
 * the transaction holds every index page, so it needs free map space
 * about the indexes' size. LDG_ECORRUPT (with the event in the message)
 * if an entry does not decode or seqs have a gap. */
int ldg_index_rebuild(struct ldg_ledger *l);

/* The secondary indexes: the events with a given type, subject, run or
 * actor (key ID), in seq order. */
enum ldg_index {
    LDG_INDEX_TYPE,
    LDG_INDEX_SUBJECT,
    LDG_INDEX_RUN, /* events without a run are in none */
    LDG_INDEX_ACTOR
};
/* Calls fn(ctx, seq) for each event whose field `which` is exactly value
 * and whose seq is in [lo, hi], in increasing seq order (decreasing if
 * reverse). fn returns 0 to go on, a positive number to stop (then 0 is
 * returned) or a negative ldg_error, which is returned. 0 also when no
 * event matches. Cost: one cursor seek, then one step per event. */
int ldg_index_walk(struct ldg_txn *t, enum ldg_index which, const char *value,
                   uint64_t lo, uint64_t hi, int reverse,
                   int (*fn)(void *ctx, uint64_t seq), void *ctx);

/* ---------------------------------------------------------- fast scans -- */

/* The read paths that walk millions of events (the projections' rebuild,
 * query) get the stored events through these, never the bytes: only the
 * core knows the layout (FORMAT.md), so a format change is made here. */

/* A slice of stored bytes: not NUL-terminated, borrowed. */
struct ldg_slice {
    const char *p;
    size_t n;
};

/* A body's top-level fields, read in place from the stored record (no
 * jansson tree, no digests), or over a JSON object, or erased. Accessors
 * return 1 when the field is there with that type (JSON null counts as
 * absent), else 0; _num accepts integers and reals; _str's slice and the
 * view are valid while the transaction (or the JSON object) is. */
struct ldg_body_view;
int ldg_body_view_new(struct ldg_body_view **out);
void ldg_body_view_free(struct ldg_body_view *b);
/* The dictionaries (ldg_txn_dicts: borrowed, valid while b is used) and
 * body limit with which b reads compressed records in place (inflated
 * into memory b owns): without them ldg_body_view_set_record answers 1
 * for a compressed record. */
struct ldg_dicts;
void ldg_body_view_set_dicts(struct ldg_body_view *b, const struct ldg_dicts *d,
                             size_t body_max);
/* Makes b a view of a JSON object (borrowed), or of an erased body when
 * body is NULL. */
void ldg_body_view_set_json(struct ldg_body_view *b, const json_t *body);
/* Makes b a view with no fields that is not erased (a body not read). */
void ldg_body_view_set_none(struct ldg_body_view *b);
/* Makes b a view of a stored body record (ldg_reader_body's, borrowed;
 * a compressed one inflated into b with ldg_body_view_set_dicts's
 * dictionaries): 0, or 1 when the record cannot be read in place (a
 * compressed one without dictionaries, or anything unexpected): then b is
 * a view with no fields and the caller decodes the body (ldg_body_get)
 * instead; the answers never differ. */
int ldg_body_view_set_record(struct ldg_body_view *b, const uint8_t *rec,
                             size_t len);
/* One top-level string field of a stored body record, read in place
 * without splitting the whole record into a view (for the display paths
 * that want one field of each event: query's model_at): 1 with the slice
 * (borrowed, as ldg_body_view_str's) when the field is there as a
 * string, 0 when it is absent or of another type; 2 when the record
 * cannot be read in place (compressed, or anything unexpected before the
 * field): then ask a view (ldg_body_view_set_record) or ldg_body_get.
 * On a well-formed record the answers are ldg_body_view_str's. */
int ldg_body_record_str(const uint8_t *rec, size_t len, const char *name,
                        struct ldg_slice *out);
int ldg_body_view_erased(const struct ldg_body_view *b);
int ldg_body_view_str(const struct ldg_body_view *b, const char *name,
                      struct ldg_slice *out);
int ldg_body_view_int(const struct ldg_body_view *b, const char *name,
                      int64_t *out);
int ldg_body_view_num(const struct ldg_body_view *b, const char *name,
                      double *out);
int ldg_body_view_bool(const struct ldg_body_view *b, const char *name,
                       int *out);
/* Any field as JSON (a new reference), or NULL if absent or null. */
json_t *ldg_body_view_json(const struct ldg_body_view *b, const char *name);

/* ldg_log_scan: every event of [from, to) in seq order with its body
 * (a pruned ledger's events before its horizon skipped: they are gone).
 * event gets each envelope (decoded as ldg_event_decode_ex with
 * LDG_DECODE_TRUSTED: ev->leaf is zero) and a view of its body: erased
 * when the body was erased, empty when want_body (optional) said 0 for
 * it. A non-zero return of event stops the scan and is returned if
 * negative. progress (optional) is called every 65,536 events and at the
 * end. LDG_ECORRUPT, with the event in the message, if an event is
 * missing or does not decode. Cost: two cursors stepping side by side, a
 * body split in place only when wanted; resident pages are dropped every
 * 16,384 events (LDG_ACCESS_RELEASE). With types (optional, a list
 * ended by NULL, borrowed for the call), only the events of those types,
 * listed by the type index, each read by seq (dropping pages every 256
 * events), and progress counts them. */
struct ldg_scan_fns {
    int (*want_body)(void *ctx, const struct ldg_event *ev);
    int (*event)(void *ctx, const struct ldg_event *ev,
                 const struct ldg_body_view *b);
    void *ctx;
    void (*progress)(void *ctx, uint64_t done, uint64_t total);
    void *progress_ctx;
    const char *const *types;
};
struct ldg_scan_stats {
    uint64_t events;
    uint64_t fast_bodies; /* read in place */
    uint64_t slow_bodies; /* decoded strictly (compressed, unexpected) */
    uint64_t erased;
};
int ldg_log_scan(struct ldg_txn *t, uint64_t from, uint64_t to,
                 const struct ldg_scan_fns *fns, struct ldg_scan_stats *st);

/* Seq scans: streams of strictly
 * increasing seqs in [lo, hi] (decreasing if reverse). _index: the events
 * whose field `which` is exactly value; _bodies: the events with a stored
 * (not erased) body, whose record ldg_seqscan_record hands out (for
 * ldg_body_record_plain and ldg_body_record_json_append). One cursor
 * each; a step costs one cursor move. */
struct ldg_seqscan;
int ldg_seqscan_index(struct ldg_seqscan **out, struct ldg_txn *t,
                      enum ldg_index which, const char *value, uint64_t lo,
                      uint64_t hi, int reverse);
int ldg_seqscan_bodies(struct ldg_seqscan **out, struct ldg_txn *t, uint64_t lo,
                       uint64_t hi, int reverse);
/* The body index (ix.body, FORMAT.md 6.1): ldg_bix_usable says whether it
 * answers body.NAME=VALUE in t (1: NAME is one it indexes, VALUE short
 * enough, and it is current with the log; 0: scan the bodies instead; or
 * an error). It then holds every event whose body's NAME is the string
 * VALUE or an array holding that string; _body_index streams their seqs
 * (LDG_EINVAL for a NAME or VALUE it cannot hold). */
int ldg_bix_usable(struct ldg_txn *t, const char *name, const char *value);
int ldg_seqscan_body_index(struct ldg_seqscan **out, struct ldg_txn *t,
                           const char *name, const char *value, uint64_t lo,
                           uint64_t hi, int reverse);
/* Moves to the next seq: 1 with *seq, 0 when there is none, or an error. */
int ldg_seqscan_next(struct ldg_seqscan *s, uint64_t *seq);
/* Skips ahead: the next ldg_seqscan_next returns the first seq at or after
 * seq (at or before it when reversed), never one already returned. One
 * cursor seek: for intersecting two scans by leapfrogging (a rare value's
 * events among a common one's). */
void ldg_seqscan_skip(struct ldg_seqscan *s, uint64_t seq);
/* The body record at the current seq of a _bodies scan (valid until the
 * transaction ends). */
void ldg_seqscan_record(const struct ldg_seqscan *s, const uint8_t **rec,
                        size_t *len);
void ldg_seqscan_free(struct ldg_seqscan *s);

/* The name of the database that keeps an index in t's store layout, as
 * FORMAT.md and query plans give it ("ix.run" in layout 3, "idx.run"
 * before). Static storage. */
const char *ldg_index_name(struct ldg_txn *t, enum ldg_index which);

/* Narrows [*lo, *hi] to the events with since_ns <= ts <= until_ns (0 and
 * UINT64_MAX leave that side open), by two binary searches of the
 * entries (ts strictly increases with seq, which verify checks). 0, or 1
 * when no event is left. */
int ldg_time_window(struct ldg_txn *t, uint64_t since_ns, uint64_t until_ns,
                    uint64_t *lo, uint64_t *hi);
/* Calls fn(ctx, value) for each distinct value of index `which` that
 * starts with the plen bytes at prefix, in bytewise order, one cursor
 * seek per value. fn returns 0 to go on, > 0 to stop (then 1 is
 * returned) or a negative ldg_error (returned). */
int ldg_index_values(struct ldg_txn *t, enum ldg_index which,
                     const char *prefix, size_t plen,
                     int (*fn)(void *ctx, const char *value), void *ctx);

/* A reader: events, leaf hashes and body records by seq, through cursors
 * that stay where the last lookup left them, so lookups in seq order
 * (either way) cost a cursor step each. For display paths: entries are
 * decoded trusted (LDG_DECODE_TRUSTED), and ev->leaf is taken from the
 * next entry's prev or the stored tree. */
struct ldg_reader;
int ldg_reader_new(struct ldg_reader **out, struct ldg_txn *t);
/* Event seq: 0, LDG_ENOTFOUND, LDG_ECORRUPT. ev->entry valid until the
 * transaction ends. */
int ldg_reader_event(struct ldg_reader *r, uint64_t seq, struct ldg_event *ev);
/* The stored body record of event seq (valid until the transaction ends):
 * 0, LDG_EERASED, LDG_ENOTFOUND (no such event). */
int ldg_reader_body(struct ldg_reader *r, uint64_t seq, const uint8_t **rec,
                    size_t *len);
/* With want 0, ldg_reader_event leaves ev->leaf zero and reads nothing
 * for it (no step of the tree's cursor): for a display that shows no leaf
 * hash and no cursor. 1 (the default) takes it again. */
void ldg_reader_want_leaf(struct ldg_reader *r, int want);
/* With want 0, ldg_reader_event does not derive the claim digest that a
 * stored entry leaves out (ev->sealed and ev->digest_derived): ev->digest is
 * zero, for a caller that makes it only where it shows it, with
 * ldg_claim_digest(ev->digest, ev->signed_part, ev->signed_len) (valid
 * until the transaction ends), maybe on another thread. A digest stored
 * in the entry is read as ever. 1 (the default) derives it again. */
void ldg_reader_want_digest(struct ldg_reader *r, int want);
/* Events lo..hi are about to be read through r in seq order, forward: if
 * their pages are mostly not in the page cache, the kernel is asked to
 * read them in ahead of the reads, a stretch at a time (see reader.c).
 * Only speed depends on it; call it before the first ldg_reader_event. */
void ldg_reader_readahead(struct ldg_reader *r, uint64_t lo, uint64_t hi);
void ldg_reader_free(struct ldg_reader *r);

/* The payload of a body record stored uncompressed (canonical msgpack, in
 * which ldg_body_needle_* may be searched): 1 with *p and *n, 0 when the
 * record is compressed (nothing can be told without decoding it). */
int ldg_body_record_plain(const uint8_t *rec, size_t len, const uint8_t **p,
                          size_t *n);

/* The zstd dictionaries a store's body records name (FORMAT.md 4, db
 * dicts), by id 1..255. A set only grows; looking ids up is safe from any
 * thread. ldg_txn_dicts is the ledger's own, holding every dictionary of
 * t's snapshot (read once per ledger handle; valid for the handle's life,
 * also after t ends); NULL only on an I/O error or a damaged dictionary
 * (the ledger's message says which). A reader of records kept elsewhere
 * (an archive) makes a set of its own: ldg_dicts_add takes a dictionary's
 * bytes and id (LDG_ECORRUPT if its header names another id or zstd does
 * not take it; adding an id again with the same bytes is a no-op). */
struct ldg_dicts;
const struct ldg_dicts *ldg_txn_dicts(struct ldg_txn *t);
int ldg_dicts_new(struct ldg_dicts **out);
int ldg_dicts_add(struct ldg_dicts *d, unsigned id, const uint8_t *p,
                  size_t len);
/* Dictionary id's bytes (borrowed, valid while d is): 0 or LDG_ENOTFOUND. */
int ldg_dicts_get(const struct ldg_dicts *d, unsigned id, const uint8_t **p,
                  size_t *len);
void ldg_dicts_free(struct ldg_dicts *d);

/* Scratch memory a reader of compressed records inflates into: zero it
 * before first use, release it when done; what it holds is valid until
 * the next call that uses it. One per thread. */
struct ldg_inflate {
    uint8_t *p;
    size_t cap;
};
void ldg_inflate_release(struct ldg_inflate *s);
/* A body record's payload, its canonical map, inflated into s when
 * compressed: the field map (salted: name to [salt, value]; seeded:
 * name to value, *seeded 1), in which ldg_body_needle_* may be searched.
 * 0, or LDG_ECORRUPT (a record that does not open, or names a dictionary
 * d lacks), LDG_ENOMEM. max: the ledger's body limit (a frame stating a
 * larger size is refused before anything is allocated). */
int ldg_body_record_open(const struct ldg_dicts *d, const uint8_t *rec,
                         size_t len, size_t max, struct ldg_inflate *s,
                         const uint8_t **map, size_t *n, int *seeded);
/* 1 if the record is seeded (its salts derive from a seed it holds). */
int ldg_body_record_seeded(const uint8_t *rec, size_t len);

/* ------------------------------------------------- module storage (KV) -- */

/* Other modules keep their state in named LMDB databases of the same
 * environment, so they change in the same transaction as the log. Names
 * are "<module>.<name>" (e.g. "proj.packs"). A dbi is valid for the life
 * of the ledger handle. The stores that exist when the ledger is opened
 * are opened then, so transactions that overlap may each ask for one; a
 * store created later is opened by the write transaction that creates it
 * and is the environment's once that commits (LMDB lets one transaction
 * at a time open a handle that is not yet the environment's).
 *
 * The core's own databases (the log, its bodies, tree, checkpoints, key
 * registry, meta records and indexes; FORMAT.md) are written only by the
 * core: ldg_db_open refuses to create one (LDG_DB_CREATE) and ldg_kv_put,
 * ldg_kv_del and ldg_db_drop refuse a dbi of one, with LDG_EINVAL and a
 * message naming it. Read them through the accessors above. */
typedef unsigned ldg_dbi;
enum ldg_db_flags { LDG_DB_CREATE = 1, LDG_DB_DUPSORT = 2 };
int ldg_db_open(struct ldg_txn *t, const char *name, unsigned flags,
                ldg_dbi *dbi);
/* Empties (del=0) or deletes (del=1) a database. */
int ldg_db_drop(struct ldg_txn *t, ldg_dbi dbi, int del);

/* A borrowed value: valid until the transaction ends or the next write. */
struct ldg_val {
    const void *data;
    size_t len;
};
int ldg_kv_get(struct ldg_txn *t, ldg_dbi dbi, const void *key, size_t klen,
               struct ldg_val *val);
int ldg_kv_put(struct ldg_txn *t, ldg_dbi dbi, const void *key, size_t klen,
               const void *val, size_t vlen);
/* Deletes key (all its duplicates in a DUPSORT db if val is NULL). */
int ldg_kv_del(struct ldg_txn *t, ldg_dbi dbi, const void *key, size_t klen,
               const void *val, size_t vlen);

/* How the mapped file is about to be read. RANDOM (the default: the file
 * may be larger than memory, lookups want one page) reads one page a
 * fault; SEQUENTIAL lets the kernel read ahead, for a scan over much of
 * the log from a cold page cache. RELEASE drops this process's mappings
 * of pages read so far (they stay in the page cache and fault back in),
 * so a long scan's resident size stays what it really holds. A hint for
 * the whole process: it never fails and changes no data. */
enum ldg_access {
    LDG_ACCESS_RANDOM,
    LDG_ACCESS_SEQUENTIAL,
    LDG_ACCESS_RELEASE
};
void ldg_access_hint(struct ldg_ledger *l, enum ldg_access how);
/* LDG_ACCESS_RELEASE for one part (0..parts-1, in file order) of the
 * file's pages: a long-running writer that releases a part at a time
 * refaults a part of what it still uses at a time, not all of it at once
 * (ledger serve: no pause of a whole map's page faults in one commit). */
void ldg_access_release_part(struct ldg_ledger *l, unsigned part,
                             unsigned parts);

struct ldg_cursor;
enum ldg_seek {
    LDG_FIRST,
    LDG_LAST,
    LDG_NEXT,
    LDG_PREV,
    LDG_SET_RANGE, /* first key >= the given key */
    /* databases of sorted duplicates (LDG_DB_DUPSORT) only: */
    LDG_SET_KEY,        /* the given key, at its first duplicate */
    LDG_GET_BOTH_RANGE, /* the given key, first value >= *v (on entry) */
    LDG_NEXT_DUP,       /* the key's next duplicate, or LDG_ENOTFOUND */
    LDG_PREV_DUP,       /* the key's one before, or LDG_ENOTFOUND */
    LDG_LAST_DUP,       /* the key's last duplicate */
    LDG_NEXT_NODUP      /* the first duplicate of the next key */
};
int ldg_cursor_open(struct ldg_txn *t, ldg_dbi dbi, struct ldg_cursor **out);
/* Positions the cursor; key/klen are used by LDG_SET_RANGE, LDG_SET_KEY
 * and LDG_GET_BOTH_RANGE only, and that one reads the value sought from
 * *v (which then says where the cursor is). Returns LDG_ENOTFOUND past
 * either end. */
int ldg_cursor_get(struct ldg_cursor *c, enum ldg_seek op, const void *key,
                   size_t klen, struct ldg_val *k, struct ldg_val *v);
void ldg_cursor_close(struct ldg_cursor *c);
/* Deletes the record under the cursor (a write transaction's); the next
 * LDG_NEXT gives the one after it. */
int ldg_cursor_del(struct ldg_cursor *c);

/* The horizon's seq as t sees it (the first event kept), 0 when never
 * pruned (or unreadable: verify names that). Cost: a read of the horizon
 * record. */
uint64_t ldg_txn_horizon(struct ldg_txn *t);

/* The events of the intake's tail t replayed over the store's snapshot
 * (store layout 9, a read transaction), which the store itself does
 * not hold yet: ldg_txn_size less this is the store's own size. 0 at
 * other layouts and in write transactions. */
uint64_t ldg_txn_tail(struct ldg_txn *t);

/* With LDG_TXN_WRITE, for ldg_txn_begin: a write of records beside the
 * log (meta: a verification's result), which reads nothing of the log.
 * At store layout 9 the intake's tail is left where it is (a write
 * otherwise applies it first): applied by a handle with no appliers,
 * the projections would fall behind the store. */
#define LDG_TXN_SIDE 2u
/* With LDG_TXN_READ, for ldg_txn_begin: the store's own snapshot, the
 * intake's tail aside (at store layout 9; the same as a read at
 * others): for a check of what the store itself holds, such as a
 * projection's mark (ldg_txn_size is then the store's own size), at the
 * cost of one LMDB read transaction and no replay. */
#define LDG_TXN_STORE 4u

/* What a reader that reads in windows, each in a new snapshot (docs/
 * QUERY.md, "Readers and the file's growth"), checks as each begins: the
 * log's events below its checkpoint `below` are the same bytes in every
 * later snapshot unless a prune removed some (the horizon moved from
 * `horizon`, the first snapshot's) or an erase erased one (a body.erased
 * appended since `seen`, the log's size the last check saw, names an
 * event below `below`). The export and the segment writer check this. */
struct ldg_window_check {
    uint64_t horizon; /* the first snapshot's horizon seq (0: never pruned) */
    uint64_t below;   /* the reader's checkpoint size */
    uint64_t seen;    /* body.erased events from here on are looked at;
                         raised to t's size once they are */
    /* on LDG_ENOTFOUND: the horizon now (moved: a prune), else the event
     * erased and the body.erased that did it */
    uint64_t pruned_to, erased, erased_by;
};
/* @return 0 (nothing the reader needs changed); LDG_ENOTFOUND (a prune or
 * an erase did, c says which); an ldg_error reading (the ledger's message
 * names it). Cost: a read of the horizon, an index step and a body per
 * body.erased appended since the last check. */
int ldg_window_check(struct ldg_txn *t, struct ldg_window_check *c);

/* The event a body.erased at seq names (its body's "target_seq") into
 * *target. @return 0; 1 (seq's own body is erased, or names none); an
 * ldg_error reading. Cost: a body read. */
int ldg_erasure_target(struct ldg_txn *t, uint64_t seq, uint64_t *target);

/* A reader's windows, each a read snapshot of l, with snapshot(ctx, 1)
 * told before one begins and snapshot(ctx, 0) once it has ended (NULL:
 * nobody told; a CLI holds back ctrl-Z in between). The caller fills l,
 * snapshot, snapshot_ctx and, before the second window, wc; t is the
 * window's transaction (owned here: NULL between windows). */
struct ldg_window {
    struct ldg_ledger *l;
    void (*snapshot)(void *ctx, int held);
    void *snapshot_ctx;
    struct ldg_txn *t;
    struct ldg_window_check wc;
};
/* Begins a window. @return 0 (w->t set); an ldg_error (w->t NULL). */
int ldg_window_begin(struct ldg_window *w);
/* Ends the window, if one is open (w->t NULL after). */
void ldg_window_end(struct ldg_window *w);
/* Begins the next window (after ldg_window_end) and checks it
 * (ldg_window_check on w->wc). @return 0; LDG_ENOTFOUND (a prune or an
 * erase since, named on l as happening "while DOING; nothing was written:
 * run it again"); another ldg_error, named on l. The window stays open
 * (to be ended) whenever w->t is set. */
int ldg_window_next(struct ldg_window *w, const char *doing);

/* Prune (horizon.c; retention/ calls it): in the write transaction t,
 * signs and stores the horizon record for hz (a stored checkpoint's size,
 * after any earlier horizon, within the log; LDG_EINVAL naming why
 * otherwise) with the archive's SHA-256 and the projections' state digest
 * at hz, then removes the entries, bodies and seals of the events before
 * hz and their keys in every index. The tree, checkpoints and key
 * registry stay; at store layout 9, but for the level-0 hash tiles
 * wholly before the one holding event hz-1 (ldg_tree_kept_from), which
 * only proofs of pruned events need. Needs the log key's secret (LDG_EKEY).
 * When the earlier horizon record names the same archive (a prune made in
 * steps, a commit each), the record's "first" is that record's: the archive's
 * first event. */
struct ldg_prune_stats {
    uint64_t from, to; /* events [from, to) removed */
    uint64_t entries, bodies, seals, index_keys;
    uint64_t tiles; /* layout 9: level-0 hash tiles dropped */
};
int ldg_prune_txn(struct ldg_txn *t, uint64_t hz, const uint8_t archive[32],
                  const uint8_t state[32], uint64_t now_ns,
                  struct ldg_prune_stats *st);
/* The write transaction of an open all-or-nothing batch (so a module can
 * change more in the same commit): 0 with *out; at store layout 9 the
 * batch moves to LMDB first, the intake's tail applied, which can fail
 * (LDG_EFULL: no room, said on l; the batch is then dead, as after any
 * failure, LDG_EINVAL). */
int ldg_batch_txn(struct ldg_batch *b, struct ldg_txn **out);
/* Adds the prune's ledger.pruned event (refused on every other path). */
int ldg_batch_add_pruned(struct ldg_batch *b, const struct ldg_event_in *ev,
                         uint64_t *seq);
/* A module's own change in the batch's transaction failed with rc: the
 * batch is dead (only ldg_batch_free is left), and after LDG_EFULL free
 * grows the map for a retry, as after a failed ldg_batch_add. */
void ldg_batch_fail(struct ldg_batch *b, int rc);
/* Commits what a module changed in the batch's transaction although no
 * event was added (a step of a prune that is not its last): no checkpoint
 * is written, the log's size stays. With events added it is
 * ldg_batch_commit. @return 0; the codes of ldg_batch_commit (LDG_EFULL:
 * free grows the map; LDG_ETXNFULL: the change is too large for one
 * transaction). */
int ldg_batch_commit_changes(struct ldg_batch *b);

/* Applier: a module's fold over new events, run inside the append's write
 * transaction, after the entry is stored, in sequence order. body is the
 * event's body (borrowed). A failing applier aborts the whole commit. */
struct ldg_applier {
    const char *name;
    int (*apply)(void *ctx, struct ldg_txn *t, const struct ldg_event *ev,
                 const json_t *body);
    /* Optional: apply for an event whose body the writer holds only as
     * its stored record (the bulk writer keeps no JSON tree of an event
     * in flight): rec as ldg_body_view_set_record takes it, valid for the
     * call. 1: it cannot be read in place, call apply with the body
     * decoded instead (as it also is for an applier without this). */
    int (*apply_record)(void *ctx, struct ldg_txn *t,
                        const struct ldg_event *ev, const uint8_t *rec,
                        size_t len);
    /* Optional: called once per commit group, after the last event and
     * after the checkpoint of the new size was stored, still inside the
     * transaction (e.g. to sign a projection note for that size). */
    int (*at_commit)(void *ctx, struct ldg_txn *t, uint64_t size);
    void *ctx;
};
/* The signed note an applier's at_commit makes for log size `size` (the
 * projection note). _carry: when t is the transaction of an ack group at
 * store layout 9, the group's intake frame carries the note (it is
 * signed once, before the ack, and stored as signed when the frame is
 * applied); for any other t nothing. 0; LDG_EINVAL (size is not t's, or
 * a second note); LDG_ETOOBIG; LDG_ENOMEM. _carried: 1 with the note
 * (len bytes, no NUL; valid during at_commit) that the intake frame being
 * applied or replayed in t carries for size, else 0. */
int ldg_txn_note_carry(struct ldg_txn *t, uint64_t size, const char *note,
                       size_t len);
int ldg_txn_note_carried(struct ldg_txn *t, uint64_t size, const char **note,
                         size_t *len);
/* During at_commit for a frame that carries a note: the size of the frame
 * applied just before it in t, whose note this one supersedes (a
 * transaction that applies several frames keeps the last one's note:
 * some 930 B an event less in data.mdb for lone events), else 0. */
uint64_t ldg_txn_note_superseded(struct ldg_txn *t);
/* Registers an applier on this handle (at most 16). */
int ldg_applier_add(struct ldg_ledger *l, const struct ldg_applier *a);
/* Was l opened with LDG_RDONLY (it takes no append, so an applier added
 * to it only folds what its read transactions replay)? 1 if so, 0 if not
 * (or l NULL). */
int ldg_read_only(const struct ldg_ledger *l);

/* ------------------------------------------------------------- verify -- */

/*
 * Verification remembers what it found. ldg_verify reads only (one read
 * snapshot) and records its result afterwards, when the handle is
 * writable and LDG_VERIFY_NOSAVE is not set (report->recorded says so):
 *   - a failure is kept as a finding (first bad seq, when, what); while it
 *     stands every ldg_verify but a full one from 0 fails with it
 *     (LDG_ETAMPER, report->finding_stands), even if the events it checks
 *     hold;
 *   - a full verification that passes clears the finding and is kept
 *     (size and time) as the last full verification;
 *   - any pass advances the verified position (size and root).
 * On a read-only handle (LDG_RDONLY: an auditor's write-protected copy)
 * nothing is written; ldg_verify_record(l, report) writes the same later
 * through a writable handle, if there is one.
 */
int ldg_verify_record(struct ldg_ledger *l,
                      const struct ldg_verify_report *report);

/* Vouching for single events, for paths that hand them out as evidence
 * (export): each is checked as ledger verify would check it, without a
 * pass over the whole log. ldg_vouch_new reads the key history from the
 * log's own key events (found through the type index; each decoded
 * canonically, signed by the log key, its body matching its commitment),
 * never from the key registry, and the body.erased targets. Valid while t
 * lives; one thread at a time. */
struct ldg_vouch;
int ldg_vouch_new(struct ldg_vouch **out, struct ldg_txn *t);
/* Event seq: the entry decodes canonically and carries seq; its leaf is
 * the stored tree's leaf (so proofs from the stored tree are about it);
 * prev is the stored leaf of seq - 1; the signature verifies with a key
 * the key events made valid at seq; the body matches its commitment, or
 * is absent and named by a body.erased. 0, LDG_ETAMPER with why ("event
 * 41: ..."), or an I/O code. Cost: about one signature check. */
int ldg_vouch_event(struct ldg_vouch *v, uint64_t seq, char *why, size_t cap);
/* The same for n events (any order), signatures checked on threads (0 =
 * one per CPU, at most 16), the rest on the calling thread. The failure
 * reported is the first of seqs in order among those found. Memory:
 * about 4096 decoded events at a time. */
int ldg_vouch_events(struct ldg_vouch *v, const uint64_t *seqs, size_t n,
                     unsigned threads, char *why, size_t cap);
/* Reads from t from now on (a later snapshot of the same store, for a
 * reader that reads in windows): the key history and the erased bodies
 * stay those of the first snapshot; the caller checks that no prune nor
 * erase came between (export/write.c). */
void ldg_vouch_rebind(struct ldg_vouch *v, struct ldg_txn *t);
void ldg_vouch_free(struct ldg_vouch *v);

/* ------------------------------------------------------------ utilities -- */

void ldg_sha256(uint8_t out[32], const void *p, size_t n);
/* Incremental SHA-256, for data that is streamed rather than held (the
 * bundle reader hashes members as they decompress). The state is an
 * opaque, suitably aligned buffer so this header need not include
 * <nettle/sha2.h>; crypto.c checks the size. */
struct ldg_sha256_ctx {
    _Alignas(16) unsigned char opaque[128];
};
void ldg_sha256_init(struct ldg_sha256_ctx *c);
void ldg_sha256_update(struct ldg_sha256_ctx *c, const void *p, size_t n);
void ldg_sha256_final(struct ldg_sha256_ctx *c, uint8_t out[32]);
/* SHA-256 of everything readable from fd, streamed through a 1 MiB buffer
 * (Nettle, with the CPU's SHA extensions where it has them). *bytes (may
 * be NULL) gets the count hashed. progress, if set, is called about every
 * 64 MiB and at the end with (done, total) where total is size_hint.
 * Returns 0, LDG_EIO on a read error, LDG_ENOMEM. */
int ldg_sha256_fd(int fd, uint8_t out[32], uint64_t *bytes, uint64_t size_hint,
                  void (*progress)(void *ctx, uint64_t done, uint64_t total),
                  void *progress_ctx);
/* ldg_hex and ldg_unhex: util/util.h. */
/* Standard base64 with padding. out needs ((n+2)/3)*4+1 bytes. */
void ldg_base64(char *out, const uint8_t *p, size_t n);
/* Decodes standard padded base64 of exactly n bytes. */
int ldg_unbase64(uint8_t *out, size_t n, const char *b64, size_t b64len);

/* Needles for a byte prefilter over stored body records (a query's
 * body.X= terms, with ldg_body_record_json_append's record bytes): a
 * record stored uncompressed contains ldg_body_needle_name(name) if it
 * has a top-level field `name`, and ldg_body_needle_value(v) if some field
 * holds the JSON value v. Without them the record cannot match; with them
 * it still has to be decoded to be sure. *out malloc'd. LDG_ETOOBIG for a
 * value encoding past 4096 bytes. */
int ldg_body_needle_name(const char *name, uint8_t **out, size_t *len);
int ldg_body_needle_value(const json_t *v, uint8_t **out, size_t *len);

#include "ledger/module_segment.h" /* segments */

#endif
