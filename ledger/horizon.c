/*
 * horizon.c — the ledger's horizon (FORMAT.md 6.2): the events before it
 * were pruned into an archive (retention/retention.h). The horizon record,
 * signed by the log key, carries what verification needs of the pruned
 * past: where the chain stands (the last pruned event's leaf hash and
 * time), the keys as they stood (with their roles and sealed counts), the
 * archive's SHA-256 and the projections' state digest there. The prune
 * itself removes the pruned events' entries, bodies, seals and index keys
 * inside the caller's write transaction; the tree, the checkpoints and the
 * key registry stay.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ledger/crypto_int.h"
#include "ledger/format.h"
#include "ledger/ledger_int.h"
#include "ledger/mp_int.h"

enum hz_key {
    H_ARCHIVE,
    H_FIRST,
    H_KEYS,
    H_LEAF,
    H_ORIGIN,
    H_PRUNED,
    H_SEQ,
    H_STATE,
    H_TS,
    H_N
};
static const char *const hz_keys[H_N] = {"archive", "first",  "keys",
                                         "leaf",    "origin", "pruned",
                                         "seq",     "state",  "ts"};
enum hk_key {
    K_ADDED,
    K_HELD,
    K_ID,
    K_NAME,
    K_PUB,
    K_REVOKED,
    K_ROLES,
    K_SEALED,
    K_N
};
static const char *const hk_keys[K_N] = {"added", "held",    "id",    "name",
                                         "pub",   "revoked", "roles", "sealed"};

/* ------------------------------------------------------------ codec -- */

static void
w_array(struct wr *w, size_t n)
{
    uint8_t h[3];
    if (n < 16) {
        w_byte(w, (uint8_t)(0x90 | n));
    } else if (n < 65536) {
        h[0] = 0xdc;
        h[1] = (uint8_t)(n >> 8);
        h[2] = (uint8_t)n;
        w_bytes(w, h, 3);
    } else {
        w->err = LDG_ETOOBIG;
    }
}

static int
r_array(struct rd *r, size_t *n)
{
    if (r->p >= r->end)
        return -1;
    if ((*r->p & 0xf0) == 0x90) {
        *n = *r->p++ & 0x0f;
        return 0;
    }
    if (*r->p == 0xdc && r->end - r->p >= 3) {
        *n = ldg_rd_be16(r->p + 1);
        if (*n < 16)
            return -1;
        r->p += 3;
        return 0;
    }
    return -1;
}

static size_t
map_cap(const struct ldg_horizon *h)
{
    /* a key map: 8 keys (47 bytes), the numbers (3 * 9), held (8), id
     * (17), name (66), pub (34), roles (258), its header: 458; and the
     * record's own keys and values: well under 512 */
    return 512 + h->nkeys * 512;
}

static int
map_encode(const struct ldg_horizon *h, uint8_t *out, size_t cap, size_t *len)
{
    struct wr w = {out, 0, cap, 0};

    if (h->nkeys > LDG_HORIZON_KEYS_MAX)
        return LDG_ETOOBIG;
    w_byte(&w, 0x80 | H_N);
    w_key(&w, "archive");
    w_bin(&w, h->archive, 32);
    w_key(&w, "first");
    w_uint(&w, h->first);
    w_key(&w, "keys");
    w_array(&w, h->nkeys);
    for (size_t i = 0; i < h->nkeys; i++) {
        const struct ldg_horizon_key *k = &h->keys[i];
        w_byte(&w, 0x80 | K_N);
        w_key(&w, "added");
        w_uint(&w, k->added);
        w_key(&w, "held");
        w_str(&w, k->held, strlen(k->held));
        w_key(&w, "id");
        w_str(&w, k->key_id, strlen(k->key_id));
        w_key(&w, "name");
        w_str(&w, k->name, strlen(k->name));
        w_key(&w, "pub");
        w_bin(&w, k->pub, 32);
        w_key(&w, "revoked");
        w_uint(&w, k->revoked);
        w_key(&w, "roles");
        w_str(&w, k->roles, strlen(k->roles));
        w_key(&w, "sealed");
        w_uint(&w, k->sealed);
    }
    w_key(&w, "leaf");
    w_bin(&w, h->leaf, 32);
    w_key(&w, "origin");
    w_str(&w, h->origin, strlen(h->origin));
    w_key(&w, "pruned");
    w_uint(&w, h->pruned_ns);
    w_key(&w, "seq");
    w_uint(&w, h->seq);
    w_key(&w, "state");
    w_bin(&w, h->state, 32);
    w_key(&w, "ts");
    w_uint(&w, h->ts_ns);
    if (w.err)
        return w.err;
    *len = w.n;
    return 0;
}

static int
r_text(struct rd *r, char *out, size_t cap, size_t min)
{
    const char *s;
    size_t n;
    if (r_str(r, &s, &n) < 0 || n < min || n >= cap || memchr(s, 0, n))
        return -1;
    memcpy(out, s, n);
    out[n] = '\0';
    return 0;
}

static int
key_read(struct rd *r, struct ldg_horizon_key *k)
{
    unsigned n;
    if (r_map(r, &n) < 0 || n != K_N)
        return -1;
    for (int i = 0; i < K_N; i++) {
        int rc = 0;
        if (r_key(r, hk_keys, i + 1, i) != i)
            return -1;
        switch (i) {
        case K_ADDED:
            rc = r_uint(r, &k->added);
            break;
        case K_HELD:
            rc = r_text(r, k->held, sizeof k->held, 0);
            break;
        case K_ID:
            rc = r_text(r, k->key_id, sizeof k->key_id, LDG_KEYID_LEN);
            if (rc == 0 && !keyid_ok(k->key_id, strlen(k->key_id)))
                rc = -1;
            break;
        case K_NAME:
            rc = r_text(r, k->name, sizeof k->name, 1);
            break;
        case K_PUB:
            rc = r_bin(r, k->pub, 32);
            break;
        case K_REVOKED:
            rc = r_uint(r, &k->revoked);
            break;
        case K_ROLES:
            rc = r_text(r, k->roles, sizeof k->roles, 0);
            break;
        case K_SEALED:
            rc = r_uint(r, &k->sealed);
            break;
        default:
            break;
        }
        if (rc < 0)
            return -1;
    }
    return 0;
}

static int
map_read(struct rd *r, struct ldg_horizon *h)
{
    unsigned n;
    size_t nk;
    if (r_map(r, &n) < 0 || n != H_N)
        return LDG_ECORRUPT;
    for (int i = 0; i < H_N; i++) {
        int rc = 0;
        if (r_key(r, hz_keys, i + 1, i) != i)
            return LDG_ECORRUPT;
        switch (i) {
        case H_ARCHIVE:
            rc = r_bin(r, h->archive, 32);
            break;
        case H_FIRST:
            rc = r_uint(r, &h->first);
            break;
        case H_KEYS:
            if (r_array(r, &nk) < 0 || nk > LDG_HORIZON_KEYS_MAX)
                return LDG_ECORRUPT;
            /* each key takes at least 40 bytes: bounded by the record */
            if (nk > (size_t)(r->end - r->p) / 40)
                return LDG_ECORRUPT;
            h->keys = calloc(nk ? nk : 1, sizeof *h->keys);
            if (h->keys == NULL)
                return LDG_ENOMEM;
            h->nkeys = nk;
            for (size_t j = 0; j < nk && rc == 0; j++) {
                rc = key_read(r, &h->keys[j]);
                /* in increasing key id, each once */
                if (rc == 0 && j > 0 &&
                    strcmp(h->keys[j - 1].key_id, h->keys[j].key_id) >= 0)
                    rc = -1;
            }
            break;
        case H_LEAF:
            rc = r_bin(r, h->leaf, 32);
            break;
        case H_ORIGIN:
            rc = r_text(r, h->origin, sizeof h->origin, 1);
            break;
        case H_PRUNED:
            rc = r_uint(r, &h->pruned_ns);
            break;
        case H_SEQ:
            rc = r_uint(r, &h->seq);
            break;
        case H_STATE:
            rc = r_bin(r, h->state, 32);
            break;
        case H_TS:
            rc = r_uint(r, &h->ts_ns);
            break;
        default:
            break;
        }
        if (rc < 0)
            return LDG_ECORRUPT;
    }
    return h->seq == 0 || h->first >= h->seq ? LDG_ECORRUPT : 0;
}

int
ldg_horizon_decode(const uint8_t *p, size_t len, struct ldg_horizon *h)
{
    struct rd r;
    int rc;

    memset(h, 0, sizeof *h);
    if (len < 1 + 66 || p[0] != 0x92)
        return LDG_ECORRUPT;
    r.p = p + 1;
    r.end = p + len;
    rc = map_read(&r, h);
    if (rc == 0 && (r_bin(&r, h->sig, 64) < 0 || r.p != r.end))
        rc = LDG_ECORRUPT;
    if (rc < 0)
        ldg_horizon_release(h);
    return rc;
}

int
ldg_horizon_parse(const uint8_t *p, size_t len, struct ldg_horizon *out)
{
    if (p == NULL || out == NULL)
        return LDG_EINVAL;
    if (len > (size_t)1 << 20) {
        memset(out, 0, sizeof *out);
        return LDG_ECORRUPT;
    }
    return ldg_horizon_decode(p, len, out);
}

void
ldg_horizon_release(struct ldg_horizon *h)
{
    if (h == NULL)
        return;
    free(h->keys);
    free(h->record);
    h->keys = NULL;
    h->nkeys = 0;
    h->record = NULL;
    h->record_len = 0;
}

int
ldg_horizon_check_sig(const struct ldg_horizon *h, const uint8_t pub[32])
{
    uint8_t *map;
    size_t n, cap = map_cap(h);
    int rc;

    if ((map = malloc(cap)) == NULL)
        return LDG_ENOMEM;
    rc = map_encode(h, map, cap, &n);
    if (rc == 0)
        rc = ldg_ed25519_verify_ctx(h->sig, LDG_CTX_HORIZON, map, n, pub) == 0
                 ? 0
                 : LDG_EBADSIG;
    free(map);
    return rc;
}

/* ------------------------------------------------------------ reading -- */

int
ldg_horizon_get(struct ldg_txn *t, struct ldg_horizon *out)
{
    struct ldg_ledger *l;
    struct ldg_val v;
    int rc;

    if (t == NULL || out == NULL)
        return LDG_EINVAL;
    memset(out, 0, sizeof *out);
    l = ldg_txn_ledger(t);
    rc = ldg_kv_get(t, ldg_core(l, LDG_DB_META), LDG_META_HORIZON,
                    strlen(LDG_META_HORIZON), &v);
    if (rc < 0)
        return rc;
    rc = ldg_horizon_decode(v.data, v.len, out);
    if (rc == 0) {
        if ((out->record = malloc(v.len)) == NULL) {
            ldg_horizon_release(out);
            return LDG_ENOMEM;
        }
        memcpy(out->record, v.data, v.len);
        out->record_len = v.len;
    }
    if (rc == LDG_ECORRUPT)
        ldg_seterr(l, "the horizon record (meta \"horizon\") does not decode");
    return rc;
}

int
ldg_horizon(struct ldg_ledger *l, struct ldg_horizon *out)
{
    struct ldg_txn *t;
    int rc;

    if (l == NULL || out == NULL)
        return LDG_EINVAL;
    memset(out, 0, sizeof *out);
    if ((rc = ldg_txn_begin(l, LDG_TXN_READ, &t)) < 0)
        return rc;
    rc = ldg_horizon_get(t, out);
    ldg_txn_abort(t);
    return rc;
}

uint64_t
ldg_txn_horizon(struct ldg_txn *t)
{
    struct ldg_horizon h;
    uint64_t seq;
    if (ldg_horizon_get(t, &h) < 0)
        return 0;
    seq = h.seq;
    ldg_horizon_release(&h);
    return seq;
}

const struct ldg_horizon_key *
ldg_horizon_key_find(const struct ldg_horizon *h, const char *key_id)
{
    for (size_t i = 0; h != NULL && i < h->nkeys; i++)
        if (strcmp(h->keys[i].key_id, key_id) == 0)
            return &h->keys[i];
    return NULL;
}

void
ldg_horizon_describe(const struct ldg_horizon *h, char *buf, size_t cap)
{
    char ts[40], hex[65];
    ldg_hex(hex, h->archive, 32);
    /* (human output's one format; the seqs say where exactly) */
    ldg_time_when(ts, sizeof ts, h->ts_ns);
    if (h->first == 0)
        snprintf(buf, cap,
                 "events 0..%llu (up to %s) were pruned into the archive with "
                 "SHA-256 %s",
                 (unsigned long long)(h->seq - 1), ts, hex);
    else
        snprintf(buf, cap,
                 "events 0..%llu (up to %s) were pruned: %llu..%llu into the "
                 "archive with SHA-256 %s, the ones before into earlier "
                 "archives",
                 (unsigned long long)(h->seq - 1), ts,
                 (unsigned long long)h->first, (unsigned long long)(h->seq - 1),
                 hex);
}

/* ------------------------------------------------------------ pruning -- */

/* The keys as they stood at horizon hz (added before it), with their
 * roles and the events their seals covered before it. */
static int
keys_at(struct ldg_txn *t, const struct ldg_horizon *old, uint64_t hz,
        struct ldg_horizon *h)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    struct ldg_cursor *c = NULL;
    struct ldg_val k, v;
    size_t cap = 0;
    int rc;

    if ((rc = ldg_cursor_open(t, ldg_core(l, LDG_DB_KEYS), &c)) < 0)
        return rc;
    for (rc = ldg_cursor_get(c, LDG_SET_RANGE, LDG_KEYS_ID, LDG_KEYS_ID_LEN, &k,
                             &v);
         rc == 0; rc = ldg_cursor_get(c, LDG_NEXT, NULL, 0, &k, &v)) {
        struct ldg_key_state ks;
        struct ldg_horizon_key *hk;
        const struct ldg_horizon_key *was;
        char id[LDG_KEYID_LEN + 1];
        if (k.len != LDG_KEYS_ID_LEN + LDG_KEYID_LEN ||
            memcmp(k.data, LDG_KEYS_ID, LDG_KEYS_ID_LEN) != 0)
            break;
        memcpy(id, (const char *)k.data + LDG_KEYS_ID_LEN, LDG_KEYID_LEN);
        id[LDG_KEYID_LEN] = '\0';
        /* proven against the key events (or the old horizon) */
        if ((rc = ldg_keys_lookup(t, id, &ks)) < 0)
            break;
        if (ks.added_seq >= hz)
            continue;
        if (h->nkeys == cap) {
            struct ldg_horizon_key *nk;
            cap = cap ? 2 * cap : 16;
            if (cap > LDG_HORIZON_KEYS_MAX + 16 ||
                (nk = realloc(h->keys, cap * sizeof *nk)) == NULL) {
                rc = cap > LDG_HORIZON_KEYS_MAX ? LDG_ETOOBIG : LDG_ENOMEM;
                break;
            }
            h->keys = nk;
        }
        hk = &h->keys[h->nkeys++];
        memset(hk, 0, sizeof *hk);
        memcpy(hk->key_id, ks.key_id, sizeof hk->key_id);
        memcpy(hk->name, ks.name, sizeof hk->name);
        memcpy(hk->pub, ks.pub, 32);
        hk->added = ks.added_seq;
        hk->revoked = ks.revoked_seq < hz ? ks.revoked_seq : UINT64_MAX;
        was = ldg_horizon_key_find(old, id);
        if (was != NULL) {
            snprintf(hk->roles, sizeof hk->roles, "%s", was->roles);
            hk->sealed = was->sealed;
        } else if (ks.added_seq == 0) {
            snprintf(hk->roles, sizeof hk->roles, "*");
        } else {
            ldg_keys_roles_text(t, &ks, hk->roles, sizeof hk->roles);
        }
        if (was != NULL)
            snprintf(hk->held, sizeof hk->held, "%s", was->held);
        else if (ldg_key_writer_held(t, ks.added_seq) == 1)
            snprintf(hk->held, sizeof hk->held, "writer");
    }
    ldg_cursor_close(c);
    if (rc == LDG_ENOTFOUND)
        rc = 0;
    if (rc < 0)
        return rc;
    /* the seals of the events pruned now: their counts, by key */
    if (l->format >= 2) {
        uint8_t key[8];
        if ((rc = ldg_cursor_open(t, ldg_core(l, LDG_DB_SEALS), &c)) < 0)
            return rc;
        ldg_be64(key, old ? old->seq : 0);
        for (rc = ldg_cursor_get(c, LDG_SET_RANGE, key, 8, &k, &v); rc == 0;
             rc = ldg_cursor_get(c, LDG_NEXT, NULL, 0, &k, &v)) {
            struct ldg_seal s;
            struct ldg_horizon_key *hk = NULL;
            if (k.len != 8 || ldg_rd_be64(k.data) >= hz)
                break;
            if (ldg_seal_record_decode(v.data, v.len, &s) < 0) {
                rc = LDG_ECORRUPT;
                break;
            }
            for (size_t i = 0; i < h->nkeys && hk == NULL; i++)
                if (strcmp(h->keys[i].key_id, s.key_id) == 0)
                    hk = &h->keys[i];
            if (hk == NULL) {
                rc = LDG_ECORRUPT;
                break;
            }
            hk->sealed += s.count;
        }
        ldg_cursor_close(c);
        if (rc == LDG_ENOTFOUND)
            rc = 0;
    }
    return rc;
}

/* A prune reads every page of the records it deletes and of the indexes
 * it walks, and an index's deletions are scattered (a page each, read and
 * copied): the pages it is done with leave the process every
 * PRUNE_RELEASE records (the map is read-only; a page touched again is
 * read again from the page cache), so that its resident size is a step's
 * changes, not the ledger's (16,384 let a 1M-event prune peak at 173 MiB,
 * 2,048 at 91 MiB, in the same time). */
#define PRUNE_RELEASE 2048

/* Deletes the keys of db of below's length from `from` (NULL: the
 * first key) up to (not including) below, counting them in *n. */
static int
del_below(struct ldg_txn *t, enum ldg_core_db db, const uint8_t *from,
          size_t from_len, const uint8_t *below, size_t len, uint64_t *n)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    struct ldg_cursor *c;
    struct ldg_val k;
    int rc;

    if (!ldg_store_has_core(l->store, db))
        return 0;
    if ((rc = ldg_cursor_open(t, ldg_core(l, db), &c)) < 0)
        return rc;
    /* deleting as it goes, then from the first key again until it is past
     * below: a step after a delete is LMDB's to get right, the last look
     * is ours */
    for (;;) {
        uint64_t before = *n;
        for (rc = from != NULL
                      ? ldg_cursor_get(c, LDG_SET_RANGE, from, from_len, &k,
                                       NULL)
                      : ldg_cursor_get(c, LDG_FIRST, NULL, 0, &k, NULL);
             rc == 0; rc = ldg_cursor_get(c, LDG_NEXT, NULL, 0, &k, NULL)) {
            if (k.len != len || memcmp(k.data, below, len) >= 0)
                break;
            if ((rc = ldg_cursor_del(c)) < 0)
                break;
            if (++*n % PRUNE_RELEASE == 0)
                ldg_store_trim(l->store);
        }
        if (rc < 0 || *n == before)
            break;
    }
    ldg_cursor_close(c);
    return rc == LDG_ENOTFOUND ? 0 : rc;
}

/* Deletes the keys of db from the first up to (not including) the u64be
 * key hz. */
static int
del_seq_range(struct ldg_txn *t, enum ldg_core_db db, uint64_t hz, uint64_t *n)
{
    uint8_t below[8];
    ldg_be64(below, hz);
    return del_below(t, db, NULL, 0, below, sizeof below, n);
}

/* Deletes the index records of the events before hz: in ix.* the
 * duplicates below it (each key's first ones), in idx.* the keys whose
 * last 8 bytes are a seq below it. */
static int
del_index(struct ldg_txn *t, enum ldg_core_db db, uint64_t hz, uint64_t *n)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    int dups = ldg_index_dups(db);
    uint64_t seen = 0;
    struct ldg_cursor *c;
    struct ldg_val k, v;
    int rc;

    if (!ldg_store_has_core(l->store, db))
        return 0;
    if ((rc = ldg_cursor_open(t, ldg_core(l, db), &c)) < 0)
        return rc;
    rc = ldg_cursor_get(c, LDG_FIRST, NULL, 0, &k, &v);
    while (rc == 0) {
        const uint8_t *s = dups ? v.data : (const uint8_t *)k.data + k.len - 8;
        if (++seen % PRUNE_RELEASE == 0)
            ldg_store_trim(l->store);
        if ((dups ? v.len : k.len) < 8) {
            rc = LDG_ECORRUPT;
            break;
        }
        if (ldg_rd_be64(s) < hz) {
            uint8_t key[LDG_SUBJECT_MAX + 16];
            size_t klen = k.len < sizeof key ? k.len : sizeof key;
            memcpy(key, k.data, klen);
            if ((rc = ldg_cursor_del(c)) < 0)
                break;
            (*n)++;
            /* from the deleted record's key again: the key's next
             * duplicate, or the next key (a step after deleting a key's
             * last duplicate skipped the next key's first in LMDB) */
            rc = ldg_cursor_get(c, LDG_SET_RANGE, key, klen, &k, &v);
        } else {
            rc = ldg_cursor_get(c, dups ? LDG_NEXT_NODUP : LDG_NEXT, NULL, 0,
                                &k, &v);
        }
    }
    ldg_cursor_close(c);
    return rc == LDG_ENOTFOUND ? 0 : rc;
}

/* Deletes the records of db keyed u8 level ‖ u64be index (ldg_tree_key)
 * at level 0 with an index below end. */
static int
del_level0(struct ldg_txn *t, enum ldg_core_db db, uint64_t end, uint64_t *n)
{
    uint8_t first[LDG_TREE_KEY_LEN], below[LDG_TREE_KEY_LEN];
    if (end == 0)
        return 0;
    ldg_tree_key(first, 0, 0);
    ldg_tree_key(below, 0, end);
    return del_below(t, db, first, sizeof first, below, sizeof below, n);
}

/* Store layout 999 (FORMAT.md 6.2): the level-0 tiles wholly before the
 * one holding event hz-1, and their last hashes in db tree, go with the
 * pruned events. Every hash a proof of an event from hz on needs stays:
 * its siblings below level 8 lie in its own tile (at or after that one),
 * and those of level 8 and up are the hashes of tile levels 1 and up,
 * which stay whole; so do the roots of sizes from hz on, and the
 * consistency proofs between them (a size's own tile is at or after it).
 * What needs a dropped hash (a proof of an event before the kept tiles,
 * a consistency proof from a size inside them) answers LDG_EPRUNED. */
static int
drop_pruned_tiles(struct ldg_txn *t, uint64_t hz, uint64_t *n)
{
    uint64_t kept = (hz - 1) / LDG_TILE_WIDTH * LDG_TILE_WIDTH, last = 0;
    int rc;

    if (ldg_txn_layout(t) != LDG_LAYOUT_INTAKE)
        return 0;
    if ((rc = del_level0(t, LDG_DB_TILES, kept / LDG_TILE_WIDTH, n)) < 0)
        return rc;
    /* (the split tiles' last hashes: counted with their tiles) */
    return del_level0(t, LDG_DB_TREE, kept, &last);
}

int
ldg_horizon_entry(struct ldg_txn *t, uint64_t hz, uint64_t seq,
                  const uint8_t **entry, size_t *len)
{
    struct ldg_val v;
    const uint8_t *p, *end;
    uint64_t k0 = hz / LDG_TILE_WIDTH * LDG_TILE_WIDTH, s;
    int rc;

    if (seq < k0 || seq >= hz)
        return LDG_ENOTFOUND;
    rc = ldg_kv_get(t, ldg_core(ldg_txn_ledger(t), LDG_DB_META),
                    LDG_META_HORIZON_ENTRIES, strlen(LDG_META_HORIZON_ENTRIES),
                    &v);
    if (rc < 0)
        return rc;
    p = v.data;
    end = p + v.len;
    for (s = k0; p + 2 <= end; s++) {
        size_t n = (size_t)p[0] << 8 | p[1];
        if ((size_t)(end - p - 2) < n)
            return LDG_ECORRUPT;
        if (s == seq) {
            /* (the last one ends the record) */
            if (seq == hz - 1 && p + 2 + n != end)
                return LDG_ECORRUPT;
            *entry = p + 2;
            *len = n;
            return 0;
        }
        p += 2 + n;
    }
    return LDG_ECORRUPT; /* (fewer entries than its span) */
}

/* Keeps the pruned entries of the entry tile hz falls in (events k0..hz-1,
 * k0 = floor(hz/256)*256) in meta "horizon.entries", from the entries
 * database or, for those an earlier prune (old_hz) took, its own kept
 * ones; removes the record when hz is on a tile's edge. */
static int
keep_tile_entries(struct ldg_txn *t, uint64_t old_hz, uint64_t hz)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    ldg_dbi meta = ldg_core(l, LDG_DB_META);
    const char *key = LDG_META_HORIZON_ENTRIES;
    uint64_t k0 = hz / LDG_TILE_WIDTH * LDG_TILE_WIDTH;
    uint8_t *buf = NULL, *whole;
    size_t len = 0, cap = 0;
    int rc = 0;

    if (k0 == hz) {
        rc = ldg_core_kv_del(t, meta, key, strlen(key), NULL, 0);
        return rc == LDG_ENOTFOUND ? 0 : rc;
    }
    if ((whole = malloc(LDG_ENTRY_MAX)) == NULL)
        return LDG_ENOMEM;
    for (uint64_t seq = k0; seq < hz && rc == 0; seq++) {
        const uint8_t *e;
        size_t n;
        if (seq < old_hz) {
            /* pruned before: kept by that prune, if it kept them */
            rc = ldg_horizon_entry(t, old_hz, seq, &e, &n);
        } else {
            /* the whole entry, as a tile's bundle publishes it */
            rc = ldg_event_entry(t, seq, whole, LDG_ENTRY_MAX, &e, &n);
        }
        if (rc == LDG_ENOTFOUND) {
            /* a ledger pruned before these were kept (2026-11-25), in this
             * same tile: the record cannot be made, and verify would find
             * it missing (FORMAT.md 6.2) */
            free(buf);
            free(whole);
            ldg_seterr(l,
                       "the earlier prune (horizon %llu) kept no entries of "
                       "its entry tile (meta horizon.entries), which a "
                       "horizon at %llu in the same tile needs: prune "
                       "before %llu or later (a tile's edge or past it)",
                       (unsigned long long)old_hz, (unsigned long long)hz,
                       (unsigned long long)(k0 + LDG_TILE_WIDTH));
            return LDG_EINVAL;
        }
        if (rc < 0)
            break;
        if (n > 0xffff) {
            rc = LDG_ECORRUPT;
            break;
        }
        if (len + 2 + n > cap) {
            size_t nc = cap ? cap * 2 : 16384;
            uint8_t *nb;
            while (nc < len + 2 + n)
                nc *= 2;
            if ((nb = realloc(buf, nc)) == NULL) {
                rc = LDG_ENOMEM;
                break;
            }
            buf = nb;
            cap = nc;
        }
        buf[len] = (uint8_t)(n >> 8);
        buf[len + 1] = (uint8_t)n;
        memcpy(buf + len + 2, e, n);
        len += 2 + n;
    }
    if (rc == 0)
        rc = ldg_core_kv_put(t, meta, key, strlen(key), buf, len);
    free(buf);
    free(whole);
    return rc;
}

int
ldg_prune_txn(struct ldg_txn *t, uint64_t hz, const uint8_t archive[32],
              const uint8_t state[32], uint64_t now_ns,
              struct ldg_prune_stats *st)
{
    static const enum ldg_core_db idx[] = {
        LDG_DB_IDX_TYPE, LDG_DB_IDX_SUBJECT, LDG_DB_IDX_RUN, LDG_DB_IDX_ACTOR,
        LDG_DB_IDX_TIME, LDG_DB_IDX_ID,      LDG_DB_IX_TYPE, LDG_DB_IX_SUBJECT,
        LDG_DB_IX_RUN,   LDG_DB_IX_ACTOR,    LDG_DB_IX_BODY};
    struct ldg_ledger *l = ldg_txn_ledger(t);
    struct ldg_horizon old, h;
    struct ldg_event ev;
    struct ldg_val v;
    uint8_t ck[8], *rec = NULL;
    uint64_t size;
    size_t n, cap;
    int rc, has_old;

    memset(st, 0, sizeof *st);
    memset(&h, 0, sizeof h);
    if ((rc = ldg_txn_size(t, &size)) < 0)
        return rc;
    rc = ldg_horizon_get(t, &old);
    if (rc < 0 && rc != LDG_ENOTFOUND)
        return rc;
    has_old = rc == 0;
    st->from = has_old ? old.seq : 0;
    st->to = hz;
    if (hz == 0 || hz > size || hz <= st->from) {
        ldg_seterr(l,
                   "cannot prune before %llu: the log holds events %llu to "
                   "%llu",
                   (unsigned long long)hz, (unsigned long long)st->from,
                   (unsigned long long)(size ? size - 1 : 0));
        rc = LDG_EINVAL;
        goto out;
    }
    ldg_be64(ck, hz);
    if ((rc = ldg_kv_get(t, ldg_core(l, LDG_DB_CHECKPOINTS), ck, 8, &v)) < 0) {
        if (rc == LDG_ENOTFOUND) {
            ldg_seterr(l,
                       "no checkpoint at size %llu: a horizon must be a "
                       "commit's end",
                       (unsigned long long)hz);
            rc = LDG_EINVAL;
        }
        goto out;
    }
    if ((rc = ldg_log_secret_load(l)) < 0)
        goto out;
    if ((rc = ldg_event_get(t, hz - 1, &ev)) < 0)
        goto out;
    h.seq = hz;
    /* a prune split into steps (retention's, each a commit of its own)
     * names one archive in each step's record: the events it holds start
     * where the first step started */
    h.first =
        has_old && memcmp(old.archive, archive, 32) == 0 ? old.first : st->from;
    h.ts_ns = ev.ts_ns;
    h.pruned_ns = now_ns;
    memcpy(h.leaf, ev.leaf, 32);
    memcpy(h.archive, archive, 32);
    memcpy(h.state, state, 32);
    snprintf(h.origin, sizeof h.origin, "%s", l->origin);
    if ((rc = keys_at(t, has_old ? &old : NULL, hz, &h)) < 0)
        goto out;
    /* the horizon record first: from here on every reader of this
     * transaction's view knows the events before hz are gone */
    cap = 1 + map_cap(&h) + 66;
    if ((rec = malloc(cap)) == NULL) {
        rc = LDG_ENOMEM;
        goto out;
    }
    rec[0] = 0x92;
    if ((rc = map_encode(&h, rec + 1, cap - 67, &n)) < 0 ||
        (rc = ldg_ed25519_sign_ctx(h.sig, LDG_CTX_HORIZON, rec + 1, n,
                                   l->log_key)) < 0)
        goto out;
    rec[1 + n] = 0xc4;
    rec[2 + n] = 64;
    memcpy(rec + 3 + n, h.sig, 64);
    rc = ldg_core_kv_put(t, ldg_core(l, LDG_DB_META), LDG_META_HORIZON,
                         strlen(LDG_META_HORIZON), rec, n + 67);
    if (rc < 0)
        goto out;
    if ((rc = keep_tile_entries(t, st->from, hz)) < 0)
        goto out;
    if ((rc = del_seq_range(t, ldg_db_entries(t), hz, &st->entries)) < 0 ||
        (rc = del_seq_range(t, ldg_db_bodies(t), hz, &st->bodies)) < 0 ||
        (rc = del_seq_range(t, LDG_DB_SEALS, hz, &st->seals)) < 0 ||
        (rc = drop_pruned_tiles(t, hz, &st->tiles)) < 0)
        goto out;
    for (size_t i = 0; i < sizeof idx / sizeof idx[0]; i++)
        if ((rc = del_index(t, idx[i], hz, &st->index_keys)) < 0)
            goto out;
out:
    if (rc < 0 && rc != LDG_EINVAL && ldg_errbuf(l)[0] == '\0')
        ldg_seterr(l, "prune: %s", ldg_strerror(rc));
    free(rec);
    ldg_horizon_release(&h);
    if (has_old)
        ldg_horizon_release(&old);
    return rc;
}

/* ----------------------------------------------- a reader's windows -- */

struct wc_scan {
    struct ldg_txn *t;
    struct ldg_window_check *c;
};

int
ldg_erasure_target(struct ldg_txn *t, uint64_t seq, uint64_t *target)
{
    json_t *body = NULL;
    json_int_t tg;
    int rc = ldg_body_get(t, seq, &body);
    if (rc < 0)
        return rc == LDG_EERASED ? 1 : rc;
    tg = json_integer_value(json_object_get(body, "target_seq"));
    json_decref(body);
    if (tg < 0)
        return 1;
    *target = (uint64_t)tg;
    return 0;
}

static int
wc_erasure(void *ctx, uint64_t seq)
{
    struct wc_scan *x = ctx;
    uint64_t tg;
    int rc = ldg_erasure_target(x->t, seq, &tg);
    if (rc != 0)
        return rc < 0 ? rc : 0;
    if (tg < x->c->below) {
        x->c->erased = tg;
        x->c->erased_by = seq;
        return 1;
    }
    return 0;
}

int
ldg_window_check(struct ldg_txn *t, struct ldg_window_check *c)
{
    struct ldg_ledger *l;
    struct ldg_horizon h;
    struct wc_scan x = {t, c};
    uint64_t size, hz = 0;
    int rc;

    if (t == NULL || c == NULL)
        return LDG_EINVAL;
    l = ldg_txn_ledger(t);
    c->pruned_to = c->erased = c->erased_by = 0;
    memset(&h, 0, sizeof h);
    rc = ldg_horizon_get(t, &h);
    if (rc == 0)
        hz = h.seq;
    ldg_horizon_release(&h);
    if (rc < 0 && rc != LDG_ENOTFOUND) {
        ldg_seterr(l, "reading the horizon: %s", ldg_strerror(rc));
        return rc;
    }
    if (hz != c->horizon) {
        c->pruned_to = hz;
        return LDG_ENOTFOUND;
    }
    if ((rc = ldg_txn_size(t, &size)) < 0)
        return rc;
    if (size <= c->seen)
        return 0;
    x.c->erased_by = UINT64_MAX;
    rc = ldg_index_walk(t, LDG_INDEX_TYPE, LDG_EV_BODY_ERASED, c->seen,
                        size - 1, 0, wc_erasure, &x);
    if (rc < 0) {
        ldg_seterr(l, "reading the ledger: %s", ldg_strerror(rc));
        return rc;
    }
    if (c->erased_by != UINT64_MAX)
        return LDG_ENOTFOUND;
    c->erased_by = 0;
    c->seen = size;
    return 0;
}

int
ldg_window_begin(struct ldg_window *w)
{
    int rc;
    if (w->snapshot != NULL)
        w->snapshot(w->snapshot_ctx, 1);
    if ((rc = ldg_txn_begin(w->l, LDG_TXN_READ, &w->t)) < 0) {
        w->t = NULL;
        if (w->snapshot != NULL)
            w->snapshot(w->snapshot_ctx, 0);
    }
    return rc;
}

void
ldg_window_end(struct ldg_window *w)
{
    if (w->t == NULL)
        return;
    ldg_txn_abort(w->t);
    w->t = NULL;
    if (w->snapshot != NULL)
        w->snapshot(w->snapshot_ctx, 0);
}

int
ldg_window_next(struct ldg_window *w, const char *doing)
{
    int rc;
    if ((rc = ldg_window_begin(w)) < 0) {
        ldg_seterr(w->l, "reading the ledger: %s", ldg_strerror(rc));
        return rc;
    }
    rc = ldg_window_check(w->t, &w->wc);
    if (rc == LDG_ENOTFOUND && w->wc.pruned_to != w->wc.horizon)
        ldg_seterr(w->l,
                   "events %" PRIu64 "..%" PRIu64 " were pruned while %s; "
                   "nothing was written: run it again",
                   w->wc.horizon, w->wc.pruned_to - 1, doing);
    else if (rc == LDG_ENOTFOUND)
        ldg_seterr(w->l,
                   "event %" PRIu64 "'s body was erased (by event %" PRIu64
                   ") while %s; nothing was written: run it again",
                   w->wc.erased, w->wc.erased_by, doing);
    return rc;
}
