/*
 * epoch_walk.c — a key's epochs walked along the log's seals (issue 65;
 * FORMAT.md 5.1, 6.2): from its anchor, or from the chain a pruned
 * ledger's horizon record keeps. What a bundle and a segment carry whole
 * (each seal's epoch part, the checkpoint's epoch line), and what a prune
 * keeps of each anchored key in its horizon record; and a checkpoint's
 * epoch line or a seal's epoch part checked on its own, from the anchor.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/epoch_int.h"
#include "ledger/keys_int.h"
#include "ledger/tlog_int.h"

/* Where a key anchored before horizon hz starts along the log after it:
 * the chain the record keeps (0), or none (1: a record by an earlier
 * build, its certs gone with the pruned seals); LDG_ETAMPER when the
 * record's anchor is not the key's or its chain does not hold. */
int
ldg_epoch_chain_at_horizon(struct ldg_ledger *l, const struct ldg_horizon *hz,
                           const char *key_id, const struct ldg_epoch_rec *r,
                           struct ldg_epoch_chain *c)
{
    const struct ldg_horizon_key *hk = ldg_horizon_key_find(hz, key_id);
    char err[512];

    if (hk == NULL || !hk->anchored)
        return 1;
    if (!ldg_epoch_rec_is(r, hk)) {
        ldg_seterr(l,
                   "key %s: the horizon record's anchor is not the one the "
                   "key registry holds (run " LDG_CMD_VERIFY ")",
                   key_id);
        return LDG_ETAMPER;
    }
    if (ldg_epoch_chain_from_horizon(hk, c, err, sizeof err) < 0) {
        ldg_seterr(l, "key %s: the horizon record's epoch chain: %s", key_id,
                   err);
        return LDG_ETAMPER;
    }
    return 0;
}

/* ------------------------------------------------- whole epoch parts -- */

/* One key's chain along the log's seals, up to (not past) pos; base is
 * where it starts (at base_pos): its anchor, or the chain a horizon
 * record keeps. */
struct wkey {
    char key_id[LDG_KEYID_LEN + 1];
    struct ldg_epoch_chain c, base;
    uint64_t anchor_seq, pos, base_pos;
    int pruned; /* anchored before a horizon that kept no chain of it */
};

struct ldg_epoch_walk {
    struct ldg_ledger *l;
    int hz_read;           /* hz: read from the first walk's transaction */
    struct ldg_horizon hz; /* seq 0: never pruned */
    struct wkey *k;
    size_t n;
};

int
ldg_epoch_walk_new(struct ldg_ledger *l, struct ldg_epoch_walk **out)
{
    struct ldg_epoch_walk *w;

    if (l == NULL || out == NULL)
        return LDG_EINVAL;
    if ((w = calloc(1, sizeof *w)) == NULL)
        return LDG_ENOMEM;
    w->l = l;
    *out = w;
    return 0;
}

void
ldg_epoch_walk_free(struct ldg_epoch_walk *w)
{
    if (w == NULL)
        return;
    ldg_horizon_release(&w->hz);
    free(w->k);
    free(w);
}

static int
walk_key(struct ldg_epoch_walk *w, struct ldg_txn *t, const char *key_id,
         struct wkey **out)
{
    struct ldg_epoch_rec r;
    struct wkey *k;
    int rc;

    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->k[i].key_id, key_id) == 0) {
            *out = &w->k[i];
            return 0;
        }
    if (!w->hz_read) {
        rc = ldg_horizon_get(t, &w->hz);
        if (rc < 0 && rc != LDG_ENOTFOUND)
            return rc;
        w->hz_read = 1;
    }
    if ((rc = ldg_epoch_rec_get(t, key_id, &r)) < 0)
        return rc;
    k = realloc(w->k, (w->n + 1) * sizeof *k);
    if (k == NULL)
        return LDG_ENOMEM;
    w->k = k;
    k = &w->k[w->n];
    memset(k, 0, sizeof *k);
    snprintf(k->key_id, sizeof k->key_id, "%s", key_id);
    ldg_epoch_chain_init(&k->base, &r.par);
    k->anchor_seq = r.anchor_seq;
    k->base_pos = r.anchor_seq + 1;
    if (w->hz.seq > 0 && r.anchor_seq < w->hz.seq) {
        if ((rc = ldg_epoch_chain_at_horizon(w->l, &w->hz, key_id, &r,
                                             &k->base)) < 0)
            return rc;
        k->pruned = rc == 1;
        k->base_pos = w->hz.seq;
    }
    k->c = k->base;
    k->pos = k->base_pos;
    w->n++;
    *out = k;
    return 0;
}

/* Steps k's chain over the key's seals in [k->pos, to]. */
static int
walk_to(struct ldg_epoch_walk *w, struct ldg_txn *t, struct wkey *k,
        uint64_t to)
{
    struct ldg_cursor *c = NULL;
    struct ldg_val key, v;
    uint8_t kb[8];
    char err[512];
    int rc;

    if ((rc = ldg_cursor_open(t, ldg_core(w->l, LDG_DB_SEALS), &c)) < 0)
        return rc;
    ldg_be64(kb, k->pos);
    for (rc = ldg_cursor_get(c, LDG_SET_RANGE, kb, 8, &key, &v); rc == 0;
         rc = ldg_cursor_get(c, LDG_NEXT, NULL, 0, &key, &v)) {
        struct ldg_seal s;
        struct ldg_epoch_ext x;
        uint64_t at;
        if (key.len != 8 || ldg_seal_record_decode(v.data, v.len, &s) < 0) {
            rc = LDG_ECORRUPT;
            break;
        }
        if ((at = ldg_rd_be64(key.data)) > to)
            break;
        if (s.ext == NULL || strcmp(s.key_id, k->key_id) != 0)
            continue;
        if (ldg_epoch_ext_decode(s.ext, s.ext_len, &x) < 0) {
            rc = LDG_ECORRUPT;
            break;
        }
        if (ldg_epoch_chain_step(&k->c, &x, err, sizeof err) < 0) {
            ldg_seterr(w->l, "seal at event %llu: %s", (unsigned long long)at,
                       err);
            rc = LDG_ETAMPER;
            break;
        }
    }
    ldg_cursor_close(c);
    if (rc == LDG_ENOTFOUND || rc == 0) {
        k->pos = to + 1;
        return 0;
    }
    return rc;
}

int
ldg_epoch_horizon_keys(struct ldg_txn *t, uint64_t hz, struct ldg_horizon *h)
{
    static const uint8_t no_sig[64];
    struct ldg_epoch_walk *w = NULL;
    int rc;

    if ((rc = ldg_epoch_walk_new(ldg_txn_ledger(t), &w)) < 0)
        return rc;
    for (size_t i = 0; i < h->nkeys && rc == 0; i++) {
        struct ldg_horizon_key *hk = &h->keys[i];
        struct wkey *k;
        struct ldg_epoch_rec r;
        if ((rc = ldg_epoch_rec_get(t, hk->key_id, &r)) == LDG_ENOTFOUND) {
            rc = 0;
            continue;
        }
        if (rc < 0 || r.anchor_seq >= hz)
            continue;
        if ((rc = walk_key(w, t, hk->key_id, &k)) < 0)
            break;
        if (k->pruned) /* its chain went with an earlier prune */
            continue;
        if ((rc = walk_to(w, t, k, hz - 1)) < 0)
            break;
        hk->anchored = 1;
        hk->anchor_seq = r.anchor_seq;
        memcpy(hk->anchor, r.par.anchor, 32);
        hk->anchor_t0_ns = r.par.t0_ns;
        hk->anchor_period_ns = r.par.len_ns;
        if (!k->c.started)
            continue;
        if ((hk->epoch = malloc(LDG_EPOCH_EXT_MAX)) == NULL) {
            rc = LDG_ENOMEM;
            break;
        }
        /* the seal it signed is pruned: no signature to keep */
        hk->epoch_len = ldg_epoch_ext_encode_whole(hk->epoch, &k->c, no_sig);
    }
    ldg_epoch_walk_free(w);
    return rc;
}

/* The chain of s's key walked to s (at seal_seq), each cert and link on
 * the way checked: 1 with *kout at s's epoch (its part decoded in x), 0
 * when s has no epoch part or its key no anchor before it (or one a
 * horizon kept no chain of), LDG_ETAMPER named in l's message. */
static int
walk_seal(struct ldg_epoch_walk *w, struct ldg_txn *t, uint64_t seal_seq,
          const struct ldg_seal *s, struct ldg_epoch_ext *x, struct wkey **kout)
{
    struct wkey *k;
    int rc;

    if (s->ext == NULL)
        return 0;
    if (ldg_epoch_ext_decode(s->ext, s->ext_len, x) < 0)
        return LDG_ECORRUPT;
    rc = walk_key(w, t, s->key_id, &k);
    if (rc == LDG_ENOTFOUND) /* an epoch part without anchor: verify's */
        return 0;
    if (rc < 0)
        return rc;
    if (k->pruned || seal_seq <= k->anchor_seq)
        return 0;
    if (seal_seq < k->pos) { /* asked out of order: from the start again */
        k->c = k->base;
        k->pos = k->base_pos;
    }
    if ((rc = walk_to(w, t, k, seal_seq)) < 0)
        return rc;
    if (!k->c.started || k->c.cur.period != x->period ||
        k->c.cur.sub != x->sub) {
        ldg_seterr(w->l,
                   "seal at event %llu: its epoch is not the one its "
                   "key's seals lead to (run " LDG_CMD_VERIFY ")",
                   (unsigned long long)seal_seq);
        return LDG_ETAMPER;
    }
    *kout = k;
    return 1;
}

int
ldg_epoch_walk_whole(struct ldg_epoch_walk *w, struct ldg_txn *t,
                     uint64_t seal_seq, struct ldg_seal *s, uint8_t *buf,
                     size_t cap)
{
    struct ldg_epoch_ext x;
    struct wkey *k;
    int rc;

    if (w == NULL || t == NULL || s == NULL || buf == NULL ||
        cap < LDG_EPOCH_EXT_MAX)
        return LDG_EINVAL;
    if ((rc = walk_seal(w, t, seal_seq, s, &x, &k)) <= 0)
        return rc;
    s->ext_len = ldg_epoch_ext_encode_whole(buf, &k->c, x.sig);
    s->ext = buf;
    return 1;
}

int
ldg_epoch_walk_check(struct ldg_epoch_walk *w, struct ldg_txn *t,
                     uint64_t seal_seq, const struct ldg_seal *s,
                     uint32_t *period, uint32_t *sub, uint64_t *start_ns)
{
    uint8_t map[LDG_SEAL_MAP_MAX];
    struct ldg_epoch_ext x;
    struct wkey *k;
    size_t n;
    int rc;

    if (w == NULL || t == NULL || s == NULL || period == NULL || sub == NULL ||
        start_ns == NULL)
        return LDG_EINVAL;
    if ((rc = walk_seal(w, t, seal_seq, s, &x, &k)) <= 0)
        return rc;
    rc = ldg_seal_map_encode(s, map, sizeof map, &n);
    if (rc == 0)
        rc = ldg_epoch_seal_verify(k->c.pub, k->c.cur, map, n, x.sig);
    if (ldg_rc_machine(rc))
        return rc; /* the machine's, not the seal's */
    if (rc < 0) {
        ldg_seterr(w->l,
                   "seal at event %llu: its epoch signature does not verify "
                   "with the key of epoch %u.%u",
                   (unsigned long long)seal_seq, k->c.cur.period, k->c.cur.sub);
        return LDG_ETAMPER;
    }
    *period = k->c.cur.period;
    *sub = k->c.cur.sub;
    *start_ns = k->c.start_ns;
    return 1;
}

int
ldg_epoch_walk_checkpoint(struct ldg_epoch_walk *w, struct ldg_txn *t,
                          uint64_t size, const char *note, size_t len)
{
    struct ldg_ledger *l;
    struct ldg_epoch_chain *c;
    struct ldg_epoch_ext x;
    struct ldg_epoch_rec r;
    struct wkey *k;
    uint8_t raw[LDG_EPOCH_EXT_MAX];
    char name[LDG_ORIGIN_MAX + sizeof LDG_EPOCH_NOTE_SUFFIX], err[512];
    size_t tlen, n;
    uint32_t id;
    int rc;

    if (w == NULL || t == NULL || note == NULL || size == 0)
        return LDG_EINVAL;
    l = w->l;
    if (l->log_key == NULL ||
        (rc = ldg_epoch_rec_get(t, l->log_key->key_id, &r)) == LDG_ENOTFOUND)
        return 0;
    if (rc < 0)
        return rc;
    if ((tlen = ldg_note_text_len(note, len)) == 0)
        return LDG_ECORRUPT;
    if ((rc = walk_key(w, t, l->log_key->key_id, &k)) < 0)
        return rc;
    if (k->pruned || size - 1 <= k->anchor_seq)
        return 0;
    if (size - 1 < k->pos) { /* asked out of order: from the start again */
        k->c = k->base;
        k->pos = k->base_pos;
    }
    if ((rc = walk_to(w, t, k, size - 1)) < 0)
        return rc;
    if (!k->c.started) /* no epoch seal of the log key before it */
        return 0;
    id = ldg_epoch_note_key_id(l->origin, r.par.anchor, name, sizeof name);
    rc = ldg_note_sig_find(note, len, tlen, name, id, raw, sizeof raw, &n);
    if (rc == LDG_ENOMEM)
        return rc;
    if (rc == LDG_ENOTFOUND) {
        ldg_seterr(l,
                   "it carries no signature by an epoch key, but the log key "
                   "seals with epoch keys (epoch %u.%u before it): signed "
                   "again by the log key alone?",
                   k->c.cur.period, k->c.cur.sub);
        return LDG_ETAMPER;
    }
    if (rc < 0 || ldg_epoch_ext_decode(raw, n, &x) < 0) {
        ldg_seterr(l, "its epoch signature line is malformed");
        return LDG_ETAMPER;
    }
    /* on a copy: what the line carries is not the next seal's start */
    if ((c = malloc(sizeof *c)) == NULL)
        return LDG_ENOMEM;
    *c = k->c;
    if ((rc = ldg_epoch_chain_step(c, &x, err, sizeof err)) < 0) {
        ldg_seterr(l, "by the log key's epoch: %s", err);
        rc = LDG_ETAMPER;
    } else if ((rc = ldg_epoch_checkpoint_verify(c->pub, c->cur, note, tlen,
                                                 x.sig)) == LDG_ENOMEM) {
        rc = LDG_ENOMEM;
    } else if (rc < 0) {
        ldg_seterr(l,
                   "by the log key's epoch: its signature does not verify "
                   "with the key of epoch %u.%u (forged?)",
                   c->cur.period, c->cur.sub);
        rc = LDG_ETAMPER;
    } else {
        rc = 1;
    }
    free(c);
    return rc;
}

int
ldg_note_name_is_log(const struct ldg_ledger *l, const char *name, size_t n)
{
    size_t o = strlen(l->origin), e = sizeof LDG_EPOCH_NOTE_SUFFIX - 1;

    if (n < o || memcmp(name, l->origin, o) != 0)
        return 0;
    return n == o ||
           (n == o + e && memcmp(name + o, LDG_EPOCH_NOTE_SUFFIX, e) == 0);
}

int
ldg_checkpoint_check(struct ldg_txn *t, const char *note, size_t len,
                     uint64_t *size)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    struct ldg_epoch_walk *w = NULL;
    char why[512];
    int rc = ldg_checkpoint_check_key(t, note, len, size);

    if (rc == LDG_EBADSIG)
        ldg_seterr(l, "does not verify with the log key");
    if (rc < 0 || *size == 0)
        return rc;
    if ((rc = ldg_epoch_walk_new(l, &w)) < 0)
        return rc;
    rc = ldg_epoch_walk_checkpoint(w, t, *size, note, len);
    ldg_epoch_walk_free(w);
    if (rc == LDG_ETAMPER) {
        snprintf(why, sizeof why, "%s", ldg_errmsg(l));
        ldg_seterr(l, "of size %llu: %s", (unsigned long long)*size, why);
        return LDG_EBADSIG;
    }
    return rc < 0 ? rc : 0;
}

int
ldg_epoch_checkpoint_whole(struct ldg_txn *t, uint64_t size, const char *note,
                           char **line)
{
    struct ldg_ledger *l = ldg_txn_ledger(t);
    struct ldg_epoch_walk *w = NULL;
    struct ldg_epoch_ext x;
    struct wkey *k;
    struct ldg_epoch_rec r;
    uint8_t raw[4 + LDG_EPOCH_EXT_MAX];
    char name[LDG_ORIGIN_MAX + sizeof LDG_EPOCH_NOTE_SUFFIX], err[512];
    size_t tlen, n;
    uint32_t id;
    char *out;
    int rc;

    *line = NULL;
    if (l->log_key == NULL ||
        (rc = ldg_epoch_rec_get(t, l->log_key->key_id, &r)) == LDG_ENOTFOUND)
        return 0;
    if (rc < 0)
        return rc;
    if ((tlen = ldg_note_text_len(note, strlen(note))) == 0)
        return LDG_ECORRUPT;
    id = ldg_epoch_note_key_id(l->origin, r.par.anchor, name, sizeof name);
    rc = ldg_note_sig_find(note, strlen(note), tlen, name, id, raw + 4,
                           sizeof raw - 4, &n);
    if (rc == LDG_ENOTFOUND)
        return 0;
    if (rc == LDG_ENOMEM)
        return rc;
    if (rc < 0 || ldg_epoch_ext_decode(raw + 4, n, &x) < 0)
        return LDG_ECORRUPT;
    if ((rc = ldg_epoch_walk_new(l, &w)) < 0)
        return rc;
    if ((rc = walk_key(w, t, l->log_key->key_id, &k)) < 0)
        goto out;
    /* a chain that does not hold (a seal or the line forged in the store:
     * what `verify` names) gives no whole line; the bundle's verifier
     * then refuses the checkpoint's line, as it refuses the seals */
    if ((rc = walk_to(w, t, k, size - 1)) == LDG_ETAMPER || k->pruned ||
        ldg_epoch_chain_step(&k->c, &x, err, sizeof err) < 0) {
        rc = rc == LDG_ETAMPER ? 0 : rc;
        goto out;
    }
    if (rc < 0)
        goto out;
    ldg_be32(raw, id);
    n = 4 + ldg_epoch_ext_encode_whole(raw + 4, &k->c, x.sig);
    if ((out = calloc(1, 1)) == NULL) {
        rc = LDG_ENOMEM;
        goto out;
    }
    if ((rc = ldg_note_sig_append(&out, name, raw, n)) < 0) {
        free(out);
        goto out;
    }
    *line = out;
out:
    ldg_epoch_walk_free(w);
    return rc;
}

int
ldg_epoch_anchor_seq(struct ldg_txn *t, const char *key_id, uint64_t *seq)
{
    struct ldg_epoch_rec r;
    int rc;

    if (t == NULL || key_id == NULL || seq == NULL)
        return LDG_EINVAL;
    if (strlen(key_id) != LDG_KEYID_LEN)
        return LDG_ENOTFOUND;
    if ((rc = ldg_epoch_rec_get(t, key_id, &r)) < 0)
        return rc;
    *seq = r.anchor_seq;
    return 0;
}

/* LDG_ENOMEM, said in err and counted */
static int
no_memory(char *err, size_t errcap)
{
    /* counted: a check that failed then found nothing (ldg_alloc_failures) */
    return ldg_errf(err, errcap, ldg_alloc_failed(), "%s",
                    ldg_strerror(LDG_ENOMEM));
}

/* A checkpoint's epoch line on its own: whole, checked from the anchor,
 * then its signature over the note's text. */
int
ldg_epoch_checkpoint_check(const char *note, size_t len, size_t tlen,
                           const char *line, size_t line_len,
                           const char *origin, const uint8_t anchor[32],
                           uint64_t t0_ns, uint64_t period_ns, uint32_t *period,
                           uint32_t *sub, char *err, size_t errcap)
{
    struct ldg_epoch_chain *c;
    struct ldg_epoch_ext x;
    uint8_t own[LDG_EPOCH_EXT_MAX], raw[LDG_EPOCH_EXT_MAX];
    char name[LDG_ORIGIN_MAX + sizeof LDG_EPOCH_NOTE_SUFFIX], *buf;
    uint32_t id = ldg_epoch_note_key_id(origin, anchor, name, sizeof name);
    size_t n, on;
    int rc;

    rc = ldg_note_sig_find(note, len, tlen, name, id, own, sizeof own, &on);
    if (rc == LDG_ENOTFOUND)
        return rc;
    if (rc == LDG_ENOMEM)
        return no_memory(err, errcap);
    if (rc < 0 || on < 72) {
        snprintf(err, errcap, "its epoch signature line is malformed");
        return LDG_ECORRUPT;
    }
    /* the whole line, read as the one signature line of a note of text */
    if ((buf = malloc(tlen + 1 + line_len)) == NULL)
        return no_memory(err, errcap);
    memcpy(buf, note, tlen);
    buf[tlen] = '\n';
    memcpy(buf + tlen + 1, line, line_len);
    rc = ldg_note_sig_find(buf, tlen + 1 + line_len, tlen, name, id, raw,
                           sizeof raw, &n);
    free(buf);
    if (rc == LDG_ENOMEM)
        return no_memory(err, errcap);
    if (rc < 0 || ldg_epoch_ext_decode(raw, n, &x) < 0 ||
        memcmp(raw, own, 72) != 0) {
        snprintf(err, errcap,
                 rc < 0
                     ? "its whole epoch line is malformed or missing"
                     : "its whole epoch line is not the checkpoint's (another "
                       "epoch or signature)");
        return LDG_ECORRUPT;
    }
    *period = x.period;
    *sub = x.sub;
    if ((c = malloc(sizeof *c)) == NULL)
        return no_memory(err, errcap);
    rc = ldg_epoch_whole_from_anchor(anchor, t0_ns, period_ns, &x, "epoch line",
                                     c, err, errcap);
    if (rc == 0) {
        rc = ldg_epoch_checkpoint_verify(c->pub, c->cur, note, tlen, x.sig);
        if (rc == LDG_ENOMEM) {
            rc = no_memory(err, errcap);
        } else if (rc < 0) {
            snprintf(err, errcap,
                     "its signature does not verify with the key of epoch "
                     "%u.%u (forged?)",
                     x.period, x.sub);
            rc = LDG_EBADSIG;
        }
    }
    free(c);
    return rc;
}

/* A seal's epoch part on its own: whole, so that a fresh chain from the
 * anchor takes it as a key's first, then the epoch signature. */
int
ldg_epoch_seal_check(const uint8_t anchor[32], uint64_t t0_ns,
                     uint64_t period_ns, const struct ldg_seal *s,
                     uint32_t *period, uint32_t *sub, uint64_t *start_ns,
                     char *err, size_t errcap)
{
    struct ldg_epoch_chain c;
    struct ldg_epoch_ext x;
    uint8_t map[LDG_SEAL_MAP_MAX];
    size_t mn;
    int rc;

    if (anchor == NULL || s == NULL || s->ext == NULL || period == NULL ||
        sub == NULL || start_ns == NULL || err == NULL)
        return LDG_EINVAL;
    if (ldg_epoch_ext_decode(s->ext, s->ext_len, &x) < 0) {
        snprintf(err, errcap, "its epoch part does not decode");
        return LDG_ECORRUPT;
    }
    *period = x.period;
    *sub = x.sub;
    if ((rc = ldg_epoch_whole_from_anchor(anchor, t0_ns, period_ns, &x,
                                          "epoch part", &c, err, errcap)) < 0)
        return rc;
    rc = ldg_seal_map_encode(s, map, sizeof map, &mn);
    if (rc == 0)
        rc = ldg_epoch_seal_verify(c.pub, c.cur, map, mn, x.sig);
    if (rc == LDG_ENOMEM)
        return no_memory(err, errcap);
    if (rc < 0) {
        snprintf(err, errcap,
                 "its epoch signature does not verify with the key of epoch "
                 "%u.%u",
                 x.period, x.sub);
        return LDG_EBADSIG;
    }
    *start_ns = c.start_ns;
    return 0;
}
