/*
 * test_epoch.c — ledger/epoch.c: the certification tree over periods gives
 * tests/vectors/epoch-v1.txt's certs, links, keys and slot; each epoch key
 * is certified from the anchor and no other; advancing wipes every secret
 * of a past period; the state file is two slots overwritten in place, and
 * a power cut at each step of a store leaves exactly one current secret,
 * the old or the new; torn and tampered slots are recovered or refused.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "ledger/crypto_int.h"
#include "ledger/epoch_int.h"
#include "ledger/handle_int.h"
#include "tests/support/support.h"
#include "util/util.h"

#define VECTORS "tests/vectors/epoch-v1.txt"
#define T0 1700000000000000000ull
#define LEN 60000000000ull
static const char *
vec(const char *key)
{
    return t_vec(key);
}

static int
load_vectors(void **state)
{
    (void)state;
    return t_vectors_load(VECTORS);
}

static int
free_vectors(void **state)
{
    (void)state;
    t_vectors_free();
    return 0;
}

static void
hex_eq(const void *p, size_t n, const char *key)
{
    char *h = malloc(2 * n + 1);
    ldg_hex(h, p, n);
    if (strcmp(h, vec(key)) != 0)
        fail_msg("%s: got %s\nwant %s", key, h, vec(key));
    free(h);
}

/* The vectors' seeds: SHA-256("epoch-vector" ‖ u32be k), k = 0, 1, ... */
static void
vec_rnd(void *ctx, uint8_t seed[32])
{
    uint32_t *k = ctx;
    uint8_t m[16];
    memcpy(m, "epoch-vector", 12);
    ldg_be32(m + 12, (*k)++);
    ldg_sha256(seed, m, 16);
}

static void
cert_eq(const struct ldg_epoch_cert *c, const char *key)
{
    uint8_t b[128];
    memcpy(b, c->left, 32);
    memcpy(b + 32, c->right, 32);
    memcpy(b + 64, c->sig, 64);
    hex_eq(b, sizeof b, key);
}

static void
test_epoch__vectors(void **state)
{
    struct ldg_epoch_state *s = NULL;
    uint8_t seed[32], msg[LDG_EPOCH_CERT_MSG], lmsg[LDG_EPOCH_LINK_MSG];
    uint8_t *slot = ldg_secure_alloc(LDG_EPOCH_SLOT), sum[32], b[104];
    uint32_t k = 0;
    char key[32];
    (void)state;
    for (int i = 0; i < 32; i++)
        seed[i] = (uint8_t)i;
    assert_int_equal(ldg_epoch_state_from_seeds(&s, seed, T0, LEN, vec_rnd, &k),
                     0);
    hex_eq(s->par.anchor, 32, "anchor.pub");
    ldg_epoch_cert_msg(msg, &s->par, 0, 0, s->path[0].left, s->path[0].right);
    hex_eq(msg, sizeof msg, "cert.0.0.msg");
    hex_eq(s->path[0].sig, 64, "cert.0.0.sig");
    for (int l = 0; l < 32; l++) {
        snprintf(key, sizeof key, "p0.cert.%d", l);
        cert_eq(&s->path[l], key);
    }
    hex_eq(s->cur_pub, 32, "p0.key");
    ldg_epoch_slot_encode(slot, s, 1);
    ldg_sha256(sum, slot, LDG_EPOCH_SLOT);
    hex_eq(sum, 32, "p0.slot.sha256");

    assert_int_equal(ldg_epoch_advance_with(s, T0 + LEN + 5, vec_rnd, &k), 0);
    hex_eq(s->cur_pub, 32, "p1.key");
    cert_eq(&s->path[31], "p1.cert.31");
    assert_int_equal(ldg_epoch_advance_with(s, T0 + 6 * LEN + 7, vec_rnd, &k),
                     0);
    hex_eq(s->cur_pub, 32, "p6.key");
    cert_eq(&s->path[29], "p6.cert.29");
    cert_eq(&s->path[30], "p6.cert.30");
    cert_eq(&s->path[31], "p6.cert.31");
    assert_int_equal(
        ldg_epoch_advance_with(s, T0 + 6 * LEN + 30000000000ull, vec_rnd, &k),
        0);
    assert_int_equal(s->cur.period, 6);
    assert_int_equal(s->cur.sub, 1);
    ldg_epoch_link_msg(lmsg, &s->par, 6, 1, s->links[0].start_ns,
                       s->links[0].pub);
    hex_eq(lmsg, sizeof lmsg, "p6.1.msg");
    ldg_be64(b, s->links[0].start_ns);
    memcpy(b + 8, s->links[0].pub, 32);
    memcpy(b + 40, s->links[0].sig, 64);
    hex_eq(b, sizeof b, "p6.1.link");
    hex_eq(s->cur_pub, 32, "p6.1.key");
    ldg_epoch_slot_encode(slot, s, 7);
    hex_eq(slot, LDG_EPOCH_SLOT, "p6.1.slot");
    ldg_secure_free(slot);
    ldg_epoch_state_free(s);
}

static size_t
unhex_vec(uint8_t **out, const char *key)
{
    const char *h = vec(key);
    size_t n = strlen(h) / 2;
    *out = malloc(n);
    assert_int_equal(ldg_unhex(*out, n, h), 0);
    return n;
}

/* The epoch parts of two seals of core-v2's seal map: epoch 1.0 as the
 * key's first (all 32 certs) and 6.1 (levels 30 and 31, link 1); the
 * stored record of the second. */
/* The vectors' anchor, t0 and period. */
static void
vec_params(struct ldg_epoch_params *par)
{
    memset(par, 0, sizeof *par);
    assert_int_equal(ldg_unhex(par->anchor, 32, vec("anchor.pub")), 0);
    par->t0_ns = T0;
    par->len_ns = LEN;
}

static void
test_epoch__seal_vectors(void **state)
{
    struct ldg_epoch_chain c;
    struct ldg_epoch_params par;
    struct ldg_epoch_ext x;
    struct ldg_seal s;
    uint8_t *map, *e1, *e6, *rec, want[32];
    size_t nm, n1, n6, nr;
    char err[256];
    struct ldg_epoch_id id1 = {1, 0}, id6 = {6, 1};
    (void)state;
    nm = unhex_vec(&map, "seal.map");
    n1 = unhex_vec(&e1, "seal.ext.1.0");
    n6 = unhex_vec(&e6, "seal.ext.6.1");
    nr = unhex_vec(&rec, "seal.record.6.1");
    vec_params(&par);
    ldg_epoch_chain_init(&c, &par);
    assert_int_equal(ldg_epoch_ext_decode(e1, n1, &x), 0);
    assert_int_equal(ldg_epoch_chain_step(&c, &x, err, sizeof err), 0);
    assert_int_equal(ldg_unhex(want, 32, vec("p1.key")), 0);
    assert_memory_equal(c.pub, want, 32);
    assert_int_equal(ldg_epoch_seal_verify(c.pub, id1, map, nm, x.sig), 0);
    assert_int_equal(ldg_epoch_ext_decode(e6, n6, &x), 0);
    assert_int_equal(x.l0, 30);
    assert_int_equal(ldg_epoch_chain_step(&c, &x, err, sizeof err), 0);
    assert_int_equal(ldg_unhex(want, 32, vec("p6.1.key")), 0);
    assert_memory_equal(c.pub, want, 32);
    assert_true(c.start_ns == T0 + 6 * LEN + 30000000000ull);
    assert_int_equal(ldg_epoch_seal_verify(c.pub, id6, map, nm, x.sig), 0);
    /* the record decodes to the map and this part, no signature by the
     * key itself (so none to check: ldg_seal_verify refuses it), and
     * encodes back byte for byte */
    assert_int_equal(ldg_seal_record_decode(rec, nr, &s), 0);
    assert_int_equal(s.ext_len, n6);
    assert_memory_equal(s.ext, e6, n6);
    {
        static const uint8_t zero[64];
        uint8_t back[LDG_SEAL_REC_MAX], pub[32] = {0};
        size_t nb;
        assert_memory_equal(s.sig, zero, 64);
        assert_int_equal(ldg_seal_verify(&s, pub), LDG_EBADSIG);
        assert_int_equal(ldg_seal_record_encode(&s, back, sizeof back, &nb), 0);
        assert_int_equal(nb, nr);
        assert_memory_equal(back, rec, nr);
        assert_int_equal(nr, 1 + nm + 3 + n6);
    }
    /* every single-bit change of the 6.1 part is refused */
    for (size_t bit = 0; bit < n6 * 8; bit += 7) {
        struct ldg_epoch_chain c2;
        ldg_epoch_chain_init(&c2, &par);
        assert_int_equal(ldg_epoch_ext_decode(e1, n1, &x), 0);
        assert_int_equal(ldg_epoch_chain_step(&c2, &x, err, sizeof err), 0);
        e6[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        if (ldg_epoch_ext_decode(e6, n6, &x) == 0 &&
            ldg_epoch_chain_step(&c2, &x, err, sizeof err) == 0 &&
            ldg_epoch_seal_verify(c2.pub, c2.cur, map, nm, x.sig) == 0)
            fail_msg("bit %zu of the 6.1 part changed and it still holds", bit);
        e6[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    free(map);
    free(e1);
    free(e6);
    free(rec);
}

/* A horizon record's "epoch" (FORMAT.md 6.2): the chain at 6.1 kept whole
 * with a zero signature encodes to the vector's bytes, decodes back, and
 * the chain it gives is the one the seals made; a changed cert is
 * refused, and a part that is not whole does not decode. */
static void
test_epoch__horizon_vectors(void **state)
{
    uint8_t *e1, *e6, *want, *map, *rec;
    size_t n1, n6, nw, cap, n;
    struct ldg_epoch_params par;
    struct ldg_epoch_chain c, c2;
    struct ldg_epoch_ext x;
    struct ldg_horizon h, back;
    struct ldg_horizon_key k;
    static const uint8_t zero[64];
    uint8_t pub[32];
    char err[256];
    (void)state;

    n1 = unhex_vec(&e1, "seal.ext.1.0");
    n6 = unhex_vec(&e6, "seal.ext.6.1");
    nw = unhex_vec(&want, "horizon.epoch.6.1");
    vec_params(&par);
    ldg_epoch_chain_init(&c, &par);
    assert_int_equal(ldg_epoch_ext_decode(e1, n1, &x), 0);
    assert_int_equal(ldg_epoch_chain_step(&c, &x, err, sizeof err), 0);
    assert_int_equal(ldg_epoch_ext_decode(e6, n6, &x), 0);
    assert_int_equal(ldg_epoch_chain_step(&c, &x, err, sizeof err), 0);

    memset(&h, 0, sizeof h);
    memset(&k, 0, sizeof k);
    snprintf(k.key_id, sizeof k.key_id, "56475aa75463474c");
    snprintf(k.name, sizeof k.name, "log");
    snprintf(k.roles, sizeof k.roles, "*");
    k.revoked = UINT64_MAX;
    k.anchored = 1;
    k.anchor_seq = 3;
    memcpy(k.anchor, par.anchor, 32);
    k.anchor_t0_ns = T0;
    k.anchor_period_ns = LEN;
    assert_non_null(k.epoch = malloc(LDG_EPOCH_EXT_MAX));
    k.epoch_len = ldg_epoch_ext_encode_whole(k.epoch, &c, zero);
    h.keys = &k;
    h.nkeys = 1;
    h.seq = 9;
    snprintf(h.origin, sizeof h.origin, "example.org/log");
    cap = 1 + hz_map_cap(&h) + 66;
    assert_non_null(rec = malloc(cap));
    map = rec + 1;
    rec[0] = 0x92;
    assert_int_equal(hz_map_encode(&h, map, cap - 67, &n), 0);
    assert_non_null(memmem(map, n, want, nw));
    rec[1 + n] = 0xc4;
    rec[2 + n] = 64;
    memset(rec + 3 + n, 0, 64);
    assert_int_equal(ldg_horizon_parse(rec, n + 67, &back), 0);
    assert_int_equal(back.nkeys, 1);
    assert_true(back.keys[0].anchored);
    assert_int_equal(back.keys[0].anchor_seq, 3);
    assert_int_equal(back.keys[0].epoch_len, nw - 9 - 56);
    assert_int_equal(
        ldg_epoch_chain_from_horizon(&back.keys[0], &c2, err, sizeof err), 0);
    assert_int_equal(c2.cur.period, 6);
    assert_int_equal(c2.cur.sub, 1);
    assert_int_equal(ldg_unhex(pub, 32, vec("p6.1.key")), 0);
    assert_memory_equal(c2.pub, pub, 32);
    /* a cert changed: refused from the anchor */
    back.keys[0].epoch[74 + 31 * 128 + 70] ^= 1;
    assert_int_equal(
        ldg_epoch_chain_from_horizon(&back.keys[0], &c2, err, sizeof err),
        LDG_EBADSIG);
    ldg_horizon_release(&back);
    /* a part that is not whole (l0 = 30) does not decode */
    ((uint8_t *)memmem(map, n, want, nw))[9 + 56 + 72] = 30;
    assert_int_equal(ldg_horizon_parse(rec, n + 67, &back), LDG_ECORRUPT);
    free(k.epoch);
    free(rec);
    free(e1);
    free(e6);
    free(want);
}

/* Every epoch key verifies from the anchor with its path and links, and a
 * cert, link or key changed in any byte does not. */
static void
test_epoch__chain_from_anchor(void **state)
{
    struct ldg_epoch_state *s = NULL;
    struct ldg_epoch_cert path[32];
    struct ldg_epoch_link links[LDG_EPOCH_SUBS_MAX];
    uint8_t pub[32];
    uint64_t start;
    char err[256];
    (void)state;
    assert_int_equal(ldg_epoch_state_new(&s, T0, LEN), 0);
    assert_int_equal(ldg_epoch_state_check(s, err, sizeof err), 0);
    assert_int_equal(ldg_epoch_verify(&s->par, s->cur, s->path, s->links, pub,
                                      &start, err, sizeof err),
                     0);
    assert_memory_equal(pub, s->cur_pub, 32);
    assert_true(start == T0);
    assert_int_equal(ldg_epoch_advance(s, T0 + 3 * LEN + 1), 0);
    assert_int_equal(ldg_epoch_advance(s, T0 + 3 * LEN + 9), 0);
    assert_int_equal(ldg_epoch_advance(s, T0 + 3 * LEN + 10), 0);
    assert_int_equal(ldg_epoch_state_check(s, err, sizeof err), 0);
    assert_int_equal(ldg_epoch_verify(&s->par, s->cur, s->path, s->links, pub,
                                      &start, err, sizeof err),
                     0);
    assert_memory_equal(pub, s->cur_pub, 32);
    assert_true(start == T0 + 3 * LEN + 10);

    /* every single-bit change of a cert or link is refused */
    for (int l = 0; l < 32; l += 7) {
        for (size_t bit = 0; bit < 128 * 8; bit += 61) {
            memcpy(path, s->path, sizeof path);
            ((uint8_t *)&path[l])[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            /* a flip in the sibling's key off the path changes nothing
             * but the cert's signature, which then fails too */
            assert_int_equal(ldg_epoch_verify(&s->par, s->cur, path, s->links,
                                              pub, NULL, err, sizeof err),
                             LDG_EBADSIG);
        }
    }
    for (size_t bit = 0; bit < 104 * 8; bit += 13) {
        memcpy(links, s->links, sizeof links);
        size_t j = bit / 8 < 8 ? 0 : 1;
        uint8_t *p = bit / 8 < 8 ? (uint8_t *)&links[j].start_ns
                                 : (uint8_t *)&links[j] + 8 + (bit / 8 - 8);
        p[bit / 8 < 8 ? bit / 8 : 0] ^= (uint8_t)(1u << (bit % 8));
        assert_int_equal(ldg_epoch_verify(&s->par, s->cur, s->path, links, pub,
                                          NULL, err, sizeof err),
                         LDG_EBADSIG);
    }
    /* the same path does not certify another period, nor other params */
    {
        struct ldg_epoch_id other = {4, 0};
        struct ldg_epoch_params par = s->par;
        assert_int_equal(ldg_epoch_verify(&s->par, other, s->path, s->links,
                                          pub, NULL, err, sizeof err),
                         LDG_EBADSIG);
        assert_non_null(strstr(err, "epoch 4.0"));
        par.len_ns++;
        assert_int_equal(ldg_epoch_verify(&par, s->cur, s->path, s->links, pub,
                                          NULL, err, sizeof err),
                         LDG_EBADSIG);
        par = s->par;
        par.anchor[0] ^= 1;
        assert_int_equal(ldg_epoch_verify(&par, s->cur, s->path, s->links, pub,
                                          NULL, err, sizeof err),
                         LDG_EBADSIG);
        assert_non_null(strstr(err, "anchor"));
    }
    ldg_epoch_state_free(s);
}

/* Advances go forward only, sub-epochs up to the limit, and a failed one
 * changes nothing. */
static void
test_epoch__advance_rules(void **state)
{
    struct ldg_epoch_state *s = NULL;
    uint8_t before[32];
    char err[256];
    (void)state;
    assert_int_equal(ldg_epoch_state_new(&s, T0, LEN), 0);
    assert_int_equal(ldg_epoch_advance(s, T0), LDG_EINVAL); /* not after */
    assert_int_equal(ldg_epoch_advance(s, T0 - 1), LDG_EINVAL);
    assert_int_equal(ldg_epoch_advance(s, T0 + 5 * LEN), 0);
    assert_int_equal(s->cur.period, 5);
    assert_int_equal(ldg_epoch_advance(s, T0 + 4 * LEN + 1), LDG_EINVAL);
    assert_int_equal(ldg_epoch_advance(s, T0 + 5 * LEN), LDG_EINVAL);
    for (int j = 1; j <= LDG_EPOCH_SUBS_MAX; j++)
        assert_int_equal(ldg_epoch_advance(s, T0 + 5 * LEN + (uint64_t)j), 0);
    memcpy(before, s->cur_seed, 32);
    assert_int_equal(ldg_epoch_advance(s, T0 + 5 * LEN + 100), LDG_EFULL);
    assert_memory_equal(before, s->cur_seed, 32);
    assert_int_equal(ldg_epoch_state_check(s, err, sizeof err), 0);
    /* the next period is always reachable */
    assert_int_equal(ldg_epoch_advance(s, T0 + 6 * LEN), 0);
    assert_int_equal(s->cur.sub, 0);
    ldg_epoch_state_free(s);
    /* the last period of the tree, and beyond: with 1 s periods from 0 */
    assert_int_equal(ldg_epoch_state_new(&s, 0, 1000000000ull), 0);
    assert_int_equal(ldg_epoch_advance(s, (uint64_t)UINT32_MAX * 1000000000ull),
                     0);
    assert_int_equal(s->cur.period, UINT32_MAX);
    assert_int_equal(ldg_epoch_state_check(s, err, sizeof err), 0);
    assert_int_equal(
        ldg_epoch_advance(s, ((uint64_t)UINT32_MAX + 1) * 1000000000ull),
        LDG_EINVAL);
    ldg_epoch_state_free(s);
    /* 60 s periods from 2023 end with the clock, long before 2^32: the
     * periods whose end a 64-bit clock does not reach are refused, and no
     * start wraps to the past */
    assert_int_equal(ldg_epoch_state_new(&s, T0, LEN), 0);
    assert_int_equal(ldg_epoch_advance(s, UINT64_MAX), LDG_EINVAL);
    {
        struct ldg_epoch_id far = {UINT32_MAX, 0};
        assert_int_equal(ldg_epoch_verify(&s->par, far, s->path, s->links, NULL,
                                          NULL, err, sizeof err),
                         LDG_EBADSIG);
        assert_non_null(strstr(err, "64-bit"));
    }
    ldg_epoch_state_free(s);
}

/* 1 when the n bytes of needle occur in hay. */
static int
holds(const uint8_t *hay, size_t hn, const uint8_t *needle, size_t n)
{
    for (size_t i = 0; i + n <= hn; i++)
        if (memcmp(hay + i, needle, n) == 0)
            return 1;
    return 0;
}

/* After an advance, no secret of a past period is in the state: the old
 * epoch's and the pending siblings whose periods are now past. */
static void
test_epoch__past_secrets_wiped(void **state)
{
    struct ldg_epoch_state *s = NULL;
    uint8_t old[33][32];
    size_t n = 0;
    (void)state;
    assert_int_equal(ldg_epoch_state_new(&s, T0, LEN), 0);
    assert_int_equal(ldg_epoch_advance(s, T0 + 2 * LEN), 0);
    assert_int_equal(ldg_epoch_advance(s, T0 + 2 * LEN + 5), 0);
    memcpy(old[n++], s->cur_seed, 32);
    /* period 2 = ...010: the pending sibling at level 32 covers period 3,
     * which the move to period 9 skips */
    memcpy(old[n++], s->pend[31], 32);
    assert_int_equal(ldg_epoch_advance(s, T0 + 9 * LEN), 0);
    for (size_t i = 0; i < n; i++)
        assert_false(holds((const uint8_t *)s, sizeof *s, old[i], 32));
    ldg_epoch_state_free(s);
}

static void
tmp_path(char *dir, size_t dcap, char *path, size_t pcap)
{
    snprintf(dir, dcap, "/tmp/test_epoch.XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, pcap, "%s/log.epochs", dir);
}

static void
rm(const char *dir, const char *path)
{
    unlink(path);
    rmdir(dir);
}

static size_t
read_file(const char *path, uint8_t *buf, size_t cap)
{
    int fd = open(path, O_RDONLY);
    ssize_t n;
    assert_true(fd >= 0);
    n = read(fd, buf, cap);
    close(fd);
    assert_true(n >= 0);
    return (size_t)n;
}

/* The file: created, loaded, stored in place (same inode, same size), and
 * after a store neither slot holds the old epoch's secret. */
static void
test_epoch__file_in_place(void **state)
{
    char dir[64], path[96], err[256];
    struct ldg_epoch_state *s = NULL, *r = NULL;
    uint8_t old[32], buf[3 * LDG_EPOCH_SLOT];
    struct stat a, b;
    (void)state;
    tmp_path(dir, sizeof dir, path, sizeof path);
    assert_int_equal(ldg_epoch_state_new(&s, T0, LEN), 0);
    assert_int_equal(ldg_epoch_file_create(path, s, err, sizeof err), 0);
    assert_int_equal(ldg_epoch_file_create(path, s, err, sizeof err),
                     LDG_EEXIST);
    assert_int_equal(stat(path, &a), 0);
    assert_int_equal(a.st_mode & 0777, 0600);
    assert_int_equal(a.st_size, 2 * LDG_EPOCH_SLOT);
    memcpy(old, s->cur_seed, 32);
    assert_int_equal(ldg_epoch_advance(s, T0 + LEN), 0);
    assert_int_equal(ldg_epoch_file_store(path, s, 0, err, sizeof err), 0);
    assert_int_equal(stat(path, &b), 0);
    assert_true(a.st_ino == b.st_ino);
    assert_int_equal(b.st_size, 2 * LDG_EPOCH_SLOT);
    assert_int_equal(read_file(path, buf, sizeof buf), 2 * LDG_EPOCH_SLOT);
    assert_false(holds(buf, 2 * LDG_EPOCH_SLOT, old, 32));
    assert_true(holds(buf, 2 * LDG_EPOCH_SLOT, s->cur_seed, 32));
    if (ldg_epoch_file_load(path, &r, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_memory_equal(r->cur_seed, s->cur_seed, 32);
    assert_true(r->gen == 2 && r->cur.period == 1);
    ldg_epoch_state_free(r);

    /* refused: a loose mode, a second link */
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(ldg_epoch_file_load(path, &r, err, sizeof err), LDG_EKEY);
    assert_non_null(strstr(err, "0644"));
    assert_int_equal(chmod(path, 0600), 0);
    {
        char other[128];
        snprintf(other, sizeof other, "%s/copy", dir);
        assert_int_equal(link(path, other), 0);
        assert_int_equal(ldg_epoch_file_load(path, &r, err, sizeof err),
                         LDG_EKEY);
        assert_non_null(strstr(err, "2 hard links"));
        unlink(other);
    }
    ldg_epoch_state_free(s);
    rm(dir, path);
}

/* A state keeps its file open from its load to its next store: the store
 * checks again what the path names (a second link or a loose mode made
 * meanwhile is refused; a file put in its place is the one written, as
 * a store by a fresh state would). */
static void
test_epoch__store_checks_its_kept_file(void **state)
{
    char dir[64], path[96], other[128], err[256];
    struct ldg_epoch_state *s = NULL, *r = NULL;
    struct stat a, b;
    (void)state;
    tmp_path(dir, sizeof dir, path, sizeof path);
    snprintf(other, sizeof other, "%s/copy", dir);
    assert_int_equal(ldg_epoch_state_new(&s, T0, LEN), 0);
    assert_int_equal(ldg_epoch_file_create(path, s, err, sizeof err), 0);
    ldg_epoch_state_free(s);
    if (ldg_epoch_file_load(path, &s, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_int_equal(ldg_epoch_advance(s, T0 + LEN), 0);
    assert_int_equal(link(path, other), 0);
    assert_int_equal(ldg_epoch_file_store(path, s, 0, err, sizeof err),
                     LDG_EKEY);
    assert_non_null(strstr(err, "2 hard links"));
    assert_int_equal(unlink(other), 0);
    assert_int_equal(chmod(path, 0640), 0);
    assert_int_equal(ldg_epoch_file_store(path, s, 0, err, sizeof err),
                     LDG_EKEY);
    assert_non_null(strstr(err, "0640"));
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(ldg_epoch_file_store(path, s, 0, err, sizeof err), 0);
    /* another file at the path: the store writes it, not the kept one */
    assert_int_equal(rename(path, other), 0);
    assert_int_equal(ldg_epoch_file_create(path, s, err, sizeof err), 0);
    assert_int_equal(stat(path, &a), 0);
    assert_int_equal(ldg_epoch_advance(s, T0 + 2 * LEN), 0);
    assert_int_equal(ldg_epoch_file_store(path, s, 0, err, sizeof err), 0);
    if (ldg_epoch_file_load(path, &r, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_true(r->cur.period == 2);
    assert_memory_equal(r->cur_seed, s->cur_seed, 32);
    assert_int_equal(stat(path, &b), 0);
    assert_true(a.st_ino == b.st_ino);
    ldg_epoch_state_free(r);
    ldg_epoch_state_free(s);
    unlink(other);
    rm(dir, path);
}

/* A power cut after each of the first three steps of a store (write,
 * sync, write, sync), the unsynced write found whole, torn (its second
 * half old) or lost: the
 * load gives exactly one current secret, the old or the new, and leaves
 * both slots equal; a reader's read (ldg_epoch_file_read) gives the same
 * and writes nothing. */
static void
test_epoch__power_cut_at_each_step(void **state)
{
    char dir[64], path[96], err[256];
    (void)state;
    for (int step = 1; step <= 3; step++) {
        for (int fate = 0; fate < 3; fate++) {
            struct ldg_epoch_state *s = NULL, *r = NULL;
            uint8_t oldk[32], newk[32];
            static uint8_t pre[2 * LDG_EPOCH_SLOT], buf[2 * LDG_EPOCH_SLOT];
            tmp_path(dir, sizeof dir, path, sizeof path);
            assert_int_equal(ldg_epoch_state_new(&s, T0, LEN), 0);
            assert_int_equal(ldg_epoch_file_create(path, s, err, sizeof err),
                             0);
            read_file(path, pre, sizeof pre);
            memcpy(oldk, s->cur_seed, 32);
            assert_int_equal(ldg_epoch_advance(s, T0 + 2 * LEN), 0);
            memcpy(newk, s->cur_seed, 32);
            assert_int_equal(
                ldg_epoch_file_store(path, s, step, err, sizeof err), LDG_EIO);
            if (step != 2) { /* a write not synced */
                uint64_t slot = (s->gen + (step == 1 ? 1 : 2)) & 1;
                off_t off = (off_t)slot * LDG_EPOCH_SLOT;
                size_t half = LDG_EPOCH_SLOT / 2;
                int fd = open(path, O_WRONLY);
                assert_true(fd >= 0);
                if (fate == 1) /* torn */
                    assert_int_equal(
                        pwrite(fd, pre + off + half, half, off + (off_t)half),
                        (ssize_t)half);
                if (fate == 2) /* lost */
                    assert_int_equal(pwrite(fd, pre + off, LDG_EPOCH_SLOT, off),
                                     LDG_EPOCH_SLOT);
                close(fd);
            }
            /* a reader's read: the same winner, the file left as it is
             * (a recovery's write is for the sealers' lock holder) */
            {
                static uint8_t before[2 * LDG_EPOCH_SLOT];
                read_file(path, before, sizeof before);
                int differ = -1;
                assert_int_equal(
                    ldg_epoch_file_read(path, &r, &differ, err, sizeof err), 0);
                assert_int_equal(differ, memcmp(before, before + LDG_EPOCH_SLOT,
                                                LDG_EPOCH_SLOT) != 0);
                if (step == 2) /* the new state synced, the old beside it */
                    assert_int_equal(differ, 1);
                read_file(path, buf, sizeof buf);
                assert_memory_equal(buf, before, sizeof buf);
                assert_memory_equal(r->cur_seed,
                                    step >= 2 || fate == 0 ? newk : oldk, 32);
                ldg_epoch_state_free(r);
                r = NULL;
            }
            assert_int_equal(ldg_epoch_file_load(path, &r, err, sizeof err), 0);
            assert_true(memcmp(r->cur_seed, oldk, 32) == 0 ||
                        memcmp(r->cur_seed, newk, 32) == 0);
            if (step >= 2 || fate == 0)
                assert_memory_equal(r->cur_seed, newk, 32);
            else
                assert_memory_equal(r->cur_seed, oldk, 32);
            assert_int_equal(ldg_epoch_state_check(r, err, sizeof err), 0);
            /* exactly one secret left: both slots now the same state */
            read_file(path, buf, sizeof buf);
            assert_memory_equal(buf, buf + LDG_EPOCH_SLOT, LDG_EPOCH_SLOT);
            assert_false(holds(buf, sizeof buf,
                               memcmp(r->cur_seed, newk, 32) == 0 ? oldk : newk,
                               32));
            ldg_epoch_state_free(r);
            ldg_epoch_state_free(s);
            rm(dir, path);
        }
    }
}

/* A slot damaged in any byte is recovered from the other; both damaged is
 * refused; a slot whose secret is not the certified key is refused. */
static void
test_epoch__damaged_slots(void **state)
{
    char dir[64], path[96], err[256];
    struct ldg_epoch_state *s = NULL, *r = NULL;
    uint8_t buf[2 * LDG_EPOCH_SLOT];
    int fd;
    (void)state;
    tmp_path(dir, sizeof dir, path, sizeof path);
    assert_int_equal(ldg_epoch_state_new(&s, T0, LEN), 0);
    assert_int_equal(ldg_epoch_file_create(path, s, err, sizeof err), 0);
    for (size_t off = 0; off < LDG_EPOCH_SLOT; off += 509) {
        fd = open(path, O_RDWR);
        uint8_t c;
        assert_int_equal(pread(fd, &c, 1, (off_t)off), 1);
        c ^= 0x10;
        assert_int_equal(pwrite(fd, &c, 1, (off_t)off), 1);
        close(fd);
        assert_int_equal(ldg_epoch_file_load(path, &r, err, sizeof err), 0);
        assert_memory_equal(r->cur_seed, s->cur_seed, 32);
        ldg_epoch_state_free(r);
        read_file(path, buf, sizeof buf);
        assert_memory_equal(buf, buf + LDG_EPOCH_SLOT, LDG_EPOCH_SLOT);
    }
    /* both slots bad: a byte of each flipped (writing a fixed byte
     * would change nothing when the random key held it already) */
    fd = open(path, O_RDWR);
    for (off_t at = 100; at < 2 * LDG_EPOCH_SLOT; at += LDG_EPOCH_SLOT) {
        uint8_t c;
        assert_int_equal(pread(fd, &c, 1, at), 1);
        c ^= 0x10;
        assert_int_equal(pwrite(fd, &c, 1, at), 1);
    }
    close(fd);
    assert_int_equal(ldg_epoch_file_load(path, &r, err, sizeof err),
                     LDG_ECORRUPT);
    assert_non_null(strstr(err, "no valid slot"));
    /* a slot whose checksum holds but whose current key is not the one
     * its cert names is refused; one whose secret is not that key's is
     * found by the whole check (a load does no scalar multiplication) */
    {
        uint8_t *slot = ldg_secure_alloc(LDG_EPOCH_SLOT);
        struct ldg_epoch_state *t = ldg_secure_alloc(sizeof *t);
        memcpy(t, s, sizeof *t);
        t->cur_pub[0] ^= 1;
        ldg_epoch_slot_encode(slot, t, 5);
        assert_int_equal(ldg_epoch_slot_decode(slot, t), LDG_ECORRUPT);
        memcpy(t, s, sizeof *t);
        t->cur_seed[0] ^= 1;
        ldg_epoch_slot_encode(slot, t, 5);
        assert_int_equal(ldg_epoch_slot_decode(slot, t), 0);
        assert_int_equal(ldg_epoch_state_check(t, err, sizeof err),
                         LDG_ECORRUPT);
        assert_non_null(strstr(err, "not the certified key"));
        ldg_secure_free(slot);
        ldg_secure_free(t);
    }
    ldg_epoch_state_free(s);
    rm(dir, path);
}

/* 1 when hay holds the 32 bytes k raw, in lowercase or uppercase hex, or
 * in standard or URL-safe base64 (at any of its three alignments, the
 * characters of whole groups). */
static int
holds_any(const uint8_t *hay, size_t hn, const uint8_t k[32])
{
    char hex[65], b64[64];
    uint8_t shifted[34];
    if (holds(hay, hn, k, 32))
        return 1;
    ldg_hex(hex, k, 32);
    if (holds(hay, hn, (const uint8_t *)hex, 64))
        return 1;
    for (int i = 0; i < 64; i++)
        if (hex[i] >= 'a' && hex[i] <= 'f')
            hex[i] = (char)(hex[i] - 'a' + 'A');
    if (holds(hay, hn, (const uint8_t *)hex, 64))
        return 1;
    for (int a = 0; a < 3; a++) {
        size_t n;
        memset(shifted, 0, sizeof shifted);
        memcpy(shifted + a, k, 32);
        ldg_base64(b64, shifted, 33);
        /* the groups wholly made of k's bytes: from group 1 to the last
         * group ending before the padding or the zero bytes */
        n = (size_t)((32 + a) / 3 - 1) * 4;
        if (holds(hay, hn, (const uint8_t *)b64 + 4, n))
            return 1;
        for (size_t i = 4; i < 4 + n; i++)
            b64[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : b64[i];
        if (holds(hay, hn, (const uint8_t *)b64 + 4, n))
            return 1;
    }
    return 0;
}

/* What the image test mounted, for its teardown (a failed assertion
 * leaves the test early: the teardown still unmounts and removes). */
static char img_dir[64], img_mnt[96], img_file[96];

static int
sh(const char *cmd)
{
    return system(cmd);
}

static int
image_teardown(void **state)
{
    char cmd[256];
    (void)state;
    if (img_dir[0] == '\0')
        return 0;
    snprintf(cmd, sizeof cmd, "umount %s 2>/dev/null", img_mnt);
    (void)sh(cmd);
    snprintf(cmd, sizeof cmd, "rm -rf %s", img_dir);
    (void)sh(cmd);
    img_dir[0] = '\0';
    return 0;
}

/* The attacker's look at the disk (issue 65, item 6): the state file on a
 * loop-mounted ext4 (data=ordered, the default) advanced twice; the raw
 * image then holds the current secret (the control: the search sees what
 * is there) and no secret of a past period, raw, hex or base64. A key file
 * replaced by write-new-and-rename, as ledger/keys.c writes, leaves its
 * old secret in the image: the second control, which shows why the state
 * file is overwritten in place. Needs root, losetup and mkfs.ext4. */
static void
test_epoch__ext4_image_holds_no_past_secret(void **state)
{
    char path[128], tmp[128], keyf[128], err[256], cmd[512];
    char *const dir = img_dir, *const mnt = img_mnt, *const img = img_file;
    struct ldg_epoch_state *s = NULL;
    uint8_t past[128][32], renamed_old[32], cur[32];
    size_t npast = 0;
    uint8_t *image;
    size_t isz;
    FILE *f;
    int fd;
    (void)state;
    if (geteuid() != 0 || access("/usr/sbin/mkfs.ext4", X_OK) != 0 ||
        access("/dev/loop-control", F_OK) != 0) {
        skip(); /* reported as skipped, never as passed */
        return;
    }
    snprintf(img_dir, sizeof img_dir, "/tmp/test_epoch_img.XXXXXX");
    assert_non_null(mkdtemp(img_dir));
    snprintf(img_file, sizeof img_file, "%s/img", dir);
    snprintf(img_mnt, sizeof img_mnt, "%s/mnt", dir);
    assert_int_equal(mkdir(mnt, 0700), 0);
    fd = open(img, O_CREAT | O_WRONLY, 0600);
    assert_int_equal(ftruncate(fd, 16 << 20), 0);
    close(fd);
    snprintf(cmd, sizeof cmd, "mkfs.ext4 -q -F %s >/dev/null 2>&1", img);
    assert_int_equal(sh(cmd), 0);
    snprintf(cmd, sizeof cmd, "mount -o loop %s %s 2>/dev/null", img, mnt);
    if (sh(cmd) != 0) {
        skip(); /* no loop device in this container */
        return;
    }
    snprintf(path, sizeof path, "%s/log.epochs", mnt);
    assert_int_equal(ldg_epoch_state_new(&s, T0, LEN), 0);
    assert_int_equal(ldg_epoch_file_create(path, s, err, sizeof err), 0);
    /* a later period, a later one again, then a sub-epoch: every secret
     * held on the way is noted */
    for (int step = 0; step < 3; step++) {
        static const uint8_t zero[32];
        memcpy(past[npast++], s->cur_seed, 32);
        for (int l = 0; l < 32; l++)
            if (memcmp(s->pend[l], zero, 32) != 0)
                memcpy(past[npast++], s->pend[l], 32);
        assert_int_equal(ldg_epoch_advance(s, T0 + (step == 0   ? 5 * LEN
                                                    : step == 1 ? 9 * LEN
                                                                : 9 * LEN + 7)),
                         0);
        assert_int_equal(ldg_epoch_file_store(path, s, 0, err, sizeof err), 0);
    }
    /* those still held (the current one, the pending siblings of periods
     * to come) are not past */
    for (size_t i = 0; i < npast;) {
        int held = memcmp(past[i], s->cur_seed, 32) == 0;
        for (int l = 0; l < 32; l++)
            held |= memcmp(past[i], s->pend[l], 32) == 0;
        if (held)
            memcpy(past[i], past[--npast], 32);
        else
            i++;
    }
    assert_true(npast >= 3);
    /* (the state keeps its file open for the next store: closed here,
     * before the unmount; its current secret is control 1) */
    memcpy(cur, s->cur_seed, 32);
    ldg_epoch_state_free(s);
    s = NULL;
    /* the second control: write-new-and-rename */
    snprintf(keyf, sizeof keyf, "%s/alice.key", mnt);
    snprintf(tmp, sizeof tmp, "%s/alice.key.tmp", mnt);
    ldg_random(renamed_old, 32);
    for (int round = 0; round < 2; round++) {
        uint8_t k[32];
        char hex[65], text[128];
        if (round == 0)
            memcpy(k, renamed_old, 32);
        else
            ldg_random(k, 32);
        ldg_hex(hex, k, 32);
        snprintf(text, sizeof text, "seed %s\n", hex);
        fd = open(tmp, O_CREAT | O_TRUNC | O_WRONLY, 0600);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        assert_int_equal(fsync(fd), 0);
        close(fd);
        assert_int_equal(rename(tmp, keyf), 0);
    }
    sync();
    snprintf(cmd, sizeof cmd, "umount %s", mnt);
    assert_int_equal(sh(cmd), 0);

    f = fopen(img, "rb");
    assert_non_null(f);
    isz = 16 << 20;
    image = malloc(isz);
    assert_int_equal(fread(image, 1, isz, f), isz);
    fclose(f);
    assert_true(holds_any(image, isz, cur)); /* control 1 */
    assert_true(holds_any(image, isz, renamed_old)); /* control 2 */
    for (size_t i = 0; i < npast; i++)
        if (holds_any(image, isz, past[i]))
            fail_msg("the image holds past secret %zu of %zu", i, npast);
    free(image);
    ldg_epoch_state_free(s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_epoch__vectors),
        cmocka_unit_test(test_epoch__seal_vectors),
        cmocka_unit_test(test_epoch__horizon_vectors),
        cmocka_unit_test(test_epoch__chain_from_anchor),
        cmocka_unit_test(test_epoch__advance_rules),
        cmocka_unit_test(test_epoch__past_secrets_wiped),
        cmocka_unit_test(test_epoch__file_in_place),
        cmocka_unit_test(test_epoch__store_checks_its_kept_file),
        cmocka_unit_test(test_epoch__power_cut_at_each_step),
        cmocka_unit_test(test_epoch__damaged_slots),
        cmocka_unit_test_teardown(test_epoch__ext4_image_holds_no_past_secret,
                                  image_teardown),
    };
    return cmocka_run_group_tests(tests, load_vectors, free_vectors);
}
