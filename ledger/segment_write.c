/*
 * segment_write.c — the segment writer (segment_int.h; docs/FORMAT.md
 * section 11): the events of a range, a window of them a snapshot, into
 * one zstd frame, the records in the order segment.c draws.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "ledger/codec_int.h"
#include "ledger/epoch_int.h"
#include "ledger/keys_int.h"
#include "ledger/mp_int.h"
#include "ledger/segment_int.h"
#include "ledger/tlog_int.h"

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
w_rec(struct segw *w, enum seg_kind k, const void *p, size_t n)
{
    uint8_t h[6];
    size_t hl;
    if (n > 0xffffffffu)
        return w->err = LDG_ETOOBIG;
    h[0] = (uint8_t)k;
    hl = 1 + seg_uv_put(h + 1, n);
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

/* One segment being written: what its stages share. */
struct wjob {
    struct ldg_ledger *l;
    const struct ldg_segment_write_opts *o;
    struct segwin x;
    struct segw w;
    struct ldg_horizon hz;
    int has_hz;
    uint64_t hzseq, size;
    uint64_t n;               /* the checkpoint's size */
    char *ck;                 /* its text */
    struct seqs prior, after; /* the proven events before and after */
    uint8_t state_sha[32];
};

/* Stage 1, what the segment holds: its range within the log, the
 * checkpoint it ends on, the events it proves besides (x->win.t is the
 * first window's snapshot). */
static int
w_plan(struct wjob *j)
{
    struct ldg_ledger *l = j->l;
    const struct ldg_segment_write_opts *o = j->o;
    struct ldg_txn *t = j->x.win.t;
    int rc;

    if ((rc = ldg_txn_size(t, &j->size)) < 0)
        return rc;
    rc = ldg_horizon_get(t, &j->hz);
    if (rc == 0) {
        j->has_hz = 1;
        j->hzseq = j->hz.seq;
    } else if (rc != LDG_ENOTFOUND) {
        return rc;
    }
    if (o->end > j->size || o->first < j->hzseq) {
        ldg_seterr(l,
                   "events %" PRIu64 "..%" PRIu64 ": the log holds %" PRIu64
                   "..%" PRIu64,
                   o->first, o->end - 1, j->hzseq, j->size ? j->size - 1 : 0);
        return LDG_EINVAL;
    }
    j->n = o->checkpoint_size ? o->checkpoint_size : o->end;
    if (j->n < o->end || j->n > j->size)
        return LDG_EINVAL;
    if (o->first > 0) {
        /* and begins where one begins: its first event opens its seals
         * (a verifier refuses a leaf of a seal it did not see open) */
        if ((rc = ldg_checkpoint_get(t, o->first, &j->ck)) < 0) {
            if (rc == LDG_ENOTFOUND) {
                ldg_seterr(l,
                           "no checkpoint of size %" PRIu64
                           ": a segment begins where a commit begins",
                           o->first);
                rc = LDG_EINVAL;
            }
            return rc;
        }
        free(j->ck);
        j->ck = NULL;
    }
    if ((rc = extra_events(t, j->hzseq, o->first, o->end, &j->n, &j->prior,
                           &j->after)) < 0)
        return rc;
    if ((rc = ldg_checkpoint_get(t, j->n, &j->ck)) < 0) {
        if (rc == LDG_ENOTFOUND)
            ldg_seterr(l,
                       "no checkpoint of size %" PRIu64
                       ": a segment ends where a commit ends",
                       j->n);
        return rc;
    }
    /* what later windows check: below n, the log stays as it is now */
    j->x.win.wc.horizon = j->hzseq;
    j->x.win.wc.below = j->n;
    j->x.win.wc.seen = j->size;
    return 0;
}

/* Stage 2: the log's key, the compressor and the buffers. */
static int
w_open(struct wjob *j)
{
    struct segw *w = &j->w;
    int rc;

    if ((rc = ldg_log_secret_load(j->l)) < 0)
        return rc;
    w->z = ZSTD_createCCtx();
    w->out_cap = ZSTD_CStreamOutSize();
    w->out = malloc(w->out_cap);
    w->stage = malloc(STAGE_CAP);
    w->ebuf = malloc(LDG_ENTRY_MAX);
    w->body_max = ldg_body_max(j->l);
    if (w->z == NULL || w->out == NULL || w->stage == NULL || w->ebuf == NULL)
        return LDG_ENOMEM;
    if ((w->dicts = ldg_txn_dicts(j->x.win.t)) == NULL)
        return LDG_ECORRUPT;
    if (ZSTD_isError(ZSTD_CCtx_setParameter(
            w->z, ZSTD_c_compressionLevel,
            j->o->level > 0 ? j->o->level : SEG_LEVEL_DEFAULT)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(w->z, ZSTD_c_checksumFlag, 1)))
        return LDG_EINVAL;
    /* (readers take windows up to 2^24: stay well within) */
    ZSTD_CCtx_setParameter(w->z, ZSTD_c_windowLog, 22);
    return 0;
}

/* Stage 3: the magic, HEADER, HORIZON?, EDGE, CHECKPOINT,
 * CHECKPOINT_EPOCH?, CONSISTENCY?. */
static int
w_head(struct wjob *j)
{
    struct ldg_ledger *l = j->l;
    const struct ldg_segment_write_opts *o = j->o;
    struct ldg_txn *t = j->x.win.t;
    struct segw *w = &j->w;
    struct seg_hdr h;
    uint8_t buf[LDG_ENTRY_MAX + 64], edge[EDGE_MAX];
    char *line = NULL;
    size_t len, ne;
    int rc;

    if ((rc = w_stage(w, LDG_SEGMENT_MAGIC, LDG_SEGMENT_MAGIC_LEN)) < 0)
        return rc;
    memset(&h, 0, sizeof h);
    h.codec = CODEC_V1;
    h.first = o->first;
    h.end = o->end;
    h.format = (uint64_t)l->format;
    memcpy(h.key, l->log_key->pub, 32);
    snprintf(h.origin, sizeof h.origin, "%s", l->origin);
    if ((rc = seg_hdr_encode(&h, buf, sizeof buf, &len)) < 0 ||
        (rc = w_rec(w, K_HEADER, buf, len)) < 0 ||
        (rc = w_drain(w, ZSTD_e_flush)) < 0)
        return rc; /* (a block of its own: the magic is read from the file's
                      first few hundred bytes) */
    if (j->has_hz &&
        (rc = w_rec(w, K_HORIZON, j->hz.record, j->hz.record_len)) < 0)
        return rc;
    ne = 0;
    if (o->first > 0) {
        /* prev of the first event: the leaf hash of the one before */
        if ((rc = ldg_tree_stored_hash(t, 0, o->first - 1, edge)) < 0 ||
            (rc = left_edge(t, o->first, edge + 32, &ne)) < 0)
            return rc;
        ne++;
    }
    if ((rc = w_rec(w, K_EDGE, edge, 32 * ne)) < 0 ||
        (rc = w_rec(w, K_CHECKPOINT, j->ck, strlen(j->ck))) < 0)
        return rc;
    /* the checkpoint's epoch line whole, so that the reader checks it
     * from the log key's anchor (FORMAT.md 11.1: layout 9 only) */
    if ((rc = ldg_epoch_checkpoint_whole(t, j->n, j->ck, &line)) < 0)
        return rc;
    if (line != NULL) {
        rc = w_rec(w, K_CHECKPOINT_EPOCH, line, strlen(line));
        free(line);
        if (rc < 0)
            return rc;
    }
    if (j->n > o->end) {
        uint8_t proof[LDG_PROOF_MAX][32];
        size_t np;
        if ((rc = ldg_tree_consistency(t, o->end, j->n, proof, &np)) < 0 ||
            (rc = w_rec(w, K_CONSISTENCY, proof, np * 32)) < 0)
            return rc;
    }
    return 0;
}

/* Stages 4 and 6: the PROVEN events before or after the range. */
static int
w_proven_all(struct wjob *j, const struct seqs *s)
{
    int rc;
    for (size_t i = 0; i < s->n; i++) {
        if ((rc = win_next(&j->x, &j->w, 1)) < 0 ||
            (rc = w_proven(&j->w, j->x.win.t, s->v[i], j->n)) < 0)
            return rc;
    }
    return 0;
}

/* The range's cursors, stepping side by side (entries, bodies, seals). */
struct wcur {
    struct ldg_cursor *ce, *cb, *cs;
    struct ldg_val k, v, bk, bv, sk, sv;
    int body_ok, seal_ok;
};

static void
wcur_close(struct wcur *c)
{
    ldg_cursor_close(c->ce);
    ldg_cursor_close(c->cb);
    ldg_cursor_close(c->cs);
    c->ce = c->cb = c->cs = NULL;
}

/* The cursors opened (again) in t at seq; *got: the entry's get's
 * result. */
static int
wcur_open(struct wjob *j, struct wcur *c, struct ldg_txn *t, uint64_t seq,
          int *got)
{
    struct ldg_ledger *l = j->l;
    uint8_t key[8];
    int rc;

    wcur_close(c);
    if ((rc = ldg_cursor_open(t, ldg_core(l, ldg_db_entries(t)), &c->ce)) < 0 ||
        (rc = ldg_cursor_open(t, ldg_core(l, ldg_db_bodies(t)), &c->cb)) < 0)
        return rc;
    if (l->format >= 2 && ldg_store_has_core(l->store, LDG_DB_SEALS) &&
        (rc = ldg_cursor_open(t, ldg_core(l, LDG_DB_SEALS), &c->cs)) < 0)
        return rc;
    ldg_be64(key, seq);
    c->body_ok =
        ldg_cursor_get(c->cb, LDG_SET_RANGE, key, 8, &c->bk, &c->bv) == 0;
    c->seal_ok = c->cs != NULL && ldg_cursor_get(c->cs, LDG_SET_RANGE, key, 8,
                                                 &c->sk, &c->sv) == 0;
    *got = ldg_cursor_get(c->ce, LDG_SET_RANGE, key, 8, &c->k, &c->v);
    return 0;
}

/* One event of the range: SEAL?, ENTRY, BODY|ERASED. */
static int
w_event(struct wjob *j, struct wcur *c, struct ldg_txn *t, uint64_t seq,
        struct ldg_segment_info *out)
{
    struct ldg_ledger *l = j->l;
    struct segw *w = &j->w;
    uint8_t buf[LDG_ENTRY_MAX + 64];
    uint8_t sealbuf[LDG_SEAL_REC_MAX];
    size_t len;
    int rc;

    /* a seal's first event: its record before the entry (the seals
     * are keyed by their first event: a cursor steps beside) */
    while (c->seal_ok && c->sk.len == 8 && ldg_rd_be64(c->sk.data) < seq)
        c->seal_ok =
            ldg_cursor_get(c->cs, LDG_NEXT, NULL, 0, &c->sk, &c->sv) == 0;
    if (c->seal_ok && c->sk.len == 8 && ldg_rd_be64(c->sk.data) == seq) {
        const uint8_t *r = c->sv.data;
        size_t rl = c->sv.len;
        if ((rc = w_seal_rec(w, t, seq, &r, &rl, 1, sealbuf, sizeof sealbuf)) <
                0 ||
            (rc = w_rec(w, K_SEAL, r, rl)) < 0)
            return rc;
    }
    if ((rc = seg_entry_pack(l->format, c->v.data, c->v.len, buf, sizeof buf,
                             &len)) < 0) {
        ldg_seterr(l,
                   "event %" PRIu64 ": its entry is not as FORMAT.md "
                   "draws it",
                   seq);
        return rc;
    }
    if ((rc = w_rec(w, K_ENTRY, buf, len)) < 0)
        return rc;
    while (c->body_ok && ldg_rd_be64(c->bk.data) < seq)
        c->body_ok =
            ldg_cursor_get(c->cb, LDG_NEXT, NULL, 0, &c->bk, &c->bv) == 0;
    if (c->body_ok && c->bk.len == 8 && ldg_rd_be64(c->bk.data) == seq) {
        const uint8_t *raw;
        size_t rl;
        if ((rc = ldg_body_rec_raw(w->dicts, c->bv.data, c->bv.len, w->body_max,
                                   &w->zs, &w->raw, &raw, &rl)) < 0) {
            ldg_seterr(l,
                       "event %" PRIu64 ": its body record does not "
                       "open",
                       seq);
            return rc;
        }
        rc = w_rec(w, K_BODY, raw, rl);
    } else
        rc = w_rec(w, K_ERASED, NULL, 0);
    if (rc < 0)
        return rc;
    if (out != NULL && !(c->body_ok && ldg_rd_be64(c->bk.data) == seq))
        out->erased++;
    return 0;
}

/* Stage 5, the range: the cursors opened again in each window's snapshot
 * where the last one stopped. */
static int
w_range(struct wjob *j, struct ldg_segment_info *out)
{
    struct ldg_ledger *l = j->l;
    const struct ldg_segment_write_opts *o = j->o;
    struct ldg_txn *t = j->x.win.t;
    struct wcur c;
    uint64_t seq;
    int rc = 0;

    memset(&c, 0, sizeof c);
    for (seq = o->first; seq < o->end; seq++) {
        int renewed = win_next(&j->x, &j->w, 1);
        if (renewed < 0) {
            rc = renewed;
            goto out;
        }
        if (renewed || c.ce == NULL) {
            int got;
            t = j->x.win.t;
            if ((rc = wcur_open(j, &c, t, seq, &got)) < 0)
                goto out;
            rc = got;
        }
        if (rc < 0 || c.k.len != 8 || ldg_rd_be64(c.k.data) != seq) {
            ldg_seterr(l, "event %" PRIu64 ": its entry is missing", seq);
            rc = rc < 0 && rc != LDG_ENOTFOUND ? rc : LDG_ECORRUPT;
            goto out;
        }
        if ((rc = w_event(j, &c, t, seq, out)) < 0)
            goto out;
        if (((seq - o->first) & 0x3fff) == 0x3fff) {
            /* the map's pages read so far leave this process (they stay
             * in the page cache): its resident size stays its own */
            ldg_access_hint(l, LDG_ACCESS_RELEASE);
            if (o->progress != NULL && ((seq - o->first) & 0xffff) == 0xffff)
                o->progress(o->progress_ctx, seq - o->first + 1,
                            o->end - o->first);
        }
        rc = ldg_cursor_get(c.ce, LDG_NEXT, NULL, 0, &c.k, &c.v);
    }
    rc = 0;
out:
    wcur_close(&c);
    return rc;
}

/* Stage 7, with no snapshot held (the rest reads nothing): STATE?,
 * STATE_NOTE?, TRAILER, and the frame's end. */
static int
w_tail(struct wjob *j)
{
    struct ldg_ledger *l = j->l;
    const struct ldg_segment_write_opts *o = j->o;
    struct segw *w = &j->w;
    char *sig = NULL, text[2 * LDG_ORIGIN_MAX + 200];
    int rc;

    if (o->state != NULL) {
        ldg_sha256(j->state_sha, o->state, o->state_len);
        if ((rc = w_rec(w, K_STATE, o->state, o->state_len)) < 0 ||
            (rc = w_rec(w, K_STATE_NOTE, o->state_note, o->state_note_len)) < 0)
            goto out;
    }
    if ((rc = seg_trailer_text(text, sizeof text, l->origin, o->first, o->end,
                               j->n, o->state ? j->state_sha : NULL)) < 0 ||
        (rc = ldg_log_sign_note(l, text, strlen(text), &sig)) < 0 ||
        (rc = w_rec(w, K_TRAILER, sig, strlen(sig))) < 0 ||
        (rc = w_drain(w, ZSTD_e_end)) < 0 || (rc = w_write_pending(w)) < 0)
        goto out;
    if (o->progress != NULL)
        o->progress(o->progress_ctx, o->end - o->first, o->end - o->first);
out:
    free(sig);
    return rc;
}

/* Stage 8: the writer's report (out takes the checkpoint's text). */
static void
w_report(struct wjob *j, struct ldg_segment_info *out)
{
    struct ldg_ledger *l = j->l;
    const struct ldg_segment_write_opts *o = j->o;
    char origin[LDG_ORIGIN_MAX + 1];
    uint64_t sz;
    size_t tl = ldg_note_text_len(j->ck, strlen(j->ck));

    out->format = l->format;
    out->codec = CODEC_V1;
    snprintf(out->origin, sizeof out->origin, "%s", l->origin);
    memcpy(out->log_pub, l->log_key->pub, 32);
    out->first = o->first;
    out->end = o->end;
    out->checkpoint_size = j->n;
    out->events = o->end - o->first;
    out->prior = j->prior.n;
    out->after = j->after.n;
    out->has_state = o->state != NULL;
    if (o->state != NULL)
        memcpy(out->state_sha256, j->state_sha, 32);
    out->horizon_seq = j->hzseq;
    out->file_bytes = j->w.file_bytes;
    out->raw_bytes = j->w.raw_bytes;
    ldg_sha256_final(&j->w.sha, out->sha256);
    ldg_checkpoint_parse(j->ck, tl > 0 ? tl : strlen(j->ck), origin,
                         sizeof origin, &sz, out->root);
    out->checkpoint = j->ck;
    out->checkpoint_len = strlen(j->ck);
    j->ck = NULL;
}

/*
 * The writer, stage by stage: plan (the range, its checkpoint, the proven
 * events), open (key, compressor), head (the records before the events),
 * the proven events before, the range, the proven events after, the tail
 * (state, trailer), the report.
 */
int
ldg_segment_write(struct ldg_ledger *l, const struct ldg_segment_write_opts *o,
                  int fd, struct ldg_segment_info *out)
{
    struct wjob job, *j = &job;
    int rc;

    if (out != NULL)
        memset(out, 0, sizeof *out);
    if (l == NULL || o == NULL || fd < 0 || o->end <= o->first ||
        (o->state == NULL) != (o->state_note == NULL))
        return LDG_EINVAL;
    memset(j, 0, sizeof *j);
    j->l = l;
    j->o = o;
    j->x.win.l = l;
    j->x.win.snapshot = o->snapshot;
    j->x.win.snapshot_ctx = o->snapshot_ctx;
    j->x.ms = ldg_now_mono_ms();
    j->w.fd = fd;
    ldg_sha256_init(&j->w.sha);
    if ((rc = ldg_window_begin(&j->x.win)) < 0)
        return rc;
    if ((rc = w_plan(j)) < 0 || (rc = w_open(j)) < 0 || (rc = w_head(j)) < 0 ||
        (rc = w_proven_all(j, &j->prior)) < 0 || (rc = w_range(j, out)) < 0 ||
        (rc = w_proven_all(j, &j->after)) < 0)
        goto out;
    ldg_window_end(&j->x.win);
    if ((rc = w_tail(j)) < 0)
        goto out;
    if (out != NULL)
        w_report(j, out);
out:
    if (rc == LDG_EIO && errno == ENOMEM) /* (zstd's, or a stdio buffer's) */
        rc = ldg_alloc_failed();
    if ((rc == LDG_EIO || rc == LDG_ENOMEM) && ldg_errbuf(l)[0] == '\0')
        ldg_seterr(l, "writing the segment: %s", strerror(errno));
    ldg_window_end(&j->x.win);
    ZSTD_freeCCtx(j->w.z);
    free(j->w.pend);
    free(j->w.out);
    free(j->w.stage);
    free(j->w.ebuf);
    ldg_epoch_walk_free(j->w.ew);
    free(j->w.seen);
    ldg_inflate_release(&j->w.zs);
    ldg_inflate_release(&j->w.raw);
    free(j->ck);
    free(j->prior.v);
    free(j->after.v);
    ldg_horizon_release(&j->hz);
    return rc;
}
