/*
 * crypto.c — the one file of ledger/ that talks to libsodium and Nettle.
 *
 * SHA-256, Ed25519 with a domain context, keyed BLAKE2b for test salts,
 * hex/base64, and secret-key memory. Keys are generated here too.
 *
 * SHA-256 comes from Nettle: its "fat" build picks the CPU's SHA extensions
 * (SHA-NI) at run time, 3-4x faster than libsodium 1.0.18's portable code
 * (about 0.2 us against 0.8 us for 100 bytes here), and the ledger hashes
 * a dozen short messages per event. OpenSSL's libcrypto is as fast but
 * costs ~2 ms of dynamic loading in every process, which short commands
 * (append, query run=R) cannot afford. Ed25519 stays with libsodium, which
 * signs twice as fast as OpenSSL 3.0 here.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nettle/aes.h>
#include <nettle/sha2.h>
#include <nettle/version.h>
#include <sodium.h>

#include "ledger/crypto_int.h"
#include "ledger/ledger.h"

_Static_assert(sizeof(struct sha256_ctx) <= sizeof(struct ldg_sha256_ctx),
               "sha256 state does not fit");

static void pool_after_fork(void);

static int init_rc;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void
crypto_init(void)
{
    init_rc = sodium_init() < 0 ? LDG_EIO : 0;
    if (init_rc == 0 && pthread_atfork(NULL, NULL, pool_after_fork) != 0)
        init_rc = LDG_EIO;
}

/* libsodium picks its fastest implementations in sodium_init(); every
 * entry point, including the offline verifiers, makes sure it ran. */
static int
crypto_ready(void)
{
    pthread_once(&init_once, crypto_init);
    return init_rc;
}

void
ldg_sha256_init(struct ldg_sha256_ctx *c)
{
    sha256_init((struct sha256_ctx *)(void *)c->opaque);
}

void
ldg_sha256_update(struct ldg_sha256_ctx *c, const void *p, size_t n)
{
    sha256_update((struct sha256_ctx *)(void *)c->opaque, n, p);
}

void
ldg_sha256_final(struct ldg_sha256_ctx *c, uint8_t out[32])
{
    sha256_digest((struct sha256_ctx *)(void *)c->opaque, 32, out);
}

void
ldg_sha256(uint8_t out[32], const void *p, size_t n)
{
    struct sha256_ctx c;

    sha256_init(&c);
    sha256_update(&c, n, p);
    sha256_digest(&c, 32, out);
}

int
ldg_sha256_fd(int fd, uint8_t out[32], uint64_t *bytes, uint64_t size_hint,
              void (*progress)(void *ctx, uint64_t done, uint64_t total),
              void *progress_ctx)
{
    enum { BUF = 1 << 20 };
    const uint64_t tick = 64u << 20;
    struct sha256_ctx c;
    uint64_t done = 0, next = tick;
    uint8_t *buf = malloc(BUF);
    if (buf == NULL)
        return LDG_ENOMEM;
    (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    sha256_init(&c);
    for (;;) {
        ssize_t n = read(fd, buf, BUF);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            free(buf);
            return LDG_EIO;
        }
        if (n == 0)
            break;
        sha256_update(&c, (size_t)n, buf);
        done += (uint64_t)n;
        if (progress && done >= next) {
            progress(progress_ctx, done, size_hint);
            next = done + tick;
        }
    }
    free(buf);
    sha256_digest(&c, 32, out);
    if (bytes)
        *bytes = done;
    if (progress)
        progress(progress_ctx, done, size_hint);
    return 0;
}

/*
 * Domain separation: the signed message is ctx ‖ msg, where ctx is a fixed
 * NUL-terminated string whose NUL is included (see FORMAT.md). Signing a
 * message that is not contiguous needs a copy; messages are small (an
 * entry is at most 64 KiB), so a stack buffer serves the common case.
 */
static int
with_ctx(const char *ctx, const void *msg, size_t n, uint8_t *stackbuf,
         size_t stackcap, uint8_t **buf, size_t *len)
{
    size_t clen = strlen(ctx) + 1;
    *len = clen + n;
    *buf = *len <= stackcap ? stackbuf : malloc(*len);
    if (*buf == NULL)
        return LDG_ENOMEM;
    memcpy(*buf, ctx, clen);
    memcpy(*buf + clen, msg, n);
    return 0;
}

int
ldg_ed25519_sign_ctx(uint8_t sig[64], const char *ctx, const void *msg,
                     size_t n, const struct ldg_key *key)
{
    uint8_t stackbuf[1024], *buf;
    size_t len;
    int rc;

    if (key == NULL || key->sk == NULL)
        return LDG_EKEY;
    rc = with_ctx(ctx, msg, n, stackbuf, sizeof stackbuf, &buf, &len);
    if (rc < 0)
        return rc;
    crypto_sign_detached(sig, NULL, buf, len, key->sk);
    if (buf != stackbuf)
        free(buf);
    return 0;
}

int
ldg_ed25519_verify_ctx(const uint8_t sig[64], const char *ctx, const void *msg,
                       size_t n, const uint8_t pub[32])
{
    uint8_t stackbuf[1024], *buf;
    size_t len;
    int rc;

    if (crypto_ready() < 0)
        return LDG_EIO;
    rc = with_ctx(ctx, msg, n, stackbuf, sizeof stackbuf, &buf, &len);
    if (rc < 0) /* (out of memory: counted, a check that failed is none) */
        return rc == LDG_ENOMEM ? ldg_alloc_failed() : rc;
    rc = crypto_sign_verify_detached(sig, buf, len, pub) == 0 ? 0 : LDG_EBADSIG;
    if (buf != stackbuf)
        free(buf);
    return rc;
}

/* A thread's scratch for an Ed25519 secret put together from a seed:
 * sodium_malloc'd once (a secret never lives in ordinary memory), wiped
 * after each use. Spares the epoch keys' moves an allocation (an mmap,
 * mprotects and an mlock) per key. */
static _Thread_local unsigned char *seed_sk;

static unsigned char *
scratch_sk(void)
{
    if (seed_sk == NULL && crypto_ready() == 0)
        seed_sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    return seed_sk;
}

int
ldg_ed25519_seed_pub(uint8_t pub[32], const uint8_t seed[32])
{
    unsigned char *sk = scratch_sk();
    if (sk == NULL)
        return LDG_ENOMEM;
    crypto_sign_seed_keypair(pub, sk, seed);
    sodium_memzero(sk, crypto_sign_SECRETKEYBYTES);
    return 0;
}

int
ldg_ed25519_seed_sign_ctx(uint8_t sig[64], const char *ctx, const void *msg,
                          size_t n, const uint8_t seed[32],
                          const uint8_t pub[32])
{
    unsigned char *sk = scratch_sk();
    uint8_t stackbuf[1024], *buf;
    size_t len;
    int rc;

    if (sk == NULL)
        return LDG_ENOMEM;
    if ((rc = with_ctx(ctx, msg, n, stackbuf, sizeof stackbuf, &buf, &len)) < 0)
        return rc;
    memcpy(sk, seed, 32);
    memcpy(sk + 32, pub, 32);
    crypto_sign_detached(sig, NULL, buf, len, sk);
    sodium_memzero(sk, crypto_sign_SECRETKEYBYTES);
    if (buf != stackbuf)
        free(buf);
    return 0;
}

int
ldg_ed25519_pub_valid(const uint8_t pub[32])
{
    return crypto_core_ed25519_is_valid_point(pub) == 1;
}

int
ldg_ed25519_sign_raw(uint8_t sig[64], const void *msg, size_t n,
                     const struct ldg_key *key)
{
    if (key == NULL || key->sk == NULL)
        return LDG_EKEY;
    crypto_sign_detached(sig, NULL, msg, n, key->sk);
    return 0;
}

int
ldg_ed25519_verify_raw(const uint8_t sig[64], const void *msg, size_t n,
                       const uint8_t pub[32])
{
    if (crypto_ready() < 0)
        return LDG_EIO;
    return crypto_sign_verify_detached(sig, msg, n, pub) == 0 ? 0 : LDG_EBADSIG;
}

int
ldg_key_sign_plain(const struct ldg_key *k, const void *msg, size_t n,
                   uint8_t sig[64])
{
    if (sig == NULL || (msg == NULL && n > 0))
        return LDG_EINVAL;
    return ldg_ed25519_sign_raw(sig, msg, n, k);
}

int
ldg_sig_verify_plain(const uint8_t pub[32], const void *msg, size_t n,
                     const uint8_t sig[64])
{
    if (pub == NULL || sig == NULL || (msg == NULL && n > 0))
        return LDG_EINVAL;
    return ldg_ed25519_verify_raw(sig, msg, n, pub);
}

void
ldg_keyed_hash16(uint8_t out[16], const uint8_t key[32], const void *msg,
                 size_t n)
{
    crypto_generichash(out, 16, msg, n, key, 32);
}

void
ldg_seed_salts(const uint8_t seed[LDG_SEED_LEN], size_t n,
               uint8_t (*out)[LDG_SALT_LEN])
{
    crypto_generichash_state keyed, st;
    uint8_t block[64], jb[4];

    crypto_generichash_init(&keyed, seed, LDG_SEED_LEN, sizeof block);
    crypto_generichash_update(&keyed, (const unsigned char *)LDG_CTX_SALT,
                              sizeof LDG_CTX_SALT);
    for (size_t j = 0; 4 * j < n; j++) {
        memcpy(&st, &keyed, sizeof st);
        jb[0] = (uint8_t)(j >> 24);
        jb[1] = (uint8_t)(j >> 16);
        jb[2] = (uint8_t)(j >> 8);
        jb[3] = (uint8_t)j;
        crypto_generichash_update(&st, jb, sizeof jb);
        crypto_generichash_final(&st, block, sizeof block);
        for (size_t i = 4 * j; i < n && i < 4 * j + 4; i++)
            memcpy(out[i], block + LDG_SALT_LEN * (i - 4 * j), LDG_SALT_LEN);
    }
    sodium_memzero(&keyed, sizeof keyed);
    sodium_memzero(&st, sizeof st);
    sodium_memzero(block, sizeof block);
}

void
ldg_seed_salts_aes(const uint8_t seed[LDG_SEED_LEN], size_t n,
                   uint8_t (*out)[LDG_SALT_LEN])
{
    struct aes128_ctx ctx;
    uint8_t in[64 * 16];
    const size_t cl = sizeof LDG_CTX_SALT_AES - 1;

    _Static_assert(sizeof LDG_CTX_SALT_AES - 1 + 4 == AES_BLOCK_SIZE,
                   "a counter block is the context and u32be(i)");
    _Static_assert(LDG_SEED_LEN == AES128_KEY_SIZE &&
                       LDG_SALT_LEN == AES_BLOCK_SIZE,
                   "the seed is an AES-128 key, a salt one block");
    aes128_set_encrypt_key(&ctx, seed);
    for (size_t done = 0; done < n;) {
        size_t k = n - done > 64 ? 64 : n - done;
        for (size_t i = 0; i < k; i++) {
            uint8_t *b = in + AES_BLOCK_SIZE * i;
            memcpy(b, LDG_CTX_SALT_AES, cl);
            ldg_be32(b + cl, (uint32_t)(done + i));
        }
        aes128_encrypt(&ctx, AES_BLOCK_SIZE * k, out[done], in);
        done += k;
    }
    sodium_memzero(&ctx, sizeof ctx);
}

void
ldg_shorthash128(uint8_t out[16], const uint8_t key[16], const void *msg,
                 size_t n)
{
    crypto_shorthash_siphashx24(out, msg, n, key);
}

/*
 * Small random values (a 16-byte salt per body field, ten or more per
 * event) come from a per-thread pool, refilled 4 KiB at a time by a
 * fast-key-erasure generator: ChaCha20 (libsodium) under a 32-byte key
 * expands into the pool, the first 32 bytes of each refill become the next
 * key and are wiped from the pool, so bytes already handed out cannot be
 * recomputed from the state left in memory. The key comes from the kernel
 * (getrandom) at the first refill and again every RESEED refills. Before,
 * every refill read all 4 KiB from getrandom(2): on this VM that syscall
 * was 40% of preparing a body (bench/RESULTS.md). Bytes are wiped from the
 * pool as they are handed out, and a forked child starts with an empty
 * pool and no key, so it never repeats its parent's bytes.
 */
#define POOL_SIZE 4096
#define POOL_MAX_REQ 256
#define RESEED 64 /* refills (256 KiB) per key from the kernel */

static _Thread_local struct {
    unsigned char b[POOL_SIZE];
    size_t left; /* unused bytes at the end of b */
    unsigned char key[crypto_stream_chacha20_ietf_KEYBYTES];
    unsigned refills; /* since the key came from the kernel; 0: no key */
} pool;

static void
pool_after_fork(void)
{
    sodium_memzero(&pool, sizeof pool);
}

static void
pool_refill(void)
{
    static const unsigned char nonce[crypto_stream_chacha20_ietf_NONCEBYTES];
    if (pool.refills % RESEED == 0)
        randombytes_buf(pool.key, sizeof pool.key);
    /* One key, one stream: the key is replaced below before it is used
     * again, so the fixed nonce never repeats under a key. */
    crypto_stream_chacha20_ietf(pool.b, sizeof pool.b, nonce, pool.key);
    memcpy(pool.key, pool.b, sizeof pool.key);
    sodium_memzero(pool.b, sizeof pool.key);
    pool.left = sizeof pool.b - sizeof pool.key;
    pool.refills++;
}

void
ldg_random(void *buf, size_t n)
{
    unsigned char *src;

    (void)crypto_ready();
    if (n > POOL_MAX_REQ) {
        randombytes_buf(buf, n);
        return;
    }
    if (pool.left < n)
        pool_refill();
    src = pool.b + sizeof pool.b - pool.left;
    memcpy(buf, src, n);
    sodium_memzero(src, n);
    pool.left -= n;
}

void *
ldg_secure_alloc(size_t n)
{
    if (crypto_ready() < 0)
        return NULL;
    return sodium_malloc(n);
}

void
ldg_secure_free(void *p)
{
    if (p != NULL)
        sodium_free(p);
}

void
ldg_wipe(void *p, size_t n)
{
    sodium_memzero(p, n);
}

/* ---------------------------------------------------------------- keys -- */

void
ldg_key_id(char key_id[LDG_KEYID_LEN + 1], const uint8_t pub[32])
{
    uint8_t h[32];
    ldg_sha256(h, pub, 32);
    ldg_hex(key_id, h, LDG_KEYID_LEN / 2);
}

int
ldg_key_name_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > LDG_NAME_MAX || name[0] == '.' || name[0] == '-')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                 (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
        if (!ok)
            return 0;
    }
    return 1;
}

/* A key from its seed (NULL: a random one). pub, when given, is the
 * seed's public key, known already (an epoch key's, from its cert): the
 * secret is put together as libsodium lays it out (seed ‖ pub) without
 * the scalar multiplication; a wrong pub makes signatures that do not
 * verify, never a wrong key id. */
static int
key_new(struct ldg_key **out, const char *name, const uint8_t *seed,
        const uint8_t *pub)
{
    struct ldg_key *k;
    uint8_t seedbuf[32];

    *out = NULL;
    if (name == NULL || strlen(name) > LDG_NAME_MAX)
        return LDG_EINVAL;
    if (crypto_ready() < 0)
        return LDG_EIO;
    k = calloc(1, sizeof *k);
    if (k == NULL)
        return LDG_ENOMEM;
    k->sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    if (k->sk == NULL) {
        free(k);
        return LDG_ENOMEM;
    }
    if (seed == NULL) {
        randombytes_buf(seedbuf, sizeof seedbuf);
        seed = seedbuf;
    }
    if (pub != NULL) {
        _Static_assert(crypto_sign_SECRETKEYBYTES == 64, "seed ‖ pub");
        memcpy(k->sk, seed, 32);
        memcpy(k->sk + 32, pub, 32);
        memcpy(k->pub, pub, 32);
    } else {
        crypto_sign_seed_keypair(k->pub, k->sk, seed);
    }
    sodium_memzero(seedbuf, sizeof seedbuf);
    memcpy(k->name, name, strlen(name) + 1);
    ldg_key_id(k->key_id, k->pub);
    *out = k;
    return 0;
}

int
ldg_key_generate(struct ldg_key **out, const char *name)
{
    if (out != NULL && !ldg_key_name_valid(name)) {
        *out = NULL; /* a key saved must load back: its name too */
        return LDG_EINVAL;
    }
    return key_new(out, name, NULL, NULL);
}

int
ldg_key_from_seed(struct ldg_key **out, const char *name,
                  const uint8_t seed[32])
{
    return key_new(out, name, seed, NULL);
}

int
ldg_key_from_keypair(struct ldg_key **out, const char *name,
                     const uint8_t seed[32], const uint8_t pub[32])
{
    return key_new(out, name, seed, pub);
}

int
ldg_key_from_public(struct ldg_key **out, const char *name,
                    const uint8_t pub[32])
{
    struct ldg_key *k;

    *out = NULL;
    if (name == NULL || strlen(name) > LDG_NAME_MAX)
        return LDG_EINVAL;
    k = calloc(1, sizeof *k);
    if (k == NULL)
        return LDG_ENOMEM;
    memcpy(k->pub, pub, 32);
    memcpy(k->name, name, strlen(name) + 1);
    ldg_key_id(k->key_id, k->pub);
    *out = k;
    return 0;
}

void
ldg_key_free(struct ldg_key *k)
{
    if (k == NULL)
        return;
    if (k->sk != NULL)
        sodium_free(k->sk); /* sodium_free wipes */
    free(k);
}

int
ldg_key_seed(const struct ldg_key *k, uint8_t seed[32])
{
    if (k == NULL || k->sk == NULL)
        return LDG_EKEY;
    crypto_sign_ed25519_sk_to_seed(seed, k->sk);
    return 0;
}

/* ------------------------------------------------------------ encodings -- */

void
ldg_base64(char *out, const uint8_t *p, size_t n)
{
    sodium_bin2base64(
        out, sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL), p, n,
        sodium_base64_VARIANT_ORIGINAL);
}

int
ldg_unbase64(uint8_t *out, size_t n, const char *b64, size_t b64len)
{
    size_t got = 0;
    const char *end = NULL;
    if (b64len != ((n + 2) / 3) * 4)
        return LDG_EBADINPUT;
    /* the alphabet checked here: libsodium 1.0.18 (Debian 12's) reads a
     * byte 0x80..0xff as the digit '/', so a key, root or signature had
     * encodings besides its one, which Go's decoder refuses */
    for (size_t i = 0; i < b64len; i++) {
        unsigned char ch = (unsigned char)b64[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
              (ch >= '0' && ch <= '9') || ch == '+' || ch == '/' || ch == '='))
            return LDG_EBADINPUT;
    }
    if (sodium_base642bin(out, n, b64, b64len, NULL, &got, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        got != n || end != b64 + b64len)
        return LDG_EBADINPUT;
    return 0;
}

const char *
ldg_crypto_lib_version(void)
{
    static char v[64];
    snprintf(v, sizeof v, "libsodium %s, nettle %d.%d", sodium_version_string(),
             nettle_version_major(), nettle_version_minor());
    return v;
}
