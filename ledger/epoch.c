/*
 * epoch.c — forward-secure epoch keys: the certification tree over time
 * periods, sub-epoch links, and the two-slot state file (epoch_int.h,
 * FORMAT.md 5.1, docs/EPOCHS.md).
 *
 * A slot of the state file DIR/keys/NAME.epochs (LDG_EPOCH_SLOT bytes;
 * the file is two slots, 16384 bytes, and never changes size):
 *
 *   off   size
 *      0     8  magic "ldgepk01"
 *      8     8  generation, u64be (the higher valid slot wins)
 *     16    32  anchor public key
 *     48     8  t0, ns, u64be
 *     56     8  period length, ns, u64be
 *     64     4  period, u32be
 *     68     4  sub-epoch, u32be
 *     72    32  the current epoch key's seed (secret)
 *    104  1024  pend[0..31]: 32-byte seeds (secret) of the pending right
 *               siblings at levels 1..32, zeros where none
 *   1128  4096  path[0..31]: left[32] ‖ right[32] ‖ sig[64]
 *   5224  1664  links[0..15]: u64be start ‖ pub[32] ‖ sig[64], zeros
 *               beyond the sub-epoch
 *   6888    32  the current epoch key's public key (what its cert or
 *               link names: the secret is put together without a scalar
 *               multiplication)
 *   6920  1240  zeros
 *   8160    32  SHA-256 of bytes 0..8159
 *
 * An all-zero slot is empty (what a wiped slot holds).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ledger/crypto_int.h"
#include "ledger/epoch_int.h"
#include "ledger/tlog_int.h"
#include "util/util.h"

#define SLOT_MAGIC "ldgepk01"
#define OFF_GEN 8
#define OFF_ANCHOR 16
#define OFF_T0 48
#define OFF_LEN 56
#define OFF_PERIOD 64
#define OFF_SUB 68
#define OFF_CUR 72
#define OFF_PEND 104
#define OFF_PATH 1128
#define OFF_LINKS 5224
#define OFF_CURPUB 6888
#define OFF_END 6920
#define OFF_SUM (LDG_EPOCH_SLOT - 32)
#define CERT_BYTES 128
#define LINK_BYTES 104

_Static_assert(OFF_PATH == OFF_PEND + 32 * 32, "pend");
_Static_assert(OFF_LINKS == OFF_PATH + 32 * CERT_BYTES, "path");
_Static_assert(OFF_CURPUB == OFF_LINKS + LDG_EPOCH_SUBS_MAX * LINK_BYTES,
               "links");
_Static_assert(OFF_END == OFF_CURPUB + 32, "curpub");
_Static_assert(OFF_END <= OFF_SUM, "slot");

/* ---------------------------------------------------- public functions -- */

/* The bit of the path to leaf p at level l (1..32): 0 left, 1 right. */
static unsigned
path_bit(uint32_t p, unsigned l)
{
    return (unsigned)(p >> (LDG_EPOCH_DEPTH - l)) & 1u;
}

/* The index of the node at level l (0..32) on the path to leaf p. */
static uint32_t
node_index(uint32_t p, unsigned l)
{
    return l == 0 ? 0 : (uint32_t)((uint64_t)p >> (LDG_EPOCH_DEPTH - l));
}

static int period_bounds(const struct ldg_epoch_params *par, uint32_t p,
                         uint64_t *start, uint64_t *end);

int
ldg_epoch_period(const struct ldg_epoch_params *par, uint64_t ts_ns,
                 uint32_t *p)
{
    uint64_t q;

    if (par->len_ns == 0 || ts_ns < par->t0_ns)
        return LDG_EINVAL;
    uint64_t start, end;
    q = (ts_ns - par->t0_ns) / par->len_ns;
    if (q > UINT32_MAX || period_bounds(par, (uint32_t)q, &start, &end) < 0)
        return LDG_EINVAL;
    *p = (uint32_t)q;
    return 0;
}

static uint8_t *
put_params(uint8_t *o, const struct ldg_epoch_params *par)
{
    memcpy(o, par->anchor, 32);
    ldg_be64(o + 32, par->t0_ns);
    ldg_be64(o + 40, par->len_ns);
    return o + 48;
}

void
ldg_epoch_cert_msg(uint8_t out[LDG_EPOCH_CERT_MSG],
                   const struct ldg_epoch_params *par, unsigned level,
                   uint32_t index, const uint8_t left[32],
                   const uint8_t right[32])
{
    uint8_t *o = put_params(out, par);
    *o++ = (uint8_t)level;
    ldg_be32(o, index);
    memcpy(o + 4, left, 32);
    memcpy(o + 36, right, 32);
}

void
ldg_epoch_link_msg(uint8_t out[LDG_EPOCH_LINK_MSG],
                   const struct ldg_epoch_params *par, uint32_t period,
                   uint32_t sub, uint64_t start_ns, const uint8_t pub[32])
{
    uint8_t *o = put_params(out, par);
    ldg_be32(o, period);
    ldg_be32(o + 4, sub);
    ldg_be64(o + 8, start_ns);
    memcpy(o + 16, pub, 32);
}

/* The start of period p into *start and its end (exclusive) into *end:
 * 0, or LDG_EINVAL when the end is past 2^64 ns (a period no clock
 * reaches: refused, so that no sum wraps to a time in the past). */
static int
period_bounds(const struct ldg_epoch_params *par, uint32_t p, uint64_t *start,
              uint64_t *end)
{
    if (par->len_ns == 0 ||
        (uint64_t)p + 1 > (UINT64_MAX - par->t0_ns) / par->len_ns)
        return LDG_EINVAL;
    *start = par->t0_ns + (uint64_t)p * par->len_ns;
    *end = *start + par->len_ns;
    return 0;
}

uint64_t
ldg_epoch_start(const struct ldg_epoch_params *par, struct ldg_epoch_id e,
                const struct ldg_epoch_link *links)
{
    uint64_t start, end;
    if (e.sub > 0)
        return links[e.sub - 1].start_ns;
    if (period_bounds(par, e.period, &start, &end) < 0)
        return UINT64_MAX;
    return start;
}

/* ------------------------------------------------------------ the tree -- */

struct seeder {
    void (*rnd)(void *ctx, uint8_t seed[32]);
    void *ctx;
};

static void
seed_new(const struct seeder *sd, uint8_t seed[32])
{
    if (sd != NULL && sd->rnd != NULL)
        sd->rnd(sd->ctx, seed);
    else
        ldg_random(seed, 32);
}

static int
is_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

/*
 * Every state is allocated (state_alloc) inside a box that holds, after
 * it, the scratch an advance and a store need: the spare copy an advance
 * works on, the seeds it makes, the slot a store encodes. An epoch's end
 * then allocates nothing: sodium_malloc's mmap, mprotect and mlock for
 * each buffer cost more than the signatures (bench/epoch_cost). The box
 * is secure memory as the state is; each scratch is wiped after use.
 * It also keeps the state file open from the load (or the first store)
 * to the next store: an open and a close cost 12 us, a sixth of an
 * epoch's CPU; a store checks the path still names that file first.
 */
struct work {
    uint8_t seeds[96]; /* expand: node ‖ left ‖ right */
    uint8_t seed[32];  /* advance_sub, advance_period */
    uint8_t slot[LDG_EPOCH_SLOT];
    struct ldg_epoch_state spare;
};

struct box {
    struct ldg_epoch_state s; /* first: a state's address is its box's */
    struct work w;
    int fd; /* the state file, read-write; -1 */
    dev_t dev;
    ino_t ino;
    /* the checksum of the slot both of the file's slots held when this
     * state was loaded or last stored (have_sum: 1), which
     * ldg_epoch_file_same compares with the file's */
    uint8_t sum[32];
    int have_sum;
};

static struct box *
box_of(struct ldg_epoch_state *s)
{
    return (struct box *)(void *)s;
}

static struct work *
work_of(struct ldg_epoch_state *s)
{
    return &box_of(s)->w;
}

/*
 * Expands the path from node (level, period >> (32 − level)), whose seed
 * is node_seed, down to leaf `period`: at each level the node makes its
 * two children, signs their cert into s->path[level], and its seed is
 * wiped; the right child's seed is kept in s->pend when the path goes
 * left, the left child's wiped when it goes right. The leaf's seed ends in
 * s->cur_seed. node_seed is wiped. node_pub: the node's public key when
 * known (NULL: the anchor's, made here).
 */
static int
expand(struct ldg_epoch_state *s, struct work *w, unsigned level,
       uint32_t period, uint8_t *node_seed, const uint8_t *node_pub,
       const struct seeder *sd)
{
    /* node ‖ left ‖ right seeds, and the node's public key */
    uint8_t *seeds = w->seeds, pub[32];
    uint8_t msg[LDG_EPOCH_CERT_MSG];
    int rc;

    memcpy(seeds, node_seed, 32);
    ldg_wipe(node_seed, 32);
    /* a pending sibling's public key is in its parent's cert already */
    if (node_pub != NULL)
        memcpy(pub, node_pub, 32);
    else if ((rc = ldg_ed25519_seed_pub(pub, seeds)) < 0)
        goto out;
    for (unsigned l = level; l < LDG_EPOCH_DEPTH; l++) {
        unsigned bit = path_bit(period, l + 1);
        seed_new(sd, seeds + 32);
        seed_new(sd, seeds + 64);
        if ((rc = ldg_ed25519_seed_pub(s->path[l].left, seeds + 32)) < 0 ||
            (rc = ldg_ed25519_seed_pub(s->path[l].right, seeds + 64)) < 0)
            goto out;
        ldg_epoch_cert_msg(msg, &s->par, l, node_index(period, l),
                           s->path[l].left, s->path[l].right);
        if ((rc = ldg_ed25519_seed_sign_ctx(s->path[l].sig, LDG_EPOCH_CERT_CTX,
                                            msg, sizeof msg, seeds, pub)) < 0)
            goto out;
        /* the node's secret: gone; the child on the path is the node */
        memcpy(seeds, seeds + 32 + 32 * bit, 32);
        memcpy(pub, bit ? s->path[l].right : s->path[l].left, 32);
        if (bit == 0)
            memcpy(s->pend[l], seeds + 64, 32); /* level l+1's sibling */
        else
            ldg_wipe(s->pend[l], 32);
        ldg_wipe(seeds + 32, 64);
    }
    memcpy(s->cur_seed, seeds, 32); /* the leaf */
    memcpy(s->cur_pub, pub, 32);
    rc = 0;
out:
    ldg_wipe(seeds, 96);
    return rc;
}

/*
 * Boxes freed are kept, wiped, for the next states: a commit of an
 * anchored ledger loads a state file (two boxes, one of them the loser),
 * and sodium_malloc's mmap, mprotect and mlock and sodium_free's undoing
 * of them took a fifth of such a commit's CPU in `ledger serve`, one
 * event a commit. What is kept holds nothing but zeros.
 */
#define POOL_MAX 4

static struct {
    pthread_mutex_t mu;
    int n;
    struct box *b[POOL_MAX];
} pool = {PTHREAD_MUTEX_INITIALIZER, 0, {NULL}};

static struct ldg_epoch_state *
state_alloc(void)
{
    struct box *b = NULL;

    pthread_mutex_lock(&pool.mu);
    if (pool.n > 0)
        b = pool.b[--pool.n];
    pthread_mutex_unlock(&pool.mu);
    if (b == NULL) {
        if ((b = ldg_secure_alloc(sizeof *b)) == NULL)
            return NULL;
        memset(b, 0, sizeof *b); /* (a kept box is zeros already) */
    }
    b->fd = -1;
    return &b->s;
}

void
ldg_epoch_state_free(struct ldg_epoch_state *s)
{
    struct box *b;
    int kept = 0;

    if (s == NULL)
        return;
    b = box_of(s);
    if (b->fd >= 0)
        close(b->fd);
    ldg_wipe(b, sizeof *b);
    pthread_mutex_lock(&pool.mu);
    if (pool.n < POOL_MAX) {
        pool.b[pool.n++] = b;
        kept = 1;
    }
    pthread_mutex_unlock(&pool.mu);
    if (!kept)
        ldg_secure_free(b);
}

static int
state_make(struct ldg_epoch_state **out, const uint8_t *anchor_seed,
           uint64_t t0_ns, uint64_t len_ns, const struct seeder *sd)
{
    struct ldg_epoch_state *s;
    struct ldg_key *anchor = NULL;
    uint8_t *seed;
    int rc;

    *out = NULL;
    if (len_ns < LDG_EPOCH_LEN_MIN_NS || len_ns > LDG_EPOCH_LEN_MAX_NS)
        return LDG_EINVAL;
    if ((s = state_alloc()) == NULL)
        return LDG_ENOMEM;
    seed = work_of(s)->seed;
    if (anchor_seed != NULL)
        memcpy(seed, anchor_seed, 32);
    else
        seed_new(sd, seed);
    if ((rc = ldg_key_from_seed(&anchor, "anchor", seed)) < 0)
        goto out;
    memcpy(s->par.anchor, anchor->pub, 32);
    ldg_key_free(anchor);
    s->par.t0_ns = t0_ns;
    s->par.len_ns = len_ns;
    if ((rc = expand(s, work_of(s), 0, 0, seed, NULL, sd)) < 0)
        goto out;
    *out = s;
    s = NULL;
out:
    ldg_epoch_state_free(s); /* wipes the seed too */
    return rc;
}

int
ldg_epoch_state_new(struct ldg_epoch_state **out, uint64_t t0_ns,
                    uint64_t len_ns)
{
    return state_make(out, NULL, t0_ns, len_ns, NULL);
}

int
ldg_epoch_state_from_seeds(struct ldg_epoch_state **out,
                           const uint8_t anchor_seed[32], uint64_t t0_ns,
                           uint64_t len_ns,
                           void (*rnd)(void *ctx, uint8_t seed[32]), void *ctx)
{
    struct seeder sd = {rnd, ctx};
    return state_make(out, anchor_seed, t0_ns, len_ns, &sd);
}

/* A sub-epoch: the current key signs a link to a fresh one. */
static int
advance_sub(struct ldg_epoch_state *s, struct work *w, uint64_t ts_ns,
            const struct seeder *sd)
{
    uint8_t msg[LDG_EPOCH_LINK_MSG];
    uint8_t *seed = w->seed;
    struct ldg_epoch_link *k;
    int rc;

    if (s->cur.sub >= LDG_EPOCH_SUBS_MAX) {
        rc = LDG_EFULL;
        goto out;
    }
    seed_new(sd, seed);
    k = &s->links[s->cur.sub];
    k->start_ns = ts_ns;
    if ((rc = ldg_ed25519_seed_pub(k->pub, seed)) < 0)
        goto out;
    ldg_epoch_link_msg(msg, &s->par, s->cur.period, s->cur.sub + 1, ts_ns,
                       k->pub);
    if ((rc = ldg_ed25519_seed_sign_ctx(k->sig, LDG_EPOCH_LINK_CTX, msg,
                                        sizeof msg, s->cur_seed, s->cur_pub)) <
        0)
        goto out;
    s->cur.sub++;
    memcpy(s->cur_seed, seed, 32);
    memcpy(s->cur_pub, k->pub, 32);
out:
    ldg_wipe(seed, 32);
    return rc;
}

/* A later period: the path from the pending sibling where the paths part. */
static int
advance_period(struct ldg_epoch_state *s, struct work *w, uint32_t to,
               const struct seeder *sd)
{
    uint32_t from = s->cur.period;
    uint8_t *seed = w->seed;
    unsigned l = 1;
    int rc;

    while (path_bit(from, l) == path_bit(to, l))
        l++;
    /* from < to: where they part, from goes left and to right, so the
     * node of `to` at level l is the pending right sibling there */
    LDG_ASSERT(path_bit(from, l) == 0 && !is_zero(s->pend[l - 1], 32));
    memcpy(seed, s->pend[l - 1], 32);
    /* the pending siblings below l are in from's half: past periods */
    for (unsigned m = l; m <= LDG_EPOCH_DEPTH; m++)
        ldg_wipe(s->pend[m - 1], 32);
    ldg_wipe(s->cur_seed, 32);
    memset(s->links, 0, sizeof s->links);
    s->cur.period = to;
    s->cur.sub = 0;
    rc = expand(s, w, l, to, seed, s->path[l - 1].right, sd);
    ldg_wipe(seed, 32);
    return rc;
}

int
ldg_epoch_advance_with(struct ldg_epoch_state *s, uint64_t ts_ns,
                       void (*rnd)(void *ctx, uint8_t seed[32]), void *ctx)
{
    struct seeder sd = {rnd, ctx};
    struct ldg_epoch_state *t;
    struct work *w;
    uint32_t p;
    int rc;

    if (s == NULL)
        return LDG_EINVAL;
    if (ldg_epoch_period(&s->par, ts_ns, &p) < 0 || p < s->cur.period ||
        ts_ns <= ldg_epoch_start(&s->par, s->cur, s->links))
        return LDG_EINVAL;
    if (p == s->cur.period && s->cur.sub >= LDG_EPOCH_SUBS_MAX)
        return LDG_EFULL;
    /* on a copy, so that s is unchanged on failure */
    w = work_of(s);
    t = &w->spare;
    memcpy(t, s, sizeof *t);
    rc = p == s->cur.period ? advance_sub(t, w, ts_ns, &sd)
                            : advance_period(t, w, p, &sd);
    if (rc == 0) {
        memcpy(s, t, sizeof *t);
        box_of(s)->have_sum = 0; /* ahead of its file until stored */
    }
    ldg_wipe(t, sizeof *t);
    return rc;
}

int
ldg_epoch_advance(struct ldg_epoch_state *s, uint64_t ts_ns)
{
    return ldg_epoch_advance_with(s, ts_ns, NULL, NULL);
}

int
ldg_epoch_key(const struct ldg_epoch_state *s, const char *name,
              struct ldg_key **out)
{
    return ldg_key_from_keypair(out, name, s->cur_seed, s->cur_pub);
}

int
ldg_epoch_state_check(const struct ldg_epoch_state *s, char *err, size_t errcap)
{
    uint8_t pub[32];
    struct ldg_key *k = NULL;
    int rc;

    rc = ldg_epoch_verify(&s->par, s->cur, s->path, s->links, pub, NULL, err,
                          errcap);
    if (rc == LDG_ENOMEM)
        return rc;
    if (rc < 0)
        return LDG_ECORRUPT;
    if ((rc = ldg_key_from_seed(&k, "epoch", s->cur_seed)) < 0)
        return rc;
    rc = memcmp(k->pub, pub, 32) == 0 && memcmp(s->cur_pub, pub, 32) == 0;
    ldg_key_free(k);
    if (!rc) {
        snprintf(err, errcap,
                 "epoch %u.%u: the current secret is not the certified key",
                 s->cur.period, s->cur.sub);
        return LDG_ECORRUPT;
    }
    for (unsigned l = 1; l <= LDG_EPOCH_DEPTH; l++) {
        int want = path_bit(s->cur.period, l) == 0;
        if (!want) {
            if (!is_zero(s->pend[l - 1], 32)) {
                snprintf(err, errcap,
                         "epoch %u.%u: a secret is kept for a past subtree "
                         "at level %u",
                         s->cur.period, s->cur.sub, l);
                return LDG_ECORRUPT;
            }
            continue;
        }
        if ((rc = ldg_key_from_seed(&k, "epoch", s->pend[l - 1])) < 0)
            return rc;
        rc = memcmp(k->pub, s->path[l - 1].right, 32) == 0;
        ldg_key_free(k);
        if (!rc) {
            snprintf(err, errcap,
                     "epoch %u.%u: the pending secret at level %u is not the "
                     "key its cert names",
                     s->cur.period, s->cur.sub, l);
            return LDG_ECORRUPT;
        }
    }
    return 0;
}

/* ---------------------------------------------------------- epoch seals -- */

unsigned
ldg_epoch_part_level(uint32_t a, uint32_t b)
{
    unsigned l = 1;
    while (l < LDG_EPOCH_DEPTH && path_bit(a, l) == path_bit(b, l))
        l++;
    return l;
}

int
ldg_epoch_ext_decode(const uint8_t *p, size_t n, struct ldg_epoch_ext *x)
{
    size_t want;

    memset(x, 0, sizeof *x);
    if (n < 74)
        return LDG_ECORRUPT;
    x->period = ldg_rd_be32(p);
    x->sub = ldg_rd_be32(p + 4);
    memcpy(x->sig, p + 8, 64);
    x->l0 = p[72];
    x->j0 = p[73];
    if (x->l0 > LDG_EPOCH_DEPTH || x->sub > LDG_EPOCH_SUBS_MAX ||
        x->j0 > x->sub)
        return LDG_ECORRUPT;
    want = 74 + (size_t)(LDG_EPOCH_DEPTH - x->l0) * CERT_BYTES +
           (size_t)(x->sub - x->j0) * LINK_BYTES;
    if (n != want)
        return LDG_ECORRUPT;
    x->certs = p + 74;
    x->links = x->certs + (size_t)(LDG_EPOCH_DEPTH - x->l0) * CERT_BYTES;
    return 0;
}

/* The extension of epoch e (its certs from level l0, its links after j0)
 * into out; returns its length. */
static size_t
ext_put(uint8_t *out, struct ldg_epoch_id e,
        const struct ldg_epoch_cert path[LDG_EPOCH_DEPTH],
        const struct ldg_epoch_link *links, const uint8_t sig[64], unsigned l0,
        unsigned j0)
{
    uint8_t *o = out;

    LDG_ASSERT(l0 <= LDG_EPOCH_DEPTH && j0 <= e.sub &&
               e.sub <= LDG_EPOCH_SUBS_MAX);
    ldg_be32(o, e.period);
    ldg_be32(o + 4, e.sub);
    memcpy(o + 8, sig, 64);
    o[72] = (uint8_t)l0;
    o[73] = (uint8_t)j0;
    o += 74;
    for (unsigned l = l0; l < LDG_EPOCH_DEPTH; l++, o += CERT_BYTES) {
        memcpy(o, path[l].left, 32);
        memcpy(o + 32, path[l].right, 32);
        memcpy(o + 64, path[l].sig, 64);
    }
    for (unsigned j = j0; j < e.sub; j++, o += LINK_BYTES) {
        ldg_be64(o, links[j].start_ns);
        memcpy(o + 8, links[j].pub, 32);
        memcpy(o + 40, links[j].sig, 64);
    }
    return (size_t)(o - out);
}

size_t
ldg_epoch_ext_encode(uint8_t *out, const struct ldg_epoch_state *s,
                     const uint8_t sig[64], unsigned l0, unsigned j0)
{
    return ext_put(out, s->cur, s->path, s->links, sig, l0, j0);
}

/* u32be period ‖ u32be sub ‖ map into buf (the caller's, n + 8 bytes). */
static uint8_t *
seal_msg(struct ldg_epoch_id e, const uint8_t *map, size_t n, size_t *len)
{
    uint8_t *m = malloc(n + 8);
    if (m == NULL)
        return NULL;
    ldg_be32(m, e.period);
    ldg_be32(m + 4, e.sub);
    memcpy(m + 8, map, n);
    *len = n + 8;
    return m;
}

int
ldg_epoch_seal_sign(const struct ldg_epoch_state *s, const uint8_t *map,
                    size_t n, uint8_t sig[64])
{
    size_t len;
    uint8_t *m = seal_msg(s->cur, map, n, &len);
    int rc;

    if (m == NULL)
        return LDG_ENOMEM;
    rc = ldg_ed25519_seed_sign_ctx(sig, LDG_EPOCH_SEAL_CTX, m, len, s->cur_seed,
                                   s->cur_pub);
    free(m);
    return rc;
}

int
ldg_epoch_seal_verify(const uint8_t pub[32], struct ldg_epoch_id e,
                      const uint8_t *map, size_t n, const uint8_t sig[64])
{
    size_t len;
    uint8_t *m = seal_msg(e, map, n, &len);
    int rc;

    if (m == NULL)
        return LDG_ENOMEM;
    rc = ldg_ed25519_verify_ctx(sig, LDG_EPOCH_SEAL_CTX, m, len, pub) == 0
             ? 0
             : LDG_EBADSIG;
    free(m);
    return rc;
}

uint32_t
ldg_epoch_note_key_id(const char *origin, const uint8_t anchor[32], char *name,
                      size_t cap)
{
    static const uint8_t sep[2] = {'\n', 0xff};
    struct ldg_sha256_ctx c;
    uint8_t h[32];

    snprintf(name, cap, "%s" LDG_EPOCH_NOTE_SUFFIX, origin);
    ldg_sha256_init(&c);
    ldg_sha256_update(&c, name, strlen(name));
    ldg_sha256_update(&c, sep, sizeof sep);
    ldg_sha256_update(&c, LDG_EPOCH_CHECKPOINT_CTX,
                      sizeof LDG_EPOCH_CHECKPOINT_CTX - 1);
    ldg_sha256_update(&c, anchor, 32);
    ldg_sha256_final(&c, h);
    return ldg_rd_be32(h);
}

int
ldg_epoch_checkpoint_sign(const struct ldg_epoch_state *s, const char *text,
                          size_t n, uint8_t sig[64])
{
    size_t len;
    uint8_t *m = seal_msg(s->cur, (const uint8_t *)text, n, &len);
    int rc;

    if (m == NULL)
        return LDG_ENOMEM;
    rc = ldg_ed25519_seed_sign_ctx(sig, LDG_EPOCH_CHECKPOINT_CTX, m, len,
                                   s->cur_seed, s->cur_pub);
    free(m);
    return rc;
}

int
ldg_epoch_checkpoint_verify(const uint8_t pub[32], struct ldg_epoch_id e,
                            const char *text, size_t n, const uint8_t sig[64])
{
    size_t len;
    uint8_t *m = seal_msg(e, (const uint8_t *)text, n, &len);
    int rc;

    if (m == NULL)
        return LDG_ENOMEM;
    rc = ldg_ed25519_verify_ctx(sig, LDG_EPOCH_CHECKPOINT_CTX, m, len, pub) == 0
             ? 0
             : LDG_EBADSIG;
    free(m);
    return rc;
}

void
ldg_epoch_chain_init(struct ldg_epoch_chain *c,
                     const struct ldg_epoch_params *par)
{
    memset(c, 0, sizeof *c);
    c->par = *par;
}

size_t
ldg_epoch_ext_encode_whole(uint8_t *out, const struct ldg_epoch_chain *c,
                           const uint8_t sig[64])
{
    LDG_ASSERT(c->started);
    return ext_put(out, c->cur, c->path, c->links, sig, 0, 0);
}

int
ldg_epoch_verify(const struct ldg_epoch_params *par, struct ldg_epoch_id e,
                 const struct ldg_epoch_cert path[LDG_EPOCH_DEPTH],
                 const struct ldg_epoch_link *links, uint8_t pub[32],
                 uint64_t *start_ns, char *err, size_t errcap)
{
    static const uint8_t nosig[64];
    struct ldg_epoch_chain *c;
    struct ldg_epoch_ext x;
    uint8_t *buf;
    int rc;

    if (e.sub > LDG_EPOCH_SUBS_MAX)
        return LDG_EINVAL;
    c = malloc(sizeof *c);
    buf = malloc(LDG_EPOCH_EXT_MAX);
    if (c == NULL || buf == NULL) {
        free(c);
        free(buf);
        return LDG_ENOMEM;
    }
    rc = ldg_epoch_ext_decode(buf, ext_put(buf, e, path, links, nosig, 0, 0),
                              &x);
    LDG_ASSERT(rc == 0);
    ldg_epoch_chain_init(c, par);
    if ((rc = ldg_epoch_chain_step(c, &x, err, errcap)) == 0) {
        if (pub != NULL)
            memcpy(pub, c->pub, 32);
        if (start_ns != NULL)
            *start_ns = c->start_ns;
    }
    free(buf);
    free(c);
    return rc;
}

int
ldg_epoch_whole_from_anchor(const uint8_t anchor[32], uint64_t t0_ns,
                            uint64_t period_ns, const struct ldg_epoch_ext *x,
                            const char *what, struct ldg_epoch_chain *c,
                            char *err, size_t errcap)
{
    struct ldg_epoch_params par;
    if (x->l0 != 0 || x->j0 != 0) {
        snprintf(err, errcap,
                 "epoch %u.%u: its %s is not whole (certs from level %u, "
                 "links after %u): it cannot be checked from the anchor",
                 x->period, x->sub, what, x->l0, x->j0);
        return LDG_EBADSIG;
    }
    memcpy(par.anchor, anchor, 32);
    par.t0_ns = t0_ns;
    par.len_ns = period_ns;
    ldg_epoch_chain_init(c, &par);
    return ldg_epoch_chain_step(c, x, err, errcap);
}

void
ldg_epoch_horizon_params(const struct ldg_horizon_key *hk,
                         struct ldg_epoch_params *par)
{
    memcpy(par->anchor, hk->anchor, 32);
    par->t0_ns = hk->anchor_t0_ns;
    par->len_ns = hk->anchor_period_ns;
}

int
ldg_epoch_chain_from_horizon(const struct ldg_horizon_key *hk,
                             struct ldg_epoch_chain *c, char *err,
                             size_t errcap)
{
    struct ldg_epoch_params par;
    struct ldg_epoch_ext x;

    if (!hk->anchored)
        return LDG_ENOTFOUND;
    ldg_epoch_horizon_params(hk, &par);
    ldg_epoch_chain_init(c, &par);
    if (hk->epoch_len == 0)
        return 0;
    if (ldg_epoch_ext_decode(hk->epoch, hk->epoch_len, &x) < 0) {
        snprintf(err, errcap, "its epoch part does not decode");
        return LDG_EBADSIG;
    }
    return ldg_epoch_whole_from_anchor(hk->anchor, hk->anchor_t0_ns,
                                       hk->anchor_period_ns, &x, "epoch part",
                                       c, err, errcap);
}

int
ldg_epoch_checkpoint_epoch(const char *note, size_t len, size_t tlen,
                           const char *origin, const uint8_t anchor[32],
                           uint32_t *period, uint32_t *sub)
{
    char name[LDG_ORIGIN_MAX + sizeof LDG_EPOCH_NOTE_SUFFIX];
    uint8_t raw[LDG_EPOCH_EXT_MAX];
    uint32_t id = ldg_epoch_note_key_id(origin, anchor, name, sizeof name);
    size_t n;
    int rc = ldg_note_sig_find(note, len, tlen, name, id, raw, sizeof raw, &n);

    if (rc < 0)
        return rc == LDG_ENOTFOUND ? rc : LDG_ECORRUPT;
    if (n < 72) /* (p, j and the signature, as ldg_epoch_checkpoint_check) */
        return LDG_ECORRUPT;
    *period = ldg_rd_be32(raw);
    *sub = ldg_rd_be32(raw + 4);
    return 0;
}

int
ldg_epoch_checkpoint_has_line(const char *note, size_t len, size_t tlen,
                              const char *origin)
{
    /* a signature line: a newline (the blank line's, for the first),
     * an em dash, a space, the key name and a space */
    char needle[LDG_ORIGIN_MAX + sizeof LDG_EPOCH_NOTE_SUFFIX + 8];
    int n = snprintf(needle, sizeof needle,
                     "\n\xe2\x80\x94 %s" LDG_EPOCH_NOTE_SUFFIX " ", origin);

    if (n <= 0 || (size_t)n >= sizeof needle || tlen >= len)
        return 0;
    return memmem(note + tlen, len - tlen, needle, (size_t)n) != NULL;
}

int
ldg_epoch_chain_step(struct ldg_epoch_chain *c, const struct ldg_epoch_ext *x,
                     char *err, size_t errcap)
{
    struct ldg_epoch_chain n = *c;
    uint8_t node[32], msg[LDG_EPOCH_CERT_MSG];
    uint64_t start, end;
    unsigned want_l0, want_j0;
    const uint8_t *q;

    if (period_bounds(&c->par, x->period, &start, &end) < 0) {
        snprintf(err, errcap,
                 "epoch %u.%u: its period ends after the last time a clock "
                 "of 64-bit nanoseconds can give",
                 x->period, x->sub);
        return LDG_EBADSIG;
    }
    if (!c->started) {
        want_l0 = 0;
        want_j0 = 0;
    } else if (x->period < c->cur.period ||
               (x->period == c->cur.period && x->sub < c->cur.sub)) {
        snprintf(err, errcap,
                 "epoch %u.%u comes after epoch %u.%u of the same key (a "
                 "key's epochs never go back)",
                 x->period, x->sub, c->cur.period, c->cur.sub);
        return LDG_EBADSIG;
    } else if (x->period == c->cur.period) {
        want_l0 = LDG_EPOCH_DEPTH;
        want_j0 = c->cur.sub;
    } else {
        want_l0 = ldg_epoch_part_level(c->cur.period, x->period);
        want_j0 = 0;
    }
    if (x->l0 != want_l0 || x->j0 != want_j0) {
        snprintf(err, errcap,
                 "epoch %u.%u carries the certs from level %u and the links "
                 "after %u, not from level %u and after %u (what the log had "
                 "not carried yet)",
                 x->period, x->sub, x->l0, x->j0, want_l0, want_j0);
        return LDG_EBADSIG;
    }
    /* the certs: from the node the chain knows at level l0 */
    if (x->l0 == 0)
        memcpy(node, c->par.anchor, 32);
    else
        memcpy(node,
               path_bit(x->period, x->l0) ? c->path[x->l0 - 1].right
                                          : c->path[x->l0 - 1].left,
               32);
    q = x->certs;
    for (unsigned l = x->l0; l < LDG_EPOCH_DEPTH; l++, q += CERT_BYTES) {
        uint32_t idx = node_index(x->period, l);
        ldg_epoch_cert_msg(msg, &c->par, l, idx, q, q + 32);
        if (ldg_ed25519_verify_ctx(q + 64, LDG_EPOCH_CERT_CTX, msg, sizeof msg,
                                   node) < 0) {
            snprintf(err, errcap,
                     "epoch %u.%u: the cert of node (%u, %u) does not verify "
                     "with the key %s",
                     x->period, x->sub, l, idx,
                     l == 0 ? "of the anchor" : "its parent's cert names");
            return LDG_EBADSIG;
        }
        memcpy(n.path[l].left, q, 32);
        memcpy(n.path[l].right, q + 32, 32);
        memcpy(n.path[l].sig, q + 64, 64);
        memcpy(node, path_bit(x->period, l + 1) ? q + 32 : q, 32);
    }
    if (!c->started || x->period != c->cur.period) {
        memset(n.links, 0, sizeof n.links);
        n.start_ns = start;
    } else {
        memcpy(node, c->pub, 32);
    }
    q = x->links;
    for (uint32_t j = x->j0 + 1; j <= x->sub; j++, q += LINK_BYTES) {
        struct ldg_epoch_link *k = &n.links[j - 1];
        k->start_ns = ldg_rd_be64(q);
        memcpy(k->pub, q + 8, 32);
        memcpy(k->sig, q + 40, 64);
        ldg_epoch_link_msg(msg, &c->par, x->period, j, k->start_ns, k->pub);
        if (ldg_ed25519_verify_ctx(k->sig, LDG_EPOCH_LINK_CTX, msg,
                                   LDG_EPOCH_LINK_MSG, node) < 0) {
            snprintf(err, errcap,
                     "epoch %u.%u: link %u does not verify with the key of "
                     "epoch %u.%u",
                     x->period, x->sub, j, x->period, j - 1);
            return LDG_EBADSIG;
        }
        if (k->start_ns <= n.start_ns || k->start_ns >= end) {
            snprintf(err, errcap,
                     "epoch %u.%u: link %u starts at %llu ns, not after the "
                     "start of epoch %u.%u and inside its period",
                     x->period, x->sub, j, (unsigned long long)k->start_ns,
                     x->period, j - 1);
            return LDG_EBADSIG;
        }
        n.start_ns = k->start_ns;
        memcpy(node, k->pub, 32);
    }
    memcpy(n.pub, node, 32);
    n.cur.period = x->period;
    n.cur.sub = x->sub;
    n.started = 1;
    *c = n;
    return 0;
}

/* ------------------------------------------------------------ the slots -- */

void
ldg_epoch_slot_encode(uint8_t *out, const struct ldg_epoch_state *s,
                      uint64_t gen)
{
    memset(out, 0, LDG_EPOCH_SLOT);
    memcpy(out, SLOT_MAGIC, 8);
    ldg_be64(out + OFF_GEN, gen);
    memcpy(out + OFF_ANCHOR, s->par.anchor, 32);
    ldg_be64(out + OFF_T0, s->par.t0_ns);
    ldg_be64(out + OFF_LEN, s->par.len_ns);
    ldg_be32(out + OFF_PERIOD, s->cur.period);
    ldg_be32(out + OFF_SUB, s->cur.sub);
    memcpy(out + OFF_CUR, s->cur_seed, 32);
    memcpy(out + OFF_PEND, s->pend, sizeof s->pend);
    for (unsigned l = 0; l < LDG_EPOCH_DEPTH; l++) {
        uint8_t *c = out + OFF_PATH + l * CERT_BYTES;
        memcpy(c, s->path[l].left, 32);
        memcpy(c + 32, s->path[l].right, 32);
        memcpy(c + 64, s->path[l].sig, 64);
    }
    for (uint32_t j = 0; j < s->cur.sub; j++) {
        uint8_t *c = out + OFF_LINKS + j * LINK_BYTES;
        ldg_be64(c, s->links[j].start_ns);
        memcpy(c + 8, s->links[j].pub, 32);
        memcpy(c + 40, s->links[j].sig, 64);
    }
    memcpy(out + OFF_CURPUB, s->cur_pub, 32);
    ldg_sha256(out + OFF_SUM, out, OFF_SUM);
}

int
ldg_epoch_slot_decode(const uint8_t *in, struct ldg_epoch_state *s)
{
    uint8_t sum[32];
    int same;

    if (memcmp(in, SLOT_MAGIC, 8) != 0)
        return LDG_ECORRUPT;
    ldg_sha256(sum, in, OFF_SUM);
    if (memcmp(sum, in + OFF_SUM, 32) != 0)
        return LDG_ECORRUPT;
    memset(s, 0, sizeof *s);
    s->gen = ldg_rd_be64(in + OFF_GEN);
    memcpy(s->par.anchor, in + OFF_ANCHOR, 32);
    s->par.t0_ns = ldg_rd_be64(in + OFF_T0);
    s->par.len_ns = ldg_rd_be64(in + OFF_LEN);
    s->cur.period = ldg_rd_be32(in + OFF_PERIOD);
    s->cur.sub = ldg_rd_be32(in + OFF_SUB);
    if (s->par.len_ns < LDG_EPOCH_LEN_MIN_NS ||
        s->par.len_ns > LDG_EPOCH_LEN_MAX_NS ||
        s->cur.sub > LDG_EPOCH_SUBS_MAX || s->gen == 0 ||
        !is_zero(in + OFF_END, OFF_SUM - OFF_END))
        return LDG_ECORRUPT;
    memcpy(s->cur_seed, in + OFF_CUR, 32);
    memcpy(s->pend, in + OFF_PEND, sizeof s->pend);
    for (unsigned l = 0; l < LDG_EPOCH_DEPTH; l++) {
        const uint8_t *c = in + OFF_PATH + l * CERT_BYTES;
        memcpy(s->path[l].left, c, 32);
        memcpy(s->path[l].right, c + 32, 32);
        memcpy(s->path[l].sig, c + 64, 64);
    }
    for (uint32_t j = 0; j < LDG_EPOCH_SUBS_MAX; j++) {
        const uint8_t *c = in + OFF_LINKS + j * LINK_BYTES;
        if (j >= s->cur.sub) {
            if (!is_zero(c, LINK_BYTES))
                return LDG_ECORRUPT;
            continue;
        }
        s->links[j].start_ns = ldg_rd_be64(c);
        memcpy(s->links[j].pub, c + 8, 32);
        memcpy(s->links[j].sig, c + 40, 64);
    }
    /* the current key must be the one the certs or links name (its
     * secret is checked by what it signs: ldg_epoch_state_check does the
     * scalar multiplication, a load does not) */
    memcpy(s->cur_pub, in + OFF_CURPUB, 32);
    if (s->cur.sub > 0)
        same = memcmp(s->cur_pub, s->links[s->cur.sub - 1].pub, 32) == 0;
    else
        same = memcmp(s->cur_pub,
                      path_bit(s->cur.period, LDG_EPOCH_DEPTH)
                          ? s->path[LDG_EPOCH_DEPTH - 1].right
                          : s->path[LDG_EPOCH_DEPTH - 1].left,
                      32) == 0;
    return same ? 0 : LDG_ECORRUPT;
}

/* ------------------------------------------------------------- the file -- */

static int
write_at(int fd, const uint8_t *p, size_t n, off_t off)
{
    while (n > 0) {
        ssize_t w = pwrite(fd, p, n, off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return LDG_EIO;
        p += w;
        n -= (size_t)w;
        off += w;
    }
    return 0;
}

static int
read_at(int fd, uint8_t *p, size_t n, off_t off)
{
    while (n > 0) {
        ssize_t r = pread(fd, p, n, off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return LDG_EIO;
        p += r;
        n -= (size_t)r;
        off += r;
    }
    return 0;
}

static void
sync_dir_of(const char *path)
{
    char dir[4200];
    const char *slash = strrchr(path, '/');
    int fd;

    if (slash == NULL)
        snprintf(dir, sizeof dir, ".");
    else
        snprintf(dir, sizeof dir, "%.*s",
                 (int)(slash == path ? 1 : slash - path), path);
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int
ldg_epoch_file_create(const char *path, struct ldg_epoch_state *s, char *err,
                      size_t errcap)
{
    uint8_t *slot = ldg_secure_alloc(LDG_EPOCH_SLOT);
    int fd = -1, rc = LDG_EIO;

    if (slot == NULL)
        return LDG_ENOMEM;
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = errno == EEXIST ? LDG_EEXIST : LDG_EIO;
        snprintf(err, errcap, "cannot create %s: %s", path, strerror(errno));
        goto out;
    }
    s->gen = 1;
    ldg_epoch_slot_encode(slot, s, s->gen);
    if (write_at(fd, slot, LDG_EPOCH_SLOT, 0) < 0 ||
        write_at(fd, slot, LDG_EPOCH_SLOT, LDG_EPOCH_SLOT) < 0 ||
        fdatasync(fd) != 0) {
        snprintf(err, errcap, "cannot write %s: %s", path, strerror(errno));
        close(fd);
        fd = -1;
        unlink(path);
        goto out;
    }
    sync_dir_of(path);
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    ldg_secure_free(slot);
    return rc;
}

/* What a state file must be (st: its fstat or lstat): 0; LDG_EKEY
 * (kind, modes, owner, links) or LDG_ECORRUPT (size), with err set. */
static int
file_ok(const char *path, const struct stat *st, char *err, size_t errcap)
{
    if (!S_ISREG(st->st_mode)) {
        snprintf(err, errcap, "epoch key file %s is not a regular file", path);
        return LDG_EKEY;
    }
    if ((st->st_mode & 077) != 0) {
        snprintf(err, errcap,
                 "epoch key file %s has mode %04o; it must be 0600 "
                 "(chmod 600 %s)",
                 path, (unsigned)(st->st_mode & 07777), path);
        return LDG_EKEY;
    }
    if (st->st_uid != geteuid()) {
        snprintf(err, errcap, "epoch key file %s is owned by uid %u, not %u",
                 path, (unsigned)st->st_uid, (unsigned)geteuid());
        return LDG_EKEY;
    }
    if (st->st_nlink != 1) {
        snprintf(err, errcap,
                 "epoch key file %s has %u hard links; a copy elsewhere "
                 "would keep its past secrets",
                 path, (unsigned)st->st_nlink);
        return LDG_EKEY;
    }
    if (st->st_size != 2 * LDG_EPOCH_SLOT) {
        snprintf(err, errcap, "epoch key file %s is %lld bytes, not %d", path,
                 (long long)st->st_size, 2 * LDG_EPOCH_SLOT);
        return LDG_ECORRUPT;
    }
    return 0;
}

/* The state file opened (flags) and checked: the fd, *st its fstat; a
 * negative code with err set. */
static int
open_checked(const char *path, int flags, struct stat *st, char *err,
             size_t errcap)
{
    int fd = open(path, flags | O_NOFOLLOW | O_CLOEXEC), rc;

    if (fd < 0) {
        snprintf(err, errcap, "cannot open %s: %s", path, strerror(errno));
        return errno == ENOENT ? LDG_ENOTFOUND : LDG_EIO;
    }
    if (fstat(fd, st) != 0) {
        snprintf(err, errcap, "cannot stat %s: %s", path, strerror(errno));
        close(fd);
        return LDG_EIO;
    }
    if ((rc = file_ok(path, st, err, errcap)) < 0) {
        close(fd);
        return rc;
    }
    return fd;
}

/* Hands fd (st: its fstat) to s's box, to be written by the next store. */
static void
keep_fd(struct ldg_epoch_state *s, int fd, const struct stat *st)
{
    struct box *b = box_of(s);
    if (b->fd >= 0)
        close(b->fd);
    b->fd = fd;
    b->dev = st->st_dev;
    b->ino = st->st_ino;
}

/* s's state file for a store: the one its box keeps while path still
 * names it and it passes file_ok, else opened anew (and kept). */
static int
store_fd(struct ldg_epoch_state *s, const char *path, char *err, size_t errcap)
{
    struct box *b = box_of(s);
    struct stat st;
    int fd, rc;

    if (b->fd >= 0 && lstat(path, &st) == 0 && st.st_dev == b->dev &&
        st.st_ino == b->ino) {
        if ((rc = file_ok(path, &st, err, errcap)) < 0)
            return rc;
        return b->fd;
    }
    if ((fd = open_checked(path, O_RDWR, &st, err, errcap)) < 0)
        return fd;
    keep_fd(s, fd, &st);
    return fd;
}

static int file_load(const char *path, struct ldg_epoch_state **out,
                     int recover, int *differ, char *err, size_t errcap);

int
ldg_epoch_file_load(const char *path, struct ldg_epoch_state **out, char *err,
                    size_t errcap)
{
    return file_load(path, out, 1, NULL, err, errcap);
}

int
ldg_epoch_file_read(const char *path, struct ldg_epoch_state **out, int *differ,
                    char *err, size_t errcap)
{
    return file_load(path, out, 0, differ, err, errcap);
}

static int
file_load(const char *path, struct ldg_epoch_state **out, int recover,
          int *differ, char *err, size_t errcap)
{
    struct ldg_epoch_state *st[2] = {state_alloc(), state_alloc()};
    uint8_t *slot[2];
    struct stat fst;
    int ok[2], fd = -1, rc, win, same;

    *out = NULL;
    if (st[0] == NULL || st[1] == NULL) {
        rc = LDG_ENOMEM;
        goto out;
    }
    /* each slot read into its state's box (secure memory) */
    slot[0] = work_of(st[0])->slot;
    slot[1] = work_of(st[1])->slot;
    if ((rc = open_checked(path, recover ? O_RDWR : O_RDONLY, &fst, err,
                           errcap)) < 0)
        goto out;
    fd = rc;
    if (read_at(fd, slot[0], LDG_EPOCH_SLOT, 0) < 0 ||
        read_at(fd, slot[1], LDG_EPOCH_SLOT, LDG_EPOCH_SLOT) < 0) {
        snprintf(err, errcap, "cannot read %s: %s", path, strerror(errno));
        rc = LDG_EIO;
        goto out;
    }
    /* both slots alike (every load but the first after a cut): one is
     * decoded and checked for both */
    same = memcmp(slot[0], slot[1], LDG_EPOCH_SLOT) == 0;
    ok[0] = ldg_epoch_slot_decode(slot[0], st[0]) == 0;
    ok[1] = same ? ok[0] : ldg_epoch_slot_decode(slot[1], st[1]) == 0;
    if (!ok[0] && !ok[1]) {
        snprintf(err, errcap,
                 "epoch key file %s has no valid slot (both fail their "
                 "checksum or fields)",
                 path);
        rc = LDG_ECORRUPT;
        goto out;
    }
    win = same || !ok[1] ? 0 : !ok[0] ? 1 : st[1]->gen > st[0]->gen ? 1 : 0;
    if (!same && ok[0] && ok[1] && st[0]->gen == st[1]->gen) {
        snprintf(err, errcap,
                 "epoch key file %s holds two different states of "
                 "generation %llu",
                 path, (unsigned long long)st[0]->gen);
        rc = LDG_ECORRUPT;
        goto out;
    }
    /* recovery: the other slot, torn, stale or zero, becomes the winner */
    if (differ != NULL)
        *differ = !same;
    if (recover && !same) {
        if (write_at(fd, slot[win], LDG_EPOCH_SLOT,
                     (off_t)(1 - win) * LDG_EPOCH_SLOT) < 0 ||
            fdatasync(fd) != 0) {
            snprintf(err, errcap, "cannot write %s: %s", path, strerror(errno));
            rc = LDG_EIO;
            goto out;
        }
    }
    memcpy(box_of(st[win])->sum, slot[win] + OFF_SUM, 32);
    ldg_wipe(slot[win], LDG_EPOCH_SLOT);
    *out = st[win];
    st[win] = NULL;
    if (recover) { /* the sealers' lock is held: the next store writes */
        keep_fd(*out, fd, &fst);
        box_of(*out)->have_sum = 1; /* (both slots hold it now) */
        fd = -1;
    }
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    ldg_epoch_state_free(st[0]); /* (wipes its box, the slot read too) */
    ldg_epoch_state_free(st[1]);
    return rc;
}

int
ldg_epoch_file_store(const char *path, struct ldg_epoch_state *s,
                     int fail_after, char *err, size_t errcap)
{
    uint8_t *slot = work_of(s)->slot;
    uint64_t gen = s->gen + 1;
    int fd, rc = LDG_EIO, step = 0;

    if ((fd = store_fd(s, path, err, errcap)) < 0)
        return fd;           /* (the file, kept open in s's box: store_fd) */
    box_of(s)->have_sum = 0; /* (until both slots hold the new state) */
    ldg_epoch_slot_encode(slot, s, gen);
    /* Both slots hold the current state (gen) when we begin. The new one
     * goes to slot (gen & 1) first, then over the other: a cut before the
     * first sync leaves slot (gen & 1) torn or old and the other whole; a
     * cut after it, the new state whole in one slot. */
    for (int i = 0; i < 2; i++) {
        off_t off = (off_t)((gen + (uint64_t)i) & 1) * LDG_EPOCH_SLOT;
        if (fail_after > 0 && step++ >= fail_after)
            goto cut;
        if (write_at(fd, slot, LDG_EPOCH_SLOT, off) < 0)
            goto ioerr;
        if (fail_after > 0 && step++ >= fail_after)
            goto cut;
        if (fdatasync(fd) != 0)
            goto ioerr;
    }
    s->gen = gen;
    memcpy(box_of(s)->sum, slot + OFF_SUM, 32);
    box_of(s)->have_sum = 1;
    rc = 0;
    goto out;
ioerr:
    snprintf(err, errcap, "cannot write %s: %s", path, strerror(errno));
    goto out;
cut:
    snprintf(err, errcap, "stopped after step %d (a simulated power cut)",
             fail_after);
out:
    ldg_wipe(slot, LDG_EPOCH_SLOT);
    return rc;
}

int
ldg_epoch_file_same(struct ldg_epoch_state *s, const char *path)
{
    struct box *b = box_of(s);
    uint8_t sum[2][32];
    struct stat st;
    char err[8];

    if (b->fd < 0 || !b->have_sum || lstat(path, &st) != 0 ||
        st.st_dev != b->dev || st.st_ino != b->ino ||
        file_ok(path, &st, err, sizeof err) < 0)
        return 0;
    if (read_at(b->fd, sum[0], 32, OFF_SUM) < 0 ||
        read_at(b->fd, sum[1], 32, LDG_EPOCH_SLOT + OFF_SUM) < 0)
        return 0;
    return memcmp(sum[0], b->sum, 32) == 0 && memcmp(sum[1], b->sum, 32) == 0;
}
