/*
 * tlog_memo.c — RFC 9162 inclusion checks for many proofs against one
 * tree (ldg_tlog_verify_inclusion_memo): what verify-bundle runs for every
 * event of a bundle. The plain walk is ldg_tlog_verify_inclusion
 * (tlog.c); this one gives the same answer and remembers the last path.
 */
#include <string.h>

#include "ledger/tlog_int.h"

/*
 * Many proofs against one tree. Each step of ldg_tlog_verify_inclusion's
 * loop (tlog.c) leaves r as
 * the hash of one node, named by (shifts so far, fn): with size fixed, the
 * rest of the walk (fn, sn and which side each proof hash goes) depends
 * only on that node and on the proof hashes still to come. So when a
 * proof reaches a node that the last proof which verified also passed
 * through, with the same hash, and its remaining proof hashes are that
 * proof's remaining hashes, it ends at the same root: it verifies, and
 * the hashing above that node is skipped. Anything else (another hash,
 * other remaining hashes) takes the full walk. Proofs of neighbouring
 * leaves share all but their lowest nodes, so a run of them costs about
 * two hashes each instead of log2(size).
 */
/* The memo becomes this proof's path: its own nodes up to the one where
 * it joined the memo's (at the memo's step j), the memo's above. Both
 * parts are verified, so the whole is, and the next neighbour joins low. */
static void
join_memo(struct ldg_tlog_memo *m, const struct ldg_tlog_memo *cur, size_t j)
{
    size_t low = cur->n, high = m->n - (j + 1);

    memmove(m->shifts + low, m->shifts + j + 1, high * sizeof m->shifts[0]);
    memmove(m->fn + low, m->fn + j + 1, high * sizeof m->fn[0]);
    memmove(m->node + low, m->node + j + 1, high * 32);
    memmove(m->sib + low, m->sib + j + 1, high * 32);
    memcpy(m->shifts, cur->shifts, low * sizeof m->shifts[0]);
    memcpy(m->fn, cur->fn, low * sizeof m->fn[0]);
    memcpy(m->node, cur->node, low * 32);
    memcpy(m->sib, cur->sib, low * 32);
    m->n = low + high;
}

int
ldg_tlog_verify_inclusion_memo(struct ldg_tlog_memo *m, const uint8_t leaf[32],
                               uint64_t index, uint64_t size,
                               const uint8_t proof[][32], size_t n,
                               const uint8_t root[32])
{
    uint64_t fn = index, sn, shifts = 0;
    uint8_t r[32];
    size_t j = 0; /* position in the memo's path, by shifts */
    struct ldg_tlog_memo cur;

    if (m == NULL || m->size != size || memcmp(m->root, root, 32) != 0) {
        if (m != NULL) {
            m->n = 0;
            m->size = size;
            memcpy(m->root, root, 32);
        }
    }
    if (leaf == NULL || root == NULL || (proof == NULL && n > 0))
        return LDG_EINVAL;
    if (index >= size || size > TREE_SIZE_MAX || n > LDG_PROOF_MAX)
        return LDG_EBADPROOF;
    sn = size - 1;
    memcpy(r, leaf, 32);
    cur.n = 0;
    for (size_t i = 0; i < n; i++) {
        if (sn == 0)
            return LDG_EBADPROOF;
        if ((fn & 1) || fn == sn) {
            ldg_tlog_node_hash(r, proof[i], r);
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
                shifts++;
            }
        } else {
            ldg_tlog_node_hash(r, r, proof[i]);
        }
        fn >>= 1;
        sn >>= 1;
        shifts++;
        if (m == NULL)
            continue;
        cur.shifts[cur.n] = shifts;
        cur.fn[cur.n] = fn;
        memcpy(cur.node[cur.n], r, 32);
        memcpy(cur.sib[cur.n], proof[i], 32);
        cur.n++;
        while (j < m->n && m->shifts[j] < shifts)
            j++;
        if (j < m->n && m->shifts[j] == shifts && m->fn[j] == fn &&
            memcmp(m->node[j], r, 32) == 0 && n - (i + 1) == m->n - (j + 1)) {
            size_t k = 1;
            while (i + k < n && memcmp(proof[i + k], m->sib[j + k], 32) == 0)
                k++;
            if (i + k == n) { /* joins the memo's verified path */
                join_memo(m, &cur, j);
                return 0;
            }
        }
    }
    if (sn != 0 || memcmp(r, root, 32) != 0)
        return LDG_EBADPROOF;
    if (m != NULL) {
        size_t sz = cur.n;
        memcpy(m->shifts, cur.shifts, sz * sizeof cur.shifts[0]);
        memcpy(m->fn, cur.fn, sz * sizeof cur.fn[0]);
        memcpy(m->node, cur.node, sz * 32);
        memcpy(m->sib, cur.sib, sz * 32);
        m->n = sz;
    }
    return 0;
}
