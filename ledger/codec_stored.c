/*
 * codec_stored.c — an entry as store layouts 5 to 8 keep it: without the
 * bytes a reader derives (FORMAT.md 6.1). The whole entry is what is
 * hashed, signed, proven and published; the stored record leaves out prev
 * (the leaf hash of the entry before, which the tree holds) and, in a
 * sealed entry of layouts 5 and 6, the stamp's claim digest (a hash of the
 * claim beside it), which layouts 7 and 8 keep again (a reader showing it
 * would otherwise hash every claim it shows), layout 8 raw before the
 * record, 8 bytes fewer than as a msgpack pair in the stamp:
 *
 *   whole, sealed:   0x93 | claim | stamp             | c4 20 prev[32]
 *                                   { digest, leaf, seal, seq, [source], ts }
 *   stored, layout 8: 0x01 | digest[32] | 0x92 | claim | stamp'
 *   stored, layout 7: 0x92 | claim | stamp (the whole one, as it is)
 *   stored, 5 and 6: 0x92 | claim | stamp' (the stamp without digest)
 *                                   { leaf, seal, seq, [source], ts }
 *
 *   whole, format 1: 0x93 | event map | c4 20 prev[32] | c4 40 sig[64]
 *   stored:          0x92 | event map                  | c4 40 sig[64]
 *
 * "digest" is the first key of a stamp (keys sort bytewise), so stamp'
 * is the whole one with its first pair cut and its map header one
 * smaller; a stamp has at most six keys (a fixmap). A reader tells the
 * forms apart by the first byte (0x93, 0x92 or 0x01), and the two 0x92
 * stamps by their first key: every layout from 8 reads them all. A 0x01
 * record's own record is a sealed one without digest, nothing else.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/codec_int.h"
#include "ledger/record_int.h"

#define PREV_TAIL 34                 /* c4 20 prev[32] */
#define SIG_TAIL 66                  /* c4 40 sig[64] */
#define DIGEST_PAIR (1 + 6 + 2 + 32) /* a6 "digest" c4 20 d[32] */
#define TAG_HEAD 33                  /* layout 8: 01 d[32] */
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
    LDG_ASSERT(1 + pt->m + pt->s < len);
    return 0;
}

/* Appends n bytes to out[*at..cap) (the callers size out first). */
static void
put(uint8_t *out, size_t *at, const void *p, size_t n)
{
    memcpy(out + *at, p, n);
    *at += n;
}

/* A sealed entry in any of its forms, as the pieces every form is made
 * of: the claim (m bytes), stamp' (its header, the number of keys but
 * digest, and the rest bytes after it) and the digest (NULL: not stored,
 * derived from the claim). */
struct sealed {
    const uint8_t *claim, *rest, *d;
    size_t m, rlen;
    uint8_t head;
};

/* The pieces of a stored record of layouts 5 to 7 (0x92, sealed; its
 * claim m bytes): the digest from the stamp when it has one. */
static void
sealed_of_rec(const uint8_t *rec, size_t len, size_t m, struct sealed *sl)
{
    const uint8_t *st = rec + 1 + m;
    sl->claim = rec + 1;
    sl->m = m;
    if (has_digest(st, len - 1 - m)) {
        sl->head = (uint8_t)(st[0] - 1);
        sl->d = st + 1 + 9;
        sl->rest = st + 1 + DIGEST_PAIR;
        sl->rlen = len - 2 - m - DIGEST_PAIR;
    } else {
        sl->head = st[0];
        sl->d = NULL;
        sl->rest = st + 1;
        sl->rlen = len - 2 - m;
    }
    LDG_ASSERT(sl->rest + sl->rlen == rec + len);
}

/* Whether rec has a layout 8 record's frame: the tag, the digest, a
 * 0x92 record after them, and a whole entry within the limit (what is
 * inside is the record readers' to check). */
static int
tag_framed(const uint8_t *rec, size_t len)
{
    return len >= TAG_HEAD + 2 && rec[0] == 0x01 && rec[TAG_HEAD] == 0x92 &&
           len + PREV_TAIL + DIGEST_PAIR - TAG_HEAD <= LDG_ENTRY_MAX;
}

/* The record inside a layout 8 one (0x01 ‖ d ‖ 0x92 ‖ claim ‖ stamp'),
 * which must be a sealed entry stored without its digest: 0 with its
 * claim's length *m, or LDG_ECORRUPT. */
static int
tagged_inner(const uint8_t *rec, size_t len, size_t *m)
{
    int sealed, rc;
    if (!tag_framed(rec, len))
        return LDG_ECORRUPT;
    if ((rc = ldg_entry_stored_parts(rec + TAG_HEAD, len - TAG_HEAD, m,
                                     &sealed)) < 0)
        return rc;
    if (!sealed || has_digest(rec + TAG_HEAD + 1 + *m, len - TAG_HEAD - 1 - *m))
        return LDG_ECORRUPT;
    return 0;
}

/* The bytes of form (enum ldg_stored_form) of sl into out: the digest,
 * when the form keeps it and sl has none, derived from the claim. */
static int
emit(const struct sealed *sl, int form, uint8_t *out, size_t cap,
     size_t *out_len)
{
    size_t at = 0, n = 1 + sl->m + 1 + sl->rlen;
    uint8_t d[32];
    const uint8_t *dp = sl->d;

    n += form == LDG_STORED_STAMP    ? DIGEST_PAIR
         : form == LDG_STORED_TAGGED ? TAG_HEAD
                                     : 0;
    if (n > LDG_ENTRY_MAX)
        return LDG_ECORRUPT;
    if (n > cap)
        return LDG_ETOOBIG;
    if (form != LDG_STORED_CUT && dp == NULL) {
        ldg_claim_digest(d, sl->claim, sl->m);
        dp = d;
    }
    if (form == LDG_STORED_TAGGED) {
        put(out, &at, "\x01", 1);
        put(out, &at, dp, 32);
    }
    put(out, &at, "\x92", 1);
    put(out, &at, sl->claim, sl->m);
    if (form == LDG_STORED_STAMP) {
        uint8_t head = (uint8_t)(sl->head + 1);
        put(out, &at, &head, 1);
        put(out, &at, digest_key, sizeof digest_key);
        put(out, &at, dp, 32);
    } else {
        put(out, &at, &sl->head, 1);
    }
    put(out, &at, sl->rest, sl->rlen);
    LDG_ASSERT(at == n);
    *out_len = at;
    return 0;
}

int
ldg_entry_stored(const uint8_t *e, size_t len, int form, uint8_t *out,
                 size_t cap, size_t *out_len)
{
    struct sealed sl;
    struct parts pt;
    size_t m;
    int sealed, rc;

    if (form < LDG_STORED_CUT || form > LDG_STORED_TAGGED)
        return LDG_EINVAL;
    if (len > 0 && e[0] == 0x01) {
        if ((rc = tagged_inner(e, len, &m)) < 0)
            return rc;
        sealed_of_rec(e + TAG_HEAD, len - TAG_HEAD, m, &sl);
        sl.d = e + 1;
        return emit(&sl, form, out, cap, out_len);
    }
    if (len > 0 && e[0] == 0x92) {
        if ((rc = ldg_entry_stored_parts(e, len, &m, &sealed)) < 0)
            return rc;
        if (!sealed) { /* format 1: one stored form */
            if (len > cap)
                return LDG_ETOOBIG;
            memcpy(out, e, len);
            *out_len = len;
            return 0;
        }
        sealed_of_rec(e, len, m, &sl);
        return emit(&sl, form, out, cap, out_len);
    }
    if ((rc = split_whole(e, len, &pt)) < 0)
        return rc;
    if (pt.sealed) {
        const uint8_t *st = e + 1 + pt.m;
        sl.claim = e + 1;
        sl.m = pt.m;
        sl.head = (uint8_t)(st[0] - 1);
        sl.d = st + 1 + 9;
        sl.rest = st + 1 + DIGEST_PAIR;
        sl.rlen = pt.s - 1 - DIGEST_PAIR;
        return emit(&sl, form, out, cap, out_len);
    }
    if (len - PREV_TAIL > cap)
        return LDG_ETOOBIG;
    m = 0;
    put(out, &m, "\x92", 1);
    put(out, &m, e + 1, pt.m);
    put(out, &m, e + len - SIG_TAIL, SIG_TAIL);
    LDG_ASSERT(m == len - PREV_TAIL);
    *out_len = m;
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
    LDG_ASSERT(m > 0 && 1 + m < len);
    *first_len = m;
    return 0;
}

int
ldg_entry_stored_digest(const uint8_t *rec, size_t len, size_t first_len)
{
    return 1 + first_len < len &&
           has_digest(rec + 1 + first_len, len - 1 - first_len);
}

/* The whole entry of sl and prev into out; with digest 0 a digest sl
 * does not hold is left zero (LDG_DECODE_NO_DIGEST), not derived. */
static int
whole_sealed(const struct sealed *sl, const uint8_t prev[32], int digest,
             uint8_t *out, size_t cap, size_t *out_len)
{
    static const uint8_t zero[32];
    size_t at = 0, n = 1 + sl->m + 1 + DIGEST_PAIR + sl->rlen + PREV_TAIL;
    uint8_t head = (uint8_t)(sl->head + 1), d[32];
    const uint8_t *dp = sl->d;

    if (n > LDG_ENTRY_MAX)
        return LDG_ECORRUPT;
    if (n > cap)
        return LDG_ETOOBIG;
    if (dp == NULL && digest) {
        ldg_claim_digest(d, sl->claim, sl->m);
        dp = d;
    } else if (dp == NULL) {
        dp = zero;
    }
    put(out, &at, "\x93", 1);
    put(out, &at, sl->claim, sl->m);
    put(out, &at, &head, 1);
    put(out, &at, digest_key, sizeof digest_key);
    put(out, &at, dp, 32);
    put(out, &at, sl->rest, sl->rlen);
    put(out, &at, "\xc4\x20", 2);
    put(out, &at, prev, 32);
    LDG_ASSERT(at == n);
    *out_len = at;
    return 0;
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
    if (len > 0 && rec[0] == 0x01) { /* layout 8: the digest stored raw */
        struct sealed sl;
        if ((rc = tagged_inner(rec, len, &m)) < 0)
            return rc;
        sealed_of_rec(rec + TAG_HEAD, len - TAG_HEAD, m, &sl);
        sl.d = rec + 1;
        return whole_sealed(&sl, prev, digest, out, cap, out_len);
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

    if (sealed) {
        struct sealed sl;
        sealed_of_rec(rec, len, m, &sl);
        return whole_sealed(&sl, prev, digest, out, cap, out_len);
    }
    n = len + PREV_TAIL;
    if (n > LDG_ENTRY_MAX)
        return LDG_ECORRUPT;
    if (n > cap)
        return LDG_ETOOBIG;
    put(out, &at, "\x93", 1);
    put(out, &at, rec + 1, m);
    put(out, &at, "\xc4\x20", 2);
    put(out, &at, prev, 32);
    put(out, &at, rec + 1 + m, SIG_TAIL);
    LDG_ASSERT(at == n);
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
    LDG_ASSERT((const uint8_t *)p >= w && off < LDG_ENTRY_MAX);
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

/* ev, just read from a 0x92 record by a stored-form reader: its digest
 * d when a layout 8 record stored it before (then the record must be one
 * without its own: LDG_ECORRUPT, ev zeroed, when it has one), else the
 * claim's, derived when the record left it out and derive is set. */
static int
take_digest(struct ldg_event *ev, const uint8_t *d, int derive)
{
    if (d != NULL && !ev->digest_derived) { /* the digest twice */
        memset(ev, 0, sizeof *ev);
        return LDG_ECORRUPT;
    }
    if (d != NULL) {
        memcpy(ev->digest, d, 32);
        ev->digest_derived = 0;
    } else if (ev->digest_derived && derive) {
        ldg_claim_digest(ev->digest, ev->signed_part, ev->signed_len);
    }
    return 0;
}

/* ldg_entry_decode_rec of a record that does not begin 0x93: rec begins
 * 0x92, and d is the digest a layout 8 record stored before it (rec is
 * then that record's own, which must be sealed, its stamp without digest:
 * the readers below say so, as tagged_inner does, without a walk of the
 * record of their own) or NULL. */
static int
decode_stored(const uint8_t *rec, size_t len, const uint8_t *prev,
              struct ldg_event *ev, unsigned flags, const uint8_t *d)
{
    static const uint8_t zero[32];
    uint8_t *w;
    size_t wl, m;
    int sealed, cut, rc;

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
            if ((rc = take_digest(ev, d, !(flags & LDG_DECODE_NO_DIGEST))) < 0)
                return rc;
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
            int cut_here = ev->digest_derived;
            if ((rc = take_digest(ev, d, 1)) < 0)
                return rc;
            memcpy(ev->prev, prev, 32);
            leaf_of_stored(ev->leaf, rec, len, ev->signed_len, cut_here,
                           ev->digest, prev);
            ev->derived = 1;
            return 0;
        }
    }
    memset(ev, 0, sizeof *ev);
    if ((rc = ldg_entry_stored_parts(rec, len, &m, &sealed)) < 0)
        return rc;
    cut = sealed && !has_digest(rec + 1 + m, len - 1 - m);
    if (d != NULL && !cut)
        return LDG_ECORRUPT; /* not the record of layouts 5 and 6 */
    if ((w = thread_whole()) == NULL)
        return LDG_ENOMEM;
    if (d != NULL) {
        struct sealed sl;
        sealed_of_rec(rec, len, m, &sl);
        sl.d = d;
        rc = whole_sealed(&sl, prev ? prev : zero, 1, w, LDG_ENTRY_MAX, &wl);
    } else {
        rc =
            whole_parts(rec, len, m, sealed, prev ? prev : zero,
                        !(flags & LDG_DECODE_NO_DIGEST), w, LDG_ENTRY_MAX, &wl);
    }
    if (rc < 0)
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
    ev->digest_derived = cut && d == NULL;
    if (prev == NULL) {
        memset(ev->prev, 0, 32);
        memset(ev->leaf, 0, 32);
    }
    return 0;
}

int
ldg_entry_decode_rec(const uint8_t *rec, size_t len, const uint8_t *prev,
                     struct ldg_event *ev, unsigned flags)
{
    if (rec == NULL || ev == NULL)
        return LDG_EINVAL;
    if (len > 0 && rec[0] == 0x93)
        return ldg_event_decode_flags(rec, len, ev,
                                      flags & ~LDG_DECODE_NO_DIGEST);
    if (len > 0 && rec[0] == 0x01) {
        /* layout 8: the layout 5/6 record after the stored digest, which
         * is taken as it is (verify checks it against the claim); the
         * readers check the record (tagged_inner's walk of it would be a
         * second one) */
        if (!tag_framed(rec, len)) {
            memset(ev, 0, sizeof *ev);
            return LDG_ECORRUPT;
        }
        return decode_stored(rec + TAG_HEAD, len - TAG_HEAD, prev, ev, flags,
                             rec + 1);
    }
    return decode_stored(rec, len, prev, ev, flags, NULL);
}
