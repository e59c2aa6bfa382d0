/*
 * epoch_log.c — epoch keys in the log (issue 65; FORMAT.md 5.1): the
 * anchor event and its registry record, the epoch part of each seal by an
 * anchored key, and `ledger keys anchor`, `keys advance`, `keys epochs`.
 *
 * The registry record (db keys, next to "id:", "name:", "sealed:"):
 *
 *   "epoch:" key_id[16] -> anchor[32] ‖ u64be t0 ‖ u64be period_ns ‖
 *                          u64be anchor_seq ‖ u8 has ‖ u32be period ‖
 *                          u32be sub ‖ u64be from_seq          (73 bytes)
 *
 * written when key.anchored is appended (has = 0), and by each seal that
 * opens an epoch (the epoch the log carries last, and the seq of the seal
 * that opened it): the next seal carries the certs and links from there.
 *
 * Every step that seals, advances or anchors runs inside an LMDB write
 * transaction: the writer lock is the lock of the epoch state file too.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "ledger/epoch_int.h"
#include "ledger/keys_int.h"
#include "ledger/tlog_int.h"

#define REC_LEN 73

static void
rec_key(uint8_t k[6 + LDG_KEYID_LEN], const char *key_id)
{
    memcpy(k, "epoch:", 6);
    memcpy(k + 6, key_id, LDG_KEYID_LEN);
}

static int
rec_decode(const uint8_t *p, size_t n, struct ldg_epoch_rec *r)
{
    if (n != REC_LEN)
        return LDG_ECORRUPT;
    memcpy(r->par.anchor, p, 32);
    r->par.t0_ns = ldg_rd_be64(p + 32);
    r->par.len_ns = ldg_rd_be64(p + 40);
    r->anchor_seq = ldg_rd_be64(p + 48);
    r->has = p[56];
    r->e.period = ldg_rd_be32(p + 57);
    r->e.sub = ldg_rd_be32(p + 61);
    r->from_seq = ldg_rd_be64(p + 65);
    return r->has > 1 ? LDG_ECORRUPT : 0;
}

int
ldg_epoch_rec_get(struct ldg_txn *t, const char *key_id,
                  struct ldg_epoch_rec *r)
{
    uint8_t k[6 + LDG_KEYID_LEN];
    struct ldg_val v;
    int rc;

    rec_key(k, key_id);
    rc = ldg_kv_get(t, ldg_store_core_dbi(ldg_txn_store(t), LDG_DB_KEYS), k,
                    sizeof k, &v);
    if (rc < 0)
        return rc;
    return rec_decode(v.data, v.len, r);
}

static int
rec_put(struct ldg_txn *t, const char *key_id, const struct ldg_epoch_rec *r)
{
    uint8_t k[6 + LDG_KEYID_LEN], v[REC_LEN];

    rec_key(k, key_id);
    memcpy(v, r->par.anchor, 32);
    ldg_be64(v + 32, r->par.t0_ns);
    ldg_be64(v + 40, r->par.len_ns);
    ldg_be64(v + 48, r->anchor_seq);
    v[56] = (uint8_t)r->has;
    ldg_be32(v + 57, r->e.period);
    ldg_be32(v + 61, r->e.sub);
    ldg_be64(v + 65, r->from_seq);
    return ldg_core_kv_put(t, ldg_store_core_dbi(ldg_txn_store(t), LDG_DB_KEYS),
                           k, sizeof k, v, sizeof v);
}

int
ldg_epoch_anchored_before(struct ldg_txn *t, const char *key_id, uint64_t seq)
{
    struct ldg_epoch_rec r;
    return ldg_epoch_rec_get(t, key_id, &r) == 0 && r.anchor_seq < seq;
}

int
ldg_epoch_registry_agrees(struct ldg_txn *t, const struct ldg_horizon_key *hk)
{
    struct ldg_epoch_rec r;
    int rc = ldg_epoch_rec_get(t, hk->key_id, &r);
    if (rc == LDG_ENOTFOUND)
        return 1;
    return rc == 0 && ldg_epoch_rec_is(&r, hk);
}

int
ldg_epoch_rec_is(const struct ldg_epoch_rec *r,
                 const struct ldg_horizon_key *hk)
{
    return hk->anchored && r->anchor_seq == hk->anchor_seq &&
           memcmp(r->par.anchor, hk->anchor, 32) == 0 &&
           r->par.t0_ns == hk->anchor_t0_ns &&
           r->par.len_ns == hk->anchor_period_ns;
}

int
ldg_epoch_rec_ok(const uint8_t *k, size_t klen, size_t vlen, char *key_id)
{
    if (klen != 6 + LDG_KEYID_LEN || memcmp(k, "epoch:", 6) != 0 ||
        vlen != REC_LEN)
        return 0;
    memcpy(key_id, k + 6, LDG_KEYID_LEN);
    key_id[LDG_KEYID_LEN] = '\0';
    return 1;
}

/* json integer >= 0 */
static int
json_u64(const json_t *v, uint64_t *out)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return -1;
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

int
ldg_epoch_anchor_fields(const json_t *body, char id[LDG_KEYID_LEN + 1],
                        struct ldg_epoch_params *par)
{
    const char *k = json_string_value(json_object_get(body, "key_id"));
    const char *hex = json_string_value(json_object_get(body, "anchor"));

    memset(par, 0, sizeof *par);
    if (k == NULL || strlen(k) != LDG_KEYID_LEN || hex == NULL ||
        strlen(hex) != 64 || ldg_unhex(par->anchor, 32, hex) < 0 ||
        json_u64(json_object_get(body, "t0"), &par->t0_ns) < 0 ||
        json_u64(json_object_get(body, "period_ns"), &par->len_ns) < 0)
        return -1;
    memcpy(id, k, LDG_KEYID_LEN + 1);
    return 0;
}

int
ldg_epoch_anchor_apply(struct ldg_txn *t, const struct ldg_event *ev,
                       const json_t *body)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    char id[LDG_KEYID_LEN + 1];
    struct ldg_key_state ks;
    struct ldg_epoch_rec r, old;
    int rc;

    memset(&r, 0, sizeof r);
    if (ldg_epoch_anchor_fields(body, id, &r.par) < 0) {
        ldg_seterr(l,
                   "key.anchored needs key_id, anchor (64 hex digits), t0 and "
                   "period_ns (integers)");
        return LDG_EBADINPUT;
    }
    if (r.par.len_ns < LDG_EPOCH_LEN_MIN_NS ||
        r.par.len_ns > LDG_EPOCH_LEN_MAX_NS || r.par.t0_ns > ev->ts_ns) {
        ldg_seterr(l,
                   "key.anchored: period_ns must be 1 s to 366 days and t0 no "
                   "later than the event's time");
        return LDG_EBADINPUT;
    }
    if ((rc = ldg_keys_lookup_raw(t, id, &ks)) < 0) {
        ldg_seterr(l, "key.anchored names key %s, which the log has not added",
                   id);
        return rc == LDG_ENOTFOUND ? LDG_EBADINPUT : rc;
    }
    rc = ldg_epoch_rec_get(t, id, &old);
    if (rc == 0) {
        ldg_seterr(l, "key %s (%s) has an anchor already (event %llu)", id,
                   ks.name, (unsigned long long)old.anchor_seq);
        return LDG_EBADINPUT;
    }
    if (rc != LDG_ENOTFOUND)
        return rc;
    r.anchor_seq = ev->seq;
    return rec_put(t, id, &r);
}

static int
state_path(char *buf, size_t cap, const struct ldg_ledger *l, const char *name)
{
    int n = snprintf(buf, cap, "%s/keys/%s.epochs", l->dir, name);
    return n > 0 && (size_t)n < cap ? 0 : LDG_EINVAL;
}

/* Whether st (from path) is the tree the log anchored (r) and not behind
 * the epoch the log carries last. */
static int
state_fits(struct ldg_ledger *l, const char *path,
           const struct ldg_epoch_state *st, const struct ldg_epoch_rec *r)
{
    if (memcmp(st->par.anchor, r->par.anchor, 32) != 0 ||
        st->par.t0_ns != r->par.t0_ns || st->par.len_ns != r->par.len_ns) {
        ldg_seterr(l,
                   "%s holds another epoch tree than the one the log anchored "
                   "at event %llu (or the key registry's record of that "
                   "anchor is damaged: `" LDG_CMD_VERIFY "` checks it)",
                   path, (unsigned long long)r->anchor_seq);
        return LDG_EKEY;
    }
    if (r->has && (st->cur.period < r->e.period ||
                   (st->cur.period == r->e.period && st->cur.sub < r->e.sub))) {
        ldg_seterr(l,
                   "%s is at epoch %u.%u but the log has sealed under epoch "
                   "%u.%u (restored from a backup?): refusing to seal under "
                   "an epoch that goes back",
                   path, st->cur.period, st->cur.sub, r->e.period, r->e.sub);
        return LDG_EKEY;
    }
    return 0;
}

/* Loads key's epoch state and checks it is the tree the log anchored;
 * a reader (not holding the sealers' lock) leaves the file as it is. */
static int
state_get(struct ldg_ledger *l, const char *name, const struct ldg_epoch_rec *r,
          int reader, int *differ, struct ldg_epoch_state **out)
{
    char path[4300], err[512] = "";
    int rc;

    if ((rc = state_path(path, sizeof path, l, name)) < 0)
        return rc;
    rc = reader ? ldg_epoch_file_read(path, out, differ, err, sizeof err)
                : ldg_epoch_file_load(path, out, err, sizeof err);
    if (rc < 0) {
        ldg_seterr(l,
                   "key %s seals with epoch keys (anchored at event %llu): %s",
                   name, (unsigned long long)r->anchor_seq,
                   err[0] ? err : ldg_strerror(rc));
        return rc == LDG_ENOTFOUND ? LDG_EKEY : rc;
    }
    if ((rc = state_fits(l, path, *out, r)) < 0) {
        ldg_epoch_state_free(*out);
        *out = NULL;
    }
    return rc;
}

static int
state_load(struct ldg_ledger *l, const char *name,
           const struct ldg_epoch_rec *r, struct ldg_epoch_state **out)
{
    return state_get(l, name, r, 0, NULL, out);
}

static int
state_store(struct ldg_ledger *l, const char *name, struct ldg_epoch_state *s)
{
    char path[4300], err[512];
    int rc;

    if ((rc = state_path(path, sizeof path, l, name)) < 0)
        return rc;
    rc = ldg_epoch_file_store(path, s, 0, err, sizeof err);
    if (rc < 0)
        ldg_seterr(l, "cannot advance the epoch of key %s: %s", name, err);
    return rc;
}

/*
 * The states a transaction has loaded, by key name. A commit seals with
 * each anchored key's state, then signs its checkpoint with the log
 * key's: each state file is read once a commit (a load opens, reads and
 * checks 16 KB and allocates two states), not once a use. The sealers'
 * lock is held for the whole transaction, so no other process changes
 * the files meanwhile; a state whose use failed half-way (advanced but
 * not stored) is dropped, to be loaded again. Freed with the transaction
 * (ldg_txn_set_memo).
 */
struct held {
    char name[LDG_NAME_MAX + 1];
    struct ldg_epoch_state *st;
};

struct held_set {
    struct ldg_ledger *l;
    size_t n, cap;
    struct held *k;
};

/*
 * And between transactions, the handle keeps them (l->epoch_keep): the
 * next transaction takes a key's state back when its file still holds
 * it (ldg_epoch_file_same: 64 bytes read through the descriptor the
 * state keeps), else loads it again. A commit then opens no file: a
 * server out of descriptors still commits, and a commit does not read
 * and check 16 KB a key.
 */
#define KEPT_MAX 8

struct kept_set {
    size_t n;
    struct held k[KEPT_MAX];
};

static void
kept_free(void *p)
{
    struct kept_set *ks = p;
    if (ks == NULL)
        return;
    for (size_t i = 0; i < ks->n; i++)
        ldg_epoch_state_free(ks->k[i].st);
    free(ks);
}

/* key name's state from l's kept ones, taken out (NULL: none). */
static struct ldg_epoch_state *
kept_take(struct ldg_ledger *l, const char *name)
{
    struct ldg_epoch_state *st = NULL;
    struct kept_set *ks;

    pthread_mutex_lock(&l->epoch_mu);
    ks = l->epoch_keep;
    for (size_t i = 0; ks != NULL && i < ks->n; i++)
        if (strcmp(ks->k[i].name, name) == 0) {
            st = ks->k[i].st;
            ks->k[i] = ks->k[--ks->n];
            break;
        }
    pthread_mutex_unlock(&l->epoch_mu);
    return st;
}

/* st (key name's) kept by l for the next transaction, or freed when l
 * keeps one of that name already, KEPT_MAX, or memory is short. */
static void
kept_put(struct ldg_ledger *l, const char *name, struct ldg_epoch_state *st)
{
    struct kept_set *ks;

    pthread_mutex_lock(&l->epoch_mu);
    if (l->epoch_keep == NULL &&
        (l->epoch_keep = calloc(1, sizeof(struct kept_set))) != NULL)
        l->epoch_keep_free = kept_free;
    ks = l->epoch_keep;
    for (size_t i = 0; ks != NULL && i < ks->n; i++)
        if (strcmp(ks->k[i].name, name) == 0)
            ks = NULL;
    if (ks != NULL && ks->n < KEPT_MAX) {
        snprintf(ks->k[ks->n].name, sizeof ks->k[ks->n].name, "%s", name);
        ks->k[ks->n++].st = st;
        st = NULL;
    }
    pthread_mutex_unlock(&l->epoch_mu);
    ldg_epoch_state_free(st);
}

static uint64_t period_end(const struct ldg_epoch_params *par, uint32_t p);

/* l's kept states dropped (wiped) when their file no longer holds them
 * (another process ended the epoch) or their period is over (now, wall
 * ns): a past secret does not outlive its file's copy in a process that
 * sits idle. ldg_keys_expire does it, which `serve` calls at each idle
 * sweep and at each period's end. */
static void
kept_prune(struct ldg_ledger *l, uint64_t now)
{
    struct kept_set *ks;
    char path[4300];

    pthread_mutex_lock(&l->epoch_mu);
    ks = l->epoch_keep;
    for (size_t i = 0; ks != NULL && i < ks->n;) {
        struct ldg_epoch_state *st = ks->k[i].st;
        if (state_path(path, sizeof path, l, ks->k[i].name) == 0 &&
            ldg_epoch_file_same(st, path) &&
            now < period_end(&st->par, st->cur.period)) {
            i++;
            continue;
        }
        ldg_epoch_state_free(st);
        ks->k[i] = ks->k[--ks->n];
    }
    pthread_mutex_unlock(&l->epoch_mu);
}

int
ldg_epoch_kept(struct ldg_ledger *l, const char *name, uint64_t *gen,
               uint32_t *period)
{
    struct kept_set *ks;
    int found = 0;

    pthread_mutex_lock(&l->epoch_mu);
    ks = l->epoch_keep;
    for (size_t i = 0; ks != NULL && i < ks->n; i++)
        if (strcmp(ks->k[i].name, name) == 0) {
            found = 1;
            *gen = ks->k[i].st->gen;
            *period = ks->k[i].st->cur.period;
        }
    pthread_mutex_unlock(&l->epoch_mu);
    return found;
}

static void
held_release(void *p)
{
    struct held_set *h = p;
    if (h == NULL)
        return;
    for (size_t i = 0; i < h->n; i++)
        kept_put(h->l, h->k[i].name, h->k[i].st);
    free(h->k);
    free(h);
}

/* key name's state for this transaction: loaded once, then checked
 * against r again at each use. Borrowed until the transaction ends. */
static int
state_held(struct ldg_txn *t, const char *name, const struct ldg_epoch_rec *r,
           struct ldg_epoch_state **out)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    struct held_set *h = ldg_txn_memo(t);
    char path[4300];
    int rc;

    *out = NULL;
    if (h == NULL) {
        if ((h = calloc(1, sizeof *h)) == NULL)
            return LDG_ENOMEM;
        h->l = l;
        ldg_txn_set_memo(t, h, held_release);
    }
    for (size_t i = 0; i < h->n; i++)
        if (strcmp(h->k[i].name, name) == 0) {
            if ((rc = state_path(path, sizeof path, l, name)) < 0 ||
                (rc = state_fits(l, path, h->k[i].st, r)) < 0)
                return rc;
            *out = h->k[i].st;
            return 0;
        }
    if (h->n == h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 4;
        struct held *k = realloc(h->k, cap * sizeof *k);
        if (k == NULL)
            return LDG_ENOMEM;
        h->k = k;
        h->cap = cap;
    }
    if ((*out = kept_take(l, name)) != NULL) {
        if ((rc = state_path(path, sizeof path, l, name)) < 0 ||
            !ldg_epoch_file_same(*out, path) ||
            (rc = state_fits(l, path, *out, r)) < 0) {
            ldg_epoch_state_free(*out); /* (loaded again, which says why) */
            *out = NULL;
        }
    }
    if (*out == NULL && (rc = state_load(l, name, r, out)) < 0)
        return rc;
    snprintf(h->k[h->n].name, sizeof h->k[h->n].name, "%s", name);
    h->k[h->n++].st = *out;
    return 0;
}

/* Drops key name's state from the transaction's (a use failed). */
static void
state_drop(struct ldg_txn *t, const char *name)
{
    struct held_set *h = ldg_txn_memo(t);
    for (size_t i = 0; h != NULL && i < h->n; i++)
        if (strcmp(h->k[i].name, name) == 0) {
            ldg_epoch_state_free(h->k[i].st);
            h->k[i] = h->k[--h->n];
            return;
        }
}

/* What of st's chain the log has not carried yet (r: its record of the
 * key's last epoch): certs from level *l0, links after *j0. */
static void
uncarried(const struct ldg_epoch_rec *r, const struct ldg_epoch_state *st,
          unsigned *l0, unsigned *j0)
{
    if (!r->has) {
        *l0 = 0;
        *j0 = 0;
    } else if (r->e.period == st->cur.period) {
        *l0 = LDG_EPOCH_DEPTH;
        *j0 = r->e.sub;
    } else {
        *l0 = ldg_epoch_part_level(r->e.period, st->cur.period);
        *j0 = 0;
    }
}

int
ldg_epoch_seal(struct ldg_txn *t, const struct ldg_key *key, uint64_t seal_seq,
               struct ldg_seal *s, uint8_t *buf, size_t cap)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    struct ldg_epoch_state *st = NULL;
    struct ldg_event ev;
    struct ldg_epoch_rec r;
    uint8_t map[LDG_SEAL_MAP_MAX], sig[64];
    unsigned l0, j0;
    uint32_t p;
    size_t n;
    int rc;

    s->ext = NULL;
    s->ext_len = 0;
    rc = ldg_epoch_rec_get(t, key->key_id, &r);
    if (rc == LDG_ENOTFOUND || (rc == 0 && r.anchor_seq >= seal_seq))
        return 0; /* no anchor, or this seal holds the anchor event */
    if (rc < 0)
        return rc;
    if (cap < LDG_EPOCH_EXT_MAX)
        return LDG_EINVAL;
    if ((rc = ldg_event_get(t, seal_seq, &ev)) < 0)
        return rc;
    if ((rc = state_held(t, key->name, &r, &st)) < 0)
        return rc;
    if (ev.ts_ns < ldg_epoch_start(&st->par, st->cur, st->links) ||
        ldg_epoch_period(&st->par, ev.ts_ns, &p) < 0) {
        ldg_seterr(l,
                   "event %llu's time %llu ns is before the start of epoch "
                   "%u.%u of key %s (the clock went back past an epoch's "
                   "start): it cannot be sealed",
                   (unsigned long long)seal_seq, (unsigned long long)ev.ts_ns,
                   st->cur.period, st->cur.sub, key->name);
        rc = LDG_EKEY;
        goto out;
    }
    if (p > st->cur.period) { /* a new period: made and stored first */
        if ((rc = ldg_epoch_advance(st, ev.ts_ns)) < 0 ||
            (rc = state_store(l, key->name, st)) < 0)
            goto out;
    }
    uncarried(&r, st, &l0, &j0);
    if ((rc = ldg_seal_map_encode(s, map, sizeof map, &n)) < 0 ||
        (rc = ldg_epoch_seal_sign(st, map, n, sig)) < 0)
        goto out;
    s->ext_len = ldg_epoch_ext_encode(buf, st, sig, l0, j0);
    s->ext = buf;
    /* (the log's record of the key's epoch follows when the seal is
     * stored: ldg_epoch_seal_stored) */
out:
    if (rc < 0)
        state_drop(t, key->name);
    return rc;
}

int
ldg_epoch_checkpoint_line(struct ldg_txn *t, const char *text, size_t n,
                          char **note)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    struct ldg_epoch_state *st = NULL;
    struct ldg_epoch_rec r;
    uint8_t raw[LDG_EPOCH_EXT_MAX], sig[64];
    char name[LDG_ORIGIN_MAX + sizeof LDG_EPOCH_NOTE_SUFFIX];
    unsigned l0, j0;
    size_t len;
    uint32_t id;
    int rc;

    if (l->log_key == NULL)
        return 0;
    rc = ldg_epoch_rec_get(t, l->log_key->key_id, &r);
    if (rc == LDG_ENOTFOUND || (rc == 0 && !r.has))
        return 0; /* no epoch of the log key in the log yet */
    if (rc < 0)
        return rc;
    if ((rc = state_held(t, LDG_LOG_KEY_NAME, &r, &st)) < 0)
        return rc;
    /* (the epoch may have moved on since the log key's last seal: keys
     * advance, an expired period) */
    uncarried(&r, st, &l0, &j0);
    id = ldg_epoch_note_key_id(l->origin, r.par.anchor, name, sizeof name);
    if ((rc = ldg_epoch_checkpoint_sign(st, text, n, sig)) == 0) {
        ldg_be32(raw, id);
        len = ldg_epoch_ext_encode(raw + 4, st, sig, l0, j0);
        rc = ldg_note_sig_append(note, name, raw, 4 + len);
    }
    return rc;
}

/* The end of period p (UINT64_MAX past the clock's last time). */
static uint64_t
period_end(const struct ldg_epoch_params *par, uint32_t p)
{
    if (par->len_ns == 0 ||
        (uint64_t)p + 1 > (UINT64_MAX - par->t0_ns) / par->len_ns)
        return UINT64_MAX;
    return par->t0_ns + ((uint64_t)p + 1) * par->len_ns;
}

/* An epoch of period p was opened in the log: its end is when a daemon
 * must end it (ldg_keys_epoch_due). */
static void
due_note(struct ldg_ledger *l, const struct ldg_epoch_params *par, uint32_t p)
{
    uint64_t end = period_end(par, p),
             cur = __atomic_load_n(&l->epoch_due_ns, __ATOMIC_RELAXED);

    while ((cur == 0 || end < cur) &&
           !__atomic_compare_exchange_n(&l->epoch_due_ns, &cur, end, 1,
                                        __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        ;
}

uint64_t
ldg_keys_epoch_due(struct ldg_ledger *l)
{
    uint64_t d = __atomic_exchange_n(&l->epoch_due_ns, 0, __ATOMIC_RELAXED);
    return d != 0 ? d : UINT64_MAX;
}

int
ldg_epoch_seal_stored(struct ldg_txn *t, uint64_t seal_seq,
                      const struct ldg_seal *s, int replayed)
{
    struct ldg_epoch_ext x;
    struct ldg_epoch_rec r;
    int rc;

    if (s->ext_len == 0)
        return 0;
    if (ldg_epoch_ext_decode(s->ext, s->ext_len, &x) < 0)
        return LDG_ECORRUPT;
    if ((rc = ldg_epoch_rec_get(t, s->key_id, &r)) < 0)
        return rc == LDG_ENOTFOUND ? LDG_ECORRUPT : rc;
    if (r.has && r.e.period == x.period && r.e.sub == x.sub)
        return 0;
    /* a frame replayed over an older snapshot opens epochs again: only
     * one not over yet is news to a daemon (a seal made here always is:
     * its commit may end after its event's period) */
    if (!replayed ||
        period_end(&r.par, x.period) > ldg_clock_now(ldg_txn_ledger(t)))
        due_note(ldg_txn_ledger(t), &r.par, x.period);
    r.has = 1;
    r.e.period = x.period;
    r.e.sub = x.sub;
    r.from_seq = seal_seq;
    return rec_put(t, s->key_id, &r);
}

/* ------------------------------------------------------------ commands -- */

/* The log's last ts, or 0 for an empty log. */
static int
last_ts(struct ldg_txn *t, uint64_t *ts)
{
    struct ldg_event ev;
    uint64_t size;
    int rc;

    *ts = 0;
    if ((rc = ldg_txn_size(t, &size)) < 0 || size == 0)
        return rc;
    if ((rc = ldg_event_get(t, size - 1, &ev)) < 0)
        return rc == LDG_EPRUNED ? 0 : rc;
    *ts = ev.ts_ns;
    return 0;
}

int
ldg_epoch_anchor_body(struct ldg_ledger *l, const char *name,
                      uint64_t period_ns, json_t **out)
{
    struct ldg_epoch_state *st = NULL;
    struct ldg_key_state ks;
    struct ldg_txn *t = NULL;
    struct ldg_key *k = NULL;
    struct ldg_epoch_rec r;
    char path[4300], err[512] = "", anchor[65];
    uint64_t now, ts;
    json_t *body = NULL;
    int rc, unasked;

    if (name == NULL)
        name = LDG_LOG_KEY_NAME;
    /* 0: unasked (below: an unfinished anchor's period, the log key's) */
    unasked = period_ns == 0;
    if (unasked)
        period_ns = LDG_EPOCH_LEN_DEFAULT_NS;
    if (period_ns < LDG_EPOCH_LEN_MIN_NS || period_ns > LDG_EPOCH_LEN_MAX_NS) {
        ldg_seterr(l, "an epoch lasts 1 s to 366 days, not %llu ns",
                   (unsigned long long)period_ns);
        return LDG_EINVAL;
    }
    if (l->format < 2) {
        ldg_seterr(l, "epoch keys need a format 2 ledger (sealed entries)");
        return LDG_EVERSION;
    }
    if ((rc = ldg_txn_begin(l, LDG_TXN_READ, &t)) < 0)
        return rc;
    /* epoch keys came with the intake log, in layout 9 (docs/EPOCHS.md) */
    if ((rc = ldg_txn_has(t, LDG_HAS_EPOCHS)) <= 0) {
        int at = ldg_txn_layout(t), to = ldg_layout_with(LDG_HAS_EPOCHS);
        ldg_txn_abort(t);
        if (rc < 0)
            return rc;
        ldg_seterr(l,
                   "epoch keys need store layout %d (this ledger is at %d: "
                   "`%s` converts it, for good)",
                   to, at, LDG_CMD_MIGRATE);
        return LDG_EVERSION;
    }
    rc = ldg_keys_lookup_name(t, name, &ks);
    if (rc == 0) {
        rc = ldg_epoch_rec_get(t, ks.key_id, &r);
        if (rc == 0) {
            ldg_seterr(l, "key %s has an anchor already (event %llu)", name,
                       (unsigned long long)r.anchor_seq);
            rc = LDG_EEXIST;
        } else if (rc == LDG_ENOTFOUND) {
            rc = last_ts(t, &ts);
        }
        /* unasked, another key takes the log key's period (as keys add
         * anchors it) */
        if (rc == 0 && unasked && strcmp(name, LDG_LOG_KEY_NAME) != 0) {
            struct ldg_key_state ls;
            if ((rc = ldg_keys_lookup_name(t, LDG_LOG_KEY_NAME, &ls)) == 0 &&
                (rc = ldg_epoch_rec_get(t, ls.key_id, &r)) == 0)
                period_ns = r.par.len_ns;
            if (rc == LDG_ENOTFOUND)
                rc = 0;
        }
    } else if (rc == LDG_ENOTFOUND) {
        ldg_seterr(l, "no key named '%s' in this ledger", name);
    }
    ldg_txn_abort(t);
    if (rc < 0)
        return rc;
    /* the key must be held here: its secret file loads (after the
     * registry: a name it does not know is said as such) */
    if ((rc = ldg_keys_load(l, name, &k)) < 0)
        return rc;
    ldg_key_free(k);
    if ((rc = state_path(path, sizeof path, l, name)) < 0)
        return rc;
    /* a state file left by an anchor that never reached the log is taken
     * again (same anchor), so a retry after a crash needs nothing */
    rc = ldg_epoch_file_load(path, &st, err, sizeof err);
    if (rc == LDG_ENOTFOUND) {
        now = ldg_clock_now(l);
        if ((rc = ldg_epoch_state_new(&st, now > ts ? now : ts + 1,
                                      period_ns)) < 0 ||
            (rc = ldg_epoch_file_create(path, st, err, sizeof err)) < 0) {
            /* (a state not made for want of memory: not the load's words) */
            ldg_seterr(l, "%s",
                       st == NULL || rc == LDG_ENOMEM ? ldg_strerror(rc) : err);
            goto out;
        }
    } else if (rc < 0) {
        ldg_seterr(l, "%s", err[0] ? err : ldg_strerror(rc));
        goto out;
    } else if (unasked) {
        period_ns = st->par.len_ns; /* the unfinished anchor, as it is */
    } else if (st->par.len_ns != period_ns) {
        /* taken again as it is, it would anchor another period than the
         * one asked for (and said) */
        ldg_seterr(l,
                   "%s holds an anchor of key %s that never reached the log, "
                   "with epochs of %llu s, not %llu s: give "
                   "" LDG_OPT_EPOCH " %llu to finish that anchor",
                   path, name,
                   (unsigned long long)(st->par.len_ns / 1000000000ull),
                   (unsigned long long)(period_ns / 1000000000ull),
                   (unsigned long long)(st->par.len_ns / 1000000000ull));
        rc = LDG_EBADINPUT;
        goto out;
    }
    ldg_hex(anchor, st->par.anchor, 32);
    body = json_pack("{s:s, s:s, s:I, s:I}", "key_id", ks.key_id, "anchor",
                     anchor, "t0", (json_int_t)st->par.t0_ns, "period_ns",
                     (json_int_t)st->par.len_ns);
    if (body == NULL) {
        rc = LDG_ENOMEM;
        goto out;
    }
    *out = body;
    body = NULL;
    rc = 0;
out:
    json_decref(body);
    ldg_epoch_state_free(st);
    return rc;
}

/*
 * The lock every sealer takes, and a transaction that sees every event
 * acked so far: at layout 9 the intake's exclusive lock (seals are made
 * under it, in the ack group's frame) with a read view over the intake's
 * tail; at other layouts an LMDB write transaction (aborted after: an
 * advance writes nothing to the log). *fd: the lock to give back, or -1.
 */
static int
sealers_lock(struct ldg_ledger *l, struct ldg_txn **t, int *fd)
{
    int rc;

    *t = NULL;
    *fd = -1;
    if (l->intake != NULL && (*fd = l->intake_hooks->lock_ex(l)) < 0)
        return *fd;
    rc = ldg_txn_begin(l, l->intake != NULL ? LDG_TXN_READ : LDG_TXN_WRITE, t);
    if (rc < 0) {
        if (*fd >= 0)
            l->intake_hooks->unlock_ex(l, *fd);
        *fd = -1;
    }
    return rc;
}

static void
sealers_unlock(struct ldg_ledger *l, struct ldg_txn *t, int fd)
{
    ldg_txn_abort(t);
    if (fd >= 0)
        l->intake_hooks->unlock_ex(l, fd);
}

/* Ends st's current epoch (the sealers' lock held, t its transaction):
 * the next begins after every event acked so far and at or after now;
 * the new state stored, the old secret overwritten in place in both
 * slots. */
static int
advance_locked(struct ldg_ledger *l, struct ldg_txn *t, const char *name,
               struct ldg_epoch_state *st)
{
    uint64_t ts, start, now;
    uint32_t before;
    int rc;

    if ((rc = last_ts(t, &ts)) < 0)
        return rc;
    now = ldg_clock_now(l);
    start = ldg_epoch_start(&st->par, st->cur, st->links) + 1;
    if (ts + 1 > start)
        start = ts + 1;
    if (now > start)
        start = now;
    before = st->cur.period;
    if ((rc = ldg_epoch_advance(st, start)) < 0) {
        ldg_seterr(l,
                   rc == LDG_EFULL
                       ? "epoch %u of key %s has had %d sub-epochs: the next "
                         "begins with the next period"
                       : "cannot advance epoch %u of key %s",
                   st->cur.period, name, LDG_EPOCH_SUBS_MAX);
        return rc;
    }
    /* a new period whose start is not after the last event: a sub-epoch
     * of it begins after that event */
    if (st->cur.period != before &&
        ts >= ldg_epoch_start(&st->par, st->cur, st->links) &&
        (rc = ldg_epoch_advance(st, start)) < 0)
        return rc;
    return state_store(l, name, st);
}

int
ldg_keys_advance(struct ldg_ledger *l, const char *name,
                 struct ldg_epoch_row *row)
{
    struct ldg_epoch_state *st = NULL;
    struct ldg_key_state ks;
    struct ldg_txn *t = NULL;
    struct ldg_epoch_rec r;
    int fd, rc;

    if (name == NULL)
        name = LDG_LOG_KEY_NAME;
    if ((rc = sealers_lock(l, &t, &fd)) < 0)
        return rc;
    if ((rc = ldg_keys_lookup_name(t, name, &ks)) < 0) {
        ldg_seterr(l, "no key named '%s' in this ledger", name);
        goto out;
    }
    if ((rc = ldg_epoch_rec_get(t, ks.key_id, &r)) < 0) {
        if (rc == LDG_ENOTFOUND)
            ldg_seterr(
                l, "key %s has no epoch keys yet (" LDG_CMD_KEYS_ANCHOR " %s)",
                name, name);
        goto out;
    }
    /* (this handle's kept state, if any, is the epoch ending: wiped) */
    ldg_epoch_state_free(kept_take(l, name));
    if ((rc = state_load(l, name, &r, &st)) < 0 ||
        (rc = advance_locked(l, t, name, st)) < 0)
        goto out;
    if (row != NULL) {
        memset(row, 0, sizeof *row);
        snprintf(row->key, sizeof row->key, "%s", name);
        row->period = st->cur.period;
        row->sub = st->cur.sub;
        memcpy(row->pub, st->cur_pub, 32);
        row->start_ns = ldg_epoch_start(&st->par, st->cur, st->links);
        row->from_seq = UINT64_MAX; /* nothing sealed under it yet */
        row->checked = 1;
        row->live = 1;
    }
out:
    ldg_epoch_state_free(st);
    sealers_unlock(l, t, fd);
    return rc;
}

/*
 * One key of ldg_keys_expire: its epoch is ended when the log has sealed
 * under it (r->has), the state file still holds it, and its period is
 * over. *due gets the end of that period while it is not over; *ended 1
 * when it was ended, or, in a look (look: no lock held, the state file
 * read as a reader's), when it is to be.
 */
static int
expire_one(struct ldg_ledger *l, struct ldg_txn *t, const char *key_id,
           const struct ldg_epoch_rec *r, uint64_t now, int look, uint64_t *due,
           int *ended)
{
    struct ldg_epoch_state *st = NULL;
    struct ldg_key_state ks;
    uint64_t end;
    int rc, differ = 0;

    *due = UINT64_MAX;
    *ended = 0;
    if (!r->has) /* anchored, nothing sealed yet: nothing to protect */
        return 0;
    if ((rc = ldg_keys_lookup_raw(t, key_id, &ks)) < 0)
        return rc == LDG_ENOTFOUND ? LDG_ECORRUPT : rc;
    if (ks.revoked_seq != UINT64_MAX) /* its state file went with it */
        return 0;
    end = period_end(&r->par, r->e.period);
    if (end == UINT64_MAX)
        return 0;
    if (now < end) { /* not over: due then (the state file not read) */
        *due = end;
        return 0;
    }
    if ((rc = state_get(l, ks.name, r, look, &differ, &st)) < 0)
        return rc;
    /* ended already (keys advance, a later seal's period, or a run
     * before): the log's last epoch is no longer the file's; but an end
     * cut short (kill -9 between the slots) leaves the old secret in one
     * slot until a load under the lock overwrites it: one is due */
    if (st->cur.period == r->e.period && st->cur.sub == r->e.sub) {
        if (look)
            *ended = 1;
        else if ((rc = advance_locked(l, t, ks.name, st)) == 0)
            *ended = 1;
    } else if (look && differ) {
        *ended = 1;
    }
    ldg_epoch_state_free(st);
    return rc;
}

/* Every "epoch:" record through expire_one; one key's failure (its state
 * file gone or damaged) does not keep the others' epochs from ending:
 * the first is returned, the others' due times still counted. */
static int
expire_all(struct ldg_ledger *l, struct ldg_txn *t, int look, uint64_t *next,
           unsigned *n)
{
    struct ldg_cursor *c = NULL;
    struct ldg_val k, v;
    uint64_t now = ldg_clock_now(l);
    int rc, first = 0;

    *next = UINT64_MAX;
    *n = 0;
    if ((rc = ldg_cursor_open(t, ldg_core(l, LDG_DB_KEYS), &c)) < 0)
        return rc;
    for (rc = ldg_cursor_get(c, LDG_SET_RANGE, "epoch:", 6, &k, &v); rc == 0;
         rc = ldg_cursor_get(c, LDG_NEXT, NULL, 0, &k, &v)) {
        char key_id[LDG_KEYID_LEN + 1];
        struct ldg_epoch_rec r;
        uint64_t due;
        int one, e;
        if (k.len < 6 || memcmp(k.data, "epoch:", 6) != 0)
            break;
        if (!ldg_epoch_rec_ok(k.data, k.len, v.len, key_id) ||
            rec_decode(v.data, v.len, &r) < 0) {
            e = LDG_ECORRUPT;
        } else {
            e = expire_one(l, t, key_id, &r, now, look, &due, &one);
            *n += (unsigned)one;
            if (due < *next)
                *next = due;
        }
        if (e < 0 && first == 0)
            first = e;
    }
    ldg_cursor_close(c);
    if (rc == LDG_ENOTFOUND)
        rc = 0;
    return rc < 0 ? rc : first;
}

int
ldg_keys_expire(struct ldg_ledger *l, uint64_t *next_ns, unsigned *ended)
{
    struct ldg_txn *t = NULL;
    uint64_t next = UINT64_MAX;
    unsigned n = 0;
    int fd, rc;

    if (next_ns != NULL)
        *next_ns = UINT64_MAX;
    if (ended != NULL)
        *ended = 0;
    if (l == NULL)
        return LDG_EINVAL;
    kept_prune(l, ldg_clock_now(l));
    /* a look first, with no lock: what is idle or not due yet (every
     * call but one an epoch) costs a reader's transaction */
    if ((rc = ldg_txn_begin(l, LDG_TXN_READ, &t)) < 0)
        return rc;
    rc = expire_all(l, t, 1, &next, &n);
    ldg_txn_abort(t);
    if (n > 0) {
        /* then under the lock every sealer takes, all over again (a key
         * that failed the look fails again, named in the message) */
        if ((rc = sealers_lock(l, &t, &fd)) < 0)
            return rc;
        rc = expire_all(l, t, 0, &next, &n);
        sealers_unlock(l, t, fd);
    } else {
        n = 0;
    }
    if (next_ns != NULL)
        *next_ns = next;
    if (ended != NULL)
        *ended = n;
    return rc;
}

static int
pin_cmp(const void *a, const void *b)
{
    const struct ldg_anchor_pin *x = a, *y = b;
    int xl = strcmp(x->name, LDG_LOG_KEY_NAME) == 0;
    int yl = strcmp(y->name, LDG_LOG_KEY_NAME) == 0;
    if (xl != yl)
        return yl - xl;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int
ldg_epoch_rec_body_is(const json_t *body, const char *key_id,
                      const struct ldg_epoch_rec *r)
{
    struct ldg_epoch_params par;
    char id[LDG_KEYID_LEN + 1];

    return ldg_epoch_anchor_fields(body, id, &par) == 0 &&
           strcmp(id, key_id) == 0 &&
           memcmp(par.anchor, r->par.anchor, 32) == 0 &&
           par.t0_ns == r->par.t0_ns && par.len_ns == r->par.len_ns;
}

/* A pin is what a verifier trusts: key_id's registry record r must be
 * the key.anchored it names (read back, while the log still holds it: a
 * pruned one's record the horizon vouches for). 0, or LDG_ETAMPER named
 * in l's message. */
static int
rec_is_event(struct ldg_ledger *l, struct ldg_txn *t, const char *key_id,
             const struct ldg_epoch_rec *r)
{
    json_t *body = NULL;
    int rc = ldg_body_get(t, r->anchor_seq, &body), same;

    if (rc == LDG_ENOTFOUND || rc == LDG_EPRUNED || rc == LDG_EERASED)
        return 0;
    if (rc < 0)
        return rc;
    same = ldg_epoch_rec_body_is(body, key_id, r);
    json_decref(body);
    if (same)
        return 0;
    ldg_seterr(l,
               "the key registry's epoch record of key %s is not its "
               "key.anchored (event %llu): damaged (`" LDG_CMD_VERIFY
               "` names it); no anchor is given out",
               key_id, (unsigned long long)r->anchor_seq);
    return LDG_ETAMPER;
}

int
ldg_keys_anchors(struct ldg_ledger *l, struct ldg_anchor_pin **out, size_t *n)
{
    struct ldg_keyinfo *ki = NULL;
    struct ldg_anchor_pin *p = NULL;
    struct ldg_txn *t = NULL;
    size_t nk = 0, np = 0;
    int rc;

    *out = NULL;
    *n = 0;
    if ((rc = ldg_keys_list(l, &ki, &nk)) < 0)
        return rc;
    if (nk > 0 && (p = calloc(nk, sizeof *p)) == NULL) {
        rc = LDG_ENOMEM;
        goto out;
    }
    if ((rc = ldg_txn_begin(l, LDG_TXN_READ, &t)) < 0)
        goto out;
    for (size_t i = 0; i < nk; i++) {
        struct ldg_epoch_rec r;
        if ((rc = ldg_epoch_rec_get(t, ki[i].key_id, &r)) == LDG_ENOTFOUND)
            continue;
        if (rc < 0 || (rc = rec_is_event(l, t, ki[i].key_id, &r)) < 0)
            goto out;
        snprintf(p[np].key_id, sizeof p[np].key_id, "%s", ki[i].key_id);
        snprintf(p[np].name, sizeof p[np].name, "%s", ki[i].name);
        memcpy(p[np].anchor, r.par.anchor, 32);
        p[np].t0_ns = r.par.t0_ns;
        p[np].period_ns = r.par.len_ns;
        p[np].seq = r.anchor_seq;
        np++;
    }
    rc = 0;
    if (np > 1)
        qsort(p, np, sizeof *p, pin_cmp);
out:
    ldg_txn_abort(t);
    free(ki);
    if (rc < 0 || np == 0) {
        free(p);
        p = NULL;
        np = 0;
    }
    *out = p;
    *n = np;
    return rc < 0 ? rc : 0;
}

/* One key's chain while listing. */
struct lchain {
    char key_id[LDG_KEYID_LEN + 1];
    char name[LDG_NAME_MAX + 1];
    int pruned; /* anchored before the horizon: not checkable */
    struct ldg_epoch_chain c;
};

/* Says of each key's last row whether its secret is still on the box:
 * the state file's current epoch is that row's (1), a later one (0: the
 * epoch ended), or the file cannot be read here (-1: a reader without
 * the key's files, a revoked key). */
static void
rows_live(struct ldg_ledger *l, struct ldg_txn *t, const struct lchain *ch,
          size_t nch, struct ldg_epoch_row *rows, size_t n)
{
    for (size_t i = 0; i < nch; i++) {
        struct ldg_epoch_state *st = NULL;
        struct ldg_key_state ks;
        struct ldg_epoch_rec r;
        size_t last = n;
        for (size_t j = 0; j < n; j++)
            if (strcmp(rows[j].key, ch[i].name) == 0)
                last = j;
        if (last == n)
            continue;
        rows[last].live = -1;
        if (ldg_epoch_rec_get(t, ch[i].key_id, &r) < 0 ||
            ldg_keys_lookup_raw(t, ch[i].key_id, &ks) < 0 ||
            ks.revoked_seq != UINT64_MAX ||
            state_get(l, ks.name, &r, 1, NULL, &st) < 0)
            continue;
        rows[last].live = st->cur.period == rows[last].period &&
                          st->cur.sub == rows[last].sub;
        ldg_epoch_state_free(st);
    }
    l->errmsg[0] = '\0'; /* a state file not read here is no error */
}

int
ldg_keys_epochs(struct ldg_ledger *l, struct ldg_epoch_row **out, size_t *nout)
{
    struct ldg_txn *t = NULL;
    struct ldg_cursor *c = NULL;
    struct ldg_val k, v;
    struct lchain *ch = NULL;
    struct ldg_epoch_row *rows = NULL;
    struct ldg_horizon hz;
    size_t nch = 0, n = 0, cap = 0;
    char err[512];
    int rc;

    *out = NULL;
    *nout = 0;
    memset(&hz, 0, sizeof hz);
    if ((rc = ldg_txn_begin(l, LDG_TXN_READ, &t)) < 0)
        return rc;
    if ((rc = ldg_horizon_get(t, &hz)) < 0 && rc != LDG_ENOTFOUND)
        goto out;
    rc = 0;
    if (!ldg_store_has_core(l->store, LDG_DB_SEALS))
        goto out;
    if ((rc = ldg_cursor_open(t, ldg_core(l, LDG_DB_SEALS), &c)) < 0)
        goto out;
    for (rc = ldg_cursor_get(c, LDG_FIRST, NULL, 0, &k, &v); rc == 0;
         rc = ldg_cursor_get(c, LDG_NEXT, NULL, 0, &k, &v)) {
        struct ldg_seal s;
        struct ldg_epoch_ext x;
        struct lchain *h = NULL;
        struct ldg_epoch_id was;
        int started;
        if (k.len != 8 || ldg_seal_record_decode(v.data, v.len, &s) < 0) {
            rc = LDG_ECORRUPT;
            break;
        }
        if (s.ext == NULL)
            continue;
        if (ldg_epoch_ext_decode(s.ext, s.ext_len, &x) < 0) {
            rc = LDG_ECORRUPT;
            break;
        }
        for (size_t i = 0; i < nch; i++)
            if (strcmp(ch[i].key_id, s.key_id) == 0)
                h = &ch[i];
        if (h == NULL) {
            struct ldg_epoch_rec r;
            struct ldg_key_state ks;
            struct lchain *nc = realloc(ch, (nch + 1) * sizeof *nc);
            if (nc == NULL) {
                rc = LDG_ENOMEM;
                break;
            }
            ch = nc;
            h = &ch[nch++];
            memset(h, 0, sizeof *h);
            snprintf(h->key_id, sizeof h->key_id, "%s", s.key_id);
            if ((rc = ldg_epoch_rec_get(t, s.key_id, &r)) < 0 ||
                (rc = ldg_keys_lookup_raw(t, s.key_id, &ks)) < 0)
                break;
            snprintf(h->name, sizeof h->name, "%s", ks.name);
            ldg_epoch_chain_init(&h->c, &r.par);
            if (hz.seq > 0 && r.anchor_seq < hz.seq) {
                /* from the chain the horizon record keeps, if it does */
                if ((rc = ldg_epoch_chain_at_horizon(l, &hz, s.key_id, &r,
                                                     &h->c)) < 0)
                    break;
                h->pruned = rc == 1;
                rc = 0;
            }
        }
        was = h->c.cur;
        started = h->c.started;
        if (h->pruned) { /* listed as the seals say, not checked */
            if (started && was.period == x.period && was.sub == x.sub)
                continue;
            h->c.started = 1;
            h->c.cur.period = x.period;
            h->c.cur.sub = x.sub;
            memset(h->c.pub, 0, 32);
            h->c.start_ns = 0;
        } else if (ldg_epoch_chain_step(&h->c, &x, err, sizeof err) < 0) {
            ldg_seterr(l, "seal at event %llu: %s",
                       (unsigned long long)ldg_rd_be64(k.data), err);
            rc = LDG_ETAMPER;
            break;
        }
        if (started && was.period == h->c.cur.period && was.sub == h->c.cur.sub)
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            struct ldg_epoch_row *nr = realloc(rows, nc * sizeof *nr);
            if (nr == NULL) {
                rc = LDG_ENOMEM;
                break;
            }
            rows = nr;
            cap = nc;
        }
        memset(&rows[n], 0, sizeof rows[n]);
        snprintf(rows[n].key, sizeof rows[n].key, "%s", h->name);
        rows[n].period = h->c.cur.period;
        rows[n].sub = h->c.cur.sub;
        memcpy(rows[n].pub, h->c.pub, 32);
        rows[n].start_ns = h->c.start_ns;
        rows[n].from_seq = ldg_rd_be64(k.data);
        rows[n].checked = !h->pruned;
        rows[n].live = 0; /* a later epoch of its key follows, or: */
        n++;
    }
    if (rc == LDG_ENOTFOUND)
        rc = 0;
    if (rc == 0)
        rows_live(l, t, ch, nch, rows, n);
out:
    if (c != NULL)
        ldg_cursor_close(c);
    ldg_txn_abort(t);
    ldg_horizon_release(&hz);
    free(ch);
    if (rc < 0) {
        free(rows);
        return rc;
    }
    *out = rows;
    *nout = n;
    return 0;
}

/* ------------------------------------------------------------- exposure -- */

int
ldg_mountinfo_data_journal(const char *mi, const char *path)
{
    size_t best = 0;
    int found = -1;

    /* "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - TYPE SRC
     * SUPEROPTS" a line; the longest mount point that is a prefix of
     * path (at a '/' boundary) holds it */
    for (const char *ln = mi; ln != NULL && *ln != '\0';) {
        const char *end = strchr(ln, '\n'), *p = ln, *mp, *sep, *sop;
        size_t mpn, n = end ? (size_t)(end - ln) : strlen(ln);
        char line[4096];
        int f;
        if (n >= sizeof line)
            goto next;
        memcpy(line, ln, n);
        line[n] = '\0';
        p = line;
        for (f = 0; f < 4 && p != NULL; f++) { /* to the mount point */
            p = strchr(p, ' ');
            if (p != NULL)
                p++;
        }
        if (p == NULL)
            goto next;
        mp = p;
        mpn = strcspn(mp, " ");
        if (mpn == 0 || strncmp(path, mp, mpn) != 0 ||
            !(mpn == 1 || path[mpn] == '\0' || path[mpn] == '/'))
            goto next;
        if (mpn < best)
            goto next;
        sep = strstr(mp, " - ");
        if (sep == NULL)
            goto next;
        sop = strrchr(sep + 3, ' '); /* super options, the last field */
        best = mpn;
        found = sop != NULL && strstr(sop + 1, "data=journal") != NULL;
    next:
        ln = end ? end + 1 : NULL;
    }
    return found;
}

/* File systems by statfs's f_type: whether an in-place overwrite can
 * leave the old bytes elsewhere (1 yes: copy-on-write or log-structured;
 * 0 no; -1 not known). ext4 is 0 unless mounted data=journal. */
static const struct {
    unsigned long type;
    const char *name;
    int keeps;
} fs_types[] = {
    {0x9123683eUL, "btrfs", 1}, {0x2fc12fc1UL, "zfs", 1},
    {0xf2f52010UL, "f2fs", 1},  {0x58465342UL, "xfs", 0},
    {0x01021994UL, "tmpfs", 0}, {0x794c7630UL, "overlay", -1},
    {0xef53UL, "ext4", 0},
};

static void
fs_of(const char *dir, char *name, size_t cap, int *keeps)
{
    char real[PATH_MAX];
    struct statfs sf;
    FILE *f;
    char *text;
    size_t i, len;

    snprintf(name, cap, "unknown");
    *keeps = -1;
    if (statfs(dir, &sf) != 0)
        return;
    for (i = 0; i < sizeof fs_types / sizeof fs_types[0]; i++)
        if (fs_types[i].type == (unsigned long)sf.f_type)
            break;
    if (i == sizeof fs_types / sizeof fs_types[0]) {
        snprintf(name, cap, "type 0x%lx", (unsigned long)sf.f_type);
        return;
    }
    snprintf(name, cap, "%s", fs_types[i].name);
    *keeps = fs_types[i].keeps;
    if (fs_types[i].type != 0xef53UL)
        return;
    /* ext4: data=journal keeps the old bytes in its journal */
    if ((f = fopen("/proc/self/mountinfo", "r")) == NULL ||
        realpath(dir, real) == NULL) {
        if (f != NULL)
            fclose(f);
        *keeps = -1;
        return;
    }
    if ((text = calloc(1, 1 << 20)) != NULL) {
        len = fread(text, 1, (1 << 20) - 1, f);
        text[len] = '\0';
        if (ldg_mountinfo_data_journal(text, real) == 1) {
            snprintf(name, cap, "ext4 data=journal");
            *keeps = 1;
        }
    }
    free(text);
    fclose(f);
}

int
ldg_keys_exposure(struct ldg_ledger *l, struct ldg_exposure *out)
{
    struct ldg_key_state ks;
    struct ldg_epoch_state *st = NULL;
    struct ldg_txn *t = NULL;
    struct ldg_epoch_rec r;
    char kdir[4200];
    int rc;

    memset(out, 0, sizeof *out);
    out->since_seq = UINT64_MAX;
    snprintf(kdir, sizeof kdir, "%s/keys", l->dir);
    fs_of(kdir, out->fs, sizeof out->fs, &out->fs_keeps_old);
    if ((rc = ldg_txn_begin(l, LDG_TXN_READ, &t)) < 0)
        return rc;
    rc = ldg_keys_lookup_name(t, LDG_LOG_KEY_NAME, &ks);
    if (rc == 0)
        rc = ldg_epoch_rec_get(t, ks.key_id, &r);
    ldg_txn_abort(t);
    if (rc == LDG_ENOTFOUND)
        return 0; /* no anchor */
    if (rc < 0)
        return rc;
    out->anchored = 1;
    if ((rc = state_get(l, LDG_LOG_KEY_NAME, &r, 1, NULL, &st)) < 0)
        return rc;
    out->period = st->cur.period;
    out->sub = st->cur.sub;
    out->start_ns = ldg_epoch_start(&st->par, st->cur, st->links);
    out->end_ns = period_end(&st->par, st->cur.period);
    if (r.has && r.e.period == st->cur.period && r.e.sub == st->cur.sub)
        out->since_seq = r.from_seq;
    ldg_epoch_state_free(st);
    return 0;
}
