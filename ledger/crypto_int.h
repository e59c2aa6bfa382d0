/*
 * crypto_int.h — hashing, signatures, encodings for the ledger module.
 *
 * Internal to ledger/ (other modules use the public wrappers re-exported in
 * ledger/module.h). crypto.c is the only file that includes <sodium.h> or
 * Nettle headers.
 */
#ifndef LDG_CRYPTO_INT_H
#define LDG_CRYPTO_INT_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/module.h"
#include "util/util.h"

#include "ledger/format.h" /* after module.h: LDG_SALT_LEN */

/* Incremental SHA-256 (ldg_sha256_ctx): declared in ledger/module.h. */

/* Ed25519 over a message given as a prefix (domain context) and the bytes.
 * The signed message is exactly ctx ‖ msg. */
int ldg_ed25519_sign_ctx(uint8_t sig[64], const char *ctx, const void *msg,
                         size_t n, const struct ldg_key *key);
/* Returns 0 if the signature verifies, LDG_EBADSIG otherwise. */
int ldg_ed25519_verify_ctx(const uint8_t sig[64], const char *ctx,
                           const void *msg, size_t n, const uint8_t pub[32]);
/* The public key of an Ed25519 seed, and a signature (as
 * ldg_ed25519_sign_ctx) by the key of seed whose public key is pub (a
 * wrong pub makes a signature that does not verify): the secret is put
 * together in a per-thread sodium_malloc'd scratch, wiped after use.
 * 0; LDG_ENOMEM. */
int ldg_ed25519_seed_pub(uint8_t pub[32], const uint8_t seed[32]);
int ldg_ed25519_seed_sign_ctx(uint8_t sig[64], const char *ctx, const void *msg,
                              size_t n, const uint8_t seed[32],
                              const uint8_t pub[32]);
/* 1 when pub is an Ed25519 public key a signature can verify under: a
 * canonical encoding of a point of the prime-order subgroup, not of small
 * order (so not the identity); 0 otherwise. */
int ldg_ed25519_pub_valid(const uint8_t pub[32]);
/* Plain Ed25519 (no context): for C2SP signed notes, whose spec fixes the
 * signed message. */
int ldg_ed25519_sign_raw(uint8_t sig[64], const void *msg, size_t n,
                         const struct ldg_key *key);
int ldg_ed25519_verify_raw(const uint8_t sig[64], const void *msg, size_t n,
                           const uint8_t pub[32]);

/* Keyed BLAKE2b: the salts of the fixed-seed test vectors (ldg_body_prepare
 * with a seed, ldg_sealer_set_salt_seed), never a writer's. */
void ldg_keyed_hash16(uint8_t out[16], const uint8_t key[32], const void *msg,
                      size_t n);
void ldg_random(void *buf, size_t n);

/* The field salts of a seeded body (FORMAT.md 4): the salt of the field
 * at index i of the body's map (fields in bytewise order of their names,
 * from 0) is bytes 16·(i mod 4) .. 16·(i mod 4) + 15 of
 *   BLAKE2b(key = seed[16], outlen = 64,
 *           msg = "ledger/salt/v1" 0x00 ‖ u32be(i div 4))
 * Writes the salts of fields 0..n-1 (n <= LDG_FIELDS_MAX) into out: one
 * BLAKE2b block for the key, then one for every four fields. */
void ldg_seed_salts(const uint8_t seed[LDG_SEED_LEN], size_t n,
                    uint8_t (*out)[LDG_SALT_LEN]);
/* The field salts of a seeded body of kind 0x05/0x06 (store layout 6,
 * FORMAT.md 4): the salt of the field at index i is
 *   AES-128-encrypt(key = seed[16], block = "ledger/salt2" ‖ u32be(i))
 * (Nettle; AES-NI where the CPU has it). Writes the salts of fields
 * 0..n-1 (n <= LDG_FIELDS_MAX) into out. */
void ldg_seed_salts_aes(const uint8_t seed[LDG_SEED_LEN], size_t n,
                        uint8_t (*out)[LDG_SALT_LEN]);
/* SipHash-2-4 with a 128-bit output under a 16-byte key (libsodium's
 * crypto_shorthash_siphashx24): a keyed PRF over short inputs, for the
 * multiset hashes verify compares (the key is random per run). */
void ldg_shorthash128(uint8_t out[16], const uint8_t key[16], const void *msg,
                      size_t n);

/* The 32-byte seed of a secret key (the first half of libsodium's 64-byte
 * secret key), for writing key files. */
int ldg_key_seed(const struct ldg_key *k, uint8_t seed[32]);

/* Secret-key memory: sodium_malloc'd, wiped on free. */
/* A key from its seed and its public key, known already (no scalar
 * multiplication: the epoch keys, whose public keys their certs give).
 * A pub that is not the seed's makes signatures that do not verify. */
int ldg_key_from_keypair(struct ldg_key **out, const char *name,
                         const uint8_t seed[32], const uint8_t pub[32]);
void *ldg_secure_alloc(size_t n);
void ldg_secure_free(void *p);
void ldg_wipe(void *p, size_t n);

/* "libsodium 1.0.18, nettle 3.8" (see ldg_lib_versions). */
const char *ldg_crypto_lib_version(void);

#endif
