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
/* Plain Ed25519 (no context): for C2SP signed notes, whose spec fixes the
 * signed message. */
int ldg_ed25519_sign_raw(uint8_t sig[64], const void *msg, size_t n,
                         const struct ldg_key *key);
int ldg_ed25519_verify_raw(const uint8_t sig[64], const void *msg, size_t n,
                           const uint8_t pub[32]);

/* Keyed BLAKE2b, used to derive deterministic salts in test mode only. */
void ldg_keyed_hash16(uint8_t out[16], const uint8_t key[32], const void *msg,
                      size_t n);
void ldg_random(void *buf, size_t n);

/* Field salts from a body's seed (FORMAT.md 4, a seeded body record):
 *   salt = BLAKE2b(key = seed[16], outlen = 16,
 *                  msg = "ledger/salt/v1" 0x00 ‖ name)
 * with name the field name's bytes. ldg_seed_init keys the hash once for a
 * body; ldg_seed_salt derives one field's salt from it (one BLAKE2b block
 * for names up to 113 bytes). The context holds the seed's state: wipe it
 * with ldg_seed_wipe once the body is done. */
struct ldg_seed_ctx {
    _Alignas(64) unsigned char state[384]; /* crypto_generichash_state */
};
void ldg_seed_init(struct ldg_seed_ctx *c, const uint8_t seed[LDG_SEED_LEN]);
void ldg_seed_salt(const struct ldg_seed_ctx *c, const char *name, size_t n,
                   uint8_t salt[LDG_SALT_LEN]);
void ldg_seed_wipe(struct ldg_seed_ctx *c);
/* SipHash-2-4 with a 128-bit output under a 16-byte key (libsodium's
 * crypto_shorthash_siphashx24): a keyed PRF over short inputs, for the
 * multiset hashes verify compares (the key is random per run). */
void ldg_shorthash128(uint8_t out[16], const uint8_t key[16], const void *msg,
                      size_t n);

/* The 32-byte seed of a secret key (the first half of libsodium's 64-byte
 * secret key), for writing key files. */
int ldg_key_seed(const struct ldg_key *k, uint8_t seed[32]);

/* Secret-key memory: sodium_malloc'd, wiped on free. */
void *ldg_secure_alloc(size_t n);
void ldg_secure_free(void *p);
void ldg_wipe(void *p, size_t n);

/* "libsodium 1.0.18, nettle 3.8" (see ldg_lib_versions). */
const char *ldg_crypto_lib_version(void);

#endif
