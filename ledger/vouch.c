/*
 * vouch.c — single events as evidence (ldg_vouch_*: export's pre-check
 * and bundle building): canonical entry, the stored tree's leaf, the
 * chain link, a key valid at that seq, its seal or signature, the body
 * against its commitment; the key history read from the type index
 * rather than from a walk of the whole log.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ledger/epoch_int.h"
#include "ledger/index_int.h"
#include "ledger/keys_int.h"
#include "ledger/tlog_int.h"
#include "ledger/verify_int.h"

/* ------------------------------------------------------------ vouch -- */

#define VOUCH_SEALS 16
struct ldg_vouch {
    struct ldg_txn *t;
    struct ldg_ledger *l;
    struct vkey *keys;
    size_t nkeys;
    uint64_t *erased; /* sorted */
    size_t nerased;
    /* format 2: seals checked in this transaction (the seq of the first
     * and of the last event each covers), round robin */
    uint64_t seal_first[VOUCH_SEALS], seal_last[VOUCH_SEALS];
    unsigned nseal, seal_next;
    struct ldg_epoch_walk *ew; /* epoch seals' chains; NULL until one */
    /* keys whose registry anchor (where ew starts) was held to the log */
    char (*anch)[LDG_KEYID_LEN + 1];
    size_t nanch;
    /* the keys whose anchor is being held to the log, innermost last (the
     * key.anchored read for one may be under another key's epoch seal) */
    char busy[8][LDG_KEYID_LEN + 1];
    unsigned nbusy;
};

/* 1 when rc says the stored bytes are wrong; 0 for what the machine ran
 * out of (memory, I/O, a busy store), which proves nothing about them */
static int
is_finding(int rc)
{
    return rc == LDG_ENOTFOUND || rc == LDG_ECORRUPT || rc == LDG_EBADSIG ||
           rc == LDG_EBADINPUT || rc == LDG_ETOOBIG || rc == LDG_EVERSION ||
           rc == LDG_ETAMPER;
}

static int vouch_key_event(struct ldg_vouch *v, uint64_t seq,
                           struct ldg_event *ev, json_t **body, char *why,
                           size_t cap);

/* The key registry's anchor of key_id, where its epoch walk starts, held
 * to the log: the key.anchored it names, read as evidence (by the log
 * key, its body whole), or a pruned ledger's horizon record, signed by the
 * log key. Each key once. 0 (none in the registry: the walk finds none
 * either); LDG_ETAMPER with why; a resource error as it is. */
static int
vouch_anchor(struct ldg_vouch *v, uint64_t seq, const char *key_id, char *why,
             size_t cap)
{
    char(*na)[LDG_KEYID_LEN + 1];
    struct ldg_epoch_rec r;
    struct ldg_horizon h;
    int rc, hrc, ok;

    for (size_t i = 0; i < v->nanch; i++)
        if (strcmp(v->anch[i], key_id) == 0)
            return 0;
    if ((rc = ldg_epoch_rec_get(v->t, key_id, &r)) == LDG_ENOTFOUND)
        return 0;
    if (rc < 0)
        return rc;
    hrc = ldg_horizon_get(v->t, &h);
    if (hrc < 0 && hrc != LDG_ENOTFOUND)
        return hrc;
    rc = 0;
    if (hrc == 0 && r.anchor_seq < h.seq) {
        const struct ldg_horizon_key *hk = ldg_horizon_key_find(&h, key_id);
        ok = ldg_horizon_check_sig(&h, v->l->log_key->pub) == 0 && hk != NULL &&
             ldg_epoch_rec_is(&r, hk);
    } else {
        struct ldg_event ev;
        json_t *body = NULL;
        char inner[256];
        /* an anchor event under an epoch seal of its own key (or a chain
         * of them deeper than keys go) does not hold */
        ok = v->nbusy < sizeof v->busy / sizeof v->busy[0];
        for (unsigned i = 0; ok && i < v->nbusy; i++)
            ok = strcmp(v->busy[i], key_id) != 0;
        if (ok) {
            memcpy(v->busy[v->nbusy++], key_id, LDG_KEYID_LEN + 1);
            rc = vouch_key_event(v, r.anchor_seq, &ev, &body, inner,
                                 sizeof inner);
            v->nbusy--;
            ok = rc == 0 && strcmp(ev.type, LDG_EV_KEY_ANCHORED) == 0 &&
                 ldg_epoch_rec_body_is(body, key_id, &r);
        }
        json_decref(body);
    }
    if (hrc == 0)
        ldg_horizon_release(&h);
    if (rc < 0 && rc != LDG_ETAMPER)
        return rc; /* the machine's (memory, I/O), not the log's */
    if (!ok) {
        snprintf(why, cap,
                 "event %llu: the key registry's anchor of key %s (event "
                 "%llu), which its seal's epoch starts from, is not the one "
                 "the log holds (run " LDG_CMD_VERIFY ")",
                 (unsigned long long)seq, key_id,
                 (unsigned long long)r.anchor_seq);
        return LDG_ETAMPER;
    }
    if ((na = realloc(v->anch, (v->nanch + 1) * sizeof *na)) == NULL)
        return LDG_ENOMEM;
    v->anch = na;
    memcpy(v->anch[v->nanch++], key_id, LDG_KEYID_LEN + 1);
    return 0;
}

/* An epoch seal s of ev: its epoch signature checked with the key the
 * key's chain leads to from its anchor along the log's seals (each cert
 * and link checked once on the way), ev at or after its epoch's start
 * (FORMAT.md 5.1). */
static int
vouch_seal_epoch(struct ldg_vouch *v, const struct ldg_event *ev,
                 const struct ldg_seal *s, char *why, size_t cap)
{
    unsigned long long q = (unsigned long long)ev->seq;
    uint64_t start;
    uint32_t p, j;
    int rc;

    if ((rc = vouch_anchor(v, ev->seq, s->key_id, why, cap)) < 0)
        return rc;
    if (v->ew == NULL && (rc = ldg_epoch_walk_new(v->l, &v->ew)) < 0)
        return rc;
    rc = ldg_epoch_walk_check(v->ew, v->t, ev->seal_seq, s, &p, &j, &start);
    if (rc == LDG_ETAMPER || rc == 0) {
        snprintf(why, cap, "event %llu: its seal's epoch: %s", q,
                 rc == 0 ? "no anchor of its key leads to it"
                         : ldg_errmsg(v->l));
        return LDG_ETAMPER;
    }
    if (rc < 0)
        return rc;
    if (ev->ts_ns < start) {
        snprintf(why, cap,
                 "event %llu: its time %llu ns is before the start (%llu ns) "
                 "of epoch %u.%u of key %s, which sealed it (the past "
                 "re-signed?)",
                 q, (unsigned long long)ev->ts_ns, (unsigned long long)start, p,
                 j, s->key_id);
        return LDG_ETAMPER;
    }
    return 0;
}

/* Format 2: ev's claim is bound by its stamp's digest, and that digest is
 * a leaf of the seal the stamp names: its events' digests give the
 * sealed root, and the seal's signature verifies with pub (the claim's
 * actor's key). Each seal is checked once (its events are read to
 * rebuild the root) and remembered. */
static int
vouch_seal(struct ldg_vouch *v, const struct ldg_event *ev,
           const uint8_t pub[32], char *why, size_t cap)
{
    struct ldg_seal s;
    struct ldg_seal_acc acc;
    uint8_t d[32], root[32];
    unsigned long long q = (unsigned long long)ev->seq;
    uint64_t size = 0, at, last = 0;
    int rc;

    ldg_claim_digest(d, ev->signed_part, ev->signed_len);
    if (memcmp(d, ev->digest, 32) != 0) {
        snprintf(why, cap, "event %llu: claim digest does not match its stamp",
                 q);
        return LDG_ETAMPER;
    }
    for (unsigned i = 0; i < v->nseal; i++)
        if (v->seal_first[i] == ev->seal_seq && ev->seq <= v->seal_last[i])
            return 0;
    rc = ldg_seal_get(v->t, ev->seal_seq, &s);
    if (rc == LDG_ENOTFOUND || rc == LDG_ECORRUPT) {
        snprintf(why, cap, "event %llu: its seal (at event %llu) is %s", q,
                 (unsigned long long)ev->seal_seq,
                 rc == LDG_ENOTFOUND ? "missing" : "malformed");
        return LDG_ETAMPER;
    }
    if (rc < 0)
        return rc;
    if (strcmp(s.key_id, ev->actor) != 0) {
        snprintf(why, cap, "event %llu: actor %s but its seal is by %s", q,
                 ev->actor, s.key_id);
        return LDG_ETAMPER;
    }
    if ((rc = ldg_txn_size(v->t, &size)) < 0)
        return rc;
    ldg_seal_acc_init(&acc);
    for (at = ev->seal_seq; acc.count < s.count && at < size; at++) {
        struct ldg_event e;
        if ((rc = ldg_event_get(v->t, at, &e)) < 0) {
            if (rc != LDG_ENOTFOUND && rc != LDG_ECORRUPT)
                return rc;
            snprintf(why, cap,
                     "event %llu: event %llu of its seal's range does not "
                     "decode",
                     q, (unsigned long long)at);
            return LDG_ETAMPER;
        }
        if (!e.sealed || e.seal_seq != ev->seal_seq)
            continue;
        if (e.seal_leaf != acc.count || strcmp(e.actor, s.key_id) != 0) {
            snprintf(why, cap,
                     "event %llu: its seal's events are out of place (event "
                     "%llu)",
                     q, (unsigned long long)at);
            return LDG_ETAMPER;
        }
        ldg_seal_acc_add(&acc, e.digest);
        last = at;
    }
    if (acc.count < s.count || ev->seq > last) {
        snprintf(why, cap,
                 "event %llu: its seal covers %llu events, the log has %llu "
                 "of them",
                 q, (unsigned long long)s.count, (unsigned long long)acc.count);
        return LDG_ETAMPER;
    }
    ldg_seal_acc_root(&acc, root);
    if (memcmp(root, s.root, 32) != 0 ||
        (s.ext == NULL && ldg_seal_verify(&s, pub) != 0)) {
        snprintf(why, cap,
                 "event %llu: its seal (at event %llu) does not verify with "
                 "key %s",
                 q, (unsigned long long)ev->seal_seq, s.key_id);
        return LDG_ETAMPER;
    }
    if (s.ext != NULL && (rc = vouch_seal_epoch(v, ev, &s, why, cap)) < 0)
        return rc;
    v->seal_first[v->seal_next] = ev->seal_seq;
    v->seal_last[v->seal_next] = last;
    v->seal_next = (v->seal_next + 1) % VOUCH_SEALS;
    if (v->nseal < VOUCH_SEALS)
        v->nseal++;
    return 0;
}

/* A key event (or the genesis) read as evidence: canonical, signed by the
 * log key, its body whole. *body is the caller's. LDG_ETAMPER with why;
 * a resource error (LDG_ENOMEM, LDG_EIO, ...) as it is. */
static int
vouch_key_event(struct ldg_vouch *v, uint64_t seq, struct ldg_event *ev,
                json_t **body, char *why, size_t cap)
{
    struct ldg_val bv;
    uint8_t k[8], root[32];
    int rc = ldg_event_get(v->t, seq, ev);

    *body = NULL;
    if (rc == 0 && ev->seq != seq)
        rc = LDG_ECORRUPT;
    if (rc == 0 &&
        (strcmp(ev->actor, v->l->log_key->key_id) != 0 ||
         (!ev->sealed && ldg_event_verify_sig(ev, v->l->log_key->pub) != 0)))
        rc = LDG_EBADSIG;
    if (rc == 0 && ev->sealed &&
        (rc = vouch_seal(v, ev, v->l->log_key->pub, why, cap)) < 0)
        return rc; /* why says what, when it is a finding */
    ldg_be64(k, seq);
    if (rc == 0)
        rc = ldg_kv_get(
            v->t, ldg_store_core_dbi(ldg_txn_store(v->t), ldg_db_bodies(v->t)),
            k, 8, &bv);
    if (rc == 0) {
        rc = ldg_body_rec_root(ldg_txn_dicts(v->t), bv.data, bv.len,
                               v->l->opts.body_max_bytes, root);
        if (rc == 0 && memcmp(root, ev->body_root, 32) != 0)
            rc = LDG_ECORRUPT;
    }
    if (rc == 0)
        rc = ldg_body_get(v->t, seq, body);
    if (rc < 0 && is_finding(rc)) {
        json_decref(*body);
        *body = NULL;
        snprintf(why, cap, "event %llu (a key event): %s",
                 (unsigned long long)seq, ldg_strerror(rc));
        return LDG_ETAMPER;
    }
    return rc;
}

int
ldg_vouch_new(struct ldg_vouch **out, struct ldg_txn *t)
{
    struct ldg_vouch *v = calloc(1, sizeof *v);
    uint64_t *seqs = NULL;
    size_t n = 0, nadd;
    char why[256];
    int rc;

    *out = NULL;
    if (v == NULL)
        return LDG_ENOMEM;
    v->t = t;
    v->l = ldg_txn_ledger(t);
    v->keys = calloc(1, sizeof *v->keys);
    if (v->keys == NULL) {
        rc = LDG_ENOMEM;
        goto fail;
    }
    memcpy(v->keys[0].key_id, v->l->log_key->key_id, LDG_KEYID_LEN + 1);
    memcpy(v->keys[0].pub, v->l->log_key->pub, 32);
    v->keys[0].revoked = UINT64_MAX;
    v->keys[0].roles = UINT32_MAX;
    v->nkeys = 1;
    if ((rc = ldg_type_seqs(t, LDG_EV_KEY_ADDED, 0, UINT64_MAX, &seqs, &n)) < 0)
        goto fail;
    nadd = n;
    if ((rc = ldg_type_seqs(t, LDG_EV_KEY_REVOKED, 0, UINT64_MAX, &seqs, &n)) <
        0)
        goto fail;
    {
        struct ldg_horizon h;
        struct vkey *a;
        size_t nh = 0;
        rc = ldg_horizon_get(t, &h);
        if (rc < 0 && rc != LDG_ENOTFOUND)
            goto fail;
        /* a pruned ledger: the keys added before the horizon, as its
         * record (signed by the log key) says */
        if (rc == 0 && ldg_horizon_check_sig(&h, v->l->log_key->pub) == 0)
            nh = h.nkeys;
        a = realloc(v->keys, (1 + nh + nadd) * sizeof *a);
        if (a == NULL) {
            ldg_horizon_release(&h);
            rc = LDG_ENOMEM;
            goto fail;
        }
        v->keys = a;
        for (size_t i = 0; i < nh; i++) {
            const struct ldg_horizon_key *hk = &h.keys[i];
            struct vkey *k = &v->keys[v->nkeys];
            if (hk->added == 0)
                continue; /* the log key: keys[0] */
            memset(k, 0, sizeof *k);
            memcpy(k->key_id, hk->key_id, sizeof k->key_id);
            memcpy(k->pub, hk->pub, 32);
            k->added = hk->added;
            k->revoked = hk->revoked;
            k->roles = ldg_horizon_roles_mask(hk->roles);
            v->nkeys++;
        }
        ldg_horizon_release(&h);
        rc = 0;
    }
    for (size_t i = 0; i < n; i++) {
        struct ldg_event ev;
        json_t *body;
        const char *id, *hex;
        rc = vouch_key_event(v, seqs[i], &ev, &body, why, sizeof why);
        if (rc == LDG_ETAMPER || rc == LDG_EPRUNED)
            continue; /* such a key is simply not valid: its events fail */
        if (rc < 0)
            goto fail;
        id = json_string_value(json_object_get(body, "key_id"));
        hex = json_string_value(json_object_get(body, "public_key"));
        if (i < nadd && id != NULL && hex != NULL &&
            strlen(id) == LDG_KEYID_LEN) {
            struct vkey *k = &v->keys[v->nkeys];
            char want[LDG_KEYID_LEN + 1];
            memset(k, 0, sizeof *k);
            if (ldg_unhex(k->pub, 32, hex) == 0 &&
                (ldg_key_id(want, k->pub), strcmp(want, id) == 0)) {
                memcpy(k->key_id, id, LDG_KEYID_LEN + 1);
                k->added = seqs[i];
                k->revoked = UINT64_MAX;
                k->roles = ldg_roles_mask(json_object_get(body, "roles"));
                v->nkeys++;
            }
        } else if (i >= nadd && id != NULL) {
            for (size_t j = 0; j < v->nkeys; j++)
                if (strcmp(v->keys[j].key_id, id) == 0 && j > 0 &&
                    seqs[i] < v->keys[j].revoked)
                    v->keys[j].revoked = seqs[i];
        }
        json_decref(body);
    }
    n = 0;
    if ((rc = ldg_type_seqs(t, LDG_EV_BODY_ERASED, 0, UINT64_MAX, &seqs, &n)) <
        0)
        goto fail;
    v->erased = malloc((n ? n : 1) * sizeof *v->erased);
    if (v->erased == NULL) {
        rc = LDG_ENOMEM;
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *body = NULL;
        json_int_t tg;
        if (ldg_body_get(t, seqs[i], &body) < 0)
            continue;
        tg = json_integer_value(json_object_get(body, "target_seq"));
        if (tg >= 0 && (uint64_t)tg < seqs[i])
            v->erased[v->nerased++] = (uint64_t)tg;
        json_decref(body);
    }
    if (v->nerased > 1)
        qsort(v->erased, v->nerased, sizeof *v->erased, vf_cmp_u64);
    free(seqs);
    *out = v;
    return 0;
fail:
    free(seqs);
    ldg_vouch_free(v);
    return rc;
}

void
ldg_vouch_rebind(struct ldg_vouch *v, struct ldg_txn *t)
{
    if (v != NULL && t != NULL) {
        v->t = t;
        /* the anchors held to the log again, once a key (one event
         * each); the epoch walks go on where they were: the log only
         * grows (a prune between windows ends an export) */
        v->nanch = 0;
    }
}

void
ldg_vouch_free(struct ldg_vouch *v)
{
    if (v == NULL)
        return;
    ldg_epoch_walk_free(v->ew);
    free(v->anch);
    free(v->keys);
    free(v->erased);
    free(v);
}

/* Everything ldg_vouch_event checks but the signature; *ev and *pub are
 * for it (valid while the transaction lives). */
static int
vouch_struct(struct ldg_vouch *v, uint64_t seq, struct ldg_event *evp,
             const uint8_t **pub, char *why, size_t cap)
{
    struct ldg_event ev;
    struct ldg_val bv;
    const struct vkey *k = NULL;
    uint8_t leaf[32], prev[32] = {0}, kb[8], root[32];
    unsigned long long s = (unsigned long long)seq;
    int rc;

    rc = ldg_event_get(v->t, seq, &ev);
    if (rc == LDG_ENOTFOUND || rc == LDG_ECORRUPT || rc == LDG_EBADINPUT) {
        snprintf(why, cap,
                 "event %llu: the entry is missing or does not "
                 "decode canonically",
                 s);
        return LDG_ETAMPER;
    }
    if (rc < 0)
        return rc;
    if (ev.seq != seq) {
        snprintf(why, cap,
                 "event %llu: the entry carries sequence number "
                 "%llu",
                 s, (unsigned long long)ev.seq);
        return LDG_ETAMPER;
    }
    if ((rc = ldg_tree_stored_hash(v->t, 0, seq, leaf)) < 0 && !is_finding(rc))
        return rc;
    if (rc < 0 || memcmp(leaf, ev.leaf, 32) != 0) {
        snprintf(why, cap,
                 "event %llu: the entry is not the stored tree's "
                 "leaf (entry or tree altered)",
                 s);
        return LDG_ETAMPER;
    }
    if (seq > 0 && (rc = ldg_tree_stored_hash(v->t, 0, seq - 1, prev)) < 0 &&
        !is_finding(rc))
        return rc;
    if ((seq > 0 && rc < 0) || memcmp(prev, ev.prev, 32) != 0) {
        snprintf(why, cap,
                 "event %llu: hash chain broken: prev is not the "
                 "leaf hash of event %llu",
                 s, s ? s - 1 : 0);
        return LDG_ETAMPER;
    }
    for (size_t i = 0; i < v->nkeys; i++)
        if (strcmp(v->keys[i].key_id, ev.actor) == 0)
            k = &v->keys[i];
    if (k == NULL || (k->added >= seq && !(seq == 0 && k->added == 0)) ||
        k->revoked < seq) {
        snprintf(why, cap,
                 "event %llu: signed by key %s, which the log's "
                 "key events do not make valid at this event",
                 s, ev.actor);
        return LDG_ETAMPER;
    }
    if (k->added != 0 && !ldg_roles_mask_allows(k->roles, ev.type)) {
        snprintf(why, cap,
                 "event %llu: %s signed by key %s, whose roles (key.added "
                 "at event %llu) do not allow it",
                 s, ev.type, ev.actor, (unsigned long long)k->added);
        return LDG_ETAMPER;
    }
    if (ev.sealed && (rc = vouch_seal(v, &ev, k->pub, why, cap)) != 0)
        return rc;
    *evp = ev;
    *pub = k->pub;
    ldg_be64(kb, seq);
    rc = ldg_kv_get(
        v->t, ldg_store_core_dbi(ldg_txn_store(v->t), ldg_db_bodies(v->t)), kb,
        8, &bv);
    if (rc == LDG_ENOTFOUND) {
        size_t lo = 0, hi = v->nerased;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (v->erased[mid] == seq)
                return 0;
            if (v->erased[mid] < seq)
                lo = mid + 1;
            else
                hi = mid;
        }
        snprintf(why, cap, "event %llu: %s", s, vf_msg_nobody);
        return LDG_ETAMPER;
    }
    if (rc < 0)
        return rc;
    rc = ldg_body_rec_root(ldg_txn_dicts(v->t), bv.data, bv.len,
                           v->l->opts.body_max_bytes, root);
    if (rc < 0 && !is_finding(rc))
        return rc;
    if (rc < 0 || memcmp(root, ev.body_root, 32) != 0) {
        snprintf(why, cap,
                 "event %llu: body does not match its commitment "
                 "in the entry",
                 s);
        return LDG_ETAMPER;
    }
    return 0;
}

int
ldg_vouch_event(struct ldg_vouch *v, uint64_t seq, char *why, size_t cap)
{
    struct ldg_event ev;
    const uint8_t *pub = NULL;
    int rc = vouch_struct(v, seq, &ev, &pub, why, cap);

    if (rc == 0 && !ev.sealed &&
        (rc = ldg_event_verify_sig(&ev, pub)) == LDG_EBADSIG) {
        snprintf(why, cap, "event %llu: signature does not verify with key %s",
                 (unsigned long long)seq, ev.actor);
        rc = LDG_ETAMPER;
    }
    return rc;
}

/* Signatures of a chunk, on threads: pure CPU over mapped bytes that stay
 * valid while the caller's transaction lives. */
struct vsig {
    struct ldg_event *ev;
    const uint8_t **pub;
    size_t n, next;
    size_t first_bad; /* lowest failing index, n if none */
    int err;          /* what stopped the check there: LDG_EBADSIG, or the
                         machine's (LDG_ENOMEM), which proves nothing */
    pthread_mutex_t mu;
};

static void *
vsig_worker(void *arg)
{
    struct vsig *w = arg;
    for (;;) {
        size_t lo, hi;
        pthread_mutex_lock(&w->mu);
        lo = w->next;
        hi = lo + 64 < w->n ? lo + 64 : w->n;
        w->next = hi;
        pthread_mutex_unlock(&w->mu);
        if (lo >= hi)
            return NULL;
        for (size_t i = lo; i < hi; i++) {
            int rc = w->ev[i].sealed
                         ? 0
                         : ldg_event_verify_sig(&w->ev[i], w->pub[i]);
            if (rc != 0) {
                pthread_mutex_lock(&w->mu);
                if (i < w->first_bad) {
                    w->first_bad = i;
                    w->err = rc;
                }
                pthread_mutex_unlock(&w->mu);
                break;
            }
        }
    }
}

#define VOUCH_CHUNK 4096

int
ldg_vouch_events(struct ldg_vouch *v, const uint64_t *seqs, size_t n,
                 unsigned threads, char *why, size_t cap)
{
    struct vsig w;
    pthread_t th[16];
    int rc = 0;

    if (v == NULL || (seqs == NULL && n > 0))
        return LDG_EINVAL;
    if (threads == 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        threads = c > 0 ? (unsigned)c : 1;
    }
    if (threads > 16)
        threads = 16;
    memset(&w, 0, sizeof w);
    w.ev = malloc(VOUCH_CHUNK * sizeof *w.ev);
    w.pub = malloc(VOUCH_CHUNK * sizeof *w.pub);
    if (w.ev == NULL || w.pub == NULL) {
        free(w.ev);
        free(w.pub);
        return LDG_ENOMEM;
    }
    pthread_mutex_init(&w.mu, NULL);
    for (size_t base = 0; rc == 0 && base < n; base += VOUCH_CHUNK) {
        size_t m = n - base < VOUCH_CHUNK ? n - base : VOUCH_CHUNK, k = 0;
        char swhy[400] = "";
        int src = 0;
        unsigned nt = 0;
        for (; k < m; k++)
            if ((src = vouch_struct(v, seqs[base + k], &w.ev[k], &w.pub[k],
                                    swhy, sizeof swhy)) < 0)
                break;
        w.n = k;
        w.next = 0;
        w.first_bad = k;
        for (unsigned i = 0; i < threads && k > 256; i++)
            if (pthread_create(&th[nt], NULL, vsig_worker, &w) == 0)
                nt++;
        if (nt == 0)
            vsig_worker(&w);
        for (unsigned i = 0; i < nt; i++)
            pthread_join(th[i], NULL);
        if (w.first_bad < k && w.err != LDG_EBADSIG) {
            rc = w.err;
        } else if (w.first_bad < k) {
            snprintf(why, cap,
                     "event %llu: signature does not verify with key %s",
                     (unsigned long long)w.ev[w.first_bad].seq,
                     w.ev[w.first_bad].actor);
            rc = LDG_ETAMPER;
        } else if (src < 0) {
            snprintf(why, cap, "%s", swhy);
            rc = src;
        }
    }
    pthread_mutex_destroy(&w.mu);
    free(w.ev);
    free(w.pub);
    return rc;
}
