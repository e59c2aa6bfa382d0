/*
 * tree.c — the stored Merkle tree, checkpoints, proofs and the log's notes.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ledger/ledger_int.h"
#include "ledger/tlog_int.h"

/* ---------------------------------------------------------- Merkle tree -- */

static int
tree_reader(void *ctx, int level, uint64_t index, uint8_t out[32])
{
    struct ldg_txn *t = ctx;
    struct ldg_ledger *l = ldg_txn_ledger(t);
    uint8_t k[LDG_TREE_KEY_LEN];
    struct ldg_val v;
    int rc;
    ldg_tree_key(k, level, index);
    rc = ldg_kv_get(t, ldg_core(l, LDG_DB_TREE), k, LDG_TREE_KEY_LEN, &v);
    if (rc < 0)
        return rc;
    if (v.len != 32)
        return LDG_ECORRUPT;
    memcpy(out, v.data, 32);
    return 0;
}

/* Stores leaf hash (0, seq) and every complete subtree it completes:
 * while the node is a right child, hash it with its left sibling. */
int
ldg_tree_add_leaf(struct ldg_txn *t, uint64_t seq, const uint8_t leaf[32])
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    ldg_dbi db = ldg_core(l, LDG_DB_TREE);
    uint8_t k[LDG_TREE_KEY_LEN], h[32], left[32];
    uint64_t i = seq;
    int level = 0, rc;

    memcpy(h, leaf, 32);
    ldg_tree_key(k, 0, seq);
    if ((rc = ldg_core_kv_put(t, db, k, LDG_TREE_KEY_LEN, h, 32)) < 0)
        return rc;
    while (i & 1) {
        if ((rc = tree_reader(t, level, i - 1, left)) < 0)
            return rc == LDG_ENOTFOUND ? LDG_ECORRUPT : rc;
        ldg_tlog_node_hash(h, left, h);
        level++;
        i >>= 1;
        ldg_tree_key(k, level, i);
        if ((rc = ldg_core_kv_put(t, db, k, LDG_TREE_KEY_LEN, h, 32)) < 0)
            return rc;
    }
    return 0;
}

int
ldg_tree_stored_hash(struct ldg_txn *t, int level, uint64_t index,
                     uint8_t out[32])
{
    if (level < 0 || level > 63)
        return LDG_EINVAL;
    return tree_reader(t, level, index, out);
}

int
ldg_tree_root(struct ldg_txn *t, uint64_t size, uint8_t root[32])
{
    return ldg_tlog_root(tree_reader, t, size, root);
}

int
ldg_tree_inclusion(struct ldg_txn *t, uint64_t index, uint64_t size,
                   uint8_t proof[][32], size_t *n)
{
    return ldg_tlog_inclusion_proof(tree_reader, t, index, size, proof, n);
}

int
ldg_tree_consistency(struct ldg_txn *t, uint64_t old, uint64_t size,
                     uint8_t proof[][32], size_t *n)
{
    return ldg_tlog_consistency_proof(tree_reader, t, old, size, proof, n);
}

int
ldg_checkpoint_get(struct ldg_txn *t, uint64_t size, char **out)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    struct ldg_cursor *c = NULL;
    struct ldg_val k, v;
    uint8_t key[8];
    int rc;

    *out = NULL;
    if (size == 0) {
        rc = ldg_cursor_open(t, ldg_core(l, LDG_DB_CHECKPOINTS), &c);
        if (rc < 0)
            return rc;
        rc = ldg_cursor_get(c, LDG_LAST, NULL, 0, &k, &v);
    } else {
        ldg_be64(key, size);
        rc = ldg_kv_get(t, ldg_core(l, LDG_DB_CHECKPOINTS), key,
                        LDG_SEQ_KEY_LEN, &v);
    }
    if (rc == 0) {
        *out = malloc(v.len + 1);
        if (*out == NULL) {
            rc = LDG_ENOMEM;
        } else {
            memcpy(*out, v.data, v.len);
            (*out)[v.len] = '\0';
        }
    }
    ldg_cursor_close(c);
    return rc;
}

int
ldg_verifier_key(struct ldg_ledger *l, char *buf, size_t cap)
{
    int n = ldg_note_verifier(buf, cap, l->origin, l->log_key->pub);
    return n < 0 ? n : 0;
}

int
ldg_proof_text(struct ldg_txn *t, uint64_t index, uint64_t size, char **out)
{
    uint8_t proof[LDG_PROOF_MAX][32];
    size_t n = 0;
    char *ck = NULL;
    uint64_t have;
    int rc;

    *out = NULL;
    if ((rc = ldg_txn_size(t, &have)) < 0)
        return rc;
    if (size == 0)
        size = have;
    if (index >= size || size > have)
        return LDG_ENOTFOUND;
    if ((rc = ldg_checkpoint_get(t, size, &ck)) < 0)
        return rc;
    rc = ldg_tree_inclusion(t, index, size, proof, &n);
    if (rc == 0)
        rc = ldg_tlog_proof_format(out, index, (const uint8_t(*)[32])proof, n,
                                   ck);
    free(ck);
    return rc;
}

int
ldg_consistency_text(struct ldg_txn *t, uint64_t old, uint64_t size, char **out)
{
    uint8_t proof[LDG_PROOF_MAX][32];
    size_t n = 0;
    char *ck = NULL;
    uint64_t have;
    int rc;

    *out = NULL;
    if ((rc = ldg_txn_size(t, &have)) < 0)
        return rc;
    if (size == 0)
        size = have;
    if (old > have || size > have)
        return LDG_ENOTFOUND; /* beyond the log */
    if (old > size)
        return LDG_EINVAL;
    if ((rc = ldg_checkpoint_get(t, size, &ck)) < 0)
        return rc;
    /* From the empty tree the proof is empty (C2SP tlog-witness accepts
     * old size 0; RFC 6962 leaves it undefined). */
    rc = old == 0 ? 0 : ldg_tree_consistency(t, old, size, proof, &n);
    if (rc == 0)
        rc = ldg_tlog_consistency_format(out, old, (const uint8_t(*)[32])proof,
                                         n, ck);
    free(ck);
    return rc;
}

int
ldg_log_sign_note(struct ldg_ledger *l, const char *text, size_t len,
                  char **out)
{
    int rc = ldg_log_secret_load(l);
    if (rc < 0)
        return rc;
    return ldg_note_sign(out, text, len, l->origin, l->log_key);
}

int
ldg_log_verify_note(struct ldg_ledger *l, const char *note, size_t len,
                    size_t *text_len)
{
    return ldg_note_verify(note, len, l->origin, l->log_key->pub, text_len);
}

int
ldg_note_verify_vkey(const char *vkey, const char *note, size_t len,
                     size_t *text_len)
{
    char name[LDG_ORIGIN_MAX + 1];
    uint8_t pub[32];
    int rc = ldg_note_parse_verifier(vkey, name, sizeof name, pub);
    if (rc < 0)
        return rc;
    return ldg_note_verify(note, len, name, pub, text_len);
}

/* Signs and stores the checkpoint for the tree of size leaves. */
int
ldg_checkpoint_put(struct ldg_txn *t, uint64_t size)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    char text[LDG_ORIGIN_MAX + 128];
    uint8_t root[32], k[8];
    char *note = NULL;
    int rc, n;

    if ((rc = ldg_tree_root(t, size, root)) < 0)
        return rc;
    n = ldg_checkpoint_text(text, sizeof text, l->origin, size, root);
    if (n < 0)
        return n;
    rc = ldg_note_sign(&note, text, (size_t)n, l->origin, l->log_key);
    if (rc < 0)
        return rc;
    ldg_be64(k, size);
    rc = ldg_core_kv_put(t, ldg_core(l, LDG_DB_CHECKPOINTS), k, LDG_SEQ_KEY_LEN,
                         note, strlen(note));
    free(note);
    return rc;
}
