/*
 * tlog_int.h — transparency-log primitives, internal to ledger/.
 *
 * RFC 6962 / RFC 9162 Merkle tree math over a store of "stored hashes",
 * C2SP signed notes, checkpoints, tlog-proof and tlog-tiles encodings.
 * Pure functions: no LMDB, no I/O. The log (log.c) keeps the stored hashes
 * in LMDB and reads them back through an ldg_hash_reader.
 *
 * Stored hashes: the hash of the complete subtree at (level L, index i)
 * covers leaves [i*2^L, (i+1)*2^L). Level 0 holds leaf hashes.
 */
#ifndef LDG_TLOG_INT_H
#define LDG_TLOG_INT_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/ledger.h"

#define LDG_HASH_LEN 32
#define LDG_TILE_HEIGHT 8
#define LDG_TILE_WIDTH 256
#define LDG_PROOF_MAX 64 /* hashes in any proof of a 2^63-leaf tree */

/* Reads the stored hash of the complete subtree (level, index). Returns 0,
 * or a negative ldg_error (LDG_ENOTFOUND if it is not stored). */
typedef int (*ldg_hash_reader)(void *ctx, int level, uint64_t index,
                               uint8_t out[32]);

/* SHA-256(0x00 ‖ entry) */
void ldg_tlog_leaf_hash(uint8_t out[32], const void *entry, size_t n);
/* SHA-256(0x01 ‖ left ‖ right) */
void ldg_tlog_node_hash(uint8_t out[32], const uint8_t left[32],
                        const uint8_t right[32]);

/* Hash of the leaf range [lo, hi) (hi > lo), combining the maximal aligned
 * complete subtrees it contains, read through rd. This is MTH(D[lo:hi]) only
 * when the range is one RFC 6962 subtree, which is how the proofs use it. */
int ldg_tlog_range_hash(ldg_hash_reader rd, void *ctx, uint64_t lo, uint64_t hi,
                        uint8_t out[32]);
/* RFC 6962 root of the tree of the first size leaves (size 0: SHA-256 of
 * the empty string). */
int ldg_tlog_root(ldg_hash_reader rd, void *ctx, uint64_t size,
                  uint8_t out[32]);

/* RFC 6962 PATH(index, D[size]) into proof (room for LDG_PROOF_MAX);
 * *n receives the count. LDG_EINVAL unless index < size. */
int ldg_tlog_inclusion_proof(ldg_hash_reader rd, void *ctx, uint64_t index,
                             uint64_t size, uint8_t proof[][32], size_t *n);
/* RFC 6962 PROOF(old, D[size]); LDG_EINVAL unless 0 < old <= size. */
int ldg_tlog_consistency_proof(ldg_hash_reader rd, void *ctx, uint64_t old,
                               uint64_t size, uint8_t proof[][32], size_t *n);

/* RFC 9162 section 2.1.3.2 / 2.1.4.2 verification. 0 if the proof holds,
 * LDG_EBADPROOF otherwise (also for index >= size, old > size, a size
 * above 2^63 or more than LDG_PROOF_MAX hashes); LDG_EINVAL only for NULL
 * pointers. Consistency with old == size needs an empty proof and equal
 * roots; with old == 0, an empty proof and old_root = SHA-256("").
 * An inclusion proof binds (index, size) only together with the root of
 * that size: check the root comes from a checkpoint of that size. */
int ldg_tlog_verify_inclusion(const uint8_t leaf_hash[32], uint64_t index,
                              uint64_t size, const uint8_t proof[][32],
                              size_t n, const uint8_t root[32]);
int ldg_tlog_verify_consistency(uint64_t old, uint64_t size,
                                const uint8_t old_root[32],
                                const uint8_t new_root[32],
                                const uint8_t proof[][32], size_t n);

/* C2SP tlog-tiles path, relative, e.g. "tile/0/x001/234" or
 * "tile/entries/005.p/17". level -1 means the entries bundle. width is
 * 1..256; 256 means a full tile (no .p/ suffix). Returns length or
 * LDG_EINVAL if it does not fit. */
int ldg_tlog_tile_path(char *buf, size_t cap, int level, uint64_t index,
                       unsigned width);

/*
 * C2SP signed-note.
 *
 * Key ID: first 4 bytes of SHA-256(name ‖ 0x0A ‖ 0x01 ‖ pub), big-endian.
 * Verifier key: "name+<8 hex digits of id>+<base64(0x01 ‖ pub)>".
 * A signed note is: text (ending in '\n'), one empty line, then one line
 * per signature "— name base64(id[4] ‖ sig[64])\n" (U+2014 em dash).
 */
uint32_t ldg_note_key_id(const char *name, const uint8_t pub[32]);
/* 1 if name is a valid signed-note key name: non-empty UTF-8 with no
 * Unicode space, no '+' and no control character. */
int ldg_note_name_valid(const char *name);
/* Writes the verifier string into buf; returns length or LDG_EINVAL. */
int ldg_note_verifier(char *buf, size_t cap, const char *name,
                      const uint8_t pub[32]);
/* Parses a verifier string; name must fit in name_cap with its NUL.
 * LDG_EBADINPUT if malformed (bad name, id not matching the key, ...). */
int ldg_note_parse_verifier(const char *vkey, char *name, size_t name_cap,
                            uint8_t pub[32]);
/* Signs text (must be non-empty, end in '\n', be valid UTF-8 without
 * control characters other than '\n'; empty lines are allowed, as the spec
 * allows them) with key under name. *out is malloc'd, NUL-terminated,
 * caller frees. LDG_EINVAL for bad text or name. */
int ldg_note_sign(char **out, const char *text, size_t text_len,
                  const char *name, const struct ldg_key *key);
/* Verifies that note carries a valid signature by (name, pub). On success
 * *text_len is the length of the signed text (which starts at note).
 * LDG_EBADINPUT for a malformed note (any malformed signature line, bad
 * UTF-8, control characters, more than 100 signatures), LDG_EBADSIG if no
 * signature line by this key verifies or if any line by this key (same
 * name and key ID) fails to verify. Unknown signers' lines are ignored. */
int ldg_note_verify(const char *note, size_t len, const char *name,
                    const uint8_t pub[32], size_t *text_len);

/* C2SP tlog-checkpoint body: "origin\nsize\nbase64(root)\n". Returns length
 * or LDG_EINVAL if it does not fit. */
int ldg_checkpoint_text(char *buf, size_t cap, const char *origin,
                        uint64_t size, const uint8_t root[32]);
/* Parses a checkpoint body (the signed text of the note; extension lines
 * after the root are allowed and ignored). LDG_EBADINPUT if malformed. */
int ldg_checkpoint_parse(const char *text, size_t len, char *origin,
                         size_t origin_cap, uint64_t *size, uint8_t root[32]);

/*
 * C2SP tlog-proof@v1:
 *   "c2sp.org/tlog-proof@v1\n"
 *   "index N\n"
 *   one base64 hash per line
 *   "\n"
 *   the signed checkpoint note
 * (check the spec for optional lines such as "extra" and accept them.)
 */
int ldg_tlog_proof_format(char **out, uint64_t index, const uint8_t proof[][32],
                          size_t n, const char *signed_checkpoint);
/* Parses; *checkpoint points into text (borrowed). An "extra" line is
 * accepted and skipped. Does not verify the note. LDG_EBADINPUT if
 * malformed (including more than LDG_PROOF_MAX hashes). */
int ldg_tlog_proof_parse(const char *text, size_t len, uint64_t *index,
                         uint8_t proof[][32], size_t *n,
                         const char **checkpoint, size_t *checkpoint_len);

/*
 * C2SP tlog-witness add-checkpoint request body (a consistency proof from
 * size old to the checkpoint's size, as a witness receives it):
 *   "old N\n"
 *   one base64 hash per line (none if old is 0; at most 63)
 *   "\n"
 *   the signed checkpoint note
 * *out malloc'd, caller frees. The parser does not verify the proof or the
 * note; *checkpoint points into text (borrowed). LDG_EBADINPUT if malformed.
 */
int ldg_tlog_consistency_format(char **out, uint64_t old,
                                const uint8_t proof[][32], size_t n,
                                const char *signed_checkpoint);
int ldg_tlog_consistency_parse(const char *text, size_t len, uint64_t *old,
                               uint8_t proof[][32], size_t *n,
                               const char **checkpoint, size_t *checkpoint_len);

#endif
