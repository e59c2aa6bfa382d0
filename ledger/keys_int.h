/*
 * keys_int.h — the keys part of ledger/: the key registry (keys.c),
 * key files and the log key's signatures (keyring.c); epoch_int.h has
 * the epochs.
 */
#ifndef LDG_KEYS_INT_H
#define LDG_KEYS_INT_H

#include "ledger/handle_int.h"

#define LDG_LOG_KEY_NAME "log"

/* keyring.c: signs and stores the checkpoint for the tree of size leaves. */
int ldg_checkpoint_put(struct ldg_txn *t, uint64_t size);

/* keyring.c: loads the log key's secret (if not yet); the signing key for
 * actor name (NULL: the log key), borrowed from the handle's cache. */
int ldg_log_secret_load(struct ldg_ledger *l);
int ldg_actor_key(struct ldg_ledger *l, const char *name, struct ldg_key **out);

/* Key registry (keys.c) — derived from key.added/key.revoked. */
/* The registry record as stored, unchecked (verify's comparison). */
int ldg_keys_lookup_raw(struct ldg_txn *t, const char *key_id,
                        struct ldg_key_state *ks);
/* The registry record of key_id, proven against the log's key events
 * (keys.c): LDG_ETAMPER with a message if the registry says otherwise. */
int ldg_keys_lookup(struct ldg_txn *t, const char *key_id,
                    struct ldg_key_state *ks);
/* Compares the key registry with the n keys the log proves (from its
 * genesis, key.added and key.revoked events, in any order): the same ids,
 * each with the same public key, name, added and revoked seq, and each
 * name pointing at its newest key. 0, or LDG_ETAMPER with *seq (an event
 * the wrong record is about, UINT64_MAX if none) and why filled. */
int ldg_keys_registry_check(struct ldg_txn *t,
                            const struct ldg_key_state *proven, size_t n,
                            uint64_t *seq, char *why, size_t cap);
/* Sets key_id's sealed count (keys DB "sealed:" key_id -> u64be). */
int ldg_keys_sealed_put(struct ldg_txn *t, const char *key_id, uint64_t n);
int ldg_keys_lookup_name(struct ldg_txn *t, const char *name,
                         struct ldg_key_state *ks);
int ldg_keys_apply(struct ldg_txn *t, const struct ldg_event *ev,
                   const json_t *body);
int ldg_keyfile_write(const char *dir, const struct ldg_key *k, char *err,
                      size_t errcap);
int ldg_keyfile_read(const char *dir, const char *name, struct ldg_key **out,
                     char *err, size_t errcap);

/* keys.c: a horizon key's roles mask from their names ("*": the log
 * key's, every type; "": none given). */
uint32_t ldg_horizon_roles_mask(const char *text);
/* keys.c: a proven key's roles, comma-separated, as its key.added gave
 * them (or the horizon record, for a key added before it). */
void ldg_keys_roles_text(struct ldg_txn *t, const struct ldg_key_state *ks,
                         char *buf, size_t cap);

#endif
