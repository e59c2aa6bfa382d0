/*
 * segment.c — the archive of a contiguous range of events (module.h,
 * "segments"; docs/FORMAT.md section 11 states every byte).
 *
 * A segment is one zstd frame. Its content, the stream, is the magic line
 * and then records, each a kind byte, a length and that many bytes:
 *
 *   stream  = "ledger.segment/v1\n" record*
 *   record  = kind[1] ‖ uvarint(len) ‖ payload[len]
 *
 *   +------+--------+-------------+
 *   | kind | len    | payload     |    uvarint: LEB128, the shortest
 *   +------+--------+-------------+    form, at most 5 bytes (< 2^32)
 *
 * in this order (K_* below; '?' optional, '*' any number):
 *
 *   HEADER       canonical map {codec, end, first, format, key, origin}
 *   HORIZON?     an earlier prune's horizon record (FORMAT.md 6.2)
 *   EDGE         first > 0: prev (the leaf of event first-1) ‖ the hashes
 *                of the complete subtrees covering [0, first), left to
 *                right; first = 0: empty
 *   CHECKPOINT   the signed checkpoint of size N >= end
 *   CONSISTENCY? N > end: the consistency proof from end to N (32 each)
 *   PROVEN*      events before first that the range needs (key events,
 *                the genesis): entry, body, inclusion path in N, seal
 *   then for each event first..end-1:
 *     SEAL?      format 2, before the first event of a seal: its record
 *     ENTRY      the entry less prev (and a sealed entry's claim digest)
 *     BODY|ERASED  the stored body record, or nothing: erased
 *   PROVEN*      events at or after end the range needs (the body.erased
 *                of a body of the range, their keys' events)
 *   STATE?       the projected state at end (JSON text)
 *   STATE_NOTE?  its signed projection note (with STATE only)
 *   TRAILER      a signed note by the log key: "ledger.segment/v1",
 *                origin, first, end, checkpoint, state (the SHA-256 of
 *                STATE's bytes, or "none")
 *
 * Nothing follows the trailer. The writer and the one-pass verifier are
 * here; neither holds the events: a record at a time, the keys, one open
 * seal per key (a tree's right edge each) and the left edge of the tree.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zstd.h>
#include <zstd_errors.h>

#include "ledger/codec_int.h"
#include "ledger/crypto_int.h"
#include "ledger/epoch_int.h"
#include "ledger/format.h"
#include "ledger/ledger_int.h"
#include "ledger/mp_int.h"
#include "ledger/tlog_int.h"
#include "util/util.h"

enum kind {
    K_HEADER = 0x01,
    K_HORIZON = 0x02,
    K_EDGE = 0x03,
    K_CHECKPOINT = 0x04,
    K_CONSISTENCY = 0x05,
    K_PROVEN = 0x06,
    K_SEAL = 0x07,
    K_ENTRY = 0x08,
    K_BODY = 0x09,
    K_ERASED = 0x0a,
    K_STATE = 0x0b,
    K_STATE_NOTE = 0x0c,
    K_TRAILER = 0x0d
};

/* The way ENTRY records pack an entry (the header's "codec"). */
#define CODEC_V1 1
#define SEG_TRAILER_LINE "ledger.segment/v1"
#define SEG_WINDOW_LOG_DEFAULT 24
#define SEG_LEVEL_DEFAULT 1
/* Records the framing bounds whatever the caller allows. */
#define HEADER_MAX 1024
#define NOTE_MAX 65536
#define EDGE_MAX (32 * 65)

const char *
ldg_segment_check_name(enum ldg_segment_check c)
{
    static const char *const names[LDG_SEGCHK_COUNT] = {
        "container", "header", "log-key", "checkpoint", "horizon",
        "keys",      "chain",  "seals",   "bodies",     "erasures",
        "tree",      "state",  "trailer"};
    return (unsigned)c < LDG_SEGCHK_COUNT ? names[c] : "?";
}

void
ldg_segment_info_release(struct ldg_segment_info *i)
{
    if (i == NULL)
        return;
    free(i->checkpoint);
    free(i->horizon);
    free(i->state);
    free(i->state_note);
    i->checkpoint = NULL;
    i->horizon = NULL;
    i->state = NULL;
    i->state_note = NULL;
    i->checkpoint_len = i->horizon_len = i->state_len = i->state_note_len = 0;
}

/* ------------------------------------------------------- entry codec -- */

/*
 * Codec 1: an ENTRY record is the entry as store layouts 5 and 6 keep it
 * (the "cut" stored entry record, FORMAT.md 11.4): the entry less the
 * bytes a reader derives, a sealed one's claim digest among them whatever
 * layout the store is at (layouts 7 and 8 keep it in the store; a segment does
 * not, so its bytes are the same from any store).
 *
 *   sealed:    0x92 ‖ claim ‖ stamp⁻
 *              stamp⁻: the stamp less its "digest" key and value, its
 *              header fixmap(n-1); the entry is
 *              0x93 ‖ claim ‖ (0x80|n) ‖ a6 "digest" c4 20 d[32] ‖
 *              stamp⁻[1..] ‖ c4 20 prev[32]
 *   format 1:  0x92 ‖ event-map ‖ c4 40 sig[64]
 *              the entry: 0x93 ‖ event-map ‖ c4 20 prev[32] ‖ c4 40 sig[64]
 *
 * d = SHA-256("ledger/claim/v1" ‖ 0x00 ‖ claim); prev is the leaf hash of
 * the event before. pack and unpack are each other's inverse on every
 * entry the strict decoder accepts; unpack's output is decoded strictly
 * after. (ledger/ keeps one codec of these bytes: codec_stored.c's.)
 */
static size_t
uv_put(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

/* The shortest form only, < 2^32: 0 and *v, or -1. */
static int
uv_get(const uint8_t *p, size_t avail, uint64_t *v, size_t *used)
{
    uint64_t x = 0;
    for (size_t i = 0; i < 5 && i < avail; i++) {
        x |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) {
            if (i > 0 && p[i] == 0)
                return -1; /* not the shortest form */
            if (x > 0xffffffffu)
                return -1;
            *v = x;
            *used = i + 1;
            return 0;
        }
    }
    return -1;
}

/* An ENTRY record is the entry as store layouts 5 and 6 keep it
 * (FORMAT.md 6.1, ledger/codec_stored.c): without prev and a sealed
 * entry's claim digest, whatever the layout of the store it comes from
 * (a layout 7 or 8 record has its digest cut; an older layout's whole entry is
 * cut to that form), so that an archive's bytes depend on its events
 * alone. The record's kind must be the ledger's format's. */
static int
entry_pack(int format, const uint8_t *e, size_t n, uint8_t *out, size_t cap,
           size_t *olen)
{
    size_t m;
    int sealed, rc;
    if ((rc = ldg_entry_stored(e, n, 0, out, cap, olen)) < 0 ||
        (rc = ldg_entry_stored_parts(out, *olen, &m, &sealed)) < 0)
        return rc;
    return sealed == (format >= 2) ? 0 : LDG_ECORRUPT;
}

/* out needs LDG_ENTRY_MAX + 1 bytes. A sealed ENTRY with its claim digest
 * is not the one form a segment has: refused. */
static int
entry_unpack(int format, const uint8_t *p, size_t n, const uint8_t prev[32],
             uint8_t *out, size_t *olen)
{
    size_t m;
    int sealed;
    if (ldg_entry_stored_parts(p, n, &m, &sealed) < 0 ||
        sealed != (format >= 2) || (sealed && ldg_entry_stored_digest(p, n, m)))
        return LDG_ECORRUPT;
    return ldg_entry_whole(p, n, prev, out, LDG_ENTRY_MAX + 1, olen) < 0
               ? LDG_ECORRUPT
               : 0;
}

/* ------------------------------------------------------------ header -- */

struct hdr {
    uint64_t codec, end, first, format;
    uint8_t key[32];
    char origin[LDG_ORIGIN_MAX + 1];
};

static const char *const hdr_keys[6] = {"codec",  "end", "first",
                                        "format", "key", "origin"};

static int
hdr_encode(const struct hdr *h, uint8_t *out, size_t cap, size_t *len)
{
    struct wr w = {out, 0, cap, 0};
    w_byte(&w, 0x86);
    w_key(&w, "codec");
    w_uint(&w, h->codec);
    w_key(&w, "end");
    w_uint(&w, h->end);
    w_key(&w, "first");
    w_uint(&w, h->first);
    w_key(&w, "format");
    w_uint(&w, h->format);
    w_key(&w, "key");
    w_bin(&w, h->key, 32);
    w_key(&w, "origin");
    w_str(&w, h->origin, strlen(h->origin));
    *len = w.n;
    return w.err;
}

static int
hdr_decode(const uint8_t *p, size_t n, struct hdr *h)
{
    struct rd r = {p, p + n};
    unsigned m;
    const char *s;
    size_t sl;

    memset(h, 0, sizeof *h);
    if (r_map(&r, &m) < 0 || m != 6)
        return -1;
    for (int i = 0; i < 6; i++) {
        int rc = 0;
        if (r_key(&r, hdr_keys, 6, i) != i)
            return -1;
        switch (i) {
        case 0:
            rc = r_uint(&r, &h->codec);
            break;
        case 1:
            rc = r_uint(&r, &h->end);
            break;
        case 2:
            rc = r_uint(&r, &h->first);
            break;
        case 3:
            rc = r_uint(&r, &h->format);
            break;
        case 4:
            rc = r_bin(&r, h->key, 32);
            break;
        default:
            rc = r_str(&r, &s, &sl);
            if (rc == 0 && (sl == 0 || sl > LDG_ORIGIN_MAX || memchr(s, 0, sl)))
                rc = -1;
            if (rc == 0) {
                memcpy(h->origin, s, sl);
                h->origin[sl] = '\0';
            }
            break;
        }
        if (rc < 0)
            return -1;
    }
    return r.p == r.end ? 0 : -1;
}

/* ------------------------------------------------------------ writing -- */

/* Records are gathered into one contiguous stretch of this many bytes
 * before zstd sees them: fed a record at a time, from buffers here and
 * there, zstd takes its slow path for input that is not contiguous
 * (extDict: 60% of an archive's time, measured). */
#define STAGE_CAP ((size_t)1 << 20)

struct segw {
    int fd;
    ZSTD_CCtx *z;
    uint8_t *stage; /* records not yet compressed */
    size_t staged;
    uint8_t *out; /* zstd's output buffer */
    size_t out_cap;
    /* compressed bytes of this window, written to fd between two windows
     * (outside any snapshot: a file that takes bytes slowly pins none) */
    uint8_t *pend;
    size_t pend_len, pend_cap;
    struct ldg_sha256_ctx sha;
    uint64_t file_bytes, raw_bytes;
    int err;
    /* bodies are written uncompressed (ldg_body_rec_raw): the dictionaries
     * of the store, the body limit, and two scratch buffers */
    const struct ldg_dicts *dicts;
    size_t body_max;
    struct ldg_inflate zs, raw;
    uint8_t *ebuf; /* LDG_ENTRY_MAX: a proven event's whole entry */
    /* epoch keys: the walker that makes an epoch part whole, and the keys
     * whose first seal of the range was written (whole) */
    struct ldg_epoch_walk *ew;
    char (*seen)[LDG_KEYID_LEN + 1];
    size_t nseen;
};

static int
w_flush_out(struct segw *w, const uint8_t *p, size_t n)
{
    ldg_sha256_update(&w->sha, p, n);
    w->file_bytes += n;
    if (w->pend_len + n > w->pend_cap) {
        size_t cap = w->pend_cap ? w->pend_cap : (size_t)1 << 20;
        uint8_t *q;
        while (cap < w->pend_len + n)
            cap *= 2;
        if ((q = realloc(w->pend, cap)) == NULL)
            return LDG_ENOMEM;
        w->pend = q;
        w->pend_cap = cap;
    }
    LDG_ASSERT(w->pend_len + n <= w->pend_cap);
    memcpy(w->pend + w->pend_len, p, n);
    w->pend_len += n;
    return 0;
}

/* The window's compressed bytes to the file (outside any snapshot). */
static int
w_write_pending(struct segw *w)
{
    int rc = 0;
    if (w->pend_len > 0 && ldg_write_all(w->fd, w->pend, w->pend_len, 0) < 0)
        rc = LDG_EIO;
    w->pend_len = 0;
    return rc;
}

static int
w_push(struct segw *w, const void *p, size_t n, ZSTD_EndDirective end)
{
    ZSTD_inBuffer in = {p, n, 0};
    int done = 0;
    if (w->err)
        return w->err;
    w->raw_bytes += n;
    while (!done) {
        ZSTD_outBuffer o = {w->out, w->out_cap, 0};
        size_t r = ZSTD_compressStream2(w->z, &o, &in, end);
        if (ZSTD_isError(r))
            return w->err = LDG_EIO;
        if (o.pos > 0 && (w->err = w_flush_out(w, w->out, o.pos)) < 0)
            return w->err;
        done = end != ZSTD_e_continue ? r == 0 : in.pos == in.size;
    }
    return 0;
}

/* The staged records to zstd (end: ZSTD_e_continue, _flush or _end). */
static int
w_drain(struct segw *w, ZSTD_EndDirective end)
{
    int rc = w_push(w, w->stage, w->staged, end);
    w->staged = 0;
    return rc;
}

static int
w_stage(struct segw *w, const void *p, size_t n)
{
    if (w->err)
        return w->err;
    if (w->staged + n > STAGE_CAP && w_drain(w, ZSTD_e_continue) < 0)
        return w->err;
    if (n > STAGE_CAP) /* (a record larger than the stage: as it is) */
        return w_push(w, p, n, ZSTD_e_continue);
    LDG_ASSERT(w->staged + n <= STAGE_CAP);
    memcpy(w->stage + w->staged, p, n);
    w->staged += n;
    return 0;
}

static int
w_rec(struct segw *w, enum kind k, const void *p, size_t n)
{
    uint8_t h[6];
    size_t hl;
    if (n > 0xffffffffu)
        return w->err = LDG_ETOOBIG;
    h[0] = (uint8_t)k;
    hl = 1 + uv_put(h + 1, n);
    LDG_ASSERT(hl <= sizeof h);
    if (w_stage(w, h, hl) < 0)
        return w->err;
    return n ? w_stage(w, p, n) : 0;
}

/* msgpack bin of any length (bin8/16/32), into a buffer. */
static void
mp_binx(struct ldg_buf *b, const void *p, size_t n)
{
    ldg_mp_bin(b, p, n);
}

/* The whole entry of seq (into ebuf, LDG_ENTRY_MAX bytes) and its body
 * record uncompressed (borrowed from t or w, until w's next body); *body
 * NULL when erased. */
static int
read_event(struct segw *w, struct ldg_txn *t, uint64_t seq, uint8_t *ebuf,
           const uint8_t **e, size_t *elen, const uint8_t **body, size_t *blen)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    struct ldg_val v;
    uint8_t k[8];
    int rc;
    ldg_be64(k, seq);
    if ((rc = ldg_event_entry(t, seq, ebuf, LDG_ENTRY_MAX, e, elen)) < 0)
        return rc;
    rc = ldg_kv_get(t, ldg_core(l, ldg_db_bodies(t)), k, 8, &v);
    if (rc == LDG_ENOTFOUND) {
        *body = NULL;
        *blen = 0;
        return 0;
    }
    if (rc < 0)
        return rc;
    return ldg_body_rec_raw(w->dicts, v.data, v.len, w->body_max, &w->zs,
                            &w->raw, body, blen);
}

/* A seal record as the segment carries it (FORMAT.md 11.1): with its
 * epoch part whole (l0 = 0, j0 = 0) where the reader meets a key's epoch
 * seal first, so that it is checked from the anchor alone: a PROVEN
 * event's seal (range 0), and the first SEAL of each key in the range;
 * the range's later seals of that key as stored (the reader's chain goes
 * on from there). *rec is the record, in buf when made anew. */
static int
w_seal_rec(struct segw *w, struct ldg_txn *t, uint64_t seal_seq,
           const uint8_t **rec, size_t *len, int range, uint8_t *buf,
           size_t cap)
{
    uint8_t ext[LDG_SEAL_EXT_MAX];
    struct ldg_seal sl;
    int rc;

    if ((*rec)[0] != 0x93)
        return 0;
    if (ldg_seal_record_decode(*rec, *len, &sl) < 0)
        return LDG_ECORRUPT;
    if (range) {
        char(*n)[LDG_KEYID_LEN + 1];
        for (size_t i = 0; i < w->nseen; i++)
            if (strcmp(w->seen[i], sl.key_id) == 0)
                return 0;
        if ((n = realloc(w->seen, (w->nseen + 1) * sizeof *n)) == NULL)
            return LDG_ENOMEM;
        w->seen = n;
        memcpy(w->seen[w->nseen++], sl.key_id, LDG_KEYID_LEN + 1);
    }
    if (w->ew == NULL &&
        (rc = ldg_epoch_walk_new(ldg_txn_ledger(t), &w->ew)) < 0)
        return rc;
    if ((rc = ldg_epoch_walk_whole(w->ew, t, seal_seq, &sl, ext, sizeof ext)) <=
        0)
        return rc;
    if ((rc = ldg_seal_record_encode(&sl, buf, cap, len)) < 0)
        return rc;
    *rec = buf;
    return 0;
}

/* A PROVEN record: {"body", "entry", "path"[, "seal", "sealpath"]}. */
static int
w_proven(struct segw *w, struct ldg_txn *t, uint64_t seq, uint64_t n)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    const uint8_t *e, *body;
    size_t elen, blen, np;
    uint8_t path[LDG_PROOF_MAX][32];
    struct ldg_buf b;
    int rc;

    if ((rc = read_event(w, t, seq, w->ebuf, &e, &elen, &body, &blen)) < 0)
        return rc;
    if (body == NULL) {
        ldg_seterr(l,
                   "event %" PRIu64 ": its body, which a segment carries "
                   "to prove keys or erasures, was erased",
                   seq);
        return LDG_ECORRUPT;
    }
    if ((rc = ldg_tree_inclusion(t, seq, n, path, &np)) < 0)
        return rc;
    ldg_buf_init(&b, (size_t)1 << 30);
    ldg_mp_map(&b, l->format >= 2 ? 5 : 3);
    ldg_mp_str(&b, "body", 4);
    mp_binx(&b, body, blen);
    ldg_mp_str(&b, "entry", 5);
    mp_binx(&b, e, elen);
    ldg_mp_str(&b, "path", 4);
    mp_binx(&b, path, np * 32);
    if (l->format >= 2) {
        struct ldg_seal_proof sp;
        uint8_t rec[LDG_SEAL_REC_MAX], whole[LDG_SEAL_REC_MAX];
        const uint8_t *r = rec;
        size_t rl;
        if ((rc = ldg_seal_proof(t, seq, &sp)) < 0 ||
            (rc = ldg_seal_record_encode(&sp.seal, rec, sizeof rec, &rl)) < 0 ||
            (rc = w_seal_rec(w, t, sp.seal_seq, &r, &rl, 0, whole,
                             sizeof whole)) < 0) {
            ldg_buf_release(&b);
            return rc;
        }
        ldg_mp_str(&b, "seal", 4);
        mp_binx(&b, r, rl);
        ldg_mp_str(&b, "sealpath", 8);
        mp_binx(&b, sp.path, sp.n * 32);
    }
    rc = b.err ? b.err : w_rec(w, K_PROVEN, b.p, b.len);
    ldg_buf_release(&b);
    return rc;
}

/* Sorted unique seqs. */
struct seqs {
    uint64_t *v;
    size_t n, cap;
};

static int
seqs_add(struct seqs *s, uint64_t x)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 32;
        uint64_t *v = realloc(s->v, cap * sizeof *v);
        if (v == NULL)
            return LDG_ENOMEM;
        s->v = v;
        s->cap = cap;
    }
    LDG_ASSERT(s->n < s->cap);
    s->v[s->n++] = x;
    return 0;
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void
seqs_sort(struct seqs *s)
{
    size_t j = 0;
    if (s->n == 0)
        return; /* (v may be NULL) */
    qsort(s->v, s->n, sizeof *s->v, cmp_u64);
    for (size_t i = 0; i < s->n; i++)
        if (j == 0 || s->v[i] != s->v[j - 1])
            s->v[j++] = s->v[i];
    LDG_ASSERT(j >= 1 && j <= s->n);
    s->n = j;
}

struct erasure_scan {
    struct ldg_txn *t;
    uint64_t first, end, last; /* range; the last body.erased found */
    struct seqs *after;
};

static int
erasure_add(void *ctx, uint64_t seq)
{
    struct erasure_scan *x = ctx;
    uint64_t tg;
    int rc = ldg_erasure_target(x->t, seq, &tg);
    if (rc != 0)
        return rc < 0 ? rc : 0;
    if (tg >= x->first && tg < x->end) {
        x->last = seq;
        return seqs_add(x->after, seq);
    }
    return 0;
}

/* The events outside [first, end) a segment proves: before first the
 * genesis (no horizon record carries the log key) and the key events
 * since the ledger's horizon; at or after end the body.erased of a body
 * of the range, and then the key events up to the checkpoint. *n may be
 * raised to the log's size (its latest checkpoint) for the erasures. */
static int
extra_events(struct ldg_txn *t, uint64_t hz, uint64_t first, uint64_t end,
             uint64_t *n, struct seqs *prior, struct seqs *after)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    struct erasure_scan x = {t, first, end, 0, after};
    struct ldg_cursor *c = NULL;
    struct ldg_val k, v;
    uint64_t size;
    int rc;

    if ((rc = ldg_txn_size(t, &size)) < 0)
        return rc;
    rc = ldg_index_walk(t, LDG_INDEX_TYPE, LDG_EV_BODY_ERASED, end, UINT64_MAX,
                        0, erasure_add, &x);
    if (rc < 0)
        return rc;
    if (after->n > 0 && x.last >= *n)
        *n = size; /* the latest checkpoint holds every erasure */
    if (hz == 0 && first > 0 && (rc = seqs_add(prior, 0)) < 0)
        return rc;
    if ((rc = ldg_cursor_open(t, ldg_core(l, LDG_DB_KEYS), &c)) < 0)
        return rc;
    for (rc = ldg_cursor_get(c, LDG_SET_RANGE, LDG_KEYS_ID, LDG_KEYS_ID_LEN, &k,
                             &v);
         rc == 0; rc = ldg_cursor_get(c, LDG_NEXT, NULL, 0, &k, &v)) {
        uint64_t at[2];
        if (k.len < LDG_KEYS_ID_LEN ||
            memcmp(k.data, LDG_KEYS_ID, LDG_KEYS_ID_LEN) != 0)
            break;
        if (v.len < LDG_KEYREC_NAME) {
            rc = LDG_ECORRUPT;
            break;
        }
        at[0] = ldg_rd_be64((const uint8_t *)v.data + LDG_KEYREC_ADDED);
        at[1] = ldg_rd_be64((const uint8_t *)v.data + LDG_KEYREC_REVOKED);
        if (k.len == LDG_KEYS_ID_LEN + LDG_KEYID_LEN) {
            /* its key.anchored, from which the reader checks its epoch
             * seals (FORMAT.md 5.1): before the range, proven */
            char id[LDG_KEYID_LEN + 1];
            uint64_t anchored;
            int arc;
            memcpy(id, (const uint8_t *)k.data + LDG_KEYS_ID_LEN,
                   LDG_KEYID_LEN);
            id[LDG_KEYID_LEN] = '\0';
            arc = ldg_epoch_anchor_seq(t, id, &anchored);
            if (arc < 0 && arc != LDG_ENOTFOUND) {
                rc = arc;
                break;
            }
            if (arc == 0 && anchored >= hz && anchored < first &&
                (rc = seqs_add(prior, anchored)) < 0)
                break;
        }
        for (int i = 0; i < 2 && rc == 0; i++) {
            if (at[i] == UINT64_MAX || at[i] == 0)
                continue;
            if (at[i] >= hz && at[i] < first)
                rc = seqs_add(prior, at[i]);
            else if (at[i] >= end && at[i] < *n)
                rc = seqs_add(after, at[i]);
        }
        if (rc < 0)
            break;
    }
    ldg_cursor_close(c);
    if (rc == LDG_ENOTFOUND)
        rc = 0;
    seqs_sort(prior);
    seqs_sort(after);
    return rc;
}

/* The trailer's text (NUL-terminated in buf). */
static int
trailer_text(char *buf, size_t cap, const char *origin, uint64_t first,
             uint64_t end, uint64_t n, const uint8_t *state_sha)
{
    char hex[65];
    int k;
    if (state_sha != NULL)
        ldg_hex(hex, state_sha, 32);
    k = snprintf(buf, cap,
                 SEG_TRAILER_LINE "\norigin %s\nfirst %" PRIu64 "\nend %" PRIu64
                                  "\ncheckpoint %" PRIu64 "\nstate %s\n",
                 origin, first, end, n, state_sha ? hex : "none");
    return k > 0 && (size_t)k < cap ? 0 : LDG_ETOOBIG;
}

/* The hashes of the complete subtrees covering [0, first), left to
 * right, into edge (32 each): *n of them. */
static int
left_edge(struct ldg_txn *t, uint64_t first, uint8_t *edge, size_t *n)
{
    uint64_t at = 0;
    int rc;
    *n = 0;
    for (int b = 63; b >= 0; b--) {
        if (!(first >> b & 1))
            continue;
        if ((rc = ldg_tree_stored_hash(t, b, at >> b, edge + 32 * *n)) < 0)
            return rc;
        (*n)++;
        at += (uint64_t)1 << b;
    }
    return 0;
}

/* The segment is read in windows of at most SEG_WINDOW_EVENTS events (of
 * its range or proven ones) or SEG_WINDOW_MS, each in a new read snapshot,
 * and its compressed bytes written to the file between two (docs/
 * QUERY.md, "Readers and the file's growth"): a reader's snapshot pins
 * every page freed after it. What the segment holds is fixed in the first
 * (its range, checkpoint, horizon, proven events); the log's entries,
 * bodies, seals and tree hashes below its checkpoint are the same bytes in
 * every later one, unless a prune or an erase removed some meanwhile,
 * which each window checks (ldg_window_check: the segment then fails,
 * LDG_ENOTFOUND). A window also ends once this many compressed bytes wait
 * for the file. */
#define SEG_WINDOW_EVENTS 1000
#define SEG_WINDOW_MS 100
#define SEG_WINDOW_BYTES ((size_t)8 << 20)

struct segwin {
    struct ldg_window win;
    uint64_t events, ms; /* read in this window; when it began */
};

/* n more events read: at the window's end, its bytes to the file and a
 * new snapshot, checked. 1: a new one began (cursors are to be opened
 * again in x->win.t); 0: the same; or an ldg_error (LDG_ENOTFOUND: a
 * prune or an erase meanwhile, named on the ledger). */
static int
win_next(struct segwin *x, struct segw *w, uint64_t n)
{
    int rc;
    x->events += n;
    /* (the clock every 16 events: a window of small ones is read in
     * well under a millisecond) */
    if (x->events < SEG_WINDOW_EVENTS && w->pend_len < SEG_WINDOW_BYTES &&
        ((x->events & 15) != 0 || ldg_now_mono_ms() - x->ms < SEG_WINDOW_MS))
        return 0;
    ldg_window_end(&x->win);
    if ((rc = w_write_pending(w)) < 0)
        return rc;
    x->events = 0;
    x->ms = ldg_now_mono_ms();
    rc = ldg_window_next(&x->win, "the segment was written");
    return rc < 0 ? rc : 1;
}

int
ldg_segment_write(struct ldg_ledger *l, const struct ldg_segment_write_opts *o,
                  int fd, struct ldg_segment_info *out)
{
    struct segwin x;
    struct ldg_txn *t;
    struct ldg_horizon hz;
    struct segw w;
    struct seqs prior = {0}, after = {0};
    struct hdr h;
    struct ldg_cursor *ce = NULL, *cb = NULL, *cs = NULL;
    struct ldg_val k, v, bk, bv, sk, sv;
    uint8_t buf[LDG_ENTRY_MAX + 64], edge[EDGE_MAX], state_sha[32];
    uint8_t sealbuf[LDG_SEAL_REC_MAX];
    char *ck = NULL, *sig = NULL, text[2 * LDG_ORIGIN_MAX + 200];
    uint64_t size, n, hzseq = 0, seq;
    size_t len, ne;
    int rc, has_hz = 0, body_ok = 0, seal_ok = 0;

    if (out != NULL)
        memset(out, 0, sizeof *out);
    if (l == NULL || o == NULL || fd < 0 || o->end <= o->first ||
        (o->state == NULL) != (o->state_note == NULL))
        return LDG_EINVAL;
    memset(&w, 0, sizeof w);
    memset(&hz, 0, sizeof hz);
    memset(&x, 0, sizeof x);
    x.win.l = l;
    x.win.snapshot = o->snapshot;
    x.win.snapshot_ctx = o->snapshot_ctx;
    x.ms = ldg_now_mono_ms();
    w.fd = fd;
    ldg_sha256_init(&w.sha);
    if ((rc = ldg_window_begin(&x.win)) < 0)
        return rc;
    t = x.win.t;
    if ((rc = ldg_txn_size(t, &size)) < 0)
        goto out;
    rc = ldg_horizon_get(t, &hz);
    if (rc == 0) {
        has_hz = 1;
        hzseq = hz.seq;
    } else if (rc != LDG_ENOTFOUND) {
        goto out;
    }
    if (o->end > size || o->first < hzseq) {
        ldg_seterr(l,
                   "events %" PRIu64 "..%" PRIu64 ": the log holds %" PRIu64
                   "..%" PRIu64,
                   o->first, o->end - 1, hzseq, size ? size - 1 : 0);
        rc = LDG_EINVAL;
        goto out;
    }
    n = o->checkpoint_size ? o->checkpoint_size : o->end;
    if (n < o->end || n > size) {
        rc = LDG_EINVAL;
        goto out;
    }
    if (o->first > 0) {
        /* and begins where one begins: its first event opens its seals
         * (a verifier refuses a leaf of a seal it did not see open) */
        if ((rc = ldg_checkpoint_get(t, o->first, &ck)) < 0) {
            if (rc == LDG_ENOTFOUND) {
                ldg_seterr(l,
                           "no checkpoint of size %" PRIu64
                           ": a segment begins where a commit begins",
                           o->first);
                rc = LDG_EINVAL;
            }
            goto out;
        }
        free(ck);
        ck = NULL;
    }
    if ((rc = extra_events(t, hzseq, o->first, o->end, &n, &prior, &after)) < 0)
        goto out;
    if ((rc = ldg_checkpoint_get(t, n, &ck)) < 0) {
        if (rc == LDG_ENOTFOUND)
            ldg_seterr(l,
                       "no checkpoint of size %" PRIu64
                       ": a segment ends where a commit ends",
                       n);
        goto out;
    }
    /* what later windows check: below n, the log stays as it is now */
    x.win.wc.horizon = hzseq;
    x.win.wc.below = n;
    x.win.wc.seen = size;
    if ((rc = ldg_log_secret_load(l)) < 0)
        goto out;
    w.z = ZSTD_createCCtx();
    w.out_cap = ZSTD_CStreamOutSize();
    w.out = malloc(w.out_cap);
    w.stage = malloc(STAGE_CAP);
    w.ebuf = malloc(LDG_ENTRY_MAX);
    w.body_max = ldg_body_max(l);
    if (w.z == NULL || w.out == NULL || w.stage == NULL || w.ebuf == NULL) {
        rc = LDG_ENOMEM;
        goto out;
    }
    if ((w.dicts = ldg_txn_dicts(t)) == NULL) {
        rc = LDG_ECORRUPT;
        goto out;
    }
    if (ZSTD_isError(ZSTD_CCtx_setParameter(
            w.z, ZSTD_c_compressionLevel,
            o->level > 0 ? o->level : SEG_LEVEL_DEFAULT)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(w.z, ZSTD_c_checksumFlag, 1))) {
        rc = LDG_EINVAL;
        goto out;
    }
    /* (readers take windows up to 2^24: stay well within) */
    ZSTD_CCtx_setParameter(w.z, ZSTD_c_windowLog, 22);
    if ((rc = w_stage(&w, LDG_SEGMENT_MAGIC, LDG_SEGMENT_MAGIC_LEN)) < 0)
        goto out;
    memset(&h, 0, sizeof h);
    h.codec = CODEC_V1;
    h.first = o->first;
    h.end = o->end;
    h.format = (uint64_t)l->format;
    memcpy(h.key, l->log_key->pub, 32);
    snprintf(h.origin, sizeof h.origin, "%s", l->origin);
    if ((rc = hdr_encode(&h, buf, sizeof buf, &len)) < 0 ||
        (rc = w_rec(&w, K_HEADER, buf, len)) < 0 ||
        (rc = w_drain(&w, ZSTD_e_flush)) < 0)
        goto out; /* (a block of its own: the magic is read from the file's
                     first few hundred bytes) */
    if (has_hz && (rc = w_rec(&w, K_HORIZON, hz.record, hz.record_len)) < 0)
        goto out;
    ne = 0;
    if (o->first > 0) {
        /* prev of the first event: the leaf hash of the one before */
        if ((rc = ldg_tree_stored_hash(t, 0, o->first - 1, edge)) < 0 ||
            (rc = left_edge(t, o->first, edge + 32, &ne)) < 0)
            goto out;
        ne++;
    }
    if ((rc = w_rec(&w, K_EDGE, edge, 32 * ne)) < 0 ||
        (rc = w_rec(&w, K_CHECKPOINT, ck, strlen(ck))) < 0)
        goto out;
    if (n > o->end) {
        uint8_t proof[LDG_PROOF_MAX][32];
        size_t np;
        if ((rc = ldg_tree_consistency(t, o->end, n, proof, &np)) < 0 ||
            (rc = w_rec(&w, K_CONSISTENCY, proof, np * 32)) < 0)
            goto out;
    }
    for (size_t i = 0; i < prior.n; i++) {
        if ((rc = win_next(&x, &w, 1)) < 0 ||
            (rc = w_proven(&w, x.win.t, prior.v[i], n)) < 0)
            goto out;
    }
    /* the range: cursors stepping side by side (entries, bodies, seals),
     * opened again in each window's snapshot where the last one stopped */
    rc = 0;
    for (seq = o->first; seq < o->end; seq++) {
        int renewed = win_next(&x, &w, 1);
        if (renewed < 0) {
            rc = renewed;
            goto out;
        }
        if (renewed || ce == NULL) {
            uint8_t key[8];
            t = x.win.t;
            ldg_cursor_close(ce);
            ldg_cursor_close(cb);
            ldg_cursor_close(cs);
            ce = cb = cs = NULL;
            if ((rc = ldg_cursor_open(t, ldg_core(l, ldg_db_entries(t)), &ce)) <
                    0 ||
                (rc = ldg_cursor_open(t, ldg_core(l, ldg_db_bodies(t)), &cb)) <
                    0)
                goto out;
            if (l->format >= 2 && ldg_store_has_core(l->store, LDG_DB_SEALS) &&
                (rc = ldg_cursor_open(t, ldg_core(l, LDG_DB_SEALS), &cs)) < 0)
                goto out;
            ldg_be64(key, seq);
            body_ok = ldg_cursor_get(cb, LDG_SET_RANGE, key, 8, &bk, &bv) == 0;
            seal_ok = cs != NULL &&
                      ldg_cursor_get(cs, LDG_SET_RANGE, key, 8, &sk, &sv) == 0;
            rc = ldg_cursor_get(ce, LDG_SET_RANGE, key, 8, &k, &v);
        }
        if (rc < 0 || k.len != 8 || ldg_rd_be64(k.data) != seq) {
            ldg_seterr(l, "event %" PRIu64 ": its entry is missing", seq);
            rc = rc < 0 && rc != LDG_ENOTFOUND ? rc : LDG_ECORRUPT;
            goto out;
        }
        /* a seal's first event: its record before the entry (the seals
         * are keyed by their first event: a cursor steps beside) */
        while (seal_ok && sk.len == 8 && ldg_rd_be64(sk.data) < seq)
            seal_ok = ldg_cursor_get(cs, LDG_NEXT, NULL, 0, &sk, &sv) == 0;
        if (seal_ok && sk.len == 8 && ldg_rd_be64(sk.data) == seq) {
            const uint8_t *r = sv.data;
            size_t rl = sv.len;
            if ((rc = w_seal_rec(&w, t, seq, &r, &rl, 1, sealbuf,
                                 sizeof sealbuf)) < 0 ||
                (rc = w_rec(&w, K_SEAL, r, rl)) < 0)
                goto out;
        }
        if ((rc = entry_pack(l->format, v.data, v.len, buf, sizeof buf, &len)) <
            0) {
            ldg_seterr(l,
                       "event %" PRIu64 ": its entry is not as FORMAT.md "
                       "draws it",
                       seq);
            goto out;
        }
        if ((rc = w_rec(&w, K_ENTRY, buf, len)) < 0)
            goto out;
        while (body_ok && ldg_rd_be64(bk.data) < seq)
            body_ok = ldg_cursor_get(cb, LDG_NEXT, NULL, 0, &bk, &bv) == 0;
        if (body_ok && bk.len == 8 && ldg_rd_be64(bk.data) == seq) {
            const uint8_t *raw;
            size_t rl;
            if ((rc = ldg_body_rec_raw(w.dicts, bv.data, bv.len, w.body_max,
                                       &w.zs, &w.raw, &raw, &rl)) < 0) {
                ldg_seterr(l,
                           "event %" PRIu64 ": its body record does not "
                           "open",
                           seq);
                goto out;
            }
            rc = w_rec(&w, K_BODY, raw, rl);
        } else
            rc = w_rec(&w, K_ERASED, NULL, 0);
        if (rc < 0)
            goto out;
        if (out != NULL && !(body_ok && ldg_rd_be64(bk.data) == seq))
            out->erased++;
        if (((seq - o->first) & 0x3fff) == 0x3fff) {
            /* the map's pages read so far leave this process (they stay
             * in the page cache): its resident size stays its own */
            ldg_access_hint(l, LDG_ACCESS_RELEASE);
            if (o->progress != NULL && ((seq - o->first) & 0xffff) == 0xffff)
                o->progress(o->progress_ctx, seq - o->first + 1,
                            o->end - o->first);
        }
        rc = ldg_cursor_get(ce, LDG_NEXT, NULL, 0, &k, &v);
    }
    rc = 0;
    ldg_cursor_close(ce);
    ldg_cursor_close(cb);
    ldg_cursor_close(cs);
    ce = cb = cs = NULL;
    for (size_t i = 0; i < after.n; i++) {
        if ((rc = win_next(&x, &w, 1)) < 0 ||
            (rc = w_proven(&w, x.win.t, after.v[i], n)) < 0)
            goto out;
    }
    rc = 0;
    /* the rest reads nothing: no snapshot held while it is written */
    ldg_window_end(&x.win);
    if (o->state != NULL) {
        ldg_sha256(state_sha, o->state, o->state_len);
        if ((rc = w_rec(&w, K_STATE, o->state, o->state_len)) < 0 ||
            (rc = w_rec(&w, K_STATE_NOTE, o->state_note, o->state_note_len)) <
                0)
            goto out;
    }
    if ((rc = trailer_text(text, sizeof text, l->origin, o->first, o->end, n,
                           o->state ? state_sha : NULL)) < 0 ||
        (rc = ldg_log_sign_note(l, text, strlen(text), &sig)) < 0 ||
        (rc = w_rec(&w, K_TRAILER, sig, strlen(sig))) < 0 ||
        (rc = w_drain(&w, ZSTD_e_end)) < 0 || (rc = w_write_pending(&w)) < 0)
        goto out;
    if (o->progress != NULL)
        o->progress(o->progress_ctx, o->end - o->first, o->end - o->first);
    if (out != NULL) {
        out->format = l->format;
        out->codec = CODEC_V1;
        snprintf(out->origin, sizeof out->origin, "%s", l->origin);
        memcpy(out->log_pub, l->log_key->pub, 32);
        out->first = o->first;
        out->end = o->end;
        out->checkpoint_size = n;
        out->events = o->end - o->first;
        out->prior = prior.n;
        out->after = after.n;
        out->has_state = o->state != NULL;
        if (o->state != NULL)
            memcpy(out->state_sha256, state_sha, 32);
        out->horizon_seq = hzseq;
        out->file_bytes = w.file_bytes;
        out->raw_bytes = w.raw_bytes;
        ldg_sha256_final(&w.sha, out->sha256);
        {
            char origin[LDG_ORIGIN_MAX + 1];
            uint64_t sz;
            size_t tl = strlen(ck);
            const char *blank = strstr(ck, "\n\n");
            if (blank != NULL)
                tl = (size_t)(blank - ck) + 1;
            ldg_checkpoint_parse(ck, tl, origin, sizeof origin, &sz, out->root);
        }
        out->checkpoint = ck;
        out->checkpoint_len = strlen(ck);
        ck = NULL;
    }
out:
    if (rc == LDG_EIO && ldg_errbuf(l)[0] == '\0')
        ldg_seterr(l, "writing the segment: %s", strerror(errno));
    ldg_cursor_close(ce);
    ldg_cursor_close(cb);
    ldg_cursor_close(cs);
    ldg_window_end(&x.win);
    ZSTD_freeCCtx(w.z);
    free(w.pend);
    free(w.out);
    free(w.stage);
    free(w.ebuf);
    ldg_epoch_walk_free(w.ew);
    free(w.seen);
    ldg_inflate_release(&w.zs);
    ldg_inflate_release(&w.raw);
    free(ck);
    free(sig);
    free(prior.v);
    free(after.v);
    ldg_horizon_release(&hz);
    return rc;
}

/* ------------------------------------------------------------ reading -- */

#define IN_CAP ((size_t)1 << 17)

/* The stream of a segment, decompressed as it is read: from fd
 * (sequentially) or from memory. */
struct segr {
    int fd;
    const uint8_t *mem;
    size_t mem_len, mem_pos;
    ZSTD_DCtx *z;
    uint8_t *in;
    ZSTD_inBuffer ib;
    uint8_t *out;
    size_t out_cap, out_pos, out_len;
    int frame_done, eof;
    struct ldg_sha256_ctx sha; /* of the file's bytes */
    uint64_t file_bytes, raw_bytes;
    uint8_t *rec; /* a record that spans buffers, copied */
    size_t rec_cap;
    uint64_t rec_at; /* the stream offset of the last record's kind byte */
    uint64_t record_max, raw_max;
    int (*raw)(void *raw_ctx, const void *p, size_t n);
    void *raw_ctx;
    char err[256];
};

static int sr_fail(struct segr *s, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int
sr_fail(struct segr *s, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->err, sizeof s->err, fmt, ap);
    va_end(ap);
    return rc;
}

/* More compressed bytes into ib: 0, 1 at the file's end, or an error. */
static int
sr_fill(struct segr *s)
{
    size_t n;
    if (s->ib.pos < s->ib.size)
        return 0;
    if (s->mem != NULL) {
        n = s->mem_len - s->mem_pos;
        if (n > IN_CAP)
            n = IN_CAP;
        memcpy(s->in, s->mem + s->mem_pos, n);
        s->mem_pos += n;
        LDG_ASSERT(s->mem_pos <= s->mem_len);
    } else {
        ssize_t k;
        do
            k = read(s->fd, s->in, IN_CAP);
        while (k < 0 && errno == EINTR);
        if (k < 0)
            return sr_fail(s, LDG_EIO, "reading the file: %s", strerror(errno));
        n = (size_t)k;
    }
    s->ib.src = s->in;
    s->ib.size = n;
    s->ib.pos = 0;
    if (n == 0)
        return 1;
    ldg_sha256_update(&s->sha, s->in, n);
    s->file_bytes += n;
    if (s->raw != NULL && s->raw(s->raw_ctx, s->in, n) != 0)
        return sr_fail(s, LDG_EIO, "keeping a copy of what was read: %s",
                       strerror(errno));
    return 0;
}

/* The file's first bytes: a zstd frame's magic (not a skippable frame's)
 * and its Frame_Header_Descriptor (RFC 8878 3.1.1.1.1) with the
 * Content_Checksum_flag (bit 2) set: FORMAT.md 11.1's one frame with its
 * content checksum, which zstd then checks at the frame's end. */
static int
frame_head(struct segr *s)
{
    const uint8_t *b = s->ib.src;
    if (s->ib.size < 4 || b[0] != 0x28 || b[1] != 0xb5 || b[2] != 0x2f ||
        b[3] != 0xfd)
        return sr_fail(s, LDG_EBADINPUT,
                       "not zstd-compressed (the file does "
                       "not begin with a zstd frame's magic number)");
    if (s->ib.size < 5)
        return sr_fail(s, LDG_EBADINPUT,
                       "the file ends inside its zstd frame (truncated)");
    if (!(b[4] & 0x04))
        return sr_fail(s, LDG_EBADINPUT,
                       "its zstd frame has no content checksum (a segment "
                       "is one frame with its checksum, FORMAT.md 11.1)");
    return 0;
}

/* Decompresses more into out (which the caller has consumed): 0, 1 at
 * the stream's end (the frame complete and nothing after it), or an
 * error. */
static int
sr_more(struct segr *s)
{
    int rc;
    s->out_pos = s->out_len = 0;
    while (s->out_len == 0) {
        ZSTD_outBuffer ob = {s->out, s->out_cap, 0};
        size_t r;
        if (s->frame_done) {
            /* nothing may follow the frame */
            if ((rc = sr_fill(s)) < 0)
                return rc;
            if (rc == 1)
                return 1;
            return sr_fail(s, LDG_EBADINPUT,
                           "bytes after the segment's zstd frame (a segment "
                           "is one frame)");
        }
        if ((rc = sr_fill(s)) < 0)
            return rc;
        if (rc == 1)
            return sr_fail(s, LDG_EBADINPUT,
                           "the file ends inside its zstd frame (truncated)");
        if (s->file_bytes == s->ib.size && s->ib.pos == 0 &&
            (rc = frame_head(s)) < 0)
            return rc;
        r = ZSTD_decompressStream(s->z, &ob, &s->ib);
        if (ZSTD_isError(r)) {
            ZSTD_ErrorCode e = ZSTD_getErrorCode(r);
            if (e == ZSTD_error_frameParameter_windowTooLarge)
                return sr_fail(s, LDG_ETOOBIG,
                               "its zstd window is larger than readers take");
            if (e == ZSTD_error_prefix_unknown && s->raw_bytes == 0)
                return sr_fail(s, LDG_EBADINPUT, "not zstd-compressed");
            return sr_fail(s, LDG_EBADINPUT, "zstd: %s (damaged or truncated)",
                           ZSTD_getErrorName(r));
        }
        s->out_len = ob.pos;
        s->raw_bytes += ob.pos;
        if (r == 0)
            s->frame_done = 1;
    }
    if (s->raw_max > 0 && s->raw_bytes > s->raw_max)
        return sr_fail(s, LDG_ETOOBIG,
                       "it decompresses to more than the %" PRIu64
                       " bytes this reader takes (" LDG_OPT_MAX_BYTES ")",
                       s->raw_max);
    if (s->raw_bytes > ((uint64_t)1 << 20) &&
        s->raw_bytes / 100 > s->file_bytes)
        return sr_fail(s, LDG_ETOOBIG,
                       "it decompresses to more than 100 bytes a byte of "
                       "the file: refused as a decompression bomb");
    return 0;
}

/* n bytes of the stream into dst: 0, 1 at its end before any byte, or an
 * error (the stream ending inside them). */
static int
sr_read(struct segr *s, uint8_t *dst, size_t n)
{
    size_t got = 0;
    while (got < n) {
        size_t k;
        if (s->out_pos == s->out_len) {
            int rc = sr_more(s);
            if (rc == 1 && got == 0)
                return 1;
            if (rc == 1)
                return sr_fail(s, LDG_EBADINPUT,
                               "the stream ends inside a record (truncated)");
            if (rc < 0)
                return rc;
        }
        k = s->out_len - s->out_pos;
        if (k > n - got)
            k = n - got;
        LDG_ASSERT(k > 0 && s->out_pos + k <= s->out_len);
        memcpy(dst + got, s->out + s->out_pos, k);
        s->out_pos += k;
        got += k;
    }
    return 0;
}

/* The next record: 0 with *kind, *p (valid until the next call) and *n;
 * 1 at the stream's end; or an error. max: the most its kind may have. */
static int
sr_record(struct segr *s, uint8_t *kind, const uint8_t **p, size_t *n)
{
    uint8_t b[5];
    uint64_t len = 0;
    size_t i, used;
    int rc;

    s->rec_at = s->raw_bytes - (s->out_len - s->out_pos);
    if ((rc = sr_read(s, kind, 1)) != 0)
        return rc;
    for (i = 0; i < 5; i++) {
        if ((rc = sr_read(s, b + i, 1)) != 0)
            return rc == 1 ? sr_fail(s, LDG_EBADINPUT,
                                     "the stream ends inside a record")
                           : rc;
        if (!(b[i] & 0x80))
            break;
    }
    if (i == 5 || uv_get(b, i + 1, &len, &used) < 0)
        return sr_fail(s, LDG_EBADINPUT,
                       "a record's length is not a shortest uvarint");
    if (len > s->record_max)
        return sr_fail(s, LDG_ETOOBIG,
                       "a record of %" PRIu64 " bytes (kind %u): more than "
                       "the %" PRIu64 " a record may have here",
                       len, *kind, s->record_max);
    LDG_ASSERT(used == i + 1);
    *n = (size_t)len;
    if (s->out_len - s->out_pos >= len) {
        *p = s->out + s->out_pos;
        s->out_pos += (size_t)len;
        return 0;
    }
    if (s->rec_cap < len) {
        size_t cap = s->rec_cap ? s->rec_cap : 65536;
        uint8_t *r;
        while (cap < len)
            cap *= 2;
        if ((r = realloc(s->rec, cap)) == NULL)
            return LDG_ENOMEM;
        s->rec = r;
        s->rec_cap = cap;
    }
    if ((rc = sr_read(s, s->rec, (size_t)len)) != 0)
        return rc == 1 ? sr_fail(s, LDG_EBADINPUT,
                                 "the stream ends inside a record (truncated)")
                       : rc;
    *p = s->rec;
    return 0;
}

static int
sr_open(struct segr *s, int fd, const void *mem, size_t mem_len,
        const struct ldg_segment_verify_opts *o)
{
    memset(s, 0, sizeof *s);
    s->fd = fd;
    s->mem = mem;
    s->mem_len = mem_len;
    s->record_max = o->record_max ? o->record_max : LDG_SEGMENT_RECORD_MAX;
    s->raw_max = o->raw_max;
    s->raw = o->raw;
    s->raw_ctx = o->raw_ctx;
    ldg_sha256_init(&s->sha);
    s->z = ZSTD_createDCtx();
    s->in = malloc(IN_CAP);
    s->out_cap = ZSTD_DStreamOutSize();
    s->out = malloc(s->out_cap);
    if (s->z == NULL || s->in == NULL || s->out == NULL)
        return LDG_ENOMEM;
    if (ZSTD_isError(ZSTD_DCtx_setParameter(
            s->z, ZSTD_d_windowLogMax,
            o->window_log ? (int)o->window_log : SEG_WINDOW_LOG_DEFAULT)))
        return LDG_EINVAL;
    s->ib.src = s->in;
    return 0;
}

static void
sr_close(struct segr *s)
{
    ZSTD_freeDCtx(s->z);
    free(s->in);
    free(s->out);
    free(s->rec);
}

int
ldg_segment_sniff(int fd)
{
    uint8_t *in, out[LDG_SEGMENT_MAGIC_LEN];
    ZSTD_DCtx *z;
    ZSTD_outBuffer ob = {out, sizeof out, 0};
    off_t off = 0;
    int rc = 0;

    /* a zstd block is at most 128 KiB: the first bytes of the stream come
     * out of at most that much of the file after the frame's header */
    if ((in = malloc(IN_CAP)) == NULL)
        return LDG_ENOMEM;
    if ((z = ZSTD_createDCtx()) == NULL) {
        free(in);
        return LDG_ENOMEM;
    }
    ZSTD_DCtx_setParameter(z, ZSTD_d_windowLogMax, SEG_WINDOW_LOG_DEFAULT);
    while (ob.pos < ob.size && off < (off_t)(4 * IN_CAP)) {
        ZSTD_inBuffer ib;
        ssize_t n;
        size_t r = 1;
        do
            n = pread(fd, in, IN_CAP, off);
        while (n < 0 && errno == EINTR);
        if (n < 0) {
            rc = LDG_EIO;
            break;
        }
        if (n == 0 || (off == 0 && (n < 4 || in[0] != 0x28 || in[1] != 0xb5 ||
                                    in[2] != 0x2f || in[3] != 0xfd)))
            break;
        ib.src = in;
        ib.size = (size_t)n;
        ib.pos = 0;
        while (ob.pos < ob.size && ib.pos < ib.size) {
            r = ZSTD_decompressStream(z, &ob, &ib);
            if (ZSTD_isError(r) || r == 0)
                break;
        }
        if (ZSTD_isError(r) || r == 0)
            break;
        off += n;
    }
    if (rc == 0)
        rc = ob.pos == ob.size &&
             memcmp(out, LDG_SEGMENT_MAGIC, LDG_SEGMENT_MAGIC_LEN) == 0;
    ZSTD_freeDCtx(z);
    free(in);
    return rc;
}

/* ---------------------------------------------------------- verifying -- */

struct skey {
    char id[LDG_KEYID_LEN + 1];
    char name[LDG_NAME_MAX + 1];
    uint8_t pub[32];
    uint64_t added, revoked;
    uint32_t roles;
    uint64_t sealed;  /* events its seals covered so far */
    int sealed_known; /* ... when the segment knows where it started */
    int open;         /* index of its open seal + 1, or 0 */
    /* epoch keys: its key.anchored's seq + 1 (0: none seen), and its
     * chain along the range's seals (the first whole, FORMAT.md 11.1) */
    uint64_t anchored;
    struct ldg_epoch_chain *ep;
};

struct sopen {
    uint64_t seal_seq, next;
    struct ldg_seal seal;
    struct ldg_seal_acc acc;
    int key;
    /* by an epoch key: which, its start, and the seal's epoch signature */
    int epoch;
    struct ldg_epoch_id e;
    uint8_t ep_pub[32], ep_sig[64];
    uint64_t ep_start;
};

/*
 * The body commitments, on a second core. Half of a verification's work is
 * hashing the bodies' fields (a digest a field, their root): independent
 * of everything else an event's checks need, so the reading thread hands
 * each body record with the commitment its entry names to a worker, in
 * batches, and goes on; the worker recomputes and compares, in seq order,
 * keeping the first that differs. Bodies the reading thread needs at once
 * (the genesis's, key events', erasures') it checks itself. A failure is
 * reported at the end, the first in seq order among the reader's and the
 * worker's (verify_common). One worker: the reading thread is the other
 * half of the work.
 */
#define BATCH_EVENTS 1024
#define BATCH_BYTES ((size_t)1 << 20)
#define NBATCH 4

struct bjob {
    uint64_t seq;
    size_t off, len;
    uint8_t root[32];
};

struct bbatch {
    struct bjob jobs[BATCH_EVENTS];
    size_t n;
    uint8_t *data;
    size_t len, cap;
    int full; /* handed to the worker, not yet checked */
};

struct bworker {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct bbatch b[NBATCH];
    int fill, next; /* the batch being filled; the next to check */
    int stop, running;
    size_t body_max;
    uint64_t bad_seq; /* the first body that failed, UINT64_MAX: none */
    char what[200];
};

static void *
bworker_main(void *arg)
{
    struct bworker *w = arg;
    for (;;) {
        struct bbatch *b;
        pthread_mutex_lock(&w->mu);
        while (!w->b[w->next].full && !w->stop)
            pthread_cond_wait(&w->cv, &w->mu);
        if (!w->b[w->next].full && w->stop) {
            pthread_mutex_unlock(&w->mu);
            return NULL;
        }
        b = &w->b[w->next];
        pthread_mutex_unlock(&w->mu);
        for (size_t i = 0; i < b->n && w->bad_seq == UINT64_MAX; i++) {
            uint8_t root[32];
            const struct bjob *j = &b->jobs[i];
            LDG_ASSERT(j->off + j->len <= b->len);
            if (ldg_body_rec_root(NULL, b->data + j->off, j->len, w->body_max,
                                  root) < 0) {
                snprintf(w->what, sizeof w->what,
                         "its body record does not decode");
                w->bad_seq = j->seq;
            } else if (memcmp(root, j->root, 32) != 0) {
                snprintf(w->what, sizeof w->what,
                         "body does not match its commitment in the entry");
                w->bad_seq = j->seq;
            }
        }
        pthread_mutex_lock(&w->mu);
        b->n = 0;
        b->len = 0;
        b->full = 0;
        w->next = (w->next + 1) % NBATCH;
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);
    }
}

static int
bworker_start(struct bworker *w, size_t body_max)
{
    memset(w->b, 0, sizeof w->b);
    w->fill = w->next = 0;
    w->stop = 0;
    w->body_max = body_max;
    w->bad_seq = UINT64_MAX;
    w->what[0] = '\0';
    for (int i = 0; i < NBATCH; i++) {
        w->b[i].cap = BATCH_BYTES;
        if ((w->b[i].data = malloc(BATCH_BYTES)) == NULL)
            return LDG_ENOMEM;
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if (pthread_create(&w->th, NULL, bworker_main, w) != 0) {
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
        return LDG_ENOMEM;
    }
    w->running = 1;
    return 0;
}

/* Hands the batch being filled to the worker and takes the next free. */
static void
bworker_submit(struct bworker *w)
{
    pthread_mutex_lock(&w->mu);
    if (w->b[w->fill].n > 0) {
        w->b[w->fill].full = 1;
        w->fill = (w->fill + 1) % NBATCH;
        pthread_cond_broadcast(&w->cv);
        while (w->b[w->fill].full)
            pthread_cond_wait(&w->cv, &w->mu);
    }
    pthread_mutex_unlock(&w->mu);
}

static int
bworker_add(struct bworker *w, uint64_t seq, const uint8_t *rec, size_t len,
            const uint8_t root[32])
{
    struct bbatch *b = &w->b[w->fill];
    struct bjob *j;
    if (b->n == BATCH_EVENTS || b->len + len > b->cap) {
        bworker_submit(w);
        b = &w->b[w->fill];
    }
    if (len > b->cap) {
        uint8_t *d = realloc(b->data, len);
        if (d == NULL)
            return LDG_ENOMEM;
        b->data = d;
        b->cap = len;
    }
    LDG_ASSERT(b->n < BATCH_EVENTS && b->len + len <= b->cap);
    j = &b->jobs[b->n++];
    j->seq = seq;
    j->off = b->len;
    j->len = len;
    memcpy(j->root, root, 32);
    memcpy(b->data + b->len, rec, len);
    b->len += len;
    return 0;
}

/* Checks what is left and stops the worker. */
static void
bworker_finish(struct bworker *w)
{
    if (!w->running)
        return;
    bworker_submit(w);
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->th, NULL);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    w->running = 0;
}

static void
bworker_free(struct bworker *w)
{
    bworker_finish(w);
    for (int i = 0; i < NBATCH; i++) {
        free(w->b[i].data);
        w->b[i].data = NULL;
    }
}

struct sv {
    const struct ldg_segment_verify_opts *o;
    struct ldg_segment_result *r;
    int check;          /* 0: ldg_segment_read (framing and decoding only) */
    struct bworker *bw; /* the body commitments' worker, or NULL */
    struct hdr h;
    uint8_t pub[32];
    char log_id[LDG_KEYID_LEN + 1];
    size_t body_max;
    /* keys and open seals */
    struct skey *keys;
    size_t nkeys, capkeys, lastkey;
    struct sopen *seals;
    size_t nseals;
    /* the pending seal record (read, its first event not yet) */
    int have_seal;
    struct ldg_seal pend;
    uint8_t pend_ext[LDG_SEAL_EXT_MAX]; /* its epoch part, copied */
    /* the last proven event's seal, checked once */
    uint8_t proven_seal_rec[LDG_SEAL_REC_MAX];
    size_t proven_seal_len;
    uint8_t proven_seal_pub[32];
    /* the tree's right edge: complete subtrees, levels decreasing */
    int fn;
    int flevel[70];
    uint8_t fh[70][32];
    /* the checkpoint and the consistency proof to it */
    uint64_t n;
    uint8_t root[32];
    uint8_t cproof[LDG_PROOF_MAX][32];
    size_t ncproof;
    /* the chain */
    uint64_t next_seq, last_ts, last_proven;
    int ts_known;
    uint8_t prev[32];
    /* erased bodies of the range not yet named by a body.erased */
    uint64_t *erased;
    uint8_t *named;
    size_t nerased, caperased;
    uint8_t entry[LDG_ENTRY_MAX + 64];
};

static int vfail(struct sv *s, enum ldg_segment_check c, uint64_t seq,
                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int
vfail(struct sv *s, enum ldg_segment_check c, uint64_t seq, const char *fmt,
      ...)
{
    va_list ap;
    int k = 0;
    s->r->ok = 0;
    s->r->failed = c;
    s->r->bad_seq = seq;
    if (seq != UINT64_MAX)
        k = snprintf(s->r->what, sizeof s->r->what, "event %" PRIu64 ": ", seq);
    va_start(ap, fmt);
    vsnprintf(s->r->what + k, sizeof s->r->what - (size_t)k, fmt, ap);
    va_end(ap);
    return c == LDG_SEGCHK_CONTAINER ? LDG_EBADINPUT : LDG_ETAMPER;
}

static struct skey *
key_find(struct sv *s, const char *id)
{
    if (s->lastkey < s->nkeys && strcmp(s->keys[s->lastkey].id, id) == 0)
        return &s->keys[s->lastkey];
    for (size_t i = 0; i < s->nkeys; i++)
        if (strcmp(s->keys[i].id, id) == 0) {
            s->lastkey = i;
            return &s->keys[i];
        }
    return NULL;
}

static struct skey *
key_add(struct sv *s, const char *id, const uint8_t pub[32], uint64_t added)
{
    struct skey *k;
    if (s->nkeys == s->capkeys) {
        size_t cap = s->capkeys ? 2 * s->capkeys : 16;
        struct skey *nk = realloc(s->keys, cap * sizeof *nk);
        if (nk == NULL)
            return NULL;
        s->keys = nk;
        s->capkeys = cap;
    }
    k = &s->keys[s->nkeys++];
    memset(k, 0, sizeof *k);
    snprintf(k->id, sizeof k->id, "%s", id);
    memcpy(k->pub, pub, 32);
    k->added = added;
    k->revoked = UINT64_MAX;
    k->roles = UINT32_MAX;
    return k;
}

static void
tree_push(struct sv *s, const uint8_t h[32], int level)
{
    LDG_ASSERT(s->fn <= 64);
    memcpy(s->fh[s->fn], h, 32);
    s->flevel[s->fn++] = level;
    while (s->fn >= 2 && s->flevel[s->fn - 1] == s->flevel[s->fn - 2]) {
        ldg_tlog_node_hash(s->fh[s->fn - 2], s->fh[s->fn - 2],
                           s->fh[s->fn - 1]);
        s->flevel[s->fn - 2]++;
        s->fn--;
    }
    LDG_ASSERT(s->fn < 2 || s->flevel[s->fn - 1] < s->flevel[s->fn - 2]);
}

static void
tree_root(const struct sv *s, uint8_t root[32])
{
    if (s->fn == 0) {
        ldg_sha256(root, "", 0);
        return;
    }
    memcpy(root, s->fh[s->fn - 1], 32);
    for (int i = s->fn - 2; i >= 0; i--)
        ldg_tlog_node_hash(root, s->fh[i], root);
}

static int
is_key_type(const char *type)
{
    return strcmp(type, LDG_EV_KEY_ADDED) == 0 ||
           strcmp(type, LDG_EV_KEY_REVOKED) == 0;
}

static int
needs_body(const char *type)
{
    return is_key_type(type) || strcmp(type, LDG_EV_LEDGER_GENESIS) == 0 ||
           strcmp(type, LDG_EV_BODY_ERASED) == 0 ||
           strcmp(type, LDG_EV_KEY_ANCHORED) == 0;
}

/* May the actor of ev vouch for it at its seq (FORMAT.md 3, 5)? */
static int
check_key(struct sv *s, const struct ldg_event *ev, struct skey **out)
{
    struct skey *k = key_find(s, ev->actor);
    *out = k;
    if (k == NULL || (k->added >= ev->seq && !(ev->seq == 0 && k->added == 0)))
        return vfail(s, LDG_SEGCHK_KEYS, ev->seq,
                     "%s by key %s, which the log had not added before "
                     "this event (nor any earlier horizon or key event the "
                     "segment carries)",
                     ev->sealed ? "sealed" : "signed", ev->actor);
    if (k->revoked < ev->seq)
        return vfail(s, LDG_SEGCHK_KEYS, ev->seq,
                     "by key %s after it was revoked at event %" PRIu64,
                     ev->actor, k->revoked);
    if ((is_key_type(ev->type) ||
         strcmp(ev->type, LDG_EV_LEDGER_GENESIS) == 0) &&
        strcmp(ev->actor, s->log_id) != 0)
        return vfail(s, LDG_SEGCHK_KEYS, ev->seq, "%s is not by the log key",
                     ev->type);
    if (k->added != 0 && !ldg_roles_mask_allows(k->roles, ev->type))
        return vfail(s, LDG_SEGCHK_KEYS, ev->seq,
                     "%s by key %s (%s), whose roles (key.added at event "
                     "%" PRIu64 ") do not allow it",
                     ev->type, ev->actor, k->name, k->added);
    return 0;
}

static int
erased_add(struct sv *s, uint64_t seq)
{
    if (s->nerased == s->caperased) {
        size_t cap = s->caperased ? 2 * s->caperased : 64;
        uint64_t *e = realloc(s->erased, cap * sizeof *e);
        uint8_t *nm;
        if (e == NULL)
            return LDG_ENOMEM;
        s->erased = e;
        if ((nm = realloc(s->named, cap)) == NULL)
            return LDG_ENOMEM;
        s->named = nm;
        s->caperased = cap;
    }
    s->erased[s->nerased] = seq;
    s->named[s->nerased++] = 0;
    return 0;
}

/* A body a segment carries is a stored record (FORMAT.md section 4) of a
 * kind that names no dictionary, uncompressed (the stream compresses it):
 * salted 0x00, or seeded 0x02 (layout 5's salts) or 0x05 (AES salts).
 * One body, one form: a compressed record (0x01, 0x03, 0x04, 0x06), even
 * of dictionary 0, is refused, as is any other flag. */
static int
body_kind(struct sv *s, uint64_t seq, const uint8_t *p, size_t n)
{
    if (n > 0 && (p[0] == LDG_BODY_RAW || p[0] == LDG_BODY_SEEDED ||
                  p[0] == LDG_BODY_SEEDED_AES))
        return 0;
    if (n == 0)
        return vfail(s, LDG_SEGCHK_BODIES, seq,
                     "its body record is empty (an erased body is an "
                     "ERASED record)");
    return vfail(s, LDG_SEGCHK_BODIES, seq,
                 "its body record is of kind 0x%02x; a segment carries a "
                 "body uncompressed, in a kind that names no dictionary "
                 "(0x00, 0x02 or 0x05, FORMAT.md 11.1)",
                 p[0]);
}

/* The caller's pin of key id's anchor (docs/EPOCHS.md), or NULL. */
static const struct ldg_anchor_pin *
pin_of(const struct sv *s, const char *id)
{
    for (size_t i = 0; s->check && i < s->o->nanchors; i++)
        if (strcmp(s->o->anchors[i].key_id, id) == 0)
            return &s->o->anchors[i];
    return NULL;
}

/* A seal by key k whose first event is seq, and no key.anchored of k
 * before it in the segment: 0, or the failure when the caller pinned
 * k's anchor before seq (its key.anchored removed, the seal re-signed
 * with the key alone). A segment that starts past a prune of the anchor
 * keeps the seal's epoch part, unchecked (open_epoch). */
static int
pinned_unanchored(struct sv *s, const struct ldg_event *ev, uint64_t seq,
                  const struct skey *k, int has_ext)
{
    const struct ldg_anchor_pin *pin = pin_of(s, k->id);
    char ah[17];

    if (pin == NULL || pin->seq >= seq ||
        (has_ext && s->r->info.horizon_seq > pin->seq))
        return 0;
    ldg_hex(ah, pin->anchor, 8);
    if (has_ext)
        return vfail(s, LDG_SEGCHK_SEALS, ev->seq,
                     "the segment carries no key.anchored of key %s, which "
                     "the pinned anchor %s... says was anchored at event "
                     "%" PRIu64 " (removed?)",
                     k->id, ah, pin->seq);
    return vfail(
        s, LDG_SEGCHK_SEALS, ev->seq,
        "(period %" PRIu64 ") its seal by key %s carries no epoch, "
        "but the pinned anchor %s... says the key seals with epoch "
        "keys since event %" PRIu64 " (re-signed with the key "
        "alone, its key.anchored removed?)",
        ev->ts_ns >= pin->t0_ns ? (ev->ts_ns - pin->t0_ns) / pin->period_ns : 0,
        k->id, ah, pin->seq);
}

/* What a key event, the genesis or a body.erased does (its body given
 * and checked against its commitment). */
/* A key.anchored (FORMAT.md 5.1): its key's epoch seals after it are
 * checked from the anchor, which must be the caller's pin when there is
 * one. */
static int
take_anchor(struct sv *s, const struct ldg_event *ev, const json_t *j)
{
    const char *id = json_string_value(json_object_get(j, "key_id"));
    const char *hex = json_string_value(json_object_get(j, "anchor"));
    const json_t *t0 = json_object_get(j, "t0");
    const json_t *len = json_object_get(j, "period_ns");
    struct ldg_epoch_params par;
    struct skey *k = id ? key_find(s, id) : NULL;
    const struct ldg_anchor_pin *pin;

    memset(&par, 0, sizeof par);
    if (k == NULL)
        return vfail(s, LDG_SEGCHK_KEYS, ev->seq,
                     "key.anchored names unknown key %s", id ? id : "(none)");
    if (hex == NULL || strlen(hex) != 64 ||
        ldg_unhex(par.anchor, 32, hex) < 0 || !json_is_integer(t0) ||
        json_integer_value(t0) < 0 || !json_is_integer(len) ||
        json_integer_value(len) < (json_int_t)LDG_EPOCH_LEN_MIN_NS ||
        json_integer_value(len) > (json_int_t)LDG_EPOCH_LEN_MAX_NS ||
        (uint64_t)json_integer_value(t0) > ev->ts_ns)
        return vfail(s, LDG_SEGCHK_KEYS, ev->seq,
                     "key.anchored of key %s: its anchor, t0 or period_ns is "
                     "not valid",
                     id);
    if (k->anchored)
        return vfail(s, LDG_SEGCHK_KEYS, ev->seq,
                     "key %s is anchored a second time (first at event "
                     "%" PRIu64 ")",
                     id, k->anchored - 1);
    par.t0_ns = (uint64_t)json_integer_value(t0);
    par.len_ns = (uint64_t)json_integer_value(len);
    if ((pin = pin_of(s, id)) != NULL &&
        (memcmp(pin->anchor, par.anchor, 32) != 0 || pin->t0_ns != par.t0_ns ||
         pin->period_ns != par.len_ns || pin->seq != ev->seq)) {
        char ah[17];
        ldg_hex(ah, pin->anchor, 8);
        return vfail(s, LDG_SEGCHK_KEYS, ev->seq,
                     "key.anchored of key %s names anchor %.16s... (t0 "
                     "%" PRIu64 ", period %" PRIu64 " ns), not the pinned "
                     "anchor %s... (t0 %" PRIu64 ", period %" PRIu64
                     " ns, at event %" PRIu64 ")",
                     id, hex, par.t0_ns, par.len_ns, ah, pin->t0_ns,
                     pin->period_ns, pin->seq);
    }
    if ((k->ep = malloc(sizeof *k->ep)) == NULL)
        return LDG_ENOMEM;
    ldg_epoch_chain_init(k->ep, &par);
    k->anchored = ev->seq + 1;
    return 0;
}

static int
apply_body(struct sv *s, const struct ldg_event *ev, const uint8_t *body,
           size_t blen)
{
    json_t *j = NULL;
    int rc = 0;

    if (ldg_body_decode_json(NULL, body, blen, s->body_max, &j) < 0)
        return vfail(s, LDG_SEGCHK_BODIES, ev->seq, "its body does not decode");
    if (strcmp(ev->type, LDG_EV_LEDGER_GENESIS) == 0) {
        const char *hex = json_string_value(json_object_get(j, "log_key"));
        const char *org = json_string_value(json_object_get(j, "origin"));
        uint8_t pub[32];
        if (hex == NULL || ldg_unhex(pub, 32, hex) < 0 ||
            memcmp(pub, s->h.key, 32) != 0)
            rc = vfail(s, LDG_SEGCHK_KEYS, ev->seq,
                       "the genesis names another log key than the "
                       "segment's");
        else if (org == NULL || strcmp(org, s->h.origin) != 0)
            rc = vfail(s, LDG_SEGCHK_KEYS, ev->seq,
                       "the genesis names another origin than the "
                       "segment's");
    } else if (strcmp(ev->type, LDG_EV_KEY_ADDED) == 0) {
        const char *id = json_string_value(json_object_get(j, "key_id"));
        const char *hex = json_string_value(json_object_get(j, "public_key"));
        const char *nm = json_string_value(json_object_get(j, "actor"));
        char want[LDG_KEYID_LEN + 1];
        uint8_t pub[32];
        struct skey *k;
        if (id == NULL || hex == NULL || ldg_unhex(pub, 32, hex) < 0)
            rc = vfail(s, LDG_SEGCHK_KEYS, ev->seq,
                       "key.added without a valid public key");
        else if (ldg_key_id(want, pub), strcmp(want, id) != 0)
            rc = vfail(s, LDG_SEGCHK_KEYS, ev->seq,
                       "key.added: key_id %s does not match the public key "
                       "(%s)",
                       id, want);
        else if (key_find(s, id) != NULL)
            rc = vfail(s, LDG_SEGCHK_KEYS, ev->seq, "key %s added twice", id);
        else if ((k = key_add(s, id, pub, ev->seq)) == NULL)
            rc = LDG_ENOMEM;
        else {
            snprintf(k->name, sizeof k->name, "%s", nm ? nm : "");
            k->roles = ldg_roles_mask(json_object_get(j, "roles"));
            /* its seals' running count starts here when every event
             * after its key.added is the segment's (not for one proven
             * before the range) */
            k->sealed_known = ev->seq >= s->h.first;
        }
    } else if (strcmp(ev->type, LDG_EV_KEY_ANCHORED) == 0) {
        rc = take_anchor(s, ev, j);
    } else if (strcmp(ev->type, LDG_EV_KEY_REVOKED) == 0) {
        const char *id = json_string_value(json_object_get(j, "key_id"));
        struct skey *k = id ? key_find(s, id) : NULL;
        if (k == NULL)
            rc = vfail(s, LDG_SEGCHK_KEYS, ev->seq,
                       "key.revoked names unknown key %s", id ? id : "(none)");
        else if (k->revoked == UINT64_MAX)
            k->revoked = ev->seq;
    } else if (strcmp(ev->type, LDG_EV_BODY_ERASED) == 0) {
        json_int_t tg = json_integer_value(json_object_get(j, "target_seq"));
        if (!json_is_integer(json_object_get(j, "target_seq")) || tg < 0 ||
            (uint64_t)tg >= ev->seq) {
            rc = vfail(s, LDG_SEGCHK_ERASURES, ev->seq,
                       "body.erased names event %lld, not an earlier one",
                       (long long)tg);
        } else if ((uint64_t)tg >= s->h.first && (uint64_t)tg < s->h.end &&
                   (uint64_t)tg < s->next_seq) {
            /* the range's: its body must be gone */
            size_t lo = 0, hi = s->nerased;
            while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (s->erased[mid] < (uint64_t)tg)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            if (lo == s->nerased || s->erased[lo] != (uint64_t)tg)
                rc = vfail(s, LDG_SEGCHK_ERASURES, (uint64_t)tg,
                           "its body was erased by event %" PRIu64
                           " but the segment still holds it",
                           ev->seq);
            else
                s->named[lo] = 1;
        }
    }
    json_decref(j);
    return rc;
}

/* Format 2: the event's place in its seal, seal_rec the record that came
 * before it (a seal's first event). */
/* At a seal's first event (FORMAT.md 5.1, 11.8): a key anchored before
 * it seals with its epoch key, under a chain from its anchor (the first
 * of its seals the segment holds carries its epoch part whole, the later
 * ones what the log had not carried); a seal with an epoch part needs its
 * key's anchor, unless the segment starts past a prune (the certs left
 * with the pruned events: counted, not checked). */
static int
open_epoch(struct sv *s, const struct ldg_event *ev, struct skey *k,
           struct sopen *o)
{
    struct ldg_epoch_ext x;
    char err[512];

    if (!k->anchored || k->anchored - 1 >= ev->seq) {
        int rc = pinned_unanchored(s, ev, ev->seq, k, o->seal.ext != NULL);
        if (rc < 0 || o->seal.ext == NULL)
            return rc;
        if (s->r->info.horizon_seq > 0) {
            s->r->info.epochs_unchecked++;
            o->seal.ext = NULL;
            return 0;
        }
        return vfail(s, LDG_SEGCHK_SEALS, ev->seq,
                     "its seal carries an epoch, but the segment carries no "
                     "key.anchored of key %s before it",
                     k->id);
    }
    if (o->seal.ext == NULL) {
        uint64_t p = ev->ts_ns >= k->ep->par.t0_ns
                         ? (ev->ts_ns - k->ep->par.t0_ns) / k->ep->par.len_ns
                         : 0;
        return vfail(s, LDG_SEGCHK_SEALS, ev->seq,
                     "(period %" PRIu64 ") its seal by key %s carries no "
                     "epoch, but the key seals with epoch keys since its "
                     "anchor at event %" PRIu64 " (re-signed with the key "
                     "alone?)",
                     p, k->id, k->anchored - 1);
    }
    if (ldg_epoch_ext_decode(o->seal.ext, o->seal.ext_len, &x) < 0)
        return vfail(s, LDG_SEGCHK_SEALS, ev->seq,
                     "its seal's epoch part does not decode");
    if (ldg_epoch_chain_step(k->ep, &x, err, sizeof err) < 0)
        return vfail(s, LDG_SEGCHK_SEALS, ev->seq, "its seal by key %s: %s",
                     k->id, err);
    o->epoch = 1;
    o->e = k->ep->cur;
    memcpy(o->ep_pub, k->ep->pub, 32);
    memcpy(o->ep_sig, x.sig, 64);
    o->ep_start = k->ep->start_ns;
    o->seal.ext = NULL; /* (its bytes are the reader's, not kept) */
    o->seal.ext_len = 0;
    s->r->info.epoch_seals++;
    return 0;
}

static int
check_seal(struct sv *s, const struct ldg_event *ev, struct skey *k)
{
    struct sopen *o;
    uint8_t d[32];
    int rc;

    if (ev->seal_leaf == 0) {
        if (!s->have_seal)
            return vfail(s, LDG_SEGCHK_SEALS, ev->seq,
                         "it opens a seal, but the segment carries no seal "
                         "record before it");
        s->have_seal = 0;
        if (strcmp(s->pend.key_id, ev->actor) != 0)
            return vfail(s, LDG_SEGCHK_SEALS, ev->seq,
                         "actor %s but its seal is by %s", ev->actor,
                         s->pend.key_id);
        if (strcmp(s->pend.origin, s->h.origin) != 0)
            return vfail(s, LDG_SEGCHK_SEALS, ev->seq,
                         "its seal names another log (%s)", s->pend.origin);
        if (k->open)
            return vfail(s, LDG_SEGCHK_SEALS, ev->seq,
                         "key %s opens a seal while its seal at %" PRIu64
                         " has %" PRIu64 " of its %" PRIu64 " events",
                         k->id, s->seals[k->open - 1].seal_seq,
                         s->seals[k->open - 1].next,
                         s->seals[k->open - 1].seal.count);
        if (k->sealed_known && s->pend.first != k->sealed)
            return vfail(s, LDG_SEGCHK_SEALS, ev->seq,
                         "its seal says key %s sealed %" PRIu64
                         " events before it; the log says %" PRIu64,
                         k->id, s->pend.first, k->sealed);
        {
            size_t i;
            for (i = 0; i < s->nseals && s->seals[i].key >= 0; i++)
                ;
            if (i == s->nseals) {
                struct sopen *ns =
                    realloc(s->seals, (s->nseals + 1) * sizeof *ns);
                if (ns == NULL)
                    return LDG_ENOMEM;
                s->seals = ns;
                s->nseals++;
            }
            o = &s->seals[i];
            memset(o, 0, sizeof *o);
            o->seal = s->pend;
            o->seal_seq = ev->seq;
            o->key = (int)(k - s->keys);
            if ((rc = open_epoch(s, ev, k, o)) != 0)
                return rc;
            ldg_seal_acc_init(&o->acc);
            k->open = (int)i + 1;
        }
    } else {
        if (s->have_seal)
            return vfail(s, LDG_SEGCHK_SEALS, ev->seq,
                         "a seal record comes before it, but it is leaf "
                         "%" PRIu64 " of the seal at %" PRIu64,
                         ev->seal_leaf, ev->seal_seq);
        if (!k->open || s->seals[k->open - 1].seal_seq != ev->seal_seq)
            return vfail(s, LDG_SEGCHK_SEALS, ev->seq,
                         "leaf %" PRIu64 " of a seal at %" PRIu64
                         " that key %s has not open here",
                         ev->seal_leaf, ev->seal_seq, k->id);
    }
    o = &s->seals[k->open - 1];
    if (o->epoch && ev->ts_ns < o->ep_start)
        return vfail(s, LDG_SEGCHK_SEALS, ev->seq,
                     "its time %" PRIu64 " ns is before the start (%" PRIu64
                     " ns) of epoch %" PRIu32 ".%" PRIu32 " of key %s, which "
                     "sealed it (the past re-signed?)",
                     ev->ts_ns, o->ep_start, o->e.period, o->e.sub, k->id);
    if (ev->seal_leaf != o->next)
        return vfail(s, LDG_SEGCHK_SEALS, ev->seq,
                     "leaf %" PRIu64 " of seal %" PRIu64
                     ", which expects leaf %" PRIu64,
                     ev->seal_leaf, o->seal_seq, o->next);
    ldg_claim_digest(d, ev->signed_part, ev->signed_len);
    ldg_seal_acc_add(&o->acc, d);
    if (++o->next == o->seal.count) {
        uint8_t root[32];
        ldg_seal_acc_root(&o->acc, root);
        if (memcmp(root, o->seal.root, 32) != 0)
            return vfail(s, LDG_SEGCHK_SEALS, o->seal_seq,
                         "its seal's root is not the root of its %" PRIu64
                         " events' claims (one of events %" PRIu64 "..%" PRIu64
                         " was changed)",
                         o->seal.count, o->seal_seq, ev->seq);
        if (ldg_seal_verify(&o->seal, k->pub) != 0)
            return vfail(s, LDG_SEGCHK_SEALS, o->seal_seq,
                         "seal %" PRIu64 " does not verify with key %s",
                         o->seal_seq, k->id);
        if (o->epoch) {
            uint8_t map[LDG_SEAL_MAP_MAX];
            size_t mn;
            if (ldg_seal_map_encode(&o->seal, map, sizeof map, &mn) < 0 ||
                ldg_epoch_seal_verify(o->ep_pub, o->e, map, mn, o->ep_sig) < 0)
                return vfail(s, LDG_SEGCHK_SEALS, o->seal_seq,
                             "seal %" PRIu64 " by key %s: its epoch "
                             "signature does not verify with the key of "
                             "epoch %" PRIu32 ".%" PRIu32,
                             o->seal_seq, k->id, o->e.period, o->e.sub);
        }
        s->r->info.seal_checks++;
        k->sealed += o->seal.count;
        k->open = 0;
        o->key = -1;
    }
    return 0;
}

/* The checks of one event of the range (entry rebuilt, decoded). */
static int
range_event(struct sv *s, const struct ldg_event *ev, const uint8_t *body,
            size_t blen)
{
    struct skey *k = NULL;
    int rc, is_gen = strcmp(ev->type, LDG_EV_LEDGER_GENESIS) == 0;

    if (ev->seq != s->next_seq)
        return vfail(s, LDG_SEGCHK_CHAIN, s->next_seq,
                     "the segment holds event %" PRIu64 " where %" PRIu64
                     " belongs (events reordered, left out or added)",
                     ev->seq, s->next_seq);
    if ((ev->seq == 0) != is_gen)
        return vfail(s, LDG_SEGCHK_CHAIN, ev->seq,
                     is_gen ? "ledger.genesis after event 0"
                            : "event 0 is not ledger.genesis");
    if (s->ts_known && ev->ts_ns <= s->last_ts)
        return vfail(s, LDG_SEGCHK_CHAIN, ev->seq,
                     "its time %" PRIu64 " is not after the one before "
                     "(%" PRIu64 ")",
                     ev->ts_ns, s->last_ts);
    if (ev->has_parent && ev->parent >= ev->seq)
        return vfail(s, LDG_SEGCHK_CHAIN, ev->seq,
                     "its parent %" PRIu64 " is not an earlier event",
                     ev->parent);
    if ((s->h.format >= 2) != (ev->sealed != 0))
        return vfail(s, LDG_SEGCHK_CHAIN, ev->seq,
                     "a %s entry in a segment of a format %" PRIu64 " ledger",
                     ev->sealed ? "sealed" : "signed", s->h.format);
    if (is_gen && body != NULL && s->check) {
        /* the log key, from the genesis: valid from event 0 */
        struct skey *lk = key_find(s, s->log_id);
        if (lk == NULL && (lk = key_add(s, s->log_id, s->h.key, 0)) == NULL)
            return LDG_ENOMEM;
        snprintf(lk->name, sizeof lk->name, "%s", LDG_LOG_KEY_NAME);
        lk->sealed_known = 1;
    }
    if (s->check) {
        if ((rc = check_key(s, ev, &k)) != 0)
            return rc;
        if (ev->sealed) {
            if ((rc = check_seal(s, ev, k)) != 0)
                return rc;
        } else {
            if (ldg_event_verify_sig(ev, k->pub) != 0)
                return vfail(s, LDG_SEGCHK_SEALS, ev->seq,
                             "signature does not verify with key %s",
                             ev->actor);
            s->r->info.signatures++;
        }
    } else if (ev->sealed && ev->seal_leaf == 0) {
        s->have_seal = 0; /* (read, not checked) */
    }
    if (body == NULL) {
        if (needs_body(ev->type))
            return vfail(s, LDG_SEGCHK_ERASURES, ev->seq,
                         "a %s whose body is erased: verification needs it, "
                         "and no body.erased may name it",
                         ev->type);
        if ((rc = erased_add(s, ev->seq)) < 0)
            return rc;
        s->r->info.erased++;
    } else if (s->check && s->bw != NULL && !needs_body(ev->type)) {
        /* (checked on the worker, reported at the end) */
        if ((rc = bworker_add(s->bw, ev->seq, body, blen, ev->body_root)) < 0)
            return rc;
    } else if (s->check) {
        uint8_t root[32];
        if (ldg_body_rec_root(NULL, body, blen, s->body_max, root) < 0)
            return vfail(s, LDG_SEGCHK_BODIES, ev->seq,
                         "its body record does not decode");
        if (memcmp(root, ev->body_root, 32) != 0)
            return vfail(s, LDG_SEGCHK_BODIES, ev->seq,
                         "body does not match its commitment in the entry");
        if (needs_body(ev->type) && (rc = apply_body(s, ev, body, blen)) != 0)
            return rc;
    }
    if (s->o->leaf != NULL) {
        char what[400];
        what[0] = '\0';
        int c = s->o->leaf(s->o->ctx, ev->seq, ev->leaf, body != NULL, what);
        if (c != 0)
            return vfail(
                s,
                c > 0 && c < LDG_SEGCHK_COUNT ? (enum ldg_segment_check)c
                                              : LDG_SEGCHK_TREE,
                ev->seq, "%s", what[0] ? what : "refused by the caller");
    }
    if (s->check)
        tree_push(s, ev->leaf, 0);
    memcpy(s->prev, ev->leaf, 32);
    s->last_ts = ev->ts_ns;
    s->ts_known = 1;
    s->next_seq++;
    return 0;
}

/* A proven event's seal by a key anchored before it: its epoch part,
 * whole (FORMAT.md 11.5), checked from the anchor alone, and the event
 * dated at or after its epoch's start. */
static int
proven_epoch(struct sv *s, const struct ldg_event *ev, const struct skey *k,
             const struct ldg_seal *seal)
{
    uint32_t p, j;
    uint64_t start;
    char err[512];

    if (!k->anchored || k->anchored - 1 >= ev->seal_seq) {
        int rc = pinned_unanchored(s, ev, ev->seal_seq, k, seal->ext != NULL);
        if (rc < 0 || seal->ext == NULL)
            return rc;
        if (s->r->info.horizon_seq > 0) {
            s->r->info.epochs_unchecked++;
            return 0;
        }
        return vfail(s, LDG_SEGCHK_SEALS, ev->seq,
                     "its seal carries an epoch, but the segment carries no "
                     "key.anchored of key %s before it",
                     k->id);
    }
    if (seal->ext == NULL)
        return vfail(s, LDG_SEGCHK_SEALS, ev->seq,
                     "its seal by key %s carries no epoch, but the key seals "
                     "with epoch keys since its anchor at event %" PRIu64
                     " (re-signed with the key alone?)",
                     k->id, k->anchored - 1);
    if (ldg_epoch_seal_check(k->ep->par.anchor, k->ep->par.t0_ns,
                             k->ep->par.len_ns, seal, &p, &j, &start, err,
                             sizeof err) < 0)
        return vfail(s, LDG_SEGCHK_SEALS, ev->seq, "its seal by key %s: %s",
                     k->id, err);
    if (ev->ts_ns < start)
        return vfail(s, LDG_SEGCHK_SEALS, ev->seq,
                     "its time %" PRIu64 " ns is before the start (%" PRIu64
                     " ns) of epoch %" PRIu32 ".%" PRIu32 " of key %s, which "
                     "sealed it (the past re-signed?)",
                     ev->ts_ns, start, p, j, k->id);
    s->r->info.epoch_seals++;
    return 0;
}

/* A PROVEN record: an event outside the range with its inclusion path in
 * the checkpoint's tree (and, format 2, its seal and path in it). */
static int
proven_event(struct sv *s, const uint8_t *p, size_t n, int after,
             struct ldg_event *ev, struct ldg_segment_event *se)
{
    static const char *const pkeys[5] = {"body", "entry", "path", "seal",
                                         "sealpath"};
    struct rd r = {p, p + n};
    const uint8_t *f[5] = {0};
    size_t fl[5] = {0};
    unsigned m;
    struct skey *k = NULL;
    uint8_t path[LDG_PROOF_MAX][32];
    int rc;

    if (r_map(&r, &m) < 0 || m != (s->h.format >= 2 ? 5u : 3u))
        return vfail(s, LDG_SEGCHK_CONTAINER, UINT64_MAX,
                     "a proven event's record does not decode");
    for (unsigned i = 0; i < m; i++) {
        uint8_t c;
        uint64_t len;
        if (r_key(&r, pkeys, (int)m, (int)i) != (int)i || r.p >= r.end)
            return vfail(s, LDG_SEGCHK_CONTAINER, UINT64_MAX,
                         "a proven event's record does not decode");
        c = *r.p;
        if (c == 0xc4 && r.end - r.p >= 2) {
            len = r.p[1];
            r.p += 2;
        } else if (c == 0xc5 && r.end - r.p >= 3) {
            len = ldg_rd_be16(r.p + 1);
            r.p += 3;
            if (len < 256)
                len = UINT64_MAX;
        } else if (c == 0xc6 && r.end - r.p >= 5) {
            len = ldg_rd_be32(r.p + 1);
            r.p += 5;
            if (len < 65536)
                len = UINT64_MAX;
        } else {
            len = UINT64_MAX;
        }
        if (len > (uint64_t)(r.end - r.p))
            return vfail(s, LDG_SEGCHK_CONTAINER, UINT64_MAX,
                         "a proven event's record does not decode");
        f[i] = r.p;
        fl[i] = (size_t)len;
        r.p += len;
    }
    if (r.p != r.end || fl[2] % 32 != 0 || fl[2] / 32 > LDG_PROOF_MAX ||
        (m == 5 && (fl[4] % 32 != 0 || fl[4] / 32 > LDG_PROOF_MAX)))
        return vfail(s, LDG_SEGCHK_CONTAINER, UINT64_MAX,
                     "a proven event's record does not decode");
    if (ldg_event_decode(f[1], fl[1], ev) < 0)
        return vfail(s, LDG_SEGCHK_CHAIN, UINT64_MAX,
                     "an entry the segment carries outside its range does "
                     "not decode");
    se->body = f[0];
    se->body_len = fl[0];
    if ((rc = body_kind(s, ev->seq, f[0], fl[0])) != 0)
        return rc;
    if ((after && ev->seq < s->h.end) || (!after && ev->seq >= s->h.first) ||
        (s->last_proven != UINT64_MAX && ev->seq <= s->last_proven) ||
        ev->seq >= s->n)
        return vfail(s, LDG_SEGCHK_CONTAINER, ev->seq,
                     "a proven event out of its place (before the range, "
                     "after it, in increasing seq, within the checkpoint)");
    s->last_proven = ev->seq;
    if (!needs_body(ev->type))
        return vfail(s, LDG_SEGCHK_CONTAINER, ev->seq,
                     "a %s carried outside the range: only the genesis, key "
                     "events and erasures are",
                     ev->type);
    if (!s->check) {
        if (after)
            s->r->info.after++;
        else
            s->r->info.prior++;
        return 0;
    }
    memcpy(path, f[2], fl[2]);
    if (ldg_tlog_verify_inclusion(ev->leaf, ev->seq, s->n,
                                  (const uint8_t(*)[32])path, fl[2] / 32,
                                  s->root) != 0)
        return vfail(s, LDG_SEGCHK_TREE, ev->seq,
                     "its inclusion path does not lead to the checkpoint's "
                     "root (size %" PRIu64 ")",
                     s->n);
    if (strcmp(ev->type, LDG_EV_LEDGER_GENESIS) == 0) {
        /* the log key, from the genesis (its body checked below) */
        struct skey *lk = key_find(s, s->log_id);
        if (lk == NULL && (lk = key_add(s, s->log_id, s->h.key, 0)) == NULL)
            return LDG_ENOMEM;
        snprintf(lk->name, sizeof lk->name, "%s", LDG_LOG_KEY_NAME);
    }
    if ((rc = check_key(s, ev, &k)) != 0)
        return rc;
    if (ev->sealed) {
        struct ldg_seal seal;
        uint8_t d[32];
        if (ldg_seal_record_decode(f[3], fl[3], &seal) < 0)
            return vfail(s, LDG_SEGCHK_SEALS, ev->seq,
                         "its seal record does not decode");
        if (strcmp(seal.key_id, ev->actor) != 0 ||
            strcmp(seal.origin, s->h.origin) != 0 ||
            ev->seal_leaf >= seal.count)
            return vfail(s, LDG_SEGCHK_SEALS, ev->seq,
                         "its seal (at %" PRIu64 ") is not its key's of "
                         "this log, or has no leaf %" PRIu64,
                         ev->seal_seq, ev->seal_leaf);
        memcpy(path, f[4], fl[4]);
        ldg_claim_digest(d, ev->signed_part, ev->signed_len);
        if (memcmp(d, ev->digest, 32) != 0)
            return vfail(s, LDG_SEGCHK_SEALS, ev->seq,
                         "claim digest does not match its stamp");
        if (ldg_seal_verify_inclusion(d, ev->seal_leaf, seal.count,
                                      (const uint8_t(*)[32])path, fl[4] / 32,
                                      seal.root) != 0)
            return vfail(s, LDG_SEGCHK_SEALS, ev->seq,
                         "its claim is not in seal %" PRIu64, ev->seal_seq);
        if (fl[3] != s->proven_seal_len ||
            memcmp(f[3], s->proven_seal_rec, fl[3]) != 0 ||
            memcmp(k->pub, s->proven_seal_pub, 32) != 0) {
            if (ldg_seal_verify(&seal, k->pub) != 0)
                return vfail(s, LDG_SEGCHK_SEALS, ev->seq,
                             "seal %" PRIu64 " does not verify with key %s",
                             ev->seal_seq, k->id);
            s->r->info.seal_checks++;
            memcpy(s->proven_seal_rec, f[3], fl[3]);
            s->proven_seal_len = fl[3];
            memcpy(s->proven_seal_pub, k->pub, 32);
        }
        if ((rc = proven_epoch(s, ev, k, &seal)) != 0)
            return rc;
    } else if (ldg_event_verify_sig(ev, k->pub) != 0) {
        return vfail(s, LDG_SEGCHK_SEALS, ev->seq,
                     "signature does not verify with key %s", ev->actor);
    }
    {
        uint8_t root[32];
        if (ldg_body_rec_root(NULL, f[0], fl[0], s->body_max, root) < 0 ||
            memcmp(root, ev->body_root, 32) != 0)
            return vfail(s, LDG_SEGCHK_BODIES, ev->seq,
                         "body does not match its commitment in the entry");
    }
    if ((rc = apply_body(s, ev, f[0], fl[0])) != 0)
        return rc;
    if (after)
        s->r->info.after++;
    else
        s->r->info.prior++;
    return 0;
}

/* The earlier prune's record: the keys as they stood at its horizon
 * (with their sealed counts when it is this segment's first event), and
 * where the chain goes on from. */
static int
take_horizon(struct sv *s, const uint8_t *p, size_t n)
{
    struct ldg_horizon hz;
    int rc;

    if (ldg_horizon_parse(p, n, &hz) < 0)
        return vfail(s, LDG_SEGCHK_HORIZON, UINT64_MAX,
                     "the horizon record it carries does not decode");
    rc = 0;
    if (s->check && ldg_horizon_check_sig(&hz, s->pub) != 0)
        rc = vfail(s, LDG_SEGCHK_HORIZON, UINT64_MAX,
                   "the horizon record's signature does not verify with the "
                   "log key");
    else if (strcmp(hz.origin, s->h.origin) != 0)
        rc = vfail(s, LDG_SEGCHK_HORIZON, UINT64_MAX,
                   "the horizon record names another log (%s)", hz.origin);
    else if (hz.seq > s->h.first)
        rc = vfail(s, LDG_SEGCHK_HORIZON, UINT64_MAX,
                   "the horizon record is at %" PRIu64
                   ", after the segment's first event %" PRIu64,
                   hz.seq, s->h.first);
    for (size_t i = 0; rc == 0 && i < hz.nkeys; i++) {
        const struct ldg_horizon_key *hk = &hz.keys[i];
        struct skey *k;
        if (hk->added >= hz.seq || key_find(s, hk->key_id) != NULL) {
            rc = vfail(s, LDG_SEGCHK_HORIZON, UINT64_MAX,
                       "the horizon record lists key %s twice, or as added "
                       "after its horizon",
                       hk->key_id);
            break;
        }
        if ((k = key_add(s, hk->key_id, hk->pub, hk->added)) == NULL) {
            rc = LDG_ENOMEM;
            break;
        }
        snprintf(k->name, sizeof k->name, "%s", hk->name);
        k->revoked = hk->revoked;
        k->roles = ldg_horizon_roles_mask(hk->roles);
        k->sealed = hk->sealed;
        k->sealed_known = hz.seq == s->h.first;
        if (hk->added == 0 && memcmp(hk->pub, s->h.key, 32) != 0)
            rc = vfail(s, LDG_SEGCHK_HORIZON, UINT64_MAX,
                       "the horizon record's log key is not the segment's");
    }
    if (rc == 0 && hz.seq == s->h.first) {
        /* the chain goes on from the record's last leaf and time */
        memcpy(s->prev, hz.leaf, 32);
        s->last_ts = hz.ts_ns;
        s->ts_known = 1;
    }
    if (rc == 0) {
        s->r->info.horizon_seq = hz.seq;
        free(s->r->info.horizon);
        if ((s->r->info.horizon = malloc(n)) == NULL)
            rc = LDG_ENOMEM;
        else {
            memcpy(s->r->info.horizon, p, n);
            s->r->info.horizon_len = n;
        }
    }
    ldg_horizon_release(&hz);
    return rc;
}

static int
take_edge(struct sv *s, const uint8_t *p, size_t n, int have_hz, uint64_t hzseq)
{
    size_t want = 0;
    uint64_t f = s->h.first;
    int i = 0;

    for (int b = 0; b < 64; b++)
        want += f >> b & 1;
    if (n != (f ? 32 * (want + 1) : 0))
        return vfail(s, LDG_SEGCHK_CONTAINER, UINT64_MAX,
                     "its left edge holds %zu bytes, not the %zu of %zu "
                     "hashes and the leaf before its first event",
                     n, f ? 32 * (want + 1) : 0, want);
    if (f == 0)
        return 0;
    if (have_hz && hzseq == f && memcmp(p, s->prev, 32) != 0)
        return vfail(s, LDG_SEGCHK_HORIZON, UINT64_MAX,
                     "the leaf before its first event is not the one the "
                     "horizon record names");
    LDG_ASSERT(s->fn == 0);
    memcpy(s->prev, p, 32);
    for (int b = 63; b >= 0; b--)
        if (f >> b & 1)
            tree_push(s, p + 32 * (1 + i++), b);
    return 0;
}

/* The checkpoint: the log key's, this origin, a size at or after end. */
static int
take_checkpoint(struct sv *s, const uint8_t *p, size_t n)
{
    char origin[LDG_ORIGIN_MAX + 1];
    size_t tl;
    int rc;

    if ((s->r->info.checkpoint = malloc(n + 1)) == NULL)
        return LDG_ENOMEM;
    memcpy(s->r->info.checkpoint, p, n);
    s->r->info.checkpoint[n] = '\0';
    s->r->info.checkpoint_len = n;
    tl = 0;
    rc = ldg_note_verify((const char *)p, n, s->h.origin, s->pub, &tl);
    if (rc == LDG_EBADSIG && s->check)
        return vfail(s, LDG_SEGCHK_CHECKPOINT, UINT64_MAX,
                     "its checkpoint is not signed by the log key");
    if (rc == LDG_EBADSIG) {
        /* (read, not checked: the text is up to the blank line) */
        const uint8_t *blank = n > 1 ? memmem(p, n, "\n\n", 2) : NULL;
        if (blank == NULL)
            return vfail(s, LDG_SEGCHK_CHECKPOINT, UINT64_MAX,
                         "its checkpoint is not a signed note");
        tl = (size_t)(blank - p) + 1;
        rc = 0;
    }
    if ((rc < 0 && rc != LDG_EBADSIG) ||
        ldg_checkpoint_parse((const char *)p, tl, origin, sizeof origin, &s->n,
                             s->root) < 0)
        return vfail(s, LDG_SEGCHK_CHECKPOINT, UINT64_MAX,
                     "its checkpoint is not a signed checkpoint note");
    if (strcmp(origin, s->h.origin) != 0)
        return vfail(s, LDG_SEGCHK_CHECKPOINT, UINT64_MAX,
                     "its checkpoint is of another log (%s)", origin);
    if (s->n < s->h.end)
        return vfail(s, LDG_SEGCHK_CHECKPOINT, UINT64_MAX,
                     "its checkpoint is of size %" PRIu64
                     ", before the end of its events (%" PRIu64 ")",
                     s->n, s->h.end);
    s->r->info.checkpoint_size = s->n;
    memcpy(s->r->info.root, s->root, 32);
    return 0;
}

/* The state: a JSON object whose "size" is end (a decimal string). */
static int
check_state_json(struct sv *s, const uint8_t *p, size_t n)
{
    json_t *j = json_loadb((const char *)p, n, JSON_REJECT_DUPLICATES, NULL);
    const char *size = json_string_value(json_object_get(j, "size"));
    char want[24];
    int ok;
    snprintf(want, sizeof want, "%" PRIu64, s->h.end);
    ok = json_is_object(j) && size != NULL && strcmp(size, want) == 0;
    json_decref(j);
    return ok ? 0
              : vfail(s, LDG_SEGCHK_STATE, UINT64_MAX,
                      "its state is not a JSON object of the state at size "
                      "%" PRIu64,
                      s->h.end);
}

/* The state's note: the log key's, for this origin and size end. */
static int
take_state_note(struct sv *s, const uint8_t *p, size_t n)
{
    char want[LDG_ORIGIN_MAX + 80];
    size_t tl;

    if (s->o->keep_state) {
        if ((s->r->info.state_note = malloc(n + 1)) == NULL)
            return LDG_ENOMEM;
        memcpy(s->r->info.state_note, p, n);
        s->r->info.state_note[n] = '\0';
        s->r->info.state_note_len = n;
    }
    if (!s->check)
        return 0;
    if (ldg_note_verify((const char *)p, n, s->h.origin, s->pub, &tl) != 0)
        return vfail(s, LDG_SEGCHK_STATE, UINT64_MAX,
                     "the state's note is not signed by the log key");
    snprintf(want, sizeof want,
             "ledger-projections/v1\norigin %s\nsize %" PRIu64 "\n",
             s->h.origin, s->h.end);
    if (tl < strlen(want) || memcmp(p, want, strlen(want)) != 0)
        return vfail(s, LDG_SEGCHK_STATE, UINT64_MAX,
                     "the state's note is not a projection note of this log "
                     "at size %" PRIu64,
                     s->h.end);
    return 0;
}

static int
take_trailer(struct sv *s, const uint8_t *p, size_t n)
{
    char want[2 * LDG_ORIGIN_MAX + 200];
    size_t tl;

    if (!s->check)
        return 0;
    if (ldg_note_verify((const char *)p, n, s->h.origin, s->pub, &tl) != 0)
        return vfail(s, LDG_SEGCHK_TRAILER, UINT64_MAX,
                     "its trailer is not signed by the log key");
    trailer_text(want, sizeof want, s->h.origin, s->h.first, s->h.end, s->n,
                 s->r->info.has_state ? s->r->info.state_sha256 : NULL);
    if (tl != strlen(want) || memcmp(p, want, tl) != 0)
        return vfail(s, LDG_SEGCHK_TRAILER, UINT64_MAX,
                     "its signed trailer states another range, checkpoint "
                     "or state than the segment holds (it holds events "
                     "%" PRIu64 "..%" PRIu64 ", checkpoint %" PRIu64 ", %s)",
                     s->h.first, s->h.end - 1, s->n,
                     s->r->info.has_state ? "a state" : "no state");
    return 0;
}

/* The stages a stream goes through, in order. */
enum stage {
    S_HEADER,
    S_HORIZON, /* HORIZON? EDGE */
    S_CHECKPOINT,
    S_CONSISTENCY,
    S_PRIOR, /* PROVEN* before the range */
    S_RANGE, /* SEAL? ENTRY BODY|ERASED, each event */
    S_BODY,
    S_AFTER, /* PROVEN* after, STATE?, STATE_NOTE?, TRAILER */
    S_NOTE,
    S_TRAILER, /* (after the state's note) */
    S_DONE
};

static const char *
kind_name(uint8_t k)
{
    static const char *const n[] = {
        "?",           "header", "horizon",    "edge",   "checkpoint",
        "consistency", "proven", "seal",       "entry",  "body",
        "erased",      "state",  "state note", "trailer"};
    return k < sizeof n / sizeof n[0] ? n[k] : "unknown";
}

static int check_tree(struct sv *s);

/* A record of a kind, order or count FORMAT.md 11.1 does not allow, named
 * with its offset in the stream (the magic is bytes 0..17). */
static int
misplaced(struct sv *s, const struct segr *rd, uint8_t kind, uint64_t seq,
          const char *where)
{
    if (kind < K_HEADER || kind > K_TRAILER)
        return vfail(s, LDG_SEGCHK_CONTAINER, seq,
                     "a record of no kind FORMAT.md 11.1 names (0x%02x) at "
                     "byte %" PRIu64 " of the stream, %s",
                     kind, rd->rec_at, where);
    return vfail(s, LDG_SEGCHK_CONTAINER, seq,
                 "a %s record (kind 0x%02x) at byte %" PRIu64
                 " of the stream, %s",
                 kind_name(kind), kind, rd->rec_at, where);
}

static int
run(struct sv *s, struct segr *rd)
{
    struct ldg_event ev;
    struct ldg_segment_event se;
    uint8_t kind = 0, magic[LDG_SEGMENT_MAGIC_LEN];
    const uint8_t *p = NULL;
    size_t n = 0;
    enum stage st = S_HEADER;
    int rc, have_hz = 0;
    uint64_t hzseq = 0;

    memset(&se, 0, sizeof se);
    se.ev = &ev;
    rc = sr_read(rd, magic, sizeof magic);
    if (rc != 0 || memcmp(magic, LDG_SEGMENT_MAGIC, sizeof magic) != 0) {
        if (rc == 1)
            return vfail(s, LDG_SEGCHK_CONTAINER, UINT64_MAX,
                         "not a segment: its stream is empty");
        if (rc < 0 && rc != LDG_EBADINPUT)
            return vfail(s, LDG_SEGCHK_CONTAINER, UINT64_MAX, "%s", rd->err),
                   rc;
        if (rc != 0 && strncmp(rd->err, "not zstd", 8) != 0)
            return vfail(s, LDG_SEGCHK_CONTAINER, UINT64_MAX, "%s", rd->err);
        return vfail(s, LDG_SEGCHK_CONTAINER, UINT64_MAX, "not a segment: %s",
                     rc != 0 ? rd->err
                             : "its stream does not begin with "
                               "\"ledger.segment/v1\"");
    }
    for (;;) {
        uint64_t cap;
        rc = sr_record(rd, &kind, &p, &n);
        if (rc == 1) {
            if (st != S_DONE)
                return vfail(s, LDG_SEGCHK_CONTAINER, UINT64_MAX,
                             "the segment ends before its %s (truncated)",
                             st <= S_BODY ? "events and trailer" : "trailer");
            break;
        }
        if (rc < 0) {
            int code = rc;
            vfail(s, LDG_SEGCHK_CONTAINER, UINT64_MAX, "%s", rd->err);
            return code;
        }
        /* each kind's own bound, before the record is used */
        cap =
            kind == K_HEADER ? HEADER_MAX
            : kind == K_EDGE ? EDGE_MAX
            : kind == K_CHECKPOINT || kind == K_STATE_NOTE || kind == K_TRAILER
                ? NOTE_MAX
            : kind == K_CONSISTENCY ? 32 * LDG_PROOF_MAX
            : kind == K_SEAL        ? LDG_SEAL_REC_MAX
            : kind == K_ENTRY       ? LDG_ENTRY_MAX
                                    : UINT64_MAX;
        if (n > cap)
            return vfail(s, LDG_SEGCHK_CONTAINER, UINT64_MAX,
                         "a %s record of %zu bytes at byte %" PRIu64
                         " of the stream: more than one may have",
                         kind_name(kind), n, rd->rec_at);
        switch (st) {
        case S_HEADER:
            if (kind != K_HEADER || hdr_decode(p, n, &s->h) < 0)
                return vfail(s, LDG_SEGCHK_HEADER, UINT64_MAX,
                             "its header record does not decode");
            if (s->h.codec != CODEC_V1 || s->h.format < 1 || s->h.format > 2) {
                vfail(s, LDG_SEGCHK_HEADER, UINT64_MAX,
                      "codec %" PRIu64 " of format %" PRIu64
                      ": this build reads codec 1 of formats 1 and 2",
                      s->h.codec, s->h.format);
                return LDG_EVERSION;
            }
            if (s->h.end <= s->h.first)
                return vfail(s, LDG_SEGCHK_HEADER, UINT64_MAX,
                             "its header's range is empty (first %" PRIu64
                             ", end %" PRIu64 ")",
                             s->h.first, s->h.end);
            s->r->readable = 1;
            s->r->info.format = (int)s->h.format;
            s->r->info.codec = (int)s->h.codec;
            snprintf(s->r->info.origin, sizeof s->r->info.origin, "%s",
                     s->h.origin);
            memcpy(s->r->info.log_pub, s->h.key, 32);
            s->r->info.first = s->h.first;
            s->r->info.end = s->h.end;
            s->r->info.events = s->h.end - s->h.first;
            s->next_seq = s->h.first;
            ldg_key_id(s->log_id, s->h.key);
            if (s->o->trusted_vkey != NULL) {
                char name[LDG_ORIGIN_MAX + 1];
                if (ldg_note_parse_verifier(s->o->trusted_vkey, name,
                                            sizeof name, s->pub) < 0)
                    return vfail(s, LDG_SEGCHK_LOG_KEY, UINT64_MAX,
                                 "the trusted key is not a verifier key");
                if (strcmp(name, s->h.origin) != 0 ||
                    memcmp(s->pub, s->h.key, 32) != 0)
                    return vfail(s, LDG_SEGCHK_LOG_KEY, UINT64_MAX,
                                 "the segment is of the log %s, with another "
                                 "key or origin than the trusted key's (%s): "
                                 "another ledger's",
                                 s->h.origin, name);
            } else {
                memcpy(s->pub, s->h.key, 32);
            }
            st = S_HORIZON;
            break;
        case S_HORIZON:
            if (kind == K_HORIZON && !have_hz) {
                if ((rc = take_horizon(s, p, n)) != 0)
                    return rc;
                have_hz = 1;
                hzseq = s->r->info.horizon_seq;
                break;
            }
            if (kind != K_EDGE)
                return misplaced(s, rd, kind, UINT64_MAX,
                                 kind == K_HORIZON
                                     ? "a second one (at most one is allowed)"
                                     : "where its left edge belongs");
            if ((rc = take_edge(s, p, n, have_hz, hzseq)) != 0)
                return rc;
            st = S_CHECKPOINT;
            break;
        case S_CHECKPOINT:
            if (kind != K_CHECKPOINT)
                return misplaced(s, rd, kind, UINT64_MAX,
                                 "where its checkpoint belongs");
            if ((rc = take_checkpoint(s, p, n)) != 0)
                return rc;
            st = s->n > s->h.end ? S_CONSISTENCY : S_PRIOR;
            s->last_proven = UINT64_MAX;
            break;
        case S_CONSISTENCY:
            if (kind != K_CONSISTENCY)
                return vfail(s, LDG_SEGCHK_TREE, UINT64_MAX,
                             "its checkpoint is of size %" PRIu64
                             ", after its last event %" PRIu64
                             ", and no consistency proof from %" PRIu64
                             " to it follows (a %s record instead)",
                             s->n, s->h.end - 1, s->h.end, kind_name(kind));
            if (n % 32 != 0)
                return vfail(s, LDG_SEGCHK_CONTAINER, UINT64_MAX,
                             "its consistency proof is not 32-byte hashes");
            memcpy(s->cproof, p, n);
            s->ncproof = n / 32;
            st = S_PRIOR;
            break;
        case S_PRIOR:
            if (kind == K_PROVEN) {
                if ((rc = proven_event(s, p, n, 0, &ev, &se)) != 0)
                    return rc;
                se.where = LDG_SEGMENT_PRIOR;
                if (s->o->event && (rc = s->o->event(s->o->ctx, &se)) != 0)
                    return rc;
                break;
            }
            st = S_RANGE;
            /* fall through */
        case S_RANGE:
            if (kind == K_SEAL && s->h.format >= 2 && !s->have_seal) {
                if (ldg_seal_record_decode(p, n, &s->pend) < 0)
                    return vfail(s, LDG_SEGCHK_SEALS, s->next_seq,
                                 "its seal record does not decode");
                if (s->pend.ext != NULL) { /* p is the reader's buffer */
                    memcpy(s->pend_ext, s->pend.ext, s->pend.ext_len);
                    s->pend.ext = s->pend_ext;
                }
                s->have_seal = 1;
                s->r->info.seals++;
                break;
            }
            if (kind != K_ENTRY)
                return misplaced(s, rd, kind, s->next_seq,
                                 kind == K_SEAL && s->h.format >= 2
                                     ? "a second seal record before its entry"
                                     : "where its entry belongs");
            if (entry_unpack((int)s->h.format, p, n, s->prev, s->entry, &n) <
                    0 ||
                ldg_event_decode(s->entry, n, &ev) < 0)
                return vfail(s, LDG_SEGCHK_CHAIN, s->next_seq,
                             "its entry does not decode");
            st = S_BODY;
            break;
        case S_BODY:
            if (kind != K_BODY && kind != K_ERASED)
                return misplaced(s, rd, kind, s->next_seq,
                                 "where its body belongs");
            if (kind == K_ERASED && n != 0)
                return vfail(s, LDG_SEGCHK_CONTAINER, s->next_seq,
                             "an erased body's record is not empty");
            if (kind == K_BODY && (rc = body_kind(s, ev.seq, p, n)) != 0)
                return rc;
            if ((rc = range_event(s, &ev, kind == K_BODY ? p : NULL,
                                  kind == K_BODY ? n : 0)) != 0)
                return rc;
            se.where = LDG_SEGMENT_RANGE;
            se.body = kind == K_BODY ? p : NULL;
            se.body_len = kind == K_BODY ? n : 0;
            if (s->o->event && (rc = s->o->event(s->o->ctx, &se)) != 0)
                return rc;
            if (s->o->progress != NULL &&
                ((s->next_seq - s->h.first) & 0xffff) == 0)
                s->o->progress(s->o->progress_ctx, s->next_seq - s->h.first,
                               s->h.end - s->h.first);
            if (s->next_seq == s->h.end) {
                if (s->have_seal)
                    return vfail(s, LDG_SEGCHK_SEALS, UINT64_MAX,
                                 "a seal record after its last event");
                if (s->check && (rc = check_tree(s)) != 0)
                    return rc;
                st = S_AFTER;
                s->last_proven = UINT64_MAX;
            } else {
                st = S_RANGE;
            }
            break;
        case S_AFTER:
            if (kind == K_PROVEN) {
                if ((rc = proven_event(s, p, n, 1, &ev, &se)) != 0)
                    return rc;
                se.where = LDG_SEGMENT_AFTER;
                if (s->o->event && (rc = s->o->event(s->o->ctx, &se)) != 0)
                    return rc;
                break;
            }
            if (kind == K_STATE) {
                s->r->info.has_state = 1;
                ldg_sha256(s->r->info.state_sha256, p, n);
                if (s->check && (rc = check_state_json(s, p, n)) != 0)
                    return rc;
                if (s->o->keep_state) {
                    if ((s->r->info.state = malloc(n + 1)) == NULL)
                        return LDG_ENOMEM;
                    memcpy(s->r->info.state, p, n);
                    s->r->info.state[n] = '\0';
                    s->r->info.state_len = n;
                }
                st = S_NOTE;
                break;
            }
            /* fall through */
        case S_TRAILER:
            if (kind != K_TRAILER)
                return misplaced(
                    s, rd, kind, UINT64_MAX,
                    st == S_TRAILER
                        ? "after the state's note, where only the trailer "
                          "may follow (at most one state, with its note)"
                        : "after its events, where a proven event, the state "
                          "or the trailer belong");
            if ((rc = take_trailer(s, p, n)) != 0)
                return rc;
            st = S_DONE;
            break;
        case S_NOTE:
            if (kind != K_STATE_NOTE)
                return misplaced(s, rd, kind, UINT64_MAX,
                                 "where the state's note belongs (right "
                                 "after the state)");
            if ((rc = take_state_note(s, p, n)) != 0)
                return rc;
            st = S_TRAILER;
            break;
        case S_DONE:
            return misplaced(s, rd, kind, UINT64_MAX, "after its trailer");
        }
    }
    s->r->info.file_bytes = rd->file_bytes;
    s->r->info.raw_bytes = rd->raw_bytes;
    ldg_sha256_final(&rd->sha, s->r->info.sha256);
    if (!s->check)
        return 0;
    /* what one pass can say only at the end */
    for (size_t i = 0; i < s->nseals; i++)
        if (s->seals[i].key >= 0)
            return vfail(s, LDG_SEGCHK_SEALS, s->seals[i].seal_seq,
                         "its seal covers %" PRIu64
                         " events; the segment holds %" PRIu64 " of them",
                         s->seals[i].seal.count, s->seals[i].next);
    for (size_t i = 0; i < s->nerased; i++)
        if (!s->named[i])
            return vfail(s, LDG_SEGCHK_ERASURES, s->erased[i],
                         "its body is missing and no body.erased the segment "
                         "carries names it");
    s->r->ok = 1;
    return 0;
}

/* At the range's end: its leaves with the left edge give the root of the
 * tree of size end: the checkpoint's, or one its consistency proof takes
 * to the checkpoint's. */
static int
check_tree(struct sv *s)
{
    {
        uint8_t root[32];
        tree_root(s, root);
        if (s->n == s->h.end && memcmp(root, s->root, 32) != 0)
            return vfail(s, LDG_SEGCHK_TREE, UINT64_MAX,
                         "its events %" PRIu64 "..%" PRIu64
                         " with its left edge do not give the root of its "
                         "checkpoint of size %" PRIu64
                         " (an entry, the edge or the checkpoint was changed)",
                         s->h.first, s->h.end - 1, s->n);
        if (s->n > s->h.end &&
            ldg_tlog_verify_consistency(s->h.end, s->n, root, s->root,
                                        (const uint8_t(*)[32])s->cproof,
                                        s->ncproof) != 0)
            return vfail(s, LDG_SEGCHK_TREE, UINT64_MAX,
                         "its events %" PRIu64 "..%" PRIu64
                         " with its left edge give a root of size %" PRIu64
                         " that its consistency proof does not take to its "
                         "checkpoint of size %" PRIu64,
                         s->h.first, s->h.end - 1, s->h.end, s->n);
    }
    return 0;
}

static int
verify_common(int fd, const void *mem, size_t len,
              const struct ldg_segment_verify_opts *o,
              struct ldg_segment_result *r, int check)
{
    static const struct ldg_segment_verify_opts none;
    struct segr rd;
    struct sv *s;
    int rc;

    if (r == NULL)
        return LDG_EINVAL;
    memset(r, 0, sizeof *r);
    r->bad_seq = UINT64_MAX;
    if (o == NULL)
        o = &none;
    if ((s = calloc(1, sizeof *s)) == NULL)
        return LDG_ENOMEM;
    s->o = o;
    s->r = r;
    s->check = check;
    s->body_max = o->record_max ? o->record_max : LDG_SEGMENT_RECORD_MAX;
    /* a second core for the bodies (verifying, with one to spare) */
    if (check && sysconf(_SC_NPROCESSORS_ONLN) > 1 &&
        (s->bw = calloc(1, sizeof *s->bw)) != NULL &&
        bworker_start(s->bw, s->body_max) < 0) {
        bworker_free(s->bw);
        free(s->bw);
        s->bw = NULL;
    }
    if ((rc = sr_open(&rd, fd, mem, len, o)) == 0)
        rc = run(s, &rd);
    else
        vfail(s, LDG_SEGCHK_CONTAINER, UINT64_MAX, "%s", ldg_strerror(rc));
    if (s->bw != NULL) {
        /* the worker's finding, when it is the first in seq order */
        bworker_finish(s->bw);
        if (s->bw->bad_seq != UINT64_MAX &&
            (rc == 0 || r->bad_seq == UINT64_MAX ||
             s->bw->bad_seq < r->bad_seq) &&
            rc != LDG_ENOMEM && rc != LDG_EIO) {
            int k = snprintf(r->what, sizeof r->what, "event %" PRIu64 ": %s",
                             s->bw->bad_seq, s->bw->what);
            (void)k;
            r->ok = 0;
            r->failed = LDG_SEGCHK_BODIES;
            r->bad_seq = s->bw->bad_seq;
            rc = LDG_ETAMPER;
        }
        bworker_free(s->bw);
        free(s->bw);
    }
    if (rc == 0 && check && !r->ok)
        rc = LDG_ETAMPER;
    sr_close(&rd);
    for (size_t i = 0; i < s->nkeys; i++)
        free(s->keys[i].ep);
    free(s->keys);
    free(s->seals);
    free(s->erased);
    free(s->named);
    free(s);
    return rc;
}

int
ldg_segment_verify_fd(int fd, const struct ldg_segment_verify_opts *o,
                      struct ldg_segment_result *r)
{
    if (fd < 0)
        return LDG_EINVAL;
    return verify_common(fd, NULL, 0, o, r, 1);
}

int
ldg_segment_verify_mem(const void *p, size_t n,
                       const struct ldg_segment_verify_opts *o,
                       struct ldg_segment_result *r)
{
    if (p == NULL && n > 0)
        return LDG_EINVAL;
    return verify_common(-1, p ? p : "", n, o, r, 1);
}

int
ldg_segment_read_fd(int fd, const struct ldg_segment_verify_opts *o,
                    struct ldg_segment_info *info)
{
    struct ldg_segment_result r;
    int rc;
    if (fd < 0 || info == NULL)
        return LDG_EINVAL;
    rc = verify_common(fd, NULL, 0, o, &r, 0);
    *info = r.info;
    if (rc < 0 && r.what[0] == '\0')
        snprintf(r.what, sizeof r.what, "%s", ldg_strerror(rc));
    return rc;
}

/* ------------------------------------------- checking against a ledger -- */

struct against {
    struct ldg_txn *t;
    uint64_t kept; /* the ledger's first kept event (its horizon) */
    uint64_t tile; /* the level-0 tile cached, UINT64_MAX: none */
    uint8_t hashes[LDG_TILE_BYTES];
    struct ldg_cursor *bodies;
    int bodies_ok;
    struct ldg_val bk, bv;
    const struct ldg_segment_verify_opts *user;
};

static int
against_leaf(void *ctx, uint64_t seq, const uint8_t leaf[32], int has_body,
             char *what)
{
    struct against *a = ctx;
    uint8_t stored[32];
    const uint8_t *h = NULL;
    int rc;

    if (seq / LDG_TILE_WIDTH != a->tile) {
        if ((seq / LDG_TILE_WIDTH & 0x3f) == 0) /* (every 16,384) */
            ldg_access_hint(ldg_txn_ledger(a->t), LDG_ACCESS_RELEASE);
        rc = ldg_tree_tile_get(a->t, 0, seq / LDG_TILE_WIDTH, a->hashes);
        a->tile = rc == 0 ? seq / LDG_TILE_WIDTH : UINT64_MAX;
    }
    if (a->tile == seq / LDG_TILE_WIDTH) {
        h = a->hashes + 32 * (seq % LDG_TILE_WIDTH);
    } else if ((rc = ldg_tree_stored_hash(a->t, 0, seq, stored)) == 0) {
        h = stored;
    } else {
        snprintf(what, 400,
                 "the ledger has no stored leaf hash for it (%s): is the "
                 "segment this ledger's?",
                 ldg_strerror(rc));
        return LDG_SEGCHK_TREE;
    }
    if (memcmp(h, leaf, 32) != 0) {
        snprintf(what, 400,
                 "its entry is not the one this ledger's tree holds (another "
                 "ledger's segment, or one changed since it was written)");
        return LDG_SEGCHK_TREE;
    }
    if (seq >= a->kept) {
        /* the body: held by the segment exactly when the ledger holds it */
        int held;
        while (a->bodies_ok && a->bk.len == 8 && ldg_rd_be64(a->bk.data) < seq)
            a->bodies_ok = ldg_cursor_get(a->bodies, LDG_NEXT, NULL, 0, &a->bk,
                                          &a->bv) == 0;
        held = a->bodies_ok && a->bk.len == 8 && ldg_rd_be64(a->bk.data) == seq;
        if (held != has_body) {
            snprintf(what, 400,
                     has_body
                         ? "the segment holds its body, which the ledger "
                           "erased since it was written (it would keep the "
                           "erased body: write the archive again)"
                         : "the segment has its body erased, which the "
                           "ledger holds");
            return LDG_SEGCHK_ERASURES;
        }
    }
    if (a->user != NULL && a->user->leaf != NULL)
        return a->user->leaf(a->user->ctx, seq, leaf, has_body, what);
    return 0;
}

int
ldg_segment_check(struct ldg_txn *t, int fd,
                  const struct ldg_segment_verify_opts *o,
                  struct ldg_segment_result *r)
{
    struct ldg_ledger *l;
    struct ldg_segment_verify_opts vo;
    struct against a;
    struct ldg_horizon hz;
    char vkey[512], *ck = NULL;
    uint8_t k[8];
    int rc, has_hz;

    if (t == NULL || fd < 0 || r == NULL)
        return LDG_EINVAL;
    l = ldg_txn_ledger(t);
    memset(&a, 0, sizeof a);
    memset(&hz, 0, sizeof hz);
    a.t = t;
    a.tile = UINT64_MAX;
    a.user = o;
    if ((rc = ldg_verifier_key(l, vkey, sizeof vkey)) < 0)
        return rc;
    rc = ldg_horizon_get(t, &hz);
    if (rc < 0 && rc != LDG_ENOTFOUND)
        return rc;
    has_hz = rc == 0;
    a.kept = has_hz ? hz.seq : 0;
    if ((rc = ldg_cursor_open(t, ldg_core(l, ldg_db_bodies(t)), &a.bodies)) < 0)
        goto out;
    ldg_be64(k, a.kept);
    a.bodies_ok =
        ldg_cursor_get(a.bodies, LDG_SET_RANGE, k, 8, &a.bk, &a.bv) == 0;
    if (o != NULL)
        vo = *o;
    else
        memset(&vo, 0, sizeof vo);
    vo.trusted_vkey = vkey;
    vo.leaf = against_leaf;
    vo.ctx = &a;
    rc = ldg_segment_verify_fd(fd, &vo, r);
    if (rc < 0)
        goto out;
    /* its checkpoint is this ledger's of that size, byte for byte */
    rc = ldg_checkpoint_get(t, r->info.checkpoint_size, &ck);
    if (rc == LDG_ENOTFOUND || (rc == 0 && strcmp(ck, r->info.checkpoint))) {
        r->ok = 0;
        r->failed = LDG_SEGCHK_CHECKPOINT;
        snprintf(r->what, sizeof r->what,
                 "its checkpoint of size %" PRIu64 " is not this ledger's%s",
                 r->info.checkpoint_size,
                 rc == LDG_ENOTFOUND
                     ? " (the ledger has no checkpoint of that size)"
                     : "");
        rc = LDG_ETAMPER;
        goto out;
    }
    if (rc < 0)
        goto out;
    /* the earlier prune's record it carries is the ledger's (when the
     * ledger's horizon is still there) */
    if (has_hz && hz.seq == r->info.first &&
        (r->info.horizon == NULL || r->info.horizon_len != hz.record_len ||
         memcmp(r->info.horizon, hz.record, hz.record_len) != 0)) {
        r->ok = 0;
        r->failed = LDG_SEGCHK_HORIZON;
        snprintf(r->what, sizeof r->what,
                 "it %s the ledger's horizon record at %" PRIu64,
                 r->info.horizon ? "carries another horizon record than"
                                 : "does not carry",
                 hz.seq);
        rc = LDG_ETAMPER;
    }
out:
    free(ck);
    ldg_cursor_close(a.bodies);
    ldg_horizon_release(&hz);
    return rc;
}

int
ldg_segment_read_mem(const void *p, size_t n,
                     const struct ldg_segment_verify_opts *o,
                     struct ldg_segment_info *info)
{
    struct ldg_segment_result r;
    int rc;
    if ((p == NULL && n > 0) || info == NULL)
        return LDG_EINVAL;
    rc = verify_common(-1, p ? p : "", n, o, &r, 0);
    *info = r.info;
    return rc;
}
