/*
 * epoch_int.h — forward-secure epoch keys, internal to ledger/ (issue 65;
 * FORMAT.md 5.1; docs/EPOCHS.md).
 *
 * A key whose secret the box holds seals with an epoch key that evolves,
 * and whose past secrets are destroyed. The epoch keys of one box-held key
 * are the leaves of a certification tree (MMM "sum composition") of depth
 * 32 over time periods of a fixed length L from a time T0:
 *
 *   level 0          anchor (its secret destroyed at once)
 *   level l          node (l, i) covers periods [i·2^(32−l), (i+1)·2^(32−l))
 *   level 32         leaf p: the key of period p, sub-epoch 0
 *
 * A node, when made, makes its two children's key pairs, signs a cert of
 * their public keys, and its secret is destroyed. The box keeps the
 * current epoch's secret and the secrets of the pending right siblings of
 * the current path (all of them for later periods). Within a period,
 * `ledger keys advance` makes sub-epochs: key (p, j) signs a link to a
 * fresh key (p, j+1) with its start time, and is destroyed.
 *
 * The rule that makes the past safe: an epoch key has a start time
 * (T0 + p·L for sub-epoch 0, the link's time for j > 0), and an event it
 * seals must have ts ≥ that start. Whoever takes the box holds only keys
 * whose start is after every event acked before the last advance.
 *
 * The state of one tree lives in DIR/keys/NAME.epochs: two slots of
 * LDG_EPOCH_SLOT bytes, each the whole state with a SHA-256, overwritten in
 * place (never a new file renamed over the old: the old blocks would keep
 * the secret). The slot with the highest generation wins.
 */
#ifndef LDG_EPOCH_INT_H
#define LDG_EPOCH_INT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ledger/module.h"

#define LDG_EPOCH_DEPTH 32    /* levels of the tree: 2^32 periods */
#define LDG_EPOCH_SUBS_MAX 16 /* sub-epochs in one period, after 0 */
#define LDG_EPOCH_SLOT 8192   /* bytes in a slot of the state file */
#define LDG_EPOCH_LEN_MIN_NS 1000000000ull        /* 1 s */
#define LDG_EPOCH_LEN_MAX_NS 31622400000000000ull /* 366 days */
#define LDG_EPOCH_LEN_DEFAULT_NS 60000000000ull   /* 60 s, unasked */

#define LDG_EPOCH_CERT_CTX "ledger/epoch-cert/v1"
#define LDG_EPOCH_LINK_CTX "ledger/epoch-link/v1"
/* Bytes signed (after the context and its NUL). */
#define LDG_EPOCH_CERT_MSG 117
#define LDG_EPOCH_LINK_MSG 96

/* What every signature of one tree binds: the anchor and the periods. */
struct ldg_epoch_params {
    uint8_t anchor[32]; /* the root's public key */
    uint64_t t0_ns;     /* period 0 begins (ns since the Unix epoch) */
    uint64_t len_ns;    /* a period's length */
};

/* cert(l, i): node (l, i)'s signature over its children's public keys. */
struct ldg_epoch_cert {
    uint8_t left[32], right[32];
    uint8_t sig[64];
};

/* link (p, j): key (p, j−1)'s signature over key (p, j) and its start. */
struct ldg_epoch_link {
    uint64_t start_ns;
    uint8_t pub[32];
    uint8_t sig[64];
};

/* An epoch: period and sub-epoch. */
struct ldg_epoch_id {
    uint32_t period;
    uint32_t sub;
};

/* One tree's state: secrets included, so it lives only in sodium_malloc
 * memory (ldg_epoch_state_free wipes it). */
struct ldg_epoch_state {
    struct ldg_epoch_params par;
    uint64_t gen; /* generation of the slot it was read from or written to */
    struct ldg_epoch_id cur;
    uint8_t cur_seed[32]; /* secret of key (period, sub) */
    uint8_t cur_pub[32];
    /* pend[l−1]: the secret seed of the right sibling at level l (1..32)
     * of the current path, when the path goes left there; zeros else. */
    uint8_t pend[LDG_EPOCH_DEPTH][32];
    /* path[l]: cert(l, period >> (32 − l)), l = 0..31. */
    struct ldg_epoch_cert path[LDG_EPOCH_DEPTH];
    /* links[j−1] made key (period, j), j = 1..sub. */
    struct ldg_epoch_link links[LDG_EPOCH_SUBS_MAX];
};

/* ------------------------------------------------ public-data functions -- */

/* The period of time ts_ns: 0 and *p, or LDG_EINVAL when ts_ns is before
 * T0 or the period would not fit in 32 bits. */
int ldg_epoch_period(const struct ldg_epoch_params *par, uint64_t ts_ns,
                     uint32_t *p);
/* The bytes cert(level, index) signs (LDG_EPOCH_CERT_MSG), after the
 * context LDG_EPOCH_CERT_CTX and its NUL:
 * anchor[32] ‖ u64be t0 ‖ u64be len ‖ u8 level ‖ u32be index ‖
 * left[32] ‖ right[32]. */
void ldg_epoch_cert_msg(uint8_t out[LDG_EPOCH_CERT_MSG],
                        const struct ldg_epoch_params *par, unsigned level,
                        uint32_t index, const uint8_t left[32],
                        const uint8_t right[32]);
/* The bytes link (period, sub) signs (LDG_EPOCH_LINK_MSG), after
 * LDG_EPOCH_LINK_CTX and its NUL: anchor[32] ‖ u64be t0 ‖ u64be len ‖
 * u32be period ‖ u32be sub ‖ u64be start ‖ pub[32]. */
void ldg_epoch_link_msg(uint8_t out[LDG_EPOCH_LINK_MSG],
                        const struct ldg_epoch_params *par, uint32_t period,
                        uint32_t sub, uint64_t start_ns, const uint8_t pub[32]);
/* Checks that epoch (period, sub) is certified from the anchor: path[l]
 * is cert(l, period >> (32 − l)) signed by the node the previous cert (or
 * the anchor) names, and links[0..sub−1] each signed by the key before it,
 * with starts strictly increasing inside the period: the check a whole
 * extension gets from the anchor (ldg_epoch_chain_step, which it calls).
 * On success *pub and *start_ns (may be NULL) receive the epoch key and
 * its start. @return 0; LDG_EBADSIG naming the level or link in err;
 * LDG_EINVAL (sub > LDG_EPOCH_SUBS_MAX); LDG_ENOMEM. Cost: 32 + sub
 * Ed25519 checks. */
int ldg_epoch_verify(const struct ldg_epoch_params *par, struct ldg_epoch_id e,
                     const struct ldg_epoch_cert path[LDG_EPOCH_DEPTH],
                     const struct ldg_epoch_link *links, uint8_t pub[32],
                     uint64_t *start_ns, char *err, size_t errcap);
/* The start of epoch e given its links (links[e.sub−1] for e.sub > 0). */
uint64_t ldg_epoch_start(const struct ldg_epoch_params *par,
                         struct ldg_epoch_id e,
                         const struct ldg_epoch_link *links);

/* ----------------------------------------------------------- the state -- */

/* Makes a new tree in memory: a fresh anchor, the path to period 0
 * (32 certs), the anchor's secret wiped. t0_ns, len_ns as above.
 * @return 0 with *out (ldg_epoch_state_free); LDG_EINVAL (len outside
 * [LDG_EPOCH_LEN_MIN_NS, LDG_EPOCH_LEN_MAX_NS]); LDG_ENOMEM. */
int ldg_epoch_state_new(struct ldg_epoch_state **out, uint64_t t0_ns,
                        uint64_t len_ns);
/* The same from a given anchor seed (test vectors only). */
int ldg_epoch_state_from_seeds(struct ldg_epoch_state **out,
                               const uint8_t anchor_seed[32], uint64_t t0_ns,
                               uint64_t len_ns,
                               void (*rnd)(void *ctx, uint8_t seed[32]),
                               void *ctx);
/* Wipes and frees. NULL-safe. */
void ldg_epoch_state_free(struct ldg_epoch_state *s);

/* Moves s, in memory, to the epoch whose start is at ts_ns: the period of
 * ts_ns when that is later than the current one (the nodes on the path
 * made, the pending secrets of skipped periods and the old secret wiped),
 * else a new sub-epoch of the current period starting at ts_ns (a link).
 * @return 0; LDG_EINVAL (ts_ns not after the current epoch's start, or
 * beyond the tree); LDG_EFULL (LDG_EPOCH_SUBS_MAX sub-epochs in this
 * period already). s is unchanged on failure. */
int ldg_epoch_advance(struct ldg_epoch_state *s, uint64_t ts_ns);
/* The same with seeds from rnd (test vectors only); NULL: random. */
int ldg_epoch_advance_with(struct ldg_epoch_state *s, uint64_t ts_ns,
                           void (*rnd)(void *ctx, uint8_t seed[32]), void *ctx);
/* The current epoch key (secret included; ldg_key_free), named name.
 * @return 0; LDG_ENOMEM. */
int ldg_epoch_key(const struct ldg_epoch_state *s, const char *name,
                  struct ldg_key **out);
/* Checks the whole state: its path and links certified from the anchor,
 * the current secret and every pending secret giving the public key the
 * certs name. @return 0; LDG_ECORRUPT naming what in err; LDG_ENOMEM. */
int ldg_epoch_state_check(const struct ldg_epoch_state *s, char *err,
                          size_t errcap);

/* ---------------------------------------------------------- the file -- */

/* Creates path (which must not exist) holding s in both slots: mode 0600,
 * written, fdatasync'd, the directory synced. @return 0; LDG_EEXIST;
 * LDG_EIO (message in err). */
int ldg_epoch_file_create(const char *path, struct ldg_epoch_state *s,
                          char *err, size_t errcap);
/* Reads path: each slot's checksum and fields checked, the valid one of
 * highest generation taken; a slot that is torn, stale or other than it
 * is overwritten with it in place and synced (recovery after a power
 * cut), so that one current secret is left. Refuses a file that is not
 * this user's regular 0600 file of one link.
 * @return 0 with *out; LDG_ENOTFOUND (no file); LDG_ECORRUPT (no valid
 * slot); LDG_EKEY (modes, owner, links); LDG_EIO. */
int ldg_epoch_file_load(const char *path, struct ldg_epoch_state **out,
                        char *err, size_t errcap);
/* The same for a reader that does not hold the sealers' lock (`keys
 * epochs`, the doctor): opened read-only, the winning slot taken and the
 * other left as it is (a recovery's write could race an advance under
 * way); *differ (may be NULL) 1 when the slots differ, so that a load
 * under the lock would overwrite one (it may hold a past secret). */
int ldg_epoch_file_read(const char *path, struct ldg_epoch_state **out,
                        int *differ, char *err, size_t errcap);
/* Writes s (generation s->gen + 1) into the slot not holding the current
 * state, fdatasync, then over the other slot, fdatasync: a power cut
 * anywhere leaves one slot with the old state or the new whole. fail_after
 * (tests; 0: none) stops after that many of the four steps (write, sync,
 * write, sync) to simulate a cut. The file stays open in s (from
 * ldg_epoch_file_load or the first store) until s is freed; each store
 * checks first that the path still names it, with its mode and one link
 * (else opens what the path names). @return 0; LDG_EKEY (modes, owner,
 * links); LDG_ECORRUPT (size); LDG_ENOTFOUND; LDG_EIO. */
int ldg_epoch_file_store(const char *path, struct ldg_epoch_state *s,
                         int fail_after, char *err, size_t errcap);
/* 1 when s (from ldg_epoch_file_load or a store) is still what path
 * holds: the file s keeps open is the one path names, fit (file_ok), and
 * both its slots carry the checksum of the slot s was loaded from or last
 * stored; 0 otherwise (changed by another process, replaced, or any
 * error: load it again, which says what is wrong). Reads 64 bytes
 * through the kept descriptor: no file is opened. */
int ldg_epoch_file_same(struct ldg_epoch_state *s, const char *path);
/* The bytes of a slot (LDG_EPOCH_SLOT) for s at generation gen, into out
 * (sodium_malloc'd by the caller: it holds secrets). */
void ldg_epoch_slot_encode(uint8_t *out, const struct ldg_epoch_state *s,
                           uint64_t gen);
/* Decodes and checks one slot. @return 0; LDG_ECORRUPT (torn, zero,
 * checksum, fields). */
int ldg_epoch_slot_decode(const uint8_t *in, struct ldg_epoch_state *s);

/* ---------------------------------------------------------- epoch seals -- */

/* A seal by a key with an anchor carries, after its record's signature,
 * its epoch part (FORMAT.md 5.1):
 *
 *   u32be period ‖ u32be sub ‖ sig[64] ‖ u8 l0 ‖ u8 j0 ‖
 *   certs of levels l0..31 (128 bytes each) ‖ links j0+1..sub (104 each)
 *
 * sig = Ed25519(epoch key, LDG_EPOCH_SEAL_CTX ‖ 0x00 ‖ u32be period ‖
 * u32be sub ‖ seal-map). The certs and links are those the log has not
 * carried yet for this key: from where the path to `period` parts from
 * the key's previous epoch in the log (all 32 for its first), and the
 * links after its previous sub-epoch in the same period. */
#define LDG_EPOCH_SEAL_CTX "ledger/seal-epoch/v1"
#define LDG_EPOCH_EXT_MAX                                                      \
    (4 + 4 + 64 + 1 + 1 + LDG_EPOCH_DEPTH * 128 + LDG_EPOCH_SUBS_MAX * 104)

struct ldg_epoch_ext {
    uint32_t period, sub;
    uint8_t sig[64];
    uint8_t l0, j0;
    const uint8_t *certs; /* (32 − l0) × 128 bytes, borrowed */
    const uint8_t *links; /* (sub − j0) × 104 bytes, borrowed */
};

/* Strict decode: the length must be exactly what l0, j0 and sub say.
 * @return 0; LDG_ECORRUPT. x borrows from p. */
int ldg_epoch_ext_decode(const uint8_t *p, size_t n, struct ldg_epoch_ext *x);
/* Encodes s's current epoch with sig and the certs of levels l0..31 and
 * links j0+1..sub into out (cap >= LDG_EPOCH_EXT_MAX); returns the
 * length. */
size_t ldg_epoch_ext_encode(uint8_t *out, const struct ldg_epoch_state *s,
                            const uint8_t sig[64], unsigned l0, unsigned j0);
/* The epoch signature of a seal map by s's current key. */
int ldg_epoch_seal_sign(const struct ldg_epoch_state *s, const uint8_t *map,
                        size_t n, uint8_t sig[64]);
/* @return 0 when sig is epoch e's key pub's over the seal map;
 * LDG_EBADSIG. */
int ldg_epoch_seal_verify(const uint8_t pub[32], struct ldg_epoch_id e,
                          const uint8_t *map, size_t n, const uint8_t sig[64]);
/* Checkpoints (FORMAT.md 5.1, "The epoch signature of a checkpoint"):
 * besides the log key's signature line, a checkpoint of a log key with
 * epochs carries the line
 *
 *   — <origin>/epoch base64(key ID ‖ ext)
 *
 * key ID = SHA-256(<origin>/epoch ‖ 0x0A ‖ 0xff ‖
 *                  "ledger/checkpoint-epoch/v1" ‖ anchor[32])[0:4]
 * ext    = a seal's epoch part (u32be p ‖ u32be j ‖ esig[64] ‖ u8 l0 ‖
 *          u8 j0 ‖ certs ‖ links), with
 * esig   = Ed25519(key (p, j), "ledger/checkpoint-epoch/v1" ‖ 0x00 ‖
 *                  u32be p ‖ u32be j ‖ the note's text)
 */
#define LDG_EPOCH_CHECKPOINT_CTX "ledger/checkpoint-epoch/v1"
#define LDG_EPOCH_NOTE_SUFFIX "/epoch"
/* The line's key name into name (cap >= LDG_ORIGIN_MAX + 7) and its key
 * ID. */
uint32_t ldg_epoch_note_key_id(const char *origin, const uint8_t anchor[32],
                               char *name, size_t cap);
/* esig over a checkpoint's text by s's current key / checked with epoch
 * e's key pub (0 or LDG_EBADSIG). */
int ldg_epoch_checkpoint_sign(const struct ldg_epoch_state *s, const char *text,
                              size_t n, uint8_t sig[64]);
int ldg_epoch_checkpoint_verify(const uint8_t pub[32], struct ldg_epoch_id e,
                                const char *text, size_t n,
                                const uint8_t sig[64]);
/* The level where the paths to periods a < b part (1..32). */
unsigned ldg_epoch_part_level(uint32_t a, uint32_t b);

/* What a verifier knows of one key's epochs, along the log in seq order:
 * the certs of the current path and the links of the current period,
 * every one checked from the anchor. */
struct ldg_epoch_chain {
    struct ldg_epoch_params par;
    int started;
    struct ldg_epoch_id cur;
    struct ldg_epoch_cert path[LDG_EPOCH_DEPTH];
    struct ldg_epoch_link links[LDG_EPOCH_SUBS_MAX];
    uint8_t pub[32];   /* the current epoch key */
    uint64_t start_ns; /* its start */
};

void ldg_epoch_chain_init(struct ldg_epoch_chain *c,
                          const struct ldg_epoch_params *par);
/* x checked whole from the anchor into *c: it must carry every cert and
 * link from the root (its WHAT, named in the error). 0, LDG_EBADSIG (not
 * whole, or a cert or link that does not verify: err says which). */
int ldg_epoch_whole_from_anchor(const uint8_t anchor[32], uint64_t t0_ns,
                                uint64_t period_ns,
                                const struct ldg_epoch_ext *x, const char *what,
                                struct ldg_epoch_chain *c, char *err,
                                size_t errcap);

/* Takes a seal's epoch part: the same epoch as the chain's, or a later
 * one whose certs and links, exactly those not carried before, verify
 * from what the chain knows (the anchor for the first). On success the
 * chain is at x's epoch (c->pub, c->start_ns). @return 0; LDG_EBADSIG
 * with err naming the epoch and what is wrong (an epoch that goes back,
 * certs or links missing, extra or forged). c is unchanged on failure. */
int ldg_epoch_chain_step(struct ldg_epoch_chain *c,
                         const struct ldg_epoch_ext *x, char *err,
                         size_t errcap);

/* The chain a horizon record keeps of key hk (FORMAT.md 6.2, "epoch"):
 * c from hk's anchor, stepped over its whole part when it has one (each
 * cert and link checked from the anchor; its signature is the pruned
 * seal's, not checked). @return 0; LDG_ENOTFOUND: the record keeps no
 * anchor of hk; LDG_EBADSIG with err. */
struct ldg_horizon_key;
/* hk's anchor, t0 and period as epoch params (hk anchored). */
void ldg_epoch_horizon_params(const struct ldg_horizon_key *hk,
                              struct ldg_epoch_params *par);
/* 1 when registry record r names the anchor horizon key hk keeps. */
struct ldg_epoch_rec;
int ldg_epoch_rec_is(const struct ldg_epoch_rec *r,
                     const struct ldg_horizon_key *hk);
int ldg_epoch_chain_from_horizon(const struct ldg_horizon_key *hk,
                                 struct ldg_epoch_chain *c, char *err,
                                 size_t errcap);

/* The epoch part of chain c's current epoch, whole (l0 = 0, j0 = 0: the
 * 32 certs of its path and its links 1..sub), with sig, into out (cap >=
 * LDG_EPOCH_EXT_MAX); returns the length. c must be started. */
size_t ldg_epoch_ext_encode_whole(uint8_t *out, const struct ldg_epoch_chain *c,
                                  const uint8_t sig[64]);

/* ---------------------------------------------- in the log (epoch_log.c) -- */

struct ldg_txn;
struct ldg_event;
struct ldg_seal;

/* In a commit's transaction, after its seals: when the log key's seals
 * are under epoch keys (the log has carried one), appends to the signed
 * checkpoint *note (text n bytes) the line of the epoch live now, with
 * the certs and links the log has not carried (FORMAT.md 5.1). 0 (no
 * line when there is nothing to carry it); LDG_EKEY (state file);
 * LDG_ENOMEM. */
int ldg_epoch_checkpoint_line(struct ldg_txn *t, const char *text, size_t n,
                              char **note);

/* Applies a key.anchored event in its append's transaction: the key's
 * registry record "epoch:" (refused, LDG_EBADINPUT, for a second anchor
 * of one key, an unknown key, or a malformed body). */
/* The fields of a key.anchored body: key_id (16 characters, copied with
 * its NUL into id), anchor, t0 and period_ns into par. 0, or -1 when one
 * is missing or of the wrong shape (the period's bounds and t0 against
 * the event's time are the caller's). */
int ldg_epoch_anchor_fields(const json_t *body, char id[LDG_KEYID_LEN + 1],
                            struct ldg_epoch_params *par);
int ldg_epoch_anchor_apply(struct ldg_txn *t, const struct ldg_event *ev,
                           const json_t *body);
/* The epoch part of the seal s of key (which has its secret), whose first
 * event is seal_seq (stored in t already): nothing (s->ext NULL) when the
 * key has no anchor before seal_seq; else the key's state file loaded,
 * advanced to the period of that event's time when it is later (stored
 * before anything is signed), the seal map signed by the epoch key, and
 * s->ext set to buf (cap >= LDG_EPOCH_EXT_MAX) with the certs and links
 * the log has not carried yet. @return 0; LDG_EKEY (state file missing,
 * another tree, behind the log, or an event before the epoch's start);
 * LDG_EIO. */
int ldg_epoch_seal(struct ldg_txn *t, const struct ldg_key *key,
                   uint64_t seal_seq, struct ldg_seal *s, uint8_t *buf,
                   size_t cap);
/* A seal stored (the append path, and a frame of the intake applied or
 * replayed: replayed 1): the log's record of its key's current epoch
 * follows its epoch part, when it has one, so what the log has carried is
 * known to every process from the seals alone; an epoch it opens is noted
 * for ldg_keys_epoch_due (when replayed, only while its period is not
 * over). 0; LDG_ECORRUPT. */
int ldg_epoch_seal_stored(struct ldg_txn *t, uint64_t seal_seq,
                          const struct ldg_seal *s, int replayed);
/* Fills, for each key of h anchored before hz, what the horizon record
 * keeps of its epochs (FORMAT.md 6.2, "epoch"): its anchor and its chain
 * at hz, walked along the seals from the ledger's current horizon (t
 * before the new record is put). A key whose chain an earlier prune did
 * not keep gets none. @return 0; LDG_ETAMPER (a seal's chain does not
 * hold: err names it); LDG_ENOMEM; store errors. */
struct ldg_horizon;
int ldg_epoch_horizon_keys(struct ldg_txn *t, uint64_t hz,
                           struct ldg_horizon *h);
/* The key registry's record of a key's epochs ("epoch:" key_id,
 * epoch_log.c): its anchor, the seq of its key.anchored, and the epoch
 * the log carries last (has: one did), opened at from_seq. */
struct ldg_epoch_rec {
    struct ldg_epoch_params par;
    uint64_t anchor_seq;
    int has;
    struct ldg_epoch_id e;
    uint64_t from_seq;
};
/* @return 0; LDG_ENOTFOUND (no anchor); LDG_ECORRUPT. */
int ldg_epoch_rec_get(struct ldg_txn *t, const char *key_id,
                      struct ldg_epoch_rec *r);
/* 1 when the body of a key.anchored names r's key (key_id), anchor, t0
 * and period; 0 otherwise. */
int ldg_epoch_rec_body_is(const json_t *body, const char *key_id,
                          const struct ldg_epoch_rec *r);
/* Where key key_id, anchored before horizon hz (its registry record r),
 * starts along the log after it: c = the chain the record keeps (0), or
 * none (1: a record by an earlier build, its certs gone with the pruned
 * seals). @return 0, 1; LDG_ETAMPER (with the ledger's error) when the
 * record's anchor is not r's or its chain does not hold. */
int ldg_epoch_chain_at_horizon(struct ldg_ledger *l,
                               const struct ldg_horizon *hz, const char *key_id,
                               const struct ldg_epoch_rec *r,
                               struct ldg_epoch_chain *c);
/* 1 when the key registry holds no anchor of hk's key, or the one the
 * horizon record keeps of it (hk anchored); else 0. */
int ldg_epoch_registry_agrees(struct ldg_txn *t,
                              const struct ldg_horizon_key *hk);
/* 1 when the registry says key_id was anchored before seq. */
int ldg_epoch_anchored_before(struct ldg_txn *t, const char *key_id,
                              uint64_t seq);
/* 1 when (k, v) is an "epoch:" registry record (its key id into key_id). */
int ldg_epoch_rec_ok(const uint8_t *k, size_t klen, size_t vlen, char *key_id);

/* epoch_log.c: 1 when l keeps key name's epoch state between
 * transactions (a daemon's: kept_prune wipes it once its file no longer
 * holds it or its period is over), with its generation and period; 0
 * when not. For the tests. */
int ldg_epoch_kept(struct ldg_ledger *l, const char *name, uint64_t *gen,
                   uint32_t *period);

/* epoch_log.c: the body of name's key.anchored event, an epoch state of
 * period_ns made (or one a failed anchor left taken again); period_ns 0
 * is ldg_keys_anchor's default; the caller's (ldg_keys_anchor,
 * key_events.c, appends it). */
int ldg_epoch_anchor_body(struct ldg_ledger *l, const char *name,
                          uint64_t period_ns, json_t **out);

/* From the text of /proc/self/mountinfo: whether the mount holding path
 * (absolute, no symbolic links) has "data=journal" among its super
 * options. @return 1 when it has, 0 when not, -1 when no mount holds it.
 * Lifetime: nothing borrowed. */
int ldg_mountinfo_data_journal(const char *mountinfo, const char *path);

#endif
