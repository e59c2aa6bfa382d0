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
            ldg_unbase64(pr->hashes[pr->n], 32, line, ll) < 0)
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
