/*
 * tlog_int.h — transparency-log primitives, internal to ledger/.
 *
 * RFC 6962 / RFC 9162 Merkle tree math over a store of "stored hashes",
 * C2SP signed notes, checkpoints, tlog-proof and tlog-tiles encodings.
 * Pure functions: no LMDB, no I/O. The log (tree.c) keeps the stored hashes
 * in LMDB and reads them back through an ldg_hash_reader.
 *
 * Stored hashes: the hash of the complete subtree at (level L, index i)
 * covers leaves [i*2^L, (i+1)*2^L). Level 0 holds leaf hashes.
 */
#ifndef LDG_TLOG_INT_H
#define LDG_TLOG_INT_H

/* Trees above 2^63 leaves are refused (their proofs would not fit). */
#define TREE_SIZE_MAX ((uint64_t)1 << 63)

#include <stddef.h>
#include <stdint.h>

#include "ledger/module.h"
#include "util/util.h"

/* Hash of the leaf range [lo, hi) (hi > lo), combining the maximal aligned
 * complete subtrees it contains, read through rd. This is MTH(D[lo:hi]) only
 * when the range is one RFC 6962 subtree, which is how the proofs use it. */
int ldg_tlog_range_hash(ldg_hash_reader rd, void *ctx, uint64_t lo, uint64_t hi,
                        uint8_t out[32]);

/* RFC 6962 PATH(index, D[size]) into proof (room for LDG_PROOF_MAX);
 * *n receives the count. LDG_EINVAL unless index < size. */
int ldg_tlog_inclusion_proof(ldg_hash_reader rd, void *ctx, uint64_t index,
                             uint64_t size, uint8_t proof[][32], size_t *n);
/* RFC 6962 PROOF(old, D[size]); LDG_EINVAL unless 0 < old <= size. */
int ldg_tlog_consistency_proof(ldg_hash_reader rd, void *ctx, uint64_t old,
                               uint64_t size, uint8_t proof[][32], size_t *n);

/*
 * C2SP signed-note.
 *
 * Key ID: first 4 bytes of SHA-256(name ‖ 0x0A ‖ 0x01 ‖ pub), big-endian.
 * Verifier key: "name+<8 hex digits of id>+<base64(0x01 ‖ pub)>".
 * A signed note is: text (ending in '\n'), one empty line, then one line
 * per signature "— name base64(id[4] ‖ sig[64])\n" (U+2014 em dash).
 */
/* The key id of a signed-note verifier key: the first 4 bytes of
 * SHA-256(name ‖ 0x0A ‖ alg ‖ pub), big-endian (alg 0x01 Ed25519 notes,
 * 0x04 tlog-cosignature/v1). n bytes of name. */
uint32_t ldg_note_key_id_alg(const char *name, size_t n, uint8_t alg,
                             const uint8_t pub[32]);
/* "name+hexid+base64(alg ‖ pub)" into buf; length or LDG_EINVAL. */
int ldg_note_vkey_format(char *buf, size_t cap, const char *name, uint8_t alg,
                         const uint8_t pub[32]);
uint32_t ldg_note_key_id(const char *name, const uint8_t pub[32]);
/* Appends the signature line "— name base64(raw)\n" to the signed note
 * *note (malloc'd, NUL-terminated; realloc'd). raw is key ID ‖ signature
 * (n >= 5 bytes). 0; LDG_EINVAL (a bad name); LDG_ENOMEM. */
int ldg_note_sig_append(char **note, const char *name, const uint8_t *raw,
                        size_t n);
/* The first signature line of note (len bytes; its text tlen bytes, as
 * ldg_note_verify gives) by key name and key ID id: the bytes after the
 * key ID into raw (cap bytes), their count into *n. 0; LDG_ENOTFOUND (no
 * such line); LDG_EBADINPUT (the line is malformed or longer than cap). */
int ldg_note_sig_find(const char *note, size_t len, size_t tlen,
                      const char *name, uint32_t id, uint8_t *raw, size_t cap,
                      size_t *n);
/* 1 if name is a valid signed-note key name: non-empty UTF-8 with no
 * Unicode space, no '+' and no control character. */
int ldg_note_name_valid(const char *name);
/* A log origin as ledger init makes one (the checkpoint's first line and
 * its note key name): 1 to LDG_ORIGIN_MAX bytes of printable ASCII
 * without '+' or spaces. 1 valid, 0 not (NULL included). */
int ldg_origin_valid(const char *origin);
/* Writes the verifier string into buf; returns length or LDG_EINVAL. */
int ldg_note_verifier(char *buf, size_t cap, const char *name,
                      const uint8_t pub[32]);
/* Signs text (must be non-empty, end in '\n', be valid UTF-8 without
 * control characters other than '\n'; empty lines are allowed, as the spec
 * allows them) with key under name. *out is malloc'd, NUL-terminated,
 * caller frees. LDG_EINVAL for bad text or name. */
int ldg_note_sign(char **out, const char *text, size_t text_len,
                  const char *name, const struct ldg_key *key);

/* C2SP tlog-checkpoint body: "origin\nsize\nbase64(root)\n". Returns length
 * or LDG_EINVAL if it does not fit. */
int ldg_checkpoint_text(char *buf, size_t cap, const char *origin,
                        uint64_t size, const uint8_t root[32]);

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
/* ldg_tlog_proof_parse and ldg_tlog_proof_parse_cached: ledger/module.h. */

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

#endif
