/*
 * verify_seals.c — format 2 seals in verify: each event's place in its
 * seal (pass 1, in seq order), a seal's root and one signature when it
 * has all its events, sizes that must fall between seals, and the seals
 * database against the seals the entries open.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/tlog_int.h"
#include "ledger/verify_int.h"

static int
epoch_before(struct ldg_epoch_id a, struct ldg_epoch_id b)
{
    return a.period < b.period || (a.period == b.period && a.sub < b.sub);
}

/* The checkpoint's epoch line (FORMAT.md 5.1): once the log key's seals
 * are under epoch keys, the checkpoint of size carries a signature by an
 * epoch key certified from the chain its seals before size made: that
 * epoch or a later one (its certs and links in the line), never earlier
 * than the last checkpoint's, never later than the log key's next seal's
 * (checked at that seal, vf_seal_epoch): what was live when it was
 * signed. */
int
vf_checkpoint_epoch(struct vstate *vs, const char *note, size_t len,
                    size_t tlen, uint64_t size)
{
    struct ldg_ledger *l = vs->l;
    const struct vkey *k = vf_find_key(vs, l->log_key->key_id);
    struct ldg_epoch_chain *c;
    struct ldg_epoch_ext x;
    uint8_t raw[LDG_EPOCH_EXT_MAX];
    char name[LDG_ORIGIN_MAX + sizeof LDG_EPOCH_NOTE_SUFFIX], err[512];
    unsigned long long sz = (unsigned long long)size;
    size_t n;
    uint32_t id;
    int rc;

    if (k == NULL || k->anchored == 0 || k->anchored == VF_ANCHOR_PRUNED ||
        k->ep == NULL || !k->ep->started)
        return 0;
    id = ldg_epoch_note_key_id(l->origin, k->ep->par.anchor, name, sizeof name);
    rc = ldg_note_sig_find(note, len, tlen, name, id, raw, sizeof raw, &n);
    if (rc == LDG_ENOMEM) /* no finding: ldg_verify answers LDG_ENOMEM */
        return ldg_alloc_failed(), 1;
    if (rc == LDG_ENOTFOUND) {
        vf_bad(vs, size - 1,
               "checkpoint of size %llu carries no signature by an epoch "
               "key, but the log key seals with epoch keys (epoch %u.%u "
               "before it): signed again by the log key alone?",
               sz, k->ep->cur.period, k->ep->cur.sub);
        return 1;
    }
    if (rc < 0 || ldg_epoch_ext_decode(raw, n, &x) < 0) {
        vf_bad(vs, size - 1,
               "checkpoint of size %llu: its epoch signature line is "
               "malformed",
               sz);
        return 1;
    }
    if ((c = malloc(sizeof *c)) == NULL)
        return ldg_alloc_failed();
    *c = *k->ep;
    rc = ldg_epoch_chain_step(c, &x, err, sizeof err);
    if (rc == 0 && vs->ck_ep_size > 0 && epoch_before(c->cur, vs->ck_ep)) {
        snprintf(err, sizeof err,
                 "epoch %u.%u is before epoch %u.%u, which signed the "
                 "checkpoint of size %llu",
                 c->cur.period, c->cur.sub, vs->ck_ep.period, vs->ck_ep.sub,
                 (unsigned long long)vs->ck_ep_size);
        rc = LDG_EBADSIG;
    }
    if (rc == 0) {
        rc = ldg_epoch_checkpoint_verify(c->pub, c->cur, note, tlen, x.sig);
        if (rc == LDG_ENOMEM) { /* no finding: ldg_verify says LDG_ENOMEM */
            free(c);
            return ldg_alloc_failed(), 1;
        }
        if (rc != 0) {
            snprintf(err, sizeof err,
                     "its signature does not verify with the key of epoch "
                     "%u.%u (forged?)",
                     c->cur.period, c->cur.sub);
            rc = LDG_EBADSIG;
        }
    }
    if (rc == 0) {
        vs->ck_ep = c->cur;
        vs->ck_ep_size = size;
    }
    free(c);
    if (rc != 0) {
        vf_bad(vs, size - 1,
               "checkpoint of size %llu, by the log key's epoch: %s", sz, err);
        return 1;
    }
    return 0;
}

/* At a seal's first event: a key anchored before it must seal with its
 * epoch key, under a chain from its anchor (the certs and links this seal
 * carries checked now); a key without one, or the seal holding its anchor
 * event, carries no epoch. Returns 1 on a finding. */
static int
vf_seal_epoch(struct vstate *vs, struct vkey *k, struct vseal *o,
              const struct ldg_event *ev)
{
    struct ldg_epoch_ext x;
    char err[512];
    int want = k->anchored != 0 && k->anchored - 1 < ev->seq;

    o->epoch = 0;
    if (k->anchored == VF_ANCHOR_PRUNED) {
        if (o->rec.ext == NULL)
            return 0;
        vf_bad(vs, ev->seq,
               "its seal by key %s is under an epoch, but the horizon "
               "record keeps no chain of the key (a prune by a development "
               "build before 2026-11-29): no signature of it can be checked",
               o->rec.key_id);
        return 1;
    }
    if (!want) {
        if (o->rec.ext != NULL) {
            vf_bad(vs, ev->seq,
                   "its seal carries an epoch, but key %s has no anchor "
                   "before it",
                   o->rec.key_id);
            return 1;
        }
        return 0;
    }
    if (o->rec.ext == NULL) {
        vf_bad(vs, ev->seq,
               "its seal by key %s carries no epoch, but the key seals with "
               "epoch keys since its anchor at event %llu (a seal re-signed "
               "with the key alone)",
               o->rec.key_id, (unsigned long long)(k->anchored - 1));
        return 1;
    }
    if (ldg_epoch_ext_decode(o->rec.ext, o->rec.ext_len, &x) < 0) {
        vf_bad(vs, ev->seq, "its seal's epoch part does not decode");
        return 1;
    }
    if (ldg_epoch_chain_step(k->ep, &x, err, sizeof err) < 0) {
        vf_bad(vs, ev->seq, "its seal by key %s: %s", o->rec.key_id, err);
        return 1;
    }
    if (vs->ck_ep_size > 0 && k->key_id[0] != '\0' &&
        strcmp(k->key_id, vs->l->log_key->key_id) == 0) {
        if (epoch_before(k->ep->cur, vs->ck_ep)) {
            vf_bad(vs, ev->seq,
                   "its seal is under epoch %u.%u of the log key, but the "
                   "checkpoint of size %llu before it is signed by its later "
                   "epoch %u.%u (a checkpoint signed again later?)",
                   k->ep->cur.period, k->ep->cur.sub,
                   (unsigned long long)vs->ck_ep_size, vs->ck_ep.period,
                   vs->ck_ep.sub);
            return 1;
        }
        vs->ck_ep_size = 0;
    }
    o->epoch = 1;
    o->e = k->ep->cur;
    memcpy(o->ep_pub, k->ep->pub, 32);
    memcpy(o->ep_sig, x.sig, 64);
    o->ep_start = k->ep->start_ns;
    o->rec.ext = NULL;
    o->rec.ext_len = 0;
    return 0;
}

/* Format 2, pass 1, in seq order: ev's place in its seal. Opens a seal
 * at its first event (the record must be stored, by the claim's actor,
 * with the key's running count as first), continues an open one at the
 * next leaf, and when a seal has all its events checks its root and its
 * one signature. Returns 1 on a finding. */
int
vf_seal_step(struct vstate *vs, struct ldg_txn *t, const struct ldg_event *ev)
{
    struct ldg_ledger *l = vs->l;
    struct vseal *o = NULL;
    struct vkey *k;
    size_t i;

    for (i = 0; i < vs->nopen; i++)
        if (vs->open[i].seal_seq == ev->seal_seq) {
            o = &vs->open[i];
            break;
        }
    if (ev->seal_leaf == 0) {
        struct ldg_val v;
        uint8_t key[8];
        int rc;
        for (i = 0; i < vs->nopen; i++)
            if (strcmp(vs->open[i].rec.key_id, ev->actor) == 0) {
                vf_bad(vs, ev->seq,
                       "opens a seal of key %s while its seal at event %llu is "
                       "still open (a key's seals never interleave)",
                       ev->actor, (unsigned long long)vs->open[i].seal_seq);
                return 1;
            }
        ldg_be64(key, ev->seq);
        rc = ldg_store_has_core(l->store, LDG_DB_SEALS)
                 ? ldg_kv_get(t, ldg_core(l, LDG_DB_SEALS), key, 8, &v)
                 : LDG_ENOTFOUND;
        if (rc == LDG_ENOTFOUND) {
            vf_bad(vs, ev->seq,
                   "opens a seal but no seal record is stored for it (seal "
                   "deleted)");
            return 1;
        }
        if (rc < 0) {
            vf_bad(vs, ev->seq, "its seal record cannot be read (%s)",
                   vf_strerror(rc));
            return 1;
        }
        if (vs->nopen == vs->capopen) {
            size_t cap = vs->capopen ? vs->capopen * 2 : 8;
            struct vseal *ns = realloc(vs->open, cap * sizeof *ns);
            if (ns == NULL)
                return ldg_alloc_failed();
            vs->open = ns;
            vs->capopen = cap;
        }
        o = &vs->open[vs->nopen];
        o->seal_seq = ev->seq;
        if (ldg_seal_record_decode(v.data, v.len, &o->rec) < 0) {
            vf_bad(vs, ev->seq, "its seal record does not decode");
            return 1;
        }
        if (strcmp(o->rec.key_id, ev->actor) != 0) {
            vf_bad(vs, ev->seq, "actor %s but its seal is by %s", ev->actor,
                   o->rec.key_id);
            return 1;
        }
        if (strcmp(o->rec.origin, l->origin) != 0) {
            vf_bad(vs, ev->seq, "its seal names origin '%s', not the log's",
                   o->rec.origin);
            return 1;
        }
        k = (struct vkey *)(uintptr_t)vf_find_key(vs, ev->actor);
        if (k == NULL) {
            vf_bad(vs, ev->seq, "sealed by key %s, which the log had not added",
                   ev->actor);
            return 1;
        }
        if (o->rec.first != k->sealed) {
            vf_bad(vs, ev->seq,
                   "its seal's first is %llu but key %s had %llu events sealed "
                   "before it (a seal replayed, dropped or reordered)",
                   (unsigned long long)o->rec.first, ev->actor,
                   (unsigned long long)k->sealed);
            return 1;
        }
        if (vf_seal_epoch(vs, k, o, ev))
            return 1;
        ldg_seal_acc_init(&o->acc);
        vs->nopen++;
        vs->nseals++;
    } else if (o == NULL) {
        vf_bad(vs, ev->seq,
               "continues seal %llu, which is not open (never opened or "
               "already complete)",
               (unsigned long long)ev->seal_seq);
        return 1;
    } else if (o->acc.count != ev->seal_leaf) {
        vf_bad(
            vs, ev->seq, "is leaf %llu of seal %llu, which expects leaf %llu",
            (unsigned long long)ev->seal_leaf, (unsigned long long)ev->seal_seq,
            (unsigned long long)o->acc.count);
        return 1;
    } else if (strcmp(o->rec.key_id, ev->actor) != 0) {
        vf_bad(vs, ev->seq, "actor %s but its seal is by %s", ev->actor,
               o->rec.key_id);
        return 1;
    }
    if (o->epoch && ev->ts_ns < o->ep_start) {
        vf_bad(vs, ev->seq,
               "its time %llu ns is before the start (%llu ns) of epoch %u.%u "
               "of key %s, which sealed it: an epoch key seals only what "
               "came after it began (the past re-signed?)",
               (unsigned long long)ev->ts_ns, (unsigned long long)o->ep_start,
               o->e.period, o->e.sub, o->rec.key_id);
        return 1;
    }
    ldg_seal_acc_add(&o->acc, ev->digest);
    if (o->acc.count < o->rec.count)
        return 0;
    /* complete: the root, then the one signature */
    {
        uint8_t root[32];
        ldg_seal_acc_root(&o->acc, root);
        k = (struct vkey *)(uintptr_t)vf_find_key(vs, o->rec.key_id);
        if (memcmp(root, o->rec.root, 32) != 0) {
            vf_bad(vs, o->seal_seq,
                   "seal of %llu events by key %s: the claim digests of its "
                   "events do not give the root it signed (an event altered, "
                   "moved or swapped)",
                   (unsigned long long)o->rec.count, o->rec.key_id);
            return 1;
        }
        if (k == NULL || (!o->epoch && ldg_seal_verify(&o->rec, k->pub) != 0)) {
            vf_bad(vs, o->seal_seq,
                   "seal of %llu events: signature does not verify with key %s",
                   (unsigned long long)o->rec.count, o->rec.key_id);
            return 1;
        }
        if (o->epoch) {
            uint8_t map[LDG_SEAL_MAP_MAX];
            size_t mn;
            int src = ldg_seal_map_encode(&o->rec, map, sizeof map, &mn);
            if (src == 0)
                src =
                    ldg_epoch_seal_verify(o->ep_pub, o->e, map, mn, o->ep_sig);
            if (src == LDG_ENOMEM) /* no finding: ldg_verify says so */
                return ldg_alloc_failed(), 1;
            if (src < 0) {
                vf_bad(vs, o->seal_seq,
                       "seal of %llu events by key %s: its epoch signature "
                       "does not verify with the key of epoch %u.%u",
                       (unsigned long long)o->rec.count, o->rec.key_id,
                       o->e.period, o->e.sub);
                return 1;
            }
        }
        pthread_mutex_lock(&vs->mu);
        k->sealed += o->rec.count;
        pthread_mutex_unlock(&vs->mu);
    }
    vs->nopen--;
    vs->open[i] = vs->open[vs->nopen];
    return 0;
}

/* Format 2: a size (checkpoint, end of log) must fall between seals. */
int
vf_seals_closed(struct vstate *vs, uint64_t size, const char *what)
{
    uint64_t first = UINT64_MAX;
    const struct vseal *o = NULL;
    for (size_t i = 0; i < vs->nopen; i++)
        if (vs->open[i].seal_seq < first) {
            first = vs->open[i].seal_seq;
            o = &vs->open[i];
        }
    if (o == NULL)
        return 0;
    vf_bad(vs, o->seal_seq,
           "seal of %llu events has only %llu of them before %s %llu (a seal "
           "straddles it, or events were deleted)",
           (unsigned long long)o->rec.count, (unsigned long long)o->acc.count,
           what, (unsigned long long)size);
    return 1;
}

/* Format 2: the seals database holds exactly the seals the entries open,
 * and each key's sealed count in the registry is what the seals add up
 * to. Only after pass 1 went through the whole log. */
void
vf_check_seals(struct vstate *vs, struct ldg_txn *t, uint64_t size)
{
    struct ldg_ledger *l = vs->l;
    uint64_t n = 0, last = size ? size - 1 : 0;

    if (!ldg_store_has_core(l->store, LDG_DB_SEALS)) {
        if (vs->nseals > 0)
            vf_bad(vs, last, "the seals database is missing");
        return;
    }
    if (ldg_db_count(t, ldg_core(l, LDG_DB_SEALS), &n) == 0 &&
        n != vs->nseals) {
        /* name the first record no entry opens, if it is one */
        struct ldg_cursor *c = NULL;
        struct ldg_val k, v;
        uint64_t at = last;
        if (ldg_cursor_open(t, ldg_core(l, LDG_DB_SEALS), &c) == 0) {
            int rc;
            for (rc = ldg_cursor_get(c, LDG_FIRST, NULL, 0, &k, &v); rc == 0;
                 rc = ldg_cursor_get(c, LDG_NEXT, NULL, 0, &k, &v)) {
                struct ldg_event ev;
                uint64_t s;
                if (k.len != 8) {
                    break;
                }
                s = ldg_rd_be64(k.data);
                if (s >= size || ldg_event_get(t, s, &ev) != 0 || !ev.sealed ||
                    ev.seal_leaf != 0) {
                    at = s < size ? s : last;
                    break;
                }
            }
            ldg_cursor_close(c);
        }
        vf_bad(vs, at,
               "the seals database holds %llu seals, the entries open %llu (a "
               "seal record no entry opens)",
               (unsigned long long)n, (unsigned long long)vs->nseals);
        return;
    }
    for (size_t i = 0; i < vs->nkeys; i++) {
        uint64_t have = 0;
        if (ldg_key_sealed(t, vs->keys[i].key_id, &have) < 0 ||
            have != vs->keys[i].sealed) {
            vf_bad(vs, last,
                   "the key registry counts %llu sealed events of key %s (%s), "
                   "the seals add up to %llu",
                   (unsigned long long)have, vs->keys[i].key_id,
                   vs->keys[i].name, (unsigned long long)vs->keys[i].sealed);
            return;
        }
    }
}
