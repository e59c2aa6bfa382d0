/*
 * tlog.c — RFC 6962 Merkle tree math, RFC 9162 proof verification, C2SP
 * tlog-tiles paths, and the text formats that carry proofs (C2SP
 * tlog-proof@v1 and the tlog-witness add-checkpoint body).
 *
 * Pure functions: hashes come in through an ldg_hash_reader, text goes out
 * in malloc'd buffers. No LMDB, no files.
 *
 * The tree. RFC 6962 defines MTH over a list of leaves D[0:n] by splitting
 * at k, the largest power of two below n. Every node of such a tree that is
 * the root of a *complete* subtree covers an aligned range [i*2^L,
 * (i+1)*2^L); the log stores exactly those hashes ("stored hashes", as in
 * Go's sumdb/tlog), each once, when the subtree becomes complete:
 *
 *     level 2            [0,4)
 *                      /       \
 *     level 1      [0,2)       [2,4)       [4,6)
 *                 /     \     /     \     /     \
 *     level 0   [0]    [1]  [2]    [3]  [4]    [5]   [6]      (size 7)
 *
 * Any node of the size-7 tree that is not stored ([4,7), [0,7)) is the
 * right-to-left fold of the maximal aligned stored subtrees it spans:
 * MTH(D[4:7]) = H([4,6), [6]). range_hash() does this fold; it gives MTH
 * for every range the proof algorithms ask for, because those are always
 * RFC 6962 subtrees (start aligned to the power of two above their size).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/crypto_int.h"
#include "ledger/ledger.h"
#include "ledger/tlog_int.h"
#include "util/util.h"

/* Sizes are capped at 2^63 leaves: then every inclusion proof has at most
 * 63 hashes and every consistency proof at most 64 (LDG_PROOF_MAX), and
 * the sizes fit the int64 that other implementations (Go) use. */

/* A range [lo, hi) splits into at most 64 increasing and 64 decreasing
 * aligned powers of two. */
#define RANGE_PIECES_MAX 128

#define PROOF_MAGIC "c2sp.org/tlog-proof@v1\n"
#define B64_HASH_LEN 44 /* base64 of 32 bytes, with one '=' */

void
ldg_tlog_leaf_hash(uint8_t out[32], const void *entry, size_t n)
{
    struct ldg_sha256_ctx c;
    static const uint8_t prefix = 0x00;

    ldg_sha256_init(&c);
    ldg_sha256_update(&c, &prefix, 1);
    ldg_sha256_update(&c, entry, n);
    ldg_sha256_final(&c, out);
}

void
ldg_tlog_node_hash(uint8_t out[32], const uint8_t left[32],
                   const uint8_t right[32])
{
    uint8_t buf[1 + 2 * LDG_HASH_LEN];

    /* Copy first: out may alias left or right. */
    buf[0] = 0x01;
    memcpy(buf + 1, left, LDG_HASH_LEN);
    memcpy(buf + 1 + LDG_HASH_LEN, right, LDG_HASH_LEN);
    ldg_sha256(out, buf, sizeof buf);
}

static int
is_pow2(uint64_t n)
{
    return n != 0 && (n & (n - 1)) == 0;
}

/* The largest power of two strictly below n (n >= 2). */
static uint64_t
split_point(uint64_t n)
{
    uint64_t k = 1;

    LDG_ASSERT(n >= 2);
    while (k < n - k)
        k <<= 1;
    LDG_ASSERT(k < n && n <= 2 * k && is_pow2(k)); /* the split of RFC 6962 */
    return k;
}

int
ldg_tlog_range_hash(ldg_hash_reader rd, void *ctx, uint64_t lo, uint64_t hi,
                    uint8_t out[32])
{
    uint8_t piece[RANGE_PIECES_MAX][LDG_HASH_LEN];
    size_t n = 0;
    int rc;

    if (rd == NULL || lo >= hi || hi > TREE_SIZE_MAX)
        return LDG_EINVAL;
    /* Left to right, take the largest aligned complete subtree that starts
     * at lo and ends by hi. */
    while (lo < hi) {
        int level = 0;
        while (level < 63) {
            uint64_t k = (uint64_t)1 << (level + 1);
            if ((lo & (k - 1)) != 0 || hi - lo < k)
                break;
            level++;
        }
        if (LDG_NEVER(n == RANGE_PIECES_MAX))
            return LDG_EINVAL; /* cannot happen for hi <= 2^63 */
        /* a complete subtree, aligned: 2^level leaves from lo */
        LDG_ASSERT((lo & (((uint64_t)1 << level) - 1)) == 0 &&
                   hi - lo >= (uint64_t)1 << level);
        rc = rd(ctx, level, lo >> level, piece[n]);
        if (rc < 0)
            return rc;
        n++;
        lo += (uint64_t)1 << level;
    }
    /* Fold right to left: MTH nests to the right. */
    memcpy(out, piece[n - 1], LDG_HASH_LEN);
    while (n-- > 1)
        ldg_tlog_node_hash(out, piece[n - 1], out);
    return 0;
}

int
ldg_tlog_root(ldg_hash_reader rd, void *ctx, uint64_t size, uint8_t out[32])
{
    if (size == 0) {
        ldg_sha256(out, "", 0);
        return 0;
    }
    return ldg_tlog_range_hash(rd, ctx, 0, size, out);
}

/*
 * PATH(m, D[n]) per RFC 6962 section 2.1.1, unrolled: walking down from the
 * root, each step records the sibling of the half that holds m. The proof
 * lists them bottom-up (the leaf's sibling first), so they are collected
 * top-down and reversed.
 */
int
ldg_tlog_inclusion_proof(ldg_hash_reader rd, void *ctx, uint64_t index,
                         uint64_t size, uint8_t proof[][32], size_t *n)
{
    uint8_t path[LDG_PROOF_MAX][LDG_HASH_LEN];
    uint64_t lo = 0, hi = size;
    size_t cnt = 0;
    int rc;

    if (rd == NULL || proof == NULL || n == NULL || index >= size ||
        size > TREE_SIZE_MAX)
        return LDG_EINVAL;
    while (hi - lo > 1) {
        uint64_t k = split_point(hi - lo);
        LDG_ASSERT(lo <= index && index < hi && cnt < LDG_PROOF_MAX);
        if (index < lo + k) {
            rc = ldg_tlog_range_hash(rd, ctx, lo + k, hi, path[cnt]);
            hi = lo + k;
        } else {
            rc = ldg_tlog_range_hash(rd, ctx, lo, lo + k, path[cnt]);
            lo += k;
        }
        if (rc < 0)
            return rc;
        cnt++;
    }
    LDG_ASSERT(lo == index && hi == index + 1); /* down to the leaf */
    for (size_t i = 0; i < cnt; i++)
        memcpy(proof[i], path[cnt - 1 - i], LDG_HASH_LEN);
    *n = cnt;
    return 0;
}

/*
 * PROOF(m, D[n]) = SUBPROOF(m, D[n], true) per RFC 6962 section 2.1.2:
 *
 *   SUBPROOF(m, D[m], true)  = {}
 *   SUBPROOF(m, D[m], false) = {MTH(D[m])}
 *   m <= k: SUBPROOF(m, D[0:k], b) : MTH(D[k:n])
 *   m >  k: SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])
 *
 * Unrolled the same way as PATH: siblings collected top-down, then the
 * innermost MTH(D[m]) (only if we ever went right, b = false) comes first
 * in the output, followed by the siblings bottom-up.
 */
int
ldg_tlog_consistency_proof(ldg_hash_reader rd, void *ctx, uint64_t old,
                           uint64_t size, uint8_t proof[][32], size_t *n)
{
    uint8_t path[LDG_PROOF_MAX][LDG_HASH_LEN];
    uint64_t lo = 0, hi = size;
    size_t cnt = 0, out = 0;
    int whole = 1; /* b: the old tree is a prefix of the current range */
    int rc;

    if (rd == NULL || proof == NULL || n == NULL || old == 0 || old > size ||
        size > TREE_SIZE_MAX)
        return LDG_EINVAL;
    while (old < hi) {
        uint64_t k = split_point(hi - lo);
        LDG_ASSERT(lo <= old && cnt < LDG_PROOF_MAX);
        if (old - lo <= k) {
            rc = ldg_tlog_range_hash(rd, ctx, lo + k, hi, path[cnt]);
            hi = lo + k;
        } else {
            rc = ldg_tlog_range_hash(rd, ctx, lo, lo + k, path[cnt]);
            lo += k;
            whole = 0;
        }
        if (rc < 0)
            return rc;
        cnt++;
    }
    if (!whole) {
        rc = ldg_tlog_range_hash(rd, ctx, lo, hi, proof[out]);
        if (rc < 0)
            return rc;
        out++;
    }
    if (LDG_NEVER(out + cnt > LDG_PROOF_MAX))
        return LDG_EINVAL; /* cannot happen for size <= 2^63 */
    for (size_t i = 0; i < cnt; i++)
        memcpy(proof[out + i], path[cnt - 1 - i], LDG_HASH_LEN);
    *n = out + cnt;
    return 0;
}

/*
 * RFC 9162 section 2.1.3.2. fn walks up from the leaf, sn from the last
 * leaf; where fn is a right child, or the last node of its level (fn ==
 * sn, a node promoted without a sibling), the proof hash goes on the left.
 * The path must use up the tree exactly: sn reaches 0 at the end and not
 * before.
 */
int
ldg_tlog_verify_inclusion(const uint8_t leaf_hash[32], uint64_t index,
                          uint64_t size, const uint8_t proof[][32], size_t n,
                          const uint8_t root[32])
{
    uint8_t r[LDG_HASH_LEN];
    uint64_t fn = index, sn;

    if (leaf_hash == NULL || root == NULL || (proof == NULL && n > 0))
        return LDG_EINVAL;
    if (index >= size || size > TREE_SIZE_MAX || n > LDG_PROOF_MAX)
        return LDG_EBADPROOF;
    sn = size - 1;
    memcpy(r, leaf_hash, LDG_HASH_LEN);
    for (size_t i = 0; i < n; i++) {
        if (sn == 0)
            return LDG_EBADPROOF;
        if ((fn & 1) || fn == sn) {
            ldg_tlog_node_hash(r, proof[i], r);
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            ldg_tlog_node_hash(r, r, proof[i]);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0 || memcmp(r, root, LDG_HASH_LEN) != 0)
        return LDG_EBADPROOF;
    return 0;
}

/*
 * RFC 9162 section 2.1.4.2, plus the two trivial cases it leaves to the
 * caller: equal sizes (empty proof, equal roots) and an empty old tree
 * (empty proof; its root is SHA-256 of the empty string, which we check
 * so that a made-up old root is never accepted).
 *
 * fr rebuilds the old root and sr the new one from the same path. When old
 * is a power of two the old tree is itself a complete subtree and the
 * proof omits it: the old root is the path's first element.
 */
int
ldg_tlog_verify_consistency(uint64_t old, uint64_t size,
                            const uint8_t old_root[32],
                            const uint8_t new_root[32],
                            const uint8_t proof[][32], size_t n)
{
    uint8_t fr[LDG_HASH_LEN], sr[LDG_HASH_LEN], empty[LDG_HASH_LEN];
    const uint8_t *first;
    uint64_t fn, sn;
    size_t i = 0;

    if (old_root == NULL || new_root == NULL || (proof == NULL && n > 0))
        return LDG_EINVAL;
    if (old > size || size > TREE_SIZE_MAX || n > LDG_PROOF_MAX)
        return LDG_EBADPROOF;
    if (old == 0) {
        ldg_sha256(empty, "", 0);
        if (n != 0 || memcmp(old_root, empty, LDG_HASH_LEN) != 0)
            return LDG_EBADPROOF;
        if (size == 0 && memcmp(new_root, empty, LDG_HASH_LEN) != 0)
            return LDG_EBADPROOF;
        return 0;
    }
    if (old == size) {
        if (n != 0 || memcmp(old_root, new_root, LDG_HASH_LEN) != 0)
            return LDG_EBADPROOF;
        return 0;
    }
    if (n == 0)
        return LDG_EBADPROOF;
    if (is_pow2(old)) {
        first = old_root;
    } else {
        first = proof[0];
        i = 1;
    }
    fn = old - 1;
    sn = size - 1;
    while (fn & 1) {
        fn >>= 1;
        sn >>= 1;
    }
    memcpy(fr, first, LDG_HASH_LEN);
    memcpy(sr, first, LDG_HASH_LEN);
    for (; i < n; i++) {
        if (sn == 0)
            return LDG_EBADPROOF;
        if ((fn & 1) || fn == sn) {
            ldg_tlog_node_hash(fr, proof[i], fr);
            ldg_tlog_node_hash(sr, proof[i], sr);
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            ldg_tlog_node_hash(sr, sr, proof[i]);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0 || memcmp(fr, old_root, LDG_HASH_LEN) != 0 ||
        memcmp(sr, new_root, LDG_HASH_LEN) != 0)
        return LDG_EBADPROOF;
    return 0;
}

/* ---------------------------------------------------------------- tiles -- */

/*
 * C2SP tlog-tiles names a tile by level and index, the index written in
 * groups of three digits, every group but the last prefixed with "x" so
 * that a directory never shares a name with a file:
 *
 *     level 0, index 1234067, full      tile/0/x001/x234/067
 *     level 1, index 5, 17 hashes       tile/1/005.p/17
 *     entries, index 0, 3 entries       tile/entries/000.p/3
 */
int
ldg_tlog_tile_path(char *buf, size_t cap, int level, uint64_t index,
                   unsigned width)
{
    char groups[8][4]; /* 2^64 has 20 digits: at most 7 groups */
    size_t ng = 0, len = 0;
    int w;

    if (buf == NULL || level < -1 || level > 63 || width < 1 ||
        width > LDG_TILE_WIDTH)
        return LDG_EINVAL;
    do {
        unsigned g = (unsigned)(index % 1000);
        groups[ng][0] = (char)('0' + g / 100);
        groups[ng][1] = (char)('0' + g / 10 % 10);
        groups[ng][2] = (char)('0' + g % 10);
        groups[ng][3] = '\0';
        ng++;
        index /= 1000;
    } while (index > 0);

    if (level < 0)
        w = snprintf(buf, cap, "tile/entries/");
    else
        w = snprintf(buf, cap, "tile/%d/", level);
    if (w < 0 || (size_t)w >= cap)
        return LDG_EINVAL;
    len = (size_t)w;
    while (ng-- > 0) {
        w = snprintf(buf + len, cap - len, "%s%s%s", ng > 0 ? "x" : "",
                     groups[ng], ng > 0 ? "/" : "");
        if (w < 0 || (size_t)w >= cap - len)
            return LDG_EINVAL;
        len += (size_t)w;
    }
    if (width < LDG_TILE_WIDTH) {
        w = snprintf(buf + len, cap - len, ".p/%u", width);
        if (w < 0 || (size_t)w >= cap - len)
            return LDG_EINVAL;
        len += (size_t)w;
    }
    return (int)len;
}

/* ------------------------------------------------------- text formats -- */

/* The body both proof texts share: head (the magic and index line, or the
 * old line), the hashes in base64 a line each, a blank line, the signed
 * checkpoint. Into *out (malloc'd), bounded at 1 MiB. */
static int
proof_text(char **out, const char *head, const uint8_t proof[][32], size_t n,
           const char *signed_checkpoint)
{
    struct ldg_buf b;
    char line[B64_HASH_LEN + 2];

    ldg_buf_init(&b, 1 << 20);
    ldg_buf_puts(&b, head);
    for (size_t i = 0; i < n; i++) {
        ldg_base64(line, proof[i], LDG_HASH_LEN);
        line[B64_HASH_LEN] = '\n';
        ldg_buf_add(&b, line, B64_HASH_LEN + 1);
    }
    ldg_buf_puts(&b, "\n");
    ldg_buf_puts(&b, signed_checkpoint);
    if (b.err) {
        int rc = b.err;
        ldg_buf_release(&b);
        return rc;
    }
    *out = ldg_buf_detach(&b, NULL);
    return 0;
}

/* The next '\n'-terminated line of [*p, end): sets line/len (without the
 * newline) and advances *p. LDG_EBADINPUT if there is no newline. */
static int
next_line(const char **p, const char *end, const char **line, size_t *len)
{
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));

    if (nl == NULL)
        return LDG_EBADINPUT;
    *line = *p;
    *len = (size_t)(nl - *p);
    *p = nl + 1;
    return 0;
}

/* A hash line, decoded: from the cache when it holds the same text at
 * this position of the previous proof (base64 decoding is a function of
 * the text, so this is exact). */
static int
hash_line(struct ldg_tlog_proof_cache *c, size_t i, const char *line,
          uint8_t out[32])
{
    if (c != NULL && i < c->n && memcmp(c->text[i], line, B64_HASH_LEN) == 0) {
        memcpy(out, c->hash[i], 32);
        return 0;
    }
    if (ldg_unbase64(out, LDG_HASH_LEN, line, B64_HASH_LEN) < 0)
        return LDG_EBADINPUT;
    if (c != NULL) {
        memcpy(c->text[i], line, B64_HASH_LEN);
        memcpy(c->hash[i], out, 32);
        if (i >= c->n)
            c->n = i + 1;
    }
    return 0;
}

/* Hash lines up to the first empty line, which is consumed. */
static int
parse_hash_lines(const char **p, const char *end, uint8_t proof[][32],
                 size_t *n, struct ldg_tlog_proof_cache *cache)
{
    const char *line;
    size_t len, cnt = 0;
    int rc;

    for (;;) {
        rc = next_line(p, end, &line, &len);
        if (rc < 0)
            return rc;
        if (len == 0)
            break;
        if (cnt == LDG_PROOF_MAX || len != B64_HASH_LEN ||
            hash_line(cache, cnt, line, proof[cnt]) < 0)
            return LDG_EBADINPUT;
        cnt++;
    }
    *n = cnt;
    return 0;
}

/* Standard padded base64 of at least one byte (the "extra" line). */
static int
valid_base64(const char *s, size_t len)
{
    size_t pad = 0;

    if (len == 0 || len % 4 != 0)
        return 0;
    while (pad < 2 && s[len - 1 - pad] == '=')
        pad++;
    for (size_t i = 0; i < len - pad; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9') || c == '+' || c == '/'))
            return 0;
    }
    return 1;
}

/*
 * tlog-proof@v1:
 *
 *     c2sp.org/tlog-proof@v1\n
 *     [extra <base64>\n]             optional, unauthenticated; skipped
 *     index <decimal>\n
 *     <base64 hash>\n                zero or more, leaf's sibling first
 *     \n
 *     <signed checkpoint note>
 */
int
ldg_tlog_proof_format(char **out, uint64_t index, const uint8_t proof[][32],
                      size_t n, const char *signed_checkpoint)
{
    char head[128];

    if (out == NULL)
        return LDG_EINVAL;
    *out = NULL;
    if ((proof == NULL && n > 0) || n > LDG_PROOF_MAX ||
        signed_checkpoint == NULL || signed_checkpoint[0] == '\0')
        return LDG_EINVAL;
    snprintf(head, sizeof head, "%sindex %llu\n", PROOF_MAGIC,
             (unsigned long long)index);
    return proof_text(out, head, proof, n, signed_checkpoint);
}

int
ldg_tlog_proof_parse(const char *text, size_t len, uint64_t *index,
                     uint8_t proof[][32], size_t *n, const char **checkpoint,
                     size_t *checkpoint_len)
{
    return ldg_tlog_proof_parse_cached(text, len, index, proof, n, checkpoint,
                                       checkpoint_len, NULL);
}

int
ldg_tlog_proof_parse_cached(const char *text, size_t len, uint64_t *index,
                            uint8_t proof[][32], size_t *n,
                            const char **checkpoint, size_t *checkpoint_len,
                            struct ldg_tlog_proof_cache *cache)
{
    const char *p = text, *end = text + len, *line;
    size_t ll, magic_len = strlen(PROOF_MAGIC);
    int rc;

    if (text == NULL || index == NULL || proof == NULL || n == NULL ||
        checkpoint == NULL || checkpoint_len == NULL)
        return LDG_EINVAL;
    if (len < magic_len || memcmp(text, PROOF_MAGIC, magic_len) != 0)
        return LDG_EBADINPUT;
    p += magic_len;
    rc = next_line(&p, end, &line, &ll);
    if (rc < 0)
        return rc;
    if (ll >= 6 && memcmp(line, "extra ", 6) == 0) {
        if (!valid_base64(line + 6, ll - 6))
            return LDG_EBADINPUT;
        rc = next_line(&p, end, &line, &ll);
        if (rc < 0)
            return rc;
    }
    if (ll < 6 || memcmp(line, "index ", 6) != 0 ||
        ldg_parse_u64(line + 6, ll - 6, LDG_DEC_CANONICAL, index) < 0)
        return LDG_EBADINPUT;
    rc = parse_hash_lines(&p, end, proof, n, cache);
    if (rc < 0)
        return rc;
    if (p == end)
        return LDG_EBADINPUT; /* no checkpoint */
    *checkpoint = p;
    *checkpoint_len = (size_t)(end - p);
    return 0;
}

/*
 * tlog-witness add-checkpoint request body:
 *
 *     old <decimal>\n
 *     <base64 hash>\n                zero or more (at most 63 per spec)
 *     \n
 *     <signed checkpoint note>
 */
int
ldg_tlog_consistency_format(char **out, uint64_t old, const uint8_t proof[][32],
                            size_t n, const char *signed_checkpoint)
{
    char head[64];

    if (out == NULL)
        return LDG_EINVAL;
    *out = NULL;
    if ((proof == NULL && n > 0) || n > LDG_PROOF_MAX ||
        signed_checkpoint == NULL || signed_checkpoint[0] == '\0')
        return LDG_EINVAL;
    snprintf(head, sizeof head, "old %llu\n", (unsigned long long)old);
    return proof_text(out, head, proof, n, signed_checkpoint);
}

int
ldg_tlog_consistency_parse(const char *text, size_t len, uint64_t *old,
                           uint8_t proof[][32], size_t *n,
                           const char **checkpoint, size_t *checkpoint_len)
{
    const char *p = text, *end = text + len, *line;
    size_t ll;
    int rc;

    if (text == NULL || old == NULL || proof == NULL || n == NULL ||
        checkpoint == NULL || checkpoint_len == NULL)
        return LDG_EINVAL;
    rc = next_line(&p, end, &line, &ll);
    if (rc < 0)
        return rc;
    if (ll < 4 || memcmp(line, "old ", 4) != 0 ||
        ldg_parse_u64(line + 4, ll - 4, LDG_DEC_CANONICAL, old) < 0)
        return LDG_EBADINPUT;
    rc = parse_hash_lines(&p, end, proof, n, NULL);
    if (rc < 0)
        return rc;
    if (*n > 63 || p == end)
        return LDG_EBADINPUT;
    *checkpoint = p;
    *checkpoint_len = (size_t)(end - p);
    return 0;
}
