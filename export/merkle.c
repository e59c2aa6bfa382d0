/*
 * merkle.c — the tlog-proof@v1 text and RFC 6962 inclusion checks that
 * verify-bundle needs, without a ledger.
 *
 * Why not ldg_proof_check for each entry? It verifies the Ed25519
 * signature of the checkpoint embedded in every proof. A bundle carries
 * one checkpoint for thousands of proofs; verify-bundle checks that
 * signature once, requires every proof to embed exactly those bytes, and
 * then only needs the hash path, which is all this file does.
 *
 *     c2sp.org/tlog-proof@v1\n
 *     [extra <base64>\n]               optional, ignored
 *     index <decimal>\n
 *     <base64 of 32 bytes>\n           0..63 proof hashes, leaf to root
 *     \n
 *     <signed checkpoint note>         to the end
 */
#include <string.h>

#include "export/export_int.h"

#define PROOF_MAGIC "c2sp.org/tlog-proof@v1\n"

/* The next line of [*p, end) without its '\n'; the '\n' must be there. */
static int
next_line(const char **p, const char *end, const char **line, size_t *len)
{
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    if (nl == NULL)
        return -1;
    *line = *p;
    *len = (size_t)(nl - *p);
    *p = nl + 1;
    return 0;
}

int
bproof_parse(struct bproof *pr, const char *text, size_t len)
{
    return bproof_parse_cached(pr, text, len, NULL);
}

/* A proof hash line: reuses the cache's decoding when the text is the
 * same as the line at that position of the previous proof (base64
 * decoding is a function of the text, so this is exact). */
static int
hash_line(struct bproof_cache *c, size_t i, const char *line, uint8_t out[32])
{
    if (c != NULL && i < c->n && memcmp(c->text[i], line, 44) == 0) {
        memcpy(out, c->hash[i], 32);
        return 0;
    }
    if (ldg_unbase64(out, 32, line, 44) < 0)
        return -1;
    if (c != NULL) {
        memcpy(c->text[i], line, 44);
        memcpy(c->hash[i], out, 32);
        if (i >= c->n)
            c->n = i + 1;
    }
    return 0;
}

int
bproof_parse_cached(struct bproof *pr, const char *text, size_t len,
                    struct bproof_cache *cache)
{
    const char *p = text, *end = text + len, *line;
    size_t ll, ml = strlen(PROOF_MAGIC);

    memset(pr, 0, sizeof *pr);
    if (len < ml || memcmp(text, PROOF_MAGIC, ml) != 0)
        return LDG_EBADINPUT;
    p += ml;
    if (next_line(&p, end, &line, &ll) < 0)
        return LDG_EBADINPUT;
    if (ll >= 6 && memcmp(line, "extra ", 6) == 0) {
        if (next_line(&p, end, &line, &ll) < 0)
            return LDG_EBADINPUT;
    }
    if (ll < 7 || memcmp(line, "index ", 6) != 0 ||
        parse_dec(line + 6, ll - 6, &pr->index) < 0)
        return LDG_EBADINPUT;
    for (;;) {
        if (next_line(&p, end, &line, &ll) < 0)
            return LDG_EBADINPUT;
        if (ll == 0)
            break;
        if (pr->n == 63 || ll != 44 ||
            hash_line(cache, pr->n, line, pr->hashes[pr->n]) < 0)
            return LDG_EBADINPUT;
        pr->n++;
    }
    if (p == end)
        return LDG_EBADINPUT;
    pr->checkpoint = p;
    pr->checkpoint_len = (size_t)(end - p);
    return 0;
}

static void
node_hash(uint8_t out[32], const uint8_t l[32], const uint8_t r[32])
{
    uint8_t buf[65];
    buf[0] = 0x01;
    memcpy(buf + 1, l, 32);
    memcpy(buf + 33, r, 32);
    ldg_sha256(out, buf, sizeof buf);
}

/*
 * RFC 9162 2.1.3.2, step by step: fn walks the leaf's index up the tree,
 * sn the last index; a proof hash is a left sibling when fn is odd or fn
 * is the last node of its level (then levels where fn is a left child
 * with no right sibling are skipped). The proof is right when the path
 * ends at the root (sn == 0) with the expected hash.
 */
int
merkle_verify_inclusion(const uint8_t leaf[32], uint64_t index, uint64_t size,
                        const uint8_t (*proof)[32], size_t n,
                        const uint8_t root[32])
{
    uint64_t fn = index, sn;
    uint8_t r[32];

    if (index >= size)
        return LDG_EBADPROOF;
    sn = size - 1;
    memcpy(r, leaf, 32);
    for (size_t i = 0; i < n; i++) {
        if (sn == 0)
            return LDG_EBADPROOF;
        if ((fn & 1) || fn == sn) {
            node_hash(r, proof[i], r);
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            node_hash(r, r, proof[i]);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0 || memcmp(r, root, 32) != 0)
        return LDG_EBADPROOF;
    return 0;
}

/*
 * Many proofs against one tree. Each step of the loop above leaves r as
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
join_memo(struct merkle_memo *m, const struct merkle_memo *cur, size_t j)
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
merkle_verify_inclusion_memo(struct merkle_memo *m, const uint8_t leaf[32],
                             uint64_t index, uint64_t size,
                             const uint8_t (*proof)[32], size_t n,
                             const uint8_t root[32])
{
    uint64_t fn = index, sn, shifts = 0;
    uint8_t r[32];
    size_t j = 0; /* position in the memo's path, by shifts */
    struct merkle_memo cur;

    if (m == NULL || m->size != size || memcmp(m->root, root, 32) != 0) {
        if (m != NULL) {
            m->n = 0;
            m->size = size;
            memcpy(m->root, root, 32);
        }
    }
    if (index >= size || n > 64)
        return LDG_EBADPROOF;
    sn = size - 1;
    memcpy(r, leaf, 32);
    cur.n = 0;
    for (size_t i = 0; i < n; i++) {
        if (sn == 0)
            return LDG_EBADPROOF;
        if ((fn & 1) || fn == sn) {
            node_hash(r, proof[i], r);
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
                shifts++;
            }
        } else {
            node_hash(r, r, proof[i]);
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
