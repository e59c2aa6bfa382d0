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
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/crypto_int.h"
#include "ledger/handle_int.h"
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
    K_EPOCH, /* only for a key anchored before the horizon */
    K_HELD,
    K_ID,
    K_NAME,
    K_PUB,
    K_REVOKED,
    K_ROLES,
    K_SEALED,
    K_N
};
static const char *const hk_keys[K_N] = {"added",   "epoch", "held",
                                         "id",      "name",  "pub",
                                         "revoked", "roles", "sealed"};

/* "epoch": anchor[32] ‖ u64be t0 ‖ u64be period ‖ u64be anchor seq, then
 * the whole epoch part of its last epoch before the horizon, if any */
#define HK_EPOCH_HEAD 56

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

size_t
hz_map_cap(const struct ldg_horizon *h)
{
    /* a key map: 8 keys (47 bytes), the numbers (3 * 9), held (8), id
     * (17), name (66), pub (34), roles (258), its header: 458; and the
     * record's own keys and values: well under 512; an anchored key's
     * "epoch" adds its key, a bin16 header and its bytes */
    size_t cap = 512 + h->nkeys * 512;
    for (size_t i = 0; i < h->nkeys; i++)
        if (h->keys[i].anchored)
            cap += 16 + HK_EPOCH_HEAD + h->keys[i].epoch_len;
    return cap;
}

/* A bin of any length up to 65535, in its shortest form. */
static void
w_bin_head(struct wr *w, size_t n)
{
    uint8_t h[3] = {0xc5, (uint8_t)(n >> 8), (uint8_t)n};
    if (n > 0xffff)
        w->err = LDG_ETOOBIG;
    else if (n < 256)
        w_bytes(w, (uint8_t[]){0xc4, (uint8_t)n}, 2);
    else
        w_bytes(w, h, 3);
}

static void
w_epoch(struct wr *w, const struct ldg_horizon_key *k)
{
    uint8_t head[HK_EPOCH_HEAD];
    memcpy(head, k->anchor, 32);
    ldg_be64(head + 32, k->anchor_t0_ns);
    ldg_be64(head + 40, k->anchor_period_ns);
    ldg_be64(head + 48, k->anchor_seq);
    w_key(w, "epoch");
    w_bin_head(w, HK_EPOCH_HEAD + k->epoch_len);
    w_bytes(w, head, sizeof head);
    if (k->epoch_len > 0)
        w_bytes(w, k->epoch, k->epoch_len);
}

int
hz_map_encode(const struct ldg_horizon *h, uint8_t *out, size_t cap,
              size_t *len)
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
        w_byte(&w, (uint8_t)(0x80 | (k->anchored ? K_N : K_N - 1)));
        w_key(&w, "added");
        w_uint(&w, k->added);
        if (k->anchored)
            w_epoch(&w, k);
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

/* "epoch": in its shortest bin form, the head and nothing or a whole
 * epoch part (l0 = 0, j0 = 0) of exactly its length. */
static int
epoch_read(struct rd *r, struct ldg_horizon_key *k)
{
    size_t avail = (size_t)(r->end - r->p), n;
    const uint8_t *p;

    if (avail >= 2 && r->p[0] == 0xc4) {
        n = r->p[1];
        p = r->p + 2;
    } else if (avail >= 3 && r->p[0] == 0xc5) {
        n = ldg_rd_be16(r->p + 1);
        p = r->p + 3;
        if (n < 256)
            return -1;
    } else {
        return -1;
    }
    if ((size_t)(r->end - p) < n || n < HK_EPOCH_HEAD)
        return -1;
    r->p = p + n;
    if (n > HK_EPOCH_HEAD) {
        /* whole (FORMAT.md 5.1): u32be period ‖ u32be sub ‖ sig[64] ‖
         * l0 = 0 ‖ j0 = 0 ‖ 32 certs of 128 bytes ‖ sub (<= 16) links of
         * 104; its certs are checked from the anchor by its readers
         * (ldg_epoch_chain_from_horizon) */
        const uint8_t *x = p + HK_EPOCH_HEAD;
        uint32_t sub;
        if (n - HK_EPOCH_HEAD < 74 || x[72] != 0 || x[73] != 0)
            return -1;
        sub = ldg_rd_be32(x + 4);
        if (sub > 16 || n - HK_EPOCH_HEAD != 74 + 32 * 128 + (size_t)sub * 104)
            return -1;
    }
    k->anchored = 1;
    memcpy(k->anchor, p, 32);
    k->anchor_t0_ns = ldg_rd_be64(p + 32);
    k->anchor_period_ns = ldg_rd_be64(p + 40);
    k->anchor_seq = ldg_rd_be64(p + 48);
    if (k->anchor_period_ns == 0 || k->anchor_seq < k->added)
        return -1;
    if ((k->epoch_len = n - HK_EPOCH_HEAD) > 0) {
        if ((k->epoch = malloc(k->epoch_len)) == NULL)
            return -1;
        memcpy(k->epoch, p + HK_EPOCH_HEAD, k->epoch_len);
    }
    return 0;
}

static int
key_read(struct rd *r, struct ldg_horizon_key *k)
{
    unsigned n;
    int next = 0;
    if (r_map(r, &n) < 0 || (n != K_N && n != K_N - 1))
        return -1;
    for (unsigned c = 0; c < n; c++) {
        int rc = 0, i = next;
        if (i == K_EPOCH && n == K_N - 1) /* not anchored */
            i++;
        if (r_key(r, hk_keys, i + 1, i) != i)
            return -1;
        next = i + 1;
        switch (i) {
        case K_ADDED:
            rc = r_uint(r, &k->added);
            break;
        case K_EPOCH:
            rc = epoch_read(r, k);
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

static int
horizon_decode(const uint8_t *p, size_t len, struct ldg_horizon *h)
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
    if (len > LDG_HORIZON_RECORD_MAX) {
        memset(out, 0, sizeof *out);
        return LDG_ECORRUPT;
    }
    return horizon_decode(p, len, out);
}

void
ldg_horizon_release(struct ldg_horizon *h)
{
    if (h == NULL)
        return;
    for (size_t i = 0; h->keys != NULL && i < h->nkeys; i++)
        free(h->keys[i].epoch);
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
    size_t n, cap = hz_map_cap(h);
    int rc;

    if ((map = malloc(cap)) == NULL)
        return LDG_ENOMEM;
    rc = hz_map_encode(h, map, cap, &n);
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
    rc = horizon_decode(v.data, v.len, out);
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
