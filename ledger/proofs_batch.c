/*
 * proofs_batch.c — many inclusion proofs against one tree size, in one
 * pass (for exports: thousands of proofs against one checkpoint).
 *
 * PATH(m, D[n]) walks down from the root; at depth d it records the hash
 * of the sibling range of the half that holds m (tlog.c). For a fixed
 * tree size, the sibling range at depth d depends only on where m falls,
 * and the proofs of neighbouring entries share all but their lowest few:
 * the proofs of a run of 10,000 consecutive entries in a tree of a
 * million have about 20,000 distinct sibling hashes, not 200,000. So the
 * batch keeps, per depth, the last sibling range it used with its hash
 * and that hash in base64, and reads (or, on the right edge of the tree,
 * folds) a hash only when the range changes. Each stored hash is then
 * read once for entries taken in increasing order, each hash is encoded
 * once, and the checkpoint is read once.
 *
 * The text is ldg_tlog_proof_format's, byte for byte (the tests compare
 * it with ldg_proof_text for every index of several trees).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/tlog_int.h"

#define PROOF_MAGIC "c2sp.org/tlog-proof@v1\n"
#define B64_HASH 44

struct depth_cache {
    uint64_t lo, hi; /* the sibling range; hi == 0: empty */
    uint8_t hash[LDG_HASH_LEN];
    char b64[B64_HASH + 1];
};

struct ldg_proof_batch {
    struct ldg_txn *t;
    uint64_t size;
    char *ck; /* the signed checkpoint of size */
    size_t ck_len;
    struct depth_cache d[LDG_PROOF_MAX];
    uint64_t reads; /* stored hashes read, for tests */
};

static int
reader(void *ctx, int level, uint64_t index, uint8_t out[32])
{
    struct ldg_proof_batch *b = ctx;
    b->reads++;
    return ldg_tree_stored_hash(b->t, level, index, out);
}

/* Largest power of two smaller than n (n >= 2): RFC 6962's split. */
static uint64_t
split_point(uint64_t n)
{
    uint64_t k = 1;
    while (k << 1 < n)
        k <<= 1;
    return k;
}

int
ldg_proof_batch_new(struct ldg_proof_batch **out, struct ldg_txn *t,
                    uint64_t size)
{
    struct ldg_proof_batch *b;
    uint64_t have;
    int rc;

    if (out == NULL || t == NULL || size == 0)
        return LDG_EINVAL;
    *out = NULL;
    if ((rc = ldg_txn_size(t, &have)) < 0)
        return rc;
    if (size > have)
        return LDG_ENOTFOUND;
    b = calloc(1, sizeof *b);
    if (b == NULL)
        return LDG_ENOMEM;
    b->t = t;
    b->size = size;
    if ((rc = ldg_checkpoint_get(t, size, &b->ck)) < 0) {
        free(b);
        return rc;
    }
    b->ck_len = strlen(b->ck);
    if (b->ck_len == 0) {
        ldg_proof_batch_free(b);
        return LDG_ECORRUPT;
    }
    *out = b;
    return 0;
}

/* The sibling hash at depth d for range [lo, hi), from the cache. */
static int
sibling(struct ldg_proof_batch *b, size_t d, uint64_t lo, uint64_t hi,
        const struct depth_cache **out)
{
    struct depth_cache *c = &b->d[d];
    int rc;

    if (c->hi != hi || c->lo != lo) {
        c->hi = 0; /* invalid until read */
        rc = ldg_tlog_range_hash(reader, b, lo, hi, c->hash);
        if (rc < 0)
            return rc;
        ldg_base64(c->b64, c->hash, LDG_HASH_LEN);
        c->lo = lo;
        c->hi = hi;
    }
    *out = c;
    return 0;
}

int
ldg_proof_batch_text(struct ldg_proof_batch *b, uint64_t index, char **out,
                     size_t *len)
{
    const struct depth_cache *path[LDG_PROOF_MAX];
    uint64_t lo = 0, hi;
    size_t cnt = 0, n, ml = strlen(PROOF_MAGIC);
    char head[32], *p, *w;
    int hl, rc;

    if (b == NULL || out == NULL)
        return LDG_EINVAL;
    *out = NULL;
    if (index >= b->size)
        return LDG_ENOTFOUND;
    hi = b->size;
    while (hi - lo > 1) {
        uint64_t k = split_point(hi - lo);
        if (cnt == LDG_PROOF_MAX)
            return LDG_EINVAL; /* cannot happen below 2^63 */
        if (index < lo + k) {
            rc = sibling(b, cnt, lo + k, hi, &path[cnt]);
            hi = lo + k;
        } else {
            rc = sibling(b, cnt, lo, lo + k, &path[cnt]);
            lo += k;
        }
        if (rc < 0)
            return rc;
        cnt++;
    }
    hl = snprintf(head, sizeof head, "index %llu\n", (unsigned long long)index);
    n = ml + (size_t)hl + cnt * (B64_HASH + 1) + 1 + b->ck_len;
    p = malloc(n + 1);
    if (p == NULL)
        return LDG_ENOMEM;
    w = p;
    memcpy(w, PROOF_MAGIC, ml);
    w += ml;
    memcpy(w, head, (size_t)hl);
    w += hl;
    for (size_t i = cnt; i-- > 0;) { /* the leaf's sibling first */
        memcpy(w, path[i]->b64, B64_HASH);
        w[B64_HASH] = '\n';
        w += B64_HASH + 1;
    }
    *w++ = '\n';
    memcpy(w, b->ck, b->ck_len);
    w += b->ck_len;
    *w = '\0';
    *out = p;
    if (len != NULL)
        *len = n;
    return 0;
}

uint64_t
ldg_proof_batch_reads(const struct ldg_proof_batch *b)
{
    return b ? b->reads : 0;
}

void
ldg_proof_batch_rebind(struct ldg_proof_batch *b, struct ldg_txn *t)
{
    if (b != NULL && t != NULL)
        b->t = t;
}

void
ldg_proof_batch_free(struct ldg_proof_batch *b)
{
    if (b == NULL)
        return;
    free(b->ck);
    free(b);
}
