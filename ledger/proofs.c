/*
 * proofs.c — offline verification of checkpoints and inclusion proofs,
 * for evidence bundles and auditors: no ledger, no network.
 */
#include <stdio.h>
#include <string.h>

#include "ledger/tlog_int.h"

int
ldg_checkpoint_open(const char *vkey, const char *note, size_t len,
                    char *origin, size_t origin_cap, uint64_t *size,
                    uint8_t root[32])
{
    char name[LDG_ORIGIN_MAX + 1];
    uint8_t pub[32];
    size_t tlen;
    int rc;

    rc = ldg_note_parse_verifier(vkey, name, sizeof name, pub);
    if (rc < 0)
        return LDG_EBADINPUT;
    rc = ldg_note_verify(note, len, name, pub, &tlen);
    if (rc < 0)
        return rc;
    rc = ldg_checkpoint_parse(note, tlen, origin, origin_cap, size, root);
    if (rc < 0)
        return rc;
    /* The checkpoint's origin must be the key's name: a log signs its own
     * checkpoints. */
    if (strcmp(origin, name) != 0)
        return LDG_EBADINPUT;
    return 0;
}

int
ldg_proof_check(const char *vkey, const char *proof, size_t len,
                const uint8_t *entry, size_t entry_len, uint64_t *index_out,
                uint64_t *size_out, uint8_t root_out[32], char *err,
                size_t errcap)
{
    uint8_t hashes[LDG_PROOF_MAX][32], root[32], leaf[32];
    char origin[LDG_ORIGIN_MAX + 1];
    const char *ck = NULL;
    size_t n = 0, cklen = 0;
    uint64_t index = 0, size = 0;
    int rc;

    rc = ldg_tlog_proof_parse(proof, len, &index, hashes, &n, &ck, &cklen);
    if (rc < 0) {
        snprintf(err, errcap, "not a tlog-proof@v1");
        return LDG_EBADINPUT;
    }
    rc = ldg_checkpoint_open(vkey, ck, cklen, origin, sizeof origin, &size,
                             root);
    if (rc == LDG_EBADSIG) {
        snprintf(err, errcap,
                 "checkpoint signature does not verify with "
                 "the log key");
        return rc;
    }
    if (rc < 0) {
        snprintf(err, errcap, "malformed checkpoint in the proof");
        return LDG_EBADINPUT;
    }
    ldg_tlog_leaf_hash(leaf, entry, entry_len);
    rc = ldg_tlog_verify_inclusion(leaf, index, size,
                                   (const uint8_t(*)[32])hashes, n, root);
    if (rc < 0) {
        snprintf(err, errcap,
                 "inclusion proof for index %llu in tree of "
                 "size %llu does not verify",
                 (unsigned long long)index, (unsigned long long)size);
        return LDG_EBADPROOF;
    }
    if (index_out)
        *index_out = index;
    if (size_out)
        *size_out = size;
    if (root_out)
        memcpy(root_out, root, 32);
    return 0;
}
