/*
 * codec_stored.c — an entry as store layouts 5 to 7 keep it: without the
 * bytes a reader derives (FORMAT.md 6.1). The whole entry is what is
 * hashed, signed, proven and published; the stored record leaves out prev
 * (the leaf hash of the entry before, which the tree holds) and, in a
 * sealed entry of layouts 5 and 6, the stamp's claim digest (a hash of the
 * claim beside it), which layout 7 keeps again (a reader showing it would
 * otherwise hash every claim it shows):
 *
 *   whole, sealed:   0x93 | claim | stamp             | c4 20 prev[32]
 *                                   { digest, leaf, seal, seq, [source], ts }
 *   stored, layout 7: 0x92 | claim | stamp (the whole one, as it is)
 *   stored, 5 and 6: 0x92 | claim | stamp without digest
 *                                   { leaf, seal, seq, [source], ts }
 *
 *   whole, format 1: 0x93 | event map | c4 20 prev[32] | c4 40 sig[64]
 *   stored:          0x92 | event map                  | c4 40 sig[64]
 *
 * "digest" is the first key of a stamp (keys sort bytewise), so the
 * stamp without it is the whole one with its first pair cut and its map
 * header one smaller; a stamp has at most six keys (a fixmap). A reader
 * tells a stored record from a whole entry by the first byte, and the two
 * stored stamps by their first key: every layout from 5 reads both.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/codec_int.h"
#include "ledger/ledger_int.h"

#define PREV_TAIL 34                 /* c4 20 prev[32] */
#define SIG_TAIL 66                  /* c4 40 sig[64] */
#define DIGEST_PAIR (1 + 6 + 2 + 32) /* a6 "digest" c4 20 d[32] */
static const uint8_t digest_key[9] = {0xa6, 'd', 'i',  'g', 'e',
                                      's',  't', 0xc4, 0x20};

/* 1 when the stamp at st (n bytes to the record's end) begins with its
 * claim digest (a stored record of layout 7, or a whole entry's). */
static int
has_digest(const uint8_t *st, size_t n)
{
    return n >= 1 + DIGEST_PAIR && (st[0] & 0xf0) == 0x80 &&
           (st[0] & 0x0f) >= 1 && memcmp(st + 1, digest_key, 9) == 0;
}

/* The parts of a whole entry: its first map (claim or event map) at
 * e + 1 of m bytes; for a sealed one the stamp after it, of s bytes. */
struct parts {
    size_t m, s;
    int sealed;
};

static int
split_whole(const uint8_t *e, size_t len, struct parts *pt)
{
    if (len < 2 + PREV_TAIL || len > LDG_ENTRY_MAX || e[0] != 0x93)
        return LDG_ECORRUPT;
    pt->m = ldg_mp_bounded_len(e + 1, len - 1);
    if (pt->m == 0 || (e[1] & 0xf0) != 0x80 || 1 + pt->m >= len)
        return LDG_ECORRUPT;
    if ((e[1 + pt->m] & 0xf0) == 0x80) {
        const uint8_t *st = e + 1 + pt->m;
        pt->sealed = 1;
        pt->s = ldg_mp_bounded_len(st, len - 1 - pt->m);
        if (pt->s < 1 + DIGEST_PAIR || 1 + pt->m + pt->s + PREV_TAIL != len ||
            (st[0] & 0x0f) < 2 || memcmp(st + 1, digest_key, 9) != 0)
            return LDG_ECORRUPT;
    } else {
        pt->sealed = 0;
        pt->s = 0;
        if (1 + pt->m + PREV_TAIL + SIG_TAIL != len)
            return LDG_ECORRUPT;
    }
    if (e[len - PREV_TAIL - (pt->sealed ? 0 : SIG_TAIL)] != 0xc4 ||
        e[len - PREV_TAIL - (pt->sealed ? 0 : SIG_TAIL) + 1] != 0x20 ||
        (!pt->sealed &&
         (e[len - SIG_TAIL] != 0xc4 || e[len - SIG_TAIL + 1] != 0x40)))
        return LDG_ECORRUPT;
    return 0;
}

/* Appends n bytes to out[*at..cap) (the callers size out first). */
static void
put(uint8_t *out, size_t *at, const void *p, size_t n)
{
    memcpy(out + *at, p, n);
    *at += n;
}

static int restored(const uint8_t *rec, size_t len, int digest, uint8_t *out,
                    size_t cap, size_t *out_len);

int
ldg_entry_stored(const uint8_t *e, size_t len, int digest, uint8_t *out,
                 size_t cap, size_t *out_len)
{
    struct parts pt;
    size_t at = 0, n;
    int rc;

    if (len > 0 && e[0] == 0x92)
        return restored(e, len, digest, out, cap, out_len);
    if ((rc = split_whole(e, len, &pt)) < 0)
        return rc;
    n = len - PREV_TAIL - (pt.sealed && !digest ? DIGEST_PAIR : 0);
    if (n > cap)
        return LDG_ETOOBIG;
    put(out, &at, "\x92", 1);
    put(out, &at, e + 1, pt.m);
    if (pt.sealed && digest) {
        put(out, &at, e + 1 + pt.m, pt.s);
    } else if (pt.sealed) {
        const uint8_t *st = e + 1 + pt.m;
        uint8_t head = (uint8_t)(st[0] - 1);
        put(out, &at, &head, 1);
        put(out, &at, st + 1 + DIGEST_PAIR, pt.s - 1 - DIGEST_PAIR);
    } else {
        put(out, &at, e + len - SIG_TAIL, SIG_TAIL);
    }
    *out_len = at;
    return 0;
}

/* ldg_entry_stored of a stored record: as it is, or its digest pair cut
 * or put in (the digest derived from the claim). */
static int
restored(const uint8_t *rec, size_t len, int digest, uint8_t *out, size_t cap,
         size_t *out_len)
{
    size_t m, at = 0, n;
    int sealed, has, rc;
    const uint8_t *st;

    if ((rc = ldg_entry_stored_parts(rec, len, &m, &sealed)) < 0)
        return rc;
    st = rec + 1 + m;
    has = sealed && has_digest(st, len - 1 - m);
    n = !sealed || has == !!digest ? len
        : has                      ? len - DIGEST_PAIR
                                   : len + DIGEST_PAIR;
    if (n > LDG_ENTRY_MAX)
        return LDG_ECORRUPT;
    if (n > cap)
        return LDG_ETOOBIG;
    if (n == len) {
        memcpy(out, rec, len);
    } else {
        uint8_t head = (uint8_t)(has ? st[0] - 1 : st[0] + 1), d[32];
        put(out, &at, rec, 1 + m);
        put(out, &at, &head, 1);
        if (has) {
            put(out, &at, st + 1 + DIGEST_PAIR, len - 2 - m - DIGEST_PAIR);
        } else {
            ldg_claim_digest(d, rec + 1, m);
            put(out, &at, digest_key, sizeof digest_key);
            put(out, &at, d, 32);
            put(out, &at, st + 1, len - 2 - m);
        }
    }
    *out_len = n;
    return 0;
}

int
ldg_entry_stored_parts(const uint8_t *rec, size_t len, size_t *first_len,
                       int *sealed)
{
    size_t m, s;
    if (len < 2 || len > LDG_ENTRY_MAX || rec[0] != 0x92 ||
        (rec[1] & 0xf0) != 0x80)
        return LDG_ECORRUPT;
    m = ldg_mp_bounded_len(rec + 1, len - 1);
    if (m == 0 || 1 + m >= len)
        return LDG_ECORRUPT;
    if ((rec[1 + m] & 0xf0) == 0x80) {
        /* a stamp with its digest or without: at least leaf, seal, seq,
         * ts (the strict reader checks the keys) */
        s = ldg_mp_bounded_len(rec + 1 + m, len - 1 - m);
        if (s == 0 || 1 + m + s != len || (rec[1 + m] & 0x0f) < 1 ||
            (rec[1 + m] & 0x0f) > 14)
            return LDG_ECORRUPT;
        *sealed = 1;
    } else {
        if (1 + m + SIG_TAIL != len || rec[1 + m] != 0xc4 || rec[2 + m] != 0x40)
            return LDG_ECORRUPT;
        *sealed = 0;
    }
    *first_len = m;
    return 0;
}

int
ldg_entry_stored_digest(const uint8_t *rec, size_t len, size_t first_len)
{
    return 1 + first_len < len &&
           has_digest(rec + 1 + first_len, len - 1 - first_len);
}

static int whole(const uint8_t *rec, size_t len, const uint8_t prev[32],
                 int digest, uint8_t *out, size_t cap, size_t *out_len);

int
ldg_entry_whole(const uint8_t *rec, size_t len, const uint8_t prev[32],
                uint8_t *out, size_t cap, size_t *out_len)
{
    return whole(rec, len, prev, 1, out, cap, out_len);
}

/* whole() of a stored form whose parts ldg_entry_stored_parts gave. */
static int whole_parts(const uint8_t *rec, size_t len, size_t m, int sealed,
                       const uint8_t prev[32], int digest, uint8_t *out,
                       size_t cap, size_t *out_len);

static int
whole(const uint8_t *rec, size_t len, const uint8_t prev[32], int digest,
      uint8_t *out, size_t cap, size_t *out_len)
{
    size_t m;
    int sealed, rc;

    if (len > 0 && rec[0] == 0x93) { /* whole already */
        if (len > cap)
            return LDG_ETOOBIG;
        memcpy(out, rec, len);
        *out_len = len;
        return 0;
    }
    if ((rc = ldg_entry_stored_parts(rec, len, &m, &sealed)) < 0)
        return rc;
    return whole_parts(rec, len, m, sealed, prev, digest, out, cap, out_len);
}

static int
whole_parts(const uint8_t *rec, size_t len, size_t m, int sealed,
            const uint8_t prev[32], int digest, uint8_t *out, size_t cap,
            size_t *out_len)
{
    size_t at = 0, n;

    if (sealed && has_digest(rec + 1 + m, len - 1 - m)) {
        /* layout 7: the stamp as it is, prev after it */
        if (len + PREV_TAIL > LDG_ENTRY_MAX)
            return LDG_ECORRUPT;
        if (len + PREV_TAIL > cap)
            return LDG_ETOOBIG;
        put(out, &at, "\x93", 1);
        put(out, &at, rec + 1, len - 1);
        put(out, &at, "\xc4\x20", 2);
        put(out, &at, prev, 32);
        *out_len = at;
        return 0;
    }
    n = len + PREV_TAIL + (sealed ? DIGEST_PAIR : 0);
    if (n > LDG_ENTRY_MAX)
        return LDG_ECORRUPT;
    if (n > cap)
        return LDG_ETOOBIG;
    put(out, &at, "\x93", 1);
    put(out, &at, rec + 1, m);
    if (sealed) {
        const uint8_t *st = rec + 1 + m;
        uint8_t head = (uint8_t)(st[0] + 1), d[32] = {0};
        if (digest)
            ldg_claim_digest(d, rec + 1, m);
        put(out, &at, &head, 1);
        put(out, &at, digest_key, sizeof digest_key);
        put(out, &at, d, 32);
        put(out, &at, st + 1, len - 1 - m - 1);
        put(out, &at, "\xc4\x20", 2);
        put(out, &at, prev, 32);
    } else {
        put(out, &at, "\xc4\x20", 2);
        put(out, &at, prev, 32);
        put(out, &at, rec + 1 + m, SIG_TAIL);
    }
    *out_len = at;
    return 0;
}

/* --------------------------------------------------------- decoding -- */

/* A thread's buffer for the whole entry a stored record makes. */
static pthread_key_t whole_key;
static pthread_once_t whole_once = PTHREAD_ONCE_INIT;
static int whole_key_ok;

static void
whole_key_make(void)
{
    whole_key_ok = pthread_key_create(&whole_key, free) == 0;
}

static uint8_t *
thread_whole(void)
{
    uint8_t *b;
    pthread_once(&whole_once, whole_key_make);
    if (!whole_key_ok)
        return NULL;
    b = pthread_getspecific(whole_key);
    if (b == NULL && (b = malloc(LDG_ENTRY_MAX)) != NULL &&
        pthread_setspecific(whole_key, b) != 0) {
        free(b);
        b = NULL;
    }
    return b;
}

/* p, a pointer into the whole entry w made from rec, as the same byte of
 * rec: the first map is at the same offset in both; a sealed stamp's
 * bytes after its digest are DIGEST_PAIR further in w when rec left the
 * digest out (cut 1), at the same offset when it kept it. */
static const void *
remap(const void *p, const uint8_t *w, const uint8_t *rec, size_t m, int cut)
{
    size_t off;
    if (p == NULL)
        return NULL;
    off = (size_t)((const uint8_t *)p - w);
    if (cut && off > 1 + m)
        off -= DIGEST_PAIR;
    return rec + off;
}

/* The leaf hash of the whole entry a stored sealed record rec (its claim
 * m bytes at rec + 1) makes with prev and, when rec left it out (cut 1),
 * digest d: the bytes whole_parts lays out, hashed as they go (RFC 6962:
 * 0x00 before the entry). */
static void
leaf_of_stored(uint8_t out[32], const uint8_t *rec, size_t len, size_t m,
               int cut, const uint8_t d[32], const uint8_t prev[32])
{
    static const uint8_t start[2] = {0x00, 0x93}, prev_head[2] = {0xc4, 0x20};
    struct ldg_sha256_ctx c;
    uint8_t head = (uint8_t)(rec[1 + m] + 1);

    ldg_sha256_init(&c);
    ldg_sha256_update(&c, start, 2);
    if (cut) {
        ldg_sha256_update(&c, rec + 1, m);
        ldg_sha256_update(&c, &head, 1);
        ldg_sha256_update(&c, digest_key, sizeof digest_key);
        ldg_sha256_update(&c, d, 32);
        ldg_sha256_update(&c, rec + 2 + m, len - 2 - m);
    } else {
        ldg_sha256_update(&c, rec + 1, len - 1);
    }
    ldg_sha256_update(&c, prev_head, 2);
    ldg_sha256_update(&c, prev, 32);
    ldg_sha256_final(&c, out);
}

int
ldg_entry_decode_rec(const uint8_t *rec, size_t len, const uint8_t *prev,
                     struct ldg_event *ev, unsigned flags)
{
    static const uint8_t zero[32];
    uint8_t *w;
    size_t wl, m;
    int sealed, cut, rc;

    if (rec == NULL || ev == NULL)
        return LDG_EINVAL;
    if (len > 0 && rec[0] == 0x93)
        return ldg_event_decode_flags(rec, len, ev,
                                      flags & ~LDG_DECODE_NO_DIGEST);
    /* A sealed entry read in place when no leaf hash is asked for (that
     * takes the whole entry): what the readers below accept is what the
     * whole entry's would, and anything else (a format 1 entry, damage)
     * takes the way below, which says what is wrong. */
    if (len > 0 && rec[0] == 0x92 &&
        (prev == NULL || (flags & LDG_DECODE_TRUSTED))) {
        memset(ev, 0, sizeof *ev);
        if (((flags & LDG_DECODE_TRUSTED) &&
             ldg_entry2_decode_stored_trusted(rec, len, ev) == 0) ||
            ldg_entry2_decode_stored(rec, len, ev) == 0) {
            if (ev->digest_derived && !(flags & LDG_DECODE_NO_DIGEST))
                ldg_claim_digest(ev->digest, ev->signed_part, ev->signed_len);
            if (prev != NULL)
                memcpy(ev->prev, prev, 32);
            ev->derived = 1;
            return 0;
        }
    }
    /* The same in place with the leaf hash (verify's pass 1, every event):
     * the strict reader of the stored form accepts what the whole entry's
     * would (the digest stored or derived, prev given), so the record is
     * walked once and the whole entry hashed as its parts, not copied and
     * read again.
     * Anything it does not accept, or a whole entry over the limit, takes
     * the way below, which says what is wrong. */
    if (len > 0 && rec[0] == 0x92 && prev != NULL &&
        !(flags & (LDG_DECODE_TRUSTED | LDG_DECODE_NO_DIGEST)) &&
        len + PREV_TAIL + DIGEST_PAIR <= LDG_ENTRY_MAX) {
        memset(ev, 0, sizeof *ev);
        if (ldg_entry2_decode_stored(rec, len, ev) == 0) {
            if (ev->digest_derived)
                ldg_claim_digest(ev->digest, ev->signed_part, ev->signed_len);
            memcpy(ev->prev, prev, 32);
            leaf_of_stored(ev->leaf, rec, len, ev->signed_len,
                           ev->digest_derived, ev->digest, prev);
            ev->derived = 1;
            return 0;
        }
    }
    memset(ev, 0, sizeof *ev);
    if ((rc = ldg_entry_stored_parts(rec, len, &m, &sealed)) < 0)
        return rc;
    cut = sealed && !has_digest(rec + 1 + m, len - 1 - m);
    if ((w = thread_whole()) == NULL)
        return LDG_ENOMEM;
    if ((rc = whole_parts(rec, len, m, sealed, prev ? prev : zero,
                          !(flags & LDG_DECODE_NO_DIGEST), w, LDG_ENTRY_MAX,
                          &wl)) < 0)
        return rc;
    if ((rc = ldg_event_decode_flags(w, wl, ev,
                                     flags & ~LDG_DECODE_NO_DIGEST)) < 0)
        return rc;
    /* the strings and the signed bytes point into rec, which outlives
     * this thread's buffer; the whole entry is ldg_event_entry's to make */
    ev->signed_part = remap(ev->signed_part, w, rec, m, cut);
    ev->id = remap(ev->id, w, rec, m, cut);
    ev->src_exe = remap(ev->src_exe, w, rec, m, cut);
    ev->src_unit = remap(ev->src_unit, w, rec, m, cut);
    ev->entry = NULL;
    ev->entry_len = 0;
    ev->derived = 1;
    ev->digest_derived = cut;
    if (prev == NULL) {
        memset(ev->prev, 0, 32);
        memset(ev->leaf, 0, 32);
    }
    return 0;
}
