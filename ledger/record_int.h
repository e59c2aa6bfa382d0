/*
 * record_int.h — the codec part of ledger/ (tools/ledger_parts.txt, its
 * ground floor): entries and stamps, msgpack and JSON, fields, body
 * records and their dictionaries, the seals' accumulator. Its files
 * include this header and the codec part's own (codec_int.h, mp_int.h,
 * crypto_int.h, tlog_int.h, body_int.h); every part above reaches it
 * through the store's handle_int.h.
 */
#ifndef LDG_RECORD_INT_H
#define LDG_RECORD_INT_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/crypto_int.h"
#include "ledger/format.h"
#include "ledger/module.h"
#include "util/util.h"

/* ------------------------------------------------------------- codec.c -- */

/* Envelope fields to encode (strings NUL-terminated). */

struct ldg_envelope {
    uint64_t seq;
    uint64_t ts_ns;
    const char *type;
    const char *subject;
    const char *run; /* NULL or "" = absent */
    const char *actor;
    int has_parent;
    uint64_t parent;
    uint8_t body_root[32];
    /* format version 2 (any of these makes v = 2) */
    const char *id; /* NULL or "": absent */
    int has_time;
    uint64_t time_ns;
    const struct ldg_source *source; /* NULL: absent */
};

/*
 * Entry layout (see FORMAT.md):
 *
 *   +------+-----------------------+---------+----------+---------+---------+
 *   | 0x93 | event map (canonical) | 0xc4 20 | prev[32] | 0xc4 40 | sig[64] |
 *   +------+-----------------------+---------+----------+---------+---------+
 *
 * The signature covers LDG_CTX_EVENT ‖ 0x00 ‖ event map.
 * ldg_entry_encode appends 0x93 and the map to b and gives the map length;
 * ldg_entry_finish appends the trailer. LDG_ETOOBIG past LDG_ENTRY_MAX.
 */
struct ldg_buf;
int ldg_entry_encode(struct ldg_buf *b, const struct ldg_envelope *env,
                     size_t *map_len);
int ldg_entry_finish(struct ldg_buf *b, const uint8_t prev[32],
                     const uint8_t sig[64]);

/* Format version 2 entries (seal.c): 0x93 ‖ claim ‖ stamp ‖ 0xc4 0x20 ‖
 * prev. The stamp: canonical map { "digest": bin32, "leaf": uint, "seal":
 * uint, "seq": uint, "source": map (opt), "ts": uint }. */
struct ldg_stamp {
    uint8_t digest[32];
    uint64_t leaf, seal, seq, ts;
    const struct ldg_source *source; /* NULL: none */
};
/* Encodes a sealed entry from the claim bytes (as ldg_claim_encode wrote
 * them), the stamp and prev into out; LDG_ETOOBIG past LDG_ENTRY_MAX. */
int ldg_entry2_encode(uint8_t *out, size_t cap, size_t *len,
                      const uint8_t *claim, size_t claim_len,
                      const struct ldg_stamp *st, const uint8_t prev[32]);
/* Strict (canonical) decoder of a sealed entry: fills ev (sealed = 1,
 * signed_part = the claim) except ev->leaf. Checks the stamp's own
 * consistency (seal <= seq, leaf 0 exactly when seal == seq). 0,
 * LDG_ECORRUPT, LDG_EVERSION. */
int ldg_entry2_decode(const uint8_t *buf, size_t len, struct ldg_event *ev);
/* The display path's reader of a sealed entry (LDG_DECODE_TRUSTED): the
 * layout ldg_entry2_encode writes, read by position, with the same bounds
 * and text checks but any integer width; ev must be zeroed. 0, or -1 for
 * anything else (a source, another order): then ldg_entry2_decode. */
int ldg_entry2_decode_trusted(const uint8_t *buf, size_t len,
                              struct ldg_event *ev);
/* The same two readers of the stored form of a sealed entry (0x92 ‖
 * claim ‖ stamp, no prev: FORMAT.md 6.1), in place: the stamp with its
 * digest (layout 7) fills ev->digest; without it (layouts 5 and 6, and
 * inside layout 8's record, whose digest codec_stored.c puts in) they
 * set ev->digest_derived and leave ev->digest zero. ev->prev is left zero
 * and ev->entry NULL; the trusted one zeroes nothing (ev must be zeroed)
 * and says -1 as above. */
int ldg_entry2_decode_stored(const uint8_t *buf, size_t len,
                             struct ldg_event *ev);
int ldg_entry2_decode_stored_trusted(const uint8_t *buf, size_t len,
                                     struct ldg_event *ev);
/* Appends stamp and prev to b (which holds 0x93 ‖ claim). */
int ldg_entry2_finish(struct ldg_buf *b, const struct ldg_stamp *st,
                      const uint8_t prev[32]);

/* A seal's tree grown one claim digest at a time (the right edge of the
 * RFC 6962 tree: O(log n) hashes, no memory per event). */
struct ldg_seal_acc {
    uint64_t count;
    int n;
    int level[64];
    uint8_t h[64][32];
};
void ldg_seal_acc_init(struct ldg_seal_acc *a);
void ldg_seal_acc_add(struct ldg_seal_acc *a, const uint8_t digest[32]);
/* The root of the digests added so far (count >= 1). */
void ldg_seal_acc_root(const struct ldg_seal_acc *a, uint8_t root[32]);

/* Canonical msgpack writer into a bounded buffer (util.h's ldg_buf). */
void ldg_mp_uint(struct ldg_buf *b, uint64_t v);
void ldg_mp_str(struct ldg_buf *b, const char *s, size_t n);
void ldg_mp_bin(struct ldg_buf *b, const void *p, size_t n);
void ldg_mp_map(struct ldg_buf *b, uint32_t n);
void ldg_mp_array(struct ldg_buf *b, uint32_t n);
void ldg_mp_json(struct ldg_buf *b, const json_t *v); /* canonical */

/* Decodes canonical msgpack into JSON. Non-canonical input (longer forms
 * than needed, unsorted or duplicate map keys, trailing bytes, non-string
 * map keys, bin/ext types) is LDG_ECORRUPT. */
int ldg_mp_to_json_strict(const uint8_t *p, size_t len, json_t **out);

/* Canonical msgpack of a JSON value (map keys sorted bytewise, shortest
 * integer forms, floats as float64). *out malloc'd. LDG_ETOOBIG beyond
 * max bytes. */
int ldg_json_to_msgpack(const json_t *v, size_t max, uint8_t **out,
                        size_t *len);
/* Decodes msgpack produced by ldg_json_to_msgpack back to JSON. */
int ldg_msgpack_to_json(const uint8_t *p, size_t len, json_t **out);

/* Body record payload: canonical map { name: [salt bin8(16) (0xc4 0x10), value]
 * }. */
int ldg_codec_fields_encode(struct ldg_buf *b, const struct ldg_field *f,
                            size_t n);
/* Decodes either payload shape (seeded 1: a seeded record's map of name
 * to value, FORMAT.md 4; the salts are then left zero). */
int ldg_codec_fields_decode_shape(const uint8_t *p, size_t len, int seeded,
                                  struct ldg_field **out, size_t *n);
/* Decodes an entry; flags as ldg_event_get_ex (TRUSTED leaves ev->leaf
 * zeroed for the caller to fill). */
/* codec_stored.c: decodes a record of db entries, a whole entry or store
 * layout 5's stored form (FORMAT.md 6.1), as ldg_event_decode_flags does a
 * whole one. A stored form is made whole with prev (the leaf hash of
 * seq-1), in a buffer of the calling thread: ev->entry is then NULL (the
 * strings and ev->signed_part point into rec), ev->digest the claim's, and
 * with prev NULL ev->prev and ev->leaf are left zero. */
int ldg_entry_decode_rec(const uint8_t *rec, size_t len, const uint8_t *prev,
                         struct ldg_event *ev, unsigned flags);
/* ldg_entry_decode_rec's flag beside LDG_DECODE_TRUSTED: a stored form's
 * claim digest is not computed (ev->digest zero), for the readers that
 * never look at it. */
#define LDG_DECODE_NO_DIGEST (1u << 8)
int ldg_event_decode_flags(const uint8_t *buf, size_t len, struct ldg_event *ev,
                           unsigned flags);
/* Appends a body payload (seeded 0: the map of [salt, value]) as compact
 * JSON text. */
int ldg_codec_fields_json_text_shape(const uint8_t *p, size_t len, int seeded,
                                     struct ldg_buf *b);
/* Body record as JSON text (s: scratch to inflate into, NULL: its own). */
int ldg_body_rec_json_text(const struct ldg_dicts *d, const uint8_t *rec,
                           size_t len, size_t max, struct ldg_inflate *s,
                           struct ldg_buf *b);
/* Byte slices of one field inside a canonical payload: the encoded name
 * (with its str header), the salt, and the encoded value. */
struct ldg_field_slice {
    const uint8_t *name_enc;
    size_t name_enc_len;
    const uint8_t *salt;
    const uint8_t *value_enc;
    size_t value_enc_len;
};
/* Checks the payload (either shape) is canonical and slices it; a seeded
 * map's slices have salt NULL (derived). *out malloc'd. */
int ldg_codec_fields_slices_shape(const uint8_t *p, size_t len, int seeded,
                                  struct ldg_field_slice **out, size_t *n);
/* codec_canon.c: the same check on the bytes, in one pass, without
 * allocating: 0 and *n fields (the first cap of them sliced into out, if
 * out is not NULL), or LDG_ECORRUPT. */
int ldg_codec_fields_walk_shape(const uint8_t *p, size_t len, int seeded,
                                struct ldg_field_slice *out, size_t cap,
                                size_t *n);
/* codec_fields.c: the same check made by msgpack-c (unpack, pack again,
 * compare): the reference the differential fuzz target compares with. */
int ldg_codec_fields_check_repack(const uint8_t *p, size_t len);

/* ------------------------------------------------------------ body.c -- */

/* A prepared body: the canonical stored record and its commitment. */
struct ldg_body_rec {
    uint8_t *rec; /* flag byte ‖ payload (possibly zstd) */
    size_t rec_len;
    uint8_t root[32];
    /* a compressed record's uncompressed form (0x00 or 0x02), kept for the
     * commit's readers (projections) so they need not inflate it; NULL
     * when rec is not compressed. When set, raw is the allocation and rec
     * lies in it, raw_len bytes on (ldg_body_rec_release frees both). */
    uint8_t *raw;
    size_t raw_len;
};
/* Builds the salted record (legacy: the record of layouts 1 to 4, 0x00 or
 * 0x01) of a body for event seq. salt_seed NULL = random salts, else the
 * fixed-seed vectors' (FORMAT.md 4). */
int ldg_body_prepare(const json_t *body, uint64_t seq, const uint8_t *salt_seed,
                     size_t max, struct ldg_body_rec *out, char *err,
                     size_t errcap);
/* A compression dictionary for writers (body.c): made from a dictionary's
 * bytes as stored, with its id. */
struct ldg_cdict;
int ldg_cdict_new(struct ldg_cdict **out, unsigned id, const uint8_t *p,
                  size_t len);
unsigned ldg_cdict_id(const struct ldg_cdict *c);
void ldg_cdict_free(struct ldg_cdict *c);
/* The salted record with the salts given: salts maps each field name to 32
 * hex digits (a sealed batch's, checked by ldg_sealed_batch_parse).
 * legacy: layout 1 to 4's record; else layout 5's (0x00, or 0x04 with cd's
 * dictionary, or none, when that is smaller). */
int ldg_body_prepare_salts(const json_t *body, const json_t *salts,
                           const struct ldg_cdict *cd, int legacy, size_t max,
                           struct ldg_body_rec *out, char *err, size_t errcap);
/* A salted map (p, n bytes) as record 0x04 compressed with cd, into out
 * (cap bytes): 1 with *out_len, or 0 when that would not be smaller than
 * have bytes (the record it would replace), not fit in cap, or the map is
 * too small to try (32 bytes or less; 512 without a dictionary). */
int ldg_body_pack_salted(const uint8_t *p, size_t n, const struct ldg_cdict *cd,
                         size_t have, uint8_t *out, size_t cap,
                         size_t *out_len);
/* A seeded record of kind (LDG_BODY_SEEDED_AES, what layout 6 appends;
 * LDG_BODY_SEEDED, layout 5's, for the tests of reading it): 0x05 (0x02),
 * or 0x06 (0x03) compressed with cd's dictionary (or none, past 512
 * bytes) when that is smaller. */
int ldg_body_prepare_seeded(const json_t *body, uint8_t kind,
                            const uint8_t seed[LDG_SEED_LEN],
                            const struct ldg_cdict *cd, size_t max,
                            struct ldg_body_rec *out, char *err, size_t errcap);
void ldg_body_rec_release(struct ldg_body_rec *b);

/* A record's map, opened (inflated into the caller's scratch when
 * compressed): map/len the canonical map, seed the record's seed (a
 * seeded map: name to value) or NULL (a salted map: name to [salt,
 * value]), dict the dictionary its frame names (0: none), kind the
 * record's uncompressed kind (0x00, 0x02 or 0x05: how a seed's salts are
 * derived). */
struct ldg_payload {
    const uint8_t *map;
    size_t len;
    const uint8_t *seed;
    uint8_t kind;
    unsigned dict;
};
int ldg_body_payload(const struct ldg_dicts *d, const uint8_t *rec, size_t len,
                     size_t max, struct ldg_inflate *s, struct ldg_payload *pl);
/* A body record in its uncompressed kind (0x00 salted map, 0x02 or 0x05
 * seed ‖ seeded map): *out is rec itself when it is one, else the record
 * inflated (through scratch s) and rebuilt in o, valid until o's next
 * use; it commits to the same fields as rec. What a segment carries (its
 * stream compresses it; its reader needs no dictionaries). */
int ldg_body_rec_raw(const struct ldg_dicts *d, const uint8_t *rec, size_t len,
                     size_t max, struct ldg_inflate *s, struct ldg_inflate *o,
                     const uint8_t **out, size_t *olen);
/* Decodes a stored body record into fields (sorted by name), with their
 * salts and digests. */
int ldg_body_decode(const struct ldg_dicts *d, const uint8_t *rec, size_t len,
                    size_t max, struct ldg_field **out, size_t *n);
/* Decodes a stored body record into a JSON object. */
int ldg_body_decode_json(const struct ldg_dicts *d, const uint8_t *rec,
                         size_t len, size_t max, json_t **out);
/* Recomputes the commitment of a stored body record (_s: inflating into
 * the caller's scratch, for a scan). */
int ldg_body_rec_root(const struct ldg_dicts *d, const uint8_t *rec, size_t len,
                      size_t max, uint8_t root[32]);
int ldg_body_rec_root_s(const struct ldg_dicts *d, const uint8_t *rec,
                        size_t len, size_t max, struct ldg_inflate *s,
                        uint8_t root[32]);
/* The same from a payload ldg_body_payload opened. With b (verify
 * --full's ix.body keys), b is made a view of pl's fields from the same
 * walk (ldg_body_view_from_slices; borrowed from pl's memory) and *viewed
 * says whether it could be: 1, or 0 (b has no fields: ask the strict
 * decoder). */
int ldg_body_payload_root(const struct ldg_payload *pl, uint8_t root[32],
                          struct ldg_body_view *b, int *viewed);
/* The highest id d holds (0: none). */
unsigned ldg_dicts_top(struct ldg_dicts *d);

/* Training a dictionary (body.c, FORMAT.md 4): the envelopes and bodies of
 * the window, then ldg_dict_train: *out (malloc'd) the dictionary with
 * that id, or LDG_ENOTFOUND when there is too little to learn from. */
struct ldg_train;
int ldg_train_new(struct ldg_train **out);
int ldg_train_envelope(struct ldg_train *t, const struct ldg_event *ev);
int ldg_train_body(struct ldg_train *t, const struct ldg_dicts *d,
                   const uint8_t *rec, size_t len, size_t max);
int ldg_dict_train(struct ldg_train *t, unsigned id, uint8_t **out,
                   size_t *len);
void ldg_train_free(struct ldg_train *t);
/* vocab.c: is s (n bytes) a word some enumeration of the vocabulary
 * lists? */
int ldg_vocab_enum_value(const char *s, size_t n);

/* vocab.c: a key.added's roles as a mask (NULL/empty: all), and whether a
 * mask allows a type. */
uint32_t ldg_roles_mask(const json_t *rl);
int ldg_roles_mask_allows(uint32_t mask, const char *type);

/* codec_view.c: splits a stored body record into b's fields. 0, or 1
 * when the record needs the strict decoder (compressed, unexpected). */
int ldg_body_view_from_record(struct ldg_body_view *b, const uint8_t *rec,
                              size_t len);
/* The same over a record's payload already opened (ldg_body_payload:
 * borrowed, as b's answers are, while pl's memory is): 0, or 1 when its
 * map is not one a view reads (then the strict decoder answers). */
int ldg_body_view_from_payload(struct ldg_body_view *b,
                               const struct ldg_payload *pl);
/* The same from the n field slices of a map a walk made (its names are
 * str values): 0, or 1 when b cannot hold them. */
int ldg_body_view_from_slices(struct ldg_body_view *b,
                              const struct ldg_field_slice *sl, size_t n);
/* Field name of b as ldg_body_view_str reads it (1, the slice in *str),
 * or as ldg_body_view_json reads an array (2, a new reference in *arr),
 * else 0 (absent, or another type: not made into JSON). For ix.body's
 * keys: one lookup a name. */
int ldg_body_view_str_or_array(const struct ldg_body_view *b, const char *name,
                               struct ldg_slice *str, json_t **arr);

const char *ldg_codec_lib_version(void); /* codec.c: msgpack-c */
const char *ldg_body_lib_version(void);  /* body.c: zstd */

/* Nesting depth of a JSON value (body.c): a scalar is 0, a container
 * (even an empty one) one more than its deepest member; stops counting
 * past limit (the result is then limit + 1 or more). */
int ldg_json_depth(const json_t *v, int limit);

#endif
