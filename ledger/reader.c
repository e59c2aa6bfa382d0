/*
 * reader.c — generic cursors over the log: seq-ordered scans of one
 * index value or of the stored bodies, the seqs of a time range, the
 * values of an index, and lookups by seq that follow a scan. They know
 * none of their callers: what a module merges them into (a query plan, a
 * rebuild) is that module's.
 *
 *   ldg_seqscan_index    one value's keys in idx.type / idx.subject /
 *                        idx.run / idx.actor: value ‖ 0x00 ‖ seq_be64, so
 *                        the range is in seq order after one SET_RANGE
 *   ldg_seqscan_bodies   the "bodies" database in seq order, handing out
 *                        each record (for a byte prefilter)
 *   ldg_time_window      the seqs of a time range, by two SET_RANGE
 *                        lookups in idx.time (ts_be64 ‖ seq_be64; ts never
 *                        decreases with seq)
 *   ldg_index_values     the distinct values of an index with a prefix,
 *                        jumping from one value to the next (value ‖ 0x01
 *                        sorts after all of value's keys)
 *   ldg_reader_*         an event, its leaf hash and its body record by
 *                        seq, through cursors that stay where the last
 *                        lookup left them, so lookups in seq order (either
 *                        way) cost a step, not a descent from the root
 *
 * Key layouts are FORMAT.md section 6.
 */
#include <stdlib.h>
#include <string.h>

#include "ledger/index_int.h"
#include "ledger/tree_int.h"

/* ------------------------------------------------------------ seqscans -- */

struct ldg_seqscan {
    struct ldg_cursor *c;
    /* an index: value ‖ 0x00, the prefix of its keys in idx.*; or, with
     * dups (ix.* of layout 3), the value, the key whose duplicates are
     * the seqs */
    uint8_t prefix[LDG_SUBJECT_MAX + 1];
    size_t plen;
    int dups;
    uint64_t lo, hi;
    int reverse;
    int started, done;
    uint64_t pos;       /* the seq returned last, once started */
    struct ldg_val val; /* bodies: the record at the current seq */
};

const char *
ldg_index_name(struct ldg_txn *t, enum ldg_index which)
{
    /* (no transaction, or a layout not read: the newest layout's name) */
    int layout = t != NULL ? ldg_txn_layout(t) : 0;
    enum ldg_core_db db =
        ldg_index_db(which, layout > 0 ? layout : ldg_layout_default());
    return db < LDG_CORE_DBS ? ldg_core_db_names[db] : "?";
}

static int
scan_open(struct ldg_seqscan **out, struct ldg_txn *t, enum ldg_core_db db,
          uint64_t lo, uint64_t hi, int reverse)
{
    struct ldg_seqscan *s = calloc(1, sizeof *s);
    int rc;
    if (s == NULL)
        return LDG_ENOMEM;
    s->lo = lo;
    s->hi = hi;
    s->reverse = reverse != 0;
    s->done = lo > hi;
    rc = ldg_cursor_open(t, ldg_core(ldg_txn_ledger(t), db), &s->c);
    if (rc < 0) {
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}

int
ldg_seqscan_index(struct ldg_seqscan **out, struct ldg_txn *t,
                  enum ldg_index which, const char *value, uint64_t lo,
                  uint64_t hi, int reverse)
{
    enum ldg_core_db db;
    size_t n;
    int rc, layout;

    if (out == NULL || t == NULL || value == NULL)
        return LDG_EINVAL;
    if ((layout = ldg_txn_layout(t)) < 0)
        return layout;
    if ((db = ldg_index_db(which, layout)) == LDG_CORE_DBS)
        return LDG_EINVAL;
    *out = NULL;
    n = strlen(value);
    if (n > LDG_SUBJECT_MAX - 1 || n == 0) /* no event has such a value */
        lo = 1, hi = 0;
    if ((rc = scan_open(out, t, db, lo, hi, reverse)) < 0)
        return rc;
    (*out)->dups = ldg_index_dups(db);
    if (lo <= hi) {
        memcpy((*out)->prefix, value, n);
        (*out)->prefix[n] = 0;
        (*out)->plen = (*out)->dups ? n : n + 1;
    }
    return 0;
}

int
ldg_seqscan_body_index(struct ldg_seqscan **out, struct ldg_txn *t,
                       const char *name, const char *value, uint64_t lo,
                       uint64_t hi, int reverse)
{
    size_t nl, n;
    int rc;

    if (out == NULL || t == NULL || name == NULL || value == NULL)
        return LDG_EINVAL;
    *out = NULL;
    nl = strlen(name);
    n = strlen(value);
    if (!ldg_bix_name(name) || n > LDG_BIX_VALUE_MAX)
        return LDG_EINVAL;
    if ((rc = scan_open(out, t, LDG_DB_IX_BODY, lo, hi, reverse)) < 0)
        return rc;
    (*out)->dups = 1;
    memcpy((*out)->prefix, name, nl);
    (*out)->prefix[nl] = 0;
    memcpy((*out)->prefix + nl + 1, value, n);
    (*out)->plen = nl + 1 + n;
    return 0;
}

int
ldg_seqscan_bodies(struct ldg_seqscan **out, struct ldg_txn *t, uint64_t lo,
                   uint64_t hi, int reverse)
{
    if (out == NULL || t == NULL)
        return LDG_EINVAL;
    *out = NULL;
    return scan_open(out, t, ldg_db_bodies(t), lo, hi, reverse);
}

/* The seq of key k if it belongs to s, else -1. */
static int
key_seq(const struct ldg_seqscan *s, const struct ldg_val *k, uint64_t *seq)
{
    if (s->dups) {
        /* dup_step put the duplicate in k */
        if (k->len != LDG_IX_SEQ_LEN)
            return -1;
        *seq = ldg_rd_be64(k->data);
        return 0;
    }
    if (k->len != s->plen + 8 ||
        (s->plen > 0 && memcmp(k->data, s->prefix, s->plen) != 0))
        return -1;
    *seq = ldg_ikey_seq(k->data, k->len);
    return 0;
}

/* A step of a scan of a value's duplicates (ix.*): the seq it lands on
 * in *d (8 bytes), or LDG_ENOTFOUND past the value's first or last. */
static int
dup_step(struct ldg_seqscan *s, struct ldg_val *d)
{
    uint8_t want[LDG_IX_SEQ_LEN];
    struct ldg_val k;
    int rc;

    if (s->started)
        return ldg_cursor_get(s->c, s->reverse ? LDG_PREV_DUP : LDG_NEXT_DUP,
                              NULL, 0, &k, d);
    s->started = 1;
    ldg_be64(want, s->reverse ? s->hi : s->lo);
    d->data = want;
    d->len = sizeof want;
    /* the first duplicate >= lo; in reverse, the one >= hi, then one
     * back unless it is hi (and the last of all when none is >= hi) */
    rc = ldg_cursor_get(s->c, LDG_GET_BOTH_RANGE, s->prefix, s->plen, &k, d);
    if (!s->reverse)
        return rc;
    if (rc == LDG_ENOTFOUND) {
        rc = ldg_cursor_get(s->c, LDG_SET_KEY, s->prefix, s->plen, &k, d);
        if (rc == 0)
            rc = ldg_cursor_get(s->c, LDG_LAST_DUP, NULL, 0, &k, d);
        return rc;
    }
    if (rc == 0 && (d->len != LDG_IX_SEQ_LEN || ldg_rd_be64(d->data) > s->hi))
        rc = ldg_cursor_get(s->c, LDG_PREV_DUP, NULL, 0, &k, d);
    return rc;
}

int
ldg_seqscan_next(struct ldg_seqscan *s, uint64_t *seq)
{
    struct ldg_val k, v;
    uint64_t at;
    int rc;

    if (s == NULL || seq == NULL)
        return LDG_EINVAL;
    if (s->done)
        return 0;
    if (s->dups) {
        rc = dup_step(s, &k);
        if (rc == 0 && key_seq(s, &k, &at) == 0 &&
            (s->reverse ? at >= s->lo : at <= s->hi)) {
            *seq = at;
            s->pos = at;
            return 1;
        }
        s->done = 1;
        if (rc == 0 && k.len != LDG_IX_SEQ_LEN)
            return LDG_ECORRUPT;
        return rc == LDG_ENOTFOUND || rc == 0 ? 0 : rc;
    }
    if (!s->started) {
        uint8_t key[LDG_SUBJECT_MAX + 1 + 8];
        s->started = 1;
        memcpy(key, s->prefix, s->plen);
        ldg_be64(key + s->plen, s->reverse ? s->hi : s->lo);
        rc = ldg_cursor_get(s->c, LDG_SET_RANGE, key, s->plen + 8, &k, &v);
        /* In reverse, SET_RANGE lands on the first key >= prefix ‖ hi;
         * unless that is hi itself, the last candidate is the one before
         * (or the database's last key when there is none after). */
        if (s->reverse) {
            if (rc == LDG_ENOTFOUND)
                rc = ldg_cursor_get(s->c, LDG_LAST, NULL, 0, &k, &v);
            else if (rc == 0 && (key_seq(s, &k, &at) < 0 || at > s->hi))
                rc = ldg_cursor_get(s->c, LDG_PREV, NULL, 0, &k, &v);
        }
    } else {
        rc = ldg_cursor_get(s->c, s->reverse ? LDG_PREV : LDG_NEXT, NULL, 0, &k,
                            &v);
    }
    if (rc == 0 && key_seq(s, &k, &at) == 0 &&
        (s->reverse ? at >= s->lo : at <= s->hi)) {
        *seq = at;
        s->pos = at;
        s->val = v;
        return 1;
    }
    s->done = 1;
    return rc == LDG_ENOTFOUND || rc == 0 ? 0 : rc;
}

void
ldg_seqscan_skip(struct ldg_seqscan *s, uint64_t seq)
{
    if (s == NULL || s->done)
        return;
    if (s->reverse ? seq >= s->hi : seq <= s->lo)
        return; /* nothing to skip */
    if (s->started && (s->reverse ? seq >= s->pos : seq <= s->pos))
        return; /* the next step passes seq anyway */
    if (s->reverse)
        s->hi = seq;
    else
        s->lo = seq;
    s->started = 0; /* the next step seeks to prefix ‖ lo (‖ hi) */
}

void
ldg_seqscan_record(const struct ldg_seqscan *s, const uint8_t **rec,
                   size_t *len)
{
    *rec = s->val.data;
    *len = s->val.len;
}

void
ldg_seqscan_free(struct ldg_seqscan *s)
{
    if (s == NULL)
        return;
    ldg_cursor_close(s->c);
    free(s);
}

/* ------------------------------------------------------- index values -- */

int
ldg_index_values(struct ldg_txn *t, enum ldg_index which, const char *prefix,
                 size_t plen, int (*fn)(void *ctx, const char *value),
                 void *ctx)
{
    int layout = t != NULL ? ldg_txn_layout(t) : LDG_EINVAL;
    enum ldg_core_db db;
    struct ldg_cursor *c = NULL;
    struct ldg_val k, v;
    uint8_t key[LDG_SUBJECT_MAX + 2];
    char name[LDG_SUBJECT_MAX + 1];
    size_t klen = plen;
    int rc, dups;

    if (layout < 0)
        return layout;
    db = ldg_index_db(which, layout);
    if ((prefix == NULL && plen > 0) || fn == NULL || db == LDG_CORE_DBS)
        return LDG_EINVAL;
    if (plen > LDG_SUBJECT_MAX)
        return 0;
    rc = ldg_cursor_open(t, ldg_core(ldg_txn_ledger(t), db), &c);
    if (rc < 0)
        return rc;
    dups = ldg_index_dups(db);
    if (plen > 0)
        memcpy(key, prefix, plen);
    /* an empty prefix starts at the first key (LMDB has no empty keys);
     * the next value is the next key in ix.*, and in idx.* the first key
     * at or after value ‖ 0x01 (past all of value's) */
    for (rc = ldg_cursor_get(c, klen ? LDG_SET_RANGE : LDG_FIRST, key, klen, &k,
                             &v);
         rc == 0;
         rc = dups ? ldg_cursor_get(c, LDG_NEXT_NODUP, NULL, 0, &k, &v)
                   : ldg_cursor_get(c, LDG_SET_RANGE, key, klen, &k, &v)) {
        const char *d = k.data;
        size_t vl = dups ? k.len : strnlen(d, k.len);
        if ((dups ? memchr(d, 0, k.len) != NULL : vl >= k.len) ||
            vl > LDG_SUBJECT_MAX) {
            rc = LDG_ECORRUPT;
            ldg_seterr(ldg_txn_ledger(t),
                       "%s: malformed key (run " LDG_CMD_VERIFY_FULL ")",
                       ldg_core_db_names[db]);
            break;
        }
        if (plen > 0 && (vl < plen || memcmp(d, prefix, plen) != 0))
            break;
        memcpy(name, d, vl);
        name[vl] = '\0';
        if ((rc = fn(ctx, name)) != 0)
            break;
        memcpy(key, name, vl);
        key[vl] = 0x01;
        klen = vl + 1;
    }
    ldg_cursor_close(c);
    if (rc > 0)
        return 1;
    return rc == LDG_ENOTFOUND || (rc == 0) ? 0 : rc;
}

/* -------------------------------------------------------- time window -- */

/* Layout 3 keeps no time index: ts strictly increases with seq (append
 * stamps it so, verify checks it), so the first event at or after a time
 * is found by binary search in entries, about 2·log2(size) lookups. *at
 * is that seq, or size when every event is older. */
static int
first_at(struct ldg_txn *t, uint64_t size, uint64_t ts, uint64_t *at)
{
    ldg_dbi entries = ldg_core(ldg_txn_ledger(t), ldg_db_entries(t));
    /* the answer is in [a, b]; nothing before a pruned ledger's horizon */
    uint64_t a = ldg_txn_horizon(t), b = size;

    while (a < b) {
        uint64_t mid = a + (b - a) / 2;
        uint8_t key[LDG_SEQ_KEY_LEN];
        struct ldg_event ev;
        struct ldg_val v;
        int rc;
        ldg_be64(key, mid);
        rc = ldg_kv_get(t, entries, key, sizeof key, &v);
        if (rc == 0)
            rc =
                ldg_entry_decode_rec(v.data, v.len, NULL, &ev,
                                     LDG_DECODE_TRUSTED | LDG_DECODE_NO_DIGEST);
        if (rc < 0) {
            ldg_seterr(ldg_txn_ledger(t),
                       "event %llu: entry unreadable while finding a time "
                       "(%s; run " LDG_CMD_VERIFY ")",
                       (unsigned long long)mid, ldg_strerror(rc));
            return rc == LDG_ENOTFOUND ? LDG_ECORRUPT : rc;
        }
        if (ev.ts_ns >= ts)
            b = mid;
        else
            a = mid + 1;
    }
    *at = a;
    return 0;
}

static int
time_window_search(struct ldg_txn *t, uint64_t since_ns, uint64_t until_ns,
                   uint64_t *lo, uint64_t *hi)
{
    uint64_t size = 0, at;
    int rc;

    if ((rc = ldg_txn_size(t, &size)) < 0)
        return rc;
    if (since_ns > 0) {
        if ((rc = first_at(t, size, since_ns, &at)) < 0)
            return rc;
        if (at >= size)
            return 1;
        if (at > *lo)
            *lo = at;
    }
    if (until_ns != UINT64_MAX) {
        if ((rc = first_at(t, size, until_ns + 1, &at)) < 0)
            return rc;
        if (at == 0)
            return 1;
        if (at - 1 < *hi)
            *hi = at - 1;
    }
    return *lo > *hi ? 1 : 0;
}

int
ldg_time_window(struct ldg_txn *t, uint64_t since_ns, uint64_t until_ns,
                uint64_t *lo, uint64_t *hi)
{
    if (t == NULL || lo == NULL || hi == NULL)
        return LDG_EINVAL;
    if (*lo > *hi)
        return 1;
    if (since_ns == 0 && until_ns == UINT64_MAX)
        return 0;
    /* (ts strictly increases with seq in every layout: the entries'
     * order is the times'; layouts 1 and 2's idx.time is verify's alone) */
    return time_window_search(t, since_ns, until_ns, lo, hi);
}

/* ------------------------------------------------------------- reader -- */

/* A cursor over seq-keyed records (key: prefix ‖ seq_be64) for lookups
 * that come in seq order. */
struct seekc {
    struct ldg_cursor *c;
    uint8_t prefix; /* tree: level 0; unused for entries and bodies */
    size_t plen;    /* 0 or 1 */
    int at;         /* 1: positioned on key `cur` with value `val` */
    uint64_t cur;
    struct ldg_val val;
};

struct ldg_reader {
    struct ldg_txn *t;
    struct seekc ec, bc, tc; /* entries, bodies, tree level 0 */
    int have_tree;
    int tiles;     /* layout 2: leaf hashes in full tiles */
    int have_tile; /* tile holds full tile tile_n of level 0 */
    uint64_t tile_n;
    uint8_t tile[LDG_TILE_BYTES];
    int no_leaf;   /* ldg_reader_want_leaf(r, 0) */
    int no_digest; /* ldg_reader_want_digest(r, 0) */
    /* the leaf hash of event leaf_seq, learnt from the prev of the entry
     * after it */
    int has_leaf;
    uint64_t leaf_seq;
    uint8_t leaf[32];
    int asked; /* last_asked: the seq reader_leaf was asked for last */
    uint64_t last_asked;
    /* the leaf of the last event read (a forward scan's next prev) */
    int got;
    uint64_t got_seq;
    uint8_t got_leaf[32];
    /* ldg_reader_readahead: [ra_next, ra_end) of the map is still to be
     * asked of the kernel, RA_STEP at a time ahead of the entries read */
    int ra_on;
    uintptr_t ra_next, ra_end;
};

/* How far ahead of a forward scan the kernel is asked to read. */
#ifndef RA_MB
#define RA_MB 64
#endif
#define RA_STEP ((uintptr_t)RA_MB << 20)

static int
seekc_open(struct ldg_txn *t, struct seekc *sc, enum ldg_core_db db,
           size_t plen, uint8_t prefix)
{
    memset(sc, 0, sizeof *sc);
    sc->plen = plen;
    sc->prefix = prefix;
    return ldg_cursor_open(t, ldg_core(ldg_txn_ledger(t), db), &sc->c);
}

/* Reads the cursor's position after rc/k/v into sc. */
static void
seekc_set(struct seekc *sc, int rc, const struct ldg_val *k,
          const struct ldg_val *v)
{
    const uint8_t *kp;
    sc->at = 0;
    if (rc != 0)
        return;
    kp = k->data;
    if (k->len == sc->plen + 8 && (sc->plen == 0 || kp[0] == sc->prefix)) {
        sc->at = 1;
        sc->cur = ldg_ikey_seq(kp, k->len);
        sc->val = *v;
    }
}

/* The value stored for seq: 0 with *v, LDG_ENOTFOUND if there is none. */
static int
seekc_get(struct seekc *sc, uint64_t seq, struct ldg_val *v)
{
    struct ldg_val k, val;
    int rc;

    if (sc->c == NULL)
        return LDG_ENOTFOUND;
    if (sc->at && sc->cur != seq &&
        (sc->cur < seq ? seq - sc->cur : sc->cur - seq) <= 4) {
        /* a few steps from where we are beat a lookup from the root */
        enum ldg_seek op = sc->cur < seq ? LDG_NEXT : LDG_PREV;
        while (sc->at && (op == LDG_NEXT ? sc->cur < seq : sc->cur > seq)) {
            rc = ldg_cursor_get(sc->c, op, NULL, 0, &k, &val);
            if (rc < 0 && rc != LDG_ENOTFOUND)
                return rc;
            seekc_set(sc, rc, &k, &val);
        }
        if (!sc->at || sc->cur != seq)
            return LDG_ENOTFOUND;
    } else if (!sc->at || sc->cur != seq) {
        uint8_t key[9];
        key[0] = sc->prefix;
        ldg_be64(key + sc->plen, seq);
        rc = ldg_cursor_get(sc->c, LDG_SET_RANGE, key, sc->plen + 8, &k, &val);
        if (rc < 0 && rc != LDG_ENOTFOUND)
            return rc;
        seekc_set(sc, rc, &k, &val);
        if (!sc->at || sc->cur != seq)
            return LDG_ENOTFOUND;
    }
    *v = sc->val;
    return 0;
}

int
ldg_reader_new(struct ldg_reader **out, struct ldg_txn *t)
{
    struct ldg_reader *r;
    int rc;

    if (out == NULL || t == NULL)
        return LDG_EINVAL;
    *out = NULL;
    if ((r = calloc(1, sizeof *r)) == NULL)
        return LDG_ENOMEM;
    r->t = t;
    if ((rc = seekc_open(t, &r->ec, ldg_db_entries(t), 0, 0)) < 0 ||
        (rc = seekc_open(t, &r->bc, ldg_db_bodies(t), 0, 0)) < 0) {
        ldg_reader_free(r);
        return rc;
    }
    /* leaf hashes: level 0 of the stored tree; a ledger without one
     * hashes the entries instead */
    r->have_tree = seekc_open(t, &r->tc, LDG_DB_TREE, 1, 0) == 0;
    r->tiles = ldg_txn_has(t, LDG_HAS_TILES) == 1;
    *out = r;
    return 0;
}

void
ldg_reader_want_leaf(struct ldg_reader *r, int want)
{
    if (r != NULL)
        r->no_leaf = !want;
}

void
ldg_reader_want_digest(struct ldg_reader *r, int want)
{
    if (r != NULL)
        r->no_digest = !want;
}

void
ldg_reader_free(struct ldg_reader *r)
{
    if (r == NULL)
        return;
    ldg_cursor_close(r->ec.c);
    ldg_cursor_close(r->bc.c);
    ldg_cursor_close(r->tc.c);
    free(r);
}

/* The prev of a stored format 1 entry, read from its tail (format.h).
 * 0, or -1 if the tail is not that. */
static int
entry_prev(const uint8_t *e, size_t len, uint8_t prev[32])
{
    const uint8_t *p;
    if (!ldg_entry1_prev(e, len, &p))
        return -1;
    memcpy(prev, p, 32);
    return 0;
}

static int reader_leaf_of(struct ldg_reader *r, uint64_t seq, uint8_t out[32]);

/* Is seq next to the last event whose leaf was asked for (a scan)? */
static int
reader_scanning(const struct ldg_reader *r, uint64_t seq)
{
    return r->asked && (seq == r->last_asked + 1 || seq + 1 == r->last_asked);
}

/* The leaf hash of the event just decoded into ev: from the chain (the
 * prev of the entry after it, which a forward scan reads next anyway; a
 * format 1 entry only), else from level 0 of the stored tree when the
 * lookups come in seq order (a cursor step), else by hashing the entry
 * (SHA-256(0x00 ‖ entry), what the tree stores): a lookup far from the
 * last one would touch a tree page of its own, which costs more here
 * than hashing a few hundred bytes. */
static int
reader_leaf(struct ldg_reader *r, struct ldg_event *ev)
{
    struct ldg_val next, leaf;
    int scanning = reader_scanning(r, ev->seq);

    r->asked = 1;
    r->last_asked = ev->seq;
    if (r->has_leaf && r->leaf_seq == ev->seq) {
        memcpy(ev->leaf, r->leaf, 32);
        return 0;
    }
    if (!ev->sealed && seekc_get(&r->ec, ev->seq + 1, &next) == 0 &&
        next.len > 0 && ((const uint8_t *)next.data)[0] == 0x93 &&
        entry_prev(next.data, next.len, ev->leaf) == 0)
        return 0;
    if (scanning && r->tiles) {
        uint64_t n = ev->seq / LDG_TILE_WIDTH;
        if (!r->have_tile || r->tile_n != n) {
            r->tile_n = n;
            r->have_tile = ldg_tree_tile_get(r->t, 0, n, r->tile) == 0;
        }
        if (r->have_tile) {
            memcpy(ev->leaf, r->tile + 32 * (ev->seq % LDG_TILE_WIDTH), 32);
            return 0;
        }
    }
    if (scanning && r->have_tree && seekc_get(&r->tc, ev->seq, &leaf) == 0 &&
        leaf.len == 32) {
        memcpy(ev->leaf, leaf.data, 32);
        return 0;
    }
    if (ev->entry == NULL || ev->entry_len == 0) {
        int rc = ldg_tree_stored_hash(r->t, 0, ev->seq, ev->leaf);
        /* the machine's failures as they are; anything else is damage */
        return rc == 0 || ldg_rc_machine(rc) ? rc : LDG_ECORRUPT;
    }
    ldg_tlog_leaf_hash(ev->leaf, ev->entry, ev->entry_len);
    return 0;
}

/* The stored leaf hash of event seq: from the tile at hand, else the
 * tree. */
static int
reader_leaf_of(struct ldg_reader *r, uint64_t seq, uint8_t out[32])
{
    int rc;
    if (r->tiles) {
        uint64_t n = seq / LDG_TILE_WIDTH;
        if (!r->have_tile || r->tile_n != n) {
            r->tile_n = n;
            r->have_tile = ldg_tree_tile_get(r->t, 0, n, r->tile) == 0;
        }
        if (r->have_tile) {
            memcpy(out, r->tile + 32 * (seq % LDG_TILE_WIDTH), 32);
            return 0;
        }
    }
    rc = ldg_tree_stored_hash(r->t, 0, seq, out);
    return rc == LDG_ENOTFOUND ? LDG_ECORRUPT : rc;
}

/* Keeps the kernel reading RA_STEP ahead of the scan, which is at `at`. */
static void
reader_ra(struct ldg_reader *r, uintptr_t at)
{
    while (r->ra_next < r->ra_end && at + RA_STEP > r->ra_next) {
        uintptr_t n = r->ra_end - r->ra_next;
        if (n > RA_STEP)
            n = RA_STEP;
        ldg_map_willneed((const void *)r->ra_next, n);
        r->ra_next += n;
    }
    if (r->ra_next >= r->ra_end)
        r->ra_on = 0;
}

/*
 * A window of the log is written in the order of its events, so its
 * entries and bodies (and the index pages written beside them) lie mostly
 * in one stretch of the file, in file order (a 196,000-event window: 98%
 * of the leaf pages a few pages after the one before). The map is random
 * access (MDB_NORDAHEAD) and even with MADV_SEQUENTIAL a cold scan reads
 * it 128 KiB per fault, waiting on each: 0.92 s for that window against
 * 0.10 s warm (the SQLite peer, reading its table with pread: 0.24 s and
 * 0.20 s). So when a sample of the stretch's pages says it is mostly not
 * in the page cache, the stretch is asked of the kernel (MADV_WILLNEED)
 * 64 MiB at a time ahead of the scan, and the reads run while the scan
 * works on what has come in.
 */
void
ldg_reader_readahead(struct ldg_reader *r, uint64_t lo, uint64_t hi)
{
    enum ldg_core_db dbs[2];
    uintptr_t a = UINTPTR_MAX, b = 0;

    if (r == NULL || lo > hi)
        return;
    dbs[0] = ldg_db_entries(r->t);
    dbs[1] = ldg_db_bodies(r->t);
    r->ra_on = 0;
    for (size_t i = 0; i < sizeof dbs / sizeof dbs[0]; i++) {
        struct ldg_cursor *c = NULL;
        const uint64_t seqs[2] = {lo, hi};
        if (ldg_cursor_open(r->t, ldg_core(ldg_txn_ledger(r->t), dbs[i]), &c) <
            0)
            return;
        for (size_t k = 0; k < 2; k++) {
            uint8_t key[8];
            struct ldg_val kv, v;
            int rc;
            ldg_be64(key, seqs[k]);
            rc = ldg_cursor_get(c, LDG_SET_RANGE, key, 8, &kv, &v);
            if (rc == LDG_ENOTFOUND)
                rc = ldg_cursor_get(c, LDG_LAST, NULL, 0, &kv, &v);
            if (rc < 0)
                continue;
            if ((uintptr_t)v.data < a)
                a = (uintptr_t)v.data;
            if ((uintptr_t)v.data + v.len > b)
                b = (uintptr_t)v.data + v.len;
        }
        ldg_cursor_close(c);
    }
    if (b <= a || ldg_map_missing((const void *)a, b - a, 64) < 8)
        return; /* mostly in the page cache already */
    r->ra_on = 1;
    r->ra_next = a;
    r->ra_end = b;
    reader_ra(r, a);
}

int
ldg_reader_event(struct ldg_reader *r, uint64_t seq, struct ldg_event *ev)
{
    struct ldg_val ent;
    int rc;

    if (r == NULL || ev == NULL)
        return LDG_EINVAL;
    if ((rc = seekc_get(&r->ec, seq, &ent)) < 0)
        return rc == LDG_ENOTFOUND && seq < ldg_txn_horizon(r->t) ? LDG_EPRUNED
                                                                  : rc;
    if (r->ra_on)
        reader_ra(r, (uintptr_t)ent.data);
    rc = ldg_entry_decode_rec(ent.data, ent.len, NULL, ev,
                              LDG_DECODE_TRUSTED |
                                  (r->no_digest ? LDG_DECODE_NO_DIGEST : 0));
    if (rc == 0 && ev->seq != seq)
        rc = LDG_ECORRUPT;
    if (rc < 0)
        return rc;
    if (r->no_leaf) {
        memset(ev->leaf, 0, sizeof ev->leaf);
        return 0;
    }
    if (ev->entry == NULL) {
        /* layout 5's stored form: prev is the leaf of the event before,
         * from the scan (the last leaf read) or the tree */
        if (seq == 0) {
            memset(ev->prev, 0, 32);
        } else if (r->got && r->got_seq == seq - 1) {
            memcpy(ev->prev, r->got_leaf, 32);
        } else if ((rc = reader_leaf_of(r, seq - 1, ev->prev)) < 0) {
            return rc;
        }
    }
    if ((rc = reader_leaf(r, ev)) < 0)
        return rc;
    r->got = 1;
    r->got_seq = seq;
    memcpy(r->got_leaf, ev->leaf, 32);
    /* this entry's prev is the leaf of the event before it: a reverse
     * scan asks for that one next */
    if (seq > 0) {
        r->has_leaf = 1;
        r->leaf_seq = seq - 1;
        memcpy(r->leaf, ev->prev, 32);
    }
    return 0;
}

int
ldg_body_view_set_record(struct ldg_body_view *b, const uint8_t *rec,
                         size_t len)
{
    if (b == NULL || rec == NULL)
        return LDG_EINVAL;
    if (ldg_body_view_from_record(b, rec, len) == 0)
        return 0;
    ldg_body_view_set_none(b);
    return 1;
}

int
ldg_reader_body(struct ldg_reader *r, uint64_t seq, const uint8_t **rec,
                size_t *len)
{
    struct ldg_val v;
    int rc;
    if (r == NULL || rec == NULL || len == NULL)
        return LDG_EINVAL;
    rc = seekc_get(&r->bc, seq, &v);
    if (rc == LDG_ENOTFOUND) {
        struct ldg_val e;
        /* the entry is there and the body is not: erased */
        if (seekc_get(&r->ec, seq, &e) == 0)
            return LDG_EERASED;
        return seq < ldg_txn_horizon(r->t) ? LDG_EPRUNED : LDG_ENOTFOUND;
    }
    if (rc < 0)
        return rc;
    *rec = v.data;
    *len = v.len;
    return 0;
}
