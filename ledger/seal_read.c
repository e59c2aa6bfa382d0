/*
 * seal_read.c — reading seals back (format version 2): the stored seal of
 * an event and the proof that attributes one event to it (FORMAT.md
 * section 3.3), for evidence bundles and their verifiers.
 */
#include <stdlib.h>
#include <string.h>

#include "ledger/handle_int.h"
#include "ledger/tlog_int.h"

int
ldg_seal_get(struct ldg_txn *t, uint64_t seal_seq, struct ldg_seal *out)
{
    struct ldg_store *s;
    struct ldg_val v;
    uint8_t k[LDG_SEQ_KEY_LEN];
    int rc;

    if (t == NULL || out == NULL)
        return LDG_EINVAL;
    s = ldg_txn_store(t);
    if (!ldg_store_has_core(s, LDG_DB_SEALS))
        return LDG_ENOTFOUND;
    ldg_be64(k, seal_seq);
    rc = ldg_kv_get(t, ldg_store_core_dbi(s, LDG_DB_SEALS), k, LDG_SEQ_KEY_LEN,
                    &v);
    if (rc < 0)
        return rc;
    return ldg_seal_record_decode(v.data, v.len, out);
}

int
ldg_seal_proof(struct ldg_txn *t, uint64_t seq, struct ldg_seal_proof *out)
{
    struct ldg_event ev;
    uint8_t(*d)[32] = NULL;
    uint64_t size = 0, got = 0;
    int rc;

    if (t == NULL || out == NULL)
        return LDG_EINVAL;
    memset(out, 0, sizeof *out);
    if ((rc = ldg_event_get(t, seq, &ev)) < 0)
        return rc;
    if (!ev.sealed)
        return LDG_ENOTFOUND; /* a format 1 entry: signed, not sealed */
    if ((rc = ldg_seal_get(t, ev.seal_seq, &out->seal)) < 0)
        return rc == LDG_ENOTFOUND ? LDG_ECORRUPT : rc;
    if ((rc = ldg_txn_size(t, &size)) < 0)
        return rc;
    d = malloc((size_t)out->seal.count * 32);
    if (d == NULL)
        return LDG_ENOMEM;
    for (uint64_t at = ev.seal_seq; got < out->seal.count && at < size; at++) {
        struct ldg_event e;
        if ((rc = ldg_event_get_ex(t, at, &e, LDG_DECODE_TRUSTED)) < 0)
            goto out;
        if (!e.sealed || e.seal_seq != ev.seal_seq)
            continue;
        if (e.seal_leaf != got) {
            rc = LDG_ECORRUPT;
            goto out;
        }
        memcpy(d[got++], e.digest, 32);
    }
    if (got != out->seal.count || ev.seal_leaf >= got) {
        rc = LDG_ECORRUPT;
        goto out;
    }
    out->seal_seq = ev.seal_seq;
    out->leaf = ev.seal_leaf;
    memcpy(out->digest, ev.digest, 32);
    rc = ldg_seal_inclusion((const uint8_t(*)[32])d, (size_t)got,
                            (size_t)ev.seal_leaf, out->path, &out->n);
out:
    free(d);
    return rc;
}

/* ---------------------------------------------------------- provers -- */

/*
 * Proofs for many events (a bundle's): the seal of the last event asked
 * about is kept with every complete subtree hash of its tree, so each
 * further event of that seal costs log2(count) lookups instead of reading
 * the seal's events again.
 */
struct ldg_seal_prover {
    struct ldg_txn *t;
    int have;
    uint64_t seal_seq;
    struct ldg_seal seal;
    uint8_t (*lv[64])[32]; /* lv[L][i]: subtree (L, i); count >> L of them */
    int nlv;
};

int
ldg_seal_prover_new(struct ldg_seal_prover **out, struct ldg_txn *t)
{
    if (out == NULL || t == NULL)
        return LDG_EINVAL;
    *out = calloc(1, sizeof **out);
    if (*out == NULL)
        return LDG_ENOMEM;
    (*out)->t = t;
    return 0;
}

static void
prover_clear(struct ldg_seal_prover *p)
{
    for (int i = 0; i < p->nlv; i++)
        free(p->lv[i]);
    p->nlv = 0;
    p->have = 0;
}

void
ldg_seal_prover_free(struct ldg_seal_prover *p)
{
    if (p == NULL)
        return;
    prover_clear(p);
    free(p);
}

static int
prover_reader(void *ctx, int level, uint64_t index, uint8_t out[32])
{
    const struct ldg_seal_prover *p = ctx;
    if (level < 0 || level >= p->nlv || index >= (p->seal.count >> level))
        return LDG_ENOTFOUND;
    memcpy(out, p->lv[level][index], 32);
    return 0;
}

/* Loads the seal at seal_seq: its record, its events' digests (leaf
 * hashes) and every complete subtree above them. */
static int
prover_load(struct ldg_seal_prover *p, uint64_t seal_seq)
{
    uint64_t size = 0, got = 0, n;
    int rc;

    prover_clear(p);
    if ((rc = ldg_seal_get(p->t, seal_seq, &p->seal)) < 0)
        return rc == LDG_ENOTFOUND ? LDG_ECORRUPT : rc;
    if ((rc = ldg_txn_size(p->t, &size)) < 0)
        return rc;
    n = p->seal.count;
    p->lv[0] = malloc((size_t)n * 32);
    if (p->lv[0] == NULL)
        return LDG_ENOMEM;
    p->nlv = 1;
    for (uint64_t at = seal_seq; got < n && at < size; at++) {
        struct ldg_event e;
        if ((rc = ldg_event_get_ex(p->t, at, &e, LDG_DECODE_TRUSTED)) < 0)
            return rc;
        if (!e.sealed || e.seal_seq != seal_seq)
            continue;
        if (e.seal_leaf != got)
            return LDG_ECORRUPT;
        ldg_tlog_leaf_hash(p->lv[0][got++], e.digest, 32);
    }
    if (got != n)
        return LDG_ECORRUPT;
    for (int L = 1; (n >> L) > 0 && L < 64; L++) {
        uint64_t m = n >> L;
        p->lv[L] = malloc((size_t)m * 32);
        if (p->lv[L] == NULL)
            return LDG_ENOMEM;
        p->nlv = L + 1;
        for (uint64_t i = 0; i < m; i++)
            ldg_tlog_node_hash(p->lv[L][i], p->lv[L - 1][2 * i],
                               p->lv[L - 1][2 * i + 1]);
    }
    p->seal_seq = seal_seq;
    p->have = 1;
    return 0;
}

int
ldg_seal_prover_proof(struct ldg_seal_prover *p, uint64_t seq,
                      struct ldg_seal_proof *out)
{
    struct ldg_event ev;
    int rc;

    if (p == NULL || out == NULL)
        return LDG_EINVAL;
    memset(out, 0, sizeof *out);
    if ((rc = ldg_event_get_ex(p->t, seq, &ev, LDG_DECODE_TRUSTED)) < 0)
        return rc;
    if (!ev.sealed)
        return LDG_ENOTFOUND;
    if ((!p->have || p->seal_seq != ev.seal_seq) &&
        (rc = prover_load(p, ev.seal_seq)) < 0) {
        prover_clear(p);
        return rc;
    }
    if (ev.seal_leaf >= p->seal.count)
        return LDG_ECORRUPT;
    out->seal_seq = ev.seal_seq;
    out->leaf = ev.seal_leaf;
    memcpy(out->digest, ev.digest, 32);
    out->seal = p->seal;
    return ldg_tlog_inclusion_proof(prover_reader, p, ev.seal_leaf,
                                    p->seal.count, out->path, &out->n);
}
