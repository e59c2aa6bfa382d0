/*
 * verify_keys.c — the key history verify collects in pass 1 (genesis,
 * key.added, key.revoked, their bodies and signatures checked on the
 * spot) and the erasures (body.erased); which key may vouch for an event
 * (vf_check_sig, both passes); and the key registry checked against that
 * history once both passes are done.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/keys_int.h"
#include "ledger/tlog_int.h"
#include "ledger/verify_int.h"

int
vf_check_sig(struct vstate *vs, const struct ldg_event *ev)
{
    struct vkey kc;
    const struct vkey *k = vf_key_copy(vs, ev->actor, &kc) ? &kc : NULL;
    if (k == NULL ||
        (k->added >= ev->seq && !(ev->seq == 0 && k->added == 0))) {
        vf_bad(vs, ev->seq,
               "signed by key %s, which the log had not added "
               "before this event",
               ev->actor);
        return 1;
    }
    if (k->revoked < ev->seq) {
        vf_bad(vs, ev->seq,
               "signed by key %s after it was revoked at event %llu", ev->actor,
               (unsigned long long)k->revoked);
        return 1;
    }
    if (ev->sealed && ev->digest_derived) {
        /* layouts 5 and 6 store no digest: the entry's is its claim's */
    } else if (ev->sealed) {
        /* format 2: the key vouches through the seal (pass 1 checks it,
         * one signature a seal); the entry must bind its claim (whole, or
         * stored with its digest: layouts 7 and 8) */
        uint8_t d[32];
        ldg_claim_digest(d, ev->signed_part, ev->signed_len);
        if (memcmp(d, ev->digest, 32) != 0) {
            vf_bad(vs, ev->seq, "claim digest does not match its stamp");
            return 1;
        }
    } else if (ldg_event_verify_sig(ev, k->pub) != 0) {
        vf_bad(vs, ev->seq, "signature does not verify with key %s", ev->actor);
        return 1;
    }
    if (k->added != 0 && !ldg_roles_mask_allows(k->roles, ev->type)) {
        vf_bad(vs, ev->seq,
               "%s %s by key %s (%s), whose roles (key.added at event "
               "%llu) do not allow it",
               ev->type, ev->sealed ? "sealed" : "signed", ev->actor, k->name,
               (unsigned long long)k->added);
        return 1;
    }
    return 0;
}

/* A key.anchored: the key's chain of epoch keys starts at its anchor. */
static int
vf_anchor(struct vstate *vs, const struct ldg_event *ev, const json_t *body)
{
    const char *id = json_string_value(json_object_get(body, "key_id"));
    const char *hex = json_string_value(json_object_get(body, "anchor"));
    const json_t *t0 = json_object_get(body, "t0");
    const json_t *len = json_object_get(body, "period_ns");
    struct ldg_epoch_params par;
    struct vkey *k =
        (struct vkey *)(uintptr_t)(id ? vf_find_key(vs, id) : NULL);

    memset(&par, 0, sizeof par);
    if (k == NULL) {
        vf_bad(vs, ev->seq, "key.anchored names unknown key %s",
               id ? id : "(none)");
        return 1;
    }
    if (hex == NULL || strlen(hex) != 64 ||
        ldg_unhex(par.anchor, 32, hex) < 0 || !json_is_integer(t0) ||
        json_integer_value(t0) < 0 || !json_is_integer(len) ||
        json_integer_value(len) < (json_int_t)LDG_EPOCH_LEN_MIN_NS ||
        json_integer_value(len) > (json_int_t)LDG_EPOCH_LEN_MAX_NS ||
        (uint64_t)json_integer_value(t0) > ev->ts_ns) {
        vf_bad(vs, ev->seq,
               "key.anchored of key %s: its anchor, t0 or period_ns is not "
               "valid",
               id);
        return 1;
    }
    if (k->anchored) {
        vf_bad(vs, ev->seq,
               "key %s is anchored a second time (first at event %llu): an "
               "anchor signed later by the log key would let whoever holds "
               "the box start a new chain",
               id, (unsigned long long)(k->anchored - 1));
        return 1;
    }
    par.t0_ns = (uint64_t)json_integer_value(t0);
    par.len_ns = (uint64_t)json_integer_value(len);
    pthread_mutex_lock(&vs->mu);
    k->ep = malloc(sizeof *k->ep);
    if (k->ep != NULL) {
        k->anchored = ev->seq + 1;
        ldg_epoch_chain_init(k->ep, &par);
    }
    pthread_mutex_unlock(&vs->mu);
    return k->ep != NULL ? 0 : ldg_alloc_failed();
}

/* Key history and erasures from one event (pass 1). */
int
vf_collect(struct vstate *vs, struct ldg_txn *t, const struct ldg_event *ev)
{
    struct ldg_ledger *l = vs->l;
    json_t *body = NULL;
    int rc = 0, is_key = strncmp(ev->type, "key.", 4) == 0;
    int is_gen = strcmp(ev->type, LDG_EV_LEDGER_GENESIS) == 0;

    if ((ev->seq == 0) != is_gen) {
        vf_bad(vs, ev->seq,
               is_gen ? "ledger.genesis after event 0"
                      : "event 0 is not ledger.genesis");
        return 1;
    }
    if (!is_key && !is_gen && strcmp(ev->type, LDG_EV_BODY_ERASED) != 0)
        return 0;
    if (vf_check_body(vs, t, ev, 0))
        return 1;
    rc = ldg_body_get(t, ev->seq, &body);
    if (rc < 0) {
        vf_bad(vs, ev->seq, "cannot read body: %s", vf_strerror(rc));
        return 1;
    }
    rc = 0;
    if (is_gen) {
        const char *hex = json_string_value(json_object_get(body, "log_key"));
        const char *org = json_string_value(json_object_get(body, "origin"));
        uint8_t pub[32];
        if (hex == NULL || ldg_unhex(pub, 32, hex) < 0 ||
            memcmp(pub, l->log_key->pub, 32) != 0) {
            vf_bad(vs, 0, "genesis names another log key than the ledger's");
            rc = 1;
        } else if (org == NULL || strcmp(org, l->origin) != 0) {
            vf_bad(vs, 0, "genesis names another origin than the ledger's");
            rc = 1;
        } else if (strcmp(ev->actor, l->log_key->key_id) != 0) {
            vf_bad(vs, 0, "genesis is not signed by the log key");
            rc = 1;
        } else {
            pthread_mutex_lock(&vs->mu);
            rc = vf_add_key(vs, l->log_key->key_id, pub, 0); /* 0, -err */
            if (rc == 0)
                snprintf(vs->keys[vs->nkeys - 1].name, sizeof vs->keys[0].name,
                         "%s", LDG_LOG_KEY_NAME);
            pthread_mutex_unlock(&vs->mu);
            if (rc == 0 && !ev->sealed && ldg_event_verify_sig(ev, pub) != 0) {
                vf_bad(vs, 0, "signature does not verify with the log key");
                rc = 1;
            }
        }
    } else if (is_key) {
        const char *id = json_string_value(json_object_get(body, "key_id"));
        if (strcmp(ev->actor, l->log_key->key_id) != 0) {
            vf_bad(vs, ev->seq, "%s is not signed by the log key", ev->type);
            rc = 1;
        } else if (vf_check_sig(vs, ev)) {
            rc = 1;
        } else if (strcmp(ev->type, LDG_EV_KEY_ADDED) == 0) {
            const char *hex =
                json_string_value(json_object_get(body, "public_key"));
            uint8_t pub[32];
            char want[LDG_KEYID_LEN + 1];
            if (hex == NULL || id == NULL || ldg_unhex(pub, 32, hex) < 0) {
                vf_bad(vs, ev->seq, "key.added without a valid public key");
                rc = 1;
            } else if (ldg_key_id(want, pub), strcmp(want, id) != 0) {
                vf_bad(vs, ev->seq,
                       "key.added: key_id %s does not match the "
                       "public key (%s)",
                       id, want);
                rc = 1;
            } else if (vf_find_key(vs, id) != NULL) {
                vf_bad(vs, ev->seq, "key %s added twice", id);
                rc = 1;
            } else {
                pthread_mutex_lock(&vs->mu);
                const char *nm =
                    json_string_value(json_object_get(body, "actor"));
                rc = vf_add_key(vs, id, pub, ev->seq); /* 0, -err */
                if (rc == 0) {
                    snprintf(vs->keys[vs->nkeys - 1].name,
                             sizeof vs->keys[0].name, "%s", nm ? nm : "");
                    vs->keys[vs->nkeys - 1].roles =
                        ldg_roles_mask(json_object_get(body, "roles"));
                }
                pthread_mutex_unlock(&vs->mu);
            }
        } else if (strcmp(ev->type, LDG_EV_KEY_ANCHORED) == 0) {
            rc = vf_anchor(vs, ev, body);
        } else {
            struct vkey *k =
                (struct vkey *)(uintptr_t)(id ? vf_find_key(vs, id) : NULL);
            if (k == NULL) {
                vf_bad(vs, ev->seq, "key.revoked names unknown key %s",
                       id ? id : "(none)");
                rc = 1;
            } else if (k->revoked == UINT64_MAX) {
                pthread_mutex_lock(&vs->mu);
                k->revoked = ev->seq;
                pthread_mutex_unlock(&vs->mu);
            }
        }
    } else { /* body.erased */
        json_int_t tgt =
            json_integer_value(json_object_get(body, "target_seq"));
        if (tgt < 0 || (uint64_t)tgt >= ev->seq) {
            vf_bad(vs, ev->seq,
                   "body.erased names event %lld, not an earlier "
                   "one",
                   (long long)tgt);
            rc = 1;
        } else {
            if (vs->nerased == vs->caperased) {
                size_t cap = vs->caperased ? vs->caperased * 2 : 64;
                uint64_t *e = realloc(vs->erased, cap * sizeof *e);
                if (e == NULL) {
                    json_decref(body);
                    return ldg_alloc_failed();
                }
                vs->erased = e;
                vs->caperased = cap;
            }
            vs->erased[vs->nerased++] = (uint64_t)tgt;
        }
    }
    json_decref(body);
    return rc;
}

/* Each key's epoch record (FORMAT.md 5.1: the anchor sealers and `keys
 * verifier` read, and the last epoch its seals used) against what pass 1
 * collected: its key.anchored's anchor, t0, period and seq, and the epoch
 * its seals' chain ended at; none for a key without an anchor. */
static void
check_epoch_records(struct vstate *vs, struct ldg_txn *t, uint64_t size)
{
    uint64_t at = size ? size - 1 : 0;

    for (size_t i = 0; i < vs->nkeys; i++) {
        const struct vkey *k = &vs->keys[i];
        struct ldg_epoch_rec r;
        int rc = ldg_epoch_rec_get(t, k->key_id, &r);
        if (rc == LDG_ENOMEM) {
            vs->io_rc = ldg_alloc_failed();
            return;
        }
        if (k->anchored == 0) {
            if (rc != LDG_ENOTFOUND)
                vf_bad(vs, at,
                       "the key registry holds an epoch record of key %s, "
                       "which no key.anchored anchors",
                       k->key_id);
            continue;
        }
        if (rc == LDG_ENOTFOUND) {
            vf_bad(vs, at,
                   "the key registry holds no epoch record of key %s, "
                   "anchored at event %llu",
                   k->key_id,
                   (unsigned long long)(k->anchored == VF_ANCHOR_PRUNED
                                            ? 0
                                            : k->anchored - 1));
            return;
        }
        if (rc < 0) {
            vf_bad(vs, at,
                   "the key registry's epoch record of key %s does not "
                   "decode",
                   k->key_id);
            return;
        }
        if (k->anchored == VF_ANCHOR_PRUNED || k->ep == NULL)
            continue; /* (the horizon record's check: horizon_load) */
        if (memcmp(r.par.anchor, k->ep->par.anchor, 32) != 0 ||
            r.par.t0_ns != k->ep->par.t0_ns ||
            r.par.len_ns != k->ep->par.len_ns ||
            (k->anchored - 1 < size && r.anchor_seq != k->anchored - 1)) {
            vf_bad(vs, at,
                   "the key registry's epoch record of key %s is not its "
                   "key.anchored (event %llu): another anchor, t0, period "
                   "or event (what sealers and `keys verifier` read)",
                   k->key_id, (unsigned long long)(k->anchored - 1));
            return;
        }
        if (r.has != k->ep->started ||
            (r.has &&
             (r.e.period != k->ep->cur.period || r.e.sub != k->ep->cur.sub))) {
            vf_bad(vs, at,
                   "the key registry's epoch record of key %s names epoch "
                   "%u.%u as its seals' last, but they end at %s%u.%u",
                   k->key_id, r.has ? r.e.period : 0, r.has ? r.e.sub : 0,
                   k->ep->started ? "" : "none, not ", k->ep->cur.period,
                   k->ep->cur.sub);
            return;
        }
    }
}

/* The key registry is derived from the key events pass 1 collected (the
 * whole log's): it must say exactly what they say. */
void
vf_check_registry(struct vstate *vs, struct ldg_txn *t, uint64_t size)
{
    struct ldg_key_state *p = calloc(vs->nkeys ? vs->nkeys : 1, sizeof *p);
    char why[400];
    uint64_t seq = 0;
    int rc;

    if (p == NULL) {
        vs->io_rc = ldg_alloc_failed();
        return;
    }
    for (size_t i = 0; i < vs->nkeys; i++) {
        memcpy(p[i].key_id, vs->keys[i].key_id, sizeof p[i].key_id);
        memcpy(p[i].name, vs->keys[i].name, sizeof p[i].name);
        memcpy(p[i].pub, vs->keys[i].pub, 32);
        p[i].added_seq = vs->keys[i].added;
        p[i].revoked_seq = vs->keys[i].revoked;
    }
    rc = ldg_keys_registry_check(t, p, vs->nkeys, &seq, why, sizeof why);
    if (rc == LDG_ETAMPER)
        vf_bad(vs, seq < size ? seq : (size ? size - 1 : 0), "%s", why);
    else if (rc == LDG_ENOMEM)
        (void)ldg_alloc_failed(); /* no verdict (ldg_verify) */
    else if (rc < 0)
        vf_bad(vs, size ? size - 1 : 0, "the key registry cannot be read: %s",
               vf_strerror(rc));
    free(p);
    if (rc == 0 && vs->bad_seq == UINT64_MAX)
        check_epoch_records(vs, t, size);
}
